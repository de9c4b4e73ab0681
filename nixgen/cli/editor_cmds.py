"""Editor front ends: ``nixgen lsp`` (language server on stdio) and ``nixgen edit --json``."""

from __future__ import annotations

import json
import sys

import typer

from nixgen.cli.app import app


@app.command("lsp")
def lsp_command(
    stdio: bool = typer.Option(True, "--stdio", help="Speak LSP on stdin/stdout (the default)."),
) -> None:
    """Run the nixgen language server (LSP over stdin/stdout)."""
    from nixgen.lsp import serve

    serve()


@app.command("edit")
def edit_command(
    as_json: bool = typer.Option(False, "--json", help="Read a JSON request on stdin, print JSON."),
) -> None:
    """Compute an editor rewrite: {"text", "operation", "args", "path"?} in, edits out."""
    from nixgen.errors import NixgenError, UsageError

    if not as_json:
        raise UsageError("nixgen edit needs --json (a JSON request on stdin)")
    from nixgen.editjson import error_json, handle

    raw = sys.stdin.read()
    try:
        try:
            request = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"the request on stdin is not JSON: {exc}") from None
        response = handle(request)
    except NixgenError as err:
        sys.stdout.write(json.dumps(error_json(err), ensure_ascii=False) + "\n")
        sys.stderr.write(f"nixgen: error: {err}\n")
        raise typer.Exit(err.exit_code) from None
    sys.stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
