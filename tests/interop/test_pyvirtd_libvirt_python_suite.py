"""libvirt-python's own test suite (the 12.8.0 sdist's tests/, as scripts/
run_libvirt_python_tests.py fetches it) run with the REAL libvirt-python 9.0 C bindings,
every ``test:///default`` it opens redirected to ``test+unix:///default?socket=...`` of a
pyvirtd: it must pass as it does against libvirt's in-process test driver.

Left out, with their reasons: the migration tests (they patch the C module), the asyncio
ones (they assert that libvirtaio has no watches, but a remote connection's socket is
one), and the four that compare getURI() with the URI they asked for (the redirection
changes that URI)."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

from unit.daemon.support import REPO, Pyvirtd

DIST = "/usr/lib/python3/dist-packages"
SUITE = Path(os.environ.get("PYVIRT_CACHE") or Path.home() / ".cache" / "pyvirt") / \
    "libvirt-python-12.8.0" / "tests"
DESELECT = [
    "test_conn.py::TestLibvirtConnMetadata::testConnGetURI",
    "test_conn.py::TestLibvirtConnMetadata::testConnContextManager",
    "test_conn.py::TestLibvirtConnReadOnly::testReadOnlyGetURI",
    "test_conn.py::TestLibvirtConnReadOnly::testReadOnlyContextManager",
]
SKIP_FILES = ("test_domain_migration.py", "test_aio.py")

# `import libvirt` gives the system's libvirt-python (C bindings for CPython 3.11) under
# this interpreter, with test:///default redirected to $PYVIRTD_SOCKET.
SHIM = f"""\
import glob, importlib.machinery, importlib.util, os, sys
_path = glob.glob("{DIST}/libvirtmod.cpython-311*.so")[0]
_loader = importlib.machinery.ExtensionFileLoader("libvirtmod", _path)
_mod = importlib.util.module_from_spec(
    importlib.util.spec_from_file_location("libvirtmod", _path, loader=_loader))
_loader.exec_module(_mod)
sys.modules["libvirtmod"] = _mod
_spec = importlib.util.spec_from_file_location("libvirt", "{DIST}/libvirt.py")
mod = importlib.util.module_from_spec(_spec)
sys.modules["libvirt"] = mod
_spec.loader.exec_module(mod)
_sock = os.environ.get("PYVIRTD_SOCKET")
if _sock:
    def _fix(uri):
        if uri and uri.startswith("test:///default"):
            return "test+unix:///default?socket=" + _sock
        return uri
    _open, _ro, _auth = mod.open, mod.openReadOnly, mod.openAuth
    mod.open = lambda name=None: _open(_fix(name))
    mod.openReadOnly = lambda name=None: _ro(_fix(name))
    mod.openAuth = lambda uri, auth, flags=0: _auth(_fix(uri), auth, flags)
"""

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not SUITE.is_dir(), reason="libvirt-python's tests are not cached "
                       "(scripts/run_libvirt_python_tests.py fetches them)"),
    pytest.mark.skipif(not glob.glob(f"{DIST}/libvirtmod.cpython-311*.so"),
                       reason="no system libvirt-python for CPython 3.11"),
]


def run_suite(shim: Path, socket: str | None) -> subprocess.CompletedProcess[str]:
    import sys

    files = sorted(p.name for p in SUITE.glob("test_*.py") if p.name not in SKIP_FILES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim), str(REPO / "src")]))
    env.pop("PYVIRTD_SOCKET", None)
    if socket:
        env["PYVIRTD_SOCKET"] = socket
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
           "no:xdist", "--rootdir", str(SUITE), *files,
           *[arg for name in DESELECT for arg in ("--deselect", name)]]
    return subprocess.run(cmd, cwd=SUITE, env=env, capture_output=True, text=True,
                          timeout=600)


def test_suite_through_pyvirtd(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "libvirt.py").write_text(SHIM)
    local = run_suite(shim, None)
    with Pyvirtd(tmp_path / "daemon") as d:
        remote = run_suite(shim, d.rw)
    summary = remote.stdout.strip().splitlines()[-1]
    assert remote.returncode == 0, remote.stdout[-3000:]
    assert local.stdout.strip().splitlines()[-1].split(" in ")[0] == summary.split(" in ")[0]
    assert "passed" in summary and "failed" not in summary
