"""<domain>: the top-level model, its parse -> post-parse -> validate -> format pipeline.

Typed fields cover what drivers use; elements pyvirt does not model yet are kept as ``XNode``
trees (``DomainDef.extra``) and printed back in libvirt's element order.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain import cputune as cputune_mod
from pyvirt.conf.domain.devices import Devices
from pyvirt.conf.domain.metadata import Metadata
from pyvirt.conf.domain.xnode import Extra, Reader, Writer, XNode
from pyvirt.conf.network.xmldoc import parse_document
from pyvirt.conf.xmlutil import (
    NS_LAST_ATTR,
    Element,
    new_uuid,
    parse_int,
    parse_uuid,
    scale,
    to_string,
)
from pyvirt.errors import raise_error

VIRT_TYPES = ("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
              "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "hvf")
OS_TYPES = ("hvm", "xen", "linux", "exe", "uml", "xenpvh")
LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                     "coredump-restart")
BOOT_DEVICES = ("fd", "cdrom", "hd", "network")

# virDomainDefFormatInternal's order of top-level elements.
TOP_ORDER = (
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
    "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads",
    "iothreadids", "defaultiothread", "cputune", "numatune", "resource", "sysinfo",
    "bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock", "on_poweroff",
    "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices", "seclabel", "keywrap",
    "launchSecurity",
)
OS_ORDER = (
    "type", "firmware", "init", "initarg", "initenv", "initdir", "inituser", "initgroup",
    "loader", "nvram", "kernel", "initrd", "cmdline", "dtb", "root", "acpi", "boot",
    "bootmenu", "bios", "smbios",
)

GENERIC_FEATURES = frozenset({"individual-vcpus"})

# os.uname() is what platform.machine() reads, without importing platform.
_HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(os.uname().machine.lower(),
                                                        os.uname().machine or "x86_64")


def _memory_kib(node: Element | None, xpath: str, capped: bool = True) -> int:
    """virDomainParseMemory: a scaled value (KiB by default) rounded up to KiB."""
    if node is None:
        return 0
    text = (node.text or "").strip()
    unit = node.get("unit")
    # virMemoryMaxValue on 64-bit hosts: off_t's range, or any unsigned long long
    limit = (2**63 - 1) if capped else (2**64 - 1)
    try:
        int(text)
        if int(text) < 0:
            raise ValueError
    except ValueError:
        raise_error(c.VIR_ERR_XML_ERROR,
                    f"Invalid value '{text}' for element or attribute '{xpath}'",
                    domain=c.VIR_FROM_XML)
    nbytes = scale(text, unit, "KiB", xpath, limit=2**64 - 1)
    kib = (nbytes + 1023) // 1024
    if kib >= (limit + 1023) // 1024:
        raise_error(c.VIR_ERR_OVERFLOW, "size value too large", domain=c.VIR_FROM_DOMAIN)
    return kib


@dataclass
class Loader:
    """<loader> of <os>: the firmware image."""

    path: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    def format(self) -> Element:
        el = etree.Element("loader")
        attrs = dict(self.attrs)
        if self.path and "type" not in attrs:
            attrs["type"] = "rom"  # virDomainDefPostParseOs
        for key in ("readonly", "secure", "type", "stateless"):
            if key in attrs:
                el.set(key, attrs.pop(key))
        for key, value in attrs.items():
            el.set(key, value)
        if self.path:
            el.text = self.path
        return el


@dataclass
class OSDef:
    """<os>: the guest's OS type, boot and firmware settings."""

    type: str = "hvm"
    arch: str | None = None
    machine: str | None = None
    firmware: str | None = None
    boot_devices: list[str] = field(default_factory=list)
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    dtb: str | None = None
    root: str | None = None
    loader: Loader | None = None
    nvram: XNode | None = None
    bootloader: str | None = None
    bootloader_args: str | None = None
    init: str | None = None
    init_args: list[str] = field(default_factory=list)
    init_env: list[tuple[str, str]] = field(default_factory=list)
    init_dir: str | None = None
    init_user: str | None = None
    init_group: str | None = None
    extra: Extra = field(default_factory=Extra)
    type_extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, el: Element | None, virt_type: str, bootloader: str | None) -> OSDef:
        osdef = cls()
        osdef.bootloader = bootloader
        if el is None:
            el = etree.Element("os")
        r = Reader(el)
        osdef.firmware = r.attr("firmware")
        tnode = r.first("type")
        if tnode is None or not (tnode.text or "").strip():
            if bootloader:
                osdef.type = "xen"
            else:
                raise_error(c.VIR_ERR_XML_ERROR, "an os <type> must be specified",
                            domain=c.VIR_FROM_DOMAIN)
        else:
            ostype = (tnode.text or "").strip()
            if ostype not in OS_TYPES:
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown OS type '{ostype}'",
                            domain=c.VIR_FROM_DOMAIN)
            osdef.type = "xen" if (ostype == "linux" and virt_type == "xen") else ostype
            osdef.arch = tnode.get("arch")
            osdef.machine = tnode.get("machine")
            osdef.type_extra = {k: v for k, v in tnode.attrib.items()
                                if k not in ("arch", "machine")}
        for boot in r.children("boot"):
            dev = boot.get("dev")
            if dev is None:
                raise_error(c.VIR_ERR_XML_ERROR,
                            "Missing required attribute 'dev' in element 'boot'",
                            domain=c.VIR_FROM_XML)
            if dev not in BOOT_DEVICES:
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'dev' in element 'boot': '{dev}'.",
                            domain=c.VIR_FROM_XML)
            if len(osdef.boot_devices) < 4:
                osdef.boot_devices.append(dev)
        osdef.kernel = r.text("kernel")
        osdef.initrd = r.text("initrd")
        osdef.cmdline = r.text("cmdline")
        osdef.dtb = r.text("dtb")
        osdef.root = r.text("root")
        osdef.init = r.text("init")
        osdef.init_args = [a.text or "" for a in r.children("initarg")]
        osdef.init_env = [(e.get("name") or "", e.text or "") for e in r.children("initenv")]
        osdef.init_dir = r.text("initdir")
        osdef.init_user = r.text("inituser")
        osdef.init_group = r.text("initgroup")
        loader = r.first("loader")
        if loader is not None:
            osdef.loader = Loader((loader.text or "").strip() or None, dict(loader.attrib))
        nvram = r.first("nvram")
        if nvram is not None:
            osdef.nvram = XNode.from_element(nvram)
        osdef.extra = r.extra()
        return osdef

    def format(self) -> Element:
        w = Writer("os", OS_ORDER)
        w.attr("firmware", self.firmware)
        t = w.sub("type", self.type)
        if self.arch:
            t.set("arch", self.arch)
        if self.machine:
            t.set("machine", self.machine)
        for key, value in self.type_extra.items():
            t.set(key, value)
        if self.init:
            w.sub("init", self.init)
        for arg in self.init_args:
            w.sub("initarg", arg)
        for env_name, env_value in self.init_env:
            w.sub("initenv", env_value, name=env_name)
        init_opts: tuple[tuple[str, str | None], ...] = (
            ("initdir", self.init_dir), ("inituser", self.init_user),
            ("initgroup", self.init_group))
        for opt_tag, opt_value in init_opts:
            if opt_value:
                w.sub(opt_tag, opt_value)
        if self.loader is not None:
            w.child(self.loader.format())
        if self.nvram is not None:
            w.child(self.nvram)
        boot_files: tuple[tuple[str, str | None], ...] = (
            ("kernel", self.kernel), ("initrd", self.initrd), ("cmdline", self.cmdline),
            ("dtb", self.dtb), ("root", self.root))
        for file_tag, file_value in boot_files:
            if file_value is not None:
                w.sub(file_tag, file_value)
        extra = self.extra
        if not self.bootloader:
            for dev in self.boot_devices:
                w.sub("boot", dev=dev)
        else:
            # libvirt prints no boot order settings when a bootloader is used.
            extra = Extra(extra.attrs, [(p, n) for p, n in extra.children
                                        if n.tag not in ("bootmenu", "bios")])
        return w.build(extra)


@dataclass
class Clock:
    """<clock>: the guest clock's offset and timers."""

    offset: str = "utc"
    extra: Extra = field(default_factory=Extra)

    def format(self) -> Element:
        w = Writer("clock", ("timer",))
        w.attr("offset", self.offset)
        return w.build(self.extra)


@dataclass
class DomainDef:
    """<domain>: a whole domain definition."""

    type: str = "test"
    id: int = -1
    name: str = ""
    uuid: str = ""
    genid: str | None = None
    genid_requested: bool = False
    title: str | None = None
    description: str | None = None
    metadata: Metadata = field(default_factory=Metadata)
    memory_kib: int = 0
    current_memory_kib: int = 0
    max_memory_kib: int = 0
    max_memory_slots: int = 0
    dump_core: str | None = None
    vcpus_max: int = 1
    vcpus_current: int = 1
    vcpu_placement: str = "static"
    cpuset: str | None = None
    iothreads: int = 0
    cputune: XNode | None = None
    os: OSDef = field(default_factory=OSDef)
    features: XNode | None = None
    cpu: XNode | None = None
    clock: Clock = field(default_factory=Clock)
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    devices: Devices = field(default_factory=Devices)
    # Top-level elements without a typed model yet, and the root's namespace declarations.
    extra: Extra = field(default_factory=Extra)
    namespaces: dict[str, str] = field(default_factory=dict)
    # Optional behaviours the parsing driver supports (libvirt's VIR_DOMAIN_DEF_FEATURE_*):
    # "name-slash", "offline-vcpupin", "individual-vcpus". Default: the generic parser.
    parse_features: frozenset[str] = GENERIC_FEATURES

    # ---- parse ---------------------------------------------------------------------------

    @classmethod
    def from_xml(cls, xml: str | bytes, inactive: bool = False,
                 validate_schema: bool = False,
                 features: frozenset[str] | None = None) -> DomainDef:
        root = parse_document(xml, "domain", "(domain_definition)", c.VIR_FROM_DOMAIN)
        if validate_schema:
            from pyvirt.conf.domain.schema import validate

            validate(root)
        return cls.from_element(root, inactive=inactive, features=features)

    @classmethod
    def from_element(cls, root: Element, inactive: bool = False,
                     features: frozenset[str] | None = None) -> DomainDef:
        d = cls()
        if features is not None:
            d.parse_features = frozenset(features)
        d._parse(root, inactive)
        from pyvirt.conf.domain.postparse import post_parse
        from pyvirt.conf.domain.validate import validate_def

        post_parse(d, inactive)
        validate_def(d, inactive)
        return d

    def _parse(self, root: Element, inactive: bool) -> None:
        r = Reader(root)
        virt = r.attr("type")
        if not virt:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "missing domain type attribute",
                        domain=c.VIR_FROM_DOMAIN)
        if virt not in VIRT_TYPES:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"invalid domain type {virt}",
                        domain=c.VIR_FROM_DOMAIN)
        self.type = virt
        idtext = r.attr("id")
        self.id = -1
        if not inactive and idtext is not None:
            self.id = parse_int(idtext, "id", minimum=0) or 0
        self.namespaces = {k: v for k, v in root.nsmap.items() if k}

        name = r.text("name")
        if name is None:
            raise_error(c.VIR_ERR_NO_NAME, None, domain=c.VIR_FROM_DOMAIN)
        self.name = name
        uuid_text = r.text("uuid")
        if uuid_text is None:
            self.uuid = new_uuid()
        else:
            parsed = parse_uuid(uuid_text)
            if parsed is None:
                raise_error(c.VIR_ERR_INTERNAL_ERROR, "malformed uuid element",
                            domain=c.VIR_FROM_DOMAIN)
            self.uuid = parsed
        genids = r.children("genid")
        if len(genids) > 1:
            raise_error(c.VIR_ERR_XML_ERROR, "element 'genid' can only appear once",
                        domain=c.VIR_FROM_DOMAIN)
        if genids:
            self.genid_requested = True
            text = genids[0].text
            if not text:
                self.genid = new_uuid()
            else:
                self.genid = parse_uuid(text)
                if self.genid is None:
                    raise_error(c.VIR_ERR_INTERNAL_ERROR, "malformed genid element",
                                domain=c.VIR_FROM_DOMAIN)
        self.title = r.text("title")
        if self.title is not None and "\n" in self.title:
            raise_error(c.VIR_ERR_XML_ERROR, "Domain title can't contain newlines",
                        domain=c.VIR_FROM_DOMAIN)
        self.description = r.text("description")
        self.metadata = Metadata.parse(r.first("metadata"))

        self.memory_kib = _memory_kib(r.first("memory"), "./memory[1]")
        mem = root.find("memory")
        if mem is not None:
            self.dump_core = mem.get("dumpCore")
        self.current_memory_kib = _memory_kib(r.first("currentMemory"), "./currentMemory[1]")
        maxmem = r.first("maxMemory")
        self.max_memory_kib = _memory_kib(maxmem, "./maxMemory[1]", capped=False)
        if maxmem is not None:
            slots = maxmem.get("slots")
            if slots is not None:
                try:
                    self.max_memory_slots = int(slots)
                except ValueError:
                    raise_error(c.VIR_ERR_XML_ERROR, "Failed to parse memory slot count",
                                domain=c.VIR_FROM_DOMAIN)

        vcpu = r.first("vcpu")
        if vcpu is None:
            self.vcpus_max = 1
            self.vcpus_current = 1
        else:
            text = (vcpu.text or "").strip()
            try:
                self.vcpus_max = int(text) if text else 1
                if self.vcpus_max < 0:
                    raise ValueError
            except ValueError:
                raise_error(c.VIR_ERR_XML_ERROR, "maximum vcpus count must be an integer",
                            domain=c.VIR_FROM_DOMAIN)
            cur = vcpu.get("current")
            if cur is None:
                self.vcpus_current = self.vcpus_max
            else:
                try:
                    self.vcpus_current = int(cur)
                except ValueError:
                    raise_error(c.VIR_ERR_XML_ERROR, "current vcpus count must be an integer",
                                domain=c.VIR_FROM_DOMAIN)
            self.vcpu_placement = vcpu.get("placement") or "static"
            self.cpuset = vcpu.get("cpuset")
        iothreads = r.first("iothreads")
        if iothreads is not None:
            self.iothreads = parse_int((iothreads.text or "").strip(), "iothreads",
                                       minimum=0) or 0
        cputune = r.first("cputune")
        if cputune is not None:
            self.cputune = XNode.from_element(cputune)

        self.os = OSDef.parse(r.first("os"), self.type, r.text("bootloader"))
        bl_args = r.text("bootloader_args")
        self.os.bootloader_args = bl_args
        features = r.first("features")
        if features is not None:
            self.features = XNode.from_element(features)
        cpu = r.first("cpu")
        if cpu is not None:
            self.cpu = XNode.from_element(cpu)
        clock = r.first("clock")
        if clock is not None:
            cr = Reader(clock)
            self.clock = Clock(cr.attr("offset") or "utc")
            self.clock.extra = cr.extra()
        for tag in ("on_poweroff", "on_reboot", "on_crash"):
            value = r.text(tag)
            if value is not None:
                value = value.strip()
                if value not in LIFECYCLE_ACTIONS:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                                f"unknown {tag} action: {value}", domain=c.VIR_FROM_DOMAIN)
                setattr(self, tag, value)
        devices = r.first("devices")
        self.devices = Devices.parse(devices, inactive)
        extra = r.extra()
        # libvirt ignores elements it does not know (schema validation is where they are
        # refused); namespaced ones stay for the drivers' namespace handlers.
        extra.children = [(prev, node) for prev, node in extra.children
                          if node.tag in TOP_ORDER or node.tag.startswith("{")]
        self.extra = extra

    # ---- format --------------------------------------------------------------------------

    def to_element(self, inactive: bool = False, secure: bool = False,
                   migratable: bool = False) -> Element:
        inactive = inactive or self.id == -1
        w = Writer("domain", TOP_ORDER)
        w.attr("type", self.type)
        if not inactive:
            w.attr("id", self.id)
        w.sub("name", self.name)
        w.sub("uuid", self.uuid)
        if self.genid_requested and self.genid:
            w.sub("genid", self.genid)
        if self.title is not None:
            w.sub("title", self.title)
        if self.description is not None:
            w.sub("description", self.description)
        w.child(self.metadata.format())
        if self.max_memory_kib and self.max_memory_slots:
            w.sub("maxMemory", self.max_memory_kib, slots=self.max_memory_slots, unit="KiB")
        w.sub("memory", self.memory_kib, dumpCore=self.dump_core, unit="KiB")
        w.sub("currentMemory", self.current_memory_kib, unit="KiB")
        vcpu = w.sub("vcpu", self.vcpus_max, placement=self.vcpu_placement)
        if self.cpuset:
            vcpu.set("cpuset", self.cpuset)
        if self.vcpus_current != self.vcpus_max:
            vcpu.set("current", str(self.vcpus_current))
        if self.iothreads:
            w.sub("iothreads", self.iothreads)
        if self.cputune is not None and self.cputune.children:
            w.child(self.cputune)
        if self.os.bootloader:
            w.sub("bootloader", self.os.bootloader)
            if self.os.bootloader_args:
                w.sub("bootloader_args", self.os.bootloader_args)
        w.child(self.os.format())
        if self.features is not None:
            w.child(self.features)
        if self.cpu is not None:
            w.child(self.cpu)
        w.child(self.clock.format())
        w.sub("on_poweroff", self.on_poweroff)
        w.sub("on_reboot", self.on_reboot)
        w.sub("on_crash", self.on_crash)
        w.child(self.devices.to_element(inactive, secure))
        root = w.build(self.extra)
        if self.namespaces:
            used = {etree.QName(ch).namespace for ch in root.iter() if isinstance(ch.tag, str)}
            nsmap = {k: v for k, v in self.namespaces.items() if v in used}
            if nsmap:
                root = _with_nsmap(root, nsmap)
                root.set(NS_LAST_ATTR, "")
        return root

    def to_xml(self, inactive: bool = False, secure: bool = False,
               migratable: bool = False) -> str:
        return to_string(self.to_element(inactive, secure, migratable))

    def copy(self) -> DomainDef:
        return copy.deepcopy(self)

    # ---- conveniences for drivers -------------------------------------------------------

    @property
    def emulator(self) -> str | None:
        return self.devices.emulator

    @emulator.setter
    def emulator(self, value: str | None) -> None:
        self.devices.emulator = value

    def feature_enabled(self, name: str) -> bool:
        if self.features is None:
            return False
        node = self.features.find(name)
        return node is not None and node.attrs.get("state", "on") == "on"

    def cputune_expand(self) -> None:
        cputune_mod.canonicalise(self)


def _with_nsmap(root: Element, nsmap: dict[str, str]) -> Element:
    """A copy of ``root`` declaring ``nsmap`` on itself (lxml fixes nsmap at creation)."""
    new = etree.Element(root.tag, nsmap=nsmap)  # type: ignore[arg-type]
    for key, value in root.attrib.items():
        new.set(key, value)
    for child in list(root):
        new.append(child)
    return new
