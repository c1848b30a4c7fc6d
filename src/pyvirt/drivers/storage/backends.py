"""Pool backends (libvirt's storage_backend_*.c): what starting, building, refreshing a pool
and making its volumes means for each pool type.

``dir``: a directory of image files. ``fs``: the same on a block device (or image file)
mounted on the target directory. ``netfs``: an NFS/CIFS/gluster export mounted there.
``logical``: an LVM volume group; volumes are logical volumes. ``disk``: a whole block
device with a partition table; volumes are its partitions.
"""

from __future__ import annotations

import os
import shutil
import stat

from pyvirt import constants as c
from pyvirt.drivers.storage import partitions, volfile
from pyvirt.drivers.storage.volfile import run, storage_error, system_error
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.storage import PoolDef, VolumeDef

DEFAULT_POOL_MODE = 0o711  # VIR_STORAGE_DEFAULT_POOL_PERM_MODE
MOUNT_OPTS = "nodev,nosuid,noexec"
BUILD_FLAGS = c.VIR_STORAGE_POOL_BUILD_OVERWRITE | c.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE


def exclusive_build_flags(flags: int) -> None:
    if flags & BUILD_FLAGS == BUILD_FLAGS:
        raise_error(c.VIR_ERR_INVALID_ARG, "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                    "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
                    domain=c.VIR_FROM_STORAGE,
                    message="Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                    "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive")


def blkid_type(device: str) -> str | None:
    """The filesystem or label type blkid finds on ``device`` (None: nothing)."""
    import subprocess

    proc = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device],
                          capture_output=True, check=False)
    text = proc.stdout.decode().strip()
    if proc.returncode != 0 or not text:
        proc = subprocess.run(["blkid", "-p", "-o", "value", "-s", "PTTYPE", device],
                              capture_output=True, check=False)
        text = proc.stdout.decode().strip()
    return text or None


def check_empty(device: str, fmt: str) -> None:
    """virStorageBackendDeviceIsEmpty with writelabel: refuse to format a used device."""
    found = blkid_type(device)
    if found is None:
        return
    if found == fmt:
        raise_error(c.VIR_ERR_STORAGE_POOL_BUILT,
                    f"Device '{device}' already formatted using '{fmt}'",
                    domain=c.VIR_FROM_STORAGE)
    raise_error(c.VIR_ERR_STORAGE_POOL_BUILT,
                f"Format of device '{device}' does not match the expected format '{fmt}', "
                "forced overwrite is necessary", domain=c.VIR_FROM_STORAGE)


class Backend:
    """A pool type's operations; the base is libvirt's "not supported" for each."""

    type = ""
    local_files = False  # volumes are files/devices on this host (upload, wipe, ...)

    def check(self, pool: PoolDef) -> bool:
        """Whether the pool is still active (a restarted daemon asks)."""
        return True

    def start(self, pool: PoolDef) -> None:
        pass

    def stop(self, pool: PoolDef) -> None:
        pass

    def build(self, pool: PoolDef, flags: int) -> None:
        storage_error(c.VIR_ERR_NO_SUPPORT, "pool does not support pool build")

    def delete(self, pool: PoolDef, flags: int) -> None:
        storage_error(c.VIR_ERR_NO_SUPPORT, "pool does not support pool deletion")

    def refresh(self, pool: PoolDef) -> list[VolumeDef]:
        """The pool's volumes; fills in its capacity, allocation and available."""
        raise NotImplementedError

    def create_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        """Checks, and the volume's target path and key (libvirt's createVol)."""
        storage_error(c.VIR_ERR_NO_SUPPORT, "storage pool does not support volume creation")

    def build_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        pass

    def build_vol_from(self, pool: PoolDef, vol: VolumeDef, src: VolumeDef,
                       flags: int) -> None:
        storage_error(c.VIR_ERR_NO_SUPPORT,
                      "storage pool does not support volume creation from an existing volume")

    def delete_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        storage_error(c.VIR_ERR_NO_SUPPORT, "storage pool does not support vol deletion")

    def refresh_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        pass

    def resize_vol(self, pool: PoolDef, vol: VolumeDef, capacity: int, flags: int) -> None:
        storage_error(c.VIR_ERR_NO_SUPPORT,
                      "storage pool does not support changing of volume capacity")

    def wipe_vol(self, pool: PoolDef, vol: VolumeDef, algorithm: int) -> None:
        volfile.wipe(vol.target.path or "", algorithm, vol.allocation)

    def volumes_after_change(self, pool: PoolDef) -> list[VolumeDef] | None:
        """The pool's whole volume list again after a volume was created or deleted, for a
        backend whose volumes affect each other (None: the driver keeps its own)."""
        return None


# ---- dir -----------------------------------------------------------------------------------


class DirBackend(Backend):
    type = "dir"
    local_files = True

    def check(self, pool: PoolDef) -> bool:
        return os.path.exists(pool.target.path or "")

    def build(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendFileSystemBuild", flags, BUILD_FLAGS, c.VIR_FROM_STORAGE)
        exclusive_build_flags(flags)
        self._make_dir(pool)
        if flags:
            self.make_fs(pool, flags)

    def make_fs(self, pool: PoolDef, flags: int) -> None:
        storage_error(c.VIR_ERR_OPERATION_INVALID,
                      f"No source device specified when formatting pool '{pool.name}'")

    def _make_dir(self, pool: PoolDef) -> None:
        """virStorageBackendBuildLocal: the target directory (and its parents), with the
        pool's permissions."""
        path = pool.target.path or ""
        parent = os.path.dirname(path)
        if parent and parent != "/":
            try:
                os.makedirs(parent, 0o777, exist_ok=True)
            except OSError as exc:
                system_error(exc, f"cannot create path '{parent}'")
        perms = pool.target.permissions
        mode = perms.mode
        existed = os.path.lexists(path)
        if existed and not os.path.isdir(path):
            # libvirt would chmod whatever is there; a file is not a pool directory
            system_error(FileExistsError(17, "File exists"),
                         f"failed to create directory '{path}'", domain=c.VIR_FROM_NONE)
        if mode is None and not existed:
            mode = DEFAULT_POOL_MODE
        try:
            if not existed:
                os.mkdir(path, mode if mode is not None else DEFAULT_POOL_MODE)
            if mode is not None:
                os.chmod(path, mode)
            if perms.owner is not None or perms.group is not None:
                os.chown(path, -1 if perms.owner is None else perms.owner,
                         -1 if perms.group is None else perms.group)
        except OSError as exc:
            system_error(exc, f"failed to create directory '{path}'", domain=c.VIR_FROM_NONE)

    def delete(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendDeleteLocal", flags, 0, c.VIR_FROM_STORAGE)
        try:
            os.rmdir(pool.target.path or "")
        except OSError as exc:
            system_error(exc, f"failed to remove pool '{pool.target.path}'")

    def refresh(self, pool: PoolDef) -> list[VolumeDef]:
        """virStorageBackendRefreshLocal: every regular file, block device or directory
        in the target directory is a volume; the pool's figures come from statvfs."""
        from pyvirt.conf.storage import VolumeDef

        path = pool.target.path or ""
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            system_error(exc, f"cannot open directory '{path}'", domain=c.VIR_FROM_NONE)
        vols: list[VolumeDef] = []
        for name in names:
            if any(ord(ch) < 32 for ch in name):
                continue
            vol = VolumeDef(name=name, pool_type=pool.type)
            vol.target.path = f"{path}/{name}"
            vol.key = vol.target.path
            try:
                st = os.stat(vol.target.path)
            except OSError:
                continue  # dangling symlink and the like: ignored, as libvirt does
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)
                    or stat.S_ISBLK(st.st_mode)):
                continue
            try:
                volfile.describe(vol, vol.target.path)
            except (PermissionError, FileNotFoundError):
                continue
            vols.append(vol)
        self._fill_sizes(pool)
        try:
            st = os.stat(path)
        except OSError as exc:
            system_error(exc, f"cannot stat path '{path}'")
        from pyvirt.conf.storage import Permissions

        pool.target.permissions = Permissions(mode=stat.S_IMODE(st.st_mode), owner=st.st_uid,
                                              group=st.st_gid,
                                              label=pool.target.permissions.label)
        return vols

    @staticmethod
    def _fill_sizes(pool: PoolDef) -> None:
        path = pool.target.path or ""
        try:
            sv = os.statvfs(path)
        except OSError as exc:
            system_error(exc, f"cannot statvfs path '{path}'")
        pool.capacity = sv.f_frsize * sv.f_blocks
        pool.available = sv.f_bfree * sv.f_frsize
        pool.allocation = pool.capacity - pool.available

    def create_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        vol.type = "dir" if vol.target.format == "dir" else "file"
        if "/" in vol.name:
            storage_error(c.VIR_ERR_OPERATION_INVALID,
                          f"volume name '{vol.name}' cannot contain '/'")
        vol.target.path = f"{pool.target.path}/{vol.name}"
        if os.path.lexists(vol.target.path):
            storage_error(c.VIR_ERR_OPERATION_INVALID,
                          f"volume target path '{vol.target.path}' already exists")
        vol.key = vol.target.path

    def build_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        self._build(vol, None, flags)

    def build_vol_from(self, pool: PoolDef, vol: VolumeDef, src: VolumeDef,
                       flags: int) -> None:
        self._build(vol, src, flags)

    def _build(self, vol: VolumeDef, src: VolumeDef | None, flags: int) -> None:
        """storageBackendVolBuildLocal: raw files by hand, a raw copy of a raw or block
        volume by a sparse copy, everything else by qemu-img."""
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendVolBuildLocal", flags,
                    c.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
                    | c.VIR_STORAGE_VOL_CREATE_REFLINK, c.VIR_FROM_STORAGE)
        fmt = vol.target.format or "raw"
        path = vol.target.path or ""
        if vol.target.encryption is not None:
            storage_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                          "storage pool does not support encrypted volumes")
        if fmt == "dir":
            try:
                os.mkdir(path, 0o755 if vol.target.permissions.mode is None
                         else vol.target.permissions.mode)
            except OSError as exc:
                system_error(exc, f"cannot create path '{path}'")
            return
        raw_copy = src is not None and fmt == "raw" and (src.target.format or "raw") == "raw"
        if src is None and fmt == "raw" or raw_copy:
            if flags & c.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA:
                storage_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                              "metadata preallocation is not supported for raw volumes")
            if vol.backing_store is not None:
                storage_error(c.VIR_ERR_NO_SUPPORT,
                              "backing storage not supported for raw volumes")
            volfile.create_raw(path, vol.capacity, vol.allocation,
                               vol.target.permissions.mode,
                               None if src is None else src.target.path)
            return
        if fmt not in ("qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "raw"):
            storage_error(c.VIR_ERR_NO_SUPPORT,
                          f"no support for file format '{fmt}' with qemu-img")
        if vol.backing_store is not None:
            self._check_backing(vol)
        if src is None:
            volfile.qemu_img_create(vol, flags)
        else:
            volfile.qemu_img_convert(vol, src, flags)

    @staticmethod
    def _check_backing(vol: VolumeDef) -> None:
        """storageBackendCreateQemuImgSetBacking's checks."""
        backing = vol.backing_store
        assert backing is not None
        if (vol.target.format or "raw") == "raw":
            storage_error(c.VIR_ERR_CONFIG_UNSUPPORTED, "cannot set backing store for raw volume")
        path = backing.path
        if not path.startswith("/"):
            path = os.path.join(os.path.dirname(vol.target.path or ""), path)
        if not os.access(path, os.R_OK):
            system_error(FileNotFoundError(2, "No such file or directory"),
                         f"inaccessible backing store volume {backing.path}")
        if backing.format is None:
            backing.format = volfile.probe_file(path).format

    def delete_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendVolDeleteLocal", flags, 0, c.VIR_FROM_STORAGE)
        path = vol.target.path or ""
        try:
            if vol.type == "dir":
                os.rmdir(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            system_error(exc, f"cannot unlink file '{path}'")

    def refresh_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        volfile.describe(vol, vol.target.path or "")

    def resize_vol(self, pool: PoolDef, vol: VolumeDef, capacity: int, flags: int) -> None:
        """virStorageBackendVolResizeLocal: raw files are truncated (and allocated with
        RESIZE_ALLOCATE); other formats go through qemu-img resize."""
        fmt = vol.target.format or "raw"
        path = vol.target.path or ""
        shrink = bool(flags & c.VIR_STORAGE_VOL_RESIZE_SHRINK)
        if fmt == "raw" and vol.type != "block":
            allocate = flags & c.VIR_STORAGE_VOL_RESIZE_ALLOCATE
            volfile.resize_raw(path, capacity, vol.allocation if allocate else None)
        elif flags & c.VIR_STORAGE_VOL_RESIZE_ALLOCATE:
            storage_error(c.VIR_ERR_OPERATION_UNSUPPORTED,
                          "preallocate is only supported for raw type volume")
        else:
            volfile.qemu_img_resize(path, fmt, capacity, shrink)


# ---- fs / netfs -----------------------------------------------------------------------------


def mounted(target: str, source: str | None) -> bool:
    """virStorageBackendFileSystemIsMounted: /proc/mounts lists ``target`` (from
    ``source``, when given)."""
    real_target = os.path.realpath(target)
    try:
        with open("/proc/self/mounts") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        system_error(exc, "cannot read mount list '/proc/self/mounts'")
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        src, mnt = (f.replace("\\040", " ") for f in fields[:2])
        if os.path.realpath(mnt) != real_target:
            continue
        if source is None or _same_source(src, source):
            return True
    return False


def _same_source(mounted_src: str, source: str) -> bool:
    if mounted_src == source:
        return True
    if os.path.exists(source) and os.path.exists(mounted_src):
        return os.path.realpath(source) == os.path.realpath(mounted_src) or (
            os.path.samefile(source, mounted_src))
    # a mounted image file shows as the loop device it was attached to
    if mounted_src.startswith("/dev/loop") and os.path.isfile(source):
        name = os.path.basename(mounted_src)
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as fh:
                return os.path.realpath(fh.read().strip()) == os.path.realpath(source)
        except OSError:
            return False
    return False


class FsBackend(DirBackend):
    type = "fs"

    def source(self, pool: PoolDef) -> str:
        devices = pool.source.devices
        if not devices:
            storage_error(c.VIR_ERR_INTERNAL_ERROR, "missing source device")
        if len(devices) != 1:
            storage_error(c.VIR_ERR_XML_ERROR,
                          "expected exactly 1 device for the storage pool")
        return devices[0].path

    def fs_type(self, pool: PoolDef) -> str:
        return pool.source.format or "auto"

    def check(self, pool: PoolDef) -> bool:
        return mounted(pool.target.path or "", self.source(pool))

    def mount_argv(self, pool: PoolDef) -> list[str]:
        opts = ",".join([MOUNT_OPTS, *pool.mount_opts])
        return ["mount", "-o", opts, "-t", self.fs_type(pool), self.source(pool),
                pool.target.path or ""]

    def start(self, pool: PoolDef) -> None:
        source = self.source(pool)
        if mounted(pool.target.path or "", source):
            return
        argv = self.mount_argv(pool)
        if os.path.isfile(source) and "loop" not in pool.mount_opts:
            argv[2] += ",loop"  # an image file is mounted through a loop device
        run(argv)

    def stop(self, pool: PoolDef) -> None:
        if not mounted(pool.target.path or "", self.source(pool)):
            return
        run(["umount", pool.target.path or ""])

    def make_fs(self, pool: PoolDef, flags: int) -> None:
        """virStorageBackendMakeFileSystem: mkfs on the source device."""
        if not pool.source.devices:
            super().make_fs(pool, flags)
        device = pool.source.devices[0].path
        fmt = self.fs_type(pool)
        if not os.path.exists(device):
            storage_error(c.VIR_ERR_OPERATION_INVALID,
                          f"Source device does not exist when formatting pool '{pool.name}'")
        if flags & c.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE:
            check_empty(device, fmt)
        argv = ["mkfs", "-t", fmt]
        if fmt in ("ext2", "ext3", "ext4"):
            argv.append("-F")
        elif fmt == "xfs":
            argv.append("-f")
        elif fmt == "vfat":
            argv.append("-I")
        run([*argv, device])


class NetfsBackend(FsBackend):
    type = "netfs"

    def source(self, pool: PoolDef) -> str:
        src = pool.source
        if not src.hosts:
            storage_error(c.VIR_ERR_INTERNAL_ERROR, "missing source host")
        if not src.dir:
            storage_error(c.VIR_ERR_INTERNAL_ERROR, "missing source path")
        host = src.hosts[0].name
        if self.fs_type(pool) == "cifs":
            return f"//{host}/{src.dir}"
        return f"{host}:{src.dir}"

    def mount_argv(self, pool: PoolDef) -> list[str]:
        fmt = self.fs_type(pool)
        extra = {"glusterfs": ["direct-io-mode=1"], "cifs": ["guest"]}.get(fmt, [])
        if pool.source.protocol_ver:
            extra.append(f"nfsvers={pool.source.protocol_ver}")
        opts = ",".join([MOUNT_OPTS, *extra, *pool.mount_opts])
        argv = ["mount", "-o", opts]
        if fmt != "auto":
            argv += ["-t", fmt]
        return [*argv, self.source(pool), pool.target.path or ""]

    def make_fs(self, pool: PoolDef, flags: int) -> None:
        storage_error(c.VIR_ERR_OPERATION_INVALID,
                      f"No source device specified when formatting pool '{pool.name}'")


# ---- logical ---------------------------------------------------------------------------------


class LogicalBackend(Backend):
    type = "logical"
    local_files = True

    def check(self, pool: PoolDef) -> bool:
        return os.path.isdir(f"/dev/{pool.source.name}") or self._vg_exists(pool)

    def _vg_exists(self, pool: PoolDef) -> bool:
        import subprocess

        proc = subprocess.run(["vgs", "--noheadings", "-o", "vg_name", pool.source.name or ""],
                              capture_output=True, check=False)
        return proc.returncode == 0

    def _pv_devices(self, pool: PoolDef) -> list[str]:
        out = run(["pvs", "--noheadings", "-o", "pv_name,vg_name"])
        return [f[0] for f in (line.split() for line in out.splitlines())
                if len(f) == 2 and f[1] == pool.source.name]

    def start(self, pool: PoolDef) -> None:
        """virStorageBackendLogicalMatchPoolSource, then activate the VG."""
        name = pool.source.name or ""
        pvs = self._pv_devices(pool)
        if not pvs:
            storage_error(c.VIR_ERR_OPERATION_INVALID,
                          f"cannot find logical volume group name '{name}'")
        if pool.source.devices:
            wanted = {os.path.realpath(d.path) for d in pool.source.devices}
            if not wanted & {os.path.realpath(p) for p in pvs}:
                storage_error(c.VIR_ERR_OPERATION_INVALID,
                              "cannot find any matching source devices for logical "
                              f"volume group '{name}'")
        run(["vgchange", "-aly", name])

    def stop(self, pool: PoolDef) -> None:
        run(["vgchange", "-aln", pool.source.name or ""])

    def build(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendLogicalBuildPool", flags, BUILD_FLAGS,
                    c.VIR_FROM_STORAGE)
        exclusive_build_flags(flags)
        done: list[str] = []
        try:
            for dev in pool.source.devices:
                if not flags & c.VIR_STORAGE_POOL_BUILD_OVERWRITE:
                    check_empty(dev.path, "LVM2_member")
                _zero_head(dev.path)
                run(["pvcreate", dev.path])
                done.append(dev.path)
            run(["vgcreate", pool.source.name or "", *done])
        except BaseException:
            for path in done:  # a later build must not find half-made PVs
                _quiet(["pvremove", path])
            raise

    def delete(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendLogicalDeletePool", flags, 0, c.VIR_FROM_STORAGE)
        run(["vgremove", "-f", pool.source.name or ""])
        for dev in pool.source.devices:
            _quiet(["pvremove", dev.path])

    def refresh(self, pool: PoolDef) -> list[VolumeDef]:
        from pyvirt.conf.storage import VolumeDef

        name = pool.source.name or ""
        vols: list[VolumeDef] = []
        out = run(["lvs", "--separator", "#", "--noheadings", "--units", "b", "--unbuffered",
                   "--nosuffix", "--options", "lv_name,uuid,size,lv_attr", name])
        for line in out.splitlines():
            fields = line.strip().split("#")
            if len(fields) < 4 or fields[3].startswith("t"):
                continue  # thin pools are not volumes
            vol = VolumeDef(name=fields[0], type="block", pool_type="logical")
            vol.key = fields[1]
            vol.target.path = f"{pool.target.path}/{fields[0]}"
            vol.capacity = vol.allocation = int(fields[2])
            self._stat_perms(vol)
            vols.append(vol)
        out = run(["vgs", "--separator", ":", "--noheadings", "--units", "b", "--unbuffered",
                   "--nosuffix", "--options", "vg_size,vg_free", name])
        size, free = (int(v) for v in out.strip().rstrip(":").split(":")[:2])
        pool.capacity, pool.available = size, free
        pool.allocation = size - free
        return vols

    @staticmethod
    def _stat_perms(vol: VolumeDef) -> None:
        from pyvirt.conf.storage import Permissions

        try:
            st = os.stat(vol.target.path or "")
        except OSError:
            return
        vol.target.permissions = Permissions(mode=stat.S_IMODE(st.st_mode), owner=st.st_uid,
                                             group=st.st_gid)

    def create_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        vol.type = "block"
        vol.target.path = f"{pool.target.path}/{vol.name}"
        if vol.target.encryption is not None:
            storage_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                          "storage pool only supports LUKS encrypted volumes")
        argv = ["lvcreate", "--name", vol.name, "-L"]
        if vol.capacity != vol.allocation:
            argv += [f"{(max(vol.allocation, 1) + 1023) // 1024}K", "--type", "snapshot",
                     "--virtualsize"]
        argv.append(f"{(vol.capacity + 1023) // 1024}K")
        if vol.backing_store is not None:
            argv += ["-s", vol.backing_store.path]
        else:
            argv.append(pool.source.name or "")
        run([*argv, "--yes"])
        try:
            os.chmod(vol.target.path, volfile.DEFAULT_VOL_MODE
                     if vol.target.permissions.mode is None else vol.target.permissions.mode)
            for found in self.refresh(pool):
                if found.name == vol.name:
                    vol.key = found.key
                    vol.capacity, vol.allocation = found.capacity, found.allocation
        except BaseException:
            _quiet(["lvremove", "-f", vol.target.path])
            raise

    def build_vol_from(self, pool: PoolDef, vol: VolumeDef, src: VolumeDef,
                       flags: int) -> None:
        copy_to_block(vol, src)

    def delete_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendLogicalDeleteVol", flags, 0, c.VIR_FROM_STORAGE)
        path = vol.target.path or ""
        try:
            run(["lvremove", "-f", path])
        except Exception:
            run(["lvchange", "-aln", path])
            run(["lvremove", "-f", path])

    def refresh_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        self._stat_perms(vol)


def copy_to_block(vol: VolumeDef, src: VolumeDef) -> None:
    """storageBackendCreateBlockFrom: the source volume's data (as raw) onto the new block
    volume (an LV, a partition)."""
    path = vol.target.path or ""
    if (src.target.format or "raw") not in ("raw", "none"):
        run(["qemu-img", "convert", "-n", "-f", src.target.format or "raw", "-O", "raw",
             src.target.path or "", path])
        return
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        volfile.copy_sparse(src.target.path or "", fd, path, vol.capacity)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _zero_head(path: str) -> None:
    """virStorageBackendZeroPartitionTable: LVM wants the first MiB blank."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        system_error(exc, f"Unable to open '{path}'")
    try:
        os.pwrite(fd, bytes(1024 * 1024), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _quiet(argv: list[str]) -> None:
    try:
        run(argv)
    except Exception:  # noqa: BLE001 - best-effort cleanup, as libvirt's (logged only)
        pass


# ---- disk ------------------------------------------------------------------------------------


def wait_for_devices() -> None:
    """virWaitForDevices: let udev finish creating device nodes (where udev runs)."""
    import subprocess

    tool = shutil.which("udevadm")
    if tool is not None:
        subprocess.run([tool, "settle"], capture_output=True, check=False, timeout=180)


def _sysfs_devno(path: str) -> tuple[int, int] | None:
    """The kernel's device numbers of the block device named like ``path`` (None: the
    kernel has no such device)."""
    try:
        with open(f"/sys/class/block/{os.path.basename(path)}/dev") as fh:
            major, minor = (int(v) for v in fh.read().strip().split(":"))
    except (OSError, ValueError):
        return None
    return major, minor


def _node_current(path: str) -> bool:
    """``path`` is the block node of the device the kernel has under that name now (not a
    stale node of an earlier partition of that name that devtmpfs has yet to remove)."""
    want = _sysfs_devno(path)
    try:
        st = os.stat(path)
    except OSError:
        return False
    return want is not None and stat.S_ISBLK(st.st_mode) and \
        (os.major(st.st_rdev), os.minor(st.st_rdev)) == want


def _make_node(path: str) -> None:
    """A partition the kernel knows but no current /dev node for (no udev, no devtmpfs, or
    a stale node): make the node from its sysfs dev numbers."""
    devno = _sysfs_devno(path)
    if devno is None or not path.startswith("/dev/"):
        return
    try:
        if os.path.lexists(path) and stat.S_ISBLK(os.lstat(path).st_mode):
            os.unlink(path)
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(*devno))
    except OSError:
        pass


def _drop_node(path: str, timeout: float = 1.0) -> None:
    """A removed partition's node goes with it; one made here by mknod devtmpfs would keep
    (and a later partition of that name would find stale)."""
    import time

    deadline = time.monotonic() + timeout
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    if os.path.lexists(path) and _sysfs_devno(path) is None and path.startswith("/dev/") \
            and stat.S_ISBLK(os.lstat(path).st_mode):
        try:
            os.unlink(path)
        except OSError:
            pass


def ensure_partition_nodes(device: str, paths: list[str], timeout: float = 2.0) -> None:
    """Wait for the partitions' device nodes; the kernel's devtmpfs normally makes them
    (and removes old ones) soon after parted has told the kernel. Without them: ask the
    kernel to re-read the table (partx -u), then make the nodes from sysfs."""
    import subprocess
    import time

    begun = time.monotonic()
    missing = [p for p in paths if not _node_current(p)]
    while missing and time.monotonic() < begun + timeout:
        # a node the kernel knows of, left stale (another device number): replaced soon
        if time.monotonic() > begun + 0.2 and all(
                _sysfs_devno(p) is not None and os.path.exists(p) for p in missing):
            break
        time.sleep(0.02)
        missing = [p for p in missing if not _node_current(p)]
    if not missing:
        return
    if any(_sysfs_devno(p) is None for p in missing) and shutil.which("partx"):
        subprocess.run(["partx", "-u", device], capture_output=True, check=False)
    for path in missing:
        _make_node(path)


def stable_path(pool: PoolDef, devpath: str) -> str:
    """virStorageBackendStablePath: under a target like /dev/disk/by-id, the link there that
    points to ``devpath``; under /dev (or anywhere else) ``devpath`` itself."""
    target = (pool.target.path or "").rstrip("/")
    if not target.startswith("/dev/"):
        return devpath
    try:
        names = sorted(os.listdir(target))
    except OSError as exc:
        system_error(exc, f"cannot read dir '{pool.target.path}'")
    real = os.path.realpath(devpath)
    for name in names:
        link = f"{target}/{name}"
        if os.path.islink(link) and os.path.realpath(link) == real:
            return link
    return devpath


def _blkid_probe(device: str) -> partitions.BlkidResult:
    import subprocess

    if not os.path.exists(device):
        storage_error(c.VIR_ERR_STORAGE_PROBE_FAILED,
                      f"Failed to create filesystem probe for device {device}")
    proc = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True,
                          check=False)
    return partitions.parse_blkid_export(proc.stdout.decode(errors="replace"), proc.returncode)


def _parted_print(device: str) -> tuple[int, str]:
    import subprocess

    proc = subprocess.run(["parted", device, "print", "--script"], capture_output=True,
                          check=False, env=dict(os.environ, LC_ALL="C"))
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")


def _zero_ends(path: str, length: int = 1024 * 1024) -> None:
    """virStorageBackendZeroPartitionTable: zeroes over the first and the last MiB (a GPT
    keeps its backup header at the end)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        system_error(exc, f"Failed to open storage volume with path '{path}'")
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        for offset in (0, max(0, size - length)):
            os.pwrite(fd, bytes(min(length, size)), offset)
        os.fsync(fd)
    except OSError as exc:
        system_error(exc, f"Failed to write {length} bytes to storage volume with path "
                          f"'{path}'")
    finally:
        os.close(fd)


class DiskBackend(Backend):
    """storage_backend_disk.c: build writes a label with parted, volumes are partitions
    (made with ``parted mkpart``, removed with ``parted rm``), listed the way libvirt's
    parthelper lists them."""

    type = "disk"
    local_files = True

    @staticmethod
    def device(pool: PoolDef) -> str:
        return pool.source.devices[0].path

    @staticmethod
    def _label(pool: PoolDef) -> str:
        """The pool's label format; an unset one means dos once the pool starts."""
        if pool.source.format in (None, "unknown"):
            pool.source.format = "dos"
        return pool.source.format or "dos"

    def check(self, pool: PoolDef) -> bool:
        path = self.device(pool)
        if not os.path.exists(path):
            return False
        partitions.check_label(path, self._label(pool), False, _blkid_probe, _parted_print)
        return True

    def start(self, pool: PoolDef) -> None:
        wait_for_devices()
        path = self.device(pool)
        if not os.path.exists(path):
            storage_error(c.VIR_ERR_INVALID_ARG, f"device path '{path}' doesn't exist")
        partitions.check_label(path, self._label(pool), False, _blkid_probe, _parted_print)

    def build(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendDiskBuildPool", flags, BUILD_FLAGS, c.VIR_FROM_STORAGE)
        exclusive_build_flags(flags)
        path = self.device(pool)
        fmt = pool.source.format or "unknown"
        if not flags & c.VIR_STORAGE_POOL_BUILD_OVERWRITE:
            partitions.check_label(path, fmt, True, _blkid_probe, _parted_print)
        _zero_ends(path)
        fmt = self._label(pool)
        run(["parted", path, "mklabel", "--script", partitions.PARTED_LABELS.get(fmt, fmt)])

    def delete(self, pool: PoolDef, flags: int) -> None:
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendDiskDeletePool", flags, 0, c.VIR_FROM_STORAGE)
        _zero_ends(self.device(pool))

    def read_table(self, pool: PoolDef) -> partitions.Table:
        path = self.device(pool)
        out = run(partitions.parted_argv(path))
        mbr = None
        try:
            with open(path, "rb") as fh:
                mbr = fh.read(512)
        except OSError:
            pass
        try:
            return partitions.parse_parted(out, mbr)
        except ValueError as exc:
            storage_error(c.VIR_ERR_INTERNAL_ERROR,
                          f"cannot parse the partition table of '{path}': {exc}")

    def refresh(self, pool: PoolDef) -> list[VolumeDef]:
        """virStorageBackendDiskRefreshPool: a volume per partition (free space and the
        label's own metadata are not volumes); capacity ends at the last partition or free
        extent, allocation sums the partitions (not the extended one that holds logical
        ones), available sums the free extents."""
        from pyvirt.conf.storage.pool import FreeExtent

        wait_for_devices()
        dev = self.device(pool)
        if not os.path.exists(dev):
            storage_error(c.VIR_ERR_INVALID_ARG, f"device path '{dev}' doesn't exist")
        table = self.read_table(pool)
        parts = table.partitions()
        ensure_partition_nodes(dev, [partitions.partition_path(dev, r.num or 0)
                                     for r in parts])
        vols = [self._volume(pool, r) for r in parts]
        extended = next((v for v, r in zip(vols, parts) if r.kind == "extended"), None)
        free = table.free()
        pool.source.devices[0].free_extents = [FreeExtent(r.start, r.end) for r in free]
        pool.allocation = sum(v.allocation for v, r in zip(vols, parts)
                              if r.kind != "extended")
        if extended is not None:
            extended.allocation += sum(v.allocation for v, r in zip(vols, parts)
                                       if r.kind == "logical")
        pool.available = sum(r.end - r.start for r in free)
        pool.capacity = max([r.end for r in parts] + [r.end for r in free] + [0])
        return vols

    def _volume(self, pool: PoolDef, region: partitions.Region,
                vol: VolumeDef | None = None) -> VolumeDef:
        """virStorageBackendDiskMakeDataVol: a partition's volume (or ``vol`` filled in)."""
        from pyvirt.conf.storage import Extent, VolumeDef

        dev = self.device(pool)
        devpath = partitions.partition_path(dev, region.num or 0)
        if vol is None:
            vol = VolumeDef(name=os.path.basename(devpath), pool_type="disk")
            vol.target.format = "none"
        vol.type = "block"
        vol.target.path = stable_path(pool, devpath)
        vol.key = vol.target.path
        vol.extents = [Extent(dev, region.start, region.end)]
        try:
            volfile.describe(vol, vol.target.path, probe=False)
        except FileNotFoundError:
            if region.kind != "extended":
                storage_error(c.VIR_ERR_NO_STORAGE_VOL,
                              f"no storage vol with matching path '{vol.target.path}'")
        except OSError as exc:
            if region.kind != "extended":
                system_error(exc, f"cannot stat file '{vol.target.path}'")
        if region.kind == "extended":  # its node is a stub: the extent says how big it is
            vol.allocation = 0
            vol.capacity = region.end - region.start
        return vol

    def create_vol(self, pool: PoolDef, vol: VolumeDef) -> None:
        """virStorageBackendDiskCreateVol: a partition of at least the volume's capacity in
        the smallest free extent that has room; the volume's name must be the one the
        partition gets (loop0p1, sda2, ...)."""
        if vol.target.encryption is not None:
            storage_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                          "storage pool does not support encrypted volumes")
        dev = self.device(pool)
        fmt = self._label(pool)
        table = self.read_table(pool)
        before = {r.num for r in table.partitions()}
        words = partitions.part_format(table, fmt, vol.target.format)
        start, end = partitions.part_boundaries(table, fmt, vol.capacity)
        run(["parted", dev, "mkpart", "--script", words, f"{start}B", f"{end}B"])
        wait_for_devices()
        made = None
        try:
            after = self.read_table(pool)
            made = next((r for r in after.partitions() if r.num not in before), None)
            if made is None:
                storage_error(c.VIR_ERR_INTERNAL_ERROR,
                              f"cannot find the partition created on '{dev}'")
            devpath = partitions.partition_path(dev, made.num or 0)
            ensure_partition_nodes(dev, [devpath])
            partname = os.path.basename(devpath)
            if vol.name != partname:
                storage_error(c.VIR_ERR_INVALID_ARG,
                              f"invalid partition name '{vol.name}', expected '{partname}'")
            vol.target.path = None  # a target path given in the XML means nothing here
            self._volume(pool, made, vol)
        except BaseException:
            if made is not None:  # best effort, as libvirt's
                _quiet(["parted", dev, "rm", "--script", str(made.num)])
            raise

    def volumes_after_change(self, pool: PoolDef) -> list[VolumeDef] | None:
        # an extended partition's allocation and the free extents follow its neighbours
        return self.refresh(pool)

    def build_vol_from(self, pool: PoolDef, vol: VolumeDef, src: VolumeDef,
                       flags: int) -> None:
        copy_to_block(vol, src)

    def delete_vol(self, pool: PoolDef, vol: VolumeDef, flags: int) -> None:
        """virStorageBackendDiskDeleteVol: ``parted DEV rm N``."""
        from pyvirt.drivers.base import check_flags

        check_flags("virStorageBackendDiskDeleteVol", flags, 0, c.VIR_FROM_STORAGE)
        dev = self.device(pool)
        if not vol.target.path:
            storage_error(c.VIR_ERR_INVALID_ARG,
                          f"volume target path empty for source path '{dev}'")
        num = partitions.partition_number(dev, vol.target.path)
        run(["parted", dev, "rm", "--script", num])
        wait_for_devices()
        _drop_node(partitions.partition_path(dev, int(num)))

    def wipe_vol(self, pool: PoolDef, vol: VolumeDef, algorithm: int) -> None:
        path = vol.target.path or ""
        dev = self.device(pool)
        num = partitions.partition_number(dev, path)
        if any(r.kind == "extended" and str(r.num) == num
               for r in self.read_table(pool).partitions()):
            storage_error(c.VIR_ERR_NO_SUPPORT, f"cannot wipe extended partition '{path}'")
        volfile.wipe(path, algorithm, vol.allocation)


BACKENDS: dict[str, Backend] = {b.type: b for b in (DirBackend(), FsBackend(), NetfsBackend(),
                                                     LogicalBackend(), DiskBackend())}


def backend_for(pool_type: str) -> Backend:
    """virStorageBackendForType: pool types without a backend here are refused the way
    libvirt refuses a type whose backend module is not installed."""
    from pyvirt.conf.storage import POOL_TYPES

    backend = BACKENDS.get(pool_type)
    if backend is None:
        storage_error(c.VIR_ERR_INTERNAL_ERROR, f"missing backend for pool type "
                      f"{list(POOL_TYPES).index(pool_type)} ({pool_type})")
    return backend
