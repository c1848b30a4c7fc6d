"""pyvirsh's interactive mode through a pseudo-terminal (pexpect): banner, prompt, history,
completion of a domain name, help, and a failing command that leaves the shell running."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

URI = "test:///default"


@pytest.fixture(autouse=True)
def _capture_env(virsh_env) -> None:  # type: ignore[no-untyped-def]
    global _ENV
    _ENV = virsh_env


_ENV = None


def _spawn(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    assert _ENV is not None
    env = _ENV({"XDG_CACHE_HOME": str(tmp_path), "TERM": "dumb", "INPUTRC": "/dev/null"})
    child = pexpect.spawn(sys.executable, ["-m", "pyvirt.virsh", "-c", URI, *args],
                          env=env, encoding="utf-8", timeout=20, dimensions=(40, 200))
    return child


def test_banner_prompt_and_quit(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.expect_exact("Welcome to pyvirsh, the virtualization interactive terminal.")
    child.expect_exact("Type:  'help' for help with commands")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_readonly_prompt(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-r", "-q")
    child.expect_exact("pyvirsh > ")
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_failing_command_leaves_shell_running(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.sendline("nosuchcommand")
    child.expect_exact("error: unknown command: 'nosuchcommand'")
    child.expect_exact("pyvirsh # ")
    child.sendline("echo --count 3")
    child.expect_exact("error: command 'echo' doesn't support option --count")
    child.expect_exact("pyvirsh # ")
    child.sendline("echo still here")
    child.expect_exact("still here")
    child.expect_exact("pyvirsh # ")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_help_in_shell(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.sendline("help echo")
    child.expect_exact("echo - echo arguments. Used for internal testing.")
    child.expect_exact("SYNOPSIS")
    child.expect_exact("pyvirsh # ")
    child.sendline("help virsh")
    child.expect_exact(" Virsh itself (help keyword 'virsh'):")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_cd_and_pwd(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.sendline(f"cd {tmp_path}; pwd")
    child.expect_exact(str(tmp_path))
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_history_is_saved_and_recalled(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.sendline("echo remembered-line")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    history = tmp_path / "pyvirsh" / "history"
    assert "echo remembered-line" in history.read_text()
    # a new session recalls it with the up arrow
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.send("\x1b[A")  # up: the previous session's last line... which was "quit"
    child.send("\x1b[A")  # up again: the echo
    child.send("\r")
    child.expect_exact("remembered-line\r\n")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_complete_command_name(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.send("ech\t")
    child.expect_exact("echo ")
    child.send("done\r")
    child.expect_exact("done")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_complete_option(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.send("echo --sh\t")
    child.expect_exact("--shell ")
    child.send('"a b"\r')
    child.expect_exact("'a b'")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_complete_domain_name(tmp_path: Path) -> None:
    from pyvirt.virsh import registry

    # any registered command whose first positional option completes domain names
    cmd = next((c for c in registry.all_commands()
                if c.alias_of is None and c.opts and c.opts[0].completer == "domain"
                and c.opts[0].positional), None)
    if cmd is None:
        pytest.skip("no command with a domain completer is registered yet")
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.send(f"{cmd.name} te\t")
    child.expect_exact(f"{cmd.name} test ")
    child.send("\x03")  # abandon the line
    child.expect_exact("pyvirsh # ")
    child.send(f"{cmd.name} --{cmd.opts[0].name} \t")
    child.expect_exact(f"--{cmd.opts[0].name} test ")
    child.send("\x03")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_connect_readonly_changes_prompt(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-q")
    child.expect_exact("pyvirsh # ")
    child.sendline("connect test:///default --readonly")
    child.expect_exact("pyvirsh > ")
    child.sendline("connect test:///default")
    child.expect_exact("pyvirsh # ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
