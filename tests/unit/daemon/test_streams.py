"""Streams over the wire (vector ``screenshot``): the opening reply, data frames with the
call's serial, the empty end-of-data frame, finish and abort confirmations."""

from __future__ import annotations

from pyvirt.drivers.test.domains import screenshot_png
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from unit.daemon.support import InProcessDaemon, RawClient

SCREENSHOT = protocol.REMOTE.procedure("DOMAIN_SCREENSHOT")


def _open(client: RawClient, serial: int) -> None:
    dom = client.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})["dom"]
    client.send(SCREENSHOT.call(serial, {"dom": dom, "screen": 0, "flags": 0}))
    assert SCREENSHOT.decode_reply(client.reply(serial)) == {"mime": "image/png"}


def _stream(serial: int, status: int) -> bytes:
    return m.encode_frame(SCREENSHOT.program.number, 1, SCREENSHOT.number, m.STREAM, serial,
                          status, b"")


def test_screenshot_finish(daemon: InProcessDaemon) -> None:
    with RawClient(daemon.rw).open() as client:
        _open(client, 40)
        data = b""
        while True:
            msg = client.recv()
            assert (msg.type, msg.serial, msg.proc, msg.status) == (
                m.STREAM, 40, SCREENSHOT.number, m.CONTINUE)
            if not msg.payload:
                break
            data += msg.payload
        assert data == screenshot_png()
        client.send(_stream(40, m.OK))                 # finish
        msg = client.recv()
        assert (msg.type, msg.serial, msg.status, msg.payload) == (m.STREAM, 40, m.OK, b"")
        client.send(_stream(40, m.OK))                 # the stream is gone: ignored
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}


def test_screenshot_abort_and_disconnect(daemon: InProcessDaemon) -> None:
    with RawClient(daemon.rw).open() as client:
        _open(client, 41)
        client.send(_stream(41, m.ERROR))              # abort, whatever was sent already
        while True:
            msg = client.recv()
            if msg.status != m.CONTINUE:
                break
        assert (msg.type, msg.serial, msg.status) == (m.STREAM, 41, m.OK)
        _open(client, 42)                              # a second one, left open
    with RawClient(daemon.rw).open() as again:
        assert again.result("CONNECT_GET_TYPE") == {"type": "TEST"}
