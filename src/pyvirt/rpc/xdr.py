"""XDR (RFC 4506) as libvirt's remote protocol uses it: type specs compiled to codecs.

A type is described by a *spec*, plain data (the generated tables in pyvirt.rpc.protocol are
made of them):

=====================================  =================================  =====================
spec                                   wire                               Python value
=====================================  =================================  =====================
``"int"`` ``"uint"``                   4 bytes, big-endian                int
``"hyper"`` ``"uhyper"``               8 bytes                            int
``"char"`` ``"uchar"`` ``"short"``     4 bytes each (rpcgen's widening)   int
``"ushort"``
``"bool"``                             4 bytes, 0 or 1                    bool
``"float"`` ``"double"``               IEEE-754, 4 / 8 bytes              float
``"void"``                             nothing                            None
``("enum", ((NAME, value), ...))``     4 bytes                            int (not checked)
``("string", max)``                    u32 length, bytes, zero padding    str (UTF-8)
``("opaque", max)``                    u32 length, bytes, zero padding    bytes
``("fixed_opaque", n)``                n bytes, zero padding              bytes of length n
``("array", spec, max)``               u32 count, elements                list
``("fixed_array", spec, n)``           n elements                         list of length n
``("optional", spec)``                 u32 0 / 1, then the value if 1     None or the value
``("struct", ((name, spec), ...))``    the fields in order                dict (field -> value)
``("union", (dname, dspec),            the discriminant, then the arm     dict ``{dname: d,
((values, arm, spec), ...),                                               arm: value}``
default)``
a name (``"remote_nonnull_domain"``)   the named type (typedef)
=====================================  =================================  =====================

``max`` is the largest length or count allowed (``None``: unbounded); ``default`` is
``(arm, spec)`` or ``None``; an arm of ``None`` is ``void``. Strings are UTF-8 with
surrogateescape, so any bytes a C peer sends survive a decode/encode round trip. Encoding also
accepts a sequence instead of a dict for a struct (fields in order) and ``(d, value)`` for a
union.

Limits are enforced both ways: a length or count above ``max`` raises :class:`XDRLimitError`
on decode (before anything is allocated) and :class:`XDREncodeError` on encode; a count whose
elements could not fit in the remaining input is refused before the list is built; reading
past the end raises :class:`XDRTruncatedError`. Enum values are not checked against the enum,
and padding bytes are not checked to be zero, as libvirt's own decoder does not. Optional
flags and bools must be 0 or 1.

Each type gets a plan once, in two tiers (see :class:`Codec`): first closures composed per
type (cheap to build: a short-lived client never waits for a compiler), then, for a type used
often, a pair of Python functions generated from the spec and compiled (nested structs
inlined, no call per field). In both, consecutive fixed-size fields are read and written with
one ``struct.Struct`` and arrays of fixed-size elements in one call, so a typical small
message costs a few microseconds. Use :class:`TypeTable` to name types and get their codecs;
``TypeTable.compile_after`` picks the tiers (None: closures only, 0: compile at once).

The module ``pyvirt.rpc.message`` adds :class:`~pyvirt.rpc.message.ProtocolError` (an
XDRError) for frames libvirt refuses, so ``except XDRError`` covers every codec failure.

Exception tree::

    XDRError
     ├── XDRDecodeError          malformed input
     │    ├── XDRTruncatedError  the input ends too early
     │    └── XDRLimitError      a length or count above the type's maximum
     └── XDREncodeError          a value that does not fit the type
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Spec = Any  # str | tuple: see the module docstring
    Decoder = Callable[[bytes, int], tuple[Any, int]]
    Encoder = Callable[[Any, Callable[[bytes], None]], None]
    ScalarInfo = tuple[str, int, tuple[int, int] | None, str]


class XDRError(Exception):
    """Base class of every error the codec raises."""


class XDRDecodeError(XDRError):
    """The input is not a valid encoding of the type."""


class XDRTruncatedError(XDRDecodeError):
    """The input ends before the value does."""


class XDRLimitError(XDRDecodeError):
    """A string, opaque or array is longer than its declared maximum."""


class XDREncodeError(XDRError):
    """The value cannot be encoded as the type (wrong shape, out of range, too long)."""


# Scalar specs: struct format character, size, (min, max) accepted when encoding or None.
_SCALARS: dict[str, tuple[str, int, tuple[int, int] | None]] = {
    "int": ("i", 4, None),
    "uint": ("I", 4, None),
    "hyper": ("q", 8, None),
    "uhyper": ("Q", 8, None),
    "float": ("f", 4, None),
    "double": ("d", 8, None),
    "bool": ("I", 4, None),
    # rpcgen widens these to a full unit. Decoding keeps the 32-bit value (libvirt truncates
    # it to the C type; a peer whose char is unsigned sends 128..255 where x86 sends -128..-1,
    # so char accepts both ranges when encoding).
    "char": ("i", 4, (-128, 255)),
    "uchar": ("I", 4, (0, 255)),
    "short": ("i", 4, (-32768, 65535)),
    "ushort": ("I", 4, (0, 65535)),
}

_U32 = struct.Struct(">I")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by length & 3


def _pad(n: int) -> int:
    return (4 - (n & 3)) & 3


class Codec:
    """Encoder and decoder of one XDR type.

    ``encode(value) -> bytes``; ``encode_into(value, parts)`` appends the encoding's pieces
    to a list (join them once, e.g. after a message header); ``decode(data) -> value`` needs
    exactly one value in ``data``; ``decode_from(data, pos) -> (value, end)`` reads one value
    at ``pos`` and tells where it ends.

    A codec starts with functions composed from closures (built in microseconds) and, once a
    direction has been used ``COMPILE_AFTER`` times, swaps in a function generated and
    compiled for the type (a fraction of a millisecond to build, two to three times faster
    to run), so a short-lived client never pays for compiling and a daemon's hot
    procedures run at full speed.
    """

    __slots__ = ("name", "spec", "min_size", "_table", "_enc", "_dec")

    COMPILE_AFTER = 32

    def __init__(self, table: TypeTable, name: str, spec: Spec) -> None:
        self.name = name
        self.spec = spec
        self._table = table
        self.min_size = _min_size(table, spec)
        builder = _Builder(table)
        if TypeTable.compile_after is None:
            self._dec = builder.decoder(spec)
            self._enc = builder.encoder(spec)
        elif TypeTable.compile_after <= 0:
            self._dec = _Compiler(table).decoder(spec, name)
            self._enc = _Compiler(table).encoder(spec, name)
        else:
            self._dec = self._tiered_decoder(builder.decoder(spec), TypeTable.compile_after)
            self._enc = self._tiered_encoder(builder.encoder(spec), TypeTable.compile_after)

    def _tiered_decoder(self, first: Decoder, after: int) -> Decoder:
        calls = 0

        def dec(buf: bytes, pos: int) -> tuple[Any, int]:
            nonlocal calls
            calls += 1
            if calls >= after:
                self._dec = _Compiler(self._table).decoder(self.spec, self.name)
            return first(buf, pos)

        return dec

    def _tiered_encoder(self, first: Encoder, after: int) -> Encoder:
        calls = 0

        def enc(value: Any, ap: Callable[[bytes], None]) -> None:
            nonlocal calls
            calls += 1
            if calls >= after:
                self._enc = _Compiler(self._table).encoder(self.spec, self.name)
            first(value, ap)

        return enc

    def __repr__(self) -> str:
        return f"<Codec {self.name}>"

    def encode(self, value: Any) -> bytes:
        parts: list[bytes] = []
        self.encode_into(value, parts)
        return b"".join(parts)

    def encode_into(self, value: Any, parts: list[bytes]) -> None:
        try:
            self._enc(value, parts.append)
        except XDRError:
            raise
        except (struct.error, LookupError, TypeError, ValueError, AttributeError,
                OverflowError) as exc:
            raise XDREncodeError(f"{self.name}: {exc!r}") from None

    def decode(self, data: bytes) -> Any:
        value, end = self.decode_from(data, 0)
        if end != len(data):
            raise XDRDecodeError(
                f"{self.name}: {len(data) - end} unexpected bytes after the value")
        return value

    def decode_from(self, data: bytes, pos: int = 0) -> tuple[Any, int]:
        if data.__class__ is not bytes:
            data = bytes(data)
        try:
            return self._dec(data, pos)
        except struct.error:
            raise XDRTruncatedError(f"{self.name}: the input ends too early") from None
        except RecursionError:
            raise XDRDecodeError(f"{self.name}: nested too deeply") from None


class TypeTable:
    """Named XDR types (typedefs, structs, unions, enums), with lazily built codecs.

    ``parents`` are tables whose names this one may use (libvirt's QEMU program uses the
    REMOTE program's types).
    """

    # None: closures only; 0: compile at once; N: compile a direction after N uses.
    compile_after: int | None = Codec.COMPILE_AFTER

    def __init__(self, types: Mapping[str, Spec], parents: tuple[TypeTable, ...] = ()) -> None:
        self.types = types
        self.parents = parents
        self._codecs: dict[str, Codec] = {}
        self._parts: dict[str, tuple[Decoder, Encoder]] = {}

    def lookup(self, name: str) -> Spec:
        spec = self.types.get(name)
        if spec is not None:
            return spec
        for parent in self.parents:
            try:
                return parent.lookup(name)
            except KeyError:
                pass
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        try:
            self.lookup(name)
        except KeyError:
            return False
        return True

    def codec(self, name: str) -> Codec:
        """The codec of the named type (built on first use)."""
        codec = self._codecs.get(name)
        if codec is None:
            self.lookup(name)
            codec = self._codecs[name] = Codec(self, name, name)
        return codec

    def compile(self, spec: Spec, name: str = "<anonymous>") -> Codec:
        """A codec for an unnamed spec, e.g. ``("array", "int", 16)``."""
        return Codec(self, name, spec)


def compile_spec(spec: Spec, name: str = "<anonymous>",
                 types: Mapping[str, Spec] | None = None) -> Codec:
    """A codec for ``spec`` whose names resolve in ``types``."""
    return TypeTable(types or {}).compile(spec, name)


def _resolve(table: TypeTable, spec: Spec, stack: tuple[str, ...] | list[str] = ()) -> Spec:
    """Follow typedef names to a structural spec (a name on ``stack`` stays a name)."""
    seen = 0
    while isinstance(spec, str) and spec not in _SCALARS and spec != "void":
        if spec in stack:
            return spec
        spec = table.lookup(spec)
        seen += 1
        if seen > 100:
            raise XDRError(f"typedef loop at {spec!r}")
    return spec


def _scalar(table: TypeTable, spec: Spec, stack: Any = ()) -> ScalarInfo | None:
    """(format, size, encode range, kind) if ``spec`` is a fixed-size single value."""
    spec = _resolve(table, spec, stack)
    if isinstance(spec, str):
        if spec in _SCALARS:
            fmt, size, rng = _SCALARS[spec]
            return fmt, size, rng, spec
        return None
    kind = spec[0]
    if kind == "enum":
        return "i", 4, None, "enum"
    if kind == "fixed_opaque":
        n = spec[1]
        return f"{n}s" + ("x" * _pad(n)), n + _pad(n), None, "fixed_opaque"
    return None


def _fixed_struct(table: TypeTable, spec: Spec,
                  stack: Any = ()) -> tuple[str, int, tuple[str, ...]] | None:
    """(format, size, field names) of a struct made only of plain scalars."""
    spec = _resolve(table, spec, stack)
    if isinstance(spec, str) or spec[0] != "struct":
        return None
    fmt = ""
    size = 0
    for _, fspec in spec[1]:
        info = _scalar(table, fspec, stack)
        if info is None or info[2] is not None or info[3] in ("bool", "fixed_opaque"):
            return None
        fmt += info[0]
        size += info[1]
    return fmt, size, tuple(name for name, _ in spec[1])


def _min_size(table: TypeTable, spec: Spec, stack: tuple[str, ...] = ()) -> int:
    """The fewest bytes an encoding of ``spec`` takes (bounds array counts on decode)."""
    if isinstance(spec, str) and spec in stack:
        return 4  # a recursive reference: at least an optional flag
    if isinstance(spec, str) and spec not in _SCALARS and spec != "void":
        stack = stack + (spec,)
    spec = _resolve(table, spec)
    if isinstance(spec, str):
        if spec == "void":
            return 0
        return _SCALARS[spec][1]
    kind = spec[0]
    if kind in ("string", "opaque", "array", "optional", "enum"):
        return 4
    if kind == "fixed_opaque":
        return int(spec[1] + _pad(spec[1]))
    if kind == "fixed_array":
        return int(spec[2] * _min_size(table, spec[1], stack))
    if kind == "struct":
        return sum(_min_size(table, f, stack) for _, f in spec[1])
    if kind == "union":
        arms = [_min_size(table, a[2], stack) for a in spec[2]]
        if spec[3] is not None:
            arms.append(_min_size(table, spec[3][1], stack))
        return 4 + (min(arms) if arms else 0)
    raise XDRError(f"unknown spec {spec!r}")


# ----------------------------------------------------------------------------------------
# First tier: closures composed once per type.


class _Builder:
    """Decoders ``dec(buf, pos) -> (value, pos)`` and encoders ``enc(value, append)`` made
    of closures; struct.error, KeyError etc. escaping them are turned into the codec's
    errors by :class:`Codec`."""

    def __init__(self, table: TypeTable) -> None:
        self.table = table

    def _named(self, name: str, spec: Spec) -> tuple[Decoder, Encoder]:
        parts = self.table._parts.get(name)
        if parts is not None:
            return parts
        table = self.table

        # Placeholder first, so a recursive type finds itself.
        def late_dec(buf: bytes, pos: int) -> tuple[Any, int]:
            return table._parts[name][0](buf, pos)

        def late_enc(value: Any, ap: Callable[[bytes], None]) -> None:
            table._parts[name][1](value, ap)

        table._parts[name] = (late_dec, late_enc)
        built = (self._decoder(spec), self._encoder(spec))
        table._parts[name] = built
        return built

    def decoder(self, spec: Spec) -> Decoder:
        if isinstance(spec, str) and spec not in _SCALARS and spec != "void":
            return self._named(spec, self.table.lookup(spec))[0]
        return self._decoder(spec)

    def encoder(self, spec: Spec) -> Encoder:
        if isinstance(spec, str) and spec not in _SCALARS and spec != "void":
            return self._named(spec, self.table.lookup(spec))[1]
        return self._encoder(spec)

    def scalar(self, spec: Spec) -> ScalarInfo | None:
        return _scalar(self.table, spec)

    # -- decoders --

    def _decoder(self, spec: Spec) -> Decoder:
        if isinstance(spec, str):
            if spec == "void":
                return _dec_void
            if spec not in _SCALARS:
                return self.decoder(spec)
        info = self.scalar(spec)
        if info is not None:
            return _scalar_decoder(info)
        return getattr(self, "dec_" + spec[0])(spec)

    def dec_string(self, spec: Spec) -> Decoder:
        return _bytes_decoder(spec[1], True)

    def dec_opaque(self, spec: Spec) -> Decoder:
        return _bytes_decoder(spec[1], False)

    def dec_optional(self, spec: Spec) -> Decoder:
        inner = self.decoder(spec[1])
        unpack = _U32.unpack_from

        def dec(buf: bytes, pos: int) -> tuple[Any, int]:
            flag = unpack(buf, pos)[0]
            if flag == 1:
                return inner(buf, pos + 4)
            if flag == 0:
                return None, pos + 4
            raise XDRDecodeError(f"optional-data flag {flag} is not 0 or 1")

        return dec

    def dec_struct(self, spec: Spec) -> Decoder:
        names = tuple(name for name, _ in spec[1])
        steps = self._steps(spec[1])
        if len(steps) == 1 and steps[0][0]:
            unpack, size = steps[0][1].unpack_from, steps[0][2]

            def dec_fixed(buf: bytes, pos: int) -> tuple[Any, int]:
                return dict(zip(names, unpack(buf, pos))), pos + size

            return dec_fixed
        dsteps = tuple((run, obj.unpack_from if run else obj, size)
                       for run, obj, size, _ in steps)

        def dec(buf: bytes, pos: int) -> tuple[Any, int]:
            values: list[Any] = []
            for run, fn, size in dsteps:
                if run:
                    values.extend(fn(buf, pos))
                    pos += size
                else:
                    value, pos = fn(buf, pos)
                    values.append(value)
            return dict(zip(names, values)), pos

        return dec

    def _steps(self, fields: tuple[tuple[str, Spec], ...]) -> list[tuple[bool, Any, int, Any]]:
        """Consecutive plain scalars merged into one Struct: (True, Struct, size, ranges);
        anything else (False, decoder, 0, encoder)."""
        steps: list[tuple[bool, Any, int, Any]] = []
        fmt = ""
        size = 0
        ranges: list[tuple[int, int, int, int]] = []  # (index in run, length check, lo, hi)
        count = 0
        for _, fspec in fields:
            info = self.scalar(fspec)
            if info is not None and info[3] != "bool":
                fmt += info[0]
                size += info[1]
                if info[2] is not None:
                    ranges.append((count, -1, info[2][0], info[2][1]))
                elif info[3] == "fixed_opaque":
                    ranges.append((count, int(info[0].rstrip("x")[:-1]), 0, 0))
                count += 1
                continue
            if fmt:
                steps.append((True, struct.Struct(">" + fmt), size, (count, tuple(ranges))))
                fmt, size, ranges, count = "", 0, [], 0
            steps.append((False, self.decoder(fspec), 0, self.encoder(fspec)))
        if fmt:
            steps.append((True, struct.Struct(">" + fmt), size, (count, tuple(ranges))))
        return steps

    def dec_array(self, spec: Spec) -> Decoder:
        return self._elements(spec[1], spec[2], None)

    def dec_fixed_array(self, spec: Spec) -> Decoder:
        return self._elements(spec[1], None, spec[2])

    def _elements(self, elem: Spec, limit: int | None, fixed: int | None) -> Decoder:
        unpack = _U32.unpack_from
        min_size = _min_size(self.table, elem)
        if min_size <= 0:
            raise XDRError(f"array of zero-size elements {elem!r}")

        def count(buf: bytes, pos: int) -> tuple[int, int]:
            if fixed is not None:
                n = fixed
            else:
                n = unpack(buf, pos)[0]
                if limit is not None and n > limit:
                    raise XDRLimitError(f"array count of {n} exceeds the limit {limit}")
                pos += 4
            if pos + n * min_size > len(buf):
                raise XDRTruncatedError(f"{n} array elements cannot fit")
            return n, pos

        info = self.scalar(elem)
        if info is not None and info[3] not in ("fixed_opaque", "bool"):
            code, size = info[0], info[1]

            def dec_scalars(buf: bytes, pos: int) -> tuple[Any, int]:
                n, pos = count(buf, pos)
                return list(struct.unpack_from(f">{n}{code}", buf, pos)), pos + n * size

            return dec_scalars
        fixed_struct = _fixed_struct(self.table, elem)
        if fixed_struct is not None:
            fmt, size, names = fixed_struct
            iter_unpack = struct.Struct(">" + fmt).iter_unpack

            def dec_records(buf: bytes, pos: int) -> tuple[Any, int]:
                n, pos = count(buf, pos)
                end = pos + n * size
                return [dict(zip(names, t)) for t in iter_unpack(buf[pos:end])], end

            return dec_records
        inner = self.decoder(elem)

        def dec(buf: bytes, pos: int) -> tuple[Any, int]:
            n, pos = count(buf, pos)
            values: list[Any] = []
            append = values.append
            for _ in range(n):
                value, pos = inner(buf, pos)
                append(value)
            return values, pos

        return dec

    def dec_union(self, spec: Spec) -> Decoder:
        (dname, dspec), arms, default = spec[1], spec[2], spec[3]
        disc = self.decoder(dspec)
        table: dict[Any, tuple[str | None, Decoder]] = {}
        for values, arm, aspec in arms:
            for value in values:
                table[value] = (arm, self.decoder(aspec))
        fallback = None if default is None else (default[0], self.decoder(default[1]))

        def dec(buf: bytes, pos: int) -> tuple[Any, int]:
            d, pos = disc(buf, pos)
            entry = table.get(d, fallback)
            if entry is None:
                raise XDRDecodeError(f"unknown union discriminant {d}")
            arm, inner = entry
            value, pos = inner(buf, pos)
            if arm is None:
                return {dname: d}, pos
            return {dname: d, arm: value}, pos

        return dec

    # -- encoders --

    def _encoder(self, spec: Spec) -> Encoder:
        if isinstance(spec, str):
            if spec == "void":
                return _enc_void
            if spec not in _SCALARS:
                return self.encoder(spec)
        info = self.scalar(spec)
        if info is not None:
            return _scalar_encoder(info)
        return getattr(self, "enc_" + spec[0])(spec)

    def enc_string(self, spec: Spec) -> Encoder:
        return _bytes_encoder(spec[1], True)

    def enc_opaque(self, spec: Spec) -> Encoder:
        return _bytes_encoder(spec[1], False)

    def enc_optional(self, spec: Spec) -> Encoder:
        inner = self.encoder(spec[1])

        def enc(value: Any, ap: Callable[[bytes], None]) -> None:
            if value is None:
                ap(b"\0\0\0\0")
            else:
                ap(b"\0\0\0\1")
                inner(value, ap)

        return enc

    def enc_struct(self, spec: Spec) -> Encoder:
        names = tuple(name for name, _ in spec[1])
        nfields = len(names)
        esteps = []
        index = 0
        for run, obj, _, extra in self._steps(spec[1]):
            if run:
                count, ranges = extra
                esteps.append((True, obj.pack, index, index + count, ranges))
                index += count
            else:
                esteps.append((False, extra, index, index + 1, ()))
                index += 1

        def enc(value: Any, ap: Callable[[bytes], None]) -> None:
            if isinstance(value, dict):
                values = [value[name] for name in names]
            else:
                values = list(value)
                if len(values) != nfields:
                    raise XDREncodeError(f"{nfields} fields expected, got {len(values)}")
            for run, fn, start, end, ranges in esteps:
                if run:
                    chunk = values[start:end]
                    for i, length, lo, hi in ranges:
                        if length < 0:
                            if not lo <= chunk[i] <= hi:
                                raise XDREncodeError(f"{chunk[i]!r} is out of range")
                        elif len(chunk[i]) != length:
                            raise XDREncodeError(
                                f"fixed opaque needs {length} bytes, got {len(chunk[i])}")
                    ap(fn(*chunk))
                else:
                    fn(values[start], ap)

        return enc

    def enc_array(self, spec: Spec) -> Encoder:
        return self._enc_elements(spec[1], spec[2], None)

    def enc_fixed_array(self, spec: Spec) -> Encoder:
        return self._enc_elements(spec[1], None, spec[2])

    def _enc_elements(self, elem: Spec, limit: int | None, fixed: int | None) -> Encoder:
        pack = _U32.pack
        info = self.scalar(elem)
        if info is not None and info[3] != "fixed_opaque":
            code, rng, is_bool = info[0], info[2], info[3] == "bool"
        else:
            code, rng, is_bool = "", None, False
        inner = self.encoder(elem)

        def enc(value: Any, ap: Callable[[bytes], None]) -> None:
            n = len(value)
            if fixed is None:
                if limit is not None and n > limit:
                    raise XDREncodeError(f"array count of {n} exceeds the limit {limit}")
                ap(pack(n))
            elif n != fixed:
                raise XDREncodeError(f"fixed array needs {fixed} elements, got {n}")
            if code:
                if rng is not None and n and (min(value) < rng[0] or max(value) > rng[1]):
                    raise XDREncodeError("an element is out of range")
                if is_bool:
                    value = [1 if x else 0 for x in value]
                ap(struct.pack(f">{n}{code}", *value))
                return
            for item in value:
                inner(item, ap)

        return enc

    def enc_union(self, spec: Spec) -> Encoder:
        (dname, dspec), arms, default = spec[1], spec[2], spec[3]
        disc = self.encoder(dspec)
        table: dict[Any, tuple[str | None, Encoder]] = {}
        for values, arm, aspec in arms:
            for value in values:
                table[value] = (arm, self.encoder(aspec))
        fallback = None if default is None else (default[0], self.encoder(default[1]))

        def enc(value: Any, ap: Callable[[bytes], None]) -> None:
            if isinstance(value, dict):
                d = value[dname]
                entry = table.get(d, fallback)
                if entry is None:
                    raise XDREncodeError(f"unknown union discriminant {d!r}")
                arm, inner = entry
                disc(d, ap)
                if arm is not None:
                    inner(value[arm], ap)
                return
            d, arm_value = value
            entry = table.get(d, fallback)
            if entry is None:
                raise XDREncodeError(f"unknown union discriminant {d!r}")
            disc(d, ap)
            if entry[0] is not None:
                entry[1](arm_value, ap)

        return enc


def _dec_void(buf: bytes, pos: int) -> tuple[Any, int]:
    return None, pos


def _enc_void(value: Any, ap: Callable[[bytes], None]) -> None:
    return None


def _scalar_decoder(info: tuple[str, int, tuple[int, int] | None, str]) -> Decoder:
    fmt, size, _, kind = info
    unpack = struct.Struct(">" + fmt).unpack_from
    if kind == "bool":
        def dec_bool(buf: bytes, pos: int) -> tuple[Any, int]:
            value = unpack(buf, pos)[0]
            if value > 1:
                raise XDRDecodeError(f"bool value {value} is not 0 or 1")
            return value == 1, pos + 4

        return dec_bool

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        return unpack(buf, pos)[0], pos + size

    return dec


def _scalar_encoder(info: tuple[str, int, tuple[int, int] | None, str]) -> Encoder:
    fmt, size, rng, kind = info
    pack = struct.Struct(">" + fmt).pack
    if kind == "bool":
        def enc_bool(value: Any, ap: Callable[[bytes], None]) -> None:
            ap(pack(1 if value else 0))

        return enc_bool
    if kind == "fixed_opaque":
        length = int(fmt.rstrip("x")[:-1])

        def enc_fixed(value: Any, ap: Callable[[bytes], None]) -> None:
            if len(value) != length:
                raise XDREncodeError(f"fixed opaque needs {length} bytes, got {len(value)}")
            ap(pack(value))

        return enc_fixed
    if rng is not None:
        lo, hi = rng

        def enc_ranged(value: Any, ap: Callable[[bytes], None]) -> None:
            if not lo <= value <= hi:
                raise XDREncodeError(f"{value!r} is out of range for {kind}")
            ap(pack(value))

        return enc_ranged

    def enc(value: Any, ap: Callable[[bytes], None]) -> None:
        ap(pack(value))

    return enc


def _bytes_decoder(limit: int | None, text: bool) -> Decoder:
    unpack = _U32.unpack_from
    what = "string" if text else "opaque"

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        n = unpack(buf, pos)[0]
        if limit is not None and n > limit:
            raise XDRLimitError(f"{what} length of {n} exceeds the limit {limit}")
        start = pos + 4
        end = start + ((n + 3) & -4)
        if end > len(buf):
            raise XDRTruncatedError(f"{what} length {n} runs past the end")
        if text:
            return buf[start:start + n].decode("utf-8", "surrogateescape"), end
        return buf[start:start + n], end

    return dec


def _bytes_encoder(limit: int | None, text: bool) -> Encoder:
    pack = _U32.pack
    what = "string" if text else "opaque"

    def enc(value: Any, ap: Callable[[bytes], None]) -> None:
        if text:
            data = value.encode("utf-8", "surrogateescape")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = value
        else:
            raise XDREncodeError(f"opaque data must be bytes, not {type(value).__name__}")
        n = len(data)
        if limit is not None and n > limit:
            raise XDREncodeError(f"{what} length of {n} exceeds the limit {limit}")
        ap(pack(n))
        ap(data)
        ap(_PAD[n & 3])

    return enc


# ----------------------------------------------------------------------------------------
# The compiler: a spec becomes the source of two functions, exec'd once.


class _Compiler:
    def __init__(self, table: TypeTable) -> None:
        self.table = table
        self.lines: list[str] = []
        self.depth = 1
        self.counter = 0
        self.names: dict[str, Any] = {
            "_U32": _U32, "_U32_unpack": _U32.unpack_from, "_U32_pack": _U32.pack,
            "_PAD": _PAD, "_isinstance": isinstance, "_dict": dict,
            "_unpack_from": struct.unpack_from, "_pack": struct.pack,
            "XDRDecodeError": XDRDecodeError, "XDRTruncatedError": XDRTruncatedError,
            "XDRLimitError": XDRLimitError, "XDREncodeError": XDREncodeError,
            "XDRError": XDRError, "_struct_error": struct.error,
        }
        self.structs: dict[str, str] = {}
        self.stack: list[str] = []

    # -- helpers --

    def var(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def const(self, value: Any, prefix: str = "k") -> str:
        name = self.var(prefix)
        self.names[name] = value
        return name

    def struct_obj(self, fmt: str) -> str:
        name = self.structs.get(fmt)
        if name is None:
            name = self.structs[fmt] = self.const(struct.Struct(">" + fmt), "S")
        return name

    def resolve(self, spec: Spec) -> Spec:
        """Follow typedef names to a structural spec (names of recursive types stay)."""
        return _resolve(self.table, spec, self.stack)

    def scalar(self, spec: Spec) -> ScalarInfo | None:
        return _scalar(self.table, spec, self.stack)

    def fixed_struct(self, spec: Spec) -> tuple[str, int, tuple[str, ...]] | None:
        return _fixed_struct(self.table, spec, self.stack)

    def min_size(self, spec: Spec) -> int:
        return _min_size(self.table, spec)

    # -- entry --

    def decoder(self, spec: Spec, name: str) -> Decoder:
        self.lines = ["def _dec(buf, pos):", "    blen = len(buf)"]
        self.depth = 1
        self.decode(spec, "_result")
        self.emit("return _result, pos")
        return self._build(name, "_dec")  # type: ignore[no-any-return]

    def encoder(self, spec: Spec, name: str) -> Encoder:
        self.lines = ["def _enc(value, ap):"]
        self.depth = 1
        self.encode(spec, "value")
        self.emit("return None")
        return self._build(name, "_enc")  # type: ignore[no-any-return]

    def _build(self, name: str, function: str) -> Any:
        source = "\n".join(self.lines) + "\n"
        namespace = dict(self.names)
        exec(compile(source, f"<xdr {name}>", "exec"), namespace)
        fn = namespace[function]
        fn.source = source
        return fn

    # -- decoding: emit code that leaves the value in ``target`` and advances ``pos`` --

    def decode(self, spec: Spec, target: str) -> None:
        resolved = self.resolve(spec)
        if isinstance(resolved, str) and resolved not in _SCALARS:
            if resolved == "void":
                self.emit(f"{target} = None")
                return
            fn = self.const(self._late(resolved), "r")  # recursive type: call through
            self.emit(f"{target}, pos = {fn}.decode_from(buf, pos)")
            return
        if self.scalar(resolved) is not None:
            self.decode_scalars([(resolved, target)])
            return
        kind = resolved[0]
        named = isinstance(spec, str)
        if named:
            self.stack.append(spec)
        try:
            getattr(self, "decode_" + kind)(resolved, target)
        finally:
            if named:
                self.stack.pop()

    def _late(self, name: str) -> Any:
        table = self.table

        class _Late:
            def decode_from(self, buf: bytes, pos: int) -> tuple[Any, int]:
                return table.codec(name)._dec(buf, pos)

            def encode_into(self, value: Any, ap: Callable[[bytes], None]) -> None:
                table.codec(name)._enc(value, ap)

        return _Late()

    def decode_scalars(self, fields: list[tuple[Spec, str]]) -> None:
        fmt = ""
        size = 0
        checks = []
        for fspec, target in fields:
            info = self.scalar(fspec)
            assert info is not None
            fmt += info[0]
            size += info[1]
            if info[3] == "bool":
                checks.append(target)
        targets = ", ".join(t for _, t in fields) + ("," if len(fields) == 1 else "")
        self.emit(f"{targets} = {self.struct_obj(fmt)}.unpack_from(buf, pos)")
        self.emit(f"pos += {size}")
        for target in checks:
            self.emit(f"if {target} > 1:")
            self.emit("    raise XDRDecodeError('bool value %d is not 0 or 1' % " + target + ")")
            self.emit(f"{target} = {target} == 1")

    def decode_length(self, target: str, limit: int | None, what: str) -> None:
        self.emit(f"{target}, = _U32_unpack(buf, pos)")
        if limit is not None:
            self.emit(f"if {target} > {limit}:")
            self.emit(f"    raise XDRLimitError('{what} of %d exceeds the limit {limit}' % "
                      f"{target})")

    def decode_string(self, spec: Spec, target: str) -> None:
        self.decode_bytes(spec, target, ".decode('utf-8', 'surrogateescape')", "string length")

    def decode_opaque(self, spec: Spec, target: str) -> None:
        self.decode_bytes(spec, target, "", "opaque length")

    def decode_bytes(self, spec: Spec, target: str, conv: str, what: str) -> None:
        n = self.var("n")
        start = self.var("s")
        self.decode_length(n, spec[1], what)
        self.emit(f"{start} = pos + 4")
        self.emit(f"pos = {start} + (({n} + 3) & -4)")
        self.emit("if pos > blen:")
        self.emit(f"    raise XDRTruncatedError('{what} %d runs past the end' % {n})")
        self.emit(f"{target} = buf[{start}:{start} + {n}]{conv}")

    def decode_optional(self, spec: Spec, target: str) -> None:
        flag = self.var("f")
        self.emit(f"{flag}, = _U32_unpack(buf, pos)")
        self.emit("pos += 4")
        self.emit(f"if {flag} == 1:")
        self.depth += 1
        self.decode(spec[1], target)
        self.depth -= 1
        self.emit(f"elif {flag} == 0:")
        self.emit(f"    {target} = None")
        self.emit("else:")
        self.emit(f"    raise XDRDecodeError('optional-data flag %d is not 0 or 1' % {flag})")

    def decode_struct(self, spec: Spec, target: str) -> None:
        fields = spec[1]
        values = []
        run: list[tuple[Spec, str]] = []
        for _, fspec in fields:
            v = self.var()
            values.append(v)
            if self.scalar(fspec) is not None:
                run.append((fspec, v))
                continue
            if run:
                self.decode_scalars(run)
                run = []
            self.decode(fspec, v)
        if run:
            self.decode_scalars(run)
        items = ", ".join(f"{name!r}: {v}" for (name, _), v in zip(fields, values))
        self.emit(f"{target} = {{{items}}}")

    def decode_array(self, spec: Spec, target: str) -> None:
        n = self.var("n")
        self.decode_length(n, spec[2], "array count")
        self.emit("pos += 4")
        self.decode_elements(spec[1], n, target)

    def decode_fixed_array(self, spec: Spec, target: str) -> None:
        self.decode_elements(spec[1], str(spec[2]), target)

    def decode_elements(self, elem: Spec, count: str, target: str) -> None:
        elem_size = self.min_size(elem)
        if elem_size <= 0:
            raise XDRError(f"array of zero-size elements {elem!r}")
        self.emit(f"if pos + {count} * {elem_size} > blen:")
        self.emit(f"    raise XDRTruncatedError('%d array elements cannot fit' % {count})")
        info = self.scalar(elem)
        if info is not None and info[3] != "fixed_opaque":
            self.emit(f"{target} = list(_unpack_from('>%d{info[0]}' % {count}, buf, pos))")
            self.emit(f"pos += {count} * {info[1]}")
            if info[3] == "bool":
                self.emit(f"if {target} and max({target}) > 1:")
                self.emit("    raise XDRDecodeError('bool value is not 0 or 1')")
                self.emit(f"{target} = [_x == 1 for _x in {target}]")
            return
        fixed = self.fixed_struct(elem)
        if fixed is not None:
            fmt, size, names = fixed
            s = self.struct_obj(fmt)
            vs = [self.var() for _ in names]
            items = ", ".join(f"{name!r}: {v}" for name, v in zip(names, vs))
            unpack = ", ".join(vs) + ("," if len(vs) == 1 else "")
            self.emit(f"{target} = [{{{items}}} for {unpack} in "
                      f"{s}.iter_unpack(buf[pos:pos + {count} * {size}])]")
            self.emit(f"pos += {count} * {size}")
            return
        e = self.var("e")
        app = self.var("a")
        self.emit(f"{target} = []")
        self.emit(f"{app} = {target}.append")
        self.emit(f"for _ in range({count}):")
        self.depth += 1
        self.decode(elem, e)
        self.emit(f"{app}({e})")
        self.depth -= 1

    def decode_union(self, spec: Spec, target: str) -> None:
        (dname, dspec), arms, default = spec[1], spec[2], spec[3]
        d = self.var("d")
        self.decode_scalars([(dspec, d)])
        keyword = "if"
        for values, arm, aspec in arms:
            cond = " or ".join(f"{d} == {v!r}" for v in values)
            self.emit(f"{keyword} {cond}:")
            self.decode_arm(dname, d, arm, aspec, target)
            keyword = "elif"
        if keyword == "elif":
            self.emit("else:")
        else:
            self.emit("if True:")
        if default is not None:
            self.decode_arm(dname, d, default[0], default[1], target)
        else:
            self.emit(f"    raise XDRDecodeError('unknown union discriminant %d' % {d})")

    def decode_arm(self, dname: str, d: str, arm: str | None, aspec: Spec, target: str) -> None:
        self.depth += 1
        if arm is None or self.resolve(aspec) == "void":
            self.emit(f"{target} = {{{dname!r}: {d}}}")
        else:
            a = self.var()
            self.decode(aspec, a)
            self.emit(f"{target} = {{{dname!r}: {d}, {arm!r}: {a}}}")
        self.depth -= 1

    # -- encoding: emit code that appends the encoding of the value in ``expr`` to ``ap`` --

    def encode(self, spec: Spec, expr: str) -> None:
        resolved = self.resolve(spec)
        if isinstance(resolved, str) and resolved not in _SCALARS:
            if resolved == "void":
                return
            fn = self.const(self._late(resolved), "r")
            self.emit(f"{fn}.encode_into({expr}, ap)")
            return
        if self.scalar(resolved) is not None:
            self.encode_scalars([(resolved, expr)])
            return
        named = isinstance(spec, str)
        if named:
            self.stack.append(spec)
        try:
            getattr(self, "encode_" + resolved[0])(resolved, expr)
        finally:
            if named:
                self.stack.pop()

    def encode_scalars(self, fields: list[tuple[Spec, str]]) -> None:
        fmt = ""
        args = []
        for fspec, expr in fields:
            info = self.scalar(fspec)
            assert info is not None
            fmt += info[0]
            rng = info[2]
            if rng is not None:
                self.emit(f"if not {rng[0]} <= {expr} <= {rng[1]}:")
                self.emit(f"    raise XDREncodeError('%r is out of range for {info[3]}' % "
                          f"({expr},))")
            if info[3] == "bool":
                args.append(f"(1 if {expr} else 0)")
            elif info[3] == "fixed_opaque":
                size = int(info[0].rstrip("x")[:-1])
                self.emit(f"if len({expr}) != {size}:")
                self.emit(f"    raise XDREncodeError('fixed opaque needs {size} bytes, got %d' "
                          f"% len({expr}))")
                args.append(expr)
            else:
                args.append(expr)
        self.emit(f"ap({self.struct_obj(fmt)}.pack({', '.join(args)}))")

    def encode_length(self, n: str, limit: int | None, what: str) -> None:
        if limit is not None:
            self.emit(f"if {n} > {limit}:")
            self.emit(f"    raise XDREncodeError('{what} of %d exceeds the limit {limit}' % {n})")

    def encode_string(self, spec: Spec, expr: str) -> None:
        b = self.var("b")
        self.emit(f"{b} = {expr}.encode('utf-8', 'surrogateescape')")
        self.encode_raw(b, spec[1], "string length")

    def encode_opaque(self, spec: Spec, expr: str) -> None:
        self.emit(f"if not _isinstance({expr}, (bytes, bytearray, memoryview)):")
        self.emit(f"    raise XDREncodeError('opaque data must be bytes, not %s' % "
                  f"type({expr}).__name__)")
        self.encode_raw(expr, spec[1], "opaque length")

    def encode_raw(self, b: str, limit: int | None, what: str) -> None:
        n = self.var("n")
        self.emit(f"{n} = len({b})")
        self.encode_length(n, limit, what)
        self.emit(f"ap(_U32_pack({n}))")
        self.emit(f"ap({b})")
        self.emit(f"ap(_PAD[{n} & 3])")

    def encode_optional(self, spec: Spec, expr: str) -> None:
        self.emit(f"if {expr} is None:")
        self.emit("    ap(b'\\0\\0\\0\\0')")
        self.emit("else:")
        self.depth += 1
        self.emit("ap(b'\\0\\0\\0\\1')")
        self.encode(spec[1], expr)
        self.depth -= 1

    def encode_struct(self, spec: Spec, expr: str) -> None:
        fields = spec[1]
        values = [self.var() for _ in fields]
        self.emit(f"if _isinstance({expr}, _dict):")
        for (name, _), v in zip(fields, values):
            self.emit(f"    {v} = {expr}[{name!r}]")
        self.emit("else:")
        self.emit(f"    {', '.join(values)}{',' if len(values) == 1 else ''} = {expr}")
        run: list[tuple[Spec, str]] = []
        for (_, fspec), v in zip(fields, values):
            if self.scalar(fspec) is not None:
                run.append((fspec, v))
                continue
            if run:
                self.encode_scalars(run)
                run = []
            self.encode(fspec, v)
        if run:
            self.encode_scalars(run)

    def encode_array(self, spec: Spec, expr: str) -> None:
        n = self.var("n")
        self.emit(f"{n} = len({expr})")
        self.encode_length(n, spec[2], "array count")
        self.emit(f"ap(_U32_pack({n}))")
        self.encode_elements(spec[1], n, expr)

    def encode_fixed_array(self, spec: Spec, expr: str) -> None:
        self.emit(f"if len({expr}) != {spec[2]}:")
        self.emit(f"    raise XDREncodeError('fixed array needs {spec[2]} elements, got %d' "
                  f"% len({expr}))")
        self.encode_elements(spec[1], str(spec[2]), expr)

    def encode_elements(self, elem: Spec, count: str, expr: str) -> None:
        info = self.scalar(elem)
        if info is not None and info[3] != "fixed_opaque":
            rng = info[2]
            if rng is not None:
                self.emit(f"if {expr} and (min({expr}) < {rng[0]} or max({expr}) > {rng[1]}):")
                self.emit(f"    raise XDREncodeError('an element is out of range for {info[3]}')")
            if info[3] == "bool":
                expr = f"[1 if _x else 0 for _x in {expr}]"
            self.emit(f"ap(_pack('>%d{info[0]}' % {count}, *{expr}))")
            return
        e = self.var("e")
        self.emit(f"for {e} in {expr}:")
        self.depth += 1
        self.encode(elem, e)
        self.depth -= 1

    def encode_union(self, spec: Spec, expr: str) -> None:
        (dname, dspec), arms, default = spec[1], spec[2], spec[3]
        d = self.var("d")
        a = self.var()
        isd = self.var("i")
        self.emit(f"{isd} = _isinstance({expr}, _dict)")
        self.emit(f"if {isd}:")
        self.emit(f"    {d} = {expr}[{dname!r}]")
        self.emit("else:")
        self.emit(f"    {d}, {a} = {expr}")
        self.encode_scalars([(dspec, d)])
        keyword = "if"
        for values, arm, aspec in arms:
            cond = " or ".join(f"{d} == {v!r}" for v in values)
            self.emit(f"{keyword} {cond}:")
            self.encode_arm(isd, expr, arm, aspec, a)
            keyword = "elif"
        self.emit("else:" if keyword == "elif" else "if True:")
        if default is not None:
            self.encode_arm(isd, expr, default[0], default[1], a)
        else:
            self.emit(f"    raise XDREncodeError('unknown union discriminant %r' % ({d},))")

    def encode_arm(self, isd: str, expr: str, arm: str | None, aspec: Spec, a: str) -> None:
        self.depth += 1
        if arm is None or self.resolve(aspec) == "void":
            self.emit("pass")
        else:
            self.emit(f"if {isd}:")
            self.emit(f"    {a} = {expr}[{arm!r}]")
            self.encode(aspec, a)
        self.depth -= 1


# ----------------------------------------------------------------------------------------
# char arrays: rpcgen sends one 4-byte unit per C char (libvirt's security labels, node
# model, SASL data); these turn them into bytes and back.


def chars_to_bytes(values: list[int]) -> bytes:
    """Bytes from a decoded ``char`` array (either sign convention)."""
    return bytes(v & 0xFF for v in values)


def bytes_to_chars(data: bytes, length: int | None = None) -> list[int]:
    """A ``char`` array for ``data``, zero-filled to ``length`` (a fixed ``char x[N]``)."""
    values = list(data)
    if length is not None:
        if len(values) > length:
            raise XDREncodeError(f"{len(values)} chars do not fit in {length}")
        values += [0] * (length - len(values))
    return values


def chars_to_str(values: list[int]) -> str:
    """The C string in a ``char`` array: up to the first NUL, UTF-8."""
    return chars_to_bytes(values).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
