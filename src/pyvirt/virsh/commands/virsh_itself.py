"""The "Virsh itself" group (vsh.c's generic commands and virsh.c's connect): help, cd, pwd,
echo, quit, exit, connect."""

from __future__ import annotations

import os

from pyvirt.virsh import registry
from pyvirt.virsh.ctl import Args, CommandError, CommandFailed, Ctl
from pyvirt.virsh.registry import CommandDef, Opt, OptType, command

GROUP = "virsh"


def command_help(cmd: CommandDef) -> str:
    """vshCmddefHelp's text for ``cmd`` (NAME, SYNOPSIS, DESCRIPTION, OPTIONS)."""
    out = ["  NAME", f"    {cmd.name} - {cmd.help}", "", "  SYNOPSIS"]
    synopsis = f"    {cmd.name}"
    shortopt = False  # whether bare data works instead of '--opt data'
    for opt in cmd.opts:
        t = opt.type
        if t is OptType.ALIAS:
            continue
        if t is OptType.BOOL:
            part = f"[--{opt.name}]"
        elif t is OptType.INT:
            part = f"<{opt.name}>" if opt.required else f"[--{opt.name} <number>]"
            shortopt = shortopt or not opt.named_only
        elif t is OptType.STRING:
            part = f"[--{opt.name} <string>]"
            shortopt = shortopt or not opt.named_only
        elif t is OptType.DATA:
            part = f"<{opt.name}>" if opt.required else f"[<{opt.name}>]"
            shortopt = shortopt or not opt.named_only
        elif shortopt:
            part = (f"{{[--{opt.name}] <string>}}..." if opt.required
                    else f"[[--{opt.name}] <string>]...")
        else:
            part = f"<{opt.name}>..." if opt.required else f"[<{opt.name}>]..."
        synopsis += " " + part
    out.append(synopsis)
    if cmd.desc:
        out += ["", "  DESCRIPTION", f"    {cmd.desc}"]
    if cmd.opts:
        out += ["", "  OPTIONS"]
        for opt in cmd.opts:
            t = opt.type
            if t is OptType.ALIAS:
                continue
            if t is OptType.BOOL:
                spec = f"--{opt.name}"
            elif t is OptType.INT:
                spec = (f"[--{opt.name}] <number>" if opt.required
                        else f"--{opt.name} <number>")
            elif t is OptType.STRING:
                spec = f"--{opt.name} <string>"
            elif t is OptType.DATA:
                spec = f"[--{opt.name}] <string>"
            else:
                spec = f"[--{opt.name}] <string>" if shortopt else f"<{opt.name}>"
            out.append(f"    {spec:<15}  {opt.help}")
    return "\n".join(out) + "\n\n"


def group_help(title: str, keyword: str) -> str:
    """vshCmdGrpHelp's listing of one group."""
    lines = [f" {title} (help keyword '{keyword}'):"]
    lines += [f"    {c.name:<30} {c.help}" for c in registry.group_commands(keyword)]
    return "\n".join(lines) + "\n"


@command("cd", GROUP, "change the current directory", "Change the current directory.",
         [Opt("dir", OptType.STRING, "directory to switch to (default: home or else root)")],
         no_connect=True)
def cmd_cd(ctl: Ctl, args: Args) -> bool:
    if not ctl.imode:
        raise CommandError("cd: command valid only in interactive mode")
    path = args.string_quiet("dir")
    if path is None:
        path = os.path.expanduser("~") or "/"
    try:
        os.chdir(path)
    except OSError as exc:
        raise CommandError(f"cd: {exc.strerror}: {path}") from None
    return True


def _split(text: str) -> list[str]:
    """vshStringToArray: split on ',' where ',,' stands for a literal comma."""
    parts = text.split(",")
    result = [parts[0]]
    concat = False
    for piece in parts[1:]:
        if concat:
            result[-1] += "," + piece
            concat = False
        elif piece == "":
            concat = True
        else:
            result.append(piece)
    if concat:
        result.append("")
    return result


_SHELL_META = set("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")
_XML_DROP = {chr(i) for i in range(1, 32)} - {"\t", "\n", "\r"}
_XML_MAP = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}


def escape_shell(text: str) -> str:
    """virBufferEscapeShell."""
    if not text:
        return "''"
    if not _SHELL_META.intersection(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def escape_xml(text: str) -> str:
    """virBufferEscapeString: XML entities, control characters dropped."""
    return "".join(_XML_MAP.get(ch, "" if ch in _XML_DROP else ch) for ch in text)


@command("echo", GROUP, "echo arguments. Used for internal testing.",
         "Echo back arguments, possibly with quoting. Used for internal testing.",
         [Opt("shell", OptType.BOOL, "escape for shell use"),
          Opt("xml", OptType.BOOL, "escape for XML use"),
          Opt("split", OptType.BOOL, "split each argument on ','; ',,' is an escape sequence"),
          Opt("err", OptType.BOOL, "output to stderr"),
          Opt("str", OptType.ALIAS, alias="string"),
          Opt("hi", OptType.ALIAS, alias="string=hello"),
          Opt("string", OptType.ARGV, "arguments to echo")],
         no_connect=True)
def cmd_echo(ctl: Ctl, args: Args) -> bool:
    shell, xml, split = args.bool("shell"), args.bool("xml"), args.bool("split")
    ctl.exclusive(args, "shell", "xml")
    ctl.exclusive(args, "shell", "split")
    ctl.exclusive(args, "xml", "split")
    buf = ""
    for item in args.argv("string"):
        if xml:
            buf += escape_xml(item)
        elif shell:
            buf += escape_shell(item)
        elif split:
            buf += "".join(f"{piece}\n" for piece in _split(item))
        else:
            buf += item
        buf += " "
    if buf.endswith(" "):
        buf = buf[:-1]
    if buf:
        if args.bool("err"):
            ctl.error(buf)
        else:
            ctl.print(buf, end="")
    return True


def _quit(ctl: Ctl, args: Args) -> bool:
    ctl.imode = False
    return True


# virsh's table order: cd echo exit help pwd quit connect
command("exit", GROUP, "quit this interactive terminal", "", no_connect=True)(_quit)


@command("help", GROUP, "print help",
         "Prints global help, command specific help, or help for a\n"
         "    group of related commands",
         [Opt("command", OptType.STRING,
              "Prints global help, command specific help, or help for a group of related "
              "commands", completer="help")],
         no_connect=True)
def cmd_help(ctl: Ctl, args: Args) -> bool:
    name = args.string_quiet("command")
    if name is None:
        ctl.print("Grouped commands:\n")
        for title, keyword in registry.GROUPS:
            ctl.print(group_help(title, keyword))
        return True
    cmd = registry.resolve(name)
    if cmd is not None:
        ctl.print(command_help(cmd), end="")
        return True
    group = registry.find_group(name)
    if group is not None:
        ctl.print(group_help(*group), end="")
        return True
    raise CommandError(f"command or command group '{name}' doesn't exist")


@command("pwd", GROUP, "print the current directory", "Print the current directory.",
         no_connect=True)
def cmd_pwd(ctl: Ctl, args: Args) -> bool:
    ctl.print(os.getcwd())
    return True


command("quit", GROUP, "quit this interactive terminal", "", no_connect=True)(_quit)


@command("connect", GROUP, "(re)connect to hypervisor",
         "Connect to local hypervisor. This is built-in command after shell start up.",
         [Opt("name", OptType.STRING, "hypervisor connection URI", empty_ok=True,
              completer="empty"),
          Opt("readonly", OptType.BOOL, "read-only connection")],
         no_connect=True)
def cmd_connect(ctl: Ctl, args: Args) -> bool:
    name = args.string("name")
    try:
        ctl.reconnect(name, args.bool("readonly"), force=True)
    except CommandFailed:
        return False
    return True
