"""``nixgen check``: report NixOS-aware findings, show their fixes as a diff, or apply them.

Exit codes: 0 nothing found (or everything fixed), 1 findings remain, 2 usage or I/O error.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from nixgen.cli.app import DEFAULT_CONFIG, app

if TYPE_CHECKING:
    from nixgen.checks import Finding

FORMATS = ("text", "json", "github")
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _github_line(f: Finding) -> str:
    props = (f"file={_gh_escape(f.display_file, True)},line={f.line},col={f.col},"
             f"endLine={f.end_line},endColumn={f.end_col},title={f.code}")
    return f"::{GITHUB_LEVEL.get(f.severity, 'warning')} {props}::{_gh_escape(f.message)}"


def _print_text(findings: list[Finding]) -> None:
    from rich.text import Text

    from nixgen.cli.output import console

    out = console()
    for f in findings:
        line = Text()
        line.append(f"{f.display_file}:{f.line}:{f.col}:", style="bold")
        line.append(" ")
        line.append(f.code, style=SEVERITY_STYLE.get(f.severity, ""))
        line.append(f" {f.message}")
        if f.fix is not None:
            line.append(" [fixable]", style="dim")
        out.print(line)


def _summary(findings: list[Finding], fixed: int | None, *, would: bool = False,
             introduced: int = 0) -> None:
    """``fixed N`` / ``--fix would fix N`` counts findings, like "(N fixable with --fix)"."""
    from nixgen.cli.output import err_console

    fixable = sum(1 for f in findings if f.fix is not None)
    parts = []
    if fixed:
        parts.append(f"{'--fix would fix' if would else 'fixed'} {fixed}")
    if introduced:
        new = f"{introduced} new finding{'s' if introduced != 1 else ''}"
        parts.append(f"the fixes {'would bring' if would else 'brought'} {new}")
    if findings:
        count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        parts.append(count + (f" ({fixable} fixable with --fix)" if fixable else ""))
    elif not fixed:
        parts.append("no findings")
    err_console().print("; ".join(parts))


def _emit(findings: list[Finding], fmt: str, fixed: int | None = None,
          introduced: int = 0) -> None:
    if fmt == "json":
        from nixgen.cli.output import print_json

        print_json([f.to_json() for f in findings])
    elif fmt == "github":
        for f in findings:
            sys.stdout.write(_github_line(f) + "\n")
        sys.stdout.flush()
    else:
        _print_text(findings)
        _summary(findings, fixed, introduced=introduced)


def _io_error(err: Any) -> None:
    sys.stderr.write(f"nixgen: error: {err}\n")
    raise typer.Exit(2)


@app.command("check")
def check(
    files: list[str] = typer.Argument(
        None,
        metavar="FILE",
        help=f"Configuration files to check (default {DEFAULT_CONFIG}); imports are followed.",
    ),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes and write the files."),
    diff: bool = typer.Option(False, "--diff", help="Show the fixes as a diff; write nothing."),
    select: list[str] = typer.Option(
        None, "--select", metavar="CODE",
        help="Only these codes or prefixes (repeat, or comma-separate).",
    ),
    ignore: list[str] = typer.Option(
        None, "--ignore", metavar="CODE",
        help="Skip these codes or prefixes (repeat, or comma-separate).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print findings as JSON."),
    fmt: str = typer.Option("text", "--format", metavar="FORMAT", help="Output format: text, json or github."),
) -> None:
    """Check NixOS configurations for mistakes Nix or NixOS would punish, with safe fixes."""
    from nixgen.errors import FileError, UsageError

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}: use text, json or github")
    if json_out:
        if fmt not in ("text", "json"):
            raise UsageError("--json and --format github cannot be combined")
        fmt = "json"
    if fix and diff:
        raise UsageError("--fix writes the files and --diff only shows them: choose one")

    from nixgen.checks import check_paths, fix_paths
    from nixgen.checks.model import normalise_codes

    sel, ign = normalise_codes(select), normalise_codes(ignore)
    paths = list(files or [DEFAULT_CONFIG])
    try:
        if not fix and (not diff or fmt != "text"):
            # json and github output carry each fix as edits: --diff adds nothing there
            findings = check_paths(paths, select=sel, ignore=ign)
            _emit(findings, fmt)
            raise typer.Exit(1 if findings else 0)
        result = fix_paths(paths, select=sel, ignore=ign)
    except FileError as err:
        _io_error(err)
        return
    ws = result.workspace
    if diff:
        from nixgen.cli.output import print_diff

        for path, new in result.changed.items():
            snap = ws.snapshot(path)
            print_diff(snap.data if snap is not None else b"", new, str(path).lstrip("/"))
        _print_text(result.remaining)
        _summary(result.remaining, result.fixed, would=True, introduced=result.introduced)
        raise typer.Exit(1 if result.changed or result.remaining else 0)
    from nixgen.files import FileChange, commit

    changes = [FileChange(path, ws.snapshot(path), new)
               for path, new in result.changed.items()]
    changes = [c for c in changes if c.changed]
    try:
        if changes:
            commit(changes)
    except FileError as err:
        _io_error(err)
    if fmt == "text":
        from nixgen.cli.output import err_console

        for c in changes:
            err_console().print(f"fixed {c.display_name}")
    _emit(result.remaining, fmt, fixed=result.fixed, introduced=result.introduced)
    raise typer.Exit(1 if result.remaining else 0)
