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
from nixgen.attrpath import Dynamic, Segment, attr_name, attr_names, key_may_start_with

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

    def build(self, attrset: Node, prefix: tuple[Segment, ...]) -> _Set:
        """The set an attribute-set literal at ``prefix`` denotes (names on the path only)."""
        level = len(prefix)
        result = _Set()
        for child in attrset.named_children:
            if child.type != "binding_set":
                continue
            for item in child.named_children:
                if item.type == "binding":
                    if level < len(self.want) and not key_may_start_with(
                        self.data, item.start_byte, self.want[level]
                    ):
                        continue
                    self.add_binding(result, item, prefix)
                elif item.type in ("inherit", "inherit_from"):
                    attrs = item.child_by_field_name("attrs")
                    for name, _ in attr_names(attrs, self.data) if attrs is not None else []:
                        if not _on_path(name, self.want, level):
                            continue
                        assert isinstance(name, str)
                        if name in result.attrs:
                            self.found.append(Conflict((*prefix, name), item))
                        else:
                            result.attrs[name] = None
        return result

    def add_binding(self, target: _Set, item: Node, prefix: tuple[Segment, ...]) -> None:
        level = len(prefix)
        attrpath = item.child_by_field_name("attrpath")
        if attrpath is None:
            return
        names: list[Segment] = []
        truncated = False
        for node in attrpath.named_children:
            if node.type == "comment":
                continue
            name = attr_name(node, self.data)
            if not _on_path(name, self.want, level + len(names)):
                # the key leaves the path here: only the sets it creates on the way matter
                truncated = True
                break
            names.append(name)
        current = target
        for i, name in enumerate(names):
            assert isinstance(name, str)
            here = (*prefix, *names[: i + 1])
            last = i == len(names) - 1 and not truncated
            existing = current.attrs.get(name, ...)
            if not last:
                if existing is ...:
                    nested = _Set()
                    current.attrs[name] = nested
                    current = nested
                elif existing is None:
                    self.found.append(Conflict(here, item))
                    return
                else:
                    current = existing
                continue
            value = self.value_of(item, here)
            if existing is ...:
                current.attrs[name] = value
            elif existing is not None and value is not None:
                for sub, sub_value in value.attrs.items():
                    if sub in existing.attrs:
                        self.found.append(Conflict((*here, sub), item))
                    else:
                        existing.attrs[sub] = sub_value
            else:
                self.found.append(Conflict(here, item))

    def value_of(self, item: Node, prefix: tuple[Segment, ...]) -> _Set | None:
        """The set a binding's value denotes when it is a literal; None for anything else.

        A value under wrappers (``mkIf c { … }``) is opaque here, but its own set is replayed
        on its own, since Nix builds it as a separate attribute set.
        """
        expr = item.child_by_field_name("expression")
        if expr is None:
            return None
        node = scope.unparen(expr)
        if node.type in scope.ATTRSET_TYPES:
            return self.build(node, prefix)
        for sub, _ in scope.attrset_sources(expr, self.data):
            self.build(sub, prefix)
        return None


def conflicts(root: Node, data: bytes, want: tuple[Segment, ...]) -> list[Conflict]:
    """Second definitions along ``want`` that Nix's parser would reject, in the whole module."""
    replay = _Replay(data, want)
    for attrset, _ in scope.body_sources(root, data):
        replay.build(attrset, ())
    return replay.found
