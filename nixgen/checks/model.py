"""The data a check produces: findings, their fixes, and the table of rule codes.

A :class:`Finding` is one problem at one place in one file; its optional :class:`Fix` is a
tuple of :class:`nixgen.edits.Edit` against that same file's bytes. Codes are stable: tools,
``--select``/``--ignore`` and editors rely on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nixgen.edits import Edit
from nixgen.errors import UsageError

ERROR = "error"
WARNING = "warning"
NOTE = "note"
SEVERITIES = (ERROR, WARNING, NOTE)


@dataclass(frozen=True)
class Rule:
    """One rule: its stable code, default severity and a one-line summary."""

    code: str
    severity: str
    summary: str
    fixable: bool = False


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("NG001", ERROR, "syntax error (a byte order mark is removed by the fix)", fixable=True),
        Rule("NG101", ERROR, "attribute defined twice (Nix rejects the file)"),
        Rule("NG102", ERROR, "dotted key beside a value that is not an attribute set literal"),
        Rule("NG103", NOTE, "dotted key beside a literal attribute set that Nix merges"),
        Rule("NG201", WARNING, "pkgs.lib used on the module spine", fixable=True),
        Rule("NG202", ERROR, "top-level name NixOS rejects beside options/config",
             fixable=True),
        Rule("NG203", ERROR, "imports entry naming a path that does not exist"),
        Rule("NG301", ERROR, "container port clash on the host's network"),
        Rule("NG302", ERROR, "container name not usable"),
        Rule("NG303", WARNING, "path-route container file without boot.isContainer = true",
             fixable=True),
        Rule("NG304", WARNING, "container profile path outside the dialect's layout"),
        Rule("NG401", WARNING, "container isolation note"),
        Rule("NG501", WARNING, "legacy option name mixed with its modern name", fixable=True),
    )
}


@dataclass(frozen=True)
class Fix:
    """A safe rewrite for a finding: byte edits against the finding's file."""

    description: str
    edits: tuple[Edit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "edits": [{"start": e.start, "end": e.end, "text": e.text} for e in self.edits],
        }


@dataclass(frozen=True)
class Finding:
    """One problem at one place. Lines and columns are 1-based (columns in characters).

    ``related`` holds ``(file, line, col)`` of the other place involved (the first
    definition of a duplicate, the other user of a port, the other container's name).
    """

    code: str
    severity: str
    message: str
    file: Path | None
    line: int
    col: int
    end_line: int
    end_col: int
    start_byte: int
    end_byte: int
    fix: Fix | None = None
    related: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)

    @property
    def display_file(self) -> str:
        return str(self.file) if self.file is not None else "<input>"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.display_file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
            "start_byte": self.start_byte,
            "end_byte": self.end_byte,
            "fix": self.fix.to_json() if self.fix else None,
            "related": [{"file": f, "line": ln, "col": c} for f, ln, c in self.related],
        }


def normalise_codes(values: Iterable[str] | None) -> tuple[str, ...]:
    """Split comma-separated codes, upper-case them, and refuse ones that match no rule."""
    out: list[str] = []
    for value in values or ():
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if code != "ALL" and not any(c.startswith(code) for c in RULES):
                known = ", ".join(RULES)
                raise UsageError(f"unknown rule code {part.strip()!r} (known: {known})")
            out.append(code)
    return tuple(out)


def code_enabled(code: str, select: Iterable[str] | None, ignore: Iterable[str] | None) -> bool:
    """Whether ``code`` survives ``select`` (prefixes; empty = all) and ``ignore`` (prefixes)."""
    sel = tuple(select or ())
    if sel and not any(s == "ALL" or code.startswith(s) for s in sel):
        return False
    return not any(i == "ALL" or code.startswith(i) for i in ignore or ())
