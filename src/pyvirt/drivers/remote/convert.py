"""Value conversions between libvirt-python's shapes and the wire's: typed parameters, CPU
maps, ``char`` arrays, memory statistics.

Typed parameters travel as ``[{"field": name, "value": {"type": T, arm: v}}]``; Python sees a
dict ``{name: v}`` (booleans as bool). Sending a dict needs each value's type: setters learn
them from the matching getter, as libvirt-python does (``types``), and the parameters of the
other calls (migration, block copy, save/restore ...) have fixed types
(pyvirt.rpc.typedparams);
what is still unknown goes by Python type.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.rpc.typedparams import (  # noqa: F401 - the codes are this module's API too
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
    from collections.abc import Iterable, Mapping
    from typing import Any





def params_from_wire(params: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Typed parameters as libvirt-python returns them."""
    out: dict[str, Any] = {}
    for p in params:
        value = p["value"]
        kind = value["type"]
        v = value[ARMS[kind]]
        out[p["field"]] = bool(v) if kind == BOOLEAN else v
    return out


def param_types(params: Iterable[dict[str, Any]]) -> dict[str, int]:
    """name -> type code of received typed parameters."""
    return {p["field"]: p["value"]["type"] for p in params}


def _guess(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return LLONG if value < 0 else ULLONG
    if isinstance(value, float):
        return DOUBLE
    return STRING


def params_to_wire(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
                   types: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """A dict (or pairs, for repeated names) as typed parameters. ``types`` (from a getter)
    wins over the declared types (pyvirt.rpc.typedparams), which win over the value's
    Python type."""
    if params is None:
        return []
    items = params.items() if hasattr(params, "items") else params
    out = []
    for name, value in items:
        kind = None
        if types is not None:
            kind = types.get(name)
            if kind is None:
                from pyvirt.errors import raise_error

                raise_error(c.VIR_ERR_INVALID_ARG, f"Attribute name {name} is not supported")
        if kind is None:
            kind = declared_type(name) or _guess(value)
        if kind == BOOLEAN:
            value = 1 if value else 0
        elif kind == STRING:
            value = str(value)
        elif kind == DOUBLE:
            value = float(value)
        else:
            value = int(value)
        out.append({"field": name, "value": {"type": kind, ARMS[kind]: value}})
    return out


def chars_to_str(chars: list[int]) -> str:
    """A ``char`` array (one int per byte, NUL-terminated) as a string."""
    data = bytes(ch & 0xFF for ch in chars)
    end = data.find(b"\0")
    if end >= 0:
        data = data[:end]
    return data.decode("utf-8", "replace")


def cpumap_to_bytes(cpumap: Iterable[Any]) -> bytes:
    """libvirt-python's CPU map (a tuple of booleans) as libvirt's bitmap bytes."""
    bits = [bool(b) for b in cpumap]
    out = bytearray((len(bits) + 7) // 8)
    for i, on in enumerate(bits):
        if on:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def cpumap_bools(data: bytes, offset: int, maplen: int, ncpus: int) -> tuple[bool, ...]:
    """The first ``ncpus`` bits of the map at ``data[offset:offset+maplen]``."""
    chunk = data[offset:offset + maplen]
    return tuple(bool(i // 8 < len(chunk) and chunk[i // 8] & (1 << (i % 8)))
                 for i in range(ncpus))


def maplen(ncpus: int) -> int:
    """VIR_CPU_MAPLEN."""
    return (ncpus + 7) // 8


# libvirt-python's names of VIR_DOMAIN_MEMORY_STAT_* tags (libvirt-override.c).
MEMORY_STAT_NAMES = {
    c.VIR_DOMAIN_MEMORY_STAT_SWAP_IN: "swap_in",
    c.VIR_DOMAIN_MEMORY_STAT_SWAP_OUT: "swap_out",
    c.VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT: "major_fault",
    c.VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT: "minor_fault",
    c.VIR_DOMAIN_MEMORY_STAT_UNUSED: "unused",
    c.VIR_DOMAIN_MEMORY_STAT_AVAILABLE: "available",
    c.VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: "actual",
    c.VIR_DOMAIN_MEMORY_STAT_RSS: "rss",
    c.VIR_DOMAIN_MEMORY_STAT_USABLE: "usable",
    c.VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE: "last_update",
    c.VIR_DOMAIN_MEMORY_STAT_DISK_CACHES: "disk_caches",
    c.VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC: "hugetlb_pgalloc",
    c.VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL: "hugetlb_pgfail",
}
