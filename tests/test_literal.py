"""Tests of nixgen.literal: the Python evaluator is checked against the real Nix.

Every literal it finds in the fixture corpus, and generated strings, numbers and values, are
evaluated by both; they must agree exactly (types, float bits). Non-literals must come back
as Unevaluated.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from conftest import CONFIGS
from hypothesis import given
from hypothesis import strategies as st
from nix_compare import SAME_FUNCTION, run_checker

from nixgen.emit import to_nix
from nixgen.literal import (
    INT_MAX,
    INT_MIN,
    Unevaluated,
    decode_indented_string,
    decode_string,
    literal_value,
)
from nixgen.syntax import parse

# Deep, exact comparison in Nix (types included, floats through ==); paths are compared as
# { __path = <canonical string>; }.
COMPARE_NIX = """
{ json, file }:
let
  expected = builtins.fromJSON json;
  actual = import file;
  norm = v:
    if builtins.isPath v then { __path = toString v; }
    else if builtins.isAttrs v then builtins.mapAttrs (n: norm) v
    else if builtins.isList v then map norm v
    else v;
""" + SAME_FUNCTION + """\
in builtins.genList (i: same (builtins.elemAt expected i) (norm (builtins.elemAt actual i)))
  (builtins.length expected)
"""


def _jsonable(v: Any, base: Path) -> Any:
    if isinstance(v, PurePosixPath):
        return {"__path": os.path.normpath(os.path.join(base, str(v)))}
    if isinstance(v, dict):
        return {k: _jsonable(x, base) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x, base) for x in v]
    return v


def nix_agrees(nix_instantiate: str, tmp: Path, snippets: list[bytes], values: list[Any]) -> None:
    """Evaluate each snippet (Nix source bytes) with Nix; each must equal its Python value."""
    if not snippets:
        return
    file = tmp / "values.nix"
    file.write_bytes(b"[\n" + b"".join(b"(" + s + b"\n)\n" for s in snippets) + b"]\n")
    checker = tmp / "compare.nix"
    checker.write_text(COMPARE_NIX)
    expected = json.dumps([_jsonable(v, tmp) for v in values], ensure_ascii=False)
    proc = run_checker(nix_instantiate, checker, expected, file, timeout=300)
    assert proc.returncode == 0, (
        "Nix rejected what the literal evaluator accepted:\n" + proc.stderr.decode()
    )
    verdicts = json.loads(proc.stdout)
    wrong = [(s.decode("utf-8", "replace"), v) for s, v, ok in zip(snippets, values, verdicts,
                                                                  strict=True) if not ok]
    assert not wrong, f"literal_value disagrees with Nix: {wrong[:5]!r}"


def _expressions(node: Any):
    """Every expression node below ``node``."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type.endswith("_expression"):
            yield n
        stack.extend(n.named_children)


def _source_value(src: bytes) -> object:
    tree = parse(src)
    root = tree.root_node
    exprs = [c for c in root.named_children if c.type != "comment"]
    if len(exprs) != 1:
        return Unevaluated("source_code", src.decode())
    return literal_value(exprs[0], src)


def identical(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1, and floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(identical, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    return a == b


# --- the fixture corpus -------------------------------------------------------------------

CORPUS = sorted(p for p in CONFIGS.rglob("*.nix") if "rejected-by-nix" not in p.parts)


@pytest.mark.skipif(not CORPUS, reason="no fixture configurations yet")
def test_every_literal_in_the_corpus_agrees_with_nix(nix_instantiate, tmp_path):
    total = 0
    for path in CORPUS:
        data = path.read_bytes()
        tree = parse(data)
        if tree.root_node.has_error:
            continue
        seen: set[tuple[int, int]] = set()
        snippets: list[bytes] = []
        values: list[Any] = []
        for node in _expressions(tree.root_node):
            span = (node.start_byte, node.end_byte)
            if span in seen:
                continue
            seen.add(span)
            value = literal_value(node, data)
            if isinstance(value, Unevaluated):
                assert value.kind == node.type
                assert value.text == data[span[0]:span[1]].decode()
                continue
            snippets.append(data[span[0]:span[1]])
            values.append(value)
        sub = tmp_path / path.stem
        sub.mkdir()
        nix_agrees(nix_instantiate, sub, snippets, values)
        total += len(values)
    assert total > 50, "the corpus should hold many literals"


# --- hand-written cases ------------------------------------------------------------------------

LITERALS = [
    b"1", b"007", b"9223372036854775807", b"-9223372036854775807", b"1.5", b"1.", b".5",
    b"1.e3", b"1.5E+3", b"0.0", b"-0.0", b"- -1", b"-(1)", b"-(-2.5)", b"1.0e-07",
    b"2.2250738585072014e-308", b"1.7976931348623157e308", b"0.1e-6",
    b'""', b'"a\\nb\\tc\\rd\\\\e\\"f\\$g\\qh"', b'"\\${x}"', b'"$${x}"', b'"$$"', b'"a$"',
    b'"$\\{"', b'"x\r\ny\rz"', b'"\\\r\n"', b"\"tab\there\"",
    b"''\n  a\n  b\n''", b"''  a\n  b''", b"''\n    a\n  b\n  ''", b"''\n  ''$\n    x''",
    b"''\n  '''\n  ''\\n\n  ''\\t''", b"''\n  ''\\ x\n  y''", b"''\n  $$ $x 'a ''",
    b"''\n    \n''", b"''\n\ta\n''", b"''\r\n  a\r\n''", b"''''", b"'' ''", b"''\n''",
    b"''a'b''", b"''\n  x\n   ''", b"''\n  '''$ ''${x}''",
    b"true", b"false", b"null", b"[ ]", b"[ 1 (-1) [ true ] { } ]", b"{ }",
    b"{ a = 1; b.c = 2; b.d = [ ]; \"e f\" = null; }", b"{ a = { c = 2; }; a.b = 1; }",
    b"{ a.b = 1; a = { c = 2; }; }", b"{ a = { c = 2; }; a = { b = 1; }; }",
    b"{ a = ({ c = 2; }); a.b = 1; }", b"{ a = { c.d = 2; }; a.c.e = 1; }",
    b"{ a = 1; } // { b = 2; } // { a = 3; }", b"({ a = 1; } // { a.b = 2; })",
    b"./a/b.nix", b"/etc/nixos", b"../x", b"a/b", b"./a+b-c_d.e",
    b"https://example.org/a?b=c", b"{ a = 1; /* c */ b = [ 1 # x\n 2 ]; }", b"(((1)))",
    b"!true", b"!false", b"''a''$b''", b"1/2", b"[ 1.5 .3 ]",
]


def test_hand_written_literals_agree_with_nix(nix_instantiate, tmp_path):
    values = [_source_value(src) for src in LITERALS]
    unevaluated = [src for src, v in zip(LITERALS, values, strict=True)
                   if isinstance(v, Unevaluated)]
    assert not unevaluated
    nix_agrees(nix_instantiate, tmp_path, LITERALS, values)


def test_some_exact_values():
    assert identical(_source_value(b"-0.0"), 0.0)
    assert identical(_source_value(b"1."), 1.0)
    assert identical(_source_value(b"007"), 7)
    assert _source_value(b"''\n  a\n  ''") == "a\n"
    assert _source_value(b"./a/b.nix") == PurePosixPath("a/b.nix")
    assert _source_value(b'"$${x}"') == "$${x}"
    assert _source_value(b"{ a = 1; } // { a = 2; b = 3; }") == {"a": 2, "b": 3}


NON_LITERALS = [
    (b"a + 1", "binary_expression"), (b'"${x}"', "string_expression"),
    (b"''${x}''", "indented_string_expression"), (b"import ./x.nix", "apply_expression"),
    (b"rec { a = 1; }", "rec_attrset_expression"), (b"rec { }", "rec_attrset_expression"),
    (b"let a = 1; in a", "let_expression"), (b"x: x", "function_expression"),
    (b"pkgs.vim", "select_expression"), (b"[ 1 x ]", "list_expression"),
    (b"{ inherit x; }", "attrset_expression"), (b"{ ${x} = 1; }", "attrset_expression"),
    (b'{ ${"a"} = 1; }', "attrset_expression"), (b"{ a = 1; a = 2; }", "attrset_expression"),
    (b"{ a = 1; a.b = 2; }", "attrset_expression"), (b"{ a.b = 1; a.b.c = 1; }",
                                                     "attrset_expression"),
    (b"{ a = {} // { c = 2; }; a.b = 1; }", "attrset_expression"),
    (b"{ a = { c.d = 1; }; a = { c.e = 2; }; }", "attrset_expression"),
    (b"{ a = rec { c = 2; }; a.b = 1; }", "attrset_expression"),
    (b"9223372036854775808", "integer_expression"), (b"-9223372036854775808", "unary_expression"),
    (b"1.0e400", "float_expression"), (b"1.0e-400", "float_expression"),
    (b"5.0e-324", "float_expression"), (b"2.5e-310", "float_expression"),
    (b"1e-07", "apply_expression"), (b"~/x", "hpath_expression"),
    (b"<nixpkgs>", "spath_expression"), (b"./a/${x}", "path_expression"),
    (b"a//b", "path_expression"), (b"-true", "unary_expression"), (b"!1", "unary_expression"),
    (b"-\"a\"", "unary_expression"), (b"{ a = 1; } // [ ]", "binary_expression"),
    (b"1 // 2", "binary_expression"), (b"if true then 1 else 2", "if_expression"),
    (b"let true = false; in [ true ]", "let_expression"), (b"true.x", "select_expression"),
    (b"[ ./a/b/ ]", "list_expression"), (b"[ a/b/ ]", "list_expression"),
]


@pytest.mark.parametrize(("src", "kind"), NON_LITERALS)
def test_non_literals_are_unevaluated(src, kind):
    value = _source_value(src)
    assert isinstance(value, Unevaluated), value
    assert value.kind == kind
    assert value.text == src.decode()


def test_shadowed_constants_are_not_literals():
    src = b"{ true, ... }: { a = true; b = [ null ]; }"
    tree = parse(src)
    values = {}
    for node in _expressions(tree.root_node):
        if node.type == "variable_expression":
            values[node.text.decode()] = literal_value(node, src)
    assert isinstance(values["true"], Unevaluated)
    assert values["null"] is None
    src = b"let null = 1; in rec { false = 2; x = [ false null true ]; }"
    tree = parse(src)
    got = {n.text.decode(): literal_value(n, src) for n in _expressions(tree.root_node)
           if n.type == "variable_expression"}
    assert isinstance(got["false"], Unevaluated)
    assert isinstance(got["null"], Unevaluated)
    assert got["true"] is True


def test_tokens_nix_would_read_further_are_unevaluated():
    src = b"[ 1.5.3 ]"
    first = parse(src).root_node.named_children[0].named_children[0]
    assert isinstance(literal_value(first, src), Unevaluated)


def test_syntax_errors_are_unevaluated():
    src = b"[ 1 2"
    tree = parse(src)
    lst = tree.root_node.named_children[0]
    assert isinstance(literal_value(lst, src), Unevaluated)


def test_string_decoders_reject_what_they_cannot_decode():
    assert decode_string('"a${b}"') is None
    assert decode_string('"a') is None
    assert decode_string('"a\\"') is None
    assert decode_string("'a'") is None
    assert decode_indented_string("''a${b}''") is None
    assert decode_indented_string("''a") is None
    assert decode_indented_string("''a'' b''") is None
    assert decode_string('"a\\${b}"') == "a${b}"


# --- generated: strings and numbers against Nix ------------------------------------------------

DQ_PIECES = ["\\", '"', "$", "{", "}", "${", "\\$", "$$", "\\n", "\\t", "\\r", "\\\\", "\r",
             "\n", "\r\n", "a", " ", "é", "\\q", "\\\r\n", "$\\", "'"]
IND_PIECES = [" ", "  ", "    ", "\n", "\t", "\r\n", "\r", "''$", "'''", "''\\n", "''\\ ",
              "''\\t", "''\\", "$", "'", "$$", "$'", "'$", "a", "b c", "${", "x\n  ", "\n  ",
              "\\", "é"]
dq_bodies = st.lists(st.sampled_from(DQ_PIECES), max_size=12).map("".join)
ind_bodies = st.lists(st.sampled_from(IND_PIECES), max_size=14).map("".join)


@given(st.lists(dq_bodies, min_size=1, max_size=20), st.lists(ind_bodies, min_size=1,
                                                                max_size=20))
def test_generated_strings_agree_with_nix(nix_instantiate, tmp_path_factory, dqs, inds):
    sources = [f'"{b}"' for b in dqs] + [f"''{b}''" for b in inds]
    snippets: list[bytes] = []
    values: list[Any] = []
    for text in sources:
        decoded = (decode_string if text.startswith('"') else decode_indented_string)(text)
        data = text.encode()
        via_tree = _source_value(data)
        if decoded is None:
            assert isinstance(via_tree, Unevaluated), text
            continue
        # The tree-sitter route may refuse (Unevaluated) but never disagree.
        assert isinstance(via_tree, Unevaluated) or via_tree == decoded, text
        snippets.append(data)
        values.append(decoded)
    nix_agrees(nix_instantiate, tmp_path_factory.mktemp("strings"), snippets, values)


number_spellings = st.one_of(
    st.integers(0, 2**64).map(str),
    st.integers(0, 10**6).map(lambda n: "00" + str(n)),
    st.floats(allow_nan=False, allow_infinity=False, min_value=0).map(repr),
    st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(-330, 330),
              st.sampled_from(["e", "E"]), st.sampled_from(["", "+"])).map(
        lambda t: f"{t[0] or ''}.{t[1]}{t[3]}{t[4] if t[2] >= 0 else ''}{t[2]}"),
    st.sampled_from(["1.", ".5", "1.e3", "0.0e0", "2.2250738585072011e-308",
                     "2.2250738585072014e-308", "4.9e-324", "1.0e308", "1.8e308"]),
)


@given(st.lists(number_spellings, min_size=1, max_size=30))
def test_generated_numbers_agree_with_nix(nix_instantiate, tmp_path_factory, spellings):
    snippets: list[bytes] = []
    values: list[Any] = []
    for text in spellings:
        for src in (text, "-" + text):
            value = _source_value(src.encode())
            if not isinstance(value, Unevaluated):
                snippets.append(src.encode())
                values.append(value)
    nix_agrees(nix_instantiate, tmp_path_factory.mktemp("numbers"), snippets, values)


# --- generated: emitted values read back ------------------------------------------------------

chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
keys = st.one_of(st.text(chars, max_size=6),
                 st.sampled_from(["let", "or", "a-b", "a'", "${x}", ""]))
text = st.lists(st.one_of(st.sampled_from(["${", "''", "'", "$", "\\", '"', "\n", "  ", "\t",
                                           "\r", "x"]),
                          st.text(chars, max_size=4)), max_size=6).map("".join)
normal_floats = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda x: (x == 0.0 and math.copysign(1, x) > 0) or abs(x) >= 2.2250738585072014e-308)
scalars = st.one_of(st.none(), st.booleans(), st.integers(INT_MIN + 1, INT_MAX), normal_floats,
                    text, st.builds(PurePosixPath, st.sampled_from(["/a/b", "c/d.nix", "../e"])))
values_st = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner,
                                                                         max_size=4)),
    max_leaves=15,
)


@given(values_st, st.sampled_from(["  ", "\t"]), st.sampled_from([0, 80]))
def test_emitted_values_read_back_exactly(v, indent, width):
    src = to_nix(v, indent=indent, width=width).encode()
    got = _source_value(src)
    assert identical(got, v), (src, got)


@pytest.mark.parametrize("v", [-0.0, 5e-324, INT_MIN, [1, -0.0]])
def test_values_without_a_literal_spelling_come_back_unevaluated(v):
    assert isinstance(_source_value(to_nix(v).encode()), Unevaluated)
