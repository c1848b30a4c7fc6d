"""The network driver (virtual networks: bridges, dnsmasq, nftables), a secondary driver
behind hypervisor connections (see drivers/secondary.py): ``open_driver(mode, root)`` gives
the one instance per (mode, root), reference counted; ``close_driver`` drops a reference.
An instance keeps no process of its own running, so dropping the last reference leaves the
networks (bridges, dnsmasq) up, as libvirtd leaves them when it exits."""

from __future__ import annotations

from pyvirt.drivers.shared import SharedDrivers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.drivers.network.driver import NetworkDriver

# by configuration directory: pyvirtd --root serves qemu:///system and qemu:///session
# from the same directories, and both must see the same networks
_drivers = SharedDrivers()


def open_driver(mode: str, root: str | None) -> NetworkDriver:
    from pyvirt.drivers.network.driver import NetworkDriver
    from pyvirt.drivers.network.paths import NetworkPaths

    paths = NetworkPaths.for_mode(mode, root)
    driver: NetworkDriver = _drivers.open(paths.config_dir, lambda: NetworkDriver(paths))
    return driver


def close_driver(driver: NetworkDriver) -> None:
    _drivers.close(driver.paths.config_dir, driver)
