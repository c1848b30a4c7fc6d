"""A QEMU domain as the driver keeps it: definitions, run state, the process and its monitor,
the job lock, and the files that make it all survive a restart of the driver.

Files (see ``paths.py``): ``config_dir/NAME.xml`` is the persistent definition;
``state_dir/NAME.xml`` the status of a running guest: a ``<domstatus>`` element with the
state, reason, pid, the pid's start time (to tell a reused pid from the guest), the monitor
socket, and the live ``<domain>`` definition. Both are written atomically.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from pyvirt import constants as c
from pyvirt.drivers.domobj import modification_impact
from pyvirt.errors import raise_error
from pyvirt.fileutil import atomic_write, remove_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from pyvirt.conf.domain import DomainDef
    from pyvirt.drivers.qemu.jobs import JobProgress
    from pyvirt.drivers.qemu.monitor import Monitor
    from pyvirt.drivers.qemu.paths import QemuPaths

SHUTOFF = c.VIR_DOMAIN_SHUTOFF
# QEMU_DOMAIN_MIG_BANDWIDTH_MAX: the most MiB/s that still fits QEMU's bytes/s
MIGRATION_BANDWIDTH_MAX = (2**63 - 1) // (1024 * 1024)
RUNNING = c.VIR_DOMAIN_RUNNING
PAUSED = c.VIR_DOMAIN_PAUSED
LIVE = c.VIR_DOMAIN_AFFECT_LIVE
CONFIG = c.VIR_DOMAIN_AFFECT_CONFIG

# libvirt's virDomainState / reason names as they appear in status files.
STATE_NAMES = {
    c.VIR_DOMAIN_NOSTATE: "nostate", RUNNING: "running", c.VIR_DOMAIN_BLOCKED: "blocked",
    PAUSED: "paused", c.VIR_DOMAIN_SHUTDOWN: "shutdown", SHUTOFF: "shutoff",
    c.VIR_DOMAIN_CRASHED: "crashed", c.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}
STATE_BY_NAME = {v: k for k, v in STATE_NAMES.items()}

STATE_RECORD_SIZE = 64
# How long a caller waits for another job on the same domain (libvirt: 30 s).
JOB_WAIT_SECONDS = 30.0


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None when ``pid`` is gone
    or a zombie: a status file's pid names the guest only if this still matches."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):  # exited, not yet reaped (orphans wait for PID 1)
        return None
    return int(fields[19])


class Job:
    """libvirt's per-domain job: one state-changing operation at a time; the next caller
    waits up to JOB_WAIT_SECONDS, then fails with libvirt's "cannot acquire state change
    lock" error naming the API that holds it. A long job (an outgoing migration) may let
    some calls in while it runs (libvirt's async job mask, :meth:`allowing`): one at a
    time, each nested inside it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.owner: str | None = None
        self.owner_thread: int | None = None
        self.started = 0.0
        self._allowed: frozenset[str] = frozenset()
        self._nested_thread: int | None = None

    def begin(self, api_name: str, timeout: float | None = None) -> None:
        wait = JOB_WAIT_SECONDS if timeout is None else timeout
        deadline = time.monotonic() + wait
        me = threading.get_ident()
        with self._cond:
            while self.owner is not None:
                if (api_name in self._allowed and self._nested_thread is None
                        and self.owner_thread != me):
                    self._nested_thread = me
                    return
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    if self.owner is None:
                        break
                    raise_error(c.VIR_ERR_OPERATION_TIMEOUT,
                                f"cannot acquire state change lock (held by "
                                f"monitor={self.owner})", domain=c.VIR_FROM_QEMU)
            self.owner = api_name
            self.owner_thread = me
            self.started = time.monotonic()

    def end(self) -> None:
        with self._cond:
            if self._nested_thread == threading.get_ident():
                self._nested_thread = None
            else:
                self.owner = None
                self.owner_thread = None
            self._cond.notify_all()

    @contextlib.contextmanager
    def allowing(self, api_names: frozenset[str]) -> Iterator[None]:
        """While the body runs (the job's owner holding it), let ``api_names`` run
        nested; afterwards wait for one still running to finish."""
        with self._cond:
            self._allowed = api_names
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._allowed = frozenset()
                while self._nested_thread is not None:
                    self._cond.wait()


class QemuDomain:
    """One domain: defined (persistent) or transient, running or not."""

    def __init__(self, defn: DomainDef) -> None:
        self.defn = defn  # the live definition while running, else the persistent one
        self.new_def: DomainDef | None = None  # the persistent one while running
        self.persistent = False
        self.autostart = False
        self.state = SHUTOFF
        self.reason = c.VIR_DOMAIN_SHUTOFF_UNKNOWN
        self.lock = threading.RLock()  # guards the fields; never held across a wait
        self.job = Job()
        # the running process
        self.pid = 0
        self.start_time: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None  # only when we started it
        self.pidfd = -1
        self.monitor: Monitor | None = None
        self.monitor_path = ""
        self.vnc_ports: list[int] = []
        self.stopped = threading.Event()  # set once the process is gone and cleaned up
        self.stopped.set()
        # what the next exit of the process means (set by destroy and shutdown handling)
        self.expected_stop: tuple[int, int] | None = None  # (shutoff reason, event detail)
        self.got_shutdown = False
        self.fake_reboot = False
        self.quiet_stop = False  # a failed start: clean up without a STOPPED event
        self.paused_reason = c.VIR_DOMAIN_PAUSED_UNKNOWN
        self.has_managed_save = False
        self.state_fd = -1  # the open NAME.state record (see save_state)
        self.agent_connected = False  # the guest has the agent channel open
        # an outgoing migration's Perform paused a running guest: Confirm of a failed
        # migration lets it run again
        self.running_before_migration = False
        # virDomainMigrateSetMaxSpeed's limit for the next migrations, MiB/s (libvirt's
        # "unlimited" by default)
        self.migrate_max_bandwidth = MIGRATION_BANDWIDTH_MAX
        # the connection that prepared an incoming migration not finished yet: if it goes
        # away first, nobody will finish it (libvirt's close callback kills the guest)
        self.incoming_from: object | None = None
        # the asynchronous job in progress (migration, save, restore) and the last one that
        # ended, for virDomainGetJobInfo/Stats (pyvirt.drivers.qemu.jobs)
        self.async_job: JobProgress | None = None
        self.completed_job: JobProgress | None = None

    # ---- identity and definitions ------------------------------------------------------

    @property
    def name(self) -> str:
        return self.defn.name

    @property
    def uuid(self) -> str:
        return self.defn.uuid

    @property
    def active(self) -> bool:
        return self.defn.id != -1

    def persistent_def(self) -> DomainDef:
        """virDomainObjGetPersistentDef."""
        return self.new_def if self.new_def is not None else self.defn

    def check_active(self) -> None:
        if not self.active:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "domain is not running",
                        domain=c.VIR_FROM_DOMAIN)

    def check_inactive(self) -> None:
        if self.active:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "domain is already running",
                        domain=c.VIR_FROM_DOMAIN)

    def defs_for(self, flags: int) -> tuple[DomainDef | None, DomainDef | None]:
        """virDomainObjGetDefs: the (live, persistent) definitions ``flags`` select."""
        flags = modification_impact(flags, active=self.active, persistent=self.persistent)
        live = self.defn if flags & LIVE else None
        config = self.persistent_def() if flags & CONFIG else None
        return live, config

    # ---- files ----------------------------------------------------------------------------

    def save_config(self, paths: QemuPaths) -> None:
        atomic_write(os.path.join(paths.config_dir, self.name + ".xml"),
                     self.persistent_def().to_xml(inactive=True, secure=True))

    def remove_config(self, paths: QemuPaths) -> None:
        remove_quietly(os.path.join(paths.config_dir, self.name + ".xml"))
        remove_quietly(os.path.join(paths.autostart_dir, self.name + ".xml"))

    def status_path(self, paths: QemuPaths) -> str:
        return os.path.join(paths.state_dir, self.name + ".xml")

    def save_status(self, paths: QemuPaths) -> None:
        """The running guest's status file (libvirt's <domstatus>)."""
        from pyvirt.conf.xmlutil import etree, parse_xml, to_string

        root = etree.Element("domstatus")
        root.set("state", STATE_NAMES.get(self.state, "nostate"))
        root.set("reason", str(self.reason))
        root.set("pid", str(self.pid))
        if self.start_time is not None:
            root.set("starttime", str(self.start_time))
        if self.paused_reason:
            root.set("pausedReason", str(self.paused_reason))
        monitor = etree.SubElement(root, "monitor")
        monitor.set("path", self.monitor_path)
        monitor.set("type", "unix")
        for port in self.vnc_ports:
            etree.SubElement(root, "vncport").set("port", str(port))
        if self.got_shutdown:
            etree.SubElement(root, "gotShutdown")
        if self.fake_reboot:
            etree.SubElement(root, "fakeReboot")
        root.append(parse_xml(self.defn.to_xml(secure=True)))
        # The run directory is volatile (a host reboot ends every guest anyway): atomic
        # against a crash of the driver, without the cost of fsync.
        atomic_write(self.status_path(paths), to_string(root), durable=False)
        self.close_state()
        remove_quietly(self.state_path(paths))

    def remove_status(self, paths: QemuPaths) -> None:
        self.close_state()
        remove_quietly(self.status_path(paths))
        remove_quietly(self.state_path(paths))

    def state_path(self, paths: QemuPaths) -> str:
        return os.path.join(paths.state_dir, self.name + ".state")

    def save_state(self, paths: QemuPaths) -> None:
        """Only the run state, after a suspend, resume or guest-initiated change: the live
        definition in the status file has not changed. A fixed-size record rewritten in
        place by one pwrite (a process crash cannot tear a single write, and the run
        directory does not outlive the host's uptime), so that a suspend+resume pair does
        not pay for two renames. Newer than the status file's state: it wins on reconnect."""
        record = (f"{STATE_NAMES.get(self.state, 'nostate')} {self.reason} "
                  f"{self.paused_reason} {int(self.got_shutdown)} {int(self.fake_reboot)}")
        if self.state_fd < 0:
            self.state_fd = os.open(self.state_path(paths),
                                    os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.pwrite(self.state_fd, record.encode().ljust(STATE_RECORD_SIZE - 1) + b"\n", 0)

    def close_state(self) -> None:
        if self.state_fd >= 0:
            os.close(self.state_fd)
            self.state_fd = -1

    def managed_save_path(self, paths: QemuPaths) -> str:
        return os.path.join(paths.save_dir, self.name + ".save")


class StatusRecord:
    """What a status file says about a guest that was running when the driver stopped."""

    __slots__ = ("state", "reason", "pid", "start_time", "monitor_path", "vnc_ports",
                 "got_shutdown", "fake_reboot", "paused_reason", "domain_xml")

    def __init__(self) -> None:
        self.state = RUNNING
        self.reason = 0
        self.pid = 0
        self.start_time: int | None = None
        self.monitor_path = ""
        self.vnc_ports: list[int] = []
        self.got_shutdown = False
        self.fake_reboot = False
        self.paused_reason = 0
        self.domain_xml = ""

    @classmethod
    def load(cls, path: str) -> StatusRecord:
        from pyvirt.conf.xmlutil import etree, parse_xml

        with open(path, "rb") as fh:
            root = parse_xml(fh.read())
        rec = cls()
        rec.state = STATE_BY_NAME.get(root.get("state", "running"), RUNNING)
        rec.reason = int(root.get("reason", "0"))
        rec.pid = int(root.get("pid", "0"))
        start = root.get("starttime")
        rec.start_time = int(start) if start is not None else None
        rec.paused_reason = int(root.get("pausedReason", "0"))
        monitor = root.find("monitor")
        rec.monitor_path = monitor.get("path", "") if monitor is not None else ""
        rec.vnc_ports = [int(p.get("port")) for p in root.findall("vncport")]
        rec.got_shutdown = root.find("gotShutdown") is not None
        rec.fake_reboot = root.find("fakeReboot") is not None
        dom = root.find("domain")
        if dom is None:
            raise ValueError(f"{path}: no <domain> in status file")
        rec.domain_xml = etree.tostring(dom, encoding="unicode")
        try:  # the newer state of save_state(), if any
            with open(path[:-len(".xml")] + ".state") as fh:
                fields = fh.read().split()
            rec.state = STATE_BY_NAME.get(fields[0], rec.state)
            rec.reason, rec.paused_reason = int(fields[1]), int(fields[2])
            rec.got_shutdown, rec.fake_reboot = fields[3] == "1", fields[4] == "1"
        except (OSError, IndexError, ValueError):
            pass
        return rec
