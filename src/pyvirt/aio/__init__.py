"""pyvirt's asyncio interface: the same API as coroutines, and events as async streams.

    from pyvirt import aio

    async with await aio.open("test:///default") as conn:
        dom = await conn.lookupByName("test")
        state, reason = await dom.state()
        async with conn.events("domain") as stream:
            async for event in stream:
                ...

Every method of the synchronous handles (``virConnect``, ``virDomain``, ...) is available
under the same name as a coroutine; objects it returns are wrapped in the matching async
handle. A call runs inline when the connection's driver never blocks (the in-memory test
driver), and in a worker thread otherwise, so the event loop is never held up by I/O.
Events come from the driver's event state directly: no libvirt event loop implementation
needs registering.
"""

from __future__ import annotations

import asyncio
import functools

import pyvirt
from pyvirt.api.connect import virConnect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_HANDLE_TYPES: tuple[type, ...] = (
    pyvirt.virDomain, pyvirt.virNetwork, pyvirt.virNetworkPort, pyvirt.virStoragePool,
    pyvirt.virStorageVol, pyvirt.virInterface, pyvirt.virNodeDevice, pyvirt.virSecret,
    pyvirt.virNWFilter, pyvirt.virNWFilterBinding, pyvirt.virDomainSnapshot,
    pyvirt.virDomainCheckpoint, pyvirt.virStream,
)


class AsyncHandle:
    """An async face of one synchronous handle; ``.sync`` is the handle itself."""

    def __init__(self, sync: Any, blocking: bool) -> None:
        self.sync = sync
        self._blocking = blocking

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)
        if not callable(method):
            return method  # type: ignore[no-any-return]

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(a.sync if isinstance(a, AsyncHandle) else a for a in args)
            if self._blocking:
                result = await asyncio.to_thread(method, *args, **kwargs)
            else:
                result = method(*args, **kwargs)
            return self._wrap(result)

        return call

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, virConnect):
            return AsyncConnection(value)
        if isinstance(value, _HANDLE_TYPES):
            return AsyncHandle(value, self._blocking)
        if isinstance(value, list) and value and isinstance(value[0], _HANDLE_TYPES):
            return [AsyncHandle(item, self._blocking) for item in value]
        return value

    def __repr__(self) -> str:
        return f"<async {self.sync!r}>"


class AsyncConnection(AsyncHandle):
    """An async connection: coroutine methods plus ``events()`` streams."""

    sync: virConnect

    def __init__(self, conn: virConnect) -> None:
        super().__init__(conn, bool(getattr(conn._drv, "blocking", True)))

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def events(self, family: str = "domain", event_id: int | None = None) -> Any:
        """Subscribe now to the driver's events of ``family`` ('domain', 'network',
        'storage_pool', 'node_device', 'secret'), optionally only ``event_id``
        (VIR_*_EVENT_ID_*). Returns an async iterator of event records; use it as
        ``async with conn.events() as stream: async for event in stream: ...``."""
        state = getattr(self.sync._drv, "events", None)
        if state is None:
            from pyvirt.drivers.base import unsupported

            unsupported("virConnectDomainEventRegisterAny")
        return state.subscribe(family=family, event_id=event_id)


async def _open(name: str | None, opener: Callable[[str | None], virConnect]) -> AsyncConnection:
    # Opening may touch the network or start a daemon: keep it off the event loop.
    conn = await asyncio.to_thread(opener, name)
    return AsyncConnection(conn)


async def open(name: str | None = None) -> AsyncConnection:  # noqa: A001 - mirrors pyvirt.open
    return await _open(name, pyvirt.open)


async def openReadOnly(name: str | None = None) -> AsyncConnection:  # noqa: N802
    return await _open(name, pyvirt.openReadOnly)


async def openAuth(uri: str | None, auth: list[Any], flags: int = 0) -> AsyncConnection:  # noqa: N802
    conn = await asyncio.to_thread(pyvirt.openAuth, uri, auth, flags)
    return AsyncConnection(conn)
