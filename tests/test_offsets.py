"""Tests of nixgen.offsets: 1-based line and character column to a byte offset."""

from __future__ import annotations

from nixgen.offsets import byte_offset

DATA = "a = 1;\nb = \"é✓\";\nc\n".encode()


def test_first_place_is_offset_zero() -> None:
    assert byte_offset(DATA, 1, 1) == 0


def test_columns_count_characters_not_bytes() -> None:
    line_start = DATA.index(b"b")
    assert byte_offset(DATA, 2, 6) == line_start + 5
    assert byte_offset(DATA, 2, 7) == line_start + 5 + len("é".encode())
    assert DATA[byte_offset(DATA, 2, 8):].startswith(b'"')


def test_column_past_the_line_end_stops_at_the_line_end() -> None:
    assert byte_offset(DATA, 1, 99) == DATA.index(b"\n")


def test_line_past_the_end_is_the_end_of_the_data() -> None:
    assert byte_offset(DATA, 9, 1) == len(DATA)
    assert byte_offset(b"", 1, 1) == 0
