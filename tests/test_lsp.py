"""The language server driven as a real client would: ``python -m nixgen lsp`` in a subprocess,
JSON-RPC over stdio. Edits the server sends are applied to the buffer and compared byte for
byte with what the command line writes for the same operation on the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import nix_parse_ok, run_cli
from test_lsp_client import LspClient, LspError, apply_text_edits, edits_for

CONFIG = """{ config, pkgs, ... }:
{
  # Host: café 😀 — non-ASCII before every edit point
  networking.hostName = "hôte"; # ✓
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.vim ];
}
"""

WITH_CONTAINERS = """{ config, pkgs, ... }:
{
  # 😀 containers below
  services.openssh.enable = true;
  systemd.containers.web.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ 2022 ];
  };
  systemd.containers.web.autoStart = true;
}
"""


@pytest.fixture(scope="module")
def client() -> Iterator[LspClient]:
    c = LspClient(timeout=60)
    c.initialize()
    yield c
    assert c.shutdown() == 0


def _file(tmp_path: Path, text: str, name: str = "configuration.nix",
          newline: str = "\n") -> tuple[Path, str]:
    path = tmp_path / name
    content = text.replace("\n", newline)
    path.write_bytes(content.encode())
    return path, path.as_uri()


def _run(client: LspClient, command: str, args: dict[str, Any], uri: str, text: str) -> str:
    """Execute a command and apply the edit it sent for ``uri`` to ``text``."""
    before = len(client.applied)
    result = client.execute(command, args)
    assert result["applied"] is True, result
    assert len(client.applied) == before + 1
    edit = client.applied[-1]["edit"]
    edits = edits_for(edit, uri)
    assert edits, edit
    for e in edits:  # minimal: never a whole-document replacement
        assert e["range"] != {"start": {"line": 0, "character": 0},
                              "end": {"line": len(text.splitlines()), "character": 0}}
        assert len(e["newText"]) < len(text)
    return apply_text_edits(text, edits)


def _cli_result(path: Path, *args: str) -> str:
    proc = run_cli(*args, "-f", str(path))
    assert proc.returncode == 0, proc.stderr
    return path.read_bytes().decode()


def _matches_cli(client: LspClient, tmp_path: Path, nix_instantiate: str, newline: str,
                 command: str, args: dict[str, Any], *cli_args: str) -> str:
    """``command`` on CONFIG written with ``newline`` gives the bytes ``nixgen <cli_args>``
    writes, keeps the line endings and parses; returns the edited text."""
    path, uri = _file(tmp_path, CONFIG, newline=newline)
    text = path.read_bytes().decode()
    client.open(uri, text)
    got = _run(client, command, {"uri": uri, **args}, uri, text)
    assert got.encode() == _cli_result(path, *cli_args).encode()
    assert ("\r\n" in got) == (newline == "\r\n")
    assert nix_parse_ok(got, nix_instantiate)[0]
    return got


def test_initialize_advertises_features() -> None:
    c = LspClient(timeout=60)
    try:
        caps = c.initialize()["capabilities"]
        assert caps["textDocumentSync"]["change"] == 2  # incremental
        assert set(caps["executeCommandProvider"]["commands"]) >= {
            "nixgen.addContainer", "nixgen.removeContainer", "nixgen.setOption",
            "nixgen.deleteOption"}
        assert caps["hoverProvider"] and caps["documentSymbolProvider"]
        assert "quickfix" in caps["codeActionProvider"]["codeActionKinds"]
    finally:
        assert c.shutdown() == 0


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_set_option_matches_cli(client: LspClient, tmp_path: Path, nix_instantiate: str,
                                newline: str) -> None:
    _matches_cli(client, tmp_path, nix_instantiate, newline, "nixgen.setOption",
                 {"path": "networking.firewall.allowedTCPPorts", "value": "[ 22 80 ]"},
                 "set", "networking.firewall.allowedTCPPorts", "[ 22 80 ]")


def test_set_replaces_value_after_non_ascii(client: LspClient, tmp_path: Path) -> None:
    path, uri = _file(tmp_path, CONFIG)
    client.open(uri, CONFIG)
    got = _run(client, "nixgen.setOption",
               {"uri": uri, "path": "networking.hostName", "value": '"naïve-😀"'}, uri, CONFIG)
    assert got.encode() == _cli_result(path, "set", "networking.hostName",
                                       '"naïve-😀"').encode()
    assert '# ✓' in got


def test_delete_option_matches_cli(client: LspClient, tmp_path: Path) -> None:
    path, uri = _file(tmp_path, CONFIG)
    client.open(uri, CONFIG)
    got = _run(client, "nixgen.deleteOption", {"uri": uri, "path": "services.openssh.enable"},
               uri, CONFIG)
    assert got.encode() == _cli_result(path, "delete", "services.openssh.enable").encode()
    assert "openssh" not in got


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_add_container_matches_cli(client: LspClient, tmp_path: Path, nix_instantiate: str,
                                   newline: str) -> None:
    got = _matches_cli(client, tmp_path, nix_instantiate, newline, "nixgen.addContainer",
                       {"name": "foo", "port": [2022], "route": "config"},
                       "add-container", "foo", "--port", "2022", "--route", "config")
    assert "systemd.containers.foo" in got


def test_remove_container_matches_cli(client: LspClient, tmp_path: Path) -> None:
    path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    got = _run(client, "nixgen.removeContainer", {"uri": uri, "name": "web"}, uri,
               WITH_CONTAINERS)
    assert got.encode() == _cli_result(path, "remove-container", "web").encode()
    assert "web" not in got


def test_commands_use_the_unsaved_buffer(client: LspClient, tmp_path: Path) -> None:
    """Incremental changes (with UTF-16 columns) are applied; the buffer wins over the disk."""
    path, uri = _file(tmp_path, CONFIG)
    client.open(uri, CONFIG, version=1)
    # insert after the emoji on line 2 (the emoji is two UTF-16 code units)
    line2 = CONFIG.splitlines()[2]
    col = len(line2[: line2.index("😀") + 1].encode("utf-16-le")) // 2
    edit1 = {"range": {"start": {"line": 2, "character": col},
                       "end": {"line": 2, "character": col}}, "text": " ünïcode"}
    text = apply_text_edits(CONFIG, [{"range": edit1["range"], "newText": edit1["text"]}])
    client.change(uri, 2, [edit1])
    # replace "hôte" with "box" by a range on line 3
    line3 = text.splitlines()[3]
    s = line3.index("hôte")
    edit2 = {"range": {"start": {"line": 3, "character": s},
                       "end": {"line": 3, "character": s + 4}}, "text": "box"}
    text = apply_text_edits(text, [{"range": edit2["range"], "newText": edit2["text"]}])
    diags = client.change(uri, 3, [edit2])
    assert diags["diagnostics"] == []
    got = _run(client, "nixgen.setOption", {"uri": uri, "path": "time.timeZone",
                                            "value": '"UTC"'}, uri, text)
    path.write_bytes(text.encode())  # now the disk holds what the buffer held
    assert got.encode() == _cli_result(path, "set", "time.timeZone", '"UTC"').encode()
    assert "ünïcode" in got and '"box"' in got


def test_whole_text_change_and_versioned_edits(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    client.open(uri, "{ }\n", version=1)
    client.change(uri, 7, [{"text": CONFIG}])
    client.execute("nixgen.setOption", {"uri": uri, "path": "a.b", "value": "1"})
    change = client.applied[-1]["edit"]["documentChanges"][0]
    assert change["textDocument"] == {"uri": uri, "version": 7}


def test_syntax_error_buffer(client: LspClient, tmp_path: Path) -> None:
    broken = CONFIG.replace('networking.hostName = "hôte";', 'networking.hostName = ;')
    _path, uri = _file(tmp_path, broken)
    diags = client.open(uri, broken)["diagnostics"]
    assert len(diags) == 1
    d = diags[0]
    assert d["severity"] == 1 and d["source"] == "nixgen"
    line = broken.splitlines()[3]
    assert d["range"]["start"]["line"] == 3
    # the missing value: between the `=` and the `;`
    assert line.index("=") < d["range"]["start"]["character"] <= line.index(";")
    assert d["range"]["end"]["line"] == 3
    with pytest.raises(LspError) as err:
        client.execute("nixgen.setOption", {"uri": uri, "path": "a", "value": "1"})
    assert err.value.code == -32803
    assert "syntax error" in err.value.message and "line 4" in err.value.message
    # the server is alive and fixing the buffer clears the diagnostic
    fixed = client.change(uri, 2, [{"text": CONFIG}])
    assert fixed["diagnostics"] == []


def test_syntax_error_range_after_non_ascii(client: LspClient, tmp_path: Path) -> None:
    text = '{\n  a = "😀é"; b = ;\n}\n'
    _path, uri = _file(tmp_path, text)
    diags = client.open(uri, text)["diagnostics"]
    assert len(diags) == 1
    start = diags[0]["range"]["start"]
    # UTF-16: the emoji counts two, so the column is past `b =` counted that way
    b_eq = len('  a = "😀é"; b ='.encode("utf-16-le")) // 2
    assert start["line"] == 1 and b_eq <= start["character"] <= b_eq + 1


def test_bad_requests_get_errors_and_the_server_survives(client: LspClient,
                                                         tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    client.open(uri, CONFIG)
    cases: list[tuple[str, Any, int, str]] = [
        ("nixgen.noSuchCommand", {"uri": uri}, -32602, "not defined"),
        ("nixgen.addContainer", {"uri": uri, "port": [2022]}, -32602, "name"),
        ("nixgen.addContainer", {"uri": uri, "name": "foo", "port": ["x"]}, -32602, "port"),
        ("nixgen.addContainer", {"uri": uri, "name": "foo", "colour": "red"}, -32602, "colour"),
        ("nixgen.addContainer", {"uri": uri, "name": "9bad"}, -32602, "9bad"),
        ("nixgen.setOption", {"uri": uri, "path": "a"}, -32602, "value"),
        ("nixgen.setOption", {"uri": uri, "path": "a", "value": "{ ;"}, -32602, "value"),
        ("nixgen.setOption", {"path": "a", "value": "1"}, -32602, "uri"),
        ("nixgen.setOption", {"uri": "file:///no/such/file.nix", "path": "a", "value": "1"},
         -32602, "not open"),
    ]
    for command, args, code, words in cases:
        with pytest.raises(LspError) as err:
            client.execute(command, args)
        assert err.value.code == code, (command, args, err.value.message)
        assert words in err.value.message, (command, args, err.value.message)
    with pytest.raises(LspError) as err:
        client.execute("nixgen.setOption", "not an object")
    assert "JSON object" in err.value.message
    # a request whose parameters do not fit the method
    reply = client.request_raw("textDocument/codeAction", {"textDocument": {}})
    assert reply["error"]["code"] == -32602
    assert "codeAction" in reply["error"]["message"]
    # an unknown method
    assert client.request_raw("nixgen/unknown", {})["error"]["code"] == -32601
    # a body that is not JSON at all
    client.send_raw(b"{this is not json")
    assert client.wait_response(None)["error"]["code"] == -32700
    # still serving
    assert client.code_actions(uri, 3, 4)


def test_code_actions_at_cursor(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    line = WITH_CONTAINERS.splitlines()[4]
    titles = [a["title"] for a in client.code_actions(uri, 4, line.index("web"))]
    assert "Remove container web" in titles
    assert "Add container…" in titles
    assert any(t.startswith("Convert systemd.containers.web.config to nested") for t in titles)
    titles_plain = [a["title"] for a in client.code_actions(uri, 3, 4)]
    assert "Remove container web" not in titles_plain
    assert "Set option services.openssh.enable…" in titles_plain
    add = next(a for a in client.code_actions(uri, 3, 4) if a["title"] == "Add container…")
    args = add["command"]["arguments"][0]
    assert args["uri"] == uri and args["name"] != "web" and args["port"] != [2022]


def test_convert_forms_keep_comments(client: LspClient, tmp_path: Path,
                                     nix_instantiate: str) -> None:
    text = ("{\n  # the boot loader (é)\n  boot.loader.grub.device = \"/dev/sda\"; # disk\n"
            "  services.openssh = {\n    enable = true; # on\n    # 😀 ports\n"
            "    ports = [ 22 ];\n  };\n}\n")
    _path, uri = _file(tmp_path, text)
    client.open(uri, text)
    actions = client.code_actions(uri, 2, 4)
    nested = next(a for a in actions if "to nested form" in a["title"])
    got = apply_text_edits(text, edits_for(nested["edit"], uri))
    assert got == text.replace('  boot.loader.grub.device = "/dev/sda"; # disk\n',
                               '  boot = {\n    loader.grub.device = "/dev/sda";\n  }; # disk\n')
    assert nix_parse_ok(got, nix_instantiate)[0]
    # and back again: the nested form converts to dotted
    client.change(uri, 2, [{"text": got}])
    back = next(a for a in client.code_actions(uri, 3, 3) if "to dotted form" in a["title"])
    assert apply_text_edits(got, edits_for(back["edit"], uri)) == text

    dotted = next(a for a in client.code_actions(uri, 5, 4) if "to dotted form" in a["title"])
    flat = apply_text_edits(got, edits_for(dotted["edit"], uri))
    assert "  services.openssh.enable = true; # on\n  # 😀 ports\n" in flat
    assert "  services.openssh.ports = [ 22 ];\n" in flat
    assert nix_parse_ok(flat, nix_instantiate)[0]


def test_hover_on_container_name(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    line = WITH_CONTAINERS.splitlines()[4]
    hover = client.request("textDocument/hover", {
        "textDocument": {"uri": uri},
        "position": {"line": 4, "character": line.index("web") + 1}})
    value = hover["contents"]["value"]
    assert "web" in value and "legacy" in value and "config" in value and "2022" in value
    assert "line 5" in value
    none = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 3, "character": 4}})
    assert none is None


def test_hover_names_the_option_as_nix_writes_it(client: LspClient, tmp_path: Path) -> None:
    text = '{\n  systemd.containers."we-b.x".config = { };\n}\n'
    _path, uri = _file(tmp_path, text)
    client.open(uri, text)
    hover = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 23}})
    assert '(`systemd.containers."we-b.x"`)' in hover["contents"]["value"]


def test_document_symbols(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    names = [s["name"] for s in symbols]
    assert names[0] == "web"
    assert symbols[0]["detail"].startswith("legacy container")
    assert "services.openssh.enable" in names
    assert "systemd.containers.web.config" in names


def test_path_route_creates_the_container_file(tmp_path: Path) -> None:
    path, uri = _file(tmp_path, CONFIG)
    c = LspClient(timeout=60)
    try:
        c.initialize()
        c.open(uri, CONFIG)
        c.execute("nixgen.addContainer", {"uri": uri, "name": "db", "port": [2023],
                                          "route": "path"})
        changes = c.applied[-1]["edit"]["documentChanges"]
        created = [ch for ch in changes if ch.get("kind") == "create"]
        assert len(created) == 1 and created[0]["uri"].endswith("/containers/db.nix")
        new_file = apply_text_edits("", edits_for(c.applied[-1]["edit"], created[0]["uri"]))
        got = apply_text_edits(CONFIG, edits_for(c.applied[-1]["edit"], uri))
    finally:
        assert c.shutdown() == 0
    expected = _cli_result(path, "add-container", "db", "--port", "2023", "--route", "path")
    assert got == expected
    assert new_file == (tmp_path / "containers" / "db.nix").read_text()


def test_path_route_without_file_creation_support(tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    c = LspClient(timeout=60)
    try:
        c.initialize({"workspace": {"applyEdit": True}})
        c.open(uri, CONFIG)
        with pytest.raises(LspError) as err:
            c.execute("nixgen.addContainer", {"uri": uri, "name": "db", "route": "path"})
        assert err.value.code == -32803 and "create" in err.value.message
        # plain text edits still work through `changes`
        c.execute("nixgen.setOption", {"uri": uri, "path": "a", "value": "1"})
        assert uri in c.applied[-1]["edit"]["changes"]
    finally:
        assert c.shutdown() == 0


def test_check_findings_and_quick_fix(client: LspClient, tmp_path: Path,
                                      nix_instantiate: str) -> None:
    text = ("{ config, pkgs, ... }:\n{\n  # é 😀\n"
            "  environment.systemPackages = [ pkgs.lib.id ];\n}\n")
    _path, uri = _file(tmp_path, text)
    diags = client.open(uri, text)["diagnostics"]
    lib = [d for d in diags if d["code"] == "NG201"]
    assert len(lib) == 1 and lib[0]["severity"] == 2
    line = text.splitlines()[3]
    col = len(line[: line.index("pkgs.lib")].encode("utf-16-le")) // 2
    assert lib[0]["range"]["start"] == {"line": 3, "character": col}
    actions = client.code_actions(uri, 3, col + 1, diagnostics=lib)
    fix = next(a for a in actions if a["kind"] == "quickfix")
    assert fix["diagnostics"] == lib
    got = apply_text_edits(text, edits_for(fix["edit"], uri))
    assert got == text.replace("pkgs, ...", "pkgs, lib, ...").replace("pkgs.lib.id", "lib.id")
    assert nix_parse_ok(got, nix_instantiate)[0]
    after = client.change(uri, 2, [{"text": got}])["diagnostics"]
    assert not [d for d in after if d["code"] == "NG201"]


def test_remove_path_route_container_deletes_its_file(tmp_path: Path) -> None:
    path, uri = _file(tmp_path, CONFIG)
    assert run_cli("add-container", "db", "--route", "path", "-f", str(path)).returncode == 0
    text = path.read_text()
    container_file = tmp_path / "containers" / "db.nix"
    assert container_file.exists()
    c = LspClient(timeout=60)
    try:
        c.initialize()
        c.open(uri, text)
        c.execute("nixgen.removeContainer", {"uri": uri, "name": "db", "delete_file": True})
        changes = c.applied[-1]["edit"]["documentChanges"]
        assert {"kind": "delete", "uri": container_file.as_uri()} in changes
        got = apply_text_edits(text, edits_for(c.applied[-1]["edit"], uri))
    finally:
        assert c.shutdown() == 0
    assert got == _cli_result(path, "remove-container", "db", "--delete-file")
    assert not container_file.exists()  # the CLI deleted it; the server only asked


def test_utf8_position_encoding(tmp_path: Path) -> None:
    text = '{\n  a = "é😀"; b = ;\n}\n'
    _path, uri = _file(tmp_path, text)
    c = LspClient(timeout=60)
    try:
        caps = c.initialize({"general": {"positionEncodings": ["utf-8", "utf-16"]},
                             "workspace": {"applyEdit": True}})["capabilities"]
        assert caps["positionEncoding"] == "utf-8"
        diags = c.open(uri, text)["diagnostics"]
        b_eq = len('  a = "é😀"; b ='.encode())
        assert b_eq <= diags[0]["range"]["start"]["character"] <= b_eq + 1
    finally:
        assert c.shutdown() == 0


def test_client_without_apply_edit_gets_an_error(tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    c = LspClient(timeout=60)
    try:
        c.initialize({})
        c.open(uri, CONFIG)
        with pytest.raises(LspError) as err:
            c.execute("nixgen.setOption", {"uri": uri, "path": "a", "value": "1"})
        assert err.value.code == -32803 and "applyEdit" in err.value.message
    finally:
        assert c.shutdown() == 0


def test_malformed_notification_does_not_stop_the_server(client: LspClient,
                                                         tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri}})  # no text
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                             "contentChanges": [{"text": "{ }"}]})
    client.open(uri, CONFIG, version=4)
    assert client.code_actions(uri, 3, 4)


def test_hover_range_is_the_name(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    col = WITH_CONTAINERS.splitlines()[4].index("web")
    hover = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 4, "character": col}})
    assert hover["range"] == {"start": {"line": 4, "character": col},
                              "end": {"line": 4, "character": col + 3}}


def test_code_action_commands_run_as_offered(client: LspClient, tmp_path: Path) -> None:
    path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    line = WITH_CONTAINERS.splitlines()[6]
    actions = client.code_actions(uri, 6, line.index("ports"))
    remove = next(a for a in actions if a["title"] == "Remove container web")
    got = _run(client, remove["command"]["command"], *remove["command"]["arguments"],
               uri=uri, text=WITH_CONTAINERS)
    assert got == _cli_result(path, "remove-container", "web")
    set_action = next(a for a in actions if a["title"].startswith("Set option"))
    assert set_action["command"]["arguments"][0]["path"] == (
        "systemd.containers.web.config.services.openssh.ports")
    assert set_action["command"]["arguments"][0]["value"] == "[ 2022 ]"


def test_several_changes_in_one_notification(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, CONFIG)
    client.open(uri, CONFIG)
    first = {"range": {"start": {"line": 4, "character": 2}, "end": {"line": 4, "character": 2}},
             "text": "# é\n  "}
    text = apply_text_edits(CONFIG, [{"range": first["range"], "newText": first["text"]}])
    # the second change's positions refer to the text after the first
    second = {"range": {"start": {"line": 5, "character": 28},
                        "end": {"line": 5, "character": 32}}, "text": "false"}
    text = apply_text_edits(text, [{"range": second["range"], "newText": second["text"]}])
    assert "enable = false;" in text
    client.change(uri, 2, [first, second])
    got = _run(client, "nixgen.setOption", {"uri": uri, "path": "x", "value": "1"}, uri, text)
    assert got.startswith(text[: text.index("}\n")])


def test_container_in_an_imported_file(tmp_path: Path) -> None:
    (tmp_path / "web.nix").write_text(
        "{ ... }:\n{\n  systemd.containers.web.config = { };\n}\n")
    main = CONFIG.replace("{\n  # Host", "{\n  imports = [ ./web.nix ];\n  # Host")
    main = main.replace("}\n", "  systemd.containers.web.autoStart = true;\n}\n")
    path, uri = _file(tmp_path, main)
    web_uri = (tmp_path / "web.nix").as_uri()
    c = LspClient(timeout=60)
    try:
        c.initialize()
        c.open(uri, main)
        line = main.splitlines()[-2]
        hover = c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {
            "line": len(main.splitlines()) - 2, "character": line.index("web")}})
        assert "web.nix:3" in hover["contents"]["value"]
        c.execute("nixgen.removeContainer", {"uri": uri, "name": "web"})
        edit = c.applied[-1]["edit"]
        other = [ch for ch in edit["documentChanges"] if ch["textDocument"]["uri"] == web_uri]
        assert other and other[0]["textDocument"]["version"] is None
        got_main = apply_text_edits(main, edits_for(edit, uri))
        got_web = apply_text_edits((tmp_path / "web.nix").read_text(), edits_for(edit, web_uri))
    finally:
        assert c.shutdown() == 0
    assert got_main == _cli_result(path, "remove-container", "web")
    assert got_web == (tmp_path / "web.nix").read_text()


def test_code_action_kinds_filter(client: LspClient, tmp_path: Path) -> None:
    _path, uri = _file(tmp_path, WITH_CONTAINERS)
    client.open(uri, WITH_CONTAINERS)
    pos = {"line": 4, "character": 4}

    def kinds(only: list[str]) -> set[str]:
        actions = client.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": pos, "end": pos},
            "context": {"diagnostics": [], "only": only}})
        return {a["kind"] for a in actions}

    assert kinds(["refactor"]) == {"refactor", "refactor.rewrite"}
    assert kinds(["refactor.rewrite"]) == {"refactor.rewrite"}
    assert kinds(["quickfix"]) == set()


def test_add_container_suggestion_avoids_used_ports(client: LspClient, tmp_path: Path) -> None:
    text = WITH_CONTAINERS.replace("  services.openssh.enable = true;\n  systemd",
                                   "  services.openssh.ports = [ 2023 ];\n  systemd")
    path, uri = _file(tmp_path, text)
    client.open(uri, text)
    add = next(a for a in client.code_actions(uri, 1, 0) if a["title"] == "Add container…")
    args = add["command"]["arguments"][0]
    assert args["port"] == [2024]
    got = _run(client, add["command"]["command"], args, uri, text)
    assert got == _cli_result(path, "add-container", args["name"], "--port", "2024")


def test_path_route_container_in_an_untitled_buffer_is_refused(client: LspClient) -> None:
    uri = "untitled:Untitled-1"
    client.open(uri, "{ }\n")
    before = len(client.applied)
    with pytest.raises(LspError) as err:
        client.execute("nixgen.addContainer", {"uri": uri, "name": "x", "port": [2022],
                                               "route": "path"})
    assert err.value.code == -32602
    assert "save" in err.value.message and "created" not in err.value.message
    assert len(client.applied) == before
    # a config-route container lives in the buffer itself and needs no file
    result = client.execute("nixgen.addContainer", {"uri": uri, "name": "x", "port": [2022],
                                                     "route": "config"})
    assert result["applied"] is True and len(client.applied) == before + 1
    edit = client.applied[-1]["edit"]
    assert "systemd.containers.x.config" in apply_text_edits("{ }\n", edits_for(edit, uri))
    assert all("kind" not in ch for ch in edit.get("documentChanges", []))


def test_convert_actions_are_not_offered_when_a_comment_would_be_lost(
        client: LspClient, tmp_path: Path) -> None:
    text = "{\n  a = /* c */ { b = 1; };\n  p /* k */ .q = 1;\n  x = { y /* k */ = 1; };\n}\n"
    _path, uri = _file(tmp_path, text)
    client.open(uri, text)
    titles = [a["title"] for a in client.code_actions(uri, 1, 2)]
    assert not any(t.startswith("Convert a to") for t in titles), titles
    titles = [a["title"] for a in client.code_actions(uri, 2, 2)]
    assert not any(t.startswith("Convert p") for t in titles), titles
    # a comment the conversion keeps does not stop it
    action = next(a for a in client.code_actions(uri, 3, 2)
                  if a["title"] == "Convert x to dotted form")
    got = apply_text_edits(text, edits_for(action["edit"], uri))
    assert got == text.replace("x = { y /* k */ = 1; };", "x.y /* k */ = 1;")


def test_a_clash_with_an_imported_module_shows_in_the_configuration(
        client: LspClient, tmp_path: Path) -> None:
    module = tmp_path / "c.nix"
    module.write_text("{ ... }:\n{\n  systemd.containers.bar.config = {\n"
                      "    services.openssh.enable = true;\n"
                      "    services.openssh.ports = [ 2023 ];\n  };\n}\n")
    text = ("{ ... }:\n{\n  imports = [ ./c.nix ];\n  systemd.containers.foo.config = {\n"
            "    services.openssh.enable = true;\n    services.openssh.ports = [ 2022 ];\n"
            "  };\n}\n")
    _path, uri = _file(tmp_path, text)
    assert not [d for d in client.open(uri, text)["diagnostics"] if d["code"] == "NG301"]
    # bar's file is opened and changed, unsaved, to foo's port: the configuration sees it
    unsaved = module.read_text().replace("2023", "2022")
    client.open(module.as_uri(), unsaved)
    diags = client.change(uri, 2, [{"text": text}])["diagnostics"]
    (clash,) = [d for d in diags if d["code"] == "NG301"]
    assert f"reported at {module}:5" in clash["message"]
    assert clash["range"]["start"]["line"] == 3  # at foo, the other party, in this buffer
    assert module.read_text().count("2023") == 1  # nothing was written
