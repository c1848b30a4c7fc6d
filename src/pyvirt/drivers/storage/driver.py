"""The storage driver: real pools and volumes (libvirt's storage_driver.c).

One ``StorageDriver`` per directory layout (``StoragePaths``) serves every connection that
reaches it: a hypervisor connection's secondary driver, ``storage:///`` or pyvirtd. State
is on disk: persistent pool definitions in ``config_dir`` (NAME.xml, autostart/ symlinks),
the live definition of each active pool in ``state_dir``, so that a new instance (a restarted
process or daemon) finds its pools still active (a mounted filesystem stays mounted) and
rebuilds the volume lists by refreshing them.

Locking, as libvirt's: ``lock`` guards the pool table and is held by every quick call; long
volume operations (allocation, clone, wipe, transfers) run without it, with the volume marked
as being built or in use so that a delete or a second operation on it is refused meanwhile.
"""

from __future__ import annotations

import os
import sys
import threading

from pyvirt import constants as c
from pyvirt.drivers.base import Driver, check_flags
from pyvirt.drivers.poolobj import VOL_TYPE_FOR_POOL, PoolObj, PoolTable
from pyvirt.drivers.shared import SharedDrivers
from pyvirt.drivers.storage.backends import backend_for
from pyvirt.drivers.storage.volfile import WIPE_ALGORITHMS
from pyvirt.errors import libvirtError, raise_error
from pyvirt.events.state import EventState
from pyvirt.fileutil import acquire_driver_lock, atomic_write, release_driver_lock, remove_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.storage import virStoragePool, virStorageVol
    from pyvirt.api.stream import virStream
    from pyvirt.conf.domain import DomainDef
    from pyvirt.conf.storage import PoolDef, VolumeDef
    from pyvirt.drivers.storage.backends import Backend

_HEADER = """<!--
WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:
  virsh pool-edit {name}
or other application using the libvirt API.
-->

"""
_START_FLAGS = (c.VIR_STORAGE_POOL_CREATE_WITH_BUILD
                | c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE
                | c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)


class StoragePaths:
    """Where one storage driver instance keeps its state."""

    __slots__ = ("mode", "root", "config_dir", "autostart_dir", "state_dir")

    def __init__(self, mode: str, config_dir: str, state_dir: str,
                 root: str | None = None) -> None:
        self.mode = mode
        self.root = root
        self.config_dir = config_dir
        self.autostart_dir = os.path.join(config_dir, "autostart")
        self.state_dir = state_dir

    @classmethod
    def for_mode(cls, mode: str, root: str | None) -> StoragePaths:
        if root is not None:
            root = os.path.abspath(root)
            return cls(mode, os.path.join(root, "etc", "storage"),
                       os.path.join(root, "run", "storage"), root)
        if mode == "system":
            return cls(mode, "/etc/pyvirt/storage", "/run/pyvirt/storage")
        from pyvirt import rundirs

        return cls(mode, os.path.join(rundirs.user_config_dir(), "storage"),
                   os.path.join(rundirs.user_runtime_dir(), "storage"))

    def ensure(self) -> None:
        for path in (self.config_dir, self.autostart_dir, self.state_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)

    def config_file(self, name: str) -> str:
        return os.path.join(self.config_dir, name + ".xml")

    def autostart_link(self, name: str) -> str:
        return os.path.join(self.autostart_dir, name + ".xml")

    def state_file(self, name: str) -> str:
        return os.path.join(self.state_dir, name + ".xml")


class StorageDriver(PoolTable, Driver):
    name = "storage"
    error_domain = c.VIR_FROM_STORAGE
    _fn_prefix = "storage"

    def __init__(self, paths: StoragePaths) -> None:
        self.paths = paths
        paths.ensure()
        self._lock_fd = acquire_driver_lock(paths.state_dir)
        self.lock = threading.RLock()
        self.events = EventState()
        self._init_pools()
        # (pool uuid, volume name) being allocated / used by a long operation
        self._building: set[tuple[str, str]] = set()
        self._in_use: dict[tuple[str, str], int] = {}
        self._load()
        self._autostart()

    # ---- state on disk -------------------------------------------------------------------

    def _load(self) -> None:
        """Persistent definitions, then the live state of pools that were active."""
        from pyvirt.conf.storage import PoolDef

        for fname in _xml_files(self.paths.config_dir):
            path = os.path.join(self.paths.config_dir, fname)
            try:
                with open(path) as fh:
                    pooldef = PoolDef.from_xml(fh.read())
                obj = self._add_pool(pooldef, check_live=False)
            except (OSError, libvirtError) as exc:
                print(f"pyvirt: storage: skipping {path}: {exc}", file=sys.stderr)
                continue
            obj.persistent = True
            obj.autostart = os.path.exists(self.paths.autostart_link(pooldef.name))
        for fname in _xml_files(self.paths.state_dir):
            path = os.path.join(self.paths.state_dir, fname)
            try:
                with open(path) as fh:
                    live = PoolDef.from_xml(fh.read(), parse_sizes=True)
            except (OSError, libvirtError) as exc:
                print(f"pyvirt: storage: skipping {path}: {exc}", file=sys.stderr)
                continue
            self._reload_active(live, path)

    def _reload_active(self, live: PoolDef, state_path: str) -> None:
        """storagePoolUpdateState: a pool that was active stays so if its backend says it
        still is (directory there, filesystem mounted, VG present); its volumes are found
        again by a refresh."""
        obj = self._pools.get(live.uuid)
        if obj is None:
            obj = self._add_pool(live, check_live=False)
        elif obj.def_ != live:
            obj.new_def, obj.def_ = obj.def_, live
        try:
            backend = backend_for(live.type)
            still = backend.check(live)
            if still:
                obj.volumes = {v.name: v for v in backend.refresh(live)}
        except libvirtError as exc:
            print(f"pyvirt: storage: pool '{live.name}': {exc}", file=sys.stderr)
            still = False
        if still:
            obj.active = True
            return
        remove_quietly(state_path)
        self._deactivate(obj)

    def _save_config(self, pooldef: PoolDef) -> None:
        atomic_write(self.paths.config_file(pooldef.name),
                     _HEADER.format(name=pooldef.name) + pooldef.to_xml())

    def _save_state(self, obj: PoolObj) -> None:
        atomic_write(self.paths.state_file(obj.def_.name),
                     _HEADER.format(name=obj.def_.name) + obj.def_.to_xml(), durable=False)

    def _deactivate(self, obj: PoolObj) -> None:
        """The pool is no longer active: its live definition gives way to the persistent
        one; a transient pool goes away."""
        obj.active = False
        obj.volumes = {}
        remove_quietly(self.paths.state_file(obj.def_.name))
        if obj.new_def is not None:
            obj.def_, obj.new_def = obj.new_def, None
        if not obj.persistent:
            self._pools.pop(obj.def_.uuid, None)

    def _autostart(self) -> None:
        """storageDriverAutostart: start each autostart pool that is not running."""
        for obj in list(self._pools.values()):
            if not obj.autostart or obj.active:
                continue
            try:
                with self.lock:
                    self._start(obj, 0)
            except libvirtError as exc:
                print(f"pyvirt: storage: Failed to autostart storage pool "
                      f"'{obj.def_.name}': {exc}", file=sys.stderr)

    # ---- lookups ---------------------------------------------------------------------------

    def _pool_of(self, pool: virStoragePool) -> PoolObj:
        obj = self._pools.get(pool.UUIDString())
        if obj is None:
            self._err(c.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching uuid "
                      f"'{pool.UUIDString()}' ({pool.name()})")
        return obj

    def _vol_of(self, vol: virStorageVol) -> tuple[PoolObj, VolumeDef]:
        """virStorageVolDefFromVol: the volume's active pool and its definition."""
        obj = self._require_active(self._pool_by_name(vol._pool))
        return obj, self._vol_by_name(obj, vol.name())

    def storagePoolLookupByTargetPath(self, conn: virConnect, path: str) -> virStoragePool:  # noqa: N802
        from pyvirt.conf.storage.common import sanitize_path

        clean = sanitize_path(path)
        with self.lock:
            for obj in self._pools.values():
                if obj.active and obj.def_.target.path == clean:
                    return self._pool_handle(conn, obj)
        self._err(c.VIR_ERR_NO_STORAGE_POOL,
                  f"no storage pool with matching target path '{path}'")

    def storageVolLookupByKey(self, conn: virConnect, key: str) -> virStorageVol:  # noqa: N802
        return self._vol_search(conn, "key", key, f"no storage vol with matching key {key}")

    def storageVolLookupByPath(self, conn: virConnect, path: str) -> virStorageVol:  # noqa: N802
        from pyvirt.conf.storage.common import sanitize_path

        clean = sanitize_path(path)
        try:
            return self._vol_search(conn, "path", clean,
                                    f"no storage vol with matching path '{path}'")
        except libvirtError:
            real = os.path.realpath(clean)
            if real == clean:
                raise
            return self._vol_search(conn, "path", real,
                                    f"no storage vol with matching path '{path}'")

    # ---- pool definitions ----------------------------------------------------------------

    def _parse_pool(self, xml: str, validate: bool) -> PoolDef:
        from pyvirt.conf.storage import PoolDef

        pooldef = PoolDef.from_xml(xml, validate_schema=validate)
        backend_for(pooldef.type)
        return pooldef

    def storagePoolDefineXML(  # noqa: N802
        self, conn: virConnect, xml: str, flags: int
    ) -> virStoragePool:
        check_flags("storagePoolDefineXML", flags, c.VIR_STORAGE_POOL_DEFINE_VALIDATE,
                    self.error_domain)
        pooldef = self._parse_pool(xml, bool(flags))
        with self.lock:
            existed = pooldef.uuid in self._pools
            obj = self._add_pool(pooldef, check_live=False)
            try:
                self._save_config(pooldef)
            except OSError as exc:
                if not existed:
                    del self._pools[pooldef.uuid]
                raise_error(c.VIR_ERR_SYSTEM_ERROR, f"cannot write config file "
                            f"'{self.paths.config_file(pooldef.name)}': {exc.strerror}",
                            domain=c.VIR_FROM_NONE)
            obj.persistent = True
            self._pool_event(pooldef.name, pooldef.uuid, c.VIR_STORAGE_POOL_EVENT_DEFINED)
            return self._pool_handle(conn, obj)

    def storagePoolCreateXML(  # noqa: N802
        self, conn: virConnect, xml: str, flags: int
    ) -> virStoragePool:
        check_flags("storagePoolCreateXML", flags, _START_FLAGS, self.error_domain)
        self._exclusive_start_flags(flags)
        pooldef = self._parse_pool(xml, False)
        with self.lock:
            existed = pooldef.uuid in self._pools
            obj = self._add_pool(pooldef, check_live=True)
            try:
                self._start(obj, flags)
            except BaseException:
                if not existed:
                    self._pools.pop(pooldef.uuid, None)
                raise
            return self._pool_handle(conn, obj)

    @staticmethod
    def _exclusive_start_flags(flags: int) -> None:
        both = (c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE
                | c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)
        if flags & both == both:
            text = ("Flags 'VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE' and "
                    "'VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE' are mutually exclusive")
            raise_error(c.VIR_ERR_INVALID_ARG, text, domain=c.VIR_FROM_STORAGE, message=text)

    def storagePoolUndefine(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            name = obj.def_.name
            if obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID, f"storage pool '{name}' is still active")
            if not obj.persistent:
                self._err(c.VIR_ERR_OPERATION_INVALID, "cannot undefine transient storage pool")
            remove_quietly(self.paths.autostart_link(name))
            remove_quietly(self.paths.config_file(name))
            self._pool_event(name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_UNDEFINED)
            del self._pools[obj.def_.uuid]
            return 0

    # ---- pool lifecycle ---------------------------------------------------------------------

    def _start(self, obj: PoolObj, flags: int) -> None:
        """storagePoolCreate's work: build if asked, start, refresh, write the live state;
        a failure in between leaves the pool as it was (stopped again)."""
        pooldef = obj.def_
        backend = backend_for(pooldef.type)
        build_flags = 0
        if flags & c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE:
            build_flags = c.VIR_STORAGE_POOL_BUILD_OVERWRITE
        elif flags & c.VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE:
            build_flags = c.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE
        if flags & _START_FLAGS:
            backend.build(pooldef, build_flags)
        backend.start(pooldef)
        try:
            vols = backend.refresh(pooldef)
            self._save_state(obj)
        except BaseException:
            try:
                backend.stop(pooldef)
            except libvirtError:
                pass
            raise
        obj.volumes = {v.name: v for v in vols}
        obj.active = True
        self._pool_event(pooldef.name, pooldef.uuid, c.VIR_STORAGE_POOL_EVENT_STARTED)

    def storagePoolCreate(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("storagePoolCreate", flags, _START_FLAGS, self.error_domain)
        self._exclusive_start_flags(flags)
        with self.lock:
            obj = self._pool_of(pool)
            if obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID,
                          f"storage pool '{obj.def_.name}' is already active")
            self._start(obj, flags)
            return 0

    def storagePoolBuild(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            if obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID,
                          f"storage pool '{obj.def_.name}' is already active")
            backend_for(obj.def_.type).build(obj.def_, flags)
            self._pool_event(obj.def_.name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_CREATED)
            return 0

    def _check_idle(self, obj: PoolObj) -> None:
        uuid = obj.def_.uuid
        if any(key[0] == uuid for key in self._building) or \
                any(key[0] == uuid for key in self._in_use):
            self._err(c.VIR_ERR_OPERATION_INVALID,
                      f"pool '{obj.def_.name}' has asynchronous jobs running.")

    def storagePoolDestroy(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._require_active(self._pool_of(pool))
            self._check_idle(obj)
            backend_for(obj.def_.type).stop(obj.def_)
            name, uuid = obj.def_.name, obj.def_.uuid
            self._deactivate(obj)
            self._pool_event(name, uuid, c.VIR_STORAGE_POOL_EVENT_STOPPED)
            return 0

    def storagePoolDelete(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            if obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID,
                          f"storage pool '{obj.def_.name}' is still active")
            backend_for(obj.def_.type).delete(obj.def_, flags)
            self._pool_event(obj.def_.name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_DELETED)
            return 0

    def storagePoolRefresh(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("storagePoolRefresh", flags, 0, self.error_domain)
        with self.lock:
            obj = self._require_active(self._pool_of(pool))
            self._check_idle(obj)
            self._refresh(obj)
            return 0

    def _refresh(self, obj: PoolObj) -> None:
        """Volumes found again, the pool's figures updated; a pool whose refresh fails is
        stopped, as libvirt does."""
        backend = backend_for(obj.def_.type)
        name, uuid = obj.def_.name, obj.def_.uuid
        try:
            obj.volumes = {v.name: v for v in backend.refresh(obj.def_)}
        except libvirtError:
            try:
                backend.stop(obj.def_)
            except libvirtError:
                pass
            self._deactivate(obj)
            self._pool_event(name, uuid, c.VIR_STORAGE_POOL_EVENT_STOPPED)
            raise
        self._refresh_event(name, uuid)

    def storagePoolGetXMLDesc(self, pool: virStoragePool, flags: int) -> str:  # noqa: N802
        check_flags("storagePoolGetXMLDesc", flags, c.VIR_STORAGE_XML_INACTIVE,
                    self.error_domain)
        with self.lock:
            obj = self._pool_of(pool)
            pooldef = obj.def_
            if flags & c.VIR_STORAGE_XML_INACTIVE and obj.new_def is not None:
                pooldef = obj.new_def
            return pooldef.to_xml()

    def storagePoolSetAutostart(self, pool: virStoragePool, autostart: int) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            if not obj.persistent:
                self._err(c.VIR_ERR_INTERNAL_ERROR, "pool has no config file")
            name = obj.def_.name
            link = self.paths.autostart_link(name)
            if autostart and not obj.autostart:
                try:
                    os.symlink(self.paths.config_file(name), link)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Failed to create symlink '{link}' "
                                f"to '{self.paths.config_file(name)}': {exc.strerror}",
                                domain=self.error_domain)
            elif not autostart and obj.autostart:
                remove_quietly(link)
            obj.autostart = bool(autostart)
            return 0

    def connectFindStoragePoolSources(  # noqa: N802
        self, conn: virConnect, type: str, srcSpec: str | None, flags: int,  # noqa: A002, N803
    ) -> str:
        from pyvirt.conf.storage import POOL_TYPES

        check_flags("storageConnectFindStoragePoolSources", flags, 0, self.error_domain)
        if type not in POOL_TYPES:
            self._err(c.VIR_ERR_INTERNAL_ERROR, f"unknown storage pool type {type}")
        backend_for(type)
        self._err(c.VIR_ERR_NO_SUPPORT, f"pool type '{type}' does not support source discovery")

    # ---- volumes: creation ------------------------------------------------------------------

    def _parse_vol(self, obj: PoolObj, xml: str, flags: int) -> VolumeDef:
        from pyvirt.conf.storage import VolumeDef

        return VolumeDef.from_xml(
            xml, pool=obj.def_, opt_capacity=True,
            validate_schema=bool(flags & c.VIR_STORAGE_VOL_CREATE_VALIDATE))

    def _check_space(self, obj: PoolObj, vol: VolumeDef) -> None:
        """A fully allocated file volume bigger than the pool's free space fails as
        libvirt's allocation does, without first filling the pool's filesystem."""
        if obj.def_.type in ("dir", "fs", "netfs") and (vol.target.format or "raw") == "raw" \
                and vol.allocation > obj.def_.available:
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"cannot allocate {vol.allocation} bytes in file "
                        f"'{vol.target.path}': No space left on device",
                        domain=self.error_domain)

    def storageVolCreateXML(  # noqa: N802
        self, pool: virStoragePool, xml: str, flags: int
    ) -> virStorageVol:
        check_flags("storageVolCreateXML", flags, c.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
                    | c.VIR_STORAGE_VOL_CREATE_VALIDATE, self.error_domain)
        with self.lock:
            obj = self._require_active(self._pool_of(pool))
            backend = backend_for(obj.def_.type)
            vol = self._parse_vol(obj, xml, flags)
            if vol.name in obj.volumes:
                self._err(c.VIR_ERR_STORAGE_VOL_EXIST, f"'{vol.name}'")
            vol.key = None
            if vol.backing_store is not None and not vol.capacity:
                self._backing_capacity(vol, obj)
            backend.create_vol(obj.def_, vol)
            self._check_space(obj, vol)
            self._volumes_changed(backend, obj, vol)
            key = (obj.def_.uuid, vol.name)
            self._building.add(key)
            handle = self._vol_handle(pool.connect(), obj, vol)
        try:
            backend.build_vol(obj.def_, vol, flags & ~c.VIR_STORAGE_VOL_CREATE_VALIDATE)
            backend.refresh_vol(obj.def_, vol)
        except BaseException:
            with self.lock:
                self._building.discard(key)
                obj.volumes.pop(vol.name, None)
            raise
        with self.lock:
            self._building.discard(key)
            self._account(obj, vol.allocation)
        return handle

    def _backing_capacity(self, vol: VolumeDef, obj: PoolObj) -> None:
        """A volume on a backing store without <capacity> gets the backing image's."""
        from pyvirt.drivers.storage.volfile import probe_file

        assert vol.backing_store is not None
        path = vol.backing_store.path
        if not path.startswith("/"):
            path = os.path.join(obj.def_.target.path or "", path)
        try:
            info = probe_file(path)
            vol.capacity = info.capacity or os.path.getsize(path)
        except OSError:
            return

    def _account(self, obj: PoolObj, allocation: int) -> None:
        if obj.def_.type != "disk":
            obj.def_.allocation += allocation
            obj.def_.available -= allocation

    def storageVolCreateXMLFrom(  # noqa: N802
        self, pool: virStoragePool, xml: str, clonevol: virStorageVol, flags: int
    ) -> virStorageVol:
        check_flags("storageVolCreateXMLFrom", flags, c.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
                    | c.VIR_STORAGE_VOL_CREATE_REFLINK | c.VIR_STORAGE_VOL_CREATE_VALIDATE,
                    self.error_domain)
        with self.lock:
            obj = self._pool_of(pool)
            src_obj = self._pool_find_name(clonevol._pool)
            if src_obj is None:
                self._err(c.VIR_ERR_NO_STORAGE_POOL,
                          f"no storage pool with matching name '{clonevol._pool}'")
            self._require_active(obj)
            self._require_active(src_obj)
            backend = backend_for(obj.def_.type)
            src = src_obj.volumes.get(clonevol.name())
            if src is None:
                self._err(c.VIR_ERR_NO_STORAGE_VOL,
                          f"no storage vol with matching name '{clonevol.name()}'")
            vol = self._parse_vol(obj, xml, flags)
            if vol.name in obj.volumes:
                self._err(c.VIR_ERR_INTERNAL_ERROR,
                          f"storage volume name '{vol.name}' already in use.")
            vol.capacity = max(vol.capacity, src.capacity)
            if not vol.has_allocation:
                vol.allocation = vol.capacity
            src_key = (src_obj.def_.uuid, src.name)
            if src_key in self._building:
                self._err(c.VIR_ERR_OPERATION_INVALID,
                          f"volume '{src.name}' is still being allocated.")
            backend_for(src_obj.def_.type).refresh_vol(src_obj.def_, src)
            vol.key = None
            backend.create_vol(obj.def_, vol)
            self._volumes_changed(backend, obj, vol)
            key = (obj.def_.uuid, vol.name)
            self._building.add(key)
            self._in_use[src_key] = self._in_use.get(src_key, 0) + 1
            handle = self._vol_handle(pool.connect(), obj, vol)
        failed = True
        try:
            backend.build_vol_from(obj.def_, vol, src,
                                   flags & ~c.VIR_STORAGE_VOL_CREATE_VALIDATE)
            backend.refresh_vol(obj.def_, vol)
            failed = False
        finally:
            with self.lock:
                self._building.discard(key)
                self._release(src_key)
                if failed:
                    obj.volumes.pop(vol.name, None)
                    if vol.type != "block" or obj.def_.type in ("logical", "disk"):
                        self._remove_failed(backend, obj, vol)
                        self._volumes_changed(backend, obj, None)
                else:
                    self._account(obj, vol.allocation)
        return handle

    @staticmethod
    def _volumes_changed(backend: Backend, obj: PoolObj, vol: VolumeDef | None) -> None:
        """A volume was created (``vol``) or removed: the backend's fresh list where its
        volumes depend on each other (disk: partitions), ``vol`` itself kept as the
        entry; on a failed re-read the new volume is removed again."""
        try:
            fresh = backend.volumes_after_change(obj.def_)
        except libvirtError:
            if vol is not None:
                StorageDriver._remove_failed(backend, obj, vol)
            raise
        if fresh is not None:
            obj.volumes = {v.name: v for v in fresh}
        if vol is not None:
            obj.volumes[vol.name] = vol

    @staticmethod
    def _remove_failed(backend: Backend, obj: PoolObj, vol: VolumeDef) -> None:
        try:
            backend.delete_vol(obj.def_, vol, 0)
        except libvirtError:
            pass

    def _release(self, key: tuple[str, str]) -> None:
        count = self._in_use.get(key, 0) - 1
        if count > 0:
            self._in_use[key] = count
        else:
            self._in_use.pop(key, None)

    # ---- volumes: the rest -----------------------------------------------------------------

    def _check_vol_idle(self, obj: PoolObj, vol: VolumeDef) -> tuple[str, str]:
        key = (obj.def_.uuid, vol.name)
        if key in self._in_use:
            self._err(c.VIR_ERR_OPERATION_INVALID, f"volume '{vol.name}' is still in use.")
        if key in self._building:
            self._err(c.VIR_ERR_OPERATION_INVALID,
                      f"volume '{vol.name}' is still being allocated.")
        return key

    def storageVolDelete(self, vol: virStorageVol, flags: int) -> int:  # noqa: N802
        with self.lock:
            obj, voldef = self._vol_of(vol)
            self._check_vol_idle(obj, voldef)
            backend = backend_for(obj.def_.type)
            backend.delete_vol(obj.def_, voldef, flags)
            del obj.volumes[voldef.name]
            fresh = backend.volumes_after_change(obj.def_)
            if fresh is not None:  # figures and neighbours re-read with the list
                obj.volumes = {v.name: v for v in fresh}
            else:
                obj.def_.allocation -= voldef.allocation
                obj.def_.available += voldef.allocation
            return 0

    def storageVolGetInfo(self, vol: virStorageVol) -> list[int]:  # noqa: N802
        return self.storageVolGetInfoFlags(vol, 0)

    def storageVolGetInfoFlags(self, vol: virStorageVol, flags: int) -> list[int]:  # noqa: N802
        check_flags("storageVolGetInfoFlags", flags, c.VIR_STORAGE_VOL_GET_PHYSICAL,
                    self.error_domain)
        with self.lock:
            obj, voldef = self._vol_of(vol)
            self._refresh_vol(obj, voldef)
            second = voldef.physical if flags & c.VIR_STORAGE_VOL_GET_PHYSICAL \
                else voldef.allocation
            return [_VOL_TYPES.get(voldef.type, VOL_TYPE_FOR_POOL[obj.def_.type]),
                    voldef.capacity, second]

    def _refresh_vol(self, obj: PoolObj, voldef: VolumeDef) -> None:
        if (obj.def_.uuid, voldef.name) in self._building:
            return
        try:
            backend_for(obj.def_.type).refresh_vol(obj.def_, voldef)
        except OSError as exc:
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"cannot stat file '{voldef.target.path}': {exc.strerror}",
                        domain=c.VIR_FROM_NONE)

    def storageVolGetXMLDesc(self, vol: virStorageVol, flags: int) -> str:  # noqa: N802
        check_flags("storageVolGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            obj, voldef = self._vol_of(vol)
            self._refresh_vol(obj, voldef)
            return voldef.to_xml(pool=obj.def_)

    def storageVolGetPath(self, vol: virStorageVol) -> str:  # noqa: N802
        with self.lock:
            return self._vol_of(vol)[1].target.path or ""

    def storageVolResize(self, vol: virStorageVol, capacity: int, flags: int) -> int:  # noqa: N802
        check_flags("storageVolResize", flags, c.VIR_STORAGE_VOL_RESIZE_ALLOCATE
                    | c.VIR_STORAGE_VOL_RESIZE_DELTA | c.VIR_STORAGE_VOL_RESIZE_SHRINK,
                    self.error_domain)
        with self.lock:
            obj, voldef = self._vol_of(vol)
            self._check_vol_idle(obj, voldef)
            current = voldef.capacity
            if flags & c.VIR_STORAGE_VOL_RESIZE_DELTA:
                if flags & c.VIR_STORAGE_VOL_RESIZE_SHRINK:
                    new = current - min(capacity, current)
                else:
                    new = current + capacity
                flags &= ~c.VIR_STORAGE_VOL_RESIZE_DELTA
            else:
                new = capacity
            if new < voldef.allocation:
                self._err(c.VIR_ERR_INVALID_ARG,
                          "can't shrink capacity below existing allocation")
            if new < current and not flags & c.VIR_STORAGE_VOL_RESIZE_SHRINK:
                self._err(c.VIR_ERR_INVALID_ARG, "Can't shrink capacity below current "
                          "capacity unless shrink flag explicitly specified")
            delta = new - voldef.allocation if flags & c.VIR_STORAGE_VOL_RESIZE_ALLOCATE \
                else 0
            if delta > obj.def_.available:
                self._err(c.VIR_ERR_OPERATION_FAILED, "Not enough space left in storage pool")
            backend_for(obj.def_.type).resize_vol(obj.def_, voldef, new, flags)
            voldef.capacity = new
            if flags & c.VIR_STORAGE_VOL_RESIZE_ALLOCATE:
                voldef.allocation = new
                self._account(obj, delta)
            self._refresh_vol(obj, voldef)
            return 0

    def storageVolWipe(self, vol: virStorageVol, flags: int) -> int:  # noqa: N802
        return self.storageVolWipePattern(vol, c.VIR_STORAGE_VOL_WIPE_ALG_ZERO, flags)

    def storageVolWipePattern(self, vol: virStorageVol, algorithm: int, flags: int) -> int:  # noqa: N802
        check_flags("storageVolWipePattern", flags, 0, self.error_domain)
        if not 0 <= algorithm < len(WIPE_ALGORITHMS):
            self._err(c.VIR_ERR_INVALID_ARG, f"wiping algorithm {algorithm} not supported")
        with self.lock:
            obj, voldef = self._vol_of(vol)
            key = self._check_vol_idle(obj, voldef)
            backend = backend_for(obj.def_.type)
            self._in_use[key] = 1
        try:
            backend.wipe_vol(obj.def_, voldef, algorithm)
        finally:
            with self.lock:
                self._release(key)
                self._refresh_vol(obj, voldef)
        return 0

    # ---- volumes: streams ------------------------------------------------------------------

    def _stream_target(self, vol: virStorageVol, what: str) -> tuple[PoolObj, VolumeDef, str]:
        obj, voldef = self._vol_of(vol)
        if (obj.def_.uuid, voldef.name) in self._building:
            self._err(c.VIR_ERR_OPERATION_INVALID,
                      f"volume '{voldef.name}' is still being allocated.")
        if not backend_for(obj.def_.type).local_files:
            self._err(c.VIR_ERR_NO_SUPPORT, f"storage pool doesn't support volume {what}")
        if voldef.type == "dir":
            self._err(c.VIR_ERR_NO_SUPPORT, f"volume type 'dir' is not supported for {what}")
        return obj, voldef, voldef.target.path or ""

    def storageVolDownload(  # noqa: N802
        self, vol: virStorageVol, stream: virStream, offset: int, length: int, flags: int
    ) -> int:
        from pyvirt.drivers.streams import FileSource

        check_flags("storageVolDownload", flags, c.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM,
                    self.error_domain)
        with self.lock:
            _obj, _voldef, path = self._stream_target(vol, "download")
            try:
                source = FileSource(path, offset, length)
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR,
                            f"Unable to open block device '{path}': {exc.strerror}",
                            domain=c.VIR_FROM_NONE)
        stream._attach(source)
        return 0

    def storageVolUpload(  # noqa: N802
        self, vol: virStorageVol, stream: virStream, offset: int, length: int, flags: int
    ) -> int:
        check_flags("storageVolUpload", flags, c.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM,
                    self.error_domain)
        with self.lock:
            obj, voldef, path = self._stream_target(vol, "upload")
            key = (obj.def_.uuid, voldef.name)
            if key in self._in_use:
                self._err(c.VIR_ERR_OPERATION_INVALID,
                          f"volume '{voldef.name}' is still in use.")
            try:
                sink = _UploadSink(path, offset, length, lambda: self._upload_done(obj, key))
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR,
                            f"Unable to open block device '{path}': {exc.strerror}",
                            domain=c.VIR_FROM_NONE)
            self._in_use[key] = 1
        stream._attach(sink)
        return 0

    def _upload_done(self, obj: PoolObj, key: tuple[str, str]) -> None:
        """virStorageVolPoolRefreshThread: the pool is refreshed once the upload ends."""
        with self.lock:
            self._release(key)
            if obj.active and not self._in_use and not self._building:
                try:
                    self._refresh(obj)
                except libvirtError:
                    pass

    def volume_source(self, pool_name: str, vol_name: str) -> tuple[str, str]:
        """(disk type, path) of a volume a domain's disk refers to."""
        with self.lock:
            obj = self._pool_by_name(pool_name)
            if not obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID, f"storage pool '{pool_name}' "
                          f"containing volume '{vol_name}' is not active")
            vol = self._vol_by_name(obj, vol_name)
            kind = vol.type if vol.type in ("block", "dir") else "file"
            return kind, vol.target.path or ""

    # ---- connection ------------------------------------------------------------------------

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        self.events.deregister_connection(conn)

    def shutdown(self) -> None:
        """The last user went away: pools stay as they are (active ones stay mounted)."""
        release_driver_lock(self.paths.state_dir, self._lock_fd)


_VOL_TYPES = {"file": c.VIR_STORAGE_VOL_FILE, "block": c.VIR_STORAGE_VOL_BLOCK,
              "dir": c.VIR_STORAGE_VOL_DIR, "network": c.VIR_STORAGE_VOL_NETWORK,
              "netdir": c.VIR_STORAGE_VOL_NETDIR, "ploop": c.VIR_STORAGE_VOL_PLOOP}


def _xml_files(directory: str) -> list[str]:
    try:
        return sorted(f for f in os.listdir(directory) if f.endswith(".xml"))
    except FileNotFoundError:
        return []


class _UploadSink:
    """A FileSink that tells the driver when the upload is over (finished or aborted)."""

    def __init__(self, path: str, offset: int, length: int,
                 done: Any) -> None:
        from pyvirt.drivers.streams import FileSink

        self._sink = FileSink(path, offset, length)
        self._done = done
        self._notified = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)

    def _notify(self) -> None:
        if not self._notified:
            self._notified = True
            self._done()

    def send(self, data: bytes) -> int:
        return self._sink.send(data)

    def send_hole(self, length: int) -> None:
        self._sink.send_hole(length)

    def finish(self) -> None:
        try:
            self._sink.finish()
        finally:
            self._notify()

    def abort(self) -> None:
        try:
            self._sink.abort()
        finally:
            self._notify()


# ---- one driver per directory layout, shared by its users ---------------------------------

_drivers = SharedDrivers()


def open_driver(mode: str, root: str | None) -> StorageDriver:
    paths = StoragePaths.for_mode(mode, root)
    driver: StorageDriver = _drivers.open(paths.config_dir, lambda: StorageDriver(paths))
    return driver


def close_driver(drv: StorageDriver) -> None:
    _drivers.close(drv.paths.config_dir, drv)


def translate_volume_disks(defn: DomainDef, storage: StorageDriver | None) -> DomainDef:
    """virDomainDiskTranslateSourcePool: a copy of ``defn`` whose ``<disk type='volume'>``
    sources are the volumes' own (a file, block device or directory), for the hypervisor
    to use; ``defn`` itself keeps the pool/volume form, as libvirt's live XML does."""
    if not any(d.type == "volume" for d in defn.devices.disks):
        return defn
    out = defn.copy()
    for disk in out.devices.disks:
        if disk.type != "volume" or disk.source is None:
            continue
        pool_name = disk.source.attrs.get("pool", "")
        vol_name = disk.source.attrs.get("volume", "")
        if storage is None:
            raise_error(c.VIR_ERR_NO_SUPPORT, "virStoragePoolLookupByName",
                        domain=c.VIR_FROM_STORAGE)
        disk.type, path = storage.volume_source(pool_name, vol_name)
        attrs = {k: v for k, v in disk.source.attrs.items() if k not in ("pool", "volume",
                                                                         "mode")}
        attrs[{"file": "file", "block": "dev", "dir": "dir"}[disk.type]] = path
        disk.source.attrs = attrs
    return out
