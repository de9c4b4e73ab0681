"""The command line's frame: every mistake is one line on stderr with the documented exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import STAND_IN_NIXOS, run_cli


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


def _processes_with(token: str) -> list[str]:
    """Command lines of running processes that mention ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if token in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.parametrize(("signum", "status", "word"), [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "terminated"),
])
def test_a_stopped_build_stops_nix_and_changes_no_profile(
    tmp_path: Path, nix_tools: dict[str, str], signum: int, status: int, word: str
) -> None:
    token = f"nixgen-slow-{uuid.uuid4().hex[:12]}"
    config = tmp_path / "configuration.nix"
    config.write_text(
        "{ pkgs, ... }:\n{\n  environment.systemPackages = [\n"
        f'    (derivation {{ name = "{token}"; system = builtins.currentSystem;\n'
        f'      builder = "/bin/sh"; args = [ "-c" "/bin/sleep 600; : {token}" ]; }})\n'
        "  ];\n}\n"
    )
    profiles = tmp_path / "profiles"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nixgen", "build", "-f", str(config), "--nixos",
         str(STAND_IN_NIXOS), "--profile-dir", str(profiles), "--option", "substituters", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not any(c.startswith("sh -c") for c in _processes_with(token)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the slow build never started"
            time.sleep(0.1)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # stop it the way that also stops Nix, then for good
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1] == f"nixgen: {word}"
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while _processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(token) == []
    assert not (profiles / "system").exists()
