"""The remote driver stays lean to import: pyvirsh loads it for every remote URI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[4] / "src"

PROBE = """
import sys
import pyvirt
pyvirt.registerErrorHandler(lambda *a: None, None)
try:
    pyvirt.open("test+unix:///default?socket=/nonexistent/pyvirt-test-sock")
except pyvirt.libvirtError as exc:
    assert "Failed to connect socket" in str(exc), exc
assert "pyvirt.drivers.remote.driver" in sys.modules
print(" ".join(sorted(m for m in ("asyncio", "ssl", "subprocess", "logging", "dataclasses")
                      if m in sys.modules)))
"""


def test_unix_transport_imports_no_asyncio_ssl_or_logging() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(SRC)}).stdout.split()
    assert "asyncio" not in out and "ssl" not in out and "logging" not in out
