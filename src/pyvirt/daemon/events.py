"""Event relay: a client's event registrations, and its events as MESSAGE frames.

The drivers publish typed event records on their event bus (``driver.events``, an
pyvirt.events.state.EventState). A client's registrations live here: each has a
callback ID handed out daemon-wide (as libvirtd does), a family, an event ID and an
optional object filter. While a client has registrations, one listener on its driver's bus
matches every published event against them and sends the matching ones as MESSAGE frames
(serial 1) with the registration's callback ID.

Which message carries an event is table data (:data:`CALLBACK_PROCS`, :data:`LEGACY_PROCS`);
the message body is filled from the event's object handle and payload in the order the
``.x`` file declares the fields (libvirt declares them in its callbacks' argument order):
the handle and payload fill the nested ``msg`` struct first, then the outer fields after
``callbackID`` (the PM events' ``reason``).
"""

from __future__ import annotations

import itertools
import logging

from pyvirt import constants as c
from pyvirt.daemon import adapt
from pyvirt.errors import raise_error
from pyvirt.rpc import handles, protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.events.types import ObjectEvent
    from pyvirt.rpc.protocol import Procedure

log = logging.getLogger(__name__)

# Callback IDs are unique daemon-wide (libvirtd's are too); next() is atomic under the GIL.
_callback_ids = itertools.count(1)

_DOMAIN_CALLBACK_NAMES = (
    "LIFECYCLE", "REBOOT", "RTC_CHANGE", "WATCHDOG", "IO_ERROR", "GRAPHICS", "IO_ERROR_REASON",
    "CONTROL_ERROR", "BLOCK_JOB", "DISK_CHANGE", "TRAY_CHANGE", "PMWAKEUP", "PMSUSPEND",
    "BALLOON_CHANGE", "PMSUSPEND_DISK", "DEVICE_REMOVED")

# (family, event ID) -> the MESSAGE procedure of callback-style registrations.
CALLBACK_PROCS: dict[tuple[str, int], str] = {
    **{("domain", i): f"DOMAIN_EVENT_CALLBACK_{name}"
       for i, name in enumerate(_DOMAIN_CALLBACK_NAMES)},
    ("domain", 16): "DOMAIN_EVENT_BLOCK_JOB_2",
    ("domain", 17): "DOMAIN_EVENT_CALLBACK_TUNABLE",
    ("domain", 18): "DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE",
    ("domain", 19): "DOMAIN_EVENT_CALLBACK_DEVICE_ADDED",
    ("domain", 20): "DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION",
    ("domain", 21): "DOMAIN_EVENT_CALLBACK_JOB_COMPLETED",
    ("domain", 22): "DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED",
    ("domain", 23): "DOMAIN_EVENT_CALLBACK_METADATA_CHANGE",
    ("domain", 24): "DOMAIN_EVENT_BLOCK_THRESHOLD",
    ("domain", 25): "DOMAIN_EVENT_MEMORY_FAILURE",
    ("domain", 26): "DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE",
    ("network", 0): "NETWORK_EVENT_LIFECYCLE",
    ("storage_pool", 0): "STORAGE_POOL_EVENT_LIFECYCLE",
    ("storage_pool", 1): "STORAGE_POOL_EVENT_REFRESH",
    ("node_device", 0): "NODE_DEVICE_EVENT_LIFECYCLE",
    ("node_device", 1): "NODE_DEVICE_EVENT_UPDATE",
    ("secret", 0): "SECRET_EVENT_LIFECYCLE",
    ("secret", 1): "SECRET_EVENT_VALUE_CHANGED",
}
# Legacy registrations (no callback ID in the message): domain event IDs 0..15 only.
LEGACY_PROCS: dict[int, str] = {
    0: "DOMAIN_EVENT_LIFECYCLE", 1: "DOMAIN_EVENT_REBOOT", 2: "DOMAIN_EVENT_RTC_CHANGE",
    3: "DOMAIN_EVENT_WATCHDOG", 4: "DOMAIN_EVENT_IO_ERROR", 5: "DOMAIN_EVENT_GRAPHICS",
    6: "DOMAIN_EVENT_IO_ERROR_REASON", 7: "DOMAIN_EVENT_CONTROL_ERROR",
    8: "DOMAIN_EVENT_BLOCK_JOB", 9: "DOMAIN_EVENT_DISK_CHANGE", 10: "DOMAIN_EVENT_TRAY_CHANGE",
    11: "DOMAIN_EVENT_PMWAKEUP", 12: "DOMAIN_EVENT_PMSUSPEND",
    13: "DOMAIN_EVENT_BALLOON_CHANGE", 14: "DOMAIN_EVENT_PMSUSPEND_DISK",
    15: "DOMAIN_EVENT_DEVICE_REMOVED",
}
# Per family: how many event IDs libvirt has, the public registration API (for errors and
# for the "does the driver do events at all" test) and the deregistration message's noun.
FAMILY_INFO: dict[str, tuple[int, str, str]] = {
    "domain": (c.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE + 1,
               "connectDomainEventRegisterAny", "domain event"),
    "network": (c.VIR_NETWORK_EVENT_ID_LIFECYCLE + 1, "connectNetworkEventRegisterAny",
                "network event"),
    "storage_pool": (c.VIR_STORAGE_POOL_EVENT_ID_REFRESH + 1,
                     "connectStoragePoolEventRegisterAny", "storage pool event"),
    "node_device": (c.VIR_NODE_DEVICE_EVENT_ID_UPDATE + 1, "connectNodeDeviceEventRegisterAny",
                    "node device event"),
    "secret": (c.VIR_SECRET_EVENT_ID_VALUE_CHANGED + 1, "connectSecretEventRegisterAny",
               "secret event"),
}


class _Body:
    """Builds one message procedure's body from (callback ID, handle, payload)."""

    __slots__ = ("proc", "has_id", "inner", "outer")

    def __init__(self, proc: Procedure) -> None:
        table = proc.program.types
        top = list(table.lookup(proc.msg_type)[1])  # type: ignore[arg-type]
        self.proc = proc
        self.has_id = bool(top) and top[0][0] == "callbackID"
        if self.has_id:
            top = top[1:]
        nested = [spec for name, spec in top if name == "msg"]
        self.inner: list[tuple[str, Any]] | None = None
        if nested:
            self.inner = [(name, adapt.to_wire(table, spec))
                          for name, spec in table.lookup(nested[0])[1]]
            top = [(name, spec) for name, spec in top if name != "msg"]
        self.outer = [(name, adapt.to_wire(table, spec)) for name, spec in top]

    def frame(self, callback_id: int | None, values: list[Any]) -> bytes:
        body: dict[str, Any] = {}
        if self.has_id:
            body["callbackID"] = callback_id
        rest = iter(values)
        if self.inner is not None:
            body["msg"] = _fill(self.inner, rest)
        body.update(_fill(self.outer, rest))
        return self.proc.event(body)


def _fill(fields: list[tuple[str, Any]], values: Any) -> dict[str, Any]:
    out = {}
    for name, conv in fields:
        value = next(values)
        out[name] = value if conv is None else conv(value)
    return out


_bodies: dict[str, _Body] = {}


def body_builder(proc_name: str) -> _Body:
    found = _bodies.get(proc_name)
    if found is None:
        remote = protocol.program("REMOTE")
        assert remote is not None
        found = _bodies[proc_name] = _Body(remote.procedure(proc_name))
    return found


def event_frame(event: ObjectEvent, conn: virConnect, callback_id: int | None,
                legacy: bool = False) -> bytes:
    """The MESSAGE frame for ``event`` on registration ``callback_id`` (None: legacy)."""
    if legacy:
        name = LEGACY_PROCS[event.event_id]
    else:
        name = CALLBACK_PROCS[(event.family, event.event_id)]
    handle = handles.to_wire(event.handle(conn))
    return body_builder(name).frame(callback_id, [handle, *event.payload_args()])


class _Registration:
    __slots__ = ("callback_id", "family", "event_id", "key", "legacy")

    def __init__(self, callback_id: int, family: str, event_id: int, key: str | None,
                 legacy: bool) -> None:
        self.callback_id = callback_id
        self.family = family
        self.event_id = event_id
        self.key = key
        self.legacy = legacy


class EventRelay:
    """One client's registrations on its driver connection ``conn``. ``send(frame)`` must
    be callable from any thread (the publisher's)."""

    def __init__(self, conn: virConnect, send: Callable[[bytes], None]) -> None:
        self.conn = conn
        self.send = send
        self._regs: dict[int, _Registration] = {}
        self._bus: Any = None   # the driver's EventState while listening

    # ---- registration -----------------------------------------------------------------

    def register(self, family: str, event_id: int, key: str | None) -> int:
        """A callback-style registration; its callback ID."""
        last, method, _ = FAMILY_INFO[family]
        self._check_driver(method)
        if not 0 <= event_id < last:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unsupported event ID {event_id}",
                        domain=c.VIR_FROM_RPC)
        callback_id = next(_callback_ids)
        self._regs[callback_id] = _Registration(callback_id, family, event_id, key, False)
        self._listen()
        return callback_id

    def deregister(self, family: str, callback_id: int) -> None:
        reg = self._regs.get(callback_id)
        if reg is None or reg.legacy or reg.family != family:
            noun = FAMILY_INFO[family][2]
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"{noun} callback {callback_id} not registered", domain=c.VIR_FROM_RPC)
        del self._regs[callback_id]
        self._unlisten_if_idle()

    def register_legacy(self, event_id: int) -> None:
        """The old per-event-ID domain registration (messages without a callback ID)."""
        self._check_driver("connectDomainEventRegisterAny")
        if not 0 <= event_id <= c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unsupported event ID {event_id}",
                        domain=c.VIR_FROM_RPC)
        if any(r.legacy and r.event_id == event_id for r in self._regs.values()):
            raise_error(c.VIR_ERR_INVALID_ARG, "event callback already tracked",
                        domain=c.VIR_FROM_RPC)
        callback_id = next(_callback_ids)
        self._regs[callback_id] = _Registration(callback_id, "domain", event_id, None, True)
        self._listen()

    def deregister_legacy(self, event_id: int) -> None:
        if not 0 <= event_id <= c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unsupported event ID {event_id}",
                        domain=c.VIR_FROM_RPC)
        for callback_id, reg in list(self._regs.items()):
            if reg.legacy and reg.event_id == event_id:
                del self._regs[callback_id]
                self._unlisten_if_idle()
                return
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"domain event {event_id} not registered",
                    domain=c.VIR_FROM_RPC)

    def has_legacy(self, event_id: int) -> bool:
        return any(r.legacy and r.event_id == event_id for r in self._regs.values())

    def close(self) -> None:
        self._regs.clear()
        self._unlisten_if_idle()

    # ---- delivery -----------------------------------------------------------------------

    def _check_driver(self, method: str) -> None:
        drv = self.conn._drv
        if getattr(drv, "events", None) is None or not drv.supports(method):
            from pyvirt.drivers.base import entry_point_api_name, unsupported

            unsupported(entry_point_api_name(method))

    def _listen(self) -> None:
        if self._bus is None:
            self._bus = self.conn._drv.events
            self._bus.add_listener(self._on_event)

    def _unlisten_if_idle(self) -> None:
        if self._bus is not None and not self._regs:
            self._bus.remove_listener(self._on_event)
            self._bus = None

    def _on_event(self, event: ObjectEvent) -> None:
        """Called by the driver's bus in the publishing thread."""
        for reg in list(self._regs.values()):
            if (reg.family != event.family or reg.event_id != event.event_id
                    or (reg.key is not None and reg.key != event.key)):
                continue
            try:
                frame = event_frame(event, self.conn, None if reg.legacy else reg.callback_id,
                                    reg.legacy)
            except Exception:
                log.exception("cannot relay %r", event)
                continue
            self.send(frame)
