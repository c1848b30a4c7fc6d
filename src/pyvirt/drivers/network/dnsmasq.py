"""One dnsmasq per virtual network: its configuration (libvirt's networkDnsmasqConfContents,
checked against libvirt's networkxml2confdata corpus), its hosts files, the process, and the
leases it hands out.

Configuration is pure text generation (``build_config``); the process side spawns
``/usr/sbin/dnsmasq --conf-file=... --dhcp-leasefile=...``, which daemonises and writes its
pid file, and is found again after a restart by that pid file (checked against
/proc/PID/cmdline, so a recycled pid is never signalled).

Leases: dnsmasq keeps its own lease file and also runs pyvirt's lease helper
(``--dhcp-script``, leaseshelper.py) on every lease event; the helper keeps libvirt's JSON
status file (``BRIDGE.status``), which has what dnsmasq's file lacks for DHCPv6: the client's
MAC address. At its start dnsmasq replays its lease file to the helper, so the JSON file
follows dnsmasq's own. A dnsmasq started without the helper (by an older pyvirt) has only its
lease file, which is then read for the IPv4 leases.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

from pyvirt import constants as c
from pyvirt.drivers.network import leaseshelper
from pyvirt.errors import raise_error
from pyvirt.fileutil import atomic_write, remove_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from pyvirt.conf.network import DHCPHost, IPDef, Lease, NetworkDef

DNSMASQ = "/usr/sbin/dnsmasq"
HELPER_NAME = "pyvirt-leaseshelper"
_NET_ERR = c.VIR_FROM_NETWORK


def _fail(code: int, detail: str) -> NoReturn:
    raise_error(code, detail, domain=_NET_ERR)


def _xml_escape(text: str) -> str:
    """virBufferEscapeString's escaping, which libvirt applies to the hosts file names."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


class DnsmasqFiles:
    """The files of one network's dnsmasq (libvirt's dnsmasqContext plus the conf, pid and
    lease files)."""

    def __init__(self, name: str, dnsmasq_dir: str, state_dir: str) -> None:
        self.dnsmasq_dir = dnsmasq_dir
        base = os.path.join(dnsmasq_dir, _xml_escape(name))
        self.hostsfile = base + ".hostsfile"
        self.addnhosts = base + ".addnhosts"
        self.conf = os.path.join(dnsmasq_dir, name + ".conf")
        self.leases = os.path.join(dnsmasq_dir, name + ".leases")
        self.pidfile = os.path.join(state_dir, name + ".pid")

        self.helper = os.path.join(dnsmasq_dir, HELPER_NAME)

    def status(self, bridge: str) -> str:
        """The lease helper's JSON file (libvirt's custom lease file, named by bridge)."""
        return os.path.join(self.dnsmasq_dir, bridge + ".status")

    def all(self) -> tuple[str, ...]:
        return (self.hostsfile, self.addnhosts, self.conf, self.leases, self.pidfile)


# ---- configuration --------------------------------------------------------------------------


def lease_time(lease: Lease | None) -> str | None:
    """networkBuildDnsmasqLeaseTime: "infinite" or the number with the unit's first letter."""
    if lease is None:
        return None
    if lease.expiry == 0:
        return "infinite"
    return f"{lease.expiry}{lease.unit[0]}"


def dhcp_host_line(host: DHCPHost, ipv6: bool) -> str:
    """One dhcp-hostsfile line (virdnsmasq's hostsfileAdd)."""
    ip = host.ip or ""
    if ipv6:
        if host.name and host.id:
            text = f"id:{host.id},{host.name}"
        elif host.name:
            text = host.name
        elif host.id:
            text = f"id:{host.id}"
        else:
            text = ""
        text += f",[{ip}]"
    elif host.name and host.mac:
        text = f"{host.mac},{ip},{host.name}"
    elif host.name:
        text = f"{host.name},{ip}"
    else:
        text = f"{host.mac},{ip}"
    lease = lease_time(host.lease)
    return f"{text},{lease}" if lease else text


def _range_size(start: str, end: str) -> int:
    return int(ipaddress.ip_address(end)) - int(ipaddress.ip_address(start)) + 1


def _ptr_domain(ip: IPDef) -> str:
    """virSocketAddrPTRDomain for a localPtr='yes' address."""
    addr = ipaddress.ip_address(ip.address or "")
    prefix = ip.effective_prefix
    if addr.version == 4:
        if prefix <= 0 or prefix >= 32 or prefix % 8:
            _fail(c.VIR_ERR_CONFIG_UNSUPPORTED, f"PTR domain for IPv4 network with prefix "
                  f"{prefix} cannot be automatically created")
        octets = str(addr).split(".")[: prefix // 8]
        return ".".join(reversed(octets)) + ".in-addr.arpa"
    if prefix <= 0 or prefix >= 128 or prefix % 4:
        _fail(c.VIR_ERR_CONFIG_UNSUPPORTED, f"PTR domain for IPv6 network with prefix "
              f"{prefix} cannot be automatically created")
    nibbles = addr.exploded.replace(":", "")[: prefix // 4]
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


def _srv_line(srv: Any) -> str:
    line = f"srv-host=_{srv.service}._{srv.protocol}"
    if srv.domain:
        line += f".{srv.domain}"
    # An empty or "." target means "no such service here": position-dependent fields go.
    if srv.target and srv.target != ".":
        line += f",{srv.target}"
        if srv.port or srv.priority or srv.weight:
            line += f",{srv.port or 1}"
        if srv.priority or srv.weight:
            line += f",{srv.priority}"
        if srv.weight:
            line += f",{srv.weight}"
    return line


def _dhcp_lines(ip: IPDef, bridge: str, hosts: list[str]) -> tuple[list[str], int]:
    """networkDnsmasqConfDHCP: the ranges, static hosts and options of one <ip>; returns
    (lines, number of leases its ranges hold)."""
    lines: list[str] = []
    prefix = ip.effective_prefix
    if prefix < 0:
        _fail(c.VIR_ERR_INTERNAL_ERROR, f"bridge '{bridge}' has an invalid prefix")
    leases = 0
    for rng in ip.ranges:
        if ip.is_ipv6:
            line = f"dhcp-range={rng.start},{rng.end},{prefix}"
        else:
            netmask = ipaddress.ip_network(f"0.0.0.0/{prefix}").netmask
            line = f"dhcp-range={rng.start},{rng.end},{netmask}"
        lease = lease_time(rng.lease)
        lines.append(f"{line},{lease}" if lease else line)
        leases += _range_size(rng.start, rng.end)
    if not ip.ranges and ip.hosts:
        # static-only DHCP still needs a dhcp-range to switch the service on
        line = f"dhcp-range={ip.address},static"
        lines.append(f"{line},{prefix}" if ip.is_ipv6 else line)
    hosts.extend(dhcp_host_line(h, ip.is_ipv6) for h in ip.hosts if h.ip)
    if not ip.is_ipv6:
        if ip.ranges or ip.hosts:
            lines += ["dhcp-no-override", "dhcp-authoritative"]
        if ip.bootp_file:
            if ip.bootp_server:
                lines.append(f"dhcp-boot={ip.bootp_file},,{ip.bootp_server}")
            else:
                lines.append(f"dhcp-boot={ip.bootp_file}")
    return lines, leases


def addn_hosts_text(netdef: NetworkDef) -> str:
    """The addn-hosts file: the <dns><host> records, names of one address on one line
    (virdnsmasq's addnhostsWrite: tab after every field)."""
    by_ip: dict[str, list[str]] = {}
    for host in netdef.dns.hosts:
        if host.ip:
            by_ip.setdefault(host.ip, []).extend(host.hostnames)
    return "".join(ip + "\t" + "".join(n + "\t" for n in names) + "\n"
                   for ip, names in by_ip.items())


def build_config(netdef: NetworkDef, files: DnsmasqFiles,
                 pidfile: str | None = None) -> tuple[str, str | None]:
    """The dnsmasq configuration of ``netdef`` and its dhcp-hostsfile content (None when
    there is no static host), as libvirt 9.0 writes them."""
    dns = netdef.dns
    want_dns = dns.enable is not False
    out = [
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE",
        "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:",
        f"##    virsh net-edit {netdef.name}",
        "## or other application using the libvirt API.",
        "##",
        "## dnsmasq conf file created by libvirt",
        "strict-order",
    ]
    if not want_dns:
        out.append("port=0")  # no DNS: dnsmasq listens on no port
    if want_dns and dns.forwarders:
        no_resolv = False
        for fwd in dns.forwarders:
            line = "server=" + (f"/{fwd.domain}/" if fwd.domain else "")
            if fwd.addr:
                out.append(line + fwd.addr)
                no_resolv = no_resolv or not fwd.domain
            else:
                out.append(line + "#")  # "resolve this domain locally only"
        if no_resolv:
            out.append("no-resolv")
    if netdef.domain:
        if netdef.domain_local_only:
            out.append(f"local=/{netdef.domain}/")
        out += [f"domain={netdef.domain}", "expand-hosts"]
    if want_dns:
        out += [f"local=/{_ptr_domain(ip)}/" for ip in netdef.ips if ip.local_ptr]
    if want_dns and dns.forward_plain_names is False:
        out += ["domain-needed", "local=//"]
    if pidfile:
        out.append(f"pid-file={pidfile}")
    # bind-dynamic with only interface= answers nothing arriving from elsewhere
    # (CVE-2012-3411); dnsmasq always listens on lo unless told not to.
    out += ["except-interface=lo", "bind-dynamic", f"interface={netdef.bridge.name}"]
    if netdef.forward is None:
        # isolated: no default route, no upstream DNS, and RAs that announce no route
        out += ["dhcp-option=3", "no-resolv", "ra-param=*,0,0"]
    if want_dns:
        out += [f"txt-record={t.name},{t.value}" for t in dns.txts]
        out += [_srv_line(s) for s in dns.srvs]
    ipv4def: IPDef | None = None
    ipv6def: IPDef | None = None
    tftp_enabled = False
    for ip in netdef.ips:
        has_dhcp = bool(ip.ranges or ip.hosts)
        if not ip.is_ipv6:
            if has_dhcp:
                if ipv4def is not None:
                    _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                          "For IPv4, multiple DHCP definitions cannot be specified.")
                ipv4def = ip
            if ip.tftp_root:
                if not tftp_enabled:
                    out.append("enable-tftp")
                    tftp_enabled = True
                out.append(f"tftp-root={ip.tftp_root}")
        elif has_dhcp:
            if ipv6def is not None:
                _fail(c.VIR_ERR_CONFIG_UNSUPPORTED,
                      "For IPv6, multiple DHCP definitions cannot be specified.")
            ipv6def = ip
    hosts: list[str] = []
    leases = 0
    for dhcp_ip in (ipv4def, ipv6def):
        if dhcp_ip is not None:
            lines, count = _dhcp_lines(dhcp_ip, netdef.bridge.name or "", hosts)
            out += lines
            leases += count
    if leases > 0:
        out.append(f"dhcp-lease-max={leases}")
    if ipv4def or ipv6def:
        out.append(f"dhcp-hostsfile={files.hostsfile}")
    if want_dns:
        out.append(f"addn-hosts={files.addnhosts}")
    if netdef.mtu:
        out.append(f"dhcp-option=option:mtu,{netdef.mtu}")
    if ipv6def is not None:
        out.append("enable-ra")
    else:
        out += [f"dhcp-range={ip.address},ra-only" for ip in netdef.ips
                if ip.is_ipv6 and not (ip.ranges or ip.hosts)]
    out += netdef.dnsmasq_options
    hostsfile = "".join(h + "\n" for h in hosts) if hosts else None
    return "\n".join(out) + "\n", hostsfile


def needs_dnsmasq(netdef: NetworkDef) -> bool:
    """libvirt starts dnsmasq for a managed bridge with any IP address."""
    return bool(netdef.ips)


# ---- the process ------------------------------------------------------------------------------


def write_host_files(netdef: NetworkDef, files: DnsmasqFiles) -> None:
    """The files dnsmasq re-reads on SIGHUP (world-readable: dnsmasq has dropped root)."""
    _, hostsfile = build_config(netdef, files)
    atomic_write(files.hostsfile, hostsfile or "", mode=0o644, durable=False)
    atomic_write(files.addnhosts, addn_hosts_text(netdef), mode=0o644, durable=False)


def start(netdef: NetworkDef, files: DnsmasqFiles) -> int:
    """Write the configuration and run dnsmasq; returns its pid once it has daemonised."""
    os.makedirs(files.dnsmasq_dir, mode=0o755, exist_ok=True)
    conf, _ = build_config(netdef, files, files.pidfile)
    atomic_write(files.conf, conf, mode=0o600, durable=False)
    write_host_files(netdef, files)
    write_helper(files)
    remove_quietly(files.pidfile)
    argv = [DNSMASQ, f"--conf-file={files.conf}", f"--dhcp-leasefile={files.leases}",
            f"--dhcp-script={files.helper}"]
    # dnsmasq hands its environment down to the helper: where this network's leases go
    env = dict(os.environ)
    env[leaseshelper.STATUS_ENV] = files.status(netdef.bridge.name or "")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, env=env)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Cannot find '{DNSMASQ}' in path: {exc.strerror}",
                    domain=c.VIR_FROM_NONE)
    if proc.returncode != 0:
        raise_error(c.VIR_ERR_INTERNAL_ERROR,
                    f"Child process ({' '.join(argv)}) unexpected exit status "
                    f"{proc.returncode}: {proc.stderr.strip()}", domain=c.VIR_FROM_NONE)
    pid = read_pid(files)
    if pid is None:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"dnsmasq wrote no pid file {files.pidfile}",
                    domain=_NET_ERR)
    assert pid is not None
    return pid


def write_helper(files: DnsmasqFiles) -> None:
    """The executable dnsmasq runs for lease events: this Python running leaseshelper.py by
    path (isolated, without site packages: it needs the standard library only)."""
    python = sys.executable or "/usr/bin/python3"
    text = (f"#!{python} -IS\n"
            "# dnsmasq's --dhcp-script for pyvirt's virtual networks (written by pyvirt)\n"
            "import runpy\n"
            f"runpy.run_path({leaseshelper.__file__!r}, run_name='__main__')\n")
    atomic_write(files.helper, text, mode=0o755, durable=False)


def read_pid(files: DnsmasqFiles) -> int | None:
    """The pid in the pid file if that process is our dnsmasq for this configuration."""
    for _ in range(50):  # the daemon writes its pid file just after the parent exits
        try:
            with open(files.pidfile) as fh:
                text = fh.read().strip()
            break
        except FileNotFoundError:
            time.sleep(0.01)
    else:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    return pid if is_ours(pid, files) else None


def is_ours(pid: int, files: DnsmasqFiles) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return (bool(argv) and os.path.basename(argv[0]) == b"dnsmasq"
            and f"--conf-file={files.conf}".encode() in argv)


def reload(pid: int) -> None:
    """SIGHUP: dnsmasq re-reads its hosts files (networkRefreshDhcpDaemon)."""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        pass


def stop(pid: int | None, files: DnsmasqFiles) -> None:
    """SIGTERM, then SIGKILL if it lingers; only a pid that is still our dnsmasq."""
    if pid is not None and is_ours(pid, files):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and is_ours(pid, files):
            time.sleep(0.01)
        if is_ours(pid, files):
            os.kill(pid, signal.SIGKILL)
    remove_quietly(files.pidfile)


def remove_files(files: DnsmasqFiles, bridge: str | None) -> None:
    """networkRemoveInactive: dnsmasq's files, its leases and the helper's go with the
    network."""
    for path in files.all():
        remove_quietly(path)
    if bridge:
        remove_quietly(files.status(bridge))
        remove_quietly(files.status(bridge) + ".lock")


# ---- leases ---------------------------------------------------------------------------------


def read_leases(path: str) -> list[dict[str, Any]]:
    """The IPv4 leases of dnsmasq's lease file ("expiry mac ip hostname client-id" lines;
    IPv6 lines carry no MAC address and are left out, as libvirt reports none without one).
    Expired leases are dropped."""
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Unable to read leases file: {path}: {exc.strerror}", domain=_NET_ERR)
    now = int(time.time())
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[0] == "duid" or not fields[0].isdigit():
            continue
        expiry, mac, ip, hostname, clientid = fields[:5]
        if ":" in ip or mac.count(":") != 5:
            continue
        if int(expiry) and int(expiry) < now:
            continue
        out.append({"expirytime": int(expiry), "mac": mac.lower(), "ipaddr": ip,
                    "hostname": None if hostname == "*" else hostname,
                    "clientid": None if clientid == "*" else clientid})
    return out


def read_status_leases(path: str) -> list[dict[str, Any]] | None:
    """The lease helper's JSON file as networkGetDHCPLeases reads it (libvirt's checks and
    wording); None when there is no such file."""
    try:
        with open(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Unable to read leases file: {path}: {exc.strerror}", domain=_NET_ERR)
    if not text:
        return []
    try:
        leases = json.loads(text)
    except ValueError:
        _fail(c.VIR_ERR_INTERNAL_ERROR, f"invalid json in file: {path}")
    if not isinstance(leases, list):
        _fail(c.VIR_ERR_INTERNAL_ERROR, "Malformed lease_entries array")
    for lease in leases:
        if not isinstance(lease, dict):
            _fail(c.VIR_ERR_INTERNAL_ERROR, "failed to parse json")
        if not isinstance(lease.get("mac-address"), str):
            _fail(c.VIR_ERR_INTERNAL_ERROR, "found lease without mac-address")
        if not isinstance(lease.get("expiry-time"), int):
            _fail(c.VIR_ERR_INTERNAL_ERROR, "found lease without expiry-time")
        if not isinstance(lease.get("ip-address"), str):
            _fail(c.VIR_ERR_INTERNAL_ERROR, "found lease without ip-address")
    return leases
