"""virsh's ``migrate`` (tools/virsh-domain.c cmdMigrate/doMigrate) and the job watch it runs
with (virshWatchJob).

The migration runs on a worker thread while the command's thread watches it: every half
second it reads the job's progress (printing ``Migration: [ NN %]`` on stderr with
``--verbose``), after ``--timeout`` seconds it suspends the guest (or, with
``--timeout-postcopy``, asks for post-copy), and Ctrl-C aborts the job once it has started.
Options become migration parameters and flags exactly as virsh maps them; ``--p2p`` and
``--direct`` hand ``desturi`` to the source (virDomainMigrateToURI3), otherwise the command
connects to ``desturi`` itself (virDomainMigrate3).
"""

from __future__ import annotations

import threading
import time

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.virsh.commands.domain import exclusive, read_file, require
from pyvirt.virsh.ctl import CommandError, CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "domain"
_PROGRESS_PERIOD = 0.5


def print_progress(ctl: Ctl, label: str, remaining: int, total: int) -> None:
    """virshPrintJobProgress: "\\r<label>: [NNN %]" on stderr (99 until really done)."""
    if remaining == 0:
        progress = 100
    else:
        progress = min(int(100.0 - remaining * 100.0 / total), 99)
    ctl.out.flush()
    ctl.err.write(f"\r{label}: [{progress:3d} %]")
    ctl.err.flush()


def watch_job(ctl: Ctl, dom: Any, run: Callable[[], None], verbose: bool, label: str,
              timeout: int = 0, on_timeout: Callable[[], None] | None = None
              ) -> BaseException | None:
    """virshWatchJob: ``run`` on a worker thread, watched from this one (see the module
    docstring). Returns what ``run`` raised, or None."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            run()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome.append(exc)

    worker = threading.Thread(target=work, name="pyvirsh-job", daemon=True)
    worker.start()
    began = time.monotonic()
    job_started = timed_out = False
    while worker.is_alive():
        try:
            worker.join(_PROGRESS_PERIOD)
            if not worker.is_alive():
                break
            if timeout and not timed_out and time.monotonic() - began >= timeout:
                timed_out = True
                if on_timeout is not None:
                    on_timeout()
            if not verbose and job_started:
                continue
            try:
                info = dom.jobInfo()
            except libvirtError:
                continue
            if verbose and info[3] > 0:
                print_progress(ctl, label, info[5], info[3])
            if info[0] in (c.VIR_DOMAIN_JOB_BOUNDED, c.VIR_DOMAIN_JOB_UNBOUNDED):
                job_started = True
        except KeyboardInterrupt:
            # Ctrl-C: libvirt's job is aborted once it runs; before that, nothing to do
            if job_started:
                try:
                    dom.abortJob()
                except libvirtError:
                    pass
    failure = outcome[0] if outcome else None
    if failure is None and verbose:
        print_progress(ctl, label, 0, 1)
    return failure


@command("migrate", GROUP, "migrate domain to another host",
         "Migrate domain to another host.  Add --live for live migration.", [
             Opt("domain", OptType.DATA, "domain name, id or uuid", required=True,
                 completer="domain"),
             Opt("desturi", OptType.DATA, "connection URI of the destination host as seen "
                 "from the client(normal migration) or source(p2p migration)", required=True),
             Opt("live", OptType.BOOL, "live migration"),
             Opt("offline", OptType.BOOL, "offline migration"),
             Opt("p2p", OptType.BOOL, "peer-2-peer migration"),
             Opt("direct", OptType.BOOL, "direct migration"),
             Opt("tunneled", OptType.ALIAS, "tunnelled", alias="tunnelled"),
             Opt("tunnelled", OptType.BOOL, "tunnelled migration"),
             Opt("persistent", OptType.BOOL, "persist VM on destination"),
             Opt("undefinesource", OptType.BOOL, "undefine VM on source"),
             Opt("suspend", OptType.BOOL, "do not restart the domain on the destination host"),
             Opt("copy-storage-all", OptType.BOOL,
                 "migration with non-shared storage with full disk copy"),
             Opt("copy-storage-inc", OptType.BOOL,
                 "migration with non-shared storage with incremental copy (same base image "
                 "shared between source and destination)"),
             Opt("copy-storage-synchronous-writes", OptType.BOOL,
                 "force guest disk writes to be synchronously written to the destination to "
                 "improve storage migration convergence"),
             Opt("change-protection", OptType.BOOL,
                 "prevent any configuration changes to domain until migration ends"),
             Opt("unsafe", OptType.BOOL, "force migration even if it may be unsafe"),
             Opt("verbose", OptType.BOOL, "display the progress of migration"),
             Opt("compressed", OptType.BOOL, "compress repeated pages during live migration"),
             Opt("auto-converge", OptType.BOOL, "force convergence during live migration"),
             Opt("rdma-pin-all", OptType.BOOL,
                 "pin all memory before starting RDMA live migration"),
             Opt("abort-on-error", OptType.BOOL, "abort on soft errors during migration"),
             Opt("postcopy", OptType.BOOL, "enable post-copy migration; switch to it using "
                 "migrate-postcopy command"),
             Opt("postcopy-after-precopy", OptType.BOOL,
                 "automatically switch to post-copy migration after one pass of pre-copy"),
             Opt("postcopy-resume", OptType.BOOL, "resume failed post-copy migration"),
             Opt("zerocopy", OptType.BOOL,
                 "use zero-copy mechanism for migrating memory pages"),
             Opt("migrateuri", OptType.STRING, "migration URI, usually can be omitted",
                 completer="empty"),
             Opt("graphicsuri", OptType.STRING,
                 "graphics URI to be used for seamless graphics migration", completer="empty"),
             Opt("listen-address", OptType.STRING,
                 "listen address that destination should bind to for incoming migration",
                 completer="empty"),
             Opt("dname", OptType.STRING, "rename to new name during migration (if "
                 "supported)", completer="empty"),
             Opt("timeout", OptType.INT, "run action specified by --timeout-* option "
                 "(suspend by default) if live migration exceeds timeout (in seconds)"),
             Opt("timeout-suspend", OptType.BOOL, "suspend the guest after timeout"),
             Opt("timeout-postcopy", OptType.BOOL, "switch to post-copy after timeout"),
             Opt("xml", OptType.STRING, "filename containing updated XML for the target"),
             Opt("migrate-disks", OptType.STRING,
                 "comma separated list of disks to be migrated"),
             Opt("disks-port", OptType.INT,
                 "port to use by target server for incoming disks migration"),
             Opt("disks-uri", OptType.STRING,
                 "URI to use for disks migration (overrides --disks-port)", completer="empty"),
             Opt("comp-methods", OptType.STRING,
                 "comma separated list of compression methods to be used"),
             Opt("comp-mt-level", OptType.INT, "compress level for multithread compression"),
             Opt("comp-mt-threads", OptType.INT,
                 "number of compression threads for multithread compression"),
             Opt("comp-mt-dthreads", OptType.INT,
                 "number of decompression threads for multithread compression"),
             Opt("comp-xbzrle-cache", OptType.INT, "page cache size for xbzrle compression"),
             Opt("auto-converge-initial", OptType.INT,
                 "initial CPU throttling rate for auto-convergence"),
             Opt("auto-converge-increment", OptType.INT,
                 "CPU throttling rate increment for auto-convergence"),
             Opt("persistent-xml", OptType.STRING,
                 "filename containing updated persistent XML for the target"),
             Opt("tls", OptType.BOOL, "use TLS for migration"),
             Opt("postcopy-bandwidth", OptType.INT,
                 "post-copy migration bandwidth limit in MiB/s"),
             Opt("parallel", OptType.BOOL, "enable parallel migration"),
             Opt("parallel-connections", OptType.INT,
                 "number of connections for parallel migration"),
             Opt("bandwidth", OptType.INT, "migration bandwidth limit in MiB/s"),
             Opt("tls-destination", OptType.STRING, "override the destination host name used "
                 "for TLS verification", completer="empty"),
         ])
def cmd_migrate(ctl: Ctl, args: Args) -> bool:
    exclusive(args, ("live", "offline"), ("timeout-suspend", "timeout-postcopy"))
    for opt, needed in (("postcopy-after-precopy", "postcopy"),
                        ("postcopy-resume", "postcopy"), ("timeout-postcopy", "postcopy"),
                        ("persistent-xml", "persistent"), ("tls-destination", "tls")):
        require(args, opt, needed)
    dom = ctl.lookup_domain(args)
    verbose = args.bool("verbose")
    timeout = args.uint("timeout", 0) or 0
    if timeout > 0 and not args.bool("live"):
        raise CommandError("migrate: Unexpected timeout for offline migration")
    postcopy_on_timeout = args.bool("timeout-postcopy")
    if not timeout and (args.bool("timeout-suspend") or postcopy_on_timeout):
        raise CommandError("migrate: Unexpected --timeout-* option without --timeout")
    if args.bool("postcopy-after-precopy"):
        # the MIGRATION_ITERATION event would switch to post-copy, which pyvirt's drivers
        # never start: virsh's registration succeeds and nothing else happens
        pass
    p2p_or_direct = args.bool("p2p") or args.bool("direct")
    desturi = args.string("desturi") or ""
    dconn = None
    if not p2p_or_direct:
        try:
            dconn = ctl._open(desturi, False)
        except libvirtError as exc:
            ctl.save_error(exc)
            return False
    try:
        params, flags = _migration_request(ctl, args)

        def run() -> None:
            if flags & c.VIR_MIGRATE_PEER2PEER or args.bool("direct"):
                dom.migrateToURI3(desturi, params, flags)
            else:
                dom.migrate3(dconn, params, flags)

        def on_timeout() -> None:
            try:
                if postcopy_on_timeout:
                    dom.migrateStartPostCopy(0)
                else:
                    dom.suspend()
            except libvirtError:
                pass   # virsh only notes it at debug level

        failure = watch_job(ctl, dom, run, verbose, "Migration", timeout, on_timeout)
    finally:
        if dconn is not None:
            try:
                dconn.close()
            except libvirtError:
                pass
    if isinstance(failure, libvirtError):
        ctl.save_error(failure)
        return False
    if failure is not None:
        raise failure
    return True


def _migration_request(ctl: Ctl, args: Args) -> tuple[dict[str, Any], int]:
    """doMigrate's parameters and flags, in its order and with its checks."""
    params: dict[str, Any] = {}
    for opt, name in (("migrateuri", c.VIR_MIGRATE_PARAM_URI),
                      ("graphicsuri", c.VIR_MIGRATE_PARAM_GRAPHICS_URI),
                      ("listen-address", c.VIR_MIGRATE_PARAM_LISTEN_ADDRESS)):
        value = args.string(opt)
        if value:
            params[name] = value
    port = args.int("disks-port", 0)
    if port:
        params[c.VIR_MIGRATE_PARAM_DISKS_PORT] = port
    for opt, name in (("disks-uri", c.VIR_MIGRATE_PARAM_DISKS_URI),
                      ("dname", c.VIR_MIGRATE_PARAM_DEST_NAME)):
        value = args.string(opt)
        if value:
            params[name] = value
    for opt, name in (("migrate-disks", c.VIR_MIGRATE_PARAM_MIGRATE_DISKS),
                      ("comp-methods", c.VIR_MIGRATE_PARAM_COMPRESSION)):
        value = args.string(opt)
        if value:
            params[name] = value.split(",")
    for opt, name in (("comp-mt-level", c.VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL),
                      ("comp-mt-threads", c.VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS),
                      ("comp-mt-dthreads", c.VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS)):
        number = args.int(opt)
        if number is not None:
            params[name] = number
    cache = args.ulong("comp-xbzrle-cache")
    if cache is not None:
        params[c.VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE] = cache
    for opt, name in (("xml", c.VIR_MIGRATE_PARAM_DEST_XML),
                      ("persistent-xml", c.VIR_MIGRATE_PARAM_PERSIST_XML)):
        path = args.string(opt)
        if path:
            try:
                params[name] = read_file(ctl, path)
            except CommandFailed:
                ctl.error(f"cannot read file '{path}'")
                raise
    for opt, name in (("auto-converge-initial", c.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL),
                      ("auto-converge-increment",
                       c.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT)):
        number = args.int(opt)
        if number is not None:
            params[name] = number
    postcopy_bw = args.ulong("postcopy-bandwidth")
    if postcopy_bw is not None:
        params[c.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY] = postcopy_bw
    connections = args.int("parallel-connections")
    if connections is not None:
        params[c.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS] = connections
    bandwidth = args.ulong("bandwidth")
    if bandwidth is not None:
        params[c.VIR_MIGRATE_PARAM_BANDWIDTH] = bandwidth
    destination = args.string("tls-destination")
    if destination:
        params[c.VIR_MIGRATE_PARAM_TLS_DESTINATION] = destination
    flags = 0
    for opt, flag in (("live", c.VIR_MIGRATE_LIVE), ("p2p", c.VIR_MIGRATE_PEER2PEER),
                      ("tunnelled", c.VIR_MIGRATE_TUNNELLED),
                      ("persistent", c.VIR_MIGRATE_PERSIST_DEST),
                      ("undefinesource", c.VIR_MIGRATE_UNDEFINE_SOURCE),
                      ("suspend", c.VIR_MIGRATE_PAUSED),
                      ("copy-storage-all", c.VIR_MIGRATE_NON_SHARED_DISK),
                      ("copy-storage-inc", c.VIR_MIGRATE_NON_SHARED_INC)):
        if args.bool(opt):
            flags |= flag
    if args.bool("copy-storage-synchronous-writes"):
        if not flags & (c.VIR_MIGRATE_NON_SHARED_DISK | c.VIR_MIGRATE_NON_SHARED_INC):
            ctl.error("'--copy-storage-synchronous-writes' requires one of "
                      "'--copy-storage-all', 'copy-storage-inc'")
            raise CommandFailed()
        flags |= c.VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES
    for opt, flag in (("change-protection", c.VIR_MIGRATE_CHANGE_PROTECTION),
                      ("unsafe", c.VIR_MIGRATE_UNSAFE),
                      ("compressed", c.VIR_MIGRATE_COMPRESSED),
                      ("auto-converge", c.VIR_MIGRATE_AUTO_CONVERGE),
                      ("rdma-pin-all", c.VIR_MIGRATE_RDMA_PIN_ALL),
                      ("offline", c.VIR_MIGRATE_OFFLINE),
                      ("abort-on-error", c.VIR_MIGRATE_ABORT_ON_ERROR),
                      ("postcopy", c.VIR_MIGRATE_POSTCOPY),
                      ("postcopy-resume", c.VIR_MIGRATE_POSTCOPY_RESUME),
                      ("zerocopy", c.VIR_MIGRATE_ZEROCOPY), ("tls", c.VIR_MIGRATE_TLS),
                      ("parallel", c.VIR_MIGRATE_PARALLEL)):
        if args.bool(opt):
            flags |= flag
    return params, flags
