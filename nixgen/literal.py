"""Python values of literal Nix expressions, computed without running Nix.

``literal_value(node, data)`` turns a tree-sitter-nix node into a Python value when the node is
a literal: numbers, strings without interpolation, ``true``/``false``/``null``, lists, plain
attribute sets with static names, parentheses, unary minus, ``//`` of literal attribute sets
and path literals. Everything else comes back as ``Unevaluated(kind, text)``. The rules follow
Nix's own lexer and parser (string escapes, the indentation stripping of ``''…''`` strings,
64-bit integers, float syntax), so a value is never wrong: when in doubt, it is Unevaluated.

The string decoders ``decode_string`` and ``decode_indented_string`` work on source text and
are shared with the emitter, which uses them to check its own output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)

# Nix's lexer: FLOAT is tried before INT and needs a dot; PATH needs a slash between
# non-empty segments of [a-zA-Z0-9._+-]; URI is a plain string.
_INT_RE = re.compile(r"[0-9]+\Z")
_FLOAT_RE = re.compile(r"(?:[1-9][0-9]*\.[0-9]*|0?\.[0-9]+)(?:[Ee][+-]?[0-9]+)?\Z")
_PATH_RE = re.compile(r"[a-zA-Z0-9._+-]*(?:/[a-zA-Z0-9._+-]+)+\Z")
_URI_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:[a-zA-Z0-9%/?:@&=+$,_.!~*'-]+\Z")
_MIN_NORMAL = 2.2250738585072014e-308


@dataclass(frozen=True)
class Unevaluated:
    """A value that is not a literal: its tree-sitter node type and its source text."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------
# Strings


def _unescape(body: str) -> str:
    """Nix's ``unescapeStr``: backslash escapes, and a raw CR or CR LF becomes LF."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            e = body[i + 1]
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(e, e))
            i += 2
        elif c == "\r":
            out.append("\n")
            i += 2 if body.startswith("\n", i + 1) else 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def decode_string(text: str) -> str | None:
    """The value of a ``"…"`` string literal given as source text, or None.

    None when the text is not exactly one double-quoted string, or when it interpolates.
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    body = text[1:-1]
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == '"':
            return None
        if c == "\\":
            if i + 1 >= n:
                return None  # the backslash would escape the closing quote
            i += 2
        elif c == "$":
            nxt = body[i + 1] if i + 1 < n else ""
            if nxt == "{":
                return None
            if nxt == "\\":
                i += 1
            elif nxt == '"':
                return None
            else:
                i += 2 if nxt else 1
        else:
            i += 1
    if "\0" in body:
        return None
    return _unescape(body)


def _indented_tokens(text: str) -> list[tuple[str, bool]] | None:
    """Nix's lexer over an indented string: a list of (text, has_indentation) tokens.

    None when the text is not exactly one ``''…''`` string or when it interpolates.
    """
    if not text.startswith("''"):
        return None
    m = re.compile(r"''( *\n)?").match(text)
    assert m is not None
    i, n = m.end(), len(text)
    tokens: list[tuple[str, bool]] = []
    while i < n:
        start = i
        # The long rule ([^$']|$[^{']|'[^'$])+ : each step is forced by its first character.
        while i < n:
            c = text[i]
            if c not in "$'":
                i += 1
            elif i + 1 < n and text[i + 1] not in ("{'" if c == "$" else "'$"):
                i += 2
            else:
                break
        if i > start:
            tokens.append((text[start:i], True))
            continue
        rest = text[i : i + 3]
        if rest == "''$":
            tokens.append(("$", False))
            i += 3
        elif rest == "'''":
            tokens.append(("''", False))
            i += 3
        elif rest.startswith("''\\") and i + 3 < n:
            tokens.append((_unescape(text[i + 2 : i + 4]), False))
            i += 4
        elif rest.startswith("${"):
            return None
        elif rest.startswith("''"):
            return tokens if i + 2 == n else None
        elif rest.startswith("$"):
            tokens.append(("$", False))
            i += 1
        elif rest.startswith("'"):
            tokens.append(("'", False))
            i += 1
        else:  # pragma: no cover - every character is handled above
            return None
    return None  # no closing ''


def _strip_indentation(tokens: list[tuple[str, bool]]) -> str:
    """Nix's ``stripIndentation`` for an indented string made of string tokens only."""
    if not tokens:
        return ""
    at_start = True
    min_indent = 1_000_000
    cur = 0
    for s, has_indentation in tokens:
        if not has_indentation:
            if at_start:
                at_start = False
                min_indent = min(min_indent, cur)
            continue
        for ch in s:
            if at_start:
                if ch == " ":
                    cur += 1
                elif ch == "\n":
                    cur = 0
                else:
                    at_start = False
                    min_indent = min(min_indent, cur)
            elif ch == "\n":
                at_start = True
                cur = 0
    out: list[str] = []
    at_start = True
    dropped = 0
    for k, (s, _) in enumerate(tokens):
        piece: list[str] = []
        for ch in s:
            if at_start:
                if ch == " ":
                    if dropped >= min_indent:
                        piece.append(ch)
                    dropped += 1
                elif ch == "\n":
                    dropped = 0
                    piece.append(ch)
                else:
                    at_start = False
                    dropped = 0
                    piece.append(ch)
            else:
                piece.append(ch)
                if ch == "\n":
                    at_start = True
        s2 = "".join(piece)
        if k == len(tokens) - 1:
            p = s2.rfind("\n")
            if p != -1 and s2[p + 1 :].strip(" ") == "":
                s2 = s2[: p + 1]
        out.append(s2)
    return "".join(out)


def decode_indented_string(text: str) -> str | None:
    """The value of a ``''…''`` string literal given as source text, or None.

    None when the text is not exactly one indented string, or when it interpolates.
    """
    tokens = _indented_tokens(text)
    if tokens is None:
        return None
    value = _strip_indentation(tokens)
    return None if "\0" in value else value


# ---------------------------------------------------------------------------------------------
# Numbers


def parse_int(text: str) -> int | None:
    """The value of an integer literal (no sign), or None when Nix would reject it."""
    if not _INT_RE.match(text):
        return None
    value = int(text)
    return value if value <= INT_MAX else None


def parse_float(text: str) -> float | None:
    """The value of a float literal, or None when Nix 2.8 would reject it.

    Nix reads floats with ``strtod`` and refuses results out of range (overflow to infinity,
    and underflow to zero or to a subnormal number).
    """
    if not _FLOAT_RE.match(text):
        return None
    value = float(text)
    if math.isinf(value):
        return None
    if value != 0.0 and abs(value) < _MIN_NORMAL:
        return None
    if value == 0.0 and any(ch in "123456789" for ch in text.split("e")[0].split("E")[0]):
        return None  # underflowed to zero
    return value


def is_path_literal(text: str) -> bool:
    """Whether Nix lexes ``text`` as one path literal (absolute or relative, no ``~``, no ``<>``)."""
    return bool(_PATH_RE.match(text)) and not text.endswith("/")


# ---------------------------------------------------------------------------------------------
# Nodes

_SCOPE_NODES = ("let_expression", "rec_attrset_expression", "let_attrset_expression")
_CONSTANTS: dict[str, object] = {"true": True, "false": False, "null": None}


class _NotLiteral(Exception):
    """Raised inside the evaluator when a node (or part of it) is not a literal."""


class _Attrs:
    """An attribute set literal while it is built: Nix merges these by path, not by value."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, object] = {}


def _text(node: Any, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _children(node: Any) -> list[Any]:
    return [c for c in node.named_children if c.type != "comment"]


def _binds_name(scope: Any, name: str, data: bytes) -> bool:
    """Whether ``scope`` (a let, a rec set or a function) binds the variable ``name``."""
    if scope.type == "function_expression":
        for child in scope.named_children:
            if child.type == "identifier" and _text(child, data) == name:
                return True
            if child.type == "formals":
                for formal in child.named_children:
                    if formal.type == "formal":
                        ident = formal.child_by_field_name("name")
                        if ident is not None and _text(ident, data) == name:
                            return True
        return False
    for child in scope.named_children:
        if child.type != "binding_set":
            continue
        for b in child.named_children:
            if b.type == "binding":
                path = b.child_by_field_name("attrpath")
                first = _children(path)[0] if path is not None and _children(path) else None
                if first is not None and _attr_key(first, data) == name:
                    return True
            elif b.type in ("inherit", "inherit_from"):
                for attrs in b.named_children:
                    if attrs.type == "inherited_attrs":
                        for a in attrs.named_children:
                            if _text(a, data) == name:
                                return True
    return False


def _shadowed(node: Any, name: str, data: bytes) -> bool:
    parent = node.parent
    while parent is not None:
        if (parent.type in _SCOPE_NODES or parent.type == "function_expression") and _binds_name(
            parent, name, data
        ):
            return True
        parent = parent.parent
    return False


def _attr_key(node: Any, data: bytes) -> str | None:
    """A static attribute name (identifier or plain string), else None."""
    if node.type == "identifier":
        return _text(node, data)
    if node.type == "string_expression":
        return decode_string(_text(node, data))
    return None


# Characters that would make Nix's lexer read a longer token than tree-sitter's node, when they
# follow a number, a path or a URI directly (``1/2`` is a path; ``''a''$`` goes on).
_TOKEN_CONTINUES = {
    "integer_expression": b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/'",
    "float_expression": b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/'",
    "path_expression": b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/$",
    "uri_expression": b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%/?:@&=+$,-_.!~*'",
    "indented_string_expression": b"$'\\",
}


def _eval(node: Any, data: bytes) -> object:
    kind = node.type
    follow = _TOKEN_CONTINUES.get(kind)
    after = data[node.end_byte : node.end_byte + 1]
    if follow is not None and after and after in follow:
        raise _NotLiteral
    text = _text(node, data)
    if kind == "integer_expression":
        value: object = parse_int(text)
    elif kind == "float_expression":
        value = parse_float(text)
    elif kind == "string_expression":
        value = decode_string(text)
    elif kind == "indented_string_expression":
        value = decode_indented_string(text)
    elif kind == "variable_expression":
        if text not in _CONSTANTS or _shadowed(node, text, data):
            raise _NotLiteral
        return _CONSTANTS[text]
    elif kind == "parenthesized_expression":
        inner = _children(node)
        if len(inner) != 1:
            raise _NotLiteral
        return _eval(inner[0], data)
    elif kind == "unary_expression":
        return _unary(node, data)
    elif kind == "list_expression":
        return [_plain(_eval(e, data)) for e in _children(node)]
    elif kind == "attrset_expression":
        return _attrset(node, data)
    elif kind == "binary_expression":
        return _update(node, data)
    elif kind == "path_expression":
        parts = _children(node)
        if len(parts) != 1 or parts[0].type != "path_fragment" or not is_path_literal(text):
            raise _NotLiteral
        return PurePosixPath(text)
    elif kind == "uri_expression":
        value = text if _URI_RE.match(text) else None
    else:
        raise _NotLiteral
    if value is None:
        raise _NotLiteral
    return value


def _unary(node: Any, data: bytes) -> object:
    op = node.child_by_field_name("operator")
    arg = node.child_by_field_name("argument")
    if op is None or arg is None:
        raise _NotLiteral
    value = _eval(arg, data)
    if op.type == "!" and isinstance(value, bool):
        return not value
    if op.type == "-" and isinstance(value, float):
        return 0 - value  # Nix computes 0 - x: -0.0 becomes 0.0
    if (
        op.type == "-"
        and isinstance(value, int)
        and not isinstance(value, bool)
        and INT_MIN <= -value <= INT_MAX
    ):
        return -value
    raise _NotLiteral


def _update(node: Any, data: bytes) -> dict[str, object]:
    op = node.child_by_field_name("operator")
    left = node.child_by_field_name("left")
    right = node.child_by_field_name("right")
    if op is None or op.type != "//" or left is None or right is None:
        raise _NotLiteral
    lv, rv = _plain(_eval(left, data)), _plain(_eval(right, data))
    if not isinstance(lv, dict) or not isinstance(rv, dict):
        raise _NotLiteral
    return {**lv, **rv}


def _attrset(node: Any, data: bytes) -> _Attrs:
    """Build an attribute set the way Nix's parser does (``addAttr``), merging by path."""
    result = _Attrs()
    for child in _children(node):
        if child.type != "binding_set":
            raise _NotLiteral
        for b in _children(child):
            if b.type != "binding":
                raise _NotLiteral  # inherit depends on the scope
            path_node = b.child_by_field_name("attrpath")
            value_node = b.child_by_field_name("expression")
            if path_node is None or value_node is None:
                raise _NotLiteral
            keys = [_attr_key(a, data) for a in _children(path_node)]
            if not keys or any(k is None for k in keys):
                raise _NotLiteral
            _add_attr(result, keys, _eval(value_node, data))  # type: ignore[arg-type]
    return result


def _add_attr(attrs: _Attrs, keys: list[str], value: object) -> None:
    for key in keys[:-1]:
        existing = attrs.items.get(key)
        if existing is None and key not in attrs.items:
            nested = _Attrs()
            attrs.items[key] = nested
            attrs = nested
        elif isinstance(existing, _Attrs):
            attrs = existing
        else:
            raise _NotLiteral  # Nix: attribute already defined
    last = keys[-1]
    if last not in attrs.items:
        attrs.items[last] = value
        return
    existing = attrs.items[last]
    if not (isinstance(existing, _Attrs) and isinstance(value, _Attrs)):
        raise _NotLiteral
    for k, v in value.items.items():
        if k in existing.items:
            raise _NotLiteral
        existing.items[k] = v


def _plain(value: object) -> object:
    if isinstance(value, _Attrs):
        return {k: _plain(v) for k, v in value.items.items()}
    return value


def literal_value(node: Any, data: bytes) -> object:
    """The Python value of a literal tree-sitter-nix node, else ``Unevaluated``.

    ``data`` is the whole source the node was parsed from. Integers are Python ints, floats
    Python floats, attribute sets dicts, lists lists, paths ``PurePosixPath`` as written.
    """
    if node.has_error:  # also true for a subtree with a MISSING node
        return Unevaluated(node.type, _text(node, data))
    try:
        return _plain(_eval(node, data))
    except (_NotLiteral, RecursionError):
        return Unevaluated(node.type, _text(node, data))
