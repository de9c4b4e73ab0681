"""End-to-end tests of the container commands through the real ``nixgen`` process."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import nix_parse_ok, run_cli
from container_helpers import CONTAINER_FIXTURES, copy_configuration, ssh_key


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"NIXGEN_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return copy_configuration(tmp_path, "plain")


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    return copy_configuration(tmp_path, "forms")


def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = run_cli(*args, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def parses(path: Path, nix_instantiate: str) -> None:
    ok, err = nix_parse_ok(path.read_bytes(), nix_instantiate)
    assert ok, f"{path}: {err}\n{path.read_text()}"


VARIANTS = [
    pytest.param("legacy", "config", [], id="legacy-config"),
    pytest.param("legacy", "path", [], id="legacy-path"),
    pytest.param("modern", "config", [], id="modern-config"),
    pytest.param("modern", "path", [], id="modern-path"),
    pytest.param(
        "modern",
        "config",
        ["--auto-start", "--private-network", "--host-address", "10.231.136.1",
         "--local-address", "10.231.136.2", "--forward-port", "8080:80",
         "--forward-port", "53/udp", "--bind-mount", "/srv/www:/var/www:ro"],
        id="modern-config-network",
    ),
    pytest.param(
        "modern", "path", ["--auto-start", "--bind-mount", "/srv/data"], id="modern-path-options"
    ),
]


@pytest.mark.parametrize(("dialect", "route", "flags"), VARIANTS)
def test_add_idempotent_remove_roundtrip(
    plain: Path, env: dict[str, str], nix_instantiate: str, dialect: str, route: str,
    flags: list[str],
) -> None:
    original = plain.read_bytes()
    args = ["add-container", "foo", "-f", str(plain), "--port", "2022", "--ssh-key", ssh_key(),
            "--dialect", dialect, "--route", route, *flags]
    code, out, err = cli(*args, env=env)
    assert code == 0, err
    assert "added container foo" in out
    text = plain.read_text()
    parses(plain, nix_instantiate)
    prefix = "systemd.containers.foo" if dialect == "legacy" else "containers.foo"
    assert prefix in text
    container_file = plain.parent / "containers" / "foo.nix"
    if route == "path":
        assert container_file.is_file()
        parses(container_file, nix_instantiate)
        guest = container_file.read_text()
        assert "boot.isContainer = true;" in guest
        assert "services.openssh.ports = [ 2022 ];" in guest
        profile = ("/nix/var/nix/profiles/containers/foo" if dialect == "legacy"
                   else "/nix/var/nix/profiles/per-container/foo/system")
        assert f'"{profile}"' in text
    else:
        assert not container_file.exists()
        assert "services.openssh.ports = [ 2022 ];" in text
    keys_attr = "users.extraUsers.root" if dialect == "legacy" else "users.users.root"
    assert keys_attr in (container_file.read_text() if route == "path" else text)

    # the same command again changes nothing and says so
    after = plain.read_bytes()
    code, out, err = cli(*args, env=env)
    assert code == 0, err
    assert "nothing to change" in out
    assert plain.read_bytes() == after

    # list/show see it as written
    code, out, _ = cli("list-containers", "-f", str(plain), "--json", env=env)
    assert code == 0
    [entry] = json.loads(out)
    assert (entry["name"], entry["dialect"], entry["route"]) == ("foo", dialect, route)
    assert entry["ports"] == [2022]
    assert entry["file"] == str(plain)

    code, out, err = cli("remove-container", "foo", "-f", str(plain), "--delete-file", env=env)
    assert code == 0, err
    assert plain.read_bytes() == original
    assert not container_file.exists()


def test_default_is_legacy_config_block(plain: Path, env: dict[str, str]) -> None:
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022", env=env)
    assert code == 0, err
    assert (
        "  systemd.containers.foo.config = {\n"
        "    services.openssh.enable = true;\n"
        "    services.openssh.ports = [ 2022 ];\n"
        "  };\n"
    ) in plain.read_text()


def test_adding_a_port_appends_to_the_list(plain: Path, env: dict[str, str],
                                           nix_instantiate: str) -> None:
    assert cli("add-container", "foo", "-f", str(plain), "--port", "2022", env=env)[0] == 0
    code, out, err = cli("add-container", "foo", "-f", str(plain), "--port", "2023", env=env)
    assert code == 0, err
    assert "added port 2023" in out
    text = plain.read_text()
    assert "services.openssh.ports = [ 2022 2023 ];" in text
    assert text.count("systemd.containers.foo") == 1
    parses(plain, nix_instantiate)


def test_path_route_port_goes_to_the_container_file(plain: Path, env: dict[str, str]) -> None:
    args = ["add-container", "foo", "-f", str(plain), "--route", "path"]
    assert cli(*args, "--port", "2022", env=env)[0] == 0
    before = plain.read_bytes()
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--port", "2023", env=env)
    assert code == 0, err
    assert plain.read_bytes() == before
    guest = (plain.parent / "containers" / "foo.nix").read_text()
    assert "services.openssh.ports = [ 2022 2023 ];" in guest


def test_remove_keeps_container_file_without_delete_file(plain: Path, env: dict[str, str]) -> None:
    assert cli("add-container", "foo", "-f", str(plain), "--route", "path", env=env)[0] == 0
    code, out, _ = cli("remove-container", "foo", "-f", str(plain), env=env)
    assert code == 0
    assert "--delete-file" in out
    assert (plain.parent / "containers" / "foo.nix").exists()
    code, out, _ = cli("remove-container", "foo", "-f", str(plain), env=env)
    assert code == 0 and "nothing to change" in out


def test_dry_run_shows_diff_and_writes_nothing(plain: Path, env: dict[str, str]) -> None:
    before = plain.read_bytes()
    code, out, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022",
                         "--route", "path", "--dry-run", env=env)
    assert code == 0, err
    assert "+  systemd.containers.foo.path" in out
    assert "+  boot.isContainer = true;" in out
    assert plain.read_bytes() == before
    assert not (plain.parent / "containers").exists()


def test_json_output(plain: Path, env: dict[str, str]) -> None:
    code, out, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022", "--json",
                         env=env)
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is True and result["dialect"] == "legacy"
    assert result["files"] == [{"path": str(plain), "action": "modify"}]
    code, out, _ = cli("add-container", "foo", "-f", str(plain), "--port", "2022", "--json",
                       env=env)
    assert json.loads(out)["changed"] is False
    code, out, _ = cli("add-container", "bar", "-f", str(plain), "--port", "2024", "--json",
                       "--dry-run", env=env)
    result = json.loads(out)
    assert result["dry_run"] is True and "+  systemd.containers.bar.config" in result["diff"]
    assert "bar" not in plain.read_text()


def test_list_containers_every_form(forms: Path, env: dict[str, str]) -> None:
    code, out, err = cli("list-containers", "-f", str(forms), "--json", env=env)
    assert code == 0, err
    entries = json.loads(out)
    static = {e["name"]: e for e in entries if not e["dynamic"]}
    assert set(static) == {"alpha", "beta", "gamma-1", "delta", "web", "db", "epsilon", "app"}
    assert static["web"]["file"].endswith(os.path.join("modules", "web.nix"))
    assert static["web"]["line"] == 4
    assert static["delta"]["conditional"] is True
    dynamic = [e for e in entries if e["dynamic"]]
    assert len(dynamic) == 2 and all(e["line"] > 0 for e in dynamic)
    code, out, _ = cli("list-containers", "-f", str(forms), env=env)
    assert code == 0
    for name in ("alpha", "gamma-1", "epsilon", "(dynamic)", "configuration.nix:14"):
        assert name in out
    assert "notme" not in out and "commented" not in out


def test_show_container(forms: Path, env: dict[str, str]) -> None:
    code, out, _ = cli("show-container", "web", "-f", str(forms), "--json", env=env)
    assert code == 0
    data = json.loads(out)
    assert data["ports"] == [2300] and data["auto_start"] is True
    code, out, _ = cli("show-container", "web", "-f", str(forms), env=env)
    assert code == 0 and "2300" in out and "web.nix:4" in out
    code, _, err = cli("show-container", "nope", "-f", str(forms), env=env)
    assert code == 1 and "no container named nope" in err


def test_show_container_lists_sshd_and_keys(plain: Path, env: dict[str, str]) -> None:
    key = ssh_key()
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022",
                       "--ssh-key", key, env=env)
    assert code == 0, err
    code, out, err = cli("show-container", "foo", "-f", str(plain), env=env)
    assert code == 0, err
    rows = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip()
            for line in out.splitlines() if "  " in line}
    assert rows["sshd"] == "yes"
    kind, data, comment = key.split()
    assert rows["ssh key"].startswith(f"{kind} {data[:12]}") and rows["ssh key"].endswith(comment)


def test_second_add_and_remove_edit_the_imported_file(forms: Path, env: dict[str, str],
                                                       nix_instantiate: str) -> None:
    top = forms.read_bytes()
    web = forms.parent / "modules" / "web.nix"
    web_before = web.read_bytes()
    code, _, err = cli("add-container", "web", "-f", str(forms), "--port", "2301", env=env)
    assert code == 0, err
    assert forms.read_bytes() == top
    assert "[ 2300 2301 ]" in web.read_text()
    code, _, err = cli("remove-container", "web", "-f", str(forms), env=env)
    assert code == 0, err
    assert forms.read_bytes() == top
    assert "containers.web" not in web.read_text()
    parses(web, nix_instantiate)
    assert web.read_bytes() != web_before


def test_remove_under_mkif_and_split_definitions(forms: Path, env: dict[str, str],
                                                 nix_instantiate: str) -> None:
    for name in ("delta", "gamma-1", "beta"):
        code, _, err = cli("remove-container", name, "-f", str(forms), env=env)
        assert code == 0, err
        parses(forms, nix_instantiate)
    code, out, _ = cli("list-containers", "-f", str(forms), "--json", env=env)
    names = {e["name"] for e in json.loads(out)}
    assert not names & {"delta", "gamma-1", "beta"}
    assert "alpha" in names


ERRORS = [
    (["add-container", "1foo"], "invalid container name"),
    (["add-container", "foo_bar"], "invalid container name"),
    (["add-container", "abcdefghijkl", "--dialect", "modern", "--private-network"], "at most 11"),
    (["add-container", "foo", "--port", "0"], "1 to 65535"),
    (["add-container", "foo", "--port", "70000"], "1 to 65535"),
    (["add-container", "foo", "--port", "2022", "--port", "2022"], "given twice"),
    (["add-container", "foo", "--ssh-key", "ssh-rsa nope!"], "not base64"),
    (["add-container", "foo", "--ssh-key", "pgp-key AAAA"], "unknown key type"),
    (["add-container", "foo", "--dialect", "modern", "--private-network",
      "--host-address", "300.1.1.1"], "invalid IP address"),
    (["add-container", "foo", "--dialect", "legacy", "--auto-start"], "modern dialect"),
    (["add-container", "foo", "--port", "22"], "host's sshd"),
    (["add-container", "foo", "--dialect", "modern", "--bind-mount", "relative"],
     "not an absolute path"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_validation_errors(plain: Path, env: dict[str, str], args: list[str],
                           message: str) -> None:
    before = plain.read_bytes()
    code, out, err = cli(*args, "-f", str(plain), env=env)
    assert code == 1, (out, err)
    assert message in err
    assert err.startswith("nixgen: error: ") and err.count("\n") == 1
    assert plain.read_bytes() == before
    assert not (plain.parent / "containers").exists()


def test_usage_errors_exit_2(plain: Path, env: dict[str, str]) -> None:
    before = plain.read_bytes()
    for args in (
        ["add-container", "foo", "--dialect", "modern", "--host-address", "10.0.0.1"],
        ["add-container", "foo", "--route", "sideways"],
        ["add-container", "foo", "--port", "abc"],
        ["add-container"],
    ):
        code, _, _ = cli(*args, "-f", str(plain), env=env)
        assert code == 2, args
    assert plain.read_bytes() == before


def test_conflict_error_names_file_and_line(forms: Path, env: dict[str, str]) -> None:
    before = forms.read_bytes()
    code, _, err = cli("add-container", "alpha", "-f", str(forms), "--dialect", "modern", env=env)
    assert code == 1
    assert f"{forms}:14:" in err and "--replace" in err
    assert forms.read_bytes() == before
    code, _, err = cli("add-container", "alpha", "-f", str(forms), "--dialect", "modern",
                       "--replace", "--port", "2500", env=env)
    assert code == 0, err
    assert "containers.alpha = {" in forms.read_text()


def test_port_clash_names_the_other_container_and_force(forms: Path, env: dict[str, str]) -> None:
    code, _, err = cli("add-container", "new", "-f", str(forms), "--port", "2300", env=env)
    assert code == 1 and "container web" in err and "web.nix:8" in err  # its ports line
    code, _, err = cli("add-container", "new", "-f", str(forms), "--port", "2300", "--force",
                       env=env)
    assert code == 0, err


def test_a_noop_add_leaves_a_one_line_container_alone(tmp_path: Path,
                                                      env: dict[str, str]) -> None:
    config = tmp_path / "hw.nix"
    text = ("{ ... }:\n{\n  systemd.containers.db.config = "
            "{ services.openssh = { enable = true; ports = [ 2030 ]; }; };\n}\n")
    config.write_text(text)
    for _ in range(2):
        code, out, err = cli("add-container", "db", "--port", "2030", "-f", str(config), env=env)
        assert code == 0, err
        assert "nothing to change" in out and "updated" not in out
        assert config.read_bytes() == text.encode()


def test_unreadable_host_sshd_ports_are_not_port_22(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "p.nix"
    config.write_text("{ config, lib, ... }:\n{\n"
                      "  services.openssh = { ports = config.sshPorts; enable = true; };\n}\n")
    code, out, err = cli("add-container", "foo", "--port", "22", "-f", str(config), "--dry-run",
                         "-v", env=env)
    assert code == 0, err
    assert "already used" not in err
    assert f"{config}:3" in err and "not checked" in err
    assert err.count("not checked") == 1  # said once, not again among the -v notes
    code, out, err = cli("add-container", "foo", "--port", "22", "-f", str(config), "--dry-run",
                         env=env)
    assert code == 0, err
    (warning,) = [line for line in err.splitlines() if "not checked" in line]
    assert warning.startswith("nixgen: warning: ") and f"{config}:3" in warning
    code, out, err = cli("add-container", "foo", "--port", "22", "-f", str(config), "--json",
                         "--dry-run", env=env)
    assert code == 0, err
    (warning,) = json.loads(out)["warnings"]
    assert f"{config}:3" in warning
    let = tmp_path / "let.nix"
    let.write_text("{ config, lib, ... }:\nlet ports = [ 2022 ]; in\n{\n"
                   "  services.openssh = { inherit ports; enable = true; };\n}\n")
    code, _, err = cli("add-container", "foo", "--port", "2022", "-f", str(let), env=env)
    assert code == 1 and f"{let}:4" in err and "host's sshd" in err
    code, _, err = cli("add-container", "foo", "--port", "22", "-f", str(let), "--dry-run",
                       env=env)
    assert code == 0, err


def test_file_errors(tmp_path: Path, env: dict[str, str]) -> None:
    code, _, err = cli("add-container", "foo", "-f", str(tmp_path / "missing.nix"), env=env)
    assert code == 1 and "no such file" in err
    broken = tmp_path / "broken.nix"
    broken.write_text("{ a = ; }\n")
    code, _, err = cli("list-containers", "-f", str(broken), env=env)
    assert code == 1 and "broken.nix:1:" in err
    listy = tmp_path / "list.nix"
    listy.write_text("[ ]\n")
    code, _, err = cli("add-container", "foo", "-f", str(listy), env=env)
    assert code == 1 and "not an attribute set" in err
    assert listy.read_text() == "[ ]\n"
    binary = tmp_path / "bin.nix"
    binary.write_bytes(b"{ \0 }")
    code, _, err = cli("add-container", "foo", "-f", str(binary), env=env)
    assert code == 1 and err.count("\n") == 1
    code, _, err = cli("list-containers", "-f", str(tmp_path), env=env)
    assert code == 1 and "directory" in err and err.count("\n") == 1
    latin = tmp_path / "latin1.nix"
    latin.write_bytes(b"{ x = \"caf\xe9\"; }\n")
    code, _, err = cli("add-container", "foo", "-f", str(latin), env=env)
    assert code == 1 and err.count("\n") == 1
    assert latin.read_bytes() == b"{ x = \"caf\xe9\"; }\n"


def test_read_only_file(plain: Path, env: dict[str, str]) -> None:
    plain.chmod(0o444)
    before = plain.read_bytes()
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022", env=env)
    assert code == 1, err
    assert "read-only" in err and err.count("\n") == 1
    assert plain.read_bytes() == before
    assert stat.S_IMODE(plain.stat().st_mode) == 0o444


def test_symlinked_configuration(tmp_path: Path, env: dict[str, str],
                                 nix_instantiate: str) -> None:
    shutil.copytree(CONTAINER_FIXTURES / "forms", tmp_path / "real")
    link_dir = tmp_path / "etc"
    link_dir.mkdir()
    link = link_dir / "configuration.nix"
    link.symlink_to(tmp_path / "real" / "configuration.nix")
    code, out, err = cli("list-containers", "-f", str(link), "--json", env=env)
    assert code == 0, err
    assert "web" in {e["name"] for e in json.loads(out)}
    code, _, err = cli("add-container", "zeta", "-f", str(link), "--port", "2999", env=env)
    assert code == 0, err
    assert link.is_symlink()
    assert "containers.zeta" in (tmp_path / "real" / "configuration.nix").read_text()
    parses(link, nix_instantiate)


def test_undo_restores_after_add(plain: Path, env: dict[str, str]) -> None:
    before = plain.read_bytes()
    assert cli("add-container", "foo", "-f", str(plain), "--route", "path", env=env)[0] == 0
    code, _, err = cli("undo", "-f", str(plain), env=env)
    assert code == 0, err
    assert plain.read_bytes() == before
    assert not (plain.parent / "containers" / "foo.nix").exists()


def test_undo_after_a_port_added_to_a_container_file(plain: Path, env: dict[str, str]) -> None:
    guest = plain.parent / "containers" / "db.nix"
    for args in (("db", "--route", "path", "--port", "2024"),
                 ("web", "--route", "path", "--port", "2030"),
                 ("db", "--port", "2025")):
        code, _, err = cli("add-container", *args, "-f", str(plain), env=env)
        assert code == 0, err
    with_web = plain.read_bytes()
    assert "2025" in guest.read_text()
    code, _, err = cli("undo", "-f", str(plain), env=env)
    assert code == 0, err
    assert "2025" not in guest.read_text() and "2024" in guest.read_text()
    assert plain.read_bytes() == with_web  # web is still there


def test_ssh_key_file(plain: Path, tmp_path: Path, env: dict[str, str]) -> None:
    keys = tmp_path / "keys.pub"
    keys.write_text(f"# admins\n{ssh_key()}\n\n{ssh_key('ssh-rsa', 'b@x')}\n")
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--ssh-key-file", str(keys),
                       "--dialect", "modern", "--private-network", env=env)
    assert code == 0, err
    text = plain.read_text()
    assert "users.users.root.openssh.authorizedKeys.keys" in text
    assert "b@x" in text and "me@host" in text
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-ed25519 AAAA\n")
    code, _, err = cli("add-container", "bar", "-f", str(plain), "--ssh-key-file", str(bad),
                       env=env)
    assert code == 1 and "bad.pub:1:" in err


def test_auto_dialect_follows_the_file(forms: Path, plain: Path, env: dict[str, str]) -> None:
    # forms uses both; most definitions are modern
    code, out, err = cli("add-container", "n1", "-f", str(forms), "--port", "2600", "--json",
                         "--verbose", env=env)
    assert code == 0, err
    assert json.loads(out)["dialect"] == "modern"
    assert "note: dialect modern" in err
    code, out, _ = cli("add-container", "n1", "-f", str(plain), "--json", env=env)
    assert json.loads(out)["dialect"] == "legacy"


def test_sshd_on_default_port_clashes_with_host(plain: Path, env: dict[str, str]) -> None:
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--ssh-key", ssh_key(), env=env)
    assert code == 1 and "port 22" in err and "host's sshd" in err


def test_existing_container_file_is_not_overwritten(plain: Path, env: dict[str, str]) -> None:
    guest = plain.parent / "containers" / "foo.nix"
    guest.parent.mkdir()
    guest.write_text("{ ... }: { boot.isContainer = true; }\n")
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--route", "path", env=env)
    assert code == 1 and "already exists" in err and "--replace" in err
    assert guest.read_text() == "{ ... }: { boot.isContainer = true; }\n"
    code, _, err = cli("add-container", "foo", "-f", str(plain), "--route", "path", "--replace",
                       "--port", "2022", env=env)
    assert code == 0, err
    assert "services.openssh.ports = [ 2022 ];" in guest.read_text()


HOST = """{ config, ... }:
{
  networking.hostName = "host";
  services.openssh.enable = true;
  system.stateVersion = "22.05";
}
"""

EVAL = """{ nixos, cfg }:
let
  host = (import nixos { configuration = cfg; }).config;
  guest = c: (import nixos { configuration = c; }).config;
  legacy = host.systemd.containers;
  modern = host.containers;
in {
  legacyPorts = (guest legacy.lc.config).services.openssh.ports;
  modernPorts = (guest modern.mc.config).services.openssh.ports;
  modernState = (guest modern.mc.config).system.stateVersion;
  modern = { inherit (modern.mc) autoStart privateNetwork hostAddress localAddress
    forwardPorts bindMounts; };
  legacyPath = legacy.lp.path;
  modernPath = modern.mp.path;
  pathGuest = guest cfg_lp;
}
"""


def test_written_containers_evaluate_in_the_stand_in_nixos(
    tmp_path: Path, env: dict[str, str], nix_instantiate: str
) -> None:
    import subprocess

    from conftest import NIX_OFFLINE, STAND_IN_NIXOS

    cfg = tmp_path / "host" / "configuration.nix"
    cfg.parent.mkdir()
    cfg.write_text(HOST)
    runs = [
        ["lc", "--dialect", "legacy", "--port", "2022"],
        ["mc", "--dialect", "modern", "--port", "2023", "--auto-start", "--private-network",
         "--host-address", "10.1.0.1", "--local-address", "10.1.0.2",
         "--forward-port", "8080:80", "--bind-mount", "/srv:/data:rw"],
        ["lp", "--dialect", "legacy", "--route", "path", "--port", "2024"],
        ["mp", "--dialect", "modern", "--route", "path", "--port", "2025"],
    ]
    for args in runs:
        code, _, err = cli("add-container", args[0], "-f", str(cfg), *args[1:], env=env)
        assert code == 0, err
    expr = EVAL.replace("cfg_lp", str(cfg.parent / "containers" / "lp.nix"))
    (tmp_path / "eval.nix").write_text(expr)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(tmp_path / "eval.nix"),
         "--arg", "nixos", str(STAND_IN_NIXOS), "--arg", "cfg", str(cfg)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["legacyPorts"] == [2022]
    assert result["modernPorts"] == [2023]
    assert result["modernState"] == "22.05"
    assert result["modern"] == {
        "autoStart": True, "privateNetwork": True, "hostAddress": "10.1.0.1",
        "localAddress": "10.1.0.2",
        "forwardPorts": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "bindMounts": {"/data": {"hostPath": "/srv", "isReadOnly": False}},
    }
    assert result["legacyPath"] == "/nix/var/nix/profiles/containers/lp"
    assert result["modernPath"] == "/nix/var/nix/profiles/per-container/mp/system"
    assert result["pathGuest"]["boot"]["isContainer"] is True
    assert result["pathGuest"]["services"]["openssh"]["ports"] == [2024]


@pytest.mark.parametrize(("dialect", "route"), [("legacy", "path"), ("modern", "config")])
def test_roundtrip_on_a_file_with_containers(forms: Path, env: dict[str, str], dialect: str,
                                             route: str, nix_instantiate: str) -> None:
    before = forms.read_bytes()
    code, _, err = cli("add-container", "zz", "-f", str(forms), "--port", "2999",
                       "--dialect", dialect, "--route", route, env=env)
    assert code == 0, err
    parses(forms, nix_instantiate)
    code, _, err = cli("remove-container", "zz", "--delete-file", "-f", str(forms), env=env)
    assert code == 0, err
    assert forms.read_bytes() == before


def test_auto_dialect_asks_the_nixos_when_given(plain: Path, tmp_path: Path,
                                                env: dict[str, str], nix_instantiate: str) -> None:
    env = {**env, "NIXGEN_CACHE_DIR": str(tmp_path / "cache")}
    nixos = CONTAINER_FIXTURES / "nixos-modern"
    code, out, err = cli("add-container", "foo", "-f", str(plain), "--port", "2022", "--json",
                         "--verbose", "--nixos", str(nixos), env=env)
    assert code == 0, err
    assert json.loads(out)["dialect"] == "modern"
    assert "note: dialect modern: the NixOS consulted declares only containers.<name>" in err
    assert "containers.foo = {" in plain.read_text()


def modern_only_nixos(tmp_path: Path) -> Path:
    """A copy of the stand-in NixOS that declares only the modern ``containers`` option."""
    from conftest import STAND_IN_NIXOS

    copy = tmp_path / "modern-only"
    shutil.copytree(STAND_IN_NIXOS, copy)
    modules = copy / "modules.nix"
    lines = modules.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("    systemd.containers = ")]
    assert len(kept) == len(lines) - 1
    modules.write_text("".join(kept))
    return copy


def test_auto_dialect_asks_the_nixos_on_the_search_path(plain: Path, tmp_path: Path,
                                                        env: dict[str, str],
                                                        nix_instantiate: str) -> None:
    nixos = modern_only_nixos(tmp_path)
    env = {**env, "NIXGEN_CACHE_DIR": str(tmp_path / "cache"), "NIX_PATH": f"nixos={nixos}"}
    code, out, err = cli("add-container", "q", "-f", str(plain), "--port", "3001", "--json",
                         "--verbose", "--dry-run", env=env)
    assert code == 0, err
    assert json.loads(out)["dialect"] == "modern"
    assert "note: dialect modern: the NixOS consulted declares only containers.<name>" in err
    assert "the NixOS at <nixos> declares containers" in err
    # The same through -I (repeatable), with nothing on NIX_PATH.
    env = {**env, "NIX_PATH": ""}
    code, out, err = cli("add-container", "q", "-f", str(plain), "--port", "3001", "--verbose",
                         "-I", "unused=/nonexistent", "-I", f"nixos={nixos}", env=env)
    assert code == 0, err
    assert "containers.q = {" in plain.read_text() and "systemd.containers" not in plain.read_text()


def test_auto_dialect_falls_back_when_no_nixos_answers(plain: Path, tmp_path: Path,
                                                       env: dict[str, str],
                                                       nix_instantiate: str) -> None:
    cache = tmp_path / "cache"
    env = {**env, "NIXGEN_CACHE_DIR": str(cache), "NIX_PATH": ""}
    for _ in range(2):  # the second answer comes from the cache, and says the same
        code, out, err = cli("add-container", "q", "-f", str(plain), "--port", "3001", "--json",
                             "--verbose", "--dry-run", "--nixos", str(tmp_path / "nonexistent"),
                             env=env)
        assert code == 0, err
        assert json.loads(out)["dialect"] == "legacy"
        assert "note: dialect legacy: nothing in the configuration names a dialect" in err
        assert "NixOS not consulted, the file-based rule decided" in err
        assert "NixOS not found at" in err
    code, out, err = cli("add-container", "q", "-f", str(plain), "--port", "3001", "--verbose",
                         "--dry-run", env=env)
    assert code == 0, err
    assert "cannot find NixOS on the Nix search path" in err
    assert len(json.loads((cache / "detect.json").read_text())) == 2
    # Once <nixos> resolves, the cached "not found" no longer applies.
    nixos = modern_only_nixos(tmp_path)
    code, out, err = cli("add-container", "q", "-f", str(plain), "--port", "3001", "--json",
                         "--dry-run", env={**env, "NIX_PATH": f"nixos={nixos}"})
    assert code == 0, err
    assert json.loads(out)["dialect"] == "modern"


def test_a_configuration_that_names_a_dialect_does_not_ask_nixos(forms: Path, tmp_path: Path,
                                                                  env: dict[str, str]) -> None:
    cache = tmp_path / "cache"
    env = {**env, "NIXGEN_CACHE_DIR": str(cache), "NIX_PATH": f"nixos={tmp_path / 'none'}"}
    code, _, err = cli("add-container", "q", "-f", str(forms), "--port", "3001", "--verbose",
                       "--dry-run", env=env)
    assert code == 0, err
    assert "NixOS" not in err and not cache.exists()


@pytest.mark.parametrize("written", ["ports = ports", "inherit ports"])
def test_add_container_with_ports_from_a_let(tmp_path: Path, env: dict[str, str],
                                             written: str) -> None:
    text = ("{ config, lib, pkgs, ... }:\nlet ports = [ 2022 ]; in\n{\n"
            "  systemd.containers.b.config = { services.openssh = "
            f"{{ enable = true; {written}; }}; }};\n}}\n")
    path = tmp_path / "cur.nix"
    path.write_text(text)
    code, out, err = cli("add-container", "b", "--port", "2022", "-f", str(path), env=env)
    assert code == 0 and "nothing to change" in out, err
    assert path.read_text() == text
    code, out, err = cli("add-container", "b", "--port", "2023", "-f", str(path), env=env)
    line = text.splitlines()[3]
    col = line.index("ports", line.index("enable")) + 1
    assert code != 0 and f"{path}:4:{col}:" in err and "line 2" in err
    assert path.read_text() == text


# --- show/list report what the files say, compared with what the stand-in NixOS evaluates ------

READ_BACK = """{ lib, ... }:
let
  sshPort = 2024;
  addr = "10.233.7.1";
  guest = { services.openssh.enable = true; services.openssh.ports = [ 2030 ]; };
  hostSide = { autoStart = true; config = { }; };
in
{
  containers.a.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ sshPort 2023 2022 ];
  };
  containers.h = { config = guest; privateNetwork = true; hostAddress = addr; };
  containers.g = hostSide;
  containers.f.config = { pkgs, ... }: let p = 2200; in {
    services.openssh.enable = true;
    services.openssh.ports = [ p ];
  };
  containers.d.config = { services.openssh.enable = true; };
  containers.u.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ 2040 (2000 + 41) ];
  };
  containers.m = {
    autoStart = lib.mkIf false true;
    privateNetwork = lib.mkDefault true;
    config = { services.openssh.enable = lib.mkIf false true; };
  };
}
"""

READ_BACK_EVAL = """{ nixos, cfg }:
let
  host = (import nixos { configuration = cfg; }).config;
  guest = c: (import nixos { configuration = c; }).config;
in builtins.mapAttrs (name: c: {
  inherit (c) autoStart privateNetwork hostAddress;
  inherit ((guest c.config).services.openssh) enable ports;
}) host.containers
"""


def _evaluated(tmp_path: Path, cfg: Path, nix_instantiate: str) -> dict[str, Any]:
    import subprocess

    from conftest import NIX_OFFLINE, STAND_IN_NIXOS

    expr = tmp_path / "read_back_eval.nix"
    expr.write_text(READ_BACK_EVAL)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(expr),
         "--arg", "nixos", str(STAND_IN_NIXOS), "--arg", "cfg", str(cfg)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_list_json_agrees_with_the_stand_in_nixos(
    tmp_path: Path, env: dict[str, str], nix_instantiate: str
) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text(READ_BACK)
    evaluated = _evaluated(tmp_path, cfg, nix_instantiate)
    code, out, err = cli("list-containers", "-f", str(cfg), "--json", env=env)
    assert code == 0, err
    listed = {c["name"]: c for c in json.loads(out)}
    assert set(listed) == set(evaluated)
    # literals (let-bound variables followed, module functions read) are the evaluated values
    for name in ("a", "h", "f"):
        assert listed[name]["ports"] == evaluated[name]["ports"], name
        assert listed[name]["ssh_enabled"] is evaluated[name]["enable"] is True, name
    assert listed["h"]["host_address"] == evaluated["h"]["hostAddress"]
    assert listed["h"]["private_network"] is evaluated["h"]["privateNetwork"] is True
    assert listed["g"]["auto_start"] is evaluated["g"]["autoStart"] is True
    assert listed["g"]["route"] == "config"
    # sshd without ports listens on the default port
    assert listed["d"]["ports"] == []
    assert listed["d"]["sshd_ports"] == evaluated["d"]["ports"] == [22]
    assert listed["d"]["ports_default"] is True
    # a port that is not a literal is named, not dropped silently nor guessed
    assert listed["u"]["ports"] == [2040]
    assert listed["u"]["unreadable"] == {"ports": ["(2000 + 41)"]}
    assert evaluated["u"]["ports"] == [2040, 2041]
    for name, c in listed.items():
        assert set(c["ports"]) <= set(evaluated[name]["ports"]), name
        unread = len(c["unreadable"].get("ports", []))
        if evaluated[name]["enable"] and not c["ports_default"]:
            assert len(c["ports"]) + unread == len(evaluated[name]["ports"]), name
    # a value that differs from the evaluated one is marked with the wrapper that explains it
    m = listed["m"]
    assert (m["auto_start"], evaluated["m"]["autoStart"]) == (True, False)
    assert (m["ssh_enabled"], evaluated["m"]["enable"]) == (True, False)
    assert m["wrappers"] == {"auto_start": ["mkIf"], "private_network": ["mkDefault"],
                             "ssh_enabled": ["mkIf"]}
    assert m["conditional"] is False  # the container itself is not under mkIf
    for name in ("a", "h", "g", "f", "d", "u"):
        assert listed[name]["wrappers"] == {} and listed[name]["conditional"] is False


def _rows(out: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("  ")
        rows.setdefault(key.strip(), value.strip())
    return rows


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a", {"ports": "2024, 2023, 2022", "sshd": "yes"}),
        ("h", {"ports": "2030", "sshd": "yes", "host address": "10.233.7.1",
               "private network": "yes"}),
        ("g", {"autostart": "yes", "route": "config", "sshd": "-"}),
        ("f", {"ports": "2200", "sshd": "yes"}),
        ("d", {"ports": "22 (default)", "sshd": "yes"}),
        ("u", {"ports": "2040, (not a literal: (2000 + 41))"}),
        ("m", {"autostart": "yes (under mkIf)", "private network": "yes (mkDefault)",
               "sshd": "yes (under mkIf)", "ports": "22 (default)"}),
    ],
)
def test_show_text_reports_literals_defaults_and_wrappers(
    tmp_path: Path, env: dict[str, str], name: str, expected: dict[str, str]
) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text(READ_BACK)
    code, out, err = cli("show-container", name, "-f", str(cfg), env=env)
    assert code == 0, err
    rows = _rows(out)
    for key, value in expected.items():
        assert rows.get(key) == value, (key, out)


def test_values_that_are_not_literals_are_marked(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text(
        "{ config, mkC, ... }:\n{\n"
        "  containers.u = { config = config.guestCfg; autoStart = config.x;\n"
        "    hostAddress = config.addr; };\n"
        "  containers.v = mkC 1;\n"
        "}\n"
    )
    code, out, err = cli("show-container", "u", "-f", str(cfg), env=env)
    assert code == 0, err
    rows = _rows(out)
    assert rows["ports"] == rows["sshd"] == "(not a literal: config.guestCfg)"
    assert rows["autostart"] == "(not a literal: config.x)"
    assert rows["host address"] == "(not a literal: config.addr)"
    assert rows["private network"] == "-"  # not set at all
    code, out, err = cli("list-containers", "-f", str(cfg), "--json", env=env)
    assert code == 0, err
    listed = {c["name"]: c for c in json.loads(out)}
    u, v = listed["u"], listed["v"]
    assert (u["auto_start"], u["ssh_enabled"], u["ports"], u["host_address"]) == \
        (None, None, [], None)
    assert u["unreadable"]["auto_start"] == ["config.x"]
    assert u["unreadable"]["ssh_enabled"] == u["unreadable"]["ports"] == ["config.guestCfg"]
    assert "private_network" not in u["unreadable"]
    assert v["route"] == "unknown"
    for key in ("auto_start", "private_network", "ssh_enabled", "ports"):
        assert v["unreadable"][key] == ["mkC 1"], key
    code, out, _ = cli("show-container", "--help", env=env)
    assert code == 0 and "not a literal" in out and "unreadable" in out
