"""An asyncio event loop implementation for pyvirt, with libvirt-python's libvirtaio API.

    from pyvirt import libvirtaio

    async def main():
        libvirtaio.virEventRegisterAsyncIOImpl()
        conn = pyvirt.open("test:///default")
        ...

``virEventRegisterAsyncIOImpl(loop=None)`` registers a :class:`virEventAsyncIOImpl` through
``pyvirt.virEventRegisterImpl`` so that pyvirt's timers and file watches (event delivery,
streams) run on the asyncio loop. ``is_idle()`` tells whether anything is still registered
or waiting to be freed; ``await drain()`` waits until the pending free callbacks have run.

Unlike libvirt-python's module, the implementation may be called from any thread: work on
the asyncio loop is handed over with ``call_soon_threadsafe`` when the caller is not in the
loop's thread (pyvirt drivers queue events from their own threads).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import warnings

from pyvirt import constants as c
from pyvirt.events import loop as _evloop

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "getCurrentImpl",
    "virEventAsyncIOImpl",
    "virEventRegisterAsyncIOImpl",
]

_RW = c.VIR_EVENT_HANDLE_READABLE | c.VIR_EVENT_HANDLE_WRITABLE

# Watch and timer numbers share one counter across instances, as in libvirt-python.
_ids = itertools.count()


class _Callback:
    def __init__(self, impl: virEventAsyncIOImpl, cb: Callable[..., Any], opaque: Any) -> None:
        self.iden = next(_ids)
        self.impl = impl
        self.cb = cb
        self.opaque = opaque

    def close(self) -> None:
        self.impl.schedule_ff_callback(self.iden, self.opaque)


class _Watch(_Callback):
    def __init__(self, impl: virEventAsyncIOImpl, fd: int, events: int,
                 cb: Callable[..., Any], opaque: Any) -> None:
        super().__init__(impl, cb, opaque)
        self.fd = fd
        self.events = events

    def __repr__(self) -> str:
        return f"<_Watch iden={self.iden} fd={self.fd} events={self.events}>"


class _Timeout(_Callback):
    def __init__(self, impl: virEventAsyncIOImpl, cb: Callable[..., Any], opaque: Any) -> None:
        super().__init__(impl, cb, opaque)
        self.interval = -1
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<_Timeout iden={self.iden} timeout={self.interval}>"

    # Runs in the loop's thread.
    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.interval == 0:
            self._handle = self.impl.loop.call_soon(self._fire)
        elif self.interval > 0:
            self._handle = self.impl.loop.call_later(self.interval / 1000.0, self._fire)

    def _fire(self) -> None:
        self._handle = None
        # Removed from another thread while this call was already on its way.
        if self.interval < 0 or self.impl.callbacks.get(self.iden) is not self:
            return
        self._arm()  # periodic: the next firing is due from now; cb may change it
        self.cb(self.iden, self.opaque)

    def _stop(self) -> None:
        self.interval = -1
        self._arm()


class virEventAsyncIOImpl:  # noqa: N801 - libvirt-python's name
    """pyvirt's event loop implementation over an asyncio loop (default: the running or
    current one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = asyncio.get_event_loop_policy().get_event_loop()
        self.loop = loop
        self.log = logging.getLogger(type(self).__name__)
        self.callbacks: dict[int, _Callback] = {}
        # fd -> watches on it
        self.descriptors: dict[int, dict[int, _Watch]] = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._drain_waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} callbacks={self.callbacks} "
                f"descriptors={self.descriptors}>")

    # ---- public API (libvirtaio's) -------------------------------------------------

    def register(self) -> virEventAsyncIOImpl:
        """Register this instance as pyvirt's event loop implementation."""
        import pyvirt  # looked up now so that tests can patch pyvirt.virEventRegisterImpl

        pyvirt.virEventRegisterImpl(
            self._add_handle, self._update_handle, self._remove_handle,
            self._add_timeout, self._update_timeout, self._remove_timeout)
        return self

    def schedule_ff_callback(self, iden: int, opaque: Any) -> None:
        """Free ``opaque`` of removed watch/timer ``iden`` later, from the loop's own stack
        (never from within the remove call)."""
        try:
            self.loop.call_soon_threadsafe(self._ff_callback, iden, opaque)
        except RuntimeError:  # the loop is closed: nothing will run it later
            self._ff_callback(iden, opaque)

    async def drain(self) -> None:
        """Wait until every pending free callback has run."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                waiter: asyncio.Future[None] = self.loop.create_future()
                self._drain_waiters.append(waiter)
            await waiter

    def is_idle(self) -> bool:
        """False while watches or timers are registered, or their opaques wait to be freed
        (e.g. a connection closed with event callbacks still registered)."""
        with self._lock:
            return not self.callbacks and not self._pending

    # ---- plumbing -----------------------------------------------------------------------

    def _in_loop(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func`` now if we are in the loop's thread (or it is not running), else
        hand it over to that thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop or not self.loop.is_running():
            func(*args)
        else:
            self.loop.call_soon_threadsafe(func, *args)

    def _ff_callback(self, iden: int, opaque: Any) -> None:
        self.log.debug("ff_callback(iden=%d)", iden)
        try:
            _evloop.invoke_free_callback(opaque)
        finally:
            self._pending_dec()

    def _pending_dec(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending:
                return
            waiters, self._drain_waiters = self._drain_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _sync_fd(self, fd: int) -> None:
        """Make the loop's reader/writer for ``fd`` match its watches (loop thread)."""
        with self._lock:
            watches = list(self.descriptors.get(fd, {}).values())
        events = 0
        for w in watches:
            events |= w.events
        if any(w.events & ~_RW for w in watches):
            warnings.warn("The only event supported are VIR_EVENT_HANDLE_READABLE "
                          "and VIR_EVENT_HANDLE_WRITABLE", UserWarning, stacklevel=2)
        if events & c.VIR_EVENT_HANDLE_READABLE:
            self.loop.add_reader(fd, self._dispatch_fd, fd, c.VIR_EVENT_HANDLE_READABLE)
        else:
            self.loop.remove_reader(fd)
        if events & c.VIR_EVENT_HANDLE_WRITABLE:
            self.loop.add_writer(fd, self._dispatch_fd, fd, c.VIR_EVENT_HANDLE_WRITABLE)
        else:
            self.loop.remove_writer(fd)

    def _dispatch_fd(self, fd: int, event: int) -> None:
        with self._lock:
            watches = list(self.descriptors.get(fd, {}).values())
        for w in watches:
            with self._lock:
                if w.iden not in self.callbacks:  # removed by an earlier callback
                    continue
            if w.events & event:
                w.cb(w.iden, fd, event, w.opaque)

    # ---- the six functions handed to virEventRegisterImpl ------------------------------

    def _add_handle(self, fd: int, event: int, cb: Callable[..., Any], opaque: Any) -> int:
        watch = _Watch(self, fd, event, cb, opaque)
        with self._lock:
            self.callbacks[watch.iden] = watch
            self.descriptors.setdefault(fd, {})[watch.iden] = watch
            self._pending += 1
        self.log.debug("add_handle(fd=%d, event=%d) = %d", fd, event, watch.iden)
        self._in_loop(self._sync_fd, fd)
        return watch.iden

    def _update_handle(self, watch: int, event: int) -> None:
        self.log.debug("update_handle(watch=%d, event=%d)", watch, event)
        with self._lock:
            cb = self.callbacks.get(watch)
            if not isinstance(cb, _Watch):
                return
            cb.events = event
        self._in_loop(self._sync_fd, cb.fd)

    def _remove_handle(self, watch: int) -> int:
        self.log.debug("remove_handle(watch=%d)", watch)
        with self._lock:
            cb = self.callbacks.get(watch)
            if not isinstance(cb, _Watch):
                self.log.warning("remove_handle(): no such handle: %r", watch)
                return -1
            del self.callbacks[watch]
            on_fd = self.descriptors.get(cb.fd, {})
            on_fd.pop(watch, None)
            if not on_fd:
                self.descriptors.pop(cb.fd, None)
        self._in_loop(self._sync_fd, cb.fd)
        cb.close()
        return 0

    def _add_timeout(self, timeout: int, cb: Callable[..., Any], opaque: Any) -> int:
        timer = _Timeout(self, cb, opaque)
        with self._lock:
            self.callbacks[timer.iden] = timer
            self._pending += 1
        self.log.debug("add_timeout(timeout=%d) = %d", timeout, timer.iden)
        self._in_loop(self._set_interval, timer, timeout)
        return timer.iden

    def _set_interval(self, timer: _Timeout, timeout: int) -> None:
        with self._lock:
            if self.callbacks.get(timer.iden) is not timer:
                return  # removed before this reached the loop
        timer.interval = timeout
        timer._arm()

    def _update_timeout(self, timer: int, timeout: int) -> None:
        self.log.debug("update_timeout(timer=%d, timeout=%d)", timer, timeout)
        with self._lock:
            cb = self.callbacks.get(timer)
        if isinstance(cb, _Timeout):
            self._in_loop(self._set_interval, cb, timeout)

    def _remove_timeout(self, timer: int) -> int:
        self.log.debug("remove_timeout(timer=%d)", timer)
        with self._lock:
            cb = self.callbacks.get(timer)
            if not isinstance(cb, _Timeout):
                self.log.warning("remove_timeout(): no such timeout: %r", timer)
                return -1
            del self.callbacks[timer]
        self._in_loop(cb._stop)
        cb.close()
        return 0


_current_impl: virEventAsyncIOImpl | None = None


def getCurrentImpl() -> virEventAsyncIOImpl | None:  # noqa: N802 - libvirt-python's name
    """The implementation registered by virEventRegisterAsyncIOImpl(), or None."""
    return _current_impl


def virEventRegisterAsyncIOImpl(  # noqa: N802 - libvirt-python's name
        loop: asyncio.AbstractEventLoop | None = None) -> virEventAsyncIOImpl:
    """Run pyvirt's timers and file watches on the asyncio ``loop`` (default: the running
    or current one). Returns the implementation (usually not needed)."""
    global _current_impl
    _current_impl = virEventAsyncIOImpl(loop=loop).register()
    return _current_impl
