"""``nixgen build``, ``generations`` and ``rollback`` through the real command line and real Nix."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, STAND_IN_NIXOS, run_cli

pytestmark = pytest.mark.nix

OFFLINE = ("--option", "substituters", "")

HOST = """{ pkgs, ... }:
{
  networking.hostName = "clihost";
  environment.systemPackages = [ pkgs.git ];
  systemd.containers.foo.config = { services.openssh.enable = true; };
  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";
}
"""


@pytest.fixture
def host(tmp_path: Path, nix_tools) -> tuple[Path, Path]:
    config = tmp_path / "configuration.nix"
    config.write_text(HOST)
    (tmp_path / "containers").mkdir()
    (tmp_path / "containers" / "bar.nix").write_text("{ boot.isContainer = true; }\n")
    return config, tmp_path / "profiles"


def _build(config: Path, profiles: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("build", "-f", str(config), "--nixos", str(STAND_IN_NIXOS),
                   "--profile-dir", str(profiles), *OFFLINE, *extra)


def test_build_json_then_noop(host) -> None:
    config, profiles = host
    proc = _build(config, profiles, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {i["name"]: i["status"] for i in data["items"]} == {
        "host": "new", "bar": "new", "foo": "new"}
    assert data["profiles_set"] == [str(profiles / "containers" / "bar"), str(profiles / "system")]
    assert os.readlink(profiles / "system") == "system-1-link"
    again = _build(config, profiles)
    assert again.returncode == 0, again.stderr
    assert "Nothing to build" in again.stdout and "unchanged" in again.stdout
    assert os.readlink(profiles / "system") == "system-1-link"


def test_plan_table_and_progress_lines(host) -> None:
    config, profiles = host
    proc = _build(config, profiles)
    assert proc.returncode == 0, proc.stderr
    assert "Plan for" in proc.stdout
    assert "container-foo.service" in proc.stdout
    assert f"set {profiles / 'system'}" in proc.stdout
    assert "nixgen: evaluate:" in proc.stderr and "nixgen: done:" in proc.stderr


def test_dry_run_prints_exact_commands_and_runs_nothing(host) -> None:
    config, profiles = host
    config.write_text(HOST.replace("clihost", "dry" + uuid.uuid4().hex[:12]))
    proc = _build(config, profiles, "--dry-run", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    commands = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  nix-")]
    assert [shlex.split(c)[0] for c in commands] == ["nix-instantiate", "nix-store", "nix-env",
                                                       "nix-env"]
    realise = shlex.split(commands[1])
    assert realise[:4] == ["nix-store", "--option", "substituters", ""]
    assert "--max-jobs" in realise and all(Path(d).suffix == ".drv" for d in realise[5:-2])
    assert not profiles.exists()
    host_drv = next(d for d in realise if "-nixos-system-dry" in d)
    assert not Path(host_drv).exists()


def test_only_and_generations_and_rollback(host) -> None:
    config, profiles = host
    assert _build(config, profiles, "--only", "host").returncode == 0
    assert not (profiles / "containers").exists()
    config.write_text(HOST.replace("clihost", "clihost2"))
    assert _build(config, profiles).returncode == 0
    gens = run_cli("generations", "-f", str(config), "--profile-dir", str(profiles), "--json")
    assert gens.returncode == 0, gens.stderr
    assert [g["number"] for g in json.loads(gens.stdout)["generations"]] == [1, 2]
    back = run_cli("rollback", "host", "-f", str(config), "--profile-dir", str(profiles))
    assert back.returncode == 0, back.stderr
    assert os.readlink(profiles / "system") == "system-1-link"
    assert "clihost-stand-in" in back.stdout
    bar = run_cli("generations", "bar", "-f", str(config), "--profile-dir", str(profiles))
    assert bar.returncode == 0, bar.stderr
    assert "containers/bar" in bar.stdout


def test_usage_errors_exit_2(host) -> None:
    config, profiles = host
    proc = _build(config, profiles, "--only", "nope")
    assert proc.returncode == 2 and "--only nope" in proc.stderr
    bad = run_cli("build", "-f", str(config), "--option", "substituters")
    assert bad.returncode == 2 and "NAME and a VALUE" in bad.stderr


def test_evaluation_error_is_one_line_with_file_and_line(host) -> None:
    config, profiles = host
    config.write_text("{ pkgs, ... }:\n{\n  environment.systemPackages = [ pkgs.nope ];\n}\n")
    proc = _build(config, profiles)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1].startswith("nixgen: error: ") and "Traceback" not in proc.stderr
    assert f"{config}:3" in proc.stderr
    assert not profiles.exists()


def test_build_failure_shows_the_log(host) -> None:
    config, profiles = host
    config.write_text("""{ ... }: { environment.systemPackages = [ (derivation {
  name = "cli-broken"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "echo cli-build-log-marker >&2; exit 1" ]; }) ]; }
""")
    proc = _build(config, profiles)
    assert proc.returncode == 1
    assert "building host failed" in proc.stderr and "cli-build-log-marker" in proc.stderr
    assert not profiles.exists()


def test_missing_nix_says_how_to_install(host, tmp_path: Path) -> None:
    config, profiles = host
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = run_cli(
        "build", "-f", str(config), "--nixos", str(STAND_IN_NIXOS),
        "--profile-dir", str(profiles), *OFFLINE, env={"PATH": str(empty)})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("nixgen: error: ") and "Traceback" not in proc.stderr
    assert "install" in proc.stderr.lower()


def test_nixos_not_found_names_the_search_path_flag(host) -> None:
    config, profiles = host
    proc = run_cli("build", "-f", str(config), "--profile-dir", str(profiles), *OFFLINE,
                   env={"NIX_PATH": ""})
    assert proc.returncode == 1, proc.stderr
    assert "-I" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_demo_script_builds_both_containers(nix_tools) -> None:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "added container foo" in proc.stdout and "added container bar" in proc.stdout
    assert "container-foo.service" in proc.stdout and "container-bar.service" in proc.stdout
    assert "bar -> bar-1-link" in proc.stdout and "system -> system-1-link" in proc.stdout


BROKEN_HOST = HOST.replace("pkgs.git", """pkgs.git (derivation {
    name = "cli-broken-%s"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "echo keep-going-marker >&2; exit 3" ]; })""")


def test_keep_going_json_reports_failures_and_profiles_set(host) -> None:
    config, profiles = host
    config.write_text(BROKEN_HOST % uuid.uuid4().hex[:8])
    first = _build(config, profiles, "--keep-going", "--json")
    assert first.returncode == 1, first.stderr
    data = json.loads(first.stdout)
    assert list(data["failed"]) == ["host"]
    assert data["profiles_set"] == [str(profiles / "containers" / "bar")]
    assert "nixgen: error: host: building host failed" in first.stderr
    # Only the failing host is left to build: the document still comes out.
    again = _build(config, profiles, "--keep-going", "--json")
    assert again.returncode == 1, again.stderr
    data = json.loads(again.stdout)
    assert list(data["failed"]) == ["host"] and data["profiles_set"] == []
    assert "keep-going-marker" in data["failed"]["host"]
    assert "building host failed" in again.stderr and "Traceback" not in again.stderr
    assert not (profiles / "system").exists()


@pytest.mark.parametrize("command", ["generations", "rollback"])
def test_missing_profile_error_names_the_path_once(host, command: str) -> None:
    config, profiles = host
    proc = run_cli(command, "-f", str(config), "--profile-dir", str(profiles))
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("nixgen: error: ")
    assert proc.stderr.count(str(profiles / "system")) == 1


def test_only_unknown_name_is_a_usage_error_before_any_evaluation(host) -> None:
    config, profiles = host
    config.write_text(HOST.replace("systemd.containers.bar", "systemd.containers.baz.path = "
                                   '"/nix/var/nix/profiles/containers/baz";\n  systemd.containers.bar'))
    (config.parent / "containers" / "baz.nix").write_text("{ boot.isContainer = x; }\n")
    proc = _build(config, profiles, "--only", "nope")
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "undefined variable" not in proc.stderr
    assert "--only nope" in proc.stderr and "known: bar, baz, host" in proc.stderr
    config_route = _build(config, profiles, "--only", "foo")
    assert config_route.returncode == 2, config_route.stderr
    assert len(config_route.stderr.splitlines()) == 1 and "--only host" in config_route.stderr


MODERN = """{ ... }:
{
  containers.web-frontend-with-a-long-name.path =
    "/nix/var/nix/profiles/per-container/web-frontend-with-a-long-name/system";
  containers.api-backend-with-a-long-name.config = { services.openssh.ports = [ 2031 ]; };
}
"""


def test_piped_plan_is_never_cut(tmp_path: Path, nix_tools) -> None:
    config, profiles = tmp_path / "configuration.nix", tmp_path / "profiles"
    web = "web-frontend-with-a-long-name"
    (tmp_path / "containers").mkdir()
    config.write_text(MODERN)
    (tmp_path / "containers" / f"{web}.nix").write_text("{ networking.hostName = \"w1\"; }\n")
    assert _build(config, profiles).returncode == 0
    config.write_text(MODERN.replace("2031", "2041"))
    (tmp_path / "containers" / f"{web}.nix").write_text("{ networking.hostName = \"w2\"; }\n")
    items = {i["name"]: i for i in json.loads(_build(config, profiles, "--dry-run", "--json").stdout)["items"]}
    # No COLUMNS: rich would lay a table out for 80 columns, as in CI or a pipe.
    proc = run_cli("build", "-f", str(config), "--nixos", str(STAND_IN_NIXOS), "--profile-dir",
                   str(profiles), *OFFLINE, "--dry-run", env={"COLUMNS": ""})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for name, route, profile in [
        ("host", "host", "system"),
        (web, "path/modern", f"per-container/{web}/system"),
        ("api-backend-with-a-long-name", "config/modern", "(in the host)"),
    ]:
        item = items[name]
        assert item["status"] == "changed"
        change = f"{item['current'][11:19]} -> {item['new'][11:19]}"
        row = next((ln for ln in lines if ln.split()[:1] == [name]), None)
        assert row is not None, proc.stdout
        assert row.split() == [name, route, "changed", *profile.split(), *change.split()], row


def test_profile_pointing_at_a_collected_path_is_changed(host) -> None:
    config, profiles = host
    gone = "/nix/store/" + "0" * 32 + "-nixos-system-collected"
    profiles.mkdir()
    (profiles / "system-1-link").symlink_to(gone)
    (profiles / "system").symlink_to("system-1-link")
    plan = _build(config, profiles, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    row = next(ln for ln in plan.stdout.splitlines() if ln.startswith("host "))
    assert row.split()[:3] == ["host", "host", "changed"] and "00000000 (gone) -> " in row, row
    proc = _build(config, profiles, "--json")
    assert proc.returncode == 0, proc.stderr
    host_item = json.loads(proc.stdout)["items"][0]
    assert host_item["status"] == "changed" and host_item["current"] == gone
    assert host_item["current_gone"] is True
    assert os.readlink(profiles / "system") == "system-2-link"


def test_restart_note_is_qualified_when_the_host_is_not_selected(host) -> None:
    config, profiles = host
    assert _build(config, profiles).returncode == 0
    config.write_text(HOST.replace("openssh.enable = true;", "openssh.enable = true; a = 1;"))
    (config.parent / "containers" / "bar.nix").write_text("{ networking.hostName = \"b2\"; }\n")
    only_bar = _build(config, profiles, "--only", "bar", "--dry-run")
    assert only_bar.returncode == 0, only_bar.stderr
    assert "foo: when the host is next built, switching it restarts container-foo.service" in (
        only_bar.stdout)
    assert "switching the host restarts" not in only_bar.stdout
    only_host = _build(config, profiles, "--only", "host", "--dry-run")
    assert only_host.returncode == 0, only_host.stderr
    foo = next(ln for ln in only_host.stdout.splitlines() if ln.startswith("foo "))
    assert foo.split()[:3] == ["foo", "config/legacy", "changed"], foo
    assert "foo: switching the host restarts container-foo.service" in only_host.stdout
    assert "bar: once built, restart container-bar.service" in only_host.stdout


def test_missing_configuration_is_named_once(tmp_path: Path) -> None:
    missing = tmp_path / "configuration.nix"
    proc = run_cli("build", "-f", str(missing), "--profile-dir", str(tmp_path / "p"), *OFFLINE)
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.count(str(missing)) == 1
    assert "-f FILE" in proc.stderr


def test_unusable_profile_dir_is_one_line_before_anything_is_built(host, tmp_path: Path) -> None:
    config, _ = host
    config.write_text(HOST.replace("clihost", "pd" + uuid.uuid4().hex[:12]))
    afile = tmp_path / "afile"
    afile.write_text("")
    proc = _build(config, afile)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("nixgen: error: ")]
    assert errors == [f"nixgen: error: {afile / 'containers'}: cannot create the profile "
                      f"folder: {os.strerror(20)}"]
    assert "nixgen: build:" not in proc.stderr
    good = _build(config, tmp_path / "p", "--dry-run", "--json")
    assert not Path(json.loads(good.stdout)["items"][0]["new"]).exists()


def test_json_failure_still_prints_one_json_object(host) -> None:
    config, profiles = host
    config.write_text("{ pkgs, ... }:\n{\n  environment.systemPackages = [ pkgs.nope ];\n}\n")
    proc = _build(config, profiles, "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False and f"{config}:3" in data["error"]
    assert proc.stderr.splitlines()[-1] == f"nixgen: error: {data['error']}"
    config.write_text(BROKEN_HOST % uuid.uuid4().hex[:8])
    failed = _build(config, profiles, "--json")
    assert failed.returncode == 1, failed.stderr
    data = json.loads(failed.stdout)
    assert data["ok"] is False and data["error"].startswith("building host failed")
    assert list(data["failed"]) == ["host"] and data["profiles_set"] == []
    assert {i["name"] for i in data["items"]} == {"host", "bar", "foo"}
    assert "nixgen: error: building host failed" in failed.stderr
    ok = _build(config.with_name("missing.nix"), profiles, "--json")
    assert ok.returncode == 1 and json.loads(ok.stdout)["ok"] is False


def test_a_container_called_host_must_be_named_container_host(host) -> None:
    config, profiles = host
    config.write_text(HOST.replace("bar", "host"))
    (config.parent / "containers" / "host.nix").write_text("{ boot.isContainer = true; }\n")
    refused = _build(config, profiles, "--only", "host", "--dry-run")
    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.splitlines()) == 1 and "container:host" in refused.stderr
    built = _build(config, profiles, "--only", "container:host")
    assert built.returncode == 0, built.stderr
    assert (profiles / "containers" / "host").is_symlink() and not (profiles / "system").exists()
    row = next(ln for ln in built.stdout.splitlines() if ln.startswith("container:host "))
    assert row.split()[1:3] == ["path/legacy", "new"], row
    for command in ("generations", "rollback"):
        proc = run_cli(command, "-f", str(config), "--profile-dir", str(profiles))
        assert proc.returncode == 2 and "system:host" in proc.stderr, proc.stderr
    gens = run_cli("generations", "container:host", "-f", str(config), "--profile-dir",
                   str(profiles), "--json")
    assert gens.returncode == 0, gens.stderr
    assert json.loads(gens.stdout)["profile"] == str(profiles / "containers" / "host")
    for command in ("build", "generations", "rollback"):
        helped = run_cli(command, "--help", env={"COLUMNS": "300"})
        assert "container:NAME" in helped.stdout and "system:host" in helped.stdout, command
