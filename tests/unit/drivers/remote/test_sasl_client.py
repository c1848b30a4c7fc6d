"""The remote driver's SASL login: auth.conf lookups, credentials from the openAuth
callback, the mechanism choice, and whole logins against an in-process pyvirtd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt.daemon.saslpasswd import PasswdFile
from pyvirt.drivers.remote.auth import (
    AuthConfig,
    auth_config_path,
    choose_mechanism,
    collect_credentials,
)
from pyvirt.errors import libvirtError
from unit.daemon.support import InProcessDaemon

AUTH_CONF = """\
# a comment
[credentials-admin]
authname=fred
password=pencil = and more

[credentials-half]
authname=alice

[auth-libvirt-host1]
credentials=admin

[auth-libvirt-host2]
credentials=half

[auth-libvirt-broken]
credentials=missing

[auth-libvirt-default]
credentials=admin
"""


def test_auth_config_lookup(tmp_path: Path) -> None:
    conf = AuthConfig(str(tmp_path / "auth.conf"), AUTH_CONF)
    assert conf.lookup("libvirt", "host1", "authname") == "fred"
    assert conf.lookup("libvirt", "host1", "password") == "pencil = and more"
    assert conf.lookup("libvirt", "host2", "password") is None
    assert conf.lookup("libvirt", "elsewhere", "authname") == "fred"    # [auth-...-default]
    assert conf.lookup("ssh", "host1", "authname") is None
    with pytest.raises(libvirtError, match="Missing group 'credentials-missing' referenced "
                                           "from group 'auth-libvirt-broken'"):
        conf.lookup("libvirt", "broken", "authname")


def test_auth_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", "/env/auth.conf")
    assert auth_config_path({"authfile": "/uri/auth.conf"}) == "/env/auth.conf"
    monkeypatch.delenv("LIBVIRT_AUTH_FILE")
    assert auth_config_path({"authfile": "/uri/auth.conf"}) == "/uri/auth.conf"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "libvirt").mkdir()
    (tmp_path / "libvirt" / "auth.conf").write_text(AUTH_CONF)
    assert auth_config_path({}) == str(tmp_path / "libvirt" / "auth.conf")


def test_collect_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "auth.conf"
    path.write_text(AUTH_CONF)
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(path))
    wanted = [c.VIR_CRED_AUTHNAME, c.VIR_CRED_PASSPHRASE]
    asked: list[list[Any]] = []

    def callback(creds: list[list[Any]], opaque: Any) -> int:
        asked.extend(creds)
        for cred in creds:
            cred[4] = f"typed-{opaque}"
        return 0

    auth = [wanted, callback, "x"]
    assert collect_credentials(wanted, auth, "host1", {}) == {
        c.VIR_CRED_AUTHNAME: "fred", c.VIR_CRED_PASSPHRASE: "pencil = and more"}
    assert not asked                               # the file had everything
    assert collect_credentials(wanted, auth, "host2", {}) == {
        c.VIR_CRED_AUTHNAME: "alice", c.VIR_CRED_PASSPHRASE: "typed-x"}
    assert [cred[:2] for cred in asked] == [[c.VIR_CRED_PASSPHRASE,
                                            "Please enter your password"]]
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(tmp_path / "none.conf"))
    with pytest.raises(libvirtError, match="No authentication callback available"):
        collect_credentials(wanted, None, "host1", {})
    with pytest.raises(libvirtError, match="No authentication callback available"):
        collect_credentials(wanted, [[c.VIR_CRED_AUTHNAME], callback, None], "h", {})
    with pytest.raises(libvirtError, match="Failed to collect auth credentials"):
        collect_credentials(wanted, [wanted, lambda creds, _o: -1, None], "h", {})


def test_choose_mechanism() -> None:
    offered = "PLAIN,SCRAM-SHA-1,SCRAM-SHA-256"
    assert choose_mechanism(offered, True, None) == "SCRAM-SHA-256"
    assert choose_mechanism("PLAIN,SCRAM-SHA-1", True, None) == "SCRAM-SHA-1"
    assert choose_mechanism(offered, True, "PLAIN") == "PLAIN"
    with pytest.raises(libvirtError, match="SASL mechanism GSSAPI not supported by server"):
        choose_mechanism(offered, True, "GSSAPI")
    with pytest.raises(libvirtError, match="No worthy mechs found"):
        choose_mechanism(offered, False, None)     # plain TCP wants SSF >= 56
    with pytest.raises(libvirtError, match="No worthy mechs found"):
        choose_mechanism("GSSAPI", True, None)


def test_openauth_against_pyvirtd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(tmp_path / "no-auth.conf"))
    PasswdFile(str(tmp_path / "etc" / "passwd.scram")).set_password("fred", "pencil")
    with InProcessDaemon(tmp_path, auth_unix_rw="sasl") as d:
        uri = f"test+unix:///default?socket={d.rw}"

        def login(uri: str, password: str) -> pyvirt.virConnect:
            def callback(creds: list[list[Any]], _opaque: Any) -> int:
                for cred in creds:
                    cred[4] = "fred" if cred[0] == c.VIR_CRED_AUTHNAME else password
                return 0

            return pyvirt.openAuth(uri, [[c.VIR_CRED_AUTHNAME, c.VIR_CRED_PASSPHRASE],
                                         callback, None], 0)

        for mech_uri in (uri, uri + "&auth=sasl.SCRAM-SHA-1", uri + "&auth=sasl.PLAIN"):
            conn = login(mech_uri, "pencil")
            try:
                assert conn.lookupByName("test").name() == "test"
                # libvirt counts any SASL session as encryption
                assert (conn.isSecure(), conn.isEncrypted()) == (1, 1)
            finally:
                conn.close()
            with pytest.raises(libvirtError) as info:
                login(mech_uri, "crayon")
            err = info.value
            assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
                c.VIR_ERR_AUTH_FAILED, c.VIR_FROM_RPC,
                "authentication failed: authentication failed")
        with pytest.raises(libvirtError, match="No authentication callback available"):
            pyvirt.open(uri)
