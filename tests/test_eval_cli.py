"""``nixgen eval`` and ``nixgen check-syntax`` through the real command line and the real Nix."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, NIX_OFFLINE, nix_parse_ok, run_cli

OFF = ["--option", *NIX_OFFLINE[1:]]


def no_nix_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a Python but no Nix."""
    bin_dir = tmp_path / "bin-without-nix"
    bin_dir.mkdir(exist_ok=True)
    return {"PATH": str(bin_dir)}


# -- eval ----------------------------------------------------------------------------------


def test_eval_expression(nix_instantiate: str) -> None:
    proc = run_cli("eval", "1 + 1", *OFF)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "2\n", "")


def test_eval_prints_nix_or_json(nix_instantiate: str) -> None:
    expr = '{ b = [ 1 "two" null ]; a."x.y" = true; }'
    proc = run_cli("eval", expr, *OFF)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{ a = { "x.y" = true; }; b = [ 1 "two" null ]; }\n'
    ok, err = nix_parse_ok(proc.stdout)
    assert ok, err
    proc = run_cli("eval", "--json", expr, *OFF)
    assert json.loads(proc.stdout) == {"a": {"x.y": True}, "b": [1, "two", None]}


def test_eval_file_attr_and_arguments(tmp_path: Path, nix_instantiate: str) -> None:
    f = tmp_path / "f.nix"
    f.write_text('{ port ? 22, name ? "n" }: { conf = { inherit port name; }; }')
    proc = run_cli("eval", "-f", str(f), "-A", "conf.port", *OFF)
    assert proc.stdout == "22\n", proc.stderr
    proc = run_cli("eval", "-f", str(f), "-A", "conf", "--arg", "port", "2022",
                   "--argstr", "name", '"; abort "x', "--json", *OFF)
    assert json.loads(proc.stdout) == {"port": 2022, "name": '"; abort "x'}, proc.stderr


def test_eval_expression_arguments_are_json(nix_instantiate: str) -> None:
    proc = run_cli("eval", "--arg", "xs", '[1, {"a": "${b}"}]', "{ xs }: xs", "--json", *OFF)
    assert json.loads(proc.stdout) == [1, {"a": "${b}"}], proc.stderr
    proc = run_cli("eval", "--arg", "x", "not json", "{ x }: x", *OFF)
    assert proc.returncode == 2
    assert "is not JSON" in proc.stderr and "--argstr" in proc.stderr
    top = str((1 << 63) - 1)
    proc = run_cli("eval", "--arg", "x", top, "{ x }: x", *OFF)
    assert (proc.returncode, proc.stdout) == (0, top + "\n"), proc.stderr
    for beyond in (str(1 << 63), "-" + str((1 << 63) + 1), '{"a": [12345678901234567890]}',
                   "Infinity", "NaN"):  # Nix would wrap or choke on these: refused, not bent
        proc = run_cli("eval", "--arg", "x", beyond, "{ x }: x", *OFF)
        assert proc.returncode == 1 and proc.stdout == "", (beyond, proc.stderr)
        assert proc.stderr.startswith("nixgen: error: Nix ") and proc.stderr.count("\n") == 1


def test_eval_negative_and_dash_expressions(nix_instantiate: str) -> None:
    assert run_cli("eval", *OFF, "--", "-1").stdout == "-1\n"
    # After `--` every word is an operand, even one that looks like an option.
    late = run_cli("eval", "--", "-1", "--json")
    assert late.returncode == 2 and "one expression" in late.stderr


def test_eval_error_is_one_line_with_location(tmp_path: Path, nix_instantiate: str) -> None:
    f = tmp_path / "bad.nix"
    f.write_text('{\n  a = 1 + "x";\n}\n')
    proc = run_cli("eval", "-f", str(f), *OFF)
    assert proc.returncode == 1
    assert proc.stderr == f"nixgen: error: {f}:2:11: cannot add a string to an integer\n"
    assert "Traceback" not in proc.stderr


def test_eval_usage_errors(tmp_path: Path, nix_instantiate: str) -> None:
    assert run_cli("eval").returncode == 2
    both = run_cli("eval", "-f", str(tmp_path / "x.nix"), "1")
    assert both.returncode == 2 and "not both" in both.stderr
    missing = run_cli("eval", "-f", str(tmp_path / "missing.nix"))
    assert missing.returncode == 1 and "missing.nix" in missing.stderr
    unknown = run_cli("eval", "--bogus", "1")
    assert unknown.returncode == 2 and "--bogus" in unknown.stderr


def test_eval_timeout(nix_instantiate: str) -> None:
    slow = "let f = n: if n == 0 then 0 else builtins.seq (f (n - 1)) (f (n - 1)); in f 60"
    proc = run_cli("eval", "--timeout", "1", slow, *OFF)
    assert proc.returncode == 1
    assert "timed out after 1 s" in proc.stderr


def test_eval_without_nix(tmp_path: Path, nix_instantiate: str) -> None:
    proc = run_cli("eval", "1 + 1", env=no_nix_env(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.startswith("nixgen: error: Nix is not installed: apt-get install -y nix-bin")
    assert "Traceback" not in proc.stderr


def test_eval_search_path(tmp_path: Path, nix_instantiate: str) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "default.nix").write_text("{ answer = 42; }")
    proc = run_cli("eval", "-I", f"mylib={tmp_path / 'lib'}", "(import <mylib>).answer", *OFF)
    assert proc.stdout == "42\n", proc.stderr


# -- check-syntax --------------------------------------------------------------------------


def write_files(tmp_path: Path, texts: dict[str, str]) -> list[str]:
    names = []
    for name, text in texts.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        names.append(str(path))
    return names


def test_check_syntax_clean(tmp_path: Path, nix_instantiate: str) -> None:
    files = write_files(tmp_path, {"a.nix": "{ a = 1; }", "b.nix": "{ x, y, }: x",
                                   "c.nix": "{ z ? 1, }: z"})
    proc = run_cli("check-syntax", *files)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_check_syntax_reports_every_bad_file(tmp_path: Path, nix_instantiate: str) -> None:
    files = write_files(tmp_path, {
        "good.nix": "{ a = 1; }",
        "bad1.nix": "{\n  a = 1\n  b = 2;\n}\n",
        "undefined.nix": "{ a = b; }",
        "good2.nix": "[ 1 2 ]",
        "empty.nix": "",
    })
    proc = run_cli("check-syntax", *files)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{files[1]}:3:5: syntax error, unexpected '=', expecting ';'"
    assert lines[1].startswith(f"{files[2]}:1:7: undefined variable 'b'")
    assert lines[2].startswith(f"{files[4]}:1:1: ")
    assert len(lines) == 3


def test_check_syntax_nix_is_the_final_judge(tmp_path: Path, nix_instantiate: str) -> None:
    # A UTF-8 byte order mark: tree-sitter accepts it, Nix does not.
    bom = CONFIGS / "rejected-by-nix" / "utf8-bom.nix"
    proc = run_cli("check-syntax", str(bom))
    assert proc.returncode == 1 and proc.stdout.startswith(f"{bom}:1:1: ")
    assert run_cli("check-syntax", "--no-nix", str(bom)).returncode == 0


def test_check_syntax_directories(tmp_path: Path, nix_instantiate: str) -> None:
    write_files(tmp_path, {"d/a.nix": "1", "d/sub/b.nix": "{ = }", "d/notes.txt": "{ = }"})
    proc = run_cli("check-syntax", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        line for line in proc.stdout.splitlines() if line.startswith(str(tmp_path / "d/sub/b.nix"))
    ] and len(proc.stdout.splitlines()) == 1
    proc = run_cli("check-syntax", str(CONFIGS / "with-imports"))
    assert (proc.returncode, proc.stdout) == (0, "")


def test_check_syntax_fixture_corpus_agrees_with_nix(nix_instantiate: str) -> None:
    files = sorted(str(p) for p in CONFIGS.rglob("*.nix"))
    proc = run_cli("check-syntax", *files)
    flagged = {line.split(":", 1)[0] for line in proc.stdout.splitlines()}
    expected = {f for f in files if not nix_parse_ok(Path(f).read_bytes())[0]}
    assert flagged == expected


def test_check_syntax_many_files(tmp_path: Path, nix_instantiate: str) -> None:
    texts = {f"f{i:03}.nix": f"{{ a{i} = {i}; }}" for i in range(300)}
    texts["f150.nix"] = "{ a = ; }"
    texts["f299.nix"] = "let in"
    proc = run_cli("check-syntax", *write_files(tmp_path, texts))
    assert proc.returncode == 1
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [
        str(tmp_path / "f150.nix"), str(tmp_path / "f299.nix")]


def test_check_syntax_missing_file_and_usage(tmp_path: Path, nix_instantiate: str) -> None:
    proc = run_cli("check-syntax", str(tmp_path / "nope.nix"))
    assert proc.returncode == 1 and "nope.nix" in proc.stdout
    assert run_cli("check-syntax").returncode == 2


def test_check_syntax_without_nix_falls_back_to_tree_sitter(tmp_path: Path) -> None:
    files = write_files(tmp_path, {"ok.nix": "{ a, b, }: a", "bad.nix": "{ a = ; }"})
    proc = run_cli("check-syntax", *files, env=no_nix_env(tmp_path))
    assert proc.returncode == 1
    assert "checked with tree-sitter only" in proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [files[1]]
    forced = run_cli("check-syntax", "--nix", files[0], env=no_nix_env(tmp_path))
    assert forced.returncode == 1 and "Nix is not installed" in forced.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="file names with newlines")
def test_check_syntax_odd_file_names(tmp_path: Path, nix_instantiate: str) -> None:
    files = write_files(tmp_path, {"-dash.nix": "1", 'q"${x}.nix': "{ = }"})
    proc = run_cli("check-syntax", "--", *files)
    assert proc.returncode == 1
    assert proc.stdout.startswith(files[1] + ":1:")


def test_eval_help_lists_the_value_options() -> None:
    proc = run_cli("eval", "--help")
    assert proc.returncode == 0
    options = proc.stdout.split("Options:", 1)[1]
    for flag in ("-f, --file FILE", "-A, --attr ATTR", "--arg NAME JSON", "--argstr NAME STRING",
                 "-I PATH", "--option NAME VALUE", "--timeout SECONDS", "--json", "--show-trace",
                 "-h, --help"):
        assert f"\n  {flag} " in options, flag
    assert proc.stdout.startswith("Usage: nixgen eval [OPTIONS] [EXPR]")
    assert run_cli("eval", "-h").stdout == proc.stdout


def test_check_syntax_help_lists_the_options() -> None:
    proc = run_cli("check-syntax", "--help")
    assert proc.returncode == 0
    options = proc.stdout.split("Options:", 1)[1]
    for flag in ("--nix / --no-nix", "-I PATH", "--option NAME VALUE", "-h, --help"):
        assert f"\n  {flag} " in options, flag
    assert "FILE|DIRECTORY..." in proc.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["eval", "--timeout", "soon", "1"], ["--timeout", "'soon'", "float"]),
    (["eval", "--timeout", "0", "1"], ["--timeout", "above 0"]),
    (["eval", "--timeout", "nan", "1"], ["--timeout", "above 0"]),
    (["eval", "1", "-A"], ["-A needs a value"]),
    (["eval", "1", "--argstr", "name"], ["--argstr needs 2 values (NAME VALUE)"]),
    (["eval", "1", "--option", "substituters"], ["--option needs 2 values"]),
    (["eval", "--jsn", "1"], ["No such option: --jsn", "--json"]),
    (["check-syntax", "x.nix", "--option"], ["--option needs 2 values"]),
    (["check-syntax", "--bogus", "x.nix"], ["No such option: --bogus"]),
])
def test_bad_option_values_are_one_line_usage_errors(args: list[str], words: list[str]) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("nixgen: error: "), proc.stderr
    assert f"(see nixgen {args[0]} --help)" in proc.stderr
    for word in words:
        assert word in proc.stderr
    assert "Usage:" not in proc.stderr and "Traceback" not in proc.stderr


def test_eval_repeated_options_all_reach_nix(tmp_path: Path, nix_instantiate: str) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "default.nix").write_text(f'"{name}"')
    proc = run_cli("eval", "-I", f"a={tmp_path / 'a'}", "--arg", "x", "1", f"-Ib={tmp_path / 'b'}",
                   "--arg", "y", '{"k": [2]}', "--argstr", "z", "-3", "--argstr", "w", "",
                   "--option", "substituters", "", "--option", "max-jobs", "1", "--json",
                   "{ x, y, z, w }: [ (import <a>) (import <b>) x y z w ]")
    assert json.loads(proc.stdout) == ["a", "b", 1, {"k": [2]}, "-3", ""], proc.stderr
    # A value that looks like an option is still the option's value.
    proc = run_cli("eval", "--argstr", "s", "--json", "{ s }: s", *OFF)
    assert proc.stdout == '"--json"\n', proc.stderr


def test_check_syntax_flag_and_options_anywhere(tmp_path: Path, nix_instantiate: str) -> None:
    bom = CONFIGS / "rejected-by-nix" / "utf8-bom.nix"
    assert run_cli("check-syntax", str(bom), "--no-nix", *OFF).returncode == 0
    # the last of --nix / --no-nix wins
    assert run_cli("check-syntax", "--no-nix", str(bom), "--nix", *OFF).returncode == 1


def test_eval_equals_forms_and_bad_values(tmp_path: Path, nix_instantiate: str) -> None:
    f = tmp_path / "f.nix"
    f.write_text("{ a.b = 3; }")
    assert run_cli("eval", f"--file={f}", "--attr=a.b", *OFF).stdout == "3\n"
    assert run_cli("eval", f"-f{f}", "-Aa.b", f"-Ix={tmp_path}", *OFF).stdout == "3\n"
    assert run_cli("eval", f"-Ix={tmp_path}", "(import <x/f.nix>).a.b", *OFF).stdout == "3\n"
    bad = run_cli("eval", "--timeout", "soon", "1")
    assert bad.returncode == 2 and "--timeout" in bad.stderr
    short = run_cli("eval", "1", "--arg", "x")
    assert short.returncode == 2 and "NAME VALUE" in short.stderr


def test_eval_highlights_on_a_terminal(nix_instantiate: str) -> None:
    import os
    import pty
    import re
    import subprocess

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "nixgen", "eval", '{ a = "x"; }', *OFF],
                          stdout=slave, stderr=subprocess.PIPE, env=env, timeout=120)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" in text  # colours
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert '{ a = "x"; }' in plain


# -- functions in values -------------------------------------------------------------------


def test_eval_shows_functions_as_nix_does(nix_instantiate: str) -> None:
    import subprocess

    proc = run_cli("eval", "x: x", *OFF)
    bare = subprocess.run([nix_instantiate, "--eval", "-E", "x: x"], capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, bare.stdout, "")
    assert proc.stdout == "<LAMBDA>\n"
    expr = ('{ f = x: x; l = [ (a: a) 1 ]; '
            'fake = { __nixgen = "lambda"; }; s = "<LAMBDA>"; }')
    proc = run_cli("eval", expr, *OFF)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ('{\n  f = <LAMBDA>;\n  fake = { __nixgen = "lambda"; };\n'
                           '  l = [ <LAMBDA> 1 ];\n  s = "<LAMBDA>";\n}\n')
    proc = run_cli("eval", "--json", expr, *OFF)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"f": "<LAMBDA>", "fake": {"__nixgen": "lambda"},
                                       "l": ["<LAMBDA>", 1], "s": "<LAMBDA>"}


def test_eval_shows_paths_as_nix_does_without_copying_them(
        tmp_path: Path, nix_instantiate: str) -> None:
    import subprocess

    # ./missing does not exist: printing it must neither copy it to the store nor fail
    bare = subprocess.run([nix_instantiate, *OFF, "--eval", "-E", "./missing"], cwd=tmp_path,
                          capture_output=True, text=True)
    proc = run_cli("eval", "./missing", *OFF, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, bare.stdout) == (0, f"{tmp_path}/missing\n")
    expr = '{ p = ./x; l = [ ./y /etc ]; fake = { __nixgen = "path"; path = "/z"; }; }'
    proc = run_cli("eval", expr, *OFF, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f'{{\n  fake = {{ __nixgen = "path"; path = "/z"; }};\n'
                           f"  l = [ {tmp_path}/y /etc ];\n  p = {tmp_path}/x;\n}}\n")
    proc = run_cli("eval", "--json", expr, *OFF, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"fake": {"__nixgen": "path", "path": "/z"},
                                       "l": [f"{tmp_path}/y", "/etc"], "p": f"{tmp_path}/x"}


def test_get_eval_shows_functions_unquoted(tmp_path: Path, nix_instantiate: str) -> None:
    from conftest import STAND_IN_NIXOS

    config = tmp_path / "configuration.nix"
    config.write_text("{ ... }:\n{\n  systemd.containers.f.config = { pkgs, ... }: { };\n}\n")
    args = ["get", "systemd.containers.f.config", "--eval", "-f", str(config),
            "--nixos", str(STAND_IN_NIXOS)]
    proc = run_cli(*args)
    assert (proc.returncode, proc.stdout) == (0, "{ imports = [ <LAMBDA> ]; }\n"), proc.stderr
    proc = run_cli(*args, "--json")
    assert json.loads(proc.stdout) == {"imports": ["<LAMBDA>"]}


def test_check_syntax_more_files_than_one_command_line_holds(
        tmp_path: Path, nix_instantiate: str) -> None:
    # A small stack limit makes the system's command-line limit its minimum (128 KiB); these
    # 1,500 long names need about twice that, which one nix-instantiate cannot be given.
    folder = tmp_path / ("x" * 120)
    folder.mkdir()
    for i in range(1500):
        (folder / f"module-{i:04}.nix").write_text("{ a = ; }\n" if i == 1234 else f"{i}\n")

    def small_stack() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (512 * 1024, resource.RLIM_INFINITY))

    proc = subprocess.run(
        [sys.executable, "-m", "nixgen", "check-syntax", str(tmp_path), *NIX_OFFLINE],
        preexec_fn=small_stack, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{folder}/module-1234.nix:1:")


def test_eval_reads_code_from_standard_input(tmp_path: Path, nix_instantiate: str) -> None:
    code = "{ a = 1 + 1; p = ./x; }"
    proc = run_cli("eval", "-f", "-", "-A", "a", *OFF, input=code, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "2\n"), proc.stderr
    proc = run_cli("eval", "-f", "/dev/stdin", "--json", *OFF, input=code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"a": 2, "p": f"{tmp_path}/x"}  # paths from the cwd
    proc = run_cli("eval", "-f", "-", *OFF, input="  \n")
    assert proc.returncode == 2 and "standard input holds no Nix expression" in proc.stderr
    proc = run_cli("eval", "-f", "-", *OFF, input="x +")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "syntax error" in proc.stderr


def test_eval_shows_what_builtins_trace_prints(nix_instantiate: str) -> None:
    import subprocess

    expr = 'builtins.trace "tracing" (builtins.trace { a = 1; } 1)'
    bare = subprocess.run([nix_instantiate, *OFF, "--eval", "-E", expr], capture_output=True,
                          text=True)
    proc = run_cli("eval", expr, *OFF)
    assert (proc.returncode, proc.stdout) == (0, "1\n")
    traced = [ln for ln in bare.stderr.splitlines() if ln.startswith("trace: ")]
    assert traced and proc.stderr.splitlines() == traced


def test_show_trace_adds_nixs_report_after_the_one_line(tmp_path: Path,
                                                        nix_instantiate: str) -> None:
    from nixgen.nix import NIXEXPRS

    module = tmp_path / "m.nix"
    module.write_text('let\n  f = x: x.missing;\nin\n{ a = f { }; }\n')
    plain = run_cli("eval", "-f", str(module), "-A", "a", *OFF)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1
    traced = run_cli("eval", "-f", str(module), "-A", "a", "--show-trace", *OFF)
    assert traced.returncode == 1
    first, *rest = traced.stderr.splitlines()
    assert first == plain.stderr.strip()
    assert any("while evaluating" in line for line in rest)  # Nix's frames, as it prints them
    assert all(line.startswith("  ") or not line for line in rest)
    assert str(NIXEXPRS) not in traced.stderr  # nixgen's own helpers are left out
    assert f"{module}:2:" in traced.stderr
