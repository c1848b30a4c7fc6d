"""pyvirt.rpc.handles: pyvirt handles to wire structs and back, through the real codecs."""

from __future__ import annotations

import pytest

import pyvirt
from pyvirt.rpc import handles, protocol


def test_handles_round_trip_through_the_wire() -> None:
    conn = pyvirt.open("test:///default")
    remote = protocol.REMOTE
    dom = conn.lookupByName("test")
    net = conn.networkLookupByName("default")
    pool = conn.storagePoolLookupByName("default-pool")
    cases = [("domain", dom), ("network", net), ("storage_pool", pool),
             ("node_device", conn._make_node_device("computer")),
             ("interface", conn._make_interface("eth1", "aa:bb:cc:00:11:22")),
             ("storage_vol", conn._make_storage_vol("default-pool", "a.img", "/p/a.img")),
             ("secret", conn._make_secret("6695eb01-f6a4-8304-79aa-97f2502e193f", 1, "vol")),
             ("nwfilter", conn._make_nwfilter("clean", "6695eb01-f6a4-8304-79aa-97f2502e193f")),
             ("nwfilter_binding", conn._make_nwfilter_binding("vnet0", "clean"))]
    for kind, handle in cases:
        wire = handles.to_wire(handle)
        codec = remote.codec(f"remote_nonnull_{kind}")
        back = handles.from_wire(conn, kind, codec.decode(codec.encode(wire)))
        assert type(back) is type(handle)
        assert handles.to_wire(back) == wire
    assert handles.to_wire(dom)["id"] == dom.ID()
    assert handles.uuid_string(handles.uuid_bytes(dom.UUIDString())) == dom.UUIDString()
    snap_wire = {"name": "s1", "dom": handles.to_wire(dom)}
    snap = handles.from_wire(conn, "domain_snapshot", snap_wire)
    assert handles.to_wire(snap) == snap_wire and snap.getName() == "s1"
    with pytest.raises(TypeError):
        handles.to_wire(object())
    with pytest.raises(ValueError):
        handles.from_wire(conn, "nope", {})
