"""The storage driver's dir pools, through qemu:///embed (real files, real qemu-img)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt.drivers.storage.volfile import probe_file

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")

MiB = 1024 * 1024


def vol_xml(name: str, capacity: int, extra: str = "") -> str:
    return f"<volume><name>{name}</name><capacity>{capacity}</capacity>{extra}</volume>"


def fmt(name: str) -> str:
    return f"<target><format type='{name}'/></target>"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.virConnect]:
    conn = pyvirt.open(f"qemu:///embed?root={tmp_path}/root")
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def pool(conn: pyvirt.virConnect, tmp_path: Path) -> pyvirt.virStoragePool:
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>p</name><target><path>{tmp_path}/images</path></target></pool>")
    pool.build(0)
    pool.create(0)
    return pool


def error_of(func: object, *args: object) -> tuple[int | None, int | None, str | None]:
    with pytest.raises(pyvirt.libvirtError) as info:
        func(*args)  # type: ignore[operator]
    err = info.value
    return err.get_error_code(), err.get_error_domain(), err.get_error_message()


def storage_events(conn: pyvirt.virConnect) -> list[tuple[int, str, int]]:
    """(event id, pool name, lifecycle event or -1) of every storage event from now on."""
    seen: list[tuple[int, str, int]] = []
    drv = conn._drv.secondary_driver(c.VIR_FROM_STORAGE)
    drv.events.add_listener(lambda ev: seen.append(
        (ev.event_id, ev.name, getattr(ev, "event", -1))))
    return seen


def test_pool_lifecycle_state_and_events(conn: pyvirt.virConnect, tmp_path: Path) -> None:
    events = storage_events(conn)
    root = tmp_path / "root"
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>p</name><target><path>{tmp_path}/images</path></target></pool>")
    assert (root / "etc/storage/p.xml").exists()
    assert pool.info()[0] == c.VIR_STORAGE_POOL_INACTIVE
    pool.build(0)
    assert (tmp_path / "images").is_dir() and (tmp_path / "images").stat().st_mode & 0o777 == 0o711
    pool.create(0)
    assert (root / "run/storage/p.xml").exists()
    state, capacity, allocation, available = pool.info()
    vfs = os.statvfs(tmp_path / "images")
    assert state == c.VIR_STORAGE_POOL_RUNNING and capacity == vfs.f_blocks * vfs.f_frsize
    assert allocation + available == capacity
    xml = pool.XMLDesc()
    assert "<mode>0711</mode>" in xml and f"<path>{tmp_path}/images</path>" in xml
    pool.setAutostart(1)
    link = root / "etc/storage/autostart/p.xml"
    assert os.readlink(link) == str(root / "etc/storage/p.xml") and pool.autostart() == 1
    pool.refresh(0)
    assert conn.listAllStoragePools(c.VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART)[0].name() == "p"
    assert conn.listAllStoragePools(c.VIR_CONNECT_LIST_STORAGE_POOLS_LOGICAL) == []
    assert conn.storagePoolLookupByTargetPath(f"{tmp_path}/images/").name() == "p"
    assert error_of(pool.undefine) == (c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_STORAGE,
                                       "Requested operation is not valid: storage pool 'p' is "
                                       "still active")
    pool.destroy()
    assert not (root / "run/storage/p.xml").exists()
    pool.delete(0)
    assert not (tmp_path / "images").exists()
    pool.undefine()
    assert not link.exists() and not (root / "etc/storage/p.xml").exists()
    life = c.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE
    assert events == [(life, "p", c.VIR_STORAGE_POOL_EVENT_DEFINED),
                      (life, "p", c.VIR_STORAGE_POOL_EVENT_CREATED),
                      (life, "p", c.VIR_STORAGE_POOL_EVENT_STARTED),
                      (c.VIR_STORAGE_POOL_EVENT_ID_REFRESH, "p", -1),
                      (life, "p", c.VIR_STORAGE_POOL_EVENT_STOPPED),
                      (life, "p", c.VIR_STORAGE_POOL_EVENT_DELETED),
                      (life, "p", c.VIR_STORAGE_POOL_EVENT_UNDEFINED)]


def test_transient_pool_goes_with_destroy(conn: pyvirt.virConnect, tmp_path: Path) -> None:
    xml = f"<pool type='dir'><name>t</name><target><path>{tmp_path}/t</path></target></pool>"
    assert error_of(conn.storagePoolCreateXML, xml, 0)[2] == (
        f"cannot open directory '{tmp_path}/t': No such file or directory")
    assert conn.listAllStoragePools(0) == []
    pool = conn.storagePoolCreateXML(xml, c.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    assert pool.isPersistent() == 0 and pool.isActive() == 1
    assert error_of(pool.setAutostart, 1)[2] == "internal error: pool has no config file"
    pool.destroy()
    assert error_of(conn.storagePoolLookupByName, "t")[0] == c.VIR_ERR_NO_STORAGE_POOL


def test_volumes_backing_clone_resize_wipe(pool: pyvirt.virStoragePool, tmp_path: Path) -> None:
    images = tmp_path / "images"
    base = pool.createXML(vol_xml("base.qcow2", 100 * MiB, fmt("qcow2")), 0)
    top = pool.createXML(vol_xml("top.qcow2", 200 * MiB, fmt("qcow2")
                                 + f"<backingStore><path>{images}/base.qcow2</path>"
                                 "<format type='qcow2'/></backingStore>"), 0)
    info = probe_file(str(images / "top.qcow2"))
    assert (info.format, info.capacity, info.backing, info.backing_format) == (
        "qcow2", 200 * MiB, f"{images}/base.qcow2", "qcow2")
    xml = top.XMLDesc()
    assert "<backingStore>" in xml and f"<path>{images}/base.qcow2</path>" in xml
    assert top.key() == top.path() == f"{images}/top.qcow2"
    assert base.info() == [c.VIR_STORAGE_VOL_FILE, 100 * MiB, base.info()[2]]

    clone = pool.createXMLFrom(vol_xml("clone.qcow2", 0, fmt("qcow2")), top, 0)
    assert clone.info()[1] == 200 * MiB
    raw = pool.createXMLFrom(vol_xml("flat.img", 0, fmt("raw")), top, 0)
    assert probe_file(raw.path()).format == "raw"
    assert os.path.getsize(raw.path()) == 200 * MiB

    clone.resize(300 * MiB, 0)
    assert clone.info()[1] == 300 * MiB
    assert error_of(clone.resize, 100 * MiB, 0)[2] == (
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag "
        "explicitly specified")
    clone.resize(250 * MiB, c.VIR_STORAGE_VOL_RESIZE_SHRINK)
    assert probe_file(clone.path()).capacity == 250 * MiB
    raw.resize(10 * MiB, c.VIR_STORAGE_VOL_RESIZE_SHRINK | c.VIR_STORAGE_VOL_RESIZE_DELTA)
    assert os.path.getsize(raw.path()) == 190 * MiB

    with open(raw.path(), "r+b") as fh:
        fh.write(b"\xaa" * 4096)
    raw.wipe(0)
    with open(raw.path(), "rb") as fh:
        assert fh.read(4096) == bytes(4096)
    assert error_of(raw.wipePattern, c.VIR_STORAGE_VOL_WIPE_ALG_TRIM, 0) == (
        c.VIR_ERR_ARGUMENT_UNSUPPORTED, c.VIR_FROM_STORAGE,
        "argument unsupported: 'trim' algorithm not supported")
    assert error_of(raw.wipePattern, 99, 0)[2] == "invalid argument: wiping algorithm 99 not " \
                                                  "supported"
    assert sorted(pool.listVolumes()) == ["base.qcow2", "clone.qcow2", "flat.img", "top.qcow2"]
    clone.delete(0)
    assert not os.path.exists(images / "clone.qcow2")
    assert error_of(clone.info)[2] == ("Storage volume not found: no storage vol with matching "
                                       "name 'clone.qcow2'")


def test_upload_download_sparse_64mib(pool: pyvirt.virStoragePool, tmp_path: Path) -> None:
    conn = pool.connect()
    vol = pool.createXML(vol_xml("disk.img", 64 * MiB, "<allocation>0</allocation>"), 0)
    src = tmp_path / "src.img"
    with open(src, "wb") as fh:
        fh.write(os.urandom(8 * MiB))
        fh.seek(48 * MiB)  # a 40 MiB hole
        fh.write(os.urandom(16 * MiB))
    st = conn.newStream(0)
    vol.upload(st, 0, 0, c.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
    fd = os.open(src, os.O_RDONLY)
    pos = 0
    end = os.fstat(fd).st_size

    def read(_st: object, nbytes: int, _o: object) -> bytes:
        nonlocal pos
        data = os.pread(fd, nbytes, pos)
        pos += len(data)
        return data

    def skip(_st: object, length: int, _o: object) -> int:
        nonlocal pos
        pos += length
        return 0

    def in_data(_st: object, _o: object) -> tuple[int, int]:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            return 0, end - pos
        if data > pos:
            return 0, data - pos
        return 1, os.lseek(fd, pos, os.SEEK_HOLE) - pos

    try:
        st.sparseSendAll(read, in_data, skip, None)
    finally:
        os.close(fd)
    st.finish()
    stored = Path(vol.path())
    assert stored.read_bytes() == src.read_bytes()
    assert stored.stat().st_blocks * 512 < 30 * MiB  # the hole stayed a hole
    assert vol.info()[2] == stored.stat().st_blocks * 512

    got = bytearray()
    holes: list[int] = []
    st = conn.newStream(0)
    vol.download(st, 0, 0, c.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)

    def on_hole(_s: object, length: int, _o: object) -> int:
        holes.append(length)
        got.extend(bytes(length))
        return 0

    def on_data(_s: object, data: bytes, _o: object) -> int:
        got.extend(data)
        return len(data)

    st.sparseRecvAll(on_data, on_hole, None)
    st.finish()
    assert bytes(got) == src.read_bytes() and sum(holes) >= 40 * MiB


def test_restart_keeps_active_pools_and_autostarts(tmp_path: Path) -> None:
    uri = f"qemu:///embed?root={tmp_path}/root"
    conn = pyvirt.open(uri)
    for name in ("keep", "auto"):
        pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target>"
                                         f"<path>{tmp_path}/{name}</path></target></pool>")
        pool.build(0)
    conn.storagePoolLookupByName("keep").create(0)
    conn.storagePoolLookupByName("keep").createXML(vol_xml("v", MiB), 0)
    conn.storagePoolLookupByName("auto").setAutostart(1)
    conn.close()  # last user: the driver instance goes; its state stays on disk
    conn = pyvirt.open(uri)
    try:
        assert sorted(conn.listStoragePools()) == ["auto", "keep"]
        assert conn.storagePoolLookupByName("keep").listVolumes() == ["v"]
        assert conn.storageVolLookupByPath(f"{tmp_path}/keep/v").name() == "v"
    finally:
        conn.close()


def test_bad_input_leaves_nothing(conn: pyvirt.virConnect, pool: pyvirt.virStoragePool,
                                  tmp_path: Path) -> None:
    images = tmp_path / "images"
    before = sorted(os.listdir(images))
    (tmp_path / "afile").write_text("x")
    filepool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>f</name><target><path>{tmp_path}/afile</path></target></pool>")
    assert error_of(filepool.create, 0) == (
        c.VIR_ERR_SYSTEM_ERROR, c.VIR_FROM_NONE,
        f"cannot open directory '{tmp_path}/afile': Not a directory")
    assert error_of(filepool.build, 0)[2] == (
        f"failed to create directory '{tmp_path}/afile': File exists")
    assert (tmp_path / "afile").read_text() == "x" and filepool.isActive() == 0
    filepool.undefine()
    cases = {
        "a/b": (c.VIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: volume name 'a/b' cannot contain '/'"),
        "..": (c.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: volume target "
               f"path '{images}/..' already exists"),
    }
    for name, (code, message) in cases.items():
        assert error_of(pool.createXML, vol_xml(name, MiB), 0) == (code, c.VIR_FROM_STORAGE,
                                                                    message)
    pool.createXML(vol_xml("dup", MiB), 0)
    assert error_of(pool.createXML, vol_xml("dup", MiB), 0) == (
        c.VIR_ERR_STORAGE_VOL_EXIST, c.VIR_FROM_STORAGE, "storage volume 'dup' exists already")
    assert error_of(pool.createXMLFrom, vol_xml("dup", 0), pool.storageVolLookupByName("dup"),
                    0)[2] == "internal error: storage volume name 'dup' already in use."
    huge = 4 * pool.info()[1]
    assert error_of(pool.createXML, vol_xml("huge", huge), 0) == (
        c.VIR_ERR_SYSTEM_ERROR, c.VIR_FROM_STORAGE,
        f"cannot allocate {huge} bytes in file '{images}/huge': No space left on device")
    assert error_of(pool.createXML, vol_xml("bad", MiB, fmt("foo")), 0)[2] == (
        "unsupported configuration: unknown volume format type foo")
    assert error_of(pool.createXML, vol_xml("rawback", MiB, "<backingStore><path>"
                                            f"{images}/dup</path></backingStore>"), 0)[2] == (
        "this function is not supported by the connection driver: backing storage not "
        "supported for raw volumes")
    assert error_of(pool.createXML, vol_xml("nob", MiB, fmt("qcow2") + "<backingStore><path>"
                                            "/nonexistent</path></backingStore>"), 0)[2] == (
        "inaccessible backing store volume /nonexistent: No such file or directory")
    assert error_of(conn.storagePoolDefineXML,
                    "<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>"
                    ) == (c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
                          "XML error: name a/b cannot contain '/'")
    assert error_of(conn.storagePoolDefineXML, f"<pool type='dir'><name>p2</name><target><path>"
                    f"{images}</path></target></pool>")[2] == (
        "operation failed: Storage source conflict with pool: 'p'")
    assert error_of(conn.storagePoolDefineXML, "<pool type='dir'><name>p</name><target><path>"
                    "/elsewhere</path></target></pool>")[2] == (
        f"operation failed: pool 'p' already exists with uuid {pool.UUIDString()}")
    assert sorted(os.listdir(images)) == sorted([*before, "dup"])
    assert sorted(os.listdir(tmp_path / "root/etc/storage")) == ["autostart", "p.xml"]


def test_lookup_errors(conn: pyvirt.virConnect, pool: pyvirt.virStoragePool) -> None:
    assert error_of(conn.storageVolLookupByKey, "/nonexist") == (
        c.VIR_ERR_NO_STORAGE_VOL, c.VIR_FROM_STORAGE,
        "Storage volume not found: no storage vol with matching key /nonexist")
    assert error_of(conn.storageVolLookupByPath, "/nonexist")[2] == (
        "Storage volume not found: no storage vol with matching path '/nonexist'")
    assert error_of(pool.storageVolLookupByName, "x")[2] == (
        "Storage volume not found: no storage vol with matching name 'x'")
    pool.destroy()
    assert error_of(pool.listVolumes)[2] == ("Requested operation is not valid: storage pool "
                                             "'p' is not active")
    assert error_of(pool.destroy)[2] == ("Requested operation is not valid: storage pool 'p' "
                                         "is not active")
