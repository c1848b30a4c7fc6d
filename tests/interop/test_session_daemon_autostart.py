"""``qemu:///session`` from an ordinary user talks to that user's pyvirtd and starts it when
nobody answers, as libvirt's client starts a session libvirtd: the daemon's socket and pid
file appear in $XDG_RUNTIME_DIR/pyvirt, domains are listed through it, and it exits after
its idle timeout once the client is gone; it reads $XDG_CONFIG_HOME/pyvirt/pyvirtd.conf;
concurrent first opens start one daemon only.

The clients run as ``nobody`` (root's qemu:///session goes to the system daemon, as in
libvirt) with HOME and the XDG directories in a temporary directory. The daemon command is
a wrapper (``PYVIRTD_PATH``) that counts its starts, and the idle timeout is shortened with
``PYVIRT_SESSION_DAEMON_TIMEOUT``. A daemon still alive at the end is ended by the pid in its
pid file."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.daemon.support import REPO

pytestmark = pytest.mark.integration

CLIENT = r"""
import json, os, sys, time
import pyvirt
run = os.path.join(os.environ["XDG_RUNTIME_DIR"], "pyvirt")
conn = pyvirt.open("qemu:///session")
pid = int(open(os.path.join(run, "pyvirtd.pid")).read())
report = {"uri": conn.getURI(), "type": conn.getType(), "pid": pid,
          "socket": os.path.exists(os.path.join(run, "libvirt-sock")),
          "domains": [d.name() for d in conn.listAllDomains()],
          "alive": os.path.exists(f"/proc/{pid}"),
          "ro_mode": oct(os.stat(os.path.join(run, "libvirt-sock-ro")).st_mode & 0o777)}
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
conn.close()
print(json.dumps(report))
"""


class Session:
    """One user's temporary HOME and runtime directory, and how to run things as them."""

    def __init__(self, timeout: int) -> None:
        self.user = "nobody" if os.geteuid() == 0 else None
        self.home = Path(tempfile.mkdtemp(prefix="pyvirt-session-", dir="/tmp"))
        os.chmod(self.home, 0o755)
        self.runtime = self.home / "run"
        self.runtime.mkdir(mode=0o700)
        # the session daemon's own settings file, as libvirtd's ~/.config/libvirt/libvirtd.conf
        conf_dir = self.home / ".config" / "pyvirt"
        conf_dir.mkdir(parents=True)
        (conf_dir / "pyvirtd.conf").write_text('unix_sock_ro_perms = "0750"\n')
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            for path in (self.home, self.runtime, self.home / ".config", conf_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self.spawns = self.home / "spawns"
        self.python = self._python()
        wrapper = self.home / "pyvirtd-wrapper"
        wrapper.write_text(f"#!/bin/sh\necho $$ >> '{self.spawns}'\n"
                           f"exec '{self.python}' -m pyvirt.daemon.main \"$@\"\n")
        wrapper.chmod(0o755)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), sysconfig.get_paths()["purelib"]]),
            "PYVIRTD_PATH": str(wrapper), "PYVIRT_SESSION_DAEMON_TIMEOUT": str(timeout),
        }

    def _python(self) -> str:
        """This interpreter if the user may run it (a venv under /root may not be)."""
        probe = [sys.executable, "-c", "pass"]
        try:
            subprocess.run(probe, check=True, capture_output=True, timeout=30,
                           user=self.user)
            return sys.executable
        except (OSError, subprocess.CalledProcessError):
            return "/usr/bin/python3"

    @property
    def run_dir(self) -> Path:
        return self.runtime / "pyvirt"

    def popen(self, *argv: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([self.python, *argv], env={**self.env, **env}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/",
                                user=self.user)

    def client(self, hold: float = 0.0) -> subprocess.Popen[str]:
        return self.popen("-c", CLIENT, str(hold))

    def daemon_pid(self) -> int | None:
        try:
            return int((self.run_dir / "pyvirtd.pid").read_text())
        except (OSError, ValueError):
            return None

    def starts(self) -> int:
        return len(self.spawns.read_text().split()) if self.spawns.exists() else 0

    def cleanup(self) -> None:
        pid = self.daemon_pid()
        if pid is not None and _is_pyvirtd(pid):
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 15)
        shutil.rmtree(self.home, ignore_errors=True)


def _is_pyvirtd(pid: int) -> bool:
    try:
        return b"pyvirt.daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_pyvirtd(pid):
            return True
        time.sleep(0.1)
    return False


def _finish(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report: dict[str, object] = json.loads(out)
    return report


@pytest.fixture
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    s = Session(getattr(request, "param", 2))
    try:
        yield s
    finally:
        s.cleanup()


def test_open_autostarts_the_session_daemon_which_idles_out(session: Session) -> None:
    report = _finish(session.client())
    pid = report["pid"]
    assert report == {"uri": "qemu:///session", "type": "QEMU", "pid": pid, "socket": True,
                      "domains": [], "alive": True, "ro_mode": "0o750"}
    assert session.starts() == 1
    closed = time.monotonic()
    assert isinstance(pid, int) and _is_pyvirtd(pid)     # detached: it outlives the client
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[3]) not in (os.getsid(0), 0)        # a session of its own (setsid)
    assert _wait_gone(pid, 20), "the session daemon did not exit when idle"
    assert time.monotonic() - closed >= 1.0              # not before its idle timeout
    assert not (session.run_dir / "libvirt-sock").exists()
    assert not (session.run_dir / "pyvirtd.pid").exists()


@pytest.mark.parametrize("session", [6], indirect=True)
def test_concurrent_opens_start_one_daemon(session: Session) -> None:
    clients = [session.client(hold=0.5) for _ in range(4)]
    reports = [_finish(proc) for proc in clients]
    assert {r["pid"] for r in reports} == {session.daemon_pid()}
    assert session.starts() == 1
    # pyvirsh with the same URI uses the running daemon
    virsh = session.popen(str(REPO / "bin" / "pyvirsh"), "-c", "qemu:///session", "list",
                          "--all")
    out, err = virsh.communicate(timeout=60)
    assert virsh.returncode == 0, err
    assert out.split() == ["Id", "Name", "State", "-" * len(out.splitlines()[1].strip())]
    assert session.starts() == 1


def test_no_autostart_when_disabled(session: Session) -> None:
    proc = session.popen("-c", CLIENT, LIBVIRT_AUTOSTART="0")
    _, err = proc.communicate(timeout=60)
    sock = session.run_dir / "libvirt-sock"
    assert proc.returncode == 1
    assert f"Failed to connect socket to '{sock}': No such file or directory" in err
    assert session.starts() == 0 and session.daemon_pid() is None
