"""Live migration of a TCG guest between two pyvirtd daemons on this machine.

Each daemon has its own ``--root``, its own ``host_uuid`` (libvirt refuses a migration to
the same host) and its own ports; the guest writes a counter to a serial log that both
QEMUs append to, so the log shows whether the counter went on across the move (it must
not start again from 1, and the banner must not appear twice). The three ways in:
libvirt-python's shape of pyvirt's API with a managed migration (``migrate3``), the
peer-to-peer form (``migrateToURI3`` with VIR_MIGRATE_PEER2PEER, the source daemon talking
to the destination itself), and the real virsh's ``migrate`` against pyvirtd.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from integration.guest import GUEST_MARKER, ensure_test_guest
from integration.test_qemu_driver import domain_xml, ticks, wait_until
from unit.daemon.support import Pyvirtd

QEMU = "/usr/bin/qemu-system-x86_64"
pytestmark = [
    pytest.mark.integration, pytest.mark.interop,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
]
LOOPBACK = {pyvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.1",
            pyvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "127.0.0.1"}


def _daemon(base: Path, index: int) -> Pyvirtd:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    slot = (int(worker[2:]) if worker[2:].isdigit() else 0) * 2 + index
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "qemu.conf").write_text(
        f"remote_display_port_min = {5900 + 100 * slot}\n"
        f"remote_display_port_max = {5999 + 100 * slot}\n"
        f"migration_port_min = {49152 + 16 * slot}\n"
        f"migration_port_max = {49167 + 16 * slot}\n")
    return Pyvirtd(base, config=f'host_uuid = "00000000-0000-4000-8000-00000000000{index + 1}"\n')


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[tuple[Pyvirtd, Pyvirtd]]:
    first, second = _daemon(tmp_path / "a", 0), _daemon(tmp_path / "b", 1)
    try:
        with first, second:
            yield first, second
    finally:
        # a stopped pyvirtd leaves guests running (by design): a test that failed half
        # way must not leave its QEMUs behind
        for d in (first, second):
            _kill_guests(d.root)
    for d in (first, second):
        assert "Traceback" not in d.log_text()


def _kill_guests(root: Path) -> None:
    """SIGKILL the QEMUs whose pid files are under ``root`` (only if they are QEMU
    processes started for this root)."""
    import signal

    for pidfile in root.glob("run/qemu/*/qemu.pid"):
        try:
            pid = int(pidfile.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except (OSError, ValueError):
            continue
        if b"qemu-system" in cmdline and str(root).encode() in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _guest(tmp_path: Path, name: str) -> tuple[str, Path]:
    kernel, initrd = ensure_test_guest()
    log = tmp_path / f"{name}.serial"
    return domain_xml(name, log, kernel, initrd, tick=True), log


def _moved_on(log: Path, before: list[int]) -> None:
    """The counter continued past ``before`` without starting again."""
    wait_until(lambda: len(ticks(log)) >= len(before) + 3, 60, "the counter to go on")
    seen = ticks(log)
    assert seen == sorted(seen) and seen[0] == before[0], seen
    assert log.read_text(errors="replace").count(GUEST_MARKER) == 1


def test_managed_and_peer_to_peer_migration(daemons: tuple[Pyvirtd, Pyvirtd],
                                            tmp_path: Path) -> None:
    a, b = daemons
    xml, log = _guest(tmp_path, "mig")
    src = pyvirt.open(a.uri("qemu:///system"))
    dst = pyvirt.open(b.uri("qemu:///system"))
    try:
        src.defineXML(xml)
        dom = src.lookupByName("mig")
        dom.create()
        wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
        moved = dom.migrate3(dst, dict(LOOPBACK), pyvirt.VIR_MIGRATE_LIVE
                             | pyvirt.VIR_MIGRATE_PERSIST_DEST
                             | pyvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
        assert moved.name() == "mig" and moved.UUIDString() == dom.UUIDString()
        assert moved.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_MIGRATED]
        assert moved.isPersistent() == 1
        assert [d.name() for d in src.listAllDomains()] == []   # undefined at the source
        _moved_on(log, ticks(log))
        # back again, peer to peer: the destination daemon runs the whole exchange
        back = moved.migrateToURI3(a.uri("qemu:///system"), dict(LOOPBACK),
                                   pyvirt.VIR_MIGRATE_LIVE | pyvirt.VIR_MIGRATE_PEER2PEER)
        assert back == 0
        home = src.lookupByName("mig")
        assert home.state()[0] == pyvirt.VIR_DOMAIN_RUNNING and home.isPersistent() == 0
        # not undefined on b: persistent there, shut off (migrated)
        there = dst.lookupByName("mig")
        assert there.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_MIGRATED]
        _moved_on(log, ticks(log))
        home.destroy()
    finally:
        src.close()
        dst.close()


@pytest.mark.skipif(shutil.which("virsh") is None, reason="virsh is missing")
def test_real_virsh_migrate(daemons: tuple[Pyvirtd, Pyvirtd], tmp_path: Path) -> None:
    a, b = daemons
    xml, log = _guest(tmp_path, "vmig")
    path = tmp_path / "vmig.xml"
    path.write_text(xml)
    subprocess.run(["virsh", "-c", a.uri("qemu:///system"), "create", str(path)],
                   check=True, capture_output=True, timeout=60)
    wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
    run = subprocess.run(
        ["virsh", "-c", a.uri("qemu:///system"), "migrate", "--live", "--verbose", "vmig",
         b.uri("qemu:///system"), "tcp://127.0.0.1", "--listen-address", "127.0.0.1"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    _moved_on(log, ticks(log))
    listed = subprocess.run(["virsh", "-c", b.uri("qemu:///system"), "list", "--name"],
                            capture_output=True, text=True, timeout=60).stdout
    assert listed.split() == ["vmig"]
    gone = subprocess.run(["virsh", "-c", a.uri("qemu:///system"), "list", "--all", "--name"],
                          capture_output=True, text=True, timeout=60).stdout
    assert gone.split() == []
    subprocess.run(["virsh", "-c", b.uri("qemu:///system"), "destroy", "vmig"], check=True,
                   capture_output=True, timeout=60)


def _error(call: object) -> tuple[int, str]:
    try:
        call()  # type: ignore[operator]
    except pyvirt.libvirtError as exc:
        return exc.get_error_code(), str(exc)
    raise AssertionError("no error")


def test_refusals_failures_and_other_modes(daemons: tuple[Pyvirtd, Pyvirtd],
                                           tmp_path: Path) -> None:
    a, b = daemons
    xml, log = _guest(tmp_path, "modes")
    src = pyvirt.open(a.uri("qemu:///system"))
    dst = pyvirt.open(b.uri("qemu:///system"))
    try:
        dom = src.createXML(xml)
        wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
        live = pyvirt.VIR_MIGRATE_LIVE
        # the API's own checks, before any driver is asked
        assert _error(lambda: dom.migrate3(dst, {}, live | pyvirt.VIR_MIGRATE_PEER2PEER)) == (
            pyvirt.VIR_ERR_INVALID_ARG, "use virDomainMigrateToURI3 for peer-to-peer migration")
        assert _error(lambda: dom.migrateToURI3("qemu:///system", {},
                                                live | pyvirt.VIR_MIGRATE_PEER2PEER)) == (
            pyvirt.VIR_ERR_INVALID_ARG, "Attempt to migrate guest to the same host")
        assert _error(lambda: dom.migrateToURI3(b.uri("qemu:///system"), {}, live)) == (
            pyvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
            "argument unsupported: direct migration is not supported by the source host")
        # the drivers': unknown parameters and flags
        assert _error(lambda: dom.migrate3(dst, {"compression": "xbzrle"}, live)) == (
            pyvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
            "argument unsupported: parameter 'compression' not supported")
        code, text = _error(lambda: dom.migrate3(dst, dict(LOOPBACK),
                                                 live | pyvirt.VIR_MIGRATE_TUNNELLED))
        assert code == pyvirt.VIR_ERR_INVALID_ARG
        # a stream that cannot reach the destination: the source guest runs on, the
        # destination's QEMU is gone
        unreachable = {pyvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.1:9",
                       pyvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "127.0.0.2"}
        code, text = _error(lambda: dom.migrate3(dst, unreachable, live))
        assert (code, text) == (pyvirt.VIR_ERR_OPERATION_FAILED,
                                "operation failed: job 'migration out' failed: Failed to "
                                "connect to '127.0.0.1:9': Connection refused")
        assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING,
                               pyvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED]
        assert dst.listAllDomains() == []
        before = ticks(log)
        wait_until(lambda: len(ticks(log)) >= len(before) + 2, 30, "the counter at the source")
        # a client that prepared an incoming migration and went away: the destination
        # does not keep the half-started guest (the phases driven by hand, as a client
        # that dies between them would leave them)
        cookie, dom_xml = src._drv.domainMigrateBegin3Params(dom, {}, live)
        quitter = pyvirt.open(b.uri("qemu:///system"))
        quitter._drv.domainMigratePrepare3Params(
            quitter, dict(LOOPBACK, destination_xml=dom_xml), cookie, live)
        assert [d.name() for d in dst.listAllDomains()] == ["modes"]
        assert dst.lookupByName("modes").state() == [pyvirt.VIR_DOMAIN_PAUSED,
                                                     pyvirt.VIR_DOMAIN_PAUSED_MIGRATION]
        quitter.close()
        wait_until(lambda: dst.listAllDomains() == [], 30, "the abandoned guest to go")
        # not live (paused while it moves) and left paused at the destination
        moved = dom.migrate3(dst, dict(LOOPBACK), pyvirt.VIR_MIGRATE_PAUSED)
        assert moved.state() == [pyvirt.VIR_DOMAIN_PAUSED, pyvirt.VIR_DOMAIN_PAUSED_USER]
        frozen = ticks(log)
        moved.resume()
        _moved_on(log, frozen)
        # a host that is the same host (the same UUID) is refused by the destination
        twin = dst.lookupByName("modes")
        same = _daemon(tmp_path / "twin", 1)   # b's host UUID
        with same:
            other = pyvirt.open(same.uri("qemu:///system"))
            try:
                code, text = _error(lambda: twin.migrate3(other, dict(LOOPBACK), live))
                assert (code, text) == (
                    pyvirt.VIR_ERR_INTERNAL_ERROR, "internal error: Attempt to migrate guest "
                    "to the same host 00000000-0000-4000-8000-000000000002")
                assert other.listAllDomains() == []
            finally:
                other.close()
        assert twin.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
        twin.destroy()
        # offline: a defined guest's definition moves, nothing runs
        src.defineXML(xml)
        offline = src.lookupByName("modes")
        flags = pyvirt.VIR_MIGRATE_OFFLINE | pyvirt.VIR_MIGRATE_PERSIST_DEST
        assert _error(lambda: offline.migrate3(dst, {}, pyvirt.VIR_MIGRATE_OFFLINE)) == (
            pyvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: offline "
            "migration must be specified with the persistent flag set")
        copied = offline.migrate3(dst, {}, flags | pyvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
        assert copied.isPersistent() == 1 and copied.state()[0] == pyvirt.VIR_DOMAIN_SHUTOFF
        assert src.listAllDomains() == []
        copied.undefine()
    finally:
        src.close()
        dst.close()


def test_job_progress_abort_and_completed_stats(daemons: tuple[Pyvirtd, Pyvirtd],
                                               tmp_path: Path) -> None:
    """A migration slowed to 1 MiB/s shows its progress (virDomainGetJobInfo/Stats from
    another connection), is cancelled by virDomainAbortJob (the guest runs on at the
    source), then goes through; the completed job's statistics stay readable."""
    import threading

    a, b = daemons
    xml, log = _guest(tmp_path, "slow")
    src = pyvirt.open(a.uri("qemu:///system"))
    watcher = pyvirt.open(a.uri("qemu:///system"))
    dst = pyvirt.open(b.uri("qemu:///system"))
    try:
        src.defineXML(xml)
        dom = src.lookupByName("slow")
        dom.create()
        wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
        watched = watcher.lookupByName("slow")
        assert watched.jobInfo()[0] == pyvirt.VIR_DOMAIN_JOB_NONE
        # the tunables: libvirt's "unlimited" speed until set, QEMU's downtime and cache
        unlimited = (2**63 - 1) // (1 << 20)
        assert dom.migrateGetMaxSpeed() == unlimited
        assert _error(lambda: dom.migrateSetMaxSpeed(unlimited + 1)) == (
            pyvirt.VIR_ERR_OVERFLOW, f"numerical overflow: bandwidth must be less than "
                                     f"{unlimited + 1}")
        dom.migrateSetMaxDowntime(150)
        assert dom.migrateGetMaxDowntime() == 150
        dom.migrateSetCompressionCache(64 << 20)
        assert dom.migrateGetCompressionCache() == 64 << 20
        assert _error(dom.migrateStartPostCopy) == (
            pyvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: post-copy "
            "can only be started while outgoing migration is in progress")
        dom.migrateSetMaxSpeed(1)      # MiB/s, for the migrations to come
        assert dom.migrateGetMaxSpeed() == 1
        assert _error(watched.abortJob) == (pyvirt.VIR_ERR_OPERATION_INVALID,
                                            "Requested operation is not valid: no job is "
                                            "active on the domain")
        outcome: list[object] = []

        def run() -> None:
            try:
                outcome.append(dom.migrate3(dst, dict(LOOPBACK), pyvirt.VIR_MIGRATE_LIVE))
            except pyvirt.libvirtError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        wait_until(lambda: watched.jobStats().get("memory_processed", 0) > 0, 60,
                   "the migration to make progress")
        info = watched.jobInfo()
        assert info[0] == pyvirt.VIR_DOMAIN_JOB_UNBOUNDED and info[1] > 0 and info[6] > 0
        stats = watched.jobStats()
        assert stats["type"] == pyvirt.VIR_DOMAIN_JOB_UNBOUNDED
        assert stats["operation"] == pyvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
        assert stats["memory_total"] >= 256 * 1024 * 1024   # RAM, and ROMs besides
        assert watched.abortJob() == 0
        worker.join(60)
        [failure] = outcome
        assert isinstance(failure, pyvirt.libvirtError)
        assert failure.get_error_code() == pyvirt.VIR_ERR_OPERATION_ABORTED
        assert str(failure) == "operation aborted: job 'migration out' canceled by client"
        assert dom.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
        assert dst.listAllDomains() == []
        cancelled = watched.jobStats(pyvirt.VIR_DOMAIN_JOB_STATS_COMPLETED
                                     | pyvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
        assert cancelled["type"] == pyvirt.VIR_DOMAIN_JOB_CANCELLED
        # unthrottled it goes through; the source keeps the completed job's figures
        dom.migrateSetMaxSpeed(unlimited)
        dom.migrate3(dst, dict(LOOPBACK), pyvirt.VIR_MIGRATE_LIVE)
        done = watched.jobStats(pyvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        assert done["type"] == pyvirt.VIR_DOMAIN_JOB_COMPLETED
        assert done["memory_remaining"] == 0 and done["memory_processed"] > 0
        assert "downtime" in done and done["time_elapsed"] > 0
        # read once without KEEP_COMPLETED: gone
        assert watched.jobStats(pyvirt.VIR_DOMAIN_JOB_STATS_COMPLETED) == {
            "type": pyvirt.VIR_DOMAIN_JOB_NONE}
        assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_MIGRATED]
        dst.lookupByName("slow").destroy()
        dom.undefine()
    finally:
        for conn in (src, watcher, dst):
            conn.close()


def test_pyvirsh_migrate_progress_and_timeout(daemons: tuple[Pyvirtd, Pyvirtd],
                                             tmp_path: Path) -> None:
    """pyvirsh's migrate watches the job: --verbose prints the progress, --timeout suspends
    the guest when the migration takes longer (it then completes, and runs at the
    destination)."""
    from pathlib import Path as _Path

    pyvirsh = _Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pyvirsh"
    if not pyvirsh.exists():
        pytest.skip("no .venv/bin/pyvirsh")
    a, b = daemons
    xml, log = _guest(tmp_path, "pmig")
    path = tmp_path / "pmig.xml"
    path.write_text(xml)
    subprocess.run([str(pyvirsh), "-c", a.uri("qemu:///system"), "create", str(path)],
                   check=True, capture_output=True, timeout=60)
    wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
    watcher = subprocess.Popen([str(pyvirsh), "-c", a.uri("qemu:///system"), "event",
                                "--event", "lifecycle", "--loop", "--timeout", "60"],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    run = subprocess.run(
        [str(pyvirsh), "-c", a.uri("qemu:///system"), "migrate", "--live", "--verbose",
         "--persistent", "--bandwidth", "20", "--timeout", "1", "pmig",
         b.uri("qemu:///system"), "--migrateuri", "tcp://127.0.0.1",
         "--listen-address", "127.0.0.1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    steps = [int(n) for n in re.findall(r"Migration: \[ *(\d+) %\]", run.stderr)]
    assert steps[-1] == 100 and len(steps) >= 3 and steps == sorted(steps), run.stderr
    watcher.terminate()
    seen = watcher.communicate(timeout=30)[0]
    # the timeout suspended the guest at the source (a user pause), then it moved on
    assert ("'pmig': Suspended Paused" in seen and "'pmig': Stopped Migrated" in seen
            and seen.index("Suspended Paused") < seen.index("Stopped Migrated")), seen
    events = subprocess.run([str(pyvirsh), "-c", b.uri("qemu:///system"), "dominfo", "pmig"],
                            capture_output=True, text=True, timeout=60).stdout
    assert "State:          running" in events and "Persistent:     yes" in events
    _moved_on(log, ticks(log))
    subprocess.run([str(pyvirsh), "-c", b.uri("qemu:///system"), "destroy", "pmig"],
                   check=True, capture_output=True, timeout=60)


def test_copy_storage_all(daemons: tuple[Pyvirtd, Pyvirtd], tmp_path: Path) -> None:
    """A guest with a local disk: refused as unsafe without storage copy; with
    VIR_MIGRATE_NON_SHARED_DISK its disk is mirrored over NBD into the destination's image
    (here another file, named by the destination XML) and the copy equals the original."""
    a, b = daemons
    source_img, dest_img = tmp_path / "src.img", tmp_path / "dst.img"
    subprocess.run(["qemu-img", "create", "-f", "raw", str(source_img), "16M"], check=True,
                   capture_output=True)
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 3M", str(source_img)],
                   check=True, capture_output=True)
    subprocess.run(["qemu-img", "create", "-f", "raw", str(dest_img), "16M"], check=True,
                   capture_output=True)
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            "<source file='{}'/><target dev='vda' bus='virtio'/></disk>")
    kernel, initrd = ensure_test_guest()
    log = tmp_path / "disk.serial"
    xml = domain_xml("disky", log, kernel, initrd, tick=True,
                     extra_devices=disk.format(source_img))
    src = pyvirt.open(a.uri("qemu:///system"))
    dst = pyvirt.open(b.uri("qemu:///system"))
    try:
        dom = src.createXML(xml)
        wait_until(lambda: len(ticks(log)) >= 2, 60, "the guest's counter")
        assert _error(lambda: dom.migrate3(dst, dict(LOOPBACK), pyvirt.VIR_MIGRATE_LIVE)) == (
            pyvirt.VIR_ERR_MIGRATE_UNSAFE,
            "Unsafe migration: Migration without shared storage is unsafe")
        there_xml = dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_MIGRATABLE).replace(
            str(source_img), str(dest_img))
        moved = dom.migrate3(dst, dict(LOOPBACK, destination_xml=there_xml),
                             pyvirt.VIR_MIGRATE_LIVE | pyvirt.VIR_MIGRATE_NON_SHARED_DISK)
        assert moved.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
        assert str(dest_img) in moved.XMLDesc()
        _moved_on(log, ticks(log))
        moved.destroy()
        same = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw",
                               str(source_img), str(dest_img)], capture_output=True,
                              text=True)
        assert same.returncode == 0, same.stdout + same.stderr
    finally:
        src.close()
        dst.close()
