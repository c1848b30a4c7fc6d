"""Firewall rules of a managed network through nftables: one ``inet`` table of pyvirt's own
per network (``pyvirt_<bridge>``), so that removing a network deletes exactly its table and
never touches anyone else's rules.

The rules follow libvirt's iptables rules (bridge_driver_linux.c, viriptables.c): DNS and
DHCP from the guests to the host; guest-to-guest traffic on the bridge; for ``nat``,
outgoing traffic from the network's subnets and replies to it, masqueraded (ports
1024-65535 for TCP/UDP, multicast and broadcast exempt); for ``route``, both directions
without masquerade; anything else from or to the bridge rejected. An ``open`` network gets
no rules; an isolated one only the host services and guest-to-guest traffic.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.network import NetworkDef

NFT = "nft"
TABLE_PREFIX = "pyvirt_"


def table_name(bridge: str) -> str:
    return TABLE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", bridge)


def _q(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _subnets(netdef: NetworkDef) -> list[tuple[str, str]]:
    """(nft address family keyword, subnet) of every <ip> with a usable prefix."""
    out = []
    for ip in netdef.ips:
        prefix = ip.effective_prefix
        if ip.address and prefix >= 0:
            net = ipaddress.ip_network(f"{ip.address}/{prefix}", strict=False)
            out.append(("ip6" if ip.is_ipv6 else "ip", str(net)))
    return out


def _nat_action(netdef: NetworkDef, proto: str | None) -> str:
    nat = netdef.forward.nat if netdef.forward is not None else None
    ports = ""
    if proto is not None:
        low, high = 1024, 65535
        if nat is not None and (nat.port_start or nat.port_end):
            low, high = nat.port_start, nat.port_end
        ports = f":{low}-{high}"
    if nat is not None and nat.address_start:
        addrs = nat.address_start
        if nat.address_end and nat.address_end != nat.address_start:
            addrs += f"-{nat.address_end}"
        return f"snat ip to {addrs}{ports}"
    return f"masquerade to {ports}" if ports else "masquerade"


def ruleset(netdef: NetworkDef) -> str | None:
    """The nft script that creates the network's table, or None when it needs none."""
    mode = netdef.forward_mode
    if mode == "open" or mode not in (None, "nat", "route"):
        return None
    br = _q(netdef.bridge.name or "")
    dev = netdef.forward.dev if netdef.forward is not None else None
    out_dev = f"oifname {_q(dev)} " if dev else ""
    in_dev = f"iifname {_q(dev)} " if dev else ""
    subnets = _subnets(netdef)
    input_rules = [f"iifname {br} udp dport {{ 53, 67, 547 }} accept",
                   f"iifname {br} tcp dport {{ 53, 67 }} accept"]
    output_rules = [f"oifname {br} udp dport {{ 53, 68, 546 }} accept",
                    f"oifname {br} tcp dport 53 accept"]
    forward = [f"iifname {br} oifname {br} accept"]
    nat_rules: list[str] = []
    nat_v6 = bool(netdef.forward and netdef.forward.nat.ipv6)
    for family, net in subnets:
        if mode == "nat" and (family == "ip" or nat_v6):
            forward.append(f"{in_dev}oifname {br} {family} daddr {net} "
                           "ct state related,established accept")
            forward.append(f"iifname {br} {out_dev}{family} saddr {net} accept")
            if family == "ip":
                nat_rules += [f"ip saddr {net} ip daddr 224.0.0.0/24 return",
                              f"ip saddr {net} ip daddr 255.255.255.255/32 return"]
            else:
                nat_rules.append(f"ip6 saddr {net} ip6 daddr ff02::/16 return")
            for proto in ("tcp", "udp", None):
                match = f"meta l4proto {proto} " if proto else ""
                action = _nat_action(netdef, proto) if family == "ip" else (
                    "masquerade to :1024-65535" if proto else "masquerade")
                nat_rules.append(f"{family} saddr {net} {family} daddr != {net} "
                                 f"{out_dev}{match}{action}")
        elif mode in ("nat", "route"):
            forward.append(f"{in_dev}oifname {br} {family} daddr {net} accept")
            forward.append(f"iifname {br} {out_dev}{family} saddr {net} accept")
    forward += [f"iifname {br} reject", f"oifname {br} reject"]
    table = table_name(netdef.bridge.name or "")
    lines = [f"table inet {table} {{",
             "  chain input {", "    type filter hook input priority filter; policy accept;",
             *("    " + r for r in input_rules), "  }",
             "  chain output {", "    type filter hook output priority filter; policy accept;",
             *("    " + r for r in output_rules), "  }",
             "  chain forward {",
             "    type filter hook forward priority filter; policy accept;",
             *("    " + r for r in forward), "  }"]
    if nat_rules:
        lines += ["  chain postrouting {",
                  "    type nat hook postrouting priority srcnat; policy accept;",
                  *("    " + r for r in nat_rules), "  }"]
    lines.append("}")
    # Creating, deleting and re-creating in one transaction replaces a stale table left
    # by a crash, atomically.
    return (f"add table inet {table}\ndelete table inet {table}\n" + "\n".join(lines) + "\n")


def _nft(script: str, what: str) -> None:
    try:
        proc = subprocess.run([NFT, "-f", "-"], input=script, capture_output=True, text=True)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Cannot find '{NFT}' in path: {exc.strerror}",
                    domain=c.VIR_FROM_NONE)
    if proc.returncode != 0:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"{what}: {proc.stderr.strip()}",
                    domain=c.VIR_FROM_NETWORK)


def add_rules(netdef: NetworkDef) -> None:
    script = ruleset(netdef)
    if script is not None:
        _nft(script, f"Failed to add firewall rules for network '{netdef.name}'")


def remove_rules(netdef: NetworkDef) -> None:
    """Delete the network's table if it exists (nothing else is touched)."""
    table = table_name(netdef.bridge.name or "")
    subprocess.run([NFT, "-f", "-"], input=f"add table inet {table}\ndelete table inet {table}\n",
                   capture_output=True, text=True, check=False)
