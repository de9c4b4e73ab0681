"""``Document.delete``: remove every definition of a path with what each one owns.

A binding owns the comment lines directly above it and a comment at the end of its line
(:func:`nixgen.item_layout.item_span`). Inherited names are taken out of their ``inherit``,
the whole statement going when it held nothing else.

A path with no definition in the text changes nothing, unless it may be defined where the
text does not show it: in a module this file imports (:mod:`nixgen.module_imports`), or
inside a value that is not an attribute-set literal (``a = import ./a.nix;``,
``a = cfg // { … };``, a module body ``import ./base.nix { }``). Deleting there would
silently do nothing, so EditError says where to edit instead. In a ``rec`` set, whose names
are variables of its own code, a deletion that code still reads (the name, or a path below
it) is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen import scope
from nixgen.attrpath import Segment, format_path
from nixgen.binding_index import Binding, same
from nixgen.change import Change, describe_value, edit_error, make_change
from nixgen.item_layout import item_span, merge_spans, rec_scope_check
from nixgen.module_imports import find_in_imports

if TYPE_CHECKING:
    from nixgen.document import Document

__all__ = ["delete_path"]


def delete_path(doc: Document, want: tuple[Segment, ...]) -> Change:
    """Remove ``want`` and the paths below it (see :meth:`nixgen.document.Document.delete`)."""
    data = doc.data
    spans: list[tuple[int, int]] = []
    done_nodes: list[tuple[int, int]] = []
    inherit_groups: dict[int, list[Binding]] = {}
    targets = doc.find_prefix(want)
    if not targets:
        refuse_hidden(doc, want)
    for b in targets:
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
    _check_rec_scopes(doc, want, targets, spans)
    return make_change(doc, merge_spans(spans))


def _check_rec_scopes(
    doc: Document, want: tuple[Segment, ...], targets: list[Binding], spans: list[tuple[int, int]]
) -> None:
    """EditError when code left in a ``rec`` set reads a name the deletion takes or changes.

    A binding of a ``rec`` set is a variable of the set's code: deleting it leaves its readers
    dangling; deleting a path below a name of an enclosing ``rec`` set changes the value its
    readers see (``a.b`` would break). Code that the deletion removes does not count.
    """
    action = f"delete {format_path(want)}"
    skip = tuple(spans)
    for b in targets:
        for outer, item in scope.rec_parents(b.node):
            if item == b.node and b.is_inherit and b.node.type == "inherit":
                continue  # `inherit x;` binds the x outside: its readers then read that same x
            if item == b.node and b.is_inherit:
                names = [b.path[b.prefix_len]]
            else:
                names = scope.item_names(item, doc.data)
            kept = scope.bound_names(outer, doc.data, {t.node.start_byte for t in targets})
            for name in names:
                kind = "removes" if item == b.node and name not in kept else "changes"
                rec_scope_check(doc, outer, name, action, kind, skip)


def refuse_hidden(doc: Document, want: tuple[Segment, ...], verb: str = "delete") -> None:
    """EditError when ``want``, written nowhere in ``doc``, may be defined out of its sight.

    That is: in a module this file imports, in the file's body when it is not an attribute
    set literal (``import ./base.nix``), or inside the value of a prefix that is not one
    (``a = { l = [ 1 ]; } // { };``, ``b = import ./x.nix;``, an inherited ``b``). ``verb``
    says what was asked ("delete", "remove from").
    """
    name = format_path(want)
    imported = find_in_imports(doc, want)
    if imported is not None:
        via, defs = imported
        raise edit_error(
            doc,
            f"cannot {verb} {name} here: it is defined in {defs[0].location}, in a module "
            "imported here; edit that file",
            via.key_start,
        )
    body = scope.body(doc.tree.root_node)
    for part in scope.opaque_parts(body, doc.data) if body is not None else ():
        text = " ".join(scope.node_text(part, doc.data).split())
        raise edit_error(
            doc,
            f"cannot {verb} {name}: the file's body is `{text[:60]}`, not an attribute set "
            f"literal, so {name} can only be changed where that value is written",
            part.start_byte,
        )
    related = doc.related(want)
    for k in range(1, len(want)):
        for b in related:
            if len(b.path) != k or not same(b.path, want[:k]):
                continue
            prefix = format_path(want[:k])
            if b.is_inherit:
                why = f"{prefix} is inherited here, so {name} can only be changed at its source"
            else:
                expr = b.node.child_by_field_name("expression")
                if expr is None or not scope.opaque_parts(expr, doc.data):
                    continue
                why = (
                    f"{prefix} is defined here as {describe_value(b, doc.data)}, not as an "
                    f"attribute set literal, so {name} can only be changed where that value "
                    "is written"
                )
            raise edit_error(doc, f"cannot {verb} {name}: {why}", b.key_start)
