"""One RPC connection to a daemon: a small state machine over a dialed :class:`Channel`.

States: ``connecting`` (dialing: :meth:`Connection.connect`) -> ``open`` -> ``closing`` ->
``closed``; a failed dial goes back to ``closed``, and a dead channel
(end of file, I/O error, protocol error, keepalive timeout) goes straight to ``closed`` and
every waiting call fails with the error that killed it, as libvirt's client does. Once
closed, a call fails with libvirt's "internal error: client socket is closed".

I/O follows libvirt's virnetclient.c ("passing the buck"): there is no dedicated I/O thread
for plain synchronous use. A thread making a call queues its frame; if nobody is doing I/O
it becomes the I/O owner and polls, writes and reads until its own reply has arrived,
completing other threads' calls on the way, then hands the role to a thread still waiting
(or to nobody). Other threads sleep on a per-call lock until their reply arrives or they are
handed the role. One call on an idle connection thus costs a send, a poll and a receive in
the calling thread, with no thread switch.

When events or keepalive need the connection watched while no call is running (libvirt's
"async I/O", on when an event loop implementation is registered), a background thread takes
the I/O role and keeps it: it serves everybody's calls, answers the server's PINGs, sends
ours (``KeepAlive``: libvirt's interval/count rules) and hands event MESSAGE frames and
stream frames to the handlers the driver installed.

Frames are matched to calls by serial (a per-connection counter starting at 0 shared by all
programs); MESSAGE frames are never matched (events carry serial 1, keepalive serial 0).
"""

from __future__ import annotations

import _thread
import errno
import os
import select
import struct
import time

from pyvirt import constants as c
from pyvirt.errors import make_error
from pyvirt.rpc import message as m
from pyvirt.rpc.protocol import keepalive as _ka

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.drivers.remote.dialers import Channel, Dialer
    from pyvirt.errors import libvirtError
    from pyvirt.rpc.protocol import Procedure

CONNECTING = "connecting"
OPEN = "open"
CLOSING = "closing"
CLOSED = "closed"

# virConnectCloseReason
CLOSE_REASON_ERROR = c.VIR_CONNECT_CLOSE_REASON_ERROR
CLOSE_REASON_EOF = c.VIR_CONNECT_CLOSE_REASON_EOF
CLOSE_REASON_KEEPALIVE = c.VIR_CONNECT_CLOSE_REASON_KEEPALIVE
CLOSE_REASON_CLIENT = c.VIR_CONNECT_CLOSE_REASON_CLIENT

_KEEPALIVE_PROG = _ka.PROGRAM
_PING = m.encode_frame(_ka.PROGRAM, _ka.VERSION, _ka.KEEPALIVE_PROC_PING, m.MESSAGE,
                       m.KEEPALIVE_SERIAL, m.OK)
_PONG = m.encode_frame(_ka.PROGRAM, _ka.VERSION, _ka.KEEPALIVE_PROC_PONG, m.MESSAGE,
                       m.KEEPALIVE_SERIAL, m.OK)

_READ_SIZE = 256 * 1024
_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLLERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


def rpc_error(code: int, detail: str) -> libvirtError:
    """An error of libvirt's RPC layer (VIR_FROM_RPC) with libvirt's wording for ``code``."""
    return make_error(code, detail, domain=c.VIR_FROM_RPC)


def system_error(detail: str, err: int | None = None) -> libvirtError:
    """virReportSystemError in the RPC layer: "<detail>: <strerror(err)>"."""
    text = detail if err is None else f"{detail}: {os.strerror(err)}"
    return make_error(c.VIR_ERR_SYSTEM_ERROR, text, domain=c.VIR_FROM_RPC, message=text)


def closed_error() -> libvirtError:
    return rpc_error(c.VIR_ERR_INTERNAL_ERROR, "client socket is closed")


class KeepAlive:
    """libvirt's keepalive timer (src/rpc/virkeepalive.c), without the event loop.

    Disabled until :meth:`start`. Any received frame resets it; after ``interval`` seconds
    without one it asks for a PING (``trigger()`` -> "ping"), then one per interval; after
    ``count`` unanswered PINGs ``trigger()`` says "dead" (the connection is closed with
    "connection closed due to keepalive timeout")."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.interval = 0.0
        self.count = 0
        self.count_to_death = 0
        self.interval_start = 0.0
        self.last_received = clock()

    @property
    def active(self) -> bool:
        return self.interval > 0 and self.interval_start != 0

    def start(self, interval: float, count: int) -> None:
        now = self.clock()
        self.interval = interval
        self.count = self.count_to_death = count
        if interval <= 0:
            self.interval_start = 0.0
            return
        delay = now - self.last_received
        wait = 0.0 if delay > interval else interval - delay
        self.interval_start = now - (interval - wait)

    def stop(self) -> None:
        self.interval_start = 0.0

    def received(self) -> None:
        now = self.clock()
        self.count_to_death = self.count
        self.last_received = now
        if self.interval_start:
            self.interval_start = now

    def timeout(self) -> float | None:
        """Seconds until :meth:`trigger` has something to do (None: never)."""
        if not self.active:
            return None
        return max(0.0, self.interval - (self.clock() - self.interval_start))

    def trigger(self) -> str | None:
        """None, "ping" (send one now) or "dead"."""
        if not self.active:
            return None
        now = self.clock()
        if now - self.interval_start < self.interval:
            return None
        if self.count_to_death == 0:
            return "dead"
        self.count_to_death -= 1
        self.interval_start = now
        return "ping"


class _Call:
    """Something a thread waits for: a call's reply, stream data, the output queue's end.
    A thread that must sleep arms ``lock`` (held) before it joins the waiters; releasing it
    wakes the thread, which then finds either ``done`` or that it was handed the I/O role."""

    __slots__ = ("serial", "reply", "error", "done", "lock", "kind")

    def __init__(self, serial: int = -1, kind: str = "call") -> None:
        self.serial = serial
        self.kind = kind
        self.reply: m.Message | None = None
        self.error: libvirtError | None = None
        self.done = False
        self.lock: Any = None

    def sleep_locked(self) -> None:
        """Arm the lock the thread will sleep on (the connection's lock is held)."""
        self.lock = _thread.allocate_lock()
        self.lock.acquire()


class Connection:
    """See the module docstring. ``on_event(msg)`` gets every non-keepalive MESSAGE frame and
    ``on_close(reason, error)`` is called once when the channel dies (not when the client
    closes it); both run in the I/O thread and must not make calls themselves."""

    def __init__(self, channel: Channel | None = None, *,
                 on_event: Callable[[m.Message], Any] | None = None,
                 on_close: Callable[[int, libvirtError | None], Any] | None = None) -> None:
        self.channel: Channel = None  # type: ignore[assignment] # set by _attach
        self.state = CONNECTING
        self.on_event = on_event
        self.on_close = on_close
        self.keepalive = KeepAlive()
        self.close_reason: int | None = None
        self.error: libvirtError | None = None
        self._lock = _thread.allocate_lock()
        self._serial = 0
        self._calls: dict[int, _Call] = {}
        self._waiters: list[_Call] = []      # threads sleeping for a result or the I/O role
        self._owner: _Call | None = None     # the call whose thread does the I/O
        # Output: any thread writes a frame straight to the socket when nothing is queued;
        # what the socket does not take waits here for the I/O owner (under _wlock).
        self._wlock = _thread.allocate_lock()
        self._outq: list[bytes] = []
        self._out = memoryview(b"")          # the rest of a partly written frame
        self._reader = m.FrameReader()
        self._rview = memoryview(bytearray(_READ_SIZE))   # what _read receives into
        self._streams: dict[int, Any] = {}   # serial -> stream with on_frame(msg) -> bool
        self._poll = select.poll()
        self._fd = -1
        self._tls = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poll.register(self._wake_r, _POLLIN)
        self._poll_mask = _POLLIN
        self._background: _Call | None = None
        self._bg_thread: int | None = None
        self._bg_done = _thread.allocate_lock()
        if channel is not None:
            self._attach(channel)

    def connect(self, dialer: Dialer) -> None:
        """connecting -> open: dial the transport; a failure leaves the connection closed
        (and raises the dialer's libvirtError)."""
        if self.state != CONNECTING:
            raise rpc_error(c.VIR_ERR_INTERNAL_ERROR, "connection already open")
        try:
            channel = dialer.dial()
        except BaseException:
            self.close()
            raise
        self._attach(channel)

    def _attach(self, channel: Channel) -> None:
        self.channel = channel
        self._fd = channel.fileno()
        self._tls = hasattr(channel.sock, "pending")
        self._poll.register(self._fd, _POLLIN)
        self.state = OPEN

    def __repr__(self) -> str:
        return f"<Connection {self.state} fd={self._fd}>"

    # ---- calls --------------------------------------------------------------------------

    def call(self, proc: Procedure, args: Any = None, stream: Any = None) -> Any:
        """Send ``proc``'s CALL with ``args`` and return its decoded REPLY; an ERROR reply
        raises the server's libvirtError, a dead connection libvirt's client error. A
        ``stream`` (see pyvirt.drivers.remote.streams) is registered under the call's serial
        before the call goes out, so that no data frame can arrive before it."""
        info = _PROCS.get(proc)
        if info is None:
            info = _proc_info(proc)
        head, args_codec, ret_codec = info
        if args_codec is None:
            payload = b""
        else:
            parts: list[bytes] = []
            args_codec.encode_into(args, parts)
            payload = b"".join(parts)
        msg = self._call_frame(lambda serial: _FRAME.pack(28 + len(payload), head[0], head[1],
                                                          head[2], m.CALL, serial, m.OK)
                               + payload, stream)
        status = msg.status
        try:
            if status == m.OK:
                return None if ret_codec is None else ret_codec.decode_from(msg.payload)[0]
            if status == m.ERROR:
                raise m.decode_error(msg.payload)
            raise m.ProtocolError(f"Unexpected message status {status}")
        except m.ProtocolError as exc:
            raise exc.to_libvirt_error() from None
        except m.XDRError:
            raise rpc_error(c.VIR_ERR_RPC, "Unable to decode message payload") from None

    def call_frame(self, build: Callable[[int], bytes], stream: Any = None) -> m.Message:
        """Send the frame ``build(serial)`` and wait for the REPLY with that serial (the
        reply's status is the caller's to check)."""
        return self._call_frame(build, stream)

    def _call_frame(self, build: Callable[[int], bytes], stream: Any) -> m.Message:
        call = _Call()
        with self._lock:
            if self.state != OPEN:
                raise closed_error()
            serial = call.serial = self._serial
            self._serial = (serial + 1) & 0xFFFFFFFF
            frame = build(serial)
            self._calls[serial] = call
            if stream is not None:
                stream.serial = serial
                self._streams[serial] = stream
            owner = self._owner
            if owner is None:
                self._owner = call
            else:
                call.sleep_locked()
                self._waiters.append(call)
        if not self._write(frame) and owner is not None:
            self._wake()   # the owner must poll for output too
        if owner is not None:
            call.lock.acquire()
            if not call.done:
                self._run_io(call)
        else:
            self._run_io(call)
        if call.error is not None:
            raise call.error
        assert call.reply is not None
        return call.reply

    def send(self, frame: bytes) -> None:
        """Queue a frame that expects no reply (stream data, PONG) and return once it is
        written or handed to the I/O owner."""
        if self.state != OPEN:
            raise closed_error()
        if self._write(frame):
            return
        with self._lock:
            owner = self._owner
            if owner is None:
                flush = self._owner = _Call(kind="flush")
        if owner is not None:
            self._wake()
            return
        self._run_io(flush)
        if flush.error is not None:
            raise flush.error

    def _write(self, frame: bytes) -> bool:
        """Write ``frame`` now if nothing is queued before it; True when all of it went (or
        the channel died trying: the waiting calls then have the error)."""
        with self._wlock:
            if self._out or self._outq:
                self._outq.append(frame)
                return False
            try:
                sent = self.channel.sock.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                if not _want_retry(exc):
                    error = exc.errno
                    sent = -1
                else:
                    sent = 0
            if sent == len(frame):
                return True
            if sent >= 0:
                self._out = memoryview(frame)[sent:]
                return False
        self._die(CLOSE_REASON_ERROR, system_error("Cannot write data", error))
        return True

    def wait(self, call: _Call) -> None:
        """Block until ``call`` (made by :meth:`new_waiter`) is completed by
        :meth:`complete`, doing the I/O if nobody else does."""
        with self._lock:
            if call.done:
                return
            if self.state == CLOSED:
                call.error = closed_error()
                return
            owner = self._owner
            if owner is None:
                self._owner = call
            else:
                call.sleep_locked()
                self._waiters.append(call)
        if owner is not None:
            call.lock.acquire()
            if call.done:
                return
        self._run_io(call)

    @staticmethod
    def new_waiter(kind: str = "stream") -> _Call:
        return _Call(kind=kind)

    def complete(self, call: _Call, error: libvirtError | None = None) -> None:
        """Mark ``call`` done (from the I/O thread) and wake its thread."""
        with self._lock:
            self._complete_locked(call, error)

    def _complete_locked(self, call: _Call, error: libvirtError | None = None) -> None:
        if call.done:
            return
        call.done = True
        if error is not None:
            call.error = error
        if call in self._waiters:
            self._waiters.remove(call)
            call.lock.release()

    # ---- streams ----------------------------------------------------------------------

    def add_stream(self, serial: int, stream: Any) -> None:
        with self._lock:
            self._streams[serial] = stream

    def remove_stream(self, serial: int) -> None:
        with self._lock:
            self._streams.pop(serial, None)

    # ---- the I/O loop ---------------------------------------------------------------------

    def _wake(self) -> None:
        if self._wake_w < 0:
            return
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass
        except OSError:
            pass

    def _run_io(self, me: _Call) -> None:
        """Do the connection's I/O until ``me`` is done, then pass the role on."""
        try:
            self._io_loop(me)
        except BaseException as exc:  # noqa: BLE001 - the role must be passed on regardless
            if not isinstance(exc, Exception):
                self._pass_buck(me)
                raise
            import logging

            logging.getLogger(__name__).exception("remote connection I/O failed")
            self._die(CLOSE_REASON_ERROR, rpc_error(c.VIR_ERR_INTERNAL_ERROR, str(exc)))
        self._pass_buck(me)

    def _pass_buck(self, me: _Call) -> None:
        with self._lock:
            if self._owner is not me:
                return
            if me in self._waiters:
                self._waiters.remove(me)
            nxt = None
            for waiter in self._waiters:
                if not waiter.done and waiter.kind != "background":
                    nxt = waiter
                    break
            if nxt is None:
                for waiter in self._waiters:
                    if not waiter.done:
                        nxt = waiter
                        break
            self._owner = nxt
            if nxt is not None:
                self._waiters.remove(nxt)
                nxt.lock.release()

    def _io_loop(self, me: _Call) -> None:
        sock = self.channel.sock
        ka = self.keepalive
        tls = self._tls
        while True:
            # Write what is queued, as far as the socket takes it.
            if self._outq or self._out:
                self._flush(sock)
            if me.done:
                return
            if self.state == CLOSED:
                me.error = me.error or self.error or closed_error()
                me.done = True
                return
            if me.kind == "flush" and not self._outq and not self._out:
                me.done = True
                return
            want = _POLLIN | _POLLOUT if (self._out or self._outq) else _POLLIN
            if want != self._poll_mask:
                self._poll.modify(self._fd, want)
                self._poll_mask = want
            if tls and self.channel.pending():
                events = [(self._fd, _POLLIN)]
            else:
                timeout = ka.timeout() if ka.interval_start else None
                try:
                    events = self._poll.poll(None if timeout is None else
                                             int(timeout * 1000) + 1)
                except InterruptedError:
                    continue
            readable = False
            for fd, ev in events:
                if fd == self._wake_r:
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                elif ev & (_POLLIN | _POLLERR):
                    readable = True
            if readable:
                self._read(sock)
            if not ka.interval_start:
                continue
            action = ka.trigger()
            if action == "ping":
                self._write(_PING)
            elif action == "dead":
                self._die(CLOSE_REASON_KEEPALIVE,
                          rpc_error(c.VIR_ERR_INTERNAL_ERROR,
                                    "connection closed due to keepalive timeout"))

    def _flush(self, sock: Any) -> None:
        """Write queued output as far as the socket takes it (the I/O owner)."""
        error = None
        with self._wlock:
            while True:
                if not self._out:
                    if not self._outq:
                        break
                    frames, self._outq = self._outq, []
                    self._out = memoryview(frames[0] if len(frames) == 1
                                           else b"".join(frames))
                try:
                    sent = sock.send(self._out)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if _want_retry(exc):
                        break
                    self._out = memoryview(b"")
                    self._outq.clear()
                    error = system_error("Cannot write data", exc.errno)
                    break
                self._out = self._out[sent:]
                if self._out:
                    break
        if error is not None:
            self._die(CLOSE_REASON_ERROR, error)

    def _read(self, sock: Any) -> None:
        # Into a buffer kept for the purpose: recv(256 KiB) would allocate (mmap), shrink
        # and free that much for every frame.
        rview = self._rview
        while True:
            try:
                size = sock.recv_into(rview)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if _want_retry(exc):
                    return
                self._die(CLOSE_REASON_ERROR, self._recv_error(exc.errno))
                return
            if not size:
                self._die(CLOSE_REASON_EOF, self._eof_error())
                return
            data = bytes(rview[:size])
            messages: list[m.Message] | None
            if (size >= 28 and not self._reader.buffered
                    and _U32.unpack_from(data)[0] == size):
                # the usual case: exactly one whole frame
                prog, vers, proc, mtype, serial, status = _HEADER.unpack_from(data, 4)
                if mtype != m.CALL_WITH_FDS and mtype != m.REPLY_WITH_FDS:
                    messages = [m.Message(prog, vers, proc, mtype, serial, status, data[28:])]
                else:
                    messages = self._feed(data)
            else:
                messages = self._feed(data)
            if messages is None:
                return
            if messages:
                self.keepalive.received()
                for msg in messages:
                    self._dispatch(msg)
            if not self.channel.pending() and size < _READ_SIZE:
                return

    def _feed(self, data: bytes) -> list[m.Message] | None:
        try:
            return self._reader.feed(data)
        except m.ProtocolError as exc:
            self._die(CLOSE_REASON_ERROR, exc.to_libvirt_error())
            return None

    def _eof_error(self) -> libvirtError:
        err = self.channel.stderr_text()
        detail = "End of file while reading data"
        if err:
            detail += f": {err}"
        return system_error(detail, errno.EIO)

    def _recv_error(self, err: int | None) -> libvirtError:
        text = self.channel.stderr_text()
        return system_error(f"Cannot recv data: {text}" if text else "Cannot recv data", err)

    def _dispatch(self, msg: m.Message) -> None:
        mtype = msg.type
        if mtype == m.REPLY or mtype == m.REPLY_WITH_FDS:
            with self._lock:
                call = self._calls.pop(msg.serial, None)
                if call is not None:
                    call.reply = msg
                    self._complete_locked(call)
            return
        if mtype == m.MESSAGE:
            if msg.prog == _KEEPALIVE_PROG:
                if msg.proc == _ka.KEEPALIVE_PROC_PING:
                    self._write(_PONG)
                return
            if self.on_event is not None:
                try:
                    self.on_event(msg)
                except Exception:  # noqa: BLE001 - a bad event must not kill the connection
                    import logging

                    logging.getLogger(__name__).exception("remote event dispatch failed")
            return
        if mtype == m.STREAM or mtype == m.STREAM_HOLE:
            with self._lock:
                stream = self._streams.get(msg.serial)
            if stream is not None:
                stream.on_frame(msg)
            return
        # A CALL from the server, or an unknown type: libvirt ignores it after logging.

    def _die(self, reason: int, error: libvirtError) -> None:
        """The channel is unusable: fail everything and close it."""
        with self._lock:
            if self.state == CLOSED:
                return
            was = self.state
            self.state = CLOSED
            self.error = error
            self.close_reason = reason
            pending = list(self._calls.values()) + list(self._waiters)
            self._calls.clear()
            streams = list(self._streams.values())
            for call in pending:
                self._complete_locked(call, error)
        for stream in streams:
            fail = getattr(stream, "on_close", None)
            if fail is not None:
                fail(error)
        self.channel.close()
        if was == OPEN and self.on_close is not None:
            try:
                self.on_close(reason, error)
            except Exception:  # noqa: BLE001
                import logging

                logging.getLogger(__name__).exception("remote close callback failed")

    # ---- background I/O (events, keepalive) ------------------------------------------------

    @property
    def background(self) -> bool:
        return self._background is not None

    def start_background(self) -> None:
        """Watch the connection from a daemon thread from now on (events, keepalive)."""
        with self._lock:
            if self._background is not None or self.state != OPEN:
                return
            bg = self._background = _Call(kind="background")
            self._bg_done.acquire()
        self._bg_thread = _thread.start_new_thread(self._background_main, (bg,))

    def _background_main(self, bg: _Call) -> None:
        try:
            self.wait(bg)
        finally:
            self._bg_done.release()

    def _stop_background(self) -> None:
        bg = self._background
        if bg is None:
            return
        self.complete(bg)
        self._wake()
        if self._bg_thread != _thread.get_ident():
            with self._bg_done:
                pass
        self._background = None

    def is_open(self) -> bool:
        return self.state == OPEN

    def close(self) -> None:
        """Close the channel (the client's own close: no close callback). Also after the
        channel died, to release what the connection holds."""
        with self._lock:
            if self.state == CLOSING or self._wake_w < 0:
                return
            died = self.state == CLOSED
            self.state = CLOSING
        self._stop_background()
        with self._lock:
            self.state = CLOSED
            if not died:
                self.close_reason = CLOSE_REASON_CLIENT
            pending = list(self._calls.values()) + list(self._waiters)
            self._calls.clear()
            for call in pending:
                self._complete_locked(call, closed_error())
            wake = (self._wake_r, self._wake_w)
            self._wake_r = self._wake_w = -1
        if self.channel is not None:
            self.channel.close()
        for fd in wake:
            try:
                os.close(fd)
            except OSError:
                pass


_FRAME = struct.Struct(">IIIiiIi")
_HEADER = struct.Struct(">IIiiIi")
_U32 = struct.Struct(">I")
# procedure -> ((prog, vers, number), args codec, ret codec): what a call needs, looked up once
_PROCS: dict[Any, tuple[tuple[int, int, int], Any, Any]] = {}


def _proc_info(proc: Procedure) -> tuple[tuple[int, int, int], Any, Any]:
    info = ((proc.program.number, proc.program.version, proc.number), proc.args, proc.ret)
    _PROCS[proc] = info
    return info


def _want_retry(exc: OSError) -> bool:
    """A TLS socket's "want read/write": nothing to do until poll says so."""
    name = type(exc).__name__
    return name in ("SSLWantReadError", "SSLWantWriteError")
