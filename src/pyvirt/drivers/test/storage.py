"""The test driver's storage pools and volumes (libvirt's test_driver.c storage entry points).

Every pool gets libvirt's fake size (100 GiB capacity, nothing allocated) when defined;
volumes only move the pool's allocation/available figures, no data is stored. Entry points
the test driver lacks (wipe, resize, upload, download, infoFlags, lookup by target path,
pool capabilities) stay NO_SUPPORT, as with the real test driver.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.test.networks import match_filter, queue_event, resolve_file_ref
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    import threading
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.storage import virStoragePool, virStorageVol
    from pyvirt.conf.storage import PoolDef, VolumeDef

DEFAULT_POOL_CAPACITY = 100 * 1024 * 1024 * 1024
DEFAULT_POOL_ALLOCATION = 0

_TYPE_FILTERS: dict[str, int] = {
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
_TYPE_FILTERS_ALL = sum(_TYPE_FILTERS.values())
LIST_POOLS_FILTERS_ALL = (
    c.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE | c.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE
    | c.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT | c.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT
    | c.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART | c.VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART
    | _TYPE_FILTERS_ALL
)

# testStorageVolumeTypeForPool
_VOL_TYPE_FOR_POOL: dict[str, int] = {
    **dict.fromkeys(("dir", "fs", "netfs", "vstorage"), c.VIR_STORAGE_VOL_FILE),
    **dict.fromkeys(("sheepdog", "iscsi-direct", "gluster", "rbd"), c.VIR_STORAGE_VOL_NETWORK),
    **dict.fromkeys(("logical", "disk", "mpath", "iscsi", "scsi", "zfs"),
                    c.VIR_STORAGE_VOL_BLOCK),
}

_DEVICE_TYPES = ("iscsi", "fs", "logical", "disk", "zfs")


class PoolObj:
    """A storage pool of the test driver: its definitions, state and volumes."""

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
        # by name, creation order
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


def _source_conflict(old: PoolDef, new: PoolDef) -> bool:
    """virStoragePoolObjSourceFindDuplicateCb, for the pool types the test driver sees."""
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


class TestStorage:
    """Mixin of TestDriver: libvirt's virStorageDriver for test:///."""

    lock: threading.RLock
    error_domain: int
    events: Any
    _pools: dict[str, PoolObj]  # by UUID, in creation order

    def _init_pools(self) -> None:
        self._pools = {}

    def _load_pools(self, node_el: Element, base_dir: str | os.PathLike[str] | None) -> None:
        """testParseStorage: each /node/pool is defined, started, and gets its <volume>s
        (inline or file=); volumes without a path live under the pool's target path."""
        from pyvirt.conf.storage import PoolDef, VolumeDef

        for el in node_el.iterfind("pool"):
            pool_el = resolve_file_ref(el, base_dir)
            pooldef = PoolDef.from_element(pool_el)
            obj = self._add_pool(pooldef, check_live=False)
            obj.persistent = True
            obj.active = True
            for vol_el in pool_el.iterfind("volume"):
                vol = VolumeDef.from_element(resolve_file_ref(vol_el, base_dir),
                                             pool=obj.def_)
                if not vol.target.path:
                    vol.target.path = f"{obj.def_.target.path}/{vol.name}"
                if not vol.key:
                    vol.key = vol.target.path
                obj.volumes[vol.name] = vol
                obj.def_.allocation += vol.allocation
                obj.def_.available = obj.def_.capacity - obj.def_.allocation

    # ---- pool lookups -------------------------------------------------------------------

    def _pool_find_name(self, name: str) -> PoolObj | None:
        for obj in self._pools.values():
            if obj.def_.name == name:
                return obj
        return None

    def _pool_by_name(self, name: str) -> PoolObj:
        obj = self._pool_find_name(name)
        if obj is None:
            raise_error(c.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching name '{name}'",
                        domain=self.error_domain)
        return obj

    def _pool_active(self, name: str) -> PoolObj:
        obj = self._pool_by_name(name)
        if not obj.active:
            raise_error(c.VIR_ERR_OPERATION_INVALID, f"storage pool '{name}' is not active",
                        domain=self.error_domain)
        return obj

    def _pool_inactive(self, name: str) -> PoolObj:
        obj = self._pool_by_name(name)
        if obj.active:
            raise_error(c.VIR_ERR_OPERATION_INVALID, f"storage pool '{name}' is active",
                        domain=self.error_domain)
        return obj

    def _pool_by_uuid(self, uuid: str) -> PoolObj:
        obj = self._pools.get(uuid)
        if obj is None:
            raise_error(c.VIR_ERR_NO_STORAGE_POOL, f"no storage pool with matching uuid '{uuid}'",
                        domain=self.error_domain)
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

    # ---- pool lists ---------------------------------------------------------------------

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
        check_flags("testConnectListAllStoragePools", flags, LIST_POOLS_FILTERS_ALL,
                    self.error_domain)
        with self.lock:
            return [self._pool_handle(conn, o) for o in self._pools.values()
                    if self._pool_matches(o, flags)]

    @staticmethod
    def _pool_matches(obj: PoolObj, flags: int) -> bool:
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
            return bool(flags & _TYPE_FILTERS.get(obj.def_.type, 0))
        return True

    # ---- define / create / undefine -----------------------------------------------------

    def _add_pool(self, pooldef: PoolDef, check_live: bool) -> PoolObj:
        """virStoragePoolObjListAdd + testStoragePoolObjSetDefaults."""
        for other in self._pools.values():
            if _source_conflict(other.def_, pooldef):
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"Storage source conflict with pool: '{other.def_.name}'",
                            domain=c.VIR_FROM_STORAGE)
        pooldef.capacity = DEFAULT_POOL_CAPACITY
        pooldef.allocation = DEFAULT_POOL_ALLOCATION
        pooldef.available = DEFAULT_POOL_CAPACITY - DEFAULT_POOL_ALLOCATION
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

    def _fc_host_vport(self, pooldef: PoolDef, create: bool) -> None:
        """A fc_host adapter makes (or removes) the test driver's mock vHBA node device."""
        adapter = pooldef.source.adapter
        if adapter.type != "fc_host":
            return
        hook = getattr(self, "_mock_vport_create" if create else "_mock_vport_destroy", None)
        if hook is not None:
            hook(adapter.wwnn, adapter.wwpn)

    def storagePoolCreateXML(  # noqa: N802
        self, conn: virConnect, xml: str, flags: int
    ) -> virStoragePool:
        from pyvirt.conf.storage import PoolDef

        check_flags("testStoragePoolCreateXML", flags, 0, self.error_domain)
        pooldef = PoolDef.from_xml(xml)
        with self.lock:
            existed = pooldef.uuid in self._pools
            obj = self._add_pool(pooldef, check_live=True)
            try:
                self._fc_host_vport(obj.def_, create=True)
            except Exception:
                if not existed:
                    del self._pools[obj.def_.uuid]
                raise
            # a pool made this way is transient: destroy removes it
            obj.persistent = False
            obj.active = True
            self._pool_event(obj.def_.name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_STARTED)
            return self._pool_handle(conn, obj)

    def storagePoolDefineXML(  # noqa: N802
        self, conn: virConnect, xml: str, flags: int
    ) -> virStoragePool:
        from pyvirt.conf.storage import PoolDef

        check_flags("testStoragePoolDefineXML", flags, c.VIR_STORAGE_POOL_DEFINE_VALIDATE,
                    self.error_domain)
        pooldef = PoolDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            obj = self._add_pool(pooldef, check_live=False)
            obj.persistent = True
            self._pool_event(obj.def_.name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_DEFINED)
            return self._pool_handle(conn, obj)

    def storagePoolUndefine(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_inactive(pool.name())
            self._pool_event(pool.name(), pool.UUIDString(), c.VIR_STORAGE_POOL_EVENT_UNDEFINED)
            del self._pools[obj.def_.uuid]
            return 0

    # ---- pool lifecycle -----------------------------------------------------------------

    def storagePoolCreate(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("testStoragePoolCreate", flags, 0, self.error_domain)
        with self.lock:
            obj = self._pool_inactive(pool.name())
            obj.active = True
            self._pool_event(pool.name(), pool.UUIDString(), c.VIR_STORAGE_POOL_EVENT_STARTED)
            return 0

    def storagePoolBuild(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("testStoragePoolBuild", flags, 0, self.error_domain)
        with self.lock:
            self._pool_inactive(pool.name())
            self._pool_event(pool.name(), pool.UUIDString(), c.VIR_STORAGE_POOL_EVENT_CREATED)
            return 0

    def storagePoolDestroy(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_active(pool.name())
            obj.active = False
            self._fc_host_vport(obj.def_, create=False)
            self._pool_event(obj.def_.name, obj.def_.uuid, c.VIR_STORAGE_POOL_EVENT_STOPPED)
            if not obj.persistent:
                del self._pools[obj.def_.uuid]
            return 0

    def storagePoolDelete(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("testStoragePoolDelete", flags, 0, self.error_domain)
        with self.lock:
            self._pool_inactive(pool.name())
            self._pool_event(pool.name(), pool.UUIDString(), c.VIR_STORAGE_POOL_EVENT_DELETED)
            return 0

    def storagePoolRefresh(self, pool: virStoragePool, flags: int) -> int:  # noqa: N802
        check_flags("testStoragePoolRefresh", flags, 0, self.error_domain)
        with self.lock:
            self._pool_active(pool.name())
            queue_event(self, "storage_pool", c.VIR_STORAGE_POOL_EVENT_ID_REFRESH,
                        (pool.name(), pool.UUIDString()))
            return 0

    # ---- pool state and description -----------------------------------------------------

    def storagePoolGetInfo(self, pool: virStoragePool) -> list[int]:  # noqa: N802
        with self.lock:
            obj = self._pool_by_name(pool.name())
            state = c.VIR_STORAGE_POOL_RUNNING if obj.active else c.VIR_STORAGE_POOL_INACTIVE
            d = obj.def_
            return [state, d.capacity, d.allocation, d.available]

    def storagePoolGetXMLDesc(self, pool: virStoragePool, flags: int) -> str:  # noqa: N802
        check_flags("testStoragePoolGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._pool_by_name(pool.name()).def_.to_xml()

    def storagePoolIsActive(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return int(self._pool_by_uuid(pool.UUIDString()).active)

    def storagePoolIsPersistent(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return int(self._pool_by_uuid(pool.UUIDString()).persistent)

    def storagePoolGetAutostart(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_by_name(pool.name())
            return int(obj.persistent and obj.autostart)

    def storagePoolSetAutostart(self, pool: virStoragePool, autostart: int) -> int:  # noqa: N802
        with self.lock:
            obj = self._pool_by_name(pool.name())
            if not obj.persistent:
                raise_error(c.VIR_ERR_INVALID_ARG, "pool has no config file",
                            domain=self.error_domain)
            obj.autostart = bool(autostart)
            return 0

    # ---- source discovery ---------------------------------------------------------------

    def connectFindStoragePoolSources(  # noqa: N802
        self, conn: virConnect, type: str, srcSpec: str | None, flags: int,  # noqa: A002, N803
    ) -> str:
        from pyvirt.conf.storage import POOL_TYPES, PoolSource

        check_flags("testConnectFindStoragePoolSources", flags, 0, self.error_domain)
        if type == "dir":
            # libvirt tests the enum value for zero, which is 'dir'
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unknown storage pool type {type}",
                        domain=self.error_domain)
        source = None
        if srcSpec and type in POOL_TYPES:
            source = PoolSource.from_element(x.parse_xml(srcSpec, root="source",
                                                         url="(storage_source_specification)"),
                                             type)
        sources = x.element("sources")
        if type == "logical":
            for dev, name in (("/dev/sda20", "testvg1"), ("/dev/sda21", "testvg2")):
                src = x.sub(sources, "source")
                x.sub(src, "device", path=dev)
                x.sub(src, "name", name)
                x.sub(src, "format", type="lvm2")
        elif type == "netfs":
            if source is None or not source.hosts or not source.hosts[0].name:
                raise_error(c.VIR_ERR_INVALID_ARG, "hostname must be specified for netfs sources",
                            domain=self.error_domain)
            assert source is not None
            src = x.sub(sources, "source")
            x.sub(src, "host", name=source.hosts[0].name)
            x.sub(src, "dir", path="/testshare")
            x.sub(src, "format", type="nfs")
        else:
            raise_error(c.VIR_ERR_NO_SUPPORT,
                        f"pool type '{type}' does not support source discovery",
                        domain=self.error_domain)
        return x.to_string(sources)

    # ---- volumes ------------------------------------------------------------------------

    def _vol_by_name(self, obj: PoolObj, name: str) -> VolumeDef:
        vol = obj.volumes.get(name)
        if vol is None:
            raise_error(c.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching name '{name}'",
                        domain=self.error_domain)
        return vol

    def _vol_handle(self, conn: virConnect, obj: PoolObj, vol: VolumeDef) -> virStorageVol:
        return conn._make_storage_vol(obj.def_.name, vol.name, vol.key or "")

    def storagePoolNumOfVolumes(self, pool: virStoragePool) -> int:  # noqa: N802
        with self.lock:
            return len(self._pool_active(pool.name()).volumes)

    def storagePoolListVolumes(self, pool: virStoragePool) -> list[str]:  # noqa: N802
        with self.lock:
            return list(self._pool_active(pool.name()).volumes)

    def storagePoolListAllVolumes(  # noqa: N802
        self, pool: virStoragePool, flags: int
    ) -> list[virStorageVol]:
        check_flags("testStoragePoolListAllVolumes", flags, 0, self.error_domain)
        with self.lock:
            obj = self._pool_by_uuid(pool.UUIDString())
            if not obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID, "storage pool is not active",
                            domain=self.error_domain)
            conn = pool.connect()
            return [self._vol_handle(conn, obj, v) for v in obj.volumes.values()]

    def storageVolLookupByName(self, pool: virStoragePool, name: str) -> virStorageVol:  # noqa: N802
        with self.lock:
            obj = self._pool_active(pool.name())
            return self._vol_handle(pool.connect(), obj, self._vol_by_name(obj, name))

    def _vol_search(self, conn: virConnect, attr: str, value: str) -> virStorageVol:
        with self.lock:
            for obj in self._pools.values():
                if not obj.active:
                    continue
                for vol in obj.volumes.values():
                    found = vol.key if attr == "key" else vol.target.path
                    if found == value:
                        return self._vol_handle(conn, obj, vol)
        raise_error(c.VIR_ERR_NO_STORAGE_VOL, f"no storage vol with matching {attr} '{value}'",
                    domain=self.error_domain)

    def storageVolLookupByKey(self, conn: virConnect, key: str) -> virStorageVol:  # noqa: N802
        return self._vol_search(conn, "key", key)

    def storageVolLookupByPath(self, conn: virConnect, path: str) -> virStorageVol:  # noqa: N802
        return self._vol_search(conn, "path", path)

    def _new_volume(self, obj: PoolObj, xml: str, flags: int) -> VolumeDef:
        from pyvirt.conf.storage import VolumeDef

        vol = VolumeDef.from_xml(xml, pool=obj.def_,
                                 validate_schema=bool(flags & c.VIR_STORAGE_VOL_CREATE_VALIDATE))
        if vol.name in obj.volumes:
            raise_error(c.VIR_ERR_OPERATION_FAILED, "storage vol already exists",
                        domain=self.error_domain)
        return vol

    def _add_volume(self, obj: PoolObj, vol: VolumeDef) -> None:
        pooldef = obj.def_
        if pooldef.allocation + vol.allocation > pooldef.capacity:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"Not enough free space in pool for volume '{vol.name}'",
                        domain=self.error_domain)
        vol.target.path = f"{pooldef.target.path}/{vol.name}"
        vol.key = vol.target.path
        obj.volumes[vol.name] = vol
        pooldef.allocation += vol.allocation
        pooldef.available = pooldef.capacity - pooldef.allocation

    def storageVolCreateXML(  # noqa: N802
        self, pool: virStoragePool, xml: str, flags: int
    ) -> virStorageVol:
        check_flags("testStorageVolCreateXML", flags, c.VIR_STORAGE_VOL_CREATE_VALIDATE,
                    self.error_domain)
        with self.lock:
            obj = self._pool_active(pool.name())
            vol = self._new_volume(obj, xml, flags)
            self._add_volume(obj, vol)
            return self._vol_handle(pool.connect(), obj, vol)

    def storageVolCreateXMLFrom(  # noqa: N802
        self, pool: virStoragePool, xml: str, clonevol: virStorageVol, flags: int
    ) -> virStorageVol:
        check_flags("testStorageVolCreateXMLFrom", flags, c.VIR_STORAGE_VOL_CREATE_VALIDATE,
                    self.error_domain)
        with self.lock:
            obj = self._pool_active(pool.name())
            vol = self._new_volume(obj, xml, flags)
            # the source is looked up by name in the target pool, as libvirt's test driver
            self._vol_by_name(obj, clonevol.name())
            self._add_volume(obj, vol)
            return self._vol_handle(pool.connect(), obj, vol)

    def storageVolDelete(self, vol: virStorageVol, flags: int) -> int:  # noqa: N802
        check_flags("testStorageVolDelete", flags, 0, self.error_domain)
        with self.lock:
            obj = self._pool_active(vol._pool)
            voldef = self._vol_by_name(obj, vol.name())
            obj.def_.allocation -= voldef.allocation
            obj.def_.available = obj.def_.capacity - obj.def_.allocation
            del obj.volumes[voldef.name]
            return 0

    def storageVolGetInfo(self, vol: virStorageVol) -> list[int]:  # noqa: N802
        with self.lock:
            obj = self._pool_active(vol._pool)
            voldef = self._vol_by_name(obj, vol.name())
            return [_VOL_TYPE_FOR_POOL[obj.def_.type], voldef.capacity, voldef.allocation]

    def storageVolGetXMLDesc(self, vol: virStorageVol, flags: int) -> str:  # noqa: N802
        check_flags("testStorageVolGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            obj = self._pool_active(vol._pool)
            return self._vol_by_name(obj, vol.name()).to_xml(pool=obj.def_)

    def storageVolGetPath(self, vol: virStorageVol) -> str:  # noqa: N802
        with self.lock:
            obj = self._pool_active(vol._pool)
            return self._vol_by_name(obj, vol.name()).target.path or ""

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
