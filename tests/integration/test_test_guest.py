"""The test guest itself, under plain qemu-system-x86_64 with TCG (no pyvirt): it boots to its
marker, powers off on an ACPI power-button press, gets a DHCP lease from user networking, and
answers on its serial console."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration.guest import (
    DHCP_MARKER,
    GUEST_APPEND,
    GUEST_MARKER,
    GUEST_PROMPT,
    ensure_test_guest,
)

QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 60.0
POWEROFF_TIMEOUT = 20.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which(QEMU) is None, reason=f"{QEMU} is not installed"),
]


class Guest:
    """A QEMU process running the test guest; its serial console is QEMU's stdio."""

    def __init__(self, proc: subprocess.Popen[bytes], qmp_path: str) -> None:
        self.proc = proc
        self.qmp_path = qmp_path
        self.started = time.monotonic()
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(4096):
            with self._cond:
                self._buf += chunk
                self._cond.notify_all()

    @property
    def console(self) -> str:
        with self._cond:
            return self._buf.decode(errors="replace")

    def wait_for(self, text: str, timeout: float, count: int = 1) -> float:
        """Seconds since start once the console has shown TEXT COUNT times."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        with self._cond:
            while self._buf.count(needle) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no {text!r} on the console after {timeout} s "
                                         f"(qemu exit status {self.proc.poll()}); console:\n"
                                         + self._buf.decode(errors="replace"))
                self._cond.wait(min(left, 0.5))
        return time.monotonic() - self.started

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def qmp(self, command: str) -> object:
        from qemu.qmp import QMPClient

        async def run() -> object:
            client = QMPClient("pyvirt-test")
            await client.connect(self.qmp_path)
            try:
                return await client.execute(command)
            finally:
                await client.disconnect()

        return asyncio.run(run())


@contextmanager
def booted(*extra: str) -> Iterator[Guest]:
    kernel, initrd = ensure_test_guest()
    # A short directory: unix socket paths are limited to 108 bytes.
    with tempfile.TemporaryDirectory(prefix="pyvirt-guest-") as tmp:
        qmp_path = str(Path(tmp) / "qmp.sock")
        argv = [QEMU, "-machine", "pc,accel=tcg", "-m", "256", "-nodefaults",
                "-display", "none", "-serial", "stdio",
                "-kernel", kernel, "-initrd", initrd, "-append", GUEST_APPEND,
                "-qmp", f"unix:{qmp_path},server=on,wait=off", *extra]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            yield Guest(proc, qmp_path)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()  # always reap our own child
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()


def test_boots_and_powers_off_on_acpi_button(capsys: pytest.CaptureFixture[str]) -> None:
    with booted() as guest:
        boot = guest.wait_for(GUEST_MARKER, BOOT_TIMEOUT)
        with capsys.disabled():
            print(f"\ntest guest: {GUEST_MARKER} after {boot:.2f} s (TCG)")
        assert guest.proc.poll() is None
        assert "failed" not in guest.console  # /init reports modules it could not load
        guest.qmp("system_powerdown")
        pressed = time.monotonic()
        try:
            status = guest.proc.wait(POWEROFF_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"qemu still running {POWEROFF_TIMEOUT} s after system_powerdown; "
                        f"console:\n{guest.console}")
        with capsys.disabled():
            print(f"test guest: powered off {time.monotonic() - pressed:.2f} s after "
                  "system_powerdown")
        assert status == 0, guest.console
        assert "power button pressed" in guest.console


def test_dhcp_on_user_network() -> None:
    with booted("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0") as guest:
        guest.wait_for(GUEST_MARKER, BOOT_TIMEOUT)
        guest.wait_for(f"{DHCP_MARKER} 10.0.2.15", 30)
        # The lease is configured: address, default route via slirp's gateway.
        guest.wait_for(GUEST_PROMPT, 10)
        guest.type("ip -4 addr show eth0; ip route; echo ROUTES-DONE-$((1+1))")
        guest.wait_for("ROUTES-DONE-2", 10)
        assert "inet 10.0.2.15/24" in guest.console
        assert "default via 10.0.2.2 dev eth0" in guest.console


def test_console_shell_answers_and_respawns() -> None:
    with booted() as guest:
        guest.wait_for(GUEST_MARKER, BOOT_TIMEOUT)
        guest.wait_for(GUEST_PROMPT, 10)
        guest.type('echo "$(hostname)-$((6*7))"')
        guest.wait_for("pyvirt-guest-42", 10)
        assert DHCP_MARKER not in guest.console  # no NIC, no udhcpc
        # PID 1 keeps a shell on the console: exiting it brings up a new one.
        banner = "Enter 'help' for a list of built-in commands."
        assert guest.console.count(banner) == 1
        guest.type("exit")
        guest.wait_for(banner, 10, count=2)
        guest.type("echo again-$((1+1))")
        guest.wait_for("again-2", 10)
        assert guest.proc.poll() is None
