"""One server of pyvirtd: a set of listeners with their clients, workers and limits.

As libvirtd, pyvirtd runs two servers (libvirt's virNetServer): ``libvirtd`` serves the
hypervisor sockets (read-write, read-only, TCP, TLS) and ``admin`` the admin socket that
virt-admin talks to. Each has its own worker pool (pyvirt.daemon.workers), its own client
limits (``max_clients``, ``max_anonymous_clients``: clients still authenticating) and its
own per-client settings (requests in flight, keepalive). Clients are numbered per server
from 1, as virt-admin ``srv-clients-list`` shows them.
"""

from __future__ import annotations

import itertools
import logging
import time

from pyvirt import constants as c
from pyvirt.daemon.workers import WorkerPool
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.daemon.client import ClientSession

log = logging.getLogger(__name__)

MAIN_SERVER = "libvirtd"
ADMIN_SERVER = "admin"


class NetServer:
    """A server's clients, workers and limits (see the module docstring)."""

    def __init__(self, name: str, *, min_workers: int, max_workers: int, prio_workers: int,
                 max_clients: int, max_anonymous_clients: int, max_queued_clients: int,
                 max_client_requests: int, keepalive_interval: int,
                 keepalive_count: int) -> None:
        self.name = name
        self.pool = WorkerPool(f"pyvirtd-{name}", min_workers, max_workers, prio_workers)
        self.max_clients = max_clients
        # 0: no limit of its own (the admin server's setting, shown as 0 as by libvirtd)
        self.max_unauth_clients = max_anonymous_clients
        self.max_client_requests = max_client_requests
        self.max_queued_clients = max_queued_clients   # its sockets' listen backlog
        self.keepalive_interval = keepalive_interval
        self.keepalive_count = keepalive_count
        self.clients: dict[int, ClientSession] = {}
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<NetServer {self.name} clients={len(self.clients)}>"

    def next_client_id(self) -> int:
        return next(self._ids)

    def unauth_clients(self) -> int:
        return sum(1 for client in self.clients.values() if not client.authenticated)

    def admit(self, client: ClientSession) -> bool:
        """Count ``client`` in, or refuse it when a limit is reached."""
        if len(self.clients) >= self.max_clients:
            log.warning("%s: max_clients (%d) reached: refusing a connection on %s",
                        self.name, self.max_clients, client.listener.name)
            return False
        if (not client.authenticated and self.max_unauth_clients
                and self.unauth_clients() >= self.max_unauth_clients):
            log.warning("%s: max_anonymous_clients (%d) reached: refusing a connection on %s",
                        self.name, self.max_unauth_clients, client.listener.name)
            return False
        client.connected_at = int(time.time())
        self.clients[client.id] = client
        return True

    def forget(self, client: ClientSession) -> None:
        if self.clients.get(client.id) is client:
            del self.clients[client.id]

    def lookup_client(self, client_id: int) -> ClientSession:
        client = self.clients.get(client_id)
        if client is None:
            raise_error(c.VIR_ERR_NO_CLIENT, f"No client with matching ID '{client_id}'",
                        domain=c.VIR_FROM_RPC)
        assert client is not None
        return client

    def set_client_limits(self, max_clients: int | None, max_unauth: int | None) -> None:
        """virt-admin ``srv-clients-set``, with libvirt's check and wording."""
        new_max = self.max_clients if max_clients is None else max_clients
        new_unauth = self.max_unauth_clients if max_unauth is None else max_unauth
        if new_max < new_unauth:
            raise_error(c.VIR_ERR_INVALID_ARG, "The overall maximum number of clients "
                        "waiting for authentication must not be less than the overall "
                        "maximum number of clients", domain=c.VIR_FROM_RPC)
        self.max_clients, self.max_unauth_clients = new_max, new_unauth
