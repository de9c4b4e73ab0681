"""Tests of the single-file rules of nixgen.checks: NG001, NG101-103, NG201-203, NG501.

Duplicate detection is compared with the real Nix parser, case by case and on generated
attribute sets; every fix is checked before/after on fixtures, applied twice, kept inside its
span, and the fixed file is accepted by ``nix-instantiate --parse``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, nix_parse_ok
from hypothesis import given
from hypothesis import strategies as st

from nixgen.checks import RULES, apply_fixes, check_document, check_source
from nixgen.checks.model import code_enabled, normalise_codes
from nixgen.errors import UsageError

FIX_DIR = FIXTURES / "checks" / "fix"
PAIRS = sorted(p.name.removesuffix(".before.nix") for p in FIX_DIR.glob("*.before.nix"))


def codes(src: str | bytes, **kw: object) -> list[tuple[str, int, int]]:
    data = src.encode() if isinstance(src, str) else src
    return [(f.code, f.line, f.col) for f in check_source(data, **kw)]  # type: ignore[arg-type]


# --- NG001 -------------------------------------------------------------------------------------


def test_syntax_error_is_reported_with_position_and_nothing_else() -> None:
    src = b"{\n  a = 1;\n  b = ;\n  a = 2;\n}\n"
    found = check_source(src, Path("x.nix"))
    assert [f.code for f in found] == ["NG001"]
    assert found[0].line == 3
    assert found[0].severity == "error"
    assert str(found[0].file) == "x.nix"


def test_trailing_comma_in_formals_is_not_a_syntax_error() -> None:
    assert codes("{ config, pkgs, }: { }") == []
    assert codes("{ a ? 1, }: { }") == []


def test_clean_file_has_no_findings() -> None:
    src = """# comment
{ config, lib, pkgs, ... }:
{
  services.openssh.enable = true;
  services.openssh.ports = [ 22 ];
  environment.systemPackages = with pkgs; [ vim ];
}
"""
    assert codes(src) == []


# --- NG101 / NG102 / NG103 agree with Nix ------------------------------------------------------

HEADER = "{ x, f, lib, b }: "
CASES = [
    "{ a.b.c = 1; a = { b.c = 2; }; }",
    "{ a.b.c = 1; a = { b.d = 2; }; }",
    "{ a = { b.d = 2; }; a.b.c = 1; }",
    "{ a = { b.d = 2; }; a = { b.c = 1; }; }",
    "{ a = { b.d = 2; }; a = { c = 1; }; }",
    "{ a = x; a.b = 1; }",
    "{ a.b = 1; a = x; }",
    "{ a = rec { b = 1; }; a.c = 1; }",
    "{ a = 1; a = 1; }",
    "{ a.b = 1; a.b = 2; }",
    "{ a.b = 1; a.b.c = 2; }",
    "{ a.b.c = 1; a.b = { d = 1; }; }",
    '{ "a".b = 1; a.c = 1; }',
    '{ "a" = 1; a = 2; }',
    "{ inherit x; x = 1; }",
    "{ inherit x; x.b = 1; }",
    "let a.b = 1; a.c = 2; in a",
    "let a = 1; a = 2; in a",
    "rec { a = 1; a = 2; }",
    "{ a = (y: 1); a.b = 1; }",
    "{ a = ({ b = 1; }); a.c = 1; }",
    "{ a = { }; a = { }; }",
    '{ ${"a"} = 1; a = 2; }',
    "{ inherit (x) a; a.b = 1; }",
    "{ a = { inherit b; }; a.b = 1; }",
    "{ a = { b = { c = 1; }; }; a.b.d = 1; }",
    "{ a = { b = x; }; a.b.d = 1; }",
    "{ a = { b = 1; }; a.b = 2; }",
    "[ { a = 1; a = 2; } ]",
    "{ a = lib.mkIf true { b = 1; }; a.c = 2; }",
    "{ a.c = 2; a = lib.mkIf true { b = 1; }; }",
    "{ a = f { b = 1; b = 2; }; }",
    "{ a.${x} = 1; a.${x} = 2; }",
    '{ "a\\"b" = 1; "a\\"b" = 2; }',
]


@pytest.mark.parametrize("case", CASES)
def test_duplicate_errors_match_nix(case: str, nix_instantiate: str) -> None:
    src = HEADER + case
    ok, err = nix_parse_ok(src, nix_instantiate)
    errors = [c for c in codes(src) if c[0] in ("NG101", "NG102")]
    assert bool(errors) == (not ok), (case, err, errors)
    if not ok and "already defined" in err:
        # reported at the second definition (Nix names one of the two places)
        assert errors


def test_duplicate_reported_at_second_naming_first() -> None:
    src = "{\n  a.b.c = 1;   # first\n  a = {\n    b.c = 2;\n  };\n}\n"
    [f] = check_source(src.encode(), Path("h.nix"))
    assert (f.code, f.line, f.col) == ("NG101", 4, 5)
    assert "2:3" in f.message and "a.b" in f.message
    assert f.related == (("h.nix", 2, 3),)


def test_dotted_key_beside_mkif_is_ng102_both_orders() -> None:
    src = "{ lib, ... }: {\n  services.x = lib.mkIf true { enable = true; };\n  services.x.port = 1;\n}"
    [f] = check_source(src.encode())
    assert (f.code, f.line) == ("NG102", 3)
    assert "2:3" in f.message and "mkIf" in f.message
    src2 = "{ lib, ... }: {\n  services.x.port = 1;\n  services.x = lib.mkIf true { };\n}"
    [g] = check_source(src2.encode())
    assert (g.code, g.line) == ("NG102", 3)


def test_merge_is_a_note_and_fixed_layout_is_clean() -> None:
    before = "{\n  networking = { hostName = \"h\"; };\n  networking.firewall.enable = true;\n}"
    [f] = check_source(before.encode())
    assert (f.code, f.severity, f.line) == ("NG103", "note", 3)
    after = "{\n  networking = {\n    hostName = \"h\";\n    firewall.enable = true;\n  };\n}"
    assert codes(after) == []


def test_plain_dotted_keys_are_not_notes() -> None:
    assert codes("{ a.b = 1; a.c = 2; a.d.e = 3; }") == []


def test_duplicates_fixed_by_hand_are_clean() -> None:
    assert codes("{ a = { b.c = 2; d = 1; }; }") == []
    assert codes("{ lib }: { a = lib.mkIf true { b = 1; c = 2; }; }") == []


NAMES = st.sampled_from(["a", "b", "c"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(".".join)


@st.composite
def attrsets(draw: st.DrawFn, depth: int = 0) -> str:
    items = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 9)) == 0:
            items.append(f"inherit {draw(NAMES)};")
            continue
        key = draw(PATHS)
        if draw(st.integers(0, 5)) == 0:
            key = key.replace("a", '"a"', 1)
        kinds = ["int", "call", "set", "rec", "paren", "mkif"] if depth < 2 else ["int", "call"]
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            value = "1"
        elif kind == "call":
            value = "(f 1)"
        elif kind == "mkif":
            value = f"f true {draw(attrsets(depth + 1))}"
        else:
            inner = draw(attrsets(depth + 1))
            value = {"set": inner, "rec": "rec " + inner, "paren": f"({inner})"}[kind]
        items.append(f"{key} = {value};")
    return "{ " + " ".join(items) + " }"


@given(attrsets())
def test_generated_attrsets_agree_with_nix(body: str) -> None:
    src = "{ f, a, b, c }: " + body
    ok, err = nix_parse_ok(src)
    errors = [c for c in codes(src) if c[0] in ("NG101", "NG102")]
    assert bool(errors) == (not ok), (src, err, errors)


# --- fixes: before/after fixtures ------------------------------------------------------------


@pytest.mark.parametrize("name", PAIRS)
def test_fix_before_after(name: str, nix_instantiate: str) -> None:
    before = (FIX_DIR / f"{name}.before.nix").read_bytes()
    after = (FIX_DIR / f"{name}.after.nix").read_bytes()
    findings = check_source(before, FIX_DIR / f"{name}.before.nix")
    assert findings and all(f.fix is not None for f in findings)
    fixed = apply_fixes(before, findings)
    assert fixed == after
    ok, err = nix_parse_ok(fixed, nix_instantiate)
    assert ok, err
    # twice changes nothing, and nothing fixable is left
    again = check_source(fixed)
    assert [f for f in again if f.fix is not None] == []
    assert apply_fixes(fixed, again) == fixed


ALLOWED_REPLACED = {"NG201": {"pkgs.lib", ""}, "NG202": {""}, "NG501": {"systemd.", "extraUsers", "extraGroups",
                                                         "users", "groups", ""}}


@pytest.mark.parametrize("name", PAIRS)
def test_each_fix_alone_stays_in_its_span(name: str) -> None:
    before = (FIX_DIR / f"{name}.before.nix").read_bytes()
    for f in check_source(before):
        assert f.fix is not None
        for e in f.fix.edits:
            assert before[e.start : e.end].decode() in ALLOWED_REPLACED[f.code]
        alone = apply_fixes(before, [f])
        first = min(e.start for e in f.fix.edits)
        last = max(e.end for e in f.fix.edits)
        growth = len(alone) - len(before)
        assert alone[:first] == before[:first]
        assert alone[last + growth :] == before[last:]
        assert not check_source(alone) or all(g.code != "NG001" for g in check_source(alone))


def test_ng201_reports_with_and_select_forms() -> None:
    src = b"{ config, pkgs, ... }:\nwith pkgs.lib;\n{ x = pkgs.lib.mkForce 1; y = pkgs.hello; }"
    found = check_source(src)
    assert [(f.code, f.line, f.col) for f in found] == [("NG201", 2, 6), ("NG201", 3, 7)]
    assert "with pkgs.lib;" in found[0].message
    assert all("lib, ..." in (f.fix.edits[0].text + ", ...") for f in found if f.fix)


def test_ng201_only_in_modules_taking_pkgs() -> None:
    assert codes("pkgs: { x = pkgs.lib.id; }") == []
    assert codes("{ stdenv, pkgs ? import <nixpkgs> {} }: pkgs.lib.id") != []
    assert codes("{ config, ... }: { x = 1; }") == []


def test_ng201_without_fix_when_lib_is_shadowed() -> None:
    src = b"{ pkgs, ... }: let lib = 1; in { x = pkgs.lib.id; }"
    [f] = check_source(src)
    assert f.code == "NG201" and f.fix is None


def test_ng201_fix_shared_formals_edit_is_applied_once() -> None:
    src = b"{ config, pkgs, ... }: { a = pkgs.lib.x; b = pkgs.lib.y; }"
    out = apply_fixes(src, check_source(src))
    assert out == b"{ config, pkgs, lib, ... }: { a = lib.x; b = lib.y; }"


def test_ng501_not_reported_when_one_dialect() -> None:
    assert codes("{ users.extraUsers.a.uid = 1; systemd.containers.x.config = { }; }") == []
    assert codes("{ users.users.a.uid = 1; containers.x.config = { }; }") == []


def test_ng501_no_fix_for_modern_only_options_into_legacy() -> None:
    src = b"""{
  systemd.containers.a.config = { };
  systemd.containers.b.config = { };
  containers.c = { privateNetwork = true; config = { }; };
}"""
    [f] = check_source(src)
    assert f.code == "NG501" and f.fix is None


def test_ng501_no_fix_when_rename_would_define_twice() -> None:
    src = b"""{
  containers.a.config = { };
  containers.b.config = { };
  containers.x.config = { services.a.enable = true; };
  systemd.containers.x.config = { services.b.enable = true; };
}"""
    [f] = check_source(src)
    assert f.code == "NG501" and f.fix is None
    assert check_source(apply_fixes(src, [f])) == check_source(src)


def test_ng501_nested_systemd_set_is_reported_without_fix() -> None:
    src = b"{ containers.a.config = {}; containers.b.config = {};\n" \
          b"  systemd = { containers.c.config = {}; services.x.enable = true; }; }"
    [f] = check_source(src)
    assert (f.code, f.line, f.fix) == ("NG501", 2, None)


# --- selection, API ----------------------------------------------------------------------------


def test_select_and_ignore_by_code_and_prefix() -> None:
    src = "{ config, pkgs, ... }: { a = 1; a = 2; x = pkgs.lib.id; }"
    assert {c[0] for c in codes(src)} == {"NG101", "NG201"}
    assert {c[0] for c in codes(src, select=["NG1"])} == {"NG101"}
    assert {c[0] for c in codes(src, ignore=["ng101"])} == {"NG201"}
    assert codes(src, select=["NG101,NG201"], ignore=["NG2"]) == [("NG101", 1, 33)]


def test_unknown_code_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        normalise_codes(["NG999"])
    assert code_enabled("NG301", ("NG3",), ())
    assert not code_enabled("NG301", (), ("ALL",))


def test_every_rule_has_severity_and_summary() -> None:
    assert {"NG001", "NG101", "NG102", "NG103", "NG201", "NG202", "NG203", "NG301", "NG302",
            "NG303", "NG304", "NG401", "NG501"} <= set(RULES)
    assert all(r.severity in ("error", "warning", "note") and r.summary for r in RULES.values())


def test_check_document_on_a_buffer_and_json_shape(tmp_path: Path) -> None:
    from nixgen.document import Document

    path = tmp_path / "configuration.nix"
    path.write_text("{ }\n")
    doc = Document.from_text("{ pkgs, ... }:\n{ x = pkgs.lib.id; }\n", path=path)
    [f] = check_document(doc)
    assert f.file == path and (f.line, f.col, f.end_line, f.end_col) == (2, 7, 2, 15)
    data = f.to_json()
    assert data["code"] == "NG201" and data["fix"]["edits"]
    assert {"start", "end", "text"} == set(data["fix"]["edits"][0])


SEPARATORS = st.sampled_from([", ", ",", " , ", ",\n  ", "\n, ", ",  # note\n  ", ",\n\n  "])


@st.composite
def modules_with_pkgs_lib(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(["config", "options", "modulesPath", "utils"]),
                          unique=True, max_size=3))
    names.insert(draw(st.integers(0, len(names))), "pkgs")
    parts = [names[0]]
    for name in names[1:]:
        parts.append(draw(SEPARATORS) + name)
    if draw(st.booleans()):
        parts.append(draw(SEPARATORS) + "...")
    elif draw(st.booleans()):
        parts.append(",")               # a trailing comma (Nix accepts it; not after ...)
    comment = draw(st.sampled_from(["", "  # args", " /* args */"]))
    head = "{ " + "".join(parts) + comment + "\n}:\n"
    body = draw(st.sampled_from([
        "with pkgs.lib; { x = mkForce 1; }",
        "{ x = pkgs.lib.mkForce 1; y = pkgs.lib.mkIf true { }; }",
        "let inherit (pkgs.lib) mkIf; in { }",
    ]))
    return head + body


@given(modules_with_pkgs_lib())
def test_generated_pkgs_lib_fixes_parse_and_are_idempotent(src: str) -> None:
    data = src.encode()
    assert nix_parse_ok(data)[0], src
    findings = check_source(data)
    assert findings and all(f.code == "NG201" and f.fix for f in findings)
    fixed = apply_fixes(data, findings)
    ok, err = nix_parse_ok(fixed)
    assert ok, (src, fixed.decode(), err)
    assert b"pkgs.lib" not in fixed
    assert check_source(fixed) == []
    assert apply_fixes(fixed, check_source(fixed)) == fixed


def test_apply_fixes_refuses_a_fix_that_breaks_the_syntax() -> None:
    from nixgen.checks import Finding, Fix
    from nixgen.edits import Edit

    src = b"{ pkgs, ... }: { x = pkgs.lib.id; }"
    [good] = check_source(src)
    bad = Finding("NG999", "warning", "bogus", None, 1, 1, 1, 2, 0, 1,
                  Fix("drop the brace", (Edit(15, 16, ""),)))
    assert apply_fixes(src, [bad]) == src
    assert apply_fixes(src, [bad, good]) == b"{ pkgs, lib, ... }: { x = lib.id; }"


CORPUS = sorted((FIXTURES / "configs").rglob("*.nix"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_errors_agree_with_nix(path: Path, nix_instantiate: str) -> None:
    data = path.read_bytes()
    ok, err = nix_parse_ok(data, nix_instantiate)
    # the parse-level errors only: a corpus file may import a hardware-configuration.nix that
    # is not part of the corpus (NG203, which the Nix parser does not look at)
    errors = [f.code for f in check_source(data, path, select=["NG0", "NG1"])
              if f.severity == "error"]
    assert bool(errors) == (not ok), (errors, err)


def test_byte_order_mark_is_ng001_with_a_fix(nix_instantiate: str) -> None:
    data = "\ufeff# saved by an editor\n{ a = 1; }\n".encode()
    [f] = check_source(data)
    assert (f.code, f.line, f.col, f.start_byte, f.end_byte) == ("NG001", 1, 1, 0, 3)
    fixed = apply_fixes(data, [f])
    assert fixed == data[3:] and nix_parse_ok(fixed, nix_instantiate)[0]
    assert check_source(fixed) == []


def test_ng201_no_fix_adding_a_required_lib_where_pkgs_has_a_default(
        nix_instantiate: str) -> None:
    # `import ./file.nix { }` must keep working: a required `lib` argument would break it
    src = b"{ pkgs ? import <nixpkgs> { } }:\npkgs.lib.mkDefault 1\n"
    [f] = check_source(src)
    assert f.code == "NG201" and f.fix is None
    assert apply_fixes(src, [f]) == src
    # with `lib` already an argument, the rewrite alone is still safe
    src = b"{ lib, pkgs ? import <nixpkgs> { } }:\npkgs.lib.mkDefault 1\n"
    [f] = check_source(src)
    assert apply_fixes(src, [f]) == b"{ lib, pkgs ? import <nixpkgs> { } }:\nlib.mkDefault 1\n"
    assert nix_parse_ok(apply_fixes(src, [f]), nix_instantiate)[0]



# The module called as NixOS calls it (`lib` is `pkgs.lib`), passing only the arguments it
# names (or everything when it takes `...`), evaluated strictly to JSON by the real Nix
# (functions shown as "<function>").
CALL_MODULE = """
let
  f = import ./m.nix;
  pkgs = { lib = { id = x: x; name = "nixpkgs"; x = 1; }; hello = "hello"; };
  all = ARGS;
  wanted = builtins.functionArgs f;
  show = v: if builtins.isFunction v then "<function>"
    else if builtins.isAttrs v then builtins.mapAttrs (_: show) v
    else if builtins.isList v then map show v else v;
in show (f (if wanted == { } then all else builtins.intersectAttrs wanted all))
"""


def evaluated_module(src: bytes, nix_instantiate: str, tmp_path: Path,
                     args: str = "{ inherit pkgs; lib = pkgs.lib; }") -> str:
    """JSON of the module ``src`` called with ``args`` (in scope: ``pkgs``), or the error."""
    import subprocess

    from conftest import NIX_OFFLINE

    (tmp_path / "m.nix").write_bytes(src)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E",
         CALL_MODULE.replace("ARGS", args)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (src, proc.stderr)
    return proc.stdout.strip()


@pytest.mark.parametrize(("src", "args"), [
    # `lib ? pkgs.lib` must not become `lib ? lib` (infinite recursion)
    ("{ pkgs ? { lib.id = x: x; }, lib ? pkgs.lib }:\n{\n  y = lib.id 1;\n}\n", "{ }"),
    ("{ pkgs, lib ? pkgs.lib, ... }:\n{\n  y = lib.id 1;\n}\n", "{ inherit pkgs; }"),
    # the default of any other argument too
    ("{ pkgs, lib, f ? pkgs.lib.id, ... }:\n{\n  y = f 1;\n}\n",
     "{ inherit pkgs; lib = pkgs.lib; }"),
    ("{ pkgs, f ? pkgs.lib.id }:\n{\n  y = f 1;\n}\n", "{ inherit pkgs; }"),
])
def test_ng201_no_fix_in_an_argument_default(src: str, args: str, nix_instantiate: str,
                                             tmp_path: Path) -> None:
    data = src.encode()
    found = check_source(data)
    assert found and all(f.code == "NG201" and f.fix is None for f in found)
    assert apply_fixes(data, found) == data
    evaluated_module(data, nix_instantiate, tmp_path, args)     # it evaluates as given


def test_ng201_fixes_the_body_but_not_the_default_of_lib(nix_instantiate: str,
                                                         tmp_path: Path) -> None:
    src = b"{ pkgs ? { lib.id = x: x; }, lib ? pkgs.lib }:\n{\n  y = pkgs.lib.id 1;\n}\n"
    found = check_source(src)
    assert [(f.line, f.fix is not None) for f in found] == [(1, False), (3, True)]
    fixed = apply_fixes(src, found)
    assert fixed == src.replace(b"y = pkgs.lib.id", b"y = lib.id")
    assert (evaluated_module(fixed, nix_instantiate, tmp_path, "{ }")
            == evaluated_module(src, nix_instantiate, tmp_path, "{ }") == '{"y":1}')


@pytest.mark.parametrize("src", [
    "{ pkgs, lib, ... }:\n{\n  y = pkgs.lib or null;\n}\n",
    "{ pkgs, ... }:\n{\n  y = (pkgs.lib or null);\n}\n",
    "{ pkgs, lib, ... }:\n{\n  y = builtins.attrNames pkgs.lib or [ ];\n}\n",
])
def test_ng201_no_fix_for_pkgs_lib_or_a_default(src: str, nix_instantiate: str,
                                                tmp_path: Path) -> None:
    # `lib or null` is `lib` applied to the variables `or` and `null`
    data = src.encode()
    [f] = check_source(data)
    assert f.code == "NG201" and f.fix is None
    assert apply_fixes(data, [f]) == data
    evaluated_module(data, nix_instantiate, tmp_path)


@pytest.mark.parametrize("body", [
    "y = pkgs.lib.x or 5;",
    "y = pkgs.lib.missing or 5;",
    "y = (pkgs.lib).x;",
    "y = pkgs.lib.${\"x\"};",
    "y = (pkgs.lib.id or null) 2;",
])
@pytest.mark.parametrize("head", ["{ pkgs, lib, ... }:", "{ pkgs, ... }:", "{ pkgs }:"])
def test_ng201_fixes_of_other_select_shapes_keep_the_value(
        head: str, body: str, nix_instantiate: str, tmp_path: Path) -> None:
    src = f"{head}\n{{\n  {body}\n}}\n".encode()
    [f] = check_source(src)
    assert f.fix is not None
    fixed = apply_fixes(src, [f])
    assert b"pkgs.lib" not in fixed and nix_parse_ok(fixed, nix_instantiate)[0]
    assert (evaluated_module(fixed, nix_instantiate, tmp_path)
            == evaluated_module(src, nix_instantiate, tmp_path))


@pytest.mark.parametrize("src", [
    '{ pkgs, ... }:\nwith { lib = { name = "mine"; }; };\n{\n  x = lib.name;\n'
    "  y = pkgs.lib.name;\n}\n",
    "{ pkgs, ... }:\nwith pkgs;\n{\n  x = lib.name;\n  y = pkgs.lib.name;\n}\n",
    "{ pkgs, ... }:\nwith pkgs;\n{\n  inherit lib;\n  y = pkgs.lib.name;\n}\n",
    "{ pkgs, ... }:\nwith pkgs;\nlet inherit lib; in\n{\n  x = lib.name;\n"
    "  y = pkgs.lib.name;\n}\n",
    '{ pkgs, ... }:\nwith pkgs;\n{\n  x = "${lib.name}";\n  y = pkgs.lib.name;\n}\n',
    "{ pkgs, ... }:\nwith pkgs;\n{\n  y = pkgs.lib.name;\n  f = { a ? lib.name }: a;\n}\n",
])
def test_ng201_no_fix_when_the_added_lib_would_capture_a_lib_from_with(
        src: str, nix_instantiate: str, tmp_path: Path) -> None:
    data = src.encode()
    found = check_source(data)
    assert found and all(f.code == "NG201" and f.fix is None for f in found)
    assert apply_fixes(data, found) == data
    evaluated_module(data, nix_instantiate, tmp_path)


@pytest.mark.parametrize("src", [
    # `lib` bound inside the file: the added argument does not capture it
    "{ pkgs, ... }:\nlet f = lib: lib.name; in\n{\n  x = f { name = \"a\"; };\n"
    "  y = pkgs.lib.name;\n}\n",
    "{ pkgs, ... }:\nlet o = { lib = { name = \"o\"; }; }; in with o;\n{\n  z = o.lib.name;\n"
    "  y = pkgs.lib.name;\n}\n",
    # `with pkgs;` without a bare `lib`
    "{ pkgs, ... }:\nwith pkgs;\n{\n  x = hello;\n  y = pkgs.lib.name;\n}\n",
    # `lib` already an argument: a `with` cannot override it
    "{ pkgs, lib, ... }:\nwith pkgs;\n{\n  x = lib.name;\n  y = pkgs.lib.name;\n}\n",
])
def test_ng201_fix_where_no_lib_from_with_is_captured_keeps_the_value(
        src: str, nix_instantiate: str, tmp_path: Path) -> None:
    data = src.encode()
    [f] = check_source(data)
    assert f.fix is not None
    fixed = apply_fixes(data, [f])
    assert (evaluated_module(fixed, nix_instantiate, tmp_path)
            == evaluated_module(data, nix_instantiate, tmp_path))


@pytest.mark.parametrize("src", [
    # the whole argument set is `lib`: `{ pkgs, lib }` would be a duplicate argument
    "lib@{ pkgs, ... }:\n{\n  y = pkgs.lib.name;\n}\n",
    # a `lib` argument that is something else when not passed
    '{ pkgs, lib ? { name = "own"; }, ... }:\n{\n  y = pkgs.lib.name;\n}\n',
])
def test_ng201_no_fix_when_lib_is_not_pkgs_lib(src: str) -> None:
    data = src.encode()
    [f] = check_source(data)
    assert f.code == "NG201" and f.fix is None

# --- NG202: the full module form with other top-level names -----------------------------------

FORM_DIR = FIXTURES / "checks" / "module_form"
IMPORTS_DIR = FIXTURES / "checks" / "imports"


def marked_lines(path: Path, marker: str) -> list[int]:
    """1-based numbers of the lines of ``path`` carrying the comment ``# <marker>``."""
    lines = path.read_text().splitlines()
    return [i for i, line in enumerate(lines, 1) if f"# {marker}" in line]


def test_ng202_reports_each_unsupported_name_at_its_binding() -> None:
    path = FORM_DIR / "mixed.nix"
    found = check_source(path.read_bytes(), path)
    ng202 = [f for f in found if f.code == "NG202"]
    assert [f.line for f in ng202] == marked_lines(path, "NG202")
    assert all(f.severity == "error" for f in ng202)
    text = path.read_bytes()
    assert [text[f.start_byte : f.end_byte] for f in ng202] == [b"networking", b"users",
                                                                b'"boot"']
    assert "`networking`" in ng202[0].message and "`config`" in ng202[0].message
    assert all("`boot`" in f.message for f in ng202)      # each names all of them
    # an inherit cannot be renamed: no fix for any of them
    assert all(f.fix is None for f in ng202)


@pytest.mark.parametrize("name", ["short.nix", "allowed.nix"])
def test_ng202_not_reported_for_the_short_form_or_allowed_names(name: str) -> None:
    path = FORM_DIR / name
    assert check_source(path.read_bytes(), path) == []


@pytest.mark.parametrize("src", [
    "{ networking.hostName = \"a\"; imports = [ ]; meta = { }; }",
    "{ config, ... }: { networking.hostName = config.x; }",
    "{ services.x.config = { }; services.x.options = 1; boot.y = 1; }",
    "{ options.a = 1; config.b = 2; ${\"x\"+\"y\"} = 3; }",
    "{ config, ... }: let config = { }; in { imports = [ ]; _file = \"f\"; config.a = 1; }",
    "[ { options = 1; networking = 2; } ]",
])
def test_ng202_not_reported(src: str) -> None:
    assert [c for c in codes(src) if c[0] == "NG202"] == []


@pytest.mark.parametrize(("src", "declares"), [
    ("{ options.a = 1; b = 2; }", "`options`"),
    ("{ config.a = 1; b = 2; }", "`config`"),
    ("{ lib, ... }: with lib; { config = { a = 1; }; options = { }; b.c = 2; }",
     "`options` and `config`"),
])
def test_ng202_either_options_or_config_makes_the_full_form(src: str, declares: str) -> None:
    [f] = check_source(src.encode())
    assert f.code == "NG202" and f.fix is not None
    assert declares in f.message and "`b`" in f.message


@pytest.mark.parametrize("src", [
    # the moved key would clash with the later literal `config = { networking = … }`
    "{ networking.x = 1; config = { networking = { y = 2; }; }; }",
    # a dotted `config.…` key beside `config = mkIf …` is rejected by Nix
    "{ lib, ... }: { config = lib.mkIf true { }; networking.x = 1; }",
    # in a rec set the rename changes what the other bindings see
    "rec { options.a = 1; b = 2; c = b; }",
])
def test_ng202_without_fix_where_moving_is_not_safe(src: str) -> None:
    found = [f for f in check_source(src.encode()) if f.code == "NG202"]
    assert found and all(f.fix is None for f in found)


def test_ng202_fix_is_accepted_by_nix_with_the_same_values(nix_instantiate: str,
                                                           tmp_path: Path) -> None:
    import subprocess

    from conftest import NIX_OFFLINE

    src = (b"{\n  options.a = 1;\n  config = { x = 1; };\n  networking.hostName = \"h\";"
           b"  # here\n  boot.loader = { timeout = 3; };\n}\n")
    found = check_source(src)
    assert {f.code for f in found} == {"NG202"} and all(f.fix for f in found)
    fixed = apply_fixes(src, found)
    assert b"  # here\n" in fixed and len(fixed) == len(src) + 2 * len("config.")
    assert [f for f in check_source(fixed) if f.code == "NG202"] == []
    (tmp_path / "m.nix").write_bytes(fixed)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E",
         "builtins.attrNames (import ./m.nix) ++ builtins.attrNames (import ./m.nix).config"
         " ++ [ (import ./m.nix).config.networking.hostName ]"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '["config","options","boot","networking","x","h"]'



# Each module's config as NixOS would see it once the top-level names sit in `config`: the
# function (if any) called on stand-ins, its `config` merged with its other top-level names.
# Before a fix and after it, this must be the same value.
NORMALISED_CONFIG = """
let
  m0 = import ./m.nix;
  m = if builtins.isFunction m0 then m0 { lib = { mkOption = x: x; }; } else m0;
  merge = a: b: a // builtins.mapAttrs (n: v:
    if builtins.isAttrs v && builtins.isAttrs (a.${n} or null) then merge a.${n} v else v) b;
  extra = removeAttrs m [ "options" "config" "imports" "meta" "_file" ];
in merge (m.config or { }) extra
"""


def normalised_config(src: bytes, nix_instantiate: str, tmp_path: Path) -> tuple[bool, str]:
    """(evaluated, JSON of the module's config with its top-level names merged in, or the
    error) by the real Nix."""
    import subprocess

    from conftest import NIX_OFFLINE

    (tmp_path / "m.nix").write_bytes(src)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E", NORMALISED_CONFIG],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return proc.returncode == 0, proc.stdout.strip() if proc.returncode == 0 else proc.stderr


def prefixed_by_hand(src: bytes) -> bytes:
    """``src`` with ``config.`` put before every NG202 name, whether or not a fix is offered."""
    starts = sorted({f.start_byte for f in check_source(src) if f.code == "NG202"}, reverse=True)
    for start in starts:
        src = src[:start] + b"config." + src[start:]
    return src


# Moving these into `config` would land in (or merge with) a `rec` set on the moved path, or
# clash with a `config` that is not a set literal: the value seen by Nix would change (or the
# file would stop evaluating), so no fix is offered.
UNSAFE_MOVES = [
    # the moved value sees the rec set's `domain`
    (FORM_DIR / "rec_merge.nix").read_text(),
    # `config = rec { … }` itself
    'let hostName = "let"; in\n{ options.a = 1; config = rec { hostName = "fromrec"; };\n'
    "  networking.hostName = hostName; }\n",
    # a rec set deeper inside a literal config
    'let domain = "outer"; in\n{ options.a = 1; config = { networking = rec { domain = "lan"; '
    '}; };\n  networking.fqdn = domain; }\n',
    # parentheses do not keep Nix from merging
    'let x = "outer"; in { options.a = 1; config = (rec { x = "rec"; }); y = x; }\n',
    # the existing rec set's own bindings would see the moved name
    'let x = "outer"; in { options.a = 1; config = rec { y = x; }; x = "moved"; }\n',
    # a moved rec set merged into the set Nix made for `config.networking.a` loses its rec
    'let b = "outer"; in\n{ options.a = 1; config.networking.a = 1;\n'
    '  networking = rec { b = "inner"; c = b; }; }\n',
    # `with` / `let … in` around the existing config: Nix merges nothing into it
    'let x = "outer"; in { options.a = 1; config = with { x = "w"; }; { z = x; }; y = x; }\n',
    'let x = "outer"; in { options.a = 1; config = let x = "l"; in { z = x; }; y = x; }\n',
]

SAFE_MOVES = [
    # a plain literal config, and a moved set merged into it
    'let domain = "example.org"; in\n{ options.a = 1; config.networking = { domain = "lan"; };\n'
    '  networking.fqdn = "box.${domain}"; boot = { x = domain; }; }\n',
    # a rec set elsewhere in config, not on the moved path
    'let hostName = "let"; in\n{ options.a = 1; config.services = rec { hostName = "rec"; '
    "h = hostName; };\n  networking.hostName = hostName; }\n",
    # a moved rec set that merges with nothing keeps its rec
    '{ config.x = 1; networking = rec { domain = "lan"; fqdn = "box.${domain}"; }; }\n',
    # the function header and a let around the whole module
    '{ lib, ... }:\nlet d = "d"; in\n{ options.foo = lib.mkOption { };\n'
    '  config = { a = d; };\n  networking.fqdn = d; users.x = { y = d; }; }\n',
]


@pytest.mark.parametrize("src", UNSAFE_MOVES)
def test_ng202_no_fix_when_the_move_meets_a_rec_set_or_a_wrapped_config(
        src: str, nix_instantiate: str, tmp_path: Path) -> None:
    data = src.encode()
    found = [f for f in check_source(data) if f.code == "NG202"]
    assert found and all(f.fix is None for f in found)
    # the hazard is real: the rename by hand changes what Nix makes of the module
    before = normalised_config(data, nix_instantiate, tmp_path)
    assert before[0], before[1]
    assert normalised_config(prefixed_by_hand(data), nix_instantiate, tmp_path) != before


@pytest.mark.parametrize("src", SAFE_MOVES)
def test_ng202_fix_keeps_every_value(src: str, nix_instantiate: str, tmp_path: Path) -> None:
    data = src.encode()
    found = [f for f in check_source(data) if f.code == "NG202"]
    assert found and all(f.fix is not None for f in found)
    fixed = apply_fixes(data, found)
    assert fixed == prefixed_by_hand(data)
    assert [f for f in check_source(fixed) if f.code == "NG202"] == []
    before = normalised_config(data, nix_instantiate, tmp_path)
    assert before[0], before[1]
    assert normalised_config(fixed, nix_instantiate, tmp_path) == before


def test_ng202_select_and_ignore() -> None:
    src = "{ options.a = 1; b = 2; c = 3; c = 4; }"
    assert {c[0] for c in codes(src)} == {"NG101", "NG202"}
    assert {c[0] for c in codes(src, select=["NG202"])} == {"NG202"}
    assert {c[0] for c in codes(src, ignore=["NG2"])} == {"NG101"}


# --- NG203: literal imports of paths that do not exist --------------------------------------------


def test_ng203_reports_missing_files_and_directories_without_default_nix() -> None:
    path = IMPORTS_DIR / "configuration.nix"
    data = path.read_bytes()
    found = check_source(data, path)
    assert {f.code for f in found} == {"NG203"}
    assert [f.line for f in found] == marked_lines(path, "NG203")
    assert all(f.severity == "error" and f.fix is None for f in found)
    # located at the list item, naming what is missing
    assert [data[f.start_byte : f.end_byte] for f in found] == [
        b"./missing.nix", b"./empty-dir", b"./sub/gone.nix"]
    assert str(IMPORTS_DIR / "missing.nix") in found[0].message
    assert str(IMPORTS_DIR / "empty-dir" / "default.nix") in found[1].message


def test_ng203_not_reported_for_existing_or_computed_imports(tmp_path: Path) -> None:
    (tmp_path / "a.nix").write_text("{ }\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "default.nix").write_text("{ }\n")
    src = (f"{{ modulesPath, ... }}: {{ imports = [ ./a.nix ./d ./d/../a.nix {tmp_path}/a.nix "
           "(modulesPath + \"/x.nix\") <nixpkgs/y.nix> ./${\"z\"}.nix \"./q.nix\" ]; }\n")
    assert check_source(src.encode(), tmp_path / "m.nix") == []
    # without a file there is nothing to resolve a relative path against
    assert check_source(b"{ imports = [ ./nowhere.nix ]; }", None) == []
    [f] = check_source(f"{{ imports = [ {tmp_path}/nowhere.nix ]; }}".encode(), None)
    assert f.code == "NG203"


def test_ng203_follows_imports_through_check_paths(tmp_path: Path) -> None:
    from nixgen.checks import check_paths

    (tmp_path / "configuration.nix").write_text("{ imports = [ ./hw.nix ]; }\n")
    (tmp_path / "hw.nix").write_text("{\n  imports = [ ./gone.nix ];\n}\n")
    [f] = check_paths([tmp_path / "configuration.nix"])
    assert f.code == "NG203" and f.file is not None and f.file.name == "hw.nix"
    assert (f.line, f.col) == (2, 15)
    assert check_paths([tmp_path / "configuration.nix"], ignore=["NG203"]) == []


def _nix_imports_fail(module: Path, count: int, nix_instantiate: str) -> list[bool]:
    """For each of the ``count`` entries of ``module``'s ``imports``: whether Nix fails to
    import it."""
    import subprocess

    from conftest import NIX_OFFLINE

    out = []
    for i in range(count):
        expr = f"builtins.seq (import (builtins.elemAt (import {module}).imports {i})) true"
        proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "-E", expr],
                              capture_output=True, text=True, timeout=60)
        out.append(proc.returncode != 0)
        if proc.returncode != 0:
            assert "No such file or directory" in proc.stderr, proc.stderr
    return out


def test_ng203_agrees_with_nix(tmp_path: Path, nix_instantiate: str) -> None:
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (real / "e").mkdir()
    (real / "a.nix").write_text("{ }\n")
    (real / "d" / "default.nix").write_text("{ }\n")
    (real / "dangling.nix").symlink_to(real / "not-there.nix")
    entries = ["./a.nix", "./gone.nix", "./d", "./e", "./d/../a.nix", "./e/../gone.nix",
               "./dangling.nix", "../real/a.nix", f"{real}/a.nix", f"{real}/x.nix"]
    module = real / "m.nix"
    module.write_text("{\n  imports = [\n" + "".join(f"    {e}\n" for e in entries) + "  ];\n}\n")
    # the same module reached through a symlink elsewhere: Nix resolves from the link's target
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "m.nix"
    link.symlink_to("../real/m.nix")
    expected = _nix_imports_fail(module, len(entries), nix_instantiate)
    assert expected == _nix_imports_fail(link, len(entries), nix_instantiate)
    assert any(expected) and not all(expected)
    for path in (module, link):
        found = check_source(path.read_bytes(), path)
        assert all(f.code == "NG203" for f in found)
        assert [f.line - 3 for f in found] == [i for i, fails in enumerate(expected) if fails]


def test_ng201_no_fix_that_would_drop_a_comment() -> None:
    data = b"{ pkgs, lib, ... }:\n{\n  y = pkgs./* the set */lib.id;\n}\n"
    [f] = check_source(data)
    assert f.code == "NG201" and f.fix is None
