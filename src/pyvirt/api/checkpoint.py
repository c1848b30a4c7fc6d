"""virDomainCheckpoint: a checkpoint of a domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt import constants as c
from pyvirt.api._common import api_boundary, check_writable, invalid_arg
from pyvirt.errors import raise_error

if TYPE_CHECKING:
    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain


def check_create_flags(flags: int) -> None:
    """virDomainCheckpointCreateXML's flag checks, made before any driver sees the call."""
    _exclusive("virDomainCheckpointCreateXML", flags,
               ("VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE", c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE),
               ("VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE", c.VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE))
    if (flags & c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE
            and not flags & c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE):
        invalid_arg("virDomainCheckpointCreateXML",
                    "Flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' is required by flag "
                    "'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE'", "ctl")


def check_delete_flags(flags: int) -> None:
    """virDomainCheckpointDelete's flag checks."""
    _exclusive("virDomainCheckpointDelete", flags,
               ("VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN", c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN),
               ("VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY",
                c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY))


def _exclusive(api: str, flags: int, first: tuple[str, int], second: tuple[str, int]) -> None:
    """VIR_EXCLUSIVE_FLAGS_GOTO (libvirt names the argument "ctl" there)."""
    if flags & first[1] and flags & second[1]:
        invalid_arg(api, f"Flags '{first[0]}' and '{second[0]}' are mutually exclusive", "ctl")


@api_boundary
class virDomainCheckpoint:  # noqa: N801 - libvirt-python's name
    """Handle of a domain checkpoint."""

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

    def delete(self, flags: int = 0) -> int:
        check_writable(self._conn, "virDomainCheckpointDelete")
        check_delete_flags(flags)
        return self._conn._drv.domainCheckpointDelete(self, flags)  # type: ignore[no-any-return]

    def getParent(self, flags: int = 0) -> virDomainCheckpoint:  # noqa: N802
        return self._conn._drv.domainCheckpointGetParent(self, flags)  # type: ignore[no-any-return]

    def getXMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        if self._conn._readonly and flags & c.VIR_DOMAIN_CHECKPOINT_XML_SECURE:
            raise_error(c.VIR_ERR_OPERATION_DENIED,
                        "virDomainCheckpointGetXMLDesc with secure flag",
                        domain=c.VIR_FROM_DOMAIN_CHECKPOINT)
        return self._conn._drv.domainCheckpointGetXMLDesc(self, flags)  # type: ignore[no-any-return]

    def listAllChildren(self, flags: int = 0) -> list[virDomainCheckpoint]:  # noqa: N802
        return list(self._conn._drv.domainCheckpointListAllChildren(self, flags))
