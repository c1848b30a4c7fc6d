"""pyvirtd's admin server at the protocol level: the captured virt-admin session, which
program each socket serves, who may connect, and what each admin call reads or changes in
the running daemon (clients, worker pools, client limits, TLS files, idle timeout, logging).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from pki import make_ca, make_client
from pyvirt import constants as c
from pyvirt.daemon.netserver import ADMIN_SERVER, MAIN_SERVER
from pyvirt.rpc import message as m
from unit.daemon.support import VECTORS, InProcessDaemon, Pyvirtd, RawClient, error_of, wait_until

ADMIN = "ADMIN"


def admin_path(d: InProcessDaemon | Pyvirtd) -> str:
    if isinstance(d, Pyvirtd):
        return d.admin
    return d.config.admin_socket_path()


def _error(msg: m.Message) -> tuple[int, int, str]:
    err = error_of(msg)
    return err["code"], err["domain"], err["message"]


def _uints(ret: dict[str, Any]) -> dict[str, int]:
    return {p["field"]: p["value"]["ui"] for p in ret["params"]}


def _params(ret: dict[str, Any]) -> dict[str, Any]:
    return {p["field"]: next(v for k, v in p["value"].items() if k != "type")
            for p in ret["params"]}


def _uint_param(field: str, value: int) -> dict[str, Any]:
    return {"field": field, "value": {"type": 2, "ui": value}}


def test_captured_virt_admin_session_replays_byte_for_byte(daemon: InProcessDaemon) -> None:
    records = [json.loads(line) for line in
               (VECTORS / "admin_session.jsonl").read_text().splitlines() if line.strip()]
    with RawClient(admin_path(daemon)) as client:
        for rec in records:
            frame = bytes.fromhex(rec["hex"])
            if rec["dir"] == "c2s":
                client.send(frame)
            else:
                got = client.recv()
                assert m.encode_frame(got.prog, got.vers, got.proc, got.type, got.serial,
                                      got.status, got.payload) == frame, rec["decoded"]
        assert client.closed_by_peer()   # CONNECT_CLOSE: the daemon hangs up after the reply


def test_each_socket_serves_its_own_program(daemon: InProcessDaemon) -> None:
    with RawClient(admin_path(daemon)) as client:
        reply = client.call("CONNECT_OPEN", {"name": None, "flags": 0})
        assert _error(reply) == (c.VIR_ERR_RPC, c.VIR_FROM_RPC,
                                 "Cannot find program 536903814 version 1")
        assert client.result("CONNECT_OPEN", {"flags": 0}, prog=ADMIN) is None
    with RawClient(daemon.rw) as client:
        reply = client.call("CONNECT_GET_LIB_VERSION", prog=ADMIN)
        assert _error(reply) == (c.VIR_ERR_RPC, c.VIR_FROM_RPC,
                                 "Cannot find program 110102160 version 1")
        client.open()   # and the hypervisor program still answers on the same connection


def _served_as(uid: int, path: str) -> str:
    """Connect to ``path`` from a child process running as ``uid``: what it reads first."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: no Python-level cleanup, just the probe
        try:
            os.close(read)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(path)
                os.write(write, repr(sock.recv(10)).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write, repr(exc).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return text


def test_only_the_daemons_user_may_use_the_admin_socket(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    sockets = Path(tempfile.mkdtemp(prefix="pyvirt-admin-"))
    try:
        sockets.chmod(0o755)
        with InProcessDaemon(tmp_path, unix_sock_dir=str(sockets),
                             unix_sock_admin_perms="0777") as d:
            assert _served_as(65534, admin_path(d)) == "b''"   # accepted, closed at once
            with RawClient(admin_path(d)) as client:          # the daemon's user is served
                assert client.result("CONNECT_GET_LIB_VERSION", prog=ADMIN) == {
                    "libVer": c.LIBVIR_VERSION_NUMBER}
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def test_servers_clients_info_and_disconnect(daemon: InProcessDaemon) -> None:
    with RawClient(admin_path(daemon)) as admin, RawClient(daemon.ro) as guest:
        guest.open()
        assert admin.result("CONNECT_LIST_SERVERS", {"need_results": 1, "flags": 0},
                            prog=ADMIN) == {"servers": [{"name": MAIN_SERVER},
                                                        {"name": ADMIN_SERVER}], "ret": 2}
        assert admin.result("CONNECT_LIST_SERVERS", {"need_results": 0, "flags": 0},
                            prog=ADMIN) == {"servers": [], "ret": 2}
        srv = {"name": MAIN_SERVER}
        listed = admin.result("SERVER_LIST_CLIENTS", {"srv": srv, "need_results": 1,
                                                      "flags": 0}, prog=ADMIN)
        [entry] = listed["clients"]
        assert entry["srv"] == srv and entry["transport"] == 0   # unix
        assert abs(entry["timestamp"] - time.time()) < 30
        found = admin.result("SERVER_LOOKUP_CLIENT", {"srv": srv, "id": entry["id"],
                                                      "flags": 0}, prog=ADMIN)
        assert found == {"clnt": entry}
        info = _params(admin.result("CLIENT_GET_INFO", {"clnt": entry, "flags": 0},
                                    prog=ADMIN))
        assert info["readonly"] == 1
        assert info["unix_user_id"] == os.geteuid() and info["unix_process_id"] == os.getpid()
        assert list(info)[:2] == ["readonly", "unix_user_id"]
        missing = dict(entry, id=999)
        assert _error(admin.call("CLIENT_GET_INFO", {"clnt": missing, "flags": 0},
                                 prog=ADMIN)) == (
            c.VIR_ERR_NO_CLIENT, c.VIR_FROM_ADMIN,
            "Client not found: no client with matching id '999' found")
        assert _error(admin.call("CLIENT_CLOSE", {"clnt": missing, "flags": 0},
                                 prog=ADMIN)) == (
            c.VIR_ERR_NO_CLIENT, c.VIR_FROM_RPC,
            "Client not found: No client with matching ID '999'")
        assert _error(admin.call("SERVER_LIST_CLIENTS", {"srv": {"name": "nope"},
                                                         "need_results": 1, "flags": 0},
                                 prog=ADMIN)) == (
            c.VIR_ERR_NO_SERVER, c.VIR_FROM_RPC, "Server not found: No server named 'nope'")
        assert admin.result("CLIENT_CLOSE", {"clnt": entry, "flags": 0}, prog=ADMIN) is None
        assert guest.closed_by_peer()
        assert admin.result("SERVER_LIST_CLIENTS", {"srv": srv, "need_results": 1,
                                                    "flags": 0}, prog=ADMIN)["ret"] == 0


def test_threadpool_parameters_resize_the_pool(daemon: InProcessDaemon) -> None:
    assert daemon.daemon is not None
    pool = daemon.daemon.servers[MAIN_SERVER].pool
    srv = {"name": MAIN_SERVER}
    with RawClient(admin_path(daemon)) as admin:
        def figures() -> dict[str, int]:
            return _uints(admin.result("SERVER_GET_THREADPOOL_PARAMETERS",
                                       {"srv": srv, "flags": 0}, prog=ADMIN))

        first = figures()
        assert (first["minWorkers"], first["maxWorkers"], first["prioWorkers"]) == (5, 20, 5)
        assert first["nWorkers"] == 5 and first["jobQueueDepth"] == 0
        admin.result("SERVER_SET_THREADPOOL_PARAMETERS", {"srv": srv, "params": [
            _uint_param("maxWorkers", 2), _uint_param("minWorkers", 1),
            _uint_param("prioWorkers", 1)], "flags": 0}, prog=ADMIN)
        # surplus threads end once idle
        assert wait_until(lambda: (pool.current_workers, pool.priority_workers) == (2, 1))
        now = figures()
        assert (now["minWorkers"], now["maxWorkers"], now["nWorkers"],
                now["prioWorkers"]) == (1, 2, 2, 1)
        admin.result("SERVER_SET_THREADPOOL_PARAMETERS", {"srv": srv, "params": [
            _uint_param("maxWorkers", 8), _uint_param("minWorkers", 6)], "flags": 0},
            prog=ADMIN)
        assert figures()["nWorkers"] == 6           # raising the minimum starts threads
        for params, want in (
                ([_uint_param("minWorkers", 9)], (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE,
                 "invalid argument: minWorkers cannot be larger than maxWorkers")),
                ([_uint_param("maxWorkers", 0), _uint_param("minWorkers", 0)],
                 (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE,
                 "invalid argument: maxWorkers must not be switched from zero to non-zero "
                 "and vice versa")),
                ([_uint_param("bogus", 1)], (c.VIR_ERR_ARGUMENT_UNSUPPORTED, c.VIR_FROM_NONE,
                 "argument unsupported: parameter 'bogus' not supported")),
                ([{"field": "maxWorkers", "value": {"type": 1, "i": 3}}],
                 (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE, "invalid argument: invalid type "
                  "'int' for parameter 'maxWorkers', expected 'uint'")),
                ([_uint_param("maxWorkers", 3), _uint_param("maxWorkers", 4)],
                 (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE,
                  "invalid argument: parameter 'maxWorkers' occurs multiple times"))):
            reply = admin.call("SERVER_SET_THREADPOOL_PARAMETERS",
                               {"srv": srv, "params": params, "flags": 0}, prog=ADMIN)
            assert _error(reply) == want
        assert (pool.min_workers, pool.max_workers) == (6, 8)   # refused calls changed nothing
        reply = admin.call("SERVER_SET_THREADPOOL_PARAMETERS", {"srv": {"name": "x"},
                           "params": [], "flags": 0}, prog=ADMIN)
        assert _error(reply) == (c.VIR_ERR_NO_SERVER, c.VIR_FROM_ADMIN,
                                 "Server not found: no server with matching name 'x' found")
    with RawClient(daemon.rw) as client:      # the resized pool still runs driver calls
        client.open()
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}


def test_client_limits_refuse_new_connections(daemon: InProcessDaemon) -> None:
    srv = {"name": MAIN_SERVER}
    with RawClient(admin_path(daemon)) as admin, RawClient(daemon.rw) as first:
        first.open()
        assert _uints(admin.result("SERVER_GET_CLIENT_LIMITS", {"srv": srv, "flags": 0},
                                   prog=ADMIN)) == {
            "nclients_max": 5000, "nclients": 1, "nclients_unauth_max": 20,
            "nclients_unauth": 0}
        reply = admin.call("SERVER_SET_CLIENT_LIMITS", {"srv": srv, "params": [
            _uint_param("nclients_max", 10)], "flags": 0}, prog=ADMIN)
        assert _error(reply) == (
            c.VIR_ERR_INVALID_ARG, c.VIR_FROM_RPC, "invalid argument: The overall maximum "
            "number of clients waiting for authentication must not be less than the overall "
            "maximum number of clients")
        admin.result("SERVER_SET_CLIENT_LIMITS", {"srv": srv, "params": [
            _uint_param("nclients_max", 1), _uint_param("nclients_unauth_max", 1)],
            "flags": 0}, prog=ADMIN)
        with RawClient(daemon.rw) as second:
            assert second.closed_by_peer()
        assert first.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        assert _uints(admin.result("SERVER_GET_CLIENT_LIMITS", {"srv": {"name": "admin"},
                                                                "flags": 0}, prog=ADMIN)) == {
            "nclients_max": 5000, "nclients": 1, "nclients_unauth_max": 0,
            "nclients_unauth": 0}


def test_update_tls_files_serves_the_new_certificate(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    first, second = make_ca(tmp_path / "ca1", "first CA"), make_ca(tmp_path / "ca2", "second")
    live = tmp_path / "live"
    shutil.copytree(first, live)
    trusts = {name: make_client(ca, tmp_path / f"client-{name}", "/CN=c")
              for name, ca in (("first", first), ("second", second))}
    port = _free_port()
    with InProcessDaemon(tmp_path / "d", listen=True, listen_tls=True,
                         listen_addr="127.0.0.1", tls_port=str(port),
                         ca_file=str(live / "cacert.pem"), cert_file=str(live / "servercert.pem"),
                         key_file=str(live / "serverkey.pem")) as d:
        assert _handshake(port, trusts["first"]) == "ok"
        for name in ("cacert.pem", "servercert.pem", "serverkey.pem"):
            shutil.copy(second / name, live / name)
        assert _handshake(port, trusts["first"]) == "ok"     # nothing reread by itself
        with RawClient(admin_path(d)) as admin:
            admin.result("SERVER_UPDATE_TLS_FILES", {"srv": {"name": MAIN_SERVER},
                                                     "flags": 0}, prog=ADMIN)
            assert _handshake(port, trusts["second"]) == "ok"
            assert _handshake(port, trusts["first"]).startswith("refused")
            reply = admin.call("SERVER_UPDATE_TLS_FILES", {"srv": {"name": ADMIN_SERVER},
                                                           "flags": 0}, prog=ADMIN)
            assert _error(reply) == (c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_RPC,
                                     "internal error: no tls service found, unable to update "
                                     "tls files")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _handshake(port: int, pkipath: Path) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pkipath / "cacert.pem")
    ctx.load_cert_chain(pkipath / "clientcert.pem", pkipath / "clientkey.pem")
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            return "ok" if sock.recv(1) == b"\x01" else "no confirmation"
    except ssl.SSLError as exc:
        return f"refused: {exc.reason}"


def test_logging_settings_and_daemon_timeout(tmp_path: Path) -> None:
    """In a daemon process of its own (logging is per process): outputs and filters set
    over the admin socket take effect at once; a daemon timeout makes the idle daemon exit."""
    log_file = tmp_path / "debug.log"
    with Pyvirtd(tmp_path / "d", config='log_filters = "3:rpc"\n') as d:
        with RawClient(admin_path(d)) as admin:
            assert admin.result("CONNECT_GET_LOGGING_FILTERS", {"flags": 0}, prog=ADMIN) == {
                "filters": "3:*rpc* ", "nfilters": 1}
            assert admin.result("CONNECT_GET_LOGGING_OUTPUTS", {"flags": 0},
                                prog=ADMIN) == {"outputs": "3:stderr", "noutputs": 1}
            admin.result("CONNECT_SET_LOGGING_OUTPUTS", {
                "outputs": f"4:stderr 1:file:{log_file}", "flags": 0}, prog=ADMIN)
            admin.result("CONNECT_SET_LOGGING_FILTERS", {
                "filters": "1:pyvirt.daemon.c?ient", "flags": 0}, prog=ADMIN)
            assert admin.result("CONNECT_GET_LOGGING_OUTPUTS", {"flags": 0}, prog=ADMIN) == {
                "outputs": f"4:stderr 1:file:{log_file}", "noutputs": 2}
            reply = admin.call("CONNECT_SET_LOGGING_OUTPUTS", {"outputs": "1:file",
                                                               "flags": 0}, prog=ADMIN)
            assert _error(reply) == (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE,
                                     "invalid argument: Log output '1:file' does not meet the "
                                     "format requirements for destination type 'file'")
            with RawClient(d.rw) as client:        # the client module logs at debug level
                client.open()
            assert wait_until(lambda: log_file.exists() and "connected on unix-rw"
                         in log_file.read_text())
            # filters back to none: the default level (warning) hides debug messages again
            admin.result("CONNECT_SET_LOGGING_FILTERS", {"filters": None, "flags": 0},
                         prog=ADMIN)
            size = log_file.stat().st_size
            with RawClient(d.rw) as client:
                client.open()
            time.sleep(0.3)
            assert log_file.stat().st_size == size
            admin.result("CONNECT_SET_DAEMON_TIMEOUT", {"timeout": 1, "flags": 0},
                         prog=ADMIN)
        assert d.proc is not None
        assert d.proc.wait(15) == 0   # idle (no client) for a second: it exits


def test_listen_backlogs_follow_max_queued_clients(tmp_path: Path) -> None:
    """max_queued_clients (and admin_max_queued_clients) are the sockets' listen backlog,
    as ss(8) shows it for a listening socket (Send-Q)."""
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2)")
    import subprocess

    with InProcessDaemon(tmp_path, max_queued_clients=7, admin_max_queued_clients=3) as d:
        listing = subprocess.run(["ss", "-lxn"], capture_output=True, text=True,
                                 check=True).stdout
        backlog = {fields[4]: int(fields[3]) for fields in
                   (line.split() for line in listing.splitlines())
                   if len(fields) > 4 and fields[1] == "LISTEN"}
        assert backlog[d.rw] == 7 and backlog[d.ro] == 7
        assert backlog[admin_path(d)] == 3
