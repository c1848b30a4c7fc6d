"""The QEMU driver: real guests under qemu-system-*, managed over QMP.

One ``QemuDriver`` per directory layout (``paths.py``) serves every connection that opens it
(qemu:///system, qemu:///session or one qemu:///embed root); all its state is on disk so a
new driver instance (a restarted process or daemon) finds the guests that kept running.

Concurrency, as libvirt's: ``QemuDriver.lock`` guards the domain tables; each domain has an
object lock for its fields and a job (``domain.Job``) that serialises state-changing calls
on it while other domains proceed in parallel. QMP events and process exits arrive in the
monitor loop's thread and update the domain under its object lock.
"""

from __future__ import annotations

import os
import signal
import threading

from pyvirt import constants as c
from pyvirt.drivers.base import Driver, check_flags
from pyvirt.drivers.domobj import LIST_FILTERS_ALL, DomainEventEntryPoints, list_filter_match
from pyvirt.drivers.local import LocalConnectionEntryPoints
from pyvirt.drivers.qemu.domain import (
    PAUSED,
    RUNNING,
    SHUTOFF,
    QemuDomain,
    StatusRecord,
    process_start_time,
)
from pyvirt.drivers.qemu.hotplug import QemuHotplugMixin
from pyvirt.drivers.qemu.jobs import QemuJobsMixin
from pyvirt.drivers.qemu.migration import PORTS as MIGRATION_PORTS
from pyvirt.drivers.qemu.migration import QemuMigrationMixin
from pyvirt.drivers.qemu.monitoring import QemuMonitoringMixin
from pyvirt.drivers.qemu.snapshots import QemuSnapshotMixin
from pyvirt.drivers.secondary import SecondaryDrivers
from pyvirt.drivers.shared import SharedDrivers
from pyvirt.errors import libvirtError, raise_error
from pyvirt.events.state import EventState
from pyvirt.fileutil import acquire_driver_lock, release_driver_lock, remove_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain
    from pyvirt.conf.domain import DomainDef
    from pyvirt.drivers.qemu.emulator import EmulatorCaps
    from pyvirt.drivers.qemu.paths import QemuPaths

DEFAULT_EMULATORS = {"x86_64": "/usr/bin/qemu-system-x86_64", "i686": "/usr/bin/qemu-system-i386"}
# qemu.conf's remote_display_port_min/max defaults
VNC_PORT_MIN, VNC_PORT_MAX = 5900, 65535
# How long destroy waits after SIGTERM, then after SIGKILL (libvirt: 10 s, then 5 s).
TERM_WAIT, KILL_WAIT = 10.0, 5.0


def _err(code: int, detail: str | None = None, domain: int = c.VIR_FROM_QEMU) -> NoReturn:
    raise_error(code, detail, domain=domain)


def _no_domain(detail: str) -> NoReturn:
    raise_error(c.VIR_ERR_NO_DOMAIN, detail, domain=c.VIR_FROM_QEMU)


class QemuDriver(QemuMonitoringMixin, QemuSnapshotMixin, QemuHotplugMixin,
                 QemuMigrationMixin, QemuJobsMixin, DomainEventEntryPoints,
                 LocalConnectionEntryPoints, Driver):
    name = "QEMU"
    error_domain = c.VIR_FROM_QEMU

    def __init__(self, paths: QemuPaths) -> None:
        from pyvirt.drivers.qemu.monitor import LoopThread

        self.paths = paths
        paths.ensure()
        self._lock_fd = acquire_driver_lock(paths.state_dir)
        self.vnc_port_min, self.vnc_port_max = VNC_PORT_MIN, VNC_PORT_MAX
        self.migration_port_min, self.migration_port_max = MIGRATION_PORTS
        self._read_qemu_conf()
        self.lock = threading.RLock()
        self.events = EventState()
        self.loop = LoopThread(f"pyvirt-qemu-{paths.mode}")
        self._by_uuid: dict[str, QemuDomain] = {}
        self._by_name: dict[str, QemuDomain] = {}
        self._next_id = 1
        self._caps: dict[str, EmulatorCaps] = {}
        self._vnc_ports: set[int] = set()
        self._watches: dict[str, Any] = {}  # uuid -> ProcessWatch
        self.secondaries = SecondaryDrivers(paths.mode, paths.root)
        self._load_configs()
        self._load_snapshots()
        self._reconnect_all()
        self._autostart()

    def _read_qemu_conf(self) -> None:
        """The settings of qemu.conf the driver honours so far: the VNC port range
        (remote_display_port_min/max) and the incoming migration port range
        (migration_port_min/max). A missing file means libvirt's defaults."""
        from pyvirt.config import parse_conf

        try:
            with open(self.paths.qemu_conf) as fh:
                conf = parse_conf(fh.read(), self.paths.qemu_conf)
        except FileNotFoundError:
            return
        low = conf.get("remote_display_port_min", VNC_PORT_MIN)
        high = conf.get("remote_display_port_max", VNC_PORT_MAX)
        if not isinstance(low, int) or not isinstance(high, int) or not (
                VNC_PORT_MIN <= low <= high <= VNC_PORT_MAX):
            _err(c.VIR_ERR_CONF_SYNTAX, f"{self.paths.qemu_conf}: remote_display_port_min "
                 f"and remote_display_port_max must form a range within "
                 f"{VNC_PORT_MIN}-{VNC_PORT_MAX}")
        self.vnc_port_min, self.vnc_port_max = low, high
        name = self.paths.qemu_conf
        low = conf.get("migration_port_min", MIGRATION_PORTS[0])
        if not isinstance(low, int) or low <= 0:
            _err(c.VIR_ERR_INTERNAL_ERROR,
                 f"{name}: migration_port_min: port must be greater than 0")
        high = conf.get("migration_port_max", MIGRATION_PORTS[1])
        if not isinstance(high, int) or not low <= high <= 65535:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"{name}: migration_port_max: port must be "
                 f"between the minimal port {low} and 65535")
        self.migration_port_min, self.migration_port_max = low, high

    # ---- capabilities ------------------------------------------------------------------

    def caps_for(self, binary: str) -> EmulatorCaps:
        caps = self._caps.get(binary)
        if caps is None:
            from pyvirt.drivers.qemu.capabilities import probe_emulator

            if not os.access(binary, os.X_OK):
                _err(c.VIR_ERR_SYSTEM_ERROR, f"Cannot check QEMU binary {binary}: "
                     "No such file or directory")
            caps = probe_emulator(binary, self.paths.cache_dir)
            self._caps[binary] = caps
        return caps

    def default_emulator(self, arch: str | None) -> str:
        arch = arch or os.uname().machine
        binary = DEFAULT_EMULATORS.get(arch)
        if binary is None or not os.access(binary, os.X_OK):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"No emulator found for arch '{arch}'")
        return binary

    # ---- definitions -------------------------------------------------------------------

    def parse_definition(self, xml: str, inactive: bool, validate: bool = False) -> DomainDef:
        """Parse and complete a definition as the QEMU driver's post-parse does: default
        arch and emulator, canonical machine type; refuse virt types QEMU cannot run."""
        from pyvirt.conf.domain import DomainDef

        defn = DomainDef.from_xml(xml, inactive=inactive, validate_schema=validate)
        if defn.os.type != "hvm":
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"Emulator '{defn.devices.emulator or ''}' does not support os type "
                 f"'{defn.os.type}'", domain=c.VIR_FROM_QEMU)
        if not defn.os.arch:
            defn.os.arch = os.uname().machine
        if not defn.devices.emulator:
            defn.devices.emulator = self.default_emulator(defn.os.arch)
        caps = self.caps_for(defn.devices.emulator)
        if defn.type not in ("qemu", "kvm") or (defn.type == "kvm" and not caps.kvm):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"Emulator '{defn.devices.emulator}' does not support virt type "
                 f"'{defn.type}'", domain=c.VIR_FROM_QEMU)
        machine = caps.canonical_machine(defn.os.machine)
        if machine is None:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"Emulator '{defn.devices.emulator}' does not support machine type "
                 f"'{defn.os.machine}'", domain=c.VIR_FROM_QEMU)
        defn.os.machine = machine
        if inactive:
            # libvirt's post-parse: default devices and PCI/drive addresses are part of the
            # stored definition, so they stay the same from one start to the next.
            from pyvirt.drivers.qemu.addresses import assign_addresses

            assign_addresses(defn, caps)
        return defn

    def _load_configs(self) -> None:
        """Persistent definitions from the config dir (a file that does not parse is
        skipped, as libvirt skips it, without losing the others)."""
        import sys

        try:
            names = sorted(os.listdir(self.paths.config_dir))
        except FileNotFoundError:
            return
        for fname in names:
            if not fname.endswith(".xml"):
                continue
            path = os.path.join(self.paths.config_dir, fname)
            try:
                with open(path) as fh:
                    defn = self.parse_definition(fh.read(), inactive=True)
            except Exception as exc:  # one bad file must not hide every other domain
                print(f"pyvirt: qemu: skipping {path}: {exc}", file=sys.stderr)
                continue
            dom = QemuDomain(defn)
            dom.persistent = True
            dom.autostart = os.path.exists(os.path.join(self.paths.autostart_dir, fname))
            dom.has_managed_save = os.path.exists(dom.managed_save_path(self.paths))
            self._index(dom)

    def _index(self, dom: QemuDomain) -> None:
        self._by_uuid[dom.uuid] = dom
        self._by_name[dom.name] = dom

    def _unindex(self, dom: QemuDomain) -> None:
        self._by_uuid.pop(dom.uuid, None)
        if self._by_name.get(dom.name) is dom:
            del self._by_name[dom.name]

    # ---- lookups -----------------------------------------------------------------------

    def _dom(self, handle: virDomain) -> QemuDomain:
        with self.lock:
            dom = self._by_uuid.get(handle._uuid)
        if dom is None:
            _no_domain(f"no domain with matching uuid '{handle._uuid}' ({handle._name})")
        return dom

    def _handle(self, conn: virConnect, dom: QemuDomain) -> virDomain:
        return conn._make_domain(dom.name, dom.uuid, dom.defn.id)

    def domainLookupByName(self, conn: virConnect, name: str) -> virDomain:  # noqa: N802
        with self.lock:
            dom = self._by_name.get(name)
        if dom is None:
            _no_domain(f"no domain with matching name '{name}'")
        return self._handle(conn, dom)

    def domainLookupByUUID(self, conn: virConnect, uuid: str) -> virDomain:  # noqa: N802
        with self.lock:
            dom = self._by_uuid.get(uuid)
        if dom is None:
            _no_domain(f"no domain with matching uuid '{uuid}'")
        return self._handle(conn, dom)

    def domainLookupByID(self, conn: virConnect, dom_id: int) -> virDomain:  # noqa: N802
        with self.lock:
            dom = next((d for d in self._by_uuid.values()
                        if d.defn.id == dom_id and dom_id != -1), None)
        if dom is None:
            _no_domain(f"no domain with matching id {dom_id}")
        return self._handle(conn, dom)

    def _all(self) -> list[QemuDomain]:
        with self.lock:
            return list(self._by_uuid.values())

    def connectListAllDomains(self, conn: virConnect, flags: int) -> list[virDomain]:  # noqa: N802
        check_flags("qemuConnectListAllDomains", flags, LIST_FILTERS_ALL, c.VIR_FROM_QEMU)
        return [self._handle(conn, d) for d in self._all() if list_filter_match(
            flags, active=d.active, persistent=d.persistent, managed_save=d.has_managed_save,
            autostart=d.autostart, has_snapshot=self._has_snapshots(d), has_checkpoint=False,
            state=d.state)]

    def connectListDomainsID(self, conn: virConnect) -> list[int]:  # noqa: N802
        return sorted(d.defn.id for d in self._all() if d.active)

    def connectNumOfDomains(self, conn: virConnect) -> int:  # noqa: N802
        return sum(1 for d in self._all() if d.active)

    def connectListDefinedDomains(self, conn: virConnect) -> list[str]:  # noqa: N802
        return sorted(d.name for d in self._all() if not d.active)

    def connectNumOfDefinedDomains(self, conn: virConnect) -> int:  # noqa: N802
        return sum(1 for d in self._all() if not d.active)

    # ---- connection --------------------------------------------------------------------

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        self._abandoned_incoming(conn)
        self.events.deregister_connection(conn)
        self.secondaries.connection_closed(conn)
        _release(self)

    def secondary_driver(self, error_domain: int) -> Driver | None:
        return self.secondaries.get(error_domain)

    def _volume_disks(self, live: DomainDef) -> DomainDef:
        if not any(d.type == "volume" for d in live.devices.disks):
            return live
        from pyvirt.drivers.storage.driver import translate_volume_disks

        return translate_volume_disks(live, self.secondaries.get(c.VIR_FROM_STORAGE))  # type: ignore[arg-type]

    def connectGetType(self, conn: virConnect) -> str:  # noqa: N802
        return "QEMU"

    def connectGetVersion(self, conn: virConnect) -> int:  # noqa: N802
        return self.caps_for(self.default_emulator(None)).version

    def connectGetMaxVcpus(self, conn: virConnect, type_: str | None) -> int:  # noqa: N802
        caps = self.caps_for(self.default_emulator(None))
        machine = caps.default_machine()
        return machine.cpu_max if machine else 1

    def connectGetCapabilities(self, conn: virConnect) -> str:  # noqa: N802
        from pyvirt.drivers.qemu.capabilities import host_capabilities_xml

        emulators = [self.caps_for(b) for b in DEFAULT_EMULATORS.values()
                     if os.access(b, os.X_OK)]
        result: str = host_capabilities_xml(emulators)
        return result

    def connectGetDomainCapabilities(self, conn: virConnect, emulatorbin: str | None,  # noqa: N802
                                     arch: str | None, machine: str | None,
                                     virttype: str | None, flags: int) -> str:
        from pyvirt.drivers.qemu.capabilities import domain_capabilities_xml

        check_flags("qemuConnectGetDomainCapabilities", flags, 0, c.VIR_FROM_QEMU)
        binary = emulatorbin or self.default_emulator(arch)
        result: str = domain_capabilities_xml(self.caps_for(binary), arch, machine, virttype)
        return result

    def nodeGetInfo(self, conn: virConnect) -> list[Any]:  # noqa: N802
        from pyvirt.drivers.qemu.host import node_info

        return node_info()

    def connectDomainXMLToNative(self, conn: virConnect, native_format: str,  # noqa: N802
                                 xml: str, flags: int) -> str:
        """The QEMU command line a start of ``xml`` would run ("qemu-argv"), with libvirt's
        environment prefix; nothing is started or allocated."""
        from pyvirt.drivers.qemu.addresses import assign_addresses, assign_aliases
        from pyvirt.drivers.qemu.command import LaunchContext, build_command
        from pyvirt.drivers.qemu.process import shell_quote

        check_flags("qemuConnectDomainXMLToNative", flags, 0, c.VIR_FROM_QEMU)
        if native_format != "qemu-argv":
            _err(c.VIR_ERR_INVALID_ARG, f"unsupported config type {native_format}")
        live = self.parse_definition(xml, inactive=True)
        caps = self.caps_for(live.devices.emulator or self.default_emulator(live.os.arch))
        assign_addresses(live, caps)
        assign_aliases(live)
        run_dir = self.paths.domain_run_dir(live.name)
        ctx = LaunchContext(monitor_socket=os.path.join(run_dir, "monitor.sock"),
                            domain_dir=run_dir)
        # an autoport display shows as the first port of the range: nothing is reserved
        ctx.vnc_ports = {i: self.vnc_port_min for i, g in enumerate(live.devices.graphics)
                         if g.type == "vnc" and (g.autoport or g.port == -1)}
        argv = build_command(live, caps, ctx)
        env = "LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return env + " " + " ".join(shell_quote(a) for a in argv) + "\n"

    def nodeGetSecurityModel(self, conn: virConnect) -> list[str]:  # noqa: N802
        # No security driver (SELinux/AppArmor/DAC labelling) yet: libvirt's "none" model.
        return ["none", "0"]

    def domainGetSecurityLabel(self, handle: virDomain) -> list[Any]:  # noqa: N802
        self._dom(handle)
        return ["", 0]

    # ---- events ------------------------------------------------------------------------

    def _emit(self, dom: QemuDomain, event_id: int, *payload: Any) -> None:
        if self.events.wanted():
            self.events.queue(self.events.domain_event(event_id, dom.name, dom.uuid,
                                                       dom.defn.id, *payload))

    def _lifecycle(self, dom: QemuDomain, event: int, detail: int) -> None:
        self._emit(dom, c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, event, detail)

    # ---- define / undefine ---------------------------------------------------------------

    def domainDefineXML(self, conn: virConnect, xml: str) -> virDomain:  # noqa: N802
        return self.domainDefineXMLFlags(conn, xml, 0)

    def domainDefineXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virDomain:  # noqa: N802
        check_flags("qemuDomainDefineXMLFlags", flags, c.VIR_DOMAIN_DEFINE_VALIDATE,
                    c.VIR_FROM_QEMU)
        defn = self.parse_definition(xml, inactive=True,
                                     validate=bool(flags & c.VIR_DOMAIN_DEFINE_VALIDATE))
        with self.lock:
            dom = self._assign(defn, live=False)
            updated = dom.persistent
            dom.persistent = True
            dom.save_config(self.paths)
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_DEFINED,
                            c.VIR_DOMAIN_EVENT_DEFINED_UPDATED if updated
                            else c.VIR_DOMAIN_EVENT_DEFINED_ADDED)
            return self._handle(conn, dom)

    def _assign(self, defn: DomainDef, live: bool) -> QemuDomain:
        """virDomainObjListAdd: a new domain object, or ``defn`` assigned to the existing
        one with the same UUID (for a define: as its next persistent definition)."""
        dom = self._by_uuid.get(defn.uuid)
        if dom is not None:
            if dom.name != defn.name:
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"domain '{dom.name}' is already defined with uuid {dom.uuid}",
                            domain=c.VIR_FROM_DOMAIN)
            if live:
                if dom.active:
                    raise_error(c.VIR_ERR_OPERATION_INVALID,
                                f"domain '{dom.name}' is already active",
                                domain=c.VIR_FROM_DOMAIN)
                if dom.persistent:
                    dom.new_def = dom.defn
                dom.defn = defn
            elif dom.active:
                dom.new_def = defn
            else:
                dom.defn = defn
            return dom
        other = self._by_name.get(defn.name)
        if other is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"domain '{defn.name}' already exists with uuid {other.uuid}",
                        domain=c.VIR_FROM_DOMAIN)
        defn.id = -1
        dom = QemuDomain(defn)
        self._index(dom)
        return dom

    def domainUndefine(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainUndefineFlags(dom, 0)

    def domainUndefineFlags(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainUndefineFlags", flags,
                    c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    | c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                    | c.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                    | c.VIR_DOMAIN_UNDEFINE_NVRAM | c.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
                    | c.VIR_DOMAIN_UNDEFINE_TPM | c.VIR_DOMAIN_UNDEFINE_KEEP_TPM,
                    c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainUndefine")
        try:
            with self.lock, dom.lock:
                if not dom.persistent:
                    _err(c.VIR_ERR_OPERATION_INVALID, "cannot undefine transient domain",
                         domain=c.VIR_FROM_QEMU)
                self._undefine_snapshots(dom, flags)
                save_path = dom.managed_save_path(self.paths)
                if dom.has_managed_save:
                    if not flags & c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE:
                        _err(c.VIR_ERR_OPERATION_INVALID,
                             "Refusing to undefine while domain managed save image exists")
                    remove_quietly(save_path)
                    dom.has_managed_save = False
                dom.remove_config(self.paths)
                dom.autostart = False
                self._lifecycle(dom, c.VIR_DOMAIN_EVENT_UNDEFINED,
                                c.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)
                if dom.active:
                    dom.persistent = False
                    dom.new_def = None
                else:
                    self._unindex(dom)
        finally:
            dom.job.end()
        return 0

    def domainGetXMLDesc(self, handle: virDomain, flags: int) -> str:  # noqa: N802
        check_flags("qemuDomainGetXMLDesc", flags,
                    c.VIR_DOMAIN_XML_SECURE | c.VIR_DOMAIN_XML_INACTIVE
                    | c.VIR_DOMAIN_XML_UPDATE_CPU | c.VIR_DOMAIN_XML_MIGRATABLE,
                    c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        with dom.lock:
            inactive = bool(flags & c.VIR_DOMAIN_XML_INACTIVE)
            defn = dom.persistent_def() if inactive else dom.defn
            return defn.to_xml(inactive=inactive or not dom.active,
                               secure=bool(flags & c.VIR_DOMAIN_XML_SECURE))

    # ---- simple getters ----------------------------------------------------------------

    def domainGetState(self, handle: virDomain, flags: int) -> list[int]:  # noqa: N802
        check_flags("qemuDomainGetState", flags, 0, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        return [dom.state, dom.reason]

    def domainGetInfo(self, handle: virDomain) -> list[int]:  # noqa: N802
        dom = self._dom(handle)
        with dom.lock:
            defn = dom.defn
            cpu_time = _cpu_time_ns(dom.pid) if dom.active else 0
            memory = defn.current_memory_kib or defn.memory_kib
            return [dom.state, defn.memory_kib, memory if dom.active else defn.memory_kib,
                    defn.vcpus_current, cpu_time]

    def domainGetOSType(self, handle: virDomain) -> str:  # noqa: N802
        return self._dom(handle).defn.os.type

    def domainGetMaxMemory(self, handle: virDomain) -> int:  # noqa: N802
        return self._dom(handle).defn.memory_kib

    def domainIsActive(self, handle: virDomain) -> int:  # noqa: N802
        return int(self._dom(handle).active)

    def domainIsPersistent(self, handle: virDomain) -> int:  # noqa: N802
        return int(self._dom(handle).persistent)

    def domainIsUpdated(self, handle: virDomain) -> int:  # noqa: N802
        return 0

    def domainGetAutostart(self, handle: virDomain) -> int:  # noqa: N802
        return int(self._dom(handle).autostart)

    def domainSetAutostart(self, handle: virDomain, autostart: int) -> int:  # noqa: N802
        dom = self._dom(handle)
        with dom.lock:
            if not dom.persistent:
                _err(c.VIR_ERR_OPERATION_INVALID, "cannot set autostart for transient domain")
            link = os.path.join(self.paths.autostart_dir, dom.name + ".xml")
            if autostart:
                if not os.path.lexists(link):
                    os.symlink(os.path.join(self.paths.config_dir, dom.name + ".xml"), link)
            else:
                remove_quietly(link)
            dom.autostart = bool(autostart)
        return 0

    def domainGetVcpusFlags(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainGetVcpusFlags", flags,
                    c.VIR_DOMAIN_AFFECT_LIVE | c.VIR_DOMAIN_AFFECT_CONFIG
                    | c.VIR_DOMAIN_VCPU_MAXIMUM | c.VIR_DOMAIN_VCPU_GUEST, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        live, config = dom.defs_for(flags & ~(c.VIR_DOMAIN_VCPU_MAXIMUM
                                              | c.VIR_DOMAIN_VCPU_GUEST))
        defn = live if live is not None else config
        assert defn is not None
        return defn.vcpus_max if flags & c.VIR_DOMAIN_VCPU_MAXIMUM else defn.vcpus_current

    def domainGetMaxVcpus(self, handle: virDomain) -> int:  # noqa: N802
        return self._dom(handle).defn.vcpus_max

    # ---- start ---------------------------------------------------------------------------

    def domainCreateXML(self, conn: virConnect, xml: str, flags: int) -> virDomain:  # noqa: N802
        check_flags("qemuDomainCreateXML", flags,
                    c.VIR_DOMAIN_START_PAUSED | c.VIR_DOMAIN_START_AUTODESTROY
                    | c.VIR_DOMAIN_START_VALIDATE, c.VIR_FROM_QEMU)
        defn = self.parse_definition(xml, inactive=True,
                                     validate=bool(flags & c.VIR_DOMAIN_START_VALIDATE))
        with self.lock:
            dom = self._assign(defn, live=True)
            dom.job.begin("virDomainCreateXML")
        try:
            try:
                self._start(dom, paused=bool(flags & c.VIR_DOMAIN_START_PAUSED))
            except BaseException:
                with self.lock:
                    if not dom.persistent and not dom.active:
                        self._unindex(dom)
                raise
            return self._handle(conn, dom)
        finally:
            dom.job.end()

    def domainCreate(self, handle: virDomain) -> int:  # noqa: N802
        return self.domainCreateWithFlags(handle, 0)

    def domainCreateWithFlags(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainCreateWithFlags", flags,
                    c.VIR_DOMAIN_START_PAUSED | c.VIR_DOMAIN_START_AUTODESTROY
                    | c.VIR_DOMAIN_START_BYPASS_CACHE | c.VIR_DOMAIN_START_FORCE_BOOT,
                    c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainCreate")
        try:
            if dom.active:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is already running",
                     domain=c.VIR_FROM_QEMU)
            paused = bool(flags & c.VIR_DOMAIN_START_PAUSED)
            if dom.has_managed_save and not flags & c.VIR_DOMAIN_START_FORCE_BOOT:
                self._restore_managed(dom, paused)
            else:
                if dom.has_managed_save:
                    remove_quietly(dom.managed_save_path(self.paths))
                    dom.has_managed_save = False
                self._start(dom, paused=paused)
            handle._id = dom.defn.id
        finally:
            dom.job.end()
        return 0

    def _start(self, dom: QemuDomain, paused: bool, incoming_fd: int | None = None,
               reason: int = c.VIR_DOMAIN_RUNNING_BOOTED,
               event_detail: int = c.VIR_DOMAIN_EVENT_STARTED_BOOTED,
               before_run: Callable[[Any], None] | None = None,
               paused_as: tuple[int, int | None] = (c.VIR_DOMAIN_PAUSED_USER,
                                                    c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
               incoming_uri: str | None = None) -> None:
        """qemuProcessStart, with the domain's job held: build the live definition, launch
        QEMU paused, connect its monitor, then let the vCPUs run unless ``paused``.
        ``before_run`` gets the monitor first (a snapshot revert loads the snapshot);
        ``paused_as``: the paused reason and SUSPENDED event detail (None: no event) of a
        paused start. ``incoming_fd`` loads a saved state; ``incoming_uri`` makes QEMU wait
        for an incoming migration there (pyvirt.drivers.qemu.migration)."""
        from pyvirt.drivers.qemu import process, tap
        from pyvirt.drivers.qemu.addresses import assign_addresses, assign_aliases
        from pyvirt.drivers.qemu.command import LaunchContext, build_command
        from pyvirt.drivers.qemu.monitor import Monitor

        with dom.lock:
            if dom.active:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is already running",
                     domain=c.VIR_FROM_QEMU)
            live = dom.persistent_def().copy()
        binary = live.devices.emulator or self.default_emulator(live.os.arch)
        caps = self.caps_for(binary)
        assign_addresses(live, caps)  # libvirt's order: addresses, then aliases
        assign_aliases(live)
        run_dir = self.paths.domain_run_dir(live.name)
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        monitor_path = os.path.join(run_dir, "monitor.sock")
        remove_quietly(monitor_path)
        ctx = LaunchContext(monitor_socket=process.socket_arg(monitor_path, run_dir),
                            pidfile=os.path.join(run_dir, "qemu.pid"), domain_dir=run_dir)
        if incoming_fd is not None or incoming_uri is not None:
            ctx.incoming = "defer"
        ctx.start_paused = True
        # Everything that can refuse the definition runs before QEMU does, and gives back
        # what it took (ports) when it refuses: a failed start leaves nothing behind.
        ctx.vnc_ports, held_ports = self._allocate_vnc_ports(live)
        try:
            launch = self._volume_disks(live)  # type='volume' disks as their files/devices
            _check_storage(launch)
            ctx.tap_fds = tap.plug_interfaces(live, self.secondaries)
            try:
                argv = build_command(launch, caps, ctx)
                log_path = os.path.join(self.paths.log_dir, live.name + ".log")
                proc = process.spawn(argv, log_path, cwd=run_dir,
                                     pass_fds=[fd for fds in ctx.tap_fds.values() for fd in fds])
            finally:
                tap.close_all(ctx.tap_fds)  # QEMU holds its own copies now
        except BaseException:
            tap.release_ports(live, self.secondaries)
            with self.lock:
                self._vnc_ports.difference_update(held_ports)
            raise
        with self.lock:
            live.id = self._next_id
            self._next_id += 1

        def alive() -> bool:
            return proc.poll() is None

        with dom.lock:
            new_def = dom.persistent_def() if dom.persistent else None
            dom.defn, dom.new_def = live, new_def
            dom.pid, dom.proc = proc.pid, proc
            dom.start_time = process_start_time(proc.pid)
            dom.monitor_path = monitor_path
            dom.vnc_ports = held_ports
            dom.expected_stop = None
            dom.got_shutdown = dom.fake_reboot = False
            dom.state, dom.reason = PAUSED, c.VIR_DOMAIN_PAUSED_STARTING_UP
            dom.stopped.clear()
        watch = process.ProcessWatch(self.loop, proc.pid,
                                     lambda: self._process_exited(dom, proc.pid), proc)
        self._watches[dom.uuid] = watch
        monitor = Monitor(self.loop, monitor_path, live.name,
                          lambda ev, data, ts: self._on_qmp_event(dom, ev, data),
                          lambda: None)
        try:
            monitor.connect(timeout=30, alive=alive)
            dom.monitor = monitor
            self._record_pty_paths(live, monitor)
            self._post_launch_setup(live, monitor)
            if incoming_fd is not None:
                self._incoming_migration(dom, incoming_fd)
            if incoming_uri is not None:
                monitor.execute("migrate-incoming", {"uri": incoming_uri})
            if before_run is not None:
                before_run(monitor)
            if not paused:
                with dom.lock:
                    dom.state, dom.reason = RUNNING, reason
                monitor.execute("cont")
            else:
                with dom.lock:
                    dom.state = PAUSED
                    dom.reason = paused_as[0]
        except BaseException as exc:
            # Undo the start: kill QEMU and clean up without a STOPPED event (the guest
            # never started), then report why, quoting QEMU's log as libvirt does.
            with dom.lock:
                dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_FAILED,
                                     c.VIR_DOMAIN_EVENT_STOPPED_FAILED)
                dom.quiet_stop = True
            watch.signal(signal.SIGKILL)
            dom.stopped.wait(KILL_WAIT)
            tail = process.log_tail(log_path)
            if not alive() and tail and isinstance(exc, libvirtError) \
                    and exc.get_error_code() == c.VIR_ERR_INTERNAL_ERROR:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"process exited while connecting to monitor: {tail}",
                            domain=c.VIR_FROM_QEMU)
            raise
        with dom.lock:
            dom.has_managed_save = False
            dom.save_status(self.paths)
        self._lifecycle(dom, c.VIR_DOMAIN_EVENT_STARTED, event_detail)
        if paused and paused_as[1] is not None:
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SUSPENDED, paused_as[1])

    @staticmethod
    def _post_launch_setup(live: DomainDef, monitor: Any) -> None:
        """What libvirt sets over QMP before the vCPUs run rather than on the command line:
        lifecycle actions (qemuProcessSetupLifecycleActions) and the balloon's statistics
        period."""
        from pyvirt.drivers.qemu.command import lifecycle_actions
        from pyvirt.drivers.qemu.command_devices import balloon_stats_period

        actions = lifecycle_actions(live)
        if actions:
            monitor.execute("set-action", actions)
        balloon = next((b for b in live.devices.memballoons if b.alias), None)
        period = balloon_stats_period(balloon)
        if balloon is not None and period:
            monitor.execute("qom-set", {"path": f"/machine/peripheral/{balloon.alias}",
                                        "property": "guest-stats-polling-interval",
                                        "value": period})

    @staticmethod
    def _record_pty_paths(live: DomainDef, monitor: Any) -> None:
        """Write the ptys QEMU allocated into the live definition (<source path=...>), as
        libvirt does from query-chardev."""
        devs = live.devices
        ptys = [d for d in (*devs.serials, *devs.parallels, *devs.consoles, *devs.channels)
                if d.source.type == "pty"]
        if not ptys:
            return
        by_label = {ch["label"]: ch.get("filename", "") for ch in monitor.execute("query-chardev")}
        for dev in ptys:
            filename = by_label.get(f"char{dev.alias}", "")
            if filename.startswith("pty:"):
                dev.source.path = filename[4:]
        # a <console> that stands for serial0 shares its pty
        for console in devs.consoles:
            if console.source.type == "pty" and not console.source.path and devs.serials:
                console.source.path = devs.serials[0].source.path

    def _allocate_vnc_ports(self, live: DomainDef) -> tuple[dict[int, int], list[int]]:
        """virPortAllocator for VNC: an autoport gets the first port from 5900 up that
        nobody listens on (written into the live definition, as libvirt shows it); a fixed
        port is reserved. Returns (graphics index -> autoport, every port held)."""
        import socket

        ports: dict[int, int] = {}
        held: list[int] = []
        for index, gfx in enumerate(live.devices.graphics):
            if gfx.type != "vnc":
                continue
            if not (gfx.autoport or gfx.port == -1):
                if gfx.port > 0:
                    self._reserve_fixed_port(gfx.port, gfx.listen_address, held)
                continue
            with self.lock:
                for candidate in range(self.vnc_port_min, self.vnc_port_max + 1):
                    if candidate in self._vnc_ports:
                        continue
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                        try:
                            probe.bind(("0.0.0.0", candidate))
                        except OSError:
                            continue
                    self._vnc_ports.add(candidate)
                    ports[index] = candidate
                    held.append(candidate)
                    gfx.port = candidate
                    break
                else:
                    self._vnc_ports.difference_update(held)
                    _err(c.VIR_ERR_INTERNAL_ERROR, "Unable to find an unused port in range "
                         f"'display' ({self.vnc_port_min}-{self.vnc_port_max})")
        return ports, held

    def _reserve_fixed_port(self, port: int, address: str | None, held: list[int]) -> None:
        """virPortAllocatorSetUsed for a VNC port given in the XML: refused when another
        guest of ours or any other program already has it."""
        import socket

        with self.lock:
            busy = port in self._vnc_ports
            if not busy:
                family = socket.AF_INET6 if address and ":" in address else socket.AF_INET
                with socket.socket(family, socket.SOCK_STREAM) as probe:
                    try:
                        probe.bind((address or "0.0.0.0", port))
                    except OSError:
                        busy = True
            if busy:
                self._vnc_ports.difference_update(held)
                _err(c.VIR_ERR_INTERNAL_ERROR, f"Failed to reserve port {port}")
            self._vnc_ports.add(port)
            held.append(port)

    # ---- QMP events and process exit (monitor loop thread) -------------------------------

    def _on_qmp_event(self, dom: QemuDomain, event: str, data: dict[str, Any]) -> None:
        with dom.lock:
            if dom.pid == 0:  # the process is gone (its exit was handled first): stale event
                return
        if event == "STOP":
            with dom.lock:
                if dom.state != RUNNING:
                    return
                dom.state, dom.reason = PAUSED, dom.paused_reason or c.VIR_DOMAIN_PAUSED_UNKNOWN
                dom.paused_reason = 0
                self._save_status_quietly(dom)
                detail = (c.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED
                          if dom.reason == c.VIR_DOMAIN_PAUSED_MIGRATION
                          else c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SUSPENDED, detail)
        elif event == "RESUME":
            with dom.lock:
                if dom.state != PAUSED or dom.reason == c.VIR_DOMAIN_PAUSED_STARTING_UP:
                    return
                dom.state, dom.reason = RUNNING, c.VIR_DOMAIN_RUNNING_UNPAUSED
                self._save_status_quietly(dom)
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_RESUMED, c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
        elif event == "SHUTDOWN":
            self._on_shutdown(dom, bool(data.get("guest")))
        elif event == "RESET":
            self._emit(dom, c.VIR_DOMAIN_EVENT_ID_REBOOT)
        elif event == "VSERPORT_CHANGE":
            # the guest opened or closed a virtio-serial port: the agent's, perhaps
            from pyvirt.drivers.qemu.agent import AGENT_CHANNEL

            with dom.lock:
                for chan in dom.defn.devices.channels:
                    if chan.alias == data.get("id") and chan.target_name == AGENT_CHANNEL:
                        dom.agent_connected = bool(data.get("open"))
        elif event in ("DEVICE_DELETED", "DEVICE_TRAY_MOVED"):  # hotplug.py
            self._hotplug_event(dom, event, data)
        elif event == "GUEST_PANICKED":
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_CRASHED, c.VIR_DOMAIN_EVENT_CRASHED_PANICKED)
            with dom.lock:
                action = dom.defn.on_crash
            if action in ("restart", "restart-rename"):
                self.loop.loop.create_task(self._fake_reboot(dom))
            else:
                with dom.lock:
                    dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_CRASHED,
                                         c.VIR_DOMAIN_EVENT_STOPPED_CRASHED)
                self._signal(dom, signal.SIGTERM)

    def _on_shutdown(self, dom: QemuDomain, guest: bool) -> None:
        """qemuProcessHandleShutdown: QEMU (run with -no-shutdown) stopped the guest; a fake
        reboot starts it again, anything else ends the process."""
        with dom.lock:
            if dom.expected_stop is not None and dom.expected_stop[0] in (
                    c.VIR_DOMAIN_SHUTOFF_DESTROYED, c.VIR_DOMAIN_SHUTOFF_SAVED,
                    c.VIR_DOMAIN_SHUTOFF_FAILED, c.VIR_DOMAIN_SHUTOFF_MIGRATED):
                # our own SIGTERM (destroy, save, failed start, migrated): QEMU says so too
                return
            dom.got_shutdown = True
            restart = dom.fake_reboot or dom.defn.on_poweroff in ("restart", "restart-rename")
            dom.state, dom.reason = c.VIR_DOMAIN_SHUTDOWN, c.VIR_DOMAIN_SHUTDOWN_USER
        self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SHUTDOWN,
                        c.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST if guest
                        else c.VIR_DOMAIN_EVENT_SHUTDOWN_HOST)
        if restart:
            self.loop.loop.create_task(self._fake_reboot(dom))
        else:
            with dom.lock:
                if dom.expected_stop is None:
                    dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_SHUTDOWN,
                                         c.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
            self._signal(dom, signal.SIGTERM)

    async def _fake_reboot(self, dom: QemuDomain) -> None:
        """qemuProcessFakeReboot: reset the stopped guest and let it run again."""
        monitor = dom.monitor
        if monitor is None:
            return
        try:
            await monitor._client.execute("system_reset")
            await monitor._client.execute("cont")
        except Exception:
            return
        with dom.lock:
            dom.fake_reboot = dom.got_shutdown = False
            dom.state, dom.reason = RUNNING, c.VIR_DOMAIN_RUNNING_BOOTED
            self._save_status_quietly(dom)
        self._lifecycle(dom, c.VIR_DOMAIN_EVENT_RESUMED, c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)

    def _process_exited(self, dom: QemuDomain, pid: int) -> None:
        """The QEMU process ``pid`` is gone: qemuProcessStop, with the reason its
        context gives (a destroy, a guest shutdown, or an unexpected death)."""
        with self.lock, dom.lock:
            if dom.pid != pid or not dom.active:
                return
            if dom.expected_stop is not None:
                reason, detail = dom.expected_stop
            elif dom.got_shutdown:
                reason, detail = c.VIR_DOMAIN_SHUTOFF_SHUTDOWN, c.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN
            else:
                reason, detail = c.VIR_DOMAIN_SHUTOFF_CRASHED, c.VIR_DOMAIN_EVENT_STOPPED_FAILED
            quiet = dom.quiet_stop
            dom.quiet_stop = False
            stopped_id = dom.defn.id
            self._stop_cleanup(dom, reason)
        if not quiet:
            self.events.queue(self.events.domain_event(
                c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom.name, dom.uuid, stopped_id,
                c.VIR_DOMAIN_EVENT_STOPPED, detail))
        dom.stopped.set()

    def _stop_cleanup(self, dom: QemuDomain, reason: int) -> None:
        """With the driver and domain locks held: forget the process, its monitor, ports
        and status file; the domain is shut off (a transient one goes away)."""
        if dom.monitor is not None:
            dom.monitor.close()
            dom.monitor = None
        self._watches.pop(dom.uuid, None)
        for port in dom.vnc_ports:
            self._vnc_ports.discard(port)
        dom.vnc_ports = []
        dom.remove_status(self.paths)
        from pyvirt.drivers.qemu import tap

        tap.release_ports(dom.defn, self.secondaries)  # the guest's network ports
        run_dir = self.paths.domain_run_dir(dom.name)
        for leftover in ("monitor.sock", "qemu.pid"):
            remove_quietly(os.path.join(run_dir, leftover))
        try:
            os.rmdir(run_dir)
        except OSError:
            pass
        dom.pid, dom.proc, dom.start_time = 0, None, None
        dom.agent_connected = False
        dom.state, dom.reason = SHUTOFF, reason
        dom.expected_stop = None
        dom.got_shutdown = dom.fake_reboot = False
        if dom.new_def is not None:
            dom.defn, dom.new_def = dom.new_def, None
        dom.defn.id = -1
        if not dom.persistent:
            self._unindex(dom)

    def _save_status_quietly(self, dom: QemuDomain) -> None:
        """The run state after a change the guest made (QMP event thread)."""
        if dom.active:
            try:
                dom.save_state(self.paths)
            except OSError:
                pass

    def _signal(self, dom: QemuDomain, signum: int) -> bool:
        watch = self._watches.get(dom.uuid)
        return bool(watch and watch.signal(signum))

    # ---- stop ----------------------------------------------------------------------------

    def domainDestroy(self, handle: virDomain) -> int:  # noqa: N802
        return self.domainDestroyFlags(handle, 0)

    def domainDestroyFlags(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainDestroyFlags", flags, c.VIR_DOMAIN_DESTROY_GRACEFUL,
                    c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        with dom.lock:
            dom.check_active()
            dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_DESTROYED,
                                 c.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
        # Signal first, as libvirt does: a job stuck on an unresponsive monitor then fails
        # and lets this one in.
        self._signal(dom, signal.SIGTERM)
        dom.job.begin("virDomainDestroy")
        try:
            if not dom.stopped.wait(TERM_WAIT):
                if flags & c.VIR_DOMAIN_DESTROY_GRACEFUL:
                    with dom.lock:
                        dom.expected_stop = None
                    _err(c.VIR_ERR_OPERATION_FAILED,
                         "failed to kill qemu process with SIGTERM")
                self._signal(dom, signal.SIGKILL)
                if not dom.stopped.wait(KILL_WAIT):
                    _err(c.VIR_ERR_SYSTEM_ERROR, "Failed to terminate process "
                         f"{dom.pid} with SIGKILL: Device or resource busy")
            handle._id = -1
        finally:
            dom.job.end()
        return 0

    def _running_monitor(self, dom: QemuDomain) -> Any:
        with dom.lock:
            dom.check_active()
            monitor = dom.monitor
        if monitor is None:
            _err(c.VIR_ERR_OPERATION_INVALID, "domain is not running",
                 domain=c.VIR_FROM_DOMAIN)
        return monitor

    def domainShutdown(self, handle: virDomain) -> int:  # noqa: N802
        return self.domainShutdownFlags(handle, 0)

    def domainShutdownFlags(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainShutdownFlags", flags,
                    c.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | c.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
                    c.VIR_FROM_QEMU)
        self._shutdown_or_reboot(self._dom(handle), "virDomainShutdown", reboot=False,
                                 agent_flag=bool(flags & c.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT),
                                 acpi_flag=bool(flags & c.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN))
        return 0

    def domainReboot(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainReboot", flags,
                    c.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN | c.VIR_DOMAIN_REBOOT_GUEST_AGENT,
                    c.VIR_FROM_QEMU)
        self._shutdown_or_reboot(self._dom(handle), "virDomainReboot", reboot=True,
                                 agent_flag=bool(flags & c.VIR_DOMAIN_REBOOT_GUEST_AGENT),
                                 acpi_flag=bool(flags & c.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN))
        return 0

    def _shutdown_or_reboot(self, dom: QemuDomain, api: str, reboot: bool, agent_flag: bool,
                            acpi_flag: bool) -> None:
        """libvirt's choice of method: the guest agent when asked for, or by default when one
        is connected; the ACPI power button otherwise, or when a non-forced agent attempt
        fails. A reboot by ACPI is a power-off that the driver turns into a reset (fake
        reboot)."""
        from pyvirt.drivers.qemu.agent import agent_socket, guest_shutdown

        dom.job.begin(api)
        try:
            monitor = self._running_monitor(dom)
            if not reboot and dom.state != RUNNING:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is not running",
                     domain=c.VIR_FROM_DOMAIN)
            forced = agent_flag and not acpi_flag
            use_agent = agent_flag or (not acpi_flag and dom.agent_connected)
            if use_agent:
                path = agent_socket(dom.defn)
                try:
                    if path is None:
                        _err(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                             "QEMU guest agent is not configured")
                    if not dom.agent_connected:
                        _err(c.VIR_ERR_AGENT_UNRESPONSIVE,
                             "QEMU guest agent is not connected")
                    with dom.lock:
                        dom.fake_reboot = False
                    guest_shutdown(path, "reboot" if reboot else "powerdown")
                    return
                except libvirtError:
                    if forced:
                        raise
            with dom.lock:
                dom.fake_reboot = reboot
                self._save_status_quietly(dom)
            monitor.execute("system_powerdown")
        finally:
            dom.job.end()

    def domainReset(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainReset", flags, 0, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainReset")
        try:
            self._running_monitor(dom).execute("system_reset")
            with dom.lock:
                if dom.state == c.VIR_DOMAIN_CRASHED:
                    dom.state, dom.reason = PAUSED, c.VIR_DOMAIN_PAUSED_CRASHED
        finally:
            dom.job.end()
        return 0

    def domainSuspend(self, handle: virDomain) -> int:  # noqa: N802
        dom = self._dom(handle)
        dom.job.begin("virDomainSuspend")
        try:
            monitor = self._running_monitor(dom)
            if dom.state == c.VIR_DOMAIN_PMSUSPENDED:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is pmsuspended")
            if dom.state != PAUSED:
                self._transition(dom, monitor, "stop", PAUSED, c.VIR_DOMAIN_PAUSED_USER,
                                 c.VIR_DOMAIN_EVENT_SUSPENDED,
                                 c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
        finally:
            dom.job.end()
        return 0

    def domainResume(self, handle: virDomain) -> int:  # noqa: N802
        dom = self._dom(handle)
        dom.job.begin("virDomainResume")
        try:
            monitor = self._running_monitor(dom)
            if dom.state == c.VIR_DOMAIN_PMSUSPENDED:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is pmsuspended")
            if dom.state == PAUSED or (dom.state == c.VIR_DOMAIN_CRASHED
                                       and dom.reason == c.VIR_DOMAIN_CRASHED_PANICKED):
                self._transition(dom, monitor, "cont", RUNNING, c.VIR_DOMAIN_RUNNING_UNPAUSED,
                                 c.VIR_DOMAIN_EVENT_RESUMED,
                                 c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
        finally:
            dom.job.end()
        return 0

    def _transition(self, dom: QemuDomain, monitor: Any, command: str, state: int,
                    reason: int, event: int, detail: int) -> None:
        """Run ``command`` (stop/cont) for a state change the caller asked for. The state is
        set first, so that QEMU's STOP/RESUME event, which arrives before the command's
        answer, finds it done and stays silent; a failed command puts it back."""
        with dom.lock:
            before = dom.state, dom.reason
            dom.state, dom.reason = state, reason
        try:
            monitor.execute(command)
        except BaseException:
            with dom.lock:
                dom.state, dom.reason = before
            raise
        with dom.lock:
            dom.save_state(self.paths)
        self._lifecycle(dom, event, detail)

    # ---- memory --------------------------------------------------------------------------

    def domainSetMemory(self, handle: virDomain, memory: int) -> int:  # noqa: N802
        return self.domainSetMemoryFlags(handle, memory, c.VIR_DOMAIN_AFFECT_LIVE)

    def domainSetMemoryFlags(self, handle: virDomain, memory: int, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainSetMemoryFlags", flags,
                    c.VIR_DOMAIN_AFFECT_LIVE | c.VIR_DOMAIN_AFFECT_CONFIG
                    | c.VIR_DOMAIN_MEM_MAXIMUM, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainSetMemory")
        try:
            live, config = dom.defs_for(flags & ~c.VIR_DOMAIN_MEM_MAXIMUM)
            if flags & c.VIR_DOMAIN_MEM_MAXIMUM:
                if live is not None:
                    _err(c.VIR_ERR_OPERATION_INVALID,
                         "cannot resize the maximum memory on an active domain")
                assert config is not None
                config.memory_kib = memory
                config.current_memory_kib = min(config.current_memory_kib or memory, memory)
            else:
                for defn in (live, config):
                    if defn is not None and memory > defn.memory_kib:
                        _err(c.VIR_ERR_INVALID_ARG,
                             "cannot set memory higher than max memory")
                if live is not None:
                    self._running_monitor(dom).execute("balloon", {"value": memory * 1024})
                    live.current_memory_kib = memory
                    with dom.lock:
                        dom.save_status(self.paths)
                if config is not None:
                    config.current_memory_kib = memory
            if config is not None:
                dom.save_config(self.paths)
        finally:
            dom.job.end()
        return 0

    # ---- save / restore (managed save included) ------------------------------------------

    _SAVE_FLAGS = (c.VIR_DOMAIN_SAVE_BYPASS_CACHE | c.VIR_DOMAIN_SAVE_RUNNING
                   | c.VIR_DOMAIN_SAVE_PAUSED)

    @staticmethod
    def _running_after(flags: int) -> bool | None:
        if flags & c.VIR_DOMAIN_SAVE_RUNNING and flags & c.VIR_DOMAIN_SAVE_PAUSED:
            raise_error(c.VIR_ERR_INVALID_ARG, "Flags 'VIR_DOMAIN_SAVE_RUNNING' and "
                        "'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive",
                        domain=c.VIR_FROM_QEMU)
        if flags & c.VIR_DOMAIN_SAVE_RUNNING:
            return True
        if flags & c.VIR_DOMAIN_SAVE_PAUSED:
            return False
        return None

    def domainSave(self, handle: virDomain, to: str) -> int:  # noqa: N802
        return self.domainSaveFlags(handle, to, None, 0)

    def domainSaveFlags(self, handle: virDomain, to: str, dxml: str | None,  # noqa: N802
                        flags: int) -> int:
        from pyvirt.drivers.qemu.saveimage import save_to

        check_flags("qemuDomainSaveFlags", flags, self._SAVE_FLAGS, c.VIR_FROM_QEMU)
        running_after = self._running_after(flags)
        dom = self._dom(handle)
        xml = None
        if dxml is not None:
            xml = self.parse_definition(dxml, inactive=True).to_xml(inactive=True, secure=True)
        dom.job.begin("virDomainSave")
        try:
            dom.check_active()
            save_to(self, dom, os.path.abspath(to), xml, running_after, managed=False)
            handle._id = -1
        finally:
            dom.job.end()
        return 0

    def domainRestore(self, conn: virConnect, frm: str) -> int:  # noqa: N802
        return self.domainRestoreFlags(conn, frm, None, 0)

    def domainRestoreFlags(self, conn: virConnect, frm: str, dxml: str | None,  # noqa: N802
                           flags: int) -> int:
        from pyvirt.drivers.qemu.saveimage import read_image_xml, restore_into

        check_flags("qemuDomainRestoreFlags", flags, self._SAVE_FLAGS, c.VIR_FROM_QEMU)
        running_after = self._running_after(flags)
        path = os.path.abspath(frm)
        stored, _hdr = read_image_xml(path)
        defn = self.parse_definition(dxml or stored, inactive=True)
        with self.lock:
            dom = self._assign(defn, live=True)
            dom.job.begin("virDomainRestore")
        try:
            try:
                restore_into(self, dom, path, paused=running_after is False,
                             running=running_after is True, remove_after=False)
            except BaseException:
                with self.lock:
                    if not dom.persistent and not dom.active:
                        self._unindex(dom)
                    elif dom.new_def is not None and not dom.active:
                        dom.defn, dom.new_def = dom.new_def, None
                raise
        finally:
            dom.job.end()
        return 0

    def domainSaveImageGetXMLDesc(self, conn: virConnect, path: str, flags: int) -> str:  # noqa: N802
        from pyvirt.drivers.qemu.saveimage import read_image_xml

        check_flags("qemuDomainSaveImageGetXMLDesc", flags, c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE,
                    c.VIR_FROM_QEMU)
        stored, _hdr = read_image_xml(os.path.abspath(path))
        defn = self.parse_definition(stored, inactive=True)
        return defn.to_xml(inactive=True,
                           secure=bool(flags & c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE))

    def domainSaveImageDefineXML(self, conn: virConnect, path: str, dxml: str,  # noqa: N802
                                 flags: int) -> int:
        from pyvirt.drivers.qemu.saveimage import read_image_xml, write_image_xml

        check_flags("qemuDomainSaveImageDefineXML", flags, self._SAVE_FLAGS, c.VIR_FROM_QEMU)
        path = os.path.abspath(path)
        stored, _hdr = read_image_xml(path)
        old = self.parse_definition(stored, inactive=True)
        new = self.parse_definition(dxml, inactive=True)
        if (old.name, old.uuid) != (new.name, new.uuid):
            raise_error(c.VIR_ERR_OPERATION_INVALID,
                        f"target domain name '{new.name}' does not match source '{old.name}'",
                        domain=c.VIR_FROM_DOMAIN)
        write_image_xml(path, new.to_xml(inactive=True, secure=True))
        return 0

    def domainManagedSave(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        from pyvirt.drivers.qemu.saveimage import save_to

        check_flags("qemuDomainManagedSave", flags, self._SAVE_FLAGS, c.VIR_FROM_QEMU)
        running_after = self._running_after(flags)
        dom = self._dom(handle)
        dom.job.begin("virDomainManagedSave")
        try:
            dom.check_active()
            if not dom.persistent:
                _err(c.VIR_ERR_OPERATION_INVALID,
                     "cannot do managed save for transient domain")
            save_to(self, dom, dom.managed_save_path(self.paths), None, running_after,
                    managed=True)
            handle._id = -1
        finally:
            dom.job.end()
        return 0

    def domainHasManagedSaveImage(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainHasManagedSaveImage", flags, 0, c.VIR_FROM_QEMU)
        return int(self._dom(handle).has_managed_save)

    def domainManagedSaveRemove(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainManagedSaveRemove", flags, 0, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        with dom.lock:
            remove_quietly(dom.managed_save_path(self.paths))
            dom.has_managed_save = False
        return 0

    def _restore_managed(self, dom: QemuDomain, paused: bool) -> None:
        from pyvirt.drivers.qemu.saveimage import restore_into

        restore_into(self, dom, dom.managed_save_path(self.paths), paused=paused,
                     remove_after=True)

    def _incoming_migration(self, dom: QemuDomain, fd: int) -> None:
        from pyvirt.drivers.qemu.saveimage import run_incoming

        run_incoming(dom, fd)

    # ---- restart: reconnect and autostart ------------------------------------------------

    def _reconnect_all(self) -> None:
        """Status files of guests running when the last driver instance went away: a guest
        whose process still lives is taken over (monitor, pidfd, state); one that died is
        shut off (crashed), as libvirt's qemuProcessReconnect decides."""
        try:
            names = sorted(os.listdir(self.paths.state_dir))
        except FileNotFoundError:
            return
        for fname in names:
            path = os.path.join(self.paths.state_dir, fname)
            if not fname.endswith(".xml") or not os.path.isfile(path):
                continue
            try:
                rec = StatusRecord.load(path)
                live = self.parse_definition(rec.domain_xml, inactive=False)
            except Exception:
                remove_quietly(path)
                continue
            dom = self._by_uuid.get(live.uuid)
            if dom is None:
                dom = QemuDomain(live)
                self._index(dom)
            else:
                dom.new_def = dom.defn
            dom.defn = live
            self._next_id = max(self._next_id, live.id + 1)
            if not self._reconnect(dom, rec):
                with self.lock, dom.lock:
                    self._stop_cleanup(dom, c.VIR_DOMAIN_SHUTOFF_CRASHED)

    def _reconnect(self, dom: QemuDomain, rec: StatusRecord) -> bool:
        from pyvirt.drivers.qemu.monitor import Monitor
        from pyvirt.drivers.qemu.process import ProcessWatch

        if rec.pid <= 0 or process_start_time(rec.pid) != rec.start_time:
            return False
        dom.pid, dom.start_time = rec.pid, rec.start_time
        dom.monitor_path = rec.monitor_path
        dom.vnc_ports = list(rec.vnc_ports)
        self._vnc_ports.update(rec.vnc_ports)
        dom.state, dom.reason = rec.state, rec.reason
        dom.got_shutdown, dom.fake_reboot = rec.got_shutdown, rec.fake_reboot
        dom.stopped.clear()
        pid = rec.pid
        self._watches[dom.uuid] = ProcessWatch(self.loop, pid,
                                               lambda: self._process_exited(dom, pid))
        monitor = Monitor(self.loop, rec.monitor_path, dom.name,
                          lambda ev, data, ts: self._on_qmp_event(dom, ev, data), lambda: None)
        try:
            monitor.connect(timeout=10, alive=lambda: process_start_time(pid) is not None)
            status = monitor.execute("query-status")
        except Exception:
            self._watches.pop(dom.uuid).stop_watching()
            return False
        dom.monitor = monitor
        running = bool(status.get("running"))
        dom.agent_connected = self._agent_port_open(dom, monitor)
        with dom.lock:
            if running and dom.state != RUNNING:
                dom.state, dom.reason = RUNNING, c.VIR_DOMAIN_RUNNING_UNPAUSED
            elif not running and dom.state == RUNNING:
                dom.state, dom.reason = PAUSED, c.VIR_DOMAIN_PAUSED_UNKNOWN
            dom.save_status(self.paths)
        return True

    @staticmethod
    def _agent_port_open(dom: QemuDomain, monitor: Any) -> bool:
        """Whether the guest holds its agent port open now (after a reconnect, when the
        VSERPORT_CHANGE event that said so went to the previous driver instance)."""
        from pyvirt.drivers.qemu.agent import AGENT_CHANNEL

        alias = next((ch.alias for ch in dom.defn.devices.channels
                      if ch.target_name == AGENT_CHANNEL), None)
        if alias is None:
            return False
        try:
            chardevs = monitor.execute("query-chardev")
        except libvirtError:
            return False
        return any(ch.get("label") == f"char{alias}" and ch.get("frontend-open")
                   for ch in chardevs)

    def _autostart(self) -> None:
        """Start autostart domains once per host boot (libvirt keeps a marker in its run
        directory, so that a restarted daemon does not start them again)."""
        marker = os.path.join(self.paths.state_dir, "autostarted")
        if os.path.exists(marker):
            return
        with open(marker, "w"):
            pass
        import sys

        for dom in self._all():
            if dom.autostart and not dom.active:
                dom.job.begin("autostart")
                try:
                    self._start(dom, paused=False)
                except Exception as exc:
                    print(f"pyvirt: qemu: autostart of '{dom.name}' failed: {exc}",
                          file=sys.stderr)
                finally:
                    dom.job.end()

    def shutdown(self) -> None:
        """The driver goes away (last connection closed): guests keep running; their
        monitors and watches are dropped, state stays on disk."""
        for dom in self._all():
            with dom.lock:
                if dom.monitor is not None:
                    dom.monitor.close()
                    dom.monitor = None
                dom.close_state()
            watch = self._watches.pop(dom.uuid, None)
            if watch is not None:
                watch.stop_watching()
        self.secondaries.close()
        self.loop.stop()
        release_driver_lock(self.paths.state_dir, self._lock_fd)


def _check_storage(live: DomainDef) -> None:
    """Every local disk image must exist before QEMU starts (libvirt's
    virStorageSourceReportBrokenChain wording)."""
    for disk in live.devices.disks:
        path = disk.path
        if not path or disk.type not in ("file", "block"):
            continue
        try:
            os.stat(path)
        except OSError as exc:
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"Cannot access storage file '{path}' (as uid:{os.geteuid()}, "
                        f"gid:{os.getegid()}): {exc.strerror}", domain=c.VIR_FROM_QEMU)


def _cpu_time_ns(pid: int) -> int:
    """utime + stime of ``pid`` in nanoseconds (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return 0
    fields = data[data.rindex(b")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


# ---- one driver per directory layout, shared by its connections ---------------------------

_drivers = SharedDrivers()


def open_driver(paths: QemuPaths) -> QemuDriver:
    driver: QemuDriver = _drivers.open(paths.config_dir, lambda: QemuDriver(paths))
    return driver


def _release(drv: QemuDriver) -> None:
    _drivers.close(drv.paths.config_dir, drv)

