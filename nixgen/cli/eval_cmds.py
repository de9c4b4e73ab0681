"""``nixgen eval`` and ``nixgen check-syntax``: ask the real Nix what code means, or whether it parses.

``eval`` prints a value as Nix (highlighted on a terminal) or as JSON; arguments reach Nix as
JSON data, never as code. ``check-syntax`` lets Nix's own parser judge every file (one process
when all are valid; tree-sitter picks the likely culprits after a rejection), and falls back to
tree-sitter alone when Nix is not installed.

Both commands declare their options to typer; a mistake on the command line (an unknown
option, a missing or unconvertible value) is reported as one ``nixgen: error:`` line with
exit code 2, like the usage errors the commands raise themselves.
"""

from __future__ import annotations

import sys
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import typer
from typer._click.types import Tuple as PairType
from typer.core import TyperCommand

from nixgen.cli.app import app

if TYPE_CHECKING:
    from typer._click import Context

HELP_NAMES = {"help_option_names": ["-h", "--help"]}
# The value type of a repeatable two-value option (--arg NAME VALUE ...): typer 0.28 rejects a
# list[tuple[str, str]] annotation, so such options are list[tuple] with this click type.
PAIR = PairType([str, str])
NIX_OPTION = typer.Option(
    None, "--option", click_type=PAIR, metavar="NAME VALUE", show_default=False,
    help="Set a Nix option (e.g. --option substituters ''); repeatable.")


class OneLineUsageCommand(TyperCommand):
    """A command whose command-line mistakes become :class:`nixgen.errors.UsageError`."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        from typer._click.exceptions import BadOptionUsage
        from typer._click.exceptions import UsageError as ClickUsageError

        from nixgen.errors import UsageError

        try:
            return super().parse_args(ctx, args)
        except ClickUsageError as exc:
            message = exc.format_message().rstrip(".")
            if isinstance(exc, BadOptionUsage):
                message = _missing_value(ctx, exc.option_name) or message
            raise UsageError(f"{message} (see {ctx.command_path} --help)") from None


def _missing_value(ctx: Context, option: str) -> str | None:
    """The message for an option given without (all of) its values."""
    for param in ctx.command.params:
        if option in getattr(param, "opts", ()):
            if param.nargs == 1:
                return f"{option} needs a value"
            return f"{option} needs {param.nargs} values (NAME VALUE)"
    return None


def _positive_seconds(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"needs a number of seconds above 0, not {value:g}")
    return value


def _arguments(arg: list[tuple[str, str]], argstr: list[tuple[str, str]]) -> dict[str, Any] | None:
    import json

    from nixgen.errors import UsageError

    values: dict[str, Any] = {}
    for name, text in arg:
        try:
            values[name] = json.loads(text)
        except ValueError:
            raise UsageError(
                f"--arg {name}: {text!r} is not JSON (use --argstr {name} VALUE for a string)"
            ) from None
    for name, text in argstr:
        values[name] = text
    return values or None


FUNCTION_MARKER = "<LAMBDA>"


def _functions_as(value: Any, marker: Any) -> Any:
    """``value`` with each function (``nixgen.nix.LAMBDA``) replaced by ``marker``."""
    from nixgen.nix import NixFunction

    if isinstance(value, NixFunction):
        return marker
    if isinstance(value, PurePath) and isinstance(marker, str):  # JSON: the path as a string
        return str(value)
    if isinstance(value, list):
        return [_functions_as(v, marker) for v in value]
    if isinstance(value, dict):
        return {k: _functions_as(v, marker) for k, v in value.items()}
    return value


def show_value(value: Any, *, as_json: bool) -> None:
    """Print an evaluated value: as Nix, where a function shows as ``<LAMBDA>`` (as
    ``nix-instantiate --eval`` prints it), or as JSON, where a function is the string
    ``"<LAMBDA>"`` (JSON has no functions)."""
    if as_json:
        from nixgen.cli.output import print_json

        print_json(_functions_as(value, FUNCTION_MARKER))
        return
    from nixgen.emit import Expr

    _print_nix(_functions_as(value, Expr(FUNCTION_MARKER)))


def _print_nix(value: Any) -> None:
    from nixgen.emit import to_nix

    text = to_nix(value)
    if sys.stdout.isatty():
        from rich.syntax import Syntax

        from nixgen.cli.output import console

        console().print(Syntax(text, "nix", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text + "\n")


@app.command("eval", cls=OneLineUsageCommand, context_settings=HELP_NAMES)
def eval_cmd(
    expr: list[str] | None = typer.Argument(
        None, metavar="EXPR", show_default=False,
        help="The Nix expression to evaluate (quote it as one word)."),
    file: str | None = typer.Option(
        None, "-f", "--file", metavar="FILE",
        help="Evaluate this Nix file instead of EXPR (- reads the code from standard input)."),
    attr: str | None = typer.Option(
        None, "-A", "--attr", metavar="ATTR", help='Select this attribute path (a.b."c.d").'),
    arg: list[tuple] | None = typer.Option(
        None, "--arg", click_type=PAIR, metavar="NAME JSON", show_default=False,
        help="Pass a JSON value to the function (e.g. --arg port 22); repeatable."),
    argstr: list[tuple] | None = typer.Option(
        None, "--argstr", click_type=PAIR, metavar="NAME STRING", show_default=False,
        help="Pass a string to the function; repeatable."),
    include: list[str] | None = typer.Option(
        None, "-I", metavar="PATH", show_default=False,
        help="Add a search path entry for Nix (e.g. -I nixpkgs=/path); repeatable."),
    option: list[tuple] | None = NIX_OPTION,
    timeout: float | None = typer.Option(
        None, "--timeout", metavar="SECONDS", callback=_positive_seconds,
        help="Stop Nix after this many seconds."),
    json_out: bool = typer.Option(
        False, "--json", help='Print the value as JSON (a function as the string "<LAMBDA>").'),
    show_trace: bool = typer.Option(False, "--show-trace", help="Show Nix's trace on errors."),
) -> None:
    """Evaluate a Nix expression or file with the real Nix and print its value.

    Functions are shown as <LAMBDA>, as nix-instantiate --eval does ("<LAMBDA>" with --json).
    Paths print as themselves (a string with --json), never copied to the store.

    \b
    nixgen eval EXPR [OPTIONS]
    nixgen eval -f FILE [-A ATTR] [OPTIONS]
    """
    from pathlib import Path

    from nixgen.errors import FileError, UsageError
    from nixgen.nix import Nix

    words = expr or []
    if file is not None and words:
        raise UsageError("give an expression or -f FILE, not both")
    if file is None and len(words) != 1:
        raise UsageError("give one expression to evaluate (quote it), or -f FILE")
    nix = Nix(search_path=include or (), options=option or (), timeout=timeout,
              show_trace=show_trace)
    args = _arguments(arg or [], argstr or [])

    def traces(line: str) -> None:  # what builtins.trace prints reaches the user, as with Nix
        if line.startswith("trace: "):
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    if file in ("-", "/dev/stdin"):  # Nix's own stdin is not ours: pass the code along
        code = sys.stdin.read()
        if not code.strip():
            raise UsageError("standard input holds no Nix expression")
        value = nix.eval(code, attr=attr, args=args, functions=True, on_stderr_line=traces)
    elif file is not None:
        if not Path(file).exists():
            raise FileError("no such file", file=file)
        value = nix.eval(Path(file), attr=attr, args=args, functions=True,
                         on_stderr_line=traces)
    else:
        value = nix.eval(words[0], attr=attr, args=args, functions=True,
                         on_stderr_line=traces)
    show_value(value, as_json=json_out)


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


@app.command("check-syntax", cls=OneLineUsageCommand, context_settings=HELP_NAMES)
def check_syntax_cmd(
    paths: list[str] | None = typer.Argument(
        None, metavar="FILE|DIRECTORY...", show_default=False,
        help="Files to check; a directory stands for every *.nix file below it."),
    use_nix: bool | None = typer.Option(
        None, "--nix/--no-nix", show_default=False,
        help="Use Nix's parser (default: when Nix is installed)."),
    include: list[str] | None = typer.Option(
        None, "-I", metavar="PATH", show_default=False,
        help="Add a search path entry for Nix; repeatable."),
    option: list[tuple] | None = NIX_OPTION,
) -> None:
    """Check that each FILE (or each *.nix under a DIRECTORY) is valid Nix.

    Errors are printed as file:line:col: message; the exit code is 1 if any file is bad.
    With Nix installed, Nix's own parser judges every file (one process when all are
    valid); without it, tree-sitter does.
    """
    from nixgen.cli.early_nix import expand_paths
    from nixgen.errors import UsageError
    from nixgen.nix import Nix, nix_available

    if not paths:
        raise UsageError("give one or more files (or directories) to check")
    files = expand_paths(paths)
    problems: dict[str, list[Any]] = {}
    if nix_available() if use_nix is None else use_nix:
        nix = Nix(search_path=include or (), options=option or ())
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
