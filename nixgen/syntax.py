"""Syntax layer: parse Nix source with tree-sitter-nix and report syntax errors.

The tree-sitter ``Language``, ``Parser`` and the error query (``grammars/errors.scm``) are
created once and cached. Errors come back as :class:`nixgen.errors.NixSyntaxError` with the
file, a 1-based line, a 1-based column counted in characters, the offending line's text and a
message a user can act on.

The PyPI grammar has one known gap: a trailing comma in a function's argument set
(``{ lib, stdenv, }:`` parses with a zero-width MISSING identifier, ``{ a ? 1, }:`` with an
ERROR around the comma). Nix accepts both, so :func:`syntax_errors` ignores exactly those.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import tree_sitter
import tree_sitter_nix

from nixgen.errors import NixSyntaxError

Node = tree_sitter.Node
Tree = tree_sitter.Tree

__all__ = [
    "Node",
    "Tree",
    "check",
    "language",
    "line_col",
    "parse",
    "query",
    "syntax_errors",
]


@cache
def language() -> tree_sitter.Language:
    """The tree-sitter-nix language (created once)."""
    return tree_sitter.Language(tree_sitter_nix.language())


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(language())


@cache
def query(name: str) -> tree_sitter.Query:
    """The compiled query ``nixgen/grammars/<name>.scm`` (loaded once, on first use)."""
    from importlib import resources  # only needed once errors are looked for

    text = resources.files("nixgen").joinpath("grammars", f"{name}.scm").read_text("utf-8")
    return tree_sitter.Query(language(), text)


def parse(data: bytes | str, old_tree: Tree | None = None) -> Tree:
    """Parse Nix source into a tree-sitter tree. ``old_tree`` (already ``edit()``-ed) makes it incremental.

    The result is always the tree a fresh parse gives: tree-sitter's error recovery depends on
    the old tree, so where the old or the new tree has a syntax error the source is parsed
    afresh.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    parser = _parser()
    if old_tree is None or old_tree.root_node.has_error:
        return parser.parse(data)
    tree = parser.parse(data, old_tree)
    return parser.parse(data) if tree.root_node.has_error else tree


def line_col(data: bytes, byte_offset: int) -> tuple[int, int]:
    """1-based line and 1-based column (in characters) of ``byte_offset`` in ``data``."""
    byte_offset = max(0, min(byte_offset, len(data)))
    line_start = data.rfind(b"\n", 0, byte_offset) + 1
    line = data.count(b"\n", 0, byte_offset) + 1
    col = len(data[line_start:byte_offset].decode("utf-8", "replace")) + 1
    return line, col


def _line_text(data: bytes, byte_offset: int) -> str:
    start = data.rfind(b"\n", 0, byte_offset) + 1
    end = data.find(b"\n", byte_offset)
    if end < 0:
        end = len(data)
    return data[start:end].decode("utf-8", "replace").rstrip("\r")


def _next_char(data: bytes, pos: int) -> bytes:
    """The first byte at or after ``pos`` that is not whitespace or comment (b'' at the end)."""
    pos = _next_token(data, pos)
    return data[pos : pos + 1]


def _next_token(data: bytes, pos: int) -> int:
    """Offset of the first byte at or after ``pos`` that is not whitespace or comment."""
    n = len(data)
    while pos < n:
        if data[pos] in b" \t\r\n":
            pos += 1
        elif data[pos : pos + 1] == b"#":
            nl = data.find(b"\n", pos)
            pos = n if nl < 0 else nl + 1
        elif data[pos : pos + 2] == b"/*":
            close = data.find(b"*/", pos + 2)
            pos = n if close < 0 else close + 2
        else:
            break
    return pos


def _is_formals_gap(node: Node, data: bytes) -> bool:
    """True for the trailing-comma-in-formals artefacts that Nix itself accepts."""
    parent = node.parent
    if node.is_missing and node.type == "identifier" and parent is not None:
        formals = parent.parent if parent.type == "formal" else None
        return formals is not None and formals.type == "formals" and (
            _next_char(data, node.end_byte) == b"}"
        )
    if node.type == "ERROR" and parent is not None and parent.type == "formals":
        text = data[node.start_byte : node.end_byte].strip()
        return text == b"," and _next_char(data, node.end_byte) == b"}"
    return False


def _token_text(node: Node, data: bytes) -> str:
    leaf = node
    while leaf.child_count:
        leaf = leaf.children[0]
    text = data[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
    if not text:
        text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    return text.split("\n", 1)[0][:20]


def _message(node: Node, data: bytes) -> str:
    if node.is_missing:
        kind = node.type
        if kind in _VALUE_KINDS:
            return "expected an expression or a name here"
        return f"expected '{kind}'"
    if node.parent is not None and node.parent.type == "let_attrset_expression":
        return "expected 'in' after the 'let' bindings"
    token = _token_text(node, data)
    if token in {'"', "''"}:
        return "unterminated string (no closing " + ("'')" if token == "''" else '")')
    if not token:
        return "unexpected end of file"
    return f"unexpected '{token}'"


def _error_start(node: Node, data: bytes) -> int:
    """Where to report ``node``'s error.

    A missing value or name (or an empty ERROR) has no extent: Nix reports it at the token
    that came instead (``y = ;`` at the ``;``), not on the blank before it; at the end of the
    file, where the input stopped. A missing ``;`` or bracket stays where it belongs, right
    after what precedes it.
    """
    start = node.start_byte
    if node.end_byte != start:
        return start
    if not (node.type == "ERROR" or node.type in _VALUE_KINDS):
        return start
    following = _next_token(data, start)
    return following if following < len(data) else start


_VALUE_KINDS = frozenset({"identifier", "variable_expression"})


def _error(node_start: int, message: str, data: bytes, file: str | None) -> NixSyntaxError:
    line, col = line_col(data, node_start)
    return NixSyntaxError(
        message, file=file, line=line, col=col, source_line=_line_text(data, node_start)
    )


def syntax_errors(tree: Tree, data: bytes, file: str | None = None) -> list[NixSyntaxError]:
    """Every syntax error in ``tree`` in source order (the known formals gap excluded)."""
    root = tree.root_node
    errors: list[tuple[int, NixSyntaxError]] = []
    if root.named_child_count == 0 or all(c.type == "comment" for c in root.named_children):
        errors.append((len(data), _error(len(data), "empty file: expected a Nix expression", data, file)))
    if not root.has_error:
        return [e for _, e in errors]
    captures: dict[str, Any] = tree_sitter.QueryCursor(query("errors")).captures(root)
    seen: set[int] = set()
    for node in [*captures.get("error", []), *captures.get("missing", [])]:
        if _is_formals_gap(node, data):
            continue
        # An ERROR nested in another ERROR is the same problem: keep the outermost.
        anc = node.parent
        nested = False
        while anc is not None:
            if anc.type == "ERROR":
                nested = True
                break
            anc = anc.parent
        start = _error_start(node, data)
        if nested or start in seen:
            continue
        seen.add(start)
        errors.append((start, _error(start, _message(node, data), data, file)))
    errors.sort(key=lambda item: item[0])
    return [e for _, e in errors]


def check(data: bytes | str, file: str | None = None) -> Tree:
    """Parse ``data`` and return the tree; raise the first :class:`NixSyntaxError` if any."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    tree = parse(data)
    errors = syntax_errors(tree, data, file)
    if errors:
        raise errors[0]
    return tree
