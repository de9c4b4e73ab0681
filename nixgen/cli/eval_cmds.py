"""``nixgen eval`` and ``nixgen check-syntax``: ask the real Nix what code means, or whether it parses.

``eval`` prints a value as Nix (highlighted on a terminal) or as JSON; arguments reach Nix as
JSON data, never as code. ``check-syntax`` lets Nix's own parser judge every file (one process
when all are valid; tree-sitter picks the likely culprits after a rejection), and falls back to
tree-sitter alone when Nix is not installed.

Options that take values are read from the command's extra arguments here rather than declared
to typer: typer builds a validator for every declared non-flag parameter, which costs more
than the rest of a ``nixgen eval`` together.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import typer

from nixgen.cli.app import app

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}

# flag -> (destination, number of values)
EVAL_FLAGS = {
    "-f": ("file", 1), "--file": ("file", 1),
    "-A": ("attr", 1), "--attr": ("attr", 1),
    "-I": ("include", 1),
    "--timeout": ("timeout", 1),
    "--arg": ("arg", 2), "--argstr": ("argstr", 2),
    "--option": ("option", 2),
}
CHECK_FLAGS = {
    "-I": ("include", 1),
    "--option": ("option", 2),
    "--nix": ("nix", 0), "--no-nix": ("no-nix", 0),
}


@dataclass
class Parsed:
    """Positional words and the values of each flag, in the order given."""

    words: list[str] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)

    def last(self, dest: str) -> Any:
        found = self.values.get(dest)
        return found[-1] if found else None

    def all(self, dest: str) -> list[Any]:
        return list(self.values.get(dest, []))


def parse_extra(args: list[str], flags: dict[str, tuple[str, int]], usage: str) -> Parsed:
    """Read ``args`` by ``flags`` (``--flag=value`` works for one-value flags); ``--`` ends flags."""
    from nixgen.errors import UsageError

    parsed = Parsed()
    rest = list(args)
    while rest:
        word = rest.pop(0)
        name, eq, inline = word.partition("=")
        if len(word) > 2 and word[1] != "-" and flags.get(word[:2], ("", 0))[1] == 1:
            name, eq, inline = word[:2], "=", word[2:]  # attached short form: -Ipath, -fFILE
        if word == "--":
            parsed.words.extend(rest)
            break
        if (word in flags and not eq) or (eq and name in flags and flags[name][1] == 1):
            dest, count = flags[name if eq else word]
            if eq:
                values: list[str] = [inline]
            else:
                if len(rest) < count:
                    need = "a value" if count == 1 else f"{count} values (NAME VALUE)"
                    raise UsageError(f"{word} needs {need}")
                values = [rest.pop(0) for _ in range(count)]
            item: Any = True if count == 0 else values[0] if count == 1 else tuple(values)
            parsed.values.setdefault(dest, []).append(item)
        elif len(word) > 1 and word[0] == "-" and (word[1].isalpha() or word[1] == "-"):
            raise UsageError(f"unknown option {word!r}; {usage}")
        else:
            parsed.words.append(word)
    return parsed


def _arguments(parsed: Parsed) -> dict[str, Any] | None:
    import json

    from nixgen.errors import UsageError

    values: dict[str, Any] = {}
    for name, text in parsed.all("arg"):
        try:
            values[name] = json.loads(text)
        except ValueError:
            raise UsageError(
                f"--arg {name}: {text!r} is not JSON (use --argstr {name} VALUE for a string)"
            ) from None
    for name, text in parsed.all("argstr"):
        values[name] = text
    return values or None


def _timeout(parsed: Parsed) -> float | None:
    from nixgen.errors import UsageError

    text = parsed.last("timeout")
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UsageError(f"--timeout needs a number of seconds above 0, not {text!r}")
    return seconds


def _print_nix(value: Any) -> None:
    from nixgen.emit import to_nix

    text = to_nix(value)
    if sys.stdout.isatty():
        from rich.syntax import Syntax

        from nixgen.cli.output import console

        console().print(Syntax(text, "nix", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text + "\n")


EVAL_USAGE = "see nixgen eval --help"


@app.command("eval", context_settings=EXTRA_ARGS)
def eval_cmd(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the value as JSON."),
    show_trace: bool = typer.Option(False, "--show-trace", help="Show Nix's trace on errors."),
) -> None:
    """Evaluate a Nix expression or file with the real Nix and print its value.

    \b
    nixgen eval EXPR [OPTIONS]
    nixgen eval -f FILE [-A ATTR] [OPTIONS]
    \b
      -f, --file FILE        evaluate this Nix file
      -A, --attr ATTR        select this attribute path (a.b."c.d")
      --arg NAME JSON        pass a JSON value to the function (e.g. --arg port 22)
      --argstr NAME STRING   pass a string to the function
      -I PATH                add a search path entry for Nix (repeatable)
      --option NAME VALUE    a Nix option (e.g. --option substituters '')
      --timeout SECONDS      stop Nix after this long
    """
    from pathlib import Path

    from nixgen.errors import FileError, UsageError
    from nixgen.nix import Nix

    parsed = parse_extra(list(ctx.args), EVAL_FLAGS, EVAL_USAGE)
    file, words = parsed.last("file"), parsed.words
    if file is not None and words:
        raise UsageError("give an expression or -f FILE, not both")
    if file is None and len(words) != 1:
        raise UsageError("give one expression to evaluate (quote it), or -f FILE")
    nix = Nix(search_path=parsed.all("include"), options=parsed.all("option"),
              timeout=_timeout(parsed), show_trace=show_trace)
    args = _arguments(parsed)
    if file is not None:
        if not Path(file).exists():
            raise FileError("no such file", file=file)
        value = nix.eval(Path(file), attr=parsed.last("attr"), args=args)
    else:
        value = nix.eval(words[0], attr=parsed.last("attr"), args=args)
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


def _tree_sitter_errors(name: str) -> list[Any]:
    """tree-sitter's syntax errors for one file (an unreadable file is one error)."""
    from nixgen import syntax
    from nixgen.errors import NixgenError

    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [NixgenError(exc.strerror or "cannot read the file", file=name)]
    return list(syntax.syntax_errors(syntax.parse(data), data, name))


@app.command("check-syntax", context_settings=EXTRA_ARGS)
def check_syntax_cmd(ctx: typer.Context) -> None:
    """Check that each FILE (or each *.nix under a DIRECTORY) is valid Nix.

    Errors are printed as file:line:col: message; the exit code is 1 if any file is bad.
    With Nix installed, Nix's own parser judges every file (one process when all are
    valid); without it, tree-sitter does.

    \b
    nixgen check-syntax FILE|DIRECTORY... [OPTIONS]
    \b
      --nix / --no-nix       use Nix's parser (default: when Nix is installed)
      -I PATH                add a search path entry for Nix (repeatable)
      --option NAME VALUE    a Nix option (e.g. --option substituters '')
    """
    from nixgen.errors import UsageError
    from nixgen.nix import Nix, nix_available

    parsed = parse_extra(list(ctx.args), CHECK_FLAGS, "see nixgen check-syntax --help")
    if not parsed.words:
        raise UsageError("give one or more files (or directories) to check")
    choice = [dest for dest in ("nix", "no-nix") if parsed.last(dest)]
    if len(choice) > 1:
        raise UsageError("--nix and --no-nix do not go together")
    use_nix = {"nix": True, "no-nix": False}[choice[0]] if choice else None
    files = _expand(parsed.words)
    problems: dict[str, list[Any]] = {}
    if nix_available() if use_nix is None else use_nix:
        nix = Nix(search_path=parsed.all("include"), options=parsed.all("option"))
        for err in nix.parse_check_many(files, suspect=lambda n: bool(_tree_sitter_errors(n))):
            problems.setdefault(str(err.file), []).append(err)
    else:
        if use_nix is None:
            sys.stderr.write("nixgen: warning: Nix is not installed; checked with tree-sitter only\n")
        for name in files:
            errors = _tree_sitter_errors(name)
            if errors:
                problems[name] = errors
    out = [str(err).replace("\n", " ") + "\n" for name in files for err in problems.pop(name, ())]
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    if out:
        raise typer.Exit(1)
