"""Node device XML (<device>), after libvirt's node_device_conf.c.

One typed class per capability type (system, pci, usb_device, usb, net, scsi_host,
scsi_target, scsi, storage, drm, mdev, ccw, css, ap_card, ap_queue, ap_matrix); a PCI
device's <capability type='vpd'> (vendor data read from sysfs, never written by users) is
kept as XML. ``NodeDeviceDef.from_xml(text, create=True, virt_type=...)`` follows libvirt's
parse for virNodeDeviceCreateXML/DefineXML: no name or host numbers required, and missing
fc_host WWNs generated under ``virt_type``'s OUI; with no OUI (None, "test") that fails as
it does in libvirt 9.0's test driver.
"""

from __future__ import annotations

import copy as _copy
import random
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

CAP_TYPES = ("system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi",
             "storage", "fc_host", "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw",
             "css", "vdpa", "ap_card", "ap_queue", "ap_matrix", "vpd")
NET_FEATURES = ("rx", "tx", "sg", "tso", "gso", "gro", "lro", "rxvlan", "txvlan", "ntuple",
                "rxhash", "rdma", "txudptnl", "switchdev")
PCI_HEADER_TYPES = ("pci-endpoint", "pci-bridge", "cardbus-bridge")
PCIE_SPEEDS = ("2.5", "5", "8", "16", "32", "64")
LINK_STATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
DRM_TYPES = ("primary", "control", "render")


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_NODEDEV)


def _attr_err(detail: str) -> None:
    """virXMLProp* errors: reported in the XML error domain."""
    raise_error(c.VIR_ERR_XML_ERROR, detail, domain=c.VIR_FROM_XML)


def _string(node: Element, path: str) -> str | None:
    text = x.text_of(node, path)
    return text if text else None


def _parse_num(text: str | None, base: int) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def _uint(node: Element, path: str, dev: str, missing: str, invalid: str,
          base: int = 10) -> int:
    """virNodeDevCapsDefParseUInt/HexId: required number, libvirt's two messages."""
    text = _string(node, path)
    if text is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, missing % dev)
    value = _parse_num(text, base if base != 10 or not (text or "").startswith("0x") else 16)
    if value is None or value < 0:
        _err(c.VIR_ERR_INTERNAL_ERROR, invalid % dev)
    return value or 0


def _opt_int(node: Element, path: str, dev: str, invalid: str, default: int) -> int:
    text = _string(node, path)
    if text is None:
        return default
    value = _parse_num(text, 10)
    if value is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, invalid % dev)
    return value if value is not None else default


def _attr_text(node: Element, tag: str) -> str | None:
    found = node.find(tag)
    return found.get("id") if found is not None else None


def _hex_id(node: Element, tag: str, dev: str, what: str) -> int:
    text = _attr_text(node, tag)
    if not text:
        _err(c.VIR_ERR_INTERNAL_ERROR, f"no {what} ID supplied for '{dev}'")
    value = _parse_num(text, 16)
    if value is None or value < 0:
        _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid {what} ID supplied for '{dev}'")
    return value or 0


# ---- PCI addresses --------------------------------------------------------------------------


@dataclass
class PCIAddress:
    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0

    @classmethod
    def from_element(cls, node: Element) -> PCIAddress:
        values = []
        for attr in ("domain", "bus", "slot", "function"):
            text = node.get(attr)
            value = _parse_num(text, 16 if text and text.startswith("0x") else 10) if text else 0
            if value is None:
                _err(c.VIR_ERR_XML_ERROR, f"Cannot parse <address> '{attr}' attribute")
            values.append(value or 0)
        return cls(*values)

    def to_element(self) -> Element:
        # libvirt prints the function as "0x%d".
        return x.element("address", domain=f"0x{self.domain:04x}", bus=f"0x{self.bus:02x}",
                         slot=f"0x{self.slot:02x}", function=f"0x{self.function}")

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function}"


@dataclass
class MdevType:
    id: str
    device_api: str
    available_instances: int
    name: str | None = None


def _parse_mdev_types(node: Element) -> list[MdevType]:
    types = []
    for tnode in node.iterfind("type"):
        type_id = tnode.get("id")
        if not type_id:
            _err(c.VIR_ERR_INTERNAL_ERROR, "missing 'id' attribute for mediated device's "
                 "<type> element")
        api = _string(tnode, "deviceAPI")
        if api is None:
            _err(c.VIR_ERR_INTERNAL_ERROR,
                 f"missing device API for mediated device type '{type_id}'")
        avail = _parse_num(_string(tnode, "availableInstances"), 10)
        if avail is None or avail < 0:
            _err(c.VIR_ERR_INTERNAL_ERROR,
                 f"missing number of available instances for mediated device type '{type_id}'")
        types.append(MdevType(id=type_id or "", device_api=api or "",
                              available_instances=avail or 0, name=_string(tnode, "name")))
    return types


def _format_mdev_types(parent: Element, types: list[MdevType]) -> None:
    if not types:
        return
    cap = x.sub(parent, "capability", type="mdev_types")
    for mtype in types:
        tnode = x.sub(cap, "type", id=mtype.id)
        if mtype.name:
            x.sub(tnode, "name", mtype.name)
        x.sub(tnode, "deviceAPI", mtype.device_api)
        x.sub(tnode, "availableInstances", mtype.available_instances)


# ---- capabilities ---------------------------------------------------------------------------


class NodeDevCap:
    """A <capability type='...'> of a device; subclasses add their fields."""

    type: str = ""

    def fill(self, node: Element) -> None:
        raise NotImplementedError


@dataclass
class SystemCap(NodeDevCap):
    uuid: str = ""
    product: str | None = None
    hardware_vendor: str | None = None
    hardware_version: str | None = None
    hardware_serial: str | None = None
    firmware_vendor: str | None = None
    firmware_version: str | None = None
    firmware_release_date: str | None = None
    type = "system"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> SystemCap:
        uuid = _string(node, "hardware/uuid")
        if uuid is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"no system UUID supplied for '{dev}'")
        parsed = x.parse_uuid(uuid or "")
        if parsed is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"malformed uuid element for '{dev}'")
        return cls(uuid=parsed or "", product=_string(node, "product"),
                   hardware_vendor=_string(node, "hardware/vendor"),
                   hardware_version=_string(node, "hardware/version"),
                   hardware_serial=_string(node, "hardware/serial"),
                   firmware_vendor=_string(node, "firmware/vendor"),
                   firmware_version=_string(node, "firmware/version"),
                   firmware_release_date=_string(node, "firmware/release_date"))

    def fill(self, node: Element) -> None:
        if self.product:
            x.sub(node, "product", self.product)
        hw = x.sub(node, "hardware")
        for tag, value in (("vendor", self.hardware_vendor), ("version", self.hardware_version),
                           ("serial", self.hardware_serial)):
            if value:
                x.sub(hw, tag, value)
        x.sub(hw, "uuid", self.uuid)
        fw = x.keep_open(x.sub(node, "firmware"), lines=True)
        for tag, value in (("vendor", self.firmware_vendor), ("version", self.firmware_version),
                           ("release_date", self.firmware_release_date)):
            if value:
                x.sub(fw, tag, value)


@dataclass
class PCIELink:
    width: int
    port: int = -1
    speed: str | None = None

    @classmethod
    def from_element(cls, node: Element) -> PCIELink:
        speed = node.get("speed")
        if speed is not None and speed not in PCIE_SPEEDS:
            _err(c.VIR_ERR_XML_ERROR, f"malformed 'speed' attribute: {speed}")
        port = _parse_num(node.get("port"), 10) if node.get("port") else -1
        width = _parse_num(node.get("width"), 10) if node.get("width") else None
        if width is None:
            _err(c.VIR_ERR_XML_ERROR, "mandatory attribute 'width' is missing or malformed")
        return cls(width=width or 0, port=-1 if port is None else port, speed=speed)


@dataclass
class PCICap(NodeDevCap):
    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0
    vendor: int = 0
    product: int = 0
    vendor_name: str | None = None
    product_name: str | None = None
    klass: int | None = None
    phys_function: PCIAddress | None = None
    virt_functions: list[PCIAddress] | None = None  # None: no virt_functions capability
    max_virt_functions: int = 0
    header_type: str | None = None
    mdev_types: list[MdevType] | None = None
    vpd: Element | None = None  # <capability type='vpd'>, kept as XML
    iommu_group: int | None = None
    iommu_group_devices: list[PCIAddress] = field(default_factory=list)
    numa_node: int = -1
    pcie: bool = False
    link_cap: PCIELink | None = None
    link_sta: PCIELink | None = None
    type = "pci"

    @property
    def address(self) -> PCIAddress:
        return PCIAddress(self.domain, self.bus, self.slot, self.function)

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> PCICap:
        cap = cls()
        klass = _string(node, "class")
        if klass is not None:
            cap.klass = _parse_num(klass, 16)
            if cap.klass is None or not 0 <= cap.klass <= 0xFFFFFF:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid PCI class supplied for '{dev}'")
        for what in ("domain", "bus", "slot", "function"):
            setattr(cap, what, _uint(node, what, dev, f"no PCI {what} ID supplied for '%s'",
                                     f"invalid PCI {what} ID supplied for '%s'"))
        cap.vendor = _hex_id(node, "vendor", dev, "PCI vendor")
        cap.product = _hex_id(node, "product", dev, "PCI product")
        cap.vendor_name = _string(node, "vendor")
        cap.product_name = _string(node, "product")
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_XML_ERROR, "Missing capability type")
            if kind == "phys_function":
                addr = sub.find("address")
                if addr is None:
                    _err(c.VIR_ERR_XML_ERROR, "Missing address in 'phys_function' capability")
                    continue
                cap.phys_function = PCIAddress.from_element(addr)
            elif kind == "virt_functions":
                max_count = sub.get("maxCount")
                if max_count is not None:
                    value = _parse_num(max_count, 10)
                    if value is None or value < 0:
                        _err(c.VIR_ERR_XML_ERROR, "Malformed 'maxCount' parameter")
                    cap.max_virt_functions = value or 0
                cap.virt_functions = [PCIAddress.from_element(a) for a in sub.iterfind("address")]
            elif kind == "mdev_types":
                cap.mdev_types = _parse_mdev_types(sub)
            elif kind == "vpd":
                from pyvirt.conf.snapshot import clean_copy
                cap.vpd = clean_copy(sub)
            elif kind in PCI_HEADER_TYPES[1:] and cap.header_type is None:
                cap.header_type = kind
        group = node.find("iommuGroup")
        if group is not None:
            number = _parse_num(group.get("number"), 10)
            if number is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid iommuGroup number attribute for '{dev}'")
            cap.iommu_group = number
            cap.iommu_group_devices = [PCIAddress.from_element(a)
                                       for a in group.iterfind("address")]
        numa = node.find("numa")
        if numa is not None and numa.get("node"):
            value = _parse_num(numa.get("node"), 10)
            if value is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid NUMA node ID supplied for '{dev}'")
            cap.numa_node = -1 if value is None else value
        pcie = node.find("pci-express")
        if pcie is not None:
            cap.pcie = True
            link = pcie.find("link[@validity='cap']")
            cap.link_cap = PCIELink.from_element(link) if link is not None else None
            link = pcie.find("link[@validity='sta']")
            cap.link_sta = PCIELink.from_element(link) if link is not None else None
        return cap

    def fill(self, node: Element) -> None:
        if self.klass is not None:
            x.sub(node, "class", f"0x{self.klass:06x}")
        x.sub(node, "domain", self.domain)
        x.sub(node, "bus", self.bus)
        x.sub(node, "slot", self.slot)
        x.sub(node, "function", self.function)
        x.sub(node, "product", self.product_name, id=f"0x{self.product:04x}")
        x.sub(node, "vendor", self.vendor_name, id=f"0x{self.vendor:04x}")
        if self.phys_function is not None:
            x.sub(node, "capability", type="phys_function").append(
                self.phys_function.to_element())
        if self.virt_functions is not None:
            vfs = x.sub(node, "capability", type="virt_functions",
                        maxCount=self.max_virt_functions or None)
            for addr in self.virt_functions:
                vfs.append(addr.to_element())
        if self.header_type:
            x.sub(node, "capability", type=self.header_type)
        if self.mdev_types is not None:
            _format_mdev_types(node, self.mdev_types)
        if self.vpd is not None:
            node.append(_copy.deepcopy(self.vpd))
        if self.iommu_group_devices and self.iommu_group is not None:
            group = x.sub(node, "iommuGroup", number=self.iommu_group)
            for addr in self.iommu_group_devices:
                group.append(addr.to_element())
        if self.numa_node >= 0:
            x.sub(node, "numa", node=self.numa_node)
        if self.pcie:
            pcie = x.sub(node, "pci-express")
            for validity, link in (("cap", self.link_cap), ("sta", self.link_sta)):
                if link is not None:
                    x.sub(pcie, "link", validity=validity,
                          port=link.port if link.port >= 0 else None, speed=link.speed,
                          width=link.width)


@dataclass
class USBDeviceCap(NodeDevCap):
    bus: int = 0
    device: int = 0
    vendor: int = 0
    product: int = 0
    vendor_name: str | None = None
    product_name: str | None = None
    type = "usb_device"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> USBDeviceCap:
        return cls(bus=_uint(node, "bus", dev, "no USB bus number supplied for '%s'",
                             "invalid USB bus number supplied for '%s'"),
                   device=_uint(node, "device", dev, "no USB device number supplied for '%s'",
                                "invalid USB device number supplied for '%s'"),
                   vendor=_hex_id(node, "vendor", dev, "USB vendor"),
                   product=_hex_id(node, "product", dev, "USB product"),
                   vendor_name=_string(node, "vendor"), product_name=_string(node, "product"))

    def fill(self, node: Element) -> None:
        x.sub(node, "bus", self.bus)
        x.sub(node, "device", self.device)
        x.sub(node, "product", self.product_name, id=f"0x{self.product:04x}")
        x.sub(node, "vendor", self.vendor_name, id=f"0x{self.vendor:04x}")


@dataclass
class USBInterfaceCap(NodeDevCap):
    number: int = 0
    klass: int = 0
    subclass: int = 0
    protocol: int = 0
    description: str | None = None
    type = "usb"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> USBInterfaceCap:
        values = [_uint(node, tag, dev, f"no USB interface {what} supplied for '%s'",
                        f"invalid USB interface {what} supplied for '%s'")
                  for tag, what in (("number", "number"), ("class", "class"),
                                    ("subclass", "subclass"), ("protocol", "protocol"))]
        return cls(number=values[0], klass=values[1], subclass=values[2], protocol=values[3],
                   description=_string(node, "description"))

    def fill(self, node: Element) -> None:
        x.sub(node, "number", self.number)
        x.sub(node, "class", self.klass)
        x.sub(node, "subclass", self.subclass)
        x.sub(node, "protocol", self.protocol)
        if self.description:
            x.sub(node, "description", self.description)


@dataclass
class NetCap(NodeDevCap):
    interface: str = ""
    address: str | None = None
    link_state: str | None = None
    link_speed: int = 0
    features: list[str] = field(default_factory=list)
    subtype: str | None = None  # 80203 | 80211
    type = "net"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> NetCap:
        ifname = _string(node, "interface")
        if ifname is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"no network interface supplied for '{dev}'")
        cap = cls(interface=ifname or "", address=_string(node, "address"))
        link = node.find("link")
        if link is not None:
            state = link.get("state")
            if state is not None and state not in LINK_STATES:
                _attr_err(f"Invalid value for attribute 'state' in element "
                     f"'link': '{state}'.")
            cap.link_state = state
            cap.link_speed = x.parse_int(link.get("speed"), "link speed", minimum=0) or 0
        found = set()
        for feat in node.iterfind("feature"):
            name = feat.get("name")
            if not name:
                _err(c.VIR_ERR_XML_ERROR, "missing network device feature name")
            if name not in NET_FEATURES:
                _err(c.VIR_ERR_XML_ERROR, f"unknown network device feature '{name}'")
            found.add(name)
        cap.features = [name for name in NET_FEATURES if name in found]
        sub = node.find("capability")
        if sub is not None:
            kind = sub.get("type")
            if kind not in ("80203", "80211"):
                _err(c.VIR_ERR_XML_ERROR, f"invalid network type supplied for '{dev}'")
            cap.subtype = kind
        return cap

    def fill(self, node: Element) -> None:
        x.sub(node, "interface", self.interface)
        if self.address:
            x.sub(node, "address", self.address)
        if self.link_speed or self.link_state:
            x.sub(node, "link", speed=self.link_speed or None, state=self.link_state)
        for name in NET_FEATURES:
            if name in self.features:
                x.sub(node, "feature", name=name)
        if self.subtype:
            x.sub(node, "capability", type=self.subtype)


# virRandomGenerateWWN's OUIs by hypervisor type.
_WWN_OUI = {"qemu": "001a4a", "xen": "00163e", "libxl": "00163e", "xenlight": "00163e",
            "vmware": "000569", "esx": "000569", "hyperv": "0003ff"}


def random_wwn(virt_type: str | None = "qemu") -> str | None:
    """As virRandomGenerateWWN: an NAA-5 WWN under the hypervisor's OUI (None for a
    hypervisor without one, e.g. the test driver, or no hypervisor at all)."""
    oui = _WWN_OUI.get((virt_type or "").lower())
    if oui is None:
        return None
    return f"5{oui}{random.getrandbits(36):09x}"


@dataclass
class SCSIHostCap(NodeDevCap):
    host: int = 0
    unique_id: int = -1
    fc_host: bool = False
    wwnn: str | None = None
    wwpn: str | None = None
    fabric_wwn: str | None = None
    vport_ops: bool = False
    max_vports: int = 0
    vports: int = 0
    type = "scsi_host"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool,
              virt_type: str | None = None) -> SCSIHostCap:
        cap = cls()
        if not create:
            cap.host = _uint(node, "host", dev, "no SCSI host ID supplied for '%s'",
                             "invalid SCSI host ID supplied for '%s'")
            cap.unique_id = _opt_int(node, "unique_id", dev,
                                     "invalid unique_id supplied for '%s'", -1)
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing SCSI host capability type for '{dev}'")
            if kind == "vport_ops":
                cap.vport_ops = True
            elif kind == "fc_host":
                cap.fc_host = True
                for attr in ("wwnn", "wwpn"):
                    value = _string(sub, attr) or random_wwn(virt_type)
                    if value is None:
                        _err(c.VIR_ERR_INTERNAL_ERROR, f"no {attr.upper()} supplied for "
                             f"'{dev}', and auto-generation failed")
                    setattr(cap, attr, value)
                cap.fabric_wwn = _string(sub, "fabric_wwn")
            else:
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"unknown SCSI host capability type '{kind}' for '{dev}'")
        return cap

    def fill(self, node: Element) -> None:
        x.sub(node, "host", self.host)
        if self.unique_id != -1:
            x.sub(node, "unique_id", self.unique_id)
        if self.fc_host:
            fc = x.sub(node, "capability", type="fc_host")
            for tag, value in (("wwnn", self.wwnn), ("wwpn", self.wwpn),
                               ("fabric_wwn", self.fabric_wwn)):
                if value is not None:
                    x.sub(fc, tag, value)
        if self.vport_ops:
            ops = x.sub(node, "capability", type="vport_ops")
            x.sub(ops, "max_vports", self.max_vports)
            x.sub(ops, "vports", self.vports)


@dataclass
class SCSITargetCap(NodeDevCap):
    target: str = ""
    fc_remote_port: bool = False
    rport: str | None = None
    wwpn: str | None = None
    type = "scsi_target"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> SCSITargetCap:
        target = _string(node, "target")
        if target is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"no target name supplied for '{dev}'")
        cap = cls(target=target or "")
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"missing type for SCSI target capability for '{dev}'")
            if kind != "fc_remote_port":
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"unknown SCSI target capability type '{kind}' for '{dev}'")
            cap.fc_remote_port = True
            cap.rport = _string(sub, "rport")
            if cap.rport is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing rport name for '{dev}'")
            cap.wwpn = _string(sub, "wwpn")
            if cap.wwpn is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing wwpn identifier for '{dev}'")
        return cap

    def fill(self, node: Element) -> None:
        x.sub(node, "target", self.target)
        if self.fc_remote_port:
            port = x.sub(node, "capability", type="fc_remote_port")
            x.sub(port, "rport", self.rport)
            x.sub(port, "wwpn", self.wwpn)


@dataclass
class SCSICap(NodeDevCap):
    host: int = 0
    bus: int = 0
    target: int = 0
    lun: int = 0
    scsi_type: str | None = None
    type = "scsi"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> SCSICap:
        values = [_uint(node, tag, dev, f"no SCSI {what} ID supplied for '%s'",
                        f"invalid SCSI {what} ID supplied for '%s'")
                  for tag, what in (("host", "host"), ("bus", "bus"), ("target", "target"),
                                    ("lun", "LUN"))]
        return cls(host=values[0], bus=values[1], target=values[2], lun=values[3],
                   scsi_type=_string(node, "type"))

    def fill(self, node: Element) -> None:
        x.sub(node, "host", self.host)
        x.sub(node, "bus", self.bus)
        x.sub(node, "target", self.target)
        x.sub(node, "lun", self.lun)
        if self.scsi_type:
            x.sub(node, "type", self.scsi_type)


@dataclass
class StorageCap(NodeDevCap):
    block: str = ""
    bus: str | None = None
    drive_type: str | None = None
    model: str | None = None
    vendor: str | None = None
    serial: str | None = None
    size: int = 0
    removable: bool = False
    media_available: bool = False
    media_size: int = 0
    media_label: str | None = None
    hotpluggable: bool = False
    # Not read from XML (libvirt computes them from the device).
    logical_block_size: int = 0
    num_blocks: int = 0
    type = "storage"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> StorageCap:
        block = _string(node, "block")
        if block is None:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"no block device path supplied for '{dev}'")
        cap = cls(block=block or "", bus=_string(node, "bus"),
                  drive_type=_string(node, "drive_type"), model=_string(node, "model"),
                  vendor=_string(node, "vendor"), serial=_string(node, "serial"))
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing storage capability type for '{dev}'")
            if kind == "hotpluggable":
                cap.hotpluggable = True
            elif kind == "removable":
                cap.removable = True
                cap.media_available = (_parse_num(_string(sub, "media_available"), 10)
                                       or 0) != 0
                cap.media_size = _opt_int(sub, "media_size", dev,
                                          "invalid removable media size supplied for '%s'", 0)
                cap.media_label = _string(sub, "media_label")
            else:
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"unknown storage capability type '{kind}' for '{dev}'")
        if not cap.removable:
            cap.size = _opt_int(node, "size", dev, "invalid size supplied for '%s'", 0)
        return cap

    def fill(self, node: Element) -> None:
        x.sub(node, "block", self.block)
        for tag in ("bus", "drive_type", "model", "vendor", "serial"):
            value = getattr(self, tag)
            if value:
                x.sub(node, tag, value)
        if self.removable:
            rem = x.sub(node, "capability", type="removable")
            x.sub(rem, "media_available", int(self.media_available))
            x.sub(rem, "media_size", self.media_size)
            if self.media_label:
                x.sub(rem, "media_label", self.media_label)
            target = rem
        else:
            x.sub(node, "size", self.size)
            target = node
        if self.logical_block_size > 0:
            x.sub(target, "logical_block_size", self.logical_block_size)
        if self.num_blocks > 0:
            x.sub(target, "num_blocks", self.num_blocks)
        if self.hotpluggable:
            x.sub(node, "capability", type="hotpluggable")


@dataclass
class DRMCap(NodeDevCap):
    drm_type: str = "primary"
    type = "drm"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> DRMCap:
        kind = _string(node, "type")
        if kind not in DRM_TYPES:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"unknown drm type '{kind}' for '{dev}'")
        return cls(drm_type=kind or "primary")

    def fill(self, node: Element) -> None:
        x.sub(node, "type", self.drm_type)


@dataclass
class MdevCap(NodeDevCap):
    mdev_type: str = ""
    uuid: str | None = None
    parent_addr: str | None = None
    iommu_group: int = 0
    attributes: list[tuple[str, str]] = field(default_factory=list)
    type = "mdev"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> MdevCap:
        tnode = node.find("type")
        mdev_type = (tnode.get("id") or None) if tnode is not None else None
        if mdev_type is None:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"missing type id attribute for '{dev}'")
        cap = cls(mdev_type=mdev_type or "", parent_addr=_string(node, "parent_addr"))
        uuid = _string(node, "uuid")
        if uuid is not None:
            cap.uuid = x.parse_uuid(uuid)
            if cap.uuid is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"Invalid uuid '{uuid}' for new mdev device")
        group = node.find("iommuGroup")
        if group is not None and group.get("number"):
            number = _parse_num(group.get("number"), 10)
            if number is None or number < 0:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid iommuGroup number attribute for '{dev}'")
            cap.iommu_group = number or 0
        for attr in node.iterfind("attr"):
            name, value = attr.get("name"), attr.get("value")
            if not name or not value:
                # libvirt reports this but carries on parsing.
                continue
            cap.attributes.append((name, value))
        return cap

    def fill(self, node: Element) -> None:
        x.sub(node, "type", id=self.mdev_type)
        if self.uuid:
            x.sub(node, "uuid", self.uuid)
        if self.parent_addr:
            x.sub(node, "parent_addr", self.parent_addr)
        x.sub(node, "iommuGroup", number=self.iommu_group)
        for name, value in self.attributes:
            x.sub(node, "attr", name=name, value=value)


@dataclass
class CCWAddress:
    cssid: int
    ssid: int
    devno: int

    @classmethod
    def parse(cls, node: Element, dev: str) -> CCWAddress:
        values = []
        for tag, limit in (("cssid", 0xFE), ("ssid", 0x3), ("devno", 0xFFFF)):
            text = _string(node, tag)
            if text is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"missing {tag} value for '{dev}'")
            value = _parse_num(text, 16 if (text or "").startswith("0x") else 10)
            if value is None or not 0 <= value <= limit:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid {tag} value '{text}' for '{dev}'")
            values.append(value or 0)
        return cls(*values)

    def fill(self, node: Element) -> None:
        x.sub(node, "cssid", f"0x{self.cssid:x}")
        x.sub(node, "ssid", f"0x{self.ssid:x}")
        x.sub(node, "devno", f"0x{self.devno:04x}")


@dataclass
class CCWCap(NodeDevCap):
    address: CCWAddress = field(default_factory=lambda: CCWAddress(0, 0, 0))
    type = "ccw"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> CCWCap:
        return cls(address=CCWAddress.parse(node, dev))

    def fill(self, node: Element) -> None:
        self.address.fill(node)


@dataclass
class CSSCap(NodeDevCap):
    address: CCWAddress = field(default_factory=lambda: CCWAddress(0, 0, 0))
    channel_dev_addr: CCWAddress | None = None
    mdev_types: list[MdevType] | None = None
    type = "css"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> CSSCap:
        cap = cls(address=CCWAddress.parse(node, dev))
        chan = node.find("channel_dev_addr")
        if chan is not None:
            cap.channel_dev_addr = CCWAddress.parse(chan, dev)
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_XML_ERROR, "Missing capability type")
            if kind == "mdev_types":
                cap.mdev_types = _parse_mdev_types(sub)
        return cap

    def fill(self, node: Element) -> None:
        self.address.fill(node)
        if self.channel_dev_addr is not None:
            self.channel_dev_addr.fill(x.sub(node, "channel_dev_addr"))
        if self.mdev_types is not None:
            _format_mdev_types(node, self.mdev_types)


def _ap_number(node: Element, tag: str, dev: str, limit: int) -> int:
    text = _string(node, tag)
    if text is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, f"missing {tag} value for '{dev}'")
    value = _parse_num(text, 16)
    if value is None:
        _err(c.VIR_ERR_INTERNAL_ERROR, f"invalid {tag} value '{text}' for '{dev}'")
    if not 0 <= (value or 0) <= limit:
        _err(c.VIR_ERR_INTERNAL_ERROR, f"{tag} value '{text}' is out of range for '{dev}'")
    return value or 0


@dataclass
class APCardCap(NodeDevCap):
    adapter: int = 0
    type = "ap_card"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> APCardCap:
        return cls(adapter=_ap_number(node, "ap-adapter", dev, 255))

    def fill(self, node: Element) -> None:
        x.sub(node, "ap-adapter", f"0x{self.adapter:02x}")


@dataclass
class APQueueCap(NodeDevCap):
    adapter: int = 0
    domain: int = 0
    type = "ap_queue"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> APQueueCap:
        return cls(adapter=_ap_number(node, "ap-adapter", dev, 255),
                   domain=_ap_number(node, "ap-domain", dev, 255))

    def fill(self, node: Element) -> None:
        x.sub(node, "ap-adapter", f"0x{self.adapter:02x}")
        x.sub(node, "ap-domain", f"0x{self.domain:04x}")


@dataclass
class APMatrixCap(NodeDevCap):
    mdev_types: list[MdevType] | None = None
    type = "ap_matrix"

    @classmethod
    def parse(cls, node: Element, dev: str, create: bool) -> APMatrixCap:
        cap = cls()
        for sub in node.iterfind("capability"):
            kind = sub.get("type")
            if not kind:
                _err(c.VIR_ERR_XML_ERROR, "Missing capability type")
            if kind == "mdev_types":
                cap.mdev_types = _parse_mdev_types(sub)
        return cap

    def fill(self, node: Element) -> None:
        if self.mdev_types is not None:
            _format_mdev_types(node, self.mdev_types)


_PARSERS = {cls.type: cls for cls in (SystemCap, PCICap, USBDeviceCap, USBInterfaceCap, NetCap,
                                      SCSITargetCap, SCSICap, StorageCap, DRMCap, MdevCap,
                                      CCWCap, CSSCap, APCardCap, APQueueCap, APMatrixCap)}


# ---- the device -----------------------------------------------------------------------------


@dataclass
class NodeDeviceDef:
    name: str
    caps: list[NodeDevCap] = field(default_factory=list)
    path: str | None = None  # sysfs path
    devnode: str | None = None
    devlinks: list[str] = field(default_factory=list)
    parent: str | None = None
    parent_wwnn: str | None = None
    parent_wwpn: str | None = None
    parent_fabric_wwn: str | None = None
    driver: str | None = None

    @classmethod
    def from_xml(cls, text: str | bytes, *, create: bool = False,
                 virt_type: str | None = None) -> NodeDeviceDef:
        root = x.parse_document(text, "device", "(node_device_definition)",
                                  c.VIR_FROM_NODEDEV)
        return cls.from_element(root, create=create, virt_type=virt_type)

    @classmethod
    def from_element(cls, root: Element, *, create: bool = False,
                     virt_type: str | None = None) -> NodeDeviceDef:
        if create:
            name = "new device"
        else:
            name = _string(root, "name") or ""
            if not name:
                raise_error(c.VIR_ERR_NO_NAME, None, domain=c.VIR_FROM_NODEDEV)
        dev = cls(name=name, path=_string(root, "path"))
        for node in root.iterfind("devnode"):
            kind = node.get("type")
            if kind is None:
                _attr_err("Missing required attribute 'type' in element 'devnode'")
            if kind not in ("dev", "link"):
                _attr_err(f"Invalid value for attribute 'type' in element 'devnode': '{kind}'.")
            if kind == "dev":
                dev.devnode = node.text or ""
            else:
                dev.devlinks.append(node.text or "")
        parent = root.find("parent")
        if parent is not None:
            dev.parent = parent.text or None
            dev.parent_wwnn = parent.get("wwnn") or None
            dev.parent_wwpn = parent.get("wwpn") or None
            dev.parent_fabric_wwn = parent.get("fabric_wwn") or None
        if dev.parent_wwnn and not dev.parent_wwpn:
            _err(c.VIR_ERR_XML_ERROR, f"when providing parent wwnn='{dev.parent_wwnn}', "
                 "the wwpn must also be provided")
        if dev.parent_wwpn and not dev.parent_wwnn:
            _err(c.VIR_ERR_XML_ERROR, f"when providing parent wwpn='{dev.parent_wwpn}', "
                 "the wwnn must also be provided")
        dev.driver = _string(root, "driver/name")
        cap_nodes = root.findall("capability")
        if not cap_nodes:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"no device capabilities for '{dev.name}'")
        for node in cap_nodes:
            kind = node.get("type")
            if kind is None:
                _attr_err("Missing required attribute 'type' in element 'capability'")
            if kind not in CAP_TYPES:
                _attr_err(f"Invalid value for attribute 'type' in element 'capability': '{kind}'.")
            if kind == "scsi_host":
                dev.caps.append(SCSIHostCap.parse(node, dev.name, create, virt_type))
            elif kind in _PARSERS:
                dev.caps.append(_PARSERS[kind].parse(node, dev.name, create))  # type: ignore
            else:
                _err(c.VIR_ERR_INTERNAL_ERROR,
                     f"unknown capability type '{CAP_TYPES.index(kind or '')}' for '{dev.name}'")
        return dev

    # ---- queries -------------------------------------------------------------------------

    def cap(self, kind: str) -> NodeDevCap | None:
        for cap in self.caps:
            if cap.type == kind:
                return cap
        return None

    def cap_names(self, nested: bool = True) -> list[str]:
        """The capability types, with (``nested``) the nested ones libvirt reports as the
        device's own (fc_host, vports, mdev_types, vpd), as virNodeDeviceCapsListExport."""
        names: list[str] = []
        for cap in self.caps:
            names.append(cap.type)
            if not nested:
                continue
            if isinstance(cap, SCSIHostCap):
                if cap.fc_host:
                    names.append("fc_host")
                if cap.vport_ops:
                    names.append("vports")
            elif isinstance(cap, PCICap):
                if cap.mdev_types:
                    names.append("mdev_types")
                if cap.vpd is not None:
                    names.append("vpd")
            elif isinstance(cap, CSSCap | APMatrixCap) and cap.mdev_types:
                names.append("mdev_types")
        return names

    # ---- output --------------------------------------------------------------------------

    def to_element(self) -> Element:
        root = x.element("device")
        x.sub(root, "name", self.name)
        if self.path:
            x.sub(root, "path", self.path)
        if self.devnode:
            x.sub(root, "devnode", self.devnode, type="dev")
        for link in self.devlinks:
            x.sub(root, "devnode", link, type="link")
        if self.parent:
            x.sub(root, "parent", self.parent)
        if self.driver:
            driver = x.sub(root, "driver")
            x.sub(driver, "name", self.driver)
        for cap in self.caps:
            node = x.keep_open(x.sub(root, "capability", type=cap.type), lines=True)
            cap.fill(node)
        return root

    def to_xml(self) -> str:
        """virNodeDeviceDefFormat."""
        return x.to_string(self.to_element())

    def copy(self) -> NodeDeviceDef:
        return _copy.deepcopy(self)
