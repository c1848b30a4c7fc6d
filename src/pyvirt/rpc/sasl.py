"""SASL mechanisms for libvirt's AUTH_SASL_* exchange: SCRAM (RFC 5802 / RFC 7677) and PLAIN
(RFC 4616), client and server halves, as small state machines with no I/O.

The daemon (pyvirt.daemon.sasl) and the remote driver (pyvirt.drivers.remote.auth) move the
bytes; these classes only turn one message into the next::

    server = ScramServer("SCRAM-SHA-256", lookup)      client = ScramClient(...)
    first = client.start()              ->  challenge = server.start(first)
    final = client.step(challenge)      ->  outcome = server.step(final)   (server.complete)
    client.step(outcome)                    (client.complete; the server's proof checked)

None of these mechanisms has a security layer (SSF 0): libvirt accepts them only where the
transport is already secure (TLS, unix socket); see :func:`usable`.

Passwords are stored as SCRAM verifiers (:class:`Verifier`, RFC 5803's text form
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``), never in clear; a PLAIN
password is checked by deriving the same keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Mechanism name -> hashlib name (SCRAM) or None (PLAIN).
SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}
PLAIN = "PLAIN"
#: what pyvirt offers, best first (the order a server lists them)
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", PLAIN)
#: security strength factor of each mechanism's own layer (none has one)
SSF = dict.fromkeys(MECHANISMS, 0)
DEFAULT_ITERATIONS = 4096      # RFC 7677's minimum, what cyrus uses
SALT_BYTES = 16
NONCE_BYTES = 18


class SASLError(Exception):
    """The exchange failed (bad message, wrong password, unknown user, forged server)."""


def usable(mech: str, secure: bool, min_ssf: int) -> bool:
    """Whether ``mech`` may be used: any mechanism on a secure transport, otherwise only one
    whose own security layer reaches ``min_ssf`` (libvirt's SASL security properties)."""
    return mech in SSF and (secure or SSF[mech] >= min_ssf)


# ---- SASLprep (RFC 4013), applied to passwords as RFC 5802 asks --------------------------------

_PROHIBITED = (stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3,
               stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6,
               stringprep.in_table_c7, stringprep.in_table_c8, stringprep.in_table_c9)


def saslprep(text: str) -> str:
    """RFC 4013's profile of stringprep (unassigned code points allowed, as for queries)."""
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch for ch in text
                     if not stringprep.in_table_b1(ch))
    out = unicodedata.normalize("NFKC", mapped)
    if not out:
        return out
    for ch in out:
        if any(table(ch) for table in _PROHIBITED):
            raise SASLError(f"prohibited character U+{ord(ch):04X} in a password")
    if any(stringprep.in_table_d1(ch) for ch in out):
        if any(stringprep.in_table_d2(ch) for ch in out) or not (
                stringprep.in_table_d1(out[0]) and stringprep.in_table_d1(out[-1])):
            raise SASLError("invalid bidirectional text in a password")
    return out


# ---- keys and verifiers -------------------------------------------------------------------------


def _hmac(hash_name: str, key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hash_name).digest()


def salted_password(hash_name: str, password: str, salt: bytes, iterations: int) -> bytes:
    """Hi(Normalize(password), salt, i): PBKDF2 with HMAC of the mechanism's hash."""
    return hashlib.pbkdf2_hmac(hash_name, saslprep(password).encode(), salt, iterations)


@dataclass(frozen=True)
class Verifier:
    """What the server keeps for one user and one SCRAM mechanism."""

    mech: str
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def make(cls, mech: str, password: str, salt: bytes | None = None,
             iterations: int = DEFAULT_ITERATIONS) -> Verifier:
        hash_name = SCRAM_HASHES[mech]
        salt = os.urandom(SALT_BYTES) if salt is None else salt
        salted = salted_password(hash_name, password, salt, iterations)
        client_key = _hmac(hash_name, salted, b"Client Key")
        return cls(mech, iterations, salt, hashlib.new(hash_name, client_key).digest(),
                   _hmac(hash_name, salted, b"Server Key"))

    def to_text(self) -> str:
        """RFC 5803's form: ``MECH$iterations:salt$StoredKey:ServerKey`` (base64)."""
        b64 = base64.b64encode
        return (f"{self.mech}${self.iterations}:{b64(self.salt).decode()}$"
                f"{b64(self.stored_key).decode()}:{b64(self.server_key).decode()}")

    @classmethod
    def parse(cls, text: str) -> Verifier:
        try:
            mech, params, keys = text.split("$")
            iterations, salt = params.split(":")
            stored, server = keys.split(":")
            hash_len = hashlib.new(SCRAM_HASHES[mech]).digest_size
            verifier = cls(mech, int(iterations), base64.b64decode(salt, validate=True),
                           base64.b64decode(stored, validate=True),
                           base64.b64decode(server, validate=True))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"not a SCRAM verifier: {text[:40]!r}") from exc
        if verifier.iterations < 1 or len(verifier.stored_key) != hash_len \
                or len(verifier.server_key) != hash_len:
            raise ValueError(f"not a SCRAM verifier: {text[:40]!r}")
        return verifier

    def check_password(self, password: str) -> bool:
        """Whether ``password`` produces this verifier (PLAIN against a SCRAM store)."""
        hash_name = SCRAM_HASHES[self.mech]
        try:
            salted = salted_password(hash_name, password, self.salt, self.iterations)
        except SASLError:
            return False
        client_key = _hmac(hash_name, salted, b"Client Key")
        return hmac.compare_digest(hashlib.new(hash_name, client_key).digest(),
                                   self.stored_key)


# ---- message helpers ----------------------------------------------------------------------------


def _saslname_encode(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _saslname_decode(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            raise SASLError("',' in a saslname")
        if ch == "=":
            code = text[i + 1:i + 3]
            if code not in ("2C", "3D"):
                raise SASLError("bad escape in a saslname")
            out.append("," if code == "2C" else "=")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _attributes(message: str) -> list[tuple[str, str]]:
    """``a=x,b=y`` -> [("a", "x"), ("b", "y")]."""
    pairs = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isalpha():
            raise SASLError(f"malformed SCRAM attribute {part[:20]!r}")
        pairs.append((part[0], part[2:]))
    return pairs


def _text(data: bytes | None) -> str:
    if data is None:
        raise SASLError("SCRAM message missing")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SASLError("SCRAM message is not UTF-8") from exc


def _nonce() -> str:
    return base64.b64encode(os.urandom(NONCE_BYTES)).decode()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


# ---- server side --------------------------------------------------------------------------------

class ServerMechanism:
    """One server-side exchange. ``start`` takes the client's initial response (None for
    none), ``step`` each later message; both return the data to send back (None for none).
    ``complete`` and ``identity`` (the authenticated user) are set on success; any failure
    raises SASLError."""

    name = ""

    def __init__(self) -> None:
        self.complete = False
        self.identity: str | None = None

    def start(self, data: bytes | None) -> bytes | None:
        raise NotImplementedError

    def step(self, data: bytes | None) -> bytes | None:
        raise SASLError(f"{self.name}: unexpected message")


def _authorize(authcid: str, authzid: str) -> str:
    """Who the client may act as: itself only (no proxy authorization, as cyrus's default
    policy without a proxy rule)."""
    if authzid and authzid != authcid:
        raise SASLError(f"{authcid} may not act as {authzid}")
    return authcid


class ScramServer(ServerMechanism):
    """RFC 5802 server: start(client-first) -> server-first; step(client-final) ->
    server-final (``v=``), complete."""

    def __init__(self, mech: str, lookup: Callable[[str, str], Verifier | None],
                 secret: bytes, nonce: str | None = None) -> None:
        super().__init__()
        self.name = mech
        self.hash_name = SCRAM_HASHES[mech]
        self._lookup = lookup
        self._secret = secret          # derives stable fake salts for unknown users
        self._snonce = nonce or _nonce()
        self._verifier: Verifier | None = None
        self._user = ""
        self._authzid = ""
        self._gs2 = ""
        self._first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._state = "initial"

    def start(self, data: bytes | None) -> bytes | None:
        if self._state != "initial":
            raise SASLError("SCRAM exchange already started")
        message = _text(data)
        try:
            flag, authz, bare = message.split(",", 2)
        except ValueError as exc:
            raise SASLError("malformed SCRAM client-first-message") from exc
        if flag.startswith("p="):
            raise SASLError("channel binding is not supported")
        if flag not in ("n", "y"):
            raise SASLError("bad GS2 channel binding flag")
        if authz:
            if not authz.startswith("a="):
                raise SASLError("bad GS2 authzid")
            self._authzid = _saslname_decode(authz[2:])
        attrs = _attributes(bare)
        if attrs and attrs[0][0] == "m":
            raise SASLError("unsupported SCRAM extension")
        if len(attrs) < 2 or attrs[0][0] != "n" or attrs[1][0] != "r" or not attrs[1][1]:
            raise SASLError("malformed SCRAM client-first-message")
        self._user = _saslname_decode(attrs[0][1])
        self._gs2 = f"{flag},{authz},"
        self._first_bare = bare
        self._verifier = self._lookup(self.name, self._user)
        if self._verifier is not None:
            salt, iterations = self._verifier.salt, self._verifier.iterations
        else:   # answer as for a real user, fail at the proof: no user enumeration
            salt = _hmac("sha256", self._secret, self._user.encode())[:SALT_BYTES]
            iterations = DEFAULT_ITERATIONS
        self._nonce = attrs[1][1] + self._snonce
        self._server_first = (f"r={self._nonce},s={base64.b64encode(salt).decode()},"
                              f"i={iterations}")
        self._state = "first-sent"
        return self._server_first.encode()

    def step(self, data: bytes | None) -> bytes | None:
        if self._state != "first-sent":
            raise SASLError("unexpected SCRAM message")
        self._state = "failed"
        message = _text(data)
        attrs = _attributes(message)
        if len(attrs) < 3 or attrs[0][0] != "c" or attrs[1][0] != "r" or attrs[-1][0] != "p":
            raise SASLError("malformed SCRAM client-final-message")
        try:
            binding = base64.b64decode(attrs[0][1], validate=True)
            proof = base64.b64decode(attrs[-1][1], validate=True)
        except ValueError as exc:
            raise SASLError("bad base64 in SCRAM client-final-message") from exc
        if binding != self._gs2.encode():
            raise SASLError("SCRAM channel binding mismatch")
        if attrs[1][1] != self._nonce:
            raise SASLError("SCRAM nonce mismatch")
        verifier = self._verifier
        if verifier is None:
            raise SASLError(f"no such user {self._user!r}")
        without_proof = message[:message.rindex(",p=")]
        auth_message = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(self.hash_name, verifier.stored_key, auth_message)
        client_key = _xor(proof, signature)
        if len(proof) != len(signature) or not hmac.compare_digest(
                hashlib.new(self.hash_name, client_key).digest(), verifier.stored_key):
            raise SASLError(f"wrong password for {self._user!r}")
        self.identity = _authorize(self._user, self._authzid)
        server_signature = _hmac(self.hash_name, verifier.server_key, auth_message)
        self.complete = True
        self._state = "done"
        return b"v=" + base64.b64encode(server_signature)


class PlainServer(ServerMechanism):
    """RFC 4616: one message ``authzid NUL authcid NUL password``."""

    name = PLAIN

    def __init__(self, lookup: Callable[[str, str], Verifier | None]) -> None:
        super().__init__()
        self._lookup = lookup

    def start(self, data: bytes | None) -> bytes | None:
        if data is None:
            raise SASLError("PLAIN needs an initial response")
        try:
            authzid, authcid, password = data.decode("utf-8").split("\0")
        except (UnicodeDecodeError, ValueError) as exc:
            raise SASLError("malformed PLAIN message") from exc
        verifier = self._lookup(PLAIN, authcid)
        if verifier is None or not verifier.check_password(password):
            raise SASLError(f"wrong user or password for {authcid!r}")
        self.identity = _authorize(authcid, authzid)
        self.complete = True
        return None


def server_mechanism(mech: str, lookup: Callable[[str, str], Verifier | None],
                     secret: bytes) -> ServerMechanism:
    if mech in SCRAM_HASHES:
        return ScramServer(mech, lookup, secret)
    if mech == PLAIN:
        return PlainServer(lookup)
    raise SASLError(f"unknown mechanism {mech}")


# ---- client side --------------------------------------------------------------------------------


class ClientMechanism:
    """One client-side exchange: ``start()`` gives the initial response (None for none),
    ``step(server data)`` the next message; ``complete`` once the client is satisfied."""

    name = ""

    def __init__(self) -> None:
        self.complete = False

    def start(self) -> bytes | None:
        raise NotImplementedError

    def step(self, data: bytes | None) -> bytes | None:
        raise SASLError(f"{self.name}: unexpected server message")


class ScramClient(ClientMechanism):
    def __init__(self, mech: str, authcid: str, password: str, authzid: str = "",
                 nonce: str | None = None) -> None:
        super().__init__()
        self.name = mech
        self.hash_name = SCRAM_HASHES[mech]
        self._password = password
        authz = f"a={_saslname_encode(authzid)}" if authzid else ""
        self._gs2 = f"n,{authz},"
        self._first_bare = f"n={_saslname_encode(authcid)},r={nonce or _nonce()}"
        self._server_signature = b""
        self._state = "initial"

    def start(self) -> bytes | None:
        self._state = "first-sent"
        return (self._gs2 + self._first_bare).encode()

    def step(self, data: bytes | None) -> bytes | None:
        if self._state == "first-sent":
            return self._final(_text(data))
        if self._state == "final-sent":
            attrs = _attributes(_text(data))
            if attrs and attrs[0][0] == "e":
                raise SASLError(f"server refused: {attrs[0][1]}")
            if not attrs or attrs[0][0] != "v":
                raise SASLError("malformed SCRAM server-final-message")
            try:
                signature = base64.b64decode(attrs[0][1], validate=True)
            except ValueError as exc:
                raise SASLError("bad base64 in SCRAM server-final-message") from exc
            if not hmac.compare_digest(signature, self._server_signature):
                raise SASLError("the server's SCRAM signature is wrong")
            self.complete = True
            self._state = "done"
            return None
        raise SASLError("unexpected SCRAM message")

    def _final(self, server_first: str) -> bytes:
        attrs = dict(_attributes(server_first))
        nonce, salt_b64, iterations = attrs.get("r"), attrs.get("s"), attrs.get("i")
        cnonce = self._first_bare.split(",r=", 1)[1]
        if not nonce or not nonce.startswith(cnonce) or len(nonce) == len(cnonce) \
                or salt_b64 is None or iterations is None or "m" in attrs:
            raise SASLError("malformed SCRAM server-first-message")
        try:
            salt = base64.b64decode(salt_b64, validate=True)
            rounds = int(iterations)
        except ValueError as exc:
            raise SASLError("malformed SCRAM server-first-message") from exc
        if rounds < 1:
            raise SASLError("bad SCRAM iteration count")
        salted = salted_password(self.hash_name, self._password, salt, rounds)
        client_key = _hmac(self.hash_name, salted, b"Client Key")
        stored_key = hashlib.new(self.hash_name, client_key).digest()
        binding = base64.b64encode(self._gs2.encode()).decode()
        without_proof = f"c={binding},r={nonce}"
        auth_message = f"{self._first_bare},{server_first},{without_proof}".encode()
        proof = _xor(client_key, _hmac(self.hash_name, stored_key, auth_message))
        self._server_signature = _hmac(
            self.hash_name, _hmac(self.hash_name, salted, b"Server Key"), auth_message)
        self._state = "final-sent"
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


class PlainClient(ClientMechanism):
    name = PLAIN

    def __init__(self, authcid: str, password: str, authzid: str = "") -> None:
        super().__init__()
        self._message = f"{authzid}\0{authcid}\0{password}".encode()

    def start(self) -> bytes | None:
        self.complete = True
        return self._message


def client_mechanism(mech: str, authcid: str, password: str,
                     authzid: str = "") -> ClientMechanism:
    if mech in SCRAM_HASHES:
        return ScramClient(mech, authcid, password, authzid)
    if mech == PLAIN:
        return PlainClient(authcid, password, authzid)
    raise SASLError(f"unknown mechanism {mech}")
