"""virsh's "Host and Hypervisor" group (tools/virsh-host.c): node facts, capabilities,
versions, CPU models and the node's memory and CPU statistics.

``--json`` (a pyvirsh addition) prints one JSON document with these stable keys:

- ``nodeinfo --json``: ``model`` (str), ``cpus``, ``mhz``, ``sockets``, ``cores``,
  ``threads``, ``nodes`` (NUMA cells), ``memory_kib`` (all int).
- ``nodememstats --json``: an object mapping each statistic the driver reports
  (``total``, ``free``, ``buffers``, ``cached``, ...) to its value in KiB.
- ``nodecpustats --json``: ``user``, ``system``, ``idle``, ``iowait``, ``intr`` (those the
  driver reports) in nanoseconds; with ``--percent`` the same keys plus ``usage`` as
  percentages over one second (float, null when undefined).
- ``freecell --json``: ``total_kib`` (int) and, with ``--all`` or ``--cellno``, ``cells``:
  a list of ``{"cell": int, "free_kib": int}``; ``total_kib`` is then the sum of the
  cells listed.
"""

from __future__ import annotations

import math
import time

from pyvirt import libvirtError
from pyvirt.virsh.ctl import CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command, register_completer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "host"
JSON_OPT = Opt("json", OptType.BOOL, "print JSON")


def _fail(ctl: Ctl, message: str, exc: libvirtError) -> bool:
    """virsh's vshError(message), then the libvirt error as its end-of-command report."""
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def read_file(ctl: Ctl, path: str) -> str:
    """virFileReadAll as virsh uses it (the shared helper when the framework has one)."""
    reader = getattr(ctl, "read_file", None)
    if reader is not None:
        return str(reader(path))
    from pyvirt.virsh.commands.pool import read_xml_file

    return read_xml_file(ctl, path)


def _version(number: int) -> str:
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


def _file_opt(help_text: str, required: bool = True) -> Opt:
    # VIRSH_COMMON_OPT_FILE(_FULL)
    return Opt("file", OptType.DATA if required else OptType.STRING, help_text,
               required=required)


def _capabilities_doc(ctl: Ctl, xml: str, url: str, message: str) -> object:
    from pyvirt.conf.xmlutil import parse_xml

    try:
        return parse_xml(xml, url=url)
    except libvirtError as exc:
        ctl.report_libvirt_error(exc)
        raise CommandError(message) from exc


def _cell_ids(ctl: Ctl, message: str) -> list[int]:
    """Ids of /capabilities/host/topology/cells/cell, as freecell/allocpages read them."""
    try:
        xml = ctl.conn.getCapabilities()
    except libvirtError as exc:
        _fail(ctl, "unable to get node capabilities", exc)
        raise CommandFailed() from exc
    doc = _capabilities_doc(ctl, xml, "(capabilities)", message)
    ids = []
    for cell in doc.xpath("/capabilities/host/topology/cells/cell"):  # type: ignore[attr-defined]
        try:
            ids.append(int(cell.get("id", ""), 10))
        except ValueError:
            raise CommandError("conversion from string failed") from None
    return ids


@command("allocpages", GROUP, "Manipulate pages pool size",
         "Allocate or free some pages in the pool for NUMA cell.", [
             Opt("pagesize", OptType.INT, "page size (in kibibytes)", required=True),
             Opt("pagecount", OptType.INT, "page count", required=True),
             Opt("cellno", OptType.INT, "NUMA cell number", completer="cellno"),
             Opt("add", OptType.BOOL, "instead of setting new pool size add pages to it"),
             Opt("all", OptType.BOOL, "set on all NUMA cells"),
         ])
def cmd_allocpages(ctl: Ctl, args: Args) -> bool:
    from pyvirt import constants as c

    ctl.exclusive(args, "all", "cellno")
    start = args.int("cellno", default=-1)
    size = args.scaled("pagesize", default_unit="KiB") or 0
    count = args.int("pagecount", default=0) or 0
    pages = {(size + 1023) // 1024: count}
    flags = c.VIR_NODE_ALLOC_PAGES_ADD if args.bool("add") else c.VIR_NODE_ALLOC_PAGES_SET
    if args.bool("all"):
        for cell in _cell_ids(ctl, "unable to get node capabilities"):
            ctl.conn.allocPages(pages, cell, 1, flags)
    else:
        ctl.conn.allocPages(pages, start if start is not None else -1, 1, flags)
    return True


@command("capabilities", GROUP, "capabilities", "Returns capabilities of hypervisor/driver.")
def cmd_capabilities(ctl: Ctl, args: Args) -> bool:
    try:
        caps = ctl.conn.getCapabilities()
    except libvirtError as exc:
        return _fail(ctl, "failed to get capabilities", exc)
    ctl.print(caps)
    return True


def _extract_cpu_xmls(ctl: Ctl, path: str) -> list[str]:
    """vshExtractCPUDefXMLs: the <cpu> definitions in a CPU, domain, capabilities or domain
    capabilities document."""
    from lxml import etree

    from pyvirt.conf.xmlutil import parse_xml

    text = read_file(ctl, path)
    if text.startswith("<?xml") and "?>" in text:
        text = text[text.index("?>") + 2:]
    doc = parse_xml(f"<container>{text}</container>", url=path)
    nodes = doc.xpath(
        "/container/cpu|/container/domain/cpu|/container/capabilities/host/cpu|"
        "/container/domainCapabilities/cpu/mode[@name='host-model' and @supported='yes']")
    if not nodes:
        raise CommandError(
            f"File '{path}' does not contain any <cpu> element or valid domain XML, host "
            "capabilities XML, or domain capabilities XML")
    out = []
    for node in nodes:
        if node.tag == "mode":
            node.tag = "cpu"
            node.attrib.clear()
        node.tail = None
        out.append(etree.tostring(node, encoding="unicode"))
    return out


_COMPARE_HOST = {
    "incompatible": "CPU described in {} is incompatible with host CPU",
    "identical": "CPU described in {} is identical to host CPU",
    "superset": "Host CPU is a superset of CPU described in {}",
    "error": "Failed to compare host CPU with {}",
}
_COMPARE_HV = {
    "incompatible": "CPU described in {} is incompatible with the CPU provided by hypervisor "
                    "on the host",
    "identical": "CPU described in {} is identical to the CPU provided by hypervisor on the "
                 "host",
    "superset": "The CPU provided by hypervisor on the host is a superset of CPU described "
                "in {}",
    "error": "Failed to compare hypervisor CPU with {}",
}


def _print_compare(ctl: Ctl, result: int, path: str, texts: dict[str, str]) -> bool:
    from pyvirt import constants as c

    if result == c.VIR_CPU_COMPARE_INCOMPATIBLE:
        ctl.print(texts["incompatible"].format(path))
        return False
    if result == c.VIR_CPU_COMPARE_IDENTICAL:
        ctl.print(texts["identical"].format(path))
        return True
    if result == c.VIR_CPU_COMPARE_SUPERSET:
        ctl.print(texts["superset"].format(path))
        return True
    ctl.error(texts["error"].format(path))
    return False


def _compare_flags(args: Args) -> int:
    from pyvirt import constants as c

    flags = 0
    if args.bool("error"):
        flags |= c.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE
    if args.bool("validate"):
        flags |= c.VIR_CONNECT_COMPARE_CPU_VALIDATE_XML
    return flags


def _baseline_flags(args: Args) -> int:
    from pyvirt import constants as c

    flags = 0
    if args.bool("features"):
        flags |= c.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES
    if args.bool("migratable"):
        flags |= c.VIR_CONNECT_BASELINE_CPU_MIGRATABLE
    return flags


def _compare(ctl: Ctl, path: str, texts: dict[str, str], call: object) -> bool:
    try:
        result = call()  # type: ignore[operator]
    except libvirtError as exc:
        return _fail(ctl, texts["error"].format(path), exc)
    return _print_compare(ctl, result, path, texts)


@command("cpu-baseline", GROUP, "compute baseline CPU",
         "Compute baseline CPU for a set of given CPUs.", [
             _file_opt("file containing XML CPU descriptions"),
             Opt("features", OptType.BOOL, "Show features that are part of the CPU model type"),
             Opt("migratable", OptType.BOOL, "Do not include features that block migration"),
         ])
def cmd_cpu_baseline(ctl: Ctl, args: Args) -> bool:
    path = args.string("file") or ""
    cpus = _extract_cpu_xmls(ctl, path)
    ctl.print(ctl.conn.baselineCPU(cpus, _baseline_flags(args)), end="")
    return True


@command("cpu-compare", GROUP, "compare host CPU with a CPU described by an XML file",
         "compare CPU with host CPU", [
             _file_opt("file containing an XML CPU description"),
             Opt("error", OptType.BOOL, "report error if CPUs are incompatible"),
             Opt("validate", OptType.BOOL, "validate the XML document against schema"),
         ])
def cmd_cpu_compare(ctl: Ctl, args: Args) -> bool:
    flags = _compare_flags(args)
    path = args.string("file") or ""
    cpus = _extract_cpu_xmls(ctl, path)
    return _compare(ctl, path, _COMPARE_HOST, lambda: ctl.conn.compareCPU(cpus[0], flags))


@command("cpu-models", GROUP, "CPU models", "Get the CPU models for an arch.", [
    Opt("arch", OptType.DATA, "architecture", required=True, completer="arch"),
])
def cmd_cpu_models(ctl: Ctl, args: Args) -> bool:
    try:
        models = ctl.conn.getCPUModelNames(args.string("arch") or "", 0)
    except libvirtError as exc:
        return _fail(ctl, "failed to get CPU model names", exc)
    if not models:
        ctl.print_extra("all CPU models are accepted")
    for model in models:
        ctl.print(model)
    return True


@command("domcapabilities", GROUP, "domain capabilities",
         "Returns capabilities of emulator with respect to host and libvirt.", [
             Opt("virttype", OptType.STRING, "virtualization type (/domain/@type)",
                 completer="virttype"),
             Opt("emulatorbin", OptType.STRING,
                 "path to emulator binary (/domain/devices/emulator)"),
             Opt("arch", OptType.STRING, "domain architecture (/domain/os/type/@arch)",
                 completer="arch"),
             Opt("machine", OptType.STRING, "machine type (/domain/os/type/@machine)"),
         ])
def cmd_domcapabilities(ctl: Ctl, args: Args) -> bool:
    try:
        caps = ctl.conn.getDomainCapabilities(
            args.string("emulatorbin"), args.string("arch"), args.string("machine"),
            args.string("virttype"), 0)
    except libvirtError as exc:
        return _fail(ctl, "failed to get emulator capabilities", exc)
    ctl.print(caps)
    return True


@command("freecell", GROUP, "NUMA free memory",
         "display available free memory for the NUMA cell.", [
             Opt("cellno", OptType.INT, "NUMA cell number", completer="cellno"),
             Opt("all", OptType.BOOL, "show free memory for all NUMA cells"),
             JSON_OPT,
         ])
def cmd_freecell(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "all", "cellno")
    as_json = args.bool("json")
    if not args.bool("all"):
        if args.has("cellno"):
            cell = args.int("cellno") or 0
            if cell < 0:
                # libvirt.c's check (libvirt-python refuses the call without a message)
                raise CommandError(
                    "startCell in virNodeGetCellsFreeMemory must be zero or greater")
            free = ctl.conn.getCellsFreeMemory(cell, 1)
            if len(free) != 1:
                return False
            if as_json:
                ctl.json({"cells": [{"cell": cell, "free_kib": free[0] // 1024}],
                          "total_kib": free[0] // 1024})
            else:
                ctl.print(f"{cell}: {free[0] // 1024} KiB")
            return True
        memory = ctl.conn.getFreeMemory()
        if not memory:
            # 0 is libvirt's failure value; with no error recorded, libvirt's dispatcher
            # reports this generic one
            from pyvirt.errors import last_error

            if last_error() is None:
                ctl.error("An error occurred, but the cause is unknown")
            return False
        if as_json:
            ctl.json({"total_kib": memory // 1024})
        else:
            ctl.print(f"Total: {memory // 1024} KiB")
        return True

    cells: list[tuple[int, int]] = []
    for cell in _cell_ids(ctl, "unable to get node capabilities"):
        try:
            one = ctl.conn.getCellsFreeMemory(cell, 1)
        except libvirtError as exc:
            return _fail(ctl, f"failed to get free memory for NUMA node number: {cell}", exc)
        if len(one) != 1:
            ctl.error(f"failed to get free memory for NUMA node number: {cell}")
            return False
        cells.append((cell, one[0]))
    total = sum(mem for _cell, mem in cells)
    if as_json:
        ctl.json({"cells": [{"cell": cell, "free_kib": mem // 1024} for cell, mem in cells],
                  "total_kib": total // 1024})
        return True
    for cell, mem in cells:
        ctl.print(f"{cell:5d}: {mem // 1024:10d} KiB")
    ctl.print_extra("--------------------")
    ctl.print_extra(f"{'Total':>5s}: {total // 1024:10d} KiB")
    return True


def _page_sizes_from_caps(ctl: Ctl, doc: object) -> list[int]:
    nodes = doc.xpath("/capabilities/host/cpu/pages")  # type: ignore[attr-defined]
    if not nodes:
        nodes = doc.xpath("/capabilities/host/topology/cells/cell/pages")  # type: ignore[attr-defined]
        if not nodes:
            raise CommandError("could not get information about supported page sizes")
    sizes = []
    for node in nodes:
        value = node.get("size")
        try:
            sizes.append(int(value or "", 10))
        except ValueError:
            raise CommandError(f"unable to parse page size: {value}") from None
    return sorted(set(sizes))


@command("freepages", GROUP, "NUMA free pages", "display available free pages for the NUMA cell.",
         [
             Opt("cellno", OptType.INT, "NUMA cell number", completer="cellno"),
             Opt("pagesize", OptType.INT, "page size (in kibibytes)"),
             Opt("all", OptType.BOOL, "show free pages for all NUMA cells"),
         ])
def cmd_freepages(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "all", "cellno")
    size_bytes = args.scaled("pagesize", default_unit="KiB") or 0
    kib = (size_bytes + 1023) // 1024
    if args.bool("all"):
        try:
            xml = ctl.conn.getCapabilities()
        except libvirtError as exc:
            return _fail(ctl, "unable to get node capabilities", exc)
        doc = _capabilities_doc(ctl, xml, "capabilities", "unable to parse node capabilities")
        sizes = _page_sizes_from_caps(ctl, doc) if not args.has("pagesize") else [kib]
        for node in doc.xpath("/capabilities/host/topology/cells/cell"):  # type: ignore[attr-defined]
            value = node.get("id")
            try:
                cell = int(value or "", 10)
            except ValueError:
                raise CommandError(f"unable to parse numa node id: {value}") from None
            counts = ctl.conn.getFreePages(sizes, cell, 1, 0).get(cell, {})
            ctl.print(f"Node {cell}:")
            for size in sizes:
                ctl.print(f"{size}KiB: {counts.get(size, 0)}")
            ctl.print("")
        return True
    if not args.has("cellno"):
        raise CommandError("missing cellno argument")
    cell = args.int("cellno") or 0
    if cell < -1:
        raise CommandError("cell number must be non-negative integer or -1")
    if not args.has("pagesize"):
        raise CommandError("missing pagesize argument")
    counts = ctl.conn.getFreePages([kib], cell, 1, 0).get(cell, {})
    ctl.print(f"{kib}KiB: {counts.get(kib, 0)}")
    return True


@command("hostname", GROUP, "print the hypervisor hostname", "")
def cmd_hostname(ctl: Ctl, args: Args) -> bool:
    try:
        hostname = ctl.conn.getHostname()
    except libvirtError as exc:
        return _fail(ctl, "failed to get hostname", exc)
    ctl.print(hostname)
    return True


_HV_OPTS = (
    Opt("virttype", OptType.STRING, "virtualization type (/domain/@type)",
                 completer="virttype"),
    Opt("emulator", OptType.STRING, "path to emulator binary (/domain/devices/emulator)"),
    Opt("arch", OptType.STRING, "CPU architecture (/domain/os/type/@arch)", completer="arch"),
    Opt("machine", OptType.STRING, "machine type (/domain/os/type/@machine)"),
)


@command("hypervisor-cpu-baseline", GROUP, "compute baseline CPU usable by a specific hypervisor",
         "Compute baseline CPU for a set of given CPUs. The result will be tailored to the "
         "specified hypervisor.", [
             _file_opt("file containing XML CPU descriptions", required=False),
             *_HV_OPTS,
             Opt("features", OptType.BOOL, "Show features that are part of the CPU model type"),
             Opt("migratable", OptType.BOOL, "Do not include features that block migration"),
             Opt("model", OptType.STRING,
                 "Shortcut for calling the command with a single CPU model and no additional "
                 "features", completer="cpu_model"),
         ])
def cmd_hypervisor_cpu_baseline(ctl: Ctl, args: Args) -> bool:
    flags = _baseline_flags(args)
    path = args.string("file")
    model = args.string("model")
    # VSH_ALTERNATIVE_OPTIONS_EXPR
    if path is not None and model is not None:
        raise CommandError("Options --file and --model are mutually exclusive")
    if path is None and model is None:
        raise CommandError("Either --file or --model must be provided")
    if path is not None:
        cpus = _extract_cpu_xmls(ctl, path)
    else:
        from lxml import etree

        cpu = etree.Element("cpu")
        etree.SubElement(cpu, "model").text = model
        cpus = [etree.tostring(cpu, encoding="unicode")]
    result = ctl.conn.baselineHypervisorCPU(
        args.string("emulator"), args.string("arch"), args.string("machine"),
        args.string("virttype"), cpus, flags)
    ctl.print(result, end="")
    return True


@command("hypervisor-cpu-compare", GROUP,
         "compare a CPU with the CPU created by a hypervisor on the host",
         "compare CPU with hypervisor CPU", [
             _file_opt("file containing an XML CPU description"),
             *_HV_OPTS,
             Opt("error", OptType.BOOL, "report error if CPUs are incompatible"),
             Opt("validate", OptType.BOOL, "validate the XML document against schema"),
         ])
def cmd_hypervisor_cpu_compare(ctl: Ctl, args: Args) -> bool:
    flags = _compare_flags(args)
    path = args.string("file") or ""
    emulator, arch = args.string("emulator"), args.string("arch")
    machine, virttype = args.string("machine"), args.string("virttype")
    cpus = _extract_cpu_xmls(ctl, path)
    return _compare(ctl, path, _COMPARE_HV, lambda: ctl.conn.compareHypervisorCPU(
        emulator, arch, machine, virttype, cpus[0], flags))


@command("maxvcpus", GROUP, "connection vcpu maximum",
         "Show maximum number of virtual CPUs for guests on this connection.", [
             Opt("type", OptType.STRING, "domain type", completer="virttype"),
         ])
def cmd_maxvcpus(ctl: Ctl, args: Args) -> bool:
    virttype = args.string("type")
    vcpus = -1
    try:
        caps = ctl.conn.getDomainCapabilities(None, None, None, virttype, 0)
    except libvirtError:
        caps = None  # fall back to virConnectGetMaxVcpus, as virsh does
        ctl.reset_error()
    if caps:
        from pyvirt.conf.xmlutil import parse_xml

        try:
            doc = parse_xml(caps, url="(domainCapabilities)")
        except libvirtError as exc:
            ctl.report_libvirt_error(exc)
            return False
        try:
            vcpus = int(doc.xpath("string(./vcpu[1]/@max)"))
        except ValueError:
            vcpus = -1
    if vcpus < 0:
        vcpus = ctl.conn.getMaxVcpus(virttype)
    ctl.print(str(vcpus))
    return True


_MEMORY_TUNABLES = (
    ("shm-pages-to-scan", "shm_pages_to_scan",
     "number of pages to scan before the shared memory service goes to sleep"),
    ("shm-sleep-millisecs", "shm_sleep_millisecs",
     "number of millisecs the shared memory service should sleep before next scan"),
    ("shm-merge-across-nodes", "shm_merge_across_nodes",
     "Specifies if pages from different numa nodes can be merged"),
)


def _typed_value(value: object) -> str:
    # vshGetTypedParamValue: booleans are yes/no, numbers plain, floats with 6 decimals
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:f}"
    return str(value)


@command("node-memory-tune", GROUP, "Get or set node memory parameters",
         "Get or set node memory parameters\n"
         "    To get the memory parameters, use following command: \n\n"
         "    virsh # node-memory-tune",
         [Opt(name, OptType.INT, text) for name, _field, text in _MEMORY_TUNABLES])
def cmd_node_memory_tune(ctl: Ctl, args: Args) -> bool:
    params: dict[str, int] = {}
    for name, field, _text in _MEMORY_TUNABLES:
        value = args.uint(name)
        if value is not None:
            params[field] = value
    if params:
        try:
            ctl.conn.setMemoryParameters(params, 0)
        except libvirtError as exc:
            return _fail(ctl, "Unable to change memory parameters", exc)
        return True
    try:
        current = ctl.conn.getMemoryParameters(0)
    except libvirtError as exc:
        return _fail(ctl, "Unable to get number of memory parameters", exc)
    if not current:
        return True
    ctl.print("Shared memory:")
    for field, value in current.items():
        ctl.print(f"\t{field:<15s} {_typed_value(value)}")
    return True


def _bitmap_ranges(bits: list[bool]) -> str:
    """virBitmapFormat: "0-3,5,7-8"."""
    parts = []
    i = 0
    while i < len(bits):
        if not bits[i]:
            i += 1
            continue
        start = i
        while i + 1 < len(bits) and bits[i + 1]:
            i += 1
        parts.append(str(start) if start == i else f"{start}-{i}")
        i += 1
    return ",".join(parts)


@command("nodecpumap", GROUP, "node cpu map",
         "Displays the node's total number of CPUs, the number of online CPUs and the list of "
         "online CPUs.", [
             Opt("pretty", OptType.BOOL, "return human readable output"),
         ])
def cmd_nodecpumap(ctl: Ctl, args: Args) -> bool:
    try:
        cpunum, cpumap, online = ctl.conn.getCPUMap(0)
    except libvirtError as exc:
        return _fail(ctl, "Unable to get cpu map", exc)
    ctl.print(f"{'CPUs present:':<15s} {cpunum}")
    ctl.print(f"{'CPUs online:':<15s} {online}")
    if args.bool("pretty"):
        shown = _bitmap_ranges(list(cpumap))
    else:
        shown = "".join("y" if cpumap[cpu] else "-" for cpu in range(cpunum))
    ctl.print(f"{'CPU map:':<15s} {shown}")
    return True


# virsh's order and labels; the driver's field names (VIR_NODE_CPU_STATS_*)
_CPU_FIELDS = (
    ("user", "user"),
    ("kernel", "system"),
    ("idle", "idle"),
    ("iowait", "iowait"),
    ("intr", "intr"),
)


def _percent(value: float) -> str:
    # glibc prints 0.0/0.0 as "-nan"
    return f"{'-nan' if math.isnan(value) else f'{value:.1f}':>5s}%"


@command("nodecpustats", GROUP, "Prints cpu stats of the node.",
         "Returns cpu stats of the node, in nanoseconds.", [
             Opt("cpu", OptType.INT, "prints specified cpu statistics only.",
                 completer="node_cpu"),
             Opt("percent", OptType.BOOL, "prints by percentage during 1 second."),
             JSON_OPT,
         ])
def cmd_nodecpustats(ctl: Ctl, args: Args) -> bool:
    cpu = args.int("cpu", default=-1)
    percent = args.bool("percent")
    try:
        first = ctl.conn.getCPUStats(-1 if cpu is None else cpu, 0)
    except libvirtError as exc:
        return _fail(ctl, "Unable to get number of cpu stats", exc)
    if not first:
        return True
    stats = {label: first[field] for field, label in _CPU_FIELDS if field in first}
    usage = first.get("utilization")
    if percent and usage is None:
        time.sleep(1)
        try:
            second = ctl.conn.getCPUStats(-1 if cpu is None else cpu, 0)
        except libvirtError as exc:
            return _fail(ctl, "Unable to get node cpu stats", exc)
        for field, label in _CPU_FIELDS:
            if label in stats and field in second:
                stats[label] = (second[field] - stats[label]) % (1 << 64)
    as_json = args.bool("json")
    if not percent:
        if as_json:
            ctl.json(stats)
            return True
        for label, value in stats.items():
            ctl.print(f"{label + ':':<15s} {value:20d}")
        return True
    if usage is not None:
        if as_json:
            ctl.json({"usage": float(usage), "idle": float(100 - usage)})
            return True
        ctl.print(f"{'usage:':<15s} {usage:5d}%")
        ctl.print(f"{'idle:':<15s} {100 - usage:5d}%")
        return True
    total = float(sum(stats.values()))

    def share(value: float) -> float:
        return value / total * 100 if total else math.nan

    shares: dict[str, float] = {"usage": share(stats.get("user", 0) + stats.get("system", 0))}
    shares.update((label, share(value)) for label, value in stats.items())
    if as_json:
        ctl.json({k: (None if math.isnan(v) else round(v, 1)) for k, v in shares.items()})
        return True
    for label, pct in shares.items():
        ctl.print(f"{label + ':':<15s} {_percent(pct)}")
    return True


@command("nodeinfo", GROUP, "node information", "Returns basic information about the node.",
         [JSON_OPT])
def cmd_nodeinfo(ctl: Ctl, args: Args) -> bool:
    try:
        model, memory_mib, cpus, mhz, nodes, sockets, cores, threads = ctl.conn.getInfo()
    except libvirtError as exc:
        return _fail(ctl, "failed to get node information", exc)
    # getInfo() reports MiB; virsh prints virNodeInfo's KiB figure
    memory_kib = memory_mib * 1024
    if args.bool("json"):
        ctl.json({"model": model, "cpus": cpus, "mhz": mhz, "sockets": sockets,
                  "cores": cores, "threads": threads, "nodes": nodes,
                  "memory_kib": memory_kib})
        return True
    ctl.print(f"{'CPU model:':<20s} {model}")
    ctl.print(f"{'CPU(s):':<20s} {cpus}")
    if mhz:
        ctl.print(f"{'CPU frequency:':<20s} {mhz} MHz")
    ctl.print(f"{'CPU socket(s):':<20s} {sockets}")
    ctl.print(f"{'Core(s) per socket:':<20s} {cores}")
    ctl.print(f"{'Thread(s) per core:':<20s} {threads}")
    ctl.print(f"{'NUMA cell(s):':<20s} {nodes}")
    ctl.print(f"{'Memory size:':<20s} {memory_kib} KiB")
    return True


@command("nodememstats", GROUP, "Prints memory stats of the node.",
         "Returns memory stats of the node, in kilobytes.", [
             Opt("cell", OptType.INT, "prints specified cell statistics only."),
             JSON_OPT,
         ])
def cmd_nodememstats(ctl: Ctl, args: Args) -> bool:
    cell = args.int("cell", default=-1)
    try:
        stats = ctl.conn.getMemoryStats(-1 if cell is None else cell, 0)
    except libvirtError as exc:
        return _fail(ctl, "Unable to get number of memory stats", exc)
    if args.bool("json"):
        ctl.json(dict(stats))
        return True
    for field, value in stats.items():
        ctl.print(f"{field:<7s}: {value:20d} KiB")
    return True


@command("nodesevinfo", GROUP, "node SEV information",
         "Returns basic SEV information about the node.")
def cmd_nodesevinfo(ctl: Ctl, args: Args) -> bool:
    try:
        info = ctl.conn.getSEVInfo(0)
    except libvirtError as exc:
        return _fail(ctl, "Unable to get host SEV information", exc)
    for field, value in info.items():
        ctl.print(f"{field:<18s}: {_typed_value(value)}")
    return True


_SUSPEND_TARGETS = ("mem", "disk", "hybrid")


@command("nodesuspend", GROUP, "suspend the host node for a given time duration",
         "Suspend the host node for a given time duration and attempt to resume thereafter.", [
             Opt("target", OptType.DATA,
                 "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)",
                 required=True, completer="node_suspend_target"),
             Opt("duration", OptType.INT, "Suspend duration in seconds, at least 60",
                 required=True),
         ])
def cmd_nodesuspend(ctl: Ctl, args: Args) -> bool:
    target = args.string("target") or ""
    duration = args.long("duration") or 0
    if target not in _SUSPEND_TARGETS:
        raise CommandError("Invalid target")
    if duration < 0:
        raise CommandError("Invalid duration")
    try:
        ctl.conn.suspendForDuration(_SUSPEND_TARGETS.index(target), duration, 0)
    except libvirtError as exc:
        return _fail(ctl, "The host was not suspended", exc)
    return True


@command("sysinfo", GROUP, "print the hypervisor sysinfo",
         "output an XML string for the hypervisor sysinfo, if available")
def cmd_sysinfo(ctl: Ctl, args: Args) -> bool:
    try:
        sysinfo = ctl.conn.getSysinfo(0)
    except libvirtError as exc:
        return _fail(ctl, "failed to get sysinfo", exc)
    ctl.print(sysinfo, end="")
    return True


@command("uri", GROUP, "print the hypervisor canonical URI", "")
def cmd_uri(ctl: Ctl, args: Args) -> bool:
    try:
        uri = ctl.conn.getURI()
    except libvirtError as exc:
        return _fail(ctl, "failed to get URI", exc)
    ctl.print(uri)
    return True


@command("version", GROUP, "show version", "Display the system version information.", [
    Opt("daemon", OptType.BOOL, "report daemon version too"),
])
def cmd_version(ctl: Ctl, args: Args) -> bool:
    import pyvirt
    from pyvirt.constants import LIBVIR_VERSION_NUMBER

    try:
        hv_type = ctl.conn.getType()
    except libvirtError as exc:
        return _fail(ctl, "failed to get hypervisor type", exc)
    ctl.print(f"Compiled against library: libvirt {_version(LIBVIR_VERSION_NUMBER)}")
    try:
        lib_version = pyvirt.getVersion()
    except libvirtError as exc:
        return _fail(ctl, "failed to get the library version", exc)
    ctl.print(f"Using library: libvirt {_version(lib_version)}")
    # virGetVersion reports the library's own version for every driver type
    ctl.print(f"Using API: {hv_type} {_version(lib_version)}")
    try:
        hv_version = ctl.conn.getVersion()
    except libvirtError as exc:
        return _fail(ctl, "failed to get the hypervisor version", exc)
    if hv_version == 0:
        ctl.print(f"Cannot extract running {hv_type} hypervisor version")
    else:
        ctl.print(f"Running hypervisor: {hv_type} {_version(hv_version)}")
    if args.bool("daemon"):
        try:
            daemon = ctl.conn.getLibVersion()
        except libvirtError:
            ctl.error("failed to get the daemon version")
        else:
            ctl.print(f"Running against daemon: {_version(daemon)}")
    return True


# ---- completers (virsh-completer-host.c) -------------------------------------------------------

def _complete_cells(ctl: Ctl, values: dict[str, str]) -> list[str]:
    from pyvirt.conf.xmlutil import parse_xml

    doc = parse_xml(ctl.conn.getCapabilities(), url="(capabilities)")
    return [str(v) for v in doc.xpath("/capabilities/host/topology/cells/cell/@id")]


def _complete_cpus(ctl: Ctl, values: dict[str, str]) -> list[str]:
    cpunum, cpumap, _online = ctl.conn.getCPUMap(0)
    return [str(cpu) for cpu in range(cpunum) if cpumap[cpu]]


def _complete_arches(ctl: Ctl, values: dict[str, str]) -> list[str]:
    from pyvirt.conf.xmlutil import parse_xml

    doc = parse_xml(ctl.conn.getCapabilities(), url="(capabilities)")
    return sorted({str(v) for v in doc.xpath("/capabilities/guest/arch/@name")})


def _complete_models(ctl: Ctl, values: dict[str, str]) -> list[str]:
    arch = values.get("arch")
    if not arch:
        from pyvirt.conf.xmlutil import parse_xml

        doc = parse_xml(ctl.conn.getCapabilities(), url="(capabilities)")
        arch = str(doc.xpath("string(/capabilities/host/cpu/arch)"))
    return list(ctl.conn.getCPUModelNames(arch, 0))


# virDomainVirtType's names, as virshDomainVirtTypeCompleter offers them
_VIRT_TYPES = ("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test",
               "vmware", "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz")

register_completer("cellno", _complete_cells)
register_completer("node_cpu", _complete_cpus)
register_completer("arch", _complete_arches)
register_completer("cpu_model", _complete_models)
register_completer("virttype", lambda ctl, values: list(_VIRT_TYPES))
register_completer("node_suspend_target", lambda ctl, values: list(_SUSPEND_TARGETS))
