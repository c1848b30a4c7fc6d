"""Per-driver event state: callback registrations, the event queue and its loop timer.

This is libvirt's ``virObjectEventState`` (src/conf/object_event.c) for pyvirt:

* Registering the first callback adds a disabled timer (-1) to the process-wide event loop
  implementation; without one, registration fails with libvirt's "could not initialize
  domain event timer". The timer goes away with the last callback (and any queued events).
* ``queue()`` (any thread) appends the event and arms the timer (0); when it fires, the queued
  events are dispatched in order to the matching callbacks of every connection, then the
  timer is disarmed. Callbacks run in the event loop's thread, without the state locked, so
  they may register and deregister; a callback deregistered during a dispatch is skipped.
* Callback IDs count from 0 per state. As in libvirt-python (whose C glue passes one C
  callback per event ID), a connection may hold only one callback per (family, event ID,
  object filter); a second is "event callback already tracked".

A remote driver ties callbacks to server-side registrations (``set_remote``) and queues
relayed events with ``queue(event, remote_id)``, as libvirt's remote client does.

Besides the libvirt callbacks, events go straight to in-process consumers that do not
depend on any event loop implementation: synchronous listeners (``add_listener``, called in
the queuing thread) and asyncio subscriptions (``subscribe()``, one FIFO per consumer).
"""

from __future__ import annotations

import _thread  # threading's locks without its module's import cost (~2 ms)

from pyvirt import constants as c
from pyvirt.errors import raise_error
from pyvirt.events import FAMILIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from pyvirt.events.types import ObjectEvent

    Listener = Callable[[ObjectEvent], Any]

def _loop() -> ModuleType:
    # The event loop module (select, threading) is imported when a callback is registered:
    # a command-line client that never registers one does not pay for it.
    from pyvirt.events import loop

    return loop


# events.types (dozens of record classes) is imported by the first event built, not by
# every driver that opens: a command-line client seldom sees an event.


class _Callback:
    """One registered event callback of a connection (compared by identity)."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    _FIELDS = ("callback_id", "conn", "family", "event_id", "key", "cb", "opaque", "legacy",
               "deleted", "remote_id")  # fmt: skip

    def __init__(self, callback_id: int, conn: Any, family: str, event_id: int,
                 key: str | None, cb: Callable[..., Any], opaque: Any, legacy: bool,
                 deleted: bool = False, remote_id: int = -1) -> None:
        self.callback_id = callback_id
        self.conn = conn
        self.family = family
        self.event_id = event_id
        self.key = key
        self.cb = cb
        self.opaque = opaque
        self.legacy = legacy
        self.deleted = deleted
        self.remote_id = remote_id  # set by a remote driver: only events queued with it match

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS)
        return f"_Callback({inner})"

    def matches(self, event: ObjectEvent, remote_id: int) -> bool:
        return (not self.deleted and self.family == event.family
                and self.event_id == event.event_id and self.remote_id == remote_id
                and (self.key is None or self.key == event.key))


class EventState:
    """One per driver instance; thread-safe."""

    def __init__(self) -> None:
        # Reentrant: a custom loop implementation might run the timer from within
        # update_timeout(), i.e. while queue() holds the lock.
        self._lock = _thread.RLock()
        self._callbacks: list[_Callback] = []
        self._next_id = 0
        self._queue: list[tuple[ObjectEvent, int]] = []  # (event, remote id or -1)
        self._timer = -1
        self._dispatching = False
        # Copied on write, so that queue() reads them without copying.
        self._listeners: tuple[Listener, ...] = ()
        self._subscriptions: tuple[EventSubscription, ...] = ()

    # ---- registration ---------------------------------------------------------------

    def register(self, conn: Any, family: str, event_id: int, object_key: str | None,
                 callback: Callable[..., Any], opaque: Any, legacy: bool = False) -> int:
        """Register ``callback`` of ``conn`` for ``event_id`` of ``family``, for every object
        or only the one whose key (uuid; node devices: name) is ``object_key``.

        ``legacy=True`` is the old ``domainEventRegister(cb, opaque)``: lifecycle only, one
        per (conn, cb); registering the same callback again just replaces its opaque.
        Returns the callback ID."""
        if family not in FAMILIES:
            raise ValueError(f"unknown event family {family!r}")
        with self._lock:
            if legacy:
                for cb in self._callbacks:
                    if cb.legacy and not cb.deleted and cb.conn is conn and cb.cb == callback:
                        cb.opaque = opaque
                        return cb.callback_id
            self._ensure_timer()
            if not legacy and any(
                    not cb.legacy and not cb.deleted and cb.conn is conn
                    and cb.family == family and cb.event_id == event_id
                    and cb.key == object_key for cb in self._callbacks):
                self._cleanup_timer(clear_queue=False)
                raise_error(c.VIR_ERR_INVALID_ARG, "event callback already tracked")
            callback_id = self._next_id
            self._next_id += 1
            self._callbacks.append(_Callback(callback_id, conn, family, event_id, object_key,
                                             callback, opaque, legacy))
            return callback_id

    def deregister(self, conn: Any, callback_id: int) -> None:
        """Drop callback ``callback_id`` of ``conn`` (VIR_ERR_INVALID_ARG if unknown)."""
        with self._lock:
            for i, cb in enumerate(self._callbacks):
                if cb.callback_id == callback_id and cb.conn is conn and not cb.deleted:
                    self._drop(i)
                    break
            else:
                raise_error(c.VIR_ERR_INVALID_ARG,
                            f"could not find event callback {callback_id} for deletion")
            self._cleanup_timer(clear_queue=True)

    def deregister_legacy(self, conn: Any, callback: Callable[..., Any]) -> None:
        """Undo ``register(..., legacy=True)`` for ``callback``. As libvirt-python's
        domainEventDeregister: silent when ``conn`` has no legacy callback at all, KeyError
        when it has others but not this one."""
        with self._lock:
            mine = [(i, cb) for i, cb in enumerate(self._callbacks)
                    if cb.legacy and not cb.deleted and cb.conn is conn]
            for i, cb in mine:
                if cb.cb == callback:
                    self._drop(i)
                    break
            else:
                if mine:
                    raise KeyError(callback)
                return
            self._cleanup_timer(clear_queue=True)

    def deregister_connection(self, conn: Any) -> None:
        """The connection is closing: forget all its callbacks."""
        with self._lock:
            for i in range(len(self._callbacks) - 1, -1, -1):
                if self._callbacks[i].conn is conn and not self._callbacks[i].deleted:
                    self._drop(i)
            self._cleanup_timer(clear_queue=True)

    def event_id_of(self, conn: Any, callback_id: int) -> int:
        """The event ID callback ``callback_id`` of ``conn`` is registered for."""
        with self._lock:
            for cb in self._callbacks:
                if cb.callback_id == callback_id and cb.conn is conn and not cb.deleted:
                    return cb.event_id
        raise_error(c.VIR_ERR_INVALID_ARG, f"event callback id {callback_id} not registered")

    def set_remote(self, conn: Any, callback_id: int, remote_id: int) -> None:
        """Tie callback ``callback_id`` of ``conn`` to the server-side registration
        ``remote_id`` (libvirt's virObjectEventStateSetRemote); unknown IDs are ignored."""
        with self._lock:
            for cb in self._callbacks:
                if cb.callback_id == callback_id and cb.conn is conn and not cb.deleted:
                    cb.remote_id = remote_id
                    return

    def remote_id_of(self, conn: Any, callback_id: int) -> int:
        """The server-side registration of callback ``callback_id`` (-1 if none)."""
        with self._lock:
            for cb in self._callbacks:
                if cb.callback_id == callback_id and cb.conn is conn and not cb.deleted:
                    return cb.remote_id
        raise_error(c.VIR_ERR_INVALID_ARG, f"event callback id {callback_id} not registered")

    def callback_count(self, conn: Any = None, family: str | None = None,
                       event_id: int | None = None) -> int:
        """Live registrations, optionally only those of ``conn`` / ``family`` / ``event_id``
        (a remote driver uses this to know when to (de)register on the server)."""
        with self._lock:
            return sum(1 for cb in self._callbacks
                       if not cb.deleted and (conn is None or cb.conn is conn)
                       and (family is None or cb.family == family)
                       and (event_id is None or cb.event_id == event_id))

    def close(self) -> None:
        """The driver instance goes away: drop every callback, the loop timer, queued
        events, listeners, and end all subscriptions."""
        with self._lock:
            for i in range(len(self._callbacks) - 1, -1, -1):
                self._drop(i)
            self._cleanup_timer(clear_queue=True)
            subscriptions, self._subscriptions = self._subscriptions, ()
            self._listeners = ()
        for sub in subscriptions:
            sub.close()

    def _drop(self, index: int) -> None:
        # While dispatching, only mark: the dispatcher holds an index-stable snapshot.
        if self._dispatching:
            self._callbacks[index].deleted = True
        else:
            del self._callbacks[index]

    def _ensure_timer(self) -> None:
        if self._callbacks or self._timer != -1:
            return
        timer = _loop().impl_add_timeout(-1, self._on_timer, None)
        if timer < 0:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "could not initialize domain event timer")
        self._timer = timer

    def _cleanup_timer(self, clear_queue: bool) -> None:
        if self._callbacks or self._timer == -1:
            return
        _loop().impl_remove_timeout(self._timer)
        self._timer = -1
        if clear_queue:
            self._queue.clear()

    # ---- delivery -------------------------------------------------------------------

    def wanted(self) -> bool:
        """Whether an event queued now would reach anyone: a registered callback, a
        listener or a subscription. Without one ``queue()`` drops the event, so a driver
        may skip building it (and importing the record classes to do so)."""
        return self._timer != -1 or bool(self._listeners) or bool(self._subscriptions)

    def queue(self, event: ObjectEvent, remote_id: int = -1) -> None:
        """Publish ``event`` (any thread). Subscriptions and listeners get it now; libvirt
        callbacks at the next run of the event loop, if any are registered.

        Subscriptions see events in the same order as the callbacks (they are fed under the
        state's lock); listeners are called after it is released, so that they may call
        back into the state, and see concurrent publishers' events in either order.

        ``remote_id`` (remote drivers): deliver only to the callbacks tied to that server-side
        registration with ``set_remote()``; local drivers leave it at -1."""
        with self._lock:
            listeners = self._listeners
            if self._timer != -1:
                self._queue.append((event, remote_id))
                if len(self._queue) == 1:
                    _loop().impl_update_timeout(self._timer, 0)
            for sub in self._subscriptions:
                sub._push(event)
        for fn in listeners:
            try:
                fn(event)
            except Exception:
                import logging

                logging.getLogger(__name__).exception("event listener %r failed", fn)

    def _on_timer(self, timer: int, opaque: Any) -> None:
        self.flush()

    def flush(self) -> None:
        """Dispatch the queued events now (the loop timer does this)."""
        with self._lock:
            if self._dispatching:  # re-entered from a callback: the outer flush continues
                return
            events, self._queue = self._queue, []
            self._dispatching = True
            if self._timer != -1:
                _loop().impl_update_timeout(self._timer, -1)
        try:
            for event, remote_id in events:
                with self._lock:
                    # Callbacks added meanwhile see the next event; removed ones are marked.
                    snapshot = list(self._callbacks)
                for cb in snapshot:
                    if cb.matches(event, remote_id):
                        self._dispatch(event, cb)
        finally:
            with self._lock:
                self._callbacks = [cb for cb in self._callbacks if not cb.deleted]
                self._dispatching = False
                self._cleanup_timer(clear_queue=True)

    @staticmethod
    def _dispatch(event: ObjectEvent, cb: _Callback) -> None:
        try:
            args = event.callback_args(cb.conn)
            cb.cb(cb.conn, *args, cb.opaque)
        except Exception:
            # libvirt-python prints the traceback of a failing callback and goes on.
            import traceback

            traceback.print_exc()

    # ---- in-process consumers ---------------------------------------------------------

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event)`` for every queued event, in the queuing thread."""
        with self._lock:
            self._listeners = (*self._listeners, fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            items = list(self._listeners)
            if fn in items:
                items.remove(fn)
                self._listeners = tuple(items)

    def subscribe(self, family: str | None = None, event_id: int | None = None, *,
                  maxsize: int = 0) -> EventSubscription:
        """An async iterator over the events queued from now on (optionally only one family
        / event ID). Use ``async with state.subscribe() as events: async for ev in events``
        or call ``close()``. With ``maxsize``, the oldest events are dropped beyond it
        (counted in ``dropped``)."""
        if family is not None and family not in FAMILIES:
            raise ValueError(f"unknown event family {family!r}")
        sub = EventSubscription(self, family, event_id, maxsize)
        with self._lock:
            self._subscriptions = (*self._subscriptions, sub)
        return sub

    def _unsubscribe(self, sub: EventSubscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not sub)

    # ---- factories for drivers (event by number) ---------------------------------------

    def domain_event(self, event_id: int, name: str, uuid: str, dom_id: int,
                     *payload: Any) -> ObjectEvent:
        from pyvirt.events.types import make_event

        return make_event("domain", event_id, name, uuid, dom_id, *payload)

    def network_event(self, event_id: int, name: str, uuid: str, *payload: Any) -> ObjectEvent:
        from pyvirt.events.types import make_event

        return make_event("network", event_id, name, uuid, *payload)

    def storage_pool_event(self, event_id: int, name: str, uuid: str,
                           *payload: Any) -> ObjectEvent:
        from pyvirt.events.types import make_event

        return make_event("storage_pool", event_id, name, uuid, *payload)

    def node_device_event(self, event_id: int, name: str, *payload: Any) -> ObjectEvent:
        from pyvirt.events.types import make_event

        return make_event("node_device", event_id, name, *payload)

    def secret_event(self, event_id: int, uuid: str, usage_type: int, usage_id: str,
                     *payload: Any) -> ObjectEvent:
        from pyvirt.events.types import make_event

        return make_event("secret", event_id, uuid, usage_type, usage_id, *payload)

    # ---- domain conveniences (handle-taking) ------------------------------------------

    def register_domain(self, conn: Any, dom: Any, event_id: int, callback: Callable[..., Any],
                        opaque: Any) -> int:
        key = None if dom is None else dom.UUIDString()
        return self.register(conn, "domain", event_id, key, callback, opaque)

    def register_domain_legacy(self, conn: Any, callback: Callable[..., Any],
                               opaque: Any) -> int:
        return self.register(conn, "domain", c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, None, callback,
                             opaque, legacy=True)

    def deregister_domain_legacy(self, conn: Any, callback: Callable[..., Any]) -> None:
        self.deregister_legacy(conn, callback)


class EventSubscription:
    """One consumer's FIFO of events from an :class:`EventState` (see ``subscribe``).

    Fed from any thread; consumed by one asyncio task (bound to the loop that first awaits
    it). Events queued before the first ``await`` are kept."""

    def __init__(self, state: EventState, family: str | None, event_id: int | None,
                 maxsize: int) -> None:
        self._state = state
        self.family = family
        self.event_id = event_id
        self.maxsize = maxsize
        self.dropped = 0
        from collections import deque  # here: opening a driver need not import collections

        self._items: deque[ObjectEvent] = deque()
        self._lock = _thread.allocate_lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def _push(self, event: ObjectEvent) -> None:
        if self.family is not None and event.family != self.family:
            return
        if self.event_id is not None and event.event_id != self.event_id:
            return
        with self._lock:
            if self._closed:
                return
            if self.maxsize and len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(event)
            self._wake_locked()

    def _wake_locked(self) -> None:
        waiter, ev_loop = self._waiter, self._loop
        if waiter is None or ev_loop is None:
            return
        self._waiter = None
        try:
            ev_loop.call_soon_threadsafe(_set_done, waiter)
        except RuntimeError:  # the consumer's loop is closed
            pass

    def get_nowait(self) -> ObjectEvent | None:
        """The next event if one is waiting, else None."""
        with self._lock:
            return self._items.popleft() if self._items else None

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> ObjectEvent:
        import asyncio

        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    raise StopAsyncIteration
                self._loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = self._loop.create_future()
                self._waiter = waiter
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def close(self) -> None:
        """Stop receiving; a pending ``__anext__`` ends the iteration after the events
        already received."""
        self._state._unsubscribe(self)
        with self._lock:
            self._closed = True
            self._wake_locked()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
