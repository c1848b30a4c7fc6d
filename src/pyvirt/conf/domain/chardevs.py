"""Character devices (<serial>, <parallel>, <console>, <channel>) and the chardev source
shared with <smartcard>, <redirdev> and the <rng> egd backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain.device import INFO_ORDER, Device
from pyvirt.conf.domain.xnode import Reader, Writer, XNode
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

CHR_TYPES = ("null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix",
             "spicevmc", "spiceport", "nmdm", "qemu-vdagent", "dbus")
TCP_PROTOCOLS = ("raw", "telnet", "telnets", "tls")
CHR_ORDER = ("source", "protocol", "log", "target") + INFO_ORDER


def _tristate(value: str | None, what: str, true: str = "yes", false: str = "no") -> str | None:
    if value is None:
        return None
    if value not in (true, false):
        raise_error(c.VIR_ERR_XML_ERROR,
                    f"Invalid value for attribute '{what}': '{value}'",
                    domain=c.VIR_FROM_DOMAIN)
    return value


@dataclass
class Reconnect:
    """<reconnect>: a character device's socket reconnect policy."""

    enabled: str | None = None
    timeout: int | None = None

    @classmethod
    def parse(cls, src: Element) -> Reconnect | None:
        node = src.find("reconnect")
        if node is None:
            return None
        rec = cls(_tristate(node.get("enabled"), "enabled"))
        if rec.enabled == "yes":
            timeout = node.get("timeout")
            if timeout is None:
                raise_error(c.VIR_ERR_XML_ERROR,
                            "Missing required attribute 'timeout' in element 'reconnect'",
                            domain=c.VIR_FROM_DOMAIN)
            try:
                rec.timeout = int(timeout)
                if rec.timeout < 0:
                    raise ValueError
            except ValueError:
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'timeout' in element 'reconnect': "
                            f"'{timeout}'. Expected non-negative integer value",
                            domain=c.VIR_FROM_DOMAIN)
        return rec

    def format(self, parent: Element) -> None:
        if self.enabled is None:
            return
        el = etree.SubElement(parent, "reconnect")
        el.set("enabled", self.enabled)
        if self.enabled == "yes" and self.timeout is not None:
            el.set("timeout", str(self.timeout))


@dataclass
class ChrSource:
    """The host side of a character device (libvirt's virDomainChrSourceDef)."""

    type: str = "null"
    path: str | None = None
    append: str | None = None
    listen: bool = False  # mode='bind' (tcp, unix)
    host: str | None = None
    service: str | None = None
    tls: str | None = None
    protocol: str = "raw"
    bind_host: str | None = None
    bind_service: str | None = None
    connect_host: str | None = None
    connect_service: str | None = None
    channel: str | None = None
    master: str | None = None
    slave: str | None = None
    reconnect: Reconnect | None = None
    log_file: str | None = None
    log_append: str | None = None
    seclabels: list[XNode] = field(default_factory=list)
    vdagent: list[XNode] = field(default_factory=list)

    @classmethod
    def parse(cls, type_: str, r: Reader, inactive: bool) -> ChrSource:
        src = cls(type=type_)
        sources = r.children("source")
        if len(sources) > 1 and type_ != "udp":
            raise_error(c.VIR_ERR_XML_ERROR,
                        "only one source element is allowed for character device",
                        domain=c.VIR_FROM_DOMAIN)
        if len(sources) > 2:
            raise_error(c.VIR_ERR_XML_ERROR,
                        "only two source elements are allowed for character device",
                        domain=c.VIR_FROM_DOMAIN)
        if sources:
            s = sources[0]
            mode = s.get("mode")
            if mode is not None and mode not in ("bind", "connect"):
                raise_error(c.VIR_ERR_XML_ERROR,
                            f"Invalid value for attribute 'mode' in element 'source': "
                            f"'{mode}'.", domain=c.VIR_FROM_DOMAIN)
            src.seclabels = [XNode.from_element(x) for x in s.findall("seclabel")]
            if type_ in ("file", "dev", "pipe"):
                src.path = s.get("path")
                src.append = _tristate(s.get("append"), "append", "on", "off")
            elif type_ == "pty":
                if not inactive:
                    src.path = s.get("path")
            elif type_ == "unix":
                src.listen = mode == "bind"
                src.path = s.get("path")
                src.reconnect = Reconnect.parse(s)
            elif type_ == "tcp":
                src.listen = mode == "bind"
                src.host = s.get("host")
                src.service = s.get("service")
                src.tls = _tristate(s.get("tls"), "tls")
                src.reconnect = Reconnect.parse(s)
            elif type_ == "udp":
                for node in sources:
                    m = node.get("mode") or "connect"
                    if m == "connect" and not src.connect_host and not src.connect_service:
                        src.connect_host = node.get("host")
                        src.connect_service = node.get("service")
                    elif m == "bind" and not src.bind_host and not src.bind_service:
                        src.bind_host = node.get("host")
                        src.bind_service = node.get("service")
            elif type_ in ("spiceport", "dbus"):
                src.channel = s.get("channel")
            elif type_ == "nmdm":
                src.master = s.get("master")
                src.slave = s.get("slave")
            elif type_ == "qemu-vdagent":
                src.vdagent = [XNode.from_element(x) for x in s if isinstance(x.tag, str)]
        protocol = r.first("protocol")
        if protocol is not None and type_ == "tcp":
            prot = protocol.get("type")
            if prot is not None:
                if prot not in TCP_PROTOCOLS:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Unknown protocol '{prot}'",
                                domain=c.VIR_FROM_DOMAIN)
                src.protocol = prot
        log = r.first("log")
        if log is not None:
            src.log_file = log.get("file")
            src.log_append = _tristate(log.get("append"), "append", "on", "off")
        return src

    def validate(self, channel_autopath: bool = False) -> None:
        def fail(what: str) -> None:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Missing source {what} attribute for char "
                        "device", domain=c.VIR_FROM_DOMAIN)

        t = self.type
        if t in ("file", "dev", "pipe") and not self.path:
            fail("path")
        elif t == "tcp":
            if not self.host:
                fail("host")
            if not self.service:
                fail("service")
        elif t == "udp" and not self.connect_service:
            fail("service")
        elif t == "unix" and not self.path and not channel_autopath:
            fail("path")
        if t in ("tcp", "unix") and self.listen and self.reconnect is not None \
                and self.reconnect.enabled == "yes":
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        "chardev reconnect is possible only for connect mode",
                        domain=c.VIR_FROM_DOMAIN)

    def format(self, w: Writer, inactive: bool) -> None:
        t = self.type

        def source(**attrs: str | None) -> Element:
            el = etree.Element("source")
            for key, value in attrs.items():
                if value is not None:
                    el.set(key, value)
            w.child(el)
            return el

        if t in ("pty", "dev", "file", "pipe"):
            if t != "pty" or (self.path and not inactive):
                el = source(path=self.path, append=self.append if t == "file" else None)
                for lab in self.seclabels:
                    lab.to_element(el)
        elif t == "nmdm":
            source(master=self.master, slave=self.slave)
        elif t == "udp":
            if self.bind_service or self.bind_host:
                source(mode="bind", host=self.bind_host, service=self.bind_service)
            if self.connect_service or self.connect_host:
                source(mode="connect", host=self.connect_host, service=self.connect_service)
        elif t == "tcp":
            el = source(mode="bind" if self.listen else "connect", host=self.host,
                        service=self.service, tls=self.tls)
            if self.reconnect is not None:
                self.reconnect.format(el)
            w.sub("protocol", type=self.protocol)
        elif t == "unix":
            if self.path:
                el = source(mode="bind" if self.listen else "connect", path=self.path)
                for lab in self.seclabels:
                    lab.to_element(el)
                if self.reconnect is not None:
                    self.reconnect.format(el)
        elif t in ("spiceport", "dbus"):
            source(channel=self.channel)
        elif t == "qemu-vdagent" and self.vdagent:
            el = source()
            for node in self.vdagent:
                node.to_element(el)
        if self.log_file:
            w.sub("log", file=self.log_file, append=self.log_append)


def parse_chr_type(r: Reader) -> str:
    t = r.attr("type") or "null"
    if t not in CHR_TYPES:
        raise_error(c.VIR_ERR_XML_ERROR, f"unknown type presented to host for character "
                    f"device: {t}", domain=c.VIR_FROM_DOMAIN)
    return t


@dataclass(kw_only=True)
class ChrDevice(Device):
    """<serial>, <parallel>, <console> or <channel> (``tag`` says which)."""

    ORDER = CHR_ORDER

    type: str = "pty"
    source: ChrSource = field(default_factory=ChrSource)
    target_type: str | None = None
    target_port: int | None = None
    target_attrs: dict[str, str] = field(default_factory=dict)
    target_children: list[XNode] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.tag

    @property
    def path(self) -> str | None:
        return self.source.path

    @property
    def target_name(self) -> str | None:
        return self.target_attrs.get("name")

    def parse(self, r: Reader, inactive: bool) -> None:
        self.type = parse_chr_type(r)
        r.attr("tty")  # derived from the pty path on output
        self.source = ChrSource.parse(self.type, r, inactive)
        tgt = r.first("target")
        if tgt is not None:
            self.target_type = tgt.get("type")
            port = tgt.get("port")
            if port is not None and self.tag != "channel":
                try:
                    self.target_port = int(port)
                except ValueError:
                    raise_error(c.VIR_ERR_XML_ERROR, f"Invalid port number: {port}",
                                domain=c.VIR_FROM_DOMAIN)
            self.target_attrs = {k: v for k, v in tgt.attrib.items()
                                 if k not in ("type",) and
                                 not (k == "port" and self.tag != "channel")}
            if inactive:
                self.target_attrs.pop("state", None)  # runtime state of a virtio channel
            self.target_children = [XNode.from_element(x) for x in tgt
                                    if isinstance(x.tag, str)]

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr("type", self.type)
        if self.tag == "console" and self.type == "pty" and self.source.path and not inactive:
            w.attr("tty", self.source.path)
        self.source.format(w, inactive)
        tgt = etree.Element("target")
        if self.target_type is not None:
            tgt.set("type", self.target_type)
        if self.tag == "channel":
            for key in ("address", "port", "name", "state"):
                if key in self.target_attrs:
                    tgt.set(key, self.target_attrs[key])
        elif self.target_port is not None:
            tgt.set("port", str(self.target_port))
        for key, value in self.target_attrs.items():
            if key not in tgt.attrib:
                tgt.set(key, value)
        for ch in self.target_children:
            ch.to_element(tgt)
        if len(tgt.attrib) or len(tgt) or self.tag != "channel":
            w.child(tgt)

    def validate(self) -> None:
        autopath = self.tag == "channel" and self.target_type in ("xen", "virtio")
        self.source.validate(autopath)


@dataclass(kw_only=True)
class ChrBackedDevice(Device):
    """<smartcard mode='passthrough'> and <redirdev>: a device fed by a chardev source."""

    ORDER = ("source", "protocol", "log") + INFO_ORDER

    type: str = "null"
    source: ChrSource = field(default_factory=ChrSource)
    lead_attr: tuple[str, str | None] = ("", None)

    def parse(self, r: Reader, inactive: bool) -> None:
        lead = "mode" if self.tag == "smartcard" else "bus"
        self.lead_attr = (lead, r.attr(lead))
        if self.tag == "smartcard" and self.lead_attr[1] != "passthrough":
            self.type = ""
            return
        self.type = parse_chr_type(r)
        self.source = ChrSource.parse(self.type, r, inactive)

    def write(self, w: Writer, inactive: bool, secure: bool) -> None:
        w.attr(self.lead_attr[0], self.lead_attr[1])
        if self.type:
            w.attr("type", self.type)
            self.source.format(w, inactive)

    def validate(self) -> None:
        if self.type:
            self.source.validate()
