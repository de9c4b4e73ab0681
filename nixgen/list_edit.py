"""``Document.append`` / ``Document.remove``: idempotent edits of a list literal's elements.

An element counts as already there when it has the same literal value or the same source
text (whitespace aside). In a list under ``with pkgs;`` the item ``pkgs.htop`` is the element
``htop`` (and is written so), unless ``htop`` is bound by a function, ``let`` or ``rec`` around
the list, or is one of Nix's global names, which a ``with`` never overrides. A one-line list stays on one line while it fits in 80 columns and is
then rewritten one element per line, nixfmt style; a multi-line list gets the new element on
its own line with the elements' indentation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen import layout
from nixgen.attrpath import Segment, format_path
from nixgen.binding_index import Binding
from nixgen.change import Change, describe_value, duplicates_message, edit_error, make_change
from nixgen.edits import Edit
from nixgen.item_layout import insert_item, item_span, merge_spans, render, too_wide
from nixgen.set_edit import set_value

if TYPE_CHECKING:
    from tree_sitter import Node

    from nixgen.document import Document

__all__ = ["append_item", "remove_item"]


def append_item(doc: Document, want: tuple[Segment, ...], item: object) -> Change:
    """Add ``item`` to the list at ``want`` unless it is there (creating ``want = [ item ];``)."""
    binding, lst = _list_of(doc, want)
    if binding is None or lst is None:
        return set_value(doc, want, [item])
    item = _short_form(doc.data, lst, item)
    elements = [c for c in lst.named_children if c.type != "comment"]
    at = elements[-1].start_byte if elements else binding.key_start
    ind = layout.line_indent(doc.data, at)
    text = render(doc, item, ind, doc.newline, element=True)
    if any(_matches(doc.data, e, item, text) for e in elements):
        return Change((), doc)

    def make(line_ind: str, nl: str, col: int) -> str:
        return render(doc, item, line_ind, nl, element=True, lead=col)

    edit = insert_item(doc, lst, make, "[")
    if too_wide(doc.data, edit) and elements:
        edit = _explode_list(doc, lst, elements, text)
    return make_change(doc, [edit])


def remove_item(doc: Document, want: tuple[Segment, ...], item: object) -> Change:
    """Remove every element of the list at ``want`` equal to ``item`` (no change when none)."""
    binding, lst = _list_of(doc, want)
    if binding is None or lst is None:
        return Change((), doc)
    item = _short_form(doc.data, lst, item)
    elements = [c for c in lst.named_children if c.type != "comment"]
    ind = layout.line_indent(doc.data, binding.key_start)
    text = render(doc, item, ind, doc.newline, element=True)
    spans = [item_span(doc.data, e, lst) for e in elements if _matches(doc.data, e, item, text)]
    return make_change(doc, merge_spans(spans))


def _list_of(doc: Document, want: tuple[Segment, ...]) -> tuple[Binding | None, Node | None]:
    """The one definition of ``want`` and its list literal; (None, None) when undefined."""
    defs = doc.get(want)
    if not defs:
        return None, None
    if len(defs) > 1:
        raise edit_error(doc, duplicates_message(want, defs), defs[1].key_start)
    b = defs[0]
    node = b.value_node
    while node is not None and node.type in ("with_expression", "parenthesized_expression"):
        field_name = "body" if node.type == "with_expression" else "expression"
        node = node.child_by_field_name(field_name)
    if node is None or node.type != "list_expression":
        raise edit_error(
            doc,
            f"{format_path(want)} is not a list literal (it is {describe_value(b, doc.data)})",
            b.key_start,
        )
    return b, node


# Names Nix binds before any ``with`` is consulted.
_GLOBAL_NAMES = frozenset({
    "abort", "baseNameOf", "break", "builtins", "derivation", "derivationStrict", "dirOf",
    "false", "fetchGit", "fetchMercurial", "fetchTarball", "fetchTree", "fromTOML", "import",
    "isNull", "map", "null", "placeholder", "removeAttrs", "scopedImport", "throw", "toString",
    "true",
})
_ATTR = r"[A-Za-z_][A-Za-z0-9_'-]*"


def _short_form(data: bytes, lst: Node, item: object) -> object:
    """``pkgs.x`` as ``x`` when the list sits under ``with pkgs;`` and ``x`` means the same."""
    import re

    from nixgen.emit import Expr

    if not isinstance(item, Expr):
        return item
    node = lst.parent
    while node is not None and node.type in ("with_expression", "parenthesized_expression"):
        env = node.child_by_field_name("environment") if node.type == "with_expression" else None
        if env is not None and env.type == "variable_expression":
            name = data[env.start_byte : env.end_byte].decode("utf-8")
            m = re.fullmatch(rf"\s*{re.escape(name)}\.({_ATTR}(?:\.{_ATTR})*)\s*", item.code)
            if m:
                first = m.group(1).split(".", 1)[0]
                if first not in _GLOBAL_NAMES and first not in _bound_names(data, lst):
                    return Expr(m.group(1))
        node = node.parent
    return item


def _bound_names(data: bytes, node: Node) -> set[str]:
    """Names bound lexically around ``node``: function arguments, ``let`` and ``rec`` names."""
    names: set[str] = set()

    def text(n: Node) -> str:
        return data[n.start_byte : n.end_byte].decode("utf-8")

    scope = node.parent
    while scope is not None:
        if scope.type == "function_expression":
            universal = scope.child_by_field_name("universal")
            if universal is not None:
                names.add(text(universal))
            formals = scope.child_by_field_name("formals")
            for formal in formals.named_children if formals is not None else ():
                name = formal.child_by_field_name("name")
                if formal.type == "formal" and name is not None:
                    names.add(text(name))
        elif scope.type in ("let_expression", "rec_attrset_expression"):
            for bset in (c for c in scope.named_children if c.type == "binding_set"):
                for b in bset.named_children:
                    if b.type == "binding":
                        path = b.child_by_field_name("attrpath")
                        if path is not None and path.named_children:
                            names.add(text(path.named_children[0]).strip('"'))
                    elif b.type in ("inherit", "inherit_from"):
                        attrs = b.child_by_field_name("attrs")
                        for a in attrs.named_children if attrs is not None else ():
                            names.add(text(a).strip('"'))
        scope = scope.parent
    return names


def _matches(data: bytes, element: Node, item: object, item_text: str) -> bool:
    """Whether a list element is ``item``: same source text, or same literal value."""
    from nixgen.emit import Expr
    from nixgen.literal import Unevaluated, literal_value

    src = data[element.start_byte : element.end_byte].decode("utf-8", "replace")
    if " ".join(src.split()) == " ".join(item_text.split()):
        return True
    if isinstance(item, Expr):
        return False
    val = literal_value(element, data)
    return not isinstance(val, Unevaluated) and type(val) is type(item) and val == item


def _explode_list(doc: Document, lst: Node, elements: list[Node], new_item: str) -> Edit:
    """Rewrite a one-line list that grew too wide as one element per line, nixfmt style."""
    data = doc.data
    nl = layout.newline_at(data, lst.start_byte, doc.newline)
    outer = layout.line_indent(data, lst.start_byte)
    inner = outer + doc.indent_unit
    texts = [data[e.start_byte : e.end_byte].decode("utf-8") for e in elements]
    lines = ["[", *[inner + t for t in [*texts, new_item]], outer + "]"]
    return Edit(lst.start_byte, lst.end_byte, nl.join(lines))
