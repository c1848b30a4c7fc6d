"""Plain local URIs go to pyvirtd: the URI -> transport decision, the socket each one uses
(and that pyvirtd binds the same one), and the errors when nobody answers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt.daemon.config import DaemonConfig
from pyvirt.drivers import base
from pyvirt.drivers.remote import localdaemon
from pyvirt.drivers.remote.localdaemon import DaemonDialer, daemon_command, daemon_socket
from pyvirt.rundirs import user_runtime_dir
from pyvirt.uri import parse_uri


@pytest.fixture(autouse=True)
def _client_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # an in-process test daemon earlier in this worker marks the process as the daemon
    monkeypatch.setattr(base, "_inside_daemon", False)
    monkeypatch.setattr(base, "_in_process", False)
    monkeypatch.delenv(base.IN_PROCESS_ENV, raising=False)


@pytest.mark.parametrize(("uri", "kind"), [
    ("qemu:///system", "daemon"),
    ("qemu:///session", "daemon"),
    ("qemu:///system?foo=bar", "daemon"),
    ("qemu:///nonsense", "daemon"),        # libvirt: the daemon's driver refuses the path
    ("storage:///system", "daemon"),
    ("storage:///session", "daemon"),
    ("qemu:///embed?root=/tmp/x", "local"),
    ("test:///default", "local"),
    ("test:///tmp/node.xml", "local"),
    ("nosuchdriver:///system", "local"),   # no driver anywhere: refused here
    ("qemu+unix:///system", "remote"),
    ("qemu+ssh://host/system", "remote"),
    ("qemu://host/system", "remote"),
    ("test+unix:///default", "remote"),
])
def test_connection_kind(uri: str, kind: str) -> None:
    parsed = parse_uri(uri)
    assert base.connection_kind(parsed) == kind
    # inside pyvirtd, or with the escape hatch, a daemon URI opens the driver here
    local = "local" if kind == "daemon" else kind
    assert base.connection_kind(parsed, daemon=True) == local
    assert base.connection_kind(parsed, in_process=True) == local


def test_escape_hatch_and_daemon_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = parse_uri("qemu:///system")
    monkeypatch.setenv(base.IN_PROCESS_ENV, "0")
    assert base.connection_kind(uri) == "daemon"
    monkeypatch.setenv(base.IN_PROCESS_ENV, "1")
    assert base.connection_kind(uri) == "local"
    monkeypatch.delenv(base.IN_PROCESS_ENV)
    base.set_in_process()
    assert base.connection_kind(uri) == "local"
    base.set_in_process(False)
    base.set_inside_daemon()
    assert base.inside_daemon() and base.connection_kind(uri) == "local"


ENV = {"HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1000"}


@pytest.mark.parametrize(("uri", "readonly", "euid", "env", "expected"), [
    ("qemu:///session", False, 1000, ENV, ("/run/user/1000/pyvirt/libvirt-sock", True)),
    # the session daemon's one socket serves read-only opens too (libvirt's OPEN_USER path)
    ("qemu:///session", True, 1000, ENV, ("/run/user/1000/pyvirt/libvirt-sock", True)),
    ("qemu:///session", False, 1000, {**ENV, "LIBVIRT_AUTOSTART": "0"},
     ("/run/user/1000/pyvirt/libvirt-sock", False)),
    ("qemu:///session", False, 1000, {"HOME": "/home/u"},
     ("/home/u/.cache/pyvirt-runtime/pyvirt/libvirt-sock", True)),
    ("qemu:///session", False, 1000, {"HOME": "/home/u", "XDG_CACHE_HOME": "/c"},
     ("/c/pyvirt-runtime/pyvirt/libvirt-sock", True)),
    ("storage:///session", False, 1000, ENV, ("/run/user/1000/pyvirt/libvirt-sock", True)),
    ("qemu:///system", False, 1000, ENV, ("/run/pyvirt/libvirt-sock", False)),
    ("qemu:///system", True, 1000, ENV, ("/run/pyvirt/libvirt-sock-ro", False)),
    ("qemu:///system", False, 0, ENV, ("/run/pyvirt/libvirt-sock", False)),
    ("qemu:///system", True, 0, ENV, ("/run/pyvirt/libvirt-sock-ro", False)),
    # root's session goes to the system daemon, as libvirt's remoteGetURIDaemonInfo decides
    ("qemu:///session", False, 0, ENV, ("/run/pyvirt/libvirt-sock", False)),
])
def test_daemon_socket(uri: str, readonly: bool, euid: int, env: dict[str, str],
                       expected: tuple[str, bool]) -> None:
    assert daemon_socket(parse_uri(uri), readonly, euid=euid, env=env) == expected


@pytest.mark.parametrize("env", [ENV, {"HOME": "/home/u"},
                                 {"HOME": "/home/u", "XDG_CACHE_HOME": "/c"}])
def test_client_and_session_daemon_agree(monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str]) -> None:
    for key in ("XDG_RUNTIME_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    config = DaemonConfig()
    path, _ = daemon_socket(parse_uri("qemu:///session"), False)
    assert config.rw_socket_path() == path
    assert config.pid_file_path() == os.path.join(user_runtime_dir(), "pyvirtd.pid")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert DaemonConfig().ro_socket_path() == daemon_socket(
        parse_uri("qemu:///system"), True)[0]


def test_no_daemon_is_libvirts_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(localdaemon, "SYSTEM_RUN_DIR", str(tmp_path))
    with pytest.raises(pyvirt.libvirtError) as info:
        pyvirt.openReadOnly("qemu:///system")
    err = info.value
    sock = tmp_path / "libvirt-sock-ro"
    assert err.get_error_code() == c.VIR_ERR_SYSTEM_ERROR
    assert err.get_error_domain() == c.VIR_FROM_RPC
    assert str(err) == f"Failed to connect socket to '{sock}': No such file or directory"


def test_daemon_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(localdaemon.DAEMON_PATH_ENV, raising=False)
    monkeypatch.delenv(localdaemon.TIMEOUT_ENV, raising=False)
    assert daemon_command()[-2:] == ["--daemon", "--timeout=120"]
    monkeypatch.setenv(localdaemon.DAEMON_PATH_ENV, "/opt/pyvirtd")
    monkeypatch.setenv(localdaemon.TIMEOUT_ENV, "3")
    assert daemon_command() == ["/opt/pyvirtd", "--daemon", "--timeout=3"]


def test_daemon_that_cannot_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A daemon command that fails ends the open at once with libvirt's error."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for command in ("/bin/false", str(tmp_path / "missing")):
        monkeypatch.setenv(localdaemon.DAEMON_PATH_ENV, command)
        sock = tmp_path / "pyvirt" / "libvirt-sock"
        start = time.monotonic()
        with pytest.raises(pyvirt.libvirtError) as info:
            DaemonDialer(str(sock), autostart=True).dial()
        assert time.monotonic() - start < 3
        assert str(info.value) == (f"Failed to connect socket to '{sock}': "
                                   "No such file or directory")
        assert (tmp_path / "pyvirt" / "pyvirtd.lock").exists()


def test_no_autostart_for_other_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only a missing or refusing socket starts a daemon (libvirt: ENOENT, ECONNREFUSED)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv(localdaemon.DAEMON_PATH_ENV, str(tmp_path / "never-run"))
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("")
    with pytest.raises(pyvirt.libvirtError, match="Not a directory"):
        DaemonDialer(str(not_a_socket / "sock"), autostart=True).dial()
    assert not (tmp_path / "pyvirt" / "pyvirtd.lock").exists()
