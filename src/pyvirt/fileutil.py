"""File helpers for driver state: every config and status file is replaced atomically, so a
crash at any point leaves either the old or the new content, never a torn file."""

from __future__ import annotations

import os


def atomic_write(path: str, data: bytes | str, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to ``path``: a temporary file in the same directory, fsync, rename
    over the target, then fsync the directory so the rename itself is durable.

    ``durable=False`` skips both fsyncs: still all-or-nothing for a crash of the process,
    for runtime state that lives in a volatile run directory and is rebuilt after a host
    reboot anyway (libvirt's /run)."""
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if not durable:
        return
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def remove_quietly(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def first_autostart(state_dir: str) -> bool:
    """libvirt's virDriverShouldAutostart: True once per host boot for a driver whose
    ``state_dir`` is in a volatile run directory; it leaves a marker there, so a restarted
    daemon (or another process on an embed root) does not start autostart objects again."""
    marker = os.path.join(state_dir, "autostarted")
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return False
    return True


def acquire_driver_lock(state_dir: str) -> int:
    """libvirt's per-driver pid file (``STATE_DIR/driver.pid``, locked while the driver runs):
    a second process on the same directories would take over and then tear down the
    guests, networks or pools the first one runs. The lock goes with the process, even
    when it is killed. Returns the descriptor to keep open; raises libvirtError."""
    import fcntl

    path = os.path.join(state_dir, "driver.pid")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1)
    except OSError as exc:
        os.close(fd)
        from pyvirt import constants as c
        from pyvirt.errors import raise_error

        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Failed to acquire pid file '{path}': {os.strerror(exc.errno or 0)}",
                    domain=c.VIR_FROM_NONE)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def release_driver_lock(state_dir: str, fd: int) -> None:
    """Undo acquire_driver_lock: the file goes, then the lock with the descriptor."""
    remove_quietly(os.path.join(state_dir, "driver.pid"))
    os.close(fd)
