"""pyvirtd's TLS side: the server context, the client certificate check, DN matching.

libvirtd (virnettlscontext.c) asks every TLS client for a certificate, lets the handshake
finish, then checks it: signed by the CA (and not revoked), and its distinguished name on
``tls_allowed_dn_list`` when that is set. A client that fails is disconnected without the
confirmation byte ``\\x01``; one that passes gets that byte before any RPC. With
``tls_no_verify_certificate`` every client passes.

Python's ssl (OpenSSL) verifies the chain inside the handshake (CERT_OPTIONAL: a certificate
is asked for, one that does not verify ends the handshake, none at all lets it finish), so
a bad certificate is refused during the handshake, a missing one or a DN not on the list
right after it; either way the client sees the connection end before the confirmation.
With ``tls_no_verify_certificate`` no certificate is asked for (OpenSSL cannot ask and then
ignore a failed verification), so no DN is known for such clients.

:class:`TLSLayer` runs TLS over the listener's plain transport (ssl.SSLObject on memory
BIOs) rather than asyncio's own SSL transport, for one reason: when a handshake fails,
asyncio closes the socket at once, with the client's last handshake records still unread,
so the kernel resets the connection; libvirt's client writes each record separately and,
outside its poll, does not block SIGPIPE, so virsh died of it. The layer reads and drops what
the client still sends, then closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
from functools import lru_cache

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.daemon.client import ClientSession
    from pyvirt.daemon.config import DaemonConfig

log = logging.getLogger(__name__)

#: the byte the server sends once it accepts a TLS client (virNetServerClientCheckAccess)
CONFIRM = b"\x01"

# OpenSSL's long attribute names -> the short ones GnuTLS writes in a DN.
_DN_NAMES = {
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN",
    "emailAddress": "EMAIL", "domainComponent": "DC", "userId": "UID",
    "streetAddress": "STREET", "title": "title", "givenName": "givenName",
    "surname": "surName", "initials": "initials", "generationQualifier":
    "generationQualifier", "dnQualifier": "dnQualifier", "pseudonym": "pseudonym",
    "serialNumber": "serialNumber", "postalCode": "postalCode", "name": "name",
}
_DN_SPECIAL = frozenset(',+"\\<>;')


def _dn_escape(value: str) -> str:
    """RFC 4514 escaping as GnuTLS does it (``O=Red Hat\\, Inc.``)."""
    out = "".join("\\" + ch if ch in _DN_SPECIAL else ch for ch in value)
    if len(value) > 1 and value.endswith(" "):
        out = out[:-1] + "\\ "
    if value.startswith(("#", " ")):
        out = "\\" + out
    return out


def x509_dname(subject: Any) -> str:
    """The DN of a certificate subject (``getpeercert()["subject"]``) as
    gnutls_x509_crt_get_dn writes it: RDNs in certificate order, comma separated,
    multi-valued ones joined by ``+`` (e.g. ``C=GB,O=Example,CN=client``)."""
    rdns = []
    for rdn in subject:
        rdns.append("+".join(f"{_DN_NAMES.get(name, name)}={_dn_escape(value)}"
                             for name, value in rdn))
    return ",".join(rdns)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    """g_pattern_match_simple: ``*`` any string, ``?`` any one character, nothing else
    special (no classes, no escapes), the whole text must match."""
    return _glob_regex(pattern).fullmatch(text) is not None


def allowed(patterns: list[str] | None, name: str) -> bool:
    """libvirt's ACL rule: no list admits anyone, else some pattern must match."""
    return patterns is None or any(glob_match(p, name) for p in patterns)


def _check_file(what: str, path: str) -> None:
    if not os.path.exists(path):
        raise_error(c.VIR_ERR_SYSTEM_ERROR, domain=c.VIR_FROM_RPC,
                    message=f"Cannot read {what} '{path}': No such file or directory")


def server_context(config: DaemonConfig) -> ssl.SSLContext:
    """The listener's context from the config's files (libvirt's errors for missing ones)."""
    ca, crl, cert, key = config.tls_files()
    _check_file("CA certificate", ca)
    _check_file("certificate", cert)
    _check_file("private key", key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_verify_locations(ca)
    except (ssl.SSLError, OSError) as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, domain=c.VIR_FROM_RPC,
                    message=f"Unable to set x509 CA certificate: {ca}: {exc}")
    if crl:
        try:
            ctx.load_verify_locations(crl)
        except (ssl.SSLError, OSError) as exc:
            raise_error(c.VIR_ERR_SYSTEM_ERROR, domain=c.VIR_FROM_RPC,
                        message=f"Unable to set x509 certificate revocation list: {crl}: "
                                f"{exc}")
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, domain=c.VIR_FROM_RPC,
                    message=f"Unable to set x509 key and certificate: {key}, {cert}: {exc}")
    ctx.verify_mode = ssl.CERT_NONE if config.tls_no_verify_certificate else ssl.CERT_OPTIONAL
    # No TLS 1.3 session tickets (libvirtd's GnuTLS sends none): libvirt's client reads the
    # confirmation byte with one record read once the socket is readable, and a ticket
    # arriving first makes that read fail with EAGAIN.
    ctx.num_tickets = 0
    ctx.options |= ssl.OP_NO_TICKET
    if config.tls_priority and config.tls_priority != "NORMAL":
        log.info("tls_priority %r is a GnuTLS setting: OpenSSL's defaults apply",
                 config.tls_priority)
    return ctx


def check_client(config: DaemonConfig, peercert: Any) -> tuple[bool, str | None]:
    """Whether a client whose handshake finished may stay, and its DN (None if unknown).
    ``peercert`` is the transport's ``peercert`` (a verified certificate, or None)."""
    if config.tls_no_verify_certificate:
        return True, None
    if not peercert:
        log.warning("Certificate check failed Unable to verify TLS peer: No certificate "
                    "was found.")
        return False, None
    dname = x509_dname(peercert.get("subject", ()))
    if not allowed(config.tls_allowed_dn_list, dname):
        log.warning("Certificate check failed Client's Distinguished Name is not on the "
                    "list of allowed clients (tls_allowed_dn_list): '%s'", dname)
        return False, dname
    return True, dname


# After a failed handshake: close once the client has been quiet this long (or after
# DRAIN_MAX seconds in all).
DRAIN_QUIET = 0.2
DRAIN_MAX = 3.0
HANDSHAKE_TIMEOUT = 60.0
_READ_SIZE = 256 * 1024


class TLSLayer(asyncio.Protocol):
    """Server-side TLS between a listener's raw transport and the application protocol
    ``app_factory()`` makes once the handshake succeeds (see the module docstring)."""

    def __init__(self, ctx: ssl.SSLContext, app_factory: Callable[[], ClientSession],
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self._ctx = ctx
        self._factory = app_factory
        self._handshake_timeout = handshake_timeout
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.sslobj: ssl.SSLObject = ctx.wrap_bio(self._in, self._out, server_side=True)
        self.raw: asyncio.Transport | None = None
        self._app: ClientSession | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._draining_until = 0.0

    # -- raw side --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        self._timer = asyncio.get_running_loop().call_later(
            self._handshake_timeout, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self._draining_until:
            self._drain_more()
            return
        self._in.write(data)
        if self._app is None:
            self._handshake()
        if self._app is not None:
            self._read()

    def eof_received(self) -> bool | None:
        if self._app is not None:
            return self._app.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._app is not None:
            self._app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    # -- TLS --

    def flush(self) -> None:
        data = self._out.read()
        if data and self.raw is not None and not self.raw.is_closing():
            self.raw.write(data)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _handshake(self) -> None:
        try:
            self.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return
        except (ssl.SSLError, OSError) as exc:
            self.flush()    # the alert
            log.warning("TLS handshake failed: %s", exc)
            self._start_drain()
            return
        self.flush()
        self._cancel_timer()
        self._app = self._factory()
        self._app.connection_made(TLSAppTransport(self))

    def _start_drain(self) -> None:
        loop = asyncio.get_running_loop()
        self._draining_until = loop.time() + DRAIN_MAX
        self._drain_more()

    def _drain_more(self) -> None:
        """Data while draining: wait for the next quiet period."""
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        delay = max(0.0, min(DRAIN_QUIET, self._draining_until - loop.time()))
        if self.raw is not None:
            self._timer = loop.call_later(delay, self.raw.close)

    def _read(self) -> None:
        app = self._app
        assert app is not None
        while self.raw is not None and not self.raw.is_closing():
            try:
                chunk = self.sslobj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:   # the client's close_notify
                if not app.eof_received():
                    self.raw.close()
                break
            except (ssl.SSLError, OSError) as exc:
                log.info("TLS error from a client: %s", exc)
                self.raw.abort()
                break
            if not chunk:
                break
            app.data_received(chunk)
        self.flush()


class TLSAppTransport(asyncio.Transport):
    """What the application protocol writes to and controls: plain bytes in, TLS records
    out through the layer's raw transport."""

    def __init__(self, layer: TLSLayer) -> None:
        super().__init__()
        self._layer = layer

    def _raw(self) -> asyncio.Transport:
        assert self._layer.raw is not None
        return self._layer.raw

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._raw().is_closing():
            return
        self._layer.sslobj.write(data)
        self._layer.flush()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peercert":
            return self._layer.sslobj.getpeercert()
        if name == "ssl_object":
            return self._layer.sslobj
        if name == "cipher":
            return self._layer.sslobj.cipher()
        return self._raw().get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._raw().is_closing()

    def close(self) -> None:
        self._raw().close()

    def abort(self) -> None:
        self._raw().abort()

    def is_reading(self) -> bool:
        return self._raw().is_reading()

    def pause_reading(self) -> None:
        self._raw().pause_reading()

    def resume_reading(self) -> None:
        self._raw().resume_reading()

    def get_write_buffer_size(self) -> int:
        return self._raw().get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw().set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return False
