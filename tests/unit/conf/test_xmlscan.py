"""conf/xmlscan: the expat scan answers the ElementTree calls its readers make, with the same
values as ElementTree, and gives back each element's exact source text."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from pyvirt.conf.xmlscan import scan
from pyvirt.drivers.test.driver import DEFAULT_NODE_XML

SAMPLE = (b"<?xml version='1.0'?>\n<node a='1'>hi<x b='&gt;>'/>tail<y>t<z/>u</y>  "
          b"<w>&amp;q<q/></w><e/><y n='2'><z k='v'>deep</z></y></node>")


def _same(scanned, expected) -> None:  # type: ignore[no-untyped-def]
    assert scanned.tag == expected.tag
    assert scanned.attrib == expected.attrib
    assert scanned.text == expected.text
    assert scanned.tail == expected.tail
    assert len(scanned) == len(expected)
    for a, b in zip(scanned, expected):
        _same(a, b)


@pytest.mark.parametrize("data", [SAMPLE, open(DEFAULT_NODE_XML, "rb").read()],
                         ids=["sample", "default_node"])
def test_tree_equals_elementtree(data: bytes) -> None:
    _same(scan(data), ElementTree.fromstring(data))


def test_source_of_every_element_reparses_to_the_same_element() -> None:
    root = scan(SAMPLE)
    stack = [root]
    while stack:
        node = stack.pop()
        again = ElementTree.fromstring(node.source())
        _same_but_tail = (again.tag, again.attrib, again.text, len(again))
        assert _same_but_tail == (node.tag, node.attrib, node.text, len(node))
        stack.extend(node)
    assert root.find("x").source() == b"<x b='&gt;>'/>"
    assert root.find("y/z").source() == b"<z/>"


def test_paths_and_text() -> None:
    root = scan(SAMPLE)
    assert [z.get("k") for z in root.findall("y/z")] == [None, "v"]
    assert root.findtext("y/z") == ""
    assert root.findtext("missing") is None
    assert root.findtext("missing", "d") == "d"
    assert root.find("w").findtext("q") == ""
    assert "".join(root.find("y").itertext()) == "tu"
    assert [e.tag for e in root.iterfind("y")] == ["y", "y"]
