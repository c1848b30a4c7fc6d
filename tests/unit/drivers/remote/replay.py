"""A fake daemon that replays a captured session (the RPC vectors, see tests/shared_data.py).

It listens on a unix socket; for the connection it accepts, it walks the vector's frames in
order: each ``c2s`` frame is read from the client and compared byte for byte with the
capture, each ``s2c`` frame is sent as captured (so replies go out right after the frame
that caused them, events right after the frame they followed). Whatever differs is kept in
``mismatches`` (decoded, for a readable failure); after the last frame it waits for the
client to hang up and records any extra frames.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from pyvirt.rpc import message, protocol
from shared_data import RPC_VECTORS

VECTORS = RPC_VECTORS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load(name: str, conn: int = 1) -> list[dict[str, Any]]:
    """The frames of connection ``conn`` of vector ``name``."""
    frames = []
    for line in (VECTORS / f"{name}.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("conn", 1) == conn:
                frames.append(record)
    return frames


def bodies(frames: list[dict[str, Any]], proc_name: str, direction: str = "c2s") -> list[Any]:
    """The decoded bodies of the frames of one procedure (to drive a scenario with the
    captured values)."""
    return [f["decoded"]["body"] for f in frames
            if f["dir"] == direction and f["decoded"]["proc_name"] == proc_name]


def describe(frame: bytes) -> str:
    """A frame in words: header and decoded body."""
    try:
        msg = message.decode_frame(frame)
    except message.ProtocolError as exc:
        return f"<undecodable frame {frame[:32].hex()}...: {exc}>"
    proc = protocol.lookup(msg.prog, msg.proc)
    name = proc.const_name if proc else f"{msg.prog:#x}/{msg.proc}"
    try:
        kind, body = protocol.decode_body(msg)
    except Exception as exc:  # noqa: BLE001 - for a failure message only
        kind, body = "undecodable", repr(exc)
    if kind == "raw":
        body = f"{len(body)} bytes"
    return (f"{name} {message.TYPE_NAMES.get(msg.type, msg.type)} serial={msg.serial} "
            f"{message.STATUS_NAMES.get(msg.status, msg.status)} {kind}={body!r}")


class ReplayServer:
    def __init__(self, frames: list[dict[str, Any]], path: Path, *, timeout: float = 10.0
                 ) -> None:
        self.frames = frames
        self.path = path
        self.timeout = timeout
        self.mismatches: list[str] = []
        self.received: list[bytes] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._done = threading.Event()

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._thread.join(self.timeout)

    @property
    def uri_socket(self) -> str:
        return str(self.path)

    def wait(self) -> None:
        """Until the client hung up (or the timeout)."""
        self._done.wait(self.timeout)
        self._thread.join(self.timeout)
        assert not self._thread.is_alive(), "replay server still waiting"

    def assert_ok(self) -> None:
        self.wait()
        assert not self.mismatches, "\n".join(self.mismatches)

    def _serve(self) -> None:
        try:
            self._listener.settimeout(self.timeout)
            sock, _ = self._listener.accept()
        except OSError as exc:
            self.mismatches.append(f"no client connected: {exc}")
            self._done.set()
            return
        sock.settimeout(self.timeout)
        reader = message.FrameReader()
        pending: list[bytes] = []

        def next_frame() -> bytes | None:
            while not pending:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return None
                if not data:
                    return None
                pending.extend(msg.encode() for msg in reader.feed(data))
            return pending.pop(0)

        try:
            for index, frame in enumerate(self.frames):
                raw = bytes.fromhex(frame["hex"])
                if frame["dir"] == "s2c":
                    sock.sendall(raw)
                    continue
                got = next_frame()
                if got is None:
                    self.mismatches.append(
                        f"frame {index}: client hung up; expected {describe(raw)}")
                    return
                self.received.append(got)
                if got != raw:
                    self.mismatches.append(
                        f"frame {index}:\n  expected {describe(raw)}\n  got      "
                        f"{describe(got)}")
                    return
            extra = next_frame()
            while extra is not None:
                self.mismatches.append(f"extra frame after the capture: {describe(extra)}")
                extra = next_frame()
        finally:
            sock.close()
            self._done.set()
