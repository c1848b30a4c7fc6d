"""Document-level parsing for network and storage XML with libvirt's error reports.

libvirt reports the first libxml2 error of a malformed document under the calling
driver's error domain, followed by the offending line and a ``---^`` pointer to the column.
"""

from __future__ import annotations

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.errors import libvirtError, make_error, raise_error


def _context(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return "(null)\n^"  # libxml2 had no input line left to show
    content = lines[line - 1]
    pointer = "".join("\t" if ch == "\t" else "-" for ch in content[: max(column - 1, 0)])
    return f"{content}\n{pointer}^"


def parse_document(text: str | bytes, root: str, url: str, domain: int) -> x.Element:
    """Parse ``text`` whose root element must be ``root``; errors as libvirt's virXMLParse."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text == "":
        raise make_error(c.VIR_ERR_XML_DETAIL, domain=domain, int1=1,
                         message=f"{url}:1: Document is empty\n(null)\n^")
    try:
        element = x.parse_xml(text, url=url)
    except libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_XML_DETAIL and text.strip():
            raise
        # Re-parse with a fresh parser to read the first error with its position.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            etree.fromstring(text.encode("utf-8"), parser)
        except etree.XMLSyntaxError:
            # parser.error_log holds this parse only (the exception's log is thread-wide)
            entries = parser.error_log
            if len(entries):
                first = entries[0]
                message = (f"{url}:{first.line}: {first.message.strip()}\n"
                           f"{_context(text, first.line, first.column)}")
                raise make_error(c.VIR_ERR_XML_DETAIL, domain=domain, int1=first.line,
                                 message=message) from None
        raise
    if element.tag != root:
        raise_error(c.VIR_ERR_XML_ERROR,
                    f"expecting root element of '{root}', not '{x.local_name(element)}'",
                    domain=c.VIR_FROM_XML)
    return element
