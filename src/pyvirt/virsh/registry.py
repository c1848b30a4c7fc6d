"""pyvirsh's command table: option and command definitions, groups, registration.

Command modules under ``pyvirt.virsh.commands`` register their commands at import with the
``command()`` decorator; the table is filled lazily, the first time a lookup needs it, so that
a command line pays only for what it runs.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

    Handler = Callable[[Ctl, Args], Any]
    Completer = Callable[[Ctl, dict[str, str]], list[str]]


class OptType:
    """virsh's option kinds (vshCmdOptType): six fixed instances compared by identity. A
    plain class: enum (with the functools and collections it pulls in) would add ~3 ms to
    every pyvirsh start-up."""

    __slots__ = ("value",)
    BOOL: OptType  # VSH_OT_BOOL   --flag
    STRING: OptType  # VSH_OT_STRING --opt <string>
    INT: OptType  # VSH_OT_INT    --opt <number>
    DATA: OptType  # VSH_OT_DATA   positional-capable string
    ARGV: OptType  # VSH_OT_ARGV   all remaining data (may repeat --opt)
    ALIAS: OptType  # VSH_OT_ALIAS  other spelling; `alias` names the target

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"OptType.{self.value.upper()}"


for _kind in ("bool", "string", "int", "data", "argv", "alias"):
    setattr(OptType, _kind.upper(), OptType(_kind))


class Opt:
    """One option of a command (virsh's vshCmdOptDef).

    ``required`` is VSH_OFLAG_REQ; ``named_only`` is VSH_OFLAG_REQ_OPT (the option is never
    filled positionally; it must be spelled ``--name value``); ``empty_ok`` is
    VSH_OFLAG_EMPTY_OK. For ``OptType.ALIAS``, ``alias`` is the target: ``"name"`` or
    ``"name=value"`` (a boolean spelling of an option with that value).
    """

    # a plain class, not a dataclass: importing dataclasses costs ~13 ms of start-up
    __slots__ = ("name", "type", "help", "required", "named_only", "empty_ok", "completer",
                 "alias")

    def __init__(self, name: str, type: OptType, help: str = "",  # noqa: A002
                 required: bool = False, named_only: bool = False, empty_ok: bool = False,
                 completer: str | None = None, alias: str | None = None) -> None:
        self.name = name
        self.type = type
        self.help = help
        self.required = required
        self.named_only = named_only
        self.empty_ok = empty_ok
        self.completer = completer
        self.alias = alias

    def __repr__(self) -> str:
        return f"Opt({self.name!r}, {self.type})"

    @property
    def positional(self) -> bool:
        """Whether bare data may fill this option (vshCmddefOptParse's opts_need_arg)."""
        return self.type not in (OptType.BOOL, OptType.ALIAS) and not self.named_only


class CommandDef:
    """One command (virsh's vshCmdDef with its info "help" and "desc")."""

    __slots__ = ("name", "group", "help", "desc", "opts", "handler", "no_connect",
                 "alias_of", "hidden")

    def __init__(self, name: str, group: str, help: str, desc: str,  # noqa: A002
                 opts: tuple[Opt, ...], handler: Handler, no_connect: bool = False,
                 alias_of: str | None = None, hidden: bool = False) -> None:
        self.name = name
        self.group = group
        self.help = help
        self.desc = desc
        self.opts = opts
        self.handler = handler
        self.no_connect = no_connect
        self.alias_of = alias_of
        self.hidden = hidden

    def __repr__(self) -> str:
        return f"CommandDef({self.name!r})"

    def option(self, name: str) -> Opt | None:
        for opt in self.opts:
            if opt.name == name:
                return opt
        return None


GROUPS: tuple[tuple[str, str], ...] = (
    ("Domain Management", "domain"),
    ("Domain Monitoring", "monitor"),
    ("Domain Events", "events"),
    ("Host and Hypervisor", "host"),
    ("Checkpoint", "checkpoint"),
    ("Interface", "interface"),
    ("Network Filter", "filter"),
    ("Networking", "network"),
    ("Node Device", "nodedev"),
    ("Secret", "secret"),
    ("Snapshot", "snapshot"),
    ("Backup", "backup"),
    ("Storage Pool", "pool"),
    ("Storage Volume", "volume"),
    ("Virsh itself", "virsh"),
)

# name -> definition, in registration order (virsh lists a group's commands in table order,
# which our modules keep by registering in that order; help sorts nothing).
_COMMANDS: dict[str, CommandDef] = {}
_loaded = False


def _register(cmd: CommandDef) -> None:
    if cmd.name in _COMMANDS:
        raise ValueError(f"pyvirsh command {cmd.name!r} registered twice")
    names = [o.name for o in cmd.opts]
    if len(set(names)) != len(names) or "help" in names:
        raise ValueError(f"pyvirsh command {cmd.name!r}: duplicate or reserved option name")
    if len(cmd.opts) > 64:
        raise ValueError(f"pyvirsh command {cmd.name!r}: too many options")
    _COMMANDS[cmd.name] = cmd


def command(
    name: str,
    group: str,
    help: str,  # noqa: A002 - virsh's field name
    desc: str,
    opts: Sequence[Opt] = (),
    *,
    no_connect: bool = False,
    hidden: bool = False,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of virsh command ``name``.

    The handler is called as ``handler(ctl, args)`` and returns True (success) or False
    (failure), or raises CommandError / CommandFailed / libvirtError.
    """

    def decorate(func: Handler) -> Handler:
        _register(CommandDef(name, group, help, desc, tuple(opts), func, no_connect,
                             None, hidden))
        return func

    return decorate


def alias(name: str, target: str) -> None:
    """Register ``name`` as another spelling of command ``target`` (VSH_CMD_FLAG_ALIAS);
    aliases are resolved at parse time and hidden from help listings."""

    def _unreachable(ctl: Ctl, args: Args) -> bool:  # pragma: no cover - resolved by parser
        return False

    _register(CommandDef(name, "", "", "", (), _unreachable, False, target, True))


# extra completers by name: func(ctl, partial_values) -> candidate strings, where
# partial_values maps the options already typed on the line to their values
COMPLETERS: dict[str, Completer] = {}


def register_completer(name: str, func: Completer) -> None:
    """Add completer ``name`` (for Opt.completer) beyond the built-in object kinds
    ("domain[_active|_inactive|_persistent|...]", "network[_...]", "pool[_...]", "volume",
    "snapshot", "interface", "nodedev", "secret", "command", "group", "help")."""
    COMPLETERS[name] = func


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from pyvirt.virsh import commands

    commands.load_all()


def lookup(name: str) -> CommandDef | None:
    """The command called ``name`` (an alias is returned as itself: check ``alias_of``)."""
    cmd = _COMMANDS.get(name)
    if cmd is None and not _loaded:
        from pyvirt.virsh import commands

        # start-up speed: import the likely group module first, everything on a miss
        for module in ["virsh_itself", *commands.likely_modules(name)]:
            commands.load_module(module)
            cmd = _COMMANDS.get(name)
            if cmd is not None:
                return cmd
        _load()
        cmd = _COMMANDS.get(name)
    return cmd


def resolve(name: str) -> CommandDef | None:
    """The command ``name`` runs: aliases followed to their target."""
    cmd = lookup(name)
    if cmd is not None and cmd.alias_of is not None:
        return lookup(cmd.alias_of)
    return cmd


def all_commands() -> list[CommandDef]:
    """Every registered command (aliases included), in registration order."""
    _load()
    return list(_COMMANDS.values())


# Per group, virsh's table order when the group's commands come from several modules.
_group_order: dict[str, tuple[str, ...]] = {}


def set_group_order(keyword: str, names: tuple[str, ...]) -> None:
    """Make help list group ``keyword`` in virsh's table order ``names``."""
    _group_order[keyword] = names


def group_commands(keyword: str) -> Iterator[CommandDef]:
    """Commands help lists for group ``keyword`` (no aliases, no hidden commands), in
    virsh's table order where one is set, else in registration order."""
    cmds = [cmd for cmd in all_commands()
            if cmd.group == keyword and cmd.alias_of is None and not cmd.hidden]
    order = _group_order.get(keyword)
    if order:
        rank = {name: i for i, name in enumerate(order)}
        cmds.sort(key=lambda cmd: rank.get(cmd.name, len(rank)))
    yield from cmds


def find_group(name: str) -> tuple[str, str] | None:
    """vshCmdGrpSearch: a group by title or keyword."""
    for title, keyword in GROUPS:
        if name in (title, keyword):
            return title, keyword
    return None
