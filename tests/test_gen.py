"""Tests of nixgen.gen and ``nixgen gen``: data files become Nix that the real Nix reads back."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NIX_OFFLINE, run_cli
from hypothesis import given
from hypothesis import strategies as st

from nixgen.errors import UsageError, ValidationError
from nixgen.gen import data_to_nix, format_for, load_data


def nix_eval_json(nix_instantiate: str, tmp: Path, source: str) -> Any:
    file = tmp / "generated.nix"
    file.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(file)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + "\n" + source
    return json.loads(proc.stdout)


def close(a: Any, b: Any) -> bool:
    """JSON equality; floats within Nix 2.8's six printed digits (exactness is test_emit's job)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(
            a, b, rel_tol=1e-5, abs_tol=1e-300)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(close, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


JSON_DOC = """{
  "services": {"nginx": {"enable": true, "virtualHosts": {"example.org": {"root": "/var/www"}}}},
  "ports": [22, 80, 443, -1],
  "ratio": 0.25,
  "nothing": null,
  "tricky": ["${x}", "''", "a\\"b", "back\\\\slash", "multi\\nline\\n", "\\u00e9\\ud83d\\ude00"],
  "keys": {"let": 1, "a-b": 2, "1x": 3, "": 4, "with space": 5},
  "big": 9223372036854775807,
  "small": -9223372036854775808
}"""

TOML_DOC = """
title = "TOML \\"example\\""
ports = [ 8000, 8001 ]
ratio = 1.5
enabled = true
dob = 1979-05-27T07:32:00-08:00
day = 1979-05-27
at = 07:32:00
literal = 'C:\\Users\\${x}'
multi = \"\"\"
first
second\"\"\"

[database]
"server-name" = "db"
connection_max = 5000

[[fruit]]
name = "apple"
[[fruit]]
name = "banana"
"""

YAML_DOC = """
name: web
replicas: 3
enabled: yes
ratio: 0.5
none: ~
when: 2024-01-02
stamp: 2024-01-02 03:04:05
2: numeric key
true: bool key
list:
  - a
  - "${b}"
  - {c: d}
script: |
  set -e
  echo "''${HOME}"
folded: >
  one
  two
anchor: &base {x: 1}
alias: *base
"""


def test_json_round_trip(nix_instantiate, tmp_path):
    out = data_to_nix(JSON_DOC, "json")
    assert out.endswith("\n")
    assert nix_eval_json(nix_instantiate, tmp_path, out) == json.loads(JSON_DOC)


def test_toml_round_trip(nix_instantiate, tmp_path):
    out = data_to_nix(TOML_DOC, "toml")
    got = nix_eval_json(nix_instantiate, tmp_path, out)
    assert got["dob"] == "1979-05-27T07:32:00-08:00"
    assert got["day"] == "1979-05-27"
    assert got["at"] == "07:32:00"
    assert got["literal"] == "C:\\Users\\${x}"
    assert got["multi"] == "first\nsecond"
    assert got["database"] == {"server-name": "db", "connection_max": 5000}
    assert got["fruit"] == [{"name": "apple"}, {"name": "banana"}]
    assert got["ratio"] == 1.5 and got["ports"] == [8000, 8001]
    assert got["title"] == 'TOML "example"' and got["enabled"] is True


def test_yaml_round_trip(nix_instantiate, tmp_path):
    out = data_to_nix(YAML_DOC, "yaml")
    got = nix_eval_json(nix_instantiate, tmp_path, out)
    assert got["when"] == "2024-01-02"
    assert got["stamp"] == "2024-01-02T03:04:05"
    assert got["2"] == "numeric key" and got["true"] == "bool key"
    assert got["enabled"] is True and got["none"] is None
    assert got["list"] == ["a", "${b}", {"c": "d"}]
    assert got["script"] == "set -e\necho \"''${HOME}\"\n"
    assert got["folded"] == "one two\n"
    assert got["alias"] == got["anchor"] == {"x": 1}
    assert "script = ''" in out  # multi-line text stays readable


def test_empty_and_scalar_documents(nix_instantiate, tmp_path):
    assert data_to_nix("", "yaml") == "null\n"
    assert data_to_nix("", "toml") == "{ }\n"
    assert data_to_nix("42", "json") == "42\n"
    assert nix_eval_json(nix_instantiate, tmp_path, data_to_nix('"a\\nb"', "json")) == "a\nb"


@pytest.mark.parametrize(
    ("text", "fmt", "message", "line", "col"),
    [
        ('{"a": 1,\n "b": }', "json", "invalid JSON", 2, 7),
        ("[1, 2", "json", "invalid JSON", 1, 6),
        ("a = 1\nb = = 2\n", "toml", "invalid TOML", 2, 5),
        ("a = 1\na = 2\n", "toml", "invalid TOML", None, None),
        ("a: [b\n c: d", "yaml", "invalid YAML", 2, 3),
        ("a: 1\n---\nb: 2\n", "yaml", "invalid YAML", 2, 1),
        ("NaN", "json", "float nan", None, None),
        ("[1e999]", "json", "float inf", None, None),
        ("18446744073709551616", "json", "64-bit", None, None),
        ("a: .nan", "yaml", "float nan", None, None),
        ("a: !!binary aGk=", "yaml", "bytes values", None, None),
        ("? !!binary aGk=\n: x", "yaml", "mapping key", 1, 3),
        ("? [1, 2]\n: x", "yaml", "mapping key", 1, 3),
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "yaml", "'c' occurs twice", 4, 3),
        ("a: !!set {x}", "yaml", "set values", None, None),
        ('"\\u0000"', "json", "NUL", None, None),
        ('{"a": 1, "b": {"c": 1, "c": 2}}', "json", "'c' occurs twice", None, None),
        ("a: &a [*a]", "yaml", "contains itself", None, None),
    ],
)
def test_bad_input_is_a_validation_error(text, fmt, message, line, col):
    with pytest.raises(ValidationError) as info:
        data_to_nix(text, fmt, file="in." + fmt)
    err = info.value
    assert message in err.message
    assert err.file == "in." + fmt
    if line is not None:
        assert (err.line, err.col) == (line, col)
    assert "\n" not in str(err)


def test_yaml_keys_are_strings_and_never_merged_silently():
    with pytest.raises(ValidationError, match="occurs twice") as info:
        load_data("1: a\n'1': b\n", "yaml", file="k.yaml")
    assert (info.value.file, info.value.line, info.value.col) == ("k.yaml", 2, 1)
    assert load_data("true: a\n1: b\n~: c\n1.5: d\n", "yaml") == {
        "true": "a", "1": "b", "null": "c", "1.5": "d"}
    merged = load_data("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "yaml")
    assert merged["use"] == {"x": 1, "y": 3}


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError):
        data_to_nix("{}", "xml")


def test_format_from_extension():
    assert format_for("a.JSON") == "json"
    assert format_for("x/b.toml") == "toml"
    assert format_for("c.yml") == "yaml" and format_for("c.yaml") == "yaml"
    assert format_for("d.txt") is None


# --- generated data --------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5).filter(lambda k: "\0" not in k
                                                                      and not any(
                                                                          0xD800 <= ord(c)
                                                                          <= 0xDFFF
                                                                          for c in k)),
                                            inner, max_size=4)),
    max_leaves=15,
)


@given(st.lists(json_values, max_size=5))
def test_generated_json_and_yaml_round_trip(nix_instantiate, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("gen")
    got = nix_eval_json(nix_instantiate, tmp, data_to_nix(json.dumps(data), "json"))
    assert close(got, data)
    dumped = yaml.safe_dump(data, allow_unicode=True)
    got = nix_eval_json(nix_instantiate, tmp, data_to_nix(dumped, "yaml"))
    assert close(got, yaml.safe_load(dumped))


# --- the command line ------------------------------------------------------------------------


def test_cli_gen_file_round_trips(nix_instantiate, tmp_path):
    for name, text, expected in [
        ("settings.json", JSON_DOC, json.loads(JSON_DOC)),
        ("settings.yml", "a: [1, 2]\nb: {c: true}\n", {"a": [1, 2], "b": {"c": True}}),
        ("settings.toml", "a = 1\n[b]\nc = 'x'\n", {"a": 1, "b": {"c": "x"}}),
    ]:
        src = tmp_path / name
        src.write_text(text, encoding="utf-8")
        proc = run_cli("gen", str(src))
        assert proc.returncode == 0, proc.stderr
        assert nix_eval_json(nix_instantiate, tmp_path, proc.stdout) == expected


def test_cli_gen_stdin_and_from(nix_instantiate, tmp_path):
    proc = run_cli("gen", input='{"a": [1, "${x}"]}')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{ a = [ 1 "\\${x}" ]; }\n'
    proc = run_cli("gen", "-", "--from", "yaml", input="a: 1\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "{ a = 1; }\n"
    data = tmp_path / "data.txt"
    data.write_text("x = 2\n")
    proc = run_cli("gen", str(data), "--from", "TOML")
    assert proc.returncode == 0, proc.stderr
    assert nix_eval_json(nix_instantiate, tmp_path, proc.stdout) == {"x": 2}


@pytest.mark.parametrize(
    ("args", "stdin", "code", "needle"),
    [
        (("gen",), "[1,", 1, "<stdin>:1:4: invalid JSON"),
        (("gen", "--from", "yaml"), "a: [b\n c: d", 1, "<stdin>:2:3: invalid YAML"),
        (("gen", "--from", "toml"), "a = [", 1, "<stdin>: invalid TOML"),
        (("gen", "/nonexistent/x.json"), None, 1, "/nonexistent/x.json"),
        (("gen", "--from", "xml"), "{}", 2, "--from must be one of"),
        (("gen",), "NaN", 1, "float nan"),
        (("gen", "/nonexistent/settings"), None, 1, "/nonexistent/settings: no such file"),
        (("gen", "/"), None, 1, "/: is a directory"),
    ],
)
def test_cli_gen_errors(args, stdin, code, needle):
    proc = run_cli(*args, input=stdin)
    assert proc.returncode == code
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nixgen: error: ")
    assert needle in lines[0]


def test_cli_gen_unknown_extension_and_binary(tmp_path):
    odd = tmp_path / "data.conf"
    odd.write_text("{}")
    proc = run_cli("gen", str(odd))
    assert proc.returncode == 2 and "--from" in proc.stderr
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\x00\x01\xff")
    proc = run_cli("gen", str(binary))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'"caf\xe9"')
    proc = run_cli("gen", str(bad))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
