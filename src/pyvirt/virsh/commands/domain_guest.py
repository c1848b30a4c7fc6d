"""virsh's guest-side commands of the "Domain Management" group (tools/virsh-domain.c): dump,
set-lifecycle-action, set-user-password, domfsfreeze, domfsthaw, domfstrim, domfsinfo,
domjobabort, send-process-signal, iothreadinfo, iothreadadd, iothreaddel; and the guest-agent
and hotplug ones: guestvcpus, setvcpu, domblkthreshold, get-user-sshkeys, set-user-sshkeys,
guestinfo, domlaunchsecinfo, domdirtyrate-calc; cpu-stats and domif-setlink; the migration
tunables (migrate-setmaxdowntime, migrate-getmaxdowntime, migrate-compcache, migrate-setspeed,
migrate-getspeed, migrate-postcopy); guest-agent-timeout, domsetlaunchsecstate,
dom-fd-associate.

``--json`` (a pyvirsh addition): ``domfsinfo`` prints a list of ``{"mountpoint": str,
"name": str, "type": str, "targets": [str]}``; ``iothreadinfo`` a list of ``{"id": int,
"affinity": [host CPU numbers]}``; ``guestinfo`` ``{field: value}`` with libvirt's field names.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.domain import affect_flags, exclusive, fail
from pyvirt.virsh.ctl import CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"


# ---- dump ----------------------------------------------------------------------------------

_DUMP_FORMATS = ("elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp")


@command("dump", GROUP, "dump the core of a domain to a file for analysis",
         "Core dump a domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("file", OptType.DATA, "where to dump the core", required=True),
             Opt("live", OptType.BOOL, "perform a live core dump if supported"),
             Opt("crash", OptType.BOOL, "crash the domain after core dump"),
             Opt("bypass-cache", OptType.BOOL, "avoid file system cache when dumping"),
             Opt("reset", OptType.BOOL, "reset the domain after core dump"),
             Opt("verbose", OptType.BOOL, "display the progress of dump"),
             Opt("memory-only", OptType.BOOL, "dump domain's memory only"),
             Opt("format", OptType.STRING, "specify the format of memory-only dump"),
         ])
def cmd_dump(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    to = args.string("file") or ""
    flags = 0
    for opt, flag in (("live", c.VIR_DUMP_LIVE), ("crash", c.VIR_DUMP_CRASH),
                      ("bypass-cache", c.VIR_DUMP_BYPASS_CACHE), ("reset", c.VIR_DUMP_RESET),
                      ("memory-only", c.VIR_DUMP_MEMORY_ONLY)):
        if args.bool(opt):
            flags |= flag
    dump_format = 0  # VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, virsh's "elf"
    if args.has("format"):
        if not flags & c.VIR_DUMP_MEMORY_ONLY:
            raise CommandError("--format only works with --memory-only")
        text = args.string_quiet("format")
        if text is not None:
            if text not in _DUMP_FORMATS:
                raise CommandError(f"format '{text}' is not supported, expecting "
                                   "'kdump-zlib', 'kdump-lzo', 'kdump-snappy', "
                                   "'win-dmp' or 'elf'")
            dump_format = _DUMP_FORMATS.index(text)
    try:
        if dump_format:
            dom.coreDumpWithFormat(to, dump_format, flags)
        else:
            dom.coreDump(to, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to core dump domain '{name}' to {to}", exc)
    if args.bool("verbose"):
        ctl.out.flush()
        ctl.err.write("\rDump: [100 %]")
        ctl.err.flush()
    ctl.print_extra(f"\nDomain '{name}' dumped to {to}")
    return True


# ---- lifecycle actions, passwords ------------------------------------------------------------

_LIFECYCLE_TYPES = ("poweroff", "reboot", "crash")
_LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                      "coredump-restart")


@command("set-lifecycle-action", GROUP, "change lifecycle actions",
         "Change lifecycle actions for the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("type", OptType.DATA, "lifecycle type to modify", required=True),
             Opt("action", OptType.DATA, "lifecycle action to set", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_set_lifecycle_action(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = 0
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    kind = args.string("type") or ""
    action = args.string("action") or ""
    if kind not in _LIFECYCLE_TYPES:
        raise CommandError(f"Invalid lifecycle type '{kind}'.")
    if action not in _LIFECYCLE_ACTIONS:
        raise CommandError(f"Invalid lifecycle action '{action}'.")
    dom = ctl.lookup_domain(args)
    try:
        dom.setLifecycleAction(_LIFECYCLE_TYPES.index(kind), _LIFECYCLE_ACTIONS.index(action),
                               flags)
    except libvirtError as exc:
        return fail(ctl, "Unable to change lifecycle action.", exc)
    return True


@command("set-user-password", GROUP, "set the user password inside the domain",
         "changes the password of the specified user inside the domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("user", OptType.DATA, "the username", required=True),
             Opt("password", OptType.DATA, "the new password", required=True, completer="empty"),
             Opt("encrypted", OptType.BOOL, "the password is already encrypted"),
         ])
def cmd_set_user_password(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_PASSWORD_ENCRYPTED if args.bool("encrypted") else 0
    user = args.string("user") or ""
    password = args.string("password") or ""
    dom = ctl.lookup_domain(args)
    dom.setUserPassword(user, password, flags)
    ctl.print_extra(f"Password set successfully for {user} in {dom.name()}", end="")
    return True


# ---- guest file systems ------------------------------------------------------------------

@command("domfsfreeze", GROUP, "Freeze domain's mounted filesystems.",
         "Freeze domain's mounted filesystems.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("mountpoint", OptType.ARGV, "mountpoint path to be frozen"),
         ])
def cmd_domfsfreeze(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    mounts = args.argv("mountpoint") or None
    try:
        count = dom.fsFreeze(mounts, 0)
    except libvirtError as exc:
        return fail(ctl, "Unable to freeze filesystems", exc)
    ctl.print_extra(f"Froze {count} filesystem(s)")
    return True


@command("domfsthaw", GROUP, "Thaw domain's mounted filesystems.",
         "Thaw domain's mounted filesystems.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("mountpoint", OptType.ARGV, "mountpoint path to be thawed"),
         ])
def cmd_domfsthaw(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    mounts = args.argv("mountpoint") or None
    try:
        count = dom.fsThaw(mounts, 0)
    except libvirtError as exc:
        return fail(ctl, "Unable to thaw filesystems", exc)
    ctl.print_extra(f"Thawed {count} filesystem(s)")
    return True


@command("domfstrim", GROUP, "Invoke fstrim on domain's mounted filesystems.",
         "Invoke fstrim on domain's mounted filesystems.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("minimum", OptType.INT,
                 "Just a hint to ignore contiguous free ranges smaller than this (Bytes)"),
             Opt("mountpoint", OptType.STRING, "which mount point to trim"),
         ])
def cmd_domfstrim(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    minimum = args.ulong("minimum", 0) or 0
    mountpoint = args.string("mountpoint")
    try:
        dom.fSTrim(mountpoint, minimum, 0)
    except libvirtError as exc:
        return fail(ctl, "Unable to invoke fstrim", exc)
    return True


@command("domfsinfo", GROUP, "Get information of domain's mounted filesystems.",
         "Get information of domain's mounted filesystems.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domfsinfo(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    try:
        infos = dom.fsInfo(0)
    except libvirtError as exc:
        return fail(ctl, "Unable to get filesystem information", exc)
    if args.bool("json"):
        ctl.json([{"mountpoint": mount, "name": name, "type": fstype, "targets": list(aliases)}
                  for mount, name, fstype, aliases in infos])
        return True
    if not infos:
        ctl.print_extra("No filesystems are mounted in the domain", end="")
        return True
    rows = [[str(mount), str(name), str(fstype), ",".join(aliases)]
            for mount, name, fstype, aliases in infos]
    ctl.print_table(["Mountpoint", "Name", "Type", "Target"], rows)
    return True


# ---- jobs, signals ---------------------------------------------------------------------------

@command("domjobabort", GROUP, "abort active domain job",
         "Aborts the currently running domain job", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("postcopy", OptType.BOOL, "interrupt post-copy migration"),
         ])
def cmd_domjobabort(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    if args.bool("postcopy"):
        dom.abortJobFlags(c.VIR_DOMAIN_ABORT_JOB_POSTCOPY)
    else:
        dom.abortJob()
    return True


_SIGNALS = ("nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1",
            "segv", "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "tstp",
            "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "poll", "pwr",
            "sys", *(f"rt{i}" for i in range(33)))


def _signal_number(name: str) -> int | None:
    """getSignalNumber: a decimal number, or a name with or without "sig"/"sig_"."""
    text = name.lower()
    import re

    m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    if m is not None:
        value = int(m.group(1))
        return value if -(1 << 31) <= value < (1 << 31) else None
    if text.startswith("sig_"):
        text = text[4:]
    elif text.startswith("sig"):
        text = text[3:]
    return _SIGNALS.index(text) if text in _SIGNALS else None


@command("send-process-signal", GROUP, "Send signals to processes",
         "Send signals to processes in the guest", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("pid", OptType.DATA, "the process ID", required=True, completer="empty"),
             Opt("signame", OptType.DATA, "the signal number or name", required=True),
         ])
def cmd_send_process_signal(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    pid = args.long("pid") or 0
    name = args.string("signame") or ""
    signum = _signal_number(name)
    if signum is None or signum < 0:
        raise CommandError(f"malformed signal name: {name}")
    dom.sendProcessSignal(pid, signum, 0)
    return True


# ---- IOThreads -------------------------------------------------------------------------------

@command("iothreadinfo", GROUP, "view domain IOThreads",
         "Returns basic information about the domain IOThreads.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_iothreadinfo(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain_tune import cpu_numbers, format_cpus

    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    try:
        infos = dom.ioThreadInfo(flags)
    except libvirtError as exc:
        return fail(ctl, "Unable to get domain IOThreads information", exc)
    if args.bool("json"):
        ctl.json([{"id": thread_id, "affinity": cpu_numbers(cpumap)}
                  for thread_id, cpumap in infos])
        return True
    if not infos:
        ctl.print_extra("No IOThreads found for the domain", end="")
        return True
    rows = [[str(thread_id), format_cpus(cpumap)] for thread_id, cpumap in infos]
    ctl.print_table(["IOThread ID", "CPU Affinity"], rows)
    return True


def _iothread_id(args: Args) -> int:
    value = args.int("id", 0) or 0
    if value <= 0:
        raise CommandError(f"Invalid IOThread id value: '{value}'")
    return value


@command("iothreadadd", GROUP, "add an IOThread to the guest domain",
         "Add an IOThread to the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("id", OptType.INT, "iothread for the new IOThread", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_iothreadadd(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    dom.addIOThread(_iothread_id(args), flags)
    return True


@command("iothreaddel", GROUP, "delete an IOThread from the guest domain",
         "Delete an IOThread from the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("id", OptType.INT, "iothread_id for the IOThread to delete", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_iothreaddel(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    dom.delIOThread(_iothread_id(args), flags)
    return True


# ---- guest agent: vCPUs, SSH keys, guest info; vCPU hotplug, block thresholds -----------------

@command("guestvcpus", GROUP, "query or modify state of vcpu in the guest (via agent)",
         "Use the guest agent to query or set cpu state from guest's point of view", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("cpulist", OptType.STRING, "list of cpus to enable or disable"),
             Opt("enable", OptType.BOOL, "enable cpus specified by cpulist"),
             Opt("disable", OptType.BOOL, "disable cpus specified by cpulist"),
         ])
def cmd_guestvcpus(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import require

    enable, disable = args.bool("enable"), args.bool("disable")
    exclusive(args, ("enable", "disable"))
    require(args, "enable", "cpulist")
    require(args, "disable", "cpulist")
    cpulist = args.string("cpulist")
    if cpulist is not None and not (enable or disable):
        raise CommandError("One of options --enable or --disable is required by option "
                           "--cpulist")
    dom = ctl.lookup_domain(args)
    if cpulist is not None:
        dom.setGuestVcpus(cpulist, 1 if enable else 0, 0)
        return True
    from pyvirt.virsh.commands.domain_tune import param_text

    for field, value in dom.guestVcpus(0).items():
        ctl.print(f"{field:<15}: {param_text(value)}")
    return True


@command("setvcpu", GROUP, "attach/detach vcpu or groups of threads",
         "Add or remove vcpus", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("vcpulist", OptType.DATA, "ids of vcpus to manipulate", required=True),
             Opt("enable", OptType.BOOL, "enable cpus specified by cpumap"),
             Opt("disable", OptType.BOOL, "disable cpus specified by cpumap"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_setvcpu(ctl: Ctl, args: Args) -> bool:
    enable, disable = args.bool("enable"), args.bool("disable")
    exclusive(args, ("enable", "disable"), ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    if not (enable or disable):
        raise CommandError("one of --enable, --disable is required")
    vcpulist = args.string("vcpulist") or ""
    dom = ctl.lookup_domain(args)
    dom.setVcpu(vcpulist, 1 if enable else 0, flags)
    return True


@command("domblkthreshold", GROUP,
         "set the threshold for block-threshold event for a given block device or it's backing "
         "chain element",
         "set threshold for block-threshold event for a block device", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("dev", OptType.DATA, "device to set threshold for", required=True),
             Opt("threshold", OptType.INT,
                 "threshold as a scaled number (by default bytes)", required=True),
         ])
def cmd_domblkthreshold(ctl: Ctl, args: Args) -> bool:
    dev = args.string("dev") or ""

    threshold = args.scaled("threshold", "B") or 0
    dom = ctl.lookup_domain(args)
    dom.setBlockThreshold(dev, threshold, 0)
    return True


@command("get-user-sshkeys", GROUP, "list authorized SSH keys for given user (via agent)",
         "Use the guest agent to query authorized SSH keys for given user", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("user", OptType.DATA, "user to list authorized keys for", required=True),
         ])
def cmd_get_user_sshkeys(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    user = args.string("user") or ""
    for key in dom.authorizedSSHKeysGet(user, 0):
        ctl.print(str(key), end="")
    return True


@command("set-user-sshkeys", GROUP,
         "manipulate authorized SSH keys file for given user (via agent)",
         "Append, reset or remove specified key from the authorized keys file for given user", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("user", OptType.DATA, "user to set authorized keys for", required=True),
             Opt("file", OptType.STRING, "optional file to read keys from"),
             Opt("reset", OptType.BOOL, "clear out authorized keys file before adding new keys"),
             Opt("remove", OptType.BOOL, "remove keys from the authorized keys file"),
         ])
def cmd_set_user_sshkeys(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import read_file, require

    require(args, "remove", "file")
    exclusive(args, ("reset", "remove"))
    dom = ctl.lookup_domain(args)
    user = args.string("user") or ""
    path = args.string("file")
    flags = 0
    if args.bool("remove"):
        flags |= c.VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE
    elif not args.bool("reset"):
        flags |= c.VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND
        if path is None:
            raise CommandError("Option --file is required")
    keys: list[str] = []
    if path is not None:
        keys = read_file(ctl, path).split("\n")
    dom.authorizedSSHKeysSet(user, keys, flags)
    return True


_GUEST_INFO_TYPES = (("user", "VIR_DOMAIN_GUEST_INFO_USERS"), ("os", "VIR_DOMAIN_GUEST_INFO_OS"),
                     ("timezone", "VIR_DOMAIN_GUEST_INFO_TIMEZONE"),
                     ("hostname", "VIR_DOMAIN_GUEST_INFO_HOSTNAME"),
                     ("filesystem", "VIR_DOMAIN_GUEST_INFO_FILESYSTEM"),
                     ("disk", "VIR_DOMAIN_GUEST_INFO_DISKS"),
                     ("interface", "VIR_DOMAIN_GUEST_INFO_INTERFACES"))


@command("guestinfo", GROUP, "query information about the guest (via agent)",
         "Use the guest agent to query various information from guest's point of view", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("user", OptType.BOOL, "report active users"),
             Opt("os", OptType.BOOL, "report operating system information"),
             Opt("timezone", OptType.BOOL, "report timezone information"),
             Opt("hostname", OptType.BOOL, "report hostname"),
             Opt("filesystem", OptType.BOOL, "report filesystem information"),
             Opt("disk", OptType.BOOL, "report disk information"),
             Opt("interface", OptType.BOOL, "report interface information"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_guestinfo(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain_tune import param_text

    types = 0
    for opt, const in _GUEST_INFO_TYPES:
        if args.bool(opt):
            types |= getattr(c, const)
    dom = ctl.lookup_domain(args)
    info = dom.guestInfo(types, 0)
    if args.bool("json"):
        ctl.json(dict(info))
        return True
    for field, value in info.items():
        ctl.print(f"{field:<20}: {param_text(value)}")
    return True


@command("domlaunchsecinfo", GROUP, "Get domain launch security info",
         "Get the launch security parameters for a guest domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
         ])
def cmd_domlaunchsecinfo(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain_tune import param_text

    dom = ctl.lookup_domain(args)
    try:
        info = dom.launchSecurityInfo(0)
    except libvirtError as exc:
        return fail(ctl, "Unable to get launch security parameters", exc)
    for field, value in info.items():
        ctl.print(f"{field:<15}: {param_text(value)}")
    return True


_DIRTYRATE_MODES = {"page-sampling": "VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING",
                    "dirty-bitmap": "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP",
                    "dirty-ring": "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING"}


@command("domdirtyrate-calc", GROUP, "Calculate a vm's memory dirty rate",
         "Calculate memory dirty rate of a domain in order to decide whether it's proper to be "
         "migrated out or not.\nThe calculated dirty rate information is available by calling "
         "'domstats --dirtyrate'.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("seconds", OptType.INT,
                 "calculate memory dirty rate within specified seconds, the supported value "
                 "range from 1 to 60, default to 1."),
             Opt("mode", OptType.STRING,
                 "dirty page rate calculation mode, either of these 3 options 'page-sampling, "
                 "dirty-bitmap, dirty-ring' can be specified."),
         ])
def cmd_domdirtyrate_calc(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    seconds = args.int("seconds", 1)
    mode = args.string("mode")
    flags = 0
    if mode is not None:
        if mode not in _DIRTYRATE_MODES:
            raise CommandError(f"Unknown calculation mode '{mode}'")
        flags = getattr(c, _DIRTYRATE_MODES[mode])
    dom.startDirtyRateCalc(seconds, flags)
    ctl.print_extra("Start to calculate domain's memory dirty rate successfully.")
    return True


# ---- CPU statistics, interface link state ----------------------------------------------------

_TIME_FIELDS = ("cpu_time", "vcpu_time", "user_time", "system_time")


def _cpu_stat_line(ctl: Ctl, field: str, value: object) -> None:
    """vshCPUStatsPrintField: times as seconds with nine decimals, the rest as typed values."""
    from pyvirt.virsh.commands.domain_tune import param_text

    if field in _TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        ctl.print(f"\t{field:<12} {value // 1000000000:9d}.{value % 1000000000:09d} seconds")
    else:
        ctl.print(f"\t{field:<12} {param_text(value)}")


@command("cpu-stats", GROUP, "show domain cpu statistics",
         "Display per-CPU and total statistics about the domain's CPUs", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("total", OptType.BOOL, "Show total statistics only"),
             Opt("start", OptType.INT, "Show statistics from this CPU"),
             Opt("count", OptType.INT, "Number of shown CPUs at most"),
         ])
def cmd_cpu_stats(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    show_total = args.bool("total")
    show_per_cpu = False
    cpu = args.int("start")
    if cpu is not None:
        if cpu < 0:
            raise CommandError("Invalid value for start CPU")
        show_per_cpu = True
    else:
        cpu = 0
    count = args.int("count")
    if count is not None:
        if count < 0:
            raise CommandError("Invalid value for number of CPUs to show")
        show_per_cpu = True
    if not show_total and not show_per_cpu:
        show_total = show_per_cpu = True
    name = dom.name()
    if show_per_cpu:
        try:
            per_cpu = dom.getCPUStats(False)
        except libvirtError as exc:
            return fail(ctl, f"Failed to retrieve CPU statistics for domain '{name}'", exc)
        max_id = len(per_cpu)
        if cpu >= max_id:
            raise CommandError(
                f"Start CPU {cpu} is out of range (min: 0, max: {max_id - 1})")
        if count is None or count > max_id:
            if count is not None:
                ctl.print(f"Only {max_id} CPUs available to show")
            count = max_id - cpu
        if not any(per_cpu):
            ctl.print("No per-CPU stats available", end="")
            if not show_total:
                return False
        else:
            for i in range(cpu, min(cpu + count, max_id)):
                if not per_cpu[i]:
                    continue  # not in the domain's CPU map
                ctl.print(f"CPU{i}:")
                for field, value in per_cpu[i].items():
                    _cpu_stat_line(ctl, field, value)
            if not show_total:
                return True
    try:
        total = dom.getCPUStats(True)
    except libvirtError as exc:
        return fail(ctl, f"Failed to retrieve CPU statistics for domain '{name}'", exc)
    if not total or not total[0]:
        ctl.print("No total stats available", end="")
        return False
    ctl.print("Total:")
    for field, value in total[0].items():
        _cpu_stat_line(ctl, field, value)
    return True


@command("domif-setlink", GROUP, "set link state of a virtual interface",
         "Set link state of a domain's virtual interface. This command wraps usage of "
         "update-device command.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("interface", OptType.DATA, "interface device (MAC Address)", required=True),
             Opt("state", OptType.DATA, "new state of the device", required=True),
             Opt("persistent", OptType.ALIAS, "", alias="config"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("print-xml", OptType.BOOL,
                 "print XML document rather than set the interface link state"),
         ])
def cmd_domif_setlink(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain_devices import node_dump, parse_document

    dom = ctl.lookup_domain(args)
    iface = args.string("interface") or ""
    state = args.string("state") or ""
    if state not in ("up", "down"):
        raise CommandError(f"invalid link state '{state}'")
    xml_flags = 0
    if args.bool("config"):
        flags = c.VIR_DOMAIN_AFFECT_CONFIG
        xml_flags = c.VIR_DOMAIN_XML_INACTIVE
    else:
        flags = c.VIR_DOMAIN_AFFECT_LIVE
    if not dom.isActive():
        flags = c.VIR_DOMAIN_AFFECT_CONFIG
    root = parse_document(dom.XMLDesc(xml_flags))
    nodes = root.findall("./devices/interface")
    if not nodes:
        raise CommandError("Failed to extract interface information or no interfaces found")
    found = None
    for node in nodes:
        mac = node.find("mac")
        target = node.find("target")
        for value in (mac.get("address") if mac is not None else None,
                      target.get("dev") if target is not None else None):
            if value and value.lower() == iface.lower():
                found = node
                break
        if found is not None:
            break
    if found is None:
        raise CommandError(f"interface '{iface}' not found")
    link = found.find("link")
    if link is None:
        from lxml import etree

        link = etree.SubElement(found, "link")
    link.set("state", state)
    xml = node_dump(found)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        dom.updateDeviceFlags(xml, flags)
    except libvirtError as exc:
        return fail(ctl, "Failed to update interface link state", exc)
    ctl.print_extra("Device updated successfully")
    return True


# ---- migration tunables ---------------------------------------------------------------------

@command("migrate-setmaxdowntime", GROUP, "set maximum tolerable downtime",
         "Set maximum tolerable downtime of a domain which is being live-migrated to another "
         "host.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("downtime", OptType.INT,
                 "maximum tolerable downtime (in milliseconds) for migration", required=True),
         ])
def cmd_migrate_setmaxdowntime(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    downtime = args.ulong("downtime", 0) or 0
    if downtime < 1:
        raise CommandError("migrate: Invalid downtime")
    dom.migrateSetMaxDowntime(downtime, 0)
    return True


@command("migrate-getmaxdowntime", GROUP, "get maximum tolerable downtime",
         "Get maximum tolerable downtime of a domain which is being live-migrated to another "
         "host.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
         ])
def cmd_migrate_getmaxdowntime(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    ctl.print(str(dom.migrateGetMaxDowntime(0)))
    return True


@command("migrate-compcache", GROUP, "get/set compression cache size",
         "Get/set size of the cache (in bytes) used for compressing repeatedly transferred "
         "memory pages during live migration.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("size", OptType.INT,
                 "requested size of the cache (in bytes) used for compression", named_only=True),
         ])
def cmd_migrate_compcache(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import pretty_capacity

    dom = ctl.lookup_domain(args)
    size = args.ulong("size")
    if size is not None:
        dom.migrateSetCompressionCache(size, 0)
    value, unit = pretty_capacity(int(dom.migrateGetCompressionCache(0)))
    ctl.print(f"Compression cache: {value:.3f} {unit}", end="")
    return True


@command("migrate-setspeed", GROUP, "Set the maximum migration bandwidth",
         "Set the maximum migration bandwidth (in MiB/s) for a domain which is being migrated "
         "to another host.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("bandwidth", OptType.INT, "migration bandwidth limit in MiB/s", required=True),
             Opt("postcopy", OptType.BOOL, "set post-copy migration bandwidth"),
         ])
def cmd_migrate_setspeed(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    bandwidth = args.ulong("bandwidth", 0, wrap=True) or 0
    flags = c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY if args.bool("postcopy") else 0
    dom.migrateSetMaxSpeed(bandwidth, flags)
    return True


@command("migrate-getspeed", GROUP, "Get the maximum migration bandwidth",
         "Get the maximum migration bandwidth (in MiB/s) for a domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("postcopy", OptType.BOOL, "get post-copy migration bandwidth"),
         ])
def cmd_migrate_getspeed(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    flags = c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY if args.bool("postcopy") else 0
    ctl.print(str(dom.migrateGetMaxSpeed(flags)))
    return True


@command("migrate-postcopy", GROUP, "Switch running migration from pre-copy to post-copy",
         "Switch running migration from pre-copy to post-copy. The migration must have been "
         "started with --postcopy option.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
         ])
def cmd_migrate_postcopy(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    dom.migrateStartPostCopy(0)
    return True


# ---- agent timeout, launch security state --------------------------------------------------

@command("guest-agent-timeout", GROUP, "Set the guest agent timeout",
         "Set the number of seconds to wait for a response from the guest agent.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("timeout", OptType.INT, "timeout seconds.", named_only=True),
         ])
def cmd_guest_agent_timeout(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    timeout = args.int("timeout", c.VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK)
    dom.agentSetResponseTimeout(timeout, 0)
    return True


def _read_small(ctl: Ctl, path: str) -> str:
    """virFileReadAll with a 64 KiB cap; a failure is libvirt's error, reported at the end."""
    from pyvirt.errors import make_error, report

    try:
        with open(path, "rb") as fh:
            data = fh.read(64 * 1024 + 1)
    except OSError as exc:
        report(make_error(c.VIR_ERR_SYSTEM_ERROR,
                          f"Failed to open file '{path}': {exc.strerror}"))
        raise CommandFailed() from None
    if len(data) > 64 * 1024:
        report(make_error(c.VIR_ERR_INTERNAL_ERROR, f"File '{path}' is too large"))
        raise CommandFailed()
    return data.decode("utf-8", errors="replace")


@command("domsetlaunchsecstate", GROUP, "Set domain launch security state",
         "Set a secret in the guest domain's memory", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("secrethdr", OptType.STRING,
                 "path to file containing the secret header", named_only=True),
             Opt("secret", OptType.STRING, "path to file containing the secret", named_only=True),
             Opt("set-address", OptType.INT,
                 "physical address within the guest domain's memory to set the secret"),
         ])
def cmd_domsetlaunchsecstate(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    header_file = args.string("secrethdr")
    secret_file = args.string("secret")
    if header_file is None or secret_file is None:
        raise CommandError("Both secret and the secret header are required")
    params: dict[str, Any] = {"sev-secret-header": _read_small(ctl, header_file),
                              "sev-secret": _read_small(ctl, secret_file)}
    address = args.ulong("set-address")
    if address is not None:
        params["sev-secret-set-address"] = address
    try:
        dom.setLaunchSecurityState(params, 0)
    except libvirtError as exc:
        return fail(ctl, "Unable to set launch security state", exc)
    return True


@command("dom-fd-associate", GROUP, "associate a FD with a domain",
         "associate a FD with a domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("name", OptType.DATA, "name of the FD group", required=True, completer="empty"),
             Opt("pass-fds", OptType.DATA,
                 "file descriptors N,M,... to associate", required=True, completer="empty"),
             Opt("seclabel-writable", OptType.BOOL, "use seclabels allowing writes"),
             Opt("seclabel-restore", OptType.BOOL,
                 "try to restore security label after use if possible"),
         ])
def cmd_dom_fd_associate(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import pass_fds

    flags = 0
    if args.bool("seclabel-writable"):
        flags |= c.VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE
    if args.bool("seclabel-restore"):
        flags |= c.VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_RESTORE
    dom = ctl.lookup_domain(args)
    name = args.string("name") or ""
    fds = pass_fds(args)
    dom.FDAssociate(name, fds, flags)
    return True
