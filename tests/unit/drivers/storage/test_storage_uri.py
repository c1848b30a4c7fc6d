"""storage:/// URIs opened in-process (as pyvirtd does): libvirt's rule for the path."""

from __future__ import annotations

import os

import pytest

from pyvirt import constants as c
from pyvirt.drivers.qemu.paths import set_daemon_root
from pyvirt.drivers.storage import connect
from pyvirt.errors import libvirtError
from pyvirt.uri import parse_uri


@pytest.fixture(autouse=True)
def no_daemon_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # an in-process daemon of an earlier test in this worker may have set one
    monkeypatch.setattr("pyvirt.drivers.qemu.paths._daemon_root", None)


@pytest.mark.parametrize("path", ["/session", "/other"])
def test_privileged_driver_serves_only_system(path: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(libvirtError) as info:
        connect(parse_uri(f"storage://{path}"), None, 0)
    assert info.value.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert info.value.get_error_domain() == c.VIR_FROM_STORAGE
    assert str(info.value).endswith(
        f"unexpected storage URI path '{path}', try storage:///system")


def test_unprivileged_driver_serves_only_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(libvirtError, match="unexpected storage URI path '/system', try "
                                           "storage:///session"):
        connect(parse_uri("storage:///system"), None, 0)


def test_rooted_daemon_serves_both(tmp_path: os.PathLike[str]) -> None:
    set_daemon_root(str(tmp_path))
    try:
        for path in ("/system", "/session"):
            conn = connect(parse_uri(f"storage://{path}"), None, 0)
            assert conn.storage.paths.root == str(tmp_path)
            conn.connectClose(None)  # type: ignore[arg-type]
    finally:
        set_daemon_root(None)
