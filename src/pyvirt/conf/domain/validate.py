"""Validation after post-parse (domain_validate.c's job, driver-independent part)."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.core import DomainDef


def validate_def(d: DomainDef, inactive: bool) -> None:
    if "name-slash" not in d.parse_features and "/" in d.name:
        raise_error(c.VIR_ERR_XML_ERROR, f"name {d.name} cannot contain '/'",
                    domain=c.VIR_FROM_DOMAIN)
    if d.vcpus_current > d.vcpus_max:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                    "maximum vCPU count must not be less than current vCPU count",
                    domain=c.VIR_FROM_DOMAIN)
    devs = d.devices
    for group in (devs.serials, devs.parallels, devs.consoles, devs.channels,
                  devs.smartcards, devs.redirdevs):
        for chr_ in group:
            chr_.validate()
    for rng in devs.rngs:
        rng.validate()
    for gfx in devs.graphics:
        gfx.validate()
    if devs.redirdevs:
        usb = [x for x in devs.controllers if x.type == "usb"]
        if usb and all(x.model == "none" for x in usb):
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, "cannot add redirected USB device: USB "
                        "is disabled for this domain", domain=c.VIR_FROM_DOMAIN)
