"""virsh's "Node Device" group (tools/virsh-nodedev.c): listing host devices, their XML and
information, creating, defining, starting and removing devices, PCI detach/reattach/reset and
node device events."""

from __future__ import annotations

from pyvirt import libvirtError
from pyvirt.virsh.ctl import CommandError
from pyvirt.virsh.registry import Opt, OptType, alias, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "nodedev"
_ERR_NO_SUPPORT = 3
_LIST_INACTIVE = 1 << 30
_LIST_ACTIVE = 1 << 31

# virNodeDevCapType names, in order; the listing flag of cap i is 1 << i except "vpd",
# which came last (1 << 21) after the AP ones
_CAP_NAMES = ("system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target",
              "scsi", "storage", "fc_host", "vports", "scsi_generic", "drm", "mdev_types",
              "mdev", "ccw", "css", "vdpa", "ap_card", "ap_queue", "ap_matrix", "vpd")

_DEVICE_HELP = "device name or wwn pair in 'wwnn,wwpn' format"


def _device_opt(help_text: str = _DEVICE_HELP) -> Opt:
    return Opt("device", OptType.DATA, help_text, required=True, completer="nodedev")


def _file_opts() -> tuple[Opt, Opt]:
    return (Opt("file", OptType.DATA, "file containing an XML description of the device",
                required=True),
            Opt("validate", OptType.BOOL, "validate the XML against the schema"))


def _fail(ctl: Ctl, message: str, exc: libvirtError) -> bool:
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def _report(code: int, message: str) -> None:
    from pyvirt.errors import make_error, report

    report(make_error(code, message))


def _valid_wwn(wwn: str) -> bool:
    """virValidateWWN: 16 hex digits, optionally after "0x"; else libvirt's error."""
    import string

    digits = wwn[2:] if wwn.startswith("0x") else wwn
    if len(digits) == 16 and all(ch in string.hexdigits for ch in digits):
        return True
    from pyvirt import constants as c

    _report(c.VIR_ERR_INTERNAL_ERROR, f"Malformed wwn: {wwn}")
    return False


def _find(ctl: Ctl, value: str) -> Any:
    """vshFindNodeDevice: by name, or a SCSI host by "wwnn,wwpn"; None after an error."""
    from pyvirt.virsh.commands.pool import _split_list

    dev = None
    try:
        if "," in value:
            parts = _split_list(value)
            if len(parts) != 2:
                ctl.error(f"Malformed device value '{value}'")
                return None
            if not _valid_wwn(parts[0]) or not _valid_wwn(parts[1]):
                return None
            dev = ctl.conn.nodeDeviceLookupSCSIHostByWWN(parts[0], parts[1], 0)
        else:
            dev = ctl.conn.nodeDeviceLookupByName(value)
    except libvirtError as exc:
        ctl.save_error(exc)
    if dev is None:
        ctl.error(f"Could not find matching device '{value}'")
    return dev


def _by_name(ctl: Ctl, name: str) -> Any:
    try:
        return ctl.conn.nodeDeviceLookupByName(name)
    except libvirtError as exc:
        ctl.save_error(exc)
        ctl.error(f"Could not find matching device '{name}'")
        return None


def _device(args: Args) -> str:
    value = args.string("device")
    if value is None:
        raise CommandError("Failed to get option 'device': Mandatory option not present")
    return value


# ---- commands, in virsh's table order ----------------------------------------------------------

@command("nodedev-create", GROUP, "create a device defined by an XML file on the node",
         "Create a device on the node.  Note that this command creates devices on the "
         "physical host that can then be assigned to a virtual machine.", _file_opts())
def cmd_nodedev_create(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import read_xml_file

    path = args.string("file") or ""
    xml = read_xml_file(ctl, path)
    try:
        dev = ctl.conn.nodeDeviceCreateXML(xml, 1 if args.bool("validate") else 0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to create node device from {path}", exc)
    ctl.print_extra(f"Node device {dev.name()} created from {path}")
    return True


@command("nodedev-destroy", GROUP, "destroy (stop) a device on the node",
         "Destroy a device on the node.  Note that this command destroys devices on the "
         "physical host", (
             Opt("name", OptType.ALIAS, "device", alias="device"),
             _device_opt(),
         ))
def cmd_nodedev_destroy(ctl: Ctl, args: Args) -> bool:
    value = _device(args)
    dev = _find(ctl, value)
    if dev is None:
        return False
    try:
        dev.destroy()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to destroy node device '{value}'", exc)
    ctl.print_extra(f"Destroyed node device '{value}'")
    return True


@command("nodedev-detach", GROUP, "detach node device from its device driver",
         "Detach node device from its device driver before assigning to a domain.", (
             _device_opt("device key"),
             Opt("driver", OptType.STRING,
                 "pci device assignment backend driver (e.g. 'vfio' or 'xen')"),
         ))
def cmd_nodedev_detach(ctl: Ctl, args: Args) -> bool:
    name = _device(args)
    driver = args.string_quiet("driver")
    dev = _by_name(ctl, name)
    if dev is None:
        return False
    try:
        if driver:
            dev.detachFlags(driver, 0)
        else:
            dev.dettach()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to detach device {name}", exc)
    ctl.print_extra(f"Device {name} detached")
    return True


alias("nodedev-dettach", "nodedev-detach")


@command("nodedev-dumpxml", GROUP, "node device details in XML",
         "Output the node device details as an XML dump to stdout.", (
             _device_opt(),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ))
def cmd_nodedev_dumpxml(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.network import dump_xml

    value = _device(args)
    if args.raw("xpath") == "":
        return False  # vshCommandOptStringQuiet refuses an empty value silently
    xpath = args.string_quiet("xpath")
    dev = _find(ctl, value)
    if dev is None:
        return False
    xml = dev.XMLDesc(0)
    return dump_xml(ctl, xml, "node-device", xpath, args.bool("wrap"))


def _collect(ctl: Ctl, caps: list[str], flags: int) -> list[Any] | None:
    """virshNodeDeviceListCollect, with its fallback to the pre-0.10.2 calls."""
    conn: Any = ctl.conn  # the binding's stubs type ``cap`` as int; libvirt takes a name
    try:
        devices = list(conn.listAllDevices(flags))
    except libvirtError as exc:
        if exc.get_error_code() != _ERR_NO_SUPPORT:
            _fail(ctl, "Failed to list node devices", exc)
            return None
        ctl.reset_error()
        try:
            count = conn.numOfDevices(None, 0)
        except libvirtError as exc2:
            _fail(ctl, "Failed to count node devices", exc2)
            return None
        if not count:
            return []
        try:
            names = conn.listDevices(None, 0)
        except libvirtError as exc2:
            _fail(ctl, "Failed to list node devices", exc2)
            return None
        devices = []
        for name in names:
            try:
                dev = conn.nodeDeviceLookupByName(name)
            except libvirtError:
                continue
            if caps:
                try:
                    dev_caps = dev.listCaps()
                except libvirtError as exc2:
                    _fail(ctl, "Failed to get capability names of the device", exc2)
                    return None
                if not any(cap in caps for cap in dev_caps):
                    continue
            devices.append(dev)
    devices.sort(key=lambda d: d.name().lower())
    return devices


def _print_tree(ctl: Ctl, names: list[str], parents: list[str | None], devid: int,
                lastdev: int, root: bool, indent: str) -> None:
    """vshTreePrint: a device, then its children under "+- " with '|' guide lines."""
    ctl.print(f"{indent}{'' if root else '+- '}{names[devid]}")
    if not root:
        indent += (" " if devid == lastdev else "|") + " "
    children = [i for i, parent in enumerate(parents) if parent == names[devid]]
    nextlast = children[-1] if children else -1
    if children:
        ctl.print(f"{indent}  |")
    for i in children:
        _print_tree(ctl, names, parents, i, nextlast, False, indent + "  ")
    if not children and devid == lastdev:
        ctl.print(indent)


@command("nodedev-list", GROUP, "enumerate devices on this host", "", (
    Opt("tree", OptType.BOOL, "list devices in a tree"),
    Opt("cap", OptType.STRING, "capability names, separated by comma"),
    Opt("inactive", OptType.BOOL, "list inactive devices"),
    Opt("all", OptType.BOOL, "list inactive & active devices"),
))
def cmd_nodedev_list(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import _split_list

    tree = args.bool("tree")
    inactive = args.bool("inactive")
    show_all = args.bool("all")
    cap_str = args.string_quiet("cap")
    caps = _split_list(cap_str) if cap_str else []
    if show_all and inactive:
        raise CommandError("Option --all is incompatible with --inactive")
    if tree and (cap_str or inactive):
        raise CommandError("Option --tree is incompatible with --cap and --inactive")
    flags = 0
    for cap in caps:
        if cap not in _CAP_NAMES:
            raise CommandError("Invalid capability type")
        flags |= 1 << _CAP_NAMES.index(cap)
    if inactive or show_all:
        flags |= _LIST_INACTIVE
    if not inactive:
        flags |= _LIST_ACTIVE
    devices = _collect(ctl, caps, flags)
    if devices is None:
        return False
    if not tree:
        for dev in devices:
            ctl.print(dev.name())
        return True
    names = [dev.name() for dev in devices]
    parents: list[str | None] = []
    for name, dev in zip(names, devices):
        parent = None
        if name != "computer":
            try:
                parent = dev.parent()
            except libvirtError:
                parent = None
        parents.append(parent)
    for i in range(len(names)):
        if parents[i] is None:
            _print_tree(ctl, names, parents, i, i, True, "")
    return True


@command("nodedev-reattach", GROUP, "reattach node device to its device driver",
         "Reattach node device to its device driver once released by the domain.", (
             _device_opt("device key"),
         ))
def cmd_nodedev_reattach(ctl: Ctl, args: Args) -> bool:
    name = _device(args)
    dev = _by_name(ctl, name)
    if dev is None:
        return False
    try:
        dev.reAttach()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to re-attach device {name}", exc)
    ctl.print_extra(f"Device {name} re-attached")
    return True


@command("nodedev-reset", GROUP, "reset node device",
         "Reset node device before or after assigning to a domain.", (
             _device_opt("device key"),
         ))
def cmd_nodedev_reset(ctl: Ctl, args: Args) -> bool:
    name = _device(args)
    dev = _by_name(ctl, name)
    if dev is None:
        return False
    try:
        dev.reset()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to reset device {name}", exc)
    ctl.print_extra(f"Device {name} reset")
    return True


# ---- nodedev-event -----------------------------------------------------------------------------

_EVENTS = ("lifecycle", "update")
_LIFECYCLE = ("Created", "Deleted", "Defined", "Undefined")


@command("nodedev-event", GROUP, "Node Device Events",
         "List event types, or wait for node device events to occur", (
             Opt("device", OptType.STRING, "filter by node device name", completer="nodedev"),
             Opt("event", OptType.STRING, "which event type to wait for"),
             Opt("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
             Opt("timeout", OptType.INT, "timeout seconds"),
             Opt("list", OptType.BOOL, "list valid event types"),
             Opt("timestamp", OptType.BOOL, "show timestamp for each printed event"),
         ))
def cmd_nodedev_event(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.events import (
        EventPrinter,
        chosen_event,
        event_timeout_ms,
        watch_events,
    )

    event_name = chosen_event(ctl, args, _EVENTS)
    if event_name is None:
        return True
    printer = EventPrinter(ctl, args.bool("loop"), args.bool("timestamp"))
    timeout = event_timeout_ms(args)
    dev = None
    device_value = args.string("device")
    if device_value is not None:
        dev = _by_name(ctl, device_value)
        if dev is None:
            return False

    def lifecycle(conn: Any, node_dev: Any, event: int, detail: int, opaque: Any) -> None:
        what = _LIFECYCLE[event] if 0 <= event < len(_LIFECYCLE) else "unknown"
        printer.emit(f"event 'lifecycle' for node device {node_dev.name()}: {what}\n")

    def generic(conn: Any, node_dev: Any, opaque: Any) -> None:
        printer.emit(f"event '{event_name}' for node device {node_dev.name()}\n")

    conn: Any = ctl.conn  # the binding's stubs type ``dev`` as str; it is a device or None
    event_id = _EVENTS.index(event_name)
    return watch_events(ctl, printer, timeout,
                        lambda: conn.nodeDeviceEventRegisterAny(
                            dev, event_id, lifecycle if event_id == 0 else generic, None),
                        conn.nodeDeviceEventDeregisterAny)


@command("nodedev-define", GROUP, "Define a device by an xml file on a node",
         "Defines a persistent device on the node that can be assigned to a domain. The "
         "device must be started before it can be assigned to a domain.", _file_opts())
def cmd_nodedev_define(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import read_xml_file

    path = args.string("file") or ""
    xml = read_xml_file(ctl, path)
    try:
        dev = ctl.conn.nodeDeviceDefineXML(xml, 1 if args.bool("validate") else 0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to define node device from '{path}'", exc)
    ctl.print_extra(f"Node device '{dev.name()}' defined from '{path}'")
    return True


@command("nodedev-undefine", GROUP, "Undefine an inactive node device",
         "Undefines the configuration for an inactive node device", (_device_opt(),))
def cmd_nodedev_undefine(ctl: Ctl, args: Args) -> bool:
    value = _device(args)
    dev = _find(ctl, value)
    if dev is None:
        return False
    try:
        dev.undefine(0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to undefine node device '{value}'", exc)
    ctl.print_extra(f"Undefined node device '{value}'")
    return True


@command("nodedev-start", GROUP, "Start an inactive node device",
         "Starts an inactive node device that was previously defined", (
             _device_opt("device name"),
         ))
def cmd_nodedev_start(ctl: Ctl, args: Args) -> bool:
    name = _device(args)
    dev = _by_name(ctl, name)
    if dev is None:
        return False
    try:
        dev.create(0)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to start device {name}", exc)
    ctl.print_extra(f"Device {name} started")
    return True


@command("nodedev-autostart", GROUP, "autostart a defined node device",
         "Configure a node device to be automatically started at boot.", (
             _device_opt(),
             Opt("disable", OptType.BOOL, "disable autostarting"),
         ))
def cmd_nodedev_autostart(ctl: Ctl, args: Args) -> bool:
    name = _device(args)
    dev = _find(ctl, name)
    if dev is None:
        return False
    autostart = not args.bool("disable")
    try:
        dev.setAutostart(1 if autostart else 0)
    except libvirtError as exc:
        verb = "mark" if autostart else "unmark"
        return _fail(ctl, f"failed to {verb} device {name} as autostarted", exc)
    ctl.print_extra(f"Device {name} {'marked' if autostart else 'unmarked'} as autostarted")
    return True


@command("nodedev-info", GROUP, "node device information",
         "Returns basic information about the node device", (_device_opt(),))
def cmd_nodedev_info(ctl: Ctl, args: Args) -> bool:
    dev = _find(ctl, _device(args))
    if dev is None:
        return False
    try:
        parent = dev.parent()
    except libvirtError:
        parent = None
    ctl.reset_error()

    def yes_no(call: Any) -> str:
        try:
            return "yes" if call() else "no"
        except libvirtError:
            ctl.reset_error()
            return "yes"  # virsh tests the -1 error return for truth

    ctl.print(f"{'Name:':<15} {dev.name()}")
    ctl.print(f"{'Parent:':<15} {parent or ''}")
    ctl.print(f"{'Active:':<15} {yes_no(dev.isActive)}")
    ctl.print(f"{'Persistent:':<15} {yes_no(dev.isPersistent)}")
    try:
        autostart = "yes" if dev.autostart() else "no"
    except libvirtError:
        ctl.reset_error()
        autostart = "no autostart"
    ctl.print(f"{'Autostart:':<15} {autostart}")
    return True
