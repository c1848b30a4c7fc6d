"""virsh's "Storage Volume" group (tools/virsh-volume.c): vol-* commands.

Volumes are found as virshCommandOptVolBy does (``ctl.lookup_volume``): by name inside
``--pool`` when given (the pool must be active), else by key, then by path.

``--json`` (our addition) on vol-list and vol-info prints stable keys:

- vol-list: a list of objects ``{"name", "path", "type", "capacity", "allocation"}``; ``type``
  is virsh's word ("file", "block", "dir", "network", "netdir", "ploop"), sizes are integers
  in bytes.
- vol-info: one object ``{"name", "type", "capacity", "allocation"}``; with --physical the
  allocation key is ``"physical"`` instead (the physical size in bytes).
"""

from __future__ import annotations

from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.pool import format_capacity, read_xml_file
from pyvirt.virsh.ctl import BY_UUID, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "volume"

# virStorageVolType as virsh prints it
VOL_TYPES = ("file", "block", "dir", "network", "netdir", "ploop")
# virStorageVolWipeAlgorithm names, in libvirt's order
WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7",
                   "pfitzner33", "random", "trim")

_CREATE_PREALLOC_METADATA = 1 << 0
_CREATE_REFLINK = 1 << 1
_CREATE_VALIDATE = 1 << 2
_DELETE_WITH_SNAPSHOTS = 1 << 1
_RESIZE_ALLOCATE, _RESIZE_DELTA, _RESIZE_SHRINK = 1 << 0, 1 << 1, 1 << 2
_GET_PHYSICAL = 1 << 0
_UPLOAD_SPARSE = 1 << 0
_ULLONG_MAX = 2**64 - 1


def _type_name(vtype: int) -> str:
    return VOL_TYPES[vtype] if 0 <= vtype < len(VOL_TYPES) else "unknown"


def vol_size(ctl: Ctl, text: str) -> int | None:
    """virshVolSize: a decimal with an optional virScaleInteger suffix (default bytes).

    On a bad suffix or overflow libvirt's error is recorded (virsh prints it after its
    "Malformed size" line); a malformed number records nothing.
    """
    import re

    from pyvirt.conf.storage.common import scale_size
    from pyvirt.errors import report

    m = re.match(r"[ \t\n\v\f\r]*\+?([0-9]+)(.*)\Z", text, re.S)
    if m is None or int(m.group(1)) > _ULLONG_MAX:
        return None
    try:
        return scale_size(int(m.group(1)), m.group(2), _ULLONG_MAX)
    except libvirtError as exc:
        report(exc)
        return None


# ---- option tables ---------------------------------------------------------------------------

_POOL_NAME = Opt("pool", OptType.DATA, "pool name", required=True, completer="pool")
_POOL_FULL = Opt("pool", OptType.DATA, "pool name or uuid", required=True, completer="pool")
_POOL_OPTIONAL = Opt("pool", OptType.STRING, "pool name or uuid", completer="pool")
_VOL_FULL = Opt("vol", OptType.DATA, "vol name, key or path", required=True, completer="volume")
_VOL_BY_KEY = Opt("vol", OptType.DATA, "volume key or path", required=True, completer="volume")
_FILE_VOL = Opt("file", OptType.DATA, "file containing an XML vol description", required=True)
_PREALLOC = Opt("prealloc-metadata", OptType.BOOL,
                "preallocate metadata (for qcow2 instead of full allocation)")
_REFLINK = Opt("reflink", OptType.BOOL, "use btrfs COW lightweight copy")
_VALIDATE = Opt("validate", OptType.BOOL, "validate the XML against the schema")
_JSON = Opt("json", OptType.BOOL, "print JSON")


def _vol(ctl: Ctl, args: Args, pool_opt: str | None = "pool", by: int | None = None) -> Any:
    if by is None:
        return ctl.lookup_volume(args, "vol", pool_opt)
    return ctl.lookup_volume(args, "vol", pool_opt, by)


# ---- commands, in virsh's table order ----------------------------------------------------------

@command("vol-clone", GROUP, "clone a volume.",
         "Clone an existing volume within the parent pool.", (
             _VOL_FULL,
             Opt("newname", OptType.DATA, "clone name", required=True),
             _POOL_OPTIONAL, _PREALLOC, _REFLINK,
             Opt("print-xml", OptType.BOOL, "print XML document rather than clone the volume"),
         ))
def cmd_vol_clone(ctl: Ctl, args: Args) -> bool:
    origvol = _vol(ctl, args)
    flags = 0
    if args.bool("prealloc-metadata"):
        flags |= _CREATE_PREALLOC_METADATA
    if args.bool("reflink"):
        flags |= _CREATE_REFLINK
    try:
        origpool = origvol.storagePoolLookupByVolume()
    except libvirtError:
        ctl.error("failed to get parent pool")
        raise
    newname = args.string("newname") or ""
    origxml = origvol.XMLDesc(0)
    newxml = _clone_xml(origxml, newname)
    if args.bool("print-xml"):
        ctl.print(newxml, end="")
        return True
    try:
        newvol = origpool.createXMLFrom(newxml, origvol, flags)
    except libvirtError:
        ctl.error(f"Failed to clone vol from {origvol.name()}")
        raise
    ctl.print_extra(f"Vol {newvol.name()} cloned from {origvol.name()}")
    return True


def _clone_xml(origxml: str, newname: str) -> str:
    """virshMakeCloneXML: the volume's XML with /volume/name replaced, serialised as
    libxml2's node dump (no trailing newline, double-quoted attributes)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(origxml.encode(), parser)
    name = root.find("name")
    if name is not None:
        for child in list(name):
            name.remove(child)
        name.text = newname
    return etree.tostring(root, encoding="unicode")


@command("vol-create-as", GROUP, "create a volume from a set of args", "Create a vol.", (
    _POOL_NAME,
    Opt("name", OptType.DATA, "name of the volume", required=True),
    Opt("capacity", OptType.DATA, "size of the vol, as scaled integer (default bytes)",
        required=True),
    Opt("allocation", OptType.STRING,
        "initial allocation size, as scaled integer (default bytes)"),
    Opt("format", OptType.STRING, "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
    Opt("backing-vol", OptType.STRING, "the backing volume if taking a snapshot"),
    Opt("backing-vol-format", OptType.STRING, "format of backing volume if taking a snapshot"),
    _PREALLOC,
    Opt("print-xml", OptType.BOOL, "print XML document, but don't define/create"),
))
def cmd_vol_create_as(ctl: Ctl, args: Args) -> bool:
    from lxml import etree

    from pyvirt.conf import xmlutil as x

    flags = _CREATE_PREALLOC_METADATA if args.bool("prealloc-metadata") else 0
    pool = ctl.lookup_pool(args)
    name = args.string("name") or ""
    capacity_str = args.string("capacity") or ""
    capacity = vol_size(ctl, capacity_str)
    if capacity is None:
        ctl.error(f"Malformed size {capacity_str}")
        return False
    allocation_str = args.string_quiet("allocation")
    allocation = 0
    if allocation_str is not None:
        parsed = vol_size(ctl, allocation_str)
        if parsed is None:
            ctl.error(f"Malformed size {allocation_str}")
            return False
        allocation = parsed
    fmt = args.string("format")
    backing = args.string("backing-vol")
    backing_fmt = args.string("backing-vol-format")

    root = etree.Element("volume")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "capacity").text = str(capacity)
    if allocation_str is not None:
        etree.SubElement(root, "allocation").text = str(allocation)
    if fmt:
        target = etree.SubElement(root, "target")
        etree.SubElement(target, "format", type=fmt)
    if backing:
        snap = _lookup_backing(ctl, pool, backing)
        if snap is None:
            ctl.error(f"failed to get vol '{backing}'")
            return False
        store = etree.SubElement(root, "backingStore")
        etree.SubElement(store, "path").text = snap.path()
        if backing_fmt:
            etree.SubElement(store, "format", type=backing_fmt)
    xml = x.to_string(root)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        pool.createXML(xml, flags)
    except libvirtError:
        ctl.error(f"Failed to create vol {name}")
        raise
    ctl.print_extra(f"Vol {name} created")
    return True


def _lookup_backing(ctl: Ctl, pool: Any, name: str) -> Any:
    """The backing volume: by name in the pool, then by key, then by path."""
    for lookup in (pool.storageVolLookupByName, ctl.conn.storageVolLookupByKey,
                   ctl.conn.storageVolLookupByPath):
        try:
            return lookup(name)
        except libvirtError:
            continue
    return None


@command("vol-create", GROUP, "create a vol from an XML file", "Create a vol.", (
    _POOL_NAME, _FILE_VOL, _PREALLOC, _VALIDATE,
))
def cmd_vol_create(ctl: Ctl, args: Args) -> bool:
    flags = 0
    if args.bool("prealloc-metadata"):
        flags |= _CREATE_PREALLOC_METADATA
    if args.bool("validate"):
        flags |= _CREATE_VALIDATE
    pool = ctl.lookup_pool(args)
    path = args.string("file") or ""
    xml = read_xml_file(ctl, path)
    try:
        vol = pool.createXML(xml, flags)
    except libvirtError:
        ctl.error(f"Failed to create vol from {path}")
        raise
    ctl.print_extra(f"Vol {vol.name()} created from {path}")
    return True


@command("vol-create-from", GROUP, "create a vol, using another volume as input",
         "Create a vol from an existing volume.", (
             _POOL_FULL, _FILE_VOL, _VOL_FULL,
             Opt("inputpool", OptType.STRING, "pool name or uuid of the input volume's pool",
                 completer="pool"),
             _PREALLOC, _REFLINK, _VALIDATE,
         ))
def cmd_vol_create_from(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    flags = 0
    if args.bool("prealloc-metadata"):
        flags |= _CREATE_PREALLOC_METADATA
    if args.bool("reflink"):
        flags |= _CREATE_REFLINK
    if args.bool("validate"):
        flags |= _CREATE_VALIDATE
    path = args.string("file") or ""
    inputvol = _vol(ctl, args, "inputpool")
    xml = read_xml_file(ctl, path)
    try:
        newvol = pool.createXMLFrom(xml, inputvol, flags)
    except libvirtError:
        ctl.error(f"Failed to create vol from {path}")
        raise
    ctl.print_extra(f"Vol {newvol.name()} created from input vol {inputvol.name()}")
    return True


@command("vol-delete", GROUP, "delete a vol", "Delete a given vol.", (
    _VOL_FULL, _POOL_OPTIONAL,
    Opt("delete-snapshots", OptType.BOOL,
        "delete snapshots associated with volume (must be supported by storage driver)"),
))
def cmd_vol_delete(ctl: Ctl, args: Args) -> bool:
    vol = _vol(ctl, args)
    name = args.string("vol")
    flags = _DELETE_WITH_SNAPSHOTS if args.bool("delete-snapshots") else 0
    try:
        vol.delete(flags)
    except libvirtError:
        ctl.error(f"Failed to delete vol {name}")
        raise
    ctl.print_extra(f"Vol {name} deleted")
    return True


def _offset_length(ctl: Ctl, args: Args) -> tuple[int, int]:
    offset = args.ulong("offset", 0) or 0
    length = args.ulong("length", 0, wrap=True) or 0
    return offset, length


@command("vol-download", GROUP, "download volume contents to a file",
         "Download volume contents to a file", (
             _VOL_FULL, Opt("file", OptType.DATA, "file", required=True), _POOL_OPTIONAL,
             Opt("offset", OptType.INT, "volume offset to download from"),
             Opt("length", OptType.INT, "amount of data to download"),
             Opt("sparse", OptType.BOOL, "preserve sparseness of volume"),
         ))
def cmd_vol_download(ctl: Ctl, args: Args) -> bool:
    import os

    offset, length = _offset_length(ctl, args)
    vol = _vol(ctl, args)
    name = args.string("vol")
    path = args.string("file") or ""
    flags = _UPLOAD_SPARSE if args.bool("sparse") else 0
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        created = True
    except FileExistsError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o666)
        except OSError:
            ctl.error(f"cannot create {path}")
            return False
    except OSError:
        ctl.error(f"cannot create {path}")
        return False
    ok = False
    try:
        stream = ctl.conn.newStream(0)
        try:
            vol.download(stream, offset, length, flags)
        except libvirtError:
            ctl.error(f"cannot download from volume {name}")
            raise
        try:
            _receive_all(stream, fd)
        except libvirtError:
            ctl.error(f"cannot receive data from volume {name}")
            raise
        try:
            os.close(fd)
        except OSError:
            ctl.error(f"cannot close file {path}")
            stream.abort()
            return False
        finally:
            fd = -1
        try:
            stream.finish()
        except libvirtError:
            ctl.error(f"cannot close volume {name}")
            raise
        ok = True
        return True
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok and created:
            os.unlink(path)


def _receive_all(stream: Any, fd: int) -> None:
    """virStreamSparseRecvAll into ``fd``: data is written, holes are seeked over."""
    import os

    recv_flags = getattr(stream, "recvFlags", None)
    while True:
        if recv_flags is not None:
            got = recv_flags(256 * 1024, 1)  # VIR_STREAM_RECV_STOP_AT_HOLE
        else:
            got = stream.recv(256 * 1024)
        if isinstance(got, int):
            if got == -3:  # a hole
                hole = stream.recvHole(0)
                os.lseek(fd, hole, os.SEEK_CUR)
                os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR))
                continue
            if got == -2:
                continue
            raise AssertionError(f"unexpected stream result {got}")
        if not got:
            return
        view = memoryview(got)
        while view:
            written = os.write(fd, view)
            view = view[written:]


@command("vol-dumpxml", GROUP, "vol information in XML",
         "Output the vol information as an XML dump to stdout.", (
             _VOL_FULL, _POOL_OPTIONAL,
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ))
def cmd_vol_dumpxml(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import dump_xml

    vol = _vol(ctl, args)
    xpath = args.string_quiet("xpath")
    return dump_xml(ctl, vol.XMLDesc(0), xpath, args.bool("wrap"))


def _info_record(vol: Any, physical: bool = False) -> dict[str, Any]:
    vtype, capacity, allocation = vol.infoFlags(_GET_PHYSICAL) if physical else vol.info()
    return {"name": vol.name(), "type": _type_name(vtype), "capacity": capacity,
            ("physical" if physical else "allocation"): allocation}


@command("vol-info", GROUP, "storage vol information",
         "Returns basic information about the storage vol.", (
             _VOL_FULL, _POOL_OPTIONAL,
             Opt("bytes", OptType.BOOL,
                 "sizes are represented in bytes rather than pretty units"),
             Opt("physical", OptType.BOOL,
                 "return the physical size of the volume in allocation field"),
             _JSON,
         ))
def cmd_vol_info(ctl: Ctl, args: Args) -> bool:
    vol = _vol(ctl, args)
    physical = args.bool("physical")
    if args.bool("json"):
        ctl.json(_info_record(vol, physical))
        return True
    ctl.print(f"{'Name:':<15} {vol.name()}")
    vtype, capacity, allocation = vol.infoFlags(_GET_PHYSICAL) if physical else vol.info()
    ctl.print(f"{'Type:':<15} {_type_name(vtype)}")
    second = "Physical:" if physical else "Allocation:"
    if args.bool("bytes"):
        ctl.print(f"{'Capacity:':<15} {capacity} bytes")
        ctl.print(f"{second:<15} {allocation} bytes")
    else:
        ctl.print(f"{'Capacity:':<15} {format_capacity(capacity)}")
        ctl.print(f"{second:<15} {format_capacity(allocation)}")
    return True


@command("vol-key", GROUP, "returns the volume key for a given volume name or path", "", (
    Opt("vol", OptType.DATA, "volume name or path", required=True, completer="volume"),
    _POOL_OPTIONAL,
))
def cmd_vol_key(ctl: Ctl, args: Args) -> bool:
    ctl.print(_vol(ctl, args).key())
    return True


def _sort_key(vol: Any) -> bytes:
    # vshStrcasecmp is g_ascii_strcasecmp: only ASCII letters fold
    return str(vol.name()).encode("utf-8").lower()


@command("vol-list", GROUP, "list vols", "Returns list of vols by pool.", (
    _POOL_FULL,
    Opt("details", OptType.BOOL, "display extended details for volumes"),
    _JSON,
))
def cmd_vol_list(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    details = args.bool("details")
    try:
        vols = sorted(pool.listAllVolumes(0), key=_sort_key)
    except libvirtError:
        ctl.error("Failed to list volumes")
        raise
    if args.bool("json"):
        records = []
        for vol in vols:
            record = _info_record(vol)
            record.pop("name")
            records.append({"name": vol.name(), "path": _path_or_unknown(vol), **record})
        ctl.json(records)
        return True
    rows: list[list[str]] = []
    for vol in vols:
        row = [vol.name(), _path_or_unknown(vol)]
        if details:
            try:
                vtype, capacity, allocation = vol.info()
                row += [_type_name(vtype), format_capacity(capacity),
                        format_capacity(allocation)]
            except libvirtError:
                row += ["unknown", "unknown", "unknown"]
        rows.append(row)
    headers = ["Name", "Path"] + (["Type", "Capacity", "Allocation"] if details else [])
    ctl.print(ctl.table(headers, rows), end="")
    return True


def _path_or_unknown(vol: Any) -> str:
    try:
        return str(vol.path())
    except libvirtError:
        return "unknown"


@command("vol-name", GROUP, "returns the volume name for a given volume key or path", "", (
    _VOL_BY_KEY,
))
def cmd_vol_name(ctl: Ctl, args: Args) -> bool:
    ctl.print(_vol(ctl, args, None, BY_UUID).name())
    return True


@command("vol-path", GROUP, "returns the volume path for a given volume name or key", "", (
    Opt("vol", OptType.DATA, "volume name or key", required=True, completer="volume"),
    _POOL_OPTIONAL,
))
def cmd_vol_path(ctl: Ctl, args: Args) -> bool:
    ctl.print(_vol(ctl, args).path())
    return True


@command("vol-pool", GROUP, "returns the storage pool for a given volume key or path", "", (
    _VOL_BY_KEY,
    Opt("uuid", OptType.BOOL, "return the pool uuid rather than pool name"),
))
def cmd_vol_pool(ctl: Ctl, args: Args) -> bool:
    vol = _vol(ctl, args, None, BY_UUID)
    try:
        pool = vol.storagePoolLookupByVolume()
    except libvirtError:
        ctl.error("failed to get parent pool")
        raise
    ctl.print(pool.UUIDString() if args.bool("uuid") else pool.name())
    return True


@command("vol-resize", GROUP, "resize a vol",
         "Resizes a storage volume. This is safe only for storage volumes not in use by an "
         "active guest.\nSee blockresize for live resizing.", (
             _VOL_FULL,
             Opt("capacity", OptType.DATA,
                 "new capacity for the vol, as scaled integer (default bytes)", required=True),
             _POOL_OPTIONAL,
             Opt("allocate", OptType.BOOL,
                 "allocate the new capacity, rather than leaving it sparse"),
             Opt("delta", OptType.BOOL,
                 "use capacity as a delta to current size, rather than the new size"),
             Opt("shrink", OptType.BOOL, "allow the resize to shrink the volume"),
         ))
def cmd_vol_resize(ctl: Ctl, args: Args) -> bool:
    delta = args.bool("delta")
    flags = 0
    if args.bool("allocate"):
        flags |= _RESIZE_ALLOCATE
    if args.bool("shrink"):
        flags |= _RESIZE_SHRINK
    vol = _vol(ctl, args)
    text = (args.string("capacity") or "").lstrip(" \t\n\v\f\r")
    if text.startswith("-"):
        # the API wants a positive value; virsh takes a negative one as a shrinking delta
        if not args.bool("shrink"):
            ctl.error("negative size requires --shrink")
            return False
        text = text[1:]
        delta = True
    if delta:
        flags |= _RESIZE_DELTA
    capacity = vol_size(ctl, text)
    if capacity is None:
        ctl.error(f"Malformed size {text}")
        return False
    how = "by" if delta else "to"
    try:
        vol.resize(capacity, flags)
    except libvirtError:
        ctl.error(f"Failed to change size of volume '{vol.name()}' {how} {text}")
        raise
    ctl.print_extra(f"Size of volume '{vol.name()}' successfully changed {how} {text}")
    return True


@command("vol-upload", GROUP, "upload file contents to a volume",
         "Upload file contents to a volume", (
             _VOL_FULL, Opt("file", OptType.DATA, "file", required=True), _POOL_OPTIONAL,
             Opt("offset", OptType.INT, "volume offset to upload to"),
             Opt("length", OptType.INT, "amount of data to upload"),
             Opt("sparse", OptType.BOOL, "preserve sparseness of volume"),
         ))
def cmd_vol_upload(ctl: Ctl, args: Args) -> bool:
    import os

    offset, length = _offset_length(ctl, args)
    vol = _vol(ctl, args)
    name = args.string("vol")
    path = args.string("file") or ""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        ctl.error(f"cannot read {path}")
        return False
    try:
        flags = _UPLOAD_SPARSE if args.bool("sparse") else 0
        stream = ctl.conn.newStream(0)
        try:
            vol.upload(stream, offset, length, flags)
        except libvirtError:
            ctl.error(f"cannot upload to volume {name}")
            raise
        try:
            _send_all(stream, fd, sparse=bool(flags))
        except libvirtError:
            ctl.error(f"cannot send data to volume {name}")
            raise
        try:
            os.close(fd)
        except OSError:
            ctl.error(f"cannot close file {path}")
            stream.abort()
            return False
        finally:
            fd = -1
        try:
            stream.finish()
        except libvirtError:
            ctl.error(f"cannot close volume {name}")
            raise
        return True
    finally:
        if fd >= 0:
            os.close(fd)


def _send_all(stream: Any, fd: int, sparse: bool) -> None:
    """virStreamSendAll / virStreamSparseSendAll from ``fd`` (holes sent as holes)."""
    import os

    while True:
        if sparse:
            pos = os.lseek(fd, 0, os.SEEK_CUR)
            try:
                data_at = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole remains up to EOF
                end = os.lseek(fd, 0, os.SEEK_END)
                if end > pos:
                    stream.sendHole(end - pos, 0)
                return
            if data_at > pos:
                stream.sendHole(data_at - pos, 0)
                continue
            hole_at = os.lseek(fd, pos, os.SEEK_HOLE)
            os.lseek(fd, pos, os.SEEK_SET)
            chunk = os.read(fd, min(256 * 1024, hole_at - pos))
        else:
            chunk = os.read(fd, 256 * 1024)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            sent = stream.send(bytes(view))
            if sent < 0:
                raise CommandFailed()
            view = view[sent:]


@command("vol-wipe", GROUP, "wipe a vol",
         "Ensure data previously on a volume is not accessible to future reads", (
             _VOL_FULL, _POOL_OPTIONAL,
             Opt("algorithm", OptType.STRING, "perform selected wiping algorithm"),
         ))
def cmd_vol_wipe(ctl: Ctl, args: Args) -> bool:
    from pyvirt import constants as c

    vol = _vol(ctl, args)
    name = args.string("vol")
    algorithm_str = args.string("algorithm")
    algorithm = 0
    if algorithm_str is not None:
        if algorithm_str not in WIPE_ALGORITHMS:
            ctl.error(f"Unsupported algorithm '{algorithm_str}'")
            return False
        algorithm = WIPE_ALGORITHMS.index(algorithm_str)
    try:
        vol.wipePattern(algorithm, 0)
    except libvirtError as exc:
        # old drivers lack the pattern call; zeroing is what plain wipe does
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT or algorithm != 0:
            ctl.error(f"Failed to wipe vol {name}")
            return False
        try:
            vol.wipe(0)
        except libvirtError:
            ctl.error(f"Failed to wipe vol {name}")
            raise
    ctl.print_extra(f"Vol {name} wiped")
    return True
