"""The QMP monitor against a scripted QMP server on a unix socket: replies reach the thread
that asked, events reach the handler in QEMU's order, errors, timeouts and an end of file
map to libvirt's errors."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt import constants as c
from pyvirt.drivers.qemu.monitor import LoopThread, Monitor
from pyvirt.errors import libvirtError

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0},
                                "package": ""}, "capabilities": []}}


class FakeQemu:
    """Answers one QMP client: ``echo`` returns its arguments, ``stop`` sends a STOP event
    before its reply, ``fail`` an error, ``hang`` nothing until ``release()``, ``quit``
    closes the connection."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(1)
        self.hung: list[dict[str, object]] = []
        self._release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, conn: socket.socket, obj: object) -> None:
        conn.sendall(json.dumps(obj).encode() + b"\n")

    @staticmethod
    def _messages(conn: socket.socket) -> Iterator[dict[str, object]]:
        """QMP clients send JSON objects back to back, not necessarily one per line."""
        decoder, buffer = json.JSONDecoder(), ""
        while chunk := conn.recv(65536):
            buffer += chunk.decode()
            while buffer.strip():
                try:
                    msg, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break
                buffer = buffer.lstrip()[end:]
                yield msg

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            self._send(conn, GREETING)
            for msg in self._messages(conn):
                cmd, ident = msg.get("execute"), msg.get("id")
                if cmd == "quit":
                    return
                if cmd == "hang":
                    self.hung.append(msg)
                    self._release.wait(10)
                    self._send(conn, {"return": "late", "id": ident})
                elif cmd == "fail":
                    self._send(conn, {"error": {"class": "GenericError", "desc": "boom"},
                                      "id": ident})
                else:
                    if cmd == "stop":
                        self._send(conn, {"event": "STOP", "data": {},
                                          "timestamp": {"seconds": 5, "microseconds": 250000}})
                    self._send(conn, {"return": msg.get("arguments", {}), "id": ident})

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread("test-monitor")
    yield thread
    thread.stop()


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[FakeQemu]:
    fake = FakeQemu(tmp_path / "qmp.sock")
    yield fake
    fake.release()
    fake.server.close()


def connect(loop: LoopThread, qemu: FakeQemu) -> tuple[Monitor, list[tuple[str, float]],
                                                         list[int]]:
    events: list[tuple[str, float]] = []
    eofs: list[int] = []
    mon = Monitor(loop, qemu.path, "test", lambda name, data, when: events.append((name, when)),
                  lambda: eofs.append(1))
    mon.connect(timeout=5)
    return mon, events, eofs


def test_reply_and_event_order(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, events, _ = connect(loop, qemu)
    assert mon.execute("echo", {"a": 1}) == {"a": 1}
    assert mon.execute("stop") == {}
    # the STOP event was handled before the command's reply came back to us
    assert events == [("STOP", 5.25)]
    mon.close()


def test_error_reply(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, _, _ = connect(loop, qemu)
    with pytest.raises(libvirtError) as info:
        mon.execute("fail")
    assert info.value.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert "unable to execute QEMU command 'fail': boom" in str(info.value)
    assert mon.execute("echo", {"b": 2}) == {"b": 2}
    mon.close()


def test_timeout_then_late_reply_is_dropped(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, _, _ = connect(loop, qemu)
    start = time.monotonic()
    with pytest.raises(libvirtError) as info:
        mon.execute("hang", timeout=0.2)
    assert info.value.get_error_code() == c.VIR_ERR_OPERATION_TIMEOUT
    assert time.monotonic() - start < 2
    qemu.release()
    # the late reply ("late") is not mistaken for the next command's
    assert mon.execute("echo", {"c": 3}) == {"c": 3}
    mon.close()


def test_end_of_file_while_waiting(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, _, eofs = connect(loop, qemu)
    with pytest.raises(libvirtError) as info:
        mon.execute("quit")
    assert info.value.get_error_code() == c.VIR_ERR_OPERATION_FAILED
    assert "Unable to read from monitor" in str(info.value)
    deadline = time.monotonic() + 5
    while not eofs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eofs == [1]
    assert mon.state == Monitor.CLOSED
    with pytest.raises(libvirtError) as info:
        mon.execute("echo")
    assert info.value.get_error_code() == c.VIR_ERR_OPERATION_FAILED


def test_concurrent_callers_get_their_own_replies(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, _, _ = connect(loop, qemu)
    results: dict[int, list[object]] = {}

    def worker(n: int) -> None:
        results[n] = [mon.execute("echo", {"n": n, "i": i}) for i in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {n: [{"n": n, "i": i} for i in range(50)] for n in range(4)}
    mon.close()


def test_execute_from_the_loop_thread_is_refused(loop: LoopThread, qemu: FakeQemu) -> None:
    mon, _, _ = connect(loop, qemu)

    async def inside() -> str:
        try:
            mon.execute("echo")
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "own thread" in loop.run(inside(), timeout=5)
    mon.close()


def test_commands_are_written_by_the_calling_thread(loop: LoopThread, qemu: FakeQemu,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    mon, _, _ = connect(loop, qemu)
    through_loop: list[object] = []
    real_submit = mon._client.submit
    monkeypatch.setattr(mon._client, "submit",
                        lambda *a: through_loop.append(a) or real_submit(*a))
    assert mon.execute("echo", {"x": 1}) == {"x": 1}
    assert through_loop == []
    mon.close()


def test_short_direct_write_is_completed_in_order(loop: LoopThread, qemu: FakeQemu,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A direct write the socket takes only part of: the rest goes out through the loop
    before any later command."""
    mon, _, _ = connect(loop, qemu)
    real_write = os.write
    direct_fd = mon._client._direct_fd
    cut: list[int] = []

    def short_write(fd: int, data: bytes) -> int:
        if fd == direct_fd and not cut:
            cut.append(len(data))
            return real_write(fd, data[:7])
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", short_write)
    assert mon.execute("echo", {"first": True}) == {"first": True}
    assert cut
    assert mon.execute("echo", {"second": True}) == {"second": True}
    mon.close()
