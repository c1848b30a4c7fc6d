"""Controllers and the smaller devices on the QEMU command line: PCI/USB/SCSI/SATA/
virtio-serial controllers, inputs, sound, video, watchdog, memballoon, RNG, panic,
host devices and 9p filesystems."""

from __future__ import annotations

import os

from pyvirt.drivers.qemu.command_props import (
    Cmd,
    Props,
    address_props,
    escape_comma,
    internal,
    on_off,
    put,
    require,
    unsupported,
    virtio_driver,
    xattr,
    xchild,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.controllers import Controller
    from pyvirt.conf.domain.device import Device
    from pyvirt.conf.domain.misc_devices import Video

USB_DRIVERS = {
    "piix3-uhci": "piix3-usb-uhci", "piix4-uhci": "piix4-usb-uhci", "ehci": "usb-ehci",
    "ich9-ehci1": "ich9-usb-ehci1", "ich9-uhci1": "ich9-usb-uhci1",
    "ich9-uhci2": "ich9-usb-uhci2", "ich9-uhci3": "ich9-usb-uhci3",
    "vt82c686b-uhci": "vt82c686b-usb-uhci", "pci-ohci": "pci-ohci",
    "nec-xhci": "nec-usb-xhci", "qemu-xhci": "qemu-xhci",
}
_USB_CAPS = dict(USB_DRIVERS, **{"ich9-uhci1": "ich9-usb-ehci1", "ich9-uhci2": "ich9-usb-ehci1",
                                 "ich9-uhci3": "ich9-usb-ehci1"})
SCSI_DRIVERS = {
    "lsilogic": "lsi", "lsisas1068": "mptsas1068", "lsisas1078": "megasas",
    "vmpvscsi": "pvscsi", "ibmvscsi": "spapr-vscsi", "am53c974": "am53c974",
    "dc390": "dc390", "ncr53c90": "esp",
}
_SCSI_CAPS = {
    "lsilogic": ("lsi53c895a", "This QEMU doesn't support the LSI 53C895A SCSI controller"),
    "lsisas1068": ("mptsas1068", "This QEMU doesn't support the LSI SAS1068 (MPT Fusion) "
                   "controller"),
    "lsisas1078": ("megasas", "This QEMU doesn't support the LSI SAS1078 (MegaRAID) "
                   "controller"),
    "vmpvscsi": ("pvscsi", "This QEMU doesn't support the pvscsi (VMware paravirtual SCSI) "
                 "controller"),
    "virtio-scsi": ("virtio-scsi-pci", "This QEMU doesn't support virtio scsi controller"),
}
SOUND_DRIVERS = {"es1370": "ES1370", "ac97": "AC97", "ich6": "intel-hda", "usb": "usb-audio",
                 "ich9": "ich9-intel-hda", "sb16": "sb16"}
_CODECS = {"duplex": "hda-duplex", "micro": "hda-micro", "output": "hda-output"}
# video model -> (QOM type that must exist, primary device, secondary device)
VIDEO_DRIVERS = {
    "vga": ("VGA", "VGA", None), "cirrus": ("cirrus-vga", "cirrus-vga", None),
    "vmvga": ("vmware-svga", "vmware-svga", None), "qxl": ("qxl", "qxl-vga", "qxl"),
    "virtio": ("virtio-gpu-pci", "virtio-vga", "virtio-gpu"),
    "bochs": ("bochs-display", "bochs-display", None), "ramfb": ("ramfb", "ramfb", None),
}
WATCHDOG_ACTIONS = ("reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi")


# ---- controllers ---------------------------------------------------------------------------


def _skip_controller(cmd: Cmd, cont: Controller) -> bool:
    """qemuBuildSkipController: controllers built into the machine."""
    from pyvirt.drivers.qemu.addresses import has_builtin_ide, is_q35

    defn = cmd.defn
    if cont.type == "pci" and cont.model in ("pcie-root", "pci-root"):
        return True
    if cont.type == "sata" and cont.index == 0 and is_q35(defn):
        return True
    if cont.type == "ide" and cont.index == 0 and has_builtin_ide(defn):
        return True
    return cont.type == "scsi" and cont.index == 0 and cont.model == "ncr53c90"


def _usb_master(cmd: Cmd, cont: Controller) -> str:
    for other in cmd.defn.devices.controllers:
        if other.type == "usb" and other.index == cont.index and xchild(other, "master") is None:
            return f"{other.info.alias}.0"
    internal("masterbus not found")


def controller_props(cmd: Cmd, cont: Controller) -> Props | None:
    """qemuBuildControllerDevProps."""
    props: Props
    if cont.type == "scsi":
        model = cont.model or ""
        if model in _SCSI_CAPS:
            require(cmd, *_SCSI_CAPS[model])
        if model.startswith("virtio"):
            base_model = model if model != "virtio-scsi" else None
            props = virtio_driver(cmd, cont, "virtio-scsi", base_model)
            drv = xchild(cont, "driver")
            a = drv.attrs if drv is not None else {}
            put(props, iothread=f"iothread{a['iothread']}" if a.get("iothread") else None)
            props["id"] = cont.info.alias
            put(props, num_queues=_int(a.get("queues")), cmd_per_lun=_int(a.get("cmd_per_lun")),
                max_sectors=_int(a.get("max_sectors")), ioeventfd=on_off(a.get("ioeventfd")))
        elif model in SCSI_DRIVERS:
            props = {"driver": SCSI_DRIVERS[model], "id": cont.info.alias}
        else:
            unsupported(f"Unsupported controller model: {model}")
    elif cont.type == "virtio-serial":
        props = virtio_driver(cmd, cont, "virtio-serial", cont.model)
        props["id"] = cont.info.alias
        put(props, max_ports=_int(xattr(cont, "ports")), vectors=_int(xattr(cont, "vectors")))
    elif cont.type == "ccid":
        props = {"driver": "usb-ccid", "id": cont.info.alias}
    elif cont.type == "sata":
        props = {"driver": "ahci", "id": cont.info.alias}
    elif cont.type == "usb":
        if cont.model is None:
            unsupported("no model provided for USB controller")
        model = cont.model
        if model not in USB_DRIVERS or not cmd.has(_USB_CAPS[model]):
            unsupported(f"USB controller model '{model}' not supported in this QEMU binary")
        ports = xattr(cont, "ports")
        if ports is not None and model not in ("nec-xhci", "qemu-xhci"):
            unsupported(f"usb controller type '{model}' doesn't support 'ports' with this QEMU "
                        "binary")
        props = {"driver": USB_DRIVERS[model]}
        put(props, p2=_int(ports), p3=_int(ports))
        master = xchild(cont, "master")
        if master is not None:
            props["masterbus"] = _usb_master(cmd, cont)
            props["firstport"] = int(master.attrs.get("startport", "0"))
        else:
            props["id"] = cont.info.alias
    elif cont.type == "pci":
        props = _pci_controller_props(cmd, cont)
    else:
        unsupported(f"Unsupported controller type: {cont.type}")
    return address_props(cmd, props, cont)


def _pci_controller_props(cmd: Cmd, cont: Controller) -> Props:
    """qemuBuildControllerPCIDevProps."""
    model_node = xchild(cont, "model")
    target = xchild(cont, "target")
    t = target.attrs if target is not None else {}
    name = model_node.attrs.get("name") if model_node is not None else None
    if not name:
        internal(f"Unknown virDomainControllerPCIModelName value: {name}")
    require(cmd, name, f"The '{name}' device is not supported by this QEMU binary")
    model = cont.model
    props: Props = {"driver": name}
    if model == "pci-bridge":
        props["chassis_nr"] = _int(t.get("chassisNr")) or cont.index
    elif model in ("pci-expander-bus", "pcie-expander-bus"):
        props["bus_nr"] = _int(t.get("busNr")) or 0
        node = target.find("node") if target is not None else None
        if node is not None and node.text:
            props["id"] = cont.info.alias
            props["numa_node"] = int(node.text)
            return props
    elif model in ("pcie-root-port", "pcie-switch-downstream-port"):
        props["port"] = _int(t.get("port")) or 0
        props["chassis"] = _int(t.get("chassis")) or 0
        props["id"] = cont.info.alias
        put(props, hotplug=on_off(t.get("hotplug")))
        return props
    elif model not in ("dmi-to-pci-bridge", "pcie-switch-upstream-port", "pcie-to-pci-bridge"):
        internal(f"Unexpected PCI controller model {model}")
    props["id"] = cont.info.alias
    return props


def build_controllers(cmd: Cmd) -> None:
    """qemuBuildControllersCommandLine, by type in libvirt's order, then legacy -usb."""
    conts = cmd.defn.devices.controllers
    for ctype in ("pci", "usb", "scsi", "ide", "sata", "virtio-serial"):
        for cont in conts:
            if cont.type != ctype:
                continue
            if cont.type == "pci" and cont.model == "pci-root" and cont.index == 0:
                target = xchild(cont, "target")
                hotplug = target.attrs.get("hotplug") if target is not None else None
                if hotplug is not None:
                    cmd.add("-global", f"PIIX4_PM.acpi-root-pci-hotplug={hotplug}")
            if _skip_controller(cmd, cont):
                continue
            if cont.type == "usb" and cont.model == "none":
                continue
            props = controller_props(cmd, cont)
            if props is not None:
                cmd.device(props)
    _legacy_usb(cmd)


def _legacy_usb(cmd: Cmd) -> None:
    from pyvirt.drivers.qemu.addresses import is_q35

    usb = [x for x in cmd.defn.devices.controllers if x.type == "usb"]
    if any(x.model == "none" for x in usb):
        return
    if sum(1 for x in usb if x.model is None) > 1:
        unsupported("Multiple legacy USB controllers are not supported")
    if not any(x.model is not None for x in usb) and not is_q35(cmd.defn):
        cmd.add("-usb")


def build_hubs(cmd: Cmd) -> None:
    """qemuBuildHubCommandLine."""
    for hub in cmd.defn.devices.hubs:
        if xattr(hub, "type") != "usb":
            unsupported(f"hub type {xattr(hub, 'type')} not supported")
        require(cmd, "usb-hub", "usb-hub not supported by QEMU binary")
        cmd.device(address_props(cmd, {"driver": "usb-hub", "id": hub.info.alias}, hub))


def build_ccid(cmd: Cmd) -> None:
    for cont in cmd.defn.devices.controllers:
        if cont.type == "ccid":
            cmd.device(address_props(cmd, {"driver": "usb-ccid", "id": cont.info.alias}, cont))


# ---- inputs, sound, video ------------------------------------------------------------------


def build_inputs(cmd: Cmd) -> None:
    """qemuBuildInputCommandLine."""
    for inp in cmd.defn.devices.inputs:
        kind, bus = xattr(inp, "type"), xattr(inp, "bus")
        if kind == "evdev":
            src = xchild(inp, "source")
            a = src.attrs if src is not None else {}
            props: Props = {"qom-type": "input-linux", "id": inp.info.alias,
                            "evdev": a.get("dev", "")}
            put(props, repeat=on_off(a.get("repeat")))
            if a.get("grab") == "all":
                props["grab_all"] = True
            put(props, grab__toggle=a.get("grabToggle"))
            cmd.object(props)
        elif bus == "usb":
            driver = {"mouse": "usb-mouse", "tablet": "usb-tablet", "keyboard": "usb-kbd"}.get(
                kind or "")
            if driver is None:
                unsupported(f"unsupported input device type '{kind}' on bus 'usb'")
            if driver == "usb-kbd":
                require(cmd, "usb-kbd", "usb keyboard is not supported by this QEMU binary")
            cmd.device(address_props(cmd, {"driver": driver, "id": inp.info.alias}, inp))
        elif bus == "virtio":
            base = {"mouse": "virtio-mouse", "tablet": "virtio-tablet",
                    "keyboard": "virtio-keyboard", "passthrough": "virtio-input-host"}.get(
                        kind or "")
            if base is None:
                unsupported(f"unsupported input device type '{kind}' on bus 'virtio'")
            props = virtio_driver(cmd, inp, base, xattr(inp, "model"))
            _virtio_options(props, inp)
            props["id"] = inp.info.alias
            if kind == "passthrough":
                src = xchild(inp, "source")
                put(props, evdev=src.attrs.get("evdev") if src is not None else None)
            cmd.device(address_props(cmd, props, inp))
        elif bus not in ("ps2", None, "xen"):
            unsupported(f"unsupported input bus '{bus}'")


def _virtio_options(props: Props, dev: Device) -> None:
    drv = xchild(dev, "driver")
    if drv is not None:
        put(props, iommu_platform=on_off(drv.attrs.get("iommu")),
            ats=on_off(drv.attrs.get("ats")), packed=on_off(drv.attrs.get("packed")),
            page__per__vq=on_off(drv.attrs.get("page_per_vq")))


def _audio_id(cmd: Cmd, dev: Device) -> str:
    audio = xchild(dev, "audio")
    wanted = audio.attrs.get("id") if audio is not None else None
    for backend in cmd.defn.devices.audios:
        if wanted is None or xattr(backend, "id") == wanted:
            return f"audio{xattr(backend, 'id') or 1}"
    internal("unable to find audio backend for sound device")


def build_sounds(cmd: Cmd) -> None:
    """qemuBuildSoundCommandLine."""
    for sound in cmd.defn.devices.sounds:
        model = xattr(sound, "model") or ""
        if model == "pcspk":
            cmd.add("-soundhw", "pcspk")
            continue
        driver = SOUND_DRIVERS.get(model)
        if driver is None:
            internal(f"sound card model '{model}' is not supported by qemu")
        if model == "ich9":
            require(cmd, "ich9-intel-hda",
                    "The ich9-intel-hda audio controller is not supported in this QEMU binary")
        if model == "usb":
            require(cmd, "usb-audio",
                    "usb-audio controller is not supported by this QEMU binary")
        hda = model in ("ich6", "ich9")
        props: Props = {"driver": driver, "id": sound.info.alias}
        if not hda:
            props["audiodev"] = _audio_id(cmd, sound)
        cmd.device(address_props(cmd, props, sound))
        if not hda:
            continue
        codecs = [n.attrs.get("type", "duplex") for _, n in sound.extra.children
                  if n.tag == "codec"] or ["duplex"]
        for cad, codec in enumerate(codecs):
            cmd.device({"driver": _CODECS.get(codec, "hda-duplex"),
                        "id": f"{sound.info.alias}-codec{cad}", "bus": f"{sound.info.alias}.0",
                        "cad": cad, "audiodev": _audio_id(cmd, sound)})


def build_videos(cmd: Cmd) -> None:
    """qemuBuildVideoCommandLine."""
    for video in cmd.defn.devices.videos:
        if video.model in ("none", None):
            continue
        cmd.device(video_props(cmd, video))


def video_props(cmd: Cmd, video: Video) -> Props:
    """qemuBuildDeviceVideoCmd."""
    model = video.model or ""
    if model not in VIDEO_DRIVERS:
        unsupported(f"domain configuration does not support video model '{model}'")
    needed, primary_name, secondary_name = VIDEO_DRIVERS[model]
    if not cmd.has(needed) and not (model == "virtio" and cmd.has("virtio-vga")):
        unsupported(f"domain configuration does not support video model '{model}'")
    drv = next((n for _, n in video.extra.children if n.tag == "driver"), None)
    if drv is not None and drv.attrs.get("name") == "vhostuser":
        unsupported("vhost-user video devices are not supported by this driver")
    if model not in ("qxl", "virtio"):
        if not video.primary:
            unsupported(f"video type '{model}' is only valid as primary video device")
        if (video.heads or 1) != 1:
            unsupported(f"video type '{model}' doesn't support multiple 'heads'")
    accel = next((n for n in video.model_children if n.tag == "acceleration"), None)
    accel3d = accel is not None and accel.attrs.get("accel3d") == "yes"
    primary = video.primary and (model != "virtio" or cmd.has("virtio-vga"))
    name = primary_name if primary else secondary_name
    if name is None:
        internal(f"invalid model for video type '{model}'")
    if model == "virtio":
        if primary and accel3d and cmd.has("virtio-vga-gl"):
            name = "virtio-vga-gl"
        elif not primary and accel3d and cmd.has("virtio-gpu-gl-pci"):
            name = "virtio-gpu-gl"
        props = virtio_driver(cmd, video, name, None, bus_suffix=not primary)
        _virtio_options(props, video)
    else:
        props = {"driver": name}
    props["id"] = video.info.alias
    if model in ("qxl", "virtio") and video.heads:
        props["max_outputs"] = video.heads
    if model == "qxl":
        put(props, ram_size=(video.ram or 0) * 1024 or None,
            vram_size=(video.vram or 0) * 1024 or None)
        props["vram64_size_mb"] = int(video.model_attrs.get("vram64", "0")) // 1024
        props["vgamem_mb"] = int(video.model_attrs.get("vgamem", "0")) // 1024
    elif model in ("vga", "vmvga"):
        put(props, vgamem_mb=(video.vram or 0) // 1024 or None)
    elif model == "bochs":
        put(props, vgamem=(video.vram or 0) * 1024 or None)
    res = next((n for n in video.model_children if n.tag == "resolution"), None)
    if res is not None:
        put(props, xres=_int(res.attrs.get("x")), yres=_int(res.attrs.get("y")))
    return address_props(cmd, props, video)


# ---- watchdog, memballoon, rng, panic ------------------------------------------------------


def build_watchdog(cmd: Cmd) -> None:
    """qemuBuildWatchdogCommandLine."""
    dog = cmd.defn.devices.watchdog
    if dog is None:
        return
    model = xattr(dog, "model") or ""
    if model not in ("i6300esb", "ib700", "diag288", "itco"):
        unsupported(f"unsupported watchdog model '{model}'")
    qom = {"itco": "ICH9-LPC"}.get(model, model)
    require(cmd, qom, f"{model} model of watchdog is not supported with this QEMU binary")
    if model != "itco":
        cmd.device(address_props(cmd, {"driver": model, "id": dog.info.alias}, dog))
    action = xattr(dog, "action") or "reset"
    if action not in WATCHDOG_ACTIONS:
        internal("invalid watchdog action")
    cmd.add("-watchdog-action", "pause" if action == "dump" else action)


def build_memballoon(cmd: Cmd) -> None:
    """qemuBuildMemballoonCommandLine (the stats period is set over QMP at start)."""
    balloon = cmd.defn.devices.memballoon
    if balloon is None:
        return
    model = xattr(balloon, "model")
    if model == "none":
        return
    if model not in ("virtio", "virtio-transitional", "virtio-non-transitional"):
        unsupported(f"Memory balloon device type '{model}' is not supported by this version "
                    "of qemu")
    props = virtio_driver(cmd, balloon, "virtio-balloon", model)
    _virtio_options(props, balloon)
    props["id"] = balloon.info.alias
    put(props, deflate__on__oom=on_off(xattr(balloon, "autodeflate")),
        free__page__reporting=on_off(xattr(balloon, "freePageReporting")))
    cmd.device(address_props(cmd, props, balloon))


def balloon_stats_period(balloon: Device | None) -> int | None:
    """The <stats period> the driver sets after start (qom-set of the balloon's
    guest-stats-polling-interval): libvirt does not put it on the command line."""
    if balloon is None:
        return None
    stats = xchild(balloon, "stats")
    return int(stats.attrs["period"]) if stats is not None and "period" in stats.attrs else None


def build_rngs(cmd: Cmd) -> None:
    """qemuBuildRNGCommandLine."""
    from pyvirt.drivers.qemu.command_chardevs import chardev_arg

    for rng in cmd.defn.devices.rngs:
        model = rng.model or ""
        if model not in ("virtio", "virtio-transitional", "virtio-non-transitional") or \
                not cmd.has("virtio-rng-pci"):
            unsupported(f"domain configuration does not support rng model '{model}'")
        obj = f"obj{rng.info.alias}"
        backend = rng.backend_model
        if backend == "random":
            require(cmd, "rng-random", "this qemu doesn't support the rng-random backend")
            cmd.object({"qom-type": "rng-random", "id": obj, "filename": rng.backend_path})
        elif backend == "egd":
            assert rng.backend_source is not None
            char = f"char{rng.info.alias}"
            cmd.add("-chardev", chardev_arg(cmd, rng.backend_source, char))
            cmd.object({"qom-type": "rng-egd", "id": obj, "chardev": char})
        elif backend == "builtin":
            require(cmd, "rng-builtin", "this qemu doesn't support the rng-builtin backend")
            cmd.object({"qom-type": "rng-builtin", "id": obj})
        else:
            unsupported("unknown rng-random backend")
        props = virtio_driver(cmd, rng, "virtio-rng", model)
        _virtio_options(props, rng)
        props["rng"] = obj
        props["id"] = rng.info.alias
        rate = next((n for _, n in rng.extra.children if n.tag == "rate"), None)
        if rate is not None and _int(rate.attrs.get("bytes")):
            props["max-bytes"] = int(rate.attrs["bytes"])
            props["period"] = _int(rate.attrs.get("period")) or 1000
        cmd.device(address_props(cmd, props, rng))


def build_panics(cmd: Cmd) -> None:
    """qemuBuildPanicCommandLine (x86: the ISA pvpanic device)."""
    for panic in cmd.defn.devices.panics:
        model = panic.model or "isa"
        if model == "isa":
            require(cmd, "pvpanic", "the QEMU binary does not support the ISA panic device")
            props: Props = {"driver": "pvpanic"}
            addr = panic.info.address
            if addr is not None and addr.type == "isa":
                props["ioport"] = addr.num("iobase")
            cmd.device(props)
        elif model != "hyperv":
            unsupported(f"panic model '{model}' is not supported by this QEMU binary")


def build_iommu(cmd: Cmd) -> None:
    """qemuBuildIOMMUCommandLine."""
    for iommu in cmd.defn.devices.iommus:
        model = xattr(iommu, "model")
        drv = xchild(iommu, "driver")
        a = drv.attrs if drv is not None else {}
        if model == "intel":
            require(cmd, "intel-iommu", "IOMMU device: intel is not supported with this QEMU "
                    "binary")
            props: Props = {"driver": "intel-iommu", "id": iommu.info.alias}
            put(props, intremap=a.get("intremap"), caching__mode=on_off(a.get("caching_mode")),
                eim=a.get("eim"), device__iotlb=on_off(a.get("iotlb")),
                aw__bits=_int(a.get("aw_bits")))
            cmd.device(props)
        elif model == "virtio":
            require(cmd, "virtio-iommu-pci", "IOMMU device: virtio is not supported with "
                    "this QEMU binary")
            cmd.device(address_props(cmd, {"driver": "virtio-iommu", "id": iommu.info.alias},
                                     iommu))
        else:
            unsupported(f"IOMMU device: {model} is not supported with this QEMU binary")


def _tpm_cancel_path(devpath: str) -> str:
    """virTPMCreateCancelPath."""
    dev = devpath.rsplit("/", 1)[-1]
    for prefix in ("misc/", "tpm/"):
        path = f"/sys/class/{prefix}{dev}/device/cancel"
        if os.path.exists(path):
            return path
    return "/dev/null"


def build_tpms(cmd: Cmd) -> None:
    """qemuBuildTPMsCommandLine: -tpmdev backend (swtpm socket, external socket or the
    host's device) and the tpm-tis/tpm-crb frontend."""
    emulator = cmd.defn.emulator or cmd.caps.binary
    for index, tpm in enumerate(cmd.defn.devices.tpms):
        model = xattr(tpm, "model") or "tpm-tis"
        backend = xchild(tpm, "backend")
        kind = backend.attrs.get("type") if backend is not None else None
        if kind not in ("passthrough", "emulator", "external"):
            unsupported(f"The QEMU executable {emulator} does not support TPM backend type "
                        f"{kind}")
        if model not in ("tpm-tis", "tpm-crb") or not cmd.has(model):
            unsupported(f"The QEMU executable {emulator} does not support TPM model {model}")
        alias = tpm.info.alias
        if kind == "passthrough":
            node = backend.find("device") if backend is not None else None
            path = node.attrs.get("path", "/dev/tpm0") if node is not None else "/dev/tpm0"
            cmd.add("-tpmdev", f"passthrough,id=tpm-{alias},path={escape_comma(path)},"
                               f"cancel-path={escape_comma(_tpm_cancel_path(path))}")
        else:
            if kind == "emulator":
                sock = cmd.ctx.tpm_sockets.get(index)
                if sock is None:
                    internal(f"no swtpm socket for TPM device {alias}")
            else:
                src = backend.find("source") if backend is not None else None
                sock = src.attrs.get("path", "") if src is not None else ""
            cmd.add("-chardev", f"socket,id=chrtpm,path={escape_comma(sock)}")
            cmd.add("-tpmdev", f"emulator,id=tpm-{alias},chardev=chrtpm")
        cmd.device(address_props(cmd, {"driver": model, "tpmdev": f"tpm-{alias}",
                                        "id": alias}, tpm))


def build_vsock(cmd: Cmd) -> None:
    """qemuBuildVsockCommandLine: vhost-vsock with the descriptor the driver opened."""
    for vsock in cmd.defn.devices.vsocks:
        cid = xchild(vsock, "cid")
        address = cid.attrs.get("address") if cid is not None else None
        if not address or (cid is not None and cid.attrs.get("auto") == "yes"
                           and cmd.ctx.vsock_cid is not None):
            if cmd.ctx.vsock_cid is None:
                internal("no guest CID allocated for the vsock device")
            address = str(cmd.ctx.vsock_cid)
            if cid is not None:
                cid.attrs["address"] = address
        if cmd.ctx.vsock_fd is None:
            internal("no vhost-vsock file descriptor for the vsock device")
        props = virtio_driver(cmd, vsock, "vhost-vsock", xattr(vsock, "model"))
        _virtio_options(props, vsock)
        props.update({"id": vsock.info.alias, "guest-cid": int(address),
                      "vhostfd": str(cmd.ctx.vsock_fd)})
        cmd.device(address_props(cmd, props, vsock))


# ---- host devices, filesystems -------------------------------------------------------------


def build_hostdevs(cmd: Cmd, boot: dict[int, int]) -> None:
    """PCI (vfio-pci) and USB (usb-host) host devices."""
    for hostdev in cmd.defn.devices.hostdevs:
        src = xchild(hostdev, "source")
        kind = xattr(hostdev, "type")
        if xattr(hostdev, "mode") not in (None, "subsystem") or src is None:
            unsupported("only subsystem host devices are supported")
        props: Props
        if kind == "pci":
            addr = src.find("address")
            if addr is None:
                unsupported("PCI host device without a source address")
            nums = [int(addr.attrs.get(k, "0"), 0) for k in ("domain", "bus", "slot",
                                                               "function")]
            props = {"driver": "vfio-pci",
                     "host": f"{nums[0]:04x}:{nums[1]:02x}:{nums[2]:02x}.{nums[3]}",
                     "id": hostdev.info.alias}
            put(props, bootindex=boot.get(id(hostdev)) or None)
        elif kind == "usb":
            addr = src.find("address")
            vendor, product = src.find("vendor"), src.find("product")
            props = {"driver": "usb-host"}
            if addr is not None:
                props["hostdevice"] = (f"/dev/bus/usb/{int(addr.attrs.get('bus', '0'), 0):03d}/"
                                       f"{int(addr.attrs.get('device', '0'), 0):03d}")
            elif vendor is not None and product is not None:
                props["vendorid"] = int(vendor.attrs.get("id", "0"), 0)
                props["productid"] = int(product.attrs.get("id", "0"), 0)
            props["id"] = hostdev.info.alias
            reset = src.attrs.get("guestReset")
            if reset in ("off", "uninitialized", "on"):
                props["guest-reset"] = reset != "off"
                props["guest-resets-all"] = reset == "on"
            put(props, bootindex=boot.get(id(hostdev)) or None)
        else:
            unsupported(f"hostdev type '{kind}' is not supported by this driver")
        cmd.device(address_props(cmd, props, hostdev))


def build_filesystems(cmd: Cmd) -> None:
    """virtio-9p shares (-fsdev + virtio-9p-pci)."""
    for fs in cmd.defn.devices.filesystems:
        drv = xchild(fs, "driver")
        dtype = drv.attrs.get("type") if drv is not None else None
        if xattr(fs, "type") not in (None, "mount") or dtype not in (None, "path", "handle"):
            unsupported(f"only 9p 'mount' filesystems are supported, not "
                        f"'{dtype or xattr(fs, 'type')}'")
        alias = fs.info.alias
        parts = ["handle" if dtype == "handle" else "local"]
        if dtype != "handle":
            mode = xattr(fs, "accessmode") or "passthrough"
            parts.append(f"security_model={'none' if mode == 'squash' else mode}")
            if xattr(fs, "multidevs") in ("remap", "forbid", "warn"):
                parts.append(f"multidevs={xattr(fs, 'multidevs')}")
            for key in ("fmode", "dmode"):
                if xattr(fs, key):
                    parts.append(f"{key}={int(xattr(fs, key) or '0', 8):04o}")
        if drv is not None and drv.attrs.get("wrpolicy") == "immediate":
            parts.append("writeout=immediate")
        parts.append(f"id=fsdev-{alias}")
        parts.append(f"path={escape_comma(fs.source or '')}")
        if any(n.tag == "readonly" for _, n in fs.extra.children):
            parts.append("readonly")
        cmd.add("-fsdev", ",".join(parts))
        props = virtio_driver(cmd, fs, "virtio-9p", xattr(fs, "model"))
        props.update({"id": alias, "fsdev": f"fsdev-{alias}", "mount_tag": fs.target or ""})
        cmd.device(address_props(cmd, props, fs))


def _int(value: str | None) -> int | None:
    return int(value, 0) if value else None
