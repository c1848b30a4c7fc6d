"""Typed, immutable event records, one class per libvirt event ID.

Each record carries the identity of the object it is about (domain: name, uuid, id; network
and storage pool: name, uuid; node device: name; secret: uuid, usage type, usage id) and the
event's payload, with libvirt's numbers. ``callback_args(conn)`` builds the positional
arguments libvirt-python passes to a user callback, between ``conn`` and ``opaque``:
``cb(conn, *event.callback_args(conn), opaque)``. Object handles come from the connection's
``_make_domain`` / ``_make_network`` / ``_make_storage_pool`` / ``_make_node_device`` /
``_make_secret`` factories.

Drivers build records directly (``DomainLifecycleEvent(name, uuid, id, event, detail)``) or
by number (``make_event("domain", event_id, name, uuid, id, *payload)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pyvirt import constants as c
from pyvirt.events import FAMILIES as FAMILIES  # re-exported

Params = tuple[tuple[str, Any], ...]

# class -> names of its payload fields (dataclasses.fields() is slow for the dispatch path)
_PAYLOAD_NAMES: dict[type, tuple[str, ...]] = {}


def _freeze_params(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Params:
    items = params.items() if isinstance(params, Mapping) else params
    return tuple((str(k), v) for k, v in items)


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """Base of all events. ``family`` and ``EVENT_ID`` are fixed per class."""

    family: ClassVar[str] = ""
    EVENT_ID: ClassVar[int] = -1
    # Leading fields that name the object; the rest is payload.
    _IDENT_FIELDS: ClassVar[int] = 0

    @property
    def event_id(self) -> int:
        return self.EVENT_ID

    @property
    def key(self) -> str:
        """What per-object callback filters compare against (libvirt's event key)."""
        raise NotImplementedError

    def handle(self, conn: Any) -> Any:
        """The libvirt-python object handle this event is about, on ``conn``."""
        raise NotImplementedError

    def payload(self) -> tuple[Any, ...]:
        """The payload fields in declaration order (libvirt's callback order)."""
        names = _PAYLOAD_NAMES.get(type(self))
        if names is None:
            names = tuple(f.name for f in dataclasses.fields(self)[self._IDENT_FIELDS:])
            _PAYLOAD_NAMES[type(self)] = names
        return tuple([getattr(self, n) for n in names])

    def payload_args(self) -> tuple[Any, ...]:
        """The payload as libvirt-python passes it (fresh mutable dicts/lists)."""
        return self.payload()

    def callback_args(self, conn: Any) -> tuple[Any, ...]:
        return (self.handle(conn), *self.payload_args())


# ---- domain -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainEvent(ObjectEvent):
    """Base of the domain events: the domain's name, UUID and ID (-1 when inactive)."""

    name: str
    uuid: str
    id: int  # -1 when inactive

    family: ClassVar[str] = "domain"
    _IDENT_FIELDS: ClassVar[int] = 3

    @property
    def key(self) -> str:
        return self.uuid

    def handle(self, conn: Any) -> Any:
        return conn._make_domain(self.name, self.uuid, self.id)


@dataclass(frozen=True, slots=True)
class DomainLifecycleEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_LIFECYCLE event."""

    event: int  # VIR_DOMAIN_EVENT_*
    detail: int  # VIR_DOMAIN_EVENT_<event>_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_LIFECYCLE


@dataclass(frozen=True, slots=True)
class DomainRebootEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_REBOOT event."""

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_REBOOT


@dataclass(frozen=True, slots=True)
class DomainRTCChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_RTC_CHANGE event."""

    utcoffset: int  # seconds

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_RTC_CHANGE


@dataclass(frozen=True, slots=True)
class DomainWatchdogEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_WATCHDOG event."""

    action: int  # VIR_DOMAIN_EVENT_WATCHDOG_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_WATCHDOG


@dataclass(frozen=True, slots=True)
class DomainIOErrorEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_IO_ERROR event."""

    src_path: str
    dev_alias: str
    action: int  # VIR_DOMAIN_EVENT_IO_ERROR_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_IO_ERROR


@dataclass(frozen=True, slots=True)
class GraphicsAddress:
    """One end of a graphics connection, as the graphics event reports it."""

    family: int  # VIR_DOMAIN_EVENT_GRAPHICS_ADDRESS_*
    node: str
    service: str

    def as_dict(self) -> dict[str, Any]:
        return {"family": self.family, "node": self.node, "service": self.service}


@dataclass(frozen=True, slots=True)
class DomainGraphicsEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_GRAPHICS event."""

    phase: int  # VIR_DOMAIN_EVENT_GRAPHICS_*
    local: GraphicsAddress
    remote: GraphicsAddress
    auth_scheme: str
    subject: tuple[tuple[str, str], ...]  # (type, name) identities

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_GRAPHICS

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", tuple((str(t), str(n)) for t, n in self.subject))

    def payload_args(self) -> tuple[Any, ...]:
        return (self.phase, self.local.as_dict(), self.remote.as_dict(), self.auth_scheme,
                list(self.subject))


@dataclass(frozen=True, slots=True)
class DomainIOErrorReasonEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON event."""

    src_path: str
    dev_alias: str
    action: int
    reason: str  # e.g. "enospc"

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON


@dataclass(frozen=True, slots=True)
class DomainControlErrorEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_CONTROL_ERROR event."""

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_CONTROL_ERROR


@dataclass(frozen=True, slots=True)
class DomainBlockJobEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_BLOCK_JOB event."""

    disk: str  # the disk's source path (BLOCK_JOB_2 carries the target name)
    type: int  # VIR_DOMAIN_BLOCK_JOB_TYPE_*
    status: int  # VIR_DOMAIN_BLOCK_JOB_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_BLOCK_JOB


@dataclass(frozen=True, slots=True)
class DomainDiskChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_DISK_CHANGE event."""

    old_src_path: str | None
    new_src_path: str | None
    dev_alias: str
    reason: int  # VIR_DOMAIN_EVENT_DISK_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_DISK_CHANGE


@dataclass(frozen=True, slots=True)
class DomainTrayChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_TRAY_CHANGE event."""

    dev_alias: str
    reason: int  # VIR_DOMAIN_EVENT_TRAY_CHANGE_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_TRAY_CHANGE


@dataclass(frozen=True, slots=True)
class DomainPMWakeupEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_PMWAKEUP event."""

    reason: int = 0

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_PMWAKEUP


@dataclass(frozen=True, slots=True)
class DomainPMSuspendEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_PMSUSPEND event."""

    reason: int = 0

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_PMSUSPEND


@dataclass(frozen=True, slots=True)
class DomainBalloonChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE event."""

    actual: int  # KiB

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE


@dataclass(frozen=True, slots=True)
class DomainPMSuspendDiskEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK event."""

    reason: int = 0

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK


@dataclass(frozen=True, slots=True)
class DomainDeviceRemovedEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED event."""

    dev_alias: str

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED


@dataclass(frozen=True, slots=True)
class DomainBlockJob2Event(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2 event."""

    disk: str  # the disk's target name (e.g. "vda")
    type: int
    status: int

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2


@dataclass(frozen=True, slots=True)
class DomainTunableEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_TUNABLE event."""

    params: Params  # typed parameters, in order; a mapping is accepted

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_TUNABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze_params(self.params))

    def payload_args(self) -> tuple[Any, ...]:
        return (dict(self.params),)


@dataclass(frozen=True, slots=True)
class DomainAgentLifecycleEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE event."""

    state: int  # VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_*
    reason: int  # VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE


@dataclass(frozen=True, slots=True)
class DomainDeviceAddedEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_DEVICE_ADDED event."""

    dev_alias: str

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED


@dataclass(frozen=True, slots=True)
class DomainMigrationIterationEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION event."""

    iteration: int

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION


@dataclass(frozen=True, slots=True)
class DomainJobCompletedEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_JOB_COMPLETED event."""

    params: Params  # job statistics (VIR_DOMAIN_JOB_*), a mapping is accepted

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze_params(self.params))

    def payload_args(self) -> tuple[Any, ...]:
        return (dict(self.params),)


@dataclass(frozen=True, slots=True)
class DomainDeviceRemovalFailedEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED event."""

    dev_alias: str

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED


@dataclass(frozen=True, slots=True)
class DomainMetadataChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_METADATA_CHANGE event."""

    mtype: int  # VIR_DOMAIN_METADATA_*
    nsuri: str | None  # only for VIR_DOMAIN_METADATA_ELEMENT

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE


@dataclass(frozen=True, slots=True)
class DomainBlockThresholdEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD event."""

    dev: str
    path: str | None
    threshold: int
    excess: int

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD


@dataclass(frozen=True, slots=True)
class DomainMemoryFailureEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE event."""

    recipient: int  # VIR_DOMAIN_EVENT_MEMORY_FAILURE_RECIPIENT_*
    action: int  # VIR_DOMAIN_EVENT_MEMORY_FAILURE_ACTION_*
    flags: int  # VIR_DOMAIN_MEMORY_FAILURE_*

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE


@dataclass(frozen=True, slots=True)
class DomainMemoryDeviceSizeChangeEvent(DomainEvent):
    """libvirt's VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE event."""

    alias: str
    size: int  # KiB

    EVENT_ID: ClassVar[int] = c.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE


# ---- network ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkEvent(ObjectEvent):
    """Base of the network events: the network's name and UUID."""

    name: str
    uuid: str

    family: ClassVar[str] = "network"
    _IDENT_FIELDS: ClassVar[int] = 2

    @property
    def key(self) -> str:
        return self.uuid

    def handle(self, conn: Any) -> Any:
        return conn._make_network(self.name, self.uuid)


@dataclass(frozen=True, slots=True)
class NetworkLifecycleEvent(NetworkEvent):
    """libvirt's VIR_NETWORK_EVENT_ID_LIFECYCLE event."""

    event: int  # VIR_NETWORK_EVENT_*
    detail: int

    EVENT_ID: ClassVar[int] = c.VIR_NETWORK_EVENT_ID_LIFECYCLE


# ---- storage pool -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoragePoolEvent(ObjectEvent):
    """Base of the storage pool events: the pool's name and UUID."""

    name: str
    uuid: str

    family: ClassVar[str] = "storage_pool"
    _IDENT_FIELDS: ClassVar[int] = 2

    @property
    def key(self) -> str:
        return self.uuid

    def handle(self, conn: Any) -> Any:
        return conn._make_storage_pool(self.name, self.uuid)


@dataclass(frozen=True, slots=True)
class StoragePoolLifecycleEvent(StoragePoolEvent):
    """libvirt's VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE event."""

    event: int  # VIR_STORAGE_POOL_EVENT_*
    detail: int

    EVENT_ID: ClassVar[int] = c.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE


@dataclass(frozen=True, slots=True)
class StoragePoolRefreshEvent(StoragePoolEvent):
    """libvirt's VIR_STORAGE_POOL_EVENT_ID_REFRESH event."""

    EVENT_ID: ClassVar[int] = c.VIR_STORAGE_POOL_EVENT_ID_REFRESH


# ---- node device ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeDeviceEvent(ObjectEvent):
    """Base of the node device events: the device's name."""

    name: str

    family: ClassVar[str] = "node_device"
    _IDENT_FIELDS: ClassVar[int] = 1

    @property
    def key(self) -> str:
        return self.name

    def handle(self, conn: Any) -> Any:
        return conn._make_node_device(self.name)


@dataclass(frozen=True, slots=True)
class NodeDeviceLifecycleEvent(NodeDeviceEvent):
    """libvirt's VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE event."""

    event: int  # VIR_NODE_DEVICE_EVENT_*
    detail: int

    EVENT_ID: ClassVar[int] = c.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE


@dataclass(frozen=True, slots=True)
class NodeDeviceUpdateEvent(NodeDeviceEvent):
    """libvirt's VIR_NODE_DEVICE_EVENT_ID_UPDATE event."""

    EVENT_ID: ClassVar[int] = c.VIR_NODE_DEVICE_EVENT_ID_UPDATE


# ---- secret -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretEvent(ObjectEvent):
    """Base of the secret events: the secret's UUID and usage."""

    uuid: str
    usage_type: int  # VIR_SECRET_USAGE_TYPE_*
    usage_id: str

    family: ClassVar[str] = "secret"
    _IDENT_FIELDS: ClassVar[int] = 3

    @property
    def key(self) -> str:
        return self.uuid

    def handle(self, conn: Any) -> Any:
        return conn._make_secret(self.uuid, self.usage_type, self.usage_id)


@dataclass(frozen=True, slots=True)
class SecretLifecycleEvent(SecretEvent):
    """libvirt's VIR_SECRET_EVENT_ID_LIFECYCLE event."""

    event: int  # VIR_SECRET_EVENT_*
    detail: int

    EVENT_ID: ClassVar[int] = c.VIR_SECRET_EVENT_ID_LIFECYCLE


@dataclass(frozen=True, slots=True)
class SecretValueChangedEvent(SecretEvent):
    """libvirt's VIR_SECRET_EVENT_ID_VALUE_CHANGED event."""

    EVENT_ID: ClassVar[int] = c.VIR_SECRET_EVENT_ID_VALUE_CHANGED


# ---- lookup by number -------------------------------------------------------------------


_BASES: tuple[type[ObjectEvent], ...] = (DomainEvent, NetworkEvent, StoragePoolEvent,
                                         NodeDeviceEvent, SecretEvent)


def _concrete(base: type[ObjectEvent]) -> list[type[ObjectEvent]]:
    # slots=True makes dataclass() build a new class; skip the discarded originals.
    return [k for k in base.__subclasses__()
            if k.EVENT_ID >= 0 and globals().get(k.__name__) is k]


EVENT_CLASSES: dict[tuple[str, int], type[ObjectEvent]] = {
    (k.family, k.EVENT_ID): k for base in _BASES for k in _concrete(base)
}


def event_class(family: str, event_id: int) -> type[ObjectEvent]:
    """The record class for ``event_id`` of ``family``; KeyError if libvirt has none."""
    return EVENT_CLASSES[(family, event_id)]


def make_event(family: str, event_id: int, *fields: Any) -> ObjectEvent:
    """Build the record for ``event_id``: ``fields`` are the identity then the payload in
    libvirt's callback order, e.g. ``make_event("domain", 0, name, uuid, id, event, detail)``."""
    return event_class(family, event_id)(*fields)
