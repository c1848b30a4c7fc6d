"""``pyvirtd``: the command line of the daemon (libvirtd's options, where they apply).

    pyvirtd [--config FILE] [--root DIR] [--pid-file FILE] [--timeout SECS] [--daemon]
            [--listen] [--verbose]
    pyvirtd [--config FILE] [--root DIR] --sasl-passwd USER | --sasl-passwd-delete USER

``--config FILE`` reads libvirtd.conf-syntax settings (pyvirt.daemon.config; without it,
``DIR/etc/pyvirtd.conf`` under ``--root``, ``/etc/pyvirt/pyvirtd.conf`` for root or
``$XDG_CONFIG_HOME/pyvirt/pyvirtd.conf`` for other users is read when present). ``--root
DIR`` relocates the sockets and pid file to ``DIR/run`` and the QEMU driver's directories
under ``DIR``. ``--daemon`` detaches once the sockets are ready
(the parent exits 0 then, or 1 with the error), ``--timeout SECS`` exits after SECS seconds
without clients (and without running guests), ``--listen`` enables the TCP listener the
config asks for (TCP, TLS). SIGTERM / SIGINT shut down cleanly, leaving guests running;
SIGHUP is ignored. ``libvirt-admin-sock`` beside the other sockets serves virt-admin
(pyvirt.daemon.admin). Logging follows libvirt's ``log_level``, ``log_filters`` and
``log_outputs`` (pyvirt.daemon.logsetup); ``--verbose`` lowers the level to info (``-vv``:
debug). Started by systemd (data/systemd/), pyvirtd serves the sockets it was
passed (``LISTEN_FDS``; pyvirt.daemon.activation) and reports ``READY=1`` on
``$NOTIFY_SOCKET`` once it listens. ``--sasl-passwd USER`` adds a SASL user (or changes its
password, read from stdin or asked on the terminal) in the user database the daemon would
use, and exits;
``--sasl-passwd-delete USER`` removes one (pyvirt.daemon.saslpasswd).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import sys

from pyvirt.daemon.config import DaemonConfig
from pyvirt.daemon.logsetup import LogSettings
from pyvirt.errors import libvirtError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("pyvirtd")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyvirtd", description="pyvirt's libvirt daemon")
    p.add_argument("-f", "--config", metavar="FILE", help="configuration file")
    p.add_argument("--root", metavar="DIR",
                   help="keep sockets, pid file and driver state under DIR")
    p.add_argument("-p", "--pid-file", metavar="FILE", help="pid file")
    p.add_argument("-t", "--timeout", metavar="SECS", type=int, default=0,
                   help="exit after SECS seconds idle")
    p.add_argument("-d", "--daemon", action="store_true", help="run in the background")
    p.add_argument("-l", "--listen", action="store_true",
                   help="listen for TCP connections (listen_tcp in the config)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("--sasl-passwd", metavar="USER",
                   help="add a SASL user or change its password, then exit")
    p.add_argument("--sasl-passwd-delete", metavar="USER",
                   help="delete a SASL user, then exit")
    return p


def load_config(args: argparse.Namespace) -> DaemonConfig:
    config = DaemonConfig()
    config.root = os.path.abspath(args.root) if args.root else None
    path = args.config
    if path is None:
        default = (os.path.join(config.root, "etc", "pyvirtd.conf") if config.root
                   else "/etc/pyvirt/pyvirtd.conf" if os.geteuid() == 0
                   else user_config_path())
        if default and os.path.exists(default):
            path = default
    if path is not None:
        config.load_file(path)
    config.pid_file = args.pid_file
    config.timeout = max(args.timeout, 0)
    config.listen = args.listen
    config.validate()
    return config


def user_config_path() -> str:
    """A user's (session) daemon's settings, as libvirtd's ~/.config/libvirt/libvirtd.conf."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".config")
    return os.path.join(config, "pyvirt", "pyvirtd.conf")


class PidFile:
    """libvirtd's pid file: created, locked for the daemon's life, removed at exit. A
    second daemon finds it locked and gives up."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SystemExit(f"another daemon holds {self.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = -1


def _detach() -> int:
    """Fork into the background. Returns the write end of a pipe on which the daemon
    reports readiness (b"0") or an error; the original process waits for it and exits."""
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as status:
            report = status.read()
        if report == b"0":
            os._exit(0)
        sys.stderr.write(report.decode(errors="replace") or "pyvirtd: failed to start\n")
        os._exit(1)
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    return write_fd


async def _run(config: DaemonConfig, ready_fd: int, logs: LogSettings) -> None:
    from pyvirt.daemon.activation import Activation, notify
    from pyvirt.daemon.server import Daemon

    # after --daemon's forks, as libvirtd: LISTEN_PID names the process systemd started
    daemon = Daemon(config, Activation.from_environ(), logs)
    loop = asyncio.get_running_loop()
    await daemon.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    if ready_fd >= 0:
        os.write(ready_fd, b"0")
        os.close(ready_fd)
    notify("READY=1")   # the unit is Type=notify: systemd waits for this
    await daemon.serve()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s pyvirtd[%(process)d]: "
                        "%(levelname)s %(name)s: %(message)s")
    from pyvirt.errors import set_default_printing

    set_default_printing(False)   # errors go to clients, not to the daemon's stderr
    try:
        config = load_config(args)
    except libvirtError as exc:
        sys.stderr.write(f"pyvirtd: {exc}\n")
        return 1
    if args.sasl_passwd or args.sasl_passwd_delete:
        from pyvirt.daemon import saslpasswd

        return saslpasswd.run(config.sasl_passwd_path(),
                              args.sasl_passwd or args.sasl_passwd_delete,
                              delete=bool(args.sasl_passwd_delete))
    if args.verbose:   # as libvirtd's --verbose: at least info (pyvirt: -vv debug)
        config.log_level = min(config.log_level, 2 if args.verbose == 1 else 1)
    ready_fd = _detach() if args.daemon else -1
    pid_file = PidFile(config.pid_file_path())
    try:
        logs = LogSettings.from_config(config, detached=args.daemon)
        logging.getLogger().handlers.clear()   # the settings' outputs replace stderr's
        logs.apply()
        pid_file.acquire()
        asyncio.run(_run(config, ready_fd, logs))
    except (libvirtError, OSError, SystemExit) as exc:
        text = f"pyvirtd: {exc}\n"
        if ready_fd >= 0:
            try:
                os.write(ready_fd, text.encode())
            except OSError:
                pass
        sys.stderr.write(text)
        return 1
    finally:
        pid_file.release()
    # Exit now: a worker thread still stuck in a driver call must not hold the process
    # (the interpreter would wait for it at exit).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
