"""<pool> definitions: parse -> PoolDef -> format, as libvirt's storage_conf.c.

Which <source> parts a pool type uses, and its source format names, come from one table
(``POOL_TYPES``), as libvirt's poolTypeInfo. Sizes are bytes.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.netdev import prop_enum, prop_int, prop_tristate, prop_uint
from pyvirt.conf.network.xmldoc import parse_document
from pyvirt.conf.storage.common import (
    AuthDef,
    Permissions,
    parse_size,
    sanitize_path,
    storage_err,
)
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

# <source> parts a pool type requires/prints.
HOST, DEVICE, DIR, ADAPTER, NAME, INITIATOR_IQN, NETWORK = (1, 2, 4, 8, 16, 32, 64)

FS_FORMATS = ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat",
              "hfs+", "xfs", "ocfs2", "vmfs")
NETFS_FORMATS = ("auto", "nfs", "glusterfs", "cifs")
DISK_FORMATS = ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")
LOGICAL_FORMATS = ("unknown", "lvm2")

# Volume target formats (virStorageFileFormat minus "none"; disk pools use partition types).
FILE_FORMATS = ("none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat",
                "vhd", "ploop", "cow", "qcow", "qcow2", "qed", "vmdk")
DISK_VOL_FORMATS = ("none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm",
                    "linux-raid", "extended")


@dataclass(frozen=True)
class PoolTypeInfo:
    flags: int = 0
    formats: tuple[str, ...] = ()  # source format names; () = no <format>
    default_format: str | None = None
    vol_formats: tuple[str, ...] = ()  # volume target formats; () = no <format>
    vol_default_format: str | None = None
    namespace: tuple[str, str] | None = None  # (prefix, uri) of backend-specific options


_FILE_VOLS = {"vol_formats": FILE_FORMATS, "vol_default_format": "raw"}
FS_NS = ("fs", "http://libvirt.org/schemas/storagepool/fs/1.0")
RBD_NS = ("rbd", "http://libvirt.org/schemas/storagepool/rbd/1.0")

POOL_TYPES: dict[str, PoolTypeInfo] = {
    "dir": PoolTypeInfo(**_FILE_VOLS),  # type: ignore[arg-type]
    "fs": PoolTypeInfo(DEVICE, FS_FORMATS, "auto", namespace=FS_NS,
                       **_FILE_VOLS),  # type: ignore[arg-type]
    "netfs": PoolTypeInfo(HOST | DIR, NETFS_FORMATS, "auto", namespace=FS_NS,
                          **_FILE_VOLS),  # type: ignore[arg-type]
    "logical": PoolTypeInfo(NAME | DEVICE, LOGICAL_FORMATS, "lvm2"),
    "disk": PoolTypeInfo(DEVICE, DISK_FORMATS, "unknown", vol_formats=DISK_VOL_FORMATS,
                         vol_default_format="none"),
    "iscsi": PoolTypeInfo(HOST | DEVICE | INITIATOR_IQN),
    "iscsi-direct": PoolTypeInfo(HOST | DEVICE | NETWORK | INITIATOR_IQN),
    "scsi": PoolTypeInfo(ADAPTER),
    "mpath": PoolTypeInfo(),
    "rbd": PoolTypeInfo(HOST | NETWORK | NAME, vol_formats=FILE_FORMATS,
                        vol_default_format="raw", namespace=RBD_NS),
    "sheepdog": PoolTypeInfo(HOST | NETWORK | NAME),
    "gluster": PoolTypeInfo(HOST | NETWORK | NAME | DIR, **_FILE_VOLS),  # type: ignore[arg-type]
    "zfs": PoolTypeInfo(NAME | DEVICE),
    "vstorage": PoolTypeInfo(NAME, **_FILE_VOLS),  # type: ignore[arg-type]
}
# Pools whose volumes are not local files or block devices: no <target>.
NO_TARGET_TYPES = ("rbd", "sheepdog", "gluster", "iscsi-direct")


@dataclass
class SourceHost:
    name: str
    port: int = 0


@dataclass
class FreeExtent:
    start: int
    end: int


@dataclass
class SourceDevice:
    path: str
    part_separator: bool | None = None
    free_extents: list[FreeExtent] = field(default_factory=list)


@dataclass
class PCIAddr:
    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0


@dataclass
class AdapterDef:
    """<adapter>: type 'scsi_host' (name, or parent PCI address + unique_id) or 'fc_host'."""

    type: str | None = None
    name: str | None = None
    parent_addr: PCIAddr | None = None
    unique_id: int = 0
    parent: str | None = None
    parent_wwnn: str | None = None
    parent_wwpn: str | None = None
    parent_fabric_wwn: str | None = None
    managed: bool | None = None
    wwnn: str | None = None
    wwpn: str | None = None

    @classmethod
    def from_element(cls, node: Element) -> AdapterDef:
        adapter = cls()
        atype = prop_enum(node, "type", ("scsi_host", "fc_host"))
        err = c.VIR_ERR_XML_ERROR
        if atype is None:
            if any(node.get(a) is not None for a in ("wwnn", "wwpn", "parent")):
                storage_err(err, "Use of 'wwnn', 'wwpn', and 'parent' attributes requires use "
                            "of the adapter 'type'")
            if node.find("parentaddr") is not None:
                storage_err(err, "Use of 'parentaddr' element requires use of the adapter "
                            "'type'")
            adapter.name = node.get("name")
            if adapter.name is not None:
                adapter.type = "scsi_host"
            return adapter
        adapter.type = atype
        if atype == "fc_host":
            adapter.managed = prop_tristate(node, "managed")
            for attr in ("parent", "parent_wwnn", "parent_wwpn", "parent_fabric_wwn", "wwpn",
                         "wwnn"):
                setattr(adapter, attr, node.get(attr))
        else:
            adapter.name = node.get("name")
            paddr = node.find("parentaddr")
            if paddr is not None:
                addr = paddr.find("address")
                if addr is None:
                    storage_err(err, "Missing scsi_host PCI address element")
                assert addr is not None
                vals = {key: prop_uint(addr, key, base=0) or 0
                        for key in ("domain", "bus", "slot", "function")}
                adapter.parent_addr = PCIAddr(**vals)
                try:
                    adapter.unique_id = int(paddr.get("unique_id", ""))
                except ValueError:
                    adapter.unique_id = -1
                if adapter.unique_id < 0:
                    storage_err(err, "Missing or invalid scsi adapter 'unique_id' value")
        return adapter

    def validate(self) -> None:
        err = c.VIR_ERR_XML_ERROR
        if self.type is None:
            storage_err(err, "missing storage pool source adapter")
        if self.type == "fc_host":
            if not self.wwnn or not self.wwpn:
                storage_err(err, "'wwnn' and 'wwpn' must be specified for adapter type "
                            "'fchost'")
            _check_wwn(self.wwnn or "")
            _check_wwn(self.wwpn or "")
            if self.parent_wwnn and not self.parent_wwpn:
                storage_err(err, f"when providing parent_wwnn='{self.parent_wwnn}', the "
                            "parent_wwpn must also be provided")
            if self.parent_wwpn and not self.parent_wwnn:
                storage_err(err, f"when providing parent_wwpn='{self.parent_wwpn}', the "
                            "parent_wwnn must also be provided")
            for wwn in (self.parent_wwnn, self.parent_wwpn, self.parent_fabric_wwn):
                if wwn:
                    _check_wwn(wwn)
        elif self.type == "scsi_host":
            if not self.name and self.parent_addr is None:
                storage_err(err, "Either 'name' or 'parent' must be specified for the "
                            "'scsi_host' adapter")
            if self.name and self.parent_addr is not None:
                storage_err(err, "Both 'name' and 'parent' cannot be specified for the "
                            "'scsi_host' adapter")

    def format(self, parent: Element) -> None:
        node = x.sub(parent, "adapter", type=self.type)
        if self.type == "fc_host":
            for attr in ("parent", "parent_wwnn", "parent_wwpn", "parent_fabric_wwn"):
                value = getattr(self, attr)
                if value is not None:
                    node.set(attr, value)
            if self.managed is not None:
                node.set("managed", "yes" if self.managed else "no")
            node.set("wwnn", self.wwnn or "")
            node.set("wwpn", self.wwpn or "")
        elif self.type == "scsi_host":
            if self.name:
                node.set("name", self.name)
            elif self.parent_addr is not None:
                pa = x.sub(node, "parentaddr", unique_id=self.unique_id)
                a = self.parent_addr
                x.sub(pa, "address", domain=f"0x{a.domain:04x}", bus=f"0x{a.bus:02x}",
                      slot=f"0x{a.slot:02x}", function=f"0x{a.function:d}")


def _check_wwn(wwn: str) -> None:
    digits = wwn[2:] if wwn.startswith("0x") else wwn
    if len(digits) != 16 or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Malformed wwn: {wwn}", domain=c.VIR_FROM_NONE)


@dataclass
class PoolSource:
    name: str | None = None
    format: str | None = None
    hosts: list[SourceHost] = field(default_factory=list)
    devices: list[SourceDevice] = field(default_factory=list)
    dir: str | None = None
    adapter: AdapterDef = field(default_factory=AdapterDef)
    initiator_iqn: str | None = None
    auth: AuthDef | None = None
    protocol_ver: str | None = None
    vendor: str | None = None
    product: str | None = None

    @classmethod
    def from_element(cls, node: Element, pool_type: str) -> PoolSource:
        info = POOL_TYPES[pool_type]
        src = cls(name=node.findtext("name"))
        if pool_type == "rbd" and src.name is None:
            storage_err(c.VIR_ERR_XML_ERROR, "element 'name' is mandatory for RBD pool")
        if info.formats:
            fmt_node = node.find("format")
            fmt = fmt_node.get("type") if fmt_node is not None else None
            if fmt is None:
                src.format = info.default_format
            elif fmt in info.formats:
                src.format = fmt
            else:
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown pool format type {fmt}")
        for hnode in node.iterfind("host"):
            hname = hnode.get("name")
            if hname is None:
                storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool host name")
            assert hname is not None
            src.hosts.append(SourceHost(hname, prop_int(hnode, "port") or 0))
        iqn = node.find("initiator/iqn")
        src.initiator_iqn = iqn.get("name") if iqn is not None else None
        for dnode in node.iterfind("device"):
            path = dnode.get("path")
            if path is None:
                storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool source device path")
            assert path is not None
            src.devices.append(SourceDevice(path, prop_tristate(dnode, "part_separator")))
        dir_node = node.find("dir")
        if dir_node is not None and dir_node.get("path"):
            src.dir = sanitize_path(dir_node.get("path", ""))
        if src.dir is None and pool_type == "gluster":
            src.dir = "/"
        anode = node.find("adapter")
        if anode is not None:
            src.adapter = AdapterDef.from_element(anode)
        auth = node.find("auth")
        if auth is not None:
            src.auth = AuthDef.from_element(auth)
            if src.auth.type is None:
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, "storage pool missing auth type")
        proto = node.find("protocol")
        if proto is not None and proto.get("ver"):
            src.protocol_ver = proto.get("ver")
            if src.format not in ("nfs", "auto"):
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, "storage pool protocol ver "
                            f"unsupported for pool type '{src.format}'")
            if "," in (src.protocol_ver or ""):
                storage_err(c.VIR_ERR_XML_DETAIL, f"storage pool protocol ver "
                            f"'{src.protocol_ver}' must not contain ','")
        vendor, product = node.find("vendor"), node.find("product")
        src.vendor = vendor.get("name") if vendor is not None else None
        src.product = product.get("name") if product is not None else None
        return src

    def format_xml(self, parent: Element, pool_type: str) -> None:
        flags = POOL_TYPES[pool_type].flags
        node = x.sub(parent, "source")
        if flags & HOST:
            for host in self.hosts:
                x.sub(node, "host", name=host.name, port=host.port or None)
        if flags & DEVICE:
            for dev in self.devices:
                d = x.sub(node, "device", path=dev.path,
                          part_separator=x.yes_no(dev.part_separator))
                for ext in dev.free_extents:
                    x.sub(d, "freeExtent", start=ext.start, end=ext.end)
        if flags & DIR:
            x.sub(node, "dir", path=self.dir)
        if flags & ADAPTER and self.adapter.type in ("fc_host", "scsi_host"):
            self.adapter.format(node)
        if flags & NAME:
            x.sub(node, "name", self.name)
        if flags & INITIATOR_IQN and self.initiator_iqn is not None:
            ini = x.sub(node, "initiator")
            x.sub(ini, "iqn", name=self.initiator_iqn)
        if self.format is not None and POOL_TYPES[pool_type].formats:
            x.sub(node, "format", type=self.format)
        if self.auth:
            self.auth.format(node)
        if self.protocol_ver is not None:
            x.sub(node, "protocol", ver=self.protocol_ver)
        if self.vendor is not None:
            x.sub(node, "vendor", name=self.vendor)
        if self.product is not None:
            x.sub(node, "product", name=self.product)
        if len(node) == 0:
            x.keep_open(node, lines=True)


@dataclass
class PoolTarget:
    path: str | None = None
    permissions: Permissions = field(default_factory=Permissions)


@dataclass
class PoolDef:
    type: str = "dir"
    name: str = ""
    uuid: str = ""
    capacity: int = 0
    allocation: int = 0
    available: int = 0
    cow: bool | None = None  # <features><cow state=.../>
    source: PoolSource = field(default_factory=PoolSource)
    target: PoolTarget = field(default_factory=PoolTarget)
    refresh_volume_allocation: str | None = None  # 'default' / 'capacity'
    # Backend namespace options: fs mount options (names) or rbd config (name, value).
    mount_opts: list[str] = field(default_factory=list)
    rbd_config_opts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def type_info(self) -> PoolTypeInfo:
        return POOL_TYPES[self.type]

    @classmethod
    def from_xml(cls, text: str | bytes, validate_schema: bool = False,
                 parse_sizes: bool = False) -> PoolDef:
        """Parse pool XML. libvirt ignores <capacity>/<allocation>/<available> in input
        (drivers fill them); ``parse_sizes`` keeps them, e.g. for saved driver state."""
        root = parse_document(text, "pool", "(storage_pool_definition)", c.VIR_FROM_STORAGE)
        if validate_schema:
            from pyvirt.conf.network import schema

            schema.validate(root, "storagepool.rng")
        return cls.from_element(root, parse_sizes=parse_sizes)

    @classmethod
    def from_element(cls, root: Element, parse_sizes: bool = False) -> PoolDef:
        ptype = prop_enum(root, "type", tuple(POOL_TYPES), required=True)
        assert ptype is not None
        pool = cls(type=ptype)
        info = pool.type_info
        snode = root.find("source")
        if snode is not None:
            pool.source = PoolSource.from_element(snode, ptype)
        elif info.formats:
            pool.source.format = info.default_format
        name = root.findtext("name")
        if name is None and info.flags & NAME:
            name = pool.source.name
        if name is None:
            storage_err(c.VIR_ERR_XML_ERROR, "missing pool source name element")
        assert name is not None
        if "/" in name:
            storage_err(c.VIR_ERR_XML_ERROR, f"name {name} cannot contain '/'")
        pool.name = name
        uuid = root.findtext("uuid")
        if uuid is None:
            pool.uuid = x.new_uuid()
        else:
            parsed = x.parse_uuid(uuid)
            if parsed is None:
                storage_err(c.VIR_ERR_XML_ERROR, "malformed uuid element")
            assert parsed is not None
            pool.uuid = parsed
        cow = prop_tristate(root.find("features/cow"), "state")
        if cow is not None:
            if ptype not in ("fs", "dir"):
                storage_err(c.VIR_ERR_NO_SUPPORT,
                            "cow feature may only be used for 'fs' and 'dir' pools")
            pool.cow = cow
        src = pool.source
        if info.flags & HOST and not src.hosts:
            storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool source host name")
        if info.flags & DIR and not src.dir:
            storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool source path")
        if info.flags & NAME and src.name is None:
            src.name = pool.name
        if info.flags & ADAPTER:
            src.adapter.validate()
        if info.flags == DEVICE and not src.devices:
            storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool source device name")
        if not info.flags & NETWORK:
            if ptype == "logical":
                target_path: str | None = f"/dev/{src.name}"
            elif ptype == "zfs":
                target_path = f"/dev/zvol/{src.name}"
            else:
                target_path = root.findtext("target/path")
                if not target_path:
                    storage_err(c.VIR_ERR_XML_ERROR, "missing storage pool target path")
            assert target_path is not None
            pool.target.path = sanitize_path(target_path)
            pool.target.permissions = Permissions.from_element(
                root.find("target/permissions"))
        if ptype == "iscsi-direct" and not src.initiator_iqn:
            storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, "missing initiator IQN")
        vol = root.find("refresh/volume")
        if vol is not None and vol.get("allocation") is not None:
            alloc = vol.get("allocation")
            if alloc not in ("default", "capacity"):
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, "unknown storage pool volume "
                            f"refresh allocation type {alloc}")
            pool.refresh_volume_allocation = alloc
        pool._parse_namespace(root)
        if parse_sizes:
            for tag in ("capacity", "allocation", "available"):
                node = root.find(tag)
                if node is not None and node.text:
                    setattr(pool, tag, parse_size(node.text, node.get("unit"), tag))
        return pool

    def _parse_namespace(self, root: Element) -> None:
        ns = self.type_info.namespace
        if ns is None:
            return
        prefix, uri = ns
        if prefix == "fs":
            for opt in root.iterfind(f"{{{uri}}}mount_opts/{{{uri}}}option"):
                name = opt.get("name")
                if name is None:
                    storage_err(c.VIR_ERR_XML_ERROR, "no fs mount option name specified")
                assert name is not None
                self.mount_opts.append(name)
        else:
            for opt in root.iterfind(f"{{{uri}}}config_opts/{{{uri}}}option"):
                name, value = opt.get("name"), opt.get("value")
                if name is None:
                    storage_err(c.VIR_ERR_XML_ERROR, "no rbd option name specified")
                if name == "":
                    storage_err(c.VIR_ERR_XML_ERROR, "empty rbd option name specified")
                if value is None:
                    storage_err(c.VIR_ERR_XML_ERROR,
                                f"no rbd option value specified for name '{name}'")
                if value == "":
                    storage_err(c.VIR_ERR_XML_ERROR,
                                f"empty rbd option value specified for name '{name}'")
                assert name is not None and value is not None
                self.rbd_config_opts.append((name, value))

    def to_element(self) -> Element:
        ns = self.type_info.namespace
        has_ns = bool(self.mount_opts or self.rbd_config_opts) and ns is not None
        nsmap: dict[str | None, str] | None = {ns[0]: ns[1]} if has_ns and ns else None
        root = x.element("pool", nsmap=nsmap, type=self.type)
        x.sub(root, "name", self.name)
        x.sub(root, "uuid", self.uuid)
        x.sub(root, "capacity", self.capacity, unit="bytes")
        x.sub(root, "allocation", self.allocation, unit="bytes")
        x.sub(root, "available", self.available, unit="bytes")
        if self.cow is not None:
            feats = x.sub(root, "features")
            x.sub(feats, "cow", state=x.yes_no(self.cow))
        self.source.format_xml(root, self.type)
        if self.type not in NO_TARGET_TYPES:
            target = x.sub(root, "target")
            if self.target.path is not None:
                x.sub(target, "path", self.target.path)
            self.target.permissions.format(target)
        if self.refresh_volume_allocation is not None:
            refresh = x.sub(root, "refresh")
            x.sub(refresh, "volume", allocation=self.refresh_volume_allocation)
        if has_ns and ns is not None:
            uri = ns[1]
            if self.mount_opts:
                opts = etree.SubElement(root, f"{{{uri}}}mount_opts")
                for name in self.mount_opts:
                    etree.SubElement(opts, f"{{{uri}}}option").set("name", name)
            elif self.rbd_config_opts:
                opts = etree.SubElement(root, f"{{{uri}}}config_opts")
                for name, value in self.rbd_config_opts:
                    opt = etree.SubElement(opts, f"{{{uri}}}option")
                    opt.set("name", name)
                    opt.set("value", value)
        return root

    def to_xml(self) -> str:
        text = x.to_string(self.to_element())
        if self.mount_opts or self.rbd_config_opts:
            # libvirt prints type= before the backend's xmlns: declaration, while
            # xmlutil.to_string puts declarations first: swap them on the root line.
            first, rest = text.split("\n", 1)
            type_attr = f" type='{self.type}'"
            first = "<pool" + type_attr + first[len("<pool"):].replace(type_attr, "", 1)
            text = first + "\n" + rest
        return text

    def copy(self) -> PoolDef:
        return _copy.deepcopy(self)
