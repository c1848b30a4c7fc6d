"""The network driver's definitions, without starting anything (no root, no host network
changes): define/undefine with files on disk, bridge name and MAC assignment, clash rules,
autostart links, list filters, events, config updates, a second driver instance reading the
same directories, and libvirt's errors for operations on inactive networks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pyvirt
from pyvirt.api.connect import virConnect
from pyvirt.drivers.network.driver import NetworkDriver
from pyvirt.drivers.network.paths import NetworkPaths
from pyvirt.errors import libvirtError

NAT = ("<network><name>{name}</name><forward mode='nat'/>"
       "<ip address='{net}.1' netmask='255.255.255.0'>"
       "<dhcp><range start='{net}.2' end='{net}.99'/></dhcp></ip></network>")


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    paths = NetworkPaths.for_mode("embed", str(tmp_path))
    driver = NetworkDriver(paths, define_default=False)
    events: list[tuple[str, int]] = []
    driver.events.add_listener(lambda ev: events.append((ev.name, ev.event)))
    conn = virConnect("qemu:///embed", driver, False)
    yield conn, driver, paths, events


def _fails(fn, code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(libvirtError) as info:
        fn()
    assert (info.value.get_error_code(), str(info.value)) == (code, message)


def test_define_assigns_bridge_and_mac_and_writes_config(env) -> None:  # type: ignore[no-untyped-def]
    conn, _driver, paths, events = env
    a = conn.networkDefineXML(NAT.format(name="a", net="10.90.1"))
    b = conn.networkDefineXML(NAT.format(name="b", net="10.90.2"))
    assert (a.isActive(), a.isPersistent(), a.bridgeName(), b.bridgeName()) == (
        0, 1, "virbr0", "virbr1")
    xml = a.XMLDesc(pyvirt.VIR_NETWORK_XML_INACTIVE)
    assert "<mac address='52:54:00:" in xml
    assert Path(paths.config_file("a")).read_text() == xml
    assert events == [("a", pyvirt.VIR_NETWORK_EVENT_DEFINED),
                      ("b", pyvirt.VIR_NETWORK_EVENT_DEFINED)]
    # redefining keeps the assigned bridge and MAC that the caller passes back
    assert conn.networkDefineXML(xml).XMLDesc() == xml


def test_clashes(env) -> None:  # type: ignore[no-untyped-def]
    conn, *_ = env
    a = conn.networkDefineXML(NAT.format(name="a", net="10.90.1"))
    _fails(lambda: conn.networkDefineXML(
        "<network><name>c</name><bridge name='virbr0'/></network>"),
        pyvirt.VIR_ERR_INTERNAL_ERROR, "internal error: bridge name 'virbr0' already in use.")
    _fails(lambda: conn.networkDefineXML(
        f"<network><name>a</name><uuid>{'1' * 8}-1111-1111-1111-{'1' * 12}</uuid></network>"),
        pyvirt.VIR_ERR_OPERATION_FAILED,
        f"operation failed: network 'a' already exists with uuid {a.UUIDString()}")
    _fails(lambda: conn.networkDefineXML(
        "<network><name>d</name><forward mode='bridge'/><bridge name='br0'/>"
        "<ip address='10.1.1.1' prefix='24'/></network>"),
        pyvirt.VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <ip> "
        "element in network d with forward mode='bridge'")
    _fails(lambda: conn.networkDefineXML(
        "<network><name>e</name><ip address='10.1.1.1' prefix='24'><dhcp>"
        "<range start='10.1.1.2' end='10.1.1.9'/></dhcp></ip><ip address='10.1.2.1' "
        "prefix='24'><dhcp><range start='10.1.2.2' end='10.1.2.9'/></dhcp></ip></network>"),
        pyvirt.VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Multiple IPv4 dhcp "
        "sections found -- dhcp is supported only for a single IPv4 address on each network")
    assert [n.name() for n in conn.listAllNetworks()] == ["a"]


def test_autostart_filters_and_a_second_driver(env) -> None:  # type: ignore[no-untyped-def]
    conn, _driver, paths, _events = env
    a = conn.networkDefineXML(NAT.format(name="a", net="10.90.1"))
    conn.networkDefineXML(NAT.format(name="b", net="10.90.2"))
    a.setAutostart(1)
    assert os.readlink(paths.autostart_link("a")) == paths.config_file("a")
    names = [n.name() for n in conn.listAllNetworks(pyvirt.VIR_CONNECT_LIST_NETWORKS_AUTOSTART)]
    assert names == ["a"]
    assert conn.listDefinedNetworks() == ["a", "b"] and conn.numOfNetworks() == 0
    a.setAutostart(0)
    assert not os.path.lexists(paths.autostart_link("a"))
    # what a restarted process sees (with autostart off: a second driver would start it)
    second = NetworkDriver(paths, define_default=False)
    assert [(o.name, o.autostart, o.active) for o in second.networks] == [
        ("a", False, False), ("b", False, False)]


def test_update_config_of_inactive_network(env) -> None:  # type: ignore[no-untyped-def]
    conn, _driver, paths, _events = env
    a = conn.networkDefineXML(NAT.format(name="a", net="10.90.1"))
    a.update(pyvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, pyvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
             -1, "<host mac='52:54:00:00:00:07' ip='10.90.1.7'/>", 0)
    assert "<host mac='52:54:00:00:00:07' ip='10.90.1.7'/>" in Path(
        paths.config_file("a")).read_text()
    _fails(lambda: a.update(pyvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                            pyvirt.VIR_NETWORK_SECTION_DNS_HOST, -1,
                            "<host ip='10.90.1.8'><hostname>x</hostname></host>",
                            pyvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE),
           pyvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: network is "
           "not running")


def test_inactive_network_errors_and_undefine(env) -> None:  # type: ignore[no-untyped-def]
    conn, _driver, paths, events = env
    a = conn.networkDefineXML(NAT.format(name="a", net="10.90.1"))
    not_active = "Requested operation is not valid: network 'a' is not active"
    _fails(a.destroy, pyvirt.VIR_ERR_OPERATION_INVALID, not_active)
    _fails(a.listAllPorts, pyvirt.VIR_ERR_OPERATION_INVALID, not_active)
    _fails(lambda: a.portCreateXML(
        "<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>v</name>"
        "<uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
        "<mac address='52:54:00:00:00:01'/></networkport>"),
        pyvirt.VIR_ERR_OPERATION_INVALID, not_active)
    assert a.DHCPLeases() == []
    _fails(lambda: a.DHCPLeases("zz"), pyvirt.VIR_ERR_INVALID_MAC, "invalid MAC address: zz")
    a.setAutostart(1)
    a.undefine()
    assert not os.path.lexists(paths.config_file("a"))
    assert not os.path.lexists(paths.autostart_link("a"))
    assert events[-1] == ("a", pyvirt.VIR_NETWORK_EVENT_UNDEFINED)
    _fails(lambda: conn.networkLookupByName("a"), pyvirt.VIR_ERR_NO_NETWORK,
           "Network not found: no network with matching name 'a'")


def test_default_network_definition(env) -> None:  # type: ignore[no-untyped-def]
    conn, driver, paths, _events = env
    driver._define_default()  # what a first start in system mode does (then autostarts it)
    net = conn.networkLookupByName("default")
    xml = net.XMLDesc()
    assert "<forward mode='nat'/>" in xml and "<bridge name='virbr0'" in xml
    assert "<ip address='192.168.122.1' netmask='255.255.255.0'>" in xml
    assert "<range start='192.168.122.2' end='192.168.122.254'/>" in xml
    assert net.autostart() == 1 and os.path.islink(paths.autostart_link("default"))


def test_unsupported_flags(env) -> None:  # type: ignore[no-untyped-def]
    conn, *_ = env
    _fails(lambda: conn.listAllNetworks(1 << 20), pyvirt.VIR_ERR_INVALID_ARG,
           "unsupported flags (0x100000) in function networkConnectListAllNetworks")


def test_autostart_runs_once_per_boot(tmp_path: Path) -> None:
    # the marker in the run directory keeps a second process from starting networks again
    from pyvirt.fileutil import first_autostart

    assert first_autostart(str(tmp_path)) is True
    assert first_autostart(str(tmp_path)) is False
    assert (tmp_path / "autostarted").exists()
