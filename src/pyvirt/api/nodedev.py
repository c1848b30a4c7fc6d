"""virNodeDevice: host devices, and the connection methods for them."""

from __future__ import annotations

from pyvirt.api._common import api_boundary, check_writable
from pyvirt.errors import libvirtError, report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virNodeDevice:  # noqa: N801 - libvirt-python's name
    """Handle of a host device."""

    __slots__ = (
        "_conn",
        "_name",
    )

    def __init__(self, conn: virConnect, name: str) -> None:
        self._conn = conn
        self._name = name

    def connect(self) -> virConnect:
        return self._conn

    def name(self) -> str:
        return self._name

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.nodeDeviceGetXMLDesc(self, flags)

    def autostart(self) -> Any:
        check_writable(self._conn, "virNodeDeviceGetAutostart")
        return self._conn._drv.nodeDeviceGetAutostart(self)

    def create(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virNodeDeviceCreate")
        return self._conn._drv.nodeDeviceCreate(self, flags)

    def destroy(self) -> Any:
        check_writable(self._conn, "virNodeDeviceDestroy")
        return self._conn._drv.nodeDeviceDestroy(self)

    def detachFlags(self, driverName: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virNodeDeviceDetachFlags")
        return self._conn._drv.nodeDeviceDetachFlags(self, driverName, flags)

    def dettach(self) -> Any:
        check_writable(self._conn, "virNodeDeviceDettach")
        return self._conn._drv.nodeDeviceDettach(self)

    def isActive(self) -> Any:
        return self._conn._drv.nodeDeviceIsActive(self)

    def isPersistent(self) -> Any:
        return self._conn._drv.nodeDeviceIsPersistent(self)

    def listCaps(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._conn._drv.nodeDeviceNumOfCaps(self):
            return []
        return self._conn._drv.nodeDeviceListCaps(self)

    def numOfCaps(self) -> Any:
        return self._conn._drv.nodeDeviceNumOfCaps(self)

    def parent(self) -> Any:
        # libvirt-python returns None (no exception) when virNodeDeviceGetParent fails;
        # the error still goes to the error handler and the thread's last error.
        try:
            return self._conn._drv.nodeDeviceGetParent(self)
        except libvirtError as exc:
            report(exc)
            return None

    def reAttach(self) -> Any:
        check_writable(self._conn, "virNodeDeviceReAttach")
        return self._conn._drv.nodeDeviceReAttach(self)

    def reset(self) -> Any:
        check_writable(self._conn, "virNodeDeviceReset")
        return self._conn._drv.nodeDeviceReset(self)

    def setAutostart(self, autostart: int) -> Any:
        check_writable(self._conn, "virNodeDeviceSetAutostart")
        return self._conn._drv.nodeDeviceSetAutostart(self, autostart)

    def undefine(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virNodeDeviceUndefine")
        return self._conn._drv.nodeDeviceUndefine(self, flags)


class NodeDeviceConnectMixin:
    """virConnect's nodedev methods."""

    _drv: Any
    _readonly: bool

    def listDevices(self, cap: int, flags: int = 0) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.nodeNumOfDevices(self, cap, flags):
            return []
        return self._drv.nodeListDevices(self, cap, flags)

    def nodeDeviceCreateXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virNodeDeviceCreateXML")
        return self._drv.nodeDeviceCreateXML(self, xmlDesc, flags)

    def nodeDeviceDefineXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virNodeDeviceDefineXML")
        return self._drv.nodeDeviceDefineXML(self, xmlDesc, flags)

    def nodeDeviceLookupByName(self, name: str) -> Any:
        return self._drv.nodeDeviceLookupByName(self, name)

    def nodeDeviceLookupSCSIHostByWWN(self, wwnn: str, wwpn: str, flags: int = 0) -> Any:
        return self._drv.nodeDeviceLookupSCSIHostByWWN(self, wwnn, wwpn, flags)

    def numOfDevices(self, cap: int, flags: int = 0) -> Any:
        return self._drv.nodeNumOfDevices(self, cap, flags)

    def nodeDeviceEventDeregisterAny(self, callbackID) -> None:
        self._drv.connectNodeDeviceEventDeregisterAny(self, callbackID)

    def nodeDeviceEventRegisterAny(self, dev: str, eventID: int, cb: Any, opaque: Any) -> Any:
        # libvirt-python has no callback for an unknown ID and fails before the call
        if not 0 <= eventID < 2:
            raise libvirtError("virConnectNodeDeviceEventRegisterAny() failed")
        return self._drv.connectNodeDeviceEventRegisterAny(self, dev, eventID, cb, opaque)

    def listAllDevices(self, flags: int = 0) -> Any:
        return self._drv.connectListAllNodeDevices(self, flags)
