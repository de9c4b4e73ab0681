"""Helpers shared by the document engine tests."""

from __future__ import annotations

from nixgen.document import Document
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
