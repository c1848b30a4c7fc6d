"""The test driver: libvirt's in-memory hypervisor (``test:///default``, ``test:///PATH.xml``).

One ``TestDriver`` holds a whole fake host: node info, NUMA cells, capabilities, and the
objects of every family (domains here and in ``domains.py``; networks, pools, interfaces,
node devices, secrets and nwfilters in their own mixins). Every entry point that reads or
changes state holds ``self.lock``. Events go to ``self.events``.

The node file format is libvirt's (``<node>`` with ``<cpu>``, ``<memory>``, ``<domain>``,
``<network>``, ``<interface>``, ``<pool>``, ``<device>``, ``<auth>``; any object element may
instead name a file with ``file=``, relative to the node file).
"""

from __future__ import annotations

import _thread  # threading's locks without its module's import cost (~2 ms)
import os

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers.base import Driver, check_flags
from pyvirt.drivers.local import LocalConnectionEntryPoints
from pyvirt.drivers.test.checkpoints import TestCheckpoints
from pyvirt.drivers.test.domains import TestDomains
from pyvirt.drivers.test.interfaces import TestInterfaces
from pyvirt.drivers.test.networks import TestNetworks
from pyvirt.drivers.test.nodedevs import TestNodeDevices
from pyvirt.drivers.test.nwfilters import TestNWFilters
from pyvirt.drivers.test.secrets import TestSecrets
from pyvirt.drivers.test.snapshots import TestSnapshots
from pyvirt.drivers.test.storage import TestStorage
from pyvirt.errors import libvirtError, raise_error
from pyvirt.events.state import EventState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from pyvirt.api.connect import virConnect



TEST_MODEL = "i686"
TEST_EMULATOR = "/usr/bin/test-hv"
TEST_SECMODEL = "testSecurity"
MAX_VCPUS = 32
# A string, not a pathlib.Path: pathlib (and urllib.parse with it) cost ~5-15 ms to import.
DEFAULT_NODE_XML = os.path.join(os.path.dirname(__file__), "default_node.xml")
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"

# virArch names (virArchFromString knows these; "none" is not looked up).
ARCH_NAMES = frozenset((
    "alpha armv6l armv7l armv7b aarch64 cris i686 ia64 lm32 m68k microblaze microblazeel "
    "mips mipsel mips64 mips64el openrisc parisc parisc64 ppc ppcle ppc64 ppc64le ppcemb "
    "riscv32 riscv64 s390 s390x sh4 sh4eb sparc sparc64 unicore32 x86_64 xtensa xtensaeb"
).split())
# Architectures libvirt has a CPU driver for (x86, ppc64, s390, arm).
CPU_DRIVER_ARCHES = frozenset(("i686", "x86_64", "ppc64", "ppc64le", "s390", "s390x", "armv6l",
                               "armv7l", "armv7b", "aarch64"))
PPC64_CPU_MODELS = ("POWER6", "POWER7", "POWER8", "POWER9", "POWER10", "POWERPC_e5500",
                    "POWERPC_e6500")

# virConnectGetCPUModelNames for x86: libvirt's cpu_map (src/cpu_map/index.xml) order.
X86_CPU_MODELS = (
    "486", "pentium", "pentium2", "pentium3", "pentiumpro", "coreduo", "n270", "core2duo",
    "qemu32", "kvm32", "cpu64-rhel5", "cpu64-rhel6", "qemu64", "kvm64", "Conroe", "Penryn",
    "Nehalem", "Nehalem-IBRS", "Westmere", "Westmere-IBRS", "SandyBridge", "SandyBridge-IBRS",
    "IvyBridge", "IvyBridge-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Haswell",
    "Haswell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell", "Broadwell-IBRS",
    "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Server",
    "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Cascadelake-Server",
    "Cascadelake-Server-noTSX", "Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server",
    "Icelake-Server-noTSX", "Cooperlake", "Snowridge", "athlon", "phenom", "Opteron_G1",
    "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5", "EPYC", "EPYC-IBPB", "EPYC-Rome",
    "EPYC-Milan", "Dhyana",
)  # fmt: skip


class NodeInfo:
    """virNodeInfo; the defaults are the test driver's fake host."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    _FIELDS = ("model", "memory", "cpus", "mhz", "nodes", "sockets", "cores", "threads")

    def __init__(self, model: str = TEST_MODEL, memory: int = 3 * 1024 * 1024,  # KiB
                 cpus: int = 16, mhz: int = 1400, nodes: int = 2, sockets: int = 2,
                 cores: int = 2, threads: int = 2) -> None:
        self.model = model
        self.memory = memory
        self.cpus = cpus
        self.mhz = mhz
        self.nodes = nodes
        self.sockets = sockets
        self.cores = cores
        self.threads = threads

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS)
        return f"NodeInfo({inner})"

    @property
    def max_cpus(self) -> int:
        return self.nodes * self.sockets * self.cores * self.threads


class Cell:
    """A NUMA cell of the fake host."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, mem: int, free_mem: int, cpus: list[int] | None = None) -> None:
        self.mem = mem  # KiB
        self.free_mem = free_mem  # KiB
        self.cpus: list[int] = [] if cpus is None else cpus

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.mem, self.free_mem, self.cpus) == (other.mem, other.free_mem, other.cpus)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Cell(mem={self.mem!r}, free_mem={self.free_mem!r}, cpus={self.cpus!r})"


class AuthUser:
    """A user of the node file's <auth> section."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, username: str, password: str | None) -> None:
        self.username = username
        self.password = password

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuthUser) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.username, self.password) == (other.username, other.password)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AuthUser(username={self.username!r}, password={self.password!r})"


def xml_error(detail: str) -> None:
    raise_error(c.VIR_ERR_XML_ERROR, detail, domain=c.VIR_FROM_TEST)


def resolve_included(node: Element, base_dir: Path | None) -> Element:
    """An object element of the node file, or the root of the file its ``file=`` names
    (libvirt's testParseXMLDocFromFile)."""
    rel = node.get("file")
    if rel is None:
        return node
    from pathlib import Path

    path = Path(rel) if Path(rel).is_absolute() or base_dir is None else base_dir / rel
    try:
        data = path.read_bytes()
    except OSError:
        raise_error(c.VIR_ERR_XML_ERROR, f"failed to parse xml document '{path}'",
                    domain=c.VIR_FROM_TEST)
    return x.parse_xml(data, url=str(path))


class TestDriver(
    Driver,
    LocalConnectionEntryPoints,
    TestDomains,
    TestSnapshots,
    TestCheckpoints,
    TestNetworks,
    TestStorage,
    TestInterfaces,
    TestNodeDevices,
    TestSecrets,
    TestNWFilters,
):
    """One fake host and everything on it."""

    name = "Test"
    error_domain = c.VIR_FROM_TEST

    def __init__(self, default_cells: bool = False, deferred: bool = False) -> None:
        self.lock = _thread.RLock()
        self.events = EventState()
        self.node_info = NodeInfo()
        self.cells: list[Cell] = []
        if default_cells:
            self.cells = [Cell(mem=(i + 1) * 2048 * 1024, free_mem=(i + 1) * 1024 * 1024,
                               cpus=list(range(i * 8, i * 8 + 8))) for i in range(2)]
        self.auth_users: list[AuthUser] = []
        self._caps_xml: str | None = None
        self._close_callbacks: dict[int, tuple[Callable[..., Any], Any]] = {}
        # Families of test:///default not loaded yet: name -> the node document (its bytes
        # until a family's first use parses it).
        self._deferred: dict[str, Element | bytes] = {}
        self._init_domains()
        for init in ("_init_networks", "_init_pools", "_init_interfaces", "_init_nodedevs",
                     "_init_secrets", "_init_nwfilters"):
            if deferred and init[len("_init_"):] in _DEFERRED_FAMILIES:
                continue
            method = getattr(self, init, None)
            if method is not None:
                method()

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open_default(cls) -> TestDriver:
        """test:///default. Its node document is known to be valid, so the families a
        connection may never touch (networks, interfaces, pools, node devices) are loaded
        from it on first use (see ``_Deferred``) rather than at open, and its domains are
        parsed on first use of their definition (see ``DomainObj``): opening it and listing
        domains loads no domain model. test:///PATH.xml stays eager, so that a bad node file
        fails at open as in libvirt."""
        # A bare expat scan (conf/xmlscan) reads what open and list need (node info,
        # domain identities); lxml (~25 ms to import) parses the document, or a domain's
        # text, only when a full definition is needed.
        from pyvirt.conf.xmlscan import scan

        drv = cls(default_cells=True, deferred=True)
        with open(DEFAULT_NODE_XML, "rb") as fh:
            data = fh.read()
        root = scan(data)
        drv._parse_node_info(root)
        drv._load_domains(root, None, defer=True)
        drv._deferred = dict.fromkeys(_DEFERRED_FAMILIES, data)
        drv._parse_auth_users(root)
        return drv

    def _materialise(self, family: str) -> None:
        """Load a deferred family of test:///default now, as ``load_node`` would have."""
        with self.lock:
            root = self._deferred.pop(family, None)
            if root is None:
                return
            if isinstance(root, bytes):
                # the document's text, kept by open_default: parse it once for all families
                data = root
                root = x.parse_xml(data, "node", "(test driver)")
                for name, value in self._deferred.items():
                    if value is data:
                        self._deferred[name] = root
            getattr(self, "_init_" + family)()
            getattr(self, "_load_" + family)(root, None)

    @classmethod
    def open_file(cls, path: str) -> TestDriver:
        from pathlib import Path

        try:
            data = Path(path).read_bytes()
            root = x.parse_xml(data, url=path)
        except (OSError, libvirtError):
            raise_error(c.VIR_ERR_XML_ERROR, f"failed to parse xml document '{path}'",
                        domain=c.VIR_FROM_TEST)
        if root.tag != "node":
            raise_error(c.VIR_ERR_XML_ERROR,
                        f"unexpected root element <{root.tag}>, expecting <node>",
                        domain=c.VIR_FROM_XML)
        drv = cls()
        drv.load_node(root, Path(path).parent)
        return drv

    def load_node(self, root: Element, base_dir: Path | None) -> None:
        """libvirt's testOpenParse: node info, then each object family, then auth users."""
        self._parse_node_info(root)
        self._load_domains(root, base_dir)
        for loader in ("_load_networks", "_load_interfaces", "_load_pools", "_load_nodedevs"):
            method = getattr(self, loader, None)
            if method is not None:
                method(root, base_dir)
        self._parse_auth_users(root)

    def _parse_node_info(self, root: Element) -> None:
        info = self.node_info

        def uint(path: str, what: str) -> int | None:
            text = x.text_of(root, path)
            if text is None or text == "":
                return None
            try:
                value = int(text.strip())
                if value < 0:
                    raise ValueError
            except ValueError:
                xml_error(f"invalid node {what} value")
            return value

        for attr, path in (("nodes", "cpu/nodes"), ("sockets", "cpu/sockets"),
                           ("cores", "cpu/cores"), ("threads", "cpu/threads")):
            value = uint(path, "cpu " + attr)
            if value is not None:
                setattr(info, attr, value)
        info.cpus = info.cores * info.threads * info.sockets * info.nodes
        active = uint("cpu/active", "cpu active")
        if active is not None and active < info.cpus:
            info.cpus = active
        mhz = uint("cpu/mhz", "cpu mhz")
        if mhz is not None:
            info.mhz = mhz
        model = x.text_of(root, "cpu/model")
        if model is not None:
            info.model = model
        memory = uint("memory", "memory")
        if memory is not None:
            info.memory = memory

    def _parse_auth_users(self, root: Element) -> None:
        for user in root.iterfind("auth/user"):
            name = "".join(user.itertext())
            if not name:
                xml_error("missing username in /node/auth/user field")
            self.auth_users.append(AuthUser(name, user.get("password")))

    def authenticate(self, auth: Any) -> None:
        """libvirt's testConnectAuthenticate: with <auth> users in the node file, ask the
        caller's callback for a user name and password."""
        if not self.auth_users:
            return
        username = _ask_credential(auth, c.VIR_CRED_AUTHNAME, "Enter username for localhost",
                                   "test")
        found = next((u for u in self.auth_users if u.username == username), None)
        password = None
        if found is None or found.password is not None:
            password = _ask_credential(auth, c.VIR_CRED_PASSPHRASE,
                                       f"Enter {username}'s password for localhost", None)
        if found is None or (password is not None and found.password != password):
            raise_error(c.VIR_ERR_AUTH_FAILED,
                        "authentication failed, see test XML for the correct username/password",
                        domain=c.VIR_FROM_TEST)

    # ---- connection ----------------------------------------------------------------------

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        with self.lock:
            self._close_callbacks.pop(id(conn), None)
            self.events.deregister_connection(conn)
        _release(self)

    def connectGetType(self, conn: virConnect) -> str:  # noqa: N802
        return "TEST"

    def connectGetVersion(self, conn: virConnect) -> int:  # noqa: N802
        return 2

    def connectGetMaxVcpus(self, conn: virConnect, type_: str | None) -> int:  # noqa: N802
        return MAX_VCPUS

    def connectSupportsFeature(self, conn: virConnect, feature: int) -> int:  # noqa: N802
        # libvirt_internal.h: TYPED_PARAM_STRING (9), NETWORK_UPDATE_HAS_CORRECT_ORDER (16).
        return int(feature in (9, 16))

    def connectGetSysinfo(self, conn: virConnect, flags: int) -> str:  # noqa: N802
        check_flags("testConnectGetSysinfo", flags, 0, c.VIR_FROM_TEST)
        bios = x.element("bios")
        for name, value in (("vendor", "LENOVO"), ("version", "G4ETA1WW (2.61 )"),
                            ("date", "05/07/2014"), ("release", "2.61")):
            x.sub(bios, "entry", value, name=name)
        root = x.element("sysinfo", type="smbios")
        root.append(bios)
        return x.to_string(root)

    def connectGetCapabilities(self, conn: virConnect) -> str:  # noqa: N802
        if self._caps_xml is None:
            self._caps_xml = self._build_capabilities().to_xml()
        return self._caps_xml

    def _build_capabilities(self) -> Any:
        from pyvirt.conf.capabilities import Capabilities, NumaCPU

        caps = Capabilities.new(TEST_MODEL)
        host = caps.host
        host.cpu.flags = ["pae", "nonpae"]
        page_sizes = [4, 8, 2048, 1024 * 1024]
        host.cpu.pages = page_sizes
        host.iommu = False
        host.numa_cells = []  # libvirt's test driver prints <topology> even without cells
        for i, cell in enumerate(self.cells):
            first = page_sizes[1] if i == 1 else page_sizes[0]
            pages = [(first, cell.mem // first)] + [(size, 0) for size in page_sizes[2:]]
            cpus = [NumaCPU(id=cpu, socket_id=cpu // 8, die_id=0, core_id=cpu % 8,
                            siblings=str(cpu)) for cpu in cell.cpus]
            host.add_numa_cell(i, cell.mem, cpus, pages)
        for os_type in ("hvm", "xen"):
            guest = caps.add_guest(os_type, TEST_MODEL, 32, TEST_EMULATOR)
            guest.add_domain("test")
            guest.add_feature("pae")
            guest.add_feature("nonpae")
        host.add_secmodel(TEST_SECMODEL, "")
        return caps

    def connectGetCPUModelNames(self, conn: virConnect, arch: str, flags: int) -> list[str]:  # noqa: N802
        check_flags("testConnectGetCPUModelNames", flags, 0, c.VIR_FROM_TEST)
        if arch not in ARCH_NAMES:
            raise_error(c.VIR_ERR_INVALID_ARG, f"cannot find architecture {arch}",
                        domain=c.VIR_FROM_TEST)
        if arch in ("i686", "x86_64"):
            return list(X86_CPU_MODELS)
        if arch in ("ppc64", "ppc64le"):
            return list(PPC64_CPU_MODELS)
        if arch in CPU_DRIVER_ARCHES:
            return []  # libvirt's CPU drivers for arm and s390 list no models
        raise_error(c.VIR_ERR_NO_SUPPORT,
                    f"'{arch}' architecture is not supported by CPU driver",
                    domain=c.VIR_FROM_CPU)

    def connectBaselineCPU(self, conn: virConnect, xml_cpus: list[str], flags: int) -> str:  # noqa: N802
        """testConnectBaselineCPU: host CPU definitions parsed and checked as libvirt does
        (virCPUDefListParse, then virCPUBaseline's checks on models and architecture). The
        baseline itself needs libvirt's per-arch feature decoding (x86: cpu_map), which
        pyvirt does not have yet: past the checks, the call is refused as unsupported."""
        check_flags("testConnectBaselineCPU", flags,
                    c.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES, c.VIR_FROM_TEST)
        if not xml_cpus:
            raise_error(c.VIR_ERR_INVALID_ARG, "no CPUs given", domain=c.VIR_FROM_CPU)
        arches = [_host_cpu_arch(text) for text in xml_cpus]
        if arches[0] not in CPU_DRIVER_ARCHES:
            raise_error(c.VIR_ERR_NO_SUPPORT,
                        f"'{arches[0]}' architecture is not supported by CPU driver",
                        domain=c.VIR_FROM_CPU)
        raise_error(c.VIR_ERR_NO_SUPPORT, "virConnectBaselineCPU", domain=c.VIR_FROM_CPU)

    def connectRegisterCloseCallback(self, conn: virConnect, cb: Callable[..., Any],  # noqa: N802
                                     opaque: Any) -> int:
        with self.lock:
            self._close_callbacks[id(conn)] = (cb, opaque)
        return 0

    def connectUnregisterCloseCallback(self, conn: virConnect) -> int:  # noqa: N802
        with self.lock:
            self._close_callbacks.pop(id(conn), None)
        return 0

    # ---- the host ------------------------------------------------------------------------

    def nodeGetInfo(self, conn: virConnect) -> list[Any]:  # noqa: N802
        i = self.node_info
        return [i.model, i.memory // 1024, i.cpus, i.mhz, i.nodes, i.sockets, i.cores,
                i.threads]

    def nodeGetFreeMemory(self, conn: virConnect) -> int:  # noqa: N802
        with self.lock:
            return sum(cell.free_mem for cell in self.cells)

    def nodeGetCellsFreeMemory(self, conn: virConnect, start: int, maxcells: int) -> list[int]:  # noqa: N802
        with self.lock:
            if start < 0 or start >= len(self.cells):
                raise_error(c.VIR_ERR_INVALID_ARG, "Range exceeds available cells",
                            domain=c.VIR_FROM_TEST)
            # libvirt's test driver reports each cell's total as its free memory.
            return [cell.mem for cell in self.cells[start:start + maxcells]]

    def nodeGetCPUStats(self, conn: virConnect, cpu_num: int, flags: int) -> dict[str, int]:  # noqa: N802
        check_flags("testNodeGetCPUStats", flags, 0, c.VIR_FROM_TEST)
        return {"user": 9797400000, "kernel": 34678723400000, "idle": 87264900000,
                "iowait": 763600000}

    def nodeGetFreePages(self, conn: virConnect, pages: list[int], start: int,  # noqa: N802
                         cell_count: int, flags: int) -> dict[int, dict[int, int]]:
        check_flags("testNodeGetFreePages", flags, 0, c.VIR_FROM_TEST)
        # libvirt's test driver fills in counts but reports 0 entries, so callers see none.
        return {}

    def nodeGetCPUMap(self, conn: virConnect, flags: int) -> tuple[int, list[bool], int]:  # noqa: N802
        check_flags("testNodeGetCPUMap", flags, 0, c.VIR_FROM_TEST)
        # libvirt's test driver: eight CPUs, three of them online (0x15).
        return (8, [bool(0x15 & (1 << i)) for i in range(8)], 3)

    def nodeGetSecurityModel(self, conn: virConnect) -> list[str]:  # noqa: N802
        return [TEST_SECMODEL, ""]


def _host_cpu_arch(text: str) -> str:
    """virCPUDefParseXML for a host CPU, as far as baselining needs: the document, its root,
    no guest-only mode, an architecture libvirt knows and a model. Returns the arch."""
    root = x.parse_document(text, None, "(CPU_definition)", c.VIR_FROM_CPU)
    if root.tag != "cpu":
        raise_error(c.VIR_ERR_XML_ERROR, "XML does not contain expected 'cpu' element",
                    domain=c.VIR_FROM_CPU)
    if root.get("mode") is not None:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, "Attribute mode is only allowed for guest CPU",
                    domain=c.VIR_FROM_CPU)
    arch = root.findtext("arch")
    if not arch:
        raise_error(c.VIR_ERR_XML_ERROR, "Missing CPU architecture", domain=c.VIR_FROM_CPU)
    if arch not in ARCH_NAMES:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Unknown architecture {arch}",
                    domain=c.VIR_FROM_CPU)
    if not root.findtext("model"):
        raise_error(c.VIR_ERR_XML_ERROR, "Missing CPU model name", domain=c.VIR_FROM_CPU)
    return arch


class _Deferred:
    """The attribute holding a family's objects, for a driver that defers loading that
    family: the first read loads it (the loader's ``_init_<family>`` then sets the instance
    attribute, which hides this non-data descriptor from then on)."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, drv: TestDriver | None, owner: type | None = None) -> Any:
        if drv is None:
            return self
        drv._materialise(self.family)
        try:
            return drv.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


# Deferrable family -> the driver attributes that hold its objects (set by _init_<family>).
_DEFERRED_FAMILIES = {
    "networks": ("_networks",),
    "interfaces": ("_ifaces", "_ifaces_backup"),
    "pools": ("_pools",),
    "nodedevs": ("_nodedevs",),
}
for _family, _attrs in _DEFERRED_FAMILIES.items():
    for _attr in _attrs:
        _descriptor = _Deferred(_family)
        _descriptor.__set_name__(TestDriver, _attr)
        setattr(TestDriver, _attr, _descriptor)


# ---- auth -----------------------------------------------------------------------------------


def _ask_credential(auth: Any, cred_type: int, prompt: str, default: str | None) -> str:
    """Ask libvirt-python's ``auth = [credtypes, callback, opaque]`` for one credential, as
    virAuthGetUsername/virAuthGetPassword do; no way to ask is an auth failure."""
    if not auth or len(auth) < 2 or auth[1] is None or cred_type not in (auth[0] or []):
        what = "username" if cred_type == c.VIR_CRED_AUTHNAME else "password"
        raise_error(c.VIR_ERR_AUTH_FAILED, f"Missing {what} for test", domain=c.VIR_FROM_AUTH)
    cred = [cred_type, prompt, "", default or "", None]
    callback, opaque = auth[1], auth[2] if len(auth) > 2 else None
    ret = callback([cred], opaque)
    if isinstance(ret, int) and ret < 0 or cred[4] is None:
        raise_error(c.VIR_ERR_AUTH_FAILED, "Failed to collect auth credentials",
                    domain=c.VIR_FROM_AUTH)
    return str(cred[4])


# ---- the shared default instance -----------------------------------------------------------

# Reentrant: opening the default instance allocates, the garbage collector may then finalise
# a forgotten connection (virConnect.__del__ closes it), and that release runs in this same
# thread while the lock is held.
_default_lock = _thread.RLock()
_default_driver: TestDriver | None = None
_refs: dict[int, int] = {}


def acquire_default() -> TestDriver:
    """test:///default: one instance shared by every open connection (libvirt's refcounted
    defaultPrivconn); it is dropped when the last connection closes."""
    global _default_driver
    with _default_lock:
        drv = _default_driver
        if drv is None:
            drv = TestDriver.open_default()
        # a release run by the collector in between may have dropped or reset the count
        _refs[id(drv)] = _refs.get(id(drv), 0) + 1
        _default_driver = drv
        return drv


def _release(drv: TestDriver) -> None:
    global _default_driver
    with _default_lock:
        key = id(drv)
        if key not in _refs:
            return
        _refs[key] -= 1
        if _refs[key] <= 0:
            del _refs[key]
            if drv is _default_driver:
                _default_driver = None


def open_driver(path: str, auth: Any, flags: int) -> TestDriver:
    check_flags("testConnectOpen", flags, c.VIR_CONNECT_RO, c.VIR_FROM_TEST)
    if path in ("", "/"):
        raise_error(c.VIR_ERR_INVALID_ARG, "testOpen: supply a path or use test:///default",
                    domain=c.VIR_FROM_TEST)
    if path == "/default":
        drv = acquire_default()
    else:
        drv = TestDriver.open_file(path)
        with _default_lock:
            _refs[id(drv)] = 1
    try:
        drv.authenticate(auth)
    except BaseException:
        _release(drv)
        raise
    return drv
