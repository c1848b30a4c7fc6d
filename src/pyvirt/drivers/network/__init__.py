"""The network driver (virtual networks: bridges, dnsmasq, nftables), a secondary driver
behind hypervisor connections (see drivers/secondary.py): ``open_driver(mode, root)`` gives
the one instance per (mode, root), reference counted; ``close_driver`` drops a reference.
An instance keeps no process of its own running, so forgetting the last reference leaves the
networks (bridges, dnsmasq) up, as libvirtd leaves them when it exits."""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.drivers.network.driver import NetworkDriver

# by configuration directory: pyvirtd --root serves qemu:///system and qemu:///session
# from the same directories, and both must see the same networks
_drivers: dict[str, NetworkDriver] = {}
_lock = threading.Lock()


def open_driver(mode: str, root: str | None) -> NetworkDriver:
    from pyvirt.drivers.network.driver import NetworkDriver
    from pyvirt.drivers.network.paths import NetworkPaths

    paths = NetworkPaths.for_mode(mode, root)
    with _lock:
        driver = _drivers.get(paths.config_dir)
        if driver is None:
            driver = NetworkDriver(paths)
            _drivers[paths.config_dir] = driver
        driver.refs += 1
        return driver


def close_driver(driver: NetworkDriver) -> None:
    with _lock:
        driver.refs -= 1
        if driver.refs <= 0:
            for key, known in list(_drivers.items()):
                if known is driver:
                    del _drivers[key]
