"""Domain snapshots of the QEMU driver (mixed into QemuDriver), after libvirt's qemu_snapshot.c.

Kinds of snapshot, as libvirt takes them:

- internal: every selected disk is a qcow2 image that keeps the disks' state under the
  snapshot's name; for a running guest the memory and device state go into one of them too.
  Running guests use QMP's ``snapshot-save`` / ``snapshot-load`` / ``snapshot-delete`` jobs
  (polled with ``query-jobs``, then dismissed); shut-off guests ``qemu-img snapshot -c/-a/-d``.
- external: each selected disk gets a new qcow2 overlay on top of its current image, which
  becomes read-only history; the live and persistent definitions then point at the overlay
  with the old image as its <backingStore>. Running guests: the overlay is made with QMP
  (``blockdev-add`` of the file, a ``blockdev-create`` job, ``blockdev-add`` of the qcow2
  node) and switched to in one ``transaction`` of ``blockdev-snapshot`` actions, so a
  snapshot of several disks is atomic; shut-off guests: ``qemu-img create -b``. The memory
  of a running guest may go to a file as well (a save image, like virDomainSave's).

The snapshot tree, list filters and the current snapshot are ``drivers.snapshot_tree``; each
domain's tree is kept here, keyed by the domain object. Metadata: one file per snapshot,
``paths.snapshot_dir/<domain>/<snapshot>.xml`` (libvirt's format, with <active> marking the
current one), written atomically, read when the driver starts (or when a domain is first
used), removed by a delete or by undefine with VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.

Concurrency: creation, revert and deletion hold the domain's job; the tree itself is changed
and read under the domain's object lock.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import threading
import time
import weakref

from pyvirt import constants as c
from pyvirt.drivers import snapshot_tree as tree
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.snapshot_tree import SnapshotTree
from pyvirt.errors import libvirtError, raise_error
from pyvirt.fileutil import atomic_write, remove_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from pyvirt.api.domain import virDomain
    from pyvirt.api.snapshot import virDomainSnapshot
    from pyvirt.conf.domain import DomainDef
    from pyvirt.conf.domain.disks import Disk
    from pyvirt.conf.domain.xnode import XNode
    from pyvirt.conf.snapshot import SnapshotDef, SnapshotDiskDef
    from pyvirt.drivers.qemu.domain import QemuDomain
    from pyvirt.drivers.qemu.monitor import Monitor
    from pyvirt.drivers.qemu.paths import QemuPaths

CREATE_FLAGS = (c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
                | c.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA | c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT
                | c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | c.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT
                | c.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE | c.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
                | c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE | c.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE)
REVERT_RUN = c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
REVERT_FLAGS = (REVERT_RUN | c.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE
                | c.VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM)
DELETE_CHILDREN = (c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
                   | c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
DELETE_FLAGS = DELETE_CHILDREN | c.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY

QEMU_IMG = "qemu-img"
JOB_TIMEOUT = 600.0  # seconds a snapshot, image creation or commit job may take
_POLL = 0.02

# The snapshot trees of all driver instances, by domain object (a domain object that goes
# away takes its tree along).
_TREES_LOCK = threading.Lock()
_NODE_INDEX = re.compile(r"^libvirt-(\d+)-")


def _err(code: int, detail: str, domain: int = c.VIR_FROM_QEMU) -> NoReturn:
    raise_error(code, detail, domain=domain)


def _invalid_arg(text: str) -> NoReturn:
    """virReportInvalidArg: the text is the whole message."""
    raise_error(c.VIR_ERR_INVALID_ARG, text, domain=c.VIR_FROM_QEMU, message=text)


def run_qemu_img(args: list[str]) -> None:
    """Run qemu-img; a failure is libvirt's virCommandRun error, with its stderr."""
    import shutil
    import subprocess

    binary = shutil.which(QEMU_IMG)
    if binary is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, "unable to find qemu-img")
    argv = [binary, *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).strip()
        _err(c.VIR_ERR_INTERNAL_ERROR, f"Child process ({' '.join(argv)}) unexpected exit "
             f"status {proc.returncode}: {out}")


def _escape_comma(text: str) -> str:
    """virQEMUBuildBufferEscapeComma: a comma in an option value is doubled."""
    return text.replace(",", ",,")


def _disk_format(disk: Disk) -> str:
    """The image format of a disk's top image (raw unless the definition says otherwise)."""
    return disk.driver_type or "raw"


def _disk_by_target(defn: Any, target: str) -> Disk | None:
    return next((d for d in defn.devices.disks if d.target_dev == target), None)


def _copy_def(defn: DomainDef) -> DomainDef:
    """A definition as a snapshot keeps it: formatted inactive and parsed back
    (qemuDomainDefFormatLive + virDomainDefParseString)."""
    from pyvirt.conf.domain import DomainDef as _DomainDef

    return _DomainDef.from_xml(defn.to_xml(inactive=True, secure=True), inactive=True)


def _push_overlay(disk: Disk, kind: str, path: str, fmt: str, keep_backing: bool = True
                  ) -> None:
    """The disk now opens the image at ``path`` (``fmt``); with ``keep_backing`` its old
    image (and that image's own backing chain) becomes the new image's <backingStore>
    (qemuSnapshotDiskUpdateSource)."""
    from pyvirt.conf.domain.disks import DiskDriver, DiskSource
    from pyvirt.conf.domain.xnode import XNode

    old_backing = [(prev, n) for prev, n in disk.extra.children if n.tag == "backingStore"]
    disk.extra.children = [(prev, n) for prev, n in disk.extra.children
                           if n.tag != "backingStore"]
    if keep_backing and disk.source is not None:
        kids = [XNode("format", {"type": _disk_format(disk)}),
                XNode("source", {k: v for k, v in disk.source.attrs.items() if k != "index"},
                      None, list(disk.source.children))]
        kids.extend(n for _, n in old_backing)
        disk.extra.children.append((("source",), XNode("backingStore", {"type": disk.type},
                                                       None, kids)))
    disk.type = kind
    disk.source = DiskSource({"dev" if kind == "block" else "file": path})
    if disk.driver is None:
        disk.driver = DiskDriver("qemu", fmt)
    else:
        disk.driver.type = fmt


def _pop_overlay(disk: Disk) -> bool:
    """Undo ``_push_overlay``: the disk opens its backing image again (after a commit).
    False when the definition names no backing image."""
    from pyvirt.conf.domain.disks import DiskSource

    entry = next(((prev, n) for prev, n in disk.extra.children if n.tag == "backingStore"),
                 None)
    if entry is None:
        return False
    node = entry[1]
    src = node.find("source")
    if src is None:
        return False
    fmt = node.find("format")
    disk.extra.children = [(prev, n) for prev, n in disk.extra.children
                           if n.tag != "backingStore"]
    below = node.find("backingStore")
    if below is not None:
        disk.extra.children.append((("source",), below))
    disk.type = node.attrs.get("type", "file")
    disk.source = DiskSource(dict(src.attrs), list(src.children))
    if disk.driver is not None:
        disk.driver.type = fmt.attrs.get("type") if fmt is not None else None
    return True


def _backing_paths(disk: Disk) -> list[str]:
    """The paths of the images below the disk's top image, as its definition names them."""
    out: list[str] = []
    node = next((n for _, n in disk.extra.children if n.tag == "backingStore"), None)
    while node is not None:
        src = node.find("source")
        if src is None:
            break
        path = src.attrs.get("file") or src.attrs.get("dev")
        if path:
            out.append(path)
        node = node.find("backingStore")
    return out


class QemuSnapshotMixin:
    """Snapshot entry points; ``self`` is the QemuDriver."""

    paths: QemuPaths
    lock: Any
    _snapshot_trees: weakref.WeakKeyDictionary[QemuDomain, SnapshotTree] | None = None
    # QemuDriver provides these.
    _dom: Any
    _all: Any
    _index: Any
    _unindex: Any
    _by_uuid: Any
    _start: Any
    _signal: Any
    _running_monitor: Any
    _lifecycle: Any
    _transition: Any
    parse_definition: Any

    # ---- metadata ---------------------------------------------------------------------------

    def _load_snapshots(self) -> None:
        """qemuDomainSnapshotLoad for every domain the driver knows at start-up."""
        for dom in self._all():
            self._snapshots_of(dom)

    def _snapshots_of(self, dom: QemuDomain) -> SnapshotTree:
        """The domain's snapshot tree, read from its metadata directory on first use."""
        with _TREES_LOCK:
            if self._snapshot_trees is None:
                self._snapshot_trees = weakref.WeakKeyDictionary()
            found = self._snapshot_trees.get(dom)
            if found is None:
                found = self._read_snapshot_dir(dom)
                self._snapshot_trees[dom] = found
            return found

    def _snapshot_dir(self, dom: QemuDomain) -> str:
        return os.path.join(self.paths.snapshot_dir, dom.name)

    def _read_snapshot_dir(self, dom: QemuDomain) -> SnapshotTree:
        """Every NAME.xml of the domain's snapshot directory (one that does not parse is
        skipped with a warning, as libvirt skips it); the one marked <active>1</active> is
        current. Snapshots are linked in creation order."""
        import sys

        from pyvirt.conf.snapshot import SnapshotDef

        found = SnapshotTree()
        directory = self._snapshot_dir(dom)
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return found
        loaded: list[SnapshotDef] = []
        for fname in names:
            if not fname.endswith(".xml") or fname.startswith("."):
                continue
            path = os.path.join(directory, fname)
            try:
                with open(path, "rb") as fh:
                    snap = SnapshotDef.from_xml(fh.read(), redefine=True, internal=True)
            except Exception as exc:  # one bad file must not hide the others
                print(f"pyvirt: qemu: Failed to parse snapshot XML from file '{path}': {exc}",
                      file=sys.stderr)
                continue
            loaded.append(snap)
        loaded.sort(key=lambda s: (s.creation_time, s.name or ""))
        for snap in loaded:
            assert snap.name is not None
            found.snapshots[snap.name] = snap
            if snap.current:
                if found.current_snapshot is not None:
                    print("pyvirt: qemu: Too many snapshots claiming to be current for domain "
                          f"{dom.name}", file=sys.stderr)
                found.current_snapshot = snap.name
        for snap in found.snapshots.values():
            if snap.parent and snap.parent not in found.snapshots:
                print(f"pyvirt: qemu: Snapshots have inconsistent relations for domain "
                      f"{dom.name}", file=sys.stderr)
                snap.parent = None
        return found

    def _write_snapshot(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef) -> None:
        """qemuDomainSnapshotWriteMetadata (with the domain's object lock held)."""
        directory = self._snapshot_dir(dom)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        xml = snap.to_xml(secure=True, internal=True,
                          current=snaps.current_snapshot == snap.name, domain_uuid=dom.uuid)
        atomic_write(os.path.join(directory, f"{snap.name}.xml"), xml)

    def _write_quietly(self, dom: QemuDomain, snaps: SnapshotTree, name: str | None) -> None:
        if name is None or name not in snaps.snapshots:
            return
        try:
            self._write_snapshot(dom, snaps, snaps.snapshots[name])
        except OSError:
            pass

    def _set_current(self, dom: QemuDomain, snaps: SnapshotTree, name: str | None) -> None:
        """qemuSnapshotSetCurrent: the old current snapshot's file loses its mark."""
        old = snaps.current_snapshot
        snaps.current_snapshot = name
        if old != name:
            self._write_quietly(dom, snaps, old)

    def _save_new(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef) -> None:
        """Write a new or redefined snapshot's metadata; on failure it leaves the tree."""
        try:
            self._write_snapshot(dom, snaps, snap)
        except OSError:
            assert snap.name is not None
            snaps.snapshots.pop(snap.name, None)
            if snaps.current_snapshot == snap.name:
                snaps.current_snapshot = None
            _err(c.VIR_ERR_INTERNAL_ERROR, f"unable to save metadata for snapshot {snap.name}")

    def _has_snapshots(self, dom: QemuDomain) -> bool:
        """For connectListAllDomains' HAS_SNAPSHOT / NO_SNAPSHOT filter."""
        return bool(self._snapshots_of(dom).snapshots)

    def _undefine_snapshots(self, dom: QemuDomain, flags: int) -> None:
        """qemuDomainUndefineFlags: an inactive domain with snapshots is undefined only with
        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, which removes their metadata (the images
        keep their data)."""
        snaps = self._snapshots_of(dom)
        count = len(snaps.snapshots)
        if dom.active or not count:
            return
        if not flags & c.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA:
            _err(c.VIR_ERR_OPERATION_INVALID,
                 f"cannot delete inactive domain with {count} snapshots")
        self._discard_all_metadata(dom, snaps)

    def _discard_all_metadata(self, dom: QemuDomain, snaps: SnapshotTree) -> None:
        """qemuSnapshotDiscardAllMetadata, then the directory goes."""
        directory = self._snapshot_dir(dom)
        for name in list(snaps.snapshots):
            remove_quietly(os.path.join(directory, f"{name}.xml"))
        snaps.snapshots.clear()
        snaps.current_snapshot = None
        try:
            os.rmdir(directory)
        except OSError:
            pass

    # ---- lookups and lists --------------------------------------------------------------------

    def _snap_handle(self, handle: virDomain, name: str) -> virDomainSnapshot:
        from pyvirt.api.snapshot import virDomainSnapshot

        return virDomainSnapshot(handle, name)

    def _snap_of(self, snapshot: virDomainSnapshot
                 ) -> tuple[QemuDomain, SnapshotTree, SnapshotDef]:
        """The domain, its tree and the snapshot a handle names (qemuSnapObjFromSnapshot)."""
        dom: QemuDomain = self._dom(snapshot._dom)
        snaps = self._snapshots_of(dom)
        with dom.lock:
            snap = tree.lookup(snaps, snapshot._name, c.VIR_FROM_QEMU)
        return dom, snaps, snap

    def _list_domain(self, handle: virDomain, flags: int, api: str) -> list[str]:
        check_flags(api, flags, tree.LIST_FLAGS, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        snaps = self._snapshots_of(dom)
        with dom.lock:
            return tree.list_names(snaps, None, flags, api, c.VIR_FROM_QEMU)

    def _list_children(self, snapshot: virDomainSnapshot, flags: int, api: str) -> list[str]:
        check_flags(api, flags, tree.LIST_FLAGS, c.VIR_FROM_QEMU)
        dom, snaps, snap = self._snap_of(snapshot)
        with dom.lock:
            return tree.list_names(snaps, snap.name, flags, api, c.VIR_FROM_QEMU)

    def domainSnapshotNum(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        return len(self._list_domain(handle, flags, "qemuDomainSnapshotNum"))

    def domainSnapshotListNames(self, handle: virDomain, flags: int) -> list[str]:  # noqa: N802
        return self._list_domain(handle, flags, "qemuDomainSnapshotListNames")

    def domainListAllSnapshots(self, handle: virDomain,  # noqa: N802
                               flags: int) -> list[virDomainSnapshot]:
        names = self._list_domain(handle, flags, "qemuDomainListAllSnapshots")
        return [self._snap_handle(handle, n) for n in names]

    def domainSnapshotNumChildren(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        return len(self._list_children(snapshot, flags, "qemuDomainSnapshotNumChildren"))

    def domainSnapshotListChildrenNames(self, snapshot: virDomainSnapshot,  # noqa: N802
                                        flags: int) -> list[str]:
        return self._list_children(snapshot, flags, "qemuDomainSnapshotListChildrenNames")

    def domainSnapshotListAllChildren(self, snapshot: virDomainSnapshot,  # noqa: N802
                                      flags: int) -> list[virDomainSnapshot]:
        names = self._list_children(snapshot, flags, "qemuDomainSnapshotListAllChildren")
        return [self._snap_handle(snapshot._dom, n) for n in names]

    def domainSnapshotLookupByName(self, handle: virDomain, name: str,  # noqa: N802
                                   flags: int) -> virDomainSnapshot:
        check_flags("qemuDomainSnapshotLookupByName", flags, 0, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        snaps = self._snapshots_of(dom)
        with dom.lock:
            tree.lookup(snaps, name, c.VIR_FROM_QEMU)
        return self._snap_handle(handle, name)

    def domainHasCurrentSnapshot(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainHasCurrentSnapshot", flags, 0, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        return int(self._snapshots_of(dom).current_snapshot is not None)

    def domainSnapshotCurrent(self, handle: virDomain, flags: int) -> virDomainSnapshot:  # noqa: N802
        check_flags("qemuDomainSnapshotCurrent", flags, 0, c.VIR_FROM_QEMU)
        dom: QemuDomain = self._dom(handle)
        snaps = self._snapshots_of(dom)
        with dom.lock:
            name = tree.current_name(snaps, c.VIR_FROM_QEMU)
        return self._snap_handle(handle, name)

    def domainSnapshotGetParent(self, snapshot: virDomainSnapshot,  # noqa: N802
                                flags: int) -> virDomainSnapshot:
        check_flags("qemuDomainSnapshotGetParent", flags, 0, c.VIR_FROM_QEMU)
        _dom, _snaps, snap = self._snap_of(snapshot)
        return self._snap_handle(snapshot._dom, tree.parent_name(snap, c.VIR_FROM_QEMU))

    def domainSnapshotGetXMLDesc(self, snapshot: virDomainSnapshot, flags: int) -> str:  # noqa: N802
        check_flags("qemuDomainSnapshotGetXMLDesc", flags, c.VIR_DOMAIN_SNAPSHOT_XML_SECURE,
                    c.VIR_FROM_QEMU)
        dom, _snaps, snap = self._snap_of(snapshot)
        with dom.lock:
            return snap.to_xml(secure=bool(flags & c.VIR_DOMAIN_SNAPSHOT_XML_SECURE),
                               domain_uuid=dom.uuid)

    def domainSnapshotIsCurrent(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainSnapshotIsCurrent", flags, 0, c.VIR_FROM_QEMU)
        _dom, snaps, snap = self._snap_of(snapshot)
        return int(snaps.current_snapshot == snap.name)

    def domainSnapshotHasMetadata(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainSnapshotHasMetadata", flags, 0, c.VIR_FROM_QEMU)
        self._snap_of(snapshot)
        return 1

    # ---- QEMU helpers -------------------------------------------------------------------------

    @staticmethod
    def _block_nodes(monitor: Monitor, defn: DomainDef) -> dict[str, str]:
        """Disk target -> the node at the top of its chain (what its frontend reads), from
        query-block (the frontend is /machine/peripheral/<alias>[/...])."""
        by_qdev: dict[str, str] = {}
        for entry in monitor.execute("query-block"):
            inserted = entry.get("inserted")
            if inserted and entry.get("qdev"):
                by_qdev[entry["qdev"]] = inserted["node-name"]
        out: dict[str, str] = {}
        for disk in defn.devices.disks:
            alias = disk.info.alias
            if not alias:
                continue
            prefix = f"/machine/peripheral/{alias}"
            for qdev, node in by_qdev.items():
                if qdev == prefix or qdev.startswith(prefix + "/"):
                    out[disk.target_dev] = node
                    break
        return out

    @staticmethod
    def _run_job(monitor: Monitor, command: str, args: dict[str, Any], job_id: str,
                 what: str, until_ready: bool = False) -> str:
        """Start a QMP job and poll query-jobs until it concludes (then dismiss it), or with
        ``until_ready`` until it is ready for job-complete. Returns the final status."""
        monitor.execute(command, args)
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            jobs = monitor.execute("query-jobs")
            job = next((j for j in jobs if j.get("id") == job_id), None)
            if job is None:
                _err(c.VIR_ERR_OPERATION_FAILED, f"{what} job '{job_id}' vanished")
            status = str(job.get("status"))
            if status == "concluded":
                error = job.get("error")
                monitor.execute("job-dismiss", {"id": job_id})
                if error:
                    _err(c.VIR_ERR_OPERATION_FAILED, f"{what} job failed: {error}")
                return status
            if until_ready and status == "ready":
                return status
            if time.monotonic() > deadline:
                try:
                    monitor.execute("job-cancel", {"id": job_id})
                except libvirtError:
                    pass
                _err(c.VIR_ERR_OPERATION_TIMEOUT, f"{what} job '{job_id}' timed out")
            time.sleep(_POLL)

    @staticmethod
    def _next_node_index(monitor: Monitor) -> int:
        """One more than the highest N of the libvirt-N-* nodes QEMU has."""
        top = 0
        for node in monitor.execute("query-named-block-nodes", {"flat": True}):
            match = _NODE_INDEX.match(str(node.get("node-name", "")))
            if match:
                top = max(top, int(match.group(1)))
        return top + 1

    def _pause_for_snapshot(self, dom: QemuDomain, monitor: Monitor, reason: int) -> None:
        """qemuProcessStopCPUs: the vCPUs stop (SUSPENDED/PAUSED), the state says why."""
        self._transition(dom, monitor, "stop", c.VIR_DOMAIN_PAUSED, reason,
                         c.VIR_DOMAIN_EVENT_SUSPENDED, c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)

    def _resume_after_snapshot(self, dom: QemuDomain, monitor: Monitor) -> None:
        """qemuProcessStartCPUs after the snapshot; a failure leaves the guest paused with
        a SUSPENDED/API_ERROR event."""
        if dom.state == c.VIR_DOMAIN_RUNNING:
            return
        try:
            self._transition(dom, monitor, "cont", c.VIR_DOMAIN_RUNNING,
                             c.VIR_DOMAIN_RUNNING_UNPAUSED, c.VIR_DOMAIN_EVENT_RESUMED,
                             c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
        except libvirtError:
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SUSPENDED,
                            c.VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR)
            raise

    def _stop_for_snapshot(self, dom: QemuDomain, restart: bool = False) -> None:
        """qemuProcessStop(VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT), with the job held: end QEMU;
        the exit handler reports STOPPED/FROM_SNAPSHOT. A transient domain that is about to
        start again stays known."""
        from pyvirt.drivers.qemu.driver import KILL_WAIT, TERM_WAIT

        with dom.lock:
            if not dom.active:
                return
            dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT,
                                 c.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT)
            # As qemuProcessStop, the monitor goes first: QEMU's SHUTDOWN on the signal
            # is not a shutdown of the guest.
            monitor, dom.monitor = dom.monitor, None
        if monitor is not None:
            monitor.close()
        self._signal(dom, signal.SIGTERM)
        if not dom.stopped.wait(TERM_WAIT):
            self._signal(dom, signal.SIGKILL)
            if not dom.stopped.wait(KILL_WAIT):
                _err(c.VIR_ERR_SYSTEM_ERROR, f"Failed to terminate process {dom.pid} with "
                     "SIGKILL: Device or resource busy")
        if restart and not dom.persistent:
            with self.lock:
                if dom.uuid not in self._by_uuid:
                    self._index(dom)

    @staticmethod
    def _agent_path(dom: QemuDomain) -> str:
        """qemuDomainAgentAvailable: the agent's socket, or libvirt's refusal."""
        from pyvirt.drivers.qemu.agent import AGENT_CHANNEL, agent_socket

        with dom.lock:
            if dom.state != c.VIR_DOMAIN_RUNNING:
                _err(c.VIR_ERR_OPERATION_INVALID, "domain is not running")
            path = agent_socket(dom.defn)
            configured = any(chan.target_name == AGENT_CHANNEL
                             for chan in dom.defn.devices.channels)
            connected = dom.agent_connected
        if not configured:
            _err(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured")
        if path is None or not connected:
            _err(c.VIR_ERR_AGENT_UNRESPONSIVE, "QEMU guest agent is not connected")
        return path

    def _fs_freeze(self, dom: QemuDomain) -> bool:
        """qemuSnapshotFSFreeze for QUIESCE: True when the agent froze filesystems (they
        must be thawed)."""
        from pyvirt.drivers.qemu.agent import AgentSession

        session = AgentSession(self._agent_path(dom))
        try:
            frozen = session.execute("guest-fsfreeze-freeze")
        finally:
            session.close()
        return isinstance(frozen, int) and frozen > 0

    def _fs_thaw(self, dom: QemuDomain, report: bool) -> None:
        """qemuSnapshotFSThaw: errors matter only after an otherwise good snapshot."""
        from pyvirt.drivers.qemu.agent import AgentSession

        try:
            session = AgentSession(self._agent_path(dom))
            try:
                session.execute("guest-fsfreeze-thaw")
            finally:
                session.close()
        except libvirtError:
            if report:
                raise

    # ---- create ---------------------------------------------------------------------------

    def domainSnapshotCreateXML(self, handle: virDomain, xml: str,  # noqa: N802
                                flags: int) -> virDomainSnapshot:
        from pyvirt.conf.snapshot import SnapshotDef

        dom: QemuDomain = self._dom(handle)
        check_flags("qemuSnapshotCreateXML", flags, CREATE_FLAGS, c.VIR_FROM_QEMU)
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE and not \
                flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY:
            _invalid_arg("Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag "
                         "'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'")
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE and \
                flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE:
            _invalid_arg("Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and "
                         "'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive")
        if not dom.persistent and flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT:
            _err(c.VIR_ERR_OPERATION_INVALID, "cannot halt after transient domain snapshot")
        redefine = bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
        offline = bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY) or not dom.active
        snap = SnapshotDef.from_xml(xml, redefine=redefine, offline=offline)
        self._validate_new(dom, snap, flags)
        dom.job.begin("virDomainSnapshotCreateXML")
        try:
            if redefine:
                self._redefine(dom, snap, flags)
            else:
                self._create(dom, snap, flags)
        finally:
            dom.job.end()
        handle._id = dom.defn.id if dom.active else -1
        assert snap.name is not None
        return self._snap_handle(handle, snap.name)

    @staticmethod
    def _validate_new(dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotCreateXMLValidateDef."""
        name = snap.name or ""
        if not flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA:
            if "/" in name:
                _err(c.VIR_ERR_XML_DETAIL,
                     f"invalid snapshot name '{name}': name can't contain '/'")
            if name.startswith("."):
                _err(c.VIR_ERR_XML_DETAIL,
                     f"invalid snapshot name '{name}': name can't start with '.'")
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE and (not dom.active
                                                         or snap.memory != "external"):
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 "live snapshot creation is supported only during full system snapshots")
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE:
            state = snap.state or "nostate"
        else:
            state = tree.state_name(dom.state)
        if state in ("running", "paused", "shutdown", "shutoff", "crashed"):
            return
        if state == "disk-snapshot" and flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE:
            return
        if state == "pmsuspended":
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 "qemu doesn't support taking snapshots of PMSUSPENDED guests")
        _err(c.VIR_ERR_INTERNAL_ERROR, f"Invalid domain state {state}")

    def _redefine(self, dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotRedefine: metadata only."""
        snaps = self._snapshots_of(dom)
        with dom.lock:
            tree.redefine_prep(snaps, snap, dom.name, dom.uuid, flags)
            tree.assign_redefined(snaps, snap)
            if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT:
                self._set_current(dom, snaps, snap.name)
            self._save_new(dom, snaps, snap)

    def _create(self, dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotCreate: align, check, record, then take the snapshot."""
        self._align_new(dom, snap, flags)
        has_manual, flags = self._prepare(dom, snap, flags)
        snaps = self._snapshots_of(dom)
        metadata = not flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
        assert snap.name is not None
        if metadata:
            with dom.lock:
                tree.add(snaps, snap)
        try:
            if dom.active:
                if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY or snap.memory == "external":
                    self._create_active_external(dom, snap, has_manual, flags)
                else:
                    self._create_active_internal(dom, snap, flags)
            elif flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY:
                self._create_inactive_external(
                    dom, snap, bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT))
            else:
                self._qemu_img_each(dom.defn, snap, "-c")
        except BaseException:
            if metadata:
                with dom.lock:
                    snaps.snapshots.pop(snap.name, None)
            raise
        if metadata:
            with dom.lock:
                self._set_current(dom, snaps, snap.name)
                self._save_new(dom, snaps, snap)

    def _align_new(self, dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotCreateAlignDisks: the snapshot keeps the domain's definitions, its
        state, and one entry per disk."""
        with dom.lock:
            snap.domain = _copy_def(dom.defn)
            if dom.new_def is not None:
                snap.inactive_domain = _copy_def(dom.new_def)
            state, active = tree.state_name(dom.state), dom.active
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY:
            location = "external"
            snap.state = "disk-snapshot" if active else "shutoff"
            snap.memory = "no"
        elif snap.memory == "external":
            snap.state = state
            location = "external"
        else:
            snap.state = state
            if active and snap.memory == "no":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     "internal snapshot of a running VM must include the memory state")
            snap.memory = "no" if state == "shutoff" else "internal"
            location = "internal"
        # A read-only disk is not snapshotted unless asked (its snapshot='no' default).
        view = snap.domain.copy()
        for disk in view.devices.disks:
            if disk.readonly and "snapshot" not in disk.extra.attrs:
                disk.extra.attrs["snapshot"] = "no"
        snap.align_disks(view, default=location, uniform_internal=True)
        self._assign_external_names(snap)

    @staticmethod
    def _assign_external_names(snap: SnapshotDef) -> None:
        """virDomainSnapshotDefAssignExternalNames: an external disk without a file gets
        the disk's image path, its suffix replaced by the snapshot's name."""
        disks = snap.domain.devices.disks
        for i, sdisk in enumerate(snap.disks):
            if sdisk.snapshot != "external" or sdisk.path:
                continue
            if sdisk.type != "file":
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "cannot generate external snapshot name "
                     f"for disk '{sdisk.name}' on a '{sdisk.type}' device",
                     c.VIR_FROM_DOMAIN_SNAPSHOT)
            orig = disks[i].path if i < len(disks) else None
            if not orig:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "cannot generate external snapshot name "
                     f"for disk '{sdisk.name}' without source", c.VIR_FROM_DOMAIN_SNAPSHOT)
            try:
                regular = stat.S_ISREG(os.stat(orig).st_mode)
            except OSError:
                regular = False
            if not regular:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"source for disk '{sdisk.name}' is not a "
                     "regular file; refusing to generate external snapshot name",
                     c.VIR_FROM_DOMAIN_SNAPSHOT)
            head, dot, tail = orig.rpartition(".")
            base = head if dot and "/" not in tail else orig
            sdisk.path = f"{base}.{snap.name}"
            for other in snap.disks[:i]:
                if other.path == sdisk.path:
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "cannot generate external snapshot "
                         f"name for disk '{sdisk.name}': collision with disk '{other.name}'",
                         c.VIR_FROM_DOMAIN_SNAPSHOT)

    def _prepare(self, dom: QemuDomain, snap: SnapshotDef, flags: int) -> tuple[bool, int]:
        """qemuSnapshotPrepare: what each disk's snapshot needs, refused as libvirt refuses
        it. Returns whether some disk is left to the user ('manual') and the flags, with
        DISK_ONLY added for an external snapshot of a shut-off domain."""
        active = dom.active
        reuse = bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT)
        found_internal = forbid_internal = has_manual = False
        external = 0
        disks = dom.defn.devices.disks
        for sdisk, disk in zip(snap.disks, disks):
            if sdisk.snapshot == "internal":
                found_internal = True
                if snap.state == "disk-snapshot" and active:
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "active qemu domains require external "
                         f"disk snapshots; disk {sdisk.name} requested internal")
                if not active and disk.type not in ("file", "block"):
                    if disk.type == "network":
                        protocol = disk.source.protocol if disk.source is not None else None
                        _err(c.VIR_ERR_INTERNAL_ERROR, "internal inactive snapshots are not "
                             f"supported on 'network' disks using '{protocol}' protocol")
                    _err(c.VIR_ERR_INTERNAL_ERROR, "internal inactive snapshots are not "
                         f"supported on '{disk.type}' disks")
                if _disk_format(disk) != "qcow2":
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"internal snapshot for disk "
                         f"{sdisk.name} unsupported for storage type {_disk_format(disk)}")
            elif sdisk.snapshot == "external":
                if sdisk.driver_type is None:
                    sdisk.driver_type = "qcow2"
                elif sdisk.driver_type not in ("qcow2", "qed"):
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "external snapshot format for disk "
                         f"{sdisk.name} is unsupported: {sdisk.driver_type}")
                if sdisk.metadata_cache_max_size and sdisk.driver_type != "qcow2":
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "metadata cache max size control is "
                         "supported only with qcow2 images")
                self._prepare_external(disk, sdisk, active, reuse)
                external += 1
            elif sdisk.snapshot == "manual":
                has_manual = forbid_internal = True
            elif sdisk.snapshot == "no":
                if disk.source is not None and disk.path and not disk.readonly:
                    forbid_internal = True
        if not found_internal and not external and snap.memory == "no":
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "nothing selected for snapshot")
        if (snap.memory == "internal" and not found_internal) or (found_internal
                                                                  and forbid_internal):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "internal and full system snapshots require "
                 "all disks to be selected for snapshot")
        if snap.state == "disk-snapshot" and not external:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "disk-only snapshots require at least one "
                 "disk to be selected for snapshot")
        if (found_internal and external) or (snap.memory == "internal" and external) or (
                snap.memory == "external" and found_internal):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "mixing internal and external targets for a "
                 "snapshot is not yet supported")
        loader = dom.defn.os.loader
        if found_internal and loader is not None and loader.attrs.get("type") == "pflash":
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "internal snapshots of a VM with pflash "
                 "based firmware are not supported")
        if external and not active:
            flags |= c.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        return has_manual, flags

    @staticmethod
    def _prepare_external(disk: Disk, sdisk: SnapshotDiskDef, active: bool,
                          reuse: bool) -> None:
        """qemuSnapshotPrepareDiskExternal: storage types, and the overlay file must be new
        (or, with REUSE_EXT, exist)."""
        if not active:
            if disk.type not in ("file", "block"):
                if disk.type == "network":
                    protocol = disk.source.protocol if disk.source is not None else None
                    _err(c.VIR_ERR_INTERNAL_ERROR, "external inactive snapshots are not "
                         f"supported on 'network' disks using '{protocol}' protocol")
                _err(c.VIR_ERR_INTERNAL_ERROR, "external inactive snapshots are not "
                     f"supported on '{disk.type}' disks")
            if sdisk.type not in ("file", "block"):
                _err(c.VIR_ERR_INTERNAL_ERROR, "external inactive snapshots are not "
                     f"supported on '{sdisk.type}' disks")
        else:
            if disk.device == "lun":
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "external active snapshots are not "
                     "supported on scsi passthrough devices")
            if sdisk.type not in ("file", "block"):
                _err(c.VIR_ERR_INTERNAL_ERROR, "external active snapshots are not "
                     f"supported on '{sdisk.type}' disks")
        path = sdisk.path or ""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if reuse:
                _err(c.VIR_ERR_SYSTEM_ERROR, f"missing existing file for disk {sdisk.name}: "
                     f"{path}: No such file or directory")
            if sdisk.type == "block":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     f"block device snapshot target '{path}' doesn't exist")
            return
        except OSError as exc:
            _err(c.VIR_ERR_SYSTEM_ERROR,
                 f"unable to stat for disk {sdisk.name}: {path}: {exc.strerror}")
        if (sdisk.type == "block" and not stat.S_ISBLK(st.st_mode)) or (
                sdisk.type == "file" and not stat.S_ISREG(st.st_mode)):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "mismatch between configured type for snapshot "
                 f"disk '{sdisk.name}' and the type of existing file '{path}'")
        if not reuse and sdisk.type == "file" and st.st_size > 0:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"external snapshot file for disk {sdisk.name} "
                 f"already exists and is not a block device: {path}")

    # ---- taking snapshots -----------------------------------------------------------------

    def _internal_nodes(self, monitor: Monitor, dom: QemuDomain,
                        snap: SnapshotDef) -> list[str]:
        """The top nodes of the disks ``snap`` keeps internally."""
        nodes = self._block_nodes(monitor, dom.defn)
        out = []
        for sdisk in snap.disks:
            if sdisk.snapshot != "internal":
                continue
            node = nodes.get(sdisk.name)
            if node is None:
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"cannot find the block node of disk '{sdisk.name}'")
            out.append(node)
        return out

    def _create_active_internal(self, dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotCreateActiveInternal: the vCPUs stop (libvirt keeps QEMU from
        pausing and resuming the guest behind its back), snapshot-save writes disks and
        memory, the guest runs again unless HALT ends it."""
        monitor = self._running_monitor(dom)
        resume = False
        if dom.state == c.VIR_DOMAIN_RUNNING:
            self._pause_for_snapshot(dom, monitor, c.VIR_DOMAIN_PAUSED_SAVE)
            resume = True
        try:
            devices = self._internal_nodes(monitor, dom, snap)
            if not devices:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "nothing selected for snapshot")
            job_id = f"snapsave-{int(time.monotonic() * 1000)}"
            self._run_job(monitor, "snapshot-save",
                          {"job-id": job_id, "tag": snap.name, "vmstate": devices[0],
                           "devices": devices}, job_id, "snapshot-save")
            if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT:
                resume = False
                self._stop_for_snapshot(dom)
        finally:
            if resume and dom.active:
                self._resume_after_snapshot(dom, monitor)

    def _create_active_external(self, dom: QemuDomain, snap: SnapshotDef, has_manual: bool,
                                flags: int) -> None:
        """qemuSnapshotCreateActiveExternal: optional memory image, then the overlays."""
        monitor = self._running_monitor(dom)
        memory = snap.memory == "external"
        thaw = False
        if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE:
            thaw = self._fs_freeze(dom)
        resume = False
        memory_created = ok = False
        try:
            if dom.state == c.VIR_DOMAIN_RUNNING:
                resume = memory and not has_manual
                if (memory or has_manual) and not flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE:
                    self._pause_for_snapshot(dom, monitor, c.VIR_DOMAIN_PAUSED_SNAPSHOT)
            if memory:
                assert snap.memory_file is not None
                memory_created = not os.path.exists(snap.memory_file)
                self._save_memory(dom, monitor, snap.memory_file, resume)
            self._external_disks_live(dom, monitor, snap,
                                      bool(flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT))
            if flags & c.VIR_DOMAIN_SNAPSHOT_CREATE_HALT:
                resume = thaw = False
                self._stop_for_snapshot(dom)
            ok = True
        finally:
            try:
                if resume and dom.active:
                    self._resume_after_snapshot(dom, monitor)
            finally:
                if thaw and dom.active:
                    self._fs_thaw(dom, report=ok)
                if not ok and memory_created and snap.memory_file:
                    remove_quietly(snap.memory_file)

    def _save_memory(self, dom: QemuDomain, monitor: Monitor, path: str,
                     running: bool) -> None:
        """The guest's memory and device state as a save image (virDomainSave's format,
        QEMU's migration stream to a file descriptor)."""
        from pyvirt.drivers.qemu import jobs
        from pyvirt.drivers.qemu.saveimage import MAGIC, XML_PAD, SaveHeader

        with dom.lock:
            data = dom.defn.to_xml(inactive=True, secure=True).encode() + b"\0"
            dom.paused_reason = c.VIR_DOMAIN_PAUSED_SNAPSHOT
        hdr = SaveHeader(len(data) + XML_PAD, running)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            _err(c.VIR_ERR_SYSTEM_ERROR, f"Failed to create file '{path}': {exc.strerror}")
        try:
            os.write(fd, hdr.pack())
            os.write(fd, data + b"\0" * XML_PAD)
            with jobs.async_job(dom, c.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT, "snapshot") as job:
                jobs.set_bandwidth(monitor)
                monitor.execute_with_fd(fd, "migrate")
                monitor.execute("migrate", {"uri": "fd:migrate"})
                jobs.wait_for_stream(monitor, job)
            os.fsync(fd)
            hdr.magic = MAGIC
            os.pwrite(fd, hdr.pack(), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        with dom.lock:  # a live migration ends with QEMU's own stop
            if dom.state == c.VIR_DOMAIN_PAUSED and dom.reason == c.VIR_DOMAIN_PAUSED_UNKNOWN:
                dom.reason = c.VIR_DOMAIN_PAUSED_SNAPSHOT
            dom.paused_reason = 0

    def _external_disks_live(self, dom: QemuDomain, monitor: Monitor, snap: SnapshotDef,
                             reuse: bool) -> None:
        """qemuSnapshotCreateActiveExternalDisks: per disk, the overlay's file node
        (blockdev-add), its qcow2 format (a blockdev-create job, unless reused) and format
        node (blockdev-add, no backing yet); then one transaction of blockdev-snapshot
        actions puts every overlay on top of its disk at once. A failure removes what was
        added and created."""
        with dom.lock:
            live = dom.defn
        nodes = self._block_nodes(monitor, live)
        sizes = {str(n.get("node-name")): int(n.get("image", {}).get("virtual-size", 0))
                 for n in monitor.execute("query-named-block-nodes", {"flat": True})}
        index = self._next_node_index(monitor)
        added: list[str] = []
        created: list[str] = []
        actions: list[dict[str, Any]] = []
        chosen: list[tuple[SnapshotDiskDef, Disk]] = []
        try:
            for sdisk, disk in zip(snap.disks, live.devices.disks):
                if sdisk.snapshot != "external":
                    continue
                top = nodes.get(disk.target_dev)
                if top is None:
                    _err(c.VIR_ERR_INTERNAL_ERROR,
                         f"cannot find the block node of disk '{disk.target_dev}'")
                path = sdisk.path or ""
                fmt = sdisk.driver_type or "qcow2"
                storage, fmt_node = f"libvirt-{index}-storage", f"libvirt-{index}-format"
                index += 1
                if not reuse and sdisk.type == "file" and not os.path.exists(path):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o600)
                    os.close(fd)
                    created.append(path)
                monitor.execute("blockdev-add", {
                    "driver": "host_device" if sdisk.type == "block" else "file",
                    "filename": path, "node-name": storage, "auto-read-only": True,
                    "discard": "unmap"})
                added.append(storage)
                if not reuse:
                    options: dict[str, Any] = {"driver": fmt, "file": storage,
                                               "size": sizes.get(top, 0)}
                    base = disk.path
                    if base:
                        options["backing-file"] = base
                        options["backing-fmt"] = _disk_format(disk)
                    job_id = f"create-{fmt_node}"
                    self._run_job(monitor, "blockdev-create",
                                  {"job-id": job_id, "options": options}, job_id,
                                  "blockdev-create")
                fprops: dict[str, Any] = {"node-name": fmt_node, "read-only": False,
                                          "driver": fmt, "file": storage, "backing": None}
                if sdisk.metadata_cache_max_size:
                    fprops["cache-size"] = sdisk.metadata_cache_max_size
                monitor.execute("blockdev-add", fprops)
                added.append(fmt_node)
                actions.append({"type": "blockdev-snapshot",
                                "data": {"node": top, "overlay": fmt_node}})
                chosen.append((sdisk, disk))
            if actions:
                monitor.execute("transaction", {"actions": actions})
        except BaseException:
            for node in reversed(added):
                try:
                    monitor.execute("blockdev-del", {"node-name": node})
                except libvirtError:
                    pass
            for path in created:
                remove_quietly(path)
            raise
        with dom.lock:
            persistent = dom.new_def
            for sdisk, disk in chosen:
                old_path = disk.path
                pdisk = _disk_by_target(persistent, disk.target_dev) \
                    if persistent is not None else None
                fmt = sdisk.driver_type or "qcow2"
                _push_overlay(disk, sdisk.type, sdisk.path or "", fmt)
                if pdisk is not None and pdisk.path == old_path:
                    _push_overlay(pdisk, sdisk.type, sdisk.path or "", fmt)
            dom.save_status(self.paths)
            if persistent is not None:
                dom.save_config(self.paths)

    def _create_inactive_external(self, dom: QemuDomain, snap: SnapshotDef,
                                  reuse: bool) -> None:
        """qemuSnapshotCreateInactiveExternal: qemu-img creates each overlay on its disk's
        image; the definition then names the overlay (its backing chain stays implicit,
        read from the image, unless the definition described one)."""
        defn = dom.defn
        created: list[str] = []
        try:
            for sdisk, disk in zip(snap.disks, defn.devices.disks):
                if sdisk.snapshot != "external" or reuse:
                    continue
                if sdisk.driver_type is None:
                    sdisk.driver_type = "qcow2"
                path = sdisk.path or ""
                existed = os.path.exists(path)
                run_qemu_img(["create", "-f", sdisk.driver_type, "-o",
                              f"backing_fmt={_disk_format(disk)},"
                              f"backing_file={_escape_comma(disk.path or '')}", path])
                if not existed:
                    created.append(path)
        except BaseException:
            for path in created:
                remove_quietly(path)
            raise
        with dom.lock:
            for sdisk, disk in zip(snap.disks, defn.devices.disks):
                if sdisk.snapshot != "external":
                    continue
                described = any(n.tag == "backingStore" for _, n in disk.extra.children)
                _push_overlay(disk, sdisk.type, sdisk.path or "", sdisk.driver_type or "qcow2",
                              keep_backing=not reuse and described)
            if dom.persistent:
                dom.save_config(self.paths)

    @staticmethod
    def _qemu_img_each(defn: Any, snap: SnapshotDef, op: str, try_all: bool = False) -> None:
        """qemuDomainSnapshotForEachQcow2: ``qemu-img snapshot op NAME`` on each image
        that keeps the snapshot internally. A failed -c takes back the earlier ones; with
        ``try_all`` every disk is tried and the first failure reported at the end."""
        first: libvirtError | None = None
        done: list[str] = []
        for sdisk, disk in zip(snap.disks, defn.devices.disks):
            if disk.device != "disk" or sdisk.snapshot != "internal":
                continue
            if disk.type not in ("file", "block"):
                _err(c.VIR_ERR_OPERATION_INVALID,
                     f"can't manipulate inactive snapshots of disk '{disk.target_dev}'")
            path = disk.path or ""
            try:
                if _disk_format(disk) != "qcow2":
                    _err(c.VIR_ERR_OPERATION_INVALID,
                         f"Disk device '{disk.target_dev}' does not support snapshotting")
                run_qemu_img(["snapshot", op, snap.name or "", path])
                done.append(path)
            except libvirtError as exc:
                if try_all:
                    first = first or exc
                    continue
                if op == "-c":
                    for path in done:
                        try:
                            run_qemu_img(["snapshot", "-d", snap.name or "", path])
                        except libvirtError:
                            pass
                raise
        if first is not None:
            raise first

    # ---- revert ---------------------------------------------------------------------------

    def domainRevertToSnapshot(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        handle = snapshot._dom
        dom: QemuDomain = self._dom(handle)
        check_flags("qemuSnapshotRevert", flags, REVERT_FLAGS, c.VIR_FROM_QEMU)
        dom.job.begin("virDomainRevertToSnapshot")
        try:
            snaps = self._snapshots_of(dom)
            with dom.lock:
                snap = tree.lookup(snaps, snapshot._name, c.VIR_FROM_QEMU)
            self._revert_validate(dom, snap, flags)
            config, inactive = self._revert_prep(dom, snap)
            state = snap.state
            if state in ("running", "paused"):
                assert config is not None
                self._revert_active(dom, snaps, snap, config, inactive, flags)
            elif state in ("shutdown", "shutoff", "crashed"):
                self._revert_inactive(dom, snaps, snap, inactive, flags)
            elif state == "pmsuspended":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "qemu doesn't support reversion of "
                     "snapshot taken in PMSUSPENDED state")
            else:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"Invalid target domain state '{state}'. "
                     "Refusing snapshot reversion")
        finally:
            dom.job.end()
        handle._id = dom.defn.id if dom.active else -1
        return 0

    @staticmethod
    def _revert_validate(dom: QemuDomain, snap: SnapshotDef, flags: int) -> None:
        """qemuSnapshotRevertValidate."""
        online = tree.is_online(snap.state)
        if not dom.persistent and not online and not flags & REVERT_RUN:
            _err(c.VIR_ERR_OPERATION_INVALID, "transient domain needs to request run or pause "
                 "to revert to inactive snapshot")
        if snap.is_external():
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "revert to external snapshot not supported yet")
        if snap.domain is None or not hasattr(snap.domain, "devices"):
            _err(c.VIR_ERR_SNAPSHOT_REVERT_RISKY,
                 f"snapshot '{snap.name}' lacks domain '{dom.name}' rollback info")
        if not flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE and dom.has_managed_save \
                and not online:
            _err(c.VIR_ERR_SNAPSHOT_REVERT_RISKY, "snapshot without memory state, removal of "
                 "existing managed saved state strongly recommended to avoid corruption")

    def _revert_prep(self, dom: QemuDomain, snap: SnapshotDef
                     ) -> tuple[DomainDef | None, DomainDef]:
        """qemuSnapshotRevertPrep: the definition to run (None for an offline snapshot) and
        the persistent one, both under the domain's current name."""
        def load(defn: Any) -> DomainDef:
            copy: DomainDef = self.parse_definition(defn.to_xml(inactive=True, secure=True),
                                                    inactive=True)
            copy.name = dom.name
            return copy

        config = load(snap.domain)
        if snap.inactive_domain is not None:
            return config, load(snap.inactive_domain)
        if tree.is_online(snap.state):
            return config, load(snap.domain)
        return None, config

    def _revert_active(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef,
                       config: DomainDef, inactive: DomainDef, flags: int) -> None:
        """qemuSnapshotRevertActive: QEMU (re)starts paused from the snapshot's definition,
        snapshot-load restores disks, memory and devices, then the guest runs unless the
        snapshot was paused or the flags say otherwise."""
        self._stop_for_snapshot(dom, restart=True)
        with dom.lock:
            dom.defn, dom.new_def = config, None
        paused = not flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING and (
            snap.state == "paused" or bool(flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED))

        def load(monitor: Monitor) -> None:
            devices = self._internal_nodes(monitor, dom, snap)
            job_id = f"snapload-{int(time.monotonic() * 1000)}"
            self._run_job(monitor, "snapshot-load",
                          {"job-id": job_id, "tag": snap.name, "vmstate": devices[0],
                           "devices": devices}, job_id, "snapshot-load")

        try:
            self._start(dom, paused=paused, reason=c.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT,
                        event_detail=c.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT, before_run=load,
                        paused_as=(c.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT,
                                   c.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT))
        finally:
            with dom.lock:
                if dom.persistent:
                    if dom.active:
                        dom.new_def = inactive
                    else:
                        dom.defn = inactive
        if not paused:
            # QEMU's RESUME event as libvirt reports it for a guest started by a revert
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_RESUMED,
                            c.VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT)
        self._revert_done(dom, snaps, snap, defined=True)

    def _revert_inactive(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef,
                         inactive: DomainDef, flags: int) -> None:
        """qemuSnapshotRevertInactive: QEMU stops if it runs, qemu-img applies the snapshot
        to each image; the domain starts again only when the flags ask for it."""
        self._stop_for_snapshot(dom, restart=bool(flags & REVERT_RUN))
        try:
            self._qemu_img_each(snap.domain, snap, "-a", try_all=True)
        except BaseException:
            if not dom.persistent:
                with self.lock:
                    self._unindex(dom)
            raise
        with dom.lock:
            dom.defn, dom.new_def = inactive, None
        if flags & REVERT_RUN:
            self._start(dom, paused=bool(flags & c.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED),
                        event_detail=c.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
                        paused_as=(c.VIR_DOMAIN_PAUSED_USER,
                                   c.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT))
        self._revert_done(dom, snaps, snap, defined=True)

    def _revert_done(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef,
                     defined: bool) -> None:
        """qemuSnapshotRevertWriteMetadata: the snapshot is current; a persistent domain's
        definition was replaced (saved, DEFINED/FROM_SNAPSHOT)."""
        with dom.lock:
            self._set_current(dom, snaps, snap.name)
            try:
                self._write_snapshot(dom, snaps, snap)
            except OSError:
                snaps.current_snapshot = None
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"unable to save metadata for snapshot {snap.name}")
            save = defined and dom.persistent
            if save:
                dom.save_config(self.paths)
        if save:
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_DEFINED,
                            c.VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)

    # ---- delete ---------------------------------------------------------------------------

    def domainSnapshotDelete(self, snapshot: virDomainSnapshot, flags: int) -> int:  # noqa: N802
        dom: QemuDomain = self._dom(snapshot._dom)
        check_flags("qemuSnapshotDelete", flags, DELETE_FLAGS, c.VIR_FROM_QEMU)
        metadata_only = bool(flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        dom.job.begin("virDomainSnapshotDelete")
        try:
            snaps = self._snapshots_of(dom)
            with dom.lock:
                snap = tree.lookup(snaps, snapshot._name, c.VIR_FROM_QEMU)
            assert snap.name is not None
            if not metadata_only:
                self._delete_validate(dom, snaps, snap, flags)
            if flags & DELETE_CHILDREN:
                for name in reversed(tree.descendants(snaps, snap.name, True)):
                    self._delete_one(dom, snaps, snaps.snapshots[name], metadata_only)
                if not flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY:
                    self._delete_one(dom, snaps, snap, metadata_only)
            else:
                self._delete_one(dom, snaps, snap, metadata_only)
        finally:
            dom.job.end()
        return 0

    def _delete_validate(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef,
                         flags: int) -> None:
        """qemuSnapshotDeleteValidate, and the checks of qemuSnapshotDeleteExternalPrepare
        this driver makes."""
        external = snap.is_external()
        if not external and dom.active:
            with dom.lock:
                for sdisk in snap.disks:
                    vmdisk = _disk_by_target(dom.defn, sdisk.name)
                    disk = _disk_by_target(snap.domain, sdisk.name)
                    if vmdisk is not None and disk is not None and vmdisk.path != disk.path:
                        _err(c.VIR_ERR_OPERATION_UNSUPPORTED, f"disk image '{sdisk.name}' for "
                             f"internal snapshot '{snap.name}' is not the same as disk image "
                             "currently used by VM")
        if flags & DELETE_CHILDREN:
            kinds = {snaps.snapshots[n].is_external()
                     for n in tree.descendants(snaps, snap.name, True)}
            if kinds == {True, False}:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "deletion of external and internal "
                     "children disk snapshots not supported")
            if True in kinds:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     "deletion of external children disk snapshots not supported")
        if external and flags & c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 "deletion of external disk snapshots with children not supported")
        if external and not flags & DELETE_CHILDREN:
            self._external_delete_plan(dom, snaps, snap)

    def _delete_one(self, dom: QemuDomain, snaps: SnapshotTree, snap: SnapshotDef,
                    metadata_only: bool) -> None:
        """qemuSnapshotDiscardImpl with update_parent: the snapshot's data (unless
        METADATA_ONLY), then its metadata; children move up to its parent."""
        assert snap.name is not None
        if not metadata_only:
            if snap.is_external():
                self._discard_external(dom, snaps, snap)
            elif dom.active:
                monitor = self._running_monitor(dom)
                try:  # as libvirt, carry on whatever QEMU says
                    devices = self._internal_nodes(monitor, dom, snap)
                    job_id = f"snapdelete-{int(time.monotonic() * 1000)}"
                    self._run_job(monitor, "snapshot-delete",
                                  {"job-id": job_id, "tag": snap.name, "devices": devices},
                                  job_id, "snapshot-delete")
                except libvirtError:
                    pass
            else:
                try:
                    self._qemu_img_each(snap.domain if snap.domain is not None else dom.defn,
                                        snap, "-d", try_all=True)
                except libvirtError:
                    pass
        with dom.lock:
            was_current = snaps.current_snapshot == snap.name
            moved = tree.unlink(snaps, snap.name)
            for child in moved:
                self._write_quietly(dom, snaps, child)
            if was_current:
                self._write_quietly(dom, snaps, snaps.current_snapshot)
            remove_quietly(os.path.join(self._snapshot_dir(dom), f"{snap.name}.xml"))

    # ---- external snapshot deletion (block commit) ----------------------------------------

    def _live_chains(self, dom: QemuDomain) -> dict[str, list[str]]:
        """Disk target -> the images QEMU has open for it, top first (query-block)."""
        monitor = self._running_monitor(dom)
        by_qdev = {str(e.get("qdev")): e["inserted"] for e in monitor.execute("query-block")
                   if e.get("inserted") and e.get("qdev")}
        out: dict[str, list[str]] = {}
        for disk in dom.defn.devices.disks:
            prefix = f"/machine/peripheral/{disk.info.alias}"
            inserted = next((v for k, v in by_qdev.items()
                             if k == prefix or k.startswith(prefix + "/")), None)
            image = inserted.get("image") if inserted else None
            chain: list[str] = []
            while image:
                chain.append(str(image.get("filename", "")))
                image = image.get("backing-image")
            out[disk.target_dev] = chain
        return out

    def _external_delete_plan(self, dom: QemuDomain, snaps: SnapshotTree,
                              snap: SnapshotDef) -> list[tuple[SnapshotDiskDef, list[str]]]:
        """qemuSnapshotDeleteExternalPrepare: each external disk of the snapshot must still
        be in its disk's chain (for a running guest, with the snapshot's own image right
        below it). Returns each disk with its chain, top first."""
        chains = self._live_chains(dom) if dom.active else {}
        out: list[tuple[SnapshotDiskDef, list[str]]] = []
        with dom.lock:
            for sdisk in snap.disks:
                if sdisk.snapshot == "no":
                    continue
                if sdisk.delete_in_progress:
                    _err(c.VIR_ERR_OPERATION_INVALID, f"snapshot disk '{sdisk.name}' was "
                         "target of not completed snapshot delete")
                disk = _disk_by_target(dom.defn, sdisk.name)
                if disk is None:
                    _err(c.VIR_ERR_INVALID_ARG, f"disk '{sdisk.name}' not found in domain")
                chain = chains.get(sdisk.name) if dom.active else None
                if chain is None:
                    chain = [disk.path or "", *_backing_paths(disk)]
                if sdisk.path not in chain:
                    _err(c.VIR_ERR_OPERATION_FAILED,
                         "VM disk source and snapshot disk source are not the same")
                parent_disk = _disk_by_target(snap.domain, sdisk.name)
                if parent_disk is None:
                    _err(c.VIR_ERR_OPERATION_FAILED,
                         f"failed to find disk '{sdisk.name}' in snapshot VM XML")
                if dom.active:
                    below = chain[chain.index(sdisk.path) + 1:]
                    if not below:
                        _err(c.VIR_ERR_OPERATION_FAILED,
                             "failed to find parent disk source in backing chain")
                    if below[0] != parent_disk.path:
                        _err(c.VIR_ERR_OPERATION_FAILED, "snapshot VM disk source and parent "
                             "disk source are not the same")
                parent = snaps.snapshots.get(snap.parent or "")
                while parent is not None and not any(
                        d.name == sdisk.name and d.snapshot != "no" for d in parent.disks):
                    parent = snaps.snapshots.get(parent.parent or "")
                if parent is not None and not parent.is_external():
                    _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "deleting external snapshot that "
                         "has internal snapshot as parent not supported")
                out.append((sdisk, chain))
        return out

    def _discard_external(self, dom: QemuDomain, snaps: SnapshotTree,
                          snap: SnapshotDef) -> None:
        """qemuSnapshotDiscardExternal: each overlay the snapshot made is committed into the
        image below it and deleted; the domain's definitions, and those its descendants
        keep, forget it. Running guests use block-commit jobs (an active commit pivots to
        the image below); for a shut-off one qemu-img does the same."""
        plan = self._external_delete_plan(dom, snaps, snap)
        if dom.active:
            self._commit_live(dom, plan)
        else:
            self._commit_offline(plan)
        below = {sdisk.name: _disk_by_target(snap.domain, sdisk.name) for sdisk, _ in plan}
        with dom.lock:
            for defn in (dom.defn, dom.new_def):
                if defn is not None:
                    for sdisk, _chain in plan:
                        _drop_image(defn, sdisk.name, sdisk.path or "", below[sdisk.name])
            for name in tree.descendants(snaps, snap.name, True):
                other = snaps.snapshots[name]
                changed = False
                for defn in (other.domain, other.inactive_domain):
                    if defn is None or not hasattr(defn, "devices"):
                        continue
                    for sdisk, _chain in plan:
                        changed |= _drop_image(defn, sdisk.name, sdisk.path or "",
                                               below[sdisk.name] if other.is_external()
                                               else None)
                if changed:
                    self._write_quietly(dom, snaps, name)
            if dom.active:
                dom.save_status(self.paths)
            if dom.persistent:
                dom.save_config(self.paths)
        for sdisk, _chain in plan:
            if sdisk.path:
                remove_quietly(sdisk.path)

    def _commit_live(self, dom: QemuDomain, plan: list[tuple[SnapshotDiskDef, list[str]]]
                     ) -> None:
        """block-commit of each overlay into the image below it (an active commit is
        completed, which pivots the disk to that image); then the overlay's nodes go."""
        monitor = self._running_monitor(dom)
        by_file: dict[str, str] = {}
        for node in monitor.execute("query-named-block-nodes", {"flat": True}):
            if node.get("drv") not in ("file", "host_device", "host_cdrom"):
                by_file.setdefault(str(node.get("file", "")), str(node.get("node-name")))
        tops = self._block_nodes(monitor, dom.defn)
        jobs: list[tuple[str, bool, str]] = []
        for sdisk, chain in plan:
            path = sdisk.path or ""
            at = chain.index(path)
            top_node, base_node = by_file.get(path), by_file.get(chain[at + 1])
            if top_node is None or base_node is None:
                _err(c.VIR_ERR_OPERATION_FAILED,
                     "failed to find parent disk source in backing chain")
            job_id = f"commit-{top_node}"
            args: dict[str, Any] = {"job-id": job_id, "device": tops[sdisk.name],
                                    "base-node": base_node, "auto-dismiss": False}
            if at:
                args["top-node"] = top_node
            status = self._run_job(monitor, "block-commit", args, job_id, "block-commit",
                                   until_ready=at == 0)
            jobs.append((job_id, status == "ready", top_node))
        for job_id, ready, _node in jobs:
            if ready:
                self._run_job(monitor, "job-complete", {"id": job_id}, job_id, "block-commit")
        for _job_id, _ready, node in jobs:
            for name in (node, node.replace("-format", "-storage")):
                try:
                    monitor.execute("blockdev-del", {"node-name": name})
                except libvirtError:
                    pass

    @staticmethod
    def _commit_offline(plan: list[tuple[SnapshotDiskDef, list[str]]]) -> None:
        """qemu-img commit of each overlay into its backing image; an image above it is
        then rebased (unsafe: the data is the same) onto that backing image."""
        for sdisk, chain in plan:
            path = sdisk.path or ""
            at = chain.index(path)
            backing = _image_backing(path)
            run_qemu_img(["commit", "-q", path])
            if at and backing is not None:
                run_qemu_img(["rebase", "-u", "-b", backing[0], "-F", backing[1],
                              chain[at - 1]])


def _image_backing(path: str) -> tuple[str, str] | None:
    """(backing file, its format) from an image's header, None without one."""
    import json
    import subprocess

    proc = subprocess.run([QEMU_IMG, "info", "-U", "--output=json", path],
                          capture_output=True, text=True, check=False)
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        return None
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    if not backing:
        return None
    return str(backing), str(info.get("backing-filename-format", "raw"))


def _drop_image(defn: Any, target: str, path: str, below: Disk | None) -> bool:
    """qemuSnapshotUpdateDisksSingle: ``path`` leaves the chain of disk ``target`` in
    ``defn``. When it is the top image, the image below takes its place: from the chain the
    definition describes, else from ``below`` (the disk as the deleted snapshot recorded
    it). True if anything changed."""
    import copy

    disk = _disk_by_target(defn, target)
    if disk is None:
        return False
    if disk.path == path:
        if _pop_overlay(disk):
            return True
        if below is None or below.source is None:
            return False
        disk.type = below.type
        disk.source = copy.deepcopy(below.source)
        if disk.driver is not None:
            disk.driver.type = below.driver_type
        return True
    node_parent: XNode | None = None
    entry = next(((i, n) for i, (_, n) in enumerate(disk.extra.children)
                  if n.tag == "backingStore"), None)
    if entry is None:
        return False
    node: XNode | None = entry[1]
    while node is not None:
        src = node.find("source")
        node_path = (src.attrs.get("file") or src.attrs.get("dev")) if src is not None else None
        lower = node.find("backingStore")
        if node_path == path:
            if node_parent is None:
                prev = disk.extra.children[entry[0]][0]
                if lower is not None:
                    disk.extra.children[entry[0]] = (prev, lower)
                else:
                    del disk.extra.children[entry[0]]
            else:
                node_parent.children = [ch for ch in node_parent.children if ch is not node]
                if lower is not None:
                    node_parent.children.append(lower)
            return True
        node_parent, node = node, lower
    return False
