"""Character devices on the QEMU command line: ``-chardev`` backends (qemuBuildChardevStr)
and the serial, parallel, channel and console frontends."""

from __future__ import annotations

import os

from pyvirt.drivers.qemu.command_props import (
    Cmd,
    Props,
    address_props,
    escape_comma,
    internal,
    unsupported,
)
from pyvirt.drivers.qemu.process import socket_arg

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.chardevs import ChrDevice, ChrSource

SERIAL_MODELS = {"isa-serial": "isa-serial", "usb-serial": "usb-serial",
                 "pci-serial": "pci-serial", "isa-debug": "isa-debugcon"}


def chardev_arg(cmd: Cmd, src: ChrSource, alias: str, spicevmc: str = "vdagent") -> str:
    """The -chardev value for a source (unix sockets by path: no fd passing); ``spicevmc``
    names the SPICE channel a spicevmc source carries."""
    t = src.type
    if t in ("null", "vc", "pty", "stdio"):
        out = f"{t},id={alias}"
    elif t == "dev":
        backend = "parallel" if alias.startswith("charparallel") else "serial"
        out = f"{backend},id={alias},path={escape_comma(src.path or '')}"
    elif t == "file":
        out = f"file,id={alias},path={escape_comma(src.path or '')}"
        if src.append is not None:
            out += f",append={src.append}"
    elif t == "pipe":
        out = f"pipe,id={alias},path={escape_comma(src.path or '')}"
    elif t == "udp":
        out = (f"udp,id={alias},host={src.connect_host or ''},port={src.connect_service},"
               f"localaddr={src.bind_host or ''},localport={src.bind_service or '0'}")
    elif t == "tcp":
        out = f"socket,id={alias},host={src.host},port={src.service}"
        if src.protocol == "telnet":
            out += ",telnet=on"
        if src.listen:
            out += ",server=on,wait=off"
        out += _reconnect(src)
        if src.tls == "yes":
            unsupported("TLS for TCP character devices is not supported by this driver")
    elif t == "unix":
        # QEMU runs in the guest's run directory: a socket path too long for sun_path is
        # named relative to it (the XML keeps the absolute path)
        path = socket_arg(src.path or "", cmd.ctx.domain_dir)
        out = f"socket,id={alias},path={escape_comma(path)}"
        if src.listen:
            out += ",server=on,wait=off"
        out += _reconnect(src)
    elif t == "spicevmc":
        out = f"spicevmc,id={alias},name={spicevmc}"
    elif t in ("spiceport", "dbus"):
        out = f"{t},id={alias},name={src.channel}"
    elif t == "qemu-vdagent":
        out = f"qemu-vdagent,id={alias},name=vdagent"
        nodes = {node.tag: node.attrs for node in src.vdagent}
        copypaste = nodes.get("clipboard", {}).get("copypaste")
        if copypaste in ("yes", "no"):
            out += f",clipboard={'on' if copypaste == 'yes' else 'off'}"
        mouse = nodes.get("mouse", {}).get("mode")
        if mouse in ("client", "server"):
            out += f",mouse={'on' if mouse == 'client' else 'off'}"
    else:
        unsupported(f"unsupported chardev '{t}'")
    if src.log_file:
        out += f",logfile={escape_comma(src.log_file)}"
        if src.log_append is not None:
            out += f",logappend={src.log_append}"
    return out


def _reconnect(src: ChrSource) -> str:
    rec = src.reconnect
    if rec is None or rec.enabled is None:
        return ""
    return f",reconnect={rec.timeout or 0}" if rec.enabled == "yes" else ",reconnect=0"


def prepare_channel_paths(cmd: Cmd) -> None:
    """qemuDomainPrepareChannel: a virtio unix channel without a path gets one in the
    guest's directory (kept in the live definition)."""
    for chan in cmd.defn.devices.channels:
        src = chan.source
        if chan.type == "unix" and chan.target_type == "virtio" and not src.path:
            name = chan.target_name or chan.info.alias or "channel"
            src.path = os.path.join(cmd.ctx.domain_dir, name)
            src.listen = True


def _has_spice(cmd: Cmd) -> bool:
    return any(g.type == "spice" for g in cmd.defn.devices.graphics)


def _serial_props(cmd: Cmd, serial: ChrDevice) -> Props:
    """qemuBuildSerialChrDeviceProps."""
    model_node = next((n for n in serial.target_children if n.tag == "model"), None)
    model = model_node.attrs.get("name") if model_node is not None else \
        SERIAL_MODELS.get(serial.target_type or "isa-serial")
    if model not in ("isa-serial", "usb-serial", "pci-serial", "isa-debugcon"):
        internal("Invalid target model for serial device")
    if not cmd.has(model):
        unsupported(f"'{model}' is not supported in this QEMU binary")
    props: Props = {"driver": model, "chardev": f"char{serial.info.alias}",
                    "id": serial.info.alias}
    if model == "isa-serial":
        props["index"] = serial.target_port or 0
    return address_props(cmd, props, serial)


def _virtio_port_props(cmd: Cmd, chr_: ChrDevice) -> Props:
    """qemuBuildVirtioSerialPortDevProps."""
    driver = "virtconsole" if chr_.tag == "console" else "virtserialport"
    addr = chr_.info.address
    if addr is not None and addr.type not in ("virtio-serial", "ccw", "", "none"):
        internal("virtio serial device has invalid address type")
    name = chr_.target_name
    if chr_.tag == "channel" and chr_.type == "spicevmc":
        if name and name != "com.redhat.spice.0":
            unsupported(f"Unsupported spicevmc target name '{name}'")
        name = name or "com.redhat.spice.0"
    props: Props = {"driver": driver}
    address_props(cmd, props, chr_)
    props["chardev"] = f"char{chr_.info.alias}"
    props["id"] = chr_.info.alias
    if chr_.tag == "channel" and name:
        props["name"] = name
    return props


def build_serials(cmd: Cmd) -> None:
    for serial in cmd.defn.devices.serials:
        if serial.type == "spiceport" and not _has_spice(cmd):
            continue
        cmd.add("-chardev", chardev_arg(cmd, serial.source, f"char{serial.info.alias}"))
        cmd.device(_serial_props(cmd, serial))


def build_parallels(cmd: Cmd) -> None:
    for par in cmd.defn.devices.parallels:
        cmd.add("-chardev", chardev_arg(cmd, par.source, f"char{par.info.alias}"))
        cmd.device({"driver": "isa-parallel", "chardev": f"char{par.info.alias}",
                    "id": par.info.alias})


def build_channels(cmd: Cmd) -> None:
    for chan in cmd.defn.devices.channels:
        if chan.target_type == "guestfwd":
            char = f"char{chan.info.alias}"
            cmd.add("-chardev", chardev_arg(cmd, chan.source, char))
            addr = chan.target_attrs.get("address", "")
            port = chan.target_attrs.get("port", "")
            cmd.netdev({"type": "user",
                        "guestfwd": [{"str": f"tcp:{addr}:{port}-chardev:{char}"}],
                        "id": chan.info.alias})
            continue
        if chan.target_type != "virtio":
            internal(f"unsupported channel target type '{chan.target_type}'")
        if chan.type in ("spicevmc", "spiceport") and not _has_spice(cmd):
            unsupported(f"chardev '{chan.type}' not supported without spice graphics")
        cmd.add("-chardev", chardev_arg(cmd, chan.source, f"char{chan.info.alias}"))
        cmd.device(_virtio_port_props(cmd, chan))


def build_smartcards(cmd: Cmd) -> None:
    """qemuBuildSmartcardCommandLine: emulated (NSS, certificates) or passthrough cards on
    their CCID controller."""
    from pyvirt.drivers.qemu.command_props import controller_alias

    for card in cmd.defn.devices.smartcards:
        addr = card.info.address
        ccid = addr.controller if addr is not None and addr.type == "ccid" else 0
        bus = f"{controller_alias(cmd.defn, 'ccid', ccid)}.0"
        mode = card.lead_attr[1]
        props: Props
        if mode == "host":
            props = {"driver": "ccid-card-emulated", "backend": "nss-emulated"}
        elif mode == "host-certificates":
            props = {"driver": "ccid-card-emulated", "backend": "certificates"}
            certs = [n.text or "" for _, n in card.extra.children if n.tag == "certificate"]
            for i, cert in enumerate(certs, 1):
                props[f"cert{i}"] = cert
            db = next((n.text for _, n in card.extra.children if n.tag == "database"), None)
            props["db"] = db or "/etc/pki/nssdb"
        elif mode == "passthrough":
            char = f"char{card.info.alias}"
            cmd.add("-chardev", chardev_arg(cmd, card.source, char, "smartcard"))
            props = {"driver": "ccid-card-passthru", "chardev": char}
        else:
            unsupported(f"smartcard mode '{mode}' is not supported")
        props["id"] = card.info.alias
        props["bus"] = bus
        cmd.device(props)


def _usb_version(text: str) -> str:
    """A redirfilter version 'JJ.MM' as the BCD number QEMU's filter takes (0x0110)."""
    if text == "-1":
        return "-1"
    major, _, minor = text.partition(".")
    minor_num = int(minor) * (10 if len(minor) == 1 else 1)
    major_num = int(major)
    bcd = (major_num // 10) << 12 | (major_num % 10) << 8 | (minor_num // 10) << 4 | \
        minor_num % 10
    return f"0x{bcd:04X}"


def build_redirdevs(cmd: Cmd) -> None:
    """qemuBuildRedirdevCommandLine: USB redirection over a character device."""
    rules = []
    for flt in cmd.defn.devices.redirfilters:
        for _, node in flt.extra.children:
            if node.tag != "usbdev":
                continue
            a = node.attrs
            parts = []
            for key, width in (("class", 2), ("vendor", 4), ("product", 4)):
                value = a.get(key, "-1")
                parts.append("-1" if value == "-1" else f"0x{int(value, 0):0{width}X}")
            parts.append(_usb_version(a.get("version", "-1")))
            parts.append("1" if a.get("allow") == "yes" else "0")
            rules.append(":".join(parts))
    for redir in cmd.defn.devices.redirdevs:
        char = f"char{redir.info.alias}"
        cmd.add("-chardev", chardev_arg(cmd, redir.source, char, "usbredir"))
        props: Props = {"driver": "usb-redir", "chardev": char, "id": redir.info.alias}
        if rules:
            props["filter"] = "|".join(rules)
        if redir.info.boot_order:
            props["bootindex"] = redir.info.boot_order
        cmd.device(address_props(cmd, props, redir))


def build_consoles(cmd: Cmd) -> None:
    for con in cmd.defn.devices.consoles:
        if con.target_type == "serial":
            continue  # the first serial port, already built
        if con.target_type != "virtio":
            unsupported(f"unsupported console target type {con.target_type}")
        cmd.add("-chardev", chardev_arg(cmd, con.source, f"char{con.info.alias}"))
        cmd.device(_virtio_port_props(cmd, con))
