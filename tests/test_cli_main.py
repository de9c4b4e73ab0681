"""The command line's frame: every mistake is one line on stderr with the documented exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["add-container", "foo", "--bogus"], "No such option: --bogus"),
        (["add-container", "foo", "--port", "abc"], "'abc' is not a valid int"),
        (["add-container"], "Missing argument 'NAME'"),
        (["set", "a.b"], "Missing argument 'VALUE'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_usage_mistakes_are_one_line_with_exit_2(args: list[str], needle: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nixgen: error: ")
    assert needle in lines[0]
    assert "--help" in lines[0]
    assert "Traceback" not in proc.stderr


def test_no_arguments_shows_the_commands() -> None:
    proc = run_cli()
    assert proc.returncode == 2
    assert "add-container" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_help_exits_zero_and_lists_every_command() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("get", "set", "add-container", "build", "eval", "check", "lsp", "gen", "undo"):
        assert command in proc.stdout


def test_an_error_is_one_line_with_location_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    config = tmp_path / "configuration.nix"
    config.write_text('{\n  a = "x;\n}\n')
    proc = run_cli("get", "a", "-f", str(config))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nixgen: error: {config}:")
    debug = run_cli("--debug", "get", "a", "-f", str(config))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
