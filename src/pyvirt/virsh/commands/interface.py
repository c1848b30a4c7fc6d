"""virsh's "Interface" group (tools/virsh-interface.c): host interfaces, their XML and state,
name/MAC conversion and the begin/commit/rollback change transaction."""

from __future__ import annotations

from pyvirt import libvirtError
from pyvirt.virsh.ctl import BY_MAC, BY_NAME, CommandError
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "interface"
_LIST_INACTIVE = 1 << 0
_LIST_ACTIVE = 1 << 1
_XML_INACTIVE = 1
_DEFINE_VALIDATE = 1
_ERR_NO_SUPPORT = 3


def _iface_opt(help_text: str = "interface name or MAC address",
               completer: str = "interface") -> Opt:
    # VIRSH_COMMON_OPT_INTERFACE
    return Opt("interface", OptType.DATA, help_text, required=True, completer=completer)


def _fail(ctl: Ctl, message: str, exc: libvirtError) -> bool:
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


# ---- commands, in virsh's table order ----------------------------------------------------------

@command("iface-begin", GROUP,
         "create a snapshot of current interfaces settings, which can be later committed "
         "(iface-commit) or restored (iface-rollback)",
         "Create a restore point for interfaces settings")
def cmd_iface_begin(ctl: Ctl, args: Args) -> bool:
    try:
        ctl.conn.changeBegin(0)
    except libvirtError as exc:
        return _fail(ctl, "Failed to begin network config change transaction", exc)
    ctl.print_extra("Network config change transaction started")
    return True


def _parse_inactive(ctl: Ctl, iface: Any, name: str) -> Any:
    """The interface's inactive XML as an lxml tree; None after virsh's parse error."""
    from lxml import etree

    xml = iface.XMLDesc(_XML_INACTIVE)
    try:
        return etree.fromstring(xml.encode())
    except etree.XMLSyntaxError:
        ctl.error(f"Failed to parse configuration of {name}")
        return None


def _move_children(src: Any, dst: Any) -> None:
    """Move the <mac>, <bond> and <vlan> elements of ``src`` to the end of ``dst``."""
    for child in list(src):
        if isinstance(child.tag, str) and child.tag in ("mac", "bond", "vlan"):
            src.remove(child)
            dst.append(child)


@command("iface-bridge", GROUP,
         "create a bridge device and attach an existing network device to it",
         "bridge an existing network device", (
             Opt("interface", OptType.DATA, "existing interface name", required=True,
                 completer="interface"),
             Opt("bridge", OptType.DATA, "new bridge device name", required=True),
             Opt("no-stp", OptType.BOOL, "do not enable STP for this bridge"),
             Opt("delay", OptType.INT,
                 "number of seconds to squelch traffic on newly connected ports"),
             Opt("no-start", OptType.BOOL, "don't start the bridge immediately"),
         ))
def cmd_iface_bridge(ctl: Ctl, args: Args) -> bool:
    from lxml import etree

    iface = ctl.lookup_interface(args, by=BY_NAME)
    if_name = args.string("interface") or ""
    br_name = args.string("bridge") or ""
    conn = ctl.conn
    try:
        conn.interfaceLookupByName(br_name)
    except libvirtError as exc:
        ctl.save_error(exc)
    else:
        ctl.error(f"Network device {br_name} already exists")
        return False
    stp = not args.bool("no-stp")
    delay = args.uint("delay", 0) or 0
    nostart = args.bool("no-start")
    top = _parse_inactive(ctl, iface, if_name)
    if top is None:
        return False
    if_type = top.get("type")
    if if_type is None:
        ctl.error(f"Existing device {if_name} has no type")
        return False
    if if_type == "bridge":
        ctl.error(f"Existing device {if_name} is already a bridge")
        return False
    if2_name = top.get("name")
    if if2_name != if_name:
        ctl.error(f"Interface name from config {if2_name or '(null)'} doesn't match given "
                  f"supplied name {if_name}")
        return False
    br_node = etree.SubElement(top, "bridge")
    br_node.set("stp", "on" if stp else "off")
    if stp:
        br_node.set("delay", str(delay))
    top.set("type", "bridge")
    top.set("name", br_name)
    if_node = etree.SubElement(br_node, "interface")
    if_node.set("type", if_type)
    if_node.set("name", if_name)
    _move_children(top, if_node)
    br_xml = etree.tostring(top, encoding="unicode")
    try:
        bridge = conn.interfaceDefineXML(br_xml, 0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to define new bridge interface {br_name}", exc)
    ctl.reset_error()
    ctl.print_extra(f"Created bridge {br_name} with attached device {if_name}")
    if not nostart:
        try:
            bridge.create(0)
        except libvirtError as exc:
            return _fail(ctl, f"Failed to start bridge interface {br_name}", exc)
        ctl.print_extra(f"Bridge interface {br_name} started")
    return True


@command("iface-commit", GROUP,
         "commit changes made since iface-begin and free restore point",
         "commit changes and free restore point")
def cmd_iface_commit(ctl: Ctl, args: Args) -> bool:
    try:
        ctl.conn.changeCommit(0)
    except libvirtError as exc:
        return _fail(ctl, "Failed to commit network config change transaction", exc)
    ctl.print_extra("Network config change transaction committed")
    return True


@command("iface-define", GROUP,
         "define an inactive persistent physical host interface or modify an existing "
         "persistent one from an XML file",
         "Define or modify a persistent physical host interface.", (
             Opt("file", OptType.DATA, "file containing an XML interface description",
                 required=True),
             Opt("validate", OptType.BOOL, "validate the XML against the schema"),
         ))
def cmd_iface_define(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import read_xml_file

    path = args.string("file") or ""
    flags = _DEFINE_VALIDATE if args.bool("validate") else 0
    xml = read_xml_file(ctl, path)
    try:
        iface = ctl.conn.interfaceDefineXML(xml, flags)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to define interface from {path}", exc)
    ctl.print_extra(f"Interface {iface.name()} defined from {path}")
    return True


@command("iface-destroy", GROUP,
         'destroy a physical host interface (disable it / "if-down")',
         "forcefully stop a physical host interface.", (_iface_opt(),))
def cmd_iface_destroy(ctl: Ctl, args: Args) -> bool:
    iface = ctl.lookup_interface(args)
    name = args.string("interface")
    try:
        iface.destroy(0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to destroy interface {name}", exc)
    ctl.print_extra(f"Interface {name} destroyed")
    return False  # as virsh 9.0: iface-destroy reports failure even when it worked


@command("iface-dumpxml", GROUP, "interface information in XML",
         "Output the physical host interface information as an XML dump to stdout.", (
             _iface_opt(),
             Opt("inactive", OptType.BOOL, "show inactive defined XML"),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ))
def cmd_iface_dumpxml(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.network import dump_object_xml

    flags = _XML_INACTIVE if args.bool("inactive") else 0
    iface = ctl.lookup_interface(args)
    return dump_object_xml(ctl, args, "interface", lambda: iface.XMLDesc(flags))


@command("iface-edit", GROUP, "edit XML configuration for a physical host interface",
         "Edit the XML configuration for a physical host interface.", (_iface_opt(),))
def cmd_iface_edit(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.domain import edit_loop

    iface = ctl.lookup_interface(args)
    defined: list[Any] = []
    unchanged: list[bool] = []

    def define(doc: str) -> Any:
        defined.append(ctl.conn.interfaceDefineXML(doc, 0))
        return defined[-1]

    def not_changed() -> None:
        unchanged.append(True)
        ctl.print_extra(f"Interface {iface.name()} XML configuration not changed.")

    carried_on = edit_loop(ctl, lambda: str(iface.XMLDesc(_XML_INACTIVE)), define,
                           not_changed)
    if unchanged:
        return True
    if not carried_on:
        return False
    ctl.reset_error()
    name = defined[-1].name() if defined else "(null)"
    ctl.print_extra(f"Interface {name} XML configuration edited.")
    return True


def _collect(ctl: Ctl, flags: int) -> list[Any] | None:
    """virshInterfaceListCollect, with its fallback to the pre-0.10.2 calls."""
    conn = ctl.conn
    try:
        ifaces = list(conn.listAllInterfaces(flags))
    except libvirtError as exc:
        if exc.get_error_code() != _ERR_NO_SUPPORT:
            _fail(ctl, "Failed to list interfaces", exc)
            return None
        ctl.reset_error()
        names: list[str] = []
        for bit, lister, word in ((_LIST_ACTIVE, conn.listInterfaces, "active"),
                                  (_LIST_INACTIVE, conn.listDefinedInterfaces, "inactive")):
            if flags & bit:
                try:
                    names.extend(lister())
                except libvirtError as exc2:
                    _fail(ctl, f"Failed to list {word} interfaces", exc2)
                    return None
        ifaces = []
        for name in names:
            try:
                ifaces.append(conn.interfaceLookupByName(name))
            except libvirtError:
                ctl.reset_error()
    ifaces.sort(key=lambda i: i.name().lower())
    return ifaces


@command("iface-list", GROUP, "list physical host interfaces",
         "Returns list of physical host interfaces.", (
             Opt("inactive", OptType.BOOL, "list inactive interfaces"),
             Opt("all", OptType.BOOL, "list inactive & active interfaces"),
         ))
def cmd_iface_list(ctl: Ctl, args: Args) -> bool:
    inactive = args.bool("inactive")
    show_all = args.bool("all")
    if inactive and show_all:
        raise CommandError("Options --all and --inactive are mutually exclusive")
    flags = _LIST_ACTIVE
    if inactive:
        flags = _LIST_INACTIVE
    if show_all:
        flags = _LIST_INACTIVE | _LIST_ACTIVE
    ifaces = _collect(ctl, flags)
    if ifaces is None:
        return False
    rows = [[i.name(), "active" if i.isActive() else "inactive", i.MACString()]
            for i in ifaces]
    ctl.print_table(["Name", "State", "MAC Address"], rows)
    return True


@command("iface-mac", GROUP, "convert an interface name to interface MAC address", "", (
    _iface_opt("interface name"),
))
def cmd_iface_mac(ctl: Ctl, args: Args) -> bool:
    iface = ctl.lookup_interface(args, by=BY_NAME)
    ctl.print(iface.MACString())
    return True


@command("iface-name", GROUP, "convert an interface MAC address to interface name", "", (
    _iface_opt("interface mac"),
))
def cmd_iface_name(ctl: Ctl, args: Args) -> bool:
    iface = ctl.lookup_interface(args, by=BY_MAC)
    ctl.print(iface.name())
    return True


@command("iface-rollback", GROUP,
         "rollback to previous saved configuration created via iface-begin",
         "rollback to previous restore point")
def cmd_iface_rollback(ctl: Ctl, args: Args) -> bool:
    try:
        ctl.conn.changeRollback(0)
    except libvirtError as exc:
        return _fail(ctl, "Failed to rollback network config change transaction", exc)
    ctl.print_extra("Network config change transaction rolled back")
    return True


@command("iface-start", GROUP, 'start a physical host interface (enable it / "if-up")',
         "start a physical host interface.", (_iface_opt(),))
def cmd_iface_start(ctl: Ctl, args: Args) -> bool:
    iface = ctl.lookup_interface(args)
    name = args.string("interface")
    try:
        iface.create(0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to start interface {name}", exc)
    ctl.print_extra(f"Interface {name} started")
    return True


@command("iface-unbridge", GROUP, "undefine a bridge device after detaching its device(s)",
         "unbridge a network device", (
             Opt("bridge", OptType.DATA, "current bridge device name", required=True),
             Opt("no-start", OptType.BOOL,
                 "don't start the detached interface immediately (not recommended)"),
         ))
def cmd_iface_unbridge(ctl: Ctl, args: Args) -> bool:
    from lxml import etree

    bridge = ctl.lookup_interface(args, opt="bridge", by=BY_NAME)
    br_name = args.string("bridge") or ""
    nostart = args.bool("no-start")
    top = _parse_inactive(ctl, bridge, br_name)
    if top is None:
        return False
    br_type = top.get("type")
    if br_type is None:
        ctl.error(f"Existing device {br_name} has no type")
        return False
    if br_type != "bridge":
        ctl.error(f"Device {br_name} is not a bridge")
        return False
    name = top.get("name")
    if name != br_name:
        ctl.error(f"Interface name from config {name or '(null)'} doesn't match given "
                  f"supplied name {br_name}")
        return False
    br_node = top.find("bridge")
    if br_node is None:
        ctl.error("No bridge node in xml document")
        return False
    attached = br_node.findall("interface")
    if len(attached) > 1:
        ctl.error("Multiple interfaces attached to bridge")
        return False
    if not attached:
        ctl.error("No interface attached to bridge")
        return False
    if_node = attached[0]
    if_name = if_node.get("name")
    if if_name is None:
        ctl.error(f"Device attached to bridge {br_name} has no name")
        return False
    if_type = if_node.get("type")
    if if_type is None:
        ctl.error(f"Attached device {if_name} has no type")
        return False
    top.set("type", if_type)
    top.set("name", if_name)
    _move_children(if_node, top)
    if_xml = etree.tostring(top, encoding="unicode")
    try:
        bridge.destroy(0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to destroy bridge interface {br_name}", exc)
    try:
        bridge.undefine()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to undefine bridge interface {br_name}", exc)
    try:
        iface = ctl.conn.interfaceDefineXML(if_xml, 0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to define new interface {if_name}", exc)
    ctl.print_extra(f"Device {if_name} un-attached from bridge {br_name}")
    if not nostart:
        try:
            iface.create(0)
        except libvirtError as exc:
            return _fail(ctl, f"Failed to start interface {if_name}", exc)
        ctl.print_extra(f"Interface {if_name} started")
    return True


@command("iface-undefine", GROUP,
         "undefine a physical host interface (remove it from configuration)",
         "undefine an interface.", (_iface_opt(),))
def cmd_iface_undefine(ctl: Ctl, args: Args) -> bool:
    iface = ctl.lookup_interface(args)
    name = args.string("interface")
    try:
        iface.undefine()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to undefine interface {name}", exc)
    ctl.print_extra(f"Interface {name} undefined")
    return True
