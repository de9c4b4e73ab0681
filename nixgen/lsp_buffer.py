"""An open editor buffer: its bytes, its version and an incrementally re-parsed syntax tree.

Each LSP content change (a range in UTF-16 positions plus new text) becomes a byte edit; the
old tree is told about it (``tree.edit``) and handed back to the parser, so a one-character
change re-parses in well under a millisecond on a large file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nixgen.lsp_positions import LineIndex, point


def parse(data: bytes, old_tree: Any = None) -> Any:
    """Parse ``data``, reusing ``old_tree`` (already edited) where that gives the same tree.

    tree-sitter's error recovery can differ between an incremental and a fresh parse of broken
    text, so a tree with errors is parsed again from scratch: diagnostics and edits then see
    exactly what the command line sees.
    """
    from nixgen import syntax

    if old_tree is not None:
        tree = syntax.parse(data, old_tree=old_tree)
        if not tree.root_node.has_error:
            return tree
    return syntax.parse(data)


class Buffer:
    """One open document of the language server."""

    def __init__(self, uri: str, data: bytes, version: int | None = None,
                 path: Path | None = None, encoding: str = "utf-16") -> None:
        self.uri = uri
        self.encoding = encoding
        self.findings: list[Any] = []  # check findings of ``findings_data``
        self.findings_data: bytes | None = None
        self.path = path
        self.version = version
        self.data = data
        self.tree: Any = parse(data)
        self._index: LineIndex | None = None
        self._document: Any = None
        self._document_error: Exception | None = None

    @property
    def index(self) -> LineIndex:
        if self._index is None or self._index.data is not self.data:
            self._index = LineIndex(self.data, self.encoding)
        return self._index

    def replace_all(self, data: bytes) -> None:
        self.data = data
        self.tree = parse(data)
        self._changed()

    def apply_change(self, change: Mapping[str, Any] | Any) -> None:
        """Apply one ``TextDocumentContentChangeEvent`` (incremental or whole text)."""
        rng = _get(change, "range")
        text = _get(change, "text") or ""
        if rng is None:
            self.replace_all(text.encode("utf-8"))
            return
        start_pos = _get(rng, "start")
        end_pos = _get(rng, "end")
        index = self.index
        start = index.offset(_get(start_pos, "line"), _get(start_pos, "character"))
        end = index.offset(_get(end_pos, "line"), _get(end_pos, "character"))
        if end < start:
            start, end = end, start
        self.edit_bytes(start, end, text.encode("utf-8"))

    def edit_bytes(self, start: int, end: int, new: bytes) -> None:
        """Replace ``data[start:end]`` with ``new`` and re-parse incrementally."""
        old = self.data
        data = old[:start] + new + old[end:]
        new_end = start + len(new)
        tree = self.tree
        if tree is not None:
            try:
                tree.edit(
                    start_byte=start,
                    old_end_byte=end,
                    new_end_byte=new_end,
                    start_point=point(old, start),
                    old_end_point=point(old, end),
                    new_end_point=point(data, new_end),
                )
            except Exception:
                tree = None
        index = self._index
        self.data = data
        self.tree = parse(data, tree)
        self._changed()
        if index is not None and index.data is old:
            self._index = index.updated(start, end, data)

    def _changed(self) -> None:
        self._document = None
        self._document_error = None

    def document(self) -> Any:
        """The buffer as a nixgen Document (cached per version); raises on syntax errors."""
        if self._document is None and self._document_error is None:
            try:
                self._document = _document_from(self.data, self.path, self.tree)
            except Exception as exc:
                self._document_error = exc
        if self._document_error is not None:
            raise self._document_error
        return self._document


def _document_from(data: bytes, path: Path | None, tree: Any) -> Any:
    from nixgen.document import Document

    return Document.from_text(data, path=path, tree=tree)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)
