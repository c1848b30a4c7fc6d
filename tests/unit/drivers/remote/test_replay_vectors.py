"""pyvirt's remote client against captured sessions: for the same API calls it must send the
same bytes as the real client (libvirt-python, or virsh through the C library) did, and make
sense of what the real libvirtd answered.

Each scenario opens ``<scheme>+unix:///...?socket=<replay server>``, makes the calls the
captured program made (values taken from the capture), and the replay server compares every
frame. "virsh" scenarios run as virsh does: an event loop implementation registered (so the
client probes PROGRAM_KEEPALIVE and watches the connection in the background) and a close
callback registered for the connection's lifetime. Vectors not replayed: ``null_uri_probe``
(pyvirt resolves a missing URI itself), ``raw_client_errors`` and ``admin_session`` (not a
client library's traffic), ``keepalive_*`` (timing).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.events import loop
from unit.drivers.remote.replay import VECTORS, ReplayServer, bodies, load

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="no captured vectors")


@pytest.fixture
def event_loop_thread() -> Iterator[None]:
    """virsh's event loop: the default implementation, run in a thread."""
    loop._reset_for_tests()
    pyvirt.virEventRegisterDefaultImpl()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            pyvirt.virEventRunDefaultImpl()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    pyvirt.virEventInterruptDefaultImpl() if hasattr(pyvirt, "virEventInterruptDefaultImpl") \
        else loop.interrupt_default_impl()
    thread.join(5)
    loop._reset_for_tests()


@pytest.fixture(autouse=True)
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The captures were made as root (CONNECT_OPEN flags without the per-user bit)."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    pyvirt.registerErrorHandler(lambda *_: None, None)


def replay(tmp_path: Path, vector: str, scenario: Callable[[pyvirt.virConnect, list[Any]], None],
           *, scheme: str = "test+unix:///default", readonly: bool = False,
           virsh: bool = True, conn_no: int = 1) -> None:
    frames = load(vector, conn_no)
    with ReplayServer(frames, tmp_path / "sock") as server:
        uri = f"{scheme}?socket={server.uri_socket}"
        try:
            conn = pyvirt.openReadOnly(uri) if readonly else pyvirt.open(uri)
            if virsh:
                conn.registerCloseCallback(lambda *_: None, None)
            scenario(conn, frames)
            if virsh:
                conn.unregisterCloseCallback()
            conn.close()
        except BaseException as exc:
            # a difference makes the server hang up: report the difference, not the EOF
            server.wait()
            if server.mismatches:
                raise AssertionError("\n".join(server.mismatches)) from exc
            raise
        server.assert_ok()


def test_python_session(tmp_path: Path) -> None:
    """libvirt-python without an event loop: no keepalive probe, no close callback."""
    seen: dict[str, Any] = {}

    def scenario(conn: pyvirt.virConnect, frames: list[Any]) -> None:
        doms = conn.listAllDomains(0)
        seen["info"] = doms[0].info()
        dom = conn.lookupByName("test")
        dom.suspend()
        seen["paused"] = dom.state()
        dom.resume()
        seen["running"] = dom.state()

    replay(tmp_path, "python_session", scenario, virsh=False)
    assert seen["info"][:4] == [1, 8388608, 2097152, 2]
    assert seen["paused"] == [3, 1] and seen["running"] == [1, 5]


VIRSH: dict[str, Callable[[pyvirt.virConnect, list[Any]], Any]] = {}


def virsh(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        VIRSH[name] = func
        return func
    return register


@virsh("list_all")
def _list_all(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    doms = conn.listAllDomains(3)
    assert [(d.ID(), d.name(), d.state(0)) for d in doms] == [(1, "test", [1, 5])]


@virsh("dominfo")
def _dominfo(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    dom = conn.lookupByName("test")
    assert dom.OSType() == "linux"
    assert dom.info()[:4] == [1, 8388608, 2097152, 2]
    assert dom.isPersistent() == 1 and dom.autostart() == 0
    assert dom.hasManagedSaveImage(0) == 0
    assert conn.getSecurityModel() == ["testSecurity", ""]
    assert dom.securityLabel() == ["libvirt-test", True]
    assert dom.messages(0) == []


@virsh("dumpxml")
def _dumpxml(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    xml = conn.lookupByName("test").XMLDesc(0)
    assert xml == bodies(frames, "REMOTE_PROC_DOMAIN_GET_XML_DESC", "s2c")[0]["xml"]


@virsh("suspend")
def _suspend(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").suspend() == 0


@virsh("resume")
def _resume(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").resume() == 0


@virsh("domstate_paused")
def _domstate_paused(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").state(0) == [3, 1]


@virsh("domstate")
def _domstate(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").state(0) == [1, 5]


@virsh("net_list")
def _net_list(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    flags = bodies(frames, "REMOTE_PROC_CONNECT_LIST_ALL_NETWORKS")[0]["flags"]
    nets = conn.listAllNetworks(flags)
    assert [(n.name(), n.autostart(), n.isPersistent(), n.isActive()) for n in nets] == [
        ("default", 0, 1, 1)]


@virsh("pool_list")
def _pool_list(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    flags = bodies(frames, "REMOTE_PROC_CONNECT_LIST_ALL_STORAGE_POOLS")[0]["flags"]
    pools = conn.listAllStoragePools(flags)
    assert [(p.name(), p.autostart(), p.info()[0], p.isActive()) for p in pools] == [
        ("default-pool", 0, 2, 1)]


@virsh("vol_list")
def _vol_list(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.storagePoolLookupByName("default-pool").listAllVolumes(0) == []


def _vol_lookup(conn: pyvirt.virConnect, pool_name: str, vol_name: str) -> Any:
    """virsh's vshCommandOptVol: the pool, its state, the volume, the volume's pool."""
    pool = conn.storagePoolLookupByName(pool_name)
    pool.isActive()
    vol = pool.storageVolLookupByName(vol_name)
    vol.storagePoolLookupByVolume()
    return vol


@virsh("vol_ops")
def _vol_ops(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    pool = conn.storagePoolLookupByName("default-pool")
    xml = bodies(frames, "REMOTE_PROC_STORAGE_VOL_CREATE_XML")[0]["xml"]
    vol = pool.createXML(xml, 0)
    assert vol.name() == "vec1.img" and vol.key() == "/default-pool/vec1.img"
    pool = conn.storagePoolLookupByName("default-pool")
    vols = pool.listAllVolumes(0)
    assert [v.path() for v in vols] == ["/default-pool/vec1.img"]
    assert _vol_lookup(conn, "default-pool", "vec1.img").info() == [0, 1048576, 1048576]
    assert "<name>vec1.img</name>" in _vol_lookup(conn, "default-pool", "vec1.img").XMLDesc(0)
    assert _vol_lookup(conn, "default-pool", "vec1.img").delete(0) == 0


@virsh("nodeinfo")
def _nodeinfo(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.getInfo() == ["i686", 3072, 16, 1400, 2, 2, 2, 2]


@virsh("capabilities")
def _capabilities(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.getCapabilities().startswith("<capabilities>")


@virsh("define_undefine")
def _define_undefine(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    xml = bodies(frames, "REMOTE_PROC_DOMAIN_DEFINE_XML")[0]["xml"]
    dom = conn.defineXML(xml)
    assert (dom.name(), dom.ID()) == ("vectortest", -1)
    dom = conn.lookupByName("vectortest")
    assert dom.isActive() == 0
    assert dom.hasManagedSaveImage(0) == 0
    assert dom.snapshotNum(0) == 0
    flags = bodies(frames, "REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS")[0]["flags"]
    assert dom.undefineFlags(flags) == 0


@virsh("missing_domain")
def _missing_domain(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.lookupByName("no-such-domain")
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_NO_DOMAIN, pyvirt.VIR_FROM_TEST)
    assert err.get_error_message() == "Domain not found"
    assert isinstance(err, pyvirt.libvirtError)


@virsh("error_resume_running")
def _error_resume_running(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    dom = conn.lookupByName("test")
    with pytest.raises(pyvirt.libvirtError) as info:
        dom.resume()
    body = bodies(frames, "REMOTE_PROC_DOMAIN_RESUME", "s2c")[0]
    err = info.value
    assert err.err == (body["code"], body["domain"], body["message"], body["level"],
                       body["str1"], body["str2"], body["str3"], body["int1"], body["int2"])


@virsh("snapshot")
def _snapshot(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    create = bodies(frames, "REMOTE_PROC_DOMAIN_SNAPSHOT_CREATE_XML")[0]
    snap = conn.lookupByName("test").snapshotCreateXML(create["xml_desc"], create["flags"])
    assert snap.getName() == "snap1" and snap.getDomain().name() == "test"
    snaps = conn.lookupByName("test").listAllSnapshots(0)
    assert [s.getName() for s in snaps] == ["snap1"]
    assert "<name>snap1</name>" in snaps[0].getXMLDesc(0)
    snap = conn.lookupByName("test").snapshotLookupByName("snap1", 0)
    assert "<description>vec</description>" in snap.getXMLDesc(0)
    snap = conn.lookupByName("test").snapshotLookupByName("snap1", 0)
    assert snap.delete(0) == 0


@virsh("typed_params")
def _typed_params(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").schedulerParameters() == {"weight": 50}
    stats = conn.domainListGetStats([conn.lookupByName("test")], 0, 0)
    assert stats[0][0].name() == "test" and stats[0][1]["state.state"] == 1


@virsh("version_info")
def _version_info(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.getType() == "TEST"
    assert conn.getVersion() == 2
    assert conn.getHostname() == bodies(frames, "REMOTE_PROC_CONNECT_GET_HOSTNAME", "s2c")[0][
        "hostname"]
    assert conn.getSysinfo(0).startswith("<sysinfo")


@virsh("qemu_program_error")
def _qemu_program_error(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    dom = conn.lookupByName("test")
    cmd = bodies(frames, "QEMU_PROC_DOMAIN_MONITOR_COMMAND")[0]["cmd"]
    with pytest.raises(pyvirt.libvirtError) as info:
        conn._drv.domainQemuMonitorCommand(dom, cmd, 0)
    assert info.value.get_error_code() == pyvirt.VIR_ERR_NO_SUPPORT


@virsh("readonly_socket_server_denial")
def _server_denial(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    assert conn.lookupByName("test").state(0)[0] == 1
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.lookupByName("test").suspend()
    assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED
    assert info.value.get_error_message() == (
        "operation forbidden: read only access prevents virDomainSuspend")


@virsh("screenshot")
def _screenshot(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    dom = conn.lookupByName("test")
    stream = conn.newStream(0)
    assert dom.screenshot(stream, 0, 0) == "image/png"
    chunks: list[bytes] = []
    stream.recvAll(lambda _st, data, _o: chunks.append(data), None)
    stream.finish()
    data = b"".join(chunks)
    assert len(data) == 33443 and data.startswith(b"\x89PNG")


@virsh("vol_upload")
def _vol_upload(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    payload = next(bytes.fromhex(f["hex"])[28:] for f in frames
                   if f["decoded"]["type_name"] == "STREAM" and f["dir"] == "c2s"
                   and f["decoded"]["status_name"] == "CONTINUE")
    vol = _vol_lookup(conn, "vecpool", "sparse.raw")
    stream = conn.newStream(0)
    vol.upload(stream, 0, 0, 0)
    source = [payload]
    stream.sendAll(lambda _st, n, _o: source.pop() if source else b"", None)
    stream.finish()


@virsh("vol_upload_sparse")
def _vol_upload_sparse(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    size, block = 128 * 1024, 4096
    image = bytearray(size)
    image[0:block] = b"A" * block
    image[65536:65536 + block] = b"B" * block
    data = [(0, block), (65536, block)]
    pos = [0]

    def in_data(_st: Any, _o: Any) -> tuple[bool, int]:
        for start, length in data:
            if start <= pos[0] < start + length:
                return True, start + length - pos[0]
        nxt = min((s for s, _ in data if s > pos[0]), default=size)
        return False, nxt - pos[0]

    def read(_st: Any, n: int, _o: Any) -> bytes:
        chunk = bytes(image[pos[0]:pos[0] + n])
        pos[0] += len(chunk)
        return chunk

    def skip(_st: Any, length: int, _o: Any) -> None:
        pos[0] += length

    vol = _vol_lookup(conn, "vecpool", "sparse.raw")
    stream = conn.newStream(0)
    vol.upload(stream, 0, 0, pyvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
    stream.sparseSendAll(read, in_data, skip, None)
    stream.finish()


@virsh("vol_download")
def _vol_download(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    vol = _vol_lookup(conn, "vecpool", "sparse.raw")
    stream = conn.newStream(0)
    vol.download(stream, 0, 0, 0)
    chunks: list[bytes] = []
    stream.recvAll(lambda _st, data, _o: chunks.append(data), None)
    stream.finish()
    assert len(b"".join(chunks)) == 131072


@virsh("vol_download_sparse")
def _vol_download_sparse(conn: pyvirt.virConnect, frames: list[Any]) -> None:
    vol = _vol_lookup(conn, "vecpool", "sparse.raw")
    stream = conn.newStream(0)
    vol.download(stream, 0, 0, pyvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
    got: list[tuple[str, int]] = []
    stream.sparseRecvAll(lambda _st, data, _o: got.append(("data", len(data))),
                         lambda _st, length, _o: got.append(("hole", length)), None)
    stream.finish()
    assert got == [("data", 69632), ("hole", 61440)]


SESSION = {"vol_upload", "vol_upload_sparse", "vol_download", "vol_download_sparse"}


@pytest.mark.parametrize("vector", sorted(VIRSH))
def test_virsh_session(vector: str, tmp_path: Path, event_loop_thread: None) -> None:
    scheme = "qemu+unix:///session" if vector in SESSION else "test+unix:///default"
    replay(tmp_path, vector, VIRSH[vector], scheme=scheme)


def test_readonly_socket(tmp_path: Path, event_loop_thread: None) -> None:
    """virsh -r: CONNECT_OPEN asks for read-only, and the suspend is refused locally: no
    DOMAIN_SUSPEND goes out."""
    def scenario(conn: pyvirt.virConnect, frames: list[Any]) -> None:
        assert [d.state(0) for d in conn.listAllDomains(3)] == [[1, 5]]
        dom = conn.lookupByName("test")
        with pytest.raises(pyvirt.libvirtError) as info:
            dom.suspend()
        assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED

    replay(tmp_path, "readonly_socket", scenario, readonly=True)


def test_events(tmp_path: Path, event_loop_thread: None) -> None:
    """virsh event --all: 27 registrations (callback IDs from the server), two lifecycle
    events delivered to the callbacks through pyvirt's event loop, 27 deregistrations."""
    got: list[tuple[str, int, int]] = []
    arrived = threading.Event()

    def lifecycle(_conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        got.append((dom.name(), event, detail))
        if len(got) == 2:
            arrived.set()

    def scenario(conn: pyvirt.virConnect, frames: list[Any]) -> None:
        ids = []
        for event_id in range(27):
            cb = lifecycle if event_id == 0 else (lambda *_args: None)
            ids.append(conn.domainEventRegisterAny(None, event_id, cb, None))
        assert arrived.wait(5)
        for callback_id in ids:
            conn.domainEventDeregisterAny(callback_id)

    replay(tmp_path, "events", scenario)
    assert got == [("test", 3, 0), ("test", 4, 0)]
