"""The stand-in ``<nixos>`` (tests/fixtures/nixos): module merging and the built system tree,
checked with the real Nix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import CONFIGS, NIX_OFFLINE, STAND_IN_NIXOS

pytestmark = pytest.mark.nix


def _run(tools: dict[str, str], expr: str, config: Path) -> subprocess.CompletedProcess[str]:
    """Evaluate ``expr`` with ``s`` = the stand-in NixOS built from ``config``."""
    return subprocess.run(
        [tools["nix-instantiate"], *NIX_OFFLINE, "--eval", "--strict", "--json",
         "-I", f"nixos={STAND_IN_NIXOS}", "-I", f"nixos-config={config}",
         "-E", f"let s = import <nixos> {{}}; in {expr}"],
        capture_output=True, text=True, timeout=120,
    )


def _eval(tools: dict[str, str], expr: str, config: Path) -> object:
    proc = _run(tools, expr, config)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _eval_error(tools: dict[str, str], expr: str, config: Path) -> str:
    proc = _run(tools, expr, config)
    assert proc.returncode != 0
    return proc.stderr


def _build(tools: dict[str, str], config: Path) -> Path:
    drv = subprocess.run(
        [tools["nix-instantiate"], *NIX_OFFLINE, str(STAND_IN_NIXOS), "-A", "system",
         "--arg", "configuration", str(config)],
        capture_output=True, text=True, timeout=120,
    )
    assert drv.returncode == 0, drv.stderr
    out = subprocess.run(
        [tools["nix-store"], *NIX_OFFLINE, "--realise", drv.stdout.strip()],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


def test_interface_returns_config_options_and_system(nix_tools, write) -> None:
    cfg = write("configuration.nix", "{ ... }: { networking.hostName = \"alpha\"; }\n")
    got = _eval(nix_tools, "{ n = builtins.attrNames s; h = s.config.networking.hostName; "
                "t = s.system.type; c = s.config.boot.isContainer; "
                "o = [ (s.options ? containers) (s.options.systemd ? containers) ]; }", cfg)
    assert got == {"n": ["config", "options", "system"], "h": "alpha", "t": "derivation",
                   "c": False, "o": [True, True]}


def test_properties_priorities_lists_and_imports(nix_tools, write) -> None:
    write("extra.nix", "{ lib, ... }: { environment.systemPackages = [ \"b\" ];"
          " services.openssh.ports = lib.mkDefault [ 1 ]; imports = [ ./deeper.nix ]; }\n")
    write("deeper.nix", "{ services.openssh.enable = true; a.b = 1; }\n")
    cfg = write("configuration.nix", """{ config, lib, pkgs, ... }:
{
  imports = [ ./extra.nix ];
  environment.systemPackages = [ "a" ];
  services.openssh.ports = lib.mkIf config.services.openssh.enable [ 2022 ];
  networking.hostName = lib.mkForce "forced";
  a = lib.mkMerge [ { c = 2; } (lib.mkIf false { d = 3; }) ];
  x = lib.mkMerge [ (lib.mkDefault 1) 5 ];
}
""")
    got = _eval(nix_tools, "{ inherit (s.config) a x; p = s.config.environment.systemPackages;"
                " ports = s.config.services.openssh.ports; h = s.config.networking.hostName; }",
                cfg)
    assert got == {"a": {"b": 1, "c": 2}, "x": 5, "p": ["a", "b"], "ports": [2022],
                   "h": "forced"}


def test_conflicting_definitions_are_an_error(nix_tools, write) -> None:
    cfg = write("configuration.nix", "{ imports = [ { n = 1; } ]; n = 2; }\n")
    assert "conflicting definition" in _eval_error(nix_tools, "s.config.n", cfg)


@pytest.mark.parametrize(("definition", "option"), [
    ('services.openssh.ports = [ "x" ];', "services.openssh.ports"),
    ("services.openssh.ports = [ 70000 ];", "services.openssh.ports"),
    ('services.openssh.enable = "yes";', "services.openssh.enable"),
    ("networking.hostName = 1;", "networking.hostName"),
    ("environment.systemPackages = [ 1 ];", "environment.systemPackages"),
])
def test_a_value_of_the_wrong_type_is_an_error(nix_tools, write, definition: str,
                                               option: str) -> None:
    cfg = write("configuration.nix", f"{{ {definition} }}\n")
    err = _eval_error(nix_tools, "s.config", cfg)
    assert f"option `{option}'" in err and "is not of type" in err


def test_values_of_the_declared_types_are_accepted(nix_tools, write) -> None:
    cfg = write("configuration.nix", "{ pkgs, ... }: { services.openssh = { enable = true; "
                "ports = [ 22 2022 ]; }; networking.hostName = \"h\"; "
                "environment.systemPackages = [ pkgs.vim ]; "
                "systemd.containers.a.path = \"/nix/var/nix/profiles/containers/a\"; }\n")
    got = _eval(nix_tools, "s.config.services.openssh", cfg)
    assert got == {"enable": True, "ports": [22, 2022]}


def test_user_options_and_mkif_on_own_option(nix_tools, write) -> None:
    cfg = write("configuration.nix", """{ config, lib, ... }:
{
  imports = [ ({ config, lib, ... }: {
    options.services.app.enable = lib.mkEnableOption "app";
    options.services.app.port = lib.mkOption { default = 8080; };
    config = lib.mkIf config.services.app.enable { networking.hostName = "app-host"; };
  }) ];
  services.app.enable = true;
}
""")
    got = _eval(nix_tools, "{ h = s.config.networking.hostName; p = s.config.services.app.port; }",
                cfg)
    assert got == {"h": "app-host", "p": 8080}


def test_containers_both_dialects_and_routes(nix_tools, write) -> None:
    cfg = write("configuration.nix", """{ lib, pkgs, ... }:
{
  systemd.containers.foo.config = { services.openssh.enable = true; };
  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";
  containers.baz = { autoStart = true; config = { pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }; };
  containers.gone = lib.mkIf false { config = { }; };
}
""")
    got = _eval(nix_tools, "{ l = builtins.attrNames s.config.systemd.containers;"
                " m = builtins.attrNames s.config.containers;"
                " a = s.config.containers.baz.autoStart;"
                " bar = s.config.systemd.containers.bar.path;"
                " foo = (s.config.systemd.containers.foo.path).type; }", cfg)
    assert got == {"l": ["bar", "foo"], "m": ["baz"], "a": True,
                   "bar": "/nix/var/nix/profiles/containers/bar", "foo": "derivation"}


def test_built_tree_units_and_container_systems(nix_tools, write) -> None:
    cfg = write("configuration.nix", """{ pkgs, ... }:
{
  networking.hostName = "treehost";
  environment.systemPackages = [ pkgs.vim ];
  systemd.containers.foo.config = { services.openssh.enable = true; services.openssh.ports = [ 2022 ]; };
  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";
  containers.baz.config = { networking.hostName = "baz"; };
}
""")
    out = _build(nix_tools, cfg)
    assert out.name.endswith("nixos-system-treehost-stand-in")
    assert (out / "is-container").read_text() == "false\n"
    options = json.loads((out / "options.json").read_text())
    assert options["networking"]["hostName"] == "treehost"
    assert options["environment"]["systemPackages"][0].endswith("-vim-9.0")
    units = out / "etc" / "systemd" / "system"
    assert sorted(p.name for p in units.iterdir()) == [
        "container-bar.service", "container-foo.service", "container@baz.service"]
    assert "SYSTEM_PATH=/nix/var/nix/profiles/containers/bar" in (
        units / "container-bar.service").read_text()
    foo_unit = (units / "container-foo.service").read_text()
    foo_system = Path(foo_unit.split("SYSTEM_PATH=")[1].split('"')[0])
    assert foo_system.is_dir() and (foo_system / "is-container").read_text() == "true\n"
    foo_options = json.loads((foo_system / "options.json").read_text())
    assert foo_options["services"]["openssh"]["ports"] == [2022]
    baz_unit = (units / "container@baz.service").read_text()
    assert "/var/lib/nixos-containers/baz" in baz_unit
    switch = out / "bin" / "switch-to-configuration"
    assert switch.stat().st_mode & 0o111
    assert "container-foo.service" in switch.read_text()


def test_container_file_sets_is_container(nix_tools, write) -> None:
    cfg = write("containers/foo.nix", "{ boot.isContainer = true; services.openssh.enable = true; }\n")
    out = _build(nix_tools, cfg)
    assert (out / "is-container").read_text() == "true\n"


@pytest.mark.parametrize("name", ["containers-legacy.nix", "containers-modern.nix",
                                  "containers-path-route.nix", "mkif-values.nix",
                                  "nixos-module-options.nix", "with-imports/containers.nix"])
def test_fixture_configurations_instantiate(nix_tools, name: str) -> None:
    config = CONFIGS / name
    if not config.exists():
        pytest.skip(f"fixture {name} not present")
    proc = subprocess.run(
        [nix_tools["nix-instantiate"], *NIX_OFFLINE, str(STAND_IN_NIXOS), "-A", "system",
         "--arg", "configuration", str(config)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(".drv")


def test_a_function_returning_a_function_is_refused(nix_tools, write) -> None:
    cfg = write("configuration.nix", "site: { config, ... }: { networking.hostName = site; }\n")
    assert "function returning a function" in _eval_error(nix_tools, "s.config.networking", cfg)
