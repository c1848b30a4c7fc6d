"""Domain capabilities XML (virConnectGetDomainCapabilities), after libvirt's
domain_capabilities.c.

Drivers build a ``DomainCapabilities`` and print it with ``to_xml()``. Every
"<x supported='yes'> + <enum name='...'><value>" block is a ``CapsBlock``; enum values are
listed in libvirt's enum order by whoever fills them in (libvirt prints its bitmaps in that
order). ``from_xml`` reads the format back, which the tests use to check the formatter
against libvirt's own domaincapsdata files.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

DEVICE_ORDER = ("disk", "graphics", "video", "hostdev", "rng", "filesystem", "tpm", "redirdev",
                "channel")
SIMPLE_FEATURES = ("vmcoreinfo", "genid", "backingStoreInput", "backup", "s390-pv")


@dataclass
class CapsEnum:
    name: str
    values: list[str] = field(default_factory=list)


@dataclass
class CapsBlock:
    """<tag supported='yes|no'> with string values, enums and nested blocks (os/loader)."""

    supported: bool | None = None  # None: not reported at all
    values: list[str] = field(default_factory=list)
    enums: list[CapsEnum] = field(default_factory=list)
    children: dict[str, CapsBlock] = field(default_factory=dict)

    def enum(self, name: str, values: list[str] | None = None) -> CapsEnum:
        """The enum ``name`` (created, reported, when missing), optionally set to values."""
        for found in self.enums:
            if found.name == name:
                break
        else:
            found = CapsEnum(name)
            self.enums.append(found)
        if values is not None:
            found.values = list(values)
        return found

    @classmethod
    def from_element(cls, node: Element | None) -> CapsBlock:
        if node is None:
            return cls()
        block = cls(supported=x.parse_bool(node.get("supported"), "supported"))
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "value":
                block.values.append(child.text or "")
            elif child.tag == "enum":
                block.enums.append(CapsEnum(child.get("name", ""),
                                            [v.text or "" for v in child.iterfind("value")]))
            else:
                block.children[child.tag] = cls.from_element(child)
        return block

    def add_to(self, parent: Element, tag: str) -> None:
        if self.supported is None:
            return
        node = x.sub(parent, tag, supported=x.yes_no(self.supported))
        if not self.supported:
            return
        x.keep_open(node, lines=True)
        for value in self.values:
            x.sub(node, "value", value)
        for enum in self.enums:
            enode = x.sub(node, "enum", name=enum.name)
            for value in enum.values:
                x.sub(enode, "value", value)
        for name, child in self.children.items():
            child.add_to(node, name)


@dataclass
class CPUModel:
    name: str
    usable: str = "unknown"  # unknown | yes | no
    vendor: str | None = None
    deprecated: bool = False


@dataclass
class HostModelCPU:
    """The host-model CPU definition (a guest-type CPU: model fallback, feature policies)."""

    model: str | None = None
    fallback: str = "forbid"
    vendor: str | None = None
    features: list[tuple[str, str]] = field(default_factory=list)  # (policy, name)
    extra: list[Element] = field(default_factory=list)  # e.g. <topology>, <maxphysaddr>

    @classmethod
    def from_element(cls, node: Element) -> HostModelCPU:
        cpu = cls()
        model = node.find("model")
        if model is not None:
            cpu.model = model.text or None
            cpu.fallback = model.get("fallback", "allow")
        cpu.vendor = x.text_of(node, "vendor")
        for child in node:
            if child.tag == "feature":
                cpu.features.append((child.get("policy", "require"), child.get("name", "")))
            elif isinstance(child.tag, str) and child.tag not in ("model", "vendor"):
                from pyvirt.conf.snapshot import clean_copy
                cpu.extra.append(clean_copy(child))
        return cpu

    def fill(self, node: Element) -> None:
        if self.model:
            x.sub(node, "model", self.model, fallback=self.fallback)
        if self.vendor:
            x.sub(node, "vendor", self.vendor)
        for extra in self.extra:
            node.append(_copy.deepcopy(extra))
        for policy, name in self.features:
            x.sub(node, "feature", policy=policy, name=name)


@dataclass
class DomainCapsCPU:
    host_passthrough: bool = False
    host_passthrough_migratable: list[str] | None = None  # on/off values, None: not reported
    maximum: bool = False
    maximum_migratable: list[str] | None = None
    host_model: HostModelCPU | None = None
    custom_models: list[CPUModel] = field(default_factory=list)

    @classmethod
    def from_element(cls, node: Element | None) -> DomainCapsCPU:
        cpu = cls()
        if node is None:
            return cpu
        for mode in node.iterfind("mode"):
            name = mode.get("name")
            supported = mode.get("supported") == "yes"
            if name == "host-passthrough":
                cpu.host_passthrough = supported
                enum = mode.find("enum[@name='hostPassthroughMigratable']")
                if enum is not None:
                    cpu.host_passthrough_migratable = [v.text or "" for v in enum]
            elif name == "maximum":
                cpu.maximum = supported
                enum = mode.find("enum[@name='maximumMigratable']")
                if enum is not None:
                    cpu.maximum_migratable = [v.text or "" for v in enum]
            elif name == "host-model" and supported:
                cpu.host_model = HostModelCPU.from_element(mode)
            elif name == "custom" and supported:
                cpu.custom_models = [
                    CPUModel(name=m.text or "", usable=m.get("usable", "unknown"),
                             vendor=None if m.get("vendor") == "unknown" else m.get("vendor"),
                             deprecated=m.get("deprecated") == "yes")
                    for m in mode.iterfind("model")]
        return cpu

    def add_to(self, parent: Element) -> None:
        node = x.sub(parent, "cpu")
        for name, supported, migratable in (
                ("host-passthrough", self.host_passthrough, self.host_passthrough_migratable),
                ("maximum", self.maximum, self.maximum_migratable)):
            mode = x.sub(node, "mode", name=name, supported=x.yes_no(supported))
            if supported and migratable is not None:
                enum_name = ("hostPassthroughMigratable" if name == "host-passthrough"
                             else "maximumMigratable")
                enum = x.sub(mode, "enum", name=enum_name)
                for value in migratable:
                    x.sub(enum, "value", value)
        mode = x.sub(node, "mode", name="host-model",
                     supported=x.yes_no(self.host_model is not None))
        if self.host_model is not None:
            x.keep_open(mode, lines=True)
            self.host_model.fill(mode)
        mode = x.sub(node, "mode", name="custom", supported=x.yes_no(bool(self.custom_models)))
        for model in self.custom_models:
            x.sub(mode, "model", model.name, usable=model.usable,
                  deprecated="yes" if model.deprecated else None,
                  vendor=model.vendor or "unknown")


@dataclass
class SEVCaps:
    cbitpos: int
    reduced_phys_bits: int
    max_guests: int = 0
    max_es_guests: int = 0
    cpu0_id: str | None = None


@dataclass
class SGXCaps:
    flc: bool
    sgx1: bool
    sgx2: bool
    section_size_kib: int
    sections: list[tuple[int, int]] = field(default_factory=list)  # (node, size KiB)


@dataclass
class DomainCapabilities:
    path: str | None
    virt_type: str
    arch: str
    machine: str | None = None
    max_vcpus: int = 0
    iothreads: bool | None = None
    os: CapsBlock = field(default_factory=CapsBlock)
    cpu: DomainCapsCPU = field(default_factory=DomainCapsCPU)
    memory_backing: CapsBlock = field(default_factory=CapsBlock)
    devices: dict[str, CapsBlock] = field(default_factory=dict)  # keys from DEVICE_ORDER
    gic: CapsBlock = field(default_factory=CapsBlock)
    features: dict[str, bool] = field(default_factory=dict)  # SIMPLE_FEATURES reported
    sev: SEVCaps | None = None
    sgx: SGXCaps | None = None
    hyperv: CapsBlock | None = None

    def device(self, name: str) -> CapsBlock:
        """The block for device ``name``, created (unreported) when missing."""
        if name not in DEVICE_ORDER:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unknown domain capabilities device '{name}'",
                        domain=c.VIR_FROM_CAPABILITIES)
        return self.devices.setdefault(name, CapsBlock())

    @classmethod
    def from_xml(cls, text: str | bytes) -> DomainCapabilities:
        root = x.parse_xml(text, "domainCapabilities", "(domain_capabilities)")
        caps = cls(path=x.text_of(root, "path"), virt_type=x.text_of(root, "domain") or "",
                   arch=x.text_of(root, "arch") or "", machine=x.text_of(root, "machine"))
        vcpu = root.find("vcpu")
        if vcpu is not None:
            caps.max_vcpus = x.parse_int(vcpu.get("max"), "vcpu max") or 0
        iothreads = root.find("iothreads")
        if iothreads is not None:
            caps.iothreads = x.parse_bool(iothreads.get("supported"), "iothreads supported")
        caps.os = CapsBlock.from_element(root.find("os"))
        caps.cpu = DomainCapsCPU.from_element(root.find("cpu"))
        caps.memory_backing = CapsBlock.from_element(root.find("memoryBacking"))
        devices = root.find("devices")
        if devices is not None:
            for dev in devices:
                if isinstance(dev.tag, str):
                    caps.devices[dev.tag] = CapsBlock.from_element(dev)
        feats = root.find("features")
        if feats is not None:
            caps.gic = CapsBlock.from_element(feats.find("gic"))
            for name in SIMPLE_FEATURES:
                node = feats.find(name)
                if node is not None:
                    caps.features[name] = node.get("supported") == "yes"
            sev = feats.find("sev[@supported='yes']")
            if sev is not None:
                caps.sev = SEVCaps(
                    cbitpos=int(x.text_of(sev, "cbitpos") or 0),
                    reduced_phys_bits=int(x.text_of(sev, "reducedPhysBits") or 0),
                    max_guests=int(x.text_of(sev, "maxGuests") or 0),
                    max_es_guests=int(x.text_of(sev, "maxESGuests") or 0),
                    cpu0_id=x.text_of(sev, "cpu0Id"))
            sgx = feats.find("sgx[@supported='yes']")
            if sgx is not None:
                caps.sgx = SGXCaps(
                    flc=x.text_of(sgx, "flc") == "yes", sgx1=x.text_of(sgx, "sgx1") == "yes",
                    sgx2=x.text_of(sgx, "sgx2") == "yes",
                    section_size_kib=int(x.text_of(sgx, "section_size") or 0),
                    sections=[(int(s.get("node", "0")), int(s.get("size", "0")))
                              for s in sgx.iterfind("sections/section")])
            hyperv = feats.find("hyperv")
            if hyperv is not None:
                caps.hyperv = CapsBlock.from_element(hyperv)
        return caps

    def to_element(self) -> Element:
        root = x.element("domainCapabilities")
        if self.path is not None:
            x.sub(root, "path", self.path)
        x.sub(root, "domain", self.virt_type)
        if self.machine:
            x.sub(root, "machine", self.machine)
        x.sub(root, "arch", self.arch)
        if self.max_vcpus:
            x.sub(root, "vcpu", max=self.max_vcpus)
        if self.iothreads is not None:
            x.sub(root, "iothreads", supported=x.yes_no(self.iothreads))
        self.os.add_to(root, "os")
        self.cpu.add_to(root)
        self.memory_backing.add_to(root, "memoryBacking")
        devices = x.keep_open(x.sub(root, "devices"), lines=True)
        for name in DEVICE_ORDER:
            if name in self.devices:
                self.devices[name].add_to(devices, name)
        feats = x.sub(root, "features")
        self.gic.add_to(feats, "gic")
        for name in SIMPLE_FEATURES:
            if name in self.features:
                x.sub(feats, name, supported=x.yes_no(self.features[name]))
        if self.sev is None:
            x.sub(feats, "sev", supported="no")
        else:
            sev = x.sub(feats, "sev", supported="yes")
            x.sub(sev, "cbitpos", self.sev.cbitpos)
            x.sub(sev, "reducedPhysBits", self.sev.reduced_phys_bits)
            x.sub(sev, "maxGuests", self.sev.max_guests)
            x.sub(sev, "maxESGuests", self.sev.max_es_guests)
            if self.sev.cpu0_id is not None:
                x.sub(sev, "cpu0Id", self.sev.cpu0_id)
        if self.sgx is None:
            x.sub(feats, "sgx", supported="no")
        else:
            sgx = x.sub(feats, "sgx", supported="yes")
            x.sub(sgx, "flc", x.yes_no(self.sgx.flc))
            x.sub(sgx, "sgx1", x.yes_no(self.sgx.sgx1))
            x.sub(sgx, "sgx2", x.yes_no(self.sgx.sgx2))
            x.sub(sgx, "section_size", self.sgx.section_size_kib, unit="KiB")
            if self.sgx.sections:
                sections = x.sub(sgx, "sections")
                for node, size in self.sgx.sections:
                    x.sub(sections, "section", node=node, size=size, unit="KiB")
        if self.hyperv is not None:
            self.hyperv.add_to(feats, "hyperv")
        return root

    def to_xml(self) -> str:
        """virDomainCapsFormat."""
        return x.to_string(self.to_element())
