"""Where the network driver keeps things, per mode (libvirt's bridge_driver_conf.c layout
under "pyvirt" names, so that a real libvirtd on the same host is never disturbed).

system   /etc/pyvirt/qemu/networks (+ autostart/), /run/pyvirt/network, /var/lib/pyvirt/dnsmasq
session  $XDG_CONFIG_HOME/pyvirt/qemu/networks, $XDG_RUNTIME_DIR/pyvirt/network,
         $XDG_CACHE_HOME/pyvirt/dnsmasq
root R   (embed, or pyvirtd --root R) R/etc/network, R/run/network, R/lib/dnsmasq

``config_dir`` holds the persistent definitions (NAME.xml) and ``autostart/`` symlinks;
``state_dir`` the live definition of each running network (NAME.xml), dnsmasq's pid file and
the network's ports (NAME/ports/UUID.xml); ``dnsmasq_dir`` dnsmasq's configuration, hosts
files and lease file.
"""

from __future__ import annotations

import os


class NetworkPaths:
    __slots__ = ("mode", "root", "config_dir", "autostart_dir", "state_dir", "dnsmasq_dir")

    def __init__(self, mode: str, config_dir: str, state_dir: str, dnsmasq_dir: str,
                 root: str | None = None) -> None:
        self.mode = mode
        self.root = root
        self.config_dir = config_dir
        self.autostart_dir = os.path.join(config_dir, "autostart")
        self.state_dir = state_dir
        self.dnsmasq_dir = dnsmasq_dir

    @classmethod
    def for_mode(cls, mode: str, root: str | None) -> NetworkPaths:
        if root is not None:
            root = os.path.abspath(root)
            return cls(mode, os.path.join(root, "etc", "network"),
                       os.path.join(root, "run", "network"),
                       os.path.join(root, "lib", "dnsmasq"), root=root)
        if mode == "system":
            return cls(mode, "/etc/pyvirt/qemu/networks", "/run/pyvirt/network",
                       "/var/lib/pyvirt/dnsmasq")
        from pyvirt import rundirs

        return cls(mode, os.path.join(rundirs.user_config_dir(), "qemu", "networks"),
                   os.path.join(rundirs.user_runtime_dir(), "network"),
                   os.path.join(rundirs.user_cache_dir(), "dnsmasq"))

    def ensure(self) -> None:
        for path in (self.config_dir, self.autostart_dir, self.state_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        # dnsmasq re-reads its hosts files here after dropping root: others may traverse
        os.makedirs(self.dnsmasq_dir, mode=0o755, exist_ok=True)

    def config_file(self, name: str) -> str:
        return os.path.join(self.config_dir, name + ".xml")

    def autostart_link(self, name: str) -> str:
        return os.path.join(self.autostart_dir, name + ".xml")

    def status_file(self, name: str) -> str:
        return os.path.join(self.state_dir, name + ".xml")

    def ports_dir(self, name: str) -> str:
        return os.path.join(self.state_dir, name, "ports")
