"""The ``nixgen`` command line: registers every command module and turns errors into one line.

No traceback reaches the terminal unless ``--debug`` is given.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from nixgen.cli.app import app

COMMAND_MODULES = (
    "nixgen.cli.edit_cmds",
    "nixgen.cli.container_cmds",
    "nixgen.cli.build_cmds",
    "nixgen.cli.eval_cmds",
    "nixgen.cli.check_cmd",
    "nixgen.cli.editor_cmds",
    "nixgen.cli.gen_cmd",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != name:
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``nixgen`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("NIXGEN_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    from nixgen.errors import NixgenError

    _register()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        status = app(args=args, prog_name="nixgen", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:
        sys.stderr.write(f"nixgen: error: {_click_message(exc)}\n")
        sys.exit(exc.exit_code)
    except Abort:
        _interrupted()
    except NixgenError as err:
        if debug:
            raise
        sys.stderr.write(f"nixgen: error: {err}\n")
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        _interrupted()
    except BrokenPipeError:
        sys.exit(1)
    if status == 130:  # typer turns Ctrl-C into this status
        _interrupted()
    sys.exit(status if isinstance(status, int) else 0)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that running Nix processes are stopped on the way out."""


_terminated = False


def _terminate(signum: int, frame: object) -> None:
    global _terminated
    _terminated = True
    raise _Terminated


def _interrupted() -> None:
    """Say that the command was stopped, and exit as a shell expects (130 or 143)."""
    word = "terminated" if _terminated else "interrupted"
    sys.stderr.write(f"nixgen: {word}\n")
    sys.exit(128 + (signal.SIGTERM if _terminated else signal.SIGINT))


def _click_message(exc: ClickException) -> str:
    """One line for a command-line mistake, pointing at the command's --help."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, UsageError) and ctx is not None:
        message += f" (see {ctx.command_path} --help)"
    return message
