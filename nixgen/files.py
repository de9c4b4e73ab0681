"""Safe reading and atomic writing of configuration files, with backups for ``undo``.

A :class:`Snapshot` records what a file looked like when it was read. :func:`commit` writes a
set of :class:`FileChange` objects as one transaction: every file is first checked to be
unchanged since its snapshot, then each is written atomically (a temporary file in the same
directory, fsync, rename, fsync of the directory) keeping its mode and owner. A symlinked path
is written at its target, so the link stays a link. If any step fails, the files already
written are put back and the files created are removed.

The previous content of every file of a transaction is kept in a state directory
(``$NIXGEN_STATE_DIR``, else ``$XDG_STATE_HOME/nixgen``, else ``~/.local/state/nixgen``) so
that :func:`undo` can restore the whole transaction, refusing when a file was edited since.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nixgen.errors import ConflictError, FileError

NEW_FILE_MODE = 0o644
#: Transactions kept for undo per file a command was run on (its anchor, else its first file)…
HISTORY_LIMIT = 20
#: …and in all, the newest first.
HISTORY_TOTAL = 200
_MANIFEST = "transaction.json"


@dataclass(frozen=True)
class Snapshot:
    """A file as it was read: its bytes and the identity of the file on disk."""

    path: Path
    real_path: Path
    data: bytes
    mtime_ns: int
    size: int
    inode: int
    mode: int
    uid: int
    gid: int

    @property
    def digest(self) -> str:
        """SHA-256 of the content, hex."""
        return _digest(self.data)


@dataclass
class FileChange:
    """Write ``new_data`` to ``path`` (``None``: delete it); ``snapshot`` None means a new file."""

    path: Path
    snapshot: Snapshot | None
    new_data: bytes | None

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def changed(self) -> bool:
        """Whether writing this change would alter the disk."""
        if self.snapshot is None:
            return self.new_data is not None
        return self.new_data != self.snapshot.data

    @property
    def display_name(self) -> str:
        """The path as the user gave it."""
        return str(self.path)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    col = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return line, col


def read_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read a text file and remember its identity. FileError when it is not a readable text file."""
    given = Path(path)
    real = _resolve(given)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if given.is_symlink():
            raise FileError(f"is a symlink to {real}, which does not exist", file=given) from None
        raise FileError("no such file", file=given) from None
    except IsADirectoryError:
        raise FileError("is a directory, not a file", file=given) from None
    except PermissionError:
        raise FileError("permission denied: cannot read the file", file=given) from None
    except OSError as exc:
        raise FileError(f"cannot open the file: {exc.strerror}", file=given) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FileError("is a directory, not a file", file=given)
        if not stat.S_ISREG(st.st_mode):
            raise FileError("is not a regular file", file=given)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
    except IsADirectoryError:
        raise FileError("is a directory, not a file", file=given) from None
    except OSError as exc:
        raise FileError(f"cannot read the file: {exc.strerror}", file=given) from None
    finally:
        os.close(fd)
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _position(data, nul)
        raise FileError(
            "is a binary file (it contains NUL bytes), not Nix source", file=given, line=line, col=col
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise FileError(
            f"is not valid UTF-8 text (byte 0x{data[exc.start]:02x})", file=given, line=line, col=col
        ) from None
    return Snapshot(
        path=given,
        real_path=real,
        data=data,
        mtime_ns=st.st_mtime_ns,
        size=st.st_size,
        inode=st.st_ino,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
    )


def read_snapshot_or_none(path: str | os.PathLike[str]) -> Snapshot | None:
    """Like :func:`read_snapshot`, but ``None`` when nothing exists at ``path``."""
    given = Path(path)
    if not os.path.lexists(given) or (given.is_symlink() and not given.exists()):
        return None
    return read_snapshot(given)


# --- the transaction --------------------------------------------------------------------------


@dataclass
class _Op:
    """One file operation of a transaction, at a real (symlink-free) path."""

    display: Path
    real: Path
    new_data: bytes | None
    old_data: bytes | None  # None: the file does not exist before
    mode: int = NEW_FILE_MODE
    uid: int = -1
    gid: int = -1


@dataclass
class _Done:
    op: _Op
    created_dirs: list[Path] = field(default_factory=list)


def _check_snapshot(change: FileChange) -> _Op:
    snap = change.snapshot
    display = change.path
    if snap is None:
        real = _resolve(display)
        if os.path.lexists(real):
            raise ConflictError(
                "was created on disk since nixgen looked; run the command again", file=display
            )
        return _Op(display, real, change.new_data, None)
    real = _resolve(display)
    if real != snap.real_path:
        raise ConflictError(
            "changed on disk since it was read (the symlink now points elsewhere); "
            "run the command again",
            file=display,
        )
    try:
        st = os.stat(real)
        with open(real, "rb") as fh:
            current = fh.read()
    except FileNotFoundError:
        raise ConflictError(
            "was deleted since it was read; run the command again", file=display
        ) from None
    except OSError as exc:
        raise FileError(f"cannot read the file again: {exc.strerror}", file=display) from None
    same_identity = (st.st_size, st.st_mtime_ns, st.st_ino) == (snap.size, snap.mtime_ns, snap.inode)
    if not same_identity or _digest(current) != snap.digest:
        raise ConflictError(
            "changed on disk since it was read; run the command again", file=display
        )
    return _Op(display, real, change.new_data, snap.data, snap.mode, snap.uid, snap.gid)


def _nearest_existing_dir(path: Path) -> Path:
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    return parent


def _check_writable(op: _Op) -> None:
    """Refuse read-only files and directories up front (also for root, by their mode bits)."""
    if op.old_data is not None and op.new_data is not None:
        st = os.stat(op.real)
        if not st.st_mode & 0o222 or not os.access(op.real, os.W_OK):
            raise FileError("is read-only; nothing was written", file=op.display)
    directory = _nearest_existing_dir(op.real)
    if not directory.is_dir():
        raise FileError(f"cannot create the file: {directory} is not a directory", file=op.display)
    dst = os.stat(directory)
    if not dst.st_mode & 0o222 or not os.access(directory, os.W_OK | os.X_OK):
        raise FileError(
            f"cannot write the file: its directory {directory} is read-only; nothing was written",
            file=op.display,
        )


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_dirs(directory: Path) -> list[Path]:
    created: list[Path] = []
    missing: list[Path] = []
    cur = directory
    while not cur.exists():
        missing.append(cur)
        cur = cur.parent
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        created.append(d)
    return created


def _create_temp(directory: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new private file in ``directory`` (like ``tempfile.mkstemp``, without its import cost)."""
    for _ in range(100):
        candidate = directory / f"{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        return fd, candidate
    raise FileExistsError(f"cannot create a temporary file in {directory}")


def _write_atomic(real: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    fd, tmp = _create_temp(real.parent, f".{real.name}.", ".nixgen-tmp")
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)
            if uid >= 0 or gid >= 0:
                if os.geteuid() == 0:
                    os.fchown(fd, uid, gid)
                else:
                    with contextlib.suppress(OSError):
                        os.fchown(fd, -1, gid)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(real.parent)


def _perform(op: _Op) -> _Done:
    done = _Done(op)
    if op.new_data is None:
        if op.old_data is not None:
            os.unlink(op.real)
            _fsync_dir(op.real.parent)
        return done
    done.created_dirs = _make_dirs(op.real.parent)
    _write_atomic(op.real, op.new_data, op.mode, op.uid, op.gid)
    return done


def _revert(done: _Done) -> None:
    op = done.op
    if op.old_data is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(op.real)
    else:
        _write_atomic(op.real, op.old_data, op.mode, op.uid, op.gid)
    for d in reversed(done.created_dirs):
        with contextlib.suppress(OSError):
            os.rmdir(d)


def _run(ops: Sequence[_Op]) -> list[_Done]:
    """Write every op; on failure put back what was written and raise FileError."""
    finished: list[_Done] = []
    for op in ops:
        try:
            finished.append(_perform(op))
        except OSError as exc:
            failed: list[str] = []
            for done in reversed(finished):
                try:
                    _revert(done)
                except OSError:
                    failed.append(str(done.op.display))
            reason = exc.strerror or str(exc)
            if failed:
                raise FileError(
                    f"cannot write the file: {reason}; restoring {', '.join(failed)} also "
                    "failed (see the backups in " + str(state_dir()) + ")",
                    file=op.display,
                ) from None
            raise FileError(
                f"cannot write the file: {reason}; nothing was changed", file=op.display
            ) from None
    return finished


@contextlib.contextmanager
def _locked(paths: Sequence[Path]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on each file (or, for a file to create, its nearest directory).

    Two nixgen processes writing the same file are serialised: the second one then sees that
    the file was replaced and reports a conflict instead of overwriting the first one's work.
    """
    import fcntl

    fds: list[int] = []
    seen: set[tuple[int, int]] = set()
    try:
        for path in sorted(paths):
            target = path if path.exists() else _nearest_existing_dir(path)
            try:
                fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue  # unreadable: the checks that follow report it
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in seen:
                os.close(fd)
                continue
            seen.add((st.st_dev, st.st_ino))
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def commit(
    changes: Sequence[FileChange], *, backup: bool = True, anchor: str | os.PathLike[str] | None = None
) -> None:
    """Write all ``changes`` as one transaction (see the module docstring).

    ``anchor``: the configuration the command was run on, when the transaction may not touch
    it (a port added only to ``containers/NAME.nix``): ``undo(anchor)`` then finds it too.
    """
    real_changes = [c for c in changes if c.changed]
    if not real_changes:
        return
    with _locked([_resolve(c.path) for c in real_changes]):
        ops: list[_Op] = []
        seen: set[Path] = set()
        for change in real_changes:
            op = _check_snapshot(change)
            if op.real in seen:
                raise FileError("is changed twice in one transaction", file=change.path)
            seen.add(op.real)
            ops.append(op)
        for op in ops:
            _check_writable(op)
        record = _Record.prepare(ops) if backup else None
        try:
            finished = _run(ops)
        except BaseException:
            if record is not None:
                record.discard()
            raise
        if record is not None:
            for entry, done in zip(record.entries, finished, strict=True):
                if done.created_dirs:
                    entry["created_dirs"] = [str(d) for d in done.created_dirs]
            record.anchor = None if anchor is None else _resolve(Path(anchor))
            record.seal()


# --- backups and undo -------------------------------------------------------------------------


def state_dir() -> Path:
    """Where backups of the last transactions are kept."""
    explicit = os.environ.get("NIXGEN_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "nixgen"


@dataclass
class _Record:
    """A transaction's directory of backups: one blob per file plus a JSON manifest."""

    directory: Path
    entries: list[dict[str, object]]
    anchor: Path | None = None  # the configuration the command was run on (``-f FILE``)

    @classmethod
    def prepare(cls, ops: Sequence[_Op]) -> _Record:
        root = state_dir() / "transactions"
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory = root / f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}"
            directory.mkdir(mode=0o700)
            entries: list[dict[str, object]] = []
            for n, op in enumerate(ops):
                entry: dict[str, object] = {
                    "path": str(op.real),
                    "display": str(op.display),
                    "mode": op.mode,
                    "uid": op.uid,
                    "gid": op.gid,
                    "old": None,
                    "new_digest": None if op.new_data is None else _digest(op.new_data),
                }
                if op.old_data is not None:
                    blob = f"{n}.old"
                    fd = os.open(directory / blob, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(op.old_data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    entry["old"] = blob
                entries.append(entry)
        except OSError as exc:
            raise FileError(
                f"cannot keep a backup for undo: {exc.strerror or exc}; set NIXGEN_STATE_DIR "
                "to a writable directory; nothing was written",
                file=root,
            ) from None
        return cls(directory, entries)

    def seal(self) -> None:
        import hashlib
        import json

        manifest: dict[str, object] = {"time_ns": time.time_ns(), "files": self.entries}
        if self.anchor is not None:
            manifest["anchor"] = str(self.anchor)
        owner = str(self.anchor) if self.anchor is not None else (
            str(self.entries[0]["path"]) if self.entries else "")
        # The name says whose transaction it is, so that pruning needs no manifest read.
        key = hashlib.sha256(owner.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        with contextlib.suppress(OSError):
            named = self.directory.with_name(f"{self.directory.name}-{key}")
            self.directory.rename(named)
            self.directory = named
        with contextlib.suppress(OSError):
            _write_atomic(
                self.directory / _MANIFEST,
                json.dumps(manifest, indent=1).encode(),
                0o600,
                -1,
                -1,
            )
            _prune(self.directory.parent)

    def discard(self) -> None:
        _remove_tree(self.directory)

    @classmethod
    def load(cls, directory: Path) -> _Record | None:
        import json

        try:
            manifest = json.loads((directory / _MANIFEST).read_text())
            anchor = manifest.get("anchor")
            return cls(directory, list(manifest["files"]), Path(anchor) if anchor else None)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def paths(self) -> list[Path]:
        return [Path(str(e["path"])) for e in self.entries]

    def concerns(self, real: Path) -> bool:
        """Whether the transaction wrote ``real`` or was made for it (its anchor)."""
        return real in self.paths() or self.anchor == real


def _remove_tree(directory: Path) -> None:
    with contextlib.suppress(OSError):
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def _records() -> list[_Record]:
    """Sealed transactions, newest first."""
    root = state_dir() / "transactions"
    try:
        dirs = sorted((d for d in root.iterdir() if d.is_dir()), reverse=True)
    except OSError:
        return []
    out = []
    for d in dirs:
        rec = _Record.load(d)
        if rec is not None:
            out.append(rec)
    return out


def _prune(root: Path) -> None:
    """Keep the newest :data:`HISTORY_LIMIT` transactions of each file a command was run on,
    and :data:`HISTORY_TOTAL` in all (edits to one file never push out another's undo)."""
    dirs = sorted((d for d in root.iterdir() if d.is_dir()), reverse=True)
    sealed = [d for d in dirs if (d / _MANIFEST).exists()]
    per_owner: dict[str, int] = {}
    kept = 0
    for d in sealed:
        parts = d.name.split("-")
        owner = parts[3] if len(parts) > 3 else ""  # time-pid-random-owner
        per_owner[owner] = per_owner.get(owner, 0) + 1
        if per_owner[owner] > HISTORY_LIMIT or kept >= HISTORY_TOTAL:
            _remove_tree(d)
        else:
            kept += 1


def last_transaction(path: str | os.PathLike[str]) -> list[Path] | None:
    """The files of the last transaction that touched ``path`` or was made for it (None if
    there is none)."""
    record = _last_record(_resolve(Path(path)))
    return None if record is None else record.paths()


def _last_record(real: Path) -> _Record | None:
    """The newest sealed transaction that touched ``real`` or was made for it."""
    return next((r for r in _records() if r.concerns(real)), None)


def _record_to_undo(given: Path) -> _Record:
    """:func:`_last_record` of ``given``; FileError when there is none."""
    record = _last_record(_resolve(given))
    if record is None:
        raise FileError("no nixgen change to undo for this file", file=given)
    return record


def undo(path: str | os.PathLike[str]) -> list[Path]:
    """Restore every file of the last nixgen transaction that touched ``path`` (or whose
    command was run on it, see :func:`commit`).

    Refuses with ConflictError when any of those files was edited after nixgen wrote it.
    A file the transaction created is deleted (with the folders made for it, once empty); a
    file it deleted is recreated. Returns the
    restored paths (as they were named when written).
    """
    record = _record_to_undo(Path(path))
    with _locked(record.paths()):
        ops = _undo_ops(record)
        for op in ops:
            _check_writable(op)
        _run(ops)
        _remove_created_dirs(record)
    _remove_tree(record.directory)
    return [op.display for op in ops]


def _remove_created_dirs(record: _Record) -> None:
    """Remove the folders the transaction created for new files, when they are empty again."""
    for entry in record.entries:
        dirs = entry.get("created_dirs")
        if not isinstance(dirs, list):
            continue
        for d in reversed(dirs):
            with contextlib.suppress(OSError):
                os.rmdir(str(d))


def plan_undo(path: str | os.PathLike[str]) -> list[FileChange]:
    """What :func:`undo` would do, as changes against the files now on disk (for a preview).

    Raises like :func:`undo` when there is nothing to undo or a file was edited since.
    """
    record = _record_to_undo(Path(path))
    changes = []
    for op in _undo_ops(record):
        snapshot = read_snapshot_or_none(op.real)
        changes.append(FileChange(op.display, snapshot, op.new_data))
    return changes


def _written_later(record: _Record, target: Path, digest: str | None) -> bool:
    """Whether a transaction newer than ``record`` left ``target`` with this content."""
    for newer in _records():
        if newer.directory.name <= record.directory.name:
            break
        for entry in newer.entries:
            if Path(str(entry["path"])) == target and entry["new_digest"] == digest:
                return True
    return False


def _undo_ops(record: _Record) -> list[_Op]:
    """The operations that put back a transaction; ConflictError if a file was edited since."""
    ops: list[_Op] = []
    for entry in record.entries:
        target = Path(str(entry["path"]))
        display = Path(str(entry.get("display") or target))
        expected = entry["new_digest"]
        try:
            current: bytes | None = target.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise FileError(f"cannot read the file: {exc.strerror}", file=display) from None
        current_digest = None if current is None else _digest(current)
        if current_digest != expected:
            if _written_later(record, target, current_digest):
                raise ConflictError(
                    "was changed again by a later nixgen command; undo that one first "
                    f"(nixgen undo -f {display}); nothing was changed",
                    file=display,
                )
            raise ConflictError(
                "was edited after nixgen wrote it; refusing to undo (nothing was changed)",
                file=display,
            )
        old_name = entry["old"]
        old_data = None if old_name is None else (record.directory / str(old_name)).read_bytes()
        mode = int(entry["mode"])  # type: ignore[call-overload]
        uid = int(entry["uid"])  # type: ignore[call-overload]
        gid = int(entry["gid"])  # type: ignore[call-overload]
        if current is not None:
            st = os.stat(target)
            mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        ops.append(_Op(display, target, old_data, current, mode, uid, gid))
    return ops
