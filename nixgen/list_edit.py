"""``Document.append`` / ``Document.remove``: idempotent edits of a list literal's elements.

``remove`` of a list this text does not show refuses when the list may be written elsewhere
(an imported module, a value that is not an attribute-set literal), as ``delete`` does.

An element counts as already there when both are literals with the same value (``{a=1;}`` is
``{ a = 1; }``, ``''x''`` is ``"x"``, ``(1)`` is ``1``), or else when both are written with
the same tokens (whitespace and comments aside). In a list under ``with pkgs;`` the item
``pkgs.htop`` is the element ``htop`` (and is written so), unless ``htop`` is bound by a
function, ``let`` or ``rec`` around the list, or is one of Nix's global names, which a
``with`` never overrides.

A one-line list stays on one line. Only a list alone on its line (its binding starts the line
and ends it) is rewritten one element per line, nixfmt style, when the line would grow past
80 columns or the new item ends in a ``#`` comment; elsewhere such a comment moves to the end
of the line. A multi-line list gets the new element on its own line with the elements'
indentation, its comment after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixgen import layout
from nixgen.attrpath import Segment, format_path
from nixgen.binding_index import Binding
from nixgen.change import Change, describe_value, duplicates_message, edit_error, make_change
from nixgen.delete_edit import refuse_hidden
from nixgen.edits import Edit
from nixgen.emit import Expr, to_nix_element
from nixgen.item_layout import (
    ONE_LINE,
    commented_change,
    insert_item,
    item_span,
    merge_spans,
    place_comment,
    render,
    split_comment,
    too_wide,
)
from nixgen.set_edit import set_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from tree_sitter import Node

    from nixgen.document import Document

__all__ = ["append_item", "remove_item"]


def append_item(doc: Document, want: tuple[Segment, ...], item: object) -> Change:
    """Add ``item`` to the list at ``want`` unless it is there (creating ``want = [ item ];``)."""
    binding, lst = _list_of(doc, want)
    if binding is None or lst is None:
        code, comment = split_comment(item)
        if comment is None:
            return set_value(doc, want, [item])
        return set_value(doc, want, Expr(f"[ {to_nix_element(code)} ] {comment}"))
    item, comment = split_comment(item)
    item = _short_form(doc.data, lst, item)
    elements = [c for c in lst.named_children if c.type != "comment"]
    at = elements[-1].start_byte if elements else binding.key_start
    ind = layout.line_indent(doc.data, at)
    text = render(doc, item, ind, doc.newline, element=True)
    key = _Key.of(item, text)
    if any(key.matches(doc.data, e) for e in elements):
        return Change((), doc)

    def make(line_ind: str, nl: str, col: int) -> str:
        return render(doc, item, line_ind, nl, element=True, lead=col)

    one_line = b"\n" not in doc.data[lst.start_byte : lst.end_byte]
    edit = insert_item(doc, lst, make, "[", comment=comment)
    if one_line:
        if _alone(doc.data, binding):
            plain = edit if comment is None else insert_item(doc, lst, make, "[")
            if comment is not None or (too_wide(doc.data, plain) and elements):

                def exploded(line_ind: str, nl: str) -> str:
                    text = render(doc, item, line_ind, nl, element=True)
                    return text if comment is None else f"{text} {comment}"

                edit = _explode_list(doc, lst, exploded)
        elif "\n" in edit.text:
            edit = insert_item(doc, lst, lambda i, n, _c: make(i, n, ONE_LINE), "[")
            if comment is not None:
                edit = place_comment(doc.data, edit, comment)
    return commented_change(doc, [edit], comment)


def remove_item(doc: Document, want: tuple[Segment, ...], item: object) -> Change:
    """Remove every element of the list at ``want`` equal to ``item`` (no change when none)."""
    binding, lst = _list_of(doc, want)
    if binding is None or lst is None:
        refuse_hidden(doc, want, "remove from")
        return Change((), doc)
    item, _ = split_comment(item)
    item = _short_form(doc.data, lst, item)
    elements = [c for c in lst.named_children if c.type != "comment"]
    ind = layout.line_indent(doc.data, binding.key_start)
    key = _Key.of(item, render(doc, item, ind, doc.newline, element=True))
    spans = [item_span(doc.data, e, lst) for e in elements if key.matches(doc.data, e)]
    return make_change(doc, merge_spans(spans))


def _alone(data: bytes, binding: Binding) -> bool:
    """Whether ``binding`` starts its line and nothing but a comment follows it there."""
    trivia, _ = layout.rest_of_line_is_trivia(data, binding.node.end_byte)
    return layout.starts_line(data, binding.node.start_byte) and trivia


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


class _Key:
    """What an item is compared by: its literal value, else its tokens (comments aside)."""

    def __init__(self, value: object, tokens: tuple[tuple[str, bytes], ...]) -> None:
        self.value = value
        self.tokens = tokens

    @classmethod
    def of(cls, item: object, text: str) -> _Key:
        """The key of a new item (a Python value or code) written as ``text``."""
        from nixgen import syntax
        from nixgen.literal import Unevaluated, literal_value

        data = text.encode("utf-8")
        root = syntax.parse(data).root_node
        exprs = [c for c in root.named_children if c.type != "comment"]
        node = exprs[0] if len(exprs) == 1 else root
        value = item if not isinstance(item, Expr) else literal_value(node, data)
        if isinstance(value, Unevaluated):
            return cls(_NOT_LITERAL, _tokens(node, data))
        return cls(value, _tokens(node, data))

    def matches(self, data: bytes, element: Node) -> bool:
        """Whether the list element ``element`` (in the source ``data``) is this item."""
        from nixgen.literal import Unevaluated, literal_value

        if _tokens(element, data) == self.tokens:
            return True
        if self.value is _NOT_LITERAL:
            return False
        value = literal_value(element, data)
        return not isinstance(value, Unevaluated) and _same_value(value, self.value)


_NOT_LITERAL = object()


def _tokens(node: Node, data: bytes) -> tuple[tuple[str, bytes], ...]:
    """The leaf tokens of ``node`` (type and text), comments left out."""
    out: list[tuple[str, bytes]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "comment":
            continue
        if n.child_count == 0:
            out.append((n.type, data[n.start_byte : n.end_byte]))
        else:
            stack.extend(reversed(n.children))
    return tuple(out)


def _same_value(a: object, b: object) -> bool:
    """Equal Nix values: same types all the way down (``1`` is not ``1.0`` nor ``true``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b


def _explode_list(doc: Document, lst: Node, new_item: Callable[[str, str], str]) -> Edit:
    """Rewrite a one-line list as one element per line, nixfmt style, ``new_item`` last.

    ``new_item(line_indent, newline)`` is the new element's text. A comment inside the list
    stays on the line of the element it follows (right after ``[`` when it comes first).
    """
    data = doc.data
    nl = layout.newline_at(data, lst.start_byte, doc.newline)
    outer = layout.line_indent(data, lst.start_byte)
    inner = outer + doc.indent_unit
    head, items = layout.items_with_comments(lst.named_children, data, "[")
    items.append(new_item(inner, nl))
    lines = [head, *[inner + t for t in items], outer + "]"]
    return Edit(lst.start_byte, lst.end_byte, nl.join(lines))
