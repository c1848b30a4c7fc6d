"""virSecret: secrets, and the connection methods for them."""

from __future__ import annotations

from pyvirt.api._common import api_boundary, check_writable, uuid_from_bytes, uuid_from_string
from pyvirt.errors import libvirtError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virSecret:  # noqa: N801 - libvirt-python's name
    """Handle of a secret."""

    __slots__ = (
        "_conn",
        "_uuid",
        "_usage_type",
        "_usage_id",
    )

    def __init__(self, conn: virConnect, uuid: str, usage_type: int, usage_id: str) -> None:
        self._conn = conn
        self._uuid = uuid
        self._usage_type = usage_type
        self._usage_id = usage_id

    def connect(self) -> virConnect:
        return self._conn

    def usageType(self) -> int:  # noqa: N802
        return self._usage_type

    def usageID(self) -> str:  # noqa: N802
        return self._usage_id

    def UUID(self) -> bytes:  # noqa: N802
        return bytes.fromhex(self._uuid.replace("-", ""))  # uuid.UUID(...).bytes

    def UUIDString(self) -> str:  # noqa: N802
        return self._uuid

    # ---- the rest goes to the driver ----------------------------------------------------

    def XMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.secretGetXMLDesc(self, flags)

    def setValue(self, value: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virSecretSetValue")
        return self._conn._drv.secretSetValue(self, value, flags)

    def undefine(self) -> Any:
        check_writable(self._conn, "virSecretUndefine")
        return self._conn._drv.secretUndefine(self)

    def value(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virSecretGetValue")
        return self._conn._drv.secretGetValue(self, flags)


class SecretConnectMixin:
    """virConnect's secret methods."""

    _drv: Any
    _readonly: bool

    def listSecrets(self) -> Any:
        # libvirt-python counts first: its errors come from the count call
        if not self._drv.connectNumOfSecrets(self):
            return []
        return self._drv.connectListSecrets(self)

    def numOfSecrets(self) -> Any:
        return self._drv.connectNumOfSecrets(self)

    def secretDefineXML(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virSecretDefineXML")
        return self._drv.secretDefineXML(self, xml, flags)

    def secretLookupByUUID(self, uuid: bytes) -> Any:
        return self._drv.secretLookupByUUID(self, uuid_from_bytes("virSecretLookupByUUID", uuid))

    def secretLookupByUUIDString(self, uuidstr: str) -> Any:
        return self._drv.secretLookupByUUID(
            self, uuid_from_string("virSecretLookupByUUIDString", uuidstr)
        )

    def secretLookupByUsage(self, usageType: int, usageID: str) -> Any:
        return self._drv.secretLookupByUsage(self, usageType, usageID)

    def secretEventDeregisterAny(self, callbackID) -> None:
        self._drv.connectSecretEventDeregisterAny(self, callbackID)

    def secretEventRegisterAny(self, secret: Any, eventID: int, cb: Any, opaque: Any) -> Any:
        # libvirt-python has no callback for an unknown ID and fails before the call
        if not 0 <= eventID < 2:
            raise libvirtError("virConnectSecretEventRegisterAny() failed")
        return self._drv.connectSecretEventRegisterAny(self, secret, eventID, cb, opaque)

    def listAllSecrets(self, flags: int = 0) -> Any:
        return self._drv.connectListAllSecrets(self, flags)
