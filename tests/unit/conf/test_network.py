"""Network XML: libvirt's networkxml2xml corpus, defaults, and libvirt's errors."""

from __future__ import annotations

import os
import re

import pytest

from pyvirt import constants as c
from pyvirt.conf.network import NetworkDef
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

DATA = os.path.join(LIBVIRT_SRC, "tests")


def _corpus() -> list[tuple[str, str, bool]]:
    """(name, kind, inactive) from networkxml2xmltest.c: kind is 'ok' or 'fail'."""
    path = os.path.join(DATA, "networkxml2xmltest.c")
    if not os.path.exists(path):
        return []
    cases = []
    for macro, name, flag in re.findall(
            r'(DO_TEST(?:_FLAGS|_PARSE_ERROR)?)\("([^"]+)"(?:,\s*(\w+))?\)', open(path).read()):
        cases.append((name, "fail" if macro.endswith("PARSE_ERROR") else "ok", bool(flag)))
    return cases


CORPUS = _corpus()


@pytest.mark.skipif(not CORPUS, reason="libvirt source tree not available")
def test_corpus_size() -> None:
    assert len(CORPUS) == 46
    assert sum(1 for _, kind, _ in CORPUS if kind == "fail") == 4


@pytest.mark.parametrize("name,kind,inactive", CORPUS, ids=[c[0] for c in CORPUS])
def test_networkxml2xml(name: str, kind: str, inactive: bool) -> None:
    text = open(os.path.join(DATA, "networkxml2xmlin", f"{name}.xml")).read()
    if kind == "fail":
        with pytest.raises(libvirtError):
            NetworkDef.from_xml(text)
        return
    expected = open(os.path.join(DATA, "networkxml2xmlout", f"{name}.xml")).read()
    assert NetworkDef.from_xml(text).to_xml(inactive=inactive) == expected


NAT = """<network connections='3'>
  <name>default</name>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:0A:0B:0C'/>
  <domain name='example.org'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='2001:db8:0:0::1' prefix='64'/>
</network>"""


def test_fields() -> None:
    n = NetworkDef.from_xml(NAT)
    assert n.name == "default"
    assert n.forward is not None and n.forward.mode == "nat"
    assert (n.forward.nat.port_start, n.forward.nat.port_end) == (1024, 65535)
    assert n.bridge.name == "virbr0" and n.bridge.stp and n.bridge.delay == 0
    assert n.mac == "52:54:00:0a:0b:0c"
    assert n.domain == "example.org"
    assert n.connections == 3
    assert [ip.address for ip in n.ips] == ["192.168.122.1", "2001:db8::1"]
    assert n.ips[0].effective_prefix == 24 and n.ips[1].effective_prefix == 64
    assert n.ips[0].ranges[0].start == "192.168.122.2"
    assert n.ips[0].hosts[0].name == "a"


def test_uuid_generated_and_kept_across_format() -> None:
    n = NetworkDef.from_xml("<network><name>x</name></network>")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", n.uuid)
    assert not n.uuid_specified
    again = NetworkDef.from_xml(n.to_xml())
    assert again.uuid == n.uuid and again.uuid_specified


def test_isolated_defaults() -> None:
    n = NetworkDef.from_xml("<network><name>iso</name>"
                            "<uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid></network>")
    assert n.to_xml() == (
        "<network>\n"
        "  <name>iso</name>\n"
        "  <uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>\n"
        "  <bridge stp='on' delay='0'/>\n"
        "</network>\n")


def test_connections_only_when_active() -> None:
    n = NetworkDef.from_xml(NAT)
    assert n.to_xml().startswith("<network connections='3'>")
    assert n.to_xml(inactive=True).startswith("<network>")


def test_copy_is_deep() -> None:
    n = NetworkDef.from_xml(NAT)
    dup = n.copy()
    dup.ips[0].ranges.clear()
    assert n.ips[0].ranges


def test_element_round_trip() -> None:
    n = NetworkDef.from_xml(NAT)
    assert NetworkDef.from_element(n.to_element()).to_xml() == n.to_xml()


def _error(text: str) -> libvirtError:
    with pytest.raises(libvirtError) as info:
        NetworkDef.from_xml(text)
    return info.value


# Each expectation was checked against libvirt 9.0's test driver (networkDefineXML).
@pytest.mark.parametrize("text,code,domain,message", [
    ("<network/>", c.VIR_ERR_NO_NAME, c.VIR_FROM_NETWORK, "missing name information"),
    ("<net/>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
     "XML error: expecting root element of 'network', not 'net'"),
    ("<network><name>a</name", c.VIR_ERR_XML_DETAIL, c.VIR_FROM_NETWORK,
     "(network_definition):1: expected '>'\n<network><name>a</name\n----------------------^"),
    ("<network><name>a/b</name></network>", c.VIR_ERR_XML_DETAIL, c.VIR_FROM_XML,
     "invalid char in name: /"),
    ("<network><name>n</name><uuid>zz</uuid></network>", c.VIR_ERR_INTERNAL_ERROR,
     c.VIR_FROM_NETWORK, "internal error: malformed uuid element"),
    ("<network><name>n</name><ip address='1.2.3.x'/></network>", c.VIR_ERR_XML_ERROR,
     c.VIR_FROM_NETWORK, "XML error: Invalid address '1.2.3.x' in network 'n'"),
    ("<network><name>n</name><ip address='1.2.3.4' prefix='40'/></network>",
     c.VIR_ERR_CONFIG_UNSUPPORTED, c.VIR_FROM_NETWORK,
     "unsupported configuration: Invalid IPv4 prefix '40' in network 'n'"),
    ("<network><name>n</name><ip address='1.2.3.4' prefix='x'/></network>",
     c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
     "XML error: Invalid value for attribute 'prefix' in element 'ip': 'x'. "
     "Expected non-negative integer value"),
    ("<network><name>n</name><forward mode='nat'/></network>", c.VIR_ERR_XML_ERROR,
     c.VIR_FROM_NETWORK,
     "XML error: nat forwarding requested, but no IP address provided for network 'n'"),
    ("<network><name>n</name><mac address='01:00:00:00:00:01'/></network>",
     c.VIR_ERR_XML_ERROR, c.VIR_FROM_NETWORK,
     "XML error: Invalid multicast bridge mac address '01:00:00:00:00:01' in network 'n'"),
    ("<network><name>n</name><ip address='192.168.1.1' netmask='255.255.255.0'><dhcp>"
     "<range start='192.168.2.2' end='192.168.2.5'/></dhcp></ip></network>",
     c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_NONE,
     "internal error: range 192.168.2.2 - 192.168.2.5 is not entirely within network "
     "192.168.1.1/24"),
])
def test_errors(text: str, code: int, domain: int, message: str) -> None:
    err = _error(text)
    assert (err.get_error_code(), err.get_error_domain(), err.get_error_message()) == \
        (code, domain, message)


def test_schema_validation() -> None:
    if not os.path.exists("/usr/share/libvirt/schemas/network.rng"):
        pytest.skip("no network.rng available")
    NetworkDef.from_xml(NAT, validate_schema=True)
    err = _error_schema("<network><name>n</name><bogus/></network>")
    assert err.get_error_code() == c.VIR_ERR_XML_INVALID_SCHEMA


def _error_schema(text: str) -> libvirtError:
    with pytest.raises(libvirtError) as info:
        NetworkDef.from_xml(text, validate_schema=True)
    return info.value
