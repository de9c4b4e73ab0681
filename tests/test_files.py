"""Safe reading, transactional atomic writing, backups and undo (nixgen.files)."""

from __future__ import annotations

import os
import resource
import signal
import stat
from pathlib import Path

import pytest

from nixgen.errors import ConflictError, FileError
from nixgen.files import (
    HISTORY_LIMIT,
    FileChange,
    commit,
    last_transaction,
    plan_undo,
    read_snapshot,
    read_snapshot_or_none,
    state_dir,
    undo,
)

IS_ROOT = os.geteuid() == 0
ORIGINAL = b"{ config, ... }:\n{\n  services.openssh.enable = true;\n}\n"
EDITED = b"{ config, ... }:\n{\n  services.openssh.enable = false;\n}\n"


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv("NIXGEN_STATE_DIR", str(directory))
    return directory


def write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    st = os.stat(path)
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


# --- reading --------------------------------------------------------------------------------


def test_snapshot_records_content_and_identity(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL, 0o640)
    snap = read_snapshot(path)
    st = os.stat(path)
    assert snap.data == ORIGINAL
    assert snap.path == path and snap.real_path == path.resolve()
    assert (snap.size, snap.mtime_ns, snap.inode) == (len(ORIGINAL), st.st_mtime_ns, st.st_ino)
    assert snap.mode == 0o640
    assert (snap.uid, snap.gid) == (st.st_uid, st.st_gid)


def test_empty_file_is_readable(tmp_path: Path) -> None:
    snap = read_snapshot(write(tmp_path / "empty.nix", b""))
    assert snap.data == b"" and snap.size == 0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info:
        read_snapshot(tmp_path / "nope.nix")
    assert "no such file" in info.value.message
    assert info.value.file == str(tmp_path / "nope.nix")
    assert read_snapshot_or_none(tmp_path / "nope.nix") is None


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="is a directory"):
        read_snapshot(tmp_path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "bin.nix", b"{ a = 1;\n\x00\x01\x02 }")
    with pytest.raises(FileError) as info:
        read_snapshot(path)
    assert "binary" in info.value.message
    assert str(info.value).startswith(f"{path}:2:1:")


def test_invalid_utf8_names_the_place(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.nix", b"{\n  a = \"caf" + b"\xe9\";\n}\n")
    with pytest.raises(FileError) as info:
        read_snapshot(path)
    assert "not valid UTF-8" in info.value.message and "0xe9" in info.value.message
    assert (info.value.line, info.value.col) == (2, 11)


def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.nix"
    os.mkfifo(fifo)
    with pytest.raises(FileError, match="not a regular file"):
        read_snapshot(fifo)


@pytest.mark.skipif(IS_ROOT, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.nix", ORIGINAL, 0o000)
    with pytest.raises(FileError, match="permission denied"):
        read_snapshot(path)


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.nix"
    link.symlink_to(tmp_path / "gone.nix")
    assert read_snapshot_or_none(link) is None
    with pytest.raises(FileError, match="does not exist"):
        read_snapshot(link)


# --- FileChange -----------------------------------------------------------------------------


def test_file_change_changed(tmp_path: Path) -> None:
    snap = read_snapshot(write(tmp_path / "c.nix", ORIGINAL))
    assert not FileChange(snap.path, snap, ORIGINAL).changed
    assert FileChange(snap.path, snap, EDITED).changed
    assert FileChange(snap.path, snap, None).changed
    assert FileChange(tmp_path / "new.nix", None, b"{}").changed
    assert not FileChange(tmp_path / "new.nix", None, None).changed
    assert FileChange(Path("rel/x.nix"), None, b"").display_name == "rel/x.nix"


# --- writing --------------------------------------------------------------------------------


def test_commit_writes_and_keeps_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL, 0o600)
    snap = read_snapshot(path)
    commit([FileChange(path, snap, EDITED)])
    assert path.read_bytes() == EDITED
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.stat(path).st_ino != snap.inode  # replaced by rename, not rewritten in place
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".nixgen-tmp")]
    assert leftovers == []


@pytest.mark.skipif(not IS_ROOT, reason="changing owners needs root")
def test_commit_keeps_owner(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL, 0o640)
    os.chown(path, 1234, 5678)
    commit([FileChange(path, read_snapshot(path), EDITED)])
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert stat.S_IMODE(st.st_mode) == 0o640


def test_symlink_target_written_and_link_kept(tmp_path: Path) -> None:
    target = write(tmp_path / "real" / "configuration.nix", ORIGINAL, 0o640)
    link = tmp_path / "etc" / "configuration.nix"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "real" / "configuration.nix")
    snap = read_snapshot(link)
    assert snap.real_path == target.resolve()
    commit([FileChange(link, snap, EDITED)])
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("..") / "real" / "configuration.nix")
    assert target.read_bytes() == EDITED
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_new_file_created_with_parents(tmp_path: Path) -> None:
    path = tmp_path / "containers" / "deep" / "foo.nix"
    commit([FileChange(path, None, b"{ }\n")])
    assert path.read_bytes() == b"{ }\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_new_file_that_appeared_meanwhile_is_a_conflict(tmp_path: Path) -> None:
    path = write(tmp_path / "foo.nix", b"someone else's\n")
    with pytest.raises(ConflictError):
        commit([FileChange(path, None, b"{ }\n")])
    assert path.read_bytes() == b"someone else's\n"


def test_delete_file(tmp_path: Path) -> None:
    path = write(tmp_path / "old.nix", ORIGINAL)
    commit([FileChange(path, read_snapshot(path), None)])
    assert not path.exists()


def test_unchanged_commit_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    before = fingerprint(path)
    commit([FileChange(path, read_snapshot(path), ORIGINAL)])
    assert fingerprint(path) == before
    assert last_transaction(path) is None


# --- conflicts and refusals -----------------------------------------------------------------


def test_conflict_when_file_changed_between_read_and_commit(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    snap = read_snapshot(path)
    path.write_bytes(ORIGINAL + b"# edited by hand\n")
    with pytest.raises(ConflictError) as info:
        commit([FileChange(path, snap, EDITED)])
    assert "changed on disk since it was read" in str(info.value)
    assert str(path) in str(info.value)
    assert path.read_bytes() == ORIGINAL + b"# edited by hand\n"


def test_conflict_detected_by_content_even_with_same_size_and_mtime(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    snap = read_snapshot(path)
    with open(path, "r+b") as fh:  # same inode, same size
        fh.write(b"#")
    os.utime(path, ns=(snap.mtime_ns, snap.mtime_ns))
    with pytest.raises(ConflictError):
        commit([FileChange(path, snap, EDITED)])
    assert path.read_bytes()[:1] == b"#"


def test_conflict_when_file_deleted(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    snap = read_snapshot(path)
    path.unlink()
    with pytest.raises(ConflictError, match="deleted"):
        commit([FileChange(path, snap, EDITED)])
    assert not path.exists()


def test_conflict_in_second_file_writes_neither(tmp_path: Path) -> None:
    a = write(tmp_path / "a.nix", ORIGINAL)
    b = write(tmp_path / "b.nix", ORIGINAL)
    sa, sb = read_snapshot(a), read_snapshot(b)
    b.write_bytes(b"{ }\n")
    with pytest.raises(ConflictError) as info:
        commit([FileChange(a, sa, EDITED), FileChange(b, sb, EDITED)])
    assert info.value.file == str(b)
    assert a.read_bytes() == ORIGINAL


def test_read_only_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL, 0o444)
    before = fingerprint(path)
    with pytest.raises(FileError) as info:
        commit([FileChange(path, read_snapshot(path), EDITED)])
    assert "read-only" in info.value.message and info.value.file == str(path)
    assert fingerprint(path) == before


def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    path = write(folder / "c.nix", ORIGINAL)
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(FileError) as info:
            commit([FileChange(path, read_snapshot(path), EDITED)])
        assert str(folder) in str(info.value)
        assert path.read_bytes() == ORIGINAL
        assert sorted(p.name for p in folder.iterdir()) == ["c.nix"]
    finally:
        os.chmod(folder, 0o755)


def test_read_only_second_file_writes_neither(tmp_path: Path) -> None:
    a = write(tmp_path / "a.nix", ORIGINAL)
    b = write(tmp_path / "b.nix", ORIGINAL, 0o444)
    with pytest.raises(FileError, match="read-only"):
        commit([FileChange(a, read_snapshot(a), EDITED), FileChange(b, read_snapshot(b), EDITED)])
    assert a.read_bytes() == ORIGINAL


class _FileSizeLimit:
    """Make writes larger than ``limit`` bytes fail with EFBIG (a real OS failure)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __enter__(self) -> None:
        self.old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        self.old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old_limit[1]))

    def __exit__(self, *exc: object) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self.old_limit)
        signal.signal(signal.SIGXFSZ, self.old_handler)


def test_rollback_when_second_write_fails(tmp_path: Path) -> None:
    a = write(tmp_path / "a.nix", ORIGINAL, 0o640)
    b = write(tmp_path / "b.nix", ORIGINAL)
    created = tmp_path / "containers" / "foo.nix"
    changes = [
        FileChange(a, read_snapshot(a), EDITED),
        FileChange(created, None, b"{ }\n"),
        FileChange(b, read_snapshot(b), EDITED + b"#" * 100_000),
    ]
    with _FileSizeLimit(10_000), pytest.raises(FileError) as info:
        commit(changes)
    assert info.value.file == str(b)
    assert "nothing was changed" in info.value.message
    assert a.read_bytes() == ORIGINAL
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o640
    assert b.read_bytes() == ORIGINAL
    assert not created.exists() and not created.parent.exists()
    assert not [p for p in tmp_path.rglob("*.nixgen-tmp")]
    assert last_transaction(a) is None  # a failed transaction leaves no undo record


# --- backups and undo -----------------------------------------------------------------------


def test_state_dir_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert state_dir() == tmp_path / "state"
    monkeypatch.delenv("NIXGEN_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "nixgen"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "nixgen"


def test_backups_are_private(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    commit([FileChange(path, read_snapshot(path), EDITED)])
    blobs = list((tmp_path / "state").rglob("*.old"))
    assert [b.read_bytes() for b in blobs] == [ORIGINAL]
    assert stat.S_IMODE(os.stat(blobs[0]).st_mode) == 0o600


def test_undo_restores_previous_content(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL, 0o640)
    commit([FileChange(path, read_snapshot(path), EDITED)])
    assert undo(path) == [path]
    assert path.read_bytes() == ORIGINAL
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    with pytest.raises(FileError, match="no nixgen change to undo"):
        undo(path)


def test_undo_steps_back_through_history(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", b"v1\n")
    commit([FileChange(path, read_snapshot(path), b"v2\n")])
    commit([FileChange(path, read_snapshot(path), b"v3\n")])
    undo(path)
    assert path.read_bytes() == b"v2\n"
    undo(path)
    assert path.read_bytes() == b"v1\n"


def test_undo_restores_whole_transaction(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    created = tmp_path / "containers" / "foo.nix"
    commit([FileChange(config, read_snapshot(config), EDITED), FileChange(created, None, b"{ }\n")])
    assert sorted(last_transaction(created) or []) == sorted([config, created])
    restored = undo(created)
    assert sorted(restored) == sorted([config, created])
    assert config.read_bytes() == ORIGINAL
    assert not created.exists()


def test_undo_removes_the_folders_the_transaction_created(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    created = tmp_path / "containers" / "deep" / "foo.nix"
    commit([FileChange(config, read_snapshot(config), EDITED), FileChange(created, None, b"{ }\n")])
    undo(config)
    assert config.read_bytes() == ORIGINAL
    assert not (tmp_path / "containers").exists()


def test_undo_keeps_a_created_folder_that_holds_other_files(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    created = tmp_path / "containers" / "foo.nix"
    commit([FileChange(config, read_snapshot(config), EDITED), FileChange(created, None, b"{ }\n")])
    (tmp_path / "containers" / "mine.nix").write_bytes(b"{ }\n")
    undo(config)
    assert not created.exists()
    assert (tmp_path / "containers" / "mine.nix").read_bytes() == b"{ }\n"


def test_undo_recreates_deleted_file(tmp_path: Path) -> None:
    path = write(tmp_path / "gone.nix", ORIGINAL, 0o600)
    commit([FileChange(path, read_snapshot(path), None)])
    undo(path)
    assert path.read_bytes() == ORIGINAL
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_undo_refuses_after_manual_edit(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    other = write(tmp_path / "other.nix", ORIGINAL)
    commit([
        FileChange(config, read_snapshot(config), EDITED),
        FileChange(other, read_snapshot(other), EDITED),
    ])
    other.write_bytes(EDITED + b"# by hand\n")
    with pytest.raises(ConflictError) as info:
        undo(config)
    assert info.value.file == str(other)
    assert "edited after nixgen wrote it" in info.value.message
    assert config.read_bytes() == EDITED  # nothing restored
    assert other.read_bytes() == EDITED + b"# by hand\n"
    other.write_bytes(EDITED)  # put back what nixgen wrote: undo works again
    undo(config)
    assert config.read_bytes() == ORIGINAL and other.read_bytes() == ORIGINAL


def test_undo_through_symlink(tmp_path: Path) -> None:
    target = write(tmp_path / "real.nix", ORIGINAL)
    link = tmp_path / "link.nix"
    link.symlink_to(target)
    commit([FileChange(link, read_snapshot(link), EDITED)])
    undo(target)  # keyed by the real path: either name finds it
    assert link.is_symlink() and target.read_bytes() == ORIGINAL


def test_no_backup_means_no_undo(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", ORIGINAL)
    commit([FileChange(path, read_snapshot(path), EDITED)], backup=False)
    with pytest.raises(FileError):
        undo(path)
    assert path.read_bytes() == EDITED


def test_history_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path / "c.nix", b"0\n")
    for n in range(HISTORY_LIMIT + 5):
        commit([FileChange(path, read_snapshot(path), f"{n + 1}\n".encode())])
    kept = [d for d in (tmp_path / "state" / "transactions").iterdir() if d.is_dir()]
    assert len(kept) == HISTORY_LIMIT


def test_edits_to_one_file_do_not_push_out_the_undo_of_another(tmp_path: Path) -> None:
    first = write(tmp_path / "a.nix", b"a0\n")
    commit([FileChange(first, read_snapshot(first), b"a1\n")])
    busy = write(tmp_path / "b.nix", b"0\n")
    for n in range(HISTORY_LIMIT + 5):
        commit([FileChange(busy, read_snapshot(busy), f"{n + 1}\n".encode())])
    kept = [d for d in (tmp_path / "state" / "transactions").iterdir() if d.is_dir()]
    assert len(kept) == HISTORY_LIMIT + 1
    undo(first)
    assert first.read_bytes() == b"a0\n"
    for _ in range(HISTORY_LIMIT):
        undo(busy)
    assert busy.read_bytes() == b"5\n"  # the oldest five are gone
    with pytest.raises(FileError):
        undo(busy)


def test_unwritable_state_dir_refuses_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = write(tmp_path / "not-a-dir", b"")
    monkeypatch.setenv("NIXGEN_STATE_DIR", str(blocker / "state"))
    path = write(tmp_path / "c.nix", ORIGINAL)
    with pytest.raises(FileError, match="backup"):
        commit([FileChange(path, read_snapshot(path), EDITED)])
    assert path.read_bytes() == ORIGINAL


def test_concurrent_writers_are_serialised(tmp_path: Path) -> None:
    """A second writer waits for the first, then sees the replaced file as a conflict."""
    import fcntl
    import threading

    path = write(tmp_path / "c.nix", ORIGINAL)
    snap = read_snapshot(path)
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            commit([FileChange(path, snap, b"{ second = true; }\n")])
        except BaseException as exc:
            errors.append(exc)

    with open(path, "rb") as held:  # the first writer is in its transaction
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive(), "the second writer must wait for the lock"
        replacement = tmp_path / "first.tmp"  # the first writer's atomic replace
        replacement.write_bytes(b"{ first = true; }\n")
        os.replace(replacement, path)
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], ConflictError)
    assert path.read_bytes() == b"{ first = true; }\n"


def test_undo_names_a_later_nixgen_change_to_undo_first(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    module = write(tmp_path / "module.nix", ORIGINAL)
    commit([FileChange(config, read_snapshot(config), EDITED),
            FileChange(module, read_snapshot(module), EDITED)])
    commit([FileChange(module, read_snapshot(module), b"{ later = 1; }\n")])
    with pytest.raises(ConflictError) as info:
        undo(config)
    assert info.value.file == str(module)
    assert "later nixgen command" in info.value.message
    assert config.read_bytes() == EDITED
    undo(module)  # the later change first, then the earlier one goes through
    undo(config)
    assert config.read_bytes() == ORIGINAL and module.read_bytes() == ORIGINAL


def test_plan_undo_previews_without_writing(tmp_path: Path) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    created = tmp_path / "containers" / "foo.nix"
    commit([FileChange(config, read_snapshot(config), EDITED), FileChange(created, None, b"{ }\n")])
    changes = {c.path: c for c in plan_undo(config)}
    assert changes[config].new_data == ORIGINAL and changes[config].snapshot is not None
    assert changes[config].snapshot.data == EDITED
    assert changes[created].new_data is None  # the created file would be deleted
    assert config.read_bytes() == EDITED and created.exists()
    created.write_bytes(b"# by hand\n")
    with pytest.raises(ConflictError):
        plan_undo(config)


def test_undo_of_the_configuration_finds_a_change_made_for_it_to_another_file(
    tmp_path: Path,
) -> None:
    config = write(tmp_path / "configuration.nix", ORIGINAL)
    guest = write(tmp_path / "containers" / "db.nix", b"{ a = 1; }\n")
    other = tmp_path / "containers" / "web.nix"
    commit([FileChange(config, read_snapshot(config), EDITED), FileChange(other, None, b"{ }\n")])
    commit([FileChange(guest, read_snapshot(guest), b"{ a = 2; }\n")], anchor=config)
    assert last_transaction(config) == [guest]
    assert undo(config) == [guest]
    assert guest.read_bytes() == b"{ a = 1; }\n"
    assert config.read_bytes() == EDITED and other.exists()
    undo(config)
    assert config.read_bytes() == ORIGINAL and not other.exists()


def test_history_in_all_is_bounded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nixgen.files

    monkeypatch.setattr(nixgen.files, "HISTORY_TOTAL", 5)
    paths = [write(tmp_path / f"m{i}.nix", b"0\n") for i in range(8)]
    for path in paths:
        commit([FileChange(path, read_snapshot(path), b"1\n")])
    kept = [d for d in (tmp_path / "state" / "transactions").iterdir() if d.is_dir()]
    assert len(kept) == 5
    undo(paths[-1])
    assert paths[-1].read_bytes() == b"0\n"
    with pytest.raises(FileError):
        undo(paths[0])  # the oldest went first
