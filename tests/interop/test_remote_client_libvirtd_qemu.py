"""pyvirt's remote client against real libvirtd 9.0's QEMU driver, with a real TCG guest.

As root, Debian's libvirtd QEMU driver will not start in system mode without its
``libvirt-qemu`` user, so the test runs a private libvirtd as ``nobody`` (setpriv) in
session mode: HOME and the XDG directories in a temporary directory owned by nobody, and
``unix_sock_dir`` there too, so that its session socket is ``<dir>/run/libvirt-sock``. The
test (root) connects with ``qemu+unix:///session?socket=...``; that libvirtd runs QEMU as
nobody (no /dev/kvm: TCG). Everything is done through pyvirt's public API, and at each step
the same read-only view of the connection and the guest (``VIEW``) is taken by pyvirt and
by real libvirt-python (/usr/bin/python3, in a subprocess) and must be equal; lifecycle
events go to a pyvirt callback (pyvirt's default event loop) and to a libvirt-python
listener, and both must see the same events.

Cleanup: guests left behind are destroyed and undefined through pyvirt; any QEMU process the
daemon started (its pid files) that still runs is killed; the daemon is ended by its PID.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
import pyvirt.errors
from integration.guest import GUEST_APPEND, GUEST_MARKER, ensure_test_guest
from interop.test_remote_client_libvirtd import LIBVIRTD, Libvirtd, default_event_loop
from interop.test_remote_client_parity import SYSTEM_PYTHON, has_libvirt_python

QEMU = "/usr/bin/qemu-system-x86_64"
NOBODY = 65534
SETPRIV = shutil.which("setpriv")

pytestmark = [
    pytest.mark.integration, pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to run libvirtd as nobody)"),
    pytest.mark.skipif(not os.access(LIBVIRTD, os.X_OK), reason="libvirtd is not installed"),
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
    pytest.mark.skipif(SETPRIV is None, reason="setpriv is missing"),
    pytest.mark.skipif(not has_libvirt_python(), reason="libvirt-python is not installed"),
]

BOOT_TIMEOUT = 60.0


class SessionLibvirtd(Libvirtd):
    """libvirtd in session mode as nobody, everything under ``base`` (owned by nobody):
    its socket, HOME and XDG directories (QEMU driver state, capabilities cache, the
    guests' pid files), the guest's kernel, initrd and serial log."""

    def __init__(self, base: Path) -> None:   # noqa: D107 - no TCP/TLS: not the parent's
        self.base = base
        self.run = base / "run"
        for sub in ("run", "home", "config", "cache", "xdg-run"):
            (base / sub).mkdir(mode=0o700)
        self.config = base / "libvirtd.conf"
        self.config.write_text(f'unix_sock_dir = "{self.run}"\n'
                               f'log_outputs = "3:file:{base}/libvirtd.log"\n')
        # QEMU's output straight to a file: no virtlogd daemon spawned beside it
        (base / "config" / "libvirt").mkdir()
        (base / "config" / "libvirt" / "qemu.conf").write_text('stdio_handler = "file"\n')
        self.pidfile = base / "libvirtd.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        chown_tree(base)

    def uri(self, readonly_socket: bool = False) -> str:
        assert not readonly_socket, "a session daemon has no read-only socket"
        return f"qemu+unix:///session?socket={self.sock}"

    def command(self) -> list[str]:
        assert SETPRIV is not None
        return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                LIBVIRTD, "--timeout", "600", "--config", str(self.config),
                "--pid-file", str(self.pidfile)]

    def environment(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.base / "home"),
                "XDG_CONFIG_HOME": str(self.base / "config"),
                "XDG_CACHE_HOME": str(self.base / "cache"),
                "XDG_RUNTIME_DIR": str(self.base / "xdg-run")}

    def ready(self) -> bool:
        return os.path.exists(self.sock)

    def qemu_pids(self) -> dict[int, str]:
        """pid -> guest name for each QEMU process of this daemon's guests still running
        (the driver's pid files; only nobody's processes whose command line names that
        guest, so that a recycled pid is never taken for one of ours)."""
        found = {}
        for pidfile in (self.base / "xdg-run" / "libvirt" / "qemu" / "run").glob("*.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                uid = os.stat(f"/proc/{pid}").st_uid
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError):
                continue
            if uid == NOBODY and f"guest={pidfile.stem}".encode() in b",".join(cmdline):
                found[pid] = pidfile.stem
        return found

    def helper_pids(self) -> dict[int, str]:
        """pid -> name of the helper daemons this libvirtd may have spawned (virtlogd,
        virtlockd: their pid files in its XDG_RUNTIME_DIR) that still run."""
        found = {}
        for name in ("virtlogd", "virtlockd"):
            try:
                pid = int((self.base / "xdg-run" / "libvirt" / f"{name}.pid").read_text())
                uid = os.stat(f"/proc/{pid}").st_uid
                exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except (OSError, ValueError):
                continue
            if uid == NOBODY and exe.endswith(name.encode()):
                found[pid] = name
        return found


def chown_tree(path: Path) -> None:
    os.chown(path, NOBODY, NOBODY)
    for sub in path.rglob("*"):
        os.chown(sub, NOBODY, NOBODY)


def guest_xml(d: SessionLibvirtd, name: str) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{d.base}/vmlinuz</kernel>
    <initrd>{d.base}/initrd</initrd>
    <cmdline>{GUEST_APPEND}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>{QEMU}</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='{d.base}/{name}.serial'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""


@pytest.fixture(scope="module")
def daemon() -> Iterator[SessionLibvirtd]:
    kernel, initrd = ensure_test_guest()
    # not under pytest's basetemp: nobody could not reach it (root's 0700 directories)
    base = Path(tempfile.mkdtemp(prefix="pyvirt-libvirtd-qemu-"))
    try:
        shutil.copyfile(kernel, base / "vmlinuz")
        shutil.copyfile(initrd, base / "initrd")
        d = SessionLibvirtd(base)
        d.start()
        try:
            yield d
        finally:
            leftovers = cleanup_guests(d)
            d.stop()
            helpers = d.helper_pids()
            for pid in helpers:
                os.kill(pid, signal.SIGTERM)
        assert not leftovers, f"QEMU processes had to be killed: {leftovers}"
        assert not helpers, f"helper daemons were left running: {helpers}"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def cleanup_guests(d: SessionLibvirtd) -> dict[int, str]:
    """Destroy and undefine what the tests left; kill (and reap) any QEMU still running
    after that. Returns what had to be killed."""
    try:
        conn = pyvirt.open(d.uri())
        try:
            for dom in conn.listAllDomains(0):
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefine()
        finally:
            conn.close()
    except pyvirt.libvirtError:
        pass
    killed = d.qemu_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


@pytest.fixture(autouse=True)
def quiet() -> None:
    pyvirt.registerErrorHandler(lambda *_: None, None)


@pytest.fixture
def conn(daemon: SessionLibvirtd) -> Iterator[pyvirt.virConnect]:
    c = pyvirt.open(daemon.uri())
    yield c
    c.close()


# ---- the same view through pyvirt and through libvirt-python ---------------------------------

# ``view(libvirt, conn, name)``: read-only calls, each result or libvirt error as JSON-able
# data. Executed here with pyvirt, and by /usr/bin/python3 with libvirt-python.
VIEW = r'''
def view(libvirt, c, name):
    out = {}

    def rec(key, fn):
        try:
            out[key] = ["ok", fn()]
        except libvirt.libvirtError as e:
            out[key] = ["err", e.get_error_code(), e.get_error_domain(), e.get_error_message()]

    def names(flags):
        return sorted(d.name() for d in c.listAllDomains(flags))

    rec("listDomainsID", lambda: sorted(c.listDomainsID()))
    rec("listDefinedDomains", lambda: sorted(c.listDefinedDomains()))
    rec("numOfDomains", c.numOfDomains)
    rec("numOfDefinedDomains", c.numOfDefinedDomains)
    for flag in ("ACTIVE", "INACTIVE", "PERSISTENT", "TRANSIENT", "RUNNING", "PAUSED",
                 "SHUTOFF"):
        rec("listAllDomains." + flag,
            lambda: names(getattr(libvirt, "VIR_CONNECT_LIST_DOMAINS_" + flag)))
    rec("listAllDomains", lambda: names(0))
    rec("missingName", lambda: c.lookupByName("no-such-guest"))
    rec("missingID", lambda: c.lookupByID(424242))
    if name is None:
        return out
    try:
        d = c.lookupByName(name)
    except libvirt.libvirtError as e:
        out["lookupByName"] = ["err", e.get_error_code(), e.get_error_domain(),
                               e.get_error_message()]
        return out
    rec("ID", d.ID)
    rec("UUIDString", d.UUIDString)
    rec("UUID", lambda: d.UUID().hex())
    def ident(x):
        return [x.name(), x.UUIDString(), x.ID()]

    rec("byUUIDString", lambda: ident(c.lookupByUUIDString(d.UUIDString())))
    rec("byUUID", lambda: ident(c.lookupByUUID(d.UUID())))
    if d.ID() > 0:
        rec("byID", lambda: ident(c.lookupByID(d.ID())))
    rec("isActive", d.isActive)
    rec("isPersistent", d.isPersistent)
    rec("isUpdated", d.isUpdated)
    rec("info", lambda: d.info()[:4])
    rec("state", lambda: d.state(0))
    rec("maxMemory", d.maxMemory)
    rec("OSType", d.OSType)
    rec("autostart", d.autostart)
    rec("hasManagedSaveImage", lambda: d.hasManagedSaveImage(0))
    rec("XMLDesc", lambda: d.XMLDesc(0))
    rec("XMLDesc.inactive", lambda: d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    rec("jobInfo", d.jobInfo)
    rec("controlInfo", lambda: d.controlInfo(0)[:2])
    rec("schedulerType", d.schedulerType)
    rec("vcpusFlags", lambda: d.vcpusFlags(0))
    rec("maxVcpus", d.maxVcpus)
    return out
'''

# The host-wide part: answered by the daemon, so equal for both clients.
HOST_VIEW = r'''
def host_view(libvirt, c):
    out = {}

    def rec(key, fn):
        try:
            out[key] = ["ok", fn()]
        except libvirt.libvirtError as e:
            out[key] = ["err", e.get_error_code(), e.get_error_domain(), e.get_error_message()]

    for key, fn in [("getType", c.getType), ("getVersion", c.getVersion),
                    ("getLibVersion", c.getLibVersion), ("getHostname", c.getHostname),
                    ("getURI", c.getURI), ("getInfo", c.getInfo),
                    ("getCapabilities", c.getCapabilities),
                    ("getDomainCapabilities", lambda: c.getDomainCapabilities(
                        None, "x86_64", "pc", "qemu", 0)),
                    ("getMaxVcpus", lambda: c.getMaxVcpus("qemu")),
                    ("getSysinfo", lambda: c.getSysinfo(0)),
                    ("isSecure", c.isSecure), ("isEncrypted", c.isEncrypted),
                    ("isAlive", c.isAlive),
                    ("getCPUModelNames", lambda: c.getCPUModelNames("x86_64", 0)),
                    ("getSecurityModel", c.getSecurityModel),
                    ("listAllNetworks", lambda: [n.name() for n in c.listAllNetworks(0)])]:
        rec(key, fn)
    return out
'''

LIBVIRT_PYTHON_MAIN = r'''
import json, sys
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
name = sys.argv[2] or None
print(json.dumps({"host": host_view(libvirt, c), "guest": view(libvirt, c, name)}))
c.close()
'''

_namespace: dict[str, Any] = {}
exec(VIEW + HOST_VIEW, _namespace)  # noqa: S102 - our own code, shared with the subprocess


def pyvirt_view(conn: pyvirt.virConnect, name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(_namespace["view"](pyvirt, conn, name)))
    return out


def libvirt_python_views(uri: str, name: str | None) -> dict[str, Any]:
    proc = subprocess.run([SYSTEM_PYTHON, "-c", VIEW + HOST_VIEW + LIBVIRT_PYTHON_MAIN, uri,
                           name or ""], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def assert_same_view(conn: pyvirt.virConnect, uri: str, name: str | None) -> dict[str, Any]:
    """pyvirt's view equals libvirt-python's; returns it."""
    ours = pyvirt_view(conn, name)
    theirs = libvirt_python_views(uri, name)["guest"]
    different = [f"{key}:\n  libvirt-python {theirs.get(key)}\n  pyvirt         {ours.get(key)}"
                 for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)]
    assert not different, "\n".join(different)
    return ours


# ---- a libvirt-python event listener on the same daemon -------------------------------------

LISTENER = r'''
import json, sys, time
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
last_name, last_event = sys.argv[2], int(sys.argv[3])
done = []

def cb(conn, dom, event, detail, opaque):
    print(json.dumps([dom.name(), event, detail]), flush=True)
    if (dom.name(), event) == (last_name, last_event):
        done.append(1)

c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
libvirt.virEventAddTimeout(200, lambda *a: None, None)
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[4])
while not done and time.monotonic() < deadline:
    libvirt.virEventRunDefaultImpl()
c.close()
'''


class Listener:
    """/usr/bin/python3 + libvirt-python printing each lifecycle event, until
    ``(last_name, last_event)`` arrives."""

    def __init__(self, uri: str, last_name: str, last_event: int, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", LISTENER, uri, last_name, str(last_event), str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.close()
            raise AssertionError(f"libvirt-python listener did not start: {line!r}")

    def events(self, timeout: float = 30) -> list[tuple[str, int, int]]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return [tuple(json.loads(line)) for line in out.splitlines() if line.strip()]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


class Recorder:
    """A pyvirt lifecycle callback that records (name, event, detail)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int, int]] = []

    def __call__(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        self.got.append((dom.name(), event, detail))

    def wait_for(self, item: tuple[str, int, int], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while item not in self.got:
            assert time.monotonic() < deadline, f"no event {item}: {self.got}"
            time.sleep(0.02)


def wait_for_marker(path: Path, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and GUEST_MARKER in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{GUEST_MARKER!r} never appeared in {path}")


E = pyvirt  # event constants, shorter
STARTED = (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED)
RESUMED = (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
SUSPENDED = (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
DESTROYED = (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
DEFINED = (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED)
UNDEFINED = (E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)


def without_shutdown(events: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """QEMU reports SHUTDOWN (host) when libvirt's destroy signals it, unless the kill
    outruns the monitor: exact lists leave it out (pyvirt and libvirt-python are compared
    with it)."""
    return [e for e in events if e[1] != E.VIR_DOMAIN_EVENT_SHUTDOWN]


# ---- tests -----------------------------------------------------------------------------------


def test_host_calls_match_libvirt_python(daemon: SessionLibvirtd,
                                         conn: pyvirt.virConnect) -> None:
    ours = json.loads(json.dumps(_namespace["host_view"](pyvirt, conn)))
    theirs = libvirt_python_views(daemon.uri(), None)
    assert ours == theirs["host"]
    assert ours["getType"] == ["ok", "QEMU"] and ours["getLibVersion"] == ["ok", 9000000]
    assert ours["getURI"] == ["ok", daemon.uri()]
    assert "<domain type='qemu'" in ours["getCapabilities"][1]
    assert pyvirt_view(conn, None) == theirs["guest"]


def test_transient_guest(daemon: SessionLibvirtd, conn: pyvirt.virConnect) -> None:
    """createXML -> lookups, suspend/resume, destroy: the guest is gone."""
    dom = conn.createXML(guest_xml(daemon, "rc-transient"), 0)
    try:
        assert dom.name() == "rc-transient" and dom.ID() > 0
        assert (dom.isActive(), dom.isPersistent()) == (1, 0)
        assert dom.ID() in conn.listDomainsID()
        assert conn.lookupByID(dom.ID()).UUIDString() == dom.UUIDString()
        assert conn.lookupByUUIDString(dom.UUIDString()).ID() == dom.ID()
        view = assert_same_view(conn, daemon.uri(), "rc-transient")
        assert view["listAllDomains.TRANSIENT"] == ["ok", ["rc-transient"]]
        assert dom.suspend() == 0
        assert dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_USER]
        view = assert_same_view(conn, daemon.uri(), "rc-transient")
        assert view["listAllDomains.PAUSED"] == ["ok", ["rc-transient"]]
        assert dom.resume() == 0
        assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED]
    finally:
        pid = list(daemon.qemu_pids())
        assert dom.destroy() == 0
    assert dom.ID() == -1
    with pytest.raises(pyvirt.errors.NoDomainError) as info:
        conn.lookupByName("rc-transient")
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == (E.VIR_ERR_NO_DOMAIN,
                                                              E.VIR_FROM_QEMU)
    assert err.get_error_message() == "Domain not found: no domain with matching name " \
                                      "'rc-transient'"
    view = assert_same_view(conn, daemon.uri(), "rc-transient")
    assert view["lookupByName"][0] == "err"
    assert pid and not any(os.path.exists(f"/proc/{p}") for p in pid)


def test_persistent_guest_lifecycle_and_events(daemon: SessionLibvirtd,
                                               conn: pyvirt.virConnect) -> None:
    """define, create (the guest boots), every lookup, XML, suspend, resume, destroy,
    undefine; lifecycle events through pyvirt's event loop, the same as libvirt-python's."""
    name = "rc-guest"
    serial = daemon.base / f"{name}.serial"
    with default_event_loop():
        listener = Listener(daemon.uri(), name, E.VIR_DOMAIN_EVENT_UNDEFINED)
        events = pyvirt.open(daemon.uri())
        try:
            everything = Recorder()
            cid = events.domainEventRegisterAny(None, E.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                everything, None)
            dom = conn.defineXML(guest_xml(daemon, name))
            assert dom.ID() == -1 and (dom.isActive(), dom.isPersistent()) == (0, 1)
            assert name in conn.listDefinedDomains()
            view = assert_same_view(conn, daemon.uri(), name)
            assert view["state"] == ["ok", [E.VIR_DOMAIN_SHUTOFF, E.VIR_DOMAIN_SHUTOFF_UNKNOWN]]
            # a second callback filtered on this domain
            one = Recorder()
            cid_one = events.domainEventRegisterAny(events.lookupByName(name),
                                                    E.VIR_DOMAIN_EVENT_ID_LIFECYCLE, one, None)

            assert dom.create() == 0
            assert dom.ID() > 0 and dom.isActive() == 1
            assert conn.listDomainsID() == [dom.ID()]
            assert [d.name() for d in conn.listAllDomains(
                E.VIR_CONNECT_LIST_DOMAINS_ACTIVE)] == [name]
            for found in (conn.lookupByName(name), conn.lookupByID(dom.ID()),
                          conn.lookupByUUIDString(dom.UUIDString()),
                          conn.lookupByUUID(dom.UUID())):
                assert (found.name(), found.UUIDString(), found.ID()) == (
                    name, dom.UUIDString(), dom.ID())
            state, max_mem, mem, vcpus, _cpu_time = dom.info()
            assert (state, max_mem, mem, vcpus) == (E.VIR_DOMAIN_RUNNING, 262144, 262144, 1)
            assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED]
            xml = dom.XMLDesc(0)
            assert xml.startswith(f"<domain type='qemu' id='{dom.ID()}'>")
            assert f"<kernel>{daemon.base}/vmlinuz</kernel>" in xml
            wait_for_marker(serial)          # a real guest, booted under libvirt's QEMU
            assert_same_view(conn, daemon.uri(), name)

            assert dom.suspend() == 0
            assert dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_USER]
            assert dom.info()[0] == E.VIR_DOMAIN_PAUSED
            everything.wait_for((name, *SUSPENDED))
            assert_same_view(conn, daemon.uri(), name)
            assert dom.resume() == 0
            assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED]
            everything.wait_for((name, *RESUMED))
            assert_same_view(conn, daemon.uri(), name)
            # libvirt's error for resuming a running guest, as the daemon words it
            with pytest.raises(pyvirt.libvirtError) as info:
                dom.resume()
            err = info.value
            assert (err.get_error_code(), err.get_error_domain()) == (
                E.VIR_ERR_OPERATION_INVALID, E.VIR_FROM_QEMU)
            assert err.get_error_message() == (
                "Requested operation is not valid: domain is already running")

            pids = list(daemon.qemu_pids())
            assert len(pids) == 1
            assert dom.destroy() == 0
            assert dom.ID() == -1
            assert dom.state() == [E.VIR_DOMAIN_SHUTOFF, E.VIR_DOMAIN_SHUTOFF_DESTROYED]
            assert not os.path.exists(f"/proc/{pids[0]}")
            assert_same_view(conn, daemon.uri(), name)
            assert dom.undefine() == 0
            with pytest.raises(pyvirt.errors.NoDomainError):
                conn.lookupByUUIDString(dom.UUIDString())
            assert_same_view(conn, daemon.uri(), name)

            everything.wait_for((name, *UNDEFINED))
            theirs = listener.events()
            ours = [e for e in everything.got if e[0] == name]
            assert ours == [e for e in theirs if e[0] == name]
            assert one.got == ours[1:]       # all but DEFINED, registered before it
            assert without_shutdown(ours) == [(name, *e) for e in (
                DEFINED, RESUMED, STARTED, SUSPENDED, RESUMED, DESTROYED, UNDEFINED)]
            events.domainEventDeregisterAny(cid_one)    # None, as libvirt-python's
            events.domainEventDeregisterAny(cid)
        finally:
            listener.close()
            events.close()
