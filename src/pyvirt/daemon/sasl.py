"""SASL authentication in pyvirtd: AUTH_SASL_INIT / START / STEP as libvirtd's
remote_daemon_dispatch.c runs them.

* INIT, on a socket whose auth is "sasl" and with no exchange in progress, lists the
  mechanisms this connection may use: all of pyvirt.rpc.sasl's on a secure transport (TLS,
  unix socket), on plain TCP only those whose own security layer reaches ``tcp_min_ssf``
  (none of pyvirt's, as none of cyrus's but GSSAPI and DIGEST-MD5 in libvirtd's setups).
* START picks a mechanism and takes the client's first message; STEP the next ones. When the
  mechanism completes, the user must be on ``sasl_allowed_username_list`` (if set); then the
  client is authenticated and its user name kept as its identity.
* Any failure replies VIR_ERR_AUTH_FAILED "authentication failed" (libvirtd hides the
  reason from the client and logs it) and drops the exchange; the client may INIT again.

Users and their SCRAM verifiers come from pyvirt.daemon.saslpasswd.
"""

from __future__ import annotations

import logging
import os

from pyvirt import constants as c
from pyvirt.daemon.config import AUTH_SASL
from pyvirt.daemon.saslpasswd import PasswdFile
from pyvirt.daemon.tls import allowed
from pyvirt.errors import raise_error
from pyvirt.rpc.sasl import MECHANISMS, SSF, SASLError, server_mechanism, usable
from pyvirt.rpc.xdr import chars_to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from pyvirt.daemon.client import ClientSession
    from pyvirt.daemon.config import DaemonConfig

log = logging.getLogger(__name__)

# REMOTE_AUTH_SASL_DATA_MAX
DATA_MAX = 65536


class SaslAuthority:
    """The daemon's SASL settings and user database (libvirtd's saslCtxt)."""

    def __init__(self, config: DaemonConfig) -> None:
        self.users = PasswdFile(config.sasl_passwd_path())
        self.allowed_users = config.sasl_allowed_username_list
        self.tcp_min_ssf = config.tcp_min_ssf
        self.secret = os.urandom(32)

    def mechanisms(self, secure: bool) -> list[str]:
        return [m for m in MECHANISMS if usable(m, secure, self.tcp_min_ssf)]


def _fail(s: ClientSession, why: str) -> NoReturn:
    log.warning("client %d: SASL authentication failed: %s", s.id, why)
    s.sasl_session = None
    raise_error(c.VIR_ERR_AUTH_FAILED, "authentication failed", domain=c.VIR_FROM_RPC)


def _authority(s: ClientSession) -> SaslAuthority:
    authority = s.daemon.sasl
    if s.listener.auth != AUTH_SASL or authority is None:
        _fail(s, "SASL is not this socket's auth type")
    return authority


def auth_sasl_init(s: ClientSession, args: Any) -> Any:
    with s.auth_lock:
        authority = _authority(s)
        if s.sasl_session is not None:
            _fail(s, "client tried invalid SASL init request")
        mechs = authority.mechanisms(s.secure)
        if not mechs:
            _fail(s, f"no SASL mechanisms are available (plain TCP needs an SSF of "
                     f"{authority.tcp_min_ssf}; pyvirt's mechanisms have none: use TLS)")
        s.sasl_session = ("init", mechs)
        return {"mechlist": ",".join(mechs)}


def _reply(s: ClientSession, out: bytes | None) -> Any:
    if out is not None and len(out) > DATA_MAX:
        _fail(s, f"sasl reply data too long {len(out)}")
    mech = s.sasl_session
    assert mech is not None and not isinstance(mech, tuple)
    if not mech.complete:
        return {"complete": 0, "nil": int(out is None), "data": out or b""}
    identity = mech.identity or ""
    authority = s.daemon.sasl
    assert authority is not None
    if not s.secure and SSF[mech.name] < authority.tcp_min_ssf:
        _fail(s, f"negotiated SSF {SSF[mech.name]} was not strong enough")
    if not allowed(authority.allowed_users, identity):
        _fail(s, f"SASL client identity '{identity}' not allowed by ACL")
    s.sasl_username = identity
    s.sasl_session = None
    s.authenticated = True
    log.info("client %d: SASL %s authentication of %r", s.id, mech.name, identity)
    return {"complete": 1, "nil": int(out is None), "data": out or b""}


def _data(args: Any) -> bytes | None:
    # NB: libvirt distinguishes no data (nil) from empty data
    return None if args["nil"] else chars_to_bytes(args["data"])


def auth_sasl_start(s: ClientSession, args: Any) -> Any:
    with s.auth_lock:
        authority = _authority(s)
        state = s.sasl_session
        if not isinstance(state, tuple):
            _fail(s, "client tried invalid SASL start request")
        mech_name = args["mech"]
        if mech_name not in state[1]:
            _fail(s, f"mechanism {mech_name!r} not offered")
        mech = server_mechanism(mech_name, authority.users.lookup, authority.secret)
        s.sasl_session = mech
        try:
            out = mech.start(_data(args))
        except (SASLError, ValueError, OSError) as exc:
            _fail(s, str(exc))
        return _reply(s, out)


def auth_sasl_step(s: ClientSession, args: Any) -> Any:
    with s.auth_lock:
        _authority(s)
        mech = s.sasl_session
        if mech is None or isinstance(mech, tuple):
            _fail(s, "client tried invalid SASL step request")
        try:
            out = mech.step(_data(args))
        except (SASLError, ValueError, OSError) as exc:
            _fail(s, str(exc))
        return _reply(s, out)
