"""Network-device building blocks shared by network, portgroup and interface XML:
<bandwidth>, <vlan>, <virtualport>, <route>, plus IP and MAC address helpers.

Formats follow libvirt's netdev_bandwidth_conf.c, netdev_vlan_conf.c,
netdev_vport_profile_conf.c and virnetdevip.c.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error


def _err(code: int, detail: str, domain: int = c.VIR_FROM_NONE) -> None:
    raise_error(code, detail, domain=domain)


# ---- addresses ----------------------------------------------------------------------------


def ip_family(text: str) -> int | None:
    """socket.AF_INET / AF_INET6 for a numeric address, None when it is not one."""
    import socket  # here, not at the top: parsing a domain seldom meets an address

    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return family
        except (OSError, ValueError):
            continue
    return None


def parse_ip(text: str) -> str | None:
    """Canonical text of a numeric IP address (as libvirt prints it), None when invalid."""
    family = ip_family(text.strip()) if text else None
    if family is None:
        return None
    import socket

    return socket.inet_ntop(family, socket.inet_pton(family, text.strip()))


def check_ip(text: str, domain: int = c.VIR_FROM_NONE) -> str:
    """parse_ip or libvirt's virSocketAddrParse error."""
    addr = parse_ip(text)
    if addr is None:
        _err(c.VIR_ERR_SYSTEM_ERROR, f"Cannot parse socket address '{text}'", domain)
    assert addr is not None
    return addr


def is_ipv4(addr: str | None) -> bool:
    import socket

    return addr is not None and ip_family(addr) == socket.AF_INET


def is_ipv6(addr: str | None) -> bool:
    import socket

    return addr is not None and ip_family(addr) == socket.AF_INET6


def netmask_prefix(netmask: str) -> int | None:
    """Prefix length of a contiguous netmask, None when not contiguous."""
    try:
        net = ipaddress.ip_network(f"0.0.0.0/{netmask}" if is_ipv4(netmask) else
                                   f"::/{netmask}")
    except ValueError:
        return None
    return net.prefixlen


def default_prefix(address: str | None, netmask: str | None, prefix: int | None) -> int:
    """libvirt's virSocketAddrGetIPPrefix: explicit prefix, netmask, or the class default."""
    if prefix:
        return prefix
    if netmask:
        bits = netmask_prefix(netmask)
        return -1 if bits is None else bits
    if address is None:
        return 0
    if is_ipv4(address):
        first = int(address.split(".")[0])
        if first < 128:
            return 8
        if first < 192:
            return 16
        if first < 224:
            return 24
        return -1
    if is_ipv6(address):
        return 64 if address != "::" else 0
    return -1


def in_network(addr: str, network: str, prefix: int) -> bool:
    try:
        net = ipaddress.ip_network(f"{network}/{prefix}", strict=False)
        return ipaddress.ip_address(addr) in net
    except ValueError:
        return False


def parse_mac(text: str) -> str | None:
    """Canonical (lower-case, two digits per byte) MAC, None when invalid."""
    parts = text.split(":")
    if len(parts) != 6:
        return None
    out = []
    for part in parts:
        if not 1 <= len(part) <= 2 or any(ch not in "0123456789abcdefABCDEF" for ch in part):
            return None
        out.append(f"{int(part, 16):02x}")
    return ":".join(out)


def mac_is_multicast(mac: str) -> bool:
    return bool(int(mac[:2], 16) & 1)


def parse_uint(value: str | None, what_msg: str, code: int = c.VIR_ERR_XML_ERROR,
               domain: int = c.VIR_FROM_NONE, base: int = 10,
               maximum: int = 2**32 - 1) -> int | None:
    """Unsigned integer attribute; ``what_msg`` is the full error text on failure."""
    if value is None:
        return None
    text = value.strip()
    try:
        number = int(text, base) if base else int(text, 0)
    except ValueError:
        number = -1
    if number < 0 or number > maximum or text.startswith(("+", "-")):
        _err(code, what_msg, domain)
    return number


def _prop_err(node: Element, attr: str, tail: str) -> None:
    """virXMLProp*'s wording; these errors come from libvirt's XML module."""
    raise_error(c.VIR_ERR_XML_ERROR,
                f"Invalid value for attribute '{attr}' in element '{x.local_name(node)}': {tail}",
                domain=c.VIR_FROM_XML)


def prop_missing(node: Element, attr: str) -> None:
    raise_error(c.VIR_ERR_XML_ERROR,
                f"Missing required attribute '{attr}' in element '{x.local_name(node)}'",
                domain=c.VIR_FROM_XML)


def prop_uint(node: Element, attr: str, *, required: bool = False, nonzero: bool = False,
              base: int = 10) -> int | None:
    """virXMLPropUInt: an unsigned int attribute, None when absent."""
    value = node.get(attr)
    if value is None:
        if required:
            prop_missing(node, attr)
        return None
    try:
        number = int(value.strip(), base)
        ok = 0 <= number <= 2**32 - 1 and not value.strip().startswith(("+", "-"))
    except ValueError:
        ok = False
        number = 0
    if not ok:
        _prop_err(node, attr, f"'{value}'. Expected non-negative integer value")
    if nonzero and number == 0:
        _prop_err(node, attr, "Zero is not permitted")
    return number


def prop_int(node: Element, attr: str) -> int | None:
    """virXMLPropInt: a signed int attribute, None when absent."""
    value = node.get(attr)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        _prop_err(node, attr, f"'{value}'. Expected integer value")
    return None


def prop_enum(node: Element | None, attr: str, values: tuple[str, ...],
              required: bool = False) -> str | None:
    """virXMLPropEnum: one of ``values``, None when absent."""
    if node is None:
        return None
    value = node.get(attr)
    if value is None:
        if required:
            prop_missing(node, attr)
        return None
    if value not in values:
        _prop_err(node, attr, f"'{value}'.")
    return value


def prop_tristate(node: Element | None, attr: str) -> bool | None:
    """virXMLPropTristateBool: yes/no, None when absent."""
    value = prop_enum(node, attr, ("yes", "no"))
    return None if value is None else value == "yes"


# ---- <bandwidth> --------------------------------------------------------------------------


@dataclass
class BandwidthRate:
    average: int = 0
    peak: int = 0
    floor: int = 0
    burst: int = 0

    @classmethod
    def from_element(cls, node: Element) -> BandwidthRate:
        average, peak = node.get("average"), node.get("peak")
        burst, floor = node.get("burst"), node.get("floor")
        rate = cls()

        def num(value: str, name: str) -> int:
            n = parse_uint(value, f"could not convert bandwidth {name} value '{value}'",
                           c.VIR_ERR_CONFIG_UNSUPPORTED, maximum=2**64 - 1)
            assert n is not None
            return n

        if average is not None:
            rate.average = num(average, "average")
        elif floor is None:
            _err(c.VIR_ERR_XML_DETAIL, "Missing mandatory average or floor attributes")
        if (peak is not None or burst is not None) and average is None:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "'peak' and 'burst' require 'average' attribute")
        if peak is not None:
            rate.peak = num(peak, "peak")
        if burst is not None:
            rate.burst = num(burst, "burst")
        if floor is not None:
            rate.floor = num(floor, "floor")
        return rate

    def format(self, parent: Element, tag: str) -> None:
        if not (self.average or self.floor):
            return
        x.sub(parent, tag, average=self.average or None, peak=self.peak or None,
              floor=self.floor or None, burst=self.burst or None)


@dataclass
class Bandwidth:
    inbound: BandwidthRate | None = None
    outbound: BandwidthRate | None = None

    @classmethod
    def from_element(cls, node: Element, allow_floor: bool = False) -> Bandwidth | None:
        inbound = outbound = None
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "inbound":
                if inbound is not None:
                    _err(c.VIR_ERR_XML_DETAIL, "Only one child <inbound> element allowed")
                inbound = child
            elif child.tag == "outbound":
                if outbound is not None:
                    _err(c.VIR_ERR_XML_DETAIL, "Only one child <outbound> element allowed")
                outbound = child
        bw = cls()
        if inbound is not None:
            bw.inbound = BandwidthRate.from_element(inbound)
            if bw.inbound.floor and not allow_floor:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     "floor attribute is not supported for this config")
        if outbound is not None:
            bw.outbound = BandwidthRate.from_element(outbound)
            if bw.outbound.floor:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                     "'floor' attribute allowed only in <inbound> element")
        if bw.inbound is None and bw.outbound is None:
            return None
        return bw

    def format(self, parent: Element) -> None:
        node = x.sub(parent, "bandwidth")
        if self.inbound:
            self.inbound.format(node, "inbound")
        if self.outbound:
            self.outbound.format(node, "outbound")
        if len(node) == 0:
            x.keep_open(node, lines=True)  # libvirt prints <bandwidth>\n</bandwidth>


# ---- <vlan> -------------------------------------------------------------------------------


@dataclass
class Vlan:
    tags: list[int] = field(default_factory=list)
    trunk: bool = False
    native_mode: str | None = None  # 'tagged' / 'untagged'
    native_tag: int = 0

    @classmethod
    def from_element(cls, node: Element) -> Vlan:
        tags = node.findall("tag")
        if not tags:
            _err(c.VIR_ERR_XML_ERROR,
                 "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement")
        vlan = cls()
        for tag in tags:
            tag_id = prop_uint(tag, "id", required=True)
            assert tag_id is not None
            if tag_id > 4095:
                _err(c.VIR_ERR_XML_ERROR, f"vlan tag id {tag_id} too large (maximum 4095)")
            vlan.tags.append(tag_id)
            mode = prop_enum(tag, "nativeMode", ("tagged", "untagged"))
            if mode is not None:
                if vlan.native_mode is not None:
                    _err(c.VIR_ERR_XML_ERROR, "duplicate native vlan setting")
                vlan.native_mode = mode
                vlan.native_tag = tag_id
        vlan.trunk = len(tags) > 1
        trunk = node.get("trunk")
        if trunk is not None:
            vlan.trunk = trunk.lower() == "yes"
            if not vlan.trunk:
                if len(tags) > 1:
                    _err(c.VIR_ERR_XML_ERROR,
                         f"invalid \"trunk='{trunk}'\" in <vlan> - trunk='yes' is required "
                         "for more than one vlan tag")
                if vlan.native_mode is not None:
                    _err(c.VIR_ERR_XML_ERROR,
                         "invalid configuration in <vlan> - \"trunk='no'\" is not allowed "
                         "with a native vlan id")
                if trunk.lower() != "no":
                    _err(c.VIR_ERR_XML_ERROR,
                         f"invalid \"trunk='{trunk}'\" in <vlan> - must be yes or no")
        return vlan

    def format(self, parent: Element) -> None:
        if not self.tags:
            return
        node = x.sub(parent, "vlan", trunk="yes" if self.trunk else None)
        for tag in self.tags:
            native = self.native_mode if (self.native_mode and tag == self.native_tag) else None
            x.sub(node, "tag", id=tag, nativeMode=native)


# ---- <virtualport> ------------------------------------------------------------------------

VPORT_TYPES = ("802.1Qbg", "802.1Qbh", "openvswitch", "midonet")


@dataclass
class VirtualPort:
    type: str | None = None
    managerid: int | None = None
    typeid: int | None = None
    typeidversion: int | None = None
    instanceid: str | None = None
    profileid: str | None = None
    interfaceid: str | None = None

    @classmethod
    def from_element(cls, node: Element, require_type: bool = False) -> VirtualPort:
        vport = cls()
        vtype = node.get("type")
        if vtype is not None:
            if vtype not in VPORT_TYPES:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown virtualport type {vtype}")
            vport.type = vtype
        elif require_type:
            _err(c.VIR_ERR_XML_ERROR, "missing required virtualport type")
        params = node.find("parameters")
        if params is not None:
            for attr, limit in (("managerid", 0xFF), ("typeid", 0xFFFFFF),
                                ("typeidversion", 0xFF)):
                value = params.get(attr)
                if value is None:
                    continue
                try:
                    number = int(value, 0)
                except ValueError:
                    number = -1
                if number < 0:
                    _err(c.VIR_ERR_XML_ERROR, f"cannot parse value of {attr} parameter")
                if number > limit:
                    where = "for" if attr == "typeid" else "of"
                    _err(c.VIR_ERR_XML_ERROR, f"value {where} {attr} out of range")
                setattr(vport, attr, number)
            for attr in ("instanceid", "interfaceid"):
                value = params.get(attr)
                if value is None:
                    continue
                parsed = x.parse_uuid(value)
                if parsed is None:
                    _err(c.VIR_ERR_XML_ERROR, f"cannot parse {attr} parameter as a uuid")
                setattr(vport, attr, parsed)
            profile = params.get("profileid")
            if profile is not None:
                if len(profile) >= 40:
                    _err(c.VIR_ERR_XML_ERROR, "profileid parameter too long")
                vport.profileid = profile or None
        return vport

    def format(self, parent: Element) -> None:
        t = self.type
        none = t is None
        attrs: dict[str, str | int | None] = {}
        if self.managerid is not None and (none or t == "802.1Qbg"):
            attrs["managerid"] = self.managerid
        if self.typeid is not None and (none or t == "802.1Qbg"):
            attrs["typeid"] = self.typeid
        if self.typeidversion is not None and (none or t == "802.1Qbg"):
            attrs["typeidversion"] = self.typeidversion
        if self.instanceid is not None and (none or t == "802.1Qbg"):
            attrs["instanceid"] = self.instanceid
        if self.interfaceid is not None and (none or t in ("midonet", "openvswitch")):
            attrs["interfaceid"] = self.interfaceid
        if self.profileid and (none or t in ("openvswitch", "802.1Qbh")):
            attrs["profileid"] = self.profileid
        has_params = any(v is not None for v in (self.managerid, self.typeid,
                                                  self.typeidversion, self.instanceid,
                                                  self.interfaceid)) or bool(self.profileid)
        if not has_params:
            if t is not None:
                x.sub(parent, "virtualport", type=t)
            return
        node = x.sub(parent, "virtualport", type=t)
        x.sub(node, "parameters", **attrs)


# ---- <route> ------------------------------------------------------------------------------


@dataclass
class Route:
    address: str
    gateway: str
    family: str | None = None
    netmask: str | None = None
    prefix: int | None = None
    metric: int | None = None

    @classmethod
    def from_element(cls, node: Element, where: str) -> Route:
        family = node.get("family")
        address = node.get("address")
        netmask = node.get("netmask")
        gateway = node.get("gateway")
        prefix = prop_uint(node, "prefix")
        metric = prop_uint(node, "metric", nonzero=True)
        if address is None:
            _err(c.VIR_ERR_XML_ERROR, f"{where}: Missing required address attribute "
                 "in route definition")
        if gateway is None:
            _err(c.VIR_ERR_XML_ERROR, f"{where}: Missing required gateway attribute "
                 "in route definition")
        assert address is not None and gateway is not None
        addr = parse_ip(address)
        if addr is None:
            _err(c.VIR_ERR_XML_ERROR, f"{where}: Bad network address '{address}' "
                 "in route definition")
        gw = parse_ip(gateway)
        if gw is None:
            _err(c.VIR_ERR_XML_ERROR, f"{where}: Bad gateway address '{gateway}' "
                 "in route definition")
        mask = None
        if netmask is not None:
            mask = parse_ip(netmask)
            if mask is None:
                _err(c.VIR_ERR_XML_ERROR, f"{where}: Bad netmask address '{netmask}' "
                     "in route definition")
        assert addr is not None and gw is not None
        if family == "ipv6":
            if not (is_ipv6(addr) and is_ipv6(gw)):
                _err(c.VIR_ERR_XML_ERROR, f"{where}: ipv6 family specified for non-IPv6 "
                     f"address '{address}' in route definition")
            if mask is not None:
                _err(c.VIR_ERR_XML_ERROR, f"{where}: Specifying netmask invalid for "
                     f"IPv6 address '{address}' in route definition")
            if prefix is not None and prefix > 128:
                _err(c.VIR_ERR_XML_ERROR, f"{where}: Invalid IPv6 prefix '{prefix}' "
                     "in route definition")
        elif family in (None, "ipv4"):
            if not (is_ipv4(addr) and is_ipv4(gw)):
                fam = family or "No"
                _err(c.VIR_ERR_XML_ERROR, f"{where}: {fam} family specified for non-IPv4 "
                     f"address '{address}' in route definition")
            if mask is not None and prefix is not None and prefix > 0:
                _err(c.VIR_ERR_XML_ERROR, f"{where}: Route definition cannot have both "
                     "a prefix and a netmask")
            if prefix is not None and prefix > 32:
                _err(c.VIR_ERR_XML_ERROR, f"{where}: Invalid prefix {prefix} specified "
                     "in route definition, must be 0 - 32")
        else:
            _err(c.VIR_ERR_XML_ERROR, f"{where}: Unrecognized family '{family}' "
                 "in route definition")
        return cls(address=addr, gateway=gw, family=family, netmask=mask, prefix=prefix,
                   metric=metric)

    def format(self, parent: Element) -> None:
        x.sub(parent, "route", family=self.family, address=self.address, netmask=self.netmask,
              prefix=self.prefix, gateway=self.gateway,
              metric=self.metric if self.metric else None)
