"""Domain snapshots of the test driver: metadata only, with libvirt's tree and revert rules."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from pyvirt.api.domain import virDomain
    from pyvirt.api.snapshot import virDomainSnapshot
    from pyvirt.conf.snapshot import SnapshotDef
    from pyvirt.drivers.test.domains import DomainObj

STATE_NAMES = {c.VIR_DOMAIN_RUNNING: "running", c.VIR_DOMAIN_PAUSED: "paused",
               c.VIR_DOMAIN_SHUTOFF: "shutoff", c.VIR_DOMAIN_BLOCKED: "blocked",
               c.VIR_DOMAIN_SHUTDOWN: "shutdown", c.VIR_DOMAIN_CRASHED: "crashed",
               c.VIR_DOMAIN_PMSUSPENDED: "pmsuspended"}


def snap_err(code: int, detail: str | None = None) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_TEST)


def _filter(snap: SnapshotDef, flags: int, objs: dict[str, SnapshotDef]) -> bool:
    """virDomainMomentObjListFilter / virDomainSnapshotFilter."""
    children = any(s.parent == snap.name for s in objs.values())
    if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES and children:
        return False
    if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES and not children:
        return False
    state_flags = (c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE | c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
                   | c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY)
    if flags & state_flags:
        state = snap.state
        ok = ((flags & c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE and state == "shutoff")
              or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY and state == "disk-snapshot")
              or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
                  and state not in ("shutoff", "disk-snapshot")))
        if not ok:
            return False
    loc_flags = c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL
    if flags & loc_flags:
        ext = snap.is_external()
        if not ((flags & c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL and ext)
                or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL and not ext)):
            return False
    return True


LIST_FLAGS = (c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS
              | c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES
              | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES | c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA
              | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA | c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE
              | c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE | c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY
              | c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL)


class TestSnapshots:
    """Snapshot entry points (mixed into TestDriver)."""

    lock: Any
    events: Any

    # The domain mixin provides these.
    def _obj(self, dom: virDomain) -> DomainObj: ...  # type: ignore[empty-body]

    def _lifecycle(self, obj: DomainObj, event: int, detail: int) -> None: ...

    def _shutdown_state(self, obj: DomainObj, reason: int, dom: virDomain | None = None
                        ) -> None: ...

    def _start_state(self, obj: DomainObj, reason: int) -> None: ...

    # ---- loading ---------------------------------------------------------------------------

    def _load_domain_snapshots(self, obj: DomainObj, nodes: list[Element],
                               base_dir: Path | None) -> None:
        """testParseDomainSnapshots: <test:domainsnapshot> children, redefined internally."""
        from pyvirt.conf.snapshot import SnapshotDef
        from pyvirt.drivers.test.driver import resolve_included

        for node in nodes:
            el = resolve_included(node, base_dir)
            snap = SnapshotDef.from_element(_strip_ns(el), redefine=True, internal=True)
            assert snap.name is not None
            obj.snapshots[snap.name] = snap
            if snap.current:
                if obj.current_snapshot is not None:
                    snap_err(c.VIR_ERR_INTERNAL_ERROR, "more than one snapshot claims to be "
                             "active")
                obj.current_snapshot = snap.name
        for snap in obj.snapshots.values():
            if snap.parent and snap.parent not in obj.snapshots:
                snap_err(c.VIR_ERR_INTERNAL_ERROR,
                         f"Snapshots have inconsistent relations for domain {obj.defn.name}")

    # ---- helpers ---------------------------------------------------------------------------

    def _snap(self, obj: DomainObj, name: str) -> SnapshotDef:
        snap = obj.snapshots.get(name)
        if snap is None:
            raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT,
                        f"no domain snapshot with matching name '{name}'",
                        domain=c.VIR_FROM_TEST)
        return snap

    def _snap_of(self, snapshot: virDomainSnapshot) -> tuple[DomainObj, SnapshotDef]:
        obj = self._obj(snapshot._dom)
        return obj, self._snap(obj, snapshot._name)

    def _handle_snap(self, dom: virDomain, name: str) -> virDomainSnapshot:
        from pyvirt.api.snapshot import virDomainSnapshot

        return virDomainSnapshot(dom, name)

    @staticmethod
    def _children(obj: DomainObj, name: str | None) -> list[str]:
        """The children of ``name`` (None: the roots) in libvirt's child-list order: each
        newly linked child goes first, so the newest link comes first. ``obj.snapshots``
        keeps link order (a snapshot is re-inserted whenever it is linked again)."""
        return [s.name for s in reversed(obj.snapshots.values())
                if s.parent == name and s.name is not None]

    def _descendants(self, obj: DomainObj, name: str | None, deep: bool) -> list[str]:
        """virDomainMomentForEachChild / ForEachDescendant: depth first, parents first."""
        out: list[str] = []
        for child in self._children(obj, name):
            out.append(child)
            if deep:
                out.extend(self._descendants(obj, child, True))
        return out

    def _list(self, obj: DomainObj, parent: str | None, flags: int, api: str) -> list[str]:
        check_flags(api, flags, LIST_FLAGS, c.VIR_FROM_TEST)
        if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA:
            return []
        if parent is None:
            if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS:
                names = self._children(obj, None)
            elif flags & c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL:
                names = self._descendants(obj, None, True)
            else:
                names = list(obj.snapshots)
        else:
            names = self._descendants(obj, parent,
                                      bool(flags & c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))
        return [n for n in names if _filter(obj.snapshots[n], flags, obj.snapshots)]

    @staticmethod
    def _relink(obj: DomainObj, names: list[str]) -> None:
        """Move ``names`` (in this order) to the end of the link order, as libvirt's
        virDomainMomentMoveChildren puts a moved block of children first in its new list."""
        for name in names:
            obj.snapshots[name] = obj.snapshots.pop(name)

    # ---- entry points ----------------------------------------------------------------------

    def domainSnapshotNum(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        with self.lock:
            return len(self._list(self._obj(dom), None, flags, "testDomainSnapshotNum"))

    def domainSnapshotListNames(self, dom: virDomain, flags: int) -> list[str]:  # noqa: N802
        with self.lock:
            return self._list(self._obj(dom), None, flags, "testDomainSnapshotListNames")

    def domainListAllSnapshots(self, dom: virDomain, flags: int) -> list[virDomainSnapshot]:  # noqa: N802
        with self.lock:
            names = self._list(self._obj(dom), None, flags, "testDomainListAllSnapshots")
            return [self._handle_snap(dom, n) for n in names]

    def domainSnapshotNumChildren(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            return len(self._list(obj, snap.name, flags, "testDomainSnapshotNumChildren"))

    def domainSnapshotListChildrenNames(self, snapshot: virDomainSnapshot,  # noqa: N802
                                        flags: int) -> list[str]:
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            return self._list(obj, snap.name, flags, "testDomainSnapshotListChildrenNames")

    def domainSnapshotListAllChildren(self, snapshot: virDomainSnapshot,  # noqa: N802
                                      flags: int) -> list[virDomainSnapshot]:
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            names = self._list(obj, snap.name, flags, "testDomainSnapshotListAllChildren")
            return [self._handle_snap(snapshot._dom, n) for n in names]

    def domainSnapshotLookupByName(self, dom: virDomain, name: str,  # noqa: N802
                                   flags: int) -> virDomainSnapshot:
        check_flags("testDomainSnapshotLookupByName", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._snap(self._obj(dom), name)
            return self._handle_snap(dom, name)

    def domainHasCurrentSnapshot(self, dom: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("testDomainHasCurrentSnapshot", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            return int(self._obj(dom).current_snapshot is not None)

    def domainSnapshotCurrent(self, dom: virDomain, flags: int) -> virDomainSnapshot:  # noqa: N802
        check_flags("testDomainSnapshotCurrent", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            cur = self._obj(dom).current_snapshot
            if cur is None:
                raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT, "the domain does not have a current "
                            "snapshot", domain=c.VIR_FROM_TEST)
            return self._handle_snap(dom, cur)

    def domainSnapshotGetParent(self, snapshot: virDomainSnapshot,  # noqa: N802
                                flags: int) -> virDomainSnapshot:
        check_flags("testDomainSnapshotGetParent", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            _obj, snap = self._snap_of(snapshot)
            if not snap.parent:
                raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT,
                            f"snapshot '{snap.name}' does not have a parent",
                            domain=c.VIR_FROM_TEST)
            return self._handle_snap(snapshot._dom, snap.parent)

    def domainSnapshotGetXMLDesc(self, snapshot: virDomainSnapshot, flags: int) -> str:  # noqa: N802
        check_flags("testDomainSnapshotGetXMLDesc", flags, c.VIR_DOMAIN_SNAPSHOT_XML_SECURE,
                    c.VIR_FROM_TEST)
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            return snap.to_xml(secure=bool(flags & c.VIR_DOMAIN_SNAPSHOT_XML_SECURE),
                               domain_uuid=obj.defn.uuid)

    def domainSnapshotIsCurrent(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSnapshotIsCurrent", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            return int(obj.current_snapshot == snap.name)

    def domainSnapshotHasMetadata(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("testDomainSnapshotHasMetadata", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            self._snap_of(snapshot)
            return 1

    def domainSnapshotCreateXML(self, dom: virDomain, xml: str,  # noqa: N802
                                flags: int) -> virDomainSnapshot:
        from pyvirt.conf.snapshot import SnapshotDef

        check_flags("testDomainSnapshotCreateXML", flags,
                    c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
                    | c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT | c.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
                    | c.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC | c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE
                    | c.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE, c.VIR_FROM_TEST)
        redefine = bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
        update_current = not redefine or bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT)
        with self.lock:
            obj = self._obj(dom)
            if obj.checkpoints:
                snap_err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                         "cannot create snapshot while checkpoint exists")
            if not obj.persistent and flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT:
                snap_err(c.VIR_ERR_OPERATION_INVALID,
                         "cannot halt after transient domain snapshot")
            snap = SnapshotDef.from_xml(xml, redefine=redefine,
                                        offline=not obj.active)
            assert snap.name is not None
            if redefine:
                self._redefine(obj, snap)
            else:
                snap.domain = obj.defn.copy()
                snap.domain.id = -1
                _align_disks(obj, snap)
                if snap.name in obj.snapshots:
                    raise_error(c.VIR_ERR_OPERATION_FAILED,
                                f"domain moment {snap.name} already exists",
                                domain=c.VIR_FROM_DOMAIN)
                snap.parent = obj.current_snapshot
                obj.snapshots[snap.name] = snap
                if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT and obj.active:
                    self._shutdown_state(obj, c.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, dom)
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED,
                                    c.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)
            if update_current:
                obj.current_snapshot = snap.name
            return self._handle_snap(dom, snap.name)

    def _redefine(self, obj: DomainObj, snap: SnapshotDef) -> None:
        """virDomainSnapshotRedefinePrep, in short: check the parent, replace a same-named
        snapshot."""
        assert snap.name is not None
        if snap.parent and snap.parent not in obj.snapshots:
            raise_error(c.VIR_ERR_INVALID_ARG,
                        f"parent {snap.parent} for snapshot {snap.name} not found",
                        domain=c.VIR_FROM_TEST)
        uuid = snap.domain_uuid()
        if uuid and uuid != obj.defn.uuid:
            raise_error(c.VIR_ERR_INVALID_ARG,
                        f"definition for snapshot {snap.name} must use uuid {obj.defn.uuid}",
                        domain=c.VIR_FROM_TEST)
        obj.snapshots.pop(snap.name, None)  # linked again: first among its siblings
        obj.snapshots[snap.name] = snap

    def domainSnapshotDelete(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        # libvirt's test driver has no METADATA_ONLY: its snapshots are all metadata.
        check_flags("testDomainSnapshotDelete", flags,
                    c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
                    | c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY, c.VIR_FROM_TEST)
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            assert snap.name is not None
            if flags & (c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
                        | c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY):
                for name in self._descendants(obj, snap.name, True):
                    if obj.current_snapshot == name:
                        obj.current_snapshot = snap.name  # then to its parent, if deleted
                    obj.snapshots.pop(name, None)
                if flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY:
                    return 0
            else:
                # Children move up to this snapshot's parent, ahead of its own children.
                children = self._children(obj, snap.name)
                for name in children:
                    obj.snapshots[name].parent = snap.parent
                self._relink(obj, children[::-1])
            if obj.current_snapshot == snap.name:
                obj.current_snapshot = snap.parent
            del obj.snapshots[snap.name]
            return 0

    def domainRevertToSnapshot(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("testDomainRevertToSnapshot", flags,
                    c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
                    | c.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE, c.VIR_FROM_TEST)
        dom = snapshot._dom
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            live_state = snap.state in ("running", "paused")
            run_flags = c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
            if not obj.persistent and not live_state and not flags & run_flags:
                snap_err(c.VIR_ERR_OPERATION_INVALID, "transient domain needs to request run "
                         "or pause to revert to inactive snapshot")
            if snap.domain is None or not hasattr(snap.domain, "vcpus_max"):
                snap_err(c.VIR_ERR_SNAPSHOT_REVERT_RISKY,
                         f"snapshot '{snap.name}' lacks domain '{obj.defn.name}' rollback info")
            obj.current_snapshot = None
            config = snap.domain.copy()
            config.id = -1
            if live_state:
                if obj.active:
                    self._shutdown_state(obj, c.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, dom)
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED,
                                    c.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)
                obj.defn = config
                self._start_state(obj, c.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT)
                dom._id = obj.defn.id
                self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STARTED,
                                c.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT)
                if not flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING and (
                        snap.state == "paused" or flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED):
                    obj.state, obj.reason = c.VIR_DOMAIN_PAUSED, c.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_SUSPENDED,
                                    c.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT)
            else:
                if obj.active:
                    obj.new_def = config
                    self._shutdown_state(obj, c.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, dom)
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED,
                                    c.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)
                else:
                    obj.defn = config
                if flags & run_flags:
                    self._start_state(obj, c.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT)
                    dom._id = obj.defn.id
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STARTED,
                                    c.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT)
                    if flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED:
                        obj.state = c.VIR_DOMAIN_PAUSED
                        obj.reason = c.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT
                        self._lifecycle(obj, c.VIR_DOMAIN_EVENT_SUSPENDED,
                                        c.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT)
            obj.current_snapshot = snap.name
            return 0


def _align_disks(obj: DomainObj, snap: SnapshotDef) -> None:
    """testDomainSnapshotAlignDisks: the state and memory location follow the domain's
    state; every disk of the domain gets an entry (internal unless external memory)."""
    if any(d.snapshot == "manual" for d in snap.disks):
        snap_err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 "'manual' snapshot mode is not supported by the test driver")
    snap.state = STATE_NAMES.get(obj.state, "nostate")
    location = "internal"
    if snap.memory == "external":
        location = "external"
    else:
        snap.memory = "no" if snap.state == "shutoff" else "internal"
    snap.align_disks(snap.domain, default=location, uniform_internal=True)


def _strip_ns(el: Element) -> Element:
    """A <test:domainsnapshot> renamed to plain <domainsnapshot> for the snapshot parser."""
    import copy

    dup = copy.deepcopy(el)
    if isinstance(dup.tag, str) and dup.tag.startswith("{"):
        dup.tag = dup.tag.split("}", 1)[1]
    return dup
