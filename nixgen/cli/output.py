"""Terminal output shared by the commands: consoles, coloured diffs, JSON, and finishing a write.

rich is imported lazily so that commands which print little stay fast.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from nixgen.files import FileChange


@cache
def console() -> Console:
    """The stdout console (colour only on a terminal)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def err_console() -> Console:
    """The stderr console, for errors, warnings and progress."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout: plain text, stable key order as given."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def unified_diff(old: bytes, new: bytes, name: str) -> str:
    """A unified diff of two versions of a file, as text (CR kept visible as ``\\r``-free lines)."""
    a = old.decode("utf-8", "replace").splitlines(keepends=True)
    b = new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{name}", tofile=f"b/{name}")
    out = []
    for line in lines:
        stripped = line.rstrip("\r\n")
        out.append(stripped)
        if not line.endswith("\n"):
            out.append("\\ No newline at end of file")
    return "\n".join(out) + ("\n" if out else "")


def print_diff(old: bytes, new: bytes, name: str) -> None:
    """Print a coloured unified diff on stdout (plain when not a terminal)."""
    from rich.text import Text

    text = unified_diff(old, new, name)
    if not text:
        return
    out = Text()
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            out.append(line, style="bold")
        elif line.startswith("+"):
            out.append(line, style="green")
        elif line.startswith("-"):
            out.append(line, style="red")
        elif line.startswith("@@"):
            out.append(line, style="cyan")
        else:
            out.append(line)
    console().print(out, end="")


def finish(changes: Sequence[FileChange], *, dry_run: bool, quiet: bool = False) -> None:
    """Show (``dry_run``) or write the changes, all files as one transaction."""
    from nixgen.files import commit

    real = [c for c in changes if c.changed]
    if dry_run:
        for change in real:
            old = change.snapshot.data if change.snapshot else b""
            print_diff(old, change.new_data or b"", change.display_name)
        return
    if real:
        commit(real)
    if not quiet:
        for change in real:
            err_console().print(f"wrote {change.display_name}")
