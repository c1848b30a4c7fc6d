"""virsh's "Networking" group (tools/virsh-network.c): network lifecycle, listing, XML,
updates, DHCP leases, lifecycle events and network ports.

``--json`` (a pyvirsh addition) prints one JSON document with these stable keys:

- ``net-list --json``: a list (sorted by name, filtered as the options say) of
  ``{"name": str, "uuid": str, "active": bool, "persistent": bool, "autostart": bool|null}``.
- ``net-info --json``: ``name``, ``uuid`` (str), ``active``, ``persistent`` (bool or null),
  ``autostart`` (bool or null), ``bridge`` (str or null).
- ``net-dhcp-leases --json``: a list, sorted by MAC, of ``{"expirytime": int (Unix time),
  "mac": str|null, "iaid": str|null, "type": "ipv4"|"ipv6"|null, "ipaddr": str,
  "prefix": int, "hostname": str|null, "clientid": str|null}``.
"""

from __future__ import annotations

import os
import time

from pyvirt import libvirtError
from pyvirt.virsh.ctl import BY_NAME, BY_UUID, CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command, register_completer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "network"
JSON_OPT = Opt("json", OptType.BOOL, "print JSON")

# VIR_CONNECT_LIST_NETWORKS_* and friends (libvirt's ABI values)
_LIST_INACTIVE = 1 << 0
_LIST_ACTIVE = 1 << 1
_LIST_PERSISTENT = 1 << 2
_LIST_TRANSIENT = 1 << 3
_LIST_AUTOSTART = 1 << 4
_LIST_NO_AUTOSTART = 1 << 5
_XML_INACTIVE = 1
_ERR_NO_SUPPORT = 3
_ERR_INVALID_ARG = 8


def _fail(ctl: Ctl, message: str, exc: libvirtError) -> bool:
    """vshError(message), then the libvirt error as virsh's end-of-command report."""
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def _network_opt(help_text: str = "network name or uuid", completer: str = "network") -> Opt:
    # VIRSH_COMMON_OPT_NETWORK
    return Opt("network", OptType.DATA, help_text, required=True, completer=completer)


def _file_opt(help_text: str) -> Opt:
    return Opt("file", OptType.DATA, help_text, required=True)


_VALIDATE_OPT = Opt("validate", OptType.BOOL, "validate the XML against the schema")


def _lookup(ctl: Ctl, args: Args, by: int = BY_UUID | BY_NAME) -> Any:
    """virshCommandOptNetworkBy: by UUID (36 characters), then by name; on failure
    "failed to get network 'x'" followed by the last lookup's libvirt error."""
    name = args.string("network") or ""
    conn = ctl.conn
    last: libvirtError | None = None
    if by & BY_UUID and len(name) == 36:
        try:
            return conn.networkLookupByUUIDString(name)
        except libvirtError as exc:
            last = exc
    if by & BY_NAME:
        try:
            return conn.networkLookupByName(name)
        except libvirtError as exc:
            last = exc
    ctl.error(f"failed to get network '{name}'")
    if last is not None:
        raise last
    raise CommandFailed()


def read_file(ctl: Ctl, path: str) -> str:
    """virFileReadAll as virsh uses it (the shared helper when the framework has one)."""
    reader = getattr(ctl, "read_file", None)
    if reader is not None:
        return str(reader(path))
    from pyvirt.virsh.commands.pool import read_xml_file

    return read_xml_file(ctl, path)


# ---- XML output with --xpath (virsh-util.c's virshDumpXML) -----------------------------------

def _node_text(node: Any) -> str:
    """virXMLNodeToString: libxml2's formatted dump of one node."""
    from lxml import etree

    if isinstance(node, etree._Element):
        dup = _detached(node)
        return etree.tostring(dup, pretty_print=True, encoding="unicode").rstrip("\n")
    if getattr(node, "is_attribute", False):
        value = str(node).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        return f' {node.attrname}="{value}"'
    return str(node)


def _detached(node: Any) -> Any:
    import copy

    dup = copy.deepcopy(node)
    dup.tail = None
    return dup


_XPATH_FUNCTIONS = frozenset((
    "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string",
    "concat", "starts-with", "contains", "substring-before", "substring-after", "substring",
    "string-length", "normalize-space", "translate", "boolean", "not", "true", "false",
    "lang", "number", "sum", "floor", "ceiling", "round", "escape-uri", "node", "text",
    "comment", "processing-instruction"))


def _unknown_function_line(xpath: str) -> str:
    """libxml2's extra line for a call of an unknown XPath function."""
    import re

    for match in re.finditer(r"([A-Za-z_][\w.-]*)\s*\(", xpath):
        if match.group(1) not in _XPATH_FUNCTIONS:
            return f"xmlXPathCompOpEval: function {match.group(1)} not found\n"
    return ""


def dump_object_xml(ctl: Ctl, args: Args, kind: str, fetch: Callable[[], str]) -> bool:
    """A ``*-dumpxml`` command's --xpath/--wrap: an empty --xpath fails silently (as
    vshCommandOptStringQuiet), then the XML ``fetch`` gives is printed (see dump_xml)."""
    if args.raw("xpath") == "":
        return False
    xpath = args.string_quiet("xpath")
    return dump_xml(ctl, fetch(), kind, xpath, args.bool("wrap"))


def dump_xml(ctl: Ctl, xml: str, url: str, xpath: str | None, wrap: bool) -> bool:
    """virshDumpXML: the document, or the nodes ``xpath`` selects (wrapped in <nodes>)."""
    helper = getattr(ctl, "dump_xml", None)
    if helper is not None:
        return bool(helper(xml, xpath, wrap))
    if xpath is None:
        ctl.print(xml, end="")
        return True
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                             load_dtd=False)
    root = etree.fromstring(xml.encode(), parser)
    try:
        found = root.xpath(xpath)
    except etree.XPathError as exc:
        # libxml2 complains on stderr itself (the expression and a caret when the error is
        # inside it); virXPathNodeSet then counts no nodes, so virsh prints nothing more and
        # succeeds
        entry = exc.error_log.last_error if exc.error_log else None
        message = entry.message if entry is not None else str(exc)
        report = f"XPath error : {message}\n"
        if entry is not None and entry.type_name == "XPATH_UNKNOWN_FUNC_ERROR":
            report = _unknown_function_line(xpath) + report
        column = entry.column if entry is not None else len(xpath)
        if 0 <= column < len(xpath):
            report += f"{xpath}\n{' ' * column}^\n"
        ctl.out.flush()
        ctl.err.write(report)
        ctl.err.flush()
        return True
    if not isinstance(found, list):
        raise CommandError(f"internal error: Incorrect xpath '{xpath}'")
    if wrap:
        wrapper = etree.Element("nodes")
        for node in found:
            if isinstance(node, etree._Element):
                wrapper.append(_detached(node))
            elif getattr(node, "is_attribute", False):
                wrapper.set(node.attrname, str(node))
            elif len(wrapper):
                wrapper[-1].tail = (wrapper[-1].tail or "") + str(node)
            else:
                wrapper.text = (wrapper.text or "") + str(node)
        ctl.print(_node_text(wrapper))
        return True
    for node in found:
        ctl.print(_node_text(node))
    return True


# ---- commands, in virsh's table order ---------------------------------------------------------

@command("net-autostart", GROUP, "autostart a network",
         "Configure a network to be automatically started at boot.", [
             _network_opt(completer="network_persistent"),
             Opt("disable", OptType.BOOL, "disable autostarting"),
         ])
def cmd_net_autostart(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    name = args.string("network")
    autostart = not args.bool("disable")
    try:
        net.setAutostart(1 if autostart else 0)
    except libvirtError as exc:
        if autostart:
            return _fail(ctl, f"failed to mark network {name} as autostarted", exc)
        return _fail(ctl, f"failed to unmark network {name} as autostarted", exc)
    if autostart:
        ctl.print_extra(f"Network {name} marked as autostarted")
    else:
        ctl.print_extra(f"Network {name} unmarked as autostarted")
    return True


def _from_file(ctl: Ctl, args: Args, call: Callable[[str, bool], Any], failed: str,
               done: str) -> bool:
    path = args.string("file") or ""
    validate = args.bool("validate")
    xml = read_file(ctl, path)
    try:
        net = call(xml, validate)
    except libvirtError as exc:
        return _fail(ctl, f"{failed} {path}", exc)
    ctl.print_extra(f"Network {net.name()} {done} {path}")
    return True


@command("net-create", GROUP, "create a network from an XML file", "Create a network.", [
    _file_opt("file containing an XML network description"),
    _VALIDATE_OPT,
])
def cmd_net_create(ctl: Ctl, args: Args) -> bool:
    conn = ctl.conn
    return _from_file(
        ctl, args,
        lambda xml, validate: (conn.networkCreateXMLFlags(xml, 1) if validate
                               else conn.networkCreateXML(xml)),
        "Failed to create network from", "created from")


@command("net-define", GROUP,
         "define an inactive persistent virtual network or modify an existing persistent one "
         "from an XML file", "Define or modify a persistent virtual network.", [
             _file_opt("file containing an XML network description"),
             _VALIDATE_OPT,
         ])
def cmd_net_define(ctl: Ctl, args: Args) -> bool:
    conn = ctl.conn
    return _from_file(
        ctl, args,
        lambda xml, validate: (conn.networkDefineXMLFlags(xml, 1) if validate
                               else conn.networkDefineXML(xml)),
        "Failed to define network from", "defined from")


@command("net-destroy", GROUP, "destroy (stop) a network", "Forcefully stop a given network.", [
    _network_opt(completer="network_active"),
])
def cmd_net_destroy(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    name = args.string("network")
    try:
        net.destroy()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to destroy network {name}", exc)
    ctl.print_extra(f"Network {name} destroyed")
    return True


def _lease_record(lease: dict[str, Any]) -> dict[str, Any]:
    kind = {0: "ipv4", 1: "ipv6"}.get(lease.get("type", -1))
    return {
        "expirytime": int(lease.get("expirytime", 0)),
        "mac": lease.get("mac"),
        "iaid": lease.get("iaid"),
        "type": kind,
        "ipaddr": lease.get("ipaddr"),
        "prefix": lease.get("prefix"),
        "hostname": lease.get("hostname"),
        "clientid": lease.get("clientid"),
    }


@command("net-dhcp-leases", GROUP, "print lease info for a given network",
         "Print lease info for a given network", [
             _network_opt(completer="network_active"),
             Opt("mac", OptType.STRING, "MAC address", completer="network_dhcp_mac"),
             JSON_OPT,
         ])
def cmd_net_dhcp_leases(ctl: Ctl, args: Args) -> bool:
    mac = args.string("mac")
    net = _lookup(ctl, args)
    name = args.string("network")
    try:
        leases = net.DHCPLeases(mac, 0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to get leases info for {name}", exc)
    records = sorted((_lease_record(lease) for lease in leases),
                     key=lambda r: (r["mac"] or "").lower())
    if args.bool("json"):
        ctl.json(records)
        return True
    rows = []
    for rec in records:
        then = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rec["expirytime"]))
        rows.append([then, rec["mac"] or "-", rec["type"] or "-",
                     f"{rec['ipaddr']}/{rec['prefix']}", rec["hostname"] or "-",
                     rec["clientid"] or "-"])
    ctl.print(ctl.table(["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname",
                         "Client ID or DUID"], rows), end="")
    return True


@command("net-dumpxml", GROUP, "network information in XML",
         "Output the network information as an XML dump to stdout.", [
             _network_opt(),
             Opt("inactive", OptType.BOOL, "show inactive defined XML"),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ])
def cmd_net_dumpxml(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    flags = _XML_INACTIVE if args.bool("inactive") else 0
    return dump_object_xml(ctl, args, "network", lambda: net.XMLDesc(flags))


# ---- net-edit (virsh-edit.c) ------------------------------------------------------------------

_EDITOR_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.:@")


def _edit_temp_file(ctl: Ctl, doc: str) -> str:
    """vshEditWriteToTempFile: $TMPDIR/virshXXXXXX.xml, private to the user."""
    import random
    import string

    tmpdir = os.environ.get("TMPDIR") or "/tmp"
    letters = string.ascii_letters + string.digits
    while True:
        path = os.path.join(tmpdir, "virsh" + "".join(random.choices(letters, k=6)) + ".xml")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise CommandError(
                f"g_mkstemp_full: failed to create temporary file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(doc)
    except OSError as exc:
        os.unlink(path)
        raise CommandError(
            f"write: {path}: failed to write to temporary file: {exc.strerror}") from None
    return path


def _run_editor(ctl: Ctl, path: str) -> None:
    """vshEditFile: $VISUAL, else $EDITOR, else sensible-editor, on the temporary file."""
    import shlex
    import shutil
    import subprocess

    # as virsh: a variable set to "" still counts (getenv is not NULL)
    editor = os.environ.get("VISUAL")
    if editor is None:
        editor = os.environ.get("EDITOR")
    if editor is None:
        editor = "sensible-editor"
    if set(editor) <= _EDITOR_CHARS:
        argv = [editor, path]
        if shutil.which(editor) is None:
            raise CommandError(f"Cannot find '{editor}' in path: No such file or directory")
    else:
        if not set(path) <= _EDITOR_CHARS:
            raise CommandError(f"{path}: temporary filename contains shell meta or other "
                               "unacceptable characters (is $TMPDIR wrong?)")
        argv = ["sh", "-c", f"{editor} {path}"]
    ctl.out.flush()
    status = subprocess.call(argv)
    if status != 0:
        shown = " ".join(shlex.quote(a) for a in argv)
        if status < 0:
            detail = f"fatal signal {-status}"
        else:
            detail = f"unexpected exit status {status}"
        raise CommandError(f"internal error: Child process ({shown}) {detail}")


def _edit_xml(ctl: Ctl, net: Any) -> str:
    """virshNetworkGetXMLDesc: the inactive XML, or the live one when the flag is refused."""
    try:
        return str(net.XMLDesc(_XML_INACTIVE))
    except libvirtError as exc:
        if exc.get_error_code() != _ERR_INVALID_ARG:
            raise
    ctl.reset_error()
    return str(net.XMLDesc(0))


@command("net-edit", GROUP, "edit XML configuration for a network",
         "Edit the XML configuration for a network.", [_network_opt()])
def cmd_net_edit(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import edit_loop

    net = _lookup(ctl, args)
    defined: list[Any] = []
    unchanged: list[bool] = []

    def define(doc: str) -> Any:
        defined.append(ctl.conn.networkDefineXML(doc))
        return defined[-1]

    def not_changed() -> None:
        unchanged.append(True)
        ctl.print_extra(f"Network {net.name()} XML configuration not changed.")

    defined_or_carried_on = edit_loop(ctl, lambda: _edit_xml(ctl, net), define, not_changed)
    if unchanged:
        return True
    if not defined_or_carried_on:
        return False
    # without a terminal a failed define is only reported and virsh goes on with a NULL
    # network: "(null)"
    ctl.reset_error()
    name = defined[-1].name() if defined else "(null)"
    ctl.print_extra(f"Network {name} XML configuration edited.")
    return True


# ---- net-event ---------------------------------------------------------------------------------

_NET_EVENTS = ("lifecycle",)
_LIFECYCLE = ("Defined", "Undefined", "Started", "Stopped")


@command("net-event", GROUP, "Network Events",
         "List event types, or wait for network events to occur", [
             Opt("network", OptType.STRING, "filter by network name or uuid",
                 completer="network"),
             Opt("event", OptType.STRING, "which event type to wait for",
                 completer="net_event"),
             Opt("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
             Opt("timeout", OptType.INT, "timeout seconds"),
             Opt("list", OptType.BOOL, "list valid event types"),
             Opt("timestamp", OptType.BOOL, "show timestamp for each printed event"),
         ])
def cmd_net_event(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.events import (
        EventPrinter,
        chosen_event,
        event_timeout_ms,
        watch_events,
    )

    event_name = chosen_event(ctl, args, _NET_EVENTS)
    if event_name is None:
        return True
    printer = EventPrinter(ctl, args.bool("loop"), args.bool("timestamp"))
    timeout = event_timeout_ms(args)
    net = None
    lookup_error: libvirtError | None = None
    if args.has("network"):
        # virsh carries on (watching every network) when the lookup fails; the lookup's
        # error is reported only if the command fails in the end
        try:
            net = _lookup(ctl, args)
        except libvirtError as exc:
            lookup_error = exc
        except CommandFailed:
            pass

    def lifecycle(conn: Any, dom_net: Any, event: int, detail: int, opaque: Any) -> None:
        what = _LIFECYCLE[event] if 0 <= event < len(_LIFECYCLE) else "unknown"
        printer.emit(f"event 'lifecycle' for network {dom_net.name()}: {what}\n")

    conn = ctl.conn
    ok = watch_events(ctl, printer, timeout,
                      lambda: conn.networkEventRegisterAny(
                          net, _NET_EVENTS.index(event_name), lifecycle, None),
                      conn.networkEventDeregisterAny)
    if not ok and lookup_error is not None:
        ctl.report_libvirt_error(lookup_error)
    return ok


# ---- net-info / net-list -----------------------------------------------------------------------

def _tristate(call: Callable[[], int]) -> bool | None:
    try:
        return bool(call())
    except libvirtError:
        return None


def _autostart(net: Any) -> bool | None:
    try:
        return bool(net.autostart())
    except libvirtError:
        return None


@command("net-info", GROUP, "network information", "Returns basic information about the network",
         [_network_opt(), JSON_OPT])
def cmd_net_info(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    record: dict[str, Any] = {"name": net.name()}
    try:
        record["uuid"] = net.UUIDString()
    except libvirtError:
        record["uuid"] = None
    record["active"] = _tristate(net.isActive)
    record["persistent"] = _tristate(net.isPersistent)
    record["autostart"] = _autostart(net)
    try:
        record["bridge"] = net.bridgeName()
    except libvirtError:
        record["bridge"] = None
    ctl.reset_error()
    if args.bool("json"):
        ctl.json(record)
        return True
    ctl.print(f"{'Name:':<15s} {record['name']}")
    if record["uuid"] is not None:
        ctl.print(f"{'UUID:':<15s} {record['uuid']}")
    if record["active"] is not None:
        ctl.print(f"{'Active:':<15s} {'yes' if record['active'] else 'no'}")
    persistent = record["persistent"]
    shown = "unknown" if persistent is None else ("yes" if persistent else "no")
    ctl.print(f"{'Persistent:':<15s} {shown}")
    autostart = record["autostart"]
    shown = "no autostart" if autostart is None else ("yes" if autostart else "no")
    ctl.print(f"{'Autostart:':<15s} {shown}")
    if record["bridge"]:
        ctl.print(f"{'Bridge:':<15s} {record['bridge']}")
    return True


def _matches(ctl: Ctl, net: Any, flags: int) -> bool:
    """The persistence and autostart filters virsh applies itself on old servers."""
    if flags & (_LIST_PERSISTENT | _LIST_TRANSIENT):
        try:
            persistent = bool(net.isPersistent())
        except libvirtError as exc:
            _fail(ctl, "Failed to get network persistence info", exc)
            raise CommandFailed() from None
        if not ((flags & _LIST_PERSISTENT and persistent)
                or (flags & _LIST_TRANSIENT and not persistent)):
            return False
    if flags & (_LIST_AUTOSTART | _LIST_NO_AUTOSTART):
        try:
            autostart = bool(net.autostart())
        except libvirtError as exc:
            _fail(ctl, "Failed to get network autostart state", exc)
            raise CommandFailed() from None
        if not ((flags & _LIST_AUTOSTART and autostart)
                or (flags & _LIST_NO_AUTOSTART and not autostart)):
            return False
    return True


def _collect(ctl: Ctl, flags: int) -> list[Any]:
    """virshNetworkListCollect: listAllNetworks, with virsh's fallbacks, sorted by name."""
    conn = ctl.conn
    try:
        nets = list(conn.listAllNetworks(flags))
    except libvirtError as exc:
        code = exc.get_error_code()
        if code == _ERR_INVALID_ARG:
            ctl.reset_error()
            try:
                nets = list(conn.listAllNetworks(flags & (_LIST_ACTIVE | _LIST_INACTIVE)))
            except libvirtError as again:
                _fail(ctl, "Failed to list networks", again)
                raise CommandFailed() from None
            nets = [n for n in nets if _matches(ctl, n, flags)]
        elif code == _ERR_NO_SUPPORT:
            ctl.reset_error()
            nets = _collect_old(ctl, flags)
        else:
            _fail(ctl, "Failed to list networks", exc)
            raise CommandFailed() from None
    return sorted(nets, key=lambda n: n.name().lower())


def _collect_old(ctl: Ctl, flags: int) -> list[Any]:
    """The pre-0.10.2 way: names of active and defined networks, then lookups."""
    conn = ctl.conn
    state_filter = flags & (_LIST_ACTIVE | _LIST_INACTIVE)
    names: list[str] = []
    if not state_filter or flags & _LIST_ACTIVE:
        try:
            names += conn.listNetworks()
        except libvirtError as exc:
            _fail(ctl, "Failed to list active networks", exc)
            raise CommandFailed() from None
    if not state_filter or flags & _LIST_INACTIVE:
        try:
            names += conn.listDefinedNetworks()
        except libvirtError as exc:
            _fail(ctl, "Failed to list inactive networks", exc)
            raise CommandFailed() from None
    nets = []
    for name in names:
        try:
            nets.append(conn.networkLookupByName(name))
        except libvirtError:
            continue
    ctl.reset_error()
    return [n for n in nets if _matches(ctl, n, flags)]


@command("net-list", GROUP, "list networks", "Returns list of networks.", [
    Opt("inactive", OptType.BOOL, "list inactive networks"),
    Opt("all", OptType.BOOL, "list inactive & active networks"),
    Opt("persistent", OptType.BOOL, "list persistent networks"),
    Opt("transient", OptType.BOOL, "list transient networks"),
    Opt("autostart", OptType.BOOL, "list networks with autostart enabled"),
    Opt("no-autostart", OptType.BOOL, "list networks with autostart disabled"),
    Opt("uuid", OptType.BOOL, "list uuid's only"),
    Opt("name", OptType.BOOL, "list network names only"),
    Opt("table", OptType.BOOL, "list table (default)"),
    JSON_OPT,
])
def cmd_net_list(ctl: Ctl, args: Args) -> bool:
    flags = _LIST_ACTIVE
    if args.bool("inactive"):
        flags = _LIST_INACTIVE
    if args.bool("all"):
        flags = _LIST_ACTIVE | _LIST_INACTIVE
    for opt, bit in (("persistent", _LIST_PERSISTENT), ("transient", _LIST_TRANSIENT),
                     ("autostart", _LIST_AUTOSTART), ("no-autostart", _LIST_NO_AUTOSTART)):
        if args.bool(opt):
            flags |= bit
    opt_name, opt_uuid = args.bool("name"), args.bool("uuid")
    if args.bool("table") + opt_name + opt_uuid > 1:
        raise CommandError("Only one argument from --table, --name and --uuid may be "
                           "specified.")
    nets = _collect(ctl, flags)
    if args.bool("json"):
        ctl.json([{"name": n.name(), "uuid": n.UUIDString(), "active": bool(n.isActive()),
                   "persistent": bool(n.isPersistent()), "autostart": _autostart(n)}
                  for n in nets])
        ctl.reset_error()
        return True
    if opt_uuid:
        for net in nets:
            ctl.print(net.UUIDString())
        return True
    if opt_name:
        for net in nets:
            ctl.print(net.name())
        return True
    rows = []
    for net in nets:
        autostart = _autostart(net)
        rows.append([
            net.name(),
            "active" if net.isActive() else "inactive",
            "no autostart" if autostart is None else ("yes" if autostart else "no"),
            "yes" if net.isPersistent() else "no",
        ])
    ctl.reset_error()
    ctl.print(ctl.table(["Name", "State", "Autostart", "Persistent"], rows), end="")
    return True


@command("net-name", GROUP, "convert a network UUID to network name", "", [
    Opt("network", OptType.DATA, "network uuid", required=True, completer="network_uuid"),
])
def cmd_net_name(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args, BY_UUID)
    ctl.print(net.name())
    return True


@command("net-start", GROUP, "start a (previously defined) inactive network", "Start a network.",
         [_network_opt(completer="network_inactive")])
def cmd_net_start(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    name = args.string("network")
    try:
        net.create()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to start network {name}", exc)
    ctl.print_extra(f"Network {name} started")
    return True


@command("net-undefine", GROUP, "undefine a persistent network",
         "Undefine the configuration for a persistent network.", [
             _network_opt(completer="network_persistent"),
         ])
def cmd_net_undefine(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    name = args.string("network")
    try:
        net.undefine()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to undefine network {name}", exc)
    ctl.print_extra(f"Network {name} has been undefined")
    return True


_UPDATE_COMMANDS = ("none", "modify", "delete", "add-last", "add-first")
_UPDATE_SECTIONS = ("none", "bridge", "domain", "ip", "ip-dhcp-host", "ip-dhcp-range",
                    "forward", "forward-interface", "forward-pf", "portgroup", "dns-host",
                    "dns-txt", "dns-srv")
_UPDATE_CURRENT, _UPDATE_LIVE, _UPDATE_CONFIG = 0, 1, 2


@command("net-update", GROUP, "update parts of an existing network's configuration", "", [
    _network_opt(),
    Opt("command", OptType.DATA,
        "type of update (add-first, add-last (add), delete, or modify)", required=True,
        completer="net_update_command"),
    Opt("section", OptType.DATA, "which section of network configuration to update",
        required=True, completer="net_update_section"),
    Opt("xml", OptType.DATA,
        "name of file containing xml (or, if it starts with '<', the complete xml element "
        "itself) to add/modify, or to be matched for search", required=True),
    Opt("parent-index", OptType.INT, "which parent object to search through"),
    Opt("config", OptType.BOOL, "affect next network startup"),
    Opt("live", OptType.BOOL, "affect running network"),
    Opt("current", OptType.BOOL, "affect current state of network"),
])
def cmd_net_update(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "current", "live")
    ctl.exclusive(args, "current", "config")
    config, live = args.bool("config"), args.bool("live")
    net = _lookup(ctl, args)
    command_name = args.string("command") or ""
    if command_name == "add":
        update_command = _UPDATE_COMMANDS.index("add-last")
    elif command_name in _UPDATE_COMMANDS[1:]:
        update_command = _UPDATE_COMMANDS.index(command_name)
    else:
        raise CommandError(f"unrecognized command name '{command_name}'")
    section_name = args.string("section") or ""
    if section_name not in _UPDATE_SECTIONS[1:]:
        raise CommandError(f"unrecognized section name '{section_name}'")
    section = _UPDATE_SECTIONS.index(section_name)
    parent_index = args.int("parent-index", default=-1)
    xml = args.string("xml") or ""
    if not xml.startswith("<"):
        xml = read_file(ctl, xml)
    flags = _UPDATE_CURRENT
    if config:
        flags |= _UPDATE_CONFIG
    if live:
        flags |= _UPDATE_LIVE
    try:
        net.update(update_command, section, -1 if parent_index is None else parent_index,
                   xml, flags)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to update network {net.name()}", exc)
    # virsh prints these without a newline; its end-of-command newline closes the line
    if config:
        what = "persistent config and live state" if live else "persistent config"
    elif live or net.isActive():
        what = "live state"
    else:
        what = "persistent config"
    ctl.print_extra(f"Updated network {net.name()} {what}", end="")
    return True


@command("net-uuid", GROUP, "convert a network name to network UUID", "", [
    _network_opt("network name"),
])
def cmd_net_uuid(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args, BY_NAME)
    try:
        ctl.print(net.UUIDString())
    except libvirtError:
        ctl.error("failed to get network UUID")
    return True


# ---- network ports -----------------------------------------------------------------------------

def _port_opt() -> Opt:
    return Opt("port", OptType.DATA, "port UUID", required=True, completer="network_port")


def _lookup_port(ctl: Ctl, args: Args, net: Any) -> Any:
    """virshCommandOptNetworkPort: by UUID."""
    uuid = args.string("port") or ""
    try:
        return net.portLookupByUUIDString(uuid)
    except libvirtError:
        ctl.error(f"failed to get network port '{uuid}'")
        return None


@command("net-port-list", GROUP, "list network ports", "Returns list of network ports.", [
    _network_opt(completer="network_active"),
    Opt("uuid", OptType.BOOL, "list uuid's only"),
    Opt("table", OptType.BOOL, "list table (default)"),
])
def cmd_net_port_list(ctl: Ctl, args: Args) -> bool:
    opt_uuid = args.bool("uuid")
    if args.bool("table") and opt_uuid:
        raise CommandError("Only one argument from --table and --uuid may be specified.")
    net = _lookup(ctl, args)
    ports = sorted(net.listAllPorts(0), key=lambda p: p.UUID())
    if opt_uuid:
        for port in ports:
            ctl.print(port.UUIDString())
        return True
    ctl.print(ctl.table(["UUID"], [[p.UUIDString()] for p in ports]), end="")
    return True


@command("net-port-create", GROUP, "create a network port from an XML file",
         "Create a network port.", [
             _network_opt(completer="network_active"),
             _file_opt("file containing an XML network port description"),
             _VALIDATE_OPT,
         ])
def cmd_net_port_create(ctl: Ctl, args: Args) -> bool:
    net = _lookup(ctl, args)
    path = args.string("file") or ""
    flags = 1 if args.bool("validate") else 0
    xml = read_file(ctl, path)
    try:
        port = net.portCreateXML(xml, flags)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to create network from {path}", exc)
    ctl.print_extra(f"Network port {port.UUIDString()} created from {path}")
    return True


@command("net-port-dumpxml", GROUP, "network port information in XML",
         "Output the network port information as an XML dump to stdout.", [
             _network_opt(completer="network_active"),
             _port_opt(),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ])
def cmd_net_port_dumpxml(ctl: Ctl, args: Args) -> bool:
    try:
        net = _lookup(ctl, args)
    except (CommandFailed, libvirtError):
        ctl.reset_error()
        return True  # virsh's command starts out successful and keeps that here
    port = _lookup_port(ctl, args, net)
    if port is None:
        return True  # virsh's command starts out successful and keeps that here
    if args.raw("xpath") == "":
        return False
    try:
        xml = port.XMLDesc(0)
    except libvirtError:
        return True
    return dump_xml(ctl, xml, "network-port", args.string_quiet("xpath"), args.bool("wrap"))


@command("net-port-delete", GROUP, "delete the specified network port",
         "Delete the specified network port.", [
             _network_opt(completer="network_active"),
             _port_opt(),
         ])
def cmd_net_port_delete(ctl: Ctl, args: Args) -> bool:
    try:
        net = _lookup(ctl, args)
    except (CommandFailed, libvirtError):
        ctl.reset_error()
        return True  # virsh's command starts out successful and keeps that here
    port = _lookup_port(ctl, args, net)
    if port is None:
        return True  # as virsh: the lookup failure leaves the command successful
    try:
        uuid = port.UUIDString()
    except libvirtError:
        return True
    try:
        port.delete(0)
    except libvirtError:
        ctl.error(f"Failed to delete network port {uuid}")
        return True
    ctl.print_extra(f"Network port {uuid} deleted")
    return True


# ---- completers (virsh-completer-network.c) ----------------------------------------------------

def _complete_uuids(ctl: Ctl, values: dict[str, str]) -> list[str]:
    return [n.UUIDString() for n in ctl.conn.listAllNetworks(0)]


def _complete_ports(ctl: Ctl, values: dict[str, str]) -> list[str]:
    name = values.get("network")
    if not name:
        return []
    return [p.UUIDString() for p in ctl.conn.networkLookupByName(name).listAllPorts(0)]


def _complete_lease_macs(ctl: Ctl, values: dict[str, str]) -> list[str]:
    name = values.get("network")
    if not name:
        return []
    leases = ctl.conn.networkLookupByName(name).DHCPLeases(None, 0)
    return [lease["mac"] for lease in leases if lease.get("mac")]


register_completer("network_uuid", _complete_uuids)
register_completer("network_port", _complete_ports)
register_completer("network_dhcp_mac", _complete_lease_macs)
register_completer("net_update_command", lambda ctl, values: ["add", *_UPDATE_COMMANDS[1:]])
register_completer("net_update_section", lambda ctl, values: list(_UPDATE_SECTIONS[1:]))
register_completer("net_event", lambda ctl, values: list(_NET_EVENTS))
