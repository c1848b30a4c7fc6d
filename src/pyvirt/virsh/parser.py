"""virsh's command grammar (vsh.c: vshCommandParse and its two tokenizers).

Two sources of tokens: an argv list (one command, words taken verbatim) and a command string
(shell-like quoting, backslash escapes, ``;`` or newline between commands, ``#`` comments).
The whole input is parsed before anything runs, so a syntax error anywhere runs nothing.
"""

from __future__ import annotations

from pyvirt.virsh import registry
from pyvirt.virsh.registry import CommandDef, Opt, OptType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    Debug = Callable[[int, str], None]

HELP_OPT = Opt("help", OptType.BOOL, "print help for this function")


class ParseError(Exception):
    """A syntax error; ``message`` (when not None) is printed as "error: <message>"."""

    def __init__(self, message: str | None) -> None:
        super().__init__(message)
        self.message = message


class ParsedCommand:
    """One command and its options: (definition, value) in command-line order, value None
    for BOOL options."""

    __slots__ = ("cmd", "opts")

    def __init__(self, cmd: CommandDef, opts: list[tuple[Opt, str | None]] | None = None):
        self.cmd = cmd
        self.opts = opts if opts is not None else []

    def __repr__(self) -> str:
        return f"ParsedCommand({self.cmd.name}, {[(o.name, v) for o, v in self.opts]})"


# Token kinds (vshCommandToken)
ARG, SUBCMD_END, END = "arg", "subcmd_end", "end"


class _Tokens:
    """Common interface of the two tokenizers: next(report) -> (kind, text)."""

    def next(self, report: bool = True) -> tuple[str, str]:
        raise NotImplementedError


class ArgvTokens(_Tokens):
    """vshCommandArgvGetArg: each word is one argument; no separators, no quoting."""

    def __init__(self, argv: list[str]) -> None:
        self._argv = argv
        self._pos = 0

    def next(self, report: bool = True) -> tuple[str, str]:
        if self._pos >= len(self._argv):
            return END, ""
        self._pos += 1
        return ARG, self._argv[self._pos - 1]


class StringTokens(_Tokens):
    """vshCommandStringGetArg: shell-like words out of a command string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def next(self, report: bool = True) -> tuple[str, str]:
        s, p, n = self.text, self.pos, len(self.text)
        while p < n and (s[p] in " \t" or (s[p] == "\\" and p + 1 < n and s[p + 1] == "\n")):
            p += 1 + (s[p] == "\\")
        if p >= n:
            self.pos = p
            return END, ""
        if s[p] in ";\n":
            self.pos = p + 1
            return SUBCMD_END, ""
        if s[p] == "#":  # a word starting with '#' comments out the rest of the line
            while p < n and s[p] != "\n":
                p += 1
            self.pos = p + (1 if p < n else 0)
            return SUBCMD_END, ""
        out: list[str] = []
        single = double = False
        while p < n:
            ch = s[p]
            if not single and not double and ch in " \t;\n":
                break
            if not double and ch == "'":
                single = not single
                p += 1
                continue
            if not single and ch == "\\":
                p += 1
                if p >= n:
                    if report:
                        raise ParseError("dangling \\")
                    self.pos = p
                    return ARG, "".join(out)
                if s[p] == "\n":
                    p += 1
                    continue
            elif not single and ch == '"':
                double = not double
                p += 1
                continue
            out.append(s[p])
            p += 1
        if double and report:
            raise ParseError('missing "')
        self.pos = p
        return ARG, "".join(out)


def _get_option(cmd: CommandDef, name: str, value: str | None, seen: set[str],
                report: bool) -> tuple[Opt, str | None]:
    """vshCmddefGetOption: the definition for ``--name``, following aliases."""
    if name == "help":
        return HELP_OPT, value
    for _ in range(4):  # an alias names another option; follow at most a short chain
        opt = cmd.option(name)
        if opt is None:
            break
        if opt.type is OptType.ALIAS:
            target = opt.alias or ""
            if "=" in target:
                target, forced = target.split("=", 1)
                if value is not None:
                    raise ParseError(f"invalid '=' after option --{opt.name}" if report else None)
                value = forced
            name = target
            continue
        if opt.name in seen and opt.type is not OptType.ARGV:
            raise ParseError(f"option --{name} already seen" if report else None)
        seen.add(opt.name)
        return opt, value
    if cmd.name == "help":
        raise ParseError(None)
    raise ParseError(
        f"command '{cmd.name}' doesn't support option --{name}" if report else None)


def _check_required(cmd: CommandDef, seen: set[str]) -> None:
    """vshCommandCheckOpts: every missing required option is reported; then fail."""
    missing = [o for o in cmd.opts if o.required and o.type not in (OptType.BOOL, OptType.ALIAS)
               and o.name not in seen]
    if not missing:
        return
    import sys

    for opt in missing[:-1]:
        sys.stdout.flush()
        sys.stderr.write(f"error: {_required_message(cmd, opt)}\n")
    raise ParseError(_required_message(cmd, missing[-1]))


def _required_message(cmd: CommandDef, opt: Opt) -> str:
    if opt.type in (OptType.DATA, OptType.ARGV):
        return f"command '{cmd.name}' requires <{opt.name}> option"
    return f"command '{cmd.name}' requires --{opt.name} option"


class Partial:
    """What the completer needs from an unfinished line (vshCommandParse's ``partial``):
    the command, its options so far, and ``pending``, the option whose value is being typed
    at the end of the line, if any."""

    def __init__(self) -> None:
        self.cmd: CommandDef | None = None
        self.opts: list[tuple[Opt, str | None]] = []
        self.seen: set[str] = set()
        self.pending: Opt | None = None
        self.data_only = False

    def reset(self) -> None:
        self.cmd, self.opts, self.seen = None, [], set()
        self.pending, self.data_only = None, False


def _parse(tokens: _Tokens, partial: Partial | None = None,
           debug: Debug | None = None) -> list[ParsedCommand]:
    report = partial is None
    result: list[ParsedCommand] = []
    while True:
        cmd: CommandDef | None = None
        opts: list[tuple[Opt, str | None]] = []
        seen: set[str] = set()
        data_only = False
        kind = END
        if partial is not None:
            partial.reset()  # each command restarts the partial parse
        while True:
            kind, tok = tokens.next(report)
            if kind != ARG:
                break
            if cmd is None:
                if tok.startswith("#"):
                    while tokens.next(False)[0] == ARG:
                        pass
                    kind = SUBCMD_END
                    break
                found = registry.lookup(tok)
                if found is not None and found.alias_of is not None:
                    found = registry.lookup(found.alias_of)
                if found is None:
                    raise ParseError(f"unknown command: '{tok}'" if report else None)
                cmd = found
                if partial is not None:
                    partial.cmd = cmd
                continue
            if not data_only and tok.startswith("--") and len(tok) > 2 and tok[2].isalnum() \
                    and tok[2].isascii():
                name, eq, val = tok[2:].partition("=")
                try:
                    opt, value = _get_option(cmd, name, val if eq else None, seen, report)
                except ParseError:
                    if cmd.name == "help":
                        continue
                    raise
                if opt.type is not OptType.BOOL:
                    if value is None:
                        kind, value = tokens.next(report)
                        if kind != ARG:
                            if partial is not None:
                                partial.pending = opt
                                partial.opts, partial.seen = opts, seen
                            raise ParseError(
                                f"expected syntax: --{opt.name} <"
                                f"{'number' if opt.type is OptType.INT else 'string'}>"
                                if report else None)
                elif value is not None:
                    raise ParseError(f"invalid '=' after option --{opt.name}"
                                     if report else None)
                opts.append((opt, value))
                if debug is not None:
                    _debug_opt(debug, cmd, opt, value)
            elif not data_only and tok == "--":
                data_only = True
                if partial is not None:
                    partial.data_only = True
            else:
                opt_or_none = _next_data(cmd, seen)
                if opt_or_none is None:
                    if cmd.name == "help":
                        continue
                    raise ParseError(f"unexpected data '{tok}'" if report else None)
                opts.append((opt_or_none, tok))
                if debug is not None:
                    _debug_opt(debug, cmd, opt_or_none, tok)
            if partial is not None:
                partial.opts, partial.seen = opts, seen
        if cmd is not None:
            if any(opt is HELP_OPT for opt, _ in opts):
                help_cmd = registry.lookup("help")
                assert help_cmd is not None and help_cmd.opts
                result.append(ParsedCommand(help_cmd, [(help_cmd.opts[0], cmd.name)]))
            else:
                if report:
                    _check_required(cmd, seen)
                result.append(ParsedCommand(cmd, opts))
        if kind == END:
            return result


def _debug_opt(debug: Debug, cmd: CommandDef, opt: Opt, value: str | None) -> None:
    kind = "bool" if opt.type is OptType.BOOL else "optdata"
    shown = "(none)" if opt.type is OptType.BOOL else value
    debug(1, f"{cmd.name}: {opt.name}({kind}): {shown}\n")


def _next_data(cmd: CommandDef, seen: set[str]) -> Opt | None:
    """vshCmddefGetData: the first positional option not filled yet (an ARGV stays open)."""
    for opt in cmd.opts:
        if not opt.positional:
            continue
        if opt.type is OptType.ARGV:
            seen.add(opt.name)
            return opt
        if opt.name not in seen:
            seen.add(opt.name)
            return opt
    return None


def parse_argv(argv: list[str], debug: Debug | None = None) -> list[ParsedCommand]:
    """vshCommandArgvParse: one command from a word list. Raises ParseError. ``debug``
    receives virsh's parse trace (level, text)."""
    return _parse(ArgvTokens(argv), debug=debug)


def parse_string(text: str, debug: Debug | None = None) -> list[ParsedCommand]:
    """vshCommandStringParse: every command of a command string. Raises ParseError."""
    return _parse(StringTokens(text), debug=debug)


def parse_partial(text: str) -> Partial:
    """Parse an unfinished line as the completer does: errors ignored, the last command's
    state returned."""
    partial = Partial()
    try:
        _parse(StringTokens(text), partial)
    except ParseError:
        pass
    return partial


def split_words(text: str) -> Iterator[str]:
    """The words of ``text`` as the string tokenizer sees them (no error reporting)."""
    tokens = StringTokens(text)
    while True:
        kind, tok = tokens.next(False)
        if kind == END:
            return
        if kind == ARG:
            yield tok
