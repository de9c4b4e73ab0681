"""What an editor shows about a buffer: its containers, its top-level options, what is under
the cursor.

Works on the unsaved buffer through :class:`nixgen.document.Document`: containers are the
bindings under ``systemd.containers.NAME`` (legacy dialect) and ``containers.NAME`` (modern),
in every form the document engine resolves (dotted, nested, under ``mkIf``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nixgen.containers import PREFIXES
from nixgen.convert_form import binding_at


@dataclass
class BufferContainer:
    """A container as this one buffer defines it."""

    name: str
    dialect: str
    prefix: tuple[str, ...]
    definitions: list[Any] = field(default_factory=list)  # outermost Bindings, source order
    route: str = "unknown"
    ports: list[int] = field(default_factory=list)
    conditional: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.prefix, self.name)


def _contains(outer: Any, inner: Any) -> bool:
    return (outer.node.start_byte <= inner.node.start_byte
            and inner.node.end_byte <= outer.node.end_byte
            and (outer.node.start_byte, outer.node.end_byte)
            != (inner.node.start_byte, inner.node.end_byte))


def buffer_containers(document: Any) -> list[BufferContainer]:
    """Containers with a literal name defined in ``document``, in order of first definition."""
    found: dict[tuple[str, str], BufferContainer] = {}
    for prefix, dialect in PREFIXES:
        k = len(prefix)
        for binding in document.find_prefix(prefix):
            path = binding.path
            if len(path) <= k or tuple(path[:k]) != prefix or not isinstance(path[k], str):
                continue
            name = path[k]
            item = found.setdefault((dialect, name), BufferContainer(name, dialect, prefix))
            item.definitions.append(binding)
    out = []
    for item in found.values():
        everything = item.definitions
        item.definitions = sorted(
            (b for b in everything if not any(_contains(o, b) for o in everything)),
            key=lambda b: b.node.start_byte,
        )
        k = len(item.prefix) + 1
        for b in everything:
            rest = tuple(b.path[k:])
            if rest[:1] == ("path",):
                item.route = "path"
            elif rest[:1] == ("config",) and item.route == "unknown":
                item.route = "config"
            if rest == ("config", "services", "openssh", "ports"):
                item.ports.extend(int_list(b))
            item.conditional = item.conditional or any(
                w in ("mkIf", "optionalAttrs") for w in b.wrappers)
        out.append(item)
    out.sort(key=lambda c: c.definitions[0].node.start_byte if c.definitions else 0)
    return out


def int_list(binding: Any) -> list[int]:
    """The integers of a literal list value (other elements skipped)."""
    value = binding.value
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    node = binding.value_node
    if node is None or node.type != "list_expression":
        return []
    out = []
    for child in node.named_children:
        if child.type == "integer_expression" and child.text is not None:
            out.append(int(child.text.decode()))
    return out


def binding_for_node(document: Any, node: Any) -> Any | None:
    """The document's Binding for a tree-sitter ``binding`` node (None if unreachable)."""
    for binding in document.bindings():
        if binding.node.start_byte == node.start_byte and binding.node.end_byte == node.end_byte:
            return binding
    return None


def logical_path_at(document: Any, offset: int) -> tuple[tuple[Any, ...], Any] | None:
    """(logical path up to the attribute under the cursor, Binding) or None.

    On ``systemd.containers.foo.config = …`` with the cursor on ``foo`` that is
    ``("systemd", "containers", "foo")``; in the value it is the binding's whole path.
    """
    node = binding_at(document.tree, offset)
    while node is not None:
        binding = binding_for_node(document, node)
        if binding is not None:
            attrpath = node.child_by_field_name("attrpath")
            attrs = [c for c in attrpath.named_children if c.type != "comment"] if attrpath else []
            path = tuple(binding.path)
            for i, attr in enumerate(attrs):
                if attr.start_byte <= offset <= attr.end_byte:
                    drop = len(attrs) - 1 - i
                    return (path[: len(path) - drop] if drop else path), binding
            return path, binding
        parent = node.parent
        while parent is not None and parent.type != "binding":
            parent = parent.parent
        node = parent
    return None


def container_at(document: Any, offset: int, *, name_only: bool = False
                 ) -> BufferContainer | None:
    """The container whose definition holds ``offset`` (with ``name_only``: whose name)."""
    found = logical_path_at(document, offset)
    if found is None:
        return None
    path, _binding = found
    for prefix, _dialect in PREFIXES:
        k = len(prefix)
        if tuple(path[:k]) == prefix and len(path) > k and isinstance(path[k], str):
            if name_only and len(path) != k + 1:
                continue
            for item in buffer_containers(document):
                if item.prefix == prefix and item.name == path[k]:
                    return item
    return None


def top_level_bindings(document: Any) -> list[Any]:
    """The tree-sitter binding / inherit nodes directly in the module's attribute set."""
    top = document.top_attrset()
    if top is None:
        return []
    out = []
    for child in top.named_children:
        if child.type == "binding_set":
            out.extend(c for c in child.named_children if c.type != "comment")
    return out


def describe(item: BufferContainer, document: Any, others: list[str] | None = None) -> str:
    """Markdown hover text for a container."""
    from nixgen.attrpath import format_path

    option = format_path(item.path)
    lines = [f"**container `{item.name}`** — {item.dialect} dialect (`{option}`)", ""]
    lines.append(f"- route: {item.route}")
    lines.append("- ports: " + (", ".join(map(str, item.ports)) if item.ports else "none set"))
    if item.conditional:
        lines.append("- conditional (under `mkIf`)")
    where = [f"line {b.line}" for b in item.definitions]
    lines.append("- defined here at " + ", ".join(where))
    for other in others or []:
        lines.append(f"- also defined in {other}")
    return "\n".join(lines)
