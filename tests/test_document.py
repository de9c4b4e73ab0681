"""Document engine, in the spirit of a spec: before / operation / after, checked by real Nix.

Every expected output is compared byte for byte, must be accepted by ``nix-instantiate
--parse``, and (for a newly created path) deleting it again must give back the original.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from conftest import CONFIGS, nix_parse_ok
from engine_helpers import assert_delete_undoes

from nixgen.attrpath import Dynamic
from nixgen.document import Binding, Change, Document
from nixgen.emit import Expr
from nixgen.errors import EditError, FileError, NixSyntaxError
from nixgen.literal import Unevaluated


def apply(before: str, op: str, *args: object) -> Change:
    doc = Document.from_text(before)
    return getattr(doc, op)(*args)


def expect(before: str, op: str, args: tuple[object, ...], after: str, nix: str) -> Change:
    change = apply(before, op, *args)
    assert change.document.source == after
    assert change.changed == (before != after)
    ok, err = nix_parse_ok(after, nix)
    assert ok, err
    return change


def expect_set_new(before: str, path: str, value: object, after: str, nix: str) -> None:
    """set of a path that did not exist: exact output, and delete restores the original."""
    change = expect(before, "set", (path, value), after, nix)
    assert [b.value for b in change.document.get(path)] == [value]
    assert change.document.delete(path).document.data == before.encode()


# -- set: insertion ---------------------------------------------------------------------------

MODULE = """\
{ config, pkgs, ... }:

{
  imports = [ ./hardware-configuration.nix ];

  boot.loader.grub.enable = true;
  services.openssh = {
    enable = true;
  };
}
"""


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            '{ ... }:\n{\n  # Use GRUB.\n  boot.loader.grub.enable = true;\n\n  system.stateVersion = "23.11";\n}\n',
            '{ ... }:\n{\n  imports = [ ./hw.nix ];\n\n  # Use GRUB.\n  boot.loader.grub.enable = true;\n\n'
            '  system.stateVersion = "23.11";\n}\n',
        ),
        (
            "{\n  # about the file\n\n  a = 1;\n  b = 2;\n}\n",
            "{\n  # about the file\n\n  imports = [ ./hw.nix ];\n  a = 1;\n  b = 2;\n}\n",
        ),
        ("{ a = 1; }", "{ imports = [ ./hw.nix ]; a = 1; }"),
        ("{ }", "{ imports = [ ./hw.nix ]; }"),
        (
            "{\n  imports2 = 1;\n  a = 1;\n}\n",
            "{\n  imports = [ ./hw.nix ];\n  imports2 = 1;\n  a = 1;\n}\n",
        ),
    ],
)
def test_new_imports_go_first(before: str, after: str, nix_instantiate: str) -> None:
    change = expect(before, "append", ("imports", Expr("./hw.nix")), after, nix_instantiate)
    assert change.document.delete("imports").document.source == before


def test_set_into_nested_set(nix_instantiate: str) -> None:
    after = MODULE.replace("    enable = true;\n", "    enable = true;\n    ports = [ 2022 ];\n")
    expect_set_new(MODULE, "services.openssh.ports", [2022], after, nix_instantiate)


def test_set_new_path_goes_beside_its_relatives(nix_instantiate: str) -> None:
    after = MODULE.replace(
        "  boot.loader.grub.enable = true;\n",
        '  boot.loader.grub.enable = true;\n  boot.loader.grub.device = "/dev/sda";\n',
    )
    expect_set_new(MODULE, "boot.loader.grub.device", "/dev/sda", after, nix_instantiate)


def test_set_unrelated_path_goes_last(nix_instantiate: str) -> None:
    after = MODULE.replace("  };\n}\n", '  };\n  networking.hostName = "box";\n}\n')
    expect_set_new(MODULE, "networking.hostName", "box", after, nix_instantiate)


def test_set_into_dotted_prefix_deepest_literal(nix_instantiate: str) -> None:
    before = "{\n  a.b = {\n    c = 1;\n  };\n}\n"
    after = "{\n  a.b = {\n    c = 1;\n    d.e = true;\n  };\n}\n"
    expect_set_new(before, "a.b.d.e", True, after, nix_instantiate)


def test_set_mixed_forms_quoted_parent(nix_instantiate: str) -> None:
    before = '{\n  a."b" = { c = 1; };\n}\n'
    after = '{\n  a."b" = { c = 1; d = 2; };\n}\n'
    expect_set_new(before, "a.b.d", 2, after, nix_instantiate)


def test_set_into_empty_one_line_set(nix_instantiate: str) -> None:
    expect_set_new("{ x = { }; }\n", "x.y", 1, "{ x = { y = 1; }; }\n", nix_instantiate)


def test_set_into_empty_multi_line_set(nix_instantiate: str) -> None:
    before = "{\n  x = {\n  };\n}\n"
    after = "{\n  x = {\n    y = 1;\n  };\n}\n"
    expect_set_new(before, "x.y", 1, after, nix_instantiate)


def test_set_into_empty_file_body(nix_instantiate: str) -> None:
    expect_set_new("{ ... }:\n{ }\n", "a.b", "v", '{ ... }:\n{ a.b = "v"; }\n', nix_instantiate)


def test_set_into_one_line_set_stays_inline(nix_instantiate: str) -> None:
    before = "{ a = 1; }"
    expect_set_new(before, "b", [1, 2], "{ a = 1; b = [ 1 2 ]; }", nix_instantiate)


def test_set_opens_a_one_line_set_when_the_line_would_not_fit(nix_instantiate: str) -> None:
    long = ["a" * 32, "b" * 23, "c" * 23]
    before = "{\n  a = { };\n}\n"
    after = (
        '{\n  a = {\n    b.c = [\n      "' + long[0] + '"\n      "' + long[1] + '"\n      "'
        + long[2] + '"\n    ];\n  };\n}\n'
    )
    expect(before, "set", ("a.b.c", long), after, nix_instantiate)
    before = "{\r\n  containers.web = { autoStart = true; };\r\n}\r\n"
    after = (
        "{\r\n  containers.web = {\r\n    autoStart = true;\r\n"
        "    config.services.openssh.ports = [ 2022 ];\r\n  };\r\n}\r\n"
    )
    expect(before, "set", ("containers.web.config.services.openssh.ports", [2022]), after, nix_instantiate)
    # placed after its closest sibling, as in any set
    before = "{\n  x = { a.b = 1; c = 2; };\n}\n"
    after = "{\n  x = {\n    a.b = 1;\n    a.long = \"" + "y" * 60 + "\";\n    c = 2;\n  };\n}\n"
    change = expect(before, "set", ("x.a.long", "y" * 60), after, nix_instantiate)
    assert_delete_undoes(Document.from_text(before), change, "x.a.long")


def test_set_opens_a_one_line_set_keeping_its_comments_but_not_one_inside_another(
        nix_instantiate: str) -> None:
    before = "{\n  a = { b = 1; /* keep */ };\n}\n"
    after = '{\n  a = {\n    b = 1; /* keep */\n    c = "' + "z" * 70 + '";\n  };\n}\n'
    expect(before, "set", ("a.c", "z" * 70), after, nix_instantiate)
    # opening only the inner set of `{ a = { … }; }` would leave the outer one half open
    before = "{ a = { b = 1; }; }"
    after = '{ a = { b = 1; c = "' + "z" * 70 + '"; }; }'
    expect(before, "set", ("a.c", "z" * 70), after, nix_instantiate)


def test_set_keeps_crlf(nix_instantiate: str) -> None:
    before = "{\r\n  a = 1;\r\n}\r\n"
    x, y = "x" * 40, "y" * 40
    after = (
        "{\r\n  a = 1;\r\n  b = {\r\n    c = 1;\r\n    d = [\r\n"
        f'      "{x}"\r\n      "{y}"\r\n    ];\r\n  }};\r\n}}\r\n'
    )
    change = expect(before, "set", ("b", {"c": 1, "d": [x, y]}), after, nix_instantiate)
    assert change.document.delete("b").document.data == before.encode()


def test_set_keeps_tabs(nix_instantiate: str) -> None:
    before = "{\n\tservices = {\n\t\tfoo.enable = true;\n\t};\n}\n"
    after = "{\n\tservices = {\n\t\tfoo.enable = true;\n\t\tfoo.port = 80;\n\t};\n}\n"
    expect_set_new(before, "services.foo.port", 80, after, nix_instantiate)


def test_set_keeps_four_spaces(nix_instantiate: str) -> None:
    before = "{\n    a = {\n        b = 1;\n    };\n}\n"
    after = "{\n    a = {\n        b = 1;\n    };\n    c = 2;\n}\n"
    expect_set_new(before, "c", 2, after, nix_instantiate)


def test_set_no_final_newline(nix_instantiate: str) -> None:
    before = "{\n  a = 1;\n}"
    expect_set_new(before, "b", 2, "{\n  a = 1;\n  b = 2;\n}", nix_instantiate)


def test_set_multi_line_value_laid_out_like_nixfmt(nix_instantiate: str) -> None:
    before = "{\n  a = {\n    b = 1;\n  };\n}\n"
    long = ["x" * 30, "y" * 30, "z" * 30]
    after = (
        "{\n  a = {\n    b = 1;\n    c = [\n"
        f'      "{long[0]}"\n      "{long[1]}"\n      "{long[2]}"\n'
        "    ];\n  };\n}\n"
    )
    expect_set_new(before, "a.c", long, after, nix_instantiate)


def test_set_keeps_trailing_comment_of_previous_line(nix_instantiate: str) -> None:
    before = "{\n  a = 1; # one\n}\n"
    expect_set_new(before, "b", 2, "{\n  a = 1; # one\n  b = 2;\n}\n", nix_instantiate)


def test_set_after_binding_sharing_line_with_brace(nix_instantiate: str) -> None:
    before = "{\n  a = 1; }\n"
    expect_set_new(before, "b", 2, "{\n  a = 1;\n  b = 2; }\n", nix_instantiate)


# -- set: replacement -------------------------------------------------------------------------


def test_replace_value_keeps_key_and_spacing(nix_instantiate: str) -> None:
    before = '{\n  networking.hostName   =   "old" ; # name\n}\n'
    after = '{\n  networking.hostName   =   "new" ; # name\n}\n'
    change = expect(before, "set", ("networking.hostName", "new"), after, nix_instantiate)
    assert len(change.edits) == 1


def test_replace_value_found_inside_parent_literal(nix_instantiate: str) -> None:
    before = "{\n  services = { openssh.ports = [ 22 ]; };\n}\n"
    after = "{\n  services = { openssh.ports = [ 2022 ]; };\n}\n"
    expect(before, "set", ("services.openssh.ports", [2022]), after, nix_instantiate)


def test_replace_keeps_own_wrapper(nix_instantiate: str) -> None:
    before = "{ lib, ... }:\n{\n  a = lib.mkForce 1;\n}\n"
    after = "{ lib, ... }:\n{\n  a = lib.mkForce 2;\n}\n"
    expect(before, "set", ("a", 2), after, nix_instantiate)


def test_replace_wrapped_value_keeps_it_one_term(nix_instantiate: str) -> None:
    before = "{ lib, ... }:\n{\n  a = lib.mkForce 1;\n  b = lib.mkIf true { c = 1; };\n}\n"
    change = expect(before, "set", ("a", -1), before.replace("mkForce 1", "mkForce (-1)"), nix_instantiate)
    assert change.document.value("a") == -1
    after = before.replace("mkIf true { c = 1; }", 'mkIf true "x"')
    assert apply(before, "set", "b", "x").document.source == after


def test_replace_same_value_is_no_change() -> None:
    change = apply("{ a = 1; }", "set", "a", 1)
    assert not change.changed and change.edits == ()


def test_set_raw_expression(nix_instantiate: str) -> None:
    before = "{ pkgs, ... }: { a = 1; }"
    expect(before, "set", ("a", Expr("pkgs.vim")), before.replace("1", "pkgs.vim"), nix_instantiate)


def test_multi_line_raw_expression_is_indented_like_its_binding(nix_instantiate: str) -> None:
    before = "{\n  x = 1;\n}\n"
    after = "{\n  x = 1;\n  a = { b = 1; # c\n  };\n}\n"
    change = expect(before, "set", ("a", Expr("{ b = 1; # c\n}")), after, nix_instantiate)
    assert change.document.delete("a").document.data == before.encode()
    nested = "{\n  a = {\n    x = 1;\n  };\n}\n"
    after = "{\n  a = {\n    x = [\n      1\n\n      2\n    ];\n  };\n}\n"
    expect(nested, "set", ("a.x", Expr("[\n  1\n\n  2\n]")), after, nix_instantiate)
    # lines inside a string stay as written: they are part of its value
    code = "''\nline one\n  ${toString 1}\n'' + \"a\nb\" + (toString\n1)"
    after = (
        "{\n  a = {\n    x = ''\nline one\n  ${toString 1}\n'' + \"a\nb\" + (toString\n    1);"
        "\n  };\n}\n"
    )
    expect(nested, "set", ("a.x", Expr(code)), after, nix_instantiate)


# -- set: refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [
        "{ lib, ... }: { a = lib.mkIf true { b = 1; }; }",
        "{ a = import ./x.nix; }",
        "{ a = 5; }",
        "{ inherit a; }",
    ],
)
def test_set_under_non_literal_prefix_is_refused(before: str) -> None:
    doc = Document.from_text(before)
    with pytest.raises(EditError, match="attribute already defined") as info:
        doc.set("a.c", 1)
    assert info.value.line == 1


def test_set_into_a_literal_inside_a_wrapped_value(nix_instantiate: str) -> None:
    # `containers` is not a literal, but `containers.monitor` is one, inside the mkIf
    before = (
        "{ lib, config, ... }:\n{\n  containers = lib.mkIf config.x {\n    monitor = {\n"
        "      autoStart = true;\n    };\n  };\n}\n"
    )
    after = before.replace(
        "      autoStart = true;\n", "      autoStart = true;\n      privateNetwork = true;\n"
    )
    expect_set_new(before, "containers.monitor.privateNetwork", True, after, nix_instantiate)
    merged = "{ lib, ... }:\n{\n  a = lib.mkMerge [ { b = { c = 1; }; } ];\n}\n"
    after = merged.replace("c = 1;", "c = 1; d = 2;")
    expect_set_new(merged, "a.b.d", 2, after, nix_instantiate)
    # nothing deeper than the wrapper's own set: still refused (a.c would become conditional)
    with pytest.raises(EditError, match="attribute already defined"):
        Document.from_text(before).set("containers.other.autoStart", True)
    # below the literal inside the wrapper, a leaf stops the path as anywhere else
    with pytest.raises(EditError, match="attribute already defined"):
        Document.from_text(before).set("containers.monitor.autoStart.x", True)


def test_set_with_duplicate_definitions_lists_them() -> None:
    doc = Document.from_text("{\n  a.b = 1;\n  a = { b = 2; };\n}\n", path="conf.nix")
    with pytest.raises(EditError) as info:
        doc.set("a.b", 3)
    assert "conf.nix:2:3" in str(info.value) and "conf.nix:3:9" in str(info.value)


def test_set_over_deeper_keys_is_refused() -> None:
    with pytest.raises(EditError, match="deeper keys"):
        Document.from_text("{ a.b = 1; }").set("a", 2)


def test_set_literal_to_non_set_with_deeper_keys_elsewhere_is_refused(nix_instantiate: str) -> None:
    before = "{\n  a.x = 1;\n  a = { y = 2; };\n}\n"
    doc = Document.from_text(before)
    with pytest.raises(EditError, match="deeper keys"):
        doc.set("a", 5)
    after = "{\n  a.x = 1;\n  a = { z = 3; };\n}\n"
    expect(before, "set", ("a", {"z": 3}), after, nix_instantiate)


def test_set_new_path_goes_where_nix_accepts_it(nix_instantiate: str) -> None:
    # `a = { b.y = …; }` after `a.b.x = 1;` would define b twice: the key goes beside a.b.x
    before = "{\n  a.b.x = 1;\n  a = {\n    c = 2;\n  };\n}\n"
    after = "{\n  a.b.x = 1;\n  a.b.y = 3;\n  a = {\n    c = 2;\n  };\n}\n"
    expect_set_new(before, "a.b.y", 3, after, nix_instantiate)
    # the other order is fine for Nix, and the literal is the deepest set on the path
    before = "{\n  a = {\n    c = 2;\n  };\n  a.b.x = 1;\n}\n"
    after = "{\n  a = {\n    c = 2;\n    b.y = 3;\n  };\n  a.b.x = 1;\n}\n"
    expect_set_new(before, "a.b.y", 3, after, nix_instantiate)


def test_replacement_that_nix_would_reject_is_refused() -> None:
    doc = Document.from_text("{ a = { x = 1; }; a.y = 2; }")
    with pytest.raises(EditError, match="attribute already defined"):
        doc.set("a", {"y": 3})
    with pytest.raises(EditError, match="attribute already defined"):
        Document.from_text("{ a = { x = 1; }; a.y = 2; }").rename("a.x", "a.y.z")


def test_set_interpolated_name_is_refused() -> None:
    with pytest.raises(EditError, match="interpolated"):
        Document.from_text("{ a = 1; }").set(("a", Dynamic("${x}")), 1)


def test_set_in_non_attrset_file_is_refused() -> None:
    with pytest.raises(EditError, match="not an attribute set"):
        Document.from_text("[ 1 2 ]").set("a", 1)


def test_edit_that_breaks_syntax_is_refused() -> None:
    doc = Document.from_text("{ a = 1; }")
    with pytest.raises(EditError, match="invalid Nix"):
        doc.set("a", Expr("1 +"))
    assert doc.source == "{ a = 1; }"


# -- get / module shape -----------------------------------------------------------------------


SHAPES = {
    "plain": "{ a.b = 1; }",
    "header": "{ config, pkgs, ... }: { a.b = 1; }",
    "curried": "{ ... }: { config, ... }: { a.b = 1; }",
    "universal": "x: y: { a.b = 1; }",
    "let": "{ pkgs, ... }:\nlet c = 1; in\n{ a.b = 1; }",
    "with": "{ pkgs, ... }: with pkgs; { a.b = 1; }",
    "parens": "({ ... }: ({ a.b = 1; }))",
    "rec": "rec { a.b = 1; }",
    "nested": "{ a = { b = 1; }; }",
    "quoted": '{ "a"."b" = 1; }',
    "formals-gap": "{ lib, pkgs, }: { a.b = 1; }",
    "assert": "{ x, ... }: assert x; { a.b = 1; }",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_get_through_module_shapes(name: str) -> None:
    doc = Document.from_text(SHAPES[name])
    [binding] = doc.get("a.b")
    assert isinstance(binding, Binding)
    assert binding.value == 1 and binding.text == "1" and binding.wrappers == ()
    assert doc.value("a.b") == 1
    assert doc.data[binding.key_start : binding.key_end].decode().rstrip('"').endswith("b")


def test_module_args() -> None:
    assert Document.from_text("{ config, pkgs, ... }: { }").module_args() == ["config", "pkgs"]
    assert Document.from_text("{ ... }: { lib, ... }: { }").module_args() == ["lib"]
    assert Document.from_text("{ }").module_args() is None


def test_top_attrset() -> None:
    doc = Document.from_text("{ ... }:\nlet x = 1; in with x; ({ a = 1; })")
    top = doc.top_attrset()
    assert top is not None and top.type == "attrset_expression"
    assert Document.from_text("[ ]").top_attrset() is None


def test_get_reports_wrappers() -> None:
    src = """{ lib, config, ... }:
{
  services.nginx = lib.mkIf config.x { enable = true; };
  config = lib.mkMerge [ { a = 1; } (mkIf true { b = mkForce 2; }) ];
  c = mkOverride 50 "x";
}
"""
    doc = Document.from_text(src)
    [nginx] = doc.get("services.nginx.enable")
    assert nginx.wrappers == ("mkIf",) and nginx.value is True and nginx.conditional
    assert doc.get("config.a")[0].wrappers == ("mkMerge",)
    [b] = doc.get("config.b")
    assert b.wrappers == ("mkMerge", "mkIf", "mkForce") and b.value == 2
    [c] = doc.get("c")
    assert c.wrappers == ("mkOverride",) and c.value == "x"
    assert doc.get("services.nginx")[0].wrappers == ("mkIf",)


def test_mkmerge_module_body() -> None:
    src = "{ lib, ... }:\nlib.mkMerge [\n  { a = 1; }\n  (lib.mkIf true { b = 2; })\n]\n"
    doc = Document.from_text(src)
    assert [(b.path, b.wrappers) for b in doc.bindings()] == [
        (("a",), ("mkMerge",)),
        (("b",), ("mkMerge", "mkIf")),
    ]
    assert doc.set("c", 3).document.source == src.replace("{ a = 1; }", "{ a = 1; c = 3; }")


def test_insertion_prefers_unconditional_sets(nix_instantiate: str) -> None:
    before = (
        "{ lib, ... }:\nlib.mkMerge [\n  { a = 1; }\n"
        "  (lib.mkIf true { services.b = { x = 1; }; })\n]\n"
    )
    after = before.replace("{ a = 1; }", "{ a = 1; services.b.y = 2; }")
    expect_set_new(before, "services.b.y", 2, after, nix_instantiate)
    only_conditional = "{ lib, ... }:\nlib.mkIf true {\n  services.b = { x = 1; };\n}\n"
    after = only_conditional.replace("x = 1;", "x = 1; y = 2;")
    expect_set_new(only_conditional, "services.b.y", 2, after, nix_instantiate)


def test_inherit_is_reported_not_literal() -> None:
    doc = Document.from_text("{ pkgs, ... }: { inherit (pkgs) vim git; inherit foo; }")
    assert [b.path for b in doc.bindings()] == [("vim",), ("git",), ("foo",)]
    [vim] = doc.get("vim")
    assert vim.is_inherit and isinstance(vim.value, Unevaluated)


def test_foo_and_quoted_foo_are_the_same_name() -> None:
    doc = Document.from_text('{ "foo".bar = 1; foo = { "baz" = 2; }; "a-b".c = 3; }')
    assert [b.value for b in doc.get("foo.bar")] == [1]
    assert [b.value for b in doc.get('"foo"."baz"')] == [2]
    assert doc.value('"a-b".c') == 3
    assert doc.value(("a-b", "c")) == 3


def test_escapes_in_quoted_names_are_decoded() -> None:
    doc = Document.from_text('{ "a\\"b" = 1; "x\\ny" = 2; }')
    assert doc.value(('a"b',)) == 1
    assert doc.value(("x\ny",)) == 2


def test_interpolated_names_never_match() -> None:
    doc = Document.from_text('{ ${x}.y = 1; "${x}" = 2; a.${b} = 3; }')
    assert doc.get("x.y") == [] and doc.get('"${x}"') == [] and doc.get("${x}") == []
    dyn = [b for b in doc.bindings() if isinstance(b.path[0], Dynamic)]
    assert len(dyn) == 2
    assert isinstance(doc.bindings()[2].path[1], Dynamic)


def test_find_prefix_and_value_from_deeper_keys() -> None:
    doc = Document.from_text("{ a.b = 1; a.c = { d = true; }; x = 2; }")
    assert [b.path for b in doc.find_prefix("a")] == [("a", "b"), ("a", "c"), ("a", "c", "d")]
    assert doc.value("a") == {"b": 1, "c": {"d": True}}
    with pytest.raises(KeyError):
        doc.value("nope")


def test_binding_positions_and_file() -> None:
    doc = Document.from_text("{\n  x = 1;\n  \"é\".y = 2;\n}\n", path="c.nix")
    [b] = doc.get(("é", "y"))
    assert (b.line, b.col) == (3, 3) and b.file == Path("c.nix")
    assert b.location == "c.nix:3:3"
    assert doc.line_col(b.value_start) == (3, 11)


def test_values_via_literal() -> None:
    doc = Document.from_text('{ p = ./a/b; s = "x"; l = [ 1 "y" ]; f = x: x; }')
    assert doc.value("p") == PurePosixPath("./a/b")
    assert doc.value("l") == [1, "y"]
    assert isinstance(doc.value("f"), Unevaluated)


# -- source kept byte for byte ----------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        b"{\r\n\ta = 1;  \r\n}",
        "\ufeff{ a = 1; }\n".encode(),
        b"{ a = 1; }   ",
        b"# c\n{ a = ''\n  x\n''; }\n",
    ],
)
def test_source_kept_exactly(src: bytes) -> None:
    doc = Document.from_text(src)
    assert doc.data == src and str(doc) == src.decode()
    assert doc.set("zz", 1).document.delete("zz").document.data == src


def test_byte_order_mark_is_kept_with_a_warning(tmp_path: Path, nix_instantiate: str) -> None:
    src = "\ufeff{ a = 1; }\n".encode()
    ok, err = nix_parse_ok(src.decode(), nix_instantiate)
    assert not ok and "unexpected invalid token" in err  # what the warning tells the user
    file = tmp_path / "bom.nix"
    file.write_bytes(src)
    doc = Document.from_path(file)
    assert len(doc.warnings) == 1
    assert doc.warnings[0].startswith(f"{file}:1:1: ") and "byte order mark" in doc.warnings[0]
    assert doc.set("a", 2).document.data == "\ufeff{ a = 2; }\n".encode()
    assert Document.from_text("{ a = 1; }\n").warnings == []
    assert Document.from_text(src).warnings[0].startswith("<input>:1:1: ")


def test_from_path_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "c.nix"
    good.write_bytes(b"{ a = 1; }\r\n")
    assert Document.from_path(good).data == b"{ a = 1; }\r\n"
    assert Document.from_path(good).path == good
    with pytest.raises(FileError):
        Document.from_path(tmp_path / "missing.nix")
    binary = tmp_path / "b.nix"
    binary.write_bytes(b"{ a = 1; }\0")
    with pytest.raises(FileError):
        Document.from_path(binary)
    bad = tmp_path / "bad.nix"
    bad.write_bytes(b'{\n  a = "x;\n}\n')
    with pytest.raises(NixSyntaxError) as info:
        Document.from_path(bad)
    assert info.value.line == 2 and info.value.file == str(bad)


def test_from_text_with_existing_tree_and_unchecked() -> None:
    from nixgen import syntax

    data = b"{ a = 1; }"
    tree = syntax.parse(data)
    assert Document.from_text(data, tree=tree).tree is tree
    broken = Document.from_text("{ a = 1; b = }", check=False)
    assert broken.errors()
    # edits elsewhere are allowed as long as they add no new error
    assert broken.set("a", 2).document.source == "{ a = 2; b = }"


# -- delete -----------------------------------------------------------------------------------


def test_delete_with_owned_comments(nix_instantiate: str) -> None:
    before = """{
  a = 1;

  # The b setting.
  # Second line.
  b = 2; # trailing
  c = 3;
}
"""
    after = "{\n  a = 1;\n\n  c = 3;\n}\n"
    expect(before, "delete", ("b",), after, nix_instantiate)


def test_delete_does_not_leave_double_blank_lines(nix_instantiate: str) -> None:
    before = "{\n  a = 1;\n\n  b = 2;\n\n  c = 3;\n}\n"
    expect(before, "delete", ("b",), "{\n  a = 1;\n\n  c = 3;\n}\n", nix_instantiate)


def test_delete_first_binding_keeps_no_blank_after_brace(nix_instantiate: str) -> None:
    before = "{\n  # about a\n  a = 1;\n\n  b = 2;\n}\n"
    expect(before, "delete", ("a",), "{\n  b = 2;\n}\n", nix_instantiate)


def test_delete_every_definition_and_deeper_ones(nix_instantiate: str) -> None:
    before = "{\n  a.b = 1;\n  a = { c = 2; };\n  x = 1;\n  a.d.e = 3;\n}\n"
    expect(before, "delete", ("a",), "{\n  x = 1;\n}\n", nix_instantiate)


def test_delete_inside_nested_and_one_line(nix_instantiate: str) -> None:
    expect("{ a = { b = 1; c = 2; }; }", "delete", ("a.b",), "{ a = { c = 2; }; }", nix_instantiate)
    expect("{ a = { b = 1; }; }", "delete", ("a.b",), "{ a = { }; }", nix_instantiate)


def test_delete_under_mkif(nix_instantiate: str) -> None:
    before = "{ lib, ... }:\n{\n  a = lib.mkIf true {\n    b = 1;\n    c = 2;\n  };\n}\n"
    after = "{ lib, ... }:\n{\n  a = lib.mkIf true {\n    c = 2;\n  };\n}\n"
    expect(before, "delete", ("a.b",), after, nix_instantiate)


def test_delete_inherited_name(nix_instantiate: str) -> None:
    expect("{ a, b }: { inherit a b; }", "delete", ("a",), "{ a, b }: { inherit b; }", nix_instantiate)
    expect("{ a }: { inherit a; c = 1; }", "delete", ("a",), "{ a }: { c = 1; }", nix_instantiate)


def test_delete_absent_is_no_change() -> None:
    change = apply("{ a = 1; }", "delete", "b")
    assert not change.changed and change.document.source == "{ a = 1; }"


@pytest.mark.parametrize(
    ("before", "what"),
    [
        ("{ a = import ./x.nix; }", "`import ./x.nix`"),
        ("{ lib, cfg, ... }: { a = lib.mkIf true cfg; }", "`lib.mkIf true cfg`"),
        ("{ b }: { a = { x = 1; } // b; }", "`{ x = 1; } // b`"),
        ("{ cfg }: { inherit (cfg) a; }", "inherited"),
        ("{ lib, cfg }: { a = lib.mkMerge [ { x = 1; } cfg ]; }", "`lib.mkMerge [ { x = 1; } cfg ]`"),
    ],
)
def test_delete_inside_non_literal_value_says_where_it_is_defined(before: str, what: str) -> None:
    doc = Document.from_text(before, path="conf.nix")
    with pytest.raises(EditError) as info:
        doc.delete("a.b")
    err = info.value
    assert "a.b" in err.message and what in err.message
    assert (str(err.file), err.line, err.col) == ("conf.nix", 1, before.rindex(" a") + 2)


def test_delete_inside_non_literal_module_body_is_refused() -> None:
    doc = Document.from_text("{ ... }:\nimport ./base.nix { }\n")
    with pytest.raises(EditError) as info:
        doc.delete("services.openssh")
    assert "`import ./base.nix { }`" in info.value.message and info.value.line == 2


def test_delete_absent_beside_literal_non_sets_is_no_change() -> None:
    for src in ("{ a = 5; }", '{ a = [ 1 ]; b = "s"; }', "{ a = { x = 1; }; }"):
        change = Document.from_text(src).delete("a.b")
        assert not change.changed


def test_delete_of_a_path_defined_in_an_imported_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "default.nix").write_text('{ ... }:\n{\n  fileSystems."/".device = "/dev/sda1";\n}\n')
    (tmp_path / "users.nix").write_text("{ imports = [ ./hw ./conf.nix ]; }\n")
    conf = tmp_path / "conf.nix"
    conf.write_text("{ ... }:\n{\n  imports = [ ./users.nix ./missing.nix ];\n  a = 1;\n}\n")
    doc = Document.from_path(conf)
    with pytest.raises(EditError, match="imported") as info:
        doc.delete('fileSystems."/"')
    assert f"{tmp_path / 'hw' / 'default.nix'}:3:3" in info.value.message
    assert (info.value.line, info.value.col) == (3, 3)  # the `imports` of this file
    # a path defined nowhere (the import cycle conf -> users -> conf ends) changes nothing
    assert not doc.delete("services.nginx").changed


def test_delete_crlf(nix_instantiate: str) -> None:
    before = "{\r\n  # c\r\n  a = 1;\r\n  b = 2;\r\n}\r\n"
    expect(before, "delete", ("a",), "{\r\n  b = 2;\r\n}\r\n", nix_instantiate)


# -- lists ------------------------------------------------------------------------------------


def test_append_one_line_list(nix_instantiate: str) -> None:
    before = "{ pkgs, ... }: { environment.systemPackages = with pkgs; [ vim git ]; }"
    after = before.replace("git ]", "git htop ]")
    expect(before, "append", ("environment.systemPackages", Expr("htop")), after, nix_instantiate)


def test_append_is_idempotent_by_text_and_value() -> None:
    doc = Document.from_text('{ l = [ pkgs.vim "a" 22 ]; }')
    assert not doc.append("l", Expr("pkgs.vim")).changed
    assert not doc.append("l", "a").changed
    assert not doc.append("l", 22).changed
    assert doc.append("l", "22").changed


def test_append_multi_line_list(nix_instantiate: str) -> None:
    before = '{\n  l = [\n    "a"\n    "b" # bee\n  ];\n}\n'
    after = '{\n  l = [\n    "a"\n    "b" # bee\n    "c"\n  ];\n}\n'
    change = expect(before, "append", ("l", "c"), after, nix_instantiate)
    assert change.document.remove("l", "c").document.source == before


def test_append_to_one_line_list_that_grows_too_wide(nix_instantiate: str) -> None:
    names = " ".join(f"package{i:02d}" for i in range(6))
    before = f"{{ pkgs, ... }}:\n{{\n  environment.systemPackages = with pkgs; [ {names} ];\n}}\n"
    items = "".join(f"    package{i:02d}\n" for i in range(6))
    after = (
        "{ pkgs, ... }:\n{\n  environment.systemPackages = with pkgs; [\n"
        f"{items}    htop\n  ];\n}}\n"
    )
    expect(before, "append", ("environment.systemPackages", Expr("htop")), after, nix_instantiate)


def test_append_to_empty_lists(nix_instantiate: str) -> None:
    expect("{ l = [ ]; }", "append", ("l", 1), "{ l = [ 1 ]; }", nix_instantiate)
    expect("{ l = []; }", "append", ("l", 1), "{ l = [ 1 ]; }", nix_instantiate)
    expect("{\n  l = [\n  ];\n}\n", "append", ("l", 1), "{\n  l = [\n    1\n  ];\n}\n", nix_instantiate)


def test_append_parenthesises_applications(nix_instantiate: str) -> None:
    after = "{ a, f, x }: { l = [ a (f x) ]; }"
    expect("{ a, f, x }: { l = [ a ]; }", "append", ("l", Expr("f x")), after, nix_instantiate)


def test_append_creates_missing_list(nix_instantiate: str) -> None:
    expect("{ a = 1; }", "append", ("b.c", "x"), '{ a = 1; b.c = [ "x" ]; }', nix_instantiate)


def test_append_to_non_list_is_refused() -> None:
    with pytest.raises(EditError, match="not a list"):
        Document.from_text("{ l = import ./x.nix; }").append("l", 1)


def test_remove_items(nix_instantiate: str) -> None:
    expect("{ l = [ 1 2 3 2 ]; }", "remove", ("l", 2), "{ l = [ 1 3 ]; }", nix_instantiate)
    expect("{ l = [ 1 ]; }", "remove", ("l", 1), "{ l = [ ]; }", nix_instantiate)
    before = '{\n  l = [\n    # the a\n    "a"\n    "b"\n  ];\n}\n'
    expect(before, "remove", ("l", "a"), '{\n  l = [\n    "b"\n  ];\n}\n', nix_instantiate)


def test_remove_absent_is_no_change() -> None:
    assert not apply("{ l = [ 1 ]; }", "remove", "l", 5).changed
    assert not apply("{ }", "remove", "l", 5).changed


# -- rename -----------------------------------------------------------------------------------


def test_rename_dotted_segment_only(nix_instantiate: str) -> None:
    before = '{\n  users.users.alice.shell = "zsh";\n  users.users.alice = { uid = 1; };\n}\n'
    after = '{\n  users.users."bob-x".shell = "zsh";\n  users.users."bob-x" = { uid = 1; };\n}\n'
    expect(before, "rename", ("users.users.alice", 'users.users."bob-x"'), after, nix_instantiate)


def test_rename_inside_nested_set(nix_instantiate: str) -> None:
    before = "{ a = { b.c = 1; }; }"
    expect(before, "rename", ("a.b", "a.z"), "{ a = { z.c = 1; }; }", nix_instantiate)


def test_rename_refusals() -> None:
    doc = Document.from_text("{ a = { b = 1; }; c = 2; }")
    with pytest.raises(EditError, match="already defined"):
        doc.rename("a.b", "c")
    with pytest.raises(EditError, match="inside a"):
        doc.rename("a.b", "x.b")
    with pytest.raises(EditError, match="not defined"):
        doc.rename("q", "r")


# -- the fixture corpus -----------------------------------------------------------------------


CORPUS = sorted(p for p in CONFIGS.glob("*.nix"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_set_and_delete_round_trip(path: Path, nix_instantiate: str) -> None:
    doc = Document.from_path(path)
    assert doc.data == path.read_bytes()
    for b in doc.bindings():
        assert doc.data[b.key_start : b.key_end]
        assert doc.line_col(b.key_start) == (b.line, b.col)
    if doc.top_attrset() is None:
        return
    change = doc.set("nixgenTest.added.value", {"port": 8080, "names": ["a", "b"]})
    ok, err = nix_parse_ok(change.document.data, nix_instantiate)
    assert ok, err
    assert change.document.value("nixgenTest.added.value") == {"port": 8080, "names": ["a", "b"]}
    assert change.document.delete("nixgenTest").document.data == doc.data


def test_corpus_every_binding_can_be_deleted_and_replaced(nix_instantiate: str, tmp_path: Path) -> None:
    """Delete / replace / rename every binding of every fixture; all outputs are valid Nix."""
    import subprocess

    from conftest import NIX_OFFLINE

    outputs: list[Path] = []
    for path in CORPUS:
        doc = Document.from_path(path)
        seen: set[tuple[object, ...]] = set()
        for b in doc.bindings():
            if b.path in seen or any(isinstance(s, Dynamic) for s in b.path):
                continue
            seen.add(b.path)
            try:
                results = [doc.delete(b.path).document]
            except EditError as err:  # code in a rec set reads it: deleting would break that
                assert "rec set" in err.message, err.message
                continue
            assert not results[0].get(b.path)
            if len(doc.get(b.path)) == 1 and not b.is_inherit:
                try:
                    replaced = doc.set(b.path, "nixgen-value").document
                except EditError as err:
                    assert "deeper keys" in err.message  # Nix would reject it too
                else:
                    assert replaced.value(b.path) == "nixgen-value"
                    results.append(replaced)
            sibling = (*b.path[:-1], "nixgenNew")
            try:
                added = doc.set(sibling, [1, "two"])
            except EditError as err:
                assert "attribute already defined" in err.message or "deeper keys" in err.message
            else:
                assert added.document.value(sibling) == [1, "two"]
                assert_delete_undoes(doc, added, sibling)
                results.append(added.document)
            for i, new in enumerate(results):
                out = tmp_path / f"{path.stem}-{len(outputs)}-{i}.nix"
                out.write_bytes(new.data)
                outputs.append(out)
    assert len(outputs) > 200
    for start in range(0, len(outputs), 150):
        batch = [str(p) for p in outputs[start : start + 150]]
        proc = subprocess.run(
            [nix_instantiate, *NIX_OFFLINE, "--parse", *batch], capture_output=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")


# -- names with an escaped dollar are fixed names ---------------------------------------------


def _nix_json(source: str | bytes, nix_instantiate: str, tmp_path: Path) -> object:
    import json
    import subprocess

    from conftest import NIX_OFFLINE

    module = tmp_path / "escaped.nix"
    module.write_bytes(source.encode() if isinstance(source, str) else source)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(module)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("key", "name", "spelled"),
    [
        (r'"a\$b"', "a$b", 's."a$b"'),
        (r'"\${x}"', "${x}", r's."\${x}"'),
        (r'"\$"', "$", 's."$"'),
        ('"$${x}"', "$${x}", 's."$${x}"'),
    ],
)
def test_escaped_dollar_key_is_found_and_edited_in_place(
    key: str, name: str, spelled: str, nix_instantiate: str, tmp_path: Path
) -> None:
    before = f"{{ s = {{ {key} = 0; l = 1; }}; }}\n"
    assert _nix_json(before, nix_instantiate, tmp_path) == {"s": {name: 0, "l": 1}}
    doc = Document.from_text(before)
    assert [b.value for b in doc.get(("s", name))] == [0]
    assert doc.value("s") == {name: 0, "l": 1}
    # set: the existing key gets the value (no second definition Nix would reject)
    after = doc.set(("s", name), 1).document
    assert after.source == before.replace(" = 0;", " = 1;")
    assert _nix_json(after.data, nix_instantiate, tmp_path) == {"s": {name: 1, "l": 1}}
    # the user's quoted spelling (`nixgen set 's."a$b"'`) means the same key
    by_text = doc.set(spelled, 2).document
    assert _nix_json(by_text.data, nix_instantiate, tmp_path) == {"s": {name: 2, "l": 1}}
    # delete and rename find it
    deleted = doc.delete(("s", name)).document
    assert _nix_json(deleted.data, nix_instantiate, tmp_path) == {"s": {"l": 1}}
    renamed = doc.rename(("s", name), ("s", "z")).document
    assert _nix_json(renamed.data, nix_instantiate, tmp_path) == {"s": {"z": 0, "l": 1}}


def test_append_to_a_list_under_an_escaped_dollar_key(nix_instantiate: str, tmp_path: Path) -> None:
    before = '{ "a\\$b" = [ 1 ]; }\n'
    change = Document.from_text(before).append(("a$b",), 2)
    assert change.document.source == '{ "a\\$b" = [ 1 2 ]; }\n'
    assert _nix_json(change.data, nix_instantiate, tmp_path) == {"a$b": [1, 2]}
    removed = change.document.remove(("a$b",), 1).document
    assert _nix_json(removed.data, nix_instantiate, tmp_path) == {"a$b": [2]}


def test_a_key_that_really_interpolates_stays_dynamic() -> None:
    doc = Document.from_text('let x = "q"; in { "\\\\${x}" = 0; "$$${x}" = 1; }')
    assert all(isinstance(b.path[0], Dynamic) for b in doc.bindings())


# -- delete: what becomes of the parents ---------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "path", "after"),
    [
        # dotted form: the parents spelled only in the deleted key go with it
        ("{ a.b = 1; c = 2; }", "a.b", "{ c = 2; }"),
        ("{ a.b.c = 1; a.x = 2; }", "a.b.c", "{ a.x = 2; }"),
        # nested form: the set literal stays, even empty
        ("{ a = { b = 1; }; c = 2; }", "a.b", "{ a = { }; c = 2; }"),
        ("{ a.b = { c = 1; }; }", "a.b.c", "{ a.b = { }; }"),
    ],
)
def test_delete_parents_in_the_dotted_and_the_nested_form(
    before: str, path: str, after: str, nix_instantiate: str
) -> None:
    expect(before, "delete", (path,), after, nix_instantiate)
    doc = Document.delete.__doc__ or ""
    assert "a = { };" in doc and "c = 2;" in doc  # the docstring tells both forms
