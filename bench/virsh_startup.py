"""Start-up benchmark: wall time of ``pyvirsh -c test:///default list --all`` (process start
to exit) next to real ``virsh`` in the same run, best and median of N.

Usage: python bench/virsh_startup.py [-n N] [--uri URI] [command words...]
(``--uri 'test+unix:///default?socket=DIR/run/libvirt-sock'`` with ``pyvirtd --root DIR``
running: both shells over the daemon connection.)

pyvirsh runs as the installed script (.venv/bin/pyvirsh, what users run) and as
``python -m pyvirt.virsh`` (which adds runpy's imports). The interpreter is the venv's as
installed (not a pyenv shim, whose bash wrapper alone adds ~150 ms). Also reported: the bare
interpreter and ``import pyvirt``, to show where time goes. Runs are interleaved (one of each
variant per round) so that a burst of load on this shared machine hits all variants alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - t0) * 1000, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="rounds (default 30)")
    ap.add_argument("--uri", default="test:///default")
    ap.add_argument("words", nargs="*", default=["list", "--all"])
    opts = ap.parse_args()
    # The project's venv interpreter as installed (not resolved: resolving the symlink
    # would leave the venv and pick up the base interpreter's site hooks); else this one.
    venv = SRC.parent / ".venv" / "bin"
    python = str(venv / "python") if (venv / "python").exists() else sys.executable
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI"):
        env.pop(name, None)
    cmd = ["-c", opts.uri, *opts.words]
    shown = " ".join(cmd)
    rows: list[tuple[str, list[str]]] = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -c 'import pyvirt'", [python, "-c", "import pyvirt"]),
        ("python -m pyvirt.virsh " + shown, [python, "-m", "pyvirt.virsh", *cmd]),
    ]
    script = venv / "pyvirsh"
    if script.exists():
        rows.append(("pyvirsh " + shown, [str(script), *cmd]))
    virsh = shutil.which("virsh")
    if virsh:
        rows.append(("virsh " + shown, [virsh, *cmd]))
    samples: dict[str, list[float]] = {label: [] for label, _ in rows}
    status: dict[str, int] = {}
    for _label, argv in rows:  # warm the page cache once, untimed
        _run_once(argv, env)
    for _ in range(opts.n):
        for label, argv in rows:
            ms, status[label] = _run_once(argv, env)
            samples[label].append(ms)
    print(f"interpreter: {python}   rounds: {opts.n} (interleaved)")
    print(f"{'command':<60} {'best ms':>8} {'median ms':>10} {'status':>7}")
    for label, _ in rows:
        print(f"{label:<60} {min(samples[label]):>8.1f} "
              f"{statistics.median(samples[label]):>10.1f} {status[label]:>7}")
    if virsh:
        theirs = statistics.median(samples[rows[-1][0]])
        for label, _ in rows[2:-1]:
            ratio = statistics.median(samples[label]) / theirs
            print(f"{label.split(' -c')[0]} / virsh (median): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
