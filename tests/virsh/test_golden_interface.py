"""Golden tests for the "Interface" group: pyvirsh's stdout, stderr and exit status equal real
virsh 9.0's for the same command line on test:///default and on libvirt's testnode.xml.

State changes are chained with ';' in one invocation (each process starts from the driver's
default state). Only editor temporary file names are normalised.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DEFAULT = "test:///default"
DATA = Path(__file__).parent / "data"
IFACE_XML = str(DATA / "interface" / "eth2.xml")
NOT_IFACE = str(DATA / "secret" / "secret.xml")
_TMPFILE = re.compile(r"/virsh[A-Za-z0-9_]{6,}\.xml")


def normalize(text: str) -> str:
    return _TMPFILE.sub("/virshXXXXXX.xml", text)


CASES: list[str] = [
    # listing
    "iface-list",
    "iface-list --all",
    "iface-list --inactive",
    "iface-list --all --inactive",
    "iface-list --bogus",
    "-q iface-list --all",
    # XML, by name and by MAC
    "iface-dumpxml eth1",
    "iface-dumpxml eth1 --inactive",
    "iface-dumpxml aa:bb:cc:dd:ee:ff",
    "iface-dumpxml AA:BB:CC:DD:EE:FF",
    "iface-dumpxml AA-BB-CC-DD-EE-FF",
    "iface-dumpxml --interface eth1 --xpath //mac",
    "iface-dumpxml eth1 --xpath //ip --wrap",
    "iface-dumpxml eth1 --xpath //nothing",
    "iface-dumpxml nope",
    "iface-dumpxml",
    # name <-> MAC
    "iface-mac eth1",
    "iface-mac lo",
    "iface-mac aa:bb:cc:dd:ee:ff",
    "iface-mac nope",
    "iface-name aa:bb:cc:dd:ee:ff",
    "iface-name a:b:c:d:e:f",
    "iface-name aa:bb:cc:dd:ee:fff",
    "iface-name 00:11:22:33:44:55",
    "iface-name eth1",
    "iface-name",
    # lifecycle (iface-destroy reports failure even when it worked, as virsh 9.0)
    f"iface-define {IFACE_XML}; iface-list --all; iface-start eth2; iface-list; "
    "iface-destroy eth2; iface-undefine eth2; iface-list --all",
    f"iface-define {IFACE_XML} --validate",
    f"iface-define --file {IFACE_XML}; iface-dumpxml eth2",
    f"iface-define {NOT_IFACE}",
    "iface-define /nonexistent/iface.xml",
    "iface-define",
    "iface-destroy eth1",
    "iface-destroy eth1; iface-list --all",
    "iface-destroy eth1; iface-destroy eth1",
    "iface-destroy nope",
    "iface-start eth1",
    "iface-destroy eth1; iface-start eth1; iface-list --all",
    "iface-start --interface nope",
    "iface-undefine eth1",
    "iface-destroy eth1; iface-undefine eth1; iface-list --all",
    "iface-undefine nope",
    "-q iface-destroy eth1",
    # transactions
    "iface-begin",
    "iface-begin; iface-begin",
    "iface-commit",
    "iface-rollback",
    "iface-begin; iface-commit; iface-commit",
    "iface-begin; iface-destroy eth1; iface-rollback; iface-list --all",
    "iface-begin; iface-destroy eth1; iface-undefine eth1; iface-commit; iface-list --all",
    "iface-begin extra",
    # bridges
    "iface-bridge eth1 br0",
    "iface-bridge eth1 br0; iface-list --all; iface-dumpxml br0; iface-unbridge br0; "
    "iface-list --all; iface-dumpxml eth1",
    "iface-bridge eth1 br0 --no-stp --no-start; iface-list --all; iface-dumpxml br0 --inactive",
    "iface-bridge eth1 br0 --delay 5; iface-dumpxml br0",
    "iface-bridge eth1 eth1",
    "iface-bridge eth1 lo",
    "iface-bridge nope br0",
    "iface-bridge aa:bb:cc:dd:ee:ff br0",
    "iface-bridge eth1 br0 --delay -1",
    "iface-bridge eth1 br0 --delay x",
    "iface-bridge eth1",
    "iface-bridge eth1 br0; iface-bridge br0 br1",
    "iface-unbridge eth1",
    "iface-unbridge nope",
    "iface-bridge eth1 br0 --no-start; iface-unbridge br0",
    "iface-bridge eth1 br0; iface-unbridge br0 --no-start; iface-list --all",
    # help texts
    "help interface",
    "help iface-begin",
    "help iface-bridge",
    "help iface-commit",
    "help iface-define",
    "help iface-destroy",
    "help iface-dumpxml",
    "help iface-edit",
    "help iface-list",
    "help iface-mac",
    "help iface-name",
    "help iface-rollback",
    "help iface-start",
    "help iface-unbridge",
    "help iface-undefine",
]


def _argv(uri: str, case: str) -> list[str]:
    if case.startswith("-q "):
        return ["-q", "-c", uri, case[3:]]
    return ["-c", uri, case]


@pytest.fixture(autouse=True)
def _no_visual(monkeypatch) -> None:
    # $VISUAL wins over $EDITOR in virsh; the edit tests choose the editor with $EDITOR
    monkeypatch.delenv("VISUAL", raising=False)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[:70])
@pytest.mark.parametrize("where", ["default", "testnode"])
def test_interface_matches_virsh(both, testnode_uri, where: str, case: str) -> None:
    uri = DEFAULT if where == "default" else testnode_uri
    ours, theirs = both(*_argv(uri, case))
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)


EDIT_CASES: list[tuple[str, str]] = [
    ("true", "iface-edit eth1"),
    ("false", "iface-edit eth1"),
    ("sed -i s/192.168.0.5/192.168.0.9/", "iface-edit eth1; iface-dumpxml eth1 --inactive"),
    ("sed -i s/eth1/eth3/", "iface-edit eth1; iface-list --all"),
    ("sed -i s/ethernet/bogus/", "iface-edit eth1"),
    ("true", "iface-edit nope"),
]


@pytest.mark.parametrize("editor,case", EDIT_CASES, ids=lambda c: str(c)[:50])
def test_interface_edit_matches_virsh(both, editor: str, case: str) -> None:
    ours, theirs = both("-c", DEFAULT, case, normalize=normalize, input="",
                        env={"EDITOR": editor})
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)
