"""Disks on the QEMU command line: ``-blockdev`` protocol and format nodes (libvirt's
qemu_block.c layout) and the ``-device`` frontends (virtio-blk, IDE, SATA, SCSI, USB,
floppy), plus the pflash firmware images."""

from __future__ import annotations

import os
import stat

from pyvirt.drivers.qemu.command_props import (
    Cmd,
    Props,
    address_props,
    internal,
    put,
    require,
    unsupported,
    virtio_driver,
    xattr,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.disks import Disk, DiskSource
    from pyvirt.conf.domain.xnode import XNode

# cache mode -> (write-cache, cache.direct, cache.no-flush)  (qemuDomainDiskCachemodeFlags)
CACHE_MODES: dict[str, tuple[bool, bool, bool]] = {
    "none": (True, True, False), "writethrough": (False, False, False),
    "writeback": (True, False, False), "directsync": (False, True, False),
    "unsafe": (True, False, True),
}
_FORMATS = ("raw", "qcow2", "qcow", "qed", "vmdk", "vpc", "vdi", "vhdx", "cloop", "dmg",
            "bochs", "parallels", "luks")


def boot_indexes(cmd: Cmd) -> dict[int, int]:
    """qemuProcessPrepareDeviceBootorder: each device's bootindex (by id()), from per-device
    <boot order> or, for <os><boot dev>, the first disk/cdrom/floppy/interface."""
    defn = cmd.defn
    out: dict[int, int] = {}
    for dev in defn.devices.all():
        if dev.info.boot_order is not None:
            out[id(dev)] = dev.info.boot_order
    if not defn.os.boot_devices or defn.os.type != "hvm":
        return out
    order = {name: i + 1 for i, name in enumerate(defn.os.boot_devices)}
    wanted = {"cdrom": order.get("cdrom", 0), "disk": order.get("hd", 0),
              "lun": order.get("hd", 0), "floppy": order.get("fd", 0)}
    for disk in defn.devices.disks:
        kind = "disk" if disk.device == "lun" else disk.device
        if kind in wanted:
            if wanted[kind]:
                out[id(disk)] = wanted[kind]
            wanted[kind] = 0
            if kind in ("disk", "lun"):
                wanted["disk"] = wanted["lun"] = 0
    if defn.devices.interfaces and order.get("network"):
        out[id(defn.devices.interfaces[0])] = order["network"]
    return out


def _driver_attr(disk: Disk, name: str) -> str | None:
    return disk.driver.attrs.get(name) if disk.driver is not None else None


def is_cdrom(path: str) -> bool:
    """virFileIsCDROM: the block device answers the CD-ROM drive status ioctl."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, 0x5326)  # CDROM_DRIVE_STATUS
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def cache_mode(disk: Disk) -> str | None:
    """The cache mode, with qemuDomainPrepareDiskCachemode's default for shared disks."""
    mode = _driver_attr(disk, "cache")
    if mode in (None, "default"):
        if disk.shareable and not disk.readonly:
            return "none"
        return None
    return mode


def _cache(disk: Disk) -> dict[str, bool] | None:
    mode = cache_mode(disk)
    if mode is None:
        return None
    if mode not in CACHE_MODES:
        unsupported(f"unknown disk cache mode '{mode}'")
    _, direct, noflush = CACHE_MODES[mode]
    return {"direct": direct, "no-flush": noflush}


class Layer:
    """One image of a disk's backing chain: the disk's own source, then each
    <backingStore> below it (libvirt's virStorageSource)."""

    __slots__ = ("type", "source", "format", "ident", "terminated", "metadata_cache")

    def __init__(self, type_: str, source: DiskSource | None, fmt: str | None,
                 metadata_cache: XNode | None = None) -> None:
        self.type = type_
        self.source = source
        self.format = fmt
        self.metadata_cache = metadata_cache  # <metadata_cache> of a qcow2 image
        self.ident = 0  # the N of libvirt-N-storage / libvirt-N-format
        self.terminated = False  # an empty <backingStore/> follows: no backing at all

    @property
    def path(self) -> str | None:
        src = self.source
        if src is None:
            return None
        return {"file": src.file, "block": src.dev, "dir": src.dir}.get(self.type)

    def present(self) -> bool:
        if self.source is None:
            return False
        if self.type == "network":
            return bool(self.source.protocol)
        return bool(self.path)


def disk_chain(disk: Disk) -> list[Layer]:
    """The disk's images from the top down, as the definition gives them (QEMU opens what
    a chain left undescribed from the image headers itself)."""
    from pyvirt.conf.domain.disks import DiskSource

    top_meta = next((n for n in disk.driver.children if n.tag == "metadata_cache"), None) \
        if disk.driver is not None else None
    chain = [Layer(disk.type, disk.source, disk.driver_type, top_meta)]
    node = next((n for _, n in disk.extra.children if n.tag == "backingStore"), None)
    while node is not None:
        src = node.find("source")
        if not node.attrs and src is None:
            chain[-1].terminated = True
            break
        fmt = node.find("format")
        chain.append(Layer(node.attrs.get("type", "file"),
                           DiskSource(dict(src.attrs), list(src.children))
                           if src is not None else None,
                           fmt.attrs.get("type") if fmt is not None else None,
                           fmt.find("metadata_cache") if fmt is not None else None))
        node = node.find("backingStore")
    return chain


def _storage_driver(layer: Layer, device: str) -> str:
    if layer.type == "file":
        return "file"
    if layer.type == "block":
        return "host_cdrom" if device == "cdrom" and is_cdrom(layer.path or "") \
            else "host_device"
    if layer.type == "dir":
        return "vvfat"
    unsupported(f"unsupported disk type '{layer.type}'")


def _server(host: dict[str, str], default_port: str | None = None) -> Props:
    if host.get("transport") == "unix":
        return {"type": "unix", "path": host.get("socket", "")}
    server: Props = {"type": "inet", "host": host.get("name", "")}
    port = host.get("port", default_port)
    if port:
        server["port"] = port
    return server


def _network_props(src: DiskSource) -> Props:
    """qemuBlockStorageSourceGetBackendProps for the network protocols QEMU reaches
    without secrets."""
    proto = src.protocol or ""
    hosts = src.hosts
    host = hosts[0] if hosts else {}
    name = src.name or ""
    props: Props
    if proto == "nbd":
        return put({"driver": "nbd", "server": _server(host, "10809")}, export=name or None)
    if proto in ("http", "https", "ftp", "ftps"):
        port = host.get("port")
        url = f"{proto}://{host.get('name', '')}{':' + port if port else ''}" \
              f"{'' if name.startswith('/') else '/'}{name}"
        if src.attrs.get("query"):
            url += f"?{src.attrs['query']}"
        props = {"driver": proto, "url": url}
        for child in src.children:
            if child.tag == "timeout" and child.attrs.get("seconds"):
                props["timeout"] = int(child.attrs["seconds"])
            elif child.tag == "readahead" and child.attrs.get("size"):
                props["readahead"] = int(child.attrs["size"])
        return props
    if proto == "iscsi":
        target, _, lun = name.partition("/")
        addr = host.get("name", "")
        portal = f"[{addr}]" if ":" in addr else addr
        props = {"driver": "iscsi", "portal": f"{portal}:{host.get('port', '3260')}",
                 "target": target, "lun": int(lun or "0"),
                 "transport": "iser" if host.get("transport") == "rdma" else "tcp"}
        initiator = next((c for c in src.children if c.tag == "initiator"), None)
        iqn = initiator.find("iqn") if initiator is not None else None
        if iqn is not None and iqn.attrs.get("name"):
            props["initiator-name"] = iqn.attrs["name"]
        return props
    if proto == "rbd":
        pool, _, image = name.partition("/")
        props = {"driver": "rbd", "pool": pool, "image": image}
        snap = next((c for c in src.children if c.tag == "snapshot"), None)
        if snap is not None and snap.attrs.get("name"):
            props["snapshot"] = snap.attrs["name"]
        if hosts:
            props["server"] = [put({"host": h.get("name", "")}, port=h.get("port"))
                               for h in hosts]
        conf = next((c for c in src.children if c.tag == "config"), None)
        if conf is not None and conf.attrs.get("file"):
            props["conf"] = conf.attrs["file"]
        return props
    if proto == "gluster":
        volume, _, path = name.partition("/")
        return {"driver": "gluster", "volume": volume, "path": path,
                "server": [_server(h, "24007") for h in hosts], "debug": 4}
    if proto == "nfs":
        props = {"driver": "nfs", "server": {"host": host.get("name", ""), "type": "inet"},
                 "path": name}
        ident = next((c for c in src.children if c.tag == "identity"), None)
        if ident is not None:
            put(props, user=_nfs_id(ident.attrs.get("user"), "user"),
                group=_nfs_id(ident.attrs.get("group"), "group"))
        return props
    unsupported(f"protocol '{proto}' is not supported for network disks")


def _nfs_id(value: str | None, kind: str) -> int | None:
    """<identity user/group>: '+N' is a number, anything else a name on this host."""
    if value is None:
        return None
    if value.startswith("+"):
        return int(value[1:])
    import grp
    import pwd

    try:
        return pwd.getpwnam(value).pw_uid if kind == "user" else grp.getgrnam(value).gr_gid
    except KeyError:
        unsupported(f"unknown NFS {kind} '{value}'")


def _layer_args(cmd: Cmd, disk: Disk, chain: list[Layer], depth: int) -> str:
    """-blockdev for one layer (its backing layers first); its format node name."""
    layer = chain[depth]
    below = chain[depth + 1] if depth + 1 < len(chain) else None
    backing = _layer_args(cmd, disk, chain, depth + 1) \
        if below is not None and below.present() else None
    storage = f"libvirt-{layer.ident}-storage"
    fmt_node = f"libvirt-{layer.ident}-format"
    top = depth == 0
    cache = _cache(disk)
    assert layer.source is not None
    if layer.type == "network":
        props = _network_props(layer.source)
    else:
        props = {"driver": _storage_driver(layer, disk.device), "filename": layer.path or ""}
        io = _driver_attr(disk, "io")
        if io in ("native", "threads", "io_uring"):
            props["aio"] = io
    props["node-name"] = storage
    put(props, cache=cache)
    props["auto-read-only"] = True
    props["discard"] = "unmap"
    cmd.blockdev(props)
    fmt = layer.format or "raw"
    if fmt not in _FORMATS:
        unsupported(f"unknown driver format value '{fmt}'")
    readonly = not top or disk.readonly or disk.device == "cdrom"
    fprops: Props = {"node-name": fmt_node, "read-only": readonly}
    put(fprops, cache=cache)
    if top:
        discard = _driver_attr(disk, "discard")
        if discard in ("unmap", "ignore"):
            fprops["discard"] = discard
        zeroes = _driver_attr(disk, "detect_zeroes")
        if zeroes in ("on", "off", "unmap"):
            fprops["detect-zeroes"] = "on" if zeroes == "unmap" and discard != "unmap" \
                else zeroes
    fprops["driver"] = fmt
    if fmt == "qcow2":
        meta = layer.metadata_cache
        size = meta.find("max_size") if meta is not None else None
        if size is not None and size.text:
            fprops["cache-size"] = _bytes(size.text.strip(), size.attrs.get("unit", "bytes"))
    fprops["file"] = storage
    if fmt != "raw":
        if backing is not None:
            fprops["backing"] = backing
        elif layer.terminated:
            fprops["backing"] = None
    cmd.blockdev(fprops)
    return fmt_node


def disk_source_args(cmd: Cmd, disk: Disk, chain: list[Layer]) -> str | None:
    """-blockdev for the disk's images (storage and format node of each layer, the backing
    layers first); the node the frontend uses."""
    if not chain[0].present():
        return None
    top = _layer_args(cmd, disk, chain, 0)
    if _driver_attr(disk, "copy_on_read") == "on":
        cor = f"libvirt-CoR-{disk.target_dev}"
        cmd.blockdev({"driver": "copy-on-read", "node-name": cor, "file": top,
                      "discard": "unmap"})
        return cor
    return top


def _error_policy(disk: Disk) -> tuple[str | None, str | None]:
    """qemuBuildDiskGetErrorPolicy."""
    wpolicy = _driver_attr(disk, "error_policy")
    rpolicy = _driver_attr(disk, "rerror_policy")
    if wpolicy == "enospace":
        wpolicy = "enospc"  # QEMU's spelling, and only for werror
    elif rpolicy is None:
        rpolicy = wpolicy
    return wpolicy, rpolicy


def disk_device_props(cmd: Cmd, disk: Disk, drive: str | None, bootindex: int) -> Props:
    """qemuBuildDiskDeviceProps."""
    bus = disk.target_bus or "ide"
    props: Props = {}
    device_id: str | None = None
    removable: bool | None = None
    if bus in ("ide", "sata"):
        props["driver"] = "ide-cd" if disk.device == "cdrom" else "ide-hd"
    elif bus == "scsi":
        if disk.device == "lun":
            props["driver"] = "scsi-block"
        else:
            props["driver"] = "scsi-cd" if disk.device == "cdrom" else "scsi-hd"
            device_id = disk.serial or f"drive-{disk.info.alias}"
    elif bus == "virtio":
        props = virtio_driver(cmd, disk, "virtio-blk", xattr(disk, "model"))
        if disk.driver is not None:
            put(props, iommu_platform=_tristate(_driver_attr(disk, "iommu")),
                ats=_tristate(_driver_attr(disk, "ats")),
                packed=_tristate(_driver_attr(disk, "packed")),
                page__per__vq=_tristate(_driver_attr(disk, "page_per_vq")))
        iothread = _driver_attr(disk, "iothread")
        put(props, iothread=f"iothread{iothread}" if iothread else None,
            ioeventfd=_tristate(_driver_attr(disk, "ioeventfd")),
            event_idx=_tristate(_driver_attr(disk, "event_idx")),
            scsi=True if disk.device == "lun" else None,
            num__queues=_int(_driver_attr(disk, "queues")),
            queue__size=_int(_driver_attr(disk, "queue_size")))
    elif bus == "usb":
        props["driver"] = "usb-storage"
        rem = disk.target.attrs.get("removable")
        removable = rem == "on" if rem is not None else False
    elif bus == "fdc":
        props["driver"] = "floppy"
    else:
        internal(f"unsupported disk bus '{bus}' with device setup")
    address_props(cmd, props, disk, bus)
    put(props, device_id=device_id, share__rw=True if disk.shareable else None, drive=drive)
    props["id"] = disk.info.alias
    if disk.device != "floppy" and bootindex:
        props["bootindex"] = bootindex
    blockio = next((n for _, n in disk.extra.children if n.tag == "blockio"), None)
    if blockio is not None:
        put(props, logical_block_size=_int(blockio.attrs.get("logical_block_size")),
            physical_block_size=_int(blockio.attrs.get("physical_block_size")))
    wwn = next((n.text for _, n in disk.extra.children if n.tag == "wwn"), None)
    if wwn:
        props["wwn"] = int(wwn, 16)
    rotation = disk.target.attrs.get("rotation_rate")
    put(props, rotation_rate=_int(rotation))
    for tag in ("vendor", "product"):
        text = next((n.text for _, n in disk.extra.children if n.tag == tag), None)
        put(props, **{tag: text})
    put(props, removable=removable)
    mode = cache_mode(disk)
    if mode in CACHE_MODES and disk.device != "lun":
        props["write-cache"] = "on" if CACHE_MODES[mode][0] else "off"
    geometry = next((n for _, n in disk.extra.children if n.tag == "geometry"), None)
    if geometry is not None:
        put(props, cyls=_int(geometry.attrs.get("cyls")), heads=_int(geometry.attrs.get("heads")),
            secs=_int(geometry.attrs.get("secs")))
        put(props, bios__chs__trans=geometry.attrs.get("trans"))
    if disk.serial:
        props["serial"] = disk.serial.replace(" ", "\\ ")
    werror, rerror = _error_policy(disk)
    put(props, werror=werror, rerror=rerror)
    return props


def _bytes(value: str, unit: str) -> int:
    """virScaleInteger for a size in bytes (unit case-insensitive, as libvirt's)."""
    u = unit.lower()
    if u in ("", "b", "bytes"):
        return int(value)
    power = "kmgtpe".index(u[0]) + 1 if u[0] in "kmgtpe" else 0
    base = 1000 if u.endswith("b") and not u.endswith("ib") and len(u) == 2 else 1024
    if not power or u not in (u[0], u[0] + "b", u[0] + "ib"):
        unsupported(f"unknown suffix '{unit}'")
    return int(value) * base ** power


def _tristate(value: str | None) -> bool | None:
    return None if value is None else value in ("on", "yes")


def _int(value: str | None) -> int | None:
    return int(value, 0) if value else None


def _needs_explicit_fdc(cmd: Cmd) -> bool:
    """qemuDomainNeedsFDC: q35 machines from 2.4 on have no built-in floppy controller."""
    from pyvirt.drivers.qemu.addresses import is_q35

    name = cmd.defn.os.machine or ""
    return is_q35(cmd.defn) and not name.startswith(("pc-q35-2.0", "pc-q35-2.1", "pc-q35-2.2",
                                                     "pc-q35-2.3"))


def check_disk(cmd: Cmd, disk: Disk) -> None:
    """The parts of qemuValidateDomainDeviceDefDisk that refuse a configuration."""
    from pyvirt.drivers.qemu.addresses import is_q35

    bus = disk.target_bus
    if disk.readonly and disk.device == "disk" and bus == "ide":
        unsupported("readonly ide disks are not supported")
    if bus == "sata" and not (is_q35(cmd.defn) or cmd.has("ich9-ahci")):
        unsupported("SATA is not supported with this QEMU binary")
    if bus == "usb":
        require(cmd, "usb-storage", "This QEMU doesn't support '-device usb-storage'")
    if bus not in ("ide", "sata", "scsi", "virtio", "usb", "fdc"):
        unsupported(f"Unsupported disk bus '{bus}'")
    if disk.type not in ("file", "block", "network", "dir"):
        unsupported(f"unsupported disk type '{disk.type}'")
    src = disk.source
    if src is not None and any(ch.tag in ("reservations", "encryption", "auth", "fdgroup")
                               for ch in src.children):
        unsupported(f"disk source options of '{disk.target_dev}' (encryption, authentication, "
                    "persistent reservations, fd passing) are not supported by this driver")
    if any(n.tag in ("encryption", "auth") for _, n in disk.extra.children) or \
            (disk.type == "network" and src is not None and src.attrs.get("tls") == "yes"):
        unsupported(f"disk '{disk.target_dev}' needs secrets (authentication, encryption or "
                    "TLS), which this driver does not support yet")


def build_disks(cmd: Cmd, boot: dict[int, int]) -> None:
    """qemuBuildDisksCommandLine."""
    disks = cmd.defn.devices.disks
    floppies = [d for d in disks if d.target_bus == "fdc"]
    if floppies:
        index_a = index_b = 0
        for disk in floppies:
            addr = disk.info.address
            unit = addr.unit if addr is not None else 0
            if unit:
                index_b = boot.get(id(disk), 0)
            else:
                index_a = boot.get(id(disk), 0)
        if _needs_explicit_fdc(cmd):
            cmd.device(put({"driver": "isa-fdc"}, bootindexA=index_a or None,
                           bootindexB=index_b or None))
        else:
            if index_a:
                cmd.add("-global", f"isa-fdc.bootindexA={index_a}")
            if index_b:
                cmd.add("-global", f"isa-fdc.bootindexB={index_b}")
    chains = [disk_chain(disk) for disk in disks]
    ident = 0
    for chain in reversed(chains):  # libvirt numbers the images from the last disk up
        for layer in chain:
            ident += 1
            layer.ident = ident
    for disk, chain in zip(disks, chains):
        check_disk(cmd, disk)
        drive = disk_source_args(cmd, disk, chain)
        cmd.device(disk_device_props(cmd, disk, drive, boot.get(id(disk), 0)))


def pflash_args(cmd: Cmd) -> list[str]:
    """qemuBuildPflashBlockdevCommandLine: firmware (and its variable store) as pflash
    blockdevs; returns the -machine properties that attach them. A read-only firmware
    without a variable store path gets ``ctx.nvram_dir``/NAME_VARS.fd (recorded in the live
    definition; the driver copies the template there)."""
    from pyvirt.conf.domain.disks import DiskSource
    from pyvirt.conf.domain.xnode import XNode

    defn = cmd.defn
    loader = defn.os.loader
    if loader is None or loader.attrs.get("type") != "pflash" or not loader.path:
        return []
    machine: list[str] = []
    readonly = loader.attrs.get("readonly") == "yes"
    _pflash(cmd, "pflash0", {"driver": _file_driver(loader.path), "filename": loader.path},
            readonly)
    machine.append("pflash0=libvirt-pflash0-format")
    nvram = defn.os.nvram
    path = (nvram.text or "").strip() if nvram is not None else ""
    src = nvram.find("source") if nvram is not None else None
    if nvram is not None and nvram.attrs.get("type") == "network" and src is not None:
        if src.find("auth") is not None:
            unsupported("a variable store needing secrets (authentication) is not supported "
                        "by this driver yet")
        props = _network_props(DiskSource(dict(src.attrs), list(src.children)))
    else:
        if not path and src is not None:
            path = src.attrs.get("file") or src.attrs.get("dev") or ""
        if not path and readonly and cmd.ctx.nvram_dir and \
                loader.attrs.get("stateless") != "yes":
            path = os.path.join(cmd.ctx.nvram_dir, f"{defn.name}_VARS.fd")
            if nvram is None:
                nvram = defn.os.nvram = XNode("nvram")
            nvram.text = path
        if not path:
            return machine
        props = {"driver": _file_driver(path), "filename": path}
    _pflash(cmd, "pflash1", props, False)
    machine.append("pflash1=libvirt-pflash1-format")
    return machine


def _file_driver(path: str) -> str:
    try:
        return "host_device" if stat.S_ISBLK(os.stat(path).st_mode) else "file"
    except OSError:
        return "file"


def _pflash(cmd: Cmd, name: str, props: Props, readonly: bool) -> None:
    cmd.blockdev({**props, "node-name": f"libvirt-{name}-storage", "auto-read-only": True,
                  "discard": "unmap"})
    cmd.blockdev({"node-name": f"libvirt-{name}-format", "read-only": readonly,
                  "driver": "raw", "file": f"libvirt-{name}-storage"})
