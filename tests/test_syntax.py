"""Syntax layer: tree-sitter parse, syntax errors with file:line:col, the formals gap."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import nix_parse_ok

from nixgen import syntax
from nixgen.errors import NixSyntaxError


def first_error(src: str) -> NixSyntaxError:
    with pytest.raises(NixSyntaxError) as info:
        syntax.check(src.encode(), file="conf.nix")
    return info.value


def test_parse_returns_tree_with_expression() -> None:
    tree = syntax.parse(b"{ a = 1; }")
    assert tree.root_node.type == "source_code"
    assert tree.root_node.named_children[0].type == "attrset_expression"
    assert syntax.parse("{ a = 1; }").root_node.has_error is False


def test_parse_is_cached_parser() -> None:
    assert syntax._parser() is syntax._parser()
    assert syntax.language() is syntax.language()
    assert syntax.query("errors") is syntax.query("errors")


def test_incremental_parse_with_old_tree() -> None:
    old = b"{ a = 1; }"
    tree = syntax.parse(old)
    tree.edit(6, 7, 8, (0, 6), (0, 7), (0, 8))
    new = syntax.parse(b"{ a = 22; }", tree)
    assert new.root_node.named_children[0].text == b"{ a = 22; }"


def test_incremental_parse_of_broken_source_is_the_fresh_parse() -> None:
    # tree-sitter's error recovery depends on the old tree: reusing one that has errors can
    # give another tree than a fresh parse of the same bytes
    data = '{ config, ... }:\r\n{\n  # café 😀\n  a.b == 1; [ 1 2 ];\r  c = "x";\n}\n'.encode()
    fresh = str(syntax.parse(data).root_node)
    tree = syntax.parse(data)
    assert tree.root_node.has_error
    for _ in range(3):
        tree = syntax.parse(data, tree)
        assert str(tree.root_node) == fresh


def test_unterminated_string(nix_instantiate: str) -> None:
    src = '{\n  a = 1;\n  b = "open;\n  c = 2;\n}\n'
    err = first_error(src)
    assert (err.file, err.line, err.col) == ("conf.nix", 3, 7)
    assert "unterminated string" in err.message
    assert err.source_line == '  b = "open;'
    assert str(err).startswith("conf.nix:3:7: ")
    assert not nix_parse_ok(src, nix_instantiate)[0]


def test_unterminated_indented_string() -> None:
    err = first_error("{ a = ''open; }")
    assert err.line == 1 and err.col == 7
    assert "unterminated string" in err.message


def test_missing_semicolon(nix_instantiate: str) -> None:
    src = "{\n  a = 1\n}\n"
    err = first_error(src)
    assert err.message == "expected ';'"
    assert (err.line, err.col) == (2, 8)
    assert not nix_parse_ok(src, nix_instantiate)[0]


def test_stray_closing_brace(nix_instantiate: str) -> None:
    src = "{\n  a = 1;\n}\n}\n"
    err = first_error(src)
    assert err.message == "unexpected '}'"
    assert (err.line, err.col) == (4, 1)
    assert err.source_line == "}"
    assert not nix_parse_ok(src, nix_instantiate)[0]


def test_let_without_in(nix_instantiate: str) -> None:
    src = "{ ... }:\nlet\n  a = 1;\n{ b = a; }\n"
    assert not nix_parse_ok(src, nix_instantiate)[0]
    err = first_error(src)
    assert "expected 'in'" in err.message and err.line == 3


def test_missing_closing_brace() -> None:
    err = first_error("{ a = 1;\n")
    assert err.message == "expected '}'"


def test_column_counts_characters_not_bytes() -> None:
    err = first_error('{ "é" = "ü"; b = "x; }')
    assert err.line == 1
    assert err.col == 18  # the quote after `b = `, counted in characters


@pytest.mark.parametrize("src", ["", "   \n", "# only a comment\n"])
def test_empty_file_is_an_error_as_in_nix(src: str, nix_instantiate: str) -> None:
    assert not nix_parse_ok(src, nix_instantiate)[0]
    err = first_error(src)
    assert "empty file" in err.message


@pytest.mark.parametrize(
    "src",
    [
        "{ lib, stdenv, }: lib",
        "{ a ? 1, }: a",
        "{ a ? 1, b, }: a",
        "{\n  lib,\n  pkgs ? import <nixpkgs> { },\n}:\n{ x = 1; }\n",
        "{ config, pkgs, ... }: { }",
        "{\n  lib,\n  # comment\n}:\nlib",
        "{ lib, /* c */ }: lib",
        "{ lib ? 1, # c\n}: lib",
        "args@{ lib, }: lib",
        "{ lib, }@args: lib",
    ],
)
def test_trailing_comma_in_formals_is_accepted(src: str, nix_instantiate: str) -> None:
    assert nix_parse_ok(src, nix_instantiate)[0], "Nix itself accepts this"
    assert syntax.syntax_errors(syntax.parse(src), src.encode()) == []
    syntax.check(src)


def test_other_formals_errors_still_reported(nix_instantiate: str) -> None:
    src = "{ a,, b }: a"
    assert not nix_parse_ok(src, nix_instantiate)[0]
    assert syntax.syntax_errors(syntax.parse(src), src.encode())


def test_errors_are_sorted_and_complete() -> None:
    src = b'{\n  a = 1\n  b = "x;\n}\n'
    errors = syntax.syntax_errors(syntax.parse(src), src, "f.nix")
    assert errors
    lines = [e.line for e in errors]
    assert lines == sorted(lines)
    assert all(e.file == "f.nix" for e in errors)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(0, (1, 1)), (3, (1, 4)), (4, (2, 1)), (7, (2, 3)), (8, (2, 4))],
)
def test_line_col(offset: int, expected: tuple[int, int]) -> None:
    data = "abc\nxéz\n".encode()
    assert syntax.line_col(data, offset) == expected


def test_line_col_crlf() -> None:
    data = b"a\r\nbc"
    assert syntax.line_col(data, 3) == (2, 1)
    assert syntax.line_col(data, 4) == (2, 2)


@pytest.mark.parametrize(("src", "where"), [
    ("{ x = 1; y = ; }\n", (1, 14)),
    ("{\n  y =\n    # nothing yet\n    ;\n}\n", (4, 5)),
    ("let a = 1; in\n", (1, 14)),  # at the end of the input, where it stopped
])
def test_missing_value_is_reported_at_the_next_token_as_nix_does(
        src: str, where: tuple[int, int], tmp_path: Path, nix_instantiate: str) -> None:
    err = first_error(src)
    assert err.message == "expected an expression or a name here"
    assert (err.line, err.col) == where
    path = tmp_path / "f.nix"
    path.write_text(src)
    proc = subprocess.run([nix_instantiate, "--parse", str(path)], capture_output=True, text=True)
    assert f"at {path}:{where[0]}:{where[1]}:" in proc.stderr
