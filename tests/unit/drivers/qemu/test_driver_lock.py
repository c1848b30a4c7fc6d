"""One process at a time runs a driver on a set of directories (libvirt's driver.pid):
a second one is refused instead of taking over, and tearing down, the first one's guests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt
from pyvirt import constants as c

SRC = str(Path(__file__).resolve().parents[4] / "src")

HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
import pyvirt
conn = pyvirt.open(sys.argv[2])
print("open", flush=True)
sys.stdin.readline()
"""


def test_second_process_on_the_same_root_is_refused(tmp_path: Path) -> None:
    uri = f"qemu:///embed?root={tmp_path}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, SRC, uri], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(pyvirt.libvirtError) as info:
            pyvirt.open(uri)
        pid_file = tmp_path / "run" / "qemu" / "driver.pid"
        assert info.value.get_error_code() == c.VIR_ERR_SYSTEM_ERROR
        assert str(info.value) == (f"Failed to acquire pid file '{pid_file}': "
                                   "Resource temporarily unavailable")
        assert pid_file.read_text() == f"{holder.pid}\n"
    finally:
        if holder.poll() is None:
            holder.kill()  # the lock goes with the process, even killed
        holder.wait()
    conn = pyvirt.open(uri)
    assert (tmp_path / "run" / "qemu" / "driver.pid").read_text() == f"{os.getpid()}\n"
    conn.close()
    assert not (tmp_path / "run" / "qemu" / "driver.pid").exists()
