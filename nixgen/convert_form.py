"""Convert one binding between dotted and nested form, keeping its comments.

``a.b.c = 1;`` becomes ``a = { b.c = 1; };`` (laid out over lines like its neighbours), and an
attribute set binding ``a = { b = 1; /* x */ c = 2; };`` becomes ``a.b = 1; /* x */ a.c = 2;``.
One level per step, so the two conversions undo each other. Only the binding's own span is
rewritten; the result is re-parsed, and a conversion that would break the file (a syntax error,
or an attribute defined twice, which Nix's parser rejects) or lose or alter a comment anywhere in
that span is not offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nixgen.edits import Edit

_SET_TYPES = ("attrset_expression",)


@dataclass(frozen=True)
class Conversion:
    """A ready rewrite of the binding at a position."""

    kind: str  # "nested" or "dotted"
    title: str
    edits: tuple[Edit, ...]
    binding_start: int
    binding_end: int


def _text(data: bytes, node: Any) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8")


def binding_at(tree: Any, offset: int) -> Any | None:
    """The innermost ``binding`` node containing byte ``offset``."""
    node = tree.root_node.descendant_for_byte_range(offset, offset)
    while node is not None and node.type != "binding":
        node = node.parent
    return node


def _newline(data: bytes) -> str:
    return "\r\n" if b"\r\n" in data else "\n"


def _line_start(data: bytes, offset: int) -> int:
    return max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1


def _indent_of(data: bytes, offset: int) -> tuple[str, bool]:
    """Indentation of the line holding ``offset`` and whether only it precedes ``offset``."""
    start = _line_start(data, offset)
    prefix = data[start:offset].decode("utf-8")
    stripped = prefix.lstrip(" \t")
    indent = prefix[: len(prefix) - len(stripped)]
    return indent, stripped == ""


def indent_unit(data: bytes) -> str:
    """The file's indentation step: a tab, or the smallest run of leading spaces (default 2)."""
    smallest = 0
    for match in re.finditer(rb"(?m)^([ \t]+)\S", data):
        lead = match.group(1)
        if lead.startswith(b"\t"):
            return "\t"
        if smallest == 0 or len(lead) < smallest:
            smallest = len(lead)
    return " " * (smallest or 2)


def _shift(text: str, old_indent: str, new_indent: str) -> str:
    """Re-indent the continuation lines of ``text`` from ``old_indent`` to ``new_indent``."""
    lines = re.split(r"(\r\n|\n|\r)", text)
    out = [lines[0]]
    for i in range(1, len(lines), 2):
        out.append(lines[i])
        line = lines[i + 1]
        if line.startswith(old_indent):
            line = new_indent + line[len(old_indent) :]
        elif line.strip() == "":
            pass
        out.append(line)
    return "".join(out)


def _attrs(binding: Any) -> list[Any]:
    attrpath = binding.child_by_field_name("attrpath")
    if attrpath is None:
        return []
    return [c for c in attrpath.named_children if c.type != "comment"]


def to_nested(data: bytes, binding: Any, unit: str | None = None) -> Edit | None:
    """``a.b.c = v;`` -> ``a = { b.c = v; };`` for a binding with a dotted key.

    ``unit`` is the indentation step (default: guessed from ``data``).
    """
    attrs = _attrs(binding)
    value = binding.child_by_field_name("expression")
    if len(attrs) < 2 or value is None:
        return None
    head = _text(data, attrs[0])
    attrpath = binding.child_by_field_name("attrpath")
    rest = data[attrs[1].start_byte : attrpath.end_byte].decode("utf-8")
    between = data[attrpath.end_byte : binding.end_byte].decode("utf-8")
    indent, own_line = _indent_of(data, binding.start_byte)
    if own_line:
        unit = unit or indent_unit(data)
        nl = _newline(data)
        body = _shift(rest + between, indent, indent + unit)
        new = f"{head} = {{{nl}{indent}{unit}{body}{nl}{indent}}};"
    else:
        new = f"{head} = {{ {rest}{between} }};"
    return Edit(binding.start_byte, binding.end_byte, new)


def to_dotted(data: bytes, binding: Any, unit: str | None = None) -> Edit | None:
    """``a = { b = 1; c = 2; };`` -> ``a.b = 1; a.c = 2;`` (comments kept in order).

    ``unit`` is accepted for a signature like :func:`to_nested`; the lines take the binding's
    own indentation.
    """
    attrpath = binding.child_by_field_name("attrpath")
    value = binding.child_by_field_name("expression")
    if attrpath is None or value is None or value.type not in _SET_TYPES:
        return None
    # anything between the value and the `;` (a comment) has no place in dotted form
    tail = data[value.end_byte : binding.end_byte].decode("utf-8").strip()
    if tail != ";":
        return None
    head = _text(data, attrpath)
    items: list[Any] = []
    for child in value.named_children:
        if child.type == "binding_set":
            items.extend(child.named_children)
        elif child.type == "comment":
            items.append(child)
        else:
            return None
    inner = [c for c in items if c.type != "comment"]
    if not inner or any(c.type != "binding" for c in inner):
        return None
    indent, own_line = _indent_of(data, binding.start_byte)
    nl = _newline(data)
    sep = f"{nl}{indent}" if own_line else " "
    parts: list[str] = []
    prev_end: int | None = None
    for item in items:
        piece = _text(data, item)
        item_indent, _ = _indent_of(data, item.start_byte)
        if item.type == "binding":
            inner_path = item.child_by_field_name("attrpath")
            piece = head + "." + data[inner_path.start_byte : item.end_byte].decode("utf-8")
            piece = _shift(piece, item_indent, indent)
        elif item.type == "comment":
            piece = _shift(piece, item_indent, indent)
        same_line = prev_end is not None and not re.search(
            rb"[\r\n]", data[prev_end : item.start_byte]
        )
        if parts and same_line and item.type == "comment":
            parts[-1] = parts[-1] + " " + piece
        else:
            parts.append(piece)
        prev_end = item.end_byte
    return Edit(binding.start_byte, binding.end_byte, sep.join(parts))


def conversions_at(document: Any, offset: int) -> list[Conversion]:
    """The conversions offered for the binding under ``offset`` (verified by re-parsing)."""
    data: bytes = document.data
    unit = document.indent_unit or None
    binding = binding_at(document.tree, offset)
    out: list[Conversion] = []
    while binding is not None:
        key = _text(data, binding.child_by_field_name("attrpath") or binding)
        for kind, make in (("nested", to_nested), ("dotted", to_dotted)):
            edit = make(data, binding, unit)
            if edit is None or not _parses(document, edit, binding):
                continue
            title = (f"Convert {key} to nested form" if kind == "nested"
                     else f"Convert {key} to dotted form")
            out.append(Conversion(kind, title, (edit,), binding.start_byte, binding.end_byte))
        if out:
            break
        parent = binding.parent
        while parent is not None and parent.type != "binding":
            parent = parent.parent
        binding = parent
    return out


def _parses(document: Any, edit: Edit, binding: Any) -> bool:
    """Whether the converted file parses, keeps every comment of the rewritten span and Nix
    would not reject more definitions than before."""
    try:
        converted = document.apply([edit])
    except Exception:
        return False
    new_end = edit.start + len(edit.text.encode("utf-8"))
    before = _comments(document.data, document.tree.root_node, edit.start, edit.end)
    after = _comments(converted.data, converted.tree.root_node, edit.start, new_end)
    if before != after:
        return False
    return not _adds_duplicate(document.data, binding, edit)


def _comments(data: bytes, node: Any, start: int, end: int) -> list[str]:
    """The comments lying within bytes ``start``..``end``, in order, each with the indentation
    of its continuation lines dropped (a conversion may re-indent a block comment)."""
    out: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.end_byte <= start or current.start_byte >= end:
            continue
        if current.type == "comment":
            if current.start_byte >= start and current.end_byte <= end:
                text = _text(data, current)
                out.append(re.sub(r"(\r\n|\n|\r)[ \t]*", r"\1", text))
            continue
        stack.extend(reversed(current.children))
    return out


def _adds_duplicate(data: bytes, binding: Any, edit: Edit) -> bool:
    """Whether rewriting ``binding`` by ``edit`` makes Nix reject a definition (NG101/NG102).

    Only the bindings beside it that can clash with it are judged, before and after, in a
    small set of their own: those defining its first name itself (``a = …;``, ``inherit a;``)
    or a name below it that the conversion touches (``a.b…`` for ``a.b.c = 1;`` or for
    ``a = { b = …; };``).
    """
    from nixgen.checks.nodes import attr_name, attrpath_elements, inherited_names

    elems = attrpath_elements(binding)
    scope = binding.parent
    if not elems or scope is None:
        return False
    head = attr_name(elems[0], data)
    touched = set(_second_names(data, binding))
    before: list[str] = []
    after: list[str] = []
    for item in scope.named_children:
        if item.type == "binding":
            path = attrpath_elements(item)
            if not path or attr_name(path[0], data) != head:
                continue
            if (item.start_byte != binding.start_byte and len(path) > 1
                    and attr_name(path[1], data) not in touched):
                continue
        elif item.type == "inherit":
            if head not in [attr_name(a, data) for a in inherited_names(item)]:
                continue
        else:
            continue
        text = _text(data, item)
        before.append(text)
        after.append(edit.text if item.start_byte == binding.start_byte else text)
    if len(before) < 2:
        return False
    return _rejected(after) > _rejected(before)


def _second_names(data: bytes, binding: Any) -> list[Any]:
    """The names one level below the binding's first name that it defines."""
    from nixgen.checks.nodes import attr_name, attrpath_elements, inherited_names

    path = attrpath_elements(binding)
    if len(path) > 1:
        return [attr_name(path[1], data)]
    value = binding.child_by_field_name("expression")
    names: list[Any] = []
    if value is None or value.type not in _SET_TYPES:
        return names
    for child in value.named_children:
        if child.type != "binding_set":
            continue
        for item in child.named_children:
            if item.type == "binding":
                inner = attrpath_elements(item)
                if inner:
                    names.append(attr_name(inner[0], data))
            elif item.type == "inherit":
                names.extend(attr_name(a, data) for a in inherited_names(item))
    return names


def _rejected(bindings: list[str]) -> int:
    """How many of these bindings, written in one attribute set, Nix's parser rejects."""
    from nixgen import syntax
    from nixgen.checks.duplicates import check_duplicates
    from nixgen.checks.model import ERROR
    from nixgen.checks.nodes import Source

    text = ("{\n" + "\n".join(bindings) + "\n}\n").encode("utf-8")
    src = Source(text, syntax.parse(text), None)
    return sum(1 for f in check_duplicates(src) if f.severity == ERROR)
