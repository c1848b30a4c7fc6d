"""Shared XML plumbing for the conf/ models: safe parsing, libvirt-style output, units, UUIDs.

Models parse from an lxml element into typed dataclasses and format back by building an lxml
element tree; ``to_string`` prints that tree the way libvirt's formatter does (two-space
indent, single-quoted attributes, ``<x/>`` for empty elements, libvirt's escaping).
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.errors import raise_error

# lxml ships no type information; to mypy an element is Any. At run time the name is only
# ever an annotation: binding it to lxml's class would import lxml (~25 ms), and to
# typing.Any would import typing (~6 ms), in every process that merely imports a module
# naming it (pyvirsh's start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TypeAlias

    from lxml import etree

    Element: TypeAlias = Any
else:
    Element = object

    class _LazyEtree:
        """Stands for lxml.etree until its first use, which imports it and replaces this
        module's ``etree`` (and ``_PARSER``) globals with the real objects."""

        def __getattr__(self, name: str) -> Any:
            return getattr(_load_lxml(), name)

    etree = _LazyEtree()

# Built by _load_lxml; its one reader (parse_xml) reaches ``etree`` first.
_PARSER: Any = None


def _load_lxml() -> Any:
    global etree, _PARSER
    from lxml import etree as real

    # Safe by construction: no entity expansion, no DTD loading, no network, no huge trees.
    _PARSER = real.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    etree = real
    return real

# A placeholder element whose text is already-formatted XML (e.g. <metadata> children),
# emitted verbatim, re-indented, by to_string().
RAW_TAG = "{urn:pyvirt:raw}raw"

# Marks an element printed as <x></x> rather than <x/> when it has no content, for the few
# places libvirt prints an empty string between tags (e.g. capabilities' <doi></doi>).
KEEP_OPEN_ATTR = "{urn:pyvirt:raw}keep-open"
# Marker: print this element's namespace declarations after its attributes (libvirt's
# "<domain type='kvm' xmlns:qemu='...'>").
NS_LAST_ATTR = "{urn:pyvirt:raw}ns-last"


def _context(text: str, line: int, column: int) -> str:
    """libvirt's two context lines under a parse error: the offending line and a ``---^``
    pointer to the column (tabs kept so the pointer lines up)."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return "(null)\n^"  # libxml2 had no input line left to show: libvirt prints NULL
    content = lines[line - 1]
    pointer = "".join("\t" if ch == "\t" else "-" for ch in content[: max(column - 1, 0)])
    return f"{content}\n{pointer}^"


def _syntax_error(data: bytes, url: str) -> str:
    """libvirt's report of the first fatal libxml2 error in ``data``, context lines included."""
    text = data.decode("utf-8", errors="replace")
    if not data:
        return f"{url}:1: Document is empty\n(null)\n^"
    # A fresh parser: its error_log holds this parse only (an exception's log is thread-wide
    # and may carry earlier errors), and libvirt reports the first error, not the last.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        entries = parser.error_log
        if len(entries):
            first = entries[0]
            return (f"{url}:{first.line}: {first.message.strip()}\n"
                    f"{_context(text, first.line, first.column)}")
        return f"{url}:0: {str(exc).strip()}\n(null)\n^"
    return f"{url}:0: parser error\n(null)\n^"


def parse_xml(text: str | bytes, root: str | None = None, url: str = "(xml)") -> Element:
    """Parse ``text`` and check its root tag. Errors are libvirt's XML errors.

    ``url`` names the document in messages, as libvirt does ("(domain_definition)"); a
    syntax error reads as libvirt's: libxml2's message, the offending line and a pointer.
    """
    if isinstance(text, str):
        data = text.encode("utf-8")
    else:
        data = text
    if not data:
        raise_error(c.VIR_ERR_XML_DETAIL, _syntax_error(data, url), domain=c.VIR_FROM_XML)
    try:
        doc = etree.fromstring(data, _PARSER, base_url=None).getroottree()
    except etree.XMLSyntaxError:
        raise_error(c.VIR_ERR_XML_DETAIL, _syntax_error(data, url), domain=c.VIR_FROM_XML)
    if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
        raise_error(
            c.VIR_ERR_XML_ERROR,
            f"{url}: XML documents with a DOCTYPE or entity declarations are not accepted",
            domain=c.VIR_FROM_XML,
        )
    element = doc.getroot()
    for node in element.iter():
        if isinstance(node, etree._Entity):
            raise_error(
                c.VIR_ERR_XML_ERROR,
                f"{url}: XML entity references are not accepted",
                domain=c.VIR_FROM_XML,
            )
    if root is not None and element.tag != root:
        raise_error(
            c.VIR_ERR_XML_ERROR,
            f"expecting root element of '{root}', not '{local_name(element)}'",
            domain=c.VIR_FROM_XML,
        )
    return element


def parse_document(text: str | bytes, root: str | None, url: str, domain: int) -> Element:
    """``parse_xml`` for a model whose syntax errors libvirt reports in its own error
    ``domain`` (e.g. VIR_FROM_INTERFACE for "(interface_definition)")."""
    from pyvirt.errors import libvirtError, make_error

    try:
        return parse_xml(text, root, url)
    except libvirtError as exc:
        if exc.get_error_code() != c.VIR_ERR_XML_DETAIL:
            raise
        raise make_error(c.VIR_ERR_XML_DETAIL, exc.get_str2(), domain=domain,
                         message=str(exc)) from None


def local_name(element: Element) -> str:
    return etree.QName(element).localname


# ---- output --------------------------------------------------------------------------------

_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;"}
_needs_escape: Any = None  # compiled on first use: re stays off pyvirsh's start-up path


def escape(text: str) -> str:
    """libvirt's escaping for attribute values and text (control characters are dropped)."""
    global _needs_escape
    if _needs_escape is None:
        import re

        _needs_escape = re.compile(r"[<>&'\"\x00-\x08\x0b\x0c\x0e-\x1f]")
    if not _needs_escape.search(text):
        return text
    return _needs_escape.sub(lambda m: _ESCAPES.get(m.group(), ""), text)


def to_string(element: Element, indent: int = 0) -> str:
    """Format ``element`` as libvirt does, ending with a newline."""
    out: list[str] = []
    _format(element, indent, out)
    return "".join(out)


def _qualified(element: Element, name: str) -> str:
    qname = etree.QName(name)
    if qname.namespace is None:
        return qname.localname
    for prefix, uri in (element.nsmap or {}).items():
        if uri == qname.namespace and prefix:
            return f"{prefix}:{qname.localname}"
    return qname.localname


def _format(element: Element, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if element.tag == RAW_TAG:
        for line in (element.text or "").splitlines():
            out.append(f"{pad}{line}\n" if line.strip() else "\n")
        return
    name = _qualified(element, element.tag)
    parts = [pad, "<", name]
    # Namespace declarations introduced at this element (e.g. xmlns:qemu on <domain>).
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    ns_parts = []
    for prefix, uri in (element.nsmap or {}).items():
        if inherited.get(prefix) != uri and uri != "urn:pyvirt:raw":
            attr = f"xmlns:{prefix}" if prefix else "xmlns"
            ns_parts.append(f" {attr}='{escape(uri)}'")
    ns_last = NS_LAST_ATTR in element.attrib
    if not ns_last:
        parts.extend(ns_parts)
    keep_open = ""
    for key, value in element.attrib.items():
        if key == KEEP_OPEN_ATTR:
            keep_open = value
            continue
        if key == NS_LAST_ATTR:
            continue
        parts.append(f" {_qualified(element, key)}='{escape(value)}'")
    if ns_last:
        parts.extend(ns_parts)
    children = [child for child in element if isinstance(child.tag, str)]
    text = element.text
    if not children:
        if keep_open == "lines" and not text:
            parts.append(f">\n{pad}</{name}>\n")
        elif (text is None or text == "") and not keep_open:
            parts.append("/>\n")
        else:
            parts.append(f">{escape(text or '')}</{name}>\n")
        out.append("".join(parts))
        return
    parts.append(">\n")
    out.append("".join(parts))
    for child in children:
        _format(child, depth + 1, out)
    out.append(f"{pad}</{name}>\n")


def sub(
    parent: Element, tag: str, text: str | int | None = None, **attrs: str | int | None
) -> Element:
    """Append child ``tag`` with ``attrs`` (None values left out) and optional ``text``."""
    child = etree.SubElement(parent, tag)
    for key, value in attrs.items():
        if value is not None:
            child.set(key.rstrip("_").replace("__", ":"), str(value))
    if text is not None:
        child.text = str(text)
    return child


def element(
    tag: str, nsmap: dict[str | None, str] | None = None, **attrs: str | int | None
) -> Element:
    node = etree.Element(tag, nsmap=nsmap)
    for key, value in attrs.items():
        if value is not None:
            node.set(key.rstrip("_"), str(value))
    return node


def keep_open(node: Element, lines: bool = False) -> Element:
    """Print ``node`` as <x></x> even when empty (libvirt's "<%s>%s</%s>" with ""), or
    with ``lines`` as an open and a close tag on two lines (an empty libvirt block)."""
    node.set(KEEP_OPEN_ATTR, "lines" if lines else "inline")
    return node


def raw(parent: Element, formatted_xml: str) -> Element:
    """Append already-formatted XML, printed verbatim (re-indented to the parent's depth)."""
    node = etree.SubElement(parent, RAW_TAG)
    node.text = formatted_xml
    return node


# ---- reading helpers ----------------------------------------------------------------------


def text_of(parent: Element, path: str) -> str | None:
    """Text of the first element at ``path`` (None when absent; '' when empty)."""
    node = parent.find(path)
    if node is None:
        return None
    return node.text or ""


def xml_error(detail: str) -> None:
    raise_error(c.VIR_ERR_XML_ERROR, detail, domain=c.VIR_FROM_DOMAIN)


def parse_int(value: str | None, what: str, *, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip(), 0) if value.strip().lower().startswith("0x") else int(value)
    except ValueError:
        raise_error(
            c.VIR_ERR_XML_ERROR, f"Invalid value '{value}' for {what}", domain=c.VIR_FROM_XML
        )
    if minimum is not None and number < minimum:
        raise_error(
            c.VIR_ERR_XML_ERROR, f"Invalid value '{value}' for {what}", domain=c.VIR_FROM_XML
        )
    return number


def parse_bool(value: str | None, what: str, true: str = "yes", false: str = "no") -> bool | None:
    """Parse a libvirt yes/no (or on/off) attribute; None when absent."""
    if value is None:
        return None
    if value == true:
        return True
    if value == false:
        return False
    raise_error(c.VIR_ERR_XML_ERROR, f"Invalid value '{value}' for {what}", domain=c.VIR_FROM_XML)


def yes_no(flag: bool | None) -> str | None:
    return None if flag is None else ("yes" if flag else "no")


def on_off(flag: bool | None) -> str | None:
    return None if flag is None else ("on" if flag else "off")


# ---- units --------------------------------------------------------------------------------

_UNIT_FACTORS: dict[str, int] = {}
for _names, _power, _base in (
    (("b", "byte", "bytes"), 0, 1024),
    (("KB",), 1, 1000),
    (("k", "K", "KiB"), 1, 1024),
    (("MB",), 2, 1000),
    (("m", "M", "MiB"), 2, 1024),
    (("GB",), 3, 1000),
    (("g", "G", "GiB"), 3, 1024),
    (("TB",), 4, 1000),
    (("t", "T", "TiB"), 4, 1024),
    (("PB",), 5, 1000),
    (("p", "P", "PiB"), 5, 1024),
    (("EB",), 6, 1000),
    (("e", "E", "EiB"), 6, 1024),
):
    for _name in _names:
        _UNIT_FACTORS[_name] = _base**_power

ULLONG_MAX = 2**64 - 1


def scale(
    value: str, unit: str | None, default_unit: str, what: str, limit: int = ULLONG_MAX
) -> int:
    """Scale ``value`` in ``unit`` to bytes, as libvirt's virScaleInteger does."""
    number = parse_int(value, what, minimum=0)
    assert number is not None
    factor = _UNIT_FACTORS.get(unit if unit else default_unit)
    if factor is None:
        raise_error(c.VIR_ERR_INVALID_ARG, f"unknown suffix '{unit}'", domain=c.VIR_FROM_NONE)
    result = number * factor
    if result > limit:
        raise_error(
            c.VIR_ERR_OVERFLOW, f"value too large: {value}{unit or ''}", domain=c.VIR_FROM_NONE
        )
    return result


def parse_memory_kib(node: Element | None, what: str, default_unit: str = "KiB") -> int | None:
    """A <memory unit='...'>N</memory>-style element as KiB, rounded up like libvirt."""
    if node is None:
        return None
    text = (node.text or "").strip()
    if not text:
        return None
    nbytes = scale(text, node.get("unit"), default_unit, what)
    return (nbytes + 1023) // 1024


# ---- UUIDs --------------------------------------------------------------------------------

_UUID_CHARS = frozenset("0123456789abcdefABCDEF-")


def parse_uuid(text: str) -> str | None:
    """Canonical form of a UUID string as libvirt's parser accepts it (hyphens anywhere
    between byte pairs, surrounding blanks); None when it is not a UUID."""
    body = text.strip()  # no regex: parse_uuid is on pyvirsh's start-up path, re is not
    if not body or body[0] == "-" or not _UUID_CHARS.issuperset(body):
        return None
    digits = body.replace("-", "")
    if len(digits) != 32:
        return None
    # str(uuid.UUID(digits)), without importing uuid (and platform with it) to parse XML.
    d = digits.lower()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"


# uuid imports platform (a few ms): imported where a UUID object is really needed.


def new_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def uuid_bytes(text: str) -> bytes:
    import uuid

    return uuid.UUID(text).bytes


def uuid_from_bytes(raw_uuid: bytes) -> str:
    import uuid

    return str(uuid.UUID(bytes=bytes(raw_uuid)))


def children(parent: Element, tag: str) -> Iterable[Element]:
    return parent.iterfind(tag)
