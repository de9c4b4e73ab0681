"""Layout, module-shape and import helpers behind the document engine (nixgen.layout, scope, module_imports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixgen import layout, scope, syntax


@pytest.mark.parametrize(
    ("src", "unit"),
    [
        (b"{\n  a = {\n    b = 1;\n  };\n}\n", "  "),
        (b"{\n    a = {\n        b = 1;\n    };\n}\n", "    "),
        (b"{\n\ta = {\n\t\tb = 1;\n\t};\n}\n", "\t"),
        (b"{ a = 1; }", "  "),
        (b"{\n  # comment\n      # odd comment\n  a = 1;\n}\n", "  "),
    ],
)
def test_detect_indent_unit(src: bytes, unit: str) -> None:
    assert layout.detect_indent_unit(src) == unit


def test_detect_newline_and_newline_at() -> None:
    assert layout.detect_newline(b"{\r\n}\r\n") == "\r\n"
    assert layout.detect_newline(b"{\n}\r\n") == "\n"
    assert layout.detect_newline(b"{ }") == "\n"
    mixed = b"a\r\nb\nc"
    assert layout.newline_at(mixed, 0) == "\r\n"
    assert layout.newline_at(mixed, 3) == "\n"
    assert layout.newline_at(mixed, 5, "\r\n") == "\r\n"


def test_line_helpers() -> None:
    data = b"ab\r\n  cd # x\nef"
    assert layout.line_start(data, 6) == 4
    assert layout.line_end(data, 0) == 2
    assert layout.line_end(data, 14) == len(data)
    assert layout.next_line_start(data, 0) == 4
    assert layout.line_indent(data, 7) == "  "
    assert layout.starts_line(data, 6) and not layout.starts_line(data, 7)
    assert layout.rest_of_line_is_trivia(data, 8) == (True, 12)
    assert layout.rest_of_line_is_trivia(data, 5) == (False, 6)


def test_removal_span_owns_comments_and_trailing_comment() -> None:
    data = b"{\n  a = 1;\n  # about b\n  b = 2; # note\n  c = 3;\n}\n"
    start = data.index(b"b = 2")
    end = start + len(b"b = 2;")
    lower = data.index(b"a = 1;") + len(b"a = 1;")
    s, e = layout.removal_span(data, start, end, lower)
    assert data[:s] + data[e:] == b"{\n  a = 1;\n  c = 3;\n}\n"


def test_removal_span_inline() -> None:
    data = b"{ a = 1; b = 2; }"
    start = data.index(b"b")
    s, e = layout.removal_span(data, start, start + 6, data.index(b";") + 1)
    assert data[:s] + data[e:] == b"{ a = 1; }"


def _body(src: str):
    data = src.encode()
    return data, syntax.parse(data).root_node


@pytest.mark.parametrize(
    "src",
    [
        "{ a = 1; }",
        "{ config, ... }: { a = 1; }",
        "{ ... }: { lib, ... }: { a = 1; }",
        "let x = 1; in { a = 1; }",
        "with x; { a = 1; }",
        "assert true; { a = 1; }",
        "(({ a = 1; }))",
        "x: y: rec { a = 1; }",
    ],
)
def test_body_is_found(src: str) -> None:
    data, root = _body(src)
    top = scope.top_attrset(root, data)
    assert top is not None and data[top.start_byte : top.end_byte].endswith(b"{ a = 1; }")


def test_body_none_for_non_sets() -> None:
    data, root = _body("[ 1 ]")
    assert scope.top_attrset(root, data) is None
    data, root = _body("import ./x.nix")
    assert scope.top_attrset(root, data) is None


@pytest.mark.parametrize(
    ("src", "name", "nargs"),
    [
        ("lib.mkIf c { }", "mkIf", 2),
        ("mkIf c { }", "mkIf", 2),
        ("lib.mkOverride 50 1", "mkOverride", 2),
        ("pkgs.lib.mkForce 1", "mkForce", 1),
        ("lib.mkMerge [ ]", "mkMerge", 1),
        ("(lib.mkDefault) 1", "mkDefault", 1),
    ],
)
def test_wrapper_call(src: str, name: str, nargs: int) -> None:
    data, root = _body(src)
    call = scope.wrapper_call(root.named_children[0], data)
    assert call is not None and call[0] == name and len(call[1]) == nargs


@pytest.mark.parametrize("src", ["lib.mkIf c", "f x", "lib.mkForce 1 2", "lib.mkIf or x c { }"])
def test_not_a_wrapper_call(src: str) -> None:
    data, root = _body(src)
    assert scope.wrapper_call(root.named_children[0], data) is None


def test_strip_value_and_sources() -> None:
    data, root = _body("lib.mkForce (lib.mkIf c (lib.mkMerge [ { a = 1; } (lib.mkIf d { b = 2; }) ]))")
    node, wrappers = scope.strip_value(root.named_children[0], data)
    assert wrappers == ("mkForce", "mkIf")
    sources = scope.attrset_sources(root.named_children[0], data)
    assert [w for _, w in sources] == [
        ("mkForce", "mkIf", "mkMerge"),
        ("mkForce", "mkIf", "mkMerge", "mkIf"),
    ]
    assert node.type == "apply_expression"


@pytest.mark.parametrize(
    ("src", "opaque"),
    [
        ("{ a = 1; }", []),
        ("lib.mkIf c { a = 1; }", []),
        ("5", []),
        ('[ "x" ]', []),
        ("true", []),
        ("null", []),
        ("import ./x.nix", ["import ./x.nix"]),
        ("cfg", ["cfg"]),
        ("lib.mkForce (a // b)", ["a // b"]),
        ("lib.mkMerge [ { a = 1; } cfg (lib.mkIf c other) ]", ["cfg", "other"]),
        ("lib.mkMerge xs", ["lib.mkMerge xs"]),
    ],
)
def test_opaque_parts(src: str, opaque: list[str]) -> None:
    data, root = _body(src)
    parts = scope.opaque_parts(root.named_children[0], data)
    assert [scope.node_text(p, data) for p in parts] == opaque


def test_import_paths_follow_literal_paths_only(tmp_path: Path) -> None:
    from nixgen.document import Document
    from nixgen.module_imports import import_paths

    real = tmp_path / "real"
    (real / "svc").mkdir(parents=True)
    (real / "hw.nix").write_text("{ }\n")
    (real / "conf.nix").write_text(
        '{ x, ... }:\n{\n  imports = [ ./hw.nix (./svc) "${x}/y.nix" <nixpkgs/m.nix> ];\n}\n'
    )
    link = tmp_path / "configuration.nix"
    link.symlink_to(real / "conf.nix")
    found = import_paths(Document.from_path(link))
    assert [p for _, p in found] == [real / "hw.nix", real / "svc" / "default.nix"]
    assert all(b.path == ("imports",) and b.line == 3 for b, _ in found)
    assert import_paths(Document.from_text("{ imports = [ ./a.nix ]; }")) == []
