"""NG202 and NG203: module shapes that NixOS rejects before it evaluates any option.

NG202 — a module of the full form (``options`` or ``config`` at its top level, see
:func:`nixgen.module_form.config_root`) that also has another top-level name besides those in
:data:`nixgen.module_form.TOP_LEVEL`. NixOS stops with "Module … has an unsupported attribute
`networking'". The fix prefixes each such binding with ``config.`` (``networking.hostName =
…;`` → ``config.networking.hostName = …;``): the same value, now under the explicit ``config``.
It is offered only when that is a plain rename: every offending name is written in an ordinary
binding (no ``inherit``), the module's set is not ``rec`` (a rename would change what its
bindings see), the moved bindings meet no ``rec`` set of ``config`` (see :func:`_meets_rec`),
and the renamed file parses and defines nothing twice more than before.

NG203 — an ``imports`` entry that is a literal path (``./hw.nix``, ``/etc/nixos/x.nix``) to
nothing: Nix fails with "getting status of '…': No such file or directory". A directory stands
for its ``default.nix``, which must exist. Paths are resolved as Nix resolves them: relative
to the directory of the file, after following the file's own symlinks, and normalised without
looking at the disk. Computed entries (``modulesPath + "/…"``, ``<nixpkgs/…>``, ``~/…``,
interpolations, strings) are not looked at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nixgen.checks.model import ERROR, Finding, Fix
from nixgen.checks.nodes import (
    Source,
    attr_name,
    attrpath_elements,
    bindings_of,
    inherited_names,
    literal,
    strip_parens,
    top_attrset,
)
from nixgen.edits import Edit
from nixgen.module_form import TOP_LEVEL, config_root
from nixgen.syntax import Node


def _unsupported(top: Node, data: bytes) -> list[tuple[str, Node, Node]]:
    """``(name, binding, name node)`` of each top-level binding whose name is not allowed in a
    module of the full form (names only known by evaluation are left out)."""
    out: list[tuple[str, Node, Node]] = []
    for b in bindings_of(top):
        keys = inherited_names(b) if b.type != "binding" else attrpath_elements(b)[:1]
        for key in keys:
            name = attr_name(key, data)
            if isinstance(name, str) and name not in TOP_LEVEL:
                out.append((name, b, key))
    return out


_SETS = ("attrset_expression", "rec_attrset_expression")
AttrPath = tuple[str, ...]


def _collect(prefix: AttrPath, bindings: list[Node], data: bytes,
             touched: set[AttrPath], values: dict[AttrPath, list[Node]]) -> None:
    """Record where ``bindings`` (of a set standing at ``prefix``) put something: every path
    they reach (dotted keys make sets on the way) in ``touched``, and each value written at a
    path in ``values``. Set literals are followed into; a dynamic key ends the path."""
    for b in bindings:
        if b.type != "binding":
            for key in inherited_names(b):
                name = attr_name(key, data)
                if isinstance(name, str):
                    touched.add((*prefix, name))
                    values.setdefault((*prefix, name), []).append(b)
            continue
        path = prefix
        for key in attrpath_elements(b):
            name = attr_name(key, data)
            if not isinstance(name, str):
                break
            path = (*path, name)
            touched.add(path)
        else:
            value = strip_parens(b.child_by_field_name("expression"))
            if value is not None:
                values.setdefault(path, []).append(value)
                if value.type in _SETS:
                    _collect(path, bindings_of(value), data, touched, values)


def _meets_rec(top: Node, moved: set[int], data: bytes) -> bool:
    """Whether prefixing the bindings ``moved`` (start bytes of top-level bindings) with ``config.``
    makes any of them share a path with the existing ``config`` where a value written there is
    a ``rec`` set, or not a set literal at all.

    Nix merges a dotted ``config.a.b = v;`` into the literal set already written at
    ``config``/``config.a`` (``config = rec { … };``, ``config.a = rec { … };``, a literal nested
    in one): in a ``rec`` set ``v`` then sees that set's names instead of the outer ones, and the
    set's own bindings see the moved name. A moved ``rec`` set merged into an existing set
    loses its ``rec``. Anything else on a shared path (``with``/``let`` around a set, ``mkIf``,
    a plain value) is a definition Nix rejects twice."""
    old_touched: set[AttrPath] = set()
    old_values: dict[AttrPath, list[Node]] = {}
    new_touched: set[AttrPath] = {("config",)}
    new_values: dict[AttrPath, list[Node]] = {}
    rest = [b for b in bindings_of(top) if b.start_byte not in moved]
    _collect((), rest, data, old_touched, old_values)
    _collect(("config",), [b for b in bindings_of(top) if b.start_byte in moved], data,
             new_touched, new_values)
    for path in new_touched & {p for p in old_touched if p[:1] == ("config",)}:
        for value in old_values.get(path, []) + new_values.get(path, []):
            if value.type != "attrset_expression":
                return True
    return False


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def check_module_form(src: Source, safe: Callable[[tuple[Edit, ...]], bool]) -> list[Finding]:
    """NG202 findings: top-level names NixOS rejects beside ``options``/``config``."""
    top = top_attrset(src.root)
    if top is None:
        return []
    present = {attr_name(e[0], src.data) for e in map(attrpath_elements, bindings_of(top)) if e}
    declared = [n for n in ("options", "config") if n in present]
    bad = _unsupported(top, src.data) if declared else []
    if not bad:
        return []
    from nixgen.document import Document

    if not config_root(Document.from_text(src.data, src.path, tree=src.tree, check=False)):
        return []
    names = list(dict.fromkeys(name for name, _, _ in bad))
    fix = None
    if (top.type != "rec_attrset_expression" and all(b.type == "binding" for _, b, _ in bad)
            and not _meets_rec(top, {b.start_byte for _, b, _ in bad}, src.data)):
        edits = tuple(sorted({Edit(key.start_byte, key.start_byte, "config.")
                              for _, _, key in bad}))
        if safe(edits):
            fix = Fix(f"move {_names(names)} into `config` (prefix with `config.`)", edits)
    declares = " and ".join(f"`{n}`" for n in declared)
    findings = []
    for name, _, key in bad:
        others = f" (all of them: {_names(names)})" if len(names) > 1 else ""
        findings.append(src.finding(
            "NG202", ERROR,
            f"`{name}` is not allowed at the top level of a module that declares {declares} "
            f"(NixOS: unsupported attribute); move it{others} into `config`",
            key.start_byte, key.end_byte, fix))
    return findings


def _nix_base(path: Path) -> Path:
    """The directory Nix resolves a file's relative paths against: the file's own symlinks
    followed (each target read relative to the link's directory), then its parent."""
    current = os.path.abspath(path)
    for _ in range(40):
        if not os.path.islink(current):
            break
        target = os.readlink(current)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
    return Path(current).parent


def _imports_list(top: Node, data: bytes) -> Node | None:
    for b in bindings_of(top):
        if b.type != "binding":
            continue
        elems = attrpath_elements(b)
        if len(elems) == 1 and attr_name(elems[0], data) == "imports":
            node = strip_parens(b.child_by_field_name("expression"))
            if node is not None and node.type == "list_expression":
                return node
    return None


def check_missing_imports(src: Source) -> list[Finding]:
    """NG203 findings: literal ``imports`` paths that name no file (or a directory without
    ``default.nix``)."""
    top = top_attrset(src.root)
    if top is None:
        return []
    node = _imports_list(top, src.data)
    if node is None:
        return []
    findings: list[Finding] = []
    base: Path | None = None
    for element in node.children_by_field_name("element"):
        value = literal(element, src.data)
        if not isinstance(value, Path) or str(value).startswith(("<", "~")):
            continue
        if not value.is_absolute():
            if src.path is None:
                continue
            base = base or _nix_base(src.path)
        target = Path(os.path.normpath(value if value.is_absolute() else base / value))
        written = src.text(strip_parens(element) or element)
        if target.is_dir():
            if (target / "default.nix").exists():
                continue
            message = (f"imported directory {written} has no default.nix; Nix fails: getting "
                       f"status of '{target / 'default.nix'}': No such file or directory")
        elif target.exists():
            continue
        else:
            message = (f"imported path {written} does not exist; Nix fails: getting status "
                       f"of '{target}': No such file or directory")
        findings.append(src.finding("NG203", ERROR, message, element.start_byte,
                                    element.end_byte))
    return findings
