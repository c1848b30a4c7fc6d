"""virDomainSnapshot: a snapshot of a domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.api._common import api_boundary, check_writable

if TYPE_CHECKING:
    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain


@api_boundary
class virDomainSnapshot:  # noqa: N801 - libvirt-python's name
    """Handle of a domain snapshot."""

    __slots__ = (
        "_dom",
        "_conn",
        "_name",
    )

    def __init__(self, dom: virDomain, name: str) -> None:
        self._dom = dom
        self._conn = dom._conn
        self._name = name

    def domain(self) -> virDomain:
        return self._dom

    def getDomain(self) -> virDomain:  # noqa: N802
        return self._dom

    def connect(self) -> virConnect:
        return self._conn

    def getConnect(self) -> virConnect:  # noqa: N802
        return self._conn

    def getName(self) -> str:  # noqa: N802
        return self._name

    # ---- the rest goes to the driver ----------------------------------------------------

    def delete(self, flags=0) -> Any:
        check_writable(self._conn, "virDomainSnapshotDelete")
        return self._conn._drv.domainSnapshotDelete(self, flags)

    def getParent(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotGetParent(self, flags)

    def getXMLDesc(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotGetXMLDesc(self, flags)

    def hasMetadata(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotHasMetadata(self, flags)

    def isCurrent(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotIsCurrent(self, flags)

    def listChildrenNames(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotListChildrenNames(self, flags)

    def numChildren(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotNumChildren(self, flags)

    def listAllChildren(self, flags=0) -> Any:
        return self._conn._drv.domainSnapshotListAllChildren(self, flags)
