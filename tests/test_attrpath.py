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


# -- escaped dollars: fixed names, read as Nix reads them ----------------------------------------

# Keys whose names are fixed although they hold ``$`` (escaped or not followed by ``{``).
FIXED_DOLLAR_KEYS = [r'"a\$b"', r'"\${x}"', r'"\$"', '"$"', '"a$"', '"$${x}"', r'"$\${x}"', '"$$"']


def _nix_names(source: str, nix_instantiate: str) -> list[str]:
    import json
    import subprocess

    from conftest import NIX_OFFLINE

    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E",
         f"builtins.attrNames ({source})"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(proc.stdout)


@pytest.mark.parametrize("key", FIXED_DOLLAR_KEYS)
def test_escaped_dollar_key_is_the_name_nix_reads(key: str, nix_instantiate: str) -> None:
    source = f"{{ {key} = 0; }}"
    data = source.encode()
    path = syntax.parse(data).root_node.named_children[0].named_children[0]
    attrpath = path.named_children[0].child_by_field_name("attrpath")
    [(name, _)] = attr_names(attrpath, data)
    assert not isinstance(name, Dynamic)
    assert [name] == _nix_names(source, nix_instantiate)
    # the user's spelling of the same key means the same name, and writes back to it
    assert parse_path(key) == (name,)
    assert _nix_names(f"{{ {quote_attr(name)} = 0; }}", nix_instantiate) == [name]


@pytest.mark.parametrize("key", [r'"\\${x}"', '"$$${x}"', '"a${x}"', '"${x}$"'])
def test_a_real_interpolation_after_dollars_is_dynamic(key: str, nix_instantiate: str) -> None:
    source = f'let x = "q"; in {{ {key} = 0; }}'
    data = source.encode()
    attrset = syntax.parse(data).root_node.named_children[0].child_by_field_name("body")
    attrpath = attrset.named_children[0].named_children[0].child_by_field_name("attrpath")
    [(name, _)] = attr_names(attrpath, data)
    assert isinstance(name, Dynamic)
    assert isinstance(parse_path(key)[0], Dynamic)
    # Nix does interpolate it: the name it reads holds the variable's value
    assert "q" in _nix_names(source, nix_instantiate)[0]
