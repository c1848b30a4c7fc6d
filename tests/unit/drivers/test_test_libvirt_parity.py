"""Test-driver details checked against libvirt 9.0's (expected values taken from the real
binding, ``/usr/bin/python3 -c "import libvirt; ..."``): XML syntax error reports, snapshot
child order and alignment, host CPU models, cells and capabilities, network update wording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import constants as c

TESTNODE = Path("/tmp/libvirt-src/src/examples/xml/test/testnode.xml")


@pytest.fixture
def conn() -> Iterator[pyvirt.virConnect]:
    connection = pyvirt.open("test:///default")
    yield connection
    connection.close()


def _error(call: Callable[[], object]) -> pyvirt.libvirtError:
    with pytest.raises(pyvirt.libvirtError) as info:
        call()
    return info.value


# ---- XML syntax errors: libxml2's message plus libvirt's two context lines ---------------

SYNTAX = [
    ("", "{url}:1: Document is empty\n(null)\n^"),
    ("   ", "{url}:1: Start tag expected, '<' not found\n   \n---^"),
    ("\n\n", "{url}:3: Start tag expected, '<' not found\n(null)\n^"),
    ("<domain", "{url}:1: Couldn't find end of Start Tag domain line 1\n<domain\n-------^"),
    ("<domain>\n\t<name>x</name\n</domain>", "{url}:3: expected '>'\n</domain>\n^"),
    ("<domain><name>x</nam></domain>",
     "{url}:1: Opening and ending tag mismatch: name line 1 and nam\n"
     "<domain><name>x</nam></domain>\n---------------------^"),
    ("<domain>&foo;</domain>",
     "{url}:1: Entity 'foo' not defined\n<domain>&foo;</domain>\n-------------^"),
    ("<x/><y/>", "{url}:1: Extra content at the end of the document\n<x/><y/>\n----^"),
    ("<?xml version='1.0'?>\n<domain>\n<name>a\n",
     "{url}:4: Premature end of data in tag name line 3\n(null)\n^"),
]


@pytest.mark.parametrize("text,expected", SYNTAX)
def test_syntax_errors_read_as_libvirt(conn: pyvirt.virConnect, text: str,
                                       expected: str) -> None:
    dom = conn.lookupByName("test")
    pool = conn.storagePoolLookupByName("default-pool")
    # (libvirt reports defineXML's in VIR_FROM_DOMAIN; the test driver's domain code parses
    # with parse_xml and reports VIR_FROM_XML, so only the text is checked for it.)
    calls: list[tuple[Callable[[], object], str, int | None]] = [
        (lambda: conn.defineXML(text), "(domain_definition)", None),
        (lambda: conn.networkDefineXML(text), "(network_definition)", c.VIR_FROM_NETWORK),
        (lambda: dom.snapshotCreateXML(text, 0), "(domain_snapshot)",
         c.VIR_FROM_DOMAIN_SNAPSHOT),
        (lambda: pool.createXML(text, 0), "(storage_volume_definition)", c.VIR_FROM_STORAGE),
    ]
    for call, url, domain in calls:
        err = _error(call)
        assert str(err) == expected.format(url=url)
        assert err.get_error_code() == c.VIR_ERR_XML_DETAIL
        assert domain is None or err.get_error_domain() == domain
        assert err.get_int1() == -1


def test_schema_report_names_the_schema_and_every_error(conn: pyvirt.virConnect) -> None:
    pool = conn.storagePoolLookupByName("default-pool")
    err = _error(lambda: pool.createXML(
        "<volume><name>v</name><capacity>5</capacity></volume>",
        c.VIR_STORAGE_VOL_CREATE_VALIDATE))
    if err.get_error_code() == c.VIR_ERR_INTERNAL_ERROR:
        pytest.skip("libvirt's schemas are not installed")
    assert str(err) == (
        "XML document failed to validate against schema: Unable to validate doc against "
        "/usr/share/libvirt/schemas/storagevol.rng\nExpecting an element target, got nothing\n"
        "Invalid sequence in interleave\nElement volume failed to validate content\n")


# ---- snapshots --------------------------------------------------------------------------

def _snap(dom: pyvirt.virDomain, name: str) -> None:
    dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name></domainsnapshot>", 0)


def test_snapshot_children_newest_link_first(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    for name in ("s1", "s2", "s3"):
        _snap(dom, name)
    dom.revertToSnapshot(dom.snapshotLookupByName("s1"))
    _snap(dom, "s4")
    topo = c.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL
    assert dom.snapshotListNames(topo) == ["s1", "s4", "s2", "s3"]
    s1 = dom.snapshotLookupByName("s1")
    assert s1.listChildrenNames(c.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) == ["s4", "s2", "s3"]
    # Deleting s1 moves its children, in their order, ahead of the roots.
    s1.delete(0)
    assert dom.snapshotListNames(topo) == ["s4", "s2", "s3"]
    assert dom.snapshotListNames(c.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == ["s4", "s2"]


def test_snapshot_of_running_domain_has_memory_and_disks(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    _snap(dom, "s1")
    xml = dom.snapshotLookupByName("s1").getXMLDesc(0)
    assert ("  <memory snapshot='internal'/>\n  <disks>\n"
            "    <disk name='vda' snapshot='internal'/>\n  </disks>\n") in xml
    dom.destroy()
    _snap(dom, "s2")
    xml = dom.snapshotLookupByName("s2").getXMLDesc(0)
    assert "<state>shutoff</state>" in xml
    assert "  <memory snapshot='no'/>\n" in xml
    assert "<disk name='vda' snapshot='internal'/>" in xml


def test_snapshot_duplicate_and_metadata_only(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    _snap(dom, "s1")
    err = _error(lambda: _snap(dom, "s1"))
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_DOMAIN,
        "operation failed: domain moment s1 already exists")
    snap = dom.snapshotLookupByName("s1")
    err = _error(lambda: snap.delete(c.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY))
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
        "unsupported flags (0x2) in function testDomainSnapshotDelete")


def test_deleting_children_makes_the_snapshot_current(conn: pyvirt.virConnect) -> None:
    dom = conn.lookupByName("test")
    for name in ("s1", "s2"):
        _snap(dom, name)
    dom.snapshotLookupByName("s1").delete(c.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
    assert dom.snapshotCurrent().getName() == "s1"


# ---- host -------------------------------------------------------------------------------

def test_cpu_model_names_by_arch(conn: pyvirt.virConnect) -> None:
    assert len(conn.getCPUModelNames("x86_64")) == 58
    assert conn.getCPUModelNames("ppc64le")[-1] == "POWERPC_e6500"
    assert conn.getCPUModelNames("aarch64") == []
    err = _error(lambda: conn.getCPUModelNames("foo"))
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
        c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST, "invalid argument: cannot find architecture foo")
    err = _error(lambda: conn.getCPUModelNames("mips"))
    assert (err.get_error_code(), err.get_error_domain()) == (c.VIR_ERR_NO_SUPPORT,
                                                              c.VIR_FROM_CPU)
    assert str(err).endswith("'mips' architecture is not supported by CPU driver")


BASELINE_ERRORS = [
    ("<cpu><model>Haswell</model></cpu>", c.VIR_ERR_XML_ERROR,
     "XML error: Missing CPU architecture"),
    ("<cpu><arch>x86_64</arch></cpu>", c.VIR_ERR_XML_ERROR, "XML error: Missing CPU model name"),
    ("<cpu><arch>bogus</arch></cpu>", c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: Unknown architecture bogus"),
    ("<foo/>", c.VIR_ERR_XML_ERROR, "XML error: XML does not contain expected 'cpu' element"),
    ("<cpu mode='custom'/>", c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: Attribute mode is only allowed for guest CPU"),
    ("<cpu", c.VIR_ERR_XML_DETAIL,
     "(CPU_definition):1: Couldn't find end of Start Tag cpu line 1\n<cpu\n----^"),
    ("<cpu><arch>mips</arch><model>a</model></cpu>", c.VIR_ERR_NO_SUPPORT,
     "this function is not supported by the connection driver: 'mips' architecture is not "
     "supported by CPU driver"),
]


@pytest.mark.parametrize("xml,code,message", BASELINE_ERRORS)
def test_baseline_cpu_checks(conn: pyvirt.virConnect, xml: str, code: int,
                             message: str) -> None:
    err = _error(lambda: conn.baselineCPU([xml]))
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
        code, c.VIR_FROM_CPU, message)


def test_cells_free_memory_range(conn: pyvirt.virConnect) -> None:
    assert conn.getCellsFreeMemory(0, 8) == [2097152, 4194304]
    assert conn.getCellsFreeMemory(1, 5) == [4194304]
    err = _error(lambda: conn.getCellsFreeMemory(2, 1))
    assert str(err) == "invalid argument: Range exceeds available cells"


@pytest.mark.skipif(not TESTNODE.is_file(), reason="libvirt's source tree is not unpacked")
def test_node_without_cells() -> None:
    node = pyvirt.open(f"test://{TESTNODE}")
    try:
        err = _error(lambda: node.getCellsFreeMemory(0, 1))
        assert str(err) == "invalid argument: Range exceeds available cells"
        assert "    <topology>\n      <cells num='0'>\n      </cells>\n    </topology>\n" in (
            node.getCapabilities())
    finally:
        node.close()


# ---- network update ---------------------------------------------------------------------

def test_update_without_host_name_prints_null(conn: pyvirt.virConnect) -> None:
    net = conn.networkLookupByName("default")
    err = _error(lambda: net.update(
        c.VIR_NETWORK_UPDATE_COMMAND_MODIFY, c.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
        "<host mac='00:11:22:33:44:55' ip='192.168.122.10'/>", 0))
    assert "\"name='(null)'\"" in str(err)
