"""The pyvirtd command: sockets and pid file under --root, --daemon, --timeout, --listen
(TCP), a second daemon refused, SIGTERM shutdown, and the read-write socket's peer check."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyvirt.rpc import protocol
from unit.daemon.support import PYVIRTD, REPO, Pyvirtd, RawClient

pytestmark = pytest.mark.integration


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO / "src"))


def test_sockets_pid_file_and_sigterm(tmp_path: Path) -> None:
    with Pyvirtd(tmp_path) as d:
        run = tmp_path / "run"
        rw, ro = os.stat(run / "libvirt-sock"), os.stat(run / "libvirt-sock-ro")
        assert stat.S_ISSOCK(rw.st_mode) and stat.S_IMODE(rw.st_mode) == 0o700
        assert stat.S_IMODE(ro.st_mode) == 0o777
        assert d.proc is not None
        assert (run / "pyvirtd.pid").read_text().strip() == str(d.proc.pid)
        # a second daemon on the same root gives up without touching the first
        second = subprocess.run([sys.executable, str(PYVIRTD), "--root", str(tmp_path)],
                                capture_output=True, text=True, env=_env(), timeout=30)
        assert second.returncode == 1 and "another daemon" in second.stderr
        with RawClient(d.rw).open() as client:
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        assert d.stop() == 0
    assert not (tmp_path / "run" / "libvirt-sock").exists()
    assert not (tmp_path / "run" / "pyvirtd.pid").exists()


def test_daemon_mode_and_idle_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(PYVIRTD), "--root", str(tmp_path), "--daemon",
                           "--timeout", "2"], env=_env(), timeout=30)
    assert proc.returncode == 0          # the parent returns once the sockets are ready
    pid = int((tmp_path / "run" / "pyvirtd.pid").read_text())
    with RawClient(str(tmp_path / "run" / "libvirt-sock")).open() as client:
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        time.sleep(2.5)                  # a client is connected: not idle
        os.kill(pid, 0)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGTERM)
        raise AssertionError("pyvirtd --timeout 2 did not exit when idle")
    assert time.monotonic() - start >= 4.5


def test_tcp_listener(tmp_path: Path) -> None:
    port = _free_port()
    conf = f'listen_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "{port}"\n'
    refused = Pyvirtd(tmp_path, "--listen", config=conf)   # listen_tls defaults to 1
    with pytest.raises(RuntimeError, match="Cannot read CA certificate '.*/etc/pki/CA/"
                                           "cacert.pem': No such file or directory"):
        refused.start()
    conf += "listen_tls = 0\n"
    with Pyvirtd(tmp_path, "--listen", config=conf + 'auth_tcp = "none"\n'):
        sock = socket.create_connection(("127.0.0.1", port))
        with RawClient(sock=sock).open() as client:
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        out = subprocess.run(["virsh", "-c", f"test+tcp://127.0.0.1:{port}/default",
                              "domstate", "test"], capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout.strip()) == (0, "running")


def test_rw_socket_refuses_other_users(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pyvirtd-peer-", dir="/tmp"))  # reachable by nobody
    os.chmod(root, 0o755)
    try:
        _check_peer_refusal(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_peer_refusal(root: Path) -> None:
    with Pyvirtd(root) as d:
        os.chmod(d.rw, 0o777)        # even if the socket file were opened up...
        code = ("import socket,sys,time; s=socket.socket(socket.AF_UNIX); "
                "s.connect(sys.argv[1]); s.settimeout(5)\n"
                "try: s.sendall(bytes.fromhex(sys.argv[2])); print(repr(s.recv(4)))\n"
                "except (ConnectionResetError, BrokenPipeError): print(repr(b''))")
        auth_list = protocol.REMOTE.procedure("AUTH_LIST").call(0).hex()
        out = subprocess.run(["/usr/bin/python3", "-c", code, d.rw, auth_list],
                             capture_output=True, text=True, timeout=30, user="nobody")
        assert out.stdout.strip() == "b''", out      # ...the peer check hangs up on nobody
        out = subprocess.run(["/usr/bin/python3", "-c", code, d.ro, auth_list],
                             capture_output=True, text=True, timeout=30, user="nobody")
        assert out.stdout.strip() == repr(b"\0\0\0\x24"), out   # the RO socket answers


def test_sigterm_with_a_call_stuck_in_a_driver(tmp_path: Path) -> None:
    """A call that never returns (reading a FIFO nobody writes) does not keep pyvirtd from
    shutting down."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with Pyvirtd(tmp_path / "d") as d:
        client = RawClient(d.rw).open()
        client.send(protocol.REMOTE.procedure("DOMAIN_SAVE_IMAGE_GET_XML_DESC").call(
            3, {"file": str(fifo), "flags": 0}))
        time.sleep(0.5)
        start = time.monotonic()
        assert d.stop(timeout=30) == 0
        assert time.monotonic() - start < 20
        client.close()
