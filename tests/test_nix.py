"""nixgen.nix against the real Nix: evaluation, errors with locations, injection, timeouts,
crashes, a missing Nix, building, profiles and generations."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path, PurePosixPath

import pytest
from conftest import NIX_OFFLINE
from hypothesis import given, settings
from hypothesis import strategies as st

import nixgen.nix
from nixgen.errors import NixCommandError, NixNotFoundError, NixSyntaxError, ValidationError
from nixgen.nix import (
    NIXEXPRS,
    Nix,
    nix_available,
    parse_nix_message,
    split_attr_path,
    strip_ansi,
)

OFFLINE = [(NIX_OFFLINE[1], NIX_OFFLINE[2])]
SLOW = "let f = n: if n == 0 then 0 else builtins.seq (f (n - 1)) (f (n - 1)); in f 60"
NASTY = [
    "${builtins.abort \"pwned\"}",
    '"; builtins.abort "pwned"; "',
    "'' + builtins.abort \"pwned\" + ''",
    "); builtins.abort \"pwned\" (",
    "a;b\nc\r\nd\te",
    "\\${x} \\\" \\\\",
    "unicode: é ☃ 😀",
    "--option substituters x",
    "<nixpkgs>",
    "./relative.nix",
    "",
]


@pytest.fixture
def nix(nix_tools: dict[str, str]) -> Nix:
    return Nix(options=OFFLINE)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- command lines -------------------------------------------------------------------------


def test_command_adds_search_path_options_and_trace() -> None:
    n = Nix(search_path=["nixos=/x y", "/z"], options=[("substituters", "")], show_trace=True)
    assert n.command("nix-instantiate", "--eval", "f.nix") == [
        "nix-instantiate", "-I", "nixos=/x y", "-I", "/z", "--option", "substituters", "",
        "--show-trace", "--eval", "f.nix",
    ]
    # nix-store does not evaluate: no -I for it, the options still apply.
    assert n.command("nix-store", "--realise", "/nix/store/a.drv") == [
        "nix-store", "--option", "substituters", "", "--show-trace", "--realise",
        "/nix/store/a.drv",
    ]


def test_run_refuses_a_shell_string(nix: Nix) -> None:
    with pytest.raises(TypeError):
        nix.run("nix-instantiate --version")  # type: ignore[arg-type]


def test_nix_available_follows_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    nix_tools: dict[str, str]) -> None:
    assert nix_available()
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not nix_available()


# -- evaluation ----------------------------------------------------------------------------


def test_eval_expressions(nix: Nix) -> None:
    assert nix.eval("1 + 1") == 2
    assert nix.eval('{ a = [ 1 "x" null true 1.5 ]; b.c = { }; }') == {
        "a": [1, "x", None, True, 1.5], "b": {"c": {}},
    }
    assert nix.eval("-1") == -1
    assert nix.eval("-(2)", attr=None) == -2
    for flag_like in ("--help", "--version", "-I"):  # code, never a flag to nix-instantiate
        with pytest.raises(NixCommandError, match="undefined variable"):
            nix.eval(flag_like)
    assert nix.eval("{ x ? 3 }: x * 2", args={}) == 6  # args={}: call with the defaults
    with pytest.raises(NixCommandError, match="cannot convert a function to JSON"):
        nix.eval("{ x ? 3 }: x * 2")  # as Nix: a function is not called unasked


def test_eval_with_functions_marks_them(nix: Nix, tmp_path: Path) -> None:
    from nixgen.nix import LAMBDA

    assert nix.eval("{ x ? 3 }: x * 2", functions=True) is LAMBDA
    assert nix.eval("{ x ? 3 }: x * 2", args={}, functions=True) == 6
    code = '{ f = a: a; l = [ (b: b) ]; s = { __nixgen = "attrs"; attrs = x: x; }; }'
    assert nix.eval(code, functions=True) == {
        "f": LAMBDA, "l": [LAMBDA], "s": {"__nixgen": "attrs", "attrs": LAMBDA}}
    file = tmp_path / "f.nix"
    file.write_text("{ a = { b = x: x; }; }")
    assert nix.eval(file, attr="a", functions=True) == {"b": LAMBDA}
    paths = tmp_path / "paths.nix"
    paths.write_text("{ here = ./missing; there = [ /etc ]; }")
    assert nix.eval(paths, functions=True) == {
        "here": PurePosixPath(tmp_path / "missing"), "there": [PurePosixPath("/etc")]}


def test_eval_file_attr_and_args(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "f.nix", '{ port ? 22, names ? [ ] }: { a.b = [ 10 20 ]; "x.y" = port; '
              'n = names; inner = { z }: z + port; }')
    assert nix.eval(f, attr="a.b") == [10, 20]
    assert nix.eval(f, attr="a.b.1") == 20
    assert nix.eval(f, attr='"x.y"') == 22
    assert nix.eval(f, attr=["x.y"], args={"port": 2022}) == 2022
    assert nix.eval(f, attr="n", args={"names": ["a", "b"]}) == ["a", "b"]
    assert nix.eval(f, attr="inner", args={"z": 1, "port": 1}) == 2
    assert nix.eval(Path(tmp_path / "f.nix"), attr="a") == {"b": [10, 20]}


def test_eval_expression_with_attr_and_args(nix: Nix) -> None:
    assert nix.eval("{ a = { b = 5; }; }", attr="a.b") == 5
    assert nix.eval("{ x, y }: x ++ y", args={"x": [1], "y": [2]}) == [1, 2]


def test_eval_relative_paths_resolve_from_the_working_directory(
    nix: Nix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "data.nix", "{ v = 7; }")
    monkeypatch.chdir(tmp_path)
    assert nix.eval("(import ./data.nix).v") == 7
    assert nix.eval("import ./data.nix", attr="v") == 7


def test_eval_not_strict_still_returns_data(nix: Nix) -> None:
    assert nix.eval("{ a = 1; }", strict=False) == {"a": 1}


def test_eval_helper(nix: Nix) -> None:
    assert nix.eval_helper("nixos-find", names=["surely-not-on-the-path"]) == [None]
    with pytest.raises(NixCommandError, match="no such nixgen helper"):
        nix.eval_helper("no-such-helper")


def test_missing_attribute_is_explained_without_helper_location(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "f.nix", "{ a = { b = 1; }; l = [ 1 ]; }")
    with pytest.raises(NixCommandError) as info:
        nix.eval(f, attr="a.c")
    assert "attribute 'c' not found in 'a'" in info.value.message
    assert info.value.file is None  # not a place in nixgen's helper
    with pytest.raises(NixCommandError, match="not an attribute set"):
        nix.eval(f, attr="a.b.x")
    with pytest.raises(NixCommandError, match="out of range"):
        nix.eval(f, attr="l.3")


@pytest.mark.parametrize("value", NASTY)
def test_args_are_data_never_code(nix: Nix, value: str) -> None:
    assert nix.eval("{ x }: x", args={"x": value}) == value
    assert nix.eval("{ x }: x", args={"x": {value: [value]}}) == {value: [value]}


@settings(max_examples=40)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62)
    | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0")),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(st.characters(blacklist_categories=["Cs"],
                                            blacklist_characters="\0"), max_size=5),
                      inner, max_size=3),
    max_leaves=6,
))
def test_any_json_value_round_trips_through_args(value: object) -> None:
    assert Nix(options=OFFLINE).eval("{ x }: x", args={"x": value}) == value


def test_nul_characters_are_refused_before_nix_truncates_them(nix: Nix) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        nix.eval("{ x }: x", args={"x": "a\0b"})
    with pytest.raises(ValidationError):
        nix.instantiate(Path("/dev/null"), argstrs={"x": "a\0b"})


@pytest.mark.parametrize("name", [*NASTY[:6], "a.b", '"quoted"', "123"])
def test_attr_names_are_data_never_code(nix: Nix, tmp_path: Path, name: str) -> None:
    f = write(tmp_path / "f.nix", "{ x }: { ${x} = { ${x} = 42; }; }")
    assert nix.eval(f, attr=[name, name], args={"x": name}) == 42


@pytest.mark.parametrize("name", ['a"b.nix', "a${b}.nix", "a''b;).nix", "sp ace\nnl.nix",
                                  "-dash.nix", "<angle>.nix", "http:x.nix"])
def test_odd_file_names(nix: Nix, tmp_path: Path, name: str) -> None:
    f = write(tmp_path / name, "{ v = 1; }")
    assert nix.eval(f) == {"v": 1}
    assert nix.eval(f, attr="v") == 1
    nix.parse_check(f)


# -- errors --------------------------------------------------------------------------------


def test_evaluation_error_names_file_line_col(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "f.nix", '{\n  a = 1;\n  b = 1 + "x";\n}\n')
    with pytest.raises(NixCommandError) as info:
        nix.eval(f)
    err = info.value
    assert err.message == "cannot add a string to an integer"
    assert (err.file, err.line, err.col) == (str(f), 3, 11)
    assert err.returncode == 1 and err.signal is None
    assert err.argv[0] == "nix-instantiate"
    assert str(err).startswith(f"{f}:3:11: ")
    assert "|" not in err.message  # no code frame


def test_error_location_through_imports_and_attr(nix: Nix, tmp_path: Path) -> None:
    write(tmp_path / "inner.nix", "{\n  x = throw \"inner failure\";\n}\n")
    outer = write(tmp_path / "outer.nix", "let i = import ./inner.nix; in { y = i.x; }")
    with pytest.raises(NixCommandError) as info:
        nix.eval(outer, attr="y")
    assert info.value.message == "inner failure"
    with pytest.raises(NixCommandError) as info:
        nix.eval(write(tmp_path / "u.nix", "let\n  x = y;\nin x\n"))
    assert "undefined variable 'y'" in info.value.message
    assert (info.value.line, info.value.col) == (2, 7)


def test_expression_error_has_line_and_col_but_no_file(nix: Nix) -> None:
    with pytest.raises(NixCommandError) as info:
        nix.eval("1 +")
    assert "syntax error" in info.value.message
    assert info.value.file is None and info.value.line == 1


def test_show_trace_keeps_the_first_location(tmp_path: Path, nix_tools: dict[str, str]) -> None:
    f = write(tmp_path / "f.nix", "let g = x: x + \"s\"; in { r = g 1; }")
    with pytest.raises(NixCommandError) as info:
        Nix(options=OFFLINE, show_trace=True).eval(f)
    assert info.value.file == str(f) and info.value.line == 1
    assert "--show-trace" in info.value.argv


@pytest.mark.parametrize(("stderr", "message", "where"), [
    ("\x1b[31;1merror:\x1b[0m undefined variable 'q'\n\n       at \x1b[35;1m/a b/c.nix:4:2\x1b[0m:\n"
     "            4| q\n             |  ^\n", "undefined variable 'q'", ("/a b/c.nix", 4, 2)),
    ("error: undefined variable 'q' at /x/c.nix:12:5\n", "undefined variable 'q'",
     ("/x/c.nix", 12, 5)),
    ("while evaluating the attribute 'a' at /x/a.nix:1:3:\nerror: value is a string while a set "
     "was expected, at /x/b.nix:7:9\n", "value is a string while a set was expected",
     ("/x/b.nix", 7, 9)),
    ("building '/nix/store/x.drv'...\nerror: builder for '/nix/store/x.drv' failed with exit "
     "code 1;\n       last 2 log lines:\n       > one\n       > two\n",
     "builder for '/nix/store/x.drv' failed with exit code 1;\nlast 2 log lines:\n> one\n> two",
     (None, None, None)),
    ("warning: something\n", "warning: something", (None, None, None)),
    ("building '/a.drv'...\nerror: builder for '/a.drv' failed with exit code 3\n"
     "error: build of '/a.drv', '/b.drv' failed\n",
     "builder for '/a.drv' failed with exit code 3\nbuild of '/a.drv', '/b.drv' failed",
     (None, None, None)),
])
def test_parse_nix_message(stderr: str, message: str, where: tuple) -> None:
    parsed = parse_nix_message(stderr)
    assert parsed.message == message
    assert (parsed.file, parsed.line, parsed.col) == where


def test_parse_nix_message_skips_nixgen_helpers() -> None:
    stderr = f"error: boom\n\n       at {NIXEXPRS}/eval.nix:3:4:\n\n       at /u/c.nix:1:2:\n"
    assert parse_nix_message(stderr).file == "/u/c.nix"


def test_strip_ansi() -> None:
    assert strip_ansi("\x1b[1;31merror:\x1b[0m x\x1b[K") == "error: x"


def test_split_attr_path() -> None:
    assert split_attr_path("a.b") == ["a", "b"]
    assert split_attr_path('a."b.c".d') == ["a", "b.c", "d"]
    assert split_attr_path('"x\\"y"') == ['x"y']
    assert split_attr_path("") == []


# -- timeouts, crashes, missing Nix --------------------------------------------------------


def test_timeout_stops_nix_and_says_so(nix_tools: dict[str, str]) -> None:
    pids: list[int] = []
    n = Nix(options=OFFLINE, timeout=1)
    with pytest.raises(NixCommandError, match=r"timed out after 1 s") as info:
        n.run(n.command("nix-instantiate", "--eval", "-E", SLOW), on_start=pids.append)
    assert info.value.signal is None
    with pytest.raises(ProcessLookupError):  # really gone, not left running
        os.kill(pids[0], 0)
    with pytest.raises(NixCommandError, match=r"timed out after 0\.5 s"):
        n.run(n.command("nix-instantiate", "--eval", "-E", SLOW), timeout=0.5)
    with pytest.raises(NixCommandError, match="timed out after 1 s"):
        n.eval(SLOW)
    with pytest.raises(NixCommandError, match=r"timed out after 0\.5 s"):
        Nix(options=OFFLINE).eval(SLOW, attr="x", timeout=0.5)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT])
def test_a_crashed_nix_is_reported_as_a_crash(nix_tools: dict[str, str], sig: int) -> None:
    n = Nix(options=OFFLINE, timeout=60)
    started = threading.Event()
    pids: list[int] = []

    def on_start(pid: int) -> None:
        pids.append(pid)
        started.set()

    def killer() -> None:
        started.wait(30)
        time.sleep(0.3)  # mid-evaluation
        os.kill(pids[0], sig)

    t = threading.Thread(target=killer)
    t.start()
    with pytest.raises(NixCommandError) as info:
        n.run(n.command("nix-instantiate", "--eval", "-E", SLOW), on_start=on_start)
    t.join()
    err = info.value
    assert err.signal == sig and err.returncode == -sig
    assert f"killed by signal {int(sig)}" in err.message
    assert "crashed" in err.message and "not an evaluation error" in err.message


def test_missing_nix(tmp_path: Path, nix_tools: dict[str, str]) -> None:
    n = Nix(options=OFFLINE, env={"PATH": str(tmp_path)})
    with pytest.raises(NixNotFoundError, match="apt-get install -y nix-bin") as info:
        n.eval("1")
    assert info.value.exit_code == 1
    for call in (lambda: n.parse_check("1"), lambda: n.realise(["/nix/store/x.drv"]),
                 lambda: n.set_profile(tmp_path / "p", "/nix/store/x"),
                 lambda: n.parse_check_many([tmp_path / "a.nix"])):
        with pytest.raises(NixNotFoundError):
            call()


def test_input_and_stderr_lines(nix: Nix) -> None:
    lines: list[str] = []
    proc = nix.run(nix.command("nix-instantiate", "--eval", "-E", 'builtins.trace "hello" 1'),
                   on_stderr_line=lines.append)
    assert proc.stdout.strip() == b"1"
    assert any("hello" in ln for ln in lines)
    proc = nix.run(nix.command("nix-instantiate", "--parse", "-"), input=b"1 + 2")
    assert proc.stdout.strip() == b"(1 + 2)"


# -- parsing -------------------------------------------------------------------------------


def test_parse_check_text_and_file(nix: Nix, tmp_path: Path) -> None:
    nix.parse_check("{ a, b, }: a")  # the grammar gap tree-sitter has; Nix accepts it
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check("{\n  a = 1\n  b = 2;\n}\n", file="buf.nix")
    err = info.value
    assert (err.file, err.line, err.col) == ("buf.nix", 3, 5)
    assert err.source_line == "  b = 2;"
    assert "unexpected '='" in err.message
    bad = write(tmp_path / "bad.nix", "let in")
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check(bad)
    assert info.value.file == str(bad) and info.value.line == 1


def test_parse_check_many_reports_every_bad_file(nix: Nix, tmp_path: Path) -> None:
    names = []
    for i in range(8):
        text = "{ a = ; }" if i in (1, 2, 6) else f"{{ a = {i}; }}"
        names.append(write(tmp_path / f"f{i}.nix", text))
    undefined = write(tmp_path / "u.nix", "x + 1")
    errors = nix.parse_check_many([*names, undefined])
    assert [Path(e.file or "") for e in errors] == [names[1], names[2], names[6], undefined]
    assert all(e.line == 1 and e.col == 7 for e in errors[:3])
    assert "undefined variable 'x'" in errors[3].message
    assert nix.parse_check_many(names[3:6]) == []
    assert nix.parse_check_many([]) == []


def test_parse_check_many_keeps_the_names_given(nix: Nix, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "real.nix", "{ a = ; }")
    (tmp_path / "link.nix").symlink_to("real.nix")
    monkeypatch.chdir(tmp_path)
    errors = nix.parse_check_many(["link.nix", "real.nix"])
    assert [e.file for e in errors] == ["link.nix", "real.nix"]


def test_parse_check_many_missing_file(nix: Nix, tmp_path: Path) -> None:
    good = write(tmp_path / "good.nix", "1")
    errors = nix.parse_check_many([tmp_path / "missing.nix", good])
    assert len(errors) == 1 and "missing.nix" in str(errors[0].file)


# -- building and profiles -----------------------------------------------------------------


DRV = """{ tag ? "a", fail ? "no" }:
derivation {
  name = "nixgen-test-${tag}";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo building ${tag}; if [ ${fail} = yes ]; then echo broken >&2; exit 3; fi; echo ${tag} > $out" ];
}
"""


def test_instantiate_realise_profiles_generations_rollback(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "drv.nix", DRV)
    stamp = str(time.time_ns())
    drv1 = nix.instantiate(f, argstrs={"tag": "one" + stamp})
    assert len(drv1) == 1 and drv1[0].endswith(f"-nixgen-test-one{stamp}.drv")
    lines: list[str] = []
    out1 = nix.realise(drv1, jobs=2, on_line=lines.append)
    assert len(out1) == 1 and Path(out1[0]).read_text() == f"one{stamp}\n"
    assert any(ln.startswith("building '") for ln in lines)
    out2 = nix.realise(nix.instantiate(f, argstrs={"tag": "two" + stamp}), keep_going=True)

    profile = tmp_path / "profiles" / "containers" / "p"
    assert nix.profile_target(profile) is None
    assert nix.generations(profile) == []
    nix.set_profile(profile, out1[0])
    assert nix.profile_target(profile) == out1[0]
    nix.set_profile(profile, out2[0])
    assert nix.profile_target(profile) == out2[0]
    gens = nix.generations(profile)
    assert [(g.number, g.current, g.path) for g in gens] == [
        (1, False, out1[0]), (2, True, out2[0])]
    assert gens[0].date.year >= 2020
    nix.rollback(profile)
    assert nix.profile_target(profile) == out1[0]
    assert [g.current for g in nix.generations(profile)] == [True, False]
    nix.switch_generation(profile, 2)
    assert nix.profile_target(profile) == out2[0]
    nix.rollback(profile)
    with pytest.raises(NixCommandError) as info:      # nothing older than generation 1
        nix.rollback(profile)
    assert info.value.file == str(profile) and "nothing to roll back to" in info.value.message
    assert nix.profile_target(profile) == out1[0]


def test_instantiate_attr_and_add_root(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "set.nix", "{ tag }: { a = import ./drv.nix { inherit tag; }; }")
    write(tmp_path / "drv.nix", DRV)
    root = tmp_path / "roots" / "a"
    root.parent.mkdir()
    drvs = nix.instantiate(f, attr="a", argstrs={"tag": "rooted"}, add_root=root)
    assert drvs == [str(root)] or os.path.realpath(root) in [os.path.realpath(d) for d in drvs]
    assert os.path.realpath(root).endswith("-nixgen-test-rooted.drv")


def test_build_failure_keeps_the_log(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "drv.nix", DRV)
    drvs = nix.instantiate(f, argstrs={"tag": f"broken{time.time_ns()}", "fail": "yes"})
    lines: list[str] = []
    with pytest.raises(NixCommandError) as info:
        nix.realise(drvs, keep_going=True, on_line=lines.append)
    assert "failed" in info.value.message and "broken" in info.value.stderr
    assert info.value.signal is None
    assert any("broken" in ln for ln in lines)


def test_profile_target_of_a_dangling_or_foreign_link(nix: Nix, tmp_path: Path) -> None:
    (tmp_path / "p").symlink_to(tmp_path / "elsewhere")
    assert nix.profile_target(tmp_path / "p") is None
    (tmp_path / "gone").symlink_to("/nix/store/00000000000000000000000000000000-gone")
    assert nix.profile_target(tmp_path / "gone") is None
    (tmp_path / "r").symlink_to("r-7-link")  # a generation link that does not exist
    assert nix.profile_target(tmp_path / "r") is None
    out = nix.realise(nix.instantiate(write(tmp_path / "drv.nix", DRV),
                                      argstrs={"tag": "inner"}))[0]
    (tmp_path / "q").symlink_to(out + "/x/y")
    assert nix.profile_target(tmp_path / "q") == out


def _layout(profile: Path) -> dict[str, str]:
    return {p.name: os.readlink(p) for p in sorted(profile.parent.iterdir()) if p.is_symlink()}


def test_set_profiles_sets_each_profile_with_nix_env(nix: Nix, tmp_path: Path) -> None:
    f = write(tmp_path / "drv.nix", DRV)
    stamp = str(time.time_ns())
    outs = [nix.realise(nix.instantiate(f, argstrs={"tag": t + stamp}))[0]
            for t in ("a", "b", "c")]
    one_by_one = tmp_path / "one" / "p"
    together = tmp_path / "many" / "p"
    for out in (outs[0], outs[1], outs[2]):
        nix.set_profile(one_by_one, out)
        nix.set_profiles([(together, out), (together.with_name("q"), out)])
    assert _layout(one_by_one) == {
        "p": "p-3-link", "p-1-link": outs[0], "p-2-link": outs[1], "p-3-link": outs[2]}
    assert _layout(together) == {
        **_layout(one_by_one),
        "q": "q-3-link", "q-1-link": outs[0], "q-2-link": outs[1], "q-3-link": outs[2]}
    assert [(g.number, g.current) for g in nix.generations(together)] == [
        (1, False), (2, False), (3, True)]
    nix.rollback(together)
    assert nix.profile_target(together) == outs[1]
    many = [(tmp_path / "many" / f"c{i}", outs[i % 3]) for i in range(6)]
    nix.set_profiles(many)
    assert [nix.profile_target(p) for p, _ in many] == [o for _, o in many]
    with pytest.raises(NixCommandError):
        nix.set_profiles([(tmp_path / "x", str(tmp_path)), (tmp_path / "y", outs[0])])
    assert nix.profile_target(tmp_path / "y") == outs[0]


def test_parse_check_many_suspects_are_judged_on_their_own(nix: Nix, tmp_path: Path) -> None:
    texts = ["1", "{ = }", "2", "let in", "{ a = ; }", "3", "{ b = 1; }"]
    files = [write(tmp_path / f"s{i}.nix", t) for i, t in enumerate(texts)]
    asked: list[str] = []

    def suspect(name: str) -> bool:
        asked.append(name)
        return Path(name).read_text() in ("let in", "{ a = ; }")

    errors = nix.parse_check_many(files, suspect=suspect)
    assert [e.file for e in errors] == [str(files[1]), str(files[3]), str(files[4])]
    assert sorted(asked) == sorted(str(f) for f in files[2:])  # only after the first rejection
    asked.clear()
    assert nix.parse_check_many(files[5:], suspect=suspect) == []
    assert asked == []  # all valid: one Nix process, no second opinion needed
    # A wrong guess changes nothing: the batch still finds the bad file.
    errors = nix.parse_check_many(files[:5], suspect=lambda name: True)
    assert [e.file for e in errors] == [str(files[1]), str(files[3]), str(files[4])]


NAMES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=12)


@settings(max_examples=30)
@given(NAMES, NAMES)
def test_any_attribute_path_is_data(outer: str, inner: str) -> None:
    n = Nix(options=OFFLINE)
    value = n.eval("{ a, b }: { ${a} = { ${b} = [ a b ]; }; }", attr=[outer, inner],
                   args={"a": outer, "b": inner})
    assert value == [outer, inner]


@pytest.mark.parametrize("dirname", ['d"${x}', "d'';)", "d=e", "d b"])
def test_search_path_entries_with_odd_names(nix_tools: dict[str, str], tmp_path: Path,
                                            dirname: str) -> None:
    lib = tmp_path / dirname
    lib.mkdir()
    write(lib / "default.nix", "{ v = 5; }")
    n = Nix(search_path=[f"odd={lib}"], options=OFFLINE)
    assert n.eval("(import <odd>).v") == 5


def test_parse_check_timeout_is_not_a_syntax_error(nix_tools: dict[str, str], tmp_path: Path) -> None:
    big = write(tmp_path / "big.nix", "[\n" + "{ a = 1; b = [ 1 2 3 ]; }\n" * 400000 + "]\n")
    n = Nix(options=OFFLINE, timeout=0.05)
    with pytest.raises(NixCommandError, match="timed out") as info:
        n.parse_check_many([big])
    assert not isinstance(info.value, NixSyntaxError)
    with pytest.raises(NixCommandError, match="timed out"):
        n.parse_check(big)


def test_ctrl_c_stops_nix_too(nix_tools: dict[str, str], tmp_path: Path) -> None:
    import subprocess
    import sys

    pid_file = tmp_path / "pid"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from nixgen.nix import Nix\n"
        "n = Nix(options=[('substituters', '')])\n"
        "try:\n"
        f"    n.run(n.command('nix-instantiate', '--eval', '-E', {SLOW!r}),\n"
        f"          on_start=lambda pid: Path({str(pid_file)!r}).write_text(str(pid)))\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(42)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    nix_pid = int(pid_file.read_text())
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 42
    with pytest.raises(ProcessLookupError):
        os.kill(nix_pid, 0)


def test_duplicate_attribute_is_located_at_the_second_definition(
        tmp_path: Path, nix_tools: dict[str, str]) -> None:
    # Nix: "attribute 'a.b' already defined at FILE:1:3" then "at FILE:1:12:" (the second)
    f = write(tmp_path / "dup.nix", "{ a.b = 1; a.b = 2; }\n")
    nix = Nix(options=OFFLINE)
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check(f)
    assert (info.value.file, info.value.line, info.value.col) == (str(f), 1, 12)
    assert f"already defined at {f}:1:3" in info.value.message
    [err] = nix.parse_check_many([f])
    assert (err.line, err.col) == (1, 12) and ":1:3" in err.message
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check("{\n  x = 1;\n  x = 2;\n}\n")
    assert (info.value.line, info.value.col) == (3, 3) and ":2:3" in info.value.message


def test_parse_nix_message_prefers_the_frame_location_over_one_in_the_message() -> None:
    stderr = ("error: attribute 'x' already defined at /e/c.nix:2:3\n\n"
              "       at /e/c.nix:3:3:\n\n            2|   x = 1;\n")
    parsed = parse_nix_message(stderr)
    assert (parsed.file, parsed.line, parsed.col) == ("/e/c.nix", 3, 3)
    assert parsed.message == "attribute 'x' already defined at /e/c.nix:2:3"


def test_columns_count_characters_not_bytes(tmp_path: Path, nix_tools: dict[str, str]) -> None:
    # Nix counts bytes: ';' after two 4-byte emoji is at byte column 23, character column 17
    nix = Nix(options=OFFLINE)
    f = write(tmp_path / "u.nix", '{ a = "😀😀"; b = ; }')
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check(f)
    assert (info.value.line, info.value.col) == (1, 17)
    [err] = nix.parse_check_many([f])
    assert err.col == 17
    with pytest.raises(NixSyntaxError) as info:
        nix.parse_check('{\n  a = "é"; b = ; }')
    assert (info.value.line, info.value.col) == (2, 16)
    g = write(tmp_path / "v.nix", '{ a = "😀😀"; b = x; }')
    with pytest.raises(NixCommandError) as cmd_info:
        nix.eval(g)
    assert (cmd_info.value.file, cmd_info.value.line, cmd_info.value.col) == (str(g), 1, 17)


def test_parse_check_many_splits_what_one_command_line_cannot_hold(
        nix: Nix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [write(tmp_path / f"module-{i:02}.nix", "{ a = ; }" if i in (3, 11) else f"{i}")
             for i in range(16)]
    expected = [(e.file, e.line, e.col, e.message) for e in nix.parse_check_many(names)]
    started: list[list[str]] = []
    real_spawn = nixgen.nix.spawn

    def counting_spawn(argv: list[str], *args: object) -> object:
        started.append(argv)
        return real_spawn(argv, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(nixgen.nix, "spawn", counting_spawn)
    base = nixgen.nix.argv_size(nix.parse_command([]))
    monkeypatch.setattr(nixgen.nix, "argv_room", lambda env=None: base + 4 * nixgen.nix.argv_size(
        [str(names[0])]))  # four files per command line
    errors = nix.parse_check_many(names)
    assert [(e.file, e.line, e.col, e.message) for e in errors] == expected
    assert [Path(e.file or "") for e in errors] == [names[3], names[11]]
    first_round = [a for a in started if len(a) > len(nix.parse_command([]))]
    assert first_round and all(len(a) - len(nix.parse_command([])) <= 4 for a in first_round)
    judged = {f for argv in started for f in argv if f.endswith(".nix")}
    assert judged == {str(n) for n in names}


def test_interrupting_parallel_work_stops_every_running_process(nix: Nix) -> None:
    started: list[float] = []

    def sleeper() -> object:
        started.append(time.monotonic())
        return nix.run(["sleep", "30"])

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    begin = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            nix._in_parallel(2, [sleeper] * 5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - begin < 10  # the sleeps were stopped, not waited for
    assert len(started) == 2  # the queued jobs never started
    assert not nix._running and not nix._stopping  # the runner can be used again
    assert nix.run(["true"]).returncode == 0


def test_a_failing_parallel_job_stops_the_others_at_once(nix: Nix) -> None:
    def fails() -> object:
        time.sleep(0.2)
        raise ValueError("boom")

    begin = time.monotonic()
    with pytest.raises(ValueError, match="boom"):
        nix._in_parallel(3, [lambda: nix.run(["sleep", "30"]), fails])
    assert time.monotonic() - begin < 10


def test_an_early_process_whose_status_was_taken_elsewhere_counts_as_ended() -> None:
    from nixgen.nix_process import EarlyProcess

    proc = EarlyProcess(["true"])
    try:
        os.waitpid(proc.pid, 0)  # reaped behind its back, as a racing wait would
        assert proc.poll() == 0 and proc.wait() == 0  # as Popen does, not ChildProcessError
    finally:
        proc.stderr.close()
