"""Small helpers over the tree-sitter-nix tree shared by the rule modules.

Attribute names, the module's shape (function header, ``let``, ``with``, parentheses), the
logical bindings of a module's top attribute set (looking through ``lib.mkIf``, ``mkMerge``,
``mkForce`` …) and literal values. Everything works on the bytes and tree of one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter

from nixgen.checks.model import Finding, Fix
from nixgen.syntax import Node, language, line_col

ATTRSETS = ("attrset_expression", "rec_attrset_expression")
WRAPPERS = {
    "mkIf": 1,
    "mkForce": 0,
    "mkDefault": 0,
    "mkOverride": 1,
    "mkBefore": 0,
    "mkAfter": 0,
    "mkOrder": 1,
}


class Dyn:
    """An attribute name that cannot be known without evaluation (never equal to a str)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Dyn({self.text!r})"


Name = str | Dyn


@dataclass
class Source:
    """One file being checked: its bytes, tree and path; builds findings located in it."""

    data: bytes
    tree: Any
    path: Path | None
    _logical: list[LBinding] | None = field(default=None, repr=False)

    def logical(self) -> list[LBinding]:
        """The logical bindings of the module's top attribute set (computed once)."""
        if self._logical is None:
            self._logical = logical_bindings(self)
        return self._logical

    @property
    def root(self) -> Node:
        return self.tree.root_node

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def where(self, node: Node) -> str:
        line, col = line_col(self.data, node.start_byte)
        name = self.path.name if self.path is not None else "<input>"
        return f"{name}:{line}:{col}"

    def finding(
        self,
        code: str,
        severity: str,
        message: str,
        start: int,
        end: int,
        fix: Fix | None = None,
        related: tuple[tuple[str, int, int], ...] = (),
    ) -> Finding:
        line, col = line_col(self.data, start)
        end_line, end_col = line_col(self.data, end)
        return Finding(code, severity, message, self.path, line, col, end_line, end_col,
                       start, end, fix, related)

    def place(self, node: Node) -> tuple[str, int, int]:
        """``(file, line, col)`` of a node, for a finding's related locations."""
        line, col = line_col(self.data, node.start_byte)
        return (str(self.path) if self.path is not None else "<input>", line, col)


def strip_parens(node: Node | None) -> Node | None:
    while node is not None and node.type == "parenthesized_expression":
        node = node.child_by_field_name("expression")
    return node


def _unescape(node: Node, data: bytes) -> str | None:
    parts: list[str] = []
    for child in node.named_children:
        raw = data[child.start_byte : child.end_byte].decode("utf-8", "replace")
        if child.type == "string_fragment":
            parts.append(raw)
        elif child.type == "escape_sequence":
            ch = raw[1:]
            parts.append({"n": "\n", "t": "\t", "r": "\r"}.get(ch, ch))
        else:
            return None
    return "".join(parts)


def attr_name(node: Node, data: bytes) -> Name:
    """The name of one attrpath element: identifier, ``"string"`` or ``${"string"}``."""
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    if node.type == "identifier":
        return text
    if node.type == "string_expression":
        value = _unescape(node, data)
        return value if value is not None else Dyn(text)
    if node.type == "interpolation":
        inner = strip_parens(node.child_by_field_name("expression"))
        if inner is not None and inner.type == "string_expression":
            value = _unescape(inner, data)
            if value is not None:
                return value
    return Dyn(text)


def attrpath_elements(binding: Node) -> list[Node]:
    path = binding.child_by_field_name("attrpath")
    return path.children_by_field_name("attr") if path is not None else []


def binding_set(node: Node) -> Node | None:
    """The ``binding_set`` of an attrset or let expression (None when empty)."""
    for child in node.named_children:
        if child.type == "binding_set":
            return child
    return None


def bindings_of(node: Node) -> list[Node]:
    bset = binding_set(node)
    return bset.children_by_field_name("binding") if bset is not None else []


def inherited_names(node: Node) -> list[Node]:
    attrs = node.child_by_field_name("attrs")
    return attrs.children_by_field_name("attr") if attrs is not None else []


def root_expression(root: Node) -> Node | None:
    """The file's expression (comments around it skipped), parentheses stripped."""
    for child in root.named_children:
        if child.type != "comment":
            return strip_parens(child)
    return None


def module_function(root: Node) -> Node | None:
    """The module's function expression (``{ config, pkgs, ... }: …``), if the file is one."""
    expr = root_expression(root)
    return expr if expr is not None and expr.type == "function_expression" else None


def named_formals(function: Node) -> list[Node]:
    """The ``formal`` nodes of a function's argument set that have a name (not error recovery)."""
    formals = function.child_by_field_name("formals")
    if formals is None:
        return []
    out = []
    for formal in formals.children_by_field_name("formal"):
        name = formal.child_by_field_name("name")
        if name is not None and not name.is_missing and name.end_byte > name.start_byte:
            out.append(formal)
    return out


def formal_names(function: Node, data: bytes) -> list[str]:
    names = (f.child_by_field_name("name") for f in named_formals(function))
    return [data[n.start_byte : n.end_byte].decode() for n in names]


def top_attrset(root: Node) -> Node | None:
    """The module's body attribute set, through function header, let, with and parentheses."""
    node = root_expression(root)
    while node is not None:
        if node.type in ATTRSETS:
            return node
        if node.type in ("function_expression", "let_expression", "with_expression",
                         "assert_expression"):
            node = strip_parens(node.child_by_field_name("body"))
        else:
            return None
    return None


def _callee_name(func: Node, data: bytes) -> str | None:
    func = strip_parens(func)
    if func is None:
        return None
    if func.type == "variable_expression":
        return data[func.start_byte : func.end_byte].decode()
    if func.type == "select_expression":
        elems = attrpath_elements(func)
        if elems and func.child_by_field_name("default") is None:
            last = attr_name(elems[-1], data)
            return last if isinstance(last, str) else None
    return None


def unwrap(node: Node | None, data: bytes) -> tuple[list[tuple[Node, tuple[str, ...]]], bool]:
    """Attribute set literals found in ``node`` through mkIf/mkMerge/mkForce…, with wrappers.

    Returns ``(sets, opaque)``; ``opaque`` is True when part of the value cannot be seen.
    """
    node = strip_parens(node)
    if node is None:
        return [], True
    if node.type in ATTRSETS:
        return [(node, ())], False
    if node.type == "apply_expression":
        args: list[Node] = []
        func: Node | None = node
        while func is not None and func.type == "apply_expression":
            arg = func.child_by_field_name("argument")
            if arg is not None:
                args.insert(0, arg)
            func = strip_parens(func.child_by_field_name("function"))
        name = _callee_name(func, data) if func is not None else None
        if name in WRAPPERS and len(args) == WRAPPERS[name] + 1:
            sets, opaque = unwrap(args[-1], data)
            return [(s, (name, *w)) for s, w in sets], opaque
        if name == "mkMerge" and len(args) == 1:
            lst = strip_parens(args[0])
            if lst is not None and lst.type == "list_expression":
                out: list[tuple[Node, tuple[str, ...]]] = []
                opaque = False
                for element in lst.children_by_field_name("element"):
                    sets, op = unwrap(element, data)
                    out.extend((s, ("mkMerge", *w)) for s, w in sets)
                    opaque = opaque or op
                return out, opaque
    return [], True


@dataclass
class LBinding:
    """A binding reached through the module shape, with its full logical path."""

    path: tuple[Name, ...]
    node: Node            # the ``binding`` (or ``inherit``) node
    value_node: Node | None
    wrappers: tuple[str, ...]
    key_nodes: tuple[Node, ...]   # attrpath element node for each element of ``path``


def logical_bindings(src: Source, start: Node | None = None) -> list[LBinding]:
    """Every binding under ``start`` (default: the module's top attrset), depth first."""
    top = start if start is not None else top_attrset(src.root)
    out: list[LBinding] = []
    if top is None:
        return out

    def walk(attrset: Node, prefix: tuple[Name, ...], keys: tuple[Node, ...],
             wrappers: tuple[str, ...]) -> None:
        for b in bindings_of(attrset):
            if b.type != "binding":
                for attr in inherited_names(b):
                    out.append(LBinding((*prefix, attr_name(attr, src.data)), b, None,
                                        wrappers, (*keys, attr)))
                continue
            elems = attrpath_elements(b)
            path = (*prefix, *(attr_name(e, src.data) for e in elems))
            kn = (*keys, *elems)
            value = b.child_by_field_name("expression")
            out.append(LBinding(path, b, value, wrappers, kn))
            sets, _ = unwrap(value, src.data)
            for s, w in sets:
                walk(s, path, kn, (*wrappers, *w))

    walk(top, (), (), ())
    return out


def literal(node: Node | None, data: bytes) -> Any:
    """Python value of a literal int/bool/string/path/null/list; ``NOTHING`` otherwise."""
    node = strip_parens(node)
    if node is None:
        return NOTHING
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    kind = node.type
    if kind == "integer_expression":
        return int(text)
    if kind == "variable_expression" and text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    if kind == "string_expression":
        value = _unescape(node, data)
        return value if value is not None else NOTHING
    if kind == "path_expression" and all(c.type == "path_fragment" for c in node.named_children):
        return Path(text)
    if kind == "list_expression":
        items = [literal(e, data) for e in node.children_by_field_name("element")]
        return NOTHING if any(i is NOTHING for i in items) else items
    return NOTHING


class _Nothing:
    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


@cache
def _query(text: str) -> tree_sitter.Query:
    return tree_sitter.Query(language(), text)


def find(node: Node, query: str, name: str = "n") -> list[Node]:
    """Nodes captured as ``@name`` by ``query`` under ``node``, outermost first in source order."""
    captures = tree_sitter.QueryCursor(_query(query)).captures(node)
    found = captures.get(name, [])
    return sorted(found, key=lambda n: (n.start_byte, -n.end_byte))
