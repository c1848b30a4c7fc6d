"""test:/// host interfaces, checked against libvirt 9.0's test driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import constants as c

BRIDGE = ("<interface type='bridge' name='br0'><bridge><interface type='ethernet' name='eth0'>"
          "<mac address='00:11:22:33:44:55'/></interface></bridge></interface>")


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


def test_default_interface(conn: pyvirt.virConnect) -> None:
    eth1 = conn.interfaceLookupByName("eth1")
    assert eth1.MACString() == "aa:bb:cc:dd:ee:ff"
    assert eth1.isActive() == 1
    assert eth1.XMLDesc() == (
        "<interface type='ethernet' name='eth1'>\n  <start mode='onboot'/>\n"
        "  <mtu size='1492'/>\n  <protocol family='ipv4'>\n"
        "    <ip address='192.168.0.5' prefix='24'/>\n    <route gateway='192.168.0.1'/>\n"
        "  </protocol>\n  <mac address='aa:bb:cc:dd:ee:ff'/>\n</interface>\n")
    by_mac = conn.interfaceLookupByMACString("AA:BB:CC:DD:EE:FF")
    assert (by_mac.name(), by_mac.MACString()) == ("eth1", "AA:BB:CC:DD:EE:FF")
    assert (conn.listInterfaces(), conn.listDefinedInterfaces()) == (["eth1"], [])
    assert (conn.numOfInterfaces(), conn.numOfDefinedInterfaces()) == (1, 0)


def test_lookup_errors(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.interfaceLookupByName("nope"), c.VIR_ERR_NO_INTERFACE, c.VIR_FROM_TEST,
          "Interface not found: no interface with matching name 'nope'")
    fails(lambda: conn.interfaceLookupByMACString("00:00:00:00:00:01"), c.VIR_ERR_NO_INTERFACE,
          c.VIR_FROM_TEST, "Interface not found: no interface with matching mac "
          "'00:00:00:00:00:01'")
    for name in ("e6", "e7"):
        conn.interfaceDefineXML(f"<interface type='ethernet' name='{name}'>"
                                "<mac address='00:11:22:33:44:66'/></interface>")
    fails(lambda: conn.interfaceLookupByMACString("00:11:22:33:44:66"),
          c.VIR_ERR_MULTIPLE_INTERFACES, c.VIR_FROM_TEST, "multiple matching interfaces found")


def test_lifecycle(conn: pyvirt.virConnect) -> None:
    br0 = conn.interfaceDefineXML(BRIDGE)
    assert (br0.name(), br0.MACString(), br0.isActive()) == ("br0", "", 0)
    assert conn.interfaceLookupByMACString("00:11:22:33:44:55").name() == "br0"
    fails(br0.destroy, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid")
    assert br0.create() == 0
    fails(br0.create, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid")
    assert sorted(i.name() for i in conn.listAllInterfaces(
        c.VIR_CONNECT_LIST_INTERFACES_ACTIVE)) == ["br0", "eth1"]
    assert br0.undefine() == 0  # even while active, as libvirt's test driver
    fails(br0.undefine, c.VIR_ERR_NO_INTERFACE, c.VIR_FROM_TEST,
          "Interface not found: no interface with matching name 'br0'")


def test_redefine_keeps_state(conn: pyvirt.virConnect) -> None:
    eth1 = conn.interfaceDefineXML(
        "<interface type='ethernet' name='eth1'><mac address='aa:bb:cc:dd:ee:00'/></interface>")
    assert eth1.MACString() == "aa:bb:cc:dd:ee:00"
    assert eth1.isActive() == 1


def test_transactions(conn: pyvirt.virConnect) -> None:
    fails(conn.changeCommit, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: no transaction running, nothing to be committed.")
    fails(conn.changeRollback, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: no transaction running, nothing to rollback.")
    assert conn.changeBegin() == 0
    fails(conn.changeBegin, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: there is another transaction running.")
    conn.interfaceDefineXML(BRIDGE)
    assert conn.changeRollback() == 0
    fails(lambda: conn.interfaceLookupByName("br0"), c.VIR_ERR_NO_INTERFACE, c.VIR_FROM_TEST,
          "Interface not found: no interface with matching name 'br0'")
    # libvirt's rollback restores definitions only: everything comes back inactive
    assert conn.interfaceLookupByName("eth1").isActive() == 0
    conn.changeBegin()
    conn.interfaceDefineXML(BRIDGE)
    assert conn.changeCommit() == 0
    assert conn.interfaceLookupByName("br0").name() == "br0"


def test_bad_input_changes_nothing(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.interfaceDefineXML("<interface type='ethernet' name='e5'/>", 2),
          c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x2) in function testInterfaceDefineXML")
    with pytest.raises(pyvirt.libvirtError) as info:
        conn.interfaceDefineXML("<interface/>")
    assert info.value.get_error_code() == c.VIR_ERR_XML_ERROR
    fails(lambda: conn.listAllInterfaces(4), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x4) in function testConnectListAllInterfaces")
    fails(lambda: conn.interfaceLookupByName("eth1").XMLDesc(1), c.VIR_ERR_INVALID_ARG,
          c.VIR_FROM_TEST, "unsupported flags (0x1) in function testInterfaceGetXMLDesc")
    assert conn.listInterfaces() == ["eth1"] and conn.listDefinedInterfaces() == []
