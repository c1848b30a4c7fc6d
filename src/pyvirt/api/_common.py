"""What every public handle method shares: the API boundary and the read-only check."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import api_error_domain
from pyvirt.errors import libvirtError, make_error, raise_error, report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn, Protocol, TypeVar

    T = TypeVar("T", bound=type)

    class _Connection(Protocol):
        _readonly: bool


def api_boundary(cls: T) -> T:
    """Wrap each public method of ``cls`` — its own and those it inherits from mixins — so a
    failure is reported the way libvirt's public API reports it (thread's last error, error
    handler) before it propagates."""
    seen: set[str] = set()
    for klass in cls.__mro__[:-1]:
        for name, value in vars(klass).items():
            if name in seen or (name.startswith("_") and name not in ("__enter__", "__exit__")):
                continue
            seen.add(name)
            if (callable(value) and not isinstance(value, (type, staticmethod, classmethod))
                    and not getattr(value, "__pyvirt_boundary__", False)):
                setattr(cls, name, _reporting(value))
    return cls


def _reporting(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except libvirtError as exc:
            report(exc)
            raise

    # What functools.wraps copies, assigned directly: import pyvirt wraps ~360 methods, and
    # update_wrapper's generic getattr/setattr loop cost about 1.5 ms of that.
    wrapper.__module__ = method.__module__
    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    wrapper.__annotations__ = method.__annotations__
    wrapper.__dict__.update(method.__dict__)
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    wrapper.__pyvirt_boundary__ = True  # type: ignore[attr-defined]
    return wrapper


def denied(api_name: str) -> NoReturn:
    raise_error(
        c.VIR_ERR_OPERATION_DENIED,
        f"read only access prevents {api_name}",
        domain=api_error_domain(api_name),
    )


def check_writable(conn: _Connection, api_name: str) -> None:
    """libvirt refuses every mutating call on a read-only connection, before the driver."""
    if conn._readonly:
        denied(api_name)


def invalid_arg(api_name: str, detail: str, argname: str | None = None) -> NoReturn:
    """libvirt's virReportInvalidArg: the message is ``detail`` alone, without the usual
    "invalid argument:" prefix; str1 names the function and str2 the argument."""
    raise make_error(
        c.VIR_ERR_INVALID_ARG,
        message=detail,
        domain=api_error_domain(api_name),
        str1=api_name,
        str2=argname,
        int1=0,
        int2=0,
    )


def uuid_from_string(api_name: str, uuidstr: str) -> str:
    """A caller's UUID string in canonical form; libvirt's error when it is not a UUID."""
    from pyvirt.conf.xmlutil import parse_uuid

    canonical = parse_uuid(uuidstr) if isinstance(uuidstr, str) else None
    if canonical is None:
        # libvirt words it per family: virDomainLookupByUUIDString says "Invalid UUID", the
        # network, port, storage pool, nwfilter and secret lookups name the function
        detail = ("Invalid UUID" if api_name == "virDomainLookupByUUIDString"
                  else f"uuidstr in {api_name} must be a valid UUID")
        invalid_arg(api_name, detail, "uuidstr")
    return canonical


def uuid_from_bytes(api_name: str, raw: bytes) -> str:
    """A caller's 16 raw UUID bytes in canonical string form."""
    import uuid as _uuid

    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 16:
        invalid_arg(api_name, "Invalid UUID", "uuid")
    return str(_uuid.UUID(bytes=bytes(raw)))


class NamedHandle:
    """Identity of a handle known by name and UUID (networks, pools, nwfilters): answered
    from the handle itself, as libvirt answers it from the virXxxPtr."""

    __slots__ = ("_conn", "_name", "_uuid")

    def __init__(self, conn: Any, name: str, uuid: str) -> None:
        self._conn = conn
        self._name = name
        self._uuid = uuid

    def connect(self) -> Any:
        return self._conn

    def name(self) -> str:
        return self._name

    def UUID(self) -> bytes:  # noqa: N802
        import uuid as _uuid

        return _uuid.UUID(self._uuid).bytes

    def UUIDString(self) -> str:  # noqa: N802
        return self._uuid


class DomainChildHandle:
    """Identity of a handle that belongs to a domain (snapshots, checkpoints)."""

    __slots__ = ("_dom", "_conn", "_name")

    def __init__(self, dom: Any, name: str) -> None:
        self._dom = dom
        self._conn = dom._conn
        self._name = name

    def domain(self) -> Any:
        return self._dom

    def getDomain(self) -> Any:  # noqa: N802
        return self._dom

    def connect(self) -> Any:
        return self._conn

    def getConnect(self) -> Any:  # noqa: N802
        return self._conn

    def getName(self) -> str:  # noqa: N802
        return self._name
