"""Guest RAM on the QEMU command line: ``-m``, the memory backend objects of the default
RAM (pc.ram) or of each NUMA cell (anonymous, memfd or hugetlbfs files), host NUMA
placement from <numatune>, and ``-numa``."""

from __future__ import annotations

import os

from pyvirt.drivers.qemu.command_props import Cmd, Props, unsupported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.xnode import XNode

SYSTEM_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _top(defn: DomainDef, tag: str) -> XNode | None:
    return next((n for _, n in defn.extra.children if n.tag == tag), None)


def align_memory(defn: DomainDef) -> None:
    """qemuDomainAlignMemorySizes (x86): guest RAM in whole MiB."""
    from pyvirt.conf.domain.cpu import numa_cells

    def up(kib: int) -> int:
        return (kib + 1023) // 1024 * 1024

    if numa_cells(defn.cpu) and defn.cpu is not None:
        numa = defn.cpu.find("numa")
        assert numa is not None
        total = 0
        for cell in numa.findall("cell"):
            size = up(int(cell.attrs.get("memory", "0")))
            cell.attrs["memory"] = str(size)
            total += size
        defn.memory_kib = total
    else:
        defn.memory_kib = up(defn.memory_kib)
    if defn.max_memory_kib:
        defn.max_memory_kib = up(defn.max_memory_kib)
    if defn.current_memory_kib > defn.memory_kib or not defn.current_memory_kib:
        defn.current_memory_kib = defn.memory_kib


def parse_nodeset(text: str) -> list[int]:
    """virBitmapParse for a nodeset: '1-2,5-7,^6' -> [1, 2, 5, 7]."""
    keep: set[int] = set()
    drop: set[int] = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        target = drop if part.startswith("^") else keep
        part = part.lstrip("^")
        lo, _, hi = part.partition("-")
        target.update(range(int(lo), int(hi or lo) + 1))
    return sorted(keep - drop)


def _numatune(defn: DomainDef, cell: str | None) -> tuple[list[int] | None, str]:
    """<numatune>: the host nodes and policy for the guest RAM (or one guest cell)."""
    tune = _top(defn, "numatune")
    if tune is None:
        return None, ""
    node = next((n for n in tune.findall("memnode") if n.attrs.get("cellid") == cell), None) \
        if cell is not None else None
    node = node or tune.find("memory")
    if node is None or not node.attrs.get("nodeset"):
        return None, ""
    mode = node.attrs.get("mode", "strict")
    if mode == "restrictive":
        return None, ""
    return parse_nodeset(node.attrs["nodeset"]), {"strict": "bind"}.get(mode, mode)


def _hugepage_kib(cmd: Cmd, backing: XNode | None, cell: str | None) -> int:
    """The huge page size backing the RAM (or one cell), in KiB; 0 for normal pages."""
    pages = backing.find("hugepages") if backing is not None else None
    if pages is None:
        return 0
    default = 0
    chosen = None
    for page in pages.findall("page"):
        size = int(page.attrs.get("size", "0"))  # post-parse keeps KiB
        nodeset = page.attrs.get("nodeset")
        if nodeset is None:
            default = size
        elif cell is not None and int(cell) in parse_nodeset(nodeset):
            chosen = size
    size = chosen if chosen is not None else default
    if not pages.findall("page"):
        size = cmd.ctx.default_hugepage_kib  # <hugepages/>: the host's default size
    return 0 if size == SYSTEM_PAGE_KIB else size


def _cell_attr(defn: DomainDef, cell: str | None, name: str) -> str | None:
    if cell is None or defn.cpu is None:
        return None
    numa = defn.cpu.find("numa")
    node = next((c for c in numa.findall("cell") if c.attrs.get("id") == cell), None) \
        if numa is not None else None
    return node.attrs.get(name) if node is not None else None


def ram_backend(cmd: Cmd, ident: str, kib: int, cell: str | None = None) -> Props:
    """qemuBuildMemoryBackendProps for the default RAM (``cell`` None) or a NUMA cell; the
    thread-context object it preallocates with is added to the command first."""
    defn = cmd.defn
    backing = _top(defn, "memoryBacking")
    source = backing.find("source") if backing is not None else None
    kind = source.attrs.get("type") if source is not None else None
    huge = _hugepage_kib(cmd, backing, cell)
    access = backing.find("access") if backing is not None else None
    mode = _cell_attr(defn, cell, "memAccess") or (access.attrs.get("mode")
                                                   if access is not None else None)
    alloc = backing.find("allocation") if backing is not None else None
    prealloc = bool(huge) or (alloc is not None and alloc.attrs.get("mode") == "immediate")
    props: Props
    if kind == "memfd":
        props = {"qom-type": "memory-backend-memfd", "id": ident}
        if huge:
            props["hugetlb"] = True
            props["hugetlbsize"] = huge * 1024
    elif huge:
        path = cmd.ctx.hugepage_dirs.get(huge)
        if path is None:
            unsupported(f"Unable to find any usable hugetlbfs mount for {huge} KiB")
        props = {"qom-type": "memory-backend-file", "id": ident, "mem-path": path}
        discard = _cell_attr(defn, cell, "discard")
        if discard in ("yes", "no"):
            props["discard-data"] = discard == "yes"
        elif backing is not None and backing.find("discard") is not None:
            props["discard-data"] = True
    elif kind == "file":
        unsupported("file memory backing is not supported by this driver")
    else:
        props = {"qom-type": "memory-backend-ram", "id": ident}
    if mode in ("shared", "private"):
        props["share"] = mode == "shared"
    if cell is None and props["qom-type"] == "memory-backend-file":
        props["x-use-canonical-path-for-ramblock-id"] = False
    if prealloc:
        props["prealloc"] = True
    props["size"] = kib * 1024
    nodes, policy = _numatune(defn, cell)
    if nodes is not None:
        props["host-nodes"] = nodes
        props["policy"] = policy
        if prealloc and cmd.has("thread-context"):
            cmd.object({"qom-type": "thread-context", "id": f"tc-{ident}",
                        "node-affinity": nodes})
            props["prealloc-context"] = f"tc-{ident}"
    return props


def build_memory(cmd: Cmd) -> None:
    """qemuBuildMemCommandLine with QEMU's default RAM id (pc.ram)."""
    from pyvirt.conf.domain.cpu import numa_cells

    defn = cmd.defn
    if defn.max_memory_kib and defn.max_memory_slots:
        cmd.add("-m", f"size={defn.memory_kib}k,slots={defn.max_memory_slots},"
                      f"maxmem={defn.max_memory_kib}k")
    else:
        cmd.add("-m", str(defn.memory_kib // 1024))
    if not numa_cells(defn.cpu):
        cmd.object(ram_backend(cmd, "pc.ram", defn.memory_kib))
    backing = _top(defn, "memoryBacking")
    locked = backing is not None and backing.find("locked") is not None
    cmd.add("-overcommit", f"mem-lock={'on' if locked else 'off'}")


def build_numa(cmd: Cmd) -> None:
    """qemuBuildNumaCommandLine: a memory backend and -numa node per guest cell."""
    from pyvirt.conf.domain.cpu import numa_cells

    for cell in numa_cells(cmd.defn.cpu):
        cid = cell.get("id", "0")
        cmd.object(ram_backend(cmd, f"ram-node{cid}", int(cell.get("memory", "0")), cid))
        cpus = "".join(f",cpus={part}" for part in cell.get("cpus", "").split(",") if part)
        cmd.add("-numa", f"node,nodeid={cid}{cpus},memdev=ram-node{cid}")
