"""Shared pieces of the QEMU command-line builder: the argument list being built, JSON
property formatting as libvirt prints it, device addresses as QEMU properties, and the
capability checks with libvirt's wording."""

from __future__ import annotations

import json

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.device import Device
    from pyvirt.drivers.qemu.command import LaunchContext
    from pyvirt.drivers.qemu.emulator import EmulatorCaps

Props = dict[str, "Any"]


class Cmd:
    """The command being built: argv, environment, and what the builders share."""

    __slots__ = ("args", "env", "defn", "caps", "ctx", "overrides")

    def __init__(self, defn: DomainDef, caps: EmulatorCaps, ctx: LaunchContext) -> None:
        self.args: list[str] = []
        self.env: dict[str, str] = {}
        self.defn = defn
        self.caps = caps
        self.ctx = ctx
        self.overrides = _frontend_overrides(defn)

    def add(self, *args: str) -> None:
        self.args.extend(args)

    def object_arg(self, option: str, props: Props) -> None:
        self.args.extend((option, to_json(props)))

    def device(self, props: Props) -> None:
        """-device; <qemu:override> frontend properties of its alias applied last."""
        for name, value in self.overrides.get(str(props.get("id")), []):
            if value is _REMOVE:
                props.pop(name, None)
            else:
                props[name] = value
        self.args.extend(("-device", to_json(props)))

    def object(self, props: Props) -> None:
        self.args.extend(("-object", to_json(props)))

    def blockdev(self, props: Props) -> None:
        self.args.extend(("-blockdev", to_json(props)))

    def netdev(self, props: Props) -> None:
        self.args.extend(("-netdev", to_json(props)))

    def has(self, qom_type: str) -> bool:
        return self.caps.has_device(qom_type)


_QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"
_REMOVE = object()


def _frontend_overrides(defn: DomainDef) -> dict[str, list[tuple[str, Any]]]:
    """<qemu:override><qemu:device alias><qemu:frontend><qemu:property .../>."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for _, node in defn.extra.children:
        if node.tag != f"{_QEMU_NS}override":
            continue
        for dev in node.children:
            front = next((c for c in dev.children if c.tag == f"{_QEMU_NS}frontend"), None)
            if dev.tag != f"{_QEMU_NS}device" or front is None:
                continue
            props = out.setdefault(dev.attrs.get("alias", ""), [])
            for prop in front.children:
                kind, value = prop.attrs.get("type"), prop.attrs.get("value", "")
                parsed: Any = value
                if kind in ("signed", "unsigned"):
                    parsed = int(value)
                elif kind == "bool":
                    parsed = value == "true"
                elif kind == "remove":
                    parsed = _REMOVE
                props.append((prop.attrs.get("name", ""), parsed))
    return out


def to_json(props: Props) -> str:
    """virJSONValueToString(props, false): compact, keys in insertion order."""
    return json.dumps(props, separators=(",", ":"), ensure_ascii=False)


def escape_comma(text: str) -> str:
    """virQEMUBuildBufferEscapeComma: ',' doubled in QEMU's key=value syntax."""
    return text.replace(",", ",,")


def unsupported(message: str) -> NoReturn:
    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, message, domain=c.VIR_FROM_QEMU)


def internal(message: str) -> NoReturn:
    raise_error(c.VIR_ERR_INTERNAL_ERROR, message, domain=c.VIR_FROM_QEMU)


def require(cmd: Cmd, qom_type: str, message: str) -> None:
    """A device this QEMU must have, or libvirt's CONFIG_UNSUPPORTED ``message``."""
    if not cmd.has(qom_type):
        unsupported(message)


def xattr(dev: Device, name: str) -> str | None:
    return dev.extra.attrs.get(name)


def xchild(dev: Device, tag: str) -> Any:
    return next((n for _, n in dev.extra.children if n.tag == tag), None)


def on_off(value: str | None) -> bool | None:
    """A libvirt on/off or yes/no tristate as a JSON boolean (None when absent)."""
    if value is None:
        return None
    return value in ("on", "yes")


def put(props: Props, **values: Any) -> Props:
    """Add the values that are set (None means absent, as libvirt's 'S:'/'T:'/'p:')."""
    for key, value in values.items():
        if value is not None:
            props[key.replace("__", "-")] = value
    return props


def controller_alias(defn: DomainDef, type_: str, index: int) -> str:
    cont = defn.devices.find_controller(type_, index)
    if cont is None or not cont.info.alias:
        internal(f"Could not find {type_} controller with index {index} required for device")
    return cont.info.alias


def pci_bus_name(defn: DomainDef, bus: int, addr_text: str) -> str:
    """qemuBuildDeviceAddressPCIGetBus."""
    cont = defn.devices.find_controller("pci", bus)
    if cont is None:
        internal(f"Could not find PCI controller with index '{bus}' required for device at "
                 f"address '{addr_text}'")
    alias = cont.info.alias
    if not alias:
        internal(f"Device alias was not set for PCI controller with index '{bus}' required "
                 f"for device at address '{addr_text}'")
    if alias.startswith("ua-"):
        if cont.model == "pci-root":
            return "pci.0"
        if cont.model == "pcie-root":
            return "pcie.0"
    return alias


def address_props(cmd: Cmd, props: Props, dev: Device, disk_bus: str | None = None) -> Props:
    """qemuBuildDeviceAddressProps: where the device plugs in, as -device properties."""
    addr = dev.info.address
    defn = cmd.defn
    if addr is None:
        return props
    if addr.type == "pci":
        bus, slot, function = addr.num("bus"), addr.num("slot"), addr.num("function")
        text = f"0000:{bus:02x}:{slot:02x}.{function}"
        props["bus"] = pci_bus_name(defn, bus, text)
        multi = addr.attrs.get("multifunction")
        if multi is not None:
            props["multifunction"] = multi == "on"
        props["addr"] = f"0x{slot:x}.0x{function:x}" if function else f"0x{slot:x}"
        acpi = xchild(dev, "acpi")
        if acpi is not None and acpi.attrs.get("index"):
            props["acpi-index"] = int(acpi.attrs["index"])
    elif addr.type == "usb":
        alias = controller_alias(defn, "usb", addr.num("bus"))
        props["bus"] = f"{alias}.0"
        if addr.attrs.get("port"):
            props["port"] = addr.attrs["port"]
    elif addr.type == "virtio-serial":
        alias = controller_alias(defn, "virtio-serial", addr.controller)
        props["bus"] = f"{alias}.{addr.bus}"
        if addr.num("port"):
            props["nr"] = addr.num("port")
    elif addr.type == "isa":
        props["iobase"] = addr.num("iobase")
        if addr.num("irq"):
            props["irq"] = addr.num("irq")
    elif addr.type == "spapr-vio":
        if "reg" in addr.attrs:
            props["reg"] = addr.num("reg")
    elif addr.type == "ccid":
        alias = controller_alias(defn, "ccid", addr.controller)
        props["bus"] = f"{alias}.0"
    elif addr.type == "drive" and disk_bus is not None:
        _drive_props(cmd, props, disk_bus, addr.controller, addr.bus, addr.num("target"),
                     addr.unit)
    return props


def _drive_props(cmd: Cmd, props: Props, disk_bus: str, controller: int, bus: int,
                 target: int, unit: int) -> None:
    """qemuBuildDeviceAddresDriveProps."""
    from pyvirt.drivers.qemu.addresses import has_builtin_ide, is_q35

    defn = cmd.defn
    if disk_bus == "ide":
        alias = "ide" if has_builtin_ide(defn) else controller_alias(defn, "ide", controller)
        props["bus"] = f"{alias}.{bus}"
        props["unit"] = unit
    elif disk_bus == "sata":
        alias = "ide" if is_q35(defn) and controller == 0 else \
            controller_alias(defn, "sata", controller)
        props["bus"] = f"{alias}.{unit}"
    elif disk_bus == "fdc":
        props["unit"] = unit
    elif disk_bus == "scsi":
        cont = defn.devices.find_controller("scsi", controller)
        if cont is None:
            internal(f"unable to find a SCSI controller for idx={controller}")
        if cont.model in ("lsilogic", "ncr53c90", "dc390", "am53c974"):
            props["bus"] = f"{cont.info.alias}.{bus}"
            props["scsi-id"] = unit
        else:
            props["bus"] = f"{cont.info.alias}.0"
            props["channel"] = bus
            props["scsi-id"] = target
            props["lun"] = unit
    else:
        internal(f"address type drive is not supported for bus '{disk_bus}'")


def virtio_driver(cmd: Cmd, dev: Device, base: str, model: str | None = None,
                  bus_suffix: bool = True) -> Props:
    """qemuBuildVirtioDevProps: the virtio device name for its address and (non-)transitional
    model, with the <driver> virtio options."""
    addr = dev.info.address
    atype = addr.type if addr is not None else "pci"
    impl = {"pci": "pci", "virtio-mmio": "device", "ccw": "ccw"}.get(atype)
    if impl is None:
        internal(f"Unexpected address type for '{base}'")
    name = f"{base}-{impl}" if bus_suffix else base
    if model in ("virtio-transitional", "virtio-non-transitional"):
        if atype != "pci":
            unsupported(f"virtio (non-)transitional models are not supported for address "
                        f"type={atype}")
        if not cmd.has("virtio-blk-pci-transitional"):
            if model == "virtio-non-transitional":
                unsupported("virtio non-transitional model not supported for this qemu")
        else:
            name += "-transitional" if model == "virtio-transitional" else "-non-transitional"
    props: Props = {"driver": name}
    drv = xchild(dev, "driver")
    if drv is not None:
        put(props, iommu_platform=on_off(drv.attrs.get("iommu")),
            ats=on_off(drv.attrs.get("ats")), packed=on_off(drv.attrs.get("packed")),
            page__per__vq=on_off(drv.attrs.get("page_per_vq")))
    return props
