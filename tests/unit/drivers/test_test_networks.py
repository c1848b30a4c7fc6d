"""test:/// networks, checked against libvirt 9.0's test driver (codes and wording recorded
from the real binding)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import constants as c

DEFAULT_UUID = "dd8fe884-6c02-601e-7551-cca97df1c5df"


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


def test_default_network(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    assert net.UUIDString() == DEFAULT_UUID
    assert (net.isActive(), net.isPersistent(), net.autostart()) == (1, 1, 0)
    assert net.bridgeName() == "virbr0"
    assert net.XMLDesc() == (
        "<network>\n  <name>default</name>\n  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n"
        "  <forward mode='nat'/>\n  <bridge name='virbr0' stp='on' delay='0'/>\n"
        "  <ip address='192.168.122.1' netmask='255.255.255.0'>\n    <dhcp>\n"
        "      <range start='192.168.122.2' end='192.168.122.254'/>\n    </dhcp>\n  </ip>\n"
        "</network>\n")
    assert conn.networkLookupByUUIDString(DEFAULT_UUID).name() == "default"
    assert (conn.listNetworks(), conn.listDefinedNetworks()) == (["default"], [])
    assert (conn.numOfNetworks(), conn.numOfDefinedNetworks()) == (1, 0)


def test_lookup_errors(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.networkLookupByName("nope"), c.VIR_ERR_NO_NETWORK, c.VIR_FROM_TEST,
          "Network not found: no network with matching name 'nope'")
    fails(lambda: conn.networkLookupByUUIDString("dd8fe884-6c02-601e-7551-cca97df1c5d0"),
          c.VIR_ERR_NO_NETWORK, c.VIR_FROM_TEST,
          "Network not found: no network with matching uuid "
          "'dd8fe884-6c02-601e-7551-cca97df1c5d0'")


def test_duplicates_change_nothing(conn: pyvirt.virConnect) -> None:
    before = conn.networkLookupByName("default").XMLDesc()
    fails(lambda: conn.networkDefineXML("<network><name>default</name></network>"),
          c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_NETWORK,
          f"operation failed: network 'default' already exists with uuid {DEFAULT_UUID}")
    fails(lambda: conn.networkDefineXML(
        f"<network><name>x</name><uuid>{DEFAULT_UUID}</uuid></network>"),
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_NETWORK,
        f"operation failed: network 'default' is already defined with uuid {DEFAULT_UUID}")
    fails(lambda: conn.networkCreateXML(
        f"<network><name>default</name><uuid>{DEFAULT_UUID}</uuid></network>"),
        c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
        "Requested operation is not valid: network is already active as 'default'")
    fails(lambda: conn.networkDefineXML("<network></network>"), c.VIR_ERR_NO_NAME,
          c.VIR_FROM_NETWORK, "missing name information")
    assert conn.networkLookupByName("default").XMLDesc() == before
    assert conn.listDefinedNetworks() == []


def test_lifecycle(conn: pyvirt.virConnect) -> None:
    net = conn.networkDefineXML("<network><name>x</name></network>")
    assert (net.isActive(), net.isPersistent()) == (0, 1)
    assert conn.listDefinedNetworks() == ["x"]
    fails(net.bridgeName, c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_TEST,
          "internal error: network 'x' does not have a bridge name.")
    assert "<bridge stp='on' delay='0'/>" in net.XMLDesc()
    net.create()
    fails(net.create, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: Network 'x' is already running")
    fails(net.undefine, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: Network 'x' is still running")
    assert net.destroy() == 0
    assert net.destroy() == 0  # the test driver does not check
    assert (net.setAutostart(1), net.autostart()) == (0, 1)
    assert net.undefine() == 0
    fails(lambda: conn.networkLookupByName("x"), c.VIR_ERR_NO_NETWORK, c.VIR_FROM_TEST,
          "Network not found: no network with matching name 'x'")


def test_transient_network_goes_on_destroy(conn: pyvirt.virConnect) -> None:
    net = conn.networkCreateXMLFlags("<network><name>t</name></network>", 0)
    assert (net.isActive(), net.isPersistent()) == (1, 0)
    net.destroy()
    fails(lambda: conn.networkLookupByName("t"), c.VIR_ERR_NO_NETWORK, c.VIR_FROM_TEST,
          "Network not found: no network with matching name 't'")


def test_redefine_running_keeps_live_def(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    conn.networkDefineXML(net.XMLDesc().replace("virbr0", "virbr9"))
    assert net.bridgeName() == "virbr0"
    net.destroy()
    assert net.bridgeName() == "virbr0"  # libvirt's test driver never swaps in the new def
    assert (net.isActive(), net.isPersistent()) == (0, 1)


def test_list_all_filters(conn: pyvirt.virConnect) -> None:
    conn.networkDefineXML("<network><name>x</name></network>")
    conn.networkLookupByName("x").setAutostart(1)

    def names(flags: int) -> list[str]:
        return sorted(n.name() for n in conn.listAllNetworks(flags))

    assert names(0) == ["default", "x"]
    assert names(c.VIR_CONNECT_LIST_NETWORKS_ACTIVE) == ["default"]
    assert names(c.VIR_CONNECT_LIST_NETWORKS_INACTIVE) == ["x"]
    assert names(c.VIR_CONNECT_LIST_NETWORKS_PERSISTENT) == ["default", "x"]
    assert names(c.VIR_CONNECT_LIST_NETWORKS_TRANSIENT) == []
    assert names(c.VIR_CONNECT_LIST_NETWORKS_AUTOSTART) == ["x"]
    assert names(c.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART
                 | c.VIR_CONNECT_LIST_NETWORKS_ACTIVE) == ["default"]
    fails(lambda: conn.listAllNetworks(1 << 10), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x400) in function testConnectListAllNetworks")


def test_flag_checks(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    fails(lambda: net.XMLDesc(1), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x1) in function testNetworkGetXMLDesc")
    fails(lambda: conn.networkDefineXMLFlags("<network><name>y</name></network>", 2),
          c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x2) in function testNetworkDefineXMLFlags")
    fails(lambda: conn.networkCreateXMLFlags("<network><name>y</name></network>", 2),
          c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x2) in function testNetworkCreateXMLFlags")


def test_not_in_test_driver(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    fails(net.DHCPLeases, c.VIR_ERR_NO_SUPPORT, c.VIR_FROM_NETWORK,
          "this function is not supported by the connection driver: virNetworkGetDHCPLeases")
    fails(net.listAllPorts, c.VIR_ERR_NO_SUPPORT, c.VIR_FROM_NETWORK,
          "this function is not supported by the connection driver: virNetworkListAllPorts")


HOST = "<host mac='00:16:3e:77:e2:ed' name='foo.example.com' ip='192.168.122.10'/>"


def test_update_dhcp_host(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    live = c.VIR_NETWORK_UPDATE_AFFECT_LIVE | c.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    add, delete = c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, c.VIR_NETWORK_UPDATE_COMMAND_DELETE
    section = c.VIR_NETWORK_SECTION_IP_DHCP_HOST
    assert net.update(add, section, -1, HOST, live) == 0
    assert HOST in net.XMLDesc()
    fails(lambda: net.update(add, section, -1, HOST, live), c.VIR_ERR_OPERATION_INVALID,
          c.VIR_FROM_NETWORK,
          "Requested operation is not valid: there is an existing dhcp host entry in network "
          "'default' that matches \"<host mac='00:16:3e:77:e2:ed' name='foo.example.com' "
          "ip='192.168.122.10'/>\"")
    assert net.update(delete, section, -1, "<host ip='192.168.122.10'/>", live) == 0
    assert "<host " not in net.XMLDesc()
    fails(lambda: net.update(delete, section, -1, "<host ip='192.168.122.10'/>", live),
          c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
          "Requested operation is not valid: couldn't locate a matching dhcp host entry in "
          "network 'default'")


def test_update_errors_change_nothing(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    before = net.XMLDesc()
    add = c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_BRIDGE, -1, "<bridge/>", 0),
          c.VIR_ERR_OPERATION_UNSUPPORTED, c.VIR_FROM_NETWORK,
          "Operation not supported: can't update 'bridge' section of network 'default'")
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, "<range/>", 0),
          c.VIR_ERR_XML_ERROR, c.VIR_FROM_NETWORK,
          "XML error: unexpected element <range>, expecting <host>, while updating network "
          "'default'")
    fails(lambda: net.update(c.VIR_NETWORK_UPDATE_COMMAND_MODIFY,
                             c.VIR_NETWORK_SECTION_IP_DHCP_RANGE, -1,
                             "<range start='192.168.122.2' end='192.168.122.9'/>", 0),
          c.VIR_ERR_OPERATION_UNSUPPORTED, c.VIR_FROM_NETWORK,
          "Operation not supported: dhcp ranges cannot be modified, only added or deleted")
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_IP_DHCP_HOST, 3, HOST, 0),
          c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
          "Requested operation is not valid: couldn't update dhcp host entry - no <ip> "
          "element found at index 3 in network 'default'")
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, HOST, 4),
          c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x4) in function testNetworkUpdate")
    assert net.XMLDesc() == before


def test_update_config_of_inactive_and_transient(conn: pyvirt.virConnect) -> None:
    net = conn.networkDefineXML(
        "<network><name>x</name><ip address='10.0.0.1' prefix='24'/></network>")
    fails(lambda: net.update(c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                             c.VIR_NETWORK_SECTION_DNS_TXT, -1,
                             "<txt name='a' value='b'/>", c.VIR_NETWORK_UPDATE_AFFECT_LIVE),
          c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
          "Requested operation is not valid: network is not running")
    net.update(c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, c.VIR_NETWORK_SECTION_DNS_TXT, -1,
               "<txt name='a' value='b'/>", 0)
    assert "<txt name='a' value='b'/>" in net.XMLDesc()
    trans = conn.networkCreateXML("<network><name>t</name></network>")
    fails(lambda: trans.update(c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                               c.VIR_NETWORK_SECTION_PORTGROUP, -1, "<portgroup name='p'/>",
                               c.VIR_NETWORK_UPDATE_AFFECT_CONFIG),
          c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
          "Requested operation is not valid: cannot change persistent config of a transient "
          "network")


def test_update_other_sections(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    add, delete = c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, c.VIR_NETWORK_UPDATE_COMMAND_DELETE
    net.update(add, c.VIR_NETWORK_SECTION_PORTGROUP, -1, "<portgroup name='p' default='yes'/>", 0)
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_PORTGROUP, -1,
                             "<portgroup name='q' default='yes'/>", 0),
          c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_NETWORK,
          "Requested operation is not valid: a different portgroup entry in network 'default' "
          "is already set as the default. Only one default is allowed.")
    net.update(add, c.VIR_NETWORK_SECTION_DNS_HOST, -1,
               "<host ip='192.168.122.5'><hostname>h1</hostname></host>", 0)
    net.update(add, c.VIR_NETWORK_SECTION_FORWARD_INTERFACE, -1, "<interface dev='eth9'/>", 0)
    xml = net.XMLDesc()
    assert "<portgroup name='p' default='yes'>" in xml
    assert "<interface dev='eth9'/>" in xml
    assert "<hostname>h1</hostname>" in xml
    net.update(delete, c.VIR_NETWORK_SECTION_DNS_HOST, -1,
               "<host><hostname>h1</hostname></host>", 0)
    net.update(delete, c.VIR_NETWORK_SECTION_FORWARD_INTERFACE, -1, "<interface dev='eth9'/>", 0)
    net.update(delete, c.VIR_NETWORK_SECTION_PORTGROUP, -1, "<portgroup name='p'/>", 0)
    assert "h1" not in net.XMLDesc() and "eth9" not in net.XMLDesc()
    fails(lambda: net.update(add, c.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, "<host", 0),
          c.VIR_ERR_XML_DETAIL, c.VIR_FROM_NETWORK,
          "network_update_xml:1: Couldn't find end of Start Tag host line 1\n<host\n-----^")
