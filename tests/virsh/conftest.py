"""Fixtures for pyvirsh tests: run pyvirsh and real virsh as processes and compare them.

``pyvirsh(*args, input=None, env=None)`` runs ``python -m pyvirt.virsh``;
``real_virsh(*args, ...)`` runs /usr/bin/virsh (the test is skipped when it is absent);
``both(*args, normalize=None)`` runs both and returns ``(pyvirsh_result, virsh_result)``.
``TESTNODE`` is libvirt's examples/xml/test/testnode.xml (a node file for the test driver).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

LIBVIRT_SRC = Path(os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src"))
TESTNODE = LIBVIRT_SRC / "examples" / "xml" / "test" / "testnode.xml"
TESTNODE_URI = f"test://{TESTNODE}"
REAL_VIRSH = "/usr/bin/virsh"
SRC_DIR = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    status: int

    def map(self, func: Callable[[str], str]) -> Result:
        """This result with ``func`` applied to stdout and stderr (for normalising)."""
        return Result(func(self.stdout), func(self.stderr), self.status)


def _env(env: dict[str, str] | None) -> dict[str, str]:
    base = dict(os.environ)
    # a stray default URI in the developer's environment must not change the answers
    for name in ("VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI", "VIRSH_DEBUG",
                 "VIRSH_LOG_FILE"):
        base.pop(name, None)
    base["PYTHONPATH"] = str(SRC_DIR) + os.pathsep + base.get("PYTHONPATH", "")
    base["LC_ALL"] = "C.UTF-8"
    if env:
        base.update(env)
    return base


def _run(argv: list[str], input: str | None, env: dict[str, str] | None,
         cwd: str | None = None, timeout: float = 60) -> Result:
    proc = subprocess.run(argv, input=input, capture_output=True, text=True,
                          env=_env(env), cwd=cwd, timeout=timeout)
    return Result(proc.stdout, proc.stderr, proc.returncode)


def run_pyvirsh(*args: str, input: str | None = None, env: dict[str, str] | None = None,
                cwd: str | None = None) -> Result:
    return _run([sys.executable, "-m", "pyvirt.virsh", *args], input, env, cwd)


def run_real_virsh(*args: str, input: str | None = None, env: dict[str, str] | None = None,
                   cwd: str | None = None) -> Result:
    if not os.path.exists(REAL_VIRSH):
        pytest.skip("real virsh is not installed")
    return _run([REAL_VIRSH, *args], input, env, cwd)


@pytest.fixture
def pyvirsh() -> Callable[..., Result]:
    return run_pyvirsh


@pytest.fixture
def real_virsh() -> Callable[..., Result]:
    return run_real_virsh


@pytest.fixture
def both() -> Callable[..., tuple[Result, Result]]:
    def run(*args: str, normalize: Callable[[str], str] | None = None,
            input: str | None = None, env: dict[str, str] | None = None,
            cwd: str | None = None) -> tuple[Result, Result]:
        ours = run_pyvirsh(*args, input=input, env=env, cwd=cwd)
        theirs = run_real_virsh(*args, input=input, env=env, cwd=cwd)
        if normalize is not None:
            ours, theirs = ours.map(normalize), theirs.map(normalize)
        return ours, theirs

    return run


@pytest.fixture
def virsh_env() -> Callable[[dict[str, str] | None], dict[str, str]]:
    """The environment the fixtures run pyvirsh with, plus ``extra`` (for pexpect)."""
    return _env


@pytest.fixture
def testnode_uri() -> str:
    if not TESTNODE.exists():
        pytest.skip(f"{TESTNODE} not found (set PYVIRT_LIBVIRT_SRC)")
    return TESTNODE_URI
