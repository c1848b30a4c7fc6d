"""RemoteDriver: a pyvirt driver whose every entry point is a call to a daemon.

Opening follows libvirt's doRemoteOpen: dial the transport, AUTH_LIST (then AUTH_POLKIT, or
the SASL exchange of pyvirt.drivers.remote.auth, when the server asks for it), the
PROGRAM_KEEPALIVE feature probe when the process has an event loop implementation ("async
I/O": then a background thread watches the connection for events and keepalive),
CONNECT_OPEN with the URI minus transport, host and client-only parameters, then the
REMOTE_EVENT_CALLBACK and REMOTE_CLOSE_CALLBACK probes. Closing sends
CONNECT_CLOSE.

Entry points come from :mod:`pyvirt.drivers.remote.stubs`, built from the protocol table on
first use and kept on the class. What is implemented here is what is not one procedure:
connection state answered locally (URI, liveness, keepalive), event registration (local
callbacks tied to server-side registrations, shared per event/object filter as in libvirt's
remote driver), the close callback, and opening streams.
"""

from __future__ import annotations

import _thread
import os

from pyvirt import constants as c
from pyvirt.drivers.base import Driver
from pyvirt.drivers.remote import connection as rc
from pyvirt.drivers.remote import dialers, stubs
from pyvirt.drivers.remote import events as ev
from pyvirt.errors import libvirtError, raise_error
from pyvirt.events.state import EventState
from pyvirt.rpc import handles
from pyvirt.rpc import message as m
from pyvirt.rpc.protocol import program

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.rpc.protocol import Procedure
    from pyvirt.uri import ConnectURI

# virDrvFeature (src/libvirt_internal.h)
FEATURE_TYPED_PARAM_STRING = 9
FEATURE_PROGRAM_KEEPALIVE = 10
FEATURE_REMOTE_EVENT_CALLBACK = 14
FEATURE_REMOTE_CLOSE_CALLBACK = 15

# What keepalive uses once started without explicit settings (libvirt's daemon defaults).
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 5

_REMOTE = program("REMOTE")
assert _REMOTE is not None


def _proc(name: str) -> Procedure:
    assert _REMOTE is not None
    return _REMOTE.procedure(name)


_AUTH_LIST = _proc("AUTH_LIST")
_AUTH_POLKIT = _proc("AUTH_POLKIT")
_CONNECT_OPEN = _proc("CONNECT_OPEN")
_CONNECT_CLOSE = _proc("CONNECT_CLOSE")
_SUPPORTS_FEATURE = _proc("CONNECT_SUPPORTS_FEATURE")

_AUTH_NONE, _AUTH_SASL, _AUTH_POLKIT_TYPE = 0, 1, 2


class RemoteDriver(Driver):
    """One connection to a daemon (libvirt's remote driver ``private_data``)."""

    name = "remote"
    error_domain = c.VIR_FROM_REMOTE

    def __init__(self, uri: ConnectURI, conn: rc.Connection, readonly: bool) -> None:
        self._uri = uri
        self._conn = conn
        self._readonly = readonly
        self.events = EventState()
        self._lock = _thread.allocate_lock()
        self.server_keepalive = False
        self.server_event_filter = False
        self.server_close_callback = False
        # (family, event ID, object key) -> [server callback ID, local callbacks using it]
        self._server_regs: dict[tuple[str, int, str | None], list[int]] = {}
        # local callback ID -> (family, event ID, object key)
        self._local: dict[int, tuple[str, int, str | None]] = {}
        # old-style lifecycle registrations: (connection, callback, local callback ID)
        self._legacy: list[tuple[Any, Callable[..., Any], int]] = []
        self._close_cb: tuple[Any, Callable[..., Any], Any] | None = None
        conn.on_event = self._on_event
        conn.on_close = self._on_close

    def __repr__(self) -> str:
        return f"<RemoteDriver {self._uri} {self._conn.state}>"

    # ---- stubs -----------------------------------------------------------------------

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        stub = stubs.build(method)
        if stub is None:
            return super().__getattr__(method)
        # Kept on the class: the next lookup is an ordinary method lookup.
        setattr(RemoteDriver, method, stub)
        return getattr(self, method)  # type: ignore[no-any-return]

    def supports(self, method: str) -> bool:
        return super().supports(method) or stubs.build(method) is not None

    def _rpc(self, proc_name: str, args: Any = None) -> Any:
        """Call a REMOTE procedure by name with a ready ``_args`` value; its ``_ret``."""
        return self._conn.call(_proc(proc_name), args)

    def _raw(self, method: str, *pyargs: Any) -> Any:
        """The undecoded ``_ret`` of a table stub (setters read their getter's types)."""
        plan = stubs.Plan(method, *_plan_parts(method))
        if plan.adapt is not None:
            ret = stubs._call_counted(self, plan, plan.args(pyargs), pyargs)
            return None if ret is stubs._NO_PARAMS else ret
        return self._conn.call(plan.proc, plan.args(pyargs))

    def _supports_feature(self, feature: int) -> bool:
        ret = self._conn.call(_SUPPORTS_FEATURE, {"feature": feature})
        return bool(ret["supported"])

    def _probe(self, feature: int) -> bool:
        """remoteConnectSupportsFeatureUnlocked: any failure means no."""
        try:
            return self._supports_feature(feature)
        except libvirtError:
            return False

    # ---- opening and closing -----------------------------------------------------------

    def _authenticate(self, authtype: str | None, auth: Any = None) -> None:
        """remoteAuthenticate: AUTH_LIST, then the first offered type (or ``?auth=``);
        SASL asks ``auth`` (openAuth's list) for what auth.conf does not give."""
        try:
            types = self._conn.call(_AUTH_LIST)["types"]
        except libvirtError as exc:
            if exc.get_error_code() == c.VIR_ERR_NO_SUPPORT:
                return  # an old server without the procedure
            raise
        if not types:
            return
        if authtype:
            lowered = authtype.lower()
            if lowered == "sasl" or lowered.startswith("sasl."):
                want = _AUTH_SASL
            elif lowered == "polkit":
                want = _AUTH_POLKIT_TYPE
            else:
                raise_error(c.VIR_ERR_AUTH_FAILED, f"unknown authentication type {authtype}",
                            domain=c.VIR_FROM_REMOTE)
            if want not in types:
                raise_error(c.VIR_ERR_AUTH_FAILED,
                            f"requested authentication type {authtype} rejected",
                            domain=c.VIR_FROM_REMOTE)
            kind = want
        else:
            kind = types[0]
        if kind == _AUTH_NONE:
            return
        if kind == _AUTH_POLKIT_TYPE:
            self._conn.call(_AUTH_POLKIT)
            return
        if kind == _AUTH_SASL:
            from pyvirt.drivers.remote import auth as sasl_auth

            wantmech = authtype[5:] if authtype and authtype.lower().startswith("sasl.") \
                else None
            sasl_auth.authenticate(self._conn.call, auth, hostname=self._uri.host,
                                   secure=self._conn.channel.secure,
                                   params=self._uri.client_params(), wantmech=wantmech)
            # libvirt counts any SASL session as encryption (virNetClientIsEncrypted)
            self._conn.channel.encrypted = True
            return
        raise_error(c.VIR_ERR_AUTH_FAILED, f"unsupported authentication type {types[0]}",
                    domain=c.VIR_FROM_REMOTE)

    def _open(self, name: str, rflags: int, authtype: str | None, auth: Any = None) -> None:
        self._authenticate(authtype, auth)
        if self._conn.background:
            self.server_keepalive = self._probe(FEATURE_PROGRAM_KEEPALIVE)
        self._conn.call(_CONNECT_OPEN, {"name": name, "flags": rflags})
        self.server_event_filter = self._probe(FEATURE_REMOTE_EVENT_CALLBACK)
        self.server_close_callback = self._probe(FEATURE_REMOTE_CLOSE_CALLBACK)
        if self.server_keepalive:
            self._conn.keepalive.start(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        try:
            if self._conn.is_open():
                self._conn.call(_CONNECT_CLOSE)
        except libvirtError:
            pass  # virConnectClose never fails; the connection goes anyway
        finally:
            self._close_cb = None
            self._conn.close()
            self.events.close()

    # ---- answered locally --------------------------------------------------------------

    def connectGetURI(self, conn: virConnect) -> str:  # noqa: N802
        return str(self._uri)

    def connectIsAlive(self, conn: virConnect) -> int:  # noqa: N802
        return 1 if self._conn.is_open() else 0

    def connectIsSecure(self, conn: virConnect) -> int:  # noqa: N802
        ret = self._rpc("CONNECT_IS_SECURE")
        return 1 if self._conn.channel.secure and ret["secure"] else 0

    def connectIsEncrypted(self, conn: virConnect) -> int:  # noqa: N802
        ret = self._rpc("CONNECT_IS_SECURE")
        return 1 if self._conn.channel.encrypted and ret["secure"] else 0

    def connectSetKeepAlive(self, conn: virConnect, interval: int,  # noqa: N802
                            count: int) -> int:
        if not self._conn.background:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        "the caller doesn't support keepalive protocol; perhaps it's "
                        "missing event loop implementation", domain=c.VIR_FROM_REMOTE)
        if not self.server_keepalive:
            return 1
        if interval > 0:
            self._conn.keepalive.start(interval, count)
        else:
            self._conn.keepalive.stop()
        return 0

    # ---- close callback --------------------------------------------------------------

    def connectRegisterCloseCallback(self, conn: virConnect,  # noqa: N802
                                     cb: Callable[..., Any], opaque: Any) -> int:
        if self._close_cb is not None:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "A close callback is already registered",
                        domain=c.VIR_FROM_REMOTE)
        if self.server_close_callback:
            self._rpc("CONNECT_REGISTER_CLOSE_CALLBACK")
        self._close_cb = (conn, cb, opaque)
        return 0

    def connectUnregisterCloseCallback(self, conn: virConnect) -> int:  # noqa: N802
        if self._close_cb is None:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "A different callback was requested",
                        domain=c.VIR_FROM_REMOTE)
        if self.server_close_callback:
            self._rpc("CONNECT_UNREGISTER_CLOSE_CALLBACK")
        self._close_cb = None
        return 0

    def _on_close(self, reason: int, error: libvirtError | None) -> None:
        """The channel died (I/O thread): tell the close callback, as libvirt does."""
        registered = self._close_cb
        if registered is not None:
            conn, cb, opaque = registered
            cb(conn, reason, opaque)

    # ---- events ------------------------------------------------------------------------

    def _on_event(self, msg: m.Message) -> None:
        """An event MESSAGE (I/O thread): into the event state, tied to its registration."""
        from pyvirt.rpc.protocol import lookup

        proc = lookup(msg.prog, msg.proc)
        if proc is None or not proc.is_event:
            return
        body = proc.decode_msg(msg.payload)
        if proc.name == ev.CONNECTION_CLOSED:
            self._on_close(body["reason"], None)
            return
        decoded = ev.decode(proc.name, body)
        if decoded is not None:
            remote_id, event = decoded
            self.events.queue(event, remote_id)

    def _register(self, conn: virConnect, family: str, obj: Any, event_id: int,
                  cb: Callable[..., Any], opaque: Any, legacy: bool = False) -> int:
        """Register a local callback, and on the server unless a registration for the same
        event and object filter exists (remoteConnect*EventRegisterAny)."""
        key = None if obj is None else _event_key(family, obj)
        callback_id = self.events.register(conn, family, event_id, key, cb, opaque, legacy)
        slot = (family, event_id, key)
        with self._lock:
            if callback_id in self._local:
                return callback_id  # the old-style API registering a callback again
        try:
            with self._lock:
                existing = self._server_regs.get(slot)
                if existing is not None:
                    existing[1] += 1
                    remote_id = existing[0]
            if existing is None:
                remote_id = self._server_register(family, obj, event_id)
                with self._lock:
                    self._server_regs[slot] = [remote_id, 1]
        except BaseException:
            if legacy:
                self.events.deregister_legacy(conn, cb)
            else:
                self.events.deregister(conn, callback_id)
            raise
        self.events.set_remote(conn, callback_id, remote_id)
        with self._lock:
            self._local[callback_id] = slot
        self._conn.start_background()
        return callback_id

    def _server_register(self, family: str, obj: Any, event_id: int) -> int:
        if not self.server_event_filter:
            if family != "domain":
                raise_error(c.VIR_ERR_NO_SUPPORT, f"{family} events",
                            domain=c.VIR_FROM_REMOTE)
            self._rpc("CONNECT_DOMAIN_EVENT_REGISTER_ANY", {"eventID": event_id})
            return -1
        register, _, field = ev.REGISTER_PROCS[family]
        ret = self._rpc(register, {"eventID": event_id,
                                   field: None if obj is None else handles.to_wire(obj)})
        return int(ret["callbackID"])

    def _deregister(self, conn: virConnect, callback_id: int,
                    legacy_cb: Callable[..., Any] | None = None) -> int:
        with self._lock:
            slot = self._local.pop(callback_id, None)
        if legacy_cb is not None:
            self.events.deregister_legacy(conn, legacy_cb)
        else:
            self.events.deregister(conn, callback_id)
        if slot is None:
            return 0
        with self._lock:
            entry = self._server_regs.get(slot)
            if entry is None:
                return 0
            entry[1] -= 1
            if entry[1] > 0:
                return 0
            del self._server_regs[slot]
        family, event_id, _ = slot
        remote_id = entry[0]
        if not self.server_event_filter:
            self._rpc("CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", {"eventID": event_id})
        else:
            self._rpc(ev.REGISTER_PROCS[family][1], {"callbackID": remote_id})
        return 0

    def connectDomainEventRegisterAny(self, conn: virConnect, dom: Any,  # noqa: N802
                                      event_id: int, cb: Callable[..., Any],
                                      opaque: Any) -> int:
        return self._register(conn, "domain", dom, event_id, cb, opaque)

    def connectDomainEventDeregisterAny(self, conn: virConnect,  # noqa: N802
                                        callback_id: int) -> int:
        return self._deregister(conn, callback_id)

    def connectDomainEventRegister(self, conn: virConnect, cb: Callable[..., Any],  # noqa: N802
                                   opaque: Any) -> int:
        """The old lifecycle-only registration (a second one of the same callback only
        replaces its opaque, as the event state does)."""
        callback_id = self._register(conn, "domain", None, c.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                     cb, opaque, legacy=True)
        with self._lock:
            if not any(entry[2] == callback_id for entry in self._legacy):
                self._legacy.append((conn, cb, callback_id))
        return 0

    def connectDomainEventDeregister(self, conn: virConnect,  # noqa: N802
                                     cb: Callable[..., Any]) -> int:
        with self._lock:
            found = [entry for entry in self._legacy if entry[0] is conn and entry[1] == cb]
            for entry in found:
                self._legacy.remove(entry)
        if found:
            return self._deregister(conn, found[0][2], legacy_cb=cb)
        self.events.deregister_legacy(conn, cb)   # libvirt-python's errors for unknown ones
        return 0

    def connectNetworkEventRegisterAny(self, conn: virConnect, net: Any,  # noqa: N802
                                       event_id: int, cb: Callable[..., Any],
                                       opaque: Any) -> int:
        return self._register(conn, "network", net, event_id, cb, opaque)

    def connectNetworkEventDeregisterAny(self, conn: virConnect,  # noqa: N802
                                         callback_id: int) -> int:
        return self._deregister(conn, callback_id)

    def connectStoragePoolEventRegisterAny(self, conn: virConnect, pool: Any,  # noqa: N802
                                           event_id: int, cb: Callable[..., Any],
                                           opaque: Any) -> int:
        return self._register(conn, "storage_pool", pool, event_id, cb, opaque)

    def connectStoragePoolEventDeregisterAny(self, conn: virConnect,  # noqa: N802
                                             callback_id: int) -> int:
        return self._deregister(conn, callback_id)

    def connectNodeDeviceEventRegisterAny(self, conn: virConnect, dev: Any,  # noqa: N802
                                          event_id: int, cb: Callable[..., Any],
                                          opaque: Any) -> int:
        return self._register(conn, "node_device", dev, event_id, cb, opaque)

    def connectNodeDeviceEventDeregisterAny(self, conn: virConnect,  # noqa: N802
                                            callback_id: int) -> int:
        return self._deregister(conn, callback_id)

    def connectSecretEventRegisterAny(self, conn: virConnect, secret: Any,  # noqa: N802
                                      event_id: int, cb: Callable[..., Any],
                                      opaque: Any) -> int:
        return self._register(conn, "secret", secret, event_id, cb, opaque)

    def connectSecretEventDeregisterAny(self, conn: virConnect,  # noqa: N802
                                        callback_id: int) -> int:
        return self._deregister(conn, callback_id)

    # ---- streams -----------------------------------------------------------------------

    def _open_stream(self, plan: stubs.Plan, pyargs: tuple[Any, ...], stream: Any) -> Any:
        """Send a stream-opening call with the stream registered under its serial; on
        success the virStream's data calls go to a RemoteStream."""
        from pyvirt.drivers.remote.streams import RemoteStream

        proc = plan.proc
        backend = RemoteStream(self._conn, proc.program.number, proc.program.version,
                               proc.number,
                               nonblock=bool(stream._flags & c.VIR_STREAM_NONBLOCK))
        try:
            ret = self._conn.call(proc, plan.args(pyargs), stream=backend)
        except BaseException:
            self._conn.remove_stream(backend.serial)
            raise
        stream._attach(backend)
        return plan.result(getattr(pyargs[0], "_conn", pyargs[0]), ret)


def _event_key(family: str, obj: Any) -> str:
    """libvirt's event key: the UUID, or a node device's name."""
    if family == "node_device":
        return str(obj._name)
    return str(obj.UUIDString())


def _plan_parts(method: str) -> tuple[Procedure, stubs.Adapt | None]:
    adapt = stubs.ADAPT.get(method)
    proc = stubs.procedure_for(method, adapt)
    if proc is None:
        raise AttributeError(method)
    return proc, adapt


def remote_flags(uri: ConnectURI, readonly: bool) -> int:
    """remoteGetURIDaemonInfo + the read-only bit: CONNECT_OPEN's flags."""
    flags = 0
    if (uri.path == "/session" or uri.scheme.startswith("test+")) and os.geteuid() > 0:
        flags |= dialers.OPEN_USER
        if uri.host is None and (uri.transport or "unix") == "unix" \
                and os.environ.get("LIBVIRT_AUTOSTART", "") != "0":
            flags |= dialers.OPEN_AUTOSTART
    if readonly:
        flags |= dialers.OPEN_RO
    return flags


def open_remote(uri: ConnectURI, auth: Any, flags: int,
                dialer: dialers.Dialer | None = None) -> RemoteDriver:
    """virConnectOpen through the remote driver (remoteConnectOpen + doRemoteOpen);
    ``dialer`` replaces the one the URI names (pyvirtd's own socket for a local URI)."""
    from pyvirt.config import load_client_config
    from pyvirt.events import loop
    from pyvirt.uri import split_scheme

    _, transport = split_scheme(uri)
    readonly = bool(flags & c.VIR_CONNECT_RO)
    rflags = remote_flags(uri, readonly)
    config = load_client_config()
    if dialer is None:
        dialer = dialers.dialer_for(uri, transport, rflags, config.get_string)
    conn = rc.Connection()
    conn.connect(dialer)
    driver = RemoteDriver(uri, conn, readonly)
    try:
        if loop.is_registered():
            conn.start_background()
        driver._open(uri.remote_name(), rflags, uri.client_params().get("auth"), auth)
    except BaseException:
        conn.close()
        raise
    return driver
