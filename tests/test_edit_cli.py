"""The editing verbs through the real command line (a subprocess): get, set, delete, append,
remove, undo, --dry-run, and bad input that must leave files untouched."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import CONFIGS, STAND_IN_NIXOS, nix_parse_ok, run_cli


@pytest.fixture
def cli(tmp_path: Path):
    """run_cli with a private state directory for undo backups."""
    env = {"NIXGEN_STATE_DIR": str(tmp_path / "state")}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_cli(*(str(a) for a in args), cwd=tmp_path, env=env)

    return run


def copy(tmp_path: Path, name: str) -> Path:
    src = CONFIGS / name
    dst = tmp_path / Path(name).name
    shutil.copyfile(src, dst)
    return dst


def state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), os.stat(path).st_mtime_ns


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    return proc


def get_json(cli, path: str, file: Path) -> object:
    return json.loads(ok(cli("get", path, "-f", file, "--json")).stdout)


def assert_valid_nix(path: Path, nix_instantiate: str) -> None:
    good, err = nix_parse_ok(path.read_bytes(), nix_instantiate)
    assert good, err


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nixgen: error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- get ------------------------------------------------------------------------------------


def test_get_prints_file_line_and_value(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    out = ok(cli("get", "services.openssh.ports", "-f", file)).stdout
    assert out.strip() == f"{file}:17: [ 22 ]"


def test_get_json_literal(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    assert get_json(cli, "services.openssh.ports", file) == [22]
    assert get_json(cli, "networking.hostName", file) == "atlas"
    assert get_json(cli, "users.users.admin.extraGroups", file) == ["wheel"]


def test_get_json_paths_are_what_nix_makes_of_them(cli, tmp_path: Path,
                                                  nix_instantiate: str) -> None:
    (tmp_path / "etc").mkdir()
    file = tmp_path / "etc" / "paths.nix"
    file.write_text("{ rel = ./foo/bar.nix; up = ../x; here = ./.; abs = /srv/../data; }\n")
    assert get_json(cli, "rel", file) == str(tmp_path / "etc" / "foo" / "bar.nix")
    assert get_json(cli, "up", file) == str(tmp_path / "x")
    assert get_json(cli, "here", file) == str(tmp_path / "etc")
    assert get_json(cli, "abs", file) == "/data"
    proc = subprocess.run([nix_instantiate, "--eval", "--strict", "-E",
                           f"toString (import {file}).rel"], capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout) == get_json(cli, "rel", file)


def test_get_json_through_nested_and_quoted_names(cli, tmp_path: Path) -> None:
    nested = copy(tmp_path, "nested-and-dotted.nix")
    assert get_json(cli, "services.openssh.settings.PermitRootLogin", nested) == "no"
    quoted = copy(tmp_path, "quoted-names.nix")
    assert get_json(cli, 'users.users."alice-x".isNormalUser', quoted) is True
    assert get_json(cli, 'networking.hosts."10.0.0.2"', quoted) == ["db.internal"]


def test_get_json_of_non_literal_fails(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "let-in.nix")
    line = one_error_line(cli("get", "users.users.alice", "-f", file, "--json"))
    assert line.startswith(f"nixgen: error: {file}:19:3: users.users.alice is not a literal value")
    assert "--eval" in line
    out = ok(cli("get", "users.users.alice", "-f", file)).stdout
    assert out.strip() == f'{file}:19: mkUser "alice"'


def test_get_reports_values_under_mkif(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "mkif-values.nix")
    out = ok(cli("get", "services.nginx.enable", "-f", file)).stdout
    assert out.startswith(f"{file}:") and ": true" in out and "mkIf" in out


def test_get_of_a_prefix_lists_its_definitions(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "quoted-names.nix")
    out = ok(cli("get", "users.users.bob", "-f", file)).stdout
    assert out.splitlines() == [
        f"{file}:8: .isNormalUser = true",
        f'{file}:9: .extraGroups = [ "audio" ]',
    ]
    assert get_json(cli, "users.users.bob", file) == {"isNormalUser": True,
                                                      "extraGroups": ["audio"]}


def test_get_json_of_a_prefix_merges_dotted_and_nested(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    assert get_json(cli, "services.openssh", file) == {
        "enable": True, "ports": [22], "settings": {"PasswordAuthentication": False},
    }


def test_get_missing_path(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    line = one_error_line(cli("get", "services.nginx.enable", "-f", file))
    assert "services.nginx.enable is not defined" in line and str(file) in line


@pytest.mark.skipif(
    not (STAND_IN_NIXOS / "default.nix").exists() or importlib.util.find_spec("nixgen.nixos") is None,
    reason="needs the stand-in NixOS and nixgen.nixos",
)
def test_get_eval_asks_nix(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "let-in.nix")
    proc = cli("get", "services.openssh.ports", "-f", file, "--eval", "--json",
               "--nixos", STAND_IN_NIXOS)
    assert ok(proc) and json.loads(proc.stdout) == [2222]


# --- set ------------------------------------------------------------------------------------


def test_set_replaces_value_and_nothing_else(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = file.read_bytes()
    proc = ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    assert "wrote" in proc.stderr
    after = file.read_bytes()
    assert after == before.replace(b"ports = [ 22 ];", b"ports = [ 2022 ];")
    assert get_json(cli, "services.openssh.ports", file) == [2022]
    assert_valid_nix(file, nix_instantiate)


def test_set_creates_a_new_path(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("set", "services.nginx.enable", "true", "-f", file))
    assert get_json(cli, "services.nginx.enable", file) is True
    ok(cli("set", 'users.users.admin."home-dir"', '"/srv/admin"', "-f", file))
    assert get_json(cli, 'users.users.admin."home-dir"', file) == "/srv/admin"
    assert_valid_nix(file, nix_instantiate)


def test_set_json_value(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    value = {"enable": True, "ports": [80, 443], "name": 'say "hi" ${x}'}
    ok(cli("set", "services.demo", json.dumps(value), "--json-value", "-f", file))
    assert get_json(cli, "services.demo", file) == value
    assert_valid_nix(file, nix_instantiate)


def test_set_raw_nix_expression(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "with-pkgs.nix")
    ok(cli("set", "programs.zsh.enable", "lib.mkDefault true", "-f", file))
    assert b"programs.zsh.enable = lib.mkDefault true;" in file.read_bytes()
    out = ok(cli("get", "programs.zsh.enable", "-f", file)).stdout
    assert ": true" in out and "mkDefault" in out
    assert_valid_nix(file, nix_instantiate)


def test_set_twice_is_a_noop(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    before = state(file)
    proc = ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    assert "nothing to change" in proc.stderr
    assert state(file) == before


def test_dry_run_shows_diff_and_writes_nothing(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    proc = ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file, "--dry-run"))
    assert f"--- a/{file}" in proc.stdout and f"+++ b/{file}" in proc.stdout
    assert "-  services.openssh.ports = [ 22 ];" in proc.stdout
    assert "+  services.openssh.ports = [ 2022 ];" in proc.stdout
    assert state(file) == before
    assert not (tmp_path / "state").exists()


def test_short_dry_run_flag_as_for_the_container_commands(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    for args in (("set", "services.openssh.ports", "[ 2022 ]"),
                 ("delete", "services.openssh.ports"),
                 ("append", "networking.firewall.allowedTCPPorts", "8080"),
                 ("remove", "networking.firewall.allowedTCPPorts", "80")):
        proc = ok(cli(*args, "-f", file, "-n"))
        assert proc.stdout.startswith("---") and "@@" in proc.stdout
    assert state(file) == before


def test_dry_run_for_every_verb_writes_nothing(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    for args in (("delete", "services.openssh.ports"),
                 ("append", "networking.firewall.allowedTCPPorts", "8080"),
                 ("remove", "networking.firewall.allowedTCPPorts", "80")):
        proc = ok(cli(*args, "-f", file, "--dry-run"))
        assert proc.stdout.startswith("---") and "@@" in proc.stdout
    assert state(file) == before


def test_set_keeps_crlf(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "crlf-line-endings.nix")
    ok(cli("set", "services.nginx.enable", "true", "-f", file))
    data = file.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert get_json(cli, "services.nginx.enable", file) is True
    assert_valid_nix(file, nix_instantiate)


def test_set_keeps_byte_order_mark(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "rejected-by-nix/utf8-bom.nix")
    before = file.read_bytes()
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    after = file.read_bytes()
    assert after.startswith(b"\xef\xbb\xbf# Saved with")
    assert after.count(b"\xef\xbb\xbf") == 1
    assert get_json(cli, "services.openssh.ports", file) == [2022]
    assert ok(cli("get", "networking.hostName", "-f", file)).stdout == f'{file}:4: "bom"\n'
    good, err = nix_parse_ok(after[3:], nix_instantiate)  # Nix itself refuses a BOM
    assert good, err
    ok(cli("delete", "services.openssh.ports", "-f", file))
    assert file.read_bytes() == before


def test_set_keeps_tabs(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "tab-indented.nix")
    ok(cli("set", "services.openssh.settings.X11Forwarding", "false", "-f", file))
    new_lines = [ln for ln in file.read_text().splitlines() if "X11Forwarding" in ln]
    assert len(new_lines) == 1 and new_lines[0].startswith("\t") and "    " not in new_lines[0]


def test_set_through_symlink_keeps_link_and_mode(cli, tmp_path: Path) -> None:
    target = copy(tmp_path, "basic-server.nix")
    os.chmod(target, 0o640)
    link = tmp_path / "configuration.nix"
    link.symlink_to(target.name)
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", link))
    assert link.is_symlink() and os.readlink(link) == target.name
    assert b"[ 2022 ]" in target.read_bytes()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_set_on_trailing_comma_header(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "trailing-comma-args.nix")
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    assert get_json(cli, "services.openssh.ports", file) == [2022]
    assert_valid_nix(file, nix_instantiate)


@pytest.mark.parametrize("name", [
    "basic-server.nix", "let-in.nix", "comments-everywhere.nix",
    "plain-attrset.nix", "rec-attrset.nix", "four-space-indent.nix", "no-final-newline.nix",
    "trailing-whitespace.nix", "curried-header.nix", "parenthesized-body.nix", "empty-module.nix",
    "containers-modern.nix", "generated-inventory-large.nix",
])
def test_set_on_corpus_gives_valid_nix(cli, tmp_path: Path, nix_instantiate: str,
                                       name: str) -> None:
    file = copy(tmp_path, name)
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    assert_valid_nix(file, nix_instantiate)
    assert get_json(cli, "services.openssh.ports", file) == [2022]


# --- delete, append, remove -----------------------------------------------------------------


def test_delete(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = file.read_bytes()
    ok(cli("delete", "services.openssh.ports", "-f", file))
    assert file.read_bytes() == before.replace(b"  services.openssh.ports = [ 22 ];\n", b"")
    assert_valid_nix(file, nix_instantiate)
    proc = ok(cli("delete", "services.openssh.ports", "-f", file))
    assert "nothing to change" in proc.stderr


def test_delete_takes_owned_comments(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "comments-everywhere.nix")
    ok(cli("delete", "networking.hostName", "-f", file))
    text = file.read_text()
    assert 'hostName = "lantern"' not in text and "# trailing comment" not in text
    assert "/* block comment before a binding */" in text
    assert_valid_nix(file, nix_instantiate)


def test_append_and_remove(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("append", "networking.firewall.allowedTCPPorts", "8080", "-f", file))
    assert get_json(cli, "networking.firewall.allowedTCPPorts", file) == [22, 80, 443, 8080]
    proc = ok(cli("append", "networking.firewall.allowedTCPPorts", "8080", "-f", file))
    assert "nothing to change" in proc.stderr
    ok(cli("remove", "networking.firewall.allowedTCPPorts", "80", "-f", file))
    assert get_json(cli, "networking.firewall.allowedTCPPorts", file) == [22, 443, 8080]
    proc = ok(cli("remove", "networking.firewall.allowedTCPPorts", "80", "-f", file))
    assert "nothing to change" in proc.stderr
    assert_valid_nix(file, nix_instantiate)


def test_append_json_string_and_create_list(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("append", "users.users.admin.extraGroups", '"docker"', "--json-value", "-f", file))
    assert get_json(cli, "users.users.admin.extraGroups", file) == ["wheel", "docker"]
    ok(cli("append", "nix.settings.trusted-users", '"admin"', "-f", file))
    assert get_json(cli, "nix.settings.trusted-users", file) == ["admin"]
    assert_valid_nix(file, nix_instantiate)


def test_append_package_to_with_list(cli, tmp_path: Path, nix_instantiate: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("append", "environment.systemPackages", "tmux", "-f", file))
    assert b"[ vim git htop tmux ]" in file.read_bytes()
    ok(cli("remove", "environment.systemPackages", "git", "-f", file))
    assert b"[ vim htop tmux ]" in file.read_bytes()
    assert_valid_nix(file, nix_instantiate)


# --- undo -----------------------------------------------------------------------------------


def test_undo_restores_original(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    original = file.read_bytes()
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    ok(cli("append", "networking.firewall.allowedTCPPorts", "2022", "-f", file))
    ok(cli("undo", "-f", file))
    assert get_json(cli, "networking.firewall.allowedTCPPorts", file) == [22, 80, 443]
    proc = ok(cli("undo", "-f", file))
    assert "restored" in proc.stderr
    assert file.read_bytes() == original
    one_error_line(cli("undo", "-f", file))


def test_undo_dry_run_shows_the_restoring_diff(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    before = state(file)
    proc = ok(cli("undo", "-f", file, "--dry-run"))
    assert "-  services.openssh.ports = [ 2022 ];" in proc.stdout
    assert "+  services.openssh.ports = [ 22 ];" in proc.stdout
    assert state(file) == before
    ok(cli("undo", "-f", file))
    assert get_json(cli, "services.openssh.ports", file) == [22]


def test_undo_refuses_after_manual_edit(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    ok(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    file.write_bytes(file.read_bytes() + b"# edited by hand\n")
    before = state(file)
    line = one_error_line(cli("undo", "-f", file))
    assert str(file) in line and "edited after nixgen wrote it" in line
    assert state(file) == before


# --- bad input ------------------------------------------------------------------------------

BAD_SOURCES = {
    "unterminated-string": (b'{ config, ... }:\n{\n  networking.hostName = "oops;\n}\n', 3),
    "missing-semicolon": (b"{\n  a = 1\n  b = 2;\n}\n", 3),
    "stray-brace": (b"{\n  a = 1;\n}\n}\n", 4),
}


@pytest.mark.parametrize("verb", [
    ("get", "a"), ("set", "a", "2"), ("delete", "a"), ("append", "l", "1"), ("remove", "l", "1"),
])
@pytest.mark.parametrize("kind", sorted(BAD_SOURCES))
def test_syntax_errors_are_one_line_with_position(cli, tmp_path: Path, kind: str,
                                                  verb: tuple[str, ...]) -> None:
    data, line_no = BAD_SOURCES[kind]
    file = tmp_path / "bad.nix"
    file.write_bytes(data)
    before = state(file)
    line = one_error_line(cli(*verb, "-f", file))
    prefix = f"nixgen: error: {file}:"
    assert line.startswith(prefix)
    position = line[len(prefix):].split(":")
    assert position[0].isdigit() and position[1].isdigit(), line
    assert int(position[0]) in {line_no - 1, line_no}, line
    assert state(file) == before


@pytest.mark.parametrize(("args", "position", "words"), [
    (("set", "services.openssh.enable.foo", "1"), ":16:3:", "not an attribute set"),
    (("append", "networking.hostName", '"x"'), ":10:3:", "not a list"),
    (("remove", "services.openssh.enable", "1"), ":16:3:", "not a list"),
])
def test_refused_edits(cli, tmp_path: Path, args: tuple[str, ...], position: str,
                       words: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    line = one_error_line(cli(*args, "-f", file))
    assert f"{file}{position}" in line and words in line
    assert state(file) == before


def test_binary_file(cli, tmp_path: Path) -> None:
    file = tmp_path / "bin.nix"
    file.write_bytes(b"{ a = 1; }\x00\xff\xfe")
    before = state(file)
    line = one_error_line(cli("set", "a", "2", "-f", file))
    assert f"{file}:1:11:" in line and "binary" in line
    assert state(file) == before


def test_invalid_utf8(cli, tmp_path: Path) -> None:
    file = tmp_path / "latin1.nix"
    file.write_bytes(b'{\n  a = "caf\xe9";\n}\n')
    line = one_error_line(cli("set", "a", "2", "-f", file))
    assert f"{file}:2:" in line and "UTF-8" in line


def test_empty_file(cli, tmp_path: Path) -> None:
    file = tmp_path / "empty.nix"
    file.write_bytes(b"")
    before = state(file)
    line = one_error_line(cli("set", "a", "2", "-f", file))
    assert str(file) in line and "empty" in line
    assert state(file) == before


def test_missing_file(cli, tmp_path: Path) -> None:
    file = tmp_path / "nope.nix"
    line = one_error_line(cli("set", "a", "2", "-f", file))
    assert line == f"nixgen: error: {file}: no such file"
    assert not file.exists()


def test_directory_as_file(cli, tmp_path: Path) -> None:
    line = one_error_line(cli("get", "a", "-f", tmp_path))
    assert "is a directory" in line


def test_read_only_file(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    os.chmod(file, 0o444)
    before = state(file)
    line = one_error_line(cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file))
    assert str(file) in line and "read-only" in line
    assert state(file) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basic-server.nix"]


@pytest.mark.parametrize(("value", "where"), [
    ('"unterminated', "<VALUE>:1:1:"),
    ("[ 1 2", "<VALUE>:1:"),
    ("1; b = 2", "<VALUE>:1:"),
    ("", "<VALUE>:1:1:"),
    ("# only a comment", "<VALUE>:"),
])
def test_bad_nix_value(cli, tmp_path: Path, value: str, where: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    line = one_error_line(cli("set", "services.openssh.ports", value, "-f", file))
    assert where in line and "VALUE is not valid Nix" in line
    assert state(file) == before


def test_bad_json_value(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    line = one_error_line(cli("set", "a", "{bad", "--json-value", "-f", file))
    assert "<VALUE>:1:2:" in line and "not valid JSON" in line
    assert state(file) == before


@pytest.mark.parametrize(("value", "reason"), [
    ("1e400", "float inf"),
    ("123456789012345678901", "64-bit"),
    ('"a\\u0000b"', "NUL"),
])
def test_json_value_nix_cannot_hold_blames_the_value(cli, tmp_path: Path, value: str,
                                                     reason: str) -> None:
    file = copy(tmp_path, "basic-server.nix")
    before = state(file)
    line = one_error_line(cli("set", "a", value, "--json-value", "-f", file))
    assert line.startswith("nixgen: error: <VALUE>: ") and reason in line
    assert state(file) == before


def test_bad_attribute_path_is_a_usage_error(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "basic-server.nix")
    proc = cli("set", "services..ports", "1", "-f", file)
    assert proc.returncode == 2
    assert proc.stderr.startswith("nixgen: error: ") and "Traceback" not in proc.stderr


# --- paths this file cannot delete, and warnings ----------------------------------------------


def test_delete_of_a_path_defined_in_an_imported_module_is_refused(cli, tmp_path: Path) -> None:
    conf = tmp_path / "conf.nix"
    conf.write_text("{ ... }: { imports = [ ./hw.nix ]; a = import ./x.nix; }\n")
    (tmp_path / "hw.nix").write_text('{ fileSystems."/".device = "/dev/sda1"; }\n')
    before = state(conf)
    line = one_error_line(cli("delete", 'fileSystems."/"', "-f", conf))
    assert f"{conf}:1:" in line and "hw.nix:1:3" in line
    line = one_error_line(cli("delete", "a.b", "-f", conf))
    assert "import ./x.nix" in line
    assert state(conf) == before
    proc = ok(cli("delete", "zzz", "-f", conf))
    assert "nothing to change" in proc.stderr
    assert state(conf) == before


def test_a_byte_order_mark_is_kept_and_warned_about(cli, tmp_path: Path) -> None:
    conf = tmp_path / "bom.nix"
    conf.write_bytes(b"\xef\xbb\xbf{ a = 1; }\n")
    proc = ok(cli("set", "b", "2", "-f", conf))
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("nixgen: warning: ")]
    assert len(warnings) == 1 and "byte order mark" in warnings[0] and f"{conf}:1:1" in warnings[0]
    assert conf.read_bytes().startswith(b"\xef\xbb\xbf{ a = 1;")
    assert b"b = 2;" in conf.read_bytes()


# --- modules in the full form (top-level options/config) ---------------------------------

FULL_FORM = """{ lib, pkgs, ... }:
{
  imports = [ ];
  options.foo = lib.mkOption { default = 1; };
  config = {
    networking.hostName = "a"; # the name
  };
}
"""


def test_full_form_module_is_edited_inside_config(cli, tmp_path: Path,
                                                  nix_instantiate: str) -> None:
    file = tmp_path / "module.nix"
    file.write_text(FULL_FORM)
    assert get_json(cli, "networking.hostName", file) == "a"
    ok(cli("set", "networking.hostName", '"b"', "-f", file))
    ok(cli("set", "services.openssh.enable", "true", "-f", file))
    ok(cli("append", "environment.systemPackages", "pkgs.htop", "-f", file))
    assert file.read_text() == FULL_FORM.replace(
        '    networking.hostName = "a"; # the name\n',
        '    networking.hostName = "b"; # the name\n'
        "    services.openssh.enable = true;\n"
        "    environment.systemPackages = [ pkgs.htop ];\n")
    assert_valid_nix(file, nix_instantiate)
    # the full form's own top-level names stay where they are
    ok(cli("append", "imports", "./hardware.nix", "-f", file))
    assert "  imports = [ ./hardware.nix ];\n" in file.read_text()
    ok(cli("delete", "networking.hostName", "-f", file))
    assert "hostName" not in file.read_text() and get_json(cli, "services.openssh.enable",
                                                          file) is True


def test_full_form_result_is_accepted_by_the_module_system(cli, tmp_path: Path,
                                                           nix_instantiate: str) -> None:
    file = tmp_path / "configuration.nix"
    file.write_text(FULL_FORM)
    ok(cli("set", "networking.domain", '"example.org"', "-f", file))
    proc = run_cli("get", "networking.domain", "--eval", "--json", "-f", str(file),
                   "--nixos", str(STAND_IN_NIXOS))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "example.org"


def test_full_form_with_a_conditional_config_is_refused_not_broken(cli, tmp_path: Path) -> None:
    file = copy(tmp_path, "with-lib-header.nix")
    before = file.read_bytes()
    proc = cli("set", "services.openssh.ports", "[ 2022 ]", "-f", file)
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert line.startswith(f"nixgen: error: {file}:") and "config is defined as `mkIf" in line
    assert file.read_bytes() == before
    # what the conditional set already holds can still be changed in place
    ok(cli("set", "systemd.services.backup.description", '"Backups"', "-f", file))
    assert file.read_bytes() == before.replace(b'"Nightly backup"', b'"Backups"')


def test_a_body_that_is_not_a_set_is_refused_at_the_body(cli, tmp_path: Path) -> None:
    file = tmp_path / "module.nix"
    file.write_text("{ lib, ... }:\n\nimport ./base.nix\n")
    proc = cli("set", "networking.hostName", '"x"', "-f", file)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(f"nixgen: error: {file}:3:1: the file's body")
    assert file.read_text() == "{ lib, ... }:\n\nimport ./base.nix\n"
