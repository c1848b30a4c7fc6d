"""pyvirt: a pure-Python implementation of libvirt, compatible with libvirt-python.

``import pyvirt as libvirt`` gives libvirt-python's module surface: ``open()``,
``openReadOnly()``, ``openAuth()``, the handle classes (``virConnect``, ``virDomain``, ...),
``libvirtError``, the event-loop functions and every ``VIR_*`` constant with libvirt's value.
"""

from __future__ import annotations

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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from pyvirt.errors import RawError
    from pyvirt.events.loop import add_handle as virEventAddHandle
    from pyvirt.events.loop import add_timeout as virEventAddTimeout
    from pyvirt.events.loop import invoke_free_callback as virEventInvokeFreeCallback
    from pyvirt.events.loop import register_default_impl as virEventRegisterDefaultImpl
    from pyvirt.events.loop import remove_handle as virEventRemoveHandle
    from pyvirt.events.loop import remove_timeout as virEventRemoveTimeout
    from pyvirt.events.loop import run_default_impl as virEventRunDefaultImpl
    from pyvirt.events.loop import update_handle as virEventUpdateHandle
    from pyvirt.events.loop import update_timeout as virEventUpdateTimeout

    # libvirt-python's typing aliases; code written for it (and its tests) annotates with them.
    _T = TypeVar("_T")
    _EventCB = Callable[[int, int, int, _T], None]
    _EventAddHandleFunc = Callable[[int, int, _EventCB, _T], int]
    _EventUpdateHandleFunc = Callable[[int, int], None]
    _EventRemoveHandleFunc = Callable[[int], int]
    _TimerCB = Callable[[int, _T], None]
    _EventAddTimeoutFunc = Callable[[int, _TimerCB, _T], int]
    _EventUpdateTimeoutFunc = Callable[[int, int], None]
    _EventRemoveTimeoutFunc = Callable[[int], int]
    _DomainCB = Callable[[virConnect, virDomain, int, int, _T], int | None]
    _BlkioParameter = dict[str, Any]
    _MemoryParameter = dict[str, Any]
    _SchedParameter = dict[str, Any]
    _TypedParameter = dict[str, Any]

__version__ = "0.1.0"

# The event loop functions under libvirt-python's names, and its typing aliases, are bound
# on first access (PEP 562): the loop module (select, threading) and typing cost a command-
# line client such as pyvirsh about 10 ms of start-up, and most never touch either.
_EVENT_FUNCTIONS = {
    "virEventRegisterDefaultImpl": "register_default_impl",
    "virEventRunDefaultImpl": "run_default_impl",
    "virEventAddHandle": "add_handle",
    "virEventUpdateHandle": "update_handle",
    "virEventRemoveHandle": "remove_handle",
    "virEventAddTimeout": "add_timeout",
    "virEventUpdateTimeout": "update_timeout",
    "virEventRemoveTimeout": "remove_timeout",
    "virEventInvokeFreeCallback": "invoke_free_callback",
}
_TYPING_ALIASES = (
    "_T", "_EventCB", "_EventAddHandleFunc", "_EventUpdateHandleFunc", "_EventRemoveHandleFunc",
    "_TimerCB", "_EventAddTimeoutFunc", "_EventUpdateTimeoutFunc", "_EventRemoveTimeoutFunc",
    "_DomainCB", "_BlkioParameter", "_MemoryParameter", "_SchedParameter", "_TypedParameter",
)


if not TYPE_CHECKING:  # mypy sees the names themselves, above

    def _typing_aliases() -> dict[str, object]:
        from collections.abc import Callable
        from typing import Any, TypeVar

        t = TypeVar("_T")
        event_cb = Callable[[int, int, int, t], None]
        timer_cb = Callable[[int, t], None]
        return {
            "_T": t,
            "_EventCB": event_cb,
            "_EventAddHandleFunc": Callable[[int, int, event_cb, t], int],
            "_EventUpdateHandleFunc": Callable[[int, int], None],
            "_EventRemoveHandleFunc": Callable[[int], int],
            "_TimerCB": timer_cb,
            "_EventAddTimeoutFunc": Callable[[int, timer_cb, t], int],
            "_EventUpdateTimeoutFunc": Callable[[int, int], None],
            "_EventRemoveTimeoutFunc": Callable[[int], int],
            "_DomainCB": Callable[["virConnect", "virDomain", int, int, t], int | None],
            "_BlkioParameter": dict[str, Any],
            "_MemoryParameter": dict[str, Any],
            "_SchedParameter": dict[str, Any],
            "_TypedParameter": dict[str, Any],
        }

    def __getattr__(name: str) -> object:
        if name in _EVENT_FUNCTIONS:
            from pyvirt.events import loop

            value: object = getattr(loop, _EVENT_FUNCTIONS[name])
        elif name in _TYPING_ALIASES:
            globals().update(_typing_aliases())
            return globals()[name]
        else:
            raise AttributeError(f"module 'pyvirt' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EVENT_FUNCTIONS) | set(_TYPING_ALIASES))


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
    from pyvirt.events import loop

    loop.register_impl(
        addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout
    )
