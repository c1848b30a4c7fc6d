"""SCRAM and PLAIN (pyvirt.rpc.sasl): the RFC test vectors, refusals, verifiers, SASLprep."""

from __future__ import annotations

import base64

import pytest

from pyvirt.rpc.sasl import (
    PlainClient,
    PlainServer,
    SASLError,
    ScramClient,
    ScramServer,
    Verifier,
    saslprep,
    usable,
)

# RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256): user "user",
# password "pencil".
VECTORS = [
    ("SCRAM-SHA-1", "QSXCR+Q6sek8bf92", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
     "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    ("SCRAM-SHA-256", "W22ZaJ0SNY7soEsUEjb6gQ==", "rOprNGfwEbeRWgbNEkqO",
     "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
]


def _lookup(verifier: Verifier | None):  # type: ignore[no-untyped-def]
    return lambda mech, user: verifier if user == "user" else None


@pytest.mark.parametrize("mech, salt, cnonce, snonce, proof, signature", VECTORS)
def test_rfc_vectors(mech: str, salt: str, cnonce: str, snonce: str, proof: str,
                     signature: str) -> None:
    verifier = Verifier.make(mech, "pencil", base64.b64decode(salt), 4096)
    server = ScramServer(mech, _lookup(verifier), b"secret", nonce=snonce)
    client = ScramClient(mech, "user", "pencil", nonce=cnonce)
    first = client.start()
    assert first == f"n,,n=user,r={cnonce}".encode()
    server_first = server.start(first)
    assert server_first == f"r={cnonce}{snonce},s={salt},i=4096".encode()
    final = client.step(server_first)
    assert final == f"c=biws,r={cnonce}{snonce},p={proof}".encode()
    outcome = server.step(final)
    assert outcome == f"v={signature}".encode()
    assert server.complete and server.identity == "user" and not client.complete
    assert client.step(outcome) is None and client.complete
    # the stored form round-trips and holds no password
    text = verifier.to_text()
    assert Verifier.parse(text) == verifier and "pencil" not in text
    assert text.startswith(f"{mech}$4096:{salt}$")


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_wrong_password_and_unknown_user_fail_at_the_proof(mech: str) -> None:
    verifier = Verifier.make(mech, "pencil")
    for user, password in (("user", "crayon"), ("nobody", "pencil")):
        server = ScramServer(mech, _lookup(verifier), b"secret")
        client = ScramClient(mech, user, password)
        challenge = server.start(client.start())   # an unknown user gets a challenge too
        assert challenge is not None and b",s=" in challenge
        with pytest.raises(SASLError):
            server.step(client.step(challenge))
        assert not server.complete and server.identity is None


def test_unknown_user_salt_is_stable() -> None:
    """The fake salt an unknown user gets does not change between tries (no probing)."""
    def salt() -> bytes:
        server = ScramServer("SCRAM-SHA-256", _lookup(None), b"secret")
        reply = server.start(b"n,,n=ghost,r=abc")
        assert reply is not None
        return reply.split(b",")[1]

    assert salt() == salt()


def test_client_refuses_a_forged_server_signature() -> None:
    verifier = Verifier.make("SCRAM-SHA-256", "pencil")
    server = ScramServer("SCRAM-SHA-256", _lookup(verifier), b"secret")
    client = ScramClient("SCRAM-SHA-256", "user", "pencil")
    final = client.step(server.start(client.start()))
    server.step(final)
    with pytest.raises(SASLError, match="signature"):
        client.step(b"v=" + base64.b64encode(b"\0" * 32))
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce="abc")
    with pytest.raises(SASLError):   # the server's nonce must extend ours
        client.step(b"r=xyz123,s=QSXCR+Q6sek8bf92,i=4096")


@pytest.mark.parametrize("message", [
    b"p=tls-unique,,n=user,r=abc",   # channel binding asked for
    b"n,,m=ext,n=user,r=abc",        # mandatory extension
    b"n,,r=abc",                     # no user
    b"n,,n=user",                    # no nonce
    b"x,,n=user,r=abc",
    b"n,,n=us=41er,r=abc",           # bad saslname escape
    b"\xff\xfe",
])
def test_malformed_client_first(message: bytes) -> None:
    with pytest.raises(SASLError):
        ScramServer("SCRAM-SHA-256", _lookup(None), b"s").start(message)


def test_tampered_client_final() -> None:
    verifier = Verifier.make("SCRAM-SHA-256", "pencil")
    for tamper in (lambda m: m.replace(b"c=biws", b"c=eSws"),       # other GS2 header
                   lambda m: m.replace(b",r=", b",r=X")):            # other nonce
        server = ScramServer("SCRAM-SHA-256", _lookup(verifier), b"secret")
        client = ScramClient("SCRAM-SHA-256", "user", "pencil")
        final = client.step(server.start(client.start()))
        assert final is not None
        with pytest.raises(SASLError):
            server.step(tamper(final))
    server = ScramServer("SCRAM-SHA-256", _lookup(verifier), b"secret")
    with pytest.raises(SASLError):
        server.step(b"c=biws,r=x,p=AAAA")   # a final message before the first


def test_authzid_must_be_the_user() -> None:
    verifier = Verifier.make("SCRAM-SHA-256", "pencil")
    ok = ScramClient("SCRAM-SHA-256", "user", "pencil", authzid="user")
    other = ScramClient("SCRAM-SHA-256", "user", "pencil", authzid="root")
    for client, works in ((ok, True), (other, False)):
        server = ScramServer("SCRAM-SHA-256", _lookup(verifier), b"secret")
        final = client.step(server.start(client.start()))
        if works:
            server.step(final)
            assert server.identity == "user"
        else:
            with pytest.raises(SASLError):
                server.step(final)


def test_plain() -> None:
    verifier = Verifier.make("SCRAM-SHA-256", "pencil")
    message = PlainClient("user", "pencil").start()
    assert message == b"\0user\0pencil"
    server = PlainServer(_lookup(verifier))
    assert server.start(message) is None and server.complete and server.identity == "user"
    for bad in (b"\0user\0crayon", b"\0nobody\0pencil", b"root\0user\0pencil", b"user",
                None):
        with pytest.raises(SASLError):
            PlainServer(_lookup(verifier)).start(bad)


def test_saslprep() -> None:
    # RFC 4013 section 3's examples
    assert saslprep("I\u00adX") == "IX"
    assert saslprep("user") == "user"
    assert saslprep("USER") == "USER"
    assert saslprep("\u00aa") == "a"
    assert saslprep("\u2168") == "IX"
    assert saslprep("a\u00a0b") == "a b"          # non-ASCII space -> space
    for bad in ("\u0007", "\u0627\u0031"):         # control character; bidi rule
        with pytest.raises(SASLError):
            saslprep(bad)
    # a password and its SASLprep form give the same keys
    salt = b"0123456789abcdef"
    assert Verifier.make("SCRAM-SHA-1", "\u2168", salt) == Verifier.make("SCRAM-SHA-1", "IX",
                                                                         salt)


@pytest.mark.parametrize("text", [
    "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",          # keys of the wrong size
    "SCRAM-MD5$4096:c2FsdA==$AAAA:AAAA",
    "SCRAM-SHA-1$0:c2FsdA==$" + "A" * 28 + ":" + "A" * 28,
    "plaintext",
    "SCRAM-SHA-1$4096:c2Fsd!==$" + "A" * 28 + ":" + "A" * 28,
])
def test_verifier_parse_errors(text: str) -> None:
    with pytest.raises(ValueError):
        Verifier.parse(text)


def test_plain_check_uses_the_verifier() -> None:
    verifier = Verifier.make("SCRAM-SHA-1", "pencil", iterations=10)
    assert verifier.check_password("pencil")
    assert not verifier.check_password("Pencil")
    assert not verifier.check_password("\u0007")    # prohibited: no match, no crash


def test_usable_follows_libvirt_ssf_rule() -> None:
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        assert usable(mech, secure=True, min_ssf=56)
        assert not usable(mech, secure=False, min_ssf=56)
        assert usable(mech, secure=False, min_ssf=0)
    assert not usable("GSSAPI", secure=True, min_ssf=0)
