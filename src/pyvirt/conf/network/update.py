"""virNetworkUpdate on a NetworkDef: libvirt's virNetworkDefUpdateSection.

``update_section(netdef, command, section, parent_index, xml)`` changes ``netdef`` in place
(callers pass a copy) or raises libvirt's error, leaving the copy in an unspecified state.
"""

from __future__ import annotations

import ipaddress

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.model import (
    DHCPHost,
    DHCPRange,
    DNSDef,
    DNSHost,
    DNSSrv,
    DNSTxt,
    ForwardInterface,
    IPDef,
    NetworkDef,
    PortGroup,
)
from pyvirt.conf.network.netdev import is_ipv4, is_ipv6, parse_ip, parse_mac
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

ADD_FIRST = c.VIR_NETWORK_UPDATE_COMMAND_ADD_FIRST
ADD_LAST = c.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
DELETE = c.VIR_NETWORK_UPDATE_COMMAND_DELETE
MODIFY = c.VIR_NETWORK_UPDATE_COMMAND_MODIFY


def _null(value: str | None) -> str:
    """A missing string as libvirt's printf shows a NULL "%s"."""
    return "(null)" if value is None else value


def _fail(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_NETWORK)


def _invalid(detail: str) -> None:
    _fail(c.VIR_ERR_OPERATION_INVALID, detail)


def _no_support(netdef: NetworkDef, section: str) -> None:
    _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
          f"can't update '{section}' section of network '{netdef.name}'")


def _unknown_command(command: int) -> None:
    _fail(c.VIR_ERR_OPERATION_UNSUPPORTED, f"unrecognized network update command code {command}")


def _check_name(netdef: NetworkDef, node: Element, tag: str) -> None:
    if node.tag != tag:
        _fail(c.VIR_ERR_XML_ERROR, f"unexpected element <{x.local_name(node)}>, expecting "
              f"<{tag}>, while updating network '{netdef.name}'")


def _insert(items: list, command: int, item: object) -> None:  # type: ignore[type-arg]
    items.insert(0 if command == ADD_FIRST else len(items), item)


def _same_ip(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return ipaddress.ip_address(a) == ipaddress.ip_address(b)


def _same_mac(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and parse_mac(a) == parse_mac(b)


def _family(addr: str | None) -> int:
    return 4 if is_ipv4(addr) else 6 if is_ipv6(addr) else 0


# ---- <ip><dhcp> ---------------------------------------------------------------------------


def _ip_by_index(netdef: NetworkDef, parent_index: int) -> IPDef:
    if parent_index >= 0:
        if parent_index >= len(netdef.ips):
            _invalid(f"couldn't update dhcp host entry - no <ip> element found at index "
                     f"{parent_index} in network '{netdef.name}'")
        return netdef.ips[parent_index]
    for ip in netdef.ips:
        if ip.ranges or ip.hosts:
            return ip
    for want in (4, 6):
        for ip in netdef.ips:
            if _family(ip.address) == want:
                return ip
    _invalid(f"couldn't update dhcp host entry - no <ip> element found in network "
             f"'{netdef.name}'")
    raise AssertionError  # not reached


def _check_multi_dhcp(netdef: NetworkDef, ipdef: IPDef) -> None:
    family = _family(ipdef.address)
    for ip in netdef.ips:
        if ip is not ipdef and _family(ip.address) == family and (ip.ranges or ip.hosts):
            _invalid(f"dhcp is supported only for a single {'IPv4' if family == 4 else 'IPv6'} "
                     "address on each network")


def _partial_host(netdef: NetworkDef, node: Element) -> DHCPHost:
    """The search form of a <host> for DELETE: any of mac/name/ip."""
    host = DHCPHost(mac=node.get("mac"), id=node.get("id"), name=node.get("name"))
    ip = node.get("ip")
    if ip is not None:
        host.ip = parse_ip(ip)
        if host.ip is None:
            _fail(c.VIR_ERR_XML_ERROR, "Invalid IP address in static host definition for "
                  f"network '{netdef.name}'")
    if host.mac is not None and parse_mac(host.mac) is None:
        _fail(c.VIR_ERR_XML_ERROR,
              f"Cannot parse MAC address '{host.mac}' in network '{netdef.name}'")
    if not (host.mac or host.name or host.ip):
        _fail(c.VIR_ERR_XML_ERROR, "At least one of name, mac, or ip attribute must be "
              f"specified for static host definition in network '{netdef.name}' ")
    return host


def _dhcp_host(netdef: NetworkDef, command: int, parent_index: int, node: Element) -> None:
    _check_name(netdef, node, "host")
    ipdef = _ip_by_index(netdef, parent_index)
    if command == DELETE:
        host = _partial_host(netdef, node)
    else:
        host = ipdef._parse_host(node, netdef.name)
        if _family(ipdef.address) != _family(host.ip):
            _invalid("the address family of a host entry IP must match the address family "
                     "of the dhcp element's parent")
    hosts = ipdef.hosts

    def describe() -> str:
        return (f"\"mac='{host.mac or 'unknown'}'\" \"name='{_null(host.name)}'\" "
                f"\"ip='{host.ip or 'unknown'}'\"")

    if command == MODIFY:
        for i, old in enumerate(hosts):
            if (_same_mac(host.mac, old.mac) or _same_ip(host.ip, old.ip)
                    or (host.name is not None and host.name == old.name)):
                hosts[i] = host
                return
        _invalid(f"couldn't locate an existing dhcp host entry with {describe()} in network "
                 f"'{netdef.name}'")
    elif command in (ADD_FIRST, ADD_LAST):
        _check_multi_dhcp(netdef, ipdef)
        for old in hosts:
            if (_same_mac(host.mac, old.mac) or (host.name is not None and host.name == old.name)
                    or _same_ip(host.ip, old.ip)):
                _invalid(f"there is an existing dhcp host entry in network '{netdef.name}' "
                         f"that matches \"<host mac='{host.mac or 'unknown'}' "
                         f"name='{_null(host.name)}' ip='{host.ip or 'unknown'}'/>\"")
        _insert(hosts, command, host)
    elif command == DELETE:
        for i, old in enumerate(hosts):
            if ((not host.mac or not old.mac or _same_mac(host.mac, old.mac))
                    and (not host.name or host.name == old.name)
                    and (not host.ip or _same_ip(host.ip, old.ip))):
                del hosts[i]
                return
        _invalid(f"couldn't locate a matching dhcp host entry in network '{netdef.name}'")
    else:
        _unknown_command(command)


def _dhcp_range(netdef: NetworkDef, command: int, parent_index: int, node: Element) -> None:
    _check_name(netdef, node, "range")
    ipdef = _ip_by_index(netdef, parent_index)
    if command == MODIFY:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
              "dhcp ranges cannot be modified, only added or deleted")
    rng: DHCPRange = ipdef._parse_range(node, netdef.name)
    if _family(ipdef.address) != _family(rng.start):
        _invalid("the address family of a dhcp range must match the address family of the "
                 "dhcp element's parent")
    found = next((i for i, old in enumerate(ipdef.ranges)
                  if _same_ip(rng.start, old.start) and _same_ip(rng.end, old.end)), None)
    if command in (ADD_FIRST, ADD_LAST):
        _check_multi_dhcp(netdef, ipdef)
        if found is not None:
            _invalid(f"there is an existing dhcp range entry in network '{netdef.name}' that "
                     f"matches \"<range start='{rng.start}' end='{rng.end}'/>\"")
        _insert(ipdef.ranges, command, rng)
    elif command == DELETE:
        if found is None:
            _invalid(f"couldn't locate a matching dhcp range entry in network '{netdef.name}'")
        assert found is not None
        del ipdef.ranges[found]
    else:
        _unknown_command(command)


# ---- <forward><interface>, <portgroup> -------------------------------------------------------


def _forward_interface(netdef: NetworkDef, command: int, _parent: int, node: Element) -> None:
    _check_name(netdef, node, "interface")
    if command == MODIFY:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
              "forward interface entries cannot be modified, only added or deleted")
    dev = node.get("dev")
    if dev is None:
        _fail(c.VIR_ERR_XML_ERROR, "missing dev attribute in <interface> element")
    assert dev is not None
    ifaces = netdef.forward.interfaces if netdef.forward is not None else []
    found = next((i for i, iface in enumerate(ifaces) if iface.dev == dev), None)
    if command in (ADD_FIRST, ADD_LAST):
        if found is not None:
            _invalid(f"there is an existing interface entry in network '{netdef.name}' that "
                     f"matches \"<interface dev='{dev}'>\"")
        if netdef.forward is None:
            # libvirt's def always has a forward struct (mode nat) to add into
            from pyvirt.conf.network.model import ForwardDef

            netdef.forward = ForwardDef()
        _insert(netdef.forward.interfaces, command, ForwardInterface(dev))
    elif command == DELETE:
        if found is None:
            _invalid(f"couldn't find an interface entry in network '{netdef.name}' matching "
                     f"<interface dev='{dev}'>")
        assert found is not None
        if ifaces[found].connections > 0:
            _invalid(f"unable to delete interface '{dev}' in network '{netdef.name}'. It is "
                     f"currently being used  by {ifaces[found].connections} domains.")
        del ifaces[found]
    else:
        _unknown_command(command)


def _portgroup(netdef: NetworkDef, command: int, _parent: int, node: Element) -> None:
    _check_name(netdef, node, "portgroup")
    pg = PortGroup.from_element(node)
    found_name = found_default = -1
    for i, old in enumerate(netdef.portgroups):
        if old.name == pg.name:
            found_name = i
        if old.default:
            found_default = i
    if found_name == -1 and command in (MODIFY, DELETE):
        _invalid(f"couldn't find a portgroup entry in network '{netdef.name}' matching "
                 f"<portgroup name='{pg.name}'>")
    elif found_name >= 0 and command in (ADD_FIRST, ADD_LAST):
        _invalid(f"there is an existing portgroup entry in network '{netdef.name}' that "
                 f"matches \"<portgroup name='{pg.name}'>\"")
    if command != DELETE and pg.default and found_default >= 0 and found_default != found_name:
        _invalid(f"a different portgroup entry in network '{netdef.name}' is already set as "
                 "the default. Only one default is allowed.")
    if command == MODIFY:
        netdef.portgroups[found_name] = pg
    elif command in (ADD_FIRST, ADD_LAST):
        _insert(netdef.portgroups, command, pg)
    elif command == DELETE:
        del netdef.portgroups[found_name]
    else:
        _unknown_command(command)


# ---- <dns> records ------------------------------------------------------------------------------


def _parse_dns_child(netdef: NetworkDef, node: Element) -> DNSDef:
    wrapper = x.element("dns")
    wrapper.append(_copy_node(node))
    return DNSDef.from_element(wrapper, netdef.name)


def _copy_node(node: Element) -> Element:
    import copy

    return copy.deepcopy(node)


def _dns_host(netdef: NetworkDef, command: int, _parent: int, node: Element) -> None:
    if command == MODIFY:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
              "DNS HOST records cannot be modified, only added or deleted")
    _check_name(netdef, node, "host")
    is_add = command in (ADD_FIRST, ADD_LAST)
    if is_add:
        host = _parse_dns_child(netdef, node).hosts[0]
    else:
        ip = node.get("ip")
        host = DNSHost(ip=parse_ip(ip) if ip is not None else None,
                       hostnames=[n.text for n in node.iterfind("hostname") if n.text])
        if ip is not None and host.ip is None:
            _fail(c.VIR_ERR_XML_DETAIL,
                  f"Invalid IP address in network '{netdef.name}' DNS HOST record")
    hosts = netdef.dns.hosts
    found = [i for i, old in enumerate(hosts)
             if _same_ip(host.ip, old.ip)
             or (not is_add and set(host.hostnames) & set(old.hostnames))]
    if is_add:
        if found:
            _invalid("there is already at least one DNS HOST record with a matching field in "
                     f"network {netdef.name}")
        _insert(hosts, command, host)
    elif command == DELETE:
        if not found:
            _invalid(f"couldn't locate a matching DNS HOST record in network {netdef.name}")
        if len(found) > 1:
            _invalid(f"multiple matching DNS HOST records were found in network {netdef.name}")
        del hosts[found[0]]
    else:
        _unknown_command(command)


def _dns_srv(netdef: NetworkDef, command: int, _parent: int, node: Element) -> None:
    if command == MODIFY:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
              "DNS SRV records cannot be modified, only added or deleted")
    _check_name(netdef, node, "srv")
    is_add = command in (ADD_FIRST, ADD_LAST)
    if is_add:
        srv = _parse_dns_child(netdef, node).srvs[0]
    else:
        srv = DNSSrv(service=node.get("service"), protocol=node.get("protocol"),
                     domain=node.get("domain"), target=node.get("target"))
    srvs = netdef.dns.srvs
    found = [i for i, old in enumerate(srvs)
             if all(getattr(srv, f) is None or getattr(srv, f) == getattr(old, f)
                    for f in ("domain", "service", "protocol", "target"))]
    if is_add:
        if found:
            _invalid("there is already at least one DNS SRV record matching all specified "
                     f"fields in network {netdef.name}")
        _insert(srvs, command, srv)
    elif command == DELETE:
        if not found:
            _invalid(f"couldn't locate a matching DNS SRV record in network {netdef.name}")
        if len(found) > 1:
            _invalid("multiple DNS SRV records matching all specified fields were found in "
                     f"network {netdef.name}")
        del srvs[found[0]]
    else:
        _unknown_command(command)


def _dns_txt(netdef: NetworkDef, command: int, _parent: int, node: Element) -> None:
    if command == MODIFY:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED,
              "DNS TXT records cannot be modified, only added or deleted")
    _check_name(netdef, node, "txt")
    is_add = command in (ADD_FIRST, ADD_LAST)
    if is_add:
        txt = _parse_dns_child(netdef, node).txts[0]
    else:
        name = node.get("name")
        if name is None:
            _fail(c.VIR_ERR_XML_DETAIL, "missing required name attribute in DNS TXT record "
                  f"of network {netdef.name}")
        assert name is not None
        txt = DNSTxt(name, node.get("value"))
    txts = netdef.dns.txts
    found = next((i for i, old in enumerate(txts) if old.name == txt.name), None)
    if is_add:
        if found is not None:
            _invalid(f"there is already a DNS TXT record with name '{txt.name}' in network "
                     f"{netdef.name}")
        _insert(txts, command, txt)
    elif command == DELETE:
        if found is None:
            _invalid(f"couldn't locate a matching DNS TXT record in network {netdef.name}")
        assert found is not None
        del txts[found]
    else:
        _unknown_command(command)


def _unsupported_section(name: str) -> Callable[[NetworkDef, int, int, Element], None]:
    def handler(netdef: NetworkDef, _command: int, _parent: int, _node: Element) -> None:
        _no_support(netdef, name)

    return handler


_SECTIONS: dict[int, Callable[[NetworkDef, int, int, Element], None]] = {
    c.VIR_NETWORK_SECTION_BRIDGE: _unsupported_section("bridge"),
    c.VIR_NETWORK_SECTION_DOMAIN: _unsupported_section("domain"),
    c.VIR_NETWORK_SECTION_IP: _unsupported_section("ip"),
    c.VIR_NETWORK_SECTION_IP_DHCP_HOST: _dhcp_host,
    c.VIR_NETWORK_SECTION_IP_DHCP_RANGE: _dhcp_range,
    c.VIR_NETWORK_SECTION_FORWARD: _unsupported_section("forward"),
    c.VIR_NETWORK_SECTION_FORWARD_INTERFACE: _forward_interface,
    c.VIR_NETWORK_SECTION_FORWARD_PF: _unsupported_section("forward pf"),
    c.VIR_NETWORK_SECTION_PORTGROUP: _portgroup,
    c.VIR_NETWORK_SECTION_DNS_HOST: _dns_host,
    c.VIR_NETWORK_SECTION_DNS_TXT: _dns_txt,
    c.VIR_NETWORK_SECTION_DNS_SRV: _dns_srv,
}


def update_section(netdef: NetworkDef, command: int, section: int, parent_index: int,
                   xml: str) -> None:
    node = x.parse_document(xml, None, "network_update_xml", c.VIR_FROM_NETWORK)
    handler = _SECTIONS.get(section)
    if handler is None:
        _fail(c.VIR_ERR_OPERATION_UNSUPPORTED, "can't update unrecognized section of network")
        return
    handler(netdef, command, parent_index, node)
