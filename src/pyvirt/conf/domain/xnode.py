"""Building blocks shared by the domain models.

``XNode`` is the model of an element pyvirt does not (yet) type: its tag, attributes, text and
children, kept so that a definition round-trips without losing what libvirt would keep.
``Reader`` walks an element while a typed model consumes attributes and children; whatever is
left becomes ``Extra``. ``Writer`` builds the output element from typed fields, then merges the
extras back and orders children the way libvirt's formatter does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.xmlutil import Element, keep_open

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


@dataclass
class XNode:
    """Base of the domain model's element classes."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    children: list[XNode] = field(default_factory=list)
    # An empty element written as an open and a close tag on two lines (libvirt prints some
    # blocks that way even when empty, e.g. <hyperv mode='passthrough'>).
    open_block: bool = False

    @classmethod
    def from_element(cls, el: Element) -> XNode:
        kids = [cls.from_element(ch) for ch in el if isinstance(ch.tag, str)]
        text = el.text
        block = False
        if kids or (text is not None and not text.strip() and "\n" in text):
            block = not kids
            text = None
        return cls(str(el.tag), dict(el.attrib), text, kids, block)

    def to_element(self, parent: Element | None = None) -> Element:
        el = etree.Element(self.tag) if parent is None else etree.SubElement(parent, self.tag)
        for key, value in self.attrs.items():
            el.set(key, value)
        if self.open_block and not self.children:
            keep_open(el, lines=True)
        if self.text is not None and not self.children:
            el.text = self.text
        for child in self.children:
            child.to_element(el)
        return el

    def find(self, tag: str) -> XNode | None:
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def findall(self, tag: str) -> list[XNode]:
        return [child for child in self.children if child.tag == tag]


@dataclass
class Extra:
    """Attributes and children a typed model did not consume (kept in document order).

    Each child remembers the tag of the element that preceded it in the input, so the writer
    can put it back in the same neighbourhood.
    """

    attrs: dict[str, str] = field(default_factory=dict)
    children: list[tuple[tuple[str, ...], XNode]] = field(default_factory=list)

    def copy(self) -> Extra:
        return copy.deepcopy(self)


class Reader:
    """Consume an element's attributes and children; the rest becomes ``extra()``."""

    def __init__(self, el: Element) -> None:
        self.el = el
        self._used_attrs: set[str] = set()
        self._used_children: set[int] = set()
        self._kids = [ch for ch in el if isinstance(ch.tag, str)]

    def attr(self, name: str) -> str | None:
        self._used_attrs.add(name)
        return self.el.get(name)

    def child(self, tag: str) -> Element | None:
        found = None
        for i, ch in enumerate(self._kids):
            if ch.tag == tag:
                self._used_children.add(i)
                if found is None:
                    found = ch
        return found

    def first(self, tag: str) -> Element | None:
        """Like child(), consuming only the first match."""
        for i, ch in enumerate(self._kids):
            if ch.tag == tag:
                self._used_children.add(i)
                return ch
        return None

    def children(self, tag: str) -> list[Element]:
        out = []
        for i, ch in enumerate(self._kids):
            if ch.tag == tag:
                self._used_children.add(i)
                out.append(ch)
        return out

    def text(self, tag: str) -> str | None:
        """Text of the first ``tag`` child; None when absent or empty (as virXPathString)."""
        ch = self.child(tag)
        if ch is None or not ch.text:
            return None
        return ch.text

    def extra(self) -> Extra:
        attrs = {k: v for k, v in self.el.attrib.items() if k not in self._used_attrs}
        kids: list[tuple[tuple[str, ...], XNode]] = []
        seen: list[str] = []
        for i, ch in enumerate(self._kids):
            if i not in self._used_children:
                kids.append((tuple(reversed(seen)), XNode.from_element(ch)))
            seen.append(str(ch.tag))
        return Extra(attrs, kids)


class Writer:
    """Collect an element's attributes and children, then build it in libvirt's order."""

    def __init__(self, tag: str, order: Sequence[str] = ()) -> None:
        self.tag = tag
        self.order = list(order)
        self.attrs: list[tuple[str, str]] = []
        self.kids: list[Element | XNode] = []
        self.text: str | None = None

    def attr(self, name: str, value: object) -> Writer:
        if value is not None:
            self.attrs.append((name, value if isinstance(value, str) else _fmt(value)))
        return self

    def child(self, node: Element | XNode | None) -> Writer:
        if node is not None:
            self.kids.append(node)
        return self

    def sub(self, tag: str, text: object = None, **attrs: object) -> Element:
        el = etree.Element(tag)
        for key, value in attrs.items():
            if value is not None:
                el.set(key.rstrip("_").replace("__", ":"), value if isinstance(value, str)
                       else _fmt(value))
        if text is not None:
            el.text = text if isinstance(text, str) else _fmt(text)
        self.kids.append(el)
        return el

    def build(self, extra: Extra | None = None, parent: Element | None = None) -> Element:
        el = etree.Element(self.tag) if parent is None else etree.SubElement(parent, self.tag)
        for key, value in self.attrs:
            el.set(key, value)
        if extra is not None:
            for key, value in extra.attrs.items():
                if key not in el.attrib:
                    el.set(key, value)
        entries: list[tuple[str, Element | XNode, tuple[str, ...]]] = [
            (_tag(k), k, ()) for k in self.kids
        ]
        if extra is not None:
            entries.extend((n.tag, n, prev) for prev, n in extra.children)
        for _, node, _ in sorted(entries, key=self._sort_key(entries)):
            if isinstance(node, XNode):
                node.to_element(el)
            else:
                el.append(node)
        if self.text is not None and not len(el):
            el.text = self.text
        return el

    def _sort_key(
        self, entries: list[tuple[str, Element | XNode, tuple[str, ...]]]
    ) -> Callable[[tuple[str, Element | XNode, tuple[str, ...]]], tuple[float, int]]:
        index = {id(e[1]): i for i, e in enumerate(entries)}
        order = self.order

        def key(entry: tuple[str, Element | XNode, tuple[str, ...]]) -> tuple[float, int]:
            tag, node, prevs = entry
            if tag in order:
                return (float(order.index(tag)), index[id(node)])
            # Unknown to the order list: keep it after the known element it followed.
            for prev in prevs:
                if prev in order:
                    return (order.index(prev) + 0.5, index[id(node)])
            return (-1.0, index[id(node)])

        return key


def _tag(node: Element | XNode) -> str:
    if isinstance(node, XNode):
        return node.tag
    # a raw (pre-formatted) node says which element it stands for
    return node.get("as") or str(node.tag)


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def iter_children(el: Element) -> Iterator[Element]:
    return (ch for ch in el if isinstance(ch.tag, str))
