"""<cpu> (guest CPU) canonicalisation: libvirt's default mode/match/fallback/policy and
NUMA cell ids and sizes. The element stays an ``XNode``; drivers read it through helpers."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.domain.xnode import XNode
from pyvirt.conf.xmlutil import scale
from pyvirt.errors import raise_error

CPU_MODES = ("custom", "host-model", "host-passthrough", "maximum")
CPU_ORDER = ("model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa")


def _ordered(attrs: dict[str, str], first: tuple[str, ...]) -> dict[str, str]:
    out = {k: attrs[k] for k in first if k in attrs}
    out.update({k: v for k, v in attrs.items() if k not in out})
    return out


def canonicalise(cpu: XNode) -> None:
    mode = cpu.attrs.get("mode", "custom")
    if mode not in CPU_MODES:
        raise_error(c.VIR_ERR_XML_ERROR, f"Invalid value for attribute 'mode' in element "
                    f"'cpu': '{mode}'.", domain=c.VIR_FROM_CPU)
    model = cpu.find("model")
    name = (model.text or "").strip() or None if model is not None else None
    vendor_id = model.attrs.get("vendor_id") if model is not None else None
    attrs: dict[str, str] = {}
    if mode != "custom" or name:
        attrs["mode"] = mode
        if mode == "custom":
            attrs["match"] = cpu.attrs.get("match", "exact")
        if "check" in cpu.attrs:
            attrs["check"] = cpu.attrs["check"]
        if mode in ("host-passthrough", "maximum") and "migratable" in cpu.attrs:
            attrs["migratable"] = cpu.attrs["migratable"]
    for key, value in cpu.attrs.items():
        if key not in ("mode", "match", "check", "migratable"):
            attrs[key] = value
    cpu.attrs = attrs

    kids: list[XNode] = []
    for child in cpu.children:
        if child.tag == "model":
            if mode not in ("custom", "host-model") or not (name or vendor_id):
                continue
            mattrs: dict[str, str]
            mattrs = {"fallback": child.attrs.get("fallback", "allow")} if name else {}
            if vendor_id:
                mattrs["vendor_id"] = vendor_id
            kids.append(XNode("model", mattrs, name))
        elif child.tag == "feature":
            fattrs = {"policy": child.attrs.get("policy", "require")}
            fattrs.update({k: v for k, v in child.attrs.items() if k != "policy"})
            kids.append(XNode("feature", fattrs))
        elif child.tag == "topology":
            tattrs = dict(child.attrs)
            tattrs.setdefault("dies", "1")
            kids.append(XNode("topology", _ordered(tattrs, ("sockets", "dies", "cores",
                                                            "threads"))))
        elif child.tag == "maxphysaddr":
            kids.append(XNode("maxphysaddr", _ordered(dict(child.attrs), ("mode", "bits"))))
        elif child.tag == "numa":
            _numa(child)
            kids.append(child)
        else:
            kids.append(child)
    order = {tag: i for i, tag in enumerate(CPU_ORDER)}
    cpu.children = sorted(kids, key=lambda k: order.get(k.tag, len(order)))


def _numa(numa: XNode) -> None:
    cells = numa.findall("cell")
    for i, cell in enumerate(cells):
        attrs = dict(cell.attrs)
        attrs.setdefault("id", str(i))
        if "memory" in attrs:
            nbytes = scale(attrs["memory"], attrs.get("unit"), "KiB", "cell memory")
            attrs["memory"] = str((nbytes + 1023) // 1024)
            attrs["unit"] = "KiB"
        cell.attrs = _ordered(attrs, ("id", "cpus", "memory", "unit"))

    # libvirt stores cells by id
    def cell_id(node: XNode) -> int:
        try:
            return int(node.attrs.get("id", "0"))
        except ValueError:
            raise_error(c.VIR_ERR_XML_ERROR, "Invalid 'id' attribute in NUMA cell",
                        domain=c.VIR_FROM_DOMAIN)

    ordered = iter(sorted(cells, key=cell_id))
    numa.children = [next(ordered) if k.tag == "cell" else k for k in numa.children]


def numa_cells(cpu: XNode | None) -> list[dict[str, str]]:
    """The guest NUMA cells (id, cpus, memory in KiB...), for drivers."""
    if cpu is None:
        return []
    numa = cpu.find("numa")
    return [dict(cell.attrs) for cell in numa.findall("cell")] if numa is not None else []
