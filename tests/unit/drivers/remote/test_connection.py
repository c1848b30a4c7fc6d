"""The RPC connection against a scripted peer on a socketpair: serial matching with replies
out of order, many threads at once, keepalive both ways, stream frames, and how a dying
channel fails calls with libvirt's errors."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pyvirt
from pyvirt.drivers.remote import connection as rc
from pyvirt.drivers.remote.dialers import Channel
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from pyvirt.rpc.protocol import keepalive as ka

REMOTE = protocol.REMOTE
LOOKUP = REMOTE.procedure("DOMAIN_LOOKUP_BY_NAME")
HOSTNAME = REMOTE.procedure("CONNECT_GET_HOSTNAME")
PING = m.encode_frame(ka.PROGRAM, 1, ka.KEEPALIVE_PROC_PING, m.MESSAGE, 0, m.OK)
PONG = m.encode_frame(ka.PROGRAM, 1, ka.KEEPALIVE_PROC_PONG, m.MESSAGE, 0, m.OK)


class Peer:
    """The daemon side of a socketpair: read frames, write frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = m.FrameReader()
        self.pending: list[m.Message] = []
        sock.settimeout(5)

    def read(self) -> m.Message | None:
        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def serve(self, handler: Callable[[m.Message], list[bytes]]) -> threading.Thread:
        def loop() -> None:
            while True:
                msg = self.read()
                if msg is None:
                    return
                for frame in handler(msg):
                    self.send(frame)
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def pair() -> Iterator[tuple[rc.Connection, Peer]]:
    ours, theirs = socket.socketpair()
    conn = rc.Connection(Channel(ours))
    peer = Peer(theirs)
    yield conn, peer
    conn.close()
    theirs.close()


def dom(name: str) -> dict[str, Any]:
    return {"name": name, "uuid": bytes(16), "id": 1}


def echo_lookup(msg: m.Message) -> list[bytes]:
    """DOMAIN_LOOKUP_BY_NAME answered with a domain of the asked name."""
    if msg.prog == ka.PROGRAM:
        return []
    name = LOOKUP.decode_args(msg.payload)["name"]
    return [LOOKUP.reply(msg.serial, {"dom": dom(name)})]


def test_serials_count_from_zero_and_replies_match_out_of_order(
        pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    results: dict[str, str] = {}

    def call(name: str) -> None:
        results[name] = conn.call(LOOKUP, {"name": name})["dom"]["name"]

    threads = [threading.Thread(target=call, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    first, second = peer.read(), peer.read()
    assert first is not None and second is not None
    assert sorted((first.serial, second.serial)) == [0, 1]
    # answer the second call first
    for msg in (second, first):
        peer.send(LOOKUP.reply(msg.serial, {"dom": dom(LOOKUP.decode_args(msg.payload)["name"])}))
    for t in threads:
        t.join(5)
    assert results == {"a": "a", "b": "b"}


def test_many_threads_at_once(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    peer.serve(echo_lookup)
    errors: list[str] = []

    def worker(tag: int) -> None:
        for i in range(100):
            name = f"d{tag}-{i}"
            got = conn.call(LOOKUP, {"name": name})["dom"]["name"]
            if got != name:
                errors.append(f"{name} -> {got}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert conn._serial == 800 and not conn._calls and conn._owner is None


def test_error_reply_raises_the_servers_error(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    exc = pyvirt.errors.make_error(pyvirt.VIR_ERR_NO_DOMAIN, domain=pyvirt.VIR_FROM_TEST)
    peer.serve(lambda msg: [LOOKUP.error_reply(msg.serial, exc)])
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.call(LOOKUP, {"name": "x"})
    assert info.value.err == exc.err


def test_ping_is_answered_during_a_call(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    seen: list[int] = []

    def handler(msg: m.Message) -> list[bytes]:
        seen.append(msg.prog)
        if msg.prog == ka.PROGRAM:   # the PONG: now answer the call
            return [HOSTNAME.reply(0, {"hostname": "h"})]
        return [PING]

    peer.serve(handler)
    assert conn.call(HOSTNAME) == {"hostname": "h"}
    assert seen == [REMOTE.number, ka.PROGRAM]


def test_background_thread_answers_pings_and_delivers_events(
        pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    events: list[m.Message] = []
    conn.on_event = events.append
    conn.start_background()
    lifecycle = REMOTE.procedure("DOMAIN_EVENT_CALLBACK_LIFECYCLE")
    peer.send(PING)
    peer.send(lifecycle.event({"callbackID": 7, "msg": {"dom": dom("t"), "event": 3,
                                                        "detail": 0}}))
    pong = peer.read()
    assert pong is not None and pong.encode() == PONG
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events and lifecycle.decode_msg(events[0].payload)["callbackID"] == 7
    # calls still work while the background thread owns the I/O
    peer.serve(echo_lookup)
    assert conn.call(LOOKUP, {"name": "z"})["dom"]["name"] == "z"


def test_keepalive_timer_rules() -> None:
    now = [100.0]
    k = rc.KeepAlive(clock=lambda: now[0])
    assert k.timeout() is None and k.trigger() is None      # off until started
    k.start(5, 2)
    assert k.timeout() == 5
    now[0] += 5
    assert k.trigger() == "ping"
    now[0] += 5
    assert k.trigger() == "ping"
    k.received()                                              # any frame resets it
    now[0] += 4.9
    assert k.trigger() is None
    now[0] += 0.1
    assert k.trigger() == "ping"
    now[0] += 5
    assert k.trigger() == "ping"
    now[0] += 5
    assert k.trigger() == "dead"                              # count PINGs unanswered


def test_keepalive_closes_a_silent_connection(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    reasons: list[int] = []
    conn.on_close = lambda reason, err: reasons.append(reason)
    conn.keepalive.start(0.05, 2)
    conn.start_background()
    pings = [peer.read() for _ in range(2)]                   # never answered
    assert all(p is not None and p.encode() == PING for p in pings)
    deadline = time.monotonic() + 5
    while conn.is_open() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reasons == [rc.CLOSE_REASON_KEEPALIVE]
    assert conn.error is not None
    assert conn.error.get_error_message() == (
        "internal error: connection closed due to keepalive timeout")
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.call(HOSTNAME)
    assert info.value.get_error_message() == "internal error: client socket is closed"


def test_end_of_file_fails_the_call(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    reasons: list[int] = []
    conn.on_close = lambda reason, err: reasons.append(reason)

    def hang_up(msg: m.Message) -> list[bytes]:
        peer.sock.shutdown(socket.SHUT_RDWR)
        return []

    peer.serve(hang_up)
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.call(HOSTNAME)
    err = info.value
    assert err.get_error_message() == "End of file while reading data: Input/output error"
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_SYSTEM_ERROR, pyvirt.VIR_FROM_RPC)
    assert reasons == [rc.CLOSE_REASON_EOF]
    assert not conn.is_open()


def test_oversized_frame_is_fatal(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    peer.serve(lambda msg: [b"\x7f\xff\xff\xff" + bytes(24)])
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.call(HOSTNAME)
    assert "too large" in info.value.get_error_message()
    assert not conn.is_open()


def test_close_wakes_waiting_threads(pair: tuple[rc.Connection, Peer]) -> None:
    conn, peer = pair
    conn.start_background()
    failures: list[str] = []

    def call() -> None:
        try:
            conn.call(HOSTNAME)
        except pyvirt.libvirtError as exc:
            failures.append(exc.get_error_message())

    thread = threading.Thread(target=call)
    thread.start()
    assert peer.read() is not None           # the call went out; never answered
    conn.close()
    thread.join(5)
    assert failures == ["internal error: client socket is closed"]
    assert conn.state == rc.CLOSED


def test_stream_frames_reach_their_stream(pair: tuple[rc.Connection, Peer]) -> None:
    from pyvirt.drivers.remote.streams import RemoteStream

    conn, peer = pair
    shot = REMOTE.procedure("DOMAIN_SCREENSHOT")
    stream = RemoteStream(conn, REMOTE.number, 1, shot.number)

    def handler(msg: m.Message) -> list[bytes]:
        if msg.type == m.CALL:
            head = (REMOTE.number, 1, shot.number)
            return [shot.reply(msg.serial, {"mime": "image/png"}),
                    m.encode_frame(*head, m.STREAM, msg.serial, m.CONTINUE, b"abc"),
                    m.encode_frame(*head, m.STREAM_HOLE, msg.serial, m.CONTINUE,
                                   m.encode_hole(5)),
                    m.encode_frame(*head, m.STREAM, msg.serial, m.CONTINUE, b"de"),
                    m.encode_frame(*head, m.STREAM, msg.serial, m.CONTINUE, b"")]
        assert (msg.type, msg.status) == (m.STREAM, m.OK)   # our finish
        return [m.encode_frame(REMOTE.number, 1, shot.number, m.STREAM, msg.serial, m.OK)]

    peer.serve(handler)
    reply = conn.call_frame(lambda s: shot.call(s, {"dom": dom("t"), "screen": 0,
                                                     "flags": 0}), stream=stream)
    assert shot.decode_reply(reply) == {"mime": "image/png"}
    assert stream.recv(2, True) == b"ab"
    assert stream.recv(10, True) == b"c"
    assert stream.recv(10, True) == -3            # at a hole
    assert stream.recv_hole() == 5
    assert stream.recv(10, False) == b"de"
    assert stream.recv(10, False) == b""          # end of data
    stream.finish()
    assert stream.serial not in conn._streams


def test_console_pattern_recv_in_one_thread_finish_in_another(
        pair: tuple[rc.Connection, Peer]) -> None:
    """virsh console: one thread blocks in recv while another sends keystrokes and finally
    finishes; the finish's answer wakes both."""
    from pyvirt.drivers.remote.streams import RemoteStream

    conn, peer = pair
    console = REMOTE.procedure("DOMAIN_OPEN_CONSOLE")
    head = (REMOTE.number, 1, console.number)
    typed: list[bytes] = []

    def handler(msg: m.Message) -> list[bytes]:
        if msg.type == m.CALL:
            return [console.reply(msg.serial),
                    m.encode_frame(*head, m.STREAM, msg.serial, m.CONTINUE, b"login: ")]
        if msg.status == m.CONTINUE:
            typed.append(msg.payload)
            return []
        return [m.encode_frame(*head, m.STREAM, msg.serial, m.OK)]   # finish answered

    peer.serve(handler)
    stream = RemoteStream(conn, REMOTE.number, 1, console.number)
    conn.call(console, {"dom": dom("t"), "dev_name": None, "flags": 0}, stream=stream)
    output: list[Any] = []

    def pump() -> None:
        try:
            while True:
                data = stream.recv(1024, False)
                if not data:
                    break
                output.append(data)
        except pyvirt.libvirtError as exc:
            output.append(exc.get_error_message())

    reader = threading.Thread(target=pump)
    reader.start()
    deadline = time.monotonic() + 5
    while not output and time.monotonic() < deadline:
        time.sleep(0.01)
    assert output == [b"login: "]
    stream.send(b"root\r")
    stream.finish()
    reader.join(5)
    assert not reader.is_alive()
    assert typed == [b"root\r"]
    assert output[1:] == ["Requested operation is not valid: stream is closed"]


def test_nonblocking_recv_would_block(pair: tuple[rc.Connection, Peer]) -> None:
    from pyvirt.drivers.remote.streams import RemoteStream

    conn, _peer = pair
    stream = RemoteStream(conn, REMOTE.number, 1, 201, nonblock=True)
    assert stream.recv(10, False) == -2


def test_state_machine() -> None:
    class Refused:
        transport = "test"

        def dial(self) -> Channel:
            raise pyvirt.errors.make_error(pyvirt.VIR_ERR_SYSTEM_ERROR, "no daemon",
                                           domain=pyvirt.VIR_FROM_RPC)

    class Pair:
        transport = "test"

        def __init__(self) -> None:
            self.ours, self.theirs = socket.socketpair()

        def dial(self) -> Channel:
            return Channel(self.ours)

    failed = rc.Connection()
    assert failed.state == rc.CONNECTING
    with pytest.raises(pyvirt.libvirtError, match="no daemon"):
        failed.connect(Refused())
    assert failed.state == rc.CLOSED

    pair = Pair()
    conn = rc.Connection()
    conn.connect(pair)
    assert conn.state == rc.OPEN and conn.is_open()
    with pytest.raises(pyvirt.libvirtError, match="already open"):
        conn.connect(pair)
    pair.theirs.shutdown(socket.SHUT_WR)      # the daemon hangs up
    with pytest.raises(pyvirt.libvirtError, match="End of file"):
        conn.call(HOSTNAME)
    assert conn.state == rc.CLOSED and conn.close_reason == rc.CLOSE_REASON_EOF
    wake = conn._wake_r
    conn.close()                              # releases what it holds, keeps the reason
    assert conn.close_reason == rc.CLOSE_REASON_EOF and conn._wake_r == -1
    with pytest.raises(OSError):
        os.fstat(wake)
    pair.theirs.close()
    with pytest.raises(pyvirt.libvirtError, match="client socket is closed"):
        conn.call(HOSTNAME)
