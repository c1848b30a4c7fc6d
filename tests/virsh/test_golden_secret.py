"""Golden tests for the "Secret" group: pyvirsh's stdout, stderr and exit status equal real
virsh 9.0's for the same command line on test:///default and on libvirt's testnode.xml.

libvirt 9.0's test driver has no secret driver, so beyond option handling, help texts and
event listing these cases check virsh's error paths (its fallbacks included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEFAULT = "test:///default"
DATA = Path(__file__).parent / "data" / "secret"
SECRET_XML = str(DATA / "secret.xml")
UUID = "11111111-2222-3333-4444-555555555555"

CASES: list[str] = [
    # listing (the test driver fails; virsh falls back to the old calls)
    "secret-list",
    "secret-list --ephemeral",
    "secret-list --no-ephemeral",
    "secret-list --private",
    "secret-list --no-private",
    "secret-list --ephemeral --no-private",
    "secret-list --bogus",
    "-q secret-list",
    # define / undefine / dumpxml
    f"secret-define {SECRET_XML}",
    f"secret-define {SECRET_XML} --validate",
    f"secret-define --file {SECRET_XML}",
    "secret-define /nonexistent/secret.xml",
    "secret-define",
    f"secret-undefine {UUID}",
    "secret-undefine nope",
    "secret-undefine",
    f"secret-dumpxml {UUID}",
    f"secret-dumpxml {UUID} --xpath //usage",
    "secret-dumpxml nope",
    "secret-dumpxml",
    # values
    f"secret-get-value {UUID}",
    f"secret-get-value {UUID} --plain",
    "secret-get-value nope",
    "secret-get-value",
    f"secret-set-value {UUID} --base64 YWJj",
    f"secret-set-value {UUID} --file /nonexistent/value --plain",
    f"secret-set-value {UUID}",
    "secret-set-value nope --base64 YWJj",
    f"secret-set-value {UUID} --base64 YWJj --file /x",
    f"secret-set-value {UUID} --base64 YWJj --plain",
    f"secret-set-value {UUID} --base64 YWJj --interactive",
    f"secret-set-value {UUID} --interactive --plain",
    f"secret-set-value {UUID} --interactive --file /x",
    f"secret-set-value {UUID} /x",
    # events
    "secret-event --list",
    "secret-event",
    "secret-event --event foo",
    "secret-event --event lifecycle --timeout 1",
    "secret-event --event value-changed --loop --timeout 1",
    f"secret-event --event lifecycle --secret {UUID} --timeout 1",
    "secret-event --event lifecycle --secret nope --timeout 1",
    "secret-event --event lifecycle --timeout 0",
    "secret-event --event lifecycle --timeout abc",
    # help texts
    "help secret",
    "help secret-define",
    "help secret-dumpxml",
    "help secret-event",
    "help secret-get-value",
    "help secret-list",
    "help secret-set-value",
    "help secret-undefine",
]


def _argv(uri: str, case: str) -> list[str]:
    if case.startswith("-q "):
        return ["-q", "-c", uri, case[3:]]
    return ["-c", uri, case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[:70])
@pytest.mark.parametrize("where", ["default", "testnode"])
def test_secret_matches_virsh(both, testnode_uri, where: str, case: str) -> None:
    uri = DEFAULT if where == "default" else testnode_uri
    ours, theirs = both(*_argv(uri, case))
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)
