"""Lossless Nix documents: find settings by logical path and rewrite them with minimal edits.

A :class:`Document` keeps its source byte for byte (CRLF, tabs, BOM, trailing spaces, no
final newline) next to its tree-sitter tree. Logical paths follow one model: ``a.b.c = 1;``,
``a = { b.c = 1; };`` and ``a."b" = { c = 1; };`` all define ``a.b.c``. The module's shape
(function header, ``let``, ``with``, ``assert``, parentheses, ``rec``) is looked through, and
settings under ``lib.mkIf`` / ``mkMerge`` / ``mkForce`` / … are found and reported with the
wrappers named.

Every operation returns a :class:`Change`: the edits (byte spans and new text against the
original bytes) and the new, re-parsed document. An edit that would add a syntax error raises
:class:`~nixgen.errors.EditError` and changes nothing. The insertion rule, the layout of new
code and what a deletion removes are described on :meth:`Document.set` and
:meth:`Document.delete`; the low-level layout helpers live in :mod:`nixgen.layout` and the
module-shape helpers in :mod:`nixgen.scope`, and the replay of Nix's attribute merging
(which says whether an edit would make Nix report "attribute already defined") in
:mod:`nixgen.merge`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixgen import layout, merge, scope, syntax
from nixgen.attrpath import (
    Dynamic,
    Segment,
    as_path,
    attr_name,
    attr_names,
    format_path,
    key_may_start_with,
    quote_attr,
)
from nixgen.edits import Edit, apply_edits
from nixgen.errors import EditError, FileError

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

__all__ = ["Binding", "Change", "Document"]

PathLike = str | Sequence[Segment]
_WIDTH = 80  # the column limit new one-line values must fit in, as nixfmt uses
_ITEM_TYPES = frozenset({"binding", "inherit", "inherit_from"})


@dataclass(eq=False)
class Binding:
    """One definition of a logical path in a document.

    ``path`` is the full logical path; ``node`` the tree-sitter ``binding`` (or ``inherit`` /
    ``inherit_from``) node; ``key_start..key_end`` the span of the written key (for an inherit:
    the inherited name); ``value_start..value_end`` / ``value_node`` the value, looked through
    parentheses and the binding's own wrappers (``x = mkForce 5;`` has value ``5`` and wrapper
    ``mkForce``). ``wrappers`` names every lib.mk* call between the module body and the value,
    outermost first. ``line``/``col`` are 1-based, of the key.
    """

    path: tuple[Segment, ...]
    node: Node
    key_start: int
    key_end: int
    value_start: int
    value_end: int
    value_node: Node | None
    wrappers: tuple[str, ...]
    line: int
    col: int
    file: Path | None
    data: bytes = field(repr=False)
    prefix_len: int = 0
    key_nodes: tuple[Node, ...] = field(default=(), repr=False)
    container: Node | None = field(default=None, repr=False)
    is_inherit: bool = False
    literal_set: Node | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """Source text of the value (for an inherit: the inherited name)."""
        return self.data[self.value_start : self.value_end].decode("utf-8", "replace")

    @property
    def value(self) -> object:
        """The literal Python value, or ``literal.Unevaluated`` when it is not a literal."""
        if self.is_inherit or self.value_node is None:
            from nixgen.literal import Unevaluated

            whole = self.data[self.node.start_byte : self.node.end_byte].decode("utf-8", "replace")
            return Unevaluated(self.node.type, whole)
        return _literal_value(self.value_node, self.data)

    @property
    def location(self) -> str:
        """``file:line:col`` of the key."""
        return f"{self.file or '<input>'}:{self.line}:{self.col}"

    @property
    def conditional(self) -> bool:
        """True when the definition is under ``mkIf``."""
        return "mkIf" in self.wrappers


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


def _startswith(path: tuple[Segment, ...], prefix: tuple[Segment, ...]) -> bool:
    return len(path) >= len(prefix) and all(a == b for a, b in zip(path, prefix, strict=False))


def _compatible(path: tuple[Segment, ...], want: tuple[Segment, ...]) -> bool:
    """One path is a prefix of the other (Dynamic segments never match)."""
    for a, b in zip(path, want, strict=False):  # noqa: SIM110 - a plain loop is faster here
        if a != b or a.__class__ is Dynamic:
            return False
    return True


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

    # -- the path index ---------------------------------------------------------------------

    def _scan(self, want: tuple[Segment, ...] | None) -> list[Binding]:
        """Bindings whose path is compatible with ``want`` (all of them when None), in order."""
        out: list[Binding] = []
        stack: list[tuple[Node, tuple[Segment, ...], tuple[str, ...]]] = [
            (node, (), wrappers)
            for node, wrappers in reversed(scope.body_sources(self.tree.root_node, self.data))
        ]
        while stack:
            attrset, prefix, wrappers = stack.pop()
            found: list[tuple[Node, tuple[Segment, ...], tuple[str, ...]]] = []
            for item in self._items(attrset):
                for binding in self._make(item, attrset, prefix, wrappers, want):
                    out.append(binding)
                    if binding.is_inherit or binding.node.type != "binding":
                        continue
                    expr = binding.node.child_by_field_name("expression")
                    if expr is None:
                        continue
                    for sub, sub_wrappers in scope.attrset_sources(expr, self.data):
                        found.append((sub, binding.path, (*wrappers, *sub_wrappers)))
            stack.extend(reversed(found))
        out.sort(key=lambda b: (b.key_start, len(b.path)))
        return out

    @staticmethod
    def _items(attrset: Node) -> list[Node]:
        items: list[Node] = []
        for child in attrset.named_children:
            if child.type == "binding_set":
                items.extend(c for c in child.named_children if c.type in _ITEM_TYPES)
        return items

    def _make(
        self,
        item: Node,
        attrset: Node,
        prefix: tuple[Segment, ...],
        wrappers: tuple[str, ...],
        want: tuple[Segment, ...] | None,
    ) -> Iterator[Binding]:
        data = self.data
        if item.type == "binding":
            if want is not None and len(prefix) < len(want) and not key_may_start_with(
                data, item.start_byte, want[len(prefix)]
            ):
                return
            attrpath = item.child_by_field_name("attrpath")
            if attrpath is None:
                return
            named: list[tuple[Segment, Node]] = []
            for node in attrpath.named_children:
                if node.type == "comment":
                    continue
                name = attr_name(node, data)
                at = len(prefix) + len(named)
                if want is not None and at < len(want) and not _compatible((name,), want[at:]):
                    return  # decode no further: this key leaves the wanted path here
                named.append((name, node))
            path = prefix + tuple(n for n, _ in named)
            expr = item.child_by_field_name("expression")
            value_node, own = (None, ())
            literal_set = None
            if expr is not None:
                value_node, own = scope.strip_value(expr, data)
                if not own and value_node.type in scope.ATTRSET_TYPES:
                    literal_set = value_node
            line, col = _line_col(data, attrpath)
            yield Binding(
                path=path,
                node=item,
                key_start=attrpath.start_byte,
                key_end=attrpath.end_byte,
                value_start=value_node.start_byte if value_node is not None else attrpath.end_byte,
                value_end=value_node.end_byte if value_node is not None else attrpath.end_byte,
                value_node=value_node,
                wrappers=(*wrappers, *own),
                line=line,
                col=col,
                file=self.path,
                data=data,
                prefix_len=len(prefix),
                key_nodes=tuple(n for _, n in named),
                container=attrset,
                literal_set=literal_set,
            )
            return
        attrs = item.child_by_field_name("attrs")
        if attrs is None:
            return
        for name, node in attr_names(attrs, data):
            path = (*prefix, name)
            if want is not None and not _compatible(path, want):
                continue
            line, col = _line_col(data, node)
            yield Binding(
                path=path,
                node=item,
                key_start=node.start_byte,
                key_end=node.end_byte,
                value_start=node.start_byte,
                value_end=node.end_byte,
                value_node=None,
                wrappers=wrappers,
                line=line,
                col=col,
                file=self.path,
                data=data,
                prefix_len=len(prefix),
                key_nodes=(node,),
                container=attrset,
                is_inherit=True,
            )

    def _related(self, want: tuple[Segment, ...]) -> list[Binding]:
        cached = self._scans.get(want)
        if cached is None:
            if self._all is not None:
                cached = [b for b in self._all if _compatible(b.path, want)]
            else:
                cached = self._scan(want)
            self._scans[want] = cached
        return cached

    # -- queries ----------------------------------------------------------------------------

    def bindings(self) -> list[Binding]:
        """Every binding reachable through the module's shape, with full logical paths."""
        if self._all is None:
            self._all = self._scan(None)
        return list(self._all)

    def get(self, path: PathLike) -> list[Binding]:
        """All definitions of exactly ``path`` (also those inside a parent's set or mkIf)."""
        want = as_path(path)
        return [b for b in self._related(want) if len(b.path) == len(want) and _same(b.path, want)]

    def find_prefix(self, path: PathLike) -> list[Binding]:
        """All bindings whose logical path starts with ``path``."""
        want = as_path(path)
        return [b for b in self._related(want) if len(b.path) >= len(want)]

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
            raise EditError(_duplicates_message(want, defs))
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

    def _change(self, edits: Iterable[Edit]) -> Change:
        edits = tuple(sorted(edits))
        return Change(edits, self.apply(edits))

    def _error(self, message: str, at: int | None = None) -> EditError:
        if at is None:
            return EditError(message, file=self.path)
        line, col = self.line_col(at)
        return EditError(message, file=self.path, line=line, col=col)

    # -- rendering --------------------------------------------------------------------------

    def _render(
        self,
        value: object,
        line_indent: str,
        newline: str,
        *,
        element: bool = False,
        lead: int = 0,
    ) -> str:
        """``value`` as Nix text for a line indented by ``line_indent``.

        ``lead`` counts the columns the line already uses after its indentation (key, `` = ``,
        the ``;`` after), so that a value is kept on one line only if the whole line fits.
        """
        from nixgen import emit

        unit = self.indent_unit
        level, rest = _level(line_indent, unit)
        fn = emit.to_nix_element if element else emit.to_nix
        width = max(_WIDTH - lead - len(rest.expandtabs(8)), 1)
        try:
            text = fn(value, indent=unit, level=level, newline=newline, width=width)
        except (ValueError, TypeError) as exc:
            raise self._error(f"cannot write this value as Nix: {exc}") from exc
        if rest and "\n" in text:
            lines = text.split("\n")
            text = "\n".join([lines[0], *[(rest + ln if ln.strip() else ln) for ln in lines[1:]]])
        return text

    def _column(self, pos: int) -> int:
        """0-based column of ``pos`` in characters."""
        start = layout.line_start(self.data, pos)
        return len(self.data[start:pos].decode("utf-8", "replace"))

    # -- set --------------------------------------------------------------------------------

    def set(self, path: PathLike, value: object) -> Change:
        """Create or replace the value of ``path``.

        One definition: its value is replaced (key, spacing around ``=``, ``;`` and the
        binding's own wrappers such as ``mkForce`` are kept). Several: EditError listing them.
        Absent: a binding ``rest.of.path = value;`` is inserted into the deepest attribute-set
        literal already on the path (the module body at least; for a ``mkMerge [ … ]`` body its
        first unconditional set). Within that set it goes right after the last binding whose
        key shares the longest prefix with ``rest.of.path`` (``services.openssh.ports`` after
        ``services.openssh.enable = true; # comment``, the comment staying on its line), or
        after the set's last binding when no key shares a prefix. It takes the indentation of
        that sibling and the newline of its line; a one-line set stays on one line (``{ }``
        becomes ``{ key = value; }``); multi-line values are laid out by ``emit.to_nix`` at the
        binding's nesting level. EditError when a prefix of the path is defined by a value that is
        not a literal attribute set (``a = lib.mkIf c { … }``, ``a = import ./x.nix``), since
        Nix would reject a second definition of it.

        Nix merges definitions in source order (:mod:`nixgen.merge` replays that): when the
        deepest literal would make Nix see a name twice (``a.b.x = 1;`` before
        ``a = { … };``, adding ``a.b.y``), the new key goes beside the keys that already spell
        that name (``a.b.y = …;`` after ``a.b.x = 1;``). Any result that Nix would reject with
        "attribute already defined" is refused with EditError.
        """
        want = as_path(path)
        self._check_static(want)
        related = self._related(want)
        exact = [b for b in related if len(b.path) == len(want) and _same(b.path, want)]
        if len(exact) > 1:
            raise self._error(_duplicates_message(want, exact), exact[1].key_start)
        if exact:
            b = exact[0]
            if b.is_inherit or b.value_node is None:
                raise self._error(
                    f"{format_path(want)} is inherited here; replace the inherit first",
                    b.key_start,
                )
            outside = [
                x
                for x in related
                if len(x.path) > len(want)
                and _same(x.path[: len(want)], want)
                and not (b.node.start_byte <= x.node.start_byte < b.node.end_byte)
            ]
            if outside and not isinstance(value, Mapping):
                where = ", ".join(f"{format_path(x.path)} at line {x.line}" for x in outside[:3])
                raise self._error(
                    f"cannot set {format_path(want)} to a value that is not an attribute set: "
                    f"it is also defined through deeper keys ({where}), and Nix would reject "
                    "the mix (attribute already defined)",
                    b.key_start,
                )
            line_indent = layout.line_indent(self.data, b.value_start)
            before = self.data[layout.line_start(self.data, b.value_start) : b.value_start]
            parent = b.value_node.parent
            text = self._render(
                value,
                layout.line_indent(self.data, b.key_start),
                layout.newline_at(self.data, b.key_start, self.newline),
                # an argument of a wrapper (`mkForce -1`) must be written as one term
                element=parent is not None and parent.type == "apply_expression",
                lead=len(before.decode("utf-8", "replace")) - len(line_indent) + 1,
            )
            if self.data[b.value_start : b.value_end].decode("utf-8") == text:
                return Change((), self)
            change = self._change([Edit(b.value_start, b.value_end, text)])
            if isinstance(value, Mapping):
                self._check_merge(want, change)
            return change
        return self._insertion(want, related, value)

    def _check_static(self, want: tuple[Segment, ...]) -> None:
        for seg in want:
            if isinstance(seg, Dynamic):
                raise self._error(f"cannot edit an interpolated attribute name {seg.text}")

    def _insertion(
        self, want: tuple[Segment, ...], related: list[Binding], value: object
    ) -> Change:
        deeper = [
            b for b in related if len(b.path) > len(want) and _same(b.path[: len(want)], want)
        ]
        if deeper:
            where = ", ".join(f"{format_path(b.path)} at line {b.line}" for b in deeper[:3])
            raise self._error(
                f"{format_path(want)} is already defined through deeper keys ({where}); "
                "set those, or delete them first",
                deeper[0].key_start,
            )
        target = self.top_attrset()
        depth = 0
        conditional = any(
            node == target and "mkIf" in wrappers
            for node, wrappers in scope.body_sources(self.tree.root_node, self.data)
        )
        for k in range(1, len(want)):
            defs = [b for b in related if len(b.path) == k and _same(b.path, want[:k])]
            for b in defs:
                if b.literal_set is None:
                    what = "inherited" if b.is_inherit else f"defined as {_short(b, self.data)}"
                    raise self._error(
                        f"cannot add {format_path(want)}: {format_path(want[:k])} is {what} at "
                        f"line {b.line}, which is not an attribute set literal; Nix would reject "
                        f"a second definition (attribute already defined). Edit that value instead",
                        b.key_start,
                    )
            # prefer an unconditional set; one under mkIf only when nothing else holds the path
            plain = [b for b in defs if "mkIf" not in b.wrappers]
            if plain:
                target, depth, conditional = plain[0].literal_set, k, False
            elif defs and (conditional or target is None):
                target, depth = defs[0].literal_set, k
        if target is None:
            raise self._error(
                "the file's body is not an attribute set, so there is no place to add "
                f"{format_path(want)}"
            )
        # Candidate places: the deepest literal first, then the sets holding keys that already
        # spell the next segment elsewhere (``a.b.x = 1;`` beside a literal ``a = { … };``):
        # Nix merges definitions in source order, so the first place that adds no
        # "attribute already defined" wins.
        candidates: list[tuple[Node, int]] = [(target, depth)]
        span = (target.start_byte, target.end_byte)
        outside = [
            b
            for b in (self._related(want[: depth + 1]) if depth < len(want) - 1 else ())
            if not span[0] <= b.key_start < span[1]
            and len(b.path) > depth
            and _same(b.path[: depth + 1], want[: depth + 1])
        ]
        if not outside:
            # nothing else spells the new key's first name: Nix cannot see it twice
            return self._change([self._insert_at(target, want[depth:], value)])
        for b in outside:
            if (
                b.container is not None
                and b.prefix_len <= depth
                and "mkIf" not in b.wrappers
                and all(c != b.container for c, _ in candidates)
            ):
                candidates.append((b.container, b.prefix_len))
        before = len(merge.conflicts(self.tree.root_node, self.data, want))
        first_error: EditError | None = None
        for container, at in candidates:
            change = self._change([self._insert_at(container, want[at:], value)])
            found = merge.conflicts(change.document.tree.root_node, change.document.data, want)
            if len(found) <= before:
                return change
            if first_error is None:
                first_error = self._conflict_error(want, found[0], change.document)
        assert first_error is not None
        raise first_error

    def _insert_at(self, container: Node, rest: tuple[Segment, ...], value: object) -> Edit:
        """The edit adding ``rest = value;`` to the attribute set ``container``."""
        key = format_path(rest)

        def make(ind: str, nl: str, col: int) -> str:
            return f"{key} = {self._render(value, ind, nl, lead=col + len(key) + 4)};"

        return self._insert_item(container, make, "{", self._relative(container, rest))

    def _check_merge(self, want: tuple[Segment, ...], change: Change) -> None:
        """EditError if ``change`` makes Nix see a second definition along ``want``."""
        new = change.document
        found = merge.conflicts(new.tree.root_node, new.data, want)
        if len(found) > len(merge.conflicts(self.tree.root_node, self.data, want)):
            raise self._conflict_error(want, found[0], new)

    def _conflict_error(self, want: tuple[Segment, ...], found: Any, new: Document) -> EditError:
        line, _ = new.line_col(found.node.start_byte)
        return self._error(
            f"cannot write {format_path(want)}: {format_path(found.path)} would then be defined "
            f"twice (the definition at line {line} of the result comes after another one), "
            "which Nix rejects (attribute already defined)"
        )

    def _relative(self, attrset: Node, rest: tuple[Segment, ...]) -> Node | None:
        """The last item of ``attrset`` whose key shares the longest prefix with ``rest``."""
        best: Node | None = None
        best_len = 0
        for item in self._items(attrset):
            if item.type == "binding":
                if not key_may_start_with(self.data, item.start_byte, rest[0]):
                    continue
                attrpath = item.child_by_field_name("attrpath")
                head = attrpath.named_child(0) if attrpath else None
                if head is None or attr_name(head, self.data) != rest[0]:
                    continue
                keys = [n for n, _ in attr_names(attrpath, self.data)] if attrpath else []
            else:
                attrs = item.child_by_field_name("attrs")
                keys = [n for n, _ in attr_names(attrs, self.data)][:1] if attrs else []
            common = 0
            for a, b in zip(keys, rest, strict=False):
                if a.__class__ is Dynamic or a != b:
                    break
                common += 1
            if common and common >= best_len:
                best, best_len = item, common
        return best

    def _insert_item(
        self, container: Node, make: Any, opener: str, anchor_item: Node | None = None
    ) -> Edit:
        """Insert one new item (binding or list element) into ``container``.

        It goes after ``anchor_item`` when given, else after the last item: on a new line
        with that item's indentation, or inline (`` item``) when the container is one line.
        """
        data = self.data
        if container.type == "list_expression":
            items = [c for c in container.named_children if c.type != "comment"]
        else:
            items = self._items(container)
        if anchor_item is not None and anchor_item in items:
            items = [*items[: items.index(anchor_item)], anchor_item]
        close = container.children[-1]
        open_tok = next((c for c in container.children if c.type == opener), container.children[0])
        one_line = b"\n" not in data[container.start_byte : container.end_byte]
        nl = layout.newline_at(data, container.start_byte, self.newline)
        if items:
            last = items[-1]
            nl = layout.newline_at(data, last.end_byte, self.newline)
            if one_line:
                ind = layout.line_indent(data, last.start_byte)
                col = self._column(last.end_byte) - len(ind) + 3
                return Edit(last.end_byte, last.end_byte, " " + make(ind, nl, col))
            if layout.starts_line(data, last.start_byte):
                ind = layout.line_indent(data, last.start_byte)
            elif layout.starts_line(data, close.start_byte):
                ind = layout.line_indent(data, close.start_byte) + self.indent_unit
            else:
                ind = layout.line_indent(data, last.start_byte) + self.indent_unit
            anchor = last.end_byte
        else:
            if one_line:
                inner = data[open_tok.end_byte : close.start_byte]
                if inner.strip(b" \t") == b"":
                    ind = layout.line_indent(data, open_tok.start_byte)
                    col = self._column(open_tok.end_byte) - len(ind) + 3
                    return Edit(
                        open_tok.end_byte, close.start_byte, " " + make(ind, nl, col) + " "
                    )
                ind = layout.line_indent(data, open_tok.start_byte)
                col = self._column(close.start_byte) - len(ind) + 2
                return Edit(close.start_byte, close.start_byte, make(ind, nl, col) + " ")
            comments = [
                c
                for c in container.named_children
                if c.type == "comment" and c.start_byte > open_tok.end_byte
            ]
            if layout.starts_line(data, close.start_byte):
                ind = layout.line_indent(data, close.start_byte) + self.indent_unit
            else:
                ind = layout.line_indent(data, open_tok.start_byte) + self.indent_unit
            anchor = comments[-1].end_byte if comments else open_tok.end_byte
        trivia, after = layout.rest_of_line_is_trivia(data, anchor)
        pos = after if trivia else anchor
        return Edit(pos, pos, nl + ind + make(ind, nl, 0))

    # -- delete -----------------------------------------------------------------------------

    def delete(self, path: PathLike) -> Change:
        """Remove every definition of ``path`` (and of paths below it) with what they own.

        A binding owns the comment lines directly above it and a comment at the end of its
        line; a binding alone on its lines is removed with those lines, one sharing a line
        loses itself and the spaces before it. Parent sets left empty stay (``{ }``).
        Inherited names are removed from their ``inherit`` (the whole statement when it was
        the last name). Deleting an absent path changes nothing.
        """
        want = as_path(path)
        self._check_static(want)
        targets = self.find_prefix(want)
        spans: list[tuple[int, int]] = []
        done_nodes: list[tuple[int, int]] = []
        inherit_groups: dict[int, list[Binding]] = {}
        for b in targets:
            node = b.node
            if any(s <= node.start_byte and node.end_byte <= e for s, e in done_nodes):
                continue
            if b.is_inherit:
                inherit_groups.setdefault(node.start_byte, []).append(b)
                continue
            done_nodes.append((node.start_byte, node.end_byte))
            spans.append(self._item_span(node, b.container))
        for group in inherit_groups.values():
            node = group[0].node
            attrs = node.child_by_field_name("attrs")
            names = [c for c in attrs.named_children if c.type != "comment"] if attrs else []
            if len(names) <= len(group):
                spans.append(self._item_span(node, group[0].container))
            else:
                for b in group:
                    s = b.key_start
                    while s > 0 and self.data[s - 1 : s] in (b" ", b"\t"):
                        s -= 1
                    spans.append((s, b.key_end))
        return self._change(_merge_spans(spans))

    def _item_span(self, node: Node, container: Node | None) -> tuple[int, int]:
        lower, first = self._lower_bound(node, container)
        return layout.removal_span(self.data, node.start_byte, node.end_byte, lower, first=first)

    @staticmethod
    def _lower_bound(node: Node, container: Node | None) -> tuple[int, bool]:
        """End of the previous sibling item, or of the opening bracket (then True)."""
        prev = node.prev_sibling
        while prev is not None and prev.type == "comment":
            prev = prev.prev_sibling
        if prev is not None and prev.type not in ("{", "["):
            return prev.end_byte, False
        if container is not None:
            for child in container.children:
                if child.type in ("{", "["):
                    return child.end_byte, True
            return container.start_byte, True
        return (node.parent.start_byte if node.parent is not None else 0), True

    # -- lists ------------------------------------------------------------------------------

    def _list_of(self, want: tuple[Segment, ...]) -> tuple[Binding | None, Node | None]:
        defs = self.get(want)
        if not defs:
            return None, None
        if len(defs) > 1:
            raise self._error(_duplicates_message(want, defs), defs[1].key_start)
        b = defs[0]
        node = b.value_node
        while node is not None and node.type in ("with_expression", "parenthesized_expression"):
            field_name = "body" if node.type == "with_expression" else "expression"
            node = node.child_by_field_name(field_name)
        if node is None or node.type != "list_expression":
            raise self._error(
                f"{format_path(want)} is not a list literal (it is {_short(b, self.data)})",
                b.key_start,
            )
        return b, node

    def _matches(self, element: Node, item: object, item_text: str) -> bool:
        from nixgen.emit import Expr
        from nixgen.literal import Unevaluated

        src = self.data[element.start_byte : element.end_byte].decode("utf-8", "replace")
        if " ".join(src.split()) == " ".join(item_text.split()):
            return True
        if isinstance(item, Expr):
            return False
        val = _literal_value(element, self.data)
        return not isinstance(val, Unevaluated) and type(val) is type(item) and val == item

    def append(self, path: PathLike, item: object) -> Change:
        """Add ``item`` to the list at ``path`` unless an equal item is there already.

        Equal means same literal value or same source text. A one-line list stays on one line;
        in a multi-line list the item goes on a new line with the items' indentation. A missing
        path is created as ``path = [ item ];``.
        """
        want = as_path(path)
        self._check_static(want)
        binding, lst = self._list_of(want)
        if binding is None or lst is None:
            return self.set(want, [item])
        elements = [c for c in lst.named_children if c.type != "comment"]
        at = elements[-1].start_byte if elements else binding.key_start
        ind = layout.line_indent(self.data, at)
        text = self._render(item, ind, self.newline, element=True)
        if any(self._matches(e, item, text) for e in elements):
            return Change((), self)

        def make(line_ind: str, nl: str, col: int) -> str:
            return self._render(item, line_ind, nl, element=True, lead=col)

        edit = self._insert_item(lst, make, "[")
        if self._too_wide(edit) and elements:
            edit = self._explode_list(lst, elements, text)
        return self._change([edit])

    def _too_wide(self, edit: Edit, width: int = 80) -> bool:
        """Whether an inline insertion makes its line longer than ``width`` characters."""
        if "\n" in edit.text:
            return False
        start = layout.line_start(self.data, edit.start)
        end = layout.line_end(self.data, edit.end)
        before = self.data[start : edit.start].decode("utf-8", "replace")
        after = self.data[edit.end : end].decode("utf-8", "replace")
        return len(before) + len(edit.text) + len(after) > width

    def _explode_list(self, lst: Node, elements: list[Node], new_item: str) -> Edit:
        """Rewrite a one-line list that grew too wide as one element per line, nixfmt style."""
        data = self.data
        nl = layout.newline_at(data, lst.start_byte, self.newline)
        outer = layout.line_indent(data, lst.start_byte)
        inner = outer + self.indent_unit
        texts = [data[e.start_byte : e.end_byte].decode("utf-8") for e in elements]
        lines = ["[", *[inner + t for t in [*texts, new_item]], outer + "]"]
        return Edit(lst.start_byte, lst.end_byte, nl.join(lines))

    def remove(self, path: PathLike, item: object) -> Change:
        """Remove every element of the list at ``path`` equal to ``item`` (no-op when none)."""
        want = as_path(path)
        self._check_static(want)
        binding, lst = self._list_of(want)
        if binding is None or lst is None:
            return Change((), self)
        elements = [c for c in lst.named_children if c.type != "comment"]
        ind = layout.line_indent(self.data, binding.key_start)
        text = self._render(item, ind, self.newline, element=True)
        spans = [self._item_span(e, lst) for e in elements if self._matches(e, item, text)]
        return self._change(_merge_spans(spans))

    # -- rename -----------------------------------------------------------------------------

    def rename(self, path: PathLike, new_path: PathLike) -> Change:
        """Rename ``path`` to ``new_path`` by rewriting keys (only the spans of the segments).

        Every binding whose key spells the last segment of ``path`` is rewritten; the segments
        written in enclosing keys must stay the same (EditError otherwise), and ``new_path``
        must not exist yet.
        """
        old = as_path(path)
        new = as_path(new_path)
        self._check_static(old)
        self._check_static(new)
        if _same(old, new) and len(old) == len(new):
            return Change((), self)
        if self.get(new) or self.find_prefix(new):
            raise self._error(f"cannot rename to {format_path(new)}: it is already defined")
        edits: list[Edit] = []
        last = len(old) - 1
        for b in self.find_prefix(old):
            if not (b.prefix_len <= last < len(b.path)):
                continue
            if b.is_inherit:
                raise self._error(f"{format_path(old)} is inherited; cannot rename it", b.key_start)
            if tuple(new[: b.prefix_len]) != tuple(old[: b.prefix_len]) or len(new) <= b.prefix_len:
                raise self._error(
                    f"cannot rename {format_path(old)} to {format_path(new)} here: the key at "
                    f"line {b.line} sits inside {format_path(old[: b.prefix_len])}; "
                    "moving it elsewhere needs delete and set",
                    b.key_start,
                )
            if len(new) == len(old):
                # same shape: rewrite only the segments that change, keep the others' spelling
                for i in range(b.prefix_len, len(old)):
                    if not _same((old[i],), (new[i],)):
                        node = b.key_nodes[i - b.prefix_len]
                        edits.append(Edit(node.start_byte, node.end_byte, quote_attr(new[i])))
                continue
            first = b.key_nodes[0]
            end = b.key_nodes[last - b.prefix_len]
            edits.append(Edit(first.start_byte, end.end_byte, format_path(new[b.prefix_len :])))
        if not edits:
            raise self._error(f"{format_path(old)} is not defined")
        change = self._change(edits)
        self._check_merge(new, change)
        return change


def _line_col(data: bytes, node: Node) -> tuple[int, int]:
    """1-based line and character column of a node's start, without rescanning the file."""
    row, byte_col = node.start_point
    start = node.start_byte
    prefix = data[start - byte_col : start]
    col = byte_col + 1 if prefix.isascii() else len(prefix.decode("utf-8", "replace")) + 1
    return row + 1, col


def _literal_value(node: Node, data: bytes) -> object:
    """``literal.literal_value`` (Unevaluated while that evaluator is unavailable)."""
    from nixgen import literal

    evaluate = getattr(literal, "literal_value", None)
    if evaluate is None:
        text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
        return literal.Unevaluated(node.type, text)
    return evaluate(node, data)


def _same(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> bool:
    return all(not isinstance(x, Dynamic) and x == y for x, y in zip(a, b, strict=False))


def _level(line_indent: str, unit: str) -> tuple[int, str]:
    """Nesting level for emit, and any extra prefix when the indent is not whole units."""
    if unit and line_indent == unit * (len(line_indent) // len(unit)):
        return len(line_indent) // len(unit), ""
    return 0, line_indent


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    col = offset - (data.rfind(b"\n", 0, offset) + 1)
    return row, col


def _short(b: Binding, data: bytes) -> str:
    node = b.node.child_by_field_name("expression") if b.node.type == "binding" else b.node
    if node is None:
        return "something else"
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    text = " ".join(text.split())
    return f"`{text[:40]}…`" if len(text) > 40 else f"`{text}`"


def _duplicates_message(want: tuple[Segment, ...], defs: list[Binding]) -> str:
    where = ", ".join(b.location for b in defs)
    return f"{format_path(want)} is defined {len(defs)} times ({where}); edit one by hand first"


def _merge_spans(spans: list[tuple[int, int]]) -> list[Edit]:
    out: list[Edit] = []
    for s, e in sorted(set(spans)):
        if out and s <= out[-1].end:
            prev = out.pop()
            out.append(Edit(prev.start, max(prev.end, e), ""))
        else:
            out.append(Edit(s, e, ""))
    return out
