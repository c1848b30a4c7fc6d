"""pyvirtd's SASL and TLS checks at the protocol level (an in-process daemon, raw frames):
what is allowed before authentication, libvirt's errors, the exchange, the username ACL,
plain TCP's SSF rule, TLS client certificates, the DN allow-list and the client's identity."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import pytest

from pki import make_ca, make_client
from pyvirt import constants as c
from pyvirt.daemon.saslpasswd import PasswdFile
from pyvirt.rpc.sasl import ClientMechanism, client_mechanism
from pyvirt.rpc.xdr import chars_to_bytes
from unit.daemon.support import InProcessDaemon, RawClient, error_of

AUTH_FAILED = (c.VIR_ERR_AUTH_FAILED, "authentication failed: authentication failed")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _error(msg: Any) -> tuple[int, str]:
    err = error_of(msg)
    return err["code"], err["message"]


def _sasl_login(client: RawClient, mech: ClientMechanism) -> Any:
    """Run the exchange; the last reply (an error reply ends it)."""
    init = client.call("AUTH_SASL_INIT")
    if init.status != 0:
        return init
    out = mech.start()
    reply = client.call("AUTH_SASL_START", {"mech": mech.name, "nil": int(out is None),
                                            "data": out or b""})
    from pyvirt.rpc import protocol

    while reply.status == 0:
        ret = protocol.REMOTE.procedure("AUTH_SASL_START").decode_reply(reply)
        data = None if ret["nil"] else chars_to_bytes(ret["data"])
        if ret["complete"]:
            if not mech.complete:
                mech.step(data)      # the server's proof
            return reply
        out = mech.step(data)
        reply = client.call("AUTH_SASL_STEP", {"nil": int(out is None), "data": out or b""})
    return reply


@pytest.fixture
def sasl_daemon(tmp_path: Path) -> Any:
    PasswdFile(str(tmp_path / "etc" / "passwd.scram")).set_password("fred", "pencil")
    with InProcessDaemon(tmp_path, auth_unix_rw="sasl",
                         sasl_allowed_username_list=["fr*", "al?ce"]) as d:
        yield d


def test_before_auth_only_auth_procedures(sasl_daemon: InProcessDaemon) -> None:
    with RawClient(sasl_daemon.rw) as client:
        assert client.result("AUTH_LIST") == {"types": [1]}      # REMOTE_AUTH_SASL
        for name, args in (("CONNECT_OPEN", {"name": "test:///default", "flags": 0}),
                           ("CONNECT_SUPPORTS_FEATURE", {"feature": 10}),
                           ("CONNECT_GET_TYPE", None)):
            assert _error(client.call(name, args)) == (c.VIR_ERR_RPC,
                                                       "authentication required")
        # START or STEP without INIT, POLKIT on a SASL socket: libvirt's auth failure
        assert _error(client.call("AUTH_SASL_START", {"mech": "PLAIN", "nil": 1,
                                                      "data": b""})) == AUTH_FAILED
        assert _error(client.call("AUTH_SASL_STEP", {"nil": 1, "data": b""})) == AUTH_FAILED
        assert error_of(client.call("AUTH_POLKIT"))["code"] == c.VIR_ERR_AUTH_FAILED
        ret = client.result("AUTH_SASL_INIT")
        assert ret == {"mechlist": "SCRAM-SHA-256,SCRAM-SHA-1,PLAIN"}
        assert _error(client.call("AUTH_SASL_INIT")) == AUTH_FAILED    # twice
        assert _error(client.call("AUTH_SASL_START", {"mech": "GSSAPI", "nil": 1,
                                                      "data": b""})) == AUTH_FAILED
    # the read-only socket keeps its own auth (none)
    with RawClient(sasl_daemon.ro).open() as client:
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
def test_login(sasl_daemon: InProcessDaemon, mech: str) -> None:
    with RawClient(sasl_daemon.rw) as client:
        client.result("AUTH_LIST")
        reply = _sasl_login(client, client_mechanism(mech, "fred", "crayon"))
        assert _error(reply) == AUTH_FAILED
        assert _error(client.call("CONNECT_GET_TYPE")) == (c.VIR_ERR_RPC,
                                                           "authentication required")
        login = client_mechanism(mech, "fred", "pencil")       # a second try may work
        assert _sasl_login(client, login).status == 0 and login.complete
        client.result("CONNECT_OPEN", {"name": "test:///default", "flags": 0})
        assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        assert sasl_daemon.daemon is not None
        [session] = [s for s in sasl_daemon.daemon.clients if s.listener.name == "unix-rw"]
        assert session.sasl_username == "fred" and session.x509_dname is None


def test_username_acl_and_new_users(sasl_daemon: InProcessDaemon, tmp_path: Path) -> None:
    users = PasswdFile(str(tmp_path / "etc" / "passwd.scram"))
    users.set_password("bob", "pw")        # added while the daemon runs
    users.set_password("alice", "pw")
    with RawClient(sasl_daemon.rw) as client:
        client.result("AUTH_LIST")
        bob = client_mechanism("SCRAM-SHA-256", "bob", "pw")
        assert _error(_sasl_login(client, bob)) == AUTH_FAILED   # not on the list
        alice = client_mechanism("SCRAM-SHA-256", "alice", "pw")
        assert _sasl_login(client, alice).status == 0


def test_plain_tcp_offers_no_mechanism(tmp_path: Path) -> None:
    """libvirt wants SSF >= tcp_min_ssf on plain TCP; none of the mechanisms has a layer."""
    PasswdFile(str(tmp_path / "etc" / "passwd.scram")).set_password("fred", "pencil")
    port = _free_port()
    with InProcessDaemon(tmp_path, listen=True, listen_tcp=True, listen_tls=False,
                         listen_addr="127.0.0.1", tcp_port=str(port)) as d:
        assert d.daemon is not None and d.daemon.sasl is not None
        with RawClient(sock=socket.create_connection(("127.0.0.1", port))) as client:
            assert client.result("AUTH_LIST") == {"types": [1]}
            assert _error(client.call("AUTH_SASL_INIT")) == AUTH_FAILED
            assert _error(client.call("CONNECT_OPEN", {"name": "test:///default",
                                                       "flags": 0}))[1] == (
                "authentication required")


# ---- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pki")
    ca = make_ca(base / "ca")
    other = make_ca(base / "other-ca", "another CA")
    return {
        "ca": ca,
        "good": make_client(ca, base / "good", "/O=pyvirt-client/CN=127.0.0.1"),
        "unlisted": make_client(ca, base / "unlisted", "/O=elsewhere/CN=intruder"),
        "foreign": make_client(other, base / "foreign", "/O=pyvirt-client/CN=127.0.0.1",
                               trust=ca),
    }


def _tls_daemon(root: Path, ca: Path, **settings: Any) -> InProcessDaemon:
    return InProcessDaemon(root, listen=True, listen_tls=True, listen_addr="127.0.0.1",
                           tls_port=str(_free_port()), ca_file=str(ca / "cacert.pem"),
                           cert_file=str(ca / "servercert.pem"),
                           key_file=str(ca / "serverkey.pem"), **settings)


def _tls_connect(port: str, pkipath: Path, with_cert: bool = True) -> ssl.SSLSocket:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pkipath / "cacert.pem")
    if with_cert:
        ctx.load_cert_chain(pkipath / "clientcert.pem", pkipath / "clientkey.pem")
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _confirmation(port: str, pkipath: Path, with_cert: bool = True) -> bytes | str:
    """The byte the server sends after the handshake, or how the connection ended."""
    try:
        sock = _tls_connect(port, pkipath, with_cert)
    except ssl.SSLError as exc:
        return f"handshake: {exc.reason}"
    try:
        return sock.recv(1)
    except (ssl.SSLError, OSError) as exc:
        return f"read: {type(exc).__name__}"
    finally:
        sock.close()


def test_tls_client_certificates(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _tls_daemon(tmp_path, pki["ca"],
                     tls_allowed_dn_list=["O=pyvirt-client,CN=127.0.0.*"]) as d:
        port = d.config.tls_port
        assert _confirmation(port, pki["good"]) == b"\x01"
        for refused in (_confirmation(port, pki["good"], with_cert=False),
                        _confirmation(port, pki["unlisted"]),
                        _confirmation(port, pki["foreign"])):
            # closed before the byte (b"": no TLS close_notify), not left hanging
            assert refused != b"\x01" and "Timeout" not in str(refused), refused
        sock = _tls_connect(port, pki["good"])
        assert sock.recv(1) == b"\x01"
        with RawClient(sock=sock) as client:      # then plain RPC inside TLS
            client.open()
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
            assert client.result("CONNECT_IS_SECURE") == {"secure": 1}
            assert d.daemon is not None
            [session] = [s for s in d.daemon.clients if s.listener.tls]
            assert session.x509_dname == "O=pyvirt-client,CN=127.0.0.1"
            assert session.secure and session.sasl_username is None


def test_tls_no_verify_certificate(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _tls_daemon(tmp_path, pki["ca"], tls_no_verify_certificate=True,
                     tls_allowed_dn_list=["CN=nobody"]) as d:
        port = d.config.tls_port
        for pkipath, with_cert in ((pki["foreign"], True), (pki["good"], False),
                                   (pki["unlisted"], True)):
            assert _confirmation(port, pkipath, with_cert) == b"\x01"


def test_tls_missing_server_files(tmp_path: Path) -> None:
    daemon = InProcessDaemon(tmp_path, listen=True, listen_tls=True)
    with pytest.raises(Exception, match="Cannot read CA certificate '.*/etc/pki/CA/"
                                        "cacert.pem': No such file or directory"):
        daemon.start()
