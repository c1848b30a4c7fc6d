"""pyvirtd started as systemd starts it: listening sockets already bound, passed as fds 3
and 4 with LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES, and a NOTIFY_SOCKET to report
readiness on. Real virsh works on the inherited sockets; an idle daemon (``--timeout``)
exits leaving the socket files, and a client that connected meanwhile is served by the
next daemon started on the same sockets (what systemd does on the next connection)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.daemon.support import PYVIRTD, REPO, RawClient

pytestmark = pytest.mark.integration

# What systemd does between fork and exec: the sockets at fds 3.., and LISTEN_PID naming the
# process that will run the daemon (exec keeps the pid).
_WRAPPER = r"""
import fcntl, os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds]   # clear of 3, 4, ... first
for target, fd in enumerate(high, 3):
    os.dup2(fd, target)
    os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)),
                  LISTEN_FDNAMES=sys.argv[2])
os.execv(sys.executable, [sys.executable, *sys.argv[3:]])
"""


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # unix socket paths are limited to 108 bytes: pytest's tmp_path may be too deep
    path = Path(tempfile.mkdtemp(prefix="pyvirtd-act-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Activated:
    """The sockets a socket unit would hold, and pyvirtd started on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sockdir = root / "sockets"       # not pyvirtd's own DIR/run: named, not found
        self.sockdir.mkdir()
        self.rw_path, self.ro_path = self.sockdir / "rw", self.sockdir / "ro"
        self.rw = _listen(self.rw_path, 0o600)
        self.ro = _listen(self.ro_path, 0o666)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(root / "notify"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"),
                   NOTIFY_SOCKET=str(self.root / "notify"))
        fds = (self.rw.fileno(), self.ro.fileno())
        with open(self.root / "pyvirtd.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _WRAPPER, f"{fds[0]},{fds[1]}",
                 "pyvirtd.socket:pyvirtd-ro.socket", str(PYVIRTD), "--root",
                 str(self.root), *args], pass_fds=fds, env=env, stdout=log, stderr=log)
        return self.proc

    def ready(self) -> bytes:
        assert self.proc is not None
        deadline = time.monotonic() + 20
        self.notify.settimeout(0.2)
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                return self.notify.recv(64)
            except TimeoutError:
                continue
        raise AssertionError((self.root / "pyvirtd.log").read_text())

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        for s in (self.rw, self.ro, self.notify):
            s.close()


def _listen(path: Path, mode: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, mode)
    sock.listen(16)
    return sock


def _virsh(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", f"test+unix:///default?socket={sock}", *args],
                          capture_output=True, text=True, timeout=60)


def test_activated_daemon(short_tmp: Path) -> None:
    if shutil.which("virsh") is None:
        pytest.skip("virsh is not installed")
    a = Activated(short_tmp)
    try:
        proc = a.start("--timeout", "1")
        assert a.ready() == b"READY=1"
        out = _virsh(a.rw_path, "list", "--all")
        assert (out.returncode, out.stdout.split()) == (
            0, ["Id", "Name", "State", "----------------------", "1", "test", "running"])
        out = _virsh(a.ro_path, "-r", "domstate", "test")   # -r: virsh's read-only open
        assert (out.returncode, out.stdout.strip()) == (0, "running")
        # no sockets of its own: the inherited ones are all it serves
        assert not (short_tmp / "run" / "libvirt-sock").exists()
        assert proc.wait(20) == 0                      # idle for a second: gone
        assert a.rw_path.is_socket() and a.ro_path.is_socket()   # ...sockets left alone
        assert os.stat(a.rw_path).st_mode & 0o777 == 0o600
        # a client arriving now waits in the socket's backlog, as under systemd, which
        # then starts the daemon again with the same sockets
        with RawClient(str(a.rw_path), timeout=30) as client:
            a.start("--timeout", "1")
            assert a.ready() == b"READY=1"
            client.open()
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
            time.sleep(1.5)                         # a client is connected: not idle
            assert a.proc is not None and a.proc.poll() is None
        assert a.proc.wait(20) == 0
    finally:
        a.close()


def test_systemd_socket_activate(short_tmp: Path) -> None:
    """The same through systemd's own tool, where installed (it execs the daemon on the
    first connection, with the LISTEN_* variables systemd sets)."""
    tool = shutil.which("systemd-socket-activate")
    if tool is None or shutil.which("virsh") is None:
        pytest.skip("systemd-socket-activate or virsh is not installed")
    rw, ro = short_tmp / "rw", short_tmp / "ro"
    with open(short_tmp / "log", "wb") as log:
        proc = subprocess.Popen(
            [tool, "-l", str(rw), "-l", str(ro), "--fdname=pyvirtd.socket:pyvirtd-ro.socket",
             "-E", f"PYTHONPATH={REPO / 'src'}", sys.executable, str(PYVIRTD),
             "--root", str(short_tmp / "root"), "--timeout", "1"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not ro.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        out = _virsh(rw, "list", "--name")
        assert (out.returncode, out.stdout.strip()) == (0, "test"), (short_tmp / "log").read_text()
        out = _virsh(ro, "-r", "domstate", "test")
        assert (out.returncode, out.stdout.strip()) == (0, "running")
        assert proc.wait(20) == 0            # idle: the daemon (the tool exec'd it) exits
        assert rw.is_socket() and ro.is_socket()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)
