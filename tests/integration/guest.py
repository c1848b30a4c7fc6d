"""The tiny test guest of the QEMU integration tests: a kernel and an initramfs built (once, then
cached) by scripts/build-test-guest.py.

Boot it with ``-kernel KERNEL -initrd INITRD -append "console=ttyS0 quiet"``. Once up it prints
``GUEST_MARKER`` on the console, powers off on an ACPI power-button press (``virsh shutdown``,
QMP ``system_powerdown``), prints ``DHCP_MARKER <ip>`` when eth0 got a lease, and keeps a shell
(prompt ``GUEST_PROMPT``) on the console.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

GUEST_MARKER = "PYVIRT-GUEST-READY"
# With "pyvirt.tick" appended to the kernel command line the guest prints
# "PYVIRT-TICK <n> <block devices...>" twice a second, counting in its own memory.
TICK_MARKER = "PYVIRT-TICK"
DHCP_MARKER = "PYVIRT-GUEST-DHCP"
GUEST_PROMPT = "pyvirt-guest# "
GUEST_APPEND = "console=ttyS0 quiet"

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-test-guest.py"


@functools.cache
def ensure_test_guest() -> tuple[str, str]:
    """(kernel path, initrd path), building them first when they are missing or stale (the
    script is a fast no-op when they are up to date). Honours $PYVIRT_CACHE."""
    proc = subprocess.run([sys.executable, str(_SCRIPT)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{_SCRIPT.name} failed ({proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    paths = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    return paths["kernel"], paths["initrd"]


def embed_uri(root: Path) -> str:
    """``qemu:///embed?root=ROOT`` for a test, with a qemu.conf giving this pytest-xdist
    worker its own VNC autoport range: drivers in different worker processes cannot see
    each other's ports, and two could pick the same free port at the same moment."""
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    low = 5900 + 100 * index
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "qemu.conf").write_text(
        f"remote_display_port_min = {low}\nremote_display_port_max = {low + 99}\n")
    return f"qemu:///embed?root={root}"
