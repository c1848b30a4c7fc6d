"""Network interfaces on the QEMU command line: ``-netdev`` backends (user, TAP file
descriptors the driver opened, sockets, vhost-user) and the NIC ``-device``."""

from __future__ import annotations

from pyvirt.drivers.qemu.command_props import (
    Cmd,
    Props,
    address_props,
    escape_comma,
    internal,
    on_off,
    put,
    unsupported,
    virtio_driver,
    xchild,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.interfaces import Interface

_TAP_TYPES = ("network", "bridge", "ethernet", "direct")
_VIRTIO_MODELS = ("virtio", "virtio-transitional", "virtio-non-transitional")


def _source_attr(net: Interface, name: str) -> str | None:
    return net.source.attrs.get(name) if net.source is not None else None


def host_net_props(cmd: Cmd, net: Interface, index: int) -> Props:
    """qemuBuildHostNetProps."""
    alias = net.info.alias or f"net{index}"
    props: Props
    if net.type in _TAP_TYPES:
        fds = cmd.ctx.tap_fds.get(index)
        if not fds:
            internal(f"no TAP device file descriptors for interface {alias} "
                     f"(type '{net.type}')")
        props = {"type": "tap"}
        if len(fds) > 1:
            props["fds"] = ":".join(str(fd) for fd in fds)
        else:
            props["fd"] = str(fds[0])
        vhost = cmd.ctx.vhost_fds.get(index)
        if vhost:
            props["vhost"] = True
            if len(vhost) > 1:
                props["vhostfds"] = ":".join(str(fd) for fd in vhost)
            else:
                props["vhostfd"] = str(vhost[0])
        tune = xchild(net, "tune")
        sndbuf = tune.find("sndbuf") if tune is not None else None
        if sndbuf is not None and sndbuf.text:
            props["sndbuf"] = int(sndbuf.text)
    elif net.type == "user":
        backend = xchild(net, "backend")
        if backend is not None and backend.attrs.get("type") == "passt":
            unsupported("the passt backend of user networking is not supported by this driver")
        props = {"type": "user"}
        for _, node in net.extra.children:
            if node.tag != "ip" or "address" not in node.attrs:
                continue
            addr = node.attrs["address"]
            prefix = node.attrs.get("prefix")
            if node.attrs.get("family") == "ipv6" or ":" in addr:
                props["ipv6-prefix"] = addr
                if prefix:
                    props["ipv6-prefixlen"] = int(prefix)
            else:
                props["net"] = f"{addr}/{prefix}" if prefix else addr
    elif net.type in ("client", "server", "mcast", "udp"):
        props = {"type": "socket"}
        address = _source_attr(net, "address") or ""
        port = _source_attr(net, "port") or ""
        key = {"client": "connect", "server": "listen", "mcast": "mcast", "udp": "udp"}[net.type]
        props[key] = f"{address}:{port}"
        if net.type == "udp" and net.source is not None:
            local = next((ch for ch in net.source.children if ch.tag == "local"), None)
            if local is not None:
                props["localaddr"] = f"{local.attrs.get('address', '')}:" \
                                     f"{local.attrs.get('port', '')}"
    elif net.type == "vhostuser":
        props = {"type": "vhost-user", "chardev": f"char{alias}"}
        drv = xchild(net, "driver")
        queues = int(drv.attrs.get("queues", "0")) if drv is not None else 0
        if queues > 1:
            props["queues"] = queues
    else:
        unsupported(f"unsupported network type '{net.type}'")
    props["id"] = f"host{alias}"
    return props


def nic_props(cmd: Cmd, net: Interface, bootindex: int) -> Props:
    """qemuBuildNicDevProps."""
    model = net.model or "rtl8139"
    drv = xchild(net, "driver")
    if model in _VIRTIO_MODELS:
        props = virtio_driver(cmd, net, "virtio-net", model)
        if drv is not None:
            a = drv.attrs
            put(props, iommu_platform=on_off(a.get("iommu")), ats=on_off(a.get("ats")),
                packed=on_off(a.get("packed")))
            tx = {"iothread": "bh", "timer": "timer"}.get(a.get("txmode", ""))
            queues = int(a.get("queues", "0"))
            put(props, tx=tx, ioeventfd=on_off(a.get("ioeventfd")),
                event_idx=on_off(a.get("event_idx")))
            for side in ("host", "guest"):
                node = drv.find(side)
                if node is None:
                    continue
                for opt in ("csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"):
                    if opt in node.attrs:
                        key = opt if side == "host" and opt in ("csum", "gso", "mrg_rxbuf") \
                            else f"{side}_{opt}"
                        props[key] = on_off(node.attrs[opt])
            if queues > 1:
                props["mq"] = True
                props["vectors"] = 2 * queues + 2
            for name in ("rx_queue_size", "tx_queue_size"):
                if a.get(name):
                    props[name] = int(a[name])
            put(props, rss=on_off(a.get("rss")), hash=on_off(a.get("rss_hash_report")))
        mtu = xchild(net, "mtu")
        if mtu is not None and mtu.attrs.get("size"):
            props["host_mtu"] = int(mtu.attrs["size"])
        teaming = xchild(net, "teaming")
        if teaming is not None and teaming.attrs.get("type") == "persistent":
            props["failover"] = True
    else:
        props = {"driver": model}
    props["netdev"] = f"host{net.info.alias}"
    props["id"] = net.info.alias
    props["mac"] = net.mac
    if bootindex:
        props["bootindex"] = bootindex
    address_props(cmd, props, net)
    rom = xchild(net, "rom")
    if rom is not None:
        if rom.attrs.get("enabled") == "no":
            props["romfile"] = ""
        else:
            if rom.attrs.get("bar") in ("on", "off"):
                props["rombar"] = 1 if rom.attrs["bar"] == "on" else 0
            if rom.attrs.get("file") is not None:
                props["romfile"] = rom.attrs["file"]
    return props


def build_nets(cmd: Cmd, boot: dict[int, int]) -> None:
    """qemuBuildNetCommandLine: each interface's backend, then its NIC."""
    for index, net in enumerate(cmd.defn.devices.interfaces):
        if net.type == "hostdev":
            continue  # formatted with the host devices
        if net.type == "vhostuser":
            path = _source_attr(net, "path") or ""
            mode = _source_attr(net, "mode")
            arg = f"socket,id=char{net.info.alias},path={escape_comma(path)}"
            if mode == "server":
                arg += ",server=on"
            cmd.add("-chardev", arg)
        cmd.netdev(host_net_props(cmd, net, index))
        cmd.device(nic_props(cmd, net, boot.get(id(net), 0)))
