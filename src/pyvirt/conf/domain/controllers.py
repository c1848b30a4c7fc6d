"""<controller> devices."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf.domain.device import Device
from pyvirt.conf.domain.xnode import Reader, Writer
from pyvirt.errors import raise_error

CONTROLLER_TYPES = ("ide", "fdc", "scsi", "sata", "virtio-serial", "ccid", "usb", "pci",
                    "xenbus", "isa")
CONTROLLER_ORDER = ("model", "target", "driver", "boot", "alias", "master", "rom", "acpi",
                    "address", "pcihole64")


@dataclass(kw_only=True)
class Controller(Device):
    """<controller>: a bus controller."""

    TAG = "controller"
    ORDER = CONTROLLER_ORDER

    type: str = ""
    index: int = -1
    model: str | None = None
    # Added by post-parse because a device needs it (not in the input XML): drivers that
    # add their own default controllers put them before these, as libvirt's order has it.
    implicit: bool = field(default=False, compare=False, repr=False)

    def parse(self, r: Reader, inactive: bool) -> None:
        self.type = r.attr("type") or "ide"
        if self.type not in CONTROLLER_TYPES:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"Invalid value for attribute 'type' in element 'controller': "
                        f"'{self.type}'.", domain=c.VIR_FROM_DOMAIN)
        idx = r.attr("index")
        if idx is not None:
            try:
                self.index = int(idx)
                if self.index < 0:
                    raise ValueError
            except ValueError:
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'index' in element 'controller': "
                            f"'{idx}'. Expected non-negative integer value",
                            domain=c.VIR_FROM_DOMAIN)
        self.model = r.attr("model")

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("type", self.type)
        w.attr("index", self.index)
        w.attr("model", self.model)

    @classmethod
    def new(cls, type_: str, index: int, model: str | None = None) -> Controller:
        return cls(tag="controller", type=type_, index=index, model=model)
