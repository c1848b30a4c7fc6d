"""The process-wide event loop indirection and the default (poll-based) implementation.

libvirt needs one event loop implementation per process for its timers and file watches:
either the built-in one (``register_default_impl()``, then the application calls
``run_default_impl()`` in a loop) or a custom one handed over with ``register_impl()``
(libvirtaio registers an asyncio-backed one). Everything in pyvirt that needs the loop (the
per-driver event states, streams, keepalive) goes through the ``impl_*`` functions here.

Two layers, as in libvirt:

* ``impl_add_handle()`` ... ``impl_remove_timeout()``: libvirt's C-level calls. They take a
  free callback ``ff`` and report failure as -1 without raising.
* ``add_handle()`` ... ``remove_timeout()``, ``register_*``, ``run_default_impl()``: the
  libvirt-python module functions (``virEventAddHandle`` ...) with its signatures and
  failures (``libvirtError('virEventAddHandle() failed')``).

A custom implementation is called the way libvirt-python calls it: ``add_handle(fd, events,
cb, opaque)`` where ``cb`` is :func:`invoke_handle_callback` and ``opaque`` is the tuple
``(callback, opaque, ff)``; the implementation calls ``cb(watch, fd, events, opaque)`` and,
once a removed watch is done with, :func:`invoke_free_callback` ``(opaque)``.
"""

from __future__ import annotations

import math
import os
import select
import sys
import threading
import time

from pyvirt import constants as c
from pyvirt.errors import libvirtError, reset_last_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    HandleCallback = Callable[[int, int, int, Any], Any]
    TimeoutCallback = Callable[[int, Any], Any]
    FreeCallback = Callable[[Any], Any]

_HANDLE_TO_POLL = (
    (c.VIR_EVENT_HANDLE_READABLE, select.POLLIN),
    (c.VIR_EVENT_HANDLE_WRITABLE, select.POLLOUT),
    (c.VIR_EVENT_HANDLE_ERROR, select.POLLERR),
    (c.VIR_EVENT_HANDLE_HANGUP, select.POLLHUP),
)


def _to_poll(events: int) -> int:
    return sum(p for v, p in _HANDLE_TO_POLL if events & v)


def _from_poll(revents: int) -> int:
    out = sum(v for v, p in _HANDLE_TO_POLL if revents & p)
    if revents & select.POLLNVAL:  # a closed fd: report it rather than spin silently
        out |= c.VIR_EVENT_HANDLE_ERROR
    return out


# Kept free of logging/traceback/dataclasses imports: this module loads with ``import pyvirt``.


def _print_exc() -> None:
    # libvirt-python prints the traceback of a failing Python callback and carries on.
    import traceback

    traceback.print_exc()


def _call_safely(func: Callable[..., Any], *args: Any) -> None:
    try:
        func(*args)
    except Exception:
        _print_exc()


# ---- the default implementation ---------------------------------------------------------


class _Handle:
    __slots__ = ("watch", "fd", "events", "cb", "opaque", "ff", "deleted", "seq")

    def __init__(self, watch: int, fd: int, events: int, cb: HandleCallback, opaque: Any,
                 ff: FreeCallback | None, seq: int) -> None:
        self.watch = watch
        self.fd = fd
        self.events = events
        self.cb = cb
        self.opaque = opaque
        self.ff = ff
        self.deleted = False
        self.seq = seq  # dispatch order among ready entries (GLib's source attach order)


class _Timer:
    __slots__ = ("timer", "interval", "deadline", "cb", "opaque", "ff", "deleted", "seq")

    def __init__(self, timer: int, interval: int, deadline: float, cb: TimeoutCallback,
                 opaque: Any, ff: FreeCallback | None, seq: int) -> None:
        self.timer = timer
        self.interval = interval  # ms; -1 disabled, 0 every iteration, N every N ms
        self.deadline = deadline  # time.monotonic() of the next firing
        self.cb = cb
        self.opaque = opaque
        self.ff = ff
        self.deleted = False
        self.seq = seq


class DefaultEventLoop:
    """libvirt's default event loop: poll() over the watched fds, periodic timers.

    It follows what libvirt's GLib-based loop does, observably:

    * ready watches and due timers are dispatched in the order their GLib source would have
      been attached (creation, or an update that recreates it);
    * removing a watch leaves a high-priority job (its free callback) which the next
      iteration runs alone; removing a timer leaves an idle-priority job which runs in the
      first iteration where no watch or timer is ready. Either way an iteration with such a
      job pending does not block.

    Thread-safe: watches and timers may be changed from any thread; a change made while
    another thread sits in ``run_once()`` wakes it up so the change takes effect at once.
    Callbacks run in the thread calling ``run_once()``, without any lock held, so they may
    add, update and remove watches and timers (their own included).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._handles: dict[int, _Handle] = {}
        self._timers: dict[int, _Timer] = {}
        self._next_watch = 1
        self._next_timer = 1
        self._next_seq = 0
        # Free callbacks (or None) of removed watches (high priority) and timers (idle).
        self._high_jobs: list[tuple[FreeCallback | None, Any]] = []
        self._idle_jobs: list[tuple[FreeCallback | None, Any]] = []
        self._polling_thread: int | None = None
        # The poll set is rebuilt only after watches changed.
        self._poller: Any = None
        self._fds_dirty = True
        # Self-wakeup: an eventfd (one fd, like GLib's) where there is one, else a pipe.
        if hasattr(os, "eventfd"):
            self._wake_r = self._wake_w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - not Linux
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)

    # -- changes (any thread) --

    def _seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def add_handle(self, fd: int, events: int, cb: HandleCallback, opaque: Any,
                   ff: FreeCallback | None = None) -> int:
        with self._lock:
            watch = self._next_watch
            self._next_watch += 1
            self._handles[watch] = _Handle(watch, fd, events, cb, opaque, ff, self._seq())
            self._fds_dirty = True
            self._wake_if_other_thread()
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            h = self._handles.get(watch)
            if h is None or h.events == events:
                return
            h.events = events
            h.seq = self._seq()
            self._fds_dirty = True
            self._wake_if_other_thread()

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            h = self._handles.pop(watch, None)
            if h is None:
                return -1
            h.deleted = True
            self._high_jobs.append((h.ff, h.opaque))
            self._fds_dirty = True
            self._wake_if_other_thread()
        return 0

    def add_timeout(self, interval: int, cb: TimeoutCallback, opaque: Any,
                    ff: FreeCallback | None = None) -> int:
        with self._lock:
            timer = self._next_timer
            self._next_timer += 1
            self._timers[timer] = _Timer(timer, interval, self._deadline(interval), cb, opaque,
                                         ff, self._seq())
            self._wake_if_other_thread()
        return timer

    def update_timeout(self, timer: int, interval: int) -> None:
        with self._lock:
            t = self._timers.get(timer)
            if t is None:
                return
            # Like libvirt, an update restarts the countdown (a new GLib source).
            t.interval = interval
            t.deadline = self._deadline(interval)
            t.seq = self._seq()
            self._wake_if_other_thread()

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            t = self._timers.pop(timer, None)
            if t is None:
                return -1
            t.deleted = True
            self._idle_jobs.append((t.ff, t.opaque))
            self._wake_if_other_thread()
        return 0

    def interrupt(self) -> None:
        """Wake a thread blocked in ``run_once()`` (it returns after this iteration)."""
        try:
            os.write(self._wake_w, (1).to_bytes(8, "little"))
        except BlockingIOError:  # full (counter or pipe): a wakeup is pending anyway
            pass

    @staticmethod
    def _deadline(interval: int) -> float:
        return time.monotonic() + (interval / 1000.0 if interval > 0 else 0.0)

    def _wake_if_other_thread(self) -> None:
        if self._polling_thread is not None and self._polling_thread != threading.get_ident():
            self.interrupt()

    # -- one iteration (the loop thread) --

    def run_once(self) -> int:
        """Wait for the first due timer or ready fd (or an interrupt, or a pending job from
        a removal), then dispatch the ready entries of the best priority level."""
        with self._run_lock:
            with self._lock:
                high, self._high_jobs = self._high_jobs, []
                if not high:
                    if self._fds_dirty or self._poller is None:
                        self._poller = self._build_poller()
                        self._fds_dirty = False
                    poller = self._poller
                    timeout = 0 if self._idle_jobs else self._poll_timeout()
                    self._polling_thread = threading.get_ident()
            if high:
                _run_jobs(high)
                return 0
            try:
                ready = poller.poll(timeout)
            finally:
                with self._lock:
                    self._polling_thread = None
            revents_by_fd: dict[int, int] = {}
            for fd, revents in ready:
                if fd == self._wake_r:
                    self._drain_wakeups()
                else:
                    revents_by_fd[fd] = revents
            if not self._dispatch_ready(revents_by_fd):
                with self._lock:
                    idle, self._idle_jobs = self._idle_jobs, []
                _run_jobs(idle)
        return 0

    def _dispatch_ready(self, revents_by_fd: dict[int, int]) -> bool:
        """Run the callbacks of ready watches and due timers; False if there were none."""
        now = time.monotonic()
        entries: list[_Handle | _Timer] = []
        with self._lock:
            for h in self._handles.values():
                if h.fd in revents_by_fd and self._handle_events(h, revents_by_fd[h.fd]):
                    entries.append(h)
            for t in self._timers.values():
                if t.interval >= 0 and t.deadline <= now:
                    entries.append(t)
        if not entries:
            return False
        entries.sort(key=lambda e: e.seq)
        for e in entries:
            if isinstance(e, _Handle):
                with self._lock:
                    events = 0 if e.deleted else self._handle_events(e, revents_by_fd[e.fd])
                if events:
                    _call_safely(e.cb, e.watch, e.fd, events, e.opaque)
            else:
                with self._lock:
                    # An earlier callback may have removed, disabled or re-armed it.
                    if e.deleted or e.interval < 0 or e.deadline > now:
                        continue
                    e.deadline = now + e.interval / 1000.0
                _call_safely(e.cb, e.timer, e.opaque)
        return True

    @staticmethod
    def _handle_events(h: _Handle, revents: int) -> int:
        if not h.events:
            return 0
        return _from_poll(revents) & (
            h.events | c.VIR_EVENT_HANDLE_ERROR | c.VIR_EVENT_HANDLE_HANGUP)

    def _build_poller(self) -> Any:
        masks: dict[int, int] = {}
        for h in self._handles.values():
            if h.events and h.fd >= 0:
                masks[h.fd] = masks.get(h.fd, 0) | _to_poll(h.events)
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd, mask in masks.items():
            poller.register(fd, mask)
        return poller

    def _poll_timeout(self) -> int | None:
        """Milliseconds until the first enabled timer is due; None to block."""
        now = time.monotonic()
        nearest: float | None = None
        for t in self._timers.values():
            if t.interval >= 0 and (nearest is None or t.deadline < nearest):
                nearest = t.deadline
        if nearest is None:
            return None
        # Round up: waking a fraction of a millisecond early would spin.
        return max(0, math.ceil((nearest - now) * 1000.0))

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        for fd in {self._wake_r, self._wake_w}:
            try:
                os.close(fd)
            except OSError:
                pass

    # -- introspection (tests) --

    def handle_count(self) -> int:
        with self._lock:
            return len(self._handles)

    def timer_count(self) -> int:
        with self._lock:
            return len(self._timers)


def _run_jobs(jobs: list[tuple[FreeCallback | None, Any]]) -> None:
    for ff, opaque in jobs:
        if ff is not None:
            _call_safely(ff, opaque)


# ---- the process-wide indirection -------------------------------------------------------


class _CustomImpl:
    # A plain class: typing.NamedTuple would cost a third of this module's import time.
    __slots__ = ("add_handle", "update_handle", "remove_handle", "add_timeout",
                 "update_timeout", "remove_timeout")

    def __init__(self, add_handle: Callable[..., Any], update_handle: Callable[..., Any],
                 remove_handle: Callable[..., Any], add_timeout: Callable[..., Any],
                 update_timeout: Callable[..., Any], remove_timeout: Callable[..., Any]) -> None:
        self.add_handle = add_handle
        self.update_handle = update_handle
        self.remove_handle = remove_handle
        self.add_timeout = add_timeout
        self.update_timeout = update_timeout
        self.remove_timeout = remove_timeout


_state_lock = threading.Lock()
_default: DefaultEventLoop | None = None
_custom: _CustomImpl | None = None
_default_registered = False


def _default_loop() -> DefaultEventLoop:
    global _default
    with _state_lock:
        if _default is None:
            _default = DefaultEventLoop()
        return _default


def _active() -> DefaultEventLoop | _CustomImpl | None:
    if _custom is not None:
        return _custom
    if _default_registered:
        return _default
    return None


def is_registered() -> bool:
    """Whether any event loop implementation is registered."""
    return _active() is not None


def invoke_handle_callback(watch: int, fd: int, event: int, opaque: Any,
                           opaquecompat: Any = None) -> int:
    """Run the callback behind a watch of a custom implementation: ``opaque`` is the
    ``(callback, opaque, ff)`` tuple it was given (or, for pre-0.9.2 style callers, the
    callback itself with the opaque in ``opaquecompat``)."""
    if opaquecompat:
        cb, inner = opaque, opaquecompat
    else:
        cb, inner = opaque[0], opaque[1]
    if cb is not None:
        cb(watch, fd, event, inner)
    return 0


def invoke_timeout_callback(timer: int, opaque: Any, opaquecompat: Any = None) -> int:
    """The timer counterpart of :func:`invoke_handle_callback`."""
    if opaquecompat:
        cb, inner = opaque, opaquecompat
    else:
        cb, inner = opaque[0], opaque[1]
    if cb is not None:
        cb(timer, inner)
    return 0


def invoke_free_callback(opaque: Any) -> int:
    """Free the opaque data of a removed watch or timer (``opaque`` as given to the custom
    implementation). Call it from the implementation's own stack, not from within the
    remove call."""
    ff, inner = opaque[2], opaque[1]
    if ff is not None:
        ff(inner)
    return 0


def _custom_call(func: Callable[..., Any], *args: Any) -> int:
    # libvirt-python prints an exception raised by the custom implementation and reports -1.
    try:
        result = func(*args)
    except Exception:
        _print_exc()
        return -1
    try:
        return int(result)
    except (TypeError, ValueError):
        return -1


def impl_add_handle(fd: int, events: int, cb: HandleCallback, opaque: Any,
                    ff: FreeCallback | None = None) -> int:
    """virEventAddHandle (C level): the watch number, or -1 (no implementation, refused)."""
    impl = _active()
    if impl is None:
        return -1
    if isinstance(impl, DefaultEventLoop):
        return impl.add_handle(fd, events, cb, opaque, ff)
    return _custom_call(impl.add_handle, fd, events, invoke_handle_callback, (cb, opaque, ff))


def impl_update_handle(watch: int, events: int) -> None:
    impl = _active()
    if impl is None:
        return
    if isinstance(impl, DefaultEventLoop):
        impl.update_handle(watch, events)
        return
    try:
        impl.update_handle(watch, events)
    except Exception:
        _print_exc()


def impl_remove_handle(watch: int) -> int:
    impl = _active()
    if impl is None:
        return -1
    if isinstance(impl, DefaultEventLoop):
        return impl.remove_handle(watch)
    return _custom_call(impl.remove_handle, watch)


def impl_add_timeout(interval: int, cb: TimeoutCallback, opaque: Any,
                     ff: FreeCallback | None = None) -> int:
    """virEventAddTimeout (C level): the timer number, or -1."""
    impl = _active()
    if impl is None:
        return -1
    if isinstance(impl, DefaultEventLoop):
        return impl.add_timeout(interval, cb, opaque, ff)
    return _custom_call(impl.add_timeout, interval, invoke_timeout_callback, (cb, opaque, ff))


def impl_update_timeout(timer: int, interval: int) -> None:
    impl = _active()
    if impl is None:
        return
    if isinstance(impl, DefaultEventLoop):
        impl.update_timeout(timer, interval)
        return
    try:
        impl.update_timeout(timer, interval)
    except Exception:
        _print_exc()


def impl_remove_timeout(timer: int) -> int:
    impl = _active()
    if impl is None:
        return -1
    if isinstance(impl, DefaultEventLoop):
        return impl.remove_timeout(timer)
    return _custom_call(impl.remove_timeout, timer)


# ---- libvirt-python's module functions --------------------------------------------------


def register_default_impl() -> int:
    """virEventRegisterDefaultImpl: use the built-in loop (unless one is registered)."""
    global _default_registered
    reset_last_error()
    _default_loop()
    with _state_lock:
        if _custom is None:
            _default_registered = True
    return 0


def run_default_impl() -> int:
    """virEventRunDefaultImpl: one iteration of the built-in loop (blocks until a timer is
    due, a watched fd is ready or ``interrupt_default_impl()`` is called)."""
    return _default_loop().run_once()


def interrupt_default_impl() -> None:
    """Wake a thread blocked in ``run_default_impl()``."""
    _default_loop().interrupt()


def register_impl(add_handle: Callable[..., Any], update_handle: Callable[..., Any],
                  remove_handle: Callable[..., Any], add_timeout: Callable[..., Any],
                  update_timeout: Callable[..., Any], remove_timeout: Callable[..., Any]) -> None:
    """virEventRegisterImpl: hand libvirt's timers and watches to an external loop.

    As in libvirt-python, a second custom registration raises RuntimeError; a custom one
    after the default loop was registered is ignored with a warning, as libvirt does."""
    global _custom
    funcs = (add_handle, update_handle, remove_handle, add_timeout, update_timeout,
             remove_timeout)
    if not all(callable(f) for f in funcs):
        raise TypeError("virEventRegisterImpl() arguments must be callable")
    with _state_lock:
        if _custom is not None:
            raise RuntimeError("Event loop is already registered")
        if _default_registered:
            sys.stderr.write("warning : virEventRegisterImpl: "
                             "Ignoring attempt to replace registered event loop\n")
            return
        _custom = _CustomImpl(*funcs)


def add_handle(fd: int, events: int, cb: HandleCallback, opaque: Any) -> int:
    """virEventAddHandle: watch ``fd``; ``cb(watch, fd, events, opaque)`` on readiness."""
    ret = impl_add_handle(fd, events, cb, opaque)
    if ret == -1:
        raise libvirtError("virEventAddHandle() failed")
    return ret


def update_handle(watch: int, events: int) -> None:
    """virEventUpdateHandle: change the events a watch waits for (0 pauses it)."""
    impl_update_handle(watch, events)


def remove_handle(watch: int) -> int:
    """virEventRemoveHandle: 0, or libvirtError if ``watch`` is unknown."""
    ret = impl_remove_handle(watch)
    if ret == -1:
        raise libvirtError("virEventRemoveHandle() failed")
    return ret


def add_timeout(timeout: int, cb: TimeoutCallback, opaque: Any) -> int:
    """virEventAddTimeout: ``cb(timer, opaque)`` every ``timeout`` ms (0: every loop
    iteration, -1: disabled until updated)."""
    ret = impl_add_timeout(timeout, cb, opaque)
    if ret == -1:
        raise libvirtError("virEventAddTimeout() failed")
    return ret


def update_timeout(timer: int, timeout: int) -> None:
    """virEventUpdateTimeout: change a timer's period (restarts its countdown)."""
    impl_update_timeout(timer, timeout)


def remove_timeout(timer: int) -> int:
    """virEventRemoveTimeout: 0, or libvirtError if ``timer`` is unknown."""
    ret = impl_remove_timeout(timer)
    if ret == -1:
        raise libvirtError("virEventRemoveTimeout() failed")
    return ret


def _reset_for_tests() -> None:
    """Forget any registered implementation (libvirt cannot; tests need to)."""
    global _custom, _default_registered, _default
    with _state_lock:
        _custom = None
        _default_registered = False
        old, _default = _default, None
    if old is not None:
        old.close()
