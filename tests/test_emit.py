"""Tests of nixgen.emit: every emitted value is checked by evaluating it with the real Nix."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest
from conftest import NIX_OFFLINE, nix_parse_ok
from hypothesis import given
from hypothesis import strategies as st
from nix_compare import SAME_FUNCTION, run_checker

from nixgen.emit import Expr, nix_attr_name, nix_string, to_nix, to_nix_element
from nixgen.literal import INT_MAX, INT_MIN

# A Nix function comparing two values deeply and exactly, types included
# (so 1 and 1.0 differ, and floats are compared bit for bit through ==).
SAME_NIX = """
{ json, file }:
let
  expected = builtins.fromJSON json;
  actual = import file;
""" + SAME_FUNCTION + """\
  check = name: builtins.genList
    (i: same (builtins.elemAt expected i) (builtins.elemAt actual.${name} i))
    (builtins.length expected);
in { bound = check "bound"; elements = check "elements"; json = actual.bound; }
"""


def _value_file(values: list[Any], *, indent: str = "  ", level: int = 1, width: int = 80) -> str:
    """A Nix file binding each value in a let (as ``set`` would) and listing them as elements."""
    lines = ["let"]
    for i, v in enumerate(values):
        lines.append(f"  v{i} = {to_nix(v, indent=indent, level=level, width=width)};")
    lines.append("in {")
    lines.append("  bound = [ " + " ".join(f"v{i}" for i in range(len(values))) + " ];")
    lines.append("  elements = [")
    for v in values:
        lines.append("    " + to_nix_element(v, indent=indent, level=level, width=width))
    lines.append("  ];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _close(a: Any, b: Any) -> bool:
    """Equality of JSON data, floats allowed Nix 2.8's 6 printed digits."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(
            a, b, rel_tol=1e-5, abs_tol=1e-300
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def check_round_trip(nix_instantiate: str, tmp_path: Path, values: list[Any], **layout: Any) -> None:
    file = tmp_path / "value.nix"
    file.write_text(_value_file(values, **layout), encoding="utf-8")
    checker = tmp_path / "same.nix"
    checker.write_text(SAME_NIX)
    expected = json.dumps(values, ensure_ascii=False)
    proc = run_checker(nix_instantiate, checker, expected, file, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode() + "\n" + file.read_text()
    result = json.loads(proc.stdout)
    bad = [values[i] for i, ok in enumerate(result["bound"]) if not ok]
    assert not bad, f"differs after a round trip through Nix: {bad!r}\n{file.read_text()}"
    bad = [values[i] for i, ok in enumerate(result["elements"]) if not ok]
    assert not bad, f"differs as list elements: {bad!r}\n{file.read_text()}"
    assert _close(result["json"], values)


# --- strategies ---------------------------------------------------------------------------

TRICKY = ["${", "''", "'", "$", "\\", '"', "\n", "  ", "\t", "\r", "\r\n", "'''", "$${",
          "''${", "''\\", "\\${", "a", " ", "é", "😀", "\u2028", "\x01", "${x}", "$$"]
text = st.lists(
    st.one_of(
        st.sampled_from(TRICKY),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                max_size=6),
    ),
    max_size=8,
).map("".join)
keys = st.one_of(
    text,
    st.sampled_from(["let", "in", "rec", "with", "inherit", "if", "then", "else", "assert",
                     "or", "true", "null", "a-b", "a'b", "_x", "x1", "1x", "", "-a", "'a"]),
)
ints = st.one_of(st.integers(INT_MIN, INT_MAX), st.sampled_from([INT_MIN, INT_MAX, -1, 0]))
FLOATS = [1e-07, 1e300, 1e+300, 5e-324, -5e-324, 2.2250738585072014e-308, 2.2250738585072e-308,
          1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1e16, 1.0, 0.0, -1.5, 1e22,
          123456789.123, 4.9e-324, 1e-310]
floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(FLOATS))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=20,
)


@given(st.lists(values, min_size=1, max_size=8), st.sampled_from(["  ", "    ", "\t"]),
       st.integers(0, 3), st.sampled_from([0, 30, 80]))
def test_values_round_trip_through_nix(nix_instantiate, tmp_path_factory, vs, indent, level,
                                       width):
    tmp = tmp_path_factory.mktemp("emit")
    check_round_trip(nix_instantiate, tmp, vs, indent=indent, level=level, width=width)


def test_edge_values_round_trip(nix_instantiate, tmp_path):
    vs: list[Any] = [
        INT_MIN, INT_MAX, -1, *FLOATS, -0.0, "", "${x}", "''", "'", "a'", "a''", "x\n'",
        "\\", '"', "$", "$${a}", "a\nb", "a\nb\n", "\n", "\n\n", "  \n", "   x\n  y\n",
        "\ttab\n\tline\n", "cr\r\nlf\n", "end with spaces  \nx", "trailing\n  ", "a\n\n\nb\n",
        "''${\n${\n", "x\n$", "x\n$'", "line\n'''", "ä😀\n", "\u2028\n",
        {"let": 1, "or": 2, "in": {"rec": []}, "a-b": True, "a'": None, "": "", "${x}": 1},
        [[], {}, [[]], [{}]],
        {"multi": "line one\nline two\n", "nested": {"deep": ["x\ny", -3, -2.5]}},
    ]
    check_round_trip(nix_instantiate, tmp_path, vs)
    check_round_trip(nix_instantiate, tmp_path, vs, indent="\t", level=0, width=0)


def test_float_spellings_are_valid_nix():
    assert to_nix(1e-07) == "1.0e-07"
    assert to_nix(1e300) == "1.0e+300"
    assert to_nix(1.0) == "1.0"
    assert to_nix(0.5) == "0.5"
    assert to_nix(-1.5) == "-1.5"
    assert to_nix_element(-1.5) == "(-1.5)"
    assert "e" not in to_nix(0.0)


def test_negative_zero_keeps_its_sign(nix_instantiate):
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "-E",
         f"builtins.toJSON [ {to_nix_element(-0.0)} {to_nix_element(0.0)} ]"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.loads(proc.stdout)) == [0, 0]
    assert proc.stdout.strip() == r'"[-0,0]"'


def test_int_bounds():
    assert to_nix(INT_MAX) == "9223372036854775807"
    assert to_nix(INT_MIN) == "(-9223372036854775807 - 1)"
    assert to_nix(-5) == "-5"
    assert to_nix([-5]) == "[ (-5) ]"
    with pytest.raises(ValueError, match="64-bit"):
        to_nix(INT_MAX + 1)
    with pytest.raises(ValueError, match="64-bit"):
        to_nix([INT_MIN - 1])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "a\0b", {1: 2}, object(),
                                 b"bytes", {"a": {"\ud800": 1}}, "\udc00", {1, 2},
                                 PureWindowsPath("C:/x"), Expr("  ")])
def test_unrepresentable_values_raise(bad):
    with pytest.raises(ValueError):
        to_nix(bad)


def test_self_containing_value_raises():
    v: list[Any] = [1]
    v.append(v)
    with pytest.raises(ValueError, match="contains itself"):
        to_nix(v)


def test_shared_subvalues_are_fine():
    inner = [1, 2]
    assert to_nix({"a": inner, "b": inner}) == "{ a = [ 1 2 ]; b = [ 1 2 ]; }"


# --- strings and names ----------------------------------------------------------------------


def test_nix_string_escapes():
    assert nix_string('a"b') == r'"a\"b"'
    assert nix_string("a\\b") == r'"a\\b"'
    assert nix_string("${x}") == r'"\${x}"'
    assert nix_string("$x $") == '"$x $"'
    assert nix_string("a\nb\tc\rd") == r'"a\nb\tc\rd"'


def test_multi_line_strings_use_indented_form():
    assert to_nix({"text": "one\ntwo ${x}\n''q''\n"}) == (
        "{\n  text = ''\n    one\n    two ''${x}\n    '''q'''\n  '';\n}"
    )
    assert to_nix("a\nb") == "''\n  a\n  b''"
    # CRLF files and tab indentation cannot hold a raw multi-line string faithfully.
    assert to_nix("a\nb\n", newline="\r\n") == r'"a\nb\n"'
    assert to_nix("a\nb\n", indent="\t") == r'"a\nb\n"'
    # Lines of spaces only cannot be told apart from indentation.
    assert to_nix("  \n") == r'"  \n"'


@pytest.mark.parametrize(
    ("name", "expected"),
    [("foo", "foo"), ("a-b", "a-b"), ("a'b", "a'b"), ("_x1", "_x1"), ("let", '"let"'),
     ("or", '"or"'), ("in", '"in"'), ("1x", '"1x"'), ("a.b", '"a.b"'), ("", '""'),
     ("${x}", r'"\${x}"'), ("-a", '"-a"'), ("true", "true")],
)
def test_attr_names(name, expected):
    assert nix_attr_name(name) == expected


def test_attr_names_parse_in_nix(nix_instantiate):
    names = ["let", "in", "or", "rec", "a-b", "a'b", "", "a b", "${x}", "x.y", "\\"]
    src = to_nix({n: i for i, n in enumerate(names)})
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E", src],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {n: i for i, n in enumerate(names)}


# --- paths and raw code ----------------------------------------------------------------------


def test_paths(nix_instantiate, tmp_path):
    paths = [PurePosixPath("/etc/nixos/hardware.nix"), PurePosixPath("a/b.nix"),
             PurePosixPath("../up"), PurePosixPath("."), PurePosixPath(".."),
             PurePosixPath("/"), PurePosixPath("/a b/c"), PurePosixPath("x y"),
             PurePosixPath("~/x"), PurePosixPath("./a+b-c_d.e")]
    texts = [to_nix(p) for p in paths]
    assert texts[:3] == ["/etc/nixos/hardware.nix", "./a/b.nix", "../up"]
    assert texts[3:6] == ["./.", "./..", "/."]
    assert texts[6] == '(/. + "/a b/c")'
    file = tmp_path / "sub" / "paths.nix"
    file.parent.mkdir()
    file.write_text("map builtins.toString [ " + " ".join(to_nix_element(p) for p in paths)
                    + " ]\n")
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(file)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    base = file.parent
    assert json.loads(proc.stdout) == [
        "/etc/nixos/hardware.nix", f"{base}/a/b.nix", f"{tmp_path}/up", str(base),
        str(tmp_path), "/", "/a b/c", f"{base}/x y", f"{base}/~/x", f"{base}/a+b-c_d.e",
    ]


def test_expr_is_inserted_raw_and_parenthesised_in_lists(nix_instantiate):
    assert to_nix(Expr("pkgs.vim")) == "pkgs.vim"
    assert to_nix([Expr("pkgs.vim"), Expr("f x"), Expr("a.b or c"), Expr("-1")]) == (
        "[ pkgs.vim (f x) a.b or c (-1) ]"
    )
    assert to_nix({"a": Expr("x: x + 1")}) == "{ a = x: x + 1; }"
    assert Expr("a") == Expr("a") and Expr("a") != Expr("b") and Expr("a") != "a"
    assert repr(Expr("a b")) == "Expr('a b')"
    assert len({Expr("a"), Expr("a")}) == 1
    src = to_nix([Expr("(x: x * 2) 21"), Expr("builtins.length [ 1 2 ]"), Expr("{ a = 1; }.a")])
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E", src],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [42, 2, 1]


# --- layout ----------------------------------------------------------------------------------


def test_compact_when_it_fits():
    assert to_nix({"a": 1, "b": [1, 2]}) == "{ a = 1; b = [ 1 2 ]; }"
    assert to_nix([]) == "[ ]"
    assert to_nix({}) == "{ }"
    assert to_nix(None) == "null"
    assert to_nix([True, False]) == "[ true false ]"


def test_multi_line_layout_nixfmt_style():
    v = {"a": 1, "b": [1, 2], "c": {"d": "x" * 70}}
    assert to_nix(v) == (
        "{\n"
        "  a = 1;\n"
        "  b = [ 1 2 ];\n"
        "  c = {\n"
        '    d = "' + "x" * 70 + '";\n'
        "  };\n"
        "}"
    )
    assert to_nix({"a": 1, "b": [1, 2]}, width=10) == (
        "{\n  a = 1;\n  b = [\n    1\n    2\n  ];\n}"
    )


def test_width_is_counted_from_the_level():
    v = ["x" * 34, "y" * 34]
    assert "\n" not in to_nix(v, level=0)
    assert to_nix(v, level=5) == (
        "[\n" + " " * 12 + '"' + "x" * 34 + '"\n' + " " * 12 + '"' + "y" * 34 + '"\n'
        + " " * 10 + "]"
    )


def test_key_length_counts_towards_width():
    v = {"k" * 60: [1, 2, 3, 4, 5, 6, 7]}
    out = to_nix(v)
    assert out.splitlines()[1] == "  " + "k" * 60 + " = ["


def test_tabs_level_and_newline():
    out = to_nix({"a": [1, 2]}, indent="\t", level=2, width=0, newline="\r\n")
    assert out == "{\r\n\t\t\ta = [\r\n\t\t\t\t1\r\n\t\t\t\t2\r\n\t\t\t];\r\n\t\t}"
    assert all(len(line) <= 80 for line in to_nix({"k": list(range(100))}).splitlines())


def test_outputs_parse_with_nix(nix_instantiate):
    for v in [{"a": [1, {"b": "c\nd"}]}, [[-1, -2.5]], {"x": {"y": {"z": []}}}]:
        for width in (0, 80):
            ok, err = nix_parse_ok(to_nix(v, width=width), nix_instantiate)
            assert ok, err


def test_level_must_not_be_negative():
    with pytest.raises(ValueError):
        to_nix(1, level=-1)
