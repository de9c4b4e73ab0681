"""Shared test set-up: hypothesis profiles, the real-Nix requirement, and common helpers.

Under ``CI=true`` property tests are derandomized (reproducible) and a missing Nix is a
failure, never a skip. Locally they run with more examples.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIGS = FIXTURES / "configs"
STAND_IN_NIXOS = FIXTURES / "nixos"

# Nix has no network here: never wait on a binary cache.
NIX_OFFLINE = ["--option", "substituters", ""]

def pytest_configure(config: pytest.Config) -> None:
    """Keep undo records of the whole run (every process it starts) out of the user's own
    state folder: a temporary one, removed at the end."""
    if "NIXGEN_STATE_DIR" not in os.environ:
        os.environ["NIXGEN_STATE_DIR"] = tempfile.mkdtemp(prefix="nixgen-test-state-")
        config.stash[_STATE_KEY] = os.environ["NIXGEN_STATE_DIR"]


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE_KEY, None)
    if state is not None:
        shutil.rmtree(state, ignore_errors=True)
        os.environ.pop("NIXGEN_STATE_DIR", None)


_STATE_KEY = pytest.StashKey[str]()

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (apt-get install -y nix-bin)"
        if IN_CI:
            pytest.fail(message + " - CI must install it", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def nix_instantiate() -> str:
    """Path of the real nix-instantiate; a failure under CI=true when missing."""
    return _require("nix-instantiate")


@pytest.fixture(scope="session")
def nix_tools() -> dict[str, str]:
    """Paths of the real nix-instantiate, nix-store and nix-env."""
    return {b: _require(b) for b in ("nix-instantiate", "nix-store", "nix-env")}


def nix_parse_ok(source: bytes | str, nix_instantiate: str = "nix-instantiate") -> tuple[bool, str]:
    """Ask the real Nix parser whether ``source`` is valid Nix. Returns (ok, stderr)."""
    data = source.encode() if isinstance(source, str) else source
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--parse", "-"],
        input=data,
        capture_output=True,
        timeout=60,
    )
    return proc.returncode == 0, proc.stderr.decode("utf-8", "replace")


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``nixgen`` command line as a subprocess."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nixgen", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
