"""The pure parts of the QEMU driver's hotplug (no QEMU): device parsing and matching,
the persistent-definition changes with libvirt's errors, PCI slots for a hotplugged device,
block-node bookkeeping, vCPU slot selection, the removal wait and the builder's JSON."""

from __future__ import annotations

import threading
import time

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt.conf.domain import DomainDef
from pyvirt.conf.domain.disks import Disk
from pyvirt.conf.domain.interfaces import Interface
from pyvirt.drivers.qemu import hotplug as hp
from pyvirt.drivers.qemu.addresses import assign_addresses, assign_aliases
from pyvirt.drivers.qemu.emulator import EmulatorCaps, MachineType

CAPS = EmulatorCaps(
    "/usr/bin/qemu-system-x86_64", "x86_64", 7_002_000,
    machines=[MachineType("pc-i440fx-7.2", "pc", True, 255),
              MachineType("pc-q35-7.2", "q35", False, 288)],
    devices={"cirrus-vga", "VGA", "piix3-usb-uhci", "qemu-xhci", "pcie-root-port",
             "pcie-pci-bridge", "pci-bridge", "virtio-blk-pci", "virtio-net-pci",
             "virtio-balloon-pci", "virtio-scsi-pci", "lsi53c895a", "e1000e", "ich9-ahci",
             "virtio-blk-pci-transitional", "virtio-net-pci-transitional"})


def live(devices: str = "", machine: str = "pc") -> DomainDef:
    defn = DomainDef.from_xml(f"""<domain type='qemu'><name>g</name><memory>262144</memory>
      <os><type arch='x86_64' machine='{machine}'>hvm</type></os>
      <devices>{devices}<memballoon model='virtio'/></devices></domain>""")
    assign_addresses(defn, CAPS)
    assign_aliases(defn)
    defn.id = 1
    return defn


def disk(target: str = "vdb", bus: str = "virtio", extra: str = "") -> Disk:
    dev, _ = hp.parse_device(f"<disk type='file' device='disk'><driver name='qemu' "
                             f"type='qcow2'/><source file='/img/{target}.qcow2'/>"
                             f"<target dev='{target}' bus='{bus}'/>{extra}</disk>",
                             inactive=True)
    assert isinstance(dev, Disk)
    return dev


def error(fn, *args) -> pyvirt.libvirtError:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as exc:
        fn(*args)
    return exc.value


# ---- parsing and matching --------------------------------------------------------------------


def test_parse_device_defaults_and_aliases() -> None:
    dev, generated = hp.parse_device("<disk type='file'><source file='/a'/><target dev='vdc'/>"
                                     "<alias name='virtio-disk7'/></disk>", inactive=True)
    assert isinstance(dev, Disk) and not generated
    assert dev.target_bus == "virtio"  # post-parse: the bus from the target name
    assert dev.info.alias is None  # only user aliases survive an inactive parse
    dev, _ = hp.parse_device("<disk type='file'><source file='/a'/><target dev='vdc'/>"
                             "<alias name='ua-mine'/></disk>", inactive=True)
    assert dev.info.alias == "ua-mine"
    net, generated = hp.parse_device("<interface type='user'/>", inactive=True)
    assert isinstance(net, Interface) and generated and net.mac.startswith("52:54:00:")
    assert hp.device_type_name(hp.parse_device("<console type='pty'/>", True)[0]) == "chr"
    err = error(hp.parse_device, "<bogus/>", True)
    assert err.get_error_code() == c.VIR_ERR_CONFIG_UNSUPPORTED
    assert "unknown device type 'bogus'" in str(err)


def test_find_net_by_mac_alias_and_errors() -> None:
    defn = live("<interface type='user'><mac address='52:54:00:00:00:01'/></interface>"
                "<interface type='user'><mac address='52:54:00:00:00:02'/></interface>")
    net, generated = hp.parse_device("<interface type='user'><mac address='52:54:00:00:00:02'/>"
                                     "</interface>", False, post=False)
    assert isinstance(net, Interface)
    assert hp.find_net(defn, net, generated) == 1
    by_alias, generated = hp.parse_device("<interface type='user'><alias name='net0'/>"
                                          "</interface>", False, post=False)
    assert isinstance(by_alias, Interface) and generated
    assert hp.find_net(defn, by_alias, generated) == 0
    anything, generated = hp.parse_device("<interface type='user'/>", False, post=False)
    assert isinstance(anything, Interface)
    err = error(hp.find_net, defn, anything, generated)
    assert err.get_error_code() == c.VIR_ERR_OPERATION_FAILED
    assert "multiple matching devices found" in str(err)
    missing, generated = hp.parse_device("<interface type='user'><mac address='52:54:00:00:00:09'"
                                         "/></interface>", False, post=False)
    assert isinstance(missing, Interface)
    err = error(hp.find_net, defn, missing, generated)
    assert err.get_error_code() == c.VIR_ERR_DEVICE_MISSING
    assert ("no device found at address '(<null>)' matching MAC address "
            "'52:54:00:00:00:09' and alias '(<null>)'") in str(err)


# ---- the persistent definition -----------------------------------------------------------------


def test_config_attach_detach_update() -> None:
    defn = DomainDef.from_xml("<domain type='qemu'><name>g</name><memory>1024</memory><os>"
                              "<type>hvm</type></os><devices/></domain>", inactive=True)
    hp.attach_config(defn, disk("vdb"))
    hp.attach_config(defn, disk("vda"))
    assert [d.target_dev for d in defn.devices.disks] == ["vda", "vdb"]  # by target name
    err = error(hp.attach_config, defn, disk("vdb"))
    assert err.get_error_code() == c.VIR_ERR_OPERATION_INVALID
    assert "target vdb already exists" in str(err)
    sound, _ = hp.parse_device("<sound model='ich6'/>", True)
    hp.attach_config(defn, sound)
    graphics, _ = hp.parse_device("<graphics type='vnc'/>", True)
    err = error(hp.attach_config, defn, graphics)
    assert err.get_error_code() == c.VIR_ERR_OPERATION_UNSUPPORTED
    assert "persistent attach of device 'graphics' is not supported" in str(err)

    newer = disk("vdb", extra="<serial>S1</serial>")
    hp.update_config(defn, newer, False)
    assert defn.devices.disks[1].serial == "S1"
    err = error(hp.update_config, defn, disk("vdq"), False)
    assert err.get_error_code() == c.VIR_ERR_INVALID_ARG
    assert "target vdq doesn't exist." in str(err)

    hp.detach_config(defn, disk("vdb"), False)
    assert [d.target_dev for d in defn.devices.disks] == ["vda"]
    err = error(hp.detach_config, defn, disk("vdb"), False)
    assert err.get_error_code() == c.VIR_ERR_DEVICE_MISSING
    assert "no target device vdb" in str(err)


def test_scsi_address_and_boot_order_checks() -> None:
    defn = live("<controller type='scsi' model='virtio-scsi'/>"
                "<disk type='file'><source file='/a'/><target dev='sda' bus='scsi'/></disk>")
    same = disk("sdb", "scsi").copy()
    same.info.address = defn.devices.disks[0].info.address
    err = error(hp.attach_config, defn, same)
    assert "Domain already contains a disk with that address" in str(err)
    booted = disk("vdc", extra="<boot order='1'/>")
    err = error(hp._check_boot_order, defn, booted)  # the definition has <os><boot dev>
    assert "per-device boot elements cannot be used together with os/boot" in str(err)
    defn.os.boot_devices = []
    hp._check_boot_order(defn, booted)  # nothing else boots by order
    defn.devices.disks[0].info.boot_order = 1
    err = error(hp._check_boot_order, defn, booted)
    assert "boot order 1 is already used by another device" in str(err)


# ---- addresses and the builder ---------------------------------------------------------------


def test_pci_address_for_a_hotplugged_device() -> None:
    defn = live("<disk type='file'><source file='/a'/><target dev='vda'/></disk>")
    taken = {(d.info.address.num("bus"), d.info.address.num("slot")) for d in defn.devices.all()
             if d.info.address is not None and d.info.address.type == "pci"}
    new = disk("vdb")
    hp.ensure_pci_address(hp.scratch_definition(defn, new), CAPS, new)
    addr = new.info.address
    assert addr is not None and addr.type == "pci"
    assert (addr.num("bus"), addr.num("slot")) not in taken and addr.num("bus") == 0
    assert new not in defn.devices.disks  # the live definition is left alone

    clash = disk("vdc")
    clash.info.address = defn.devices.disks[0].info.address
    err = error(hp.ensure_pci_address, hp.scratch_definition(defn, clash), CAPS, clash)
    assert "Attempted double use of PCI Address" in str(err)


def test_q35_hotplug_goes_to_a_free_root_port() -> None:
    # libvirt leaves one pcie-root-port free for hotplug; pcie-root itself takes none
    defn = live(machine="q35")
    ports = {x.index for x in defn.devices.controllers if x.model == "pcie-root-port"}
    used = {d.info.address.num("bus") for d in defn.devices.all()
            if d.info.address is not None and d.info.address.type == "pci"}
    (spare,) = ports - used
    new = disk("vdb")
    hp.ensure_pci_address(hp.scratch_definition(defn, new), CAPS, new)
    assert new.info.address is not None and new.info.address.num("bus") == spare
    defn.devices.insert_disk(new)
    another = disk("vdc")
    err = error(hp.ensure_pci_address, hp.scratch_definition(defn, another), CAPS, another)
    assert "No more available PCI slots" in str(err)


def test_builder_json_for_one_disk_and_nic() -> None:
    from pyvirt.drivers.qemu.command import LaunchContext
    from pyvirt.drivers.qemu.command_disks import disk_chain, disk_device_props, disk_source_args
    from pyvirt.drivers.qemu.command_net import host_net_props, nic_props
    from pyvirt.drivers.qemu.command_props import Cmd

    defn = live()
    new = disk("vdb")
    scratch = hp.scratch_definition(defn, new)
    hp.ensure_pci_address(scratch, CAPS, new)
    assign_aliases(scratch)
    cmd = Cmd(scratch, CAPS, LaunchContext("/run/mon.sock", "/run/dom"))
    chain = disk_chain(new)
    chain[0].ident = 7
    top = disk_source_args(cmd, new, chain)
    nodes = hp.take(cmd, "-blockdev")
    assert [n["node-name"] for n in nodes] == ["libvirt-7-storage", "libvirt-7-format"]
    assert nodes[1]["driver"] == "qcow2" and nodes[1]["file"] == "libvirt-7-storage"
    cmd.device(disk_device_props(cmd, new, top, 0))
    (device,) = hp.take(cmd, "-device")
    assert device["driver"] == "virtio-blk-pci" and device["id"] == "virtio-disk1"
    assert device["drive"] == "libvirt-7-format" and device["bus"] == "pci.0"
    assert cmd.args == []

    net, _ = hp.parse_device("<interface type='user'><model type='virtio'/></interface>", True)
    assert isinstance(net, Interface)
    scratch = hp.scratch_definition(defn, net)
    assign_aliases(scratch)
    cmd = Cmd(scratch, CAPS, LaunchContext("/run/mon.sock", "/run/dom"))
    assert host_net_props(cmd, net, 0) == {"type": "user", "id": "hostnet0"}
    cmd.device(nic_props(cmd, net, 0))
    (nic,) = hp.take(cmd, "-device")
    assert nic["netdev"] == "hostnet0" and nic["id"] == "net0" and nic["mac"] == net.mac


# ---- QEMU's block nodes ------------------------------------------------------------------------

GRAPH = {
    "nodes": [{"id": 1, "type": "block-backend", "name": "virtio-disk1"},
              {"id": 2, "type": "block-driver", "name": "libvirt-2-format"},
              {"id": 3, "type": "block-driver", "name": "libvirt-2-storage"},
              {"id": 4, "type": "block-driver", "name": "libvirt-3-format"},
              {"id": 5, "type": "block-driver", "name": "libvirt-3-storage"},
              {"id": 6, "type": "block-driver", "name": "libvirt-9-format"},
              {"id": 7, "type": "block-driver", "name": "libvirt-9-storage"}],
    "edges": [{"parent": 1, "child": 2, "name": "root"},
              {"parent": 2, "child": 3, "name": "file"},
              {"parent": 2, "child": 4, "name": "backing"},
              {"parent": 4, "child": 5, "name": "file"},
              {"parent": 6, "child": 7, "name": "file"}],
}


def test_block_nodes() -> None:
    assert hp.node_chain(GRAPH, "libvirt-2-format") == [
        "libvirt-2-format", "libvirt-2-storage", "libvirt-3-format", "libvirt-3-storage"]
    assert hp.node_chain(GRAPH, "nothing") == []
    assert hp.orphan_nodes(GRAPH) == ["libvirt-9-format", "libvirt-9-storage"]
    named = [{"node-name": n["name"]} for n in GRAPH["nodes"]] + \
        [{"node-name": "libvirt-pflash0-format"}]
    assert hp.next_node_index(named) == 10
    assert hp.next_node_index([]) == 1


# ---- vCPUs -------------------------------------------------------------------------------------


def slots(online: dict[int, str]) -> list[hp.CpuSlot]:
    """Four sockets as QEMU lists them (last first); ``online``: socket -> qom path."""
    raw = []
    for socket in (3, 2, 1, 0):
        slot = {"props": {"socket-id": socket, "core-id": 0, "thread-id": 0},
                "vcpus-count": 1, "type": "qemu64-x86_64-cpu"}
        if socket in online:
            slot["qom-path"] = online[socket]
        raw.append(slot)
    return hp.cpu_slots(raw)


def test_vcpu_selection() -> None:
    boot = {0: "/machine/unattached/device[0]"}
    entities = slots(boot)
    assert [s.first for s in entities] == [0, 1, 2, 3]
    chosen, enable = hp.select_vcpus(entities, 3)
    assert enable and [s.first for s in chosen] == [1, 2]
    chosen, enable = hp.select_vcpus(entities, 1)
    assert chosen == []
    added = slots({**boot, 1: "/machine/peripheral/vcpu1", 2: "/machine/peripheral/vcpu2"})
    assert added[2].alias == "vcpu2" and added[0].alias is None
    chosen, enable = hp.select_vcpus(added, 1)
    assert not enable and [s.alias for s in chosen] == ["vcpu2", "vcpu1"]
    err = error(hp.select_vcpus, slots({0: "/machine/unattached/device[0]",
                                        1: "/machine/unattached/device[1]"}), 1)
    assert err.get_error_code() == c.VIR_ERR_CONFIG_UNSUPPORTED
    assert "failed to find appropriate hotpluggable vcpus" in str(err)


# ---- the removal wait, the balloon period ------------------------------------------------------


def test_removal_wait_signal_timeout_and_poll() -> None:
    state = hp.HotplugState()
    state.mark("virtio-disk1")
    assert not state.signal("other")
    threading.Timer(0.05, state.signal, ("virtio-disk1",)).start()
    assert state.wait_removal(5)
    assert state.seen and state.alias is None

    state.mark("net0")
    started = time.monotonic()
    assert not state.wait_removal(0.1)
    assert time.monotonic() - started < 1
    assert state.alias is None  # a late event goes to whoever handles it then
    assert not state.signal("net0")

    calls = []
    state.mark("vcpu1")
    assert state.wait_removal(5, lambda: calls.append(1) or len(calls) > 2, poll=0.01)
    assert len(calls) == 3 and state.alias is None

    state.trays["ide0-1-0"] = False
    threading.Timer(0.05, state.tray_moved, ("ide0-1-0", True)).start()
    assert state.wait_tray_open("ide0-1-0", 5)


def test_stats_period() -> None:
    defn = live()
    balloon = hp._balloon(defn)
    hp.set_stats_period(balloon, 5)
    assert "<stats period='5'/>" in defn.to_xml()
    hp.set_stats_period(balloon, 0)
    assert "<stats" not in defn.to_xml()
    none = DomainDef.from_xml("<domain type='qemu'><name>g</name><memory>1024</memory><os>"
                              "<type>hvm</type></os><devices><memballoon model='none'/>"
                              "</devices></domain>")
    err = error(hp._balloon, none)
    assert err.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert "No memory balloon device configured" in str(err)
