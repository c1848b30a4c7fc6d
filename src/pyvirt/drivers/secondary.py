"""Secondary drivers: the network and storage drivers behind a hypervisor connection.

libvirt's virConnect holds one driver per kind of object, so ``qemu:///system`` answers
``virConnectListAllNetworks`` from the network driver and ``virStoragePoolCreate`` from the
storage driver. A hypervisor driver here keeps a :class:`SecondaryDrivers` and returns
:meth:`SecondaryDrivers.get` from ``Driver.secondary_driver``; ``Driver.__getattr__`` then
forwards every entry point of that kind (chosen by libvirt's error domain of the API).

A secondary driver module offers ``open_driver(mode, root) -> Driver``, one instance shared
per (mode, root) with a reference count, and ``close_driver(driver)``; ``mode`` is
"system", "session" or "embed", ``root`` the directory that relocates everything (embed
mode, or pyvirtd --root), else None.
"""

from __future__ import annotations

import sys
import threading

from pyvirt import constants as c

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.api.connect import virConnect
    from pyvirt.drivers.base import Driver

# libvirt error domain of an entry point -> module of the driver that serves it
SECONDARY_MODULES: dict[int, str] = {
    c.VIR_FROM_NETWORK: "pyvirt.drivers.network",
    c.VIR_FROM_STORAGE: "pyvirt.drivers.storage",
}


class SecondaryDrivers:
    """The secondary drivers of one hypervisor driver instance, opened on first use."""

    def __init__(self, mode: str, root: str | None) -> None:
        self.mode = mode
        self.root = root
        self._lock = threading.Lock()
        self._opened: dict[int, Driver] = {}
        self._missing: set[int] = set()

    def get(self, error_domain: int) -> Driver | None:
        module_name = SECONDARY_MODULES.get(error_domain)
        if module_name is None or error_domain in self._missing:
            return None
        driver = self._opened.get(error_domain)
        if driver is not None:
            return driver
        with self._lock:
            driver = self._opened.get(error_domain)
            if driver is None:
                try:
                    __import__(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    self._missing.add(error_domain)
                    return None
                driver = sys.modules[module_name].open_driver(self.mode, self.root)
                self._opened[error_domain] = driver
        return driver

    def opened(self) -> list[Driver]:
        with self._lock:
            return list(self._opened.values())

    def connection_closed(self, conn: virConnect) -> None:
        """Per-connection state (event callbacks) of ``conn`` goes in every opened driver."""
        for driver in self.opened():
            driver.connectClose(conn)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, {}
        for error_domain, driver in opened.items():
            sys.modules[SECONDARY_MODULES[error_domain]].close_driver(driver)
