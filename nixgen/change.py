"""The result of an edit operation, and how every operation builds one or refuses.

An operation computes byte edits against the document's source; :func:`make_change` applies
them (the new document is re-parsed and verified) into a :class:`Change`. Refusals are
:class:`~nixgen.errors.EditError` located at the binding concerned (:func:`edit_error`),
including a result that Nix would reject with "attribute already defined"
(:func:`check_merge`, replayed by :mod:`nixgen.merge`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nixgen import merge
from nixgen.attrpath import Dynamic, Segment, format_path
from nixgen.edits import Edit
from nixgen.errors import EditError

if TYPE_CHECKING:
    from nixgen.binding_index import Binding
    from nixgen.document import Document

__all__ = [
    "Change",
    "check_merge",
    "conflict_error",
    "describe_value",
    "duplicates_message",
    "edit_error",
    "make_change",
    "require_static",
]


@dataclass(eq=False)
class Change:
    """The result of an operation: the edits against the old source and the new document."""

    edits: tuple[Edit, ...]
    document: Document

    @property
    def changed(self) -> bool:
        return bool(self.edits)

    @property
    def data(self) -> bytes:
        return self.document.data


def make_change(doc: Document, edits: Iterable[Edit]) -> Change:
    """``edits`` (sorted) with the document they produce; EditError on a new syntax error."""
    ordered = tuple(sorted(edits))
    return Change(ordered, doc.apply(ordered))


def edit_error(doc: Document, message: str, at: int | None = None) -> EditError:
    """An EditError on ``doc``'s file, at the line and column of byte ``at`` when given."""
    if at is None:
        return EditError(message, file=doc.path)
    line, col = doc.line_col(at)
    return EditError(message, file=doc.path, line=line, col=col)


def require_static(doc: Document, want: tuple[Segment, ...]) -> None:
    """EditError when the path has an interpolated segment (``${x}``), which cannot be edited."""
    for seg in want:
        if isinstance(seg, Dynamic):
            raise edit_error(doc, f"cannot edit an interpolated attribute name {seg.text}")


def describe_value(b: Binding, data: bytes) -> str:
    """A binding's value as a short one-line quote for messages."""
    node = b.node.child_by_field_name("expression") if b.node.type == "binding" else b.node
    if node is None:
        return "something else"
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    text = " ".join(text.split())
    return f"`{text[:40]}…`" if len(text) > 40 else f"`{text}`"


def duplicates_message(want: tuple[Segment, ...], defs: list[Binding]) -> str:
    """The message refusing to edit a path that is defined more than once."""
    where = ", ".join(b.location for b in defs)
    return f"{format_path(want)} is defined {len(defs)} times ({where}); edit one by hand first"


def conflict_error(
    doc: Document, want: tuple[Segment, ...], found: merge.Conflict, new: Document
) -> EditError:
    """The refusal of a change to ``want`` after which Nix would see ``found`` twice."""
    line, _ = new.line_col(found.node.start_byte)
    return edit_error(
        doc,
        f"cannot write {format_path(want)}: {format_path(found.path)} would then be defined "
        f"twice (the definition at line {line} of the result comes after another one), "
        "which Nix rejects (attribute already defined)",
    )


def check_merge(doc: Document, want: tuple[Segment, ...], change: Change) -> None:
    """EditError if ``change`` makes Nix see a second definition along ``want``."""
    new = change.document
    found = merge.conflicts(new.tree.root_node, new.data, want)
    if len(found) > len(merge.conflicts(doc.tree.root_node, doc.data, want)):
        raise conflict_error(doc, want, found[0], new)
