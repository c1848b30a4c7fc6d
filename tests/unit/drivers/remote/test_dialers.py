"""Transports: which dialer a URI gets, the daemon socket libvirt's remote_sockets.c would
pick, the ssh command line libvirt runs, and libvirt's errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import pyvirt
from pyvirt.drivers.remote import dialers as d
from pyvirt.uri import parse_uri

# The remote command the reference captured for qemu+ssh://host/system (section 9.6).
AUTO_SYSTEM = (
    "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
    "virt-ssh-helper 'qemu:///system'; else    if 'nc' -q 2>&1 | grep \"requires an "
    "argument\" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'nc' $ARG -U "
    "/var/run/libvirt/libvirt-sock; fi'")
NETCAT_SYSTEM = (
    "sh -c 'if 'nc' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then "
    "ARG=-q0;else ARG=;fi;'nc' $ARG -U /var/run/libvirt/libvirt-sock'")


def dialer(uri: str, flags: int = 0) -> d.Dialer:
    parsed = parse_uri(uri)
    from pyvirt.uri import split_scheme

    return d.dialer_for(parsed, split_scheme(parsed)[1], flags)


# ---- unix socket paths (remote_sockets.c) ---------------------------------------------


def test_system_socket_paths() -> None:
    none = lambda _p: False  # noqa: E731
    assert d.unix_socket_path("unix", "auto", "qemu", 0, exists=none) == \
        "/var/run/libvirt/libvirt-sock"
    assert d.unix_socket_path("unix", "auto", "qemu", d.OPEN_RO, exists=none) == \
        "/var/run/libvirt/libvirt-sock-ro"
    # a modular daemon's socket wins when it exists
    modular = lambda p: p.endswith("virtqemud-sock")  # noqa: E731
    assert d.unix_socket_path("unix", "auto", "qemu", 0, exists=modular) == \
        "/var/run/libvirt/virtqemud-sock"
    assert d.unix_socket_path("unix", "direct", "network", d.OPEN_RO, exists=none) == \
        "/var/run/libvirt/virtnetworkd-sock-ro"
    assert d.unix_socket_path("unix", "legacy", "qemu", 0, exists=modular) == \
        "/var/run/libvirt/libvirt-sock"
    # remote transports always name libvirtd's socket (virt-ssh-helper decides remotely)
    assert d.unix_socket_path("ssh", "auto", "qemu", 0, exists=modular) == \
        "/var/run/libvirt/libvirt-sock"


def test_session_socket_paths() -> None:
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert d.unix_socket_path("unix", "auto", "qemu", d.OPEN_USER, exists=lambda _p: False,
                              env=env) == "/run/user/1000/libvirt/libvirt-sock"
    assert d.unix_socket_path("unix", "direct", "qemu", d.OPEN_USER, env=env) == \
        "/run/user/1000/libvirt/virtqemud-sock"
    assert d.user_runtime_dir({"HOME": "/home/u"}) == "/home/u/.cache/libvirt"


def test_direct_mode_errors() -> None:
    with pytest.raises(pyvirt.libvirtError) as info:
        d.unix_socket_path("ssh", "direct", "qemu", 0)
    assert info.value.get_error_message() == (
        "Operation not supported: Cannot use direct socket mode for ssh transport")
    assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED
    with pytest.raises(pyvirt.libvirtError):
        d.unix_socket_path("unix", "direct", None, 0)


def test_dialer_choice() -> None:
    unix = dialer("test+unix:///default?socket=/tmp/x.sock")
    assert isinstance(unix, d.UnixDialer) and unix.path == "/tmp/x.sock"
    tcp = dialer("test+tcp://h.example/default")
    assert isinstance(tcp, d.TCPDialer) and (tcp.host, tcp.port) == ("h.example", "16509")
    assert dialer("test+tcp://h:1234/default").port == "1234"  # type: ignore[attr-defined]
    ext = dialer("test+ext:///default?command=/bin/true")
    assert isinstance(ext, d.CommandDialer) and ext.argv == ["/bin/true"]


def test_bad_parameters() -> None:
    with pytest.raises(pyvirt.libvirtError) as info:
        dialer("test+ext:///default")
    assert info.value.get_error_message() == (
        "invalid argument: remote_open: for 'ext' transport, command is required")
    with pytest.raises(pyvirt.libvirtError) as info:
        dialer("qemu+ssh://h/system?no_verify=yes")
    assert info.value.get_error_message() == (
        "invalid argument: Failed to parse value of URI component no_verify")
    with pytest.raises(pyvirt.libvirtError) as info:
        dialer("qemu+unix:///system?mode=fast")
    assert info.value.get_error_message() == "invalid argument: Unknown remote mode 'fast'"


# ---- ssh (virNetClientSSHHelperCommand, virNetSocketNewConnectSSH) --------------------------


def test_ssh_command_line_as_libvirt_builds_it() -> None:
    ssh = dialer("qemu+ssh://root@h.example:2222/system")
    assert isinstance(ssh, d.CommandDialer)
    assert ssh.argv == ["ssh", "-p", "2222", "-l", "root", "-T", "-e", "none", "--",
                        "h.example", AUTO_SYSTEM]
    assert ssh.env is not None and ssh.env["LC_ALL"] == "C"


def test_ssh_options() -> None:
    ssh = dialer("qemu+ssh://h/system?keyfile=/k&no_verify=1&no_tty=1&known_hosts=/kh"
                 "&command=/usr/bin/myssh")
    assert ssh.argv[:-1] == [  # type: ignore[attr-defined]
        "/usr/bin/myssh", "-i", "/k", "-T", "-e", "none", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/kh", "--", "h"]


def test_ssh_proxies() -> None:
    # ?socket= always means netcat, with that socket
    argv = dialer("test+ssh://h/default?socket=/tmp/s").argv  # type: ignore[attr-defined]
    assert argv[-1] == NETCAT_SYSTEM.replace("/var/run/libvirt/libvirt-sock", "/tmp/s")
    assert dialer("qemu+ssh://h/system?proxy=netcat").argv[-1] == NETCAT_SYSTEM  # type: ignore[attr-defined]
    assert dialer("qemu+ssh://h/system?proxy=native").argv[-1] == (  # type: ignore[attr-defined]
        "sh -c 'virt-ssh-helper 'qemu:///system''")
    # read-only: the helper's -r and the -ro socket for netcat
    ro = dialer("qemu+ssh://h/system", d.OPEN_RO).argv[-1]  # type: ignore[attr-defined]
    assert "virt-ssh-helper -r 'qemu:///system'" in ro and "libvirt-sock-ro" in ro
    # netcat= picks the netcat proxy, with that binary, escaped twice
    cmd = dialer("qemu+ssh://h/system?netcat=/opt/my%20nc").argv[-1]  # type: ignore[attr-defined]
    quoted = d.escape_shell(d.escape_shell("/opt/my nc"))
    assert quoted == "''\\''/opt/my nc'\\'''"
    assert cmd.startswith(f"sh -c 'if '{quoted}' -q")
    with pytest.raises(pyvirt.libvirtError):
        dialer("qemu+ssh://h/system?proxy=native&netcat=nc")


def test_escape_shell() -> None:
    assert d.escape_shell("qemu:///system") == "qemu:///system"
    assert d.escape_shell("") == "''"
    assert d.escape_shell("a b") == "'a b'"
    assert d.escape_shell("it's") == "'it'\\''s'"


# ---- dialing --------------------------------------------------------------------------------


def test_unix_connect_failure_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(pyvirt.libvirtError) as info:
        d.UnixDialer(str(missing)).dial()
    err = info.value
    assert err.get_error_message() == (
        f"Failed to connect socket to '{missing}': No such file or directory")
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_SYSTEM_ERROR, pyvirt.VIR_FROM_RPC)


def test_tcp_connect_failure_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # nothing listens after the close
    with pytest.raises(pyvirt.libvirtError) as info:
        d.TCPDialer("127.0.0.1", str(port)).dial()
    assert info.value.get_error_message() == (
        f"unable to connect to server at '127.0.0.1:{port}': Connection refused")


def test_command_channel_and_stderr() -> None:
    chan = d.CommandDialer(["sh", "-c", "echo oops >&2; read x; echo \"$x\""]).dial()
    try:
        chan.sock.setblocking(True)
        chan.sock.sendall(b"ping\n")
        assert chan.sock.recv(100) == b"ping\n"
        assert chan.sock.recv(100) == b""       # the command exited
        assert chan.stderr_text() == "oops"
    finally:
        chan.close()
    assert chan.process is not None and chan.process.poll() is not None


def test_tls_needs_the_ca_certificate(tmp_path: Path) -> None:
    tls = d.TLSDialer("127.0.0.1", "1", pkipath=str(tmp_path))
    with pytest.raises(pyvirt.libvirtError) as info:
        tls.dial()
    assert info.value.get_error_message() == (
        f"Cannot read CA certificate '{tmp_path}/cacert.pem': No such file or directory")


def test_pki_paths(tmp_path: Path) -> None:
    assert d.pki_paths(None, False) == (d.CACERT, d.CLIENTCERT, d.CLIENTKEY)
    assert d.pki_paths("/p", True) == ("/p/cacert.pem", "/p/clientcert.pem",
                                       "/p/clientkey.pem")
    user = tmp_path / ".pki" / "libvirt"
    user.mkdir(parents=True)
    (user / "cacert.pem").write_text("")
    assert d.pki_paths(None, True, home=str(tmp_path)) == (
        str(user / "cacert.pem"), d.CLIENTCERT, d.CLIENTKEY)


def test_open_missing_socket_through_the_api(tmp_path: Path) -> None:
    pyvirt.registerErrorHandler(lambda *_: None, None)
    with pytest.raises(pyvirt.libvirtError) as info:
        pyvirt.open(f"test+unix:///default?socket={tmp_path}/none")
    assert "Failed to connect socket to" in info.value.get_error_message()
    assert os.path.basename(str(tmp_path)) in info.value.get_error_message()
