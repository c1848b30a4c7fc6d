"""The daemons the benchmarks measure side by side: a private real libvirtd and pyvirtd,
each with its sockets in a temporary directory, each ended by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def has_libvirt_python(python: str) -> bool:
    if not Path(python).exists():
        return False
    return subprocess.run([python, "-c", "import libvirt"], capture_output=True).returncode == 0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for row in fh:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    return 0


class Daemon:
    """What both peers share: a process, its rw socket, and stop() by PID."""

    name = ""
    proc: subprocess.Popen[bytes]
    sock: Path
    port: int

    def uri(self, tcp: bool = False) -> str:
        if tcp:
            return f"test+tcp://127.0.0.1:{self.port}/default"
        return f"test+unix:///default?socket={self.sock}"

    def _wait_for_socket(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start")
            if self.sock.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as probe:
                        probe.connect(str(self.sock))
                    return
                except OSError:
                    pass
            time.sleep(0.05)

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Libvirtd(Daemon):
    """A private libvirtd in ``base`` with only its built-in test driver loaded (Debian's
    QEMU module wants a libvirt-qemu user)."""

    name = "libvirtd"

    def __init__(self, binary: str, base: Path) -> None:
        run = base / "run"
        run.mkdir()
        (base / "drivers").mkdir()
        self.sock = run / "libvirt-sock"
        self.port = free_port()
        conf = base / "libvirtd.conf"
        conf.write_text(f'unix_sock_dir = "{run}"\nauth_unix_rw = "none"\n'
                        'auth_unix_ro = "none"\nlisten_tls = 0\nlisten_tcp = 1\n'
                        f'listen_addr = "127.0.0.1"\ntcp_port = "{self.port}"\n'
                        'auth_tcp = "none"\n')
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=str(base / "drivers"))
        self.proc = subprocess.Popen(
            [binary, "--listen", "--timeout", "600", "--config", str(conf), "--pid-file",
             str(base / "pid")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_for_socket()


class Pyvirtd(Daemon):
    """``pyvirtd --root base`` from this checkout, listening on TCP as the libvirtd above."""

    name = "pyvirtd"

    def __init__(self, base: Path, python: str = sys.executable) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.sock = base / "run" / "libvirt-sock"
        self.port = free_port()
        conf = base / "pyvirtd.conf"
        conf.write_text(f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\n'
                        f'tcp_port = "{self.port}"\nauth_tcp = "none"\n')
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        self.proc = subprocess.Popen(
            [python, str(REPO / "bin" / "pyvirtd"), "--root", str(base), "--listen",
             "--config", str(conf)], env=env, stdout=subprocess.DEVNULL,
            stderr=open(base / "pyvirtd.log", "wb"))
        self._wait_for_socket()
