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

Raw code keeps a careful human's layout in the file: its line breaks become the file's and
each of its indentation levels one level of the file's unit (:func:`indent_code`). Code that
ends in a ``#`` comment (:func:`split_comment`) gets the comment where a line break ends it:
after the new item on its own line, or moved to the end of the item's line
(:func:`place_comment`, checked by :func:`comment_kept`).

Names of a ``rec { … }`` set are variables of the code inside it: :func:`rec_scope_check`
refuses an edit that adds a name such code reads (it would capture it) or takes away one it
reads (it would dangle).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING

from nixgen import layout, scope
from nixgen.attrpath import Dynamic, Segment, attr_name, attr_names, key_may_start_with
from nixgen.binding_index import items
from nixgen.change import Change, edit_error, make_change
from nixgen.edits import Edit
from nixgen.errors import EditError

if TYPE_CHECKING:
    from tree_sitter import Node

    from nixgen.document import Document

__all__ = [
    "ONE_LINE",
    "MakeText",
    "closest_sibling",
    "column",
    "comment_ends_line",
    "comment_kept",
    "commented_change",
    "indent_code",
    "insert_first",
    "insert_item",
    "item_span",
    "merge_spans",
    "place_comment",
    "rec_scope_check",
    "render",
    "split_comment",
    "too_wide",
]

_WIDTH = 80  # the column limit new one-line values must fit in, as nixfmt uses
_STRING_TYPES = frozenset({"string_expression", "indented_string_expression"})

#: ``make(line_indent, newline, column)`` -> the text of a new item placed at ``column``
MakeText = Callable[[str, str, int], str]

#: a ``column`` (or ``lead``) that lifts the width limit: the value stays on one line
ONE_LINE = -(1 << 30)


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
        return indent_code(text, line_indent, newline, unit)
    if rest and "\n" in text:
        return indent_code(text, rest, newline)
    return text


def indent_code(code: str, line_indent: str, newline: str = "\n", unit: str = "") -> str:
    """Raw Nix ``code`` with ``line_indent`` before each continuation line.

    Code written from column 0 then sits under the line it starts on. Its line breaks become
    ``newline``; with ``unit`` (the file's indentation step), each indentation level of the
    code's own lines (in the code's own step) becomes one ``unit``, alignment beyond whole
    levels kept as spaces. Blank lines stay empty.

    Lines that begin inside a string literal are part of its value and stay as written. A
    line break inside a ``"…"`` string takes ``newline`` (Nix reads any line break there as
    ``\\n``); inside a ``''…''`` string it stays as given, since Nix keeps a carriage return
    there as part of the value.
    """
    from nixgen import syntax

    data = code.encode("utf-8")
    contents = _string_contents(syntax.parse(data).root_node)
    own = layout.detect_indent_unit(data) if unit else ""
    prefix = line_indent.encode("ascii")
    lines = data.split(b"\n")
    out = [lines[0]]
    at = len(lines[0])  # offset of the line break before the next line
    for line in lines[1:]:
        kind = next((k for s, e, k in contents if s <= at < e), None)
        if kind == "indented_string_expression":
            out.append(b"\n")
        else:
            out[-1] = out[-1].removesuffix(b"\r")
            out.append(newline.encode("ascii"))
        if kind is None and line.strip():
            out.append(prefix + _reindent(line, own, unit))
        elif kind is None:
            out.append(b"")
        else:
            out.append(line)
        at += len(line) + 1
    return b"".join(out).decode("utf-8")


def _string_contents(root: Node) -> list[tuple[int, int, str]]:
    """(start, end, string type) of the text parts of every string literal under ``root``.

    A part runs between the quotes, interpolations left out (their code is not the string's).
    """
    found: list[tuple[int, int, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type not in _STRING_TYPES:
            stack.extend(node.children)
            continue
        width = 2 if node.type == "indented_string_expression" else 1
        start = node.start_byte + width
        for child in node.children:
            if child.type == "interpolation":
                found.append((start, child.start_byte, node.type))
                start = child.end_byte
                stack.append(child)
        found.append((start, node.end_byte - width, node.type))
    return found


def _reindent(line: bytes, own: str, unit: str) -> bytes:
    """``line`` with its leading whitespace in levels of ``own`` rewritten in ``unit``."""
    if not unit or own == unit:
        return line
    body = line.lstrip(b" \t")
    lead = line[: len(line) - len(body)].decode("ascii")
    if own == "\t":
        tabs = len(lead) - len(lead.lstrip("\t"))
        levels, rest = tabs, lead[tabs:]
    else:
        levels, extra = divmod(len(lead.expandtabs(8)), len(own))
        rest = " " * extra
    return (unit * levels + rest).encode("ascii") + body


def split_comment(value: object) -> tuple[object, str | None]:
    """Raw code ending in a ``#`` comment as (the code without it, the comment); else (value, None).

    A ``#`` comment runs to the end of its line, so it can only end a line of the file: the
    callers place it there (:func:`place_comment`).
    """
    from nixgen import syntax
    from nixgen.emit import Expr

    if not isinstance(value, Expr):
        return value, None
    code = value.code.strip()
    data = code.encode("utf-8")
    if not data:
        return value, None
    last = syntax.parse(data).root_node.descendant_for_byte_range(len(data) - 1, len(data))
    if last is None or last.type != "comment" or not data[last.start_byte :].startswith(b"#"):
        return value, None
    rest = data[: last.start_byte].rstrip()
    if not rest:
        return value, None
    return Expr(rest.decode("utf-8")), data[last.start_byte :].decode("utf-8").rstrip()


def _comment_at(edit: Edit, comment: str) -> int:
    """Offset in ``edit.text`` of the new item's comment (its last occurrence); -1 if absent."""
    return edit.text.rfind(comment)


def comment_ends_line(data: bytes, edit: Edit, comment: str) -> bool:
    """Whether the comment written in ``edit`` is followed by a line break (or the end)."""
    at = _comment_at(edit, comment)
    if at < 0:
        return False
    after = edit.text[at + len(comment) :]
    if after.strip(" \t"):
        return after.lstrip(" \t")[:1] in ("\n", "\r")
    return data[edit.end : layout.line_end(data, edit.end)].strip(b" \t") == b""


def place_comment(data: bytes, edit: Edit, comment: str) -> Edit:
    """``edit`` (written without the comment) with ``comment`` where a line break ends it.

    Right after the new text when a line break follows it; else at the end of the line the
    edit ends on, after the code that follows there (``a = 1; # comment``): the edit then
    spans to that line end, the bytes in between rewritten as they were.
    """
    text = edit.text
    stripped = text.rstrip("\r\n")
    if stripped != text:
        return Edit(edit.start, edit.end, f"{stripped} {comment}{text[len(stripped):]}")
    end = layout.line_end(data, edit.end)
    rest = data[edit.end : end].decode("utf-8")
    if not rest.strip(" \t"):
        return Edit(edit.start, end, f"{text} {comment}")
    rest = rest.rstrip(" \t")
    return Edit(edit.start, end, f"{text}{rest} {comment}")


def commented_change(doc: Document, edits: list[Edit], comment: str | None) -> Change:
    """:func:`nixgen.change.make_change`, checking that a value's ``comment`` stays one.

    EditError naming the value's comment when the result does not keep it as a comment of
    its own (it would end up inside a string or another comment, or break the syntax).
    """
    if comment is None:
        return make_change(doc, edits)
    try:
        change: Change | None = make_change(doc, edits)
    except EditError:
        change = None
    if change is None or not comment_kept(change.document, change.edits, comment):
        raise edit_error(
            doc,
            f"the value ends in a comment ({comment}) that cannot be placed here so that it "
            "still ends its line; give the value without the comment",
        )
    return change


def comment_kept(doc: Document, edits: tuple[Edit, ...], comment: str) -> bool:
    """Whether ``doc`` (the result of ``edits``) holds ``comment`` as a comment of its own."""
    delta = 0
    for edit in sorted(edits):
        at = _comment_at(edit, comment)
        if at >= 0:
            start = edit.start + delta + len(edit.text[:at].encode("utf-8"))
            end = start + len(comment.encode("utf-8"))
            node = doc.tree.root_node.descendant_for_byte_range(start, end)
            # a comment before CRLF holds the carriage return
            ends = (end, end + 1) if doc.data[end : end + 1] == b"\r" else (end,)
            return (
                node is not None
                and node.type == "comment"
                and node.start_byte == start
                and node.end_byte in ends
            )
        delta += len(edit.text.encode("utf-8")) - (edit.end - edit.start)
    return False


_REC_WHY = {
    "adds": "would then read the new attribute instead of what it reads now",
    "removes": "would then be left undefined (or read another variable of that name)",
    "changes": "would then see the attribute set without the old path (a reference such as "
    "{name}.… could break)",
}


def rec_scope_check(
    doc: Document,
    attrset: Node | None,
    name: object,
    action: str,
    kind: str,
    skip: tuple[tuple[int, int], ...] = (),
) -> None:
    """EditError when ``attrset`` is ``rec`` and code inside it reads the variable ``name``.

    ``kind`` says what the edit does to the set's attribute ``name``: ``"adds"`` it (the code
    would read it instead of what it reads now), ``"removes"`` it (the code would read a
    variable no longer there) or ``"changes"`` a path below it (a reference to the old path
    would break). ``action`` names the edit for the message; ``skip`` are byte spans the edit
    removes, whose code no longer counts.
    """
    if attrset is None or not isinstance(name, str):
        return
    uses = scope.rec_uses(attrset, doc.data, name, skip)
    if not uses:
        return
    line, col = doc.line_col(attrset.start_byte)
    why = _REC_WHY[kind].format(name=name)
    raise edit_error(
        doc,
        f"cannot {action}: the rec set at line {line}, col {col} reads the variable {name} "
        f"here, which {why}",
        uses[0].start_byte,
    )


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
    comment: str | None = None,
) -> Edit:
    """The edit inserting one new item (binding or list element) into ``container``.

    It goes after ``anchor_item`` when given, else after the last item: on a new line
    with that item's indentation, or inline (`` item``) when the container is one line. A
    one-line set is opened up instead (its comments kept on their items' lines) when the new item is multi-line, ends
    in a ``comment`` or its line would grow past 80 columns; a one-line set that cannot be
    opened (it shares its line with an outer bracket) keeps the item on one line. ``opener``
    is the container's opening bracket (``{`` or ``[``). ``comment`` (a ``#`` comment of the
    item) is written after the item where a line break ends it, else at the end of the line
    (:func:`place_comment`).
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

    def full(ind: str, nl: str, col: int) -> str:
        text = make(ind, nl, col)
        return f"{text} {comment}" if comment else text

    edit = _insert_after(doc, container, before, full, opener)
    one_line = b"\n" not in data[container.start_byte : container.end_byte]
    if comment and comment_ends_line(data, edit, comment):
        return edit
    if one_line and opener == "{" and (
        "\n" in edit.text or too_wide(data, edit) or comment is not None
    ):
        opened = _open_set(doc, container, found, len(before), full)
        if opened is not None:
            return opened
        if "\n" in edit.text:
            edit = _insert_after(
                doc, container, before, lambda i, n, _c: full(i, n, ONE_LINE), opener
            )
    if comment:
        plain = _insert_after(doc, container, before, make, opener)
        if "\n" in plain.text and one_line:
            plain = _insert_after(
                doc, container, before, lambda i, n, _c: make(i, n, ONE_LINE), opener
            )
        return place_comment(data, plain, comment)
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

    A comment between the items stays on the line of the item it follows (right after ``{``
    when it comes first). None when the set sits inside another bracket opened on its line
    (which would be left half open).
    """
    data = doc.data
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
    children = [
        c
        for part in attrset.named_children
        for c in (part.named_children if part.type == "binding_set" else (part,))
    ]
    head, texts = layout.items_with_comments(children, data, "{")
    if len(texts) != len(found):
        return None
    texts.insert(at, make(inner, nl, 0))
    lines = [head, *[inner + t for t in texts], outer + "}"]
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
