"""Copying disks during a migration (``VIR_MIGRATE_NON_SHARED_DISK`` / ``_INC``), as
libvirt's QEMU driver does it: over NBD, beside the memory stream.

* The destination (Prepare) starts QEMU with the disks of the definition it was given —
  their images must exist there, of the same size — and exports each disk to be copied,
  writable, from an NBD server on a port of its own (the ``disks_port`` parameter, or one
  from the migration range); the port goes back in the cookie (``<nbd port='N'/>``).
* The source (Perform) attaches each export as a block node and mirrors the disk into it
  (``blockdev-mirror``: the whole chain, or with ``_INC`` only the top image, whose backing
  files the destination must already have). Once every mirror is in step, the memory
  migration runs; when it is complete the mirrors are cancelled, which leaves the copies
  consistent, and the NBD nodes removed.
* The destination (Finish) stops its NBD server before the guest runs there.

Disks copied are ``migrate_disks`` (target names) when given, else every writable disk
with an image. Libvirt's export names are kept: ``drive-<alias>``.
"""

from __future__ import annotations

import time

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.drivers.qemu.domain import QemuDomain

MIRROR_TIMEOUT = 600.0


def disks_to_copy(dom: QemuDomain, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(target, alias) of the disks whose images move, in definition order."""
    wanted = params.get(c.VIR_MIGRATE_PARAM_MIGRATE_DISKS)
    if isinstance(wanted, str):
        wanted = [wanted]
    out = []
    with dom.lock:
        disks = list(dom.defn.devices.disks)
    known = {disk.target_dev for disk in disks}
    for name in wanted or ():
        if name not in known:
            raise_error(c.VIR_ERR_INVALID_ARG, f"disk target {name} not found",
                        domain=c.VIR_FROM_QEMU)
    for disk in disks:
        if wanted is not None:
            if disk.target_dev in wanted:
                out.append((disk.target_dev, disk.alias or ""))
        elif disk.path and not disk.readonly and disk.device not in ("cdrom", "floppy"):
            out.append((disk.target_dev, disk.alias or ""))
    return out


def export_name(alias: str) -> str:
    return f"drive-{alias}"


def top_nodes(monitor: Any) -> dict[str, str]:
    """Each disk device's (by alias) top block node, from QEMU's query-block."""
    out: dict[str, str] = {}
    for entry in monitor.execute("query-block") or []:
        qdev = entry.get("qdev") or ""
        node = (entry.get("inserted") or {}).get("node-name")
        if not qdev or not node:
            continue
        parts = qdev.split("/")
        # "/machine/peripheral/<alias>/virtio-backend", or the bare id
        alias = parts[3] if qdev.startswith("/machine/peripheral/") and len(parts) > 3 \
            else qdev
        out[alias] = node
    return out


# ---- destination ----------------------------------------------------------------------------


def start_exports(monitor: Any, disks: list[tuple[str, str]], listen: str, port: int) -> None:
    """An NBD server on ``listen``:``port`` exporting each disk, writable."""
    nodes = top_nodes(monitor)
    monitor.execute("nbd-server-start", {"addr": {"type": "inet", "data": {
        "host": listen.strip("[]"), "port": str(port)}}})
    for _target, alias in disks:
        node = nodes.get(alias)
        if node is None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"disk '{alias}' has no block node to "
                        "export", domain=c.VIR_FROM_QEMU)
        monitor.execute("block-export-add", {"type": "nbd", "id": export_name(alias),
                                             "node-name": node, "name": export_name(alias),
                                             "writable": True})


def stop_exports(monitor: Any) -> None:
    try:
        monitor.execute("nbd-server-stop")
    except Exception:  # noqa: BLE001 - no server (nothing was copied): nothing to stop
        pass


# ---- source ---------------------------------------------------------------------------------


class Mirrors:
    """The source's mirror jobs into the destination's exports (see the module
    docstring): start, wait until in step, then finish or abandon."""

    def __init__(self, monitor: Any, disks: list[tuple[str, str]], host: str, port: int,
                 shallow: bool) -> None:
        self.monitor = monitor
        self.disks = disks
        self.host = host.strip("[]")
        self.port = port
        self.shallow = shallow
        self.jobs: list[str] = []
        self.nodes: list[str] = []

    def start(self) -> None:
        nodes = top_nodes(self.monitor)
        for target, alias in self.disks:
            source = nodes.get(alias)
            if source is None:
                raise_error(c.VIR_ERR_INTERNAL_ERROR, f"disk '{alias}' has no block node "
                            "to mirror", domain=c.VIR_FROM_QEMU)
            node = f"migration-{target}-storage"
            self.monitor.execute("blockdev-add", {
                "driver": "nbd", "node-name": node, "export": export_name(alias),
                "server": {"type": "inet", "host": self.host, "port": str(self.port)}})
            self.nodes.append(node)
            job = export_name(alias)
            self.monitor.execute("blockdev-mirror", {
                "job-id": job, "device": source, "target": node,
                "sync": "top" if self.shallow else "full", "auto-finalize": True,
                "auto-dismiss": True})
            self.jobs.append(job)

    def wait_ready(self) -> None:
        """Until every mirror has copied the disk and follows its writes."""
        deadline = time.monotonic() + MIRROR_TIMEOUT
        while time.monotonic() < deadline:
            running = {j["device"]: j for j in self.monitor.execute("query-block-jobs") or []}
            for job in self.jobs:
                info = running.get(job)
                if info is None:
                    raise_error(c.VIR_ERR_OPERATION_FAILED, f"migration of disk {job} "
                                "failed", domain=c.VIR_FROM_QEMU)
                if info.get("status") in ("aborting", "concluded", "null"):
                    raise_error(c.VIR_ERR_OPERATION_FAILED, f"migration of disk {job} "
                                f"failed: {info.get('error', 'unknown error')}",
                                domain=c.VIR_FROM_QEMU)
            if all(running[job].get("ready") for job in self.jobs):
                return
            time.sleep(0.05)
        raise_error(c.VIR_ERR_OPERATION_TIMEOUT, "migration of disks timed out",
                    domain=c.VIR_FROM_QEMU)

    def finish(self, force: bool = False) -> None:
        """Cancel the mirrors (after a completed migration this keeps the copies, as
        libvirt does) and drop the NBD nodes; with ``force``, abandon them."""
        for job in self.jobs:
            try:
                self.monitor.execute("block-job-cancel", {"device": job, "force": force})
            except Exception:  # noqa: BLE001 - already gone
                pass
        deadline = time.monotonic() + 30
        while self.jobs and time.monotonic() < deadline:
            running = {j["device"] for j in self.monitor.execute("query-block-jobs") or []}
            if not running & set(self.jobs):
                break
            time.sleep(0.05)
        for node in self.nodes:
            try:
                self.monitor.execute("blockdev-del", {"node-name": node})
            except Exception:  # noqa: BLE001 - the job may still hold it: QEMU frees it later
                pass
        self.jobs, self.nodes = [], []
