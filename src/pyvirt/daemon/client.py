"""One client connection of pyvirtd: framing, its state, and the calls it makes.

A :class:`ClientSession` is an asyncio protocol and a small state machine::

    CONNECTED --(auth, when the socket wants it)--> CONNECTED, authenticated
        --CONNECT_OPEN--> OPEN --CONNECT_CLOSE / EOF / error / keepalive--> CLOSED

Frames are cut by pyvirt.rpc.message.FrameReader; a frame libvirt would refuse outright
(bad length) closes the connection, as libvirtd does. Each CALL is checked in libvirtd's
order (message status, program and version, procedure, authentication, payload, open
connection) and answered with libvirtd's error when one fails. Calls that reach a driver
run on the daemon's worker threads (pyvirt.daemon.dispatch), at most
``max_client_requests`` at a time per client (reading pauses beyond that), so a slow call
never holds up the event loop or other clients (in-memory drivers' calls run on the loop
itself when the driver's lock is free, see dispatch.INLINE_DRIVERS); replies carry the
call's serial and go out in completion order. The procedures that are the daemon's own
business (open and close, auth, feature probes, event registration) are handled here
(:data:`LOCAL`).

Keepalive: a PING from the client is answered with a PONG at once. Once the client has
asked CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE), the daemon pings it after
``keepalive_interval`` seconds of silence and drops it after ``keepalive_count`` unanswered
PINGs.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
import struct
import threading
import time

from pyvirt import constants as c
from pyvirt.daemon import dispatch, sasl, tls
from pyvirt.daemon.config import AUTH_NONE, AUTH_POLKIT, AUTH_SASL
from pyvirt.daemon.events import EventRelay
from pyvirt.daemon.streams import STREAM_ARG_INDEX, DaemonStream
from pyvirt.errors import libvirtError, make_error, raise_error
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from pyvirt.rpc.xdr import XDRError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.daemon.server import Daemon, Listener
    from pyvirt.rpc.protocol import Procedure
    from pyvirt.rpc.sasl import ServerMechanism

log = logging.getLogger(__name__)

REMOTE: protocol.Program = protocol.REMOTE
KEEPALIVE: protocol.Program = protocol.KEEPALIVE
_PING = KEEPALIVE.procedure("PING")
_PONG = KEEPALIVE.procedure("PONG")
# The programs served on the main sockets, and on the admin socket.
SERVED_PROGRAMS = frozenset((0x20008086, 0x20008087, 0x00068000))
ADMIN_PROGRAMS = frozenset((protocol.ADMIN.number,))

# Procedures allowed before authentication (libvirt's needAuth = false).
NO_AUTH = frozenset(("AUTH_LIST", "AUTH_SASL_INIT", "AUTH_SASL_START", "AUTH_SASL_STEP",
                     "AUTH_POLKIT"))
# virDrvFeature values libvirtd answers itself (REMOTE_EVENT_CALLBACK,
# REMOTE_CLOSE_CALLBACK, FD_PASSING); PROGRAM_KEEPALIVE is answered before open.
FEATURE_KEEPALIVE = 10
DAEMON_FEATURES = frozenset((8, 14, 15))
# A client whose unsent output grows past this is not reading: drop it.
MAX_PENDING_OUTPUT = 64 * 1024 * 1024
_PEERCRED = struct.Struct("3i")


class State(enum.Enum):
    CONNECTED = "connected"   # no hypervisor connection yet
    OPEN = "open"             # CONNECT_OPEN succeeded
    CLOSED = "closed"


class ClientSession(asyncio.BufferedProtocol):
    """One connected client (see the module docstring)."""

    def __init__(self, daemon: Daemon, listener: Listener) -> None:
        self.daemon = daemon
        self.listener = listener
        self.netserver = listener.netserver
        self.loop = daemon.loop
        self.admin = listener.admin
        self.admin_open = False       # ADMIN CONNECT_OPEN done
        self._programs = ADMIN_PROGRAMS if self.admin else SERVED_PROGRAMS
        self._routes = _ADMIN_ROUTES if self.admin else _ROUTES
        self.connected_at = 0         # seconds since the epoch, set when admitted
        self.peer_address: str | None = None   # "host:port" of a TCP or TLS peer
        self.state = State.CONNECTED
        self.authenticated = listener.auth == AUTH_NONE
        self.readonly = listener.readonly
        self.conn: virConnect | None = None
        self.events: EventRelay | None = None
        self.close_callback = False
        self.peer: tuple[int, int, int] | None = None   # pid, uid, gid (unix sockets)
        # libvirt's "secure" client: TLS or a unix socket (SASL needs no SSF of its own)
        self.secure = listener.path is not None or listener.tls
        # identity, as libvirt's virNetServerClientCreateIdentity records it
        self.x509_dname: str | None = None      # TLS client certificate's DN
        self.sasl_username: str | None = None   # after SASL authentication
        # SASL exchange in progress: ("init", offered mechanisms), then the mechanism
        self.sasl_session: tuple[str, list[str]] | ServerMechanism | None = None
        self.auth_lock = threading.Lock()
        self.transport: asyncio.Transport | None = None
        self._reader = m.FrameReader()
        self._in_flight = 0
        self._pending: list[m.Message] = []
        self._paused = False          # reading paused (request limit or output)
        self._write_paused = False
        self.writable = threading.Event()   # for stream pumps: output not backed up
        self.writable.set()
        self.streams: dict[int, DaemonStream] = {}
        self.open_lock = threading.Lock()
        self._close_after_flush = False
        # keepalive
        self._last_rx = time.monotonic()
        self._keepalive: asyncio.TimerHandle | None = None
        self._pings = 0
        self.id = self.netserver.next_client_id()

    def __repr__(self) -> str:
        return f"<ClientSession {self.id} {self.listener.name} {self.state.value}>"

    # ---- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            try:
                raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
                self.peer = _PEERCRED.unpack(raw)
            except OSError:
                self.peer = None
        else:
            self.peer_address = _address_text(transport.get_extra_info("peername"))
        if self.listener.tls:
            ok, self.x509_dname = tls.check_client(self.daemon.config,
                                                   transport.get_extra_info("peercert"))
            if not ok:
                # closed before the confirmation byte (and without a TLS close_notify),
                # as libvirtd drops a client whose certificate it refuses
                transport.abort()
                self.state = State.CLOSED
                return
        if not self.daemon.accept_client(self):
            transport.abort()
            self.state = State.CLOSED
            return
        if self.listener.tls:
            transport.write(tls.CONFIRM)
        log.debug("client %d connected on %s, peer %s", self.id, self.listener.name, self.peer)

    def get_buffer(self, sizehint: int) -> memoryview:
        # plain sockets read straight into the frame reader's buffers
        return self._reader.read_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        if self.state is State.CLOSED:
            return
        self._last_rx = time.monotonic()
        self._pings = 0
        try:
            messages = self._reader.read_done(nbytes)
        except m.ProtocolError as exc:
            log.info("client %d: %s; closing", self.id, exc.message)
            self.close()
            return
        self._received(messages)

    def data_received(self, data: bytes) -> None:
        # what the TLS layer hands on (pyvirt.daemon.tls)
        if self.state is State.CLOSED:
            return
        self._last_rx = time.monotonic()
        self._pings = 0
        try:
            messages = self._reader.feed(data)
        except m.ProtocolError as exc:
            log.info("client %d: %s; closing", self.id, exc.message)
            self.close()
            return
        self._received(messages)

    def _received(self, messages: list[m.Message]) -> None:
        limit = self.netserver.max_client_requests
        for msg in messages:
            if self._in_flight >= limit or self._pending:
                self._pending.append(msg)
            else:
                self._handle(msg)
        if self._paused or self._pending or self._in_flight >= limit:
            self._update_reading()

    def eof_received(self) -> bool | None:
        return None   # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state is not State.CLOSED:
            log.debug("client %d disconnected", self.id)
        self._shutdown()

    def pause_writing(self) -> None:
        self._write_paused = True
        self.writable.clear()
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self.writable.set()
        self._update_reading()

    # ---- output ---------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` (event loop thread)."""
        transport = self.transport
        if transport is None or self.state is State.CLOSED or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > MAX_PENDING_OUTPUT:
            log.warning("client %d does not read its replies; dropping it", self.id)
            self.close(abort=True)

    def send_threadsafe(self, frame: bytes) -> None:
        try:
            self.loop.call_soon_threadsafe(self.send, frame)
        except RuntimeError:  # the loop is closed: the daemon is gone
            pass

    def close(self, abort: bool = False) -> None:
        """Drop the connection (replies already queued are still sent unless ``abort``)."""
        if self.transport is not None and not self.transport.is_closing():
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        self._shutdown()

    def _shutdown(self) -> None:
        if self.state is State.CLOSED and self.transport is None:
            return
        self.state = State.CLOSED
        self.transport = None
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        self._pending.clear()
        self.writable.set()
        for stream in list(self.streams.values()):
            stream.close()
        self.streams.clear()
        self._release_connection()
        self.daemon.remove_client(self)

    def _release_connection(self) -> None:
        conn, self.conn = self.conn, None
        events, self.events = self.events, None
        if events is not None:
            events.close()
        if conn is not None:
            self.daemon.run_blocking(_close_quietly, conn)

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        pause = (self._write_paused or bool(self._pending)
                 or self._in_flight >= self.netserver.max_client_requests)
        if pause and not self._paused:
            transport.pause_reading()
            self._paused = True
        elif not pause and self._paused:
            transport.resume_reading()
            self._paused = False

    # ---- incoming messages ----------------------------------------------------------------

    def _handle(self, msg: m.Message) -> None:
        if msg.type == m.CALL and msg.status == m.OK:
            # the common case: a call of a procedure already seen valid
            route = self._routes.get((msg.prog, msg.vers, msg.proc))
            if route is not None and (self.authenticated or route.no_auth):
                self._call(msg, route)
                return
        self._check_and_call(msg)

    def _check_and_call(self, msg: m.Message) -> None:
        """Any message: libvirtd's checks in its order, then the call."""
        mtype = msg.type
        if mtype == m.MESSAGE and msg.prog == KEEPALIVE.number:
            if msg.proc == _PING.number:
                self.send(_PONG.event())
            return   # a PONG (or anything else) only proves the peer alive
        if mtype in (m.STREAM, m.STREAM_HOLE):
            stream = self.streams.get(msg.serial)
            if stream is not None and (msg.prog, msg.proc) == (stream.proc.program.number,
                                                              stream.proc.number):
                stream.on_message(msg)
            return   # data for no open stream: dropped without an answer, as libvirtd
        if mtype not in (m.CALL, m.CALL_WITH_FDS):
            # Replies and events from a client: dropped without an answer, as libvirtd.
            return
        if msg.prog not in self._programs:
            self._reply_error(msg, None, f"Cannot find program {msg.prog} version {msg.vers}")
            return
        prog = protocol.program(msg.prog)
        assert prog is not None
        if msg.vers != prog.version:
            self._reply_error(msg, None, f"Cannot find program {msg.prog} version {msg.vers}")
            return
        if msg.status != m.OK:
            self._reply_error(msg, None, f"Unexpected message status {msg.status}")
            return
        proc = prog.procedures.get(msg.proc)
        if proc is None or proc.is_event:
            self._reply_error(msg, None, f"unknown procedure: {msg.proc}")
            return
        if not self.authenticated and proc.name not in NO_AUTH:
            self._reply_error(msg, proc, "authentication required")
            return
        if mtype == m.CALL_WITH_FDS or proc.fds is not None or (
                proc.stream is not None and proc.name not in STREAM_ARG_INDEX):
            self._reply(msg, proc, exc=make_error(
                c.VIR_ERR_NO_SUPPORT, proc.api or proc.name, domain=c.VIR_FROM_RPC))
            return
        route = _Route(proc, prog.number)
        if len(self._routes) < _ROUTES_MAX:
            self._routes[msg.prog, msg.vers, msg.proc] = route
        self._call(msg, route)

    def _call(self, msg: m.Message, route: _Route) -> None:
        """A call that passed the checks that depend only on its procedure."""
        proc = route.proc
        try:
            args = proc.decode_args(msg.payload)
        except XDRError:
            self._reply_error(msg, proc, "Unable to decode message payload")
            return
        local = route.local
        if local is not None:
            handler, blocking = local
            if blocking:
                self._start(msg, proc, lambda: handler(self, args))
            else:
                self._run_now(msg, proc, lambda: handler(self, args))
            return
        conn = self.conn
        if conn is None:
            self._reply(msg, proc, exc=_not_open())
            return
        plan = route.plan
        if plan is None:
            self._reply(msg, proc, exc=make_error(
                c.VIR_ERR_NO_SUPPORT, proc.name, domain=c.VIR_FROM_RPC))
            return
        readonly = self.readonly
        if proc.stream is not None:
            self._open_stream(msg, proc, plan, conn, args)
            return
        drv = conn._drv
        if plan.inline_ok and drv.name in dispatch.INLINE_DRIVERS:
            lock = drv.lock
            if lock.acquire(blocking=False):
                try:
                    self._run_now(msg, proc, lambda: plan.run(conn, args, readonly))
                finally:
                    lock.release()
                return
        self._start(msg, proc, lambda: plan.run(conn, args, readonly),
                    high=proc.high_priority)

    def _run_now(self, msg: m.Message, proc: Procedure, fn: Callable[[], Any]) -> None:
        self.send(_encode_result(msg, proc, fn))

    def _start(self, msg: m.Message, proc: Procedure, fn: Callable[[], Any],
               high: bool = False) -> None:
        """Run ``fn`` on a worker; its reply is sent when it finishes."""
        self._in_flight += 1

        def work() -> None:
            frame = _encode_result(msg, proc, fn)
            try:
                self.loop.call_soon_threadsafe(self._finished, frame)
            except RuntimeError:
                pass

        if not self.netserver.pool.submit(work, high):
            self._in_flight -= 1
            self._reply(msg, proc, exc=make_error(
                c.VIR_ERR_INTERNAL_ERROR, "daemon is shutting down", domain=c.VIR_FROM_RPC))

    def _open_stream(self, msg: m.Message, proc: Procedure, plan: dispatch.Plan,
                     conn: virConnect, args: Any) -> None:
        """A stream-opening call: the driver attaches its backend to a new virStream; the
        stream is registered before its reply goes out, then starts moving data."""
        from pyvirt.api.stream import virStream

        readonly = self.readonly
        self._in_flight += 1
        sparse = bool(proc.sparse_flag and args.get("flags", 0) & proc.sparse_flag)

        def work() -> None:
            st = virStream(conn)
            opened: list[DaemonStream] = []

            def call() -> Any:
                ret = plan.run(conn, args, readonly, stream=st)
                opened.append(DaemonStream(self, proc, msg.serial, st, sparse))
                return ret

            frame = _encode_result(msg, proc, call)
            try:
                self.loop.call_soon_threadsafe(self._stream_opened, frame,
                                               opened[0] if opened else None)
            except RuntimeError:
                pass

        if not self.netserver.pool.submit(work):
            self._in_flight -= 1
            self._reply(msg, proc, exc=make_error(
                c.VIR_ERR_INTERNAL_ERROR, "daemon is shutting down", domain=c.VIR_FROM_RPC))

    def _stream_opened(self, frame: bytes, stream: DaemonStream | None) -> None:
        if stream is not None:
            if self.state is State.CLOSED:
                stream.close()
                stream.start()
            else:
                self.streams[stream.serial] = stream
        self._finished(frame)
        if stream is not None and self.state is not State.CLOSED:
            stream.start()

    def stream_done(self, stream: DaemonStream) -> None:
        """A stream ended (any thread)."""
        def forget() -> None:
            if self.streams.get(stream.serial) is stream:
                del self.streams[stream.serial]

        try:
            self.loop.call_soon_threadsafe(forget)
        except RuntimeError:
            pass

    def _finished(self, frame: bytes) -> None:
        self._in_flight -= 1
        self.send(frame)
        if self._close_after_flush and self._in_flight == 0:
            self.close()
            return
        while self._pending and self._in_flight < self.netserver.max_client_requests:
            self._handle(self._pending.pop(0))
        self._update_reading()

    def close_after_reply(self) -> None:
        """End the connection once the reply of the call in progress is out."""
        self._close_after_flush = True

    def _reply(self, msg: m.Message, proc: Procedure, exc: BaseException) -> None:
        self.send(proc.error_reply(msg.serial, exc))

    def _reply_error(self, msg: m.Message, proc: Procedure | None, text: str) -> None:
        """A protocol-level refusal (VIR_ERR_RPC), echoing the call's header."""
        exc = make_error(c.VIR_ERR_RPC, text, domain=c.VIR_FROM_RPC)
        self.send(m.encode_frame(msg.prog, msg.vers, msg.proc, m.REPLY, msg.serial, m.ERROR,
                                 m.encode_error(exc)))

    # ---- keepalive ------------------------------------------------------------------------

    def start_keepalive(self) -> None:
        interval = self.netserver.keepalive_interval
        if interval <= 0 or self._keepalive is not None or self.state is State.CLOSED:
            return
        self._keepalive = self.loop.call_later(interval, self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        self._keepalive = None
        if self.state is State.CLOSED:
            return
        server = self.netserver
        interval = server.keepalive_interval
        idle = time.monotonic() - self._last_rx
        if idle >= interval:
            if self._pings >= server.keepalive_count:
                log.info("client %d: no answer to %d keepalive PINGs; closing", self.id,
                         self._pings)
                self.close(abort=True)
                return
            self._pings += 1
            self.send(_PING.event())
            delay: float = interval
        else:
            delay = interval - idle
        self._keepalive = self.loop.call_later(delay, self._keepalive_tick)

    # ---- the daemon's own procedures ------------------------------------------------------

    def require_conn(self) -> virConnect:
        conn = self.conn
        if conn is None:
            raise _not_open()
        return conn

    def relay(self) -> EventRelay:
        conn = self.require_conn()
        if self.events is None:
            self.events = EventRelay(conn, self.send_threadsafe)
        return self.events

    def peer_is_trusted(self) -> bool:
        """Whether polkit would let this peer through with libvirt's default policy: on
        the read-only socket anyone (org.libvirt.unix.monitor), on the read-write one
        root and the daemon's own user (pyvirtd cannot ask polkit about others)."""
        import os

        if self.listener.readonly:
            return True
        return self.peer is not None and self.peer[1] in (0, os.geteuid())


class _Route:
    """What a valid call of one procedure needs, worked out once: the daemon's own handler
    or the driver plan."""

    __slots__ = ("proc", "no_auth", "local", "plan")

    def __init__(self, proc: Procedure, program: int) -> None:
        self.proc = proc
        self.no_auth = proc.name in NO_AUTH
        # by number: tests that reset the protocol tables' cache make new Program objects
        self.local: tuple[Callable[[ClientSession, Any], Any], bool] | None = None
        if program == REMOTE.number:
            self.local = LOCAL.get(proc.name)
        elif program == protocol.ADMIN.number:
            from pyvirt.daemon.admin import HANDLERS

            # the admin server's workers run every admin call
            self.local = (HANDLERS[proc.name], True)
        self.plan = (dispatch.plan(proc) if self.local is None and proc.method is not None
                     else None)


# (program, version, procedure) -> route; only valid calls get here, and the tables are
# finite, but a bound keeps a bug from turning into unbounded growth.
_ROUTES: dict[tuple[int, int, int], _Route] = {}
_ADMIN_ROUTES: dict[tuple[int, int, int], _Route] = {}
_ROUTES_MAX = 4096


def _not_open() -> libvirtError:
    return make_error(c.VIR_ERR_INTERNAL_ERROR, "hypervisor connection not open",
                      domain=c.VIR_FROM_RPC)


def _encode_result(msg: m.Message, proc: Procedure, fn: Callable[[], Any]) -> bytes:
    """Run ``fn`` and encode its value as ``msg``'s reply, or its failure as an error."""
    try:
        return proc.reply(msg.serial, fn())
    except libvirtError as exc:
        return proc.error_reply(msg.serial, exc)
    except XDRError as exc:
        log.warning("%s: cannot encode the reply: %s", proc.name, exc)
        return proc.error_reply(msg.serial, make_error(
            c.VIR_ERR_RPC, "Unable to encode message payload", domain=c.VIR_FROM_RPC))
    except Exception as exc:  # a bug: keep serving, tell the client and the log
        log.exception("%s failed", proc.name)
        return proc.error_reply(msg.serial, make_error(
            c.VIR_ERR_INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", domain=c.VIR_FROM_RPC))


def _address_text(peername: Any) -> str | None:
    """A TCP peer as libvirt writes it for virt-admin: ``host:port``, IPv6 in brackets."""
    if not isinstance(peername, tuple) or len(peername) < 2:
        return None
    host, port = peername[0], peername[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _close_quietly(conn: virConnect) -> None:
    try:
        conn.close()
    except Exception:
        log.exception("closing %r", conn)


# ---- handlers (session, decoded args) -> wire return value ----------------------------------


def _auth_list(s: ClientSession, args: Any) -> Any:
    if s.listener.auth == AUTH_POLKIT:
        if s.peer_is_trusted():
            s.authenticated = True
            return {"types": [protocol.REMOTE.module.REMOTE_AUTH_NONE]}
        return {"types": [protocol.REMOTE.module.REMOTE_AUTH_POLKIT]}
    if s.listener.auth == AUTH_SASL:
        return {"types": [protocol.REMOTE.module.REMOTE_AUTH_SASL]}
    return {"types": [protocol.REMOTE.module.REMOTE_AUTH_NONE]}


def _auth_polkit(s: ClientSession, args: Any) -> Any:
    if s.listener.auth != AUTH_POLKIT:
        raise_error(c.VIR_ERR_AUTH_FAILED, "unsupported authentication type",
                    domain=c.VIR_FROM_RPC)
    if not s.peer_is_trusted():
        uid = s.peer[1] if s.peer else -1
        raise_error(c.VIR_ERR_AUTH_FAILED,
                    f"polkit: access denied to uid {uid} (pyvirtd admits only root and its "
                    "own user on a polkit socket)", domain=c.VIR_FROM_RPC)
    s.authenticated = True
    return {"complete": 1}


def _connect_open(s: ClientSession, args: Any) -> Any:
    # Worker thread; pipelined opens of one client take turns.
    with s.open_lock:
        return _open_locked(s, args)


def _open_locked(s: ClientSession, args: Any) -> Any:
    if s.conn is not None:
        # libvirtd 9.0 refuses a second open and drops the first connection with it.
        s.loop.call_soon_threadsafe(s._release_connection)
        raise_error(c.VIR_ERR_INTERNAL_ERROR, "connection already open", domain=c.VIR_FROM_RPC)
    flags = args["flags"]
    readonly = s.listener.readonly or bool(flags & c.VIR_CONNECT_RO)
    conn = s.daemon.open_connection(args["name"], readonly)
    if s.state is State.CLOSED:
        _close_quietly(conn)
        return None
    s.readonly = readonly
    s.conn = conn
    s.state = State.OPEN
    return None


def _connect_close(s: ClientSession, args: Any) -> Any:
    # Worker thread. The connection ends once the reply is out.
    conn, s.conn = s.conn, None
    events, s.events = s.events, None
    if events is not None:
        events.close()
    if conn is not None:
        _close_quietly(conn)
    s.close_after_reply()
    return None


def _supports_feature(s: ClientSession, args: Any) -> Any:
    feature = args["feature"]
    if feature == FEATURE_KEEPALIVE:
        s.start_keepalive()
        return {"supported": 1}
    conn = s.require_conn()
    if feature in DAEMON_FEATURES:
        return {"supported": 1}
    drv = conn._drv
    if not drv.supports("connectSupportsFeature"):
        return {"supported": 0}
    return {"supported": int(drv.connectSupportsFeature(conn, feature))}


def _close_callback(s: ClientSession, args: Any) -> Any:
    s.require_conn()
    s.close_callback = True
    return None


def _close_callback_off(s: ClientSession, args: Any) -> Any:
    s.require_conn()
    s.close_callback = False
    return None


def _object_key(args: Any, field: str, key: str) -> str | None:
    value = args.get(field)
    if value is None:
        return None
    raw = value[key]
    if key == "uuid":
        from pyvirt.rpc.handles import uuid_string

        return uuid_string(raw)
    return str(raw)


def _register(family: str, field: str, key: str) -> Callable[[ClientSession, Any], Any]:
    def handler(s: ClientSession, args: Any) -> Any:
        relay = s.relay()
        callback_id = relay.register(family, args["eventID"], _object_key(args, field, key))
        return {"callbackID": callback_id}

    return handler


def _deregister(family: str) -> Callable[[ClientSession, Any], Any]:
    def handler(s: ClientSession, args: Any) -> Any:
        s.relay().deregister(family, args["callbackID"])
        return None

    return handler


def _register_legacy_any(s: ClientSession, args: Any) -> Any:
    s.relay().register_legacy(args["eventID"])
    return None


def _deregister_legacy_any(s: ClientSession, args: Any) -> Any:
    s.relay().deregister_legacy(args["eventID"])
    return None


def _register_legacy(s: ClientSession, args: Any) -> Any:
    # virConnectDomainEventRegister: lifecycle only; reports whether one is registered.
    relay = s.relay()
    if not relay.has_legacy(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE):
        relay.register_legacy(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE)
    return {"cb_registered": 1}


def _deregister_legacy(s: ClientSession, args: Any) -> Any:
    relay = s.relay()
    if relay.has_legacy(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE):
        relay.deregister_legacy(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE)
    return {"cb_registered": 0}


# Procedure name -> (handler, runs on a worker thread).
LOCAL: dict[str, tuple[Callable[[ClientSession, Any], Any], bool]] = {
    "AUTH_LIST": (_auth_list, False),
    "AUTH_POLKIT": (_auth_polkit, False),
    "AUTH_SASL_INIT": (sasl.auth_sasl_init, False),
    # workers: PLAIN derives a key (PBKDF2) and the user file may be reread
    "AUTH_SASL_START": (sasl.auth_sasl_start, True),
    "AUTH_SASL_STEP": (sasl.auth_sasl_step, True),
    "CONNECT_OPEN": (_connect_open, True),
    "CONNECT_CLOSE": (_connect_close, True),
    "CONNECT_SUPPORTS_FEATURE": (_supports_feature, True),
    "CONNECT_REGISTER_CLOSE_CALLBACK": (_close_callback, False),
    "CONNECT_UNREGISTER_CLOSE_CALLBACK": (_close_callback_off, False),
    "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY": (_register("domain", "dom", "uuid"), False),
    "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY": (_deregister("domain"), False),
    "CONNECT_DOMAIN_EVENT_REGISTER_ANY": (_register_legacy_any, False),
    "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY": (_deregister_legacy_any, False),
    "CONNECT_DOMAIN_EVENT_REGISTER": (_register_legacy, False),
    "CONNECT_DOMAIN_EVENT_DEREGISTER": (_deregister_legacy, False),
    "CONNECT_NETWORK_EVENT_REGISTER_ANY": (_register("network", "net", "uuid"), False),
    "CONNECT_NETWORK_EVENT_DEREGISTER_ANY": (_deregister("network"), False),
    "CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY": (
        _register("storage_pool", "pool", "uuid"), False),
    "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY": (_deregister("storage_pool"), False),
    "CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY": (_register("node_device", "dev", "name"), False),
    "CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY": (_deregister("node_device"), False),
    "CONNECT_SECRET_EVENT_REGISTER_ANY": (_register("secret", "secret", "uuid"), False),
    "CONNECT_SECRET_EVENT_DEREGISTER_ANY": (_deregister("secret"), False),
}
