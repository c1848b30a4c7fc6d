"""The ssh transport end to end: pyvirt runs the system ``ssh`` with libvirt's remote command
line, through a private sshd on 127.0.0.1 (generated host key, an authorized key, all files
in a temporary directory; the host's own sshd configuration and service are not touched), to
``nc -U`` on the socket of a private real libvirtd.

URIs: ``test+ssh://root@127.0.0.1:PORT/default?keyfile=...&no_verify=1&no_tty=1
&known_hosts=...&socket=...`` (``known_hosts`` keeps ssh away from ~/.ssh; ``no_tty`` makes
ssh fail instead of prompting).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from interop.test_remote_client_libvirtd import LIBVIRTD, Libvirtd, free_port

SSHD = "/usr/sbin/sshd"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.access(LIBVIRTD, os.X_OK), reason="libvirtd is not installed"),
    pytest.mark.skipif(not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None
                       or shutil.which("ssh-keygen") is None or shutil.which("nc") is None,
                       reason="openssh-server, ssh or nc is not installed"),
]


class Sshd:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.user = getpass.getuser()
        for key in ("host_key", "id", "wrong_id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(base / key)], check=True)
        authorized = base / "authorized_keys"
        authorized.write_text((base / "id.pub").read_text())
        authorized.chmod(0o600)
        self.known_hosts = base / "known_hosts"
        self.config = base / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {base}/host_key\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {base}/sshd.pid\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
            "UsePAM no\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sshd:
        if os.geteuid() == 0:
            # sshd's compiled-in privilege separation directory (the ssh service makes it)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.base / "sshd.log", "wb"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.base / "sshd.log").read_text())
            if "Server listening" in (self.base / "sshd.log").read_text():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def uri(self, daemon: Libvirtd, key: str = "id", scheme: str = "test+ssh",
            path: str = "/default", extra: str = "") -> str:
        return (f"{scheme}://{self.user}@127.0.0.1:{self.port}{path}?keyfile={self.base}/{key}"
                f"&no_verify=1&no_tty=1&known_hosts={self.known_hosts}"
                f"&socket={daemon.sock}{extra}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Libvirtd, Sshd]]:
    daemon = Libvirtd(tmp_path_factory.mktemp("libvirtd")).start()
    sshd = Sshd(tmp_path_factory.mktemp("sshd")).start()
    keeper = pyvirt.open(daemon.uri())
    yield daemon, sshd
    keeper.close()
    sshd.stop()
    daemon.stop()


@pytest.fixture(autouse=True)
def quiet() -> None:
    pyvirt.registerErrorHandler(lambda *_: None, None)


def test_ssh_end_to_end(stack: tuple[Libvirtd, Sshd]) -> None:
    daemon, sshd = stack
    conn = pyvirt.open(sshd.uri(daemon))
    try:
        assert [d.name() for d in conn.listAllDomains()] == ["test"]
        dom = conn.lookupByName("test")
        assert dom.info()[:4] == [pyvirt.VIR_DOMAIN_RUNNING, 8388608, 2097152, 2]
        dom.suspend()
        assert dom.state()[0] == pyvirt.VIR_DOMAIN_PAUSED
        dom.resume()
        assert "<name>test</name>" in dom.XMLDesc(0)
        assert conn.isSecure() == 1 and conn.isEncrypted() == 0
        assert conn.getURI().startswith("test+ssh://")
        child = conn._drv._conn.channel.process
        assert child is not None and child.args[:3] == ["ssh", "-p", str(sshd.port)]
    finally:
        conn.close()
    assert child.poll() is not None      # the ssh process ends with the connection


def test_ssh_read_only(stack: tuple[Libvirtd, Sshd]) -> None:
    daemon, sshd = stack
    conn = pyvirt.openReadOnly(sshd.uri(daemon))
    try:
        assert conn.lookupByName("test").isActive() == 1
        with pytest.raises(pyvirt.libvirtError) as info:
            conn.lookupByName("test").destroy()
        assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED
    finally:
        conn.close()


def test_ssh_wrong_key_is_refused_clearly(stack: tuple[Libvirtd, Sshd]) -> None:
    daemon, sshd = stack
    with pytest.raises(pyvirt.libvirtError) as info:
        pyvirt.open(sshd.uri(daemon, key="wrong_id"))
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == (
        pyvirt.VIR_ERR_SYSTEM_ERROR, pyvirt.VIR_FROM_RPC)
    # ssh's own complaint, as libvirt reports it (the command's stderr in the message)
    assert "Permission denied (publickey)" in err.get_error_message()
    assert err.get_error_message().startswith(("Cannot recv data: ",
                                                "End of file while reading data: "))


def test_virsh_through_the_same_ssh_uri(stack: tuple[Libvirtd, Sshd]) -> None:
    """Real virsh with the same URI and pyvirsh print the same. libvirt passes
    ``known_hosts`` only to its libssh transports, so both go through ``command=``, an ssh
    wrapper that names the temporary known_hosts file (ssh would otherwise write to
    ~/.ssh)."""
    daemon, sshd = stack
    wrapper = sshd.base / "ssh-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec ssh -o UserKnownHostsFile={sshd.known_hosts} "$@"\n')
    wrapper.chmod(0o755)
    uri = sshd.uri(daemon, extra=f"&command={wrapper}")
    repo = Path(__file__).resolve().parents[2]
    real = subprocess.run(["virsh", "-c", uri, "list", "--all"], capture_output=True,
                          text=True, timeout=60)
    ours = subprocess.run([str(repo / ".venv" / "bin" / "pyvirsh"), "-c", uri, "list",
                           "--all"], capture_output=True, text=True, timeout=60)
    assert real.returncode == 0, real.stderr
    assert (ours.returncode, ours.stdout) == (0, real.stdout)
