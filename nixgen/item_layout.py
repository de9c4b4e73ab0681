"""Items of attribute sets and lists: how a new one is written and placed, what removing one takes.

New code copies its neighbours. :func:`render` writes a Python value as Nix text for a line
at a given indentation (multi-line values laid out by :mod:`nixgen.emit` at that nesting
level, kept on one line only when the whole line fits in 80 columns; raw code indented under
its line by :func:`indent_code`). :func:`insert_item` places a new binding or list element
after an anchor item, taking its indentation and line break (a one-line set that would grow
past 80 columns or take a multi-line value is opened up, one item per line);
:func:`closest_sibling` picks that anchor for a new key; :func:`insert_first` puts a binding
before all others (where ``imports`` belongs). :func:`item_span` is the inverse: the bytes a
binding or element owns (see :func:`nixgen.layout.removal_span`).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING

from nixgen import layout
from nixgen.attrpath import Dynamic, Segment, attr_name, attr_names, key_may_start_with
from nixgen.binding_index import items
from nixgen.change import edit_error
from nixgen.edits import Edit

if TYPE_CHECKING:
    from tree_sitter import Node

    from nixgen.document import Document

__all__ = [
    "MakeText",
    "closest_sibling",
    "column",
    "indent_code",
    "insert_first",
    "insert_item",
    "item_span",
    "merge_spans",
    "render",
    "too_wide",
]

_WIDTH = 80  # the column limit new one-line values must fit in, as nixfmt uses
_STRING_TYPES = frozenset({"string_expression", "indented_string_expression"})

#: ``make(line_indent, newline, column)`` -> the text of a new item placed at ``column``
MakeText = Callable[[str, str, int], str]


def _level(line_indent: str, unit: str) -> tuple[int, str]:
    """Nesting level for emit, and any extra prefix when the indent is not whole units."""
    if unit and line_indent == unit * (len(line_indent) // len(unit)):
        return len(line_indent) // len(unit), ""
    return 0, line_indent


def render(
    doc: Document,
    value: object,
    line_indent: str,
    newline: str,
    *,
    element: bool = False,
    lead: int = 0,
) -> str:
    """``value`` as Nix text for a line of ``doc`` indented by ``line_indent``.

    ``lead`` counts the columns the line already uses after its indentation (key, `` = ``,
    the ``;`` after), so that a value is kept on one line only if the whole line fits.
    ``element``: written as one term, as a list element or a function argument needs.
    """
    from nixgen import emit

    unit = doc.indent_unit
    level, rest = _level(line_indent, unit)
    fn = emit.to_nix_element if element else emit.to_nix
    width = max(_WIDTH - lead - len(rest.expandtabs(8)), 1)
    try:
        text = fn(value, indent=unit, level=level, newline=newline, width=width)
    except (ValueError, TypeError) as exc:
        raise edit_error(doc, f"cannot write this value as Nix: {exc}") from exc
    if isinstance(value, emit.Expr) and "\n" in text:
        return indent_code(text, line_indent)
    if rest and "\n" in text:
        lines = text.split("\n")
        text = "\n".join([lines[0], *[(rest + ln if ln.strip() else ln) for ln in lines[1:]]])
    return text


def indent_code(code: str, line_indent: str) -> str:
    """Raw Nix ``code`` with ``line_indent`` before each continuation line.

    Code written from column 0 then sits under the line it starts on. Lines that begin inside
    a string literal are part of its value and stay as written; blank lines stay empty.
    """
    from nixgen import syntax

    data = code.encode("utf-8")
    strings: list[tuple[int, int]] = []
    stack = [syntax.parse(data).root_node]
    while stack:
        node = stack.pop()
        if node.type in _STRING_TYPES:
            strings.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.children)
    lines = data.split(b"\n")
    out = [lines[0]]
    pos = len(lines[0]) + 1
    prefix = line_indent.encode("ascii")
    for line in lines[1:]:
        in_string = any(s < pos < e for s, e in strings)
        out.append(line if in_string or not line.strip() else prefix + line)
        pos += len(line) + 1
    return b"\n".join(out).decode("utf-8")


def column(data: bytes, pos: int) -> int:
    """0-based column of ``pos`` in characters."""
    start = layout.line_start(data, pos)
    return len(data[start:pos].decode("utf-8", "replace"))


def closest_sibling(data: bytes, attrset: Node, rest: tuple[Segment, ...]) -> Node | None:
    """The last item of ``attrset`` whose key shares the longest prefix with ``rest``."""
    best: Node | None = None
    best_len = 0
    for item in items(attrset):
        if item.type == "binding":
            if not key_may_start_with(data, item.start_byte, rest[0]):
                continue
            attrpath = item.child_by_field_name("attrpath")
            head = attrpath.named_child(0) if attrpath else None
            if head is None or attr_name(head, data) != rest[0]:
                continue
            keys = [n for n, _ in attr_names(attrpath, data)] if attrpath else []
        else:
            attrs = item.child_by_field_name("attrs")
            keys = [n for n, _ in attr_names(attrs, data)][:1] if attrs else []
        common = 0
        for a, b in zip(keys, rest, strict=False):
            if a.__class__ is Dynamic or a != b:
                break
            common += 1
        if common and common >= best_len:
            best, best_len = item, common
    return best


def insert_item(
    doc: Document,
    container: Node,
    make: MakeText,
    opener: str,
    anchor_item: Node | None = None,
) -> Edit:
    """The edit inserting one new item (binding or list element) into ``container``.

    It goes after ``anchor_item`` when given, else after the last item: on a new line
    with that item's indentation, or inline (`` item``) when the container is one line. A
    one-line set without comments is opened up instead when the new item is multi-line or
    its line would grow past 80 columns. ``opener`` is the container's opening bracket
    (``{`` or ``[``).
    """
    data = doc.data
    if container.type == "list_expression":
        found = [c for c in container.named_children if c.type != "comment"]
    else:
        found = items(container)
    if anchor_item is not None and anchor_item in found:
        before = found[: found.index(anchor_item) + 1]
    else:
        before = found
    edit = _insert_after(doc, container, before, make, opener)
    one_line = b"\n" not in data[container.start_byte : container.end_byte]
    if one_line and opener == "{" and ("\n" in edit.text or too_wide(data, edit)):
        return _open_set(doc, container, found, len(before), make) or edit
    return edit


def _insert_after(
    doc: Document, container: Node, found: list[Node], make: MakeText, opener: str
) -> Edit:
    """The edit inserting a new item after the last of ``found`` (items of ``container``)."""
    data = doc.data
    close = container.children[-1]
    open_tok = next((c for c in container.children if c.type == opener), container.children[0])
    one_line = b"\n" not in data[container.start_byte : container.end_byte]
    nl = layout.newline_at(data, container.start_byte, doc.newline)
    if found:
        last = found[-1]
        nl = layout.newline_at(data, last.end_byte, doc.newline)
        if one_line:
            ind = layout.line_indent(data, last.start_byte)
            col = column(data, last.end_byte) - len(ind) + 3
            return Edit(last.end_byte, last.end_byte, " " + make(ind, nl, col))
        if layout.starts_line(data, last.start_byte):
            ind = layout.line_indent(data, last.start_byte)
        elif layout.starts_line(data, close.start_byte):
            ind = layout.line_indent(data, close.start_byte) + doc.indent_unit
        else:
            ind = layout.line_indent(data, last.start_byte) + doc.indent_unit
        anchor = last.end_byte
    else:
        if one_line:
            inner = data[open_tok.end_byte : close.start_byte]
            if inner.strip(b" \t") == b"":
                ind = layout.line_indent(data, open_tok.start_byte)
                col = column(data, open_tok.end_byte) - len(ind) + 3
                return Edit(open_tok.end_byte, close.start_byte, " " + make(ind, nl, col) + " ")
            ind = layout.line_indent(data, open_tok.start_byte)
            col = column(data, close.start_byte) - len(ind) + 2
            return Edit(close.start_byte, close.start_byte, make(ind, nl, col) + " ")
        comments = [
            c
            for c in container.named_children
            if c.type == "comment" and c.start_byte > open_tok.end_byte
        ]
        if layout.starts_line(data, close.start_byte):
            ind = layout.line_indent(data, close.start_byte) + doc.indent_unit
        else:
            ind = layout.line_indent(data, open_tok.start_byte) + doc.indent_unit
        anchor = comments[-1].end_byte if comments else open_tok.end_byte
    trivia, after = layout.rest_of_line_is_trivia(data, anchor)
    pos = after if trivia else anchor
    return Edit(pos, pos, nl + ind + make(ind, nl, 0))


def insert_first(doc: Document, attrset: Node, make: MakeText) -> Edit:
    """The edit inserting a new binding before the first item of ``attrset``.

    It goes above the comment lines the first item owns, with that item's indentation; when
    the set separates its bindings by blank lines, a blank line follows it too.
    """
    data = doc.data
    found = items(attrset)
    if not found:
        return insert_item(doc, attrset, make, "{")
    first = found[0]
    ind = layout.line_indent(data, first.start_byte)
    nl = layout.newline_at(data, first.start_byte, doc.newline)
    if not layout.starts_line(data, first.start_byte):
        col = column(data, first.start_byte) - len(ind)
        return Edit(first.start_byte, first.start_byte, make(ind, nl, col) + " ")
    lower, _ = _lower_bound(first, attrset)
    start = layout.line_start(data, first.start_byte)
    while start > lower:
        prev = layout.line_start(data, start - 1)
        if prev < lower or not layout.is_comment_line(data, prev):
            break
        start = prev
    grouped = any(_has_blank_line(data[a.end_byte : b.start_byte]) for a, b in pairwise(found))
    text = ind + make(ind, nl, 0) + nl + (nl if grouped else "")
    return Edit(start, start, text)


def _has_blank_line(between: bytes) -> bool:
    """Whether the bytes between two items hold an empty line."""
    lines = between.split(b"\n")
    return any(line.strip(b" \t\r") == b"" for line in lines[1:-1])


def too_wide(data: bytes, edit: Edit) -> bool:
    """Whether an inline insertion makes its line longer than 80 characters."""
    if "\n" in edit.text:
        return False
    start = layout.line_start(data, edit.start)
    end = layout.line_end(data, edit.end)
    before = data[start : edit.start].decode("utf-8", "replace")
    after = data[edit.end : end].decode("utf-8", "replace")
    return len(before) + len(edit.text) + len(after) > _WIDTH


def _open_set(
    doc: Document, attrset: Node, found: list[Node], at: int, make: MakeText
) -> Edit | None:
    """Rewrite a one-line set as one item per line with the new item at index ``at``.

    None when the set holds a comment (which the rewrite could misplace) or sits inside
    another bracket opened on its line (which would be left half open).
    """
    data = doc.data
    if any(c.type == "comment" for c in attrset.named_children):
        return None
    open_tok = next((c for c in attrset.children if c.type == "{"), None)
    close = attrset.children[-1]
    if open_tok is None or close.type != "}":
        return None
    lead = data[layout.line_start(data, attrset.start_byte) : attrset.start_byte]
    if any(bracket in lead for bracket in (b"{", b"[", b"(")):
        return None
    nl = layout.newline_at(data, attrset.start_byte, doc.newline)
    outer = layout.line_indent(data, attrset.start_byte)
    inner = outer + doc.indent_unit
    texts = [data[n.start_byte : n.end_byte].decode("utf-8") for n in found]
    texts.insert(at, make(inner, nl, 0))
    lines = ["{", *[inner + t for t in texts], outer + "}"]
    return Edit(open_tok.start_byte, close.end_byte, nl.join(lines))


def item_span(data: bytes, node: Node, container: Node | None) -> tuple[int, int]:
    """The bytes removing the item ``node`` of ``container`` takes (with what it owns)."""
    lower, first = _lower_bound(node, container)
    return layout.removal_span(data, node.start_byte, node.end_byte, lower, first=first)


def _lower_bound(node: Node, container: Node | None) -> tuple[int, bool]:
    """End of the previous sibling item, or of the opening bracket (then True)."""
    prev = node.prev_sibling
    while prev is not None and prev.type == "comment":
        prev = prev.prev_sibling
    if prev is not None and prev.type not in ("{", "["):
        return prev.end_byte, False
    if container is not None:
        for child in container.children:
            if child.type in ("{", "["):
                return child.end_byte, True
        return container.start_byte, True
    return (node.parent.start_byte if node.parent is not None else 0), True


def merge_spans(spans: list[tuple[int, int]]) -> list[Edit]:
    """Deletions of the given byte spans, overlapping or touching ones joined."""
    out: list[Edit] = []
    for s, e in sorted(set(spans)):
        if out and s <= out[-1].end:
            prev = out.pop()
            out.append(Edit(prev.start, max(prev.end, e), ""))
        else:
            out.append(Edit(s, e, ""))
    return out
