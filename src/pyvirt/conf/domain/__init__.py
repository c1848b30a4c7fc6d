"""The domain XML model: ``DomainDef.from_xml(text)`` -> typed fields -> ``to_xml()``.

Pipeline as libvirt's: parse (``core``/device modules) -> post-parse defaults (``postparse``)
-> validate (``validate``) -> format.
"""

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

__all__ = [
    "Address", "ChrBackedDevice", "ChrDevice", "ChrSource", "Clock", "Controller", "Device",
    "DeviceInfo", "Devices", "Disk", "DiskDriver", "DiskSource", "DiskTarget", "DomainDef",
    "Filesystem", "GenericDevice", "Graphics", "GraphicsListen", "Hostdev", "Input",
    "Interface", "Loader", "Memballoon", "Metadata", "NetSource", "OSDef", "Rng", "Sound",
    "Video", "Watchdog", "XNode",
]
