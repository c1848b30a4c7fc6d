"""virsh's guest-side commands of the "Domain Management" group (tools/virsh-domain.c): dump,
set-lifecycle-action, set-user-password, domfsfreeze, domfsthaw, domfstrim, domfsinfo,
domjobabort, send-process-signal, iothreadinfo, iothreadadd, iothreaddel.

``--json`` (a pyvirsh addition): ``domfsinfo`` prints a list of ``{"mountpoint": str,
"name": str, "type": str, "targets": [str]}``; ``iothreadinfo`` a list of ``{"id": int,
"affinity": [host CPU numbers]}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.domain import exclusive, fail
from pyvirt.virsh.ctl import CommandError
from pyvirt.virsh.registry import Opt, OptType, command

if TYPE_CHECKING:
    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"


def _affect(args: Args) -> int:
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    return flags


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

    flags = _affect(args)
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
    flags = _affect(args)
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
    flags = _affect(args)
    dom = ctl.lookup_domain(args)
    dom.delIOThread(_iothread_id(args), flags)
    return True
