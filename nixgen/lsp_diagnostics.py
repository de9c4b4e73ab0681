"""Diagnostics of a buffer for editors: syntax errors with exact ranges, plus check findings.

Produces LSP ``Diagnostic`` objects as JSON-ready dicts (UTF-16 ranges). Findings come from
``nixgen.checks``; a failing check never hides the syntax errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixgen.editops import same_path
from nixgen.lsp_positions import LineIndex
from nixgen.offsets import byte_offset

if TYPE_CHECKING:
    from nixgen.checks.model import Finding

SEVERITY = {"error": 1, "warning": 2, "info": 3, "information": 3, "note": 3, "hint": 4}
SOURCE = "nixgen"


@dataclass(frozen=True)
class SyntaxProblem:
    start: int
    end: int
    message: str


def syntax_problems(tree: Any, data: bytes) -> list[SyntaxProblem]:
    """Syntax errors of ``tree`` as byte spans (the error or missing node's extent)."""
    from nixgen import syntax

    problems = []
    for err in syntax.syntax_errors(tree, data):
        start = byte_offset(data, err.line or 1, err.col or 1)
        end = start
        node = tree.root_node.descendant_for_byte_range(start, start)
        while node is not None:
            if (node.type == "ERROR" or node.is_missing) and node.start_byte == start:
                end = node.end_byte
                break
            node = node.parent
        if end == start and start < len(data):
            # at least the character at the error, not past the line's end
            nxt = start + 1
            while nxt < len(data) and (data[nxt] & 0xC0) == 0x80:
                nxt += 1
            if data[start : start + 1] not in (b"\n", b"\r"):
                end = nxt
        if end > start:
            stop = data.find(b"\n", start, end)
            if stop > start:
                end = stop
        problems.append(SyntaxProblem(start, end, err.message))
    return problems


def diagnostic(index: LineIndex, start: int, end: int, message: str, *, severity: int = 1,
               code: str | None = None, data: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "range": index.lsp_range(start, end),
        "severity": severity,
        "source": SOURCE,
        "message": message,
    }
    if code is not None:
        out["code"] = code
    if data is not None:
        out["data"] = data
    return out


def check_findings(document: Any, path: Path | None,
                   buffers: Mapping[Path, bytes] | None = None) -> list[Any]:
    """Findings of ``nixgen check`` for ``document`` (other open ``buffers`` as they are)."""
    from nixgen.checks import check_document

    return list(check_document(document, path=path, buffers=buffers))


def _same(a: Path | None, b: Path | None) -> bool:
    return a is None or b is None or same_path(a, b)


def finding_diagnostic(index: LineIndex, finding: Finding) -> dict[str, Any]:
    out = diagnostic(index, finding.start_byte, finding.end_byte, finding.message,
                     severity=SEVERITY.get(finding.severity.lower(), 2), code=finding.code)
    related = [
        {
            "location": {
                "uri": Path(file).absolute().as_uri(),
                "range": {"start": {"line": max(line - 1, 0), "character": max(col - 1, 0)},
                          "end": {"line": max(line - 1, 0), "character": max(col - 1, 0)}},
            },
            "message": "defined here",
        }
        for file, line, col in finding.related
        if file and file != "<input>"
    ]
    if related:
        out["relatedInformation"] = related
    return out


def buffer_diagnostics(data: bytes, tree: Any, index: LineIndex, *, path: Path | None,
                       document: Callable[[], Any],
                       buffers: Mapping[Path, bytes] | None = None,
                       ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Diagnostics for a buffer and the check findings behind them (for quick fixes)."""
    problems = syntax_problems(tree, data)
    bom = byte_order_mark_findings(data, tree, path)
    out = [finding_diagnostic(index, f) for f in bom]
    out += [diagnostic(index, p.start, p.end, p.message, code="NG001") for p in problems]
    if problems:
        return out, bom
    findings: list[Any] = []
    try:
        doc = document()
        findings = [f for f in check_findings(doc, path, buffers)
                    if _same(f.file, path) and f.code != "NG001"]
    except Exception as exc:  # a broken check must not hide the rest
        out.append(diagnostic(index, 0, 0, f"nixgen check failed: {exc}", severity=4))
        return out, bom
    out.extend(finding_diagnostic(index, f) for f in findings)
    return out, bom + findings


def byte_order_mark_findings(data: bytes, tree: Any, path: Path | None) -> list[Any]:
    """``nixgen check``'s NG001 for a buffer starting with a UTF-8 byte order mark (which Nix
    rejects and tree-sitter skips), with its fix; [] for any other buffer."""
    if not data.startswith(b"\xef\xbb\xbf"):
        return []
    from nixgen.checks.runner import check_source

    return [f for f in check_source(data, path, tree=tree, select=["NG001"])
            if f.start_byte == 0 and f.fix is not None]
