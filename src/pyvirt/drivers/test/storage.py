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
from pyvirt.drivers.poolobj import VOL_TYPE_FOR_POOL, PoolObj, PoolTable
from pyvirt.drivers.test.networks import resolve_file_ref
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os

    from pyvirt.api.connect import virConnect
    from pyvirt.api.storage import virStoragePool, virStorageVol
    from pyvirt.conf.storage import PoolDef, VolumeDef

DEFAULT_POOL_CAPACITY = 100 * 1024 * 1024 * 1024
DEFAULT_POOL_ALLOCATION = 0


class TestStorage(PoolTable):
    """Mixin of TestDriver: libvirt's virStorageDriver for test:///."""

    _fn_prefix = "test"

    def _pool_defaults(self, pooldef: PoolDef) -> None:
        # testStoragePoolObjSetDefaults: every pool gets the same fake size
        pooldef.capacity = DEFAULT_POOL_CAPACITY
        pooldef.allocation = DEFAULT_POOL_ALLOCATION
        pooldef.available = DEFAULT_POOL_CAPACITY - DEFAULT_POOL_ALLOCATION

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

    def _pool_active(self, name: str) -> PoolObj:
        return self._require_active(self._pool_by_name(name))

    def _pool_inactive(self, name: str) -> PoolObj:
        obj = self._pool_by_name(name)
        if obj.active:
            raise_error(c.VIR_ERR_OPERATION_INVALID, f"storage pool '{name}' is active",
                        domain=self.error_domain)
        return obj

    # ---- define / create / undefine -----------------------------------------------------

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
            self._refresh_event(pool.name(), pool.UUIDString())
            return 0

    # ---- pool state and description -----------------------------------------------------

    def storagePoolGetXMLDesc(self, pool: virStoragePool, flags: int) -> str:  # noqa: N802
        check_flags("testStoragePoolGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._pool_by_name(pool.name()).def_.to_xml()

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

    def storageVolLookupByKey(self, conn: virConnect, key: str) -> virStorageVol:  # noqa: N802
        return self._vol_search(conn, "key", key, f"no storage vol with matching key '{key}'")

    def storageVolLookupByPath(self, conn: virConnect, path: str) -> virStorageVol:  # noqa: N802
        return self._vol_search(conn, "path", path,
                                f"no storage vol with matching path '{path}'")

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
            return [VOL_TYPE_FOR_POOL[obj.def_.type], voldef.capacity, voldef.allocation]

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
