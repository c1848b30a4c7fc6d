"""<metadata>: one custom element per namespace (virDomainSetMetadata semantics)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.xmlutil import RAW_TAG, Element, parse_xml
from pyvirt.errors import raise_error


@dataclass
class Metadata:
    """The children of <metadata>, kept as lxml elements (their content is the user's)."""

    elements: list[Element] = field(default_factory=list)

    @classmethod
    def parse(cls, el: Element | None) -> Metadata:
        if el is None:
            return cls()
        out = []
        seen: set[str | None] = set()
        for child in el:
            if not isinstance(child.tag, str):
                continue
            ns = etree.QName(child).namespace
            # libvirt drops later elements of an already used namespace (and unnamespaced).
            if ns is None or ns in seen:
                continue
            seen.add(ns)
            out.append(_detach(child))
        return cls(out)

    def __len__(self) -> int:
        return len(self.elements)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.elements)

    def get(self, uri: str) -> Element | None:
        for el in self.elements:
            if etree.QName(el).namespace == uri:
                return el
        return None

    def get_xml(self, uri: str) -> str | None:
        """The element for ``uri`` as virDomainGetMetadata returns it: a libxml2 dump with
        the namespace taken off every element that was in it."""
        el = self.get(uri)
        if el is None:
            return None
        clone = copy.deepcopy(el)
        for node in clone.iter():
            if isinstance(node.tag, str) and etree.QName(node).namespace == uri:
                node.tag = etree.QName(node).localname
        etree.cleanup_namespaces(clone)
        return etree.tostring(clone, pretty_print=True, encoding="unicode").rstrip("\n")

    def set(self, uri: str, key: str, xml: str) -> None:
        """Store ``xml`` under namespace ``uri`` with prefix ``key``, replacing the old one."""
        node = parse_xml(xml, url="(metadata_xml)")
        renamed = _renamespace(node, uri, key)
        self.remove(uri)
        self.elements.append(renamed)

    def remove(self, uri: str) -> bool:
        before = len(self.elements)
        self.elements = [el for el in self.elements if etree.QName(el).namespace != uri]
        return len(self.elements) != before

    def format(self) -> Element | None:
        """<metadata> as libvirt prints it: a libxml2 dump (double quotes, own indenting),
        carried verbatim by a raw node."""
        if not self.elements:
            return None
        meta = etree.Element("metadata")
        for el in self.elements:
            meta.append(copy.deepcopy(el))
        node = etree.Element(RAW_TAG)
        node.set("as", "metadata")
        node.text = etree.tostring(meta, pretty_print=True, encoding="unicode")
        return node


def _detach(el: Element) -> Element:
    """A standalone copy of ``el`` declaring only the namespaces it uses."""
    clone = copy.deepcopy(el)
    _strip_blank_text(clone)
    etree.cleanup_namespaces(clone)
    return clone


def _strip_blank_text(el: Element) -> None:
    for node in el.iter():
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None


def _renamespace(node: Element, uri: str, key: str) -> Element:
    if not key:
        raise_error(c.VIR_ERR_INVALID_ARG, "key", domain=c.VIR_FROM_DOMAIN)

    def rebuild(src: Element, parent: Element | None) -> Element:
        qn = etree.QName(src)
        # Every element without a namespace joins ``uri``, as virXMLInjectNamespace does.
        tag = f"{{{uri}}}{qn.localname}" if qn.namespace is None else src.tag
        if parent is None:
            out = etree.Element(tag, nsmap={key: uri})
        else:
            out = etree.SubElement(parent, tag)
        for k, v in src.attrib.items():
            out.set(k, v)
        out.text = src.text if not len(src) else None
        for ch in src:
            if isinstance(ch.tag, str):
                rebuild(ch, out)
        return out

    return rebuild(node, None)
