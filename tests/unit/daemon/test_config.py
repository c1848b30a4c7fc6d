"""pyvirtd's settings: libvirtd.conf keys, defaults, refusals, paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvirt.config import read_conf
from pyvirt.daemon.config import DaemonConfig
from pyvirt.daemon.main import build_parser, load_config
from pyvirt.errors import libvirtError


def test_defaults_and_paths(tmp_path: Path) -> None:
    cfg = DaemonConfig()
    assert (cfg.max_clients, cfg.max_workers, cfg.max_client_requests) == (5000, 20, 5)
    assert (cfg.keepalive_interval, cfg.keepalive_count) == (5, 5)
    assert cfg.rw_perms() == 0o700 and cfg.ro_perms() == 0o777
    cfg.auth_unix_rw = "polkit"
    assert cfg.rw_perms() == 0o777          # libvirtd's default with polkit
    cfg.root = str(tmp_path)
    assert cfg.rw_socket_path() == str(tmp_path / "run" / "libvirt-sock")
    assert cfg.ro_socket_path() == str(tmp_path / "run" / "libvirt-sock-ro")
    assert cfg.pid_file_path() == str(tmp_path / "run" / "pyvirtd.pid")
    cfg.unix_sock_dir = "/elsewhere"
    assert cfg.rw_socket_path() == "/elsewhere/libvirt-sock"


def test_keys_applied() -> None:
    cfg = DaemonConfig()
    cfg.apply(read_conf('''
unix_sock_dir = "/tmp/x"
unix_sock_group = "kvm"
unix_sock_ro_perms = "0770"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "polkit"
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "16600"
auth_tcp = "none"
max_clients = 7
max_workers = 3
max_client_requests = 2
keepalive_interval = -1
keepalive_count = 9
log_level = 3   # accepted, not used
''', "libvirtd.conf"))
    assert (cfg.unix_sock_dir, cfg.unix_sock_group, cfg.ro_perms(), cfg.rw_perms()) == (
        "/tmp/x", "kvm", 0o770, 0o770)
    assert (cfg.auth_unix_ro, cfg.auth_unix_rw, cfg.auth_tcp) == ("none", "polkit", "none")
    assert (cfg.listen_tcp, cfg.listen_addr, cfg.tcp_port) == (True, "127.0.0.1", "16600")
    assert (cfg.max_clients, cfg.max_workers, cfg.max_client_requests) == (7, 3, 2)
    assert (cfg.keepalive_interval, cfg.keepalive_count) == (-1, 9)
    cfg.validate()
    assert not cfg.tcp_enabled()            # listen_tcp needs --listen
    cfg.listen = True
    assert cfg.tcp_enabled()


@pytest.mark.parametrize("text, message", [
    ('auth_tcp = "kerberos"', "libvirtd.conf: auth_tcp: unsupported auth kerberos"),
    ("max_workers = 0", "'max_workers' must be greater than 0"),
    ('max_clients = "many"', "expected an unsigned integer for 'max_clients' parameter"),
    ("listen_tcp = 2", "value for 'listen_tcp' parameter must be 0 or 1"),
    ("keepalive_interval = ", "expecting a value"),
])
def test_bad_settings(text: str, message: str) -> None:
    with pytest.raises(libvirtError, match=message):
        DaemonConfig().apply(read_conf(text, "libvirtd.conf"))


def test_refusals() -> None:
    cfg = DaemonConfig()
    cfg.listen = cfg.listen_tcp = True
    cfg.validate()   # TCP with SASL (libvirtd's default) is allowed: it admits no one
    cfg.ca_file = "/pki/ca.pem"
    with pytest.raises(libvirtError, match="No server certificate path set to match server key"):
        cfg.validate()                    # listen_tls is on by default with --listen
    cfg.cert_file = "/pki/cert.pem"
    with pytest.raises(libvirtError, match="No server key path set to match server cert"):
        cfg.validate()
    cfg.listen_tls = False
    cfg.validate()
    cfg = DaemonConfig()
    cfg.unix_sock_rw_perms = "rwx"
    with pytest.raises(libvirtError, match="Failed to parse mode 'rwx'"):
        cfg.validate()
    with pytest.raises(libvirtError, match="minimum SSF levels lower than 112 are not "
                                           "supported"):
        DaemonConfig().apply(read_conf("tcp_min_ssf = 56", "libvirtd.conf"))


def test_tls_and_sasl_keys(tmp_path: Path) -> None:
    cfg = DaemonConfig()
    assert (cfg.listen_tls, cfg.tls_port, cfg.auth_tls, cfg.auth_tcp, cfg.tcp_min_ssf) == (
        True, "16514", "none", "sasl", 56)
    cfg.apply(read_conf('''
listen_tls = 0
tls_port = "16600"
auth_tls = "sasl"
auth_unix_rw = "sasl"
tls_no_verify_certificate = 1
tls_no_sanity_certificate = 1
tls_allowed_dn_list = ["C=GB,O=Example,CN=*", "CN=admin"]
tls_priority = "NORMAL:-VERS-TLS1.0"
sasl_allowed_username_list = ["fred", "adm*"]
tcp_min_ssf = 112
sasl_passwd_file = "/srv/users.scram"
''', "libvirtd.conf"))
    assert (cfg.listen_tls, cfg.tls_port, cfg.auth_tls, cfg.auth_unix_rw) == (
        False, "16600", "sasl", "sasl")
    assert cfg.tls_no_verify_certificate and cfg.tls_no_sanity_certificate
    assert cfg.tls_allowed_dn_list == ["C=GB,O=Example,CN=*", "CN=admin"]
    assert cfg.sasl_allowed_username_list == ["fred", "adm*"]
    assert (cfg.tcp_min_ssf, cfg.sasl_passwd_path()) == (112, "/srv/users.scram")
    assert cfg.uses_sasl()
    # libvirt's PKI paths, relocated under --root
    cfg = DaemonConfig()
    cfg.root = str(tmp_path)
    assert cfg.tls_files() == (str(tmp_path / "etc/pki/CA/cacert.pem"), None,
                               str(tmp_path / "etc/pki/libvirt/servercert.pem"),
                               str(tmp_path / "etc/pki/libvirt/private/serverkey.pem"))
    (tmp_path / "etc/pki/CA").mkdir(parents=True)
    (tmp_path / "etc/pki/CA/cacrl.pem").write_text("")
    assert cfg.tls_files()[1] == str(tmp_path / "etc/pki/CA/cacrl.pem")   # used if present
    cfg.root = None
    if os.geteuid() == 0:
        assert cfg.tls_files()[0] == "/etc/pki/CA/cacert.pem"
    assert not cfg.uses_sasl()   # TCP's SASL counts only when TCP listens


def test_command_line(tmp_path: Path) -> None:
    conf = tmp_path / "d.conf"
    conf.write_text("max_clients = 3\n")
    args = build_parser().parse_args(["--config", str(conf), "--root", str(tmp_path),
                                      "--timeout", "30", "--listen", "--pid-file", "/x.pid"])
    cfg = load_config(args)
    assert (cfg.max_clients, cfg.root, cfg.timeout, cfg.listen, cfg.pid_file_path()) == (
        3, str(tmp_path), 30, True, "/x.pid")
    # under --root, DIR/etc/pyvirtd.conf is read when no --config is given
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "pyvirtd.conf").write_text("max_clients = 4\n")
    cfg = load_config(build_parser().parse_args(["--root", str(tmp_path)]))
    assert cfg.max_clients == 4
