"""Start-up cost guards: what ``import pyvirt`` and opening test:///default must not load,
and proof that test:///default's deferred families equal the ones loaded at open.

pyvirsh runs ``import pyvirt; pyvirt.open(uri)`` for every command; its wall time is
budgeted against virsh's (bench/startup.py). Each module kept off that path below cost
several milliseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pyvirt
from pyvirt.drivers.test.driver import DEFAULT_NODE_XML


def _loaded_after(code: str, names: list[str]) -> list[str]:
    """Which of ``names`` running ``code`` imports (not those the interpreter's own start-up,
    e.g. a site .pth hook, already loaded)."""
    probe = (f"import sys\nbefore = set(sys.modules)\n{code}\nimport json\n"
             f"print(json.dumps([n for n in {names!r} if n in sys.modules and n not in before]))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    loaded: list[str] = json.loads(out.strip().splitlines()[-1])
    return loaded


def test_import_pyvirt_loads_no_xml_events_or_heavy_stdlib() -> None:
    heavy = ["lxml.etree", "dataclasses", "inspect", "logging", "socket", "platform", "uuid",
             "pathlib", "asyncio", "typing", "threading", "select", "xml.etree.ElementTree",
             "pyvirt.events.types", "pyvirt.events.state", "pyvirt.events.loop"]
    assert _loaded_after("import pyvirt", heavy) == []


def test_opening_default_loads_only_the_domain_model() -> None:
    code = 'import pyvirt\npyvirt.open("test:///default").listAllDomains()'
    unwanted = ["pyvirt.events.types", "pyvirt.conf.network.model", "pyvirt.conf.storage",
                "pyvirt.conf.nodedev", "pyvirt.conf.interface", "pyvirt.conf.domain.chardevs",
                "pyvirt.conf.domain.controllers", "pyvirt.conf.domain.graphics", "logging",
                "socket",
                "platform", "uuid", "pathlib", "asyncio", "typing", "threading",
                "xml.etree.ElementTree", "lxml.etree", "pyvirt.events.loop"]
    assert _loaded_after(code, unwanted) == []


def test_pyvirsh_list_path_stays_lean() -> None:
    # pyvirsh's benchmark command: no typing, lxml, ElementTree, threading or event loop.
    code = ("from pyvirt.virsh.main import main\n"
            "assert main(['-c', 'test:///default', 'list', '--all']) == 0")
    unwanted = ["typing", "threading", "select", "lxml.etree", "xml.etree.ElementTree",
                "pyvirt.events.loop", "pyvirt.conf.domain", "asyncio", "dataclasses"]
    assert _loaded_after(code, unwanted) == []


def test_deferred_domains_equal_domains_loaded_at_open() -> None:
    # test:///default scans its domains with conf/xmlscan and parses each one's source text
    # on first use; a node file parses them at open. Same definitions either way.
    lazy = pyvirt.open("test:///default")
    eager = pyvirt.open("test://" + DEFAULT_NODE_XML)
    try:
        def domains(conn: pyvirt.virConnect) -> list[tuple[str, str, str]]:
            return sorted((d.name(), d.XMLDesc(), d.XMLDesc(pyvirt.VIR_DOMAIN_XML_INACTIVE))
                          for d in conn.listAllDomains())
        assert domains(lazy) == domains(eager)
        assert domains(lazy)
    finally:
        lazy.close()
        eager.close()


def test_lifecycle_without_listeners_builds_no_event_records() -> None:
    code = ('import pyvirt\nd = pyvirt.open("test:///default").lookupByName("test")\n'
            "d.destroy()\nd.create()")
    assert _loaded_after(code, ["pyvirt.events.types"]) == []


def _families(conn: pyvirt.virConnect) -> dict[str, list[str]]:
    pools = conn.listAllStoragePools()
    return {
        "networks": [n.XMLDesc() for n in conn.listAllNetworks()],
        "interfaces": [i.XMLDesc() for i in conn.listAllInterfaces()],
        "pools": [p.XMLDesc() for p in pools],
        "volumes": [v.XMLDesc() for p in pools for v in p.listAllVolumes()],
        "nodedevs": [d.XMLDesc() for d in conn.listAllDevices()],
    }


def test_deferred_families_equal_families_loaded_at_open() -> None:
    # test:///PATH loads every family at open; test:///default defers all but domains.
    lazy = pyvirt.open("test:///default")
    eager = pyvirt.open("test://" + DEFAULT_NODE_XML)
    try:
        got, want = _families(lazy), _families(eager)
        assert all(want[f] for f in ("networks", "interfaces", "pools", "nodedevs"))
        assert got == want
    finally:
        lazy.close()
        eager.close()


def test_deferred_family_first_touched_by_a_change() -> None:
    conn = pyvirt.open("test:///default")
    try:
        conn.networkLookupByName("default").destroy()
        assert conn.listNetworks() == []
        assert conn.listDefinedNetworks() == ["default"]
    finally:
        conn.close()
