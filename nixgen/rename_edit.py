"""``Document.rename``: give a path a new name by rewriting only the keys that spell it.

Every binding whose key spells the last segment of the old path is rewritten; the part of
the path written in enclosing keys must stay the same, so a rename never moves a binding to
another set (that is a delete and a set). Comments between the segments of a key stay. In a
``rec`` set a key's first segment is also a variable of the set's code, so a rename that would
leave such code reading a name no longer there, or capture code reading another variable of
the new name, is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen import scope
from nixgen.attrpath import Segment, format_path, quote_attr
from nixgen.binding_index import Binding, same
from nixgen.change import Change, check_merge, edit_error, make_change
from nixgen.edits import Edit
from nixgen.item_layout import rec_scope_check

if TYPE_CHECKING:
    from tree_sitter import Node

    from nixgen.document import Document

__all__ = ["rename_path"]


def rename_path(doc: Document, old: tuple[Segment, ...], new: tuple[Segment, ...]) -> Change:
    """Rename ``old`` to ``new`` (see :meth:`nixgen.document.Document.rename`)."""
    if same(old, new) and len(old) == len(new):
        return Change((), doc)
    if doc.find_prefix(new):  # holds every definition of new itself too
        raise edit_error(doc, f"cannot rename to {format_path(new)}: it is already defined")
    edits: list[Edit] = []
    renamed: list[Binding] = []
    last = len(old) - 1
    for b in doc.find_prefix(old):
        if not (b.prefix_len <= last < len(b.path)):
            continue
        if b.is_inherit:
            raise edit_error(doc, f"{format_path(old)} is inherited; cannot rename it", b.key_start)
        if tuple(new[: b.prefix_len]) != tuple(old[: b.prefix_len]) or len(new) <= b.prefix_len:
            raise edit_error(
                doc,
                f"cannot rename {format_path(old)} to {format_path(new)} here: the key at "
                f"line {b.line} sits inside {format_path(old[: b.prefix_len])}; "
                "moving it elsewhere needs delete and set",
                b.key_start,
            )
        renamed.append(b)
        edits.extend(_key_edits(doc, b, old, new))
    if not edits:
        raise edit_error(doc, f"{format_path(old)} is not defined")
    _check_rec_scopes(doc, renamed, old, new)
    change = make_change(doc, edits)
    check_merge(doc, new, change)
    return change


def _key_edits(
    doc: Document, b: Binding, old: tuple[Segment, ...], new: tuple[Segment, ...]
) -> list[Edit]:
    """The edits rewriting the key of ``b`` from spelling ``old`` to spelling ``new``.

    Only the segments that change are rewritten, so the others keep their spelling and the
    comments between segments stay. A longer path writes its extra segments in place of the
    key's last segment of ``old``; a shorter one drops the key's trailing segments, which is
    refused when a comment sits among them.
    """
    nodes = b.key_nodes[: len(old) - b.prefix_len]
    olds = old[b.prefix_len :]
    news = new[b.prefix_len :]
    last = min(len(nodes), len(news)) - 1
    edits = [
        Edit(node.start_byte, node.end_byte, quote_attr(news[i]))
        for i, node in enumerate(nodes[:last])
        if not same((olds[i],), (news[i],))
    ]
    node = nodes[last]
    if len(news) > len(nodes):
        edits.append(Edit(node.start_byte, node.end_byte, format_path(news[last:])))
    elif len(news) == len(nodes):
        if not same((olds[last],), (news[last],)):
            edits.append(Edit(node.start_byte, node.end_byte, quote_attr(news[last])))
    else:
        end = nodes[-1].end_byte
        attrpath = node.parent
        lost = [
            c
            for c in (attrpath.named_children if attrpath is not None else ())
            if c.type == "comment" and node.start_byte <= c.start_byte < end
        ]
        if lost:
            raise edit_error(
                doc,
                f"cannot rename {format_path(old)} to {format_path(new)}: the comment inside "
                f"the key at line {b.line} would be lost; move it out of the key first",
                lost[0].start_byte,
            )
        edits.append(Edit(node.start_byte, end, quote_attr(news[last])))
    return edits


def _check_rec_scopes(
    doc: Document, renamed: list[Binding], old: tuple[Segment, ...], new: tuple[Segment, ...]
) -> None:
    """EditError when the rename changes what code in a ``rec`` set reads.

    A key written in a ``rec`` set binds its first segment as a variable of the set's code:
    renaming that segment takes the old name away (its readers would dangle) and adds the new
    one (readers of another variable of that name would be captured). Renaming deeper in a
    name of an enclosing ``rec`` set changes the value its readers see (``a.b`` would break).
    """
    action = f"rename {format_path(old)} to {format_path(new)}"
    heads: dict[int, tuple[Node, list[Binding]]] = {}
    for b in renamed:
        for outer, item in scope.rec_parents(b.node):
            if item == b.node and not same((old[b.prefix_len],), (new[b.prefix_len],)):
                heads.setdefault(outer.start_byte, (outer, []))[1].append(b)
            else:
                for name in scope.item_names(item, doc.data):
                    rec_scope_check(doc, outer, name, action, "changes")
    for outer, group in heads.values():
        i = group[0].prefix_len
        kept = scope.bound_names(outer, doc.data, {b.node.start_byte for b in group})
        rec_scope_check(doc, outer, old[i], action, "changes" if old[i] in kept else "removes")
        if new[i] not in scope.bound_names(outer, doc.data):
            rec_scope_check(doc, outer, new[i], action, "adds")
