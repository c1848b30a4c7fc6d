"""virDomainSnapshot: a snapshot of a domain."""

from __future__ import annotations

from pyvirt.api._common import DomainChildHandle, api_boundary, check_writable
from pyvirt.api.flag_rules import check_flag_rules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    pass


@api_boundary
class virDomainSnapshot(DomainChildHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a domain snapshot."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def delete(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSnapshotDelete")
        check_flag_rules("virDomainSnapshotDelete", flags)
        return self._conn._drv.domainSnapshotDelete(self, flags)

    def getParent(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotGetParent(self, flags)

    def getXMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotGetXMLDesc(self, flags)

    def hasMetadata(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotHasMetadata(self, flags)

    def isCurrent(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotIsCurrent(self, flags)

    def listChildrenNames(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotListChildrenNames(self, flags)

    def numChildren(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotNumChildren(self, flags)

    def listAllChildren(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotListAllChildren(self, flags)
