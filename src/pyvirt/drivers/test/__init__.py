"""libvirt's test driver: ``test:///default`` (one shared fake host) and ``test:///PATH.xml``
(a private host loaded from a node file)."""

from __future__ import annotations

from pyvirt.drivers.test.driver import TestDriver, open_driver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.uri import ConnectURI

__all__ = ["TestDriver", "connect"]


def connect(uri: ConnectURI, auth: Any, flags: int) -> TestDriver:
    """Open the test driver for ``uri`` (the registry's entry point)."""
    return open_driver(uri.path, auth, flags)
