"""<networkport> XML: libvirt 9.0.0's virnetworkportxml2xmldata round trip and the parse
errors."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from libvirt_source import libvirt_tree
from pyvirt.conf.network.port import PortDef
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
