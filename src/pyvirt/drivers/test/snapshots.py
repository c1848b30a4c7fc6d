"""Domain snapshots of the test driver: metadata only, with libvirt's tree and revert rules
(the tree, list filters and current-snapshot bookkeeping are ``drivers.snapshot_tree``)."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers import snapshot_tree as tree
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


def snap_err(code: int, detail: str | None = None) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_TEST)


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
        tree.check_relations(obj, obj.defn.name, c.VIR_FROM_TEST)

    # ---- helpers ---------------------------------------------------------------------------

    def _snap(self, obj: DomainObj, name: str) -> SnapshotDef:
        return tree.lookup(obj, name, c.VIR_FROM_TEST)

    def _snap_of(self, snapshot: virDomainSnapshot) -> tuple[DomainObj, SnapshotDef]:
        obj = self._obj(snapshot._dom)
        return obj, self._snap(obj, snapshot._name)

    def _handle_snap(self, dom: virDomain, name: str) -> virDomainSnapshot:
        from pyvirt.api.snapshot import virDomainSnapshot

        return virDomainSnapshot(dom, name)

    def _list(self, obj: DomainObj, parent: str | None, flags: int, api: str) -> list[str]:
        return tree.list_names(obj, parent, flags, api, c.VIR_FROM_TEST)

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
            return self._handle_snap(dom, tree.current_name(self._obj(dom), c.VIR_FROM_TEST))

    def domainSnapshotGetParent(self, snapshot: virDomainSnapshot,  # noqa: N802
                                flags: int) -> virDomainSnapshot:
        check_flags("testDomainSnapshotGetParent", flags, 0, c.VIR_FROM_TEST)
        with self.lock:
            _obj, snap = self._snap_of(snapshot)
            return self._handle_snap(snapshot._dom, tree.parent_name(snap, c.VIR_FROM_TEST))

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
                tree.redefine_prep(obj, snap, obj.defn.name, obj.defn.uuid, flags)
                tree.assign_redefined(obj, snap)
            else:
                snap.domain = obj.defn.copy()
                snap.domain.id = -1
                _align_disks(obj, snap)
                tree.add(obj, snap)
                if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT and obj.active:
                    self._shutdown_state(obj, c.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, dom)
                    self._lifecycle(obj, c.VIR_DOMAIN_EVENT_STOPPED,
                                    c.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)
            if update_current:
                obj.current_snapshot = snap.name
            return self._handle_snap(dom, snap.name)

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
                # Leaves first: a current descendant hands "current" up to this snapshot.
                for name in reversed(tree.descendants(obj, snap.name, True)):
                    tree.unlink(obj, name)
                if flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY:
                    return 0
            tree.unlink(obj, snap.name)
            return 0

    def domainRevertToSnapshot(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("testDomainRevertToSnapshot", flags,
                    c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
                    | c.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE, c.VIR_FROM_TEST)
        dom = snapshot._dom
        with self.lock:
            obj, snap = self._snap_of(snapshot)
            live_state = tree.is_online(snap.state)
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
    snap.state = tree.state_name(obj.state)
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
