"""The snapshot bookkeeping the drivers share (drivers/snapshot_tree.py): link order, lists and
their filters, the current snapshot through deletes, redefinition checks."""

from __future__ import annotations

import pytest

from pyvirt import constants as c
from pyvirt.conf.snapshot import SnapshotDef, SnapshotDiskDef
from pyvirt.drivers import snapshot_tree as tree
from pyvirt.errors import libvirtError


def build(*links: tuple[str, str | None, str], current: str | None = None
          ) -> tree.SnapshotTree:
    """A tree from (name, parent, state) in link order."""
    out = tree.SnapshotTree()
    for name, parent, state in links:
        out.snapshots[name] = SnapshotDef(name=name, parent=parent, state=state)
    out.current_snapshot = current
    return out


def names(owner: tree.SnapshotTree, parent: str | None = None, flags: int = 0) -> list[str]:
    return tree.list_names(owner, parent, flags, "testApi", c.VIR_FROM_QEMU)


def error(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(libvirtError) as exc:
        fn(*args)
    return exc.value.get_error_code(), exc.value.get_error_domain(), exc.value.get_error_message()


@pytest.fixture
def sample() -> tree.SnapshotTree:
    # a -> {b -> c, d}; e is a second root; d is a disk-only snapshot
    t = build(("a", None, "shutoff"), ("b", "a", "running"), ("c", "b", "paused"),
              ("d", "a", "disk-snapshot"), ("e", None, "shutoff"), current="c")
    t.snapshots["d"].disks = [SnapshotDiskDef(name="vda", snapshot="external")]
    return t


def test_children_newest_link_first_and_descendants(sample: tree.SnapshotTree) -> None:
    assert tree.children(sample, None) == ["e", "a"]
    assert tree.children(sample, "a") == ["d", "b"]
    assert tree.descendants(sample, "a") == ["d", "b", "c"]
    assert tree.descendants(sample, "a", deep=False) == ["d", "b"]
    # reversed, every snapshot comes after all of its descendants (deletion order)
    order = list(reversed(tree.descendants(sample, None)))
    assert order.index("c") < order.index("b") < order.index("a")


def test_list_filters(sample: tree.SnapshotTree) -> None:
    assert names(sample) == ["a", "b", "c", "d", "e"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == ["e", "a"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL) == ["e", "a", "d", "b",
                                                                            "c"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES) == ["c", "d", "e"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES) == ["a", "b"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE) == ["b", "c"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE
                 | c.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY) == ["a", "d", "e"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL) == ["d"]
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL) == ["a", "b", "c", "e"]
    # every snapshot has metadata: NO_METADATA alone selects none, with METADATA all
    assert names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA) == []
    assert len(names(sample, flags=c.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA
                     | c.VIR_DOMAIN_SNAPSHOT_LIST_METADATA)) == 5
    assert names(sample, "a") == ["d", "b"]
    assert names(sample, "a", c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) == ["d", "b", "c"]
    code, _dom, msg = error(names, sample, None, 1 << 20)
    assert code == c.VIR_ERR_INVALID_ARG and "in function testApi" in msg


def test_lookups(sample: tree.SnapshotTree) -> None:
    assert tree.lookup(sample, "b", c.VIR_FROM_QEMU).name == "b"
    assert error(tree.lookup, sample, "zz", c.VIR_FROM_QEMU) == (
        c.VIR_ERR_NO_DOMAIN_SNAPSHOT, c.VIR_FROM_QEMU,
        "Domain snapshot not found: no domain snapshot with matching name 'zz'")
    assert tree.current_name(sample, c.VIR_FROM_QEMU) == "c"
    sample.current_snapshot = None
    assert error(tree.current_name, sample, c.VIR_FROM_TEST)[:2] == (
        c.VIR_ERR_NO_DOMAIN_SNAPSHOT, c.VIR_FROM_TEST)
    assert tree.parent_name(sample.snapshots["b"], c.VIR_FROM_QEMU) == "a"
    assert error(tree.parent_name, sample.snapshots["a"], c.VIR_FROM_QEMU)[2].endswith(
        "snapshot 'a' does not have a parent")


def test_add_links_under_current_and_refuses_duplicates(sample: tree.SnapshotTree) -> None:
    tree.add(sample, SnapshotDef(name="f", state="running"))
    assert sample.snapshots["f"].parent == "c"
    assert tree.children(sample, "c") == ["f"]
    assert sample.current_snapshot == "c"  # the caller makes it current
    assert error(tree.add, sample, SnapshotDef(name="a")) == (
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_DOMAIN,
        "operation failed: domain moment a already exists")


def test_unlink_moves_children_up_and_current_to_parent(sample: tree.SnapshotTree) -> None:
    moved = tree.unlink(sample, "b")
    assert moved == ["c"] and sample.snapshots["c"].parent == "a"
    assert tree.children(sample, "a") == ["c", "d"]  # moved children come first
    assert tree.unlink(sample, "c") == [] and sample.current_snapshot == "a"
    tree.unlink(sample, "a")
    assert sample.current_snapshot is None
    assert tree.children(sample, None) == ["d", "e"]


def test_check_cycles() -> None:
    t = build(("a", None, "shutoff"), ("b", "a", "shutoff"))
    tree.check_cycles(t, SnapshotDef(name="x", parent="b"), "dom")
    assert error(tree.check_cycles, t, SnapshotDef(name="x", parent="x"), "dom")[2] == \
        "invalid argument: cannot set moment x as its own parent"
    assert error(tree.check_cycles, t, SnapshotDef(name="x", parent="q"), "dom")[2] == \
        "invalid argument: parent q for moment x not found"
    assert error(tree.check_cycles, t, SnapshotDef(name="a", parent="b"), "dom")[2] == \
        "invalid argument: parent b would create cycle to a"


def test_redefine_prep_checks_the_replaced_snapshot() -> None:
    from pyvirt.conf.snapshot import RawDomain
    from pyvirt.conf.xmlutil import parse_xml

    uuid = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
    dom = RawDomain(parse_xml(f"<domain><uuid>{uuid}</uuid></domain>"))
    t = build(("a", None, "running"))
    t.snapshots["a"].domain = dom

    def redefined(state: str, flags: int = 0, uuid_: str = uuid):  # type: ignore[no-untyped-def]
        snap = SnapshotDef(name="a", state=state,
                           domain=RawDomain(parse_xml(f"<domain><uuid>{uuid_}</uuid></domain>")))
        return tree.redefine_prep(t, snap, "dom", uuid, flags)

    assert redefined("paused") is t.snapshots["a"]
    assert error(redefined, "shutoff") == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN_SNAPSHOT, "invalid argument: cannot change "
        "between online and offline snapshot state in snapshot a")
    assert error(redefined, "running", c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)[2] == (
        "invalid argument: disk-only flag for snapshot a requires disk-snapshot state")
    other = "00000000-0000-0000-0000-000000000001"
    assert error(redefined, "running", 0, other)[2] == (
        f"invalid argument: definition for snapshot a must use uuid {uuid}")
    # without a domain of its own nor a replaced snapshot's, disks cannot be aligned
    assert error(tree.redefine_prep, t, SnapshotDef(name="n", state="shutoff"), "dom", uuid,
                 0)[2] == "internal error: missing domain in snapshot"
    tree.assign_redefined(t, SnapshotDef(name="a", state="paused"))
    assert t.snapshots["a"].state == "paused"
