"""Host interface XML: libvirt's interfaceschemadata corpus (in == out, as in
interfacexml2xmltest.c), the test driver's eth1, and libvirt's errors."""

from __future__ import annotations

import glob
import os

import pytest

from pyvirt import constants as c
from pyvirt.conf.interface import InterfaceDef
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

CORPUS = sorted(glob.glob(os.path.join(LIBVIRT_SRC, "tests", "interfaceschemadata/*.xml")))

# test:///default's interfaceLookupByName('eth1').XMLDesc() (libvirt 9.0).
ETH1 = """<interface type='ethernet' name='eth1'>
  <start mode='onboot'/>
  <mtu size='1492'/>
  <protocol family='ipv4'>
    <ip address='192.168.0.5' prefix='24'/>
    <route gateway='192.168.0.1'/>
  </protocol>
  <mac address='aa:bb:cc:dd:ee:ff'/>
</interface>
"""


@pytest.mark.skipif(not CORPUS, reason="libvirt source tree not available")
@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_roundtrip(path: str) -> None:
    text = open(path).read()
    assert InterfaceDef.from_xml(text).to_xml() == text


def test_test_driver_eth1() -> None:
    iface = InterfaceDef.from_xml(ETH1)
    assert (iface.type, iface.name, iface.mtu, iface.start_mode) == (
        "ethernet",
        "eth1",
        1492,
        "onboot",
    )
    assert iface.protocols[0].ips[0].prefix == 24
    assert iface.macs() == ["aa:bb:cc:dd:ee:ff"]
    assert iface.to_xml() == ETH1
    dup = iface.copy()
    dup.protocols[0].gateway = None
    assert iface.protocols[0].gateway == "192.168.0.1"


def test_members_drop_top_level_settings() -> None:
    iface = InterfaceDef.from_xml(
        "<interface type='bridge' name='br0'><bridge stp='off'>"
        "<interface type='ethernet' name='eth0'><mtu size='9000'/>"
        "<mac address='52:54:00:00:00:01'/></interface></bridge></interface>"
    )
    assert iface.members[0].mtu == 0
    assert iface.macs() == ["52:54:00:00:00:01"]
    assert iface.to_xml() == (
        "<interface type='bridge' name='br0'>\n  <bridge stp='off'>\n"
        "    <interface type='ethernet' name='eth0'>\n"
        "      <mac address='52:54:00:00:00:01'/>\n    </interface>\n  </bridge>\n"
        "</interface>\n"
    )


@pytest.mark.parametrize(
    "xml,message",
    [
        (
            "<interface name='x'/>",
            "XML error: Missing required attribute 'type' in element 'interface'",
        ),
        ("<interface type='ethernet'/>", "XML error: interface has no name"),
        (
            "<interface type='ethernet' name='x'><start mode='sometimes'/></interface>",
            "XML error: unknown interface startmode sometimes",
        ),
        (
            "<interface type='ethernet' name='x'><mtu size='100001'/></interface>",
            "XML error: value of the 'size' attribute of 'mtu' element must be at most 100000",
        ),
        (
            "<interface type='ethernet' name='x'><protocol/></interface>",
            "XML error: protocol misses the family attribute",
        ),
        (
            "<interface type='ethernet' name='x'><protocol family='ipx'/></interface>",
            "XML error: unsupported protocol family 'ipx'",
        ),
        (
            "<interface type='bridge' name='x'/>",
            "XML error: bridge interface misses the bridge element",
        ),
        (
            "<interface type='bond' name='x'><bond mode='x'/></interface>",
            "XML error: unknown bonding mode x",
        ),
        (
            "<interface type='bond' name='x'><bond><miimon/></bond></interface>",
            "XML error: bond interface miimon freq missing or invalid",
        ),
        (
            "<interface type='bond' name='x'><bond><arpmon interval='1'/></bond></interface>",
            "XML error: bond interface arpmon target missing",
        ),
        (
            "<interface type='bond' name='x'><bond><interface type='bridge' name='b'/></bond>"
            "</interface>",
            "XML error: interface has unsupported type 'bridge'",
        ),
        (
            "<interface type='vlan' name='x'><vlan/></interface>",
            "XML error: vlan interface misses the tag attribute",
        ),
        (
            "<interface type='vlan' name='x'><vlan tag='4'/></interface>",
            "XML error: vlan interface misses name attribute",
        ),
    ],
)
def test_errors(xml: str, message: str) -> None:
    with pytest.raises(libvirtError) as err:
        InterfaceDef.from_xml(xml)
    assert err.value.get_error_code() == c.VIR_ERR_XML_ERROR
    assert str(err.value) == message
    # libvirt reports attribute-level errors (virXMLProp*) in the XML domain.
    domain = c.VIR_FROM_XML if "attribute '" in message else c.VIR_FROM_INTERFACE
    assert err.value.get_error_domain() == domain


# Checked against libvirt 9.0 (test:///default interfaceDefineXML).
@pytest.mark.parametrize(
    "xml,code,domain,message",
    [
        (
            "<interface type='bogus' name='x'/>",
            c.VIR_ERR_XML_ERROR,
            c.VIR_FROM_XML,
            "XML error: Invalid value for attribute 'type' in element 'interface': 'bogus'.",
        ),
        (
            "<interface type='ethernet' name='x'><protocol family='ipv4'><dhcp peerdns='maybe'/>"
            "</protocol></interface>",
            c.VIR_ERR_XML_ERROR,
            c.VIR_FROM_XML,
            "XML error: Invalid value for attribute 'peerdns' in element 'dhcp': 'maybe'.",
        ),
        (
            "<interface type='ethernet' name='x'><protocol family='ipv4'><ip address='1.2.3.4' "
            "prefix='x'/></protocol></interface>",
            c.VIR_ERR_XML_ERROR,
            c.VIR_FROM_XML,
            "XML error: Invalid value for attribute 'prefix' in element 'ip': 'x'. "
            "Expected integer value",
        ),
        (
            "<interface type='ethernet' name='x'><link state='bogus'/></interface>",
            c.VIR_ERR_XML_ERROR,
            c.VIR_FROM_XML,
            "XML error: Invalid value for attribute 'state' in element 'link': 'bogus'.",
        ),
        (
            "<interface type='ethernet' name='x'><mtu size='abc'/></interface>",
            c.VIR_ERR_INTERNAL_ERROR,
            c.VIR_FROM_NONE,
            "An error occurred, but the cause is unknown",
        ),
        ("<interface", c.VIR_ERR_XML_DETAIL, c.VIR_FROM_INTERFACE, None),
        (
            "<domain/>",
            c.VIR_ERR_XML_ERROR,
            c.VIR_FROM_XML,
            "XML error: expecting root element of 'interface', not 'domain'",
        ),
    ],
)
def test_errors_like_libvirt(xml: str, code: int, domain: int, message: str | None) -> None:
    with pytest.raises(libvirtError) as err:
        InterfaceDef.from_xml(xml)
    assert (err.value.get_error_code(), err.value.get_error_domain()) == (code, domain)
    if message is not None:
        assert str(err.value) == message
