"""libvirt's RPC programs as tables: every type and every procedure, declared once.

The modules next to this one are generated from libvirt's ``.x`` files by
scripts/gen_rpc_protocol.py (``net`` = virnetprotocol.x, ``keepalive``, ``remote``, ``qemu``,
``lxc``, ``admin``); this module turns them into objects, each program loaded on first use:

* :func:`program` (by number or name) -> :class:`Program`: ``number``, ``version``,
  ``types`` (a :class:`pyvirt.rpc.xdr.TypeTable`), ``procedures`` {number: Procedure},
  and :meth:`Program.procedure` lookup by number, ``"DOMAIN_GET_INFO"``,
  ``"REMOTE_PROC_DOMAIN_GET_INFO"`` or public API name ``"virDomainGetInfo"``.
* :func:`lookup` (prog, proc) -> :class:`Procedure` or None: what a dispatcher does with a
  received header.
* :class:`Procedure`: the row of the table (priority, read-only rule, stream direction,
  API name, ACLs) plus its codecs and frame builders; see the package docstring of
  pyvirt.rpc for the calls a client and a server make.
"""

from __future__ import annotations

from pyvirt.rpc import message as m
from pyvirt.rpc.protocol._programs import PROGRAMS
from pyvirt.rpc.xdr import TypeTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from pyvirt.rpc.message import Message
    from pyvirt.rpc.xdr import Codec

_BY_NAME = {name: number for number, (name, _, _) in PROGRAMS.items()}
_tables: dict[str, TypeTable] = {}
_programs: dict[int, Program] = {}


def _module(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"pyvirt.rpc.protocol.{name}")


def tables(module: str) -> TypeTable:
    """The type table of a generated module (``"net"``, ``"remote"``, ...), with the tables
    of the modules it uses as parents."""
    table = _tables.get(module)
    if table is None:
        mod = _module(module)
        table = _tables[module] = TypeTable(
            mod.TYPES, tuple(tables(dep) for dep in mod.IMPORTS))
    return table


def program(key: int | str) -> Program | None:
    """The program with number ``key`` or name ``key`` ("REMOTE", "QEMU", "LXC", "KEEPALIVE",
    "ADMIN"); None if libvirt has no such program."""
    number = _BY_NAME.get(key) if isinstance(key, str) else key
    if number is None:
        return None
    prog = _programs.get(number)
    if prog is None:
        entry = PROGRAMS.get(number)
        if entry is None:
            return None
        prog = _programs[number] = Program(entry[1])
    return prog


def lookup(prog: int, proc: int) -> Procedure | None:
    """The procedure a header names, or None for an unknown program or procedure."""
    found = program(prog)
    return None if found is None else found.procedures.get(proc)


class Program:
    """One RPC program: its number, version, types and procedures."""

    def __init__(self, module: str) -> None:
        mod = _module(module)
        self.module = mod
        self.name: str = mod.NAME
        self.number: int = mod.PROGRAM
        self.version: int = mod.VERSION
        self.types = tables(module)
        self.procedures: dict[int, Procedure] = {}
        self.by_name: dict[str, Procedure] = {}
        self.by_api: dict[str, Procedure] = {}
        for row in mod.PROCEDURES:
            proc = Procedure(self, *row)
            self.procedures[proc.number] = proc
            self.by_name[proc.name] = proc
            if proc.api is not None:
                # Two procedures implement virConnectDomainEventRegisterAny/DeregisterAny: the
                # legacy one and the callback-ID one; the later (higher number) is kept.
                self.by_api[proc.api] = proc

    def __repr__(self) -> str:
        return f"<Program {self.name} {self.number:#x} v{self.version}>"

    def procedure(self, key: int | str) -> Procedure:
        """By number, short name, full constant name or public API name; KeyError if none."""
        if isinstance(key, int):
            return self.procedures[key]
        found = self.by_name.get(key) or self.by_api.get(key)
        if found is None and key.startswith(self.name + "_PROC_"):
            found = self.by_name.get(key[len(self.name) + 6:])
        if found is None:
            raise KeyError(key)
        return found

    def codec(self, type_name: str) -> Codec:
        return self.types.codec(type_name)


class Procedure:
    """One procedure of a program.

    Table fields: ``number``, ``name`` ("DOMAIN_GET_INFO"), ``args_type`` / ``ret_type`` /
    ``msg_type`` (type names or None for an empty body; ``msg_type`` is set only for
    MESSAGE procedures: events, and keepalive's "void"), ``priority`` ("high"/"low"),
    ``readonly`` ("yes": allowed on a read-only connection, "no": refused, "flags": refused
    for some flag values, None for messages), ``stream`` (None, "read": data from server to
    client, "write": client to server, "both": console/channel), ``sparse_flag`` (the flag
    value that allows holes on the stream), ``fds`` (None, "in", "out", "both": passes file
    descriptors), ``api`` (public C function, e.g. "virDomainGetInfo"; None for auth
    procedures and events), ``acl`` / ``aclfilter`` (libvirt's @acl annotations) and
    ``generate`` (libvirt's @generate: which side libvirt generates code for).
    """

    __slots__ = ("program", "number", "name", "args_type", "ret_type", "msg_type", "priority",
                 "readonly", "stream", "sparse_flag", "fds", "api", "acl", "aclfilter",
                 "generate", "method", "_args", "_ret", "_msg")

    def __init__(self, program: Program, number: int, name: str, args_type: str | None,
                 ret_type: str | None, msg_type: str | None, priority: str,
                 readonly: str | None, stream: str | None, sparse_flag: int | None,
                 fds: str | None, api: str | None, acl: tuple[str, ...],
                 aclfilter: tuple[str, ...], generate: str | None) -> None:
        self.program = program
        self.number = number
        self.name = name
        self.args_type = args_type
        self.ret_type = ret_type
        self.msg_type = msg_type
        self.priority = priority
        self.readonly = readonly
        self.stream = stream
        self.sparse_flag = sparse_flag
        self.fds = fds
        self.api = api
        self.acl = acl
        self.aclfilter = aclfilter
        self.generate = generate
        #: The driver method implementing it (pyvirt.drivers.base naming: the C function
        #: without ``vir``, e.g. ``domainGetInfo``; ``virNWFilter*`` is ``nwfilter*``).
        self.method = _method_name(api)
        self._args: Codec | None = None
        self._ret: Codec | None = None
        self._msg: Codec | None = None

    def __repr__(self) -> str:
        return f"<Procedure {self.const_name} ({self.number})>"

    @property
    def const_name(self) -> str:
        """libvirt's enum name, e.g. ``REMOTE_PROC_DOMAIN_GET_INFO``."""
        return f"{self.program.name}_PROC_{self.name}"

    @property
    def is_event(self) -> bool:
        """A MESSAGE procedure (server-to-client event, or keepalive)."""
        return self.msg_type is not None

    @property
    def high_priority(self) -> bool:
        return self.priority == "high"

    # -- codecs (None for an empty body) --

    @property
    def args(self) -> Codec | None:
        if self._args is None and self.args_type is not None:
            self._args = self.program.types.codec(self.args_type)
        return self._args

    @property
    def ret(self) -> Codec | None:
        if self._ret is None and self.ret_type is not None:
            self._ret = self.program.types.codec(self.ret_type)
        return self._ret

    @property
    def msg(self) -> Codec | None:
        if self._msg is None and self.msg_type not in (None, "void"):
            self._msg = self.program.types.codec(self.msg_type)  # type: ignore[arg-type]
        return self._msg

    # -- bodies --

    def encode_args(self, value: Any = None) -> bytes:
        return _encode(self.args, value)

    def decode_args(self, payload: bytes) -> Any:
        return _decode(self.args, payload)

    def encode_ret(self, value: Any = None) -> bytes:
        return _encode(self.ret, value)

    def decode_ret(self, payload: bytes) -> Any:
        return _decode(self.ret, payload)

    def encode_msg(self, value: Any = None) -> bytes:
        return _encode(self.msg, value)

    def decode_msg(self, payload: bytes) -> Any:
        return _decode(self.msg, payload)

    # -- frames --

    def call(self, serial: int, args: Any = None, nfds: int | None = None) -> bytes:
        """A CALL frame (CALL_WITH_FDS when ``nfds`` is given; send the FDs after it)."""
        kind = m.CALL if nfds is None else m.CALL_WITH_FDS
        return m.encode_frame(self.program.number, self.program.version, self.number, kind,
                              serial, m.OK, _parts(self.args, args), nfds)

    def reply(self, serial: int, ret: Any = None, nfds: int | None = None) -> bytes:
        """A successful REPLY frame (REPLY_WITH_FDS when ``nfds`` is given)."""
        kind = m.REPLY if nfds is None else m.REPLY_WITH_FDS
        return m.encode_frame(self.program.number, self.program.version, self.number, kind,
                              serial, m.OK, _parts(self.ret, ret), nfds)

    def error_reply(self, serial: int, exc: BaseException | None) -> bytes:
        """A REPLY/ERROR frame carrying ``exc`` (a libvirtError) as ``remote_error``."""
        return m.encode_frame(self.program.number, self.program.version, self.number,
                              m.REPLY, serial, m.ERROR, m.encode_error(exc))

    def event(self, body: Any = None, serial: int | None = None) -> bytes:
        """A MESSAGE frame: an event (serial 1, as libvirtd sends) or a keepalive PING/PONG
        (serial 0)."""
        if serial is None:
            serial = m.KEEPALIVE_SERIAL if self.msg_type == "void" else m.EVENT_SERIAL
        return m.encode_frame(self.program.number, self.program.version, self.number,
                              m.MESSAGE, serial, m.OK, _parts(self.msg, body))

    def decode_reply(self, msg: Message) -> Any:
        """The return value of a REPLY; raises the libvirtError an ERROR reply carries.
        Raises pyvirt.rpc.xdr.XDRError if the payload does not decode."""
        if msg.status == m.OK:
            return _decode(self.ret, msg.payload)
        if msg.status == m.ERROR:
            raise m.decode_error(msg.payload)
        raise m.ProtocolError(f"Unexpected message status {msg.status}")


def _method_name(api: str | None) -> str | None:
    if api is None:
        return None
    if api.startswith("virNWFilter"):
        return "nwfilter" + api[11:]
    rest = api[3:]
    return rest[:1].lower() + rest[1:]


def _parts(codec: Codec | None, value: Any) -> list[bytes]:
    parts: list[bytes] = []
    if codec is not None:
        codec.encode_into(value, parts)
    elif value is not None:
        from pyvirt.rpc.xdr import XDREncodeError

        raise XDREncodeError(f"this body is empty; got {value!r}")
    return parts


def _encode(codec: Codec | None, value: Any) -> bytes:
    return b"".join(_parts(codec, value))


def _decode(codec: Codec | None, payload: bytes) -> Any:
    """A body, leaving bytes after it unread as libvirt does (xdr decoding stops at the
    value's end)."""
    if codec is None:
        return None
    return codec.decode_from(payload)[0]


def decode_body(msg: Message) -> tuple[str, Any]:
    """(body type name, value) of any message, chosen as libvirt chooses by program,
    procedure, type and status: ``<type>_args`` / ``_ret`` / ``_msg``, ``"remote_error"``,
    ``"virNetStreamHole"``, ``"void"`` or ``"raw"`` (stream data, the payload bytes).
    Raises KeyError for an unknown program or procedure and XDRError for a bad payload."""

    mtype, status = msg.type, msg.status
    if mtype == m.STREAM:
        if status == m.CONTINUE:
            return "raw", msg.payload
        if status == m.ERROR and msg.payload:
            return "remote_error", m.error_codec().decode_from(msg.payload)[0]
        return "void", None
    if mtype == m.STREAM_HOLE:
        if status == m.ERROR and msg.payload:
            return "remote_error", m.error_codec().decode_from(msg.payload)[0]
        if status == m.CONTINUE:
            return "virNetStreamHole", m.hole_codec().decode_from(msg.payload)[0]
        return "void", None
    if status == m.ERROR and mtype in (m.REPLY, m.REPLY_WITH_FDS):
        return "remote_error", m.error_codec().decode_from(msg.payload)[0]
    proc = lookup(msg.prog, msg.proc)
    if proc is None:
        raise KeyError((msg.prog, msg.proc))
    if mtype in (m.CALL, m.CALL_WITH_FDS):
        codec, name = proc.args, proc.args_type
    elif mtype in (m.REPLY, m.REPLY_WITH_FDS):
        codec, name = proc.ret, proc.ret_type
    else:
        codec, name = proc.msg, proc.msg_type
    if codec is None:
        return "void", None
    return name or "void", codec.decode_from(msg.payload)[0]


def __getattr__(name: str) -> Program:
    """``protocol.REMOTE``, ``protocol.QEMU``, ... load the program on first access."""
    prog = program(name) if name in _BY_NAME else None
    if prog is None:
        raise AttributeError(name)
    return prog
