"""virNWFilter and virNWFilterBinding: network filters, and the connection methods for them."""

from __future__ import annotations

from pyvirt.api._common import (
    NamedHandle,
    api_boundary,
    check_writable,
    uuid_from_bytes,
    uuid_from_string,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virNWFilter(NamedHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a network filter."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.nwfilterGetXMLDesc(self, flags)

    def undefine(self) -> Any:
        check_writable(self._conn, "virNWFilterUndefine")
        return self._conn._drv.nwfilterUndefine(self)


@api_boundary
class virNWFilterBinding:  # noqa: N801 - libvirt-python's name
    """Handle of a filter bound to a port."""

    __slots__ = (
        "_conn",
        "_portdev",
        "_filtername",
    )

    def __init__(self, conn: virConnect, portdev: str, filtername: str) -> None:
        self._conn = conn
        self._portdev = portdev
        self._filtername = filtername

    def connect(self) -> virConnect:
        return self._conn

    def portDev(self) -> str:  # noqa: N802
        return self._portdev

    def filterName(self) -> str:  # noqa: N802
        return self._filtername

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.nwfilterBindingGetXMLDesc(self, flags)

    def delete(self) -> Any:
        check_writable(self._conn, "virNWFilterBindingDelete")
        return self._conn._drv.nwfilterBindingDelete(self)


class NWFilterConnectMixin:
    """virConnect's nwfilter methods."""

    _drv: Any
    _readonly: bool

    def listNWFilters(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfNWFilters(self):
            return []
        return self._drv.connectListNWFilters(self)

    def numOfNWFilters(self) -> Any:
        return self._drv.connectNumOfNWFilters(self)

    def nwfilterBindingCreateXML(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virNWFilterBindingCreateXML")
        return self._drv.nwfilterBindingCreateXML(self, xml, flags)

    def nwfilterBindingLookupByPortDev(self, portdev: str) -> Any:
        return self._drv.nwfilterBindingLookupByPortDev(self, portdev)

    def nwfilterDefineXML(self, xmlDesc: str) -> Any:
        check_writable(self, "virNWFilterDefineXML")
        return self._drv.nwfilterDefineXML(self, xmlDesc)

    def nwfilterDefineXMLFlags(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virNWFilterDefineXMLFlags")
        return self._drv.nwfilterDefineXMLFlags(self, xmlDesc, flags)

    def nwfilterLookupByName(self, name: str) -> Any:
        return self._drv.nwfilterLookupByName(self, name)

    def nwfilterLookupByUUID(self, uuid: bytes) -> Any:
        return self._drv.nwfilterLookupByUUID(
            self, uuid_from_bytes("virNWFilterLookupByUUID", uuid)
        )

    def nwfilterLookupByUUIDString(self, uuidstr: str) -> Any:
        return self._drv.nwfilterLookupByUUID(
            self, uuid_from_string("virNWFilterLookupByUUIDString", uuidstr)
        )

    def listAllNWFilters(self, flags: int = 0) -> Any:
        return self._drv.connectListAllNWFilters(self, flags)

    def listAllNWFilterBindings(self, flags: int = 0) -> Any:
        return self._drv.connectListAllNWFilterBindings(self, flags)
