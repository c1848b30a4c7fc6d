#!/usr/bin/env python3
"""Round-trip libvirt 9.0.0's XML test corpora through pyvirt's conf models.

    scripts/xml_roundtrip.py [--libvirt-src DIR] [--corpus NAME ...] [-v] [--min-pass-rate R]

For each corpus it prints ``<corpus>: N passed, M failed`` and then the overall line
``xml-roundtrip: N passed, M failed``; ``-v`` adds one line per failure with its cause.
Cases are paired exactly as libvirt's C tests pair them (see
/work/shared/reference/libvirt-test-corpora.md): parse, format, exact string compare against
the expected file; ``*FAIL*``/``PARSE_ERROR`` cases pass when parsing fails.

It is a measuring tool: exit status 0 unless the harness itself breaks, or the overall pass
rate is below ``--min-pass-rate``.

The libvirt source tree comes from --libvirt-src, $PYVIRT_LIBVIRT_SRC, or the cache
~/.cache/pyvirt/libvirt-src (fetched with ``apt-get source`` when missing).
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

CACHE_DIR = os.path.expanduser("~/.cache/pyvirt/libvirt-src")
DEB_SRC_LIST = "/etc/apt/sources.list.d/pyvirt-deb-src.list"


# ---- locating the libvirt source tree ------------------------------------------------------


def _is_tree(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "tests", "genericxml2xmltest.c"))


def _tree_under(path: str) -> str | None:
    """``path`` itself or a single unpacked ``libvirt-*`` directory / ``src`` inside it."""
    if not path or not os.path.isdir(path):
        return None
    if _is_tree(path):
        return path
    for sub in sorted(glob.glob(os.path.join(path, "*"))):
        if os.path.isdir(sub) and _is_tree(sub):
            return sub
    return None


def ensure_deb_src() -> None:
    """Enable deb-src entries for the configured Debian suites (needs root), then update."""
    have = subprocess.run(["apt-get", "indextargets", "--format", "$(CREATED_BY)"],
                          capture_output=True, text=True, check=False).stdout
    if "Sources" in have:
        return
    suites: list[str] = []
    for path in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*.list")]:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("deb "):
                        suites.append("deb-src " + line[4:].strip())
        except OSError:
            pass
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with open(path) as fh:
            text = fh.read()
        for block in text.split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
            if fields.get("Types", "").strip() == "deb":
                uri = fields.get("URIs", "").strip()
                comps = fields.get("Components", "").strip()
                for suite in fields.get("Suites", "").split():
                    suites.append(f"deb-src {uri} {suite} {comps}")
    if not suites:
        suites = ["deb-src http://deb.debian.org/debian bookworm main"]
    with open(DEB_SRC_LIST, "w") as fh:
        fh.write("\n".join(dict.fromkeys(suites)) + "\n")
    subprocess.run(["apt-get", "update"], check=True)


def fetch_source(cache: str = CACHE_DIR) -> str:
    """Download and unpack Debian's libvirt source package into ``cache``."""
    os.makedirs(cache, exist_ok=True)
    ensure_deb_src()
    subprocess.run(["apt-get", "source", "--download-only", "libvirt"], cwd=cache, check=True,
                   stdout=sys.stderr)
    dscs = sorted(glob.glob(os.path.join(cache, "libvirt_*.dsc")))
    if not dscs:
        raise SystemExit("xml_roundtrip: apt-get source produced no .dsc")
    target = os.path.join(cache, "libvirt")
    subprocess.run(["dpkg-source", "-x", dscs[-1], target], cwd=cache, check=True,
                   stdout=sys.stderr)
    return target


def find_source(explicit: str | None, allow_fetch: bool = True) -> str:
    for cand in (explicit, os.environ.get("PYVIRT_LIBVIRT_SRC"), CACHE_DIR):
        tree = _tree_under(cand) if cand else None
        if tree:
            return tree
    if explicit:
        raise SystemExit(f"xml_roundtrip: no libvirt source tree at {explicit}")
    if not allow_fetch:
        raise SystemExit("xml_roundtrip: libvirt source tree not found")
    tree = _tree_under(fetch_source())
    if tree is None:
        raise SystemExit("xml_roundtrip: unpacked source has no tests/ directory")
    return tree


# ---- cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    run: Callable[[], tuple[bool, str]]


@dataclass
class Corpus:
    name: str
    cases: Callable[[str], list[Case]]
    note: str = ""
    results: list[tuple[str, bool, str]] = field(default_factory=list)


def macro_calls(path: str) -> Iterator[tuple[str, list[str]]]:
    """Each ``DO_TEST*(...)`` invocation in a C test file: (macro, [arguments])."""
    with open(path) as fh:
        text = fh.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    for m in re.finditer(r"^(?!\s*#)\s*(DO_TEST\w*)\(([^;()]*)\)\s*;", text, flags=re.M | re.S):
        args = [a.strip() for a in m.group(2).replace("\n", " ").split(",")]
        yield m.group(1), args


def _unquote(arg: str) -> str:
    return arg.strip().strip('"')


def load_expected(path: str) -> str:
    with open(path) as fh:
        return fh.read().replace("\\\n", "")


def compare(actual: str, expected_path: str) -> tuple[bool, str]:
    expected = load_expected(expected_path)
    if expected.endswith("\n") and not actual.endswith("\n"):
        actual += "\n"
    if actual == expected:
        return True, ""
    exp_lines, act_lines = expected.splitlines(), actual.splitlines()
    for i, (e, a) in enumerate(zip(exp_lines, act_lines, strict=False)):
        if e != a:
            return False, f"line {i + 1}: expected {e.strip()!r}, got {a.strip()!r}"
    return False, f"length differs: expected {len(exp_lines)} lines, got {len(act_lines)}"


def _model(module: str, attr: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelMissing(f"model not available: {module}.{attr} ({exc})") from exc


class ModelMissing(Exception):
    pass


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def domain_case(name: str, infile: str, outfile: str | None, live: bool,
                expect_fail: bool) -> Case:
    def run() -> tuple[bool, str]:
        domain_def = _model("pyvirt.conf.domain", "DomainDef")
        with open(infile) as fh:
            text = fh.read()
        try:
            d = domain_def.from_xml(text, inactive=not live)
        except Exception as exc:  # noqa: BLE001 - any failure is a measured result
            if expect_fail:
                return True, ""
            return False, f"parse failed: {_error_text(exc)}"
        if expect_fail:
            return False, "parse succeeded, expected failure"
        actual = d.to_xml(inactive=not live, secure=True)
        assert outfile is not None
        return compare(actual, outfile)

    return Case(name, run)


def generic_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    out = []
    for macro, args in macro_calls(os.path.join(t, "genericxml2xmltest.c")):
        if macro.startswith("DO_TEST_BACKUP") or macro == "DO_TEST_FULL":
            continue
        name = _unquote(args[0])
        infile = os.path.join(t, "genericxml2xmlindata", f"{name}.xml")
        if macro == "DO_TEST":
            out.append(domain_case(name, infile, infile, True, False))
        elif macro == "DO_TEST_DIFFERENT":
            out.append(domain_case(name, infile,
                                   os.path.join(t, "genericxml2xmloutdata", f"{name}.xml"),
                                   True, False))
        elif macro == "DO_TEST_FAIL_ACTIVE":
            out.append(domain_case(name, infile, None, True, True))
        elif macro == "DO_TEST_FAIL_INACTIVE":
            out.append(domain_case(name, infile, None, False, True))
    return out


def lxc_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    out = []
    for macro, args in macro_calls(os.path.join(t, "lxcxml2xmltest.c")):
        if macro not in ("DO_TEST", "DO_TEST_DIFFERENT"):
            continue
        name = _unquote(args[0])
        infile = os.path.join(t, "lxcxml2xmldata", f"lxc-{name}.xml")
        outfile = infile if macro == "DO_TEST" else os.path.join(
            t, "lxcxml2xmloutdata", f"lxc-{name}.xml")
        out.append(domain_case(name, infile, outfile, True, False))
    return out


def qemu_identity_cases(src: str) -> list[Case]:
    """qemuxml2xml cases whose expected output is the input itself (symlinks into
    qemuxml2argvdata), in both the inactive and active runs. Extra coverage only: the QEMU
    driver's post-parse (PCI addresses, default devices) is not applied."""
    t = os.path.join(src, "tests")
    outdir = os.path.join(t, "qemuxml2xmloutdata")
    out = []
    for path in sorted(glob.glob(os.path.join(outdir, "*.xml"))):
        if not os.path.islink(path):
            continue
        target = os.path.realpath(path)
        if os.path.basename(os.path.dirname(target)) != "qemuxml2argvdata":
            continue
        base = os.path.basename(path)[:-4]
        if base.endswith("-active") or base.endswith("-inactive"):
            continue
        for live in (False, True):
            mode = "active" if live else "inactive"
            out.append(domain_case(f"{base}-{mode}", target, target, live, False))
    return out


def qemu_reparse_cases(src: str) -> list[Case]:
    """Every qemuxml2xmloutdata file parsed and formatted again must come back unchanged
    (libvirt's canonical output is a fixed point). Extra coverage; a few files are not fixed
    points in libvirt either (controller order chosen by the QEMU driver)."""
    outdir = os.path.join(src, "tests", "qemuxml2xmloutdata")
    out = []
    for path in sorted(glob.glob(os.path.join(outdir, "*.xml"))):
        base = os.path.basename(path)[:-4]
        live = "-inactive" not in base
        out.append(domain_case(base, path, path, live, False))
    return out


def network_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    out = []
    for macro, args in macro_calls(os.path.join(t, "networkxml2xmltest.c")):
        name = _unquote(args[0])
        infile = os.path.join(t, "networkxml2xmlin", f"{name}.xml")
        outfile = os.path.join(t, "networkxml2xmlout", f"{name}.xml")
        if macro == "DO_TEST":
            out.append(_network_case(name, infile, outfile, False, False))
        elif macro == "DO_TEST_FLAGS":
            out.append(_network_case(name, infile, outfile, "INACTIVE" in args[1], False))
        elif macro == "DO_TEST_PARSE_ERROR":
            out.append(_network_case(name, infile, None, False, True))
    return out


def _network_case(name: str, infile: str, outfile: str | None, inactive: bool,
                  expect_fail: bool) -> Case:
    def run() -> tuple[bool, str]:
        network_def = _model("pyvirt.conf.network", "NetworkDef")
        with open(infile) as fh:
            text = fh.read()
        try:
            net = network_def.from_xml(text)
        except Exception as exc:  # noqa: BLE001
            return (True, "") if expect_fail else (False, f"parse failed: {_error_text(exc)}")
        if expect_fail:
            return False, "parse succeeded, expected failure"
        assert outfile is not None
        return compare(net.to_xml(inactive=inactive), outfile)

    return Case(name, run)


def pool_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    out = []
    for macro, args in macro_calls(os.path.join(t, "storagepoolxml2xmltest.c")):
        if macro != "DO_TEST":
            continue
        name = _unquote(args[0])
        infile = os.path.join(t, "storagepoolxml2xmlin", f"{name}.xml")
        outfile = os.path.join(t, "storagepoolxml2xmlout", f"{name}.xml")

        def run(infile: str = infile, outfile: str = outfile) -> tuple[bool, str]:
            pool_def = _model("pyvirt.conf.storage", "PoolDef")
            with open(infile) as fh:
                text = fh.read()
            try:
                pool = pool_def.from_xml(text)
            except Exception as exc:  # noqa: BLE001
                return False, f"parse failed: {_error_text(exc)}"
            return compare(pool.to_xml(), outfile)

        out.append(Case(name, run))
    return out


def volume_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    out = []
    for macro, args in macro_calls(os.path.join(t, "storagevolxml2xmltest.c")):
        if macro not in ("DO_TEST", "DO_TEST_FULL"):
            continue
        pool_name, name = _unquote(args[0]), _unquote(args[1])
        no_capacity = macro == "DO_TEST_FULL" and "NO_CAPACITY" in args[2]
        poolfile = os.path.join(t, "storagepoolxml2xmlin", f"{pool_name}.xml")
        infile = os.path.join(t, "storagevolxml2xmlin", f"{name}.xml")
        outfile = os.path.join(t, "storagevolxml2xmlout", f"{name}.xml")

        def run(poolfile: str = poolfile, infile: str = infile, outfile: str = outfile,
                no_capacity: bool = no_capacity) -> tuple[bool, str]:
            pool_def = _model("pyvirt.conf.storage", "PoolDef")
            volume_def = _model("pyvirt.conf.storage", "VolumeDef")
            with open(poolfile) as fh:
                pool = pool_def.from_xml(fh.read())
            with open(infile) as fh:
                text = fh.read()
            try:
                vol = volume_def.from_xml(text, pool=pool, no_capacity=no_capacity)
            except Exception as exc:  # noqa: BLE001
                return False, f"parse failed: {_error_text(exc)}"
            return compare(vol.to_xml(pool), outfile)

        out.append(Case(f"{pool_name}/{name}", run))
    return out


# ---- capabilities, domain capabilities, moments, secrets, interfaces, node devices --------
# (conf.capabilities/domcaps/snapshot/checkpoint/secret/interface/nodedev; pairings as in
# vircaps2xmltest.c, domaincapstest.c, qemudomainsnapshotxml2xmltest.c,
# qemudomaincheckpointxml2xmltest.c, secretxml2xmltest.c, interfacexml2xmltest.c and
# nodedevxml2xmltest.c)


def _reformat_case(name: str, infile: str, outfile: str, module: str, cls: str,
                   fix: Callable[[Any], None] | None = None,
                   fmt: Callable[[Any], str] | None = None, **parse: Any) -> Case:
    def run() -> tuple[bool, str]:
        model = _model(module, cls)
        with open(infile) as fh:
            text = fh.read()
        try:
            obj = model.from_xml(text, **parse)
        except Exception as exc:  # noqa: BLE001
            return False, f"parse failed: {_error_text(exc)}"
        if fix is not None:
            fix(obj)
        return compare(fmt(obj) if fmt else obj.to_xml(), outfile)
    return Case(name, run)


def _files_cases(subdir: str, module: str, cls: str) -> Callable[[str], list[Case]]:
    """Formatter-output corpora: each file parses and prints back identically."""
    def cases(src: str) -> list[Case]:
        paths = sorted(glob.glob(os.path.join(src, "tests", subdir, "*.xml")))
        return [_reformat_case(os.path.basename(p)[:-4], p, p, module, cls) for p in paths]
    return cases


def _named_cases(test_c: str, indir: str, outdir: str, module: str,
                 cls: str) -> Callable[[str], list[Case]]:
    """DO_TEST(name) corpora: indir/name.xml -> outdir/name.xml."""
    def cases(src: str) -> list[Case]:
        t = os.path.join(src, "tests")
        out = []
        for macro, args in macro_calls(os.path.join(t, test_c)):
            if macro == "DO_TEST":
                name = _unquote(args[0])
                fix = _nodedev_fix if cls == "NodeDeviceDef" else None
                out.append(_reformat_case(name, os.path.join(t, indir, f"{name}.xml"),
                                          os.path.join(t, outdir, f"{name}.xml"), module, cls,
                                          fix))
        return out
    return cases


def _nodedev_fix(dev: Any) -> None:
    # nodedevxml2xmltest.c computes these storage fields before formatting.
    for cap in dev.caps:
        if getattr(cap, "type", "") == "storage":
            if not cap.removable:
                cap.logical_block_size, cap.num_blocks = 512, cap.size // 512
            elif cap.media_available:
                cap.logical_block_size, cap.num_blocks = 2048, cap.media_size // 2048


def snapshot_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    din, dout = (os.path.join(t, d) for d in ("qemudomainsnapshotxml2xmlin",
                                               "qemudomainsnapshotxml2xmlout"))
    out = []
    for macro, args in macro_calls(os.path.join(t, "qemudomainsnapshotxml2xmltest.c")):
        name = _unquote(args[0])
        uuid = None if args[1] == "NULL" else _unquote(args[1])
        if macro == "DO_TEST_OUT":
            indir, outdir, mocktime, flags = dout, dout, 0, args[2] + "|REDEFINE"
        elif macro == "DO_TEST_INOUT":
            indir, outdir, mocktime, flags = din, dout, int(args[2]), args[3]
        elif macro == "DO_TEST_IN":
            indir, outdir, mocktime, flags = din, din, 0, ""
        else:
            continue
        internal, running = "INTERNAL" in flags, "RUNNING" in flags

        def fix(snap: Any, reset: bool = not mocktime and "REDEFINE" not in flags,
                running: bool = running) -> None:
            if reset:
                # libvirt's test post-parse hook sets no time (nor name) when given none.
                snap.creation_time = 0
                if snap.name and snap.name.isdigit():
                    snap.name = None
            if running:
                snap.state = "running"

        def fmt_snap(s: Any, i: Any = internal, u: Any = uuid) -> str:
            return str(s.to_xml(secure=True, internal=i, domain_uuid=u))

        out.append(_reformat_case(
            f"{name} ({os.path.basename(indir)[-2:]})", os.path.join(indir, f"{name}.xml"),
            os.path.join(outdir, f"{name}.xml"), "pyvirt.conf.snapshot", "SnapshotDef", fix,
            fmt_snap,
            redefine="REDEFINE" in flags, internal=internal, now=mocktime or None))
    return out


def checkpoint_cases(src: str) -> list[Case]:
    t = os.path.join(src, "tests")
    din, dout = (os.path.join(t, d) for d in ("qemudomaincheckpointxml2xmlin",
                                               "qemudomaincheckpointxml2xmlout"))
    out = []
    for macro, args in macro_calls(os.path.join(t, "qemudomaincheckpointxml2xmltest.c")):
        name = _unquote(args[0])
        if macro == "DO_TEST_INVALID":
            def run(infile: str = os.path.join(din, f"{name}.xml")) -> tuple[bool, str]:
                model = _model("pyvirt.conf.checkpoint", "CheckpointDef")
                try:
                    model.from_xml(open(infile).read())
                except Exception:  # noqa: BLE001
                    return True, ""
                return False, "parse succeeded, expected failure"
            out.append(Case(f"{name} (invalid)", run))
            continue
        if macro == "DO_TEST_OUT":
            indir, mocktime, flags = dout, 0, args[1] + "|REDEFINE"
        elif macro == "DO_TEST_INOUT":
            indir, mocktime, flags = din, int(args[1]), args[2]
        else:
            continue

        def fix(chk: Any, flags: str = flags) -> None:
            if "PARENT" in flags:
                chk.parent = "1525111885"
            if "VDA_BITMAP" in flags:
                disk_cls = _model("pyvirt.conf.checkpoint", "CheckpointDiskDef")
                if not chk.disks:
                    chk.disks.append(disk_cls(name="vda"))
                chk.disks[0].bitmap = chk.name
            if "SIZE" in flags:
                chk.disks[0].size = 1048576

        def fmt_chk(ch: Any, f: str = flags) -> str:
            return str(ch.to_xml(secure=True, size="SIZE" in f))

        out.append(_reformat_case(
            name, os.path.join(indir, f"{name}.xml"), os.path.join(dout, f"{name}.xml"),
            "pyvirt.conf.checkpoint", "CheckpointDef", fix, fmt_chk,
            redefine="REDEFINE" in flags, now=mocktime))
    return out


HOST_CORPORA: list[Corpus] = [
    Corpus("vircaps2xml", _files_cases("vircaps2xmldata", "pyvirt.conf.capabilities",
                                       "Capabilities"),
           note="formatter output read back and printed (the C test builds caps from sysfs)"),
    Corpus("domaincaps", _files_cases("domaincapsdata", "pyvirt.conf.domcaps",
                                      "DomainCapabilities"),
           note="format only: formatter output read back and printed"),
    Corpus("domainsnapshotxml2xml", snapshot_cases),
    Corpus("domaincheckpointxml2xml", checkpoint_cases),
    Corpus("secretxml2xml", _named_cases("secretxml2xmltest.c", "secretxml2xmlin",
                                         "secretxml2xmlin", "pyvirt.conf.secret", "SecretDef")),
    Corpus("interfacexml2xml", _named_cases("interfacexml2xmltest.c", "interfaceschemadata",
                                            "interfaceschemadata", "pyvirt.conf.interface",
                                            "InterfaceDef")),
    Corpus("nodedevxml2xml", _named_cases("nodedevxml2xmltest.c", "nodedevschemadata",
                                          "nodedevxml2xmlout", "pyvirt.conf.nodedev",
                                          "NodeDeviceDef")),
]


# The acceptance corpora first; "qemuxml2xml-identity" is extra coverage, reported apart.
CORPORA: list[Corpus] = [
    Corpus("genericxml2xml", generic_cases),
    Corpus("lxcxml2xml", lxc_cases),
    Corpus("networkxml2xml", network_cases),
    Corpus("storagepoolxml2xml", pool_cases),
    Corpus("storagevolxml2xml", volume_cases),
    *HOST_CORPORA,
    Corpus("qemuxml2xml-identity", qemu_identity_cases,
           note="extra coverage: qemuxml2xml cases whose output equals the input"),
    Corpus("qemuxml2xml-reparse", qemu_reparse_cases,
           note="extra coverage: expected outputs are fixed points of parse+format"),
]


def run_corpus(corpus: Corpus, src: str) -> tuple[int, int]:
    corpus.results = []
    try:
        cases = corpus.cases(src)
    except OSError as exc:
        corpus.results.append(("(corpus)", False, f"cannot read corpus: {exc}"))
        return 0, 1
    for case in cases:
        try:
            ok, cause = case.run()
        except ModelMissing as exc:
            ok, cause = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - a crash is a failed case, not a harness bug
            ok, cause = False, f"crashed: {_error_text(exc)}"
        corpus.results.append((case.name, ok, cause))
    passed = sum(1 for _, ok, _ in corpus.results if ok)
    return passed, len(corpus.results) - passed


def run(src: str, names: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """Run the selected corpora; returns {name: (passed, failed)}."""
    out = {}
    for corpus in CORPORA:
        if names and corpus.name not in names:
            continue
        out[corpus.name] = run_corpus(corpus, src)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--libvirt-src", help="libvirt 9.0.0 source tree")
    ap.add_argument("--corpus", action="append", metavar="NAME",
                    help="run only this corpus (repeatable): "
                         + ", ".join(c.name for c in CORPORA))
    ap.add_argument("-v", "--verbose", action="store_true", help="list failures with causes")
    ap.add_argument("--print-source", action="store_true",
                    help="find (or fetch) the libvirt source tree, print its path, and exit")
    ap.add_argument("--min-pass-rate", type=float, default=None, metavar="R",
                    help="exit 1 when the overall pass rate (0..1) is below R")
    args = ap.parse_args(argv)
    known = {c.name for c in CORPORA}
    for name in args.corpus or []:
        if name not in known:
            ap.error(f"unknown corpus {name!r}")
    src = find_source(args.libvirt_src)
    if args.print_source:
        print(src)
        return 0
    results = run(src, args.corpus)
    total_p = total_f = 0
    for corpus in CORPORA:
        if corpus.name not in results:
            continue
        passed, failed = results[corpus.name]
        note = f"  ({corpus.note})" if corpus.note else ""
        print(f"{corpus.name}: {passed} passed, {failed} failed{note}")
        if args.verbose:
            for name, ok, cause in corpus.results:
                if not ok:
                    print(f"  FAIL {name}: {cause}")
        if corpus.note:
            continue  # extra coverage is not part of the overall figure
        total_p += passed
        total_f += failed
    print(f"xml-roundtrip: {total_p} passed, {total_f} failed")
    if args.min_pass_rate is not None:
        rate = total_p / (total_p + total_f) if (total_p + total_f) else 0.0
        if rate < args.min_pass_rate:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
