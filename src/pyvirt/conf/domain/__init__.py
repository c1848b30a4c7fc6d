"""The domain XML model: ``DomainDef.from_xml(text)`` -> typed fields -> ``to_xml()``.

Pipeline as libvirt's: parse (``core``/device modules) -> post-parse defaults (``postparse``)
-> validate (``validate``) -> format.

The names below are loaded on first use (PEP 562): importing one module of the model (the
test driver imports ``core``) does not import every device module with it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.conf.domain.address import Address, DeviceInfo
    from pyvirt.conf.domain.chardevs import ChrBackedDevice, ChrDevice, ChrSource
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.core import Clock, DomainDef, Loader, OSDef
    from pyvirt.conf.domain.device import Device, GenericDevice
    from pyvirt.conf.domain.devices import Devices
    from pyvirt.conf.domain.disks import Disk, DiskDriver, DiskSource, DiskTarget
    from pyvirt.conf.domain.graphics import Graphics, GraphicsListen
    from pyvirt.conf.domain.interfaces import Interface, NetSource
    from pyvirt.conf.domain.metadata import Metadata
    from pyvirt.conf.domain.misc_devices import (
        Filesystem,
        Hostdev,
        Input,
        Memballoon,
        Rng,
        Sound,
        Video,
        Watchdog,
    )
    from pyvirt.conf.domain.xnode import XNode

# name -> the module that defines it
_HOME = {
    "Address": "address", "DeviceInfo": "address",
    "ChrBackedDevice": "chardevs", "ChrDevice": "chardevs", "ChrSource": "chardevs",
    "Controller": "controllers",
    "Clock": "core", "DomainDef": "core", "Loader": "core", "OSDef": "core",
    "Device": "device", "GenericDevice": "device",
    "Devices": "devices",
    "Disk": "disks", "DiskDriver": "disks", "DiskSource": "disks", "DiskTarget": "disks",
    "Graphics": "graphics", "GraphicsListen": "graphics",
    "Interface": "interfaces", "NetSource": "interfaces",
    "Metadata": "metadata",
    "Filesystem": "misc_devices", "Hostdev": "misc_devices", "Input": "misc_devices",
    "Memballoon": "misc_devices", "Rng": "misc_devices", "Sound": "misc_devices",
    "Video": "misc_devices", "Watchdog": "misc_devices",
    "XNode": "xnode",
}

__all__ = [
    "Address", "ChrBackedDevice", "ChrDevice", "ChrSource", "Clock", "Controller", "Device",
    "DeviceInfo", "Devices", "Disk", "DiskDriver", "DiskSource", "DiskTarget", "DomainDef",
    "Filesystem", "GenericDevice", "Graphics", "GraphicsListen", "Hostdev", "Input",
    "Interface", "Loader", "Memballoon", "Metadata", "NetSource", "OSDef", "Rng", "Sound",
    "Video", "Watchdog", "XNode",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
