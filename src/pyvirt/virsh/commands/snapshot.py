"""virsh's "Snapshot" group (tools/virsh-snapshot.c).

``--json`` (our addition):

- ``snapshot-list``: a list of ``{"name": str, "creation_time": int (Unix seconds),
  "state": str, "parent": str|null}`` in the order virsh prints (by name, or topological);
  with ``--tree`` the same records (the tree is the ``parent`` links).
- ``snapshot-info``: ``{"name", "domain", "current": bool, "state", "location":
  "internal"|"external", "parent": str|null, "children": int, "descendants": int,
  "metadata": bool}``.
"""

from __future__ import annotations

import time

import pyvirt
from pyvirt import constants as c
from pyvirt.virsh.ctl import CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml.etree import _Element

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "snapshot"

_DOMAIN = Opt("domain", OptType.DATA, "domain name, id or uuid", required=True,
              completer="domain")
_JSON = Opt("json", OptType.BOOL, "print JSON")

# virsh reads at most this much of an XML file (VSH_MAX_XML_FILE)
MAX_XML_FILE = 10 * 1024 * 1024


def _parse(xml: str) -> _Element:
    from pyvirt.conf.xmlutil import parse_xml

    return parse_xml(xml)


def read_xml_file(ctl: Ctl, path: str) -> str:
    """virFileReadAll(path, VSH_MAX_XML_FILE) with virsh's error wording."""
    import os

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_XML_FILE + 1)
    except OSError as exc:
        raise CommandError(f"Failed to open file '{path}': {os.strerror(exc.errno or 0)}") \
            from None
    if len(data) > MAX_XML_FILE:
        raise CommandError(f"File '{path}' is too large")
    return data.decode("utf-8", errors="replace")


def _create(ctl: Ctl, dom: pyvirt.virDomain, xml: str, flags: int,
            source: str | None) -> bool:
    """virshSnapshotCreate."""
    halt = False
    try:
        snap = dom.snapshotCreateXML(xml, flags)
    except pyvirt.libvirtError as exc:
        code = exc.get_error_code()
        if code == c.VIR_ERR_NO_SUPPORT and source is None \
                and flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE:
            ctl.reset_error()
            flags &= ~c.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE
            snap = dom.snapshotCreateXML(xml, flags)
        elif code == c.VIR_ERR_INVALID_ARG and flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT:
            # older servers: emulate --halt by destroying the domain afterwards
            ctl.reset_error()
            if not dom.isPersistent():
                ctl.error("cannot halt after snapshot of transient domain")
                return False
            halt = dom.isActive() == 1
            flags &= ~c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT
            snap = dom.snapshotCreateXML(xml, flags)
        else:
            raise
    if halt:
        dom.destroy()
    name = snap.getName()
    if source is not None:
        ctl.print_extra(f"Domain snapshot {name} created from '{source}'", end="")
    else:
        ctl.print_extra(f"Domain snapshot {name} created", end="")
    return True


_CREATE_FLAGS = (
    ("no-metadata", c.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA),
    ("halt", c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT),
    ("disk-only", c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY),
    ("reuse-external", c.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT),
    ("quiesce", c.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE),
    ("atomic", c.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC),
    ("live", c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE),
    ("validate", c.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE),
)
_CREATE_OPTS = (
    Opt("no-metadata", OptType.BOOL, "take snapshot but create no metadata"),
    Opt("halt", OptType.BOOL, "halt domain after snapshot is created"),
    Opt("disk-only", OptType.BOOL, "capture disk state but not vm state"),
    Opt("reuse-external", OptType.BOOL, "reuse any existing external files"),
    Opt("quiesce", OptType.BOOL, "quiesce guest's file systems"),
    Opt("atomic", OptType.BOOL, "require atomic operation"),
    Opt("live", OptType.BOOL, "take a live snapshot"),
    Opt("validate", OptType.BOOL, "validate the XML against the schema"),
)


def _create_flags(args: Args) -> int:
    flags = 0
    for name, bit in _CREATE_FLAGS:
        if args.bool(name):
            flags |= bit
    return flags


@command("snapshot-create", GROUP, "Create a snapshot from XML",
         "Create a snapshot (disk and RAM) from XML", [
             _DOMAIN,
             Opt("xmlfile", OptType.STRING, "domain snapshot XML"),
             Opt("redefine", OptType.BOOL, "redefine metadata for existing snapshot"),
             Opt("current", OptType.BOOL, "with redefine, set current snapshot"),
             *_CREATE_OPTS,
         ])
def cmd_snapshot_create(ctl: Ctl, args: Args) -> bool:
    flags = _create_flags(args)
    if args.bool("redefine"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if args.bool("current"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    dom = ctl.lookup_domain(args)
    source = args.string("xmlfile")
    xml = "<domainsnapshot/>" if source is None else read_xml_file(ctl, source)
    return _create(ctl, dom, xml, flags, source)


def _split_spec(text: str) -> list[str]:
    """vshStringToArray: split on commas, ",," standing for a literal comma."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if text[i + 1:i + 2] == ",":
                current += ","
                i += 2
                continue
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current)
    return parts


def _memspec(ctl: Ctl, root: _Element, text: str) -> None:
    """virshParseSnapshotMemspec: "[file=]name[,snapshot=type]" -> <memory/>."""
    from pyvirt.conf.xmlutil import sub

    snapshot = path = None
    for item in _split_spec(text):
        if snapshot is None and item.startswith("snapshot="):
            snapshot = item[len("snapshot="):]
        elif path is None and item.startswith("file="):
            path = item[len("file="):]
        elif path is None and item.startswith("/"):
            path = item
        else:
            raise CommandError(f"unable to parse memspec: {text}")
    node = sub(root, "memory")
    if snapshot is not None:
        node.set("snapshot", snapshot)
    if path is not None:
        node.set("file", path)


def _diskspec(ctl: Ctl, disks: _Element, text: str) -> None:
    """virshParseSnapshotDiskspec: "disk[,snapshot=type][,driver=type][,stype=type]
    [,file=name]" -> <disk/>."""
    from pyvirt.conf.xmlutil import sub

    items = _split_spec(text)
    values: dict[str, str] = {}
    for item in items[1:]:
        key, sep, value = item.partition("=")
        if not sep or key not in ("snapshot", "driver", "stype", "file") or key in values:
            raise CommandError(f"unable to parse diskspec: {text}")
        values[key] = value
    disk = sub(disks, "disk")
    disk.set("name", items[0])
    if "snapshot" in values:
        disk.set("snapshot", values["snapshot"])
    stype = values.get("stype")
    if stype is not None:
        if stype not in ("file", "block"):
            ctl.error(f"Unknown storage type: '{stype}'")
            raise CommandError(f"unable to parse diskspec: {text}")
        disk.set("type", stype)
    if "driver" in values:
        sub(disk, "driver").set("type", values["driver"])
    if "file" in values:
        sub(disk, "source").set("dev" if stype == "block" else "file", values["file"])


@command("snapshot-create-as", GROUP, "Create a snapshot from a set of args",
         "Create a snapshot (disk and RAM) from arguments", [
             _DOMAIN,
             Opt("name", OptType.STRING, "name of snapshot"),
             Opt("description", OptType.STRING, "description of snapshot"),
             Opt("print-xml", OptType.BOOL, "print XML document rather than create"),
             *_CREATE_OPTS,
             Opt("memspec", OptType.STRING, "memory attributes: [file=]name[,snapshot=type]",
                 named_only=True),
             Opt("diskspec", OptType.ARGV, "disk attributes: disk[,snapshot=type]"
                 "[,driver=type][,stype=type][,file=name]"),
         ])
def cmd_snapshot_create_as(ctl: Ctl, args: Args) -> bool:
    from pyvirt.conf.xmlutil import element, keep_open, sub, to_string

    flags = _create_flags(args)
    dom = ctl.lookup_domain(args)
    name = args.string("name")
    desc = args.string("description")
    # virsh prints an open and a close tag even when nothing goes between them
    root = keep_open(element("domainsnapshot"), lines=True)
    if name is not None:
        sub(root, "name").text = name
    if desc is not None:
        sub(root, "description").text = desc
    memspec = args.string("memspec")
    if memspec is not None:
        _memspec(ctl, root, memspec)
    if args.has("diskspec"):
        disks = sub(root, "disks")
        for spec in args.argv("diskspec"):
            _diskspec(ctl, disks, spec)
    xml = to_string(root)
    if args.bool("print-xml"):
        ctl.print(xml)
        return True
    return _create(ctl, dom, xml, flags, None)


def lookup_snapshot(ctl: Ctl, args: Args, opt: str, exclusive: bool,
                    dom: pyvirt.virDomain) -> tuple[Any, str]:
    """virshLookupSnapshot: --<opt> NAME or --current."""
    current = args.bool("current")
    name = args.string(opt)
    if exclusive and current and name is not None:
        raise CommandError(f"--{opt} and --current are mutually exclusive")
    if name is not None:
        snap = dom.snapshotLookupByName(name, 0)
    elif current:
        snap = dom.snapshotCurrent(0)
    else:
        raise CommandError(f"--{opt} or --current is required")
    return snap, snap.getName()


@command("snapshot-current", GROUP, "Get or set the current snapshot",
         "Get or set the current snapshot", [
             _DOMAIN,
             Opt("name", OptType.BOOL, "list the name, rather than the full xml"),
             Opt("security-info", OptType.BOOL,
                 "include security sensitive information in XML dump"),
             Opt("snapshotname", OptType.STRING, "name of existing snapshot to make current",
                 completer="snapshot"),
         ])
def cmd_snapshot_current(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_XML_SECURE if args.bool("security-info") else 0
    ctl.exclusive(args, "name", "snapshotname")
    domname = args.string("domain") or ""
    dom = ctl.lookup_domain(args)
    snapname = args.string("snapshotname")
    if snapname is not None:
        snap = dom.snapshotLookupByName(snapname, 0)
        xml = snap.getXMLDesc(c.VIR_DOMAIN_XML_SECURE)
        flags = c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
        if "<state>disk-snapshot</state>" in xml:
            flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        dom.snapshotCreateXML(xml, flags)
        ctl.print_extra(f"Snapshot {snapname} set as current", end="")
        return True
    if not dom.hasCurrentSnapshot(0):
        ctl.error(f"domain '{domname}' has no current snapshot")
        return False
    snap = dom.snapshotCurrent(0)
    if args.bool("name"):
        ctl.print(snap.getName(), end="")
    else:
        ctl.print(snap.getXMLDesc(flags), end="")
    return True


@command("snapshot-delete", GROUP, "Delete a domain snapshot", "Snapshot Delete", [
    _DOMAIN,
    Opt("snapshotname", OptType.STRING, "snapshot name", completer="snapshot"),
    Opt("current", OptType.BOOL, "delete current snapshot"),
    Opt("children", OptType.BOOL, "delete snapshot and all children"),
    Opt("children-only", OptType.BOOL, "delete children but not snapshot"),
    Opt("metadata", OptType.BOOL,
        "delete only libvirt metadata, leaving snapshot contents behind"),
])
def cmd_snapshot_delete(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    snap, name = lookup_snapshot(ctl, args, "snapshotname", True, dom)
    flags = 0
    if args.bool("children"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
    if args.bool("children-only"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
    if args.bool("metadata"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
    try:
        snap.delete(flags)
    except pyvirt.libvirtError as exc:
        ctl.error(f"Failed to delete snapshot {name}")
        ctl.report_libvirt_error(exc)
        return False
    if flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY:
        ctl.print_extra(f"Domain snapshot {name} children deleted")
    else:
        ctl.print_extra(f"Domain snapshot {name} deleted")
    return True


def dump_xml(ctl: Ctl, xml: str, xpath: str | None, wrap: bool) -> bool:
    """virshDumpXML: the document, or the nodes ``xpath`` selects (wrapped in <nodes>)."""
    if xpath is None:
        ctl.print(xml, end="")
        return True
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    doc = etree.fromstring(xml.encode(), parser)
    try:
        result = doc.xpath(xpath)
    except etree.XPathError:
        raise CommandError(f"XPath evaluation failed for '{xpath}'") from None
    nodes = result if isinstance(result, list) else [result]

    def dump(node: Any) -> str:
        if isinstance(node, etree._Element):
            return etree.tostring(node, pretty_print=True, encoding="unicode").rstrip("\n")
        if getattr(node, "is_attribute", False):
            return f' {node.attrname}="{node}"'
        return str(node)

    if wrap:
        root = etree.Element("nodes")
        for node in nodes:
            if isinstance(node, etree._Element):
                root.append(etree.fromstring(etree.tostring(node), parser))
        ctl.print(dump(root))
    else:
        for node in nodes:
            ctl.print(dump(node))
    return True


@command("snapshot-dumpxml", GROUP, "Dump XML for a domain snapshot", "Snapshot Dump XML", [
    _DOMAIN,
    Opt("snapshotname", OptType.DATA, "snapshot name", required=True, completer="snapshot"),
    Opt("security-info", OptType.BOOL, "include security sensitive information in XML dump"),
    Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
        named_only=True),
    Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
])
def cmd_snapshot_dumpxml(ctl: Ctl, args: Args) -> bool:
    flags = c.VIR_DOMAIN_XML_SECURE if args.bool("security-info") else 0
    name = args.string("snapshotname") or ""
    dom = ctl.lookup_domain(args)
    snap = dom.snapshotLookupByName(name, 0)
    xpath = args.string_quiet("xpath")
    return dump_xml(ctl, snap.getXMLDesc(flags), xpath, args.bool("wrap"))


@command("snapshot-edit", GROUP, "edit XML for a snapshot",
         "Edit the domain snapshot XML for a named snapshot", [
             _DOMAIN,
             Opt("snapshotname", OptType.STRING, "snapshot name", completer="snapshot"),
             Opt("current", OptType.BOOL, "also set edited snapshot as current"),
             Opt("rename", OptType.BOOL, "allow renaming an existing snapshot"),
             Opt("clone", OptType.BOOL, "allow cloning to new name"),
         ])
def cmd_snapshot_edit(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "rename", "clone")
    rename_ok, clone_ok = args.bool("rename"), args.bool("clone")
    define_flags = c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if args.bool("current") and args.has("snapshotname"):
        define_flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    dom = ctl.lookup_domain(args)
    snap, name = lookup_snapshot(ctl, args, "snapshotname", False, dom)
    edited = _edit(ctl, snap, name, dom, define_flags)
    if edited is None:
        ctl.error(f"Failed to update {name}")
        return False
    if edited is True:
        return True
    edited_name = edited.getName()
    if edited_name == name:
        ctl.print_extra(f"Snapshot {name} edited.")
    elif clone_ok:
        ctl.print_extra(f"Snapshot {name} cloned to {edited_name}.")
    else:
        try:
            (snap if rename_ok else edited).delete(c.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        except pyvirt.libvirtError as exc:
            ctl.report_libvirt_error(exc)
            ctl.error(f"Failed to clean up {name if rename_ok else edited_name}")
            ctl.error(f"Failed to update {name}")
            return False
        if not rename_ok:
            ctl.error(f"Must use --rename or --clone to change {name} to {edited_name}")
            ctl.error(f"Failed to update {name}")
            return False
    return True


def _edit(ctl: Ctl, snap: Any, name: str, dom: pyvirt.virDomain, define_flags: int) -> Any:
    """virsh-edit.c for a snapshot (the domain group's edit loop): the redefined snapshot,
    True when the XML was left unchanged, None on failure (error printed)."""
    from pyvirt.virsh.commands.domain import edit_loop

    result: list[Any] = []

    def get_xml() -> str:
        return str(snap.getXMLDesc(c.VIR_DOMAIN_XML_SECURE))

    def define(doc: str) -> None:
        flags = define_flags
        if "<state>disk-snapshot</state>" in doc:
            flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        result.append(dom.snapshotCreateXML(doc, flags))

    def not_changed() -> None:
        # with --current virsh redefines even an unchanged document (to set it current)
        if define_flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT:
            define(get_xml())
        else:
            ctl.print_extra(f"Snapshot {name} XML configuration not changed.")
            result.append(True)

    try:
        edit_loop(ctl, get_xml, define, not_changed)
    except CommandError as exc:
        ctl.error(exc.message)
        return None
    except CommandFailed:
        return None
    except pyvirt.libvirtError as exc:
        ctl.report_libvirt_error(exc)
        return None
    # without a terminal a failed definition leaves nothing defined (virsh crashes there)
    return result[-1] if result else None


def snapshot_parent(ctl: Ctl, snap: Any) -> str | None:
    """virshGetSnapshotParent: the parent's name, None for a root."""
    try:
        return str(snap.getParent(0).getName())
    except pyvirt.libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            ctl.report_libvirt_error(exc)
            ctl.error("unable to determine if snapshot has parent")
            raise CommandFailed() from None
        ctl.reset_error()
        return None


def _info(ctl: Ctl, dom: pyvirt.virDomain, snap: Any, name: str) -> dict[str, Any]:
    try:
        current = bool(snap.isCurrent(0))
    except pyvirt.libvirtError:
        ctl.reset_error()
        current = False
    info: dict[str, Any] = {"name": name, "domain": dom.name(), "current": current}
    root = _parse(snap.getXMLDesc(0))
    state = root.findtext("state")
    if not state:
        raise CommandError("unexpected problem reading snapshot xml")
    info["state"] = state
    if root.find("memory") is not None:
        external = root.find("memory[@snapshot='external']") is not None or \
            root.find("disks/disk[@snapshot='external']") is not None
    else:
        external = state == "disk-snapshot"
    info["location"] = "external" if external else "internal"
    info["parent"] = root.findtext("parent/name") or None
    return info


@command("snapshot-info", GROUP, "snapshot information",
         "Returns basic information about a snapshot.", [
             _DOMAIN,
             Opt("snapshotname", OptType.STRING, "snapshot name", completer="snapshot"),
             Opt("current", OptType.BOOL, "info on current snapshot"),
             _JSON,
         ])
def cmd_snapshot_info(ctl: Ctl, args: Args) -> bool:
    as_json = args.bool("json")
    dom = ctl.lookup_domain(args)
    snap, name = lookup_snapshot(ctl, args, "snapshotname", True, dom)
    if not as_json:
        ctl.print(f"{'Name:':<15} {name}")
        ctl.print(f"{'Domain:':<15} {dom.name()}")
    info = _info(ctl, dom, snap, name)
    lines = [("Current:", "yes" if info["current"] else "no"), ("State:", info["state"]),
             ("Location:", info["location"]), ("Parent:", info["parent"] or "-")]

    def flush() -> None:
        if not as_json:
            for key, value in lines:
                ctl.print(f"{key:<15} {value}")
        lines.clear()

    try:
        children = snap.numChildren(0)
    except pyvirt.libvirtError as exc:
        flush()
        if exc.get_error_code() == c.VIR_ERR_NO_SUPPORT:
            ctl.reset_error()
            return True
        raise
    info["children"] = children
    lines.append(("Children:", str(children)))
    try:
        info["descendants"] = snap.numChildren(c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS)
    except pyvirt.libvirtError:
        flush()
        raise
    lines.append(("Descendants:", str(info["descendants"])))
    try:
        metadata: int | None = snap.hasMetadata(0)
    except pyvirt.libvirtError:
        try:
            metadata = dom.snapshotNum(c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA)
        except pyvirt.libvirtError:
            metadata = None
        ctl.reset_error()
    if metadata is not None and metadata >= 0:
        info["metadata"] = bool(metadata)
        lines.append(("Metadata:", "yes" if metadata else "no"))
    flush()
    if as_json:
        ctl.json(info)
    return True


class _Snap:
    """One entry of virsh's snapshot list: the handle and, for trees, its parent's name."""

    __slots__ = ("snap", "name", "parent")

    def __init__(self, snap: Any, parent: str | None = None) -> None:
        self.snap = snap
        self.name: str = snap.getName()
        self.parent = parent


def collect_snapshots(ctl: Ctl, dom: pyvirt.virDomain, start: Any, flags: int,
                      tree: bool) -> list[_Snap]:
    """virshSnapshotListCollect (libvirt >= 1.0.1 path): listAllSnapshots / listAllChildren,
    parents for trees (with --from, the start snapshot joins as the only root), sorted by
    name unless --topological."""
    if start is not None:
        snaps = [_Snap(s) for s in start.listAllChildren(flags)]
    else:
        snaps = [_Snap(s) for s in dom.listAllSnapshots(flags)]
    if tree:
        for entry in snaps:
            entry.parent = snapshot_parent(ctl, entry.snap)
        if start is not None:
            snaps.append(_Snap(start))
    if not flags & c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL:
        snaps.sort(key=lambda s: s.name.lower())
    return snaps


def tree_print(ctl: Ctl, names: list[str], parents: list[str | None], root: int) -> None:
    """vshTreePrint: ``root`` and its descendants with virsh's "+- " and "|" drawing."""
    out: list[str] = []

    def walk(devid: int, lastdev: int, is_root: bool, indent: str) -> str:
        dev = names[devid]
        out.append(f"{indent}{'' if is_root else '+- '}{dev}")
        if not is_root:
            indent += (" " if devid == lastdev else "|") + " "
        kids = [i for i, p in enumerate(parents) if p is not None and p == dev]
        nextlast = kids[-1] if kids else -1
        if kids:
            out.append(f"{indent}  |")
        for kid in kids:
            walk(kid, nextlast, False, indent + "  ")
        if nextlast == -1 and devid == lastdev:
            out.append(indent)
        return indent

    walk(root, root, True, "")
    for line in out:
        ctl.print(line)


_LIST_FILTERS = (
    ("leaves", c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES),
    ("no-leaves", c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES),
    ("inactive", c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE),
    ("active", c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE),
    ("disk-only", c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY),
    ("internal", c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL),
    ("external", c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL),
)


def creation_text(seconds: int) -> str:
    """g_date_time_format(local time, "%Y-%m-%d %H:%M:%S %z")."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(seconds))


@command("snapshot-list", GROUP, "List snapshots for a domain", "Snapshot List", [
    _DOMAIN,
    Opt("parent", OptType.BOOL, "add a column showing parent snapshot"),
    Opt("roots", OptType.BOOL, "list only snapshots without parents"),
    Opt("leaves", OptType.BOOL, "list only snapshots without children"),
    Opt("no-leaves", OptType.BOOL, "list only snapshots that are not leaves (with children)"),
    Opt("metadata", OptType.BOOL,
        "list only snapshots that have metadata that would prevent undefine"),
    Opt("no-metadata", OptType.BOOL,
        "list only snapshots that have no metadata managed by libvirt"),
    Opt("inactive", OptType.BOOL, "filter by snapshots taken while inactive"),
    Opt("active", OptType.BOOL, "filter by snapshots taken while active (full system snapshots)"),
    Opt("disk-only", OptType.BOOL, "filter by disk-only snapshots"),
    Opt("internal", OptType.BOOL, "filter by internal snapshots"),
    Opt("external", OptType.BOOL, "filter by external snapshots"),
    Opt("tree", OptType.BOOL, "list snapshots in a tree"),
    Opt("from", OptType.STRING, "limit list to children of given snapshot",
        completer="snapshot"),
    Opt("current", OptType.BOOL, "limit list to children of current snapshot"),
    Opt("descendants", OptType.BOOL, "with --from, list all descendants"),
    Opt("name", OptType.BOOL, "list snapshot names only"),
    Opt("topological", OptType.BOOL, "sort list topologically rather than by name"),
    _JSON,
])
def cmd_snapshot_list(ctl: Ctl, args: Args) -> bool:
    tree, name_only = args.bool("tree"), args.bool("name")
    from_given, parent = args.has("from"), args.bool("parent")
    roots, current = args.bool("roots"), args.bool("current")
    as_json = args.bool("json")
    for one, two in (("tree", "name"), ("parent", "roots"), ("parent", "tree"),
                     ("roots", "tree"), ("roots", "from"), ("roots", "current")):
        ctl.exclusive(args, one, two)
    flags = 0
    for option, bit in _LIST_FILTERS:
        if args.bool(option):
            if tree:
                raise CommandError(f"--{option} and --tree are mutually exclusive")
            flags |= bit
    if args.bool("topological"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL
    if roots:
        flags |= c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS
    if args.bool("metadata"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA
    if args.bool("no-metadata"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA
    if args.bool("descendants"):
        if not from_given and not current:
            raise CommandError("--descendants requires either --from or --current")
        flags |= c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS
    dom = ctl.lookup_domain(args)
    start = None
    if from_given or current:
        start, _ = lookup_snapshot(ctl, args, "from", True, dom)
    snaps = collect_snapshots(ctl, dom, start, flags, tree)

    if tree and not as_json:
        names = [s.name for s in snaps]
        parents = [s.parent for s in snaps]
        for i, entry in enumerate(snaps):
            if entry.parent is None:
                tree_print(ctl, names, parents, i)
        return True

    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for entry in snaps:
        if name_only and not as_json:
            ctl.print(entry.name)
            continue
        try:
            root = _parse(entry.snap.getXMLDesc(0))
        except pyvirt.libvirtError:
            continue
        state = root.findtext("state")
        try:
            created = int(root.findtext("creationTime") or "")
        except ValueError:
            continue
        if not state:
            continue
        parent_name = root.findtext("parent/name") or None
        records.append({"name": entry.name, "creation_time": created, "state": state,
                        "parent": parent_name})
        row = [entry.name, creation_text(created), state]
        if parent:
            row.append(parent_name or "")
        rows.append(row)
    if as_json:
        ctl.json(records)
    elif not name_only:
        headers = ["Name", "Creation Time", "State"] + (["Parent"] if parent else [])
        ctl.print(ctl.table(headers, rows), end="")
    return True


@command("snapshot-parent", GROUP, "Get the name of the parent of a snapshot",
         "Extract the snapshot's parent, if any", [
             _DOMAIN,
             Opt("snapshotname", OptType.STRING, "find parent of snapshot name",
                 completer="snapshot"),
             Opt("current", OptType.BOOL, "find parent of current snapshot"),
         ])
def cmd_snapshot_parent(ctl: Ctl, args: Args) -> bool:
    dom = ctl.lookup_domain(args)
    snap, name = lookup_snapshot(ctl, args, "snapshotname", True, dom)
    parent = snapshot_parent(ctl, snap)
    if parent is None:
        ctl.error(f"snapshot '{name}' has no parent")
        return False
    ctl.print(parent, end="")
    return True


@command("snapshot-revert", GROUP, "Revert a domain to a snapshot", "Revert domain to snapshot", [
    _DOMAIN,
    Opt("snapshotname", OptType.STRING, "snapshot name", completer="snapshot"),
    Opt("current", OptType.BOOL, "revert to current snapshot"),
    Opt("running", OptType.BOOL, "after reverting, change state to running"),
    Opt("paused", OptType.BOOL, "after reverting, change state to paused"),
    Opt("force", OptType.BOOL, "try harder on risky reverts"),
    Opt("reset-nvram", OptType.BOOL, "re-initialize NVRAM from its pristine template"),
])
def cmd_snapshot_revert(ctl: Ctl, args: Args) -> bool:
    flags = 0
    if args.bool("running"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
    if args.bool("paused"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
    if args.bool("reset-nvram"):
        flags |= c.VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM
    dom = ctl.lookup_domain(args)
    snap, name = lookup_snapshot(ctl, args, "snapshotname", True, dom)
    try:
        try:
            dom.revertToSnapshot(snap, flags)
        except pyvirt.libvirtError as exc:
            # probe without --force first: older servers reject the flag
            if not (args.bool("force")
                    and exc.get_error_code() == c.VIR_ERR_SNAPSHOT_REVERT_RISKY):
                raise
            ctl.reset_error()
            dom.revertToSnapshot(snap, flags | c.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE)
    except pyvirt.libvirtError as exc:
        ctl.error(f"Failed to revert snapshot {name}")
        ctl.report_libvirt_error(exc)
        return False
    ctl.print_extra(f"Domain snapshot {name} reverted")
    return True
