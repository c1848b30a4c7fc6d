#!/usr/bin/env python3
"""Compare pyvirt's QEMU command lines with libvirt 9.0.0's own qemuxml2argv corpus.

For every ``tests/qemuxml2argvdata/*.x86_64-latest.args`` of the libvirt source tree (fetched
by scripts/xml_roundtrip.py into the cache), build pyvirt's argv for the matching ``.xml``
with the capabilities and launch context the unit tests use (their normalisation of what
legitimately differs: fd-passed sockets, the test suite's qemu.conf, mocked host devices), and
compare semantically: the same options with the same values, JSON values compared as objects
(key order ignored), options compared as a multiset where QEMU does not care about order.

Inputs with devices the driver does not claim to support are reported as refused (pyvirt
raises VIR_ERR_CONFIG_UNSUPPORTED for them). Prints ``N passed, M failed`` (and the refused
count); ``--list`` names every failing case. Exit status 1 when fewer than ``--min-pass``
cases pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests", "unit", "drivers", "qemu", "test_command.py")


def _load_cases() -> object:
    sys.path.insert(0, os.path.join(ROOT, "src"))
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    spec = importlib.util.spec_from_file_location("qemu_test_command", TESTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _canonical(value: str) -> object:
    if value.startswith("{"):
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def semantic(args: list[str]) -> Counter[tuple[str, object]]:
    """(option, canonical value) pairs as a multiset; argv[0] (the binary) dropped."""
    pairs: Counter[tuple[str, object]] = Counter()
    i = 1
    while i < len(args):
        opt = args[i]
        if i + 1 < len(args) and not args[i + 1].startswith("-"):
            pairs[(opt, _canonical(args[i + 1]))] += 1
            i += 2
        else:
            pairs[(opt, None)] += 1
            i += 1
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="name every failing case")
    ap.add_argument("--min-pass", type=int, default=0)
    opts = ap.parse_args()
    cases = _load_cases()
    argv_data = getattr(cases, "ARGV_DATA", "")
    if not argv_data or not os.path.isdir(argv_data):
        print("qemu-argv-corpus: libvirt source tree not found (run scripts/xml_roundtrip.py)")
        return 1
    import pyvirt

    names = sorted(f[:-len(".x86_64-latest.args")] for f in os.listdir(argv_data)
                   if f.endswith(".x86_64-latest.args"))
    passed, failed, refused = [], [], []
    for name in names:
        try:
            mine, theirs = cases._golden_case(name)  # type: ignore[attr-defined]
        except pyvirt.libvirtError as exc:
            refused.append((name, str(exc)))
            continue
        except Exception as exc:  # a crash is a failure, not a refusal
            failed.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        if mine == theirs or semantic(mine) == semantic(theirs):
            passed.append(name)
        else:
            extra = semantic(mine) - semantic(theirs)
            missing = semantic(theirs) - semantic(mine)
            failed.append((name, f"extra {sorted(extra)[:2]} missing {sorted(missing)[:2]}"))
    if opts.list:
        for name, why in failed:
            print(f"FAIL {name}: {why}")
    print(f"qemu-argv-corpus: {len(passed)} passed, {len(failed)} failed "
          f"({len(refused)} refused as unsupported, of {len(names)} x86_64-latest cases)")
    return 0 if len(passed) >= opts.min_pass else 1


if __name__ == "__main__":
    sys.exit(main())
