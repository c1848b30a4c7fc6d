"""pyvirt.libvirtaio on a real asyncio loop (the scenarios of libvirt-python's test_aio.py)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt import libvirtaio
from pyvirt.errors import libvirtError
from pyvirt.events import loop
from pyvirt.events.state import EventState
from pyvirt.events.types import DomainLifecycleEvent

U = "11111111-1111-1111-1111-111111111111"
R = c.VIR_EVENT_HANDLE_READABLE


class FakeConn:
    def _make_domain(self, name: str, uuid: str, dom_id: int) -> tuple[str, str, int]:
        return (name, uuid, dom_id)


@pytest.fixture
def register_mock() -> Iterator[mock.MagicMock]:
    """libvirt allows one registration per process; let each test make its own."""
    loop._reset_for_tests()
    with mock.patch("pyvirt.virEventRegisterImpl", side_effect=loop.register_impl) as m:
        yield m
    loop._reset_for_tests()


async def lifecycle_scenario(impl: libvirtaio.virEventAsyncIOImpl) -> None:
    st = EventState()
    conn = FakeConn()
    assert impl.is_idle()
    changed = asyncio.Event()
    seen: list[tuple[Any, ...]] = []

    def on_lifecycle(conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        seen.append((dom, event, detail))
        opaque.set()

    cid = st.register(conn, "domain", c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, None, on_lifecycle,
                      changed)
    assert not impl.is_idle()

    # Queued in the loop's thread...
    st.queue(DomainLifecycleEvent("test", U, -1, c.VIR_DOMAIN_EVENT_STOPPED,
                                  c.VIR_DOMAIN_EVENT_STOPPED_DESTROYED))
    await asyncio.wait_for(changed.wait(), 2)
    changed.clear()
    # ... and in a driver thread.
    started = DomainLifecycleEvent("test", U, 2, c.VIR_DOMAIN_EVENT_STARTED,
                                   c.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    await asyncio.get_running_loop().run_in_executor(None, st.queue, started)
    await asyncio.wait_for(changed.wait(), 2)
    assert seen == [(("test", U, -1), c.VIR_DOMAIN_EVENT_STOPPED,
                     c.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                    (("test", U, 2), c.VIR_DOMAIN_EVENT_STARTED,
                     c.VIR_DOMAIN_EVENT_STARTED_BOOTED)]
    assert not impl.is_idle()

    st.deregister(conn, cid)
    assert not impl.is_idle()  # the timer's free callback is still pending
    await impl.drain()
    assert impl.is_idle()


def test_events_with_asyncio_run(register_mock: mock.MagicMock) -> None:
    async def main() -> None:
        impl = libvirtaio.virEventRegisterAsyncIOImpl()
        assert libvirtaio.getCurrentImpl() is impl
        assert impl.loop is asyncio.get_running_loop()
        await lifecycle_scenario(impl)

    asyncio.run(main())
    register_mock.assert_called_once()


def test_events_with_manual_loop_setup(register_mock: mock.MagicMock) -> None:
    ev_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(ev_loop)
    try:
        async def main() -> None:
            await lifecycle_scenario(libvirtaio.virEventRegisterAsyncIOImpl())

        ev_loop.run_until_complete(main())
    finally:
        ev_loop.close()
        asyncio.set_event_loop(None)
    register_mock.assert_called_once()


def test_events_pre_init_explicit(register_mock: mock.MagicMock) -> None:
    ev_loop = asyncio.new_event_loop()
    impl = libvirtaio.virEventRegisterAsyncIOImpl(ev_loop)  # before the loop runs
    asyncio.set_event_loop(ev_loop)
    try:
        ev_loop.run_until_complete(lifecycle_scenario(impl))
    finally:
        ev_loop.close()
        asyncio.set_event_loop(None)
    register_mock.assert_called_once()


def test_watches_and_timers(register_mock: mock.MagicMock) -> None:
    r, w = os.pipe()

    async def main() -> None:
        impl = libvirtaio.virEventRegisterAsyncIOImpl()
        got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        freed: list[Any] = []

        watch = loop.impl_add_handle(r, R, lambda *a: got.put_nowait(a), "op", freed.append)
        assert watch in impl.callbacks and r in impl.descriptors
        os.write(w, b"x")
        assert await asyncio.wait_for(got.get(), 2) == (watch, r, R, "op")
        os.read(r, 1)
        while not got.empty():  # level-triggered: it may have fired again before the read
            got.get_nowait()

        loop.update_handle(watch, 0)
        os.write(w, b"y")
        await asyncio.sleep(0.05)
        assert got.empty()  # paused
        loop.update_handle(watch, R)
        assert (await asyncio.wait_for(got.get(), 2))[0] == watch
        assert loop.remove_handle(watch) == 0
        assert r not in impl.descriptors
        # libvirtError("virEventRemoveHandle() failed") shows the thread's last error when
        # there is one, as libvirt-python's does: start from none (another test's may linger)
        pyvirt.virResetLastError()
        with pytest.raises(libvirtError, match="virEventRemoveHandle"):
            loop.remove_handle(watch)

        # A periodic timer, then -1 stops it; 0 fires on every loop iteration.
        ticks: list[int] = []
        timer = loop.add_timeout(10, lambda t, o: ticks.append(t), None)
        await asyncio.sleep(0.08)
        assert len(ticks) >= 3
        loop.update_timeout(timer, -1)
        n = len(ticks)
        await asyncio.sleep(0.05)
        assert len(ticks) == n

        def once(t: int, o: Any) -> None:
            ticks.append(-t)
            loop.remove_timeout(t)  # a timer may remove itself

        loop.add_timeout(0, once, None)
        await asyncio.sleep(0.02)
        assert sum(1 for x in ticks if x < 0) == 1
        assert loop.remove_timeout(timer) == 0

        await impl.drain()
        assert freed == ["op"]
        assert impl.is_idle()

    try:
        asyncio.run(main())
    finally:
        os.close(r)
        os.close(w)


def test_timer_armed_from_another_thread(register_mock: mock.MagicMock) -> None:
    async def main() -> None:
        impl = libvirtaio.virEventRegisterAsyncIOImpl()
        fired = asyncio.Event()
        owner = threading.get_ident()
        where: list[int] = []

        def cb(t: int, o: Any) -> None:
            where.append(threading.get_ident())
            loop.update_timeout(t, -1)
            fired.set()

        timer = loop.add_timeout(-1, cb, None)
        await asyncio.to_thread(loop.update_timeout, timer, 0)
        await asyncio.wait_for(fired.wait(), 2)
        assert where == [owner]  # callbacks always run in the loop's thread
        await asyncio.to_thread(loop.remove_timeout, timer)
        await impl.drain()
        assert impl.is_idle()

    asyncio.run(main())


def test_unknown_ids(register_mock: mock.MagicMock) -> None:
    async def main() -> None:
        impl = libvirtaio.virEventRegisterAsyncIOImpl()
        assert impl._remove_handle(12345) == -1
        assert impl._remove_timeout(12345) == -1
        impl._update_handle(12345, R)
        impl._update_timeout(12345, 0)
        assert impl.is_idle()
        assert "virEventAsyncIOImpl" in repr(impl)

    asyncio.run(main())


def test_public_names() -> None:
    assert set(libvirtaio.__all__) == {"getCurrentImpl", "virEventAsyncIOImpl",
                                       "virEventRegisterAsyncIOImpl"}
    assert hasattr(pyvirt, "virEventRegisterImpl")


def test_test_aio_scenario_with_test_driver(register_mock: mock.MagicMock) -> None:
    """libvirt-python's tests/test_aio.py, run against pyvirt's test driver."""

    async def main() -> None:
        events = libvirtaio.virEventRegisterAsyncIOImpl()
        conn = pyvirt.open("test:///default")
        dom = conn.lookupByName("test")
        changed = asyncio.Event()

        def on_lifecycle(conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
            if event in (c.VIR_DOMAIN_EVENT_STOPPED, c.VIR_DOMAIN_EVENT_STARTED):
                opaque.set()

        try:
            assert dom.state() == [c.VIR_DOMAIN_RUNNING, c.VIR_DOMAIN_RUNNING_UNKNOWN]
            assert events.is_idle()
            conn.domainEventRegisterAny(dom, c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle,
                                        changed)
            assert not events.is_idle()
            dom.destroy()
            await asyncio.wait_for(changed.wait(), 2)
            assert dom.state() == [c.VIR_DOMAIN_SHUTOFF, c.VIR_DOMAIN_SHUTOFF_DESTROYED]
            changed.clear()
            dom.create()
            await asyncio.wait_for(changed.wait(), 2)
            assert dom.state() == [c.VIR_DOMAIN_RUNNING, c.VIR_DOMAIN_RUNNING_BOOTED]
            assert not events.is_idle()
            conn.domainEventDeregisterAny(c.VIR_DOMAIN_EVENT_ID_LIFECYCLE)  # the first id: 0
            await events.drain()
            assert events.is_idle()
        finally:
            conn.close()

    asyncio.run(main())
    register_mock.assert_called_once()
