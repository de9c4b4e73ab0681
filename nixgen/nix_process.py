"""Starting and stopping Nix processes: how nixgen spells a Nix command line, and commands
started early.

Kept free of heavy imports, so that the command line can start a Nix process within a few
milliseconds of Python's start (see :mod:`nixgen.cli.early_nix`). Everything else about
running Nix (errors, output, timeouts) is :class:`nixgen.nix.Nix`'s.

Commands started early: the command line knows some Nix commands it will run before Python
has loaded the code that runs them (``check-syntax`` parses the files it is given). It starts
such a command at once, so that Nix works while the rest of nixgen loads, and
:meth:`nixgen.nix.Nix.run` with the same argv adopts the running process instead of starting
another. Only commands without side effects are started this way; one that no run adopts is
stopped by :func:`discard_early`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence

#: The tools that take ``-I`` search path entries.
EVAL_TOOLS = frozenset({"nix-instantiate", "nix-env", "nix-build", "nix-shell"})
#: Seconds a Nix process gets to stop after SIGTERM before it is killed.
KILL_GRACE = 1.0

_early: dict[tuple[tuple[str, ...], bool], subprocess.Popen[bytes]] = {}


def command_argv(
    tool: str,
    args: Iterable[object],
    *,
    search_path: Sequence[str] = (),
    options: Sequence[tuple[str, str]] = (),
    show_trace: bool = False,
) -> list[str]:
    """``tool``'s argv: ``-I`` entries (evaluating tools only), ``--option`` pairs, then ``args``."""
    argv = [tool]
    if tool in EVAL_TOOLS:
        for entry in search_path:
            argv += ["-I", entry]
    for name, value in options:
        argv += ["--option", name, value]
    if show_trace:
        argv.append("--show-trace")
    argv.extend(str(a) for a in args)
    return argv


def parse_argv(paths: Iterable[str | os.PathLike[str]], *, search_path: Sequence[str] = (),
               options: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The argv with which Nix's parser judges the files ``paths`` (made absolute) at once."""
    return command_argv("nix-instantiate", ["--parse", *(os.path.abspath(p) for p in paths)],
                        search_path=search_path, options=options)


def spawn(argv: list[str], with_input: bool, capture_stdout: bool,
          env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own (so that it can be stopped with its children)."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if with_input else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group: SIGTERM, then SIGKILL (Nix ignores SIGTERM while evaluating)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=KILL_GRACE if sig == signal.SIGTERM else None)
            return
        except subprocess.TimeoutExpired:
            continue


def start_early(argv: Sequence[str], *, capture_stdout: bool = True) -> bool:
    """Start a side-effect-free Nix command now, for a later ``Nix.run`` of the same argv.

    Adopted only by a runner without an environment of its own, with no input, and with the
    same ``capture_stdout``. Returns False when the command could not be started (the later
    run then starts it itself and reports the error).
    """
    key = (tuple(os.fspath(a) for a in argv), capture_stdout)  # type: ignore[arg-type]
    if key in _early:
        return True
    try:
        _early[key] = spawn(list(key[0]), False, capture_stdout, None)
    except (OSError, ValueError):
        return False
    return True


def take_early(argv: list[str], capture_stdout: bool) -> subprocess.Popen[bytes] | None:
    """The process started early for exactly this command, now owned by the caller."""
    if not _early:
        return None
    return _early.pop((tuple(argv), capture_stdout), None)


def discard_early() -> None:
    """Stop every command started early that no run adopted."""
    while _early:
        _, proc = _early.popitem()
        kill_group(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
