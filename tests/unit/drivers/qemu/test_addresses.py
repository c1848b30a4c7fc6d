"""Aliases, addresses and implicit devices of the QEMU driver: the live definition after
assignment against libvirt 9.0's qemuxml2xmloutdata (x86_64-latest: addresses, aliases are
not in those files), placement rules for pc and q35, and libvirt's conflict errors."""

from __future__ import annotations

import glob
import os

import pytest
from lxml import etree

import pyvirt
from libvirt_source import libvirt_tree
from pyvirt import constants as c
from pyvirt.conf.domain import DomainDef
from pyvirt.drivers.qemu.addresses import assign_addresses, assign_aliases
from pyvirt.drivers.qemu.emulator import EmulatorCaps, MachineType

DEVICES = set("""
VGA cirrus-vga qxl qxl-vga virtio-vga virtio-gpu-pci e1000 e1000e rtl8139 ich9-ahci
ich9-intel-hda intel-hda AC97 i6300esb ib700 lsi53c895a virtio-scsi-pci piix3-usb-uhci
qemu-xhci nec-usb-xhci ich9-usb-ehci1 ich9-usb-uhci1 pci-bridge pcie-root-port pcie-pci-bridge
i82801b11-bridge virtio-blk-pci virtio-blk-pci-transitional virtio-net-pci
virtio-net-pci-transitional virtio-balloon-pci virtio-rng-pci virtio-serial-pci usb-tablet
""".split())


def make_caps(devices: set[str] | None = None) -> EmulatorCaps:
    machines = [MachineType("pc-i440fx-7.2", "pc", True, 255),
                MachineType("pc-q35-7.2", "q35", False, 288)]
    return EmulatorCaps("/usr/bin/qemu-system-x86_64", "x86_64", 7_002_000, machines=machines,
                        devices=set(DEVICES if devices is None else devices))


CAPS = make_caps()


def domain_xml(devices: str = "", machine: str = "pc") -> str:
    return f"""<domain type='qemu'>
  <name>guest</name>
  <memory>262144</memory>
  <os><type arch='x86_64' machine='{machine}'>hvm</type></os>
  <devices>{devices}</devices>
</domain>"""


def live(xml: str, caps: EmulatorCaps = CAPS) -> DomainDef:
    defn = DomainDef.from_xml(xml)
    assign_addresses(defn, caps)
    assign_aliases(defn)
    defn.id = 1
    return defn


def pci(defn: DomainDef, alias: str) -> tuple[int, int, int, str | None]:
    dev = next(d for d in defn.devices.all() if d.info.alias == alias)
    addr = dev.info.address
    assert addr is not None and addr.type == "pci", alias
    return (addr.num("bus"), addr.num("slot"), addr.num("function"),
            addr.attrs.get("multifunction"))


def error_of(xml: str) -> pyvirt.libvirtError:
    with pytest.raises(pyvirt.libvirtError) as err:
        live(xml)
    return err.value


# ---- pc (i440FX) -----------------------------------------------------------------------------


def test_pc_defaults_and_slot_order() -> None:
    defn = live(domain_xml("""
      <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
      <interface type='user'><model type='virtio'/></interface>
      <sound model='ich6'/>
      <graphics type='vnc'/>
      <rng model='virtio'><backend model='random'/></rng>
      <watchdog model='i6300esb'/>"""))
    assert defn.os.machine == "pc-i440fx-7.2"
    assert pci(defn, "ide") == (0, 1, 1, None)
    assert pci(defn, "usb") == (0, 1, 2, None)
    assert pci(defn, "video0") == (0, 2, 0, None)  # cirrus, the implicit default video
    # then nets, sounds, controllers, disks, balloon, rng, watchdog in the next free slots
    assert pci(defn, "net0") == (0, 3, 0, None)
    assert pci(defn, "sound0") == (0, 4, 0, None)
    assert pci(defn, "virtio-disk0") == (0, 5, 0, None)
    assert pci(defn, "balloon0") == (0, 6, 0, None)
    assert pci(defn, "rng0") == (0, 7, 0, None)
    assert pci(defn, "watchdog0") == (0, 8, 0, None)
    kinds = [(x.type, x.model) for x in defn.devices.controllers]
    assert ("usb", "piix3-uhci") in kinds and ("pci", "pci-root") in kinds
    inputs = [(i.extra.attrs["type"], i.extra.attrs["bus"]) for i in defn.devices.inputs]
    assert inputs == [("mouse", "ps2"), ("keyboard", "ps2")]


def test_pc_bridge_added_when_slots_run_out() -> None:
    names = [f"vd{chr(97 + i)}" for i in range(26)] + ["vdaa", "vdab", "vdac", "vdad"]
    disks = "".join(f"<disk type='file' device='disk'><source file='/d{i}'/>"
                    f"<target dev='{name}' bus='virtio'/></disk>" for i, name in enumerate(names))
    defn = live(domain_xml(disks))
    bridge = defn.devices.find_controller("pci", 1)
    assert bridge is not None and bridge.model == "pci-bridge"
    # PCI controllers take the first free slot, then the disks fill slots 3-31
    assert pci(defn, "pci.1") == (0, 2, 0, None)
    assert pci(defn, "virtio-disk28") == (0, 31, 0, None)
    assert pci(defn, "virtio-disk29") == (1, 1, 0, None)
    assert pci(defn, "balloon0") == (1, 2, 0, None)
    assert "<model name='pci-bridge'/>" in defn.to_xml()
    assert "<target chassisNr='1'/>" in defn.to_xml()


def test_given_addresses_are_kept() -> None:
    defn = live(domain_xml("""
      <interface type='user'><model type='e1000'/>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x0'/>
      </interface>
      <interface type='user'><model type='e1000'/></interface>"""))
    assert pci(defn, "net0") == (0, 10, 0, None)
    assert pci(defn, "net1") == (0, 2, 0, None)


# ---- q35 -------------------------------------------------------------------------------------


def test_q35_root_ports_and_ich9_devices() -> None:
    defn = live(domain_xml("""
      <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='sdb' bus='sata'/></disk>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
      <sound model='ich9'/><video><model type='vga'/></video>""", machine="q35"))
    assert defn.os.machine == "pc-q35-7.2"
    assert pci(defn, "ide") == (0, 0x1F, 2, None)  # ICH9's AHCI
    assert pci(defn, "sound0") == (0, 0x1B, 0, None)
    assert pci(defn, "video0") == (0, 1, 0, None)
    ports = [x for x in defn.devices.controllers if x.model == "pcie-root-port"]
    # usb, virtio-serial, disk, balloon and a spare one for hotplug
    assert [x.index for x in ports] == [1, 2, 3, 4, 5]
    assert pci(defn, "pci.1") == (0, 2, 0, "on")
    assert pci(defn, "pci.5") == (0, 2, 4, None)
    assert pci(defn, "usb") == (1, 0, 0, None)
    assert pci(defn, "virtio-serial0") == (2, 0, 0, None)
    assert pci(defn, "virtio-disk0") == (3, 0, 0, None)
    assert pci(defn, "balloon0") == (4, 0, 0, None)
    xml = defn.to_xml()
    assert "<target chassis='1' port='0x10'/>" in xml
    chan = defn.devices.channels[0].info.address
    assert chan is not None and (chan.type, chan.attrs["port"]) == ("virtio-serial", "1")


def test_q35_legacy_pci_device_gets_a_pcie_to_pci_bridge() -> None:
    defn = live(domain_xml("<interface type='user'><model type='rtl8139'/></interface>",
                           machine="q35"))
    models = {x.index: x.model for x in defn.devices.controllers if x.type == "pci"}
    assert "pcie-to-pci-bridge" in models.values()
    bridge = next(i for i, m in models.items() if m == "pcie-to-pci-bridge")
    assert pci(defn, "net0")[0] == bridge
    # without pcie-pci-bridge in QEMU: dmi-to-pci-bridge + pci-bridge, at 00:1e.0
    defn = live(domain_xml("<interface type='user'><model type='rtl8139'/></interface>",
                           machine="q35"), make_caps(DEVICES - {"pcie-pci-bridge"}))
    models = {x.index: x.model for x in defn.devices.controllers if x.type == "pci"}
    assert models[1] == "dmi-to-pci-bridge" and models[2] == "pci-bridge"
    assert pci(defn, "pci.1") == (0, 0x1E, 0, None)
    assert pci(defn, "net0")[0] == 2


# ---- aliases ---------------------------------------------------------------------------------


def test_aliases() -> None:
    defn = live(domain_xml("""
      <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='disk'><source file='/b'/><target dev='hdb' bus='ide'/></disk>
      <disk type='file' device='disk'><source file='/c'/><target dev='sdc' bus='sata'/></disk>
      <disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk>
      <controller type='scsi' index='0' model='virtio-scsi'/>
      <interface type='user'/>
      <serial type='pty'/><console type='pty'/>
      <console type='pty'><target type='virtio'/></console>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
      <input type='tablet' bus='usb'/>
      <sound model='ac97'/><watchdog model='ib700'/>
      <rng model='virtio'><backend model='random'/></rng>
      <video><model type='vga'/></video>"""))
    aliases = {d.info.alias for d in defn.devices.all()}
    for name in ("virtio-disk0", "ide0-0-1", "sata0-0-2", "scsi0-0-0-0", "net0", "serial0",
                 "console1", "channel0", "video0", "input0", "input1", "input2",
                 "balloon0", "rng0", "watchdog0", "sound0", "usb", "pci.0", "ide",
                 "virtio-serial0", "scsi0", "sata0"):
        assert name in aliases, name
    xml = defn.to_xml()
    assert "<alias name='virtio-disk0'/>" in xml
    # the serial console prints as a view of serial0
    assert xml.count("<alias name='serial0'/>") == 2
    # an lsilogic controller's disks have controller-bus-unit aliases
    defn = live(domain_xml("<disk type='file' device='disk'><source file='/d'/>"
                           "<target dev='sdb' bus='scsi'/></disk>"))
    assert defn.devices.disks[0].info.alias == "scsi0-0-1"
    assert defn.devices.find_controller("scsi", 0).model == "lsilogic"  # type: ignore[union-attr]


def test_user_aliases_are_kept() -> None:
    defn = live(domain_xml("<interface type='user'><alias name='ua-mynic'/></interface>"))
    assert defn.devices.interfaces[0].info.alias == "ua-mynic"


# ---- conflicts -------------------------------------------------------------------------------


def test_pci_address_conflicts() -> None:
    addr = "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>"
    err = error_of(domain_xml(f"<interface type='user'>{addr}</interface>"
                              f"<interface type='user'>{addr}</interface>"))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert str(err) == "XML error: Attempted double use of PCI Address 0000:00:05.0"
    err = error_of(domain_xml("<interface type='user'><address type='pci' domain='0x0000' "
                              "bus='0x00' slot='0x20' function='0x0'/></interface>"))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert str(err) == "XML error: Invalid PCI address 0000:00:20.0. slot must be <= 31"
    # a device on a bus that does not exist yet gets the bridges it needs
    defn = live(domain_xml("<interface type='user'><address type='pci' domain='0x0000' "
                           "bus='0x02' slot='0x01' function='0x0'/></interface>"))
    assert [x.model for x in defn.devices.controllers if x.type == "pci"] == \
        ["pci-root", "pci-bridge", "pci-bridge"]
    err = error_of(domain_xml("<controller type='ide' index='0'><address type='pci' "
                              "domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>"
                              "</controller>"))
    assert err.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert "Primary IDE controller must have PCI address 0:0:1.1" in str(err)
    err = error_of(domain_xml("<controller type='pci' index='0' model='pcie-root'/>"))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert "must be model='pci-root' for this machine type" in str(err)


def test_virtio_serial_and_usb_conflicts() -> None:
    chan = ("<channel type='pty'><target type='virtio' name='a{n}'/><address "
            "type='virtio-serial' controller='0' bus='0' port='2'/></channel>")
    err = error_of(domain_xml(chan.format(n=1) + chan.format(n=2)))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert "virtio serial port 2 on controller 0 is already occupied" in str(err)
    tab = "<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>"
    err = error_of(domain_xml(tab + tab.replace("tablet", "mouse")))
    assert "Duplicate USB address bus 0 port 1" in str(err)
    err = error_of(domain_xml("<input type='tablet' bus='usb'/><controller type='usb' "
                              "model='none'/>"))
    assert err.get_error_code() == c.VIR_ERR_CONFIG_UNSUPPORTED
    assert "USB is disabled for this domain" in str(err)


def test_ide_on_q35_is_refused() -> None:
    err = error_of(domain_xml("<disk type='file' device='cdrom'><target dev='hdc' "
                              "bus='ide'/></disk>", machine="q35"))
    assert err.get_error_code() == c.VIR_ERR_CONFIG_UNSUPPORTED
    assert "IDE controllers are unsupported for this QEMU binary or machine type" in str(err)


# ---- libvirt's qemuxml2xmloutdata ------------------------------------------------------------

TREE = libvirt_tree()
OUT_DATA = os.path.join(TREE, "tests", "qemuxml2xmloutdata") if TREE else ""
IN_DATA = os.path.join(TREE, "tests", "qemuxml2argvdata") if TREE else ""
CORPUS_CAPS = make_caps(DEVICES | {"virtio-gpu-pci", "pcie-root-port", "vhost-vsock-pci"})


def _addresses(xml: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each device's <address> (USB ones left out: libvirt assigns those at start only)."""
    root = etree.fromstring(xml.encode())
    out = []
    for dev in root.find("devices"):  # type: ignore[union-attr]
        if not isinstance(dev.tag, str):
            continue
        addr = dev.find("address")
        if addr is None or addr.get("type") == "usb":
            continue
        key = str(dev.tag)
        if key == "controller":
            key += f"/{dev.get('type')}{dev.get('index')}/{dev.get('model')}"
        out.append((key, tuple(sorted(addr.attrib.items()))))
    return sorted(out)


def _corpus() -> list[str]:
    names = []
    for path in sorted(glob.glob(os.path.join(OUT_DATA, "*.x86_64-latest.xml"))):
        name = os.path.basename(path)[:-len(".x86_64-latest.xml")]
        if os.path.exists(os.path.join(IN_DATA, name + ".xml")):
            names.append(name)
    return names


@pytest.mark.skipif(TREE is None, reason="libvirt 9.0.0 source tree not available")
@pytest.mark.parametrize("name", _corpus() if TREE else [])
def test_libvirt_xml2xml_addresses(name: str) -> None:
    defn = live(open(os.path.join(IN_DATA, name + ".xml")).read(), CORPUS_CAPS)
    theirs = open(os.path.join(OUT_DATA, name + ".x86_64-latest.xml")).read()
    assert _addresses(defn.to_xml()) == _addresses(theirs)
