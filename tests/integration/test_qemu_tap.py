"""Guest interfaces on TAP devices (type bridge and ethernet), inside a network namespace this
test creates and removes: the driver runs in the namespace, plugs the guest's TAP device
into a bridge made there, and the guest's DHCP requests arrive on it. Never touches the
host's own interfaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from integration.guest import GUEST_APPEND, ensure_test_guest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 for a network namespace"),
    pytest.mark.skipif(not os.access("/usr/bin/qemu-system-x86_64", os.X_OK),
                       reason="qemu-system-x86_64 is missing"),
]

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {src!r})
    import pyvirt

    def links(master=None):
        cmd = "ip -j link show" + (f" master {{master}}" if master else "")
        return {{l["ifname"]: l for l in json.loads(os.popen(cmd).read() or "[]")}}

    conn = pyvirt.open({uri!r})
    out = {{}}
    guest = '''<domain type='qemu'><name>{{name}}</name><memory unit='MiB'>256</memory>
      <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel>
      <initrd>{initrd}</initrd><cmdline>{append}</cmdline></os>
      <devices>{{iface}}</devices></domain>'''
    bridged = ("<interface type='bridge'><mac address='52:54:00:12:34:56'/>"
               "<source bridge='br0'/><model type='virtio'/></interface>")
    dom = conn.createXML(guest.format(name="br", iface=bridged), 0)
    xml = dom.XMLDesc()
    tap = xml.split("<target dev='", 1)[1].split("'", 1)[0]
    out["tap"] = tap
    out["on_bridge"] = tap in links("br0")
    out["tap_mac"] = links()[tap]["address"]
    out["up"] = "UP" in links()[tap]["flags"]
    # the guest's udhcpc sends DHCP discovers through its virtio NIC: the TAP receives them
    t0 = time.time()
    seen = 0
    while time.time() - t0 < 60:
        with open(f"/sys/class/net/{{tap}}/statistics/rx_packets") as fh:
            seen = int(fh.read())
        if seen:
            break
        time.sleep(0.2)
    out["guest_packets"] = seen
    dom.destroy()
    time.sleep(0.2)
    out["tap_gone"] = tap not in links()

    eth = "<interface type='ethernet'><target dev='ptap0'/><model type='virtio'/></interface>"
    dom = conn.createXML(guest.format(name="eth", iface=eth), 0)
    out["ethernet_tap"] = "ptap0" in links() and "ptap0" in dom.XMLDesc()
    dom.destroy()

    for name, iface in (("nonet", "<interface type='network'><source network='default'/>"
                                  "</interface>"),
                        ("nobr", "<interface type='bridge'><source bridge='nosuchbr'/>"
                                 "</interface>")):
        try:
            conn.createXML(guest.format(name=name, iface=iface), 0)
            out[name] = "started"
        except pyvirt.libvirtError as exc:
            out[name] = [exc.get_error_code(), str(exc)]
    out["links_after"] = sorted(links())
    out["active"] = [d.name() for d in conn.listAllDomains()]
    conn.close()
    print(json.dumps(out))
""")


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    name = f"pyvirt-tap-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "br0", "type", "bridge"],
                    ["ip", "link", "set", "br0", "up"]):
            subprocess.run(["ip", "netns", "exec", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_bridge_and_ethernet_interfaces(netns: str, tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    script = SCRIPT.format(src=SRC, uri=f"qemu:///embed?root={tmp_path / 'root'}",
                           kernel=kernel, initrd=initrd, append=GUEST_APPEND)
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tap"].startswith("vnet")
    assert out["on_bridge"] and out["up"]
    assert out["tap_mac"] == "fe:54:00:12:34:56"
    assert out["guest_packets"] > 0
    assert out["tap_gone"]
    assert out["ethernet_tap"]
    assert out["nonet"] == [43, "Network not found: no network with matching name 'default'"]
    assert out["nobr"][0] == 38
    assert "nosuchbr" in out["nobr"][1]
    assert out["links_after"] == ["br0", "lo"]  # no TAP device left behind
    assert out["active"] == []
