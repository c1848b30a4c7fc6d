"""A small read-only element tree built straight on expat, for start-up paths.

test:///default opens by reading a few values and the domains' names out of a document
known to be valid; the stdlib's ElementTree costs ~5 ms of imports for that and lxml ~25 ms.
``scan()`` builds ``ScanElement`` nodes that answer the ElementTree calls those readers make
(``get``, ``find``/``findall``/``iterfind``/``findtext`` with plain ``a/b`` paths, iteration,
``itertext``) and remember where each element lies in the source, so that ``source()``
hands the exact original text to the full parser when a model is finally needed.
"""

from __future__ import annotations

from pyexpat import ParserCreate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class ScanElement:
    """One element: tag, attributes, text (before the first child), tail, children."""

    __slots__ = ("tag", "attrib", "text", "tail", "_children", "_doc", "_start", "_end")

    def __init__(self, tag: str, attrib: dict[str, str], doc: bytes, start: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.text: str | None = None
        self.tail: str | None = None
        self._children: list[ScanElement] = []
        self._doc = doc
        self._start = start
        self._end = start

    def __iter__(self) -> Iterator[ScanElement]:
        return iter(self._children)

    def __len__(self) -> int:
        return len(self._children)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.attrib.get(key, default)

    def iterfind(self, path: str) -> Iterator[ScanElement]:
        level = [self]
        for step in path.split("/"):
            level = [child for node in level for child in node._children if child.tag == step]
        return iter(level)

    def findall(self, path: str) -> list[ScanElement]:
        return list(self.iterfind(path))

    def find(self, path: str) -> ScanElement | None:
        return next(self.iterfind(path), None)

    def findtext(self, path: str, default: str | None = None) -> str | None:
        node = self.find(path)
        if node is None:
            return default
        return node.text or ""

    def itertext(self) -> Iterator[str]:
        if self.text:
            yield self.text
        for child in self._children:
            yield from child.itertext()
            if child.tail:
                yield child.tail

    def source(self) -> bytes:
        """The element's text exactly as it appears in the scanned document."""
        return self._doc[self._start:self._end]


def scan(data: bytes) -> ScanElement:
    """The root element of ``data``. The document must be well-formed and use no
    namespaces or entities beyond XML's own: this is for documents pyvirt ships."""
    parser = ParserCreate()
    stack: list[ScanElement] = []
    texts: list[str] = []
    root: list[ScanElement] = []

    def flush() -> str | None:
        text = "".join(texts) if texts else None
        texts.clear()
        return text

    def start(tag: str, attrib: dict[str, str]) -> None:
        text = flush()
        if stack:
            parent = stack[-1]
            if parent._children:
                parent._children[-1].tail = text
            else:
                parent.text = text
        pos = parser.CurrentByteIndex
        node = ScanElement(tag, attrib, data, pos)
        tag_end = _tag_end(data, pos)
        if data[tag_end - 2] == 0x2F:  # '/': an empty-element tag is the whole element
            node._end = tag_end
        if stack:
            stack[-1]._children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        node = stack.pop()
        text = flush()
        if node._children:
            node._children[-1].tail = text
        else:
            node.text = text
        if node._end == node._start:  # not an empty-element tag: now at its end tag
            node._end = _tag_end(data, parser.CurrentByteIndex)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = texts.append
    parser.Parse(data, True)
    return root[0]


def _tag_end(data: bytes, pos: int) -> int:
    """The offset just past the tag starting at ``pos``, whose attribute values may hold
    a '>'."""
    quote = 0
    for i in range(pos, len(data)):
        ch = data[i]
        if quote:
            if ch == quote:
                quote = 0
        elif ch in (0x22, 0x27):  # " '
            quote = ch
        elif ch == 0x3E:  # >
            return i + 1
    return len(data)
