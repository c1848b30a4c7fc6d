"""libvirtError, its subclasses, and the one place that raises them.

Exception tree::

    Exception
     └── libvirtError                 every pyvirt failure; .get_error_code() etc. as libvirt-python
          ├── NoSupportError          VIR_ERR_NO_SUPPORT: the driver lacks the entry point
          ├── OperationDeniedError    VIR_ERR_OPERATION_DENIED: read-only connection, ACL
          ├── OperationInvalidError   VIR_ERR_OPERATION_INVALID: wrong state for the call
          ├── InvalidArgError         VIR_ERR_INVALID_ARG
          ├── XMLError                VIR_ERR_XML_ERROR, VIR_ERR_XML_DETAIL, ..._INVALID_SCHEMA
          ├── NoDomainError, NoNetworkError, NoStoragePoolError, NoStorageVolError,
          │   NoSecretError, NoInterfaceError, NoNodeDeviceError, NoDomainSnapshotError,
          │   NoDomainCheckpointError, NoNWFilterError, NoDomainMetadataError
          ├── InvalidConnError        VIR_ERR_INVALID_CONN (e.g. a closed connection)
          ├── AuthFailedError         VIR_ERR_AUTH_FAILED
          └── InternalError           VIR_ERR_INTERNAL_ERROR

Errors are per call: each exception carries its own code, domain and message. libvirt-python's
thread-local "last error" (``virGetLastError``) and the global error handler are kept for
compatibility and fed from the same place, ``report()``.
"""

from __future__ import annotations

import sys
from _thread import _local as _ThreadLocal  # threading.local itself, minus threading's import

from pyvirt import constants as c
from pyvirt._errmsg import ERROR_DOMAIN_NAMES, ERROR_MESSAGES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

# (code, domain, message, level, str1, str2, str3, int1, int2): libvirt-python's raw error.
RawError = tuple[int, int, str, int, str | None, str | None, str | None, int, int]


class libvirtError(Exception):  # noqa: N801 - libvirt-python's name
    """A failed libvirt call. Compatible with libvirt-python's class of the same name."""

    err: RawError | None

    def __init__(self, defmsg: str, err: RawError | None = None) -> None:
        if err is None:
            # libvirt-python semantics when user code raises it: take this thread's last error.
            err = _state.last_error if getattr(_state, "last_error", None) else None
        super().__init__(err[2] if err is not None else defmsg)
        self.err = err

    def get_error_code(self) -> int | None:
        return None if self.err is None else self.err[0]

    def get_error_domain(self) -> int | None:
        return None if self.err is None else self.err[1]

    def get_error_message(self) -> str | None:
        return None if self.err is None else self.err[2]

    def get_error_level(self) -> int | None:
        return None if self.err is None else self.err[3]

    def get_str1(self) -> str | None:
        return None if self.err is None else self.err[4]

    def get_str2(self) -> str | None:
        return None if self.err is None else self.err[5]

    def get_str3(self) -> str | None:
        return None if self.err is None else self.err[6]

    def get_int1(self) -> int | None:
        return None if self.err is None else self.err[7]

    def get_int2(self) -> int | None:
        return None if self.err is None else self.err[8]


class NoSupportError(libvirtError):
    pass


class OperationDeniedError(libvirtError):
    pass


class OperationInvalidError(libvirtError):
    pass


class OperationFailedError(libvirtError):
    pass


class InvalidArgError(libvirtError):
    pass


class XMLError(libvirtError):
    pass


class InvalidConnError(libvirtError):
    pass


class AuthFailedError(libvirtError):
    pass


class InternalError(libvirtError):
    pass


class NoDomainError(libvirtError):
    pass


class NoNetworkError(libvirtError):
    pass


class NoStoragePoolError(libvirtError):
    pass


class NoStorageVolError(libvirtError):
    pass


class NoSecretError(libvirtError):
    pass


class NoInterfaceError(libvirtError):
    pass


class NoNodeDeviceError(libvirtError):
    pass


class NoNWFilterError(libvirtError):
    pass


class NoDomainSnapshotError(libvirtError):
    pass


class NoDomainCheckpointError(libvirtError):
    pass


class NoDomainMetadataError(libvirtError):
    pass


_CLASS_BY_CODE: dict[int, type[libvirtError]] = {
    c.VIR_ERR_NO_SUPPORT: NoSupportError,
    c.VIR_ERR_OPERATION_DENIED: OperationDeniedError,
    c.VIR_ERR_OPERATION_INVALID: OperationInvalidError,
    c.VIR_ERR_OPERATION_FAILED: OperationFailedError,
    c.VIR_ERR_INVALID_ARG: InvalidArgError,
    c.VIR_ERR_XML_ERROR: XMLError,
    c.VIR_ERR_XML_DETAIL: XMLError,
    c.VIR_ERR_XML_INVALID_SCHEMA: XMLError,
    c.VIR_ERR_INVALID_CONN: InvalidConnError,
    c.VIR_ERR_AUTH_FAILED: AuthFailedError,
    c.VIR_ERR_INTERNAL_ERROR: InternalError,
    c.VIR_ERR_NO_DOMAIN: NoDomainError,
    c.VIR_ERR_NO_NETWORK: NoNetworkError,
    c.VIR_ERR_NO_STORAGE_POOL: NoStoragePoolError,
    c.VIR_ERR_NO_STORAGE_VOL: NoStorageVolError,
    c.VIR_ERR_NO_SECRET: NoSecretError,
    c.VIR_ERR_NO_INTERFACE: NoInterfaceError,
    c.VIR_ERR_NO_NODE_DEVICE: NoNodeDeviceError,
    c.VIR_ERR_NO_NWFILTER: NoNWFilterError,
    c.VIR_ERR_NO_DOMAIN_SNAPSHOT: NoDomainSnapshotError,
    c.VIR_ERR_NO_DOMAIN_CHECKPOINT: NoDomainCheckpointError,
    c.VIR_ERR_NO_DOMAIN_METADATA: NoDomainMetadataError,
}


class _ThreadState(_ThreadLocal):
    last_error: RawError | None = None


_state = _ThreadState()
if TYPE_CHECKING:
    ErrorHandler = Callable[[Any, RawError], None]
_handler: tuple[ErrorHandler, Any] | None = None


def message_for(code: int, detail: str | None = None) -> str:
    """libvirt's wording for ``code``, with ``detail`` filled in when given."""
    plain, detailed = ERROR_MESSAGES.get(code, (None, None))
    if detail is None:
        return plain or ""
    return (detailed or "%s") % detail


def domain_name(domain: int) -> str:
    if 0 <= domain < len(ERROR_DOMAIN_NAMES):
        return ERROR_DOMAIN_NAMES[domain]
    return "Unknown"


def make_error(
    code: int,
    detail: str | None = None,
    *,
    domain: int = c.VIR_FROM_NONE,
    level: int = c.VIR_ERR_ERROR,
    str1: str | None = None,
    str2: str | None = None,
    str3: str | None = None,
    int1: int = -1,
    int2: int = -1,
    message: str | None = None,
) -> libvirtError:
    """Build the exception for ``code``. ``message`` overrides libvirt's composed wording
    (used when relaying an error that already has its final text, e.g. from a daemon)."""
    if message is None:
        message = message_for(code, detail)
    if str1 is None:
        str1 = message_for(code, "%s" if detail is not None else None) or None
    if str2 is None and detail is not None:
        str2 = detail
    raw: RawError = (code, domain, message, level, str1, str2, str3, int1, int2)
    exc = _CLASS_BY_CODE.get(code, libvirtError)(message, raw)
    return exc


def report(exc: libvirtError) -> None:
    """Record ``exc`` as this thread's last error and tell the error handler, as libvirt does
    when a public API call fails."""
    if exc.err is None:
        return
    _state.last_error = exc.err
    if _handler is not None:
        func, ctx = _handler
        func(ctx, exc.err)
    else:
        _default_handler(exc.err)


def raise_error(code: int, detail: str | None = None, **kwargs: Any) -> NoReturn:
    """Raise libvirtError ``code`` with libvirt's wording (``detail`` goes after the colon)."""
    raise make_error(code, detail, **kwargs)


def no_support(api_name: str, domain: int = c.VIR_FROM_NONE) -> NoReturn:
    """The driver lacks ``api_name`` (libvirt's public name, e.g. ``virDomainGetInfo``)."""
    raise_error(c.VIR_ERR_NO_SUPPORT, api_name, domain=domain)


def _default_handler(err: RawError) -> None:
    # libvirt's default handler prints every error to stderr; libvirt-python keeps that.
    if not _print_by_default:
        return
    code, domain, message, level = err[0], err[1], err[2], err[3]
    if code == c.VIR_ERR_OK:
        return
    lvl = {c.VIR_ERR_WARNING: "warning", c.VIR_ERR_ERROR: "error"}.get(level, "")
    sys.stderr.write(f"libvirt: {domain_name(domain)} {lvl} : {message}\n")


# Interactive scripts expect the default stderr print; pyvirt's own tools turn it off.
_print_by_default = True


def set_default_printing(enabled: bool) -> None:
    global _print_by_default
    _print_by_default = enabled


def register_error_handler(func: ErrorHandler | None, ctx: Any) -> int:
    global _handler
    _handler = None if func is None else (func, ctx)
    return 1


def last_error() -> RawError | None:
    return _state.last_error


def reset_last_error() -> None:
    _state.last_error = None
