"""<graphics> devices (VNC typed in full; SPICE/RDP listens typed, other settings kept)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain.device import Device
from pyvirt.conf.domain.xnode import Reader, Writer
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

GRAPHICS_TYPES = ("sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus")
LISTEN_TYPES = ("none", "address", "network", "socket")
GRAPHICS_ORDER = ("listen", "channel", "image", "jpeg", "zlib", "playback",
                  "streaming", "mouse", "clipboard", "filetransfer", "gl", "audio")
# Graphics types whose listen settings libvirt parses.
_LISTENING = ("vnc", "spice", "rdp")


@dataclass
class GraphicsListen:
    """<listen> of a graphics device."""

    type: str = "address"
    address: str | None = None
    network: str | None = None
    socket: str | None = None

    def format(self, inactive: bool) -> Element:
        el = etree.Element("listen")
        el.set("type", self.type)
        if self.address and (self.type == "address" or
                             (self.type == "network" and not inactive)):
            el.set("address", self.address)
        if self.network and self.type == "network":
            el.set("network", self.network)
        if self.socket and self.type == "socket":
            el.set("socket", self.socket)
        return el


@dataclass(kw_only=True)
class Graphics(Device):
    """<graphics>: a VNC, SPICE or other display."""

    TAG = "graphics"
    ORDER = GRAPHICS_ORDER
    SECRET_ATTRS = ("passwd",)

    type: str = "vnc"
    port: int = 0
    tls_port: int = 0
    autoport: bool = False
    websocket: int | None = None
    listens: list[GraphicsListen] = field(default_factory=list)

    @property
    def listen_address(self) -> str | None:
        return self.listens[0].address if self.listens else None

    @property
    def passwd(self) -> str | None:
        return self.extra.attrs.get("passwd")

    @property
    def socket(self) -> str | None:
        first = self.listens[0] if self.listens else None
        return first.socket if first is not None and first.type == "socket" else None

    def parse(self, r: Reader, inactive: bool) -> None:
        self.type = r.attr("type") or ""
        if self.type not in GRAPHICS_TYPES:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unknown graphics device type '{self.type}'",
                        domain=c.VIR_FROM_DOMAIN)
        if self.type in _LISTENING:
            self._parse_listens(r, inactive)
        if self.type == "vnc":
            port = r.attr("port")
            autoport = r.attr("autoport")
            if port is not None:
                try:
                    self.port = int(port)
                except ValueError:
                    raise_error(c.VIR_ERR_INTERNAL_ERROR, f"cannot parse vnc port {port}",
                                domain=c.VIR_FROM_DOMAIN)
                if self.port == -1:  # legacy spelling of autoport
                    if inactive:
                        self.port = 0
                    self.autoport = True
            else:
                self.port = 0
                self.autoport = True
            if autoport in ("yes", "no"):
                self.autoport = autoport == "yes"
                if self.autoport and inactive:
                    self.port = 0
            ws = r.attr("websocket")
            if ws is not None:
                try:
                    self.websocket = int(ws)
                except ValueError:
                    raise_error(c.VIR_ERR_XML_ERROR,
                                f"Invalid value for attribute 'websocket' in element "
                                f"'graphics': '{ws}'. Expected integer value",
                                domain=c.VIR_FROM_DOMAIN)

        elif self.type == "spice":
            self.port = self._int_attr(r, "port")
            self.tls_port = self._int_attr(r, "tlsPort")
            autoport = r.attr("autoport")
            if autoport not in (None, "yes", "no"):
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'autoport' in element 'graphics': "
                            f"'{autoport}'. Expected 'yes' or 'no'", domain=c.VIR_FROM_DOMAIN)
            self.autoport = autoport == "yes"
            if self.port == -1 and self.tls_port == -1:  # legacy spelling of autoport
                self.autoport = True
            if self.autoport and inactive:
                self.port = self.tls_port = 0

    @staticmethod
    def _int_attr(r: Reader, name: str) -> int:
        value = r.attr(name)
        if value is None:
            return 0
        try:
            return int(value)
        except ValueError:
            raise_error(c.VIR_ERR_XML_ERROR,
                        f"Invalid value for attribute '{name}' in element 'graphics': "
                        f"'{value}'. Expected integer value", domain=c.VIR_FROM_DOMAIN)

    def post_parse(self) -> None:
        # spice with no ports and autoport='no' listens nowhere: listen type 'none'
        if self.type == "spice" and self.listens:
            first = self.listens[0]
            if (first.type == "address" and not self.port and not self.tls_port
                    and not self.autoport):
                self.listens[0] = GraphicsListen("none")

    def _parse_listens(self, r: Reader, inactive: bool) -> None:
        el = r.el
        compat_addr = r.attr("listen")
        compat_socket = r.attr("socket") if self.type == "vnc" else None
        for i, node in enumerate(r.children("listen")):
            ltype = node.get("type")
            if ltype is None:
                raise_error(c.VIR_ERR_XML_ERROR,
                            "Missing required attribute 'type' in element 'listen'",
                            domain=c.VIR_FROM_DOMAIN)
            if ltype not in LISTEN_TYPES:
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'type' in element 'listen': "
                            f"'{ltype}'.", domain=c.VIR_FROM_DOMAIN)
            if ltype in ("socket", "none") and self.type not in ("vnc", "spice"):
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                            f"listen type '{ltype}' is not available for graphics type "
                            f"'{self.type}'", domain=c.VIR_FROM_DOMAIN)
            address = node.get("address")
            network = node.get("network")
            sock = node.get("socket")
            if i == 0 and ltype == "address":
                if address and compat_addr and address != compat_addr:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                                f"graphics 'listen' attribute '{compat_addr}' must match "
                                f"'address' attribute of first listen element (found "
                                f"'{address}')", domain=c.VIR_FROM_DOMAIN)
                address = address or compat_addr
            if i == 0 and ltype == "socket":
                if sock and compat_socket and sock != compat_socket:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                                f"graphics 'socket' attribute '{compat_socket}' must match "
                                f"'socket' attribute of first listen element (found "
                                f"'{sock}')", domain=c.VIR_FROM_DOMAIN)
                sock = sock or compat_socket
            listen = GraphicsListen(ltype)
            if address and (ltype == "address" or (ltype == "network" and not inactive)):
                listen.address = address
            if network:
                if ltype != "network":
                    raise_error(c.VIR_ERR_XML_ERROR, "'network' attribute is valid only for "
                                "listen type 'network'", domain=c.VIR_FROM_DOMAIN)
                listen.network = network
            if sock:
                if ltype != "socket":
                    raise_error(c.VIR_ERR_XML_ERROR, "'socket' attribute is valid only for "
                                "listen type 'socket'", domain=c.VIR_FROM_DOMAIN)
                listen.socket = sock
            self.listens.append(listen)
        if compat_socket:
            compat = GraphicsListen("socket", socket=compat_socket)
        else:
            compat = GraphicsListen("address", address=compat_addr or None)
        if not self.listens:
            self.listens.append(compat)
        elif self.listens[0].type in ("address", "network") and compat.type == "socket":
            self.listens[0] = compat
        del el  # only the reader's view is needed

    def validate(self) -> None:
        for listen in self.listens:
            if listen.type == "network" and not listen.network:
                raise_error(c.VIR_ERR_XML_ERROR, "'network' attribute is required for "
                            "listen type 'network'", domain=c.VIR_FROM_DOMAIN)

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("type", self.type)
        first = self.listens[0] if self.listens else None
        if self.type == "vnc" and first is not None:
            if first.type == "socket":
                w.attr("socket", first.socket)
            elif first.type in ("address", "network"):
                if self.port and (not self.autoport or not inactive):
                    w.attr("port", self.port)
                elif self.autoport:
                    w.attr("port", -1)
                w.attr("autoport", "yes" if self.autoport else "no")
                w.attr("websocket", self.websocket or None)
                w.attr("listen", self._compat_addr(first, inactive))
        elif self.type == "spice" and first is not None:
            if first.type in ("address", "network"):
                w.attr("port", self.port or None)
                w.attr("tlsPort", self.tls_port or None)
                w.attr("autoport", "yes" if self.autoport else "no")
                w.attr("listen", self._compat_addr(first, inactive))
            elif first.type == "socket" and self.autoport:
                w.attr("autoport", "yes")
        elif self.type == "rdp" and first is not None:
            # port/autoport precede the legacy listen attribute
            for key in ("port", "autoport", "replaceUser", "multiUser"):
                if key in self.extra.attrs:
                    w.attr(key, self.extra.attrs[key])
            w.attr("listen", self._compat_addr(first, inactive))
        for listen in self.listens:
            w.child(listen.format(inactive))

    @staticmethod
    def _compat_addr(first: GraphicsListen, inactive: bool) -> str | None:
        if first.type == "network" and inactive:
            return None
        return first.address
