"""dnsmasq configuration, hosts files and lease parsing of the network driver, against
libvirt 9.0.0's networkxml2confdata corpus (through scripts/network_conf_corpus.py) and small
cases of their own."""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from libvirt_source import ROOT, libvirt_tree
from pyvirt.conf.network import NetworkDef
from pyvirt.drivers.network.dnsmasq import (
    DnsmasqFiles,
    addn_hosts_text,
    build_config,
    read_leases,
)
from pyvirt.errors import libvirtError

TREE = libvirt_tree()


def _corpus_script():  # type: ignore[no-untyped-def]
    path = os.path.join(ROOT, "scripts", "network_conf_corpus.py")
    spec = importlib.util.spec_from_file_location("network_conf_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("network_conf_corpus", module)
    spec.loader.exec_module(module)
    return module


CASES = sorted(glob.glob(os.path.join(TREE, "tests", "networkxml2confdata", "*.xml"))) \
    if TREE else []


@pytest.mark.skipif(not CASES, reason="libvirt's source tree is not available")
@pytest.mark.parametrize("xml_path", CASES, ids=[Path(p).stem for p in CASES])
def test_corpus_case(xml_path: str) -> None:
    assert _corpus_script().compare(xml_path) is None


@pytest.mark.skipif(not CASES, reason="libvirt's source tree is not available")
def test_comparison_notices_a_difference(tmp_path: Path) -> None:
    # the same network with another DHCP range must not pass against libvirt's file
    src = next(p for p in CASES if p.endswith("/nat-network.xml"))
    for suffix in (".conf", ".hostsfile"):
        (tmp_path / ("nat-network" + suffix)).write_text(Path(src[:-4] + suffix).read_text())
    changed = tmp_path / "nat-network.xml"
    changed.write_text(Path(src).read_text().replace("192.168.122.254", "192.168.122.250"))
    why = _corpus_script().compare(str(changed))
    assert why is not None and "dhcp-range" in why


FILES = DnsmasqFiles("net", "/d", "/r")


def _conf(xml: str) -> list[str]:
    text, _ = build_config(NetworkDef.from_xml(xml), FILES, "/r/net.pid")
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_isolated_network_with_static_hosts_and_lease_times() -> None:
    conf = _conf("""<network><name>net</name><bridge name='br9'/>
      <dns enable='no'/>
      <ip address='10.1.0.1' prefix='16'><dhcp>
        <host mac='52:54:00:00:00:01' ip='10.1.0.5'><lease expiry='2' unit='hours'/></host>
      </dhcp></ip></network>""")
    assert conf == ["strict-order", "port=0", "pid-file=/r/net.pid", "except-interface=lo",
                    "bind-dynamic", "interface=br9", "dhcp-option=3", "no-resolv",
                    "ra-param=*,0,0", "dhcp-range=10.1.0.1,static", "dhcp-no-override",
                    "dhcp-authoritative", "dhcp-hostsfile=/d/net.hostsfile"]
    _, hosts = build_config(NetworkDef.from_xml("""<network><name>net</name>
      <ip address='10.1.0.1' prefix='16'><dhcp>
        <host mac='52:54:00:00:00:01' ip='10.1.0.5'><lease expiry='2' unit='hours'/></host>
      </dhcp></ip></network>"""), FILES)
    assert hosts == "52:54:00:00:00:01,10.1.0.5,2h\n"


def test_ptr_domain_for_an_odd_prefix_is_refused() -> None:
    with pytest.raises(libvirtError) as info:
        _conf("<network><name>net</name><ip address='10.1.0.1' prefix='20' localPtr='yes'/>"
              "</network>")
    assert str(info.value) == ("unsupported configuration: PTR domain for IPv4 network with "
                               "prefix 20 cannot be automatically created")


def test_addn_hosts_groups_names_per_address() -> None:
    netdef = NetworkDef.from_xml("""<network><name>net</name><dns>
      <host ip='10.0.0.5'><hostname>a</hostname><hostname>b</hostname></host>
      <host ip='10.0.0.6'><hostname>c</hostname></host></dns></network>""")
    assert addn_hosts_text(netdef) == "10.0.0.5\ta\tb\t\n10.0.0.6\tc\t\n"


def test_leases_skip_expired_ipv6_and_malformed_lines(tmp_path: Path) -> None:
    now = int(time.time())
    path = tmp_path / "net.leases"
    path.write_text(
        f"{now + 3600} 52:54:00:AA:00:01 10.0.0.10 guest1 01:52:54:00:aa:00:01\n"
        f"{now - 10} 52:54:00:aa:00:02 10.0.0.11 * *\n"
        f"0 52:54:00:aa:00:03 10.0.0.12 * *\n"
        "duid 00:01:00:01:2c:11:22:33:52:54:00:00:00:09\n"
        f"{now + 3600} 12345 2001:db8::10 guest6 00:01:00:01\n"
        "garbage\n")
    leases = read_leases(str(path))
    assert leases == [
        {"expirytime": now + 3600, "mac": "52:54:00:aa:00:01", "ipaddr": "10.0.0.10",
         "hostname": "guest1", "clientid": "01:52:54:00:aa:00:01"},
        {"expirytime": 0, "mac": "52:54:00:aa:00:03", "ipaddr": "10.0.0.12",
         "hostname": None, "clientid": None},
    ]
    assert read_leases(str(tmp_path / "missing")) == []
