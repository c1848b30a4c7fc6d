"""virsh's console session (tools/virsh-console.c): the terminal in raw mode relayed to and
from a console stream until the escape character or the end of the stream.

A small state machine: OPEN (relaying) -> CLOSING (escape typed, or stream ended) -> CLOSED.
Imported only when a console is actually opened.
"""

from __future__ import annotations

import enum
import os
import select
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Ctl


class ConsoleState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


def escape_byte(escape: str) -> int:
    """virshGetEscapeChar: "^X" is the control character of X, else the character itself."""
    if escape.startswith("^") and len(escape) == 2:
        return ord(escape[1]) & 0x1F
    return ord(escape[0])


class ConsoleSession:
    """Relays stdin to the stream and the stream to stdout until closed."""

    def __init__(self, stream: Any, escape: int, in_fd: int = 0, out_fd: int = 1) -> None:
        self.stream = stream
        self.escape = escape
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.state = ConsoleState.OPEN
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def _close(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self.state is ConsoleState.OPEN:
                self.state = ConsoleState.CLOSING
                self.error = error

    def _pump_stream(self) -> None:
        try:
            while self.state is ConsoleState.OPEN:
                data = self.stream.recv(1024)
                if isinstance(data, int):  # -2: nothing yet (non-blocking streams)
                    continue
                if not data:
                    break
                os.write(self.out_fd, data)
        except Exception as exc:  # noqa: BLE001 - the stream's failure ends the session
            self._close(exc)
            return
        self._close()

    def run(self) -> bool:
        """Relay until the escape character or the end of the stream; True on a clean end."""
        reader = threading.Thread(target=self._pump_stream, daemon=True)
        reader.start()
        while self.state is ConsoleState.OPEN:
            ready, _, _ = select.select([self.in_fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(self.in_fd, 1024)
            if not data:
                self._close()
                break
            if self.escape in data:
                head = data[:data.index(self.escape)]
                if head:
                    self.stream.send(head)
                self._close()
                break
            try:
                self.stream.send(data)
            except Exception as exc:  # noqa: BLE001
                self._close(exc)
        try:
            if self.error is None:
                self.stream.finish()
            else:
                self.stream.abort()
        except Exception:  # noqa: BLE001 - closing a dead stream
            pass
        self.state = ConsoleState.CLOSED
        return self.error is None


def console_session(ctl: Ctl, dom: Any, devname: str | None, flags: int) -> bool:
    """virshRunConsole: open the console stream, then relay with the terminal in raw mode."""
    import termios
    import tty

    stream = ctl.conn.newStream(0)
    fd = 0
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        dom.openConsole(devname, stream, flags)
        session = ConsoleSession(stream, escape_byte(ctl.escape))
        ok = session.run()
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
    ctl.print()
    if not ok and session.error is not None:
        raise session.error
    return ok
