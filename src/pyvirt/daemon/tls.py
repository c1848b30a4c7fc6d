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
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from functools import lru_cache

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
