"""What the QEMU driver reads from running guests: console streams, screenshots, vCPU,
memory, block and interface statistics, and the bulk domain stats (mixed into QemuDriver)."""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain
    from pyvirt.api.stream import virStream
    from pyvirt.conf.domain import ChrDevice
    from pyvirt.drivers.qemu.domain import QemuDomain


def _ticks_ns(ticks: int) -> int:
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _stat_fields(path: str) -> list[bytes] | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:].split()


def thread_cpu(pid: int, tid: int) -> tuple[int, int]:
    """(cpu time in ns, the host CPU it last ran on) of thread ``tid`` of ``pid``."""
    fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
    if fields is None:
        return 0, 0
    return _ticks_ns(int(fields[11]) + int(fields[12])), int(fields[36])


class QemuMonitoringMixin:
    """Entry points that read a running guest; ``self`` is the QemuDriver."""

    _dom: Any
    _running_monitor: Any
    _all: Any
    _handle: Any
    paths: Any

    # ---- console and screenshot ---------------------------------------------------------

    def domainOpenConsole(self, handle: virDomain, dev_name: str | None,  # noqa: N802
                          stream: virStream, flags: int) -> int:
        from pyvirt.drivers.streams import CharDeviceStream

        check_flags("qemuDomainOpenConsole", flags,
                    c.VIR_DOMAIN_CONSOLE_SAFE | c.VIR_DOMAIN_CONSOLE_FORCE, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        with dom.lock:
            dom.check_active()
            devs = dom.defn.devices
            candidates = [*devs.consoles, *devs.serials, *devs.parallels, *devs.channels]
            chosen: ChrDevice | None
            if dev_name is None:
                first = devs.consoles or devs.serials
                chosen = first[0] if first else None
            else:
                chosen = next((d for d in candidates if d.alias == dev_name), None)
            if chosen is None:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"cannot find character device {dev_name or '<null>'}",
                            domain=c.VIR_FROM_QEMU)
            if chosen.source.type != "pty" or not chosen.source.path:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"character device {chosen.alias} is not using a PTY",
                            domain=c.VIR_FROM_QEMU)
            path = chosen.source.path
        stream._attach(CharDeviceStream(path))
        return 0

    def domainScreenshot(self, handle: virDomain, stream: virStream, screen: int,  # noqa: N802
                         flags: int) -> str:
        from pyvirt.drivers.streams import MemorySource

        check_flags("qemuDomainScreenshot", flags, 0, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        dom.job.begin("virDomainScreenshot")
        try:
            monitor = self._running_monitor(dom)
            if not dom.defn.devices.videos:
                raise_error(c.VIR_ERR_OPERATION_INVALID, "no screens to take screenshot from",
                            domain=c.VIR_FROM_QEMU)
            if screen != 0:
                raise_error(c.VIR_ERR_INVALID_ARG, f"no screen with index {screen}",
                            domain=c.VIR_FROM_QEMU)
            path = os.path.join(self.paths.domain_run_dir(dom.name), "screendump.ppm")
            monitor.execute("screendump", {"filename": path})
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            finally:
                os.unlink(path)
        finally:
            dom.job.end()
        stream._attach(MemorySource(data))
        return "image/x-portable-pixmap"

    # ---- vCPUs ----------------------------------------------------------------------------

    def _vcpu_threads(self, dom: QemuDomain) -> list[tuple[int, int]]:
        """(vcpu index, host thread id) for each online vCPU."""
        cpus = self._running_monitor(dom).execute("query-cpus-fast")
        return sorted((int(cpu["cpu-index"]), int(cpu["thread-id"])) for cpu in cpus)

    def domainGetVcpus(self, handle: virDomain) -> tuple[list[tuple[int, int, int, int]],  # noqa: N802
                                                         list[tuple[bool, ...]]]:
        dom: QemuDomain = self._dom(handle)
        ncpus = os.cpu_count() or 1
        info = []
        maps = []
        for vcpu, tid in self._vcpu_threads(dom):
            cpu_time, host_cpu = thread_cpu(dom.pid, tid)
            info.append((vcpu, c.VIR_VCPU_RUNNING, cpu_time, host_cpu))
            try:
                affinity = os.sched_getaffinity(tid)
            except OSError:
                affinity = set(range(ncpus))
            maps.append(tuple(i in affinity for i in range(ncpus)))
        return info, maps

    # ---- memory ---------------------------------------------------------------------------

    def domainMemoryStats(self, handle: virDomain, flags: int = 0) -> dict[str, int]:  # noqa: N802
        check_flags("qemuDomainMemoryStats", flags, 0, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        monitor = self._running_monitor(dom)
        out: dict[str, int] = {}
        balloon = next((b for b in dom.defn.devices.memballoons
                        if getattr(b, "model", None) != "none" and b.alias), None)
        if balloon is not None:
            actual = monitor.execute("query-balloon")
            out["actual"] = int(actual["actual"]) // 1024
            try:
                path = f"/machine/peripheral/{balloon.alias}"
                stats = monitor.execute("qom-get", {"path": path, "property": "guest-stats"})
            except Exception:
                stats = None
            names = {"stat-swap-in": "swap_in", "stat-swap-out": "swap_out",
                     "stat-major-faults": "major_fault", "stat-minor-faults": "minor_fault",
                     "stat-free-memory": "unused", "stat-total-memory": "available",
                     "stat-available-memory": "usable", "stat-disk-caches": "disk_caches",
                     "stat-htlb-pgalloc": "hugetlb_pgalloc", "stat-htlb-pgfail": "hugetlb_pgfail"}
            if isinstance(stats, dict):
                for key, value in stats.get("stats", {}).items():
                    if key in names and value >= 0:
                        scale = 1024 if key.endswith("memory") or key == "stat-disk-caches" else 1
                        out[names[key]] = value // scale
                if stats.get("last-update"):
                    out["last_update"] = int(stats["last-update"])
        fields = _stat_fields(f"/proc/{dom.pid}/stat")
        if fields is not None:
            out["rss"] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
        return out

    # ---- block and interface statistics -------------------------------------------------

    def _disk(self, dom: QemuDomain, path: str) -> Any:
        for disk in dom.defn.devices.disks:
            if path in (disk.target.dev, disk.path):
                return disk
        raise_error(c.VIR_ERR_INVALID_ARG, f"invalid path: {path}", domain=c.VIR_FROM_QEMU)

    def _blockstats(self, dom: QemuDomain) -> dict[str, dict[str, int]]:
        """query-blockstats keyed by the frontend's qdev id (the disk alias)."""
        out: dict[str, dict[str, int]] = {}
        for entry in self._running_monitor(dom).execute("query-blockstats"):
            qdev = entry.get("qdev") or entry.get("device") or ""
            # /machine/peripheral/virtio-disk0/virtio-backend -> virtio-disk0
            parts = [p for p in qdev.split("/") if p]
            name = parts[2] if len(parts) >= 3 and parts[0] == "machine" else qdev
            out[name] = entry.get("stats", {})
        return out

    def domainBlockStats(self, handle: virDomain, path: str) -> tuple[int, int, int, int, int]:  # noqa: N802
        dom: QemuDomain = self._dom(handle)
        dom.check_active()
        disk = self._disk(dom, path)
        stats = self._blockstats(dom).get(disk.alias or "")
        if stats is None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"cannot find statistics for device '{disk.alias}'",
                        domain=c.VIR_FROM_QEMU)
        return (stats.get("rd_operations", 0), stats.get("rd_bytes", 0),
                stats.get("wr_operations", 0), stats.get("wr_bytes", 0), -1)

    def domainInterfaceStats(self, handle: virDomain, device: str) -> tuple[int, ...]:  # noqa: N802
        dom: QemuDomain = self._dom(handle)
        dom.check_active()
        for iface in dom.defn.devices.interfaces:
            target = getattr(iface, "target_dev", None)
            if device in (target, iface.alias, getattr(iface, "mac", None)) and target:
                base = f"/sys/class/net/{target}/statistics/"

                def read(name: str, base: str = base) -> int:
                    try:
                        with open(base + name) as fh:
                            return int(fh.read())
                    except OSError:
                        return 0

                # the host's tx is the guest's rx: libvirt swaps them for tap devices
                return (read("tx_bytes"), read("tx_packets"), read("tx_errors"),
                        read("tx_dropped"), read("rx_bytes"), read("rx_packets"),
                        read("rx_errors"), read("rx_dropped"))
        raise_error(c.VIR_ERR_INVALID_ARG, f"invalid path, '{device}' is not a known interface",
                    domain=c.VIR_FROM_QEMU)

    # ---- bulk stats -------------------------------------------------------------------

    def _domain_stats(self, dom: QemuDomain, stats: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if stats & c.VIR_DOMAIN_STATS_STATE:
            out["state.state"], out["state.reason"] = dom.state, dom.reason
        if not dom.active:
            return out
        if stats & c.VIR_DOMAIN_STATS_CPU_TOTAL:
            fields = _stat_fields(f"/proc/{dom.pid}/stat")
            if fields is not None:
                out["cpu.user"] = _ticks_ns(int(fields[11]))
                out["cpu.system"] = _ticks_ns(int(fields[12]))
                out["cpu.time"] = out["cpu.user"] + out["cpu.system"]
        if stats & c.VIR_DOMAIN_STATS_BALLOON:
            defn = dom.defn
            out["balloon.current"] = defn.current_memory_kib or defn.memory_kib
            out["balloon.maximum"] = defn.memory_kib
        if stats & c.VIR_DOMAIN_STATS_VCPU:
            out["vcpu.current"] = dom.defn.vcpus_current
            out["vcpu.maximum"] = dom.defn.vcpus_max
            for vcpu, tid in self._vcpu_threads(dom):
                out[f"vcpu.{vcpu}.state"] = c.VIR_VCPU_RUNNING
                out[f"vcpu.{vcpu}.time"] = thread_cpu(dom.pid, tid)[0]
        if stats & c.VIR_DOMAIN_STATS_BLOCK:
            blockstats = self._blockstats(dom)
            disks = dom.defn.devices.disks
            out["block.count"] = len(disks)
            for i, disk in enumerate(disks):
                out[f"block.{i}.name"] = disk.target.dev
                if disk.path:
                    out[f"block.{i}.path"] = disk.path
                st = blockstats.get(disk.alias or "", {})
                for key, name in (("rd_operations", "rd.reqs"), ("rd_bytes", "rd.bytes"),
                                  ("wr_operations", "wr.reqs"), ("wr_bytes", "wr.bytes"),
                                  ("flush_operations", "fl.reqs")):
                    if key in st:
                        out[f"block.{i}.{name}"] = st[key]
        return out

    def connectGetAllDomainStats(self, conn: virConnect, stats: int,  # noqa: N802
                                 flags: int) -> list[tuple[virDomain, dict[str, Any]]]:
        from pyvirt.drivers.domobj import list_filter_match

        wanted = stats or (c.VIR_DOMAIN_STATS_STATE | c.VIR_DOMAIN_STATS_CPU_TOTAL
                           | c.VIR_DOMAIN_STATS_BALLOON | c.VIR_DOMAIN_STATS_VCPU
                           | c.VIR_DOMAIN_STATS_BLOCK)
        filters = flags & ~(c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
                            | c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING
                            | c.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
        out = []
        for dom in self._all():
            if filters and not list_filter_match(
                    filters, active=dom.active, persistent=dom.persistent,
                    managed_save=dom.has_managed_save, autostart=dom.autostart,
                    has_snapshot=False, has_checkpoint=False, state=dom.state):
                continue
            out.append((self._handle(conn, dom), self._domain_stats(dom, wanted)))
        return out

    def domainListGetStats(self, conn: virConnect, doms: list[virDomain], stats: int,  # noqa: N802
                           flags: int) -> list[tuple[virDomain, dict[str, Any]]]:
        wanted = stats or (c.VIR_DOMAIN_STATS_STATE | c.VIR_DOMAIN_STATS_CPU_TOTAL
                           | c.VIR_DOMAIN_STATS_BALLOON | c.VIR_DOMAIN_STATS_VCPU
                           | c.VIR_DOMAIN_STATS_BLOCK)
        return [(d, self._domain_stats(self._dom(d), wanted)) for d in doms]
