"""pyvirtd's settings: libvirtd.conf's keys, their defaults, and where things live.

The file uses libvirt's conf syntax and is read with pyvirt.config (so syntax and type
errors carry libvirt's wording). Keys pyvirtd honours, with libvirtd's defaults:

====================  ===============  ===================================================
key                   default          meaning
====================  ===============  ===================================================
unix_sock_dir         (see below)      directory of ``libvirt-sock`` / ``libvirt-sock-ro``
unix_sock_group       (daemon's)       group owning the sockets
unix_sock_rw_perms    "0700"           mode of the read-write socket ("0777" with polkit)
unix_sock_ro_perms    "0777"           mode of the read-only socket
auth_unix_rw          "none"           "none" or "polkit" (polkit's default policy: on the
auth_unix_ro          "none"           read-only socket anyone, on the read-write one root
                                       and the daemon's user; pyvirtd cannot ask polkit)
listen_tcp            0                TCP listener (only with ``--listen``)
listen_addr           all addresses    TCP address
tcp_port              "16509"          TCP port
auth_tcp              "sasl"           only "none" is implemented: anything else is refused
                                       at start-up, so TCP is never open by accident
max_clients           5000             connections served at once (more are closed)
max_workers           20               threads running driver calls
prio_workers          5                extra threads for high-priority calls when all
                                       workers are busy
max_client_requests   5                calls in flight per client (then reading pauses)
keepalive_interval    5                seconds of silence before a PING (-1: never ping)
keepalive_count       5                unanswered PINGs before the client is dropped
====================  ===============  ===================================================

Other libvirtd keys are accepted and ignored; ``listen_tls`` set to 1 with ``--listen`` is
refused (no TLS yet). Paths: sockets in ``/run/pyvirt`` for root (beside, not on top of,
a real libvirtd's ``/run/libvirt``; set ``unix_sock_dir = "/run/libvirt"`` to stand in for
it) and ``$XDG_RUNTIME_DIR/pyvirt`` for other users; ``--root DIR`` puts sockets and the
pid file in ``DIR/run`` and the QEMU driver's directories under ``DIR``.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.config import ConfFile, read_conf_file
from pyvirt.errors import raise_error

RW_SOCKET = "libvirt-sock"
RO_SOCKET = "libvirt-sock-ro"
PID_FILE = "pyvirtd.pid"
AUTH_NONE, AUTH_SASL, AUTH_POLKIT = "none", "sasl", "polkit"
_AUTH_NAMES = (AUTH_NONE, AUTH_SASL, AUTH_POLKIT)


class DaemonConfig:
    """Everything pyvirtd's behaviour depends on (a plain record; see the module table)."""

    def __init__(self) -> None:
        self.unix_sock_dir: str | None = None
        self.unix_sock_group: str | None = None
        self.unix_sock_rw_perms: str | None = None   # None: "0700", or "0777" with polkit
        self.unix_sock_ro_perms = "0777"
        self.auth_unix_rw = AUTH_NONE
        self.auth_unix_ro = AUTH_NONE
        self.listen_tcp = False
        self.listen_tls = False
        self.listen_addr: str | None = None
        self.tcp_port = "16509"
        self.auth_tcp = AUTH_SASL
        self.max_clients = 5000
        self.max_workers = 20
        self.prio_workers = 5
        self.max_client_requests = 5
        self.keepalive_interval = 5
        self.keepalive_count = 5
        # command line
        self.listen = False          # --listen: honour listen_tcp
        self.root: str | None = None  # --root DIR
        self.pid_file: str | None = None
        self.timeout = 0              # --timeout SECS: exit when idle (0: never)
        self.config_file: str | None = None

    # ---- derived paths --------------------------------------------------------------

    def socket_dir(self) -> str:
        if self.unix_sock_dir:
            return self.unix_sock_dir
        if self.root:
            return os.path.join(os.path.abspath(self.root), "run")
        if os.geteuid() == 0:
            return "/run/pyvirt"
        runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "pyvirt-runtime")
        return os.path.join(runtime, "pyvirt")

    def rw_socket_path(self) -> str:
        return os.path.join(self.socket_dir(), RW_SOCKET)

    def ro_socket_path(self) -> str:
        return os.path.join(self.socket_dir(), RO_SOCKET)

    def pid_file_path(self) -> str:
        if self.pid_file:
            return self.pid_file
        if self.root:
            return os.path.join(os.path.abspath(self.root), "run", PID_FILE)
        if os.geteuid() == 0:
            return os.path.join("/run", PID_FILE)
        return os.path.join(self.socket_dir(), PID_FILE)

    def rw_perms(self) -> int:
        text = self.unix_sock_rw_perms or ("0777" if self.auth_unix_rw == AUTH_POLKIT
                                           else "0700")
        return _perms(text, "unix_sock_rw_perms")

    def ro_perms(self) -> int:
        return _perms(self.unix_sock_ro_perms, "unix_sock_ro_perms")

    def tcp_enabled(self) -> bool:
        return self.listen and self.listen_tcp

    # ---- loading ------------------------------------------------------------------------

    def load_file(self, path: str) -> None:
        """Apply a libvirtd.conf-syntax file (libvirt's errors for syntax and types)."""
        self.apply(read_conf_file(path))
        self.config_file = path

    def apply(self, conf: ConfFile) -> None:
        name = conf.filename
        for key in ("unix_sock_dir", "unix_sock_group", "unix_sock_rw_perms",
                    "unix_sock_ro_perms", "listen_addr", "tcp_port"):
            value = conf.get_string(key)
            if value is not None:
                setattr(self, key, value)
        for key in ("auth_unix_rw", "auth_unix_ro", "auth_tcp"):
            value = conf.get_string(key)
            if value is not None:
                if value not in _AUTH_NAMES:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                                f"{name}: {key}: unsupported auth {value}",
                                domain=c.VIR_FROM_CONF)
                setattr(self, key, value)
        for key in ("listen_tcp", "listen_tls"):
            flag = conf.get_bool(key)
            if flag is not None:
                setattr(self, key, flag)
        for key in ("max_clients", "max_workers", "prio_workers", "max_client_requests",
                    "keepalive_count"):
            number = conf.get_uint(key)
            if number is not None:
                setattr(self, key, number)
        interval = conf.get_int("keepalive_interval")
        if interval is not None:
            self.keepalive_interval = interval
        if self.max_workers < 1:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "'max_workers' must be greater than 0",
                        domain=c.VIR_FROM_CONF)

    def validate(self) -> None:
        """Refuse what pyvirtd cannot do safely, with a message saying what to change."""
        for key in ("auth_unix_rw", "auth_unix_ro"):
            if getattr(self, key) == AUTH_SASL:
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                            f"{key} = \"sasl\" is not supported by pyvirtd: use \"none\" "
                            "or \"polkit\"", domain=c.VIR_FROM_CONF)
        if self.tcp_enabled() and self.auth_tcp != AUTH_NONE:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"listen_tcp: auth_tcp = \"{self.auth_tcp}\" is not supported by "
                        "pyvirtd; set auth_tcp = \"none\" to serve TCP without "
                        "authentication (trusted networks only), or leave listen_tcp off",
                        domain=c.VIR_FROM_CONF)
        if self.listen and self.listen_tls:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        "listen_tls: TLS is not supported by pyvirtd yet; set listen_tls = 0",
                        domain=c.VIR_FROM_CONF)
        try:
            port = int(self.tcp_port)
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"tcp_port: invalid port '{self.tcp_port}'",
                        domain=c.VIR_FROM_CONF)
        self.rw_perms()
        self.ro_perms()


def _perms(text: str, key: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Failed to parse mode '{text}' ({key})",
                    domain=c.VIR_FROM_CONF)
    return value
