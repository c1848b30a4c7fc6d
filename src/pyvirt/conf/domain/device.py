"""The base of all device models."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from pyvirt.conf.domain.address import Address, DeviceInfo
from pyvirt.conf.domain.xnode import Extra, Reader, Writer
from pyvirt.conf.xmlutil import Element

# Children every device may end with (virDomainDeviceInfoFormat's order).
INFO_ORDER = ("boot", "alias", "master", "rom", "acpi", "address")

D = TypeVar("D", bound="Device")


@dataclass(kw_only=True)
class Device:
    """A device: typed fields in subclasses, plus ``info`` and what the model left untyped."""

    TAG: ClassVar[str] = ""
    ORDER: ClassVar[tuple[str, ...]] = INFO_ORDER
    # Attributes printed only with the "secure" flag (VIR_DOMAIN_XML_SECURE).
    SECRET_ATTRS: ClassVar[tuple[str, ...]] = ()

    tag: str = ""
    info: DeviceInfo = field(default_factory=DeviceInfo)
    extra: Extra = field(default_factory=Extra)

    @property
    def address(self) -> Address | None:
        return self.info.address

    @address.setter
    def address(self, value: Address | None) -> None:
        self.info.address = value

    @property
    def alias(self) -> str | None:
        return self.info.alias

    @classmethod
    def from_element(cls: type[D], el: Element, inactive: bool = False) -> D:
        r = Reader(el)
        dev = cls(tag=str(el.tag))
        dev.parse(r, inactive)
        dev.info = DeviceInfo.parse(r, inactive)
        dev.extra = r.extra()
        dev.finish(inactive)
        return dev

    def parse(self, r: Reader, inactive: bool) -> None:
        """Read the typed fields (subclasses)."""

    def finish(self, inactive: bool) -> None:
        """Adjust what was kept untyped, once parsing is done (subclasses)."""

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        """Add the typed attributes and children (subclasses)."""

    def order(self) -> tuple[str, ...]:
        """Child element order of the output (libvirt's formatter order)."""
        return self.ORDER

    def to_element(self, inactive: bool = False, secure: bool = False) -> Element:
        w = Writer(self.tag or self.TAG, self.order())
        self.write(w, inactive, secure)
        self.info.format(w)
        el = w.build(self.extra)
        if not secure:
            for name in self.SECRET_ATTRS:
                el.attrib.pop(name, None)
        return el

    def copy(self: D) -> D:
        return copy.deepcopy(self)


@dataclass(kw_only=True)
class GenericDevice(Device):
    """A device pyvirt does not type yet: kept whole (type attribute readable)."""

    @property
    def type(self) -> str | None:
        return self.extra.attrs.get("type")

    @property
    def model(self) -> str | None:
        return self.extra.attrs.get("model")
