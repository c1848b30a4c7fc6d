"""<networkport> XML: libvirt 9.0.0's virnetworkportxml2xmldata round trip and the parse
errors."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from libvirt_source import libvirt_tree
from pyvirt import constants as c
from pyvirt.api.connect import virConnect
from pyvirt.conf.network.port import PortDef
from pyvirt.drivers.network.driver import NetworkDriver
from pyvirt.drivers.network.paths import NetworkPaths
from pyvirt.errors import libvirtError

TREE = libvirt_tree()
CASES = sorted(glob.glob(os.path.join(TREE, "tests", "virnetworkportxml2xmldata", "*.xml"))) \
    if TREE else []


@pytest.mark.skipif(not CASES, reason="libvirt's source tree is not available")
@pytest.mark.parametrize("path", CASES, ids=[Path(p).stem for p in CASES])
def test_round_trip(path: str) -> None:
    text = Path(path).read_text()
    assert PortDef.from_xml(text).to_xml() == text


@pytest.mark.parametrize(("xml", "message"), [
    ("<networkport/>", "internal error: network port has no uuid"),
    ("<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid></networkport>",
     "internal error: network port has no owner name"),
    ("<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>v</name>"
     "<uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner><mac address='zz'/>"
     "</networkport>", "internal error: Unable to parse MAC 'zz'"),
    ("<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>v</name>"
     "<uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
     "<mac address='52:54:00:00:00:01'/><plug type='network'/></networkport>",
     "XML error: Missing network port bridge name"),
])
def test_parse_errors(xml: str, message: str) -> None:
    with pytest.raises(libvirtError) as info:
        PortDef.from_xml(xml)
    assert str(info.value) == message


PORT = ("<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>v</name>"
        "<uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
        "<mac address='52:54:00:00:00:01'/>{vport}</networkport>")


@pytest.mark.parametrize(("forward", "vport", "code", "message"), [
    ("<forward mode='vepa'><interface dev='eth0'/></forward>", "",
     c.VIR_ERR_NO_SUPPORT,
     "this function is not supported by the connection driver: networkAllocatePort"),
    ("<forward mode='passthrough'/>", "", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: network 'm' uses a direct mode, but has no forward dev and no "
     "interface pool"),
    ("<forward mode='private'><interface dev='eth0'/></forward>",
     "<virtualport type='openvswitch'/>", c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <virtualport type='openvswitch'> not supported for "
     "network 'm' which uses a macvtap device"),
    ("<forward mode='hostdev'/>", "", c.VIR_ERR_INTERNAL_ERROR,
     "internal error: network 'm' requires exclusive access to interfaces, but none are "
     "available"),
    ("<forward mode='hostdev'><pf dev='eth0'/></forward>", "<virtualport type='midonet'/>",
     c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <virtualport type='midonet'> not supported for network "
     "'m' which uses an SR-IOV Virtual Function via PCI passthrough"),
    ("<forward mode='hostdev'><pf dev='eth0'/></forward>", "", c.VIR_ERR_NO_SUPPORT,
     "this function is not supported by the connection driver: networkAllocatePort"),
    ("<forward mode='bridge'/><bridge name='br9'/>", "<virtualport type='802.1Qbh'/>",
     c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <virtualport type='802.1Qbh'> not supported for network "
     "'m' which uses a bridge device"),
])
def test_ports_on_device_pool_modes(tmp_path: Path, forward: str, vport: str, code: int,
                                    message: str) -> None:
    """Modes whose ports take a host device (macvtap, PCI passthrough): libvirt's checks and
    errors; the device itself is not allocated (VIR_ERR_NO_SUPPORT). Starting such a network
    touches nothing on the host."""
    driver = NetworkDriver(NetworkPaths.for_mode("embed", str(tmp_path)), define_default=False)
    conn = virConnect("qemu:///embed", driver, False)
    net = conn.networkCreateXML(f"<network><name>m</name>{forward}</network>")
    with pytest.raises(libvirtError) as info:
        net.portCreateXML(PORT.format(vport=vport))
    assert (info.value.get_error_code(), str(info.value)) == (code, message)
    assert net.listAllPorts() == []
