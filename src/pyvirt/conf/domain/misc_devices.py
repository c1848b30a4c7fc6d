"""Smaller devices: <video>, <input>, <memballoon>, <rng>, <watchdog>, <sound>, <hostdev>,
<filesystem> and the rest (typed where drivers need a field, otherwise kept whole)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain.device import INFO_ORDER, Device, GenericDevice
from pyvirt.conf.domain.xnode import Reader, Writer, XNode
from pyvirt.conf.xmlutil import scale
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.chardevs import ChrSource

VIDEO_TYPES = ("default", "vga", "cirrus", "vmvga", "xen", "vbox", "qxl", "parallels",
               "virtio", "gop", "none", "bochs", "ramfb")


def video_default_vram(vtype: str | None) -> int:
    """virDomainVideoDefaultRAM for the generic (driver-less) case, in KiB."""
    if vtype in ("vga", "cirrus", "bochs"):
        return 16 * 1024
    if vtype in ("vmvga", "xen"):
        return 4 * 1024
    if vtype == "qxl":
        return 64 * 1024
    return 0


def _pow2(value: int) -> int:
    if value <= 0:
        return value
    return 1 << (value - 1).bit_length()


@dataclass(kw_only=True)
class Video(Device):
    """<video>: a video adapter."""

    TAG = "video"
    ORDER = ("driver", "model") + INFO_ORDER

    model: str | None = None
    vram: int | None = None
    ram: int | None = None
    heads: int | None = None
    primary: bool = False
    model_attrs: dict[str, str] = field(default_factory=dict)
    model_children: list[XNode] = field(default_factory=list)

    @property
    def type(self) -> str | None:
        return self.model

    def parse(self, r: Reader, inactive: bool) -> None:
        model = r.first("model")
        if model is None:
            return
        self.model = model.get("type")
        if self.model is not None and self.model not in VIDEO_TYPES:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"unknown video model '{self.model}'", domain=c.VIR_FROM_DOMAIN)
        for name in ("vram", "ram", "heads"):
            value = model.get(name)
            if value is not None:
                try:
                    setattr(self, name, int(value))
                except ValueError:
                    raise_error(c.VIR_ERR_XML_ERROR, f"cannot parse video {name} '{value}'",
                                domain=c.VIR_FROM_DOMAIN)
        self.primary = model.get("primary") == "yes"
        self.model_attrs = {k: v for k, v in model.attrib.items()
                            if k not in ("type", "vram", "ram", "heads", "primary")}
        self.model_children = [XNode.from_element(x) for x in model if isinstance(x.tag, str)]

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        if self.model is None and not self.model_attrs and not self.model_children:
            return
        el = etree.Element("model")
        if self.model is not None:
            el.set("type", self.model)
        if self.model == "none":
            w.child(el)
            return
        if self.ram:
            el.set("ram", str(self.ram))
        if self.vram:
            el.set("vram", str(self.vram))
        for key in ("vram64", "vgamem"):
            if key in self.model_attrs:
                el.set(key, self.model_attrs[key])
        if self.heads:
            el.set("heads", str(self.heads))
        if self.primary:
            el.set("primary", "yes")
        for key, value in self.model_attrs.items():
            if key not in el.attrib:
                el.set(key, value)
        for ch in self.model_children:
            ch.to_element(el)
        w.child(el)

    def post_parse(self) -> None:
        if self.model == "qxl" and not self.ram:
            self.ram = video_default_vram(self.model)
        if not self.vram:
            self.vram = video_default_vram(self.model)
        self.ram = _pow2(self.ram or 0) or None
        self.vram = _pow2(self.vram or 0) or None


@dataclass(kw_only=True)
class Input(GenericDevice):
    """<input>: a mouse, tablet, keyboard or passthrough input device."""

    TAG = "input"
    ORDER = ("driver", "source") + INFO_ORDER

    @property
    def bus(self) -> str | None:
        return self.extra.attrs.get("bus")


@dataclass(kw_only=True)
class Memballoon(GenericDevice):
    """<memballoon>: the memory balloon device."""

    TAG = "memballoon"
    ORDER = ("stats", "alias", "address", "driver")


@dataclass(kw_only=True)
class Rng(Device):
    """<rng>: a random number generator device."""

    TAG = "rng"
    ORDER = ("rate", "backend", "driver") + INFO_ORDER

    model: str | None = None
    backend_model: str | None = None
    backend_type: str | None = None
    backend_path: str | None = None  # the random backend's device (/dev/urandom)
    backend_source: ChrSource | None = None
    backend_attrs: dict[str, str] = field(default_factory=dict)

    def parse(self, r: Reader, inactive: bool) -> None:
        self.model = r.attr("model")
        backend = r.first("backend")
        if backend is None:
            raise_error(c.VIR_ERR_XML_ERROR, "missing RNG device backend",
                        domain=c.VIR_FROM_DOMAIN)
        self.backend_model = backend.get("model")
        br = Reader(backend)
        br.attr("model")
        if self.backend_model == "egd":
            from pyvirt.conf.domain.chardevs import ChrSource, parse_chr_type

            self.backend_type = parse_chr_type(br)
            self.backend_source = ChrSource.parse(self.backend_type, br, inactive)
        elif self.backend_model == "random":
            self.backend_path = (backend.text or "").strip() or None
        self.backend_attrs = br.extra().attrs

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("model", self.model)
        bw = Writer("backend", ("source", "protocol", "log"))
        bw.attr("model", self.backend_model)
        if self.backend_source is not None:
            bw.attr("type", self.backend_type)
            self.backend_source.format(bw, inactive)
        for key, value in self.backend_attrs.items():
            bw.attr(key, value)
        if self.backend_path:
            bw.text = self.backend_path
        w.child(bw.build())

    def post_parse(self) -> None:
        if self.backend_model == "random" and not self.backend_path:
            self.backend_path = "/dev/random"

    def validate(self) -> None:
        if self.backend_source is not None:
            self.backend_source.validate()


@dataclass(kw_only=True)
class Watchdog(GenericDevice):
    """<watchdog>: a watchdog device."""

    TAG = "watchdog"


@dataclass(kw_only=True)
class Sound(GenericDevice):
    """<sound>: a sound device."""

    TAG = "sound"
    ORDER = ("codec", "audio") + INFO_ORDER


@dataclass(kw_only=True)
class Hostdev(GenericDevice):
    """<hostdev>: a host device assigned to the guest."""

    TAG = "hostdev"
    ORDER = ("driver", "source", "origstates", "capabilities", "teaming", "readonly",
             "shareable") + INFO_ORDER

    @property
    def mode(self) -> str | None:
        return self.extra.attrs.get("mode")

    @property
    def managed(self) -> bool:
        return self.extra.attrs.get("managed") == "yes"

    def post_parse(self) -> None:
        for _, node in self.extra.children:
            if node.tag == "source":
                for addr in node.findall("address"):
                    _pci_hex(addr)
        # libvirt always prints managed= for subsystem hostdevs, right after type=
        attrs = self.extra.attrs
        if attrs.get("mode", "subsystem") == "subsystem":
            managed = "yes" if attrs.get("managed") == "yes" else "no"
            rest = {k: v for k, v in attrs.items() if k not in ("mode", "type", "managed")}
            self.extra.attrs = {"mode": attrs.get("mode", "subsystem"),
                                "type": attrs.get("type", ""), "managed": managed, **rest}


@dataclass(kw_only=True)
class Filesystem(GenericDevice):
    """<filesystem>: a host directory or image shared with the guest."""

    TAG = "filesystem"
    ORDER = ("driver", "binary", "source", "target", "readonly") + INFO_ORDER

    def _child_attr(self, tag: str, names: tuple[str, ...]) -> str | None:
        for _, node in self.extra.children:
            if node.tag == tag:
                for name in names:
                    if name in node.attrs:
                        return node.attrs[name]
        return None

    @property
    def source(self) -> str | None:
        return self._child_attr("source", ("dir", "file", "dev", "name", "socket", "usage"))

    @property
    def target(self) -> str | None:
        return self._child_attr("target", ("dir",))

    def post_parse(self) -> None:
        # A RAM filesystem's size is kept in KiB (virDomainFSDefFormat prints units='KiB').
        if self.extra.attrs.get("type") != "ram":
            return
        for _, node in self.extra.children:
            if node.tag == "source" and "usage" in node.attrs:
                nbytes = scale(node.attrs["usage"], node.attrs.get("units"), "KiB",
                               "filesystem usage")
                node.attrs["usage"] = str((nbytes + 1023) // 1024)
                node.attrs["units"] = "KiB"


def _pci_hex(addr: XNode) -> None:
    """A host PCI address as libvirt prints it (0x%04x:0x%02x:0x%02x.0x%d)."""
    a = addr.attrs
    if not all(k in a for k in ("domain", "bus", "slot", "function")):
        return
    try:
        nums = [int(a[k], 0) if a[k].lower().startswith("0x") else int(a[k])
                for k in ("domain", "bus", "slot", "function")]
    except ValueError:
        return
    formatted = {"domain": f"0x{nums[0]:04x}", "bus": f"0x{nums[1]:02x}",
                 "slot": f"0x{nums[2]:02x}", "function": f"0x{nums[3]:d}"}
    addr.attrs = {**formatted, **{k: v for k, v in a.items() if k not in formatted}}


DEVICE_CLASSES: dict[str, type[Device]] = {
    "video": Video, "input": Input, "memballoon": Memballoon, "rng": Rng,
    "watchdog": Watchdog, "sound": Sound, "hostdev": Hostdev, "filesystem": Filesystem,
}
