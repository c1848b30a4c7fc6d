"""The driver interface and the URI -> driver registry.

A driver implements libvirt's entry points as methods named after the public C function
without its ``vir`` prefix: ``virDomainGetInfo`` is ``domainGetInfo(dom)``. Arguments follow
the C function's order; object pointers are pyvirt handles (``virDomain`` etc., each with
``_conn`` and identity fields), and returned objects are handles made with the connection's
``_make_*`` factories. Python shapes (lists, dicts) are the ones libvirt-python returns.

An entry point a driver does not define raises VIR_ERR_NO_SUPPORT with libvirt's wording, in
exactly one place: ``Driver.__getattr__``.
"""

from __future__ import annotations

import os
import sys

from pyvirt import constants as c
from pyvirt._api_names import PUBLIC_FUNCTIONS
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pyvirt.api.connect import virConnect
    from pyvirt.uri import ConnectURI

# Public functions live in per-object source files in libvirt, each reporting errors in its
# own domain; the longest matching prefix decides.
_API_ERROR_DOMAINS: tuple[tuple[str, int], ...] = (
    ("virDomainSnapshot", c.VIR_FROM_DOMAIN_SNAPSHOT),
    ("virDomainCheckpoint", c.VIR_FROM_DOMAIN_CHECKPOINT),
    ("virNetworkPort", c.VIR_FROM_NETWORK),
    ("virNetwork", c.VIR_FROM_NETWORK),
    ("virConnectNetwork", c.VIR_FROM_NETWORK),
    ("virConnectListNetworks", c.VIR_FROM_NETWORK),
    ("virConnectListAllNetworks", c.VIR_FROM_NETWORK),
    ("virConnectListDefinedNetworks", c.VIR_FROM_NETWORK),
    ("virConnectNumOfNetworks", c.VIR_FROM_NETWORK),
    ("virConnectNumOfDefinedNetworks", c.VIR_FROM_NETWORK),
    ("virStorage", c.VIR_FROM_STORAGE),
    ("virConnectStoragePool", c.VIR_FROM_STORAGE),
    ("virConnectFindStoragePoolSources", c.VIR_FROM_STORAGE),
    ("virConnectGetStoragePoolCapabilities", c.VIR_FROM_STORAGE),
    ("virConnectListAllStoragePools", c.VIR_FROM_STORAGE),
    ("virConnectListStoragePools", c.VIR_FROM_STORAGE),
    ("virConnectListDefinedStoragePools", c.VIR_FROM_STORAGE),
    ("virConnectNumOfStoragePools", c.VIR_FROM_STORAGE),
    ("virConnectNumOfDefinedStoragePools", c.VIR_FROM_STORAGE),
    ("virInterface", c.VIR_FROM_INTERFACE),
    ("virConnectListAllInterfaces", c.VIR_FROM_INTERFACE),
    ("virConnectListInterfaces", c.VIR_FROM_INTERFACE),
    ("virConnectListDefinedInterfaces", c.VIR_FROM_INTERFACE),
    ("virConnectNumOfInterfaces", c.VIR_FROM_INTERFACE),
    ("virConnectNumOfDefinedInterfaces", c.VIR_FROM_INTERFACE),
    ("virNodeDevice", c.VIR_FROM_NODEDEV),
    ("virNodeListDevices", c.VIR_FROM_NODEDEV),
    ("virNodeNumOfDevices", c.VIR_FROM_NODEDEV),
    ("virConnectListAllNodeDevices", c.VIR_FROM_NODEDEV),
    ("virConnectNodeDevice", c.VIR_FROM_NODEDEV),
    ("virSecret", c.VIR_FROM_SECRET),
    ("virConnectListAllSecrets", c.VIR_FROM_SECRET),
    ("virConnectListSecrets", c.VIR_FROM_SECRET),
    ("virConnectNumOfSecrets", c.VIR_FROM_SECRET),
    ("virConnectSecret", c.VIR_FROM_SECRET),
    ("virStream", c.VIR_FROM_STREAMS),
    ("virNWFilter", c.VIR_FROM_NWFILTER),
    ("virConnectListAllNWFilter", c.VIR_FROM_NWFILTER),
    ("virConnectListNWFilters", c.VIR_FROM_NWFILTER),
    ("virConnectNumOfNWFilters", c.VIR_FROM_NWFILTER),
    ("virConnectOpen", c.VIR_FROM_NONE),
    ("virConnectClose", c.VIR_FROM_NONE),
    ("virGetVersion", c.VIR_FROM_NONE),
    ("virConnectGetVersion", c.VIR_FROM_NONE),
    ("virConnectGetType", c.VIR_FROM_NONE),
)


def api_error_domain(api_name: str) -> int:
    """The VIR_FROM_* domain libvirt's public API ``api_name`` reports its own errors in."""
    best = ("", c.VIR_FROM_DOMAIN)
    for prefix, domain in _API_ERROR_DOMAINS:
        if api_name.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, domain)
    return best[1]


def unsupported(api_name: str) -> NoReturn:
    raise_error(c.VIR_ERR_NO_SUPPORT, api_name, domain=api_error_domain(api_name))


def entry_point_api_name(method: str) -> str:
    """``domainGetInfo`` -> ``virDomainGetInfo`` (``nwfilter*`` -> ``virNWFilter*``)."""
    if method.startswith("nwfilter"):
        return "virNWFilter" + method[len("nwfilter") :]
    return "vir" + method[:1].upper() + method[1:]


class Driver:
    """Base of every driver (hypervisor, network, storage, ... or all of them in one)."""

    #: libvirt's name of the driver, as virConnectGetType reports it ("TEST", "QEMU").
    name: str = ""
    #: The VIR_FROM_* domain of errors the driver raises.
    error_domain: int = c.VIR_FROM_NONE

    def __getattr__(self, method: str) -> Callable[..., Any]:
        # Only reached for attributes the driver lacks: libvirt's "not supported" rule.
        api_name = entry_point_api_name(method)
        if api_name not in PUBLIC_FUNCTIONS:
            raise AttributeError(f"{type(self).__name__!s} has no attribute {method!r}")
        secondary = self.secondary_driver(api_error_domain(api_name))
        if secondary is not None:
            return getattr(secondary, method)  # type: ignore[no-any-return]

        def not_supported(*_args: Any, **_kwargs: Any) -> NoReturn:
            unsupported(api_name)

        return not_supported

    def supports(self, method: str) -> bool:
        """Whether the driver really implements entry point ``method``."""
        return any(method in vars(klass) for klass in type(self).__mro__ if klass is not Driver)

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802 - libvirt entry point name
        """Called once when ``conn`` closes; drivers release per-connection state here."""

    def secondary_driver(self, error_domain: int) -> Driver | None:
        """The driver that serves this connection's entry points of ``error_domain``
        (VIR_FROM_NETWORK, VIR_FROM_STORAGE) when this driver does not (see secondary.py)."""
        return None


class ClosedDriver:
    """Stands in for the driver of a closed connection: every call fails as libvirt's does
    on a freed virConnectPtr ("invalid connection pointer in virXxx")."""

    def __getattr__(self, method: str) -> Callable[..., Any]:
        api_name = entry_point_api_name(method)

        def invalid_connection(*_args: Any, **_kwargs: Any) -> NoReturn:
            raise_error(c.VIR_ERR_INVALID_CONN, api_name, domain=api_error_domain(api_name))

        return invalid_connection


CLOSED = ClosedDriver()

# URI scheme (driver part) -> module with ``connect(uri, auth, flags) -> Driver``.
# Imported only when a URI asks for it, to keep `import pyvirt` lean.
_LOCAL_DRIVERS: dict[str, str] = {
    "test": "pyvirt.drivers.test",
    "qemu": "pyvirt.drivers.qemu",
    "storage": "pyvirt.drivers.storage",
}
_REMOTE_DRIVER = "pyvirt.drivers.remote"


# Local drivers that run in the calling process; every other one lives in pyvirtd, which
# libvirt's client library reaches through its remote driver (only test:/// is in the
# library itself, and embedded drivers by definition).
_IN_PROCESS_DRIVERS = frozenset(("test",))
#: The escape hatch: with ``PYVIRT_IN_PROCESS=1`` in the environment (or
#: :func:`set_in_process`), ``qemu:///system`` etc. open their driver in this process
#: instead of talking to pyvirtd (tests, tools that must not need a daemon).
IN_PROCESS_ENV = "PYVIRT_IN_PROCESS"

_inside_daemon = False
_in_process = False


def set_inside_daemon(inside: bool = True) -> None:
    """Mark this process as pyvirtd (libvirt's remote driver ``inside_daemon``): local
    URIs then open the drivers here, never a connection to the daemon itself."""
    global _inside_daemon
    _inside_daemon = inside


def inside_daemon() -> bool:
    return _inside_daemon


def set_in_process(in_process: bool = True) -> None:
    """Programmatic form of ``PYVIRT_IN_PROCESS=1`` (embedding, tests)."""
    global _in_process
    _in_process = in_process


def register_local_driver(scheme: str, module: str) -> None:
    _LOCAL_DRIVERS[scheme] = module


def connection_kind(uri: ConnectURI, *, daemon: bool | None = None,
                    in_process: bool | None = None) -> str:
    """How ``uri`` is served: "local" (a driver in this process), "daemon" (pyvirtd over
    its local unix socket) or "remote" (the remote driver: a transport or a host).
    ``daemon`` / ``in_process`` override :func:`inside_daemon` and the escape hatch."""
    if uri.transport is not None or uri.host:
        return "remote"
    if uri.driver in _IN_PROCESS_DRIVERS or uri.is_embed or uri.driver not in _LOCAL_DRIVERS:
        return "local"
    if daemon is None:
        daemon = _inside_daemon
    if in_process is None:
        in_process = _in_process or os.environ.get(IN_PROCESS_ENV, "") not in ("", "0")
    return "local" if daemon or in_process else "daemon"


def open_driver(uri: ConnectURI, auth: Any, flags: int) -> Driver:
    """Pick and open the driver for ``uri``, as libvirt's virConnectOpen does."""
    kind = connection_kind(uri)
    if kind == "daemon":
        from pyvirt.drivers.remote.localdaemon import connect_daemon

        return connect_daemon(uri, auth, flags)
    module_name = _LOCAL_DRIVERS.get(uri.driver) if kind == "local" else _REMOTE_DRIVER
    if module_name is None:
        raise_error(c.VIR_ERR_NO_CONNECT, str(uri), domain=c.VIR_FROM_NONE)
    try:
        __import__(module_name)  # importlib's own import costs start-up ~1 ms
        module = sys.modules[module_name]
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise_error(c.VIR_ERR_NO_CONNECT, str(uri), domain=c.VIR_FROM_NONE)
    driver: Driver = module.connect(uri, auth, flags)
    return driver


def check_flags(api_name: str, flags: int, allowed: int, domain: int = c.VIR_FROM_NONE) -> None:
    """libvirt's virCheckFlags: unknown flag bits are VIR_ERR_INVALID_ARG."""
    unknown = flags & ~allowed
    if unknown:
        # virReportInvalidArg: the text is the whole message, without "invalid argument: ".
        text = f"unsupported flags (0x{unknown:x}) in function {api_name}"
        raise_error(c.VIR_ERR_INVALID_ARG, text, domain=domain, message=text, str1=api_name,
                    str2="flags", int1=0, int2=0)
