"""virStream over the wire: the backend a remote stream call attaches to its virStream.

A stream lives on the connection under the serial of the CALL that opened it
(DOMAIN_SCREENSHOT, STORAGE_VOL_UPLOAD/DOWNLOAD, DOMAIN_OPEN_CONSOLE ...). Data both ways is
STREAM frames with that serial and the call's procedure: CONTINUE with raw bytes (at most
VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX each; an empty one from the server is end of data),
STREAM_HOLE for a run of zeros (sparse streams); the client finishes with STREAM OK or aborts
with STREAM ERROR and waits for the server's STREAM OK (or its error). Incoming frames are
queued by the connection's I/O thread (:meth:`RemoteStream.on_frame`); ``recv`` waits for
them, doing the connection's I/O itself when nobody else is.
"""

from __future__ import annotations

import _thread

from pyvirt import constants as c
from pyvirt.api.stream import AT_HOLE, WOULD_BLOCK
from pyvirt.errors import raise_error
from pyvirt.rpc import message as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.drivers.remote.connection import Connection, _Call
    from pyvirt.errors import libvirtError


class RemoteStream:
    """The stream backend (see pyvirt.api.stream.StreamBackend)."""

    def __init__(self, conn: Connection, prog: int, vers: int, proc: int,
                 nonblock: bool = False) -> None:
        self.conn = conn
        self.prog = prog
        self.vers = vers
        self.proc = proc
        self.nonblock = nonblock       # VIR_STREAM_NONBLOCK: recv says WOULD_BLOCK
        self.serial = -1
        self._lock = _thread.allocate_lock()
        self._rx: list[Any] = []       # bytes, or an int: a hole of that length
        self._rx_off = 0               # consumed part of _rx[0] when it is bytes
        self._hole = 0                 # zeros still to deliver from a hole being read
        self._eof = False
        self._error: libvirtError | None = None
        self._acked = False            # the server answered our finish/abort
        self._closed = False
        self._waiters: list[_Call] = []   # threads waiting for a frame (recv, finish)
        # virStreamEventAddCallback: (stream, events, callback, opaque) and its loop timer
        self._event_cb: tuple[Any, int, Any, Any] | None = None
        self._timer = -1

    def __repr__(self) -> str:
        return f"<RemoteStream proc={self.proc} serial={self.serial}>"

    # ---- from the I/O thread ---------------------------------------------------------

    def on_frame(self, msg: m.Message) -> None:
        with self._lock:
            if msg.type == m.STREAM_HOLE:
                try:
                    length, _flags = m.decode_hole(msg.payload)
                except m.ProtocolError as exc:
                    self._error = exc.to_libvirt_error()
                else:
                    self._rx.append(length)
            elif msg.status == m.CONTINUE:
                if msg.payload:
                    self._rx.append(msg.payload)
                else:
                    self._eof = True
            elif msg.status == m.OK:
                self._acked = True
            else:  # ERROR: the stream failed on the server
                if msg.payload:
                    self._error = m.decode_error(msg.payload)
                else:
                    self._error = _stream_error("stream aborted by the server")
                self._acked = True
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            self.conn.complete(waiter)
        self._update_timer()

    def on_close(self, error: libvirtError) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            self.conn.complete(waiter, error)
        self._update_timer()

    # ---- waiting ---------------------------------------------------------------------

    def _wait(self, finishing: bool = False) -> None:
        """Block until a frame for this stream arrives: data (or end of data, unless
        ``finishing``: then the server's answer to our finish or abort). Lock not held."""
        waiter = self.conn.new_waiter()
        with self._lock:
            if self._error or self._acked or (not finishing and (self._rx or self._eof)):
                return
            self._waiters.append(waiter)
        self.conn.wait(waiter)
        if waiter.error is not None and self._error is None:
            self._error = waiter.error

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "stream is closed",
                        domain=c.VIR_FROM_STREAMS)

    # ---- the backend API -------------------------------------------------------------

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        while True:
            self._check()
            with self._lock:
                if self._hole:
                    if stop_at_hole:
                        return AT_HOLE
                    n = min(nbytes, self._hole)
                    self._hole -= n
                    return bytes(n)
                if self._rx:
                    head = self._rx[0]
                    if isinstance(head, int):
                        self._rx.pop(0)
                        self._hole = head
                        continue
                    chunk = head[self._rx_off:self._rx_off + nbytes]
                    self._rx_off += len(chunk)
                    if self._rx_off >= len(head):
                        self._rx.pop(0)
                        self._rx_off = 0
                    return bytes(chunk)
                if self._eof:
                    return b""
                if self.nonblock:
                    return WOULD_BLOCK
            self._wait()

    def recv_hole(self) -> int:
        while True:
            self._check()
            with self._lock:
                if self._hole:
                    length, self._hole = self._hole, 0
                    return length
                if self._rx and isinstance(self._rx[0], int):
                    return int(self._rx.pop(0))
                if self._rx or self._eof:
                    raise_error(c.VIR_ERR_OPERATION_INVALID,
                                "Invalid stream hole", domain=c.VIR_FROM_STREAMS)
            self._wait()

    def _frame(self, mtype: int, status: int, payload: bytes = b"") -> bytes:
        return m.encode_frame(self.prog, self.vers, self.proc, mtype, self.serial, status,
                              payload)

    def send(self, data: bytes) -> int:
        self._check()
        step = m.LEGACY_PAYLOAD_MAX
        view = memoryview(data)
        for start in range(0, len(view), step):
            self.conn.send(self._frame(m.STREAM, m.CONTINUE, bytes(view[start:start + step])))
        return len(data)

    def send_hole(self, length: int) -> None:
        self._check()
        self.conn.send(self._frame(m.STREAM_HOLE, m.CONTINUE, m.encode_hole(length, 0)))

    def _end(self, status: int) -> None:
        """Send finish (OK) or abort (ERROR) and wait for the server's answer."""
        if self._closed:
            return
        try:
            if self._error is not None:
                raise self._error
            self.conn.send(self._frame(m.STREAM, status))
            while True:
                with self._lock:
                    if self._acked or self._error is not None:
                        break
                self._wait(finishing=True)
            if self._error is not None and status == m.OK:
                raise self._error
        finally:
            self._closed = True
            self.conn.remove_stream(self.serial)
            self.event_remove_callback()

    def finish(self) -> None:
        self._end(m.OK)

    def abort(self) -> None:
        self._end(m.ERROR)

    # ---- event callbacks (virStreamEventAddCallback), run by the event loop ------------

    def event_add_callback(self, stream: Any, events: int, cb: Any, opaque: Any) -> None:
        from pyvirt.events import loop

        if self._event_cb is not None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "multiple stream callbacks not supported",
                        domain=c.VIR_FROM_STREAMS)
        timer = loop.impl_add_timeout(-1, self._on_timer, None)
        if timer < 0:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "cannot register timer",
                        domain=c.VIR_FROM_STREAMS)
        self._timer = timer
        self._event_cb = (stream, events, cb, opaque)
        self.conn.start_background()   # someone must read while the caller does not
        self._update_timer()

    def event_update_callback(self, events: int) -> None:
        if self._event_cb is None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "no stream callback registered",
                        domain=c.VIR_FROM_STREAMS)
        stream, _, cb, opaque = self._event_cb
        self._event_cb = (stream, events, cb, opaque)
        self._update_timer()

    def event_remove_callback(self) -> None:
        if self._timer != -1:
            from pyvirt.events import loop

            loop.impl_remove_timeout(self._timer)
            self._timer = -1
        self._event_cb = None

    def _ready(self) -> int:
        """The VIR_STREAM_EVENT_* bits the registered callback should hear about now."""
        registered = self._event_cb
        if registered is None:
            return 0
        events = registered[1]
        ready = 0
        with self._lock:
            if events & c.VIR_STREAM_EVENT_READABLE and (self._rx or self._hole or self._eof):
                ready |= c.VIR_STREAM_EVENT_READABLE
            if events & c.VIR_STREAM_EVENT_WRITABLE and not self._closed:
                ready |= c.VIR_STREAM_EVENT_WRITABLE
            if self._error is not None:
                ready |= c.VIR_STREAM_EVENT_ERROR
        return ready

    def _update_timer(self) -> None:
        if self._timer == -1:
            return
        from pyvirt.events import loop

        loop.impl_update_timeout(self._timer, 0 if self._ready() else -1)

    def _on_timer(self, timer: int, opaque: Any) -> None:
        registered = self._event_cb
        ready = self._ready()
        if registered is None or not ready:
            self._update_timer()
            return
        stream, _, cb, cb_opaque = registered
        try:
            cb(stream, ready, cb_opaque)
        finally:
            self._update_timer()


def _stream_error(detail: str) -> libvirtError:
    from pyvirt.errors import make_error

    return make_error(c.VIR_ERR_RPC, detail, domain=c.VIR_FROM_STREAMS)
