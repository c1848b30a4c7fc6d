"""<volume> definitions: parse -> VolumeDef -> format, as libvirt's storage_conf.c.

A volume is always read and written in the context of its pool: the pool type decides
which target format names exist and the default format.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.xmldoc import parse_document
from pyvirt.conf.storage.common import EncryptionDef, Permissions, parse_size, storage_err
from pyvirt.conf.storage.pool import POOL_TYPES, PoolDef, PoolTypeInfo
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

VOLUME_TYPES = ("file", "block", "dir", "network", "netdir", "ploop")
FEATURES = ("lazy_refcounts", "extended_l2")


@dataclass
class Timestamps:
    """Seconds (float) since the epoch; None = unknown. Output only, as in libvirt."""

    atime: float | None = None
    mtime: float | None = None
    ctime: float | None = None
    btime: float | None = None


@dataclass
class VolumeTarget:
    path: str | None = None
    format: str | None = None
    permissions: Permissions = field(default_factory=Permissions)
    timestamps: Timestamps | None = None
    encryption: EncryptionDef | None = None
    compat: str | None = None
    nocow: bool = False
    cluster_size: int = 0
    features: list[str] | None = None  # None = no <features>; [] = empty <features/>

    def format_into(self, parent: Element, tag: str, info: PoolTypeInfo) -> None:
        node = x.sub(parent, tag)
        if self.path is not None:
            x.sub(node, "path", self.path)
        if info.vol_formats:
            x.sub(node, "format", type=self.format or info.vol_default_format)
        self.permissions.format(node)
        if self.timestamps is not None:
            ts = x.sub(node, "timestamps")
            for name in ("atime", "mtime", "ctime", "btime"):
                value = getattr(self.timestamps, name)
                if value is not None:
                    x.sub(ts, name, _format_time(value))
        if self.encryption is not None:
            self.encryption.format_xml(node)
        if self.compat is not None:
            x.sub(node, "compat", self.compat)
        if self.cluster_size > 0:
            x.sub(node, "clusterSize", self.cluster_size, unit="B")
        if self.features is not None:
            feats = x.sub(node, "features")
            for name in FEATURES:
                if name in self.features:
                    x.sub(feats, name)
        if len(node) == 0:
            x.keep_open(node, lines=True)


def _format_time(value: float) -> str:
    secs = int(value)
    nsec = round((value - secs) * 1e9)
    return f"{secs}.{nsec:09d}" if nsec else str(secs)


@dataclass
class BackingStore:
    path: str
    format: str | None = None
    permissions: Permissions = field(default_factory=Permissions)
    timestamps: Timestamps | None = None  # output only

    def as_target(self) -> VolumeTarget:
        return VolumeTarget(path=self.path, format=self.format, permissions=self.permissions,
                            timestamps=self.timestamps)


@dataclass
class Extent:
    path: str
    start: int
    end: int


@dataclass
class VolumeDef:
    name: str = ""
    key: str | None = None
    type: str = "file"
    capacity: int = 0
    allocation: int = 0
    has_allocation: bool = False  # <allocation> was given (else it follows capacity)
    physical: int = 0  # output only
    target: VolumeTarget = field(default_factory=VolumeTarget)
    backing_store: BackingStore | None = None
    extents: list[Extent] = field(default_factory=list)  # <source><device><extent>
    pool_type: str = "dir"  # the pool this definition was parsed for

    @classmethod
    def from_xml(cls, text: str | bytes, pool: PoolDef | None = None,
                 no_capacity: bool = False, opt_capacity: bool = False,
                 validate_schema: bool = False) -> VolumeDef:
        root = parse_document(text, "volume", "(storage_volume_definition)", c.VIR_FROM_STORAGE)
        if validate_schema:
            from pyvirt.conf.network import schema

            schema.validate(root, "storagevol.rng")
        return cls.from_element(root, pool=pool, no_capacity=no_capacity,
                                opt_capacity=opt_capacity)

    @classmethod
    def from_element(cls, root: Element, pool: PoolDef | None = None,
                     no_capacity: bool = False, opt_capacity: bool = False) -> VolumeDef:
        pool_type = pool.type if pool is not None else "dir"
        info = POOL_TYPES[pool_type]
        vol = cls(pool_type=pool_type)
        name = root.findtext("name")
        if name is None:
            storage_err(c.VIR_ERR_XML_ERROR, "missing volume name element")
        assert name is not None
        vol.name = name
        vol.key = root.findtext("key")
        vtype = root.get("type")
        if vtype is not None:
            if vtype not in VOLUME_TYPES:
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown volume type '{vtype}'")
            vol.type = vtype
        bpath = root.findtext("backingStore/path")
        if bpath:
            backing = BackingStore(path=bpath)
            if info.vol_formats:
                bfmt = root.find("backingStore/format")
                backing.format = _vol_format(bfmt.get("type") if bfmt is not None else None,
                                             info)
            backing.permissions = Permissions.from_element(
                root.find("backingStore/permissions"))
            vol.backing_store = backing
        cap = root.find("capacity")
        cap_text = cap.text if cap is not None else None
        if cap_text:
            assert cap is not None
            vol.capacity = parse_size(cap_text, cap.get("unit"))
        elif not no_capacity and not (opt_capacity and vol.backing_store is not None):
            storage_err(c.VIR_ERR_XML_ERROR, "missing capacity element")
        alloc = root.find("allocation")
        if alloc is not None and alloc.text:
            vol.allocation = parse_size(alloc.text, alloc.get("unit"))
            vol.has_allocation = True
        else:
            vol.allocation = vol.capacity
        tgt = vol.target
        tgt.path = root.findtext("target/path")
        if info.vol_formats:
            fmt = root.find("target/format")
            tgt.format = _vol_format(fmt.get("type") if fmt is not None else None, info)
        tgt.permissions = Permissions.from_element(root.find("target/permissions"))
        enc = root.find("target/encryption")
        if enc is not None:
            tgt.encryption = EncryptionDef.from_element(enc)
        tgt.compat = root.findtext("target/compat")
        if tgt.compat is not None:
            parts = tgt.compat.split(".", 1)
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
                storage_err(c.VIR_ERR_XML_ERROR, "forbidden characters in 'compat' attribute")
        tgt.nocow = root.find("target/nocow") is not None
        cluster = root.find("target/clusterSize")
        if cluster is not None:
            text = (cluster.text or "").strip()
            number = int(text) if text.isdigit() else None
            if number is None:
                raise_error(c.VIR_ERR_XML_ERROR, "Invalid value for element "
                            "'./target/clusterSize'", domain=c.VIR_FROM_STORAGE)
            assert number is not None
            tgt.cluster_size = parse_size(str(number), cluster.get("unit"))
        feats = root.find("target/features")
        if feats is not None:
            if tgt.compat is None:
                tgt.compat = "1.1"
            tgt.features = []
            for child in feats:
                if not isinstance(child.tag, str):
                    continue
                fname = x.local_name(child)
                if fname not in FEATURES:
                    storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unsupported feature {fname}")
                if fname not in tgt.features:
                    tgt.features.append(fname)
        return vol

    def to_element(self, pool: PoolDef | None = None) -> Element:
        info = POOL_TYPES[pool.type if pool is not None else self.pool_type]
        root = x.element("volume", type=self.type)
        x.sub(root, "name", self.name)
        if self.key is not None:
            x.sub(root, "key", self.key)
        if self.extents:
            source = x.sub(root, "source")
            device: Element | None = None
            for ext in self.extents:
                if device is None or device.get("path") != ext.path:
                    device = x.sub(source, "device", path=ext.path)
                x.sub(device, "extent", start=ext.start, end=ext.end)
        x.sub(root, "capacity", self.capacity, unit="bytes")
        x.sub(root, "allocation", self.allocation, unit="bytes")
        if self.physical:
            x.sub(root, "physical", self.physical, unit="bytes")
        self.target.format_into(root, "target", info)
        if self.backing_store is not None:
            self.backing_store.as_target().format_into(root, "backingStore", info)
        return root

    def to_xml(self, pool: PoolDef | None = None) -> str:
        return x.to_string(self.to_element(pool=pool))

    def copy(self) -> VolumeDef:
        return _copy.deepcopy(self)


def _vol_format(name: str | None, info: PoolTypeInfo) -> str | None:
    if name is None:
        return info.vol_default_format
    # "none" is libvirt's "unset" for file formats, not a name it accepts.
    if name not in info.vol_formats or (name == "none" and info.vol_default_format == "raw"):
        storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown volume format type {name}")
    return name
