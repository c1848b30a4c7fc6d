"""virsh's "Storage Pool" group (tools/virsh-pool.c): pool-* commands and
find-storage-pool-sources(-as).

``--json`` (our addition) on pool-list and pool-info prints stable keys:

- pool-list: a list of objects ``{"name", "uuid", "state", "autostart", "persistent",
  "capacity", "allocation", "available"}``; ``state`` is virsh's --details state word
  ("inactive", "building", "running", "degraded", "inaccessible"), ``autostart`` and
  ``persistent`` are booleans, sizes are integers in bytes (null unless the pool is running
  or degraded).
- pool-info: one object with the same keys.
"""

from __future__ import annotations

from pyvirt.errors import libvirtError
from pyvirt.virsh.ctl import BY_NAME, BY_UUID, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "pool"

# virStoragePoolState names as virsh prints them (virshStoragePoolState).
POOL_STATES = ("inactive", "building", "running", "degraded", "inaccessible")
_RUNNING, _DEGRADED = 2, 3

# virStoragePoolType names, in libvirt's order, with the pool-list --type filter flag bit
# (VIR_CONNECT_LIST_STORAGE_POOLS_DIR = 1 << 6, ...; iscsi-direct came later: 1 << 19).
POOL_TYPE_FLAGS: dict[str, int] = {
    "dir": 1 << 6, "fs": 1 << 7, "netfs": 1 << 8, "logical": 1 << 9, "disk": 1 << 10,
    "iscsi": 1 << 11, "iscsi-direct": 1 << 19, "scsi": 1 << 12, "mpath": 1 << 13,
    "rbd": 1 << 14, "sheepdog": 1 << 15, "gluster": 1 << 16, "zfs": 1 << 17,
    "vstorage": 1 << 18,
}
POOL_TYPES = tuple(POOL_TYPE_FLAGS)

# virConnectListAllStoragePools flags
_LIST_INACTIVE, _LIST_ACTIVE = 1 << 0, 1 << 1
_LIST_PERSISTENT, _LIST_TRANSIENT = 1 << 2, 1 << 3
_LIST_AUTOSTART, _LIST_NO_AUTOSTART = 1 << 4, 1 << 5

# virStoragePoolCreate / virStoragePoolCreateXML flags
_CREATE_WITH_BUILD = 1 << 0
_CREATE_WITH_BUILD_OVERWRITE = 1 << 1
_CREATE_WITH_BUILD_NO_OVERWRITE = 1 << 2
# virStoragePoolBuild flags
_BUILD_NO_OVERWRITE, _BUILD_OVERWRITE = 1 << 2, 1 << 3
_XML_INACTIVE = 1 << 0
_DEFINE_VALIDATE = 1 << 0



# ---- helpers shared with volume.py --------------------------------------------------------

def pretty_capacity(value: int) -> tuple[float, str]:
    """vshPrettyCapacity: a byte count in the largest binary unit below 1024 of it."""
    limit = 1024.0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < limit:
            return (value if unit == "B" else value / (limit / 1024)), unit
        limit *= 1024
    return value / (limit / 1024), "EiB"


def format_capacity(value: int) -> str:
    """virsh's "%.2lf %s" of a pretty capacity, e.g. "100.00 GiB"."""
    val, unit = pretty_capacity(value)
    return f"{val:.2f} {unit}"


def read_xml_file(ctl: Ctl, path: str) -> str:
    """virFileReadAll as virsh uses it (10 MiB cap): the file's text; on failure libvirt's
    system error is recorded (the framework prints it) and the command fails."""
    from pyvirt import constants as c
    from pyvirt.errors import make_error, report

    limit = 10 * 1024 * 1024
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        report(make_error(c.VIR_ERR_SYSTEM_ERROR,
                          f"Failed to open file '{path}': {exc.strerror}"))
        raise CommandFailed() from None
    if len(data) > limit:
        report(make_error(c.VIR_ERR_INTERNAL_ERROR, f"File '{path}' is too large"))
        raise CommandFailed()
    return data.decode("utf-8", errors="replace")


def dump_xml(ctl: Ctl, xml: str, xpath: str | None, wrap: bool) -> bool:
    """virshDumpXML: the document, or the nodes an XPath expression selects (optionally
    wrapped in <nodes>), each printed as libxml2's virXMLNodeToString does."""
    if xpath is None:
        ctl.print(xml, end="")
        return True
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                             load_dtd=False)
    root = etree.fromstring(xml.encode(), parser)
    try:
        found = root.xpath(xpath)
    except etree.XPathError:
        # libxml2 complains on stderr itself; virsh then carries on with no nodes
        ctl.out.flush()
        ctl.err.write("XPath error : Invalid expression\n")
        ctl.err.flush()
        return True
    if not isinstance(found, list):
        ctl.error(f"internal error: Incorrect xpath '{xpath}'")
        return False
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


def _node_text(node: Any) -> str:
    from lxml import etree

    if isinstance(node, etree._Element):
        text = etree.tostring(_detached(node), pretty_print=True, encoding="unicode")
        return text.rstrip("\n")
    if getattr(node, "is_attribute", False):
        value = str(node).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        return f' {node.attrname}="{value}"'
    return str(node)


def _detached(node: Any) -> Any:
    import copy

    dup = copy.deepcopy(node)
    dup.tail = None
    return dup


# ---- option tables ---------------------------------------------------------------------------

def _pool_opt(completer: str = "pool") -> Opt:
    return Opt("pool", OptType.DATA, "pool name or uuid", required=True, completer=completer)


_BUILD = Opt("build", OptType.BOOL, "build the pool as normal")
_NO_OVERWRITE = Opt("no-overwrite", OptType.BOOL, "do not overwrite any existing data")
_OVERWRITE = Opt("overwrite", OptType.BOOL, "overwrite any existing data")
_FILE = Opt("file", OptType.DATA, "file containing an XML pool description", required=True)
_JSON = Opt("json", OptType.BOOL, "print JSON")

_X_AS = (
    Opt("name", OptType.DATA, "name of the pool", required=True),
    Opt("type", OptType.DATA, "type of the pool", required=True),
    Opt("print-xml", OptType.BOOL, "print XML document, but don't define/create"),
    Opt("source-host", OptType.STRING, "source-host for underlying storage"),
    Opt("source-path", OptType.STRING, "source path for underlying storage"),
    Opt("source-dev", OptType.STRING, "source device for underlying storage"),
    Opt("source-name", OptType.STRING, "source name for underlying storage"),
    Opt("target", OptType.STRING, "target for underlying storage"),
    Opt("source-format", OptType.STRING, "format for underlying storage"),
    Opt("auth-type", OptType.STRING, "auth type to be used for underlying storage"),
    Opt("auth-username", OptType.STRING, "auth username to be used for underlying storage"),
    Opt("secret-usage", OptType.STRING,
        "auth secret usage to be used for underlying storage"),
    Opt("secret-uuid", OptType.STRING, "auth secret UUID to be used for underlying storage"),
    Opt("adapter-name", OptType.STRING, "adapter name to be used for underlying storage"),
    Opt("adapter-wwnn", OptType.STRING, "adapter wwnn to be used for underlying storage"),
    Opt("adapter-wwpn", OptType.STRING, "adapter wwpn to be used for underlying storage"),
    Opt("adapter-parent", OptType.STRING,
        "adapter parent scsi_hostN to be used for underlying vHBA storage"),
    Opt("adapter-parent-wwnn", OptType.STRING,
        "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage"),
    Opt("adapter-parent-wwpn", OptType.STRING,
        "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage"),
    Opt("adapter-parent-fabric-wwn", OptType.STRING,
        "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage"),
    Opt("source-protocol-ver", OptType.STRING, "nfsvers value for NFS pool mount option"),
    Opt("source-initiator", OptType.STRING, "initiator iqn for underlying storage"),
)


def _create_flags(ctl: Ctl, args: Args) -> int:
    ctl.exclusive(args, "overwrite", "no-overwrite")
    flags = 0
    if args.bool("build"):
        flags |= _CREATE_WITH_BUILD
    if args.bool("overwrite"):
        flags |= _CREATE_WITH_BUILD_OVERWRITE
    if args.bool("no-overwrite"):
        flags |= _CREATE_WITH_BUILD_NO_OVERWRITE
    return flags


def build_pool_xml(ctl: Ctl, args: Args) -> tuple[str, str]:
    """virshBuildPoolXML: the <pool> document pool-define-as/pool-create-as describe.

    The XML is built as an element tree in virsh's element order and printed with
    virsh's two-space indentation; values are not validated here (the driver does that).
    """
    from lxml import etree

    from pyvirt.conf import xmlutil as x

    ctl.exclusive(args, "secret-usage", "secret-uuid")
    name = args.string("name") or ""
    ptype = args.string("type") or ""
    opt = {o.name: args.string(o.name) for o in _X_AS if o.type is OptType.STRING}

    root = etree.Element("pool", type=ptype)
    etree.SubElement(root, "name").text = name
    wwnn, wwpn = opt["adapter-wwnn"], opt["adapter-wwpn"]
    if (opt["source-host"] or opt["source-path"] or opt["source-dev"]
            or opt["source-initiator"] or opt["source-format"] or opt["source-name"]
            or (wwnn and wwpn) or opt["adapter-name"]):
        src = etree.SubElement(root, "source")
        if opt["source-host"]:
            etree.SubElement(src, "host", name=opt["source-host"])
        if opt["source-path"]:
            etree.SubElement(src, "dir", path=opt["source-path"])
        if opt["source-dev"]:
            etree.SubElement(src, "device", path=opt["source-dev"])
        if opt["source-initiator"]:
            init = etree.SubElement(src, "initiator")
            etree.SubElement(init, "iqn", name=opt["source-initiator"])
        if wwnn and wwpn:
            adapter = etree.SubElement(src, "adapter", type="fc_host")
            if opt["adapter-parent"]:
                adapter.set("parent", opt["adapter-parent"])
            elif opt["adapter-parent-wwnn"] and opt["adapter-parent-wwpn"]:
                adapter.set("parent_wwnn", opt["adapter-parent-wwnn"])
                adapter.set("parent_wwpn", opt["adapter-parent-wwpn"])
            elif opt["adapter-parent-fabric-wwn"]:
                adapter.set("parent_fabric_wwn", opt["adapter-parent-fabric-wwn"])
            adapter.set("wwnn", wwnn)
            adapter.set("wwpn", wwpn)
        elif opt["adapter-name"]:
            etree.SubElement(src, "adapter", type="scsi_host", name=opt["adapter-name"])
        if (opt["auth-type"] and opt["auth-username"]
                and (opt["secret-usage"] or opt["secret-uuid"])):
            auth = etree.SubElement(src, "auth", type=opt["auth-type"],
                                    username=opt["auth-username"])
            if opt["secret-usage"]:
                etree.SubElement(auth, "secret", usage=opt["secret-usage"])
            else:
                etree.SubElement(auth, "secret", uuid=opt["secret-uuid"] or "")
        if opt["source-format"]:
            etree.SubElement(src, "format", type=opt["source-format"])
        if opt["source-name"]:
            etree.SubElement(src, "name").text = opt["source-name"]
        if opt["source-protocol-ver"]:
            etree.SubElement(src, "protocol", ver=opt["source-protocol-ver"])
    if opt["target"]:
        target = etree.SubElement(root, "target")
        etree.SubElement(target, "path").text = opt["target"]
    return name, x.to_string(root)


# ---- commands, in virsh's table order ----------------------------------------------------------

@command("find-storage-pool-sources-as", GROUP, "find potential storage pool sources",
         "Returns XML <sources> document.", (
             Opt("type", OptType.DATA, "type of storage pool sources to find", required=True),
             Opt("host", OptType.STRING, "optional host to query"),
             Opt("port", OptType.STRING, "optional port to query"),
             Opt("initiator", OptType.STRING, "optional initiator IQN to use for query"),
         ))
def cmd_find_sources_as(ctl: Ctl, args: Args) -> bool:
    ptype = args.string("type") or ""
    host = args.string("host")
    initiator = args.string("initiator")
    spec: str | None = None
    if host:
        from lxml import etree

        from pyvirt.conf import xmlutil as x

        source = etree.Element("source")
        host_el = etree.SubElement(source, "host", name=host)
        port = args.string("port")
        if port:
            host_el.set("port", port)
        if initiator:
            init = etree.SubElement(source, "initiator")
            etree.SubElement(init, "iqn", name=initiator)
        spec = x.to_string(source)
    return _find_sources(ctl, ptype, spec)


def _find_sources(ctl: Ctl, ptype: str, spec: str | None) -> bool:

    try:
        sources = ctl.conn.findStoragePoolSources(ptype, spec, 0)
    except libvirtError:
        ctl.error(f"Failed to find any {ptype} pool sources")
        raise
    ctl.print(sources, end="")
    return True


@command("find-storage-pool-sources", GROUP, "discover potential storage pool sources",
         "Returns XML <sources> document.", (
             Opt("type", OptType.DATA, "type of storage pool sources to discover",
                 required=True),
             Opt("srcSpec", OptType.STRING, "optional file of source xml to query for pools"),
         ))
def cmd_find_sources(ctl: Ctl, args: Args) -> bool:
    ptype = args.string("type") or ""
    spec_file = args.string("srcSpec")
    spec = read_xml_file(ctl, spec_file) if spec_file else None
    return _find_sources(ctl, ptype, spec)


@command("pool-autostart", GROUP, "autostart a pool",
         "Configure a pool to be automatically started at boot.", (
             _pool_opt("pool_persistent"),
             Opt("disable", OptType.BOOL, "disable autostarting"),
         ))
def cmd_pool_autostart(ctl: Ctl, args: Args) -> bool:

    pool = ctl.lookup_pool(args)
    name = args.string("pool")
    autostart = not args.bool("disable")
    try:
        pool.setAutostart(1 if autostart else 0)
    except libvirtError:
        ctl.error(f"failed to {'' if autostart else 'un'}mark pool {name} as autostarted")
        raise
    ctl.print_extra(f"Pool {name} {'' if autostart else 'un'}marked as autostarted")
    return True


@command("pool-build", GROUP, "build a pool", "Build a given pool.", (
    _pool_opt(), _NO_OVERWRITE, _OVERWRITE,
))
def cmd_pool_build(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    flags = 0
    if args.bool("no-overwrite"):
        flags |= _BUILD_NO_OVERWRITE
    if args.bool("overwrite"):
        flags |= _BUILD_OVERWRITE
    return _simple(ctl, args, lambda: pool.build(flags), "Pool {} built",
                   "Failed to build pool {}")


def _simple(ctl: Ctl, args: Args, call: Any, done: str, failed: str) -> bool:
    """Run ``call``; print virsh's success line or its failure line then the libvirt error."""

    name = args.string("pool")
    try:
        call()
    except libvirtError:
        ctl.error(failed.format(name))
        raise
    ctl.print_extra(done.format(name))
    return True


@command("pool-create-as", GROUP, "create a pool from a set of args", "Create a pool.", (
    *_X_AS, _BUILD, _NO_OVERWRITE, _OVERWRITE,
))
def cmd_pool_create_as(ctl: Ctl, args: Args) -> bool:

    flags = _create_flags(ctl, args)
    name, xml = build_pool_xml(ctl, args)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        ctl.conn.storagePoolCreateXML(xml, flags)
    except libvirtError:
        ctl.error(f"Failed to create pool {name}")
        raise
    ctl.print_extra(f"Pool {name} created")
    return True


@command("pool-create", GROUP, "create a pool from an XML file", "Create a pool.", (
    _FILE, _BUILD, _NO_OVERWRITE, _OVERWRITE,
))
def cmd_pool_create(ctl: Ctl, args: Args) -> bool:

    path = args.string("file") or ""
    flags = _create_flags(ctl, args)
    xml = read_xml_file(ctl, path)
    try:
        pool = ctl.conn.storagePoolCreateXML(xml, flags)
    except libvirtError:
        ctl.error(f"Failed to create pool from {path}")
        raise
    ctl.print_extra(f"Pool {pool.name()} created from {path}")
    return True


@command("pool-define-as", GROUP, "define a pool from a set of args", "Define a pool.", _X_AS)
def cmd_pool_define_as(ctl: Ctl, args: Args) -> bool:

    name, xml = build_pool_xml(ctl, args)
    if args.bool("print-xml"):
        ctl.print(xml, end="")
        return True
    try:
        ctl.conn.storagePoolDefineXML(xml, 0)
    except libvirtError:
        ctl.error(f"Failed to define pool {name}")
        raise
    ctl.print_extra(f"Pool {name} defined")
    return True


@command("pool-define", GROUP,
         "define an inactive persistent storage pool or modify an existing persistent one "
         "from an XML file", "Define or modify a persistent storage pool.", (
             _FILE,
             Opt("validate", OptType.BOOL, "validate the XML against the schema"),
         ))
def cmd_pool_define(ctl: Ctl, args: Args) -> bool:

    path = args.string("file") or ""
    flags = _DEFINE_VALIDATE if args.bool("validate") else 0
    xml = read_xml_file(ctl, path)
    try:
        pool = ctl.conn.storagePoolDefineXML(xml, flags)
    except libvirtError:
        ctl.error(f"Failed to define pool from {path}")
        raise
    ctl.print_extra(f"Pool {pool.name()} defined from {path}")
    return True


@command("pool-delete", GROUP, "delete a pool", "Delete a given pool.", (
    _pool_opt("pool_inactive"),
))
def cmd_pool_delete(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    return _simple(ctl, args, lambda: pool.delete(0), "Pool {} deleted",
                   "Failed to delete pool {}")


@command("pool-destroy", GROUP, "destroy (stop) a pool",
         "Forcefully stop a given pool. Raw data in the pool is untouched", (
             _pool_opt("pool_active"),
         ))
def cmd_pool_destroy(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    return _simple(ctl, args, pool.destroy, "Pool {} destroyed", "Failed to destroy pool {}")


@command("pool-dumpxml", GROUP, "pool information in XML",
         "Output the pool information as an XML dump to stdout.", (
             _pool_opt(),
             Opt("inactive", OptType.BOOL, "show inactive defined XML"),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ))
def cmd_pool_dumpxml(ctl: Ctl, args: Args) -> bool:
    flags = _XML_INACTIVE if args.bool("inactive") else 0
    pool = ctl.lookup_pool(args)
    xml = pool.XMLDesc(flags)
    return dump_xml(ctl, xml, args.string("xpath"), args.bool("wrap"))


@command("pool-edit", GROUP, "edit XML configuration for a storage pool",
         "Edit the XML configuration for a storage pool.", (_pool_opt(),))
def cmd_pool_edit(ctl: Ctl, args: Args) -> bool:

    pool = ctl.lookup_pool(args)
    flags = _XML_INACTIVE
    try:
        pool.XMLDesc(flags)
    except libvirtError as exc:
        # old daemons refuse the flag; virsh retries without it
        if exc.get_error_code() != 8:  # VIR_ERR_INVALID_ARG
            raise
        flags = 0
    edited = edit_xml(
        ctl,
        get_xml=lambda: pool.XMLDesc(flags),
        define=lambda doc: ctl.conn.storagePoolDefineXML(doc, 0),
    )
    if edited is None:
        return False
    if edited is _NOT_CHANGED:
        ctl.print_extra(f"Pool {pool.name()} XML configuration not changed.")
    else:
        # virsh prints a NULL name as "(null)" when the redefinition failed off a terminal
        name = edited.name() if edited is not _FAILED else "(null)"
        ctl.print_extra(f"Pool {name} XML configuration edited.")
    return True


_NOT_CHANGED = object()
_FAILED = object()
# $EDITOR characters virsh runs without a shell (vsh.c's ACCEPTED_CHARS)
_EDITOR_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.:@")


def edit_xml(ctl: Ctl, get_xml: Any, define: Any) -> Any:
    """virsh-edit.c: write the XML to a temporary file, run $VISUAL/$EDITOR on it, and
    redefine the object from the result unless unchanged.

    Returns the new object, ``_NOT_CHANGED``, ``_FAILED`` (redefinition failed and no
    terminal to ask on: virsh reports "Failed." and still succeeds) or None on error.
    """
    import os
    import sys
    import tempfile

    doc = get_xml()
    tmpdir = os.environ.get("TMPDIR") or "/tmp"
    try:
        fd, tmp = tempfile.mkstemp(prefix="virsh", suffix=".xml", dir=tmpdir)
    except OSError as exc:
        ctl.error(f"g_mkstemp_full: failed to create temporary file: {exc.strerror}")
        return None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(doc)
        while True:
            if not _run_editor(ctl, tmp):
                return None
            try:
                with open(tmp, encoding="utf-8") as fh:
                    edited = fh.read()
            except OSError as exc:
                ctl.error(f"{tmp}: failed to read temporary file: {exc.strerror}")
                return None
            if edited == doc:
                return _NOT_CHANGED
            while True:
                msg = None
                reread = get_xml()
                result = None
                if reread != doc:
                    msg = "The XML configuration was changed by another user."
                    doc = reread
                else:
                    try:
                        result = define(edited)
                    except libvirtError:
                        msg = "Failed."
                if msg is None:
                    return result
                answer = _ask_reedit(ctl, msg) if sys.stdin.isatty() else -1
                if answer == "y":
                    break
                if answer == "f":
                    continue
                if answer == "n":
                    return None
                ctl.error(msg)
                return _FAILED
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _run_editor(ctl: Ctl, path: str) -> bool:
    """vshEditFile: run the editor on ``path``; a failure is reported as libvirt does."""
    import os
    import shlex
    import subprocess

    from pyvirt import constants as c
    from pyvirt.errors import make_error, report

    # set-but-empty counts, as with getenv()
    editor = os.environ.get("VISUAL")
    if editor is None:
        editor = os.environ.get("EDITOR", "sensible-editor")
    if set(editor) <= _EDITOR_SAFE:
        argv = [editor, path]
    else:
        if not set(path) <= _EDITOR_SAFE:
            ctl.error(f"{path}: temporary filename contains shell meta or other "
                      "unacceptable characters (is $TMPDIR wrong?)")
            return False
        argv = ["sh", "-c", f"{editor} {path}"]
    shown = " ".join(a if set(a) <= _EDITOR_SAFE else shlex.quote(a) for a in argv)
    try:
        status = subprocess.call(argv)
    except OSError as exc:
        report(make_error(c.VIR_ERR_SYSTEM_ERROR,
                          f"Cannot find '{argv[0]}' in path: {exc.strerror}"))
        ctl.report_libvirt_error()
        return False
    if status != 0:
        detail = (f"Child process ({shown}) unexpected exit status {status}" if status > 0
                  else f"Child process ({shown}) unexpected fatal signal {-status}")
        report(make_error(c.VIR_ERR_INTERNAL_ERROR, detail))
        ctl.report_libvirt_error()
        return False
    return True


def _ask_reedit(ctl: Ctl, msg: str) -> str:
    """vshAskReedit on a terminal: y (edit again), n (give up), f (force redefine)."""
    import sys
    import termios
    import tty

    ctl.report_libvirt_error()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        while True:
            ctl.print(f"\r{msg} Try again? [y,n,f,?]: ", end="")
            ctl.out.flush()
            answer = sys.stdin.read(1).lower()
            if answer == "?":
                for line in ("", "y - yes, start editor again",
                             "n - no, throw away my changes",
                             "f - force, try to redefine again", "? - print this help"):
                    ctl.print(line, end="\r\n")
                continue
            if answer in ("y", "n", "f"):
                break
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    ctl.print("\r")
    return answer


def _info_record(pool: Any) -> dict[str, Any]:
    state, capacity, allocation, available = pool.info()
    sized = state in (_RUNNING, _DEGRADED)
    return {
        "name": pool.name(),
        "uuid": pool.UUIDString(),
        "state": _state_name(state),
        "persistent": bool(pool.isPersistent()),
        "autostart": bool(pool.autostart()),
        "capacity": capacity if sized else None,
        "allocation": allocation if sized else None,
        "available": available if sized else None,
    }


def _state_name(state: int) -> str:
    return POOL_STATES[state] if 0 <= state < len(POOL_STATES) else "unknown"


@command("pool-info", GROUP, "storage pool information",
         "Returns basic information about the storage pool.", (
             _pool_opt(),
             Opt("bytes", OptType.BOOL, "Return pool info in bytes"),
             _JSON,
         ))
def cmd_pool_info(ctl: Ctl, args: Args) -> bool:

    pool = ctl.lookup_pool(args)
    if args.bool("json"):
        ctl.json(_info_record(pool))
        return True
    ctl.print(f"{'Name:':<15} {pool.name()}")
    ctl.print(f"{'UUID:':<15} {pool.UUIDString()}")
    state, capacity, allocation, available = pool.info()
    ctl.print(f"{'State:':<15} {_state_name(state)}")
    try:
        persistent = "yes" if pool.isPersistent() else "no"
    except libvirtError:
        persistent = "unknown"
    ctl.print(f"{'Persistent:':<15} {persistent}")
    try:
        autostart = "yes" if pool.autostart() else "no"
    except libvirtError:
        autostart = "no autostart"
    ctl.print(f"{'Autostart:':<15} {autostart}")
    if state in (_RUNNING, _DEGRADED):
        for key, value in (("Capacity:", capacity), ("Allocation:", allocation),
                           ("Available:", available)):
            shown = str(value) if args.bool("bytes") else format_capacity(value)
            ctl.print(f"{key:<15} {shown}")
    return True


def _sort_key(obj: Any) -> bytes:
    # vshStrcasecmp is g_ascii_strcasecmp: only ASCII letters fold
    return str(obj.name()).encode("utf-8").lower()


@command("pool-list", GROUP, "list pools", "Returns list of pools.", (
    Opt("inactive", OptType.BOOL, "list inactive pools"),
    Opt("all", OptType.BOOL, "list inactive & active pools"),
    Opt("transient", OptType.BOOL, "list transient pools"),
    Opt("persistent", OptType.BOOL, "list persistent pools"),
    Opt("autostart", OptType.BOOL, "list pools with autostart enabled"),
    Opt("no-autostart", OptType.BOOL, "list pools with autostart disabled"),
    Opt("type", OptType.STRING, "only list pool of specified type(s) (if supported)"),
    Opt("details", OptType.BOOL, "display extended details for pools"),
    Opt("uuid", OptType.BOOL, "list UUID of active pools only"),
    Opt("name", OptType.BOOL, "list name of active pools only"),
    _JSON,
))
def cmd_pool_list(ctl: Ctl, args: Args) -> bool:

    details = args.bool("details")
    ctl.exclusive(args, "all", "inactive")
    flags = _LIST_ACTIVE
    if args.bool("inactive"):
        flags = _LIST_INACTIVE
    if args.bool("all"):
        flags = _LIST_ACTIVE | _LIST_INACTIVE
    for opt, bit in (("autostart", _LIST_AUTOSTART), ("no-autostart", _LIST_NO_AUTOSTART),
                     ("persistent", _LIST_PERSISTENT), ("transient", _LIST_TRANSIENT)):
        if args.bool(opt):
            flags |= bit
    want_uuid, want_name = args.bool("uuid"), args.bool("name")
    types = args.string("type")
    ctl.exclusive(args, "details", "uuid")
    ctl.exclusive(args, "details", "name")
    if types is not None:
        for ptype in _split_list(types):
            if ptype not in POOL_TYPE_FLAGS:
                ctl.error(f"Invalid pool type '{ptype}'")
                return False
            flags |= POOL_TYPE_FLAGS[ptype]
    try:
        pools = sorted(ctl.conn.listAllStoragePools(flags), key=_sort_key)
    except libvirtError:
        ctl.error("Failed to list pools")
        raise

    if args.bool("json"):
        ctl.json([_info_record(pool) for pool in pools])
        return True

    rows: list[list[str]] = []
    for pool in pools:
        try:
            autostart = "yes" if pool.autostart() else "no"
        except libvirtError:
            autostart = "no autostart"
        persistent = ""
        if details:
            try:
                persistent = "yes" if pool.isPersistent() else "no"
            except libvirtError:
                persistent = "unknown"
        try:
            state, capacity, allocation, available = pool.info()
        except libvirtError:
            ctl.error("Could not retrieve pool information")
            rows.append([pool.name(), "unknown", autostart, persistent,
                         "unknown", "unknown", "unknown"])
            continue
        if not details:
            rows.append([pool.name(), "active" if pool.isActive() else "inactive", autostart])
        elif state in (_RUNNING, _DEGRADED):
            rows.append([pool.name(), _state_name(state), autostart, persistent,
                         format_capacity(capacity), format_capacity(allocation),
                         format_capacity(available)])
        else:
            rows.append([pool.name(), _state_name(state), autostart, persistent,
                         "-", "-", "-"])

    if not details:
        if want_uuid or want_name:
            for pool in pools:
                if want_uuid:
                    ctl.print(f"{pool.UUIDString():<36}", end=" " if want_name else "\n")
                if want_name:
                    ctl.print(f"{pool.name():<20}")
            return True
        _print_table(ctl, ["Name", "State", "Autostart"], [r[:3] for r in rows])
        return True
    _print_table(ctl, ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation",
                       "Available"], rows)
    return True


def _print_table(ctl: Ctl, headers: list[str], rows: list[list[str]]) -> None:
    ctl.print(ctl.table(headers, rows), end="")


def _split_list(text: str) -> list[str]:
    """vshStringToArray: split on ',' where ',,' is an escaped comma."""
    items: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if i + 1 < len(text) and text[i + 1] == ",":
                current += ","
                i += 2
                continue
            items.append(current)
            current = ""
        else:
            current += ch
        i += 1
    items.append(current)
    return items


@command("pool-name", GROUP, "convert a pool UUID to pool name", "", (_pool_opt(),))
def cmd_pool_name(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args, by=BY_UUID)
    ctl.print(pool.name())
    return True


@command("pool-refresh", GROUP, "refresh a pool", "Refresh a given pool.", (
    _pool_opt("pool_active"),
))
def cmd_pool_refresh(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    return _simple(ctl, args, lambda: pool.refresh(0), "Pool {} refreshed",
                   "Failed to refresh pool {}")


@command("pool-start", GROUP, "start a (previously defined) inactive pool", "Start a pool.", (
    _pool_opt("pool_inactive"), _BUILD, _NO_OVERWRITE, _OVERWRITE,
))
def cmd_pool_start(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    flags = _create_flags(ctl, args)
    return _simple(ctl, args, lambda: pool.create(flags), "Pool {} started",
                   "Failed to start pool {}")


@command("pool-undefine", GROUP, "undefine an inactive pool",
         "Undefine the configuration for an inactive pool.", (
             _pool_opt("pool_persistent"),
         ))
def cmd_pool_undefine(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args)
    return _simple(ctl, args, pool.undefine, "Pool {} has been undefined",
                   "Failed to undefine pool {}")


@command("pool-uuid", GROUP, "convert a pool name to pool UUID", "", (_pool_opt(),))
def cmd_pool_uuid(ctl: Ctl, args: Args) -> bool:
    pool = ctl.lookup_pool(args, by=BY_NAME)
    ctl.print(pool.UUIDString())
    return True


# ---- pool-event ------------------------------------------------------------------------------

POOL_EVENT_NAMES = ("lifecycle", "refresh")
_LIFECYCLE_WORDS = ("Defined", "Undefined", "Started", "Stopped", "Created", "Deleted")


@command("pool-event", GROUP, "Storage Pool Events",
         "List event types, or wait for storage pool events to occur", (
             Opt("pool", OptType.STRING, "filter by storage pool name or uuid",
                 completer="pool"),
             Opt("event", OptType.STRING, "which event type to wait for"),
             Opt("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
             Opt("timeout", OptType.INT, "timeout seconds"),
             Opt("list", OptType.BOOL, "list valid event types"),
             Opt("timestamp", OptType.BOOL, "show timestamp for each printed event"),
         ))
def cmd_pool_event(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.events import (
        EventPrinter,
        chosen_event,
        event_timeout_ms,
        watch_events,
    )

    event_name = chosen_event(ctl, args, POOL_EVENT_NAMES)
    if event_name is None:
        return True
    timeout = event_timeout_ms(args)
    printer = EventPrinter(ctl, args.bool("loop"), args.bool("timestamp"))
    pool = None
    saved = None
    if args.has("pool"):
        try:
            pool = ctl.lookup_pool(args)
        except CommandFailed:
            # virsh watches every pool then and reports the lookup error at the end
            from pyvirt.errors import last_error

            saved = last_error()

    def callback(conn: Any, pool: Any, *rest: Any) -> None:
        printer.emit(_pool_event_text(event_name, pool, rest[:-1]) + "\n")

    conn = ctl.conn
    ok = watch_events(ctl, printer, timeout,
                      lambda: conn.storagePoolEventRegisterAny(
                          pool, POOL_EVENT_NAMES.index(event_name), callback, None),
                      conn.storagePoolEventDeregisterAny)
    if not ok and saved is not None:
        # the earlier lookup failure is what virsh reports after the count
        from pyvirt.errors import make_error, report

        report(make_error(saved[0], message=saved[2], domain=saved[1]))
    return ok


def _pool_event_text(event_name: str, pool: Any, rest: tuple[Any, ...]) -> str:
    if event_name == "lifecycle":
        event = rest[0]
        word = _LIFECYCLE_WORDS[event] if 0 <= event < len(_LIFECYCLE_WORDS) else "unknown"
        return f"event 'lifecycle' for storage pool {pool.name()}: {word}"
    return f"event '{event_name}' for storage pool {pool.name()}"


@command("pool-capabilities", GROUP, "storage pool capabilities",
         "Returns capabilities of storage pool support.")
def cmd_pool_capabilities(ctl: Ctl, args: Args) -> bool:

    try:
        caps = ctl.conn.getStoragePoolCapabilities(0)
    except libvirtError:
        ctl.error("failed to get storage pool capabilities")
        raise
    ctl.print(caps)
    return True
