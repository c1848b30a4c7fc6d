"""Event relay: registrations and the MESSAGE frames they produce (vector ``events``)."""

from __future__ import annotations

import json
import struct

import pytest

from pyvirt import constants as c
from pyvirt.errors import libvirtError
from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from unit.daemon.support import VECTORS, Pyvirtd, RawClient


@pytest.fixture
def daemon(pyvirtd: Pyvirtd) -> Pyvirtd:
    return pyvirtd


def _vector_events() -> list[bytes]:
    out = []
    for line in (VECTORS / "events.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["decoded"]["type"] == m.MESSAGE:
            out.append(bytes.fromhex(rec["hex"]))
    return out


def _dom(client: RawClient, name: str = "test") -> dict:
    return client.result("DOMAIN_LOOKUP_BY_NAME", {"name": name})["dom"]


def _next_event(client: RawClient) -> m.Message:
    while client.messages:
        return client.messages.pop(0)
    msg = client.recv()
    assert msg.type == m.MESSAGE, msg
    return msg


def test_virsh_event_all_matches_libvirtd(daemon: Pyvirtd) -> None:
    """As `virsh event --all`: 27 registrations, then a suspend and a resume by other
    clients arrive as the frames libvirtd sent (callback ID aside)."""
    with RawClient(daemon.rw).open() as listener:
        ids = [listener.result("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
                               {"eventID": i, "dom": None})["callbackID"]
               for i in range(27)]
        assert len(set(ids)) == 27
        for action in ("DOMAIN_SUSPEND", "DOMAIN_RESUME"):
            with RawClient(daemon.rw).open() as other:
                other.result(action, {"dom": _dom(other)})
        got = [_next_event(listener), _next_event(listener)]
        want = _vector_events()
        for frame, expected in zip(got, want):
            raw = bytearray(frame.encode())
            assert struct.unpack_from(">i", raw, 28)[0] == ids[0]
            struct.pack_into(">i", raw, 28, 27)    # the vector's callback ID
            assert bytes(raw) == expected
        for cid in ids:
            listener.result("CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", {"callbackID": cid})
        with RawClient(daemon.rw).open() as other:
            other.result("DOMAIN_SUSPEND", {"dom": _dom(other)})
            other.result("DOMAIN_RESUME", {"dom": _dom(other)})
        listener.result("CONNECT_GET_HOSTNAME")   # a round trip: no event came first
        assert listener.messages == []


def test_domain_filter_and_errors(daemon: Pyvirtd) -> None:
    with RawClient(daemon.rw).open() as client:
        dom = _dom(client)
        cid = client.result("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
                            {"eventID": 0, "dom": dom})["callbackID"]
        xml = ("<domain type='test'><name>other</name><memory>8192</memory>"
               "<os><type>hvm</type></os></domain>")
        other = client.result("DOMAIN_DEFINE_XML", {"xml": xml})["dom"]
        client.result("DOMAIN_UNDEFINE", {"dom": other})   # not "test": no event
        client.result("DOMAIN_SUSPEND", {"dom": dom})
        event = _next_event(client)
        body = protocol.REMOTE.procedure(event.proc).decode_msg(event.payload)
        assert body["callbackID"] == cid and body["msg"]["dom"]["name"] == "test"
        assert (body["msg"]["event"], body["msg"]["detail"]) == (
            c.VIR_DOMAIN_EVENT_SUSPENDED, c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
        client.result("DOMAIN_RESUME", {"dom": dom})
        _next_event(client)
        with pytest.raises(libvirtError, match="domain event callback 9999 not registered"):
            client.result("CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", {"callbackID": 9999})
        with pytest.raises(libvirtError, match="unsupported event ID 27"):
            client.result("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
                          {"eventID": 27, "dom": None})


def test_network_pool_and_legacy_events(daemon: Pyvirtd) -> None:
    with RawClient(daemon.rw).open() as client:
        ncid = client.result("CONNECT_NETWORK_EVENT_REGISTER_ANY",
                             {"eventID": 0, "net": None})["callbackID"]
        pcid = client.result("CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY",
                             {"eventID": 0, "pool": None})["callbackID"]
        client.result("CONNECT_DOMAIN_EVENT_REGISTER_ANY", {"eventID": 0})
        net = client.result("NETWORK_LOOKUP_BY_NAME", {"name": "default"})["net"]
        client.result("NETWORK_DESTROY", {"net": net})
        msg = _next_event(client)
        assert protocol.lookup(msg.prog, msg.proc).name == "NETWORK_EVENT_LIFECYCLE"
        body = protocol.REMOTE.procedure(msg.proc).decode_msg(msg.payload)
        assert body["callbackID"] == ncid and body["net"]["name"] == "default"
        assert body["event"] == c.VIR_NETWORK_EVENT_STOPPED
        pool = client.result("STORAGE_POOL_LOOKUP_BY_NAME", {"name": "default-pool"})["pool"]
        client.result("STORAGE_POOL_DESTROY", {"pool": pool})
        msg = _next_event(client)
        body = protocol.REMOTE.procedure(msg.proc).decode_msg(msg.payload)
        assert body["callbackID"] == pcid and body["pool"]["name"] == "default-pool"
        client.result("DOMAIN_SUSPEND", {"dom": _dom(client)})
        msg = _next_event(client)
        assert protocol.lookup(msg.prog, msg.proc).name == "DOMAIN_EVENT_LIFECYCLE"
        body = protocol.REMOTE.procedure(msg.proc).decode_msg(msg.payload)
        assert body["dom"]["name"] == "test" and body["event"] == c.VIR_DOMAIN_EVENT_SUSPENDED
        client.result("CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", {"eventID": 0})
        with pytest.raises(libvirtError, match="domain event 0 not registered"):
            client.result("CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", {"eventID": 0})
