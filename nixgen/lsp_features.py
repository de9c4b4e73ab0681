"""The LSP features of the nixgen language server: text sync, diagnostics, code actions,
hover and document symbols.

Every handler works on the server's own buffers (``nixgen.lsp_buffer.Buffer``). A handler
that cannot do its job on a broken buffer answers with nothing rather than an error, except
where the client asked for a change (commands), which :mod:`nixgen.lsp` answers with an error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from nixgen.editops import same_path
from nixgen.lsp_outline import (
    buffer_containers,
    container_at,
    describe,
    int_list,
    logical_path_at,
    top_level_bindings,
)

if TYPE_CHECKING:
    from nixgen.lsp import NixgenServer
    from nixgen.lsp_buffer import Buffer

log = logging.getLogger(__name__)

CODE_ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorRewrite,
]


def register(server: NixgenServer) -> None:
    """Register the features on ``server``."""
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                   types.CodeActionOptions(code_action_kinds=CODE_ACTION_KINDS))(code_action)
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover)
    server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(document_symbol)


def did_open(ls: NixgenServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    buf = ls.open_buffer(doc.uri, doc.text, doc.version)
    ls.publish(buf)


def did_change(ls: NixgenServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    buf = ls.buffers.get(uri)
    if buf is None:
        # a change for a document the server never saw: take the client's full text
        text = ls.workspace.get_text_document(uri).source
        buf = ls.open_buffer(uri, text, params.text_document.version)
    else:
        try:
            for change in params.content_changes:
                buf.apply_change(change)
        except Exception:
            # never lose sync: fall back to the client's full text as pygls tracked it
            log.exception("applying a change failed; re-reading the whole text")
            buf.replace_all(ls.workspace.get_text_document(uri).source.encode("utf-8"))
        buf.version = params.text_document.version
    ls.publish_later(buf)


def did_close(ls: NixgenServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.cancel_publish(uri)
    ls.buffers.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _document(buf: Buffer) -> Any | None:
    try:
        return buf.document()
    except Exception:
        return None


def _suggest_container(document: Any) -> tuple[str, int]:
    """A free container name and a port that no container in this buffer uses."""
    names: set[str] = set()
    ports: set[int] = {22}
    if document is not None:
        try:
            for item in buffer_containers(document):
                names.add(item.name)
                ports.update(item.ports)
            for binding in document.get(("services", "openssh", "ports")):
                ports.update(int_list(binding))
        except Exception:
            log.exception("listing containers failed")
    n = 1
    while f"container{n}" in names:
        n += 1
    port = 2022
    while port in ports:
        port += 1
    return f"container{n}", port


def code_action(ls: NixgenServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    buf = ls.buffer(params.text_document.uri)
    index = buf.index
    start = index.offset(params.range.start.line, params.range.start.character)
    end = index.offset(params.range.end.line, params.range.end.character)
    only = params.context.only if params.context else None
    actions: list[types.CodeAction] = []
    actions.extend(_quick_fixes(ls, buf, start, end, params))
    document = _document(buf)
    if document is not None:
        actions.extend(_refactors(ls, buf, document, start))
    if only:
        wanted = [_kind(k) for k in only]
        actions = [a for a in actions if a.kind and any(
            _kind(a.kind) == k or _kind(a.kind).startswith(f"{k}.") for k in wanted)]
    return actions


def _kind(kind: Any) -> str:
    return str(getattr(kind, "value", kind))


def _quick_fixes(ls: NixgenServer, buf: Buffer, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    out: list[types.CodeAction] = []
    if buf.findings_data is not buf.data:
        return out  # findings of an older text: their spans no longer fit
    for finding in buf.findings:
        fix = finding.fix
        if fix is None:
            continue
        f_start, f_end = finding.start_byte, finding.end_byte
        if f_end < start or f_start > end:
            continue
        matching = [d for d in (params.context.diagnostics if params.context else [])
                    if d.code == finding.code]
        out.append(types.CodeAction(
            title=f"{fix.description} ({finding.code})",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=matching or None,
            edit=ls.buffer_edit(buf, fix.edits),
            is_preferred=True,
        ))
    return out


def _refactors(ls: NixgenServer, buf: Buffer, document: Any,
               offset: int) -> list[types.CodeAction]:
    from nixgen import attrpath, convert_form

    out: list[types.CodeAction] = []
    try:
        for conv in convert_form.conversions_at(document, offset):
            out.append(types.CodeAction(
                title=conv.title, kind=types.CodeActionKind.RefactorRewrite,
                edit=ls.buffer_edit(buf, conv.edits)))
    except Exception:
        log.exception("dotted/nested conversion failed")
    try:
        item = container_at(document, offset)
        if item is not None:
            out.append(types.CodeAction(
                title=f"Remove container {item.name}", kind=types.CodeActionKind.Refactor,
                command=types.Command(title=f"Remove container {item.name}",
                                      command="nixgen.removeContainer",
                                      arguments=[{"uri": buf.uri, "name": item.name}])))
    except Exception:
        log.exception("container lookup failed")
    try:
        found = logical_path_at(document, offset)
    except Exception:
        log.exception("binding lookup failed")
        found = None
    if found is not None:
        _cursor_path, binding = found
        path = tuple(binding.path)
        if all(isinstance(p, str) for p in path):
            dotted = attrpath.format_path(path)
            out.append(types.CodeAction(
                title=f"Set option {dotted}…", kind=types.CodeActionKind.Refactor,
                command=types.Command(title=f"Set option {dotted}…",
                                      command="nixgen.setOption",
                                      arguments=[{"uri": buf.uri, "path": dotted,
                                                  "value": binding.text}])))
    name, port = _suggest_container(document)
    out.append(types.CodeAction(
        title="Add container…", kind=types.CodeActionKind.Refactor,
        command=types.Command(title="Add container…", command="nixgen.addContainer",
                              arguments=[{"uri": buf.uri, "name": name, "port": [port],
                                          "route": "config"}])))
    return out


def hover(ls: NixgenServer, params: types.HoverParams) -> types.Hover | None:
    buf = ls.buffer(params.text_document.uri)
    document = _document(buf)
    if document is None:
        return None
    offset = buf.index.offset(params.position.line, params.position.character)
    item = container_at(document, offset, name_only=True)
    if item is None:
        return None
    others = _definitions_elsewhere(ls, buf, item)
    from nixgen.lsp import _lsp_range

    node = document.tree.root_node.descendant_for_byte_range(offset, offset)
    while node is not None and node.parent is not None and node.parent.type != "attrpath":
        node = node.parent
    rng = None
    if node is not None and node.parent is not None:
        rng = _lsp_range(buf.index, node.start_byte, node.end_byte)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                   value=describe(item, document, others)),
                       range=rng)


def _definitions_elsewhere(ls: NixgenServer, buf: Buffer, item: Any) -> list[str]:
    """Where else (other files, followed through imports) the container is defined."""
    if buf.path is None:
        return []
    try:
        from nixgen import containers

        buffers = {**ls.other_buffers(buf.uri), buf.path: buf.data}
        found = containers.discover(buf.path, buffers=buffers)
    except Exception:
        return []
    out = []
    for c in found:
        if c.name != item.name or c.dialect != item.dialect:
            continue
        for b in c.definitions:
            if b.file is not None and not same_path(b.file, buf.path):
                out.append(f"{b.file}:{b.line}")
    return out


def document_symbol(ls: NixgenServer,
                    params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    buf = ls.buffer(params.text_document.uri)
    document = _document(buf)
    if document is None:
        return []
    from nixgen.lsp import _lsp_range

    index = buf.index
    data = buf.data
    out: list[types.DocumentSymbol] = []
    for item in buffer_containers(document):
        first = item.definitions[0].node
        key = first.child_by_field_name("attrpath") or first
        out.append(types.DocumentSymbol(
            name=item.name, kind=types.SymbolKind.Module,
            detail=f"{item.dialect} container, {item.route} route",
            range=_lsp_range(index, first.start_byte, first.end_byte),
            selection_range=_lsp_range(index, key.start_byte, key.end_byte)))
    for node in top_level_bindings(document):
        key = node.child_by_field_name("attrpath")
        if key is None:
            text = data[node.start_byte:node.end_byte].decode("utf-8", "replace")
            name = " ".join(text.rstrip(";").split())
            key = node
        else:
            name = data[key.start_byte:key.end_byte].decode("utf-8", "replace")
        out.append(types.DocumentSymbol(
            name=name, kind=types.SymbolKind.Property,
            range=_lsp_range(index, node.start_byte, node.end_byte),
            selection_range=_lsp_range(index, key.start_byte, key.end_byte)))
    return out
