"""pyvirsh's entry point: global options (virsh.c's virshParseArgv), then one command line
or the interactive shell. Imports stay lean: the command path loads no asyncio, no readline
and no lxml unless a command needs them."""

from __future__ import annotations

import os
import sys

from pyvirt.virsh import parser
from pyvirt.virsh.ctl import Args, CommandError, CommandFailed, Ctl

PROGNAME = "pyvirsh"
VERSION = "9.0.0"  # the libvirt release pyvirsh follows

# (long name, takes argument: 0 no, 1 required, 2 optional, short letter)
_LONG_OPTS = (
    ("connect", 1, "c"), ("debug", 1, "d"), ("escape", 1, "e"), ("help", 0, "h"),
    ("keepalive-interval", 1, "k"), ("keepalive-count", 1, "K"), ("log", 1, "l"),
    ("quiet", 0, "q"), ("readonly", 0, "r"), ("timing", 0, "t"), ("version", 2, "v"),
)
_SHORT_WITH_ARG = "cdekKl"
_SHORT_NO_ARG = "hqrtvV"


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _getopt(argv: list[str]) -> tuple[list[tuple[str, str | None, bool]], int]:
    """GNU getopt_long with "+:c:d:e:hk:K:l:qrtvV": stop at the first non-option; long
    options may be abbreviated to a unique prefix. Returns ((letter, arg, long?), ...) and
    the index of the first command word. Errors print virsh's message and exit 1."""
    out: list[tuple[str, str | None, bool]] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return out, i + 1
        if not word.startswith("-") or word == "-":
            return out, i
        i += 1
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            exact = [o for o in _LONG_OPTS if o[0] == name]
            matches = exact or [o for o in _LONG_OPTS if o[0].startswith(name)]
            if len(matches) != 1:
                _die(f"unsupported option '{word}'. See --help.")
            lname, has_arg, letter = matches[0]
            if has_arg == 0 and eq:
                _die(f"unsupported option '{word}'. See --help.")
            if has_arg == 1 and not eq:
                if i >= len(argv):
                    _die(f"option '-{letter}'/'--{lname}' requires an argument")
                value = argv[i]
                i += 1
            out.append((letter, value if (eq or has_arg == 1) else None, True))
            continue
        j = 1
        while j < len(word):
            letter = word[j]
            j += 1
            if letter in _SHORT_WITH_ARG:
                if j < len(word):
                    value = word[j:]
                elif i < len(argv):
                    value = argv[i]
                    i += 1
                else:
                    names = [o[0] for o in _LONG_OPTS if o[2] == letter]
                    if names:
                        _die(f"option '-{letter}'/'--{names[0]}' requires an argument")
                    _die(f"option '-{letter}' requires an argument")
                out.append((letter, value, False))
                break
            if letter in _SHORT_NO_ARG:
                out.append((letter, None, False))
                continue
            _die(f"unsupported option '-{letter}'. See --help.")
    return out, i


def _die(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n")
    raise _Exit(1)


def _allowed_escape(ch: str) -> bool:
    return "a" <= ch <= "z" or "@" <= ch <= "_"


def _strtol_any(text: str) -> int | None:
    """virStrToLong_i with base 0: decimal, 0x hexadecimal or 0 octal, whole string."""
    t = text.lstrip(" \t\n\v\f\r")
    sign = -1 if t.startswith("-") else 1
    if t[:1] in "+-":
        t = t[1:]
    base = 10
    if t[:2].lower() == "0x":
        base, t = 16, t[2:]
    elif t.startswith("0") and len(t) > 1:
        base, t = 8, t[1:]
    if not t or not all(ch in "0123456789abcdef"[:base] for ch in t.lower()):
        return None
    value = sign * int(t, base)
    if not -(1 << 31) <= value < (1 << 31):
        return None
    return value


def parse_global(argv: list[str], ctl: Ctl) -> list[str]:
    """Apply virsh's global options to ``ctl``; returns the command words."""
    opts, rest = _getopt(argv)
    for letter, value, is_long in opts:
        if letter == "c":
            ctl.uri = value
        elif letter == "d":
            from pyvirt.virsh.ctl import parse_number

            level = parse_number(value or "")
            if level is None:
                _die(f"option {'--debug' if is_long else '-d'} takes a numeric argument")
            assert level is not None
            if not 0 <= level <= 4:
                ctl.error(f"ignoring debug level {level} out of range [0-4]")
            else:
                ctl.debug_level = level
                ctl.debug_set = True  # type: ignore[attr-defined]
        elif letter == "e":
            v = value or ""
            if (len(v) == 2 and v[0] == "^" and _allowed_escape(v[1])) or (
                    len(v) == 1 and v != "^"):
                ctl.escape = v
            else:
                _die(f"Invalid string '{v}' for escape sequence")
        elif letter == "h":
            usage(ctl)
            raise _Exit(0)
        elif letter in "kK":
            lname = "--keepalive-interval" if letter == "k" else "--keepalive-count"
            shown = lname if is_long else f"-{letter}"
            num = _strtol_any(value or "")
            if num is None:
                _die(f"Invalid value for option {shown}")
            assert num is not None
            if num < 0:
                _die(f"option {shown} requires a positive integer argument")
            if letter == "k":
                ctl.keepalive_interval = num
            else:
                ctl.keepalive_count = num
        elif letter == "l":
            ctl.logfile = value
            ctl.open_log(value or "")
        elif letter == "q":
            ctl.quiet = True
        elif letter == "t":
            ctl.timing = True
        elif letter == "r":
            ctl.readonly = True
        elif letter == "v" and value != "long":
            ctl.print(VERSION)
            raise _Exit(0)
        elif letter in "vV":
            show_version(ctl)
            raise _Exit(0)
    return argv[rest:]


def usage(ctl: Ctl) -> None:
    """virshUsage."""
    from pyvirt.virsh import registry

    p = PROGNAME
    lines = [
        "", f"{p} [options]... [<command_string>]", f"{p} [options]... <command> [args...]",
        "", "  options:",
        "    -c | --connect=URI      hypervisor connection URI",
        "    -d | --debug=NUM        debug level [0-4]",
        "    -e | --escape <char>    set escape sequence for console",
        "    -h | --help             this help",
        "    -k | --keepalive-interval=NUM",
        "                            keepalive interval in seconds, 0 for disable",
        "    -K | --keepalive-count=NUM",
        "                            number of possible missed keepalive messages",
        "    -l | --log=FILE         output logging to file",
        "    -q | --quiet            quiet mode",
        "    -r | --readonly         connect readonly",
        "    -t | --timing           print timing information",
        "    -v                      short version",
        "    -V                      long version",
        "         --version[=TYPE]   version, TYPE is short or long (default short)",
        "  commands (non interactive mode):", "",
    ]
    for title, keyword in registry.GROUPS:
        lines.append(f" {title} (help keyword '{keyword}')")
        for cmd in registry.group_commands(keyword):
            lines.append(f"    {cmd.name:<30} {cmd.help}")
        lines.append("")
    lines += ["", "  (specify help <group> for details about the commands in the group)", "",
              "  (specify help <command> for details about the command)", "", ""]
    ctl.print("\n".join(lines), end="")


def show_version(ctl: Ctl) -> None:
    """virshShowVersion, listing what pyvirt provides."""
    ctl.print(f"Virsh command line tool of libvirt {VERSION}")
    ctl.print("See web site at https://libvirt.org/\n")
    ctl.print("Compiled with support for:")
    ctl.print(" Hypervisors: QEMU/KVM LXC Test")
    ctl.print(" Networking: Remote Network Bridging")
    ctl.print(" Storage: Dir")
    ctl.print(" Miscellaneous: Daemon Debug Readline")


def run_commands(ctl: Ctl, commands: list[parser.ParsedCommand]) -> bool:
    """vshCommandRun: run each command; the status is that of the last one."""
    import time

    ok = True
    for parsed in commands:
        before = time.perf_counter() if ctl.timing else 0.0
        ok = run_one(ctl, parsed)
        after = time.perf_counter() if ctl.timing else 0.0
        if parsed.cmd.name in ("quit", "exit"):
            return ok
        if ctl.timing:
            ctl.print(f"\n(Time: {(after - before) * 1000:.3f} ms)\n")
        else:
            ctl.print_extra("")
    return ok


def run_one(ctl: Ctl, parsed: parser.ParsedCommand) -> bool:
    """Run one parsed command: connect unless no_connect, call the handler, turn its
    outcome into True/False and print virsh's error report on failure."""
    import pyvirt

    exc: BaseException | None = None
    try:
        if not parsed.cmd.no_connect:
            ctl.ensure_connection()
        ok = bool(parsed.cmd.handler(ctl, Args(parsed.cmd, parsed.opts)))
    except CommandError as err:
        ctl.error(err.message)
        if err.cause is not None:
            ctl.save_error(err.cause)
        ok = False
    except CommandFailed:
        ok = False
    except pyvirt.libvirtError as err:
        exc = err
        ok = False
    if not ok:
        ctl.note_failure()
        ctl.report_libvirt_error(exc)
    ctl.flush()
    return ok


def _debug_env(ctl: Ctl) -> None:
    """vshInitDebug: VIRSH_DEBUG and VIRSH_LOG_FILE when not set on the command line."""
    if not getattr(ctl, "debug_set", False):
        env = os.environ.get("VIRSH_DEBUG")
        if env is not None:
            from pyvirt.virsh.ctl import parse_number

            level = parse_number(env)
            if level is None or not 0 <= level <= 4:
                ctl.error("VIRSH_DEBUG not set with a valid numeric value")
            else:
                ctl.debug_level = level
    if ctl.logfile is None:
        env = os.environ.get("VIRSH_LOG_FILE")
        if env:
            ctl.logfile = env
            ctl.open_log(env)


def main(argv: list[str] | None = None) -> int:
    """pyvirsh [options]... [<command_string>] | <command> [args...]; returns the exit
    status (0 when the last command succeeded)."""
    from pyvirt import errors

    errors.set_default_printing(False)
    if argv is None:
        argv = sys.argv[1:]
    ctl = Ctl()
    try:
        return _main(ctl, argv)
    except _Exit as ex:
        return ex.status
    except KeyboardInterrupt:
        return 1
    finally:
        try:
            ctl.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
        ctl.flush()


def _main(ctl: Ctl, argv: list[str]) -> int:
    words = parse_global(argv, ctl)
    _debug_env(ctl)
    ctl.imode = not words
    commands: list[parser.ParsedCommand] = []
    if words:
        try:
            if len(words) == 1:
                ctl.debug(1, f'commands: "{words[0]}"\n')
                if not words[0]:
                    return 1
                commands = parser.parse_string(words[0], ctl.debug)
            else:
                commands = parser.parse_argv(words, ctl.debug)
        except parser.ParseError as err:
            if err.message is not None:
                ctl.error(err.message)
            return 1
    # virshInit: a URI named with -c must connect before anything runs
    if ctl.uri is not None:
        try:
            ctl.reconnect()
        except CommandFailed:
            ctl.report_libvirt_error()
            return 1
    else:
        ctl.uri = os.environ.get("VIRSH_DEFAULT_CONNECT_URI") or None
    if not ctl.imode:
        return 0 if run_commands(ctl, commands) else 1
    from pyvirt.virsh.shell import run_shell

    return run_shell(ctl)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
