"""Byte offsets into UTF-8 source <-> LSP positions (line, UTF-16 code unit).

The Language Server Protocol counts lines split on ``\\n``, ``\\r\\n`` and ``\\r`` and
columns in UTF-16 code units; nixgen's edits are byte offsets into the UTF-8 bytes. A
:class:`LineIndex` is built once per buffer version and converts in both directions.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nixgen.edits import Edit


def _utf16_len(text: str) -> int:
    """Number of UTF-16 code units of ``text``."""
    extra = sum(1 for ch in text if ord(ch) > 0xFFFF)
    return len(text) + extra


def _char_units(encoding: str) -> Callable[[str], int]:
    if encoding == "utf-8":
        return lambda ch: len(ch.encode("utf-8"))
    if encoding == "utf-32":
        return lambda ch: 1
    return lambda ch: 2 if ord(ch) > 0xFFFF else 1


@dataclass(frozen=True)
class Pos:
    """A zero-based LSP position: line and UTF-16 column."""

    line: int
    character: int


class LineIndex:
    """Line starts of one version of a buffer, for position conversion.

    Columns count UTF-16 code units unless ``encoding`` (the negotiated LSP position
    encoding: ``"utf-16"``, ``"utf-8"`` or ``"utf-32"``) says otherwise.
    """

    def __init__(self, data: bytes, encoding: str = "utf-16") -> None:
        self.data = data
        self.encoding = encoding
        self._units = _char_units(encoding)
        starts, ends = _scan_lines(data, 0, len(data))
        self.starts = [0, *starts]
        self.ends = [*ends, len(data)]  # byte offset of each line's terminator (or the end)

    def updated(self, start: int, end: int, new_data: bytes) -> LineIndex:
        """The index of ``new_data`` = this data with ``[start:end]`` replaced.

        Only the lines around the change are scanned again; the rest are shifted.
        """
        delta = len(new_data) - len(self.data)
        first = max(self.line_of(start) - 1, 0)
        last = self.line_of(end) + 1
        lo = self.starts[first]
        if last < len(self.starts):
            hi_old = self.starts[last]
            hi_new = hi_old + delta
            tail_starts = [x + delta for x in self.starts[last:]]
            tail_ends = [x + delta for x in self.ends[last:]]
        else:
            hi_new = len(new_data)
            tail_starts, tail_ends = [], [len(new_data)]
        mid_starts, mid_ends = _scan_lines(new_data, lo, hi_new)
        out = LineIndex.__new__(LineIndex)
        out.data = new_data
        out.encoding = self.encoding
        out._units = self._units
        if last < len(self.starts):
            # the window ends just after a line break, which the scan reports as a start
            mid_starts = mid_starts[:-1] if mid_starts and mid_starts[-1] == hi_new else mid_starts
        out.starts = [*self.starts[: first + 1], *mid_starts, *tail_starts]
        out.ends = [*self.ends[:first], *mid_ends, *tail_ends]
        return out

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_of(self, offset: int) -> int:
        """Zero-based line holding byte ``offset``."""
        return bisect.bisect_right(self.starts, offset) - 1

    def position(self, offset: int) -> Pos:
        """LSP position of byte ``offset`` (clamped to the data)."""
        offset = max(0, min(offset, len(self.data)))
        line = self.line_of(offset)
        start = self.starts[line]
        # an offset inside a \r\n pair or past the terminator counts as the line's end
        end = min(offset, self.ends[line])
        raw = self.data[start:end]
        if self.encoding == "utf-8" or raw.isascii():
            return Pos(line, len(raw))
        text = raw.decode("utf-8", "replace")
        if self.encoding == "utf-32":
            return Pos(line, len(text))
        return Pos(line, _utf16_len(text))

    def offset(self, line: int, character: int) -> int:
        """Byte offset of an LSP position; clamps past-the-end lines and columns."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.data)
        start = self.starts[line]
        end = self.ends[line]
        raw = self.data[start:end]
        if raw.isascii():
            return start + min(max(character, 0), len(raw))
        text = raw.decode("utf-8", "replace")
        units = 0
        pos = start
        step = self._units
        for ch in text:
            if units >= character:
                break
            units += step(ch)
            pos += len(ch.encode("utf-8"))
        return min(pos, end)

    def lsp_range(self, start: int, end: int) -> dict[str, dict[str, int]]:
        """An LSP ``Range`` (as JSON-ready dict) for a byte span."""
        s = self.position(start)
        e = self.position(end)
        return {
            "start": {"line": s.line, "character": s.character},
            "end": {"line": e.line, "character": e.character},
        }

    def text_edits(self, edits: Iterable[Edit]) -> list[dict[str, object]]:
        """LSP ``TextEdit`` dicts for byte-offset edits, in source order."""
        return [
            {"range": self.lsp_range(e.start, e.end), "newText": e.text} for e in sorted(edits)
        ]


def _scan_lines(data: bytes, lo: int, hi: int) -> tuple[list[int], list[int]]:
    """Line breaks in ``data[lo:hi]``: (starts of the following lines, terminator offsets)."""
    starts: list[int] = []
    ends: list[int] = []
    n = len(data)
    nl = data.find(b"\n", lo, hi)
    cr = data.find(b"\r", lo, hi)
    while nl >= 0 or cr >= 0:
        if cr >= 0 and (nl < 0 or cr < nl):
            ends.append(cr)
            i = cr + 2 if cr + 1 < n and data[cr + 1] == 0x0A else cr + 1
        else:
            ends.append(nl)
            i = nl + 1
        starts.append(i)
        if 0 <= nl < i:
            nl = data.find(b"\n", i, hi)
        if 0 <= cr < i:
            cr = data.find(b"\r", i, hi)
    return starts, ends


def point(data: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter point (row, byte column) of ``offset``; rows split on ``\\n`` only."""
    row = data.count(b"\n", 0, offset)
    line_start = data.rfind(b"\n", 0, offset) + 1
    return row, offset - line_start
