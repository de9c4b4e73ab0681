"""Starting and stopping Nix processes: how nixgen spells a Nix command line, and commands
started early.

Everything else about running Nix (errors, output, timeouts) is :class:`nixgen.nix.Nix`'s.

Commands started early: the command line knows some Nix commands it will run before Python
has loaded the code that runs them (``check-syntax`` parses the files it is given). It starts
such a command at once (:func:`start_early`), so that Nix works while the rest of nixgen
loads, and :meth:`nixgen.nix.Nix.run` with the same argv adopts the running process
(:func:`take_early`) instead of starting another. Only commands without side effects are
started this way; one that no run adopts is stopped by :func:`discard_early`.

An early start must not wait for :mod:`subprocess` (and the modules it loads) to import, so
it uses :func:`os.posix_spawnp` and an :class:`EarlyProcess`, which offers the part of
:class:`subprocess.Popen` that :meth:`~nixgen.nix.Nix.run` and :func:`kill_group` use. This
module therefore imports nothing heavy at its top.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

TYPE_CHECKING = False  # typing's own would import typing, which an early start must not wait for
if TYPE_CHECKING:
    import subprocess

#: The tools that take ``-I`` search path entries.
EVAL_TOOLS = frozenset({"nix-instantiate", "nix-env", "nix-build", "nix-shell"})
#: Seconds a Nix process gets to stop after SIGTERM before it is killed.
KILL_GRACE = 1.0


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


def argv_size(args: Iterable[str]) -> int:
    """Bytes ``args`` take of the system's limit on a command line (each string and pointer)."""
    return sum(len(a.encode("utf-8", "surrogateescape")) + 9 for a in args)


def argv_room(env: Mapping[str, str] | None = None) -> int:
    """Bytes of command line one Nix process is given at most: half the system's limit, less
    the environment (``env``, else this process's); a longer command line fails with
    "Argument list too long"."""
    try:
        limit = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        limit = -1
    if limit <= 0:
        limit = 1 << 17
    environ = os.environ if env is None else env
    room = limit // 2 - argv_size(f"{k}={v}" for k, v in environ.items())
    return max(room, min(1 << 14, limit // 4))


def spawn(argv: list[str], with_input: bool, capture_stdout: bool,
          env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own (so that it can be stopped with its children)."""
    import subprocess

    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if with_input else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes] | EarlyProcess) -> None:
    """Stop the process group: SIGTERM, then SIGKILL (Nix ignores SIGTERM while evaluating)."""
    if proc.poll() is not None:
        return
    import contextlib
    import signal
    import subprocess

    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=KILL_GRACE if sig == signal.SIGTERM else None)
            return
        except subprocess.TimeoutExpired:
            continue


class EarlyProcess:
    """A process started by :func:`start_early`: stdin and stdout are ``/dev/null``, stderr a
    pipe (:attr:`stderr`), in a session of its own, as :func:`spawn` would start it."""

    stdin = None
    stdout = None

    def __init__(self, argv: list[str]) -> None:
        import signal

        self.args = argv
        self.returncode: int | None = None
        read_end, write_end = os.pipe()  # both close on exec; the child's fd 2 is a copy
        try:
            if min(read_end, write_end) <= 2:  # nixgen was started with 0, 1 or 2 closed
                raise OSError("standard file descriptors are closed")
            self.pid = os.posix_spawnp(
                argv[0], argv, os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, write_end, 2),
                    *((os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds()),
                ],
                setsid=True,
                # Python ignores these; the child gets the defaults back, as with Popen
                setsigdef=[signal.SIGPIPE, signal.SIGXFSZ],
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self.stderr = os.fdopen(read_end, "rb")

    def _waitpid(self, flags: int) -> int | None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped already, its status lost: as Popen, call it 0
            self.returncode = 0
            return 0
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code (negative: the signal) if the process has ended, else None."""
        if self.returncode is None:
            self._waitpid(os.WNOHANG)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; :class:`subprocess.TimeoutExpired` after ``timeout`` seconds."""
        if self.returncode is not None:
            return self.returncode
        if timeout is None:
            return self._waitpid(0)  # type: ignore[return-value]
        import time

        deadline = time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                import subprocess

                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
        return self.returncode  # type: ignore[return-value]


def _inherited_fds() -> list[int]:
    """File descriptors above 2 that a child would inherit (Popen closes them too)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:  # the descriptor listdir itself used, closed since
                continue
    return fds


_early: dict[tuple[str, ...], EarlyProcess] = {}


def start_early(argv: Sequence[str | os.PathLike[str]]) -> bool:
    """Start a side-effect-free Nix command now, for a later ``Nix.run`` of the same argv.

    Its output is discarded; only a run without an environment of its own, without input
    and with ``capture_stdout=False`` adopts it. Returns False when the command could not be
    started (the later run then starts it itself and reports the error).
    """
    key = tuple(os.fspath(a) for a in argv)
    if key in _early:
        return True
    try:
        _early[key] = EarlyProcess(list(key))
    except (OSError, ValueError, TypeError, NotImplementedError):
        return False
    return True


def take_early(argv: Sequence[str]) -> EarlyProcess | None:
    """The process started early for exactly ``argv``, now owned by the caller."""
    if not _early:
        return None
    return _early.pop(tuple(argv), None)


def discard_early() -> None:
    """Stop every command started early that no run adopted."""
    import contextlib

    while _early:
        _, proc = _early.popitem()
        kill_group(proc)
        with contextlib.suppress(OSError):
            proc.stderr.close()
