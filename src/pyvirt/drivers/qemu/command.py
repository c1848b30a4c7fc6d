"""Domain definition -> QEMU command line, as libvirt 9.0's qemuBuildCommandLine builds it
for QEMU 7.2 (JSON syntax for -object, -blockdev, -device and -netdev).

``build_command(defn, caps, ctx)`` expects a definition whose devices already carry their
addresses (``addresses.assign_addresses``; aliases still missing are assigned) and returns
argv; ``build_env(defn, ctx)`` is the environment to run it with. Building records in the
definition what libvirt's live XML shows after start: memory rounded to whole MiB, the ports
of autoport displays, the default listen address, generated channel socket paths.
The parts live in ``command_memory`` (RAM, NUMA), ``command_disks``, ``command_net``,
``command_chardevs``, ``command_graphics`` and ``command_devices``; ``command_props`` has
the shared helpers. ``lifecycle_actions`` and ``command_devices.balloon_stats_period`` say
what the driver sets over QMP once QEMU runs, as libvirt does.
"""

from __future__ import annotations

import os

from pyvirt.drivers.qemu import command_chardevs as chardevs
from pyvirt.drivers.qemu import command_devices as devices
from pyvirt.drivers.qemu import command_disks as disks
from pyvirt.drivers.qemu import command_graphics as graphics
from pyvirt.drivers.qemu import command_memory as memory
from pyvirt.drivers.qemu import command_net as net
from pyvirt.drivers.qemu.command_props import Cmd, escape_comma, unsupported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.xnode import XNode
    from pyvirt.drivers.qemu.emulator import EmulatorCaps

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"


class LaunchContext:
    """What the driver prepared for one start of a guest.

    ``monitor_socket``: the QMP unix socket path QEMU listens on; ``pidfile``: passed as
    ``-pidfile`` when set; ``domain_dir``: the guest's private run directory (HOME of the
    process, generated channel sockets); ``vnc_ports``: graphics index -> the port the
    driver allocated for an autoport VNC/SPICE display (``vnc_websocket_ports`` likewise
    for websocket='-1'); ``tap_fds``: interface index -> TAP file descriptors the driver
    opened and passes for type network/bridge/ethernet/direct (``vhost_fds``: their
    /dev/vhost-net descriptors); ``incoming``: ``-incoming`` URI ("defer" for restore);
    ``start_paused``: ``-S`` (libvirt always starts frozen and resumes with QMP 'cont');
    ``master_key``: path of the master key file for secrets (``-object secret``);
    ``spice_tls_dir``: the x509 directory when SPICE TLS is enabled (qemu.conf's spice_tls),
    ``spice_tls_ports``: graphics index -> TLS port allocated for autoport SPICE;
    ``log_timestamps``: ``-msg timestamp=on`` (qemu.conf's log_timestamp);
    ``vsock_fd``: the open /dev/vhost-vsock descriptor for a <vsock>, ``vsock_cid``: the
    guest CID the driver picked for <cid auto='yes'/> (recorded in the live definition);
    ``tpm_sockets``: TPM index -> the control socket of the swtpm the driver started for an
    emulator backend; ``hugepage_dirs``: huge page size in KiB -> the guest's directory on
    a hugetlbfs mount of that size, ``default_hugepage_kib`` the host's default huge page;
    ``nvram_dir``: where UEFI variable stores without a path go (qemu.conf's nvram dir).
    """

    __slots__ = ("monitor_socket", "pidfile", "domain_dir", "vnc_ports", "vnc_websocket_ports",
                 "tap_fds", "vhost_fds", "incoming", "start_paused", "master_key",
                 "log_timestamps", "spice_tls_dir", "spice_tls_ports", "vsock_fd", "vsock_cid",
                 "tpm_sockets", "hugepage_dirs", "default_hugepage_kib", "nvram_dir")

    def __init__(self, monitor_socket: str, domain_dir: str, pidfile: str | None = None,
                 vnc_ports: dict[int, int] | None = None,
                 tap_fds: dict[int, list[int]] | None = None, incoming: str | None = None,
                 start_paused: bool = True, master_key: str | None = None,
                 vhost_fds: dict[int, list[int]] | None = None,
                 vnc_websocket_ports: dict[int, int] | None = None,
                 log_timestamps: bool = True, spice_tls_dir: str | None = None,
                 spice_tls_ports: dict[int, int] | None = None, vsock_fd: int | None = None,
                 vsock_cid: int | None = None,
                 tpm_sockets: dict[int, str] | None = None,
                 hugepage_dirs: dict[int, str] | None = None,
                 default_hugepage_kib: int = 2048, nvram_dir: str | None = None) -> None:
        self.monitor_socket = monitor_socket
        self.pidfile = pidfile
        self.domain_dir = domain_dir
        self.vnc_ports = vnc_ports or {}
        self.vnc_websocket_ports = vnc_websocket_ports or {}
        self.tap_fds = tap_fds or {}
        self.vhost_fds = vhost_fds or {}
        self.incoming = incoming
        self.start_paused = start_paused
        self.master_key = master_key
        self.log_timestamps = log_timestamps
        self.spice_tls_dir = spice_tls_dir
        self.spice_tls_ports = spice_tls_ports or {}
        self.vsock_fd = vsock_fd
        self.vsock_cid = vsock_cid
        self.tpm_sockets = tpm_sockets or {}
        self.hugepage_dirs = hugepage_dirs or {}
        self.default_hugepage_kib = default_hugepage_kib
        self.nvram_dir = nvram_dir


# ---- helpers on the untyped parts of the definition ----------------------------------------


def _top(defn: DomainDef, tag: str) -> XNode | None:
    return next((n for _, n in defn.extra.children if n.tag == tag), None)


def _feature(defn: DomainDef, name: str) -> XNode | None:
    return defn.features.find(name) if defn.features is not None else None


def _feature_on(defn: DomainDef, name: str) -> bool | None:
    """A <features> switch: True/False when present (state='on'/'off'), None when absent."""
    node = _feature(defn, name)
    if node is None:
        return None
    return node.attrs.get("state", "on") == "on"


def _timers(defn: DomainDef) -> list[dict[str, str]]:
    return [n.attrs for _, n in defn.clock.extra.children if n.tag == "timer"]


def _timer(defn: DomainDef, name: str) -> dict[str, str] | None:
    return next((t for t in _timers(defn) if t.get("name") == name), None)


# ---- the top-level options -----------------------------------------------------------------


def _machine(cmd: Cmd, pflash: list[str]) -> None:
    """qemuBuildMachineCommandLine."""
    defn = cmd.defn
    machine = defn.os.machine or cmd.caps.canonical_machine(None)
    if not machine:
        unsupported("no machine type given and the emulator has no default")
    if cmd.caps.machine(machine) is None and cmd.caps.machines:
        unsupported(f"Emulator '{cmd.caps.binary}' does not support machine type '{machine}'")
    opts = [machine, "usb=off"]
    for name in ("vmport", "smm"):
        node = _feature(defn, name)
        if node is not None and node.attrs.get("state") in ("on", "off"):
            opts.append(f"{name}={node.attrs['state']}")
    ioapic = _feature(defn, "ioapic")
    if ioapic is not None and ioapic.attrs.get("driver") in ("qemu", "kvm"):
        opts.append("kernel_irqchip=" + ("split" if ioapic.attrs["driver"] == "qemu" else "on"))
    dump = defn.dump_core
    opts.append(f"dump-guest-core={dump if dump in ('on', 'off') else 'off'}")
    memory_backing = _top(defn, "memoryBacking")
    if memory_backing is not None and memory_backing.find("nosharepages") is not None:
        opts.append("mem-merge=off")
    from pyvirt.conf.domain.cpu import numa_cells

    if not numa_cells(defn.cpu):
        opts.append("memory-backend=pc.ram")
    opts.extend(pflash)
    bios = next((n for _, n in defn.os.extra.children if n.tag == "bios"), None)
    if bios is not None and bios.attrs.get("useserial") == "yes":
        opts.append("graphics=off")
    hpet = _timer(defn, "hpet")
    if hpet is not None and hpet.get("present") in ("yes", "no"):
        opts.append(f"hpet={'on' if hpet['present'] == 'yes' else 'off'}")
    if _feature_on(defn, "acpi") is not True and cmd.caps.version >= 8_000_000:
        opts.append("acpi=off")
    cmd.add("-machine", ",".join(opts))


def _accel(cmd: Cmd) -> None:
    virt = cmd.defn.type
    if virt == "kvm":
        if not cmd.caps.kvm and cmd.caps.kvm_reason:
            unsupported(f"KVM is not available: {cmd.caps.kvm_reason}")
        cmd.add("-accel", "kvm")
    elif virt == "qemu":
        tcg = _feature(cmd.defn, "tcg")
        cache = tcg.find("tb-cache") if tcg is not None else None
        if cache is not None and cache.text:
            from pyvirt.conf.xmlutil import scale

            size = scale(cache.text.strip(), cache.attrs.get("unit", "MiB"), "MiB", "tb-cache")
            cmd.add("-accel", f"tcg,tb-size={size >> 20}")
        else:
            cmd.add("-accel", "tcg")
    else:
        unsupported(f"domain type '{virt}' is not supported by the QEMU driver")


# libvirt's x86 CPU feature names that QEMU spells differently
CPU_FEATURE_NAMES = {
    "cmp_legacy": "cmp-legacy", "ds_cpl": "ds-cpl", "fxsr_opt": "fxsr-opt",
    "kvm_pv_eoi": "kvm-pv-eoi", "kvm_pv_unhalt": "kvm-pv-unhalt", "lahf_lm": "lahf-lm",
    "nodeid_msr": "nodeid-msr", "pclmuldq": "pclmulqdq", "perfctr_core": "perfctr-core",
    "perfctr_nb": "perfctr-nb", "tsc_adjust": "tsc-adjust",
}
_HV_FLAGS = ("relaxed", "vapic", "vpindex", "runtime", "synic", "stimer", "reset",
             "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic")


def _cpu(cmd: Cmd) -> None:
    """qemuBuildCpuCommandLine."""
    defn = cmd.defn
    cpu = defn.cpu
    model = ""
    if cpu is not None:
        mode = cpu.attrs.get("mode", "custom")
        node = cpu.find("model")
        if mode in ("host-passthrough", "maximum"):
            model = "max" if mode == "maximum" else "host"
            if mode == "host-passthrough" and defn.type != "kvm":
                unsupported("CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host "
                            "is not supported by hypervisor")
            if cpu.attrs.get("migratable") in ("on", "off"):
                model += f",migratable={cpu.attrs['migratable']}"
        elif mode == "host-model":
            # libvirt expands the host's model from its probe; QEMU's own view of the
            # host is the nearest equivalent
            model = "host" if defn.type == "kvm" else "max"
        elif node is not None and node.text:
            model = str(node.text)
        if model and node is not None and node.attrs.get("vendor_id"):
            model += f",vendor={node.attrs['vendor_id']}"
        if model:
            for feat in cpu.findall("feature"):
                policy = feat.attrs.get("policy", "require")
                name = feat.attrs.get("name", "")
                name = CPU_FEATURE_NAMES.get(name, name)
                if policy in ("force", "require"):
                    model += f",{name}=on"
                elif policy in ("disable", "forbid"):
                    model += f",{name}=off"
    flags = ""
    for timer in _timers(defn):
        tname, present = timer.get("name"), timer.get("present")
        if tname == "kvmclock" and present in ("yes", "no"):
            flags += f",kvmclock={'on' if present == 'yes' else 'off'}"
        elif tname == "hypervclock" and present == "yes":
            flags += ",hv-time=on"
        elif tname == "tsc" and timer.get("frequency"):
            flags += f",tsc-frequency={timer['frequency']}"
    apic = _feature(defn, "apic")
    if apic is not None and apic.attrs.get("eoi") in ("on", "off"):
        flags += f",kvm-pv-eoi={apic.attrs['eoi']}"
    spin = _feature_on(defn, "pvspinlock")
    if spin is not None:
        flags += f",kvm-pv-unhalt={'on' if spin else 'off'}"
    flags += _hyperv_flags(defn) + _kvm_flags(defn)
    if any(p.model == "hyperv" for p in defn.devices.panics):
        flags += ",hv-crash"
    if flags and not model:
        from pyvirt.drivers.qemu.addresses import default_cpu_model

        model = default_cpu_model(defn) or "qemu64"
    if model:
        cmd.add("-cpu", model + flags)


def _hyperv_flags(defn: DomainDef) -> str:
    hv = _feature(defn, "hyperv")
    if hv is None:
        return ""
    out = ""
    if hv.attrs.get("mode") == "passthrough":
        out += ",hv-passthrough=on"
    for node in hv.children:
        if node.attrs.get("state", "on") != "on":
            continue
        if node.tag in _HV_FLAGS:
            out += f",hv-{node.tag}=on"
            if node.tag == "stimer":
                direct = node.find("direct")
                if direct is not None and direct.attrs.get("state") == "on":
                    out += ",hv-stimer-direct=on"
        elif node.tag == "spinlocks" and node.attrs.get("retries"):
            out += f",hv-spinlocks=0x{int(node.attrs['retries']):x}"
        elif node.tag == "vendor_id" and node.attrs.get("value"):
            out += f",hv-vendor-id={node.attrs['value']}"
    return out


def _kvm_flags(defn: DomainDef) -> str:
    kvm = _feature(defn, "kvm")
    if kvm is None:
        return ""
    out = ""
    for node in kvm.children:
        state = node.attrs.get("state")
        if node.tag == "hidden" and state == "on":
            out += ",kvm=off"
        elif node.tag == "hint-dedicated" and state == "on":
            out += ",kvm-hint-dedicated=on"
        elif node.tag == "poll-control" and state == "on":
            out += ",kvm-poll-control=on"
        elif node.tag == "pv-ipi" and state == "off":
            out += ",kvm-pv-ipi=off"
    return out


def _tseg(cmd: Cmd) -> None:
    smm = _feature(cmd.defn, "smm")
    tseg = smm.find("tseg") if smm is not None else None
    if tseg is None or not tseg.text:
        return
    from pyvirt.conf.xmlutil import scale

    size = scale(tseg.text.strip(), tseg.attrs.get("unit", "MiB"), "MiB", "tseg size")
    cmd.add("-global", f"mch.extended-tseg-mbytes={size >> 20}")


def _loader(cmd: Cmd) -> None:
    loader = cmd.defn.os.loader
    if loader is None or not loader.path:
        return
    kind = loader.attrs.get("type", "rom")
    if kind == "rom":
        cmd.add("-bios", loader.path)
    elif kind == "pflash" and loader.attrs.get("secure") == "yes":
        cmd.add("-global", "driver=cfi.pflash01,property=secure,value=on")


def _smp(cmd: Cmd) -> None:
    """qemuBuildSmpCommandLine."""
    defn = cmd.defn
    opt = str(defn.vcpus_current)
    if defn.vcpus_current != defn.vcpus_max:
        opt += f",maxcpus={defn.vcpus_max}"
    topo = defn.cpu.find("topology") if defn.cpu is not None else None
    if topo is not None and topo.attrs.get("sockets"):
        a = topo.attrs
        opt += f",sockets={a['sockets']},dies={a.get('dies', '1')},cores={a.get('cores', '1')}" \
               f",threads={a.get('threads', '1')}"
    else:
        opt += f",sockets={defn.vcpus_max},cores=1,threads=1"
    cmd.add("-smp", opt)


def _iothreads(cmd: Cmd) -> None:
    node = _top(cmd.defn, "iothreadids")
    threads = [n.attrs for n in node.findall("iothread")] if node is not None else \
        [{"id": str(i)} for i in range(1, cmd.defn.iothreads + 1)]
    for attrs in threads:
        props: dict[str, object] = {"qom-type": "iothread", "id": f"iothread{attrs['id']}"}
        for key in ("thread_pool_min", "thread_pool_max"):
            if attrs.get(key):
                props[key.replace("_", "-")] = int(attrs[key])
        cmd.object(props)
    main = _top(cmd.defn, "defaultiothread")
    if main is not None:
        props = {"qom-type": "main-loop", "id": "main-loop"}
        for key in ("thread_pool_min", "thread_pool_max"):
            if main.attrs.get(key):
                props[key.replace("_", "-")] = int(main.attrs[key])
        cmd.object(props)


def _rtc(cmd: Cmd) -> None:
    """qemuBuildClockCommandLine."""
    import time

    defn = cmd.defn
    clock = defn.clock
    attrs = clock.extra.attrs
    if clock.offset == "utc":
        opt = "base=utc"
    elif clock.offset in ("localtime", "timezone"):
        opt = "base=localtime"
        if clock.offset == "timezone" and attrs.get("timezone"):
            cmd.env["TZ"] = attrs["timezone"]
    elif clock.offset == "variable":
        adjust = int(attrs.get("adjustment", "0") or 0)
        if attrs.get("basis") == "localtime":
            adjust += time.localtime().tm_gmtoff
        opt = "base=" + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + adjust))
    elif clock.offset == "absolute":
        opt = "base=" + time.strftime("%Y-%m-%dT%H:%M:%S",
                                      time.gmtime(int(attrs.get("start", "0"))))
    else:
        unsupported(f"unsupported clock offset '{clock.offset}'")
    rtc = _timer(defn, "rtc")
    if rtc is not None:
        track = {"guest": ",clock=vm", "wall": ",clock=host", "realtime": ",clock=rt"}
        opt += track.get(rtc.get("track", ""), "")
        if rtc.get("tickpolicy") == "catchup":
            opt += ",driftfix=slew"
        elif rtc.get("tickpolicy") in ("merge", "discard"):
            unsupported(f"unsupported rtc timer tickpolicy '{rtc['tickpolicy']}'")
    cmd.add("-rtc", opt)
    pit = _timer(defn, "pit")
    if pit is not None and cmd.has("kvm-pit"):
        policy = pit.get("tickpolicy", "delay")
        if policy in ("delay", "discard"):
            cmd.add("-global", f"kvm-pit.lost_tick_policy={policy}")
        elif policy == "merge":
            unsupported("unsupported pit tickpolicy 'merge'")


def _pm(cmd: Cmd) -> None:
    """qemuBuildPMCommandLine: QEMU >= 6.0 has set-action, so always -no-shutdown (the
    driver applies on_reboot='destroy' over QMP, see ``lifecycle_actions``)."""
    from pyvirt.drivers.qemu.addresses import is_q35

    defn = cmd.defn
    if cmd.caps.version >= 6_000_000:
        cmd.add("-no-shutdown")
    elif defn.on_reboot == "destroy":
        cmd.add("-no-reboot")
    else:
        cmd.add("-no-shutdown")
    if _feature_on(defn, "acpi") is not True and cmd.caps.version < 8_000_000:
        cmd.add("-no-acpi")
    pm = _top(defn, "pm")
    for tag, name in (("suspend-to-mem", "disable_s3"), ("suspend-to-disk", "disable_s4")):
        node = pm.find(tag) if pm is not None else None
        if node is None or node.attrs.get("enabled") not in ("yes", "no"):
            continue
        obj = "ICH9-LPC" if is_q35(defn) and cmd.has("ICH9-LPC") else "PIIX4_PM"
        cmd.add("-global", f"{obj}.{name}={1 if node.attrs['enabled'] == 'no' else 0}")


def lifecycle_actions(defn: DomainDef) -> dict[str, str] | None:
    """The QMP set-action arguments the driver sends after start
    (qemuProcessSetupLifecycleActions): reboot is shutdown when on_reboot is destroy."""
    return {"reboot": "shutdown"} if defn.on_reboot == "destroy" else None


def _boot(cmd: Cmd) -> None:
    """qemuBuildBootCommandLine (boot order itself is per device: bootindex)."""
    os_def = cmd.defn.os
    opt = ""
    for _, node in os_def.extra.children:
        if node.tag == "bootmenu" and node.attrs.get("enable") in ("yes", "no"):
            opt += f"menu={'on' if node.attrs['enable'] == 'yes' else 'off'},"
    bios = next((n for _, n in os_def.extra.children if n.tag == "bios"), None)
    if bios is not None and bios.attrs.get("rebootTimeout"):
        opt += f"reboot-timeout={bios.attrs['rebootTimeout']},"
    menu = next((n for _, n in os_def.extra.children if n.tag == "bootmenu"), None)
    if menu is not None and menu.attrs.get("enable") == "yes" and menu.attrs.get("timeout"):
        opt += f"splash-time={menu.attrs['timeout']},"
    cmd.add("-boot", opt + "strict=on")
    for flag, value in (("-kernel", os_def.kernel), ("-initrd", os_def.initrd),
                        ("-append", os_def.cmdline), ("-dtb", os_def.dtb)):
        if value:
            cmd.add(flag, value)


def _check_devices(defn: DomainDef) -> None:
    for tag, attr in (("shmem", "shmems"), ("memory", "memories"),
                      ("crypto", "cryptos"),
                      ("nvram", "nvrams")):
        if getattr(defn.devices, attr):
            unsupported(f"<{tag}> devices are not supported by this QEMU driver yet")


def _compat(cmd: Cmd) -> None:
    """qemuBuildCompatDeprecatedCommandLine for <qemu:deprecation behavior=...>."""
    node = _top(cmd.defn, f"{{{QEMU_NS}}}deprecation")
    behavior = node.attrs.get("behavior") if node is not None else None
    if behavior in (None, "none") or cmd.caps.version < 6_000_000:
        return
    props: dict[str, object] = {"deprecated-output": "hide"}
    if behavior in ("reject", "crash"):
        props["deprecated-input"] = behavior
    cmd.object_arg("-compat", props)


def qemu_namespace(defn: DomainDef) -> tuple[list[str], list[tuple[str, str]]]:
    """<qemu:commandline>: extra arguments and environment variables."""
    args: list[str] = []
    env: list[tuple[str, str]] = []
    for _, node in defn.extra.children:
        if node.tag != f"{{{QEMU_NS}}}commandline":
            continue
        for child in node.children:
            if child.tag == f"{{{QEMU_NS}}}arg":
                args.append(child.attrs.get("value", ""))
            elif child.tag == f"{{{QEMU_NS}}}env":
                env.append((child.attrs.get("name", ""), child.attrs.get("value", "")))
    return args, env


def build_command(defn: DomainDef, caps: EmulatorCaps, ctx: LaunchContext) -> list[str]:
    """QEMU's argv for a definition whose devices have aliases and addresses."""
    from pyvirt.drivers.qemu.addresses import assign_aliases

    assign_aliases(defn)  # devices added with their addresses get theirs too
    cmd = Cmd(defn, caps, ctx)
    _check_devices(defn)
    memory.align_memory(defn)
    chardevs.prepare_channel_paths(cmd)
    boot = disks.boot_indexes(cmd)
    cmd.add(defn.emulator or caps.binary)
    cmd.add("-name", f"guest={escape_comma(defn.name)},debug-threads=on")
    _compat(cmd)
    if ctx.start_paused:
        cmd.add("-S")
    if ctx.master_key:
        cmd.object({"qom-type": "secret", "id": "masterKey0", "format": "raw",
                    "file": ctx.master_key})
    pflash = disks.pflash_args(cmd)
    _machine(cmd, pflash)
    _accel(cmd)
    _tseg(cmd)
    _cpu(cmd)
    _loader(cmd)
    memory.build_memory(cmd)
    _smp(cmd)
    _iothreads(cmd)
    memory.build_numa(cmd)
    cmd.add("-uuid", defn.uuid)
    if defn.genid_requested and defn.genid:
        cmd.device({"driver": "vmgenid", "guid": defn.genid, "id": "vmgenid0"})
    if not defn.devices.graphics:
        cmd.add("-display", "none")
    cmd.add("-no-user-config", "-nodefaults")
    cmd.add("-chardev", f"socket,id=charmonitor,path={escape_comma(ctx.monitor_socket)},"
                        "server=on,wait=off")
    cmd.add("-mon", "chardev=charmonitor,id=monitor,mode=control")
    if ctx.pidfile:
        cmd.add("-pidfile", ctx.pidfile)
    _rtc(cmd)
    _pm(cmd)
    _boot(cmd)
    devices.build_iommu(cmd)
    devices.build_controllers(cmd)
    devices.build_hubs(cmd)
    devices.build_ccid(cmd)
    disks.build_disks(cmd, boot)
    devices.build_filesystems(cmd)
    net.build_nets(cmd, boot)
    chardevs.build_smartcards(cmd)
    chardevs.build_serials(cmd)
    chardevs.build_parallels(cmd)
    chardevs.build_channels(cmd)
    chardevs.build_consoles(cmd)
    devices.build_tpms(cmd)
    devices.build_inputs(cmd)
    graphics.build_audio(cmd)
    graphics.build_graphics(cmd)
    devices.build_videos(cmd)
    devices.build_sounds(cmd)
    devices.build_watchdog(cmd)
    chardevs.build_redirdevs(cmd)
    devices.build_hostdevs(cmd, boot)
    if ctx.incoming:
        cmd.add("-incoming", ctx.incoming)
    devices.build_memballoon(cmd)
    devices.build_rngs(cmd)
    extra_args, _ = qemu_namespace(defn)
    cmd.add(*extra_args)
    cmd.add("-sandbox", SANDBOX)
    devices.build_panics(cmd)
    devices.build_vsock(cmd)
    if ctx.log_timestamps:
        cmd.add("-msg", "timestamp=on")
    return cmd.args


def build_env(defn: DomainDef, ctx: LaunchContext,
              base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment QEMU runs with (virCommandAddEnvPassCommon and the per-domain
    HOME/XDG directories, TZ for clock offset='timezone', <qemu:env>)."""
    src = os.environ if base is None else base
    env = {"LC_ALL": "C",
           "PATH": src.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")}
    for name in ("USER", "LOGNAME"):
        if name in src:
            env[name] = src[name]
    home = ctx.domain_dir
    env["HOME"] = home
    env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    if defn.clock.offset == "timezone" and defn.clock.extra.attrs.get("timezone"):
        env["TZ"] = defn.clock.extra.attrs["timezone"]
    for name, value in qemu_namespace(defn)[1]:
        env[name] = value
    return env
