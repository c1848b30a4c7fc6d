"""The host side of a managed network: its bridge device, addresses, sysctls and the route
collision check (libvirt's virnetdevbridge.c, virnetdevip.c and networkCheckRouteCollision),
through iproute2's ``ip`` and /proc."""

from __future__ import annotations

import ipaddress
import os
import subprocess

from pyvirt import constants as c
from pyvirt.conf.network.netdev import default_prefix
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.network import NetworkDef

PROC_NET_ROUTE = "/proc/net/route"


def _ip(*args: str, what: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        detail = proc.stderr.strip().removeprefix("RTNETLINK answers: ")
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"{what}: {detail}", domain=c.VIR_FROM_NONE)


def exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def is_bridge(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def mtu(name: str) -> int:
    try:
        with open(f"/sys/class/net/{name}/mtu") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return 0


def check_route_collision(netdef: NetworkDef) -> None:
    """networkCheckRouteCollision: an IPv4 network of the definition that the host already
    routes to some interface is in use (also catches another network's running bridge)."""
    try:
        with open(PROC_NET_ROUTE) as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return
    nets = [ipaddress.ip_network(f"{ip.address}/{ip.effective_prefix}", strict=False)
            for ip in netdef.ips if ip.address and not ip.is_ipv6 and ip.effective_prefix >= 0]
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            # /proc/net/route prints addresses as host-order hex of network-order bytes
            dest = ipaddress.IPv4Address(bytes.fromhex(fields[1])[::-1])
            mask = ipaddress.IPv4Address(bytes.fromhex(fields[7])[::-1])
        except ValueError:
            continue
        for net in nets:
            if net.network_address == ipaddress.IPv4Address(int(dest) & int(mask)) \
                    and net.netmask == mask:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"Network is already in use by interface {fields[0]}",
                            domain=c.VIR_FROM_NETWORK)


def create(netdef: NetworkDef) -> None:
    """virNetDevBridgeCreate with the network's MAC, then MTU, STP and delay."""
    name = netdef.bridge.name or ""
    args = ["link", "add", "name", name]
    if netdef.mac:
        args += ["address", netdef.mac]
    _ip(*args, "type", "bridge", what=f"error creating bridge interface {name}")
    if netdef.mtu:
        _ip("link", "set", "dev", name, "mtu", str(netdef.mtu),
            what=f"Cannot set interface MTU on '{name}'")
    # delay is in seconds; the kernel counts centiseconds
    _ip("link", "set", "dev", name, "type", "bridge",
        "stp_state", "1" if netdef.bridge.stp else "0",
        "forward_delay", str(netdef.bridge.delay * 100),
        what=f"Unable to set STP on bridge {name}")


def set_ipv6_sysctls(netdef: NetworkDef) -> None:
    """networkSetIPv6Sysctls: no IPv6 on a bridge without IPv6 addresses; never accept
    router advertisements on it."""
    name = netdef.bridge.name or ""
    base = f"/proc/sys/net/ipv6/conf/{name}"
    if not os.path.isdir(base):
        return  # IPv6 is off in this kernel
    has_v6 = any(ip.is_ipv6 for ip in netdef.ips) or netdef.ipv6
    _write_sysctl(f"{base}/disable_ipv6", "0" if has_v6 else "1")
    if has_v6:
        _write_sysctl(f"{base}/accept_ra", "0")
        _write_sysctl(f"{base}/autoconf", "0")


def enable_forwarding(v4: bool, v6: bool) -> None:
    """networkEnableIPForwarding (per network namespace)."""
    if v4:
        _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
    if v6 and os.path.exists("/proc/sys/net/ipv6/conf/all/forwarding"):
        _write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"cannot write to '{path}': {exc.strerror}",
                    domain=c.VIR_FROM_NONE)


def add_addresses(netdef: NetworkDef) -> None:
    name = netdef.bridge.name or ""
    for ip in netdef.ips:
        prefix = ip.effective_prefix
        if prefix < 0:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, f"bridge '{name}' has an invalid netmask or "
                        "IP address in its definition", domain=c.VIR_FROM_NETWORK)
        args = ["addr", "add", f"{ip.address}/{prefix}"]
        if not ip.is_ipv6:
            net = ipaddress.ip_network(f"{ip.address}/{prefix}", strict=False)
            if prefix < 31:
                args += ["broadcast", str(net.broadcast_address)]
        _ip(*args, "dev", name, what=f"Failed to add IP address {ip.address}/{prefix} to "
            f"{name}")


def add_routes(netdef: NetworkDef) -> None:
    """Static <route>s: failures are ignored, as libvirt does (net-destroy still works)."""
    name = netdef.bridge.name or ""
    for route in netdef.routes:
        prefix = default_prefix(route.address, route.netmask, route.prefix)
        subprocess.run(["ip", "route", "add", f"{route.address}/{prefix}", "via",
                        route.gateway, "dev", name, "metric", str(route.metric or 1)],
                       capture_output=True, check=False)


def set_up(name: str, up: bool) -> None:
    _ip("link", "set", "dev", name, "up" if up else "down",
        what=f"Cannot set interface flags on '{name}'")


def delete(name: str) -> None:
    """virNetDevBridgeDelete; a bridge already gone is fine."""
    if exists(name):
        subprocess.run(["ip", "link", "del", "dev", name], capture_output=True, check=False)
