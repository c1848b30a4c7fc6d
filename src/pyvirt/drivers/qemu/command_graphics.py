"""Displays and audio backends on the QEMU command line: ``-audiodev``, ``-vnc``,
``-spice``, ``-display``."""

from __future__ import annotations

import os

from pyvirt.drivers.qemu.command_props import (
    Cmd,
    Props,
    escape_comma,
    internal,
    put,
    require,
    to_json,
    unsupported,
    xattr,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.device import Device
    from pyvirt.conf.domain.graphics import Graphics

# libvirt's qemu.conf defaults (vnc_listen, spice_listen)
DEFAULT_LISTEN = "127.0.0.1"
_AUDIO_DRIVERS = {"none": "none", "alsa": "alsa", "coreaudio": "coreaudio", "jack": "jack",
                  "oss": "oss", "pulseaudio": "pa", "sdl": "sdl", "spice": "spice",
                  "file": "wav", "dbus": "dbus"}


# per backend: the <input>/<output> attributes QEMU takes, (libvirt name, QEMU name, kind)
_AUDIO_IO: dict[str, tuple[tuple[str, str, str], ...]] = {
    "alsa": (("dev", "dev", "s"),),
    "coreaudio": (("bufferCount", "buffer-count", "i"),),
    "jack": (("serverName", "server-name", "s"), ("clientName", "client-name", "s"),
             ("connectPorts", "connect-ports", "s"), ("exactName", "exact-name", "b")),
    "oss": (("dev", "dev", "s"), ("bufferCount", "buffer-count", "i"),
            ("tryPoll", "try-poll", "b")),
    "pulseaudio": (("name", "name", "s"), ("streamName", "stream-name", "s"),
                   ("latency", "latency", "i")),
    "sdl": (("bufferCount", "buffer-count", "i"),),
}


def _audio_io(audio: Device, tag: str, kind: str) -> Props | None:
    """qemuBuildAudioCommonProps plus the backend's own settings of one direction."""
    child = next((n for _, n in audio.extra.children if n.tag == tag), None)
    if child is None:
        return None
    a = child.attrs
    props: Props = {}
    put(props, mixing__engine=_bool(a.get("mixingEngine")),
        fixed__settings=_bool(a.get("fixedSettings")), voices=_int(a.get("voices")),
        buffer__length=_int(a.get("bufferLength")))
    if a.get("fixedSettings") == "yes":
        settings = next((n for n in child.children if n.tag == "settings"), None)
        s = settings.attrs if settings is not None else {}
        put(props, frequency=_int(s.get("frequency")), channels=_int(s.get("channels")),
            format=s.get("format") if s.get("format") != "default" else None)
    for name, key, conv in _AUDIO_IO.get(kind, ()):
        value = a.get(name)
        if value is None:
            continue
        props[key] = _bool(value) if conv == "b" else int(value) if conv == "i" else value
    return props or None


def build_audio(cmd: Cmd) -> None:
    """qemuBuildAudioCommandLine."""
    for audio in cmd.defn.devices.audios:
        kind = xattr(audio, "type") or "none"
        if kind not in _AUDIO_DRIVERS:
            unsupported(f"unsupported audio backend '{kind}'")
        props: Props = {"id": f"audio{xattr(audio, 'id') or 1}", "driver": _AUDIO_DRIVERS[kind]}
        put(props, timer__period=_int(xattr(audio, "timerPeriod")))
        if kind == "oss":
            put(props, try__mmap=_bool(xattr(audio, "tryMMap")),
                exclusive=_bool(xattr(audio, "exclusive")),
                dsp__policy=_int(xattr(audio, "dspPolicy")))
        elif kind == "pulseaudio":
            put(props, server=xattr(audio, "serverName"))
        elif kind == "sdl":
            driver = xattr(audio, "driver")
            if driver:
                cmd.env["SDL_AUDIODRIVER"] = driver
        elif kind == "file":
            put(props, path=xattr(audio, "path"))
        put(props, **{"in": _audio_io(audio, "input", kind),
                      "out": _audio_io(audio, "output", kind)})
        cmd.add("-audiodev", to_json(props))


def _audio_for(cmd: Cmd, gfx: Graphics) -> str:
    node = next((n for _, n in gfx.extra.children if n.tag == "audio"), None)
    wanted = node.attrs.get("id") if node is not None else None
    for audio in cmd.defn.devices.audios:
        if wanted is None or xattr(audio, "id") == wanted:
            return f"audio{xattr(audio, 'id') or 1}"
    internal("unable to find audio backend for sound device")


def _port(cmd: Cmd, index: int, gfx: Graphics) -> int:
    if gfx.autoport or gfx.port in (0, -1):
        port = cmd.ctx.vnc_ports.get(index)
        if port is None:
            if gfx.type == "vnc":
                internal(f"no port allocated for autoport graphics device {index}")
            return 0
        gfx.port = port
    return gfx.port


def _vnc(cmd: Cmd, index: int, gfx: Graphics) -> None:
    """qemuBuildGraphicsVNCCommandLine."""
    audio = _audio_for(cmd, gfx)
    if not gfx.listens:
        internal("missing listen element")
    listen = gfx.listens[0]
    if listen.type == "socket":
        if not listen.socket:
            listen.socket = os.path.join(cmd.ctx.domain_dir, "vnc.sock")
        opt = f"vnc=unix:{escape_comma(listen.socket)}"
    elif listen.type in ("address", "network"):
        port = _port(cmd, index, gfx)
        if not gfx.autoport and not 5900 <= port <= 65535:
            unsupported("vnc port must be in range [5900,65535]")
        if not listen.address:
            listen.address = DEFAULT_LISTEN
        addr = f"[{listen.address}]" if ":" in listen.address else listen.address
        opt = f"{addr}:{port - 5900}"
        websocket = gfx.websocket
        if websocket == -1:
            websocket = cmd.ctx.vnc_websocket_ports.get(index)
            if websocket is None:
                internal(f"no websocket port allocated for graphics device {index}")
            gfx.websocket = websocket
        if websocket:
            opt += f",websocket={websocket}"
    else:
        opt = "none"
    policy = xattr(gfx, "sharePolicy")
    if policy:
        opt += f",share={policy}"
    if gfx.passwd:
        opt += ",password=on"
    power = xattr(gfx, "powerControl")
    if power in ("yes", "no"):
        opt += f",power-control={'on' if power == 'yes' else 'off'}"
    opt += f",audiodev={audio}"
    cmd.add("-vnc", opt)
    keymap = xattr(gfx, "keymap")
    if keymap:
        cmd.add("-k", keymap)


_SPICE_CHANNELS = ("main", "display", "inputs", "cursor", "playback", "record", "smartcard",
                   "usbredir")


def _spice(cmd: Cmd, index: int, gfx: Graphics) -> None:
    """qemuBuildGraphicsSPICECommandLine (TLS when the driver has an x509 directory)."""
    require(cmd, "qxl", "spice graphics are not supported with this QEMU")
    if not gfx.listens:
        internal("missing listen element")
    listen = gfx.listens[0]
    opt: list[str] = []
    secure = insecure = False
    if listen.type == "socket":
        if not listen.socket:
            listen.socket = os.path.join(cmd.ctx.domain_dir, "spice.sock")
        opt.append(f"unix,addr={escape_comma(listen.socket)}")
        insecure = True
    elif listen.type in ("address", "network"):
        port = _port(cmd, index, gfx)
        tls_port = gfx.tls_port
        if tls_port == -1 or (gfx.autoport and cmd.ctx.spice_tls_dir):
            tls_port = cmd.ctx.spice_tls_ports.get(index, 0)
            gfx.tls_port = tls_port
        if port > 0:
            opt.append(f"port={port}")
            insecure = True
        if tls_port > 0:
            if not cmd.ctx.spice_tls_dir:
                unsupported("spice TLS port set in XML configuration, but TLS is disabled in "
                            "qemu.conf")
            opt.append(f"tls-port={tls_port}")
            secure = True
        if port > 0 or tls_port > 0:
            if not listen.address:
                listen.address = DEFAULT_LISTEN
            opt.append(f"addr={listen.address}")
    else:
        opt.append("port=0")
        insecure = True
    mouse = next((n for _, n in gfx.extra.children if n.tag == "mouse"), None)
    if mouse is not None and mouse.attrs.get("mode") in ("server", "client"):
        opt.append("agent-mouse=" + ("off" if mouse.attrs["mode"] == "server" else "on"))
    if not gfx.passwd:
        opt.append("disable-ticketing=on")
    if secure:
        opt.append(f"x509-dir={escape_comma(cmd.ctx.spice_tls_dir or '')}")
    default = xattr(gfx, "defaultMode")
    if default == "secure":
        if not secure:
            unsupported("spice defaultMode secure requested in XML configuration, but TLS "
                        "connection is not available")
        opt.append("tls-channel=default")
    elif default == "insecure":
        if not insecure:
            unsupported("spice defaultMode insecure requested in XML configuration, but "
                        "plaintext connection is not available")
        opt.append("plaintext-channel=default")
    modes = {n.attrs.get("name"): n.attrs.get("mode") for _, n in gfx.extra.children
             if n.tag == "channel"}
    for name in _SPICE_CHANNELS:
        if modes.get(name) == "secure":
            if not secure:
                unsupported("spice secure channels set in XML configuration, but TLS "
                            "connection is not available")
            opt.append(f"tls-channel={name}")
        elif modes.get(name) == "insecure":
            if not insecure:
                unsupported("spice insecure channels set in XML configuration, but "
                            "plaintext connection is not available")
            opt.append(f"plaintext-channel={name}")
    for tag, key, attr in (("image", "image-compression", "compression"),
                           ("jpeg", "jpeg-wan-compression", "compression"),
                           ("zlib", "zlib-glz-wan-compression", "compression"),
                           ("playback", "playback-compression", "compression"),
                           ("streaming", "streaming-video", "mode")):
        comp = next((n for _, n in gfx.extra.children if n.tag == tag), None)
        if comp is not None and comp.attrs.get(attr):
            opt.append(f"{key}={comp.attrs[attr]}")
    for tag, key in (("clipboard", "disable-copy-paste"),
                     ("filetransfer", "disable-agent-file-xfer")):
        flag = next((n for _, n in gfx.extra.children if n.tag == tag), None)
        attr = "copypaste" if tag == "clipboard" else "enable"
        if flag is not None and flag.attrs.get(attr) == "no":
            opt.append(f"{key}=on")
    gl = next((n for _, n in gfx.extra.children if n.tag == "gl"), None)
    if gl is not None and gl.attrs.get("enable") == "yes":
        opt.append("gl=on")
        if gl.attrs.get("rendernode"):
            opt.append(f"rendernode={escape_comma(gl.attrs['rendernode'])}")
    opt.append("seamless-migration=on")
    cmd.add("-spice", ",".join(opt))
    keymap = xattr(gfx, "keymap")
    if keymap:
        cmd.add("-k", keymap)


def build_graphics(cmd: Cmd) -> None:
    """qemuBuildGraphicsCommandLine."""
    for index, gfx in enumerate(cmd.defn.devices.graphics):
        if gfx.type == "vnc":
            _vnc(cmd, index, gfx)
        elif gfx.type == "spice":
            _spice(cmd, index, gfx)
        elif gfx.type == "sdl":
            opt = "sdl"
            gl = next((n for _, n in gfx.extra.children if n.tag == "gl"), None)
            if gl is not None and gl.attrs.get("enable") in ("yes", "no"):
                opt += f",gl={'on' if gl.attrs['enable'] == 'yes' else 'off'}"
            cmd.add("-display", opt)
        elif gfx.type == "egl-headless":
            gl = next((n for _, n in gfx.extra.children if n.tag == "gl"), None)
            node = gl.attrs.get("rendernode") if gl is not None else None
            cmd.add("-display", "egl-headless" + (f",rendernode={escape_comma(node)}"
                                                  if node else ""))
        else:
            unsupported(f"{gfx.type} graphics are not supported with this QEMU")


def _bool(value: str | None) -> bool | None:
    return None if value is None else value == "yes"


def _int(value: str | None) -> int | None:
    return int(value, 0) if value else None
