"""pyvirtd's settings: libvirtd.conf keys, defaults, refusals, paths."""

from __future__ import annotations

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
    with pytest.raises(libvirtError, match='auth_tcp = "sasl" is not supported'):
        cfg.validate()   # libvirtd's default TCP auth is SASL: never open TCP unasked
    cfg.auth_tcp = "none"
    cfg.validate()
    cfg.listen_tls = True
    with pytest.raises(libvirtError, match="TLS is not supported"):
        cfg.validate()
    cfg = DaemonConfig()
    cfg.auth_unix_rw = "sasl"
    with pytest.raises(libvirtError, match='auth_unix_rw = "sasl" is not supported'):
        cfg.validate()
    cfg = DaemonConfig()
    cfg.unix_sock_rw_perms = "rwx"
    with pytest.raises(libvirtError, match="Failed to parse mode 'rwx'"):
        cfg.validate()


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
