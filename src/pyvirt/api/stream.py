"""virStream: a data channel for screenshots, volume upload/download, consoles.

A new stream is idle until a driver call (``dom.screenshot(st, 0)``, ``vol.download(st, ...)``)
attaches a backend to it; every data call then goes to that backend. The helpers
``recvAll``/``sendAll``/``sparseRecvAll``/``sparseSendAll`` drive those calls as
libvirt-python's do.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.api._common import api_boundary
from pyvirt.errors import libvirtError, raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from pyvirt.api.connect import virConnect

    class StreamBackend(Protocol):
        """What a driver plugs into a stream."""

        def send(self, data: bytes) -> int: ...

        def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int: ...

        def recv_hole(self) -> int: ...

        def send_hole(self, length: int) -> None: ...

        def finish(self) -> None: ...

        def abort(self) -> None: ...

CHUNK = 256 * 1024

# Return codes of recv/send in libvirt's stream API.
WOULD_BLOCK = -2
AT_HOLE = -3


@api_boundary
class virStream:  # noqa: N801 - libvirt-python's name
    """A stream handle."""

    def __init__(self, conn: virConnect, flags: int = 0) -> None:
        self._conn = conn
        self._flags = flags
        self._backend: StreamBackend | None = None
        self._finished = False

    # Drivers call this when an API call binds the stream to a data source or sink.
    def _attach(self, backend: StreamBackend) -> None:
        if self._backend is not None:
            raise_error(
                c.VIR_ERR_OPERATION_INVALID, "stream is already in use", domain=c.VIR_FROM_STREAMS
            )
        self._backend = backend

    def _active(self, api_name: str) -> StreamBackend:
        if self._backend is None or self._finished:
            raise_error(c.VIR_ERR_NO_SUPPORT, api_name, domain=c.VIR_FROM_STREAMS)
        return self._backend

    def connect(self) -> virConnect:
        return self._conn

    def send(self, data: bytes) -> int:
        if data.__class__ is not memoryview:   # pyvirtd's upload data: sent as it is
            data = bytes(data)
        return self._active("virStreamSend").send(data)

    def recv(self, nbytes: int) -> bytes | int:
        return self._active("virStreamRecv").recv(nbytes, False)

    def recvFlags(self, nbytes: int, flags: int = 0) -> bytes | int:  # noqa: N802
        if flags & ~c.VIR_STREAM_RECV_STOP_AT_HOLE:
            raise_error(
                c.VIR_ERR_INVALID_ARG,
                f"unsupported flags (0x{flags & ~c.VIR_STREAM_RECV_STOP_AT_HOLE:x}) "
                "in function virStreamRecvFlags",
                domain=c.VIR_FROM_STREAMS,
            )
        stop = bool(flags & c.VIR_STREAM_RECV_STOP_AT_HOLE)
        return self._active("virStreamRecvFlags").recv(nbytes, stop)

    def recvHole(self, flags: int = 0) -> int:  # noqa: N802
        return self._active("virStreamRecvHole").recv_hole()

    def sendHole(self, length: int, flags: int = 0) -> int:  # noqa: N802
        self._active("virStreamSendHole").send_hole(length)
        return 0

    def finish(self) -> int:
        backend = self._active("virStreamFinish")
        self._finished = True
        backend.finish()
        return 0

    def abort(self) -> int:
        backend = self._active("virStreamAbort")
        self._finished = True
        backend.abort()
        return 0

    def eventAddCallback(self, events: int, cb: Callable[..., Any], opaque: Any) -> None:  # noqa: N802
        adder = getattr(self._active("virStreamEventAddCallback"), "event_add_callback", None)
        if adder is None:
            raise_error(
                c.VIR_ERR_NO_SUPPORT, "virStreamEventAddCallback", domain=c.VIR_FROM_STREAMS
            )
        adder(self, events, cb, opaque)

    def eventUpdateCallback(self, events: int) -> None:  # noqa: N802
        updater = getattr(
            self._active("virStreamEventUpdateCallback"), "event_update_callback", None
        )
        if updater is None:
            raise_error(
                c.VIR_ERR_NO_SUPPORT, "virStreamEventUpdateCallback", domain=c.VIR_FROM_STREAMS
            )
        updater(events)

    def eventRemoveCallback(self) -> None:  # noqa: N802
        remover = getattr(
            self._active("virStreamEventRemoveCallback"), "event_remove_callback", None
        )
        if remover is None:
            raise_error(
                c.VIR_ERR_NO_SUPPORT, "virStreamEventRemoveCallback", domain=c.VIR_FROM_STREAMS
            )
        remover()

    # ---- whole-stream helpers -------------------------------------------------------------

    def recvAll(self, handler: Callable[[virStream, bytes, Any], Any], opaque: Any) -> None:  # noqa: N802
        """Receive until end of stream, giving each chunk to ``handler(stream, data, opaque)``."""
        while True:
            got = self.recv(CHUNK)
            if got == WOULD_BLOCK:
                raise libvirtError("cannot use recvAll with nonblocking stream")
            assert isinstance(got, bytes)
            if not got:
                break
            ret = handler(self, got, opaque)
            if isinstance(ret, int) and ret < 0:
                raise RuntimeError(f"recvAll handler returned {ret}")

    def sendAll(self, handler: Callable[[virStream, int, Any], bytes], opaque: Any) -> None:  # noqa: N802
        """Send what ``handler(stream, nbytes, opaque)`` returns until it returns nothing."""
        while True:
            try:
                got = handler(self, CHUNK, opaque)
            except BaseException:
                self._abort_quietly()
                raise
            if not got:
                break
            if self.send(got) == WOULD_BLOCK:
                raise libvirtError("cannot use sendAll with nonblocking stream")

    def sparseRecvAll(  # noqa: N802
        self,
        handler: Callable[[virStream, bytes, Any], Any],
        holeHandler: Callable[[virStream, int, Any], Any],  # noqa: N803
        opaque: Any,
    ) -> None:
        """Like recvAll, but holes are given to ``holeHandler(stream, length, opaque)``."""
        while True:
            got = self.recvFlags(CHUNK, c.VIR_STREAM_RECV_STOP_AT_HOLE)
            if got == WOULD_BLOCK:
                raise libvirtError("cannot use sparseRecvAll with nonblocking stream")
            if got == AT_HOLE:
                length = self.recvHole()
                ret = holeHandler(self, length, opaque)
                if isinstance(ret, int) and ret < 0:
                    self._abort_quietly()
                    raise RuntimeError(f"holeHandler handler returned {ret}")
                continue
            assert isinstance(got, bytes)
            if not got:
                break
            ret = handler(self, got, opaque)
            if isinstance(ret, int) and ret < 0:
                self._abort_quietly()
                raise RuntimeError(f"sparseRecvAll handler returned {ret}")

    def sparseSendAll(  # noqa: N802
        self,
        handler: Callable[[virStream, int, Any], bytes],
        holeHandler: Callable[[virStream, Any], tuple[bool, int]],  # noqa: N803
        skipHandler: Callable[[virStream, int, Any], Any],  # noqa: N803
        opaque: Any,
    ) -> None:
        """Send a sparse source: ``holeHandler`` says whether the cursor is in data and how
        long the section is; holes are sent as holes and skipped with ``skipHandler``."""
        while True:
            try:
                in_data, section = holeHandler(self, opaque)
                if not in_data and section > 0:
                    self.sendHole(section)
                    skipHandler(self, section, opaque)
                    continue
                want = min(CHUNK, section) if in_data and section > 0 else CHUNK
                got = handler(self, want, opaque)
            except BaseException:
                self._abort_quietly()
                raise
            if not got:
                break
            if self.send(got) == WOULD_BLOCK:
                raise libvirtError("cannot use sparseSendAll with nonblocking stream")

    def _abort_quietly(self) -> None:
        if self._backend is not None and not self._finished:
            self._finished = True
            try:
                self._backend.abort()
            except libvirtError:
                pass
