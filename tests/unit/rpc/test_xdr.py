"""pyvirt.rpc.xdr: every construct, both codec tiers, limits and malformed input."""

from __future__ import annotations

import struct

import pytest

from pyvirt.rpc import xdr
from pyvirt.rpc.xdr import (
    TypeTable,
    XDRDecodeError,
    XDREncodeError,
    XDRLimitError,
    XDRTruncatedError,
)

TYPES = {
    "str8": ("string", 8),
    "ostr": ("optional", "str8"),
    "uuid": ("fixed_opaque", 16),
    "color": ("enum", (("RED", 0), ("GREEN", 1))),
    "point": ("struct", (("x", "int"), ("y", "int"))),
    "dom": ("struct", (("name", "str8"), ("uuid", "uuid"), ("id", "int"))),
    "value": ("union", ("type", "int"),
              (((1,), "i", "int"), ((2, 3), "l", "hyper"), ((4,), "s", "str8"),
               ((5,), None, "void")),
              None),
    "value_default": ("union", ("kind", "uint"), (((0,), "n", "uint"),), ("other", "str8")),
    "bool_union": ("union", ("flag", "bool"), (((True,), "yes", "int"), ((False,), None, "void")),
                   None),
    "node": ("struct", (("value", "int"), ("next", ("optional", "node")))),
    "mixed": ("struct", (
        ("a", "uint"), ("b", "hyper"), ("c", "uhyper"), ("d", "double"), ("e", "float"),
        ("f", "bool"), ("g", "char"), ("h", "uchar"), ("i", "short"), ("j", "ushort"),
        ("k", "color"), ("l", "uuid"), ("m", ("opaque", 10)), ("n", ("fixed_opaque", 3)),
        ("o", ("array", "int", 4)), ("p", ("fixed_array", "char", 3)),
        ("q", ("array", "point", 3)), ("r", ("array", "dom", 2)), ("s", "ostr"),
        ("t", ("array", "bool", 3)), ("u", ("fixed_array", "str8", 2)),
        ("v", ("array", "value", 5)), ("w", ("string", None)))),
}

MODES = {"closures": None, "compiled": 0, "tiered": 2}


@pytest.fixture(params=list(MODES))
def table(request: pytest.FixtureRequest) -> TypeTable:
    old = TypeTable.compile_after
    TypeTable.compile_after = MODES[request.param]
    request.addfinalizer(lambda: setattr(TypeTable, "compile_after", old))
    return TypeTable(TYPES)


def roundtrip(table: TypeTable, name: str, value: object, wire: bytes | None = None) -> bytes:
    codec = table.codec(name)
    data = b""
    for _ in range(4):  # crosses the tiered codec's switch to compiled functions
        data = codec.encode(value)
        if wire is not None:
            assert data == wire
        assert codec.decode(data) == value
    return data


def test_scalars(table: TypeTable) -> None:
    cases = [
        ("int", -5, b"\xff\xff\xff\xfb"), ("uint", 0xFFFFFFFF, b"\xff" * 4),
        ("hyper", -(2**63), b"\x80" + b"\0" * 7), ("uhyper", 2**64 - 1, b"\xff" * 8),
        ("double", 1.5, struct.pack(">d", 1.5)), ("float", 0.5, struct.pack(">f", 0.5)),
        ("bool", True, b"\0\0\0\1"), ("bool", False, b"\0\0\0\0"),
        ("char", -1, b"\xff" * 4), ("uchar", 255, b"\0\0\0\xff"),
        ("short", -2, b"\xff\xff\xff\xfe"), ("ushort", 65535, b"\0\0\xff\xff"),
        ("color", 1, b"\0\0\0\1"),
    ]
    for spec, value, wire in cases:
        codec = table.compile(spec)
        for _ in range(3):
            assert codec.encode(value) == wire, spec
            assert codec.decode(wire) == value, spec
    assert table.compile("void").encode(None) == b""
    assert table.compile("void").decode(b"") is None


def test_strings_and_opaque(table: TypeTable) -> None:
    roundtrip(table, "str8", "", b"\0\0\0\0")
    roundtrip(table, "str8", "abc", b"\0\0\0\3abc\0")
    roundtrip(table, "str8", "abcd", b"\0\0\0\4abcd")
    roundtrip(table, "str8", "é", b"\0\0\0\2\xc3\xa9\0\0")
    # Bytes that are not UTF-8 survive (surrogateescape).
    assert table.codec("str8").decode(b"\0\0\0\1\xff\0\0\0") == "\udcff"
    roundtrip(table, "str8", "\udcff", b"\0\0\0\1\xff\0\0\0")
    roundtrip(table, "uuid", bytes(range(16)), bytes(range(16)))
    codec = table.compile(("opaque", 10))
    assert codec.encode(b"\1\2\3\4\5") == b"\0\0\0\5\1\2\3\4\5\0\0\0"
    assert codec.decode(b"\0\0\0\5\1\2\3\4\5\0\0\0") == b"\1\2\3\4\5"
    assert table.compile(("fixed_opaque", 3)).encode(b"abc") == b"abc\0"


def test_optional_struct_union(table: TypeTable) -> None:
    roundtrip(table, "ostr", None, b"\0\0\0\0")
    roundtrip(table, "ostr", "", b"\0\0\0\1\0\0\0\0")
    roundtrip(table, "point", {"x": 1, "y": -1}, b"\0\0\0\1\xff\xff\xff\xff")
    assert table.codec("point").encode((1, -1)) == b"\0\0\0\1\xff\xff\xff\xff"
    roundtrip(table, "value", {"type": 1, "i": 7}, b"\0\0\0\1\0\0\0\7")
    roundtrip(table, "value", {"type": 3, "l": -1}, b"\0\0\0\3" + b"\xff" * 8)
    roundtrip(table, "value", {"type": 4, "s": "ab"}, b"\0\0\0\4\0\0\0\2ab\0\0")
    roundtrip(table, "value", {"type": 5}, b"\0\0\0\5")
    assert table.codec("value").encode((4, "ab")) == b"\0\0\0\4\0\0\0\2ab\0\0"
    roundtrip(table, "value_default", {"kind": 0, "n": 9}, b"\0\0\0\0\0\0\0\x09")
    roundtrip(table, "value_default", {"kind": 9, "other": "x"}, b"\0\0\0\x09\0\0\0\1x\0\0\0")
    roundtrip(table, "bool_union", {"flag": True, "yes": 2}, b"\0\0\0\1\0\0\0\2")
    roundtrip(table, "bool_union", {"flag": False}, b"\0\0\0\0")


def test_recursive_type(table: TypeTable) -> None:
    chain = {"value": 1, "next": {"value": 2, "next": {"value": 3, "next": None}}}
    wire = b"\0\0\0\1\0\0\0\1\0\0\0\2\0\0\0\1\0\0\0\3\0\0\0\0"
    roundtrip(table, "node", chain, wire)


def test_every_construct_in_one_struct(table: TypeTable) -> None:
    value = {
        "a": 1, "b": -2, "c": 3, "d": 0.25, "e": -0.5, "f": True, "g": -128, "h": 200,
        "i": -300, "j": 60000, "k": 0, "l": b"\x01" * 16, "m": b"xyz", "n": b"abc",
        "o": [1, 2, 3, 4], "p": [65, 66, 0],
        "q": [{"x": 1, "y": 2}, {"x": 3, "y": 4}],
        "r": [{"name": "a", "uuid": b"\2" * 16, "id": -1}],
        "s": "opt", "t": [True, False, True], "u": ["x", "yy"],
        "v": [{"type": 1, "i": 1}, {"type": 4, "s": "s"}, {"type": 5}],
        "w": "unbounded",
    }
    data = roundtrip(table, "mixed", value)
    assert len(data) % 4 == 0
    # Equal values are equal bytes in every tier.
    assert data == TypeTable(TYPES).codec("mixed").encode(value)


def test_arrays(table: TypeTable) -> None:
    codec = table.compile(("array", "uhyper", 3))
    assert codec.encode([]) == b"\0\0\0\0"
    assert codec.decode(codec.encode([1, 2, 3])) == [1, 2, 3]
    fixed = table.compile(("fixed_array", "char", 4))
    assert fixed.encode([105, 54, 0, 0]) == b"\0\0\0i\0\0\x006" + b"\0" * 8
    assert xdr.chars_to_str(fixed.decode(fixed.encode(xdr.bytes_to_chars(b"i6", 4)))) == "i6"
    assert xdr.chars_to_bytes([-1, 255, 65]) == b"\xff\xffA"


@pytest.mark.parametrize(("spec", "value"), [
    ("str8", "123456789"),            # longer than its maximum
    (("opaque", 2), b"abc"),
    (("array", "int", 2), [1, 2, 3]),
    (("fixed_array", "int", 2), [1]),
    ("uuid", b"short"),
    ("int", 2**31), ("uint", -1), ("hyper", 2**63), ("uhyper", -1),
    ("char", 256), ("uchar", -1), ("short", 70000), ("ushort", -1),
    (("array", "char", 4), [1, 300]),
    ("point", {"x": 1}),              # missing field
    ("point", (1, 2, 3)),             # wrong number of fields
    ("point", 5),
    ("str8", b"bytes"),               # strings are str
    (("opaque", 8), "text"),          # opaque is bytes
    ("value", {"type": 9, "i": 1}),   # unknown discriminant
    ("value", {"type": 1}),           # missing arm
    ("int", "1"),
    (("array", "int", 4), None),
])
def test_encode_errors(table: TypeTable, spec: object, value: object) -> None:
    codec = table.compile(spec)
    for _ in range(3):
        with pytest.raises(XDREncodeError):
            codec.encode(value)


def test_decode_limits_refuse_before_allocating(table: TypeTable) -> None:
    with pytest.raises(XDRLimitError):
        table.codec("str8").decode(b"\0\0\0\x09" + b"x" * 12)
    with pytest.raises(XDRLimitError):
        table.compile(("opaque", 2)).decode(b"\0\0\0\3abc\0")
    with pytest.raises(XDRLimitError):
        table.compile(("array", "int", 2)).decode(b"\0\0\0\3" + b"\0" * 12)
    # A count within the limit whose elements cannot fit in the input: refused before the
    # list is built (a 4-byte input claiming 2**32-1 strings).
    big = table.compile(("array", "str8", None))
    with pytest.raises(XDRTruncatedError):
        big.decode(b"\xff\xff\xff\xff")
    with pytest.raises(XDRTruncatedError):
        table.compile(("array", "dom", None)).decode(b"\0\1\0\0" + b"\0" * 40)


@pytest.mark.parametrize(("spec", "data"), [
    ("int", b"\0\0\0"),
    ("hyper", b"\0\0\0\0"),
    ("str8", b"\0\0\0\3ab"),            # data cut short
    ("str8", b"\0\0\0\3abc"),           # padding missing
    ("uuid", b"\0" * 15),
    ("ostr", b"\0\0\0\1"),
    ("point", b"\0\0\0\1"),
    (("array", "int", 4), b"\0\0\0\2\0\0\0\1"),
    (("fixed_array", "int", 2), b"\0\0\0\1"),
    ("value", b"\0\0\0\4\0\0\0\5ab"),
    ("dom", b"\0\0\0\1a\0\0\0" + b"\0" * 10),
])
def test_truncated_input(table: TypeTable, spec: object, data: bytes) -> None:
    codec = table.compile(spec)
    for _ in range(3):
        with pytest.raises(XDRTruncatedError):
            codec.decode(data)


@pytest.mark.parametrize(("spec", "data"), [
    ("bool", b"\0\0\0\2"),
    ("ostr", b"\0\0\0\2"),               # optional flag must be 0 or 1
    ("value", b"\0\0\0\x09\0\0\0\0"),    # unknown discriminant
    (("array", "bool", 2), b"\0\0\0\1\0\0\0\7"),
    ("int", b"\0\0\0\0\0"),              # trailing bytes
])
def test_malformed_input(table: TypeTable, spec: object, data: bytes) -> None:
    codec = table.compile(spec)
    for _ in range(3):
        with pytest.raises(XDRDecodeError):
            codec.decode(data)


def test_decode_from_reports_the_end(table: TypeTable) -> None:
    codec = table.codec("point")
    value, end = codec.decode_from(b"junk\0\0\0\1\0\0\0\2more", 4)
    assert value == {"x": 1, "y": 2} and end == 12
    assert codec.decode(bytearray(b"\0\0\0\1\0\0\0\2")) == {"x": 1, "y": 2}
    assert codec.decode(memoryview(b"\0\0\0\1\0\0\0\2")) == {"x": 1, "y": 2}


def test_tiered_codec_switches_to_compiled_functions() -> None:
    old = TypeTable.compile_after
    TypeTable.compile_after = 3
    try:
        codec = TypeTable(TYPES).codec("dom")
        first = codec._dec
        value = {"name": "a", "uuid": b"\0" * 16, "id": 1}
        for _ in range(5):
            codec.decode(codec.encode(value))
        assert codec._dec is not first
        assert hasattr(codec._dec, "source") and hasattr(codec._enc, "source")
    finally:
        TypeTable.compile_after = old


def test_unknown_names_and_bad_specs() -> None:
    table = TypeTable(TYPES)
    with pytest.raises(KeyError):
        table.codec("nope")
    assert "dom" in table and "nope" not in table
    child = TypeTable({"pair": ("struct", (("a", "dom"), ("b", "point")))}, (table,))
    value = {"a": {"name": "n", "uuid": b"\0" * 16, "id": 2}, "b": {"x": 0, "y": 0}}
    assert child.codec("pair").decode(child.codec("pair").encode(value)) == value
