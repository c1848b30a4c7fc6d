"""Frames of libvirt's RPC protocol: header, length framing, errors, stream holes.

A frame is ``u32 length`` (the whole frame, these 4 bytes included), a 24-byte header
``prog, vers, proc, type, serial, status``, for CALL_WITH_FDS / REPLY_WITH_FDS a ``u32``
count of passed file descriptors, then the payload (an XDR body, or raw stream data).
Limits are libvirt's (src/rpc/virnetprotocol.x, virnetmessage.c): a frame's header and
payload take at most VIR_NET_MESSAGE_MAX (32 MiB) bytes, at most 32 FDs per message.

* :class:`Message`: one decoded frame (header fields, ``nfds``, ``payload`` bytes).
* :func:`encode_frame` / :func:`decode_frame`: one frame to and from bytes.
* :class:`FrameReader`: feed it bytes as they arrive, get complete messages; ``wanted``
  tells a transport how many bytes finish the current step, so it can read a *_WITH_FDS
  frame exactly and then collect the descriptors that follow it on the socket.
* :func:`error_body` / :func:`error_from_body`: ``remote_error`` (virNetMessageError) to and
  from :class:`pyvirt.errors.libvirtError`, with the client-side adjustments libvirt makes.
* :func:`encode_hole` / :func:`decode_hole`: the STREAM_HOLE payload.

Framing failures raise :class:`ProtocolError` with libvirt's wording; ``fatal`` ones mean
the byte stream cannot be resynchronised and the connection must be closed (libvirt closes
it, sending nothing).
"""

from __future__ import annotations

import struct

from pyvirt.rpc.protocol import net
from pyvirt.rpc.xdr import XDRError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.errors import libvirtError
    from pyvirt.rpc.xdr import Codec

# Message types (virNetMessageType) and statuses (virNetMessageStatus).
CALL = net.VIR_NET_CALL
REPLY = net.VIR_NET_REPLY
MESSAGE = net.VIR_NET_MESSAGE
STREAM = net.VIR_NET_STREAM
CALL_WITH_FDS = net.VIR_NET_CALL_WITH_FDS
REPLY_WITH_FDS = net.VIR_NET_REPLY_WITH_FDS
STREAM_HOLE = net.VIR_NET_STREAM_HOLE
OK = net.VIR_NET_OK
ERROR = net.VIR_NET_ERROR
CONTINUE = net.VIR_NET_CONTINUE

TYPE_NAMES = {CALL: "CALL", REPLY: "REPLY", MESSAGE: "MESSAGE", STREAM: "STREAM",
              CALL_WITH_FDS: "CALL_WITH_FDS", REPLY_WITH_FDS: "REPLY_WITH_FDS",
              STREAM_HOLE: "STREAM_HOLE"}
STATUS_NAMES = {OK: "OK", ERROR: "ERROR", CONTINUE: "CONTINUE"}
WITH_FDS = frozenset((CALL_WITH_FDS, REPLY_WITH_FDS))

# Limits.
LEN_MAX = net.VIR_NET_MESSAGE_LEN_MAX              # 4: the length word
HEADER_MAX = net.VIR_NET_MESSAGE_HEADER_MAX        # 24: the header
MESSAGE_MAX = net.VIR_NET_MESSAGE_MAX              # 32 MiB: header + payload
PAYLOAD_MAX = net.VIR_NET_MESSAGE_PAYLOAD_MAX      # MESSAGE_MAX - HEADER_MAX
INITIAL = net.VIR_NET_MESSAGE_INITIAL              # 64 KiB: libvirt's first buffer size
LEGACY_PAYLOAD_MAX = net.VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX  # stream data chunk size
STRING_MAX = net.VIR_NET_MESSAGE_STRING_MAX        # 4 MiB
NUM_FDS_MAX = net.VIR_NET_MESSAGE_NUM_FDS_MAX      # 32
FRAME_MIN = LEN_MAX + HEADER_MAX                   # 28: a frame with an empty payload
FRAME_MAX = LEN_MAX + MESSAGE_MAX                  # the largest legal length word

# Event MESSAGE frames from libvirtd carry serial 1, keepalive ones serial 0.
EVENT_SERIAL = 1
KEEPALIVE_SERIAL = 0

_FRAME = struct.Struct(">IIIiiIi")   # length + header
_HEADER = struct.Struct(">IIiiIi")
_U32 = struct.Struct(">I")
# FrameReader.read_buffer's receive buffer: calls, replies and small frames are cut out of
# it; a larger frame is read into a buffer of its own
_HEAD_SIZE = 64 * 1024

# virErrorLevel, virErrorNumber/virErrorDomain values used here (include/libvirt/virterror.h).
_VIR_ERR_ERROR = 2
_VIR_ERR_INTERNAL_ERROR = 1
_VIR_ERR_SYSTEM_ERROR = 38
_VIR_ERR_RPC = 39
_VIR_FROM_RPC = 7


class ProtocolError(XDRError):
    """A frame libvirt would refuse. ``message`` is libvirt's wording; ``code``/``domain``
    the error it reports (VIR_ERR_RPC / VIR_FROM_RPC unless stated); ``fatal``: the byte
    stream is lost and the connection must be closed."""

    def __init__(self, message: str, *, fatal: bool = False, code: int = _VIR_ERR_RPC,
                 domain: int = _VIR_FROM_RPC) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.code = code
        self.domain = domain

    def to_libvirt_error(self) -> libvirtError:
        """The error libvirt reports for this refusal (str1 the message, int1/int2 -1)."""
        return error_from_body(rpc_error_body(self.message, self.code, self.domain))


class Message:
    """One frame: the six header fields, ``nfds`` (the FD count word of *_WITH_FDS frames,
    else 0) and ``payload`` (the bytes after the header and FD count; a memoryview for a
    large STREAM frame read by :meth:`FrameReader.read_done`)."""

    __slots__ = ("prog", "vers", "proc", "type", "serial", "status", "nfds", "payload")

    def __init__(self, prog: int, vers: int, proc: int, type: int, serial: int, status: int,
                 payload: bytes = b"", nfds: int = 0) -> None:
        self.prog = prog
        self.vers = vers
        self.proc = proc
        self.type = type
        self.serial = serial
        self.status = status
        self.payload = payload
        self.nfds = nfds

    def __repr__(self) -> str:
        kind = TYPE_NAMES.get(self.type, str(self.type))
        status = STATUS_NAMES.get(self.status, str(self.status))
        fds = f" nfds={self.nfds}" if self.type in WITH_FDS else ""
        return (f"<Message prog={self.prog:#x} vers={self.vers} proc={self.proc} {kind} "
                f"serial={self.serial} {status}{fds} payload={len(self.payload)}B>")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.header == other.header and self.nfds == other.nfds
                and self.payload == other.payload)

    __hash__ = None  # type: ignore[assignment]

    @property
    def header(self) -> tuple[int, int, int, int, int, int]:
        return (self.prog, self.vers, self.proc, self.type, self.serial, self.status)

    def encode(self) -> bytes:
        return encode_frame(self.prog, self.vers, self.proc, self.type, self.serial,
                            self.status, self.payload,
                            self.nfds if self.type in WITH_FDS else None)


def encode_frame(prog: int, vers: int, proc: int, type: int, serial: int, status: int,
                 payload: bytes | list[bytes] = b"", nfds: int | None = None) -> bytes:
    """A complete frame. ``payload`` may be a list of pieces (as Codec.encode_into makes);
    ``nfds`` is required for, and only allowed with, CALL_WITH_FDS and REPLY_WITH_FDS."""
    if payload.__class__ is list:
        payload = b"".join(payload)  # type: ignore[arg-type]
    size = FRAME_MIN + len(payload)
    if type in WITH_FDS:
        if nfds is None:
            raise ProtocolError("Unable to encode number of FDs")
        if not 0 <= nfds <= NUM_FDS_MAX:
            raise ProtocolError(
                f"Too many FDs to send {nfds}, expected {NUM_FDS_MAX} maximum")
        size += 4
    elif nfds is not None:
        raise ProtocolError("Unable to encode number of FDs")
    if size - LEN_MAX > MESSAGE_MAX:
        if type == STREAM:
            raise ProtocolError(
                f"Stream data too long to send ({len(payload)} bytes needed, "
                f"{FRAME_MAX - FRAME_MIN} bytes available)")
        raise ProtocolError("Unable to encode message payload")
    try:
        head = _FRAME.pack(size, prog, vers, proc, type, serial, status)
    except struct.error:
        raise ProtocolError("Unable to encode message header") from None
    if nfds is not None:
        head += _U32.pack(nfds)
    return head + payload  # type: ignore[operator]


def decode_frame(frame: bytes) -> Message:
    """The message in ``frame``, a complete frame including its length word."""
    if frame.__class__ is not bytes:
        frame = bytes(frame)
    if len(frame) < LEN_MAX:
        raise ProtocolError("Unable to decode message length", fatal=True)
    length = _U32.unpack_from(frame)[0]
    _check_length(length)
    if length != len(frame):
        raise ProtocolError(
            f"frame length word says {length} bytes, got {len(frame)}", fatal=True)
    return _decode_body(frame)


def _check_length(length: int) -> None:
    if length < LEN_MAX:
        raise ProtocolError(
            f"packet {length} bytes received from server too small, want {LEN_MAX}",
            fatal=True)
    if length - LEN_MAX > MESSAGE_MAX:
        # libvirt prints the length as a signed int.
        shown = length - LEN_MAX
        shown = shown - (1 << 32) if shown >= 1 << 31 else shown
        raise ProtocolError(
            f"packet {shown} bytes received from server too large, want {MESSAGE_MAX}",
            fatal=True)


def _decode_body(frame: bytes) -> Message:
    if len(frame) < FRAME_MIN:
        raise ProtocolError("Unable to decode message header", fatal=True)
    prog, vers, proc, mtype, serial, status = _HEADER.unpack_from(frame, LEN_MAX)
    if mtype == CALL_WITH_FDS or mtype == REPLY_WITH_FDS:
        if len(frame) < FRAME_MIN + 4:
            raise ProtocolError("Unable to decode number of FDs", fatal=True)
        nfds = _U32.unpack_from(frame, FRAME_MIN)[0]
        if nfds > NUM_FDS_MAX:
            raise ProtocolError(
                f"Received too many FDs {nfds}, expected {NUM_FDS_MAX} maximum", fatal=True)
        return Message(prog, vers, proc, mtype, serial, status, frame[FRAME_MIN + 4:], nfds)
    return Message(prog, vers, proc, mtype, serial, status, frame[FRAME_MIN:])


class FrameReader:
    """Cuts a byte stream into messages.

    ``feed(data)`` returns the messages completed by ``data`` (possibly none) and keeps the
    rest. A bad length word raises :class:`ProtocolError` (fatal) at once, as libvirt does
    before reading the frame; the reader then refuses further input. ``wanted`` is the
    number of bytes that completes the current step (the length word, then the frame), so a
    transport can read exactly up to a frame's end; ``close()`` at end of stream raises if
    a frame was cut short.
    """

    __slots__ = ("_buf", "_length", "_failed", "_head", "_start", "_end", "_view", "_frame",
                 "_have")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._length = 0   # length of the frame being read, 0 while reading the length word
        self._failed: ProtocolError | None = None
        # read_buffer()/read_done(): the receive buffer and its unread window, and the
        # buffer of a frame too large for it, filled in place
        self._head: bytearray | None = None
        self._view: memoryview | None = None
        self._start = 0
        self._end = 0
        self._frame: bytearray | None = None
        self._have = 0

    @property
    def wanted(self) -> int:
        if self._length:
            return self._length - len(self._buf)
        return LEN_MAX - len(self._buf)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        if self._failed is not None:
            raise self._failed
        if not self._buf and len(data) >= LEN_MAX and data.__class__ is bytes:
            # the usual case: exactly one whole frame, decoded without copying it
            length = _U32.unpack_from(data)[0]
            if length == len(data):
                try:
                    _check_length(length)
                    return [_decode_body(data)]
                except ProtocolError as exc:
                    self._failed = exc
                    raise
        buf = self._buf
        buf += data
        out: list[Message] = []
        try:
            while True:
                if not self._length:
                    if len(buf) < LEN_MAX:
                        break
                    length = _U32.unpack_from(buf)[0]
                    _check_length(length)
                    self._length = length
                length = self._length
                if len(buf) < length:
                    break
                frame = bytes(buf[:length])
                del buf[:length]
                self._length = 0
                out.append(_decode_body(frame))
        except ProtocolError as exc:
            self._failed = exc
            buf.clear()
            raise
        return out

    # ---- reading into the reader's own buffers (asyncio.BufferedProtocol) ---------------

    def read_buffer(self) -> memoryview:
        """Where the next read should go: the rest of the frame being filled in place, else
        the free end of the receive buffer (``feed`` and this pair are not to be mixed)."""
        frame = self._frame
        if frame is not None:
            return memoryview(frame)[self._have:]
        view = self._view
        if view is None:
            self._head = bytearray(_HEAD_SIZE)
            view = self._view = memoryview(self._head)
        start = self._start
        if start:
            end = self._end
            if start != end:   # the start of a frame: move it to the front
                view[:end - start] = view[start:end]
            self._start, self._end = 0, end - start
        return view[self._end:]

    def read_done(self, nbytes: int) -> list[Message]:
        """``nbytes`` were read into :meth:`read_buffer`: the messages now complete. Frames
        up to the receive buffer's size are cut out of it; a larger one gets a buffer of its
        own, read into directly, and its STREAM payload is passed on as a memoryview of it
        (no copy), other payloads as bytes. Same checks and errors as :meth:`feed`."""
        if self._failed is not None:
            raise self._failed
        frame = self._frame
        if frame is not None:
            self._have += nbytes
            if self._have < len(frame):
                return []
            self._frame = None
            return [self._large(frame)]
        head = self._head
        view = self._view
        assert head is not None and view is not None
        self._end += nbytes
        end = self._end
        start = self._start
        out: list[Message] = []
        try:
            while end - start >= LEN_MAX:
                length = _U32.unpack_from(head, start)[0]
                _check_length(length)
                if end - start < length:
                    if length > _HEAD_SIZE:
                        frame = self._frame = bytearray(length)
                        frame[:end - start] = view[start:end]
                        self._have = end - start
                        start = end = 0
                        self._end = 0
                    break
                out.append(_decode_body(bytes(view[start:start + length])))
                start += length
        except ProtocolError as exc:
            self._failed = exc
            self._start = self._end = 0
            raise
        self._start = start
        return out

    def _large(self, frame: bytearray) -> Message:
        prog, vers, proc, mtype, serial, status = _HEADER.unpack_from(frame, LEN_MAX)
        if mtype == STREAM:
            return Message(prog, vers, proc, mtype, serial, status,
                           memoryview(frame)[FRAME_MIN:])  # type: ignore[arg-type]
        try:
            return _decode_body(bytes(frame))
        except ProtocolError as exc:
            self._failed = exc
            raise

    def close(self) -> None:
        """End of stream: fine between frames, an error inside one."""
        if (self._buf or self._frame is not None or self._end > self._start) \
                and self._failed is None:
            self._failed = ProtocolError(
                "End of file while reading data: Input/output error", fatal=True,
                code=_VIR_ERR_SYSTEM_ERROR)
            raise self._failed


# ----------------------------------------------------------------------------------------
# Bodies shared by every program


_codecs: dict[str, Codec] = {}


def _codec(name: str) -> Codec:
    codec = _codecs.get(name)
    if codec is None:
        from pyvirt.rpc.protocol import tables

        codec = _codecs[name] = tables("net").codec(name)
    return codec


def error_codec() -> Codec:
    """The codec of ``remote_error`` (virNetMessageError)."""
    return _codec("virNetMessageError")


def hole_codec() -> Codec:
    """The codec of the STREAM_HOLE payload (virNetStreamHole)."""
    return _codec("virNetStreamHole")


def error_body(exc: BaseException | None) -> dict[str, Any]:
    """The ``remote_error`` a server sends for ``exc``, as libvirtd fills it from the
    failed call's error: code, domain, message, level, str1-3, int1-2; ``dom`` and ``net``
    absent. Anything other than a libvirtError (or one without details) becomes libvirt's
    "Library function returned error but did not set virError"."""
    err = getattr(exc, "err", None)
    if err is None:
        return {"code": _VIR_ERR_INTERNAL_ERROR, "domain": _VIR_FROM_RPC,
                "message": "Library function returned error but did not set virError",
                "level": _VIR_ERR_ERROR, "dom": None, "str1": None, "str2": None,
                "str3": None, "int1": 0, "int2": 0, "net": None}
    code, domain, message, level, str1, str2, str3, int1, int2 = err
    return {"code": code, "domain": domain, "message": message, "level": level, "dom": None,
            "str1": str1, "str2": str2, "str3": str3, "int1": int1, "int2": int2,
            "net": None}


def rpc_error_body(message: str, code: int = _VIR_ERR_RPC,
                   domain: int = _VIR_FROM_RPC) -> dict[str, Any]:
    """A ``remote_error`` for a protocol-level refusal (unknown procedure, bad payload ...):
    level ERROR, int1/int2 -1, as libvirtd's virReportError fills it; for VIR_ERR_RPC
    (whose wording is the bare detail) str1 is the format "%s" and str2 the message
    (vector raw_client_errors)."""
    str1, str2 = ("%s", message) if code == _VIR_ERR_RPC else (message, None)
    return {"code": code, "domain": domain, "message": message, "level": _VIR_ERR_ERROR,
            "dom": None, "str1": str1, "str2": str2, "str3": None, "int1": -1,
            "int2": -1, "net": None}


def error_from_body(body: dict[str, Any]) -> libvirtError:
    """The libvirtError a client raises for a received ``remote_error``, with the
    adjustments libvirt's client makes (virnetclientprogram.c): an "unknown procedure" RPC
    error becomes VIR_ERR_NO_SUPPORT, and the error-code renumbering of libvirt 0.7.x
    servers is undone as libvirt undoes it."""
    from pyvirt import constants as c
    from pyvirt.errors import make_error

    code = body["code"]
    domain = body["domain"]
    message = body["message"]
    level = body["level"]
    if code in (c.VIR_ERR_INVALID_NWFILTER, c.VIR_ERR_NO_NWFILTER, c.VIR_ERR_BUILD_FIREWALL):
        if domain != c.VIR_FROM_NWFILTER:
            code += 4
    elif code == c.VIR_WAR_NO_SECRET:
        if domain == c.VIR_FROM_QEMU:
            code = c.VIR_ERR_OPERATION_TIMEOUT
    elif code == c.VIR_ERR_INVALID_SECRET:
        if domain == c.VIR_FROM_XEN:
            code = c.VIR_ERR_MIGRATE_PERSIST_FAILED
    if (domain in (c.VIR_FROM_REMOTE, c.VIR_FROM_RPC) and code == c.VIR_ERR_RPC
            and level == c.VIR_ERR_ERROR and message is not None
            and message.startswith("unknown procedure")):
        code = c.VIR_ERR_NO_SUPPORT
    if message is None:
        message = "Unknown error"
    exc = make_error(code, message=message, domain=domain, level=level)
    # Exactly the fields received (make_error would fill an absent str1 with its wording).
    exc.err = (code, domain, message, level, body["str1"], body["str2"], body["str3"],
               body["int1"], body["int2"])
    return exc


def encode_error(exc: BaseException | None) -> bytes:
    return error_codec().encode(error_body(exc))


def decode_error(payload: bytes) -> libvirtError:
    """The libvirtError carried by an ERROR payload; a payload that does not decode gives
    libvirt's client error for it."""
    try:
        body = error_codec().decode_from(payload)[0]
    except XDRError:
        return ProtocolError("Unable to decode message payload").to_libvirt_error()
    return error_from_body(body)


_HOLE = struct.Struct(">qI")


def encode_hole(length: int, flags: int = 0) -> bytes:
    """The STREAM_HOLE payload: the next ``length`` bytes of the stream are zeros."""
    try:
        return _HOLE.pack(length, flags)
    except struct.error:
        raise ProtocolError("Unable to encode stream hole") from None


def decode_hole(payload: bytes) -> tuple[int, int]:
    """(length, flags) from a STREAM_HOLE payload."""
    if len(payload) < _HOLE.size:
        raise ProtocolError("Unable to decode message payload")
    length, flags = _HOLE.unpack_from(payload)
    return length, flags
