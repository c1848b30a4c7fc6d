#!/usr/bin/env python3
"""Compare pyvirt's dnsmasq configuration with libvirt 9.0.0's networkxml2confdata corpus.

For every ``tests/networkxml2confdata/NAME.xml`` of the libvirt source tree (fetched by
scripts/xml_roundtrip.py into the cache), generate the dnsmasq configuration and the
dhcp-hostsfile as the network driver does, with libvirt's test setting (hosts files under
/var/lib/libvirt/dnsmasq, no pid file), and compare semantically with ``NAME.conf`` and
``NAME.hostsfile``: the same option lines in the same order (dnsmasq honours order for
ranges and servers), comments and blank lines ignored. Prints ``N passed, M failed``;
``--list`` names every failing case with its first difference. Exit status 1 when fewer
than ``--min-pass`` cases pass.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def options(text: str | None) -> list[str]:
    """The meaningful lines of a dnsmasq configuration or hosts file."""
    if text is None:
        return []
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def compare(xml_path: str) -> str | None:
    """None when pyvirt's output matches libvirt's for this case, else why not."""
    from pyvirt.conf.network import NetworkDef
    from pyvirt.drivers.network.dnsmasq import DnsmasqFiles, build_config
    from pyvirt.errors import libvirtError

    base = xml_path[: -len(".xml")]
    with open(base + ".conf") as fh:
        want_conf = options(fh.read())
    want_hosts = None
    if os.path.exists(base + ".hostsfile"):
        with open(base + ".hostsfile") as fh:
            want_hosts = options(fh.read())
    try:
        with open(xml_path) as fh:
            netdef = NetworkDef.from_xml(fh.read())
        files = DnsmasqFiles(netdef.name, "/var/lib/libvirt/dnsmasq", "/run/unused")
        conf, hosts = build_config(netdef, files)
    except libvirtError as exc:
        return f"error: {exc}"
    got_conf = options(conf)
    if got_conf != want_conf:
        for i, (a, b) in enumerate(zip(got_conf, want_conf, strict=False)):
            if a != b:
                return f"conf line {i}: got {a!r}, want {b!r}"
        return f"conf has {len(got_conf)} options, want {len(want_conf)}"
    if (hosts is None) != (want_hosts is None) or options(hosts) != (want_hosts or []):
        return f"hostsfile: got {options(hosts)!r}, want {want_hosts!r}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--list", action="store_true", help="name every failing case")
    ap.add_argument("--min-pass", type=int, default=0)
    args = ap.parse_args()
    from libvirt_source import libvirt_tree

    tree = libvirt_tree()
    if tree is None:
        print("network-conf-corpus: libvirt's source tree is not available")
        return 1
    cases = sorted(glob.glob(os.path.join(tree, "tests", "networkxml2confdata", "*.xml")))
    failed: list[tuple[str, str]] = []
    for path in cases:
        why = compare(path)
        if why is not None:
            failed.append((os.path.basename(path)[:-4], why))
    if args.list:
        for name, why in failed:
            print(f"FAIL {name}: {why}")
    passed = len(cases) - len(failed)
    print(f"network-conf-corpus: {passed} passed, {len(failed)} failed")
    return 0 if passed >= args.min_pass and cases else 1


if __name__ == "__main__":
    sys.exit(main())
