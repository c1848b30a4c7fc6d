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
auth_unix_rw          "none"           "none", "polkit" (polkit's default policy: on the
auth_unix_ro          "none"           read-only socket anyone, on the read-write one root
                                       and the daemon's user; pyvirtd cannot ask polkit)
                                       or "sasl"
listen_tcp            0                TCP listener (only with ``--listen``)
listen_tls            1                TLS listener (only with ``--listen``)
listen_addr           all addresses    TCP and TLS address
tcp_port              "16509"          TCP port
tls_port              "16514"          TLS port
auth_tcp              "sasl"           "none" (anyone: trusted networks only) or "sasl"
auth_tls              "none"           "none" (the client certificate is the check) or
                                       "sasl"
ca_file, cert_file,   see below        the CA certificate, the server's certificate and
key_file, crl_file                     key, a revocation list (optional)
tls_no_verify_        0                1: accept clients without a valid certificate
certificate
tls_allowed_dn_list   (anyone)         glob patterns (``*``, ``?``) of client certificate
                                       DNs, as GnuTLS writes them (``C=GB,O=Org,CN=name``)
tls_no_sanity_        0                accepted (pyvirtd does no sanity checks of its own
certificate                            certificate beyond what loading it does)
tls_priority          "NORMAL"         accepted, not used (a GnuTLS priority string;
                                       Python's OpenSSL defaults apply)
sasl_allowed_         (anyone)         glob patterns of SASL user names
username_list
tcp_min_ssf           56               SASL security strength plain TCP needs (>= 112 when
                                       set, as libvirtd)
sasl_passwd_file      (see below)      pyvirt's SASL user database (pyvirt.daemon.saslpasswd)
max_clients           5000             connections served at once (more are closed)
max_anonymous_clients 20               of those, still authenticating
max_queued_clients    1000             listen backlog
min_workers           5                threads running driver calls: started up front,
max_workers           20               and at most (pyvirt.daemon.workers)
prio_workers          5                extra threads only for high-priority calls
max_client_requests   5                calls in flight per client (then reading pauses)
keepalive_interval    5                seconds of silence before a PING (-1: never ping)
keepalive_count       5                unanswered PINGs before the client is dropped
unix_sock_admin_perms "0700"           mode of the admin socket ``libvirt-admin-sock``
admin_min_workers,    5, 20, 5000,     the same settings for the admin server
admin_max_workers,    20, 5, 5, 5      (pyvirt.daemon.admin), which only the daemon's
admin_max_clients,                     own user may use
admin_max_queued_cl.,
admin_max_client_req.,
admin_keepalive_*
host_uuid             (see source)     the host UUID the drivers report (capabilities,
                                       migration: two hosts must differ)
host_uuid_source      "smbios"         or "machine-id" (/etc/machine-id)
log_level             3                1 debug, 2 info, 3 warning, 4 error
log_filters           ""               ``"1:qemu 3:daemon"`` (pyvirt.daemon.logsetup)
log_outputs           (see logsetup)   ``"3:stderr 1:file:/var/log/pyvirtd.log"``
====================  ===============  ===================================================

Other libvirtd keys are accepted and ignored.

TLS: the client must present a certificate signed by the CA (unless
``tls_no_verify_certificate``) whose DN matches ``tls_allowed_dn_list`` when that is set;
otherwise the connection is closed right after the handshake, before the confirmation byte,
as libvirtd does. Files: libvirt's ``/etc/pki/CA/cacert.pem`` (and ``cacrl.pem`` if present),
``/etc/pki/libvirt/servercert.pem``, ``/etc/pki/libvirt/private/serverkey.pem``; a non-root
daemon without ``--root`` first looks in ``~/.pki/libvirt`` (``cacert.pem``,
``servercert.pem``, ``serverkey.pem``) as libvirtd does; under ``--root DIR`` they are
``DIR/etc/pki/...``. Setting any of ca_file, cert_file, key_file needs the other two.

SASL (pyvirt.rpc.sasl): SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN. None has a security layer, so,
as with libvirtd (whose clients and daemon both insist on an SSF of at least 56 on plain TCP),
they are usable only on TLS and unix sockets: ``auth_tcp = "sasl"`` on plain TCP admits no
one (AUTH_SASL_INIT fails with "authentication failed"), use ``auth_tls = "sasl"`` instead.
Users are in ``/etc/pyvirt/passwd.scram`` (root) or ``~/.config/pyvirt/passwd.scram``
(``DIR/etc/passwd.scram`` under ``--root``), added with ``pyvirtd --sasl-passwd USER``.

Paths: sockets in ``/run/pyvirt`` for root (beside, not on top of,
a real libvirtd's ``/run/libvirt``; set ``unix_sock_dir = "/run/libvirt"`` to stand in for
it) and ``$XDG_RUNTIME_DIR/pyvirt`` for other users; ``--root DIR`` puts sockets and the
pid file in ``DIR/run`` and the QEMU driver's directories under ``DIR``.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.config import ConfFile, read_conf_file
from pyvirt.errors import raise_error
from pyvirt.rundirs import ADMIN_SOCKET, RO_SOCKET, RW_SOCKET

PID_FILE = "pyvirtd.pid"
PASSWD_FILE = "passwd.scram"
AUTH_NONE, AUTH_SASL, AUTH_POLKIT = "none", "sasl", "polkit"
# libvirt's PKI locations (src/rpc/virnettlscontext.c)
TLS_CACERT = "/etc/pki/CA/cacert.pem"
TLS_CACRL = "/etc/pki/CA/cacrl.pem"
TLS_SERVERCERT = "/etc/pki/libvirt/servercert.pem"
TLS_SERVERKEY = "/etc/pki/libvirt/private/serverkey.pem"
# tcp_min_ssf may not be set below this (libvirt's SSF_WARNING_LEVEL)
SSF_WARNING_LEVEL = 112
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
        self.listen_tls = True        # libvirtd's default; only with --listen
        self.listen_addr: str | None = None
        self.tcp_port = "16509"
        self.tls_port = "16514"
        self.auth_tcp = AUTH_SASL
        self.auth_tls = AUTH_NONE
        self.ca_file: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.crl_file: str | None = None
        self.tls_no_verify_certificate = False
        self.tls_no_sanity_certificate = False
        self.tls_allowed_dn_list: list[str] | None = None
        self.tls_priority: str | None = None
        self.sasl_allowed_username_list: list[str] | None = None
        self.tcp_min_ssf = 56
        self.sasl_passwd_file: str | None = None
        self.max_clients = 5000
        self.max_anonymous_clients = 20
        self.max_queued_clients = 1000
        self.min_workers = 5
        self.max_workers = 20
        self.prio_workers = 5
        self.max_client_requests = 5
        self.keepalive_interval = 5
        self.keepalive_count = 5
        # the admin server (virt-admin's socket)
        self.unix_sock_admin_perms = "0700"
        self.admin_min_workers = 5
        self.admin_max_workers = 20
        self.admin_max_clients = 5000
        self.admin_max_queued_clients = 20
        self.admin_max_client_requests = 5
        self.admin_keepalive_interval = 5
        self.admin_keepalive_count = 5
        # the host's UUID as the drivers report it (capabilities, migration)
        self.host_uuid: str | None = None
        self.host_uuid_source = "smbios"
        # logging (pyvirt.daemon.logsetup); None: libvirt's default choice
        self.log_level = 3
        self.log_filters: str | None = None
        self.log_outputs: str | None = None
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
        from pyvirt.rundirs import daemon_socket_dir

        # the client's choice too (pyvirt.drivers.remote.localdaemon): they must agree
        return daemon_socket_dir(os.geteuid() == 0)

    def rw_socket_path(self) -> str:
        return os.path.join(self.socket_dir(), RW_SOCKET)

    def ro_socket_path(self) -> str:
        return os.path.join(self.socket_dir(), RO_SOCKET)

    def admin_socket_path(self) -> str:
        return os.path.join(self.socket_dir(), ADMIN_SOCKET)

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

    def admin_perms(self) -> int:
        return _perms(self.unix_sock_admin_perms, "unix_sock_admin_perms")

    def tcp_enabled(self) -> bool:
        return self.listen and self.listen_tcp

    def tls_enabled(self) -> bool:
        return self.listen and self.listen_tls

    def _etc(self, path: str) -> str:
        """A system path under /etc, relocated under --root."""
        if self.root:
            return os.path.join(os.path.abspath(self.root), path.lstrip("/"))
        return path

    def tls_files(self) -> tuple[str, str | None, str, str]:
        """(CA certificate, CRL or None, server certificate, server key), as libvirtd
        locates them (see the module docstring)."""
        if self.ca_file or self.cert_file or self.key_file:
            for value, message in (
                    (self.ca_file, "No CA certificate path set to match server key/cert"),
                    (self.cert_file, "No server certificate path set to match server key"),
                    (self.key_file, "No server key path set to match server cert")):
                if not value:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, message, domain=c.VIR_FROM_CONF)
            assert self.ca_file and self.cert_file and self.key_file
            return self.ca_file, self.crl_file, self.cert_file, self.key_file
        ca, crl = self._etc(TLS_CACERT), self._etc(TLS_CACRL)
        cert, key = self._etc(TLS_SERVERCERT), self._etc(TLS_SERVERKEY)
        if not self.root and os.geteuid() != 0:
            user = os.path.join(os.path.expanduser("~"), ".pki", "libvirt")
            if os.path.exists(os.path.join(user, "cacert.pem")):
                ca = os.path.join(user, "cacert.pem")
            if os.path.exists(os.path.join(user, "cacrl.pem")):
                crl = os.path.join(user, "cacrl.pem")
            ucert, ukey = (os.path.join(user, "servercert.pem"),
                           os.path.join(user, "serverkey.pem"))
            if os.path.exists(ucert) and os.path.exists(ukey):
                cert, key = ucert, ukey
        return ca, crl if os.path.exists(crl) else None, cert, key

    def sasl_passwd_path(self) -> str:
        if self.sasl_passwd_file:
            return self.sasl_passwd_file
        if self.root:
            return os.path.join(os.path.abspath(self.root), "etc", PASSWD_FILE)
        if os.geteuid() == 0:
            return os.path.join("/etc/pyvirt", PASSWD_FILE)
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
            os.path.expanduser("~"), ".config")
        return os.path.join(config, "pyvirt", PASSWD_FILE)

    def uses_sasl(self) -> bool:
        auths = [self.auth_unix_rw, self.auth_unix_ro]
        if self.tcp_enabled():
            auths.append(self.auth_tcp)
        if self.tls_enabled():
            auths.append(self.auth_tls)
        return AUTH_SASL in auths

    # ---- loading ------------------------------------------------------------------------

    def load_file(self, path: str) -> None:
        """Apply a libvirtd.conf-syntax file (libvirt's errors for syntax and types)."""
        self.apply(read_conf_file(path))
        self.config_file = path

    def apply(self, conf: ConfFile) -> None:
        name = conf.filename
        for key in ("unix_sock_dir", "unix_sock_group", "unix_sock_rw_perms",
                    "unix_sock_ro_perms", "unix_sock_admin_perms", "listen_addr", "tcp_port",
                    "tls_port", "ca_file", "cert_file", "key_file", "crl_file", "tls_priority",
                    "sasl_passwd_file", "log_filters", "log_outputs", "host_uuid",
                    "host_uuid_source"):
            value = conf.get_string(key)
            if value is not None:
                setattr(self, key, value)
        for key in ("auth_unix_rw", "auth_unix_ro", "auth_tcp", "auth_tls"):
            value = conf.get_string(key)
            if value is not None:
                if value not in _AUTH_NAMES:
                    raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                                f"{name}: {key}: unsupported auth {value}",
                                domain=c.VIR_FROM_CONF)
                setattr(self, key, value)
        for key in ("listen_tcp", "listen_tls", "tls_no_verify_certificate",
                    "tls_no_sanity_certificate"):
            flag = conf.get_bool(key)
            if flag is not None:
                setattr(self, key, flag)
        for key in ("max_clients", "max_anonymous_clients", "max_queued_clients",
                    "min_workers", "max_workers", "prio_workers", "max_client_requests",
                    "keepalive_count", "admin_min_workers", "admin_max_workers",
                    "admin_max_clients", "admin_max_queued_clients",
                    "admin_max_client_requests", "admin_keepalive_count", "log_level"):
            number = conf.get_uint(key)
            if number is not None:
                setattr(self, key, number)
        for key in ("tls_allowed_dn_list", "sasl_allowed_username_list"):
            patterns = conf.get_string_list(key)
            if patterns is not None:
                setattr(self, key, patterns)
        min_ssf = conf.get_uint("tcp_min_ssf")
        if min_ssf is not None:
            if min_ssf < SSF_WARNING_LEVEL:
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                            f"minimum SSF levels lower than {SSF_WARNING_LEVEL} are not "
                            "supported", domain=c.VIR_FROM_CONF)
            self.tcp_min_ssf = min_ssf
        for key in ("keepalive_interval", "admin_keepalive_interval"):
            interval = conf.get_int(key)
            if interval is not None:
                setattr(self, key, interval)
        if self.max_workers < 1:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "'max_workers' must be greater than 0",
                        domain=c.VIR_FROM_CONF)

    def validate(self) -> None:
        """Refuse settings libvirtd would refuse, with its wording."""
        if self.tls_enabled():
            self.tls_files()
        for key in ("tcp_port", "tls_port"):
            text = getattr(self, key)
            try:
                port = int(text)
            except ValueError:
                port = -1
            if not 0 <= port <= 65535:
                raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"{key}: invalid port '{text}'",
                            domain=c.VIR_FROM_CONF)
        self.rw_perms()
        self.ro_perms()
        self.admin_perms()
        if self.host_uuid_source not in ("smbios", "machine-id"):
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"invalid UUID source: {self.host_uuid_source}",
                        domain=c.VIR_FROM_CONF)
        from pyvirt.daemon import logsetup

        logsetup.parse_level(self.log_level)
        if self.log_filters:
            logsetup.parse_filters(self.log_filters)
        if self.log_outputs:
            logsetup.parse_outputs(self.log_outputs)


def _perms(text: str, key: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Failed to parse mode '{text}' ({key})",
                    domain=c.VIR_FROM_CONF)
    return value
