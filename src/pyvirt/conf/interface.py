"""Host interface XML (virInterface*: ethernet, bridge, bond, vlan), after libvirt's
interface_conf.c. Subordinate interfaces of a bridge or bond are ``InterfaceDef`` too; only
the top level carries start mode, MTU and IP protocol settings, as in libvirt.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

INTERFACE_TYPES = ("ethernet", "bridge", "bond", "vlan")
START_MODES = ("onboot", "hotplug", "none")
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad",
              "balance-tlb", "balance-alb")
LINK_STATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
# Which subordinate types each parent type may hold (None: top level, any type).
_ALLOWED_CHILDREN = {"bond": ("ethernet",), "bridge": ("ethernet", "bond", "vlan"),
                     "ethernet": (), "vlan": ()}


def _err(detail: str) -> None:
    raise_error(c.VIR_ERR_XML_ERROR, detail, domain=c.VIR_FROM_INTERFACE)


def _string(node: Element, path: str) -> str | None:
    text = x.text_of(node, path)
    return text if text else None


def _xpath_int(node: Element | None, attr: str) -> tuple[int, int | None]:
    """virXPathInt-like: (status, value) with status -1 when absent, -2 when invalid."""
    if node is None or node.get(attr) in (None, ""):
        return -1, None
    try:
        return 0, int(node.get(attr, ""), 10)
    except ValueError:
        return -2, None


@dataclass
class InterfaceIP:
    address: str
    prefix: int = 0


@dataclass
class InterfaceProtocol:
    family: str  # ipv4 | ipv6
    dhcp: bool = False
    peerdns: bool | None = None
    autoconf: bool = False  # ipv6 only
    ips: list[InterfaceIP] = field(default_factory=list)
    gateway: str | None = None

    @classmethod
    def from_element(cls, node: Element) -> InterfaceProtocol:
        family = node.get("family")
        if family is None:
            _err("protocol misses the family attribute")
        if family not in ("ipv4", "ipv6"):
            _err(f"unsupported protocol family '{family}'")
        proto = cls(family=family or "")
        route = node.find("route")
        proto.gateway = route.get("gateway") if route is not None else None
        if family == "ipv6":
            proto.autoconf = node.find("autoconf") is not None
        dhcp = node.find("dhcp")
        if dhcp is not None:
            proto.dhcp = True
            peerdns = dhcp.get("peerdns")
            if peerdns is not None and peerdns not in ("yes", "no"):
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'peerdns' in element 'dhcp': "
                            f"'{peerdns}'.", domain=c.VIR_FROM_XML)
            proto.peerdns = None if peerdns is None else peerdns == "yes"
        for ip in node.iterfind("ip"):
            address = ip.get("address")
            if address is None:
                continue
            prefix = ip.get("prefix")
            try:
                value = int(prefix, 10) if prefix else 0
            except ValueError:
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'prefix' in element 'ip': '{prefix}'. "
                            "Expected integer value", domain=c.VIR_FROM_XML)
            proto.ips.append(InterfaceIP(address, value))
        return proto

    def to_element(self) -> Element:
        node = x.keep_open(x.element("protocol", family=self.family), lines=True)
        if self.autoconf:
            x.sub(node, "autoconf")
        if self.dhcp:
            x.sub(node, "dhcp", peerdns=x.yes_no(self.peerdns))
        for ip in self.ips:
            x.sub(node, "ip", address=ip.address, prefix=ip.prefix or None)
        if self.gateway is not None:
            x.sub(node, "route", gateway=self.gateway)
        return node


@dataclass
class InterfaceDef:
    type: str  # ethernet | bridge | bond | vlan
    name: str
    start_mode: str | None = None  # onboot | hotplug | none
    mtu: int = 0
    protocols: list[InterfaceProtocol] = field(default_factory=list)
    link_state: str | None = None
    link_speed: int = 0
    mac: str | None = None  # ethernet
    # bridge
    stp: bool | None = None
    delay: str | None = None
    # bond
    bond_mode: str | None = None
    miimon_freq: int | None = None  # set: MII monitoring
    miimon_downdelay: int = 0
    miimon_updelay: int = 0
    miimon_carrier: str | None = None  # ioctl | netif
    arpmon_interval: int | None = None  # set: ARP monitoring
    arpmon_target: str | None = None
    arpmon_validate: str | None = None  # active | backup | all
    # vlan
    vlan_tag: str | None = None
    vlan_device: str | None = None
    # bridge or bond members
    members: list[InterfaceDef] = field(default_factory=list)

    @classmethod
    def from_xml(cls, text: str | bytes) -> InterfaceDef:
        root = x.parse_document(text, "interface", "(interface_definition)",
                                c.VIR_FROM_INTERFACE)
        return cls.from_element(root)

    @classmethod
    def from_element(cls, node: Element, parent_type: str | None = None) -> InterfaceDef:
        kind = node.get("type")
        if kind is None:
            raise_error(c.VIR_ERR_XML_ERROR,
                        "Missing required attribute 'type' in element 'interface'",
                        domain=c.VIR_FROM_XML)
        if kind not in INTERFACE_TYPES:
            raise_error(c.VIR_ERR_XML_ERROR,
                        f"Invalid value for attribute 'type' in element 'interface': '{kind}'.",
                        domain=c.VIR_FROM_XML)
        if parent_type is not None and kind not in _ALLOWED_CHILDREN[parent_type]:
            _err(f"interface has unsupported type '{kind}'")
        name = node.get("name")
        if name is None:
            _err("interface has no name")
        iface = cls(type=kind or "", name=name or "")
        if parent_type is None:
            start = node.find("start")
            mode = start.get("mode") if start is not None else None
            if mode:
                if mode not in START_MODES:
                    _err(f"unknown interface startmode {mode}")
                iface.start_mode = mode
            mtu = node.find("mtu")
            status, value = _xpath_int(mtu, "size")
            if status == -2 or (value is not None and value < 0):
                # libvirt fails here without reporting anything.
                raise_error(c.VIR_ERR_INTERNAL_ERROR, domain=c.VIR_FROM_NONE,
                            message="An error occurred, but the cause is unknown")
            iface.mtu = value or 0
            if iface.mtu > 100000:
                _err("value of the 'size' attribute of 'mtu' element must be at most 100000")
            iface.protocols = [InterfaceProtocol.from_element(p) for p in node.iterfind("protocol")]
        if kind != "bridge":
            link = node.find("link")
            if link is not None:
                state = link.get("state")
                if state is not None and state not in LINK_STATES:
                    raise_error(c.VIR_ERR_XML_ERROR,
                                f"Invalid value for attribute 'state' in element 'link': "
                                f"'{state}'.", domain=c.VIR_FROM_XML)
                iface.link_state = state
                speed = link.get("speed")
                iface.link_speed = x.parse_int(speed, "link speed", minimum=0) or 0
        if kind == "ethernet":
            mac = node.find("mac")
            iface.mac = (mac.get("address") or None) if mac is not None else None
        elif kind == "bridge":
            iface._parse_bridge(node)
        elif kind == "bond":
            iface._parse_bond(node)
        else:
            vlan = node.find("vlan")
            if vlan is None:
                _err("vlan interface misses the vlan element")
                return iface
            iface.vlan_tag = vlan.get("tag") or None
            if iface.vlan_tag is None:
                _err("vlan interface misses the tag attribute")
            dev = vlan.find("interface")
            iface.vlan_device = (dev.get("name") or None) if dev is not None else None
            if iface.vlan_device is None:
                _err("vlan interface misses name attribute")
        return iface

    def _parse_bridge(self, node: Element) -> None:
        bridge = node.find("bridge")
        if bridge is None:
            _err("bridge interface misses the bridge element")
            return
        stp = bridge.get("stp")
        if stp is not None:
            if stp not in ("on", "off"):
                _err(f"bridge interface stp should be on or off got {stp}")
            self.stp = stp == "on"
        self.delay = bridge.get("delay")
        self.members = [InterfaceDef.from_element(i, "bridge")
                        for i in bridge.iterfind("interface")]

    def _parse_bond(self, node: Element) -> None:
        bond = node.find("bond")
        if bond is None:
            _err("bond interface misses the bond element")
            return
        mode = bond.get("mode") or None
        if mode is not None and mode not in BOND_MODES:
            _err(f"unknown bonding mode {mode}")
        self.bond_mode = mode
        self.members = [InterfaceDef.from_element(i, "bond") for i in bond.iterfind("interface")]
        miimon = bond.find("miimon")
        arpmon = bond.find("arpmon")
        if miimon is not None:
            status, freq = _xpath_int(miimon, "freq")
            if status < 0:
                _err("bond interface miimon freq missing or invalid")
            self.miimon_freq = freq
            status, down = _xpath_int(miimon, "downdelay")
            if status == -2:
                _err("bond interface miimon downdelay invalid")
            self.miimon_downdelay = down or 0
            status, up = _xpath_int(miimon, "updelay")
            if status == -2:
                _err("bond interface miimon updelay invalid")
            self.miimon_updelay = up or 0
            carrier = miimon.get("carrier") or None
            if carrier is not None and carrier not in ("ioctl", "netif"):
                _err(f"unknown mii bonding carrier {carrier}")
            self.miimon_carrier = carrier
        elif arpmon is not None:
            status, interval = _xpath_int(arpmon, "interval")
            if status < 0:
                _err("bond interface arpmon interval missing or invalid")
            self.arpmon_interval = interval
            self.arpmon_target = arpmon.get("target") or None
            if self.arpmon_target is None:
                _err("bond interface arpmon target missing")
            validate = arpmon.get("validate") or None
            if validate is not None and validate not in ("active", "backup", "all"):
                _err(f"unknown arp bonding validate {validate}")
            self.arpmon_validate = validate

    # ---- output --------------------------------------------------------------------------

    def to_element(self, top_level: bool = True) -> Element:
        node = x.keep_open(x.element("interface", type=self.type, name=self.name), lines=True)
        if top_level:
            if self.start_mode:
                x.sub(node, "start", mode=self.start_mode)
            if self.mtu:
                x.sub(node, "mtu", size=self.mtu)
            for proto in self.protocols:
                node.append(proto.to_element())
        if self.type != "bridge" and (self.link_speed or self.link_state):
            x.sub(node, "link", speed=self.link_speed or None, state=self.link_state)
        if self.type == "ethernet":
            if self.mac:
                x.sub(node, "mac", address=self.mac)
        elif self.type == "bridge":
            bridge = x.keep_open(x.sub(node, "bridge", stp=x.on_off(self.stp),
                                       delay=self.delay), lines=True)
            for member in self.members:
                bridge.append(member.to_element(False))
        elif self.type == "bond":
            bond = x.keep_open(x.sub(node, "bond", mode=self.bond_mode), lines=True)
            if self.miimon_freq is not None:
                x.sub(bond, "miimon", freq=self.miimon_freq,
                      downdelay=self.miimon_downdelay if self.miimon_downdelay > 0 else None,
                      updelay=self.miimon_updelay if self.miimon_updelay > 0 else None,
                      carrier=self.miimon_carrier)
            elif self.arpmon_interval is not None:
                x.sub(bond, "arpmon", interval=self.arpmon_interval, target=self.arpmon_target,
                      validate=self.arpmon_validate)
            for member in self.members:
                bond.append(member.to_element(False))
        else:
            vlan = x.sub(node, "vlan")
            if self.vlan_tag is not None:
                vlan.set("tag", self.vlan_tag)
            if self.vlan_device is not None:
                x.sub(vlan, "interface", name=self.vlan_device)
        return node

    def to_xml(self) -> str:
        """virInterfaceDefFormat."""
        return x.to_string(self.to_element())

    def copy(self) -> InterfaceDef:
        return _copy.deepcopy(self)

    def macs(self) -> list[str]:
        """MAC addresses of this interface and its members (for lookups by MAC)."""
        found = [self.mac] if self.mac else []
        for member in self.members:
            found += member.macs()
        return found
