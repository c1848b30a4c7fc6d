"""Suite-wide hooks. Loaded by the pytest-xdist controller too (it is the conftest of the
directory given on the command line), so summaries computed here see every worker's reports."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """The acceptance figure: how many golden comparisons match real virsh, and every known
    mismatch (xfail) with its reason."""
    stats = terminalreporter.stats
    golden = {key: [r for r in stats.get(key, []) if "test_golden_" in r.nodeid
                    and getattr(r, "when", "call") == "call"]
              for key in ("passed", "failed", "xfailed", "xpassed", "skipped")}
    total = sum(len(v) for v in golden.values())
    if not total:
        return
    tr = terminalreporter
    tr.section("pyvirsh golden comparison with virsh 9.0")
    tr.line(f"match: {len(golden['passed'])}   mismatch: {len(golden['failed'])}   "
            f"known mismatches (xfail): {len(golden['xfailed'])}   "
            f"skipped: {len(golden['skipped'])}")
    for rep in golden["xfailed"]:
        tr.line(f"  xfail {rep.nodeid.split('::', 1)[-1]}: {getattr(rep, 'wasxfail', '')}")
    for rep in golden["failed"]:
        tr.line(f"  FAIL  {rep.nodeid.split('::', 1)[-1]}")
