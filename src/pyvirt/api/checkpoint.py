"""virDomainCheckpoint: a checkpoint of a domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt import constants as c
from pyvirt.api._common import DomainChildHandle, api_boundary, check_writable, invalid_arg
from pyvirt.errors import raise_error

if TYPE_CHECKING:
    pass


def check_create_flags(flags: int) -> None:
    """virDomainCheckpointCreateXML's flag checks, made before any driver sees the call."""
    _exclusive(
        "virDomainCheckpointCreateXML",
        flags,
        ("VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE", c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE),
        ("VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE", c.VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE),
    )
    if (
        flags & c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE
        and not flags & c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
    ):
        invalid_arg(
            "virDomainCheckpointCreateXML",
            "Flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' is required by flag "
            "'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE'",
            "ctl",
        )


def check_delete_flags(flags: int) -> None:
    """virDomainCheckpointDelete's flag checks."""
    _exclusive(
        "virDomainCheckpointDelete",
        flags,
        ("VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN", c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN),
        (
            "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY",
            c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY,
        ),
    )


def _exclusive(api: str, flags: int, first: tuple[str, int], second: tuple[str, int]) -> None:
    """VIR_EXCLUSIVE_FLAGS_GOTO (libvirt names the argument "ctl" there)."""
    if flags & first[1] and flags & second[1]:
        invalid_arg(api, f"Flags '{first[0]}' and '{second[0]}' are mutually exclusive", "ctl")


@api_boundary
class virDomainCheckpoint(DomainChildHandle):  # noqa: N801 - libvirt-python's name
    """Handle of a domain checkpoint."""

    __slots__ = ()

    # ---- the rest goes to the driver ----------------------------------------------------

    def delete(self, flags: int = 0) -> int:
        check_writable(self._conn, "virDomainCheckpointDelete")
        check_delete_flags(flags)
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
