"""Unit tests of the pyvirsh framework: grammar, option access, numbers, table layout,
global options, lookups and the error report."""

from __future__ import annotations

import io

import pytest

from pyvirt.virsh import parser, registry
from pyvirt.virsh.ctl import Args, CommandError, CommandFailed, Ctl, parse_number
from pyvirt.virsh.registry import Opt, OptType
from pyvirt.virsh.table import render

T = OptType


@pytest.fixture
def demo():  # type: ignore[no-untyped-def]
    """A command shaped like virsh's usual ones: a required domain, a string, an int,
    booleans, an alias and an ARGV tail."""
    opts = [
        Opt("domain", T.DATA, "domain name", required=True, completer="domain"),
        Opt("file", T.STRING, "a file"),
        Opt("count", T.INT, "how many"),
        Opt("size", T.STRING, "a size", named_only=True),
        Opt("live", T.BOOL, "live"),
        Opt("config", T.BOOL, "config"),
        Opt("persistent", T.ALIAS, alias="config"),
        Opt("now", T.ALIAS, alias="count=0"),
        Opt("rest", T.ARGV, "the rest"),
    ]
    name = "x-demo"
    registry.command(name, "virsh", "demo", "A demo.", opts)(lambda ctl, args: True)
    registry.alias("x-demo-alias", name)
    yield registry.lookup(name)
    del registry._COMMANDS[name]
    del registry._COMMANDS["x-demo-alias"]


def values(parsed: parser.ParsedCommand) -> list[tuple[str, str | None]]:
    return [(o.name, v) for o, v in parsed.opts]


def test_positional_fill_in_table_order(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "vm", "f.xml", "3", "a", "b"])
    assert values(p) == [("domain", "vm"), ("file", "f.xml"), ("count", "3"),
                         ("rest", "a"), ("rest", "b")]


def test_named_options_and_equals(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "--count=4", "--live", "vm", "--size", "1G"])
    assert values(p) == [("count", "4"), ("live", None), ("domain", "vm"), ("size", "1G")]


def test_named_only_is_not_positional(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "vm", "--file", "f", "--count", "1", "extra"])
    assert values(p)[-1] == ("rest", "extra")


def test_aliases(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo-alias", "vm", "--persistent", "--now"])
    assert p.cmd.name == "x-demo"
    assert values(p) == [("domain", "vm"), ("config", None), ("count", "0")]
    with pytest.raises(parser.ParseError, match="invalid '=' after option --now"):
        parser.parse_argv(["x-demo", "vm", "--now=3"])


def test_double_dash_makes_data(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "--", "--live", "-x"])
    assert values(p) == [("domain", "--live"), ("file", "-x")]


@pytest.mark.parametrize("argv,message", [
    (["x-demo"], "command 'x-demo' requires <domain> option"),
    (["x-demo", "vm", "--bogus"], "command 'x-demo' doesn't support option --bogus"),
    (["x-demo", "vm", "--count"], "expected syntax: --count <number>"),
    (["x-demo", "vm", "--file"], "expected syntax: --file <string>"),
    (["x-demo", "vm", "--live", "--live"], "option --live already seen"),
    (["x-demo", "vm", "--live=1"], "invalid '=' after option --live"),
    (["nosuch"], "unknown command: 'nosuch'"),
])
def test_errors(demo, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(parser.ParseError) as info:
        parser.parse_argv(argv)
    assert info.value.message == message


def test_help_option_becomes_help_command(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "--help"])  # no required-option error
    assert p.cmd.name == "help" and values(p) == [("command", "x-demo")]


def test_string_mode_quotes_separators_comments(demo) -> None:  # type: ignore[no-untyped-def]
    cmds = parser.parse_string(
        "x-demo 'v m' \"a b\"\\ c; # comment ; ignored\necho x\\\ny 'a;b'")
    assert [c.cmd.name for c in cmds] == ["x-demo", "echo"]
    assert values(cmds[0]) == [("domain", "v m"), ("file", "a b c")]
    assert values(cmds[1]) == [("string", "xy"), ("string", "a;b")]


def test_string_mode_errors() -> None:
    for text, message in [('echo "abc', 'missing "'), ("echo abc\\", "dangling \\")]:
        with pytest.raises(parser.ParseError) as info:
            parser.parse_string(text)
        assert info.value.message == message


def test_args_accessors(demo) -> None:  # type: ignore[no-untyped-def]
    (p,) = parser.parse_argv(["x-demo", "vm", "--count", "abc", "--size", "2M", "--file", ""])
    args = Args(p.cmd, p.opts)
    assert args.string("domain") == "vm"
    assert args.has("count") and not args.bool("live")
    with pytest.raises(CommandError) as info:
        args.int("count")
    assert info.value.message == (
        "Numeric value 'abc' for <count> option is malformed or out of range")
    with pytest.raises(CommandError, match="Option argument is empty"):
        args.string("file")
    assert args.scaled("size") == 2 * 1024 * 1024
    assert args.argv("rest") == []


@pytest.mark.parametrize("text,kw,expected", [
    ("42", {}, 42), (" -7", {}, -7), ("2147483648", {}, None), ("1x", {}, None),
    ("", {}, None), ("-1", {"signed": False}, None),
    ("-1", {"signed": False, "wrap": True}, 4294967295),
    ("18446744073709551615", {"signed": False, "bits": 64}, 18446744073709551615),
])
def test_parse_number(text: str, kw: dict, expected: int | None) -> None:
    assert parse_number(text, **kw) == expected


@pytest.mark.parametrize("text,unit,expected", [
    ("10", "KiB", 10240), ("10b", "KiB", 10), ("1K", "B", 1024), ("1KB", "B", 1000),
    ("1MiB", "B", 1 << 20), ("1G", "KiB", 1 << 30), ("1e", "B", 1 << 60),
])
def test_scaled(demo, text: str, unit: str, expected: int) -> None:  # type: ignore[no-untyped-def]
    args = Args(demo, [(demo.option("size"), text)])
    assert args.scaled("size", default_unit=unit) == expected


def test_scaled_error(demo) -> None:  # type: ignore[no-untyped-def]
    args = Args(demo, [(demo.option("size"), "1Q")])
    with pytest.raises(CommandError, match="Scaled numeric value '1Q' for <size> option"):
        args.scaled("size")


def test_table_layout() -> None:
    assert render(["Id", "Name", "State"], [["1", "test", "running"]]) == (
        " Id   Name   State\n"
        "----------------------\n"
        " 1    test   running\n")
    assert render(["Id", "Name"], [["-", "a\tb"]], header=False) == " -   a\\x09b\n"
    # wide characters count two columns
    assert render(["N"], [["日本"]]).splitlines()[1] == "-" * 7


def _ctl() -> tuple[Ctl, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Ctl(uri="test:///default", stdout=out, stderr=err), out, err


def test_lookup_domain_by_id_uuid_name(demo) -> None:  # type: ignore[no-untyped-def]
    ctl, _, err = _ctl()
    dom = ctl.conn.lookupByName("test")
    for key in ("1", dom.UUIDString(), "test"):
        args = Args(demo, [(demo.option("domain"), key)])
        assert ctl.lookup_domain(args).name() == "test"
    args = Args(demo, [(demo.option("domain"), "nosuch")])
    with pytest.raises(CommandFailed):
        ctl.lookup_domain(args)
    assert err.getvalue() == "error: failed to get domain 'nosuch'\n"


def test_failed_network_lookup_reports_libvirt_error(demo) -> None:  # type: ignore[no-untyped-def]
    from pyvirt.virsh.main import run_one

    def handler(ctl: Ctl, args: Args) -> bool:
        ctl.lookup_network(args, "domain")
        return True

    registry.command("x-netlookup", "virsh", "", "",
                     [Opt("domain", T.DATA, required=True)])(handler)
    try:
        ctl, _, err = _ctl()
        (p,) = parser.parse_argv(["x-netlookup", "nosuch"])
        assert run_one(ctl, p) is False
        assert err.getvalue() == (
            "error: failed to get network 'nosuch'\n"
            "error: Network not found: no network with matching name 'nosuch'\n")
    finally:
        del registry._COMMANDS["x-netlookup"]


def test_libvirt_error_from_handler_printed_once(demo) -> None:  # type: ignore[no-untyped-def]
    import pyvirt
    from pyvirt.virsh.main import run_one

    def handler(ctl: Ctl, args: Args) -> bool:
        ctl.conn.lookupByName("nosuch")
        return True

    registry.command("x-raise", "virsh", "", "")(handler)
    try:
        ctl, _, err = _ctl()
        (p,) = parser.parse_argv(["x-raise"])
        assert run_one(ctl, p) is False
        assert err.getvalue().count("error: ") == 1
        assert "Domain not found" in err.getvalue()
        assert pyvirt.virGetLastError() is None  # reported, then forgotten
    finally:
        del registry._COMMANDS["x-raise"]


def test_exclusive(demo) -> None:  # type: ignore[no-untyped-def]
    ctl, _, _ = _ctl()
    args = Args(demo, [(demo.option("live"), None), (demo.option("config"), None)])
    with pytest.raises(CommandError, match="Options --live and --config are mutually exclusive"):
        ctl.exclusive(args, "live", "config")


def test_partial_parse_for_completion(demo) -> None:  # type: ignore[no-untyped-def]
    part = parser.parse_partial("echo a; x-demo vm --file ")
    assert part.cmd is not None and part.cmd.name == "x-demo"
    assert part.pending is not None and part.pending.name == "file"


def test_completion_candidates(demo) -> None:  # type: ignore[no-untyped-def]
    from pyvirt.virsh.shell import complete_line

    ctl, _, _ = _ctl()
    assert complete_line(ctl, "ech", "ech") == ["echo"]
    assert complete_line(ctl, "x-demo --li", "--li") == ["--live"]
    assert "test" in complete_line(ctl, "x-demo ", "")
    assert complete_line(ctl, "x-demo --domain t", "t") == ["test"]
    assert "--live" not in complete_line(ctl, "x-demo vm --live --", "--")


def test_command_path_imports_stay_lean() -> None:
    """pyvirsh's framework adds no asyncio, readline, lxml or dataclasses to ``import pyvirt``
    (the interpreter's own start-up hooks are subtracted)."""
    import subprocess
    import sys

    code = ("import sys; base = set(sys.modules); import pyvirt; after_pyvirt = set(sys.modules);"
            " import pyvirt.virsh.main; from pyvirt.virsh import registry;"
            " registry.lookup('echo');"
            " print(' '.join(sorted(set(sys.modules) - after_pyvirt - base)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    heavy = {"asyncio", "readline", "lxml", "lxml.etree", "dataclasses", "inspect"}
    assert not heavy.intersection(out), out
