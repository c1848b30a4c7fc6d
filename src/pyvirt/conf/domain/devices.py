"""<devices>: typed lists per device kind, printed in libvirt's order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from lxml import etree

from pyvirt.conf.domain.device import Device, GenericDevice
from pyvirt.conf.domain.disks import Disk, disk_name_to_index
from pyvirt.conf.domain.interfaces import Interface
from pyvirt.conf.domain.misc_devices import (
    DEVICE_CLASSES,
    Filesystem,
    Hostdev,
    Input,
    Memballoon,
    Rng,
    Sound,
    Video,
    Watchdog,
)
from pyvirt.conf.domain.xnode import Extra, XNode
from pyvirt.conf.xmlutil import Element, keep_open

if TYPE_CHECKING:
    from pyvirt.conf.domain.chardevs import ChrBackedDevice, ChrDevice
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.graphics import Graphics

# (tag, attribute of Devices) in virDomainDefFormatInternal's order.
DEVICE_ORDER: tuple[tuple[str, str], ...] = (
    ("disk", "disks"), ("controller", "controllers"), ("lease", "leases"),
    ("filesystem", "filesystems"), ("interface", "interfaces"), ("smartcard", "smartcards"),
    ("serial", "serials"), ("parallel", "parallels"), ("console", "consoles"),
    ("channel", "channels"), ("input", "inputs"), ("tpm", "tpms"), ("graphics", "graphics"),
    ("sound", "sounds"), ("audio", "audios"), ("video", "videos"), ("hostdev", "hostdevs"),
    ("redirdev", "redirdevs"), ("redirfilter", "redirfilters"), ("hub", "hubs"),
    ("watchdog", "watchdogs"), ("memballoon", "memballoons"), ("rng", "rngs"),
    ("nvram", "nvrams"), ("panic", "panics"), ("shmem", "shmems"), ("memory", "memories"),
    ("iommu", "iommus"), ("vsock", "vsocks"), ("crypto", "cryptos"),
)
_ATTR = dict(DEVICE_ORDER)


def _class_for(tag: str) -> type[Device]:
    # Controllers, graphics and character devices are imported by the first domain that
    # has one: many domains (test:///default's) have none.
    if tag == "disk":
        return Disk
    if tag == "interface":
        return Interface
    if tag == "controller":
        from pyvirt.conf.domain.controllers import Controller

        return Controller
    if tag == "graphics":
        from pyvirt.conf.domain.graphics import Graphics

        return Graphics
    if tag in ("serial", "parallel", "console", "channel"):
        from pyvirt.conf.domain.chardevs import ChrDevice

        return ChrDevice
    if tag in ("smartcard", "redirdev"):
        from pyvirt.conf.domain.chardevs import ChrBackedDevice

        return ChrBackedDevice
    return DEVICE_CLASSES.get(tag, GenericDevice)


@dataclass
class Devices:
    """<devices>: every device of the domain, by kind."""

    emulator: str | None = None
    disks: list[Disk] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list)
    leases: list[GenericDevice] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    smartcards: list[ChrBackedDevice] = field(default_factory=list)
    serials: list[ChrDevice] = field(default_factory=list)
    parallels: list[ChrDevice] = field(default_factory=list)
    consoles: list[ChrDevice] = field(default_factory=list)
    channels: list[ChrDevice] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    tpms: list[GenericDevice] = field(default_factory=list)
    graphics: list[Graphics] = field(default_factory=list)
    sounds: list[Sound] = field(default_factory=list)
    audios: list[GenericDevice] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    hostdevs: list[Hostdev] = field(default_factory=list)
    redirdevs: list[ChrBackedDevice] = field(default_factory=list)
    redirfilters: list[GenericDevice] = field(default_factory=list)
    hubs: list[GenericDevice] = field(default_factory=list)
    watchdogs: list[Watchdog] = field(default_factory=list)
    memballoons: list[Memballoon] = field(default_factory=list)
    rngs: list[Rng] = field(default_factory=list)
    nvrams: list[GenericDevice] = field(default_factory=list)
    panics: list[GenericDevice] = field(default_factory=list)
    shmems: list[GenericDevice] = field(default_factory=list)
    memories: list[GenericDevice] = field(default_factory=list)
    iommus: list[GenericDevice] = field(default_factory=list)
    vsocks: list[GenericDevice] = field(default_factory=list)
    cryptos: list[GenericDevice] = field(default_factory=list)
    # Elements under <devices> that are not devices libvirt knows.
    extra: Extra = field(default_factory=Extra)

    @property
    def memballoon(self) -> Memballoon | None:
        return self.memballoons[0] if self.memballoons else None

    @property
    def watchdog(self) -> Watchdog | None:
        return self.watchdogs[0] if self.watchdogs else None

    @classmethod
    def parse(cls, el: Element | None, inactive: bool) -> Devices:
        devs = cls()
        if el is None:
            return devs
        seen: list[str] = []
        for child in el:
            if not isinstance(child.tag, str):
                continue
            tag = str(child.tag)
            if tag == "emulator":
                if devs.emulator is None:
                    devs.emulator = child.text or None
            elif tag in _ATTR:
                dev = _class_for(tag).from_element(child, inactive)
                if tag == "controller":  # _class_for's Controller
                    devs.insert_controller(cast("Controller", dev))
                elif isinstance(dev, Disk):
                    devs.insert_disk(dev)
                elif isinstance(dev, Video) and dev.primary and devs.videos:
                    # libvirt keeps the primary video first
                    devs.videos.insert(0, dev)
                else:
                    getattr(devs, _ATTR[tag]).append(dev)
            else:
                devs.extra.children.append((tuple(reversed(seen)), XNode.from_element(child)))
            seen.append(tag)
        return devs

    def insert_disk(self, disk: Disk) -> None:
        """virDomainDiskInsert: disks on one bus stay ordered by their target name."""
        idx_new = disk_name_to_index(disk.target_dev)
        insert_at = -1
        for i in range(len(self.disks) - 1, -1, -1):
            cur = self.disks[i]
            if cur.target_bus != disk.target_bus:
                continue
            if cur.target_dev and disk.target_dev and \
                    disk_name_to_index(cur.target_dev) > idx_new:
                insert_at = i
            elif insert_at == -1:
                insert_at = i + 1
        if insert_at == -1:
            self.disks.append(disk)
        else:
            self.disks.insert(insert_at, disk)

    def insert_controller(self, cont: Controller) -> None:
        """virDomainControllerInsertPreAlloced: keep controllers grouped by type, by index."""
        def has_master(ctl: Controller) -> bool:
            return any(n.tag == "master" for _, n in ctl.extra.children)

        insert_at = -1
        for i in range(len(self.controllers) - 1, -1, -1):
            cur = self.controllers[i]
            if cur.type != cont.type:
                continue
            if cont.index == -1:
                insert_at = i + 1
                break
            if cur.index > cont.index:
                insert_at = i
            elif not has_master(cont) and has_master(cur) and cur.index == cont.index:
                insert_at = i
            elif insert_at == -1:
                insert_at = i + 1
        if insert_at == -1:
            self.controllers.append(cont)
        else:
            self.controllers.insert(insert_at, cont)

    def all(self) -> list[Device]:
        out: list[Device] = []
        for _, attr in DEVICE_ORDER:
            out.extend(getattr(self, attr))
        return out

    def find_controller(self, type_: str, index: int) -> Controller | None:
        for cont in self.controllers:
            if cont.type == type_ and cont.index == index:
                return cont
        return None

    def to_element(self, inactive: bool = False, secure: bool = False,
                   hvm_console_compat: bool = True) -> Element:
        el = etree.Element("devices")
        if self.emulator:
            etree.SubElement(el, "emulator").text = self.emulator
        for tag, attr in DEVICE_ORDER:
            items = getattr(self, attr)
            for i, dev in enumerate(items):
                if tag == "console" and hvm_console_compat:
                    dev = self._console_view(i, dev)
                el.append(dev.to_element(inactive, secure))
        for _, node in self.extra.children:
            node.to_element(el)
        if not len(el):
            keep_open(el, lines=True)
        return el

    # Set by DomainDef before formatting: libvirt prints an hvm serial console as a copy of
    # the matching serial device.
    os_hvm: bool = False

    def _console_view(self, n: int, console: Device) -> Device:
        from pyvirt.conf.domain.chardevs import ChrDevice

        if not (self.os_hvm and isinstance(console, ChrDevice)
                and console.target_type in (None, "serial") and n < len(self.serials)):
            return console
        view = self.serials[n].copy()
        view.tag = "console"
        view.target_type = "serial"
        # a console's target has no <model>; keep only the port
        view.target_children = []
        return view
