"""pyvirtd's server: listeners, clients, worker threads, driver connections, shutdown.

:class:`Daemon` owns

* two servers (pyvirt.daemon.netserver): ``libvirtd``, whose listeners are the hypervisor
  sockets below, and ``admin``, whose one listener is ``libvirt-admin-sock`` for virt-admin
  (pyvirt.daemon.admin); each has its clients, worker threads and client limits;
* the listeners (:class:`Listener`): the read-write unix socket ``libvirt-sock``, the
  read-only ``libvirt-sock-ro`` (every connection made there is read-only), and with
  ``--listen`` a TCP socket (``listen_tcp = 1``) and a TLS one (``listen_tls = 1``, the
  default; pyvirt.daemon.tls checks client certificates), each with its auth type ("none",
  "polkit" or "sasl": pyvirt.daemon.sasl; see pyvirt.daemon.config). Unix peers are
  identified by SO_PEERCRED; on a socket whose mode grants nothing to others, a peer that
  is neither root, nor the daemon's user, nor (when the mode grants the group) in the
  socket's group is turned away at once;
* the clients (pyvirt.daemon.client.ClientSession), at most ``max_clients`` per server;
* the worker threads of each server (pyvirt.daemon.workers): ``min_workers`` to
  ``max_workers`` for driver calls, plus ``prio_workers`` that take only high-priority calls
  (destroy, lookups, ...), as libvirtd's thread pool;
* the log settings (pyvirt.daemon.logsetup), which virt-admin may change;
* one driver connection per client (CONNECT_OPEN -> :meth:`Daemon.open_connection`), plus
  one the daemon keeps per stateful driver (QEMU) from its first use until shutdown, so
  the driver stays loaded between clients as libvirtd's state drivers do. The test
  driver's ``test:///default`` is not kept: as in libvirtd its state lasts while some
  client has it open.

Socket activation (pyvirt.daemon.activation): given the sockets systemd passed, the daemon
serves those instead of creating its own (``--listen`` is refused then, as by libvirtd),
leaves their permissions as the socket units set them, and never unlinks them: systemd owns
them, and with ``--timeout`` an idle daemon exits while systemd keeps listening and starts
it again on the next connection.

Shutdown (SIGTERM, SIGINT, ``--timeout`` idle): stop listening, drop clients, close every
driver connection (the QEMU driver leaves guests running), remove the sockets it created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import grp
import logging
import os
import socket
import stat
import sys
import threading
import time

from pyvirt import constants as c
from pyvirt.daemon import activation as act
from pyvirt.daemon.client import ClientSession
from pyvirt.daemon.config import AUTH_NONE, AUTH_SASL, DaemonConfig
from pyvirt.daemon.logsetup import LogSettings
from pyvirt.daemon.netserver import ADMIN_SERVER, MAIN_SERVER, NetServer
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.daemon.activation import Activation
    from pyvirt.daemon.sasl import SaslAuthority

log = logging.getLogger(__name__)

# Driver schemes whose state outlives connections (the daemon keeps them loaded).
STATEFUL_DRIVERS = frozenset(("qemu",))
# Seconds shutdown waits for calls in progress.
SHUTDOWN_WAIT = 10


class Listener:
    """One listening socket and how its clients are treated."""

    def __init__(self, name: str, readonly: bool, auth: str, path: str | None = None,
                 host: str | None = None, port: int | None = None,
                 perms: int | None = None, tls: bool = False, admin: bool = False) -> None:
        self.name = name
        self.tls = tls
        self.tls_context: ssl.SSLContext | None = None   # replaced by virt-admin's TLS reload
        self.admin = admin
        self.netserver: NetServer = None  # type: ignore[assignment]  # set by the daemon
        self.readonly = readonly
        self.auth = auth
        self.path = path
        self.host = host
        self.port = port
        self.perms = perms
        self.gid: int | None = None
        self.server: asyncio.AbstractServer | None = None
        # passed by systemd (socket activation): its socket file is not ours to remove
        self.inherited = False

    def __repr__(self) -> str:
        where = self.path or f"{self.host}:{self.port}"
        return f"<Listener {self.name} {where}>"

    def admits(self, peer: tuple[int, int, int] | None) -> bool:
        """Whether a unix peer (pid, uid, gid) may use this socket."""
        if self.path is None or peer is None or self.perms is None:
            return True
        _pid, uid, gid = peer
        if uid in (0, os.geteuid()) or self.perms & 0o007:
            return True
        if self.perms & 0o070:
            group = self.gid if self.gid is not None else os.getegid()
            if gid == group:
                return True
            try:
                import pwd

                name = pwd.getpwuid(uid).pw_name
                return name in grp.getgrgid(group).gr_mem
            except KeyError:
                return False
        return False


class Daemon:
    """The running daemon (see the module docstring). Create, ``await start()``, then
    ``await serve()`` until :meth:`request_stop`."""

    def __init__(self, config: DaemonConfig, activation: Activation | None = None,
                 log_settings: LogSettings | None = None) -> None:
        config.validate()
        self.config = config
        self.activation = activation
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.listeners: list[Listener] = []
        self.servers = {
            MAIN_SERVER: NetServer(
                MAIN_SERVER, min_workers=config.min_workers, max_workers=config.max_workers,
                prio_workers=config.prio_workers, max_clients=config.max_clients,
                max_anonymous_clients=config.max_anonymous_clients,
                max_queued_clients=config.max_queued_clients,
                max_client_requests=config.max_client_requests,
                keepalive_interval=config.keepalive_interval,
                keepalive_count=config.keepalive_count),
            ADMIN_SERVER: NetServer(
                ADMIN_SERVER, min_workers=config.admin_min_workers,
                max_workers=config.admin_max_workers, prio_workers=0,
                max_clients=config.admin_max_clients, max_anonymous_clients=0,
                max_queued_clients=config.admin_max_queued_clients,
                max_client_requests=config.admin_max_client_requests,
                keepalive_interval=config.admin_keepalive_interval,
                keepalive_count=config.admin_keepalive_count),
        }
        self.main = self.servers[MAIN_SERVER]
        # Without settings of its own (an in-process daemon in tests), the daemon reports
        # the configured ones and changes Python's logging only when virt-admin asks.
        self.log_settings = log_settings or LogSettings.from_config(config, detached=False)
        self._holds: dict[str, virConnect] = {}
        self._holds_lock = threading.Lock()
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._idle_since = time.monotonic()
        self._storage: Any = None
        self._network: Any = None
        self.sasl: SaslAuthority | None = None
        if config.uses_sasl():
            from pyvirt.daemon.sasl import SaslAuthority

            self.sasl = SaslAuthority(config)

    # ---- start / stop -----------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        cfg = self.config
        inherited = self._claim_activation()
        tls_ctx = None
        if (inherited is None and cfg.tls_enabled()) or (inherited and act.TLS in inherited):
            # bad certificates fail the start before any socket is served
            from pyvirt.daemon.tls import server_context

            tls_ctx = server_context(cfg)
        from pyvirt.drivers.base import set_inside_daemon

        set_inside_daemon()   # local URIs open drivers here: the daemon never dials itself
        if cfg.host_uuid or cfg.host_uuid_source != "smbios":
            from pyvirt.drivers.qemu.capabilities import set_host_uuid

            set_host_uuid(cfg.host_uuid, cfg.host_uuid_source)
        if cfg.root:
            from pyvirt.drivers.qemu.paths import set_daemon_root

            set_daemon_root(cfg.root)
        # libvirtd initialises its storage driver at start, so autostart pools start
        from pyvirt.drivers import storage

        self._storage = storage.open_driver(
            "system" if os.geteuid() == 0 or cfg.root else "session", cfg.root)
        # ... and its network driver, so autostart networks come up (running ones are found)
        from pyvirt.drivers import network

        self._network = network.open_driver(
            "system" if os.geteuid() == 0 or cfg.root else "session", cfg.root)
        if inherited is not None:
            await self._serve_inherited(inherited, tls_ctx)
            log.info("pyvirtd listening on activation sockets: %s",
                     ", ".join(repr(li) for li in self.listeners))
            return
        sock_dir = cfg.socket_dir()
        os.makedirs(sock_dir, mode=0o755, exist_ok=True)
        gid = None
        if cfg.unix_sock_group:
            try:
                gid = grp.getgrnam(cfg.unix_sock_group).gr_gid
            except KeyError:
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                            f"Failed to lookup group '{cfg.unix_sock_group}'",
                            domain=c.VIR_FROM_CONF)
        for listener in (
                Listener("unix-rw", False, cfg.auth_unix_rw, path=cfg.rw_socket_path(),
                         perms=cfg.rw_perms()),
                Listener("unix-ro", True, cfg.auth_unix_ro, path=cfg.ro_socket_path(),
                         perms=cfg.ro_perms())):
            listener.gid = gid
            await self._listen_unix(listener)
        # the admin socket keeps the daemon's own group: only its user may connect anyway
        await self._listen_unix(Listener("admin", False, AUTH_NONE,
                                         path=cfg.admin_socket_path(),
                                         perms=cfg.admin_perms(), admin=True))
        if cfg.tcp_enabled():
            tcp = Listener("tcp", False, cfg.auth_tcp, host=cfg.listen_addr or None,
                           port=int(cfg.tcp_port))
            await self._listen_tcp(tcp)
            if cfg.auth_tcp == AUTH_NONE:
                log.warning("listening on TCP %s:%s without authentication",
                            tcp.host or "*", tcp.port)
            elif cfg.auth_tcp == AUTH_SASL:
                log.warning("TCP %s:%s: SASL on plain TCP needs a mechanism with a security "
                            "layer (SSF >= %d), which pyvirtd lacks: no client can log in "
                            "there; use TLS with auth_tls = \"sasl\"", tcp.host or "*",
                            tcp.port, cfg.tcp_min_ssf)
        if tls_ctx is not None:
            await self._listen_tcp(Listener("tls", False, cfg.auth_tls,
                                            host=cfg.listen_addr or None,
                                            port=int(cfg.tls_port), tls=True), tls_ctx)
        log.info("pyvirtd listening: %s", ", ".join(repr(li) for li in self.listeners))

    def _claim_activation(self) -> dict[str, list[socket.socket]] | None:
        """The activation sockets by role (pyvirt.daemon.activation), or None when the
        daemon was not socket-activated."""
        if self.activation is None:
            return None
        cfg = self.config
        if cfg.listen:
            self.activation.close()
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, "--listen parameter not permitted with "
                        "systemd activation sockets", domain=c.VIR_FROM_RPC)
        claimed = self.activation.claim(
            {act.RW: cfg.rw_socket_path(), act.RO: cfg.ro_socket_path(),
             act.ADMIN: cfg.admin_socket_path()},
            {act.TCP: int(cfg.tcp_port), act.TLS: int(cfg.tls_port)})
        # an activated TCP or TLS socket serves with its auth even without --listen
        auths = [cfg.auth_tcp] if act.TCP in claimed else []
        auths += [cfg.auth_tls] if act.TLS in claimed else []
        if self.sasl is None and AUTH_SASL in auths:
            from pyvirt.daemon.sasl import SaslAuthority

            self.sasl = SaslAuthority(cfg)
        return claimed

    async def _serve_inherited(self, inherited: dict[str, list[socket.socket]],
                               tls_ctx: ssl.SSLContext | None) -> None:
        cfg = self.config
        for role, socks in inherited.items():
            for sock in socks:
                if role == act.ADMIN:
                    listener = Listener("admin", False, AUTH_NONE, path=_bound_path(sock),
                                        perms=cfg.admin_perms(), admin=True)
                    _adopt_file_mode(listener)
                    listener.inherited = True
                    await self._listen_unix(listener, sock)
                elif role in (act.RW, act.RO):
                    readonly = role == act.RO
                    listener = Listener("unix-ro" if readonly else "unix-rw", readonly,
                                        cfg.auth_unix_ro if readonly else cfg.auth_unix_rw,
                                        path=_bound_path(sock),
                                        perms=cfg.ro_perms() if readonly else cfg.rw_perms())
                    _adopt_file_mode(listener)
                    listener.inherited = True
                    await self._listen_unix(listener, sock)
                else:
                    tls = role == act.TLS
                    host, port = sock.getsockname()[:2]
                    listener = Listener(role, False, cfg.auth_tls if tls else cfg.auth_tcp,
                                        host=host, port=port, tls=tls)
                    listener.inherited = True
                    await self._listen_tcp(listener, tls_ctx if tls else None, sock)

    async def _listen_tcp(self, listener: Listener, ctx: ssl.SSLContext | None = None,
                          sock: socket.socket | None = None) -> None:
        assert listener.port is not None
        listener.netserver = self.main
        listener.tls_context = ctx

        def session() -> ClientSession:
            return ClientSession(self, listener)

        def protocol() -> asyncio.BaseProtocol:
            if listener.tls_context is None:
                return session()
            from pyvirt.daemon.tls import TLSLayer

            return TLSLayer(listener.tls_context, session)

        # asyncio listens with this backlog (for an inherited socket: only the backlog changes)
        backlog = listener.netserver.max_queued_clients
        if sock is not None:
            listener.server = await self.loop.create_server(protocol, sock=sock,
                                                            backlog=backlog)
        else:
            listener.server = await self.loop.create_server(
                protocol, host=listener.host, port=listener.port, reuse_address=True,
                backlog=backlog)
        self.listeners.append(listener)

    async def _listen_unix(self, listener: Listener, sock: socket.socket | None = None) -> None:
        listener.netserver = self.servers[ADMIN_SERVER] if listener.admin else self.main
        # asyncio listens with the server's backlog (max_queued_clients)
        backlog = listener.netserver.max_queued_clients
        if sock is not None:
            # Python 3.13+ would unlink the socket file when the server closes
            keep: dict[str, Any] = ({"cleanup_socket": False}
                                    if sys.version_info >= (3, 13) else {})
            listener.server = await self.loop.create_unix_server(
                lambda: ClientSession(self, listener), sock=sock, backlog=backlog, **keep)
            self.listeners.append(listener)
            return
        path = listener.path
        assert path is not None
        _remove_stale_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o077)   # never world-accessible before the chmod below
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        if listener.gid is not None:
            os.chown(path, -1, listener.gid)
        assert listener.perms is not None
        os.chmod(path, listener.perms)
        listener.server = await self.loop.create_unix_server(
            lambda: ClientSession(self, listener), sock=sock, backlog=backlog)
        self.listeners.append(listener)

    def request_stop(self) -> None:
        """Ask the daemon to shut down (any thread; signal handlers)."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._set_stop)

    def _set_stop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()

    async def serve(self) -> None:
        """Serve until stopped (or idle for ``--timeout`` seconds), then shut down."""
        assert self._stop_event is not None
        try:
            while not self._stop_event.is_set():
                try:
                    # once a second: the timeout may be set (virt-admin) while we wait
                    await asyncio.wait_for(self._stop_event.wait(), 1.0)
                except TimeoutError:
                    pass
                timeout = self.config.timeout
                if timeout and self._idle_for() >= timeout:
                    log.info("idle for %d s: exiting", timeout)
                    break
        finally:
            await self.stop()

    def _idle_for(self) -> float:
        if self.clients or self.main.pool.busy() or self._has_active_guests():
            self._idle_since = time.monotonic()
            return 0.0
        return time.monotonic() - self._idle_since

    def _has_active_guests(self) -> bool:
        for conn in list(self._holds.values()):
            try:
                if conn._drv.connectNumOfDomains(conn) > 0:
                    return True
            except Exception:  # noqa: BLE001 - a broken driver must not stop the timer
                continue
        return False

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        for listener in self.listeners:
            if listener.server is not None:
                listener.server.close()
        for client in list(self.clients):
            client.close(abort=True)
        for listener in self.listeners:
            if listener.path and not listener.inherited:
                try:
                    os.unlink(listener.path)
                except FileNotFoundError:
                    pass
        # Calls still running may finish (and connections close) for a while; one stuck
        # for good (a driver waiting on something that never comes) must not keep the
        # daemon from exiting: wait in a thread of our own, up to SHUTDOWN_WAIT.
        done = self.loop.create_future()

        def finish() -> None:
            try:
                self._shutdown_threads()
            finally:
                try:
                    self.loop.call_soon_threadsafe(_set_result, done)
                except RuntimeError:
                    pass

        threading.Thread(target=finish, name="pyvirtd-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(done, SHUTDOWN_WAIT)
        except TimeoutError:
            log.warning("calls still running after %d s; exiting without them", SHUTDOWN_WAIT)
        log.info("pyvirtd stopped")

    def _shutdown_threads(self) -> None:
        for server in self.servers.values():
            server.pool.shutdown()
        with self._holds_lock:
            holds, self._holds = list(self._holds.values()), {}
        for conn in holds:
            try:
                conn.close()
            except Exception:
                log.exception("closing %r", conn)
        if self._storage is not None:
            from pyvirt.drivers import storage

            storage.close_driver(self._storage)
            self._storage = None
        if self._network is not None:
            from pyvirt.drivers import network

            network.close_driver(self._network)
            self._network = None

    # ---- clients ------------------------------------------------------------------------------

    @property
    def clients(self) -> list[ClientSession]:
        """Every server's clients."""
        return [client for server in self.servers.values()
                for client in server.clients.values()]

    def accept_client(self, client: ClientSession) -> bool:
        if self._stopping:
            return False
        if not client.listener.admits(client.peer):
            log.warning("refusing peer %s on %s: socket permissions", client.peer,
                        client.listener.name)
            return False
        if client.admin and (client.peer is None or client.peer[1] != os.geteuid()):
            # libvirtd's admin server serves only the daemon's own user
            pid, uid = (client.peer[0], client.peer[1]) if client.peer else (-1, -1)
            log.warning("Disallowing client %d with uid %d", pid, uid)
            return False
        if not client.netserver.admit(client):
            return False
        self._idle_since = time.monotonic()
        return True

    def remove_client(self, client: ClientSession) -> None:
        client.netserver.forget(client)
        self._idle_since = time.monotonic()

    # ---- work -----------------------------------------------------------------------------

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire and forget ``fn(*args)`` on a worker (closing connections)."""
        if not self.main.pool.submit(lambda: fn(*args)):
            fn(*args)   # shutting down: do it here

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the event loop and return its result (from a worker thread: the
        sessions and servers are the loop's to change)."""
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                result.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return result.result()

    # ---- virt-admin's settings -----------------------------------------------------------------

    def set_idle_timeout(self, seconds: int) -> None:
        """virAdmConnectSetDaemonTimeout: exit after this long idle (0: never)."""
        self.config.timeout = seconds
        self._idle_since = time.monotonic()

    def reload_tls(self, server_name: str) -> None:
        """virAdmServerUpdateTlsFiles: new connections get the certificates on disk now."""
        listeners = [li for li in self.listeners
                     if li.tls and li.netserver.name == server_name]
        if not listeners:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        "no tls service found, unable to update tls files",
                        domain=c.VIR_FROM_RPC)
        from pyvirt.daemon.tls import server_context

        ctx = server_context(self.config)
        for listener in listeners:
            listener.tls_context = ctx

    # ---- driver connections --------------------------------------------------------------------

    def default_uri(self) -> str:
        return "qemu:///system" if os.geteuid() == 0 or self.config.root else "qemu:///session"

    def open_connection(self, name: str | None, readonly: bool) -> virConnect:
        """A driver connection for a client's CONNECT_OPEN (worker thread)."""
        from pyvirt.api.connect import virConnect
        from pyvirt.drivers.base import open_driver
        from pyvirt.uri import parse_uri

        text = name or self.default_uri()
        uri = parse_uri(text)
        if not uri.scheme or uri.host or uri.transport not in (None, "unix"):
            raise_error(c.VIR_ERR_NO_CONNECT, text, domain=c.VIR_FROM_NONE)
        if uri.is_embed:
            raise_error(c.VIR_ERR_NO_CONNECT, f"{text}: embedded drivers run in the "
                        "application's process, not in pyvirtd", domain=c.VIR_FROM_NONE)
        if uri.transport:
            uri = parse_uri(str(uri._replace(scheme=uri.driver)))
            text = str(uri)
        flags = c.VIR_CONNECT_RO if readonly else 0
        driver = open_driver(uri, None, flags)
        conn = virConnect(text, driver, readonly)
        if uri.driver in STATEFUL_DRIVERS:
            self._hold(text, uri)
        return conn

    def _hold(self, text: str, uri: Any) -> None:
        from pyvirt.api.connect import virConnect
        from pyvirt.drivers.base import open_driver

        with self._holds_lock:
            if text in self._holds or self._stopping:
                return
            self._holds[text] = virConnect(text, open_driver(uri, None, 0), False)


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _bound_path(sock: socket.socket) -> str:
    """A unix socket's bound path ("@name" for an abstract one)."""
    name = sock.getsockname()
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    return "@" + name[1:] if name.startswith("\0") else name


def _adopt_file_mode(listener: Listener) -> None:
    """Take an inherited socket's mode and group from its file (systemd's SocketMode=,
    SocketGroup=), so the peer check follows what the socket unit set."""
    assert listener.path is not None
    if listener.path.startswith("@"):
        return
    try:
        st = os.stat(listener.path)
    except OSError:
        return
    listener.perms = stat.S_IMODE(st.st_mode)
    listener.gid = st.st_gid


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a daemon that is gone; refuse if one still answers."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise_error(c.VIR_ERR_OPERATION_FAILED, f"{path} exists and is not a socket",
                    domain=c.VIR_FROM_RPC)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise_error(c.VIR_ERR_OPERATION_FAILED,
                f"another daemon is already listening on {path}", domain=c.VIR_FROM_RPC)
