"""``nixgen eval`` and ``nixgen check-syntax``: ask the real Nix what code means, or whether it parses.

``eval`` prints a value as Nix (highlighted on a terminal) or as JSON; arguments reach Nix as
JSON data, never as code. ``check-syntax`` checks with tree-sitter, then lets Nix's own parser
judge every file in one process when Nix is installed.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer

from nixgen.cli.app import app

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
PAIR_FLAGS = ("--arg", "--argstr", "--option")
EVAL_EPILOG = (
    "Pairs (repeatable): --arg NAME JSON (a JSON value, e.g. --arg port 22), "
    "--argstr NAME STRING, --option NAME VALUE (a Nix option, e.g. --option substituters '')."
)
_FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$")
IncludeOption = typer.Option(None, "-I", help="Add a search path entry for Nix (repeatable).")


def _split_extra(args: list[str]) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
    """Positional words and the NAME VALUE pairs of --arg / --argstr / --option, in order."""
    from nixgen.errors import UsageError

    words: list[str] = []
    pairs: dict[str, list[tuple[str, str]]] = {flag: [] for flag in PAIR_FLAGS}
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in PAIR_FLAGS:
            if len(rest) < 2:
                raise UsageError(f"{word} needs a NAME and a VALUE")
            pairs[word].append((rest.pop(0), rest.pop(0)))
        elif word == "--":
            words.extend(rest)
            break
        elif _FLAG.match(word):
            raise UsageError(f"unknown option {word!r} ({EVAL_EPILOG})")
        else:
            words.append(word)
    return words, pairs


def _arguments(pairs: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    import json

    from nixgen.errors import UsageError

    values: dict[str, Any] = {}
    for name, text in pairs["--arg"]:
        try:
            values[name] = json.loads(text)
        except ValueError:
            raise UsageError(
                f"--arg {name}: {text!r} is not JSON (use --argstr {name} VALUE for a string)"
            ) from None
    for name, text in pairs["--argstr"]:
        values[name] = text
    return values


def _print_nix(value: Any) -> None:
    from nixgen.emit import to_nix

    text = to_nix(value)
    if sys.stdout.isatty():
        from rich.syntax import Syntax

        from nixgen.cli.output import console

        console().print(Syntax(text, "nix", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text + "\n")


@app.command("eval", context_settings=EXTRA_ARGS, epilog=EVAL_EPILOG)
def eval_cmd(
    ctx: typer.Context,
    file: str | None = typer.Option(None, "-f", "--file", help="Evaluate this Nix file."),
    attr: str | None = typer.Option(None, "-A", "--attr", help="Select this attribute path."),
    json_out: bool = typer.Option(False, "--json", help="Print the value as JSON."),
    include: list[str] | None = IncludeOption,
    timeout: float | None = typer.Option(None, "--timeout", help="Stop Nix after this many seconds."),
    show_trace: bool = typer.Option(False, "--show-trace", help="Show Nix's evaluation trace on errors."),
) -> None:
    """Evaluate a Nix expression (nixgen eval EXPR) or file (-f FILE) and print its value."""
    from pathlib import Path

    from nixgen.errors import UsageError
    from nixgen.nix import Nix

    words, pairs = _split_extra(list(ctx.args))
    if file is not None and words:
        raise UsageError("give an expression or -f FILE, not both")
    if file is None and len(words) != 1:
        raise UsageError("give one expression to evaluate (quote it), or -f FILE")
    args = _arguments(pairs)
    nix = Nix(search_path=include or (), options=pairs["--option"], timeout=timeout,
              show_trace=show_trace)
    if file is not None:
        path = Path(file)
        if not path.exists():
            from nixgen.errors import FileError

            raise FileError("no such file", file=file)
        value = nix.eval(path, attr=attr, args=args or None)
    else:
        value = nix.eval(words[0], attr=attr, args=args or None)
    if json_out:
        from nixgen.cli.output import print_json

        print_json(value)
    else:
        _print_nix(value)


def _expand(files: list[str]) -> list[str]:
    """Files as given; directories become the ``*.nix`` files below them, sorted."""
    import os

    result: list[str] = []
    for name in files:
        if os.path.isdir(name):
            for root, dirs, names in os.walk(name):
                dirs.sort()
                result.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".nix"))
        else:
            result.append(name)
    return result


@app.command("check-syntax", context_settings=EXTRA_ARGS, epilog=EVAL_EPILOG)
def check_syntax_cmd(
    ctx: typer.Context,
    use_nix: bool | None = typer.Option(
        None, "--nix/--no-nix",
        help="Let Nix's parser judge (default: when Nix is installed).",
    ),
    include: list[str] | None = IncludeOption,
) -> None:
    """Check that each FILE (or each *.nix under a directory) is valid Nix; errors as file:line:col."""
    from nixgen import syntax
    from nixgen.errors import NixgenError, NixSyntaxError, UsageError
    from nixgen.nix import Nix, nix_available

    words, pairs = _split_extra(list(ctx.args))
    if not words:
        raise UsageError("give one or more files (or directories) to check")
    files = _expand(words)
    problems: dict[str, list[NixgenError]] = {}
    clean: list[str] = []
    flagged: list[str] = []
    for name in files:
        try:
            with open(name, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            problems[name] = [NixgenError(exc.strerror or "cannot read the file", file=name)]
            continue
        errors = syntax.syntax_errors(syntax.parse(data), data, name)
        if errors:
            problems[name] = list(errors)
            flagged.append(name)
        else:
            clean.append(name)
    judge = nix_available() if use_nix is None else use_nix
    if judge:
        nix = Nix(search_path=include or (), options=pairs["--option"])
        found: list[NixSyntaxError] = nix.parse_check_many([*clean, *flagged])
        for name in flagged:  # tree-sitter's doubts; Nix has the last word
            problems.pop(name, None)
        for err in found:
            problems.setdefault(str(err.file), []).append(err)
    elif use_nix is None:
        sys.stderr.write("nixgen: warning: Nix is not installed; checked with tree-sitter only\n")
    out = []
    for name in files:
        for err in problems.get(name, ()):
            out.append(str(err).replace("\n", " ") + "\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    if problems:
        raise typer.Exit(1)
