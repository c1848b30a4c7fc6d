"""Virtual network XML (<network>): NetworkDef and its parts.

The names below are loaded on first use (PEP 562): the domain model imports this package's
``xmldoc`` and ``netdev`` modules, and must not pay for the whole network model with them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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

_NETDEV = frozenset({"Bandwidth", "BandwidthRate", "Route", "VirtualPort", "Vlan"})


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(
        "pyvirt.conf.network.netdev" if name in _NETDEV else "pyvirt.conf.network.model")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
