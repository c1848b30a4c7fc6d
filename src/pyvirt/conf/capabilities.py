"""Host capabilities XML (virConnectGetCapabilities): <capabilities> with <host>, <guest>, <pool>.

Drivers build a ``Capabilities`` programmatically (see ``Capabilities.add_guest`` and
``HostCaps.add_numa_cell``) and print it with ``to_xml()``, which follows libvirt's
virCapabilitiesFormatXML exactly, including the blank line after each top-level section.
``Capabilities.from_xml`` reads the same format back (for tests and remote clients).

Building, e.g. libvirt's test driver host::

    caps = Capabilities.new("i686")
    caps.host.cpu.flags = ["pae", "nonpae"]
    caps.host.cpu.pages = [4, 8, 2048, 1048576]
    caps.host.add_numa_cell(0, 2097152, [NumaCPU(id=0, socket_id=0, core_id=0, siblings="0")],
                            pages=[(4, 524288), (2048, 0), (1048576, 0)])
    caps.host.add_secmodel("testSecurity")
    guest = caps.add_guest("hvm", "i686", 32, "/usr/bin/test-hv")
    guest.add_domain("test")
    guest.add_feature("pae")
    guest.add_feature("nonpae")
    xml = caps.to_xml()
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

# Fixed print order of guest features (libvirt's virCapsGuestFeatureInfos table).
GUEST_FEATURE_ORDER = (
    "pae", "nonpae", "ia64_be", "acpi", "apic", "cpuselection", "deviceboot",
    "disksnapshot", "hap",
)
PM_TARGETS = ("suspend_mem", "suspend_disk", "suspend_hybrid")


def _int(node: Element, attr: str, what: str, default: int | None = None) -> int | None:
    value = x.parse_int(node.get(attr), what)
    return default if value is None else value


def _req_int(node: Element, attr: str, what: str) -> int:
    value = x.parse_int(node.get(attr), what)
    if value is None:
        raise_error(c.VIR_ERR_XML_ERROR, f"missing {what}", domain=c.VIR_FROM_CAPABILITIES)
    return value


def _text_int(parent: Element, path: str, what: str) -> int | None:
    return x.parse_int(x.text_of(parent, path), what)


# ---- host CPU -----------------------------------------------------------------------------


@dataclass
class CPUTopology:
    sockets: int = 1
    dies: int = 1
    cores: int = 1
    threads: int = 1


@dataclass
class HostCPU:
    """The host's <cpu>: arch, host flags (<features>), then the CPU definition proper."""

    arch: str | None = None
    flags: list[str] = field(default_factory=list)  # <features><pae/>... (old-style host flags)
    model: str | None = None
    vendor: str | None = None
    microcode: int | None = None
    signature: tuple[int, int, int] | None = None  # family, model, stepping
    tsc_frequency: int | None = None
    tsc_scaling: bool | None = None
    topology: CPUTopology | None = None
    cache: tuple[int | None, str] | None = None  # level (None: unspecified), mode
    maxphysaddr: tuple[str, int | None] | None = None  # mode, bits
    features: list[str] = field(default_factory=list)  # <feature name='...'/>
    pages: list[int] = field(default_factory=list)  # page sizes in KiB

    @classmethod
    def from_element(cls, node: Element) -> HostCPU:
        cpu = cls(arch=x.text_of(node, "arch"))
        feats = node.find("features")
        if feats is not None:
            cpu.flags = [x.local_name(f) for f in feats if isinstance(f.tag, str)]
        cpu.model = x.text_of(node, "model")
        cpu.vendor = x.text_of(node, "vendor")
        mc = node.find("microcode")
        if mc is not None:
            cpu.microcode = _int(mc, "version", "microcode version")
        sig = node.find("signature")
        if sig is not None:
            cpu.signature = (_req_int(sig, "family", "signature family"),
                             _req_int(sig, "model", "signature model"),
                             _req_int(sig, "stepping", "signature stepping"))
        counter = node.find("counter[@name='tsc']")
        if counter is not None:
            cpu.tsc_frequency = _int(counter, "frequency", "tsc frequency")
            cpu.tsc_scaling = x.parse_bool(counter.get("scaling"), "tsc scaling")
        topo = node.find("topology")
        if topo is not None:
            cpu.topology = CPUTopology(
                sockets=_req_int(topo, "sockets", "topology sockets"),
                dies=_int(topo, "dies", "topology dies", 1) or 1,
                cores=_req_int(topo, "cores", "topology cores"),
                threads=_req_int(topo, "threads", "topology threads"),
            )
        cache = node.find("cache")
        if cache is not None:
            cpu.cache = (_int(cache, "level", "cache level"), cache.get("mode", "passthrough"))
        addr = node.find("maxphysaddr")
        if addr is not None:
            cpu.maxphysaddr = (addr.get("mode", "passthrough"),
                               _int(addr, "bits", "maxphysaddr bits"))
        cpu.features = [f.get("name", "") for f in node.iterfind("feature")]
        cpu.pages = [_req_int(p, "size", "page size") for p in node.iterfind("pages")]
        return cpu

    def to_element(self) -> Element:
        node = x.element("cpu")
        if self.arch:
            x.sub(node, "arch", self.arch)
        if self.flags:
            feats = x.sub(node, "features")
            for flag in self.flags:
                x.sub(feats, flag)
        if self.model:
            x.sub(node, "model", self.model)
        if self.vendor:
            x.sub(node, "vendor", self.vendor)
        if self.microcode:
            x.sub(node, "microcode", version=self.microcode)
        if self.signature and self.signature[0]:
            x.sub(node, "signature", family=self.signature[0], model=self.signature[1],
                  stepping=self.signature[2])
        if self.tsc_frequency is not None:
            x.sub(node, "counter", name="tsc", frequency=self.tsc_frequency,
                  scaling=x.yes_no(self.tsc_scaling))
        topo = self.topology
        if topo and topo.sockets and topo.dies and topo.cores and topo.threads:
            x.sub(node, "topology", sockets=topo.sockets, dies=topo.dies, cores=topo.cores,
                  threads=topo.threads)
        if self.cache:
            x.sub(node, "cache", level=self.cache[0], mode=self.cache[1])
        if self.maxphysaddr:
            x.sub(node, "maxphysaddr", mode=self.maxphysaddr[0], bits=self.maxphysaddr[1])
        for name in self.features:
            x.sub(node, "feature", name=name)
        for size in self.pages:
            x.sub(node, "pages", unit="KiB", size=size)
        return node


# ---- NUMA ---------------------------------------------------------------------------------


@dataclass
class NumaCPU:
    id: int
    socket_id: int | None = None  # None: no topology known (only id printed)
    die_id: int = 0
    core_id: int = 0
    siblings: str = ""  # libvirt bitmap string, e.g. "0,8" or "0-3"


@dataclass
class NumaCache:
    level: int
    size_kib: int
    associativity: str | None = None  # none | direct | full
    policy: str | None = None  # none | writeback | writethrough
    line: int | None = None  # bytes


@dataclass
class NumaInterconnect:
    kind: str  # latency | bandwidth
    initiator: int
    target: int
    type: str  # access | read | write
    value: int
    cache: int | None = None


@dataclass
class NumaCell:
    id: int
    memory_kib: int = 0
    pages: list[tuple[int, int]] = field(default_factory=list)  # (size KiB, available)
    distances: list[tuple[int, int]] = field(default_factory=list)  # (cell id, value)
    caches: list[NumaCache] = field(default_factory=list)
    cpus: list[NumaCPU] = field(default_factory=list)

    @classmethod
    def from_element(cls, node: Element) -> NumaCell:
        cell = cls(id=_req_int(node, "id", "cell id"))
        cell.memory_kib = x.parse_memory_kib(node.find("memory"), "cell memory") or 0
        cell.pages = [(_req_int(p, "size", "page size"), int((p.text or "0").strip()))
                      for p in node.iterfind("pages")]
        cell.distances = [(_req_int(s, "id", "sibling id"), _req_int(s, "value", "sibling value"))
                          for s in node.iterfind("distances/sibling")]
        for cache in node.iterfind("cache"):
            size = cache.find("size")
            line = cache.find("line")
            cell.caches.append(NumaCache(
                level=_req_int(cache, "level", "cache level"),
                size_kib=_req_int(size, "value", "cache size") if size is not None else 0,
                associativity=cache.get("associativity"),
                policy=cache.get("policy"),
                line=_int(line, "value", "cache line") if line is not None else None,
            ))
        for cpu in node.iterfind("cpus/cpu"):
            socket = _int(cpu, "socket_id", "cpu socket_id")
            cell.cpus.append(NumaCPU(
                id=_req_int(cpu, "id", "cpu id"), socket_id=socket,
                die_id=_int(cpu, "die_id", "cpu die_id", 0) or 0,
                core_id=_int(cpu, "core_id", "cpu core_id", 0) or 0,
                siblings=cpu.get("siblings", ""),
            ))
        return cell

    def to_element(self) -> Element:
        node = x.element("cell", id=self.id)
        if self.memory_kib:
            x.sub(node, "memory", self.memory_kib, unit="KiB")
        for size, avail in self.pages:
            x.sub(node, "pages", avail, unit="KiB", size=size)
        if any(value for _, value in self.distances):
            dist = x.sub(node, "distances")
            for cell_id, value in self.distances:
                if value:
                    x.sub(dist, "sibling", id=cell_id, value=value)
        for cache in self.caches:
            cnode = x.sub(node, "cache", level=cache.level, associativity=cache.associativity,
                          policy=cache.policy)
            x.sub(cnode, "size", value=cache.size_kib, unit="KiB")
            if cache.line:
                x.sub(cnode, "line", value=cache.line, unit="B")
        cpus = x.sub(node, "cpus", num=len(self.cpus))
        for cpu in self.cpus:
            if cpu.socket_id is None:
                x.sub(cpus, "cpu", id=cpu.id)
            else:
                x.sub(cpus, "cpu", id=cpu.id, socket_id=cpu.socket_id, die_id=cpu.die_id,
                      core_id=cpu.core_id, siblings=cpu.siblings)
        return node


# ---- resctrl caches and memory bandwidth --------------------------------------------------


@dataclass
class ResctrlMonitor:
    max_monitors: int
    features: list[str] = field(default_factory=list)
    level: int | None = None  # cache monitors only
    reuse_threshold: int | None = None

    @classmethod
    def from_element(cls, node: Element) -> ResctrlMonitor:
        return cls(max_monitors=_req_int(node, "maxMonitors", "monitor maxMonitors"),
                   features=[f.get("name", "") for f in node.iterfind("feature")],
                   level=_int(node, "level", "monitor level"),
                   reuse_threshold=_int(node, "reuseThreshold", "monitor reuseThreshold"))

    def add_to(self, parent: Element) -> None:
        if not self.features:
            return
        node = x.sub(parent, "monitor", level=self.level, reuseThreshold=self.reuse_threshold,
                     maxMonitors=self.max_monitors)
        for name in self.features:
            x.sub(node, "feature", name=name)


@dataclass
class CacheControl:
    granularity: int
    unit: str
    type: str
    max_allocs: int
    min: int | None = None


@dataclass
class CacheBank:
    id: int
    level: int
    type: str  # both | code | data
    size: int  # in ``unit``
    unit: str
    cpus: str  # bitmap string
    controls: list[CacheControl] = field(default_factory=list)


@dataclass
class MemBWNode:
    id: int
    cpus: str
    granularity: int
    min: int
    max_allocs: int


# ---- security models ----------------------------------------------------------------------


@dataclass
class SecModel:
    model: str
    doi: str = ""
    baselabels: list[tuple[str, str]] = field(default_factory=list)  # (virt type, label)


# ---- host ---------------------------------------------------------------------------------


@dataclass
class HostCaps:
    uuid: str | None = None
    cpu: HostCPU = field(default_factory=HostCPU)
    power_management: list[str] = field(default_factory=list)
    iommu: bool = False
    offline_migrate: bool = False
    live_migrate: bool = False
    migrate_transports: list[str] = field(default_factory=list)
    netprefix: str | None = None
    numa_cells: list[NumaCell] | None = None  # None: no <topology>
    interconnects: list[NumaInterconnect] = field(default_factory=list)
    cache_banks: list[CacheBank] = field(default_factory=list)
    cache_monitor: ResctrlMonitor | None = None
    membw_nodes: list[MemBWNode] = field(default_factory=list)
    membw_monitor: ResctrlMonitor | None = None
    secmodels: list[SecModel] = field(default_factory=list)

    def add_numa_cell(self, cell_id: int, memory_kib: int, cpus: list[NumaCPU],
                      pages: list[tuple[int, int]] | None = None,
                      distances: list[tuple[int, int]] | None = None) -> NumaCell:
        cell = NumaCell(id=cell_id, memory_kib=memory_kib, cpus=list(cpus),
                        pages=list(pages or []), distances=list(distances or []))
        if self.numa_cells is None:
            self.numa_cells = []
        self.numa_cells.append(cell)
        return cell

    def add_secmodel(self, model: str, doi: str = "",
                     baselabels: list[tuple[str, str]] | None = None) -> SecModel:
        sec = SecModel(model=model, doi=doi, baselabels=list(baselabels or []))
        self.secmodels.append(sec)
        return sec

    @classmethod
    def from_element(cls, node: Element) -> HostCaps:
        host = cls()
        uuid = x.text_of(node, "uuid")
        if uuid is not None:
            host.uuid = x.parse_uuid(uuid)
            if host.uuid is None:
                raise_error(c.VIR_ERR_XML_ERROR, f"malformed uuid element '{uuid}'",
                            domain=c.VIR_FROM_CAPABILITIES)
        cpu = node.find("cpu")
        if cpu is not None:
            host.cpu = HostCPU.from_element(cpu)
        pm = node.find("power_management")
        if pm is not None:
            host.power_management = [x.local_name(t) for t in pm if isinstance(t.tag, str)]
        iommu = node.find("iommu")
        if iommu is not None:
            host.iommu = bool(x.parse_bool(iommu.get("support"), "iommu support"))
        mig = node.find("migration_features")
        if mig is not None:
            host.offline_migrate = True
            host.live_migrate = mig.find("live") is not None
            host.migrate_transports = [t.text or "" for t in
                                       mig.iterfind("uri_transports/uri_transport")]
        host.netprefix = x.text_of(node, "netprefix")
        topo = node.find("topology")
        if topo is not None:
            host.numa_cells = [NumaCell.from_element(n) for n in topo.iterfind("cells/cell")]
            for link in topo.iterfind("interconnects/*"):
                host.interconnects.append(NumaInterconnect(
                    kind=x.local_name(link),
                    initiator=_req_int(link, "initiator", "interconnect initiator"),
                    target=_req_int(link, "target", "interconnect target"),
                    type=link.get("type", "access"),
                    value=_req_int(link, "value", "interconnect value"),
                    cache=_int(link, "cache", "interconnect cache"),
                ))
        for bank in node.iterfind("cache/bank"):
            host.cache_banks.append(CacheBank(
                id=_req_int(bank, "id", "bank id"), level=_req_int(bank, "level", "bank level"),
                type=bank.get("type", "both"), size=_req_int(bank, "size", "bank size"),
                unit=bank.get("unit", "B"), cpus=bank.get("cpus", ""),
                controls=[CacheControl(
                    granularity=_req_int(ctl, "granularity", "control granularity"),
                    min=_int(ctl, "min", "control min"), unit=ctl.get("unit", "B"),
                    type=ctl.get("type", "both"),
                    max_allocs=_req_int(ctl, "maxAllocs", "control maxAllocs"),
                ) for ctl in bank.iterfind("control")],
            ))
        mon = node.find("cache/monitor")
        if mon is not None:
            host.cache_monitor = ResctrlMonitor.from_element(mon)
        for bwnode in node.iterfind("memory_bandwidth/node"):
            ctl = bwnode.find("control")
            host.membw_nodes.append(MemBWNode(
                id=_req_int(bwnode, "id", "node id"), cpus=bwnode.get("cpus", ""),
                granularity=_int(ctl, "granularity", "control granularity", 0) or 0
                if ctl is not None else 0,
                min=(_int(ctl, "min", "control min", 0) or 0) if ctl is not None else 0,
                max_allocs=(_int(ctl, "maxAllocs", "control maxAllocs", 0) or 0)
                if ctl is not None else 0,
            ))
        mon = node.find("memory_bandwidth/monitor")
        if mon is not None:
            host.membw_monitor = ResctrlMonitor.from_element(mon)
        for sec in node.iterfind("secmodel"):
            host.secmodels.append(SecModel(
                model=x.text_of(sec, "model") or "", doi=x.text_of(sec, "doi") or "",
                baselabels=[(b.get("type", ""), b.text or "") for b in sec.iterfind("baselabel")],
            ))
        return host

    def is_empty(self) -> bool:
        return not (self.uuid or self.cpu.arch or self.power_management or self.iommu)

    def to_element(self) -> Element:
        node = x.element("host")
        if self.uuid:
            x.sub(node, "uuid", self.uuid)
        node.append(self.cpu.to_element())
        pm = x.sub(node, "power_management")
        for target in PM_TARGETS:
            if target in self.power_management:
                x.sub(pm, target)
        x.sub(node, "iommu", support=x.yes_no(self.iommu))
        if self.offline_migrate:
            mig = x.keep_open(x.sub(node, "migration_features"), lines=True)
            if self.live_migrate:
                x.sub(mig, "live")
            if self.migrate_transports:
                transports = x.sub(mig, "uri_transports")
                for name in self.migrate_transports:
                    x.sub(transports, "uri_transport", name)
        if self.netprefix:
            x.sub(node, "netprefix", self.netprefix)
        if self.numa_cells is not None:
            topo = x.sub(node, "topology")
            cells = x.sub(topo, "cells", num=len(self.numa_cells))
            if not self.numa_cells:
                x.keep_open(cells, lines=True)  # libvirt's empty block: open, close lines
            for cell in self.numa_cells:
                cells.append(cell.to_element())
            if self.interconnects:
                links = x.sub(topo, "interconnects")
                for link in self.interconnects:
                    x.sub(links, link.kind, initiator=link.initiator, target=link.target,
                          cache=link.cache or None, type=link.type, value=link.value,
                          unit="KiB" if link.kind == "bandwidth" else None)
        if self.cache_banks or self.cache_monitor:
            cache = x.sub(node, "cache")
            for bank in self.cache_banks:
                bnode = x.sub(cache, "bank", id=bank.id, level=bank.level, type=bank.type,
                              size=bank.size, unit=bank.unit, cpus=bank.cpus)
                for ctl in bank.controls:
                    x.sub(bnode, "control", granularity=ctl.granularity, min=ctl.min or None,
                          unit=ctl.unit, type=ctl.type, maxAllocs=ctl.max_allocs)
            if self.cache_monitor:
                self.cache_monitor.add_to(cache)
        if self.membw_nodes or self.membw_monitor:
            membw = x.sub(node, "memory_bandwidth")
            for bw in self.membw_nodes:
                bwnode = x.sub(membw, "node", id=bw.id, cpus=bw.cpus)
                x.sub(bwnode, "control", granularity=bw.granularity, min=bw.min,
                      maxAllocs=bw.max_allocs)
            if self.membw_monitor:
                self.membw_monitor.add_to(membw)
        for sec in self.secmodels:
            snode = x.sub(node, "secmodel")
            x.sub(snode, "model", sec.model)
            x.keep_open(x.sub(snode, "doi", sec.doi))
            for vtype, label in sec.baselabels:
                x.sub(snode, "baselabel", label, type=vtype)
        return node


# ---- guests -------------------------------------------------------------------------------


@dataclass
class Machine:
    name: str
    canonical: str | None = None
    max_cpus: int = 0
    deprecated: bool = False


@dataclass
class GuestDomain:
    type: str  # qemu, kvm, test, lxc ...
    emulator: str | None = None
    loader: str | None = None
    machines: list[Machine] = field(default_factory=list)


@dataclass
class GuestFeature:
    name: str
    default: bool | None = None  # default='on|off'
    toggle: bool | None = None  # toggle='yes|no'


def _machines(parent: Element) -> list[Machine]:
    return [Machine(name=(m.text or "").strip(), canonical=m.get("canonical"),
                    max_cpus=_int(m, "maxCpus", "machine maxCpus", 0) or 0,
                    deprecated=bool(x.parse_bool(m.get("deprecated"), "machine deprecated")))
            for m in parent.iterfind("machine")]


def _add_machines(parent: Element, machines: list[Machine], with_deprecated: bool) -> None:
    for mach in machines:
        x.sub(parent, "machine", mach.name, canonical=mach.canonical,
              maxCpus=mach.max_cpus if mach.max_cpus > 0 else None,
              deprecated="yes" if (mach.deprecated and with_deprecated) else None)


@dataclass
class GuestCaps:
    os_type: str  # hvm, xen, linux, exe ...
    arch: str
    wordsize: int
    emulator: str | None = None
    loader: str | None = None
    machines: list[Machine] = field(default_factory=list)
    domains: list[GuestDomain] = field(default_factory=list)
    features: list[GuestFeature] = field(default_factory=list)

    def add_domain(self, virt_type: str, emulator: str | None = None,
                   machines: list[Machine] | None = None) -> GuestDomain:
        dom = GuestDomain(type=virt_type, emulator=emulator, machines=list(machines or []))
        self.domains.append(dom)
        return dom

    def add_feature(self, name: str, default: bool | None = None,
                    toggle: bool | None = None) -> GuestFeature:
        if name not in GUEST_FEATURE_ORDER:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unknown guest feature '{name}'",
                        domain=c.VIR_FROM_CAPABILITIES)
        feat = GuestFeature(name=name, default=default, toggle=toggle)
        self.features = [f for f in self.features if f.name != name] + [feat]
        return feat

    @classmethod
    def from_element(cls, node: Element) -> GuestCaps:
        arch = node.find("arch")
        if arch is None:
            raise_error(c.VIR_ERR_XML_ERROR, "missing guest arch", domain=c.VIR_FROM_CAPABILITIES)
        guest = cls(
            os_type=x.text_of(node, "os_type") or "",
            arch=arch.get("name", ""),
            wordsize=_text_int(arch, "wordsize", "wordsize") or 0,
            emulator=x.text_of(arch, "emulator"),
            loader=x.text_of(arch, "loader"),
            machines=_machines(arch),
        )
        for dom in arch.iterfind("domain"):
            guest.domains.append(GuestDomain(type=dom.get("type", ""),
                                             emulator=x.text_of(dom, "emulator"),
                                             loader=x.text_of(dom, "loader"),
                                             machines=_machines(dom)))
        feats = node.find("features")
        if feats is not None:
            for feat in feats:
                if isinstance(feat.tag, str):
                    guest.features.append(GuestFeature(
                        name=x.local_name(feat),
                        default=x.parse_bool(feat.get("default"), "feature default", "on", "off"),
                        toggle=x.parse_bool(feat.get("toggle"), "feature toggle"),
                    ))
        return guest

    def to_element(self) -> Element:
        node = x.element("guest")
        x.sub(node, "os_type", self.os_type)
        arch = x.sub(node, "arch", name=self.arch)
        x.sub(arch, "wordsize", self.wordsize)
        if self.emulator:
            x.sub(arch, "emulator", self.emulator)
        if self.loader:
            x.sub(arch, "loader", self.loader)
        _add_machines(arch, self.machines, True)
        for dom in self.domains:
            dnode = x.sub(arch, "domain", type=dom.type)
            if dom.emulator:
                x.sub(dnode, "emulator", dom.emulator)
            if dom.loader:
                x.sub(dnode, "loader", dom.loader)
            # libvirt omits deprecated='yes' on per-domain machines.
            _add_machines(dnode, dom.machines, False)
        order = {name: i for i, name in enumerate(GUEST_FEATURE_ORDER)}
        feats = sorted(self.features, key=lambda f: order.get(f.name, len(order)))
        if feats:
            fnode = x.sub(node, "features")
            for feat in feats:
                x.sub(fnode, feat.name, default=x.on_off(feat.default),
                      toggle=x.yes_no(feat.toggle))
        return node


# ---- the document -------------------------------------------------------------------------


@dataclass
class Capabilities:
    host: HostCaps = field(default_factory=HostCaps)
    guests: list[GuestCaps] = field(default_factory=list)
    pool_types: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, arch: str, offline_migrate: bool = False,
            live_migrate: bool = False) -> Capabilities:
        """As virCapabilitiesNew: an empty host of ``arch``."""
        return cls(host=HostCaps(cpu=HostCPU(arch=arch), offline_migrate=offline_migrate,
                                 live_migrate=live_migrate))

    def add_guest(self, os_type: str, arch: str, wordsize: int, emulator: str | None = None,
                  machines: list[Machine] | None = None) -> GuestCaps:
        guest = GuestCaps(os_type=os_type, arch=arch, wordsize=wordsize, emulator=emulator,
                          machines=list(machines or []))
        self.guests.append(guest)
        return guest

    def guest_for(self, os_type: str, arch: str | None = None,
                  virt_type: str | None = None) -> GuestCaps | None:
        """First guest matching ``os_type`` (and ``arch``/``virt_type`` when given)."""
        for guest in self.guests:
            if guest.os_type != os_type or (arch and guest.arch != arch):
                continue
            if virt_type and not any(d.type == virt_type for d in guest.domains):
                continue
            return guest
        return None

    def emulator_for(self, os_type: str, arch: str, virt_type: str) -> str | None:
        """The emulator a domain of this kind gets by default (the per-domain-type one first,
        as virCapabilitiesDomainDataLookup), or None when the host cannot run it."""
        guest = self.guest_for(os_type, arch, virt_type)
        if guest is None:
            return None
        for dom in guest.domains:
            if dom.type == virt_type and dom.emulator:
                return dom.emulator
        return guest.emulator

    def machines_for(self, os_type: str, arch: str, virt_type: str) -> list[Machine]:
        guest = self.guest_for(os_type, arch, virt_type)
        if guest is None:
            return []
        for dom in guest.domains:
            if dom.type == virt_type and dom.machines:
                return dom.machines
        return guest.machines

    @classmethod
    def from_xml(cls, text: str | bytes) -> Capabilities:
        root = x.parse_document(text, "capabilities", "(capabilities)",
                                  c.VIR_FROM_CAPABILITIES)
        return cls.from_element(root)

    @classmethod
    def from_element(cls, root: Element) -> Capabilities:
        caps = cls()
        host = root.find("host")
        if host is not None:
            caps.host = HostCaps.from_element(host)
        caps.guests = [GuestCaps.from_element(g) for g in root.iterfind("guest")]
        caps.pool_types = [v.text or "" for v in root.iterfind("pool/enum[@name='type']/value")]
        return caps

    def to_xml(self) -> str:
        # Sections are printed one by one because libvirt follows each with a blank line.
        parts = ["<capabilities>\n\n"]
        if not self.host.is_empty():
            parts.append(x.to_string(self.host.to_element(), 1) + "\n")
        for guest in self.guests:
            parts.append(x.to_string(guest.to_element(), 1) + "\n")
        if self.pool_types:
            pool = x.element("pool")
            enum = x.sub(pool, "enum", name="type")
            for name in self.pool_types:
                x.sub(enum, "value", name)
            parts.append(x.to_string(pool, 1) + "\n")
        parts.append("</capabilities>\n")
        return "".join(parts)
