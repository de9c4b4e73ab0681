"""Byte offsets of 1-based (line, column) places in UTF-8 source, as error messages give them."""

from __future__ import annotations


def byte_offset(data: bytes, line: int, col: int) -> int:
    """Byte offset of a 1-based line (split on ``\\n``) and 1-based character column.

    A line past the end gives ``len(data)``; a column past the line's end gives the line's end.
    """
    pos = 0
    for _ in range(line - 1):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            return len(data)
        pos = nxt + 1
    end = data.find(b"\n", pos)
    if end < 0:
        end = len(data)
    text = data[pos:end].decode("utf-8", "replace")
    return pos + len(text[: max(col - 1, 0)].encode("utf-8"))
