"""Device hotplug and vCPU changes of the QEMU driver with a real guest (TCG), through
pyvirt's public API on ``qemu:///embed?root=DIR``; QEMU's own view (QMP query-block,
query-pci, query-cpus-fast) checked beside the live XML and the events."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import pyvirt
from integration.guest import ensure_test_guest
from integration.test_qemu_driver import (
    BOOT_TIMEOUT,
    QEMU,
    _start_event_loop,
    domain_xml,
    marker_count,
    wait_until,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(QEMU).exists(), reason="qemu-system-x86_64 is missing"),
]

CDROM = "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>" \
        "<source file='{iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>"
SCSI = "<controller type='scsi' index='0' model='virtio-scsi'/>"


class DeviceEvents:
    """DEVICE_ADDED / DEVICE_REMOVED events of one connection: ("added"|"removed", alias)."""

    def __init__(self, conn: pyvirt.virConnect) -> None:
        self.items: list[tuple[str, str]] = []
        self.cond = threading.Condition()
        for event_id, kind in ((pyvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, "added"),
                               (pyvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, "removed")):
            conn.domainEventRegisterAny(None, event_id, self._cb, kind)

    def _cb(self, conn, dom, alias, kind) -> None:  # type: ignore[no-untyped-def]
        with self.cond:
            self.items.append((kind, alias))
            self.cond.notify_all()

    def wait_for(self, item: tuple[str, str], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while item not in self.items:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no event {item}; saw {self.items}")
                self.cond.wait(left)


class Guest:
    def __init__(self, conn: pyvirt.virConnect, dom: pyvirt.virDomain, tmp: Path,
                 events: DeviceEvents) -> None:
        self.conn, self.dom, self.tmp, self.events = conn, dom, tmp, events

    def qmp(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        return self.conn._drv._dom(self.dom).monitor.execute(cmd, args)

    def live(self) -> ElementTree.Element:
        return ElementTree.fromstring(self.dom.XMLDesc())

    def device(self, tag: str, alias: str) -> ElementTree.Element | None:
        for dev in self.live().find("devices") or []:
            node = dev.find("alias")
            if dev.tag == tag and node is not None and node.get("name") == alias:
                return dev
        return None

    def pci_ids(self) -> dict[str, int]:
        return {d["qdev_id"]: d["slot"] for bus in self.qmp("query-pci")
                for d in bus["devices"] if d.get("qdev_id")}

    def blocks(self) -> dict[str, dict[str, Any]]:
        return {b["qdev"]: b for b in self.qmp("query-block")}


def _boot(conn: pyvirt.virConnect, name: str, tmp: Path, vcpus: str = "",
          extra: str = "") -> pyvirt.virDomain:
    kernel, initrd = ensure_test_guest()
    log = tmp / f"{name}-serial.log"
    xml = domain_xml(name, log, kernel, initrd, extra_devices=extra)
    # no VNC display: its port is picked by a bind probe, which races with other drivers
    # starting guests in parallel test processes
    xml = re.sub(r"<graphics [^>]*/>", "", xml)
    if vcpus:
        xml = xml.replace("<vcpu>1</vcpu>", vcpus)
    dom = conn.defineXML(xml)
    dom.create()
    try:
        wait_until(lambda: marker_count(log) >= 1, BOOT_TIMEOUT, f"{name} to boot")
    except BaseException:
        dom.destroy()
        raise
    return dom


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One running guest with an IDE cdrom and a virtio-scsi controller, shared by the
    tests that leave it as they found it."""
    _start_event_loop()
    tmp = tmp_path_factory.mktemp("hotplug")
    for name, fill in (("cda.iso", b"a"), ("cdb.iso", b"b")):
        (tmp / name).write_bytes(fill * 1048576)
    conn = pyvirt.open(f"qemu:///embed?root={tmp / 'root'}")
    events = DeviceEvents(conn)
    dom = _boot(conn, "hp", tmp, extra=CDROM.format(iso=tmp / "cda.iso") + SCSI)
    yield Guest(conn, dom, tmp, events)
    dom.destroy()
    dom.undefine()
    conn.close()


def _image(tmp: Path, name: str, fmt: str) -> Path:
    path = tmp / name
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), "16M"], check=True)
    return path


def _error(fn, *args) -> pyvirt.libvirtError:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as exc:
        fn(*args)
    return exc.value


def test_virtio_qcow2_disk_attach_detach(guest: Guest) -> None:
    img = _image(guest.tmp, "vdb.qcow2", "qcow2")
    xml = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
           f"<source file='{img}'/><target dev='vdb' bus='virtio'/></disk>")
    guest.dom.attachDevice(xml)

    disk = guest.device("disk", "virtio-disk1")
    assert disk is not None, guest.dom.XMLDesc()
    addr = disk.find("address")
    assert addr is not None and addr.get("type") == "pci"
    block = guest.blocks()["/machine/peripheral/virtio-disk1/virtio-backend"]
    assert block["inserted"]["file"] == str(img)
    assert block["inserted"]["drv"] == "qcow2"
    assert block["inserted"]["node-name"].startswith("libvirt-")
    assert guest.pci_ids()["virtio-disk1"] == int(addr.get("slot", ""), 16)
    guest.events.wait_for(("added", "virtio-disk1"))
    assert "vdb.qcow2" not in guest.dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE)

    err = _error(guest.dom.attachDevice, xml)
    assert err.get_error_code() == pyvirt.VIR_ERR_XML_ERROR
    assert f"target 'vdb' duplicated for disk sources '{img}' and '{img}'" in str(err)

    started = time.monotonic()
    guest.dom.detachDevice(xml)
    # QEMU's DEVICE_DELETED arrived within libvirt's 5 s: the removal is complete
    assert time.monotonic() - started < 5
    assert guest.device("disk", "virtio-disk1") is None
    assert "virtio-disk1" not in guest.pci_ids()
    assert not [b for b in guest.qmp("query-named-block-nodes", {"flat": True})
                if b["file"] == str(img)]
    guest.events.wait_for(("removed", "virtio-disk1"))

    err = _error(guest.dom.detachDevice, xml)
    assert err.get_error_code() == pyvirt.VIR_ERR_DEVICE_MISSING
    assert "disk vdb not found" in str(err)


def test_detach_pending_until_the_guest_lets_go(guest: Guest) -> None:
    """A paused guest cannot answer the unplug request: detach returns after libvirt's 5 s
    with the device still there; once the guest runs, QEMU's DEVICE_DELETED finishes the
    removal on its own."""
    img = _image(guest.tmp, "vdd.qcow2", "qcow2")
    xml = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
           f"<source file='{img}'/><target dev='vdd' bus='virtio'/></disk>")
    guest.dom.attachDevice(xml)
    alias = "virtio-disk3"
    assert guest.device("disk", alias) is not None
    guest.dom.suspend()
    try:
        started = time.monotonic()
        guest.dom.detachDevice(xml)
        assert 4.5 < time.monotonic() - started < 15
        assert guest.device("disk", alias) is not None  # removal pending
    finally:
        guest.dom.resume()
    wait_until(lambda: guest.device("disk", alias) is None, 20, "the pending removal")
    guest.events.wait_for(("removed", alias))
    assert not [b for b in guest.qmp("query-named-block-nodes", {"flat": True})
                if b["file"] == str(img)]


def test_raw_scsi_disk_on_virtio_scsi(guest: Guest) -> None:
    img = _image(guest.tmp, "sdb.raw", "raw")
    xml = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
           f"<source file='{img}'/><target dev='sdb' bus='scsi'/>"
           f"<address type='drive' controller='0' bus='0' target='0' unit='1'/></disk>")
    guest.dom.attachDeviceFlags(xml, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert guest.device("disk", "scsi0-0-0-1") is not None
    block = guest.blocks()["scsi0-0-0-1"]
    assert block["inserted"]["file"] == str(img) and block["inserted"]["drv"] == "raw"

    guest.dom.detachDeviceFlags(xml, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert guest.device("disk", "scsi0-0-0-1") is None
    assert "scsi0-0-0-1" not in guest.blocks()
    guest.events.wait_for(("removed", "scsi0-0-0-1"))

    # a qcow2 overlay with its backing image, on a SCSI controller that does not exist yet:
    # the controller is hot-plugged first (the model of the last one), each image gets its
    # storage and format node
    base = _image(guest.tmp, "base.qcow2", "qcow2")
    top = guest.tmp / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                    str(top)], check=True)
    chained = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
               f"<source file='{top}'/><backingStore type='file'><format type='qcow2'/>"
               f"<source file='{base}'/><backingStore/></backingStore>"
               f"<target dev='sdh' bus='scsi'/>"
               f"<address type='drive' controller='1' bus='0' target='0' unit='0'/></disk>")
    guest.dom.attachDevice(chained)
    cont = guest.device("controller", "scsi1")
    assert cont is not None and cont.get("model") == "virtio-scsi"
    assert "scsi1" in guest.pci_ids()
    nodes = {n["node-name"]: n["file"]
             for n in guest.qmp("query-named-block-nodes", {"flat": True})}
    assert sorted(f for f in nodes.values() if f in (str(top), str(base))) == \
        sorted([str(top)] * 2 + [str(base)] * 2)
    controller = "<controller type='scsi' index='1'/>"
    err = _error(guest.dom.detachDevice, controller)
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_FAILED
    assert "device cannot be detached: device is busy" in str(err)
    guest.dom.detachDevice(chained)
    assert not [f for f in (n["file"] for n in guest.qmp("query-named-block-nodes",
                                                         {"flat": True}))
                if f in (str(top), str(base))]
    guest.dom.detachDevice(controller)
    assert guest.device("controller", "scsi1") is None
    assert "scsi1" not in guest.pci_ids()
    guest.events.wait_for(("removed", "scsi1"))


def test_user_interface_attach_detach(guest: Guest) -> None:
    xml = ("<interface type='user'><mac address='52:54:00:aa:bb:01'/>"
           "<model type='virtio'/></interface>")
    guest.dom.attachDevice(xml)
    net = guest.device("interface", "net0")
    assert net is not None
    mac = net.find("mac")
    assert mac is not None and mac.get("address") == "52:54:00:aa:bb:01"
    assert "net0" in guest.pci_ids()
    guest.events.wait_for(("added", "net0"))

    # the link state is the one thing an update changes live (QMP set_link; QEMU 7.2 shows
    # it nowhere but to the guest)
    down = xml.replace("<model", "<link state='down'/><model")
    guest.dom.updateDeviceFlags(down, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    net = guest.device("interface", "net0")
    assert net is not None and net.find("link") is not None
    guest.dom.updateDeviceFlags(xml, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    net = guest.device("interface", "net0")
    assert net is not None and net.find("link") is None
    err = _error(guest.dom.updateDeviceFlags, xml.replace("virtio", "e1000"), 0)
    assert "cannot modify network device model from virtio to e1000" in str(err)

    guest.dom.detachDevice(xml)  # found by its MAC
    assert guest.device("interface", "net0") is None
    assert "net0" not in guest.pci_ids()
    guest.events.wait_for(("removed", "net0"))
    err = _error(guest.dom.detachDevice, xml)
    assert err.get_error_code() == pyvirt.VIR_ERR_DEVICE_MISSING
    assert "matching MAC address '52:54:00:aa:bb:01'" in str(err)

    # the backend went with it (netdev_del): the same names serve a new NIC; this time
    # removed by alias, which does not wait for the guest
    guest.dom.attachDevice(xml)
    assert guest.device("interface", "net0") is not None
    guest.dom.detachDeviceAlias("net0", pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    wait_until(lambda: guest.device("interface", "net0") is None, 10, "net0 to go")
    wait_until(lambda: guest.events.items.count(("removed", "net0")) == 2, 10,
               "the second DEVICE_REMOVED of net0")
    assert "net0" not in guest.pci_ids()

    # live and persistent at once: the generated MAC is the same in both definitions
    both = pyvirt.VIR_DOMAIN_AFFECT_LIVE | pyvirt.VIR_DOMAIN_AFFECT_CONFIG
    guest.dom.attachDeviceFlags("<interface type='user'><model type='virtio'/></interface>",
                                both)
    inactive = ElementTree.fromstring(guest.dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE))
    mac = inactive.find("devices/interface/mac")
    net = guest.device("interface", "net0")
    assert mac is not None and net is not None
    live_mac = net.find("mac")
    assert live_mac is not None and live_mac.get("address") == mac.get("address")
    guest.dom.detachDeviceFlags(f"<interface type='user'><mac address='{mac.get('address')}'/>"
                                "</interface>", both)
    assert guest.device("interface", "net0") is None
    assert "<interface" not in guest.dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE)


def test_cdrom_media_change(guest: Guest) -> None:
    cda, cdb = guest.tmp / "cda.iso", guest.tmp / "cdb.iso"
    guest.dom.updateDeviceFlags(CDROM.format(iso=cdb), pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    block = guest.blocks()["ide0-1-0"]
    assert block["inserted"]["file"] == str(cdb)
    assert not block["tray_open"]
    cdrom = guest.device("disk", "ide0-1-0")
    assert cdrom is not None
    source = cdrom.find("source")
    assert source is not None and source.get("file") == str(cdb)

    # eject: no source
    guest.dom.updateDeviceFlags("<disk type='file' device='cdrom'><target dev='hdc' "
                                "bus='ide'/><readonly/></disk>", 0)
    assert "inserted" not in guest.blocks()["ide0-1-0"]
    cdrom = guest.device("disk", "ide0-1-0")
    assert cdrom is not None and cdrom.find("source") is None

    # attach of a cdrom whose target exists is a media change too
    guest.dom.attachDevice(CDROM.format(iso=cda))
    assert guest.blocks()["ide0-1-0"]["inserted"]["file"] == str(cda)

    err = _error(guest.dom.updateDeviceFlags,
                 CDROM.format(iso=cdb).replace("bus='ide'", "bus='scsi'"), 0)
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED
    assert "cannot modify field 'bus' of the disk" in str(err)
    err = _error(guest.dom.detachDevice, CDROM.format(iso=cda))
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED
    assert "disk device type 'cdrom' cannot be detached" in str(err)


def test_refusals(guest: Guest) -> None:
    dom = guest.dom
    err = _error(dom.attachDevice, "<sound model='ich6'/>")
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED
    assert "live attach of device 'sound' is not supported" in str(err)
    err = _error(dom.attachDevice, "<disk type='file' device='disk'><source file='/x.img'/>"
                                   "<target dev='hdb' bus='ide'/></disk>")
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED
    assert "disk bus 'ide' cannot be hotplugged." in str(err)
    err = _error(dom.attachDeviceFlags, CDROM.format(iso="/x.iso"),
                 pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_INVALID
    assert "target hdc already exists" in str(err)
    vdz = "<disk type='file' device='disk'><source file='/x.img'/><target dev='vdz'/></disk>"
    err = _error(dom.detachDevice, vdz)
    assert err.get_error_code() == pyvirt.VIR_ERR_DEVICE_MISSING
    assert "disk vdz not found" in str(err)
    err = _error(dom.detachDeviceFlags, vdz, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
    assert err.get_error_code() == pyvirt.VIR_ERR_DEVICE_MISSING
    assert "no target device vdz" in str(err)
    err = _error(dom.detachDeviceAlias, "nothing", 0)
    assert err.get_error_code() == pyvirt.VIR_ERR_INTERNAL_ERROR
    assert "no device found with alias nothing" in str(err)
    err = _error(dom.updateDeviceFlags, vdz, 0)
    assert "disk 'vdz' not found" in str(err)
    err = _error(dom.attachDevice, vdz)
    assert err.get_error_code() == pyvirt.VIR_ERR_SYSTEM_ERROR
    assert "Cannot access storage file '/x.img'" in str(err)

    # QEMU refuses the frontend: the image nodes added before it are deleted again
    img = _image(guest.tmp, "refused.raw", "raw")
    err = _error(dom.attachDevice, f"<disk type='file' device='disk'><driver name='qemu' "
                                   f"type='raw' queues='0'/><source file='{img}'/>"
                                   f"<target dev='vdz' bus='virtio'/></disk>")
    assert "unable to execute QEMU command 'device_add'" in str(err)
    assert not [b for b in guest.qmp("query-named-block-nodes", {"flat": True})
                if b["file"] == str(img)]
    assert "vdz" not in dom.XMLDesc()
    assert guest.qmp("query-status")["running"]


def test_memory_stats_period(guest: Guest) -> None:
    path = {"path": "/machine/peripheral/balloon0", "property": "guest-stats-polling-interval"}
    guest.dom.setMemoryStatsPeriod(7, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert guest.qmp("qom-get", path) == 7
    assert "<stats period='7'/>" in guest.dom.XMLDesc()
    guest.dom.setMemoryStatsPeriod(0, 0)
    assert guest.qmp("qom-get", path) == 0
    assert "<stats " not in guest.dom.XMLDesc()
    err = _error(guest.dom.setMemoryStatsPeriod, -1, 0)
    assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_INVALID


def test_config_changes_of_a_shut_off_domain(tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    conn = pyvirt.open(f"qemu:///embed?root={tmp_path / 'root'}")
    try:
        dom = conn.defineXML(domain_xml("off", tmp_path / "s.log", kernel, initrd))
        disk = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                f"<source file='{tmp_path / 'd.qcow2'}'/><target dev='vdb' bus='virtio'/>"
                "</disk>")
        err = _error(dom.attachDeviceFlags, disk, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_INVALID
        assert "domain is not running" in str(err)

        dom.attachDeviceFlags(disk, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
        dom.attachDeviceFlags("<interface type='user'><model type='virtio'/></interface>", 0)
        defn = ElementTree.fromstring(dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE))
        assert [t.get("dev") for t in defn.iter("target") if t.get("dev")] == ["vdb"]
        mac = defn.find("devices/interface/mac")
        assert mac is not None and mac.get("address", "").startswith("52:54:00:")
        saved = tmp_path / "root" / "etc" / "qemu" / "off.xml"
        assert "vdb" in saved.read_text()
        err = _error(dom.attachDeviceFlags, disk, 0)
        assert "target vdb already exists" in str(err)

        dom.setVcpusFlags(3, pyvirt.VIR_DOMAIN_AFFECT_CONFIG | pyvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        dom.setVcpusFlags(2, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert "<vcpu placement='static' current='2'>3</vcpu>" in dom.XMLDesc()
        err = _error(dom.setVcpusFlags, 4, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert err.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG
        assert "vcpus for the persistent domain: 4 > 3" in str(err)
        dom.setMemoryStatsPeriod(10, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert "<stats period='10'/>" in dom.XMLDesc()

        dom.detachDeviceFlags(disk, pyvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert "vdb" not in dom.XMLDesc() and "vdb" not in saved.read_text()
        mac_xml = f"<interface type='user'><mac address='{mac.get('address')}'/></interface>"
        dom.detachDeviceFlags(mac_xml, 0)
        assert "<interface" not in dom.XMLDesc()
        dom.undefine()
    finally:
        conn.close()


def test_vcpus_live(tmp_path: Path) -> None:
    _start_event_loop()
    conn = pyvirt.open(f"qemu:///embed?root={tmp_path / 'root'}")
    dom = None
    try:
        dom = _boot(conn, "cpus", tmp_path, vcpus="<vcpu current='1'>2</vcpu>")
        monitor = conn._drv._dom(dom).monitor

        def online() -> int:
            return len(monitor.execute("query-cpus-fast"))

        def acknowledged() -> bool:
            """The guest's ACPI code has handled the new CPU (it takes the unplug request
            only after that; a loaded TCG host can take seconds)."""
            return any(s.get("device") == "vcpu1" and s.get("source") == 1
                       for s in monitor.execute("query-acpi-ospm-status"))

        assert online() == 1
        dom.setVcpus(2)
        assert online() == 2
        assert dom.vcpusFlags(pyvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
        assert "<vcpu placement='static'>2</vcpu>" in dom.XMLDesc()
        assert "current='1'" in dom.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE)

        err = _error(dom.setVcpus, 3)
        assert err.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG
        assert "vcpus for the live domain: 3 > 2" in str(err)
        err = _error(dom.setVcpus, 0)
        assert err.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG
        err = _error(dom.setVcpusFlags, 2, pyvirt.VIR_DOMAIN_AFFECT_LIVE
                     | pyvirt.VIR_DOMAIN_AFFECT_CONFIG | pyvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        assert err.get_error_code() == pyvirt.VIR_ERR_OPERATION_UNSUPPORTED

        wait_until(acknowledged, 30, "the guest to take the new vCPU")
        dom.setVcpusFlags(1, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert online() == 1
        assert dom.vcpusFlags(pyvirt.VIR_DOMAIN_AFFECT_LIVE) == 1
        assert "current='1'" in dom.XMLDesc()
        # QEMU 7.2 under TCG may crash on a later vCPU hotplug once one was unplugged
        # (a use-after-free in QEMU): this guest is done here.
    finally:
        if dom is not None and dom.isActive():
            dom.destroy()
        conn.close()


TAP_SCRIPT = """
import json, os, re, sys
sys.path[:0] = [{src!r}, {tests!r}]
import pyvirt
from integration.test_qemu_driver import domain_xml, marker_count, wait_until
from pathlib import Path

def links(master=None):
    cmd = "ip -j link show" + (f" master {{master}}" if master else "")
    return {{l["ifname"] for l in json.loads(os.popen(cmd).read() or "[]")}}

conn = pyvirt.open({uri!r})
log = Path({log!r})
xml = re.sub(r"<graphics [^>]*/>", "", domain_xml("tap", log, {kernel!r}, {initrd!r}))
dom = conn.createXML(xml, 0)
out = {{}}
try:
    wait_until(lambda: marker_count(log) >= 1, 60, "the guest to boot")
    iface = ("<interface type='bridge'><mac address='52:54:00:12:34:57'/>"
             "<source bridge='br0'/><model type='virtio'/></interface>")
    dom.attachDevice(iface)
    live = dom.XMLDesc()
    tap = live.split("<target dev='", 1)[1].split("'", 1)[0]
    out["tap"], out["on_bridge"] = tap, tap in links("br0")
    dom.detachDevice(iface)
    out["gone"] = tap not in links() and "<interface" not in dom.XMLDesc()
    try:
        dom.attachDevice("<interface type='network'><source network='default'/></interface>")
    except pyvirt.libvirtError as exc:
        out["network"] = [exc.get_error_code(), str(exc)]
    out["links_after"] = sorted(links())
finally:
    dom.destroy()
    conn.close()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                    reason="needs root and iproute2 for a network namespace")
def test_bridge_interface_on_a_tap_device(tmp_path: Path) -> None:
    """In a network namespace of its own: a bridge interface hot-plugged on a TAP device
    the driver opens and hands to QEMU with getfd; detach closes it (the TAP vanishes)."""
    kernel, initrd = ensure_test_guest()
    netns = f"pyvirt-hp-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "br0", "type", "bridge"],
                    ["ip", "link", "set", "br0", "up"]):
            subprocess.run(["ip", "netns", "exec", netns, *cmd], check=True)
        tests = str(Path(__file__).resolve().parents[1])
        script = TAP_SCRIPT.format(src=str(Path(tests).parent / "src"), tests=tests,
                                   uri=f"qemu:///embed?root={tmp_path / 'root'}",
                                   log=str(tmp_path / "serial.log"), kernel=kernel,
                                   initrd=initrd)
        proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script],
                              capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tap"].startswith("vnet") and out["on_bridge"]
    assert out["gone"]
    assert out["network"] == [pyvirt.VIR_ERR_NO_NETWORK,
                              "Network not found: no network with matching name 'default'"]
    assert out["links_after"] == ["br0", "lo"]
