"""The frame around every command: SIGTERM and Ctrl-C handling, and each error as one line.

No traceback reaches the terminal unless ``--debug`` is given.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typer._click.exceptions import ClickException


def run(args: list[str], debug: bool) -> None:
    """Run the command ``nixgen ARGS`` and exit with its status."""
    try:
        _run(args, debug)
    except KeyboardInterrupt:  # while typer and the command were still loading
        if debug:
            raise
        interrupted()


def _run(args: list[str], debug: bool) -> None:
    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    from nixgen.cli.app import app
    from nixgen.errors import NixgenError

    try:
        status = app(args=args, prog_name="nixgen", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:
        sys.stderr.write(f"nixgen: error: {_click_message(exc)}\n")
        sys.exit(exc.exit_code)
    except Abort:
        interrupted()
    except NixgenError as err:
        if debug:
            raise
        sys.stderr.write(f"nixgen: error: {err}\n")
        trace = getattr(err, "trace", "")
        if trace:  # asked for with --show-trace: Nix's whole report follows the one line
            sys.stderr.write("".join(f"  {line}\n" for line in trace.splitlines()))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        interrupted()
    except BrokenPipeError:
        sys.exit(1)
    if status == 130:  # typer turns Ctrl-C into this status
        interrupted()
    sys.exit(status if isinstance(status, int) else 0)


def interrupted() -> None:
    """Say that the command was stopped, and exit as a shell expects (130 or 143)."""
    from nixgen.cli import terminated

    word = "terminated" if terminated() else "interrupted"
    sys.stderr.write(f"nixgen: {word}\n")
    sys.exit(128 + (signal.SIGTERM if terminated() else signal.SIGINT))


def _click_message(exc: ClickException) -> str:
    """One line for a command-line mistake, pointing at the command's --help."""
    from typer._click.exceptions import UsageError

    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, UsageError) and ctx is not None:
        message += f" (see {ctx.command_path} --help)"
    return message
