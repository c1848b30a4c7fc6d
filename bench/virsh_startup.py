"""Start-up benchmark: wall time of ``pyvirsh -c test:///default list --all`` (process start
to exit) next to real ``virsh`` in the same run, best and median of N.

Usage: python bench/virsh_startup.py [-n N] [command words...]

pyvirsh runs as ``<this interpreter> -m pyvirt.virsh`` with the interpreter's real path
(not a pyenv shim, whose bash wrapper alone adds ~150 ms). Also reported: the bare
interpreter, ``import pyvirt`` and ``import pyvirt.virsh.main``, to show where time goes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _time(argv: list[str], n: int, env: dict[str, str]) -> tuple[float, float, int]:
    samples = []
    status = 0
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)
        samples.append(time.perf_counter() - t0)
        status = proc.returncode
    return min(samples) * 1000, statistics.median(samples) * 1000, status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="runs per variant (default 20)")
    ap.add_argument("words", nargs="*", default=["list", "--all"])
    opts = ap.parse_args()
    # The project's venv interpreter as installed (not resolved: resolving the symlink
    # would leave the venv and pick up the base interpreter's site hooks); else this one.
    venv = SRC.parent / ".venv" / "bin"
    python = str(venv / "python") if (venv / "python").exists() else sys.executable
    console_script = venv / "pyvirsh"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI"):
        env.pop(name, None)
    uri = ["-c", "test:///default"]
    rows: list[tuple[str, list[str]]] = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -c 'import pyvirt'", [python, "-c", "import pyvirt"]),
        ("python -c 'import pyvirt.virsh.main'", [python, "-c", "import pyvirt.virsh.main"]),
        ("pyvirsh " + " ".join(uri + opts.words), [python, "-m", "pyvirt.virsh", *uri,
                                                   *opts.words]),
    ]
    # the same with -S: site-packages on PYTHONPATH but no .pth start-up hooks, which on
    # some machines import heavy modules (e.g. certifi) in every interpreter
    purelib = sysconfig.get_paths()["purelib"]
    env_nosite = dict(env)
    env_nosite["PYTHONPATH"] = os.pathsep.join([str(SRC), purelib])
    nosite: list[tuple[str, list[str]]] = [
        ("python -S -c pass", [python, "-S", "-c", "pass"]),
        ("python -S -m pyvirt.virsh " + " ".join(uri + opts.words),
         [python, "-S", "-m", "pyvirt.virsh", *uri, *opts.words]),
    ]
    if console_script.exists():
        # What users run: the installed entry point (no runpy).
        rows.append(("pyvirsh (console script) " + " ".join(uri + opts.words),
                     [str(console_script), *uri, *opts.words]))
    virsh = shutil.which("virsh")
    if virsh:
        rows.append(("virsh " + " ".join(uri + opts.words), [virsh, *uri, *opts.words]))
    print(f"interpreter: {python}   runs: {opts.n}")
    print(f"{'command':<56} {'best ms':>9} {'median ms':>10} {'status':>7}")
    results = {}
    for label, argv in rows:
        best, median, status = _time(argv, opts.n, env)
        results[label] = median
        print(f"{label:<56} {best:>9.1f} {median:>10.1f} {status:>7}")
    for label, argv in nosite:
        best, median, status = _time(argv, opts.n, env_nosite)
        print(f"{label:<56} {best:>9.1f} {median:>10.1f} {status:>7}")
    if virsh:
        theirs = results[rows[-1][0]]
        for label, _argv in rows[3:-1]:
            print(f"{label.split(' -c')[0]} / virsh (median): {results[label] / theirs:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
