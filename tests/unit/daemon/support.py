"""Helpers for pyvirtd tests: an in-process daemon, a pyvirtd subprocess, a raw client.

``InProcessDaemon`` runs pyvirt.daemon.server.Daemon on its own event loop in a thread
(fast, for protocol tests); ``Pyvirtd`` starts ``bin/pyvirtd --root DIR`` as a subprocess
(for the interop tests with real clients); ``RawClient`` speaks the wire protocol frame by
frame, so tests can send anything, well-formed or not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pyvirt.daemon.activation import Activation
from pyvirt.daemon.config import DaemonConfig
from pyvirt.daemon.server import Daemon
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from shared_data import RPC_VECTORS

REPO = Path(__file__).resolve().parents[3]
VECTORS = RPC_VECTORS  # the copies under tests/data (a fresh CI machine has no ../shared)
PYVIRTD = REPO / "bin" / "pyvirtd"


def wait_until(predicate: Any, timeout: float = 5) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class InProcessDaemon:
    """A Daemon serving from a thread; sockets in ``root/run``."""

    def __init__(self, root: Path, activation: Activation | None = None,
                 **settings: Any) -> None:
        self.activation = activation    # sockets "passed by systemd"
        self.config = DaemonConfig()
        self.config.root = str(root)
        for key, value in settings.items():
            setattr(self.config, key, value)
        self.daemon: Daemon | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def rw(self) -> str:
        return self.config.rw_socket_path()

    @property
    def ro(self) -> str:
        return self.config.ro_socket_path()

    def start(self) -> InProcessDaemon:
        self._thread = threading.Thread(target=self._run, name="test-pyvirtd", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.daemon = Daemon(self.config, self.activation)
            await self.daemon.start()
            self._ready.set()
            await self.daemon.serve()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.request_stop()
        if self._thread is not None:
            self._thread.join(15)
        # A daemon marks its process as the daemon (with its --root): this test process is
        # a plain client again for the tests that follow in this worker.
        from pyvirt.drivers.base import set_inside_daemon
        from pyvirt.drivers.qemu.paths import set_daemon_root

        set_inside_daemon(False)
        set_daemon_root(None)

    def __enter__(self) -> InProcessDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Pyvirtd:
    """``pyvirtd --root DIR`` as a subprocess (stderr to DIR/pyvirtd.log)."""

    def __init__(self, root: Path, *args: str, config: str | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        if config is not None:
            conf = self.root / "pyvirtd.conf"
            conf.write_text(config)
            self.args += ["--config", str(conf)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.root / "pyvirtd.log"

    @property
    def rw(self) -> str:
        return str(self.root / "run" / "libvirt-sock")

    @property
    def ro(self) -> str:
        return str(self.root / "run" / "libvirt-sock-ro")

    @property
    def admin(self) -> str:
        return str(self.root / "run" / "libvirt-admin-sock")

    def uri(self, driver: str = "test:///default", readonly: bool = False) -> str:
        scheme, rest = driver.split("://", 1)
        return f"{scheme}+unix://{rest}?socket={self.ro if readonly else self.rw}"

    def start(self, timeout: float = 20) -> Pyvirtd:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(PYVIRTD), "--root", str(self.root), *self.args],
                stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyvirtd exited {self.proc.returncode}: {self.log_text()}")
            # the admin socket comes last (as libvirtd's)
            if os.path.exists(self.ro) and os.path.exists(self.admin) and _answers(self.rw):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"pyvirtd did not start: {self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> Pyvirtd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class RawClient:
    """A frame-level client. ``call()`` sends a CALL and returns the REPLY with its serial
    (MESSAGE frames met on the way are kept in ``messages``)."""

    def __init__(self, path: str | None = None, sock: socket.socket | None = None,
                 timeout: float = 10) -> None:
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
        sock.settimeout(timeout)
        self.sock = sock
        self.reader = m.FrameReader()
        self.buffer: list[m.Message] = []
        self.messages: list[m.Message] = []
        self.serial = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def recv(self) -> m.Message:
        """The next frame (raises on timeout; EOFError on end of stream)."""
        while not self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed by the daemon")
            self.buffer.extend(self.reader.feed(data))
        return self.buffer.pop(0)

    def closed_by_peer(self, timeout: float = 5) -> bool:
        """Whether the daemon closes the connection (reading nothing else) in time."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def reply(self, serial: int) -> m.Message:
        while True:
            msg = self.recv()
            if msg.type in (m.REPLY, m.REPLY_WITH_FDS) and msg.serial == serial:
                return msg
            self.messages.append(msg)

    def call(self, name: str, args: Any = None, prog: str = "REMOTE") -> m.Message:
        program = protocol.program(prog)
        assert program is not None
        proc = program.procedure(name)
        serial = self.serial
        self.serial += 1
        self.send(proc.call(serial, args))
        return self.reply(serial)

    def result(self, name: str, args: Any = None, prog: str = "REMOTE") -> Any:
        """The decoded return value (raises the daemon's libvirtError)."""
        program = protocol.program(prog)
        assert program is not None
        return program.procedure(name).decode_reply(self.call(name, args, prog))

    def open(self, uri: str = "test:///default", flags: int = 0) -> RawClient:
        self.result("AUTH_LIST")
        self.result("CONNECT_OPEN", {"name": uri, "flags": flags})
        return self


def error_of(msg: m.Message) -> dict[str, Any]:
    assert msg.status == m.ERROR, msg
    return m.error_codec().decode(msg.payload)
