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


def test_network_interface_live_source_keeps_port_and_bridge() -> None:
    """A running guest's live XML (status files) names its network port and the bridge it
    is plugged into, in libvirt's attribute order; a definition never has them."""
    xml = """<domain type='kvm' id='3'><name>n</name><memory>1024</memory>
      <os><type>hvm</type></os>
      <devices><interface type='network'><mac address='52:54:00:00:00:01'/>
        <source bridge='virbr0' portid='8b3cbd7e-8f3b-4a5e-9c57-1b3e0b4f2d6a' dev='x'
                network='default' portgroup='pg'/>
      </interface></devices></domain>"""
    live = DomainDef.from_xml(xml)
    source = ("<source network='default' portgroup='pg' "
              "portid='8b3cbd7e-8f3b-4a5e-9c57-1b3e0b4f2d6a' bridge='virbr0'/>")
    assert source in live.to_xml()
    assert source in DomainDef.from_xml(live.to_xml()).to_xml()
    assert "<source network='default' portgroup='pg'/>" in live.to_xml(inactive=True)
    assert ("<source network='default' portgroup='pg'/>"
            in DomainDef.from_xml(xml, inactive=True).to_xml())
