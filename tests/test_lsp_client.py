"""A small LSP client for tests and benchmarks: runs ``python -m nixgen lsp`` as a subprocess
and speaks JSON-RPC with Content-Length framing over its stdin/stdout.

Server-to-client requests (``workspace/applyEdit``) are answered by a callback; notifications
(``publishDiagnostics``, ``showMessage``) are collected.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class LspError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message", "")


class LspClient:
    """A real client process pair: this object and ``nixgen lsp``."""

    def __init__(self, *, timeout: float = 60.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nixgen", "lsp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=ROOT, env=env,
        )
        self.timeout = timeout
        self._next_id = 0
        self._responses: dict[Any, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.apply_edit: Callable[[dict[str, Any]], dict[str, Any]] = lambda p: {"applied": True}
        self.applied: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    # --- transport ---------------------------------------------------------------------

    def send_raw(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8"))

    def _read_message(self) -> dict[str, Any] | None:
        out = self.proc.stdout
        assert out is not None
        length = None
        while True:
            line = out.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                if length is not None:
                    break
                continue
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return json.loads(out.read(length))

    def _read_loop(self) -> None:
        while True:
            msg = self._read_message()
            if msg is None:
                return
            if "method" in msg and "id" in msg:
                self._answer_server_request(msg)
            elif "method" in msg:
                self.notifications.put(msg)
            else:
                with self._lock:
                    q = self._responses.setdefault(msg.get("id"), queue.Queue())
                q.put(msg)

    def _answer_server_request(self, msg: dict[str, Any]) -> None:
        if msg["method"] == "workspace/applyEdit":
            self.applied.append(msg["params"])
            result: Any = self.apply_edit(msg["params"])
        else:
            result = None
        self.send({"id": msg["id"], "result": result})

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    # --- requests ----------------------------------------------------------------------

    def request_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def wait_response(self, msg_id: Any) -> dict[str, Any]:
        with self._lock:
            q = self._responses.setdefault(msg_id, queue.Queue())
        try:
            return q.get(timeout=self.timeout)
        except queue.Empty:
            raise AssertionError(f"no response to request {msg_id}; stderr:\n{self.stderr}") from None

    def request_raw(self, method: str, params: Any) -> dict[str, Any]:
        msg_id = self.request_id()
        self.send({"id": msg_id, "method": method, "params": params})
        return self.wait_response(msg_id)

    def request(self, method: str, params: Any) -> Any:
        msg = self.request_raw(method, params)
        if "error" in msg:
            raise LspError(msg["error"])
        return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def wait_notification(self, method: str, predicate: Callable[[dict[str, Any]], bool]
                          = lambda p: True) -> dict[str, Any]:
        while True:
            try:
                msg = self.notifications.get(timeout=self.timeout)
            except queue.Empty:
                raise AssertionError(f"no {method} notification; stderr:\n{self.stderr}") from None
            if msg["method"] == method and predicate(msg["params"]):
                return msg["params"]

    # --- LSP conveniences --------------------------------------------------------------

    def initialize(self, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        caps = capabilities if capabilities is not None else {
            "workspace": {"applyEdit": True, "workspaceEdit": {
                "documentChanges": True, "resourceOperations": ["create", "delete"]}},
        }
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": None,
                                             "capabilities": caps})
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> dict[str, Any]:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "nix", "version": version, "text": text}})
        return self.wait_notification("textDocument/publishDiagnostics",
                                      lambda p: p["uri"] == uri and p.get("version") == version)

    def change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> dict[str, Any]:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": changes})
        return self.wait_notification("textDocument/publishDiagnostics",
                                      lambda p: p["uri"] == uri and p.get("version") == version)

    def code_actions(self, uri: str, line: int, character: int,
                     diagnostics: list[Any] | None = None) -> list[dict[str, Any]]:
        pos = {"line": line, "character": character}
        return self.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos},
            "context": {"diagnostics": diagnostics or []}}) or []

    def execute(self, command: str, *arguments: Any) -> Any:
        return self.request("workspace/executeCommand",
                            {"command": command, "arguments": list(arguments)})

    def shutdown(self) -> int:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            return self.proc.wait(timeout=self.timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- applying what the server sends ------------------------------------------------------

def _split_lines(text: str) -> list[str]:
    """Lines with their terminators, split as LSP does (\\n, \\r\\n, \\r)."""
    out: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\r":
            end = i + 2 if i + 1 < n and text[i + 1] == "\n" else i + 1
            out.append(text[start:end])
            start = i = end
            continue
        if ch == "\n":
            out.append(text[start:i + 1])
            start = i + 1
        i += 1
    out.append(text[start:])
    return out


def offset_of(text: str, line: int, character: int) -> int:
    """Index into ``text`` of an LSP position (UTF-16 columns), computed independently."""
    lines = _split_lines(text)
    base = sum(len(x) for x in lines[:line])
    content = lines[line].rstrip("\r\n") if line < len(lines) else ""
    units = 0
    i = 0
    while i < len(content) and units < character:
        units += len(content[i].encode("utf-16-le")) // 2
        i += 1
    return base + i


def apply_text_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply LSP TextEdits (all against the same original text)."""
    spans = []
    for e in edits:
        r = e["range"]
        s = offset_of(text, r["start"]["line"], r["start"]["character"])
        t = offset_of(text, r["end"]["line"], r["end"]["character"])
        spans.append((s, t, e["newText"]))
    for s, t, new in sorted(spans, reverse=True):
        text = text[:s] + new + text[t:]
    return text


def edits_for(workspace_edit: dict[str, Any], uri: str) -> list[dict[str, Any]]:
    """The TextEdits for ``uri`` in a WorkspaceEdit (documentChanges or changes)."""
    out: list[dict[str, Any]] = []
    for change in workspace_edit.get("documentChanges") or []:
        if change.get("textDocument", {}).get("uri") == uri:
            out.extend(change["edits"])
    out.extend((workspace_edit.get("changes") or {}).get(uri, []))
    return out


def test_offset_of_reads_utf16_columns_and_all_line_ends() -> None:
    text = "a😀b\r\nc\rd\n"
    assert offset_of(text, 0, 3) == text.index("b")
    assert offset_of(text, 1, 0) == text.index("c")
    assert offset_of(text, 2, 0) == text.index("d")
    assert offset_of(text, 0, 99) == text.index("\r")


def test_apply_text_edits_applies_against_the_original() -> None:
    text = "ab\ncd\n"
    edits = [
        {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}},
         "newText": "X"},
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
         "newText": "1\n"},
    ]
    assert apply_text_edits(text, edits) == "1\nab\nXd\n"
