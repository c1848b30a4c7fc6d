"""libvirt's domain XML corpora through scripts/xml_roundtrip.py (skipped without the
libvirt 9.0.0 source tree). Floors are the pass counts reached; they must not regress."""

from __future__ import annotations

import pytest

from libvirt_source import libvirt_tree, xml_roundtrip

FLOORS = {
    "genericxml2xml": (58, 58),
    "lxcxml2xml": (13, 12),  # filesystem-ram needs the LXC driver's accessmode default
    "qemuxml2xml-identity": (256, 256),
    # 17 files are not fixed points in libvirt either (controller order, verified with
    # libvirt 9.0's test driver)
    "qemuxml2xml-reparse": (621, 604),
}


HARNESS = xml_roundtrip()
SRC = libvirt_tree()


@pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source tree not available")
@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_corpus_floor(corpus: str) -> None:
    assert SRC is not None
    results = HARNESS.run(SRC, [corpus])
    passed, failed = results[corpus]
    total, floor = FLOORS[corpus]
    failures = [f"{n}: {why}" for c in HARNESS.CORPORA if c.name == corpus
                for n, ok, why in c.results if not ok]
    assert passed + failed == total
    assert passed >= floor, "\n".join(failures)


@pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source tree not available")
def test_generic_fail_cases_fail() -> None:
    """The 20 DO_TEST_FAIL_* inputs are rejected (and the other 38 accepted)."""
    assert SRC is not None
    cases = HARNESS.generic_cases(SRC)
    assert len(cases) == 58
    for case in cases:
        ok, why = case.run()
        assert ok, f"{case.name}: {why}"


def test_harness_cli_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    if SRC is None:
        pytest.skip("libvirt 9.0.0 source tree not available")
    assert HARNESS.main(["--libvirt-src", SRC, "--corpus", "genericxml2xml"]) == 0
    out = capsys.readouterr().out
    assert "genericxml2xml: 58 passed, 0 failed" in out
    assert "xml-roundtrip: 58 passed, 0 failed" in out
    assert HARNESS.main(["--libvirt-src", SRC, "--corpus", "genericxml2xml",
                         "--min-pass-rate", "1.0"]) == 0
