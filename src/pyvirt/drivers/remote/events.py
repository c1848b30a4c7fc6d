"""Event MESSAGE frames from the daemon -> pyvirt event records, as a table.

Each REMOTE event procedure maps to (family, event ID, shape): the callback-style messages
(``callbackID`` first; for domain events 0..15 the original message nested as ``msg``, the
newer ones flat) and the legacy ones libvirt sends to clients that registered without
callback IDs. :func:`decode` turns a frame's body into ``(remote callback ID or -1, event)``;
the driver queues the event on its EventState with that ID (``queue(event, remote_id)``), so
only the callbacks tied to that server-side registration (``set_remote``) receive it.
"""

from __future__ import annotations

from pyvirt.rpc.handles import uuid_string

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.events.types import ObjectEvent

# Message procedure -> (family, event ID). Callback-style first, then the legacy messages.
EVENT_PROCS: dict[str, tuple[str, int]] = {
    "DOMAIN_EVENT_CALLBACK_LIFECYCLE": ("domain", 0),
    "DOMAIN_EVENT_CALLBACK_REBOOT": ("domain", 1),
    "DOMAIN_EVENT_CALLBACK_RTC_CHANGE": ("domain", 2),
    "DOMAIN_EVENT_CALLBACK_WATCHDOG": ("domain", 3),
    "DOMAIN_EVENT_CALLBACK_IO_ERROR": ("domain", 4),
    "DOMAIN_EVENT_CALLBACK_GRAPHICS": ("domain", 5),
    "DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON": ("domain", 6),
    "DOMAIN_EVENT_CALLBACK_CONTROL_ERROR": ("domain", 7),
    "DOMAIN_EVENT_CALLBACK_BLOCK_JOB": ("domain", 8),
    "DOMAIN_EVENT_CALLBACK_DISK_CHANGE": ("domain", 9),
    "DOMAIN_EVENT_CALLBACK_TRAY_CHANGE": ("domain", 10),
    "DOMAIN_EVENT_CALLBACK_PMWAKEUP": ("domain", 11),
    "DOMAIN_EVENT_CALLBACK_PMSUSPEND": ("domain", 12),
    "DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE": ("domain", 13),
    "DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK": ("domain", 14),
    "DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED": ("domain", 15),
    "DOMAIN_EVENT_BLOCK_JOB_2": ("domain", 16),
    "DOMAIN_EVENT_CALLBACK_TUNABLE": ("domain", 17),
    "DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE": ("domain", 18),
    "DOMAIN_EVENT_CALLBACK_DEVICE_ADDED": ("domain", 19),
    "DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION": ("domain", 20),
    "DOMAIN_EVENT_CALLBACK_JOB_COMPLETED": ("domain", 21),
    "DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED": ("domain", 22),
    "DOMAIN_EVENT_CALLBACK_METADATA_CHANGE": ("domain", 23),
    "DOMAIN_EVENT_BLOCK_THRESHOLD": ("domain", 24),
    "DOMAIN_EVENT_MEMORY_FAILURE": ("domain", 25),
    "DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE": ("domain", 26),
    "NETWORK_EVENT_LIFECYCLE": ("network", 0),
    "STORAGE_POOL_EVENT_LIFECYCLE": ("storage_pool", 0),
    "STORAGE_POOL_EVENT_REFRESH": ("storage_pool", 1),
    "NODE_DEVICE_EVENT_LIFECYCLE": ("node_device", 0),
    "NODE_DEVICE_EVENT_UPDATE": ("node_device", 1),
    "SECRET_EVENT_LIFECYCLE": ("secret", 0),
    "SECRET_EVENT_VALUE_CHANGED": ("secret", 1),
    # Legacy (no callback ID): servers without VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK.
    "DOMAIN_EVENT_LIFECYCLE": ("domain", 0),
    "DOMAIN_EVENT_REBOOT": ("domain", 1),
    "DOMAIN_EVENT_RTC_CHANGE": ("domain", 2),
    "DOMAIN_EVENT_WATCHDOG": ("domain", 3),
    "DOMAIN_EVENT_IO_ERROR": ("domain", 4),
    "DOMAIN_EVENT_GRAPHICS": ("domain", 5),
    "DOMAIN_EVENT_IO_ERROR_REASON": ("domain", 6),
    "DOMAIN_EVENT_CONTROL_ERROR": ("domain", 7),
    "DOMAIN_EVENT_BLOCK_JOB": ("domain", 8),
    "DOMAIN_EVENT_DISK_CHANGE": ("domain", 9),
    "DOMAIN_EVENT_TRAY_CHANGE": ("domain", 10),
    "DOMAIN_EVENT_PMWAKEUP": ("domain", 11),
    "DOMAIN_EVENT_PMSUSPEND": ("domain", 12),
    "DOMAIN_EVENT_BALLOON_CHANGE": ("domain", 13),
    "DOMAIN_EVENT_PMSUSPEND_DISK": ("domain", 14),
    "DOMAIN_EVENT_DEVICE_REMOVED": ("domain", 15),
}

# Event family -> (register procedure, deregister procedure, wire name of the object filter).
REGISTER_PROCS: dict[str, tuple[str, str, str]] = {
    "domain": ("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
               "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", "dom"),
    "network": ("CONNECT_NETWORK_EVENT_REGISTER_ANY", "CONNECT_NETWORK_EVENT_DEREGISTER_ANY",
                "net"),
    "storage_pool": ("CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY",
                     "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY", "pool"),
    "node_device": ("CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY",
                    "CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY", "dev"),
    "secret": ("CONNECT_SECRET_EVENT_REGISTER_ANY", "CONNECT_SECRET_EVENT_DEREGISTER_ANY",
               "secret"),
}

CONNECTION_CLOSED = "CONNECT_EVENT_CONNECTION_CLOSED"

# Fields naming the object, per family, in the order the event records take them.
_OBJECT_FIELDS = {"domain": "dom", "network": "net", "storage_pool": "pool",
                  "node_device": "dev", "secret": "secret"}


def _identity(family: str, obj: dict[str, Any]) -> tuple[Any, ...]:
    if family == "domain":
        return (obj["name"], uuid_string(obj["uuid"]), obj["id"])
    if family in ("network", "storage_pool"):
        return (obj["name"], uuid_string(obj["uuid"]))
    if family == "node_device":
        return (obj["name"],)
    return (uuid_string(obj["uuid"]), obj["usageType"], obj["usageID"])


def _payload(family: str, event_id: int, fields: list[tuple[str, Any]],
             outer: dict[str, Any]) -> list[Any]:
    """The record's payload from the message fields after the object."""
    values = [v for _, v in fields]
    if family != "domain":
        return values
    if event_id == 5:  # graphics: addresses and the subject as records / pairs
        from pyvirt.events.types import GraphicsAddress

        phase, local, remote, scheme, subject = values
        return [phase, GraphicsAddress(local["family"], local["node"], local["service"]),
                GraphicsAddress(remote["family"], remote["node"], remote["service"]),
                scheme, tuple((s["type"], s["name"]) for s in subject)]
    if event_id in (17, 21):  # tunable, job completed: typed parameters
        from pyvirt.drivers.remote.convert import params_from_wire

        return [tuple(params_from_wire(values[0]).items())]
    if event_id in (11, 12, 14):  # PM events: the reason sits beside the nested message
        return [outer.get("reason", 0)]
    return values


def decode(proc_name: str, body: dict[str, Any]) -> tuple[int, ObjectEvent] | None:
    """``(remote callback ID, event)`` for an event message body; -1 for legacy messages;
    None for a message that is not an object event."""
    entry = EVENT_PROCS.get(proc_name)
    if entry is None:
        return None
    family, event_id = entry
    remote_id = body.get("callbackID", -1)
    inner = body.get("msg", body)
    obj_field = _OBJECT_FIELDS[family]
    obj = inner[obj_field]
    fields = [(k, v) for k, v in inner.items() if k not in ("callbackID", obj_field)]
    from pyvirt.events.types import make_event

    event = make_event(family, event_id, *_identity(family, obj),
                       *_payload(family, event_id, fields, body))
    return remote_id, event
