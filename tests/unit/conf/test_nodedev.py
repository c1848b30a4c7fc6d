"""Node device XML: libvirt's nodedevxml2xml corpus (schemadata in, xml2xmlout out, with the
test's computed storage fields), the test driver's default devices, create-mode parsing and
libvirt's errors."""

from __future__ import annotations

import os
import re

import pytest

from pyvirt import constants as c
from pyvirt.conf.nodedev import NodeDeviceDef, PCICap, SCSIHostCap, StorageCap, SystemCap
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

DATA = os.path.join(LIBVIRT_SRC, "tests")
HAVE_DATA = os.path.isfile(f"{DATA}/nodedevxml2xmltest.c")
NAMES = (re.findall(r'DO_TEST\("([^"]+)"\)', open(f"{DATA}/nodedevxml2xmltest.c").read())
         if HAVE_DATA else [])
INVALID = ["ccw_0_0_10000-invalid", "css_0_0_10000-invalid",
           "css_0_0_ffff_channel_dev_addr-invalid"]

# Two of test:///default's node devices, as virNodeDeviceGetXMLDesc prints them.
COMPUTER = """<device>
  <name>computer</name>
  <capability type='system'>
    <hardware>
      <vendor>Libvirt</vendor>
      <version>Test driver</version>
      <serial>123456</serial>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
    </hardware>
    <firmware>
      <vendor>Libvirt</vendor>
      <version>Test Driver</version>
      <release_date>01/22/2007</release_date>
    </firmware>
  </capability>
</device>
"""
SCSI_HOST2 = """<device>
  <name>scsi_host2</name>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>2</host>
    <unique_id>1</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000056785678</wwnn>
      <wwpn>1000000056785678</wwpn>
      <fabric_wwn>2000000087658765</fabric_wwn>
    </capability>
    <capability type='vport_ops'>
      <max_vports>0</max_vports>
      <vports>0</vports>
    </capability>
  </capability>
</device>
"""


@pytest.mark.skipif(not HAVE_DATA, reason="libvirt source tree not available")
@pytest.mark.parametrize("name", NAMES)
def test_corpus(name: str) -> None:
    dev = NodeDeviceDef.from_xml(open(f"{DATA}/nodedevschemadata/{name}.xml").read())
    for cap in dev.caps:  # what nodedevxml2xmltest.c computes before formatting
        if isinstance(cap, StorageCap):
            if not cap.removable:
                cap.logical_block_size, cap.num_blocks = 512, cap.size // 512
            elif cap.media_available:
                cap.logical_block_size, cap.num_blocks = 2048, cap.media_size // 2048
    assert dev.to_xml() == open(f"{DATA}/nodedevxml2xmlout/{name}.xml").read()


@pytest.mark.skipif(not HAVE_DATA, reason="libvirt source tree not available")
@pytest.mark.parametrize("name", INVALID)
def test_corpus_invalid(name: str) -> None:
    with pytest.raises(libvirtError) as err:
        NodeDeviceDef.from_xml(open(f"{DATA}/nodedevschemadata/{name}.xml").read())
    assert err.value.get_error_code() == c.VIR_ERR_INTERNAL_ERROR


def test_test_driver_devices() -> None:
    computer = NodeDeviceDef.from_xml(COMPUTER)
    assert isinstance(computer.cap("system"), SystemCap)
    assert computer.to_xml() == COMPUTER
    host = NodeDeviceDef.from_xml(SCSI_HOST2)
    assert host.parent == "computer" and host.to_xml() == SCSI_HOST2
    assert host.cap_names() == ["scsi_host", "fc_host", "vports"]
    assert host.cap_names(nested=False) == ["scsi_host"]


def test_build_programmatically() -> None:
    dev = NodeDeviceDef(name="scsi_host11", parent="scsi_host1",
                        caps=[SCSIHostCap(host=11, unique_id=10, fc_host=True,
                                          wwnn="2000000034563456", wwpn="1000000034563456",
                                          fabric_wwn="2000000043214321")])
    assert "<unique_id>10</unique_id>" in dev.to_xml()
    assert NodeDeviceDef.from_xml(dev.to_xml()).to_xml() == dev.to_xml()


VHBA = ("<device><parent>scsi_host1</parent><capability type='scsi_host'>"
        "<capability type='fc_host'/></capability></device>")


def test_create_mode_vhba() -> None:
    dev = NodeDeviceDef.from_xml(VHBA, create=True, virt_type="QEMU")
    cap = dev.cap("scsi_host")
    assert dev.name == "new device"
    assert isinstance(cap, SCSIHostCap) and cap.fc_host
    assert cap.wwnn and len(cap.wwnn) == 16 and cap.wwnn.startswith("5001a4a")
    assert cap.wwpn and cap.wwpn != cap.wwnn


def test_pci_fields() -> None:
    dev = NodeDeviceDef.from_xml(open(f"{DATA}/nodedevschemadata/pci_0000_02_10_7_sriov_vfs.xml")
                                 .read()) if HAVE_DATA else None
    if dev is None:
        pytest.skip("libvirt source tree not available")
    pci = dev.cap("pci")
    assert isinstance(pci, PCICap)
    assert str(pci.address) == "0000:02:10.7"
    assert pci.virt_functions and len(pci.virt_functions) == 4


def test_create_mode_without_wwn_oui() -> None:
    # The test driver has no WWN prefix: libvirt 9.0 fails exactly like this.
    with pytest.raises(libvirtError) as err:
        NodeDeviceDef.from_xml(VHBA, create=True, virt_type="test")
    assert str(err.value) == ("internal error: no WWNN supplied for 'new device', and "
                              "auto-generation failed")
    assert err.value.get_error_domain() == c.VIR_FROM_NODEDEV


@pytest.mark.parametrize("xml,code,message", [
    ("<device><capability type='system'/></device>", c.VIR_ERR_NO_NAME, None),
    ("<device><name>x</name></device>", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: no device capabilities for 'x'"),
    ("<device><name>x</name><capability type='bogus'/></device>", c.VIR_ERR_XML_ERROR,
     "XML error: Invalid value for attribute 'type' in element 'capability': 'bogus'."),
    ("<device><name>x</name><capability type='system'/></device>", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: no system UUID supplied for 'x'"),
    ("<device><name>x</name><capability type='scsi_host'/></device>", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: no SCSI host ID supplied for 'x'"),
    ("<device><name>x</name><parent wwnn='1'>p</parent><capability type='scsi_host'>"
     "<host>1</host></capability></device>", c.VIR_ERR_XML_ERROR,
     "XML error: when providing parent wwnn='1', the wwpn must also be provided"),
    ("<device><name>x</name><capability type='net'/></device>", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: no network interface supplied for 'x'"),
    ("<device><name>x</name><capability type='vdpa'/></device>", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: unknown capability type '17' for 'x'"),
])
def test_errors(xml: str, code: int, message: str | None) -> None:
    with pytest.raises(libvirtError) as err:
        NodeDeviceDef.from_xml(xml)
    if "Invalid value for attribute" in (message or ""):
        assert err.value.get_error_domain() == c.VIR_FROM_XML
    assert err.value.get_error_code() == code
    if message:
        assert str(err.value) == message
