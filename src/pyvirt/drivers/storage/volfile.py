"""Volumes that are local files or block devices: format probing, sizes and stat details,
creation (raw files here, other formats through ``qemu-img``), copy, resize and wipe, and
the helper that runs the host's tools with libvirt's error wording (storage_util.c,
virstoragefile.c, vircommand.c in libvirt)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import struct
import subprocess

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from pyvirt.conf.storage import VolumeDef, VolumeTarget

DEFAULT_VOL_MODE = 0o600  # VIR_STORAGE_DEFAULT_VOL_PERM_MODE
COPY_CHUNK = 1024 * 1024
_QCOW2_BACKING_FORMAT_EXT = 0xE2792ACA


def storage_error(code: int, detail: str) -> NoReturn:
    raise_error(code, detail, domain=c.VIR_FROM_STORAGE)


def system_error(exc: OSError, detail: str, domain: int = c.VIR_FROM_STORAGE) -> NoReturn:
    """virReportSystemError: ``detail: strerror``."""
    raise_error(c.VIR_ERR_SYSTEM_ERROR, f"{detail}: {os.strerror(exc.errno or 0)}",
                domain=domain)


def run(argv: list[str], stdin: bytes | None = None) -> str:
    """virCommandRun: the command's stdout; a missing tool or a non-zero exit status is
    libvirt's error (with the command line and what the tool said)."""
    tool = shutil.which(argv[0]) if not os.path.isabs(argv[0]) else argv[0]
    if tool is None or not os.access(tool, os.X_OK):
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Cannot find '{argv[0]}' in path: No such file or directory",
                    domain=c.VIR_FROM_NONE)
    proc = subprocess.run([tool, *argv[1:]], input=stdin, capture_output=True, check=False,
                          env=dict(os.environ, LC_ALL="C"))
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).decode(errors="replace")
        raise_error(c.VIR_ERR_INTERNAL_ERROR,
                    f"Child process ({' '.join([tool, *argv[1:]])}) unexpected exit status "
                    f"{proc.returncode}: {said}", domain=c.VIR_FROM_NONE)
    return proc.stdout.decode(errors="replace")


# ---- probing --------------------------------------------------------------------------------


class Probe:
    """What a volume's header says (virStorageFileProbe)."""

    __slots__ = ("format", "capacity", "backing", "backing_format", "compat", "cluster_size")

    def __init__(self, fmt: str = "raw") -> None:
        self.format = fmt
        self.capacity = 0  # 0: the file's own size
        self.backing: str | None = None
        self.backing_format: str | None = None
        self.compat: str | None = None
        self.cluster_size = 0


def _qcow2(head: bytes, fh_path: str) -> Probe:
    probe = Probe("qcow2")
    version, boff, bsize, cbits, size = struct.unpack_from(">IQIIQ", head, 4)
    probe.capacity = size
    probe.cluster_size = 1 << cbits
    if version >= 3:
        probe.compat = "1.1"
    if boff and bsize:
        probe.backing = head[boff:boff + bsize].decode(errors="replace") \
            if boff + bsize <= len(head) else _read_at(fh_path, boff, bsize).decode()
    # header extensions follow the header (72 bytes in v2, header_length in v3)
    pos = struct.unpack_from(">I", head, 100)[0] if version >= 3 else 72
    while pos + 8 <= len(head):
        ext, length = struct.unpack_from(">II", head, pos)
        if ext == 0:
            break
        if ext == _QCOW2_BACKING_FORMAT_EXT:
            probe.backing_format = head[pos + 8:pos + 8 + length].decode(errors="replace")
        pos += 8 + (length + 7) // 8 * 8
    return probe


def _read_at(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def probe_file(path: str) -> Probe:
    """The format, virtual size and backing file of the image at ``path``."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
        if len(head) >= 72 and head[:4] == b"QFI\xfb":
            version = struct.unpack_from(">I", head, 4)[0]
            if version >= 2:
                return _qcow2(head, path)
            probe = Probe("qcow")
            probe.capacity = struct.unpack_from(">Q", head, 24)[0]
            return probe
        if head[:4] == b"QED\x00" and len(head) >= 48:
            probe = Probe("qed")
            probe.capacity = struct.unpack_from("<Q", head, 40)[0]
            return probe
        if head[:4] == b"KDMV" and len(head) >= 20:
            probe = Probe("vmdk")
            probe.capacity = struct.unpack_from("<Q", head, 12)[0] * 512
            return probe
        if len(head) >= 0x180 and head[0x40:0x44] == b"\x7f\x10\xda\xbe":
            probe = Probe("vdi")
            probe.capacity = struct.unpack_from("<Q", head, 0x170)[0]
            return probe
        if head[:8] == b"conectix":
            probe = Probe("vpc")
            return probe
        fh.seek(32769)
        if fh.read(5) == b"CD001":
            return Probe("iso")
    return Probe("raw")


def describe(vol: VolumeDef, path: str, probe: bool = True) -> None:
    """virStorageBackendRefreshVolTargetUpdate: sizes, format, backing store, permissions
    and timestamps of ``vol`` from the file (or block device, or directory) at ``path``."""
    from pyvirt.conf.storage import BackingStore, Permissions

    st = os.stat(path)
    tgt = vol.target
    _stat_into(tgt, st)
    vol.allocation = st.st_blocks * 512
    if stat.S_ISBLK(st.st_mode):
        size = _block_size(path)
        vol.capacity = vol.allocation = vol.physical = size
        vol.type = "block"
        return
    vol.physical = st.st_size
    vol.capacity = st.st_size
    if stat.S_ISDIR(st.st_mode):
        vol.type = "dir"
        tgt.format = "dir"
        return
    if not probe:
        return
    info = probe_file(path)
    tgt.format = info.format
    if info.capacity:
        vol.capacity = info.capacity
    tgt.compat = info.compat
    vol.backing_store = None
    if info.backing:
        bpath = info.backing
        if not os.path.isabs(bpath):
            bpath = os.path.join(os.path.dirname(path), bpath)
        backing = BackingStore(path=info.backing, format=info.backing_format,
                               permissions=Permissions())
        try:
            bst = os.stat(bpath)
        except OSError:
            backing.format = backing.format or "raw"
        else:
            if backing.format is None:
                backing.format = probe_file(bpath).format
            scratch = _scratch_target()
            _stat_into(scratch, bst)
            backing.permissions = scratch.permissions
            backing.timestamps = scratch.timestamps
        vol.backing_store = backing


def _scratch_target() -> VolumeTarget:
    from pyvirt.conf.storage import VolumeTarget

    return VolumeTarget()


def _stat_into(tgt: VolumeTarget, st: os.stat_result) -> None:
    from pyvirt.conf.storage import Permissions, Timestamps

    tgt.permissions = Permissions(mode=stat.S_IMODE(st.st_mode), owner=st.st_uid,
                                  group=st.st_gid)
    tgt.timestamps = Timestamps(atime=st.st_atime_ns / 1e9, mtime=st.st_mtime_ns / 1e9,
                                ctime=st.st_ctime_ns / 1e9, btime=0)


def _block_size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


# ---- creation -------------------------------------------------------------------------------


def create_raw(path: str, capacity: int, allocation: int, mode: int | None,
               source: str | None = None) -> None:
    """storageBackendCreateRaw: a new file (O_EXCL) of ``capacity`` bytes whose first
    ``allocation`` bytes are allocated; with ``source``, its data copied in, sparsely."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     DEFAULT_VOL_MODE if mode is None else mode)
    except OSError as exc:
        system_error(exc, f"Failed to create file '{path}'")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        remaining = capacity
        if source is not None:
            remaining -= copy_sparse(source, fd, path, capacity)
        if allocation > capacity - remaining and remaining > 0:
            try:
                os.posix_fallocate(fd, capacity - remaining,
                                   min(allocation, capacity) - (capacity - remaining))
            except OSError as exc:
                system_error(exc, f"cannot allocate {allocation} bytes in file '{path}'")
        try:
            os.ftruncate(fd, capacity)
        except OSError as exc:
            system_error(exc, f"cannot extend file '{path}'")
        os.fdatasync(fd)
    except BaseException:
        os.close(fd)
        _remove(path)
        raise
    os.close(fd)


def copy_sparse(source: str, fd: int, dest: str, limit: int) -> int:
    """Copy at most ``limit`` bytes of ``source`` into ``fd``, skipping holes and zero
    blocks so the copy stays sparse. Returns the number of bytes covered."""
    from pyvirt.drivers.streams import FileSource

    reader = FileSource(source, 0, limit)
    zero = bytes(COPY_CHUNK)
    pos = 0
    try:
        while True:
            chunk = reader.recv(COPY_CHUNK, True)
            if isinstance(chunk, int):
                pos += reader.recv_hole()
                continue
            if not chunk:
                break
            if chunk != zero[:len(chunk)]:
                try:
                    os.pwrite(fd, chunk, pos)
                except OSError as exc:
                    system_error(exc, f"failed writing to file '{dest}'")
            pos += len(chunk)
    finally:
        reader.abort()
    return pos


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def qemu_img_create(vol: VolumeDef, flags: int) -> None:
    """storageBackendCreateQemuImg: ``qemu-img create`` for a non-raw file volume."""
    argv = ["qemu-img", "create", "-f", vol.target.format or "raw"]
    backing = vol.backing_store
    if backing is not None:
        argv += ["-b", backing.path]
    opts = _qemu_img_opts(vol, flags)
    if opts:
        argv += ["-o", opts]
    argv.append(vol.target.path or "")
    if vol.capacity or backing is None:
        argv.append(f"{(vol.capacity + 1023) // 1024}K")
    _run_creating(vol, argv)


def qemu_img_convert(vol: VolumeDef, source: VolumeDef, flags: int) -> None:
    """``qemu-img convert`` of ``source`` into the new volume (another format, or a qcow2
    clone that must keep its own data)."""
    src_fmt = source.target.format or "raw"
    argv = ["qemu-img", "convert", "-f", src_fmt, "-O", vol.target.format or "raw"]
    opts = _qemu_img_opts(vol, flags, converting=True)
    if opts:
        argv += ["-o", opts]
    argv += [source.target.path or "", vol.target.path or ""]
    _run_creating(vol, argv)
    if vol.capacity > source.capacity:
        qemu_img_resize(vol.target.path or "", vol.target.format or "raw", vol.capacity,
                        shrink=False)


def _qemu_img_opts(vol: VolumeDef, flags: int, converting: bool = False) -> str:
    tgt = vol.target
    opts: list[str] = []
    if vol.backing_store is not None and not converting:
        opts.append(f"backing_fmt={vol.backing_store.format or 'raw'}")
    if flags & c.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA:
        opts.append("preallocation=metadata" if vol.capacity > vol.allocation
                    else "preallocation=falloc")
    if tgt.nocow:
        opts.append("nocow=on")
    if tgt.compat:
        opts.append(f"compat={tgt.compat}")
    elif tgt.format == "qcow2":
        opts.append("compat=0.10")
    if tgt.cluster_size:
        opts.append(f"cluster_size={tgt.cluster_size}")
    if tgt.features and tgt.format == "qcow2":
        if "lazy_refcounts" in tgt.features:
            opts.append("lazy_refcounts")
        if "extended_l2" in tgt.features:
            opts.append("extended_l2=on")
    return ",".join(opts)


def _run_creating(vol: VolumeDef, argv: list[str]) -> None:
    """Run a tool that creates the volume's file; on failure nothing is left behind, and
    the file gets the volume's mode."""
    path = vol.target.path or ""
    try:
        run(argv)
        os.chmod(path, DEFAULT_VOL_MODE if vol.target.permissions.mode is None
                 else vol.target.permissions.mode)
    except BaseException:
        _remove(path)
        raise


def qemu_img_resize(path: str, fmt: str, capacity: int, shrink: bool) -> None:
    argv = ["qemu-img", "resize"]
    if shrink:
        argv.append("--shrink")
    argv += ["-f", fmt, path, str(capacity)]
    run(argv)


def resize_raw(path: str, capacity: int, allocate_from: int | None) -> None:
    """virStorageFileResize: truncate (or extend) a raw file; ``allocate_from``: also
    allocate the bytes from there to the new end."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        system_error(exc, f"Unable to open '{path}'")
    try:
        if allocate_from is not None and capacity > allocate_from:
            try:
                os.posix_fallocate(fd, allocate_from, capacity - allocate_from)
            except OSError as exc:
                system_error(exc, f"Failed to pre-allocate space for file '{path}'")
        try:
            os.ftruncate(fd, capacity)
        except OSError as exc:
            system_error(exc, f"Failed to truncate file '{path}'")
    finally:
        os.close(fd)


# ---- wiping ---------------------------------------------------------------------------------

WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7",
                   "pfitzner33", "random", "trim")


def wipe(path: str, algorithm: int, allocation: int) -> None:
    """storageBackendVolWipeLocalFile: zeroes written by us (a sparse file is punched back
    to a hole); the other patterns by ``scrub``, as libvirt; 'trim' is unsupported."""
    if algorithm == c.VIR_STORAGE_VOL_WIPE_ALG_TRIM:
        storage_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "'trim' algorithm not supported")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        system_error(exc, f"Failed to open storage volume with path '{path}'")
    try:
        st = os.fstat(fd)
        if algorithm != c.VIR_STORAGE_VOL_WIPE_ALG_ZERO:
            run(["scrub", "-f", "-p", WIPE_ALGORITHMS[algorithm], path])
            return
        if stat.S_ISREG(st.st_mode) and st.st_blocks < st.st_size // 512:
            # sparse: dropping the data and growing back leaves one hole of zeroes
            try:
                os.ftruncate(fd, 0)
                os.ftruncate(fd, st.st_size)
            except OSError as exc:
                system_error(exc, f"Failed to truncate volume with path '{path}' to "
                                  f"{st.st_size} bytes")
            return
        _write_zeroes(fd, path, allocation if stat.S_ISREG(st.st_mode) else
                      _block_size(path), max(st.st_blksize, 4096 * 256))
    finally:
        os.close(fd)


def _write_zeroes(fd: int, path: str, length: int, bufsize: int) -> None:
    zero = bytes(bufsize)
    pos = 0
    while pos < length:
        count = min(bufsize, length - pos)
        try:
            pos += os.pwrite(fd, zero[:count], pos)
        except OSError as exc:
            system_error(exc, f"Failed to write {count} bytes to storage volume with path "
                              f"'{path}'")
    try:
        os.fdatasync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            system_error(exc, f"cannot sync data to volume with path '{path}'")
