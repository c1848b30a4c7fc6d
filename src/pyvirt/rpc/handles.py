"""Object handles on the wire (``remote_nonnull_domain`` ...) to and from pyvirt handles.

The remote protocol passes objects by value: a domain is ``{name, uuid (16 raw bytes), id}``,
a volume ``{pool (the pool's name), name, key}``, a snapshot ``{name, dom}`` and so on
(reference section 3.6). ``to_wire(handle)`` makes the dict a body needs from any pyvirt
handle; ``from_wire(conn, kind, value)`` makes the handle a client returns, through the
connection's ``_make_*`` factories. ``kind`` is the wire struct's name without
``remote_nonnull_`` (``"domain"``, ``"storage_vol"``, ...).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def uuid_bytes(uuid: str) -> bytes:
    """16 raw bytes from pyvirt's canonical UUID string."""
    return bytes.fromhex(uuid.replace("-", ""))


def uuid_string(raw: bytes) -> str:
    """pyvirt's canonical UUID string (8-4-4-4-12 lowercase hex) from 16 raw bytes."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_wire(handle: Any) -> dict[str, Any]:
    """The ``remote_nonnull_*`` value for a pyvirt handle."""
    kind = type(handle).__name__
    if kind == "virDomain":
        return {"name": handle._name, "uuid": uuid_bytes(handle._uuid), "id": handle._id}
    if kind in ("virNetwork", "virStoragePool", "virNWFilter"):
        return {"name": handle._name, "uuid": uuid_bytes(handle._uuid)}
    if kind == "virNetworkPort":
        return {"net": to_wire(handle._net), "uuid": uuid_bytes(handle._uuid)}
    if kind == "virStorageVol":
        return {"pool": handle._pool, "name": handle._name, "key": handle._key}
    if kind == "virInterface":
        return {"name": handle._name, "mac": handle._mac}
    if kind == "virNodeDevice":
        return {"name": handle._name}
    if kind == "virSecret":
        return {"uuid": uuid_bytes(handle._uuid), "usageType": handle._usage_type,
                "usageID": handle._usage_id}
    if kind == "virNWFilterBinding":
        return {"portdev": handle._portdev, "filtername": handle._filtername}
    if kind in ("virDomainSnapshot", "virDomainCheckpoint"):
        return {"name": handle._name, "dom": to_wire(handle._dom)}
    raise TypeError(f"not a pyvirt object handle: {handle!r}")


def from_wire(conn: Any, kind: str, value: dict[str, Any]) -> Any:
    """The pyvirt handle for a received ``remote_nonnull_<kind>`` value."""
    if kind == "domain":
        return conn._make_domain(value["name"], uuid_string(value["uuid"]), value["id"])
    if kind == "network":
        return conn._make_network(value["name"], uuid_string(value["uuid"]))
    if kind == "network_port":
        net = from_wire(conn, "network", value["net"])
        return conn._make_network_port(net, uuid_string(value["uuid"]))
    if kind == "storage_pool":
        return conn._make_storage_pool(value["name"], uuid_string(value["uuid"]))
    if kind == "storage_vol":
        return conn._make_storage_vol(value["pool"], value["name"], value["key"])
    if kind == "interface":
        return conn._make_interface(value["name"], value["mac"])
    if kind == "node_device":
        return conn._make_node_device(value["name"])
    if kind == "secret":
        return conn._make_secret(uuid_string(value["uuid"]), value["usageType"],
                                 value["usageID"])
    if kind == "nwfilter":
        return conn._make_nwfilter(value["name"], uuid_string(value["uuid"]))
    if kind == "nwfilter_binding":
        return conn._make_nwfilter_binding(value["portdev"], value["filtername"])
    if kind == "domain_snapshot":
        from pyvirt.api.snapshot import virDomainSnapshot

        return virDomainSnapshot(from_wire(conn, "domain", value["dom"]), value["name"])
    if kind == "domain_checkpoint":
        from pyvirt.api.checkpoint import virDomainCheckpoint

        return virDomainCheckpoint(from_wire(conn, "domain", value["dom"]), value["name"])
    raise ValueError(f"unknown handle kind {kind!r}")
