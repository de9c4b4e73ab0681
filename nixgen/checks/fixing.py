"""Applying the fixes of findings: merging their edits, refusing broken results, rounds.

Fixes are applied in memory (a :class:`~nixgen.checks.runner.Workspace` of buffers), each
result verified by the document engine (``Document.apply``: no new syntax error) and
re-checked, until no fix is left; nothing is written here (the command line commits the
changed files as one transaction).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nixgen.checks.model import Finding
from nixgen.checks.runner import Workspace, check_paths
from nixgen.edits import Edit
from nixgen.errors import EditError


def _overlaps(a: Edit, b: Edit) -> bool:
    if a == b:
        return False
    if a.start == a.end == b.start == b.end:
        return True
    return a.start < b.end and b.start < a.end


def fix_edits(findings: Iterable[Finding]) -> list[Edit]:
    """The edits of every fix that does not collide with an earlier one (identical edits merge)."""
    accepted: list[Edit] = []
    for f in findings:
        if f.fix is None:
            continue
        edits = f.fix.edits
        if any(_overlaps(e, a) for e in edits for a in accepted):
            continue
        accepted.extend(e for e in edits if e not in accepted)
    return sorted(accepted)


def _apply(data: bytes, edits: Sequence[Edit]) -> bytes | None:
    """``data`` after ``edits`` through the document engine; None if that breaks the syntax."""
    from nixgen.document import Document

    try:
        doc = Document.from_text(data, check=False).apply(edits)
    except EditError:
        return None
    return doc.data if not doc.errors() else None


def apply_fixes(data: bytes, findings: Iterable[Finding]) -> bytes:
    """``data`` with the fixes of ``findings`` (all against these bytes) applied.

    Fixes that would collide are left for a later round; a result that would not parse is
    refused fix by fix, keeping the ones that parse.
    """
    fixable = [f for f in findings if f.fix is not None]
    if not fixable:
        return data
    new = _apply(data, fix_edits(fixable))
    if new is not None:
        return new
    kept: list[Finding] = []
    result = data
    for f in fixable:
        trial = _apply(data, fix_edits([*kept, f]))
        if trial is not None:
            kept.append(f)
            result = trial
    return result


@dataclass
class FixResult:
    """What ``--fix`` did: new bytes per changed file, and the findings that remain."""

    workspace: Workspace
    changed: dict[Path, bytes] = field(default_factory=dict)
    remaining: list[Finding] = field(default_factory=list)
    fixed: int = 0
    """Findings that had a fix and are gone: the unit of "N fixable with --fix"."""
    introduced: int = 0
    """Findings the fixes brought that were not there before (e.g. a renamed container's
    dialect has notes of its own)."""


def fix_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    buffers: Mapping[Path, bytes] | None = None,
    rounds: int = 5,
) -> FixResult:
    """Apply fixes in memory until none is left (at most ``rounds`` times); nothing is written."""
    roots = [Path(p) for p in paths]
    ws = Workspace(buffers)
    result = FixResult(ws)
    before = findings = check_paths(roots, select=select, ignore=ignore, workspace=ws)
    for _ in range(rounds):
        by_file: dict[Path, list[Finding]] = {}
        for f in findings:
            if f.fix is not None and f.file is not None:
                by_file.setdefault(f.file, []).append(f)
        progressed = False
        for file, fs in by_file.items():
            data = ws.read(file)
            new = apply_fixes(data, fs)
            if new != data:
                ws.set(file, new)
                real = os.path.realpath(file)
                for known in [k for k in result.changed if os.path.realpath(k) == real]:
                    del result.changed[known]
                result.changed[file] = new
                progressed = True
        if not progressed:
            break
        findings = check_paths(roots, select=select, ignore=ignore, workspace=ws)
    result.remaining = findings
    result.fixed, result.introduced = _compare(before, result.remaining)
    return result


def _identity(f: Finding) -> tuple[str, str | None, str]:
    """What makes two findings the same one across fixes (lines may move; the file, code and
    message stay)."""
    return f.code, os.path.realpath(f.file) if f.file is not None else None, f.message


def _compare(before: Sequence[Finding], after: Sequence[Finding]) -> tuple[int, int]:
    """(fixable findings of ``before`` gone from ``after``, findings of ``after`` that are new)."""
    left = Counter(_identity(f) for f in after)
    fixed = 0
    for f in before:
        key = _identity(f)
        if left[key] > 0:
            left[key] -= 1
        elif f.fix is not None:
            fixed += 1
    return fixed, sum(left.values())
