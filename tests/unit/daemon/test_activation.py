"""systemd socket activation (pyvirt.daemon.activation): reading LISTEN_*, matching the
passed sockets to pyvirtd's listeners by name or address, serving them without touching
their files, and sd_notify's READY=1."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt import libvirtError
from pyvirt.daemon import activation as act
from pyvirt.daemon.activation import Activation, notify, role_of_name
from unit.daemon.support import REPO, InProcessDaemon, RawClient


def _unix_listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(8)
    return sock


def _tcp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.mark.parametrize(("name", "role"), [
    ("pyvirtd.socket", act.RW), ("pyvirtd-ro.socket", act.RO),
    ("pyvirtd-tcp.socket", act.TCP), ("pyvirtd-tls.socket", act.TLS),
    ("pyvirtd-admin.socket", act.ADMIN),
    # libvirtd's own unit names: pyvirtd may stand in for it
    ("libvirtd.socket", act.RW), ("libvirtd-ro.socket", act.RO),
    ("libvirtd-tls.socket", act.TLS),
    ("virtqemud.socket", None), ("unknown", None), ("pyvirtd-ro", None), ("", None),
])
def test_role_of_name(name: str, role: str | None) -> None:
    assert role_of_name(name) == role


@pytest.mark.parametrize("env", [
    {},                                                   # not activated
    {"LISTEN_PID": "1", "LISTEN_FDS": "2"},               # another process's
    {"LISTEN_PID": "x", "LISTEN_FDS": "2"},               # malformed: ignored as libvirt
    {"LISTEN_PID": "4242"},                               # no LISTEN_FDS
    {"LISTEN_PID": "4242", "LISTEN_FDS": "two"},
])
def test_not_activated(env: dict[str, str]) -> None:
    before = dict(env)
    assert Activation.from_environ(env, pid=4242) is None
    assert env == before    # a variable meant for another process is left alone


# Runs in a child whose fds 3 and 4 are the sockets, as systemd arranges them.
_CHILD = r"""
import fcntl, json, os, socket, subprocess, sys
from pyvirt.daemon.activation import Activation
rw = socket.socket(socket.AF_UNIX); rw.bind(sys.argv[1]); rw.listen(1)
ro = socket.socket(socket.AF_UNIX); ro.bind(sys.argv[2]); ro.listen(1)
high = [fcntl.fcntl(s, fcntl.F_DUPFD, 10) for s in (rw, ro)]   # clear of 3 and 4 first
rw.close(); ro.close()
for target, fd in zip((3, 4), high):
    os.dup2(fd, target); os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="2", LISTEN_FDNAMES=sys.argv[3])
try:
    a = Activation.from_environ()
except Exception as exc:
    print(json.dumps({"error": str(exc), "open": [os.path.exists(f"/proc/self/fd/{fd}")
                                                  for fd in (3, 4)]}))
    sys.exit(0)
child_env = subprocess.run(["env"], capture_output=True, text=True).stdout
claimed = a.claim({}, {})
print(json.dumps({
    "roles": {r: [s.getsockname() for s in socks] for r, socks in claimed.items()},
    "inheritable": [os.get_inheritable(fd) for fd in (3, 4)],
    "environ": sorted(k for k in os.environ if k.startswith("LISTEN_")),
    "child_env": sorted(l.split("=")[0] for l in child_env.splitlines()
                        if l.startswith("LISTEN_")),
}))
"""


def _child(tmp_path: Path, names: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "rw"), str(tmp_path / "ro"), names],
        capture_output=True, text=True, timeout=30,
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_from_environ_in_an_activated_process(tmp_path: Path) -> None:
    got = _child(tmp_path, "pyvirtd.socket:pyvirtd-ro.socket")
    assert got["roles"] == {"rw": [str(tmp_path / "rw")], "ro": [str(tmp_path / "ro")]}
    assert got["inheritable"] == [False, False]     # guests never inherit them
    assert got["environ"] == [] and got["child_env"] == []


def test_fd_names_must_match_the_count(tmp_path: Path) -> None:
    got = _child(tmp_path, "pyvirtd.socket")
    assert got == {"error": "internal error: Expecting 2 FD names but got 1",
                   "open": [False, False]}


def test_claim_by_name_address_and_port(tmp_path: Path) -> None:
    rw = _unix_listener(tmp_path / "custom-rw")      # named: any path will do
    ro = _unix_listener(tmp_path / "libvirt-sock-ro")  # unnamed: matched by its path
    tcp = _tcp_listener()                              # "unknown": matched by its port
    admin = _unix_listener(tmp_path / "admin")
    a = Activation([(rw.detach(), "pyvirtd.socket"), (ro.detach(), None),
                    (tcp.fileno(), "unknown"), (admin.fileno(), "libvirtd-admin.socket")])
    port = tcp.getsockname()[1]
    tcp.detach()
    admin.detach()
    claimed = a.claim({act.RW: str(tmp_path / "libvirt-sock"),
                       act.RO: str(tmp_path / "libvirt-sock-ro")},
                      {act.TCP: port, act.TLS: 1})
    try:
        assert {role: [s.getsockname() for s in socks] for role, socks in claimed.items()} \
            == {act.RW: [str(tmp_path / "custom-rw")],
                act.RO: [str(tmp_path / "libvirt-sock-ro")],
                act.TCP: [("127.0.0.1", port)],
                act.ADMIN: [str(tmp_path / "admin")]}
        assert a.fds == []
    finally:
        for socks in claimed.values():
            for s in socks:
                s.close()


def test_unclaimed_socket_fails_and_closes_everything(tmp_path: Path) -> None:
    rw = _unix_listener(tmp_path / "a")
    stray = _unix_listener(tmp_path / "b")
    fds = [rw.detach(), stray.detach()]
    a = Activation([(fds[0], "pyvirtd.socket"), (fds[1], "virtqemud.socket")])
    with pytest.raises(libvirtError, match="Some activation file descriptors are unclaimed"):
        a.claim({act.RW: str(tmp_path / "x")}, {})
    assert not any(_is_open(fd) for fd in fds)


def test_daemon_serves_inherited_sockets_and_leaves_them(tmp_path: Path) -> None:
    rw_path, ro_path = tmp_path / "sockets" / "rw", tmp_path / "sockets" / "ro"
    rw_path.parent.mkdir()
    rw, ro = _unix_listener(rw_path), _unix_listener(ro_path)
    os.chmod(rw_path, 0o600)    # the socket unit's SocketMode
    os.chmod(ro_path, 0o666)
    activation = Activation([(rw.detach(), "pyvirtd.socket"),
                             (ro.detach(), "pyvirtd-ro.socket")])
    with InProcessDaemon(tmp_path / "root", activation) as d:
        assert d.daemon is not None
        listeners = {li.name: li for li in d.daemon.listeners}
        assert sorted(listeners) == ["unix-ro", "unix-rw"]
        assert listeners["unix-rw"].perms == 0o600 and listeners["unix-ro"].perms == 0o666
        # no sockets of its own at the configured paths
        assert not os.path.exists(d.rw) and not os.path.exists(d.ro)
        with RawClient(str(rw_path)).open() as client:
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
        with RawClient(str(ro_path)).open() as client:
            assert client.result("CONNECT_GET_TYPE") == {"type": "TEST"}
            assert client.call("DOMAIN_CREATE_XML", {
                "xml_desc": "<domain type='test'><name>x</name><memory>1024</memory>"
                            "<os><type>hvm</type></os></domain>",
                "flags": 0}).status != 0          # read-only: refused
    # systemd owns the files: still there, mode untouched
    for path, mode in ((rw_path, 0o600), (ro_path, 0o666)):
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.lstat(path).st_mode) == mode


def test_listen_refused_with_activation(tmp_path: Path) -> None:
    rw = _unix_listener(tmp_path / "rw")
    fd = rw.detach()
    daemon = InProcessDaemon(tmp_path / "root", Activation([(fd, "pyvirtd.socket")]),
                             listen=True)
    with pytest.raises(libvirtError, match="--listen parameter not permitted with systemd "
                                           "activation sockets"):
        daemon.start()
    assert not _is_open(fd)


def test_notify(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "notify"))
    receiver.settimeout(5)
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "notify")})
    assert receiver.recv(64) == b"READY=1"
    receiver.close()
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"pyvirt-test-notify-{os.getpid()}"
    abstract.bind("\0" + name)
    abstract.settimeout(5)
    assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
    assert abstract.recv(64) == b"READY=1"
    abstract.close()
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody")})


def test_not_a_socket(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    ro = _unix_listener(tmp_path / "ro").detach()
    with pytest.raises(libvirtError, match=rf"activation file descriptor {fd} "
                                           r"\(pyvirtd.socket\) is not a socket"):
        Activation([(fd, "pyvirtd.socket"), (ro, "pyvirtd-ro.socket")]).claim({}, {})
    assert not _is_open(fd) and not _is_open(ro)
