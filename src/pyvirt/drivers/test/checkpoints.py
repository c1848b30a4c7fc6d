"""Domain checkpoints of the test driver: metadata only, after libvirt's test driver,
checkpoint_conf.c and the moment list (virdomainmomentobjlist.c).

Each checkpoint lives in ``DomainObj.checkpoints`` as a ``CheckpointObj``; the current one is
named by ``DomainObj.current_checkpoint``. libvirt keeps children as a linked list with the
newest link first; a link sequence number per checkpoint gives the same order here.
"""

from __future__ import annotations

import itertools

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from pyvirt.api.checkpoint import virDomainCheckpoint
    from pyvirt.api.domain import virDomain
    from pyvirt.conf.checkpoint import CheckpointDef
    from pyvirt.drivers.test.domains import DomainObj

LIST_FILTERS = c.VIR_DOMAIN_CHECKPOINT_LIST_LEAVES | c.VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES

# Shared by every domain: only the relative order of links matters.
_link_counter = itertools.count(1)


class CheckpointObj:
    """virDomainMomentObj for a checkpoint: the definition and its place among siblings."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, defn: CheckpointDef, seq: int = 0) -> None:
        self.defn = defn
        self.seq = seq  # larger = linked later = listed first among its siblings

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckpointObj) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.defn, self.seq) == (other.defn, other.seq)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CheckpointObj(defn={self.defn!r}, seq={self.seq!r})"

    @property
    def name(self) -> str:
        assert self.defn.name is not None
        return self.defn.name

    @property
    def parent(self) -> str | None:
        return self.defn.parent or None


def _err(code: int, detail: str, domain: int = c.VIR_FROM_DOMAIN_CHECKPOINT) -> NoReturn:
    raise_error(code, detail, domain=domain)


def _children(objs: dict[str, CheckpointObj], parent: str | None) -> list[CheckpointObj]:
    """The children of ``parent`` (None: the roots), in libvirt's sibling order."""
    kids = [o for o in objs.values() if o.parent == parent
            or (parent is None and o.parent is not None and o.parent not in objs)]
    kids.sort(key=lambda o: o.seq, reverse=True)
    return kids


def _descendants(objs: dict[str, CheckpointObj], parent: str | None) -> list[CheckpointObj]:
    """virDomainMomentForEachDescendant: depth first, each parent before its children."""
    out: list[CheckpointObj] = []
    for kid in _children(objs, parent):
        out.append(kid)
        out.extend(_descendants(objs, kid.name))
    return out


def _disk_is_empty(disk: Any) -> bool:
    """virStorageSourceIsEmpty for a domain <disk>."""
    source = getattr(disk, "source", None)
    kind = getattr(disk, "type", "file")
    if kind == "network":
        return source is None or not source.attrs.get("protocol")
    if kind in ("file", "block", "dir"):
        return source is None or not getattr(disk, "path", None)
    return source is None


def _domain_disks(dom: Any) -> list[tuple[str, str | None, bool]]:
    """(target, source path, empty or read-only) for each disk of a DomainDef."""
    out: list[tuple[str, str | None, bool]] = []
    devices = getattr(dom, "devices", None)
    if devices is not None:
        for disk in getattr(devices, "disks", []):
            source = getattr(disk, "source", None)
            path = source.path if source is not None else None
            out.append((disk.target.dev, path,
                        _disk_is_empty(disk) or bool(getattr(disk, "readonly", False))))
        return out
    element = getattr(dom, "element", None)  # a RawDomain
    if element is not None:
        for node in element.iterfind("devices/disk"):
            target = node.find("target")
            source = node.find("source")
            path = None
            if source is not None:
                path = (source.get("file") or source.get("dev") or source.get("dir")
                        or source.get("name"))
            skip = path is None or node.find("readonly") is not None \
                or node.get("device") == "cdrom"
            out.append((target.get("dev", "") if target is not None else "", path, skip))
    return out


def _find_disk(disks: list[tuple[str, str | None, bool]], name: str
               ) -> tuple[str, str | None, bool] | None:
    """virDomainDiskByName (not ambiguous): the target name, or a unique source path."""
    candidate = None
    for disk in disks:
        if not name.startswith("/"):
            if disk[0] == name:
                return disk
        elif disk[1] == name:
            if candidate is not None:
                return None
            candidate = disk
    return candidate


def align_disks(chk: CheckpointDef) -> None:
    """virDomainCheckpointAlignDisks: one entry per domain disk, defaults filled in."""
    from pyvirt.conf.checkpoint import CheckpointDiskDef

    if chk.domain is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, "missing domain in checkpoint")
    disks = _domain_disks(chk.domain)
    if len(chk.disks) > len(disks):
        _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "too many disk checkpoint requests for domain")
    if not disks:
        _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
             "domain must have at least one disk to perform checkpoints")
    # <disks> omitted: a bitmap on every writable disk; otherwise omitted disks get none.
    default = "no" if chk.disks else "bitmap"
    by_target: dict[str, CheckpointDiskDef] = {}
    for req in chk.disks:
        found = _find_disk(disks, req.name)
        if found is None:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"no disk named '{req.name}'")
            return
        dst, _path, skip = found
        if dst in by_target:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"disk '{req.name}' specified twice")
        by_target[dst] = req
        if skip and req.checkpoint != "no":
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"disk '{req.name}' is empty or readonly")
        req.name = dst
    aligned: list[CheckpointDiskDef] = []
    for dst, _path, skip in disks:
        if dst in by_target:
            aligned.append(by_target[dst])
        else:
            aligned.append(CheckpointDiskDef(name=dst, checkpoint="no" if skip else default))
    chk.disks = aligned
    assign_bitmap_names(chk)


def assign_bitmap_names(chk: CheckpointDef) -> None:
    """virDomainCheckpointDefAssignBitmapNames: bitmaps default to the checkpoint's name."""
    for disk in chk.disks:
        if disk.checkpoint == "bitmap" and not disk.bitmap:
            disk.bitmap = chk.name


class TestCheckpoints:
    """Checkpoint entry points (mixed into TestDriver)."""

    lock: Any

    # The domain mixin provides this.
    def _obj(self, dom: virDomain) -> DomainObj: ...  # type: ignore[empty-body]

    # ---- helpers ---------------------------------------------------------------------------

    def _chk(self, obj: DomainObj, name: str) -> CheckpointObj:
        """testCheckpointObjFromName."""
        chk: CheckpointObj | None = obj.checkpoints.get(name)
        if chk is None:
            raise_error(c.VIR_ERR_NO_DOMAIN_CHECKPOINT,
                        f"no domain checkpoint with matching name '{name}'",
                        domain=c.VIR_FROM_TEST)
        return chk

    def _chk_of(self, checkpoint: virDomainCheckpoint) -> tuple[DomainObj, CheckpointObj]:
        obj = self._obj(checkpoint._dom)
        return obj, self._chk(obj, checkpoint._name)

    def _handle_chk(self, dom: virDomain, name: str) -> virDomainCheckpoint:
        from pyvirt.api.checkpoint import virDomainCheckpoint

        return virDomainCheckpoint(dom, name)

    @staticmethod
    def _names(obj: DomainObj, parent: CheckpointObj | None, flags: int) -> list[str]:
        """virDomainMomentObjListGetNames with the checkpoint filter."""
        objs: dict[str, CheckpointObj] = obj.checkpoints
        if parent is None:
            # ROOTS and DESCENDANTS share a bit with opposite meanings: from the metaroot,
            # "no ROOTS" means "all descendants".
            flags ^= c.VIR_DOMAIN_CHECKPOINT_LIST_ROOTS
        deep = bool(flags & c.VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS)
        start = parent.name if parent is not None else None
        if deep:
            if parent is not None or flags & c.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL:
                found = _descendants(objs, start)
            else:
                found = list(objs.values())  # libvirt walks its hash table here
        else:
            found = _children(objs, start)
        if flags & LIST_FILTERS:
            # Each filter applies on its own: both together select nothing.
            parents = {o.parent for o in objs.values()}
            if flags & c.VIR_DOMAIN_CHECKPOINT_LIST_LEAVES:
                found = [o for o in found if o.name not in parents]
            if flags & c.VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES:
                found = [o for o in found if o.name in parents]
        return [o.name for o in found]

    @staticmethod
    def _link(chk: CheckpointObj) -> None:
        """virDomainCheckpointLinkParent: first among its parent's children."""
        chk.seq = next(_link_counter)

    # ---- entry points ----------------------------------------------------------------------

    def domainCheckpointCreateXML(self, dom: virDomain, xml: str,  # noqa: N802
                                  flags: int) -> virDomainCheckpoint:
        from pyvirt.conf.checkpoint import CheckpointDef

        check_flags("testDomainCheckpointCreateXML", flags,
                    c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
                    | c.VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE, c.VIR_FROM_TEST)
        redefine = bool(flags & c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE)
        update_current = not redefine
        with self.lock:
            obj = self._obj(dom)
            if obj.snapshots:
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     "cannot create checkpoint while snapshot exists", c.VIR_FROM_TEST)
            if not obj.active:
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     "cannot create checkpoint for inactive domain", c.VIR_FROM_TEST)
            defn = CheckpointDef.from_xml(xml, redefine=redefine)
            assert defn.name is not None
            objs: dict[str, CheckpointObj] = obj.checkpoints
            if redefine:
                update_current = self._redefine_prep(obj, defn)
                chk = objs.get(defn.name)
                if chk is not None:
                    # Keep the children: only the definition and the parent link change.
                    chk.defn = defn
                else:
                    chk = objs[defn.name] = CheckpointObj(defn)
            else:
                defn.domain = obj.defn.copy()
                defn.domain.id = -1
                align_disks(defn)
                if defn.name in objs:
                    _err(c.VIR_ERR_OPERATION_FAILED, f"domain moment {defn.name} already exists",
                         c.VIR_FROM_DOMAIN)
                chk = objs[defn.name] = CheckpointObj(defn)
            current = obj.current_checkpoint
            if current is not None and current in objs:
                if not redefine:
                    defn.parent = current
                if update_current:
                    obj.current_checkpoint = None
            if update_current:
                obj.current_checkpoint = chk.name
            self._link(chk)
            return self._handle_chk(dom, chk.name)

    def _redefine_prep(self, obj: DomainObj, defn: CheckpointDef) -> bool:
        """virDomainCheckpointRedefinePrep; returns whether the checkpoint becomes current."""
        assert defn.name is not None
        objs: dict[str, CheckpointObj] = obj.checkpoints
        self._check_cycles(obj, defn)
        if defn.domain is not None:
            if defn.domain_uuid() != obj.defn.uuid:
                _err(c.VIR_ERR_INVALID_ARG,
                     f"definition for checkpoint {defn.name} must use uuid {obj.defn.uuid}")
            align_disks(defn)
        else:
            assign_bitmap_names(defn)
        update = False
        if defn.parent and defn.parent in objs and defn.parent == obj.current_checkpoint:
            update = True
        if obj.current_checkpoint is None:
            update = True  # the first redefined checkpoint becomes current
        return update

    @staticmethod
    def _check_cycles(obj: DomainObj, defn: CheckpointDef) -> None:
        """virDomainMomentCheckCycles."""
        if not defn.parent:
            return
        objs: dict[str, CheckpointObj] = obj.checkpoints
        if defn.name == defn.parent:
            _err(c.VIR_ERR_INVALID_ARG, f"cannot set moment {defn.name} as its own parent",
                 c.VIR_FROM_DOMAIN)
        other = objs.get(defn.parent)
        if other is None:
            _err(c.VIR_ERR_INVALID_ARG,
                 f"parent {defn.parent} for moment {defn.name} not found", c.VIR_FROM_DOMAIN)
            return
        seen: set[str] = set()
        while other.parent and other.name not in seen:
            seen.add(other.name)
            if other.parent == defn.name:
                _err(c.VIR_ERR_INVALID_ARG,
                     f"parent {other.name} would create cycle to {defn.name}",
                     c.VIR_FROM_DOMAIN)
            nxt = objs.get(other.parent)
            if nxt is None:
                break  # libvirt warns that the moments are inconsistent
            other = nxt

    def domainListAllCheckpoints(self, dom: virDomain,  # noqa: N802
                                 flags: int) -> list[virDomainCheckpoint]:
        check_flags("testDomainListAllCheckpoints", flags,
                    c.VIR_DOMAIN_CHECKPOINT_LIST_ROOTS | c.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL
                    | LIST_FILTERS, c.VIR_FROM_TEST)
        with self.lock:
            names = self._names(self._obj(dom), None, flags)
            return [self._handle_chk(dom, n) for n in names]

    def domainCheckpointListAllChildren(self, checkpoint: virDomainCheckpoint,  # noqa: N802
                                        flags: int) -> list[virDomainCheckpoint]:
        check_flags("testDomainCheckpointListAllChildren", flags,
                    c.VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS
                    | c.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL | LIST_FILTERS, c.VIR_FROM_TEST)
        with self.lock:
            obj, chk = self._chk_of(checkpoint)
            names = self._names(obj, chk, flags)
            return [self._handle_chk(checkpoint._dom, n) for n in names]

    def domainCheckpointLookupByName(self, dom: virDomain, name: str,  # noqa: N802
                                     flags: int) -> virDomainCheckpoint:
        check_flags("testDomainCheckpointLookupByName", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            chk = self._chk(self._obj(dom), name)
            return self._handle_chk(dom, chk.name)

    def domainCheckpointGetParent(self, checkpoint: virDomainCheckpoint,  # noqa: N802
                                  flags: int) -> virDomainCheckpoint:
        check_flags("testDomainCheckpointGetParent", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            _obj, chk = self._chk_of(checkpoint)
            if not chk.parent:
                _err(c.VIR_ERR_NO_DOMAIN_CHECKPOINT,
                     f"checkpoint '{chk.name}' does not have a parent", c.VIR_FROM_TEST)
            assert chk.parent is not None
            return self._handle_chk(checkpoint._dom, chk.parent)

    def domainCheckpointGetXMLDesc(self, checkpoint: virDomainCheckpoint,  # noqa: N802
                                   flags: int) -> str:
        check_flags("testDomainCheckpointGetXMLDesc", flags,
                    c.VIR_DOMAIN_CHECKPOINT_XML_SECURE | c.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN
                    | c.VIR_DOMAIN_CHECKPOINT_XML_SIZE, c.VIR_FROM_TEST)
        with self.lock:
            obj, chk = self._chk_of(checkpoint)
            if flags & c.VIR_DOMAIN_CHECKPOINT_XML_SIZE:
                # libvirt's test driver fills in a size but never marks it valid, so no
                # size= appears; only the running-domain requirement is visible.
                obj.check_active()
            return chk.defn.to_xml(secure=bool(flags & c.VIR_DOMAIN_CHECKPOINT_XML_SECURE),
                                   no_domain=bool(flags & c.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN))

    def domainCheckpointDelete(self, checkpoint: virDomainCheckpoint,  # noqa: N802
                               flags: int) -> int:
        check_flags("testDomainCheckpointDelete", flags,
                    c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN
                    | c.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY
                    | c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY, c.VIR_FROM_TEST)
        with self.lock:
            obj, chk = self._chk_of(checkpoint)
            objs: dict[str, CheckpointObj] = obj.checkpoints
            if flags & (c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN
                        | c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY):
                for desc in _descendants(objs, chk.name):
                    del objs[desc.name]
                    if obj.current_checkpoint == desc.name:
                        obj.current_checkpoint = chk.name
            else:
                # The children move up to this checkpoint's parent, ahead of its own
                # children, in their current order.
                kids = _children(objs, chk.name)
                for kid in reversed(kids):
                    kid.defn.parent = chk.parent
                    kid.seq = next(_link_counter)
            if flags & c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY:
                return 0
            if obj.current_checkpoint == chk.name:
                parent = chk.parent if chk.parent in objs else None
                obj.current_checkpoint = parent
            del objs[chk.name]
            return 0
