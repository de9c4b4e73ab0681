"""Python values to Nix source text.

``to_nix(value)`` writes None, booleans, integers, floats, strings, lists, tuples, dicts,
``pathlib`` paths and raw ``Expr`` code as a Nix expression that evaluates back to the same
value. Short values stay on one line; longer ones are laid out the way nixfmt does::

    {
      a = 1;
      b = [
        1
        2
      ];
    }

Facts about Nix (2.8) the spellings rely on:

* integers are signed 64-bit; a literal is unsigned, so ``-9223372036854775808`` is written
  ``(-9223372036854775807 - 1)``;
* ``-x`` means ``0 - x``, so negative numbers need parentheses inside a list, and ``-0.0`` is
  written ``(0.0 * -1)``;
* a float literal needs a dot (``1.0e-07``, never ``1e-07``) and must be a normal number:
  subnormal values are written as the exact product of two normal ones;
* a ``''…''`` string strips the common indentation and has its own escapes; it is used for
  multi-line text only when it decodes back to exactly the same string, else ``"…"`` is used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import PurePath, PureWindowsPath
from typing import Any

from nixgen.attrpath import KEYWORDS
from nixgen.literal import _MIN_NORMAL, INT_MAX, INT_MIN, decode_indented_string

_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_'-]*\Z")
_PATH_SEGMENT_RE = re.compile(r"[a-zA-Z0-9._+-]+\Z")
_SCALE = 2.0**600


class Expr:
    """Raw Nix code, inserted as written: ``Expr("pkgs.vim")``."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        if not isinstance(code, str):
            raise TypeError(f"Expr needs a string of Nix code, got {type(code).__name__}")
        self.code = code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and other.code == self.code

    def __hash__(self) -> int:
        return hash(("Expr", self.code))

    def __repr__(self) -> str:
        return f"Expr({self.code!r})"

    def __str__(self) -> str:
        return self.code


def nix_attr_name(name: str) -> str:
    """An attribute name as Nix source: bare when it is an identifier, else a quoted string."""
    if not isinstance(name, str):
        raise ValueError(f"attribute names must be strings, got {type(name).__name__}: {name!r}")
    if _IDENT_RE.match(name) and name not in KEYWORDS:
        return name
    return nix_string(name)


def _check_text(s: str) -> None:
    if "\0" in s:
        raise ValueError("Nix strings cannot contain a NUL character")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"string is not valid Unicode text: {s!r}") from exc


def nix_string(s: str) -> str:
    """``s`` as a one-line ``"…"`` Nix string literal."""
    _check_text(s)
    out = ['"']
    n = len(s)
    for i, ch in enumerate(s):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "$" and i + 1 < n and s[i + 1] == "{":
            out.append("\\$")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _indented_string(s: str, prefix: str, closing_prefix: str, newline: str) -> str | None:
    """``s`` as a multi-line ``''…''`` literal, or None when that form cannot hold it exactly."""
    if newline != "\n" or prefix.strip(" ") or closing_prefix.strip(" "):
        return None
    body = s.replace("''", "'''").replace("${", "''${").replace("\r", "''\\r")
    ends_with_newline = body.endswith("\n")
    lines = body.split("\n")
    if ends_with_newline:
        lines.pop()
    elif body.endswith("'") and not body.endswith("'''"):
        body_last = lines[-1]
        lines[-1] = body_last[:-1] + "''\\'"
    parts = ["''"]
    for line in lines:
        parts.append("\n" + (prefix + line if line else ""))
    parts.append("\n" + closing_prefix + "''" if ends_with_newline else "''")
    text = "".join(parts)
    return text if decode_indented_string(text) == s else None


def _format_float(x: float) -> str:
    """A Nix float spelling: ``repr`` with a dot always before the exponent."""
    r = repr(x)
    if "e" in r:
        mantissa, exponent = r.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        r = f"{mantissa}e{exponent}"
    elif "." not in r:
        r += ".0"
    return r


def _float(x: float, element: bool) -> str:
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"Nix has no literal for the float {x!r}")
    if x == 0.0:
        return "(0.0 * -1)" if math.copysign(1.0, x) < 0 else "0.0"
    if abs(x) < _MIN_NORMAL:
        # Nix rejects subnormal literals; scaling by a power of two is exact both ways.
        return f"({_format_float(x * _SCALE)} * {_format_float(1.0 / _SCALE)})"
    text = _format_float(x)
    return f"({text})" if element and x < 0 else text


def _int(v: int, element: bool) -> str:
    if v > INT_MAX or v < INT_MIN:
        raise ValueError(
            f"integer {v} is outside Nix's signed 64-bit range [{INT_MIN}, {INT_MAX}]"
        )
    if v == INT_MIN:
        return f"({INT_MIN + 1} - 1)"
    return f"({v})" if element and v < 0 else str(v)


def _path(p: PurePath) -> str:
    if isinstance(p, PureWindowsPath):
        raise ValueError(f"Nix paths are POSIX paths; cannot write the Windows path {str(p)!r}")
    text = p.as_posix()
    absolute = text.startswith("/")
    segments = text.split("/")
    body = segments[1:] if absolute else segments
    if text in ("/", "."):
        return "/." if absolute else "./."
    if all(_PATH_SEGMENT_RE.match(seg) for seg in body) and "" not in body:
        if absolute:
            return text
        return text if body[0] in (".", "..") and len(body) > 1 else "./" + text
    # Not expressible as a literal (spaces, odd characters): build it from the root or the
    # file's own directory.
    base = "/." if absolute else "./."
    rest = text if absolute else "/" + text
    return f"({base} + {nix_string(rest)})"


def _expr_is_element(code: str) -> bool:
    """Whether raw code can stand as one list element without parentheses."""
    from nixgen import syntax

    data = f"[ {code} ]".encode()
    tree = syntax.parse(data)
    root = tree.root_node
    if root.has_error or root.named_child_count != 1:
        return False
    lst = root.named_children[0]
    if lst.type != "list_expression":
        return False
    elems = lst.named_children
    return len(elems) == 1 and elems[0].start_byte == 2 and elems[0].end_byte == len(data) - 2


def _expr(e: Expr, element: bool) -> str:
    code = e.code.strip()
    if not code:
        raise ValueError("Expr code is empty")
    if element and not _expr_is_element(code):
        return f"({code})"
    return code


class _Emitter:
    def __init__(self, indent: str, width: int, newline: str) -> None:
        self.indent = indent
        self.width = width
        self.newline = newline
        self.seen: set[int] = set()
        self.compact_seen: set[int] = set()

    def column(self, level: int) -> int:
        return len((self.indent * level).expandtabs(8))

    def scalar(self, v: Any, element: bool) -> str | None:
        """Text of a one-line value, or None for containers and multi-line strings."""
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return _int(int(v), element)
        if isinstance(v, float):
            return _float(float(v), element)
        if isinstance(v, str):
            return nix_string(v)
        if isinstance(v, PurePath):
            return _path(v)
        if isinstance(v, Expr):
            return _expr(v, element)
        return None

    def compact(self, v: Any, element: bool, budget: int) -> str | None:
        """The one-line form if it fits in ``budget`` columns and needs no line breaks."""
        if budget <= 0:
            return None
        if isinstance(v, str):
            if "\n" in v and v.strip() and self.newline == "\n":
                return None
            text = nix_string(v)
        elif isinstance(v, Expr) and "\n" in v.code.strip():
            return None
        elif isinstance(v, list | tuple | Mapping):
            key = id(v)
            if key in self.compact_seen:
                raise ValueError("cannot write a value that contains itself")
            self.compact_seen.add(key)
            try:
                text = self._compact_container(v, budget)
            finally:
                self.compact_seen.discard(key)
            if text is None:
                return None
        else:
            text = self.scalar(v, element)
            if text is None:
                raise ValueError(f"cannot write a {type(v).__name__} as Nix: {v!r}")
        return text if len(text) <= budget else None

    def _compact_container(self, v: Any, budget: int) -> str | None:
        if not v:
            return "[ ]" if isinstance(v, list | tuple) else "{ }"
        parts: list[str] = []
        used = 4
        if isinstance(v, list | tuple):
            for x in v:
                item = self.compact(x, True, budget - used)
                if item is None:
                    return None
                parts.append(item)
                used += len(item) + 1
            return "[ " + " ".join(parts) + " ]"
        for k, x in v.items():
            name = nix_attr_name(k)
            inner = self.compact(x, False, budget - used - len(name) - 4)
            if inner is None:
                return None
            parts.append(f"{name} = {inner};")
            used += len(parts[-1]) + 1
        return "{ " + " ".join(parts) + " }"

    def emit(self, v: Any, level: int, element: bool, lead: int = 0) -> str:
        """The value at nesting ``level``; ``lead`` = columns already used on the line."""
        if isinstance(v, list | tuple | Mapping):
            key = id(v)
            if key in self.seen:
                raise ValueError("cannot write a value that contains itself")
            self.seen.add(key)
            try:
                return self._emit(v, level, element, lead)
            finally:
                self.seen.discard(key)
        return self._emit(v, level, element, lead)

    def _emit(self, v: Any, level: int, element: bool, lead: int) -> str:
        nl = self.newline
        inner = self.indent * (level + 1)
        outer = self.indent * level
        if isinstance(v, str):
            if "\n" in v and v.strip():
                text = _indented_string(v, inner, outer, nl)
                if text is not None:
                    return text
            return nix_string(v)
        if not isinstance(v, list | tuple | Mapping):
            text = self.scalar(v, element)
            if text is None:
                raise ValueError(f"cannot write a {type(v).__name__} as Nix: {v!r}")
            return text
        compact = self.compact(v, element, self.width - self.column(level) - lead)
        if compact is not None:
            return compact
        if not v:
            return "[ ]" if isinstance(v, list | tuple) else "{ }"
        if isinstance(v, list | tuple):
            lines = ["["]
            for x in v:
                lines.append(inner + self.emit(x, level + 1, True))
            lines.append(outer + "]")
            return nl.join(lines)
        lines = ["{"]
        for k, x in v.items():
            name = nix_attr_name(k)
            lines.append(f"{inner}{name} = {self.emit(x, level + 1, False, len(name) + 4)};")
        lines.append(outer + "}")
        return nl.join(lines)


def to_nix(
    value: object,
    *,
    indent: str = "  ",
    level: int = 0,
    width: int = 80,
    newline: str = "\n",
) -> str:
    """``value`` as Nix source text.

    ``indent`` is one indentation unit, ``level`` the nesting depth the text is inserted at
    (lines after the first are indented for it), ``width`` the column limit for one-line
    values, ``newline`` the line separator of the file. Raises ValueError for values Nix
    cannot hold (NaN, infinities, integers beyond 64 bits, NUL characters, other types).
    """
    if level < 0:
        raise ValueError("level must be 0 or more")
    return _Emitter(indent, width, newline).emit(value, level, False)


def to_nix_element(
    value: object,
    *,
    indent: str = "  ",
    level: int = 0,
    width: int = 80,
    newline: str = "\n",
) -> str:
    """Like ``to_nix`` but safe as one element of a list (``(-1)``, ``(f x)``)."""
    return _Emitter(indent, width, newline).emit(value, level, True)


__all__ = ["KEYWORDS", "Expr", "nix_attr_name", "nix_string", "to_nix", "to_nix_element"]
