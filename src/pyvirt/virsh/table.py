"""virsh's table layout (tools/vsh-table.c).

Each cell is printed as " <text>", padded to its column's width plus two spaces (the last
column is not padded); the header is followed by a line of dashes, width + 3 per column.
Column widths count display cells: wide characters count 2, combining marks 0, and control
characters (and a literal "\\x") are shown hex-escaped as ``\\xNN``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType


def _unicodedata() -> ModuleType:
    # Imported for the first non-ASCII cell: most tables never need it.
    import unicodedata

    return unicodedata


def _safe(text: str) -> tuple[str, int]:
    """vshTableSafeEncode: the printable form of ``text`` and its display width."""
    out: list[str] = []
    width = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if (ch == "\\" and text[i + 1:i + 2] == "x") or (ord(ch) < 32 or ord(ch) == 127):
            out.append(f"\\x{ord(ch):02x}")
            width += 4
        elif not ch.isprintable() and ch != " ":
            for byte in ch.encode("utf-8", "surrogateescape"):
                out.append(f"\\x{byte:02x}")
                width += 4
        else:
            out.append(ch)
            if ord(ch) < 128:
                width += 1
            elif _unicodedata().combining(ch) or _unicodedata().category(ch) in ("Mn", "Me", "Cf"):
                pass
            else:
                width += 2 if _unicodedata().east_asian_width(ch) in ("W", "F") else 1
        i += 1
    return "".join(out), width


def _row(cells: list[tuple[str, int]], maxwidths: list[int]) -> str:
    parts: list[str] = []
    last = len(cells) - 1
    for i, (text, width) in enumerate(cells):
        parts.append(" " + text)
        if i < last:
            parts.append(" " * (maxwidths[i] - width + 2))
    return "".join(parts) + "\n"


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], header: bool = True) -> str:
    """The table as virsh prints it; ``header`` False (virsh --quiet) omits the header and
    its dashes, and the header no longer counts for column widths."""
    ncols = len(headers)
    maxwidths = [0] * ncols
    head = [_safe(h) for h in headers]
    if header:
        for i, (_, w) in enumerate(head):
            maxwidths[i] = max(maxwidths[i], w)
    body: list[list[tuple[str, int]]] = []
    for row in rows:
        cells = [_safe(str(cell)) for cell in row]
        for i, (_, w) in enumerate(cells[:ncols]):
            maxwidths[i] = max(maxwidths[i], w)
        body.append(cells)
    out: list[str] = []
    if header:
        out.append(_row(head, maxwidths))
        out.append("".join("-" * (w + 3) for w in maxwidths) + "\n")
    out.extend(_row(cells, maxwidths) for cells in body)
    return "".join(out)
