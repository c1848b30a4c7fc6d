"""What every storage driver does the same way with its pools (libvirt's
virstorageobj.c): the pool object, source-conflict rules, list filters, lookups of pools and
volumes, and the pool event registrations.

A driver mixes in :class:`PoolTable` and provides ``lock``, ``events``, ``error_domain``,
``_pools`` (by UUID, creation order) and ``_fn_prefix`` (libvirt's function prefix used in
"unsupported flags" errors: "test", "storage").
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.objlist import match_filter, queue_event
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any, NoReturn

    from pyvirt.api.connect import virConnect
    from pyvirt.api.storage import virStoragePool, virStorageVol
    from pyvirt.conf.storage import PoolDef, VolumeDef

TYPE_FILTERS: dict[str, int] = {
    "dir": c.VIR_CONNECT_LIST_STORAGE_POOLS_DIR,
    "fs": c.VIR_CONNECT_LIST_STORAGE_POOLS_FS,
    "netfs": c.VIR_CONNECT_LIST_STORAGE_POOLS_NETFS,
    "logical": c.VIR_CONNECT_LIST_STORAGE_POOLS_LOGICAL,
    "disk": c.VIR_CONNECT_LIST_STORAGE_POOLS_DISK,
    "iscsi": c.VIR_CONNECT_LIST_STORAGE_POOLS_ISCSI,
    "scsi": c.VIR_CONNECT_LIST_STORAGE_POOLS_SCSI,
    "mpath": c.VIR_CONNECT_LIST_STORAGE_POOLS_MPATH,
    "rbd": c.VIR_CONNECT_LIST_STORAGE_POOLS_RBD,
    "sheepdog": c.VIR_CONNECT_LIST_STORAGE_POOLS_SHEEPDOG,
    "gluster": c.VIR_CONNECT_LIST_STORAGE_POOLS_GLUSTER,
    "zfs": c.VIR_CONNECT_LIST_STORAGE_POOLS_ZFS,
    "vstorage": c.VIR_CONNECT_LIST_STORAGE_POOLS_VSTORAGE,
    "iscsi-direct": c.VIR_CONNECT_LIST_STORAGE_POOLS_ISCSI_DIRECT,
}
_TYPE_FILTERS_ALL = sum(TYPE_FILTERS.values())
LIST_POOLS_FILTERS_ALL = (
    c.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE | c.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE
    | c.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT | c.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT
    | c.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART | c.VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART
    | _TYPE_FILTERS_ALL
)

# virStorageVolType of the volumes of each pool type
VOL_TYPE_FOR_POOL: dict[str, int] = {
    **dict.fromkeys(("dir", "fs", "netfs", "vstorage"), c.VIR_STORAGE_VOL_FILE),
    **dict.fromkeys(("sheepdog", "iscsi-direct", "gluster", "rbd"), c.VIR_STORAGE_VOL_NETWORK),
    **dict.fromkeys(("logical", "disk", "mpath", "iscsi", "scsi", "zfs"),
                    c.VIR_STORAGE_VOL_BLOCK),
}

_DEVICE_TYPES = ("iscsi", "fs", "logical", "disk", "zfs")


class PoolObj:
    """A storage pool: its definitions (``new_def``: the persistent one saved while the
    pool runs), state and volumes (by name, creation order)."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, def_: PoolDef, new_def: PoolDef | None = None, active: bool = False,
                 persistent: bool = False, autostart: bool = False,
                 volumes: dict[str, VolumeDef] | None = None) -> None:
        self.def_ = def_
        self.new_def = new_def
        self.active = active
        self.persistent = persistent  # libvirt: has a config file
        self.autostart = autostart
        self.volumes: dict[str, VolumeDef] = {} if volumes is None else volumes

    def _fields(self) -> tuple[Any, ...]:
        return (self.def_, self.new_def, self.active, self.persistent, self.autostart,
                self.volumes)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PoolObj) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ("PoolObj(def_={!r}, new_def={!r}, active={!r}, persistent={!r}, "
                "autostart={!r}, volumes={!r})".format(*self._fields()))

    def persistent_def(self) -> PoolDef:
        return self.new_def if self.new_def is not None else self.def_


def source_conflict(old: PoolDef, new: PoolDef) -> bool:
    """virStoragePoolObjSourceFindDuplicateCb: ``new`` uses the source ``old`` uses."""
    if old.name == new.name:
        return False
    src_old, src_new = old.source, new.source
    hosts_old = [h.name for h in src_old.hosts[:1]]
    hosts_new = [h.name for h in src_new.hosts[:1]]
    if old.type in ("dir", "gluster", "netfs"):
        if new.type != old.type:
            return False
        if old.type == "dir":
            return old.target.path == new.target.path
        if old.type == "gluster":
            return (src_old.name == src_new.name and src_old.dir == src_new.dir
                    and hosts_old == hosts_new)
        return src_old.dir == src_new.dir and hosts_old == hosts_new
    if old.type in _DEVICE_TYPES:
        if new.type not in _DEVICE_TYPES or (old.type == "iscsi") != (new.type == "iscsi"):
            return False
        paths = {d.path for d in src_old.devices}
        if not any(d.path in paths for d in src_new.devices):
            return False
        if old.type == "iscsi":
            return hosts_old == hosts_new and src_old.initiator_iqn == src_new.initiator_iqn
        return True
    if old.type == "mpath":
        return new.type == "mpath"
    if old.type in ("sheepdog", "vstorage"):
        if new.type != old.type:
            return False
        if old.type == "sheepdog":
            return hosts_old == hosts_new
        return src_old.name == src_new.name
    return False


def pool_matches(obj: PoolObj, flags: int) -> bool:
    """virStoragePoolObjMatch: ``obj`` passes the VIR_CONNECT_LIST_STORAGE_POOLS_* filters."""
    if not (match_filter(flags, (c.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                                 c.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE), obj.active)
            and match_filter(flags, (c.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT,
                                     c.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT),
                             obj.persistent)
            and match_filter(flags, (c.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART,
                                     c.VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART),
                             obj.autostart)):
        return False
    if flags & _TYPE_FILTERS_ALL:
        return bool(flags & TYPE_FILTERS.get(obj.def_.type, 0))
    return True


class PoolTable:
    """Pool and volume lookups, lists, the pool table's add rules and pool events."""

    lock: threading.RLock
    error_domain: int
    events: Any
    _pools: dict[str, PoolObj]
    _fn_prefix: str

    def _init_pools(self) -> None:
        self._pools = {}

    def _err(self, code: int, detail: str) -> NoReturn:
        raise_error(code, detail, domain=self.error_domain)

    # ---- pools --------------------------------------------------------------------------

    def _pool_find_name(self, name: str) -> PoolObj | None:
        for obj in self._pools.values():
            if obj.def_.name == name:
                return obj
        return None

    def _pool_by_name(self, name: str) -> PoolObj:
        obj = self._pool_find_name(name)
        if obj is None:
            self._err(c.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching name '{name}'")
        return obj

    def _pool_by_uuid(self, uuid: str) -> PoolObj:
        obj = self._pools.get(uuid)
        if obj is None:
            self._err(c.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching uuid '{uuid}'")
        return obj

    def _pool_of(self, pool: virStoragePool) -> PoolObj:
        """The object behind a pool handle (the test driver finds it by name)."""
        return self._pool_by_name(pool.name())

    def _require_active(self, obj: PoolObj) -> PoolObj:
        if not obj.active:
            self._err(c.VIR_ERR_OPERATION_INVALID,
                      f"storage pool '{obj.def_.name}' is not active")
        return obj

    def _pool_handle(self, conn: virConnect, obj: PoolObj) -> virStoragePool:
        return conn._make_storage_pool(obj.def_.name, obj.def_.uuid)

    def storagePoolLookupByName(self, conn: virConnect, name: str) -> virStoragePool:  # noqa: N802
        with self.lock:
            return self._pool_handle(conn, self._pool_by_name(name))

    def storagePoolLookupByUUID(self, conn: virConnect, uuid: str) -> virStoragePool:  # noqa: N802
        with self.lock:
            return self._pool_handle(conn, self._pool_by_uuid(uuid))

    def storagePoolLookupByVolume(self, vol: virStorageVol) -> virStoragePool:  # noqa: N802
        return self.storagePoolLookupByName(vol.connect(), vol._pool)

    def _pool_names(self, active: bool) -> list[str]:
        with self.lock:
            return [o.def_.name for o in self._pools.values() if o.active == active]

    def connectListStoragePools(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._pool_names(True)

    def connectNumOfStoragePools(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._pool_names(True))

    def connectListDefinedStoragePools(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._pool_names(False)

    def connectNumOfDefinedStoragePools(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._pool_names(False))

    def connectListAllStoragePools(self, conn: virConnect, flags: int) -> list[virStoragePool]:  # noqa: N802
        check_flags(f"{self._fn_prefix}ConnectListAllStoragePools", flags,
                    LIST_POOLS_FILTERS_ALL, self.error_domain)
        with self.lock:
            return [self._pool_handle(conn, o) for o in self._pools.values()
                    if pool_matches(o, flags)]

    def _pool_defaults(self, pooldef: PoolDef) -> None:
        """Hook: what a driver fills in on a pool definition it adds."""

    def _add_pool(self, pooldef: PoolDef, check_live: bool) -> PoolObj:
        """virStoragePoolObjListAdd: a new object, or ``pooldef`` replacing the definition
        of the pool with its UUID (the persistent one while that pool runs)."""
        for other in self._pools.values():
            if source_conflict(other.def_, pooldef):
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"Storage source conflict with pool: '{other.def_.name}'",
                            domain=c.VIR_FROM_STORAGE)
        self._pool_defaults(pooldef)
        obj = self._pools.get(pooldef.uuid)
        if obj is not None:
            if obj.def_.name != pooldef.name:
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"pool '{obj.def_.name}' is already defined with uuid "
                            f"{obj.def_.uuid}", domain=c.VIR_FROM_STORAGE)
            if check_live and obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            f"pool is already active as '{obj.def_.name}'",
                            domain=c.VIR_FROM_STORAGE)
            if obj.active:
                obj.new_def = pooldef
            else:
                obj.def_ = pooldef
            return obj
        clash = self._pool_find_name(pooldef.name)
        if clash is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"pool '{pooldef.name}' already exists with uuid {clash.def_.uuid}",
                        domain=c.VIR_FROM_STORAGE)
        obj = PoolObj(def_=pooldef)
        self._pools[pooldef.uuid] = obj
        return obj

    def _pool_event(self, name: str, uuid: str, event: int) -> None:
        queue_event(self, "storage_pool", c.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, (name, uuid),
                    event, 0)

    def _refresh_event(self, name: str, uuid: str) -> None:
        queue_event(self, "storage_pool", c.VIR_STORAGE_POOL_EVENT_ID_REFRESH, (name, uuid))

    def storagePoolGetInfo(self, pool: virStoragePool) -> list[int]:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            state = c.VIR_STORAGE_POOL_RUNNING if obj.active else c.VIR_STORAGE_POOL_INACTIVE
            d = obj.def_
            return [state, d.capacity, d.allocation, d.available]

    def storagePoolIsActive(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return int(self._pool_by_uuid(pool.UUIDString()).active)

    def storagePoolIsPersistent(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return int(self._pool_by_uuid(pool.UUIDString()).persistent)

    def storagePoolGetAutostart(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_of(pool)
            return int(obj.persistent and obj.autostart)

    # ---- volumes ------------------------------------------------------------------------

    def _vol_by_name(self, obj: PoolObj, name: str) -> VolumeDef:
        vol = obj.volumes.get(name)
        if vol is None:
            self._err(c.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching name '{name}'")
        return vol

    def _vol_handle(self, conn: virConnect, obj: PoolObj, vol: VolumeDef) -> virStorageVol:
        return conn._make_storage_vol(obj.def_.name, vol.name, vol.key or "")

    def storagePoolNumOfVolumes(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return len(self._require_active(self._pool_of(pool)).volumes)

    def storagePoolListVolumes(self, pool: virStoragePool) -> list[str]:  # noqa: N802
        with self.lock:
            return list(self._require_active(self._pool_of(pool)).volumes)

    def storagePoolListAllVolumes(  # noqa: N802
        self, pool: virStoragePool, flags: int
    ) -> list[virStorageVol]:
        check_flags(f"{self._fn_prefix}StoragePoolListAllVolumes", flags, 0, self.error_domain)
        with self.lock:
            obj = self._pool_by_uuid(pool.UUIDString())
            if not obj.active:
                self._err(c.VIR_ERR_OPERATION_INVALID, "storage pool is not active")
            conn = pool.connect()
            return [self._vol_handle(conn, obj, v) for v in obj.volumes.values()]

    def storageVolLookupByName(self, pool: virStoragePool, name: str) -> virStorageVol:  # noqa: N802
        with self.lock:
            obj = self._require_active(self._pool_of(pool))
            return self._vol_handle(pool.connect(), obj, self._vol_by_name(obj, name))

    def _vol_search(self, conn: virConnect, attr: str, value: str, what: str) -> virStorageVol:
        """The volume of an active pool whose ``attr`` ("key", "path") is ``value``;
        ``what`` is the "not found" detail."""
        with self.lock:
            for obj in self._pools.values():
                if not obj.active:
                    continue
                for vol in obj.volumes.values():
                    found = vol.key if attr == "key" else vol.target.path
                    if found == value:
                        return self._vol_handle(conn, obj, vol)
        self._err(c.VIR_ERR_NO_STORAGE_VOL, what)

    # ---- events -------------------------------------------------------------------------

    def connectStoragePoolEventRegisterAny(  # noqa: N802
        self, conn: virConnect, pool: virStoragePool | None, eventID: int, cb: Any,  # noqa: N803
        opaque: Any,
    ) -> int:
        key = pool.UUIDString() if pool is not None else None
        result: int = self.events.register(conn, "storage_pool", eventID, key, cb, opaque)
        return result

    def connectStoragePoolEventDeregisterAny(self, conn: virConnect, callbackID: int) -> int:  # noqa: N802, N803
        self.events.deregister(conn, callbackID)
        return 0
