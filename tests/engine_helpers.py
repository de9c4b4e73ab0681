"""Helpers shared by the document engine tests."""

from __future__ import annotations

from nixgen.document import Change, Document
from nixgen.literal import Unevaluated


def meaning(doc: Document) -> list[tuple[object, object]]:
    """Every binding's path and value, whitespace in unevaluated values ignored."""
    out: list[tuple[object, object]] = []
    for b in doc.bindings():
        value = b.value
        if isinstance(value, Unevaluated):
            value = (value.kind, " ".join(value.text.split()))
        out.append((b.path, value))
    return out


def assert_delete_undoes(before: Document, change: Change, path: object) -> None:
    """Deleting what ``set`` added gives back the original bytes; where ``set`` opened up a
    one-line set (replacing more than whitespace), the same bindings and values."""
    back = change.document.delete(path).document
    if all(before.data[e.start : e.end].strip() == b"" for e in change.edits):
        assert back.data == before.data
    else:
        assert meaning(back) == meaning(before)
