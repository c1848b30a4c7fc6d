"""Progress of a guest's long-running ("asynchronous") jobs: migration, save, restore.

libvirt reports what such a job has done so far (virDomainGetJobInfo,
virDomainGetJobStats: ``virsh domjobinfo``), keeps the figures of the last one that ended
(``--completed``) and can cancel one (virDomainAbortJob: ``virsh domjobabort``). The jobs
all move the guest's state as a QEMU migration stream, so the figures are QEMU's
``query-migrate``; the thread running the job polls it (:func:`wait_for_stream`) and keeps
the last answer in the job's :class:`JobProgress`, which the query calls read.
"""

from __future__ import annotations

import contextlib
import time

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from pyvirt.drivers.qemu.domain import QemuDomain

STREAM_TIMEOUT = 600.0
# statistics kinds: a migration's (with disk figures) or a save's (memory only)
MIGRATION, SAVEDUMP = "migration", "savedump"
_TYPES = {"active": c.VIR_DOMAIN_JOB_UNBOUNDED, "completed": c.VIR_DOMAIN_JOB_COMPLETED,
          "failed": c.VIR_DOMAIN_JOB_FAILED, "cancelled": c.VIR_DOMAIN_JOB_CANCELLED}


def _now_ms() -> int:
    return int(time.time() * 1000)


class JobProgress:
    """One asynchronous job (libvirt's virDomainJobData): what it is, since when, how it
    ended, and QEMU's latest figures."""

    def __init__(self, operation: int, name: str, kind: str) -> None:
        self.operation = operation   # VIR_DOMAIN_JOB_OPERATION_*
        self.name = name             # as libvirt names the job in errors
        self.kind = kind             # MIGRATION or SAVEDUMP
        self.started = _now_ms()
        self.ended: int | None = None
        self.status = "active"
        self.stats: dict[str, Any] = {}   # the last query-migrate answer

    @property
    def job_type(self) -> int:
        return _TYPES[self.status]

    def elapsed(self) -> int:
        return (self.ended if self.ended is not None else _now_ms()) - self.started

    def _ram(self) -> dict[str, Any]:
        ram = self.stats.get("ram")
        return ram if isinstance(ram, dict) else {}

    def _disk(self) -> dict[str, Any]:
        disk = self.stats.get("disk")
        return disk if isinstance(disk, dict) and self.kind == MIGRATION else {}

    def info(self) -> list[int]:
        """virDomainJobInfo's fields, as libvirt-python's jobInfo() lists them."""
        ram, disk = self._ram(), self._disk()
        memory = [ram.get("total", 0), ram.get("transferred", 0), ram.get("remaining", 0)]
        files = [disk.get("total", 0), disk.get("transferred", 0), disk.get("remaining", 0)]
        data = [m + f for m, f in zip(memory, files)]
        return [self.job_type, self.elapsed(), 0, *data, *memory, *files]

    def params(self) -> dict[str, Any]:
        """virDomainGetJobStats's parameters in libvirt's order
        (qemuDomainMigrationJobDataToParams), with libvirt-python's "type" first."""
        ram, disk = self._ram(), self._disk()
        out: dict[str, Any] = {"type": self.job_type, "operation": self.operation,
                               "time_elapsed": self.elapsed()}
        if self.status == "completed" and "downtime" in self.stats:
            out["downtime"] = self.stats["downtime"]
        if "setup-time" in self.stats:
            out["setup_time"] = self.stats["setup-time"]
        for suffix, key in (("total", "total"), ("processed", "transferred"),
                            ("remaining", "remaining")):
            out[f"data_{suffix}"] = ram.get(key, 0) + disk.get(key, 0)
        for suffix, key in (("total", "total"), ("processed", "transferred"),
                            ("remaining", "remaining")):
            out[f"memory_{suffix}"] = ram.get(key, 0)
        if ram.get("mbps"):
            out["memory_bps"] = int(ram["mbps"] * 1000 * 1000 / 8)
        if "duplicate" in ram:
            out["memory_constant"] = ram["duplicate"]
            out["memory_normal"] = ram.get("normal", 0)
            out["memory_normal_bytes"] = ram.get("normal-bytes", 0)
        out["memory_dirty_rate"] = ram.get("dirty-pages-rate", 0)
        out["memory_iteration"] = ram.get("dirty-sync-count", 0)
        out["memory_postcopy_requests"] = ram.get("postcopy-requests", 0)
        if ram.get("page-size"):
            out["memory_page_size"] = ram["page-size"]
        if self.kind == MIGRATION:
            for suffix, key in (("total", "total"), ("processed", "transferred"),
                                ("remaining", "remaining")):
                out[f"disk_{suffix}"] = disk.get(key, 0)
            if self.stats.get("cpu-throttle-percentage"):
                out["auto_converge_throttle"] = self.stats["cpu-throttle-percentage"]
        return out


def begin(dom: QemuDomain, operation: int, name: str, kind: str) -> JobProgress:
    """Record that ``dom`` runs an asynchronous job from now on."""
    progress = JobProgress(operation, name, kind)
    with dom.lock:
        dom.async_job = progress
    return progress


def end(dom: QemuDomain, progress: JobProgress) -> None:
    """The job ended (completed, cancelled, or else failed): its figures become the
    domain's completed-job statistics."""
    with dom.lock:
        if progress.status == "active":
            progress.status = "failed"
        progress.ended = _now_ms()
        if dom.async_job is progress:
            dom.async_job = None
        dom.completed_job = progress


def set_bandwidth(monitor: Any, mib_per_s: int | None = None) -> None:
    """QEMU's migration speed limit; None: unlimited, as libvirt runs saves and dumps
    (QEMU's default would be 128 MiB/s), so a limit left by a migration cannot slow them."""
    from pyvirt.drivers.qemu.domain import MIGRATION_BANDWIDTH_MAX

    mib = mib_per_s or MIGRATION_BANDWIDTH_MAX
    monitor.execute("migrate-set-parameters", {"max-bandwidth": mib * 1024 * 1024})


@contextlib.contextmanager
def async_job(dom: QemuDomain, operation: int, name: str,
              kind: str = SAVEDUMP) -> Iterator[JobProgress]:
    """The body is ``dom``'s asynchronous job (see :func:`begin` and :func:`end`)."""
    progress = begin(dom, operation, name, kind)
    try:
        yield progress
    finally:
        end(dom, progress)


def wait_for_stream(monitor: Any, progress: JobProgress) -> None:
    """Poll query-migrate until QEMU has sent (or loaded) the whole stream, keeping its
    figures; its failure or cancellation as libvirt 9.0 words it
    (qemuMigrationJobCheckStatus)."""
    deadline = time.monotonic() + STREAM_TIMEOUT
    while time.monotonic() < deadline:
        info = monitor.execute("query-migrate")
        if not isinstance(info, dict):
            info = {}
        progress.stats = info
        status = info.get("status")
        if status == "completed":
            progress.status = "completed"
            return
        if status == "cancelled":
            progress.status = "cancelled"
            raise_error(c.VIR_ERR_OPERATION_ABORTED,
                        f"job '{progress.name}' canceled by client", domain=c.VIR_FROM_QEMU)
        if status == "failed":
            progress.status = "failed"
            detail = info.get("error-desc")
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"job '{progress.name}' failed: {detail}" if detail
                        else f"job '{progress.name}' unexpectedly failed",
                        domain=c.VIR_FROM_QEMU)
        time.sleep(0.02)
    raise_error(c.VIR_ERR_OPERATION_TIMEOUT, f"job '{progress.name}' timed out",
                domain=c.VIR_FROM_QEMU)


class QemuJobsMixin:
    """virDomainGetJobInfo, virDomainGetJobStats, virDomainAbortJob(Flags); ``self`` is
    the QemuDriver."""

    if TYPE_CHECKING:
        from pyvirt.api.domain import virDomain

        def _dom(self, handle: virDomain) -> QemuDomain: ...

    def _current_job(self, handle: Any) -> JobProgress | None:
        dom = self._dom(handle)
        with dom.lock:
            job = dom.async_job
            if job is not None and job.operation == c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN:
                raise_error(c.VIR_ERR_OPERATION_UNSUPPORTED, "migration statistics are "
                            "available only on the source host", domain=c.VIR_FROM_QEMU)
            dom.check_active()
            return job

    def domainGetJobInfo(self, handle: Any) -> list[int]:  # noqa: N802
        job = self._current_job(handle)
        return job.info() if job is not None else [c.VIR_DOMAIN_JOB_NONE] + [0] * 11

    def domainGetJobStats(self, handle: Any, flags: int) -> dict[str, Any]:  # noqa: N802
        from pyvirt.drivers.base import check_flags

        check_flags("qemuDomainGetJobStats", flags, c.VIR_DOMAIN_JOB_STATS_COMPLETED
                    | c.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED, c.VIR_FROM_QEMU)
        if flags & c.VIR_DOMAIN_JOB_STATS_COMPLETED:
            dom = self._dom(handle)
            with dom.lock:
                job = dom.completed_job if dom.async_job is None else None
                if job is not None and not flags & c.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED:
                    dom.completed_job = None
        else:
            job = self._current_job(handle)
        return job.params() if job is not None else {"type": c.VIR_DOMAIN_JOB_NONE}

    def domainAbortJob(self, handle: Any) -> int:  # noqa: N802
        return self.domainAbortJobFlags(handle, 0)

    def domainAbortJobFlags(self, handle: Any, flags: int) -> int:  # noqa: N802
        from pyvirt.drivers.base import check_flags

        check_flags("qemuDomainAbortJobFlags", flags, c.VIR_DOMAIN_ABORT_JOB_POSTCOPY,
                    c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        with dom.lock:
            dom.check_active()
            job = dom.async_job
            monitor = dom.monitor
        if flags & c.VIR_DOMAIN_ABORT_JOB_POSTCOPY:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "current job is not outgoing migration "
                        "in post-copy mode", domain=c.VIR_FROM_QEMU)
        if job is None:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "no job is active on the domain",
                        domain=c.VIR_FROM_QEMU)
        assert job is not None
        if job.operation == c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "cannot abort incoming migration; use "
                        "virDomainDestroy instead", domain=c.VIR_FROM_QEMU)
        if job.operation == c.VIR_DOMAIN_JOB_OPERATION_RESTORE:
            raise_error(c.VIR_ERR_OPERATION_INVALID, "cannot abort VM start; use "
                        "virDomainDestroy instead", domain=c.VIR_FROM_QEMU)
        if monitor is not None:
            monitor.execute("migrate_cancel")
        return 0
