"""Domain snapshot bookkeeping shared by the drivers, after libvirt's moment lists
(virdomainmomentobjlist.c, virdomainsnapshotobjlist.c) and snapshot_conf.c: the tree of
snapshots, list filters, the current snapshot, lookups, redefinition checks and the relinking
that deletion does. Nothing here takes or discards a snapshot: drivers do that, then record
the result with these functions.

A domain's snapshots are kept by an *owner* (``SnapshotOwner``): a dict of definitions by name
and the name of the current snapshot. The dict's insertion order is the link order: libvirt
puts each newly linked child first among its siblings, so the children of a snapshot are its
entries in reverse dict order, and relinking a snapshot re-inserts it at the end. The test
driver's domain objects are owners themselves; other drivers keep a ``SnapshotTree`` per
domain.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from pyvirt.conf.snapshot import SnapshotDef

    class SnapshotOwner(Protocol):
        snapshots: dict[str, SnapshotDef]
        current_snapshot: str | None

# virDomainState -> the snapshot state name a new snapshot records.
STATE_NAMES = {c.VIR_DOMAIN_RUNNING: "running", c.VIR_DOMAIN_PAUSED: "paused",
               c.VIR_DOMAIN_SHUTOFF: "shutoff", c.VIR_DOMAIN_BLOCKED: "blocked",
               c.VIR_DOMAIN_SHUTDOWN: "shutdown", c.VIR_DOMAIN_CRASHED: "crashed",
               c.VIR_DOMAIN_PMSUSPENDED: "pmsuspended"}

# The flags of the snapshot list entry points (LIST_ROOTS and LIST_DESCENDANTS share a bit).
LIST_FLAGS = (c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS
              | c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES
              | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES | c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA
              | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA | c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE
              | c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE | c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY
              | c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL)

_METADATA_FLAGS = c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA
_STATE_FLAGS = (c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE | c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
                | c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY)
_LOCATION_FLAGS = c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL


class SnapshotTree:
    """One domain's snapshots, for drivers whose domain objects do not hold them."""

    __slots__ = ("snapshots", "current_snapshot")

    def __init__(self) -> None:
        self.snapshots: dict[str, SnapshotDef] = {}
        self.current_snapshot: str | None = None

    def __len__(self) -> int:
        return len(self.snapshots)

    def __repr__(self) -> str:
        return f"SnapshotTree({list(self.snapshots)!r}, current={self.current_snapshot!r})"


def state_name(state: int) -> str:
    """The snapshot state recorded for a domain in ``state`` (a virDomainState)."""
    return STATE_NAMES.get(state, "nostate")


def is_online(state: str | None) -> bool:
    """A snapshot with memory state: reverting to it starts the guest."""
    return state in ("running", "paused")


# ---- queries --------------------------------------------------------------------------------

def lookup(owner: SnapshotOwner, name: str, error_domain: int) -> SnapshotDef:
    """virDomainSnapshotFindByName, with the drivers' error for a missing name."""
    snap = owner.snapshots.get(name)
    if snap is None:
        raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT,
                    f"no domain snapshot with matching name '{name}'", domain=error_domain)
    return snap


def current_name(owner: SnapshotOwner, error_domain: int) -> str:
    """The current snapshot's name (virDomainSnapshotCurrent's error when there is none)."""
    cur = owner.current_snapshot
    if cur is None:
        raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT,
                    "the domain does not have a current snapshot", domain=error_domain)
    return cur


def parent_name(snap: SnapshotDef, error_domain: int) -> str:
    """``snap``'s parent (virDomainSnapshotGetParent's error for a root)."""
    if not snap.parent:
        raise_error(c.VIR_ERR_NO_DOMAIN_SNAPSHOT,
                    f"snapshot '{snap.name}' does not have a parent", domain=error_domain)
    return snap.parent


def children(owner: SnapshotOwner, name: str | None) -> list[str]:
    """The children of ``name`` (None: the roots), newest link first."""
    return [s.name for s in reversed(owner.snapshots.values())
            if s.parent == name and s.name is not None]


def descendants(owner: SnapshotOwner, name: str | None, deep: bool = True) -> list[str]:
    """virDomainMomentForEachChild / ForEachDescendant: depth first, parents first.
    Reversed, the list has every snapshot after all of its descendants."""
    out: list[str] = []
    for child in children(owner, name):
        out.append(child)
        if deep:
            out.extend(descendants(owner, child, True))
    return out


def matches(snap: SnapshotDef, flags: int, owner: SnapshotOwner) -> bool:
    """virDomainSnapshotFilter with the moment list's leaf filters."""
    if flags & (c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES | c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES):
        has_children = any(s.parent == snap.name for s in owner.snapshots.values())
        if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES and has_children:
            return False
        if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES and not has_children:
            return False
    if flags & _STATE_FLAGS:
        state = snap.state
        if not ((flags & c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE and state == "shutoff")
                or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY and state == "disk-snapshot")
                or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
                    and state not in ("shutoff", "disk-snapshot"))):
            return False
    if flags & _LOCATION_FLAGS:
        external = snap.is_external()
        if not ((flags & c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL and external)
                or (flags & c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL and not external)):
            return False
    return True


def list_names(owner: SnapshotOwner, parent: str | None, flags: int, api_name: str,
               error_domain: int) -> list[str]:
    """virDomainSnapshotObjListGetNames: the snapshots of the domain (``parent`` None) or
    the children of ``parent`` that ``flags`` select, in libvirt's order."""
    check_flags(api_name, flags, LIST_FLAGS, error_domain)
    # Every snapshot here has metadata: NO_METADATA alone selects none, both select all.
    if flags & _METADATA_FLAGS == c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA:
        return []
    if parent is None:
        if flags & c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS:
            names = children(owner, None)
        elif flags & c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL:
            names = descendants(owner, None, True)
        else:
            names = list(owner.snapshots)
    else:
        names = descendants(owner, parent, bool(flags & c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS))
    return [n for n in names if matches(owner.snapshots[n], flags, owner)]


# ---- changes --------------------------------------------------------------------------------

def relink(owner: SnapshotOwner, names: list[str]) -> None:
    """Move ``names`` (in this order) to the end of the link order, as libvirt's
    virDomainMomentMoveChildren puts a moved block of children first in its new list."""
    for name in names:
        owner.snapshots[name] = owner.snapshots.pop(name)


def check_new(owner: SnapshotOwner, snap: SnapshotDef) -> None:
    """virDomainMomentAssignDef's refusal of a name already in use."""
    if snap.name in owner.snapshots:
        raise_error(c.VIR_ERR_OPERATION_FAILED, f"domain moment {snap.name} already exists",
                    domain=c.VIR_FROM_DOMAIN)


def add(owner: SnapshotOwner, snap: SnapshotDef) -> None:
    """A newly taken snapshot joins the tree as the youngest child of the current one (it
    becomes current only when the caller says so)."""
    assert snap.name is not None
    check_new(owner, snap)
    snap.parent = owner.current_snapshot
    owner.snapshots[snap.name] = snap


def check_cycles(owner: SnapshotOwner, snap: SnapshotDef, dom_name: str) -> None:
    """virDomainMomentCheckCycles: a redefined snapshot's parent must exist and must not be
    the snapshot itself or one of its descendants."""
    if not snap.parent:
        return
    if snap.parent == snap.name:
        raise_error(c.VIR_ERR_INVALID_ARG, f"cannot set moment {snap.name} as its own parent",
                    domain=c.VIR_FROM_DOMAIN)
    other = owner.snapshots.get(snap.parent)
    if other is None:
        raise_error(c.VIR_ERR_INVALID_ARG,
                    f"parent {snap.parent} for moment {snap.name} not found",
                    domain=c.VIR_FROM_DOMAIN)
    seen = {other.name}
    while other.parent:
        if other.parent == snap.name:
            raise_error(c.VIR_ERR_INVALID_ARG,
                        f"parent {other.name} would create cycle to {snap.name}",
                        domain=c.VIR_FROM_DOMAIN)
        nxt = owner.snapshots.get(other.parent)
        if nxt is None or nxt.name in seen:  # inconsistent, as libvirt only warns
            break
        seen.add(nxt.name)
        other = nxt


def redefine_prep(owner: SnapshotOwner, snap: SnapshotDef, dom_name: str, dom_uuid: str,
                  flags: int) -> SnapshotDef | None:
    """virDomainSnapshotRedefinePrep and virDomainSnapshotRedefineValidate: check a
    redefinition against the tree and the snapshot it replaces (returned, None for a new
    name), then align its disks with its domain (or the replaced snapshot's)."""
    check_cycles(owner, snap, dom_name)
    other = owner.snapshots.get(snap.name or "")
    if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY and snap.state != "disk-snapshot":
        raise_error(c.VIR_ERR_INVALID_ARG,
                    f"disk-only flag for snapshot {snap.name} requires disk-snapshot state",
                    domain=c.VIR_FROM_DOMAIN_SNAPSHOT)
    uuid = snap.domain_uuid()
    if snap.domain is not None and uuid and uuid != dom_uuid:
        raise_error(c.VIR_ERR_INVALID_ARG,
                    f"definition for snapshot {snap.name} must use uuid {dom_uuid}",
                    domain=c.VIR_FROM_DOMAIN_SNAPSHOT)
    if other is not None:
        if is_online(other.state) != is_online(snap.state):
            raise_error(c.VIR_ERR_INVALID_ARG, "cannot change between online and offline "
                        f"snapshot state in snapshot {snap.name}",
                        domain=c.VIR_FROM_DOMAIN_SNAPSHOT)
        if (other.state == "disk-snapshot") != (snap.state == "disk-snapshot"):
            raise_error(c.VIR_ERR_INVALID_ARG, "cannot change between disk only and full "
                        f"system in snapshot {snap.name}",
                        domain=c.VIR_FROM_DOMAIN_SNAPSHOT)
    location = ("external" if snap.state == "disk-snapshot" or snap.is_external()
                else "internal")
    existing = other.domain if other is not None else None
    snap.align_disks(snap.domain if snap.domain is not None else existing, default=location,
                     uniform_internal=True)
    return other


def assign_redefined(owner: SnapshotOwner, snap: SnapshotDef) -> None:
    """Store a redefined snapshot (replacing a same-named one): linked again, it comes first
    among its siblings."""
    assert snap.name is not None
    owner.snapshots.pop(snap.name, None)
    owner.snapshots[snap.name] = snap


def unlink(owner: SnapshotOwner, name: str) -> list[str]:
    """Remove snapshot ``name`` from the tree (qemuSnapshotDiscardMetadata with
    update_parent): its children move up to its parent, ahead of the parent's own children,
    and if it was current its parent becomes current. Returns the moved children."""
    snap = owner.snapshots[name]
    moved = children(owner, name)
    for child in moved:
        owner.snapshots[child].parent = snap.parent
    relink(owner, moved[::-1])
    if owner.current_snapshot == name:
        owner.current_snapshot = snap.parent
    del owner.snapshots[name]
    return moved


def check_relations(owner: SnapshotOwner, dom_name: str, error_domain: int) -> None:
    """virDomainSnapshotUpdateRelations after loading: every parent must exist."""
    for snap in owner.snapshots.values():
        if snap.parent and snap.parent not in owner.snapshots:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"Snapshots have inconsistent relations for domain {dom_name}",
                        domain=error_domain)
