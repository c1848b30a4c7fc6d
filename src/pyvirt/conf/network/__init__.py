"""Virtual network XML (<network>): NetworkDef and its parts."""

from pyvirt.conf.network.model import (
    BridgeDef,
    DHCPHost,
    DHCPRange,
    DNSDef,
    DNSForwarder,
    DNSHost,
    DNSSrv,
    DNSTxt,
    ForwardDef,
    ForwardInterface,
    IPDef,
    Lease,
    NatDef,
    NetworkDef,
    PCIAddress,
    PortGroup,
)
from pyvirt.conf.network.netdev import Bandwidth, BandwidthRate, Route, VirtualPort, Vlan

__all__ = [
    "Bandwidth", "BandwidthRate", "BridgeDef", "DHCPHost", "DHCPRange", "DNSDef",
    "DNSForwarder", "DNSHost", "DNSSrv", "DNSTxt", "ForwardDef", "ForwardInterface", "IPDef",
    "Lease", "NatDef", "NetworkDef", "PCIAddress", "PortGroup", "Route", "VirtualPort", "Vlan",
]
