"""systemd socket activation and readiness notification for pyvirtd.

Socket activation (the protocol of sd_listen_fds(3), as libvirt's virsystemd.c reads it):
when ``LISTEN_PID`` is this process's pid, ``LISTEN_FDS`` sockets were inherited as fds
3, 4, ... and ``LISTEN_FDNAMES`` names them (colon separated; systemd names each after its
socket unit unless ``FileDescriptorName=`` says otherwise). The variables are removed from
the environment and the fds made close-on-exec, so guests and helpers inherit neither.

The daemon then serves exactly the inherited sockets (libvirtd creates none of its own
once activated, so that a socket unit the administrator disabled stays off), matched to its
listeners by name: ``pyvirtd.socket`` (or libvirtd's ``libvirtd.socket``) is the read-write
unix socket, ``*-ro.socket`` the read-only one, ``*-admin.socket`` the admin socket,
``*-tcp.socket`` and ``*-tls.socket`` the TCP and TLS listeners. A socket whose name is
none of these (or with no ``LISTEN_FDNAMES`` at all, which libvirtd refuses) is matched
by what it is: a unix socket by its bound path against the configured socket paths, a TCP
socket by its port against ``tcp_port`` and ``tls_port``.
A socket nothing claims fails the start, as in libvirtd ("Some activation file descriptors
are unclaimed").

Readiness: with ``NOTIFY_SOCKET`` set (systemd's Type=notify), ``READY=1`` is sent as one
datagram to that unix socket once the daemon listens (``@`` starts an abstract name).
"""

from __future__ import annotations

import logging
import os
import socket

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import MutableMapping

log = logging.getLogger(__name__)

LISTEN_FDS_START = 3
# listener roles, and the socket unit suffixes systemd names their fds after
RW, RO, TCP, TLS, ADMIN = "rw", "ro", "tcp", "tls", "admin"
_SUFFIXES = {".socket": RW, "-ro.socket": RO, "-tcp.socket": TCP, "-tls.socket": TLS,
             "-admin.socket": ADMIN}
# pyvirt's own units, and libvirtd's (pyvirtd may stand in for libvirtd under its units)
_DAEMON_NAMES = ("pyvirtd", "libvirtd")


def role_of_name(name: str) -> str | None:
    """The listener an fd named ``name`` belongs to, or None for a name of neither daemon."""
    for daemon in _DAEMON_NAMES:
        for suffix, role in _SUFFIXES.items():
            if name == daemon + suffix:
                return role
    return None


class Activation:
    """The sockets a service manager passed, each as (fd, name or None)."""

    def __init__(self, fds: list[tuple[int, str | None]]) -> None:
        self.fds = fds

    @classmethod
    def from_environ(cls, env: MutableMapping[str, str] | None = None,
                     pid: int | None = None) -> Activation | None:
        """The sockets passed to this process, or None when it was not socket-activated
        (no ``LISTEN_PID``, another process's, or malformed values: ignored as libvirt)."""
        env = os.environ if env is None else env
        pid = os.getpid() if pid is None else pid
        try:
            if int(env.get("LISTEN_PID", "")) != pid:
                return None
            count = int(env.get("LISTEN_FDS", ""))
        except ValueError:
            return None
        names_text = env.get("LISTEN_FDNAMES")
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(key, None)   # os.environ's pop unsets the variable for children too
        if count <= 0:
            return None
        fds = list(range(LISTEN_FDS_START, LISTEN_FDS_START + count))
        for fd in fds:
            try:
                os.set_inheritable(fd, False)
            except OSError as exc:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"activation file descriptor {fd} is not open: {exc.strerror}",
                            domain=c.VIR_FROM_RPC)
        names: list[str | None] = [None] * count
        if names_text is not None:
            parts = names_text.split(":")
            if len(parts) != count:
                for fd in fds:
                    _close(fd)
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"Expecting {count} FD names but got {len(parts)}",
                            domain=c.VIR_FROM_RPC)
            names = list(parts)
        return cls(list(zip(fds, names)))

    def close(self) -> None:
        """Close every socket not claimed yet."""
        for fd, _name in self.fds:
            _close(fd)
        self.fds = []

    def claim(self, paths: dict[str, str],
              ports: dict[str, int]) -> dict[str, list[socket.socket]]:
        """The inherited listening sockets by role (RW, RO, ADMIN, TCP, TLS); ``paths`` and
        ``ports`` map roles to the configured unix paths and TCP ports, for sockets whose
        name says nothing. Anything unclaimed is an error."""
        claimed: dict[str, list[socket.socket]] = {}
        unclaimed: list[int] = []
        socks: list[socket.socket] = []
        try:
            for index, (fd, name) in enumerate(self.fds):
                try:
                    sock = socket.socket(fileno=fd)
                except OSError as exc:
                    for later, _name in self.fds[index:]:   # none is served: close them all
                        _close(later)
                    self.fds = []
                    raise_error(c.VIR_ERR_INTERNAL_ERROR, f"activation file descriptor "
                                f"{fd} ({name}) is not a socket: {exc.strerror}",
                                domain=c.VIR_FROM_RPC)
                socks.append(sock)
                role = role_of_name(name) if name else None
                if role is None:
                    role = _role_of_address(sock, paths, ports)
                if role is None or sock.type != socket.SOCK_STREAM:
                    unclaimed.append(fd)
                    continue
                claimed.setdefault(role, []).append(sock)
            if unclaimed:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            "Some activation file descriptors are unclaimed",
                            domain=c.VIR_FROM_RPC)
        except BaseException:
            for sock in socks:
                sock.close()
            self.fds = []
            raise
        self.fds = []
        return claimed


def _role_of_address(sock: socket.socket, paths: dict[str, str],
                     ports: dict[str, int]) -> str | None:
    try:
        address = sock.getsockname()
    except OSError:
        return None
    if sock.family == socket.AF_UNIX:
        bound = address.decode(errors="replace") if isinstance(address, bytes) else address
        for role, path in paths.items():
            if bound and os.path.abspath(bound) == os.path.abspath(path):
                return role
        return None
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        for role, port in ports.items():
            if address[1] == port:
                return role
    return None


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def notify(state: str, env: MutableMapping[str, str] | None = None) -> bool:
    """sd_notify(3): send ``state`` (``READY=1``, ...) to ``$NOTIFY_SOCKET``. False when
    there is none or it cannot be reached (a warning: the daemon runs on regardless)."""
    env = os.environ if env is None else env
    path = env.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("Failed to notify systemd (%s): %s", path, exc)
        return False
    return True
