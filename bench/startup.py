#!/usr/bin/env python3
"""Benchmark: process start-up wall time of pyvirt next to real virsh.

For this machine, runs each case N times as a fresh process and prints the best and median
wall time: ``python -c pass`` (the interpreter's own floor), ``import pyvirt``, ``import
pyvirt`` + ``open("test:///default")`` + ``listAllDomains()`` (what a pyvirsh command pays
before its output), and, when virsh is installed, ``virsh -c test:///default list --all``.

Measures the real interpreter (not a pyenv shim): the project's .venv when present, else
this one. Byte-compiles pyvirt first (``compileall``), since PYTHONDONTWRITEBYTECODE would
otherwise make every run compile the sources; ``--cold`` instead runs each case with a
throw-away, empty pycache prefix, so that every import compiles. A measurement, not a test.

Usage: bench/startup.py [-n RUNS] [--python PYTHON] [--cold]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
SRC = TOP / "src"
OPEN_LIST = 'import pyvirt; pyvirt.open("test:///default").listAllDomains()'


def default_python() -> str:
    venv = TOP / ".venv" / "bin" / "python"
    # sys.executable is the real interpreter even when started through a pyenv shim.
    return str(venv) if venv.exists() else sys.executable


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_times(argv: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each run. On a busy machine the CPU time is
    the steadier figure: it does not count waiting for a processor."""
    wall, cpu = [], []
    for _ in range(runs):
        cpu0 = _children_cpu()
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        wall.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - cpu0)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=20, help="runs per case")
    parser.add_argument("--python", default=default_python(), help="interpreter to measure")
    parser.add_argument("--cold", action="store_true",
                        help="no compiled bytecode: every import compiles its source")
    args = parser.parse_args()

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    scratch = None
    if args.cold:
        # An empty cache that is never written: each run compiles every pyvirt module.
        scratch = tempfile.mkdtemp(prefix="pyvirt-startup-")
        env["PYTHONPYCACHEPREFIX"] = scratch
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        compileall.compile_dir(str(SRC / "pyvirt"), quiet=1)

    py = args.python
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("import pyvirt", [py, "-c", "import pyvirt"]),
        ("import+open+listAllDomains", [py, "-c", OPEN_LIST]),
    ]
    virsh = shutil.which("virsh")
    if virsh:
        cases.append(("virsh list --all", [virsh, "-c", "test:///default", "list", "--all"]))

    mode = "cold (compiling)" if args.cold else "compiled bytecode"
    print(f"start-up wall time, {args.runs} runs each, {py}, {mode}")
    print(f"{'case':<28} {'best ms':>8} {'median ms':>10} {'cpu best ms':>12}")
    results: dict[str, float] = {}
    try:
        for label, argv in cases:
            run_times(argv, 1, env)  # warm the page cache
            times, cpu = run_times(argv, args.runs, env)
            results[label] = statistics.median(times)
            print(f"{label:<28} {min(times) * 1e3:>8.1f} {statistics.median(times) * 1e3:>10.1f}"
                  f" {min(cpu) * 1e3:>12.1f}")
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if "virsh list --all" in results:
        ratio = results["import+open+listAllDomains"] / results["virsh list --all"]
        print(f"ratio pyvirt/virsh (median): {ratio:.2f} (budget <= 3)")
    else:
        print("virsh not installed: no side-by-side figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
