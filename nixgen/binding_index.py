"""Reading a module: every binding of its attribute sets under its full logical path.

:func:`scan` walks the attribute sets the module body is made of (:mod:`nixgen.scope`) and,
below them, every value that is an attribute-set literal or a wrapped one (``mkIf c { … }``),
yielding one :class:`Binding` per definition: ``b.c = 1;`` inside ``a = { … };`` is a binding
of ``a.b.c``. Given a wanted path it decodes only the keys that can lie on that path, so a
lookup in a big file stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nixgen import scope
from nixgen.attrpath import Dynamic, Segment, attr_name, attr_names, key_may_start_with

if TYPE_CHECKING:
    from tree_sitter import Node

__all__ = ["Binding", "compatible", "items", "node_line_col", "same", "scan"]

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
        from nixgen import literal

        if self.is_inherit or self.value_node is None:
            whole = self.data[self.node.start_byte : self.node.end_byte].decode("utf-8", "replace")
            return literal.Unevaluated(self.node.type, whole)
        return literal.literal_value(self.value_node, self.data)

    @property
    def location(self) -> str:
        """``file:line:col`` of the key."""
        return f"{self.file or '<input>'}:{self.line}:{self.col}"

    @property
    def conditional(self) -> bool:
        """True when the definition is under ``mkIf``."""
        return "mkIf" in self.wrappers


def same(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> bool:
    """The paths agree on their common length (an interpolated segment agrees with nothing)."""
    return all(not isinstance(x, Dynamic) and x == y for x, y in zip(a, b, strict=False))


def compatible(path: tuple[Segment, ...], want: tuple[Segment, ...]) -> bool:
    """One path is a prefix of the other (Dynamic segments never match)."""
    for a, b in zip(path, want, strict=False):  # noqa: SIM110 - a plain loop is faster here
        if a != b or a.__class__ is Dynamic:
            return False
    return True


def node_line_col(data: bytes, node: Node) -> tuple[int, int]:
    """1-based line and character column of a node's start, without rescanning the file."""
    row, byte_col = node.start_point
    start = node.start_byte
    prefix = data[start - byte_col : start]
    col = byte_col + 1 if prefix.isascii() else len(prefix.decode("utf-8", "replace")) + 1
    return row + 1, col


def items(attrset: Node) -> list[Node]:
    """The bindings and inherits written directly in an attribute set, in order."""
    found: list[Node] = []
    for child in attrset.named_children:
        if child.type == "binding_set":
            found.extend(c for c in child.named_children if c.type in _ITEM_TYPES)
    return found


def scan(
    root: Node, data: bytes, file: Path | None, want: tuple[Segment, ...] | None
) -> list[Binding]:
    """Bindings whose path is compatible with ``want`` (all of them when None), in order."""
    out: list[Binding] = []
    stack: list[tuple[Node, tuple[Segment, ...], tuple[str, ...]]] = [
        (node, (), wrappers) for node, wrappers in reversed(scope.body_sources(root, data))
    ]
    while stack:
        attrset, prefix, wrappers = stack.pop()
        found: list[tuple[Node, tuple[Segment, ...], tuple[str, ...]]] = []
        for item in items(attrset):
            for binding in _bindings_of(item, attrset, prefix, wrappers, want, data, file):
                out.append(binding)
                if binding.is_inherit or binding.node.type != "binding":
                    continue
                expr = binding.node.child_by_field_name("expression")
                if expr is None:
                    continue
                for sub, sub_wrappers in scope.attrset_sources(expr, data):
                    found.append((sub, binding.path, (*wrappers, *sub_wrappers)))
        stack.extend(reversed(found))
    out.sort(key=lambda b: (b.key_start, len(b.path)))
    return out


def _bindings_of(
    item: Node,
    attrset: Node,
    prefix: tuple[Segment, ...],
    wrappers: tuple[str, ...],
    want: tuple[Segment, ...] | None,
    data: bytes,
    file: Path | None,
) -> Iterator[Binding]:
    """The bindings one item of ``attrset`` (at logical path ``prefix``) defines."""
    if item.type == "binding":
        if (
            want is not None
            and len(prefix) < len(want)
            and not key_may_start_with(data, item.start_byte, want[len(prefix)])
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
            if want is not None and at < len(want) and not compatible((name,), want[at:]):
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
        line, col = node_line_col(data, attrpath)
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
            file=file,
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
        if want is not None and not compatible(path, want):
            continue
        line, col = node_line_col(data, node)
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
            file=file,
            data=data,
            prefix_len=len(prefix),
            key_nodes=(node,),
            container=attrset,
            is_inherit=True,
        )
