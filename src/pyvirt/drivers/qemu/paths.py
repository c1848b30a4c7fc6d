"""Where the QEMU driver keeps things, per mode (libvirt's qemu_conf.c layout, under
"pyvirt" names so that a real libvirtd on the same host is never disturbed).

``qemu:///system``  root's daemon: /etc/pyvirt/qemu, /run/pyvirt/qemu, /var/lib/pyvirt/qemu,
                    /var/cache/pyvirt/qemu, /var/log/pyvirt/qemu
``qemu:///session`` one user's: $XDG_CONFIG_HOME/pyvirt/qemu, $XDG_RUNTIME_DIR/pyvirt/qemu,
                    $XDG_DATA_HOME/pyvirt/qemu/lib, $XDG_CACHE_HOME/pyvirt/qemu,
                    $XDG_CACHE_HOME/pyvirt/qemu/log
``qemu:///embed?root=DIR``  everything under DIR: etc/qemu, run/qemu, lib/qemu, cache/qemu,
                    log/qemu (libvirt's embed layout)

A daemon started with ``--root DIR`` calls :func:`set_daemon_root`: its ``qemu:///system``
and ``qemu:///session`` then use the embed layout under DIR (mode names unchanged).

``config_dir`` holds persistent definitions (NAME.xml) and ``autostart/``; ``state_dir``
(run) the live status of running guests (NAME.xml with pid and monitor), their monitor
sockets and pid files; ``lib_dir`` managed-save images, snapshot metadata and per-domain
files; ``cache_dir`` emulator capability probes; ``log_dir`` each guest's QEMU log.
"""

from __future__ import annotations

import os

# pyvirtd --root DIR: where qemu:///system and qemu:///session live in that daemon.
_daemon_root: str | None = None


def set_daemon_root(root: str | None) -> None:
    global _daemon_root
    _daemon_root = None if root is None else os.path.abspath(root)


def daemon_root() -> str | None:
    return _daemon_root


class QemuPaths:
    """The directories of one QEMU driver instance."""

    __slots__ = ("mode", "root", "config_dir", "autostart_dir", "state_dir", "lib_dir",
                 "save_dir", "snapshot_dir", "cache_dir", "log_dir", "qemu_conf")

    def __init__(self, mode: str, config_dir: str, state_dir: str, lib_dir: str,
                 cache_dir: str, log_dir: str, root: str | None = None) -> None:
        self.mode = mode  # "system", "session" or "embed"
        self.root = root
        self.config_dir = config_dir
        self.autostart_dir = os.path.join(config_dir, "autostart")
        self.state_dir = state_dir
        self.lib_dir = lib_dir
        self.save_dir = os.path.join(lib_dir, "save")
        self.snapshot_dir = os.path.join(lib_dir, "snapshot")
        self.cache_dir = cache_dir
        self.log_dir = log_dir
        # the driver's settings file (qemu.conf syntax), beside its config dir as libvirt's
        self.qemu_conf = os.path.join(os.path.dirname(config_dir), "qemu.conf")

    @classmethod
    def system(cls) -> QemuPaths:
        if _daemon_root is not None:
            return cls.rooted("system", _daemon_root)
        return cls("system", "/etc/pyvirt/qemu", "/run/pyvirt/qemu", "/var/lib/pyvirt/qemu",
                   "/var/cache/pyvirt/qemu", "/var/log/pyvirt/qemu")

    @classmethod
    def session(cls) -> QemuPaths:
        if _daemon_root is not None:
            return cls.rooted("session", _daemon_root)
        from pyvirt import rundirs

        cache = os.path.join(rundirs.user_cache_dir(), "qemu")
        return cls("session", os.path.join(rundirs.user_config_dir(), "qemu"),
                   os.path.join(rundirs.user_runtime_dir(), "qemu"),
                   os.path.join(rundirs.user_data_dir(), "qemu", "lib"),
                   cache, os.path.join(cache, "log"))

    @classmethod
    def embed(cls, root: str) -> QemuPaths:
        return cls.rooted("embed", root)

    @classmethod
    def rooted(cls, mode: str, root: str) -> QemuPaths:
        """The embed layout under ``root``, for ``mode``."""
        root = os.path.abspath(root)
        return cls(mode, os.path.join(root, "etc", "qemu"), os.path.join(root, "run", "qemu"),
                   os.path.join(root, "lib", "qemu"), os.path.join(root, "cache", "qemu"),
                   os.path.join(root, "log", "qemu"), root=root)

    def ensure(self) -> None:
        """Create every directory (private to the owner: they hold monitor sockets)."""
        for path in (self.config_dir, self.autostart_dir, self.state_dir, self.lib_dir,
                     self.save_dir, self.snapshot_dir, self.cache_dir, self.log_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)

    def domain_run_dir(self, name: str) -> str:
        """Per running guest: monitor socket, pid file, agent socket."""
        return os.path.join(self.state_dir, "domain-" + name)
