"""Migration of running (and, offline, defined) QEMU guests between hosts.

libvirt's version 3 protocol with extensible parameters, as its QEMU driver speaks it: the
caller (pyvirt.api.migration, or this driver itself for a peer-to-peer migration) runs five
phases across the two hosts' drivers, passing an opaque cookie from each to the next:

1. **Begin** (source): checks that the guest may go, returns its migratable definition.
2. **Prepare** (destination): starts QEMU from that definition, paused, waiting for the
   migration stream on a TCP port of qemu.conf's ``migration_port_min``..``max``
   (49152-49215);
   returns the URI the source is to send to (``tcp:HOSTNAME:PORT``, or the caller's
   ``migrate_uri`` with the port filled in).
3. **Perform** (source): QEMU's ``migrate`` to that URI; a non-live migration pauses the
   guest first. When the stream is complete the source guest is paused. With a
   destination connection URI (peer-to-peer), Perform runs all five phases itself.
4. **Finish** (destination): waits for the incoming stream to be loaded, then lets the
   guest run (unless ``VIR_MIGRATE_PAUSED``) and defines it there with
   ``VIR_MIGRATE_PERSIST_DEST``; or, if the migration failed, kills the new QEMU.
5. **Confirm** (source): ends the source QEMU (shut off, reason "migrated") and undefines it
   with ``VIR_MIGRATE_UNDEFINE_SOURCE``; or, if it failed, lets the source guest run again.

The cookie is libvirt's ``<qemu-migration>`` document (name, uuid, hostname, hostuuid, and
after Perform the persistent definition). As in libvirt, a destination with the source's
host UUID refuses ("Attempt to migrate guest to the same host"): two pyvirtd on one machine
need different ``host_uuid`` settings. Disks are expected on shared storage; local files
are refused as unsafe unless ``VIR_MIGRATE_UNSAFE``, or copied with
``VIR_MIGRATE_NON_SHARED_DISK``/``_INC`` (pyvirt.drivers.qemu.migration_storage). Not
supported (libvirtError): tunnelled, post-copy, TLS, parallel and compressed migration.
"""

from __future__ import annotations

import os
import signal
import socket
import xml.etree.ElementTree as ET

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.qemu import jobs
from pyvirt.drivers.qemu import migration_storage as storage
from pyvirt.drivers.qemu.domain import MIGRATION_BANDWIDTH_MAX
from pyvirt.errors import libvirtError, raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any, NoReturn

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.drivers.qemu.domain import QemuDomain
    from pyvirt.drivers.qemu.paths import QemuPaths

FLAGS = (c.VIR_MIGRATE_LIVE | c.VIR_MIGRATE_PEER2PEER | c.VIR_MIGRATE_PERSIST_DEST
         | c.VIR_MIGRATE_UNDEFINE_SOURCE | c.VIR_MIGRATE_PAUSED
         | c.VIR_MIGRATE_CHANGE_PROTECTION | c.VIR_MIGRATE_UNSAFE | c.VIR_MIGRATE_OFFLINE
         | c.VIR_MIGRATE_ABORT_ON_ERROR | c.VIR_MIGRATE_AUTO_CONVERGE
         | c.VIR_MIGRATE_NON_SHARED_DISK | c.VIR_MIGRATE_NON_SHARED_INC)
STORAGE_FLAGS = c.VIR_MIGRATE_NON_SHARED_DISK | c.VIR_MIGRATE_NON_SHARED_INC
PARAMS = frozenset((c.VIR_MIGRATE_PARAM_URI, c.VIR_MIGRATE_PARAM_DEST_NAME,
                    c.VIR_MIGRATE_PARAM_DEST_XML, c.VIR_MIGRATE_PARAM_PERSIST_XML,
                    c.VIR_MIGRATE_PARAM_BANDWIDTH, c.VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
                    c.VIR_MIGRATE_PARAM_GRAPHICS_URI, c.VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                    c.VIR_MIGRATE_PARAM_DISKS_PORT))
# virDrvFeature values the driver has: MIGRATION_P2P, MIGRATION_V3,
# MIGRATE_CHANGE_PROTECTION, TYPED_PARAM_STRING, XML_MIGRATABLE, MIGRATION_OFFLINE,
# MIGRATION_PARAMS, NETWORK_UPDATE_HAS_CORRECT_ORDER
FEATURES = frozenset((4, 6, 7, 9, 11, 12, 13, 16))
FEATURE_MIGRATION_P2P, FEATURE_MIGRATION_PARAMS = 4, 13
# the calls an outgoing migration lets in (libvirt: VIR_JOB_SUSPEND; queries, destroy and
# abort take no job here)
NESTED_DURING_MIGRATION = frozenset(("virDomainSuspend",))
PORTS = (49152, 49215)         # qemu.conf's migration_port_min / _max by default
# filesystems libvirt counts as shared storage (virFileIsSharedFS)
SHARED_FS = frozenset(("nfs", "nfs4", "gfs2", "ocfs2", "afs", "smb3", "cifs", "ceph",
                       "fuse.glusterfs", "gpfs", "9p", "fuse.quobyte", "beegfs",
                       "virtiofs"))


def _err(code: int, detail: str | None = None, domain: int = c.VIR_FROM_QEMU) -> NoReturn:
    raise_error(code, detail, domain=domain)


# ---- the cookie -----------------------------------------------------------------------------


class Cookie:
    """libvirt's ``<qemu-migration>`` cookie: who sends, from which host, the port of the
    destination's NBD server (Prepare, when disks are copied) and (after Perform) the
    guest's persistent definition."""

    def __init__(self, name: str, uuid: str, hostname: str, hostuuid: str,
                 persistent_xml: str | None = None, nbd_port: int | None = None) -> None:
        self.name, self.uuid = name, uuid
        self.hostname, self.hostuuid = hostname, hostuuid
        self.persistent_xml = persistent_xml
        self.nbd_port = nbd_port

    def to_bytes(self) -> bytes:
        root = ET.Element("qemu-migration")
        for tag in ("name", "uuid", "hostname", "hostuuid"):
            ET.SubElement(root, tag).text = getattr(self, tag)
        if self.nbd_port is not None:
            ET.SubElement(root, "nbd", port=str(self.nbd_port))
        if self.persistent_xml:
            ET.SubElement(root, "persistent").append(ET.fromstring(self.persistent_xml))
        return ET.tostring(root) + b"\0"   # libvirt counts the terminating NUL

    @classmethod
    def parse(cls, data: bytes | None, local_hostuuid: str) -> Cookie | None:
        """A received cookie (None when there is none), checked as libvirt checks it."""
        if not data:
            return None
        try:
            root = ET.fromstring(data.rstrip(b"\0"))
        except ET.ParseError as exc:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"migration cookie: {exc}")
        fields = {}
        for tag in ("name", "uuid", "hostname", "hostuuid"):
            text = root.findtext(tag)
            if not text:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing {tag} element in migration data")
            fields[tag] = text
        if fields["hostuuid"] == local_hostuuid:
            _err(c.VIR_ERR_INTERNAL_ERROR,
                 f"Attempt to migrate guest to the same host {fields['hostuuid']}")
        persistent = root.find("persistent/domain")
        nbd = root.find("nbd")
        port = nbd.get("port") if nbd is not None else None
        return cls(**fields, persistent_xml=None if persistent is None
                   else ET.tostring(persistent, encoding="unicode"),
                   nbd_port=int(port) if port and port.isdigit() else None)


def _local_cookie(dom: QemuDomain, persistent_xml: str | None = None,
                  nbd_port: int | None = None) -> bytes:
    from pyvirt.drivers.qemu.capabilities import host_uuid

    return Cookie(dom.name, dom.uuid, socket.gethostname(), host_uuid(),
                  persistent_xml, nbd_port).to_bytes()


def _check_request(function: str, flags: int, params: dict[str, Any]) -> None:
    """What every phase checks first: the flags (virCheckFlags) and parameters."""
    check_flags(function, flags, FLAGS, c.VIR_FROM_QEMU)
    _check_params(params)


def _check_params(params: dict[str, Any]) -> None:
    """virTypedParamsValidate against the parameters this driver knows."""
    for name in params:
        if name not in PARAMS:
            _err(c.VIR_ERR_ARGUMENT_UNSUPPORTED, f"parameter '{name}' not supported",
                 domain=c.VIR_FROM_NONE)


def _mount_type(path: str) -> str | None:
    """The filesystem type of the mount holding ``path`` (the longest matching mount)."""
    best, kind = -1, None
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                point = fields[4].encode().decode("unicode_escape")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) > best:
                    best, kind = len(point), right.split()[0]
    except OSError:
        return None
    return kind


def _check_safe(dom: QemuDomain, flags: int, copied: frozenset[str] = frozenset()) -> None:
    """qemuMigrationSrcIsSafe: writable disks in local files would be read by the
    destination while the source may still have writes cached (the disks ``copied``
    to the destination are safe)."""
    if flags & (c.VIR_MIGRATE_UNSAFE | c.VIR_MIGRATE_OFFLINE):
        return
    for disk in dom.defn.devices.disks:
        path = disk.path
        if not path or disk.readonly or disk.type != "file" or disk.target_dev in copied:
            continue
        if _mount_type(path) not in SHARED_FS:
            _err(c.VIR_ERR_MIGRATE_UNSAFE, "Migration without shared storage is unsafe")


def _qemu_uri(uri: str) -> str:
    """A migration URI as QEMU's ``migrate`` takes it: ``tcp://h:p`` -> ``tcp:h:p``."""
    if uri.startswith("tcp://"):
        return "tcp:" + uri[len("tcp://"):].rstrip("/")
    return uri


def _uri_host_port(uri: str) -> tuple[str | None, int | None]:
    """Host and port of ``tcp://HOST[:PORT]`` or ``tcp:HOST[:PORT]``."""
    if uri.startswith("tcp://"):
        rest = uri[len("tcp://"):].rstrip("/")
    elif uri.startswith("tcp:"):
        rest = uri[len("tcp:"):]
    else:
        _err(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
             f"unsupported scheme {uri.split(':', 1)[0]} in migration URI {uri}")
    host, port = rest, None
    if rest.startswith("["):
        end = rest.index("]")
        host, tail = rest[1:end], rest[end + 1:]
        port = int(tail[1:]) if tail.startswith(":") and tail[1:].isdigit() else None
    elif rest.count(":") == 1:
        host, _, text = rest.partition(":")
        port = int(text) if text.isdigit() else None
    return host or None, port


class QemuMigrationMixin:
    """The five phases as driver entry points (see the module docstring); ``self`` is the
    QemuDriver."""

    if TYPE_CHECKING:
        lock: threading.RLock
        paths: QemuPaths
        _by_uuid: dict[str, QemuDomain]
        migration_port_min: int
        migration_port_max: int
        _by_name: dict[str, QemuDomain]

        def _dom(self, handle: virDomain) -> QemuDomain: ...

        def _handle(self, conn: virConnect, dom: QemuDomain) -> virDomain: ...

        def _running_monitor(self, dom: QemuDomain) -> Any: ...

        def _snapshots_of(self, dom: QemuDomain) -> Any: ...

        def parse_definition(self, xml: str, inactive: bool,
                             validate: bool = False) -> DomainDef: ...

        def _assign(self, defn: DomainDef, live: bool) -> QemuDomain: ...

        def _unindex(self, dom: QemuDomain) -> None: ...

        def _start(self, dom: QemuDomain, paused: bool, incoming_fd: int | None = None,
                   reason: int = ..., event_detail: int = ...,
                   before_run: Any = None, paused_as: tuple[int, int | None] = ...,
                   incoming_uri: str | None = None) -> None: ...

        def _transition(self, dom: QemuDomain, monitor: Any, command: str, state: int,
                        reason: int, event: int, detail: int) -> None: ...

        def _lifecycle(self, dom: QemuDomain, event: int, detail: int) -> None: ...

        def _save_status_quietly(self, dom: QemuDomain) -> None: ...

        def _signal(self, dom: QemuDomain, signum: int) -> bool: ...

        def domainDefineXMLFlags(self, conn: virConnect, xml: str,  # noqa: N802
                                 flags: int) -> virDomain: ...

    # ---- features ------------------------------------------------------------------------

    def connectSupportsFeature(self, conn: virConnect,  # noqa: N802
                               feature: int) -> int:
        return int(feature in FEATURES)

    # ---- source: Begin ------------------------------------------------------------------

    def domainMigrateBegin3Params(self, handle: virDomain,  # noqa: N802
                                  params: dict[str, Any], flags: int) -> list[Any]:
        _check_request("qemuDomainMigrateBegin3Params", flags, params)
        dom = self._dom(handle)
        if flags & c.VIR_MIGRATE_OFFLINE:
            if not flags & c.VIR_MIGRATE_PERSIST_DEST:
                _err(c.VIR_ERR_OPERATION_INVALID, "offline migration must be specified "
                     "with the persistent flag set")
            with dom.lock:
                if not dom.persistent:
                    _err(c.VIR_ERR_OPERATION_INVALID, "cannot migrate a transient domain "
                         "offline", domain=c.VIR_FROM_QEMU)
                xml = dom.persistent_def().to_xml(inactive=True, secure=True)
        else:
            with dom.lock:
                dom.check_active()
            if self._snapshots_of(dom).snapshots:
                _err(c.VIR_ERR_OPERATION_INVALID, "cannot migrate domain with "
                     f"{len(self._snapshots_of(dom).snapshots)} snapshots")
            self._check_blockers(dom)
            copied = (frozenset(t for t, _ in storage.disks_to_copy(dom, params))
                      if flags & STORAGE_FLAGS else frozenset())
            with dom.lock:
                _check_safe(dom, flags, copied)
                xml = dom.defn.to_xml(inactive=True, secure=True)
        given = params.get(c.VIR_MIGRATE_PARAM_DEST_XML)
        if given is not None:
            xml = given
        return [_local_cookie(dom), xml]

    def _check_blockers(self, dom: QemuDomain) -> None:
        """QEMU's own reasons the guest cannot migrate (query-migrate's blocked-reasons)."""
        monitor = self._running_monitor(dom)
        info = monitor.execute("query-migrate")
        reasons = info.get("blocked-reasons") if isinstance(info, dict) else None
        if reasons:
            _err(c.VIR_ERR_OPERATION_INVALID, "cannot migrate domain: " + "; ".join(reasons))

    # ---- destination: Prepare ---------------------------------------------------------------

    def domainMigratePrepare3Params(self, conn: virConnect,  # noqa: N802
                                    params: dict[str, Any], cookie_in: bytes | None,
                                    flags: int) -> list[Any]:
        from pyvirt.drivers.qemu.capabilities import host_uuid

        _check_request("qemuDomainMigratePrepare3Params", flags, params)
        xml = params.get(c.VIR_MIGRATE_PARAM_DEST_XML)
        if not xml:
            _err(c.VIR_ERR_INVALID_ARG, "no domain XML passed", domain=c.VIR_FROM_QEMU)
        cookie = Cookie.parse(cookie_in, host_uuid())
        defn = self.parse_definition(xml, inactive=True)
        dname = params.get(c.VIR_MIGRATE_PARAM_DEST_NAME)
        if dname:
            defn.name = dname
        if cookie is not None and cookie.uuid != defn.uuid:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"Incoming cookie data had unexpected UUID "
                 f"{cookie.uuid} vs {defn.uuid}")
        if flags & c.VIR_MIGRATE_OFFLINE:
            # only the definition moves: Finish defines it
            return [b"", None]
        uri_in = params.get(c.VIR_MIGRATE_PARAM_URI)
        host, port = _uri_host_port(uri_in) if uri_in else (None, None)
        # libvirt listens on every address unless told otherwise
        listen = (params.get(c.VIR_MIGRATE_PARAM_LISTEN_ADDRESS)
                  or ("[::]" if _has_ipv6() else "0.0.0.0"))
        listen = _bracket(listen)
        if port is None:
            port = _free_port(listen, self.migration_port_min, self.migration_port_max)
        listen_uri = f"tcp:{listen}:{port}"
        with self.lock:
            dom = self._assign(defn, live=True)
            dom.job.begin("virDomainMigratePrepare3Params")
        try:
            try:
                self._start(dom, paused=True, incoming_uri=listen_uri,
                            event_detail=c.VIR_DOMAIN_EVENT_STARTED_MIGRATED,
                            paused_as=(c.VIR_DOMAIN_PAUSED_MIGRATION, None))
            except BaseException:
                with self.lock:
                    if not dom.persistent and not dom.active:
                        self._unindex(dom)
                raise
        finally:
            dom.job.end()
        nbd_port = None
        if flags & STORAGE_FLAGS:
            nbd_port = params.get(c.VIR_MIGRATE_PARAM_DISKS_PORT) or _free_port(
                listen, self.migration_port_min, self.migration_port_max)
            try:
                storage.start_exports(self._running_monitor(dom),
                                      storage.disks_to_copy(dom, params), listen, nbd_port)
            except BaseException:
                self._discard_incoming(dom)
                raise
        # the incoming migration is the domain's job until Finish, which this connection
        # is expected to call
        jobs.begin(dom, c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN, "migration in",
                   jobs.MIGRATION)
        with dom.lock:
            dom.incoming_from = conn
        if uri_in:
            uri_out = f"tcp://{_bracket(host or socket.gethostname())}:{port}"
        else:
            uri_out = f"tcp:{socket.gethostname()}:{port}"
        return [_local_cookie(dom, nbd_port=nbd_port), uri_out]

    # ---- source: Perform --------------------------------------------------------------------

    def domainMigratePerform3Params(self, handle: virDomain,  # noqa: N802
                                    dconnuri: str | None, params: dict[str, Any],
                                    cookie_in: bytes | None, flags: int) -> bytes:
        _check_request("qemuDomainMigratePerform3Params", flags, params)
        if flags & c.VIR_MIGRATE_PEER2PEER:
            self._perform_peer2peer(handle, dconnuri, params, flags)
            return b""
        dom = self._dom(handle)
        uri = params.get(c.VIR_MIGRATE_PARAM_URI)
        if not uri:
            _err(c.VIR_ERR_INVALID_ARG, "missing migration URI", domain=c.VIR_FROM_QEMU)
        mirrors = None
        if flags & STORAGE_FLAGS:
            from pyvirt.drivers.qemu.capabilities import host_uuid

            cookie = Cookie.parse(cookie_in, host_uuid())
            if cookie is None or cookie.nbd_port is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, "Destination did not set up storage "
                     "migration (no NBD port in the migration cookie)")
            assert cookie is not None and cookie.nbd_port is not None
            host = _uri_host_port(uri)[0] or cookie.hostname
            mirrors = storage.Mirrors(self._running_monitor(dom),
                                      storage.disks_to_copy(dom, params), host,
                                      cookie.nbd_port,
                                      shallow=bool(flags & c.VIR_MIGRATE_NON_SHARED_INC))
        dom.job.begin("virDomainMigratePerform3Params")
        try:
            # as libvirt's migration job mask: the guest may be suspended meanwhile
            with dom.job.allowing(NESTED_DURING_MIGRATION):
                self._migrate_out(dom, _qemu_uri(uri), params, flags, mirrors)
            with dom.lock:
                persistent = (dom.persistent_def().to_xml(inactive=True, secure=True)
                              if dom.persistent else None)
            return _local_cookie(dom, persistent)
        finally:
            dom.job.end()

    def _migrate_out(self, dom: QemuDomain, qemu_uri: str, params: dict[str, Any],
                     flags: int, mirrors: storage.Mirrors | None = None) -> None:
        """Send the guest's state to ``qemu_uri`` (its disks first through ``mirrors``)
        and wait until it is all there; the source guest ends up paused (reason
        "migration"). On failure it runs again."""
        monitor = self._running_monitor(dom)
        with dom.lock:
            was_running = dom.state == c.VIR_DOMAIN_RUNNING
            dom.paused_reason = c.VIR_DOMAIN_PAUSED_MIGRATION
        if was_running and not flags & c.VIR_MIGRATE_LIVE:
            self._transition(dom, monitor, "stop", c.VIR_DOMAIN_PAUSED,
                             c.VIR_DOMAIN_PAUSED_MIGRATION, c.VIR_DOMAIN_EVENT_SUSPENDED,
                             c.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)
        try:
            with jobs.async_job(dom, c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
                                "migration out", jobs.MIGRATION) as job:
                monitor.execute("migrate-set-capabilities", {"capabilities": [
                    {"capability": "auto-converge",
                     "state": bool(flags & c.VIR_MIGRATE_AUTO_CONVERGE)}]})
                jobs.set_bandwidth(monitor, params.get(c.VIR_MIGRATE_PARAM_BANDWIDTH)
                                   or dom.migrate_max_bandwidth)
                if mirrors is not None:
                    mirrors.start()
                    mirrors.wait_ready()
                monitor.execute("migrate", {"uri": qemu_uri})
                jobs.wait_for_stream(monitor, job)
                if mirrors is not None:
                    mirrors.finish()
        except BaseException:
            if mirrors is not None:
                mirrors.finish(force=True)
            with dom.lock:
                dom.paused_reason = 0
            self._resume_after_failure(dom, was_running)
            raise
        with dom.lock:
            # QEMU stopped the vCPUs at the end; its STOP event may come after the reply
            if dom.state == c.VIR_DOMAIN_RUNNING:
                dom.state, dom.reason = c.VIR_DOMAIN_PAUSED, c.VIR_DOMAIN_PAUSED_MIGRATION
                dom.paused_reason = 0
                notify = True
            else:
                notify = False
            dom.running_before_migration = was_running
            self._save_status_quietly(dom)
        if notify:
            self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SUSPENDED,
                            c.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)

    def _resume_after_failure(self, dom: QemuDomain, was_running: bool) -> None:
        """A failed or cancelled migration: the source guest runs again if it did before
        (QEMU itself resumes it after a failed live migration; then only the state says
        so)."""
        monitor = dom.monitor
        if not was_running or monitor is None:
            return
        try:
            status = monitor.execute("query-status")
            if isinstance(status, dict) and status.get("running"):
                with dom.lock:
                    dom.state, dom.reason = (c.VIR_DOMAIN_RUNNING,
                                             c.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED)
                return
            self._transition(dom, monitor, "cont", c.VIR_DOMAIN_RUNNING,
                             c.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED,
                             c.VIR_DOMAIN_EVENT_RESUMED, c.VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
        except libvirtError:
            return

    def _perform_peer2peer(self, handle: virDomain, dconnuri: str | None,
                           params: dict[str, Any], flags: int) -> None:
        """qemuMigrationSrcPerformPeer2Peer3: this driver runs all five phases, talking to
        the destination through a connection of its own."""
        import pyvirt
        from pyvirt.api.migration import migrate_version3

        if not dconnuri:
            _err(c.VIR_ERR_INVALID_ARG, "dconnuri in virDomainMigratePerform3Params must "
                 "not be NULL", domain=c.VIR_FROM_QEMU)
        assert dconnuri is not None
        try:
            dconn = pyvirt.open(dconnuri)
        except libvirtError as exc:
            _err(c.VIR_ERR_OPERATION_FAILED,
                 f"Failed to connect to remote libvirt URI {dconnuri}: {exc}")
        try:
            if not (_remote_supports(dconn, FEATURE_MIGRATION_P2P)
                    and _remote_supports(dconn, FEATURE_MIGRATION_PARAMS)):
                _err(c.VIR_ERR_OPERATION_FAILED, "Destination libvirt does not support "
                     "peer-to-peer migration protocol")
            migrate_version3(handle, dconn, params, flags & ~c.VIR_MIGRATE_PEER2PEER)
        finally:
            try:
                dconn.close()
            except libvirtError:
                pass

    # ---- tunables (no domain job: they also apply to a migration in progress) ---------------

    def domainMigrateSetMaxSpeed(self, handle: virDomain, bandwidth: int,  # noqa: N802
                                 flags: int) -> int:
        check_flags("qemuDomainMigrateSetMaxSpeed", flags,
                    c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY, c.VIR_FROM_QEMU)
        postcopy = bool(flags & c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY)
        limit = (2**64 - 1) // (1024 * 1024) if postcopy else MIGRATION_BANDWIDTH_MAX
        if bandwidth > limit:
            _err(c.VIR_ERR_OVERFLOW, f"bandwidth must be less than {limit + 1}")
        dom = self._dom(handle)
        if not postcopy and not dom.active:
            dom.migrate_max_bandwidth = bandwidth
            return 0
        monitor = self._running_monitor(dom)
        name = "max-postcopy-bandwidth" if postcopy else "max-bandwidth"
        monitor.execute("migrate-set-parameters", {name: bandwidth * 1024 * 1024})
        if not postcopy:
            dom.migrate_max_bandwidth = bandwidth
        return 0

    def domainMigrateGetMaxSpeed(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainMigrateGetMaxSpeed", flags,
                    c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        if not flags & c.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY:
            return dom.migrate_max_bandwidth
        value = self._migration_parameter(dom, "max-postcopy-bandwidth")
        return int(value) // (1024 * 1024)

    def _migration_parameter(self, dom: QemuDomain, name: str) -> Any:
        params = self._running_monitor(dom).execute("query-migrate-parameters")
        return params.get(name, 0) if isinstance(params, dict) else 0

    def domainMigrateSetMaxDowntime(self, handle: virDomain, downtime: int,  # noqa: N802
                                    flags: int) -> int:
        check_flags("qemuDomainMigrateSetMaxDowntime", flags, 0, c.VIR_FROM_QEMU)
        monitor = self._running_monitor(self._dom(handle))
        monitor.execute("migrate-set-parameters", {"downtime-limit": downtime})
        return 0

    def domainMigrateGetMaxDowntime(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainMigrateGetMaxDowntime", flags, 0, c.VIR_FROM_QEMU)
        return int(self._migration_parameter(self._dom(handle), "downtime-limit"))

    def domainMigrateSetCompressionCache(self, handle: virDomain,  # noqa: N802
                                         cache_size: int, flags: int) -> int:
        check_flags("qemuDomainMigrateSetCompressionCache", flags, 0, c.VIR_FROM_QEMU)
        monitor = self._running_monitor(self._dom(handle))
        monitor.execute("migrate-set-parameters", {"xbzrle-cache-size": cache_size})
        return 0

    def domainMigrateGetCompressionCache(self, handle: virDomain,  # noqa: N802
                                         flags: int) -> int:
        check_flags("qemuDomainMigrateGetCompressionCache", flags, 0, c.VIR_FROM_QEMU)
        return int(self._migration_parameter(self._dom(handle), "xbzrle-cache-size"))

    def domainMigrateStartPostCopy(self, handle: virDomain, flags: int) -> int:  # noqa: N802
        check_flags("qemuDomainMigrateStartPostCopy", flags, 0, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        with dom.lock:
            dom.check_active()
            job = dom.async_job
        if job is None or job.operation != c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
            _err(c.VIR_ERR_OPERATION_INVALID, "post-copy can only be started while outgoing "
                 "migration is in progress")
        # pyvirt never starts a migration with VIR_MIGRATE_POSTCOPY
        _err(c.VIR_ERR_OPERATION_INVALID, "switching to post-copy requires migration to be "
             "started with VIR_MIGRATE_POSTCOPY flag")

    # ---- destination: Finish ----------------------------------------------------------------

    def domainMigrateFinish3Params(self, conn: virConnect,  # noqa: N802
                                   params: dict[str, Any], cookie_in: bytes | None,
                                   flags: int, cancelled: int) -> list[Any]:
        from pyvirt.drivers.qemu.capabilities import host_uuid

        _check_request("qemuDomainMigrateFinish3Params", flags, params)
        name = params.get(c.VIR_MIGRATE_PARAM_DEST_NAME)
        if not name:
            _err(c.VIR_ERR_INVALID_ARG, "missing destination name", domain=c.VIR_FROM_QEMU)
        cookie = Cookie.parse(cookie_in, host_uuid())
        if flags & c.VIR_MIGRATE_OFFLINE:
            if cancelled:
                _err(c.VIR_ERR_OPERATION_FAILED, "migration of domain "
                     f"{name} was cancelled")
            xml = params.get(c.VIR_MIGRATE_PARAM_PERSIST_XML) or params.get(
                c.VIR_MIGRATE_PARAM_DEST_XML)
            handle = self.domainDefineXMLFlags(conn, _renamed(xml, name), 0)
            return [handle, b""]
        with self.lock:
            dom = self._by_name.get(name)
        if dom is None:
            _err(c.VIR_ERR_NO_DOMAIN, f"no domain with matching name '{name}'",
                 domain=c.VIR_FROM_QEMU)
        assert dom is not None
        dom.job.begin("virDomainMigrateFinish3Params")
        with dom.lock:
            dom.incoming_from = None
        try:
            if cancelled:
                with dom.lock:
                    if dom.async_job is not None:
                        jobs.end(dom, dom.async_job)
                self._discard_incoming(dom)
                _err(c.VIR_ERR_OPERATION_FAILED, f"migration of domain {name} failed")
            monitor = self._running_monitor(dom)
            with dom.lock:
                job = dom.async_job or jobs.JobProgress(
                    c.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN, "migration in", jobs.MIGRATION)
            try:
                jobs.wait_for_stream(monitor, job)
            except BaseException:
                self._discard_incoming(dom)
                raise
            finally:
                jobs.end(dom, job)
            if flags & STORAGE_FLAGS:
                storage.stop_exports(monitor)
            if flags & c.VIR_MIGRATE_PERSIST_DEST:
                persistent = params.get(c.VIR_MIGRATE_PARAM_PERSIST_XML) or (
                    cookie.persistent_xml if cookie else None)
                self._persist_incoming(dom, persistent, name)
            if flags & c.VIR_MIGRATE_PAUSED:
                with dom.lock:
                    dom.state, dom.reason = c.VIR_DOMAIN_PAUSED, c.VIR_DOMAIN_PAUSED_USER
                self._lifecycle(dom, c.VIR_DOMAIN_EVENT_SUSPENDED,
                                c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
            else:
                with dom.lock:
                    dom.state, dom.reason = c.VIR_DOMAIN_RUNNING, c.VIR_DOMAIN_RUNNING_MIGRATED
                monitor.execute("cont")
                self._lifecycle(dom, c.VIR_DOMAIN_EVENT_RESUMED,
                                c.VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
            with dom.lock:
                dom.save_status(self.paths)
            return [self._handle(conn, dom), _local_cookie(dom)]
        finally:
            dom.job.end()

    def _discard_incoming(self, dom: QemuDomain) -> None:
        """Kill a destination QEMU whose migration did not complete."""
        from pyvirt.drivers.qemu.driver import KILL_WAIT

        with dom.lock:
            if not dom.active:
                return
            dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_FAILED, c.VIR_DOMAIN_EVENT_STOPPED_FAILED)
        self._signal(dom, signal.SIGKILL)
        dom.stopped.wait(KILL_WAIT)

    def _abandoned_incoming(self, conn: virConnect) -> None:
        """``conn`` closes: guests it prepared for an incoming migration and never
        finished are discarded (qemuMigrationDstPrepareCleanup's close callback)."""
        with self.lock:
            doms = [d for d in self._by_uuid.values() if d.incoming_from is conn]
        for dom in doms:
            with dom.lock:
                dom.incoming_from = None
                job = dom.async_job
            if job is not None:
                jobs.end(dom, job)
            self._discard_incoming(dom)

    def _persist_incoming(self, dom: QemuDomain, xml: str | None,
                          name: str) -> None:
        with self.lock, dom.lock:
            defn = (self.parse_definition(_renamed(xml, name), inactive=True) if xml
                    else self.parse_definition(dom.defn.to_xml(inactive=True, secure=True),
                                               inactive=True))
            updated = dom.persistent
            dom.persistent = True
            dom.new_def = defn
            dom.save_config(self.paths)
        self._lifecycle(dom, c.VIR_DOMAIN_EVENT_DEFINED,
                        c.VIR_DOMAIN_EVENT_DEFINED_UPDATED if updated
                        else c.VIR_DOMAIN_EVENT_DEFINED_ADDED)

    # ---- source: Confirm --------------------------------------------------------------------

    def domainMigrateConfirm3Params(self, handle: virDomain,  # noqa: N802
                                    params: dict[str, Any], cookie_in: bytes | None,
                                    flags: int, cancelled: int) -> int:
        from pyvirt.drivers.qemu.driver import KILL_WAIT, TERM_WAIT

        _check_request("qemuDomainMigrateConfirm3Params", flags, params)
        dom = self._dom(handle)
        dom.job.begin("virDomainMigrateConfirm3Params")
        try:
            if flags & c.VIR_MIGRATE_OFFLINE:
                if not cancelled and flags & c.VIR_MIGRATE_UNDEFINE_SOURCE:
                    self._undefine_migrated(dom)
                return 0
            if cancelled:
                self._resume_after_failure(dom, dom.running_before_migration)
                return 0
            with dom.lock:
                if dom.active:
                    dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_MIGRATED,
                                         c.VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
                active = dom.active
            if active:
                self._signal(dom, signal.SIGTERM)
                if not dom.stopped.wait(TERM_WAIT):
                    self._signal(dom, signal.SIGKILL)
                    dom.stopped.wait(KILL_WAIT)
            if flags & c.VIR_MIGRATE_UNDEFINE_SOURCE:
                self._undefine_migrated(dom)
            handle._id = -1
            return 0
        finally:
            dom.job.end()

    def _undefine_migrated(self, dom: QemuDomain) -> None:
        with self.lock, dom.lock:
            if not dom.persistent:
                return
            dom.remove_config(self.paths)
            dom.autostart = False
            dom.persistent = False
            dom.new_def = None
            if not dom.active:
                self._unindex(dom)
        self._lifecycle(dom, c.VIR_DOMAIN_EVENT_UNDEFINED, c.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)


def _renamed(xml: str | None, name: str) -> str:
    """``xml`` with ``<name>`` set to ``name`` (a migration under another name)."""
    if xml is None:
        _err(c.VIR_ERR_INVALID_ARG, "no domain XML passed", domain=c.VIR_FROM_QEMU)
    assert xml is not None
    root = ET.fromstring(xml)
    node = root.find("name")
    if node is not None and node.text != name:
        node.text = name
        return ET.tostring(root, encoding="unicode")
    return xml


def _remote_supports(conn: Any, feature: int) -> bool:
    """The destination's feature probe; a failing probe counts as "no"."""
    from pyvirt.api.migration import supports_feature

    try:
        return supports_feature(conn, feature)
    except libvirtError:
        return False


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::", 0))
        return True
    except OSError:
        return False


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _free_port(listen: str, low: int, high: int) -> int:
    """The first port of the migration range that nothing listens on."""
    host = listen.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in range(low, high + 1):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    _err(c.VIR_ERR_INTERNAL_ERROR, f"Unable to find an unused port in range "
         f"'migration' ({low}-{high})")
