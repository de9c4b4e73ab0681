"""The command line's start-up: commands loaded on demand, the garbage collector's pause, and
the Nix process ``check-syntax`` starts before typer is loaded."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import NIX_OFFLINE, ROOT, run_cli

from nixgen import nix_process
from nixgen.cli import early_nix
from nixgen.cli.app import COMMANDS, app
from nixgen.errors import NixSyntaxError
from nixgen.nix import Nix

OFFLINE_OPTION = [("substituters", "")]


def python(snippet: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``snippet`` in a fresh interpreter (start-up behaviour needs a clean process)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(snippet), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


# -- commands loaded on demand --------------------------------------------------------------


def test_the_command_table_names_every_registered_command_and_its_module() -> None:
    for module in set(COMMANDS.values()):
        importlib.import_module(module)
    registered = {info.name: info.callback.__module__ for info in app.registered_commands
                  if info.callback is not None}
    assert registered == COMMANDS


def test_entry_modules_do_not_load_typer() -> None:
    proc = python("""
        import sys
        import nixgen, nixgen.cli, nixgen.cli.early_nix, nixgen.nix_process
        print(sorted(m for m in ("typer", "rich", "nixgen.nix", "nixgen.cli.app")
                     if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_command_loads_only_the_module_that_registers_it(tmp_path: Path) -> None:
    config = tmp_path / "configuration.nix"
    config.write_text("{ a = 1; }\n")
    proc = python("""
        import json, sys
        from nixgen.cli import main
        try:
            main(["get", "a", "-f", sys.argv[1]])
        except SystemExit as exc:
            code = exc.code
        print(json.dumps({"code": code,
                          "loaded": sorted(m for m in sys.modules if m.startswith("nixgen.cli."))}))
    """, str(config))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0
    command_modules = set(COMMANDS.values())
    assert [m for m in result["loaded"] if m in command_modules] == ["nixgen.cli.edit_cmds"]


def test_help_still_lists_every_command_in_table_order() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines()
              if line.startswith("  ") and line.split()]
    assert listed == list(COMMANDS)


def test_a_misspelt_command_still_gets_a_suggestion() -> None:
    proc = run_cli("list-container")
    assert proc.returncode == 2
    assert "Did you mean 'list-containers'" in proc.stderr


def test_garbage_collection_resumes_before_the_command_runs(tmp_path: Path) -> None:
    good = tmp_path / "good.nix"
    good.write_text("{ a = 1; }\n")
    proc = python("""
        import gc, json, sys
        import nixgen.cli.eval_cmds as cmds
        from nixgen.cli import main

        seen = []
        real = cmds._tree_sitter_errors
        def probe(name):
            seen.append(gc.isenabled())
            return real(name)
        cmds._tree_sitter_errors = probe
        try:
            main(["check-syntax", "--no-nix", sys.argv[1]])
        except SystemExit as exc:
            code = exc.code
        print(json.dumps({"code": code, "during": seen, "after": gc.isenabled(),
                          "frozen": gc.get_freeze_count()}))
    """, str(good))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0
    assert result["during"] == [True]
    assert result["after"] is True
    assert result["frozen"] > 0


def test_garbage_collection_resumes_after_a_usage_error() -> None:
    proc = python("""
        import gc
        from nixgen.cli import main
        try:
            main(["no-such-command"])
        except SystemExit as exc:
            print(exc.code, gc.isenabled())
    """)
    assert proc.stdout.split() == ["2", "True"], proc.stderr


# -- check-syntax's command line, read before typer ------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["a.nix", "b.nix"], (["a.nix", "b.nix"], [], [])),
        (["-I", "nixpkgs=/x", "a.nix", "--option", "substituters", "", "--nix"],
         (["a.nix"], ["nixpkgs=/x"], [("substituters", "")])),
        (["a.nix", "--", "-odd.nix", "--nix"], (["a.nix", "-odd.nix", "--nix"], [], [])),
    ],
)
def test_check_syntax_words_are_read_like_typer_reads_them(
        words: list[str], expected: tuple[list[str], list[str], list[tuple[str, str]]]) -> None:
    assert early_nix._check_syntax_words(words) == expected


@pytest.mark.parametrize(
    "words",
    [
        [],
        ["--no-nix", "a.nix"],
        ["--help"],
        ["a.nix", "--option", "substituters"],
        ["a.nix", "-I"],
        ["-Inixpkgs=/x", "a.nix"],
        ["a.nix", "-"],
    ],
)
def test_anything_unclear_starts_nothing(words: list[str]) -> None:
    assert early_nix.start(["check-syntax", *words]) is False
    assert not nix_process._early


@pytest.mark.parametrize("args", [[], ["get", "a.nix"], ["eval", "1 + 1"], ["--help"]])
def test_other_commands_start_nothing(args: list[str]) -> None:
    assert early_nix.start(args) is False
    assert not nix_process._early


def test_the_early_parse_is_adopted_and_judges_like_a_fresh_one(
        tmp_path: Path, nix_instantiate: str) -> None:
    good = tmp_path / "good.nix"
    good.write_text("{ a = 1; }\n")
    bad = tmp_path / "bad.nix"
    bad.write_text("{\n  a = ;\n}\n")
    nix = Nix(options=OFFLINE_OPTION)
    fresh = nix.parse_check_many([good, bad])
    assert early_nix.start(["check-syntax", *NIX_OFFLINE, str(good), str(bad)]) is True
    assert len(nix_process._early) == 1
    try:
        adopted = nix.parse_check_many([good, bad])
        assert not nix_process._early  # the run took the process over
    finally:
        nix_process.discard_early()
    assert [(str(e), e.file, e.line, e.col) for e in adopted] == \
        [(str(e), e.file, e.line, e.col) for e in fresh]
    assert len(adopted) == 1 and isinstance(adopted[0], NixSyntaxError)
    assert (adopted[0].file, adopted[0].line) == (str(bad), 2)


def test_a_different_command_is_not_adopted_and_the_early_one_is_stopped(
        tmp_path: Path, nix_instantiate: str) -> None:
    first = tmp_path / "first.nix"
    first.write_text("1\n")
    second = tmp_path / "second.nix"
    second.write_text("let in\n")
    assert early_nix.start(["check-syntax", *NIX_OFFLINE, str(first)]) is True
    (key, proc), = nix_process._early.items()
    try:
        # a runner with other options, then a different file list: neither is the early argv
        assert Nix(options=[("substituters", ""), ("cores", "1")]).parse_check_many([first]) == []
        errors = Nix(options=OFFLINE_OPTION).parse_check_many([first, second])
        assert [e.file for e in errors] == [str(second)]
        assert nix_process._early == {key: proc}
    finally:
        nix_process.discard_early()
    assert proc.returncode is not None
    assert not nix_process._early


def test_an_early_command_never_adopted_is_stopped_on_the_way_out() -> None:
    assert nix_process.start_early(["sleep", "30"]) is True
    (_, proc), = nix_process._early.items()
    nix_process.discard_early()
    assert proc.returncode is not None and proc.returncode < 0  # killed by a signal
    assert not nix_process._early


def test_an_early_command_that_cannot_start_is_left_to_the_later_run(tmp_path: Path) -> None:
    assert nix_process.start_early([str(tmp_path / "no-such-tool")]) is False
    assert not nix_process._early


def test_check_syntax_through_the_early_start_reports_like_before(
        tmp_path: Path, nix_instantiate: str) -> None:
    files = []
    for i in range(30):
        path = tmp_path / f"m{i:02}.nix"
        path.write_text("{ a = ; }\n" if i in (4, 17) else f"{{ a = {i}; }}\n")
        files.append(str(path))
    early = run_cli("check-syntax", *files, *NIX_OFFLINE)
    # "-I" with an empty-ish entry is not read before typer: the same check without an early start
    late = run_cli("check-syntax", *files, *NIX_OFFLINE, "-Ifoo=/nonexistent")
    assert early.returncode == late.returncode == 1
    assert early.stdout == late.stdout
    assert [line.split(":")[0] for line in early.stdout.splitlines()] == [files[4], files[17]]


def test_an_early_process_reports_exit_code_and_stderr_like_popen() -> None:
    proc = nix_process.EarlyProcess(["sh", "-c", "echo oops >&2; cat; exit 3"])
    try:
        assert proc.wait() == 3  # stdin is /dev/null: cat ends at once
        assert proc.stderr.read() == b"oops\n"
        assert proc.poll() == 3 and proc.returncode == 3
    finally:
        proc.stderr.close()


def test_an_early_process_times_out_and_is_stopped_with_its_group() -> None:
    proc = nix_process.EarlyProcess(["sh", "-c", "sleep 30 & wait"])
    try:
        assert proc.poll() is None
        assert os.getsid(proc.pid) == proc.pid  # a session of its own
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
        nix_process.kill_group(proc)
        assert proc.returncode is not None and proc.returncode < 0
    finally:
        proc.stderr.close()


def test_an_early_process_gets_sigpipe_back() -> None:
    # Python ignores SIGPIPE; like Popen, the early start gives the child the default back,
    # so a writer into a closed pipe is stopped by the signal instead of seeing EPIPE.
    proc = nix_process.EarlyProcess(["sh", "-c", "sleep 0.2; exec yes >&2"])
    proc.stderr.close()
    assert proc.wait(timeout=30) == -signal.SIGPIPE


def test_a_directory_named_like_a_nix_file_is_still_expanded(
        tmp_path: Path, nix_instantiate: str) -> None:
    odd = tmp_path / "modules.nix"  # a directory: the early start takes it for a file
    odd.mkdir()
    (odd / "good.nix").write_text("{ a = 1; }\n")
    (odd / "bad.nix").write_text("{ a = ; }\n")
    assert early_nix.start(["check-syntax", *NIX_OFFLINE, str(odd)]) is True
    try:
        errors = Nix(options=OFFLINE_OPTION).parse_check_many(early_nix.expand_paths([str(odd)]))
        assert len(nix_process._early) == 1  # not adopted: the command's argv differs
    finally:
        nix_process.discard_early()
    assert [e.file for e in errors] == [str(odd / "bad.nix")]
    proc = run_cli("check-syntax", str(odd), *NIX_OFFLINE)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{odd / 'bad.nix'}:1:")


def test_an_early_start_with_standard_descriptors_closed_leaves_the_work_to_popen() -> None:
    proc = python("""
        import os
        os.close(0); os.close(1)
        from nixgen import nix_process
        import sys
        sys.stderr.write(str(nix_process.start_early(["true"])))
    """)
    assert proc.stderr == "False"


def test_an_early_process_does_not_inherit_other_descriptors() -> None:
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        proc = nix_process.EarlyProcess(["sh", "-c", "ls /proc/$$/fd >&2"])
        try:
            proc.wait(timeout=30)
            open_fds = {int(n) for n in proc.stderr.read().split()}
        finally:
            proc.stderr.close()
    finally:
        os.close(read_end)
        os.close(write_end)
    assert {0, 1, 2} <= open_fds
    assert write_end not in open_fds


def test_an_empty_directory_starts_nothing(tmp_path: Path) -> None:
    assert early_nix.start(["check-syntax", str(tmp_path)]) is False
    assert not nix_process._early


def test_sigterm_right_after_the_early_start_is_handled(tmp_path: Path,
                                                        nix_instantiate: str) -> None:
    good = tmp_path / "good.nix"
    good.write_text("1\n")
    proc = python("""
        import os, signal, sys
        from nixgen import nix_process
        real = nix_process.start_early
        def start_then_terminate(argv):
            started = real(argv)
            (pid,) = [p.pid for p in nix_process._early.values()]
            print(pid, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            return started
        nix_process.start_early = start_then_terminate
        from nixgen.cli import main
        main(["check-syntax", "--option", "substituters", "", sys.argv[1]])
    """, str(good))
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.strip() == "nixgen: terminated"
    pid = int(proc.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped (and reaped) on the way out
