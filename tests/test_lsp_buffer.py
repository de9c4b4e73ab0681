"""Open buffers: LSP content changes become byte edits, and the tree is re-parsed
incrementally to exactly what a full parse gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_lsp_client import apply_text_edits

from nixgen import syntax
from nixgen.lsp_buffer import Buffer
from nixgen.lsp_positions import LineIndex

BASE = '{ config, ... }:\r\n{\n  # café 😀\n  a.b = [ 1 2 ];\r  c = "x";\n}\n'
PIECES = st.sampled_from(["", "a", " ", "\n", "\r\n", "é", "😀", "{", "}", ";", "= 1;", "\""])


@st.composite
def changes(draw: st.DrawFn) -> list[tuple[int, int, str]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, 200))
        j = draw(st.integers(0, 5))
        out.append((i, j, draw(PIECES)))
    return out


@given(changes())
def test_incremental_changes_match_a_fresh_parse(steps: list[tuple[int, int, str]]) -> None:
    text = BASE
    buf = Buffer("file:///x.nix", text.encode(), 1)
    for i, j, new in steps:
        start = min(i, len(text))
        end = min(start + j, len(text))
        if 0 < start < len(text) and text[start - 1] == "\r" and text[start] == "\n":
            start -= 1  # not a position a client can name
        if 0 < end < len(text) and text[end - 1] == "\r" and text[end] == "\n":
            end += 1
        index = LineIndex(text.encode())
        s = index.position(len(text[:start].encode()))
        e = index.position(len(text[:end].encode()))
        rng = {"start": {"line": s.line, "character": s.character},
               "end": {"line": e.line, "character": e.character}}
        text = apply_text_edits(text, [{"range": rng, "newText": new}])
        buf.apply_change({"range": rng, "text": new})
        assert buf.data == text.encode()
        assert str(buf.tree.root_node) == str(syntax.parse(buf.data).root_node)


def test_full_text_change_replaces_everything() -> None:
    buf = Buffer("file:///x.nix", b"{ }", 1)
    buf.apply_change({"text": "{ a = 1; }"})
    assert buf.data == b"{ a = 1; }"
    assert buf.document().get("a")[0].text == "1"


def test_document_is_cached_per_version_and_errors_are_raised() -> None:
    buf = Buffer("file:///x.nix", b"{ a = 1; }", 1)
    assert buf.document() is buf.document()
    buf.edit_bytes(6, 7, b"")
    try:
        buf.document()
    except Exception as exc:
        assert "line 1" in str(exc) or exc.__class__.__name__ == "NixSyntaxError"
    else:
        raise AssertionError("a broken buffer has no Document")
