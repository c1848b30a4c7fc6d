"""The network driver for real, inside network namespaces this test creates and removes (the
driver runs in the namespace under ``ip netns exec``; bridges, nftables tables, dnsmasq and
all traffic stay there; the host's own interfaces, routes and firewall are never touched).

One NAT network and a TCG guest with ``<interface type='network'>``: the guest gets a lease
from the network's dnsmasq, the lease shows in networkGetDHCPLeases and ``pyvirsh
net-dhcp-leases`` with the guest's MAC, the guest pings the bridge address; a live net-update
reaches dnsmasq; a second NIC hot-plugged on the network gets a port, a TAP device on the bridge
and a lease; a second driver instance (a restarted process) reconnects to the guest, shows its
ports and bridge in the live XML and detaches that NIC (port and TAP gone); a third finds the
network up; destroy removes bridge, dnsmasq and the nftables table. Bad input leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import pyvirt
from integration.guest import (
    DHCP_MARKER,
    GUEST_APPEND,
    GUEST_PROMPT,
    ensure_test_guest,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 for a network namespace"),
    pytest.mark.skipif(not (os.access("/usr/sbin/dnsmasq", os.X_OK) and shutil.which("nft")),
                       reason="needs dnsmasq and nft"),
]

SRC = str(Path(__file__).resolve().parents[2] / "src")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))
MAC = "52:54:00:6e:77:01"
MAC2 = "52:54:00:6e:77:02"
NIC2 = (f"<interface type='network'><mac address='{MAC2}'/><source network='nat1'/>"
        "<model type='virtio'/></interface>")

# Runs in the namespace; prints one JSON object of observations on its last line.
PRELUDE = """
import json, os, subprocess, sys, threading, time
sys.path.insert(0, {src!r})
import pyvirt

def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout

def links():
    return sorted(l["ifname"] for l in json.loads(sh("ip -j link show") or "[]"))

def tables():
    return sh("nft list tables").split()

def dnsmasqs(root):
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"dnsmasq") and root.encode() in b" ".join(argv):
            out.append(int(pid))
    return out

def err(fn):
    try:
        fn()
        return None
    except pyvirt.libvirtError as exc:
        return [exc.get_error_code(), str(exc)]

root = {root!r}
uri = "qemu:///embed?root=" + root
out = {{}}
"""

NETWORK = """<network><name>nat1</name><forward mode='nat'/><mtu size='1400'/>
  <domain name='pyvirt.test'/>
  <ip address='10.66.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.66.0.100' end='10.66.0.199'/></dhcp>
  </ip></network>"""

GUEST_SCRIPT = PRELUDE + """
conn = pyvirt.open(uri)
net = conn.networkDefineXML({network!r})
net.setAutostart(1)
net.create()
out["xml"] = net.XMLDesc()
out["bridge_up"] = "virbr0" in links()
out["mtu"] = int(open("/sys/class/net/virbr0/mtu").read())
out["tables"] = tables()
out["dnsmasq"] = len(dnsmasqs(root))
guest = '''<domain type='qemu'><name>g1</name><memory unit='MiB'>256</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel>
  <initrd>{initrd}</initrd><cmdline>{append}</cmdline></os><features><acpi/></features>
  <devices><interface type='network'><mac address='{mac}'/><source network='nat1'/>
  <model type='virtio'/></interface><serial type='pty'/><console type='pty'/></devices>
</domain>'''
dom = conn.createXML(guest, 0)
live = dom.XMLDesc()
tap = live.split("<target dev='", 1)[1].split("'", 1)[0]
out["tap_master"] = json.loads(sh(f"ip -j link show {{tap}}"))[0].get("master")
out["tap_mtu"] = json.loads(sh(f"ip -j link show {{tap}}"))[0]["mtu"]
out["ports"] = [p.XMLDesc() for p in net.listAllPorts()]
out["portid_in_live_xml"] = "portid=" in live
out["connections"] = "connections='1'" in net.XMLDesc()
stream = conn.newStream(0)
dom.openConsole(None, stream, 0)
console = bytearray()
def reader():
    while True:
        try:
            chunk = stream.recv(4096)
        except pyvirt.libvirtError:
            return
        if not isinstance(chunk, bytes) or not chunk:
            return
        console.extend(chunk)
threading.Thread(target=reader, daemon=True).start()
def wait_for(text, timeout):
    deadline = time.time() + timeout
    while text not in console.decode(errors="replace") and time.time() < deadline:
        time.sleep(0.2)
    return text in console.decode(errors="replace")
out["guest_lease"] = wait_for({dhcp_marker!r}, 90)
text = console.decode(errors="replace")
out["guest_ip"] = text.split({dhcp_marker!r}, 1)[1].split()[0] if out["guest_lease"] else None
deadline = time.time() + 10
leases = []
while not leases and time.time() < deadline:
    leases = net.DHCPLeases()
    time.sleep(0.2)
out["leases"] = leases
out["leases_by_mac"] = len(net.DHCPLeases({mac!r}))
out["leases_other_mac"] = len(net.DHCPLeases("52:54:00:00:00:01"))
out["bad_mac"] = err(lambda: net.DHCPLeases("nope"))
stream.send(b"\\n")
wait_for({prompt!r}, 30)
stream.send(b"ping -c 2 -W 2 10.66.0.1 && echo PING-$((40 + 2))-OK\\n")
out["ping"] = wait_for("PING-42-OK", 30)
# live DHCP host and DNS record: dnsmasq's hosts files change, dnsmasq keeps its pid (read
# from its pid file: a scan of /proc can also catch the lease helper's short-lived fork)
def dnsmasq_pid():
    pid = int(open(root + "/run/network/nat1.pid").read())
    return pid if pid in dnsmasqs(root) else None
pid = dnsmasq_pid()
net.update(pyvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, pyvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
           -1, "<host mac='52:54:00:6e:77:09' name='fixed' ip='10.66.0.9'/>",
           pyvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE | pyvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG)
net.update(pyvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, pyvirt.VIR_NETWORK_SECTION_DNS_HOST,
           -1, "<host ip='10.66.0.50'><hostname>db</hostname></host>",
           pyvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE)
out["hostsfile"] = open(root + "/lib/dnsmasq/nat1.hostsfile").read()
out["addnhosts"] = open(root + "/lib/dnsmasq/nat1.addnhosts").read()
out["dnsmasq_kept"] = pid is not None and dnsmasq_pid() == pid
out["config_has_host"] = "10.66.0.9" in net.XMLDesc(pyvirt.VIR_NETWORK_XML_INACTIVE)
# what dnsmasq's lease helper (--dhcp-script) recorded
out["lease_status"] = json.load(open(root + "/lib/dnsmasq/virbr0.status"))
# a second NIC on the network, hot-plugged: a port, a TAP on the bridge, a lease in the guest
dom.attachDeviceFlags({nic2!r}, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
live = dom.XMLDesc()
tap2 = live.split("<target dev='")[2].split("'", 1)[0]
out["tap2_master"] = json.loads(sh(f"ip -j link show {{tap2}}"))[0].get("master")
out["tap2_mtu"] = json.loads(sh(f"ip -j link show {{tap2}}"))[0]["mtu"]
out["ports_hotplugged"] = sorted(p.XMLDesc().split("<mac address='")[1][:17]
                                 for p in net.listAllPorts())
out["connections_2"] = "connections='2'" in net.XMLDesc()
stream.send(b"for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth1 ] && break;"
            b" sleep 1; done; ip link set eth1 up && udhcpc -i eth1 -n -q -T 1 -A 1 -t 20"
            b" -s /usr/share/udhcpc/default.script\\n")
deadline = time.time() + 30
while console.decode(errors="replace").count({dhcp_marker!r}) < 2 and time.time() < deadline:
    time.sleep(0.2)
deadline = time.time() + 10
leases2 = []
while not leases2 and time.time() < deadline:
    leases2 = net.DHCPLeases({mac2!r})
    time.sleep(0.2)
out["leases2"] = leases2
# this process ends as a crashed driver would: the guest runs on for the next one
print(json.dumps(out), flush=True)
os._exit(0)
"""

# A new process: reconnects to the running guest (its status file), detaches the NIC that
# was hot-plugged and destroys the guest; ports and TAP devices go with them.
DETACH_SCRIPT = PRELUDE + """
import re
conn = pyvirt.open(uri)
net = conn.networkLookupByName("nat1")
dom = conn.lookupByName("g1")
out["state"] = dom.state()
live = dom.XMLDesc()
out["sources"] = re.findall(r"<source network=[^>]*>", live)
taps = re.findall(r"<target dev='([^']+)'", live)
out["taps_on_bridge"] = [json.loads(sh(f"ip -j link show {{t}}"))[0].get("master") for t in taps]
dom.detachDeviceFlags({nic2!r}, pyvirt.VIR_DOMAIN_AFFECT_LIVE)
out["interfaces_left"] = dom.XMLDesc().count("<interface")
out["ports_after_detach"] = [p.XMLDesc().split("<mac address='")[1][:17]
                             for p in net.listAllPorts()]
out["connections_1"] = "connections='1'" in net.XMLDesc()
out["tap2_gone"] = taps[1] not in links()
dom.destroy()
out["ports_after_guest"] = len(net.listAllPorts())
out["tap_gone"] = taps[0] not in links()
conn.close()
# pyvirsh opens the same root in a process of its own: only once no guest runs there (two
# processes sharing an embed root would both claim the guest)
out["pyvirsh_leases"] = json.loads(subprocess.run(
    [{pyvirsh!r}, "-c", uri, "net-dhcp-leases", "nat1", "--json"], capture_output=True,
    text=True).stdout or "null")
out["pyvirsh_list"] = subprocess.run([{pyvirsh!r}, "-c", uri, "net-list", "--all"],
                                     capture_output=True, text=True).stdout
print(json.dumps(out))
"""

RESTART_SCRIPT = PRELUDE + """
# a new process: the driver finds the network running and its dnsmasq
conn = pyvirt.open(uri)
net = conn.networkLookupByName("nat1")
out["active"] = net.isActive()
out["autostart"] = net.autostart()
out["dnsmasq"] = len(dnsmasqs(root))
out["bridge"] = net.bridgeName()
net.destroy()
out["links_after"] = links()
out["tables_after"] = tables()
out["dnsmasq_after"] = len(dnsmasqs(root))
out["listed"] = [(n.name(), n.isActive()) for n in conn.listAllNetworks()]
net.undefine()
out["undefined"] = conn.listAllNetworks() == []
conn.close()
print(json.dumps(out))
"""

BAD_INPUT_SCRIPT = PRELUDE + """
conn = pyvirt.open(uri)
subprocess.run("ip link add hostbr type bridge && ip addr add 10.70.0.1/24 dev hostbr"
               " && ip link set hostbr up", shell=True, check=True)
before = (links(), tables())
a = conn.networkCreateXML("<network><name>a</name><forward mode='route'/>"
                          "<ip address='10.71.0.1' prefix='24'/></network>")
out["route_tables"] = tables()
out["overlap_running"] = err(lambda: conn.networkCreateXML(
    "<network><name>b</name><ip address='10.71.0.1' prefix='24'/></network>"))
out["overlap_host"] = err(lambda: conn.networkCreateXML(
    "<network><name>c</name><ip address='10.70.0.5' prefix='24'/></network>"))
out["bridge_of_network"] = err(lambda: conn.networkDefineXML(
    "<network><name>d</name><bridge name='virbr0'/></network>"))
out["bridge_of_host"] = err(lambda: conn.networkCreateXML(
    "<network><name>e</name><bridge name='hostbr'/></network>"))
out["slash"] = err(lambda: conn.networkDefineXML("<network><name>x/y</name></network>"))
a.destroy()
out["same"] = (links(), tables()) == before
out["host_bridge_kept"] = "hostbr" in links()
out["networks"] = [n.name() for n in conn.listAllNetworks()]
out["dnsmasq"] = len(dnsmasqs(root))
out["files"] = sorted(os.listdir(root + "/etc/network")) + sorted(os.listdir(root + "/run/network"))
# forward mode bridge: no dnsmasq, no table, ports name the host's bridge
br = conn.networkCreateXML("<network><name>hb</name><forward mode='bridge'/>"
                           "<bridge name='hostbr'/></network>")
port = br.portCreateXML("<networkport><uuid>7b0b7f4e-0f1a-4c8e-9b2a-2f5a4e5d6c71</uuid>"
                        "<owner><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c"
                        "</uuid></owner><mac address='52:54:00:01:02:03'/></networkport>")
out["bridge_port"] = port.XMLDesc()
port.delete()
out["bridge_ports_after"] = len(br.listAllPorts())
out["bridge_mode_tables"] = tables()
out["bridge_mode_dnsmasq"] = len(dnsmasqs(root))
br.destroy()
out["host_bridge_kept_2"] = "hostbr" in links()
conn.close()
print(json.dumps(out))
"""


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    name = f"pyvirt-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                       check=True)
        yield name
    finally:
        # whatever a failed run left: its dnsmasq processes (found by our root) and the
        # namespace with every device and table in it
        subprocess.run(["ip", "netns", "del", name], check=False)


def _kill_our_dnsmasq(root: Path) -> None:
    for pidfile in (root / "run" / "network").glob("*.pid"):
        try:
            pid = int(pidfile.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if str(root).encode() in fh.read():
                    os.kill(pid, 9)
        except (OSError, ValueError):
            pass


def _kill_our_qemu(root: Path) -> None:
    """A guest a failed run left running: any QEMU whose command line names our root (its
    status file may be gone already)."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            if b"qemu-system" in argv[0] and str(root).encode() in b" ".join(argv):
                os.kill(int(pid), 9)
        except (OSError, ValueError):
            pass


def _run(netns: str, script: str, timeout: int = 240) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[type-arg]
    return result


def test_nat_network_guest_lease_ping_restart_destroy(netns: str, tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    root = tmp_path / "root"
    fmt = dict(src=SRC, root=str(root), network=NETWORK, kernel=kernel, initrd=initrd,
               append=GUEST_APPEND, mac=MAC, dhcp_marker=DHCP_MARKER, prompt=GUEST_PROMPT,
               pyvirsh=PYVIRSH, mac2=MAC2, nic2=NIC2)
    try:
        out = _run(netns, GUEST_SCRIPT.format(**fmt))
        detached = _run(netns, DETACH_SCRIPT.format(**fmt))
        again = _run(netns, RESTART_SCRIPT.format(**fmt))
    finally:
        _kill_our_qemu(root)
        _kill_our_dnsmasq(root)
    assert "<bridge name='virbr0' stp='on' delay='0'/>" in out["xml"]
    assert "<mac address='52:54:00:" in out["xml"]
    assert out["bridge_up"] and out["mtu"] == 1400
    assert "pyvirt_virbr0" in out["tables"]
    assert out["dnsmasq"] == 2  # dnsmasq and the child it keeps to run the lease helper
    assert out["tap_master"] == "virbr0" and out["tap_mtu"] == 1400
    assert len(out["ports"]) == 1 and "<plug type='network' bridge='virbr0'/>" in out["ports"][0]
    assert f"<mac address='{MAC}'/>" in out["ports"][0]
    assert out["portid_in_live_xml"] and out["connections"]
    assert out["guest_lease"], "the guest got no DHCP lease"
    assert out["guest_ip"].startswith("10.66.0.")
    leases = out["leases"]
    assert [(le["mac"], le["ipaddr"], le["iface"], le["prefix"]) for le in leases] == [
        (MAC, out["guest_ip"], "virbr0", 24)]
    assert out["leases_by_mac"] == 1 and out["leases_other_mac"] == 0
    assert out["bad_mac"] == [pyvirt.VIR_ERR_INVALID_MAC, "invalid MAC address: nope"]
    assert out["ping"], "the guest could not ping the bridge"
    assert out["hostsfile"] == "52:54:00:6e:77:09,10.66.0.9,fixed\n"
    assert out["addnhosts"] == "10.66.0.50\tdb\t\n"
    assert out["dnsmasq_kept"], "dnsmasq was restarted by a hosts-file update"
    assert out["config_has_host"]
    assert [(le["mac-address"], le["ip-address"]) for le in out["lease_status"]] == [
        (MAC, out["guest_ip"])]
    # hot-plug: the new NIC's TAP on the bridge, a second port, a lease on it
    assert out["tap2_master"] == "virbr0" and out["tap2_mtu"] == 1400
    assert out["ports_hotplugged"] == [MAC, MAC2] and out["connections_2"]
    assert [(le["mac"], le["ipaddr"][:8]) for le in out["leases2"]] == [(MAC2, "10.66.0.")]
    # the next process: the running guest's live XML names port and bridge, as libvirt's;
    # detach gives the port back and the TAP goes; destroy releases the rest
    assert detached["state"] == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_BOOTED]
    assert len(detached["sources"]) == 2 and all(re.fullmatch(
        r"<source network='nat1' portid='[0-9a-f-]{36}' bridge='virbr0'/>", source)
        for source in detached["sources"])
    assert detached["taps_on_bridge"] == ["virbr0", "virbr0"]
    assert detached["interfaces_left"] == 1 and detached["ports_after_detach"] == [MAC]
    assert detached["connections_1"] and detached["tap2_gone"]
    assert detached["ports_after_guest"] == 0 and detached["tap_gone"]
    assert sorted((r["mac"], r["ipaddr"]) for r in detached["pyvirsh_leases"]) == sorted(
        [(MAC, out["guest_ip"]), (MAC2, out["leases2"][0]["ipaddr"])])
    assert " nat1 " in detached["pyvirsh_list"] and "active" in detached["pyvirsh_list"]
    assert again["active"] == 1 and again["autostart"] == 1 and again["dnsmasq"] == 2
    assert again["bridge"] == "virbr0"
    assert again["links_after"] == ["lo"]
    assert not [t for t in again["tables_after"] if t.startswith("pyvirt_")]
    assert again["dnsmasq_after"] == 0
    assert again["listed"] == [["nat1", 0]] and again["undefined"]


def test_bad_input_leaves_nothing_behind(netns: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    try:
        out = _run(netns, BAD_INPUT_SCRIPT.format(src=SRC, root=str(root)), timeout=60)
    finally:
        _kill_our_dnsmasq(root)
    assert "pyvirt_virbr0" in out["route_tables"]
    assert out["overlap_running"] == [1, "internal error: Network is already in use by "
                                         "interface virbr0"]
    assert out["overlap_host"] == [1, "internal error: Network is already in use by "
                                      "interface hostbr"]
    assert out["bridge_of_network"] == [1, "internal error: bridge name 'virbr0' already in "
                                           "use."]
    assert out["bridge_of_host"][0] == 38
    assert "error creating bridge interface hostbr: File exists" in out["bridge_of_host"][1]
    assert out["slash"] == [35, "invalid char in name: /"]  # as real libvirt
    assert out["same"] and out["host_bridge_kept"]
    assert out["networks"] == [] and out["dnsmasq"] == 0
    # the dirs, the once-per-boot marker and the driver's lock (libvirt's driver.pid)
    assert out["files"] == ["autostart", "autostarted", "driver.pid"]
    assert "<plug type='bridge' bridge='hostbr'/>" in out["bridge_port"]
    assert out["bridge_ports_after"] == 0
    assert out["bridge_mode_tables"] == [] and out["bridge_mode_dnsmasq"] == 0
    assert out["host_bridge_kept_2"]

