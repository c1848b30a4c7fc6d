"""Event records: one per libvirt event ID, callback arguments as libvirt-python passes them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pyvirt import constants as c
from pyvirt.events import types as t

U = "11111111-1111-1111-1111-111111111111"


class Conn:
    def _make_domain(self, name: str, uuid: str, dom_id: int) -> str:
        return f"dom:{name}"

    def _make_network(self, name: str, uuid: str) -> str:
        return f"net:{name}"

    def _make_storage_pool(self, name: str, uuid: str) -> str:
        return f"pool:{name}"

    def _make_node_device(self, name: str) -> str:
        return f"dev:{name}"

    def _make_secret(self, uuid: str, usage_type: int, usage_id: str) -> str:
        return f"secret:{usage_id}"


def ids_of(prefix: str) -> set[int]:
    return {v for k, v in vars(c).items() if k.startswith(prefix) and not k.endswith("_LAST")}


@pytest.mark.parametrize("family,prefix", [
    ("domain", "VIR_DOMAIN_EVENT_ID_"),
    ("network", "VIR_NETWORK_EVENT_ID_"),
    ("storage_pool", "VIR_STORAGE_POOL_EVENT_ID_"),
    ("node_device", "VIR_NODE_DEVICE_EVENT_ID_"),
    ("secret", "VIR_SECRET_EVENT_ID_"),
])
def test_every_event_id_has_a_record(family: str, prefix: str) -> None:
    have = {eid for fam, eid in t.EVENT_CLASSES if fam == family}
    assert have == ids_of(prefix)
    for eid in have:
        cls = t.event_class(family, eid)
        assert cls.family == family and cls.EVENT_ID == eid


def test_event_class_unknown() -> None:
    with pytest.raises(KeyError):
        t.event_class("domain", 999)


@pytest.mark.parametrize("event,args", [
    (t.DomainLifecycleEvent("vm", U, 1, 2, 0), ("dom:vm", 2, 0)),
    (t.DomainRebootEvent("vm", U, 1), ("dom:vm",)),
    (t.DomainRTCChangeEvent("vm", U, 1, -3600), ("dom:vm", -3600)),
    (t.DomainWatchdogEvent("vm", U, 1, 1), ("dom:vm", 1)),
    (t.DomainIOErrorEvent("vm", U, 1, "/a.img", "virtio-disk0", 1),
     ("dom:vm", "/a.img", "virtio-disk0", 1)),
    (t.DomainIOErrorReasonEvent("vm", U, 1, "/a.img", "virtio-disk0", 1, "enospc"),
     ("dom:vm", "/a.img", "virtio-disk0", 1, "enospc")),
    (t.DomainControlErrorEvent("vm", U, 1), ("dom:vm",)),
    (t.DomainBlockJobEvent("vm", U, 1, "/a.img", 1, 0), ("dom:vm", "/a.img", 1, 0)),
    (t.DomainBlockJob2Event("vm", U, 1, "vda", 1, 0), ("dom:vm", "vda", 1, 0)),
    (t.DomainDiskChangeEvent("vm", U, 1, "/old.iso", None, "ide0-1-0", 0),
     ("dom:vm", "/old.iso", None, "ide0-1-0", 0)),
    (t.DomainTrayChangeEvent("vm", U, 1, "ide0-1-0", 1), ("dom:vm", "ide0-1-0", 1)),
    (t.DomainPMWakeupEvent("vm", U, 1), ("dom:vm", 0)),
    (t.DomainPMSuspendEvent("vm", U, 1), ("dom:vm", 0)),
    (t.DomainPMSuspendDiskEvent("vm", U, 1), ("dom:vm", 0)),
    (t.DomainBalloonChangeEvent("vm", U, 1, 524288), ("dom:vm", 524288)),
    (t.DomainDeviceRemovedEvent("vm", U, 1, "net0"), ("dom:vm", "net0")),
    (t.DomainDeviceAddedEvent("vm", U, 1, "net0"), ("dom:vm", "net0")),
    (t.DomainDeviceRemovalFailedEvent("vm", U, 1, "net0"), ("dom:vm", "net0")),
    (t.DomainAgentLifecycleEvent("vm", U, 1, 1, 2), ("dom:vm", 1, 2)),
    (t.DomainMigrationIterationEvent("vm", U, 1, 3), ("dom:vm", 3)),
    (t.DomainMetadataChangeEvent("vm", U, 1, 2, "http://x/"), ("dom:vm", 2, "http://x/")),
    (t.DomainBlockThresholdEvent("vm", U, 1, "vda[1]", "/a.img", 1 << 30, 4096),
     ("dom:vm", "vda[1]", "/a.img", 1 << 30, 4096)),
    (t.DomainMemoryFailureEvent("vm", U, 1, 0, 1, 2), ("dom:vm", 0, 1, 2)),
    (t.DomainMemoryDeviceSizeChangeEvent("vm", U, 1, "virtiomem0", 1048576),
     ("dom:vm", "virtiomem0", 1048576)),
    (t.NetworkLifecycleEvent("default", U, 2, 0), ("net:default", 2, 0)),
    (t.StoragePoolLifecycleEvent("p", U, 0, 0), ("pool:p", 0, 0)),
    (t.StoragePoolRefreshEvent("p", U), ("pool:p",)),
    (t.NodeDeviceLifecycleEvent("net_eth0", 0, 0), ("dev:net_eth0", 0, 0)),
    (t.NodeDeviceUpdateEvent("net_eth0"), ("dev:net_eth0",)),
    (t.SecretLifecycleEvent(U, 1, "vol", 0, 0), ("secret:vol", 0, 0)),
    (t.SecretValueChangedEvent(U, 1, "vol"), ("secret:vol",)),
])
def test_callback_args(event: t.ObjectEvent, args: tuple[Any, ...]) -> None:
    assert event.callback_args(Conn()) == args


def test_graphics_args_are_libvirt_python_shapes() -> None:
    ev = t.DomainGraphicsEvent(
        "vm", U, 1, c.VIR_DOMAIN_EVENT_GRAPHICS_CONNECT,
        t.GraphicsAddress(c.VIR_DOMAIN_EVENT_GRAPHICS_ADDRESS_IPV4, "127.0.0.1", "5900"),
        t.GraphicsAddress(c.VIR_DOMAIN_EVENT_GRAPHICS_ADDRESS_IPV4, "10.0.0.2", "40000"),
        "vnc", [("x509dname", "CN=client"), ("saslUsername", "fred")])
    args = ev.callback_args(Conn())
    assert args == ("dom:vm", c.VIR_DOMAIN_EVENT_GRAPHICS_CONNECT,
                    {"family": 0, "node": "127.0.0.1", "service": "5900"},
                    {"family": 0, "node": "10.0.0.2", "service": "40000"},
                    "vnc", [("x509dname", "CN=client"), ("saslUsername", "fred")])
    assert isinstance(ev.subject, tuple)  # stored immutably
    args[5].append(("x", "y"))  # the callback gets its own list
    assert len(ev.subject) == 2


@pytest.mark.parametrize("cls", [t.DomainTunableEvent, t.DomainJobCompletedEvent])
def test_params_events(cls: type[t.DomainTunableEvent]) -> None:
    ev = cls("vm", U, 1, {"cputune.vcpu0": "0-1", "cputune.shares": 1024})
    assert ev.params == (("cputune.vcpu0", "0-1"), ("cputune.shares", 1024))
    args = ev.callback_args(Conn())
    assert args == ("dom:vm", {"cputune.vcpu0": "0-1", "cputune.shares": 1024})
    hash(ev)


def test_records_are_immutable_and_comparable() -> None:
    ev = t.DomainLifecycleEvent("vm", U, 1, 2, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.event = 3  # type: ignore[misc]
    assert ev == t.make_event("domain", 0, "vm", U, 1, 2, 0)
    assert ev != t.DomainLifecycleEvent("vm", U, 1, 2, 1)
    assert ev.event_id == 0 and ev.family == "domain" and ev.key == U
    assert t.NodeDeviceUpdateEvent("net_eth0").key == "net_eth0"
    assert ev.payload() == (2, 0)
