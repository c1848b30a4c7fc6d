"""dnsmasq's ``--dhcp-script`` for pyvirt's virtual networks (libvirt's leaseshelper).

dnsmasq runs it as ``SCRIPT add|old|del MAC-OR-DUID IP [HOSTNAME]`` with the details in its
environment (``DNSMASQ_*``). It keeps a JSON array of leases, one object per address with
libvirt's keys (``iaid``, ``ip-address``, ``mac-address``, ``hostname``, ``client-id``,
``server-duid``, ``expiry-time``), in the file named by ``PYVIRT_LEASES_STATUS`` (the driver
puts it in dnsmasq's environment). dnsmasq's own lease file has no MAC address for a DHCPv6
lease; dnsmasq gives one to this script (``DNSMASQ_MAC``) when it knows it, so the JSON file is
where networkGetDHCPLeases finds IPv6 leases.

Standard library only: dnsmasq starts it once per lease event, through a small wrapper that
runs this file by path (no import of the pyvirt package, to start fast).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

STATUS_ENV = "PYVIRT_LEASES_STATUS"
LEASE_ACTIONS = ("add", "old", "del")
# dnsmasq's other script events (TFTP transfers, ARP with --script-arp): nothing to record
OTHER_ACTIONS = ("tftp", "arp", "arp-add", "arp-del", "relay-snoop")


def read_status(path: str) -> list[dict[str, Any]]:
    """The leases in ``path``; a missing, empty or garbled file holds none (it is rewritten
    whole on the next event, as libvirt's helper does)."""
    try:
        with open(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    try:
        leases = json.loads(text) if text.strip() else []
    except ValueError:
        return []
    if not isinstance(leases, list):
        return []
    return [le for le in leases if isinstance(le, dict)]


def new_lease(env: Mapping[str, str], mac: str | None, clientid: str | None, ip: str,
              hostname: str | None, iaid: str | None) -> dict[str, Any] | None:
    """virLeaseNew: None without a MAC address (an IPv6 lease dnsmasq could not tie to one)."""
    if not mac:
        return None
    hostname = hostname or env.get("DNSMASQ_OLD_HOSTNAME")
    expires = env.get("DNSMASQ_LEASE_EXPIRES", "0").strip() or "0"
    lease: dict[str, Any] = {}
    if iaid:
        lease["iaid"] = iaid
    lease["ip-address"] = ip
    lease["mac-address"] = mac
    if hostname:
        lease["hostname"] = hostname
    if clientid:
        lease["client-id"] = clientid
    if env.get("DNSMASQ_SERVER_DUID"):
        lease["server-duid"] = env["DNSMASQ_SERVER_DUID"]
    lease["expiry-time"] = int(expires)
    return lease


def apply_event(leases: list[dict[str, Any]], action: str, args: Sequence[str],
                env: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The lease list after one dnsmasq event (``args``: MAC-or-DUID, IP[, HOSTNAME]);
    None when the file need not change."""
    ip = args[1]
    iaid = env.get("DNSMASQ_IAID")
    mac: str | None
    clientid: str | None
    if iaid:  # DHCPv6: the first argument is the client's DUID
        mac, clientid = env.get("DNSMASQ_MAC"), args[0]
    else:
        mac, clientid = args[0], env.get("DNSMASQ_CLIENT_ID")
    hostname = args[2] if len(args) > 2 else env.get("DNSMASQ_SUPPLIED_HOSTNAME")
    lease = None
    if action != "del":
        lease = new_lease(env, mac, clientid, ip, hostname, iaid)
        if lease is None:
            return None  # keep what is known about the address
    kept = [le for le in leases if le.get("ip-address") != ip]
    return kept + [lease] if lease is not None else kept


def write_status(path: str, leases: list[dict[str, Any]]) -> None:
    """Atomically: a reader sees the old list or the new one, never a torn file."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".leases-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(leases, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    env = os.environ if env is None else env
    prog = os.path.basename(argv[0]) if argv else "leaseshelper"
    if len(argv) > 1 and argv[1] in OTHER_ACTIONS:
        return 0
    if len(argv) not in (4, 5):
        print(f"Usage: {prog} add|old|del mac|clientid ip [hostname]\n"
              "Designed for use with 'dnsmasq --dhcp-script'", file=sys.stderr)
        return 1
    action = argv[1]
    if action not in LEASE_ACTIONS:
        print(f"{prog}: Unsupported action: {action}", file=sys.stderr)
        return 1
    path = env.get(STATUS_ENV)
    if not path:
        print(f"{prog}: {STATUS_ENV} not set", file=sys.stderr)
        return 1
    try:
        # one event at a time, also across dnsmasq restarts that overlap an old helper
        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            leases = apply_event(read_status(path), action, argv[2:], env)
            if leases is not None:
                write_status(path, leases)
    except (OSError, ValueError) as exc:
        print(f"{prog}: {path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
