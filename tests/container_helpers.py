"""Helpers shared by the container tests: fixture configurations and well-formed SSH keys."""

from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path

from conftest import FIXTURES

CONTAINER_FIXTURES = FIXTURES / "containers"


def ssh_key(kind: str = "ssh-ed25519", comment: str = "me@host") -> str:
    """A well-formed public key line (random-looking body of the right shape)."""
    body = struct.pack(">I", len(kind)) + kind.encode() + struct.pack(">I", 32) + bytes(range(32))
    return f"{kind} {base64.b64encode(body).decode()} {comment}"


def copy_configuration(tmp_path: Path, name: str) -> Path:
    """A copy of the fixture folder ``containers/NAME`` in ``tmp_path``; its configuration.nix."""
    shutil.copytree(CONTAINER_FIXTURES / name, tmp_path / name)
    return tmp_path / name / "configuration.nix"
