"""<network> definitions: parse -> NetworkDef -> format, as libvirt's network_conf.c.

Element order on output follows virNetworkDefFormatBuf: name, uuid, metadata, forward,
bridge, mtu, mac, domain, dns, vlan, bandwidth, port, ip*, route*, virtualport, portgroup*,
then the dnsmasq namespace options.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.netdev import (
    Bandwidth,
    Route,
    VirtualPort,
    Vlan,
    check_ip,
    default_prefix,
    in_network,
    is_ipv4,
    is_ipv6,
    mac_is_multicast,
    parse_ip,
    parse_mac,
    parse_uint,
    prop_enum,
    prop_tristate,
    prop_uint,
)
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"
FORWARD_MODES = ("nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")
# Modes whose network is a libvirt-managed bridge (virNetworkDefFormatBuf's "hasbridge").
L3_MODES = (None, "nat", "route", "open")
LEASE_UNITS = ("seconds", "minutes", "hours")
MAC_TABLE_MANAGERS = ("kernel", "libvirt")
DNS_RECORD_LENGTH_SRV = 512 - 30
_SERVICE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*")
_PROTOCOL_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/")


def _err(code: int, detail: str | None) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_NETWORK)


def _xml_err(detail: str) -> None:
    _err(c.VIR_ERR_XML_ERROR, detail)


def _tristate_out(flag: bool | None) -> str | None:
    return x.yes_no(flag)


# ---- <ip> and DHCP ------------------------------------------------------------------------


@dataclass
class Lease:
    expiry: int = 0  # 0 = infinite
    unit: str = "minutes"

    @classmethod
    def from_element(cls, node: Element) -> Lease | None:
        value = node.get("expiry")
        if value is None:
            return None
        text = value.strip()
        if not text.isdigit() or int(text) > 2**64 - 1:
            raise_error(c.VIR_ERR_XML_ERROR, "Invalid value for attribute 'expiry' in element "
                        f"'lease': '{value}'. Expected non-negative integer value",
                        domain=c.VIR_FROM_XML)
        expiry = int(text)
        unit = prop_enum(node, "unit", LEASE_UNITS) or "minutes"
        if expiry > 0 and ((unit == "seconds" and expiry < 120) or
                           (unit == "minutes" and expiry < 2)):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "The minimum lease time should be greater "
                 "than 2 minutes")
        return cls(expiry=expiry, unit=unit)

    def format(self, parent: Element) -> None:
        if not self.expiry:
            x.sub(parent, "lease", expiry="0")
        else:
            x.sub(parent, "lease", expiry=self.expiry, unit=self.unit)


@dataclass
class DHCPRange:
    start: str
    end: str
    lease: Lease | None = None


@dataclass
class DHCPHost:
    mac: str | None = None
    id: str | None = None
    name: str | None = None
    ip: str | None = None
    lease: Lease | None = None


@dataclass
class IPDef:
    address: str | None = None
    netmask: str | None = None
    prefix: int = 0  # 0 = not given
    family: str | None = None
    local_ptr: bool | None = None
    tftp_root: str | None = None
    ranges: list[DHCPRange] = field(default_factory=list)
    hosts: list[DHCPHost] = field(default_factory=list)
    bootp_file: str | None = None
    bootp_server: str | None = None

    @property
    def effective_prefix(self) -> int:
        return default_prefix(self.address, self.netmask, self.prefix)

    @property
    def is_ipv6(self) -> bool:
        return is_ipv6(self.address)

    @classmethod
    def from_element(cls, node: Element, net: str) -> IPDef:
        ip = cls(family=node.get("family"))
        address = node.get("address")
        if address is None:
            _xml_err(f"Missing required address attribute in network '{net}'")
        assert address is not None
        ip.address = parse_ip(address)
        if ip.address is None:
            _xml_err(f"Invalid address '{address}' in network '{net}'")
        netmask = node.get("netmask")
        if netmask is not None:
            ip.netmask = parse_ip(netmask)
            if ip.netmask is None:
                _xml_err(f"Invalid netmask '{netmask}' in network '{net}'")
        ip.prefix = prop_uint(node, "prefix") or 0
        ip.local_ptr = prop_tristate(node, "localPtr")
        unsupported = c.VIR_ERR_CONFIG_UNSUPPORTED
        if ip.family in (None, "ipv4"):
            if not is_ipv4(ip.address):
                _err(unsupported, f"{'no' if ip.family is None else 'ipv4'} family specified "
                     f"for non-IPv4 address '{address}' in network '{net}'")
            if netmask is not None:
                if not is_ipv4(ip.netmask):
                    _err(unsupported, f"Invalid netmask '{netmask}' for address '{address}' "
                         f"in network '{net}' (both must be IPv4)")
                if ip.prefix > 0:
                    _err(unsupported, f"Network '{net}' IP address cannot have both a "
                         "prefix and a netmask")
            elif ip.prefix > 32:
                _err(unsupported, f"Invalid IPv4 prefix '{ip.prefix}' in network '{net}'")
        elif ip.family == "ipv6":
            if not is_ipv6(ip.address):
                _err(unsupported, f"Family 'ipv6' specified for non-IPv6 address "
                     f"'{address}' in network '{net}'")
            if netmask is not None:
                _err(unsupported, f"netmask not allowed for IPv6 address '{address}' in "
                     f"network '{net}'")
            if ip.prefix > 128:
                _err(unsupported, f"Invalid IPv6 prefix '{ip.prefix}' in network '{net}'")
        else:
            _xml_err(f"Unrecognized family '{ip.family}' in network '{net}'")
        dhcp = node.find("dhcp")
        if dhcp is not None:
            ip._parse_dhcp(dhcp, net)
        if node.find("tftp") is not None:
            if not is_ipv4(ip.address):
                _err(unsupported, "Unsupported <tftp> element in an IPv6 element in "
                     f"network '{net}'")
            tftp = node.find("tftp")
            assert tftp is not None
            ip.tftp_root = tftp.get("root")
        return ip

    def _parse_dhcp(self, dhcp: Element, net: str) -> None:
        for child in dhcp:
            if child.tag == "range":
                self.ranges.append(self._parse_range(child, net))
            elif child.tag == "host":
                self.hosts.append(self._parse_host(child, net))
            elif child.tag == "bootp" and is_ipv4(self.address):
                file = child.get("file")
                if file is None:
                    continue
                server = child.get("server")
                self.bootp_file = file
                self.bootp_server = check_ip(server) if server is not None else None

    def _parse_range(self, node: Element, net: str) -> DHCPRange:
        start, end = node.get("start"), node.get("end")
        if start is None:
            _xml_err(f"Missing 'start' attribute in dhcp range for network '{net}'")
        assert start is not None
        start_ip = check_ip(start)
        if end is None:
            _xml_err(f"Missing 'end' attribute in dhcp range for network '{net}'")
        assert end is not None
        end_ip = check_ip(end)
        check_range(start_ip, end_ip, self.address, self.effective_prefix)
        lease = None
        for child in node.iterfind("lease"):
            lease = Lease.from_element(child) or lease
        return DHCPRange(start_ip, end_ip, lease)

    def _parse_host(self, node: Element, net: str) -> DHCPHost:
        host = DHCPHost()
        mac = node.get("mac")
        if mac is not None:
            if is_ipv6(self.address):
                _xml_err(f"Invalid to specify MAC address '{mac}' in network '{net}' IPv6 "
                         "static host definition")
            host.mac = parse_mac(mac)
            if host.mac is None:
                _xml_err(f"Cannot parse MAC address '{mac}' in network '{net}'")
            assert host.mac is not None
            if mac_is_multicast(host.mac):
                _xml_err(f"expected unicast mac address, found multicast '{mac}' in "
                         f"network '{net}'")
            host.mac = mac  # libvirt keeps the text as written
        host.id = node.get("id")
        if host.id is not None:
            for ch in host.id:
                if ch not in "0123456789abcdefABCDEF:":
                    _xml_err(f"Invalid character '{ch}' in id '{host.id}' of network '{net}'")
        host.name = node.get("name")
        if host.name is not None and not (host.name[:1].isascii() and host.name[:1].isalnum()):
            _xml_err(f"Cannot use host name '{host.name}' in network '{net}'")
        ip = node.get("ip")
        if ip is not None:
            host.ip = parse_ip(ip)
            if host.ip is None:
                _xml_err(f"Invalid IP address in static host definition for network '{net}'")
        if is_ipv6(self.address):
            if not (host.id or host.name):
                _xml_err(f"Static host definition in IPv6 network '{net}' must have id or "
                         "name attribute")
        elif not (mac or host.name):
            _xml_err(f"Static host definition in IPv4 network '{net}' must have mac or name "
                     "attribute")
        if ip is None:
            _xml_err(f"Missing IP address in static host definition for network '{net}'")
        for child in node.iterfind("lease"):
            host.lease = Lease.from_element(child) or host.lease
        return host

    def format(self, parent: Element) -> None:
        node = x.sub(parent, "ip", family=self.family, address=self.address,
                     netmask=self.netmask, prefix=self.prefix or None,
                     localPtr=_tristate_out(self.local_ptr))
        if self.tftp_root is not None:
            x.sub(node, "tftp", root=self.tftp_root)
        if self.ranges or self.hosts:
            dhcp = x.sub(node, "dhcp")
            for rng in self.ranges:
                r = x.sub(dhcp, "range", start=rng.start, end=rng.end)
                if rng.lease:
                    rng.lease.format(r)
            for host in self.hosts:
                h = x.sub(dhcp, "host", mac=host.mac, id=host.id, name=host.name, ip=host.ip)
                if host.lease:
                    host.lease.format(h)
            if self.bootp_file is not None:
                x.sub(dhcp, "bootp", file=self.bootp_file, server=self.bootp_server)
        if len(node) == 0:
            x.keep_open(node, lines=True)  # libvirt always writes <ip ...>\n</ip>


def check_range(start: str, end: str, network: str | None, prefix: int) -> None:
    """virSocketAddrGetRange's sanity checks (errors are internal errors, as in libvirt)."""
    import ipaddress

    def fail(msg: str) -> None:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, msg, domain=c.VIR_FROM_NONE)

    s, e = ipaddress.ip_address(start), ipaddress.ip_address(end)
    if s.version != e.version:
        fail(f"mismatch of address family in range {start} - {end}")
    if network is not None:
        n = ipaddress.ip_address(network)
        if n.version != s.version:
            fail(f"mismatch of address family in range {start} - {end} for network {network}")
        if prefix < 0:
            fail(f"bad prefix {prefix} for network {network} when  checking range "
                 f"{start} - {end}")
        if not (in_network(start, network, prefix) and in_network(end, network, prefix)):
            fail(f"range {start} - {end} is not entirely within network {network}/{prefix}")
        if s.version == 4:
            net = ipaddress.ip_network(f"{network}/{prefix}", strict=False)
            if s == net.network_address:
                fail(f"start of range {start} - {end} in network {network}/{prefix} is the "
                     "network address")
            if e == net.broadcast_address:
                fail(f"end of range {start} - {end} in network {network}/{prefix} is the "
                     "broadcast address")
    size = int(e) - int(s) + 1
    if s.version == 4 and size > 65535 + 1:
        size = -1
    if size <= 0:
        fail(f"range {start} - {end} is reversed ")


# ---- <dns> --------------------------------------------------------------------------------


@dataclass
class DNSForwarder:
    addr: str | None = None
    domain: str | None = None


@dataclass
class DNSTxt:
    name: str
    value: str | None = None


@dataclass
class DNSSrv:
    service: str | None = None
    protocol: str | None = None
    domain: str | None = None
    target: str | None = None
    port: int = 0
    priority: int = 0
    weight: int = 0


@dataclass
class DNSHost:
    ip: str | None = None
    hostnames: list[str] = field(default_factory=list)


@dataclass
class DNSDef:
    enable: bool | None = None
    forward_plain_names: bool | None = None
    forwarders: list[DNSForwarder] = field(default_factory=list)
    txts: list[DNSTxt] = field(default_factory=list)
    srvs: list[DNSSrv] = field(default_factory=list)
    hosts: list[DNSHost] = field(default_factory=list)

    @classmethod
    def from_element(cls, node: Element, net: str) -> DNSDef:
        dns = cls(enable=prop_tristate(node, "enable"),
                  forward_plain_names=prop_tristate(node, "forwardPlainNames"))
        detail = c.VIR_ERR_XML_DETAIL
        for fwd in node.iterfind("forwarder"):
            addr = fwd.get("addr")
            parsed = None
            if addr is not None:
                parsed = parse_ip(addr)
                if parsed is None:
                    _xml_err(f"Invalid forwarder IP address '{addr}' in network '{net}'")
            domain = fwd.get("domain")
            if addr is None and domain is None:
                _xml_err("Invalid forwarder element, must contain at least one of addr "
                         "or domain")
            dns.forwarders.append(DNSForwarder(parsed, domain))
        for hnode in node.iterfind("host"):
            ip = hnode.get("ip")
            if ip is None:
                _err(detail, f"Missing IP address in network '{net}' DNS HOST record")
            assert ip is not None
            host = DNSHost(ip=parse_ip(ip))
            if host.ip is None:
                _err(detail, f"Invalid IP address in network '{net}' DNS HOST record")
            for name in hnode.iterfind("hostname"):
                if name.text is None:
                    continue
                if not name.text:
                    _err(detail, f"Missing hostname in network '{net}' DNS HOST record")
                host.hostnames.append(name.text)
            if not host.hostnames:
                _err(detail, f"Missing hostname in network '{net}' DNS HOST record")
            dns.hosts.append(host)
        for snode in node.iterfind("srv"):
            dns.srvs.append(_parse_srv(snode, net))
        for tnode in node.iterfind("txt"):
            txt_name = tnode.get("name")
            if txt_name is None:
                _err(detail, f"missing required name attribute in DNS TXT record of "
                     f"network {net}")
            assert txt_name is not None
            if " " in txt_name or "," in txt_name:
                _err(detail, f"prohibited character in DNS TXT record name '{txt_name}' of "
                     f"network {net}")
            value = tnode.get("value")
            if value is None:
                _err(detail, f"missing required value attribute in DNS TXT record named "
                     f"'{txt_name}' of network {net}")
            dns.txts.append(DNSTxt(txt_name, value))
        if dns.enable is False and (dns.forwarders or dns.hosts or dns.srvs or dns.txts):
            _xml_err(f"Extra data in disabled network '{net}'")
        return dns

    def format(self, parent: Element) -> None:
        if not (self.enable is not None or self.forward_plain_names is not None
                or self.forwarders or self.hosts or self.srvs or self.txts):
            return
        node = x.sub(parent, "dns", enable=_tristate_out(self.enable),
                     forwardPlainNames=_tristate_out(self.forward_plain_names))
        for fwd in self.forwarders:
            x.sub(node, "forwarder", domain=fwd.domain, addr=fwd.addr)
        for txt in self.txts:
            x.sub(node, "txt", name=txt.name, value=txt.value)
        for srv in self.srvs:
            if srv.service and srv.protocol:
                x.sub(node, "srv", service=srv.service, protocol=srv.protocol,
                      domain=srv.domain, target=srv.target, port=srv.port or None,
                      priority=srv.priority or None, weight=srv.weight or None)
        for host in self.hosts:
            h = x.sub(node, "host", ip=host.ip)
            for name in host.hostnames:
                x.sub(h, "hostname", name)
            if not host.hostnames:
                x.keep_open(h, lines=True)


def _parse_srv(node: Element, net: str) -> DNSSrv:
    detail = c.VIR_ERR_XML_DETAIL
    srv = DNSSrv(service=node.get("service"))
    if srv.service is None:
        _err(detail, f"missing required service attribute in DNS SRV record of network '{net}'")
    assert srv.service is not None
    if len(srv.service) > DNS_RECORD_LENGTH_SRV:
        _err(detail, f"service attribute '{srv.service}' in network '{net}' is too long, "
             f"limit is {DNS_RECORD_LENGTH_SRV} bytes")
    if not set(srv.service) <= _SERVICE_CHARS:
        _err(detail, f"invalid character in service attribute '{srv.service}' in DNS SRV "
             f"record of network '{net}'")
    srv.protocol = node.get("protocol")
    if srv.protocol is None:
        _err(detail, f"missing required protocol attribute in DNS SRV record "
             f"'{srv.service}' of network '{net}'")
    assert srv.protocol is not None
    if not set(srv.protocol) <= _PROTOCOL_CHARS:
        _err(detail, f"invalid character in protocol attribute '{srv.protocol}' in DNS SRV "
             f"record of network '{net}'")
    srv.domain = node.get("domain")
    srv.target = node.get("target")
    for attr, low in (("port", 1), ("priority", 0), ("weight", 0)):
        value = node.get(attr)
        if value is None:
            continue
        word = {"port": "invalid", "priority": "Invalid", "weight": "invalid"}[attr]
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number >= 0 and srv.target is None:
            _err(detail, f"DNS SRV {attr} attribute not permitted without target for service "
                 f"'{srv.service}' in network '{net}'")
        if number < low or number > 65535:
            _err(detail, f"{word} DNS SRV {attr} attribute for service '{srv.service}' in "
                 f"network '{net}'")
        setattr(srv, attr, number)
    return srv


# ---- <forward> ----------------------------------------------------------------------------


@dataclass
class PCIAddress:
    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @classmethod
    def from_element(cls, node: Element) -> PCIAddress:
        vals = {k: prop_uint(node, k, base=0) or 0 for k in ("domain", "bus", "slot",
                                                            "function")}
        return cls(**vals)

    def format(self, parent: Element) -> None:
        x.sub(parent, "address", type="pci", domain=f"0x{self.domain:04x}",
              bus=f"0x{self.bus:02x}", slot=f"0x{self.slot:02x}",
              function=f"0x{self.function:d}")


@dataclass
class ForwardInterface:
    dev: str
    connections: int = 0


@dataclass
class NatDef:
    ipv6: bool | None = None
    address_start: str | None = None
    address_end: str | None = None
    port_start: int = 0
    port_end: int = 0

    def is_empty(self) -> bool:
        return not (self.address_start or self.address_end or self.port_start
                    or self.port_end or self.ipv6 is not None)


@dataclass
class ForwardDef:
    mode: str = "nat"
    managed: bool = False
    driver: str | None = None  # 'kvm' / 'vfio'
    interfaces: list[ForwardInterface] = field(default_factory=list)
    addresses: list[PCIAddress] = field(default_factory=list)
    pfs: list[str] = field(default_factory=list)
    nat: NatDef = field(default_factory=NatDef)

    @property
    def dev(self) -> str | None:
        """The forward device (first <interface>), as libvirt's virNetworkDefForwardIf."""
        if self.pfs or not self.interfaces:
            return None
        return self.interfaces[0].dev

    @classmethod
    def from_element(cls, node: Element, net: str) -> ForwardDef:
        fwd = cls()
        mode = node.get("mode")
        if mode is not None:
            if mode not in FORWARD_MODES:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown forwarding type '{mode}'")
            fwd.mode = mode
        managed = node.get("managed")
        fwd.managed = managed is not None and managed.lower() == "yes"
        drv = node.find("driver")
        if drv is not None and drv.get("name") is not None:
            name = drv.get("name")
            if name not in ("kvm", "vfio"):
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     f"Unknown forward <driver name='{name}'/> in network {net}")
            fwd.driver = name
        if_nodes = node.findall("interface")
        addr_nodes = node.findall("address")
        pf_nodes = node.findall("pf")
        nat_nodes = node.findall("nat")
        if len(nat_nodes) > 1:
            _xml_err(f"Only one <nat> element is allowed in <forward> of network {net}")
        if nat_nodes:
            fwd._parse_nat(nat_nodes[0], net)
        dev = node.get("dev")
        if dev is not None and (addr_nodes or pf_nodes):
            # libvirt's own message has an unfilled "%s" here.
            _xml_err("the <forward> 'dev' attribute cannot be used when <address> or <pf> "
                     "sub-elements are present in network %s")
        if if_nodes or dev is not None:
            if dev is not None:
                fwd.interfaces.append(ForwardInterface(dev))
            for i, inode in enumerate(if_nodes):
                idev = inode.get("dev")
                if idev is None:
                    _xml_err(f"Missing required dev attribute in <forward> <interface> "
                             f"element of network {net}")
                assert idev is not None
                if i == 0 and dev is not None:
                    if idev != dev:
                        _xml_err(f"<forward dev='{dev}'> must match first <interface "
                                 f"dev='{idev}'/> in network {net}")
                    continue
                if any(f.dev == idev for f in fwd.interfaces[:i]):
                    _xml_err(f"interface '{idev}' can only be listed once in network {net}")
                fwd.interfaces.append(ForwardInterface(idev))
        elif addr_nodes:
            for anode in addr_nodes:
                atype = anode.get("type")
                if atype is None:
                    _xml_err(f"missing address type in network {net}")
                if atype not in ("pci", "netdev", "none"):
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                         f"unknown address type '{atype}' in network {net}")
                if atype != "pci":
                    _xml_err(f"unsupported address type '{atype}' in network {net}")
                addr = PCIAddress.from_element(anode)
                if addr in fwd.addresses:
                    _xml_err(f"PCI device '{addr}' can only be listed once in network {net}")
                fwd.addresses.append(addr)
        elif len(pf_nodes) > 1:
            _xml_err(f"Only one <pf> element is allowed in <forward> of network {net}")
        elif pf_nodes:
            pf_dev = pf_nodes[0].get("dev")
            if pf_dev is None:
                _xml_err(f"Missing required dev attribute in <pf> element of network '{net}'")
            assert pf_dev is not None
            fwd.pfs.append(pf_dev)
        return fwd

    def _parse_nat(self, node: Element, net: str) -> None:
        if self.mode != "nat":
            _xml_err(f"The <nat> element can only be used when <forward> 'mode' is 'nat' in "
                     f"network {net}")
        self.nat.ipv6 = prop_tristate(node, "ipv6")
        addrs = node.findall("address")
        if len(addrs) > 1:
            _xml_err(f"Only one <address> element is allowed in <nat> in <forward> in "
                     f"network {net}")
        if addrs:
            start, end = addrs[0].get("start"), addrs[0].get("end")
            if start is None:
                _xml_err(f"missing 'start' attribute in <address> element in <nat> in "
                         f"<forward> in network {net}")
            if end is None:
                _xml_err(f"missing 'end' attribute in <address> element in <nat> in "
                         f"<forward> in network {net}")
            assert start is not None and end is not None
            self.nat.address_start = parse_ip(start) if is_ipv4(start) else None
            if self.nat.address_start is None:
                _xml_err(f"Bad ipv4 start address '{start}' in <nat> in <forward> in "
                         f"network '{net}'")
            self.nat.address_end = parse_ip(end) if is_ipv4(end) else None
            if self.nat.address_end is None:
                _xml_err(f"Bad ipv4 end address '{end}' in <nat> in <forward> in "
                         f"network '{net}'")
            assert self.nat.address_start and self.nat.address_end
            check_range(self.nat.address_start, self.nat.address_end, None, 0)
        ports = node.findall("port")
        if len(ports) > 1:
            _xml_err(f"Only one <port> element is allowed in <nat> in <forward> in "
                     f"network {net}")
        if ports:
            start_s, end_s = ports[0].get("start"), ports[0].get("end")
            try:
                start_p = int(start_s) if start_s is not None else -1
            except ValueError:
                start_p = -1
            if not 0 <= start_p <= 65535:
                _err(c.VIR_ERR_XML_DETAIL, f"Missing or invalid 'start' attribute in <port> "
                     f"in <nat> in <forward> in network {net}")
            try:
                end_p = int(end_s) if end_s is not None else -1
            except ValueError:
                end_p = -1
            if not 0 <= end_p <= 65535 or end_p < start_p:
                _err(c.VIR_ERR_XML_DETAIL, f"Missing or invalid 'end' attribute in <port> in "
                     f"<nat> in <forward> in network {net}")
            self.nat.port_start, self.nat.port_end = start_p, end_p

    def format(self, parent: Element, inactive: bool) -> None:
        node = x.sub(parent, "forward", dev=self.dev, mode=self.mode)
        if self.mode == "hostdev":
            node.set("managed", "yes" if self.managed else "no")
        if self.driver:
            x.sub(node, "driver", name=self.driver)
        if self.mode == "nat" and not self.nat.is_empty():
            nat = self.nat
            n = x.sub(node, "nat", ipv6=_tristate_out(nat.ipv6))
            if nat.address_start:
                x.sub(n, "address", start=nat.address_start, end=nat.address_end)
            if nat.port_start or nat.port_end:
                x.sub(n, "port", start=nat.port_start, end=nat.port_end or None)
        if self.pfs:
            x.sub(node, "pf", dev=self.pfs[0])
        if not self.pfs or not inactive:
            for iface in self.interfaces:
                conns = iface.connections if (not inactive and iface.connections > 0) else None
                x.sub(node, "interface", dev=iface.dev, connections=conns)
            for addr in self.addresses:
                addr.format(node)


# ---- <portgroup> --------------------------------------------------------------------------


@dataclass
class PortGroup:
    name: str
    default: bool = False
    trust_guest_rx_filters: bool | None = None
    vlan: Vlan | None = None
    virtualport: VirtualPort | None = None
    bandwidth: Bandwidth | None = None

    @classmethod
    def from_element(cls, node: Element) -> PortGroup:
        name = node.get("name")
        if name is None:
            _xml_err("Missing required name attribute in portgroup")
        assert name is not None
        default = node.get("default")
        pg = cls(name=name, default=default is not None and default.lower() == "yes",
                 trust_guest_rx_filters=prop_tristate(node, "trustGuestRxFilters"))
        vport = node.find("virtualport")
        if vport is not None:
            pg.virtualport = VirtualPort.from_element(vport)
        bw = node.find("bandwidth")
        if bw is not None:
            pg.bandwidth = Bandwidth.from_element(bw)
        vlan = node.find("vlan")
        if vlan is not None:
            pg.vlan = Vlan.from_element(vlan)
        return pg

    def format(self, parent: Element) -> None:
        node = x.sub(parent, "portgroup", name=self.name,
                     default="yes" if self.default else None,
                     trustGuestRxFilters=_tristate_out(self.trust_guest_rx_filters))
        if self.vlan:
            self.vlan.format(node)
        if self.virtualport:
            self.virtualport.format(node)
        if self.bandwidth:
            self.bandwidth.format(node)
        if len(node) == 0:
            x.keep_open(node, lines=True)


# ---- <bridge> and the network itself ------------------------------------------------------


@dataclass
class BridgeDef:
    name: str | None = None
    zone: str | None = None
    stp: bool = True
    delay: int = 0
    macTableManager: str | None = None  # noqa: N815 - libvirt's attribute name
    stp_given: bool = False  # an explicit stp= (only allowed for L3 modes)


@dataclass
class NetworkDef:
    name: str = ""
    uuid: str = ""
    uuid_specified: bool = False
    connections: int = 0
    ipv6: bool = False  # guest-to-guest IPv6 without a gateway address
    trust_guest_rx_filters: bool | None = None
    metadata: Element | None = None
    forward: ForwardDef | None = None
    bridge: BridgeDef = field(default_factory=BridgeDef)
    mtu: int | None = None
    mac: str | None = None
    domain: str | None = None
    domain_local_only: bool | None = None
    dns: DNSDef = field(default_factory=DNSDef)
    vlan: Vlan | None = None
    bandwidth: Bandwidth | None = None
    isolated_port: bool | None = None
    ips: list[IPDef] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    virtualport: VirtualPort | None = None
    portgroups: list[PortGroup] = field(default_factory=list)
    dnsmasq_options: list[str] = field(default_factory=list)

    @property
    def forward_mode(self) -> str | None:
        return None if self.forward is None else self.forward.mode

    # ---- parsing ----

    @classmethod
    def from_xml(cls, text: str | bytes, validate_schema: bool = False) -> NetworkDef:
        root = x.parse_document(text, "network", "(network_definition)", c.VIR_FROM_NETWORK)
        if validate_schema:
            from pyvirt.conf.network import schema

            schema.validate(root, "network.rng")
        return cls.from_element(root)

    @classmethod
    def from_element(cls, root: Element) -> NetworkDef:
        net = cls()
        name = root.findtext("name")
        if name is None or name == "":
            raise_error(c.VIR_ERR_NO_NAME, None, domain=c.VIR_FROM_NETWORK)
        assert name is not None
        if "/" in name:
            raise_error(c.VIR_ERR_XML_DETAIL, "invalid char in name: /", domain=c.VIR_FROM_XML)
        net.name = name
        uuid = root.findtext("uuid")
        if uuid is None or uuid == "":
            net.uuid = x.new_uuid()
        else:
            parsed = x.parse_uuid(uuid)
            if parsed is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, "malformed uuid element")
            assert parsed is not None
            net.uuid, net.uuid_specified = parsed, True
        conns = root.get("connections")
        if conns is not None and conns.isdigit():
            net.connections = int(conns)
        ipv6 = root.get("ipv6")
        if ipv6 is not None:
            if ipv6 not in ("yes", "no"):
                _xml_err(f"Invalid ipv6 setting '{ipv6}' in network '{name}'")
            net.ipv6 = ipv6 == "yes"
        net.trust_guest_rx_filters = prop_tristate(root, "trustGuestRxFilters")
        dom = root.find("domain")
        if dom is not None:
            net.domain = dom.get("name")
            net.domain_local_only = prop_tristate(dom, "localOnly")
        bw = root.find("bandwidth")
        if bw is not None:
            net.bandwidth = Bandwidth.from_element(bw)
        vlan = root.find("vlan")
        if vlan is not None:
            net.vlan = Vlan.from_element(vlan)
        net.isolated_port = prop_tristate(root.find("port"), "isolated")
        br = root.find("bridge")
        stp_given = False
        if br is not None:
            net.bridge.name = br.get("name")
            net.bridge.zone = br.get("zone")
            stp = br.get("stp")
            stp_given = stp is not None
            net.bridge.stp = stp != "off"
            delay = br.get("delay")
            if delay is not None:
                net.bridge.delay = parse_uint(
                    delay, f"Invalid delay value in network '{name}'",
                    domain=c.VIR_FROM_NETWORK, maximum=2**64 - 1) or 0
            mtm = br.get("macTableManager")
            if mtm is not None:
                if mtm not in MAC_TABLE_MANAGERS:
                    _xml_err(f"Invalid macTableManager setting '{mtm}' in network '{name}'")
                net.bridge.macTableManager = mtm
        net.bridge.stp_given = stp_given
        mac_node = root.find("mac")
        if mac_node is not None and mac_node.get("address") is not None:
            text = mac_node.get("address", "")
            mac = parse_mac(text)
            if mac is None:
                _xml_err(f"Invalid bridge mac address '{text}' in network '{name}'")
            assert mac is not None
            if mac_is_multicast(mac):
                _xml_err(f"Invalid multicast bridge mac address '{text}' in network '{name}'")
            net.mac = mac
        mtu = root.find("mtu")
        if mtu is not None and mtu.get("size") is not None:
            size = mtu.get("size", "")
            net.mtu = parse_uint(size, f"Invalid mtu size '{size}' in network '{name}'",
                                 domain=c.VIR_FROM_NETWORK) or None
        dns = root.find("dns")
        if dns is not None:
            net.dns = DNSDef.from_element(dns, name)
        vport = root.find("virtualport")
        if vport is not None:
            net.virtualport = VirtualPort.from_element(vport, require_type=True)
        net.portgroups = [PortGroup.from_element(pg) for pg in root.iterfind("portgroup")]
        net.ips = [IPDef.from_element(ip, name) for ip in root.iterfind("ip")]
        net.routes = [Route.from_element(r, name) for r in root.iterfind("route")]
        net._check_routes()
        fwd = root.find("forward")
        if fwd is not None:
            net.forward = ForwardDef.from_element(fwd, name)
        net._check_forward(stp_given)
        meta = root.find("metadata")
        if meta is not None:
            net.metadata = _copy.deepcopy(meta)
        for opts in root.iterfind(f"{{{DNSMASQ_NS}}}options"):
            for opt in opts.iterfind(f"{{{DNSMASQ_NS}}}option"):
                value = opt.get("value")
                if value is None:
                    _err(c.VIR_ERR_INTERNAL_ERROR, "No dnsmasq options value specified")
                assert value is not None
                net.dnsmasq_options.append(value)
        return net

    def _check_routes(self) -> None:
        import ipaddress

        for route in self.routes:
            ok = False
            for ip in self.ips:
                if ip.address is None or is_ipv4(ip.address) != is_ipv4(route.gateway):
                    continue
                prefix = ip.effective_prefix
                if prefix >= 0 and ipaddress.ip_network(f"{ip.address}/{prefix}",
                                                        strict=False) == \
                        ipaddress.ip_network(f"{route.gateway}/{prefix}", strict=False):
                    ok = True
                    break
            if not ok:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     f"unreachable static route gateway '{route.gateway}' specified for "
                     f"network '{self.name}'")

    def _check_forward(self, stp_given: bool) -> None:
        mode = self.forward_mode
        fwd = self.forward
        if fwd is not None and mode in ("route", "nat", "open"):
            if not self.ips:
                _xml_err(f"{mode} forwarding requested, but no IP address provided for "
                         f"network '{self.name}'")
            if len(fwd.interfaces) > 1:
                _xml_err(f"multiple forwarding interfaces specified for network "
                         f"'{self.name}', only one is supported")
            if mode == "open" and fwd.interfaces:
                _xml_err(f"forward dev not allowed for network '{self.name}' with forward "
                         f"mode='{mode}'")
        elif fwd is not None:
            br = self.bridge
            if mode in ("private", "vepa", "passthrough", "hostdev"):
                if br.name:
                    _xml_err(f"bridge name not allowed in {mode} mode (network "
                             f"'{self.name}')")
                if br.zone:
                    _xml_err(f"bridge zone not allowed in {mode} mode (network "
                             f"'{self.name}')")
                if br.macTableManager:
                    _xml_err(f"bridge macTableManager setting not allowed in {mode} mode "
                             f"(network '{self.name}')")
            if br.delay or stp_given or br.zone:
                _xml_err(f"bridge delay/stp/zone options only allowed in route, nat, and "
                         f"isolated mode, not in {mode} (network '{self.name}')")
            if br.name and (fwd.interfaces or fwd.addresses or fwd.pfs):
                _xml_err(f"A network with forward mode='{mode}' can specify a bridge name or "
                         f"a forward dev, but not both (network '{self.name}')")
        if self.mtu and mode not in L3_MODES:
            _xml_err(f"mtu size only allowed in open, route, nat, and isolated mode, not in "
                     f"{mode} (network '{self.name}')")

    # ---- formatting ----

    def to_element(self, inactive: bool = False) -> Element:
        nsmap: dict[str | None, str] | None = (
            {"dnsmasq": DNSMASQ_NS} if self.dnsmasq_options else None)
        root = x.element("network", nsmap=nsmap)
        if not inactive and self.connections > 0:
            root.set("connections", str(self.connections))
        if self.ipv6:
            root.set("ipv6", "yes")
        if self.trust_guest_rx_filters is not None:
            root.set("trustGuestRxFilters", x.yes_no(self.trust_guest_rx_filters) or "")
        x.sub(root, "name", self.name)
        x.sub(root, "uuid", self.uuid)
        if self.metadata is not None:
            _format_metadata(root, self.metadata)
        mode = self.forward_mode
        if self.forward is not None:
            self.forward.format(root, inactive)
        has_bridge = mode in L3_MODES
        br = self.bridge
        if has_bridge or br.name or br.macTableManager:
            node = x.sub(root, "bridge", name=br.name, zone=br.zone)
            if has_bridge:
                node.set("stp", "on" if br.stp else "off")
                node.set("delay", str(br.delay))
            if br.macTableManager:
                node.set("macTableManager", br.macTableManager)
        if self.mtu:
            x.sub(root, "mtu", size=self.mtu)
        if self.mac:
            x.sub(root, "mac", address=self.mac)
        if self.domain:
            x.sub(root, "domain", name=self.domain,
                  localOnly=_tristate_out(self.domain_local_only))
        self.dns.format(root)
        if self.vlan:
            self.vlan.format(root)
        if self.bandwidth:
            self.bandwidth.format(root)
        if self.isolated_port is not None:
            x.sub(root, "port", isolated=x.yes_no(self.isolated_port))
        for ip in self.ips:
            ip.format(root)
        for route in self.routes:
            route.format(root)
        if self.virtualport:
            self.virtualport.format(root)
        for pg in self.portgroups:
            pg.format(root)
        if self.dnsmasq_options:
            opts = etree.SubElement(root, f"{{{DNSMASQ_NS}}}options")
            for value in self.dnsmasq_options:
                etree.SubElement(opts, f"{{{DNSMASQ_NS}}}option").set("value", value)
        return root

    def to_xml(self, inactive: bool = False) -> str:
        return x.to_string(self.to_element(inactive=inactive))

    def copy(self) -> NetworkDef:
        return _copy.deepcopy(self)


def _format_metadata(root: Element, meta: Element) -> None:
    """<metadata> children are printed as libxml2 dumps them (double quotes, own xmlns)."""
    node = x.sub(root, "metadata")
    parts = []
    for child in meta:
        if not isinstance(child.tag, str):
            continue
        clone = _copy.deepcopy(child)
        clone.tail = None
        etree.cleanup_namespaces(clone)
        parts.append(etree.tostring(clone, encoding="unicode"))
    if parts:
        x.raw(node, "\n".join(parts))
