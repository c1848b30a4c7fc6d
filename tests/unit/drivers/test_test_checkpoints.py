"""Checkpoints of the test driver, against libvirt 9.0's test driver.

The expected codes, domains and messages below were taken from the real binding
(``/usr/bin/python3 -c "import libvirt; ..."``); ``test_same_as_oracle`` replays one long
scenario through both pyvirt and, when it is installed, the real libvirt, and compares.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import constants as c

ORACLE = Path("/usr/bin/python3")
CREATE_REDEFINE = c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
TOPO = c.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL
ROOTS = c.VIR_DOMAIN_CHECKPOINT_LIST_ROOTS
DESC = c.VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS


@pytest.fixture
def conn() -> Iterator[pyvirt.virConnect]:
    pyvirt.registerErrorHandler(lambda *_: None, None)
    connection = pyvirt.open("test:///default")
    yield connection
    # test:///default is shared by every connection of the process: leave it clean.
    dom = connection.lookupByName("test")
    for chk in dom.listAllCheckpoints(ROOTS):
        chk.delete(c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN)
    connection.close()


@pytest.fixture
def dom(conn: pyvirt.virConnect) -> pyvirt.virDomain:
    return conn.lookupByName("test")


def mk(dom: pyvirt.virDomain, name: str, extra: str = "") -> Any:
    return dom.checkpointCreateXML(
        f"<domaincheckpoint><name>{name}</name>{extra}</domaincheckpoint>")


def redefine(dom: pyvirt.virDomain, name: str, parent: str | None = None) -> Any:
    par = f"<parent><name>{parent}</name></parent>" if parent else ""
    return dom.checkpointCreateXML(
        f"<domaincheckpoint><name>{name}</name>{par}<creationTime>5</creationTime>"
        "</domaincheckpoint>", CREATE_REDEFINE)


def error_of(call: Any) -> tuple[int | None, int | None, str | None]:
    with pytest.raises(pyvirt.libvirtError) as info:
        call()
    err = info.value
    return err.get_error_code(), err.get_error_domain(), err.get_error_message()


def names(objs: list[Any]) -> list[str]:
    return [o.getName() for o in objs]


def test_create_default_xml(dom: pyvirt.virDomain) -> None:
    chk = dom.checkpointCreateXML("<domaincheckpoint><description>hi</description>"
                                  "</domaincheckpoint>")
    name = chk.getName()
    assert name.isdigit()
    assert chk.getDomain() is dom and chk.domain() is dom
    assert chk.getConnect() is dom.connect()
    text = chk.getXMLDesc(c.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN)
    assert text == (
        "<domaincheckpoint>\n"
        f"  <name>{name}</name>\n"
        "  <description>hi</description>\n"
        f"  <creationTime>{name}</creationTime>\n"
        "  <disks>\n"
        f"    <disk name='vda' checkpoint='bitmap' bitmap='{name}'/>\n"
        "  </disks>\n"
        "</domaincheckpoint>\n")
    full = chk.getXMLDesc()
    assert "<domain type='test'>" in full and "<name>test</name>" in full
    assert "id=" not in full.split("<domain ", 1)[1].split(">", 1)[0]
    # XML_SIZE: the test driver never reports a valid size, so the XML is unchanged.
    assert chk.getXMLDesc(c.VIR_DOMAIN_CHECKPOINT_XML_SIZE) == full
    assert chk.delete() == 0
    assert dom.listAllCheckpoints() == []


def test_tree_and_listing(dom: pyvirt.virDomain) -> None:
    a, b, cc = mk(dom, "a"), mk(dom, "b"), mk(dom, "c")
    assert sorted(names(dom.listAllCheckpoints())) == ["a", "b", "c"]
    assert names(dom.listAllCheckpoints(TOPO)) == ["a", "b", "c"]
    assert names(dom.listAllCheckpoints(ROOTS)) == ["a"]
    assert names(dom.listAllCheckpoints(c.VIR_DOMAIN_CHECKPOINT_LIST_LEAVES)) == ["c"]
    assert sorted(names(dom.listAllCheckpoints(c.VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES))) == [
        "a", "b"]
    assert names(a.listAllChildren()) == ["b"]
    assert names(a.listAllChildren(DESC)) == ["b", "c"]
    assert cc.getParent().getName() == "b" and b.getParent().getName() == "a"
    assert error_of(a.getParent) == (
        c.VIR_ERR_NO_DOMAIN_CHECKPOINT, c.VIR_FROM_TEST,
        "Domain checkpoint not found: checkpoint 'a' does not have a parent")
    # Redefined checkpoints: newest link first among siblings.
    redefine(dom, "x", "a")
    redefine(dom, "r")
    redefine(dom, "y", "c")
    assert names(dom.listAllCheckpoints(TOPO)) == ["r", "a", "x", "b", "c", "y"]
    assert names(dom.listAllCheckpoints(ROOTS)) == ["r", "a"]
    assert names(a.listAllChildren()) == ["x", "b"]
    assert names(a.listAllChildren(DESC | TOPO)) == ["x", "b", "c", "y"]
    assert sorted(names(a.listAllChildren(DESC | c.VIR_DOMAIN_CHECKPOINT_LIST_LEAVES))) == [
        "x", "y"]
    assert names(dom.listAllCheckpoints(ROOTS | c.VIR_DOMAIN_CHECKPOINT_LIST_LEAVES)) == ["r"]
    # The current checkpoint stayed "c"'s line: the redefined child of it became current.
    assert mk(dom, "n").getParent().getName() == "y"


def test_delete_reparents_and_current(dom: pyvirt.virDomain) -> None:
    a, b, cc = mk(dom, "a"), mk(dom, "b"), mk(dom, "c")
    redefine(dom, "x", "a")
    assert b.delete() == 0
    assert names(a.listAllChildren()) == ["c", "x"]
    assert cc.getParent().getName() == "a"
    assert a.delete(c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY) == 0
    assert names(dom.listAllCheckpoints()) == ["a"]
    # "c" was current; deleting it as a descendant made "a" current.
    assert mk(dom, "m").getParent().getName() == "a"
    assert a.delete(c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN) == 0
    assert dom.listAllCheckpoints() == []
    assert error_of(mk(dom, "p").getParent)[0] == c.VIR_ERR_NO_DOMAIN_CHECKPOINT
    stale = ("Domain checkpoint not found: no domain checkpoint with matching name 'b'")
    for call in (b.getXMLDesc, b.delete, b.listAllChildren, b.getParent):
        assert error_of(call) == (c.VIR_ERR_NO_DOMAIN_CHECKPOINT, c.VIR_FROM_TEST, stale)


@pytest.mark.parametrize("xml, flags, expected", [
    ("<domaincheckpoint/>", CREATE_REDEFINE | c.VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "Flags 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' and "
      "'VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE' are mutually exclusive")),
    ("<domaincheckpoint/>", c.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "Flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' is required by flag "
      "'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE'")),
    ("<domaincheckpoint/>", 8,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
      "unsupported flags (0x8) in function testDomainCheckpointCreateXML")),
    ("<domaincheckpoint/>", CREATE_REDEFINE,
     (c.VIR_ERR_XML_ERROR, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "XML error: a redefined checkpoint must have a name")),
    ("<domaincheckpoint><name>q</name></domaincheckpoint>", CREATE_REDEFINE,
     (c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "internal error: missing creationTime from existing checkpoint")),
    ("<domaincheckpoint><name>q</name><parent><name>q</name></parent>"
     "<creationTime>5</creationTime></domaincheckpoint>", CREATE_REDEFINE,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN,
      "invalid argument: cannot set moment q as its own parent")),
    ("<domaincheckpoint><name>q</name><parent><name>zz</name></parent>"
     "<creationTime>5</creationTime></domaincheckpoint>", CREATE_REDEFINE,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN,
      "invalid argument: parent zz for moment q not found")),
    ("<domaincheckpoint><name>q</name><creationTime>5</creationTime><domain type='test'>"
     "<name>test</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory>"
     "<os><type>hvm</type></os></domain></domaincheckpoint>", CREATE_REDEFINE,
     (c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "invalid argument: definition for checkpoint q must use uuid "
      "6695eb01-f6a4-8304-79aa-97f2502e193f")),
    ("<domaincheckpoint><disks><disk name='vdz'/></disks></domaincheckpoint>", 0,
     (c.VIR_ERR_CONFIG_UNSUPPORTED, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "unsupported configuration: no disk named 'vdz'")),
    ("<domaincheckpoint><disks><disk name='vda'/><disk name='vda'/></disks>"
     "</domaincheckpoint>", 0,
     (c.VIR_ERR_CONFIG_UNSUPPORTED, c.VIR_FROM_DOMAIN_CHECKPOINT,
      "unsupported configuration: too many disk checkpoint requests for domain")),
    ("<domainsnapshot/>", 0,
     (c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
      "XML error: expecting root element of 'domaincheckpoint', not 'domainsnapshot'")),
])
def test_create_errors(dom: pyvirt.virDomain, xml: str, flags: int,
                       expected: tuple[int, int, str]) -> None:
    assert error_of(lambda: dom.checkpointCreateXML(xml, flags)) == expected
    assert dom.listAllCheckpoints() == []


def test_create_name_clash_and_cycle(dom: pyvirt.virDomain) -> None:
    mk(dom, "a")
    mk(dom, "b")
    mk(dom, "c")
    assert error_of(lambda: mk(dom, "b")) == (
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_DOMAIN,
        "operation failed: domain moment b already exists")
    assert error_of(lambda: redefine(dom, "a", "c")) == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN,
        "invalid argument: parent b would create cycle to a")


def test_disk_selection(dom: pyvirt.virDomain) -> None:
    chk = mk(dom, "bypath", "<disks><disk name='/guest/diskimage1' bitmap='bm'/></disks>")
    assert "<disk name='vda' checkpoint='bitmap' bitmap='bm'/>" in chk.getXMLDesc()
    off = mk(dom, "off", "<disks><disk name='vda' checkpoint='no'/></disks>")
    assert "<disk name='vda' checkpoint='no'/>" in off.getXMLDesc()


def test_flag_errors(dom: pyvirt.virDomain) -> None:
    chk = mk(dom, "p")
    unsupported = c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST
    cases = [
        (lambda: dom.listAllCheckpoints(0x20), "0x20", "testDomainListAllCheckpoints"),
        (lambda: chk.listAllChildren(0x40), "0x40", "testDomainCheckpointListAllChildren"),
        (lambda: dom.checkpointLookupByName("p", 1), "0x1",
         "testDomainCheckpointLookupByName"),
        (lambda: chk.getParent(1), "0x1", "testDomainCheckpointGetParent"),
        (lambda: chk.getXMLDesc(8), "0x8", "testDomainCheckpointGetXMLDesc"),
        (lambda: chk.delete(0x40), "0x40", "testDomainCheckpointDelete"),
    ]
    for call, value, func in cases:
        assert error_of(call) == (*unsupported,
                                  f"unsupported flags ({value}) in function {func}")
    assert error_of(lambda: chk.delete(c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN
                                       | c.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY)) == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_DOMAIN_CHECKPOINT,
        "Flags 'VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN' and "
        "'VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY' are mutually exclusive")
    assert error_of(lambda: dom.checkpointLookupByName("zz")) == (
        c.VIR_ERR_NO_DOMAIN_CHECKPOINT, c.VIR_FROM_TEST,
        "Domain checkpoint not found: no domain checkpoint with matching name 'zz'")


def test_inactive_domain_and_snapshots(dom: pyvirt.virDomain) -> None:
    chk = mk(dom, "p")
    assert error_of(lambda: dom.snapshotCreateXML("<domainsnapshot/>")) == (
        c.VIR_ERR_OPERATION_UNSUPPORTED, c.VIR_FROM_TEST,
        "Operation not supported: cannot create snapshot while checkpoint exists")
    dom.destroy()
    try:
        assert error_of(lambda: chk.getXMLDesc(c.VIR_DOMAIN_CHECKPOINT_XML_SIZE)) == (
            c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_DOMAIN,
            "Requested operation is not valid: domain is not running")
        assert error_of(lambda: mk(dom, "z")) == (
            c.VIR_ERR_OPERATION_UNSUPPORTED, c.VIR_FROM_TEST,
            "Operation not supported: cannot create checkpoint for inactive domain")
        assert names(dom.listAllCheckpoints()) == ["p"]
    finally:
        dom.create()
    chk.delete()
    snap = dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>")
    try:
        assert error_of(lambda: mk(dom, "z")) == (
            c.VIR_ERR_OPERATION_UNSUPPORTED, c.VIR_FROM_TEST,
            "Operation not supported: cannot create checkpoint while snapshot exists")
    finally:
        snap.delete()


def test_undefine_checkpoints_metadata_unsupported(dom: pyvirt.virDomain) -> None:
    # libvirt 9.0's test driver does not know VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.
    mk(dom, "p")
    assert error_of(lambda: dom.undefineFlags(c.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)) == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
        "unsupported flags (0x10) in function testDomainUndefineFlags")


def test_read_only(dom: pyvirt.virDomain) -> None:
    mk(dom, "k")
    ro = pyvirt.openReadOnly("test:///default")
    try:
        rdom = ro.lookupByName("test")
        assert error_of(lambda: rdom.checkpointCreateXML("<domaincheckpoint/>")) == (
            c.VIR_ERR_OPERATION_DENIED, c.VIR_FROM_DOMAIN_CHECKPOINT,
            "operation forbidden: read only access prevents virDomainCheckpointCreateXML")
        rchk = rdom.checkpointLookupByName("k")
        assert error_of(rchk.delete) == (
            c.VIR_ERR_OPERATION_DENIED, c.VIR_FROM_DOMAIN_CHECKPOINT,
            "operation forbidden: read only access prevents virDomainCheckpointDelete")
        assert error_of(lambda: rchk.getXMLDesc(c.VIR_DOMAIN_CHECKPOINT_XML_SECURE)) == (
            c.VIR_ERR_OPERATION_DENIED, c.VIR_FROM_DOMAIN_CHECKPOINT,
            "operation forbidden: virDomainCheckpointGetXMLDesc with secure flag")
        assert "<name>k</name>" in rchk.getXMLDesc()
    finally:
        ro.close()


# ---- the same scenario through the real libvirt ----------------------------------------


def _scenario(lv: Any) -> list[Any]:
    """Runs with ``lv`` = pyvirt in-process, or = libvirt in the oracle interpreter."""
    import re as _re

    lv.registerErrorHandler(lambda *_: None, None)
    out: list[Any] = []

    def step(label: str, call: Any) -> None:
        try:
            res = call()
        except lv.libvirtError as exc:
            out.append([label, "ERR", exc.get_error_code(), exc.get_error_domain(),
                        exc.get_error_message().splitlines()[0]])
            return
        if isinstance(res, list):
            res = [r.getName() for r in res]
            if label.startswith("unordered"):
                res.sort()
        elif hasattr(res, "getName"):
            res = res.getName()
        elif isinstance(res, str):
            res = _re.sub(r"\d{6,}", "N", res)
            res = _re.sub(r" bridge='virbr0'", "", res)  # a domain XML matter, not ours
        out.append([label, "OK", res])

    conn = lv.open("test:///default")
    dom = conn.lookupByName("test")

    def mk(name: str, extra: str = "", flags: int = 0) -> Any:
        return dom.checkpointCreateXML(
            f"<domaincheckpoint><name>{name}</name>{extra}</domaincheckpoint>", flags)

    def redef(name: str, parent: str = "") -> Any:
        par = f"<parent><name>{parent}</name></parent>" if parent else ""
        return mk(name, par + "<creationTime>5</creationTime>",
                  lv.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE)

    for name in "abc":
        step("mk", lambda name=name: mk(name))
    for parent, name in (("a", "x"), ("", "r"), ("c", "y"), ("x", "x2"), ("", "r2")):
        step("redef", lambda p=parent, n=name: redef(n, p))
    step("unordered all", lambda: dom.listAllCheckpoints())
    for flags in range(16):
        step(f"topo {flags}", lambda f=flags: dom.listAllCheckpoints(f | 2))
        if not flags & 2:
            step(f"unordered {flags}", lambda f=flags: dom.listAllCheckpoints(f))
        for name in ("a", "c", "r"):
            step(f"children {name} {flags}", lambda n=name, f=flags:
                 dom.checkpointLookupByName(n).listAllChildren(f | 2))
    step("new", lambda: mk("n"))
    step("parent n", lambda: dom.checkpointLookupByName("n").getParent())
    step("xml n", lambda: dom.checkpointLookupByName("n").getXMLDesc())
    step("xml x", lambda: dom.checkpointLookupByName("x").getXMLDesc(
        lv.VIR_DOMAIN_CHECKPOINT_XML_SIZE))
    step("redef existing", lambda: redef("c", "x2"))
    step("topo after move", lambda: dom.listAllCheckpoints(2))
    step("delete x", lambda: dom.checkpointLookupByName("x").delete())
    step("topo after delete", lambda: dom.listAllCheckpoints(2))
    step("delete y", lambda: dom.checkpointLookupByName("y").delete())
    step("new2", lambda: mk("n2"))
    step("parent n2", lambda: dom.checkpointLookupByName("n2").getParent())
    step("delete a children only", lambda: dom.checkpointLookupByName("a").delete(
        lv.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY))
    step("topo after prune", lambda: dom.listAllCheckpoints(2))
    step("new3", lambda: mk("n3"))
    step("parent n3", lambda: dom.checkpointLookupByName("n3").getParent())
    step("redef cycle", lambda: redef("a", "n3"))
    step("redef no parent", lambda: redef("q", "zz"))
    step("disks too many", lambda: mk("ro", "<disks><disk name='vda' checkpoint='bitmap'/>"
                                             "<disk name='vda'/></disks>"))
    for chk in dom.listAllCheckpoints(lv.VIR_DOMAIN_CHECKPOINT_LIST_ROOTS):
        step("clean", lambda chk=chk: chk.delete(lv.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN))
    step("empty", lambda: dom.listAllCheckpoints())
    conn.close()
    return out


def test_same_as_oracle() -> None:
    if not ORACLE.exists():
        pytest.skip("no system python with the real libvirt binding")
    source = textwrap.dedent(inspect.getsource(_scenario))
    script = ("import json, libvirt\nfrom typing import Any\n" + source
              + "\nprint(json.dumps(_scenario(libvirt)))\n")
    proc = subprocess.run([str(ORACLE), "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0 and "No module named 'libvirt'" in proc.stderr:
        pytest.skip("the system python lacks the libvirt binding")
    assert proc.returncode == 0, proc.stderr
    expected = json.loads(proc.stdout)
    got = json.loads(json.dumps(_scenario(pyvirt)))
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert mine == theirs
