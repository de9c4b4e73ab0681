"""``Document.rename``: give a path a new name by rewriting only the keys that spell it.

Every binding whose key spells the last segment of the old path is rewritten; the part of
the path written in enclosing keys must stay the same, so a rename never moves a binding to
another set (that is a delete and a set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen.attrpath import Segment, format_path, quote_attr
from nixgen.binding_index import same
from nixgen.change import Change, check_merge, edit_error, make_change
from nixgen.edits import Edit

if TYPE_CHECKING:
    from nixgen.document import Document

__all__ = ["rename_path"]


def rename_path(doc: Document, old: tuple[Segment, ...], new: tuple[Segment, ...]) -> Change:
    """Rename ``old`` to ``new`` (see :meth:`nixgen.document.Document.rename`)."""
    if same(old, new) and len(old) == len(new):
        return Change((), doc)
    if doc.find_prefix(new):  # holds every definition of new itself too
        raise edit_error(doc, f"cannot rename to {format_path(new)}: it is already defined")
    edits: list[Edit] = []
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
        if len(new) == len(old):
            # same shape: rewrite only the segments that change, keep the others' spelling
            for i in range(b.prefix_len, len(old)):
                if not same((old[i],), (new[i],)):
                    node = b.key_nodes[i - b.prefix_len]
                    edits.append(Edit(node.start_byte, node.end_byte, quote_attr(new[i])))
            continue
        first = b.key_nodes[0]
        end = b.key_nodes[last - b.prefix_len]
        edits.append(Edit(first.start_byte, end.end_byte, format_path(new[b.prefix_len :])))
    if not edits:
        raise edit_error(doc, f"{format_path(old)} is not defined")
    change = make_change(doc, edits)
    check_merge(doc, new, change)
    return change
