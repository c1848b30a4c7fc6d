#!/usr/bin/env python3
"""Benchmark: lookupByName() + info() pairs per second on test:///default, in process.

Runs pyvirt in this interpreter and, when real libvirt-python is installed (Debian's
python3-libvirt for /usr/bin/python3), the same loop there, and prints both figures side by
side. A measurement, not a test: it never fails on a slow figure.

Usage: bench/lookup_info.py [--seconds S] [--repeat R] [--libvirt-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

LOOP = r"""
import json, sys, time
import {module} as libvirt
conn = libvirt.open("test:///default")
seconds, repeat = float(sys.argv[1]), int(sys.argv[2])
lookup = conn.lookupByName
rates = []
for _ in range(repeat):
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            lookup("test").info()
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            break
    rates.append(count / (now - start))
print(json.dumps({{"best": max(rates), "rates": rates}}))
"""


def measure(python: str, module: str, seconds: float, repeat: int, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [python, "-c", LOOP.format(module=module), str(seconds), str(repeat)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    result: dict = json.loads(out.strip().splitlines()[-1])
    return result


def has_libvirt_python(python: str) -> bool:
    if not Path(python).exists():
        return False
    probe = subprocess.run([python, "-c", "import libvirt"], capture_output=True)
    return probe.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one counts")
    parser.add_argument("--libvirt-python", default="/usr/bin/python3",
                        help="interpreter that has the real libvirt binding")
    args = parser.parse_args()
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))

    ours = measure(sys.executable, "pyvirt", args.seconds, args.repeat, env)
    print(f"pyvirt         lookupByName+info: {ours['best']:>10,.0f} pairs/s")
    if has_libvirt_python(args.libvirt_python):
        theirs = measure(args.libvirt_python, "libvirt", args.seconds, args.repeat,
                         {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        print(f"libvirt-python lookupByName+info: {theirs['best']:>10,.0f} pairs/s")
        print(f"ratio pyvirt/libvirt: {ours['best'] / theirs['best']:.2f} (target >= 0.50)")
    else:
        print("libvirt-python not installed: no side-by-side figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
