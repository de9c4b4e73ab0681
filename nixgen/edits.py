"""Edits as data: ``(start, end, text)`` against the original bytes of a source file.

The command line, the Python API and the language server all produce and apply these same
edits; nothing re-prints a whole file. Offsets are byte offsets into the UTF-8 encoded source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``data[start:end]`` with ``text`` (UTF-8 encoded on application)."""

    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad edit span {self.start}..{self.end}")


def apply_edits(data: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits to ``data`` and return the new bytes."""
    ordered = sorted(edits)
    out: list[bytes] = []
    pos = 0
    for edit in ordered:
        if edit.start < pos:
            raise ValueError(f"overlapping edits at byte {edit.start}")
        if edit.end > len(data):
            raise ValueError(f"edit past the end of the source at byte {edit.end}")
        out.append(data[pos : edit.start])
        out.append(edit.text.encode("utf-8"))
        pos = edit.end
    out.append(data[pos:])
    return b"".join(out)
