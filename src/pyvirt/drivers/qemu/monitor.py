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
import logging
import os
import threading
import time
from _thread import allocate_lock as _allocate_lock

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
        self.loop.set_exception_handler(_quiet_hangups)
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


log = logging.getLogger(__name__)


def _collect(task: asyncio.Future[Any]) -> None:
    """Mark a finished future's outcome as seen (its failure is expected)."""
    if not task.cancelled():
        task.exception()


def _quiet_hangups(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's handler for errors nobody collected: a QEMU that hung up (or was
    killed) while its monitor was being disconnected is expected, not worth a traceback
    in the log; anything else goes to asyncio's default report."""
    exc = context.get("exception")
    if isinstance(exc, (EOFError, ConnectionError)):
        log.debug("monitor: %s: %r", context.get("message"), exc)
        return
    loop.default_exception_handler(context)


def _qemu_error(cmd: str, detail: str) -> None:
    raise_error(c.VIR_ERR_INTERNAL_ERROR, f"unable to execute QEMU command '{cmd}': {detail}",
                domain=c.VIR_FROM_QEMU)


_CLIENT_CLASS: Any = None

def _client_class() -> Any:
    """qemu.qmp's QMPClient with shortcuts for a synchronous caller in another thread,
    which otherwise pays for a task, two queues, a writer task and two thread wake-ups per
    command:

    * ``send_now()`` writes a command from the calling thread itself, on a duplicate of the
      socket's descriptor, and registers a plain callback that the reader calls with the
      reply: the loop wakes only for the reply. All writes (qemu.qmp's own, descriptor
      passing, ours) go under one lock; a command is written directly only when the
      transport has nothing buffered, so the byte stream keeps its order.
    * ``submit()`` is the same from inside the loop (when a direct write cannot be made).
    * ``event_handler``, when set, receives QMP events straight from the reader instead of
      through an event listener's queue and a task of ours.

    Also skips the cost of the base message hooks, which format every message as JSON for
    the debug log even when debug logging is off (with debug logging on, they log)."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is None:
        import json
        import logging

        from qemu.qmp import QMPClient, Runstate
        from qemu.qmp.message import Message

        class PyvirtQMPClient(QMPClient):  # type: ignore[misc]
            def __init__(self, name: str) -> None:
                super().__init__(name)
                self.event_handler: Callable[[Any], None] | None = None
                self._reply_callbacks: dict[str, Any] = {}
                self._write_lock = threading.Lock()
                self._id_lock = threading.Lock()
                self._direct_fd = -1        # our duplicate of the socket, for send_now
                self._tail = b""            # the unsent end of a short direct write
                self._connected_loop: asyncio.AbstractEventLoop | None = None

            def _cb_outbound(self, msg: Any) -> Any:
                if self.logger.isEnabledFor(logging.DEBUG):
                    return super()._cb_outbound(msg)
                return msg

            def _cb_inbound(self, msg: Any) -> Any:
                if self.logger.isEnabledFor(logging.DEBUG):
                    return super()._cb_inbound(msg)
                return msg

            def _get_exec_id(self) -> str:
                with self._id_lock:  # commands are numbered from two threads
                    return str(super()._get_exec_id())

            # -- writing --

            def _command(self, cmd: str,
                         args: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
                """A new command ID and the command's QMP object."""
                msg_id = self._get_exec_id()
                obj: dict[str, Any] = {"execute": cmd}
                if args is not None:
                    obj["arguments"] = args
                obj["id"] = msg_id
                return msg_id, obj

            def enable_direct_send(self) -> None:
                """After connecting (in the loop): allow send_now from other threads."""
                writer = self._writer
                assert writer is not None
                self._connected_loop = asyncio.get_running_loop()
                with self._write_lock:
                    self._direct_fd = os.dup(writer.transport.get_extra_info("socket").fileno())

            def _flush_tail(self) -> None:
                # with _write_lock held, in the loop
                if self._tail and self._writer is not None:
                    tail, self._tail = self._tail, b""
                    self._writer.write(tail)

            def _do_send(self, msg: Any) -> None:
                with self._write_lock:
                    self._flush_tail()
                    super()._do_send(msg)

            def send_fd_scm(self, fd: int) -> None:
                with self._write_lock:
                    self._flush_tail()
                    super().send_fd_scm(fd)

            def _close_direct(self) -> None:
                with self._write_lock:
                    if self._direct_fd >= 0:
                        os.close(self._direct_fd)
                        self._direct_fd = -1

            def send_now(self, cmd: str, args: dict[str, Any] | None,
                         on_reply: Any) -> str | None:
                """Write ``cmd`` from this (non-loop) thread; ``on_reply`` as for submit().
                None when a direct write is not possible now: use submit() in the loop."""
                with self._write_lock:
                    loop = self._connected_loop
                    if (self._direct_fd < 0 or self._tail or loop is None
                            or self.runstate != Runstate.RUNNING):
                        return None
                    writer = self._writer
                    if writer is None:
                        return None
                    transport = writer.transport
                    if transport.is_closing() or transport.get_write_buffer_size():
                        return None
                    msg_id, obj = self._command(cmd, args)
                    data = json.dumps(obj, separators=(",", ":")).encode()
                    self._reply_callbacks[msg_id] = on_reply
                    try:
                        written = os.write(self._direct_fd, data)
                    except BlockingIOError:
                        written = 0
                    except OSError as exc:
                        self._reply_callbacks.pop(msg_id, None)
                        on_reply(None, exc)
                        return msg_id
                    if written < len(data):
                        # the rest goes through the transport, before anything else
                        self._tail = data[written:]
                        loop.call_soon_threadsafe(self._write_tail_in_loop)
                    return msg_id

            def _write_tail_in_loop(self) -> None:
                with self._write_lock:
                    if self._writer is not None and not self._writer.is_closing():
                        self._flush_tail()
                    else:
                        self._tail = b""

            def submit(self, cmd: str, args: dict[str, Any] | None,
                       on_reply: Any) -> str | None:
                """Send ``cmd`` now (call in the loop); ``on_reply(message, None)`` runs
                in the loop when its reply arrives, ``on_reply(None, exc)`` when the
                connection ends first. None when the client is not connected."""
                if self.runstate != Runstate.RUNNING:
                    on_reply(None, EOFError("not connected"))
                    return None
                msg_id, obj = self._command(cmd, args)
                self._reply_callbacks[msg_id] = on_reply
                try:
                    self._do_send(Message(obj))
                except BaseException as exc:
                    del self._reply_callbacks[msg_id]
                    on_reply(None, exc)
                return msg_id

            def forget(self, msg_id: str) -> None:
                """The waiter gave up: a late reply is dropped."""
                self._reply_callbacks.pop(msg_id, None)

            # -- reading --

            async def _on_message(self, msg: Any) -> None:
                if "event" in msg:
                    if self.event_handler is not None:
                        self.event_handler(msg)
                        return
                else:
                    callback = self._reply_callbacks.pop(msg.get("id"), None)
                    if callback is not None:
                        callback(msg, None)
                        return
                await super()._on_message(msg)

            async def _bh_disconnect(self) -> None:
                self._close_direct()
                callbacks, self._reply_callbacks = self._reply_callbacks, {}
                for callback in callbacks.values():
                    callback(None, EOFError("monitor connection closed"))
                await super()._bh_disconnect()

        _CLIENT_CLASS = PyvirtQMPClient
    return _CLIENT_CLASS


class _ReplyWaiter:
    """One synchronous command's rendezvous: a lock taken at creation and released by the
    loop when the reply (or the connection's end) arrives."""

    __slots__ = ("_done", "reply", "error")

    def __init__(self) -> None:
        self._done = _allocate_lock()
        self._done.acquire()
        self.reply: Any = None
        self.error: BaseException | None = None

    def __call__(self, reply: Any, error: BaseException | None) -> None:
        self.reply, self.error = reply, error
        self._done.release()

    def wait(self, timeout: float) -> bool:
        return self._done.acquire(True, timeout)


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
        self._client.event_handler = self._dispatch_event
        self._client.enable_direct_send()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch_disconnect())]

    def _dispatch_event(self, message: Any) -> None:
        """A QMP event, in the loop, in the order QEMU sent it relative to replies."""
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
        # shielded: a caller that stops waiting (a timeout, the loop's shutdown) must not
        # cancel qemu.qmp half way through its own clean-up
        done = asyncio.ensure_future(self._client.disconnect())
        done.add_done_callback(_collect)
        try:
            await asyncio.shield(done)
        except BaseException:  # noqa: BLE001 - the hang-up is what closing expects
            pass
        for task in self._tasks:
            task.cancel()

    # ---- commands -------------------------------------------------------------------------

    def execute(self, cmd: str, args: dict[str, Any] | None = None,
                timeout: float = 60.0) -> Any:
        """Run QMP command ``cmd``; its "return" value. Called from any thread but the
        loop's: the command is written by the loop and this thread sleeps until the
        reader hands over the reply (see ``PyvirtQMPClient.submit``)."""
        if self.state != self.CONNECTED:
            raise_error(c.VIR_ERR_OPERATION_FAILED, "domain is not running",
                        domain=c.VIR_FROM_QEMU)
        if self._loop.in_loop():
            raise RuntimeError("Monitor.execute called from the monitor loop's own thread")
        waiter = _ReplyWaiter()
        sent: list[str | None] = []
        msg_id = self._client.send_now(cmd, args, waiter)
        if msg_id is not None:
            sent.append(msg_id)
        else:
            self._loop.call_soon(lambda: sent.append(self._client.submit(cmd, args, waiter)))
        if not waiter.wait(timeout):
            self._loop.call_soon(lambda: [self._client.forget(i) for i in sent if i])
            raise_error(c.VIR_ERR_OPERATION_TIMEOUT,
                        f"QEMU command '{cmd}' did not answer within {timeout:g} s",
                        domain=c.VIR_FROM_QEMU)
        if waiter.error is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"Unable to read from monitor: {waiter.error}", domain=c.VIR_FROM_QEMU)
        reply = waiter.reply
        if "error" in reply:
            error = reply["error"]
            _qemu_error(cmd, str(error.get("desc", error)) if isinstance(error, dict)
                        else str(error))
        if "return" not in reply:
            _qemu_error(cmd, "reply without 'return' or 'error'")
        return reply["return"]

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
