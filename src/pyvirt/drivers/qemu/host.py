"""Facts about the real host for the hypervisor drivers (libvirt's virhostcpu/virhostmem on
Linux): nodeGetInfo's eight values from /proc and sysfs."""

from __future__ import annotations

import os


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def _cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def node_info() -> list[int | str]:
    """[model, memory KiB, cpus, MHz, nodes, sockets, cores, threads] as virNodeGetInfo:
    cpus counts online CPUs; sockets, cores and threads are per NUMA node."""
    model = os.uname().machine
    memory = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1])
            break
    mhz = 0
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("cpu MHz"):
            mhz = int(float(line.split(":")[1]))
            break
    online = _cpu_list(_read("/sys/devices/system/cpu/online")) or set(range(os.cpu_count() or 1))
    packages: dict[int, set[int]] = {}  # socket -> core ids
    threads = 1
    for cpu in online:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            package = int(_read(base + "physical_package_id") or 0)
            core = int(_read(base + "core_id") or cpu)
            siblings = len(_cpu_list(_read(base + "thread_siblings_list")) or {cpu})
        except ValueError:
            package, core, siblings = 0, cpu, 1
        packages.setdefault(package, set()).add(core)
        threads = max(threads, siblings)
    nodes = len([n for n in os.listdir("/sys/devices/system/node")
                 if n.startswith("node") and n[4:].isdigit()]) if os.path.isdir(
        "/sys/devices/system/node") else 1
    nodes = max(nodes, 1)
    sockets = max(1, len(packages) // nodes)
    cores = max(1, max((len(cs) for cs in packages.values()), default=1))
    if sockets * cores * threads * nodes != len(online):
        # an irregular topology: libvirt then reports a flat one
        nodes, sockets, cores, threads = 1, 1, len(online), 1
    return [model, memory, len(online), mhz, nodes, sockets, cores, threads]
