"""<networkport> definitions (libvirt's virnetworkportdef.c): a guest's connection to a
virtual network, as the network driver hands it to the hypervisor driver."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.netdev import Bandwidth, VirtualPort, Vlan, parse_mac, prop_tristate
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

PLUG_TYPES = ("network", "bridge", "direct", "hostdev-pci")


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_NETWORK)


@dataclass
class PortDef:
    uuid: str = ""
    owner_name: str = ""
    owner_uuid: str = ""
    group: str | None = None
    mac: str = ""
    virtualport: VirtualPort | None = None
    bandwidth: Bandwidth | None = None
    class_id: int = 0
    vlan: Vlan | None = None
    isolated: bool | None = None
    trust_guest_rx_filters: bool | None = None
    plug_type: str | None = None  # None: not plugged yet
    plug_attrs: dict[str, str] = field(default_factory=dict)  # bridge=, dev=, mode=, ...
    plug_children: list[Element] = field(default_factory=list)  # hostdev <driver>, <address>

    @property
    def bridge(self) -> str | None:
        return self.plug_attrs.get("bridge")

    @classmethod
    def from_xml(cls, text: str | bytes) -> PortDef:
        root = x.parse_document(text, "networkport", "(networkport_definition)",
                                c.VIR_FROM_NETWORK)
        return cls.from_element(root)

    @classmethod
    def from_element(cls, root: Element) -> PortDef:
        port = cls()
        internal = c.VIR_ERR_INTERNAL_ERROR
        uuid = root.findtext("uuid")
        if not uuid:
            _err(internal, "network port has no uuid")
        assert uuid is not None
        parsed = x.parse_uuid(uuid)
        if parsed is None:
            _err(internal, f"Unable to parse UUID '{uuid}'")
        port.uuid = parsed or ""
        port.owner_name = root.findtext("owner/name") or ""
        if not port.owner_name:
            _err(internal, "network port has no owner name")
        owner_uuid = root.findtext("owner/uuid")
        if not owner_uuid:
            _err(internal, "network port has no owner UUID")
        assert owner_uuid is not None
        parsed = x.parse_uuid(owner_uuid)
        if parsed is None:
            _err(internal, f"Unable to parse UUID '{owner_uuid}'")
        port.owner_uuid = parsed or ""
        port.group = root.findtext("group")
        vport = root.find("virtualport")
        if vport is not None:
            port.virtualport = VirtualPort.from_element(vport)
        mac_node = root.find("mac")
        mac = mac_node.get("address") if mac_node is not None else None
        if not mac:
            _err(internal, "network port has no mac")
        assert mac is not None
        canonical = parse_mac(mac)
        if canonical is None:
            _err(internal, f"Unable to parse MAC '{mac}'")
        port.mac = canonical or ""
        bw = root.find("bandwidth")
        if bw is not None:
            port.bandwidth = Bandwidth.from_element(bw, allow_floor=True)
            class_id = bw.get("classID")
            if class_id is not None and class_id.isdigit():
                port.class_id = int(class_id)
        vlan = root.find("vlan")
        if vlan is not None:
            port.vlan = Vlan.from_element(vlan)
        port.isolated = prop_tristate(root.find("port"), "isolated")
        port.trust_guest_rx_filters = prop_tristate(root.find("rxfilters"), "trustGuest")
        plug = root.find("plug")
        if plug is not None:
            ptype = plug.get("type")
            if ptype not in PLUG_TYPES:
                _err(c.VIR_ERR_XML_ERROR, f"Invalid value for attribute 'type' in element "
                     f"'plug': '{ptype}'.")
            port.plug_type = ptype
            port.plug_attrs = {k: v for k, v in plug.attrib.items() if k != "type"}
            if ptype in ("network", "bridge") and "bridge" not in port.plug_attrs:
                _err(c.VIR_ERR_XML_ERROR, "Missing network port bridge name")
            if ptype == "direct" and "dev" not in port.plug_attrs:
                _err(c.VIR_ERR_XML_ERROR, "Missing network port link device name")
            port.plug_children = [copy.deepcopy(ch) for ch in plug
                                  if isinstance(ch.tag, str)]
        return port

    def to_xml(self) -> str:
        root = x.element("networkport")
        x.sub(root, "uuid", self.uuid)
        owner = x.sub(root, "owner")
        x.sub(owner, "name", self.owner_name)
        x.sub(owner, "uuid", self.owner_uuid)
        if self.group is not None:
            x.sub(root, "group", self.group)
        x.sub(root, "mac", address=self.mac)
        if self.virtualport is not None:
            self.virtualport.format(root)
        if self.bandwidth is not None:
            self.bandwidth.format(root)
            if self.class_id:
                root[-1].set("classID", str(self.class_id))
        if self.vlan is not None:
            self.vlan.format(root)
        if self.isolated is not None:
            x.sub(root, "port", isolated=x.yes_no(self.isolated))
        if self.trust_guest_rx_filters is not None:
            x.sub(root, "rxfilters", trustGuest=x.yes_no(self.trust_guest_rx_filters))
        if self.plug_type is not None:
            plug = x.sub(root, "plug", type=self.plug_type, **self.plug_attrs)
            for child in self.plug_children:
                plug.append(copy.deepcopy(child))
        return x.to_string(root)
