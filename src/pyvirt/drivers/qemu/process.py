"""Starting QEMU processes, watching them exit and ending them.

An exit is seen through a pidfd registered in the driver's event loop, never by polling for
the pid to vanish: on these hosts PID 1 reaps orphans only every second or two, and a guest
the driver reconnected to after a restart is not its child. QEMU runs in its own session so
that it outlives the driver (and a daemon restart) as libvirt's guests do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvirt.drivers.qemu.monitor import LoopThread


def spawn(argv: list[str], log_path: str, pass_fds: list[int],
          env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.Popen[bytes]:
    """Start QEMU with its output appended to ``log_path`` (libvirt's per-guest log, which
    begins each start with the time and the command line), in directory ``cwd`` (the
    guest's run directory: socket paths given relative to it stay short)."""
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        shown = " ".join(shell_quote(a) for a in argv)
        log.write(f"{stamp}.000+0000: starting up\n{shown}\n".encode())
        log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, pass_fds=pass_fds, env=env,
                                cwd=cwd, start_new_session=True, close_fds=True)


# sun_path holds 108 bytes with its NUL: longer socket paths cannot be bound or connected.
SUN_PATH_MAX = 107


def socket_arg(path: str, cwd: str) -> str:
    """How to name socket ``path`` to a QEMU started in ``cwd``: as is, or relative to
    ``cwd`` when the absolute path is too long for a unix socket (deep test or embed roots)."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return path
    return os.path.relpath(path, cwd)


def shell_quote(arg: str) -> str:
    if arg and all(ch.isalnum() or ch in "-_=/.,:@+" for ch in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def log_tail(log_path: str, limit: int = 4096) -> str:
    """The end of a guest's log after its last start (what libvirt quotes when QEMU dies
    before its monitor answers)."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    marker = text.rfind(": starting up\n")
    if marker != -1:
        text = text[marker:].split("\n", 2)[-1]  # drop the marker and the command line
    return text.strip()


class ProcessWatch:
    """Calls ``on_exit()`` once, in the loop's thread, when process ``pid`` has ended.
    ``proc`` is the Popen object when the process is our child (it is then reaped)."""

    def __init__(self, loop: LoopThread, pid: int, on_exit: Callable[[], None],
                 proc: subprocess.Popen[bytes] | None = None) -> None:
        self._loop = loop
        self.pid = pid
        self._proc = proc
        self._on_exit = on_exit
        self._fired = False
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.pidfd = -1
            loop.call_soon(self._fire)
            return
        loop.call_soon(self._register)

    def _register(self) -> None:
        if self.pidfd >= 0:
            self._loop.loop.add_reader(self.pidfd, self._fire)

    def _fire(self) -> None:
        if self._fired:
            return
        self._fired = True
        if self.pidfd >= 0:
            self._loop.loop.remove_reader(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = -1
        if self._proc is not None:
            self._proc.wait()  # readable pidfd: it has exited, this only reaps
        self._on_exit()

    def signal(self, signum: int) -> bool:
        """Send ``signum`` through the pidfd (no pid-reuse race); False if already gone."""
        fd = self.pidfd
        try:
            if fd >= 0:
                signal.pidfd_send_signal(fd, signum)
            else:
                return False
        except (ProcessLookupError, OSError):
            return False
        return True

    def stop_watching(self) -> None:
        """Forget the process without calling ``on_exit`` (driver shutdown)."""
        def unregister() -> None:
            self._fired = True
            if self.pidfd >= 0:
                self._loop.loop.remove_reader(self.pidfd)
                os.close(self.pidfd)
                self.pidfd = -1

        self._loop.call_soon(unregister)
