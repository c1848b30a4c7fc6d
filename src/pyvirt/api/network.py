"""virNetwork and virNetworkPort: virtual networks, and the connection methods for them."""

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
class virNetwork(NamedHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a virtual network."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def DHCPLeases(self, mac: str | None = None, flags: int = 0) -> Any:
        return self._conn._drv.networkGetDHCPLeases(self, mac, flags)

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.networkGetXMLDesc(self, flags)

    def autostart(self) -> Any:
        return self._conn._drv.networkGetAutostart(self)

    def bridgeName(self) -> Any:
        return self._conn._drv.networkGetBridgeName(self)

    def create(self) -> Any:
        check_writable(self._conn, "virNetworkCreate")
        return self._conn._drv.networkCreate(self)

    def destroy(self) -> Any:
        check_writable(self._conn, "virNetworkDestroy")
        return self._conn._drv.networkDestroy(self)

    def isActive(self) -> Any:
        return self._conn._drv.networkIsActive(self)

    def isPersistent(self) -> Any:
        return self._conn._drv.networkIsPersistent(self)

    def portCreateXML(self, xmldesc: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virNetworkPortCreateXML")
        return self._conn._drv.networkPortCreateXML(self, xmldesc, flags)

    def portLookupByUUID(self, uuid: bytes) -> Any:
        return self._conn._drv.networkPortLookupByUUID(
            self, uuid_from_bytes("virNetworkPortLookupByUUID", uuid)
        )

    def portLookupByUUIDString(self, uuidstr: str) -> Any:
        return self._conn._drv.networkPortLookupByUUID(
            self, uuid_from_string("virNetworkPortLookupByUUIDString", uuidstr)
        )

    def setAutostart(self, autostart: int) -> Any:
        check_writable(self._conn, "virNetworkSetAutostart")
        return self._conn._drv.networkSetAutostart(self, autostart)

    def undefine(self) -> Any:
        check_writable(self._conn, "virNetworkUndefine")
        return self._conn._drv.networkUndefine(self)

    def update(self, command: int, section: int, parentIndex: int, xml: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virNetworkUpdate")
        return self._conn._drv.networkUpdate(self, command, section, parentIndex, xml, flags)

    def listAllPorts(self, flags: int = 0) -> Any:
        return self._conn._drv.networkListAllPorts(self, flags)


@api_boundary
class virNetworkPort:  # noqa: N801 - libvirt-python's name
    """Handle of a port on a virtual network."""

    __slots__ = (
        "_net",
        "_conn",
        "_uuid",
    )

    def __init__(self, net: virNetwork, uuid: str) -> None:
        self._net = net
        self._conn = net._conn
        self._uuid = uuid

    def network(self) -> virNetwork:
        return self._net

    def connect(self) -> virConnect:
        return self._conn

    def UUID(self) -> bytes:  # noqa: N802
        return bytes.fromhex(self._uuid.replace("-", ""))  # uuid.UUID(...).bytes

    def UUIDString(self) -> str:  # noqa: N802
        return self._uuid

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.networkPortGetXMLDesc(self, flags)

    def delete(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virNetworkPortDelete")
        return self._conn._drv.networkPortDelete(self, flags)

    def parameters(self, flags: int = 0) -> Any:
        return self._conn._drv.networkPortGetParameters(self, flags)

    def setParameters(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virNetworkPortSetParameters")
        return self._conn._drv.networkPortSetParameters(self, params, flags)


class NetworkConnectMixin:
    """virConnect's network methods."""

    _drv: Any
    _readonly: bool

    def listDefinedNetworks(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfDefinedNetworks(self):
            return []
        return self._drv.connectListDefinedNetworks(self)

    def listNetworks(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfNetworks(self):
            return []
        return self._drv.connectListNetworks(self)

    def networkCreateXML(self, xmlDesc: str) -> Any:
        check_writable(self, "virNetworkCreateXML")
        return self._drv.networkCreateXML(self, xmlDesc)

    def networkCreateXMLFlags(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virNetworkCreateXMLFlags")
        return self._drv.networkCreateXMLFlags(self, xmlDesc, flags)

    def networkDefineXML(self, xml: str) -> Any:
        check_writable(self, "virNetworkDefineXML")
        return self._drv.networkDefineXML(self, xml)

    def networkDefineXMLFlags(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virNetworkDefineXMLFlags")
        return self._drv.networkDefineXMLFlags(self, xml, flags)

    def networkLookupByName(self, name: str) -> Any:
        return self._drv.networkLookupByName(self, name)

    def networkLookupByUUID(self, uuid: bytes) -> Any:
        return self._drv.networkLookupByUUID(self, uuid_from_bytes("virNetworkLookupByUUID", uuid))

    def networkLookupByUUIDString(self, uuidstr: str) -> Any:
        return self._drv.networkLookupByUUID(
            self, uuid_from_string("virNetworkLookupByUUIDString", uuidstr)
        )

    def numOfDefinedNetworks(self) -> Any:
        return self._drv.connectNumOfDefinedNetworks(self)

    def numOfNetworks(self) -> Any:
        return self._drv.connectNumOfNetworks(self)

    def networkEventDeregisterAny(self, callbackID) -> None:
        self._drv.connectNetworkEventDeregisterAny(self, callbackID)

    def networkEventRegisterAny(self, net: Any, eventID: int, cb: Any, opaque: Any) -> Any:
        # libvirt-python has no callback for an unknown ID and fails before the call
        if not 0 <= eventID < 1:
            raise libvirtError("virConnectNetworkEventRegisterAny() failed")
        return self._drv.connectNetworkEventRegisterAny(self, net, eventID, cb, opaque)

    def listAllNetworks(self, flags: int = 0) -> Any:
        return self._drv.connectListAllNetworks(self, flags)
