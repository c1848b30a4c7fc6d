"""Golden tests: pyvirsh's framework behaviour (grammar, global options, the "Virsh itself"
group) against real virsh 9.0 on test:///default. stdout, stderr and exit status must match.
"""

from __future__ import annotations

import re

import pytest

URI = "test:///default"

CASES: list[tuple[str, ...]] = [
    # help layouts of the virsh group's commands
    ("help", "virsh"),
    ("help", "help"),
    ("help", "echo"),
    ("help", "cd"),
    ("help", "pwd"),
    ("help", "quit"),
    ("help", "exit"),
    ("help", "connect"),
    ("echo", "--help"),
    ("help", "nosuchcommand"),
    ("help --command connect",),
    ("help echo --bogus extra data",),
    # echo and its escapes
    ("echo", "a", "b", "--shell", "it's"),
    ("echo \"a;b\" c\\ d; echo --xml \"<x>&'\\\"\"; echo --split a,b,,c,",),
    ("echo --shell '' 'a b' plain",),
    ("echo --str x --hi",),
    ("echo --hi=3",),
    ("echo --shell --xml a",),
    ("echo --err oops",),
    ("echo",),
    ("echo -- --shell -x",),
    ("echo a # a comment; echo not run\necho next line",),
    ("# only a comment",),
    ("echo a;;echo b",),
    # grammar errors: nothing runs
    ("echo one; nosuch; echo two",),
    ("nosuch",),
    ("echo", "--count", "3"),
    ("echo --shell=x",),
    ("echo \"abc",),
    ("echo abc\\",),
    ("pwd", "extra"),
    ("connect", "--name"),
    ("help --command",),
    # cd outside the shell
    ("cd", "/"),
    # quiet, timing-free
    ("-q", "echo a; echo b"),
    # connect
    ("connect test:///default; echo ok",),
    ("connect --name test:///default --readonly; echo ok",),
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_matches_virsh(both, args: tuple[str, ...]) -> None:
    if args[0] == "-q":
        args = ("-q", "-c", URI, *args[1:])
    else:
        args = ("-c", URI, *args)
    ours, theirs = both(*args)
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)


def _no_times(text: str) -> str:
    return re.sub(r"\(Time: [0-9.]+ ms\)", "(Time: N ms)", text)


GLOBAL_CASES: list[tuple[str, ...]] = [
    ("-x",),
    ("--bogus",),
    ("-c",),
    ("--connect",),
    ("-d", "abc"),
    ("-d", "9", "echo", "hi"),
    ("--debug=abc",),
    ("-e", "xx"),
    ("-e", "^"),
    ("-e", "^a", "echo", "ok"),
    ("-k", "-1"),
    ("-k", "abc"),
    ("--keepalive-interval", "abc"),
    ("-K", "0x10", "echo", "hex ok"),
    ("--keep=1",),
    ("--version",),
    ("-v",),
    ("--version=short",),
    ("--conn", URI, "echo", "prefix"),
    ("-rq", "echo", "cluster"),
    ("-c", URI, "-t", "echo", "x", "--split"),  # argv mode: one command, no ';'
    ("-c", URI, ""),
]


@pytest.mark.parametrize("args", GLOBAL_CASES, ids=lambda a: " ".join(a)[:60])
def test_global_options_match_virsh(both, args: tuple[str, ...]) -> None:
    ours, theirs = both(*args, normalize=_no_times)
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)


def test_version_long_header(pyvirsh, real_virsh) -> None:
    # the feature lists differ (pyvirt has fewer drivers); the header is the same
    ours, theirs = pyvirsh("-V"), real_virsh("-V")
    assert ours.status == theirs.status == 0
    assert ours.stdout.splitlines()[:4] == theirs.stdout.splitlines()[:4]


def test_usage_head(pyvirsh, real_virsh) -> None:
    # the command listing depends on every group being implemented; the option part and
    # the group headers are the framework's
    ours, theirs = pyvirsh("-h"), real_virsh("-h")
    head = theirs.stdout.split(" Domain Management")[0]
    assert ours.stdout.replace("pyvirsh [", "virsh [").startswith(head)
    groups = [ln for ln in theirs.stdout.splitlines() if "(help keyword" in ln]
    assert [ln for ln in ours.stdout.splitlines() if "(help keyword" in ln] == groups


def test_help_group_headers(pyvirsh, real_virsh) -> None:
    ours, theirs = pyvirsh("help"), real_virsh("help")
    assert ours.stdout.splitlines()[0] == theirs.stdout.splitlines()[0] == "Grouped commands:"
    headers = [ln for ln in theirs.stdout.splitlines() if "(help keyword" in ln]
    assert [ln for ln in ours.stdout.splitlines() if "(help keyword" in ln] == headers


def test_unknown_uri_fails_before_any_command(pyvirsh) -> None:
    res = pyvirsh("-c", "bogus:///x", "echo", "hi")
    assert res.status == 1
    assert res.stdout == ""
    assert res.stderr.startswith("error: failed to connect to the hypervisor\nerror: ")


def test_connect_failure_keeps_status(pyvirsh) -> None:
    res = pyvirsh("-c", URI, "connect bogus:///x; echo after")
    assert res.stdout == "\nafter\n"
    assert res.stderr.startswith("error: failed to connect to the hypervisor\nerror: ")
    assert res.status == 0  # status of the last command


SHELL_INPUTS = [
    "echo hi\nnosuch\necho bye\n",
    "echo hi\nquit\necho not run\n",
    "echo no newline at the end",
    "echo a; echo b\n\n# comment\nexit\n",
    "echo --count 1\necho \"unbalanced\n",
]


@pytest.mark.parametrize("text", SHELL_INPUTS, ids=lambda t: t[:30])
@pytest.mark.parametrize("flags", [(), ("-q",), ("-r",)], ids=" ".join)
def test_shell_on_piped_stdin_matches_virsh(both, text: str, flags: tuple[str, ...]) -> None:
    # the program name is the only difference: "pyvirsh # " for "virsh # ", and the banner
    ours, theirs = both(*flags, "-c", URI, input=text)
    assert ours.stdout.replace("pyvirsh", "virsh") == theirs.stdout
    assert (ours.stderr, ours.status) == (theirs.stderr, theirs.status)


@pytest.mark.parametrize("env", [
    {"VIRSH_DEFAULT_CONNECT_URI": URI},
    {"LIBVIRT_DEFAULT_URI": URI},
    {"VIRSH_DEFAULT_CONNECT_URI": URI, "LIBVIRT_DEFAULT_URI": "bogus:///"},
], ids=lambda e: "+".join(sorted(e)))
def test_default_uri_from_environment(both, env: dict[str, str]) -> None:
    from pyvirt.virsh import registry

    if registry.lookup("uri") is None:
        pytest.skip("the uri command (host group) is not registered yet")
    ours, theirs = both("uri; echo done", env=env)
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)
