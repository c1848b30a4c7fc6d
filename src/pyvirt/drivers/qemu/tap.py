"""TAP devices for guest interfaces of type bridge and ethernet (libvirt's virnetdevtap):
the driver opens them, plugs them into their bridge and hands the descriptors to QEMU, so
that QEMU itself needs no privileges. A TAP device goes away when its last descriptor closes,
i.e. when QEMU exits.

Interfaces of type network get a port from the network driver (the connection's secondary
driver, drivers/network/): the port names the bridge to plug into, and is released when the
guest stops (``release_ports``).
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.conf.domain import DomainDef, Interface
    from pyvirt.drivers.secondary import SecondaryDrivers

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFNAMSIZ = 16


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Unable to run 'ip {' '.join(args)}': {proc.stderr.strip()}",
                    domain=c.VIR_FROM_NONE)


def host_mac(guest_mac: str) -> str:
    """The TAP device's own MAC: the guest's with 0xFE first, so that the bridge never
    takes the guest's address as its own (libvirt's rule)."""
    return "fe" + guest_mac[2:]


def open_tap(name: str) -> tuple[int, str]:
    """Create (or attach to) TAP device ``name`` ("vnet%d": the kernel picks the number);
    returns (descriptor, actual name)."""
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Unable to open /dev/net/tun: {exc.strerror}",
                    domain=c.VIR_FROM_NONE)
    request = struct.pack("16sH22x", name.encode()[:IFNAMSIZ - 1],
                          IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
    try:
        answer = fcntl.ioctl(fd, TUNSETIFF, request)
    except OSError as exc:
        os.close(fd)
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Unable to create tap device {name}: {exc.strerror}",
                    domain=c.VIR_FROM_NONE)
    actual = answer[:IFNAMSIZ].split(b"\0", 1)[0].decode()
    return fd, actual


def bridge_exists(bridge: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{bridge}/bridge")


def plug_interfaces(live: DomainDef,
                    secondaries: SecondaryDrivers | None = None) -> dict[int, list[int]]:
    """Open a TAP device for every bridge/ethernet/network interface of ``live``, set its
    MAC, plug it into its bridge and bring it up; the device names go into the live
    definition (<target dev='vnet0'/>), network ports into its <source portid=... bridge=...>.
    Returns interface index -> descriptors for QEMU. On failure every descriptor opened so
    far is closed (their devices vanish with them) and every port released."""
    fds: dict[int, list[int]] = {}
    try:
        for index, iface in enumerate(live.devices.interfaces):
            if iface.type == "network":
                fds[index] = [_plug_network(live, iface, secondaries)]
            elif iface.type in ("bridge", "ethernet"):
                fds[index] = [_plug(iface)]
    except BaseException:
        close_all(fds)
        release_ports(live, secondaries)
        raise
    return fds


def _network_driver(secondaries: SecondaryDrivers | None) -> Any:
    return secondaries.get(c.VIR_FROM_NETWORK) if secondaries is not None else None


def _plug_network(live: DomainDef, iface: Interface,
                  secondaries: SecondaryDrivers | None) -> int:
    """networkAllocatePort through the network driver, then a TAP device on its bridge
    with the network's MTU."""
    assert iface.source is not None
    network = iface.source.network
    networks = _network_driver(secondaries)
    if networks is None:
        raise_error(c.VIR_ERR_NO_NETWORK, f"no network with matching name '{network}'",
                    domain=c.VIR_FROM_NETWORK)
    port, mtu = networks.plug_guest(network, live.name, live.uuid, iface.mac,
                                    iface.source.attrs.get("portgroup"))
    iface.source.attrs["portid"] = port.uuid
    iface.source.attrs["bridge"] = port.bridge
    if port.plug_attrs.get("macTableManager"):
        iface.source.attrs["macTableManager"] = port.plug_attrs["macTableManager"]
    return _plug(iface, port.bridge, mtu)


def release_ports(live: DomainDef, secondaries: SecondaryDrivers | None) -> None:
    """Give back the network ports of ``live``'s interfaces (the guest stopped)."""
    for iface in live.devices.interfaces:
        release_port(iface, secondaries)


def release_port(iface: Interface, secondaries: SecondaryDrivers | None) -> None:
    """Give back the network port of one interface (the guest stopped or it was unplugged);
    its live <source> loses portid= and bridge= with it."""
    if iface.type != "network" or iface.source is None:
        return
    portid = iface.source.attrs.pop("portid", None)
    iface.source.attrs.pop("bridge", None)
    iface.source.attrs.pop("macTableManager", None)
    networks = _network_driver(secondaries)
    if portid and networks is not None:
        networks.unplug_guest(iface.source.network, portid)


def _plug(iface: Interface, bridge: str | None = None, mtu: int = 0) -> int:
    if bridge is None:
        bridge = iface.source.bridge if iface.source is not None else None
    if iface.type == "bridge":
        if not bridge or not bridge_exists(bridge):
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"Cannot get interface MTU on '{bridge}': No such device",
                        domain=c.VIR_FROM_NONE)
    wanted = iface.target_dev or "vnet%d"
    if wanted.startswith(("vnet", "vif", "macvtap", "macvlan")) and "%d" not in wanted:
        wanted = "vnet%d"  # libvirt reserves these prefixes for names it generates
    fd, name = open_tap(wanted)
    try:
        if iface.mac:
            _ip("link", "set", "dev", name, "address", host_mac(iface.mac))
        if mtu:
            _ip("link", "set", "dev", name, "mtu", str(mtu))
        if iface.type in ("bridge", "network"):
            assert bridge is not None
            _ip("link", "set", "dev", name, "master", bridge)
        _ip("link", "set", "dev", name, "up")
    except BaseException:
        os.close(fd)
        raise
    iface.target_dev = name
    return fd


def close_all(fds: dict[int, list[int]]) -> None:
    for group in fds.values():
        for fd in group:
            try:
                os.close(fd)
            except OSError:
                pass
