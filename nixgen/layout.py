"""Source layout helpers: lines, indentation and newline style of existing Nix source.

New code copies its neighbours, so these functions answer questions such as "what is the
indentation of the line holding byte N", "which newline does this file use" and "where does
the text that a binding (or list item) owns begin and end" — all on raw bytes, so that every
byte outside an edit stays exactly as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = [
    "detect_indent_unit",
    "detect_newline",
    "is_blank_line",
    "is_comment_line",
    "line_end",
    "line_indent",
    "line_start",
    "newline_at",
    "next_line_start",
    "removal_span",
    "rest_of_line_is_trivia",
    "starts_line",
]


def newline_at(data: bytes, pos: int, default: str = "\n") -> str:
    """The line break ending the line of ``pos`` (``default`` on a last line without one)."""
    end = data.find(b"\n", pos)
    if end < 0:
        return default
    return "\r\n" if end > 0 and data[end - 1 : end] == b"\r" else "\n"


def detect_newline(data: bytes) -> str:
    """``"\\r\\n"`` when the file's first line break is CRLF, else ``"\\n"``."""
    pos = data.find(b"\n")
    return "\r\n" if pos > 0 and data[pos - 1 : pos] == b"\r" else "\n"


def detect_indent_unit(data: bytes) -> str:
    """The file's indentation step: ``"\\t"`` for tab-indented files, else N spaces (default 2)."""
    steps: Counter[int] = Counter()
    tabs = spaces = 0
    prev = 0
    for raw in data[:16384].splitlines():
        stripped = raw.lstrip(b" \t")
        if not stripped or stripped.startswith(b"#"):
            continue
        lead = raw[: len(raw) - len(stripped)]
        if lead.startswith(b"\t"):
            tabs += 1
            continue
        width = len(lead)
        if width:
            spaces += 1
        if width > prev:
            steps[width - prev] += 1
        prev = width
    if tabs > spaces:
        return "\t"
    for step, _ in steps.most_common():
        if 1 < step <= 8:
            return " " * step
    return "  "


def items_with_comments(children: Iterable[Any], data: bytes, head: str) -> tuple[str, list[str]]:
    """The source text of each of ``children`` (tree-sitter nodes) that is not a comment, each
    comment joined to the text of the item it follows, or to ``head`` (the opening bracket)
    when it comes first: how an opened one-line set or list keeps its comments."""
    items: list[str] = []
    for child in children:
        text = data[child.start_byte : child.end_byte].decode("utf-8")
        if child.type != "comment":
            items.append(text)
        elif items:
            items[-1] += f" {text}"
        else:
            head += f" {text}"
    return head, items


def line_start(data: bytes, pos: int) -> int:
    """Byte offset of the start of the line holding ``pos``."""
    return data.rfind(b"\n", 0, pos) + 1


def line_end(data: bytes, pos: int) -> int:
    """Byte offset of the end of the line holding ``pos``, before ``\\r\\n`` / ``\\n``."""
    end = data.find(b"\n", pos)
    if end < 0:
        return len(data)
    return end - 1 if end > 0 and data[end - 1 : end] == b"\r" else end


def next_line_start(data: bytes, pos: int) -> int:
    """Offset just after the line break ending the line of ``pos`` (``len(data)`` at EOF)."""
    end = data.find(b"\n", pos)
    return len(data) if end < 0 else end + 1


def line_indent(data: bytes, pos: int) -> str:
    """The leading spaces/tabs of the line holding ``pos``."""
    start = line_start(data, pos)
    i = start
    while i < len(data) and data[i] in b" \t":
        i += 1
    return data[start:i].decode("ascii")


def starts_line(data: bytes, pos: int) -> bool:
    """True when only spaces/tabs precede ``pos`` on its line."""
    return data[line_start(data, pos) : pos].strip(b" \t") == b""


def is_blank_line(data: bytes, start: int) -> bool:
    """True when the line beginning at ``start`` holds only whitespace."""
    return data[start : line_end(data, start)].strip(b" \t") == b""


def _skip_inline_comment(data: bytes, pos: int) -> int:
    """After ``pos``: skip spaces/tabs and a comment that ends on this line."""
    n = len(data)
    while pos < n and data[pos] in b" \t":
        pos += 1
    if data[pos : pos + 1] == b"#":
        return line_end(data, pos)
    if data[pos : pos + 2] == b"/*":
        close = data.find(b"*/", pos + 2)
        if close >= 0 and data.find(b"\n", pos, close) < 0:
            pos = close + 2
            while pos < n and data[pos] in b" \t":
                pos += 1
    return pos


def rest_of_line_is_trivia(data: bytes, pos: int) -> tuple[bool, int]:
    """Whether only whitespace and a comment follow ``pos`` on its line; and where that ends.

    Returns ``(True, line_end)`` or ``(False, offset of the next token on the line)``.
    """
    after = _skip_inline_comment(data, pos)
    end = line_end(data, pos)
    if after >= end:
        return True, end
    return False, after


def is_comment_line(data: bytes, start: int) -> bool:
    """True when the line beginning at ``start`` holds only a comment."""
    text = data[start : line_end(data, start)].strip(b" \t")
    if text.startswith(b"#"):
        return True
    return text.startswith(b"/*") and text.endswith(b"*/") and text.count(b"*/") == 1


def removal_span(
    data: bytes,
    start: int,
    end: int,
    lower: int,
    *,
    first: bool = False,
    closers: bytes = b"}]",
) -> tuple[int, int]:
    """The bytes to delete to remove the item at ``start..end`` with what it owns.

    An item owns the comment lines directly above it (not below ``lower``, the end of the
    previous sibling or opening bracket; ``first`` says it is the opening bracket) and a
    comment ending its own line. An item alone on
    its lines is removed with those whole lines; an item sharing its line loses only itself
    and the spaces before it. This is the exact inverse of the insertion layout used by
    :mod:`nixgen.document`.
    """
    closer_bytes = tuple(bytes([c]) for c in closers)
    trivia, after = rest_of_line_is_trivia(data, end)
    if starts_line(data, start):
        s = line_start(data, start)
        if trivia:
            # owned comment lines directly above
            while s > lower:
                prev = line_start(data, s - 1)
                if prev < lower or not is_comment_line(data, prev) or not starts_line(data, prev):
                    break
                s = prev
            e = next_line_start(data, after)
            # avoid leaving a blank line stacked on another blank line or before a closer
            follow_blank = e >= len(data) or is_blank_line(data, e)
            follow_close = data[e:].lstrip(b" \t")[:1] in (b"", *closer_bytes)
            if first and data[lower:s].strip(b" \t\r\n") == b"" and follow_blank and e < len(data):
                # first item of its set: do not leave a blank line right after the opener,
                # unless that blank line is all the set still holds
                e2 = e
                while e2 < len(data) and is_blank_line(data, e2):
                    e2 = next_line_start(data, e2)
                if data[e2:].lstrip(b" \t")[:1] not in closer_bytes:
                    e = e2
            elif follow_blank or follow_close:
                # avoid leaving a blank line stacked on another blank line or before a closer
                while s > lower:
                    prev = line_start(data, s - 1)
                    if prev <= lower or not is_blank_line(data, prev):
                        break
                    s = prev
            if e >= len(data) and not data.endswith(b"\n") and s > 0:
                # last line without a final newline: take the line break before it instead
                s = s - 2 if data[s - 2 : s] == b"\r\n" else s - 1
            return s, e
        if data[after : after + 1] in closer_bytes:
            # `item }` on its own line after a line break: remove from the previous line's end
            nl = s - 2 if data[s - 2 : s] == b"\r\n" else s - 1
            return max(nl, lower), end
        return start, after
    s = start
    while s > lower and data[s - 1 : s] in (b" ", b"\t"):
        s -= 1
    return s, end
