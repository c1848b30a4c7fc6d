"""The test driver's domains: libvirt's test_driver.c state machine, in memory.

A ``DomainObj`` is libvirt's virDomainObj: the running definition (``defn``), the persistent
one saved aside while it runs (``new_def``), state and reason, and the runtime bits the test
driver keeps (guest time, frozen filesystems, pinning, managed-save flag, snapshots).
The lookup+info path is dictionary work only: no XML, no copies.
"""

from __future__ import annotations

import time

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element, parse_document, parse_uuid, parse_xml
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.domobj import (
    LIST_FILTERS_ALL,
    DomainEventEntryPoints,
    list_filter_match,
    modification_impact,
)
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NoReturn

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain
    from pyvirt.api.stream import virStream
    from pyvirt.conf.domain.core import DomainDef

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
DEFAULT_ARCH = "i686"
SAVE_MAGIC = b"TestGuestMagic\0"
GUEST_TIME = 627319920
HOST_MAP_CPUS = 8
# virConnectGetAllDomainStats: the list filters it takes, and all its flags.
STATS_FILTERS = (c.VIR_CONNECT_LIST_DOMAINS_ACTIVE | c.VIR_CONNECT_LIST_DOMAINS_INACTIVE
                 | c.VIR_CONNECT_LIST_DOMAINS_PERSISTENT | c.VIR_CONNECT_LIST_DOMAINS_TRANSIENT
                 | c.VIR_CONNECT_LIST_DOMAINS_RUNNING | c.VIR_CONNECT_LIST_DOMAINS_PAUSED
                 | c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF | c.VIR_CONNECT_LIST_DOMAINS_OTHER)
STATS_FLAGS = (STATS_FILTERS | c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
               | c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING
               | c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS)
STATS_SUPPORTED = c.VIR_DOMAIN_STATS_STATE | c.VIR_DOMAIN_STATS_IOTHREAD
UINT_MAX_KIB = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED

SHUTOFF = c.VIR_DOMAIN_SHUTOFF
RUNNING = c.VIR_DOMAIN_RUNNING
PAUSED = c.VIR_DOMAIN_PAUSED
LIVE = c.VIR_DOMAIN_AFFECT_LIVE
CONFIG = c.VIR_DOMAIN_AFFECT_CONFIG

PERF_EVENTS = (
    "cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses",
    "branch_instructions", "branch_misses", "bus_cycles", "stalled_cycles_frontend",
    "stalled_cycles_backend", "ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
    "context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj",
    "alignment_faults", "emulation_faults",
)  # fmt: skip
BLOCK_IOTUNE_FIELDS = (
    "total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec",
    "write_iops_sec", "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max",
    "total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max", "size_iops_sec",
    "group_name", "total_bytes_sec_max_length", "read_bytes_sec_max_length",
    "write_bytes_sec_max_length", "total_iops_sec_max_length", "read_iops_sec_max_length",
    "write_iops_sec_max_length",
)  # fmt: skip
BLKIO_FIELDS = ("weight", "device_weight", "device_read_iops_sec", "device_write_iops_sec",
                "device_read_bytes_sec", "device_write_bytes_sec")
INTERFACE_FIELDS = ("inbound.average", "inbound.peak", "inbound.burst", "inbound.floor",
                    "outbound.average", "outbound.peak", "outbound.burst")


def err(code: int, detail: str | None = None) -> NoReturn:
    raise_error(code, detail, domain=c.VIR_FROM_TEST)


def invalid_op(detail: str) -> NoReturn:
    err(c.VIR_ERR_OPERATION_INVALID, detail)


def conf_invalid(detail: str) -> NoReturn:
    """VIR_ERR_OPERATION_INVALID from libvirt's shared domain object code (VIR_FROM_DOMAIN)."""
    raise_error(c.VIR_ERR_OPERATION_INVALID, detail, domain=c.VIR_FROM_DOMAIN)


def now_us() -> int:
    """g_get_real_time(): wall clock in microseconds."""
    return time.time_ns() // 1000


class NsData:
    """The test driver's own XML namespace inside <domain> (only read from node files)."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, runstate: int = RUNNING, transient: bool = False,
                 has_managed_save: bool = False, snapshots: list[Element] | None = None
                 ) -> None:
        self.runstate = runstate
        self.transient = transient
        self.has_managed_save = has_managed_save
        self.snapshots: list[Element] = [] if snapshots is None else snapshots

    def _fields(self) -> tuple[Any, ...]:
        return (self.runstate, self.transient, self.has_managed_save, self.snapshots)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NsData) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ("NsData(runstate={!r}, transient={!r}, has_managed_save={!r}, "
                "snapshots={!r})".format(*self._fields()))


class _Pending:
    """A domain of test:///default not parsed yet: its <domain> element and identity."""

    __slots__ = ("root", "name", "uuid", "id")

    def __init__(self, root: Element, name: str, uuid: str, dom_id: int) -> None:
        self.root = root
        self.name = name
        self.uuid = uuid
        self.id = dom_id


class DomainObj:
    """libvirt's virDomainObj for the test driver.

    ``defn`` may be parsed late: a domain of test:///default keeps its <domain> element
    (``_pending``) until something reads ``defn`` or ``new_def``, so that opening the
    connection and listing domains never loads the domain model. Lookups and lists use
    ``ident()`` and ``active``, which need no parsing."""

    __slots__ = (
        "_defn", "_new_def", "_pending", "state", "reason", "persistent", "autostart",
        "managed_save", "snapshots", "current_snapshot", "checkpoints", "current_checkpoint",
        "seconds", "nseconds", "frozen", "iothreads", "vcpu_pins", "emulator_pin", "params",
        "perf", "updated", "taint", "deprecations",
    )  # fmt: skip

    def __init__(self, defn: DomainDef | None) -> None:
        self._defn = defn
        self._new_def: DomainDef | None = None
        self._pending: _Pending | None = None
        self.state = SHUTOFF
        self.reason = c.VIR_DOMAIN_SHUTOFF_UNKNOWN
        self.persistent = False
        self.autostart = False
        self.managed_save = False
        self.snapshots: dict[str, Any] = {}
        self.current_snapshot: str | None = None
        self.checkpoints: dict[str, Any] = {}
        self.current_checkpoint: str | None = None
        self.seconds = GUEST_TIME
        self.nseconds = 0
        self.frozen: set[str] = set()
        self.iothreads: dict[int, dict[str, int]] = {}
        self.vcpu_pins: dict[int, tuple[bool, ...]] = {}
        self.emulator_pin: tuple[bool, ...] | None = None
        self.params: dict[str, dict[str, Any]] = {}
        self.perf: dict[str, bool] = {}
        self.taint = 0  # bits 1 << VIR_DOMAIN_TAINT_*
        self.deprecations: list[str] = []

    @classmethod
    def deferred(cls, root: Element, name: str, uuid: str, dom_id: int) -> DomainObj:
        obj = cls(None)
        obj._pending = _Pending(root, name, uuid, dom_id)
        return obj

    def _parse_pending(self) -> DomainDef:
        """Parse the pending <domain> as the eager loader would have: the live definition
        with its id and, for a running persistent domain, the saved persistent copy."""
        pending = self._pending
        assert pending is not None
        defn, _ns = parse_domain(_lxml_element(pending.root))
        defn.id = pending.id
        new_def = None
        if pending.id != -1 and self.persistent:
            new_def = defn.copy()
            new_def.id = -1
        self._pending = None
        self._defn, self._new_def = defn, new_def
        return defn

    @property
    def defn(self) -> DomainDef:
        d = self._defn
        if d is None:
            d = self._parse_pending()
        return d

    @defn.setter
    def defn(self, value: DomainDef) -> None:
        if self._pending is not None:
            self._parse_pending()
        self._defn = value

    @property
    def new_def(self) -> DomainDef | None:
        if self._pending is not None:
            self._parse_pending()
        return self._new_def

    @new_def.setter
    def new_def(self, value: DomainDef | None) -> None:
        if self._pending is not None:
            self._parse_pending()
        self._new_def = value

    def ident(self) -> tuple[str, str, int]:
        """(name, uuid, id), without parsing a pending definition."""
        d = self._defn
        if d is None:
            p = self._pending
            assert p is not None
            return p.name, p.uuid, p.id
        return d.name, d.uuid, d.id

    @property
    def active(self) -> bool:
        d = self._defn
        if d is None:
            assert self._pending is not None
            return self._pending.id != -1
        return d.id != -1

    def persistent_def(self) -> DomainDef:
        """virDomainObjGetPersistentDef."""
        return self.new_def if self.new_def is not None else self.defn

    def check_active(self) -> None:
        if not self.active:
            conf_invalid("domain is not running")

    def defs_for(self, flags: int) -> tuple[DomainDef | None, DomainDef | None]:
        """virDomainObjGetDefs: the (live, persistent) definitions ``flags`` select."""
        flags = self.modification_impact(flags)
        live = self.defn if flags & LIVE else None
        config = self.persistent_def() if flags & CONFIG else None
        return live, config

    def one_def(self, flags: int) -> tuple[DomainDef, bool]:
        """virDomainObjGetOneDefState: one definition and whether it is the live one."""
        if flags & LIVE and flags & CONFIG:
            detail = ("Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are "
                      "mutually exclusive")
            raise_error(c.VIR_ERR_INVALID_ARG, detail, domain=c.VIR_FROM_DOMAIN, message=detail)
        flags = self.modification_impact(flags)
        if flags & LIVE:
            return self.defn, True
        return self.persistent_def(), False

    def modification_impact(self, flags: int) -> int:
        """virDomainObjUpdateModificationImpact."""
        return modification_impact(flags, active=self.active, persistent=self.persistent)


def parse_test_ns(root: Element) -> NsData:
    """Take the test driver's namespace elements out of a <domain> (libvirt's
    testDomainDefNamespaceParse); they are never printed back."""
    ns = NsData()
    runstate: str | None = None
    for child in list(root):
        if not isinstance(child.tag, str) or not child.tag.startswith("{" + TEST_NS + "}"):
            continue
        local = child.tag.split("}", 1)[1]
        if local == "domainsnapshot":
            ns.snapshots.append(child)
        elif local == "transient":
            ns.transient = True
        elif local == "hasmanagedsave":
            ns.has_managed_save = True
        elif local == "runstate":
            runstate = (child.text or "").strip()
        root.remove(child)
    if runstate is not None:
        if not runstate.isdigit():
            err(c.VIR_ERR_XML_ERROR, "invalid runstate")
        value = int(runstate)
        if value > c.VIR_DOMAIN_PMSUSPENDED:
            err(c.VIR_ERR_XML_ERROR, f"runstate '{value}' out of range'")
        ns.runstate = value
    if ns.transient and ns.runstate == SHUTOFF:
        err(c.VIR_ERR_XML_ERROR, "transient domain cannot have runstate 'shutoff'")
    if ns.has_managed_save and ns.runstate != SHUTOFF:
        err(c.VIR_ERR_XML_ERROR,
            "domain with managedsave data can only have runstate 'shutoff'")
    return ns


# virDomainTaintFlags -> libvirt's message for it (virDomainTaintMessage).
TAINT_MESSAGES = (
    "custom configuration parameters specified",
    "custom monitor control commands issued",
    "running with undesirable elevated privileges",
    "network configuration using opaque shell scripts",
    "potentially unsafe disk format probing",
    "managing externally launched configuration",
    "potentially unsafe use of host CPU passthrough",
    "configuration potentially modified by hook script",
    "use of host cdrom passthrough",
    "custom device tree blob used",
    "custom guest agent control commands issued",
    "hypervisor feature autodetection override",
    "use of deprecated configuration settings",
    "custom device configuration",
)
TAINT_HIGH_PRIVILEGES = 2
TAINT_SHELL_SCRIPTS = 3
TAINT_CDROM_PASSTHROUGH = 8
TAINT_CUSTOM_DTB = 9
TAINT_DEPRECATED_CONFIG = 12


def _lxml_element(root: Element) -> Element:
    """The lxml element for ``root``, which with ``defer`` (test:///default) is a scanned
    element (conf/xmlscan): its source text parsed, as the models need lxml."""
    from pyvirt.conf.xmlscan import ScanElement

    if not isinstance(root, ScanElement):
        return root
    return parse_xml(root.source())


def load_taint(obj: DomainObj, root: Element) -> None:
    """testDomainObjCheckTaint, which libvirt runs only on the domains of a node file,
    read from the <domain> element those domains were parsed from."""
    taint = 0
    devices = root.find("devices")
    if devices is not None:
        for disk in devices.iterfind("disk"):
            if disk.get("rawio") == "yes":
                taint |= 1 << TAINT_HIGH_PRIVILEGES
            source = disk.find("source")
            if (disk.get("device") == "cdrom" and disk.get("type") == "block"
                    and source is not None and source.get("dev")):
                taint |= 1 << TAINT_CDROM_PASSTHROUGH
        for hostdev in devices.iterfind("hostdev"):
            if hostdev.get("type") == "scsi" and hostdev.get("rawio") == "yes":
                taint |= 1 << TAINT_HIGH_PRIVILEGES
        for net in devices.iterfind("interface"):
            script = net.find("script")
            if script is not None and script.get("path") is not None:
                taint |= 1 << TAINT_SHELL_SCRIPTS
    cpu = root.find("cpu")
    if (cpu is not None and cpu.get("mode", "custom") == "custom"
            and (cpu.findtext("model") or "").strip() == "Deprecated-Test"):
        taint |= 1 << TAINT_DEPRECATED_CONFIG
        obj.deprecations.append("CPU model Deprecated-Test")
    if root.findtext("os/dtb"):
        taint |= 1 << TAINT_CUSTOM_DTB
    obj.taint |= taint


def parse_domain(root: Element, validate: bool = False) -> tuple[DomainDef, NsData]:
    """A <domain> element as the test driver parses it (inactive, i686 by default)."""
    from pyvirt.conf.domain.core import DomainDef

    ns = parse_test_ns(root)
    type_el = root.find("os/type")
    if validate:
        from pyvirt.conf.domain.schema import validate as validate_schema

        validate_schema(root)
    defn = DomainDef.from_element(root, inactive=True)
    if type_el is not None and type_el.get("arch") is None:
        defn.os.arch = DEFAULT_ARCH
    if defn.os.machine is None and type_el is not None and type_el.get("machine") is None:
        defn.os.machine = None
    generate_ifnames(defn)
    return defn, ns


def parse_domain_xml(xml: str, validate: bool = False) -> tuple[DomainDef, NsData]:
    # Syntax errors are the domain's own (VIR_FROM_DOMAIN), as libvirt reports them.
    root = parse_document(xml, "domain", "(domain_definition)", c.VIR_FROM_DOMAIN)
    return parse_domain(root, validate)


def generate_ifnames(defn: DomainDef) -> None:
    """testDomainGenerateIfnames: interfaces without a target get "testnetN"."""
    nets = defn.devices.interfaces
    used = {n.target_dev for n in nets if n.target_dev}
    for net in nets:
        if net.target_dev:
            continue
        n = 0
        while f"testnet{n}" in used:
            n += 1
            if n >= 1024:
                err(c.VIR_ERR_INTERNAL_ERROR, "Exceeded max iface limit 1024")
        net.target_dev = f"testnet{n}"
        used.add(net.target_dev)


def _mac_bytes(text: str) -> tuple[int, ...] | None:
    """virMacAddrParse: six hex octets of one or two digits separated by colons."""
    parts = text.split(":")
    if len(parts) != 6 or any(not 0 < len(p) <= 2 for p in parts):
        return None
    try:
        return tuple(int(p, 16) for p in parts)
    except ValueError:
        return None


def _stats_types(stats: int, flags: int) -> int:
    """The stats groups testConnectGetAllDomainStats collects: all it knows for 0; with
    ENFORCE_STATS, asking for any other is an error."""
    if not stats:
        return STATS_SUPPORTED
    if flags & c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS and stats & ~STATS_SUPPORTED:
        err(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
            f"Stats types bits 0x{stats & ~STATS_SUPPORTED:x} are not supported by this daemon")
    return stats


def cpumap_tuple(cpumap: Any, ncpus: int) -> tuple[bool, ...]:
    """libvirt-python's cpumap (tuple of booleans, or bytes) as a tuple of ``ncpus`` bools."""
    if isinstance(cpumap, (bytes, bytearray)):
        bits = [bool(cpumap[i // 8] & (1 << (i % 8))) if i // 8 < len(cpumap) else False
                for i in range(ncpus)]
    else:
        bits = [bool(v) for v in cpumap][:ncpus]
        bits += [False] * (ncpus - len(bits))
    return tuple(bits)


def screenshot_png() -> bytes:
    """A small grey PNG: the test driver's screenshot."""
    import struct
    import zlib

    width = height = 16
    raw = b"".join(b"\0" + b"\x80\x80\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class BytesStreamBackend:
    """A read-only stream backend over a bytes object."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def send(self, data: bytes) -> int:
        raise_error(c.VIR_ERR_OPERATION_INVALID, "stream is not open for writing",
                    domain=c.VIR_FROM_STREAMS)

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        chunk = self._data[self._pos:self._pos + nbytes]
        self._pos += len(chunk)
        return chunk

    def recv_hole(self) -> int:
        raise_error(c.VIR_ERR_OPERATION_INVALID, "Invalid seek", domain=c.VIR_FROM_STREAMS)

    def send_hole(self, length: int) -> None:
        raise_error(c.VIR_ERR_OPERATION_INVALID, "stream is not open for writing",
                    domain=c.VIR_FROM_STREAMS)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


class TestDomains(DomainEventEntryPoints):
    """Domain entry points of the test driver (mixed into TestDriver)."""

    lock: Any
    events: Any
    node_info: Any

    # ---- state -----------------------------------------------------------------------------

    def _init_domains(self) -> None:
        self._doms: dict[str, DomainObj] = {}  # by UUID
        self._dom_names: dict[str, DomainObj] = {}
        self._next_id = 1

    def _load_domains(self, node: Element, base_dir: Path | None, defer: bool = False
                      ) -> None:
        """libvirt's testParseDomains. With ``defer`` (test:///default, whose document is
        known to be valid) a plain running domain keeps its element and is parsed on first
        use of its definition (see ``DomainObj``)."""
        from pyvirt.drivers.test.driver import resolve_included

        for el in node.findall("domain"):
            root = resolve_included(el, base_dir)
            if defer:
                if self._add_deferred(root):
                    continue
                root = _lxml_element(root)
            defn, ns = parse_domain(root)
            obj = self._add_domain(defn, live=False)
            self._load_snapshots(obj, ns.snapshots, base_dir)
            obj.persistent = not ns.transient
            obj.managed_save = ns.has_managed_save
            if ns.runstate != SHUTOFF:
                self._start_state(obj, c.VIR_DOMAIN_RUNNING_BOOTED)
            else:
                self._shutdown_state(obj, 0)
            obj.state, obj.reason = ns.runstate, 0
            load_taint(obj, root)
            self._init_iothreads(obj)

    def _add_deferred(self, root: Element) -> bool:
        """Add a domain of the node document unparsed, in the state the eager loader would
        give it (running, persistent, id from the counter); False when the element needs
        the full parser (test namespace elements, iothreads, odd or clashing identity)."""
        name = root.findtext("name")
        uuid = parse_uuid(root.findtext("uuid") or "")
        if (not name or name != name.strip() or "\n" in name or uuid is None
                or name in self._dom_names or uuid in self._doms
                or root.find("iothreads") is not None
                or any(not isinstance(ch.tag, str) or ch.tag.startswith("{") for ch in root)):
            return False
        obj = DomainObj.deferred(root, name, uuid, self._next_id)
        load_taint(obj, root)
        self._next_id += 1
        obj.persistent = True
        obj.state, obj.reason = RUNNING, 0
        self._doms[uuid] = obj
        self._dom_names[name] = obj
        return True

    def _load_snapshots(self, obj: DomainObj, nodes: list[Element],
                        base_dir: Path | None) -> None:
        loader = getattr(self, "_load_domain_snapshots", None)
        if loader is not None and nodes:
            loader(obj, nodes, base_dir)

    def _init_iothreads(self, obj: DomainObj) -> None:
        """testDomainGenerateIOThreadInfos: one entry per <iothreadids> id, in order (ids
        1..N when the definition gives only a count)."""
        defn = obj.defn
        node = next((n for _, n in defn.extra.children if n.tag == "iothreadids"), None)
        if node is not None:
            ids = [int(child.attrs["id"]) for child in node.findall("iothread")]
        else:
            ids = list(range(1, defn.iothreads + 1))
        obj.iothreads = {i: {"poll_max_ns": 32768, "poll_grow": 0, "poll_shrink": 0}
                         for i in ids}

    def _obj(self, dom: virDomain) -> DomainObj:
        """testDomObjFromDomain: the object behind a handle, by UUID."""
        obj = self._doms.get(dom._uuid)
        if obj is None:
            err(c.VIR_ERR_NO_DOMAIN, f"no domain with matching uuid '{dom._uuid}' ({dom._name})")
        return obj

    def _add_domain(self, defn: DomainDef, live: bool, check_live: bool = False,
                    ) -> DomainObj:
        """virDomainObjListAdd; returns the object (``_old_def`` holds a replaced def)."""
        self._old_def: DomainDef | None = None
        obj = self._doms.get(defn.uuid)
        if obj is not None:
            if obj.defn.name != defn.name:
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"domain '{obj.defn.name}' is already defined with uuid "
                            f"{obj.defn.uuid}", domain=c.VIR_FROM_DOMAIN)
            if check_live:
                if obj.active:
                    conf_invalid(f"domain '{obj.defn.name}' is already active")
                if not obj.persistent:
                    conf_invalid(f"domain '{obj.defn.name}' is already being started")
            # virDomainObjAssignDef
            if obj.active:
                self._old_def = obj.new_def
                obj.new_def = defn
            elif live:
                if obj.new_def is None:
                    obj.new_def = obj.defn
                obj.defn = defn
            else:
                self._old_def = obj.defn
                obj.defn = defn
            return obj
        other = self._dom_names.get(defn.name)
        if other is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"domain '{defn.name}' already exists with uuid {other.defn.uuid}",
                        domain=c.VIR_FROM_DOMAIN)
        obj = DomainObj(defn)
        defn.id = -1
        self._doms[defn.uuid] = obj
        self._dom_names[defn.name] = obj
        return obj

    def _remove_domain(self, obj: DomainObj) -> None:
        name, uuid, _ = obj.ident()
        self._doms.pop(uuid, None)
        if self._dom_names.get(name) is obj:
            del self._dom_names[name]

    def _start_state(self, obj: DomainObj, reason: int) -> None:
        """testDomainStartState."""
        obj.state, obj.reason = RUNNING, reason
        obj.defn.id = self._next_id
        self._next_id += 1
        if obj.persistent and obj.new_def is None:
            obj.new_def = obj.defn.copy()
            obj.new_def.id = -1
        obj.managed_save = False

    def _shutdown_state(self, obj: DomainObj, reason: int, dom: virDomain | None = None
                        ) -> None:
        """testDomainShutdownState."""
        if obj.new_def is not None:
            obj.defn = obj.new_def
            obj.new_def = None
        obj.defn.id = -1
        obj.state, obj.reason = SHUTOFF, reason
        if dom is not None:
            dom._id = -1

    def _handle(self, conn: virConnect, obj: DomainObj) -> virDomain:
        d = obj._defn
        if d is None:
            return conn._make_domain(*obj.ident())
        return conn._make_domain(d.name, d.uuid, d.id)

    # ---- events ----------------------------------------------------------------------------

    def _lifecycle(self, obj: DomainObj, event: int, detail: int) -> None:
        self._domain_event(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, obj, event, detail)

    def _domain_event(self, event_id: int, obj: DomainObj, *payload: Any) -> None:
        if not self.events.wanted():
            return
        self.events.queue(self.events.domain_event(event_id, *obj.ident(), *payload))

    # ---- lookups and lists -----------------------------------------------------------------

    def domainLookupByName(self, conn: virConnect, name: str) -> virDomain:  # noqa: N802
        obj = self._dom_names.get(name)
        if obj is None:
            err(c.VIR_ERR_NO_DOMAIN)
        d = obj._defn
        if d is None:
            return conn._make_domain(*obj.ident())
        return conn._make_domain(d.name, d.uuid, d.id)

    def domainLookupByUUID(self, conn: virConnect, uuid: str) -> virDomain:  # noqa: N802
        obj = self._doms.get(uuid)
        if obj is None:
            err(c.VIR_ERR_NO_DOMAIN)
        return self._handle(conn, obj)

    def domainLookupByID(self, conn: virConnect, dom_id: int) -> virDomain:  # noqa: N802
        with self.lock:
            for obj in self._doms.values():
                if obj.ident()[2] == dom_id and dom_id != -1:
                    return self._handle(conn, obj)
        err(c.VIR_ERR_NO_DOMAIN)

    def _sorted(self) -> list[DomainObj]:
        return list(self._doms.values())

    def connectListDomainsID(self, conn: virConnect) -> list[int]:  # noqa: N802
        with self.lock:
            return [o.ident()[2] for o in self._doms.values() if o.active]

    def connectNumOfDomains(self, conn: virConnect) -> int:  # noqa: N802
        with self.lock:
            return sum(1 for o in self._doms.values() if o.active)

    def connectListDefinedDomains(self, conn: virConnect) -> list[str]:  # noqa: N802
        with self.lock:
            return [o.ident()[0] for o in self._doms.values() if not o.active]

    def connectNumOfDefinedDomains(self, conn: virConnect) -> int:  # noqa: N802
        with self.lock:
            return sum(1 for o in self._doms.values() if not o.active)

    def connectListAllDomains(self, conn: virConnect, flags: int) -> list[virDomain]:  # noqa: N802
        check_flags("testConnectListAllDomains", flags, LIST_FILTERS_ALL,
                    c.VIR_FROM_TEST)
        with self.lock:
            if not flags:
                return [self._handle(conn, o) for o in self._doms.values()]
            return [self._handle(conn, o) for o in self._doms.values()
                    if self._list_match(o, flags)]

    def _list_match(self, o: DomainObj, flags: int) -> bool:
        return list_filter_match(
            flags, active=o.active, persistent=o.persistent, managed_save=o.managed_save,
            autostart=o.autostart, has_snapshot=bool(o.snapshots),
            has_checkpoint=bool(o.checkpoints), state=o.state)

    # ---- define, create, undefine ----------------------------------------------------------

    def domainDefineXML(self, conn: virConnect, xml: str) -> virDomain:  # noqa: N802
        return self.domainDefineXMLFlags(conn, xml, 0)

    def domainDefineXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virDomain:  # noqa: N802
        check_flags("testDomainDefineXMLFlags", flags, c.VIR_DOMAIN_DEFINE_VALIDATE,
                    c.VIR_FROM_TEST)
        defn, _ns = parse_domain_xml(xml, bool(flags & c.VIR_DOMAIN_DEFINE_VALIDATE))
        if "\n" in defn.name:
            err(c.VIR_ERR_XML_DETAIL, "name " + defn.name + " contains illegal character")
        with self.lock:
            obj = self._add_domain(defn, live=False)
            old = self._old_def
            obj.persistent = True
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_DEFINED,
                            c.VIR_DOMAIN_EVENT_DEFINED_UPDATED if old is not None
                            else c.VIR_DOMAIN_EVENT_DEFINED_ADDED)
            return self._handle(conn, obj)

    def domainCreateXML(self, conn: virConnect, xml: str, flags: int) -> virDomain:  # noqa: N802
        check_flags("testDomainCreateXML", flags, c.VIR_DOMAIN_START_VALIDATE, c.VIR_FROM_TEST)
        defn, _ns = parse_domain_xml(xml, bool(flags & c.VIR_DOMAIN_START_VALIDATE))
        with self.lock:
            obj = self._add_domain(defn, live=True, check_live=True)
            self._start_state(obj, c.VIR_DOMAIN_RUNNING_BOOTED)
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STARTED, c.VIR_DOMAIN_EVENT_STARTED_BOOTED)
            return self._handle(conn, obj)

    def domainCreateXMLWithFiles(self, conn: virConnect, xml: str, files: list[int],  # noqa: N802
                                 flags: int) -> virDomain:
        return self.domainCreateXML(conn, xml, flags)

    def domainCreate(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainCreateWithFlags(dom, 0)

    def domainCreateWithFiles(self, dom: virDomain, files: list[int], flags: int) -> int:  # noqa: N802
        return self.domainCreateWithFlags(dom, flags)

    def domainCreateWithFlags(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainCreateWithFlags", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if obj.state != SHUTOFF:
                err(c.VIR_ERR_INTERNAL_ERROR, f"Domain '{dom._name}' is already running")
            self._start_state(obj, c.VIR_DOMAIN_RUNNING_BOOTED)
            dom._id = obj.defn.id
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STARTED, c.VIR_DOMAIN_EVENT_STARTED_BOOTED)
            return 0

    def domainUndefine(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainUndefineFlags(dom, 0)

    def domainUndefineFlags(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainUndefineFlags", flags,
                    c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
                    c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if obj.managed_save and not flags & c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE:
                invalid_op("Refusing to undefine while domain managed save image exists")
            nsnap = len(obj.snapshots)
            if not obj.active and nsnap and not flags & c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA:
                invalid_op(f"cannot delete inactive domain with {nsnap} snapshots")
            if not obj.persistent:
                invalid_op("cannot undefine transient domain")
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_UNDEFINED,
                            c.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)
            obj.managed_save = False
            if obj.active:
                obj.persistent = False
                obj.new_def = None
            else:
                self._remove_domain(obj)
            return 0

    def domainRename(self, dom: virDomain, new_name: str, flags: int) -> int:  # noqa: N802
        check_flags("testDomainRename", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if obj.active:
                invalid_op("cannot rename active domain")
            if not obj.persistent:
                invalid_op("cannot rename a transient domain")
            if obj.state != SHUTOFF:
                invalid_op("domain has to be shutoff before renaming")
            if new_name == obj.defn.name:
                conf_invalid("Can't rename domain to itself")
            if new_name in self._dom_names:
                conf_invalid(f"domain with name '{new_name}' already exists")
            if "/" in new_name:
                err(c.VIR_ERR_XML_ERROR, f"name {new_name} cannot contain '/'")
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_UNDEFINED,
                            c.VIR_DOMAIN_EVENT_UNDEFINED_RENAMED)
            del self._dom_names[obj.defn.name]
            obj.defn.name = new_name
            self._dom_names[new_name] = obj
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_DEFINED, c.VIR_DOMAIN_EVENT_DEFINED_RENAMED)
            return 0

    # ---- state transitions -----------------------------------------------------------------

    def _stopped(self, obj: DomainObj, dom: virDomain | None, reason: int, detail: int
                 ) -> None:
        self._shutdown_state(obj, reason, dom)
        self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED, detail)
        if not obj.persistent:
            self._remove_domain(obj)

    def domainDestroy(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainDestroyFlags(dom, 0)

    def domainDestroyFlags(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainDestroyFlags", flags, c.VIR_DOMAIN_DESTROY_GRACEFUL,
                    c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            self._stopped(obj, dom, c.VIR_DOMAIN_SHUTOFF_DESTROYED,
                          c.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
            return 0

    def domainSuspend(self, dom: virDomain) -> int:  # noqa: N802
        with self.lock:
            obj = self._obj(dom)
            if obj.state in (SHUTOFF, PAUSED):
                err(c.VIR_ERR_INTERNAL_ERROR, f"domain '{dom._name}' not running")
            obj.state, obj.reason = PAUSED, c.VIR_DOMAIN_PAUSED_USER
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_SUSPENDED,
                            c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
            return 0

    def domainResume(self, dom: virDomain) -> int:  # noqa: N802
        with self.lock:
            obj = self._obj(dom)
            if obj.state != PAUSED:
                err(c.VIR_ERR_INTERNAL_ERROR, f"domain '{dom._name}' not paused")
            obj.state, obj.reason = RUNNING, c.VIR_DOMAIN_RUNNING_UNPAUSED
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_RESUMED,
                            c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
            return 0

    def _lifecycle_action(self, obj: DomainObj, action: str) -> None:
        """testDomainActionSetState."""
        if action in ("restart", "rename-restart"):
            obj.state, obj.reason = RUNNING, c.VIR_DOMAIN_RUNNING_BOOTED
        else:
            obj.state, obj.reason = SHUTOFF, c.VIR_DOMAIN_SHUTOFF_SHUTDOWN

    def domainShutdown(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainShutdownFlags(dom, 0)

    def domainShutdownFlags(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainShutdownFlags", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if obj.state == SHUTOFF:
                err(c.VIR_ERR_INTERNAL_ERROR, f"domain '{dom._name}' not running")
            self._lifecycle_action(obj, obj.defn.on_poweroff)
            if obj.state == SHUTOFF:
                self._stopped(obj, dom, c.VIR_DOMAIN_SHUTOFF_SHUTDOWN,
                              c.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
            return 0

    def domainReboot(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainReboot", flags,
                    c.VIR_DOMAIN_REBOOT_DEFAULT | c.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN
                    | c.VIR_DOMAIN_REBOOT_GUEST_AGENT | c.VIR_DOMAIN_REBOOT_INITCTL
                    | c.VIR_DOMAIN_REBOOT_SIGNAL | c.VIR_DOMAIN_REBOOT_PARAVIRT, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            self._lifecycle_action(obj, obj.defn.on_reboot)
            if obj.state == SHUTOFF:
                self._stopped(obj, dom, c.VIR_DOMAIN_SHUTOFF_SHUTDOWN,
                              c.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
            return 0

    def domainReset(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainReset", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._obj(dom).check_active()
            return 0

    def _active_noop(self, dom: virDomain, api: str, flags: int, allowed: int) -> int:
        check_flags(api, flags, allowed, c.VIR_FROM_TEST)
        with self.lock:
            self._obj(dom).check_active()
            return 0

    def domainInjectNMI(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        return self._active_noop(dom, "testDomainInjectNMI", flags, 0)

    def domainSendKey(self, dom: virDomain, codeset: int, holdtime: int,  # noqa: N802
                      keycodes: list[int], nkeycodes: int, flags: int) -> int:
        return self._active_noop(dom, "testDomainSendKey", flags, 0)

    def domainSetUserPassword(self, dom: virDomain, user: str, password: str,  # noqa: N802
                              flags: int) -> int:
        return self._active_noop(dom, "testDomainSetUserPassword", flags,
                                 c.VIR_DOMAIN_PASSWORD_ENCRYPTED)

    def domainSendProcessSignal(self, dom: virDomain, pid: int, signum: int,  # noqa: N802
                                flags: int) -> int:
        check_flags("testDomainSendProcessSignal", flags, 0, c.VIR_FROM_TEST)
        if pid != 1:
            err(c.VIR_ERR_INVALID_ARG, "only sending a signal to pid 1 is supported")
        if signum > c.VIR_DOMAIN_PROCESS_SIGNAL_RT32:
            err(c.VIR_ERR_INVALID_ARG, f"signum value {signum} is out of range")
        with self.lock:
            self._obj(dom).check_active()
            return 0

    # ---- save / restore --------------------------------------------------------------------

    def _write_image(self, path: str, defn: DomainDef) -> None:
        import struct
        from pathlib import Path

        xml = defn.to_xml(secure=True).encode()
        try:
            with open(path, "wb") as fh:
                fh.write(SAVE_MAGIC)
                fh.write(struct.pack("=i", len(xml)))
                fh.write(xml)
        except OSError as exc:
            Path(path).unlink(missing_ok=True)
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"saving domain '{defn.name}' to '{path}': open failed: {exc.strerror}",
                        domain=c.VIR_FROM_TEST)

    def _read_image(self, path: str) -> DomainDef:
        import struct

        """testDomainSaveImageOpen."""
        from pathlib import Path

        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"cannot read domain image '{path}': {exc.strerror}",
                        domain=c.VIR_FROM_TEST)
        if len(data) < len(SAVE_MAGIC):
            raise_error(c.VIR_ERR_SYSTEM_ERROR, f"incomplete save header in '{path}'",
                        domain=c.VIR_FROM_TEST)
        if data[:len(SAVE_MAGIC)] != SAVE_MAGIC:
            err(c.VIR_ERR_INTERNAL_ERROR, "mismatched header magic")
        rest = data[len(SAVE_MAGIC):]
        if len(rest) < 4:
            raise_error(c.VIR_ERR_SYSTEM_ERROR, f"failed to read metadata length in '{path}'",
                        domain=c.VIR_FROM_TEST)
        (length,) = struct.unpack("=i", rest[:4])
        if length < 1 or length > 8192:
            err(c.VIR_ERR_INTERNAL_ERROR, "length of metadata out of range")
        xml = rest[4:4 + length]
        if len(xml) != length:
            raise_error(c.VIR_ERR_SYSTEM_ERROR, f"incomplete metadata in '{path}'",
                        domain=c.VIR_FROM_TEST)
        defn, _ns = parse_domain_xml(xml.decode())
        return defn

    def domainSave(self, dom: virDomain, to: str) -> int:  # noqa: N802
        return self.domainSaveFlags(dom, to, None, 0)

    def domainSaveFlags(self, dom: virDomain, to: str, dxml: str | None, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSaveFlags", flags, 0, c.VIR_FROM_TEST)
        if dxml:
            err(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "xml modification unsupported")
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            self._write_image(to, obj.defn)
            self._stopped(obj, dom, c.VIR_DOMAIN_SHUTOFF_SAVED, c.VIR_DOMAIN_EVENT_STOPPED_SAVED)
            return 0

    def domainRestore(self, conn: virConnect, frm: str) -> int:  # noqa: N802
        return self.domainRestoreFlags(conn, frm, None, 0)

    def domainRestoreFlags(self, conn: virConnect, frm: str, dxml: str | None,  # noqa: N802
                           flags: int) -> int:
        check_flags("testDomainRestoreFlags", flags, 0, c.VIR_FROM_TEST)
        if dxml:
            err(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "xml modification unsupported")
        defn = self._read_image(frm)
        with self.lock:
            obj = self._add_domain(defn, live=True, check_live=True)
            self._start_state(obj, c.VIR_DOMAIN_RUNNING_RESTORED)
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STARTED, c.VIR_DOMAIN_EVENT_STARTED_RESTORED)
            return 0

    def domainSaveImageGetXMLDesc(self, conn: virConnect, path: str, flags: int) -> str:  # noqa: N802
        check_flags("testDomainSaveImageGetXMLDesc", flags, c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE,
                    c.VIR_FROM_TEST)
        return self._read_image(path).to_xml(secure=True)

    def domainSaveImageDefineXML(self, conn: virConnect, path: str, dxml: str,  # noqa: N802
                                 flags: int) -> int:
        check_flags("testDomainSaveImageDefineXML", flags,
                    c.VIR_DOMAIN_SAVE_RUNNING | c.VIR_DOMAIN_SAVE_PAUSED, c.VIR_FROM_TEST)
        self._read_image(path)
        newdef, _ns = parse_domain_xml(dxml)
        self._write_image(path, newdef)
        return 0

    def domainCoreDump(self, dom: virDomain, to: str, flags: int) -> int:  # noqa: N802
        return self.domainCoreDumpWithFormat(dom, to, c.VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, flags)

    def domainCoreDumpWithFormat(self, dom: virDomain, to: str, fmt: int, flags: int) -> int:  # noqa: N802
        from pathlib import Path

        check_flags("testDomainCoreDumpWithFormat", flags, c.VIR_DUMP_CRASH, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            try:
                Path(to).write_bytes(SAVE_MAGIC)
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR,
                            f"domain '{dom._name}' coredump: failed to open {to}: "
                            f"{exc.strerror}", domain=c.VIR_FROM_TEST)
            if fmt != c.VIR_DOMAIN_CORE_DUMP_FORMAT_RAW:
                err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                    "kdump-compressed format is not supported here")
            if flags & c.VIR_DUMP_CRASH:
                self._stopped(obj, dom, c.VIR_DOMAIN_SHUTOFF_CRASHED,
                              c.VIR_DOMAIN_EVENT_STOPPED_CRASHED)
            return 0

    def domainManagedSave(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainManagedSave", flags,
                    c.VIR_DOMAIN_SAVE_BYPASS_CACHE | c.VIR_DOMAIN_SAVE_RUNNING
                    | c.VIR_DOMAIN_SAVE_PAUSED, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            if not obj.persistent:
                invalid_op("cannot do managed save for transient domain")
            self._shutdown_state(obj, c.VIR_DOMAIN_SHUTOFF_SAVED, dom)
            self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED, c.VIR_DOMAIN_EVENT_STOPPED_SAVED)
            obj.managed_save = True
            return 0

    def domainHasManagedSaveImage(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainHasManagedSaveImage", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            return int(self._obj(dom).managed_save)

    def domainManagedSaveRemove(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainManagedSaveRemove", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._obj(dom).managed_save = False
            return 0

    # ---- information -----------------------------------------------------------------------

    def domainGetInfo(self, dom: virDomain) -> list[int]:  # noqa: N802
        obj = self._doms.get(dom._uuid)
        if obj is None:
            obj = self._obj(dom)
        d = obj._defn
        if d is None:
            d = obj.defn
        return [obj.state, d.memory_kib, d.current_memory_kib, d.vcpus_current,
                time.time_ns() // 1000 * 1000]

    def domainGetState(self, dom: virDomain, flags: int) -> list[int]:  # noqa: N802
        check_flags("testDomainGetState", flags, 0, c.VIR_FROM_TEST)
        obj = self._obj(dom)
        return [obj.state, obj.reason]

    def domainGetControlInfo(self, dom: virDomain, flags: int) -> list[int]:  # noqa: N802
        check_flags("testDomainGetControlInfo", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            s = obj.seconds
            if 0 < s < 10000:
                return [c.VIR_DOMAIN_CONTROL_JOB, 0, s]
            if 10000 <= s < 30000:
                return [c.VIR_DOMAIN_CONTROL_OCCUPIED, 0, s - 10000]
            if 30000 <= s < 60000:
                return [c.VIR_DOMAIN_CONTROL_ERROR, s % 4, s - 30000]
            return [c.VIR_DOMAIN_CONTROL_OK, 0, 0]

    def domainGetOSType(self, dom: virDomain) -> str:  # noqa: N802
        return "linux"

    def domainGetHostname(self, dom: virDomain, flags: int) -> str:  # noqa: N802
        check_flags("testDomainGetHostname", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._obj(dom).check_active()
            return f"{dom._name}host"

    def domainGetTime(self, dom: virDomain, flags: int) -> dict[str, int]:  # noqa: N802
        check_flags("testDomainGetTime", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if obj.state != RUNNING:
                invalid_op("domain is not running")
            return {"seconds": obj.seconds, "nseconds": obj.nseconds}

    def domainSetTime(self, dom: virDomain, params: dict[str, int] | None, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSetTime", flags, c.VIR_DOMAIN_TIME_SYNC, c.VIR_FROM_TEST)
        params = params or {}
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            obj.seconds = int(params.get("seconds", 0))
            obj.nseconds = int(params.get("nseconds", 0))
            return 0

    def domainIsActive(self, dom: virDomain) -> int:  # noqa: N802
        return int(self._obj(dom).active)

    def domainIsPersistent(self, dom: virDomain) -> int:  # noqa: N802
        return int(self._obj(dom).persistent)

    def domainIsUpdated(self, dom: virDomain) -> int:  # noqa: N802
        return 0

    def domainGetAutostart(self, dom: virDomain) -> int:  # noqa: N802
        return int(self._obj(dom).autostart)

    def domainSetAutostart(self, dom: virDomain, autostart: int) -> int:  # noqa: N802
        with self.lock:
            self._obj(dom).autostart = bool(autostart)
            return 0

    def domainGetXMLDesc(self, dom: virDomain, flags: int) -> str:  # noqa: N802
        check_flags("testDomainGetXMLDesc", flags,
                    c.VIR_DOMAIN_XML_SECURE | c.VIR_DOMAIN_XML_INACTIVE
                    | c.VIR_DOMAIN_XML_UPDATE_CPU | c.VIR_DOMAIN_XML_MIGRATABLE, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            inactive = bool(flags & c.VIR_DOMAIN_XML_INACTIVE)
            defn = obj.new_def if inactive and obj.new_def is not None else obj.defn
            return defn.to_xml(inactive=inactive,
                               secure=bool(flags & c.VIR_DOMAIN_XML_SECURE),
                               migratable=bool(flags & c.VIR_DOMAIN_XML_MIGRATABLE))

    def domainGetSecurityLabel(self, dom: virDomain) -> list[Any]:  # noqa: N802
        with self.lock:
            obj = self._obj(dom)
            if obj.active:
                return ["libvirt-test", True]
            return ["", False]

    def domainGetLaunchSecurityInfo(self, dom: virDomain, flags: int) -> dict[str, Any]:  # noqa: N802
        check_flags("testDomainGetLaunchSecurityInfo", flags, 0, c.VIR_FROM_TEST)
        return {}

    def domainGetMessages(self, dom: virDomain, flags: int) -> list[str]:  # noqa: N802
        check_flags("testDomainGetMessages", flags,
                    c.VIR_DOMAIN_MESSAGE_DEPRECATION | c.VIR_DOMAIN_MESSAGE_TAINTING,
                    c.VIR_FROM_TEST)
        obj = self._obj(dom)
        out = []
        if not flags or flags & c.VIR_DOMAIN_MESSAGE_TAINTING:
            out += [f"tainted: {text}" for bit, text in enumerate(TAINT_MESSAGES)
                    if obj.taint & (1 << bit)]
        if not flags or flags & c.VIR_DOMAIN_MESSAGE_DEPRECATION:
            out += [f"deprecated configuration: {text}" for text in obj.deprecations]
        return out

    def domainGetDiskErrors(self, dom: virDomain, flags: int) -> dict[str, int]:  # noqa: N802
        check_flags("testDomainGetDiskErrors", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            # The test driver cycles the error codes over the disks, starting at 1.
            return {d.target.dev: (i % 2) + 1  # cycles UNSPEC, NO_SPACE
                    for i, d in enumerate(obj.defn.devices.disks)}

    # ---- memory ----------------------------------------------------------------------------

    def domainGetMaxMemory(self, dom: virDomain) -> int:  # noqa: N802
        return self._obj(dom).defn.memory_kib

    def domainSetMaxMemory(self, dom: virDomain, memory: int) -> int:  # noqa: N802
        return self.domainSetMemoryFlags(dom, memory, c.VIR_DOMAIN_MEM_MAXIMUM)

    def domainSetMemory(self, dom: virDomain, memory: int) -> int:  # noqa: N802
        return self.domainSetMemoryFlags(dom, memory, LIVE)

    def domainSetMemoryFlags(self, dom: virDomain, memory: int, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSetMemoryFlags", flags,
                    LIVE | CONFIG | c.VIR_DOMAIN_MEM_MAXIMUM, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            defn, live = obj.one_def(flags)
            if flags & c.VIR_DOMAIN_MEM_MAXIMUM:
                if live:
                    invalid_op("cannot resize the maximum memory on an active domain")
                if defn.max_memory_kib and defn.max_memory_kib < memory:
                    invalid_op("cannot set initial memory size greater than the maximum "
                               "memory size")
                defn.memory_kib = memory
                if defn.current_memory_kib > memory:
                    defn.current_memory_kib = memory
            else:
                if memory > defn.memory_kib:
                    err(c.VIR_ERR_INVALID_ARG, "cannot set memory higher than max memory")
                defn.current_memory_kib = memory
            return 0

    def domainSetMemoryStatsPeriod(self, dom: virDomain, period: int, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSetMemoryStatsPeriod", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            defn, _live = self._obj(dom).one_def(flags)
            balloon = defn.devices.memballoon
            if balloon is None or getattr(balloon, "model", None) == "none":
                err(c.VIR_ERR_INTERNAL_ERROR, "No memory balloon device configured, can not "
                    "set the collection period")
            if hasattr(balloon, "period"):
                balloon.period = period
            return 0

    def domainMemoryStats(self, dom: virDomain, flags: int = 0) -> dict[str, int]:  # noqa: N802
        check_flags("testDomainMemoryStats", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            cur = obj.defn.current_memory_kib
            balloon = obj.defn.devices.memballoon
            if balloon is None or getattr(balloon, "model", None) == "none":
                return {}
            return {"actual": cur, "swap_in": 0, "swap_out": 0, "major_fault": 0,
                    "minor_fault": 0, "unused": cur // 2, "available": cur,
                    "usable": cur // 2, "last_update": GUEST_TIME, "disk_caches": cur // 8,
                    "hugetlb_pgalloc": 0, "hugetlb_pgfail": 0, "rss": cur // 2}

    def domainMemoryPeek(self, dom: virDomain, start: int, size: int, flags: int) -> bytes:  # noqa: N802
        check_flags("testDomainMemoryPeek", flags, c.VIR_MEMORY_VIRTUAL | c.VIR_MEMORY_PHYSICAL,
                    c.VIR_FROM_TEST)
        if flags not in (c.VIR_MEMORY_VIRTUAL, c.VIR_MEMORY_PHYSICAL):
            err(c.VIR_ERR_INVALID_ARG,
                "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
        with self.lock:
            self._obj(dom).check_active()
        return bytes((start + i) & 0xFF for i in range(size))

    def _params(self, obj: DomainObj, flags: int, kind: str, defaults: dict[str, Any]
                ) -> dict[str, Any]:
        _defn, live = obj.one_def(flags)
        key = f"{kind}:{'live' if live else 'config'}"
        return obj.params.setdefault(key, dict(defaults))

    def _set_params(self, dom: virDomain, flags: int, kind: str, defaults: dict[str, Any],
                    params: dict[str, Any], api: str) -> int:
        check_flags(api, flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            for name in params:
                if name not in defaults:
                    err(c.VIR_ERR_INVALID_ARG, f"parameter '{name}' not supported")
            live, config = obj.defs_for(flags)
            for which, defn in (("live", live), ("config", config)):
                if defn is None:
                    continue
                table = obj.params.setdefault(f"{kind}:{which}", dict(defaults))
                table.update(params)
            return 0

    _MEM_DEFAULTS = {"hard_limit": UINT_MAX_KIB, "soft_limit": UINT_MAX_KIB,
                     "swap_hard_limit": UINT_MAX_KIB}
    _NUMA_DEFAULTS = {"numa_mode": 0, "numa_nodeset": ""}
    _BLKIO_DEFAULTS: dict[str, Any] = {"weight": 0, **{k: "" for k in BLKIO_FIELDS[1:]}}
    _IFACE_DEFAULTS = dict.fromkeys(INTERFACE_FIELDS, 0)
    _IOTUNE_DEFAULTS: dict[str, Any] = {k: ("" if k == "group_name" else 0)
                                        for k in BLOCK_IOTUNE_FIELDS}

    def domainGetMemoryParameters(self, dom: virDomain, flags: int) -> dict[str, Any]:  # noqa: N802
        check_flags("testDomainGetMemoryParameters", flags, LIVE | CONFIG
                    | c.VIR_TYPED_PARAM_STRING_OKAY, c.VIR_FROM_TEST)
        with self.lock:
            return dict(self._params(self._obj(dom), flags & ~c.VIR_TYPED_PARAM_STRING_OKAY,
                                     "mem", self._MEM_DEFAULTS))

    def domainSetMemoryParameters(self, dom: virDomain, params: dict[str, Any],  # noqa: N802
                                  flags: int) -> int:
        return self._set_params(dom, flags, "mem", self._MEM_DEFAULTS, params,
                                "testDomainSetMemoryParameters")

    def domainGetNumaParameters(self, dom: virDomain, flags: int) -> dict[str, Any]:  # noqa: N802
        check_flags("testDomainGetNumaParameters", flags, LIVE | CONFIG
                    | c.VIR_TYPED_PARAM_STRING_OKAY, c.VIR_FROM_TEST)
        with self.lock:
            return dict(self._params(self._obj(dom), flags & ~c.VIR_TYPED_PARAM_STRING_OKAY,
                                     "numa", self._NUMA_DEFAULTS))

    def domainSetNumaParameters(self, dom: virDomain, params: dict[str, Any],  # noqa: N802
                                flags: int) -> int:
        return self._set_params(dom, flags, "numa", self._NUMA_DEFAULTS, params,
                                "testDomainSetNumaParameters")

    def domainGetBlkioParameters(self, dom: virDomain, flags: int) -> dict[str, Any]:  # noqa: N802
        check_flags("testDomainGetBlkioParameters", flags, LIVE | CONFIG
                    | c.VIR_TYPED_PARAM_STRING_OKAY, c.VIR_FROM_TEST)
        with self.lock:
            return dict(self._params(self._obj(dom), flags & ~c.VIR_TYPED_PARAM_STRING_OKAY,
                                     "blkio", self._BLKIO_DEFAULTS))

    def domainSetBlkioParameters(self, dom: virDomain, params: dict[str, Any],  # noqa: N802
                                 flags: int) -> int:
        return self._set_params(dom, flags, "blkio", self._BLKIO_DEFAULTS, params,
                                "testDomainSetBlkioParameters")

    def _net(self, obj: DomainObj, device: str) -> Any:
        """virDomainNetFind: by MAC address when ``device`` parses as one, else by name."""
        mac = _mac_bytes(device)
        for net in obj.defn.devices.interfaces:
            if net.target_dev == device if mac is None else _mac_bytes(net.mac or "") == mac:
                return net
        raise_error(c.VIR_ERR_INVALID_ARG, f"'{device}' is not a known interface",
                    domain=c.VIR_FROM_DOMAIN)

    def domainGetInterfaceParameters(self, dom: virDomain, device: str,  # noqa: N802
                                     flags: int) -> dict[str, Any]:
        check_flags("testDomainGetInterfaceParameters", flags, LIVE | CONFIG
                    | c.VIR_TYPED_PARAM_STRING_OKAY, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            self._net(obj, device)
            return dict(self._params(obj, flags & ~c.VIR_TYPED_PARAM_STRING_OKAY,
                                     "iface:" + device, self._IFACE_DEFAULTS))

    def domainSetInterfaceParameters(self, dom: virDomain, device: str,  # noqa: N802
                                     params: dict[str, Any], flags: int) -> int:
        with self.lock:
            self._net(self._obj(dom), device)
        return self._set_params(dom, flags, "iface:" + device, self._IFACE_DEFAULTS, params,
                                "testDomainSetInterfaceParameters")

    def _disk(self, obj: DomainObj, path: str) -> Any:
        for disk in obj.defn.devices.disks:
            src = disk.source.attrs.get("file") if disk.source is not None else None
            if disk.target.dev == path or (src and src == path):
                return disk
        return None

    def domainGetBlockIoTune(self, dom: virDomain, disk: str, flags: int) -> dict[str, Any]:  # noqa: N802
        check_flags("testDomainGetBlockIoTune", flags, LIVE | CONFIG
                    | c.VIR_TYPED_PARAM_STRING_OKAY, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if self._disk(obj, disk) is None:
                err(c.VIR_ERR_INVALID_ARG, f"disk '{disk}' was not found in the domain config")
            return dict(self._params(obj, flags & ~c.VIR_TYPED_PARAM_STRING_OKAY,
                                     "iotune:" + disk, self._IOTUNE_DEFAULTS))

    def domainSetBlockIoTune(self, dom: virDomain, disk: str, params: dict[str, Any],  # noqa: N802
                             flags: int) -> int:
        with self.lock:
            if self._disk(self._obj(dom), disk) is None:
                err(c.VIR_ERR_INVALID_ARG, f"disk '{disk}' was not found in the domain config")
        return self._set_params(dom, flags, "iotune:" + disk, self._IOTUNE_DEFAULTS, params,
                                "testDomainSetBlockIoTune")

    # ---- vcpus -----------------------------------------------------------------------------

    def domainGetVcpusFlags(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainGetVcpusFlags", flags,
                    LIVE | CONFIG | c.VIR_DOMAIN_VCPU_MAXIMUM, c.VIR_FROM_TEST)
        with self.lock:
            defn, _live = self._obj(dom).one_def(flags)
            return defn.vcpus_max if flags & c.VIR_DOMAIN_VCPU_MAXIMUM else defn.vcpus_current

    def domainGetMaxVcpus(self, dom: virDomain) -> int:  # noqa: N802
        return self.domainGetVcpusFlags(dom, LIVE | c.VIR_DOMAIN_VCPU_MAXIMUM)

    def domainSetVcpus(self, dom: virDomain, nvcpus: int) -> int:  # noqa: N802
        return self.domainSetVcpusFlags(dom, nvcpus, LIVE)

    def domainSetVcpusFlags(self, dom: virDomain, nvcpus: int, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSetVcpusFlags", flags,
                    LIVE | CONFIG | c.VIR_DOMAIN_VCPU_MAXIMUM, c.VIR_FROM_TEST)
        from pyvirt.drivers.test.driver import MAX_VCPUS

        if nvcpus > MAX_VCPUS:
            err(c.VIR_ERR_INVALID_ARG, "requested cpu amount exceeds maximum supported amount "
                f"({nvcpus} > {MAX_VCPUS})")
        with self.lock:
            obj = self._obj(dom)
            live, config = obj.defs_for(flags)
            if live is not None and live.vcpus_max < nvcpus:
                err(c.VIR_ERR_INVALID_ARG,
                    f"requested cpu amount exceeds maximum ({nvcpus} > {live.vcpus_max})")
            if (config is not None and not flags & c.VIR_DOMAIN_VCPU_MAXIMUM
                    and config.vcpus_max < nvcpus):
                err(c.VIR_ERR_INVALID_ARG,
                    f"requested cpu amount exceeds maximum ({nvcpus} > {config.vcpus_max})")
            if nvcpus == 0:
                err(c.VIR_ERR_INVALID_ARG, "Domain should have at least one vCPU")
            if live is not None:
                if flags & c.VIR_DOMAIN_VCPU_MAXIMUM:
                    invalid_op("cannot change maximum vCPU count of a running domain")
                live.vcpus_current = nvcpus
            if config is not None:
                if flags & c.VIR_DOMAIN_VCPU_MAXIMUM:
                    config.vcpus_max = nvcpus
                    config.vcpus_current = min(config.vcpus_current, nvcpus)
                else:
                    config.vcpus_current = nvcpus
            return 0

    def _host_cpus(self) -> int:
        # libvirt-python sizes CPU maps by virNodeGetCPUMap, which the test driver fixes at 8.
        return HOST_MAP_CPUS

    def domainGetVcpus(self, dom: virDomain) -> tuple[list[tuple[int, int, int, int]],  # noqa: N802
                                                      list[tuple[bool, ...]]]:
        with self.lock:
            obj = self._obj(dom)
            if not obj.active:
                invalid_op("cannot list vcpus for an inactive domain")
            ncpus = self._host_cpus()
            base = now_us()
            defn = obj.defn
            # testDomainGetVcpus: an unpinned vCPU runs on the domain's cpuset, else on
            # every CPU of the node's full topology; its "CPU" is the bitmap's last bit.
            if defn.cpuset:
                from pyvirt.conf.domain.cputune import parse_bitmap

                bits = parse_bitmap(defn.cpuset)
                default_map = tuple(n in bits for n in range(ncpus))
                default_last = max(bits, default=-1)
            else:
                default_map = (True,) * ncpus
                default_last = self.node_info.max_cpus - 1
            infos, maps = [], []
            for i in range(defn.vcpus_current):
                cpumap = obj.vcpu_pins.get(i)
                if cpumap is None:
                    cpumap, last = default_map, default_last
                else:
                    last = max((n for n, on in enumerate(cpumap) if on), default=-1)
                infos.append((i, c.VIR_VCPU_RUNNING, base // 10, last))
                maps.append(cpumap)
            return infos, maps

    def domainPinVcpu(self, dom: virDomain, vcpu: int, cpumap: Any) -> int:  # noqa: N802
        return self.domainPinVcpuFlags(dom, vcpu, cpumap, 0)

    def domainPinVcpuFlags(self, dom: virDomain, vcpu: int, cpumap: Any, flags: int) -> int:  # noqa: N802
        check_flags("testDomainPinVcpuFlags", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            if not obj.active:
                invalid_op("cannot pin vcpus on an inactive domain")
            if vcpu < 0 or vcpu >= obj.defn.vcpus_current:
                err(c.VIR_ERR_INVALID_ARG,
                    f"requested vcpu '{vcpu}' is not present in the domain")
            obj.vcpu_pins[vcpu] = cpumap_tuple(cpumap, self._host_cpus())
            return 0

    def domainGetVcpuPinInfo(self, dom: virDomain, flags: int) -> list[tuple[bool, ...]]:  # noqa: N802
        with self.lock:
            obj = self._obj(dom)
            defn, _live = obj.one_def(flags)
            ncpus = self._host_cpus()
            return [obj.vcpu_pins.get(i, (True,) * ncpus) for i in range(defn.vcpus_max)]

    def domainPinEmulator(self, dom: virDomain, cpumap: Any, flags: int) -> int:  # noqa: N802
        check_flags("testDomainPinEmulator", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.one_def(flags)
            bits = cpumap_tuple(cpumap, self._host_cpus())
            if not any(bits):
                err(c.VIR_ERR_INVALID_ARG, "Empty cpu list for pinning")
            obj.emulator_pin = bits
            return 0

    def domainGetEmulatorPinInfo(self, dom: virDomain, flags: int) -> tuple[bool, ...]:  # noqa: N802
        check_flags("testDomainGetEmulatorPinInfo", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.one_def(flags)
            return obj.emulator_pin or (True,) * self._host_cpus()

    # ---- iothreads -------------------------------------------------------------------------

    def domainGetIOThreadInfo(self, dom: virDomain, flags: int) -> list[Any]:  # noqa: N802
        check_flags("testDomainGetIOThreadInfo", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.one_def(flags)
            ncpus = self._host_cpus()
            return [(tid, [True] * ncpus) for tid in sorted(obj.iothreads)]

    def domainAddIOThread(self, dom: virDomain, iothread_id: int, flags: int) -> int:  # noqa: N802
        check_flags("testDomainAddIOThread", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.defs_for(flags)
            if iothread_id == 0:
                err(c.VIR_ERR_INVALID_ARG, "invalid value of 0 for iothread_id")
            if iothread_id in obj.iothreads:
                err(c.VIR_ERR_INVALID_ARG, f"an IOThread is already using iothread_id '"
                    f"{iothread_id}'")
            obj.iothreads[iothread_id] = {"poll_max_ns": 32768, "poll_grow": 0,
                                          "poll_shrink": 0}
            return 0

    def domainDelIOThread(self, dom: virDomain, iothread_id: int, flags: int) -> int:  # noqa: N802
        check_flags("testDomainDelIOThread", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.defs_for(flags)
            if iothread_id == 0:
                err(c.VIR_ERR_INVALID_ARG, "invalid value of 0 for iothread_id")
            if obj.iothreads.pop(iothread_id, None) is None:
                err(c.VIR_ERR_INVALID_ARG,
                    f"cannot find IOThread '{iothread_id}' in iothreadids list")
            return 0

    # ---- scheduler, perf -------------------------------------------------------------------

    def domainGetSchedulerType(self, dom: virDomain) -> tuple[str, int]:  # noqa: N802
        return ("fair", 1)

    def domainGetSchedulerParameters(self, dom: virDomain) -> dict[str, int]:  # noqa: N802
        return self.domainGetSchedulerParametersFlags(dom, 0)

    def domainGetSchedulerParametersFlags(self, dom: virDomain, flags: int) -> dict[str, int]:  # noqa: N802
        check_flags("testDomainGetSchedulerParametersFlags", flags, 0, c.VIR_FROM_TEST)
        self._obj(dom)
        return {"weight": 50}

    def domainSetSchedulerParameters(self, dom: virDomain, params: dict[str, Any]) -> int:  # noqa: N802
        return self.domainSetSchedulerParametersFlags(dom, params, 0)

    def domainSetSchedulerParametersFlags(self, dom: virDomain, params: dict[str, Any],  # noqa: N802
                                          flags: int) -> int:
        check_flags("testDomainSetSchedulerParametersFlags", flags, 0, c.VIR_FROM_TEST)
        for name in params:
            if name != "weight":
                err(c.VIR_ERR_INVALID_ARG, f"parameter '{name}' not supported")
        self._obj(dom)
        return 0

    def domainGetPerfEvents(self, dom: virDomain, flags: int) -> dict[str, bool]:  # noqa: N802
        check_flags("testDomainGetPerfEvents", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.one_def(flags)
            return {name: obj.perf.get(name, False) for name in PERF_EVENTS}

    def domainSetPerfEvents(self, dom: virDomain, params: dict[str, bool], flags: int) -> int:  # noqa: N802
        check_flags("testDomainSetPerfEvents", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.defs_for(flags)
            for name, value in params.items():
                if name not in PERF_EVENTS:
                    err(c.VIR_ERR_INVALID_ARG, f"parameter '{name}' not supported")
                obj.perf[name] = bool(value)
            return 0

    # ---- statistics ------------------------------------------------------------------------

    def domainBlockStats(self, dom: virDomain, path: str) -> tuple[int, int, int, int, int]:  # noqa: N802
        if not path:
            err(c.VIR_ERR_OPERATION_UNSUPPORTED, "summary statistics are not supported yet")
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            if not any(d.target.dev == path for d in obj.defn.devices.disks) and \
                    self._disk(obj, path) is None:
                err(c.VIR_ERR_INVALID_ARG, f"invalid path: {path}")
        base = now_us()
        return (base // 10, base // 20, base // 30, base // 40, base // 2000000)

    def domainInterfaceStats(self, dom: virDomain, device: str) -> tuple[int, ...]:  # noqa: N802
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            self._net(obj, device)
        base = now_us()
        return (base // 10, base // 100, base // 1000000, base // 2000000, base // 20,
                base // 110, base // 3000000, base // 4000000)

    def domainGetBlockInfo(self, dom: virDomain, path: str, flags: int) -> list[int]:  # noqa: N802
        check_flags("testDomainGetBlockInfo", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            disk = self._disk(self._obj(dom), path)
            if disk is None:
                err(c.VIR_ERR_INVALID_ARG, f"invalid path {path} not assigned to domain")
            if disk.source is None or not disk.source.attrs:
                err(c.VIR_ERR_INVALID_ARG,
                    f"disk '{path}' does not currently have a source assigned")
            return [1099506450432, 1099511627776, 1099511627776]

    def domainGetCPUStats(self, dom: virDomain, total: bool, flags: int) -> list[dict[str, int]]:  # noqa: N802
        check_flags("testDomainGetCPUStats", flags, c.VIR_TYPED_PARAM_STRING_OKAY,
                    c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            if total:
                return [{"cpu_time": 48772617035, "user_time": 5540000000,
                         "system_time": 6460000000}]
            nvcpus = obj.defn.vcpus_current
            out = []
            for i in range(nvcpus):
                out.append({"cpu_time": 48772617035 // nvcpus + i,
                            "vcpu_time": 46303481254 // nvcpus + i})
            return out

    def domainInterfaceAddresses(self, dom: virDomain, source: int,  # noqa: N802
                                 flags: int) -> dict[str, Any]:
        check_flags("testDomainInterfaceAddresses", flags, 0, c.VIR_FROM_TEST)
        if source > c.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP:
            err(c.VIR_ERR_INVALID_ARG, f"Unknown IP address data source {source}")
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            out: dict[str, Any] = {}
            for i, net in enumerate(obj.defn.devices.interfaces):
                addr = self._iface_address(net, i)
                out[net.target_dev or ""] = {
                    "addrs": [{"addr": addr, "prefix": 24, "type": c.VIR_IP_ADDR_TYPE_IPV4}],
                    "hwaddr": net.mac,
                }
            return out

    def _iface_address(self, net: Any, index: int) -> str:
        # testDomainInterfaceAddressFromNet: an address in the network's first IPv4 range.
        base = "192.168.122"
        return f"{base}.{3 + index}"

    def domainGetFSInfo(self, dom: virDomain, flags: int) -> list[tuple[str, str, str,  # noqa: N802
                                                                        list[str]]]:
        check_flags("testDomainGetFSInfo", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            for disk in obj.defn.devices.disks:
                if disk.device == "disk":
                    dev = disk.target.dev
                    return [("/", f"{dev}1", "ext4", [dev]), ("/boot", f"{dev}2", "ext4", [dev])]
            return []

    def _fs_op(self, dom: virDomain, mountpoints: list[str] | None, freeze: bool) -> int:
        with self.lock:
            obj = self._obj(dom)
            obj.check_active()
            targets = list(mountpoints) if mountpoints else ["/", "/boot"]
            for mp in targets:
                if mp not in ("/", "/boot"):
                    err(c.VIR_ERR_OPERATION_INVALID, f"mount point not found: {mp}")
            count = 0
            for mp in targets:
                if freeze and mp not in obj.frozen:
                    obj.frozen.add(mp)
                    count += 1
                elif not freeze and mp in obj.frozen:
                    obj.frozen.discard(mp)
                    count += 1
            return count

    def domainFSFreeze(self, dom: virDomain, mountpoints: list[str] | None, flags: int) -> int:  # noqa: N802
        check_flags("testDomainFSFreeze", flags, 0, c.VIR_FROM_TEST)
        return self._fs_op(dom, mountpoints, True)

    def domainFSThaw(self, dom: virDomain, mountpoints: list[str] | None, flags: int) -> int:  # noqa: N802
        check_flags("testDomainFSThaw", flags, 0, c.VIR_FROM_TEST)
        return self._fs_op(dom, mountpoints, False)

    def domainFSTrim(self, dom: virDomain, mountpoint: str | None, minimum: int,  # noqa: N802
                     flags: int) -> int:
        check_flags("testDomainFSTrim", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._obj(dom).check_active()
        if minimum > 4096:
            err(c.VIR_ERR_INVALID_ARG, "minimum cannot be larger than 4096 bytes")
        if mountpoint and mountpoint not in ("/", "/boot"):
            err(c.VIR_ERR_OPERATION_INVALID, f"mount point not found: {mountpoint}")
        return 0

    # ---- metadata --------------------------------------------------------------------------

    def domainGetMetadata(self, dom: virDomain, type_: int, uri: str | None,  # noqa: N802
                          flags: int) -> str:
        check_flags("testDomainGetMetadata", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            defn, _live = self._obj(dom).one_def(flags)
            value: str | None
            if type_ == c.VIR_DOMAIN_METADATA_DESCRIPTION:
                value = defn.description
            elif type_ == c.VIR_DOMAIN_METADATA_TITLE:
                value = defn.title
            elif type_ == c.VIR_DOMAIN_METADATA_ELEMENT:
                if not uri:
                    raise_error(c.VIR_ERR_INVALID_ARG, "uri", domain=c.VIR_FROM_DOMAIN)
                value = defn.metadata.get_xml(uri)
            else:
                raise_error(c.VIR_ERR_INVALID_ARG, f"unknown metadata type '{type_}'",
                            domain=c.VIR_FROM_DOMAIN)
            if value is None:
                raise_error(c.VIR_ERR_NO_DOMAIN_METADATA,
                            "Requested metadata element is not present", domain=c.VIR_FROM_DOMAIN)
            return value

    def domainSetMetadata(self, dom: virDomain, type_: int, metadata: str | None,  # noqa: N802
                          key: str | None, uri: str | None, flags: int) -> int:
        check_flags("testDomainSetMetadata", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        with self.lock:
            obj = self._obj(dom)
            live, config = obj.defs_for(flags)
            for defn in (live, config):
                if defn is None:
                    continue
                if type_ == c.VIR_DOMAIN_METADATA_DESCRIPTION:
                    defn.description = metadata or None
                elif type_ == c.VIR_DOMAIN_METADATA_TITLE:
                    if metadata and "\n" in metadata:
                        raise_error(c.VIR_ERR_INVALID_ARG, "title can't contain newlines",
                                    domain=c.VIR_FROM_DOMAIN)
                    defn.title = metadata or None
                elif type_ == c.VIR_DOMAIN_METADATA_ELEMENT:
                    if not uri:
                        raise_error(c.VIR_ERR_INVALID_ARG, "uri", domain=c.VIR_FROM_DOMAIN)
                    if metadata:
                        defn.metadata.set(uri, key or "", metadata)
                    else:
                        defn.metadata.remove(uri)
                else:
                    raise_error(c.VIR_ERR_INVALID_ARG, f"unknown metadata type '{type_}'",
                                domain=c.VIR_FROM_DOMAIN)
            self._domain_event(c.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, obj, type_, uri)
            return 0

    # ---- lifecycle actions, screenshot ------------------------------------------------------

    def domainSetLifecycleAction(self, dom: virDomain, type_: int, action: int,  # noqa: N802
                                 flags: int) -> int:
        check_flags("testDomainSetLifecycleAction", flags, LIVE | CONFIG, c.VIR_FROM_TEST)
        names = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                 "coredump-restart")
        if action < 0 or action >= len(names):
            err(c.VIR_ERR_INVALID_ARG, "invalid lifecycle action")
        attr = {c.VIR_DOMAIN_LIFECYCLE_POWEROFF: "on_poweroff",
                c.VIR_DOMAIN_LIFECYCLE_REBOOT: "on_reboot",
                c.VIR_DOMAIN_LIFECYCLE_CRASH: "on_crash"}.get(type_)
        if attr is None:
            err(c.VIR_ERR_INVALID_ARG, "invalid lifecycle type")
        with self.lock:
            live, config = self._obj(dom).defs_for(flags)
            for defn in (live, config):
                if defn is not None:
                    setattr(defn, attr, names[action])
            return 0

    def domainScreenshot(self, dom: virDomain, stream: virStream, screen: int,  # noqa: N802
                         flags: int) -> str:
        check_flags("testDomainScreenshot", flags, 0, c.VIR_FROM_TEST)
        stream._attach(BytesStreamBackend(screenshot_png()))
        return "image/png"

    # ---- bulk stats ------------------------------------------------------------------------

    def _stats(self, obj: DomainObj, stats: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if stats & c.VIR_DOMAIN_STATS_STATE:
            out["state.state"] = obj.state
            out["state.reason"] = obj.reason
        if stats & c.VIR_DOMAIN_STATS_IOTHREAD and obj.active and obj.iothreads:
            out["iothread.count"] = len(obj.iothreads)
            for tid, info in obj.iothreads.items():  # libvirt's array order
                for key, value in info.items():
                    out[f"iothread.{tid}.{key.replace('_', '-')}"] = value
        return out

    def connectGetAllDomainStats(self, conn: virConnect, stats: int,  # noqa: N802
                                 flags: int) -> list[tuple[virDomain, dict[str, Any]]]:
        check_flags("testConnectGetAllDomainStats", flags, STATS_FLAGS, c.VIR_FROM_TEST)
        stats = _stats_types(stats, flags)
        with self.lock:
            # libvirt's records come in its domain hash table's order, which changes from
            # process to process (seeded hash): definition order is as good as any.
            return [(self._handle(conn, o), self._stats(o, stats)) for o in self._doms.values()
                    if self._list_match(o, flags & STATS_FILTERS)]

    def domainListGetStats(self, conn: virConnect, doms: list[virDomain], stats: int,  # noqa: N802
                           flags: int) -> list[tuple[virDomain, dict[str, Any]]]:
        check_flags("testConnectGetAllDomainStats", flags, STATS_FLAGS, c.VIR_FROM_TEST)
        stats = _stats_types(stats, flags)
        with self.lock:
            out = []
            for dom in doms:
                obj = self._doms.get(dom._uuid)
                if obj is not None and self._list_match(obj, flags & STATS_FILTERS):
                    out.append((self._handle(conn, obj), self._stats(obj, stats)))
            return out
