"""The default event loop and the process-wide event loop indirection."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pyvirt import constants as c
from pyvirt.errors import libvirtError, reset_last_error
from pyvirt.events import loop
from pyvirt.events.loop import DefaultEventLoop

R = c.VIR_EVENT_HANDLE_READABLE
W = c.VIR_EVENT_HANDLE_WRITABLE


@pytest.fixture
def ev() -> Iterator[DefaultEventLoop]:
    lp = DefaultEventLoop()
    yield lp
    lp.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def clean_registry() -> Iterator[None]:
    loop._reset_for_tests()
    reset_last_error()
    yield
    loop._reset_for_tests()


def test_pipe_readiness_dispatches_handle(ev: DefaultEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    got: list[tuple[Any, ...]] = []
    watch = ev.add_handle(r, R, lambda *a: got.append(a), "op")
    assert watch == 1
    os.write(w, b"x")
    ev.run_once()
    assert got == [(watch, r, R, "op")]


def test_update_handle_to_zero_pauses_watch(ev: DefaultEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    got: list[Any] = []
    watch = ev.add_handle(r, R, lambda *a: got.append(a), None)
    ev.add_timeout(0, lambda *a: None, None)  # keeps run_once from blocking
    os.write(w, b"x")
    ev.update_handle(watch, 0)
    ev.run_once()
    assert got == []
    ev.update_handle(watch, R)
    ev.run_once()
    assert len(got) == 1


def test_writable_and_hangup(ev: DefaultEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    got: list[tuple[Any, ...]] = []
    ev.add_handle(w, W, lambda *a: got.append(a), None)
    ev.run_once()
    assert got[0][2] == W
    got.clear()
    ev.add_handle(r, R, lambda *a: got.append(a), None)
    os.close(w)
    ev.update_handle(1, 0)
    ev.run_once()
    # EOF on a pipe: poll reports a hangup, passed on even though only READABLE was asked.
    assert got and got[0][2] & c.VIR_EVENT_HANDLE_HANGUP


def test_timer_semantics(ev: DefaultEventLoop) -> None:
    fired: list[int] = []
    disabled = ev.add_timeout(-1, lambda t, o: fired.append(t), None)
    every = ev.add_timeout(0, lambda t, o: fired.append(t), None)
    assert (disabled, every) == (1, 2)
    for _ in range(3):
        ev.run_once()
    assert fired == [every, every, every]

    fired.clear()
    ev.update_timeout(every, -1)
    ev.update_timeout(disabled, 30)
    start = time.monotonic()
    ev.run_once()  # blocks until the 30 ms timer is due
    assert fired == [disabled]
    assert time.monotonic() - start >= 0.029
    ev.run_once()  # periodic: fires again after another 30 ms
    assert fired == [disabled, disabled]
    assert time.monotonic() - start >= 0.058


def test_update_timeout_restarts_countdown(ev: DefaultEventLoop) -> None:
    fired: list[float] = []
    t = ev.add_timeout(50, lambda *a: fired.append(time.monotonic()), None)
    time.sleep(0.03)
    start = time.monotonic()
    ev.update_timeout(t, 50)
    ev.run_once()
    assert fired and fired[0] - start >= 0.049


def test_removal_during_dispatch(ev: DefaultEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    got: list[str] = []
    watches: dict[str, int] = {}

    def first(watch: int, fd: int, events: int, opaque: Any) -> None:
        got.append("first")
        ev.remove_handle(watches["second"])

    watches["first"] = ev.add_handle(r, R, first, None)
    watches["second"] = ev.add_handle(r, R, lambda *a: got.append("second"), None)
    os.write(w, b"x")
    ev.run_once()
    assert got == ["first"]
    assert ev.handle_count() == 1

    # The same for timers, and a timer may remove itself.
    got.clear()
    timers: dict[str, int] = {}

    def t1(timer: int, opaque: Any) -> None:
        got.append("t1")
        ev.remove_timeout(timers["t2"])
        ev.remove_timeout(timer)

    ev.remove_handle(watches["first"])
    ev.run_once()  # runs the removal's job only
    timers["t1"] = ev.add_timeout(0, t1, None)
    timers["t2"] = ev.add_timeout(0, lambda *a: got.append("t2"), None)
    ev.run_once()
    assert got == ["t1"]
    assert ev.timer_count() == 0


def test_free_callbacks_run_as_libvirt_glib_jobs(ev: DefaultEventLoop,
                                                 pipe: tuple[int, int]) -> None:
    r, w = pipe
    freed: list[Any] = []
    got: list[str] = []
    # A removed timer's job has idle priority: it waits while anything else is ready.
    t = ev.add_timeout(-1, lambda *a: None, "timer-data", freed.append)
    assert ev.remove_timeout(t) == 0
    every = ev.add_timeout(0, lambda *a: got.append("tick"), None)
    ev.run_once()
    assert (freed, got) == ([], ["tick"])
    ev.update_timeout(every, -1)
    ev.run_once()
    assert freed == ["timer-data"]

    # A removed watch's job has high priority: the next iteration runs it alone.
    h = ev.add_handle(r, R, lambda *a: None, "watch-data", freed.append)
    ev.update_timeout(every, 0)
    assert ev.remove_handle(h) == 0
    ev.run_once()
    assert freed[-1] == "watch-data" and got == ["tick"]
    ev.run_once()
    assert got == ["tick", "tick"]

    assert ev.remove_timeout(t) == -1
    assert ev.remove_handle(99) == -1
    ev.update_timeout(99, 0)  # unknown: ignored, as libvirt does
    ev.update_handle(99, R)


def test_dispatch_order_is_source_attach_order(ev: DefaultEventLoop,
                                                pipe: tuple[int, int]) -> None:
    r, w = pipe
    got: list[str] = []
    t = ev.add_timeout(0, lambda *a: got.append("timer"), None)
    ev.add_handle(r, R, lambda *a: got.append("watch"), None)
    os.write(w, b"x")
    ev.run_once()
    assert got == ["timer", "watch"]
    got.clear()
    ev.update_timeout(t, 0)  # re-attached: now after the watch
    ev.run_once()
    assert got == ["watch", "timer"]


def test_callback_exception_is_printed_and_loop_goes_on(
        ev: DefaultEventLoop, capsys: pytest.CaptureFixture[str]) -> None:
    got: list[int] = []

    def boom(timer: int, opaque: Any) -> None:
        raise RuntimeError("boom")

    ev.add_timeout(0, boom, None)
    ev.add_timeout(0, lambda t, o: got.append(t), None)
    ev.run_once()
    assert got == [2]
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_interrupt_from_another_thread(ev: DefaultEventLoop) -> None:
    done = threading.Event()

    def run() -> None:
        ev.run_once()  # nothing registered: blocks until interrupted
        done.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.05)
    assert not done.is_set()
    ev.interrupt()
    assert done.wait(2)
    th.join(2)


def test_change_from_another_thread_wakes_the_loop(ev: DefaultEventLoop) -> None:
    fired = threading.Event()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            ev.run_once()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.05)
    t = ev.add_timeout(-1, lambda *a: fired.set(), None)
    ev.update_timeout(t, 0)  # the loop thread is blocked in poll(); this must wake it
    assert fired.wait(2)
    stop.set()
    ev.update_timeout(t, -1)
    ev.interrupt()
    th.join(2)
    assert not th.is_alive()


# ---- the module functions (libvirt-python's virEvent*) ----------------------------------


@pytest.mark.usefixtures("clean_registry")
def test_no_impl_registered() -> None:
    assert not loop.is_registered()
    assert loop.impl_add_timeout(0, lambda *a: None, None) == -1
    with pytest.raises(libvirtError, match=r"^virEventAddHandle\(\) failed$"):
        loop.add_handle(0, R, lambda *a: None, None)
    with pytest.raises(libvirtError, match=r"^virEventAddTimeout\(\) failed$"):
        loop.add_timeout(0, lambda *a: None, None)
    with pytest.raises(libvirtError, match=r"^virEventRemoveHandle\(\) failed$"):
        loop.remove_handle(1)
    with pytest.raises(libvirtError, match=r"^virEventRemoveTimeout\(\) failed$"):
        loop.remove_timeout(1)
    assert loop.update_handle(1, R) is None
    assert loop.update_timeout(1, 0) is None


@pytest.mark.usefixtures("clean_registry")
def test_default_impl_through_module_functions(pipe: tuple[int, int]) -> None:
    r, w = pipe
    assert loop.register_default_impl() == 0
    assert loop.register_default_impl() == 0
    got: list[tuple[Any, ...]] = []
    h = loop.add_handle(r, R, lambda *a: got.append(a), "op")
    t = loop.add_timeout(-1, lambda *a: got.append(a), "topq")
    assert (h, t) == (1, 1)
    os.write(w, b"x")
    assert loop.run_default_impl() == 0
    assert got == [(h, r, R, "op")]
    loop.update_timeout(t, 0)
    loop.run_default_impl()
    assert got[-1] == (t, "topq")
    assert loop.remove_handle(h) == 0
    assert loop.remove_timeout(t) == 0
    with pytest.raises(libvirtError, match="virEventRemoveHandle"):
        loop.remove_handle(h)
    # Numbers are not reused.
    assert loop.add_handle(r, R, lambda *a: None, None) == 2


@pytest.mark.usefixtures("clean_registry")
def test_custom_impl_gets_libvirt_python_arguments() -> None:
    calls: list[tuple[Any, ...]] = []

    def add_handle(fd: int, events: int, cb: Any, opaque: Any) -> int:
        calls.append(("add_handle", fd, events, cb, opaque))
        return 7

    def add_timeout(ms: int, cb: Any, opaque: Any) -> int:
        calls.append(("add_timeout", ms, cb, opaque))
        return 9

    loop.register_impl(add_handle, lambda *a: calls.append(("update_handle", *a)),
                       lambda w: 0, add_timeout,
                       lambda *a: calls.append(("update_timeout", *a)), lambda t: 0)
    assert loop.is_registered()
    got: list[tuple[Any, ...]] = []
    freed: list[Any] = []
    assert loop.impl_add_handle(3, R, lambda *a: got.append(a), "op", freed.append) == 7
    _, fd, events, cb, opaque = calls[-1]
    assert (fd, events) == (3, R)
    assert cb is loop.invoke_handle_callback
    assert opaque[1] == "op"
    cb(7, 3, R, opaque)  # what the implementation does when fd 3 is ready
    assert got == [(7, 3, R, "op")]
    loop.invoke_free_callback(opaque)
    assert freed == ["op"]

    assert loop.add_timeout(0, lambda *a: got.append(a), "t") == 9
    _, ms, tcb, topaque = calls[-1]
    assert ms == 0 and tcb is loop.invoke_timeout_callback
    tcb(9, topaque)
    assert got[-1] == (9, "t")
    loop.invoke_free_callback(topaque)  # no free callback: a no-op

    loop.update_timeout(9, 5)
    assert calls[-1] == ("update_timeout", 9, 5)
    assert loop.remove_timeout(9) == 0

    with pytest.raises(RuntimeError, match="Event loop is already registered"):
        loop.register_impl(*[lambda *a: 0] * 6)


@pytest.mark.usefixtures("clean_registry")
def test_custom_impl_failure_is_reported_as_minus_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*a: Any) -> int:
        raise OSError("nope")

    loop.register_impl(broken, broken, broken, broken, broken, broken)
    with pytest.raises(libvirtError, match="virEventAddTimeout"):
        loop.add_timeout(0, lambda *a: None, None)
    assert loop.impl_remove_handle(1) == -1
    loop.update_handle(1, R)  # printed, not raised
    assert "OSError: nope" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_registry")
def test_custom_impl_after_default_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    loop.register_default_impl()
    loop.register_impl(*[lambda *a: 42] * 6)
    assert "Ignoring attempt to replace registered event loop" in capsys.readouterr().err
    assert loop.add_timeout(-1, lambda *a: None, None) == 1  # still the default loop


def test_invoke_callbacks_old_style_opaque() -> None:
    got: list[tuple[Any, ...]] = []
    loop.invoke_handle_callback(1, 2, R, lambda *a: got.append(a), "compat")
    loop.invoke_timeout_callback(3, lambda *a: got.append(a), "compat")
    assert got == [(1, 2, R, "compat"), (3, "compat")]


def test_iteration_after_a_removal_does_not_block(ev: DefaultEventLoop) -> None:
    # libvirt's GLib loop leaves an idle job per removal; the next iteration runs it and
    # returns even when nothing else is pending (libvirt-python programs rely on this).
    t = ev.add_timeout(-1, lambda *a: None, None)
    ev.remove_timeout(t)
    start = time.monotonic()
    ev.run_once()
    assert time.monotonic() - start < 0.5
    done = threading.Event()
    th = threading.Thread(target=lambda: (ev.run_once(), done.set()), daemon=True)
    th.start()
    assert not done.wait(0.1)  # now there is nothing: it blocks
    ev.interrupt()
    assert done.wait(2)
