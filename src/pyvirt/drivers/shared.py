"""One driver instance per directory layout, shared by everything that opens it.

A stateful driver (QEMU, network, storage) owns its directories: two instances on the same
ones would each think they alone run the guests, networks or pools there. So connections
(and pyvirtd) that ask for the same layout get the same instance, counted; the last close
shuts it down (``shutdown()``, when the driver has one).
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class SharedDrivers:
    """The instances of one driver class, by configuration directory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, Any] = {}
        self._refs: dict[str, int] = {}

    def open(self, config_dir: str, make: Callable[[], Any]) -> Any:
        """The instance for ``config_dir``, made by ``make()`` when there is none yet."""
        with self._lock:
            driver = self._instances.get(config_dir)
            if driver is None:
                driver = make()
                self._instances[config_dir] = driver
                self._refs[config_dir] = 0
            self._refs[config_dir] += 1
            return driver

    def close(self, config_dir: str, driver: Any) -> None:
        """One user of ``driver`` is done; the last one shuts it down."""
        with self._lock:
            if self._instances.get(config_dir) is not driver:
                return
            self._refs[config_dir] -= 1
            if self._refs[config_dir] > 0:
                return
            del self._instances[config_dir], self._refs[config_dir]
        shutdown = getattr(type(driver), "shutdown", None)
        if shutdown is not None:
            shutdown(driver)
