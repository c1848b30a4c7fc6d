#!/usr/bin/env python3
"""Benchmark: lookupByName() + info() pairs per second over libvirt's wire protocol.

Starts a private real libvirtd (sockets in a temporary directory, only its built-in test
driver loaded) and runs the same loop against ``test+unix:///default?socket=...`` with
pyvirt's remote client in this interpreter and with real libvirt-python (Debian's
python3-libvirt for /usr/bin/python3), side by side in one run. Each pair is two round trips
(DOMAIN_LOOKUP_BY_NAME, DOMAIN_GET_INFO); the per-call figure is half a pair's time. Also
measured: pyvirt with an event loop registered (the connection then has a background I/O
thread, as it does for events and keepalive). A measurement, not a test.

Usage: bench/remote_lookup_info.py [--seconds S] [--repeat R] [--libvirt-python PYTHON]
                                   [--libvirtd PATH] [--tcp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from peers import Libvirtd, has_libvirt_python

LOOP = r"""
import json, sys, time
import {module} as libvirt
uri, seconds, repeat, with_loop = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if with_loop == "1":
    libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(uri)
lookup = conn.lookupByName
for _ in range(200):
    lookup("test").info()
rates = []
for _ in range(repeat):
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            lookup("test").info()
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            break
    rates.append(count / (now - start))
conn.close()
print(json.dumps({{"best": max(rates), "rates": rates}}))
"""


def measure(python: str, module: str, uri: str, seconds: float, repeat: int,
            env: dict[str, str], with_loop: bool = False) -> dict:
    out = subprocess.run(
        [python, "-c", LOOP.format(module=module), uri, str(seconds), str(repeat),
         "1" if with_loop else "0"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    result: dict = json.loads(out.strip().splitlines()[-1])
    return result


def line(label: str, rate: float) -> str:
    return f"{label:<38} {rate:>9,.0f} pairs/s  {1e6 / rate / 2:>7.1f} us per call"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds (each client runs once per round); the best run counts")
    parser.add_argument("--libvirt-python", default="/usr/bin/python3",
                        help="interpreter that has the real libvirt binding")
    parser.add_argument("--libvirtd", default="/usr/sbin/libvirtd")
    parser.add_argument("--tcp", action="store_true", help="also over TCP (127.0.0.1)")
    args = parser.parse_args()
    if not os.access(args.libvirtd, os.X_OK):
        print(f"{args.libvirtd} not found: nothing to measure against")
        return 0
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    plain_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    real = has_libvirt_python(args.libvirt_python)

    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        daemon = Libvirtd(args.libvirtd, Path(tmp))
        try:
            transports = [("unix", False)] + ([("tcp", True)] if args.tcp else [])
            for name, tcp in transports:
                uri = daemon.uri(tcp)
                print(f"libvirtd 9.0 test driver over {name}: {uri}")
                # The clients take turns, one run each per round, so that a change in the
                # machine's load affects both alike; each one's best run counts.
                runs: list[tuple[str, str, str, dict[str, str], bool]] = [
                    ("  pyvirt remote client", sys.executable, "pyvirt", env, False),
                    ("  pyvirt, event loop registered", sys.executable, "pyvirt", env, True)]
                if real:
                    runs.append(("  libvirt-python (C client)", args.libvirt_python, "libvirt",
                                 plain_env, False))
                best = {label: 0.0 for label, *_ in runs}
                for _ in range(args.repeat):
                    for label, python, module, run_env, with_loop in runs:
                        got = measure(python, module, uri, args.seconds, 1, run_env, with_loop)
                        best[label] = max(best[label], got["best"])
                for label, *_ in runs:
                    print(line(label, best[label]))
                if real:
                    ratio = best[runs[0][0]] / best[runs[-1][0]]
                    print(f"  ratio pyvirt/libvirt-python: {ratio:.2f}")
                else:
                    print("  libvirt-python not installed: no side-by-side figure")
        finally:
            daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
