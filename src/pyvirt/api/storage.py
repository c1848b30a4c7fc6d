"""virStoragePool and virStorageVol: storage, and the connection methods for it."""

from __future__ import annotations

from pyvirt.api._common import (
    NamedHandle,
    api_boundary,
    check_writable,
    uuid_from_bytes,
    uuid_from_string,
)
from pyvirt.errors import libvirtError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virStoragePool(NamedHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a storage pool."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.storagePoolGetXMLDesc(self, flags)

    def autostart(self) -> Any:
        return self._conn._drv.storagePoolGetAutostart(self)

    def build(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStoragePoolBuild")
        return self._conn._drv.storagePoolBuild(self, flags)

    def create(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStoragePoolCreate")
        return self._conn._drv.storagePoolCreate(self, flags)

    def createXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolCreateXML")
        return self._conn._drv.storageVolCreateXML(self, xmlDesc, flags)

    def createXMLFrom(self, xmlDesc: str, clonevol: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolCreateXMLFrom")
        return self._conn._drv.storageVolCreateXMLFrom(self, xmlDesc, clonevol, flags)

    def delete(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStoragePoolDelete")
        return self._conn._drv.storagePoolDelete(self, flags)

    def destroy(self) -> Any:
        check_writable(self._conn, "virStoragePoolDestroy")
        return self._conn._drv.storagePoolDestroy(self)

    def info(self) -> Any:
        return self._conn._drv.storagePoolGetInfo(self)

    def isActive(self) -> Any:
        return self._conn._drv.storagePoolIsActive(self)

    def isPersistent(self) -> Any:
        return self._conn._drv.storagePoolIsPersistent(self)

    def listVolumes(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._conn._drv.storagePoolNumOfVolumes(self):
            return []
        return self._conn._drv.storagePoolListVolumes(self)

    def numOfVolumes(self) -> Any:
        return self._conn._drv.storagePoolNumOfVolumes(self)

    def refresh(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStoragePoolRefresh")
        return self._conn._drv.storagePoolRefresh(self, flags)

    def setAutostart(self, autostart: int) -> Any:
        check_writable(self._conn, "virStoragePoolSetAutostart")
        return self._conn._drv.storagePoolSetAutostart(self, autostart)

    def storageVolLookupByName(self, name: str) -> Any:
        return self._conn._drv.storageVolLookupByName(self, name)

    def undefine(self) -> Any:
        check_writable(self._conn, "virStoragePoolUndefine")
        return self._conn._drv.storagePoolUndefine(self)

    def listAllVolumes(self, flags: int = 0) -> Any:
        return self._conn._drv.storagePoolListAllVolumes(self, flags)


@api_boundary
class virStorageVol:  # noqa: N801 - libvirt-python's name
    """Handle of a storage volume (its pool is known by name)."""

    __slots__ = (
        "_conn",
        "_pool",
        "_name",
        "_key",
    )

    def __init__(self, conn: virConnect, pool: str, name: str, key: str) -> None:
        self._conn = conn
        self._pool = pool
        self._name = name
        self._key = key

    def connect(self) -> virConnect:
        return self._conn

    def name(self) -> str:
        return self._name

    def key(self) -> str:
        return self._key

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.storageVolGetXMLDesc(self, flags)

    def delete(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolDelete")
        return self._conn._drv.storageVolDelete(self, flags)

    def download(self, stream: Any, offset: int, length: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolDownload")
        return self._conn._drv.storageVolDownload(self, stream, offset, length, flags)

    def info(self) -> Any:
        return self._conn._drv.storageVolGetInfo(self)

    def infoFlags(self, flags: int = 0) -> Any:
        return self._conn._drv.storageVolGetInfoFlags(self, flags)

    def path(self) -> Any:
        return self._conn._drv.storageVolGetPath(self)

    def resize(self, capacity: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolResize")
        return self._conn._drv.storageVolResize(self, capacity, flags)

    def storagePoolLookupByVolume(self) -> Any:
        return self._conn._drv.storagePoolLookupByVolume(self)

    def upload(self, stream: Any, offset: int, length: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolUpload")
        return self._conn._drv.storageVolUpload(self, stream, offset, length, flags)

    def wipe(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolWipe")
        return self._conn._drv.storageVolWipe(self, flags)

    def wipePattern(self, algorithm: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virStorageVolWipePattern")
        return self._conn._drv.storageVolWipePattern(self, algorithm, flags)


class StorageConnectMixin:
    """virConnect's storage methods."""

    _drv: Any
    _readonly: bool

    def findStoragePoolSources(self, type: str, srcSpec: str | None, flags: int = 0) -> Any:
        check_writable(self, "virConnectFindStoragePoolSources")
        return self._drv.connectFindStoragePoolSources(self, type, srcSpec, flags)

    def getStoragePoolCapabilities(self, flags: int = 0) -> Any:
        return self._drv.connectGetStoragePoolCapabilities(self, flags)

    def listDefinedStoragePools(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfDefinedStoragePools(self):
            return []
        return self._drv.connectListDefinedStoragePools(self)

    def listStoragePools(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfStoragePools(self):
            return []
        return self._drv.connectListStoragePools(self)

    def numOfDefinedStoragePools(self) -> Any:
        return self._drv.connectNumOfDefinedStoragePools(self)

    def numOfStoragePools(self) -> Any:
        return self._drv.connectNumOfStoragePools(self)

    def storagePoolCreateXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virStoragePoolCreateXML")
        return self._drv.storagePoolCreateXML(self, xmlDesc, flags)

    def storagePoolDefineXML(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virStoragePoolDefineXML")
        return self._drv.storagePoolDefineXML(self, xml, flags)

    def storagePoolLookupByName(self, name: str) -> Any:
        return self._drv.storagePoolLookupByName(self, name)

    def storagePoolLookupByTargetPath(self, path: str) -> Any:
        return self._drv.storagePoolLookupByTargetPath(self, path)

    def storagePoolLookupByUUID(self, uuid: bytes) -> Any:
        return self._drv.storagePoolLookupByUUID(
            self, uuid_from_bytes("virStoragePoolLookupByUUID", uuid)
        )

    def storagePoolLookupByUUIDString(self, uuidstr: str) -> Any:
        return self._drv.storagePoolLookupByUUID(
            self, uuid_from_string("virStoragePoolLookupByUUIDString", uuidstr)
        )

    def storageVolLookupByKey(self, key: str) -> Any:
        return self._drv.storageVolLookupByKey(self, key)

    def storageVolLookupByPath(self, path: str) -> Any:
        return self._drv.storageVolLookupByPath(self, path)

    def storagePoolEventDeregisterAny(self, callbackID) -> None:
        self._drv.connectStoragePoolEventDeregisterAny(self, callbackID)

    def storagePoolEventRegisterAny(self, pool: Any, eventID: int, cb: Any, opaque: Any) -> Any:
        # libvirt-python has no callback for an unknown ID and fails before the call
        if not 0 <= eventID < 2:
            raise libvirtError("virConnectStoragePoolEventRegisterAny() failed")
        return self._drv.connectStoragePoolEventRegisterAny(self, pool, eventID, cb, opaque)

    def listAllStoragePools(self, flags: int = 0) -> Any:
        return self._drv.connectListAllStoragePools(self, flags)
