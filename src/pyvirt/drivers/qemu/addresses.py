"""Device aliases, addresses and the QEMU driver's implicit devices (libvirt's
qemu_alias.c, qemu_domain_address.c and conf/domain_addr.c rules, for x86 pc and q35).

``add_default_devices`` is the QEMU part of post-parse (default USB/SATA/PCI root
controllers, memballoon, PS/2 inputs, device models the generic parser leaves open);
``assign_addresses`` adds it, then gives every device that needs one a virtio-serial, PCI
and USB address, adding the PCI controllers (pcie-root-ports, bridges) the guest needs;
``assign_aliases`` names every device as libvirt does when it starts a guest. Addresses
given in the definition are kept; conflicts raise libvirt's errors.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.domain.address import Address
from pyvirt.conf.domain.xnode import XNode
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import NoReturn

    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.device import Device
    from pyvirt.drivers.qemu.emulator import EmulatorCaps

# ---- machine types -------------------------------------------------------------------------


def machine_name(defn: DomainDef) -> str:
    return defn.os.machine or ""


def is_q35(defn: DomainDef) -> bool:
    """qemuDomainIsQ35."""
    name = machine_name(defn)
    return name == "q35" or name.startswith("pc-q35")


def is_i440fx(defn: DomainDef) -> bool:
    """qemuDomainIsI440FX."""
    name = machine_name(defn)
    return name == "pc" or name.startswith(("pc-0.", "pc-1.", "pc-i440fx-"))


def is_x86(defn: DomainDef) -> bool:
    return (defn.os.arch or "x86_64") in ("x86_64", "i686")


def has_builtin_ide(defn: DomainDef) -> bool:
    """qemuDomainHasBuiltinIDE (x86 part)."""
    return is_i440fx(defn) or machine_name(defn) == "isapc"


def _x(dev: Device, name: str) -> str | None:
    """An attribute the model keeps untyped on a device element."""
    return dev.extra.attrs.get(name)


def _child(dev: Device, tag: str) -> XNode | None:
    return next((n for _, n in dev.extra.children if n.tag == tag), None)


def _ensure_child(dev: Device, tag: str) -> XNode:
    node = _child(dev, tag)
    if node is None:
        node = XNode(tag)
        dev.extra.children.append(((), node))
    return node


def _fail(code: int, msg: str, domain: int = c.VIR_FROM_QEMU) -> NoReturn:
    raise_error(code, msg, domain=domain)


# ---- defaults the QEMU driver adds at post-parse -------------------------------------------


def add_default_devices(defn: DomainDef, caps: EmulatorCaps) -> None:
    """qemuDomainDefPostParse's devices for x86: implicit inputs, the default USB, SATA and
    PCI root controllers, the memballoon, the default audio backend, and the models the
    generic parser leaves unset (USB, SCSI, network, video, serial targets, CPU)."""
    from pyvirt.conf.domain.controllers import Controller

    devs = defn.devices
    canonical = caps.canonical_machine(defn.os.machine)
    if canonical is not None:
        defn.os.machine = canonical
    x86 = is_x86(defn)
    q35 = is_q35(defn)
    # implicit video for graphics (virDomainDefAddImplicitVideo), then the video defaults
    if devs.graphics and not devs.videos:
        from pyvirt.conf.domain.misc_devices import Video

        devs.videos.append(Video(tag="video"))
    for video in devs.videos:
        _video_defaults(video, caps)
    if devs.videos and devs.videos[0].model != "none":
        devs.videos[0].primary = True
    for inp in devs.inputs:
        if "bus" not in inp.extra.attrs and x86:
            kind = _x(inp, "type")
            bus = "usb" if kind == "tablet" else "ps2" if kind in ("mouse", "keyboard") else None
            if bus is not None:
                inp.extra.attrs = {"type": kind or "", "bus": bus,
                                   **{k: v for k, v in inp.extra.attrs.items() if k != "type"}}
    if x86:
        _maybe_add_input(defn, "mouse", "ps2")
        _maybe_add_input(defn, "keyboard", "ps2")
    add_usb = machine_name(defn) != "isapc" and x86
    usb_model: str | None = None
    if q35:
        if caps.has_device("qemu-xhci"):
            usb_model = "qemu-xhci"
        elif caps.has_device("nec-usb-xhci"):
            usb_model = "nec-xhci"
        elif caps.has_device("ich9-usb-ehci1"):
            usb_model = "ich9-ehci1"
        else:
            add_usb = False
    pending: list[Controller] = []
    if add_usb and devs.find_controller("usb", 0) is None:
        if usb_model == "ich9-ehci1":
            pending.append(Controller.new("usb", 0, usb_model))
            for i, model in enumerate(("ich9-uhci1", "ich9-uhci2", "ich9-uhci3")):
                companion = Controller.new("usb", 0, model)
                companion.extra.children.append(((), XNode("master",
                                                           {"startport": str(2 * i)})))
                pending.append(companion)
        else:
            pending.append(Controller.new("usb", 0, usb_model))
    if q35 and devs.find_controller("sata", 0) is None:
        pending.append(Controller.new("sata", 0))
    root = "pcie-root" if q35 else "pci-root" if is_i440fx(defn) else None
    if root is not None:
        cont = devs.find_controller("pci", 0)
        if cont is None:
            pending.append(Controller.new("pci", 0, root))
        elif cont.model is None:
            cont.model = root
        elif cont.model != root:
            _fail(c.VIR_ERR_XML_ERROR,
                  f"The PCI controller with index='0' must be model='{root}' for this machine "
                  f"type, but model='{cont.model}' was found instead")
    _insert_defaults(defn, pending)
    if not devs.memballoons and x86:
        from pyvirt.conf.domain.misc_devices import Memballoon

        balloon = Memballoon(tag="memballoon")
        balloon.extra.attrs["model"] = "virtio"
        devs.memballoons.append(balloon)
    for cont in devs.controllers:
        _controller_defaults(defn, cont, caps)
    for net in devs.interfaces:
        if net.model is None and net.type != "hostdev":
            net.model = ("rtl8139" if caps.has_device("rtl8139") else
                         "e1000" if caps.has_device("e1000") else
                         "virtio" if caps.has_device("virtio-net-pci") else "rtl8139")
    if x86:
        for serial in devs.serials:
            if serial.target_type in (None, "isa-serial"):
                serial.target_type = "isa-serial"
            smodel = {"isa-serial": "isa-serial", "usb-serial": "usb-serial",
                      "pci-serial": "pci-serial", "isa-debug": "isa-debugcon"}.get(
                          serial.target_type or "")
            if smodel and not any(n.tag == "model" for n in serial.target_children):
                serial.target_children.append(XNode("model", {"name": smodel}))
    for disk in devs.disks:
        if disk.driver is not None and disk.driver.name is None:
            disk.driver.name = "qemu"
    if not devs.audios:
        _add_default_audio(defn)
    _default_cpu(defn)


def _insert_defaults(defn: DomainDef, pending: list[Controller]) -> None:
    """Add the driver's default controllers where libvirt has them: its QEMU post-parse
    runs before the generic one adds the controllers devices imply (disk buses,
    virtio-serial), so those implicit controllers move after the defaults."""
    if not pending:
        return
    devs = defn.devices
    implied = [x for x in devs.controllers if x.implicit]
    devs.controllers = [x for x in devs.controllers if not any(x is y for y in implied)]
    for cont in (*pending, *implied):
        devs.insert_controller(cont)


def _maybe_add_input(defn: DomainDef, kind: str, bus: str) -> None:
    from pyvirt.conf.domain.misc_devices import Input

    for inp in defn.devices.inputs:
        if _x(inp, "type") == kind and _x(inp, "bus") == bus:
            return
    new = Input(tag="input")
    new.extra.attrs = {"type": kind, "bus": bus}
    defn.devices.inputs.append(new)


def _video_defaults(video: Device, caps: EmulatorCaps) -> None:
    from pyvirt.conf.domain.misc_devices import Video, video_default_vram

    if not isinstance(video, Video):
        return
    if video.model in (None, "default"):
        video.model = ("cirrus" if caps.has_device("cirrus-vga") else
                       "vga" if caps.has_device("VGA") else video.model)
        if video.model and not video.vram:
            video.vram = video_default_vram(video.model)
    if video.model == "none":
        return
    if video.model == "qxl":
        if not video.ram:
            video.ram = video_default_vram("qxl")
        video.model_attrs.setdefault("vgamem", "16384")
    if video.heads is None:
        video.heads = 1


def _controller_defaults(defn: DomainDef, cont: Controller, caps: EmulatorCaps) -> None:
    if cont.type == "usb" and cont.model is None and caps.has_device("piix3-usb-uhci"):
        cont.model = "piix3-uhci"
    elif cont.type == "scsi" and cont.model is None:
        if caps.has_device("lsi53c895a") or caps.has_device("lsi"):
            cont.model = "lsilogic"
        elif caps.has_device("virtio-scsi-pci"):
            cont.model = "virtio-scsi"
    elif cont.type == "pci" and cont.model is None and cont.index > 0:
        cont.model = "pcie-root-port" if is_q35(defn) else "pci-bridge"
    elif cont.type == "pci" and cont.index != 0 and cont.model in ("pci-root", "pcie-root"):
        _fail(c.VIR_ERR_XML_ERROR, "pci-root and pcie-root controllers should have index 0")


def _add_default_audio(defn: DomainDef) -> None:
    """qemuDomainDefSuggestDefaultAudioBackend with libvirt's default qemu.conf."""
    from pyvirt.conf.domain.device import GenericDevice

    backend = "none"
    add = not defn.devices.graphics
    for gfx in defn.devices.graphics:
        if gfx.type == "vnc":
            backend, add = "none", True
        elif gfx.type == "spice":
            backend, add = "spice", True
        elif gfx.type == "sdl":
            return  # passthrough of the host's audio: nothing without QEMU_AUDIO_DRV
    if not add:
        return
    audio = GenericDevice(tag="audio")
    audio.extra.attrs = {"id": "1", "type": backend}
    defn.devices.audios.append(audio)


def default_cpu_model(defn: DomainDef) -> str | None:
    """The model of QEMU's default CPU type for the machine (query-machines'
    default-cpu-type: qemu64 for pc and q35, also for i686 guests of qemu-system-x86_64)."""
    if not is_x86(defn):
        return None
    return "qemu64"


def _default_cpu(defn: DomainDef) -> None:
    """qemuDomainDefSetDefaultCPU: a custom CPU without a model gets the machine's."""
    model = default_cpu_model(defn)
    if model is None:
        return
    cpu = defn.cpu
    if cpu is not None and (cpu.attrs.get("mode", "custom") != "custom"
                            or cpu.find("model") is not None):
        return
    if cpu is None:
        cpu = XNode("cpu")
        defn.cpu = cpu
    cpu.attrs = {"mode": "custom", "match": cpu.attrs.get("match", "exact"),
                 "check": cpu.attrs.get("check", "none"),
                 **{k: v for k, v in cpu.attrs.items() if k not in ("mode", "match", "check")}}
    cpu.children.insert(0, XNode("model", {"fallback": "forbid"}, model))


# ---- aliases -------------------------------------------------------------------------------


def _alias_index(dev: Device, prefix: str) -> int:
    alias = dev.info.alias
    if not alias or not alias.startswith(prefix):
        return -1
    rest = alias[len(prefix):]
    return int(rest) if rest.isdigit() else -1


def _next_index(devs: list[Device], prefix: str, prefix2: str | None = None) -> int:
    idx = 0
    for dev in devs:
        this = _alias_index(dev, prefix)
        if this < 0 and prefix2 is not None:
            this = _alias_index(dev, prefix2)
        if this >= idx:
            idx = this + 1
    return idx


def scsi_controller_model(defn: DomainDef, index: int) -> str | None:
    """The model of SCSI controller ``index``; one still without a model gets x86's default
    (lsilogic) once ``add_default_devices`` runs, so aliases named before that agree."""
    cont = defn.devices.find_controller("scsi", index)
    if cont is None:
        return None
    return cont.model or ("lsilogic" if is_x86(defn) else None)


def controller_alias(defn: DomainDef, cont: Controller) -> str:
    """qemuAssignDeviceControllerAlias."""
    if cont.type == "pci":
        if cont.model == "pcie-root":
            return f"pcie.{cont.index}"
        return f"pci.{cont.index}"
    if cont.type == "ide" and cont.index == 0 and has_builtin_ide(defn):
        return "ide"
    if cont.type == "sata" and cont.index == 0 and is_q35(defn):
        return "ide"
    if cont.type == "usb" and cont.index == 0:
        return "usb"
    if cont.type == "scsi" and cont.index == 0 and cont.model == "ncr53c90":
        return "scsi"
    return f"{cont.type}{cont.index}"


def assign_aliases(defn: DomainDef) -> None:
    """qemuAssignDeviceAliases: name every device that has no alias yet."""
    from pyvirt.conf.domain.disks import disk_name_to_index

    devs = defn.devices
    for disk in devs.disks:
        if disk.info.alias:
            continue
        addr = disk.info.address
        bus = disk.target_bus or "ide"
        if addr is not None and addr.type == "drive":
            nums = [addr.num(n) for n in ("controller", "bus", "target", "unit")]
            if bus != "scsi" or scsi_controller_model(defn, nums[0]) == "lsilogic":
                disk.info.alias = f"{bus}{nums[0]}-{nums[1]}-{nums[3]}"
            else:
                disk.info.alias = f"{bus}{nums[0]}-{nums[1]}-{nums[2]}-{nums[3]}"
        else:
            disk.info.alias = f"{bus}-disk{disk_name_to_index(disk.target_dev)}"
    for net in devs.interfaces:
        if not net.info.alias:
            if net.type == "hostdev":
                net.info.alias = f"hostdev{_hostdev_index(defn)}"
            else:
                net.info.alias = f"net{_next_index(list(devs.interfaces), 'net')}"
    for fs in devs.filesystems:
        if not fs.info.alias:
            fs.info.alias = f"fs{_next_index(list(devs.filesystems), 'fs')}"
    for i, sound in enumerate(devs.sounds):
        sound.info.alias = sound.info.alias or f"sound{i}"
    for hostdev in devs.hostdevs:
        if not hostdev.info.alias:
            hostdev.info.alias = f"hostdev{_hostdev_index(defn)}"
    for redir in devs.redirdevs:
        if not redir.info.alias:
            redir.info.alias = f"redir{_next_index(list(devs.redirdevs), 'redir')}"
    for i, video in enumerate(devs.videos):
        video.info.alias = video.info.alias or f"video{i}"
    for cont in devs.controllers:
        cont.info.alias = cont.info.alias or controller_alias(defn, cont)
    for i, inp in enumerate(devs.inputs):
        inp.info.alias = inp.info.alias or f"input{i}"
    for group, prefix in ((devs.parallels, "parallel"), (devs.serials, "serial"),
                          (devs.channels, "channel"), (devs.consoles, "console")):
        for i, chr_ in enumerate(group):
            chr_.info.alias = chr_.info.alias or f"{prefix}{i}"
    for i, hub in enumerate(devs.hubs):
        hub.info.alias = hub.info.alias or f"hub{i}"
    for i, shmem in enumerate(devs.shmems):
        shmem.info.alias = shmem.info.alias or f"shmem{i}"
    for i, card in enumerate(devs.smartcards):
        card.info.alias = card.info.alias or f"smartcard{i}"
    for dog in devs.watchdogs:
        dog.info.alias = dog.info.alias or "watchdog0"
    balloon = devs.memballoon
    if balloon is not None and _x(balloon, "model") != "none":
        balloon.info.alias = balloon.info.alias or "balloon0"
    for rng in devs.rngs:
        if not rng.info.alias:
            rng.info.alias = f"rng{_next_index(list(devs.rngs), 'rng')}"
    for i, tpm in enumerate(devs.tpms):
        tpm.info.alias = tpm.info.alias or f"tpm{i}"
    for vsock in devs.vsocks:
        vsock.info.alias = vsock.info.alias or "vsock0"
    for iommu in devs.iommus:
        iommu.info.alias = iommu.info.alias or "iommu0"


def _hostdev_index(defn: DomainDef) -> int:
    devs: list[Device] = [*defn.devices.hostdevs, *defn.devices.interfaces]
    return _next_index(devs, "hostdev")


# ---- PCI address sets (conf/domain_addr.c) -------------------------------------------------

HOTPLUGGABLE = 1 << 0
AUTOASSIGN = 1 << 1
PCI_DEVICE = 1 << 2
PCIE_DEVICE = 1 << 3
PCIE_ROOT_PORT = 1 << 4
PCIE_SWITCH_UP = 1 << 5
PCIE_SWITCH_DOWN = 1 << 6
DMI_TO_PCI_BRIDGE = 1 << 7
PCI_EXPANDER_BUS = 1 << 8
PCIE_EXPANDER_BUS = 1 << 9
PCI_BRIDGE = 1 << 10
PCIE_TO_PCI_BRIDGE = 1 << 11
AGGREGATE_SLOT = 1 << 12
INTEGRATED = 1 << 13
_TYPES = (PCI_DEVICE | PCIE_DEVICE | PCIE_ROOT_PORT | PCIE_SWITCH_UP | PCIE_SWITCH_DOWN
          | DMI_TO_PCI_BRIDGE | PCI_EXPANDER_BUS | PCIE_EXPANDER_BUS | PCI_BRIDGE
          | PCIE_TO_PCI_BRIDGE)
_ENDPOINT = PCI_DEVICE | PCIE_DEVICE
_SLOT_LAST = 31

# controller model -> how it plugs into its parent (virDomainPCIControllerModelToConnectType)
_CONTROLLER_CONNECT = {
    "pci-bridge": PCI_BRIDGE, "pci-expander-bus": PCI_EXPANDER_BUS,
    "pcie-expander-bus": PCIE_EXPANDER_BUS, "dmi-to-pci-bridge": DMI_TO_PCI_BRIDGE,
    "pcie-to-pci-bridge": PCIE_TO_PCI_BRIDGE, "pcie-root-port": PCIE_ROOT_PORT | AGGREGATE_SLOT,
    "pcie-switch-upstream-port": PCIE_SWITCH_UP,
    "pcie-switch-downstream-port": PCIE_SWITCH_DOWN,
}
_CONNECT_NAMES = (
    (PCI_DEVICE, "standard PCI device"), (PCIE_DEVICE, "PCI Express device"),
    (PCIE_ROOT_PORT, "pcie-root-port"), (PCIE_SWITCH_UP, "pcie-switch-upstream-port"),
    (PCIE_SWITCH_DOWN, "pcie-switch-downstream-port"), (DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
    (PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"), (PCI_EXPANDER_BUS, "pci-expander-bus"),
    (PCIE_EXPANDER_BUS, "pcie-expander-bus"), (PCI_BRIDGE, "pci-bridge"),
)
# PCI controller models' QEMU device names (qemuDomainPCIControllerSetDefaultModelName)
PCI_MODEL_NAMES = {
    "pci-bridge": "pci-bridge", "dmi-to-pci-bridge": "i82801b11-bridge",
    "pcie-to-pci-bridge": "pcie-pci-bridge", "pcie-root-port": "pcie-root-port",
    "pcie-switch-upstream-port": "x3130-upstream",
    "pcie-switch-downstream-port": "xio3130-downstream", "pci-expander-bus": "pxb",
    "pcie-expander-bus": "pxb-pcie",
}


def pci_addr_str(bus: int, slot: int, function: int) -> str:
    return f"0000:{bus:02x}:{slot:02x}.{function}"


class _Bus:
    __slots__ = ("model", "flags", "min_slot", "max_slot", "functions", "aggregate")

    def __init__(self) -> None:
        self.model: str | None = None
        self.flags = 0
        self.min_slot = 0
        self.max_slot = _SLOT_LAST
        self.functions = [0] * (_SLOT_LAST + 1)
        self.aggregate = [False] * (_SLOT_LAST + 1)

    def set_model(self, model: str, hotplug: bool = True) -> None:
        """virDomainPCIAddressBusSetModel: what can plug in downstream."""
        hp = HOTPLUGGABLE if hotplug else 0
        slots = (1, _SLOT_LAST)
        if model == "pci-root":
            flags = AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | PCI_EXPANDER_BUS | hp
        elif model in ("pci-bridge", "pcie-to-pci-bridge"):
            flags = AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp
        elif model == "pci-expander-bus":
            flags = AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp
            slots = (0, _SLOT_LAST)
        elif model == "pcie-root":
            flags = PCIE_DEVICE | PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE | PCIE_EXPANDER_BUS
        elif model == "dmi-to-pci-bridge":
            flags = PCI_DEVICE | PCI_BRIDGE
            slots = (0, _SLOT_LAST)
        elif model in ("pcie-root-port", "pcie-switch-downstream-port"):
            flags = AUTOASSIGN | PCIE_DEVICE | PCIE_SWITCH_UP | PCIE_TO_PCI_BRIDGE | hp
            slots = (0, 0)
        elif model == "pcie-switch-upstream-port":
            flags = PCIE_SWITCH_DOWN
            slots = (0, _SLOT_LAST)
        elif model == "pcie-expander-bus":
            flags = PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE
            slots = (0, _SLOT_LAST)
        else:
            _fail(c.VIR_ERR_INTERNAL_ERROR, "PCI controller model was not set correctly",
                  c.VIR_FROM_DOMAIN)
        self.model = model
        self.flags = flags
        self.min_slot, self.max_slot = slots

    def fully_reserved(self) -> bool:
        return all(self.functions[s] for s in range(self.min_slot, self.max_slot + 1))

    def empty(self) -> bool:
        return not any(self.functions[s] for s in range(self.min_slot, self.max_slot + 1))


class PCIAddressSet:
    """The PCI slots of a guest: which functions are taken, what each bus accepts."""

    def __init__(self, nbuses: int, dry_run: bool, pcie_to_pci: bool) -> None:
        self.buses = [_Bus() for _ in range(nbuses)]
        self.dry_run = dry_run
        self.pcie_to_pci = pcie_to_pci

    # -- checks --
    @staticmethod
    def _compatible(addr: tuple[int, int, int], bus_flags: int, dev_flags: int,
                    report: bool, from_config: bool) -> bool:
        err = c.VIR_ERR_XML_ERROR if from_config else c.VIR_ERR_INTERNAL_ERROR
        text = pci_addr_str(*addr)
        if dev_flags & INTEGRATED:
            if addr[0] == 0:
                bus_flags |= AUTOASSIGN
            else:
                if report:
                    _fail(err, f"The device at PCI address {text} needs to be an integrated "
                          "device (bus=0)", c.VIR_FROM_DOMAIN)
                return False
        if from_config:
            if bus_flags & _ENDPOINT:
                bus_flags |= _ENDPOINT
            if dev_flags & PCI_BRIDGE:
                dev_flags |= PCI_DEVICE
        elif dev_flags & AUTOASSIGN and not bus_flags & AUTOASSIGN:
            if report:
                _fail(err, f"The device at PCI address {text} was auto-assigned this address, "
                      f"but the PCI controller with index='{addr[0]}' doesn't allow "
                      "auto-assignment", c.VIR_FROM_DOMAIN)
            return False
        if dev_flags & HOTPLUGGABLE and not bus_flags & HOTPLUGGABLE:
            if report:
                _fail(err, f"The device at PCI address {text} requires hotplug capability, "
                      f"but the PCI controller with index='{addr[0]}' doesn't support hotplug",
                      c.VIR_FROM_DOMAIN)
            return False
        if not dev_flags & bus_flags & _TYPES:
            if report:
                what = next((name for bit, name in _CONNECT_NAMES if dev_flags & bit), None)
                if what is None:
                    _fail(err, f"The device at PCI address {text} has unrecognized connection "
                          f"type flags 0x{dev_flags & _TYPES:02x}", c.VIR_FROM_DOMAIN)
                _fail(err, f"The device at PCI address {text} cannot be plugged into the PCI "
                      f"controller with index='{addr[0]}'. It requires a controller that "
                      f"accepts a {what}.", c.VIR_FROM_DOMAIN)
            return False
        return True

    def validate(self, addr: tuple[int, int, int], flags: int, from_config: bool) -> None:
        err = c.VIR_ERR_XML_ERROR if from_config else c.VIR_ERR_INTERNAL_ERROR
        text = pci_addr_str(*addr)
        if not self.buses:
            _fail(err, "No PCI buses available", c.VIR_FROM_DOMAIN)
        busno, slot, function = addr
        if busno >= len(self.buses):
            _fail(err, f"Invalid PCI address {text}. Only PCI buses up to "
                  f"{len(self.buses) - 1} are available", c.VIR_FROM_DOMAIN)
        bus = self.buses[busno]
        self._compatible(addr, bus.flags, flags, True, from_config)
        if bus.min_slot and slot < bus.min_slot:
            _fail(err, f"Invalid PCI address {text}. slot must be >= {bus.min_slot}",
                  c.VIR_FROM_DOMAIN)
        if slot > bus.max_slot:
            _fail(err, f"Invalid PCI address {text}. slot must be <= {bus.max_slot}",
                  c.VIR_FROM_DOMAIN)
        if function > 7:
            _fail(err, f"Invalid PCI address {text}. function must be <= 7",
                  c.VIR_FROM_DOMAIN)

    def slot_in_use(self, bus: int, slot: int) -> bool:
        return bool(self.buses[bus].functions[slot])

    # -- growing (dry run) --
    def grow(self, addr: list[int], flags: int) -> None:
        """virDomainPCIAddressSetGrow: add buses so that addr[0] exists."""
        add = addr[0] - len(self.buses) + 1
        if add <= 0:
            return
        need_dmi = need_pcie_to_pci = False
        if flags & PCI_DEVICE:
            model = "pci-bridge"
            need_dmi = need_pcie_to_pci = not any(b.flags & PCI_BRIDGE for b in self.buses)
            if self.pcie_to_pci:
                need_dmi = False
            else:
                need_pcie_to_pci = False
            if (need_dmi or need_pcie_to_pci) and add == 1:
                add += 1
                addr[0] += 1
        elif flags & (PCIE_DEVICE | PCIE_SWITCH_UP):
            model = "pcie-root-port"
        else:
            existing = next((m for m, bit in _CONTROLLER_CONNECT.items() if flags & bit & _TYPES
                             and m in ("pcie-root-port", "pcie-switch-upstream-port",
                                       "pcie-switch-downstream-port", "dmi-to-pci-bridge",
                                       "pci-expander-bus", "pcie-expander-bus", "pci-bridge")),
                            None)
            if existing is not None:
                _fail(c.VIR_ERR_INTERNAL_ERROR,
                      f"a PCI slot is needed to connect a PCI controller model='{existing}', "
                      "but none is available, and it cannot be automatically added",
                      c.VIR_FROM_DOMAIN)
            _fail(c.VIR_ERR_INTERNAL_ERROR, "Cannot automatically add a new PCI bus for a "
                  f"device with connect flags {flags:02x}", c.VIR_FROM_DOMAIN)
        new = [_Bus() for _ in range(add)]
        i = 0
        if need_dmi:
            new[i].set_model("dmi-to-pci-bridge", False)
            i += 1
        if need_pcie_to_pci:
            new[i].set_model("pcie-root-port", True)
            new[i].flags = PCIE_TO_PCI_BRIDGE
            new[i + 1].set_model("pcie-to-pci-bridge", True)
            i += 2
        for bus in new[i:]:
            bus.set_model(model, True)
        self.buses.extend(new)

    # -- reservation --
    def reserve(self, addr: tuple[int, int, int], flags: int, from_config: bool) -> None:
        """virDomainPCIAddressReserveAddrInternal."""
        if self.dry_run:
            self.grow(list(addr), flags)
        self.validate(addr, flags, from_config)
        busno, slot, function = addr
        bus = self.buses[busno]
        if bus.functions[slot] & (1 << function):
            _fail(c.VIR_ERR_XML_ERROR if from_config else c.VIR_ERR_INTERNAL_ERROR,
                  f"Attempted double use of PCI Address {pci_addr_str(*addr)}",
                  c.VIR_FROM_DOMAIN)
        if not bus.functions[slot] and flags & AGGREGATE_SLOT:
            bus.aggregate[slot] = True
        bus.functions[slot] |= 1 << function

    def _find_on_bus(self, busno: int, function: int, flags: int) -> tuple[int, int] | None:
        bus = self.buses[busno]
        slot = bus.min_slot
        func = 0 if function == -1 else function
        if not self._compatible((busno, slot, func), bus.flags, flags, False, False):
            return None
        while slot <= bus.max_slot:
            used = bus.functions[slot]
            if not used:
                return slot, func
            if flags & AGGREGATE_SLOT and bus.aggregate[slot]:
                if not used & (1 << func):
                    return slot, func
                if function == -1:
                    free = next((f for f in range(func, 8) if not used & (1 << f)), None)
                    if free is not None:
                        return slot, free
                    func = 0
            slot += 1
        return None

    def next_addr(self, flags: int, function: int = -1) -> tuple[int, int, int]:
        """virDomainPCIAddressGetNextAddr (no isolation groups: all devices share one)."""
        if not self.buses:
            _fail(c.VIR_ERR_XML_ERROR, "No PCI buses available", c.VIR_FROM_DOMAIN)
        for busno in range(len(self.buses)):
            found = self._find_on_bus(busno, function, flags)
            if found is not None:
                return busno, found[0], found[1]
        if self.dry_run:
            addr = [len(self.buses), 0, 0 if function == -1 else function]
            self.grow(addr, flags)
            return addr[0], self.buses[addr[0]].min_slot, addr[2]
        _fail(c.VIR_ERR_INTERNAL_ERROR, "No more available PCI slots", c.VIR_FROM_DOMAIN)

    def reserve_next(self, flags: int, function: int = -1) -> tuple[int, int, int]:
        addr = self.next_addr(flags, function)
        self.reserve(addr, flags, False)
        return addr


# ---- which devices sit on PCI, and how -----------------------------------------------------


def _pci_present(dev: Device) -> bool:
    """virDeviceInfoPCIAddressIsPresent."""
    a = dev.info.address
    return a is not None and a.type == "pci" and bool(a.num("domain") or a.num("bus")
                                                         or a.num("slot"))


def _pci_wanted(dev: Device) -> bool:
    """virDeviceInfoPCIAddressIsWanted."""
    a = dev.info.address
    return a is None or a.type in ("", "none") or (a.type == "pci" and not _pci_present(dev))


def _pci_tuple(dev: Device) -> tuple[int, int, int]:
    a = dev.info.address
    assert a is not None
    return a.num("bus"), a.num("slot"), a.num("function")


def _set_pci(dev: Device, addr: tuple[int, int, int], multi: str | None = None) -> None:
    old = dev.info.address
    attrs = {"domain": "0x0000", "bus": f"0x{addr[0]:02x}", "slot": f"0x{addr[1]:02x}",
             "function": f"0x{addr[2]:x}"}
    if multi is not None:
        attrs["multifunction"] = multi
    elif old is not None and old.type == "pci" and "multifunction" in old.attrs:
        attrs["multifunction"] = old.attrs["multifunction"]
    dev.info.address = Address("pci", attrs)


def _virtio_transitional(model: str | None) -> bool:
    return bool(model) and str(model).endswith("-transitional") and \
        not str(model).endswith("non-transitional")


class _Flags:
    """qemuDomainDeviceCalculatePCIConnectFlags for one definition."""

    def __init__(self, defn: DomainDef, caps: EmulatorCaps) -> None:
        self.pci = PCI_DEVICE | AUTOASSIGN
        self.pcie = (PCIE_DEVICE if has_pcie_root(defn) else PCI_DEVICE) | AUTOASSIGN
        self.virtio = (self.pcie if caps.has_device("virtio-blk-pci-transitional")
                       or caps.has_device("virtio-net-pci-transitional") else self.pci)

    def virtio_model(self, model: str | None) -> int:
        return self.pci if _virtio_transitional(model) else self.virtio

    def of(self, dev: Device) -> int:
        tag = dev.tag
        if tag == "controller":
            return self._controller(dev)  # type: ignore[arg-type]
        if tag == "disk":
            if getattr(dev, "target_bus", None) != "virtio":
                return 0
            return self.virtio_model(_x(dev, "model"))
        if tag == "interface":
            net_type = getattr(dev, "type", "")
            model = getattr(dev, "model", None)
            if net_type == "hostdev" or model == "usb-net":
                return 0
            if model in ("virtio", "virtio-non-transitional"):
                return self.virtio
            if model == "virtio-transitional":
                return self.pci
            if model == "e1000e" or model is None:
                return self.pcie
            return self.pci
        if tag == "sound":
            return self.pci if _x(dev, "model") in ("es1370", "ac97", "ich6", "ich9") else 0
        if tag == "hostdev":
            if _x(dev, "mode") not in (None, "subsystem") or \
                    _x(dev, "type") not in ("pci", "scsi_host", "mdev"):
                return 0
            if _x(dev, "type") == "scsi_host":
                return self.virtio_model(_x(dev, "model"))
            return self.pcie
        if tag == "memballoon":
            model = _x(dev, "model")
            if model in ("virtio", "virtio-non-transitional"):
                return self.virtio
            return self.pci if model == "virtio-transitional" else 0
        if tag == "rng":
            return self.virtio_model(getattr(dev, "model", None))
        if tag == "watchdog":
            return self.pci if _x(dev, "model") == "i6300esb" else 0
        if tag == "video":
            model = getattr(dev, "model", None)
            if model == "virtio":
                return self.virtio
            if model in ("vga", "cirrus", "vmvga", "xen", "vbox", "qxl", "parallels"):
                return self.pci
            return self.pcie if model == "bochs" else 0
        if tag == "shmem":
            return self.pci
        if tag == "input":
            return self.virtio_model(_x(dev, "model")) if _x(dev, "bus") == "virtio" else 0
        if tag == "serial":
            return self.pci if getattr(dev, "target_type", None) == "pci-serial" else 0
        if tag == "filesystem":
            drv = _child(dev, "driver")
            dtype = drv.attrs.get("type") if drv is not None else None
            if dtype == "virtiofs":
                return self.virtio
            if dtype in (None, "path", "handle"):
                return self.virtio_model(_x(dev, "model"))
            return 0
        if tag == "vsock":
            model = _x(dev, "model") or "virtio"
            return self.virtio_model(model)
        if tag == "iommu":
            return (self.virtio | INTEGRATED) if _x(dev, "model") == "virtio" else 0
        if tag == "memory":
            return self.virtio if _x(dev, "model") in ("virtio-pmem", "virtio-mem") else 0
        return 0

    def _controller(self, cont: Controller) -> int:
        if cont.type == "pci":
            return _CONTROLLER_CONNECT.get(cont.model or "", 0)
        if cont.type in ("sata", "ide"):
            return self.pci
        if cont.type == "usb":
            if cont.model in ("nec-xhci", "qemu-xhci"):
                return self.pcie
            if cont.model in ("qusb1", "qusb2", "none"):
                return 0
            return self.pci
        if cont.type == "scsi":
            if cont.model in (None, "ncr53c90"):
                return 0
            if cont.model in ("virtio-scsi", "virtio-non-transitional"):
                return self.virtio
            return self.pci
        if cont.type == "virtio-serial":
            return self.pci if cont.model == "virtio-transitional" else self.virtio
        return 0


def has_pcie_root(defn: DomainDef) -> bool:
    root = defn.devices.find_controller("pci", 0)
    return root is not None and root.model == "pcie-root"


def has_pci_root(defn: DomainDef) -> bool:
    root = defn.devices.find_controller("pci", 0)
    return root is not None and root.model == "pci-root"


def _iterate(defn: DomainDef) -> Iterator[Device]:
    """virDomainDeviceInfoIterate's order."""
    devs = defn.devices
    yield from devs.disks
    yield from devs.interfaces
    yield from devs.sounds
    yield from devs.hostdevs
    yield from devs.videos
    yield from devs.controllers
    yield from devs.smartcards
    yield from devs.serials
    yield from devs.parallels
    yield from devs.channels
    for i, con in enumerate(devs.consoles):
        if not (i == 0 and con.target_type == "serial" and devs.serials):
            yield con  # the first serial console is only a view of serial 0
    yield from devs.inputs
    yield from devs.filesystems
    yield from devs.watchdogs
    yield from devs.memballoons
    yield from devs.rngs
    yield from devs.nvrams
    yield from devs.hubs
    yield from devs.shmems
    yield from devs.tpms
    yield from devs.panics
    yield from devs.memories
    yield from devs.redirdevs
    yield from devs.vsocks
    yield from devs.iommus


_USB2 = ("ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3")


def _pci_controller_hotplug(cont: Controller) -> bool:
    target = _child(cont, "target")
    return target is None or target.attrs.get("hotplug") != "off"


class _PCIAssigner:
    """qemuDomainAssignPCIAddresses for one definition."""

    def __init__(self, defn: DomainDef, caps: EmulatorCaps) -> None:
        self.defn = defn
        self.caps = caps
        self.flags = _Flags(defn, caps)

    def flags_of(self, dev: Device) -> int:
        return self.flags.of(dev)

    def create(self, nbuses: int, dry_run: bool) -> PCIAddressSet:
        """qemuDomainPCIAddressSetCreate."""
        addrs = PCIAddressSet(nbuses, dry_run, self.caps.has_device("pcie-pci-bridge"))
        pcie_root = False
        for cont in self.defn.devices.controllers:
            if cont.type != "pci" or cont.model is None:
                continue
            if cont.index >= nbuses:
                _fail(c.VIR_ERR_INTERNAL_ERROR, f"Inappropriate new pci controller index "
                      f"{cont.index} exceeds addrs array length", c.VIR_FROM_QEMU)
            addrs.buses[cont.index].set_model(cont.model, _pci_controller_hotplug(cont))
            pcie_root = pcie_root or cont.model == "pcie-root"
        if nbuses > 0 and addrs.buses[0].model is None:
            addrs.buses[0].set_model("pci-root")
        default = "pcie-root-port" if pcie_root else "pci-bridge"
        for bus in addrs.buses[1:]:
            if bus.model is None:
                bus.set_model(default)
        for dev in _iterate(self.defn):
            self._collect(addrs, dev)
        return addrs

    def _collect(self, addrs: PCIAddressSet, dev: Device) -> None:
        if not _pci_present(dev):
            return
        flags = self.flags_of(dev) or PCI_DEVICE
        addr = _pci_tuple(dev)
        if dev.tag == "controller" and addr[0] == 0 and addr[1] == 1:
            cont: Controller = dev  # type: ignore[assignment]
            if (cont.type == "ide" and cont.index == 0 and addr[2] == 1) or \
                    (cont.type == "usb" and cont.index == 0 and
                     cont.model in (None, "piix3-uhci") and addr[2] == 2):
                if addrs.buses and not addrs.buses[0].flags & PCI_DEVICE:
                    _fail(c.VIR_ERR_INTERNAL_ERROR, "Bus 0 must be PCI for integrated PIIX3 "
                          "USB or IDE controllers")
                return
        addrs.reserve(addr, flags, True)

    def reserve_next(self, addrs: PCIAddressSet, dev: Device,
                     function: int = -1) -> tuple[int, int, int]:
        addr = addrs.reserve_next(self.flags_of(dev), function)
        if not addrs.dry_run:
            _set_pci(dev, addr)
        return addr

    # -- chipset integrated devices --
    def validate_chipsets(self, addrs: PCIAddressSet) -> None:
        if is_i440fx(self.defn):
            self._piix3(addrs)
        if is_q35(self.defn):
            self._q35(addrs)

    def _fixed(self, addrs: PCIAddressSet, cont: Controller, addr: tuple[int, int, int],
               what: str, flags: int, reserve: bool = True) -> None:
        if _pci_present(cont):
            if _pci_tuple(cont) != addr:
                _fail(c.VIR_ERR_INTERNAL_ERROR, what)
        else:
            _set_pci(cont, addr)
        if reserve and addrs.buses:
            addrs.reserve(addr, flags, True)

    def _primary_video(self, addrs: PCIAddressSet, slot: int, flags: int) -> None:
        videos = self.defn.devices.videos
        if not videos or videos[0].model in ("none", "ramfb") or not _pci_wanted(videos[0]):
            return
        video = videos[0]
        addrs.validate((0, slot, 0), flags, True)
        if addrs.slot_in_use(0, slot):
            self.reserve_next(addrs, video)
        else:
            addrs.reserve((0, slot, 0), flags, True)
            _set_pci(video, (0, slot, 0))

    def _piix3(self, addrs: PCIAddressSet) -> None:
        flags = AUTOASSIGN | PCI_DEVICE
        for cont in self.defn.devices.controllers:
            if cont.type == "ide" and cont.index == 0:
                self._fixed(addrs, cont, (0, 1, 1),
                            "Primary IDE controller must have PCI address 0:0:1.1", flags)
            elif cont.type == "usb" and cont.index == 0 and cont.model in (None, "piix3-uhci"):
                self._fixed(addrs, cont, (0, 1, 2),
                            "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2",
                            flags)
        if addrs.buses:
            addrs.reserve((0, 1, 0), flags, True)  # ISA bridge
            addrs.reserve((0, 1, 3), flags, True)  # PIIX4 power management
        self._primary_video(addrs, 2, flags)

    def _q35(self, addrs: PCIAddressSet) -> None:
        flags = PCIE_DEVICE
        for cont in self.defn.devices.controllers:
            if cont.type == "sata" and cont.index == 0:
                self._fixed(addrs, cont, (0, 0x1F, 2),
                            "Primary SATA controller must have PCI address 0:0:1f.2", flags,
                            reserve=False)
            elif cont.type == "usb" and cont.model == "ich9-uhci1" and cont.info.address is None:
                for slot in (0x1D, 0x1A):
                    if not addrs.slot_in_use(0, slot):
                        addrs.reserve((0, slot, 0), flags, True)
                        _set_pci(cont, (0, slot, 0), "on")
                        break
            elif cont.type == "pci" and cont.model == "dmi-to-pci-bridge" and \
                    cont.info.address is None and not addrs.slot_in_use(0, 0x1E):
                addrs.reserve((0, 0x1E, 0), flags, True)
                _set_pci(cont, (0, 0x1E, 0))
        if addrs.buses:
            addrs.reserve((0, 0x1F, 0), flags, True)  # ISA bridge (LPC)
            addrs.reserve((0, 0x1F, 3), flags, True)  # SMBus
        self._primary_video(addrs, 1, flags)
        if not addrs.slot_in_use(0, 0x1B):
            for sound in self.defn.devices.sounds:
                if _x(sound, "model") == "ich9" and _pci_wanted(sound):
                    addrs.reserve((0, 0x1B, 0), flags, True)
                    _set_pci(sound, (0, 0x1B, 0))
                    break

    # -- the rest, in libvirt's order --
    def assign_slots(self, addrs: PCIAddressSet) -> None:
        """qemuDomainAssignDevicePCISlots."""
        devs = self.defn.devices
        for cont in devs.controllers:
            if cont.type == "pci" and cont.model not in ("pci-root", "pcie-root") and \
                    _pci_wanted(cont):
                self.reserve_next(addrs, cont)
        for fs in devs.filesystems:
            if _pci_wanted(fs) and self.flags_of(fs):
                self.reserve_next(addrs, fs)
        for net in devs.interfaces:
            if net.type != "hostdev" and _pci_wanted(net) and self.flags_of(net):
                self.reserve_next(addrs, net)
        for sound in devs.sounds:
            if _pci_wanted(sound) and _x(sound, "model") not in ("sb16", "pcspk", "usb"):
                self.reserve_next(addrs, sound)
        for cont in devs.controllers:
            self._other_controller(addrs, cont)
        for disk in devs.disks:
            if disk.target_bus != "virtio" or _pci_present(disk):
                continue
            addr = disk.info.address
            if addr is not None and addr.type in ("ccw", "virtio-mmio"):
                continue
            if not _pci_wanted(disk):
                _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                      f"virtio disk cannot have an address of type '{addr.type if addr else ''}'")
            self.reserve_next(addrs, disk)
        for hostdev in devs.hostdevs:
            if _pci_wanted(hostdev) and self.flags_of(hostdev):
                addr = hostdev.info.address
                if addr is not None and addr.type == "unassigned":
                    continue
                self.reserve_next(addrs, hostdev)
        balloon = devs.memballoon
        if balloon is not None and self.flags_of(balloon) and _pci_wanted(balloon):
            self.reserve_next(addrs, balloon)
        for rng in devs.rngs:
            if _pci_wanted(rng) and self.flags_of(rng):
                self.reserve_next(addrs, rng)
        dog = devs.watchdog
        if dog is not None and _x(dog, "model") == "i6300esb" and _pci_wanted(dog):
            self.reserve_next(addrs, dog)
        for video in devs.videos:
            if video.model not in ("none", "ramfb") and _pci_wanted(video) and \
                    self.flags_of(video):
                self.reserve_next(addrs, video)
        for shmem in devs.shmems:
            if _pci_wanted(shmem):
                self.reserve_next(addrs, shmem)
        for inp in devs.inputs:
            if _x(inp, "bus") == "virtio" and _pci_wanted(inp):
                self.reserve_next(addrs, inp)
        for serial in devs.serials:
            if serial.target_type == "pci-serial" and _pci_wanted(serial):
                self.reserve_next(addrs, serial)
        for other in (*devs.iommus, *devs.vsocks, *devs.memories):
            if _pci_wanted(other) and self.flags_of(other):
                self.reserve_next(addrs, other)

    def _other_controller(self, addrs: PCIAddressSet, cont: Controller) -> None:
        if cont.type in ("pci", "fdc", "ccid") or (cont.type == "usb" and cont.model == "none"):
            return
        if cont.type == "ide" and cont.index == 0:
            return
        if cont.type == "scsi" and cont.model == "ncr53c90":
            return
        if not _pci_wanted(cont) or not self.flags_of(cont):
            return
        if cont.type == "usb" and cont.model in _USB2:
            found = next((o for o in self.defn.devices.controllers
                          if o.type == "usb" and o.model in _USB2 and o.index == cont.index
                          and _pci_present(o)), None)
            function, multi = {"ich9-ehci1": (7, None), "ich9-uhci1": (0, "on"),
                               "ich9-uhci2": (1, None), "ich9-uhci3": (2, None)}[cont.model or ""]
            if found is not None:
                bus, slot, _ = _pci_tuple(found)
                addrs.reserve((bus, slot, function), self.flags_of(cont), True)
                _set_pci(cont, (bus, slot, function), multi)
            else:
                addr = addrs.reserve_next(self.flags_of(cont), function)
                if not addrs.dry_run:
                    _set_pci(cont, addr, multi)
            return
        self.reserve_next(addrs, cont)

    def run(self) -> None:
        from pyvirt.conf.domain.controllers import Controller

        devs = self.defn.devices
        pci_conts = [x for x in devs.controllers if x.type == "pci"]
        max_idx = max((x.index for x in pci_conts), default=-1)
        nbuses = max_idx + 1
        if nbuses > 0:
            addrs = self.create(nbuses, True)
            self.validate_chipsets(addrs)
            if has_pci_root(self.defn) and not all(b.fully_reserved() for b in addrs.buses):
                addrs.reserve_next(PCI_DEVICE | AUTOASSIGN)
            self.assign_slots(addrs)
            if max_idx <= 0 and len(addrs.buses) > max_idx + 1 and has_pcie_root(self.defn):
                addrs.reserve_next(PCIE_DEVICE | AUTOASSIGN)
            for i in range(1, len(addrs.buses)):
                bus = addrs.buses[i]
                if devs.find_controller("pci", i) is not None:
                    continue
                cont = Controller.new("pci", i, bus.model)
                devs.insert_controller(cont)
                if bus.model not in ("pci-root", "pcie-root"):
                    addrs.reserve_next(self.flags_of(cont))
            nbuses = len(addrs.buses)
        addrs = self.create(nbuses, False)
        if nbuses == 0:
            return
        self.validate_chipsets(addrs)
        self.assign_slots(addrs)
        _set_all_multi(self.defn)
        for cont in devs.controllers:
            if cont.type == "pci":
                self._controller_options(cont)

    def _controller_options(self, cont: Controller) -> None:
        model = cont.model or ""
        name = PCI_MODEL_NAMES.get(model)
        if model == "pcie-root-port" and not self.caps.has_device("pcie-root-port"):
            name = "ioh3420"
        if name is not None:
            node = _ensure_child(cont, "model")
            node.attrs.setdefault("name", name)
        addr = cont.info.address
        slot = addr.num("slot") if addr is not None else 0
        function = addr.num("function") if addr is not None else 0
        if model in ("pci-bridge", "pcie-root-port", "pcie-switch-downstream-port"):
            target = _ensure_child(cont, "target")
            attrs = dict(target.attrs)
            if model == "pci-bridge":
                attrs.setdefault("chassisNr", str(cont.index))
            else:
                attrs.setdefault("chassis", str(cont.index))
                port = (slot << 3) + function if model == "pcie-root-port" else slot
                attrs.setdefault("port", f"0x{port:x}")
            order = ("chassisNr", "chassis", "port", "busNr", "index", "hotplug")
            target.attrs = {k: attrs[k] for k in order if k in attrs}
            target.attrs.update({k: v for k, v in attrs.items() if k not in order})
        if model == "pci-bridge" and addr is not None and cont.index <= addr.num("bus"):
            idx = cont.index
            _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                  f"PCI controller at index {idx} (0x{idx:02x}) has bus='0x{addr.num('bus'):02x}'"
                  ", but index must be larger than bus")


def _set_all_multi(defn: DomainDef) -> None:
    """virDomainPCIAddressSetAllMulti: function 0 of a slot with several functions in use
    gets multifunction='on' (unless the user said 'off')."""
    devs = [d for d in _iterate(defn) if d.info.address is not None
            and d.info.address.type == "pci"]
    for dev in devs:
        bus, slot, function = _pci_tuple(dev)
        if function == 0:
            continue
        for other in devs:
            if _pci_tuple(other) == (bus, slot, 0):
                addr = other.info.address
                assert addr is not None
                addr.attrs.setdefault("multifunction", "on")
                break


# ---- virtio-serial ports -------------------------------------------------------------------


def _assign_virtio_serial(defn: DomainDef) -> None:
    """qemuDomainAssignVirtioSerialAddresses."""
    from pyvirt.conf.domain.controllers import Controller

    devs = defn.devices
    ports: dict[int, list[bool]] = {}

    def add_controller(cont: Controller) -> None:
        if cont.index in ports:
            _fail(c.VIR_ERR_INTERNAL_ERROR, f"virtio serial controller with index "
                  f"{cont.index} already exists in the address set", c.VIR_FROM_DOMAIN)
        count = int(_x(cont, "ports") or 31)
        ports[cont.index] = [False] * count

    def reserve(addr: Address) -> None:
        ctl, port = addr.controller, addr.num("port")
        if ctl not in ports:
            _fail(c.VIR_ERR_XML_ERROR, f"virtio serial controller {ctl} is missing",
                  c.VIR_FROM_DOMAIN)
        if port >= len(ports[ctl]):
            _fail(c.VIR_ERR_XML_ERROR, f"virtio serial controller {ctl} does not have port "
                  f"{port}", c.VIR_FROM_DOMAIN)
        if ports[ctl][port]:
            _fail(c.VIR_ERR_XML_ERROR, f"virtio serial port {port} on controller {ctl} is "
                  "already occupied", c.VIR_FROM_DOMAIN)
        ports[ctl][port] = True

    def complete(dev: Device) -> bool:
        a = dev.info.address
        return a is not None and a.type == "virtio-serial" and a.num("port") != 0

    for cont in devs.controllers:
        if cont.type == "virtio-serial":
            add_controller(cont)
    for dev in _iterate(defn):
        if complete(dev):
            assert dev.info.address is not None
            reserve(dev.info.address)

    def assign(dev: Device, allow_zero: bool) -> None:
        new: Address | None = None
        info_addr = dev.info.address
        if info_addr is not None and info_addr.type == "virtio-serial":
            ctl = info_addr.controller
            if ctl not in ports:
                _fail(c.VIR_ERR_INTERNAL_ERROR, f"virtio-serial controller {ctl} not available",
                      c.VIR_FROM_DOMAIN)
            first = next((p for p in range(1, len(ports[ctl])) if not ports[ctl][p]), -1)
            if first <= 0:
                _fail(c.VIR_ERR_XML_ERROR, "Unable to find a free port on virtio-serial "
                      f"controller {ctl}", c.VIR_FROM_DOMAIN)
            new = Address("virtio-serial", {"controller": str(ctl), "bus": "0",
                                            "port": str(first)})
        else:
            start = 0 if allow_zero else 1
            if not ports:
                _fail(c.VIR_ERR_INTERNAL_ERROR, "no virtio-serial controllers are available",
                      c.VIR_FROM_DOMAIN)
            for ctl in sorted(ports):
                free = next((p for p in range(start, len(ports[ctl])) if not ports[ctl][p]),
                            None)
                if free is not None:
                    new = Address("virtio-serial", {"controller": str(ctl), "bus": "0",
                                                    "port": str(free)})
                    break
            if new is None:
                idx = 0
                while devs.find_controller("virtio-serial", idx) is not None:
                    idx += 1
                cont = Controller.new("virtio-serial", idx)
                devs.insert_controller(cont)
                add_controller(cont)
                new = Address("virtio-serial", {"controller": str(idx), "bus": "0",
                                                "port": str(start)})
        reserve(new)
        if not allow_zero:  # a virtio console's port 0 is reserved, not recorded
            dev.info.address = new

    for con in devs.consoles:
        if con.target_type == "virtio" and not complete(con):
            a = con.info.address
            if a is not None and a.type == "virtio-serial" and a.num("port"):
                continue
            assign(con, True)
    for chan in devs.channels:
        if chan.target_type == "virtio" and not complete(chan):
            assign(chan, False)


def _assign_spapr_vio(defn: DomainDef) -> None:
    """qemuDomainAssignSpaprVIOAddresses for the one such device x86 accepts: an ibmvscsi
    controller (the first free reg from 0x2000, in steps of 0x1000)."""
    used = {d.info.address.num("reg") for d in _iterate(defn)
            if d.info.address is not None and d.info.address.type == "spapr-vio"}
    for cont in defn.devices.controllers:
        if cont.type == "scsi" and cont.model == "ibmvscsi" and cont.info.address is None:
            reg = 0x2000
            while reg in used:
                reg += 0x1000
            used.add(reg)
            cont.info.address = Address("spapr-vio", {"reg": f"0x{reg:x}"})


# ---- USB ports -----------------------------------------------------------------------------


def _usb_ports(cont: Controller) -> int:
    """virDomainUSBAddressControllerModelToPorts."""
    model = cont.model
    if model in (None, "piix3-uhci", "piix4-uhci", "vt82c686b-uhci"):
        return 2
    if model in ("ehci", "ich9-ehci1"):
        return 6
    if model == "pci-ohci":
        return 3
    if model in ("nec-xhci", "qemu-xhci"):
        return int(_x(cont, "ports") or 4)
    if model in ("qusb1", "qusb2"):
        return int(_x(cont, "ports") or 8)
    return 0


_HUB_PORTS = 8  # VIR_DOMAIN_USB_HUB_PORTS


def _usb_devices(defn: DomainDef) -> list[Device]:
    """virDomainUSBDeviceDefForeach's order (hubs are handled first, separately)."""
    devs = defn.devices
    out: list[Device] = []
    out += [h for h in devs.hostdevs if _x(h, "type") == "usb"]
    out += [d for d in devs.disks if d.target_bus == "usb"]
    out += [x for x in devs.controllers if x.type == "ccid"]
    out += [i for i in devs.inputs if _x(i, "bus") == "usb"]
    out += [s for s in devs.serials if s.target_type == "usb-serial"]
    out += [s for s in devs.sounds if _x(s, "model") == "usb"]
    out += [r for r in devs.redirdevs if r.lead_attr[1] == "usb"]
    return out


class _UsbHub:
    """The ports of a USB controller or hub: None free, True taken, or a hub below."""

    __slots__ = ("ports",)

    def __init__(self, nports: int) -> None:
        self.ports: list[_UsbHub | bool | None] = [None] * nports

    def find_free(self) -> list[int] | None:
        """virDomainUSBAddressFindFreePort: a free port here, else depth-first in hubs."""
        for i, used in enumerate(self.ports):
            if used is None:
                return [i + 1]
        for i, sub in enumerate(self.ports):
            if isinstance(sub, _UsbHub):
                path = sub.find_free()
                if path is not None:
                    return [i + 1, *path]
        return None

    def walk(self, path: list[int], bus: int, text: str) -> tuple[_UsbHub, int]:
        """The hub holding the last port of ``path`` (virDomainUSBAddressFindPort)."""
        hub = self
        for port in path[:-1]:
            if port - 1 >= len(hub.ports):
                _fail(c.VIR_ERR_XML_ERROR, f"port {port} out of range in USB address bus: "
                      f"{bus} port: {text}", c.VIR_FROM_DOMAIN)
            sub = hub.ports[port - 1]
            if not isinstance(sub, _UsbHub):
                _fail(c.VIR_ERR_XML_ERROR, f"there is no hub at port {port} in USB address "
                      f"bus: {bus} port: {text}", c.VIR_FROM_DOMAIN)
            hub = sub
        if path[-1] - 1 >= len(hub.ports):
            _fail(c.VIR_ERR_XML_ERROR, f"requested USB port {text} not present on USB bus "
                  f"{bus}", c.VIR_FROM_DOMAIN)
        return hub, path[-1] - 1


def _usb_valid(addr: Address | None) -> bool:
    return addr is not None and addr.type == "usb" and \
        (addr.attrs.get("port") or "0").split(".")[0] not in ("", "0")


def _assign_usb(defn: DomainDef) -> None:
    """qemuDomainAssignUSBAddresses for a new domain: usb-hub devices added when the
    controllers' ports run out, hubs placed first, then every USB device."""
    from pyvirt.conf.domain.device import GenericDevice

    devs = defn.devices
    buses: dict[int, _UsbHub] = {}
    for cont in devs.controllers:
        if cont.type != "usb":
            continue
        nports = _usb_ports(cont)
        if nports == 0:
            continue
        if cont.index in buses:
            _fail(c.VIR_ERR_XML_ERROR, f"Duplicate USB controllers with index {cont.index}",
                  c.VIR_FROM_DOMAIN)
        buses[cont.index] = _UsbHub(nports)
    hubs = [h for h in devs.hubs if _x(h, "type") == "usb"]
    devices = _usb_devices(defn)
    count = len(devices) + len(hubs)
    if count and not any(x.type == "usb" and x.model != "none" for x in devs.controllers):
        _fail(c.VIR_ERR_CONFIG_UNSUPPORTED, "USB is disabled for this domain, but USB devices "
              "are present in the domain XML")
    available = sum(len(b.ports) for b in buses.values()) + _HUB_PORTS * len(hubs)
    if count > available:
        needed = -(-(count - available + 1) // (_HUB_PORTS - 1))
        for _ in range(needed):
            hub = GenericDevice(tag="hub")
            hub.extra.attrs = {"type": "usb"}
            devs.hubs.append(hub)
            hubs.append(hub)

    def reserve(dev: Device) -> None:
        addr = dev.info.address
        if not _usb_valid(addr):
            return
        assert addr is not None
        bus, text = addr.num("bus"), addr.attrs.get("port", "")
        if bus not in buses:
            _fail(c.VIR_ERR_XML_ERROR, f"Missing USB bus {bus}", c.VIR_FROM_DOMAIN)
        hub, idx = buses[bus].walk([int(p) for p in text.split(".")], bus, text)
        if hub.ports[idx] is not None:
            _fail(c.VIR_ERR_XML_ERROR, f"Duplicate USB address bus {bus} port {text}",
                  c.VIR_FROM_DOMAIN)
        hub.ports[idx] = _UsbHub(_HUB_PORTS) if dev.tag == "hub" else True

    def assign(dev: Device) -> None:
        addr = dev.info.address
        if addr is not None and addr.type not in ("", "none", "usb"):
            return
        if _usb_valid(addr):
            return
        if addr is not None and addr.type == "usb":
            if addr.num("bus") not in buses:
                _fail(c.VIR_ERR_XML_ERROR, f"USB bus {addr.num('bus')} requested but no "
                      "controller with that index is present", c.VIR_FROM_DOMAIN)
            wanted = [addr.num("bus")]
        else:
            wanted = sorted(buses)
        for bus in wanted:
            path = buses[bus].find_free()
            if path is not None:
                dev.info.address = Address("usb", {"bus": str(bus),
                                                   "port": ".".join(map(str, path))})
                reserve(dev)
                return
        _fail(c.VIR_ERR_INTERNAL_ERROR, "No free USB ports", c.VIR_FROM_DOMAIN)

    for hub in hubs:
        reserve(hub)
    for dev in devices:
        reserve(dev)
    for hub in hubs:
        assign(hub)
    for dev in devices:
        assign(dev)


# ---- entry point ---------------------------------------------------------------------------


def _check_controllers(defn: DomainDef) -> None:
    """The parts of qemuValidateDomainDeviceDefController that decide addressing."""
    for cont in defn.devices.controllers:
        if cont.type == "ide" and is_x86(defn):
            if has_builtin_ide(defn):
                if cont.index != 0:
                    _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                          "Only a single IDE controller is supported for this machine type")
            else:
                _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                      "IDE controllers are unsupported for this QEMU binary or machine type")


def assign_addresses(defn: DomainDef, caps: EmulatorCaps) -> None:
    """qemuDomainAssignAddresses for a guest being started: the QEMU defaults, then
    virtio-serial ports, PCI slots (adding PCI controllers as needed) and USB ports."""
    add_default_devices(defn, caps)
    _check_controllers(defn)
    _assign_virtio_serial(defn)
    _assign_spapr_vio(defn)
    _PCIAssigner(defn, caps).run()
    _assign_usb(defn)
