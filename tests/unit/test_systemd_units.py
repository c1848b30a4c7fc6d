"""The systemd units in data/systemd: well-formed INI, and consistent with pyvirtd (socket
paths and ports, the fd names its activation code expects, the command line it accepts,
Type=notify and KillMode=process as libvirtd.service)."""

from __future__ import annotations

import configparser
import os
import shlex
from pathlib import Path

import pytest

from pyvirt.daemon import activation as act
from pyvirt.daemon.config import DaemonConfig
from pyvirt.daemon.main import build_parser
from pyvirt.rundirs import ADMIN_SOCKET, RO_SOCKET, RW_SOCKET, SYSTEM_RUN_DIR

UNITS = Path(__file__).resolve().parents[2] / "data" / "systemd"


def _units() -> dict[str, dict[str, dict[str, list[str]]]]:
    """Every unit as section -> key -> values (systemd keys may repeat)."""
    result: dict[str, dict[str, dict[str, list[str]]]] = {}
    for path in sorted(UNITS.iterdir()):
        # configparser must read it (strict=False: systemd's repeated keys)
        configparser.ConfigParser(strict=False, interpolation=None).read(path)
        sections: dict[str, dict[str, list[str]]] = {}
        current: dict[str, list[str]] | None = None
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                assert line.endswith("]"), line
                current = sections.setdefault(line[1:-1], {})
                continue
            assert current is not None and "=" in line, (path.name, line)
            key, value = line.split("=", 1)
            current.setdefault(key.strip(), []).append(value.strip())
        result[path.name] = sections
    return result


def test_unit_set() -> None:
    assert sorted(_units()) == ["pyvirtd-admin.socket", "pyvirtd-ro.socket",
                                "pyvirtd-tcp.socket", "pyvirtd-tls.socket", "pyvirtd.service",
                                "pyvirtd.socket"]


def test_service() -> None:
    units = _units()
    service = units["pyvirtd.service"]["Service"]
    assert service["Type"] == ["notify"]          # pyvirtd sends READY=1
    assert service["KillMode"] == ["process"]     # guests survive a restart
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert os.path.isabs(argv[0]) and os.path.basename(argv[0]) == "pyvirtd"
    # $PYVIRTD_ARGS from Environment= (an EnvironmentFile may override it)
    env = dict(item.split("=", 1) for e in service["Environment"] for item in shlex.split(e))
    args = [a for word in argv[1:] for a in shlex.split(env[word[1:]] if word[0] == "$"
                                                       else word)]
    parsed = build_parser().parse_args(args)
    assert parsed.timeout == 120 and not parsed.listen and not parsed.daemon
    unit, install = units["pyvirtd.service"]["Unit"], units["pyvirtd.service"]["Install"]
    sockets = {"pyvirtd.socket", "pyvirtd-ro.socket", "pyvirtd-admin.socket"}
    assert set(unit["Wants"]) == sockets
    assert set(install["Also"]) == sockets


@pytest.mark.parametrize(("name", "listen"), [
    ("pyvirtd.socket", os.path.join(SYSTEM_RUN_DIR, RW_SOCKET)),
    ("pyvirtd-ro.socket", os.path.join(SYSTEM_RUN_DIR, RO_SOCKET)),
    ("pyvirtd-admin.socket", os.path.join(SYSTEM_RUN_DIR, ADMIN_SOCKET)),
    ("pyvirtd-tcp.socket", DaemonConfig().tcp_port),
    ("pyvirtd-tls.socket", DaemonConfig().tls_port),
])
def test_sockets(name: str, listen: str) -> None:
    unit = _units()[name]
    assert unit["Socket"]["ListenStream"] == [listen]
    assert unit["Socket"]["Service"] == ["pyvirtd.service"]
    assert unit["Install"]["WantedBy"] == ["sockets.target"]
    # systemd names the fd after the unit: pyvirtd must know it
    assert act.role_of_name(name) is not None
    if name != "pyvirtd.socket":
        assert unit["Unit"]["BindsTo"] == ["pyvirtd.socket"]


def test_socket_modes() -> None:
    units = _units()
    # the read-write socket is root's alone (pyvirtd has no polkit), the read-only anyone's
    assert units["pyvirtd.socket"]["Socket"]["SocketMode"] == ["0600"]
    assert units["pyvirtd-ro.socket"]["Socket"]["SocketMode"] == ["0666"]
    assert units["pyvirtd-admin.socket"]["Socket"]["SocketMode"] == ["0600"]


def test_system_daemon_paths_agree() -> None:
    """The units' paths are where root's pyvirtd and its clients look."""
    from unittest import mock

    with mock.patch("os.geteuid", return_value=0):
        config = DaemonConfig()
        assert config.rw_socket_path() == os.path.join(SYSTEM_RUN_DIR, RW_SOCKET)
        assert config.ro_socket_path() == os.path.join(SYSTEM_RUN_DIR, RO_SOCKET)
        assert config.admin_socket_path() == os.path.join(SYSTEM_RUN_DIR, ADMIN_SOCKET)
