"""Exact comparison of values in Nix, for the tests that check Python against the real Nix.

``SAME_FUNCTION`` is a ``let`` binding (indented for a top-level ``let``) of ``same``: a Nix
function comparing two values deeply and exactly, types included, so 1 and 1.0 differ and
floats are compared bit for bit through ``==``. A checker file built around it takes
``{ json, file }``: the expected values as JSON and the file to import.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import NIX_OFFLINE

SAME_FUNCTION = """\
  same = a: b:
    builtins.typeOf a == builtins.typeOf b
    && (
      if builtins.isAttrs a then
        builtins.attrNames a == builtins.attrNames b
        && builtins.all (n: same a.${n} b.${n}) (builtins.attrNames a)
      else if builtins.isList a then
        builtins.length a == builtins.length b
        && builtins.all (i: same (builtins.elemAt a i) (builtins.elemAt b i))
          (builtins.genList (i: i) (builtins.length a))
      else a == b
    );
"""


def run_checker(
    nix_instantiate: str, checker: Path, expected_json: str, file: Path, *, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Evaluate ``checker`` strictly to JSON with ``json`` = ``expected_json`` and ``file``."""
    return subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(checker),
         "--argstr", "json", expected_json, "--arg", "file", str(file)],
        capture_output=True, timeout=timeout,
    )
