#!/usr/bin/env python3
"""Generate src/pyvirt/rpc/protocol/*.py from libvirt's XDR protocol descriptions.

libvirt declares its wire protocol in rpcgen's XDR language (RFC 4506 plus rpcgen's
``char``/``short``/bare ``unsigned``), one ``.x`` file per program. This script has its own
small parser for that language and for the ``/** @generate: ... @priority: ... @acl: ...
@readstream: ... */`` comments libvirt puts before each procedure, and writes one Python
module per file holding only data:

* the program number and version, every ``const`` and every enum value as module names;
* ``TYPES``: every typedef, struct, union and enum as a type spec (the mini-language
  pyvirt.rpc.xdr compiles; see its docstring);
* ``PROCEDURES``: one row per procedure: number, name, argument / return / event-message
  type, priority, whether a read-only connection may call it, stream direction, the public
  C function it implements and the ACL annotations.

Two facts are not in the ``.x`` files and are derived from the rest of libvirt's source:
the public API name of each procedure (matched against the functions declared in
include/libvirt/*.h and src/libvirt_internal.h) and the read-only rule (whether that function
body in src/libvirt-*.c refuses read-only connections always, only for some flags, or never).
A handful of procedures need a word the source does not say mechanically; they are listed in
the tables below with the reason.

The output is checked in; tests/unit/rpc/test_protocol_tables.py re-runs this generator
against the libvirt source tree and fails on drift.

Usage: gen_rpc_protocol.py [LIBVIRT_SOURCE_DIR] [-o OUTPUT_DIR]
(default: $PYVIRT_LIBVIRT_SRC, else the tree unpacked under ~/.cache/pyvirt/libvirt-src, as
scripts/xml_roundtrip.py fetches it)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
OUTPUT_DIR = TOP / "src" / "pyvirt" / "rpc" / "protocol"
CACHE_DIR = Path.home() / ".cache" / "pyvirt" / "libvirt-src"

# (module, .x file, program constant prefix, type-name prefix, modules whose types it uses)
PROGRAMS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("net", "src/rpc/virnetprotocol.x", "", "virNet", ()),
    ("keepalive", "src/rpc/virkeepaliveprotocol.x", "KEEPALIVE", "keepalive", ()),
    ("remote", "src/remote/remote_protocol.x", "REMOTE", "remote", ()),
    ("qemu", "src/remote/qemu_protocol.x", "QEMU", "qemu", ("remote",)),
    ("lxc", "src/remote/lxc_protocol.x", "LXC", "lxc", ("remote",)),
    ("admin", "src/admin/admin_protocol.x", "ADMIN", "admin", ()),
)

# Public API names the mechanical match cannot find: these procedures are the remote
# driver's own forms of a public function (callback-ID event registration).
API_OVERRIDES: dict[tuple[str, str], str] = {
    ("REMOTE", "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY"): "virConnectDomainEventRegisterAny",
    ("REMOTE", "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY"):
        "virConnectDomainEventDeregisterAny",
}

# Stream directions the annotations do not say. PREPARE_TUNNEL3_PARAMS has a hand-written
# dispatcher and so no @writestream; console and channel streams are annotated "read" (the
# direction the remote driver sets up) but carry keystrokes from the client too.
STREAM_OVERRIDES: dict[tuple[str, str], str] = {
    ("REMOTE", "DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS"): "write",
    ("REMOTE", "DOMAIN_OPEN_CONSOLE"): "both",
    ("REMOTE", "DOMAIN_OPEN_CHANNEL"): "both",
}

# Procedures that pass file descriptors (CALL_WITH_FDS / REPLY_WITH_FDS): "in" = the client
# sends FDs, "out" = the server returns FDs. The .x files have no annotation for it; the
# remote driver and the daemon's hand-written dispatchers decide (virnetmessage.c framing).
FD_PROCEDURES: dict[tuple[str, str], str] = {
    ("REMOTE", "DOMAIN_OPEN_GRAPHICS"): "in",
    ("REMOTE", "DOMAIN_OPEN_GRAPHICS_FD"): "out",
    ("REMOTE", "DOMAIN_CREATE_XML_WITH_FILES"): "in",
    ("REMOTE", "DOMAIN_CREATE_WITH_FILES"): "in",
    ("REMOTE", "DOMAIN_FD_ASSOCIATE"): "in",
    ("QEMU", "DOMAIN_MONITOR_COMMAND_WITH_FILES"): "both",
}

# Source files holding the public functions' bodies (for the read-only rule).
API_SOURCES = ("src/libvirt*.c", "src/admin/libvirt-admin.c")
API_HEADERS = ("include/libvirt/*.h", "src/libvirt_internal.h")
CONSTANT_HEADERS = ("include/libvirt/*.h", "include/libvirt/*.h.in")

PRIMITIVES = {
    ("int",): "int", ("unsigned", "int"): "uint", ("unsigned",): "uint",
    ("hyper",): "hyper", ("unsigned", "hyper"): "uhyper",
    ("char",): "char", ("unsigned", "char"): "uchar",
    ("short",): "short", ("unsigned", "short"): "ushort",
    ("float",): "float", ("double",): "double", ("bool",): "bool",
}


class ParseError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# C headers: the few libvirt macros and enum values the .x files use by name


_C_DEFINE = re.compile(r"^\s*#\s*define\s+(VIR_[A-Z0-9_]+)\s+(.+?)\s*$", re.M)
_C_ENUM_ITEM = re.compile(r"^\s*(VIR_[A-Z0-9_]+)\s*=\s*([^,/\n]+?)\s*,?\s*(?:/[*/].*)?$", re.M)


def _eval_c_expr(text: str, names: dict[str, int]) -> int | None:
    """Value of a small C integer expression (numbers, names, + - * << | and parentheses)."""
    tokens = re.findall(r"0[xX][0-9a-fA-F]+|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*|()~&]", text)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        return None
    out = []
    for tok in tokens:
        if tok[0].isdigit():
            out.append(str(int(tok.rstrip("uUlL"), 0)))
        elif tok[0].isalpha() or tok[0] == "_":
            if tok not in names:
                return None
            out.append(str(names[tok]))
        else:
            out.append(tok)
    try:
        value = eval(" ".join(out), {"__builtins__": {}}, {})  # noqa: S307 - digits/operators
    except Exception:
        return None
    return value if isinstance(value, int) else None


def c_constants(source: Path) -> dict[str, int]:
    """VIR_* integer macros and enum values from libvirt's public headers."""
    raw: dict[str, str] = {}
    for pattern in CONSTANT_HEADERS:
        for path in sorted(source.glob(pattern)):
            text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
            for match in _C_DEFINE.finditer(text):
                raw.setdefault(match.group(1), match.group(2))
            for match in _C_ENUM_ITEM.finditer(text):
                raw.setdefault(match.group(1), match.group(2))
    values: dict[str, int] = {}
    pending = dict(raw)
    while pending:
        progressed = False
        for name, expr in list(pending.items()):
            value = _eval_c_expr(expr, values)
            if value is not None:
                values[name] = value
                del pending[name]
                progressed = True
        if not progressed:
            break  # the rest are not integers (strings, function-like macros)
    return values


# ---------------------------------------------------------------------------------------
# The XDR language


_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<doc>/\*\*.*?\*/)|(?P<comment>/\*.*?\*/|//[^\n]*)|(?P<pass>^%[^\n]*)"
    r"|(?P<num>-?0[xX][0-9a-fA-F]+|-?\d+)|(?P<id>[A-Za-z_]\w*)|(?P<punct>[{}()\[\]<>;:,=*])",
    re.S | re.M,
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            line = text.count("\n", 0, pos) + 1
            raise ParseError(f"line {line}: unexpected {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        if kind == "doc":
            tokens.append(("doc", match.group()))
        elif kind in ("num", "id", "punct"):
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


class XDRFile:
    """One parsed .x file: constants, types and enums in declaration order."""

    def __init__(self, text: str, externals: dict[str, int], known: dict[str, int]) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.externals = externals
        self.constants: dict[str, int] = {}
        self.known = known  # constants of files this one includes
        self.types: dict[str, object] = {}
        self.enums: dict[str, list[tuple[str, int, dict[str, list[str]]]]] = {}
        self.parse()

    # -- token helpers --

    def _skip_docs(self) -> int:
        pos = self.pos
        while pos < len(self.tokens) and self.tokens[pos][0] == "doc":
            pos += 1
        return pos

    def _peek(self) -> tuple[str, str]:
        """The next token that is not a doc comment, without consuming anything."""
        pos = self._skip_docs()
        return self.tokens[pos] if pos < len(self.tokens) else ("eof", "")

    def _next(self) -> str:
        kind, value = self._peek()
        if kind == "eof":
            raise ParseError("unexpected end of file")
        self.pos = self._skip_docs() + 1
        return value

    def _expect(self, value: str) -> None:
        got = self._next()
        if got != value:
            raise ParseError(f"expected {value!r}, got {got!r} near token {self.pos}")

    def _ident(self) -> str:
        kind, value = self._peek()
        if kind != "id":
            raise ParseError(f"expected a name, got {value!r}")
        return self._next()

    def _value(self) -> int:
        """A constant: a number or the name of a constant."""
        kind, value = self._peek()
        self._next()
        if kind == "num":
            return int(value, 0)
        for table in (self.constants, self.known, self.externals):
            if value in table:
                return table[value]
        raise ParseError(f"unknown constant {value!r}")

    # -- grammar --

    def parse(self) -> None:
        while self._peek()[0] != "eof":
            word = self._next()
            if word == "const":
                name = self._ident()
                self._expect("=")
                self.constants[name] = self._value()
                self._expect(";")
            elif word == "typedef":
                name, spec = self._declaration()
                self.types[name] = spec
                self._expect(";")
            elif word == "struct":
                name = self._ident()
                self.types[name] = self._struct_body()
                self._expect(";")
            elif word == "union":
                name = self._ident()
                self.types[name] = self._union_body()
                self._expect(";")
            elif word == "enum":
                name = self._ident()
                self.types[name] = self._enum_body(name)
                self._expect(";")
            else:
                raise ParseError(f"unexpected {word!r} at top level")

    def _struct_body(self) -> tuple[object, ...]:
        self._expect("{")
        fields = []
        while self._peek()[1] != "}":
            name, spec = self._declaration()
            if name is None:
                raise ParseError("void field in a struct")
            fields.append((name, spec))
            self._expect(";")
        self._expect("}")
        return ("struct", tuple(fields))

    def _union_body(self) -> tuple[object, ...]:
        self._expect("switch")
        self._expect("(")
        disc_name, disc_spec = self._declaration()
        self._expect(")")
        self._expect("{")
        arms = []
        default = None
        while self._peek()[1] != "}":
            word = self._next()
            if word == "case":
                values = [self._value()]
                self._expect(":")
                while self._peek()[1] == "case":  # several cases sharing one arm
                    self._next()
                    values.append(self._value())
                    self._expect(":")
                arm = self._declaration()
                arms.append((tuple(values), arm[0], arm[1]))
            elif word == "default":
                self._expect(":")
                default = self._declaration()
            else:
                raise ParseError(f"unexpected {word!r} in union")
            self._expect(";")
        self._expect("}")
        return ("union", (disc_name, disc_spec), tuple(arms), default)

    def _enum_body(self, enum_name: str) -> tuple[object, ...]:
        self._expect("{")
        members: list[tuple[str, int, dict[str, list[str]]]] = []
        while True:
            # The annotation comment directly before the member, if any.
            notes: dict[str, list[str]] = {}
            while self.pos < len(self.tokens) and self.tokens[self.pos][0] == "doc":
                notes = parse_annotations(self.tokens[self.pos][1])
                self.pos += 1
            name = self._ident()
            self._expect("=")
            value = self._value()
            self.constants[name] = value
            members.append((name, value, notes))
            if self._peek()[1] == ",":
                self._next()
                if self._peek()[1] == "}":
                    break
                continue
            break
        self._expect("}")
        self.enums[enum_name] = members
        return ("enum", tuple((name, value) for name, value, _ in members))

    def _type_specifier(self) -> object:
        word = self._ident()
        if word == "unsigned":
            nxt = self._peek()[1]
            if nxt in ("int", "hyper", "char", "short"):
                self._next()
                return PRIMITIVES[("unsigned", nxt)]
            return "uint"
        if word == "struct":
            if self._peek()[1] == "{":
                return self._struct_body()
            return self._ident()
        if word == "union":
            if self._peek()[1] == "switch":
                return self._union_body()
            return self._ident()
        if word == "enum":
            if self._peek()[1] == "{":
                return self._enum_body("")
            return self._ident()
        return PRIMITIVES.get((word,), word)

    def _declaration(self) -> tuple[str | None, object]:
        """``type name``, ``type name[N]``, ``type name<N>``, ``type *name``, ``void``."""
        if self._peek()[1] == "void":
            self._next()
            return None, "void"
        if self._peek()[1] in ("opaque", "string"):
            kind = self._next()
            name = self._ident()
            bracket = self._next()
            if bracket == "[":
                if kind == "string":
                    raise ParseError("fixed-length string")
                size = self._value()
                self._expect("]")
                return name, ("fixed_opaque", size)
            if bracket != "<":
                raise ParseError(f"expected < or [ after {name}")
            limit = None if self._peek()[1] == ">" else self._value()
            self._expect(">")
            return name, (kind, limit)
        spec = self._type_specifier()
        if self._peek()[1] == "*":
            self._next()
            return self._ident(), ("optional", spec)
        name = self._ident()
        if self._peek()[1] == "[":
            self._next()
            size = self._value()
            self._expect("]")
            return name, ("fixed_array", spec, size)
        if self._peek()[1] == "<":
            self._next()
            limit = None if self._peek()[1] == ">" else self._value()
            self._expect(">")
            return name, ("array", spec, limit)
        return name, spec


def parse_annotations(comment: str) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for match in re.finditer(r"@(\w+)\s*:\s*([^\n*]*?)\s*(?:\*/)?$", comment, re.M):
        notes.setdefault(match.group(1), []).append(match.group(2).strip())
    return notes


# ---------------------------------------------------------------------------------------
# Public API names and the read-only rule


def api_functions(source: Path) -> dict[str, str]:
    """Lower-cased name -> name of every vir* function libvirt declares."""
    names: dict[str, str] = {}
    for pattern in API_HEADERS:
        for path in sorted(source.glob(pattern)):
            for name in re.findall(r"\b(vir[A-Z]\w*)\s*\(", path.read_text()):
                names.setdefault(name.lower(), name)
    return names


# A function definition at the start of a line (return type on the same line or the one
# before), up to the closing brace in column 0.
_FUNCTION = re.compile(r"^(?:[A-Za-z_][\w \t*]*?[ \t*])?(vir[A-Z]\w*)\((.*?)^\}", re.S | re.M)


def api_bodies(source: Path) -> dict[str, str]:
    """Function name -> body text of the public entry points."""
    bodies: dict[str, str] = {}
    for pattern in API_SOURCES:
        for path in sorted(source.glob(pattern)):
            text = path.read_text()
            for match in _FUNCTION.finditer(text):
                bodies.setdefault(match.group(1), match.group(2))
    return bodies


def readonly_rule(body: str | None) -> str:
    """"no": always refused on a read-only connection; "flags": refused for some flag or
    argument values; "yes": allowed."""
    if body is None:
        return "yes"
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if "virCheckReadOnlyGoto" in line:
            previous = lines[i - 1].strip() if i else ""
            return "flags" if previous.startswith("if ") else "no"
    if "VIR_CONNECT_RO" in body:
        return "flags"
    return "yes"


def find_api(program: str, proc: str, functions: dict[str, str]) -> str | None:
    override = API_OVERRIDES.get((program, proc))
    if override is not None:
        return override
    words = [w.lower() for w in proc.split("_")]
    candidates: list[str] = []
    if program == "REMOTE":
        candidates.append("vir" + "".join(words))
    elif program == "ADMIN":
        candidates.append("viradm" + "".join(words))
    elif program in ("QEMU", "LXC"):
        # virDomainQemuMonitorCommand, virConnectDomainQemuMonitorEventRegister, ...
        for cut in range(1, len(words)):
            candidates.append("vir" + "".join(words[:cut]) + program.lower()
                              + "".join(words[cut:]))
    found = [functions[c] for c in candidates if c in functions]
    if len(found) > 1:
        raise SystemExit(f"{program} {proc}: several API names match: {found}")
    return found[0] if found else None


# ---------------------------------------------------------------------------------------
# Output


def _fmt(value: object) -> str:
    """repr() with hex kept out and tuples written compactly."""
    return repr(value)


def render(module: str, xfile: XDRFile, program: str, prefix: str, imports: tuple[str, ...],
           functions: dict[str, str], bodies: dict[str, str], all_types: dict[str, object],
           version: str, source_rel: str) -> str:
    title = program or "net"
    lines = [
        f'"""libvirt\'s {title} RPC {"program" if program else "definitions"}: constants, '
        f'types{", procedures" if program else ""}.',
        "",
        f"Generated by scripts/gen_rpc_protocol.py from libvirt {version}'s {source_rel};",
        "do not edit by hand. pyvirt.rpc.protocol turns these tables into codecs and",
        "procedure objects; the type-spec language is described in pyvirt.rpc.xdr.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "",
    ]
    if program:
        lines += [
            f"NAME = {program!r}",
            f"PROGRAM = {xfile.constants[program + '_PROGRAM']:#010x}",
            f"VERSION = {xfile.constants[program + '_PROTOCOL_VERSION']}",
        ]
    lines.append(f"IMPORTS: tuple[str, ...] = {imports!r}")
    lines.append("")
    lines.append("# Constants and enum values, in declaration order.")
    for name, value in xfile.constants.items():
        lines.append(f"{name} = {value:#x}" if name.endswith("_PROGRAM") else f"{name} = {value}")
    lines.append("")
    lines.append("TYPES: dict[str, tuple] = {")
    for name, spec in xfile.types.items():
        lines.append(f"    {name!r}: {_fmt(spec)},")
    lines.append("}")
    lines.append("")
    if program:
        proc_enum = next(members for enum, members in xfile.enums.items()
                         if enum.endswith("_procedure"))
        lines += [
            "# (number, name, args type, ret type, event msg type, priority, read-only allowed,",
            "#  stream, sparse-stream flag, FDs, public API, @acl, @aclfilter, @generate)",
            "PROCEDURES: tuple[tuple, ...] = (",
        ]
        for const, number, notes in proc_enum:
            name = const[len(program) + len("_PROC_"):]
            base = f"{prefix}_{name.lower()}"
            args = base + "_args" if base + "_args" in all_types else None
            ret = base + "_ret" if base + "_ret" in all_types else None
            msg = base + "_msg" if base + "_msg" in all_types else None
            if program == "KEEPALIVE":
                msg = "void"  # PING/PONG: MESSAGE frames with an empty body
            api = None if msg else find_api(program, name, functions)
            if msg:
                readonly = None
            elif program == "ADMIN":
                readonly = "yes"  # the admin socket has no read-only mode
            else:
                readonly = readonly_rule(bodies.get(api)) if api else "yes"
            priority = (notes.get("priority") or ["low"])[0]
            stream = STREAM_OVERRIDES.get((program, name))
            if stream is None:
                if notes.get("readstream"):
                    stream = "read"
                elif notes.get("writestream"):
                    stream = "write"
            sparse = (notes.get("sparseflag") or [None])[0]
            sparse_value = None if sparse is None else xfile.externals[sparse]
            row = (number, name, args, ret, msg, priority, readonly, stream, sparse_value,
                   FD_PROCEDURES.get((program, name)), api,
                   tuple(notes.get("acl", ())), tuple(notes.get("aclfilter", ())),
                   (notes.get("generate") or [None])[0])
            lines.append(f"    {_fmt(row)},")
        lines.append(")")
        lines.append("")
    return "\n".join(lines)


def is_source_tree(path: Path) -> bool:
    return (path / "src" / "remote" / "remote_protocol.x").is_file()


def default_source() -> Path | None:
    """$PYVIRT_LIBVIRT_SRC, else the cache directory or the one tree unpacked in it."""
    env = os.environ.get("PYVIRT_LIBVIRT_SRC")
    candidates = [Path(env)] if env else []
    candidates.append(CACHE_DIR)
    if CACHE_DIR.is_dir():
        candidates += sorted(p for p in CACHE_DIR.iterdir() if p.is_dir())
    return next((p for p in candidates if is_source_tree(p)), None)


def libvirt_version(source: Path) -> str:
    meson = source / "meson.build"
    if meson.exists():
        match = re.search(r"version:\s*'([\d.]+)'", meson.read_text())
        if match:
            return match.group(1)
    return "unknown"


def generate(source: Path) -> dict[str, str]:
    """Return {module name: module text} for the libvirt source tree at ``source``."""
    externals = c_constants(source)
    functions = api_functions(source)
    bodies = api_bodies(source)
    version = libvirt_version(source)
    parsed: dict[str, XDRFile] = {}
    out: dict[str, str] = {}
    index: list[tuple[int, str, str, int]] = []
    for module, rel, program, prefix, imports in PROGRAMS:
        known: dict[str, int] = {}
        types: dict[str, object] = {}
        for dep in imports:
            known.update(parsed[dep].constants)
            types.update(parsed[dep].types)
        xfile = XDRFile((source / rel).read_text(), externals, known)
        parsed[module] = xfile
        types.update(xfile.types)
        out[module] = render(module, xfile, program, prefix, imports, functions, bodies,
                             types, version, rel)
        if program:
            index.append((xfile.constants[program + "_PROGRAM"], program, module,
                          xfile.constants[program + "_PROTOCOL_VERSION"]))
    lines = [
        '"""Which module holds each of libvirt\'s RPC programs (number -> name, module, version).',
        "",
        f"Generated by scripts/gen_rpc_protocol.py from libvirt {version}; do not edit by hand.",
        '"""',
        "",
        "PROGRAMS: dict[int, tuple[str, str, int]] = {",
    ]
    lines += [f"    {number:#010x}: ({name!r}, {module!r}, {vers})," for number, name, module, vers
              in index]
    lines += ["}", ""]
    out["_programs"] = "\n".join(lines)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args()
    if args.source is None:
        args.source = default_source()
        if args.source is None:
            raise SystemExit("libvirt source not found: give its directory or set "
                             "$PYVIRT_LIBVIRT_SRC (scripts/xml_roundtrip.py fetches it)")
    if not is_source_tree(args.source):
        raise SystemExit(f"{args.source}: not a libvirt source tree")
    args.output.mkdir(parents=True, exist_ok=True)
    for module, text in generate(args.source).items():
        path = args.output / f"{module}.py"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
