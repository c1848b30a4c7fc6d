"""pyvirtd's SASL user database and the command that edits it.

libvirtd checks SASL passwords against cyrus's ``/etc/libvirt/passwd.db`` (edited with
``saslpasswd2 -a libvirt USER``). pyvirtd keeps a plain text file of SCRAM verifiers instead,
one user a line, never a password::

    # comment
    fred SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey> SCRAM-SHA-1$4096:<salt>$...

(RFC 5803's verifier form, base64 fields). PLAIN logins are checked against the SCRAM-SHA-256
verifier. The file is ``/etc/pyvirt/passwd.scram`` (``DIR/etc/passwd.scram`` under
``--root DIR``, ``sasl_passwd_file`` in the config to choose another), written atomically
with mode 0600. The daemon rereads it when it changes, so users added while it runs can
log in at once.

    pyvirtd [--root DIR | --config FILE] --sasl-passwd USER      (add or change)
    pyvirtd [--root DIR | --config FILE] --sasl-passwd-delete USER
    python -m pyvirt.daemon.saslpasswd [-f FILE] [-p] [-d] USER

The password is asked twice on a terminal; with ``-p`` (saslpasswd2's "pipe" option) or
when stdin is not a terminal, it is the first line of stdin.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from pyvirt.rpc.sasl import PLAIN, SCRAM_HASHES, Verifier

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

HEADER = ("# pyvirt SASL users: a name, then its SCRAM verifiers (RFC 5803); edit with "
          "pyvirtd --sasl-passwd USER\n")


def valid_username(name: str) -> bool:
    return bool(name) and not name.startswith("#") and not any(
        ch.isspace() or ord(ch) < 32 for ch in name)


class PasswdFile:
    """The user database at ``path``: ``lookup`` for the daemon (rereads the file when its
    mtime or size changes), ``set_password`` / ``delete`` for the command."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._users: dict[str, dict[str, Verifier]] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        users: dict[str, dict[str, Verifier]] = {}
        with open(self.path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                try:
                    verifiers = [Verifier.parse(text) for text in fields[1:]]
                except ValueError as exc:
                    raise ValueError(f"{self.path}:{number}: {exc}") from None
                users[fields[0]] = {v.mech: v for v in verifiers}
        self._users, self._stamp = users, stamp

    def users(self) -> list[str]:
        with self._lock:
            self._load()
            return sorted(self._users)

    def lookup(self, mech: str, user: str) -> Verifier | None:
        """The verifier to check ``user`` with under ``mech`` (PLAIN: the strongest)."""
        with self._lock:
            self._load()
            verifiers = self._users.get(user)
        if not verifiers:
            return None
        if mech == PLAIN:
            return next((verifiers[m] for m in SCRAM_HASHES if m in verifiers), None)
        return verifiers.get(mech)

    def set_password(self, user: str, password: str) -> None:
        if not valid_username(user):
            raise ValueError(f"invalid user name {user!r}")
        with self._lock:
            self._load()
            self._users[user] = {mech: Verifier.make(mech, password) for mech in SCRAM_HASHES}
            self._save()

    def delete(self, user: str) -> bool:
        with self._lock:
            self._load()
            if self._users.pop(user, None) is None:
                return False
            self._save()
            return True

    def _save(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o755, exist_ok=True)
        tmp = f"{self.path}.tmp{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(HEADER)
            for user in sorted(self._users):
                verifiers = " ".join(v.to_text() for v in self._users[user].values())
                f.write(f"{user} {verifiers}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._stamp = None


def read_password(pipe: bool) -> str:
    """The new password: from stdin's first line with ``pipe`` or without a terminal,
    else asked twice."""
    if pipe or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again (for verification): ") != first:
        raise SystemExit("saslpasswd: passwords don't match")
    return first


def run(path: str, user: str, delete: bool = False, pipe: bool = False) -> int:
    db = PasswdFile(path)
    try:
        if delete:
            if not db.delete(user):
                sys.stderr.write(f"saslpasswd: user {user} not found in {path}\n")
                return 1
            return 0
        password = read_password(pipe)
        if not password:
            sys.stderr.write("saslpasswd: empty password\n")
            return 1
        db.set_password(user, password)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"saslpasswd: {exc}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from pyvirt.daemon.config import DaemonConfig

    p = argparse.ArgumentParser(prog="python -m pyvirt.daemon.saslpasswd",
                                description="add, change or delete a pyvirtd SASL user")
    p.add_argument("-f", "--file", help="the user database (default: pyvirtd's)")
    p.add_argument("-p", "--pipe", action="store_true", help="read the password from stdin")
    p.add_argument("-d", "--delete", action="store_true", help="delete the user")
    p.add_argument("user")
    args = p.parse_args(argv)
    return run(args.file or DaemonConfig().sasl_passwd_path(), args.user, args.delete,
               args.pipe)


if __name__ == "__main__":
    sys.exit(main())
