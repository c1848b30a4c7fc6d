"""virsh's "Domain Monitoring" group (tools/virsh-domain-monitor.c) and the read-only vCPU and
job commands virsh keeps in the domain group (vcpuinfo, vcpucount, domjobinfo).

``--json`` (our addition) prints one JSON document with these stable keys:

- ``list``: a list of ``{"id": int|null, "name": str, "uuid": str, "state": str}``
  (``"title": str`` too with ``--title``); ``state`` is virsh's word ("running", "shut off",
  "saved" with ``--managed-save``).
- ``dominfo``: ``{"id", "name", "uuid", "os_type", "state", "cpus", "cpu_time_ns",
  "max_memory_kib", "used_memory_kib", "persistent", "autostart", "managed_save",
  "security_model", "security_doi", "security_label", "security_enforcing", "messages"}``
  (absent facts are null).
- ``domstate``: ``{"state": str, "reason": str}``.
- ``domblklist``: a list of ``{"type", "device", "target", "source"}`` (source null if none).
- ``domiflist``: a list of ``{"interface", "type", "source", "model", "mac"}`` (nulls for "-").
- ``domblkstat``: ``{"device": str, "stats": {field: value}}`` with libvirt's field names.
- ``domifstat``: ``{"interface": str, "stats": {"rx_bytes": int, ...}}`` (absent counters left out).
- ``dommemstat``: ``{tag: value}`` as libvirt-python's memoryStats().
- ``vcpuinfo``: a list of ``{"vcpu", "cpu", "state", "cpu_time_ns", "affinity"}``
  (``cpu``/``state``/``cpu_time_ns`` null for an inactive domain; affinity a list of host CPUs).
- ``vcpucount``: ``{"maximum_config", "maximum_live", "current_config", "current_live"}``
  (null when not applicable), or ``{"count": int}`` with a selecting option.
"""

from __future__ import annotations

import time

import pyvirt
from pyvirt import constants as c
from pyvirt.virsh.ctl import CommandError
from pyvirt.virsh.registry import Opt, OptType, command, register_completer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml.etree import _Element

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "monitor"

_DOMAIN_OPT = Opt("domain", OptType.DATA, "domain name, id or uuid", required=True,
                  completer="domain")
_DOMAIN_ACTIVE_OPT = Opt("domain", OptType.DATA, "domain name, id or uuid", required=True,
                         completer="domain_active")
_JSON = Opt("json", OptType.BOOL, "print JSON")

UINT_MAX = 0xFFFFFFFF

# virsh's words for states and reasons (virsh-domain-monitor.c's VIR_ENUM tables)
STATE_NAMES = ("no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed",
               "pmsuspended")
_REASONS: dict[int, tuple[str, ...]] = {
    c.VIR_DOMAIN_NOSTATE: ("unknown",),
    c.VIR_DOMAIN_RUNNING: ("unknown", "booted", "migrated", "restored", "from snapshot",
                           "unpaused", "migration canceled", "save canceled", "event wakeup",
                           "crashed", "post-copy", "post-copy failed"),
    c.VIR_DOMAIN_BLOCKED: ("unknown",),
    c.VIR_DOMAIN_PAUSED: ("unknown", "user", "migrating", "saving", "dumping", "I/O error",
                          "watchdog", "from snapshot", "shutting down", "creating snapshot",
                          "crashed", "starting up", "post-copy", "post-copy failed"),
    c.VIR_DOMAIN_SHUTDOWN: ("unknown", "user"),
    c.VIR_DOMAIN_SHUTOFF: ("unknown", "shutdown", "destroyed", "crashed", "migrated", "saved",
                           "failed", "from snapshot", "daemon"),
    c.VIR_DOMAIN_CRASHED: ("unknown", "panicked"),
    c.VIR_DOMAIN_PMSUSPENDED: ("unknown",),
}
_IO_ERRORS = ("no error", "unspecified error", "no space")
_CONTROL_STATES = ("ok", "background job", "occupied", "error")
_CONTROL_ERROR_REASONS = ("", "unknown", "monitor failure", "internal (locking) error")
_VCPU_STATES = ("offline", "running", "blocked")


def _enum(table: tuple[str, ...], value: int, default: str) -> str:
    return table[value] if 0 <= value < len(table) else default


def state_name(state: int) -> str:
    return _enum(STATE_NAMES, state, "no state")


def reason_name(state: int, reason: int) -> str:
    return _enum(_REASONS.get(state, ()), reason, "unknown")


def pretty_capacity(value: int) -> tuple[float, str]:
    """vshPrettyCapacity: a byte count scaled to the largest binary unit below it."""
    limit = 1024.0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < limit:
            return (value if unit == "B" else value / (limit / 1024)), unit
        limit *= 1024
    return value / (limit / 1024), "EiB"


def typed_value(value: Any) -> str:
    """vshGetTypedParamValue for values that come back from the Python API."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:f}"
    return str(value)


def _fail(ctl: Ctl, message: str, exc: pyvirt.libvirtError) -> bool:
    """virsh's pattern "vshError(own message); return false": the command's line first, then
    the libvirt error that vshReportError prints after the handler."""
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def _parse(xml: str) -> _Element:
    from pyvirt.conf.xmlutil import parse_xml

    return parse_xml(xml)


def _xpath_string(node: _Element | None, attr: str) -> str | None:
    """virXPathString("string(./x/@attr)"): None for a missing or empty value."""
    if node is None:
        return None
    value = node.get(attr)
    return value or None


def _first_attr(node: _Element | None, names: tuple[str, ...]) -> str | None:
    """string(./source/@a|./source/@b|...): the first of those attributes in document order."""
    if node is None:
        return None
    for key, value in node.attrib.items():
        if key in names:
            return value or None
    return None


def _domain_xml(ctl: Ctl, args: Args, flags: int = 0) -> _Element:
    dom = ctl.lookup_domain(args)
    return _parse(dom.XMLDesc(flags))


def _complete_devices(ctl: Ctl, values: dict[str, str], xpath: str, attr: str) -> list[str]:
    """Names from the live XML of the --domain given so far (virsh's disk target and
    interface completers)."""
    name = values.get("domain")
    if not name:
        return []
    try:
        root = _parse(ctl.conn.lookupByName(name).XMLDesc(0))
    except Exception:  # noqa: BLE001 - completion offers nothing rather than failing
        return []
    return [v for v in (n.get(attr) for n in root.findall(xpath)) if v]


register_completer("domain_disk_target", lambda ctl, values: _complete_devices(
    ctl, values, "./devices/disk/target", "dev"))
register_completer("domain_interface", lambda ctl, values: _complete_devices(
    ctl, values, "./devices/interface/target", "dev"))
register_completer("domain_ifaddr_source", lambda ctl, values: ["lease", "agent", "arp"])


# --- domblkerror ... dominfo (virsh's table order) ---------------------------------------

@command("domblkerror", GROUP, "Show errors on block devices", "Show block device errors",
         [_DOMAIN_ACTIVE_OPT])
def cmd_domblkerror(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    errors = dom.diskErrors()
    if not errors:
        ctl.print("No errors found")
    for disk, error in errors.items():
        ctl.print(f"{disk}: {_enum(_IO_ERRORS, error, 'unknown error')}")
    return True


def _blkinfo_cells(info: list[int] | tuple[int, ...], human: bool) -> list[str]:
    if not any(info):
        return ["-", "-", "-"]
    if not human:
        return [str(v) for v in info]
    cells = []
    for v in info:
        val, unit = pretty_capacity(v)
        cells.append(f"{val:.3f} {unit}")
    return cells


@command("domblkinfo", GROUP, "domain block device size information",
         "Get block device size info for a domain.", [
             _DOMAIN_OPT,
             Opt("device", OptType.STRING, "block device", completer="domain_disk_target"),
             Opt("human", OptType.BOOL, "Human readable output"),
             Opt("all", OptType.BOOL, "display all block devices info"),
         ])
def cmd_domblkinfo(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "all", "device")
    dom = ctl.lookup_domain(args)
    show_all = args.bool("all")
    device = args.string_quiet("device")
    if not show_all and not device:
        ctl.error("command 'domblkinfo' requires <device> option")
        return False
    human = args.bool("human")
    if not show_all:
        assert device is not None
        cells = _blkinfo_cells(dom.blockInfo(device, 0), human)
        for label, cell in zip(("Capacity:", "Allocation:", "Physical:"), cells):
            ctl.print(f"{label:<15} {cell}")
        return True

    active = dom.isActive() == 1
    root = _parse(dom.XMLDesc(0))
    rows = []
    for disk in root.findall("./devices/disk"):
        source = disk.find("source")
        target = _xpath_string(disk.find("target"), "dev") or ""
        info: list[int] | tuple[int, ...] = (0, 0, 0)
        if source is not None:
            try:
                info = dom.blockInfo(target, 0)
            except pyvirt.libvirtError as exc:
                # networked storage of an inactive domain has no statistics: zeros
                if not (source.get("protocol") and not active
                        and exc.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
                        and exc.get_error_domain() == c.VIR_FROM_STORAGE):
                    raise
        rows.append([target, *_blkinfo_cells(info, human)])
    ctl.print(ctl.table(["Target", "Capacity", "Allocation", "Physical"], rows), end="")
    return True


def _nvme_source(disk: _Element) -> str | None:
    source = disk.find("source")
    namespace = _xpath_string(source, "namespace")
    addr = source.find("address") if source is not None else None
    if namespace is None or addr is None:
        return None
    try:
        parts = [int(addr.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")]
    except ValueError:
        return None
    return f"nvme://{parts[0]:04x}:{parts[1]:02x}:{parts[2]:02x}.{parts[3]}/{namespace}"


@command("domblklist", GROUP, "list all domain blocks",
         "Get the summary of block devices for a domain.", [
             _DOMAIN_OPT,
             Opt("inactive", OptType.BOOL, "get inactive rather than running configuration"),
             Opt("details", OptType.BOOL, "additionally display the type and device value"),
             _JSON,
         ])
def cmd_domblklist(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_XML_INACTIVE if args.bool("inactive") else 0
    details = args.bool("details")
    root = _domain_xml(ctl, args, flags)
    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for disk in root.findall("./devices/disk"):
        dtype = disk.get("type") or None
        device = disk.get("device") or None
        if details and (dtype is None or device is None):
            ctl.print("unable to query block list details", end="")
            return False
        target = _xpath_string(disk.find("target"), "dev")
        if target is None:
            ctl.error("unable to query block list")
            return False
        if dtype == "nvme":
            source = _nvme_source(disk)
            if source is None:
                ctl.error("Unable to query NVMe disk address")
                return False
        else:
            source = _first_attr(disk.find("source"),
                                 ("file", "dev", "dir", "name", "volume", "path"))
        records.append({"type": dtype, "device": device, "target": target, "source": source})
        if details:
            rows.append([dtype or "", device or "", target, source or "-"])
        else:
            rows.append([target, source or "-"])
    if args.bool("json"):
        ctl.json(records)
        return True
    headers = ["Type", "Device", "Target", "Source"] if details else ["Target", "Source"]
    ctl.print(ctl.table(headers, rows), end="")
    return True


# field, legacy spelling, human explanation (virsh's domblkstat_output)
_BLKSTAT_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("rd_operations", "rd_req", "number of read operations:"),
    ("rd_bytes", "rd_bytes", "number of bytes read:"),
    ("wr_operations", "wr_req", "number of write operations:"),
    ("wr_bytes", "wr_bytes", "number of bytes written:"),
    ("errs", "errs", "error count:"),
    ("flush_operations", None, "number of flush operations:"),
    ("rd_total_times", None, "total duration of reads (ns):"),
    ("wr_total_times", None, "total duration of writes (ns):"),
    ("flush_total_times", None, "total duration of flushes (ns):"),
)


@command("domblkstat", GROUP, "get device block stats for a domain",
         "Get device block stats for a running domain. See man page or use --human for "
         "explanation of fields", [
             _DOMAIN_ACTIVE_OPT,
             Opt("device", OptType.STRING, "block device", empty_ok=True,
                 completer="domain_disk_target"),
             Opt("human", OptType.BOOL, "print a more human readable output"),
             _JSON,
         ])
def cmd_domblkstat(ctl: Ctl, args: Args) -> bool:
    human = args.bool("human")
    name = args.string("domain") or ""
    dom = ctl.lookup_domain(args)
    device = args.string("device") or ""
    stats: dict[str, Any]
    legacy = False
    try:
        stats = dict(dom.blockStatsFlags(device, 0))
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            raise
        ctl.reset_error()
        try:
            values = dom.blockStats(device)
        except pyvirt.libvirtError as exc2:
            return _fail(ctl, f"Failed to get block stats {name} {device}", exc2)
        legacy = True
        stats = dict(zip(("rd_operations", "rd_bytes", "wr_operations", "wr_bytes", "errs"),
                         values))
        stats = {k: v for k, v in stats.items() if v >= 0}
    if args.bool("json"):
        ctl.json({"device": device, "stats": stats})
        return True
    if human:
        ctl.print(f"Device: {device}")
        device = ""
    width = 31 if human else 0
    for field, legacy_name, explanation in _BLKSTAT_FIELDS:
        if field not in stats:
            continue
        label = explanation if human else (legacy_name or field)
        ctl.print(f"{device} {label:<{width}} {typed_value(stats.pop(field))}")
    if not legacy:
        for field, value in stats.items():
            ctl.print(f"{device} {field} {typed_value(value)}")
    return True


@command("domcontrol", GROUP, "domain control interface state",
         "Returns state of a control interface to the domain.", [_DOMAIN_ACTIVE_OPT])
def cmd_domcontrol(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    state, details, state_time = dom.controlInfo(0)
    word = _enum(_CONTROL_STATES, state, "unknown")
    if state not in (c.VIR_DOMAIN_CONTROL_OK, c.VIR_DOMAIN_CONTROL_ERROR):
        ctl.print(f"{word} ({state_time / 1000.0:0.3f}s)")
    elif state == c.VIR_DOMAIN_CONTROL_ERROR and details > 0:
        ctl.print(f"{word}: {_enum(_CONTROL_ERROR_REASONS, details, 'unknown')}")
    else:
        ctl.print(word)
    return True


def _normalize_mac(text: str) -> str:
    """virMacAddrParse + virMacAddrFormat, or "" when ``text`` is no MAC address."""
    parts = text.split(":")
    if len(parts) != 6:
        return ""
    out = []
    for part in parts:
        if not part or len(part) > 2 or any(ch not in "0123456789abcdefABCDEF" for ch in part):
            return ""
        out.append(f"{int(part, 16):02x}")
    return ":".join(out)


@command("domif-getlink", GROUP, "get link state of a virtual interface",
         "Get link state of a domain's virtual interface.", [
             _DOMAIN_OPT,
             Opt("interface", OptType.DATA, "interface device (MAC Address)", required=True,
                 completer="domain_interface"),
             Opt("persistent", OptType.ALIAS, alias="config"),
             Opt("config", OptType.BOOL, "Get persistent interface state"),
         ])
def cmd_domif_getlink(ctl: Ctl, args: Args) -> bool:
    iface = args.string("interface") or ""
    flags = c.VIR_DOMAIN_XML_INACTIVE if args.bool("config") else 0
    root = _domain_xml(ctl, args, flags)
    mac = _normalize_mac(iface)
    found = []
    for node in root.findall("./devices/interface"):
        macs = [m.get("address") for m in node.findall("mac")]
        devs = [t.get("dev") for t in node.findall("target")]
        if mac in macs or iface in devs:
            found.append(node)
    if not found:
        if mac:
            ctl.error(f"Interface (mac: {mac}) not found.")
        else:
            ctl.error(f"Interface (dev: {iface}) not found.")
        return False
    if len(found) > 1:
        ctl.error("multiple matching interfaces found")
        return False
    state = _xpath_string(found[0].find("link"), "state")
    ctl.print(f"{iface} {state or 'up'}", end="")
    return True


@command("domifaddr", GROUP, "Get network interfaces' addresses for a running domain",
         "Get network interfaces' addresses for a running domain", [
             _DOMAIN_ACTIVE_OPT,
             Opt("interface", OptType.STRING, "network interface name",
                 completer="domain_interface"),
             Opt("full", OptType.BOOL, "always display names and MACs of interfaces"),
             Opt("source", OptType.STRING, "address source: 'lease', 'agent', or 'arp'",
                 completer="domain_ifaddr_source"),
         ])
def cmd_domifaddr(ctl: Ctl, args: Args) -> bool:
    wanted = args.string("interface")
    source_word = args.string("source")
    full = args.bool("full")
    sources = ("lease", "agent", "arp")
    source = 0
    if source_word is not None:
        if source_word not in sources:
            ctl.error(f"Unknown data source '{source_word}'")
            return False
        source = sources.index(source_word)
    dom = ctl.lookup_domain(args)
    try:
        ifaces = dom.interfaceAddresses(source, 0)
    except pyvirt.libvirtError as exc:
        return _fail(ctl, "Failed to query for interfaces addresses", exc)
    ctl.print_extra(f" {'Name':<10} {'MAC address':<20} {'Protocol':<8}     Address\n"
                 + "-" * 79)
    for name, iface in ifaces.items():
        if wanted and wanted != name:
            continue
        hwaddr = iface.get("hwaddr")
        addrs = iface.get("addrs") or []
        if not addrs:
            ctl.print(f" {name:<10} {hwaddr or 'N/A':<17}    {'N/A':<12} N/A")
            continue
        for j, addr in enumerate(addrs):
            kind = "ipv4" if addr.get("type") == c.VIR_IP_ADDR_TYPE_IPV4 else "ipv6"
            text = f"{kind:<12} {addr.get('addr')}/{addr.get('prefix')}"
            if full or not j:
                ctl.print(f" {name:<10} {hwaddr or '':<17}    {text}")
            else:
                ctl.print(f" {'-':<10} {'-':<17}    {text}")
    return True


@command("domiflist", GROUP, "list all domain virtual interfaces",
         "Get the summary of virtual interfaces for a domain.", [
             _DOMAIN_OPT,
             Opt("inactive", OptType.BOOL, "get inactive rather than running configuration"),
             _JSON,
         ])
def cmd_domiflist(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_XML_INACTIVE if args.bool("inactive") else 0
    root = _domain_xml(ctl, args, flags)
    rows = []
    records = []
    for node in root.findall("./devices/interface"):
        record = {
            "interface": _xpath_string(node.find("target"), "dev"),
            "type": node.get("type") or None,
            "source": _first_attr(node.find("source"),
                                  ("bridge", "dev", "network", "name", "path")),
            "model": _xpath_string(node.find("model"), "type"),
            "mac": _xpath_string(node.find("mac"), "address"),
        }
        records.append(record)
        rows.append([record["interface"] or "-", record["type"] or "",
                     record["source"] or "-", record["model"] or "-", record["mac"] or "-"])
    if args.bool("json"):
        ctl.json(records)
        return True
    ctl.print(ctl.table(["Interface", "Type", "Source", "Model", "MAC"], rows), end="")
    return True


_IFSTAT_FIELDS = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop",
                  "tx_bytes", "tx_packets", "tx_errs", "tx_drop")


@command("domifstat", GROUP, "get network interface stats for a domain",
         "Get network interface stats for a running domain.", [
             _DOMAIN_ACTIVE_OPT,
             Opt("interface", OptType.DATA, "interface device specified by name or MAC Address",
                 required=True, completer="domain_interface"),
             _JSON,
         ])
def cmd_domifstat(ctl: Ctl, args: Args) -> bool:
    name = args.string("domain") or ""
    dom = ctl.lookup_domain(args)
    device = args.string("interface") or ""
    try:
        values = dom.interfaceStats(device)
    except pyvirt.libvirtError as exc:
        return _fail(ctl, f"Failed to get interface stats {name} {device}", exc)
    stats = {k: v for k, v in zip(_IFSTAT_FIELDS, values) if v >= 0}
    if args.bool("json"):
        ctl.json({"interface": device, "stats": stats})
        return True
    for field, value in stats.items():
        ctl.print(f"{device} {field} {value}")
    return True


def _dominfo(dom: pyvirt.virDomain) -> tuple[dict[str, Any], pyvirt.libvirtError | None]:
    """The facts dominfo shows, and virDomainGetInfo's error if it failed."""
    facts: dict[str, Any] = dict.fromkeys(
        ("id", "name", "uuid", "os_type", "state", "cpus", "cpu_time_ns", "max_memory_kib",
         "used_memory_kib", "persistent", "autostart", "managed_save", "security_model",
         "security_doi", "security_label", "security_enforcing"))
    facts["messages"] = []
    dom_id = dom.ID()
    facts["id"] = None if dom_id < 0 or dom_id == UINT_MAX else dom_id
    facts["name"] = dom.name()
    facts["uuid"] = dom.UUIDString()
    try:
        facts["os_type"] = dom.OSType()
    except pyvirt.libvirtError:
        pass
    error: pyvirt.libvirtError | None = None
    try:
        state, max_mem, memory, ncpus, cpu_time = dom.info()
        facts.update(state=state, cpus=ncpus, cpu_time_ns=cpu_time,
                     max_memory_kib=None if max_mem == UINT_MAX else max_mem,
                     used_memory_kib=memory)
    except pyvirt.libvirtError as exc:
        error = exc
    try:
        facts["persistent"] = bool(dom.isPersistent())
    except pyvirt.libvirtError:
        pass
    try:
        facts["autostart"] = bool(dom.autostart())
    except pyvirt.libvirtError:
        pass
    try:
        facts["managed_save"] = bool(dom.hasManagedSaveImage(0))
    except pyvirt.libvirtError:
        pass
    return facts, error


@command("dominfo", GROUP, "domain information", "Returns basic information about the domain.",
         [_DOMAIN_OPT, _JSON])
def cmd_dominfo(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    facts, error = _dominfo(dom)
    ok = error is None
    as_json = args.bool("json")
    lines: list[tuple[str, str]] = [
        ("Id:", "-" if facts["id"] is None else str(facts["id"])),
        ("Name:", facts["name"]),
        ("UUID:", facts["uuid"]),
    ]
    if facts["os_type"] is not None:
        lines.append(("OS Type:", facts["os_type"]))
    if ok:
        lines.append(("State:", state_name(facts["state"])))
        lines.append(("CPU(s):", str(facts["cpus"])))
        if facts["cpu_time_ns"]:
            lines.append(("CPU time:", f"{facts['cpu_time_ns'] / 1e9:.1f}s"))
        max_mem = facts["max_memory_kib"]
        lines.append(("Max memory:", "no limit" if max_mem is None else f"{max_mem} KiB"))
        lines.append(("Used memory:", f"{facts['used_memory_kib']} KiB"))
    persistent = facts["persistent"]
    lines.append(("Persistent:", "unknown" if persistent is None
                  else ("yes" if persistent else "no")))
    if facts["autostart"] is not None:
        lines.append(("Autostart:", "enable" if facts["autostart"] else "disable"))
    managed = facts["managed_save"]
    lines.append(("Managed save:", "unknown" if managed is None
                  else ("yes" if managed else "no")))

    def flush() -> None:
        if not as_json:
            for key, value in lines:
                ctl.print(f"{key:<15} {value}")
        lines.clear()

    try:
        model, doi = ctl.conn.getSecurityModel()
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            flush()
            raise
        ctl.reset_error()
        model = doi = ""
    if model:
        facts["security_model"] = model
        facts["security_doi"] = doi
        lines.append(("Security model:", model))
        lines.append(("Security DOI:", doi))
        flush()
        label, enforcing = dom.securityLabel()
        if label:
            facts["security_label"] = label
            facts["security_enforcing"] = bool(enforcing)
            lines.append(("Security label:",
                          f"{label} ({'enforcing' if enforcing else 'permissive'})"))
    try:
        messages = list(dom.messages(0))
    except (pyvirt.libvirtError, AttributeError):
        messages = []
    facts["messages"] = messages
    for i, message in enumerate(messages):
        lines.append(("Messages:" if i == 0 else "", message))
    flush()
    if as_json:
        facts["state"] = state_name(facts["state"]) if ok else None
        ctl.json(facts)
    if error is not None:
        ctl.report_libvirt_error(error)
    return ok


@command("dommemstat", GROUP, "get memory statistics for a domain",
         "Get memory statistics for a running domain.", [
             _DOMAIN_ACTIVE_OPT,
             Opt("period", OptType.INT, "period in seconds to set collection", named_only=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             _JSON,
         ])
def cmd_dommemstat(ctl: Ctl, args: Args) -> bool:
    config, live, current = args.bool("config"), args.bool("live"), args.bool("current")
    ctl.exclusive(args, "current", "live")
    ctl.exclusive(args, "current", "config")
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if config:
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if live:
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    name = args.string("domain") or ""
    dom = ctl.lookup_domain(args)
    if not (current or live or config) and dom.isActive() == 1:
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    period = args.int("period")
    if period is not None:
        if period < 0:
            ctl.error(f"Invalid collection period value '{period}'")
            return False
        try:
            dom.setMemoryStatsPeriod(period, flags)
        except pyvirt.libvirtError as exc:
            return _fail(ctl, "Unable to change balloon collection period.", exc)
        return True
    try:
        stats = dom.memoryStats()
    except pyvirt.libvirtError as exc:
        return _fail(ctl, f"Failed to get memory statistics for domain {name}", exc)
    if args.bool("json"):
        ctl.json(dict(stats))
        return True
    for tag, value in stats.items():
        ctl.print(f"{tag} {value}")
    return True


@command("domstate", GROUP, "domain state", "Returns state about a domain.", [
    _DOMAIN_OPT,
    Opt("reason", OptType.BOOL, "also print reason for the state"),
    _JSON,
])
def cmd_domstate(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    state, reason = domain_state(dom)
    if args.bool("json"):
        ctl.json({"state": state_name(state), "reason": reason_name(state, reason)})
    elif args.bool("reason"):
        ctl.print(f"{state_name(state)} ({reason_name(state, reason)})")
    else:
        ctl.print(state_name(state))
    return True


def domain_state(dom: pyvirt.virDomain) -> tuple[int, int]:
    """virshDomainState: virDomainGetState, or virDomainGetInfo's state where unsupported."""
    try:
        state, reason = dom.state(0)
        return state, reason
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            raise
        return dom.info()[0], 0


_STATS_GROUPS = (
    ("state", c.VIR_DOMAIN_STATS_STATE), ("cpu-total", c.VIR_DOMAIN_STATS_CPU_TOTAL),
    ("balloon", c.VIR_DOMAIN_STATS_BALLOON), ("vcpu", c.VIR_DOMAIN_STATS_VCPU),
    ("interface", c.VIR_DOMAIN_STATS_INTERFACE), ("block", c.VIR_DOMAIN_STATS_BLOCK),
    ("perf", c.VIR_DOMAIN_STATS_PERF), ("iothread", c.VIR_DOMAIN_STATS_IOTHREAD),
    ("memory", c.VIR_DOMAIN_STATS_MEMORY), ("dirtyrate", c.VIR_DOMAIN_STATS_DIRTYRATE),
    ("vm", c.VIR_DOMAIN_STATS_VM),
)
_STATS_FILTERS = (
    ("list-active", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE),
    ("list-inactive", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_INACTIVE),
    ("list-persistent", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_PERSISTENT),
    ("list-transient", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_TRANSIENT),
    ("list-running", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING),
    ("list-paused", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_PAUSED),
    ("list-shutoff", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_SHUTOFF),
    ("list-other", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_OTHER),
    ("enforce", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS),
    ("backing", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING),
    ("nowait", c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT),
)
_STATS_HELP = {
    "state": "report domain state", "cpu-total": "report domain physical cpu usage",
    "balloon": "report domain balloon statistics",
    "vcpu": "report domain virtual cpu information",
    "interface": "report domain network interface information",
    "block": "report domain block device statistics",
    "perf": "report domain perf event statistics",
    "iothread": "report domain IOThread information", "memory": "report domain memory usage",
    "dirtyrate": "report domain dirty rate information",
    "vm": "report hypervisor-specific statistics",
    "list-active": "list only active domains", "list-inactive": "list only inactive domains",
    "list-persistent": "list only persistent domains",
    "list-transient": "list only transient domains",
    "list-running": "list only running domains", "list-paused": "list only paused domains",
    "list-shutoff": "list only shutoff domains",
    "list-other": "list only domains in other states",
    "raw": "do not pretty-print the fields", "enforce": "enforce requested stats parameters",
    "backing": "add backing chain information to block stats",
    "nowait": "report only stats that are accessible instantly",
}
_STATS_ORDER = ("state", "cpu-total", "balloon", "vcpu", "interface", "block", "perf",
                "iothread", "memory", "dirtyrate", "vm", "list-active", "list-inactive",
                "list-persistent", "list-transient", "list-running", "list-paused",
                "list-shutoff", "list-other", "raw", "enforce", "backing", "nowait")


@command("domstats", GROUP, "get statistics about one or multiple domains",
         "Gets statistics about one or more (or all) domains", [
             *(Opt(name, OptType.BOOL, _STATS_HELP[name]) for name in _STATS_ORDER),
             Opt("domain", OptType.ARGV, "list of domains to get stats for",
                 completer="domain"),
         ])
def cmd_domstats(ctl: Ctl, args: Args) -> bool:
    stats = 0
    for name, bit in _STATS_GROUPS:
        if args.bool(name):
            stats |= bit
    flags = 0
    for name, bit in _STATS_FILTERS:
        if args.bool(name):
            flags |= bit
    if args.has("domain"):
        doms = [ctl.lookup_domain_name(name) for name in args.argv("domain")]
        records = ctl.conn.domainListGetStats(doms, stats, flags)
    else:
        records = ctl.conn.getAllDomainStats(stats, flags)
    for i, (dom, params) in enumerate(records):
        if i:
            ctl.print()
        ctl.print(f"Domain: '{dom.name()}'")
        for field, value in params.items():
            ctl.print(f"  {field}={typed_value(value)}")
    return True


@command("domtime", GROUP, "domain time", "Gets or sets the domain's system time", [
    _DOMAIN_ACTIVE_OPT,
    Opt("now", OptType.BOOL, "set to the time of the host running virsh"),
    Opt("pretty", OptType.BOOL, "print domain's time in human readable form"),
    Opt("sync", OptType.BOOL, "instead of setting given time, synchronize from domain's RTC"),
    Opt("time", OptType.INT, "time to set"),
])
def cmd_domtime(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "time", "now")
    ctl.exclusive(args, "time", "sync")
    ctl.exclusive(args, "now", "sync")
    now, pretty, rtc_sync = args.bool("now"), args.bool("pretty"), args.bool("sync")
    dom = ctl.lookup_domain(args)
    seconds = args.int("time")
    if seconds is not None or now or rtc_sync:
        if now:
            seconds = int(time.time())
        flags = c.VIR_DOMAIN_TIME_SYNC if rtc_sync else 0
        dom.setTime({"seconds": seconds or 0, "nseconds": 0}, flags)
        return True
    value = dom.getTime(0)["seconds"]
    if pretty:
        ctl.print("Time: " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)), end="")
    else:
        ctl.print(f"Time: {value}", end="")
    return True


# --- list ------------------------------------------------------------------------------

_LIST_FILTERS = (
    ("persistent", c.VIR_CONNECT_LIST_DOMAINS_PERSISTENT),
    ("transient", c.VIR_CONNECT_LIST_DOMAINS_TRANSIENT),
    ("with-managed-save", c.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE),
    ("without-managed-save", c.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE),
    ("autostart", c.VIR_CONNECT_LIST_DOMAINS_AUTOSTART),
    ("no-autostart", c.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART),
    ("with-snapshot", c.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT),
    ("without-snapshot", c.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT),
    ("with-checkpoint", c.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT),
    ("without-checkpoint", c.VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT),
    ("state-running", c.VIR_CONNECT_LIST_DOMAINS_RUNNING),
    ("state-paused", c.VIR_CONNECT_LIST_DOMAINS_PAUSED),
    ("state-shutoff", c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF),
    ("state-other", c.VIR_CONNECT_LIST_DOMAINS_OTHER),
)

_ACTIVE_FILTERS = c.VIR_CONNECT_LIST_DOMAINS_ACTIVE | c.VIR_CONNECT_LIST_DOMAINS_INACTIVE


def _list_sort_key(dom: pyvirt.virDomain) -> tuple[int, int, str]:
    """virshDomainSorter: running domains by id, then inactive ones by name, ignoring case."""
    dom_id = dom.ID()
    if dom_id < 0 or dom_id == UINT_MAX:
        return (1, 0, dom.name().lower())
    return (0, dom_id, "")


def _match(flags: int, group: int, pairs: tuple[tuple[int, bool], ...]) -> bool:
    """One filter group of virshDomainListCollect's fallback: no flag of the group set, or
    one of the set flags matches."""
    if not flags & group:
        return True
    return any(flags & bit and ok for bit, ok in pairs)


def _filter_domains(doms: list[pyvirt.virDomain], flags: int) -> list[pyvirt.virDomain]:
    """Client-side filtering for servers that know fewer list flags (virsh's fallback)."""
    kept = []
    for dom in doms:
        persistent = bool(dom.isPersistent())
        state = dom.state(0)[0]
        checks = [
            _match(flags, c.VIR_CONNECT_LIST_DOMAINS_PERSISTENT
                   | c.VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
                   ((c.VIR_CONNECT_LIST_DOMAINS_PERSISTENT, persistent),
                    (c.VIR_CONNECT_LIST_DOMAINS_TRANSIENT, not persistent))),
            _match(flags, c.VIR_CONNECT_LIST_DOMAINS_RUNNING | c.VIR_CONNECT_LIST_DOMAINS_PAUSED
                   | c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF | c.VIR_CONNECT_LIST_DOMAINS_OTHER,
                   ((c.VIR_CONNECT_LIST_DOMAINS_RUNNING, state == c.VIR_DOMAIN_RUNNING),
                    (c.VIR_CONNECT_LIST_DOMAINS_PAUSED, state == c.VIR_DOMAIN_PAUSED),
                    (c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF, state == c.VIR_DOMAIN_SHUTOFF),
                    (c.VIR_CONNECT_LIST_DOMAINS_OTHER, state not in (
                        c.VIR_DOMAIN_RUNNING, c.VIR_DOMAIN_PAUSED, c.VIR_DOMAIN_SHUTOFF)))),
        ]
        if flags & (c.VIR_CONNECT_LIST_DOMAINS_AUTOSTART
                    | c.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART):
            auto = bool(dom.autostart())
            checks.append(_match(flags, flags, (
                (c.VIR_CONNECT_LIST_DOMAINS_AUTOSTART, auto),
                (c.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART, not auto))))
        if flags & (c.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE
                    | c.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE):
            saved = bool(dom.hasManagedSaveImage(0))
            checks.append(_match(flags, flags, (
                (c.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, saved),
                (c.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE, not saved))))
        if flags & (c.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT
                    | c.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT):
            nsnap = dom.snapshotNum(0)
            checks.append(_match(flags, flags, (
                (c.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, nsnap > 0),
                (c.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT, nsnap == 0))))
        if flags & (c.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT
                    | c.VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT):
            nchk = len(dom.listAllCheckpoints(0))
            checks.append(_match(flags, flags, (
                (c.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, nchk > 0),
                (c.VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT, nchk == 0))))
        if all(checks):
            kept.append(dom)
    return kept


def _collect_old(ctl: Ctl, flags: int) -> list[pyvirt.virDomain] | None:
    """virshDomainListCollect's fallback for servers without virConnectListAllDomains:
    ids of running domains, names of defined ones, then client-side filtering."""
    conn = ctl.conn
    want_active = not flags & _ACTIVE_FILTERS or flags & c.VIR_CONNECT_LIST_DOMAINS_ACTIVE
    want_inactive = not flags & _ACTIVE_FILTERS or flags & c.VIR_CONNECT_LIST_DOMAINS_INACTIVE
    doms = []
    if want_active:
        try:
            ids = conn.listDomainsID()
        except pyvirt.libvirtError as exc:
            _fail(ctl, "Failed to list active domains", exc)
            return None
        for dom_id in ids:
            try:
                doms.append(conn.lookupByID(dom_id))
            except pyvirt.libvirtError:
                continue  # gone meanwhile
    if want_inactive:
        try:
            names = conn.listDefinedDomains()
        except pyvirt.libvirtError as exc:
            _fail(ctl, "Failed to list inactive domains", exc)
            return None
        for name in names:
            try:
                doms.append(conn.lookupByName(name))
            except pyvirt.libvirtError:
                continue
    ctl.reset_error()
    doms = _filter_domains(doms, flags)
    doms.sort(key=_list_sort_key)
    return doms


def collect_domains(ctl: Ctl, flags: int) -> list[pyvirt.virDomain] | None:
    """virshDomainListCollect: listAllDomains with virsh's retry on unknown flags; None after
    printing virsh's error."""
    conn = ctl.conn
    try:
        doms = list(conn.listAllDomains(flags))
    except pyvirt.libvirtError as exc:
        code = exc.get_error_code()
        if code == c.VIR_ERR_NO_SUPPORT:
            ctl.reset_error()
            return _collect_old(ctl, flags)
        if code != c.VIR_ERR_INVALID_ARG:
            _fail(ctl, "Failed to list domains", exc)
            return None
        try:
            doms = _filter_domains(list(conn.listAllDomains(flags & _ACTIVE_FILTERS)), flags)
        except pyvirt.libvirtError as exc2:
            _fail(ctl, "Failed to list domains", exc2)
            return None
    doms.sort(key=_list_sort_key)
    return doms


def domain_title(dom: pyvirt.virDomain) -> str:
    """virshGetDomainDescription(title=True)."""
    try:
        return dom.metadata(c.VIR_DOMAIN_METADATA_TITLE, None, 0) or ""
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() == c.VIR_ERR_NO_DOMAIN_METADATA:
            return ""
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            raise
    title = _parse(dom.XMLDesc(0)).findtext("title")
    return title or ""


_LIST_HELP = (
    ("inactive", "list inactive domains"), ("all", "list inactive & active domains"),
    ("transient", "list transient domains"), ("persistent", "list persistent domains"),
    ("with-snapshot", "list domains with existing snapshot"),
    ("without-snapshot", "list domains without a snapshot"),
    ("with-checkpoint", "list domains with existing checkpoint"),
    ("without-checkpoint", "list domains without a checkpoint"),
    ("state-running", "list domains in running state"),
    ("state-paused", "list domains in paused state"),
    ("state-shutoff", "list domains in shutoff state"),
    ("state-other", "list domains in other states"),
    ("autostart", "list domains with autostart enabled"),
    ("no-autostart", "list domains with autostart disabled"),
    ("with-managed-save", "list domains with managed save state"),
    ("without-managed-save", "list domains without managed save"),
    ("uuid", "list uuid's only"), ("name", "list domain names only"),
    ("id", "list domain IDs only"), ("table", "list table (default)"),
    ("managed-save", "mark inactive domains with managed save state"),
    ("title", "show domain title"),
)


@command("list", GROUP, "list domains", "Returns list of domains.",
         [*(Opt(name, OptType.BOOL, text) for name, text in _LIST_HELP), _JSON])
def cmd_list(ctl: Ctl, args: Args) -> bool:
    managed = args.bool("managed-save")
    opt_title = args.bool("title")
    opt_table = args.bool("table")
    opt_uuid, opt_name, opt_id = args.bool("uuid"), args.bool("name"), args.bool("id")
    as_json = args.bool("json")

    flags = c.VIR_CONNECT_LIST_DOMAINS_ACTIVE
    if args.bool("inactive") or args.bool("state-shutoff"):
        flags = c.VIR_CONNECT_LIST_DOMAINS_INACTIVE
    if args.bool("all"):
        flags = _ACTIVE_FILTERS
    for name, bit in _LIST_FILTERS:
        if args.bool(name):
            flags |= bit

    ctl.exclusive(args, "table", "name")
    ctl.exclusive(args, "table", "uuid")
    ctl.exclusive(args, "table", "id")
    if not (opt_uuid or opt_name or opt_id):
        opt_table = True

    doms = collect_domains(ctl, flags)
    if doms is None:
        return False

    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for dom in doms:
        dom_id = dom.ID()
        active = not (dom_id < 0 or dom_id == UINT_MAX)
        id_text = str(dom_id) if active else "-"
        if as_json or opt_table:
            try:
                state = domain_state(dom)[0]
            except pyvirt.libvirtError:
                continue  # removed meanwhile
            word = state_name(state)
            if managed and state == c.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0) > 0:
                word = "saved"
            row = [id_text, dom.name(), word]
            record: dict[str, Any] = {"id": dom_id if active else None, "name": dom.name(),
                                      "uuid": dom.UUIDString(), "state": word}
            if opt_title:
                title = domain_title(dom)
                row.append(title)
                record["title"] = title
            rows.append(row)
            records.append(record)
            continue
        parts = []
        if opt_uuid:
            parts.append(dom.UUIDString())
        if opt_id:
            if not active and not opt_uuid and not opt_name:
                continue
            parts.append(id_text)
        if opt_name:
            parts.append(dom.name())
        ctl.print(" ".join(parts))

    if as_json:
        ctl.json(records)
    elif opt_table:
        headers = ["Id", "Name", "State"] + (["Title"] if opt_title else [])
        ctl.print(ctl.table(headers, rows), end="")
    return True


# --- domain group: domjobinfo, vcpucount, vcpuinfo --------------------------------------

_JOB_TYPES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")
_JOB_OPERATIONS = ("Unknown", "Start", "Save", "Restore", "Incoming migration",
                   "Outgoing migration", "Snapshot", "Snapshot revert", "Dump", "Backup",
                   "Snapshot delete")
_JOB_INFO_KEYS = ("type", "time_elapsed", "time_remaining", "data_total", "data_processed",
                  "data_remaining", "memory_total", "memory_processed", "memory_remaining",
                  "disk_total", "disk_processed", "disk_remaining")


@command("domjobinfo", "domain", "domain job information",
         "Returns information about jobs running on a domain.", [
             _DOMAIN_ACTIVE_OPT,
             Opt("completed", OptType.BOOL, "return statistics of a recently completed job"),
             Opt("keep-completed", OptType.BOOL,
                 "don't destroy statistics of a recently completed job when reading"),
             Opt("anystats", OptType.BOOL,
                 "print statistics for any kind of job (even failed ones)"),
             Opt("rawstats", OptType.BOOL, "print the raw data returned by libvirt"),
         ])
def cmd_domjobinfo(ctl: Ctl, args: Args) -> bool:
    rawstats = args.bool("rawstats")
    if args.bool("keep-completed") and not args.bool("completed"):
        ctl.error("Option --completed is required by option --keep-completed")
        return False
    dom = ctl.lookup_domain(args)
    flags = 0
    if args.bool("completed"):
        flags |= c.VIR_DOMAIN_JOB_STATS_COMPLETED
    if args.bool("keep-completed"):
        flags |= c.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED
    try:
        stats = dict(dom.jobStats(flags))
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            raise
        if flags or rawstats:
            ctl.error("Optional flags or --rawstats are not supported by the daemon")
            return False
        stats = dict(zip(_JOB_INFO_KEYS, dom.jobInfo()))
    job_type = stats.pop("type", 0)
    if rawstats:
        ctl.print(f"Job type: {job_type}\n")
        for field, value in stats.items():
            ctl.print(f"{field}: {int(value) if isinstance(value, bool) else value}")
        return True

    def line(label: str, text: str) -> None:
        ctl.print(f"{label:<17} {text}")

    def size(label: str, value: int, suffix: str = "") -> None:
        val, unit = pretty_capacity(value)
        line(label, f"{val:.3f} {unit}{suffix}")

    line("Job type:", f"{_enum(_JOB_TYPES, job_type, 'unknown'):<12}")
    if job_type == c.VIR_DOMAIN_JOB_NONE:
        return True
    line("Operation:", f"{_enum(_JOB_OPERATIONS, stats.get('operation', 0), 'unknown'):<12}")
    if (not args.bool("anystats")
            and job_type not in (c.VIR_DOMAIN_JOB_BOUNDED, c.VIR_DOMAIN_JOB_UNBOUNDED)
            and not (flags & c.VIR_DOMAIN_JOB_STATS_COMPLETED
                     and job_type == c.VIR_DOMAIN_JOB_COMPLETED)):
        return True
    line("Time elapsed:", f"{stats.get('time_elapsed', 0):<12} ms")
    if "time_elapsed_net" in stats:
        line("Time elapsed w/o network:", f"{stats['time_elapsed_net']:<12} ms")
    if job_type == c.VIR_DOMAIN_JOB_BOUNDED:
        line("Time remaining:", f"{stats.get('time_remaining', 0):<12} ms")
    for prefix, title in (("data", "Data"), ("memory", "Memory"), ("disk", "File")):
        total = stats.get(f"{prefix}_total", 0)
        remaining = stats.get(f"{prefix}_remaining", 0)
        processed = stats.get(f"{prefix}_processed", 0)
        if not (total or remaining or processed):
            continue
        size(f"{title} processed:", processed)
        size(f"{title} remaining:", remaining)
        size(f"{title} total:", total)
        if prefix == "memory":
            if stats.get("memory_bps"):
                size("Memory bandwidth:", stats["memory_bps"], "/s")
            for key, label, unit in (("memory_dirty_rate", "Dirty rate:", " pages/s"),
                                     ("memory_page_size", "Page size:", " bytes"),
                                     ("memory_iteration", "Iteration:", ""),
                                     ("memory_postcopy_requests", "Postcopy requests:", "")):
                if key in stats:
                    line(label, f"{stats[key]:<12}{unit}")
        if prefix == "disk" and stats.get("disk_bps"):
            size("File bandwidth:", stats["disk_bps"], "/s")
    if "memory_constant" in stats:
        line("Constant pages:", f"{stats['memory_constant']:<12}")
    if "memory_normal" in stats:
        line("Normal pages:", f"{stats['memory_normal']:<12}")
    if "memory_normal_bytes" in stats:
        size("Normal data:", stats["memory_normal_bytes"])
    if "downtime" in stats:
        label = ("Total downtime:" if job_type == c.VIR_DOMAIN_JOB_COMPLETED
                 else "Expected downtime:")
        line(label, f"{stats['downtime']:<12} ms")
    if "downtime_net" in stats:
        line("Downtime w/o network:", f"{stats['downtime_net']:<12} ms")
    if "setup_time" in stats:
        line("Setup time:", f"{stats['setup_time']:<12} ms")
    if "compression_cache" in stats:
        size("Compression cache:", stats["compression_cache"])
    if "compression_bytes" in stats:
        size("Compressed data:", stats["compression_bytes"])
    for key, label in (("compression_pages", "Compressed pages:"),
                       ("compression_cache_misses", "Compression cache misses:"),
                       ("compression_overflow", "Compression overflows:"),
                       ("auto_converge_throttle", "Auto converge throttle:")):
        if key in stats:
            line(label, f"{stats[key]:<13}")
    if "disk_temp_used" in stats:
        size("Temporary disk space use:", stats["disk_temp_used"])
    if "disk_temp_total" in stats:
        size("Temporary disk space total:", stats["disk_temp_total"])
    if "errmsg" in stats:
        line("Error message:", str(stats["errmsg"]))
    return True


def _cpu_count(ctl: Ctl, dom: pyvirt.virDomain, flags: int, check_state: bool) -> int | None:
    """virshCPUCountCollect: None when ``check_state`` says the value does not apply."""
    if check_state and (
            (flags & c.VIR_DOMAIN_AFFECT_LIVE and dom.isActive() < 1)
            or (flags & c.VIR_DOMAIN_AFFECT_CONFIG and dom.isPersistent() < 1)):
        return None
    try:
        return int(dom.vcpusFlags(flags))
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() not in (c.VIR_ERR_NO_SUPPORT, c.VIR_ERR_INVALID_ARG):
            raise
        if flags & c.VIR_DOMAIN_VCPU_GUEST:
            ctl.error("Failed to retrieve vCPU count from the guest")
            raise
    # older servers: the live values from virDomainGetMaxVcpus/GetInfo, else the XML
    ctl.reset_error()
    if not flags & (c.VIR_DOMAIN_AFFECT_LIVE | c.VIR_DOMAIN_AFFECT_CONFIG) \
            and dom.isActive() == 1:
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    if flags & c.VIR_DOMAIN_AFFECT_LIVE:
        if flags & c.VIR_DOMAIN_VCPU_MAXIMUM:
            return int(dom.maxVcpus())
        return int(dom.info()[3])
    vcpu = _parse(dom.XMLDesc(c.VIR_DOMAIN_XML_INACTIVE)).find("vcpu")
    try:
        if flags & c.VIR_DOMAIN_VCPU_MAXIMUM:
            return int(vcpu.text or "") if vcpu is not None else int("")
        return int(vcpu.get("current", "")) if vcpu is not None else int("")
    except ValueError:
        which = "maximum" if flags & c.VIR_DOMAIN_VCPU_MAXIMUM else "current"
        raise CommandError(f"Failed to retrieve {which} vcpu count") from None


@command("vcpucount", "domain", "domain vcpu counts",
         "Returns the number of virtual CPUs used by the domain.", [
             _DOMAIN_OPT,
             Opt("maximum", OptType.BOOL, "get maximum count of vcpus"),
             Opt("active", OptType.BOOL, "get number of currently active vcpus"),
             Opt("live", OptType.BOOL, "get value from running domain"),
             Opt("config", OptType.BOOL, "get value to be used on next boot"),
             Opt("current", OptType.BOOL, "get value according to current domain state"),
             Opt("guest", OptType.BOOL,
                 "retrieve vcpu count from the guest instead of the hypervisor"),
             _JSON,
         ])
def cmd_vcpucount(ctl: Ctl, args: Args) -> bool:
    maximum, active = args.bool("maximum"), args.bool("active")
    config, live = args.bool("config"), args.bool("live")
    current, guest = args.bool("current"), args.bool("guest")
    show_all = not (maximum or active or current or config or live or guest)
    # before 0.9.4 --current meant "not --maximum": '--current --live' is '--active --live'
    if not maximum and not active and current:
        current = False
    for one, two, a, b in (("live", "config", live, config), ("current", "live", current, live),
                           ("current", "config", current, config),
                           ("active", "maximum", active, maximum),
                           ("guest", "config", guest, config)):
        if a and b:
            ctl.error(f"Options --{one} and --{two} are mutually exclusive")
            return False
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if live:
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    if config:
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if maximum:
        flags |= c.VIR_DOMAIN_VCPU_MAXIMUM
    if guest:
        flags |= c.VIR_DOMAIN_VCPU_GUEST
    dom = ctl.lookup_domain(args)
    if not show_all:
        count = _cpu_count(ctl, dom, flags, False)
        if args.bool("json"):
            ctl.json({"count": count})
        else:
            ctl.print(str(count))
        return True
    conf_max = _cpu_count(ctl, dom, c.VIR_DOMAIN_AFFECT_CONFIG | c.VIR_DOMAIN_VCPU_MAXIMUM,
                          True)
    conf_cur = _cpu_count(ctl, dom, c.VIR_DOMAIN_AFFECT_CONFIG, True)
    live_max = _cpu_count(ctl, dom, c.VIR_DOMAIN_AFFECT_LIVE | c.VIR_DOMAIN_VCPU_MAXIMUM, True)
    live_cur = _cpu_count(ctl, dom, c.VIR_DOMAIN_AFFECT_LIVE, True)
    if args.bool("json"):
        ctl.json({"maximum_config": conf_max, "maximum_live": live_max,
                  "current_config": conf_cur, "current_live": live_cur})
        return True
    for value, which, state in ((conf_max, "maximum", "config"), (live_max, "maximum", "live"),
                                (conf_cur, "current", "config"), (live_cur, "current", "live")):
        if value is not None and value > 0:
            ctl.print(f"{which:<12} {state:<12} {value:3d}")
    return True


def _bitmap_format(bits: list[bool]) -> str:
    """virBitmapDataFormat: "0-3,6"."""
    ranges = []
    i = 0
    while i < len(bits):
        if not bits[i]:
            i += 1
            continue
        start = i
        while i + 1 < len(bits) and bits[i + 1]:
            i += 1
        ranges.append(str(start) if start == i else f"{start}-{i}")
        i += 1
    return ",".join(ranges)


def _affinity(ctl: Ctl, cpumap: tuple[bool, ...] | list[bool], maxcpu: int,
              pretty: bool) -> str:
    bits = [bool(cpumap[i]) if i < len(cpumap) else False for i in range(maxcpu)]
    if pretty:
        return f"{'CPU Affinity:':<15} {_bitmap_format(bits)} (out of {maxcpu})"
    return f"{'CPU Affinity:':<15} " + "".join("y" if b else "-" for b in bits)


def _node_cpu_count(ctl: Ctl) -> int:
    """virshNodeGetCPUCount: the host CPU map's size, or nodeinfo's CPU total."""
    try:
        return int(ctl.conn.getCPUMap(0)[0])
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_SUPPORT:
            raise
    info = ctl.conn.getInfo()
    return int(info[4] * info[5] * info[6] * info[7])


def _inactive_vcpus(ctl: Ctl, dom: pyvirt.virDomain) -> list[int] | None:
    """virshDomainGetVcpuBitmap(inactive): the ids of the vCPUs enabled in the config."""
    root = _parse(dom.XMLDesc(c.VIR_DOMAIN_XML_INACTIVE))
    try:
        maxvcpus = int(root.findtext("vcpu") or "")
    except ValueError:
        ctl.error("Failed to retrieve maximum vcpu count")
        return None
    vcpu = root.find("vcpu")
    try:
        cur = int(vcpu.get("current", "0")) if vcpu is not None else 0
    except ValueError:
        cur = 0
    cur = cur or maxvcpus
    nodes = root.findall("vcpus/vcpu")
    if not nodes:
        return list(range(cur))
    enabled = set()
    for node in nodes:
        try:
            vid = int(node.get("id", ""))
        except ValueError:
            continue
        if node.get("enabled") == "yes" and vid < maxvcpus:
            enabled.add(vid)
    if len(enabled) != cur:
        ctl.error("Failed to retrieve vcpu state bitmap")
        return None
    return sorted(enabled)


@command("vcpuinfo", "domain", "detailed domain vcpu information",
         "Returns basic information about the domain virtual CPUs.", [
             _DOMAIN_OPT,
             Opt("pretty", OptType.BOOL, "return human readable output"),
             _JSON,
         ])
def cmd_vcpuinfo(ctl: Ctl, args: Args) -> bool:
    pretty = args.bool("pretty")
    as_json = args.bool("json")
    dom = ctl.lookup_domain(args)
    maxcpu = _node_cpu_count(ctl)
    state = dom.info()[0]
    records: list[dict[str, Any]] = []
    blocks: list[list[str]] = []
    try:
        infos, cpumaps = dom.vcpus()
    except pyvirt.libvirtError:
        if state != c.VIR_DOMAIN_SHUTOFF:
            raise
        vcpus = _inactive_vcpus(ctl, dom)
        if vcpus is None:
            return False
        pins = dom.vcpuPinInfo(c.VIR_DOMAIN_AFFECT_CONFIG)
        for vid in vcpus:
            cpumap = pins[vid] if vid < len(pins) else ()
            records.append({"vcpu": vid, "cpu": None, "state": None, "cpu_time_ns": None,
                            "affinity": [i for i in range(maxcpu)
                                         if i < len(cpumap) and cpumap[i]]})
            blocks.append([f"{'VCPU:':<15} {vid}", f"{'CPU:':<15} N/A",
                           f"{'State:':<15} N/A", f"{'CPU time':<15} N/A",
                           _affinity(ctl, cpumap, maxcpu, pretty)])
    else:
        for (number, vstate, cpu_time, cpu), cpumap in zip(infos, cpumaps):
            block = [f"{'VCPU:':<15} {number}", f"{'CPU:':<15} {cpu}",
                     f"{'State:':<15} {_enum(_VCPU_STATES, vstate, 'no state')}"]
            if cpu_time:
                block.append(f"{'CPU time:':<15} {cpu_time / 1e9:.1f}s")
            block.append(_affinity(ctl, cpumap, maxcpu, pretty))
            blocks.append(block)
            records.append({"vcpu": number, "cpu": cpu,
                            "state": _enum(_VCPU_STATES, vstate, "no state"),
                            "cpu_time_ns": cpu_time,
                            "affinity": [i for i in range(maxcpu)
                                         if i < len(cpumap) and cpumap[i]]})
    if as_json:
        ctl.json(records)
        return True
    ctl.print("\n\n".join("\n".join(block) for block in blocks), end="\n" if blocks else "")
    return True
