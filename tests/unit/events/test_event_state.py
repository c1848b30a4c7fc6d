"""EventState: registrations, the queue, its loop timer, listeners and async subscriptions."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pyvirt import constants as c
from pyvirt.errors import libvirtError, reset_last_error
from pyvirt.events import loop
from pyvirt.events.state import EventState
from pyvirt.events.types import (
    DomainLifecycleEvent,
    DomainRebootEvent,
    NetworkLifecycleEvent,
    NodeDeviceUpdateEvent,
    ObjectEvent,
)

LIFECYCLE = c.VIR_DOMAIN_EVENT_ID_LIFECYCLE
REBOOT = c.VIR_DOMAIN_EVENT_ID_REBOOT
U1 = "11111111-1111-1111-1111-111111111111"
U2 = "22222222-2222-2222-2222-222222222222"


class FakeConn:
    """Just the handle factories the event records use."""

    def __init__(self, label: str = "conn") -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<FakeConn {self.label}>"

    def _make_domain(self, name: str, uuid: str, dom_id: int) -> tuple[Any, ...]:
        return ("dom", name, uuid, dom_id)

    def _make_network(self, name: str, uuid: str) -> tuple[Any, ...]:
        return ("net", name, uuid)

    def _make_storage_pool(self, name: str, uuid: str) -> tuple[Any, ...]:
        return ("pool", name, uuid)

    def _make_node_device(self, name: str) -> tuple[Any, ...]:
        return ("nodedev", name)

    def _make_secret(self, uuid: str, usage_type: int, usage_id: str) -> tuple[Any, ...]:
        return ("secret", uuid, usage_type, usage_id)


def started(name: str = "vm1", uuid: str = U1) -> DomainLifecycleEvent:
    return DomainLifecycleEvent(name, uuid, 1, c.VIR_DOMAIN_EVENT_STARTED,
                                c.VIR_DOMAIN_EVENT_STARTED_BOOTED)


@pytest.fixture
def default_loop() -> Iterator[loop.DefaultEventLoop]:
    loop._reset_for_tests()
    reset_last_error()
    loop.register_default_impl()
    yield loop._default_loop()
    loop._reset_for_tests()


@pytest.fixture
def no_loop() -> Iterator[None]:
    loop._reset_for_tests()
    reset_last_error()
    yield
    loop._reset_for_tests()


def run_pending(n: int = 1) -> None:
    """Run the default loop for the queued events (the timer is armed at 0)."""
    for _ in range(n):
        loop.run_default_impl()


@pytest.mark.usefixtures("no_loop")
def test_register_without_event_loop_fails_like_libvirt() -> None:
    st = EventState()
    with pytest.raises(libvirtError) as ei:
        st.register(FakeConn(), "domain", LIFECYCLE, None, lambda *a: None, None)
    e = ei.value
    assert str(e) == "internal error: could not initialize domain event timer"
    assert e.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert e.get_error_domain() == c.VIR_FROM_NONE
    assert st.callback_count() == 0


def test_lifecycle_dispatch_and_timer_lifecycle(default_loop: loop.DefaultEventLoop) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[tuple[Any, ...]] = []
    assert default_loop.timer_count() == 0
    cid = st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append(a), "opq")
    assert cid == 0
    assert default_loop.timer_count() == 1  # one disabled timer per state
    timer = st._timer
    assert default_loop._timers[timer].interval == -1

    st.queue(started())
    assert default_loop._timers[timer].interval == 0  # armed
    run_pending()
    assert got == [(conn, ("dom", "vm1", U1, 1), c.VIR_DOMAIN_EVENT_STARTED,
                    c.VIR_DOMAIN_EVENT_STARTED_BOOTED, "opq")]
    assert default_loop._timers[timer].interval == -1  # disarmed after the flush

    st.deregister(conn, cid)
    assert default_loop.timer_count() == 0  # gone with the last callback


def test_callback_ids_are_per_state_and_never_reused(default_loop: Any) -> None:
    a, b = EventState(), EventState()
    conn = FakeConn()
    assert st_ids(a, conn) == [0, 1, 2]
    assert st_ids(b, conn) == [0, 1, 2]
    a.deregister(conn, 2)
    assert a.register(conn, "secret", 0, None, lambda *x: None, None) == 3


def st_ids(st: EventState, conn: FakeConn) -> list[int]:
    return [st.register(conn, "domain", LIFECYCLE, None, lambda *x: None, None),
            st.register(conn, "domain", REBOOT, None, lambda *x: None, None),
            st.register(conn, "network", 0, None, lambda *x: None, None)]


def test_filters_by_object_event_id_and_family(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[str] = []
    st.register(conn, "domain", LIFECYCLE, U1, lambda *a: got.append("vm1-only"), None)
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append("any-dom"), None)
    st.register(conn, "domain", REBOOT, None, lambda *a: got.append("reboot"), None)
    st.register(conn, "network", 0, None, lambda *a: got.append("net"), None)
    st.register(conn, "node_device", c.VIR_NODE_DEVICE_EVENT_ID_UPDATE, "pci_0000_00_02_0",
                lambda *a: got.append("nodedev"), None)

    st.queue(started("vm2", U2))
    run_pending()
    assert got == ["any-dom"]
    got.clear()
    st.queue(started())
    st.queue(DomainRebootEvent("vm2", U2, 2))
    st.queue(NetworkLifecycleEvent("default", U1, 0, 0))  # same uuid, other family
    st.queue(NodeDeviceUpdateEvent("pci_0000_00_03_0"))
    st.queue(NodeDeviceUpdateEvent("pci_0000_00_02_0"))
    run_pending()
    # In queue order; per event, in registration order.
    assert got == ["vm1-only", "any-dom", "reboot", "net", "nodedev"]


def test_dispatch_args_per_family(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[tuple[Any, ...]] = []
    st.register(conn, "domain", REBOOT, None, lambda *a: got.append(a), 1)
    st.register(conn, "node_device", 1, None, lambda *a: got.append(a), 2)
    st.register(conn, "secret", 0, None, lambda *a: got.append(a), 3)
    st.queue(st.domain_event(REBOOT, "vm1", U1, 4))
    st.queue(st.node_device_event(1, "net_eth0"))
    st.queue(st.secret_event(0, U2, c.VIR_SECRET_USAGE_TYPE_VOLUME, "/var/a.img", 0, 0))
    run_pending()
    assert got == [
        (conn, ("dom", "vm1", U1, 4), 1),
        (conn, ("nodedev", "net_eth0"), 2),
        (conn, ("secret", U2, c.VIR_SECRET_USAGE_TYPE_VOLUME, "/var/a.img"), 0, 0, 3),
    ]


def test_connections_are_separate(default_loop: Any) -> None:
    st = EventState()
    c1, c2 = FakeConn("1"), FakeConn("2")
    got: list[Any] = []
    id1 = st.register(c1, "domain", LIFECYCLE, None, lambda conn, *a: got.append(conn), None)
    id2 = st.register(c2, "domain", LIFECYCLE, None, lambda conn, *a: got.append(conn), None)
    st.queue(started())
    run_pending()
    assert got == [c1, c2]
    # An ID is only valid with its own connection.
    with pytest.raises(libvirtError, match=f"could not find event callback {id1} for deletion"):
        st.deregister(c2, id1)
    st.deregister_connection(c2)
    assert st.callback_count(c2) == 0 and st.callback_count(c1) == 1
    with pytest.raises(libvirtError):
        st.deregister(c2, id2)


def test_deregister_unknown_id(default_loop: Any) -> None:
    st = EventState()
    with pytest.raises(libvirtError) as ei:
        st.deregister(FakeConn(), 12345)
    assert str(ei.value) == "invalid argument: could not find event callback 12345 for deletion"
    assert ei.value.get_error_code() == c.VIR_ERR_INVALID_ARG
    assert ei.value.get_error_domain() == c.VIR_FROM_NONE


def test_duplicate_registration_is_refused(default_loop: loop.DefaultEventLoop) -> None:
    st = EventState()
    conn = FakeConn()
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: None, None)
    # libvirt-python hands libvirt one C callback per event ID: any second callback for the
    # same (event, filter) on a connection is "already tracked".
    with pytest.raises(libvirtError) as ei:
        st.register(conn, "domain", LIFECYCLE, None, lambda *a: None, None)
    assert str(ei.value) == "invalid argument: event callback already tracked"
    assert ei.value.get_error_code() == c.VIR_ERR_INVALID_ARG
    # Another filter, another connection, or the legacy API are fine.
    st.register(conn, "domain", LIFECYCLE, U1, lambda *a: None, None)
    st.register(FakeConn(), "domain", LIFECYCLE, None, lambda *a: None, None)
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: None, None, legacy=True)
    assert default_loop.timer_count() == 1


def test_failed_first_registration_leaves_no_timer(default_loop: loop.DefaultEventLoop) -> None:
    st = EventState()
    with pytest.raises(ValueError):
        st.register(FakeConn(), "bogus", 0, None, lambda *a: None, None)
    assert default_loop.timer_count() == 0


def test_events_without_callbacks_are_dropped(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    st.queue(started())  # nobody listens: not kept for later registrations
    got: list[Any] = []
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append(a), None)
    st.queue(DomainLifecycleEvent("vm1", U1, -1, c.VIR_DOMAIN_EVENT_STOPPED, 0))
    run_pending()
    assert [a[2] for a in got] == [c.VIR_DOMAIN_EVENT_STOPPED]


def test_deregistering_last_callback_drops_queued_events(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[Any] = []
    cid = st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append(a), None)
    st.queue(started())
    st.deregister(conn, cid)
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append(a), None)
    default_loop.add_timeout(0, lambda *a: None, None)  # so the run does not block
    run_pending()
    assert got == []


def test_deregister_during_dispatch(default_loop: loop.DefaultEventLoop) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[str] = []
    ids: dict[str, int] = {}

    def first(*a: Any) -> None:
        got.append("first")
        st.deregister(conn, ids["second"])
        st.deregister(conn, ids["first"])

    ids["first"] = st.register(conn, "domain", LIFECYCLE, None, first, None)
    ids["second"] = st.register(conn, "domain", LIFECYCLE, U1,
                                lambda *a: got.append("second"), None)
    st.queue(started())
    st.queue(started())
    run_pending()
    assert got == ["first"]
    assert st.callback_count() == 0
    assert default_loop.timer_count() == 0  # purged at the end of the flush


def test_register_during_dispatch_sees_next_event(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[str] = []

    def first(*a: Any) -> None:
        got.append("first")
        if len(got) == 1:
            st.register(conn, "domain", LIFECYCLE, U1, lambda *a: got.append("late"), None)

    st.register(conn, "domain", LIFECYCLE, None, first, None)
    st.queue(started())
    st.queue(started())
    run_pending()
    assert got == ["first", "first", "late"]


def test_failing_callback_does_not_stop_dispatch(
        default_loop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[str] = []

    def boom(*a: Any) -> None:
        raise ValueError("callback broke")

    st.register(conn, "domain", LIFECYCLE, None, boom, None)
    st.register(conn, "domain", LIFECYCLE, U1, lambda *a: got.append("ok"), None)
    st.queue(started())
    run_pending()
    assert got == ["ok"]
    assert "ValueError: callback broke" in capsys.readouterr().err


def test_legacy_registration(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    got: list[tuple[Any, ...]] = []

    def cb(*a: Any) -> None:
        got.append(a)

    first = st.register_domain_legacy(conn, cb, "a")
    assert st.register_domain_legacy(conn, cb, "b") == first  # same cb: opaque replaced
    st.queue(started())
    run_pending()
    assert got == [(conn, ("dom", "vm1", U1, 1), c.VIR_DOMAIN_EVENT_STARTED,
                    c.VIR_DOMAIN_EVENT_STARTED_BOOTED, "b")]
    other = st.register(conn, "domain", LIFECYCLE, None, lambda *a: None, None, legacy=True)
    assert other != first
    with pytest.raises(KeyError):
        st.deregister_domain_legacy(conn, print)  # others registered, not this one
    st.deregister_domain_legacy(conn, cb)
    st.deregister_legacy(conn, st._callbacks[0].cb)
    st.deregister_legacy(conn, cb)  # none left: silently ignored, as libvirt-python does
    assert st.callback_count() == 0


def test_register_domain_takes_a_handle(default_loop: Any) -> None:
    class Dom:
        def UUIDString(self) -> str:  # noqa: N802
            return U2

    st = EventState()
    conn = FakeConn()
    got: list[Any] = []
    st.register_domain(conn, Dom(), LIFECYCLE, lambda *a: got.append(a[1]), None)
    st.queue(started())
    st.queue(started("vm2", U2))
    run_pending()
    assert got == [("dom", "vm2", U2, 1)]
    assert st.event_id_of(conn, 0) == LIFECYCLE
    with pytest.raises(libvirtError, match="event callback id 5 not registered"):
        st.event_id_of(conn, 5)


def test_queue_from_driver_thread_wakes_the_loop(default_loop: Any) -> None:
    st = EventState()
    conn = FakeConn()
    delivered = threading.Event()
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: delivered.set(), None)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            loop.run_default_impl()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.05)  # the loop thread is now blocked in poll()
    threading.Thread(target=st.queue, args=(started(),)).start()
    assert delivered.wait(2)
    stop.set()
    loop.interrupt_default_impl()
    th.join(2)


# ---- in-process consumers ---------------------------------------------------------------


@pytest.mark.usefixtures("no_loop")
def test_listeners_do_not_need_an_event_loop() -> None:
    st = EventState()
    seen: list[ObjectEvent] = []
    st.add_listener(seen.append)
    ev = started()
    st.queue(ev)
    assert seen == [ev]
    st.remove_listener(seen.append)
    st.remove_listener(seen.append)  # twice: harmless
    st.queue(ev)
    assert seen == [ev]


@pytest.mark.usefixtures("no_loop")
def test_async_subscribe() -> None:
    st = EventState()

    async def main() -> list[ObjectEvent]:
        out: list[ObjectEvent] = []
        sub = st.subscribe("domain", LIFECYCLE)
        st.queue(started())  # before the first await: kept
        st.queue(DomainRebootEvent("vm1", U1, 1))  # filtered out
        threading.Thread(target=st.queue, args=(started("vm2", U2),)).start()
        async with sub:
            async for ev in sub:
                out.append(ev)
                if len(out) == 2:
                    break
        st.queue(started("vm3"))  # closed: not delivered
        assert sub.get_nowait() is None
        return out

    out = asyncio.run(asyncio.wait_for(main(), 5))
    assert [e.name for e in out] == ["vm1", "vm2"]  # type: ignore[attr-defined]
    assert st._subscriptions == ()


@pytest.mark.usefixtures("no_loop")
def test_async_subscribe_close_ends_iteration_and_maxsize_drops() -> None:
    st = EventState()

    async def main() -> tuple[list[str], int]:
        sub = st.subscribe(maxsize=2)
        for name in ("a", "b", "c"):
            st.queue(started(name))
        names: list[str] = []

        async def consume() -> None:
            async for ev in sub:
                names.append(ev.name)  # type: ignore[attr-defined]

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        sub.close()
        await asyncio.wait_for(task, 2)
        return names, sub.dropped

    names, dropped = asyncio.run(main())
    assert names == ["b", "c"] and dropped == 1


def test_subscribe_rejects_unknown_family() -> None:
    with pytest.raises(ValueError):
        EventState().subscribe("bogus")


def test_close_drops_everything(default_loop: loop.DefaultEventLoop) -> None:
    st = EventState()
    conn = FakeConn()
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: None, None)
    st.register(conn, "network", 0, None, lambda *a: None, None)
    assert st.callback_count(conn, "domain") == 1
    assert st.callback_count(family="network", event_id=0) == 1
    assert st.callback_count(event_id=REBOOT) == 0
    seen: list[Any] = []
    st.add_listener(seen.append)
    sub = st.subscribe()
    st.close()
    assert st.callback_count() == 0 and default_loop.timer_count() == 0
    st.queue(started())
    assert seen == [] and sub.get_nowait() is None


@pytest.mark.usefixtures("no_loop")
def test_custom_impl_firing_synchronously_does_not_deadlock() -> None:
    # A pathological implementation that runs the timer inside update_timeout().
    timers: dict[int, tuple[Any, Any]] = {}

    def add_timeout(ms: int, cb: Any, opaque: Any) -> int:
        timers[1] = (cb, opaque)
        return 1

    def update_timeout(timer: int, ms: int) -> None:
        if ms == 0:
            cb, opaque = timers[timer]
            cb(timer, opaque)

    loop.register_impl(lambda *a: -1, lambda *a: None, lambda *a: -1, add_timeout,
                       update_timeout, lambda t: 0)
    st = EventState()
    conn = FakeConn()
    got: list[Any] = []
    st.register(conn, "domain", LIFECYCLE, None, lambda *a: got.append(a[2]), None)
    st.queue(started())
    assert got == [c.VIR_DOMAIN_EVENT_STARTED]


def test_default_loop_thread_with_test_driver(default_loop: Any) -> None:
    """The classic libvirt-python pattern: a thread runs virEventRunDefaultImpl()."""
    import pyvirt

    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            pyvirt.virEventRunDefaultImpl()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    conn = pyvirt.open("test:///default")
    try:
        got: list[tuple[str, int, int, int]] = []
        done = threading.Event()

        def cb(conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
            got.append((dom.name(), event, detail, threading.get_ident()))
            if len(got) == 2:
                done.set()

        cid = conn.domainEventRegisterAny(None, c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
        dom = conn.lookupByName("test")
        dom.suspend()
        dom.resume()
        assert done.wait(2)
        assert [g[:3] for g in got] == [
            ("test", c.VIR_DOMAIN_EVENT_SUSPENDED, c.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
            ("test", c.VIR_DOMAIN_EVENT_RESUMED, c.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)]
        assert {g[3] for g in got} == {th.ident}
        conn.domainEventDeregisterAny(cid)
    finally:
        conn.close()
        stop.set()
        loop.interrupt_default_impl()
        th.join(2)


def test_concurrent_publishers_and_churn(default_loop: Any) -> None:
    """Several driver threads queue while the loop thread dispatches and another thread
    registers/deregisters: every event reaches the steady callback once, in per-thread
    order, and subscriptions see the same order as the callback."""
    st = EventState()
    conn, churn_conn = FakeConn("steady"), FakeConn("churn")
    got: list[tuple[str, int]] = []
    st.register(conn, "domain", c.VIR_DOMAIN_EVENT_ID_RTC_CHANGE, None,
                lambda conn, dom, off, op: got.append((dom[1], off)), None)
    sub = st.subscribe("domain")
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            loop.run_default_impl()

    def publish(name: str) -> None:
        for i in range(300):
            st.queue(st.domain_event(c.VIR_DOMAIN_EVENT_ID_RTC_CHANGE, name, U1, 1, i))

    def churn() -> None:
        for _ in range(200):
            cid = st.register(churn_conn, "domain", c.VIR_DOMAIN_EVENT_ID_RTC_CHANGE, None,
                              lambda *a: None, None)
            st.deregister(churn_conn, cid)

    looper = threading.Thread(target=run, daemon=True)
    looper.start()
    workers = [threading.Thread(target=publish, args=(f"vm{i}",)) for i in range(4)]
    workers.append(threading.Thread(target=churn))
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    deadline = time.monotonic() + 5
    while len(got) < 1200 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    loop.interrupt_default_impl()
    looper.join(2)
    assert len(got) == 1200
    for i in range(4):
        assert [off for name, off in got if name == f"vm{i}"] == list(range(300))
    subbed = []
    while (ev := sub.get_nowait()) is not None:
        subbed.append((ev.name, ev.utcoffset))  # type: ignore[attr-defined]
    assert subbed == got


def test_remote_ids(default_loop: Any) -> None:
    """A remote driver ties each callback to its server-side registration; events it queues
    with that id reach only that callback (libvirt's QueueRemote/SetRemote)."""
    st = EventState()
    conn = FakeConn()
    got: list[str] = []
    a = st.register(conn, "domain", LIFECYCLE, None, lambda *x: got.append("a"), None)
    b = st.register(conn, "domain", LIFECYCLE, U1, lambda *x: got.append("b"), None)
    st.set_remote(conn, a, 10)
    st.set_remote(conn, b, 11)
    st.set_remote(conn, 99, 12)  # unknown: ignored
    assert (st.remote_id_of(conn, a), st.remote_id_of(conn, b)) == (10, 11)
    st.queue(started(), remote_id=11)
    st.queue(started(), remote_id=10)
    st.queue(started())  # a local event matches neither
    run_pending()
    assert got == ["b", "a"]
    with pytest.raises(libvirtError, match="event callback id 99 not registered"):
        st.remote_id_of(conn, 99)
