"""``qemu+ssh://`` to pyvirtd through a real sshd on loopback (the private sshd of
test_remote_client_ssh: generated keys, everything in tmp) with key authentication: pyvirt's
remote driver runs the system ssh with libvirt's command line, ``nc -U`` reaches pyvirtd's
socket, and a TCG guest is defined, started and destroyed on the daemon's QEMU driver; a
wrong key is refused with ssh's own message."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from integration.guest import GUEST_APPEND, ensure_test_guest
from interop.test_remote_client_ssh import SSHD, Sshd
from unit.daemon.support import Pyvirtd

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None
                       or shutil.which("ssh-keygen") is None or shutil.which("nc") is None,
                       reason="openssh-server, ssh or nc is not installed"),
    pytest.mark.skipif(not os.access("/usr/bin/qemu-system-x86_64", os.X_OK),
                       reason="qemu-system-x86_64 is missing"),
]

GUEST = """<domain type='qemu'>
  <name>ssh-guest</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel>
  <initrd>{initrd}</initrd><cmdline>{append}</cmdline></os>
  <devices><serial type='pty'/></devices>
</domain>
"""


class _Target:
    """What Sshd.uri() needs of a daemon: its socket."""

    def __init__(self, sock: str) -> None:
        self.sock = sock


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pyvirtd, Sshd]]:
    daemon = Pyvirtd(tmp_path_factory.mktemp("pyvirtd")).start()
    sshd = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield daemon, sshd
    sshd.stop()
    daemon.stop()


def test_qemu_over_ssh_to_pyvirtd(stack: tuple[Pyvirtd, Sshd]) -> None:
    daemon, sshd = stack
    kernel, initrd = ensure_test_guest()
    uri = sshd.uri(_Target(daemon.rw), scheme="qemu+ssh", path="/system")  # type: ignore[arg-type]
    conn = pyvirt.open(uri)
    try:
        assert conn.getType() == "QEMU"
        assert conn.getURI().startswith("qemu+ssh://")
        dom = conn.defineXML(GUEST.format(kernel=kernel, initrd=initrd, append=GUEST_APPEND))
        dom.create()
        assert dom.isActive() == 1
        assert [d.name() for d in conn.listAllDomains(
            pyvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)] == ["ssh-guest"]
        dom.suspend()
        assert dom.state() == [pyvirt.VIR_DOMAIN_PAUSED, pyvirt.VIR_DOMAIN_PAUSED_USER]
        dom.destroy()
        assert dom.state()[0] == pyvirt.VIR_DOMAIN_SHUTOFF
        dom.undefine()
        assert conn.listAllDomains() == []
    finally:
        conn.close()


def test_wrong_key_is_refused_clearly(stack: tuple[Pyvirtd, Sshd]) -> None:
    daemon, sshd = stack
    pyvirt.registerErrorHandler(lambda *_: None, None)
    uri = sshd.uri(_Target(daemon.rw), key="wrong_id", scheme="qemu+ssh",  # type: ignore[arg-type]
                   path="/system")
    with pytest.raises(pyvirt.libvirtError) as info:
        pyvirt.open(uri)
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_SYSTEM_ERROR, pyvirt.VIR_FROM_RPC)
    assert "Permission denied (publickey)" in err.get_error_message()
    assert daemon.alive()


def test_read_only_socket_over_ssh(stack: tuple[Pyvirtd, Sshd], tmp_path: Path) -> None:
    daemon, sshd = stack
    conn = pyvirt.openReadOnly(sshd.uri(_Target(daemon.ro)))  # type: ignore[arg-type]
    try:
        assert conn.lookupByName("test").isActive() == 1
        with pytest.raises(pyvirt.libvirtError) as info:
            conn.lookupByName("test").suspend()
        assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED
    finally:
        conn.close()
