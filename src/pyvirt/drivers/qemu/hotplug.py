"""Device hotplug and vCPU changes of running QEMU guests (mixed into QemuDriver).

Attach, detach and update of disks, network interfaces and SCSI controllers, in the running
guest over QMP and in the persistent definition, in libvirt 9.0's order (qemu_driver.c's
qemuDomain{Attach,Detach,Update}Device*, qemu_hotplug.c). A new device first gets its alias
and PCI address, then its backend (``blockdev-add`` of each image's storage and format node,
or ``netdev_add``, with the TAP descriptor passed by ``getfd`` for bridge, ethernet and
network interfaces; a network interface first gets a port of its network, given back when it
is detached), then ``device_add``; a failed step undoes the earlier ones. The QMP
arguments are the command-line builder's own ``-blockdev``/``-netdev``/``-device`` JSON
(``command_disks``, ``command_net``, ``command_devices``), never a second generator.

Detach sends ``device_del`` and waits up to 5 s for QEMU's DEVICE_DELETED for the alias (the
guest has to let the device go); then the backend goes (``blockdev-del`` of the device's
nodes, ``netdev_del``), the device leaves the live definition and DEVICE_REMOVED is emitted.
When the guest is slower the call still succeeds, with the removal pending, as libvirt's: the
event, when it comes, finishes the removal in a worker thread under the domain's job.
``detachDeviceAlias`` does not wait at all. A cdrom or floppy changes media with
``blockdev-open-tray``, ``blockdev-remove-medium``, ``blockdev-insert-medium`` and
``blockdev-close-tray`` (the tray's state from DEVICE_TRAY_MOVED).

vCPUs: ``query-hotpluggable-cpus`` lists the guest's CPU slots (the guest runs with
``-smp current,maxcpus=max``); hotplug is ``device_add`` of the CPU type QEMU reports for a
free slot (alias ``vcpuN``), unplug ``device_del`` of a CPU added that way.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import weakref

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.errors import libvirtError, raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pyvirt.api.domain import virDomain
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.device import Device
    from pyvirt.conf.domain.disks import Disk
    from pyvirt.conf.domain.interfaces import Interface
    from pyvirt.drivers.qemu.command_props import Cmd, Props
    from pyvirt.drivers.qemu.domain import QemuDomain
    from pyvirt.drivers.qemu.emulator import EmulatorCaps
    from pyvirt.drivers.qemu.monitor import Monitor
    from pyvirt.drivers.qemu.paths import QemuPaths
    from pyvirt.drivers.secondary import SecondaryDrivers

LIVE = c.VIR_DOMAIN_AFFECT_LIVE
CONFIG = c.VIR_DOMAIN_AFFECT_CONFIG
# How long a detach waits for the guest to release a device (libvirt's QEMU_UNPLUG_TIMEOUT),
# and a media change for the tray to open (CHANGE_MEDIA_TIMEOUT).
UNPLUG_TIMEOUT = 5.0
CHANGE_MEDIA_TIMEOUT = 5.0
# While waiting for a vCPU to go, how often QEMU's CPU list is read: QEMU 7.2 under TCG
# finalises an unplugged CPU late or never, so its DEVICE_DELETED may not come.
_VCPU_POLL = 0.2
# Network types whose backend needs no file descriptors from the driver.
_NET_TYPES_NO_FDS = ("user", "client", "server", "mcast", "udp")
# ... and those on a TAP device the driver opens (tap.py)
_NET_TYPES_TAP = ("bridge", "ethernet")
_NODE_RE = re.compile(r"libvirt-(\d+)-(?:storage|format)")


def _err(code: int, detail: str | None = None, domain: int = c.VIR_FROM_QEMU) -> NoReturn:
    raise_error(code, detail, domain=domain)


# ---- per-domain state shared with the QMP event thread -------------------------------------


class HotplugState:
    """What one domain's hotplug calls and its QMP events share (libvirt's
    qemuDomainObjPrivate.unplug): the alias a caller waits to see deleted, the trays QEMU
    reported, and the block nodes of devices whose removal is under way."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.alias: str | None = None  # a caller waits for DEVICE_DELETED of this device
        self.seen = False  # ... and it arrived
        self.trays: dict[str, bool] = {}  # qdev id -> tray open (DEVICE_TRAY_MOVED)
        self.nodes: dict[str, list[str]] = {}  # alias -> block nodes to delete once it is gone

    def mark(self, alias: str) -> None:
        """qemuDomainMarkDeviceAliasForRemoval."""
        with self.cond:
            self.alias, self.seen = alias, False

    def reset(self) -> None:
        with self.cond:
            self.alias, self.seen = None, False

    def signal(self, alias: str) -> bool:
        """qemuDomainSignalDeviceRemoval: True when a caller was waiting for ``alias``."""
        with self.cond:
            if self.alias != alias:
                return False
            self.alias, self.seen = None, True
            self.cond.notify_all()
            return True

    def wait_removal(self, timeout: float, gone: Callable[[], bool] | None = None,
                     poll: float = _VCPU_POLL) -> bool:
        """qemuDomainWaitForDeviceRemoval: True once the marked device's DEVICE_DELETED
        arrived (or ``gone()``, asked between waits without the lock held, says it went);
        False after ``timeout``, with the mark cleared so that a late event is handled by
        whoever receives it."""
        deadline = time.monotonic() + timeout
        while True:
            with self.cond:
                if self.alias is None:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    self.alias = None
                    return False
                self.cond.wait(min(left, poll) if gone is not None else left)
                if self.alias is None:
                    return True
            if gone is not None and gone():
                self.reset()
                return True

    def tray_moved(self, qdev: str, is_open: bool) -> None:
        with self.cond:
            self.trays[qdev] = is_open
            self.cond.notify_all()

    def wait_tray_open(self, qdev: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.trays.get(qdev):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


_states: weakref.WeakKeyDictionary[QemuDomain, HotplugState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def hotplug_state(dom: QemuDomain) -> HotplugState:
    with _states_lock:
        state = _states.get(dom)
        if state is None:
            state = _states[dom] = HotplugState()
        return state


# ---- device XML ------------------------------------------------------------------------------

# virDomainDeviceTypeToString for the element names a device definition may have
_CHR_TAGS = ("serial", "parallel", "console", "channel")


def device_type_name(dev: Device) -> str:
    """virDomainDeviceTypeToString: the element name, "chr" for character devices."""
    tag = dev.tag or dev.TAG
    return "chr" if tag in _CHR_TAGS else tag


def parse_device(xml: str, inactive: bool, post: bool = True) -> tuple[Device, bool]:
    """virDomainDeviceDefParse: the device and whether its MAC address was generated (an
    interface without <mac>); ``post`` runs the device's post-parse (defaults)."""
    from pyvirt.conf.domain.devices import DEVICE_ORDER, _class_for
    from pyvirt.conf.xmlutil import parse_document

    root = parse_document(xml, None, "(device_definition)", c.VIR_FROM_DOMAIN)
    tag = str(root.tag)
    if tag not in dict(DEVICE_ORDER) and tag != "controller":
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown device type '{tag}'",
                    domain=c.VIR_FROM_DOMAIN)
    dev = _class_for(tag).from_element(root, inactive)
    mac_generated = tag == "interface" and not getattr(dev, "mac", "")
    if post:
        hook = getattr(dev, "post_parse", None)
        if hook is not None:
            hook()
    return dev, mac_generated


def _disk_source_text(disk: Disk) -> str:
    return disk.path or "<null>"


def _pci_text(dev: Device) -> str | None:
    addr = dev.info.address
    if addr is None or addr.type != "pci":
        return None
    return (f"{addr.num('domain'):04x}:{addr.num('bus'):02x}:{addr.num('slot'):02x}."
            f"{addr.num('function')}")


def find_net(defn: DomainDef, net: Interface, mac_generated: bool) -> int:
    """virDomainNetFindIdx: the interface ``net`` describes (by MAC unless it was generated,
    PCI address and alias when given)."""
    want_pci = _pci_text(net)
    match = -1
    for i, cur in enumerate(defn.devices.interfaces):
        if not mac_generated and cur.mac != net.mac:
            continue
        if want_pci is not None and _pci_text(cur) != want_pci:
            continue
        if net.info.alias and cur.info.alias and net.info.alias != cur.info.alias:
            continue
        if match >= 0:
            if not mac_generated:
                _err(c.VIR_ERR_OPERATION_FAILED,
                     f"multiple devices matching MAC address {net.mac} found",
                     c.VIR_FROM_DOMAIN)
            _err(c.VIR_ERR_OPERATION_FAILED, "multiple matching devices found",
                 c.VIR_FROM_DOMAIN)
        match = i
    if match < 0:
        mac = "(<null>)" if mac_generated else net.mac
        _err(c.VIR_ERR_DEVICE_MISSING,
             f"no device found at address '{want_pci or '(<null>)'}' matching MAC address "
             f"'{mac}' and alias '{net.info.alias or '(<null>)'}'", c.VIR_FROM_DOMAIN)
    return match


def find_by_alias(defn: DomainDef, alias: str) -> Device | None:
    """virDomainDefFindDevice (every device, the serial console's view included)."""
    for dev in defn.devices.all():
        if dev.info.alias == alias:
            return dev
    return None


def _remove_from(defn: DomainDef, dev: Device) -> bool:
    """Take ``dev`` (this very object) out of the definition's device lists."""
    from pyvirt.conf.domain.devices import DEVICE_ORDER

    for _, attr in DEVICE_ORDER:
        items = getattr(defn.devices, attr)
        for i, cur in enumerate(items):
            if cur is dev:
                del items[i]
                return True
    return False


def _check_alias_unique(defs: tuple[DomainDef | None, ...], dev: Device) -> None:
    """virDomainDeviceValidateAliasForHotplug."""
    alias = dev.info.alias
    if not alias:
        return
    for defn in defs:
        if defn is not None and find_by_alias(defn, alias) is not None:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"non unique alias detected: {alias}",
                 c.VIR_FROM_DOMAIN)


def _check_boot_order(defn: DomainDef, dev: Device, old: Device | None = None) -> None:
    """The boot-order part of virDomainDefCompatibleDevice."""
    order = dev.info.boot_order
    if not order:
        return
    if defn.os.boot_devices:
        _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "per-device boot elements cannot be used together "
             "with os/boot elements", c.VIR_FROM_DOMAIN)
    for cur in defn.devices.all():
        if cur is not old and cur.info.boot_order == order:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"boot order {order} is already used by another device", c.VIR_FROM_DOMAIN)


def _scsi_address_used(defn: DomainDef, disk: Disk) -> bool:
    """virDomainSCSIDriveAddressIsUsed (disks; the host devices are not hotplugged here)."""
    addr = disk.info.address
    if addr is None or addr.type != "drive":
        return False
    key = tuple(addr.num(n) for n in ("controller", "bus", "target", "unit"))
    for cur in defn.devices.disks:
        other = cur.info.address
        if cur.target_bus == "scsi" and other is not None and other.type == "drive" and \
                tuple(other.num(n) for n in ("controller", "bus", "target", "unit")) == key:
            return True
    return False


# ---- configuration changes (the persistent definition) ---------------------------------------


def attach_config(defn: DomainDef, dev: Device) -> None:
    """qemuDomainAttachDeviceConfig for the device kinds this driver handles."""
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.disks import Disk
    from pyvirt.conf.domain.interfaces import Interface

    devs = defn.devices
    if isinstance(dev, Disk):
        if any(d.target_dev == dev.target_dev for d in devs.disks):
            _err(c.VIR_ERR_OPERATION_INVALID, f"target {dev.target_dev} already exists")
        if dev.target_bus == "scsi" and _scsi_address_used(defn, dev):
            _err(c.VIR_ERR_OPERATION_INVALID, "Domain already contains a disk with that address")
        devs.insert_disk(dev)
    elif isinstance(dev, Interface):
        devs.interfaces.append(dev)
    elif isinstance(dev, Controller):
        if dev.index != -1 and devs.find_controller(dev.type, dev.index) is not None:
            _err(c.VIR_ERR_OPERATION_INVALID, f"controller index='{dev.index}' already exists")
        devs.insert_controller(dev)
    elif dev.tag in ("sound", "input", "rng", "redirdev"):
        getattr(devs, {"sound": "sounds", "input": "inputs", "rng": "rngs",
                       "redirdev": "redirdevs"}[dev.tag]).append(dev)
    elif dev.tag == "watchdog":
        if devs.watchdogs:
            _err(c.VIR_ERR_OPERATION_INVALID, "domain already has a watchdog")
        devs.watchdogs.append(dev)  # type: ignore[arg-type]
    else:
        _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
             f"persistent attach of device '{device_type_name(dev)}' is not supported")


def detach_config(defn: DomainDef, dev: Device, mac_generated: bool) -> None:
    """qemuDomainDetachDeviceConfig for the device kinds this driver handles."""
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.disks import Disk
    from pyvirt.conf.domain.interfaces import Interface

    devs = defn.devices
    if isinstance(dev, Disk):
        found = next((d for d in devs.disks if d.target_dev == dev.target_dev), None)
        if found is None:
            _err(c.VIR_ERR_DEVICE_MISSING, f"no target device {dev.target_dev}")
        devs.disks.remove(found)
    elif isinstance(dev, Interface):
        del devs.interfaces[find_net(defn, dev, mac_generated)]
    elif isinstance(dev, Controller):
        cont = devs.find_controller(dev.type, dev.index)
        if cont is None:
            _err(c.VIR_ERR_DEVICE_MISSING, "device not present in domain configuration")
        devs.controllers.remove(cont)
    elif dev.tag == "watchdog":
        if not devs.watchdogs:
            _err(c.VIR_ERR_DEVICE_MISSING, "domain has no watchdog")
        devs.watchdogs.clear()
    else:
        _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
             f"persistent detach of device '{device_type_name(dev)}' is not supported")


def update_config(defn: DomainDef, dev: Device, mac_generated: bool) -> None:
    """qemuDomainUpdateDeviceConfig: disks by target, interfaces as detach would find them."""
    from pyvirt.conf.domain.disks import Disk
    from pyvirt.conf.domain.interfaces import Interface

    devs = defn.devices
    if isinstance(dev, Disk):
        pos = next((i for i, d in enumerate(devs.disks) if d.target_dev == dev.target_dev), -1)
        if pos < 0:
            _err(c.VIR_ERR_INVALID_ARG, f"target {dev.target_dev} doesn't exist.")
        _check_boot_order(defn, dev, devs.disks[pos])
        devs.disks[pos] = dev
    elif isinstance(dev, Interface):
        pos = find_net(defn, dev, mac_generated)
        _check_boot_order(defn, dev, devs.interfaces[pos])
        devs.interfaces[pos] = dev
    else:
        _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
             f"persistent update of device '{device_type_name(dev)}' is not supported")


# ---- QEMU's view: block nodes, CPU slots -----------------------------------------------------


def next_node_index(named_nodes: list[dict[str, Any]]) -> int:
    """The N for a new image's libvirt-N-storage/-format nodes (libvirt's nodenameindex):
    one above every N in use."""
    top = 0
    for node in named_nodes:
        m = _NODE_RE.fullmatch(str(node.get("node-name", "")))
        if m:
            top = max(top, int(m.group(1)))
    return top + 1


def node_chain(graph: dict[str, Any], top: str) -> list[str]:
    """The block nodes of the tree under ``top`` in QEMU's block graph, each before its
    children (the order ``blockdev-del`` needs)."""
    names = {n["id"]: n["name"] for n in graph.get("nodes", [])
             if n.get("type") == "block-driver"}
    ids = {name: ident for ident, name in names.items()}
    children: dict[int, list[int]] = {}
    for edge in graph.get("edges", []):
        children.setdefault(edge["parent"], []).append(edge["child"])
    out: list[str] = []
    seen: set[int] = set()

    def walk(ident: int) -> None:
        if ident in seen or ident not in names:
            return
        seen.add(ident)
        out.append(names[ident])
        for child in children.get(ident, []):
            walk(child)

    if top in ids:
        walk(ids[top])
    return out


def orphan_nodes(graph: dict[str, Any]) -> list[str]:
    """Block nodes this driver named (libvirt-*) that nothing uses any more: the images of
    a device QEMU removed after the driver lost track of them."""
    has_parent = {edge["child"] for edge in graph.get("edges", [])}
    out: list[str] = []
    for node in graph.get("nodes", []):
        if node.get("type") == "block-driver" and node["id"] not in has_parent and \
                str(node.get("name", "")).startswith("libvirt-"):
            out.extend(n for n in node_chain(graph, node["name"]) if n not in out)
    return out


def _cpu_key(slot: dict[str, Any]) -> tuple[int, ...]:
    props = slot.get("props", {})
    return tuple(int(props.get(k, -1)) for k in ("socket-id", "die-id", "core-id", "thread-id"))


class CpuSlot:
    """One hotpluggable CPU entity of the guest, numbered as libvirt numbers vCPUs."""

    __slots__ = ("first", "count", "type", "props", "qom_path")

    def __init__(self, first: int, slot: dict[str, Any]) -> None:
        self.first = first
        self.count = int(slot.get("vcpus-count", 1))
        self.type = str(slot.get("type", ""))
        self.props: dict[str, Any] = dict(slot.get("props", {}))
        self.qom_path: str | None = slot.get("qom-path")

    @property
    def online(self) -> bool:
        return self.qom_path is not None

    @property
    def alias(self) -> str | None:
        """The device id of a CPU added with device_add (boot CPUs have none)."""
        prefix = "/machine/peripheral/"
        if self.qom_path and self.qom_path.startswith(prefix):
            return self.qom_path[len(prefix):]
        return None


def cpu_slots(hotpluggable: list[dict[str, Any]]) -> list[CpuSlot]:
    """query-hotpluggable-cpus in vCPU order (by socket, die, core, thread)."""
    out: list[CpuSlot] = []
    first = 0
    for slot in sorted(hotpluggable, key=_cpu_key):
        entity = CpuSlot(first, slot)
        out.append(entity)
        first += entity.count
    return out


def select_vcpus(slots: list[CpuSlot], nvcpus: int) -> tuple[list[CpuSlot], bool]:
    """qemuDomainSelectHotplugVcpuEntities: the entities to plug (True) or unplug (False)
    to reach ``nvcpus``; unplugged are only CPUs added by device_add, the last first."""
    cur = sum(s.count for s in slots if s.online)
    chosen: list[CpuSlot] = []
    granularity = "target vm vcpu granularity does not allow the desired vcpu count"
    if nvcpus > cur:
        enable = True
        for slot in slots:
            if cur >= nvcpus:
                break
            if slot.online or not slot.count:
                continue
            cur += slot.count
            if cur > nvcpus:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, granularity)
            chosen.append(slot)
    else:
        enable = False
        for slot in reversed(slots):
            if cur <= nvcpus:
                break
            if not slot.online or not slot.count or slot.alias is None:
                continue
            cur -= slot.count
            if cur < nvcpus:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, granularity)
            chosen.append(slot)
    if cur != nvcpus:
        _err(c.VIR_ERR_CONFIG_UNSUPPORTED, "failed to find appropriate hotpluggable vcpus to "
             "reach the desired target vcpu count")
    return chosen, enable


# ---- the command-line builder, one device at a time ------------------------------------------


def scratch_definition(live: DomainDef, dev: Device | None = None) -> DomainDef:
    """A shallow copy of ``live`` whose device lists may grow by ``dev`` (the builder and
    the address code see the guest as it will be, the live definition stays as it is)."""
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.devices import DEVICE_ORDER
    from pyvirt.conf.domain.disks import Disk

    scratch = copy.copy(live)
    devs = copy.copy(live.devices)
    for _, attr in DEVICE_ORDER:
        setattr(devs, attr, list(getattr(devs, attr)))
    scratch.devices = devs
    if isinstance(dev, Disk):
        devs.insert_disk(dev)
    elif isinstance(dev, Controller):
        devs.insert_controller(dev)
    elif dev is not None:
        dict_attr = {tag: attr for tag, attr in DEVICE_ORDER}
        getattr(devs, dict_attr[dev.tag]).append(dev)
    return scratch


def ensure_pci_address(defn: DomainDef, caps: EmulatorCaps, dev: Device) -> None:
    """qemuDomainEnsurePCIAddress: a hotplugged device that sits on PCI gets the first free
    slot of a bus that takes hotplugged devices; one given in the XML is checked and
    reserved. ``defn`` holds the guest's devices with ``dev`` among them."""
    from pyvirt.drivers.qemu import addresses as a

    assigner = a._PCIAssigner(defn, caps)
    flags = assigner.flags_of(dev)
    if not flags:
        return
    addr = dev.info.address
    if addr is not None and addr.type not in ("", "none", "pci"):
        return
    present = addr is not None and addr.type == "pci" and a._pci_present(dev)
    if present:
        dev.info.address = None  # not collected as taken: it is this device's to claim
    nbuses = max((x.index for x in defn.devices.controllers if x.type == "pci"), default=-1) + 1
    addrs = assigner.create(nbuses, False)
    assigner.validate_chipsets(addrs)
    flags |= a.HOTPLUGGABLE
    if present:
        assert addr is not None
        dev.info.address = addr
        addrs.reserve(a._pci_tuple(dev), flags, True)
    else:
        a._set_pci(dev, addrs.reserve_next(flags))


def check_source(live: DomainDef, disk: Disk) -> None:
    """The image of a disk being added must exist (the driver's check before a start)."""
    from pyvirt.drivers.qemu.driver import _check_storage

    alone = scratch_definition(live)
    alone.devices.disks = [disk]
    _check_storage(alone)


def take(cmd: Cmd, option: str) -> list[Props]:
    """The JSON objects the builder added to ``cmd`` for ``option`` (then forgets them)."""
    out: list[Props] = []
    args = cmd.args
    for i, arg in enumerate(args[:-1]):
        if arg == option:
            out.append(json.loads(args[i + 1]))
    args.clear()
    return out


# ---- the mixin -------------------------------------------------------------------------------


class QemuHotplugMixin:
    """Device and vCPU entry points; ``self`` is the QemuDriver."""

    if TYPE_CHECKING:
        paths: QemuPaths

        def _dom(self, handle: virDomain) -> QemuDomain: ...

        def _running_monitor(self, dom: QemuDomain) -> Any: ...

        def _emit(self, dom: QemuDomain, event_id: int, *payload: Any) -> None: ...

        def caps_for(self, binary: str) -> EmulatorCaps: ...

        def default_emulator(self, arch: str | None) -> str: ...

        def parse_definition(self, xml: str, inactive: bool,
                             validate: bool = False) -> DomainDef: ...

        secondaries: SecondaryDrivers

    # ---- QMP events (called in the monitor loop's thread: no monitor calls here) ----------

    def _hotplug_event(self, dom: QemuDomain, event: str, data: dict[str, Any]) -> None:
        state = hotplug_state(dom)
        if event == "DEVICE_TRAY_MOVED":
            state.tray_moved(str(data.get("id") or data.get("device") or ""),
                             bool(data.get("tray-open")))
            return
        if event != "DEVICE_DELETED":
            return
        alias = data.get("device")
        if not alias or state.signal(str(alias)):
            return  # a part of a device (no id), or the caller waiting for it goes on
        threading.Thread(target=self._hp_device_deleted, args=(dom, str(alias)),
                         name=f"pyvirt-device-deleted-{alias}", daemon=True).start()

    def _hp_device_deleted(self, dom: QemuDomain, alias: str) -> None:
        """processDeviceDeletedEvent: QEMU removed a device nobody waits for any more (a
        detach that timed out, detachDeviceAlias): finish the removal under the job."""
        try:
            dom.job.begin("processDeviceDeletedEvent")
        except libvirtError:
            return
        try:
            if not dom.active or dom.monitor is None:
                return
            if alias.startswith("vcpu"):
                self._hp_refresh_vcpus(dom)
                return
            dev = find_by_alias(dom.defn, alias)
            if dev is not None:
                self._hp_remove_device(dom, dev)
        except libvirtError as exc:
            import sys

            print(f"pyvirt: qemu: removal of device '{alias}' of '{dom.name}' failed: {exc}",
                  file=sys.stderr)
        finally:
            dom.job.end()

    # ---- helpers ----------------------------------------------------------------------------

    def _hp_caps_of(self, defn: DomainDef) -> EmulatorCaps:
        return self.caps_for(defn.devices.emulator or self.default_emulator(defn.os.arch))

    def _hp_builder(self, dom: QemuDomain, defn: DomainDef) -> Cmd:
        from pyvirt.drivers.qemu.command import LaunchContext
        from pyvirt.drivers.qemu.command_props import Cmd

        ctx = LaunchContext(monitor_socket=dom.monitor_path,
                            domain_dir=self.paths.domain_run_dir(dom.name))
        return Cmd(defn, self._hp_caps_of(defn), ctx)

    def _hp_save_live(self, dom: QemuDomain) -> None:
        with dom.lock:
            if dom.active:
                dom.save_status(self.paths)

    def _hp_commit_config(self, dom: QemuDomain, vmdef: DomainDef) -> None:
        """Make ``vmdef`` the persistent definition (post-parse run again, as libvirt's
        virDomainDefPostParse after a change) and write it."""
        vmdef = self.parse_definition(vmdef.to_xml(inactive=True, secure=True), inactive=True)
        with dom.lock:
            if dom.active:
                old, dom.new_def = dom.new_def, vmdef
            else:
                vmdef.id = -1
                old, dom.defn = dom.defn, vmdef
            try:
                dom.save_config(self.paths)
            except BaseException:
                if dom.active:
                    dom.new_def = old
                elif old is not None:
                    dom.defn = old
                raise

    def _hp_block_nodes(self, monitor: Monitor, disk: Disk) -> list[str]:
        """The block nodes behind ``disk`` in QEMU, top first (empty for an empty drive)."""
        alias = disk.info.alias
        qdevs = {alias, f"/machine/peripheral/{alias}/virtio-backend"}
        top = next((str(b["inserted"]["node-name"]) for b in monitor.execute("query-block")
                    if b.get("qdev") in qdevs and b.get("inserted")), None)
        if top is None:
            return []
        return self._hp_node_chain(monitor, top)

    @staticmethod
    def _hp_node_chain(monitor: Monitor, top: str) -> list[str]:
        try:
            chain = node_chain(monitor.execute("x-debug-query-block-graph"), top)
        except libvirtError:
            chain = []
        if chain:
            return chain
        m = re.fullmatch(r"libvirt-(\d+)-format", top)
        return [top, f"libvirt-{m.group(1)}-storage"] if m else [top]

    @staticmethod
    def _hp_blockdev_del(monitor: Monitor, nodes: list[str]) -> None:
        """qemuBlockStorageSourceChainDetach: best effort, top first."""
        for node in nodes:
            try:
                monitor.execute("blockdev-del", {"node-name": node})
            except libvirtError:
                pass

    def _hp_blockdev_props(self, monitor: Monitor, cmd: Cmd, disk: Disk) -> tuple[list[Props],
                                                                              str | None]:
        """The blockdev-add arguments of ``disk``'s images (backing layers first, each as
        storage then format node) and the node its frontend uses."""
        from pyvirt.drivers.qemu.command_disks import disk_chain, disk_source_args

        chain = disk_chain(disk)
        ident = next_node_index(monitor.execute("query-named-block-nodes", {"flat": True}))
        for layer in chain:  # the top image first, as qemuDomainPrepareDiskSourceBlockdev
            layer.ident = ident
            ident += 1
        top = disk_source_args(cmd, disk, chain)
        return take(cmd, "-blockdev"), top

    @staticmethod
    def _hp_blockdev_add(monitor: Monitor, props: list[Props]) -> list[str]:
        """blockdev-add each node; on a failure the ones added are deleted again."""
        added: list[str] = []
        try:
            for node in props:
                monitor.execute("blockdev-add", node)
                added.append(str(node["node-name"]))
        except BaseException:
            QemuHotplugMixin._hp_blockdev_del(monitor, list(reversed(added)))
            raise
        return list(reversed(added))

    # ---- attach --------------------------------------------------------------------------

    def domainAttachDevice(self, handle: virDomain, xml: str) -> int:  # noqa: N802
        return self.domainAttachDeviceFlags(handle, xml, LIVE)

    def domainAttachDeviceFlags(self, handle: virDomain, xml: str,  # noqa: N802
                                flags: int) -> int:
        from pyvirt.conf.domain.interfaces import Interface

        check_flags("qemuDomainAttachDeviceFlags", flags, LIVE | CONFIG, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainAttachDevice")
        try:
            live, config = dom.defs_for(flags)
            vmdef = None
            dev_conf = None
            if config is not None:
                vmdef = config.copy()
                dev_conf, _ = parse_device(xml, inactive=True)
                _check_alias_unique((config, live), dev_conf)
                _check_boot_order(vmdef, dev_conf)
                attach_config(vmdef, dev_conf)
            if live is not None:
                dev, _ = parse_device(xml, inactive=True)
                if isinstance(dev, Interface) and isinstance(dev_conf, Interface):
                    dev.mac = dev_conf.mac  # a generated MAC is the same in both
                _check_alias_unique((config, live), dev)
                _check_boot_order(live, dev)
                try:
                    self._hp_attach_live(dom, dev)
                finally:
                    self._hp_save_live(dom)
            if vmdef is not None:
                self._hp_commit_config(dom, vmdef)
        finally:
            dom.job.end()
        return 0

    def _hp_attach_live(self, dom: QemuDomain, dev: Device) -> None:
        """qemuDomainAttachDeviceLive."""
        from pyvirt.conf.domain.controllers import Controller
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        if isinstance(dev, Disk):
            if not self._hp_attach_disk_live(dom, dev):
                return  # a media change: no new device
        elif isinstance(dev, Interface):
            self._hp_attach_net_live(dom, dev)
        elif isinstance(dev, Controller):
            self._hp_attach_controller_live(dom, dev)
        else:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"live attach of device '{device_type_name(dev)}' is not supported")
        if dev.info.alias:
            self._emit(dom, c.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, dev.info.alias)

    def _hp_attach_disk_live(self, dom: QemuDomain, disk: Disk) -> bool:
        """qemuDomainAttachDeviceDiskLive; False when it changed the media of a drive."""
        from pyvirt.drivers.qemu.addresses import assign_aliases
        from pyvirt.drivers.qemu.command_disks import check_disk, disk_device_props

        monitor: Monitor = self._running_monitor(dom)
        live = dom.defn
        if disk.device in ("cdrom", "floppy"):
            orig = next((d for d in live.devices.disks if d.target_dev == disk.target_dev), None)
            if orig is not None:
                self._hp_change_media(dom, orig, disk, force=False)
                return False
        if disk.device == "floppy":
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "floppy device hotplug isn't supported")
        for other in live.devices.disks:
            if other.target_dev == disk.target_dev:
                _err(c.VIR_ERR_XML_ERROR, f"target '{disk.target_dev}' duplicated for disk "
                     f"sources '{_disk_source_text(other)}' and '{_disk_source_text(disk)}'",
                     c.VIR_FROM_DOMAIN)
        bus = disk.target_bus or "ide"
        caps = self._hp_caps_of(live)
        if bus in ("virtio", "scsi"):  # refusals first: nothing is plugged for a bad disk
            check_disk(self._hp_builder(dom, scratch_definition(live, disk)), disk)
            check_source(live, disk)
        if bus == "virtio":
            if disk.device == "cdrom":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     "cdrom device with virtio bus isn't supported")
            ensure_pci_address(scratch_definition(live, disk), caps, disk)
        elif bus == "scsi":
            addr = disk.info.address
            if addr is None or addr.type != "drive":
                _err(c.VIR_ERR_INTERNAL_ERROR, f"unexpected disk address type "
                     f"{addr.type if addr is not None else 'none'}")
            if _scsi_address_used(live, disk):
                _err(c.VIR_ERR_OPERATION_INVALID,
                     "Domain already contains a disk with that address")
            for index in range(addr.controller + 1):
                self._hp_find_or_create_scsi_controller(dom, index)
        else:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED, f"disk bus '{bus}' cannot be hotplugged.")
        scratch = scratch_definition(dom.defn, disk)
        assign_aliases(scratch)
        cmd = self._hp_builder(dom, scratch)
        blockdevs, top = self._hp_blockdev_props(monitor, cmd, disk)
        cmd.device(disk_device_props(cmd, disk, top, disk.info.boot_order or 0))
        device = take(cmd, "-device")[0]
        added = self._hp_blockdev_add(monitor, blockdevs)
        try:
            monitor.execute("device_add", device)
        except BaseException:
            self._hp_blockdev_del(monitor, added)
            raise
        with dom.lock:
            dom.defn.devices.insert_disk(disk)
        return True

    def _hp_find_or_create_scsi_controller(self, dom: QemuDomain, index: int) -> Controller:
        """qemuDomainFindOrCreateSCSIDiskController: a missing SCSI controller is hotplugged
        (the model of the last one, else the machine's default)."""
        from pyvirt.conf.domain.controllers import Controller

        model = None
        for cont in dom.defn.devices.controllers:
            if cont.type != "scsi":
                continue
            if cont.index == index:
                return cont
            model = cont.model
        if model is None:
            model = "lsilogic" if self._hp_caps_of(dom.defn).has_device("lsi53c895a") \
                else "virtio-scsi"
        cont = Controller.new("scsi", index, model)
        self._hp_attach_controller_live(dom, cont)
        if not dom.active:
            _err(c.VIR_ERR_INTERNAL_ERROR, "guest unexpectedly quit")
        return cont

    def _hp_attach_controller_live(self, dom: QemuDomain, cont: Controller) -> None:
        """qemuDomainAttachControllerDevice (SCSI controllers only, as libvirt's)."""
        from pyvirt.drivers.qemu.addresses import controller_alias
        from pyvirt.drivers.qemu.command_devices import controller_props

        if cont.type != "scsi":
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"'{cont.type}' controller cannot be hot plugged.")
        monitor: Monitor = self._running_monitor(dom)
        live = dom.defn
        if cont.index == -1:
            used = {x.index for x in live.devices.controllers if x.type == cont.type}
            cont.index = next(i for i in range(len(used) + 1) if i not in used)
        if live.devices.find_controller(cont.type, cont.index) is not None:
            _err(c.VIR_ERR_OPERATION_FAILED, f"target {cont.type}:{cont.index} already exists")
        if cont.model is None:
            cont.model = "lsilogic" if self._hp_caps_of(live).has_device("lsi53c895a") \
                else "virtio-scsi"
        scratch = scratch_definition(live, cont)
        ensure_pci_address(scratch, self._hp_caps_of(live), cont)
        cont.info.alias = cont.info.alias or controller_alias(scratch, cont)
        cmd = self._hp_builder(dom, scratch)
        props = controller_props(cmd, cont)
        if props is None:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"'{cont.type}' controller cannot be hot plugged.")
        cmd.device(props)
        monitor.execute("device_add", take(cmd, "-device")[0])
        with dom.lock:
            dom.defn.devices.insert_controller(cont)

    def _hp_attach_net_live(self, dom: QemuDomain, net: Interface) -> None:
        """qemuDomainAttachNetDevice: the backend (a TAP device the driver opens and passes
        over the monitor for bridge and ethernet interfaces), netdev_add, device_add, then
        the link state. A failure gives back the network port and TAP device it took."""
        from pyvirt.drivers.qemu import tap
        from pyvirt.drivers.qemu.addresses import assign_aliases
        from pyvirt.drivers.qemu.command_props import xchild

        monitor: Monitor = self._running_monitor(dom)
        if net.type not in (*_NET_TYPES_NO_FDS, *_NET_TYPES_TAP, "network"):
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"live attach of interface type '{net.type}' is not supported by this driver")
        live = dom.defn
        index = len(live.devices.interfaces)
        scratch = scratch_definition(live, net)
        ensure_pci_address(scratch, self._hp_caps_of(live), net)
        assign_aliases(scratch)
        cmd = self._hp_builder(dom, scratch)
        fds: dict[int, list[int]] = {}
        if net.type in (*_NET_TYPES_TAP, "network"):
            alone = scratch_definition(live)
            alone.devices.interfaces = [net]
            # net.target_dev: its TAP device; "network": a port of that network first, as
            # at start (net's <source> gets portid= and bridge=)
            fds = {index: tap.plug_interfaces(alone, self.secondaries)[0]}
            cmd.ctx.tap_fds = fds
        try:
            self._hp_add_netdev(monitor, cmd, net, index, fds)
        except BaseException:
            tap.release_port(net, self.secondaries)
            raise
        with dom.lock:
            dom.defn.devices.interfaces.append(net)
        link = xchild(net, "link")
        if link is not None and link.attrs.get("state") == "down":
            monitor.execute("set_link", {"name": net.info.alias, "up": False})

    @staticmethod
    def _hp_add_netdev(monitor: Monitor, cmd: Cmd, net: Interface, index: int,
                       fds: dict[int, list[int]]) -> None:
        """The descriptors (getfd), netdev_add, device_add; closes ``fds`` either way and
        takes back what QEMU got when a step fails."""
        import os

        from pyvirt.drivers.qemu.command_net import host_net_props, nic_props

        passed: list[str] = []
        try:
            netdev = host_net_props(cmd, net, index)
            cmd.device(nic_props(cmd, net, net.info.boot_order or 0))
            device = take(cmd, "-device")[0]
            for i, fd in enumerate(fds.get(index, [])):
                name = f"tapfd-{net.info.alias}{i}"  # QEMU's name for our descriptor
                monitor.execute_with_fd(fd, name)
                passed.append(name)
            if passed:
                netdev["fd"] = passed[0]
            monitor.execute("netdev_add", netdev)
        except BaseException:
            for name in passed:
                try:
                    monitor.execute("closefd", {"fdname": name})
                except libvirtError:
                    pass
            raise
        finally:
            for group in fds.values():
                for fd in group:
                    os.close(fd)  # QEMU holds its own copy now (or the TAP goes away)
        try:
            monitor.execute("device_add", device)
        except BaseException:
            try:
                monitor.execute("netdev_del", {"id": netdev["id"]})
            except libvirtError:
                pass
            raise

    # ---- media change ----------------------------------------------------------------------

    def _hp_change_media(self, dom: QemuDomain, orig: Disk, new: Disk, force: bool) -> None:
        """qemuDomainChangeEjectableMedia with blockdev: open the tray (waiting for the
        guest to let go unless forced), remove the medium and delete its nodes, add the new
        image's nodes and insert them, close the tray."""
        from pyvirt.drivers.qemu.command_disks import check_disk

        monitor: Monitor = self._running_monitor(dom)
        state = hotplug_state(dom)
        qdev = str(orig.info.alias)
        staged = orig.copy()  # the drive with the new medium, for the builder
        staged.type, staged.source = new.type, new.source
        if new.driver is not None:
            staged.driver = new.driver
        scratch = scratch_definition(dom.defn)
        cmd = self._hp_builder(dom, scratch)
        check_disk(cmd, staged)
        check_source(scratch, staged)
        blockdevs, top = self._hp_blockdev_props(monitor, cmd, staged) \
            if new.source is not None and new.path else ([], None)
        old_nodes = self._hp_block_nodes(monitor, orig)
        block: dict[str, Any] = next((b for b in monitor.execute("query-block")
                                      if b.get("qdev") == qdev), {})
        if not block.get("tray_open"):
            with state.cond:
                state.trays[qdev] = False
            monitor.execute("blockdev-open-tray", {"id": qdev, "force": force})
            if not force and not state.wait_tray_open(qdev, CHANGE_MEDIA_TIMEOUT):
                _err(c.VIR_ERR_OPERATION_FAILED,
                     f"timed out waiting to open tray of '{orig.target_dev}'")
        monitor.execute("blockdev-remove-medium", {"id": qdev})
        self._hp_blockdev_del(monitor, old_nodes)
        added: list[str] = []
        try:
            if blockdevs:
                added = self._hp_blockdev_add(monitor, blockdevs)
                monitor.execute("blockdev-insert-medium", {"id": qdev, "node-name": top})
            monitor.execute("blockdev-close-tray", {"id": qdev})
        except BaseException:
            self._hp_blockdev_del(monitor, added)
            raise
        with dom.lock:
            orig.type, orig.source = staged.type, staged.source
            orig.driver = staged.driver

    # ---- detach ----------------------------------------------------------------------------

    def domainDetachDevice(self, handle: virDomain, xml: str) -> int:  # noqa: N802
        return self.domainDetachDeviceFlags(handle, xml, LIVE)

    def domainDetachDeviceFlags(self, handle: virDomain, xml: str,  # noqa: N802
                                flags: int) -> int:
        check_flags("qemuDomainDetachDeviceFlags", flags, LIVE | CONFIG, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainDetachDevice")
        try:
            live, config = dom.defs_for(flags)
            vmdef = None
            if config is not None:
                vmdef = config.copy()
                dev_conf, generated = parse_device(xml, inactive=live is None, post=False)
                detach_config(vmdef, dev_conf, generated)
            if live is not None:
                dev, generated = parse_device(xml, inactive=False, post=False)
                target = self._hp_detach_target(dom, dev, generated)
                try:
                    self._hp_detach_live(dom, target, wait=True)
                finally:
                    self._hp_save_live(dom)
            if vmdef is not None:
                self._hp_commit_config(dom, vmdef)
        finally:
            dom.job.end()
        return 0

    def domainDetachDeviceAlias(self, handle: virDomain, alias: str,  # noqa: N802
                                flags: int) -> int:
        check_flags("qemuDomainDetachDeviceAlias", flags, LIVE | CONFIG, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainDetachDeviceAlias")
        try:
            live, config = dom.defs_for(flags)
            vmdef = None
            if config is not None:
                vmdef = config.copy()
                found = find_by_alias(vmdef, alias)
                if found is None:
                    _err(c.VIR_ERR_INTERNAL_ERROR, f"no device found with alias {alias}",
                         c.VIR_FROM_DOMAIN)
                self._hp_detach_config_device(vmdef, found)
            if live is not None:
                found = find_by_alias(live, alias)
                if found is None:
                    _err(c.VIR_ERR_INTERNAL_ERROR, f"no device found with alias {alias}",
                         c.VIR_FROM_DOMAIN)
                self._hp_check_detachable(found)
                self._hp_detach_live(dom, found, wait=False)
            if vmdef is not None:
                self._hp_commit_config(dom, vmdef)
        finally:
            dom.job.end()
        return 0

    @staticmethod
    def _hp_detach_config_device(vmdef: DomainDef, found: Device) -> None:
        """qemuDomainDetachDeviceConfig for a device of the definition itself."""
        from pyvirt.conf.domain.controllers import Controller
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        if isinstance(found, (Disk, Interface, Controller)) or found.tag == "watchdog":
            _remove_from(vmdef, found)
        else:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"persistent detach of device '{device_type_name(found)}' is not supported")

    def _hp_detach_target(self, dom: QemuDomain, dev: Device, mac_generated: bool) -> Device:
        """qemuDomainDetachPrep*: the device of the live definition ``dev`` describes."""
        from pyvirt.conf.domain.controllers import Controller
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        live = dom.defn
        found: Device
        if isinstance(dev, Disk):
            disk = next((d for d in live.devices.disks if d.target_dev == dev.target_dev), None)
            if disk is None:
                _err(c.VIR_ERR_DEVICE_MISSING, f"disk {dev.target_dev} not found")
            found = disk
        elif isinstance(dev, Interface):
            found = live.devices.interfaces[find_net(live, dev, mac_generated)]
        elif isinstance(dev, Controller):
            if dev.type != "scsi":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     f"'{dev.type}' controller cannot be hot unplugged.")
            cont = live.devices.find_controller(dev.type, dev.index)
            if cont is None:
                _err(c.VIR_ERR_DEVICE_MISSING, f"controller {dev.type}:{dev.index} not found")
            found = cont
        else:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"live detach of device '{device_type_name(dev)}' is not supported")
        self._hp_check_detachable(found)
        return found

    def _hp_check_detachable(self, dev: Device) -> None:
        """The per-kind checks of qemuDomainDetachPrep* and the generic ones of
        qemuDomainDetachDeviceLive."""
        from pyvirt.conf.domain.controllers import Controller
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        if isinstance(dev, Disk):
            if dev.device in ("disk", "lun"):
                if dev.target_bus not in ("virtio", "usb", "scsi"):
                    _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                         "This type of disk cannot be hot unplugged")
            elif not (dev.device == "cdrom" and dev.target_bus in ("usb", "scsi")):
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     f"disk device type '{dev.device}' cannot be detached")
        elif isinstance(dev, Controller):
            if dev.type != "scsi":
                _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                     f"'{dev.type}' controller cannot be hot unplugged.")
        elif not isinstance(dev, Interface):
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"live detach of device '{device_type_name(dev)}' is not supported")
        if not dev.info.alias:
            _err(c.VIR_ERR_INTERNAL_ERROR,
                 f"Cannot detach {device_type_name(dev)} device with no alias")

    def _hp_detach_live(self, dom: QemuDomain, dev: Device, wait: bool) -> None:
        """qemuDomainDetachDeviceLive: device_del, then (``wait``) up to UNPLUG_TIMEOUT for
        DEVICE_DELETED before removing the device; later, the event removes it."""
        from pyvirt.conf.domain.controllers import Controller
        from pyvirt.conf.domain.disks import Disk

        monitor: Monitor = self._running_monitor(dom)
        alias = str(dev.info.alias)
        live = dom.defn
        if isinstance(dev, Controller) and any(
                d.target_bus == "scsi" and d.info.address is not None and
                d.info.address.type == "drive" and d.info.address.controller == dev.index
                for d in live.devices.disks):
            _err(c.VIR_ERR_OPERATION_FAILED, "device cannot be detached: device is busy")
        addr = dev.info.address
        if addr is not None and addr.type == "pci":
            cont = live.devices.find_controller("pci", addr.num("bus"))
            text = (f"{addr.num('domain'):04x}:{addr.num('bus'):02x}:{addr.num('slot'):02x}."
                    f"{addr.num('function')}")
            kind = device_type_name(dev)
            if cont is None:
                _err(c.VIR_ERR_OPERATION_FAILED, f"cannot hot unplug {kind} device with PCI "
                     f"guest address: {text} - controller not found")
            target = next((n for _, n in cont.extra.children if n.tag == "target"), None)
            if target is not None and target.attrs.get("hotplug") == "off":
                _err(c.VIR_ERR_OPERATION_FAILED, f"cannot hot unplug {kind} device with PCI "
                     f"guest address: {text} - not allowed by controller")
        state = hotplug_state(dom)
        if isinstance(dev, Disk):
            state.nodes[alias] = self._hp_block_nodes(monitor, dev)
        if wait:
            state.mark(alias)
        try:
            try:
                monitor.execute("device_del", {"id": alias})
            except libvirtError as exc:
                if wait and state.seen:
                    pass  # qemuDomainDeleteDevice: the event came anyway
                elif f"Device '{alias}' not found" in str(exc):
                    self._hp_remove_device(dom, dev)  # QEMU has no such device any more
                    return
                else:
                    state.nodes.pop(alias, None)
                    raise
            if wait and state.wait_removal(UNPLUG_TIMEOUT) and dom.active:
                self._hp_remove_device(dom, dev)
        finally:
            if wait:
                state.reset()

    def _hp_remove_device(self, dom: QemuDomain, dev: Device) -> None:
        """qemuDomainRemoveDevice: QEMU let the device go; its backend follows, it leaves
        the live definition, DEVICE_REMOVED tells the world."""
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        alias = str(dev.info.alias)
        monitor: Monitor | None = dom.monitor
        state = hotplug_state(dom)
        if isinstance(dev, Interface) and monitor is not None:
            monitor.execute("netdev_del", {"id": f"host{alias}"})
        with dom.lock:
            _remove_from(dom.defn, dev)
        if isinstance(dev, Interface):
            from pyvirt.drivers.qemu import tap

            tap.release_port(dev, self.secondaries)  # virDomainNetReleaseActualDevice
        if isinstance(dev, Disk) and monitor is not None:
            nodes = state.nodes.pop(alias, None)
            if nodes is None:
                try:
                    nodes = orphan_nodes(monitor.execute("x-debug-query-block-graph"))
                except libvirtError:
                    nodes = []
            self._hp_blockdev_del(monitor, nodes)
        self._hp_save_live(dom)
        self._emit(dom, c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, alias)

    # ---- update ------------------------------------------------------------------------------

    def domainUpdateDeviceFlags(self, handle: virDomain, xml: str,  # noqa: N802
                                flags: int) -> int:
        check_flags("qemuDomainUpdateDeviceFlags", flags,
                    LIVE | CONFIG | c.VIR_DOMAIN_DEVICE_MODIFY_FORCE, c.VIR_FROM_QEMU)
        force = bool(flags & c.VIR_DOMAIN_DEVICE_MODIFY_FORCE)
        dom = self._dom(handle)
        dom.job.begin("virDomainUpdateDeviceFlags")
        try:
            live, config = dom.defs_for(flags & ~c.VIR_DOMAIN_DEVICE_MODIFY_FORCE)
            inactive = live is None
            vmdef = None
            if config is not None:
                dev_conf, generated = parse_device(xml, inactive=inactive)
                vmdef = config.copy()
                update_config(vmdef, dev_conf, generated)
            if live is not None:
                dev, generated = parse_device(xml, inactive=inactive)
                try:
                    self._hp_update_live(dom, dev, generated, force)
                finally:
                    self._hp_save_live(dom)
            if vmdef is not None:
                self._hp_commit_config(dom, vmdef)
        finally:
            dom.job.end()
        return 0

    def _hp_update_live(self, dom: QemuDomain, dev: Device, mac_generated: bool,
                     force: bool) -> None:
        """qemuDomainUpdateDeviceLive: a disk's medium; an interface's link state."""
        from pyvirt.conf.domain.disks import Disk
        from pyvirt.conf.domain.interfaces import Interface

        live = dom.defn
        if isinstance(dev, Disk):
            orig = next((d for d in live.devices.disks if d.target_dev == dev.target_dev), None)
            if orig is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"disk '{dev.target_dev}' not found")
            if dev.info.alias and orig.info.alias and dev.info.alias != orig.info.alias:
                _err(c.VIR_ERR_OPERATION_DENIED, "changing device alias is not allowed",
                     c.VIR_FROM_DOMAIN)
            for field, name in (("device", "device"), ("target_bus", "bus")):
                if getattr(dev, field) != getattr(orig, field):
                    _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                         f"cannot modify field '{name}' of the disk")
            if (dev.type, dev.path) != (orig.type, orig.path):
                if dev.device not in ("cdrom", "floppy"):
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                         "disk source can be changed only in removable drives")
                self._hp_change_media(dom, orig, dev, force)
        elif isinstance(dev, Interface):
            self._hp_update_net_live(dom, dev, mac_generated)
        else:
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                 f"live update of device '{device_type_name(dev)}' is not supported")

    def _hp_update_net_live(self, dom: QemuDomain, net: Interface, mac_generated: bool) -> None:
        """qemuDomainChangeNet, for what changes without a new device: the link state."""
        from pyvirt.conf.domain.xnode import XNode
        from pyvirt.drivers.qemu.command_props import xchild

        live = dom.defn
        orig = live.devices.interfaces[find_net(live, net, mac_generated)]
        if not mac_generated and net.mac != orig.mac:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "cannot change network interface mac address "
                 f"from {orig.mac} to {net.mac}")
        link = xchild(net, "link")
        old_link = xchild(orig, "link")
        want = link.attrs.get("state", "up") if link is not None else "up"
        have = old_link.attrs.get("state", "up") if old_link is not None else "up"
        if net.model != orig.model:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED, "cannot modify network device model from "
                 f"{orig.model or '<null>'} to {net.model or '<null>'}")
        if net.type != orig.type:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 f"cannot change network interface type to '{net.type}'")
        if (net.source.attrs if net.source else {}) != (orig.source.attrs if orig.source
                                                        else {}):
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,  # a new connection: not done live here
                 f"unable to change config on '{net.type}' network type")
        if want == have:
            return
        monitor: Monitor = self._running_monitor(dom)
        monitor.execute("set_link", {"name": orig.info.alias, "up": want != "down"})
        with dom.lock:
            orig.extra.children = [(p, n) for p, n in orig.extra.children if n.tag != "link"]
            if want == "down":
                orig.extra.children.append(((), XNode("link", {"state": "down"})))

    # ---- vCPUs ---------------------------------------------------------------------------------

    def domainSetVcpus(self, handle: virDomain, nvcpus: int) -> int:  # noqa: N802
        return self._hp_set_vcpus(handle, nvcpus, LIVE, "virDomainSetVcpus")

    def domainSetVcpusFlags(self, handle: virDomain, nvcpus: int,  # noqa: N802
                            flags: int) -> int:
        return self._hp_set_vcpus(handle, nvcpus, flags, "virDomainSetVcpusFlags")

    def _hp_set_vcpus(self, handle: virDomain, nvcpus: int, flags: int, api: str) -> int:
        """qemuDomainSetVcpusFlags."""
        check_flags("qemuDomainSetVcpusFlags", flags,
                    LIVE | CONFIG | c.VIR_DOMAIN_VCPU_MAXIMUM | c.VIR_DOMAIN_VCPU_GUEST
                    | c.VIR_DOMAIN_VCPU_HOTPLUGGABLE, c.VIR_FROM_QEMU)
        if nvcpus == 0:
            raise_error(c.VIR_ERR_INVALID_ARG, f"nvcpus in {api} must not be zero",
                        domain=c.VIR_FROM_DOMAIN)
        dom = self._dom(handle)
        if flags & c.VIR_DOMAIN_VCPU_GUEST:
            _err(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured")
        dom.job.begin("virDomainSetVcpus")
        try:
            live, config = dom.defs_for(flags & (LIVE | CONFIG))
            if flags & c.VIR_DOMAIN_VCPU_MAXIMUM:
                self._hp_set_vcpus_max(dom, live, config, nvcpus)
                return 0
            if live is not None and nvcpus > live.vcpus_max:
                _err(c.VIR_ERR_INVALID_ARG, "requested vcpus is greater than max allowable "
                     f"vcpus for the live domain: {nvcpus} > {live.vcpus_max}")
            if config is not None and nvcpus > config.vcpus_max:
                _err(c.VIR_ERR_INVALID_ARG, "requested vcpus is greater than max allowable "
                     f"vcpus for the persistent domain: {nvcpus} > {config.vcpus_max}")
            if live is not None:
                self._hp_set_vcpus_live(dom, nvcpus)
            if config is not None:
                with dom.lock:
                    config.vcpus_current = nvcpus
                    dom.save_config(self.paths)
        finally:
            dom.job.end()
        return 0

    def _hp_set_vcpus_max(self, dom: QemuDomain, live: DomainDef | None,
                       config: DomainDef | None, nvcpus: int) -> None:
        """qemuDomainSetVcpusMax (the persistent definition only)."""
        from pyvirt.conf.domain.cpu import numa_cells

        if live is not None:
            _err(c.VIR_ERR_OPERATION_UNSUPPORTED,
                 "maximum vcpu count of a live domain can't be modified")
        assert config is not None
        cells = numa_cells(config.cpu)
        if cells:
            from pyvirt.conf.domain.cputune import parse_bitmap

            if sum(len(parse_bitmap(cell.get("cpus", ""))) for cell in cells) > nvcpus:
                _err(c.VIR_ERR_INVALID_ARG, "Number of CPUs in <numa> exceeds the desired "
                     "maximum vcpu count")
        topo = config.cpu.find("topology") if config.cpu is not None else None
        if topo is not None and topo.attrs.get("sockets"):
            total = 1
            for key in ("sockets", "dies", "cores", "threads"):
                total *= int(topo.attrs.get(key, "1"))
            if total != nvcpus:
                _err(c.VIR_ERR_INVALID_ARG, "CPU topology doesn't match the desired vcpu count")
        with dom.lock:
            config.vcpus_max = nvcpus
            config.vcpus_current = min(config.vcpus_current, nvcpus)
            dom.save_config(self.paths)

    def _hp_set_vcpus_live(self, dom: QemuDomain, nvcpus: int) -> None:
        """qemuDomainSetVcpusLive: plug the free slots in vCPU order, or unplug the CPUs
        added earlier, the last first, each waiting for QEMU to drop it."""
        monitor: Monitor = self._running_monitor(dom)
        slots = cpu_slots(monitor.execute("query-hotpluggable-cpus"))
        chosen, enable = select_vcpus(slots, nvcpus)
        state = hotplug_state(dom)
        for slot in chosen:
            if enable:
                props: Props = {"driver": slot.type, "id": f"vcpu{slot.first}", **slot.props}
                monitor.execute("device_add", props)
                with dom.lock:
                    dom.defn.vcpus_current += slot.count
                self._hp_save_live(dom)
                continue
            alias = str(slot.alias)
            path = slot.qom_path

            def gone(path: str | None = path) -> bool:
                cpus = monitor.execute("query-cpus-fast")
                return all(cpu.get("qom-path") != path for cpu in cpus)

            state.mark(alias)
            try:
                try:
                    monitor.execute("device_del", {"id": alias})
                except libvirtError:
                    if not state.seen:
                        raise
                if not state.wait_removal(UNPLUG_TIMEOUT, gone):
                    _err(c.VIR_ERR_OPERATION_TIMEOUT, "vcpu unplug request timed out. Unplug "
                         "result must be manually inspected in the domain")
            finally:
                state.reset()
            with dom.lock:
                dom.defn.vcpus_current -= slot.count
            self._hp_save_live(dom)

    def _hp_refresh_vcpus(self, dom: QemuDomain) -> None:
        """The live vCPU count from QEMU (after a CPU went away on its own)."""
        monitor: Monitor = self._running_monitor(dom)
        count = len(monitor.execute("query-cpus-fast"))
        with dom.lock:
            if count and count != dom.defn.vcpus_current:
                dom.defn.vcpus_current = count
                dom.save_status(self.paths)

    # ---- memory balloon ------------------------------------------------------------------------

    def domainSetMemoryStatsPeriod(self, handle: virDomain, period: int,  # noqa: N802
                                   flags: int) -> int:
        """qemuDomainSetMemoryStatsPeriod: qom-set of the balloon's
        guest-stats-polling-interval, and <stats period> in the definition."""
        check_flags("qemuDomainSetMemoryStatsPeriod", flags, LIVE | CONFIG, c.VIR_FROM_QEMU)
        dom = self._dom(handle)
        dom.job.begin("virDomainSetMemoryStatsPeriod")
        try:
            live, config = dom.defs_for(flags)
            if live is not None:
                balloon = _balloon(live)
                monitor: Monitor = self._running_monitor(dom)
                try:
                    if period < 0:
                        raise ValueError(period)
                    monitor.execute("qom-set", {"path": f"/machine/peripheral/"
                                                        f"{balloon.info.alias}",
                                                "property": "guest-stats-polling-interval",
                                                "value": period})
                except (libvirtError, ValueError):
                    _err(c.VIR_ERR_OPERATION_INVALID,
                         "unable to set balloon driver collection period")
                with dom.lock:
                    set_stats_period(balloon, period)
                self._hp_save_live(dom)
            if config is not None:
                balloon = _balloon(config)
                with dom.lock:
                    set_stats_period(balloon, period)
                    dom.save_config(self.paths)
        finally:
            dom.job.end()
        return 0


def _balloon(defn: DomainDef) -> Device:
    balloon = defn.devices.memballoon
    if balloon is None or balloon.extra.attrs.get("model") == "none":
        _err(c.VIR_ERR_INTERNAL_ERROR,
             "No memory balloon device configured, can not set the collection period")
    return balloon


def set_stats_period(balloon: Device, period: int) -> None:
    """<memballoon><stats period='N'/>: libvirt writes it only for a period other than 0."""
    from pyvirt.conf.domain.xnode import XNode

    children = [(p, n) for p, n in balloon.extra.children if n.tag != "stats"]
    if period:
        children.append(((), XNode("stats", {"period": str(period)})))
    balloon.extra.children = children
