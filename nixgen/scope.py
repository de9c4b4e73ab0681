"""The module's shape: find the body attribute set and the values hidden under lib.mk* calls.

A NixOS configuration is usually ``{ config, pkgs, ... }: { ... }``, possibly curried
(``{ ... }: { config, ... }: { ... }``, ``x: y: { ... }``), wrapped in ``let … in``,
``with pkgs;``, ``assert …;``, parentheses, or simply a plain attribute set. :func:`body` looks
through all of that. Values written as ``lib.mkIf c { … }``, ``mkMerge [ … ]``, ``mkForce v``
and friends are unwrapped by :func:`strip_value` / :func:`attrset_sources`, which name the
wrappers they passed through; :func:`opaque_parts` names the parts of a value that may hold
attributes no literal shows (``import ./x.nix``, ``cfg // { … }``).

A ``rec { … }`` set is also a scope: its names are variables for the code inside it.
:func:`bound_names` gives the names a set binds and :func:`rec_uses` the places inside a
``rec`` set that read a variable of a given name, so that an edit adding, renaming or removing
a name there can refuse instead of changing what that code refers to.
"""

from __future__ import annotations

from collections.abc import Collection

from tree_sitter import Node

__all__ = [
    "ATTRSET_TYPES",
    "WRAPPERS",
    "attrset_sources",
    "body",
    "body_sources",
    "bound_names",
    "item_names",
    "module_args",
    "node_text",
    "opaque_parts",
    "rec_parents",
    "rec_uses",
    "strip_value",
    "top_attrset",
    "unparen",
    "wrapper_call",
]

ATTRSET_TYPES = frozenset({"attrset_expression", "rec_attrset_expression"})

#: wrapper name -> number of arguments (the value is the last one)
WRAPPERS: dict[str, int] = {
    "mkIf": 2,
    "mkMerge": 1,
    "mkForce": 1,
    "mkDefault": 1,
    "mkOverride": 2,
    "mkBefore": 1,
    "mkAfter": 1,
    "mkOrder": 2,
    "mkOptionDefault": 1,
    "mkVMOverride": 1,
    "mkImageMediaOverride": 1,
}

_LOOK_THROUGH = {
    "function_expression": "body",
    "let_expression": "body",
    "with_expression": "body",
    "assert_expression": "body",
    "parenthesized_expression": "expression",
}


def body(root: Node) -> Node | None:
    """The expression the module evaluates to, past header, let, with, assert and parentheses."""
    node: Node | None = root.child_by_field_name("expression") if root.type == "source_code" else root
    while node is not None and node.type in _LOOK_THROUGH:
        node = node.child_by_field_name(_LOOK_THROUGH[node.type])
    return node


def body_sources(root: Node, data: bytes) -> list[tuple[Node, tuple[str, ...]]]:
    """The attribute sets the module body is made of, each with its wrappers.

    A plain ``{ … }`` body gives itself; ``lib.mkMerge [ { … } (lib.mkIf c { … }) ]`` gives
    each element's set (wrappers ``("mkMerge",)`` / ``("mkMerge", "mkIf")``).
    """
    node = body(root)
    return [] if node is None else attrset_sources(node, data)


def top_attrset(root: Node, data: bytes | None = None) -> Node | None:
    """The set new top-level bindings go into: the body attribute set.

    For a ``mkMerge [ … ]`` body (``data`` needed) it is the first element without a
    condition (else the first element); None when the body holds no attribute set.
    """
    node = body(root)
    if node is None:
        return None
    if node.type in ATTRSET_TYPES:
        return node
    if data is None:
        return None
    sources = attrset_sources(node, data)
    for sub, wrappers in sources:
        if "mkIf" not in wrappers:
            return sub
    return sources[0][0] if sources else None


def module_args(root: Node, data: bytes) -> list[str] | None:
    """Argument names of the module function (innermost curried header); None if not a function."""
    node: Node | None = root.child_by_field_name("expression") if root.type == "source_code" else root
    found: list[str] | None = None
    while node is not None and node.type in _LOOK_THROUGH:
        if node.type == "function_expression":
            formals = node.child_by_field_name("formals")
            names: list[str] = []
            if formals is not None:
                for formal in formals.named_children:
                    name = formal.child_by_field_name("name") if formal.type == "formal" else None
                    if name is not None and name.end_byte > name.start_byte:
                        names.append(data[name.start_byte : name.end_byte].decode("utf-8"))
            else:
                uni = node.child_by_field_name("universal")
                if uni is not None:
                    names.append(data[uni.start_byte : uni.end_byte].decode("utf-8"))
            found = names
        node = node.child_by_field_name(_LOOK_THROUGH[node.type])
    return found


def unparen(node: Node) -> Node:
    """``node`` with the parentheses around it taken off."""
    while node.type == "parenthesized_expression":
        inner = node.child_by_field_name("expression")
        if inner is None:
            break
        node = inner
    return node


def wrapper_call(node: Node, data: bytes) -> tuple[str, list[Node]] | None:
    """``(name, args)`` when ``node`` is a full call of a known wrapper (``lib.mkIf c v``)."""
    if node.type != "apply_expression":
        return None
    args: list[Node] = []
    head = node
    while head.type == "apply_expression":
        arg = head.child_by_field_name("argument")
        fn = head.child_by_field_name("function")
        if arg is None or fn is None:
            return None
        args.append(arg)
        head = fn
    args.reverse()
    head = unparen(head)
    name_node: Node | None = None
    if head.type == "variable_expression":
        name_node = head.child_by_field_name("name")
    elif head.type == "select_expression" and head.child_by_field_name("default") is None:
        path = head.child_by_field_name("attrpath")
        if path is not None and path.named_child_count:
            name_node = path.named_children[-1]
    if name_node is None or name_node.type != "identifier":
        return None
    name = data[name_node.start_byte : name_node.end_byte].decode("utf-8")
    if WRAPPERS.get(name) != len(args):
        return None
    return name, args


def strip_value(node: Node, data: bytes) -> tuple[Node, tuple[str, ...]]:
    """Look through parentheses and single-value wrappers (all but mkMerge) of a value."""
    wrappers: list[str] = []
    while True:
        node = unparen(node)
        call = wrapper_call(node, data)
        if call is None or call[0] == "mkMerge":
            return node, tuple(wrappers)
        wrappers.append(call[0])
        node = call[1][-1]


def attrset_sources(node: Node, data: bytes) -> list[tuple[Node, tuple[str, ...]]]:
    """The attribute-set literals a value contributes, each with the wrappers around it.

    ``{ … }`` gives itself; ``mkIf c { … }`` gives the set with ``("mkIf",)``; ``mkMerge [ a b ]``
    gives the sets of each element with ``("mkMerge", …)``. Anything else gives nothing.
    """
    inner, wrappers = strip_value(node, data)
    if inner.type in ATTRSET_TYPES:
        return [(inner, wrappers)]
    call = wrapper_call(inner, data)
    if call is not None and call[0] == "mkMerge":
        lst = unparen(call[1][0])
        if lst.type != "list_expression":
            return []
        out: list[tuple[Node, tuple[str, ...]]] = []
        for elem in lst.named_children:
            if elem.type == "comment":
                continue
            for sub, sub_wrappers in attrset_sources(elem, data):
                out.append((sub, (*wrappers, "mkMerge", *sub_wrappers)))
        return out
    return []


#: values that are never attribute sets (so no attribute can hide inside them)
_NOT_SETS = frozenset(
    {
        "integer_expression",
        "float_expression",
        "string_expression",
        "indented_string_expression",
        "path_expression",
        "hpath_expression",
        "spath_expression",
        "uri_expression",
        "list_expression",
        "function_expression",
        "unary_expression",
    }
)


_CONSTANTS = frozenset({"true", "false", "null"})


def node_text(node: Node, data: bytes) -> str:
    """The source text of a node."""
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def opaque_parts(node: Node, data: bytes) -> list[Node]:
    """The parts of a value that may be attribute sets which no literal in the source shows.

    ``{ … }`` (also under wrappers) has none, nor has a literal that is no set (``5``, ``[ ]``,
    ``true``); ``import ./x.nix``, ``cfg``, ``a // b``, ``let … in …`` are opaque themselves;
    ``mkMerge [ … ]`` has the opaque parts of its elements.
    """
    inner, _ = strip_value(node, data)
    if inner.type in ATTRSET_TYPES or inner.type in _NOT_SETS:
        return []
    if inner.type == "variable_expression" and node_text(inner, data) in _CONSTANTS:
        return []
    call = wrapper_call(inner, data)
    if call is not None and call[0] == "mkMerge":
        lst = unparen(call[1][0])
        if lst.type != "list_expression":
            return [inner]
        return [p for e in lst.named_children if e.type != "comment" for p in opaque_parts(e, data)]
    return [inner]


def item_names(item: Node, data: bytes) -> list[str]:
    """The names one item of an attribute set binds (see :func:`bound_names`)."""
    from nixgen.attrpath import Dynamic, attr_name

    if item.type == "binding":
        path = item.child_by_field_name("attrpath")
        nodes = [c for c in path.named_children if c.type != "comment"][:1] if path else []
    elif item.type in ("inherit", "inherit_from"):
        attrs = item.child_by_field_name("attrs")
        nodes = [c for c in attrs.named_children if c.type != "comment"] if attrs else []
    else:
        return []
    names = [attr_name(n, data) for n in nodes]
    return [n for n in names if not isinstance(n, Dynamic)]


def bound_names(attrset: Node, data: bytes, without: Collection[int] = ()) -> set[str]:
    """The names an attribute set binds: the first segment of each static key, inherited names.

    ``a.b = 1;`` binds ``a``; ``inherit x;`` and ``inherit (s) y;`` bind ``x`` and ``y``.
    Interpolated keys (``${n} = …``) bind nothing known. Items starting at an offset in
    ``without`` are left out (those an edit removes or renames).
    """
    found: set[str] = set()
    for group in attrset.named_children:
        if group.type != "binding_set":
            continue
        for item in group.named_children:
            if item.start_byte not in without:
                found.update(item_names(item, data))
    return found


def rec_parents(node: Node) -> list[tuple[Node, Node]]:
    """``(rec set, its item holding node)`` for every ``rec`` set around ``node``, inner first."""
    found: list[tuple[Node, Node]] = []
    child = node
    parent = node.parent
    while parent is not None:
        outer = parent.parent if parent.type == "binding_set" else None
        if outer is not None and outer.type == "rec_attrset_expression":
            found.append((outer, child))
        child, parent = parent, parent.parent
    return found


def rec_uses(
    attrset: Node, data: bytes, name: str, skip: tuple[tuple[int, int], ...] = ()
) -> list[Node]:
    """Where code inside the ``rec`` set ``attrset`` reads a variable called ``name``.

    Empty for a set that is not ``rec``. Conservative: every ``name`` written as a variable
    (also under a ``let`` or function that shadows it) and every ``inherit name;`` of a set or
    ``let`` inside the set counts (the set's own ``inherit`` reads the scope outside it),
    except in the byte spans ``skip`` (code that the edit removes).
    """
    if attrset.type != "rec_attrset_expression":
        return []
    raw = name.encode("utf-8")
    found: list[Node] = []
    stack = [attrset]
    while stack:
        node = stack.pop()
        if any(s <= node.start_byte and node.end_byte <= e for s, e in skip):
            continue
        if node.type == "variable_expression":
            ident = node.child_by_field_name("name")
            if ident is not None and data[ident.start_byte : ident.end_byte] == raw:
                found.append(node)
            continue
        if node.type == "inherit":
            # the set's own ``inherit x;`` reads x outside it; one deeper reads the set's x
            if node.parent is not None and node.parent.parent == attrset:
                continue
            attrs = node.child_by_field_name("attrs")
            for attr in attrs.named_children if attrs is not None else ():
                if attr.type != "comment" and data[attr.start_byte : attr.end_byte] == raw:
                    found.append(attr)
            continue
        stack.extend(node.children)
    found.sort(key=lambda n: n.start_byte)
    return found
