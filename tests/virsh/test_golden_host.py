"""Golden tests for the "Host and Hypervisor" group: pyvirsh's stdout, stderr and exit status
equal real virsh 9.0's for the same command line on test:///default and on libvirt's
testnode.xml. Nothing here is volatile (the test driver's node facts are fixed), so nothing
is normalised. ``--json`` (our addition) is checked against the documented keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_support import expect_mismatch

DEFAULT = "test:///default"

# {tmp} is replaced by the test's tmp_path, where the input files below are written.
FILES = {
    "cpu.xml": "<cpu><model>Haswell</model></cpu>\n",
    "domain.xml": "<domain type='test'><name>x</name><cpu><model>Haswell</model></cpu>"
                  "</domain>\n",
    "nocpu.xml": "<network><name>n</name></network>\n",
}

CASES: list[str] = [
    "version",
    "version --daemon",
    "hostname",
    "uri",
    "sysinfo",
    "capabilities",
    "nodeinfo",
    "nodememstats",
    "nodememstats --cell 0",
    "nodememstats --cell x",
    "nodecpustats",
    "nodecpustats --cpu 0",
    "nodecpustats --cpu abc",
    "nodecpustats --percent",
    "nodecpustats --cpu -5",
    "nodememstats --cell -2",
    "freecell --cellno -1",
    "nodecpumap",
    "nodecpumap --pretty",
    "freecell",
    "freecell --all",
    "freecell --cellno 0",
    "freecell --cellno 1",
    "freecell --cellno 5",
    "freecell --all --cellno 0",
    "freecell 1",
    "-q freecell --all",
    "-q version",
    "-q cpu-models x86_64",
    "-q nodeinfo",
    "freepages --all",
    "freepages --cellno 1 --pagesize 2M",
    "freepages --cellno 0 --pagesize 4",
    "freepages --cellno 0",
    "freepages --pagesize 4",
    "freepages --cellno -2 --pagesize 4",
    "allocpages 4 10",
    "maxvcpus",
    "maxvcpus --type test",
    "cpu-models x86_64",
    "cpu-models i686",
    "cpu-models foo",
    "cpu-models",
    "domcapabilities",
    "domcapabilities --virttype kvm --arch x86_64",
    "node-memory-tune",
    "node-memory-tune --shm-pages-to-scan 10",
    "node-memory-tune --shm-pages-to-scan -1",
    "nodesuspend mem 60",
    "nodesuspend frob 60",
    "nodesuspend mem -5",
    "nodesuspend mem",
    "nodesevinfo",
    "cpu-compare {tmp}/cpu.xml",
    "cpu-compare {tmp}/domain.xml --error",
    "cpu-compare {tmp}/nocpu.xml",
    "cpu-compare {tmp}/missing.xml",
    "cpu-baseline {tmp}/cpu.xml",
    "cpu-baseline {tmp}/nocpu.xml",
    "hypervisor-cpu-compare {tmp}/cpu.xml",
    "hypervisor-cpu-baseline {tmp}/cpu.xml",
    "hypervisor-cpu-baseline --model Haswell",
    "hypervisor-cpu-baseline",
    "hypervisor-cpu-baseline --model a --file {tmp}/cpu.xml",
    "uri; hostname; nodeinfo",
    "-r nodesuspend mem 60",
    "-r allocpages 4 10",
    "-r node-memory-tune --shm-pages-to-scan 5",
    "-r nodeinfo",
]

# Mismatches left, with their reason ("where:case" limits one to one connection).
XFAIL: dict[str, str] = {
    "default:freepages --all": "libvirt-python's getFreePages() returns {} for the test "
                               "driver (its virNodeGetFreePages returns 0 entries), so the "
                               "counts virsh reads through the C API are not reachable "
                               "through the Python API",
    "freepages --cellno 0 --pagesize 4": "same getFreePages() limitation as freepages --all",
    "freepages --cellno 1 --pagesize 2M": "same getFreePages() limitation as freepages --all",
}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _argv(uri: str, case: str) -> list[str]:
    if case.startswith(("-q ", "-r ")):  # quiet / read-only connection
        return [case[:2], "-c", uri, case[3:]]
    return ["-c", uri, case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[:70])
@pytest.mark.parametrize("where", ["default", "testnode"])
def test_host_matches_virsh(both, testnode_uri, inputs: Path, where: str, case: str) -> None:
    uri = DEFAULT if where == "default" else testnode_uri
    reason = XFAIL.get(case) or XFAIL.get(f"{where}:{case}")
    with expect_mismatch(reason):
        line = case.replace("{tmp}", str(inputs))
        ours, theirs = both(*_argv(uri, line))
        assert (ours.stdout, ours.stderr, ours.status) == (
            theirs.stdout, theirs.stderr, theirs.status)


def _json(pyvirsh, *args: str) -> object:
    res = pyvirsh("-q", "-c", DEFAULT, *args)
    assert res.status == 0, res.stderr
    return json.loads(res.stdout)


def test_nodeinfo_json(pyvirsh) -> None:
    assert _json(pyvirsh, "nodeinfo", "--json") == {
        "model": "i686", "cpus": 16, "mhz": 1400, "sockets": 2, "cores": 2, "threads": 2,
        "nodes": 2, "memory_kib": 3145728,
    }


def test_freecell_json(pyvirsh) -> None:
    assert _json(pyvirsh, "freecell", "--json") == {"total_kib": 3072}
    assert _json(pyvirsh, "freecell", "--all", "--json") == {
        "cells": [{"cell": 0, "free_kib": 2048}, {"cell": 1, "free_kib": 4096}],
        "total_kib": 6144,
    }
    assert _json(pyvirsh, "freecell", "--cellno", "1", "--json") == {
        "cells": [{"cell": 1, "free_kib": 4096}], "total_kib": 4096,
    }


def test_nodecpustats_json(pyvirsh) -> None:
    assert _json(pyvirsh, "nodecpustats", "--json") == {
        "user": 9797400000, "system": 34678723400000, "idle": 87264900000,
        "iowait": 763600000,
    }
    # the test driver's counters stand still: every share is undefined
    assert _json(pyvirsh, "nodecpustats", "--percent", "--json") == {
        "usage": None, "user": None, "system": None, "idle": None, "iowait": None,
    }


def test_nodememstats_json_reports_driver_error(pyvirsh) -> None:
    res = pyvirsh("-c", DEFAULT, "nodememstats --json")
    assert res.status == 1
    assert res.stderr == (
        "error: Unable to get number of memory stats\n"
        "error: this function is not supported by the connection driver: "
        "virNodeGetMemoryStats\n")


def test_bitmap_ranges() -> None:
    from pyvirt.virsh.commands.host import _bitmap_ranges

    assert _bitmap_ranges([True, True, True, False, True, False, True, True]) == "0-2,4,6-7"
    assert _bitmap_ranges([False, False]) == ""


# ---- help texts: option tables and descriptions as virsh's (our --json lines removed) -------

HOST_COMMANDS = [
    "allocpages", "capabilities", "cpu-baseline", "cpu-compare", "cpu-models",
    "domcapabilities", "freecell", "freepages", "hostname", "hypervisor-cpu-baseline",
    "hypervisor-cpu-compare", "maxvcpus", "node-memory-tune", "nodecpumap", "nodecpustats",
    "nodeinfo", "nodememstats", "nodesevinfo", "nodesuspend", "sysinfo", "uri", "version",
]


def strip_json_option(text: str) -> str:
    """Our help minus the --json option pyvirsh adds (and an OPTIONS block left empty)."""
    text = text.replace(" [--json]", "").replace("    --json           print JSON\n", "")
    return text.replace("\n  OPTIONS\n\n", "\n")


@pytest.mark.parametrize("name", [*HOST_COMMANDS, "host"])
def test_host_help_matches_virsh(pyvirsh, real_virsh, name: str) -> None:
    ours, theirs = pyvirsh("help", name), real_virsh("help", name)
    assert (strip_json_option(ours.stdout), ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)


# ---- layouts the test driver cannot show: a stand-in connection ----------------------------

class _FakeHostConn:
    """Just the node calls the commands below make, with figures a real host might give."""

    def __init__(self, cpu_samples: list[dict[str, int]] | None = None) -> None:
        self.cpu_samples = list(cpu_samples or [])

    def isAlive(self) -> int:  # noqa: N802 - libvirt's name
        return 1

    def getMemoryStats(self, cell: int, flags: int = 0) -> dict[str, int]:  # noqa: N802
        return {"total": 16314512, "free": 9143108, "buffers": 421244, "cached": 3855240}

    def getMemoryParameters(self, flags: int = 0) -> dict[str, int]:  # noqa: N802
        return {"shm_pages_to_scan": 100, "shm_sleep_millisecs": 20, "shm_pages_shared": 0,
                "shm_merge_across_nodes": 1}

    def getCPUStats(self, cpu: int, flags: int = 0) -> dict[str, int]:  # noqa: N802
        return self.cpu_samples.pop(0)

    def getType(self) -> str:  # noqa: N802
        return "QEMU"

    def getVersion(self) -> int:  # noqa: N802
        return 0

    def getSEVInfo(self, flags: int = 0) -> dict[str, object]:  # noqa: N802
        return {"pdh": "AAAA", "cbitpos": 47, "reduced-phys-bits": 1}


def _run_fake(conn: object, line: str) -> tuple[bool, str, str]:
    import io

    from pyvirt.virsh import parser
    from pyvirt.virsh.ctl import Ctl
    from pyvirt.virsh.main import run_commands

    out, err = io.StringIO(), io.StringIO()
    ctl = Ctl(uri="fake:///", stdout=out, stderr=err)
    ctl._conn = conn  # type: ignore[assignment]
    ok = run_commands(ctl, parser.parse_string(line))
    return ok, out.getvalue(), err.getvalue()


def test_nodememstats_layout() -> None:
    ok, out, err = _run_fake(_FakeHostConn(), "nodememstats")
    assert ok and not err
    assert out == ("total  :             16314512 KiB\n"
                   "free   :              9143108 KiB\n"
                   "buffers:               421244 KiB\n"
                   "cached :              3855240 KiB\n\n")


def test_node_memory_tune_layout() -> None:
    ok, out, err = _run_fake(_FakeHostConn(), "node-memory-tune")
    assert ok and not err
    assert out == ("Shared memory:\n"
                   "\tshm_pages_to_scan 100\n"
                   "\tshm_sleep_millisecs 20\n"
                   "\tshm_pages_shared 0\n"
                   "\tshm_merge_across_nodes 1\n\n")


def test_nodesevinfo_layout() -> None:
    ok, out, _err = _run_fake(_FakeHostConn(), "nodesevinfo")
    assert ok
    assert out == ("pdh               : AAAA\n"
                   "cbitpos           : 47\n"
                   "reduced-phys-bits : 1\n\n")


def test_nodecpustats_percent_from_two_samples(monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    first = {"user": 1000, "kernel": 500, "idle": 8000, "iowait": 500}
    second = {"user": 1300, "kernel": 600, "idle": 8550, "iowait": 550}
    ok, out, _err = _run_fake(_FakeHostConn([first, second]), "nodecpustats --percent")
    assert ok
    # deltas: user 300, system 100, idle 550, iowait 50 over 1000
    # virsh's "%-15s %5.1lf%%"
    assert out == "".join(f"{label:<15s} {pct:5.1f}%\n" for label, pct in (
        ("usage:", 40.0), ("user:", 30.0), ("system:", 10.0), ("idle:", 55.0),
        ("iowait:", 5.0))) + "\n"


def test_nodecpustats_percent_with_utilization() -> None:
    ok, out, _err = _run_fake(_FakeHostConn([{"utilization": 37}]), "nodecpustats --percent")
    assert ok
    assert out == "usage:             37%\nidle:              63%\n\n"


def test_version_without_hypervisor_version() -> None:
    ok, out, _err = _run_fake(_FakeHostConn(), "version")
    assert ok
    assert out.splitlines()[2:4] == ["Using API: QEMU 9.0.0",
                                     "Cannot extract running QEMU hypervisor version"]
