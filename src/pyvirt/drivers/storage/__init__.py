"""The storage driver (libvirt's virtstoraged): real pools and volumes with state on disk.

Reached as the secondary driver of a hypervisor connection (``qemu:///...`` forwards every
storage entry point here, see drivers/secondary.py) or directly as ``storage:///system`` /
``storage:///session``. ``open_driver(mode, root)`` gives the one shared, reference-counted
instance per (mode, root); ``close_driver`` gives it back.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.drivers.base import Driver
from pyvirt.drivers.local import LocalConnectionEntryPoints
from pyvirt.drivers.storage.driver import StorageDriver, close_driver, open_driver
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.uri import ConnectURI

__all__ = ["StorageDriver", "close_driver", "connect", "open_driver"]


class StorageConnection(LocalConnectionEntryPoints, Driver):
    """A ``storage:///`` connection: only the storage entry points, served by the shared
    storage driver of its mode."""

    name = "storage"
    error_domain = c.VIR_FROM_STORAGE

    def __init__(self, storage: StorageDriver) -> None:
        self.storage = storage

    def secondary_driver(self, error_domain: int) -> Driver | None:
        return self.storage if error_domain == c.VIR_FROM_STORAGE else None

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        self.storage.connectClose(conn)
        close_driver(self.storage)


def connect(uri: ConnectURI, auth: Any, flags: int) -> StorageConnection:
    """The registry's entry point for ``storage:///system`` and ``storage:///session``."""
    from pyvirt.drivers.qemu.paths import daemon_root

    path = uri.path or ""
    root = daemon_root()
    privileged = os.geteuid() == 0
    # libvirt's virConnectValidateURIPath: a privileged driver serves only /system, an
    # unprivileged one only /session (a pyvirtd --root serves both from its directories)
    if path in ("/system", "/session") and (
            root is not None or (path == "/system") == privileged):
        mode = path[1:]
    else:
        hint = "storage:///system" if privileged else "storage:///session"
        raise_error(c.VIR_ERR_INTERNAL_ERROR,
                    f"unexpected storage URI path '{path}', try {hint}",
                    domain=c.VIR_FROM_STORAGE)
    return StorageConnection(open_driver(mode, root))
