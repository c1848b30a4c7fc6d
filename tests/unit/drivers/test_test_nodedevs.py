"""test:/// node devices, checked against libvirt 9.0's test driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import constants as c

VHBA = ("<device><parent>scsi_host1</parent><capability type='scsi_host'>"
        "<capability type='fc_host'><wwnn>2000000012341999</wwnn><wwpn>1000000012341999</wwpn>"
        "</capability></capability></device>")


@pytest.fixture
def conn() -> Iterator[pyvirt.virConnect]:
    pyvirt.registerErrorHandler(lambda *_: None, None)
    connection = pyvirt.open("test:///default")
    yield connection
    connection.close()


def fails(fn, code: int, domain: int, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as info:
        fn()
    err = info.value
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (code, domain, message)


def test_default_devices(conn: pyvirt.virConnect) -> None:
    assert sorted(conn.listDevices(None, 0)) == ["computer", "scsi_host1", "scsi_host11",
                                                 "scsi_host2"]
    assert conn.numOfDevices(None, 0) == 4
    assert sorted(conn.listDevices("fc_host", 0)) == ["scsi_host1", "scsi_host11", "scsi_host2"]
    assert sorted(conn.listDevices("vports", 0)) == ["scsi_host1", "scsi_host2"]
    assert conn.listDevices("bogus", 0) == []
    host1 = conn.nodeDeviceLookupByName("scsi_host1")
    assert (host1.listCaps(), host1.numOfCaps(), host1.parent()) == (["scsi_host"], 1,
                                                                     "computer")
    assert conn.nodeDeviceLookupByName("computer").parent() is None
    assert host1.XMLDesc() == (
        "<device>\n  <name>scsi_host1</name>\n  <parent>computer</parent>\n"
        "  <capability type='scsi_host'>\n    <host>1</host>\n    <unique_id>0</unique_id>\n"
        "    <capability type='fc_host'>\n      <wwnn>2000000012341234</wwnn>\n"
        "      <wwpn>1000000012341234</wwpn>\n      <fabric_wwn>2000000043214321</fabric_wwn>\n"
        "    </capability>\n    <capability type='vport_ops'>\n"
        "      <max_vports>0</max_vports>\n      <vports>0</vports>\n    </capability>\n"
        "  </capability>\n</device>\n")


def test_list_all_filters(conn: pyvirt.virConnect) -> None:
    def names(flags: int) -> list[str]:
        return sorted(d.name() for d in conn.listAllDevices(flags))

    assert names(c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS) == ["scsi_host1", "scsi_host2"]
    assert names(c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SYSTEM
                 | c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS) == ["computer", "scsi_host1",
                                                                   "scsi_host2"]
    assert names(c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV) == []
    fails(lambda: conn.listAllDevices(c.VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE),
          c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x80000000) in function testConnectListAllNodeDevices")


def test_errors(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.nodeDeviceLookupByName("nope"), c.VIR_ERR_NO_NODE_DEVICE,
          c.VIR_FROM_TEST, "Node device not found: no node device with matching name 'nope'")
    dev = conn.nodeDeviceLookupByName("scsi_host1")
    fails(lambda: dev.XMLDesc(2), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x2) in function testNodeDeviceGetXMLDesc")
    for call, api in ((dev.isActive, "virNodeDeviceIsActive"),
                      (dev.undefine, "virNodeDeviceUndefine"),
                      (lambda: conn.nodeDeviceDefineXML("<device/>"), "virNodeDeviceDefineXML"),
                      (lambda: conn.nodeDeviceLookupSCSIHostByWWN("a", "b"),
                       "virNodeDeviceLookupSCSIHostByWWN")):
        fails(call, c.VIR_ERR_NO_SUPPORT, c.VIR_FROM_NODEDEV,
              f"this function is not supported by the connection driver: {api}")


def test_vhba_create_destroy(conn: pyvirt.virConnect) -> None:
    vhba = conn.nodeDeviceCreateXML(VHBA)
    assert vhba.name() == "scsi_host12"
    assert vhba.XMLDesc() == (
        "<device>\n  <name>scsi_host12</name>\n  <parent>scsi_host1</parent>\n"
        "  <capability type='scsi_host'>\n    <host>11</host>\n    <unique_id>10</unique_id>\n"
        "    <capability type='fc_host'>\n      <wwnn>2000000012341999</wwnn>\n"
        "      <wwpn>1000000012341999</wwpn>\n      <fabric_wwn>2000000043214321</fabric_wwn>\n"
        "    </capability>\n  </capability>\n</device>\n")
    assert vhba.destroy() == 0
    assert "scsi_host12" not in conn.listDevices(None, 0)
    # libvirt's test driver reports success but keeps a device that is no FC HBA
    assert conn.nodeDeviceLookupByName("computer").destroy() == 0
    assert "computer" in conn.listDevices(None, 0)


def test_vhba_create_errors_change_nothing(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.nodeDeviceCreateXML(VHBA.replace("scsi_host1<", "nope<")),
          c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_NODEDEV,
          "internal error: Could not find parent device for 'new device'")
    fails(lambda: conn.nodeDeviceCreateXML(VHBA.replace("scsi_host1<", "scsi_host11<")),
          c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_NODEDEV,
          "internal error: Parent device scsi_host11 is not capable of vport operations")
    fails(lambda: conn.nodeDeviceCreateXML(
        "<device><parent>computer</parent><capability type='system'/></device>"),
        c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_NODEDEV,
        "internal error: no system UUID supplied for 'new device'")
    assert conn.numOfDevices(None, 0) == 4
