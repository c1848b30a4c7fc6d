"""Real virsh and pyvirt's client against pyvirtd's TLS listener and SASL auth.

One pyvirtd (``--listen``) serves TLS with SASL (``auth_tls = "sasl"``, DN allow-list), plain
TCP with SASL (libvirtd's default, which admits no one: every mechanism pyvirtd and cyrus's
SCRAM/PLAIN have lacks the security layer libvirt wants on plain TCP) and the read-write
unix socket with SASL. Credentials reach virsh through libvirt's auth.conf
(LIBVIRT_AUTH_FILE), so no terminal is needed. Refusals are compared with libvirt's wording
(what virsh prints against a real libvirtd in the same situations)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pki import make_ca, make_client
from pyvirt import constants as c
from pyvirt.errors import libvirtError
from unit.daemon.support import PYVIRTD, REPO, Pyvirtd

pytestmark = [pytest.mark.integration, pytest.mark.interop,
              pytest.mark.skipif(shutil.which("virsh") is None, reason="needs virsh")]

REFUSED_TLS = "error: Unable to read TLS confirmation: Input/output error"
AUTH_FAILED = "error: authentication failed: authentication failed"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _auth_conf(path: Path, user: str, password: str) -> Path:
    path.write_text(f"[credentials-t]\nauthname={user}\npassword={password}\n"
                    "[auth-libvirt-127.0.0.1]\ncredentials=t\n"
                    "[auth-libvirt-localhost]\ncredentials=t\n")
    return path


class Setup:
    def __init__(self, base: Path) -> None:
        ca = make_ca(base / "ca")
        other = make_ca(base / "other-ca", "another CA")
        self.good = make_client(ca, base / "good", "/O=pyvirt-client/CN=127.0.0.1")
        self.unlisted = make_client(ca, base / "unlisted", "/O=elsewhere/CN=intruder")
        self.foreign = make_client(other, base / "foreign", "/O=pyvirt-client/CN=127.0.0.1")
        self.nocert = base / "nocert"
        self.nocert.mkdir()
        shutil.copy(ca / "cacert.pem", self.nocert / "cacert.pem")
        self.tls_port, self.tcp_port = _free_port(), _free_port()
        self.root = base / "root"
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        for user, password in (("fred", "pencil"), ("bob", "pw")):
            subprocess.run([sys.executable, str(PYVIRTD), "--root", str(self.root),
                            "--sasl-passwd", user], input=f"{password}\n", text=True,
                           check=True, env=env, timeout=30)
        self.daemon = Pyvirtd(self.root, "--listen", config=(
            f'listen_tls = 1\ntls_port = "{self.tls_port}"\n'
            f'listen_tcp = 1\ntcp_port = "{self.tcp_port}"\nlisten_addr = "127.0.0.1"\n'
            'auth_tls = "sasl"\nauth_unix_rw = "sasl"\n'
            f'ca_file = "{ca}/cacert.pem"\ncert_file = "{ca}/servercert.pem"\n'
            f'key_file = "{ca}/serverkey.pem"\n'
            'tls_allowed_dn_list = ["O=pyvirt-client,CN=*"]\n'
            'sasl_allowed_username_list = ["fred", "alice"]\n'))
        self.fred = _auth_conf(base / "fred.conf", "fred", "pencil")
        self.wrong = _auth_conf(base / "wrong.conf", "fred", "crayon")
        self.bob = _auth_conf(base / "bob.conf", "bob", "pw")
        # an auth.conf without these hosts (libvirt fails on a LIBVIRT_AUTH_FILE that is
        # missing), so the openAuth callback is asked
        self.empty = base / "empty.conf"
        self.empty.write_text("")

    def tls(self, pkipath: Path, extra: str = "") -> str:
        return f"test+tls://127.0.0.1:{self.tls_port}/default?pkipath={pkipath}{extra}"

    @property
    def tcp(self) -> str:
        return f"test+tcp://127.0.0.1:{self.tcp_port}/default"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("tls-sasl"))
    with s.daemon:
        yield s


def virsh(uri: str, auth_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LIBVIRT_AUTH_FILE=str(auth_file))
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)


def test_virsh_tls_with_sasl(setup: Setup) -> None:
    expected = virsh(setup.daemon.uri(readonly=True), setup.fred, "list", "--all")
    assert expected.returncode == 0 and " test " in expected.stdout
    out = virsh(setup.tls(setup.good), setup.fred, "list", "--all")
    assert (out.returncode, out.stdout) == (0, expected.stdout), out.stderr
    out = virsh(setup.tls(setup.good), setup.fred, "uri")
    assert out.stdout.strip() == setup.tls(setup.good)
    out = virsh(setup.tls(setup.good), setup.wrong, "list", "--all")
    assert (out.returncode, out.stderr.splitlines()[-1]) == (1, AUTH_FAILED)
    out = virsh(setup.tls(setup.good), setup.bob, "list")    # not on the username list
    assert (out.returncode, out.stderr.splitlines()[-1]) == (1, AUTH_FAILED)


@pytest.mark.parametrize("client", ["nocert", "unlisted", "foreign"])
def test_virsh_tls_refused_certificates(setup: Setup, client: str) -> None:
    """No client certificate, one whose DN is not on the list, one from another CA (the
    client skips checking the server then, or its own CA would refuse the server's): the
    daemon hangs up before the confirmation, as libvirtd does."""
    extra = "&no_verify=1" if client == "foreign" else ""
    out = virsh(setup.tls(getattr(setup, client), extra), setup.fred, "list")
    assert (out.returncode, out.stderr.splitlines()[-1]) == (1, REFUSED_TLS), out.stderr


def test_virsh_plain_tcp_sasl_admits_no_one(setup: Setup) -> None:
    out = virsh(setup.tcp, setup.fred, "list")
    assert (out.returncode, out.stderr.splitlines()[-1]) == (1, AUTH_FAILED)


def test_virsh_unix_socket_with_sasl(setup: Setup) -> None:
    out = virsh(setup.daemon.uri(), setup.fred, "domstate", "test")
    assert (out.returncode, out.stdout.strip()) == (0, "running"), out.stderr
    out = virsh(setup.daemon.uri() + "&auth=sasl.PLAIN", setup.fred, "domstate", "test")
    assert (out.returncode, out.stdout.strip()) == (0, "running"), out.stderr
    out = virsh(setup.daemon.uri(), setup.wrong, "domstate", "test")
    assert (out.returncode, out.stderr.splitlines()[-1]) == (1, AUTH_FAILED)


def _open(uri: str, password: str) -> pyvirt.virConnect:
    def callback(creds: list[list[Any]], _opaque: Any) -> int:
        for cred in creds:
            cred[4] = "fred" if cred[0] == c.VIR_CRED_AUTHNAME else password
        return 0

    return pyvirt.openAuth(uri, [[c.VIR_CRED_AUTHNAME, c.VIR_CRED_PASSPHRASE], callback,
                                 None], 0)


def test_pyvirt_client(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(setup.empty))
    conn = _open(setup.tls(setup.good), "pencil")
    try:
        assert [d.name() for d in conn.listAllDomains()] == ["test"]
        assert (conn.isSecure(), conn.isEncrypted()) == (1, 1)
    finally:
        conn.close()
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(setup.fred))   # auth.conf, no callback
    conn = pyvirt.open(setup.tls(setup.good))
    conn.close()
    cases = [
        (setup.tls(setup.good), setup.wrong, c.VIR_ERR_AUTH_FAILED, AUTH_FAILED),
        (setup.tls(setup.nocert), setup.fred, c.VIR_ERR_SYSTEM_ERROR, REFUSED_TLS),
        (setup.tls(setup.unlisted), setup.fred, c.VIR_ERR_SYSTEM_ERROR, REFUSED_TLS),
        (setup.tcp, setup.fred, c.VIR_ERR_AUTH_FAILED, AUTH_FAILED),
    ]
    for uri, auth_file, code, message in cases:
        monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(auth_file))
        with pytest.raises(libvirtError) as info:
            pyvirt.open(uri)
        assert (info.value.get_error_code(), f"error: {info.value}") == (code, message), uri


def test_libvirt_python_over_tls(setup: Setup) -> None:
    """libvirt-python's openAuth callback (C client, cyrus SCRAM) against pyvirtd."""
    code = ("import libvirt,sys\n"
            "def cb(creds, _):\n"
            "    for cr in creds:\n"
            "        cr[4] = 'fred' if cr[0] == libvirt.VIR_CRED_AUTHNAME else 'pencil'\n"
            "    return 0\n"
            "c = libvirt.openAuth(sys.argv[1], [[libvirt.VIR_CRED_AUTHNAME, "
            "libvirt.VIR_CRED_PASSPHRASE], cb, None], 0)\n"
            "print(c.lookupByName('test').info()[0], c.isSecure(), c.isEncrypted())\n")
    env = dict(os.environ, LIBVIRT_AUTH_FILE=str(setup.empty))
    out = subprocess.run(["/usr/bin/python3", "-c", code, setup.tls(setup.good)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "1 1 1"), out.stderr
