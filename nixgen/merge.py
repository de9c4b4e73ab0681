"""Nix's parse-time merging of attribute definitions, to catch "attribute already defined".

Nix builds each attribute set while parsing: ``a.b.c = 1;`` creates the sets ``a`` and
``a.b`` on the way; a later ``a = { … };`` literal is merged into an existing ``a`` one level
deep (its own names must be new there); any other second definition of a name is an error.
The outcome depends on the order of the bindings, which is why the engine asks this module
rather than reasoning about one binding at a time.

:func:`conflicts` replays that algorithm for the bindings that lie on one logical path (names
off the path cannot take part in a new conflict about it), so it stays cheap on big files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from nixgen import scope
from nixgen.attrpath import Dynamic, Segment, attr_names

__all__ = ["Conflict", "conflicts"]


@dataclass
class Conflict:
    """A second definition of ``path`` (the binding or inherit ``node``) that Nix rejects."""

    path: tuple[Segment, ...]
    node: Node


@dataclass
class _Set:
    """An attribute set under construction; ``literal`` when written as ``{ … }``."""

    attrs: dict[str, _Set | None] = field(default_factory=dict)


def _on_path(name: Segment, want: tuple[Segment, ...], level: int) -> bool:
    if isinstance(name, Dynamic):
        return False  # Nix checks dynamic names only at evaluation time
    return level >= len(want) or name == want[level]


class _Replay:
    def __init__(self, data: bytes, want: tuple[Segment, ...]) -> None:
        self.data = data
        self.want = want
        self.found: list[Conflict] = []

    def build(self, attrset: Node, level: int) -> _Set:
        """The set an attribute-set literal denotes (names on the path only)."""
        result = _Set()
        for child in attrset.named_children:
            if child.type != "binding_set":
                continue
            for item in child.named_children:
                if item.type == "binding":
                    self.add_binding(result, item, level)
                elif item.type in ("inherit", "inherit_from"):
                    attrs = item.child_by_field_name("attrs")
                    for name, _ in attr_names(attrs, self.data) if attrs is not None else []:
                        if not _on_path(name, self.want, level):
                            continue
                        assert isinstance(name, str)
                        if name in result.attrs:
                            self.found.append(Conflict((*self.want[:level], name), item))
                        else:
                            result.attrs[name] = None
        return result

    def add_binding(self, target: _Set, item: Node, level: int) -> None:
        attrpath = item.child_by_field_name("attrpath")
        if attrpath is None:
            return
        names = [n for n, _ in attr_names(attrpath, self.data)]
        current = target
        for i, name in enumerate(names):
            lvl = level + i
            if not _on_path(name, self.want, lvl):
                return
            assert isinstance(name, str)
            last = i == len(names) - 1
            existing = current.attrs.get(name, ...)
            if not last:
                if existing is ...:
                    nested = _Set()
                    current.attrs[name] = nested
                    current = nested
                elif existing is None:
                    self.found.append(Conflict(self._path(names, level, i), item))
                    return
                else:
                    current = existing
                continue
            value = self.value_of(item, lvl + 1)
            if existing is ...:
                current.attrs[name] = value
            elif existing is not None and value is not None:
                for sub, sub_value in value.attrs.items():
                    if sub in existing.attrs:
                        self.found.append(Conflict((*self._path(names, level, i), sub), item))
                    else:
                        existing.attrs[sub] = sub_value
            else:
                self.found.append(Conflict(self._path(names, level, i), item))

    def value_of(self, item: Node, level: int) -> _Set | None:
        """The set a binding's value denotes when it is a literal; None for anything else.

        A value under wrappers (``mkIf c { … }``) is opaque here, but its own set is replayed
        on its own, since Nix builds it as a separate attribute set.
        """
        expr = item.child_by_field_name("expression")
        if expr is None:
            return None
        node = expr
        while node.type == "parenthesized_expression":
            inner = node.child_by_field_name("expression")
            if inner is None:
                break
            node = inner
        if node.type in scope.ATTRSET_TYPES:
            return self.build(node, level)
        for sub, _ in scope.attrset_sources(expr, self.data):
            self.build(sub, level)
        return None

    def _path(self, names: list[Segment], level: int, i: int) -> tuple[Segment, ...]:
        return (*self.want[:level], *names[: i + 1])


def conflicts(root: Node, data: bytes, want: tuple[Segment, ...]) -> list[Conflict]:
    """Second definitions along ``want`` that Nix's parser would reject, in the whole module."""
    replay = _Replay(data, want)
    for attrset, _ in scope.body_sources(root, data):
        replay.build(attrset, 0)
    return replay.found
