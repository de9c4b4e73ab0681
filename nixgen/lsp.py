"""The nixgen language server (``nixgen lsp``): the CLI's rewrites on an editor's unsaved buffer.

Speaks LSP over stdio through pygls: incremental text sync with an incrementally re-parsed
tree per buffer, diagnostics (syntax errors and ``nixgen check`` findings), code actions
(add/remove container, set option, dotted/nested conversion, check quick fixes),
``workspace/executeCommand`` for ``nixgen.addContainer``, ``nixgen.removeContainer``,
``nixgen.setOption`` and ``nixgen.deleteOption`` (answered with a ``workspace/applyEdit`` of
minimal text edits), hover on container names and document symbols. A bad request gets an
LSP error response with a readable message; nothing a client sends stops the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from nixgen import __version__
from nixgen.editops import FileEdits, OperationResult, run_operation, same_path
from nixgen.errors import NixgenError, NixSyntaxError, UsageError, ValidationError
from nixgen.lsp_buffer import Buffer
from nixgen.lsp_diagnostics import buffer_diagnostics
from nixgen.lsp_positions import LineIndex

log = logging.getLogger(__name__)

COMMANDS: dict[str, str] = {
    "nixgen.addContainer": "add-container",
    "nixgen.removeContainer": "remove-container",
    "nixgen.setOption": "set",
    "nixgen.deleteOption": "delete",
}
# Diagnostics (which run nixgen check) wait for a pause in typing this long, in seconds.
DIAGNOSTICS_DELAY = 0.15
REQUEST_FAILED = -32803
INVALID_PARAMS = -32602


class RequestFailed(JsonRpcException):
    """The request was valid but could not be carried out (LSP ``RequestFailed``)."""

    CODE = REQUEST_FAILED
    MESSAGE = "Request failed"


class _Malformed:
    """A request whose parameters do not fit its method (answered with an error)."""

    def __init__(self, msg_id: Any, method: str, detail: str) -> None:
        self.id = msg_id
        self.method = method
        self.detail = detail


def _cattrs_detail(exc: BaseException) -> str:
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    try:
        from cattrs import transform_error

        return "; ".join(transform_error(cause)) or str(cause)  # type: ignore[arg-type]
    except Exception:
        return str(cause)


class NixgenProtocol(LanguageServerProtocol):
    """pygls' protocol, answering requests with malformed parameters instead of dropping them."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "method" in data and data.get("id") is not None:
                return _Malformed(data["id"], str(data["method"]), _cattrs_detail(exc))
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Malformed):
            self._send_response(
                message.id,
                error=types.ResponseError(
                    code=INVALID_PARAMS,
                    message=f"invalid parameters for {message.method}: {message.detail}",
                ),
            )
            return
        super().handle_message(message)


class NixgenServer(LanguageServer):
    """The language server: open buffers by URI plus the LSP features."""

    def __init__(self) -> None:
        super().__init__("nixgen", __version__, protocol_cls=NixgenProtocol)
        self.buffers: dict[str, Buffer] = {}
        self._pending: dict[str, asyncio.TimerHandle] = {}

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, json.JSONDecodeError):
            self.protocol._send_data({
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32700, "message": f"Parse error: not JSON ({error})"},
            })
            return
        super().report_server_error(error, source)

    # --- buffers ------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        try:
            chosen = self.workspace.position_encoding or "utf-16"
        except RuntimeError:
            return "utf-16"
        return str(getattr(chosen, "value", chosen))

    def open_buffer(self, uri: str, text: str, version: int | None) -> Buffer:
        buf = Buffer(uri, text.encode("utf-8"), version, _path_of(uri), self.encoding)
        self.buffers[uri] = buf
        return buf

    def buffer(self, uri: Any) -> Buffer:
        if not isinstance(uri, str) or not uri:
            raise JsonRpcInvalidParams("argument 'uri': expected the document's URI (a string)")
        buf = self.buffers.get(uri)
        if buf is not None:
            return buf
        path = _path_of(uri)
        if path is None or not path.is_file():
            raise JsonRpcInvalidParams(f"document {uri} is not open and not a readable file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RequestFailed(f"cannot read {path}: {exc.strerror}") from None
        return Buffer(uri, data, None, path, self.encoding)

    def other_buffers(self, uri: str) -> dict[Path, bytes]:
        return {b.path: b.data for u, b in self.buffers.items() if u != uri and b.path}

    def publish_later(self, buf: Buffer, delay: float = DIAGNOSTICS_DELAY) -> None:
        """Publish diagnostics once the buffer has not changed for ``delay`` seconds."""
        self.cancel_publish(buf.uri)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish(buf)
            return
        self._pending[buf.uri] = loop.call_later(delay, self._publish_if_current, buf.uri,
                                                 buf.version, buf.data)

    def cancel_publish(self, uri: str) -> None:
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    def _publish_if_current(self, uri: str, version: int | None, data: bytes) -> None:
        self._pending.pop(uri, None)
        buf = self.buffers.get(uri)
        if buf is not None and buf.version == version and buf.data is data:
            self.publish(buf)

    def publish(self, buf: Buffer) -> None:
        try:
            diags, findings = buffer_diagnostics(buf.data, buf.tree, buf.index, path=buf.path,
                                                 document=buf.document,
                                                 buffers=self.other_buffers(buf.uri))
        except Exception as exc:
            log.exception("diagnostics failed")
            diags, findings = [], []
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Error, f"nixgen: diagnostics failed: {exc}"))
        buf.findings = findings
        buf.findings_data = buf.data
        converter = self.protocol._converter
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=buf.uri,
            version=buf.version,
            diagnostics=[converter.structure(d, types.Diagnostic) for d in diags],
        ))

    # --- edits --------------------------------------------------------------------------

    def _supports(self) -> tuple[bool, set[str]]:
        """(documentChanges supported, the resource operations the client allows)."""
        caps = self.client_capabilities
        ws = caps.workspace.workspace_edit if caps and caps.workspace else None
        doc_changes = bool(ws and ws.document_changes)
        ops = {str(getattr(op, "value", op)) for op in (ws.resource_operations or [])} if (
            ws and doc_changes) else set()
        return doc_changes, ops

    def _check_apply_edit(self) -> None:
        caps = self.client_capabilities
        if not (caps and caps.workspace and caps.workspace.apply_edit):
            raise RequestFailed(
                "this editor does not accept workspace/applyEdit from a language server, so "
                "the change cannot be made; use `nixgen edit --json` or the command line"
            )

    def workspace_edit(self, result: OperationResult, buf: Buffer) -> types.WorkspaceEdit:
        """A WorkspaceEdit of minimal TextEdits (and CreateFile where a file is new)."""
        doc_changes_ok, resource_ops = self._supports()
        document_changes: list[Any] = []
        changes: dict[str, list[types.TextEdit]] = {}
        for f in result.files:
            if f.delete:
                if "delete" not in resource_ops:
                    raise RequestFailed(
                        f"this change deletes the file {f.path}, and this editor does not let "
                        "a language server delete files; run the same nixgen command in a "
                        "terminal instead")
                document_changes.append(types.DeleteFile(uri=f.path.absolute().as_uri()))
                continue
            if not f.edits and not f.create:
                continue
            if f.is_buffer:
                uri, other = buf.uri, buf
            else:
                uri = f.path.absolute().as_uri()
                other = self.buffers.get(uri) or next(
                    (b for b in self.buffers.values() if b.path and same_path(b.path, f.path)), None)
                if other is not None:
                    uri = other.uri
            index = other.index if other is not None and other.data == f.old else LineIndex(
                f.old, self.encoding)
            edits = text_edits(index, f.edits)
            if f.create:
                if "create" not in resource_ops:
                    raise RequestFailed(
                        f"this change creates the file {f.path}, and this editor does not let a "
                        "language server create files (workspace.workspaceEdit.resourceOperations "
                        "'create'); run the same nixgen command in a terminal instead"
                    )
                document_changes.append(types.CreateFile(
                    uri=uri, options=types.CreateFileOptions(overwrite=False,
                                                             ignore_if_exists=False)))
                document_changes.append(types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri,
                                                                                version=None),
                    edits=edits))
                continue
            version = other.version if other is not None else None
            document_changes.append(types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri,
                                                                            version=version),
                edits=edits))
            changes.setdefault(uri, []).extend(edits)
        if doc_changes_ok:
            return types.WorkspaceEdit(document_changes=document_changes)
        return types.WorkspaceEdit(changes=changes)

    def buffer_edit(self, buf: Buffer, edits: Any) -> types.WorkspaceEdit:
        file = FileEdits(buf.path or Path("buffer.nix"), buf.data, list(edits), is_buffer=True)
        return self.workspace_edit(OperationResult([file]), buf)

    async def run_command(self, operation: str, arguments: tuple[Any, ...]) -> dict[str, Any]:
        if len(arguments) != 1 or not isinstance(arguments[0], Mapping):
            raise JsonRpcInvalidParams(
                "expected exactly one argument: a JSON object with 'uri' and the options, e.g. "
                '{"uri": "file:///etc/nixos/configuration.nix", "name": "foo", "port": [2022]}'
            )
        args = dict(arguments[0])
        buf = self.buffer(args.pop("uri", None))
        self._check_apply_edit()
        result = self.operation(buf, operation, args)
        if result.noop:
            return {"applied": False, "noop": True,
                    "summary": result.summary or "nothing to change"}
        edit = self.workspace_edit(result, buf)
        response = await self.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=f"nixgen: {result.summary}"
                                           if result.summary else "nixgen"))
        applied = bool(getattr(response, "applied", False))
        out: dict[str, Any] = {"applied": applied, "noop": False, "summary": result.summary}
        if not applied:
            out["failureReason"] = getattr(response, "failure_reason", None)
        return out

    def operation(self, buf: Buffer, operation: str, args: dict[str, Any]) -> OperationResult:
        """Run an editor operation on a buffer, turning nixgen errors into LSP errors."""
        try:
            return run_operation(operation, args, data=buf.data, path=buf.path,
                                 buffers=self.other_buffers(buf.uri), document=buf.document)
        except (ValidationError, UsageError) as err:
            raise JsonRpcInvalidParams(str(err)) from None
        except NixSyntaxError as err:
            raise RequestFailed(_syntax_message(err, buf)) from None
        except NixgenError as err:
            raise RequestFailed(str(err)) from None
        except JsonRpcException:
            raise
        except Exception as exc:
            log.exception("%s failed", operation)
            raise JsonRpcInternalError(f"nixgen {operation} failed: {exc}") from None


def _syntax_message(err: NixgenError, buf: Buffer) -> str:
    where = ""
    if err.line is not None:
        where = f"line {err.line}" + (f":{err.col}" if err.col is not None else "") + ": "
    if err.file is not None and buf.path is not None and not same_path(Path(err.file), buf.path):
        return (f"cannot edit: {err.file} (used by this file) has a syntax error at "
                f"{where}{err.message}")
    return f"cannot edit while the buffer has a syntax error: {where}{err.message}"


def _path_of(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def text_edits(index: LineIndex, edits: Any) -> list[types.TextEdit]:
    return [types.TextEdit(range=_lsp_range(index, e.start, e.end), new_text=e.text)
            for e in sorted(edits)]


def _lsp_range(index: LineIndex, start: int, end: int) -> types.Range:
    s = index.position(start)
    e = index.position(end)
    return types.Range(types.Position(s.line, s.character), types.Position(e.line, e.character))


def create_server() -> NixgenServer:
    """A server with every feature registered."""
    from nixgen import lsp_features

    server = NixgenServer()
    lsp_features.register(server)
    for command, operation in COMMANDS.items():
        server.command(command)(_command_handler(operation))
    return server


def _command_handler(operation: str) -> Callable[..., Any]:
    async def handler(ls: NixgenServer, *args: Any) -> dict[str, Any]:
        return await ls.run_command(operation, args)

    handler.__name__ = f"command_{operation.replace('-', '_')}"
    return handler


def serve() -> None:
    """Run the language server on stdin/stdout until the client says exit."""
    create_server().start_io()
