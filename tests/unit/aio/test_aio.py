"""pyvirt.aio: the API as coroutines, handles wrapped, events as an async stream."""

from __future__ import annotations

import asyncio

import pytest

import pyvirt
from pyvirt import aio


def test_calls_and_handles() -> None:
    async def main() -> None:
        conn = await aio.open("test:///default")
        async with conn:
            assert await conn.getType() == "TEST"
            dom = await conn.lookupByName("test")
            assert isinstance(dom, aio.AsyncHandle)
            assert isinstance(dom.sync, pyvirt.virDomain)
            assert await dom.state() == [pyvirt.VIR_DOMAIN_RUNNING,
                                         pyvirt.VIR_DOMAIN_RUNNING_UNKNOWN]
            doms = await conn.listAllDomains()
            assert [await d.name() for d in doms] == ["test"]
            pools = await conn.listAllStoragePools()
            assert [await p.name() for p in pools] == ["default-pool"]

    asyncio.run(main())


def test_errors_propagate_as_libvirt_error() -> None:
    async def main() -> None:
        conn = await aio.openReadOnly("test:///default")
        async with conn:
            with pytest.raises(pyvirt.libvirtError) as info:
                await conn.lookupByName("missing")
            assert info.value.get_error_code() == pyvirt.VIR_ERR_NO_DOMAIN
            dom = await conn.lookupByName("test")
            with pytest.raises(pyvirt.libvirtError) as info:
                await dom.suspend()
            assert info.value.get_error_code() == pyvirt.VIR_ERR_OPERATION_DENIED

    pyvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        asyncio.run(main())
    finally:
        pyvirt.registerErrorHandler(None, None)


def test_event_stream_needs_no_event_loop_impl() -> None:
    async def main() -> list[tuple[int, int]]:
        conn = await aio.open("test:///default")
        async with conn:
            dom = await conn.lookupByName("test")
            seen: list[tuple[int, int]] = []
            async with conn.events("domain", pyvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE) as stream:
                await dom.suspend()
                await dom.resume()
                async for event in stream:
                    assert event.name == "test"
                    seen.append((event.event, event.detail))
                    if len(seen) == 2:
                        break
            return seen

    seen = asyncio.run(asyncio.wait_for(main(), 5))
    assert seen == [
        (pyvirt.VIR_DOMAIN_EVENT_SUSPENDED, pyvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (pyvirt.VIR_DOMAIN_EVENT_RESUMED, pyvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
    ]
