"""Editor operations shared by the language server and ``nixgen edit --json``.

An operation (``add-container``, ``remove-container``, ``set``, ``delete``, ``append``,
``remove``, ``rename``, ``convert-form``) takes the unsaved text of a buffer plus arguments
named like the command line's long options in snake_case, and returns minimal byte edits per
file. The text of the buffer wins over what is on disk for its path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from nixgen.edits import Edit
from nixgen.errors import ValidationError

OPERATIONS = (
    "add-container",
    "remove-container",
    "set",
    "delete",
    "append",
    "remove",
    "rename",
    "convert-form",
)


@dataclass
class FileEdits:
    """Edits to one file: the buffer itself (``is_buffer``), another file, or a new file."""

    path: Path
    old: bytes
    edits: list[Edit]
    create: bool = False
    is_buffer: bool = False
    delete: bool = False


@dataclass
class OperationResult:
    files: list[FileEdits] = field(default_factory=list)
    summary: str = ""

    @property
    def noop(self) -> bool:
        return not any(f.edits or f.create or f.delete for f in self.files)

    def buffer_edits(self) -> list[Edit]:
        for f in self.files:
            if f.is_buffer:
                return f.edits
        return []


def diff_edits(old: bytes, new: bytes) -> list[Edit]:
    """Minimal edits turning ``old`` into ``new``: one per changed hunk, trimmed to the change."""
    if old == new:
        return []
    a = old.decode("utf-8", "surrogateescape")
    b = new.decode("utf-8", "surrogateescape")
    a_lines = a.splitlines(keepends=True)
    b_lines = b.splitlines(keepends=True)
    offsets = [0]
    for line in a_lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8", "surrogateescape")))
    edits: list[Edit] = []
    matcher = SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_chunk = "".join(a_lines[i1:i2])
        new_chunk = "".join(b_lines[j1:j2])
        limit = min(len(old_chunk), len(new_chunk))
        pre = 0
        while pre < limit and old_chunk[pre] == new_chunk[pre]:
            pre += 1
        suf = 0
        while suf < limit - pre and old_chunk[-1 - suf] == new_chunk[-1 - suf]:
            suf += 1
        base = offsets[i1]
        start = base + len(old_chunk[:pre].encode("utf-8", "surrogateescape"))
        end = base + len(old_chunk[: len(old_chunk) - suf].encode("utf-8", "surrogateescape"))
        edits.append(Edit(start, end, new_chunk[pre : len(new_chunk) - suf]))
    return edits


# --- argument handling -------------------------------------------------------------------


def _as_list(value: Any, name: str, kind: type | tuple[type, ...]) -> list[Any]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, kind):
            if kind is int and isinstance(item, str) and item.strip().isdigit():
                item = int(item)
            else:
                raise ValidationError(f"argument {name!r}: expected {_kind_name(kind)}, got {item!r}")
        out.append(item)
    return out


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if kind is int:
        return "an integer (or a list of integers)"
    return "a string (or a list of strings)"


def _one(args: Mapping[str, Any], name: str, kind: type, default: Any = None,
         required: bool = False) -> Any:
    if name not in args or args[name] is None:
        if required:
            raise ValidationError(f"missing argument {name!r}")
        return default
    value = args[name]
    if kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(f"argument {name!r}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValidationError(f"argument {name!r}: expected a {kind.__name__}, got {value!r}")
    return value


def _check_known(operation: str, args: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise ValidationError(
            f"{operation}: unknown argument{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}; expected some of: {', '.join(known)}"
        )


ADD_CONTAINER_ARGS = (
    "name", "port", "ssh_key", "ssh_key_file", "route", "dialect", "auto_start",
    "private_network", "host_address", "local_address", "forward_port", "bind_mount",
    "replace", "force",
)


def container_spec(args: Mapping[str, Any], base: Path | None = None) -> Any:
    """A ``ContainerSpec`` from command-line-style arguments."""
    from nixgen import container_specs

    _check_known("add-container", args, ADD_CONTAINER_ARGS)
    keys = list(_as_list(args.get("ssh_key"), "ssh_key", str))
    for key_file in _as_list(args.get("ssh_key_file"), "ssh_key_file", str):
        key_path = Path(key_file).expanduser()
        if not key_path.is_absolute() and base is not None:
            key_path = base / key_path
        keys.extend(container_specs.read_ssh_key_file(key_path))
    route = _one(args, "route", str, "config")
    if route not in ("config", "path"):
        raise ValidationError(f"argument 'route': expected 'config' or 'path', got {route!r}")
    dialect = _one(args, "dialect", str, "auto")
    if dialect not in ("auto", "legacy", "modern"):
        raise ValidationError(
            f"argument 'dialect': expected 'auto', 'legacy' or 'modern', got {dialect!r}"
        )
    return container_specs.ContainerSpec(
        name=_one(args, "name", str, required=True),
        ports=_as_list(args.get("port"), "port", int),
        ssh_keys=keys,
        route=route,
        dialect=dialect,
        auto_start=_one(args, "auto_start", bool, False),
        private_network=_one(args, "private_network", bool, False),
        host_address=_one(args, "host_address", str),
        local_address=_one(args, "local_address", str),
        forward_ports=_as_list(args.get("forward_port"), "forward_port", str),
        bind_mounts=_as_list(args.get("bind_mount"), "bind_mount", str),
        replace=_one(args, "replace", bool, False),
        force=_one(args, "force", bool, False),
    )


# --- operations ---------------------------------------------------------------------------


def _plan_result(plan: Any, path: Path, data: bytes,
                 buffers: Mapping[Path, bytes]) -> OperationResult:
    result = OperationResult(summary=plan.summary)
    seen_buffer = False
    for change in plan.changes:
        target = Path(change.path)
        is_buffer = same_path(target, path)
        buffered = None if is_buffer else _lookup(buffers, target)
        if is_buffer:
            old = data
            seen_buffer = True
        elif buffered is not None:
            old = buffered
        elif change.snapshot is not None:
            old = change.snapshot.data
        else:
            old = b""
        if change.new_data is None:
            if is_buffer:
                raise ValidationError(f"refusing to delete the open file {target}")
            result.files.append(FileEdits(target, old, [], delete=True))
            continue
        create = change.snapshot is None and buffered is None and not is_buffer
        result.files.append(FileEdits(target, old, diff_edits(old, change.new_data),
                                      create=create, is_buffer=is_buffer))
    if not seen_buffer:
        result.files.insert(0, FileEdits(path, data, [], is_buffer=True))
    return result


def same_path(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _lookup(buffers: Mapping[Path, bytes], target: Path) -> bytes | None:
    for key, value in buffers.items():
        if same_path(key, target):
            return value
    return None


def _doc_result(path: Path, data: bytes, change: Any, summary: str) -> OperationResult:
    return OperationResult([FileEdits(path, data, list(change.edits), is_buffer=True)], summary)


def run_operation(
    operation: str,
    args: Mapping[str, Any],
    *,
    data: bytes,
    path: Path | None = None,
    buffers: Mapping[Path, bytes] | None = None,
    document: Callable[[], Any] | None = None,
) -> OperationResult:
    """Run ``operation`` on the buffer ``data`` (of file ``path``) and return its edits.

    ``buffers`` holds other unsaved buffers by path; ``document`` may return the already
    parsed Document of ``data`` (the language server keeps one). Without ``path`` the
    buffer stands in for ``configuration.nix`` in the current folder, and the summary calls
    it "the buffer" rather than naming that file.
    """
    file_path = path or Path.cwd() / "configuration.nix"
    result = _run_operation(operation, args, data=data, file_path=file_path, buffers=buffers,
                            document=document, has_file=path is not None)
    if path is None and result.summary:
        result.summary = result.summary.replace(str(file_path), "the buffer")
    return result


def _run_operation(
    operation: str,
    args: Mapping[str, Any],
    *,
    data: bytes,
    file_path: Path,
    buffers: Mapping[Path, bytes] | None,
    document: Callable[[], Any] | None,
    has_file: bool = True,
) -> OperationResult:
    if not isinstance(args, Mapping):
        raise ValidationError("arguments must be one JSON object")
    all_buffers = dict(buffers or {})
    all_buffers[file_path] = data

    def doc() -> Any:
        if document is not None:
            return document()
        from nixgen.document import Document

        return Document.from_text(data, path=file_path)

    if operation == "add-container":
        from nixgen import container_edit

        spec = container_spec(args, base=file_path.parent)
        if spec.route == "path" and not has_file:
            raise ValidationError(
                "argument 'route': a path-route container's file goes beside the "
                "configuration, and this buffer has no file yet; save it first or give "
                "\"path\" (or use route \"config\")")
        plan = container_edit.plan_add(file_path, spec, buffers=all_buffers)
        return _plan_result(plan, file_path, data, all_buffers)
    if operation == "remove-container":
        from nixgen import container_edit

        _check_known(operation, args, ("name", "delete_file"))
        name = _one(args, "name", str, required=True)
        delete_file = _one(args, "delete_file", bool, False)
        if delete_file and not has_file:
            raise ValidationError(
                "argument 'delete_file': a container's file is found beside the configuration, "
                "and this buffer has no file yet; save it first or give \"path\"")
        plan = container_edit.plan_remove(file_path, name, delete_file=delete_file,
                                          buffers=all_buffers)
        return _plan_result(plan, file_path, data, all_buffers)
    if operation in ("set", "append", "remove"):
        from nixgen.emit import Expr

        _check_known(operation, args, ("path", "value"))
        attr = _attr_path(args)
        value = _one(args, "value", str, required=True)
        if not value.strip():
            raise ValidationError("argument 'value': empty Nix expression")
        _check_value(value)
        document_ = doc()
        change = getattr(document_, operation)(_in_module(document_, attr), Expr(value))
        return _doc_result(file_path, data, change, f"{operation} {attr}")
    if operation == "delete":
        _check_known(operation, args, ("path",))
        attr = _attr_path(args)
        document_ = doc()
        return _doc_result(file_path, data, document_.delete(_in_module(document_, attr)),
                           f"delete {attr}")
    if operation == "rename":
        _check_known(operation, args, ("path", "new_path"))
        attr = _attr_path(args)
        new = _one(args, "new_path", str, required=True)
        document_ = doc()
        change = document_.rename(_in_module(document_, attr), _in_module(document_, new))
        return _doc_result(file_path, data, change, f"rename {attr} to {new}")
    if operation == "convert-form":
        from nixgen import convert_form
        from nixgen.lsp_positions import LineIndex

        _check_known(operation, args, ("line", "character", "offset", "form"))
        form = _one(args, "form", str)
        if form not in (None, "nested", "dotted"):
            raise ValidationError(f"argument 'form': expected \"nested\" or \"dotted\", "
                                  f"got {form!r}")
        if "offset" in args:
            offset = _one(args, "offset", int, required=True)
        else:
            offset = LineIndex(data).offset(_one(args, "line", int, required=True),
                                            _one(args, "character", int, required=True))
        offered = [c for c in convert_form.conversions_at(doc(), offset)
                   if form is None or c.kind == form]
        if not offered:
            wanted = f" to {form} form" if form else ""
            raise ValidationError(f"no binding to convert{wanted} at this position (or the "
                                  "conversion would lose a comment or make Nix reject the "
                                  "file)")
        conv = offered[0]
        return OperationResult([FileEdits(file_path, data, list(conv.edits), is_buffer=True)],
                               conv.title)
    raise ValidationError(
        f"unknown operation {operation!r}; expected one of: {', '.join(OPERATIONS)}"
    )


def _in_module(document: Any, attr: str) -> tuple[Any, ...]:
    """The path that sets option ``attr`` in this module (under ``config`` in the full form)."""
    from nixgen.attrpath import parse_path
    from nixgen.module_form import option_path

    return option_path(document, parse_path(attr))


def _attr_path(args: Mapping[str, Any]) -> str:
    attr = _one(args, "path", str, required=True)
    if not attr.strip():
        raise ValidationError("argument 'path': empty attribute path")
    return attr


def _check_value(value: str) -> None:
    """Refuse a value that is not one valid Nix expression."""
    from nixgen import syntax

    tree = syntax.parse(value.encode("utf-8"))
    errors = syntax.syntax_errors(tree, value.encode("utf-8"))
    if errors:
        raise ValidationError(f"argument 'value' is not a valid Nix expression: {errors[0]}")
