"""Device addresses and the common device info (<boot>, <alias>, <address>...)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.domain.xnode import Reader, Writer, XNode
from pyvirt.conf.xmlutil import Element, parse_int

# Attributes printed for each address type, in libvirt's order; value None means "always
# printed, default 0" (libvirt stores them as plain integers).
_DRIVE = ("controller", "bus", "target", "unit")
_VIOSERIAL = ("controller", "bus", "port")
_CCID = ("controller", "slot")


@dataclass
class Address:
    """<address>: where a device sits on its bus."""

    type: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[XNode] = field(default_factory=list)

    # Typed views of the common address kinds.
    def num(self, name: str) -> int:
        value = self.attrs.get(name)
        if value is None:
            return 0
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            return parse_int(value, f"address {name}") or 0

    @property
    def controller(self) -> int:
        return self.num("controller")

    @property
    def bus(self) -> int:
        return self.num("bus")

    @property
    def unit(self) -> int:
        return self.num("unit")

    @property
    def slot(self) -> int:
        return self.num("slot")

    @classmethod
    def parse(cls, el: Element) -> Address:
        kids = [XNode.from_element(ch) for ch in el if isinstance(ch.tag, str)]
        attrs = {k: v for k, v in el.attrib.items() if k != "type"}
        addr = cls(el.get("type") or "", attrs, kids)
        for name in attrs:
            if name in ("domain", "bus", "slot", "function", "controller", "target", "unit",
                        "cssid", "ssid", "devno", "iobase", "irq", "reg", "base") \
                    and addr.type != "usb":
                addr.num(name)
        return addr

    def format(self) -> Element:
        el = etree.Element("address")
        el.set("type", self.type)
        a = self.attrs
        if self.type == "pci":
            nums = [self.num(n) for n in ("domain", "bus", "slot", "function")]
            if any(nums):
                el.set("domain", f"0x{nums[0]:04x}")
                el.set("bus", f"0x{nums[1]:02x}")
                el.set("slot", f"0x{nums[2]:02x}")
                el.set("function", f"0x{nums[3]:d}")
            for key, value in a.items():
                if key not in ("domain", "bus", "slot", "function"):
                    el.set(key, value)
        elif self.type == "ccw":
            el.set("cssid", f"0x{self.num('cssid'):x}")
            el.set("ssid", f"0x{self.num('ssid'):x}")
            el.set("devno", f"0x{self.num('devno'):04x}")
        elif self.type == "spapr-vio" and "reg" in a:
            el.set("reg", f"0x{self.num('reg'):08x}")
        elif self.type == "isa":
            if self.num("iobase") > 0:
                el.set("iobase", f"0x{self.num('iobase'):x}")
            if self.num("irq") > 0:
                el.set("irq", f"0x{self.num('irq'):x}")
        elif self.type == "dimm":
            el.set("slot", str(self.num("slot")))
            if self.num("base"):
                el.set("base", f"0x{self.num('base'):x}")
        elif self.type in ("drive", "virtio-serial", "ccid"):
            names = {"drive": _DRIVE, "virtio-serial": _VIOSERIAL, "ccid": _CCID}[self.type]
            for name in names:
                el.set(name, str(self.num(name)))
            for key, value in a.items():
                if key not in names:
                    el.set(key, value)
        else:
            for key, value in a.items():
                el.set(key, value)
        for child in self.children:
            child.to_element(el)
        return el


@dataclass
class DeviceInfo:
    """What every device may carry: boot order, alias, address (libvirt's virDomainDeviceInfo)."""

    alias: str | None = None
    boot_order: int | None = None
    boot_extra: dict[str, str] = field(default_factory=dict)
    address: Address | None = None

    @classmethod
    def parse(cls, r: Reader, inactive: bool = False) -> DeviceInfo:
        info = cls()
        alias = r.child("alias")
        # Only user aliases ("ua-") survive an inactive parse.
        if alias is not None and (not inactive or (alias.get("name") or "").startswith("ua-")):
            info.alias = alias.get("name")
        boot = r.child("boot")
        if boot is not None:
            info.boot_order = parse_int(boot.get("order"), "boot order", minimum=1)
            info.boot_extra = {k: v for k, v in boot.attrib.items() if k != "order"}
        addr = r.child("address")
        if addr is not None:
            info.address = Address.parse(addr)
        return info

    def format(self, w: Writer) -> None:
        if self.boot_order is not None:
            w.sub("boot", order=self.boot_order, **self.boot_extra)
        if self.alias is not None:
            w.sub("alias", name=self.alias)
        if self.address is not None and self.address.type not in ("", "none"):
            w.child(self.address.format())
