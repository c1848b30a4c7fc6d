"""Real virsh against ``qemu:///system`` inside a pyvirtd started with ``--root``: a TCG
guest defined, started (it boots to its marker), inspected, suspended and resumed with
events, destroyed and undefined; and a guest left running when the daemon gets SIGTERM
is still there, and controllable, for the next daemon."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.guest import GUEST_MARKER, ensure_test_guest
from integration.test_qemu_driver import domain_xml
from unit.daemon.support import Pyvirtd

QEMU = "/usr/bin/qemu-system-x86_64"
pytestmark = [
    pytest.mark.integration, pytest.mark.interop,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
    pytest.mark.skipif(shutil.which("virsh") is None, reason="virsh is missing"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    # VNC ports of their own for this pytest-xdist worker (as integration.guest does).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    low = 5900 + 100 * (int(worker[2:]) if worker[2:].isdigit() else 0)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "qemu.conf").write_text(
        f"remote_display_port_min = {low}\nremote_display_port_max = {low + 99}\n")
    return tmp_path


@pytest.fixture
def daemon(root: Path) -> Iterator[Pyvirtd]:
    with Pyvirtd(root) as d:
        yield d
    assert "Traceback" not in d.log_text()


def virsh(d: Pyvirtd, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-c", d.uri("qemu:///system"), *args],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout + proc.stderr


def wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_tcg_guest_lifecycle(daemon: Pyvirtd, tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    serial = tmp_path / "serial.log"
    xml = tmp_path / "guest.xml"
    xml.write_text(domain_xml("pvd-guest", serial, kernel, initrd))
    assert "Domain 'pvd-guest' defined" in virsh(daemon, "define", str(xml))
    assert "shut off" in virsh(daemon, "domstate", "pvd-guest")
    events = subprocess.Popen(["virsh", "-c", daemon.uri("qemu:///system"), "event",
                               "--domain", "pvd-guest", "--event", "lifecycle", "--loop",
                               "--timeout", "40"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        assert "Domain 'pvd-guest' started" in virsh(daemon, "start", "pvd-guest")
        wait_for(serial, GUEST_MARKER)
        info = virsh(daemon, "dominfo", "pvd-guest")
        assert "State:          running" in info and "Max memory:     262144 KiB" in info
        assert "pvd-guest" in virsh(daemon, "list")
        virsh(daemon, "suspend", "pvd-guest")
        assert virsh(daemon, "domstate", "pvd-guest", "--reason").strip() == \
            "paused (user)"
        virsh(daemon, "resume", "pvd-guest")
        assert "<name>pvd-guest</name>" in virsh(daemon, "dumpxml", "pvd-guest")
        assert "Domain 'pvd-guest' destroyed" in virsh(daemon, "destroy", "pvd-guest")
        assert "shut off" in virsh(daemon, "domstate", "pvd-guest")
    finally:
        events.terminate()
        out, _ = events.communicate(timeout=30)
    for line in ("Started Booted", "Suspended Paused", "Resumed Unpaused",
                 "Stopped Destroyed"):
        assert f"event 'lifecycle' for domain 'pvd-guest': {line}" in out
    assert "undefined" in virsh(daemon, "undefine", "pvd-guest")
    # the QEMU driver's state lives under --root
    assert (daemon.root / "run" / "qemu").is_dir() and (daemon.root / "etc" / "qemu").is_dir()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_guest_survives_daemon_restart(root: Path, tmp_path: Path, sig: int) -> None:
    """SIGTERM shuts pyvirtd down cleanly, SIGKILL just kills it: either way the guest
    runs on, and the next pyvirtd (stale sockets and pid file notwithstanding) finds it."""
    kernel, initrd = ensure_test_guest()
    serial = tmp_path / "serial.log"
    xml = tmp_path / "guest.xml"
    xml.write_text(domain_xml("pvd-keep", serial, kernel, initrd))
    with Pyvirtd(root) as first:
        virsh(first, "create", str(xml))
        wait_for(serial, GUEST_MARKER)
        code = first.stop(sig)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    try:
        with Pyvirtd(root) as second:
            assert "running" in virsh(second, "domstate", "pvd-keep")
            virsh(second, "destroy", "pvd-keep")
            assert "pvd-keep" not in virsh(second, "list", "--all")
    finally:
        pid = root / "run" / "qemu" / "pvd-keep.pid"
        if pid.exists():
            try:
                os.kill(int(pid.read_text()), 9)
            except (ValueError, ProcessLookupError):
                pass


CONSOLE_XML = """<domain type='qemu'>
  <name>pvd-console</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{append}</cmdline>
  </os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
"""

CONSOLE_PY = """
import sys, threading, time, libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName("pvd-console")
st = c.newStream(0)
d.openConsole(None, st, 0)
seen = []
def reader():
    while True:
        try:
            chunk = st.recv(4096)
        except libvirt.libvirtError:
            return
        if not isinstance(chunk, bytes) or not chunk:
            return
        seen.append(chunk)
threading.Thread(target=reader, daemon=True).start()
text = lambda: b"".join(seen).decode(errors="replace")
deadline = time.time() + 60
while sys.argv[2] not in text() and time.time() < deadline:
    st.send(b"\\n")
    time.sleep(0.5)
st.send(b"echo pyvirtd-$((6 * 7))\\n")
deadline = time.time() + 20
while "pyvirtd-42" not in text() and time.time() < deadline:
    time.sleep(0.1)
st.abort()
print("pyvirtd-42" in text())
"""


def test_console_and_screenshot_streams(daemon: Pyvirtd, tmp_path: Path) -> None:
    """Streams through pyvirtd: real libvirt-python talks to the guest's shell on its
    console; real virsh saves a screenshot."""
    from integration.guest import GUEST_APPEND, GUEST_PROMPT

    kernel, initrd = ensure_test_guest()
    xml = tmp_path / "console.xml"
    xml.write_text(CONSOLE_XML.format(kernel=kernel, initrd=initrd, append=GUEST_APPEND))
    virsh(daemon, "create", str(xml))
    try:
        proc = subprocess.run(["/usr/bin/python3", "-c", CONSOLE_PY,
                               daemon.uri("qemu:///system"), GUEST_PROMPT],
                              capture_output=True, text=True, timeout=120)
        assert proc.stdout.strip() == "True", proc.stderr
        # and real `virsh console` on a terminal: type a command, see its answer, ^] out
        import pexpect

        child = pexpect.spawn("virsh", ["-c", daemon.uri("qemu:///system"), "console",
                                        "pvd-console"], timeout=30, encoding="utf-8")
        child.expect("Escape character is")
        # The prompt's first bytes may have gone to the previous console client: ask for a
        # fresh one until a whole prompt arrives.
        for _attempt in range(10):
            child.send("\r")
            if child.expect_exact([GUEST_PROMPT, pexpect.TIMEOUT], timeout=5) == 0:
                break
        else:
            raise AssertionError("no shell prompt on the guest's console")
        child.send("echo virsh-$((7 * 6))\r")
        child.expect_exact("virsh-42")
        child.sendcontrol("]")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        shot = tmp_path / "shot.ppm"
        out = virsh(daemon, "screenshot", "pvd-console", str(shot))
        assert "with type of image/x-portable-pixmap" in out
        assert shot.read_bytes().startswith(b"P6\n")
    finally:
        virsh(daemon, "destroy", "pvd-console", check=False)
