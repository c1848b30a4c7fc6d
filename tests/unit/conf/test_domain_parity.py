"""Details where libvirt 9.0's output was checked against the real library."""

from __future__ import annotations

import pyvirt as libvirt
from pyvirt.conf.domain import DomainDef


def test_metadata_element_namespaced_on_set_and_stripped_on_get() -> None:
    conn = libvirt.open("test:///default")
    try:
        dom = conn.lookupByName("test")
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                        "<foo a='1'><bar>baz</bar></foo>", "k", "http://x/", 0)
        # virDomainGetMetadata: a libxml2 dump with the namespace removed.
        assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "http://x/", 0) == (
            '<foo a="1">\n  <bar>baz</bar>\n</foo>')
        # virXMLInjectNamespace: every element of the subtree joins the namespace.
        xml = dom.XMLDesc(0)
        assert '<k:foo xmlns:k="http://x/" a="1">\n      <k:bar>baz</k:bar>\n    </k:foo>' in xml
    finally:
        conn.close()


def test_network_interface_source_keeps_only_network_attributes() -> None:
    xml = """<domain type='test'><name>n</name><memory>1024</memory><os><type>hvm</type></os>
      <devices><interface type='network'>
        <source network='default' bridge='virbr0' portgroup='pg'/>
      </interface></devices></domain>"""
    out = DomainDef.from_xml(xml).to_xml(inactive=True)
    assert "<source network='default' portgroup='pg'/>" in out
