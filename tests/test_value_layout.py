"""How new values sit in the file: line sharing, newline style, indentation, trailing comments.

Covers the document engine's placement of a VALUE given as Nix code (``Expr``): a one-line
list that shares its line stays on one line; a multi-line value takes the file's line breaks
and indentation unit; a value ending in a ``#`` comment gets the comment where a line break
ends it (or is refused with a message about the value); list items are compared as Nix values.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import NIX_OFFLINE

from nixgen import syntax
from nixgen.document import Document
from nixgen.emit import Expr
from nixgen.errors import EditError
from nixgen.literal import Unevaluated, literal_value

FIREWALL = (
    "{\n  networking.firewall = { enable = true; allowedTCPPorts = [ 22 ]; "
    "allowedUDPPorts = [ 53 ]; logRefusedConnections = false; };\n}\n"
)


def only_inserted(old: bytes, new: bytes, at: bytes, inserted: bytes) -> bool:
    """Whether ``new`` is ``old`` with ``inserted`` put right after the one ``at``."""
    assert old.count(at) == 1
    i = old.index(at) + len(at)
    return new == old[:i] + inserted + old[i:]


def value_of(code: str) -> object:
    data = code.encode()
    root = syntax.parse(data).root_node
    node = next(c for c in root.named_children if c.type != "comment")
    return literal_value(node, data)


def elements(doc: Document, path: str) -> list[str]:
    """The source texts of the elements of the list literal at ``path``."""
    node = doc.get(path)[0].value_node
    assert node is not None and node.type == "list_expression"
    return [doc.data[e.start_byte : e.end_byte].decode()
            for e in node.named_children if e.type != "comment"]


# -- 1. a one-line list that shares its line stays on one line ------------------------------


def test_append_to_a_one_line_list_sharing_its_line_stays_on_the_line() -> None:
    doc = Document.from_text(FIREWALL)
    new = doc.append("networking.firewall.allowedTCPPorts", Expr("80")).document.data
    assert only_inserted(doc.data, new, b"[ 22", b" 80")


def test_new_list_in_a_one_line_set_inside_another_stays_on_the_line() -> None:
    src = "{ ... }:\n{\n  systemd.containers.e = { config = { }; };\n}\n"
    doc = Document.from_text(src)
    new = doc.set("systemd.containers.e.config.services.openssh.enable", True).document
    new = new.set("systemd.containers.e.config.services.openssh.ports", [2051]).document
    line = new.data.splitlines()[2]
    assert line.count(b"[") == 1 and line.count(b"]") == 1
    assert b"ports = [ 2051 ];" in line
    assert new.data.count(b"\n") == doc.data.count(b"\n")
    assert new.value("systemd.containers.e.config.services.openssh.ports") == [2051]


@pytest.mark.parametrize("n", [1, 5, 12])
def test_a_list_sharing_its_line_never_opens_whatever_its_width(n: int) -> None:
    doc = Document.from_text(FIREWALL)
    for port in range(1000, 1000 + n):
        doc = doc.append("networking.firewall.allowedTCPPorts", port).document
    assert doc.data.count(b"\n") == 3
    assert doc.value("networking.firewall.allowedTCPPorts") == [22, *range(1000, 1000 + n)]


def test_a_list_alone_on_its_line_still_opens_when_too_wide() -> None:
    src = "{\n  ports = [ " + " ".join(str(p) for p in range(1000, 1014)) + " ];\n}\n"
    doc = Document.from_text(src)
    new = doc.append("ports", 2000).document
    assert new.data.count(b"\n") > 10
    assert new.value("ports") == [*range(1000, 1014), 2000]


# -- 2. a multi-line VALUE takes the file's newline and indentation -----------------------


FILES = {
    "lf-2": "{\n  a = 1;\n  n = {\n    m = 1;\n  };\n}\n",
    "crlf-2": "{\r\n  a = 1;\r\n  n = {\r\n    m = 1;\r\n  };\r\n}\r\n",
    "lf-4": "{\n    a = 1;\n    n = {\n        m = 1;\n    };\n}\n",
    "lf-tab": "{\n\ta = 1;\n\tn = {\n\t\tm = 1;\n\t};\n}\n",
    "crlf-tab": "{\r\n\ta = 1;\r\n\tn = {\r\n\t\tm = 1;\r\n\t};\r\n}\r\n",
}
VALUES = [
    "{\n  x = 1;\n}",
    "{\n  x = {\n    y = [\n      1\n      2\n    ];\n  };\n  z = true;\n}",
    "{\n    x = 1;\n    y = {\n        z = 2;\n    };\n}",
    "{\n\tx = 1;\n\ty = {\n\t\tz = 2;\n\t};\n}",
    "[\n  1\n  (2)\n]",
]


def _unit(src: str) -> str:
    return "\t" if "\n\t" in src else re.search(r"\n( +)", src).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("path", ["b", "n.k", "a"])
def test_a_multi_line_value_takes_the_file_newline_and_indentation(
    name: str, value: str, path: str
) -> None:
    src = FILES[name]
    doc = Document.from_text(src)
    new = doc.set(path, Expr(value)).document
    data = new.data.decode()
    crlf = "\r\n" in src
    # one newline style throughout
    assert data.count("\r\n") == (data.count("\n") if crlf else 0)
    # indentation only in the file's unit
    unit = _unit(src)
    for line in data.replace("\r\n", "\n").split("\n"):
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if unit == "\t":
            assert " " not in lead, repr(line)
        else:
            assert "\t" not in lead and len(lead) % len(unit) == 0, repr(line)
    # the same value
    assert new.value(path) == value_of(value)
    # nothing else changed: the text before the changed binding and after its line
    key = path.split(".")[-1]
    first = data.find(f"{key} = ")
    assert data[: data.rfind("\n", 0, first)] == src[: data.rfind("\n", 0, first)]


def test_a_multi_line_value_keeps_its_string_lines_but_for_the_newline() -> None:
    doc = Document.from_text(FILES["crlf-tab"])
    value = '{\n  s = "a\n  b";\n  t = \'\'\n    c\n      d\n  \'\';\n}'
    new = doc.set("b", Expr(value)).document
    data = new.data
    # an indented string keeps its bytes, line breaks included (Nix keeps CRs there)
    string = b"''\n    c\n      d\n  ''"
    assert string in data
    rest = data.replace(string, b"")
    assert b"\r\n" in rest and rest.count(b"\n") == rest.count(b"\r\n")
    assert b'"a\r\n  b"' in data  # the continuation line of a string keeps its spaces
    assert not re.search(rb"\n\t+ ", data.replace(b'\r\n  b"', b""))


def test_crlf_value_through_edit_json_is_all_crlf() -> None:
    from nixgen.editjson import handle

    text = "{\r\n  a = 1;\r\n}\r\n"
    out = handle({"text": text, "operation": "set",
                  "args": {"path": "b", "value": "{\n  x = 1;\n}"}})
    edits = out["edits"]
    assert edits
    for edit in edits:
        new_text = edit["newText"]
        assert new_text.count("\n") == new_text.count("\r\n")


# -- 2b. string literals in a multi-line VALUE keep their values ------------------------


STRING_FILES = {
    **FILES,
    "lf-2-list": "{\n  a = 1;\n  n = {\n    m = 1;\n  };\n  l = [\n    0\n  ];\n}\n",
    "crlf-4-list": "{\r\n    a = 1;\r\n    n = {\r\n        m = 1;\r\n    };\r\n"
                   "    l = [\r\n        0\r\n    ];\r\n}\r\n",
    "crlf-2-one-line-list": "{\r\n  a = 1;\r\n  n = {\r\n    m = 1;\r\n  };\r\n"
                            "  l = [ 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 ];\r\n}\r\n",
}
STRING_VALUES = [
    "''\n  echo hi\n  exit 0\n''",
    "''\n  a ${toString 1} b\n    c\n''",
    "''\n  x ''${y} ''$ ''' z\n  \ttab\n\n    deeper\n\n  end\n''",
    "''\n\tonly tabs\n\t\tdeeper\n''",
    "''\n  a\n      \n    b\n  ''",
    "''\n  a\n    b''",
    "''first\n  second\n''",
    "''  \n  after spaces\n''",
    "''\r\n  carriage\r\n  returns\r\n''",
    "''\n  ${\"a\"}\n  ${''\n    inner\n      more\n  ''}\n''",
    "''\n  a ${\n  toString 2\n  } b\n  c\n''",
    "''\n  a''\\nb\n  ''\\t\n''",
    "{\n  s = ''\n    c\n      d\n  '';\n  t = \"x\n  y\";\n}",
    "[\n  ''\n    l\n  ''\n  \"q\"\n]",
    "\"a\n  b\n\"",
    "\"a\r\n  ${\"b\"}\r\n\"",
    "let\n    v = ''\n      deep\n    '';\nin\n  v",
]


def _nix_json(nix_instantiate: str, expr: str) -> object:
    import json

    out = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                          "-E", expr], capture_output=True, check=True, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", sorted(STRING_FILES))
def test_strings_in_a_value_keep_their_value_in_the_file(
    name: str, nix_instantiate: str, tmp_path
) -> None:
    src = STRING_FILES[name]
    doc = Document.from_text(src)
    alone, written = [], []
    for i, value in enumerate(STRING_VALUES):
        given = tmp_path / f"value{i}.nix"
        given.write_bytes(value.encode())
        ops = [("b", doc.set("b", Expr(value))), ("n.k", doc.set("n.k", Expr(value)))]
        if "l = [" in src:
            ops.append(("l", doc.append("l", Expr(value))))
        for j, (path, change) in enumerate(ops):
            data = change.document.data
            if "\r\n" in src:
                # the code around the value keeps the file's CRLF
                assert data.endswith(b"}\r\n") and b";\r\n" in data
            result = tmp_path / f"result{i}-{j}.nix"
            result.write_bytes(data)
            last = "builtins.elemAt r.l (builtins.length r.l - 1)"
            select = f"({last})" if path == "l" else f"r.{path}"
            alone.append(f"(import {given})")
            written.append(f"(let r = import {result}; in {select})")
    expected = _nix_json(nix_instantiate, "[ " + " ".join(alone) + " ]")
    actual = _nix_json(nix_instantiate, "[ " + " ".join(written) + " ]")
    assert isinstance(expected, list) and isinstance(actual, list)
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got == want, (i, written[i])


def test_an_indented_string_in_a_crlf_file_keeps_its_bytes() -> None:
    doc = Document.from_text("{\r\n  a = 1;\r\n}\r\n")
    new = doc.set("b", Expr("''\n  echo hi\n  exit 0\n''")).document.data
    assert new == b"{\r\n  a = 1;\r\n  b = ''\n  echo hi\n  exit 0\n'';\r\n}\r\n"


def test_an_indented_string_whose_first_line_counts_is_not_moved() -> None:
    doc = Document.from_text("{\n  a = 1;\n}\n")
    new = doc.set("b", Expr("''x\n  y\n''")).document.data
    assert new == b"{\n  a = 1;\n  b = ''x\n  y\n'';\n}\n"


# -- 3. a VALUE ending in a line comment ---------------------------------------------------


def _comment_ends_line(data: bytes, comment: bytes) -> bool:
    i = data.index(comment) + len(comment)
    return data[i : i + 1] in (b"\n", b"\r", b"")


@pytest.mark.parametrize(
    "src",
    [
        "{\n  a = { };\n}\n",
        "{\n  a = {\n    c = 2;\n  };\n}\n",
        "{\n  a.b = 0;\n}\n",
        "{\n  a = { b = 0; };\n}\n",
        "{\r\n  a = {\r\n    c = 2;\r\n  };\r\n}\r\n",
        "{ a = { c = 1; }; }",
        "{\n  x = { a = { }; };\n}\n",
    ],
)
def test_set_a_value_ending_in_a_comment(src: str) -> None:
    doc = Document.from_text(src)
    new = doc.set("a.b", Expr("1 # comment")).document
    assert new.errors() == []
    assert new.value("a.b") == 1
    assert _comment_ends_line(new.data, b"# comment")
    assert re.search(rb"b = 1; # comment", new.data) or b"}; # comment" in new.data or (
        b"} # comment" in new.data
    )


def test_set_comment_goes_after_the_terminator() -> None:
    doc = Document.from_text("{\n  a.b = 0;\n  c = 1;\n}\n")
    new = doc.set("a.b", Expr("1 # comment")).document.data
    assert new == doc.data.replace(b"a.b = 0;", b"a.b = 1; # comment")


def test_append_keeps_the_comment_on_the_item_line() -> None:
    src = "{ pkgs, ... }:\n{\n  environment.systemPackages = with pkgs; [\n    vim\n  ];\n}\n"
    doc = Document.from_text(src)
    new = doc.append("environment.systemPackages", Expr("pkgs.htop # monitor")).document.data
    assert only_inserted(doc.data, new, b"    vim", b"\n    htop # monitor")


def test_append_with_comment_opens_a_one_line_list_alone_on_its_line() -> None:
    doc = Document.from_text("{\n  ports = [ 22 ];\n}\n")
    new = doc.append("ports", Expr("80 # http")).document
    assert new.value("ports") == [22, 80]
    assert b"\n    80 # http\n" in new.data
    assert new.data.startswith(b"{\n  ports = [") and new.data.endswith(b"];\n}\n")


def test_append_with_comment_to_a_list_sharing_its_line_moves_the_comment() -> None:
    doc = Document.from_text(FIREWALL)
    new = doc.append("networking.firewall.allowedTCPPorts", Expr("80 # http")).document
    assert new.errors() == []
    assert new.value("networking.firewall.allowedTCPPorts") == [22, 80]
    assert new.data.count(b"\n") == doc.data.count(b"\n")
    assert _comment_ends_line(new.data, b"# http")


def test_append_comment_to_a_missing_list() -> None:
    doc = Document.from_text("{\n  a = 1;\n}\n")
    new = doc.append("ports", Expr("80 # http")).document.data
    assert only_inserted(doc.data, new, b"a = 1;", b"\n  ports = [ 80 ]; # http")


@pytest.mark.parametrize(
    ("src", "op", "path"),
    [
        ("{\n  a = 1; # old\n}\n", "set", "a"),
        ("{ a = 1; b = ''\n  x\n''; }\n", "set", "a"),
        ("{\n  x = { a = [ 1 ]; }; # ports\n}\n", "append", "x.a"),
    ],
)
def test_a_comment_that_cannot_end_its_line_is_refused_naming_the_value(
    src: str, op: str, path: str
) -> None:
    doc = Document.from_text(src)
    with pytest.raises(EditError) as err:
        getattr(doc, op)(path, Expr("2 # new"))
    message = str(err.value)
    assert "comment" in message and "value" in message
    assert "invalid Nix" not in message


@pytest.mark.parametrize(
    "src",
    [
        "{\n  a = { };\n}\n",
        "{\n  ports = [ 22 ];\n}\n",
        "{ pkgs, ... }:\n{\n  ports = with pkgs; [\n    22\n  ];\n}\n",
        FIREWALL,
    ],
)
def test_results_with_comments_parse_with_nix(src: str, nix_instantiate: str, tmp_path) -> None:
    doc = Document.from_text(src)
    path = "networking.firewall.allowedTCPPorts" if "firewall" in src else "ports"
    changes = [doc.append(path, Expr("80 # http")), doc.set("q.r", Expr("1 # one"))]
    for change in changes:
        f = tmp_path / "m.nix"
        f.write_bytes(change.document.data)
        subprocess.run([nix_instantiate, *NIX_OFFLINE, "--parse", str(f)],
                       check=True, capture_output=True)


# -- 4. list items compared as Nix values ---------------------------------------------------


LIST = "{\n  f = [ { a = 1; } ''x'' (1) pkgs.vim (g y) ];\n}\n"


@pytest.mark.parametrize(
    "item", ["{a=1;}", "{ a = 1; }", "''x''", '"\\x"', '"x"', "1", "(1)", "pkgs . vim",
             "g  y", "(g /* c */ y)", "{ a = 1; } # c"],
)
def test_an_equal_item_is_not_appended_and_is_removed(item: str) -> None:
    doc = Document.from_text(LIST)
    assert not doc.append("f", Expr(item)).changed
    removed = doc.remove("f", Expr(item))
    assert removed.changed
    assert len(elements(removed.document, "f")) == len(elements(doc, "f")) - 1


@pytest.mark.parametrize("item", ["{ a = 1.0; }", "1.0", "true", '"1"', "{ a = 1; b = 2; }",
                                  "pkgs.vim2", "g z", "[ 1 ]"])
def test_a_different_item_is_appended_and_not_removed(item: str) -> None:
    doc = Document.from_text(LIST)
    appended = doc.append("f", Expr(item))
    assert appended.changed
    assert not doc.remove("f", Expr(item)).changed
    items = elements(appended.document, "f")
    assert len(items) == len(elements(doc, "f")) + 1
    expected = value_of(item)
    if not isinstance(expected, Unevaluated):
        assert value_of(items[-1]) == expected


def test_python_values_compare_as_values() -> None:
    doc = Document.from_text(LIST)
    assert not doc.append("f", {"a": 1}).changed
    assert not doc.append("f", "x").changed
    assert doc.append("f", 1.0).changed
    assert doc.append("f", True).changed


# -- opening a one-line set keeps its comments ---------------------------------------------


@pytest.mark.parametrize(
    ("src", "path", "value", "expected", "nix_value"),
    [
        (
            "{\n  a = { x = 1; /* keep */ y = 2; };\n}\n",
            "a.z",
            "v" * 60,
            "{\n  a = {\n    x = 1; /* keep */\n    y = 2;\n    z = \"" + "v" * 60 + "\";\n  };\n}\n",
            {"a": {"x": 1, "y": 2, "z": "v" * 60}},
        ),
        (
            "{ /* first */ x = 1; /* c */ }",
            "z",
            "a\nb",
            "{ /* first */\n  x = 1; /* c */\n  z = ''\n    a\n    b'';\n}",
            {"x": 1, "z": "a\nb"},
        ),
    ],
)
def test_opening_a_one_line_set_keeps_each_comment_after_its_binding(
    src: str, path: str, value: str, expected: str, nix_value: object, nix_instantiate: str
) -> None:
    out = Document.from_text(src).set(path, value).document.data.decode()
    assert out == expected
    assert _nix_json(nix_instantiate, out) == nix_value
