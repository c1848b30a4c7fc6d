"""The ADMIN program: what virt-admin asks of pyvirtd on its admin socket.

libvirtd serves libvirt's admin protocol (src/admin/admin_protocol.x) on
``libvirt-admin-sock``, to the daemon's own user only; so does pyvirtd. The servers it
manages are pyvirt.daemon.netserver's ``libvirtd`` (the hypervisor sockets) and ``admin``.
Each handler takes the admin client's session and the decoded arguments and returns the
wire value; checks, error codes and texts are libvirtd's (src/admin/admin_server.c and
admin_server_dispatch.c, src/rpc/virnetserver.c).

The calls run on the admin server's worker threads; what they read or change of sessions
and servers is done on the event loop (:meth:`Daemon.on_loop`), where that state lives.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error
from pyvirt.rpc.typedparams import ARMS, BOOLEAN, INT, STRING, UINT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.daemon.client import ClientSession
    from pyvirt.daemon.netserver import NetServer

    Handler = Callable[[ClientSession, Any], Any]

# virClientTransport
TRANSPORT_UNIX, TRANSPORT_TCP, TRANSPORT_TLS = 0, 1, 2
_TYPE_NAMES = ("unknown", "int", "uint", "llong", "ullong", "double", "boolean", "string")


def _param(field: str, kind: int, value: Any) -> dict[str, Any]:
    return {"field": field, "value": {"type": kind, ARMS[kind]: value}}


def _uint_params(args: Any, allowed: tuple[str, ...]) -> dict[str, int]:
    """virTypedParamsValidate for UINT parameters, then their values by name."""
    records = sorted(args["params"], key=lambda r: r["field"].encode())
    keys = sorted(allowed, key=str.encode)
    i = j = 0
    last = None
    while i < len(records) and j < len(keys):
        field = records[i]["field"]
        if field != keys[j]:
            j += 1
            continue
        if field == last:
            raise_error(c.VIR_ERR_INVALID_ARG, f"parameter '{field}' occurs multiple times")
        kind = records[i]["value"]["type"]
        if kind != UINT:
            bad = _TYPE_NAMES[kind] if 0 < kind < len(_TYPE_NAMES) else _TYPE_NAMES[0]
            raise_error(c.VIR_ERR_INVALID_ARG, f"invalid type '{bad}' for parameter "
                        f"'{field}', expected 'uint'")
        last = field
        i += 1
    if j == len(keys) and i != len(records):
        raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                    f"parameter '{records[i]['field']}' not supported")
    return {r["field"]: r["value"]["ui"] for r in records}


def _server(s: ClientSession, name: str, wording: str | None = None) -> NetServer:
    """The server by name; libvirtd words the failure two ways depending on the call."""
    server = s.daemon.servers.get(name)
    if server is None:
        if wording == "matching":
            raise_error(c.VIR_ERR_NO_SERVER, f"no server with matching name '{name}' found",
                        domain=c.VIR_FROM_ADMIN)
        raise_error(c.VIR_ERR_NO_SERVER, f"No server named '{name}'", domain=c.VIR_FROM_RPC)
    return server


def _client_wire(server: NetServer, client: ClientSession) -> dict[str, Any]:
    return {"srv": {"name": server.name}, "id": client.id,
            "timestamp": client.connected_at, "transport": transport_of(client)}


def transport_of(client: ClientSession) -> int:
    listener = client.listener
    if listener.path is not None:
        return TRANSPORT_UNIX
    return TRANSPORT_TLS if listener.tls else TRANSPORT_TCP


# ---- handlers ---------------------------------------------------------------------------


def _connect_open(s: ClientSession, args: Any) -> Any:
    check_flags("adminDispatchConnectOpen", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.admin_open = True
    return None


def _connect_close(s: ClientSession, args: Any) -> Any:
    s.daemon.on_loop(s.close_after_reply)
    return None


def _lib_version(s: ClientSession, args: Any) -> Any:
    return {"libVer": c.LIBVIR_VERSION_NUMBER}


def _list_servers(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectListServers", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    names = list(s.daemon.servers)
    servers = [{"name": name} for name in names] if args["need_results"] else []
    return {"servers": servers, "ret": len(names)}


def _lookup_server(s: ClientSession, args: Any) -> Any:
    # libvirt checks this call's flags against themselves: any value passes
    return {"srv": {"name": _server(s, args["name"]).name}}


def _threadpool_get(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"])
    check_flags("adminServerGetThreadPoolParameters", args["flags"], 0,
                domain=c.VIR_FROM_ADMIN)
    pool = server.pool
    figures = (("minWorkers", pool.min_workers), ("maxWorkers", pool.max_workers),
               ("nWorkers", pool.current_workers), ("freeWorkers", pool.free_workers),
               ("prioWorkers", pool.priority_workers), ("jobQueueDepth", pool.queue_depth))
    return {"params": [_param(name, UINT, value) for name, value in figures]}


def _threadpool_set(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"], "matching")
    values = _uint_params(args, ("minWorkers", "maxWorkers", "prioWorkers"))
    check_flags("adminServerSetThreadPoolParameters", args["flags"], 0,
                domain=c.VIR_FROM_ADMIN)
    server.pool.set_limits(values.get("minWorkers"), values.get("maxWorkers"),
                           values.get("prioWorkers"))
    return None


def _list_clients(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"])
    check_flags("adminServerListClients", args["flags"], 0, domain=c.VIR_FROM_ADMIN)

    def collect() -> list[dict[str, Any]]:
        return [_client_wire(server, client) for client in server.clients.values()]

    clients = s.daemon.on_loop(collect)
    return {"clients": clients if args["need_results"] else [], "ret": len(clients)}


def _lookup_client(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"])
    check_flags("adminServerLookupClient", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    return {"clnt": s.daemon.on_loop(
        lambda: _client_wire(server, server.lookup_client(args["id"])))}


def _client_info(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["clnt"]["srv"]["name"], "matching")
    client_id = args["clnt"]["id"]

    def gather() -> list[dict[str, Any]]:
        client = server.clients.get(client_id)
        if client is None:
            raise_error(c.VIR_ERR_NO_CLIENT, f"no client with matching id '{client_id}' found",
                        domain=c.VIR_FROM_ADMIN)
        assert client is not None
        check_flags("adminClientGetInfo", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
        return client_info(client)

    return {"params": s.daemon.on_loop(gather)}


def client_info(client: ClientSession) -> list[dict[str, Any]]:
    """virAdmClientGetInfo's parameters, in libvirtd's order."""
    import grp
    import pwd

    params = [_param("readonly", BOOLEAN, int(client.readonly))]
    if client.sasl_username is not None:
        params.append(_param("sasl_user_name", STRING, client.sasl_username))
    if client.listener.path is None:
        params.append(_param("sock_addr", STRING, client.peer_address))
        if client.x509_dname is not None:
            params.append(_param("tls_x509_dname", STRING, client.x509_dname))
    elif client.peer is not None:
        pid, uid, gid = client.peer
        params.append(_param("unix_user_id", INT, uid))
        try:
            params.append(_param("unix_user_name", STRING, pwd.getpwuid(uid).pw_name))
        except KeyError:
            pass
        params.append(_param("unix_group_id", INT, gid))
        try:
            params.append(_param("unix_group_name", STRING, grp.getgrgid(gid).gr_name))
        except KeyError:
            pass
        params.append(_param("unix_process_id", INT, pid))
    return params


def _client_close(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["clnt"]["srv"]["name"])

    def close() -> None:
        client = server.lookup_client(args["clnt"]["id"])
        check_flags("adminClientClose", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
        if client is s:
            client.close_after_reply()
        else:
            client.close()

    s.daemon.on_loop(close)
    return None


def _client_limits_get(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"])
    check_flags("adminServerGetClientLimits", args["flags"], 0, domain=c.VIR_FROM_ADMIN)

    def figures() -> list[dict[str, Any]]:
        return [_param(name, UINT, value) for name, value in (
            ("nclients_max", server.max_clients), ("nclients", len(server.clients)),
            ("nclients_unauth_max", server.max_unauth_clients),
            ("nclients_unauth", server.unauth_clients()))]

    return {"params": s.daemon.on_loop(figures)}


def _client_limits_set(s: ClientSession, args: Any) -> Any:
    server = _server(s, args["srv"]["name"], "matching")
    values = _uint_params(args, ("nclients_max", "nclients_unauth_max"))
    check_flags("adminServerSetClientLimits", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.daemon.on_loop(lambda: server.set_client_limits(values.get("nclients_max"),
                                                      values.get("nclients_unauth_max")))
    return None


def _log_outputs_get(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectGetLoggingOutputs", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    logs = s.daemon.log_settings
    return {"outputs": logs.outputs_text(), "noutputs": len(logs.outputs)}


def _log_filters_get(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectGetLoggingFilters", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    logs = s.daemon.log_settings
    return {"filters": logs.filters_text() or None, "nfilters": len(logs.filters)}


def _log_outputs_set(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectSetLoggingOutputs", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.daemon.log_settings.set_outputs(args["outputs"])
    return None


def _log_filters_set(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectSetLoggingFilters", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.daemon.log_settings.set_filters(args["filters"])
    return None


def _update_tls(s: ClientSession, args: Any) -> Any:
    _server(s, args["srv"]["name"])
    check_flags("adminServerUpdateTlsFiles", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.daemon.reload_tls(args["srv"]["name"])
    return None


def _daemon_timeout(s: ClientSession, args: Any) -> Any:
    check_flags("adminConnectSetDaemonTimeout", args["flags"], 0, domain=c.VIR_FROM_ADMIN)
    s.daemon.set_idle_timeout(args["timeout"])
    return None


HANDLERS: dict[str, Handler] = {
    "CONNECT_OPEN": _connect_open,
    "CONNECT_CLOSE": _connect_close,
    "CONNECT_GET_LIB_VERSION": _lib_version,
    "CONNECT_LIST_SERVERS": _list_servers,
    "CONNECT_LOOKUP_SERVER": _lookup_server,
    "SERVER_GET_THREADPOOL_PARAMETERS": _threadpool_get,
    "SERVER_SET_THREADPOOL_PARAMETERS": _threadpool_set,
    "SERVER_LIST_CLIENTS": _list_clients,
    "SERVER_LOOKUP_CLIENT": _lookup_client,
    "CLIENT_GET_INFO": _client_info,
    "CLIENT_CLOSE": _client_close,
    "SERVER_GET_CLIENT_LIMITS": _client_limits_get,
    "SERVER_SET_CLIENT_LIMITS": _client_limits_set,
    "CONNECT_GET_LOGGING_OUTPUTS": _log_outputs_get,
    "CONNECT_GET_LOGGING_FILTERS": _log_filters_get,
    "CONNECT_SET_LOGGING_OUTPUTS": _log_outputs_set,
    "CONNECT_SET_LOGGING_FILTERS": _log_filters_set,
    "SERVER_UPDATE_TLS_FILES": _update_tls,
    "CONNECT_SET_DAEMON_TIMEOUT": _daemon_timeout,
}
