"""Attribute paths: parsing the dotted notation, quoting, and names read from source."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nixgen import syntax
from nixgen.attrpath import (
    Dynamic,
    attr_names,
    format_path,
    is_identifier,
    parse_path,
    quote_attr,
)
from nixgen.errors import UsageError


def test_parse_plain_and_quoted() -> None:
    assert parse_path("services.openssh.ports") == ("services", "openssh", "ports")
    assert parse_path('users.users."alice-x".shell') == ("users", "users", "alice-x", "shell")
    assert parse_path('a."b.c".d') == ("a", "b.c", "d")
    assert parse_path('"a"') == ("a",)


def test_bare_names_with_dash_and_quote_are_read() -> None:
    assert parse_path("a.b-c.d'") == ("a", "b-c", "d'")


def test_escapes_in_quoted_segments() -> None:
    assert parse_path(r'a."x\"y"') == ("a", 'x"y')
    assert parse_path(r'a."x\\y"') == ("a", "x\\y")
    assert parse_path(r'a."l\nm"') == ("a", "l\nm")
    assert parse_path(r'a."\${x}"') == ("a", "${x}")


def test_interpolated_segments_are_dynamic() -> None:
    path = parse_path('a.${b}."${c}-x"')
    assert path[0] == "a"
    assert isinstance(path[1], Dynamic) and path[1].text == "${b}"
    assert isinstance(path[2], Dynamic)
    assert path[1] != "${b}" and path[1] != "b"
    assert Dynamic("x") != Dynamic("x")


@pytest.mark.parametrize("bad", ["", "a..b", "a.", '"a', ".a", "a.${b", "a b"])
def test_bad_paths(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_path(bad)


def test_format_path_quotes_when_needed() -> None:
    assert format_path(("a", "c-d")) == 'a."c-d"'
    assert format_path(("services", "openssh")) == "services.openssh"
    assert format_path(("let", "x y", "")) == '"let"."x y".""'
    assert quote_attr('q"${') == '"q\\"\\${"'


def test_is_identifier() -> None:
    assert is_identifier("foo_1")
    assert not is_identifier("1foo")
    assert not is_identifier("with")
    assert not is_identifier("a-b")


@given(st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=4))
def test_format_then_parse_round_trip(segs: list[str]) -> None:
    assert parse_path(format_path(segs)) == tuple(segs)


def _names(src: str) -> list[object]:
    data = src.encode()
    tree = syntax.parse(data)
    binding = tree.root_node.named_children[0].named_children[0].named_children[0]
    return [n for n, _ in attr_names(binding.child_by_field_name("attrpath"), data)]


def test_attr_names_from_source() -> None:
    assert _names('{ a."b-c".d = 1; }') == ["a", "b-c", "d"]
    assert _names(r'{ "x\"y\n" = 1; }') == ['x"y\n']
    assert _names('{ "foo" = 1; }') == _names("{ foo = 1; }")
    names = _names('{ ${x}."${y}z".w = 1; }')
    assert isinstance(names[0], Dynamic) and names[0].text == "${x}"
    assert isinstance(names[1], Dynamic) and names[1].text == '"${y}z"'
    assert names[2] == "w"
