"""<disk> devices."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain.address import Address
from pyvirt.conf.domain.device import INFO_ORDER, Device
from pyvirt.conf.domain.xnode import Reader, Writer, XNode
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

DISK_TYPES = ("file", "block", "dir", "network", "volume", "nvme", "vhostuser")
DISK_DEVICES = ("disk", "cdrom", "floppy", "lun")
DISK_BUSES = ("ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd")

DISK_ORDER = (
    "driver", "auth", "source", "backingStore", "backenddomain", "geometry", "blockio",
    "mirror", "target", "iotune", "throttlefilters", "readonly", "shareable", "transient",
    "serial", "wwn", "vendor", "product", "encryption",
) + INFO_ORDER

# The <source> attribute naming the path, per disk type.
_PATH_ATTR = {"file": "file", "block": "dev", "dir": "dir", "network": "name", "nvme": None,
              "volume": "volume", "vhostuser": "path"}


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990, "tftp": 69,
                  "sheepdog": 7000, "nbd": 10809, "ssh": 22, "iscsi": 3260, "gluster": 24007,
                  "vxhs": 9999}


def disk_name_to_index(name: str) -> int:
    """virDiskNameToIndex: 'hda' -> 0, 'sdb' -> 1, 'vdaa' -> 26; -1 when not a disk name."""
    for prefix in ("fd", "hd", "vd", "sd", "xvd", "ubd"):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            break
    else:
        return -1
    idx = 0
    i = 0
    while i < len(rest) and "a" <= rest[i] <= "z":
        idx = (idx + (1 if i else 0)) * 26 + (ord(rest[i]) - ord("a"))
        i += 1
    if i == 0 or (i < len(rest) and not rest[i:].isdigit()):
        return -1
    return idx


@dataclass
class DiskSource:
    """<source>: attributes (file/dev/dir/protocol/name/pool/volume...) and children."""

    attrs: dict[str, str] = field(default_factory=dict)
    children: list[XNode] = field(default_factory=list)

    @property
    def file(self) -> str | None:
        return self.attrs.get("file")

    @property
    def dev(self) -> str | None:
        return self.attrs.get("dev")

    @property
    def dir(self) -> str | None:
        return self.attrs.get("dir")

    @property
    def protocol(self) -> str | None:
        return self.attrs.get("protocol")

    @property
    def name(self) -> str | None:
        return self.attrs.get("name")

    @property
    def path(self) -> str | None:
        a = self.attrs
        return a.get("file") or a.get("dev") or a.get("dir") or a.get("path") or a.get("name")

    @property
    def hosts(self) -> list[dict[str, str]]:
        return [h.attrs for h in self.children if h.tag == "host"]

    def format(self, inactive: bool = False) -> Element:
        attrs = dict(self.attrs)
        if "pool" in attrs:  # pool before volume
            attrs = {"pool": attrs.pop("pool"), **attrs}
        return XNode("source", attrs, None, list(self.children)).to_element()


@dataclass
class DiskDriver:
    """<driver>: backend name ('qemu'), image format type ('raw', 'qcow2'), the rest as-is."""

    name: str | None = None
    type: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[XNode] = field(default_factory=list)

    def format(self) -> Element:
        el = etree.Element("driver")
        if self.name:
            el.set("name", self.name)
        if self.type:
            el.set("type", self.type)
        for key, value in self.attrs.items():
            el.set(key, value)
        for ch in self.children:
            ch.to_element(el)
        return el


@dataclass
class DiskTarget:
    """<target> of a disk: its device name and bus."""

    dev: str = ""
    bus: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[XNode] = field(default_factory=list)

    def format(self) -> Element:
        el = etree.Element("target")
        el.set("dev", self.dev)
        if self.bus:
            el.set("bus", self.bus)
        for key, value in self.attrs.items():
            el.set(key, value)
        for ch in self.children:
            ch.to_element(el)
        return el


@dataclass(kw_only=True)
class Disk(Device):
    """<disk>: a disk, cdrom, floppy or lun."""

    TAG = "disk"
    ORDER = DISK_ORDER

    type: str = "file"
    device: str = "disk"
    driver: DiskDriver | None = None
    source: DiskSource | None = None
    target: DiskTarget = field(default_factory=DiskTarget)
    readonly: bool = False
    shareable: bool = False
    serial: str | None = None

    # contract aliases: disk.target.dev / disk.driver.name read naturally in drivers
    @property
    def path(self) -> str | None:
        """The local path of the disk's source (file, dev or dir), if any."""
        if self.source is None:
            return None
        attr = _PATH_ATTR.get(self.type)
        return self.source.attrs.get(attr) if attr else None

    @property
    def target_dev(self) -> str:
        return self.target.dev

    @target_dev.setter
    def target_dev(self, value: str) -> None:
        self.target.dev = value

    @property
    def target_bus(self) -> str | None:
        return self.target.bus

    @target_bus.setter
    def target_bus(self, value: str | None) -> None:
        self.target.bus = value

    @property
    def driver_name(self) -> str | None:
        return self.driver.name if self.driver else None

    @property
    def driver_type(self) -> str | None:
        return self.driver.type if self.driver else None

    def parse(self, r: Reader, inactive: bool) -> None:
        self.type = r.attr("type") or "file"
        if self.type not in DISK_TYPES:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"unsupported disk type '{self.type}'", domain=c.VIR_FROM_DOMAIN)
        self.device = r.attr("device") or "disk"
        if self.device not in DISK_DEVICES:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"Invalid value for attribute 'device' in element 'disk': "
                        f"'{self.device}'.", domain=c.VIR_FROM_DOMAIN)
        drv = r.first("driver")
        if drv is not None:
            self.driver = DiskDriver(
                drv.get("name"), drv.get("type"),
                {k: v for k, v in drv.attrib.items() if k not in ("name", "type")},
                [XNode.from_element(ch) for ch in drv if isinstance(ch.tag, str)])
        src = r.first("source")
        if src is not None:
            self.source = DiskSource(dict(src.attrib),
                                     [XNode.from_element(ch) for ch in src
                                      if isinstance(ch.tag, str)])
        if inactive:
            # backing chain indexes are runtime state: an inactive parse drops them
            if self.source is not None:
                self.source.attrs.pop("index", None)
        tgt = r.first("target")
        if tgt is None or not tgt.get("dev"):
            raise_error(c.VIR_ERR_NO_TARGET, self.path or None, domain=c.VIR_FROM_DOMAIN)
        bus = tgt.get("bus")
        if bus is not None and bus not in DISK_BUSES:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"Invalid value for attribute 'bus' in element 'target': "
                        f"'{bus}'.", domain=c.VIR_FROM_DOMAIN)
        self.target = DiskTarget(
            tgt.get("dev") or "", bus,
            {k: v for k, v in tgt.attrib.items() if k not in ("dev", "bus")},
            [XNode.from_element(ch) for ch in tgt if isinstance(ch.tag, str)])
        self.readonly = r.child("readonly") is not None
        self.shareable = r.child("shareable") is not None
        self.serial = r.text("serial")

    def finish(self, inactive: bool) -> None:
        if self.readonly and self.extra.attrs.get("snapshot") == "no":
            del self.extra.attrs["snapshot"]  # implied for read-only disks
        if not inactive:
            return
        # a block job's <mirror> is runtime state
        self.extra.children = [(p, n) for p, n in self.extra.children if n.tag != "mirror"]

        def strip(node: XNode) -> None:
            if node.tag == "backingStore":
                node.attrs.pop("index", None)
            for child in node.children:
                strip(child)

        for _, node in self.extra.children:
            strip(node)

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("type", self.type)
        w.attr("device", self.device)
        drv = self.driver
        if drv is not None and (drv.name or drv.type or drv.attrs or drv.children):
            w.child(drv.format())
        if self.source is not None:
            w.child(self.source.format())
        tgt = self.target.format()
        if tgt.get("tray") is not None and tgt.get("tray") != "open":
            del tgt.attrib["tray"]  # only an open tray is shown
        w.child(tgt)
        if self.readonly:
            w.sub("readonly")
        if self.shareable:
            w.sub("shareable")
        if self.serial is not None:
            w.sub("serial", self.serial)

    def post_parse(self) -> None:
        if self.source is not None and self.type == "network":
            port = _DEFAULT_PORTS.get(self.source.protocol or "")
            for host in self.source.children:
                if (host.tag == "host" and port and "port" not in host.attrs
                        and host.attrs.get("transport", "tcp") == "tcp" and "name" in host.attrs):
                    host.attrs["port"] = str(port)
        if self.type == "vhostuser" and "snapshot" not in self.extra.attrs:
            self.extra.attrs["snapshot"] = "no"
        if self.target_dev.startswith("ioemu:"):
            self.target_dev = self.target_dev[len("ioemu:"):]
        if self.device == "cdrom":
            self.readonly = True
        if self.target_bus is None:
            bus = "ide"
            if self.device == "floppy":
                bus = "fdc"
            else:
                for prefix, name in (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"),
                                     ("xvd", "xen"), ("ubd", "uml")):
                    if self.target_dev.startswith(prefix):
                        bus = name
                        break
            self.target_bus = bus
        if self.info.address is None:
            self.assign_address()

    def assign_address(self) -> None:
        idx = disk_name_to_index(self.target_dev)
        if idx < 0:
            raise_error(c.VIR_ERR_XML_ERROR,
                        f"Unknown disk name '{self.target_dev}' and no address specified",
                        domain=c.VIR_FROM_DOMAIN)
        drive: tuple[int, int, int] | None = None
        if self.target_bus == "scsi":
            drive = (idx // 7, 0, idx % 7)
        elif self.target_bus == "ide":
            drive = (idx // 4, (idx % 4) // 2, idx % 2)
        elif self.target_bus == "sata":
            drive = (idx // 6, 0, idx % 6)
        elif self.target_bus == "fdc":
            drive = (0, 0, idx % 2)
        if drive is not None:
            self.info.address = Address("drive", {
                "controller": str(drive[0]), "bus": str(drive[1]), "target": "0",
                "unit": str(drive[2])})
