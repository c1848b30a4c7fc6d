"""The test driver's node devices (libvirt's test_driver.c node device entry points).

Devices come only from the node file. nodeDeviceCreateXML makes libvirt's mock vHBA: a copy
of ``scsi_host11`` renamed ``scsi_host12`` with the requested WWNs; nodeDeviceDestroy
removes a fibre-channel device whose parent exists. Like libvirt's test driver, destroy
reports success (and leaves the device) when those checks fail.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.objlist import queue_event
from pyvirt.drivers.test.networks import resolve_file_ref
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    import threading
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.nodedev import virNodeDevice
    from pyvirt.conf.nodedev import NodeDeviceDef, SCSIHostCap

# VIR_CONNECT_LIST_NODE_DEVICES_CAP_* -> capability name (virNodeDevCapType strings)
_CAP_FILTERS: dict[int, str] = {
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SYSTEM: "system",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV: "pci",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV: "usb_device",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_INTERFACE: "usb",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET: "net",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_HOST: "scsi_host",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_TARGET: "scsi_target",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI: "scsi",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE: "storage",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_FC_HOST: "fc_host",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS: "vports",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_GENERIC: "scsi_generic",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_DRM: "drm",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV_TYPES: "mdev_types",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV: "mdev",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_CCW_DEV: "ccw",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_CSS_DEV: "css",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VDPA: "vdpa",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_CARD: "ap_card",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_QUEUE: "ap_queue",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_MATRIX: "ap_matrix",
    c.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPD: "vpd",
}
LIST_FILTERS_CAP = sum(_CAP_FILTERS)

MOCK_VPORT_TEMPLATE = "scsi_host11"
MOCK_VPORT_NAME = "scsi_host12"


def _fc_cap(dev: NodeDeviceDef) -> SCSIHostCap | None:
    from pyvirt.conf.nodedev import SCSIHostCap

    for cap in dev.caps:
        if isinstance(cap, SCSIHostCap) and cap.fc_host:
            return cap
    return None


class TestNodeDevices:
    """Mixin of TestDriver: libvirt's virNodeDeviceDriver for test:///."""

    lock: threading.RLock
    error_domain: int
    events: Any
    _nodedevs: dict[str, NodeDeviceDef]  # by name, in creation order

    def _init_nodedevs(self) -> None:
        self._nodedevs = {}

    def _load_nodedevs(self, node_el: Element, base_dir: str | os.PathLike[str] | None) -> None:
        """testParseNodedevs: each /node/device, as parsed (no host probing)."""
        from pyvirt.conf.nodedev import NodeDeviceDef

        for el in node_el.iterfind("device"):
            dev = NodeDeviceDef.from_element(resolve_file_ref(el, base_dir))
            self._nodedevs[dev.name] = dev

    def _dev_by_name(self, name: str) -> NodeDeviceDef:
        dev = self._nodedevs.get(name)
        if dev is None:
            raise_error(c.VIR_ERR_NO_NODE_DEVICE, f"no node device with matching name '{name}'",
                        domain=self.error_domain)
        return dev

    def _dev_event(self, name: str, event: int) -> None:
        queue_event(self, "node_device", c.VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, (name,), event, 0)

    # ---- lookups and lists --------------------------------------------------------------

    def nodeDeviceLookupByName(self, conn: virConnect, name: str) -> virNodeDevice:  # noqa: N802
        with self.lock:
            return conn._make_node_device(self._dev_by_name(name).name)

    def _dev_names(self, cap: str | None) -> list[str]:
        with self.lock:
            return [n for n, d in self._nodedevs.items() if cap is None or cap in d.cap_names()]

    def nodeListDevices(self, conn: virConnect, cap: str | None, flags: int) -> list[str]:  # noqa: N802
        check_flags("testNodeListDevices", flags, 0, self.error_domain)
        return self._dev_names(cap)

    def nodeNumOfDevices(self, conn: virConnect, cap: str | None, flags: int) -> int:  # noqa: N802
        check_flags("testNodeNumOfDevices", flags, 0, self.error_domain)
        return len(self._dev_names(cap))

    def connectListAllNodeDevices(self, conn: virConnect, flags: int) -> list[virNodeDevice]:  # noqa: N802
        check_flags("testConnectListAllNodeDevices", flags, LIST_FILTERS_CAP, self.error_domain)
        wanted = [name for bit, name in _CAP_FILTERS.items() if flags & bit]
        with self.lock:
            return [conn._make_node_device(n) for n, d in self._nodedevs.items()
                    if not wanted or set(wanted) & set(d.cap_names())]

    # ---- per device ---------------------------------------------------------------------

    def nodeDeviceGetXMLDesc(self, dev: virNodeDevice, flags: int) -> str:  # noqa: N802
        check_flags("testNodeDeviceGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._dev_by_name(dev.name()).to_xml()

    def nodeDeviceGetParent(self, dev: virNodeDevice) -> str:  # noqa: N802
        with self.lock:
            parent = self._dev_by_name(dev.name()).parent
        if not parent:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "no parent for this device",
                        domain=self.error_domain)
        return parent

    def nodeDeviceNumOfCaps(self, dev: virNodeDevice) -> int:  # noqa: N802
        with self.lock:
            return len(self._dev_by_name(dev.name()).caps)

    def nodeDeviceListCaps(self, dev: virNodeDevice) -> list[str]:  # noqa: N802
        with self.lock:
            return [cap.type for cap in self._dev_by_name(dev.name()).caps]

    # ---- the mock vHBA ------------------------------------------------------------------

    def _mock_vport_create(self, wwnn: str | None, wwpn: str | None) -> NodeDeviceDef | None:
        """testNodeDeviceMockCreateVport: clone scsi_host11 as scsi_host12 with new WWNs."""
        from pyvirt.conf.nodedev import NodeDeviceDef, SCSIHostCap

        template = self._nodedevs.get(MOCK_VPORT_TEMPLATE)
        if template is None:
            return None
        dev = NodeDeviceDef.from_xml(template.to_xml())
        dev.name = MOCK_VPORT_NAME
        for cap in dev.caps:
            if isinstance(cap, SCSIHostCap) and cap.fc_host:
                cap.wwnn, cap.wwpn = wwnn, wwpn
        self._nodedevs[dev.name] = dev
        self._dev_event(dev.name, c.VIR_NODE_DEVICE_EVENT_CREATED)
        return dev

    def _mock_vport_destroy(self, wwnn: str | None, wwpn: str | None) -> None:
        """testDestroyVport: the vHBA a pool made is always scsi_host12."""
        if MOCK_VPORT_NAME not in self._nodedevs:
            raise_error(c.VIR_ERR_NO_NODE_DEVICE,
                        f"no node device with matching name '{MOCK_VPORT_NAME}'",
                        domain=self.error_domain)
        self._dev_event(MOCK_VPORT_NAME, c.VIR_NODE_DEVICE_EVENT_DELETED)
        del self._nodedevs[MOCK_VPORT_NAME]

    def _vport_parent_check(self, newdev: NodeDeviceDef) -> None:
        """virNodeDeviceObjListGetParentHost: the parent must be a vport-capable HBA."""
        from pyvirt.conf.nodedev import SCSIHostCap

        parent: NodeDeviceDef | None
        if newdev.parent:
            parent = self._nodedevs.get(newdev.parent)
        elif newdev.parent_wwnn and newdev.parent_wwpn:
            parent = next((d for d in self._nodedevs.values()
                           if (cap := _fc_cap(d)) is not None
                           and cap.wwnn == newdev.parent_wwnn
                           and cap.wwpn == newdev.parent_wwpn), None)
        elif newdev.parent_fabric_wwn:
            parent = next((d for d in self._nodedevs.values()
                           if (cap := _fc_cap(d)) is not None
                           and cap.fabric_wwn == newdev.parent_fabric_wwn), None)
        else:
            # libvirt 9.0's test driver fails here without saying why
            raise_error(c.VIR_ERR_INTERNAL_ERROR, None, domain=c.VIR_FROM_NONE,
                        message="An error occurred, but the cause is unknown")
        if parent is None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"Could not find parent device for '{newdev.name}'",
                        domain=c.VIR_FROM_NODEDEV)
        assert parent is not None
        if not any(isinstance(cap, SCSIHostCap) and cap.vport_ops for cap in parent.caps):
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"Parent device {parent.name} is not capable of vport operations",
                        domain=c.VIR_FROM_NODEDEV)

    def nodeDeviceCreateXML(self, conn: virConnect, xml: str, flags: int) -> virNodeDevice:  # noqa: N802
        from pyvirt.conf.nodedev import NodeDeviceDef, random_wwn

        check_flags("testNodeDeviceCreateXML", flags, c.VIR_NODE_DEVICE_CREATE_XML_VALIDATE,
                    self.error_domain)
        newdev = NodeDeviceDef.from_xml(xml, create=True)
        fc = _fc_cap(newdev)
        if fc is None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "Device is not a fibre channel HBA",
                        domain=c.VIR_FROM_NODEDEV)
        assert fc is not None
        with self.lock:
            self._vport_parent_check(newdev)
            made = self._mock_vport_create(fc.wwnn or random_wwn(), fc.wwpn or random_wwn())
            if made is None:
                raise_error(c.VIR_ERR_INTERNAL_ERROR, None, domain=c.VIR_FROM_NONE,
                            message="An error occurred, but the cause is unknown")
            assert made is not None
            return conn._make_node_device(made.name)

    def nodeDeviceDestroy(self, dev: virNodeDevice) -> int:  # noqa: N802
        with self.lock:
            devdef = self._dev_by_name(dev.name())
            # libvirt's test driver returns 0 even when these checks fail
            if _fc_cap(devdef) is None or devdef.parent not in self._nodedevs:
                return 0
            self._dev_event(devdef.name, c.VIR_NODE_DEVICE_EVENT_DELETED)
            del self._nodedevs[devdef.name]
            return 0

    # ---- events -------------------------------------------------------------------------

    def connectNodeDeviceEventRegisterAny(  # noqa: N802
        self, conn: virConnect, dev: virNodeDevice | None, eventID: int, cb: Any,  # noqa: N803
        opaque: Any,
    ) -> int:
        key = dev.name() if dev is not None else None
        result: int = self.events.register(conn, "node_device", eventID, key, cb, opaque)
        return result

    def connectNodeDeviceEventDeregisterAny(self, conn: virConnect, callbackID: int) -> int:  # noqa: N802, N803
        self.events.deregister(conn, callbackID)
        return 0
