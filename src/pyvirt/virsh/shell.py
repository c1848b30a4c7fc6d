"""pyvirsh's interactive mode: banner, prompt, GNU readline editing with a persistent
history, and completion of command names, options and object names from the live connection.

Loaded only when pyvirsh runs without a command, so the command path never imports readline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyvirt.virsh import parser, registry
from pyvirt.virsh.ctl import Ctl
from pyvirt.virsh.registry import Opt, OptType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PROMPT_RW = "pyvirsh # "
PROMPT_RO = "pyvirsh > "
HISTSIZE_DEFAULT = 500
HISTSIZE_MAX = 500000
# vshReadlineInit's word breaks: "=" lets "--opt=val" complete the value
BREAK_CHARS = " \t\n`@$><=;|&{("


def history_path() -> Path:
    """$XDG_CACHE_HOME/pyvirsh/history (virsh keeps ~/.cache/virsh/history)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "pyvirsh" / "history"


def banner(ctl: Ctl) -> None:
    if ctl.quiet:
        return
    ctl.print("Welcome to pyvirsh, the virtualization interactive terminal.\n")
    ctl.print("Type:  'help' for help with commands\n       'quit' to quit\n")


# ---- completion -------------------------------------------------------------------------


def _names(func: Callable[[], list[str]]) -> list[str]:
    try:
        return sorted(func())
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []


def _domains(ctl: Ctl, flags: int) -> list[str]:
    return _names(lambda: [d.name() for d in ctl.conn.listAllDomains(flags)])


def _list_flags(prefix: str, suffix: str) -> int | None:
    """VIR_CONNECT_LIST_<prefix>_<SUFFIX>, e.g. ("DOMAINS", "active"); 0 for no suffix."""
    from pyvirt import constants as c

    if not suffix:
        return 0
    value = getattr(c, f"VIR_CONNECT_LIST_{prefix}_{suffix.upper()}", None)
    return value if isinstance(value, int) else None


def complete_values(ctl: Ctl, opt: Opt, partial: parser.Partial) -> list[str]:
    """The candidate values of ``opt`` according to its completer."""
    kind = opt.completer
    values = {o.name: v for o, v in partial.opts if v is not None}
    if kind in ("command", "help"):
        names = [cmd.name for cmd in registry.all_commands()
                 if cmd.alias_of is None and not cmd.hidden]
        if kind == "help":
            names += [keyword for _, keyword in registry.GROUPS]
        return sorted(set(names))
    if kind == "group":
        return [keyword for _, keyword in registry.GROUPS]
    if kind is None or kind == "empty":
        return []
    if kind in registry.COMPLETERS:
        func = registry.COMPLETERS[kind]
        return _names(lambda: func(ctl, values))
    if not ctl.connected and not _connect_quietly(ctl):
        return []
    conn = ctl.conn
    base, _, suffix = kind.partition("_")
    if base == "domain":
        flags = _list_flags("DOMAINS", suffix)
        return [] if flags is None else _domains(ctl, flags)
    if base == "network":
        nflags = _list_flags("NETWORKS", suffix)
        if nflags is None:
            return []
        return _names(lambda: [n.name() for n in conn.listAllNetworks(nflags)])
    if base == "pool":
        pflags = _list_flags("STORAGE_POOLS", suffix)
        if pflags is None:
            return []
        return _names(lambda: [p.name() for p in conn.listAllStoragePools(pflags)])
    if base == "interface":
        return _names(lambda: [i.name() for i in conn.listAllInterfaces(0)])
    if base == "nodedev":
        return _names(lambda: [d.name() for d in conn.listAllDevices(0)])
    if base == "secret":
        return _names(lambda: [s.UUIDString() for s in conn.listAllSecrets(0)])
    if base in ("volume", "vol"):
        pool = values.get("pool")
        if not pool:
            return []
        return _names(lambda: [v.name() for v in
                               conn.storagePoolLookupByName(pool).listAllVolumes(0)])
    if base == "snapshot":
        dom = values.get("domain")
        if not dom:
            return []
        return _names(lambda: [s.getName() for s in
                               conn.lookupByName(dom).listAllSnapshots(0)])
    return []


def _connect_quietly(ctl: Ctl) -> bool:
    import io

    saved = ctl.err
    ctl.err = io.StringIO()
    try:
        ctl.reconnect()
        return True
    except Exception:  # noqa: BLE001 - no connection, no object names
        return False
    finally:
        ctl.err = saved
        ctl.reset_error()


def complete_line(ctl: Ctl, line: str, text: str) -> list[str]:
    """Candidates for the word ``text`` that ends ``line`` (the line up to the cursor)."""
    before = line[: len(line) - len(text)]
    if text.startswith("--") and "=" in text:
        return []
    partial = parser.parse_partial(before + " " if before and not before.endswith(
        tuple(" \t;")) else before)
    if partial.cmd is None:
        if list(parser.split_words(before.split(";")[-1])):
            return []  # an unknown command: nothing to offer
        names = [cmd.name for cmd in registry.all_commands()
                 if cmd.alias_of is None and not cmd.hidden]
        return sorted(n for n in names if n.startswith(text))
    cmd = partial.cmd
    candidates: list[str] = []
    if partial.pending is not None:
        return [v for v in complete_values(ctl, partial.pending, partial) if v.startswith(text)]
    if text.startswith("-") or not text:
        seen = partial.seen
        for opt in cmd.opts:
            if opt.type is OptType.ALIAS:
                continue
            if opt.name in seen and opt.type is not OptType.ARGV:
                continue
            candidates.append(f"--{opt.name}")
    if not text.startswith("-") or partial.data_only:
        data = next((o for o in cmd.opts if o.positional and
                     (o.name not in partial.seen or o.type is OptType.ARGV)), None)
        if data is not None:
            candidates += complete_values(ctl, data, partial)
    return [c for c in candidates if c.startswith(text)]


class _Completer:
    def __init__(self, ctl: Ctl, readline_mod: object) -> None:
        self.ctl = ctl
        self.rl = readline_mod
        self.matches: list[str] = []

    def __call__(self, text: str, state: int) -> str | None:
        if state == 0:
            rl = self.rl
            line = rl.get_line_buffer()[: rl.get_endidx()]  # type: ignore[attr-defined]
            try:
                self.matches = complete_line(self.ctl, line, text)
            except Exception:  # noqa: BLE001 - never break the prompt
                self.matches = []
            if len(self.matches) == 1:
                # Python's readline appends nothing; a finished word gets its space
                self.matches = [self.matches[0] + " "]
        if state < len(self.matches):
            return self.matches[state]
        return None


# ---- the loop ---------------------------------------------------------------------------


def _histsize(ctl: Ctl) -> int | None:
    env = os.environ.get("VIRSH_HISTSIZE")
    if env is None:
        return HISTSIZE_DEFAULT
    from pyvirt.virsh.ctl import parse_number

    value = parse_number(env)
    if value is None:
        ctl.error("Bad $VIRSH_HISTSIZE value.")
        return None
    if not 0 <= value <= HISTSIZE_MAX:
        ctl.error(f"$VIRSH_HISTSIZE value should be between 0 and {HISTSIZE_MAX}")
        return None
    return value


def run_shell(ctl: Ctl) -> int:
    """The interactive loop (virsh.c's main in imode). Returns the exit status (0)."""
    from pyvirt.virsh.main import run_commands

    histsize = _histsize(ctl)
    if histsize is None:
        return 1
    tty = sys.stdin.isatty()
    rl = None
    hist = history_path()
    if tty:
        try:
            import readline as rl_mod
        except ImportError:  # pragma: no cover - Python built without readline
            rl_mod = None  # type: ignore[assignment]
        if rl_mod is not None:
            rl = rl_mod
            rl.set_history_length(histsize)
            try:
                rl.read_history_file(str(hist))
            except OSError:
                pass
            rl.set_completer_delims(BREAK_CHARS)
            rl.set_completer(_Completer(ctl, rl))
            if "libedit" in (rl.__doc__ or ""):
                rl.parse_and_bind("bind ^I rl_complete")
            else:
                rl.parse_and_bind("tab: complete")
    banner(ctl)
    ctl.flush()
    while ctl.imode:
        prompt = PROMPT_RO if ctl.readonly else PROMPT_RW
        try:
            line = _read_line(prompt, tty, ctl)
        except KeyboardInterrupt:
            ctl.print()
            continue
        if line is None:
            break
        if not line:
            continue
        try:
            commands = parser.parse_string(line, ctl.debug)
        except parser.ParseError as err:
            if err.message is not None:
                ctl.error(err.message)
            continue
        try:
            run_commands(ctl, commands)
        except KeyboardInterrupt:
            ctl.print()
    # virsh ends the session with a line break, after EOF at a prompt and after quit alike
    ctl.print()
    if rl is not None:
        try:
            hist.parent.mkdir(parents=True, exist_ok=True)
            rl.write_history_file(str(hist))
        except OSError as exc:
            ctl.error(f"Failed to create '{hist.parent}': {exc.strerror}")
    ctl.flush()
    return 0


def _read_line(prompt: str, tty: bool, ctl: Ctl) -> str | None:
    """One line: readline's input() on a terminal; otherwise the prompt and the echoed
    line, as readline prints them when stdin is not a terminal."""
    if tty:
        try:
            return input(prompt)
        except EOFError:
            return None
    ctl.write(prompt)
    ctl.flush()
    line = sys.stdin.readline()
    if not line:
        return None
    line = line.rstrip("\n")
    ctl.write(line + "\n")
    return line
