"""The argv pyvirt builds is one the real QEMU accepts, and QEMU puts every device where the
live definition says: for representative pc and q35 guests (TCG, started paused), QMP answers
query-status, each PCI device's parent bus and devfn (qom-get parent_bus/addr) match the
address pyvirt assigned, and query-block shows the disks with the expected nodes."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import struct
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pyvirt.conf.domain import DomainDef
from pyvirt.drivers.qemu.addresses import assign_addresses, assign_aliases
from pyvirt.drivers.qemu.command import LaunchContext, build_command, build_env
from pyvirt.drivers.qemu.emulator import EmulatorCaps, MachineType

QEMU = "/usr/bin/qemu-system-x86_64"
QEMU_IMG = "/usr/bin/qemu-img"
TIMEOUT = 30.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason="qemu-system-x86_64 is missing"),
    pytest.mark.skipif(not os.access(QEMU_IMG, os.X_OK), reason="qemu-img is missing"),
]


# ---- capabilities --------------------------------------------------------------------------


async def _local_probe(sock_dir: str) -> EmulatorCaps:
    """Machines and QOM types over QMP (used when the driver's probe module is absent)."""
    sock = os.path.join(sock_dir, "probe.sock")
    proc = subprocess.Popen([QEMU, "-S", "-no-user-config", "-nodefaults", "-display", "none",
                             "-machine", "none", "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = await _connect(proc, sock)
        version = await client.execute("query-version")
        machines = await client.execute("query-machines")
        types = await client.execute("qom-list-types")
        await _quit(client)
        await _disconnect(client)
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    q = version["qemu"]
    return EmulatorCaps(
        QEMU, "x86_64", q["major"] * 1_000_000 + q["minor"] * 1_000 + q["micro"],
        machines=[MachineType(m["name"], m.get("alias"), bool(m.get("is-default")),
                              int(m.get("cpu-max", 1))) for m in machines],
        devices={t["name"] for t in types})


@pytest.fixture(scope="module")
def caps(tmp_path_factory: pytest.TempPathFactory) -> EmulatorCaps:
    cache = str(tmp_path_factory.mktemp("qemu-caps"))
    try:
        from pyvirt.drivers.qemu.capabilities import probe_emulator
    except ImportError:
        return asyncio.run(_local_probe(cache))
    return probe_emulator(QEMU, cache)


# ---- running QEMU --------------------------------------------------------------------------


async def _quit(client: Any) -> None:
    """QMP quit: QEMU may close the socket before its reply arrives."""
    from qemu.qmp import ExecInterruptedError

    try:
        await client.execute("quit")
    except (EOFError, ConnectionError, ExecInterruptedError):
        pass


async def _disconnect(client: Any) -> None:
    """Disconnect; after quit the reader may have seen QEMU close the socket (EOF)."""
    try:
        await client.disconnect()
    except (EOFError, ConnectionError):
        pass


async def _connect(proc: subprocess.Popen[bytes], sock: str) -> Any:
    from qemu.qmp import QMPClient

    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not os.path.exists(sock):
        if proc.poll() is not None:
            raise AssertionError(f"QEMU exited with status {proc.returncode}")
        if loop.time() > deadline:
            raise AssertionError("QEMU's monitor socket never appeared")
        await asyncio.sleep(0.05)
    client = QMPClient("pyvirt-test")
    await asyncio.wait_for(client.connect(sock), TIMEOUT)
    return client


class Started:
    """What QEMU reported about a guest started from pyvirt's argv."""

    def __init__(self, defn: DomainDef, argv: list[str]) -> None:
        self.defn = defn
        self.argv = argv
        self.status: dict[str, Any] = {}
        self.placement: dict[str, tuple[str, int]] = {}  # alias -> (parent bus, devfn)
        self.root: list[dict[str, Any]] = []  # query-pci's bus 0 devices
        self.blocks: list[dict[str, Any]] = []


async def _query(proc: subprocess.Popen[bytes], sock: str, result: Started) -> None:
    client = await _connect(proc, sock)
    try:
        result.status = await client.execute("query-status")
        for bus in await client.execute("query-pci"):
            result.root.extend(bus["devices"])
        for dev in result.defn.devices.all():
            addr = dev.info.address
            if addr is None or addr.type != "pci" or not dev.info.alias:
                continue
            path = f"/machine/peripheral/{dev.info.alias}"
            try:
                parent = await client.execute("qom-get", {"path": path,
                                                          "property": "parent_bus"})
            except Exception:  # built into the machine (ICH9 AHCI, PIIX IDE...)
                continue
            devfn = await client.execute("qom-get", {"path": path, "property": "addr"})
            result.placement[dev.info.alias] = (str(parent), int(devfn))
        result.blocks = await client.execute("query-block")
        await _quit(client)
    finally:
        await _disconnect(client)


def start(xml: str, caps: EmulatorCaps, run_dir: Path, pass_fds: tuple[int, ...] = (),
          **ctx_args: Any) -> Started:
    """Build the argv for ``xml``, run QEMU paused, ask it over QMP, quit it."""
    defn = DomainDef.from_xml(xml)
    assign_addresses(defn, caps)
    assign_aliases(defn)
    run_dir.mkdir(exist_ok=True)
    sock = str(run_dir / "monitor.sock")
    ctx = LaunchContext(sock, str(run_dir), start_paused=True, **ctx_args)
    argv = build_command(defn, caps, ctx)
    result = Started(defn, argv)
    log = open(run_dir / "qemu.log", "wb")
    proc = subprocess.Popen(argv, env=build_env(defn, ctx), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds)
    try:
        asyncio.run(asyncio.wait_for(_query(proc, sock, result), TIMEOUT * 2))
        proc.wait(TIMEOUT)
    except BaseException as exc:
        log.close()
        text = (run_dir / "qemu.log").read_text(errors="replace")
        raise AssertionError(f"{exc!r}\nargv: {argv}\nQEMU log:\n{text}") from exc
    finally:
        if proc.poll() is None:
            proc.kill()  # our child, by its PID
            proc.wait()
        log.close()
    assert proc.returncode == 0, (run_dir / "qemu.log").read_text(errors="replace")
    return result


def check_placement(result: Started) -> None:
    """Every PCI device QEMU created sits on the bus and devfn of its live address."""
    defn = result.defn
    checked = 0
    aliases = [d.info.alias for d in defn.devices.all()]
    for dev in defn.devices.all():
        addr = dev.info.address
        alias = dev.info.alias
        if addr is None or addr.type != "pci" or alias not in result.placement or \
                aliases.count(alias) > 1:  # USB2 companions share their EHCI's alias
            continue
        cont = defn.devices.find_controller("pci", addr.num("bus"))
        assert cont is not None and cont.info.alias
        parent, devfn = result.placement[alias]
        assert parent.rsplit("/", 1)[-1] == cont.info.alias, (alias, parent)
        assert devfn == addr.num("slot") << 3 | addr.num("function"), (alias, devfn)
        checked += 1
    assert checked, "no PCI device was checked"
    # the root bus as QEMU enumerates it agrees too
    root_ids = {d["qdev_id"]: (d["slot"], d["function"]) for d in result.root if d["qdev_id"]}
    for dev in defn.devices.all():
        addr = dev.info.address
        if addr is not None and addr.type == "pci" and addr.num("bus") == 0 and \
                dev.info.alias in root_ids and aliases.count(dev.info.alias) == 1:
            assert root_ids[dev.info.alias] == (addr.num("slot"), addr.num("function"))


def block_of(result: Started, alias: str) -> dict[str, Any]:
    for blk in result.blocks:
        qdev = blk.get("qdev", "")
        if qdev == alias or qdev == f"/machine/peripheral/{alias}/virtio-backend":
            return blk
    raise AssertionError(f"no block device for {alias}: {result.blocks}")


# ---- guests --------------------------------------------------------------------------------


def domain(devices: str, machine: str = "pc", extra: str = "", os_extra: str = "",
           ns: str = "") -> str:
    return textwrap.dedent(f"""\
        <domain type='qemu'{ns}>
          <name>accepts</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='{machine}'>hvm</type>{os_extra}</os>
          {extra}
          <devices>
            <emulator>{QEMU}</emulator>
            {devices}
          </devices>
        </domain>""")


def image(tmp_path: Path, name: str, fmt: str, size: str = "16M") -> str:
    path = str(tmp_path / name)
    subprocess.run([QEMU_IMG, "create", "-q", "-f", fmt, path, size], check=True)
    return path


def free_vnc_port() -> int:
    for port in range(5990, 6100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free VNC port")


def test_pc_minimal(caps: EmulatorCaps, tmp_path: Path) -> None:
    result = start(domain(""), caps, tmp_path / "run")
    assert result.status["status"] == "prelaunch" and not result.status["running"]
    check_placement(result)
    slots = {(d["slot"], d["function"]): d["class_info"].get("desc") for d in result.root}
    assert slots[(1, 1)] == "IDE controller" and (1, 2) in slots


def test_pc_disks(caps: EmulatorCaps, tmp_path: Path) -> None:
    raw = image(tmp_path, "a.raw", "raw")
    qcow = image(tmp_path, "b.qcow2", "qcow2")
    fd = image(tmp_path, "fd.img", "raw", "1440K")
    ro = image(tmp_path, "c.qcow2", "qcow2")
    xml = domain(f"""
        <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'
          discard='unmap'/><source file='{raw}'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'
          cache='writeback'/><source file='{qcow}'/><target dev='hda' bus='ide'/></disk>
        <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
        <disk type='file' device='floppy'><source file='{fd}'/><target dev='fda'/></disk>
        <disk type='file' device='disk'><source file='{ro}'/><target dev='vdb'
          bus='virtio'/><readonly/><driver name='qemu' type='qcow2'/></disk>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    vda = block_of(result, "virtio-disk0")["inserted"]
    assert vda["drv"] == "raw" and vda["file"] == raw and not vda["ro"]
    hda = block_of(result, "ide0-0-0")["inserted"]
    assert hda["drv"] == "qcow2" and hda["node-name"] == "libvirt-3-format"
    assert "inserted" not in block_of(result, "ide0-1-0")  # no medium
    assert block_of(result, "fdc0-0-0")["inserted"]["file"] == fd
    assert block_of(result, "virtio-disk1")["inserted"]["ro"]


def test_backing_chain(caps: EmulatorCaps, tmp_path: Path) -> None:
    base = image(tmp_path, "base.raw", "raw")
    top = str(tmp_path / "top.qcow2")
    subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, top],
                   check=True)
    xml = domain(f"""
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='{top}'/>
          <backingStore type='file'><format type='raw'/><source file='{base}'/>
          </backingStore>
          <target dev='vda' bus='virtio'/></disk>""")
    result = start(xml, caps, tmp_path / "run")
    inserted = block_of(result, "virtio-disk0")["inserted"]
    assert inserted["node-name"] == "libvirt-1-format"
    assert inserted["image"]["backing-image"]["filename"] == base
    assert inserted["backing_file_depth"] == 1


def test_pc_scsi_and_sata(caps: EmulatorCaps, tmp_path: Path) -> None:
    a = image(tmp_path, "a.qcow2", "qcow2")
    b = image(tmp_path, "b.raw", "raw")
    c = image(tmp_path, "c.raw", "raw")
    xml = domain(f"""
        <controller type='scsi' index='0' model='virtio-scsi'/>
        <controller type='scsi' index='1' model='lsilogic'/>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source
          file='{a}'/><target dev='sda' bus='scsi'/></disk>
        <disk type='file' device='cdrom'><source file='{b}'/><target dev='sdb' bus='scsi'/>
          <address type='drive' controller='1' bus='0' target='0' unit='1'/></disk>
        <disk type='file' device='disk'><source file='{c}'/><target dev='sdc'
          bus='sata'/></disk>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    assert block_of(result, "scsi0-0-0-0")["inserted"]["drv"] == "qcow2"
    assert block_of(result, "scsi1-0-1")["inserted"]["ro"]
    assert block_of(result, "sata0-0-2")["inserted"]["file"] == c
    assert "sata0" in result.placement


def test_pc_networks(caps: EmulatorCaps, tmp_path: Path) -> None:
    xml = domain("""
        <interface type='user'><mac address='52:54:00:12:34:01'/><model type='virtio'/>
        </interface>
        <interface type='user'><mac address='52:54:00:12:34:02'/><model type='e1000'/>
        </interface>
        <interface type='user'><mac address='52:54:00:12:34:03'/><model type='rtl8139'/>
        </interface>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    assert {"net0", "net1", "net2"} <= set(result.placement)


def _open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH", name.encode(), 0x0002 | 0x1000)  # IFF_TAP | IFF_NO_PI
    try:
        fcntl.ioctl(fd, 0x400454CA, ifr)  # TUNSETIFF
    except OSError:
        os.close(fd)
        raise
    return fd


def test_tap_interface_from_passed_fd(caps: EmulatorCaps, tmp_path: Path) -> None:
    try:
        tap = _open_tap(f"pvt{os.getpid() % 100000}")
    except OSError as exc:
        pytest.skip(f"cannot create a TAP device here: {exc}")
    try:
        xml = domain("<interface type='ethernet'><model type='virtio'/></interface>")
        result = start(xml, caps, tmp_path / "run", pass_fds=(tap,), tap_fds={0: [tap]})
        assert any('"type":"tap","fd":"' in a for a in result.argv)
        check_placement(result)
    finally:
        os.close(tap)


def test_pc_character_devices(caps: EmulatorCaps, tmp_path: Path) -> None:
    xml = domain(f"""
        <channel type='unix'><source mode='bind' path='{tmp_path}/fwd.sock'/>
          <target type='guestfwd' address='10.0.2.1' port='4600'/></channel>
        <serial type='pty'><target port='0'/></serial>
        <serial type='file'><source path='{tmp_path}/serial.log'/><target port='1'/>
        </serial>
        <serial type='unix'><source mode='bind' path='{tmp_path}/serial.sock'/>
          <target port='2'/></serial>
        <parallel type='null'/>
        <console type='pty'><target type='serial' port='0'/></console>
        <console type='pty'><target type='virtio' port='1'/></console>
        <channel type='unix'><source mode='bind'/><target type='virtio'
          name='org.qemu.guest_agent.0'/></channel>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    agent = f"socket,id=charchannel1,path={tmp_path}/run/org.qemu.guest_agent.0"
    assert any(a.startswith(agent) for a in result.argv)
    assert (tmp_path / "serial.log").exists()


def test_pc_graphics_video_sound(caps: EmulatorCaps, tmp_path: Path) -> None:
    port = free_vnc_port()
    xml = domain("""
        <graphics type='vnc' autoport='yes'/>
        <graphics type='vnc' socket='@SOCK@'/>
        <video><model type='cirrus'/></video>
        <video><model type='qxl'/></video>
        <input type='tablet' bus='usb'/><input type='mouse' bus='virtio'/>
        <sound model='ich6'/><sound model='ac97'/>
        <watchdog model='ib700' action='poweroff'/>""".replace(
        "@SOCK@", str(tmp_path / "vnc.sock")))
    result = start(xml, caps, tmp_path / "run", vnc_ports={0: port})
    check_placement(result)
    assert f"127.0.0.1:{port - 5900},audiodev=audio1" in result.argv
    assert {"video0", "video1", "sound0", "sound1", "input1"} <= set(result.placement)


def test_spice(caps: EmulatorCaps, tmp_path: Path) -> None:
    if "spice" not in getattr(caps, "flags", {"spice"}):
        pytest.skip("QEMU without SPICE")
    xml = domain(f"""
        <graphics type='spice'><listen type='socket' socket='{tmp_path}/spice.sock'/>
        </graphics>
        <video><model type='qxl'/></video>
        <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
        <redirdev bus='usb' type='spicevmc'/><redirdev bus='usb' type='spicevmc'/>
        <smartcard mode='passthrough' type='spicevmc'/>
        """)
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    assert "spicevmc,id=charredir1,name=usbredir" in result.argv


def test_video_models(caps: EmulatorCaps, tmp_path: Path) -> None:
    xml = domain("""
        <video><model type='virtio'/></video>
        <video><model type='virtio'/></video>
        <video><model type='qxl'/></video>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    drivers = [a for a in result.argv if '"id":"video' in a]
    assert '"driver":"virtio-vga"' in drivers[0] and '"driver":"virtio-gpu-pci"' in drivers[1]
    assert '"driver":"qxl"' in drivers[2]
    for model in ("bochs", "vga"):
        result = start(domain(f"<video><model type='{model}'/></video>", machine="q35"),
                       caps, tmp_path / model)
        check_placement(result)


def test_q35_desktop(caps: EmulatorCaps, tmp_path: Path) -> None:
    disk = image(tmp_path, "a.qcow2", "qcow2")
    xml = domain(f"""
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source
          file='{disk}'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
        <interface type='user'><model type='virtio'/></interface>
        <serial type='pty'/>
        <channel type='unix'><source mode='bind'/><target type='virtio'
          name='org.qemu.guest_agent.0'/></channel>
        <input type='tablet' bus='usb'/>
        <graphics type='vnc' socket='{tmp_path}/vnc.sock'/>
        <video><model type='qxl'/></video>
        <sound model='ich9'/>
        <watchdog model='i6300esb'/>
        <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>""",
                 machine="q35",
                 extra="""<features><acpi/><apic/></features>
                   <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/>
                   <timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/>
                   </clock><pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/>
                   </pm>""")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    # PCIe devices sit behind pcie-root-ports pyvirt added, one spare for hotplug
    ports = [x for x in result.defn.devices.controllers if x.model == "pcie-root-port"]
    assert len(ports) >= 6
    assert result.placement["virtio-disk0"][0].startswith("/machine/peripheral/pci.")
    assert block_of(result, "virtio-disk0")["inserted"]["drv"] == "qcow2"
    assert "inserted" not in block_of(result, "sata0-0-0")


def test_q35_legacy_pci_devices_behind_bridges(caps: EmulatorCaps, tmp_path: Path) -> None:
    xml = domain("""
        <interface type='user'><model type='rtl8139'/></interface>
        <interface type='user'><model type='e1000e'/></interface>
        <controller type='usb' index='0' model='ich9-ehci1'/>
        <controller type='usb' index='0' model='ich9-uhci1'><master startport='0'/>
        </controller>
        <controller type='usb' index='0' model='ich9-uhci2'><master startport='2'/>
        </controller>
        <controller type='usb' index='0' model='ich9-uhci3'><master startport='4'/>
        </controller>
        <input type='tablet' bus='usb'/>""", machine="q35")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    models = {x.model for x in result.defn.devices.controllers if x.type == "pci"}
    assert "pcie-to-pci-bridge" in models
    # the USB2 companions share 00:1d
    assert result.placement["usb"][1] >> 3 == 0x1D


def test_pc_many_devices_add_a_pci_bridge(caps: EmulatorCaps, tmp_path: Path) -> None:
    disks = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{image(tmp_path, f'd{i}.raw', 'raw', '1M')}'/>"
        f"<target dev='vd{chr(97 + i)}' bus='virtio'/></disk>" for i in range(26))
    nets = "".join("<interface type='user'><model type='virtio'/></interface>"
                   for _ in range(4))
    result = start(domain(disks + nets), caps, tmp_path / "run")
    check_placement(result)
    assert result.defn.devices.find_controller("pci", 1) is not None
    assert any(p.endswith("/pci.1") for p, _ in result.placement.values())


def test_cpu_memory_numa_iothreads(caps: EmulatorCaps, tmp_path: Path) -> None:
    disk = image(tmp_path, "a.raw", "raw")
    xml = domain(f"""
        <disk type='file' device='disk'><driver name='qemu' type='raw' iothread='1'/>
          <source file='{disk}'/><target dev='vda' bus='virtio'/></disk>""",
                 extra="""<iothreads>1</iothreads>
                   <cpu mode='custom' match='exact'><model fallback='forbid'>Nehalem</model>
                   <topology sockets='2' dies='1' cores='1' threads='1'/>
                   <numa><cell id='0' cpus='0' memory='64' unit='MiB'/>
                   <cell id='1' cpus='1' memory='64' unit='MiB'/></numa></cpu>""")
    xml = xml.replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    assert "node,nodeid=1,cpus=1,memdev=ram-node1" in result.argv


def test_boot_options_filesystem_and_namespace(caps: EmulatorCaps, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    disk = image(tmp_path, "a.raw", "raw")
    ns = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
    xml = domain(f"""
        <disk type='file' device='disk'><source file='{disk}'/><target dev='vda'
          bus='virtio'/><boot order='1'/></disk>
        <interface type='user'><model type='virtio'/><boot order='2'/></interface>
        <filesystem type='mount' accessmode='mapped'><source dir='{share}'/>
          <target dir='hostshare'/></filesystem>""",
                 os_extra="<bootmenu enable='yes' timeout='500'/><bios rebootTimeout='0'/>",
                 ns=ns)
    xml = xml.replace("</domain>", "<qemu:commandline><qemu:arg value='-device'/>"
                      "<qemu:arg value='pvpanic'/><qemu:env name='PYVIRT_TEST' value='1'/>"
                      "</qemu:commandline></domain>")
    result = start(xml, caps, tmp_path / "run")
    check_placement(result)
    assert "fs0" in result.placement
    assert "pvpanic" in result.argv


def test_tpm_emulator_with_swtpm(caps: EmulatorCaps, tmp_path: Path) -> None:
    swtpm = "/usr/bin/swtpm"
    if not os.access(swtpm, os.X_OK):
        pytest.skip("swtpm is missing")
    state = tmp_path / "tpm"
    state.mkdir()
    sock = tmp_path / "swtpm.sock"
    proc = subprocess.Popen([swtpm, "socket", "--tpm2", "--tpmstate", f"dir={state}",
                             "--ctrl", f"type=unixio,path={sock}", "--terminate"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not sock.exists():
            assert proc.poll() is None, "swtpm exited"
            assert time.monotonic() < deadline, "swtpm never created its socket"
            time.sleep(0.05)
        xml = domain("<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>",
                     machine="q35")
        result = start(xml, caps, tmp_path / "run", tpm_sockets={0: str(sock)})
        assert f"socket,id=chrtpm,path={sock}" in result.argv
        check_placement(result)
    finally:
        if proc.poll() is None:
            proc.kill()  # our child, by its PID
        proc.wait()


def test_uefi_pflash_firmware(caps: EmulatorCaps, tmp_path: Path) -> None:
    code, vars_template = "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"
    if not (os.path.exists(code) and os.path.exists(vars_template)):
        pytest.skip("OVMF is not installed")
    nvram = tmp_path / "nvram"
    nvram.mkdir()
    xml = domain("", machine="q35",
                 os_extra=f"<loader readonly='yes' type='pflash'>{code}</loader>"
                          f"<nvram template='{vars_template}'/>")
    defn = DomainDef.from_xml(xml)
    # the driver copies the template to the path the builder assigns
    (nvram / "accepts_VARS.fd").write_bytes(Path(vars_template).read_bytes())
    result = start(xml, caps, tmp_path / "run", nvram_dir=str(nvram))
    assert any(a.endswith(",pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format")
               for a in result.argv)
    assert f"<nvram template='{vars_template}'>{nvram}/accepts_VARS.fd</nvram>" in \
        result.defn.to_xml()
    assert defn.os.nvram is not None
