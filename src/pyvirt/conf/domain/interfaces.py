"""<interface> devices."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf.domain.device import INFO_ORDER, Device
from pyvirt.conf.domain.xnode import Reader, Writer, XNode
from pyvirt.errors import raise_error

NET_TYPES = ("user", "ethernet", "vhostuser", "server", "client", "mcast", "network",
             "bridge", "internal", "direct", "hostdev", "udp", "vdpa", "null", "vds")

NET_ORDER = (
    "mac", "source", "vlan", "virtualport", "bandwidth", "port", "ip", "route", "portForward",
    "script", "downscript", "backenddomain", "target", "guest", "model", "driver", "backend",
    "filterref", "tune", "teaming", "link", "mtu", "coalesce",
) + INFO_ORDER

# <source> attributes of a network interface: its configuration, then what the port that
# a running guest holds adds (libvirt's actual device: portid, the bridge plugged into).
NET_SOURCE_CONFIG = ("network", "portgroup")
NET_SOURCE_LIVE = ("portid", "bridge", "macTableManager")

_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def generate_mac(prefix: tuple[int, int, int] = (0x52, 0x54, 0x00)) -> str:
    tail = [random.randint(0, 255) for _ in range(3)]
    return ":".join(f"{b:02x}" for b in (*prefix, *tail))


def parse_mac(text: str) -> str:
    """Canonical lower-case form; libvirt's error when malformed."""
    if not _MAC_RE.match(text):
        raise_error(c.VIR_ERR_XML_ERROR, f"unable to parse mac address '{text}'",
                    domain=c.VIR_FROM_DOMAIN)
    return ":".join(f"{int(p, 16):02x}" for p in text.split(":"))


@dataclass
class NetSource:
    """<source>: network=/bridge=/dev=/mode=... and any children (e.g. <local/>)."""

    attrs: dict[str, str] = field(default_factory=dict)
    children: list[XNode] = field(default_factory=list)

    @property
    def network(self) -> str | None:
        return self.attrs.get("network")

    @property
    def bridge(self) -> str | None:
        return self.attrs.get("bridge")

    @property
    def dev(self) -> str | None:
        return self.attrs.get("dev")

    @property
    def mode(self) -> str | None:
        return self.attrs.get("mode")


@dataclass(kw_only=True)
class Interface(Device):
    """<interface>: a network interface."""

    TAG = "interface"
    ORDER = NET_ORDER

    type: str = "user"
    mac: str = ""
    mac_type: str | None = None
    mac_check: str | None = None
    source: NetSource | None = None
    model: str | None = None
    target_dev: str | None = None
    target_attrs: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str | None:
        return self.target_dev

    def order(self) -> tuple[str, ...]:
        if self.type == "hostdev":
            # the hostdev part (<driver name='vfio'/>, <source>) comes first
            return ("mac", "driver") + tuple(t for t in NET_ORDER if t not in ("mac", "driver"))
        return NET_ORDER

    def parse(self, r: Reader, inactive: bool) -> None:
        self.type = r.attr("type") or ""
        if self.type not in NET_TYPES:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unknown interface type '{self.type}'",
                        domain=c.VIR_FROM_DOMAIN)
        mac = r.first("mac")
        if mac is not None and mac.get("address"):
            self.mac = parse_mac(mac.get("address") or "")
            self.mac_type = mac.get("type")
            self.mac_check = mac.get("check")
        src = r.first("source")
        if src is not None:
            attrs = dict(src.attrib)
            if self.type == "network":
                # A running guest's bridge (from its network port) is live state, kept from
                # live XML (our status files) and dropped from a definition as libvirt does.
                keep = NET_SOURCE_CONFIG if inactive else NET_SOURCE_CONFIG + NET_SOURCE_LIVE
                attrs = {k: attrs[k] for k in keep if k in attrs}
            if inactive:
                attrs.pop("portid", None)  # the network port exists while running
            self.source = NetSource(attrs,
                                    [XNode.from_element(ch) for ch in src
                                     if isinstance(ch.tag, str)])
        model = r.first("model")
        if model is not None:
            self.model = model.get("type")
        tgt = r.first("target")
        if tgt is not None:
            dev = tgt.get("dev")
            # Auto-generated names (vnetN, macvtapN) are not kept in an inactive definition.
            if inactive and dev and re.match(r"^(vnet|macvtap|macvlan)\d+$", dev):
                dev = None
            self.target_dev = dev
            self.target_attrs = {k: v for k, v in tgt.attrib.items() if k != "dev"}

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("type", self.type)
        if self.mac:
            w.sub("mac", address=self.mac, type=self.mac_type, check=self.mac_check)
        if self.source is not None:
            attrs = dict(self.source.attrs)
            if self.type == "network" and inactive:
                for key in NET_SOURCE_LIVE:
                    attrs.pop(key, None)
            w.child(XNode("source", attrs, None, list(self.source.children)))
        if self.target_dev is not None or self.target_attrs:
            w.sub("target", dev=self.target_dev, **self.target_attrs)
        if self.model is not None:
            w.sub("model", type=self.model)

    def post_parse(self) -> None:
        if not self.mac:
            self.mac = generate_mac()
