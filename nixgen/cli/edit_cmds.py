"""The editing verbs of the command line: ``get``, ``set``, ``delete``, ``append``, ``remove``, ``undo``.

Each command reads one configuration file, asks the document model for the edit, and either
shows it (``--dry-run``: a coloured diff, nothing written) or writes it atomically. Library
modules are imported inside the commands so that starting the program stays fast.
"""

import sys
from typing import Any, Literal

import typer

from nixgen.cli.app import DEFAULT_CONFIG, app

_VALUE_FILE = "<VALUE>"

FILE_HELP = "The configuration file to read and edit."
DRY_RUN_OPTION = typer.Option(False, "--dry-run", "-n", help="Show the change as a diff; write nothing.")
JSON_VALUE_OPTION = typer.Option(
    False, "--json-value", help="VALUE is JSON (converted to Nix) instead of Nix source."
)
ITEM_ARGUMENT = typer.Argument(
    ..., metavar="VALUE", help="The item: Nix source (or JSON with --json-value)."
)


def _file_option() -> Any:
    return typer.Option(DEFAULT_CONFIG, "-f", "--file", metavar="FILE", help=FILE_HELP)


def _load(file: str) -> tuple[Any, Any]:
    """Read ``file`` (keeping its snapshot for the conflict check) and parse it."""
    from pathlib import Path

    from nixgen.document import Document
    from nixgen.files import read_snapshot

    snapshot = read_snapshot(Path(file))
    doc = Document.from_text(snapshot.data, path=Path(file))
    for warning in doc.warnings:
        _say(f"nixgen: warning: {warning}")
    return snapshot, doc


def _value(text: str, json_value: bool) -> Any:
    """The Python value (``--json-value``) or raw Nix (``emit.Expr``) of a VALUE argument."""
    from nixgen.errors import NixSyntaxError, ValidationError

    if json_value:
        import json

        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"VALUE is not valid JSON: {exc.msg}", file=_VALUE_FILE, line=exc.lineno, col=exc.colno
            ) from None
        from nixgen.emit import to_nix

        try:  # what Nix cannot hold (inf, NUL, integers beyond 64 bits) is the VALUE's fault
            to_nix(value)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(
                f"VALUE cannot be written as Nix: {exc}", file=_VALUE_FILE
            ) from None
        return value
    from nixgen import syntax
    from nixgen.emit import Expr

    try:
        syntax.check(text.encode("utf-8"), file=_VALUE_FILE)
    except NixSyntaxError as err:
        message = err.message
        if message.startswith("empty file"):
            message = "expected a Nix expression"
        raise ValidationError(
            f"VALUE is not valid Nix: {message}", file=_VALUE_FILE, line=err.line, col=err.col
        ) from None
    return Expr(text.strip())


def _path(text: str) -> tuple[Any, ...]:
    from nixgen.attrpath import parse_path

    return parse_path(text)


def _say(message: str) -> None:
    """A short status line on stderr (plain text: rich is not needed for it)."""
    sys.stderr.write(message + "\n")


def _finish(snapshot: Any, change: Any, dry_run: bool, file: str) -> None:
    """Write (or show) a document change; say so when there is nothing to change."""
    from nixgen.cli.output import finish
    from nixgen.files import FileChange

    new_data = change.document.data
    if not change.changed or new_data == snapshot.data:
        _say(f"nothing to change in {file}")
        return
    change_ = FileChange(snapshot.path, snapshot, new_data)
    finish([change_], dry_run=dry_run, quiet=True)
    if not dry_run:
        _say(f"wrote {change_.display_name}")


def _edit_with_value(
    verb: Literal["set", "append", "remove"], path: str, value: str, file: str,
    json_value: bool, dry_run: bool,
) -> None:
    """Apply the document method ``verb`` to PATH with the VALUE argument, then finish."""
    segments = _path(path)
    parsed = _value(value, json_value)
    snapshot, doc = _load(file)
    _finish(snapshot, getattr(doc, verb)(_in_module(doc, segments), parsed), dry_run, file)


def _in_module(doc: Any, segments: tuple[Any, ...]) -> tuple[Any, ...]:
    """The path that sets option ``segments`` here: under ``config`` in a module of the full
    form (one with top-level ``options``/``config``), as given otherwise."""
    from nixgen.module_form import option_path

    return option_path(doc, segments)


def _jsonable(
    value: Any, where: str, at: dict[str, Any] | None = None, base: str | None = None
) -> Any:
    """``value`` with paths as strings; ValidationError (located ``at``) for a non-literal part.

    A path becomes what Nix makes of it: relative ones are taken from ``base`` (the folder of
    the file that writes them), and ``.``/``..`` are resolved.
    """
    import os
    from pathlib import PurePath

    from nixgen.errors import ValidationError
    from nixgen.literal import Unevaluated

    if isinstance(value, Unevaluated):
        raise ValidationError(
            f"{where} is not a literal value ({value.kind}: {_short(value.text)}); "
            "use --eval to ask Nix",
            **(at or {}),
        )
    if isinstance(value, PurePath):
        text = str(value)
        if not value.is_absolute() and base is not None:
            text = os.path.join(base, text)
        return os.path.normpath(text) if os.path.isabs(text) else text
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where, at, base) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, where, at, base) for v in value]
    return value


def _short(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _not_defined(path: str, file: str) -> Exception:
    from nixgen.errors import NixgenError

    return NixgenError(f"{path} is not defined in this file", file=file)


@app.command("get")
def get_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="Attribute path, e.g. services.openssh.ports."),
    file: str = _file_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the literal value as JSON."),
    evaluate: bool = typer.Option(
        False, "--eval", help="Ask Nix for the merged value of the whole NixOS configuration."
    ),
    include: list[str] | None = typer.Option(
        None, "-I", "--include", metavar="NAME=PATH", help="Add to the Nix search path (name=path or path)."
    ),
    nixos: str | None = typer.Option(
        None, "--nixos", metavar="EXPR", help="The NixOS to evaluate with (default <nixpkgs/nixos> or <nixos>)."
    ),
) -> None:
    """Show the definitions of PATH (file:line: value), or its value."""
    from nixgen.cli.output import print_json

    segments = _path(path)
    if evaluate:
        from pathlib import Path

        from nixgen.cli.eval_cmds import show_value
        from nixgen.files import read_snapshot
        from nixgen.nix import Nix
        from nixgen.nixos import option_value

        read_snapshot(Path(file))  # a clear error for a missing or unreadable file
        value = option_value(Path(file), segments, nix=Nix(search_path=include or ()), nixos=nixos)
        show_value(value, as_json=as_json)  # a function as <LAMBDA> ("<LAMBDA>" in JSON)
        return

    _, doc = _load(file)
    segments = _in_module(doc, segments)
    if as_json:
        try:
            value = doc.value(segments)
        except KeyError:
            raise _not_defined(path, file) from None
        first = (doc.get(segments) or doc.find_prefix(segments))[:1]
        at = {"file": file, "line": first[0].line, "col": first[0].col} if first else None
        import os

        base = os.path.dirname(os.path.realpath(file))  # Nix follows a symlinked file
        print_json(_jsonable(value, path, at, base))
        return
    bindings = doc.get(segments)
    prefix = ""
    if not bindings:
        bindings = _outermost(doc.find_prefix(segments))
        prefix = "."
    if not bindings:
        raise _not_defined(path, file)
    from nixgen.attrpath import format_path

    for binding in bindings:
        where = f"{file}:{binding.line}"
        note = f"  [under {', '.join(binding.wrappers)}]" if binding.wrappers else ""
        rest = f"{prefix}{format_path(binding.path[len(segments):])} = " if prefix else ""
        sys.stdout.write(f"{where}: {rest}{binding.text}{note}\n")


def _outermost(bindings: list[Any]) -> list[Any]:
    """The bindings not nested inside the value of another one, in source order."""
    ordered = sorted(bindings, key=lambda b: (b.value_start, -b.value_end))
    out: list[Any] = []
    for binding in ordered:
        if any(o.value_start <= binding.key_start < o.value_end for o in out):
            continue
        out.append(binding)
    return out


@app.command("set")
def set_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="Attribute path to set."),
    value: str = typer.Argument(..., metavar="VALUE", help="The new value: Nix source (or JSON with --json-value)."),
    file: str = _file_option(),
    json_value: bool = JSON_VALUE_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Set PATH to VALUE, creating the definition if needed."""
    _edit_with_value("set", path, value, file, json_value, dry_run)


@app.command("delete")
def delete_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="Attribute path to delete."),
    file: str = _file_option(),
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Delete every definition of PATH, with the comments it owns."""
    snapshot, doc = _load(file)
    segments = _in_module(doc, _path(path))
    change = doc.delete(segments)  # refuses a path defined where this file cannot delete it
    if not change.changed:
        _say(f"{path} is not defined in {file}: nothing to change")
        return
    _finish(snapshot, change, dry_run, file)


@app.command("append")
def append_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="Attribute path of a list."),
    value: str = ITEM_ARGUMENT,
    file: str = _file_option(),
    json_value: bool = JSON_VALUE_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Append VALUE to the list at PATH (no duplicate; creates the list if absent)."""
    _edit_with_value("append", path, value, file, json_value, dry_run)


@app.command("remove")
def remove_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="Attribute path of a list."),
    value: str = ITEM_ARGUMENT,
    file: str = _file_option(),
    json_value: bool = JSON_VALUE_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
) -> None:
    """Remove VALUE from the list at PATH (nothing to do if it is not there)."""
    _edit_with_value("remove", path, value, file, json_value, dry_run)


@app.command("undo")
def undo_cmd(
    file: str = _file_option(),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would be restored."),
) -> None:
    """Restore the files of the last nixgen change to FILE (refused if edited since)."""
    if dry_run:
        from nixgen.cli.output import finish
        from nixgen.files import plan_undo

        finish(plan_undo(file), dry_run=True)
        return
    from nixgen.files import undo

    for restored in undo(file):
        _say(f"restored {restored}")
