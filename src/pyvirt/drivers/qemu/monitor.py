"""The QMP monitor of a running guest, over QEMU's own asyncio library (``qemu.qmp``).

All monitors of one driver share a ``LoopThread``: an asyncio loop in a daemon thread.
The driver's synchronous entry points submit coroutines to it and wait with a timeout;
QMP events and the monitor's end of file arrive as calls in that thread.

A ``Monitor`` is a small state machine: NEW -> CONNECTED -> CLOSED. ``connect()`` retries
until QEMU has created its socket (or the process died); ``execute()`` maps QMP errors to
libvirt's ("internal error: unable to execute QEMU command 'cont': ..."); an end of file
that ``close()`` did not cause is reported once through ``on_eof``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    EventHandler = Callable[[str, dict[str, Any], float], None]


class LoopThread:
    """An asyncio loop running in its own daemon thread."""

    def __init__(self, name: str = "pyvirt-qemu") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coro`` in the loop and wait for its result (from any other thread)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.run called from the loop's own thread")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        """Cancel what still runs in the loop (monitors of guests that keep running),
        then end the thread and close the loop."""
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_all(), timeout=5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


def _qemu_error(cmd: str, detail: str) -> None:
    raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unable to execute QEMU command '{cmd}': {detail}",
                domain=c.VIR_FROM_QEMU)


_CLIENT_CLASS: Any = None


def _client_class() -> Any:
    """qemu.qmp's QMPClient, minus the cost of its message hooks: the base hooks log every
    message at debug level, formatting it as JSON first even when debug logging is off
    (about a fifth of a command's round trip here). With debug logging on, they log."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is None:
        import logging

        from qemu.qmp import QMPClient

        class PyvirtQMPClient(QMPClient):  # type: ignore[misc]
            def _cb_outbound(self, msg: Any) -> Any:
                if self.logger.isEnabledFor(logging.DEBUG):
                    return super()._cb_outbound(msg)
                return msg

            def _cb_inbound(self, msg: Any) -> Any:
                if self.logger.isEnabledFor(logging.DEBUG):
                    return super()._cb_inbound(msg)
                return msg

        _CLIENT_CLASS = PyvirtQMPClient
    return _CLIENT_CLASS


class Monitor:
    """One guest's QMP connection."""

    NEW, CONNECTED, CLOSED = "new", "connected", "closed"

    def __init__(self, loop: LoopThread, path: str, name: str, on_event: EventHandler,
                 on_eof: Callable[[], None]) -> None:
        self._loop = loop
        self.path = path
        self.state = self.NEW
        self._client = _client_class()(name)
        self._on_event = on_event
        self._on_eof = on_eof
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []

    # ---- connection -----------------------------------------------------------------------

    def connect(self, timeout: float = 30.0, alive: Callable[[], bool] | None = None) -> None:
        """Connect, retrying while QEMU has not created the socket yet; gives up when
        ``alive()`` says the process died, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                break
            if os.path.exists(self.path):
                try:
                    self._loop.run(self._connect(), timeout=max(1.0, deadline - time.monotonic()))
                    return
                except (OSError, TimeoutError) as exc:
                    last = exc
                except Exception as exc:  # qemu.qmp's ConnectError wraps the OS error
                    last = exc
            time.sleep(0.02)
        self.state = self.CLOSED
        detail = f": {last}" if last else ""
        raise_error(c.VIR_ERR_INTERNAL_ERROR,
                    f"QEMU monitor at {self.path} did not come up{detail}",
                    domain=c.VIR_FROM_QEMU)

    async def _connect(self) -> None:
        path, dir_fd = self.path, -1
        if len(os.fsencode(path)) > 107:
            # Too long for sun_path: reach it through an open descriptor of its directory.
            dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
            path = f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"
        try:
            await self._client.connect(path)
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        self.state = self.CONNECTED
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump_events()),
                       loop.create_task(self._watch_disconnect())]

    async def _pump_events(self) -> None:
        async for message in self._client.events:
            event: dict[str, Any] = dict(message)
            stamp = event.get("timestamp", {})
            when = stamp.get("seconds", 0) + stamp.get("microseconds", 0) / 1e6
            try:
                self._on_event(str(event["event"]), dict(event.get("data", {})), when)
            except Exception:  # a handler bug must not stop event delivery
                import traceback

                traceback.print_exc()

    async def _watch_disconnect(self) -> None:
        from qemu.qmp import Runstate

        while True:
            state = await self._client.runstate_changed()
            if state in (Runstate.DISCONNECTING, Runstate.IDLE):
                break
        eof = self.state == self.CONNECTED and not self._closing
        self.state = self.CLOSED
        # qemu.qmp keeps the reason of an unexpected disconnect (EOFError when QEMU exits)
        # for disconnect() to raise: collect it here, where it is expected.
        try:
            await self._client.disconnect()
        except Exception:
            pass
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if eof:
            self._on_eof()

    def close(self) -> None:
        """Disconnect (the guest keeps running)."""
        if self.state != self.CONNECTED:
            self.state = self.CLOSED
            return
        self._closing = True
        self.state = self.CLOSED
        coro = self._disconnect()
        if self._loop.in_loop():
            self._loop.loop.create_task(coro)
        else:
            try:
                self._loop.run(coro, timeout=5)
            except Exception:
                pass

    async def _disconnect(self) -> None:
        try:
            await self._client.disconnect()
        except Exception:
            pass
        for task in self._tasks:
            task.cancel()

    # ---- commands -------------------------------------------------------------------------

    def execute(self, cmd: str, args: dict[str, Any] | None = None,
                timeout: float = 60.0) -> Any:
        """Run QMP command ``cmd``; its "return" value."""
        if self.state != self.CONNECTED:
            raise_error(c.VIR_ERR_OPERATION_FAILED, "domain is not running",
                        domain=c.VIR_FROM_QEMU)
        try:
            return self._loop.run(self._execute(cmd, args), timeout=timeout)
        except TimeoutError:
            raise_error(c.VIR_ERR_OPERATION_TIMEOUT,
                        f"QEMU command '{cmd}' did not answer within {timeout:g} s",
                        domain=c.VIR_FROM_QEMU)

    async def _execute(self, cmd: str, args: dict[str, Any] | None) -> Any:
        from qemu.qmp import ExecuteError
        from qemu.qmp.protocol import ConnectError, StateError

        try:
            return await self._client.execute(cmd, args)
        except ExecuteError as exc:
            _qemu_error(cmd, exc.error.error.desc)
        except (StateError, ConnectError, EOFError, OSError) as exc:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"Unable to read from monitor: {exc}", domain=c.VIR_FROM_QEMU)

    def execute_with_fd(self, fd: int, fdname: str, timeout: float = 30.0) -> None:
        """Hand ``fd`` to QEMU under ``fdname`` (QMP getfd with SCM_RIGHTS)."""
        if self.state != self.CONNECTED:
            raise_error(c.VIR_ERR_OPERATION_FAILED, "domain is not running",
                        domain=c.VIR_FROM_QEMU)
        self._loop.run(self._getfd(fd, fdname), timeout=timeout)

    async def _getfd(self, fd: int, fdname: str) -> None:
        from qemu.qmp import ExecuteError

        self._client.send_fd_scm(fd)
        try:
            await self._client.execute("getfd", {"fdname": fdname})
        except ExecuteError as exc:
            _qemu_error("getfd", exc.error.error.desc)
