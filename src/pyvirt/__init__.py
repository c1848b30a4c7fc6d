"""pyvirt: a pure-Python implementation of libvirt, compatible with libvirt-python.

``import pyvirt as libvirt`` gives libvirt-python's module surface: ``open()``,
``openReadOnly()``, ``openAuth()``, the handle classes (``virConnect``, ``virDomain``, ...),
``libvirtError``, the event-loop functions and every ``VIR_*`` constant with libvirt's value.
"""

from __future__ import annotations

from collections.abc import Callable as _Callable
from typing import TYPE_CHECKING, Any
from typing import TypeVar as _TypeVar

from pyvirt.api.checkpoint import virDomainCheckpoint
from pyvirt.api.connect import virConnect
from pyvirt.api.domain import virDomain
from pyvirt.api.interface import virInterface
from pyvirt.api.network import virNetwork, virNetworkPort
from pyvirt.api.nodedev import virNodeDevice
from pyvirt.api.nwfilter import virNWFilter, virNWFilterBinding
from pyvirt.api.secret import virSecret
from pyvirt.api.snapshot import virDomainSnapshot
from pyvirt.api.storage import virStoragePool, virStorageVol
from pyvirt.api.stream import virStream
from pyvirt.constants import *  # noqa: F403 - libvirt-python exposes every VIR_* name here
from pyvirt.constants import LIBVIR_VERSION_NUMBER, VIR_CONNECT_RO
from pyvirt.errors import last_error as _last_error
from pyvirt.errors import libvirtError
from pyvirt.errors import register_error_handler as _register_error_handler
from pyvirt.errors import report as _report
from pyvirt.errors import reset_last_error as _reset_last_error
from pyvirt.events import loop as _loop

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvirt.errors import RawError

__version__ = "0.1.0"

# libvirt-python's typing aliases; code written for it (and its tests) annotates with them.
_T = _TypeVar("_T")
_EventCB = _Callable[[int, int, int, _T], None]
_EventAddHandleFunc = _Callable[[int, int, _EventCB, _T], int]
_EventUpdateHandleFunc = _Callable[[int, int], None]
_EventRemoveHandleFunc = _Callable[[int], int]
_TimerCB = _Callable[[int, _T], None]
_EventAddTimeoutFunc = _Callable[[int, _TimerCB, _T], int]
_EventUpdateTimeoutFunc = _Callable[[int, int], None]
_EventRemoveTimeoutFunc = _Callable[[int], int]
_DomainCB = _Callable[["virConnect", "virDomain", int, int, _T], int | None]
_BlkioParameter = dict[str, Any]
_MemoryParameter = dict[str, Any]
_SchedParameter = dict[str, Any]
_TypedParameter = dict[str, Any]

# The event loop functions under libvirt-python's names.
virEventRegisterDefaultImpl = _loop.register_default_impl
virEventRunDefaultImpl = _loop.run_default_impl
virEventAddHandle = _loop.add_handle
virEventUpdateHandle = _loop.update_handle
virEventRemoveHandle = _loop.remove_handle
virEventAddTimeout = _loop.add_timeout
virEventUpdateTimeout = _loop.update_timeout
virEventRemoveTimeout = _loop.remove_timeout
virEventInvokeFreeCallback = _loop.invoke_free_callback

__all__ = [
    "libvirtError",
    "open",
    "openReadOnly",
    "openAuth",
    "getVersion",
    "registerErrorHandler",
    "virGetLastError",
    "virGetLastErrorCode",
    "virGetLastErrorDomain",
    "virGetLastErrorMessage",
    "virResetLastError",
    "virInitialize",
    "virEventRegisterDefaultImpl",
    "virEventRunDefaultImpl",
    "virEventRegisterImpl",
    "virEventAddHandle",
    "virEventUpdateHandle",
    "virEventRemoveHandle",
    "virEventAddTimeout",
    "virEventUpdateTimeout",
    "virEventRemoveTimeout",
    "virEventInvokeFreeCallback",
    "virConnect",
    "virDomain",
    "virDomainCheckpoint",
    "virDomainSnapshot",
    "virInterface",
    "virNetwork",
    "virNetworkPort",
    "virNodeDevice",
    "virNWFilter",
    "virNWFilterBinding",
    "virSecret",
    "virStoragePool",
    "virStorageVol",
    "virStream",
]


def _open(name: str | None, auth: Any, flags: int) -> virConnect:
    from pyvirt.drivers.base import open_driver
    from pyvirt.uri import parse_uri, resolve_uri

    try:
        resolved = resolve_uri(name, readonly=bool(flags & VIR_CONNECT_RO))
        driver = open_driver(parse_uri(resolved), auth, flags)
    except libvirtError as exc:
        _report(exc)
        raise
    return virConnect(resolved, driver, readonly=bool(flags & VIR_CONNECT_RO))


def open(name: str | None = None) -> virConnect:  # noqa: A001 - libvirt-python's name
    """Open a read-write connection to the hypervisor named by ``name`` (a URI or alias;
    None means the default: LIBVIRT_DEFAULT_URI, then the config file)."""
    return _open(name, None, 0)


def openReadOnly(name: str | None = None) -> virConnect:  # noqa: N802
    """Open a connection that refuses every call that would change anything."""
    return _open(name, None, VIR_CONNECT_RO)


def openAuth(uri: str | None, auth: list[Any], flags: int = 0) -> virConnect:  # noqa: N802
    """Open a connection, asking ``auth = [credtypes, callback, opaque]`` for credentials."""
    return _open(uri, auth, flags)


def getVersion(name: str | None = None) -> int:  # noqa: N802
    """The libvirt version pyvirt is compatible with, as major * 1,000,000 + minor * 1,000."""
    return LIBVIR_VERSION_NUMBER


def virInitialize() -> int:  # noqa: N802
    return 0


def registerErrorHandler(f: Callable[[Any, RawError], None] | None, ctx: Any) -> int:  # noqa: N802
    """Call ``f(ctx, error)`` for every error instead of printing it to stderr."""
    return _register_error_handler(f, ctx)


def virGetLastError() -> RawError | None:  # noqa: N802
    return _last_error()


def virGetLastErrorCode() -> int:  # noqa: N802
    err = _last_error()
    return err[0] if err else 0


def virGetLastErrorDomain() -> int:  # noqa: N802
    err = _last_error()
    return err[1] if err else 0


def virGetLastErrorMessage() -> str:  # noqa: N802
    err = _last_error()
    return err[2] if err else "no error"


def virResetLastError() -> None:  # noqa: N802
    _reset_last_error()


def virEventRegisterImpl(  # noqa: N802
    addHandle: Callable[..., int],  # noqa: N803
    updateHandle: Callable[..., None],  # noqa: N803
    removeHandle: Callable[..., int],  # noqa: N803
    addTimeout: Callable[..., int],  # noqa: N803
    updateTimeout: Callable[..., None],  # noqa: N803
    removeTimeout: Callable[..., int],  # noqa: N803
) -> None:
    """Make the given six functions the process's event loop implementation."""
    _loop.register_impl(
        addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout
    )
