"""Lossless Nix documents: find settings by logical path and rewrite them with minimal edits.

A :class:`Document` keeps its source byte for byte (CRLF, tabs, BOM, trailing spaces, no
final newline) next to its tree-sitter tree. Logical paths follow one model: ``a.b.c = 1;``,
``a = { b.c = 1; };`` and ``a."b" = { c = 1; };`` all define ``a.b.c``. The module's shape
(function header, ``let``, ``with``, ``assert``, parentheses, ``rec``) is looked through, and
settings under ``lib.mkIf`` / ``mkMerge`` / ``mkForce`` / … are found and reported with the
wrappers named.

Every operation returns a :class:`Change`: the edits (byte spans and new text against the
original bytes) and the new, re-parsed document. An edit that would add a syntax error raises
:class:`~nixgen.errors.EditError` and changes nothing.

This module is the facade; the work is done by small modules:

- :mod:`nixgen.binding_index` reads the bindings under their logical paths (:class:`Binding`);
- :mod:`nixgen.set_edit`, :mod:`nixgen.delete_edit`, :mod:`nixgen.list_edit` and
  :mod:`nixgen.rename_edit` compute the edits of each operation;
- :mod:`nixgen.item_layout` writes new items and places them beside their neighbours,
  :mod:`nixgen.change` builds the :class:`Change` or the refusal, and
  :mod:`nixgen.module_imports` finds a path in the modules a file imports;
- :mod:`nixgen.layout` (raw-byte layout), :mod:`nixgen.scope` (module shape) and
  :mod:`nixgen.merge` (Nix's attribute merging, which says whether an edit would make Nix
  report "attribute already defined") sit below them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixgen import layout, scope, syntax
from nixgen.attrpath import Dynamic, Segment, as_path, format_path
from nixgen.binding_index import Binding, compatible, same, scan
from nixgen.change import Change, duplicates_message, require_static
from nixgen.delete_edit import delete_path
from nixgen.edits import Edit, apply_edits
from nixgen.errors import EditError, FileError
from nixgen.list_edit import append_item, remove_item
from nixgen.rename_edit import rename_path
from nixgen.set_edit import set_value

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

__all__ = ["Binding", "Change", "Document"]

PathLike = str | Sequence[Segment]
_BOM = b"\xef\xbb\xbf"


class Document:
    """A Nix source file, kept byte for byte, with path-based queries and edits."""

    def __init__(
        self,
        data: bytes,
        path: Path | None = None,
        *,
        tree: Tree | None = None,
        check: bool = True,
    ) -> None:
        self.data = data
        self.path = path
        self.tree = tree if tree is not None else syntax.parse(data)
        self._errors: list[Any] | None = None
        self._all: list[Binding] | None = None
        self._scans: dict[tuple[Segment, ...], list[Binding]] = {}
        self._unit: str | None = None
        #: the ``files.Snapshot`` this document was read from (``from_path``), else None
        self.snapshot: Any = None
        if check:
            errors = self.errors()
            if errors:
                raise errors[0]

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str | Path) -> Document:
        """Read a file. FileError when missing/unreadable/binary; NixSyntaxError on bad syntax."""
        from nixgen.files import read_snapshot

        snap = read_snapshot(path)
        doc = cls(snap.data, Path(path))
        doc.snapshot = snap
        return doc

    @classmethod
    def from_text(
        cls,
        text: str | bytes,
        path: str | Path | None = None,
        *,
        tree: Tree | None = None,
        check: bool = True,
    ) -> Document:
        """A document from source text. ``tree``: an existing parse of exactly these bytes.

        With ``check=False`` a source with syntax errors is accepted (edits then must not add
        new errors); by default the first syntax error is raised.
        """
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if b"\0" in data:
            raise FileError("binary data (NUL byte) is not Nix source", file=path)
        return cls(data, Path(path) if path is not None else None, tree=tree, check=check)

    # -- basic views ------------------------------------------------------------------------

    @property
    def source(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Document({str(self.path) if self.path else '<text>'}, {len(self.data)} bytes)"

    def errors(self) -> list[Any]:
        """Syntax errors of this source (the known formals gap excluded)."""
        if self._errors is None:
            name = str(self.path) if self.path else None
            self._errors = syntax.syntax_errors(self.tree, self.data, name)
        return self._errors

    @property
    def warnings(self) -> list[str]:
        """What nixgen keeps byte for byte but Nix will object to, as ``file:line:col: message``."""
        if self.data.startswith(_BOM):
            return [
                f"{self.path or '<input>'}:1:1: the file starts with a UTF-8 byte order mark, "
                "which Nix rejects (\"unexpected invalid token\"); nixgen keeps it: remove it "
                "with `nixgen check --fix`"
            ]
        return []

    def line_col(self, byte_offset: int) -> tuple[int, int]:
        """1-based line and column (characters) of a byte offset."""
        return syntax.line_col(self.data, byte_offset)

    def top_attrset(self) -> Node | None:
        """The module's body attribute set (through header, let, with, parentheses).

        For a ``lib.mkMerge [ … ]`` body: its first unconditional attribute set.
        """
        return scope.top_attrset(self.tree.root_node, self.data)

    def module_args(self) -> list[str] | None:
        """Formals of the module function; None when the file is not a function."""
        return scope.module_args(self.tree.root_node, self.data)

    @property
    def newline(self) -> str:
        return layout.detect_newline(self.data)

    @property
    def indent_unit(self) -> str:
        if self._unit is None:
            self._unit = layout.detect_indent_unit(self.data)
        return self._unit

    # -- queries ----------------------------------------------------------------------------

    def related(self, path: PathLike) -> list[Binding]:
        """Bindings on ``path``: its own, those below it and those of its prefixes (cached)."""
        want = as_path(path)
        cached = self._scans.get(want)
        if cached is None:
            if self._all is not None:
                cached = [b for b in self._all if compatible(b.path, want)]
            else:
                cached = scan(self.tree.root_node, self.data, self.path, want)
            self._scans[want] = cached
        return cached

    def bindings(self) -> list[Binding]:
        """Every binding reachable through the module's shape, with full logical paths."""
        if self._all is None:
            self._all = scan(self.tree.root_node, self.data, self.path, None)
        return list(self._all)

    def get(self, path: PathLike) -> list[Binding]:
        """All definitions of exactly ``path`` (also those inside a parent's set or mkIf)."""
        want = as_path(path)
        return [b for b in self.related(want) if len(b.path) == len(want) and same(b.path, want)]

    def find_prefix(self, path: PathLike) -> list[Binding]:
        """All bindings whose logical path starts with ``path``."""
        want = as_path(path)
        return [b for b in self.related(want) if len(b.path) >= len(want)]

    def value(self, path: PathLike) -> object:
        """The Python value of the single definition of ``path`` (or ``literal.Unevaluated``).

        KeyError when ``path`` is not defined; EditError (listing them) when it is defined more
        than once. When it is defined only through deeper keys (``a.b = 1; a.c = 2;``), the
        value is assembled from them as a dict.
        """
        want = as_path(path)
        defs = self.get(want)
        if len(defs) == 1:
            return defs[0].value
        if len(defs) > 1:
            raise EditError(duplicates_message(want, defs))
        deeper = [b for b in self.find_prefix(want) if len(b.path) > len(want)]
        if not deeper:
            raise KeyError(format_path(want))
        result: dict[str, object] = {}
        for name in dict.fromkeys(b.path[len(want)] for b in deeper):
            if isinstance(name, Dynamic):
                continue
            result[name] = self.value((*want, name))
        return result

    # -- applying edits ---------------------------------------------------------------------

    def apply(self, edits: Sequence[Edit]) -> Document:
        """The document after ``edits``; EditError (nothing changed) if they add a syntax error."""
        edits = tuple(sorted(edits))
        if not edits:
            return self
        try:
            new_data = apply_edits(self.data, edits)
        except ValueError as exc:
            raise EditError(f"cannot apply edits: {exc}", file=self.path) from exc
        tree = self.tree.copy()
        for edit in reversed(edits):
            start_pt = _point(self.data, edit.start)
            old_end_pt = _point(self.data, edit.end)
            text = edit.text.encode("utf-8")
            new_end = edit.start + len(text)
            nl = text.rfind(b"\n")
            if nl < 0:
                new_end_pt = (start_pt[0], start_pt[1] + len(text))
            else:
                new_end_pt = (start_pt[0] + text.count(b"\n"), len(text) - nl - 1)
            tree.edit(edit.start, edit.end, new_end, start_pt, old_end_pt, new_end_pt)
        new_tree = syntax.parse(new_data, tree)
        doc = Document(new_data, self.path, tree=new_tree, check=False)
        before, after = self.errors(), doc.errors()
        if len(after) > len(before):
            first = after[0]
            raise EditError(
                f"the edit would produce invalid Nix ({first.message}) and was refused",
                file=self.path,
                line=first.line,
                col=first.col,
            )
        return doc

    # -- operations -------------------------------------------------------------------------

    def _editable(self, path: PathLike) -> tuple[Segment, ...]:
        want = as_path(path)
        require_static(self, want)
        return want

    def set(self, path: PathLike, value: object) -> Change:
        """Create or replace the value of ``path``.

        One definition: its value is replaced (key, spacing around ``=``, ``;`` and the
        binding's own wrappers such as ``mkForce`` are kept). Several: EditError listing them.
        Absent: a binding ``rest.of.path = value;`` is inserted into the deepest attribute-set
        literal already on the path (the module body at least; for a ``mkMerge [ … ]`` body its
        first unconditional set). Within that set it goes right after the last binding whose
        key shares the longest prefix with ``rest.of.path`` (``services.openssh.ports`` after
        ``services.openssh.enable = true; # comment``, the comment staying on its line), or
        after the set's last binding when no key shares a prefix (a new ``imports`` then goes
        first, above the comments of the first binding). It takes the indentation of
        that sibling and the newline of its line; a one-line set stays on one line (``{ }``
        becomes ``{ key = value; }``) while it fits in 80 columns and the value is one line,
        else it is opened up, one binding per line, each block comment staying on the line of
        the binding it follows (a set sharing its line with an outer bracket stays on one line,
        since opening it alone would leave the outer one half open); multi-line values are laid out by
        ``emit.to_nix`` at the binding's nesting level, and multi-line raw code (``Expr``) is
        indented under the binding's line. When a prefix of the path is defined by a value
        that is not a literal attribute set (``a = lib.mkIf c { … }``, ``a = import ./x.nix``),
        the key goes into a literal of a longer prefix written inside that value; EditError
        when there is none, since Nix would reject a second definition of the prefix.

        Nix merges definitions in source order (:mod:`nixgen.merge` replays that): when the
        deepest literal would make Nix see a name twice (``a.b.x = 1;`` before
        ``a = { … };``, adding ``a.b.y``), the new key goes beside the keys that already spell
        that name (``a.b.y = …;`` after ``a.b.x = 1;``). Any result that Nix would reject with
        "attribute already defined" is refused with EditError, and so is a new name in a
        ``rec`` set whose code reads a variable of that name (the new key would capture it).
        """
        return set_value(self, self._editable(path), value)

    def delete(self, path: PathLike) -> Change:
        """Remove every definition of ``path`` (and of paths below it) with what they own.

        A binding owns the comment lines directly above it and a comment at the end of its
        line; a binding alone on its lines is removed with those lines, one sharing a line
        loses itself and the spaces before it. Only those bindings go, nothing is added:
        in the nested form the parent's set literal stays, even empty (deleting ``a.b`` from
        ``a = { b = 1; };`` leaves ``a = { };``); in the dotted form the parents spelled only
        in the deleted key go with it (deleting ``a.b`` from ``a.b = 1; c = 2;`` leaves
        ``c = 2;``, so ``a`` is no longer defined unless another binding defines it, and
        deleting ``a.b.c`` from ``a.b = { c = 1; };`` leaves ``a.b = { };``).
        Inherited names are removed from their ``inherit`` (the whole statement when it was
        the last name). Deleting an absent path changes nothing; but when the path may be
        defined out of this text's sight (in an imported module, or inside a value that is
        not an attribute-set literal, such as ``a = import ./a.nix;``), EditError says where.
        A name that code in its ``rec`` set reads as a variable is not deleted (EditError at
        that use), as the code would be left reading an undefined variable.
        """
        return delete_path(self, self._editable(path))

    def append(self, path: PathLike, item: object) -> Change:
        """Add ``item`` to the list at ``path`` unless an equal item is there already.

        Equal means the same literal value (of the same types), else the same tokens ignoring
        whitespace and comments. A one-line list stays on one line unless it has its line to
        itself and would grow past the width limit; in a multi-line list the item goes on a new
        line with the items' indentation. A missing path is created as ``path = [ item ];``.
        """
        return append_item(self, self._editable(path), item)

    def remove(self, path: PathLike, item: object) -> Change:
        """Remove every element of the list at ``path`` equal to ``item`` (no-op when none).

        When ``path`` is not written in this text but may be defined out of its sight (in an
        imported module, or inside a value that is not an attribute-set literal, such as
        ``a = { l = [ 1 ]; } // { };``), EditError says where, as for :meth:`delete`.
        """
        return remove_item(self, self._editable(path), item)

    def rename(self, path: PathLike, new_path: PathLike) -> Change:
        """Rename ``path`` to ``new_path`` by rewriting keys (only the spans of the segments).

        Every binding whose key spells the last segment of ``path`` is rewritten; the segments
        written in enclosing keys must stay the same (EditError otherwise), and ``new_path``
        must not exist yet. In a ``rec`` set, a rename whose old name the set's code reads, or
        whose new name it reads (it would be captured), is refused; comments inside a key stay.
        """
        old = self._editable(path)
        return rename_path(self, old, self._editable(new_path))


def _point(data: bytes, offset: int) -> tuple[int, int]:
    """Tree-sitter point (row, byte column) of a byte offset."""
    row = data.count(b"\n", 0, offset)
    col = offset - (data.rfind(b"\n", 0, offset) + 1)
    return row, col
