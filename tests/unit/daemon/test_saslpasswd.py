"""pyvirtd's SASL user database: verifiers only, mode 0600, reread on change; the commands
``pyvirtd --sasl-passwd`` and ``python -m pyvirt.daemon.saslpasswd``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.daemon.config import DaemonConfig
from pyvirt.daemon.saslpasswd import PasswdFile
from unit.daemon.support import PYVIRTD, REPO


def test_set_lookup_delete(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "passwd.scram"
    db = PasswdFile(str(path))
    assert db.lookup("SCRAM-SHA-256", "fred") is None
    db.set_password("fred", "s3cret pw")
    db.set_password("bob", "other")
    text = path.read_text()
    assert "s3cret" not in text and "other" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        verifier = db.lookup(mech, "fred")
        assert verifier is not None and verifier.mech == mech
        assert verifier.check_password("s3cret pw") and not verifier.check_password("x")
    plain = db.lookup("PLAIN", "fred")
    assert plain is not None and plain.mech == "SCRAM-SHA-256"
    # another reader (the daemon) sees changes made by the command
    daemon_view = PasswdFile(str(path))
    assert daemon_view.users() == ["bob", "fred"]
    old = daemon_view.lookup("SCRAM-SHA-1", "fred")
    PasswdFile(str(path)).set_password("fred", "new")
    new = daemon_view.lookup("SCRAM-SHA-1", "fred")
    assert new is not None and new != old and new.check_password("new")
    assert db.delete("bob") and not db.delete("bob")
    assert daemon_view.lookup("SCRAM-SHA-256", "bob") is None
    with pytest.raises(ValueError):
        db.set_password("two words", "x")


def test_corrupt_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "passwd.scram"
    path.write_text("fred plaintext-password\n")
    with pytest.raises(ValueError, match="passwd.scram:1"):
        PasswdFile(str(path)).lookup("PLAIN", "fred")


def test_paths(tmp_path: Path) -> None:
    cfg = DaemonConfig()
    cfg.root = str(tmp_path)
    assert cfg.sasl_passwd_path() == str(tmp_path / "etc" / "passwd.scram")
    cfg.sasl_passwd_file = "/srv/users"
    assert cfg.sasl_passwd_path() == "/srv/users"


def test_commands(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    root = tmp_path / "root"
    out = subprocess.run([sys.executable, str(PYVIRTD), "--root", str(root),
                          "--sasl-passwd", "fred"], input="pw1\n", capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    db = PasswdFile(str(root / "etc" / "passwd.scram"))
    verifier = db.lookup("SCRAM-SHA-256", "fred")
    assert verifier is not None and verifier.check_password("pw1")
    other = tmp_path / "other.scram"
    out = subprocess.run([sys.executable, "-m", "pyvirt.daemon.saslpasswd", "-f", str(other),
                          "-p", "alice"], input="pw2\n", capture_output=True, text=True,
                         env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert PasswdFile(str(other)).users() == ["alice"]
    out = subprocess.run([sys.executable, str(PYVIRTD), "--root", str(root),
                          "--sasl-passwd-delete", "ghost"], capture_output=True, text=True,
                         env=env, timeout=30)
    assert out.returncode == 1 and "user ghost not found" in out.stderr
    out = subprocess.run([sys.executable, str(PYVIRTD), "--root", str(root),
                          "--sasl-passwd-delete", "fred"], capture_output=True, text=True,
                         env=env, timeout=30)
    assert out.returncode == 0 and db.users() == []
