"""NG101/NG102/NG103: attributes defined more than once in one attribute set.

This follows what Nix's parser does (checked against ``nix-instantiate --parse``):

* a dotted key walks into an earlier definition only when that is an attribute set literal
  (``a = { … }; a.b = 1;`` and ``a.b = 1; a.c = 2;`` are accepted);
* a later literal set ``a = { … };`` is merged into an earlier ``a`` one level deep only, so
  ``a.b.c = 1; a = { b.d = 2; };`` is rejected while the reverse order is accepted;
* the same leaf twice, ``inherit a;`` beside ``a…``, or a dotted key into a value that is not
  an attribute set literal (``a = lib.mkIf c { … }; a.b = 1;``) are rejected.

Rejected forms are errors reported at the second definition, naming the first; accepted
merges of a dotted key with a literal set are style notes (NG103).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nixgen.checks.model import ERROR, NOTE, Finding
from nixgen.checks.nodes import (
    ATTRSETS,
    Dyn,
    Name,
    Source,
    attr_name,
    attrpath_elements,
    bindings_of,
    find,
    inherited_names,
    strip_parens,
)
from nixgen.syntax import Node

SCOPE_QUERY = "[(attrset_expression) (rec_attrset_expression) (let_expression)] @n"


@dataclass
class _Entry:
    kind: str            # "set" | "value" | "inherit"
    origin: str          # "literal" | "implicit" | "value" | "inherit"
    binding: Node
    key: Node
    value: Node | None = None
    children: dict[str, _Entry] = field(default_factory=dict)


def _show(path: tuple[Name, ...]) -> str:
    return ".".join(p.text if isinstance(p, Dyn) else p for p in path)


def _snippet(src: Source, node: Node | None) -> str:
    if node is None:
        return "inherit"
    text = " ".join(src.text(node).split())
    return text if len(text) <= 32 else text[:29] + "…"


class _Checker:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.findings: list[Finding] = []
        self.done: set[int] = set()
        self.related: tuple[str, int, int] | None = None

    def at(self, entry: _Entry) -> str:
        """Where an earlier definition is, with its key as written: ``3:5 (`a.b = …`)``."""
        binding = entry.binding
        if binding.type == "binding":
            key = binding.child_by_field_name("attrpath") or entry.key
            shown = f"`{' '.join(self.src.text(key).split())} = …`"
            node = key
        else:
            shown = f"`{' '.join(self.src.text(binding).split())}`"
            node = entry.key
        self.related = self.src.place(node)
        return f"{self.src.where(node).split(':', 1)[1]} ({shown})"

    def report(self, code: str, node: Node, message: str,
               related: tuple[str, int, int] | None = None) -> None:
        """Add a finding; ``related`` defaults to the place last named by :meth:`at`."""
        severity = NOTE if code == "NG103" else ERROR
        if node.parent is not None and node.parent.type == "attrpath":
            node = node.parent          # the whole key of the second definition
        where = related or self.related
        self.related = None
        self.findings.append(
            self.src.finding(code, severity, message, node.start_byte, node.end_byte,
                             related=(where,) if where else ())
        )

    def scope(self, container: Node, prefix: tuple[Name, ...]) -> dict[str, _Entry]:
        self.done.add(container.id)
        table: dict[str, _Entry] = {}
        for binding in bindings_of(container):
            if binding.type == "binding":
                self.binding(table, binding, prefix)
                continue
            for attr in inherited_names(binding):
                name = attr_name(attr, self.src.data)
                if isinstance(name, Dyn):
                    continue
                first = table.get(name)
                if first is not None:
                    self.report("NG101", attr,
                                f"`{_show((*prefix, name))}` is inherited here but already "
                                f"defined at {self.at(first)}; Nix rejects the file")
                else:
                    table[name] = _Entry("inherit", "inherit", binding, attr)
        return table

    def binding(self, table: dict[str, _Entry], binding: Node,
                prefix: tuple[Name, ...]) -> None:
        note = self._binding(table, binding, prefix)
        if note is not None:
            self.report("NG103", *note)

    def _binding(self, table: dict[str, _Entry], binding: Node,
                 prefix: tuple[Name, ...]) -> tuple[Node, str, Any] | None:
        """Enter one binding into ``table``; returns a style note when nothing was wrong."""
        elems = attrpath_elements(binding)
        names = [attr_name(e, self.src.data) for e in elems]
        value = strip_parens(binding.child_by_field_name("expression"))
        is_set = value is not None and value.type in ATTRSETS
        cur = table
        note: tuple[Node, str, Any] | None = None
        for i, (elem, name) in enumerate(zip(elems, names, strict=True)):
            if isinstance(name, Dyn):
                return note
            path = (*prefix, *names[: i + 1])
            first = cur.get(name)
            if i < len(elems) - 1:
                if first is None:
                    entry = _Entry("set", "implicit", binding, elem)
                    cur[name] = entry
                    cur = entry.children
                elif first.kind == "set":
                    if first.origin == "literal" and note is None:
                        text = (f"`{_show(path)}` is also an attribute set written out at "
                                f"{self.at(first)}; Nix merges this dotted key into it, "
                                "but the settings are easier to find in one place")
                        note = (elem, text, self.related)
                    cur = first.children
                elif first.kind == "inherit":
                    self.report("NG101", elem,
                                f"`{_show(names)}` is set with a dotted key, but "
                                f"`{_show(path)}` is inherited at {self.at(first)}; "
                                "Nix rejects the file")
                    return None
                else:
                    self.report(
                        "NG102", elem,
                        f"`{_show((*prefix, *names))}` is set with a dotted key, but "
                        f"`{_show(path)}` is defined at {self.at(first)} as "
                        f"`{_snippet(self.src, first.value)}`, which is not an attribute "
                        "set literal; Nix rejects the file: move this setting into that value")
                    return None
                continue
            inner = self.scope(value, path) if is_set and value is not None else None
            if first is None:
                if inner is not None:
                    cur[name] = _Entry("set", "literal", binding, elem, value, inner)
                else:
                    cur[name] = _Entry("value", "value", binding, elem, value)
                return note
            if inner is not None and first.kind == "set":
                clashed = False
                for key, entry in inner.items():
                    other = first.children.get(key)
                    if other is None:
                        first.children[key] = entry
                        continue
                    clashed = True
                    self.report(
                        "NG101", entry.key,
                        f"`{_show((*path, key))}` is already defined at "
                        f"{self.at(other)}; Nix merges this `{_show(path)} = {{ … }}` "
                        "into the earlier definition one level deep only and rejects the file")
                if clashed:
                    return None
                text = (f"`{_show(path)}` is also defined at {self.at(first)}; Nix "
                        "merges the two attribute sets, but the settings are easier to find "
                        "in one place")
                return (elem, text, self.related)
            if first.kind == "set" and first.origin == "implicit" and inner is None:
                self.report(
                    "NG102", elem,
                    f"`{_show(path)}` is defined here as `{_snippet(self.src, value)}`, which "
                    f"is not an attribute set literal, but it is already set with a dotted "
                    f"key at {self.at(first)}; Nix rejects the file: move that setting "
                    "into this value")
                return None
            self.report("NG101", elem,
                        f"`{_show(path)}` is already defined at {self.at(first)}; "
                        "Nix rejects a second definition of the same attribute")
            return None


def check_duplicates(src: Source) -> list[Finding]:
    """NG101/NG102/NG103 findings for every attribute set and ``let`` in the file."""
    checker = _Checker(src)
    for node in find(src.root, SCOPE_QUERY):
        if node.id not in checker.done:
            checker.scope(node, ())
    return checker.findings
