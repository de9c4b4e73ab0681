"""``Document.delete``: remove every definition of a path with what each one owns.

A binding owns the comment lines directly above it and a comment at the end of its line
(:func:`nixgen.item_layout.item_span`). Inherited names are taken out of their ``inherit``,
the whole statement going when it held nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen.attrpath import Segment
from nixgen.binding_index import Binding
from nixgen.change import Change, make_change
from nixgen.item_layout import item_span, merge_spans

if TYPE_CHECKING:
    from nixgen.document import Document

__all__ = ["delete_path"]


def delete_path(doc: Document, want: tuple[Segment, ...]) -> Change:
    """Remove ``want`` and the paths below it (see :meth:`nixgen.document.Document.delete`)."""
    data = doc.data
    spans: list[tuple[int, int]] = []
    done_nodes: list[tuple[int, int]] = []
    inherit_groups: dict[int, list[Binding]] = {}
    for b in doc.find_prefix(want):
        node = b.node
        if any(s <= node.start_byte and node.end_byte <= e for s, e in done_nodes):
            continue
        if b.is_inherit:
            inherit_groups.setdefault(node.start_byte, []).append(b)
            continue
        done_nodes.append((node.start_byte, node.end_byte))
        spans.append(item_span(data, node, b.container))
    for group in inherit_groups.values():
        node = group[0].node
        attrs = node.child_by_field_name("attrs")
        names = [c for c in attrs.named_children if c.type != "comment"] if attrs else []
        if len(names) <= len(group):
            spans.append(item_span(data, node, group[0].container))
        else:
            for b in group:
                s = b.key_start
                while s > 0 and data[s - 1 : s] in (b" ", b"\t"):
                    s -= 1
                spans.append((s, b.key_end))
    return make_change(doc, merge_spans(spans))
