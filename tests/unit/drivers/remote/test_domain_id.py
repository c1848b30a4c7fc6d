"""The domain ID a handle holds after calls that start or stop the guest: libvirt's remote
driver updates it (create looks the domain up by UUID, CreateWithFlags reads the reply,
Destroy/Save/ManagedSave reset it to -1), so ``dom.ID()`` answers as through
libvirt-python. Checked against a fake connection that records the procedures called."""

from __future__ import annotations

from typing import Any

import pytest

from pyvirt.api.domain import virDomain
from pyvirt.drivers.remote.driver import RemoteDriver
from pyvirt.rpc import handles

UUID = "7b8c49c2-5c8e-4301-91f0-0e3e9d1f3a29"


class FakeConn:
    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, Any]] = []

    def call(self, proc: Any, args: Any) -> Any:
        self.calls.append((proc.name, args))
        return self.replies.get(proc.name)


def driver(replies: dict[str, Any]) -> tuple[RemoteDriver, FakeConn]:
    drv = object.__new__(RemoteDriver)
    fake = FakeConn(replies)
    drv._conn = fake  # type: ignore[assignment]
    return drv, fake


def wire_dom(dom_id: int) -> dict[str, Any]:
    return {"name": "g", "uuid": handles.uuid_bytes(UUID), "id": dom_id}


def test_create_looks_up_the_new_id() -> None:
    drv, fake = driver({"DOMAIN_LOOKUP_BY_UUID": {"dom": wire_dom(7)}})
    dom = virDomain(None, "g", UUID)  # type: ignore[arg-type]
    assert drv.domainCreate(dom) == 0
    assert dom.ID() == 7
    assert [name for name, _ in fake.calls] == ["DOMAIN_CREATE", "DOMAIN_LOOKUP_BY_UUID"]
    assert fake.calls[0][1] == {"dom": wire_dom(-1)}
    assert fake.calls[1][1] == {"uuid": handles.uuid_bytes(UUID)}


def test_create_with_flags_takes_the_id_from_the_reply_and_returns_0() -> None:
    drv, fake = driver({"DOMAIN_CREATE_WITH_FLAGS": {"dom": wire_dom(9)}})
    dom = virDomain(None, "g", UUID)  # type: ignore[arg-type]
    assert drv.domainCreateWithFlags(dom, 1) == 0
    assert dom.ID() == 9
    assert fake.calls == [("DOMAIN_CREATE_WITH_FLAGS", {"dom": wire_dom(-1), "flags": 1})]


@pytest.mark.parametrize(("method", "args", "proc", "body"), [
    ("domainDestroy", (), "DOMAIN_DESTROY", {}),
    ("domainSave", ("/tmp/x.save",), "DOMAIN_SAVE", {"to": "/tmp/x.save"}),
    ("domainManagedSave", (0,), "DOMAIN_MANAGED_SAVE", {"flags": 0}),
])
def test_stopping_calls_reset_the_id(method: str, args: tuple[Any, ...], proc: str,
                                     body: dict[str, Any]) -> None:
    drv, fake = driver({})
    dom = virDomain(None, "g", UUID, 4)  # type: ignore[arg-type]
    assert getattr(drv, method)(dom, *args) == 0
    assert dom.ID() == -1
    assert fake.calls == [(proc, {"dom": wire_dom(4), **body})]


def test_destroy_flags_keeps_the_id() -> None:
    """As libvirt's client: only Destroy, Save and ManagedSave reset it."""
    drv, _ = driver({})
    dom = virDomain(None, "g", UUID, 4)  # type: ignore[arg-type]
    assert drv.domainDestroyFlags(dom, 0) == 0
    assert dom.ID() == 4


def test_a_failed_call_keeps_the_id() -> None:
    class Failing(FakeConn):
        def call(self, proc: Any, args: Any) -> Any:
            raise RuntimeError("refused")

    drv = object.__new__(RemoteDriver)
    drv._conn = Failing({})  # type: ignore[assignment]
    dom = virDomain(None, "g", UUID, 4)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        drv.domainDestroy(dom)
    assert dom.ID() == 4
