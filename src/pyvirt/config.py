"""libvirt's configuration file syntax (``libvirt.conf``, ``libvirtd.conf``, ``qemu.conf``...).

The grammar, as libvirt's own parser accepts it::

    file       := { statement separator }
    statement  := comment | name blanks "=" blanks value blanks [ comment ]
    separator  := end-of-line { blank | end-of-line } | ";" ... | end of text
    comment    := "#" up to end of line
    name       := ASCII letter { ASCII letter | digit | "_" }
    value      := string | integer | list
    string     := '"' ... '"' | "'" ... "'"   (one line, no escapes)
                | '\"\"\"' ... '\"\"\"'          (may span lines)
    integer    := [ "+" | "-" ] digit { digit }
    list       := "[" [ value { "," value } [ "," ] ] "]"   (may span lines)

Errors are VIR_ERR_CONF_SYNTAX from VIR_FROM_CONF, worded ``FILE:LINE: what``, as libvirt
words them. When a name is set twice the first setting wins (libvirt looks up the first).
Type checks happen when a value is read (``ConfFile.get_*``), again as in libvirt, with
its messages, so a daemon config reader gets libvirt's errors for free.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.errors import raise_error

ConfValue = str | int | list["ConfValue"]

# The file name libvirt's messages give to text parsed from memory.
MEMORY_NAME = "memory conf"
MAX_CONFIG_FILE_SIZE = 10 * 1024 * 1024

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
UINT_MAX = 2**32 - 1
LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1
ULLONG_MAX = 2**64 - 1


class _Parser:
    """A port of the state machine, not a tokenizer: line numbers in errors and the
    acceptance of odd inputs (trailing commas, ';' separators) then match libvirt's."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.pos = 0
        self.end = len(text)
        self.line = 1
        self.values: dict[str, ConfValue] = {}
        self.negative: set[str] = set()

    def cur(self) -> str:
        # libvirt reads the NUL terminator at the end of the text; '' plays that part.
        return self.text[self.pos] if self.pos < self.end else ""

    def next(self) -> None:
        if self.pos < self.end:
            self.pos += 1

    def error(self, info: str) -> None:
        raise_error(
            c.VIR_ERR_CONF_SYNTAX, f"{self.filename}:{self.line}: {info}", domain=c.VIR_FROM_CONF
        )

    def skip_blanks(self) -> None:
        while self.pos < self.end and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_blanks_and_eol(self) -> None:
        while self.pos < self.end and self.text[self.pos] in " \t\r\n":
            if self.text[self.pos] == "\n":
                self.line += 1
            self.pos += 1

    def skip_to_eol(self) -> None:
        while self.pos < self.end and self.text[self.pos] not in "\r\n":
            self.pos += 1

    def parse(self) -> None:
        while self.pos < self.end:
            self.statement()
            self.separator()

    def statement(self) -> None:
        self.skip_blanks_and_eol()
        if self.cur() == "#":
            self.skip_to_eol()
            return
        name = self.name()
        self.skip_blanks()
        if self.cur() != "=":
            self.error("expecting an assignment")
        self.next()
        self.skip_blanks()
        value, negative = self.value()
        self.skip_blanks()
        if self.cur() == "#":
            self.skip_to_eol()
        if name not in self.values:
            self.values[name] = value
            if negative:
                self.negative.add(name)

    def separator(self) -> None:
        self.skip_blanks()
        if self.pos >= self.end:
            return
        ch = self.cur()
        if ch in "\r\n":
            self.skip_blanks_and_eol()
        elif ch == ";":
            self.next()
            self.skip_blanks_and_eol()
        else:
            self.error("expecting a separator")

    def name(self) -> str:
        self.skip_blanks()
        start = self.pos
        if not _is_ascii_alpha(self.cur()):
            self.error("expecting a name")
        while self.pos < self.end and (_is_ascii_alnum(self.cur()) or self.cur() == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def value(self) -> tuple[ConfValue, bool]:
        """The value at the cursor, and whether it was written with a minus sign (libvirt
        keeps signed and unsigned numbers apart: "-0" is not a bool)."""
        self.skip_blanks()
        if self.pos >= self.end:
            self.error("expecting a value")
        ch = self.cur()
        if ch in "\"'":
            return self.string(), False
        if ch == "[":
            return self.list(), False
        if ch.isascii() and (ch.isdigit() or ch in "+-"):
            return self.number(), ch == "-"
        self.error("expecting a value")
        raise AssertionError("unreachable")

    def string(self) -> str:
        text = self.text
        if text.startswith('"""', self.pos) and self.pos + 6 < self.end:
            self.pos += 3
            start = self.pos
            while self.pos + 2 < self.end and not text.startswith('"""', self.pos):
                if text[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if not text.startswith('"""', self.pos):
                self.error("unterminated string")
            value = text[start : self.pos]
            self.pos += 3
            return value
        quote = self.cur()
        self.next()
        start = self.pos
        while self.pos < self.end and text[self.pos] != quote and text[self.pos] not in "\r\n":
            self.pos += 1
        if self.cur() != quote:
            self.error("unterminated string")
        value = text[start : self.pos]
        self.next()
        return value

    def list(self) -> list[ConfValue]:
        items: list[ConfValue] = []
        self.next()  # '['
        self.skip_blanks_and_eol()
        if self.pos < self.end and self.cur() != "]":
            items.append(self.value()[0])
            self.skip_blanks_and_eol()
        while self.pos < self.end and self.cur() != "]":
            if self.cur() != ",":
                self.error("expecting a separator in list")
            self.next()
            self.skip_blanks_and_eol()
            if self.cur() == "]":
                break
            items.append(self.value()[0])
            self.skip_blanks_and_eol()
        if self.cur() != "]":
            self.error("list is not closed with ]")
        self.next()
        return items

    def number(self) -> int:
        negative = self.cur() == "-"
        if self.cur() in "+-":
            self.next()
        if self.pos >= self.end or not _is_ascii_digit(self.cur()):
            self.error("unterminated number")
        start = self.pos
        while self.pos < self.end and _is_ascii_digit(self.cur()):
            self.pos += 1
        # libvirt accumulates in a long long and does not check overflow; we keep the exact
        # value and let the typed getters check ranges.
        value = int(self.text[start : self.pos])
        return -value if negative else value


def _is_ascii_alpha(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_ascii_digit(ch: str) -> bool:
    return ch.isascii() and ch.isdigit()


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def parse_conf(text: str, filename: str = MEMORY_NAME) -> dict[str, ConfValue]:
    """Parse libvirt conf syntax into ``{name: value}`` (str, int or list of values), in
    file order. ``filename`` is used in error messages. Raises libvirtError
    (VIR_ERR_CONF_SYNTAX) with libvirt's wording on a syntax error."""
    return read_conf(text, filename).values


class ConfFile:
    """A parsed config file with libvirt's typed getters. A getter returns None when the
    setting is absent and raises libvirt's error when it has the wrong type."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # every pyvirsh start-up.
    __slots__ = ("filename", "values", "negative")

    def __init__(
        self,
        filename: str = MEMORY_NAME,
        values: dict[str, ConfValue] | None = None,
        negative: frozenset[str] = frozenset(),
    ) -> None:
        self.filename = filename
        self.values: dict[str, ConfValue] = {} if values is None else values
        # Names whose value was written with a minus sign (libvirt's signed numbers).
        self.negative = negative

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, ConfFile)
        return (self.filename, self.values, self.negative) == (
            other.filename, other.values, other.negative)  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return (f"ConfFile(filename={self.filename!r}, values={self.values!r}, "
                f"negative={self.negative!r})")  # fmt: skip

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> ConfValue | None:
        return self.values.get(name)

    def _type_error(self, what: str, name: str, code: int = c.VIR_ERR_INTERNAL_ERROR) -> None:
        raise_error(
            code, f"{self.filename}: expected {what} for '{name}' parameter", domain=c.VIR_FROM_CONF
        )

    def _range_error(self, name: str, lo: int, hi: int) -> None:
        raise_error(
            c.VIR_ERR_INTERNAL_ERROR,
            f"{self.filename}: value for '{name}' parameter must be in range {lo}:{hi}",
            domain=c.VIR_FROM_CONF,
        )

    def get_string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self._type_error("a string", name)
        assert isinstance(value, str)
        return value

    def get_string_list(self, name: str, compat_string: bool = False) -> list[str] | None:
        """A list of strings; with ``compat_string`` a single string is taken as a list
        of one (libvirt's compatString)."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                self._type_error("a string list", name, c.VIR_ERR_CONF_SYNTAX)
            return [v for v in value if isinstance(v, str)]
        if isinstance(value, str) and compat_string:
            return [value]
        self._type_error("a string or string list" if compat_string else "a string list", name)
        raise AssertionError("unreachable")

    def _number(self, name: str, what: str, signed: bool) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or (not signed and name in self.negative):
            self._type_error(what, name)
        assert isinstance(value, int)
        return value

    def get_bool(self, name: str) -> bool | None:
        value = self._number(name, "a bool", signed=False)
        if value is None:
            return None
        if value not in (0, 1):
            raise_error(
                c.VIR_ERR_INTERNAL_ERROR,
                f"{self.filename}: value for '{name}' parameter must be 0 or 1",
                domain=c.VIR_FROM_CONF,
            )
        return value == 1

    def get_int(self, name: str) -> int | None:
        value = self._number(name, "a signed integer", signed=True)
        if value is not None and not INT_MIN <= value <= INT_MAX:
            self._range_error(name, INT_MIN, INT_MAX)
        return value

    def get_uint(self, name: str) -> int | None:
        value = self._number(name, "an unsigned integer", signed=False)
        if value is not None and value > UINT_MAX:
            self._range_error(name, 0, UINT_MAX)
        return value

    def get_llong(self, name: str) -> int | None:
        value = self._number(name, "a signed integer", signed=True)
        if value is not None and not LLONG_MIN <= value <= LLONG_MAX:
            self._range_error(name, LLONG_MIN, LLONG_MAX)
        return value

    def get_ullong(self, name: str) -> int | None:
        value = self._number(name, "an unsigned integer", signed=False)
        if value is not None and value > ULLONG_MAX:
            self._range_error(name, 0, ULLONG_MAX)
        return value


def read_conf(text: str, filename: str = MEMORY_NAME) -> ConfFile:
    """Parse ``text`` into a ConfFile (see parse_conf)."""
    parser = _Parser(text, filename)
    parser.parse()
    return ConfFile(filename, parser.values, frozenset(parser.negative))


def read_conf_file(path: str) -> ConfFile:
    """Read and parse the config file at ``path``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_FILE_SIZE + 1)
    except OSError as e:
        raise_error(
            c.VIR_ERR_SYSTEM_ERROR,
            f"Failed to open file '{path}': {os.strerror(e.errno or 0)}",
            domain=c.VIR_FROM_NONE,
            int1=e.errno or 0,
        )
    if len(data) > MAX_CONFIG_FILE_SIZE:
        raise_error(
            c.VIR_ERR_SYSTEM_ERROR,
            f"Failed to read file '{path}': {os.strerror(22)}",
            domain=c.VIR_FROM_NONE,
            int1=22,
        )
    # Config files are ASCII in practice; keep any stray bytes round-trippable.
    return read_conf(data.decode("utf-8", "surrogateescape"), path)


# --- the client config file ------------------------------------------------------------------


def _user_config_home() -> str:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        return xdg
    return os.path.join(os.path.expanduser("~"), ".config")


def client_config_paths() -> list[str]:
    """Where the client config is looked for, first match wins: ``$PYVIRT_CONF`` when set;
    else pyvirt's own file, then libvirt's (``/etc/pyvirt/libvirt.conf`` then
    ``/etc/libvirt/libvirt.conf`` for root, ``$XDG_CONFIG_HOME/pyvirt/libvirt.conf`` then
    ``$XDG_CONFIG_HOME/libvirt/libvirt.conf`` for other users)."""
    explicit = os.environ.get("PYVIRT_CONF")
    if explicit:
        return [explicit]
    if os.geteuid() == 0:
        return ["/etc/pyvirt/libvirt.conf", "/etc/libvirt/libvirt.conf"]
    home = _user_config_home()
    return [
        os.path.join(home, "pyvirt", "libvirt.conf"),
        os.path.join(home, "libvirt", "libvirt.conf"),
    ]


def client_config_path() -> str | None:
    """The client config file in use, or None when there is none (not an error, as in
    libvirt)."""
    for path in client_config_paths():
        if os.path.exists(path):
            return path
    return None


def load_client_config() -> ConfFile:
    """The client config (``uri_default``, ``uri_aliases``, ``remote_mode``...), empty when
    no file exists. Raises libvirtError if the file exists but cannot be read or parsed."""
    path = client_config_path()
    if path is None:
        return ConfFile()
    return read_conf_file(path)
