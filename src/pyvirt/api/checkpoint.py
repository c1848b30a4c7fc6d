"""virDomainCheckpoint: a checkpoint of a domain."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.api._common import DomainChildHandle, api_boundary, check_writable
from pyvirt.api.flag_rules import check_flag_rules
from pyvirt.errors import raise_error


@api_boundary
class virDomainCheckpoint(DomainChildHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a domain checkpoint."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def delete(self, flags: int = 0) -> int:
        check_writable(self._conn, "virDomainCheckpointDelete")
        check_flag_rules("virDomainCheckpointDelete", flags)
        return self._conn._drv.domainCheckpointDelete(self, flags)  # type: ignore[no-any-return]

    def getParent(self, flags: int = 0) -> virDomainCheckpoint:  # noqa: N802
        return self._conn._drv.domainCheckpointGetParent(self, flags)  # type: ignore[no-any-return]

    def getXMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        if self._conn._readonly and flags & c.VIR_DOMAIN_CHECKPOINT_XML_SECURE:
            raise_error(
                c.VIR_ERR_OPERATION_DENIED,
                "virDomainCheckpointGetXMLDesc with secure flag",
                domain=c.VIR_FROM_DOMAIN_CHECKPOINT,
            )
        return self._conn._drv.domainCheckpointGetXMLDesc(self, flags)  # type: ignore[no-any-return]

    def listAllChildren(self, flags: int = 0) -> list[virDomainCheckpoint]:  # noqa: N802
        return list(self._conn._drv.domainCheckpointListAllChildren(self, flags))
