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
