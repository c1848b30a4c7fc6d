"""Values between the wire's shapes and the drivers' (libvirt-python's) shapes, per XDR type.

The protocol tables say what each body looks like on the wire; the drivers speak
libvirt-python's shapes (pyvirt.drivers.base). Most of the translation follows from the
XDR type alone, so it is derived from the type, once per type, as a small converter:

==============================  ===============================  ===========================
wire type                       wire value                       driver value
==============================  ===============================  ===========================
``remote_nonnull_<kind>``       ``{name, uuid, id}`` ...         handle (virDomain ...)
``remote_uuid``                 16 raw bytes                     canonical UUID string
``remote_typed_param<N>``       ``[{field, value: {type, x}}]``  ``{field: value}``
``char<N>`` / ``char[N]``       one int per byte, NUL included   ``str``
``opaque<N>`` (cpumaps)         bitmap bytes                     bytes (from a tuple of bools)
struct                          dict                             dict, or a sequence in field
                                                                 order (driver results)
==============================  ===============================  ===========================

``to_wire(table, spec)`` and ``from_wire(table, spec)`` return the converter for a type, or
None when the two shapes are the same (no per-value work at all on the hot path).

Typed parameters carry their type on the wire but not in Python: a value going out gets
the type libvirt declares for its field when pyvirt.rpc.typedparams knows the field,
else the narrowest type that holds it (bool: BOOLEAN, str: STRING, float: DOUBLE, int:
UINT / INT / ULLONG / LLONG). Clients print and compare these values by number, so the
choice only shows in the type code.
"""

from __future__ import annotations

from pyvirt.rpc import handles
from pyvirt.rpc.typedparams import (
    ARMS,
    BOOLEAN,
    DOUBLE,
    INT,
    LLONG,
    STRING,
    UINT,
    ULLONG,
    declared_type,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.rpc.xdr import Spec, TypeTable

    ToWire = Callable[[Any], Any]
    FromWire = Callable[[Any, Any], Any]   # (conn, wire value) -> driver value


# Handle structs -> pyvirt.rpc.handles kind.
HANDLE_KINDS = {
    "remote_nonnull_domain": "domain",
    "remote_nonnull_network": "network",
    "remote_nonnull_network_port": "network_port",
    "remote_nonnull_storage_pool": "storage_pool",
    "remote_nonnull_storage_vol": "storage_vol",
    "remote_nonnull_interface": "interface",
    "remote_nonnull_node_device": "node_device",
    "remote_nonnull_secret": "secret",
    "remote_nonnull_nwfilter": "nwfilter",
    "remote_nonnull_nwfilter_binding": "nwfilter_binding",
    "remote_nonnull_domain_snapshot": "domain_snapshot",
    "remote_nonnull_domain_checkpoint": "domain_checkpoint",
}

_INT_MIN, _UINT_MAX = -(1 << 31), (1 << 32) - 1


def param_type(field: str, value: Any) -> int:
    """The typed-parameter type a Python value goes out as (see the module docstring)."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, str):
        return STRING
    if isinstance(value, float):
        return DOUBLE
    known = declared_type(field)
    if known is not None and known not in (BOOLEAN, STRING, DOUBLE):
        return known
    if value < 0:
        return INT if value >= _INT_MIN else LLONG
    return UINT if value <= _UINT_MAX else ULLONG


def params_to_wire(params: Any, strings: bool = True) -> list[dict[str, Any]]:
    """A driver's ``{field: value}`` (or pairs) as ``remote_typed_param`` records; without
    ``strings`` the STRING ones are left out, as libvirtd does for a client that did not
    pass VIR_TYPED_PARAM_STRING_OKAY."""
    if isinstance(params, list) and params and isinstance(params[0], dict):
        return params  # already wire records
    items = params.items() if isinstance(params, dict) else params
    out = []
    for field, value in items:
        kind = param_type(field, value)
        if kind == STRING and not strings:
            continue
        if kind == BOOLEAN:
            value = int(value)
        out.append({"field": field, "value": {"type": kind, ARMS[kind]: value}})
    return out


def params_from_wire(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``remote_typed_param`` records as libvirt-python's dict (BOOLEAN as bool). A field
    given more than once (libvirt allows it for e.g. migrate_disks) keeps every value, as
    a list."""
    out: dict[str, Any] = {}
    for rec in records:
        value = rec["value"]
        kind = value["type"]
        item = value[ARMS[kind]]
        if kind == BOOLEAN:
            item = bool(item)
        field = rec["field"]
        if field in out:
            prev = out[field]
            out[field] = [*prev, item] if isinstance(prev, list) else [prev, item]
        else:
            out[field] = item
    return out


def chars_to_wire(text: Any, size: int | None = None) -> Any:
    """A ``char`` array from a str: its UTF-8 bytes and a NUL (variable arrays), or padded
    with NULs to ``size`` (fixed arrays, truncated to leave the NUL)."""
    if not isinstance(text, str):
        return text
    data = list(text.encode("utf-8", "surrogateescape"))
    if size is None:
        return [*data, 0]
    data = data[:size - 1]
    return data + [0] * (size - len(data))


def chars_from_wire(values: list[int]) -> str:
    raw = bytes(v & 0xFF for v in values)
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def bits_to_bytes(bits: Any, size: int | None = None) -> bytes:
    """A cpumap: libvirt-python's tuple of bools as bitmap bytes (``size`` bytes if given)."""
    if isinstance(bits, (bytes, bytearray)):
        data = bytes(bits)
    else:
        buf = bytearray((len(bits) + 7) // 8)
        for i, on in enumerate(bits):
            if on:
                buf[i // 8] |= 1 << (i % 8)
        data = bytes(buf)
    if size is not None:
        data = data[:size].ljust(size, b"\0")
    return data


def bytes_to_bits(data: bytes, count: int | None = None) -> tuple[bool, ...]:
    """Bitmap bytes as libvirt-python's tuple of bools (``count`` of them, default all)."""
    n = len(data) * 8 if count is None else count
    return tuple(bool(data[i // 8] & (1 << (i % 8))) if i // 8 < len(data) else False
                 for i in range(n))


# ---- converters derived from the type ----------------------------------------------------


def to_wire(table: TypeTable, spec: Spec) -> ToWire | None:
    """The converter from a driver value to the wire value of ``spec`` (None: identity)."""
    return _to_wire(table, spec, ())


def from_wire(table: TypeTable, spec: Spec) -> FromWire | None:
    """The converter from a wire value of ``spec`` to the driver's value (None: identity)."""
    return _from_wire(table, spec, ())


def _handle_to_wire(value: Any) -> Any:
    return value if isinstance(value, dict) else handles.to_wire(value)


def _uuid_to_wire(value: Any) -> Any:
    return handles.uuid_bytes(value) if isinstance(value, str) else value


def _to_wire(table: TypeTable, spec: Spec, stack: tuple[str, ...]) -> ToWire | None:
    if isinstance(spec, str):
        if spec in HANDLE_KINDS:
            return _handle_to_wire
        if spec == "remote_uuid":
            return _uuid_to_wire
        if spec in stack:
            return None
        try:
            resolved = table.lookup(spec)
        except KeyError:
            return None   # a scalar
        return _to_wire(table, resolved, (*stack, spec))
    kind = spec[0]
    if kind == "optional":
        inner = _to_wire(table, spec[1], stack)
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if kind in ("array", "fixed_array"):
        elem = spec[1]
        if elem in ("char", "uchar"):
            size = spec[2] if kind == "fixed_array" else None
            return lambda v: chars_to_wire(v, size)
        if elem == "remote_typed_param":
            return params_to_wire
        conv = _to_wire(table, elem, stack)
        if conv is None:
            return None
        return lambda v: [conv(x) for x in v]
    if kind == "opaque":
        return lambda v: v if isinstance(v, (bytes, bytearray)) else bits_to_bytes(v)
    if kind == "struct":
        return _struct_to_wire(table, spec[1], stack)
    return None


def _struct_to_wire(table: TypeTable, fields: tuple[tuple[str, Spec], ...],
                    stack: tuple[str, ...]) -> ToWire | None:
    convs = [(name, _to_wire(table, fspec, stack)) for name, fspec in fields]
    if all(conv is None for _, conv in convs):
        return None
    names = [name for name, _ in convs]

    def conv_struct(value: Any) -> Any:
        if isinstance(value, dict):
            return {name: value[name] if conv is None else conv(value[name])
                    for name, conv in convs}
        return {name: v if conv is None else conv(v)
                for (name, conv), v in zip(convs, value)}

    conv_struct.__doc__ = f"struct {names}"
    return conv_struct


def _handle_from_wire(kind: str) -> FromWire:
    return lambda conn, v: handles.from_wire(conn, kind, v)


def _from_wire(table: TypeTable, spec: Spec, stack: tuple[str, ...]) -> FromWire | None:
    if isinstance(spec, str):
        kind = HANDLE_KINDS.get(spec)
        if kind is not None:
            return _handle_from_wire(kind)
        if spec == "remote_uuid":
            return lambda conn, v: handles.uuid_string(v)
        if spec in stack:
            return None
        try:
            resolved = table.lookup(spec)
        except KeyError:
            return None
        return _from_wire(table, resolved, (*stack, spec))
    kind = spec[0]
    if kind == "optional":
        inner = _from_wire(table, spec[1], stack)
        if inner is None:
            return None
        return lambda conn, v: None if v is None else inner(conn, v)
    if kind in ("array", "fixed_array"):
        elem = spec[1]
        if elem in ("char", "uchar"):
            return lambda conn, v: chars_from_wire(v)
        if elem == "remote_typed_param":
            return lambda conn, v: params_from_wire(v)
        conv = _from_wire(table, elem, stack)
        if conv is None:
            return None
        return lambda conn, v: [conv(conn, x) for x in v]
    if kind == "struct":
        convs = [(name, _from_wire(table, fspec, stack)) for name, fspec in spec[1]]
        if all(conv is None for _, conv in convs):
            return None
        return lambda conn, v: {name: v[name] if conv is None else conv(conn, v[name])
                                for name, conv in convs}
    return None
