"""The one place that runs Nix: argv lists in, Python values or clear errors out.

Every Nix command nixgen runs goes through :meth:`Nix.run`. Values never become Nix code: they
reach the ``.nix`` helpers shipped in ``nixgen/nixexprs`` as ``--argstr NAME <json>`` and are
decoded there with ``builtins.fromJSON``. A failing command raises
:class:`~nixgen.errors.NixCommandError` carrying the argv, the exit code or signal, Nix's own
message and the file:line:col that message names.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import signal as signal_module
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from nixgen.errors import (
    FileError,
    NixCommandError,
    NixNotFoundError,
    NixSyntaxError,
    ValidationError,
)
from nixgen.nix_process import (
    argv_room,
    argv_size,
    command_argv,
    kill_group,
    spawn,
    take_early,
)

NIXEXPRS = Path(__file__).resolve().parent / "nixexprs"
INSTALL_HINT = "apt-get install -y nix-bin"
MAX_MESSAGE_LINES = 25

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
# "at /path/file.nix:12:5:" (2.4+), "at /path/file.nix:12:5" and ", at /path:12:5" (older).
_LOCATION = re.compile(
    r"(?:^|[\s,(])at (?P<file>«[^»]*»|/[^\n]*?|[^\s:]+):(?P<line>\d+):(?P<col>\d+)(?::|\)|,|\s|$)"
)
_GENERATION = re.compile(
    r"^\s*(?P<number>\d+)\s+(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*(?P<current>\(current\))?"
)


@dataclass(frozen=True)
class Generation:
    """One generation of a Nix profile."""

    number: int
    date: datetime
    current: bool
    path: str | None = None  # the store path this generation points at


@dataclass(frozen=True)
class NixMessage:
    """Nix's error message, cleaned, and the place it names."""

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None


def nix_available() -> bool:
    """True when the Nix command-line tools are on PATH."""
    return shutil.which("nix-instantiate") is not None


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour and cursor escapes."""
    return _ANSI.sub("", text)


def parse_nix_message(stderr: str) -> NixMessage:
    """Pick Nix's error out of its stderr: the ``error:`` text and the location it names.

    Progress lines before the error are dropped; the code frame Nix draws is dropped; locations
    in nixgen's own helper files are not reported (they say nothing to a user).
    """
    lines = strip_ansi(stderr).replace("\r\n", "\n").split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("error:")), None)
    if start is None:
        meaningful = [ln.rstrip() for ln in lines if ln.strip()]
        return NixMessage("\n".join(meaningful[-MAX_MESSAGE_LINES:]) or "(no message)")
    first = lines[start].lstrip()[len("error:"):].strip()
    body = [first] if first else []
    rest = lines[start + 1:]
    for ln in rest:
        stripped = ln.strip()
        if not stripped:
            if body:
                break
            continue
        if _LOCATION.match(" " + stripped) or stripped.startswith("(use '--show-trace'"):
            break
        if stripped.startswith("error:"):  # several errors in a row (e.g. --keep-going)
            stripped = stripped[len("error:"):].strip()
        body.append(stripped)
        if len(body) >= MAX_MESSAGE_LINES:
            break
    message = "\n".join(body) or "(no message)"
    # Where the error is: the first frame line of its own (`at FILE:L:C:`) after the message;
    # a place named inside the message ("already defined at FILE:1:3") is another place.
    framed = _first_location(ln for ln in lines[start + 1:] if ln.lstrip().startswith("at "))
    found = framed or _first_location(lines[start:])
    file = line = col = None
    if found is not None:
        file, line, col = found
    if framed is None:
        # The older one-line form puts ", at FILE:L:C" inside the message itself.
        message = re.sub(r",? at (?:«[^»]*»|/\S*?):\d+:\d+\s*$", "", message,
                         flags=re.M).strip()
    return NixMessage(message or "(no message)", file, line, col)


def _first_location(lines: Iterable[str]) -> tuple[str | None, int, int] | None:
    """The first ``at FILE:L:C`` in ``lines`` outside nixgen's helpers (file None: «string»)."""
    for ln in lines:
        m = _LOCATION.search(ln)
        if not m:
            continue
        name = m.group("file").strip()
        if name.startswith(str(NIXEXPRS)):
            continue
        return (None if name.startswith("«") else name), int(m.group("line")), int(m.group("col"))
    return None


def split_attr_path(attr: str) -> list[str]:
    """``a.b."c.d"`` -> ``["a", "b", "c.d"]`` (the syntax of ``-A``; quotes protect dots)."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(attr):
        ch = attr[i]
        if quoted:
            if ch == "\\" and i + 1 < len(attr):
                i += 1
                cur.append(attr[i])
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    if attr == "":
        return []
    return parts


def _abs(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


class Nix:
    """A configured way of running the Nix tools (search path, options, timeout, traces)."""

    def __init__(
        self,
        *,
        search_path: Sequence[str] = (),
        options: Sequence[tuple[str, str]] = (),
        timeout: float | None = None,
        show_trace: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.search_path = list(search_path)
        self.options = [(str(n), str(v)) for n, v in options]
        self.timeout = timeout
        self.show_trace = show_trace
        self.env = dict(env) if env is not None else None
        self._running: set[Any] = set()  # processes of this runner now running (any thread)
        self._stopping = False

    def stop(self) -> None:
        """Stop every process this runner is running, in any thread, and start no more.

        For the owner of worker threads that is interrupted (Ctrl-C reaches the main thread
        only, and Nix runs in a session of its own, out of the terminal's reach).
        """
        self._stopping = True
        for proc in list(self._running):
            kill_group(proc)

    # -- commands ---------------------------------------------------------------------------

    def command(self, tool: str, *args: str) -> list[str]:
        """The argv for ``tool args…`` with this runner's ``-I`` entries and ``--option`` pairs."""
        return command_argv(tool, args, search_path=self.search_path, options=self.options,
                            show_trace=self.show_trace)

    def _environ(self) -> dict[str, str] | None:
        if self.env is None:
            return None
        return {**os.environ, **self.env}

    def run(
        self,
        argv: list[str],
        *,
        input: bytes | None = None,
        timeout: float | None = None,
        on_stderr_line: Callable[[str], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        capture_stdout: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run one Nix command; the only place nixgen starts a process.

        ``on_stderr_line`` gets each stderr line (no newline, colours stripped) as Nix prints
        it; ``on_start`` gets the process id; ``capture_stdout=False`` discards stdout. Raises :class:`NixNotFoundError` when the tool is
        missing and :class:`NixCommandError` on a non-zero exit, a signal or a timeout.
        """
        if isinstance(argv, str):  # pragma: no cover - a programming error
            raise TypeError("argv must be a list, never a shell string")
        argv = [os.fspath(a) for a in argv]
        limit = self.timeout if timeout is None else timeout
        if self._stopping:
            raise NixCommandError(f"{os.path.basename(argv[0])} was not run: stopping",
                                  argv=argv)
        out_chunks: list[bytes] = []
        err_lines: list[bytes] = []

        def read_stdout() -> None:
            if proc.stdout is not None:
                out_chunks.append(proc.stdout.read())

        def read_stderr() -> None:
            assert proc.stderr is not None
            for raw in iter(proc.stderr.readline, b""):
                err_lines.append(raw)
                if on_stderr_line is not None:
                    text = strip_ansi(raw.decode("utf-8", "replace")).rstrip("\r\n")
                    with contextlib.suppress(Exception):
                        on_stderr_line(text)

        readers = [threading.Thread(target=read_stdout, daemon=True),
                   threading.Thread(target=read_stderr, daemon=True)]
        timed_out = False
        adoptable = input is None and not capture_stdout and self.env is None
        try:
            proc = (take_early(argv) if adoptable else None) or spawn(
                argv, input is not None, capture_stdout, self._environ())
        except FileNotFoundError as exc:
            raise NixNotFoundError(
                f"Nix is not installed: {INSTALL_HINT} ({argv[0]} not found on PATH)",
                argv=argv,
            ) from exc
        except PermissionError as exc:
            raise NixCommandError(f"cannot run {argv[0]}: {exc}", argv=argv) from exc
        except ValueError as exc:  # a NUL byte in an argument
            raise ValidationError(f"cannot pass this to Nix: {exc}") from exc
        except OSError as exc:  # e.g. "Argument list too long"
            raise NixCommandError(f"cannot run {argv[0]}: {exc.strerror or exc}",
                                  argv=argv) from exc
        try:  # from here on, any way out stops the process first
            self._running.add(proc)
            if self._stopping:  # stopped while this one was starting
                raise NixCommandError(f"{os.path.basename(argv[0])} was stopped", argv=argv)
            if on_start is not None:
                on_start(proc.pid)
            for t in readers:
                t.start()
            if input is not None:
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(input)
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(proc)
        except BaseException:
            kill_group(proc)
            raise
        finally:
            self._running.discard(proc)
            for t in readers:
                if t.ident is not None:  # started
                    t.join(timeout=10)
        stdout = b"".join(out_chunks)
        stderr = b"".join(err_lines)
        code = proc.returncode
        completed = subprocess.CompletedProcess(argv, code, stdout, stderr)
        err_text = strip_ansi(stderr.decode("utf-8", "replace"))
        tool = os.path.basename(argv[0])
        if timed_out:
            raise NixCommandError(
                f"{tool} timed out after {_seconds(limit)} s and was stopped",
                argv=argv, returncode=code, stderr=err_text,
            )
        if code < 0:
            signum = -code
            raise NixCommandError(
                f"Nix crashed: {tool} was killed by signal {signum} ({_signame(signum)}); "
                "this is not an evaluation error",
                argv=argv, returncode=code, signal=signum, stderr=err_text,
            )
        if code != 0:
            msg = parse_nix_message(err_text)
            col = msg.col
            if msg.file is not None and msg.line is not None and col is not None:
                with contextlib.suppress(OSError):
                    col = char_column(Path(msg.file).read_bytes(), msg.line, col)
            raise NixCommandError(
                msg.message, argv=argv, returncode=code, stderr=err_text,
                trace=_user_trace(err_text) if "--show-trace" in argv else "",
                file=msg.file, line=msg.line, col=col,
            )
        return completed

    # -- parsing ----------------------------------------------------------------------------

    def parse_check(self, text_or_path: str | bytes | os.PathLike[str], *,
                    file: str | None = None) -> None:
        """Let Nix's parser judge a text (str/bytes) or a file (Path); NixSyntaxError if bad."""
        if isinstance(text_or_path, str | bytes):
            data = text_or_path.encode() if isinstance(text_or_path, str) else text_or_path
            argv = self.command("nix-instantiate", "--parse", "-")
            try:
                self.run(argv, input=data)
            except NixCommandError as err:
                if not _rejected(err):
                    raise
                raise _syntax_error(err, file, data) from err
            return
        path = _abs(text_or_path)
        try:
            self.run(self.command("nix-instantiate", "--parse", path), capture_stdout=False)
        except NixCommandError as err:
            if not _rejected(err):
                raise
            raise _syntax_error(err, None, None) from err

    def parse_command(self, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        """The argv with which Nix's parser judges the files ``paths`` (made absolute)."""
        return self.command("nix-instantiate", "--parse", *(_abs(p) for p in paths))

    def parse_check_many(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        suspect: Callable[[str], bool] | None = None,
        workers: int = 4,
    ) -> list[NixSyntaxError]:
        """Parse many files with as few Nix processes as possible (one when all are valid and
        their names fit one command line; otherwise one per part, in parallel).

        Nix stops at the first file it rejects. After a first rejection, ``suspect(name)``
        (e.g. a quick tree-sitter check) picks the files likely to fail among the rest: each
        is judged in a process of its own; the others are split into ``workers`` batches, all
        judged in parallel, each resuming after any file Nix rejects. Errors come back in the
        order of ``paths``, naming the files as given.
        """
        names = [os.fspath(p) for p in paths]
        files = [_abs(p) for p in names]
        found: dict[int, NixSyntaxError] = {}
        workers = max(1, workers)
        parts = self._fitting(files, list(range(len(files))))
        if len(parts) <= 1:
            rests = [self._parse_batch(files, part, found, stop_after_first=True)
                     for part in parts]
        else:  # more files than one command line holds: several processes from the start
            rests = self._in_parallel(workers, [
                partial(self._parse_batch, files, part, found, stop_after_first=True)
                for part in parts])
        doubtful: list[int] = []
        others: list[int] = []
        for rest in rests:
            if isinstance(rest, _Unattributed):
                doubtful += rest
                continue
            for i in rest:
                (doubtful if suspect is not None and suspect(names[i]) else others).append(i)
        if doubtful or others:
            size = max(1, -(-len(others) // workers))
            chunks = [chunk for k in range(0, len(others), size)
                      for chunk in self._fitting(files, others[k:k + size])]
            singles = self._in_parallel(workers, [
                *(partial(self._parse_one, files[i]) for i in doubtful),
                *(partial(self._parse_batch, files, chunk, found) for chunk in chunks)])
            for i, one in zip(doubtful, singles, strict=False):
                if one is not None:
                    found[i] = one
        return [_renamed(found[i], names[i]) for i in sorted(found)]

    def _in_parallel(self, workers: int, jobs: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run ``jobs`` on up to ``workers`` threads; their results, in order.

        When the caller is interrupted (Ctrl-C reaches the main thread only) or a job fails,
        no queued job starts and every Nix process still running is stopped before the
        exception goes on.
        """
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        pool = ThreadPoolExecutor(max(1, min(workers, len(jobs))))
        stopped = False
        try:
            futures = [pool.submit(job) for job in jobs]
            wait(futures, return_when=FIRST_EXCEPTION)  # a failure ends the wait at once
            for future in futures:
                if future.done() and future.exception() is not None:
                    future.result()  # raise it now, not after the jobs before it end
            return [future.result() for future in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            stopped = not self._stopping
            self.stop()
            raise
        finally:
            pool.shutdown(wait=True)
            if stopped:
                self._stopping = False  # stopped for this call only

    def _fitting(self, files: list[str], indices: list[int]) -> list[list[int]]:
        """``indices`` in order, cut into parts whose parse command fits one command line."""
        room = argv_room(self._environ()) - argv_size(self.parse_command([]))
        parts: list[list[int]] = []
        used = 0
        for i in indices:
            size = argv_size([files[i]])
            if not parts or used + size > room:
                parts.append([])
                used = 0
            parts[-1].append(i)
            used += size
        return parts

    def _parse_batch(self, files: list[str], pending: list[int], found: dict[int, NixSyntaxError],
                     *, stop_after_first: bool = False) -> list[int]:
        """Parse ``files[pending]`` in one process, resuming after each rejected file.

        Records errors in ``found``; returns what is left unjudged (only with
        ``stop_after_first``, after the first rejection).
        """
        while pending:
            batch = [files[i] for i in pending]
            try:
                self.run(self.parse_command(batch), capture_stdout=False)
                return []
            except NixCommandError as err:
                if not _rejected(err):
                    raise
                index = _failed_index(batch, err)
                if index is None:  # not attributable to one file: judge each on its own
                    if stop_after_first:
                        return _Unattributed(pending)
                    for i in pending:
                        one = self._parse_one(files[i])
                        if one is not None:
                            found[i] = one
                    return []
                found[pending[index]] = _syntax_error(err, batch[index], None)
                pending = pending[index + 1:]
                if stop_after_first:
                    return pending
        return []

    def _parse_one(self, path: str) -> NixSyntaxError | None:
        try:
            self.parse_check(Path(path))
        except NixSyntaxError as err:
            return err
        return None

    # -- evaluation -------------------------------------------------------------------------

    def eval(
        self,
        expr_or_file: str | os.PathLike[str],
        *,
        attr: str | Sequence[str] | None = None,
        args: Mapping[str, object] | None = None,
        strict: bool = True,
        read_write: bool = False,
        timeout: float | None = None,
        functions: bool = False,
        on_stderr_line: Callable[[str], None] | None = None,
    ) -> object:
        """Evaluate Nix code (a ``str``) or a file (a ``Path``) to a Python value (via JSON).

        ``attr`` selects an attribute path (``"a.b"`` or a list of names); a function met on
        the way is called so that it can be selected from. ``args`` (JSON data) are passed to
        those functions and to the final value when it is a function (``args={}``: call it
        with its defaults). ``read_write`` lets the evaluation write ``.drv`` files; ``timeout``
        overrides the runner's own for this call. ``functions``: a function in the value comes
        back as :data:`LAMBDA` instead of failing (JSON cannot hold one), and a path as a
        :class:`~pathlib.PurePosixPath` of itself (without it, Nix's JSON copies the path to
        the store and gives the store path). ``on_stderr_line`` gets each line Nix prints on
        stderr as it prints it (``builtins.trace`` output, warnings).
        """
        mode = ["--eval", "--json"]
        if strict:
            mode.insert(1, "--strict")
        if read_write:
            mode.append("--read-write-mode")
        path_list = (split_attr_path(attr) if isinstance(attr, str) else list(attr or []))
        path_list = [str(_jsonable(str(name))) for name in path_list]
        plain = isinstance(expr_or_file, str) and not expr_or_file.startswith("-")
        if plain and not path_list and args is None and not functions:
            # Nix has no end-of-options marker here: code starting with "-" goes via --arg.
            argv = self.command("nix-instantiate", *mode, "-E", expr_or_file)
            return _json(self.run(argv, timeout=timeout, on_stderr_line=on_stderr_line))
        helper = str(NIXEXPRS / "eval.nix")
        data_args = ["--argstr", "attrPath", json.dumps(path_list),
                     "--argstr", "args", json.dumps(_jsonable(args or {})),
                     "--argstr", "hasArgs", json.dumps(args is not None)]
        if functions:
            data_args += ["--argstr", "printable", "true"]
        if isinstance(expr_or_file, str):
            # The user's own code, parsed by Nix as an expression of its own.
            source = ["--arg", "value", expr_or_file]
        else:
            source = ["--argstr", "file", json.dumps(_abs(expr_or_file))]
        argv = self.command("nix-instantiate", *mode, helper, *source, *data_args)
        value = _json(self.run(argv, timeout=timeout, on_stderr_line=on_stderr_line))
        return decode_printable(value) if functions else value

    def eval_helper(self, helper: str, attr: str | None = None, *, read_write: bool = False,
                    **json_args: object) -> object:
        """Evaluate ``nixgen/nixexprs/<helper>.nix`` with ``json_args`` as JSON ``--argstr``s."""
        argv = self.helper_command(helper, attr, read_write=read_write, **json_args)
        return _json(self.run(argv))

    def helper_command(self, helper: str, attr: str | None = None, *, read_write: bool = False,
                       **json_args: object) -> list[str]:
        """The argv :meth:`eval_helper` runs."""
        path = NIXEXPRS / (helper if helper.endswith(".nix") else helper + ".nix")
        if not path.is_file():
            raise NixCommandError(f"no such nixgen helper: {path.name}")
        args = ["--eval", "--strict", "--json"]
        if read_write:
            args.append("--read-write-mode")
        args.append(str(path))
        if attr:
            args += ["-A", attr]
        for name, value in json_args.items():
            args += ["--argstr", name, json.dumps(_jsonable(value))]
        return self.command("nix-instantiate", *args)

    # -- building ---------------------------------------------------------------------------

    def instantiate(
        self,
        file: str | os.PathLike[str],
        *,
        attr: str | None = None,
        argstrs: Mapping[str, str] | None = None,
        add_root: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """``nix-instantiate FILE [-A ATTR] [--argstr …]``: the store derivations (.drv paths)."""
        target = file if isinstance(file, str) and file.startswith("<") else _abs(file)
        args: list[str] = [target]
        if attr:
            args += ["-A", attr]
        for name, value in (argstrs or {}).items():
            args += ["--argstr", name, value]
        if add_root is not None:
            args += ["--add-root", _abs(add_root), "--indirect"]
        proc = self.run(self.command("nix-instantiate", *args))
        return _lines(proc.stdout)

    def realise(
        self,
        drvs: Sequence[str],
        *,
        jobs: int | None = None,
        keep_going: bool = False,
        on_line: Callable[[str], None] | None = None,
    ) -> list[str]:
        """``nix-store --realise DRVS``: build them (in parallel), return the output paths."""
        if not drvs:
            return []
        argv = self.realise_command(drvs, jobs=jobs, keep_going=keep_going)
        return _lines(self.run(argv, on_stderr_line=on_line).stdout)

    def realise_command(
        self, drvs: Sequence[str], *, jobs: int | None = None, keep_going: bool = False
    ) -> list[str]:
        """The argv :meth:`realise` runs."""
        args = ["--realise", *drvs]
        if jobs is not None:
            args += ["--max-jobs", str(jobs)]
        if keep_going:
            args.append("--keep-going")
        return self.command("nix-store", *args)

    def requisites(self, paths: Sequence[str]) -> list[str]:
        """``nix-store --query --requisites PATHS``: their closure (for a ``.drv``, every
        derivation it needs, itself included)."""
        if not paths:
            return []
        return _lines(self.run(self.command("nix-store", "--query", "--requisites",
                                            *paths)).stdout)

    # -- profiles ---------------------------------------------------------------------------

    def set_profile(self, profile: str | os.PathLike[str], store_path: str) -> None:
        """Make ``profile`` point at ``store_path`` (a new generation): ``nix-env --set``."""
        profile = Path(_abs(profile))
        try:
            profile.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            reason = err.strerror or str(err)
            if isinstance(err, FileExistsError):
                reason = os.strerror(errno.ENOTDIR)
            raise FileError(f"cannot create the profile folder: {reason}",
                            file=profile.parent) from err
        self.run(self.command("nix-env", "-p", str(profile), "--set", store_path))

    def set_profiles(
        self,
        pairs: Sequence[tuple[str | os.PathLike[str], str]],
        *,
        workers: int = 4,
    ) -> None:
        """``nix-env --set`` for many profiles, several ``nix-env`` processes at a time.

        Each profile is set by the real ``nix-env``, which takes the profile's lock, adds the
        generation and registers its garbage-collector root. On the first failure, or Ctrl-C,
        no further ``nix-env`` starts; those running are let finish (a profile is never left
        half-set) and the error goes on.
        """
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        if len(pairs) <= 1:
            for profile, store_path in pairs:
                self.set_profile(profile, store_path)
            return
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(pairs))))
        try:
            futures = [pool.submit(self.set_profile, p, s) for p, s in pairs]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.result()
        except BaseException:
            with signals_held():  # a second Ctrl-C must not cut this wait short
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def current_generation(self, profile: str | os.PathLike[str]) -> int | None:
        """The number of the generation ``profile`` points at now (None: no such profile)."""
        path = Path(_abs(profile))
        try:
            target = os.readlink(path)
        except OSError:
            return None
        return _generation_number(path, os.path.basename(target))

    def restore_profiles(self, before: Mapping[Path, int | None],
                         changed: Iterable[Path]) -> list[str]:
        """Point each of the ``changed`` profiles back at its generation in ``before``.

        A profile that did not exist before is removed again (its link and the generation link
        it points at). Returns one line per profile that could not be put back.
        """
        problems = []
        for profile in changed:
            number = before.get(profile)
            try:
                if number is not None:
                    self.switch_generation(profile, number)
                    continue
                target = os.readlink(profile)
                link = profile.with_name(os.path.basename(target))
                if _generation_number(profile, link.name) is not None:
                    link.unlink(missing_ok=True)
                profile.unlink()
            except (NixCommandError, OSError) as err:
                problems.append(f"{profile}: {err}")
        return problems

    def profile_target(self, profile: str | os.PathLike[str]) -> str | None:
        """The store path ``profile`` points at now, or None when there is no such profile."""
        return _store_target(Path(profile))

    def generations(self, profile: str | os.PathLike[str]) -> list[Generation]:
        """The generations of ``profile`` (``nix-env --list-generations``), oldest first."""
        profile = Path(_abs(profile))
        if not os.path.lexists(profile):
            return []
        proc = self.run(self.command("nix-env", "-p", str(profile), "--list-generations"))
        result = []
        for ln in proc.stdout.decode("utf-8", "replace").splitlines():
            m = _GENERATION.match(ln)
            if not m:
                continue
            number = int(m.group("number"))
            link = profile.with_name(f"{profile.name}-{number}-link")
            result.append(Generation(
                number=number,
                date=datetime.strptime(m.group("date"), "%Y-%m-%d %H:%M:%S"),
                current=bool(m.group("current")),
                path=_store_target(link),
            ))
        return result

    def rollback(self, profile: str | os.PathLike[str]) -> None:
        """Point ``profile`` back at its previous generation (``nix-env --rollback``).

        NixCommandError naming the profile when its current generation is the oldest.
        """
        try:
            self.run(self.command("nix-env", "-p", _abs(profile), "--rollback"))
        except NixCommandError as err:
            m = re.search(r"no profile version older than the current \((\d+)\)", err.message)
            if m is None or not _rejected(err):
                raise
            raise NixCommandError(
                f"generation {m.group(1)} is the oldest of this profile: nothing to roll back to",
                argv=err.argv, returncode=err.returncode, stderr=err.stderr,
                file=os.fspath(profile)) from err

    def switch_generation(self, profile: str | os.PathLike[str], number: int) -> None:
        """Point ``profile`` at generation ``number`` (``nix-env --switch-generation``)."""
        self.run(self.command("nix-env", "-p", _abs(profile), "--switch-generation",
                              str(int(number))))


# -- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM (in the main thread) until the block ends; then they arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal_module.SIGINT, signal_module.SIGTERM}
    previous = signal_module.pthread_sigmask(signal_module.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal_module.pthread_sigmask(signal_module.SIG_SETMASK, previous)


def _generation_number(profile: Path, link_name: str) -> int | None:
    """N when ``link_name`` is the generation link ``PROFILE-N-link`` of ``profile``."""
    m = re.fullmatch(re.escape(profile.name) + r"-(\d+)-link", link_name)
    return int(m.group(1)) if m else None


def _user_trace(err_text: str) -> str:
    """Nix's report with ``--show-trace``, less the frames inside nixgen's own helpers."""
    blocks: list[list[str]] = [[]]
    for line in err_text.strip().splitlines():
        if line.lstrip().startswith("\u2026 "):  # "… while evaluating …" starts a frame
            blocks.append([])
        blocks[-1].append(line)
    helpers = str(NIXEXPRS)
    kept = [b for i, b in enumerate(blocks) if i == 0 or not any(helpers in ln for ln in b)]
    return "\n".join(ln for b in kept for ln in b).strip()


def _seconds(limit: float | None) -> str:
    if limit is None:
        return "?"
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def _signame(signum: int) -> str:
    try:
        return signal_module.Signals(signum).name
    except ValueError:
        return "unknown signal"


class NixFunction:
    """A function inside an evaluated value; Nix prints it as ``<LAMBDA>``."""

    __slots__ = ()
    text = "<LAMBDA>"

    def __repr__(self) -> str:
        return self.text


LAMBDA = NixFunction()


def decode_printable(value: object) -> object:
    """A value from ``nixexprs/values.nix``'s ``printable`` with its markers decoded:
    functions become :data:`LAMBDA`, paths :class:`~pathlib.PurePosixPath`, wrapped attribute
    sets their plain selves."""
    if isinstance(value, list):
        return [decode_printable(v) for v in value]
    if isinstance(value, dict):
        marker = value.get("__nixgen")
        if marker == "lambda" and len(value) == 1:
            return LAMBDA
        if marker == "path" and len(value) == 2 and isinstance(value.get("path"), str):
            return PurePosixPath(value["path"])
        if marker == "attrs" and isinstance(value.get("attrs"), dict):
            value = value["attrs"]
        return {k: decode_printable(v) for k, v in value.items()}
    return value


def _json(proc: subprocess.CompletedProcess[bytes]) -> object:
    text = proc.stdout.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NixCommandError(f"Nix printed something that is not JSON: {text[:200]!r}",
                              argv=list(proc.args)) from exc


def _jsonable(value: object) -> object:
    """Python data as JSON-ready data; paths become strings, tuples lists."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        if "\0" in value:
            raise ValidationError(f"Nix strings cannot hold NUL characters: {value[:40]!r}")
        return value
    if isinstance(value, Mapping):
        return {_jsonable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not (
            -(1 << 63) <= value < (1 << 63)):
        raise ValidationError(f"Nix integers are 64-bit: {value} is out of their range")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"Nix has no value for the float {value}")
    return value


def _lines(data: bytes) -> list[str]:
    return [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]


def _store_target(link: Path) -> str | None:
    """Follow symlinks from ``link`` until they reach the Nix store; None if absent."""
    store = os.environ.get("NIX_STORE_DIR", "/nix/store").rstrip("/") + "/"
    current = Path(_abs(link))
    for _ in range(40):
        if not os.path.islink(current):
            text = str(current)
            if text.startswith(store) and os.path.lexists(text):
                return store + text[len(store):].split("/", 1)[0]
            return None
        target = os.readlink(current)
        if target.startswith(store):
            found = store + target[len(store):].split("/", 1)[0]
            return found if os.path.lexists(found) else None
        current = Path(os.path.normpath(current.parent / target))
    return None


def char_column(data: bytes, line: int, byte_col: int) -> int:
    """Nix's 1-based column (counted in bytes) as a 1-based column counted in characters."""
    lines = data.split(b"\n")
    if not 1 <= line <= len(lines) or byte_col < 1:
        return byte_col
    return len(lines[line - 1][: byte_col - 1].decode("utf-8", "replace")) + 1


def _syntax_error(err: NixCommandError, file: str | None, data: bytes | None) -> NixSyntaxError:
    if err.file is None and data is not None and err.line is not None and err.col is not None:
        err.col = char_column(data, err.line, err.col)   # «stdin»: run() could not read it
    name = err.file or file
    source_line = None
    if err.line is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError, IndexError):
            raw = data if data is not None else Path(err.file or file or "").read_bytes()
            source_line = raw.decode("utf-8").splitlines()[err.line - 1]
    if err.file is None and file is not None:
        name = file
    return NixSyntaxError(err.message, file=name, line=err.line, col=err.col,
                          source_line=source_line)


def _rejected(err: NixCommandError) -> bool:
    """Nix ran and said no (as opposed to: missing, crashed, stopped after a timeout)."""
    return (not isinstance(err, NixNotFoundError) and err.signal is None
            and err.returncode is not None and err.returncode > 0)


class _Unattributed(list):  # type: ignore[type-arg]
    """Files left unjudged by a failure Nix did not tie to one of them."""


def _renamed(err: NixSyntaxError, name: str) -> NixSyntaxError:
    """The same error, naming the file as the caller named it."""
    return NixSyntaxError(err.message, file=name, line=err.line, col=err.col,
                          source_line=err.source_line)


def _failed_index(batch: list[str], err: NixCommandError) -> int | None:
    """Which file of ``batch`` Nix rejected, from the location or the paths in its message."""
    candidates: dict[str, int] = {}
    for i, f in enumerate(batch):
        for form in (f, os.path.realpath(f), os.path.join(os.path.realpath(f), "default.nix")):
            candidates.setdefault(form, i)
    if err.file and err.file in candidates:
        return candidates[err.file]
    found = [i for form, i in candidates.items() if f"'{form}'" in err.message]
    return min(found) if found else None
