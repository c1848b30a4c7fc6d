#!/usr/bin/env python3
"""Run libvirt-python's own test suite against pyvirt, aliased as ``libvirt``.

Downloads the libvirt-python sdist (version below) into a cache once, takes its ``tests/``
directory, and runs it under pytest with a shim directory first on ``sys.path`` in which
``import libvirt`` *is* ``pyvirt`` (the very module object, so ``mock.patch('libvirt.x')``
patches pyvirt) and ``import libvirtaio`` is ``pyvirt.libvirtaio``.

Prints ``libvirt-python-tests: N passed, M failed`` (plus skipped and not-applicable
counts) and lists every test that did not pass with its reason.

Tests that do not apply to a pure-Python implementation are deselected and listed:
they patch attributes of the C extension module ``libvirtmod`` or hand its raw pointers
(``_o``) around. ``test_api_coverage`` runs, with its last step (which checks that each C
function has a binding in ``libvirt.libvirtmod``) disabled, as it checks the C generator.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "12.8.0"
TOP = Path(__file__).resolve().parent.parent

# Each of these patches libvirtmod (the C module) and passes raw C pointers via `_o`.
NOT_APPLICABLE_FILES = {
    "test_domain_migration.py": "patches the C extension (libvirtmod.virDomainMigrate*) "
    "and passes its raw pointers (_o)",
}

SHIM_LIBVIRT = """\
# `import libvirt` gives pyvirt itself (same module object), for running libvirt-python code.
import sys
import pyvirt
sys.modules[__name__] = pyvirt
"""
SHIM_LIBVIRTAIO = """\
import sys
import pyvirt.libvirtaio
sys.modules[__name__] = pyvirt.libvirtaio
"""
# libvirt-python's tests/eventmock.py registers its mock loop through the C module's
# virEventRegisterImpl; pyvirt's own registration function plays that part.
SHIM_LIBVIRTMOD = """\
from pyvirt.events.loop import register_impl as virEventRegisterImpl  # noqa: F401
"""
# Disables only test_api_coverage's last step (C bindings present in libvirtmod).
SHIM_PLUGIN = """\
import sys


def pytest_collection_modifyitems(session, config, items):
    module = sys.modules.get("test_api_coverage")
    if module is not None:
        module.validate_c_api_bindings_present = lambda finalklassmap: None
"""


def cache_dir() -> Path:
    base = os.environ.get("PYVIRT_CACHE") or os.path.join(Path.home(), ".cache", "pyvirt")
    return Path(base)


def fetch_tests(cache: Path) -> Path:
    """The sdist's tests/ directory, downloading the sdist on first use."""
    target = cache / f"libvirt-python-{VERSION}"
    if (target / "tests").is_dir():
        return target / "tests"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        # pip prepares the sdist's metadata, which needs libvirt-dev and pkg-config.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"libvirt-python=={VERSION}", "-d", tmp],
            check=True,
        )
        archive = next(Path(tmp).glob("libvirt_python-*.tar.gz"))
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/tests/" in m.name or
                       m.name.endswith("/tests")]
            tar.extractall(tmp, members=members, filter="data")
        extracted = next(p for p in Path(tmp).glob("libvirt_python-*") if p.is_dir())
        staging = cache / f".libvirt-python-{VERSION}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.move(str(extracted), staging)
        staging.replace(target)
    return target / "tests"


def make_shim(root: Path) -> Path:
    shim = root / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "libvirt.py").write_text(SHIM_LIBVIRT)
    (shim / "libvirtaio.py").write_text(SHIM_LIBVIRTAIO)
    (shim / "libvirtmod.py").write_text(SHIM_LIBVIRTMOD)
    (shim / "pyvirt_lvtests_plugin.py").write_text(SHIM_PLUGIN)
    return shim


def run(tests: Path, shim: Path, verbose: bool) -> int:
    report = shim / "report.xml"
    files = sorted(p.name for p in tests.glob("test_*.py") if p.name not in NOT_APPLICABLE_FILES)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(shim), str(TOP / "src"), env.get("PYTHONPATH", "")])
    env["LIBVIRT_API_COVERAGE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "pyvirt_lvtests_plugin",
           "--continue-on-collection-errors",
           "-p", "no:cacheprovider", f"--junitxml={report}", "-o", "junit_family=xunit1",
           "--rootdir", str(tests), *files]
    proc = subprocess.run(cmd, cwd=tests, env=env, capture_output=not verbose, text=True)
    if not report.exists():
        print(proc.stdout if proc.stdout else "", proc.stderr if proc.stderr else "")
        print("libvirt-python-tests: the test run did not produce a report")
        return 2

    passed, failed, skipped = 0, [], []
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('file') or case.get('classname')}::{case.get('name')}"
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")),
                       None)
        if outcome is None:
            passed += 1
        elif outcome.tag == "skipped":
            skipped.append((name, outcome.get("message", "")))
        else:
            reason = (outcome.get("message") or "").splitlines()[0:1]
            failed.append((name, reason[0] if reason else outcome.tag))
    not_applicable = []
    for fname, why in NOT_APPLICABLE_FILES.items():
        text = (tests / fname).read_text() if (tests / fname).exists() else ""
        count = text.count("    def test")
        not_applicable.append((fname, count, why))

    for name, reason in failed:
        print(f"FAILED {name}: {reason[:300]}")
    for name, reason in skipped:
        print(f"SKIPPED {name}: {reason[:200]}")
    for fname, count, why in not_applicable:
        print(f"NOT APPLICABLE {fname} ({count} tests): {why}")
    print(f"libvirt-python-tests: {passed} passed, {len(failed)} failed, "
          f"{len(skipped)} skipped, {sum(n for _, n, _ in not_applicable)} not applicable")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=Path, help="use this tests/ directory (no download)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    args = parser.parse_args()
    tests = args.tests or fetch_tests(cache_dir())
    with tempfile.TemporaryDirectory(prefix="pyvirt-lvtests-") as tmp:
        return run(tests, make_shim(Path(tmp)), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
