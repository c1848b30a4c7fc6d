"""The remote driver: pyvirt as a client of libvirt's wire protocol, for any daemon that speaks
it (libvirtd, the modular virt*d daemons, pyvirtd).

``pyvirt.drivers.base.open_driver`` sends here every URI with a transport
(``qemu+ssh://host/system``, ``test+unix:///default?socket=...``) or a host; ``connect(uri,
auth, flags)`` returns a :class:`~pyvirt.drivers.remote.driver.RemoteDriver`.

Modules:

``dialers``     transports behind one small interface (``dial() -> Channel``): unix sockets
                (paths as libvirt's remote_sockets.c chooses them), tcp, ssh/ext commands
                (libvirt's ``ssh ... -- host 'sh -c ...'`` line), tls
``connection``  one RPC connection: a state machine (connecting, open, closing, closed),
                serials, concurrent calls from several threads ("passing the buck" I/O as in
                libvirt's client), keepalive, event and stream frame routing
``stubs``       every procedure of the protocol table as a driver method, plus the small
                adaptation table for libvirt-python's shapes; ``custom`` has the few that need
                code, ``convert`` the value conversions
``events``      event messages -> pyvirt event records (per-connection EventState)
``streams``     virStream data over STREAM frames (send/recv, holes, finish, abort)
``driver``      RemoteDriver: opening and closing, local answers, event registration, the
                close callback, streams
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.drivers.remote.driver import RemoteDriver
    from pyvirt.uri import ConnectURI


def connect(uri: ConnectURI, auth: Any, flags: int) -> RemoteDriver:
    """Open ``uri`` through the remote driver (virConnectOpen for a remote URI)."""
    from pyvirt.drivers.remote.driver import open_remote

    return open_remote(uri, auth, flags)
