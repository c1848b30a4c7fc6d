"""virsh's "Domain Management" group (tools/virsh-domain.c): domain lifecycle, XML, save
images, identity, description and metadata, memory and vCPU settings, console and display.

The device commands (attach-*/detach-*) live in ``domain_devices``; the read-only vCPU and job
commands virsh files under this group (vcpuinfo, vcpucount, domjobinfo, domtime) live in
``monitor``.

``--json`` (a pyvirsh addition) prints one JSON document with these stable keys:

- ``domname --json``, ``domid --json``, ``domuuid --json``: ``{"name": str, "id": int|null,
  "uuid": str}`` (id null for an inactive domain).
- ``domhostname --json``: ``{"hostname": str}``.
- ``vncdisplay --json``: ``{"listen": str|null, "port": int, "display": int}``.
- ``desc --json`` (reading only): ``{"title": bool, "text": str}``.
- ``domdisplay --json``: a list of display URIs (all of them with ``--all``, else the first).

``domain_tune`` and ``domain_guest`` document the --json of their commands.
"""

from __future__ import annotations

import os
import sys

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.ctl import BY_NAME, BY_UUID, CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command, set_group_order

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"

# virsh's order of the group (domManagementCmds), which "help domain" follows; the group
# spans modules (domain, domain_devices, domain_tune, monitor), so registration order
# alone cannot give it
TABLE_ORDER: tuple[str, ...] = (
    "attach-device", "attach-disk", "attach-interface", "autostart", "blkdeviotune",
    "blkiotune", "blockcommit", "blockcopy", "blockjob", "blockpull", "blockresize",
    "change-media", "console", "cpu-stats", "create", "define", "desc", "destroy",
    "detach-device", "detach-device-alias", "detach-disk", "detach-interface", "domdisplay",
    "domfsfreeze", "domfsthaw", "domfsinfo", "domfstrim", "domhostname", "domid",
    "domif-setlink", "domiftune", "domjobabort", "domjobinfo", "domlaunchsecinfo",
    "domsetlaunchsecstate", "domname", "domrename", "dompmsuspend", "dompmwakeup", "domuuid",
    "domxml-from-native", "domxml-to-native", "dump", "dumpxml", "edit", "get-user-sshkeys",
    "inject-nmi", "iothreadinfo", "iothreadpin", "iothreadadd", "iothreadset", "iothreaddel",
    "send-key", "send-process-signal", "lxc-enter-namespace", "managedsave",
    "managedsave-remove", "managedsave-edit", "managedsave-dumpxml", "managedsave-define",
    "memtune", "perf", "metadata", "migrate", "migrate-setmaxdowntime",
    "migrate-getmaxdowntime", "migrate-compcache", "migrate-setspeed", "migrate-getspeed",
    "migrate-postcopy", "numatune", "qemu-attach", "qemu-monitor-command", "qemu-monitor-event",
    "qemu-agent-command", "guest-agent-timeout", "reboot", "reset", "restore", "resume", "save",
    "save-image-define", "save-image-dumpxml", "save-image-edit", "schedinfo", "screenshot",
    "set-lifecycle-action", "set-user-sshkeys", "set-user-password", "setmaxmem", "setmem",
    "setvcpus", "shutdown", "start", "suspend", "ttyconsole", "undefine", "update-device",
    "update-memory-device", "vcpucount", "vcpuinfo", "vcpupin", "emulatorpin", "vncdisplay",
    "guestvcpus", "setvcpu", "domblkthreshold", "guestinfo", "domdirtyrate-calc",
    "dom-fd-associate"
)
set_group_order("domain", TABLE_ORDER)


# ---- shared helpers ------------------------------------------------------------------------

def fail(ctl: Ctl, message: str, exc: libvirtError | None = None) -> bool:
    """vshError(message), then the libvirt error as virsh's end-of-command report."""
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def require(args: Args, opt: str, needed: str) -> None:
    """VSH_REQUIRE_OPTION(opt, needed): ``--opt`` is refused without ``--needed``."""
    if args.has(opt) and not args.has(needed):
        raise CommandError(f"Option --{needed} is required by option --{opt}")


def exclusive(args: Args, *pairs: tuple[str, str]) -> None:
    """VSH_EXCLUSIVE_OPTIONS for each pair, in order."""
    for first, second in pairs:
        if args.has(first) and args.has(second):
            raise CommandError(f"Options --{first} and --{second} are mutually exclusive")


def affect_flags(args: Args) -> int:
    """--config/--live/--current as VIR_DOMAIN_AFFECT_* (after the exclusivity checks)."""
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    return flags




def read_file(ctl: Ctl, path: str) -> str:
    """virFileReadAll with virsh's 10 MiB cap; a failure is libvirt's system error."""
    from pyvirt.virsh.commands.pool import read_xml_file

    return read_xml_file(ctl, path)


def dump_xml(ctl: Ctl, args: Args, xml: str) -> bool:
    """virshDumpXML with the command's --xpath and --wrap."""
    from pyvirt.virsh.commands.network import dump_object_xml

    return dump_object_xml(ctl, args, "domain", lambda: xml)


def error_code(exc: BaseException) -> int:
    code = exc.get_error_code() if isinstance(exc, libvirtError) else None
    return -1 if code is None else int(code)


def edit_loop(ctl: Ctl, get_xml: Callable[[], str], define: Callable[[str], Any],
              not_changed: Callable[[], None], relax: Callable[[], None] | None = None) -> bool:
    """virsh-edit.c: write the XML to a temporary file, run the editor, and redefine the
    edited document; on a failure ask to re-edit (only on a terminal, as virsh).

    Returns True when the edited document was defined (or, without a terminal, when its
    definition failed and virsh carries on), False when it was unchanged (``not_changed``
    was called: virsh then skips its "edited" message). Abandoning raises CommandFailed.
    """
    from pyvirt.virsh.commands.network import _edit_temp_file, _run_editor

    doc = get_xml()
    path = _edit_temp_file(ctl, doc)
    relax_avail = relax is not None
    try:
        edited = None
        reedit = True
        while True:
            if reedit:
                _run_editor(ctl, path)
                try:
                    with open(path, encoding="utf-8") as fh:
                        edited = fh.read()
                except OSError as exc:
                    raise CommandError(
                        f"{path}: failed to read temporary file: {exc.strerror}") from None
                if edited == doc:
                    not_changed()
                    return False
            assert edited is not None
            reedit = False
            message = None
            reread = get_xml()
            if reread != doc:
                message = "The XML configuration was changed by another user."
                doc = reread
            else:
                try:
                    define(edited)
                except libvirtError as exc:
                    ctl.save_error(exc)
                    message = "Failed."
            if message is None:
                return True
            answer = _ask_reedit(ctl, message, relax_avail)
            if answer == "y":
                reedit = True
            elif answer == "f":
                continue
            elif answer == "n":
                ctl.reset_error()
                raise CommandFailed()
            elif answer == "i" and relax is not None:
                relax()
                relax_avail = False
            else:
                # no terminal: virsh reports the reason and carries on as if it had worked
                ctl.error(message)
                return True
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _ask_reedit(ctl: Ctl, message: str, relax_avail: bool) -> str:
    """vshAskReedit: on a terminal, report the error and read one of y/n/i/f."""
    if not os.isatty(0):
        return ""
    ctl.report_libvirt_error()
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        choices = "[y,n,i,f,?]" if relax_avail else "[y,n,f,?]"
        while True:
            ctl.print(f"\r{message} Try again? {choices}: ", end="")
            ctl.out.flush()
            answer = os.read(fd, 1).decode(errors="replace").lower()
            if answer == "?":
                lines = ["", "y - yes, start editor again", "n - no, throw away my changes"]
                if relax_avail:
                    lines.append("i - turn off validation and try to redefine again")
                lines += ["f - force, try to redefine again", "? - print this help"]
                for line in lines:
                    ctl.print(line, end="\r\n")
                continue
            if answer in ("y", "n", "f") or (relax_avail and answer == "i"):
                break
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
    ctl.print("\r")
    return answer


def _job_progress(ctl: Ctl, label: str) -> None:
    """virshPrintJobProgress at completion: "\\r<label>: [100 %]" on stderr."""
    ctl.out.flush()
    ctl.err.write(f"\r{label}: [100 %]")
    ctl.err.flush()


def pass_fds(args: Args) -> list[int]:
    """virshFetchPassFdsList: --pass-fds N,M,... as numbers (virsh checks nothing more)."""
    import re

    text = args.string("pass-fds")
    if text is None:
        return []
    fds = []
    for item in text.split(","):
        m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", item)
        if m is None or not -(1 << 31) <= int(m.group(1)) < (1 << 31):
            raise CommandError(f"Unable to parse FD number '{item}'")
        fds.append(int(m.group(1)))
    return fds


# ---- create, define, undefine, start --------------------------------------------------------

@command("create", GROUP, "create a domain from an XML file",
         "Create a domain.", [
             Opt("file", OptType.DATA, "file containing an XML domain description", required=True),
             Opt("console", OptType.BOOL, "attach to console after creation"),
             Opt("paused", OptType.BOOL, "leave the guest paused after creation"),
             Opt("autodestroy", OptType.BOOL,
                 "automatically destroy the guest when virsh disconnects"),
             Opt("pass-fds", OptType.STRING,
                 "pass file descriptors N,M,... to the guest", completer="empty"),
             Opt("validate", OptType.BOOL, "validate the XML against the schema"),
             Opt("reset-nvram", OptType.BOOL, "re-initialize NVRAM from its pristine template"),
         ])
def cmd_create(ctl: Ctl, args: Args) -> bool:
    path = args.string("file") or ""
    xml = read_file(ctl, path)
    fds = pass_fds(args)
    flags = 0
    if args.bool("paused"):
        flags |= c.VIR_DOMAIN_START_PAUSED
    if args.bool("autodestroy"):
        flags |= c.VIR_DOMAIN_START_AUTODESTROY
    if args.bool("validate"):
        flags |= c.VIR_DOMAIN_START_VALIDATE
    if args.bool("reset-nvram"):
        flags |= c.VIR_DOMAIN_START_RESET_NVRAM
    try:
        if fds:
            dom = ctl.conn.createXMLWithFiles(xml, fds, flags)
        else:
            dom = ctl.conn.createXML(xml, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to create domain from {path}", exc)
    ctl.print_extra(f"Domain '{dom.name()}' created from {path}")
    if args.bool("console"):
        return run_console(ctl, dom, None, 0)
    return True


@command("define", GROUP, "define (but don't start) a domain from an XML file",
         "Define a domain.", [
             Opt("file", OptType.DATA, "file containing an XML domain description", required=True),
             Opt("validate", OptType.BOOL, "validate the XML against the schema"),
         ])
def cmd_define(ctl: Ctl, args: Args) -> bool:
    path = args.string("file") or ""
    xml = read_file(ctl, path)
    try:
        if args.bool("validate"):
            dom = ctl.conn.defineXMLFlags(xml, c.VIR_DOMAIN_DEFINE_VALIDATE)
        else:
            dom = ctl.conn.defineXML(xml)
    except libvirtError as exc:
        return fail(ctl, f"Failed to define domain from {path}", exc)
    ctl.print_extra(f"Domain '{dom.name()}' defined from {path}")
    return True


def _no_support(exc: libvirtError) -> bool:
    return error_code(exc) == c.VIR_ERR_NO_SUPPORT


@command("undefine", GROUP, "undefine a domain",
         "Undefine an inactive domain, or convert persistent to transient.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_persistent"),
             Opt("managed-save", OptType.BOOL, "remove domain managed state file"),
             Opt("storage", OptType.STRING,
                 "remove associated storage volumes (comma separated list of targets or source "
                 "paths) (see domblklist)"),
             Opt("remove-all-storage", OptType.BOOL,
                 "remove all associated storage volumes (use with caution)"),
             Opt("delete-snapshots", OptType.ALIAS, "", alias="delete-storage-volume-snapshots"),
             Opt("delete-storage-volume-snapshots", OptType.BOOL,
                 "delete snapshots associated with volume(s), requires --remove-all-storage "
                 "(must be supported by storage driver)"),
             Opt("wipe-storage", OptType.BOOL, "wipe data on the removed volumes"),
             Opt("snapshots-metadata", OptType.BOOL,
                 "remove all domain snapshot metadata (vm must be inactive)"),
             Opt("checkpoints-metadata", OptType.BOOL,
                 "remove all domain checkpoint metadata (vm must be inactive)"),
             Opt("nvram", OptType.BOOL, "remove nvram file"),
             Opt("keep-nvram", OptType.BOOL, "keep nvram file"),
             Opt("tpm", OptType.BOOL, "remove TPM state"),
             Opt("keep-tpm", OptType.BOOL, "keep TPM state"),
         ])
def cmd_undefine(ctl: Ctl, args: Args) -> bool:
    require(args, "delete-storage-volume-snapshots", "remove-all-storage")
    exclusive(args, ("nvram", "keep-nvram"), ("tpm", "keep-tpm"))
    vol_string = args.string_quiet("storage")
    remove_all = args.bool("remove-all-storage")
    wipe = args.bool("wipe-storage")
    if not (vol_string or remove_all) and wipe:
        raise CommandError(
            "'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'")
    vol_flags = 0
    if args.bool("delete-storage-volume-snapshots"):
        vol_flags |= c.VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS
    flags = 0
    managed_save = args.bool("managed-save")
    snapshots_metadata = args.bool("snapshots-metadata")
    managed_save_safe = managed_save
    snapshots_safe = snapshots_metadata
    for opt, flag in (("managed-save", c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE),
                      ("snapshots-metadata", c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA),
                      ("checkpoints-metadata", c.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA),
                      ("nvram", c.VIR_DOMAIN_UNDEFINE_NVRAM),
                      ("keep-nvram", c.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM),
                      ("tpm", c.VIR_DOMAIN_UNDEFINE_TPM),
                      ("keep-tpm", c.VIR_DOMAIN_UNDEFINE_KEEP_TPM)):
        if args.bool(opt):
            flags |= flag
    dom = ctl.lookup_domain(args)
    name = dom.name()
    running = dom.isActive()
    has_managed_save = 0
    has_snapshots = 0
    has_snapshots_metadata = -1
    if not running:
        try:
            has_managed_save = dom.hasManagedSaveImage(0)
        except libvirtError as exc:
            if not _no_support(exc):
                raise
            ctl.reset_error()
        try:
            has_snapshots = dom.snapshotNum(0)
        except libvirtError as exc:
            if not _no_support(exc):
                raise
            ctl.reset_error()
        if has_snapshots:
            try:
                has_snapshots_metadata = dom.snapshotNum(c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA)
                managed_save_safe = snapshots_safe = True
            except libvirtError:
                ctl.reset_error()
                has_snapshots_metadata = has_snapshots
    if not has_managed_save:
        flags &= ~c.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        managed_save_safe = True
    if has_snapshots == 0:
        snapshots_safe = True
    if has_snapshots_metadata == 0:
        flags &= ~c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        snapshots_safe = True

    vols: list[tuple[str, str, Any]] = []
    if vol_string or remove_all:
        if running:
            ctl.error("Storage volume deletion is supported only on stopped domains")
            return False
        if vol_string and remove_all:
            ctl.error("Specified both --storage and --remove-all-storage")
            return False
        vols = _undefine_volumes(ctl, dom, vol_string)

    nvram = args.bool("nvram")
    done = False
    if (managed_save_safe and snapshots_safe) or nvram:
        try:
            dom.undefineFlags(flags)
            done = True
        except libvirtError as exc:
            if nvram or error_code(exc) not in (c.VIR_ERR_NO_SUPPORT, c.VIR_ERR_INVALID_ARG):
                return fail(ctl, f"Failed to undefine domain '{name}'", exc)
            ctl.reset_error()
    if not done:
        if has_managed_save:
            if not managed_save:
                ctl.error("Refusing to undefine while domain managed save image exists")
                return False
            dom.managedSaveRemove(0)
        if has_snapshots_metadata > 0:
            if snapshots_metadata:
                ctl.error(f"Unable to remove metadata of {has_snapshots_metadata} snapshots")
            else:
                ctl.error(f"Refusing to undefine while {has_snapshots_metadata} snapshots exist")
            return False
        try:
            dom.undefine()
        except libvirtError as exc:
            return fail(ctl, f"Failed to undefine domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' has been undefined")
    ok = True
    for target, source, vol in vols:
        if wipe:
            ctl.print_extra(f"Wiping volume '{target}'({source}) ... ", end="")
            ctl.out.flush()
            try:
                vol.wipe(0)
            except libvirtError:
                ctl.error("Failed! Volume not removed.")
                ok = False
                continue
            ctl.print_extra("Done.")
        try:
            vol.delete(vol_flags)
        except libvirtError as exc:
            ctl.save_error(exc)
            ctl.error(f"Failed to remove storage volume '{target}'({source})")
            ok = False
        else:
            ctl.print_extra(f"Volume '{target}'({source}) removed.")
    return ok


def _undefine_volumes(ctl: Ctl, dom: Any, vol_string: str | None) -> list[tuple[str, str, Any]]:
    """The storage volumes of the domain's disks that --storage/--remove-all-storage name."""
    from pyvirt.conf.xmlutil import parse_xml

    root = parse_xml(dom.XMLDesc(0))
    wanted: list[str | None] | None = None
    if vol_string:
        wanted = [item for item in _split_commas(vol_string)]
    vols: list[tuple[str, str, Any]] = []
    for disk in root.findall("./devices/disk"):
        target_el = disk.find("target")
        target = target_el.get("dev", "") if target_el is not None else ""
        src = disk.find("source")
        source = None
        if src is not None:
            for attr in ("file", "dir", "name", "dev", "volume"):
                if src.get(attr) is not None:
                    source = src.get(attr)
                    break
        if not source:
            continue
        if wanted is not None:
            for i, item in enumerate(wanted):
                if item is not None and item in (target, source):
                    wanted[i] = None
                    break
            else:
                continue
        pool = src.get("pool") if src is not None else None
        try:
            if pool:
                try:
                    spool = ctl.conn.storagePoolLookupByName(pool)
                except libvirtError:
                    ctl.error(f"Storage pool '{pool}' for volume '{target}' not found.")
                    ctl.reset_error()
                    continue
                vol = spool.storageVolLookupByName(source)
            else:
                vol = ctl.conn.storageVolLookupByPath(source)
        except libvirtError:
            ctl.error(f"Storage volume '{target}'({source}) is not managed by libvirt. "
                      "Remove it manually.\n")
            ctl.reset_error()
            continue
        vols.append((target, source, vol))
    if wanted is not None:
        missing = [item for item in wanted if item is not None]
        for item in missing:
            ctl.error(f"Volume '{item}' was not found in domain's definition.\n")
        if missing:
            raise CommandFailed()
    return vols


def _split_commas(text: str) -> list[str]:
    """vshStringToArray: split on commas, ",," standing for a literal comma."""
    items: list[str] = []
    cur = ""
    i = 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                cur += ","
                i += 2
                continue
            items.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    items.append(cur)
    return items


@command("start", GROUP, "start a (previously defined) inactive domain",
         "Start a domain, either from the last managedsave\n    state, or via a fresh boot if "
         "no managedsave state\n    is present.", [
             Opt("domain", OptType.DATA,
                 "name of the inactive domain", required=True, completer="domain_shutoff"),
             Opt("console", OptType.BOOL, "attach to console after creation"),
             Opt("paused", OptType.BOOL, "leave the guest paused after creation"),
             Opt("autodestroy", OptType.BOOL,
                 "automatically destroy the guest when virsh disconnects"),
             Opt("bypass-cache", OptType.BOOL, "avoid file system cache when loading"),
             Opt("force-boot", OptType.BOOL, "force fresh boot by discarding any managed save"),
             Opt("pass-fds", OptType.STRING,
                 "pass file descriptors N,M,... to the guest", completer="empty"),
             Opt("reset-nvram", OptType.BOOL, "re-initialize NVRAM from its pristine template"),
         ])
def cmd_start(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args, by=BY_NAME | BY_UUID)
    if dom.ID() != -1:
        raise CommandError("Domain is already active")
    fds = pass_fds(args)
    flags = 0
    for opt, flag in (("paused", c.VIR_DOMAIN_START_PAUSED),
                      ("autodestroy", c.VIR_DOMAIN_START_AUTODESTROY),
                      ("bypass-cache", c.VIR_DOMAIN_START_BYPASS_CACHE),
                      ("force-boot", c.VIR_DOMAIN_START_FORCE_BOOT),
                      ("reset-nvram", c.VIR_DOMAIN_START_RESET_NVRAM)):
        if args.bool(opt):
            flags |= flag
    started = False
    if flags & c.VIR_DOMAIN_START_FORCE_BOOT:
        # virsh emulates force-boot for servers that refuse the flag
        try:
            if fds:
                dom.createWithFiles(fds, flags)
            else:
                dom.createWithFlags(flags)
            started = True
        except libvirtError as exc:
            if error_code(exc) not in (c.VIR_ERR_NO_SUPPORT, c.VIR_ERR_INVALID_ARG):
                raise
            ctl.reset_error()
            try:
                if dom.hasManagedSaveImage(0):
                    dom.managedSaveRemove(0)
            except libvirtError as exc2:
                if error_code(exc2) == c.VIR_ERR_NO_SUPPORT:
                    ctl.reset_error()
                else:
                    raise
            flags &= ~c.VIR_DOMAIN_START_FORCE_BOOT
    if not started:
        try:
            if fds:
                dom.createWithFiles(fds, flags)
            elif flags:
                dom.createWithFlags(flags)
            else:
                dom.create()
        except libvirtError as exc:
            return fail(ctl, f"Failed to start domain '{dom.name()}'", exc)
    ctl.print_extra(f"Domain '{dom.name()}' started")
    if args.bool("console"):
        return run_console(ctl, dom, None, 0)
    return True


# ---- shutdown, reboot, reset, destroy, suspend, resume -----------------------------------------

_SHUTDOWN_MODES = {
    "acpi": c.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
    "agent": c.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
    "initctl": c.VIR_DOMAIN_SHUTDOWN_INITCTL,
    "signal": c.VIR_DOMAIN_SHUTDOWN_SIGNAL,
    "paravirt": c.VIR_DOMAIN_SHUTDOWN_PARAVIRT,
}


def _mode_flags(args: Args, comma: str) -> int:
    """--mode acpi,agent,...: the shutdown/reboot flags (same bit values for both); ``comma``
    is the serial comma shutdown's message has and reboot's lacks."""
    text = args.string("mode")
    flags = 0
    if text is None:
        return 0
    for mode in text.split(","):
        if mode not in _SHUTDOWN_MODES:
            raise CommandError(f"Unknown mode {mode} value, expecting 'acpi', 'agent', "
                               f"'initctl', 'signal'{comma} or 'paravirt'")
        flags |= _SHUTDOWN_MODES[mode]
    return flags


@command("shutdown", GROUP, "gracefully shutdown a domain",
         "Run shutdown in the target domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("mode", OptType.STRING, "shutdown mode: acpi|agent|initctl|signal|paravirt"),
         ])
def cmd_shutdown(ctl: Ctl, args: Args) -> bool:
    flags = _mode_flags(args, ",")
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        if flags:
            dom.shutdownFlags(flags)
        else:
            dom.shutdown()
    except libvirtError as exc:
        return fail(ctl, f"Failed to shutdown domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' is being shutdown")
    return True


@command("reboot", GROUP, "reboot a domain",
         "Run a reboot command in the target domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("mode", OptType.STRING, "shutdown mode: acpi|agent|initctl|signal|paravirt"),
         ])
def cmd_reboot(ctl: Ctl, args: Args) -> bool:
    flags = _mode_flags(args, "")
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        dom.reboot(flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to reboot domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' is being rebooted")
    return True


@command("reset", GROUP, "reset a domain",
         "Reset the target domain as if by power button", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
         ])
def cmd_reset(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        dom.reset(0)
    except libvirtError as exc:
        return fail(ctl, f"Failed to reset domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' was reset")
    return True


@command("destroy", GROUP, "destroy (stop) a domain",
         "Forcefully stop a given domain, but leave its resources intact.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("graceful", OptType.BOOL, "terminate gracefully"),
             Opt("remove-logs", OptType.BOOL, "remove domain logs"),
         ])
def cmd_destroy(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    flags = 0
    if args.bool("graceful"):
        flags |= c.VIR_DOMAIN_DESTROY_GRACEFUL
    if args.bool("remove-logs"):
        flags |= c.VIR_DOMAIN_DESTROY_REMOVE_LOGS
    try:
        if flags:
            dom.destroyFlags(flags)
        else:
            dom.destroy()
    except libvirtError as exc:
        return fail(ctl, f"Failed to destroy domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' destroyed")
    return True


@command("suspend", GROUP, "suspend a domain",
         "Suspend a running domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_running"),
         ])
def cmd_suspend(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        dom.suspend()
    except libvirtError as exc:
        return fail(ctl, f"Failed to suspend domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' suspended")
    return True


@command("resume", GROUP, "resume a domain",
         "Resume a previously suspended domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_paused"),
         ])
def cmd_resume(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        dom.resume()
    except libvirtError as exc:
        return fail(ctl, f"Failed to resume domain '{name}'", exc)
    ctl.print_extra(f"Domain '{name}' resumed")
    return True


# ---- save, restore, managed save, save images ----------------------------------------------------

def _save_flags(args: Args) -> int:
    flags = 0
    if args.bool("bypass-cache"):
        flags |= c.VIR_DOMAIN_SAVE_BYPASS_CACHE
    if args.bool("running"):
        flags |= c.VIR_DOMAIN_SAVE_RUNNING
    if args.bool("paused"):
        flags |= c.VIR_DOMAIN_SAVE_PAUSED
    return flags


@command("save", GROUP, "save a domain state to a file",
         "Save the RAM state of a running domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("file", OptType.DATA, "where to save the data", required=True),
             Opt("bypass-cache", OptType.BOOL, "avoid file system cache when saving"),
             Opt("xml", OptType.STRING, "filename containing updated XML for the target"),
             Opt("running", OptType.BOOL, "set domain to be running on restore"),
             Opt("paused", OptType.BOOL, "set domain to be paused on restore"),
             Opt("verbose", OptType.BOOL, "display the progress of save"),
         ])
def cmd_save(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    to = args.string("file") or ""
    verbose = args.bool("verbose")
    flags = _save_flags(args)
    xmlfile = args.string("xml")
    xml = read_file(ctl, xmlfile) if xmlfile is not None else None
    try:
        if flags or xml is not None:
            dom.saveFlags(to, xml, flags)
        else:
            dom.save(to)
    except libvirtError as exc:
        return fail(ctl, f"Failed to save domain '{name}' to {to}", exc)
    if verbose:
        _job_progress(ctl, "Save")
    ctl.print_extra(f"\nDomain '{name}' saved to {to}")
    return True


@command("restore", GROUP, "restore a domain from a saved state in a file",
         "Restore a domain.", [
             Opt("file", OptType.DATA, "the state to restore", required=True),
             Opt("bypass-cache", OptType.BOOL, "avoid file system cache when restoring"),
             Opt("xml", OptType.STRING, "filename containing updated XML for the target"),
             Opt("running", OptType.BOOL, "restore domain into running state"),
             Opt("paused", OptType.BOOL, "restore domain into paused state"),
             Opt("reset-nvram", OptType.BOOL, "re-initialize NVRAM from its pristine template"),
         ])
def cmd_restore(ctl: Ctl, args: Args) -> bool:
    path = args.string("file") or ""
    flags = _save_flags(args)
    if args.bool("reset-nvram"):
        flags |= c.VIR_DOMAIN_SAVE_RESET_NVRAM
    xmlfile = args.string("xml")
    xml = read_file(ctl, xmlfile) if xmlfile is not None else None
    try:
        if flags or xml is not None:
            ctl.conn.restoreFlags(path, xml, flags)
        else:
            ctl.conn.restore(path)
    except libvirtError as exc:
        return fail(ctl, f"Failed to restore domain from {path}", exc)
    ctl.print_extra(f"Domain restored from {path}")
    return True


@command("managedsave", GROUP, "managed save of a domain state",
         "Save and destroy a running domain, so it can be restarted from\n    the same state at "
         "a later time.  When the virsh 'start'\n    command is next run for the domain, it "
         "will automatically\n    be started from this saved state.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("bypass-cache", OptType.BOOL, "avoid file system cache when saving"),
             Opt("running", OptType.BOOL, "set domain to be running on next start"),
             Opt("paused", OptType.BOOL, "set domain to be paused on next start"),
             Opt("verbose", OptType.BOOL, "display the progress of save"),
         ])
def cmd_managedsave(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    flags = _save_flags(args)
    try:
        dom.managedSave(flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to save domain '{name}' state", exc)
    if args.bool("verbose"):
        _job_progress(ctl, "Managedsave")
    ctl.print_extra(f"\nDomain '{name}' state saved by libvirt")
    return True


@command("managedsave-remove", GROUP, "Remove managed save of a domain",
         "Remove an existing managed save state file from a domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_managedsave"),
         ])
def cmd_managedsave_remove(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        has_save = dom.hasManagedSaveImage(0)
    except libvirtError as exc:
        return fail(ctl, "Failed to check for domain managed save image", exc)
    if not has_save:
        ctl.print_extra(f"Domain '{name}' has no manage save image; removal skipped", end="")
        return True
    try:
        dom.managedSaveRemove(0)
    except libvirtError as exc:
        return fail(ctl, f"Failed to remove managed save image for domain '{name}'", exc)
    ctl.print_extra(f"Removed managedsave image for domain '{name}'", end="")
    return True


@command("managedsave-edit", GROUP, "edit XML for a domain's managed save state file",
         "Edit the domain XML associated with the managed save state file", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_managedsave"),
             Opt("running", OptType.BOOL, "set domain to be running on start"),
             Opt("paused", OptType.BOOL, "set domain to be paused on start"),
         ])
def cmd_managedsave_edit(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("running", "paused"))
    define_flags = _save_flags(args)
    dom = ctl.lookup_domain(args)
    name = dom.name()

    def not_changed() -> None:
        ctl.print_extra(f"Managed save image of domain '{name}' XML configuration "
                        "not changed.")

    if not edit_loop(ctl, lambda: dom.managedSaveGetXMLDesc(c.VIR_DOMAIN_XML_SECURE),
                     lambda xml: dom.managedSaveDefineXML(xml, define_flags), not_changed):
        return True
    ctl.print_extra(f"Managed save image of Domain '{name}' XML configuration edited.")
    return True


@command("managedsave-dumpxml", GROUP, "Domain information of managed save state file in XML",
         "Dump XML of domain information for a managed save state file to stdout.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_managedsave"),
             Opt("security-info", OptType.BOOL,
                 "include security sensitive information in XML dump"),
             Opt("xpath", OptType.STRING,
                 "xpath expression to filter the XML document", named_only=True, completer="empty"),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ])
def cmd_managedsave_dumpxml(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_XML_SECURE if args.bool("security-info") else 0
    dom = ctl.lookup_domain(args)
    xml = dom.managedSaveGetXMLDesc(flags)
    return dump_xml(ctl, args, xml)


@command("managedsave-define", GROUP, "redefine the XML for a domain's managed save state file",
         "Replace the domain XML associated with a managed save state file", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_managedsave"),
             Opt("xml", OptType.DATA,
                 "filename containing updated XML for the target", required=True),
             Opt("running", OptType.BOOL, "set domain to be running on start"),
             Opt("paused", OptType.BOOL, "set domain to be paused on start"),
         ])
def cmd_managedsave_define(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("running", "paused"))
    flags = _save_flags(args)
    dom = ctl.lookup_domain(args)
    path = args.string("xml") or ""
    xml = read_file(ctl, path)
    try:
        dom.managedSaveDefineXML(xml, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to update {dom.name()} XML configuration", exc)
    ctl.print_extra(f"Managed save state file of domain '{dom.name()}' updated.")
    return True


@command("save-image-dumpxml", GROUP, "saved state domain information in XML",
         "Dump XML of domain information for a saved state file to stdout.", [
             Opt("file", OptType.DATA, "saved state file to read", required=True),
             Opt("security-info", OptType.BOOL,
                 "include security sensitive information in XML dump"),
             Opt("xpath", OptType.STRING,
                 "xpath expression to filter the XML document", named_only=True, completer="empty"),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ])
def cmd_save_image_dumpxml(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE if args.bool("security-info") else 0
    path = args.string("file") or ""
    xml = ctl.conn.saveImageGetXMLDesc(path, flags)
    return dump_xml(ctl, args, xml)


@command("save-image-define", GROUP, "redefine the XML for a domain's saved state file",
         "Replace the domain XML associated with a saved state file", [
             Opt("file", OptType.DATA, "saved state file to modify", required=True),
             Opt("xml", OptType.DATA,
                 "filename containing updated XML for the target", required=True),
             Opt("running", OptType.BOOL, "set domain to be running on restore"),
             Opt("paused", OptType.BOOL, "set domain to be paused on restore"),
         ])
def cmd_save_image_define(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("running", "paused"))
    flags = _save_flags(args)
    path = args.string("file") or ""
    xmlfile = args.string("xml") or ""
    xml = read_file(ctl, xmlfile)
    try:
        ctl.conn.saveImageDefineXML(path, xml, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to update {path}", exc)
    ctl.print_extra(f"State file {path} updated.")
    return True


@command("save-image-edit", GROUP, "edit XML for a domain's saved state file",
         "Edit the domain XML associated with a saved state file", [
             Opt("file", OptType.DATA, "saved state file to edit", required=True),
             Opt("running", OptType.BOOL, "set domain to be running on restore"),
             Opt("paused", OptType.BOOL, "set domain to be paused on restore"),
         ])
def cmd_save_image_edit(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("running", "paused"))
    define_flags = _save_flags(args)
    path = args.string("file") or ""
    conn = ctl.conn

    def not_changed() -> None:
        ctl.print_extra(f"Saved image {path} XML configuration not changed.")

    if not edit_loop(ctl, lambda: conn.saveImageGetXMLDesc(
                         path, c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE),
                     lambda xml: conn.saveImageDefineXML(path, xml, define_flags),
                     not_changed):
        return True
    ctl.print_extra(f"State file {path} edited.")
    return True


# ---- XML: dumpxml, edit ------------------------------------------------------------------

@command("dumpxml", GROUP, "domain information in XML",
         "Output the domain information as an XML dump to stdout.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("inactive", OptType.BOOL, "show inactive defined XML"),
             Opt("security-info", OptType.BOOL,
                 "include security sensitive information in XML dump"),
             Opt("update-cpu", OptType.BOOL, "update guest CPU according to host CPU"),
             Opt("migratable", OptType.BOOL, "provide XML suitable for migrations"),
             Opt("xpath", OptType.STRING,
                 "xpath expression to filter the XML document", named_only=True, completer="empty"),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ])
def cmd_dumpxml(ctl: Ctl, args: Args) -> bool:
    flags = 0
    for opt, flag in (("inactive", c.VIR_DOMAIN_XML_INACTIVE),
                      ("security-info", c.VIR_DOMAIN_XML_SECURE),
                      ("update-cpu", c.VIR_DOMAIN_XML_UPDATE_CPU),
                      ("migratable", c.VIR_DOMAIN_XML_MIGRATABLE)):
        if args.bool(opt):
            flags |= flag
    dom = ctl.lookup_domain(args)
    xml = dom.XMLDesc(flags)
    return dump_xml(ctl, args, xml)


def define_domain(conn: Any, xml: str, flags: int) -> Any:
    """virshDomainDefine: defineXMLFlags, falling back to defineXML for a server that does
    not know the validate flag."""
    if flags:
        try:
            return conn.defineXMLFlags(xml, flags)
        except libvirtError as exc:
            if error_code(exc) != c.VIR_ERR_NO_SUPPORT or \
                    flags != c.VIR_DOMAIN_DEFINE_VALIDATE:
                raise
    return conn.defineXML(xml)


@command("edit", GROUP, "edit XML configuration for a domain",
         "Edit the XML configuration for a domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("skip-validate", OptType.BOOL, "skip validation of the XML against the schema"),
         ])
def cmd_edit(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    query = c.VIR_DOMAIN_XML_SECURE | c.VIR_DOMAIN_XML_INACTIVE
    state = {"flags": 0 if args.bool("skip-validate") else c.VIR_DOMAIN_DEFINE_VALIDATE}
    edited: list[Any] = []

    def define(xml: str) -> None:
        edited.append(define_domain(ctl.conn, xml, state["flags"]))

    def not_changed() -> None:
        ctl.print_extra(f"Domain '{dom.name()}' XML configuration not changed.")

    def relax() -> None:
        state["flags"] &= ~c.VIR_DOMAIN_DEFINE_VALIDATE

    if not edit_loop(ctl, lambda: dom.XMLDesc(query), define, not_changed, relax):
        return True
    # without a terminal a failed define still ends as virsh does: "(null)" as the name
    new_name = edited[-1].name() if edited else "(null)"
    ctl.print_extra(f"Domain '{new_name}' XML configuration edited.")
    return True


# ---- identity ------------------------------------------------------------------------------

def _identity_json(ctl: Ctl, dom: Any) -> None:
    dom_id = dom.ID()
    ctl.json({"name": dom.name(), "id": None if dom_id == -1 else dom_id,
              "uuid": dom.UUIDString()})


@command("domname", GROUP, "convert a domain id or UUID to domain name",
         "", [
             Opt("domain", OptType.DATA, "domain id or uuid", required=True, completer="domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domname(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.ctl import BY_ID

    dom = ctl.lookup_domain(args, by=BY_ID | BY_UUID)
    if args.bool("json"):
        _identity_json(ctl, dom)
    else:
        ctl.print(dom.name())
    return True


@command("domid", GROUP, "convert a domain name or UUID to domain id",
         "", [
             Opt("domain", OptType.DATA,
                 "domain name or uuid", required=True, completer="domain_active"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domid(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args, by=BY_NAME | BY_UUID)
    if args.bool("json"):
        _identity_json(ctl, dom)
        return True
    dom_id = dom.ID()
    ctl.print("-" if dom_id == -1 else str(dom_id))
    return True


@command("domuuid", GROUP, "convert a domain name or id to domain UUID",
         "", [
             Opt("domain", OptType.DATA, "domain id or name", required=True, completer="domain"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domuuid(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.ctl import BY_ID

    dom = ctl.lookup_domain(args, by=BY_ID | BY_NAME)
    if args.bool("json"):
        _identity_json(ctl, dom)
    else:
        ctl.print(dom.UUIDString())
    return True


@command("domrename", GROUP, "rename a domain",
         "Rename an inactive domain.", [
             Opt("domain", OptType.DATA,
                 "domain name or uuid", required=True, completer="domain_inactive"),
             Opt("new-name", OptType.DATA, "new domain name", required=True, completer="empty"),
         ])
def cmd_domrename(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    new_name = args.string("new-name") or ""
    dom.rename(new_name, 0)
    ctl.print_extra("Domain successfully renamed")
    return True


@command("domhostname", GROUP, "print the domain's hostname",
         "", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("source", OptType.STRING, "address source: 'lease' or 'agent'"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domhostname(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    source = args.string("source")
    flags = 0
    if source is not None:
        if source == "lease":
            flags = c.VIR_DOMAIN_GET_HOSTNAME_LEASE
        elif source == "agent":
            flags = c.VIR_DOMAIN_GET_HOSTNAME_AGENT
        else:
            raise CommandError(f"Unknown data source '{source}'")
    try:
        hostname = dom.hostname(flags)
    except libvirtError as exc:
        ctl.save_error(exc)
        ctl.error("failed to get hostname")
        return False
    if args.bool("json"):
        ctl.json({"hostname": hostname})
    else:
        ctl.print(hostname)
    return True


# ---- autostart, description, metadata ---------------------------------------------------------

@command("autostart", GROUP, "autostart a domain",
         "Configure a domain to be automatically started at boot.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_persistent"),
             Opt("disable", OptType.BOOL, "disable autostarting"),
         ])
def cmd_autostart(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    enable = not args.bool("disable")
    try:
        dom.setAutostart(1 if enable else 0)
    except libvirtError as exc:
        if enable:
            return fail(ctl, f"Failed to mark domain '{name}' as autostarted", exc)
        return fail(ctl, f"Failed to unmark domain '{name}' as autostarted", exc)
    if enable:
        ctl.print_extra(f"Domain '{name}' marked as autostarted")
    else:
        ctl.print_extra(f"Domain '{name}' unmarked as autostarted")
    return True


def domain_description(ctl: Ctl, dom: Any, title: bool, flags: int) -> str:
    """virshGetDomainDescription: the title or description ("" when unset), from the
    metadata API or, where that is unsupported, the XML."""
    kind = c.VIR_DOMAIN_METADATA_TITLE if title else c.VIR_DOMAIN_METADATA_DESCRIPTION
    try:
        return str(dom.metadata(kind, None, flags))
    except libvirtError as exc:
        if error_code(exc) == c.VIR_ERR_NO_DOMAIN_METADATA:
            ctl.reset_error()
            return ""
        if error_code(exc) != c.VIR_ERR_NO_SUPPORT:
            raise
    from pyvirt.conf.xmlutil import parse_xml

    root = parse_xml(dom.XMLDesc(flags))
    node = root.find("title" if title else "description")
    return "" if node is None else "".join(node.itertext())


@command("desc", GROUP, "show or set domain's description or title",
         "Allows setting or modifying the description or title of a domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("live", OptType.BOOL, "modify/get running state"),
             Opt("config", OptType.BOOL, "modify/get persistent configuration"),
             Opt("current", OptType.BOOL, "modify/get current state configuration"),
             Opt("title", OptType.BOOL, "modify/get the title instead of description"),
             Opt("edit", OptType.BOOL, "open an editor to modify the description"),
             Opt("new-desc", OptType.ARGV, "message"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_desc(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    query = c.VIR_DOMAIN_XML_INACTIVE if args.bool("config") else 0
    title = args.bool("title")
    edit = args.bool("edit")
    dom = ctl.lookup_domain(args)
    dom.state(0)  # virshDomainState: fails as virsh does for a vanished domain
    kind = c.VIR_DOMAIN_METADATA_TITLE if title else c.VIR_DOMAIN_METADATA_DESCRIPTION
    words = args.argv("new-desc")
    desc_arg = " ".join(words).rstrip(" ") if words else None
    what = "title" if title else "description"
    if edit or desc_arg is not None:
        current = domain_description(ctl, dom, title, query)
        if desc_arg is None:
            desc_arg = current
        if edit:
            new = _edit_text(ctl, desc_arg)
            if title and new.endswith("\n"):
                new = new[:-1]
            if new == current:
                ctl.print_extra(f"Domain {what} not changed")
                return True
        else:
            new = desc_arg
        try:
            dom.setMetadata(kind, new, None, None, flags)
        except libvirtError as exc:
            return fail(ctl, f"Failed to set new domain {what}", exc)
        ctl.print_extra(f"Domain {what} updated successfully", end="")
        return True
    text = domain_description(ctl, dom, title, query)
    if args.bool("json"):
        ctl.json({"title": title, "text": text})
    elif text:
        ctl.print(text, end="")
    else:
        ctl.print_extra(f"No {what} for domain: {dom.name()}", end="")
    return True


def _edit_text(ctl: Ctl, text: str) -> str:
    """vshEditWriteToTempFile + vshEditFile + vshEditReadBackFile for plain text."""
    from pyvirt.virsh.commands.network import _edit_temp_file, _run_editor

    path = _edit_temp_file(ctl, text)
    try:
        _run_editor(ctl, path)
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except OSError as exc:
            raise CommandError(
                f"{path}: failed to read temporary file: {exc.strerror}") from None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


@command("metadata", GROUP, "show or set domain's custom XML metadata",
         "Shows or modifies the XML metadata of a domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("uri", OptType.DATA, "URI of the namespace", required=True),
             Opt("live", OptType.BOOL, "modify/get running state"),
             Opt("config", OptType.BOOL, "modify/get persistent configuration"),
             Opt("current", OptType.BOOL, "modify/get current state configuration"),
             Opt("edit", OptType.BOOL, "use an editor to change the metadata"),
             Opt("key", OptType.STRING, "key to be used as a namespace identifier"),
             Opt("set", OptType.STRING, "new metadata to set", completer="empty"),
             Opt("remove", OptType.BOOL, "remove the metadata corresponding to an uri"),
         ])
def cmd_metadata(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    exclusive(args, ("edit", "set"), ("remove", "set"), ("remove", "edit"))
    dom = ctl.lookup_domain(args)
    uri = args.string("uri")
    key = args.string("key")
    new = args.string("set")
    edit = args.bool("edit")
    remove = args.bool("remove")
    if (new is not None or edit) and key is None:
        raise CommandError("namespace key is required when modifying metadata")
    kind = c.VIR_DOMAIN_METADATA_ELEMENT
    if new is not None or remove:
        dom.setMetadata(kind, new, key, uri, flags)
        ctl.print_extra("Metadata removed" if remove else "Metadata modified")
        return True
    if edit:
        def get_xml() -> str:
            try:
                return str(dom.metadata(kind, uri, flags))
            except libvirtError:
                ctl.reset_error()
                return "\n"

        def not_changed() -> None:
            ctl.print_extra("Metadata not changed", end="")

        if edit_loop(ctl, get_xml, lambda xml: dom.setMetadata(kind, xml, key, uri, flags),
                     not_changed):
            ctl.print_extra("Metadata modified")
        return True
    ctl.print(str(dom.metadata(kind, uri, flags)))
    return True


# ---- console and displays ----------------------------------------------------------------------

def run_console(ctl: Ctl, dom: Any, devname: str | None, flags: int) -> bool:
    """cmdRunConsole: the domain must run and stdin be a terminal; then a banner and the
    console session (domain_console)."""
    try:
        state = dom.state(0)[0]
    except libvirtError as exc:
        return fail(ctl, "Unable to get domain status", exc)
    if state == c.VIR_DOMAIN_SHUTOFF:
        raise CommandError("The domain is not running")
    if not os.isatty(0):
        raise CommandError("Cannot run interactive console without a controlling TTY")
    ctl.print_extra(f"Connected to domain '{dom.name()}'")
    ctl.print_extra(f"Escape character is {ctl.escape}", end="")
    if ctl.escape.startswith("^") and len(ctl.escape) > 1:
        ctl.print_extra(f" (Ctrl + {ctl.escape[1]})", end="")
    ctl.print_extra()
    ctl.out.flush()
    from pyvirt.virsh.commands.domain_console import console_session

    return console_session(ctl, dom, devname, flags)


@command("console", GROUP, "connect to the guest console",
         "Connect the virtual serial console for the guest", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("devname", OptType.STRING, "character device name"),
             Opt("force", OptType.BOOL,
                 "force console connection (disconnect already connected sessions)"),
             Opt("safe", OptType.BOOL, "only connect if safe console handling is supported"),
         ])
def cmd_console(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    devname = args.string("devname")
    flags = 0
    if args.bool("force"):
        flags |= c.VIR_DOMAIN_CONSOLE_FORCE
    if args.bool("safe"):
        flags |= c.VIR_DOMAIN_CONSOLE_SAFE
    return run_console(ctl, dom, devname, flags)


def _graphics(xml: str, kind: str) -> Any:
    from pyvirt.conf.xmlutil import parse_xml

    root = parse_xml(xml)
    return root.find(f"./devices/graphics[@type='{kind}']")


@command("vncdisplay", GROUP, "vnc display",
         "Output the IP address and port number for the VNC display.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_vncdisplay(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    if not dom.isActive():
        raise CommandError("Domain is not running")
    graphics = _graphics(dom.XMLDesc(0), "vnc")
    port_text = graphics.get("port") if graphics is not None else None
    try:
        # virXPathInt: any integer will do, even autoport's -1 of a not yet started display
        port = int(port_text or "")
    except ValueError:
        raise CommandError("Failed to get VNC port. Is this domain using VNC?") from None
    assert graphics is not None
    listen = graphics.get("listen")
    if listen is None:
        node = graphics.find("listen")
        listen = node.get("address") if node is not None else None
    if args.bool("json"):
        ctl.json({"listen": listen, "port": port, "display": port - 5900})
        return True
    if not listen or listen == "0.0.0.0":
        ctl.print(f":{port - 5900}")
    else:
        ctl.print(f"{listen}:{port - 5900}")
    return True


def _one_display(ctl: Ctl, scheme: str, root: Any) -> str | None:
    """virshGetOneDisplay: the URI of the domain's first ``scheme`` display, if any."""
    def text(what: str) -> str | None:
        value = root.xpath(f"string(/domain/devices/graphics[@type='{scheme}']/{what})")
        return str(value) if value else None

    def number(what: str) -> int:
        value = text(what)
        try:
            return int(value or "")
        except ValueError:
            return 0

    if scheme == "dbus":
        address = text("@address")
        if address is None:
            return None
        if address.startswith("unix:path="):
            return f"dbus+unix://{address[10:]}"
        ctl.error(f"'{address}' D-Bus address is not handled")
        return None
    port = number("@port")
    tls_port = number("@tlsPort")
    listen = text("@listen")
    sockpath = text("listen/@socket") if text("listen/@type") == "socket" else None
    if not port and not tls_port and not sockpath:
        return None
    if listen is None:
        listen = text("listen/@address")
    elif _is_wildcard(listen):
        from urllib.parse import urlsplit

        listen = urlsplit(ctl.conn.getURI()).hostname
    passwd = text("@passwd")
    uri = f"{scheme}+unix://" if sockpath else f"{scheme}://"
    if scheme == "vnc" and passwd:
        uri += f":{passwd}@"
    if sockpath:
        uri += sockpath
    elif not listen:
        uri += "localhost"
    elif ":" in listen:
        uri += f"[{listen}]"
    else:
        uri += listen
    if port:
        uri += f":{port - 5900 if scheme == 'vnc' else port}"
    query = ""
    if tls_port:
        query += f"tls-port={tls_port}&"
    if scheme == "spice" and passwd:
        query += f"password={passwd}&"
    return uri + ("?" + query[:-1] if query else "")


def _is_wildcard(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


@command("domdisplay", GROUP, "domain display connection URI",
         "Output the IP address and port number for the graphical display.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("include-password", OptType.BOOL,
                 "includes the password into the connection URI if available"),
             Opt("type", OptType.STRING,
                 "select particular graphical display (e.g. \"vnc\", \"spice\", \"rdp\", "
                 "\"dbus\")"),
             Opt("all", OptType.BOOL, "show all possible graphical displays"),
             Opt("json", OptType.BOOL, "print JSON"),
         ])
def cmd_domdisplay(ctl: Ctl, args: Args) -> bool:
    from lxml import etree

    exclusive(args, ("all", "type"))
    show_all = args.bool("all")
    dom = ctl.lookup_domain(args)
    if not dom.isActive():
        raise CommandError("Domain is not running")
    flags = c.VIR_DOMAIN_XML_SECURE if args.bool("include-password") else 0
    kind = args.string("type")
    root = etree.fromstring(dom.XMLDesc(flags).encode())
    found = False
    if args.bool("json"):
        uris = []
        for scheme in ("vnc", "spice", "rdp", "dbus"):
            if kind and kind != scheme:
                continue
            display = _one_display(ctl, scheme, root)
            if display is not None:
                uris.append(display)
        ctl.json(uris if show_all or not uris else uris[:1])
        return True
    for scheme in ("vnc", "spice", "rdp", "dbus"):
        if not show_all and kind and kind != scheme:
            continue
        display = _one_display(ctl, scheme, root)
        if display is None:
            continue
        ctl.print(display, end="")
        found = True
        if not show_all:
            break
        ctl.print()
    if not found:
        if kind:
            raise CommandError(f"No graphical display with type '{kind}' found")
        raise CommandError("No graphical display found")
    return True


@command("ttyconsole", GROUP, "tty console",
         "Output the device for the TTY console.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
         ])
def cmd_ttyconsole(ctl: Ctl, args: Args) -> bool:
    from pyvirt.conf.xmlutil import parse_xml

    dom = ctl.lookup_domain(args)
    console = parse_xml(dom.XMLDesc(0)).find("./devices/console")
    tty = console.get("tty") if console is not None else None
    if not tty:
        return False
    ctl.print(tty)
    return True


# ---- native configuration formats ------------------------------------------------------

@command("domxml-from-native", GROUP, "Convert native config to domain XML",
         "Convert native guest configuration format to domain XML format.", [
             Opt("format", OptType.DATA, "source config data format", required=True),
             Opt("config", OptType.DATA, "config data file to import from", required=True),
         ])
def cmd_domxml_from_native(ctl: Ctl, args: Args) -> bool:
    fmt = args.string("format") or ""
    path = args.string("config") or ""
    data = read_file(ctl, path)
    ctl.print(ctl.conn.domainXMLFromNative(fmt, data, 0), end="")
    return True


@command("domxml-to-native", GROUP, "Convert domain XML to native config",
         "Convert domain XML config to a native guest configuration format.", [
             Opt("format", OptType.DATA, "target config data type format", required=True),
             Opt("domain", OptType.STRING,
                 "domain name, id or uuid", named_only=True, completer="domain"),
             Opt("xml", OptType.STRING, "xml data file to export from"),
         ])
def cmd_domxml_to_native(ctl: Ctl, args: Args) -> bool:
    fmt = args.string("format") or ""
    xmlfile = args.string("xml")
    exclusive(args, ("domain", "xml"))
    if args.has("domain"):
        xml = ctl.lookup_domain(args).XMLDesc(0)
    elif xmlfile is not None:
        xml = read_file(ctl, xmlfile)
    else:
        raise CommandError("need either domain or domain XML")
    ctl.print(ctl.conn.domainXMLToNative(fmt, xml, 0), end="")
    return True


@command("screenshot", GROUP,
         "take a screenshot of a current domain console and store it into a file",
         "screenshot of a current domain console", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
             Opt("file", OptType.STRING, "where to store the screenshot"),
             Opt("screen", OptType.INT, "ID of a screen to take screenshot of"),
         ])
def cmd_screenshot(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    path = args.string("file")
    screen = args.uint("screen", 0) or 0
    stream = ctl.conn.newStream(0)
    try:
        mime = dom.screenshot(stream, screen, 0)
    except libvirtError as exc:
        return fail(ctl, f"could not take a screenshot of {name}", exc)
    generated = path is None
    if path is None:
        import time

        ext = {"image/x-portable-pixmap": ".ppm", "image/png": ".png"}.get(mime, "")
        path = f"{name}-{time.strftime('%Y-%m-%d-%H:%M:%S')}{ext}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError:
        stream.abort()
        ctl.reset_error()
        ctl.error(f"cannot create file {path}")
        return False
    try:
        def sink(_st: Any, data: bytes, _opaque: Any) -> int:
            return os.write(fd, data)

        try:
            stream.recvAll(sink, None)
        except libvirtError as exc:
            if generated:
                os.unlink(path)
            return fail(ctl, f"could not receive data from domain '{name}'", exc)
    finally:
        os.close(fd)
    try:
        stream.finish()
    except libvirtError as exc:
        return fail(ctl, f"cannot close stream on domain '{name}'", exc)
    ctl.print_extra(f"Screenshot saved to {path}, with type of {mime}", end="")
    return True


# ---- memory and vCPUs ------------------------------------------------------------------------

_ULONG_MAX = (1 << 64) - 1


@command("setmem", GROUP, "change memory allocation",
         "Change the current memory allocation in the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("kilobytes", OptType.ALIAS, "", alias="size"),
             Opt("size", OptType.INT,
                 "new memory size, as scaled integer (default KiB)", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_setmem(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_LIVE
    if args.has("config") or args.has("live") or args.has("current"):
        flags = c.VIR_DOMAIN_AFFECT_CURRENT
        if args.bool("config"):
            flags |= c.VIR_DOMAIN_AFFECT_CONFIG
        if args.bool("live"):
            flags |= c.VIR_DOMAIN_AFFECT_LIVE
    dom = ctl.lookup_domain(args)
    size = args.scaled("size", "KiB", maximum=_ULONG_MAX) or 0
    dom.setMemoryFlags((size + 1023) // 1024, flags)
    return True


@command("setmaxmem", GROUP, "change maximum memory limit",
         "Change the maximum memory allocation limit in the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("kilobytes", OptType.ALIAS, "", alias="size"),
             Opt("size", OptType.INT,
                 "new maximum memory size, as scaled integer (default KiB)", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_setmaxmem(ctl: Ctl, args: Args) -> bool:
    flags = affect_flags(args)
    dom = ctl.lookup_domain(args)
    size = args.scaled("size", "KiB", maximum=_ULONG_MAX) or 0
    try:
        dom.setMemoryFlags((size + 1023) // 1024, flags | c.VIR_DOMAIN_MEM_MAXIMUM)
    except libvirtError as exc:
        return fail(ctl, "Unable to change MaxMemorySize", exc)
    return True


@command("setvcpus", GROUP, "change number of virtual CPUs",
         "Change the number of virtual CPUs in the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("count", OptType.INT, "number of virtual CPUs", required=True),
             Opt("maximum", OptType.BOOL, "set maximum limit on next boot"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("guest", OptType.BOOL, "modify cpu state in the guest"),
             Opt("hotpluggable", OptType.BOOL, "make added vcpus hot(un)pluggable"),
         ])
def cmd_setvcpus(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("current", "live"), ("current", "config"), ("guest", "config"))
    require(args, "maximum", "config")
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    for opt, flag in (("config", c.VIR_DOMAIN_AFFECT_CONFIG),
                      ("live", c.VIR_DOMAIN_AFFECT_LIVE),
                      ("guest", c.VIR_DOMAIN_VCPU_GUEST),
                      ("maximum", c.VIR_DOMAIN_VCPU_MAXIMUM),
                      ("hotpluggable", c.VIR_DOMAIN_VCPU_HOTPLUGGABLE)):
        if args.bool(opt):
            flags |= flag
    dom = ctl.lookup_domain(args)
    count = args.uint("count", 0) or 0
    if count == 0:
        raise CommandError("Can't set 0 processors for a VM")
    if not args.bool("current") and flags == 0:
        dom.setVcpus(count)
    else:
        dom.setVcpusFlags(count, flags)
    return True


# ---- power management, NMI ----------------------------------------------------------------

_PM_TARGETS = {"mem": c.VIR_NODE_SUSPEND_TARGET_MEM, "disk": c.VIR_NODE_SUSPEND_TARGET_DISK,
               "hybrid": c.VIR_NODE_SUSPEND_TARGET_HYBRID}


@command("dompmsuspend", GROUP, "suspend a domain gracefully using power management functions",
         "Suspends a running domain using guest OS's power management. (Note: This requires a "
         "guest agent configured and running in the guest OS).", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_running"),
             Opt("target", OptType.DATA,
                 "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)",
                 required=True),
             Opt("duration", OptType.INT, "duration in seconds", named_only=True),
         ])
def cmd_dompmsuspend(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    duration = args.ulong("duration", 0) or 0
    target = args.string("target") or ""
    if target not in _PM_TARGETS:
        raise CommandError("Invalid target")
    try:
        dom.pMSuspendForDuration(_PM_TARGETS[target], duration, 0)
    except libvirtError as exc:
        return fail(ctl, f"Domain '{name}' could not be suspended", exc)
    ctl.print_extra(f"Domain '{name}' successfully suspended")
    return True


@command("dompmwakeup", GROUP, "wakeup a domain from pmsuspended state",
         "Wakeup a domain that was previously suspended by power management.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_other"),
         ])
def cmd_dompmwakeup(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    name = dom.name()
    try:
        dom.pMWakeup(0)
    except libvirtError as exc:
        return fail(ctl, f"Domain '{name}' could not be woken up", exc)
    ctl.print_extra(f"Domain '{name}' successfully woken up")
    return True


@command("inject-nmi", GROUP, "Inject NMI to the guest",
         "Inject NMI to the guest domain.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain_active"),
         ])
def cmd_inject_nmi(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    dom.injectNMI(0)
    return True


# the device, guest and tuning commands register with this group from their own modules
from pyvirt.virsh.commands import domain_devices as _devices  # noqa: E402,F401
from pyvirt.virsh.commands import domain_guest as _guest  # noqa: E402,F401
from pyvirt.virsh.commands import domain_migrate as _migrate  # noqa: E402,F401
from pyvirt.virsh.commands import domain_tune as _tune  # noqa: E402,F401
