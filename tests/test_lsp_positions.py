"""Byte offsets <-> LSP positions: UTF-16 columns, and lines split on \\n, \\r\\n and \\r."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_lsp_client import offset_of

from nixgen.edits import Edit
from nixgen.lsp_positions import LineIndex, Pos, point

TEXT = st.lists(
    st.sampled_from(["a", " ", "\n", "\r", "\r\n", "é", "😀", "中", "\t", "x"]), max_size=40
).map("".join)


def test_utf16_columns_count_surrogate_pairs_twice() -> None:
    text = "# café 😀 x\nb"
    data = text.encode()
    index = LineIndex(data)
    assert index.position(data.index(b"x")) == Pos(0, 10)
    assert index.offset(0, 10) == data.index(b"x")
    assert index.position(data.index(b"b")) == Pos(1, 0)


def test_crlf_and_lone_cr_end_lines() -> None:
    data = b"a\r\nb\rc\nd"
    index = LineIndex(data)
    assert index.line_count == 4
    assert [index.position(data.index(ch)) for ch in (b"a", b"b", b"c", b"d")] == [
        Pos(0, 0), Pos(1, 0), Pos(2, 0), Pos(3, 0)]
    # a column past the end of a line stops before its terminator
    assert index.offset(0, 99) == 1
    assert index.offset(99, 0) == len(data)


def test_other_encodings() -> None:
    data = "é😀x".encode()
    assert LineIndex(data, "utf-8").position(data.index(b"x")) == Pos(0, 6)
    assert LineIndex(data, "utf-32").position(data.index(b"x")) == Pos(0, 2)
    assert LineIndex(data, "utf-32").offset(0, 2) == data.index(b"x")


def test_text_edits_are_lsp_shaped() -> None:
    data = "é\nab".encode()
    edits = LineIndex(data).text_edits([Edit(data.index(b"b"), data.index(b"b") + 1, "Z")])
    assert edits == [{"range": {"start": {"line": 1, "character": 1},
                                "end": {"line": 1, "character": 2}}, "newText": "Z"}]


def test_tree_sitter_point_counts_bytes_after_newline() -> None:
    data = "é\nab".encode()
    assert point(data, len(data)) == (1, 2)
    assert point(data, 2) == (0, 2)


@given(TEXT)
def test_round_trip_at_every_character(text: str) -> None:
    data = text.encode()
    index = LineIndex(data)
    for i in range(len(text) + 1):
        if 0 < i < len(text) and text[i - 1] == "\r" and text[i] == "\n":
            continue  # between \r and \n is not a position a client can name
        offset = len(text[:i].encode())
        pos = index.position(offset)
        assert index.offset(pos.line, pos.character) == offset
        # an independent reading of the same position lands on the same character
        assert offset_of(text, pos.line, pos.character) == i


@given(TEXT, st.integers(0, 60), st.integers(0, 6), TEXT)
def test_updated_index_equals_a_fresh_one(text: str, at: int, width: int, new: str) -> None:
    data = text.encode()
    start = min(at, len(data))
    end = min(start + width, len(data))
    new_data = data[:start] + new.encode() + data[end:]
    try:
        new_data.decode()
    except UnicodeDecodeError:
        return  # a split character: not an edit a client can send
    fresh = LineIndex(new_data)
    updated = LineIndex(data).updated(start, end, new_data)
    assert (updated.starts, updated.ends) == (fresh.starts, fresh.ends)
