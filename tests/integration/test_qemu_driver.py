"""The QEMU driver with real guests (TCG), through pyvirt's public API on
``qemu:///embed?root=DIR``: lifecycle and its events, state on disk and reconnection after the
driver process is killed with SIGKILL, save/restore and managed save, job serialisation."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import pyvirt
from integration.guest import (
    GUEST_APPEND,
    GUEST_MARKER,
    TICK_MARKER,
    embed_uri,
    ensure_test_guest,
)

QEMU = "/usr/bin/qemu-system-x86_64"
BOOT_TIMEOUT = 60.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
]

SRC = str(Path(__file__).resolve().parents[2] / "src")


def domain_xml(name: str, serial_log: Path, kernel: str, initrd: str, *,
               uuid: str | None = None, extra_devices: str = "", tick: bool = False) -> str:
    append = GUEST_APPEND + (" pyvirt.tick" if tick else "")
    uuid_el = f"<uuid>{uuid}</uuid>" if uuid else ""
    return textwrap.dedent(f"""\
        <domain type='qemu'>
          <name>{name}</name>
          {uuid_el}
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64' machine='pc'>hvm</type>
            <kernel>{kernel}</kernel>
            <initrd>{initrd}</initrd>
            <cmdline>{append}</cmdline>
          </os>
          <features><acpi/><apic/></features>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
            <serial type='file'>
              <source path='{serial_log}' append='on'/>
              <target port='0'/>
            </serial>
            <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
            <memballoon model='virtio'/>
            {extra_devices}
          </devices>
        </domain>
        """)


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def ticks(log: Path) -> list[int]:
    """The guest's counter values seen so far on its console (``tick=True`` guests)."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == TICK_MARKER and parts[1].isdigit():
            out.append(int(parts[1]))
    return out


def marker_count(log: Path) -> int:
    try:
        return log.read_text(errors="replace").count(GUEST_MARKER)
    except FileNotFoundError:
        return 0


class Events:
    """Lifecycle events of one connection, delivered by the default event loop running in
    a thread of this test process."""

    def __init__(self, conn: pyvirt.virConnect) -> None:
        self.items: list[tuple[str, int, int]] = []
        self.cond = threading.Condition()
        conn.domainEventRegisterAny(None, pyvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._cb, None)

    def _cb(self, conn, dom, event, detail, opaque) -> None:  # type: ignore[no-untyped-def]
        with self.cond:
            self.items.append((dom.name(), event, detail))
            self.cond.notify_all()

    def wait_for(self, item: tuple[str, int, int], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while item not in self.items:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no event {item}; saw {self.items}")
                self.cond.wait(left)


_loop_started = False


def _start_event_loop() -> None:
    global _loop_started
    if _loop_started:
        return
    pyvirt.virEventRegisterDefaultImpl()

    def run() -> None:
        while True:
            pyvirt.virEventRunDefaultImpl()

    threading.Thread(target=run, daemon=True).start()
    _loop_started = True


@pytest.fixture(scope="module")
def guest_files() -> tuple[str, str]:
    return ensure_test_guest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def conn(root: Path):  # type: ignore[no-untyped-def]
    _start_event_loop()
    c = pyvirt.open(embed_uri(root))
    yield c
    for dom in c.listAllDomains(pyvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        try:
            dom.destroy()
        except pyvirt.libvirtError:
            pass
    c.close()


def test_lifecycle_and_events(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    kernel, initrd = guest_files
    log = tmp_path / "serial.log"
    events = Events(conn)
    dom = conn.defineXML(domain_xml("g1", log, kernel, initrd))
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_DEFINED,
                     pyvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED))
    assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN]
    assert "machine='pc-i440fx-" in dom.XMLDesc()

    dom.create()
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_STARTED,
                     pyvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED))
    assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_BOOTED]
    assert dom.ID() >= 1 and dom.isActive()
    wait_until(lambda: marker_count(log) >= 1, BOOT_TIMEOUT, "the guest to boot")
    live = dom.XMLDesc()
    assert "<alias name=" in live
    port = int(live.split("<graphics type='vnc' port='", 1)[1].split("'", 1)[0])
    assert port >= 5900  # the autoport allocated, in the live definition
    assert conn.lookupByID(dom.ID()).name() == "g1"
    running = conn.listAllDomains(pyvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING)
    assert [d.name() for d in running] == ["g1"]

    dom.suspend()
    assert dom.state() == [pyvirt.VIR_DOMAIN_PAUSED, pyvirt.VIR_DOMAIN_PAUSED_USER]
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_SUSPENDED,
                     pyvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED))
    dom.resume()
    assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_UNPAUSED]
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_RESUMED,
                     pyvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED))

    # reboot: ACPI power button, then the driver resets the stopped guest (fake reboot)
    dom.reboot()
    wait_until(lambda: marker_count(log) >= 2, BOOT_TIMEOUT, "the guest to boot again")
    assert dom.isActive()

    # ACPI shutdown: the guest powers off; on_poweroff=destroy ends QEMU
    dom.shutdown()
    wait_until(lambda: not dom.isActive(), 30, "the guest to power off")
    assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_SHUTDOWN,
                     pyvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST))
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_STOPPED,
                     pyvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN))

    dom.create()
    dom.destroy()
    assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_DESTROYED]
    events.wait_for(("g1", pyvirt.VIR_DOMAIN_EVENT_STOPPED,
                     pyvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED))
    with pytest.raises(pyvirt.libvirtError) as exc:
        dom.destroy()
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_INVALID

    dom.undefine()
    assert conn.listAllDomains() == []


def test_unexpected_death_is_a_crash(conn, root: Path, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    kernel, initrd = guest_files
    events = Events(conn)
    dom = conn.createXML(domain_xml("g2", tmp_path / "s.log", kernel, initrd))
    assert dom.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
    status = root / "run" / "qemu" / "g2.xml"
    assert status.exists()
    pid = int(status.read_text().split("pid='", 1)[1].split("'", 1)[0])
    os.kill(pid, signal.SIGKILL)
    events.wait_for(("g2", pyvirt.VIR_DOMAIN_EVENT_STOPPED,
                     pyvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED))
    # a transient domain is gone once it stops
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.lookupByName("g2")
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_NO_DOMAIN
    assert not status.exists()


def test_start_failure_reports_qemu_error_and_changes_nothing(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    xml = domain_xml("bad", tmp_path / "s.log", "/nonexistent/vmlinuz", "/nonexistent/initrd")
    dom = conn.defineXML(xml)
    with pytest.raises(pyvirt.libvirtError) as exc:
        dom.create()
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_INTERNAL_ERROR
    assert "/nonexistent/vmlinuz" in str(exc.value)
    assert dom.state()[0] == pyvirt.VIR_DOMAIN_SHUTOFF
    assert not dom.isActive()


_DRIVER_SCRIPT = """
import sys, time
sys.path.insert(0, {src!r})
import pyvirt
conn = pyvirt.open({uri!r})
for name in {names!r}:
    conn.lookupByName(name).create()
print("started", flush=True)
time.sleep(600)
"""


def test_reconnect_after_driver_killed(root: Path, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    """The driver's process is killed with SIGKILL while guests run: a new driver instance
    lists the two that kept running as running and controls them; one that died meanwhile
    is shut off (crashed)."""
    kernel, initrd = guest_files
    uri = embed_uri(root)
    logs = {name: tmp_path / f"{name}.log" for name in ("keep1", "keep2", "dies")}
    conn = pyvirt.open(uri)
    for name, log in logs.items():
        conn.defineXML(domain_xml(name, log, kernel, initrd))
    conn.close()  # the last connection: this process's driver instance goes away

    script = _DRIVER_SCRIPT.format(src=SRC, uri=uri, names=list(logs))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait()
    pids = {}
    for name in logs:
        text = (root / "run" / "qemu" / f"{name}.xml").read_text()
        pids[name] = int(text.split("pid='", 1)[1].split("'", 1)[0])
    os.kill(pids["dies"], signal.SIGKILL)

    conn = pyvirt.open(uri)
    try:
        keepers = [conn.lookupByName(n) for n in ("keep1", "keep2")]
        running = conn.listAllDomains(pyvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING)
        assert sorted(d.name() for d in running) == ["keep1", "keep2"]
        dies = conn.lookupByName("dies")
        assert dies.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_CRASHED]
        for dom in keepers:
            assert dom.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
            assert dom.ID() >= 1
            dom.suspend()
            assert dom.state() == [pyvirt.VIR_DOMAIN_PAUSED, pyvirt.VIR_DOMAIN_PAUSED_USER]
        for dom in keepers:
            dom.destroy()
            assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF,
                                   pyvirt.VIR_DOMAIN_SHUTOFF_DESTROYED]
        for name in ("keep1", "keep2"):
            pid = pids[name]
            wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                       or b"qemu" not in Path(f"/proc/{pid}/cmdline").read_bytes(),
                       10, f"{name}'s QEMU to exit")
    finally:
        conn.close()


def test_save_restore_and_managed_save(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    kernel, initrd = guest_files
    log = tmp_path / "serial.log"
    events = Events(conn)
    dom = conn.defineXML(domain_xml("g3", log, kernel, initrd))
    dom.create()
    wait_until(lambda: marker_count(log) >= 1, BOOT_TIMEOUT, "the guest to boot")

    image = tmp_path / "g3.save"
    dom.save(str(image))
    assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_SAVED]
    events.wait_for(("g3", pyvirt.VIR_DOMAIN_EVENT_STOPPED, pyvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED))
    assert image.read_bytes()[:16] == b"LibvirtQemudSave"
    assert "<name>g3</name>" in conn.saveImageGetXMLDesc(str(image))

    conn.restore(str(image))
    assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_RESTORED]
    events.wait_for(("g3", pyvirt.VIR_DOMAIN_EVENT_STARTED,
                     pyvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED))

    dom.managedSave()
    assert dom.hasManagedSaveImage() == 1
    assert [d.name() for d in conn.listAllDomains(
        pyvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)] == ["g3"]
    dom.create()  # starts from the managed save image, which is then removed
    assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_RESTORED]
    assert dom.hasManagedSaveImage() == 0
    dom.destroy()


def test_counter_stops_when_paused_and_continues_after_restore(  # type: ignore[no-untyped-def]
        conn, tmp_path: Path, guest_files) -> None:
    kernel, initrd = guest_files
    log = tmp_path / "serial.log"
    dom = conn.createXML(domain_xml("tick", log, kernel, initrd, tick=True))
    wait_until(lambda: len(ticks(log)) >= 3, BOOT_TIMEOUT, "the guest's counter")

    dom.suspend()
    time.sleep(0.3)  # a tick already on its way out of the guest may still land
    frozen = ticks(log)
    time.sleep(1.5)
    assert ticks(log) == frozen, "the counter went on while the guest was paused"
    dom.resume()
    wait_until(lambda: len(ticks(log)) >= len(frozen) + 2, 10, "the counter to continue")

    image = tmp_path / "tick.save"
    dom.save(str(image))
    before = ticks(log)[-1]
    conn.restore(str(image))
    wait_until(lambda: ticks(log)[-1] > before, 10, "ticks after the restore")
    after = [n for n in ticks(log) if n > before]
    # continues from the saved count: the guest did not boot again
    assert before < after[0] <= before + 2, (before, after[:3])
    assert marker_count(log) == 1
    dom.destroy()


AGENT_CHANNEL = """<channel type='unix'>
              <target type='virtio' name='org.qemu.guest_agent.0'/>
            </channel>"""


def test_guest_agent_reboot_and_shutdown(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    kernel, initrd = guest_files
    log = tmp_path / "serial.log"
    dom = conn.defineXML(domain_xml("agent", log, kernel, initrd, extra_devices=AGENT_CHANNEL))
    dom.create()
    wait_until(lambda: marker_count(log) >= 1, BOOT_TIMEOUT, "the guest to boot")
    obj = conn._drv._dom(dom)
    wait_until(lambda: obj.agent_connected, 20, "the guest agent to open its port")
    assert "org.qemu.guest_agent.0" in dom.XMLDesc()

    dom.reboot(pyvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT)
    wait_until(lambda: marker_count(log) >= 2, BOOT_TIMEOUT, "the guest to boot again")
    assert dom.state()[0] == pyvirt.VIR_DOMAIN_RUNNING
    wait_until(lambda: obj.agent_connected, 20, "the agent after the reboot")

    dom.shutdown()  # no flags: the connected agent is used first, as libvirt does
    wait_until(lambda: not dom.isActive(), 30, "the guest to power off")
    assert dom.state() == [pyvirt.VIR_DOMAIN_SHUTOFF, pyvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    assert "powering off" not in log.read_text(errors="replace")  # not the ACPI button


def test_agent_mode_without_an_agent(conn, tmp_path: Path, guest_files) -> None:  # type: ignore[no-untyped-def]
    kernel, initrd = guest_files
    dom = conn.createXML(domain_xml("noagent", tmp_path / "s.log", kernel, initrd))
    for call in (lambda: dom.shutdownFlags(pyvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT),
                 lambda: dom.reboot(pyvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT)):
        with pytest.raises(pyvirt.libvirtError) as exc:
            call()
        assert exc.value.get_error_code() == pyvirt.VIR_ERR_ARGUMENT_UNSUPPORTED
        assert str(exc.value) == ("argument unsupported: QEMU guest agent is not "
                                  "configured")
    assert dom.isActive()
    dom.destroy()


def partitions_seen(log: Path) -> list[str]:
    """The block devices of the guest's latest tick line (``tick=True`` guests)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    for line in reversed(lines):
        parts = line.split()
        if len(parts) >= 2 and parts[0] == TICK_MARKER and parts[1].isdigit():
            return parts[2:]
    return []


def test_live_qcow2_disk_appears_in_guest_partitions(conn, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     guest_files) -> None:
    kernel, initrd = guest_files
    log = tmp_path / "serial.log"
    image = tmp_path / "data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "32M"], check=True)
    dom = conn.createXML(domain_xml("hp", log, kernel, initrd, tick=True))
    wait_until(lambda: len(ticks(log)) >= 2, BOOT_TIMEOUT, "the guest's counter")
    assert "vda" not in partitions_seen(log)
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{image}'/><target dev='vda' bus='virtio'/></disk>")
    dom.attachDeviceFlags(disk, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    wait_until(lambda: "vda" in partitions_seen(log), 20, "vda in the guest's /proc/partitions")
    dom.detachDeviceFlags(disk, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    wait_until(lambda: "vda" not in partitions_seen(log), 20, "vda to leave the guest")
    assert "data.qcow2" not in dom.XMLDesc()
    dom.destroy()


def test_jobs_serialise_one_domain_only(conn, tmp_path: Path, guest_files,  # type: ignore[no-untyped-def]
                                        monkeypatch) -> None:
    from pyvirt.drivers.qemu import domain as qemu_domain

    kernel, initrd = guest_files
    a = conn.createXML(domain_xml("ja", tmp_path / "a.log", kernel, initrd))
    b = conn.createXML(domain_xml("jb", tmp_path / "b.log", kernel, initrd))
    monkeypatch.setattr(qemu_domain, "JOB_WAIT_SECONDS", 0.5)
    obj = conn._drv._dom(a)
    obj.job.begin("virDomainSuspend")
    try:
        t0 = time.monotonic()
        with pytest.raises(pyvirt.libvirtError) as exc:
            a.suspend()
        assert exc.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_TIMEOUT
        assert "cannot acquire state change lock (held by monitor=virDomainSuspend)" in str(
            exc.value)
        assert time.monotonic() - t0 >= 0.5
        b.suspend()  # another domain is not held up
        b.resume()
    finally:
        obj.job.end()
    a.suspend()
    a.resume()


@pytest.fixture(autouse=True)
def _no_leftover_qemu(root: Path):  # type: ignore[no-untyped-def]
    yield
    # Guests that a failing test left behind: end them by the pid in their status file.
    run = root / "run" / "qemu"
    if run.is_dir():
        for status in run.glob("*.xml"):
            try:
                pid = int(status.read_text().split("pid='", 1)[1].split("'", 1)[0])
                os.kill(pid, signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError, OSError):
                pass
    shutil.rmtree(root, ignore_errors=True)
