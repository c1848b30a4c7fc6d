"""TLS client identity: DNs written as GnuTLS writes them (checked against libvirt's own
virt-pki-query-dn), glob matching as g_pattern_match_simple, the allow-list rule."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from pyvirt.daemon.tls import allowed, glob_match, x509_dname


@pytest.mark.parametrize("pattern, text, expected", [
    ("C=GB,O=Example,CN=*", "C=GB,O=Example,CN=client1", True),
    ("C=GB,O=Example,CN=*", "C=GB,O=Example,CN=", True),
    ("C=GB,O=Example,CN=*", "C=US,O=Example,CN=client1", False),
    ("*CN=client?", "O=x,CN=client7", True),
    ("*CN=client?", "O=x,CN=client77", False),
    ("CN=a.b", "CN=aXb", False),            # '.' is literal
    ("CN=[ab]", "CN=a", False),             # no character classes...
    ("CN=[ab]", "CN=[ab]", True),           # ...the brackets are literal
    ("CN=a\\*", "CN=a\\anything", True),    # no escapes: '\' literal, '*' wildcard
    ("*", "", True),
    ("", "", True),
    ("", "x", False),
    ("fred", "Fred", False),                # case matters
    ("a*b*c", "a-b-b-c", True),
    ("CN=x", "CN=x\nCN=y", False),          # the whole text
])
def test_glob_match(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


def test_allowed() -> None:
    assert allowed(None, "anything")             # no list: everyone
    assert not allowed([], "anything")           # an empty list: no one
    assert allowed(["fred", "adm*"], "admin")
    assert not allowed(["fred", "adm*"], "bob")


SUBJECT = ('/C=GB/L=St. Helier/O=Red Hat, Inc./OU=u1+UID=z/'
           'CN=a\\+b=c;d"e<f>g#h\\\\i /DC=example/serialNumber=12/emailAddress=x@y.z')


def test_dname_as_gnutls_writes_it(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    cert = tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp_path / "key.pem"), "-out", str(cert), "-days", "1",
                    "-multivalue-rdn", "-subj", SUBJECT], check=True, capture_output=True)
    subject = ssl._ssl._test_decode_cert(str(cert))["subject"]  # type: ignore[attr-defined]
    expected = ('C=GB,L=St. Helier,O=Red Hat\\, Inc.,OU=u1+UID=z,'
                'CN=a\\+b=c\\;d\\"e\\<f\\>g#h\\\\i\\ ,DC=example,serialNumber=12,EMAIL=x@y.z')
    assert x509_dname(subject) == expected
    if shutil.which("virt-pki-query-dn"):   # libvirt's tool, GnuTLS's writing
        out = subprocess.run(["virt-pki-query-dn", str(cert)], check=True,
                             capture_output=True, text=True)
        assert out.stdout.strip() == expected
    assert x509_dname(((("commonName", "#lead"),),)) == "CN=\\#lead"
