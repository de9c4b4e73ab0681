"""``nixgen edit --json``: JSON in, LSP-style edits out, the same edits as the language server
and the same bytes as the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import nix_parse_ok, run_cli
from test_lsp_client import LspClient, apply_text_edits, edits_for

CONFIG = """{ config, pkgs, ... }:
{
  # café 😀 before the edit point
  networking.hostName = "hôte";
  services.openssh.enable = true;
}
"""


def edit_json(request: Any) -> tuple[int, dict[str, Any]]:
    proc = run_cli("edit", "--json", input=json.dumps(request))
    return proc.returncode, json.loads(proc.stdout)


def _cli(path: Path, *args: str) -> str:
    proc = run_cli(*args, "-f", str(path))
    assert proc.returncode == 0, proc.stderr
    return path.read_bytes().decode()


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_set_matches_cli(tmp_path: Path, newline: str, nix_instantiate: str) -> None:
    text = CONFIG.replace("\n", newline)
    path = tmp_path / "configuration.nix"
    path.write_bytes(text.encode())
    code, out = edit_json({"text": text, "operation": "set", "path": str(path),
                           "args": {"path": "boot.loader.timeout", "value": "5"}})
    assert code == 0, out
    got = apply_text_edits(text, out["edits"])
    assert got.encode() == _cli(path, "set", "boot.loader.timeout", "5").encode()
    assert out["diagnostics"] == [] and out["noop"] is False
    assert nix_parse_ok(got, nix_instantiate)[0]


def test_add_container_matches_cli_and_server(tmp_path: Path) -> None:
    path = tmp_path / "configuration.nix"
    path.write_text(CONFIG)
    args = {"name": "foo", "port": [2022, 2023], "route": "config"}
    code, out = edit_json({"text": CONFIG, "operation": "add-container", "path": str(path),
                           "args": args})
    assert code == 0, out
    client = LspClient(timeout=60)
    try:
        client.initialize()
        client.open(path.as_uri(), CONFIG)
        client.execute("nixgen.addContainer", {"uri": path.as_uri(), **args})
        server_edits = edits_for(client.applied[-1]["edit"], path.as_uri())
    finally:
        assert client.shutdown() == 0
    assert out["edits"] == server_edits
    got = apply_text_edits(CONFIG, out["edits"])
    assert got == _cli(path, "add-container", "foo", "--port", "2022", "--port", "2023")


def test_remove_container_and_delete(tmp_path: Path) -> None:
    text = CONFIG.replace("}\n", "  systemd.containers.web.config = { };\n}\n")
    path = tmp_path / "configuration.nix"
    path.write_text(text)
    code, out = edit_json({"text": text, "operation": "remove-container", "path": str(path),
                           "args": {"name": "web"}})
    assert code == 0, out
    assert apply_text_edits(text, out["edits"]) == _cli(path, "remove-container", "web")
    code, out = edit_json({"text": CONFIG, "operation": "delete",
                           "args": {"path": "networking.hostName"}})
    assert code == 0, out
    assert "hostName" not in apply_text_edits(CONFIG, out["edits"])


def test_path_route_lists_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "configuration.nix"
    path.write_text(CONFIG)
    code, out = edit_json({"text": CONFIG, "operation": "add-container", "path": str(path),
                           "args": {"name": "db", "route": "path", "port": [2030]}})
    assert code == 0, out
    assert [f["path"] for f in out["files"]] == [str(tmp_path / "containers" / "db.nix")]
    assert out["files"][0]["create"] is True
    new_file = apply_text_edits("", out["files"][0]["edits"])
    assert "boot.isContainer = true;" in new_file
    assert not (tmp_path / "containers").exists()  # nothing written


def test_convert_form(tmp_path: Path) -> None:
    code, out = edit_json({"text": CONFIG, "operation": "convert-form",
                           "args": {"line": 4, "character": 4}})
    assert code == 0, out
    got = apply_text_edits(CONFIG, out["edits"])
    assert "  services = {\n    openssh.enable = true;\n  };\n" in got


def test_diagnostics_of_a_broken_text() -> None:
    text = CONFIG.replace('"hôte";', '"hôte"')
    code, out = edit_json({"text": text, "operation": "set",
                           "args": {"path": "a", "value": "1"}})
    assert code == 1
    assert out["error"]["kind"] == "NixSyntaxError"
    assert "line" in out["error"]


def test_no_change_is_a_noop() -> None:
    code, out = edit_json({"text": CONFIG, "operation": "set",
                           "args": {"path": "services.openssh.enable", "value": "true"}})
    assert code == 0
    assert out["edits"] == [] and out["noop"] is True


@pytest.mark.parametrize(("request_", "words"), [
    ({"text": CONFIG, "operation": "fly"}, "unknown operation"),
    ({"text": CONFIG, "operation": "set", "args": {"path": "a"}}, "value"),
    ({"text": 3, "operation": "set"}, "text"),
    ({"operation": "set"}, "text"),
    ({"text": CONFIG, "operation": "set", "args": [1]}, "args"),
    ({"text": CONFIG, "operation": "add-container", "args": {"name": "x", "port": [0]}},
     "port"),
    ([1, 2], "JSON object"),
])
def test_bad_requests(request_: Any, words: str) -> None:
    code, out = edit_json(request_)
    assert code in (1, 2)
    assert words in out["error"]["message"]


def test_not_json() -> None:
    proc = run_cli("edit", "--json", input="{nope")
    assert proc.returncode == 2
    assert "not JSON" in json.loads(proc.stdout)["error"]["message"]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("operation", "value"), [("append", "pkgs.git"), ("remove", "pkgs.vim")])
def test_list_operations_match_cli(tmp_path: Path, operation: str, value: str) -> None:
    text = CONFIG.replace("}\n", "  environment.systemPackages = [ pkgs.vim ]; # 😀\n}\n")
    path = tmp_path / "configuration.nix"
    path.write_text(text)
    code, out = edit_json({"text": text, "operation": operation, "path": str(path),
                           "args": {"path": "environment.systemPackages", "value": value}})
    assert code == 0, out
    got = apply_text_edits(text, out["edits"])
    assert got == _cli(path, operation, "environment.systemPackages", value)


def test_rename() -> None:
    code, out = edit_json({"text": CONFIG, "operation": "rename",
                           "args": {"path": "networking.hostName",
                                    "new_path": "networking.domain"}})
    assert code == 0, out
    assert apply_text_edits(CONFIG, out["edits"]) == CONFIG.replace("hostName", "domain")


def test_summary_without_a_path_names_no_file() -> None:
    # without "path" the buffer has no file: the summary must not name one from the cwd
    text = CONFIG.replace("}\n", "  systemd.containers.old.config = { };\n}\n")
    for operation, args in (("add-container", {"name": "foo", "port": [2022]}),
                            ("remove-container", {"name": "old"})):
        code, out = edit_json({"text": text, "operation": operation, "args": args})
        assert code == 0, out
        assert "configuration.nix" not in out["summary"] and "the buffer" in out["summary"]
    code, out = edit_json({"text": text, "operation": "remove-container", "path": "/etc/x.nix",
                           "args": {"name": "old"}})
    assert code == 0 and "/etc/x.nix" in out["summary"]


def test_convert_form_chooses_the_direction() -> None:
    # `containers.foo = { … };` can go either way: "form" picks one
    text = "{\n  containers.foo = {\n    autoStart = true;\n  };\n}\n"
    code, out = edit_json({"text": text, "operation": "convert-form",
                           "args": {"line": 1, "character": 4, "form": "dotted"}})
    assert code == 0, out
    assert apply_text_edits(text, out["edits"]) == "{\n  containers.foo.autoStart = true;\n}\n"
    code, out = edit_json({"text": text, "operation": "convert-form",
                           "args": {"line": 1, "character": 4, "form": "nested"}})
    assert code == 0, out
    assert apply_text_edits(text, out["edits"]).startswith("{\n  containers = {\n")
    code, out = edit_json({"text": "{\n  a = 1;\n}\n", "operation": "convert-form",
                           "args": {"line": 1, "character": 2, "form": "dotted"}})
    assert code == 1 and "dotted" in out["error"]["message"]
    code, out = edit_json({"text": text, "operation": "convert-form",
                           "args": {"line": 1, "character": 4, "form": "sideways"}})
    assert code != 0 and "nested" in out["error"]["message"]


def test_a_byte_order_mark_gets_the_ng001_of_check_in_editors(tmp_path: Path) -> None:
    text = "\ufeff{ }\n"
    path = tmp_path / "bom.nix"
    path.write_bytes(text.encode())
    check = run_cli("check", str(path))
    assert f"{path}:1:1: NG001 the file starts with a UTF-8 byte order mark" in check.stdout
    message = check.stdout.split(" NG001 ", 1)[1].split(" [fixable]")[0].strip()
    expected = {"range": {"start": {"line": 0, "character": 0},
                          "end": {"line": 0, "character": 1}},
                "severity": 1, "source": "nixgen", "message": message, "code": "NG001"}
    code, out = edit_json({"text": text, "operation": "set", "path": str(path),
                           "args": {"path": "a", "value": "1"}})
    assert code == 0 and out["diagnostics"] == [expected]
    client = LspClient()
    try:
        client.initialize()
        published = client.open(path.as_uri(), text)
        actions = client.code_actions(path.as_uri(), 0, 0, published["diagnostics"])
        # Beside a syntax error too (nothing else is checked then).
        broken = client.open((tmp_path / "broken.nix").as_uri(), "\ufeff{ x = 1 }\n")
    finally:
        client.close()
    assert published["diagnostics"] == [expected]
    assert [d["code"] for d in broken["diagnostics"]] == ["NG001", "NG001"]
    assert broken["diagnostics"][0]["message"] == message
    assert any("byte order mark" in a["title"] for a in actions)


FULL_FORM = """{ lib, ... }:
{
  options.foo = lib.mkOption { default = 1; };
  config = {
    networking.hostName = "a";
  };
}
"""


@pytest.mark.parametrize(("operation", "args", "expected"), [
    ("set", {"path": "networking.hostName", "value": '"b"'},
     FULL_FORM.replace('"a"', '"b"')),
    ("set", {"path": "boot.loader.timeout", "value": "5"},
     FULL_FORM.replace('"a";\n', '"a";\n    boot.loader.timeout = 5;\n')),
    ("delete", {"path": "networking.hostName"},
     FULL_FORM.replace('    networking.hostName = "a";\n', "")),
    ("rename", {"path": "networking.hostName", "new_path": "networking.domain"},
     FULL_FORM.replace("hostName", "domain")),
])
def test_full_form_modules_are_edited_inside_config(
        tmp_path: Path, operation: str, args: dict[str, str], expected: str) -> None:
    path = tmp_path / "module.nix"
    path.write_text(FULL_FORM)
    code, out = edit_json({"text": FULL_FORM, "operation": operation, "path": str(path),
                           "args": args})
    assert code == 0, out
    assert apply_text_edits(FULL_FORM, out["edits"]) == expected


@pytest.mark.parametrize(("text", "form"), [
    ("{ a = /* c */ { b = 1; }; }\n", "dotted"),
    ("{ a /* k */ = { b = 1; }; }\n", "dotted"),
    ("{ a /* k */ .b = 1; }\n", "nested"),
])
def test_convert_form_refuses_to_lose_a_comment(text: str, form: str) -> None:
    code, out = edit_json({"text": text, "operation": "convert-form",
                           "args": {"offset": 2, "form": form}})
    assert code == 1, out
    assert "edits" not in out and "comment" in out["error"]["message"]


def test_path_route_container_needs_the_buffer_file(tmp_path: Path) -> None:
    request = {"text": "{ }\n", "operation": "add-container",
               "args": {"name": "foo", "port": [2022], "route": "path"}}
    proc = run_cli("edit", "--json", input=json.dumps(request), cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 1, out
    assert "edits" not in out and "files" not in out
    message = out["error"]["message"]
    assert "save" in message and '"path"' in message
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert list(tmp_path.iterdir()) == []
    # with the buffer's file the container file goes beside it
    config = tmp_path / "etc" / "configuration.nix"
    proc = run_cli("edit", "--json", input=json.dumps({**request, "path": str(config)}),
                   cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, out
    assert [f["path"] for f in out["files"]] == [str(tmp_path / "etc" / "containers" / "foo.nix")]
    # a config-route container needs no file
    request["args"] = {"name": "foo", "port": [2022], "route": "config"}
    proc = run_cli("edit", "--json", input=json.dumps(request), cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, out
    assert out["files"] == [] and "systemd.containers.foo.config" in out["edits"][0]["newText"]


def test_removing_a_container_file_needs_the_buffer_file(tmp_path: Path) -> None:
    (tmp_path / "containers").mkdir()
    bystander = tmp_path / "containers" / "foo.nix"  # in the current folder, not the buffer's
    bystander.write_text("{ }\n")
    text = '{\n  systemd.containers.foo.path = "/nix/var/nix/profiles/containers/foo";\n}\n'
    request = {"text": text, "operation": "remove-container",
               "args": {"name": "foo", "delete_file": True}}
    proc = run_cli("edit", "--json", input=json.dumps(request), cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and "files" not in out
    assert "delete_file" in out["error"]["message"] and '"path"' in out["error"]["message"]
    # without deleting the file, the buffer alone is enough
    request["args"] = {"name": "foo"}
    proc = run_cli("edit", "--json", input=json.dumps(request), cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, out
    assert out["files"] == [] and apply_text_edits(text, out["edits"]) == "{\n}\n"
    assert bystander.read_text() == "{ }\n"
