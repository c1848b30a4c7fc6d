"""Domain snapshot XML (<domainsnapshot>), after libvirt's snapshot_conf.c and moment_conf.c.

Parse semantics follow virDomainSnapshotDefParseString's flags: without ``redefine`` only
name, description, memory and disks are read from the caller's XML and the creation time
(and the name, when absent) come from the clock; with ``redefine`` the saved fields
(creationTime, state, parent, domain, inactiveDomain) are read back as well.

The embedded <domain> is a ``pyvirt.conf.domain.DomainDef`` when that model is importable;
otherwise (and for libvirt's old uuid-only <domain>) it is kept as a ``RawDomain``.
"""

from __future__ import annotations

import copy as _copy
import time
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# virDomainSnapshotState: virDomainState plus "disk-snapshot".
SNAPSHOT_STATES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed",
                   "pmsuspended", "disk-snapshot")
LOCATIONS = ("default", "no", "internal", "external", "manual")
STORAGE_TYPES = ("none", "file", "block", "dir", "network", "volume", "nvme", "vhostuser")
FILE_FORMATS = ("none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
                "ploop", "cow", "qcow", "qcow2", "qed", "vmdk")


def xpath_string(parent: Element, path: str) -> str | None:
    """libvirt's virXPathString: the text, or None when absent or empty."""
    text = x.text_of(parent, path)
    return text if text else None


def clean_copy(node: Element) -> Element:
    """A deep copy without inter-element whitespace, for re-printing an element verbatim."""
    dup = _copy.deepcopy(node)
    for el in dup.iter():
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None:
            el.tail = None
    return dup


@dataclass
class RawDomain:
    """A <domain> kept as XML: libvirt's old uuid-only form, or any domain while the
    domain model is not available."""

    element: Element

    @property
    def name(self) -> str | None:
        return xpath_string(self.element, "name")

    @property
    def uuid(self) -> str | None:
        text = xpath_string(self.element, "uuid")
        return x.parse_uuid(text) if text else None

    def to_element(self, inactive: bool = False, secure: bool = False) -> Element:
        return clean_copy(self.element)

    def copy(self) -> RawDomain:
        return RawDomain(_copy.deepcopy(self.element))


def parse_domain(node: Element) -> Any:
    """An embedded <domain>/<inactiveDomain> as a DomainDef (inactive, as libvirt parses it),
    or a RawDomain when the domain model is not importable."""
    try:
        from pyvirt.conf.domain import DomainDef  # type: ignore[attr-defined]
    except ImportError:
        return RawDomain(clean_copy(node))
    if node.tag != "domain":
        node = clean_copy(node)
        node.tag = "domain"
    return DomainDef.from_element(node, inactive=True)


def format_domain(dom: Any, secure: bool, root_name: str = "domain") -> Element:
    el = dom.to_element(inactive=True, secure=secure)
    if root_name != "domain":
        el.tag = root_name
    return el


def _enum(node: Element, attr: str, values: tuple[str, ...], default: str,
          nonzero: bool = True) -> str:
    """virXMLPropEnumDefault with VIR_XML_PROP_NONZERO: the first value is not accepted."""
    value = node.get(attr)
    if value is None:
        return default
    if value not in values or (nonzero and value == values[0]):
        raise_error(c.VIR_ERR_XML_ERROR,
                    f"Invalid value for attribute '{attr}' in element '{x.local_name(node)}': "
                    f"'{value}'.", domain=c.VIR_FROM_XML)
    return value


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_DOMAIN_SNAPSHOT)


@dataclass
class SnapshotDiskDef:
    name: str
    snapshot: str = "default"  # default | no | internal | external | manual
    type: str = "file"  # storage type of the new image
    driver_type: str | None = None  # image format, e.g. qcow2
    metadata_cache_max_size: int | None = None  # bytes
    source: Element | None = None  # <source>, kept as XML (it is the domain's disk source)
    delete_in_progress: bool = False

    @property
    def path(self) -> str | None:
        if self.source is None:
            return None
        return self.source.get("file") or self.source.get("dev") or self.source.get("name")

    @path.setter
    def path(self, value: str | None) -> None:
        if value is None:
            self.source = None
            return
        self.source = x.element("source")
        self.source.set("dev" if self.type == "block" else "file", value)

    @classmethod
    def from_element(cls, node: Element, redefine: bool) -> SnapshotDiskDef:
        name = node.get("name")
        if name is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, "missing name from disk snapshot element")
        disk = cls(name=name or "")
        disk.snapshot = _enum(node, "snapshot", LOCATIONS, "default")
        disk.type = _enum(node, "type", STORAGE_TYPES, "file")
        if disk.type in ("volume", "dir"):
            _err(c.VIR_ERR_XML_ERROR, f"unsupported disk snapshot type '{disk.type}'")
        if redefine:
            disk.delete_in_progress = node.find("snapshotDeleteInProgress") is not None
        source = node.find("source")
        if source is not None and (len(source) or source.attrib):
            disk.source = clean_copy(source)
        driver = node.find("driver")
        dtype = driver.get("type") if driver is not None else None
        if dtype:
            if dtype not in FILE_FORMATS or dtype == "none":
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown disk snapshot driver '{dtype}'")
            disk.driver_type = dtype
        max_size = node.find("driver/metadata_cache/max_size")
        if max_size is not None:
            disk.metadata_cache_max_size = x.scale((max_size.text or "").strip(),
                                                   max_size.get("unit"), "B",
                                                   "metadata_cache max_size")
        path = disk.path
        if disk.type in ("file", "block") and path and not path.startswith("/"):
            _err(c.VIR_ERR_XML_ERROR, f"disk snapshot image path '{path}' must be absolute")
        if disk.snapshot == "default" and (path or disk.driver_type):
            disk.snapshot = "external"
        return disk

    def to_element(self) -> Element:
        node = x.element("disk", name=self.name,
                         snapshot=self.snapshot if self.snapshot != "default" else None)
        if self.delete_in_progress:
            x.sub(node, "snapshotDeleteInProgress")
        if self.path or self.driver_type:
            node.set("type", self.type)
            driver = x.element("driver", type=self.driver_type)
            if self.metadata_cache_max_size:
                cache = x.sub(driver, "metadata_cache")
                x.sub(cache, "max_size", self.metadata_cache_max_size, unit="bytes")
            if len(driver) or driver.attrib:
                node.append(driver)
            if self.source is not None:
                node.append(_copy.deepcopy(self.source))
        return node


@dataclass
class SnapshotDef:
    name: str | None = None
    description: str | None = None
    state: str | None = None  # one of SNAPSHOT_STATES; None: not known (libvirt's 0)
    parent: str | None = None  # parent snapshot's name
    creation_time: int = 0
    memory: str = "default"  # default | no | internal | external
    memory_file: str | None = None
    disks: list[SnapshotDiskDef] = field(default_factory=list)
    domain: Any = None  # DomainDef (or RawDomain)
    inactive_domain: Any = None
    cookie: Element | None = None  # hypervisor-private save cookie, kept as XML
    current: bool = False  # from <active> with internal=True

    @classmethod
    def from_xml(cls, text: str | bytes, *, redefine: bool = False, internal: bool = False,
                 offline: bool = False, now: int | None = None) -> SnapshotDef:
        root = x.parse_document(text, "domainsnapshot", "(domain_snapshot)",
                                  c.VIR_FROM_DOMAIN_SNAPSHOT)
        return cls.from_element(root, redefine=redefine, internal=internal, offline=offline,
                                now=now)

    @classmethod
    def from_element(cls, root: Element, *, redefine: bool = False, internal: bool = False,
                     offline: bool = False, now: int | None = None) -> SnapshotDef:
        snap = cls(name=xpath_string(root, "name"))
        if snap.name is None and redefine:
            _err(c.VIR_ERR_XML_ERROR, "a redefined snapshot must have a name")
        snap.description = xpath_string(root, "description")
        if redefine:
            created = xpath_string(root, "creationTime")
            try:
                snap.creation_time = int(created or "")
            except ValueError:
                _err(c.VIR_ERR_INTERNAL_ERROR, "missing creationTime from existing snapshot")
            snap.parent = xpath_string(root, "parent/name")
            state = xpath_string(root, "state")
            if state is None:
                _err(c.VIR_ERR_XML_ERROR, "missing state from existing snapshot")
            if state not in SNAPSHOT_STATES[1:]:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     f"Invalid state '{state}' in domain snapshot XML")
            snap.state = state
            offline = state in ("shutoff", "disk-snapshot")
            dom = root.find("domain")
            if dom is not None:
                # Old snapshots carry a uuid-only <domain> without @type: keep it as it is.
                snap.domain = parse_domain(dom) if dom.get("type") else RawDomain(clean_copy(dom))
            inactive = root.find("inactiveDomain")
            if inactive is not None:
                snap.inactive_domain = parse_domain(inactive)
        else:
            snap.creation_time = int(time.time()) if now is None else now
            if snap.name is None:
                snap.name = str(snap.creation_time)
        memory = root.find("memory")
        if memory is not None:
            snap.memory_file = memory.get("file")
            snap.memory = _enum(memory, "snapshot", LOCATIONS, "default")
            if snap.memory == "manual":
                _err(c.VIR_ERR_XML_ERROR, "'manual' memory snapshot mode not supported")
        if snap.memory == "default":
            if snap.memory_file:
                snap.memory = "external"
            elif redefine:
                snap.memory = "no" if offline else "internal"
        if snap.memory_file and snap.memory != "external":
            _err(c.VIR_ERR_XML_ERROR,
                 f"memory filename '{snap.memory_file}' requires external snapshot")
        if not snap.memory_file and snap.memory == "external":
            _err(c.VIR_ERR_XML_ERROR, "external memory snapshots require a filename")
        if offline and snap.memory not in ("default", "no"):
            _err(c.VIR_ERR_XML_ERROR,
                 "memory state cannot be saved with offline or disk-only snapshot")
        if snap.memory_file and not snap.memory_file.startswith("/"):
            _err(c.VIR_ERR_XML_ERROR,
                 f"memory snapshot file path ({snap.memory_file}) must be absolute")
        disks = root.find("disks")
        if disks is not None:
            snap.disks = [SnapshotDiskDef.from_element(d, redefine)
                          for d in disks if isinstance(d.tag, str)]
        if internal:
            active = xpath_string(root, "active")
            try:
                snap.current = int(active or "") != 0
            except ValueError:
                _err(c.VIR_ERR_INTERNAL_ERROR, "Could not find 'active' element")
        cookie = root.find("cookie")
        if not offline and cookie is not None:
            snap.cookie = clean_copy(cookie)
        return snap

    # ---- queries used by drivers ---------------------------------------------------------

    @property
    def state_id(self) -> int:
        """libvirt's numeric snapshot state (0 when unknown)."""
        return SNAPSHOT_STATES.index(self.state) if self.state else 0

    def is_external(self) -> bool:
        return self.memory == "external" or any(d.snapshot == "external" for d in self.disks)

    def domain_uuid(self) -> str | None:
        return getattr(self.domain, "uuid", None) if self.domain is not None else None

    def align_disks(self, domain: Any = None, default: str = "internal",
                    uniform_internal: bool = False) -> None:
        """virDomainSnapshotAlignDisks: one entry per domain disk, in the domain's order,
        defaults filled in (``default`` location; "no" for empty drives), names turned into
        targets. ``domain`` defaults to the snapshot's own domain definition."""
        dom = domain if domain is not None else self.domain
        if dom is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, "missing domain in snapshot")
        disks = _domain_disks(dom)
        if len(self.disks) > len(disks):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "too many disk snapshot requests for domain")
        require_match = uniform_internal and default == "internal"
        if not disks:
            return
        by_target: dict[str, SnapshotDiskDef] = {}
        for snapdisk in self.disks:
            found = next((d for d in disks if snapdisk.name in (d[0], d[3])), None)
            if found is None:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"no disk named '{snapdisk.name}'")
                return
            dst, dom_loc = found[0], found[1]
            if dst in by_target:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"disk '{snapdisk.name}' specified twice")
            by_target[dst] = snapdisk
            if snapdisk.snapshot == "default":
                if dom_loc not in (None, "default") and (not require_match or dom_loc == "no"):
                    snapdisk.snapshot = dom_loc or default
                else:
                    snapdisk.snapshot = default
            elif require_match and snapdisk.snapshot != default and not (
                    snapdisk.snapshot == "no" and dom_loc == "no"):
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     f"disk '{snapdisk.name}' must use snapshot mode '{default}'")
            if snapdisk.path and snapdisk.snapshot != "external":
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     f"file '{snapdisk.path}' for disk '{snapdisk.name}' requires use of "
                     "external snapshot mode")
            snapdisk.name = dst
        aligned = []
        for dst, dom_loc, empty, _path in disks:
            if dst in by_target:
                aligned.append(by_target[dst])
                continue
            loc = "no" if empty else (dom_loc or "default")
            aligned.append(SnapshotDiskDef(name=dst, snapshot=default if loc == "default"
                                           else loc))
        self.disks = aligned

    # ---- output --------------------------------------------------------------------------

    def to_element(self, *, secure: bool = False, internal: bool = False,
                   current: bool | None = None, domain_uuid: str | None = None) -> Element:
        root = x.element("domainsnapshot")
        if self.name is not None:
            x.sub(root, "name", self.name)
        if self.description is not None:
            x.sub(root, "description", self.description)
        if self.state:
            x.sub(root, "state", self.state)
        if self.parent:
            parent = x.sub(root, "parent")
            x.sub(parent, "name", self.parent)
        if self.creation_time:
            x.sub(root, "creationTime", self.creation_time)
        if self.memory != "default":
            x.sub(root, "memory", snapshot=self.memory, file=self.memory_file)
        if self.disks:
            disks = x.sub(root, "disks")
            for disk in self.disks:
                disks.append(disk.to_element())
        if self.domain is not None:
            root.append(format_domain(self.domain, secure))
        elif domain_uuid:
            dom = x.sub(root, "domain")
            x.sub(dom, "uuid", domain_uuid)
        if self.inactive_domain is not None:
            root.append(format_domain(self.inactive_domain, secure, "inactiveDomain"))
        if self.cookie is not None:
            root.append(_copy.deepcopy(self.cookie))
        if internal:
            x.sub(root, "active", int(self.current if current is None else current))
        return root

    def to_xml(self, *, secure: bool = False, internal: bool = False,
               current: bool | None = None, domain_uuid: str | None = None) -> str:
        """virDomainSnapshotDefFormat. ``internal`` adds <active> (``current`` overrides the
        parsed value); ``domain_uuid`` prints libvirt's uuid-only <domain> when the snapshot
        has no domain definition."""
        return x.to_string(self.to_element(secure=secure, internal=internal, current=current,
                                           domain_uuid=domain_uuid))

    def copy(self) -> SnapshotDef:
        dup = _copy.copy(self)
        dup.disks = [_copy.deepcopy(d) for d in self.disks]
        dup.domain = self.domain.copy() if self.domain is not None else None
        dup.inactive_domain = (self.inactive_domain.copy()
                               if self.inactive_domain is not None else None)
        dup.cookie = _copy.deepcopy(self.cookie)
        return dup


def _domain_disks(dom: Any) -> list[tuple[str, str | None, bool, str | None]]:
    """(target, the disk's own snapshot= setting, source is empty, source path) for each
    disk of a DomainDef (or a RawDomain)."""
    out: list[tuple[str, str | None, bool, str | None]] = []
    devices = getattr(dom, "devices", None)
    if devices is not None:
        for disk in getattr(devices, "disks", []):
            extra = getattr(disk, "extra", None)
            loc = getattr(disk, "snapshot", None) or (
                extra.attrs.get("snapshot") if extra is not None else None)
            source = getattr(disk, "source", None)
            path = source.path if source is not None else None
            empty = source is None or not (source.attrs or source.children)
            out.append((disk.target.dev, loc, empty, path))
        return out
    element = getattr(dom, "element", None)
    if element is not None:
        for disk in element.iterfind("devices/disk"):
            target = disk.find("target")
            source = disk.find("source")
            path = None
            if source is not None:
                path = (source.get("file") or source.get("dev") or source.get("dir")
                        or source.get("name"))
            empty = source is None or not (len(source) or source.attrib)
            out.append((target.get("dev", "") if target is not None else "",
                        disk.get("snapshot"), empty, path))
    return out
