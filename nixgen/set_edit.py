"""``Document.set``: replace the value of a path, or write a new binding where it belongs.

A path defined once gets its value replaced in place (key, spacing, ``;`` and the binding's
own wrappers kept). A new path goes into the deepest attribute-set literal already on it,
the rest of the path as a dotted key, beside the sibling that shares the longest key prefix
(:func:`nixgen.item_layout.closest_sibling`); a new ``imports`` with no such sibling goes
first, as NixOS modules are written. When Nix's parse-time merging (replayed by
:mod:`nixgen.merge`) would see a name twice there, the key goes beside the keys that already
spell that name instead; a result Nix would reject is refused with EditError, and so is a
new name in a ``rec`` set whose code reads a variable of that name (it would capture it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nixgen import layout, merge, scope
from nixgen.attrpath import Segment, format_path
from nixgen.binding_index import Binding, same
from nixgen.change import (
    Change,
    check_merge,
    conflict_error,
    describe_value,
    duplicates_message,
    edit_error,
)
from nixgen.edits import Edit
from nixgen.errors import EditError
from nixgen.item_layout import (
    closest_sibling,
    commented_change,
    insert_first,
    insert_item,
    place_comment,
    rec_scope_check,
    render,
    split_comment,
)

if TYPE_CHECKING:
    from tree_sitter import Node

    from nixgen.document import Document

__all__ = ["set_value"]


def set_value(doc: Document, want: tuple[Segment, ...], value: object) -> Change:
    """Create or replace the value of ``want`` (see :meth:`nixgen.document.Document.set`)."""
    value, comment = split_comment(value)
    related = doc.related(want)
    exact = [b for b in related if len(b.path) == len(want) and same(b.path, want)]
    if len(exact) > 1:
        raise edit_error(doc, duplicates_message(want, exact), exact[1].key_start)
    if exact:
        return _replace(doc, want, exact[0], related, value, comment)
    return _insert(doc, want, related, value, comment)


def _replace(
    doc: Document,
    want: tuple[Segment, ...],
    b: Binding,
    related: list[Binding],
    value: object,
    comment: str | None = None,
) -> Change:
    """Rewrite the value of the one definition ``b`` of ``want`` (``comment`` after it)."""
    if b.is_inherit or b.value_node is None:
        raise edit_error(
            doc, f"{format_path(want)} is inherited here; replace the inherit first", b.key_start
        )
    outside = [
        x
        for x in related
        if len(x.path) > len(want)
        and same(x.path[: len(want)], want)
        and not (b.node.start_byte <= x.node.start_byte < b.node.end_byte)
    ]
    if outside and not isinstance(value, Mapping):
        where = ", ".join(f"{format_path(x.path)} at line {x.line}" for x in outside[:3])
        raise edit_error(
            doc,
            f"cannot set {format_path(want)} to a value that is not an attribute set: "
            f"it is also defined through deeper keys ({where}), and Nix would reject "
            "the mix (attribute already defined)",
            b.key_start,
        )
    data = doc.data
    line_indent = layout.line_indent(data, b.value_start)
    before = data[layout.line_start(data, b.value_start) : b.value_start]
    parent = b.value_node.parent
    text = render(
        doc,
        value,
        layout.line_indent(data, b.key_start),
        layout.newline_at(data, b.key_start, doc.newline),
        # an argument of a wrapper (`mkForce -1`) must be written as one term
        element=parent is not None and parent.type == "apply_expression",
        lead=len(before.decode("utf-8", "replace")) - len(line_indent) + 1,
    )
    if data[b.value_start : b.value_end].decode("utf-8") == text and (
        comment is None
        or data[b.value_end : layout.line_end(data, b.value_end)].rstrip().endswith(
            comment.encode("utf-8")
        )
    ):
        return Change((), doc)
    edit = Edit(b.value_start, b.value_end, text)
    if comment is not None:
        edit = place_comment(data, edit, comment)
    change = commented_change(doc, [edit], comment)
    if isinstance(value, Mapping):
        check_merge(doc, want, change)
    return change


def _insert(
    doc: Document,
    want: tuple[Segment, ...],
    related: list[Binding],
    value: object,
    comment: str | None = None,
) -> Change:
    """Add a binding for ``want``, which no binding defines yet (``comment`` after it)."""
    deeper = [b for b in related if len(b.path) > len(want) and same(b.path[: len(want)], want)]
    if deeper:
        where = ", ".join(f"{format_path(b.path)} at line {b.line}" for b in deeper[:3])
        raise edit_error(
            doc,
            f"{format_path(want)} is already defined through deeper keys ({where}); "
            "set those, or delete them first",
            deeper[0].key_start,
        )
    target, depth = _deepest_literal(doc, want, related)
    # Candidate places: the deepest literal first, then the sets holding keys that already
    # spell the next segment elsewhere (``a.b.x = 1;`` beside a literal ``a = { … };``):
    # Nix merges definitions in source order, so the first place that adds no
    # "attribute already defined" wins.
    candidates: list[tuple[Node, int]] = [(target, depth)]
    span = (target.start_byte, target.end_byte)
    outside = [
        b
        for b in (doc.related(want[: depth + 1]) if depth < len(want) - 1 else ())
        if not span[0] <= b.key_start < span[1]
        and len(b.path) > depth
        and same(b.path[: depth + 1], want[: depth + 1])
    ]
    if not outside:
        # nothing else spells the new key's first name: Nix cannot see it twice
        return commented_change(doc, [_insert_at(doc, target, want[depth:], value, comment)],
                                comment)
    for b in outside:
        if (
            b.container is not None
            and b.prefix_len <= depth
            and "mkIf" not in b.wrappers
            and all(c != b.container for c, _ in candidates)
        ):
            candidates.append((b.container, b.prefix_len))
    before = len(merge.conflicts(doc.tree.root_node, doc.data, want))
    first_error: EditError | None = None
    for container, at in candidates:
        change = commented_change(doc, [_insert_at(doc, container, want[at:], value, comment)],
                                  comment)
        found = merge.conflicts(change.document.tree.root_node, change.document.data, want)
        if len(found) <= before:
            return change
        if first_error is None:
            first_error = conflict_error(doc, want, found[0], change.document)
    assert first_error is not None
    raise first_error


def _deepest_literal(
    doc: Document, want: tuple[Segment, ...], related: list[Binding]
) -> tuple[Node, int]:
    """The deepest attribute-set literal on ``want`` and how many segments it stands for.

    An unconditional set is preferred; one under mkIf only when nothing else holds the path.
    When a prefix is defined by a value that is not an attribute-set literal, the new key can
    only go inside that value: into the deepest literal of a longer prefix written there
    (``monitor = { … };`` inside ``containers = mkIf c { … };``); EditError when there is none.
    """
    target = doc.top_attrset()
    depth = 0
    conditional = any(
        node == target and "mkIf" in wrappers
        for node, wrappers in scope.body_sources(doc.tree.root_node, doc.data)
    )
    inside: Binding | None = None  # a non-literal definition the new key must go into
    for k in range(1, len(want)):
        defs = [b for b in related if len(b.path) == k and same(b.path, want[:k])]
        if inside is not None:
            defs = [b for b in defs if _within(b, inside)]
        opaque = [b for b in defs if b.literal_set is None]
        if opaque:
            b = opaque[0]
            if not _literal_below(b, want, related):
                what = "inherited" if b.is_inherit else f"defined as {describe_value(b, doc.data)}"
                raise edit_error(
                    doc,
                    f"cannot add {format_path(want)}: {format_path(want[:k])} is {what} at "
                    f"line {b.line}, which is not an attribute set literal; Nix would reject "
                    f"a second definition (attribute already defined). Edit that value instead",
                    b.key_start,
                )
            inside, target, depth, conditional = b, None, k, True
            continue
        plain = [b for b in defs if "mkIf" not in b.wrappers]
        if plain:
            target, depth, conditional = plain[0].literal_set, k, False
        elif defs and (conditional or target is None):
            target, depth = defs[0].literal_set, k
    if target is None:
        body = scope.body(doc.tree.root_node)
        raise edit_error(
            doc,
            "the file's body is not an attribute set, so there is no place to add "
            f"{format_path(want)}",
            body.start_byte if body is not None else 0,
        )
    return target, depth


def _within(b: Binding, outer: Binding) -> bool:
    return outer.node.start_byte <= b.node.start_byte < outer.node.end_byte


def _literal_below(opaque: Binding, want: tuple[Segment, ...], related: list[Binding]) -> bool:
    """Whether a longer prefix of ``want`` is written as a set literal inside ``opaque``."""
    return not opaque.is_inherit and any(
        len(opaque.path) < len(b.path) < len(want)
        and same(b.path, want)
        and b.literal_set is not None
        and _within(b, opaque)
        for b in related
    )


def _insert_at(
    doc: Document,
    container: Node,
    rest: tuple[Segment, ...],
    value: object,
    comment: str | None = None,
) -> Edit:
    """The edit adding ``rest = value;`` (then ``comment``) to the attribute set ``container``.

    EditError when ``container`` is a ``rec`` set whose code reads a variable named like the
    new key's first segment, which the new binding would capture.
    """
    key = format_path(rest)
    if rest[0] not in scope.bound_names(container, doc.data):
        rec_scope_check(doc, container, rest[0], f"add {key}", "adds")

    def make(ind: str, nl: str, col: int) -> str:
        return f"{key} = {render(doc, value, ind, nl, lead=col + len(key) + 4)};"

    anchor = closest_sibling(doc.data, container, rest)
    if anchor is None and rest == ("imports",):
        edit = insert_first(doc, container, make)
        return place_comment(doc.data, edit, comment) if comment is not None else edit
    return insert_item(doc, container, make, "{", anchor, comment)
