"""Running the rules over files and configurations, and applying their fixes.

File rules (syntax, duplicates, ``pkgs.lib``, dialect names) look at one file; configuration
rules (containers) look at a file together with the modules it imports by literal relative
path. Files can be given as unsaved buffers (``buffers``: path → bytes) that override the
disk, which is how fixes are re-checked before anything is written and how an editor checks
an open buffer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from nixgen.checks.dialect import check_dialect
from nixgen.checks.duplicates import check_duplicates
from nixgen.checks.model import ERROR, RULES, Finding, Fix, code_enabled, normalise_codes
from nixgen.checks.module_rules import check_missing_imports, check_module_form
from nixgen.checks.nodes import (
    Source,
    attr_name,
    attrpath_elements,
    bindings_of,
    literal,
    strip_parens,
    top_attrset,
)
from nixgen.checks.spine import check_spine
from nixgen.edits import Edit, apply_edits
from nixgen.errors import FileError
from nixgen.offsets import byte_offset
from nixgen.syntax import parse, syntax_errors

CONFIG_CODES = ("NG3", "NG4")
BOM = b"\xef\xbb\xbf"
_V = TypeVar("_V")


def _wanted(codes: Sequence[str], select: Sequence[str], ignore: Sequence[str]) -> bool:
    return any(code_enabled(c, select, ignore) for c in RULES if c.startswith(codes))


def check_source(
    data: bytes,
    path: Path | None = None,
    *,
    tree: Any = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> list[Finding]:
    """The file rules (NG0xx, NG1xx, NG2xx, NG5xx) for one file's bytes.

    NG203 (missing imports) looks at the disk: relative paths need ``path``."""
    sel, ign = normalise_codes(select), normalise_codes(ignore)
    tree = tree if tree is not None else parse(data)
    errors = syntax_errors(tree, data, str(path) if path is not None else None)
    src = Source(data, tree, path)
    bom: list[Finding] = []
    if data.startswith(BOM):
        errors = [e for e in errors if (e.line, e.col) != (1, 1)]
        bom.append(src.finding(
            "NG001", ERROR, "the file starts with a UTF-8 byte order mark, which Nix rejects "
            "(\"unexpected invalid token\")", 0, len(BOM),
            Fix("remove the byte order mark", (Edit(0, len(BOM), ""),))))
        bom = [f for f in bom if code_enabled(f.code, sel, ign)]
    if errors:
        out = list(bom)
        for err in errors:
            start = byte_offset(data, err.line or 1, err.col or 1)
            end = min(len(data), start + 1)
            out.append(src.finding("NG001", ERROR, err.message, start, end))
        return [f for f in out if code_enabled(f.code, sel, ign)]
    findings: list[Finding] = []
    duplicates: list[Finding] | None = None
    if _wanted(("NG1",), sel, ign):
        duplicates = check_duplicates(src)
        findings.extend(duplicates)
    if _wanted(("NG201",), sel, ign):
        findings.extend(check_spine(src))
    if _wanted(("NG203",), sel, ign):
        findings.extend(check_missing_imports(src))

    def errors_in(found: list[Finding]) -> int:
        return sum(1 for f in found if f.code in ("NG101", "NG102"))

    def safe(edits: tuple[Edit, ...]) -> bool:
        """Whether a rename keeps the file parsing and defines nothing twice more than before."""
        nonlocal duplicates
        if duplicates is None:
            duplicates = check_duplicates(src)
        new = apply_edits(data, edits)
        tree2 = parse(new)
        if syntax_errors(tree2, new):
            return False
        return errors_in(check_duplicates(Source(new, tree2, path))) <= errors_in(duplicates)

    if _wanted(("NG202",), sel, ign):
        findings.extend(check_module_form(src, safe))
    if _wanted(("NG5",), sel, ign):
        findings.extend(check_dialect(src, safe))
    return bom + [f for f in findings if code_enabled(f.code, sel, ign)]


def import_paths(data: bytes, tree: Any, path: Path) -> list[Path]:
    """Modules imported by a literal relative or absolute path in ``imports = [ … ];``.

    A relative path is taken from the folder of the file itself, after its symlinks, as Nix
    does (a module reached through a symlink imports what lies beside its target).
    """
    base = path.parent
    real_base = Path(os.path.realpath(path)).parent
    if real_base != Path(os.path.realpath(base)):  # the file is a symlink: beside its target
        base = real_base
    top = top_attrset(tree.root_node)
    out: list[Path] = []
    if top is None:
        return out
    for binding in bindings_of(top):
        if binding.type != "binding":
            continue
        elems = attrpath_elements(binding)
        if len(elems) != 1 or attr_name(elems[0], data) != "imports":
            continue
        node = strip_parens(binding.child_by_field_name("expression"))
        if node is None or node.type != "list_expression":
            continue
        for element in node.children_by_field_name("element"):
            value = literal(element, data)
            if not isinstance(value, Path) or str(value).startswith(("<", "~")):
                continue
            target = Path(os.path.normpath(base / value))
            if target.is_dir():
                target = target / "default.nix"
            out.append(target)
    return out


def _same_file_value(mapping: Mapping[Path, _V], path: Path) -> _V | None:
    """``mapping[path]``, else the value of a key that names the same file, else None."""
    if path in mapping:
        return mapping[path]
    real = os.path.realpath(path)
    for key, value in mapping.items():
        if os.path.realpath(key) == real:
            return value
    return None


class Workspace:
    """Files as they are on disk, or as given in ``buffers``; snapshots kept for writing."""

    def __init__(self, buffers: Mapping[Path, bytes] | None = None) -> None:
        self.buffers: dict[Path, bytes] = {Path(k): v for k, v in (buffers or {}).items()}
        self.snapshots: dict[Path, Any] = {}

    def _buffer(self, path: Path) -> bytes | None:
        return _same_file_value(self.buffers, path)

    def read(self, path: Path) -> bytes:
        data = self._buffer(path)
        if data is not None:
            return data
        from nixgen.files import read_snapshot

        snap = read_snapshot(path)
        self.snapshots[path] = snap
        return snap.data

    def snapshot(self, path: Path) -> Any:
        """The snapshot taken when ``path`` (or another spelling of it) was read, else None."""
        return _same_file_value(self.snapshots, path)

    def set(self, path: Path, data: bytes) -> None:
        if path not in self.snapshots and self._buffer(path) is None:
            self.read(path)
        for key in list(self.buffers):
            if os.path.realpath(key) == os.path.realpath(path):
                del self.buffers[key]
        self.buffers[path] = data


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        key = (f.code, str(f.file), f.start_byte, f.end_byte, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _as_given(f: Finding, seen: Mapping[str, Path], root: Path) -> Finding:
    """``f`` with its file spelt as the user reached it (not as a resolved absolute path)."""
    if f.file is None:
        return f
    real = os.path.realpath(f.file)
    given = seen.get(real)
    if given is None:
        base = os.path.realpath(root.parent)
        if real.startswith(base + os.sep):
            given = root.parent / os.path.relpath(real, base)
    return replace(f, file=given) if given is not None and given != f.file else f


@dataclass
class _Parsed:
    path: Path
    data: bytes
    tree: Any
    ok: bool
    imports: list[Path]
    document: Any = None


def _read_modules(
    root: Path,
    ws: Workspace,
    parsed: dict[str, _Parsed],
    *,
    follow_imports: bool = True,
    root_required: bool = False,
    root_tree: Any = None,
    root_document: Any = None,
) -> list[_Parsed]:
    """Read and parse ``root`` and the modules it imports, depth first, each real file once.

    Each file read is added to ``parsed`` (by real path) and returned, in the order read; files
    already in ``parsed`` are not read again. A file that cannot be read is skipped, except
    ``root`` with ``root_required``. ``root_tree`` (and ``root_document``) are reused for
    ``root`` instead of parsing it again.
    """
    read: list[_Parsed] = []
    stack = [root]
    while stack:
        path = stack.pop()
        real = os.path.realpath(path)
        if real in parsed:
            continue
        try:
            data = ws.read(path)
        except FileError:
            if root_required and path is root:
                raise
            continue
        own = path is root and root_tree is not None
        tree = root_tree if own else parse(data)
        ok = not syntax_errors(tree, data)
        imports = import_paths(data, tree, path) if ok and follow_imports else []
        item = _Parsed(path, data, tree, ok, imports, root_document if own else None)
        parsed[real] = item
        read.append(item)
        stack.extend(reversed(imports))
    return read


def _closure(root: Path, parsed: Mapping[str, _Parsed]) -> list[_Parsed]:
    """``root`` and every module it imports (depth first, each file once)."""
    out: list[_Parsed] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        real = os.path.realpath(stack.pop())
        item = parsed.get(real)
        if item is None or real in seen:
            continue
        seen.add(real)
        out.append(item)
        stack.extend(reversed(item.imports))
    return out


def _configuration_findings(root: Path, parsed: Mapping[str, _Parsed],
                            ws: Workspace) -> list[Finding]:
    """Container findings of one configuration, from the files already read and parsed."""
    files = _closure(root, parsed)
    if not files or not all(f.ok for f in files):
        return []
    if not any(b"containers" in f.data for f in files):
        return []
    from nixgen.checks.container_rules import check_modules
    from nixgen.containers import Module
    from nixgen.document import Document

    modules = []
    for f in files:
        if f.document is None:
            f.document = Document.from_text(f.data, f.path, tree=f.tree, check=False)
        if f.document.top_attrset() is None:
            if f is files[0]:
                return []
            continue
        modules.append(Module(f.path, Path(os.path.realpath(f.path)), f.document))
    return check_modules(modules, ws.buffers or None)


def check_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    buffers: Mapping[Path, bytes] | None = None,
    follow_imports: bool = True,
    workspace: Workspace | None = None,
) -> list[Finding]:
    """Every finding for the given files and the modules they import, in file order.

    A given file that is missing or unreadable raises :class:`nixgen.errors.FileError`; an
    imported one that is missing is skipped (Nix itself reports it when evaluating).
    """
    sel, ign = normalise_codes(select), normalise_codes(ignore)
    ws = workspace or Workspace(buffers)
    roots = [Path(p) for p in paths]
    parsed: dict[str, _Parsed] = {}
    findings: list[Finding] = []
    config_roots: list[Path] = []
    for root in roots:
        if os.path.realpath(root) in parsed:
            continue
        config_roots.append(root)
        for item in _read_modules(root, ws, parsed, follow_imports=follow_imports,
                                  root_required=True):
            findings.extend(check_source(item.data, item.path, tree=item.tree,
                                         select=sel, ignore=ign))
    seen = {real: item.path for real, item in parsed.items()}
    if _wanted(CONFIG_CODES, sel, ign):
        for root in config_roots:
            found = _configuration_findings(root, parsed, ws)
            findings.extend(_as_given(f, seen, root) for f in found
                            if code_enabled(f.code, sel, ign))
    rank = {real: i for i, real in enumerate(seen)}
    findings = _dedupe(findings)
    findings.sort(key=lambda f: (rank.get(os.path.realpath(f.file) if f.file else "", 1 << 30),
                                 str(f.file), f.start_byte, f.code))
    return findings


def check_document(
    doc: Any,
    *,
    path: str | os.PathLike[str] | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    configuration: bool = True,
    buffers: Mapping[Path, bytes] | None = None,
) -> list[Finding]:
    """Findings located in one document (an open buffer: ``doc.data`` is what is checked).

    With a path, configuration rules also run, reading the modules it imports from
    ``buffers`` (other unsaved buffers) or else from disk. A configuration finding located in
    another file but involving this one (a port clash with an imported module) comes back at
    this file's place, naming the other.
    """
    p = Path(path) if path is not None else doc.path
    data: bytes = doc.data
    tree = doc.tree
    findings = check_source(data, p, tree=tree, select=select, ignore=ignore)
    sel, ign = normalise_codes(select), normalise_codes(ignore)
    if configuration and p is not None and _wanted(CONFIG_CODES, sel, ign):
        ws = Workspace({**(buffers or {}), p: data})
        parsed: dict[str, _Parsed] = {}
        _read_modules(p, ws, parsed, root_tree=tree, root_document=doc)
        real_p = os.path.realpath(p)
        for f in _configuration_findings(p, parsed, ws):
            if f.file is None or not code_enabled(f.code, sel, ign):
                continue
            if os.path.realpath(f.file) == real_p:
                findings.append(replace(f, file=p))
                continue
            here = next(((ln, c) for rf, ln, c in f.related
                         if rf and os.path.realpath(rf) == real_p), None)
            if here is not None:
                findings.append(_moved_here(f, p, data, *here))
    return _dedupe(findings)


def _moved_here(f: Finding, path: Path, data: bytes, line: int, col: int) -> Finding:
    """``f`` (located in another file) at ``line``:``col`` of this file, naming its place."""
    from nixgen.offsets import byte_offset

    start = byte_offset(data, line, col)
    m = re.match(rb"[A-Za-z0-9_.'-]+", data[start:])
    end = start + (len(m.group(0)) if m else 0)
    end_col = col + len(data[start:end].decode("utf-8", "replace"))
    return replace(f, file=path, line=line, col=col, end_line=line, end_col=end_col,
                   start_byte=start, end_byte=end, fix=None,
                   message=f"{f.message} (reported at {f.file}:{f.line})",
                   related=((str(f.file), f.line, f.col),))
