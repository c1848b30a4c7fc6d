"""Bad input, abrupt clients, slow calls, limits: each gets libvirtd's error or a closed
connection, the daemon keeps serving, and other clients never notice."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from pyvirt.errors import libvirtError
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from unit.daemon.support import InProcessDaemon, Pyvirtd, RawClient, error_of

REMOTE = protocol.REMOTE


def _healthy(d: InProcessDaemon) -> None:
    with RawClient(d.rw).open() as client:
        assert client.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})["dom"]["name"] == "test"


@pytest.mark.parametrize("data", [
    b"\xff" * 64,                                   # length 0xffffffff: over the limit
    (m.FRAME_MAX + 1).to_bytes(4, "big"),           # one byte over the 32 MiB maximum
    b"\x00\x00\x00\x02",                            # shorter than its own length word
    b"\x00\x00\x00\x10" + b"\x00" * 12,             # shorter than a header
    struct.pack(">IIIiiIiI", 32, 0x20008086, 1, 3, m.CALL_WITH_FDS, 0, 0, 0xFFFFFFFF),
    # (a CALL_WITH_FDS claiming 2^32-1 FDs)
])
def test_fatal_framing_closes_only_that_client(daemon: InProcessDaemon, data: bytes) -> None:
    with RawClient(daemon.rw).open() as bystander:
        with RawClient(daemon.rw) as bad:
            bad.send(data)
            assert bad.closed_by_peer()
        assert bystander.result("CONNECT_GET_TYPE") == {"type": "TEST"}
    _healthy(daemon)


def test_garbage_with_a_plausible_length(daemon: InProcessDaemon) -> None:
    """A frame-sized blob of junk is a call to a program that does not exist."""
    with RawClient(daemon.rw) as client:
        junk = bytearray(random.Random(1).randrange(256) for _ in range(60))
        junk[12:16] = bytes(4)  # type CALL (other types are dropped without an answer)
        client.send((64).to_bytes(4, "big") + junk)
        msg = client.recv()
        assert msg.type == m.REPLY and msg.status == m.ERROR
        assert error_of(msg)["message"].startswith("Cannot find program")
    _healthy(daemon)


def test_truncated_frame_then_hang_up(daemon: InProcessDaemon) -> None:
    frame = REMOTE.procedure("CONNECT_OPEN").call(0, {"name": "test:///default", "flags": 0})
    for cut in (2, 10, len(frame) - 1):
        with RawClient(daemon.rw) as client:
            client.send(frame[:cut])
    _healthy(daemon)


def test_bad_payloads(daemon: InProcessDaemon) -> None:
    with RawClient(daemon.rw).open() as client:
        proc = REMOTE.procedure("DOMAIN_LOOKUP_BY_NAME")
        # a string longer than the frame holds; a string over REMOTE_STRING_MAX
        for payload in ((100).to_bytes(4, "big") + b"abc",
                        (m.STRING_MAX + 1).to_bytes(4, "big") + b"x" * 64):
            client.send(m.encode_frame(proc.program.number, 1, proc.number, m.CALL, 77,
                                       m.OK, payload))
            body = error_of(client.reply(77))
            assert (body["code"], body["message"]) == (39, "Unable to decode message payload")
        # an array over its declared maximum (CONNECT_BASELINE_CPU: xmlCPUs<256>)
        baseline = REMOTE.procedure("CONNECT_BASELINE_CPU")
        payload = (257).to_bytes(4, "big") + b"\0\0\0\0" * 258
        client.send(m.encode_frame(baseline.program.number, 1, baseline.number, m.CALL, 78,
                                   m.OK, payload))
        assert error_of(client.reply(78))["message"] == "Unable to decode message payload"
        # unknown procedure, an event procedure called, and a MESSAGE sent to REMOTE
        for number in (9999, 0, -1, REMOTE.procedure("DOMAIN_EVENT_LIFECYCLE").number):
            client.send(m.encode_frame(REMOTE.number, 1, number, m.CALL, 79, m.OK, b""))
            assert error_of(client.reply(79))["message"] == f"unknown procedure: {number}"
        client.send(m.encode_frame(REMOTE.number, 1, 3, m.MESSAGE, 80, m.OK, b""))
        client.send(m.encode_frame(REMOTE.number, 1, 3, m.REPLY, 81, m.OK, b""))
        # file descriptors are not accepted (nothing pyvirtd serves takes them yet)
        client.send(m.encode_frame(REMOTE.number, 1, 3, m.CALL_WITH_FDS, 82, m.OK, b"",
                                   nfds=0))
        assert error_of(client.reply(82))["code"] == 3
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        assert client.messages == []


def test_replies_matched_by_serial_when_pipelined(daemon: InProcessDaemon) -> None:
    with RawClient(daemon.rw).open() as client:
        names = ["test", "nosuch", "test", "nosuch2"] * 5
        proc = REMOTE.procedure("DOMAIN_LOOKUP_BY_NAME")
        client.send(b"".join(proc.call(100 + i, {"name": n}) for i, n in enumerate(names)))
        seen = {}
        for _ in names:
            msg = client.recv()
            seen[msg.serial] = msg
        for i, name in enumerate(names):
            msg = seen[100 + i]
            if name == "test":
                assert proc.decode_reply(msg)["dom"]["name"] == "test"
            else:
                assert error_of(msg)["code"] == 42


def _fifo(tmp_path: Path) -> str:
    path = str(tmp_path / "slow.fifo")
    os.mkfifo(path)
    return path


def _release(fifo: str) -> None:
    fd = os.open(fifo, os.O_WRONLY)
    os.write(fd, b"not a save image")
    os.close(fd)


def test_slow_call_blocks_nobody(daemon: InProcessDaemon, tmp_path: Path) -> None:
    """A call stuck in the driver (reading a FIFO nobody writes) holds one worker: the
    same client's other calls, keepalive, and other clients carry on."""
    fifo = _fifo(tmp_path)
    with RawClient(daemon.rw).open() as slow, RawClient(daemon.rw).open() as other:
        proc = REMOTE.procedure("DOMAIN_SAVE_IMAGE_GET_XML_DESC")
        slow.send(proc.call(500, {"file": fifo, "flags": 0}))
        start = time.monotonic()
        for _ in range(20):
            assert other.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})
        assert slow.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        slow.send(protocol.KEEPALIVE.procedure("PING").event())
        assert slow.recv().proc == protocol.KEEPALIVE.procedure("PONG").number
        assert time.monotonic() - start < 2
        threading.Thread(target=_release, args=(fifo,)).start()
        with pytest.raises(libvirtError):
            proc.decode_reply(slow.reply(500))


def test_client_gone_mid_call(daemon: InProcessDaemon, tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    client = RawClient(daemon.rw).open()
    client.send(REMOTE.procedure("DOMAIN_SAVE_IMAGE_GET_XML_DESC").call(
        9, {"file": fifo, "flags": 0}))
    time.sleep(0.2)
    client.sock.shutdown(socket.SHUT_RDWR)
    client.close()
    time.sleep(0.2)
    _release(fifo)
    time.sleep(0.2)
    _healthy(daemon)
    assert daemon.daemon is not None
    deadline = time.monotonic() + 5
    while daemon.daemon.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemon.daemon.clients


def test_request_limit_pauses_reading(tmp_path: Path) -> None:
    """Beyond max_client_requests calls in flight the daemon stops reading that client
    (no error) and resumes when one finishes."""
    fifos = []
    for i in range(3):
        path = str(tmp_path / f"f{i}")
        os.mkfifo(path)
        fifos.append(path)
    with InProcessDaemon(tmp_path / "d", max_client_requests=2) as d:
        with RawClient(d.rw).open() as client:
            proc = REMOTE.procedure("DOMAIN_SAVE_IMAGE_GET_XML_DESC")
            for i, path in enumerate(fifos[:2]):
                client.send(proc.call(10 + i, {"file": path, "flags": 0}))
            client.send(REMOTE.procedure("CONNECT_GET_TYPE").call(20))
            client.sock.settimeout(1)
            with pytest.raises(TimeoutError):
                client.recv()           # the third call waits for a free slot
            client.sock.settimeout(10)
            _release(fifos[0])
            got = {client.recv().serial, client.recv().serial}
            assert got == {10, 20}
            _release(fifos[1])
            assert client.recv().serial == 11


def test_max_clients(tmp_path: Path) -> None:
    with InProcessDaemon(tmp_path, max_clients=2) as d:
        a, b = RawClient(d.rw).open(), RawClient(d.rw).open()
        with RawClient(d.rw) as third:
            assert third.closed_by_peer()
        a.close()
        time.sleep(0.2)
        with RawClient(d.rw).open() as again:
            assert again.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        b.close()


def test_fuzz_keeps_serving(daemon: InProcessDaemon) -> None:
    """Thousands of malformed frames from several connections while a well-behaved
    client keeps working."""
    rng = random.Random(7)
    procs = list(REMOTE.procedures.values())
    errors = []

    def fuzz(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(5):
            try:
                with RawClient(daemon.rw, timeout=2) as client:
                    for _ in range(200):
                        proc = r.choice(procs)
                        payload = bytes(r.randrange(256) for _ in range(r.randrange(0, 80)))
                        kind = r.choice((m.CALL, m.CALL, m.CALL, m.STREAM, m.MESSAGE, 9))
                        prog = r.choice((REMOTE.number, REMOTE.number, 0x20008087, 7))
                        client.send(m.encode_frame(prog, r.choice((1, 1, 2)), proc.number,
                                                   kind, r.randrange(1 << 32),
                                                   r.choice((0, 0, 1, 2)), payload))
            except (OSError, EOFError):
                pass
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=fuzz, args=(rng.randrange(1 << 30),)) for _ in range(4)]
    for t in threads:
        t.start()
    with RawClient(daemon.rw).open() as good:
        while any(t.is_alive() for t in threads):
            assert good.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})["dom"]["name"] == \
                "test"
    for t in threads:
        t.join()
    assert not errors
    _healthy(daemon)


def test_busy_driver_lock_never_stalls_the_loop(pyvirtd: Pyvirtd, tmp_path: Path) -> None:
    """In-memory drivers' calls run on the event loop only when the driver's lock is free:
    while a worker holds it (a core dump writing to a FIFO nobody reads), the loop keeps
    answering, and calls needing the lock wait on workers."""
    fifo = _fifo(tmp_path)
    with RawClient(pyvirtd.rw).open() as holder, RawClient(pyvirtd.rw).open() as other:
        dom = holder.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})["dom"]
        holder.send(REMOTE.procedure("DOMAIN_CORE_DUMP").call(
            900, {"dom": dom, "to": fifo, "flags": 0}))
        time.sleep(0.3)
        start = time.monotonic()
        other.send(protocol.KEEPALIVE.procedure("PING").event())
        assert other.recv().proc == protocol.KEEPALIVE.procedure("PONG").number
        assert other.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        suspend = REMOTE.procedure("DOMAIN_SUSPEND")
        other.send(suspend.call(901, {"dom": dom}))      # needs the lock: waits
        assert time.monotonic() - start < 1
        reader = os.open(fifo, os.O_RDONLY)
        try:
            assert holder.reply(900).status == m.OK
        finally:
            os.close(reader)
        assert other.reply(901).status == m.OK
        other.result("DOMAIN_RESUME", {"dom": dom})
