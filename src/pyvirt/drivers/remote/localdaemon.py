"""Plain local URIs (``qemu:///system``, ``qemu:///session``, ``storage:///system``, ...)
through pyvirtd, as libvirt's client library reaches libvirtd: the remote driver over the
daemon's unix socket, with the per-user session daemon started on demand.

Which socket (libvirt's remoteGetURIDaemonInfo + remoteGetUNIXSocket, pyvirt's paths from
:mod:`pyvirt.rundirs`):

* a non-root caller's ``/session`` URI: this user's daemon, ``$XDG_RUNTIME_DIR/pyvirt/
  libvirt-sock`` (read-only opens too: the session daemon has only the one socket that
  matters, and the read-only flag travels in CONNECT_OPEN), autostarted unless
  ``LIBVIRT_AUTOSTART=0``;
* anything else (``/system``, and root's ``/session``, which libvirt also sends to the
  system daemon): root's daemon, ``/run/pyvirt/libvirt-sock``, or ``libvirt-sock-ro`` for a
  read-only open. Never autostarted.

Autostart (libvirt's virNetSocketNewConnectUNIX with a daemon path): when the socket is
missing or refuses, take ``pyvirtd.lock`` in the user's runtime directory (so concurrent
opens start one daemon), try again, and if still nobody answers run ``pyvirtd --daemon
--timeout=120``: it detaches into its own session with stdio on /dev/null and reports
once its sockets listen, so the caller has no child to reap. Then connect, retrying for a
bounded time; a daemon that cannot start ends in libvirt's error ("Failed to connect socket
to '...': ..."), not a hang. ``PYVIRTD_PATH`` names another daemon command (libvirt's
``LIBVIRTD_PATH``), ``PYVIRT_SESSION_DAEMON_TIMEOUT`` another idle timeout in seconds.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import subprocess
import sys
import threading
import time

from pyvirt import constants as c
from pyvirt.drivers.remote import dialers
from pyvirt.errors import raise_error
from pyvirt.rundirs import DAEMON_NAME, RO_SOCKET, RW_SOCKET, SYSTEM_RUN_DIR, user_runtime_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from pyvirt.drivers.remote.driver import RemoteDriver
    from pyvirt.uri import ConnectURI

log = logging.getLogger(__name__)

#: libvirt's virNetSocketForkDaemon passes --timeout=120.
SESSION_TIMEOUT = 120
TIMEOUT_ENV = "PYVIRT_SESSION_DAEMON_TIMEOUT"
DAEMON_PATH_ENV = "PYVIRTD_PATH"
#: Seconds an autostarting open may take in all (libvirt: 500 tries 10 ms apart, plus the
#: time its daemon takes to exec; pyvirtd's start is slower than a C daemon's).
START_DEADLINE = 15.0
# What the daemon inherits (libvirt: virCommandAddEnvPassCommon + the XDG directories);
# PYTHON* so that the daemon runs the same pyvirt, PYVIRT* for its settings.
_PASS_ENV = ("LC_ALL", "LC_CTYPE", "LANG", "LOGNAME", "USER", "HOME", "PATH", "TMPDIR",
             "TZ", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
             "PYTHONPATH")
# A socket that is missing or refuses means nobody serves it (yet).
_NOBODY_THERE = (errno.ENOENT, errno.ECONNREFUSED)
# fcntl locks exclude other processes only: threads of this one queue here first
_start_lock = threading.Lock()


def daemon_socket(uri: ConnectURI, readonly: bool, *, euid: int | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The socket serving ``uri`` and whether to autostart its daemon (module docstring)."""
    env = os.environ if env is None else env
    euid = os.geteuid() if euid is None else euid
    if uri.path == "/session" and euid > 0:
        autostart = env.get("LIBVIRT_AUTOSTART", "") != "0"
        return os.path.join(user_runtime_dir(env), RW_SOCKET), autostart
    return os.path.join(SYSTEM_RUN_DIR, RO_SOCKET if readonly else RW_SOCKET), False


class DaemonDialer:
    """Dials pyvirtd's unix socket, starting the session daemon when ``autostart``."""

    transport = "unix"

    def __init__(self, path: str, autostart: bool = False,
                 deadline: float = START_DEADLINE) -> None:
        self.path = path
        self.autostart = autostart
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"DaemonDialer({self.path!r}, autostart={self.autostart})"

    def dial(self) -> dialers.Channel:
        sock, err = self._try()
        if sock is None and self.autostart and err in _NOBODY_THERE:
            with _start_lock:
                sock, err = self._autostart()
        if sock is None:
            dialers._system_error(f"Failed to connect socket to '{self.path}'", err)
        return dialers.Channel(sock, secure=True)

    def _try(self) -> tuple[socket.socket | None, int]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            return None, exc.errno or errno.EIO
        return sock, 0

    def _autostart(self) -> tuple[socket.socket | None, int]:
        end = time.monotonic() + self.deadline
        rundir = user_runtime_dir()
        try:
            os.makedirs(rundir, mode=0o700, exist_ok=True)
        except OSError as exc:
            dialers._system_error(f"Cannot create user runtime directory '{rundir}'",
                                  exc.errno)
        lockpath = os.path.join(rundir, f"{DAEMON_NAME}.lock")
        try:
            lockfd = os.open(lockpath, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            dialers._system_error(f"Unable to create lock '{lockpath}'", exc.errno)
        try:
            # The lock file is left in place: unlinking it (as libvirt does) lets a waiter
            # hold a lock on the old file while a newcomer locks a new one.
            _lock(lockfd, lockpath, end)
            sock, err = self._try()      # whoever held the lock may have started it
            if sock is not None or err not in _NOBODY_THERE:
                return sock, err
            started = spawn_daemon(end)
            pause = 0.01
            while True:
                sock, err = self._try()
                if sock is not None or err not in _NOBODY_THERE:
                    return sock, err
                # a daemon that failed to start is given up on at once, unless another one
                # (started by hand) holds the pid file and is about to listen
                if time.monotonic() >= end or (not started and not _pid_file_held(rundir)):
                    return None, err
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        finally:
            os.close(lockfd)


def _lock(fd: int, path: str, end: float) -> None:
    """Wait for the autostart lock, for as long as the open may take at most."""
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= end:
                dialers._system_error(f"Unable to lock '{path}'", exc.errno)
        time.sleep(0.01)


def _pid_file_held(rundir: str) -> bool:
    """Whether a daemon holds the pid file in ``rundir`` (pyvirtd locks it for life)."""
    try:
        fd = os.open(os.path.join(rundir, f"{DAEMON_NAME}.pid"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def daemon_command() -> list[str]:
    """The session daemon's command line (libvirt's virNetSocketForkDaemon, plus --daemon:
    pyvirtd detaches itself once it listens)."""
    timeout = os.environ.get(TIMEOUT_ENV) or str(SESSION_TIMEOUT)
    binary = os.environ.get(DAEMON_PATH_ENV)
    base = [binary] if binary else [sys.executable, "-m", "pyvirt.daemon.main"]
    return [*base, "--daemon", f"--timeout={timeout}"]


def _daemon_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASS_ENV or k.startswith("PYVIRT")}
    # the daemon imports the pyvirt the caller runs, wherever that came from
    import pyvirt

    top = os.path.dirname(os.path.dirname(os.path.abspath(pyvirt.__file__)))
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != top]
    env["PYTHONPATH"] = os.pathsep.join([top, *paths])
    return env


def spawn_daemon(end: float) -> bool:
    """Start the session daemon and wait (until ``end`` at most) for it to listen or fail.
    True when it reported ready."""
    argv = daemon_command()
    log.debug("autostarting the session daemon: %s", argv)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd="/", env=_daemon_env(),
                                start_new_session=True)
    except OSError as exc:
        log.debug("cannot run %s: %s", argv[0], exc)
        return False
    try:
        _, err = proc.communicate(timeout=max(end - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        # still starting: the caller keeps trying the socket until its deadline; the
        # launcher (our child, not the daemon) is ended and reaped here
        proc.kill()
        proc.communicate()
        return False
    if proc.returncode != 0:
        log.debug("the session daemon did not start (exit %s): %s", proc.returncode,
                  err.decode(errors="replace").strip())
        return False
    return True


def connect_daemon(uri: ConnectURI, auth: Any, flags: int) -> RemoteDriver:
    """virConnectOpen of a plain local URI outside the daemon: the remote driver over
    pyvirtd's socket (see the module docstring)."""
    from pyvirt.drivers.remote.driver import open_remote

    if uri.transport is not None or uri.host:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"not a local URI: {uri}",
                    domain=c.VIR_FROM_REMOTE)
    path, autostart = daemon_socket(uri, bool(flags & c.VIR_CONNECT_RO))
    return open_remote(uri, auth, flags, dialer=DaemonDialer(path, autostart))
