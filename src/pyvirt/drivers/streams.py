"""Stream backends drivers attach to a virStream (``stream._attach(backend)``).

``MemorySource``/``MemorySink`` serve bytes held in memory (screenshots, small test
volumes); ``FileSource``/``FileSink`` read or write a window ``[offset, offset+length)`` of a
file (volume download/upload), with libvirt's sparse-stream rules: a reader stopping at holes
reports them (``recv`` returns AT_HOLE, ``recv_hole`` their length), a writer turns
``send_hole`` into a seek so the file stays sparse. ``length == 0`` means "to the end".
"""

from __future__ import annotations

import errno
import os
import stat

from pyvirt import constants as c
from pyvirt.api.stream import AT_HOLE
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _stream_error(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_STREAMS)


class _Closed:
    """The part every backend shares: a stream is used until finish() or abort()."""

    def __init__(self) -> None:
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            _stream_error(c.VIR_ERR_OPERATION_INVALID, "stream is closed")

    def _wrong_direction(self, what: str) -> None:
        _stream_error(c.VIR_ERR_OPERATION_INVALID, f"cannot {what} on this stream")


class MemorySource(_Closed):
    """Gives ``data`` to the reader; ``holes`` (offset, length) read as sparse holes."""

    def __init__(self, data: bytes, holes: list[tuple[int, int]] | None = None) -> None:
        super().__init__()
        self.data = data
        self.pos = 0
        self.holes = sorted(holes or [])

    def _hole_at(self, pos: int) -> int:
        """Length of the hole starting at or covering ``pos`` (0: in data)."""
        for start, length in self.holes:
            if start <= pos < start + length:
                return start + length - pos
        return 0

    def _data_run(self, pos: int) -> int:
        end = len(self.data)
        for start, _length in self.holes:
            if start > pos:
                end = min(end, start)
                break
        return end - pos

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        self._check_open()
        if stop_at_hole and self._hole_at(self.pos):
            return AT_HOLE
        run = self._data_run(self.pos) if stop_at_hole else len(self.data) - self.pos
        chunk = self.data[self.pos:self.pos + max(0, min(nbytes, run))]
        self.pos += len(chunk)
        return chunk

    def recv_hole(self) -> int:
        self._check_open()
        length = self._hole_at(self.pos)
        if not length:
            _stream_error(c.VIR_ERR_OPERATION_INVALID, "no hole at the current position")
        self.pos += length
        return length

    def send(self, data: bytes) -> int:
        self._wrong_direction("send")
        return -1

    def send_hole(self, length: int) -> None:
        self._wrong_direction("send a hole")

    def finish(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class MemorySink(_Closed):
    """Collects what the writer sends; ``on_finish(data)`` gets it all on finish()."""

    def __init__(self, on_finish: Callable[[bytes], None] | None = None,
                 limit: int | None = None) -> None:
        super().__init__()
        self.buffer = bytearray()
        self.on_finish = on_finish
        self.limit = limit

    def send(self, data: bytes) -> int:
        self._check_open()
        if self.limit is not None and len(self.buffer) + len(data) > self.limit:
            _stream_error(c.VIR_ERR_OPERATION_INVALID,
                          "stream data exceeds the requested length")
        self.buffer += data
        return len(data)

    def send_hole(self, length: int) -> None:
        self.send(bytes(length))

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        self._wrong_direction("receive")
        return -1

    def recv_hole(self) -> int:
        self._wrong_direction("receive a hole")
        return -1

    def finish(self) -> None:
        self._check_open()
        self.closed = True
        if self.on_finish is not None:
            self.on_finish(bytes(self.buffer))

    def abort(self) -> None:
        self.closed = True


def _size(fd: int) -> int:
    """A file's size; a block device's (an LV, a partition) where st_size says 0."""
    st = os.fstat(fd)
    if stat.S_ISBLK(st.st_mode):
        return os.lseek(fd, 0, os.SEEK_END)
    return st.st_size


class FileSource(_Closed):
    """Reads ``[offset, offset+length)`` of ``path``; reports holes when asked to."""

    def __init__(self, path: str, offset: int = 0, length: int = 0) -> None:
        super().__init__()
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        size = _size(self.fd)
        self.pos = min(offset, size)
        self.end = size if length == 0 else min(size, offset + length)

    def _next_data(self, pos: int) -> int:
        """Where data starts at or after ``pos`` (``end`` if only a hole remains)."""
        try:
            return min(os.lseek(self.fd, pos, os.SEEK_DATA), self.end)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return self.end
            if exc.errno == errno.EINVAL:  # no SEEK_DATA on this filesystem: all data
                return pos
            raise

    def _next_hole(self, pos: int) -> int:
        try:
            return min(os.lseek(self.fd, pos, os.SEEK_HOLE), self.end)
        except OSError:
            return self.end

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        self._check_open()
        if self.pos >= self.end:
            return b""
        limit = self.end
        if stop_at_hole:
            if self._next_data(self.pos) > self.pos:
                return AT_HOLE
            limit = self._next_hole(self.pos)
        count = max(0, min(nbytes, limit - self.pos))
        data = os.pread(self.fd, count, self.pos)
        self.pos += len(data)
        return data

    def recv_hole(self) -> int:
        self._check_open()
        start = self._next_data(self.pos)
        length = start - self.pos
        if length <= 0:
            _stream_error(c.VIR_ERR_OPERATION_INVALID, "no hole at the current position")
        self.pos = start
        return length

    def send(self, data: bytes) -> int:
        self._wrong_direction("send")
        return -1

    def send_hole(self, length: int) -> None:
        self._wrong_direction("send a hole")

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def finish(self) -> None:
        self._close()

    def abort(self) -> None:
        self._close()


class FileSink(_Closed):
    """Writes into ``path`` from ``offset`` on, at most ``length`` bytes (0: no limit);
    holes become seeks, and the file is extended to cover a trailing hole."""

    def __init__(self, path: str, offset: int = 0, length: int = 0) -> None:
        super().__init__()
        self.fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        self.pos = offset
        self.end = None if length == 0 else offset + length

    def _room(self, count: int) -> None:
        if self.end is not None and self.pos + count > self.end:
            _stream_error(c.VIR_ERR_OPERATION_INVALID,
                          "stream data exceeds the requested length")

    def send(self, data: bytes) -> int:
        self._check_open()
        self._room(len(data))
        written = os.pwrite(self.fd, data, self.pos)
        self.pos += written
        return written

    def send_hole(self, length: int) -> None:
        self._check_open()
        self._room(length)
        self.pos += length

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        self._wrong_direction("receive")
        return -1

    def recv_hole(self) -> int:
        self._wrong_direction("receive a hole")
        return -1

    def finish(self) -> None:
        self._check_open()
        st = os.fstat(self.fd)
        if stat.S_ISREG(st.st_mode) and st.st_size < self.pos:  # a device keeps its size
            os.ftruncate(self.fd, self.pos)
        # no fsync: libvirt's file streams (fdstream.c's writer thread) leave write-back
        # to the kernel, and syncing a large upload here cost as long as sending it
        self.closed = True
        os.close(self.fd)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


class CharDeviceStream(_Closed):
    """Both directions of a character device: a guest's console pty (virDomainOpenConsole).
    ``recv`` blocks until the guest writes something; it returns b"" once the device is
    gone (QEMU exited, the pty's other end closed)."""

    POLL_SECONDS = 0.2  # how often a blocked recv notices that the stream was closed

    def __init__(self, path: str) -> None:
        super().__init__()
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            _stream_error(c.VIR_ERR_SYSTEM_ERROR,
                          f"Unable to open tty {path}: {exc.strerror}")
        import termios
        import tty

        try:
            tty.setraw(self.fd, termios.TCSANOW)  # bytes pass untouched, as libvirt's
        except termios.error:
            pass

    def recv(self, nbytes: int, stop_at_hole: bool) -> bytes | int:
        import select

        self._check_open()
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], self.POLL_SECONDS)
                if not ready:
                    continue
                return os.read(self.fd, nbytes)
            except BlockingIOError:
                continue
            except (OSError, ValueError) as exc:
                # EIO: the other end is gone; EBADF: another thread closed the stream
                if self.closed or getattr(exc, "errno", None) == errno.EIO:
                    return b""
                raise

    def recv_hole(self) -> int:
        self._wrong_direction("receive a hole")
        return -1

    def send(self, data: bytes) -> int:
        import select

        self._check_open()
        view = memoryview(data)
        while view:
            select.select([], [self.fd], [], self.POLL_SECONDS)
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                continue
        return len(data)

    def send_hole(self, length: int) -> None:
        self._wrong_direction("send a hole")

    def finish(self) -> None:
        self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
