"""The modules a file imports by literal path, searched for the definitions of a path.

``imports = [ ./hardware-configuration.nix ./services ];`` names modules whose settings Nix
merges with the file's own. :func:`import_paths` lists the files such a list names (a
directory stands for its ``default.nix``; interpolated paths and ``<…>`` are skipped);
:func:`find_in_imports` walks them depth first, each file once, so that an edit of a path
this file does not define can say which file does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from nixgen import scope
from nixgen.errors import NixgenError

if TYPE_CHECKING:
    from nixgen.attrpath import Segment
    from nixgen.binding_index import Binding
    from nixgen.document import Document

__all__ = ["find_in_imports", "import_paths"]


def import_paths(doc: Document) -> list[tuple[Binding, Path]]:
    """``(the imports binding, file)`` for each literal path in ``doc``'s ``imports`` lists."""
    if doc.path is None:
        return []
    found: list[tuple[Binding, Path]] = []
    for binding in doc.get(("imports",)):
        node = binding.value_node
        if node is None or node.type != "list_expression":
            continue
        for element in node.named_children:
            element, _ = scope.strip_value(element, doc.data)
            if element.type != "path_expression":
                continue
            text = scope.node_text(element, doc.data)
            if "${" not in text:
                found.append((binding, _resolve(doc.path, text)))
    return found


def _resolve(module: Path, text: str) -> Path:
    """The file a path literal written in ``module`` names (through a symlinked module too)."""
    target = Path(os.path.normpath(module.parent / text))
    if not target.exists():
        beside_real = Path(os.path.normpath(Path(os.path.realpath(module)).parent / text))
        if beside_real.exists():
            target = beside_real
    return target / "default.nix" if target.is_dir() else target


def find_in_imports(
    doc: Document, want: tuple[Segment, ...]
) -> tuple[Binding, list[Binding]] | None:
    """The first imported module defining ``want`` (or paths below it), depth first.

    Returns the ``imports`` binding of ``doc`` the chain starts from and the definitions
    found (their ``file`` names the module); None when no readable imported module has any.
    """
    if doc.path is None:
        return None
    seen = {os.path.realpath(doc.path)}
    stack = list(reversed(import_paths(doc)))
    while stack:
        via, path = stack.pop()
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            module = type(doc).from_path(path)
        except NixgenError:
            continue  # missing, unreadable or broken: Nix will say so itself
        defs = module.find_prefix(want)
        if defs:
            return via, defs
        stack.extend(reversed([(via, sub) for _, sub in import_paths(module)]))
    return None
