#!/usr/bin/env python3
"""Benchmark: pyvirtd beside a private real libvirtd 9.0, the same real client library
(Debian's libvirt-python) on both, in one run.

Figures (both daemons serve their test driver, test:///default, over a unix socket):
* latency: microseconds per ``dom.info()`` call from one client;
* throughput: ``dom.info()`` calls per second with 1, 4 and 16 concurrent client processes;
* ``listAllDomains()`` with 1000 defined domains (milliseconds per call);
* daemon RSS when idle (after one client has connected and left) and with 1000 domains.

Rounds alternate between the daemons, so that a change in the machine's load hits both;
the latency and throughput rows are printed for the best round and for the median one.
A measurement, not a test.

Usage: bench/daemon_vs_libvirtd.py [--seconds S] [--rounds R] [--clients 1,4,16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peers import Daemon, Libvirtd, Pyvirtd, has_libvirt_python

# One client process: connects, warms up, says "ready", waits for the start time on stdin,
# then counts dom.info() calls until the deadline.
CLIENT = r"""
import sys, time
import libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("test")
for _ in range(300):
    dom.info()
print("ready", flush=True)
start, seconds = map(float, sys.stdin.readline().split())
while time.time() < start:
    pass
count, deadline, info = 0, start + seconds, dom.info
while True:
    for _ in range(50):
        info()
    count += 50
    if time.time() >= deadline:
        break
print(count / (time.time() - start), flush=True)
"""

# 1000 persistent domains, then the timing of listAllDomains().
LIST_ALL = r"""
import json, sys, time, uuid
import libvirt
conn = libvirt.open(sys.argv[1])
names = {d.name() for d in conn.listAllDomains()}
for i in range(1000):
    name = f"bench{i:04d}"
    if name not in names:
        conn.defineXML(f"<domain type='test'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>"
                       "<memory>65536</memory><os><type>hvm</type></os></domain>")
assert len(conn.listAllDomains()) >= 1000
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    conn.listAllDomains()
    times.append(time.perf_counter() - t0)
print(json.dumps(sorted(times)[len(times) // 2]))
"""


def throughput(python: str, uri: str, clients: int, seconds: float) -> float:
    """Sum of the clients' calls per second."""
    procs = [subprocess.Popen([python, "-c", CLIENT, uri], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"a client against {uri} failed")
        start = time.time() + 0.2
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start} {seconds}\n")
            proc.stdin.flush()
        total = 0.0
        for proc in procs:
            out, _ = proc.communicate(timeout=seconds + 60)
            total += float(out.strip().splitlines()[-1])
        return total
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def list_all_ms(python: str, uri: str, repeat: int) -> float:
    out = subprocess.run([python, "-c", LIST_ALL, uri, str(repeat)], check=True,
                         capture_output=True, text=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])) * 1e3


def idle_rss(python: str, daemon: Daemon) -> int:
    subprocess.run([python, "-c", "import libvirt, sys; libvirt.open(sys.argv[1]).close()",
                    daemon.uri()], check=True)
    time.sleep(0.5)
    return daemon.rss_kib()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--libvirt-python", default="/usr/bin/python3")
    parser.add_argument("--libvirtd", default="/usr/sbin/libvirtd")
    args = parser.parse_args()
    python = args.libvirt_python
    if not has_libvirt_python(python):
        print(f"{python} has no libvirt module: the client library both daemons are "
              "measured with is missing")
        return 1
    with_libvirtd = os.access(args.libvirtd, os.X_OK)
    counts = [int(n) for n in args.clients.split(",")]
    env_note = f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start"
    print(f"pyvirtd vs libvirtd 9.0, client: {python} libvirt-python, test:///default over "
          f"unix ({env_note})")

    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        daemons: list[Daemon] = [Pyvirtd(Path(tmp) / "pyvirtd")]
        if with_libvirtd:
            (Path(tmp) / "libvirtd").mkdir()
            daemons.append(Libvirtd(args.libvirtd, Path(tmp) / "libvirtd"))
        try:
            rss_idle = {d.name: idle_rss(python, d) for d in daemons}
            samples: dict[tuple[str, int], list[float]] = {
                (d.name, n): [] for d in daemons for n in counts}
            for _ in range(args.rounds):
                for n in counts:
                    for d in daemons:
                        samples[d.name, n].append(throughput(python, d.uri(), n, args.seconds))
            list_all = {d.name: list_all_ms(python, d.uri(), 30) for d in daemons}
            rss_full = {d.name: d.rss_kib() for d in daemons}
        finally:
            for d in daemons:
                d.stop()

    names = [d.name for d in daemons]
    print(f"{'':42}" + "".join(f"{n:>14}" for n in names)
          + ("   pyvirtd/libvirtd" if with_libvirtd else ""))

    def row(label: str, values: dict[str, float], fmt: str, better_low: bool) -> None:
        cells = "".join(f"{format(values[n], fmt):>14}" for n in names)
        ratio = ""
        if with_libvirtd:
            ratio = f"   {values['pyvirtd'] / values['libvirtd']:.2f}x"
            ratio += " (lower is better)" if better_low else ""
        print(f"{label:42}{cells}{ratio}")

    for pick, label in ((max, "best"), (statistics.median, "median")):
        if 1 in counts:
            row(f"dom.info() latency, us ({label})",
                {name: 1e6 / pick(samples[name, 1]) for name in names}, ",.1f", True)
        for n in counts:
            row(f"calls/s, {n} client{'s' if n > 1 else ''} ({label})",
                {name: pick(samples[name, n]) for name in names}, ",.0f", False)
    row("listAllDomains, 1000 domains, ms", list_all, ",.2f", True)
    row("RSS idle, MiB", {k: v / 1024 for k, v in rss_idle.items()}, ",.1f", True)
    row("RSS with 1000 domains, MiB", {k: v / 1024 for k, v in rss_full.items()}, ",.1f", True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
