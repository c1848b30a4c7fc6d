"""pyvirt's remote client against the real libvirtd 9.0 installed on this machine.

The test starts its own libvirtd as a subprocess with a private configuration: sockets in a
temporary directory (``unix_sock_dir``, auth "none" on both), TCP on 127.0.0.1 at a free port
with auth "none", its pid file beside them, ``--timeout`` as a safety net, and
``LIBVIRT_DRIVER_DIR`` pointing at an empty directory so that only the built-in test driver
loads (as root, Debian's QEMU driver module refuses to start without its ``libvirt-qemu``
user). It is ended by its PID. Everything is driven through pyvirt's public API with
``test+unix:///default?socket=...`` (and ``+tcp``), and checked against what libvirt's test
driver is known to hold, or against real virsh on the same daemon.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest

import pyvirt
import pyvirt.errors
from pyvirt.events import loop

LIBVIRTD = "/usr/sbin/libvirtd"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.access(LIBVIRTD, os.X_OK), reason="libvirtd is not installed"),
]

SMALL_DOMAIN = """<domain type='test'>
  <name>remote-client-test</name>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_pki(base: Path, client_ca: Path | None = None) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with the key
    usages GnuTLS wants, in libvirt's pkipath layout (cacert.pem, servercert.pem,
    serverkey.pem, clientcert.pem, clientkey.pem)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "ca.cnf").write_text(
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = pyvirt test CA\n"
        "[ext]\nbasicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n")
    usage = ("basicConstraints = critical, CA:FALSE\n"
             "keyUsage = critical, digitalSignature, keyEncipherment\n")
    (base / "server.cnf").write_text(f"[ext]\n{usage}extendedKeyUsage = serverAuth\n"
                                     "subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    (base / "client.cnf").write_text(f"[ext]\n{usage}extendedKeyUsage = clientAuth\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=base)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "cakey.pem", "-out",
            "cacert.pem", "-days", "2", "-config", "ca.cnf", "-extensions", "ext")
    for who in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}key.pem", "-out",
                f"{who}.csr", "-subj", f"/CN=127.0.0.1/O=pyvirt-{who}")
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "cacert.pem", "-CAkey",
                "cakey.pem", "-CAcreateserial", "-out", f"{who}cert.pem", "-days", "2",
                "-extfile", f"{who}.cnf", "-extensions", "ext")
    return base


class Libvirtd:
    """A private libvirtd: start() waits for its sockets, stop() ends it by PID. With
    ``pki`` (see make_pki) it also listens for TLS on 127.0.0.1."""

    def __init__(self, base: Path, pki: Path | None = None) -> None:
        self.base = base
        self.run = base / "run"
        self.run.mkdir(parents=True)
        (base / "drivers").mkdir()
        self.tcp_port = free_port()
        self.tls_port = free_port() if pki else None
        self.config = base / "libvirtd.conf"
        tls = ("listen_tls = 0\n" if pki is None else
               f'listen_tls = 1\ntls_port = "{self.tls_port}"\nauth_tls = "none"\n'
               f'key_file = "{pki}/serverkey.pem"\ncert_file = "{pki}/servercert.pem"\n'
               f'ca_file = "{pki}/cacert.pem"\n')
        self.config.write_text(
            f'unix_sock_dir = "{self.run}"\n'
            'auth_unix_rw = "none"\n'
            'auth_unix_ro = "none"\n'
            f"{tls}"
            "listen_tcp = 1\n"
            'listen_addr = "127.0.0.1"\n'
            f'tcp_port = "{self.tcp_port}"\n'
            'auth_tcp = "none"\n'
            f'log_outputs = "3:file:{base}/libvirtd.log"\n')
        self.pidfile = base / "libvirtd.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def sock(self) -> str:
        return str(self.run / "libvirt-sock")

    @property
    def sock_ro(self) -> str:
        return str(self.run / "libvirt-sock-ro")

    def uri(self, readonly_socket: bool = False) -> str:
        return f"test+unix:///default?socket={self.sock_ro if readonly_socket else self.sock}"

    @property
    def tcp_uri(self) -> str:
        return f"test+tcp://127.0.0.1:{self.tcp_port}/default"

    def command(self) -> list[str]:
        return [LIBVIRTD, "--listen", "--timeout", "600", "--config", str(self.config),
                "--pid-file", str(self.pidfile)]

    def environment(self) -> dict[str, str]:
        return dict(os.environ, LIBVIRT_DRIVER_DIR=str(self.base / "drivers"))

    def ready(self) -> bool:
        """Its sockets exist and TCP accepts connections."""
        if not (os.path.exists(self.sock) and os.path.exists(self.sock_ro)):
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.tcp_port), 1):
                return True
        except OSError:
            return False

    def start(self) -> Self:
        self.proc = subprocess.Popen(self.command(), env=self.environment(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.base / "stderr", "wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {(self.base / 'stderr').read_text()}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("libvirtd did not come up")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Libvirtd]:
    daemon = Libvirtd(tmp_path_factory.mktemp("libvirtd")).start()
    # A connection held for the module's lifetime keeps the test driver's state (libvirtd
    # drops test:///default with its last connection).
    keeper = pyvirt.open(daemon.uri())
    yield daemon
    keeper.close()
    daemon.stop()


@pytest.fixture(autouse=True)
def quiet() -> None:
    pyvirt.registerErrorHandler(lambda *_: None, None)


@pytest.fixture
def conn(libvirtd: Libvirtd) -> Iterator[pyvirt.virConnect]:
    c = pyvirt.open(libvirtd.uri())
    yield c
    c.close()


@contextlib.contextmanager
def default_event_loop() -> Iterator[None]:
    """pyvirt's default event loop, run in a thread as applications do."""
    loop._reset_for_tests()
    pyvirt.virEventRegisterDefaultImpl()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            pyvirt.virEventRunDefaultImpl()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        loop.interrupt_default_impl()
        thread.join(5)
        loop._reset_for_tests()


@pytest.fixture
def event_loop() -> Iterator[None]:
    with default_event_loop():
        yield


# ---- the basics over the unix socket -------------------------------------------------------


def test_list_lookup_info(conn: pyvirt.virConnect) -> None:
    names = [d.name() for d in conn.listAllDomains()]
    assert "test" in names
    dom = conn.lookupByName("test")
    assert dom.ID() == 1 and dom.UUIDString() == "6695eb01-f6a4-8304-79aa-97f2502e193f"
    state, max_mem, mem, vcpus, cpu_time = dom.info()
    assert (state, max_mem, mem, vcpus) == (pyvirt.VIR_DOMAIN_RUNNING, 8388608, 2097152, 2)
    assert cpu_time > 0
    assert conn.getType() == "TEST" and conn.getLibVersion() == 9000000
    assert conn.getURI() == conn._uri
    assert conn.isAlive() == 1 and conn.isSecure() == 1 and conn.isEncrypted() == 0
    assert conn.getInfo() == ["i686", 3072, 16, 1400, 2, 2, 2, 2]
    assert conn.lookupByUUIDString(dom.UUIDString()).name() == "test"
    assert conn.lookupByID(1).name() == "test"


def test_suspend_resume(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    assert dom.suspend() == 0
    assert dom.state() == [pyvirt.VIR_DOMAIN_PAUSED, pyvirt.VIR_DOMAIN_PAUSED_USER]
    assert dom.info()[0] == pyvirt.VIR_DOMAIN_PAUSED
    assert dom.resume() == 0
    assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_UNPAUSED]
    with pytest.raises(pyvirt.libvirtError) as info:
        dom.resume()
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_INTERNAL_ERROR, pyvirt.VIR_FROM_TEST)
    assert err.get_error_message() == "internal error: domain 'test' not paused"


def test_xml_define_undefine(conn: pyvirt.virConnect) -> None:
    xml = conn.lookupByName("test").XMLDesc(0)
    assert xml.startswith("<domain type='test' id='1'>") and "<name>test</name>" in xml
    dom = conn.defineXML(SMALL_DOMAIN)
    try:
        assert dom.name() == "remote-client-test" and dom.ID() == -1
        assert dom.isActive() == 0 and dom.isPersistent() == 1
        assert "remote-client-test" in conn.listDefinedDomains()
        assert dom.create() == 0
        assert dom.isActive() == 1 and conn.lookupByName("remote-client-test").ID() > 0
        assert dom.destroy() == 0
    finally:
        assert dom.undefine() == 0
    with pytest.raises(pyvirt.errors.NoDomainError):
        conn.lookupByName("remote-client-test")


def test_missing_domain_error(conn: pyvirt.virConnect) -> None:
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.lookupByName("no-such-domain")
    err = info.value
    assert isinstance(err, pyvirt.errors.NoDomainError)
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_NO_DOMAIN, pyvirt.VIR_FROM_TEST)
    assert err.get_error_message() == "Domain not found"
    assert pyvirt.virGetLastErrorCode() == pyvirt.VIR_ERR_NO_DOMAIN


def test_networks_and_pools(conn: pyvirt.virConnect) -> None:
    nets = conn.listAllNetworks(0)
    assert [n.name() for n in nets] == ["default"]
    net = nets[0]
    assert (net.isActive(), net.isPersistent(), net.autostart()) == (1, 1, 0)
    assert "<name>default</name>" in net.XMLDesc(0)
    assert conn.listNetworks() == ["default"] and conn.listDefinedNetworks() == []
    pools = conn.listAllStoragePools(0)
    assert [p.name() for p in pools] == ["default-pool"]
    assert pools[0].info()[0] == pyvirt.VIR_STORAGE_POOL_RUNNING
    assert conn.listStoragePools() == ["default-pool"]
    assert conn.numOfNetworks() == 1 and conn.numOfStoragePools() == 1


def test_volumes_and_streams(conn: pyvirt.virConnect) -> None:
    pool = conn.storagePoolLookupByName("default-pool")
    vol = pool.createXML("<volume><name>rc.img</name><capacity>1048576</capacity></volume>", 0)
    try:
        assert vol.name() == "rc.img" and [v.name() for v in pool.listAllVolumes(0)] == [
            "rc.img"]
        assert pool.listVolumes() == ["rc.img"]
        assert vol.info() == [pyvirt.VIR_STORAGE_VOL_FILE, 1048576, 1048576]
        assert vol.storagePoolLookupByVolume().name() == "default-pool"
    finally:
        vol.delete(0)
    assert pool.numOfVolumes() == 0
    # a server -> client stream
    st = conn.newStream(0)
    assert conn.lookupByName("test").screenshot(st, 0, 0) == "image/png"
    chunks: list[bytes] = []
    st.recvAll(lambda _s, data, _o: chunks.append(data), None)
    st.finish()
    assert b"".join(chunks).startswith(b"\x89PNG\r\n")


def test_nonblocking_stream_with_event_callback(libvirtd: Libvirtd, event_loop: None) -> None:
    """The way virsh's console reads: a VIR_STREAM_NONBLOCK stream whose READABLE callback
    (run by pyvirt's event loop) drains it until end of data."""
    conn = pyvirt.open(libvirtd.uri())
    try:
        st = conn.newStream(pyvirt.VIR_STREAM_NONBLOCK)
        assert conn.lookupByName("test").screenshot(st, 0, 0) == "image/png"
        chunks: list[bytes] = []
        finished = threading.Event()

        def readable(stream: Any, events: int, _opaque: Any) -> None:
            assert events & pyvirt.VIR_STREAM_EVENT_READABLE
            while True:
                got = stream.recv(4096)
                if got == -2:          # drained for now
                    return
                if not got:
                    stream.eventRemoveCallback()
                    finished.set()
                    return
                chunks.append(got)

        st.eventAddCallback(pyvirt.VIR_STREAM_EVENT_READABLE, readable, None)
        assert finished.wait(10)
        st.finish()
        assert b"".join(chunks).startswith(b"\x89PNG")
    finally:
        conn.close()


def test_typed_parameters(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    assert dom.schedulerType() == ("fair", 1)
    assert dom.schedulerParameters() == {"weight": 50}
    # setters take each parameter's type from the getter, as libvirt-python does (libvirt's
    # test driver accepts a weight and keeps 50)
    assert dom.setSchedulerParameters({"weight": 60}) == 0
    assert dom.schedulerParameters() == {"weight": 50}
    before = dom.memoryParameters(0)
    assert dom.setMemoryParameters({"hard_limit": 1000000}, 0) == 0
    assert dom.memoryParameters(0)["hard_limit"] == 1000000
    dom.setMemoryParameters({"hard_limit": before["hard_limit"]}, 0)
    # As through libvirt-python: the public API adds VIR_TYPED_PARAM_STRING_OKAY after the
    # driver says it supports string parameters, and the test driver rejects the flag.
    with pytest.raises(pyvirt.libvirtError) as info:
        dom.schedulerParametersFlags(0)
    assert info.value.get_error_message() == (
        "unsupported flags (0x4) in function testDomainGetSchedulerParametersFlags")
    mem = dom.memoryParameters(0)
    assert set(mem) == {"hard_limit", "soft_limit", "swap_hard_limit"}
    stats = conn.getAllDomainStats(pyvirt.VIR_DOMAIN_STATS_STATE)
    assert [(d.name(), s["state.state"]) for d, s in stats if d.name() == "test"] == [
        ("test", pyvirt.VIR_DOMAIN_RUNNING)]


def test_concurrent_calls_from_threads(conn: pyvirt.virConnect) -> None:
    errors: list[str] = []

    def worker() -> None:
        for _ in range(50):
            try:
                if conn.lookupByName("test").info()[2] != 2097152:
                    errors.append("wrong info")
            except pyvirt.libvirtError as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


# ---- events ---------------------------------------------------------------------------------


def test_lifecycle_events_reach_a_pyvirt_callback(libvirtd: Libvirtd,
                                                  event_loop: None) -> None:
    listener = pyvirt.open(libvirtd.uri())
    actor = pyvirt.open(libvirtd.uri())
    got: list[tuple[str, int, int, Any]] = []
    done = threading.Event()

    def callback(cb_conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        got.append((dom.name(), event, detail, opaque))
        if len(got) >= 2:
            done.set()

    try:
        cid = listener.domainEventRegisterAny(None, pyvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              callback, "opaque")
        dom = actor.lookupByName("test")
        dom.suspend()
        dom.resume()
        assert done.wait(10), got
        assert got == [("test", pyvirt.VIR_DOMAIN_EVENT_SUSPENDED,
                        pyvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, "opaque"),
                       ("test", pyvirt.VIR_DOMAIN_EVENT_RESUMED,
                        pyvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, "opaque")]
        listener.domainEventDeregisterAny(cid)
        # a per-domain filter and the old-style registration
        seen: list[int] = []
        cid = listener.domainEventRegisterAny(
            listener.lookupByName("test"), pyvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda c, d, e, det, o: seen.append(e), None)
        legacy: list[int] = []
        listener.domainEventRegister(lambda c, d, e, det, o: legacy.append(e), None)
        dom.suspend()
        dom.resume()
        deadline = time.monotonic() + 10
        while (len(seen) < 2 or len(legacy) < 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen == legacy == [pyvirt.VIR_DOMAIN_EVENT_SUSPENDED,
                                  pyvirt.VIR_DOMAIN_EVENT_RESUMED]
        listener.domainEventDeregisterAny(cid)
        # network events
        net_events: list[int] = []
        nid = listener.networkEventRegisterAny(
            None, pyvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,
            lambda c, n, e, det, o: net_events.append(e), None)
        net = actor.networkLookupByName("default")
        net.destroy()
        net.create()
        deadline = time.monotonic() + 10
        while len(net_events) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert net_events == [pyvirt.VIR_NETWORK_EVENT_STOPPED,
                              pyvirt.VIR_NETWORK_EVENT_STARTED]
        listener.networkEventDeregisterAny(nid)
    finally:
        actor.close()
        listener.close()


def test_keepalive_closes_a_dead_connection(tmp_path: Path, event_loop: None) -> None:
    """With keepalive on (1 s x 1), a daemon that stops answering is detected: the close
    callback runs with reason KEEPALIVE and calls fail with libvirt's errors."""
    daemon = Libvirtd(tmp_path).start()
    try:
        conn = pyvirt.open(daemon.uri())
        reasons: list[int] = []
        closed = threading.Event()

        def on_close(_conn: Any, reason: int, _opaque: Any) -> None:
            reasons.append(reason)
            closed.set()

        conn.registerCloseCallback(on_close, None)
        assert conn.setKeepAlive(1, 1) == 0
        time.sleep(2.5)                      # keepalive traffic keeps it alive
        assert conn.isAlive() == 1
        assert daemon.proc is not None
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        assert closed.wait(15)
        assert reasons == [pyvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE]
        assert conn.isAlive() == 0
        with pytest.raises(pyvirt.libvirtError) as info:
            conn.getHostname()
        assert info.value.get_error_message() == "internal error: client socket is closed"
        conn.close()
    finally:
        daemon.stop()


# ---- read-only connections -----------------------------------------------------------------


def test_read_only_connection(libvirtd: Libvirtd) -> None:
    ro = pyvirt.openReadOnly(libvirtd.uri(readonly_socket=True))
    try:
        dom = ro.lookupByName("test")
        assert dom.info()[0] == pyvirt.VIR_DOMAIN_RUNNING
        assert [d.name() for d in ro.listAllDomains()]
        with pytest.raises(pyvirt.libvirtError) as info:
            dom.suspend()          # refused by the client itself
        assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED
        assert info.value.get_error_message() == (
            "operation forbidden: read only access prevents virDomainSuspend")
    finally:
        ro.close()


def test_read_only_socket_refuses_on_the_server(libvirtd: Libvirtd) -> None:
    """Opened read-write but on the -ro socket: libvirtd itself refuses."""
    conn = pyvirt.open(libvirtd.uri(readonly_socket=True))
    try:
        dom = conn.lookupByName("test")
        with pytest.raises(pyvirt.libvirtError) as info:
            dom.suspend()
        err = info.value
        assert (err.get_error_code(), err.get_error_domain()) == (
            pyvirt.VIR_ERR_OPERATION_DENIED, pyvirt.VIR_FROM_DOMAIN)
        assert err.get_error_message() == (
            "operation forbidden: read only access prevents virDomainSuspend")
        with pytest.raises(pyvirt.libvirtError):
            conn.defineXML(SMALL_DOMAIN)
    finally:
        conn.close()


# ---- tcp -------------------------------------------------------------------------------


def test_tcp_transport(libvirtd: Libvirtd) -> None:
    conn = pyvirt.open(libvirtd.tcp_uri)
    try:
        assert [d.name() for d in conn.listAllDomains()]
        assert conn.lookupByName("test").info()[1] == 8388608
        assert conn.isSecure() == 0      # plain TCP is not a secure transport
        assert conn.getURI() == libvirtd.tcp_uri
    finally:
        conn.close()


# ---- tls -------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl to make certificates")
def test_tls_transport(tmp_path: Path) -> None:
    """x509 both ways with ``pkipath``: libvirtd checks our client certificate, we check
    its server certificate (CA, 127.0.0.1 in its subjectAltName); ``no_verify=1`` skips our
    check of the server."""
    pki = make_pki(tmp_path / "pki")
    daemon = Libvirtd(tmp_path / "daemon", pki).start()
    try:
        uri = f"test+tls://127.0.0.1:{daemon.tls_port}/default?pkipath={pki}"
        conn = pyvirt.open(uri)
        try:
            assert conn.lookupByName("test").info()[1] == 8388608
            assert (conn.isSecure(), conn.isEncrypted()) == (1, 1)
        finally:
            conn.close()
        # a CA that did not sign the server's certificate
        other = make_pki(tmp_path / "other")
        for name in ("clientcert.pem", "clientkey.pem"):
            (other / name).write_bytes((pki / name).read_bytes())
        wrong = f"test+tls://127.0.0.1:{daemon.tls_port}/default?pkipath={other}"
        with pytest.raises(pyvirt.libvirtError) as info:
            pyvirt.open(wrong)
        assert info.value.get_error_message().startswith("Unable to verify TLS peer")
        conn = pyvirt.open(wrong + "&no_verify=1")
        assert conn.lookupByName("test").ID() == 1
        conn.close()
        # no client certificate at all: we connect without one (as libvirt's client does)
        # and libvirtd hangs up before its confirmation byte
        (other / "clientcert.pem").unlink()
        with pytest.raises(pyvirt.libvirtError) as info:
            pyvirt.open(wrong + "&no_verify=1")
        assert info.value.get_error_message() == (
            "Unable to read TLS confirmation: Input/output error")
    finally:
        daemon.stop()


# ---- pyvirsh over the remote driver against real virsh ----------------------------------------


@pytest.mark.parametrize("command", [
    ["list", "--all"], ["domstate", "test"], ["net-list", "--all"], ["pool-list", "--all"],
    ["nodeinfo"], ["schedinfo", "test"], ["dumpxml", "test"], ["vol-list", "default-pool"],
    ["dominfo", "no-such-domain"], ["net-info", "default"], ["version"], ["domstats", "test"],
])
def test_pyvirsh_matches_virsh(libvirtd: Libvirtd, command: list[str]) -> None:
    uri = libvirtd.uri()
    real = subprocess.run(["virsh", "-c", uri, *command], capture_output=True, text=True,
                          timeout=60)
    ours = subprocess.run([str(REPO / ".venv" / "bin" / "pyvirsh"), "-c", uri, *command],
                          capture_output=True, text=True, timeout=60)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        real.returncode, real.stdout, real.stderr)


def test_pyvirsh_event_matches_virsh(libvirtd: Libvirtd) -> None:
    """`event --all --loop` through the remote driver: both print the same events."""
    uri = libvirtd.uri()
    args = ["-c", uri, "event", "--all", "--loop", "--timeout", "10"]
    procs = [subprocess.Popen([tool, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for tool in ("virsh", str(REPO / ".venv" / "bin" / "pyvirsh"))]
    time.sleep(3)                    # both have registered (generous, for loaded machines)
    actor = pyvirt.open(uri)
    try:
        dom = actor.lookupByName("test")
        dom.suspend()
        dom.resume()
    finally:
        actor.close()
    real, ours = (p.communicate(timeout=30) for p in procs)
    assert real[0].count("event 'lifecycle' for domain 'test'") == 2
    assert ours == real
