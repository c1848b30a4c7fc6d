"""pyvirt.rpc.message: frames, limits, the frame reader, remote_error and stream holes."""

from __future__ import annotations

import pytest

from pyvirt import constants as c
from pyvirt.errors import NoDomainError, NoSupportError, libvirtError, make_error
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol

REMOTE = 0x20008086


def test_header_layout_and_empty_frame() -> None:
    frame = m.encode_frame(REMOTE, 1, 66, m.CALL, 0, m.OK)
    assert frame.hex() == "0000001c200080860000000100000042000000000000000000000000"
    msg = m.decode_frame(frame)
    assert msg.header == (REMOTE, 1, 66, m.CALL, 0, m.OK) and msg.payload == b""
    assert msg.encode() == frame
    assert "CALL" in repr(msg) and "serial=0" in repr(msg)


def test_fd_count_word() -> None:
    frame = m.encode_frame(REMOTE, 1, 310, m.CALL_WITH_FDS, 4, m.OK, b"\0\0\0\1", nfds=2)
    assert frame[28:32] == b"\0\0\0\2" and len(frame) == 36
    msg = m.decode_frame(frame)
    assert msg.nfds == 2 and msg.payload == b"\0\0\0\1" and msg.encode() == frame
    with pytest.raises(m.ProtocolError, match="Too many FDs to send 33"):
        m.encode_frame(REMOTE, 1, 310, m.CALL_WITH_FDS, 4, m.OK, b"", nfds=33)
    with pytest.raises(m.ProtocolError):
        m.encode_frame(REMOTE, 1, 310, m.CALL_WITH_FDS, 4, m.OK, b"")
    with pytest.raises(m.ProtocolError):
        m.encode_frame(REMOTE, 1, 310, m.CALL, 4, m.OK, b"", nfds=1)
    too_many = m.encode_frame(REMOTE, 1, 310, m.CALL_WITH_FDS, 4, m.OK, b"", nfds=1)
    too_many = too_many[:28] + b"\0\0\0\x21"
    with pytest.raises(m.ProtocolError, match="Received too many FDs 33"):
        m.decode_frame(too_many)
    with pytest.raises(m.ProtocolError, match="number of FDs"):
        m.decode_frame(b"\0\0\0\x1c" + too_many[4:28])


def test_size_limits_are_libvirts() -> None:
    assert (m.MESSAGE_MAX, m.PAYLOAD_MAX, m.HEADER_MAX, m.LEN_MAX) == (33554432, 33554408,
                                                                      24, 4)
    assert (m.INITIAL, m.LEGACY_PAYLOAD_MAX, m.STRING_MAX, m.NUM_FDS_MAX) == (
        65536, 262120, 4194304, 32)
    largest = m.encode_frame(REMOTE, 1, 1, m.STREAM, 1, m.CONTINUE, bytes(m.PAYLOAD_MAX))
    assert len(largest) == m.FRAME_MAX
    with pytest.raises(m.ProtocolError, match="Stream data too long"):
        m.encode_frame(REMOTE, 1, 1, m.STREAM, 1, m.CONTINUE, bytes(m.PAYLOAD_MAX + 1))
    with pytest.raises(m.ProtocolError, match="Unable to encode message payload"):
        m.encode_frame(REMOTE, 1, 1, m.REPLY, 1, m.OK, bytes(m.PAYLOAD_MAX + 1))
    reader = m.FrameReader()
    assert reader.feed(largest[:1 << 20]) == []
    assert reader.wanted == len(largest) - (1 << 20)
    (msg,) = reader.feed(largest[1 << 20:])
    assert len(msg.payload) == m.PAYLOAD_MAX


def test_reader_refuses_bad_lengths_at_once() -> None:
    reader = m.FrameReader()
    with pytest.raises(m.ProtocolError, match="too large, want 33554432") as info:
        reader.feed((m.FRAME_MAX + 1).to_bytes(4, "big"))
    assert info.value.fatal
    with pytest.raises(m.ProtocolError):  # the reader stays failed
        reader.feed(b"")
    with pytest.raises(m.ProtocolError, match="packet 3 bytes received from server too small"):
        m.FrameReader().feed(b"\0\0\0\3")
    with pytest.raises(m.ProtocolError, match="too large"):
        m.FrameReader().feed(b"\xff\xff\xff\xff")
    # A length word between 4 and 27: the frame is read, then its header cannot be decoded.
    reader = m.FrameReader()
    assert reader.feed(b"\0\0\0\x0a\0\0") == []
    with pytest.raises(m.ProtocolError, match="Unable to decode message header"):
        reader.feed(b"\0\0\0\0")


def test_reader_wanted_and_eof() -> None:
    frame = protocol.REMOTE.procedure("DOMAIN_LOOKUP_BY_NAME").call(6, {"name": "test"})
    reader = m.FrameReader()
    assert reader.wanted == 4
    assert reader.feed(frame[:2]) == [] and reader.wanted == 2
    assert reader.feed(frame[2:5]) == [] and reader.wanted == len(frame) - 5
    out = reader.feed(frame[5:] + frame + frame[:3])
    assert [x.serial for x in out] == [6, 6] and reader.buffered == 3
    with pytest.raises(m.ProtocolError, match="End of file while reading data") as info:
        reader.close()
    assert info.value.code == c.VIR_ERR_SYSTEM_ERROR
    m.FrameReader().close()  # nothing pending: a clean end


def test_call_reply_event_frames_match_libvirts() -> None:
    remote = protocol.REMOTE
    lookup = remote.procedure("virDomainLookupByName")
    assert lookup.call(6, {"name": "test"}).hex() == (
        "00000024200080860000000100000017000000000000000600000000" "0000000474657374")
    dom = {"name": "test", "uuid": bytes.fromhex("6695eb01f6a4830479aa97f2502e193f"), "id": 1}
    reply = lookup.reply(6, {"dom": dom})
    assert reply.hex() == ("000000382000808600000001000000170000000100000006000000000000000474"
                           "6573746695eb01f6a4830479aa97f2502e193f00000001")
    assert lookup.decode_reply(m.decode_frame(reply)) == {"dom": dom}
    event = remote.procedure("DOMAIN_EVENT_CALLBACK_LIFECYCLE").event(
        {"callbackID": 27, "msg": {"dom": dom, "event": 3, "detail": 0}})
    assert event.hex() == ("000000442000808600000001" "0000013e0000000200000001000000000000001b"
                           "00000004746573746695eb01f6a4830479aa97f2502e193f00000001"
                           "0000000300000000")
    ping = protocol.program("KEEPALIVE").procedure("PING").event()  # type: ignore[union-attr]
    assert ping.hex() == "0000001c6b65657000000001000000010000000200000000" "00000000"
    assert remote.procedure("CONNECT_CLOSE").call(9) == m.encode_frame(REMOTE, 1, 2, m.CALL,
                                                                        9, m.OK)


def test_error_reply_round_trip() -> None:
    lookup = protocol.REMOTE.procedure("DOMAIN_LOOKUP_BY_NAME")
    exc = make_error(c.VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'",
                     domain=c.VIR_FROM_TEST)
    frame = lookup.error_reply(6, exc)
    msg = m.decode_frame(frame)
    assert (msg.type, msg.status) == (m.REPLY, m.ERROR)
    with pytest.raises(NoDomainError) as info:
        lookup.decode_reply(msg)
    got = info.value
    assert got.err == exc.err
    assert str(got) == str(exc)


def test_error_body_from_vector_and_client_adjustments() -> None:
    # vector missing_domain: code 42, domain 12, "Domain not found", str1 the same.
    payload = bytes.fromhex(
        "0000002a0000000c0000000100000010446f6d61696e206e6f7420666f756e6400000002000000000000"
        "000100000010446f6d61696e206e6f7420666f756e640000000000000000ffffffffffffffff00000000")
    exc = m.decode_error(payload)
    assert isinstance(exc, NoDomainError)
    assert exc.err == (42, 12, "Domain not found", 2, "Domain not found", None, None, -1, -1)
    body = m.rpc_error_body("unknown procedure: 9999")
    # vector raw_client_errors: libvirtd's body for it, byte for byte
    assert m.error_codec().encode(body).hex() == (
        "00000027000000070000000100000017756e6b6e6f776e2070726f6365647572653a20393939390000"
        "000002000000000000000100000002257300000000000100000017756e6b6e6f776e2070726f636564"
        "7572653a20393939390000000000ffffffffffffffff00000000")
    exc = m.error_from_body(body)
    assert isinstance(exc, NoSupportError)   # as libvirt's client turns it
    assert exc.get_error_domain() == c.VIR_FROM_RPC
    body = dict(body, code=c.VIR_ERR_NO_NWFILTER, domain=c.VIR_FROM_QEMU, message="x")
    assert m.error_from_body(body).get_error_code() == c.VIR_ERR_NO_NWFILTER + 4
    body = dict(body, message=None)
    assert m.error_from_body(body).get_error_message() == "Unknown error"
    assert m.decode_error(b"\0\0").get_error_message() == "Unable to decode message payload"


def test_error_body_without_libvirt_error() -> None:
    body = m.error_body(RuntimeError("boom"))
    assert body["code"] == c.VIR_ERR_INTERNAL_ERROR and body["domain"] == c.VIR_FROM_RPC
    assert body["message"] == "Library function returned error but did not set virError"
    assert m.error_codec().decode(m.error_codec().encode(body)) == body
    exc = libvirtError("plain", None)
    exc.err = None  # (the constructor takes this thread's last error, as libvirt-python's)
    assert m.error_body(exc)["code"] == c.VIR_ERR_INTERNAL_ERROR


def test_stream_hole() -> None:
    assert m.encode_hole(61440).hex() == "000000000000f00000000000"
    assert m.decode_hole(bytes.fromhex("000000000000f00000000000")) == (61440, 0)
    assert m.hole_codec().decode(m.encode_hole(-1, 0)) == {"length": -1, "flags": 0}
    with pytest.raises(m.ProtocolError):
        m.decode_hole(b"\0\0")
    with pytest.raises(m.ProtocolError):
        m.encode_hole(1 << 64)


def test_protocol_error_as_libvirt_error() -> None:
    exc = m.ProtocolError("Unable to decode message payload").to_libvirt_error()
    assert exc.get_error_code() == c.VIR_ERR_RPC and exc.get_error_domain() == c.VIR_FROM_RPC
    assert exc.get_error_message() == "Unable to decode message payload"


# ---- FrameReader.read_buffer/read_done (pyvirtd's asyncio.BufferedProtocol path) ----------


def _read_in_steps(stream: bytes, steps: list[int]) -> tuple[list[m.Message], str | None]:
    """Messages and the error (if any) from reading ``stream`` through read_buffer/read_done
    with at most ``steps[i]`` bytes per read (cycled), as a socket would deliver it."""
    reader = m.FrameReader()
    out: list[m.Message] = []
    pos = i = 0
    try:
        while pos < len(stream):
            buf = reader.read_buffer()
            n = min(len(buf), steps[i % len(steps)], len(stream) - pos)
            i += 1
            buf[:n] = stream[pos:pos + n]
            pos += n
            out.extend(reader.read_done(n))
    except m.ProtocolError as exc:
        return out, exc.message
    return out, None


def _fed(stream: bytes) -> tuple[list[m.Message], str | None]:
    reader = m.FrameReader()
    try:
        return reader.feed(stream), None
    except m.ProtocolError as exc:
        return [], exc.message


@pytest.mark.parametrize("steps", [[1], [3, 7], [4096], [65536], [262144], [1 << 30],
                                   [100000, 5, 70000]])
def test_buffered_reads_match_feed(steps: list[int]) -> None:
    big = bytes(range(256)) * 1100           # larger than the receive buffer
    frames = [m.encode_frame(0x20008086, 1, 1, m.CALL, 1, m.OK, b"abcd"),
              m.encode_frame(0x20008086, 1, 209, m.STREAM, 2, m.CONTINUE, big),
              m.encode_frame(0x20008086, 1, 3, m.CALL, 3, m.OK, big),
              m.encode_frame(0x20008086, 1, 209, m.STREAM, 2, m.OK),
              m.encode_frame(0x20008086, 1, 4, m.CALL_WITH_FDS, 4, m.OK, b"xy", nfds=1)] * 3
    stream = b"".join(frames)
    got, err = _read_in_steps(stream, steps)
    assert err is None
    assert got == _fed(stream)[0]
    assert [msg.header for msg in got] == [m.decode_frame(f).header for f in frames]
    assert all(bytes(msg.payload) == m.decode_frame(f).payload for msg, f in zip(got, frames))
    assert [type(msg.payload) for msg in got[:3]] == [bytes, memoryview, bytes]


@pytest.mark.parametrize("bad", [b"\x00\x00\x00\x02", b"\xff\xff\xff\xff",
                                 b"\x00\x00\x00\x10" + bytes(12),
                                 m.encode_frame(1, 1, 1, m.CALL_WITH_FDS, 1, m.OK, nfds=32)[:-4]
                                 + b"\x00\x00\x00\x21"])
@pytest.mark.parametrize("steps", [[1], [5], [65536]])
def test_buffered_reads_fail_like_feed(bad: bytes, steps: list[int]) -> None:
    good = m.encode_frame(0x20008086, 1, 1, m.CALL, 1, m.OK, b"abcd")
    got, err = _read_in_steps(good + bad, steps)
    fed_err = _fed(bad)[1]
    assert err is not None and err == fed_err
    assert got in ([], [m.decode_frame(good)])   # a read that fails loses its messages
