"""Root's ``qemu:///session``, as libvirt treats it: the client sends it to the system daemon
(remoteGetURIDaemonInfo asks for the user daemon only when euid > 0), and the privileged QEMU
driver serves ``/session`` as the system driver (virConnectValidateURIPath's exception for
qemu), while an unprivileged one has no ``/system``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt import libvirtError
from pyvirt.drivers.qemu import driver_paths
from pyvirt.drivers.qemu.driver import QemuDriver
from pyvirt.drivers.qemu.paths import daemon_root, set_daemon_root
from pyvirt.drivers.remote.localdaemon import daemon_socket
from pyvirt.uri import parse_uri
from unit.daemon.support import InProcessDaemon, RawClient


@pytest.fixture
def no_daemon_root() -> Iterator[None]:
    saved = daemon_root()
    set_daemon_root(None)
    try:
        yield
    finally:
        set_daemon_root(saved)


@pytest.fixture
def user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.usefixtures("no_daemon_root")
def test_privileged_session_is_the_system_driver(user_dirs: Path) -> None:
    session = driver_paths(parse_uri("qemu:///session"), privileged=True)
    system = driver_paths(parse_uri("qemu:///system"), privileged=True)
    assert session.mode == system.mode == "system"
    assert session.config_dir == system.config_dir == "/etc/pyvirt/qemu"
    assert session.state_dir == "/run/pyvirt/qemu"


@pytest.mark.usefixtures("no_daemon_root")
def test_unprivileged_session_is_the_users(user_dirs: Path) -> None:
    paths = driver_paths(parse_uri("qemu:///session"), privileged=False)
    assert paths.mode == "session"
    assert paths.config_dir == str(user_dirs / ".config" / "pyvirt" / "qemu")


@pytest.mark.usefixtures("no_daemon_root")
@pytest.mark.parametrize(("uri", "privileged", "message"), [
    ("qemu:///system", False, "unexpected QEMU URI path '/system', try qemu:///session"),
    ("qemu:///other", True, "unexpected QEMU URI path '/other', try qemu:///system"),
    ("qemu:///", True, "unexpected QEMU URI path '/', try qemu:///system"),
])
def test_other_paths_refused(uri: str, privileged: bool, message: str) -> None:
    with pytest.raises(libvirtError, match=message):
        driver_paths(parse_uri(uri), privileged=privileged)


@pytest.mark.parametrize("readonly", [False, True])
def test_root_client_dials_the_system_daemon(readonly: bool) -> None:
    path, autostart = daemon_socket(parse_uri("qemu:///session"), readonly, euid=0,
                                    env={"HOME": "/root", "XDG_RUNTIME_DIR": "/run/user/0"})
    assert path == ("/run/pyvirt/libvirt-sock-ro" if readonly else "/run/pyvirt/libvirt-sock")
    assert not autostart      # the system daemon is never autostarted


def test_root_daemon_serves_session_as_system(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the privileged driver needs root")
    with InProcessDaemon(tmp_path) as d:
        assert d.daemon is not None
        # opened first, so nothing else could have chosen the driver's mode
        with RawClient(d.rw).open("qemu:///session") as client:
            assert client.result("CONNECT_GET_URI") == {"uri": "qemu:///session"}
            assert client.result("CONNECT_GET_TYPE") == {"type": "QEMU"}
        session = d.daemon.open_connection("qemu:///session", False)
        system = d.daemon.open_connection("qemu:///system", False)
        try:
            drv = session._drv
            assert drv is system._drv             # one driver: the system one
            assert isinstance(drv, QemuDriver) and drv.paths.mode == "system"
        finally:
            session.close()
            system.close()
