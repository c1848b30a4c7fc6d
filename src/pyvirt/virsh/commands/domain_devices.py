"""virsh's device commands of the "Domain Management" group (tools/virsh-domain.c):
attach-device, detach-device, detach-device-alias, update-device, attach-disk, detach-disk,
attach-interface, detach-interface, change-media, update-memory-device.

The device XML attach-disk and attach-interface send is built as lxml elements and printed with
libvirt's formatter (xmlutil.to_string), element for element as virsh builds it.
"""

from __future__ import annotations

import os
import re
import stat

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.domain import exclusive, fail, read_file, require
from pyvirt.virsh.ctl import CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml.etree import _Element

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"


def _device_flags(args: Args, persistent: bool = True) -> int:
    """--persistent/--config/--live/--current as VIR_DOMAIN_AFFECT_* (virsh's checks first)."""
    if persistent:
        exclusive(args, ("persistent", "current"))
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("config") or (persistent and args.bool("persistent")):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    return flags


def _persistent_live(args: Args, dom: Any, flags: int) -> int:
    """--persistent on a running domain also affects the live state."""
    if args.bool("persistent") and dom.isActive() == 1:
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    return flags


def _attach(dom: Any, xml: str, flags: int, current: bool) -> None:
    # virsh prefers the flag-less API when no option asked for flags
    if flags or current:
        dom.attachDeviceFlags(xml, flags)
    else:
        dom.attachDevice(xml)


def _detach(dom: Any, xml: str, flags: int, current: bool) -> None:
    if flags or current:
        dom.detachDeviceFlags(xml, flags)
    else:
        dom.detachDevice(xml)


# ---- addresses (virshAddressParse / virshAddressFormat) ------------------------------------

class Address:
    """One device address as virsh's --address option spells it.

    ``type`` is the XML address type ("pci", "drive" for ide/scsi/sata, "ccw", "usb"),
    ``kind`` the prefix given. A plain class: importing dataclasses costs start-up time.
    """

    __slots__ = ("type", "kind", "values", "multifunction")

    def __init__(self, type: str, kind: str, values: tuple[int, ...],  # noqa: A002
                 multifunction: bool = False) -> None:
        self.type = type
        self.kind = kind
        self.values = values
        self.multifunction = multifunction

    def element(self) -> _Element:
        from lxml import etree

        node = etree.Element("address")
        v = self.values
        if self.type == "pci":
            node.set("type", "pci")
            node.set("domain", f"0x{v[0]:04x}")
            node.set("bus", f"0x{v[1]:02x}")
            node.set("slot", f"0x{v[2]:02x}")
            node.set("function", f"0x{v[3]:x}")
            if self.multifunction:
                node.set("multifunction", "on")
        elif self.type == "drive":
            node.set("type", "drive")
            node.set("controller", str(v[0]))
            node.set("bus", str(v[1]))
            node.set("unit", str(v[2]))
        elif self.type == "ccw":
            node.set("type", "ccw")
            node.set("cssid", f"0x{v[0]:02x}")
            node.set("ssid", f"0x{v[1]:01x}")
            node.set("devno", f"0x{v[2]:04x}")
        else:
            node.set("type", "usb")
            node.set("bus", str(v[0]))
            node.set("port", str(v[1]))
        return node


_UINT_MAX = (1 << 32) - 1
_NUMBER = {16: re.compile(r"[ \t\n\v\f\r]*\+?(0[xX])?([0-9a-fA-F]+)"),
           10: re.compile(r"[ \t\n\v\f\r]*\+?([0-9]+)")}


def _strtoul(text: str, pos: int, base: int, limit: int) -> tuple[int, int] | None:
    """virStrToLong_uip/_ullp with an end pointer: (value, end) or None."""
    m = _NUMBER[base].match(text, pos)
    if m is None:
        return None
    value = int(m.group(m.lastindex or 1), base)
    if value > limit:
        return None
    return value, m.end()


def parse_address(text: str, multifunction: bool = False) -> Address | None:
    kind, sep, rest = text.partition(":")
    if not sep:
        return None
    layouts = {"pci": ("pci", (16, 16, 16, 16)), "ide": ("drive", (10, 10, 10)),
               "scsi": ("drive", (10, 10, 10)), "sata": ("drive", (10, 10, 10)),
               "ccw": ("ccw", (16, 16, 16)), "usb": ("usb", (10, 10))}
    if kind not in layouts:
        return None
    addr_type, bases = layouts[kind]
    values = []
    # each number follows one separator character, whichever it is (as virsh's ++a)
    pos = len(kind)
    full = text
    for i, base in enumerate(bases):
        pos += 1
        limit = (1 << 64) - 1 if (addr_type == "drive" and i == 2) else _UINT_MAX
        parsed = _strtoul(full, pos, base, limit)
        if parsed is None:
            return None
        value, pos = parsed
        values.append(value)
    return Address(addr_type, kind, tuple(values), multifunction and addr_type == "pci")


def _to_string(node: _Element) -> str:
    from pyvirt.conf.xmlutil import to_string

    return to_string(node)


def node_dump(node: _Element) -> str:
    """virXMLNodeToString: libxml2's dump of one node of a parsed document (its original
    whitespace kept, double quotes, no trailing newline)."""
    import copy

    from lxml import etree

    dup = copy.deepcopy(node)
    dup.tail = None
    return etree.tostring(dup, encoding="unicode")


def parse_document(xml: str) -> _Element:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xml.encode(), parser)


# ---- attach-device, detach-device, detach-device-alias, update-device ------------------------

@command("attach-device", GROUP, "attach device from an XML file",
         "Attach device from an XML <file>.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("file", OptType.DATA, "XML file", required=True),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_attach_device(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    dom = ctl.lookup_domain(args)
    path = args.string("file") or ""
    flags = _persistent_live(args, dom, flags)
    xml = read_file(ctl, path)
    try:
        _attach(dom, xml, flags, args.bool("current"))
    except libvirtError as exc:
        return fail(ctl, f"Failed to attach device from {path}", exc)
    ctl.print_extra("Device attached successfully")
    return True


@command("detach-device", GROUP, "detach device from an XML file",
         "Detach device from an XML <file>", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("file", OptType.DATA, "XML file", required=True),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_detach_device(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    dom = ctl.lookup_domain(args)
    flags = _persistent_live(args, dom, flags)
    path = args.string("file") or ""
    xml = read_file(ctl, path)
    try:
        _detach(dom, xml, flags, args.bool("current"))
    except libvirtError as exc:
        return fail(ctl, f"Failed to detach device from {path}", exc)
    ctl.print_extra("Device detached successfully")
    return True


@command("detach-device-alias", GROUP, "detach device from an alias",
         "Detach device identified by the given alias from a domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("alias", OptType.DATA, "device alias", required=True),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_detach_device_alias(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args, persistent=False)
    dom = ctl.lookup_domain(args)
    alias = args.string("alias") or ""
    try:
        dom.detachDeviceAlias(alias, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to detach device with alias {alias}", exc)
    ctl.print_extra("Device detach request sent successfully")
    return True


@command("update-device", GROUP, "update device from an XML file",
         "Update device from an XML <file>.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("file", OptType.DATA, "XML file", required=True),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("force", OptType.BOOL, "force device update"),
         ])
def cmd_update_device(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    dom = ctl.lookup_domain(args)
    path = args.string("file") or ""
    flags = _persistent_live(args, dom, flags)
    xml = read_file(ctl, path)
    if args.bool("force"):
        flags |= c.VIR_DOMAIN_DEVICE_MODIFY_FORCE
    try:
        dom.updateDeviceFlags(xml, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to update device from {path}", exc)
    ctl.print_extra("Device updated successfully")
    return True


# ---- attach-disk, detach-disk ----------------------------------------------------------------

def _disk_address(ctl: Ctl, text: str, target: str, multifunction: bool) -> Address:
    """cmdAttachDiskFormatAddress: the address must suit the target's bus prefix."""
    addr = parse_address(text, multifunction)
    if addr is None:
        raise CommandError("Invalid address.")
    if target.startswith("vd"):
        if addr.type not in ("pci", "ccw"):
            raise CommandError("expecting a pci:0000.00.00.00 or ccw:00.0.0000 address.")
    elif target.startswith("sd"):
        if addr.kind not in ("scsi", "usb", "sata"):
            raise CommandError(
                "expecting a scsi:00.00.00 or usb:00.00 or sata:00.00.00 address.")
    elif target.startswith("hd"):
        if addr.kind != "ide":
            raise CommandError("expecting an ide:00.00.00 address.")
    return addr


_WWN = re.compile(r"(0x)?[0-9a-fA-F]{16}\Z")


def _set_attrs(node: _Element, pairs: list[tuple[str, str | None]]) -> None:
    for name, value in pairs:
        if value is not None:
            node.set(name, value)


def build_disk(ctl: Ctl, args: Args) -> _Element:
    """The <disk> element attach-disk sends, as cmdAttachDisk writes it."""
    from lxml import etree

    for opt, needed in (("source-host-name", "source-protocol"),
                        ("source-host-transport", "source-protocol"),
                        ("source-host-socket", "source-protocol"),
                        ("source-host-socket", "source-host-transport")):
        require(args, opt, needed)
    exclusive(args, ("source-host-name", "source-host-socket"))
    opts = {name: args.string(name) for name in (
        "source", "target", "driver", "subdriver", "type", "mode", "iothread", "cache", "io",
        "serial", "wwn", "address", "targetbus", "alias", "sourcetype", "source-protocol",
        "source-host-name", "source-host-transport", "source-host-socket")}
    source = opts["source"]
    target = opts["target"] or ""
    stype = opts["sourcetype"]
    protocol = opts["source-protocol"]
    if stype is not None and stype not in ("file", "block", "network"):
        raise CommandError(f"Unknown source type: '{stype}'")
    if stype is None or stype == "":
        driver = opts["driver"]
        if protocol:
            stype = "network"
        elif driver not in ("file", "tap") and source and _is_block(source):
            stype = "block"
        else:
            stype = "file"
    if (stype == "network") != bool(protocol):
        raise CommandError("--source-protocol option requires --sourcetype network")
    mode = opts["mode"]
    if mode is not None and mode not in ("readonly", "shareable"):
        raise CommandError(f"No support for {mode} in command 'attach-disk'")
    wwn = opts["wwn"]
    if wwn is not None and not _WWN.match(wwn):
        # virValidateWWN reports a libvirt error, printed as virsh's end-of-command report
        from pyvirt.errors import make_error, report

        report(make_error(c.VIR_ERR_INTERNAL_ERROR, f"Malformed wwn: {wwn}"))
        raise CommandFailed()
    disk = etree.Element("disk")
    _set_attrs(disk, [("type", stype), ("device", opts["type"]),
                      ("rawio", "yes" if args.bool("rawio") else None)])
    drv = etree.Element("driver")
    _set_attrs(drv, [("name", opts["driver"]), ("type", opts["subdriver"]),
                     ("iothread", opts["iothread"]), ("cache", opts["cache"]),
                     ("io", opts["io"])])
    if len(drv.attrib):
        disk.append(drv)
    src = etree.Element("source")
    if stype == "file":
        _set_attrs(src, [("file", source)])
    elif stype == "block":
        _set_attrs(src, [("dev", source)])
    else:
        _set_attrs(src, [("protocol", protocol), ("name", source)])
        host = etree.Element("host")
        _set_attrs(host, [("transport", opts["source-host-transport"]),
                          ("socket", opts["source-host-socket"])])
        host_name = opts["source-host-name"]
        if host_name is not None:
            name, sep, port = host_name.partition(":")
            _set_attrs(host, [("name", name), ("port", port if sep else None)])
        if len(host.attrib):
            src.append(host)
    if len(src.attrib) or len(src):
        disk.append(src)
    tgt = etree.SubElement(disk, "target", dev=target)
    if opts["targetbus"]:
        tgt.set("bus", opts["targetbus"] or "")
    if mode:
        etree.SubElement(disk, mode)
    if opts["serial"]:
        etree.SubElement(disk, "serial").text = opts["serial"]
    if opts["alias"]:
        etree.SubElement(disk, "alias", name=opts["alias"] or "")
    if wwn:
        etree.SubElement(disk, "wwn").text = wwn
    if opts["address"]:
        disk.append(_disk_address(ctl, opts["address"] or "", target,
                                  args.bool("multifunction")).element())
    return disk


def _is_block(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


@command("attach-disk", GROUP, "attach disk device",
         "Attach new disk device.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("source", OptType.DATA,
                 "source of disk device or name of network disk", required=True, empty_ok=True),
             Opt("target", OptType.DATA, "target of disk device", required=True, completer="empty"),
             Opt("targetbus", OptType.STRING, "target bus of disk device"),
             Opt("driver", OptType.STRING, "driver of disk device"),
             Opt("subdriver", OptType.STRING, "subdriver of disk device"),
             Opt("iothread", OptType.STRING, "IOThread to be used by supported device"),
             Opt("cache", OptType.STRING, "cache mode of disk device"),
             Opt("io", OptType.STRING, "io policy of disk device"),
             Opt("type", OptType.STRING, "target device type"),
             Opt("shareable", OptType.ALIAS, "", alias="mode=shareable"),
             Opt("mode", OptType.STRING, "mode of device reading and writing"),
             Opt("sourcetype", OptType.STRING, "type of source (block|file|network)"),
             Opt("serial", OptType.STRING, "serial of disk device", completer="empty"),
             Opt("wwn", OptType.STRING, "wwn of disk device", completer="empty"),
             Opt("alias", OptType.STRING, "custom alias name of disk device", completer="empty"),
             Opt("rawio", OptType.BOOL, "needs rawio capability"),
             Opt("address", OptType.STRING, "address of disk device", completer="empty"),
             Opt("multifunction", OptType.BOOL, "use multifunction pci under specified address"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than attach the disk"),
             Opt("source-protocol", OptType.STRING, "protocol used by disk device source"),
             Opt("source-host-name", OptType.STRING,
                 "host name for source of disk device", completer="empty"),
             Opt("source-host-transport", OptType.STRING,
                 "host transport for source of disk device"),
             Opt("source-host-socket", OptType.STRING, "host socket for source of disk device"),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
         ])
def cmd_attach_disk(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    xml = _to_string(build_disk(ctl, args))
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    dom = ctl.lookup_domain(args)
    flags = _persistent_live(args, dom, flags)
    try:
        _attach(dom, xml, flags, args.bool("current"))
    except libvirtError as exc:
        return fail(ctl, "Failed to attach disk", exc)
    ctl.print_extra("Disk attached successfully")
    return True


def find_disk(doc: str, path: str, changeable: bool = False) -> _Element:
    """virshFindDisk: the <disk> whose target or source is ``path`` (backing store dropped)."""
    try:
        root = parse_document(doc)
    except Exception:  # noqa: BLE001 - any parse failure is virsh's one message
        raise CommandError("Failed to get disk information") from None
    disks = root.findall("./devices/disk")
    if not disks:
        raise CommandError("Failed to get disk information")
    for disk in disks:
        if changeable and disk.get("device") not in (None, "cdrom", "floppy"):
            continue
        src = disk.find("source")
        candidates = []
        if src is not None:
            candidates = [src.get(a) for a in ("file", "dev", "dir", "name")]
        tgt = disk.find("target")
        candidates.append(tgt.get("dev") if tgt is not None else "")
        if path in candidates:
            backing = disk.find("backingStore")
            if backing is not None:
                _drop(backing)
            return disk
    raise CommandError(f"No disk found whose source path or target is {path}")


def _drop(node: _Element) -> None:
    # xmlUnlinkNode: the node goes, its tail whitespace stays with the previous sibling
    parent = node.getparent()
    if parent is None:
        return
    prev = node.getprevious()
    tail = node.tail or ""
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(node)


@command("detach-disk", GROUP, "detach disk device",
         "Detach disk device.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("target", OptType.DATA, "target of disk device", required=True),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than detach the disk"),
         ])
def cmd_detach_disk(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    dom = ctl.lookup_domain(args)
    target = args.string("target") or ""
    if flags == c.VIR_DOMAIN_AFFECT_CONFIG:
        doc = dom.XMLDesc(c.VIR_DOMAIN_XML_INACTIVE)
    else:
        doc = dom.XMLDesc(0)
    flags = _persistent_live(args, dom, flags)
    xml = node_dump(find_disk(doc, target))
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        _detach(dom, xml, flags, args.bool("current"))
    except libvirtError as exc:
        return fail(ctl, "Failed to detach disk", exc)
    ctl.print_extra("Disk detached successfully")
    return True


# ---- attach-interface, detach-interface --------------------------------------------------------

_NET_TYPES = ("user", "ethernet", "vhostuser", "server", "client", "mcast", "network", "bridge",
              "internal", "direct", "hostdev", "udp", "vdpa", "null", "vds")
_SOURCE_MODES = ("server", "client")
_ULLONG_MAX = (1 << 64) - 1


def parse_rate(text: str) -> dict[str, int]:
    """virshParseRateStr: 'average,peak,burst,floor' (empty fields allowed)."""
    fields = text.split(",")
    if len(fields) > 4:
        raise CommandError(f"Rate string '{text}' has too many fields")
    rate = {"average": 0, "peak": 0, "burst": 0, "floor": 0}
    for name, field in zip(("average", "peak", "burst", "floor"), fields):
        if field == "":
            continue
        m = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z", field)
        if m is None:
            raise CommandError(f"field '{name}' is malformed")
        value = int(m.group(2))
        if value > _ULLONG_MAX:
            raise CommandError(f"field '{name}' is malformed")
        if m.group(1) == "-":
            value = (-value) & _ULLONG_MAX  # strtoull wraps negatives; virsh takes them
        rate[name] = value
    return rate


def build_interface(ctl: Ctl, args: Args) -> _Element:
    """The <interface> element attach-interface sends, as cmdAttachInterface writes it."""
    from lxml import etree

    opts = {name: args.string(name) for name in (
        "type", "source", "target", "mac", "script", "model", "alias", "inbound", "outbound",
        "source-mode")}
    net_type = opts["type"] or ""
    source = opts["source"] or ""
    if net_type not in _NET_TYPES:
        raise CommandError(f"No support for {net_type} in command 'attach-interface'")
    mode = opts["source-mode"]
    if mode is not None and mode not in _SOURCE_MODES:
        raise CommandError(f"Invalid source mode: {mode}")
    inbound = outbound = None
    if opts["inbound"] is not None:
        inbound = parse_rate(opts["inbound"] or "")
        if not inbound["average"] and not inbound["floor"]:
            raise CommandError("either inbound average or floor is mandatory")
    if opts["outbound"] is not None:
        outbound = parse_rate(opts["outbound"] or "")
        if outbound["average"] == 0:
            raise CommandError("outbound average is mandatory")
        if outbound["floor"]:
            raise CommandError("outbound floor is unsupported yet")
    iface = etree.Element("interface", type=net_type)
    if args.bool("managed"):
        iface.set("managed", "yes")
    if net_type in ("network", "bridge"):
        etree.SubElement(iface, "source").set(net_type, source)
    elif net_type == "direct":
        etree.SubElement(iface, "source", dev=source)
    elif net_type == "hostdev":
        addr = parse_address(f"pci:{source}")
        if addr is None:
            raise CommandError(f"cannot parse pci address '{source}' for network interface")
        etree.SubElement(iface, "source").append(addr.element())
    elif net_type == "vhostuser":
        if mode is None:
            raise CommandError("source-mode is mandatory")
        etree.SubElement(iface, "source", type="unix", path=source, mode=mode)
    else:
        raise CommandError(f"No support for {net_type} in command 'attach-interface'")
    for opt, tag, attr in (("target", "target", "dev"), ("mac", "mac", "address"),
                           ("script", "script", "path"), ("model", "model", "type"),
                           ("alias", "alias", "name")):
        if opts[opt] is not None:
            etree.SubElement(iface, tag).set(attr, opts[opt] or "")
    if inbound is not None or outbound is not None:
        bandwidth = etree.SubElement(iface, "bandwidth")
        if inbound is not None and (inbound["average"] or inbound["floor"]):
            node = etree.SubElement(bandwidth, "inbound")
            for key in ("average", "peak", "burst", "floor"):
                if inbound[key] > 0:
                    node.set(key, str(inbound[key]))
        if outbound is not None and outbound["average"] > 0:
            node = etree.SubElement(bandwidth, "outbound")
            for key in ("average", "peak", "burst"):
                if outbound[key] > 0:
                    node.set(key, str(outbound[key]))
    return iface


@command("attach-interface", GROUP, "attach network interface",
         "Attach new network interface.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("type", OptType.DATA, "network interface type", required=True),
             Opt("source", OptType.DATA, "source of network interface", required=True),
             Opt("target", OptType.STRING, "target network name", completer="empty"),
             Opt("mac", OptType.STRING, "MAC address", completer="empty"),
             Opt("script", OptType.STRING, "script used to bridge network interface"),
             Opt("model", OptType.STRING, "model type"),
             Opt("alias", OptType.STRING,
                 "custom alias name of interface device", completer="empty"),
             Opt("inbound", OptType.STRING,
                 "control domain's incoming traffics", completer="empty"),
             Opt("outbound", OptType.STRING,
                 "control domain's outgoing traffics", completer="empty"),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than attach the interface"),
             Opt("managed", OptType.BOOL,
                 "libvirt will automatically detach/attach the device from/to host"),
             Opt("source-mode", OptType.STRING, "mode attribute of <source/> element"),
         ])
def cmd_attach_interface(ctl: Ctl, args: Args) -> bool:
    flags = _device_flags(args)
    xml = _to_string(build_interface(ctl, args))
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    dom = ctl.lookup_domain(args)
    flags = _persistent_live(args, dom, flags)
    try:
        _attach(dom, xml, flags, args.bool("current"))
    except libvirtError as exc:
        return fail(ctl, "Failed to attach interface", exc)
    ctl.print_extra("Interface attached successfully")
    return True


def _mac_equal(a: str, b: str) -> bool:
    """virMacAddrCompare: the six octets compared as numbers."""
    def octets(text: str) -> list[int] | None:
        parts = text.split(":")
        if len(parts) != 6:
            return None
        try:
            return [int(p, 16) for p in parts]
        except ValueError:
            return None

    pa, pb = octets(a), octets(b)
    if pa is None or pb is None:
        return a.lower() == b.lower()
    return pa == pb


def _detach_interface(ctl: Ctl, dom: Any, doc: str, flags: int, current: bool,
                      net_type: str, mac: str | None, print_xml: bool) -> bool:
    """virshDomainDetachInterface: find the one interface and detach (or print) it."""
    try:
        root = parse_document(doc)
    except Exception:  # noqa: BLE001
        ctl.error("Failed to get interface information")
        return False
    nodes = [n for n in root.findall("./devices/interface") if n.get("type") == net_type]
    if not nodes:
        ctl.error(f"No interface found whose type is {net_type}")
        return False
    match = None
    if mac:
        for node in nodes:
            mac_node = node.find("mac")
            address = mac_node.get("address") if mac_node is not None else None
            if address and _mac_equal(address, mac):
                if match is not None:
                    ctl.error(f"Domain has multiple interfaces matching MAC address {mac}. "
                              "You must use detach-device and specify the device pci "
                              "address to remove it.")
                    return False
                match = node
    else:
        if len(nodes) > 1:
            ctl.error(f"Domain has {len(nodes)} interfaces. Please specify which one to "
                      "detach using --mac")
            return False
        match = nodes[0]
    if match is None:
        ctl.error(f"No interface with MAC address {mac} was found")
        return False
    xml = node_dump(match)
    if print_xml:
        ctl.print(xml, end="")
        return True
    try:
        _detach(dom, xml, flags, current)
    except libvirtError as exc:
        ctl.save_error(exc)
        return False
    return True


@command("detach-interface", GROUP, "detach network interface",
         "Detach network interface.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("type", OptType.DATA, "network interface type", required=True),
             Opt("mac", OptType.STRING, "MAC address"),
             Opt("persistent", OptType.BOOL, "make live change persistent"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than detach the interface"),
         ])
def cmd_detach_interface(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("persistent", "current"), ("current", "live"), ("current", "config"))
    dom = ctl.lookup_domain(args)
    net_type = args.string("type") or ""
    mac = args.string("mac")
    print_xml = args.bool("print-xml")
    current = args.bool("current")
    ok = False
    affect_config = args.bool("config") or args.bool("persistent")
    failed_early = False
    if affect_config:
        doc = dom.XMLDesc(c.VIR_DOMAIN_XML_INACTIVE)
        ok = _detach_interface(ctl, dom, doc, c.VIR_DOMAIN_AFFECT_CONFIG, current, net_type,
                               mac, print_xml)
        failed_early = not ok
    if not failed_early:
        affect_live = args.bool("live") or (args.bool("persistent") and dom.isActive() == 1)
        if affect_live or not affect_config:
            flags = c.VIR_DOMAIN_AFFECT_LIVE if affect_live else 0
            doc = dom.XMLDesc(0)
            ok = _detach_interface(ctl, dom, doc, flags, current, net_type, mac, print_xml)
        if print_xml:
            if not ok:
                raise CommandFailed()
            return True
    if not ok:
        ctl.error("Failed to detach interface")
        return False
    ctl.print_extra("Interface detached successfully")
    return True


# ---- change-media ------------------------------------------------------------------------------

def update_disk_xml(disk: _Element, new_source: str | None, block: bool, target: str,
                    mode: str) -> str:
    """virshUpdateDiskXML: eject, insert or update the media of a removable disk, editing the
    node as libxml2 would (text nodes kept where they were)."""
    from lxml import etree

    if disk.get("device") not in ("cdrom", "floppy"):
        raise CommandError(f"The disk device '{target}' is not removable")
    source = disk.find("source")
    target_node = disk.find("target")
    # the indentation before <target/>: the text node just before it
    indent = None
    if target_node is not None:
        prev = target_node.getprevious()
        indent = prev.tail if prev is not None else disk.text
    if mode == "eject":
        if source is None:
            raise CommandError(f"The disk device '{target}' doesn't have media")
        block = False
        new_source = None
    elif not new_source:
        raise CommandError("New disk media source was not specified")
    policy = None
    if source is not None:
        path = None
        for attr in ("file", "dev", "dir", "pool", "name"):
            path = source.get(attr)
            if path is not None:
                break
        if path and mode == "insert":
            raise CommandError(f"The disk device '{target}' already has media")
        policy = source.get("startupPolicy")
        _drop(source)
    disk.set("type", "block" if block else "file")
    if new_source and target_node is not None:
        node = etree.Element("source")
        node.set("dev" if block else "file", new_source)
        if policy:
            node.set("startupPolicy", policy)
        target_node.addprevious(node)
        node.tail = indent
    return node_dump(disk)


@command("change-media", GROUP, "Change media of CD or floppy drive",
         "Change media of CD or floppy drive.", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("path", OptType.DATA,
                 "Fully-qualified path or target of disk device", required=True),
             Opt("source", OptType.STRING, "source of the media"),
             Opt("eject", OptType.BOOL, "Eject the media"),
             Opt("insert", OptType.BOOL, "Insert the media"),
             Opt("update", OptType.BOOL, "Update the media"),
             Opt("current", OptType.BOOL,
                 "can be either or both of --live and --config, depends on implementation "
                 "hypervisor driver"),
             Opt("live", OptType.BOOL, "alter live configuration of running domain"),
             Opt("config", OptType.BOOL,
                 "alter persistent configuration, effect observed on next boot"),
             Opt("force", OptType.BOOL, "force media changing"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than change media"),
             Opt("block", OptType.BOOL, "source media is a block device"),
         ])
def cmd_change_media(ctl: Ctl, args: Args) -> bool:
    eject, insert, update = args.bool("eject"), args.bool("insert"), args.bool("update")
    exclusive(args, ("eject", "insert"), ("eject", "update"), ("insert", "update"),
              ("eject", "block"))
    source = args.string("source")
    if update and source is None:
        update, eject = False, True  # as documented: update without a source ejects
    mode, done = "update", "Successfully updated media."
    if eject:
        mode, done = "eject", "Successfully ejected media."
    if insert:
        mode, done = "insert", "Successfully inserted media."
    if update or (not eject and not insert):
        mode, done = "update", "Successfully updated media."
    exclusive(args, ("current", "live"), ("current", "config"))
    flags = c.VIR_DOMAIN_AFFECT_CURRENT
    if args.bool("config"):
        flags |= c.VIR_DOMAIN_AFFECT_CONFIG
    if args.bool("live"):
        flags |= c.VIR_DOMAIN_AFFECT_LIVE
    if args.bool("force"):
        flags |= c.VIR_DOMAIN_DEVICE_MODIFY_FORCE
    dom = ctl.lookup_domain(args)
    path = args.string("path") or ""
    doc = dom.XMLDesc(c.VIR_DOMAIN_XML_INACTIVE if flags & c.VIR_DOMAIN_AFFECT_CONFIG else 0)
    disk = find_disk(doc, path, changeable=True)
    xml = update_disk_xml(disk, source, args.bool("block"), path, mode)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        dom.updateDeviceFlags(xml, flags)
    except libvirtError as exc:
        return fail(ctl, f"Failed to complete action {mode} on media", exc)
    ctl.print(done, end="")
    return True


# ---- update-memory-device ------------------------------------------------------------------------

@command("update-memory-device", GROUP, "update memory device of a domain",
         "Update values of a memory device of a domain", [
             Opt("domain", OptType.DATA,
                 "domain name, id or uuid", required=True, completer="domain"),
             Opt("config", OptType.BOOL, "affect next boot"),
             Opt("live", OptType.BOOL, "affect running domain"),
             Opt("current", OptType.BOOL, "affect current domain"),
             Opt("print-xml", OptType.BOOL,
                 "print updated memory device XML instead of executing the change"),
             Opt("alias", OptType.STRING, "memory device alias"),
             Opt("node", OptType.INT, "memory device target node"),
             Opt("requested-size", OptType.INT,
                 "new value of <requested/> size, as scaled integer (default KiB)"),
         ])
def cmd_update_memory_device(ctl: Ctl, args: Args) -> bool:

    flags = _device_flags(args, persistent=False)
    exclusive(args, ("node", "alias"))
    dom = ctl.lookup_domain(args)
    root = parse_document(dom.XMLDesc(
        c.VIR_DOMAIN_XML_INACTIVE if flags & c.VIR_DOMAIN_AFFECT_CONFIG else 0))
    alias = args.string("alias")
    node = args.uint("node")
    mems = root.findall("./devices/memory")
    if node is not None:
        mems = [m for m in mems if m.findtext("target/node") == str(node)]
    elif alias is not None:
        mems = [m for m in mems if m.find(f"alias[@name='{alias}']") is not None]
    if not mems:
        raise CommandError("no memory device found")
    if len(mems) > 1:
        raise CommandError(
            "multiple memory devices found, use --alias or --node to select one")
    mem = mems[0]
    if args.has("requested-size"):
        size = args.scaled("requested-size", "KiB") or 0
        requested = mem.find("target/requested")
        if requested is None:
            raise CommandError("virtio-mem device is missing <requested/>")
        for child in list(requested):  # xmlNodeSetContent replaces the whole content
            requested.remove(child)
        requested.text = str((size + 1023) // 1024)
    xml = node_dump(mem)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    dom.updateDeviceFlags(xml, flags)
    return True
