"""Domain snapshots of the QEMU driver with real guests (TCG) on ``qemu:///embed?root=DIR``:
internal snapshots of running guests (memory included, QMP snapshot jobs) and of shut-off ones
(qemu-img), reverts and their events, disk-only external snapshots (overlays, backing chains,
block commit on delete), the tree and the current snapshot, metadata across a restart of the
driver, and libvirt's refusals. The guest need not finish booting: what is checked is QEMU's
and the images' state, and the data disk's contents written and read with qemu-io while the
guest is shut off."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

import pyvirt
from integration.guest import ensure_test_guest
from integration.test_qemu_driver import (
    AGENT_CHANNEL,
    QEMU,
    Events,
    _start_event_loop,
    domain_xml,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
    pytest.mark.skipif(shutil.which("qemu-io") is None, reason="qemu-io is missing"),
]

E = pyvirt  # the constants
PATTERN = "0x5a"


# ---- helpers ------------------------------------------------------------------------------

def make_image(path: Path, fmt: str = "qcow2", size: str = "16M") -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), size], check=True)
    return path


def disk_xml(path: Path, target: str = "vda", fmt: str = "qcow2") -> str:
    return (f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>"
            f"<source file='{path}'/><target dev='{target}' bus='virtio'/></disk>")


def write_pattern(image: Path) -> None:
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {PATTERN} 0 64k", str(image)],
                   check=True, capture_output=True)


def has_pattern(image: Path) -> bool:
    proc = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"read -P {PATTERN} 0 64k",
                           str(image)], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and "verification failed" not in proc.stdout


def image_info(image: Path, chain: bool = False) -> dict:  # type: ignore[type-arg]
    argv = ["qemu-img", "info", "-U", "--output=json", str(image)]
    if chain:
        argv.insert(2, "--backing-chain")
    return json.loads(subprocess.run(argv, check=True, capture_output=True,
                                     text=True).stdout)


def internal_snapshots(image: Path) -> dict[str, int]:
    """Snapshot name -> size of its VM state, as the qcow2 image lists them."""
    return {s["name"]: s["vm-state-size"] for s in image_info(image).get("snapshots", [])}


def snap_xml(name: str, body: str = "") -> str:
    return f"<domainsnapshot><name>{name}</name>{body}</domainsnapshot>"


def error_of(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as exc:
        fn(*args)
    return exc.value.get_error_code(), exc.value.get_error_message()


def disk_source(xml: str) -> str:
    return xml.split("<disk type='file' device='disk'>", 1)[1].split("</disk>", 1)[0]


def lifecycle_since(events: Events, start: int, name: str) -> list[tuple[int, int]]:
    return [(e, d) for n, e, d in events.items[start:] if n == name]


def expect_events(events: Events, start: int, name: str,
                  expected: list[tuple[int, int]]) -> None:
    """The lifecycle events of ``name`` since ``start`` are exactly ``expected`` (waiting for
    the event loop to deliver them)."""
    with events.cond:
        events.cond.wait_for(lambda: len(lifecycle_since(events, start, name)) >= len(expected),
                             timeout=10)
    assert lifecycle_since(events, start, name) == expected


# ---- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guest_files() -> tuple[str, str]:
    return ensure_test_guest()


@pytest.fixture
def root(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    yield root
    # Guests a failing test left behind: end them by the pid in their status file.
    run = root / "run" / "qemu"
    if run.is_dir():
        for status in run.glob("*.xml"):
            try:
                os.kill(int(status.read_text().split("pid='", 1)[1].split("'", 1)[0]),
                        signal.SIGKILL)
            except (ValueError, IndexError, OSError):
                pass


@pytest.fixture
def conn(root: Path):  # type: ignore[no-untyped-def]
    _start_event_loop()
    c = pyvirt.open(f"qemu:///embed?root={root}")
    yield c
    for dom in c.listAllDomains(pyvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        try:
            dom.destroy()
        except pyvirt.libvirtError:
            pass
    c.close()


def guest_xml(name: str, tmp_path: Path, guest_files, devices: str) -> str:  # type: ignore[no-untyped-def]
    """The test guest with ``devices``, without VNC (other test processes' drivers pick VNC
    ports too, and two may pick the same)."""
    kernel, initrd = guest_files
    xml = domain_xml(name, tmp_path / f"{name}.log", kernel, initrd, extra_devices=devices)
    start = xml.index("<graphics")
    return xml[:start] + xml[xml.index("/>", start) + 2:]


def define(conn, tmp_path: Path, guest_files, name: str, disks: str):  # type: ignore[no-untyped-def]
    return conn.defineXML(guest_xml(name, tmp_path, guest_files, disks))


# ---- internal snapshots of a running guest --------------------------------------------------

def test_running_internal_snapshot_revert_and_delete(conn, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     guest_files) -> None:
    image = make_image(tmp_path / "data.qcow2")
    events = Events(conn)
    dom = define(conn, tmp_path, guest_files, "run", disk_xml(image))
    dom.create()
    events.wait_for(("run", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED))

    mark = len(events.items)
    snap = dom.snapshotCreateXML(snap_xml("live", "<description>booting</description>"), 0)
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED]
    expect_events(events, mark, "run", [
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)])
    xml = snap.getXMLDesc()
    assert "<state>running</state>" in xml and "<memory snapshot='internal'/>" in xml
    assert "<disk name='vda' snapshot='internal'/>" in xml and "<description>booting" in xml
    assert snap.isCurrent() and dom.hasCurrentSnapshot() and snap.hasMetadata()
    assert internal_snapshots(image)["live"] > 0  # the guest's memory is in the image

    # A paused guest's snapshot records "paused"; no pause or resume of its own.
    dom.suspend()
    paused = dom.snapshotCreateXML(snap_xml("paused"), 0)
    assert "<state>paused</state>" in paused.getXMLDesc()
    assert dom.state()[0] == E.VIR_DOMAIN_PAUSED
    assert paused.getParent().getName() == "live"
    dom.resume()

    # The disk changes while the guest is off; reverting brings back the snapshot's data
    # and a running guest: STARTED and RESUMED from the snapshot, then DEFINED.
    dom.destroy()
    events.wait_for(("run", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED))
    write_pattern(image)
    mark = len(events.items)
    dom.revertToSnapshot(snap)
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT]
    expect_events(events, mark, "run", [
        (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)])
    assert snap.isCurrent() and not paused.isCurrent()
    assert dom.ID() > 0

    # Running -> the paused snapshot: the guest stops, starts from it and stays paused.
    mark = len(events.items)
    dom.revertToSnapshot(paused)
    assert dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT]
    expect_events(events, mark, "run", [
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)])
    mark = len(events.items)
    dom.revertToSnapshot(paused, E.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT]
    expect_events(events, mark, "run", [
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT),
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)])

    # A running guest's internal snapshot must include its memory; HALT stops it after.
    assert error_of(dom.snapshotCreateXML, snap_xml("nomem", "<memory snapshot='no'/>"),
                    0) == (E.VIR_ERR_OPERATION_UNSUPPORTED, "Operation not supported: internal "
                           "snapshot of a running VM must include the memory state")
    mark = len(events.items)
    dom.snapshotCreateXML(snap_xml("halted"), E.VIR_DOMAIN_SNAPSHOT_CREATE_HALT)
    assert dom.state() == [E.VIR_DOMAIN_SHUTOFF, E.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT]
    expect_events(events, mark, "run", [
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)])
    assert sorted(internal_snapshots(image)) == ["halted", "live", "paused"]

    # Delete: shut off, qemu-img drops it from the image; running, QMP's snapshot-delete.
    dom.snapshotLookupByName("halted").delete()
    assert sorted(internal_snapshots(image)) == ["live", "paused"]
    assert dom.snapshotCurrent().getName() == "paused"  # the deleted one's parent
    dom.create()
    paused.delete()
    assert sorted(internal_snapshots(image)) == ["live"]
    assert dom.snapshotListNames() == ["live"] and dom.snapshotCurrent().getName() == "live"
    dom.destroy()


# ---- internal snapshots of a shut-off guest, the tree, undefine ---------------------------

def test_shutoff_snapshots_tree_and_undefine(conn, root: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             guest_files) -> None:
    image = make_image(tmp_path / "off.qcow2")
    events = Events(conn)
    dom = define(conn, tmp_path, guest_files, "off", disk_xml(image))
    a = dom.snapshotCreateXML(snap_xml("a"), 0)
    xml = a.getXMLDesc()
    assert "<state>shutoff</state>" in xml and "<memory snapshot='no'/>" in xml
    assert internal_snapshots(image) == {"a": 0}
    write_pattern(image)
    dom.snapshotCreateXML(snap_xml("b"), 0)  # a -> b
    dom.snapshotCreateXML(snap_xml("c"), 0)  # a -> b -> c

    # Revert to "a": the image loses the pattern; the domain stays off (DEFINED only).
    events.wait_for(("off", E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED))
    mark = len(events.items)
    dom.revertToSnapshot(a)
    assert not has_pattern(image)
    assert dom.state()[0] == E.VIR_DOMAIN_SHUTOFF
    expect_events(events, mark, "off", [
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)])
    dom.snapshotCreateXML(snap_xml("d"), 0)  # a -> {b -> c, d}

    assert dom.snapshotNum() == 4
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == ["a"]
    assert a.listChildrenNames() == ["d", "b"]  # newest first, as libvirt links them
    assert a.numChildren(E.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) == 3
    assert sorted(dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)) == ["c", "d"]
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)[0] == "a"
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE
                                 | E.VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL) != []
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL) == []
    assert [s.getName() for s in a.listAllChildren()] == ["d", "b"]
    assert [s.getName() for s in dom.listAllSnapshots()] == ["a", "b", "c", "d"]
    assert dom.snapshotCurrent().getName() == "d"
    assert [d.name() for d in conn.listAllDomains(E.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT)] \
        == ["off"]

    # Revert to a shut-off snapshot and ask for a running guest.
    dom.revertToSnapshot(dom.snapshotLookupByName("b"), E.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_BOOTED]
    assert has_pattern_after_destroy(dom, image)

    # Deletes: children only, then metadata only (the image keeps the snapshot).
    dom.snapshotLookupByName("b").delete(E.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
    assert sorted(dom.snapshotListNames()) == ["a", "b", "d"]
    assert "c" not in internal_snapshots(image)
    dom.snapshotLookupByName("d").delete(E.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
    assert "d" in internal_snapshots(image)
    assert dom.snapshotCurrent().getName() == "b"
    a.delete()  # its child moves up
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == ["b"]
    files = sorted(p.name for p in (root / "lib" / "qemu" / "snapshot" / "off").iterdir())
    assert files == ["b.xml"]
    assert "<active>1</active>" in (root / "lib" / "qemu" / "snapshot" / "off" / "b.xml"
                                    ).read_text()

    assert error_of(dom.undefine) == (
        E.VIR_ERR_OPERATION_INVALID,
        "Requested operation is not valid: cannot delete inactive domain with 1 snapshots")
    dom.undefineFlags(E.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    assert not (root / "lib" / "qemu" / "snapshot" / "off").exists()
    assert "b" in internal_snapshots(image)  # metadata only


def has_pattern_after_destroy(dom, image: Path) -> bool:  # type: ignore[no-untyped-def]
    dom.destroy()
    return has_pattern(image)


# ---- disk-only external snapshots -----------------------------------------------------------

def test_disk_only_external_snapshots(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    base = make_image(tmp_path / "base.qcow2")
    dom = define(conn, tmp_path, guest_files, "ext", disk_xml(base))
    dom.create()

    # QUIESCE needs DISK_ONLY, then a guest agent.
    assert error_of(dom.snapshotCreateXML, snap_xml("q"), E.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
                    )[0] == E.VIR_ERR_INVALID_ARG
    assert error_of(dom.snapshotCreateXML, snap_xml("q"),
                    E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
                    | E.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE) == (
        E.VIR_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported: QEMU guest agent is not "
                                        "configured")
    assert not (tmp_path / "base.q").exists()

    # Running: the overlay gets the default name, QEMU switches to it, both definitions
    # show it with the old image as its backing store.
    snap = dom.snapshotCreateXML(snap_xml("s1"), E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
                                 | E.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
    overlay = tmp_path / "base.s1"
    assert overlay.exists()
    assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
    xml = snap.getXMLDesc()
    assert "<state>disk-snapshot</state>" in xml and "<memory snapshot='no'/>" in xml
    assert f"<source file='{overlay}'/>" in xml and "snapshot='external'" in xml
    for flags in (0, E.VIR_DOMAIN_XML_INACTIVE):
        disk = disk_source(dom.XMLDesc(flags))
        assert f"<source file='{overlay}'/>" in disk
        assert "<backingStore type='file'>" in disk and f"<source file='{base}'/>" in disk
    chain = image_info(overlay, chain=True)
    assert [i["filename"] for i in chain] == [str(overlay), str(base)]
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL
                                 | E.VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY) == ["s1"]

    # A second one, with the overlay named in the XML, stacks on the first.
    top = tmp_path / "top.qcow2"
    dom.snapshotCreateXML(snap_xml("s2", f"<disks><disk name='vda'><source file='{top}'/>"
                                         "</disk></disks>"),
                          E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)
    assert [i["filename"] for i in image_info(top, chain=True)] == [
        str(top), str(overlay), str(base)]
    assert error_of(dom.snapshotCreateXML, snap_xml("s3", f"<disks><disk name='vda'>"
                                                    f"<source file='{top}'/></disk></disks>"),
                    E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY) == (
        E.VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: external snapshot file for "
        f"disk vda already exists and is not a block device: {top}")
    assert error_of(dom.revertToSnapshot, snap) == (
        E.VIR_ERR_CONFIG_UNSUPPORTED,
        "unsupported configuration: revert to external snapshot not supported yet")

    # Deleting the older one commits its overlay into the image below, under the newer one
    # (whose record of the domain now names that image); deleting the newest is an active
    # commit: the guest pivots back to the base image.
    snap.delete()
    assert not overlay.exists()
    assert [i["filename"] for i in image_info(top, chain=True)] == [str(top), str(base)]
    assert f"<source file='{base}'/>" in disk_source(dom.snapshotLookupByName("s2")
                                                     .getXMLDesc().split("<domain ", 1)[1])
    dom.snapshotLookupByName("s2").delete()
    assert not top.exists()
    assert f"<source file='{base}'/>" in disk_source(dom.XMLDesc())
    assert dom.listAllSnapshots() == []
    dom.destroy()

    # Shut off: qemu-img makes the overlay; the definition names it (its backing chain is
    # read from the image, as libvirt leaves it); the guest starts on it.
    snap3 = dom.snapshotCreateXML(snap_xml("off3"), E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)
    assert "<state>shutoff</state>" in snap3.getXMLDesc()
    off_overlay = tmp_path / "base.off3"
    assert image_info(off_overlay)["backing-filename"] == str(base)
    assert f"<source file='{off_overlay}'/>" in disk_source(dom.XMLDesc())
    dom.create()
    assert dom.state()[0] == E.VIR_DOMAIN_RUNNING
    dom.destroy()
    # ... and deleting it offline commits it with qemu-img
    snap3.delete()
    assert not off_overlay.exists()
    assert f"<source file='{base}'/>" in disk_source(dom.XMLDesc())


def test_external_full_system_snapshot(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    base = make_image(tmp_path / "sys.qcow2")
    events = Events(conn)
    dom = define(conn, tmp_path, guest_files, "full", disk_xml(base))
    dom.create()
    events.wait_for(("full", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED))
    memory = tmp_path / "full.mem"
    mark = len(events.items)
    # LIVE: the guest runs while its memory is written; QEMU stops it at the end, the disks
    # switch to overlays, and it runs again.
    snap = dom.snapshotCreateXML(snap_xml("full", f"<memory snapshot='external' "
                                                  f"file='{memory}'/>"),
                                 E.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE)
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED]
    expect_events(events, mark, "full", [
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)])
    assert memory.read_bytes()[:16] == b"LibvirtQemudSave"
    assert "<name>full</name>" in conn.saveImageGetXMLDesc(str(memory))
    xml = snap.getXMLDesc()
    assert "<state>running</state>" in xml and f"file='{memory}'" in xml
    assert f"<source file='{tmp_path / 'sys.full'}'/>" in disk_source(dom.XMLDesc())
    assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
                                 | E.VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL) == ["full"]
    dom.destroy()


# ---- metadata on disk -----------------------------------------------------------------------

def test_metadata_survives_driver_restart(root: Path, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    image = make_image(tmp_path / "keep.qcow2")
    uri = f"qemu:///embed?root={root}"
    conn = pyvirt.open(uri)
    dom = define(conn, tmp_path, guest_files, "keep", disk_xml(image))
    for name in ("one", "two", "three"):
        dom.snapshotCreateXML(snap_xml(name), 0)
    dom.revertToSnapshot(dom.snapshotLookupByName("two"))
    before = {s.getName(): s.getXMLDesc() for s in dom.listAllSnapshots()}
    conn.close()  # the last connection: the driver instance goes away

    conn = pyvirt.open(uri)
    try:
        dom = conn.lookupByName("keep")
        assert {s.getName(): s.getXMLDesc() for s in dom.listAllSnapshots()} == before
        assert dom.snapshotCurrent().getName() == "two"
        assert dom.snapshotLookupByName("three").getParent().getName() == "two"
        assert dom.snapshotListNames(E.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == ["one"]
        # redefine from the metadata: replaced in place, current on request
        xml = before["one"]
        dom.snapshotLookupByName("one").delete(E.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        dom.snapshotCreateXML(xml, E.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
                              | E.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT)
        assert dom.snapshotCurrent().getName() == "one"
        assert error_of(dom.snapshotCreateXML, xml.replace("<name>one</name>",
                                                           "<name>x</name>").replace(
            "<creationTime>", "<parent><name>nope</name></parent><creationTime>"),
            E.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE) == (
            E.VIR_ERR_INVALID_ARG, "invalid argument: parent nope for moment x not found")
    finally:
        conn.close()


# ---- refusals -------------------------------------------------------------------------------

def test_bad_input(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    data = make_image(tmp_path / "d.qcow2")
    raw = make_image(tmp_path / "r.img", fmt="raw")
    dom = define(conn, tmp_path, guest_files, "bad",
                 disk_xml(data) + disk_xml(raw, "vdb", "raw"))
    assert error_of(dom.snapshotCreateXML, snap_xml("s"), 0) == (
        E.VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: internal snapshot for disk "
                                      "vdb unsupported for storage type raw")
    # an internal snapshot takes every disk (but those the domain excludes)
    assert error_of(dom.snapshotCreateXML, snap_xml(
        "s", "<disks><disk name='vdb' snapshot='no'/></disks>"), 0)[1] == (
        "unsupported configuration: disk 'vdb' must use snapshot mode 'internal'")
    excluded = define(conn, tmp_path, guest_files, "excl", disk_xml(
        make_image(tmp_path / "e.qcow2")) + disk_xml(raw, "vdb", "raw").replace(
        "device='disk'>", "device='disk' snapshot='no'>"))
    assert error_of(excluded.snapshotCreateXML, snap_xml("s"), 0)[1] == (
        "unsupported configuration: internal and full system snapshots require all disks to "
        "be selected for snapshot")
    # internal and external do not mix
    assert error_of(dom.snapshotCreateXML, snap_xml(
        "s", "<disks><disk name='vda' snapshot='internal'/></disks>"),
        E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)[1] == (
        "unsupported configuration: mixing internal and external targets for a snapshot is "
        "not yet supported")
    assert not any(p.name.startswith("r.s") for p in tmp_path.iterdir())

    data_only = define(conn, tmp_path, guest_files, "good", disk_xml(
        make_image(tmp_path / "g.qcow2")))
    data_only.snapshotCreateXML(snap_xml("s"), 0)
    assert error_of(data_only.snapshotCreateXML, snap_xml("s"), 0) == (
        E.VIR_ERR_OPERATION_FAILED, "operation failed: domain moment s already exists")
    assert error_of(data_only.snapshotLookupByName, "nope") == (
        E.VIR_ERR_NO_DOMAIN_SNAPSHOT,
        "Domain snapshot not found: no domain snapshot with matching name 'nope'")
    assert error_of(data_only.snapshotCreateXML, snap_xml("a/b"), 0) == (
        E.VIR_ERR_XML_DETAIL, "invalid snapshot name 'a/b': name can't contain '/'")
    assert error_of(data_only.snapshotCreateXML, snap_xml("l"),
                    E.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE) == (
        E.VIR_ERR_OPERATION_UNSUPPORTED, "Operation not supported: live snapshot creation is "
                                         "supported only during full system snapshots")
    assert error_of(data_only.snapshotLookupByName("s").getParent)[0] == \
        E.VIR_ERR_NO_DOMAIN_SNAPSHOT
    data_only.snapshotLookupByName("s").delete()
    assert error_of(data_only.snapshotCurrent) == (
        E.VIR_ERR_NO_DOMAIN_SNAPSHOT,
        "Domain snapshot not found: the domain does not have a current snapshot")

    transient = conn.createXML(guest_xml("tr", tmp_path, guest_files, disk_xml(
        make_image(tmp_path / "t.qcow2")) + AGENT_CHANNEL))
    assert error_of(transient.snapshotCreateXML, snap_xml("h"),
                    E.VIR_DOMAIN_SNAPSHOT_CREATE_HALT) == (
        E.VIR_ERR_OPERATION_INVALID,
        "Requested operation is not valid: cannot halt after transient domain snapshot")
    # QUIESCE asks the guest agent to freeze filesystems: this guest's has not started yet
    assert error_of(transient.snapshotCreateXML, snap_xml("q"),
                    E.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
                    | E.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE) == (
        E.VIR_ERR_AGENT_UNRESPONSIVE,
        "Guest agent is not responding: QEMU guest agent is not connected")
    assert transient.snapshotNum() == 0
    transient.destroy()
