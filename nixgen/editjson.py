"""``nixgen edit --json``: the language server's rewrites for editors that do not speak LSP.

Request (one JSON object): ``{"text": …, "operation": …, "args": {…}, "path": …?}``; ``path``
names the buffer's file (for relative imports and the container file of the path route).
Response: ``{"edits": [TextEdit…], "diagnostics": [Diagnostic…], "files": […], "summary",
"noop"}`` with LSP-style ranges (0-based lines, UTF-16 columns). ``edits`` change ``text``;
``files`` lists changes to other files (``create`` true for a new file, ``delete`` true for
a file to remove). The diagnostics are
those of ``text`` as given, as the language server would publish them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nixgen import syntax
from nixgen.editops import run_operation
from nixgen.errors import NixgenError, ValidationError
from nixgen.lsp_diagnostics import buffer_diagnostics
from nixgen.lsp_positions import LineIndex


def _request_fields(request: Any) -> tuple[str, str, dict[str, Any], Path | None]:
    if not isinstance(request, Mapping):
        raise ValidationError("the request must be one JSON object")
    unknown = sorted(set(request) - {"text", "operation", "args", "path"})
    if unknown:
        raise ValidationError(f"unknown request field(s): {', '.join(unknown)}; "
                              "expected text, operation, args, path")
    text = request.get("text")
    if not isinstance(text, str):
        raise ValidationError("'text' must be the buffer's text (a string)")
    operation = request.get("operation")
    if not isinstance(operation, str):
        raise ValidationError("'operation' must be a string such as \"add-container\" or \"set\"")
    args = request.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ValidationError("'args' must be a JSON object")
    raw_path = request.get("path")
    if raw_path is not None and not isinstance(raw_path, str):
        raise ValidationError("'path' must be a string")
    path = Path(raw_path).absolute() if raw_path else None
    return text, operation, dict(args), path


def handle(request: Any) -> dict[str, Any]:
    """Answer one ``edit --json`` request; raises NixgenError on a bad request."""
    text, operation, args, path = _request_fields(request)
    data = text.encode("utf-8")
    index = LineIndex(data)
    tree = syntax.parse(data)
    document_cache: list[Any] = []

    def document() -> Any:
        if not document_cache:
            from nixgen.document import Document

            document_cache.append(Document.from_text(data, path=path, tree=tree))
        return document_cache[0]

    diagnostics, _findings = buffer_diagnostics(data, tree, index, path=path, document=document)
    result = run_operation(operation, args, data=data, path=path, document=document)
    files = []
    for f in result.files:
        if f.is_buffer or not (f.edits or f.create or f.delete):
            continue
        files.append({
            "path": str(f.path),
            "create": f.create,
            "delete": f.delete,
            "edits": LineIndex(f.old).text_edits(f.edits),
        })
    return {
        "edits": index.text_edits(result.buffer_edits()),
        "diagnostics": diagnostics,
        "files": files,
        "summary": result.summary,
        "noop": result.noop,
    }


def error_json(err: NixgenError) -> dict[str, Any]:
    """The JSON form of an error for ``edit --json``."""
    out: dict[str, Any] = {"kind": type(err).__name__, "message": err.message}
    if err.file is not None:
        out["file"] = err.file
    if err.line is not None:
        out["line"] = err.line
    if err.col is not None:
        out["col"] = err.col
    return {"error": out}
