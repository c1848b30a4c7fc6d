"""virInterface: host network interfaces, and the connection methods for them."""

from __future__ import annotations

from pyvirt.api._common import api_boundary, check_writable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virInterface:  # noqa: N801 - libvirt-python's name
    """Handle of a host interface."""

    __slots__ = (
        "_conn",
        "_name",
        "_mac",
    )

    def __init__(self, conn: virConnect, name: str, mac: str) -> None:
        self._conn = conn
        self._name = name
        self._mac = mac

    def connect(self) -> virConnect:
        return self._conn

    def name(self) -> str:
        return self._name

    def MACString(self) -> str:  # noqa: N802
        return self._mac

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.interfaceGetXMLDesc(self, flags)

    def create(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virInterfaceCreate")
        return self._conn._drv.interfaceCreate(self, flags)

    def destroy(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virInterfaceDestroy")
        return self._conn._drv.interfaceDestroy(self, flags)

    def isActive(self) -> Any:
        return self._conn._drv.interfaceIsActive(self)

    def undefine(self) -> Any:
        check_writable(self._conn, "virInterfaceUndefine")
        return self._conn._drv.interfaceUndefine(self)


class InterfaceConnectMixin:
    """virConnect's interface methods."""

    _drv: Any
    _readonly: bool

    def changeBegin(self, flags: int = 0) -> Any:
        check_writable(self, "virInterfaceChangeBegin")
        return self._drv.interfaceChangeBegin(self, flags)

    def changeCommit(self, flags: int = 0) -> Any:
        check_writable(self, "virInterfaceChangeCommit")
        return self._drv.interfaceChangeCommit(self, flags)

    def changeRollback(self, flags: int = 0) -> Any:
        check_writable(self, "virInterfaceChangeRollback")
        return self._drv.interfaceChangeRollback(self, flags)

    def interfaceDefineXML(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virInterfaceDefineXML")
        return self._drv.interfaceDefineXML(self, xml, flags)

    def interfaceLookupByMACString(self, macstr: str) -> Any:
        return self._drv.interfaceLookupByMACString(self, macstr)

    def interfaceLookupByName(self, name: str) -> Any:
        return self._drv.interfaceLookupByName(self, name)

    def listDefinedInterfaces(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfDefinedInterfaces(self):
            return []
        return self._drv.connectListDefinedInterfaces(self)

    def listInterfaces(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfInterfaces(self):
            return []
        return self._drv.connectListInterfaces(self)

    def numOfDefinedInterfaces(self) -> Any:
        return self._drv.connectNumOfDefinedInterfaces(self)

    def numOfInterfaces(self) -> Any:
        return self._drv.connectNumOfInterfaces(self)

    def listAllInterfaces(self, flags: int = 0) -> Any:
        return self._drv.connectListAllInterfaces(self, flags)
