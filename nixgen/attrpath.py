"""Logical attribute paths: ``services.openssh.ports``, ``users.users."alice-x".shell``.

A path is a tuple of segments. A segment is a ``str`` (the decoded attribute name: ``foo``
and ``"foo"`` are the same name, escapes inside quotes are decoded) or a :class:`Dynamic`
for an interpolated name (``${x}``, ``"${x}-y"``), which is never equal to any ``str`` nor to
another ``Dynamic``, so such a name is never matched by accident.

:func:`parse_path` reads the user's dotted notation; :func:`format_path` writes it back,
quoting segments that are not plain identifiers. :func:`attr_names` decodes the attribute
names of a tree-sitter ``attrpath`` / ``inherited_attrs`` node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

from nixgen.errors import UsageError
from nixgen.literal import decode_string

if TYPE_CHECKING:
    from tree_sitter import Node

__all__ = [
    "KEYWORDS",
    "Dynamic",
    "Path",
    "Segment",
    "as_path",
    "attr_name",
    "attr_names",
    "format_path",
    "is_identifier",
    "key_may_start_with",
    "parse_path",
    "quote_attr",
]

KEYWORDS = frozenset({"assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with"})
_NIX_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_'\-]*\Z")
_PLAIN_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


class Dynamic:
    """An interpolated attribute name, kept as its source text. Equal only to itself."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Dynamic({self.text!r})"

    def __str__(self) -> str:
        return self.text


Segment = Union[str, Dynamic]  # noqa: UP007 - used at runtime in isinstance-free aliases
Path = tuple[Segment, ...]


def is_identifier(name: str) -> bool:
    """True when nixgen writes ``name`` bare: letters, digits and ``_``, not a keyword.

    Nix also accepts ``-`` and ``'`` in bare names; nixgen reads those but quotes them when
    writing (``a."c-d"``), which is always valid and easier to read.
    """
    return bool(_PLAIN_IDENT.match(name)) and name not in KEYWORDS


def quote_attr(name: Segment) -> str:
    """``name`` as it must be written in Nix source: bare, or as a quoted string."""
    if isinstance(name, Dynamic):
        return name.text
    if is_identifier(name):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def format_path(path: Iterable[Segment]) -> str:
    """``("a", "c-d")`` -> ``a."c-d"``."""
    return ".".join(quote_attr(seg) for seg in path)


def _decode_escape(ch: str) -> str:
    return _ESCAPES.get(ch, ch)


def parse_path(text: str) -> tuple[Segment, ...]:
    """Parse the dotted notation ``a.b."c-d"`` into ``("a", "b", "c-d")``.

    Quoted segments may contain dots and escapes (``\\"``, ``\\\\``, ``\\n``, ``\\${``);
    ``$`` before any character but ``{`` is text, as in Nix (``"a$b"``, ``"$${x}"``).
    Only a real ``${...}`` (bare or inside quotes) makes a :class:`Dynamic` segment.
    Raises :class:`nixgen.errors.UsageError` on an empty or malformed path.
    """
    segs: list[Segment] = []
    i, n = 0, len(text)
    if not text:
        raise UsageError("empty attribute path")
    while True:
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            dynamic = False
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    buf.append(_decode_escape(text[i + 1]))
                    i += 2
                    continue
                if text[i] == "$" and i + 1 < n and text[i + 1] not in '{"\\':
                    # Nix reads ``$`` and the character after it as text: ``$${x}`` is fixed.
                    buf.append(text[i : i + 2])
                    i += 2
                    continue
                if text.startswith("${", i):
                    dynamic = True
                buf.append(text[i])
                i += 1
            if i >= n:
                raise UsageError(f"unterminated quote in attribute path {text!r}")
            i += 1
            name = "".join(buf)
            segs.append(Dynamic('"' + name + '"') if dynamic else name)
        elif text.startswith("${", i):
            depth, j = 0, i
            while j < n:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise UsageError(f"unterminated ${{...}} in attribute path {text!r}")
            segs.append(Dynamic(text[i : j + 1]))
            i = j + 1
        else:
            j = text.find(".", i)
            j = n if j < 0 else j
            name = text[i:j]
            if not _NIX_IDENT.match(name):
                raise UsageError(
                    f"bad attribute name {name!r} in path {text!r} (quote it: \"{name}\")"
                )
            segs.append(name)
            i = j
        if i >= n:
            break
        if text[i] != ".":
            raise UsageError(f"expected '.' at position {i + 1} of attribute path {text!r}")
        i += 1
        if i >= n:
            raise UsageError(f"attribute path {text!r} ends with '.'")
    return tuple(segs)


def as_path(path: str | Iterable[Segment]) -> tuple[Segment, ...]:
    """Accept either the dotted notation or an already split sequence of segments."""
    if isinstance(path, str):
        return parse_path(path)
    result = tuple(path)
    if not result:
        raise UsageError("empty attribute path")
    return result


_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'-")


def key_may_start_with(data: bytes, pos: int, name: Segment) -> bool:
    """Byte-level pre-check: can the key written at ``pos`` start with the name ``name``?

    False only when the key is a bare identifier that is surely another name; quoted and
    interpolated keys always pass (they are decoded properly afterwards).
    """
    first = data[pos : pos + 1]
    if first in (b'"', b"$"):
        return True
    if name.__class__ is Dynamic:
        return False
    raw = name.encode("utf-8")
    if not data.startswith(raw, pos):
        return False
    nxt = data[pos + len(raw) : pos + len(raw) + 1]
    return not nxt or nxt[0] not in _NAME_BYTES


def _string_node_value(node: Node, data: bytes) -> Segment:
    """Decode a ``"..."`` string node used as a name; Dynamic only if it interpolates.

    Escapes are decoded as Nix does (``"a\\$b"`` and ``"$${x}"`` are the fixed names ``a$b``
    and ``$${x}``); only an ``interpolation`` child makes the name dynamic.
    """
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    children = node.named_children
    if any(child.type == "interpolation" for child in children):
        return Dynamic(text)
    value = decode_string(text)
    if value is not None:
        return value
    parts: list[str] = []
    for child in children:
        raw = data[child.start_byte : child.end_byte].decode("utf-8", "replace")
        if child.type == "escape_sequence":
            parts.append(_decode_escape(raw[1:]) if len(raw) == 2 else raw[1:])
        elif child.type == "dollar_escape":
            parts.append(raw[1:] if raw.startswith("\\") else raw)
        else:
            parts.append(raw)
    return "".join(parts)


def attr_name(node: Node, data: bytes) -> Segment:
    """The name written by one attribute node (identifier, string or interpolation)."""
    kind = node.type
    if kind == "identifier":
        return data[node.start_byte : node.end_byte].decode("utf-8")
    if kind == "string_expression":
        return _string_node_value(node, data)
    return Dynamic(data[node.start_byte : node.end_byte].decode("utf-8", "replace"))


def attr_names(node: Node, data: bytes) -> list[tuple[Segment, Node]]:
    """``(name, node)`` for each attribute of an ``attrpath`` or ``inherited_attrs`` node."""
    return [(attr_name(c, data), c) for c in node.named_children if c.type != "comment"]
