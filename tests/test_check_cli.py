"""The ``nixgen check`` command through the real command line (a subprocess)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, nix_parse_ok, run_cli

FIX = FIXTURES / "checks" / "fix"


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / "configuration.nix"
    shutil.copy(FIX / f"{name}.before.nix", target)
    return target


def test_clean_file_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "configuration.nix"
    path.write_text("{ config, lib, ... }:\n{\n  services.openssh.enable = true;\n}\n")
    proc = run_cli("check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "no findings" in proc.stderr


def test_findings_exit_1_with_compiler_style_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text("{\n  a = 1;\n  a = 2;\n}\n")
    proc = run_cli("check", str(path))
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{path}:3:3: NG101 `a` is already defined at 2:3")
    assert "1 finding" in proc.stderr


def test_syntax_error_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text("{ a = ; }\n")
    proc = run_cli("check", str(path))
    assert proc.returncode == 1
    assert f"{path}:1:" in proc.stdout and "NG001" in proc.stdout


def test_missing_file_and_bad_usage_exit_2(tmp_path: Path) -> None:
    proc = run_cli("check", str(tmp_path / "nope.nix"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("nixgen: error: ") and "nope.nix" in proc.stderr
    ok = tmp_path / "ok.nix"
    ok.write_text("{ }\n")
    for args in (["--format", "xml"], ["--select", "NG999"], ["--fix", "--diff"],
                 ["--json", "--format", "github"]):
        proc = run_cli("check", str(ok), *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "nixgen: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_default_file_is_etc_nixos_configuration() -> None:
    if Path("/etc/nixos/configuration.nix").exists():
        pytest.skip("this machine has a real /etc/nixos/configuration.nix")
    proc = run_cli("check")
    assert proc.returncode == 2
    assert "/etc/nixos/configuration.nix" in proc.stderr


def test_json_output(tmp_path: Path) -> None:
    path = copy(tmp_path, "ng201_no_ellipsis")
    proc = run_cli("check", str(path), "--json")
    assert proc.returncode == 1
    [item] = json.loads(proc.stdout)
    assert item["code"] == "NG201" and item["severity"] == "warning"
    assert (item["line"], item["col"]) == (1, 36) and item["file"] == str(path)
    assert item["fix"]["edits"][0] == {"start": 14, "end": 14, "text": ", lib"}
    same = run_cli("check", str(path), "--format", "json")
    assert json.loads(same.stdout) == [item]


def test_github_format(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text("{ pkgs, ... }: {\n  a = 1;\n  a = 2;\n  b = pkgs.lib.id;\n}\n")
    proc = run_cli("check", str(path), "--format", "github")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"::error file={path},line=3,col=3,endLine=3,endColumn=4,title=NG101::")
    assert lines[1].startswith("::warning ") and "title=NG201" in lines[1]


def test_select_and_ignore(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text("{ pkgs, ... }: { a = 1; a = 2; b = pkgs.lib.id; }\n")
    only = run_cli("check", str(path), "--select", "NG2", "--json")
    assert [f["code"] for f in json.loads(only.stdout)] == ["NG201"]
    rest = run_cli("check", str(path), "--ignore", "NG201,NG1")
    assert rest.returncode == 0 and rest.stdout == ""


def test_diff_shows_fixes_and_writes_nothing(tmp_path: Path) -> None:
    path = copy(tmp_path, "ng201_leading_comma")
    before = path.read_bytes()
    proc = run_cli("check", str(path), "--diff")
    assert proc.returncode == 1
    assert "-with pkgs.lib;" in proc.stdout and "+with lib;" in proc.stdout
    assert "+, lib" in proc.stdout
    assert "would fix 3" in proc.stderr
    assert path.read_bytes() == before
    as_json = run_cli("check", str(path), "--diff", "--json")
    assert as_json.returncode == 1
    assert all(f["fix"]["edits"] for f in json.loads(as_json.stdout))
    assert path.read_bytes() == before


def test_fix_writes_then_second_fix_changes_nothing(tmp_path: Path, nix_instantiate: str) -> None:
    path = copy(tmp_path, "ng201_leading_comma")
    proc = run_cli("check", str(path), "--fix")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fixed = path.read_bytes()
    assert fixed == (FIX / "ng201_leading_comma.after.nix").read_bytes()
    ok, err = nix_parse_ok(fixed, nix_instantiate)
    assert ok, err
    again = run_cli("check", str(path), "--fix")
    assert again.returncode == 0
    assert path.read_bytes() == fixed
    assert run_cli("check", str(path)).returncode == 0


def test_fix_leaves_unfixable_findings_and_exits_1(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "checks" / "all", tmp_path / "all")
    config = tmp_path / "all" / "configuration.nix"
    proc = run_cli("check", str(config), "--fix", "--json")
    assert proc.returncode == 1
    remaining = {f["code"] for f in json.loads(proc.stdout)}
    assert "NG101" in remaining and "NG201" not in remaining and "NG303" not in remaining
    assert b"boot.isContainer = true;" in (tmp_path / "all" / "containers" / "baz.nix").read_bytes()


def test_imports_are_followed_and_shown_as_given(tmp_path: Path) -> None:
    (tmp_path / "configuration.nix").write_text("{ imports = [ ./hw.nix ]; }\n")
    (tmp_path / "hw.nix").write_text("{ boot.x = 1; boot.x = 2; }\n")
    proc = run_cli("check", "configuration.nix", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("hw.nix:1:15: NG101 `boot.x` is already defined at 1:3")


def test_findings_of_every_rule_in_one_run(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "checks" / "all", tmp_path / "all")
    shutil.copy(FIXTURES / "checks" / "broken.nix", tmp_path / "broken.nix")
    proc = run_cli("check", str(tmp_path / "all" / "configuration.nix"),
                   str(tmp_path / "broken.nix"), "--json")
    assert proc.returncode == 1
    items = json.loads(proc.stdout)
    from nixgen.checks import RULES

    assert {f["code"] for f in items} == set(RULES)
    [syntax] = [f for f in items if f["code"] == "NG001"]
    assert syntax["file"].endswith("broken.nix") and syntax["line"] == 5


def test_syntax_error_fixed_by_hand_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text((FIXTURES / "checks" / "broken.nix").read_text()
                    .replace("enable = true\n", "enable = true;\n"))
    assert run_cli("check", str(path)).returncode == 0


def test_fix_through_a_symlink_and_undo(tmp_path: Path) -> None:
    real = tmp_path / "real" / "configuration.nix"
    real.parent.mkdir()
    shutil.copy(FIX / "ng201_no_ellipsis.before.nix", real)
    link = tmp_path / "configuration.nix"
    link.symlink_to(real)
    proc = run_cli("check", str(link), "--fix")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink()
    assert real.read_bytes() == (FIX / "ng201_no_ellipsis.after.nix").read_bytes()
    undo = run_cli("undo", "-f", str(link))
    assert undo.returncode == 0, undo.stderr
    assert real.read_bytes() == (FIX / "ng201_no_ellipsis.before.nix").read_bytes()


def test_fix_on_a_read_only_file_is_an_io_error(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes read-only files and directories")
    path = tmp_path / "configuration.nix"
    shutil.copy(FIX / "ng201_no_ellipsis.before.nix", path)
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        proc = run_cli("check", str(path), "--fix")
    finally:
        tmp_path.chmod(0o755)
    assert proc.returncode == 2 and "nixgen: error:" in proc.stderr
    assert path.read_bytes() == (FIX / "ng201_no_ellipsis.before.nix").read_bytes()


def test_unreadable_path_is_an_io_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    proc = run_cli("check", str(tmp_path / "a-file" / "configuration.nix"), "--fix")
    assert proc.returncode == 2 and "nixgen: error:" in proc.stderr
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2 and "nixgen: error:" in proc.stderr


def test_missing_value_is_located_alike_by_check_check_syntax_and_editors(
        tmp_path: Path, nix_instantiate: str) -> None:
    text = "{ x = 1; y = ; }\n"
    path = tmp_path / "s.nix"
    path.write_text(text)
    check = run_cli("check", str(path))
    assert f"{path}:1:14: NG001 expected an expression or a name here" in check.stdout
    syntax = run_cli("check-syntax", str(path))
    assert f"{path}:1:14: " in syntax.stdout + syntax.stderr
    edit = run_cli("edit", "--json", input=json.dumps(
        {"text": text, "operation": "set", "args": {"path": "z", "value": "1"}}))
    assert json.loads(edit.stdout)["error"]["col"] == 14
    from test_lsp_client import LspClient

    client = LspClient()
    try:
        client.initialize()
        published = client.open(path.as_uri(), text)
    finally:
        client.close()
    assert [d["range"] for d in published["diagnostics"] if d.get("code") == "NG001"] == [
        {"start": {"line": 0, "character": 13}, "end": {"line": 0, "character": 14}}]


def test_fix_counts_findings_like_the_fixable_count_and_names_new_findings(
        tmp_path: Path) -> None:
    # Two NG201 findings share the edit adding `lib`; the NG501 rename brings NG401 notes.
    path = tmp_path / "c.nix"
    path.write_text(
        "{ config, pkgs, ... }:\nwith pkgs.lib;\n{\n  x = [ pkgs.lib.foo ];\n"
        "  systemd.containers.a.config = { };\n  systemd.containers.b.config = { };\n"
        "  containers.c.config = { };\n}\n")
    check = run_cli("check", str(path))
    assert check.stderr.strip() == "8 findings (3 fixable with --fix)"
    diff = run_cli("check", str(path), "--diff")
    assert diff.stderr.strip().splitlines()[-1] == (
        "--fix would fix 3; the fixes would bring 2 new findings; 6 findings")
    fixed = run_cli("check", str(path), "--fix")
    assert fixed.stderr.strip().splitlines()[-1] == (
        "fixed 3; the fixes brought 2 new findings; 6 findings")
    assert "[fixable]" not in fixed.stdout and len(fixed.stdout.splitlines()) == 6


def test_module_form_and_missing_imports_in_every_output_format(tmp_path: Path) -> None:
    path = tmp_path / "configuration.nix"
    path.write_text("{ lib, ... }:\n{\n  imports = [ ./hw.nix ./gone.nix ];\n"
                    "  options.x = lib.mkOption { };\n  networking.hostName = \"h\";\n}\n")
    (tmp_path / "hw.nix").write_text("{ }\n")
    text = run_cli("check", str(path))
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{path}:3:24: NG203 ") and "gone.nix" in lines[0]
    assert lines[1].startswith(f"{path}:5:3: NG202 ") and "`networking`" in lines[1]
    items = json.loads(run_cli("check", str(path), "--json").stdout)
    assert [(f["code"], f["severity"], f["line"], f["col"]) for f in items] == [
        ("NG203", "error", 3, 24), ("NG202", "error", 5, 3)]
    assert items[0]["fix"] is None and items[1]["fix"]["edits"] == [
        {"start": path.read_text().index("networking"),
         "end": path.read_text().index("networking"), "text": "config."}]
    github = run_cli("check", str(path), "--format", "github").stdout.splitlines()
    assert github[0].startswith(f"::error file={path},line=3,col=24,") and "title=NG203" in github[0]
    assert github[1].startswith(f"::error file={path},line=5,col=3,") and "title=NG202" in github[1]


def test_module_form_and_missing_imports_select_and_ignore(tmp_path: Path) -> None:
    path = tmp_path / "c.nix"
    path.write_text("{ imports = [ ./gone.nix ]; config.a = 1; b = 2; c = 1; c = 2; }\n")
    codes = {f["code"] for f in json.loads(run_cli("check", str(path), "--json").stdout)}
    assert codes == {"NG101", "NG202", "NG203"}
    only = run_cli("check", str(path), "--select", "NG203", "--json")
    assert [f["code"] for f in json.loads(only.stdout)] == ["NG203"]
    rest = run_cli("check", str(path), "--ignore", "NG202,NG203", "--json")
    assert [f["code"] for f in json.loads(rest.stdout)] == ["NG101"]
    none = run_cli("check", str(path), "--ignore", "NG2,NG1")
    assert none.returncode == 0 and none.stdout == ""


def test_fix_moves_top_level_settings_into_config(tmp_path: Path, nix_instantiate: str) -> None:
    path = tmp_path / "configuration.nix"
    shutil.copy(FIX / "ng202_into_config.before.nix", path)
    proc = run_cli("check", str(path), "--fix")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fixed = path.read_bytes()
    assert fixed == (FIX / "ng202_into_config.after.nix").read_bytes()
    assert nix_parse_ok(fixed, nix_instantiate)[0]
    assert run_cli("check", str(path)).returncode == 0


def test_fix_leaves_a_move_into_a_rec_set_alone(tmp_path: Path, nix_instantiate: str) -> None:
    # `config.networking.fqdn` would merge into the rec set of `config.networking` and read
    # its `domain`: the finding stays, the file is not touched
    source = FIXTURES / "checks" / "module_form" / "rec_merge.nix"
    path = tmp_path / "configuration.nix"
    shutil.copy(source, path)
    proc = run_cli("check", str(path), "--select", "NG202", "--fix")
    assert proc.returncode == 1
    assert path.read_bytes() == source.read_bytes()
    line = source.read_text().splitlines().index('  networking.fqdn = "box.${domain}"; # NG202')
    assert proc.stdout.startswith(f"{path}:{line + 1}:3: NG202 ")
    items = json.loads(run_cli("check", str(path), "--select", "NG202", "--json").stdout)
    assert [(f["code"], f["fix"]) for f in items] == [("NG202", None)]
    assert nix_parse_ok(path.read_bytes(), nix_instantiate)[0]


def test_clean_imports_and_full_form_exit_0(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "default.nix").write_text("{ }\n")
    (tmp_path / "hw.nix").write_text("{ }\n")
    path = tmp_path / "configuration.nix"
    path.write_text("{ lib, modulesPath, ... }:\n{\n  imports = [ ./hw.nix ./services "
                    "(modulesPath + \"/gone.nix\") ];\n  options.x = lib.mkOption { };\n"
                    "  config.networking.hostName = \"h\";\n  meta = { };\n}\n")
    proc = run_cli("check", str(path))
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout


def test_fix_keeps_a_lib_default_evaluating(tmp_path: Path, nix_instantiate: str) -> None:
    import subprocess

    from conftest import NIX_OFFLINE

    path = tmp_path / "shell.nix"
    src = b"{ pkgs ? { lib.id = x: x; }, lib ? pkgs.lib }:\n{\n  y = lib.id 1;\n}\n"
    path.write_bytes(src)

    def evaluate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E",
             "import ./shell.nix { }"], cwd=tmp_path, capture_output=True, text=True,
            timeout=60)

    before = evaluate()
    assert before.returncode == 0, before.stderr
    proc = run_cli("check", "--fix", str(path))
    assert proc.returncode == 1 and "NG201" in proc.stdout and "fixed" not in proc.stderr
    assert path.read_bytes() == src
    after = evaluate()
    assert after.returncode == 0 and after.stdout == before.stdout


def test_an_unfixable_container_file_does_not_hide_the_other_findings(tmp_path: Path) -> None:
    config = tmp_path / "configuration.nix"
    config.write_text('{\n  systemd.containers.c.path = "/nix/var/nix/profiles/containers/c";\n}\n')
    (tmp_path / "containers").mkdir()
    container = tmp_path / "containers" / "c.nix"
    text = "{ lib, ... }:\n{\n  boot = lib.mkIf true { loader.grub.enable = false; };\n}\n"
    container.write_text(text)
    for args in ((), ("--fix",)):
        proc = run_cli("check", *args, "--json", str(config))
        assert proc.returncode == 1, proc.stderr
        assert "error:" not in proc.stderr
        found = json.loads(proc.stdout)
        codes = {(f["code"], Path(f["file"]).name) for f in found}
        assert {("NG303", "c.nix"), ("NG401", "configuration.nix")} <= codes
        assert all(f["fix"] is None for f in found if f["code"] == "NG303")
        assert container.read_text() == text


def test_imports_are_followed_from_a_symlinked_modules_target(tmp_path: Path,
                                                              nix_instantiate: str) -> None:
    import subprocess

    (tmp_path / "dir1").mkdir()
    (tmp_path / "dir2").mkdir()
    (tmp_path / "dir2" / "real.nix").write_text("{ imports = [ ./x.nix ]; }\n")
    (tmp_path / "dir2" / "x.nix").write_text("{ a = 1; a = 2; }\n")  # NG101, beside the target
    (tmp_path / "dir1" / "x.nix").write_text("{ a = 1; }\n")  # beside the link: not imported
    (tmp_path / "dir1" / "link.nix").symlink_to("../dir2/real.nix")
    config = tmp_path / "configuration.nix"
    config.write_text("{ imports = [ ./dir1/link.nix ]; }\n")
    # Nix itself takes ./x.nix from beside the link's target
    probe = subprocess.run([nix_instantiate, "--option", "substituters", "", "--eval", "-E",
                            f"(import {tmp_path}/dir1/link.nix).imports"], capture_output=True,
                           text=True)
    assert f"{tmp_path}/dir2/x.nix" in probe.stdout, probe.stderr
    proc = run_cli("check", str(config), "--format", "json")
    findings = json.loads(proc.stdout)
    assert [(Path(f["file"]).name, Path(f["file"]).parent.name, f["code"]) for f in findings] \
        == [("x.nix", "dir2", "NG101")]
