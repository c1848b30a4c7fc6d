"""libvirt's test driver: ``test:///default`` (one shared fake host) and ``test:///PATH.xml``
(a private host loaded from a node file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.drivers.test.driver import TestDriver, open_driver

if TYPE_CHECKING:
    from pyvirt.uri import ConnectURI

__all__ = ["TestDriver", "connect"]


def connect(uri: ConnectURI, auth: Any, flags: int) -> TestDriver:
    """Open the test driver for ``uri`` (the registry's entry point)."""
    return open_driver(uri.path, auth, flags)
