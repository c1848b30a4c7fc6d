"""Test PKIs made with openssl: a CA, a server certificate for 127.0.0.1 and client
certificates, with the key usages GnuTLS (libvirt's client) insists on, in libvirt's
``pkipath`` layout (cacert.pem, servercert.pem, serverkey.pem, clientcert.pem,
clientkey.pem)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_USAGE = ("basicConstraints = critical, CA:FALSE\n"
          "keyUsage = critical, digitalSignature, keyEncipherment\n")


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def make_ca(base: Path, name: str = "pyvirt test CA") -> Path:
    """``base`` with cacert.pem and cakey.pem, plus a server certificate for 127.0.0.1."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "ca.cnf").write_text(
        f"[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {name}\n"
        "[ext]\nbasicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n")
    _openssl(base, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "cakey.pem",
             "-out", "cacert.pem", "-days", "2", "-config", "ca.cnf", "-extensions", "ext")
    (base / "server.cnf").write_text(f"[ext]\n{_USAGE}extendedKeyUsage = serverAuth\n"
                                     "subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    _sign(base, base, "server", "/O=pyvirt-server/CN=127.0.0.1")
    return base


def _sign(ca: Path, out: Path, who: str, subject: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _openssl(out, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}key.pem", "-out",
             f"{who}.csr", "-subj", subject)
    _openssl(out, "x509", "-req", "-in", f"{who}.csr", "-CA", str(ca / "cacert.pem"),
             "-CAkey", str(ca / "cakey.pem"), "-CAcreateserial", "-out", f"{who}cert.pem",
             "-days", "2", "-extfile", str(ca / "server.cnf" if who == "server"
                                          else out / "client.cnf"),
             "-extensions", "ext")


def make_client(ca: Path, out: Path, subject: str, trust: Path | None = None) -> Path:
    """A client pkipath ``out``: a certificate for ``subject`` signed by ``ca``, and the CA
    certificate of ``trust`` (default ``ca``) to check the server with."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "client.cnf").write_text(f"[ext]\n{_USAGE}extendedKeyUsage = clientAuth\n")
    _sign(ca, out, "client", subject)
    shutil.copy(ca / "cacert.pem" if trust is None else trust / "cacert.pem",
                out / "cacert.pem")
    return out
