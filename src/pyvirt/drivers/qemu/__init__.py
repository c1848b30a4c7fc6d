"""The QEMU/KVM driver: ``qemu:///system``, ``qemu:///session`` and
``qemu:///embed?root=DIR`` (see ``driver.py``)."""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.drivers.qemu.driver import QemuDriver
    from pyvirt.drivers.qemu.paths import QemuPaths
    from pyvirt.uri import ConnectURI


def connect(uri: ConnectURI, auth: Any, flags: int) -> QemuDriver:
    """Open the QEMU driver for ``uri`` (the driver registry's entry point), with
    libvirt's qemuConnectOpen rules for the path."""
    from pyvirt.drivers.qemu.driver import open_driver

    return open_driver(driver_paths(uri, os.geteuid() == 0))


def driver_paths(uri: ConnectURI, privileged: bool) -> QemuPaths:
    """Which driver instance serves ``uri``: libvirt's virConnectValidateURIPath for qemu.
    A privileged (root) process has only the system driver, and serves ``/session`` with
    it too (libvirt's compatibility exception for qemu and vbox; root's client sends
    ``qemu:///session`` to the system daemon, see drivers.remote.localdaemon)."""
    from pyvirt.drivers.qemu.paths import QemuPaths, daemon_root

    path = uri.path or ""
    if path == "/embed":
        root = next((v for k, v in uri.params if k == "root"), None)
        if not root:
            raise_error(c.VIR_ERR_INTERNAL_ERROR, "root parameter is required for embedded "
                        "driver", domain=c.VIR_FROM_QEMU)
        if not os.path.isabs(root):
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"root path must be absolute, not '{root}'", domain=c.VIR_FROM_QEMU)
        return QemuPaths.embed(root)
    if path in ("/system", "/session") and privileged:
        return QemuPaths.system()
    if path == "/system" and daemon_root() is not None:
        return QemuPaths.system()
    if path == "/session":
        return QemuPaths.session()
    hint = "qemu:///system" if privileged else "qemu:///session"
    raise_error(c.VIR_ERR_INTERNAL_ERROR,
                f"unexpected QEMU URI path '{path}', try {hint}", domain=c.VIR_FROM_QEMU)
