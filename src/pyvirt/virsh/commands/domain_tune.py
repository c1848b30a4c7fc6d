"""virsh's tuning commands of the "Domain Management" group (tools/virsh-domain.c): vcpupin,
emulatorpin, schedinfo, memtune, blkiotune, numatune, perf, domiftune, iothreadpin,
iothreadset, blkdeviotune, blockresize, blockjob, blockpull, blockcommit; and send-key.

Typed parameters print as virsh's "%-15s: %s" lines; the values come from libvirt-python's
dictionaries, so their Python type stands for the typed parameter's type.

``--json`` (a pyvirsh addition) prints, in query mode:

- ``vcpupin``: a list of ``{"vcpu": int, "affinity": [host CPU numbers]}``.
- ``emulatorpin``: ``{"affinity": [host CPU numbers]}``.
- ``schedinfo``: ``{"scheduler": str, "parameters": {field: value}}``.
- ``memtune``: ``{field: KiB as int, or null for unlimited}``.
- ``blkiotune``: ``{field: value}`` with libvirt's field names.
- ``numatune``: ``{"numa_mode": str (or the number libvirt gave), "numa_nodeset": str}``.
- ``perf``: ``{event name: enabled (bool)}``.
- ``domiftune``: ``{field: value}`` with libvirt's field names ("inbound.average", ...).
- ``blkdeviotune``: ``{field: value}`` with libvirt's field names ("total_bytes_sec", ...).
"""

from __future__ import annotations

import re

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.domain import affect_flags, exclusive, fail
from pyvirt.virsh.ctl import CommandError, CommandFailed, scale_error
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"

_MEMORY_UNLIMITED = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED
_NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")


def param_text(value: Any) -> str:
    """vshGetTypedParamValue for a libvirt-python value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:f}"
    return str(value)


def _print_param(ctl: Ctl, field: str, text: str) -> None:
    ctl.print(f"{field:<15}: {text}")


def set_or_show(ctl: Ctl, args: Args, updates: dict[str, Any],
                apply: Callable[[], object], apply_error: str,
                fetch: Callable[[], dict[str, Any]], fetch_error: str) -> bool:
    """The tail of virsh's typed-parameter commands: with new values, set them (nothing is
    printed); without, print the current ones (``--json`` as an object)."""
    if updates:
        try:
            apply()
        except libvirtError as exc:
            return fail(ctl, apply_error, exc)
        return True
    try:
        params = fetch()
    except libvirtError as exc:
        return fail(ctl, fetch_error, exc)
    if args.bool("json"):
        ctl.json(dict(params))
        return True
    for field, value in params.items():
        _print_param(ctl, field, param_text(value))
    return True


# ---- CPU lists (virBitmapParse / virBitmapDataFormat) ------------------------------------------

def format_cpus(cpus: tuple[bool, ...] | list[bool]) -> str:
    """virBitmapDataFormat: set bits as ranges, "0-3,6"."""
    parts: list[str] = []
    i = 0
    n = len(cpus)
    while i < n:
        if not cpus[i]:
            i += 1
            continue
        start = i
        while i + 1 < n and cpus[i + 1]:
            i += 1
        parts.append(str(start) if start == i else f"{start}-{i}")
        i += 1
    return ",".join(parts)


def cpu_numbers(cpus: tuple[bool, ...] | list[bool]) -> list[int]:
    """The host CPUs set in a CPU map (for --json)."""
    return [i for i, used in enumerate(cpus) if used]


def parse_cpulist(text: str, limit: int = 1024) -> set[int] | None:
    """virBitmapParse: "0-3,^2,5" (spaces around items allowed); None when malformed."""
    cpus: set[int] = set()
    excluded: set[int] = set()
    items = text.split(",")
    for raw in items:
        item = raw.strip(" \t\n\v\f\r")
        if not item:
            return None
        neg = item.startswith("^")
        if neg:
            item = item[1:]
        m = re.fullmatch(r"([0-9]+)(?:\s*-\s*([0-9]+))?", item)
        if m is None or (neg and m.group(2) is not None):
            return None
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if first > last or last >= limit:
            return None
        if neg:
            excluded.add(first)
        else:
            cpus.update(range(first, last + 1))
    return cpus - excluded


def _node_cpus(ctl: Ctl) -> int:
    """virshNodeGetCPUCount: the host's CPU count (CPU map, else node info)."""
    try:
        return int(ctl.conn.getCPUMap(0)[0])
    except libvirtError:
        ctl.reset_error()
    info = ctl.conn.getInfo()
    return int(info[4] * info[5] * info[6] * info[7])


def _cpumap(ctl: Ctl, text: str, maxcpu: int) -> tuple[bool, ...]:
    """virshParseCPUList: "r" for all host CPUs, else a CPU list within the host's."""
    if text.startswith("r"):
        return tuple([True] * maxcpu)
    cpus = parse_cpulist(text)
    if cpus is None:
        # virBitmapParse's own error follows virsh's message
        from pyvirt.errors import make_error

        ctl.error(f"Invalid cpulist '{text}'")
        ctl.report_libvirt_error(
            make_error(c.VIR_ERR_INVALID_ARG, f"Failed to parse bitmap '{text}'"))
        raise CommandFailed()
    if not cpus:
        raise CommandError(f"Invalid cpulist '{text}'")
    last = max(cpus)
    if last >= maxcpu:
        raise CommandError(f"CPU {last} in cpulist '{text}' exceed the maxcpu {maxcpu}")
    return tuple(i in cpus for i in range(maxcpu))


def _vcpu_count(ctl: Ctl, dom: Any, flags: int) -> int | None:
    """virshCPUCountCollect(checkState=True): None (message printed) when unavailable."""
    if (flags & c.VIR_DOMAIN_AFFECT_LIVE and not dom.isActive()) or \
            (flags & c.VIR_DOMAIN_AFFECT_CONFIG and not dom.isPersistent()):
        if flags & c.VIR_DOMAIN_AFFECT_LIVE:
            ctl.error("cannot get vcpupin for offline domain")
        else:
            ctl.error("cannot get vcpupin for transient domain")
        return None
    return int(dom.vcpusFlags(flags))


# ---- vcpupin, emulatorpin ------------------------------------------------------------------

@command("vcpupin", GROUP, "control or query domain vcpu affinity",
         "Pin domain VCPUs to host physical CPUs.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("vcpu", OptType.INT, "vcpu number"),
             Opt("cpulist", OptType.STRING,
                 "host cpu number(s) to set, or omit option to query", empty_ok=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_vcpupin(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    cpulist = args.string("cpulist")
    if cpulist is None:
        exclusive(args, ("live", "config"))
    vcpu = args.uint("vcpu")
    if cpulist is not None and vcpu is None:
        raise CommandError("vcpupin: Missing vCPU number in pin mode.")
    maxcpu = _node_cpus(ctl)
    dom = ctl.lookup_domain(args)
    if cpulist is None:
        ncpus = _vcpu_count(ctl, dom, flags | c.VIR_DOMAIN_VCPU_MAXIMUM)
        if ncpus is None:
            return False
        if vcpu is not None and vcpu >= ncpus:
            if flags & c.VIR_DOMAIN_AFFECT_LIVE or (
                    not flags & c.VIR_DOMAIN_AFFECT_CONFIG and dom.isActive() == 1):
                raise CommandError(
                    f"vcpu {vcpu} is out of range of live cpu count {ncpus}")
            raise CommandError(
                f"vcpu {vcpu} is out of range of persistent cpu count {ncpus}")
        info = dom.vcpuPinInfo(flags)
        if args.bool("json"):
            ctl.json([{"vcpu": i, "affinity": cpu_numbers(cpus)}
                      for i, cpus in enumerate(info[:ncpus]) if vcpu is None or i == vcpu])
            return True
        rows = [[str(i), format_cpus(cpus)] for i, cpus in enumerate(info[:ncpus])
                if vcpu is None or i == vcpu]
        ctl.print_table(["VCPU", "CPU Affinity"], rows)
        return True
    cpumap = _cpumap(ctl, cpulist, maxcpu)
    if flags == c.VIR_DOMAIN_AFFECT_CURRENT and not args.bool("current"):
        dom.pinVcpu(vcpu, cpumap)
    else:
        dom.pinVcpuFlags(vcpu, cpumap, flags)
    return True


@command("emulatorpin", GROUP, "control or query domain emulator affinity",
         "Pin domain emulator threads to host physical CPUs.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("cpulist", OptType.STRING,
                 "host cpu number(s) to set, or omit option to query", empty_ok=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_emulatorpin(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    chosen = args.bool("current") or args.bool("live") or args.bool("config")
    dom = ctl.lookup_domain(args)
    cpulist = args.string("cpulist")
    maxcpu = _node_cpus(ctl)
    if cpulist is None:
        cpus = dom.emulatorPinInfo(flags)
        if args.bool("json"):
            ctl.json({"affinity": cpu_numbers(cpus)})
            return True
        ctl.print_extra("emulator: CPU Affinity")
        ctl.print_extra("----------------------------------")
        ctl.print_extra("       *: ", end="")
        ctl.print(format_cpus(cpus))
        return True
    cpumap = _cpumap(ctl, cpulist, maxcpu)
    dom.pinEmulator(cpumap, flags if chosen else c.VIR_DOMAIN_AFFECT_LIVE)
    return True


# ---- scheduler -------------------------------------------------------------------------------

def _typed_value(field: str, current: Any, text: str) -> Any:
    """virTypedParamsAddFromString with the type of the parameter's current value."""
    def bad(kind: str) -> None:
        from pyvirt.errors import make_error, report

        report(make_error(c.VIR_ERR_INVALID_ARG,
                          f"Invalid value for field '{field}': expected {kind}"))
        raise CommandFailed()

    if isinstance(current, bool):
        if text in ("1", "yes", "true"):
            return True
        if text in ("0", "no", "false"):
            return False
        bad("boolean")
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            bad("double")
    if isinstance(current, int):
        try:
            value = int(text, 0)
        except ValueError:
            value = None
        if value is None or value < 0:
            bad("unsigned int")
        return value
    return text


@command("schedinfo", GROUP, "show/set scheduler parameters",
         "Show/Set scheduler parameters.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("weight", OptType.INT, "weight for XEN_CREDIT", named_only=True),
             Opt("cap", OptType.INT, "cap for XEN_CREDIT", named_only=True),
             Opt("current", OptType.BOOL, "get/set current scheduler info"),
             Opt("config", OptType.BOOL, "get/set value to be used on next boot"),
             Opt("live", OptType.BOOL, "get/set value from running domain"),
             Opt("set", OptType.ARGV, "parameter=value"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_schedinfo(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    config, live = args.bool("config"), args.bool("live")
    current = args.bool("current")
    query = c.VIR_DOMAIN_AFFECT_CURRENT if config and live else flags
    dom = ctl.lookup_domain(args)
    as_json = args.bool("json")
    try:
        sched, nparams = dom.schedulerType()
    except libvirtError as exc:
        ctl.save_error(exc)
        if not as_json:
            _print_param(ctl, "Scheduler", "Unknown")
        return False
    if not as_json:
        _print_param(ctl, "Scheduler", sched)
    if not nparams:
        return False

    def fetch() -> dict[str, Any]:
        if flags or current:
            return dict(dom.schedulerParametersFlags(query))
        return dict(dom.schedulerParameters())

    params = fetch()
    updates: dict[str, Any] = {}
    pairs: list[tuple[str, str]] = []
    for item in args.argv("set"):
        field, sep, value = item.partition("=")
        if not sep:
            raise CommandError("Invalid syntax for --set, expecting name=value")
        pairs.append((field, value))
    for name in ("cap", "weight"):
        given = args.string(name)
        if given is not None:
            pairs.append((name, given))
    for field, value in pairs:
        if field not in params:
            raise CommandError(f"invalid scheduler option: {field}")
        updates[field] = _typed_value(field, params[field], value)
    if updates:
        if flags or current:
            dom.setSchedulerParametersFlags(updates, flags)
        else:
            dom.setSchedulerParameters(updates)
        params = fetch()
    elif live and config:
        raise CommandError("cannot query both live and config at once")
    if as_json:
        ctl.json({"scheduler": sched, "parameters": params})
        return True
    for field, value in params.items():
        _print_param(ctl, field, param_text(value))
    return True


# ---- memtune, blkiotune, numatune -------------------------------------------------------------

_SCALE = {"": 1024, "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000,
          "m": 1024**2, "mib": 1024**2, "mb": 1000**2, "g": 1024**3, "gib": 1024**3,
          "gb": 1000**3, "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
          "p": 1024**5, "pib": 1024**5, "pb": 1000**5, "e": 1024**6, "eib": 1024**6,
          "eb": 1000**6}
_LLONG_MAX = (1 << 63) - 1


def _memtune_size(ctl: Ctl, args: Args, name: str) -> int | None:
    """virshMemtuneGetSize: KiB (rounded up); a negative number means unlimited."""
    text = args.string_quiet(name)
    if text is None:
        return None
    m = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)(.*)\Z", text, re.S)
    if m is None:
        raise CommandError(f"Unable to parse integer parameter {name}")
    value = int(m.group(1))
    if value < 0:
        return _MEMORY_UNLIMITED
    scale = _SCALE.get(m.group(2).lower())
    if scale is None or value > _LLONG_MAX // scale:
        err = scale_error(text, 1024, _LLONG_MAX)
        if err is not None:
            ctl.save_error(err)
        raise CommandError(f"Unable to parse integer parameter {name}")
    return (value * scale + 1023) // 1024


@command("memtune", GROUP, "Get or set memory parameters",
         "Get or set the current memory parameters for a guest domain.\n    To get the memory "
         "parameters use following command: \n\n    virsh # memtune <domain>", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("hard-limit", OptType.INT, "Max memory, as scaled integer (default KiB)"),
             Opt("soft-limit", OptType.INT,
                 "Memory during contention, as scaled integer (default KiB)"),
             Opt("swap-hard-limit", OptType.INT,
                 "Max memory plus swap, as scaled integer (default KiB)"),
             Opt("min-guarantee", OptType.INT,
                 "Min guaranteed memory, as scaled integer (default KiB)"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_memtune(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    updates: dict[str, int] = {}
    for name in ("hard-limit", "soft-limit", "swap-hard-limit", "min-guarantee"):
        value = _memtune_size(ctl, args, name)
        if value is not None:
            updates[name.replace("-", "_")] = value
    if updates:
        try:
            dom.setMemoryParameters(updates, flags)
        except libvirtError as exc:
            return fail(ctl, "Unable to change memory parameters", exc)
        return True
    try:
        params = dom.memoryParameters(flags)
    except libvirtError as exc:
        return fail(ctl, "Unable to get number of memory parameters", exc)
    if args.bool("json"):
        ctl.json({field: None if value == _MEMORY_UNLIMITED else value
                  for field, value in params.items()})
        return True
    for field, value in params.items():
        if isinstance(value, int) and value == _MEMORY_UNLIMITED:
            _print_param(ctl, field, "unlimited")
        else:
            _print_param(ctl, field, param_text(value))
    return True


_BLKIO_STRINGS = (("device-weights", "device_weight"),
                  ("device-read-iops-sec", "device_read_iops_sec"),
                  ("device-write-iops-sec", "device_write_iops_sec"),
                  ("device-read-bytes-sec", "device_read_bytes_sec"),
                  ("device-write-bytes-sec", "device_write_bytes_sec"))


@command("blkiotune", GROUP, "Get or set blkio parameters",
         "Get or set the current blkio parameters for a guest domain.\n    To get the blkio "
         "parameters use following command: \n\n    virsh # blkiotune <domain>", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("weight", OptType.INT, "IO Weight"),
             Opt("device-weights", OptType.STRING,
                 "per-device IO Weights, in the form of /path/to/device,weight,...",
                 completer="empty"),
             Opt("device-read-iops-sec", OptType.STRING,
                 "per-device read I/O limit per second, in the form of "
                 "/path/to/device,read_iops_sec,...", completer="empty"),
             Opt("device-write-iops-sec", OptType.STRING,
                 "per-device write I/O limit per second, in the form of "
                 "/path/to/device,write_iops_sec,...", completer="empty"),
             Opt("device-read-bytes-sec", OptType.STRING,
                 "per-device bytes read per second, in the form of "
                 "/path/to/device,read_bytes_sec,...", completer="empty"),
             Opt("device-write-bytes-sec", OptType.STRING,
                 "per-device bytes wrote per second, in the form of "
                 "/path/to/device,write_bytes_sec,...", completer="empty"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_blkiotune(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    updates: dict[str, Any] = {}
    weight = args.int("weight")
    if weight is not None:
        if weight <= 0:
            raise CommandError(f"Invalid value of {weight} for I/O weight")
        updates["weight"] = weight
    for opt, field in _BLKIO_STRINGS:
        text = args.string_quiet(opt)
        if text is not None:
            updates[field] = text
    return set_or_show(ctl, args, updates,
                       lambda: dom.setBlkioParameters(updates, flags),
                       "Unable to change blkio parameters",
                       lambda: dom.blkioParameters(flags),
                       "Unable to get number of blkio parameters")


@command("numatune", GROUP, "Get or set numa parameters",
         "Get or set the current numa parameters for a guest domain.\n    To get the numa "
         "parameters use following command: \n\n    virsh # numatune <domain>", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("mode", OptType.STRING,
                 "NUMA mode, one of strict, preferred and interleave \nor a number from the "
                 "virDomainNumatuneMemMode enum"),
             Opt("nodeset", OptType.STRING, "NUMA node selections to set"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_numatune(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    updates: dict[str, Any] = {}
    nodeset = args.string("nodeset")
    if nodeset is not None:
        updates["numa_nodeset"] = nodeset
    mode = args.string("mode")
    if mode is not None:
        if mode in _NUMA_MODES:
            updates["numa_mode"] = _NUMA_MODES.index(mode)
        else:
            try:
                updates["numa_mode"] = int(mode, 0)
            except ValueError:
                raise CommandError(f"Invalid mode: {mode}") from None
    if updates:
        try:
            dom.setNumaParameters(updates, flags)
        except libvirtError as exc:
            return fail(ctl, "Unable to change numa parameters", exc)
        return True
    try:
        params = dom.numaParameters(flags)
    except libvirtError as exc:
        return fail(ctl, "Unable to get number of memory parameters", exc)
    if args.bool("json"):
        ctl.json({field: _NUMA_MODES[value] if field == "numa_mode" and isinstance(value, int)
                  and 0 <= value < len(_NUMA_MODES) else value
                  for field, value in params.items()})
        return True
    for field, value in params.items():
        if field == "numa_mode" and isinstance(value, int) and 0 <= value < len(_NUMA_MODES):
            _print_param(ctl, field, _NUMA_MODES[value])
        else:
            _print_param(ctl, field, param_text(value))
    return True


# ---- perf events, interface bandwidth, IOThread pinning and parameters -------------------------

@command("perf", GROUP, "Get or set perf event",
         "Get or set the current perf events for a guest domain.\n    To get the perf events "
         "list use following command: \n\n    virsh # perf <domain>", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("enable", OptType.STRING, "perf events which will be enabled"),
             Opt("disable", OptType.STRING, "perf events which will be disabled"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_perf(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    enable = args.string("enable")
    disable = args.string("disable")
    dom = ctl.lookup_domain(args)
    events: dict[str, bool] = {}
    for text, state in ((enable, True), (disable, False)):
        for name in (text or "").split(","):
            if name:
                events[name] = state
    if not events:
        try:
            events = dict(dom.perfEvents(flags))
        except libvirtError as exc:
            return fail(ctl, "Unable to get perf events", exc)
    else:
        try:
            dom.setPerfEvents(events, flags)
        except libvirtError as exc:
            return fail(ctl, "Unable to enable/disable perf events", exc)
    if args.bool("json"):
        ctl.json({name: bool(state) for name, state in events.items()})
        return True
    for name, state in events.items():
        ctl.print_extra(f"{name:<15}: {'enabled' if state is True else 'disabled'}")
    return True


_UINT_MAX = (1 << 32) - 1


@command("domiftune", GROUP, "get/set parameters of a virtual interface",
         "Get/set parameters of a domain's virtual interface.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("interface", OptType.DATA, "interface device (MAC Address)", required=True),
             Opt("inbound", OptType.STRING,
                 "control domain's incoming traffics", completer="empty"),
             Opt("outbound", OptType.STRING,
                 "control domain's outgoing traffics", completer="empty"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domiftune(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain_devices import parse_rate

    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    device = args.string("interface") or ""
    inbound_text = args.string("inbound")
    outbound_text = args.string("outbound")
    updates: dict[str, int] = {}
    if inbound_text is not None:
        rate = parse_rate(inbound_text)
        if max(rate["average"], rate["peak"], rate["burst"]) > _UINT_MAX:
            raise CommandError(f"inbound rate larger than maximum {_UINT_MAX}")
        if not rate["average"] and (rate["burst"] or rate["peak"]) and not rate["floor"]:
            raise CommandError("either inbound average or floor is mandatory")
        updates["inbound.average"] = rate["average"]
        for key in ("peak", "burst", "floor"):
            if rate[key]:
                updates[f"inbound.{key}"] = rate[key]
    if outbound_text is not None:
        rate = parse_rate(outbound_text)
        if max(rate["average"], rate["peak"], rate["burst"]) > _UINT_MAX:
            raise CommandError(f"outbound rate larger than maximum {_UINT_MAX}")
        if rate["average"] == 0 and (rate["burst"] or rate["peak"]):
            raise CommandError("outbound average is mandatory")
        if rate["floor"]:
            raise CommandError("outbound floor is unsupported yet")
        updates["outbound.average"] = rate["average"]
        for key in ("peak", "burst"):
            if rate[key]:
                updates[f"outbound.{key}"] = rate[key]
    # libvirt counts the parameters without looking the device up: a bad device fails the
    # second call, as the fetch here
    return set_or_show(ctl, args, updates,
                       lambda: dom.setInterfaceParameters(device, updates, flags),
                       "Unable to set interface parameters",
                       lambda: dom.interfaceParameters(device, flags),
                       "Unable to get interface parameters")


@command("iothreadpin", GROUP, "control domain IOThread affinity",
         "Pin domain IOThreads to host physical CPUs.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("iothread", OptType.INT, "IOThread ID number", required=True),
             Opt("cpulist", OptType.DATA, "host cpu number(s) to set", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_iothreadpin(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    thread_id = args.uint("iothread", 0) or 0
    cpulist = args.string("cpulist") or ""
    maxcpu = _node_cpus(ctl)
    dom.pinIOThread(thread_id, _cpumap(ctl, cpulist, maxcpu), flags)
    return True


@command("iothreadset", GROUP, "modifies an existing IOThread of the guest domain",
         "Modifies an existing IOThread of the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("id", OptType.INT, "iothread id of existing IOThread", required=True),
             Opt("poll-max-ns", OptType.INT, "set the maximum IOThread polling time in ns"),
             Opt("poll-grow", OptType.INT, "set the value to increase the IOThread polling time"),
             Opt("poll-shrink", OptType.INT,
                 "set the value for reduction of the IOThread polling time"),
             Opt("thread-pool-min", OptType.INT, "lower boundary for worker thread pool"),
             Opt("thread-pool-max", OptType.INT, "upper boundary for worker thread pool"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_iothreadset(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    dom = ctl.lookup_domain(args)
    thread_id = args.int("id", 0) or 0
    if thread_id <= 0:
        raise CommandError(f"Invalid IOThread id value: '{thread_id}'")
    params: dict[str, int] = {}
    poll_max = args.ulong("poll-max-ns")
    if poll_max is not None:
        params["poll_max_ns"] = poll_max
    for opt, field in (("poll-grow", "poll_grow"), ("poll-shrink", "poll_shrink")):
        value = args.uint(opt)
        if value is not None:
            params[field] = value
    for opt, field in (("thread-pool-min", "thread_pool_min"),
                       ("thread-pool-max", "thread_pool_max")):
        value = args.int(opt)
        if value is not None:
            params[field] = value
    if not params:
        raise CommandError("Not enough arguments passed, nothing to set")
    dom.setIOThreadParams(thread_id, params, flags)
    return True


# ---- block I/O throttling, block resize ---------------------------------------------------------

_IOTUNE_SCALED = ("total-bytes-sec", "read-bytes-sec", "write-bytes-sec", "total-bytes-sec-max",
                  "read-bytes-sec-max", "write-bytes-sec-max")
_IOTUNE_PLAIN = ("total-iops-sec", "read-iops-sec", "write-iops-sec", "total-iops-sec-max",
                 "read-iops-sec-max", "write-iops-sec-max", "size-iops-sec",
                 "total-bytes-sec-max-length", "read-bytes-sec-max-length",
                 "write-bytes-sec-max-length", "total-iops-sec-max-length",
                 "read-iops-sec-max-length", "write-iops-sec-max-length")


@command("blkdeviotune", GROUP, "Set or query a block device I/O tuning parameters.",
         "Set or query disk I/O parameters such as block throttling.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("device", OptType.DATA, "block device", required=True),
             Opt("total_bytes_sec", OptType.ALIAS, "", alias="total-bytes-sec"),
             Opt("total-bytes-sec", OptType.INT,
                 "total throughput limit, as scaled integer (default bytes)"),
             Opt("read_bytes_sec", OptType.ALIAS, "", alias="read-bytes-sec"),
             Opt("read-bytes-sec", OptType.INT,
                 "read throughput limit, as scaled integer (default bytes)"),
             Opt("write_bytes_sec", OptType.ALIAS, "", alias="write-bytes-sec"),
             Opt("write-bytes-sec", OptType.INT,
                 "write throughput limit, as scaled integer (default bytes)"),
             Opt("total_iops_sec", OptType.ALIAS, "", alias="total-iops-sec"),
             Opt("total-iops-sec", OptType.INT, "total I/O operations limit per second"),
             Opt("read_iops_sec", OptType.ALIAS, "", alias="read-iops-sec"),
             Opt("read-iops-sec", OptType.INT, "read I/O operations limit per second"),
             Opt("write_iops_sec", OptType.ALIAS, "", alias="write-iops-sec"),
             Opt("write-iops-sec", OptType.INT, "write I/O operations limit per second"),
             Opt("total_bytes_sec_max", OptType.ALIAS, "", alias="total-bytes-sec-max"),
             Opt("total-bytes-sec-max", OptType.INT,
                 "total max, as scaled integer (default bytes)"),
             Opt("read_bytes_sec_max", OptType.ALIAS, "", alias="read-bytes-sec-max"),
             Opt("read-bytes-sec-max", OptType.INT, "read max, as scaled integer (default bytes)"),
             Opt("write_bytes_sec_max", OptType.ALIAS, "", alias="write-bytes-sec-max"),
             Opt("write-bytes-sec-max", OptType.INT,
                 "write max, as scaled integer (default bytes)"),
             Opt("total_iops_sec_max", OptType.ALIAS, "", alias="total-iops-sec-max"),
             Opt("total-iops-sec-max", OptType.INT, "total I/O operations max"),
             Opt("read_iops_sec_max", OptType.ALIAS, "", alias="read-iops-sec-max"),
             Opt("read-iops-sec-max", OptType.INT, "read I/O operations max"),
             Opt("write_iops_sec_max", OptType.ALIAS, "", alias="write-iops-sec-max"),
             Opt("write-iops-sec-max", OptType.INT, "write I/O operations max"),
             Opt("size_iops_sec", OptType.ALIAS, "", alias="size-iops-sec"),
             Opt("size-iops-sec", OptType.INT, "I/O size in bytes"),
             Opt("group_name", OptType.ALIAS, "", alias="group-name"),
             Opt("group-name", OptType.STRING,
                 "group name to share I/O quota between multiple drives", completer="empty"),
             Opt("total_bytes_sec_max_length", OptType.ALIAS,
                 "", alias="total-bytes-sec-max-length"),
             Opt("total-bytes-sec-max-length", OptType.INT,
                 "duration in seconds to allow total max bytes"),
             Opt("read_bytes_sec_max_length", OptType.ALIAS, "", alias="read-bytes-sec-max-length"),
             Opt("read-bytes-sec-max-length", OptType.INT,
                 "duration in seconds to allow read max bytes"),
             Opt("write_bytes_sec_max_length", OptType.ALIAS,
                 "", alias="write-bytes-sec-max-length"),
             Opt("write-bytes-sec-max-length", OptType.INT,
                 "duration in seconds to allow write max bytes"),
             Opt("total_iops_sec_max_length", OptType.ALIAS, "", alias="total-iops-sec-max-length"),
             Opt("total-iops-sec-max-length", OptType.INT,
                 "duration in seconds to allow total I/O operations max"),
             Opt("read_iops_sec_max_length", OptType.ALIAS, "", alias="read-iops-sec-max-length"),
             Opt("read-iops-sec-max-length", OptType.INT,
                 "duration in seconds to allow read I/O operations max"),
             Opt("write_iops_sec_max_length", OptType.ALIAS, "", alias="write-iops-sec-max-length"),
             Opt("write-iops-sec-max-length", OptType.INT,
                 "duration in seconds to allow write I/O operations max"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_blkdeviotune(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    disk = args.string("device") or ""
    updates: dict[str, Any] = {}
    try:
        for opt in _IOTUNE_SCALED:
            value = args.scaled(opt, "B")
            if value is not None:
                updates[opt.replace("-", "_")] = value
        for opt in _IOTUNE_PLAIN:
            value = args.ulong(opt)
            if value is not None:
                updates[opt.replace("-", "_")] = value
    except CommandError as exc:
        ctl.error(str(exc))
        raise CommandError("Unable to parse integer parameter", exc.cause) from None
    group = args.string("group-name")
    if group is not None:
        updates["group_name"] = group
    return set_or_show(ctl, args, updates,
                       lambda: dom.setBlockIoTune(disk, updates, flags),
                       "Unable to change block I/O throttle",
                       lambda: dom.blockIoTune(disk, flags),
                       "Unable to get block I/O throttle parameters")


@command("blockresize", GROUP, "Resize block device of domain.",
         "Resize block device of domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("path", OptType.DATA, "Fully-qualified path of block device", required=True),
             Opt("size", OptType.INT,
                 "New size of the block device, as scaled integer (default KiB)", required=True),
         ])
def cmd_blockresize(ctl: Ctl, args: Args) -> bool:
    path = args.string("path") or ""
    size = args.scaled("size", "KiB") or 0
    flags = 0
    if size % 1024 == 0:
        size //= 1024  # the older KiB interface where it will do
    else:
        flags |= c.VIR_DOMAIN_BLOCK_RESIZE_BYTES
    dom = ctl.lookup_domain(args)
    try:
        dom.blockResize(path, size, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to resize block device '{path}'", exc)
    ctl.print_extra(f"Block device '{path}' is resized", end="")
    return True


# ---- send-key ----------------------------------------------------------------------------------

_CODESETS = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32",
             "qnum")
_MAX_KEYS = 16  # VIR_DOMAIN_SEND_KEY_MAX_KEYS


def _key_number(text: str) -> int | None:
    """virshKeyCodeGetInt: a number in C's base-0 spelling (0x.., 0.. octal), at most 0xffff."""
    m = re.fullmatch(r"[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if m is None:
        return None
    digits = m.group(1)
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return value if value <= 0xFFFF else None


def _key_by_name(codeset: str, name: str) -> int | None:
    from pyvirt.virsh.commands import domain_keycodes as keys

    table = {"linux": keys.LINUX, "os_x": keys.OS_X, "win32": keys.WIN32}.get(codeset, {})
    return table.get(name)


@command("send-key", GROUP, "Send keycodes to the guest",
         "Send keycodes (integers or symbolic names) to the guest", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("codeset", OptType.STRING,
                 "the codeset of keycodes, default:linux", named_only=True),
             Opt("holdtime", OptType.INT,
                 "the time (in milliseconds) how long the keys will be held", named_only=True),
             Opt("keycode", OptType.ARGV, "the key code", required=True),
         ])
def cmd_send_key(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    codeset = args.string_quiet("codeset") or "linux"
    holdtime = args.uint("holdtime", 0) or 0
    if codeset == "rfb":
        codeset = "qnum"  # qnum's old name
    if codeset not in _CODESETS:
        raise CommandError(f"unknown codeset: '{codeset}'")
    codes: list[int] = []
    for key in args.argv("keycode"):
        if len(codes) == _MAX_KEYS:
            raise CommandError("too many keycodes")
        code = _key_number(key)
        if code is None:
            code = _key_by_name(codeset, key)
        if code is None:
            raise CommandError(f"invalid keycode: '{key}'")
        codes.append(code)
    dom.sendKey(_CODESETS.index(codeset), holdtime, codes, len(codes), 0)
    return True


# ---- block jobs ------------------------------------------------------------------------------

_BLOCK_JOBS = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit",
               "Backup")
_ULONG_MAX = (1 << 64) - 1


def _bandwidth(ctl: Ctl, args: Args, by_bytes: bool) -> int:
    """vshBlockJobOptionBandwidth: a (wrapping) number in MiB/s, or a scaled size in bytes
    (converted to MiB/s unless --bytes)."""
    text = args.raw("bandwidth")
    if text is None:
        return 0
    m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)", text)
    if m is not None and int(m.group(2)) <= _ULONG_MAX:
        value = int(m.group(2))
        return (-value) & _ULONG_MAX if m.group(1) == "-" else value
    m = re.fullmatch(r"[ \t\n\v\f\r]*\+?([0-9]+)(.*)", text, re.S)
    scaled: int | None = None
    if m is not None and int(m.group(1)) <= _ULONG_MAX:
        scaled = _scale(int(m.group(1)), m.group(2))
        if scaled is None:
            # virScaleInteger's own error, reported after virsh's
            err = scale_error(text, 1, _ULONG_MAX)
            if err is not None:
                ctl.save_error(err)
    if scaled is None or scaled > _ULONG_MAX:
        if scaled is not None:
            err = scale_error(text, 1, _ULONG_MAX)
            if err is not None:
                ctl.save_error(err)
        raise CommandError(f"Scaled numeric value '{text}' for <--bandwidth> option is "
                           "malformed or out of range")
    return scaled if by_bytes else scaled >> 20


def _scale(value: int, suffix: str) -> int | None:
    low = suffix.lower()
    if not suffix:
        return value
    if low in ("b", "byte", "bytes"):
        return value
    if len(suffix) == 1 or low[1:] == "ib":
        base = 1024
    elif len(suffix) == 2 and low[1] == "b":
        base = 1000
    else:
        return None
    power = "kmgtpe".find(low[0]) + 1
    return value * base ** power if power else None


def _job_info(ctl: Ctl, dom: Any, path: str, raw: bool, by_bytes: bool) -> bool:
    """virshBlockJobInfo: the job's progress (or raw fields) and bandwidth limit."""
    info: dict[str, int] = {}
    speed = 0
    queried = False
    if by_bytes or not raw:
        try:
            info = dom.blockJobInfo(path, c.VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES)
            speed = info.get("bandwidth", 0)
            queried = True
        except libvirtError as exc:
            if exc.get_error_code() not in (c.VIR_ERR_INVALID_ARG, c.VIR_ERR_OVERFLOW) \
                    or by_bytes or raw:
                raise
            ctl.reset_error()
    if not queried:
        info = dom.blockJobInfo(path, 0)
        speed = info.get("bandwidth", 0)
        if not raw:
            speed <<= 20
    if not info:
        if not raw:
            ctl.print_extra(f"No current block job for {path}", end="")
        return True
    kind = info.get("type", 0)
    name = _BLOCK_JOBS[kind] if 0 <= kind < len(_BLOCK_JOBS) else "Unknown job"
    if raw:
        ctl.print(f" type={name}\n bandwidth={info.get('bandwidth', 0)}\n "
                  f"cur={info.get('cur', 0)}\n end={info.get('end', 0)}")
        return True
    end, cur = info.get("end", 0), info.get("cur", 0)
    remaining = end - cur
    progress = 100 if remaining == 0 else min(int(100.0 - remaining * 100.0 / end), 99)
    ctl.out.flush()
    ctl.err.write(f"\r{name}: [{progress:3d} %]")
    ctl.err.flush()
    if speed:
        from pyvirt.virsh.commands.pool import pretty_capacity

        val, unit = pretty_capacity(speed)
        ctl.print(f"    Bandwidth limit: {speed} bytes/s ({val:.3f} {unit}/s)", end="")
    ctl.print()
    return True


@command("blockjob", GROUP, "Manage active block operations",
         "Query, adjust speed, or cancel active block operations.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("path", OptType.DATA, "fully-qualified path of disk", required=True),
             Opt("abort", OptType.BOOL, "abort the active job on the specified disk"),
             Opt("async", OptType.BOOL, "implies --abort; request but don't wait for job end"),
             Opt("pivot", OptType.BOOL, "implies --abort; conclude and pivot a copy or commit job"),
             Opt("info", OptType.BOOL, "get active job information for the specified disk"),
             Opt("bytes", OptType.BOOL, "get/set bandwidth in bytes rather than MiB/s"),
             Opt("raw", OptType.BOOL, "implies --info; output details rather than human summary"),
             Opt("bandwidth", OptType.INT, "set the bandwidth limit in MiB/s"),
         ])
def cmd_blockjob(ctl: Ctl, args: Args) -> bool:
    raw, by_bytes = args.bool("raw"), args.bool("bytes")
    exclusive(args, ("raw", "abort"), ("raw", "pivot"), ("raw", "async"), ("raw", "bandwidth"),
              ("info", "abort"), ("info", "pivot"), ("info", "async"), ("info", "bandwidth"),
              ("bytes", "abort"), ("bytes", "pivot"), ("bytes", "async"))
    dom = ctl.lookup_domain(args)
    path = args.string("path") or ""
    if args.has("bandwidth"):
        flags = c.VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES if by_bytes else 0
        dom.blockJobSetSpeed(path, _bandwidth(ctl, args, by_bytes), flags)
        return True
    if args.bool("abort") or args.bool("pivot") or args.bool("async"):
        flags = 0
        if args.bool("async"):
            flags |= c.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
        if args.bool("pivot"):
            flags |= c.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
        dom.blockJobAbort(path, flags)
        return True
    return _job_info(ctl, dom, path, raw, by_bytes)


@command("blockpull", GROUP, "Populate a disk from its backing image.",
         "Populate a disk from its backing image.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("path", OptType.DATA, "fully-qualified path of disk", required=True),
             Opt("bandwidth", OptType.INT, "bandwidth limit in MiB/s"),
             Opt("base", OptType.STRING, "path of backing file in chain for a partial pull"),
             Opt("wait", OptType.BOOL, "wait for job to finish"),
             Opt("verbose", OptType.BOOL, "with --wait, display the progress"),
             Opt("timeout", OptType.INT, "with --wait, abort if pull exceeds timeout (in seconds)"),
             Opt("async", OptType.BOOL, "with --wait, don't wait for cancel to finish"),
             Opt("keep-relative", OptType.BOOL, "keep the backing chain relatively referenced"),
             Opt("bytes", OptType.BOOL, "the bandwidth limit is in bytes/s rather than MiB/s"),
         ])
def cmd_blockpull(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import require

    require(args, "verbose", "wait")
    require(args, "async", "wait")
    by_bytes = args.bool("bytes")
    path = args.string("path") or ""
    base = args.string("base")
    bandwidth = _bandwidth(ctl, args, by_bytes)
    timeout = args.uint("timeout")
    if timeout is not None and (timeout == 0 or timeout > (2**31 - 1) // 1000):
        raise CommandError(
            f"Numeric value '{timeout}' for <timeout> option is malformed or out of range")
    flags = c.VIR_DOMAIN_BLOCK_REBASE_RELATIVE if args.bool("keep-relative") else 0
    dom = ctl.lookup_domain(args)
    if base or flags:
        if by_bytes:
            flags |= c.VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES
        dom.blockRebase(path, base, bandwidth, flags)
    else:
        if by_bytes:
            flags |= c.VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES
        dom.blockPull(path, bandwidth, flags)
    if not args.bool("wait"):
        ctl.print_extra("Block Pull started", end="")
        return True
    if not _wait_job(ctl, dom, path, "Block Pull", args.bool("verbose"), timeout,
                     args.bool("async")):
        ctl.print_extra("\nPull aborted", end="")
        return False
    ctl.print_extra("\nPull complete", end="")
    return True


def _wait_job(ctl: Ctl, dom: Any, path: str, label: str, verbose: bool, timeout: int | None,
              run_async: bool, until_ready: bool = False) -> bool:
    """virshBlockJobWait, simplified to polling: False when the timeout aborted the job."""
    import time

    deadline = time.monotonic() + timeout if timeout else None
    while True:
        info = dom.blockJobInfo(path, 0)
        if not info:
            break
        end, cur = info.get("end", 0), info.get("cur", 0)
        if verbose:
            progress = 100 if end == cur else min(int(100.0 - (end - cur) * 100.0 / end), 99)
            ctl.out.flush()
            ctl.err.write(f"\r{label}: [{progress:3d} %]")
            ctl.err.flush()
        if until_ready and end and end == cur:
            break
        if deadline is not None and time.monotonic() > deadline:
            dom.blockJobAbort(path, c.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC if run_async else 0)
            return False
        time.sleep(0.5)
    if verbose:
        ctl.out.flush()
        ctl.err.write(f"\r{label}: [100 %]")
        ctl.err.flush()
    return True


@command("blockcommit", GROUP, "Start a block commit operation.",
         "Commit changes from a snapshot down to its backing image.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("path", OptType.DATA, "fully-qualified path of disk", required=True),
             Opt("bandwidth", OptType.INT, "bandwidth limit in MiB/s"),
             Opt("base", OptType.STRING,
                 "path of base file to commit into (default bottom of chain)"),
             Opt("shallow", OptType.BOOL, "use backing file of top as base"),
             Opt("top", OptType.STRING, "path of top file to commit from (default top of chain)"),
             Opt("active", OptType.BOOL, "trigger two-stage active commit of top file"),
             Opt("delete", OptType.BOOL, "delete files that were successfully committed"),
             Opt("wait", OptType.BOOL,
                 "wait for job to complete (with --active, wait for job to sync)"),
             Opt("verbose", OptType.BOOL, "with --wait, display the progress"),
             Opt("timeout", OptType.INT,
                 "implies --wait, abort if copy exceeds timeout (in seconds)"),
             Opt("pivot", OptType.BOOL, "implies --active --wait, pivot when commit is synced"),
             Opt("keep-overlay", OptType.BOOL,
                 "implies --active --wait, quit when commit is synced"),
             Opt("async", OptType.BOOL, "with --wait, don't wait for cancel to finish"),
             Opt("keep-relative", OptType.BOOL, "keep the backing chain relatively referenced"),
             Opt("bytes", OptType.BOOL, "the bandwidth limit is in bytes/s rather than MiB/s"),
         ])
def cmd_blockcommit(ctl: Ctl, args: Args) -> bool:
    pivot, finish = args.bool("pivot"), args.bool("keep-overlay")
    active = args.bool("active") or pivot or finish
    blocking = args.bool("wait") or pivot or finish
    run_async, by_bytes = args.bool("async"), args.bool("bytes")
    exclusive(args, ("pivot", "keep-overlay"))
    path = args.string("path") or ""
    base = args.string("base")
    top = args.string("top")
    bandwidth = _bandwidth(ctl, args, by_bytes)
    flags = 0
    for on, flag in ((by_bytes, c.VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES),
                     (args.bool("shallow"), c.VIR_DOMAIN_BLOCK_COMMIT_SHALLOW),
                     (args.bool("delete"), c.VIR_DOMAIN_BLOCK_COMMIT_DELETE),
                     (active, c.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE),
                     (args.bool("keep-relative"), c.VIR_DOMAIN_BLOCK_COMMIT_RELATIVE)):
        if on:
            flags |= flag
    timeout = args.uint("timeout")
    if timeout is not None:
        if timeout == 0 or timeout > (2**31 - 1) // 1000:
            raise CommandError(f"Numeric value '{timeout}' for <timeout> option is malformed "
                               "or out of range")
        blocking = True
    if not blocking:
        for opt in ("verbose", "async"):
            if args.bool(opt):
                raise CommandError(f"--{opt} requires at least one of --timeout, --wait, "
                                   "--pivot, or --keep-overlay")
    dom = ctl.lookup_domain(args)
    dom.blockCommit(path, base, top, bandwidth, flags)
    if not blocking:
        ctl.print_extra("Active Block Commit started" if active else "Block Commit started",
                        end="")
        return True
    if not _wait_job(ctl, dom, path, "Block commit", args.bool("verbose"), timeout,
                     run_async, until_ready=active):
        ctl.print_extra("\nCommit aborted", end="")
        return False
    if not active:
        ctl.print_extra("\nCommit complete", end="")
        return True
    abort_flags = c.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC if run_async else 0
    if pivot:
        try:
            dom.blockJobAbort(path, abort_flags | c.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
        except libvirtError as exc:
            return fail(ctl, f"failed to pivot job for disk {path}", exc)
        ctl.print_extra("\nSuccessfully pivoted", end="")
    elif finish:
        try:
            dom.blockJobAbort(path, abort_flags)
        except libvirtError as exc:
            return fail(ctl, f"failed to finish job for disk {path}", exc)
        ctl.print_extra("\nCommit complete, overlay image kept", end="")
    else:
        ctl.print_extra("\nNow in synchronized phase", end="")
    return True
