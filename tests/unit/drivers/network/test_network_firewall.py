"""nftables rules of the network driver: what each forward mode gets, as text (the netns
integration test loads them into a real kernel)."""

from __future__ import annotations

from pyvirt.conf.network import NetworkDef
from pyvirt.drivers.network.firewall import ruleset, table_name


def _rules(xml: str) -> list[str]:
    script = ruleset(NetworkDef.from_xml(xml))
    assert script is not None
    return [line.strip() for line in script.splitlines()]


def test_nat_masquerades_the_subnet_and_admits_replies_only() -> None:
    rules = _rules("<network><name>n</name><forward mode='nat' dev='eth1'/>"
                   "<bridge name='virbr3'/><ip address='192.168.50.1' prefix='24'/></network>")
    assert rules[:2] == ["add table inet pyvirt_virbr3", "delete table inet pyvirt_virbr3"]
    assert ('iifname "eth1" oifname "virbr3" ip daddr 192.168.50.0/24 ct state '
            "related,established accept") in rules
    assert 'iifname "virbr3" oifname "eth1" ip saddr 192.168.50.0/24 accept' in rules
    assert ('ip saddr 192.168.50.0/24 ip daddr != 192.168.50.0/24 oifname "eth1" '
            "meta l4proto tcp masquerade to :1024-65535") in rules
    assert ('ip saddr 192.168.50.0/24 ip daddr != 192.168.50.0/24 oifname "eth1" '
            "masquerade") in rules
    assert "ip saddr 192.168.50.0/24 ip daddr 224.0.0.0/24 return" in rules
    # rejects come last, after every accept
    assert rules.index('iifname "virbr3" reject') > rules.index(
        'iifname "virbr3" oifname "virbr3" accept')


def test_nat_address_and_port_range_snat() -> None:
    rules = _rules("<network><name>n</name><forward mode='nat'><nat>"
                   "<address start='1.2.3.4' end='1.2.3.10'/><port start='500' end='1000'/>"
                   "</nat></forward><bridge name='br1'/><ip address='10.0.0.1' prefix='24'/>"
                   "</network>")
    assert ("ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/24 meta l4proto udp "
            "snat ip to 1.2.3.4-1.2.3.10:500-1000") in rules
    assert "ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/24 snat ip to 1.2.3.4-1.2.3.10" in rules


def test_route_forwards_both_ways_without_nat() -> None:
    rules = _rules("<network><name>n</name><forward mode='route'/><bridge name='br1'/>"
                   "<ip address='10.0.0.1' prefix='24'/>"
                   "<ip family='ipv6' address='fd00::1' prefix='64'/></network>")
    assert 'oifname "br1" ip daddr 10.0.0.0/24 accept' in rules
    assert 'iifname "br1" ip6 saddr fd00::/64 accept' in rules
    assert not any("postrouting" in r or "masquerade" in r for r in rules)


def test_isolated_keeps_guests_on_the_bridge() -> None:
    rules = _rules("<network><name>n</name><bridge name='br1'/>"
                   "<ip address='10.0.0.1' prefix='24'/></network>")
    forward = rules[rules.index("chain forward {") + 2: rules.index('oifname "br1" reject') + 1]
    assert forward == ['iifname "br1" oifname "br1" accept', 'iifname "br1" reject',
                       'oifname "br1" reject']
    assert 'iifname "br1" udp dport { 53, 67, 547 } accept' in rules


def test_open_and_bridge_modes_get_no_table() -> None:
    assert ruleset(NetworkDef.from_xml(
        "<network><name>n</name><forward mode='open'/><bridge name='br1'/>"
        "<ip address='10.0.0.1' prefix='24'/></network>")) is None
    assert ruleset(NetworkDef.from_xml(
        "<network><name>n</name><forward mode='bridge'/><bridge name='br1'/></network>")) is None


def test_table_names_are_safe_identifiers() -> None:
    assert table_name("virbr0") == "pyvirt_virbr0"
    assert table_name("br:x y") == "pyvirt_br_x_y"
