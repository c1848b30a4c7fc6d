"""<cputune> canonicalisation: per-thread scheduler entries, resctrl groups (cachetune,
memorytune) clipped to the defined vcpus and checked for collisions, libvirt's child order."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.domain.xnode import XNode
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.core import DomainDef

CPUTUNE_ORDER = (
    "shares", "period", "quota", "global_period", "global_quota", "emulator_period",
    "emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin",
    "iothreadpin", "emulatorsched", "vcpusched", "iothreadsched", "cachetune", "memorytune",
)


def parse_bitmap(text: str, what: str = "cpuset") -> set[int]:
    """libvirt's cpuset syntax: '0-3,^2,8'."""
    result: set[int] = set()
    remove: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                raise ValueError
            target = result
            if part.startswith("^"):
                target, part = remove, part[1:]
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi or lo < 0:
                    raise ValueError
                target.update(range(lo, hi + 1))
            else:
                n = int(part)
                if n < 0:
                    raise ValueError
                target.add(n)
    except ValueError:
        raise_error(c.VIR_ERR_XML_ERROR, f"Failed to parse bitmap '{text}'",
                    domain=c.VIR_FROM_NONE)
    return result - remove


def format_bitmap(bits: set[int]) -> str:
    out: list[str] = []
    ordered = sorted(bits)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def _err(msg: str, code: int = c.VIR_ERR_XML_ERROR) -> None:
    raise_error(code, msg, domain=c.VIR_FROM_DOMAIN)


def _expand_sched(nodes: list[XNode], attr: str, limit: int | None) -> list[XNode]:
    per_id: dict[int, XNode] = {}
    for node in nodes:
        ids = parse_bitmap(node.attrs.get(attr, ""), attr)
        if not ids:
            _err(f"Invalid value for attribute '{attr}' in element '{node.tag}': "
                 f"'{node.attrs.get(attr, '')}'.")
        for i in sorted(ids):
            if limit is not None and i >= limit:
                continue
            if i in per_id:
                _err(f"{attr} attributes '{attr}' must not overlap")
            attrs = {attr: str(i)}
            attrs.update({k: v for k, v in node.attrs.items() if k != attr})
            per_id[i] = XNode(node.tag, attrs)
    return [per_id[i] for i in sorted(per_id)]


class _Group:
    """One resctrl group: the vcpus shared by a <cachetune> and/or a <memorytune>."""

    def __init__(self, vcpus: set[int]) -> None:
        self.vcpus = vcpus
        self.cache: XNode | None = None
        self.memory: XNode | None = None


def _resctrl(tunes: list[XNode], maxvcpus: int) -> list[XNode]:
    groups: list[_Group] = []
    for tune in tunes:
        vcpus = parse_bitmap(tune.attrs.get("vcpus", ""), "vcpus")
        vcpus = {v for v in vcpus if v < maxvcpus}
        if not vcpus:
            continue  # libvirt ignores tunes of vcpus the domain does not have
        new = XNode(tune.tag, dict(tune.attrs), None, [])
        new.attrs["vcpus"] = format_bitmap(vcpus)
        if tune.tag == "cachetune":
            seen: dict[tuple[str, str], set[str]] = {}
            for cache in tune.findall("cache"):
                key = (cache.attrs.get("id", ""), cache.attrs.get("level", ""))
                ctype = cache.attrs.get("type", "")
                have = seen.setdefault(key, set())
                if ctype in have or (have and ("both" in have or ctype == "both")):
                    _err(f"Cache allocation for cache {key[0]}, level {key[1]} and type "
                         f"{ctype} is already defined", c.VIR_ERR_XML_ERROR)
                have.add(ctype)
            for group in groups:
                if group.vcpus & vcpus and group.cache is not None:
                    _err("Overlapping vcpus in cachetunes", c.VIR_ERR_XML_ERROR)
            group = _Group(vcpus)
            group.cache = new
            groups.append(group)
            kids = tune.findall("cache")
        else:
            nodes: set[str] = set()
            for node in tune.findall("node"):
                nid = node.attrs.get("id", "")
                if nid in nodes:
                    _err(f"Memory Bandwidth already defined for node {nid}")
                nodes.add(nid)
            target = None
            for group in groups:
                if group.vcpus == vcpus:
                    target = group
                elif group.vcpus & vcpus:
                    _err("Overlapping vcpus in memorytunes", c.VIR_ERR_XML_ERROR)
            if target is None or target.memory is not None:
                if target is not None:
                    _err("Overlapping vcpus in memorytunes", c.VIR_ERR_XML_ERROR)
                target = _Group(vcpus)
                groups.append(target)
            target.memory = new
            kids = tune.findall("node")
        new.children.extend(kids)
        for mon in tune.findall("monitor"):
            mvcpus = parse_bitmap(mon.attrs.get("vcpus", ""), "vcpus")
            if not mvcpus <= vcpus:
                _err("Monitor vcpus conflicts with allocation")
            mattrs = dict(mon.attrs)
            mattrs["vcpus"] = format_bitmap(mvcpus)
            new.children.append(XNode("monitor", mattrs))
        others = [k for k in tune.children if k.tag not in ("cache", "node", "monitor")]
        new.children.extend(others)
    out = [g.cache for g in groups if g.cache is not None]
    out += [g.memory for g in groups if g.memory is not None]
    return out


def canonicalise(d: DomainDef) -> None:
    tune = d.cputune
    if tune is None:
        return
    by_tag: dict[str, list[XNode]] = {}
    for child in tune.children:
        by_tag.setdefault(child.tag, []).append(child)
    out: list[XNode] = []
    for tag in CPUTUNE_ORDER:
        nodes = by_tag.pop(tag, [])
        if tag == "vcpupin":
            pins: dict[int, XNode] = {}
            for n in nodes:
                try:
                    vcpu = int(n.attrs.get("vcpu", ""))
                except ValueError:
                    _err("vcpu id must be an unsigned integer")
                if vcpu >= d.vcpus_max:
                    _err("vcpuid must be less than maxvcpus", c.VIR_ERR_INVALID_ARG)
                if vcpu in pins:
                    _err(f"duplicate vcpupin for vcpu '{vcpu}'", c.VIR_ERR_INTERNAL_ERROR)
                pins[vcpu] = n
            # Without offline-vcpupin support libvirt drops pins of offline vcpus.
            keep = d.vcpus_max if "offline-vcpupin" in d.parse_features else d.vcpus_current
            nodes = [pins[k] for k in sorted(pins) if k < keep]
        elif tag == "vcpusched":
            nodes = _expand_sched(nodes, "vcpus", d.vcpus_max)
        elif tag == "iothreadsched":
            nodes = _expand_sched(nodes, "iothreads", None)
        elif tag == "cachetune":
            nodes = _resctrl(nodes + by_tag.pop("memorytune", []), d.vcpus_max)
        out.extend(nodes)
    for rest in by_tag.values():
        out.extend(rest)
    tune.children = out
