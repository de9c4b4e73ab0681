"""The ``nixgen`` console script's entry point.

It imports almost nothing before starting the one Nix process a command line is known to need
(:mod:`nixgen.cli.early_nix`); typer, the commands (loaded on demand, see
:mod:`nixgen.cli.app`) and the error handling (:mod:`nixgen.cli.frame`) come after.

Python's cyclic garbage collector is paused while all that loads: loading creates many
long-lived objects and next to no garbage. Once the command is known, the objects created so
far are frozen out of every later collection (:func:`gc.freeze`), so neither the command's own
collections nor the final one at exit walk them again, and collection resumes.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

_gc_paused = False
_terminated = False


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that running Nix processes are stopped on the way out."""


def _terminate(signum: int, frame: object) -> None:
    global _terminated
    _terminated = True
    raise _Terminated


def terminated() -> bool:
    """Whether the command was stopped by SIGTERM (rather than Ctrl-C)."""
    return _terminated


def resume_gc() -> None:
    """End the pause of :func:`main`: freeze what loading created and collect again."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.freeze()
        gc.enable()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``nixgen`` console script."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("NIXGEN_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    signal.signal(signal.SIGTERM, _terminate)  # before any Nix process is started
    try:
        from nixgen.cli import early_nix

        early_nix.start(args)
        from nixgen.cli.frame import run

        run(args, debug)  # handles Ctrl-C from here on
    except KeyboardInterrupt:
        if debug:
            raise
        from nixgen.cli.frame import interrupted

        interrupted()
    finally:
        resume_gc()
        processes = sys.modules.get("nixgen.nix_process")
        if processes is not None:
            for _ in range(3):  # a second Ctrl-C must not leave an early Nix process running
                try:
                    processes.discard_early()
                    break
                except KeyboardInterrupt:
                    continue
