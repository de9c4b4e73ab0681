"""nixgen.nixos against the real Nix: finding NixOS, evaluated option values, dialect detection
(with its on-disk cache), using the stand-in NixOS and tiny stand-ins written here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import NIX_OFFLINE, STAND_IN_NIXOS

from nixgen.errors import NixCommandError
from nixgen.nix import Nix
from nixgen.nixos import cache_dir, declared_dialects, locate, option_value, resolve_nixos

OFFLINE = [(NIX_OFFLINE[1], NIX_OFFLINE[2])]

# A NixOS-shaped function with only the `options` that dialect detection looks at.
STAND_IN = """{{ configuration ? <nixos-config>, system ? builtins.currentSystem }}:
{{ config = {{ }}; system = null; options = {options}; }}
"""
LEGACY = "{ systemd.containers = { }; systemd.services = { }; }"
MODERN = "{ containers = { }; systemd.services = { }; }"
BOTH = "{ containers = { }; systemd.containers = { }; }"
NONE = "{ systemd.services = { }; }"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("NIXGEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("NIX_PATH", "")  # only what the tests put on the search path
    return cache


def nix_with(*search_path: str) -> Nix:
    return Nix(search_path=search_path, options=OFFLINE)


def stand_in(directory: Path, options: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "default.nix").write_text(STAND_IN.format(options=options))
    return directory


# -- resolve_nixos -------------------------------------------------------------------------


def test_resolve_prefers_nixpkgs_nixos(tmp_path: Path, nix_instantiate: str) -> None:
    stand_in(tmp_path / "nixpkgs" / "nixos", MODERN)
    stand_in(tmp_path / "other", LEGACY)
    both = nix_with(f"nixpkgs={tmp_path / 'nixpkgs'}", f"nixos={tmp_path / 'other'}")
    assert resolve_nixos(both) == "<nixpkgs/nixos>"
    assert resolve_nixos(nix_with(f"nixos={tmp_path / 'other'}")) == "<nixos>"
    # A plain search-path directory holding nixpkgs/ counts too.
    assert resolve_nixos(nix_with(str(tmp_path))) == "<nixpkgs/nixos>"


def test_resolve_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          nix_instantiate: str) -> None:
    monkeypatch.chdir(tmp_path)
    nix = nix_with()
    assert resolve_nixos(nix, "<nixos>") == "<nixos>"
    assert resolve_nixos(nix, "rel/nixos") == str(tmp_path / "rel" / "nixos")
    assert resolve_nixos(nix, "/abs/nixos") == "/abs/nixos"


def test_resolve_nothing_says_which_flag_to_set(nix_instantiate: str) -> None:
    with pytest.raises(NixCommandError) as info:
        resolve_nixos(nix_with())
    assert "-I nixos=" in info.value.message and "--nixos" in info.value.message


def test_locate(tmp_path: Path, nix_instantiate: str) -> None:
    stand_in(tmp_path / "n", NONE)
    nix = nix_with(f"nixos={tmp_path / 'n'}")
    assert locate(nix, ["<nixos>", "<nope>", str(tmp_path / "n"), str(tmp_path / "x")]) == [
        str(tmp_path / "n"), None, str(tmp_path / "n"), None]


# -- declared_dialects ---------------------------------------------------------------------


@pytest.mark.parametrize(("options", "expected"), [
    (LEGACY, {"legacy"}), (MODERN, {"modern"}), (BOTH, {"legacy", "modern"}), (NONE, set()),
])
def test_dialects_of_stand_ins(tmp_path: Path, options: str, expected: set[str],
                               nix_instantiate: str) -> None:
    nixos = stand_in(tmp_path / "nixos", options)
    assert declared_dialects(nix_with(f"nixos={nixos}")) == expected
    assert declared_dialects(nix_with(), str(nixos)) == expected


def test_dialects_of_the_fixture_nixos(nix_instantiate: str) -> None:
    assert declared_dialects(nix_with(f"nixos={STAND_IN_NIXOS}")) == {"legacy", "modern"}
    assert declared_dialects(nix_with(), str(STAND_IN_NIXOS)) == {"legacy", "modern"}


def test_dialect_cache_is_used_and_invalidated(tmp_path: Path, private_cache: Path,
                                               nix_instantiate: str) -> None:
    nixos = stand_in(tmp_path / "nixos", LEGACY)
    nix = nix_with(f"nixos={nixos}")
    assert declared_dialects(nix) == {"legacy"}
    cache_file = private_cache / "dialects.json"
    assert cache_dir() == private_cache and list(json.loads(cache_file.read_text()).values()) == [
        ["legacy"]]
    # Same mtimes: the cached answer stands, even though the file now says otherwise.
    default = nixos / "default.nix"
    stat = default.stat()
    default.write_text(STAND_IN.format(options=MODERN))
    os.utime(default, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.utime(nixos, ns=(nixos.stat().st_atime_ns, nixos.stat().st_mtime_ns))
    assert declared_dialects(nix) == {"legacy"}
    assert declared_dialects(nix, use_cache=False) == {"modern"}
    # A changed file is a new key.
    os.utime(default, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert declared_dialects(nix) == {"modern"}
    # Another search path is another key.
    other = stand_in(tmp_path / "other", BOTH)
    assert declared_dialects(nix_with(f"nixos={other}")) == {"legacy", "modern"}
    assert len(json.loads(cache_file.read_text())) == 3


def test_dialect_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIXGEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "nixgen"


def test_unwritable_or_broken_cache_is_not_fatal(tmp_path: Path, private_cache: Path,
                                                 nix_instantiate: str) -> None:
    nixos = stand_in(tmp_path / "nixos", MODERN)
    private_cache.mkdir()
    (private_cache / "dialects.json").write_text("{not json")
    assert declared_dialects(nix_with(f"nixos={nixos}")) == {"modern"}
    assert json.loads((private_cache / "dialects.json").read_text())


def test_dialects_without_nixos(nix_instantiate: str, tmp_path: Path) -> None:
    with pytest.raises(NixCommandError, match="-I nixos="):
        declared_dialects(nix_with())
    with pytest.raises(NixCommandError, match="NixOS not found"):
        declared_dialects(nix_with(), str(tmp_path / "missing"))


# -- option_value --------------------------------------------------------------------------


CONFIG = """{ config, lib, ... }:
{
  imports = [ ./web.nix ];
  networking.hostName = "box";
  services.openssh.enable = true;
  containers.foo = lib.mkIf config.services.openssh.enable { autoStart = true; config = { }; };
}
"""
WEB = """{ lib, ... }: { services.openssh.ports = lib.mkForce [ 2022 ]; }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "web.nix").write_text(WEB)
    path = tmp_path / "configuration.nix"
    path.write_text(CONFIG)
    return path


def test_option_values_are_merged_by_nix(config: Path, nix_instantiate: str) -> None:
    nix = nix_with(f"nixos={STAND_IN_NIXOS}")
    assert option_value(config, ("networking", "hostName"), nix=nix) == "box"
    assert option_value(config, ("services", "openssh", "ports"), nix=nix) == [2022]
    assert option_value(config, ("boot", "isContainer"), nix=nix) is False  # a default
    assert option_value(config, ("containers", "foo", "autoStart"), nix=nix) is True  # mkIf
    assert option_value(config, ("system", "stateVersion"), nix=nix,
                        nixos=str(STAND_IN_NIXOS)) == "23.11"


def test_option_value_errors(config: Path, tmp_path: Path, nix_instantiate: str) -> None:
    nix = nix_with(f"nixos={STAND_IN_NIXOS}")
    with pytest.raises(NixCommandError, match=r"option 'networking\.nope' does not exist"):
        option_value(config, ("networking", "nope"), nix=nix)
    with pytest.raises(NixCommandError, match="configuration not found"):
        option_value(tmp_path / "missing.nix", ("a",), nix=nix)
    with pytest.raises(NixCommandError, match="-I nixos="):
        option_value(config, ("a",), nix=nix_with())


def test_a_throw_without_position_names_the_option_and_file(tmp_path: Path,
                                                           nix_instantiate: str) -> None:
    path = tmp_path / "configuration.nix"
    path.write_text('{ ... }: { services.openssh.ports = [ (throw "no port yet") ]; }\n')
    nix = nix_with(f"nixos={STAND_IN_NIXOS}")
    with pytest.raises(NixCommandError) as info:
        option_value(path, ("services", "openssh", "ports"), nix=nix)
    err = info.value
    assert "no port yet" in err.message
    assert "services.openssh.ports" in err.message
    assert err.file == str(path)


@pytest.mark.parametrize("name", ['conf "${x}".nix', "a'';b).nix", "-dash.nix"])
def test_option_value_with_odd_file_and_attribute_names(tmp_path: Path, name: str,
                                                        nix_instantiate: str) -> None:
    weird = '"${builtins.abort "pwned"}"'
    path = tmp_path / name
    path.write_text("{ networking.hostName = \"odd\"; }")
    nix = nix_with(f"nixos={STAND_IN_NIXOS}")
    assert option_value(path, ["networking", "hostName"], nix=nix) == "odd"
    with pytest.raises(NixCommandError) as info:
        option_value(path, ["networking", weird], nix=nix)
    assert weird in info.value.message and "pwned" not in info.value.message.replace(weird, "")


def test_detect_dialects_never_fails(tmp_path: Path, nix_instantiate: str) -> None:
    from nixgen.nixos import detect_dialects

    legacy = stand_in(tmp_path / "legacy", LEGACY)
    found, why = detect_dialects(nix_with(f"nixos={legacy}"))
    assert found == {"legacy"} and why == "the NixOS at <nixos> declares systemd.containers"
    found, why = detect_dialects(nix_with(), str(STAND_IN_NIXOS))
    assert found == {"legacy", "modern"} and "systemd.containers and containers" in why
    found, why = detect_dialects(nix_with())
    assert found is None and "-I nixos=" in why
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "default.nix").write_text("{ configuration ? null }: throw \"no options here\"")
    found, why = detect_dialects(nix_with(), str(broken))
    assert found is None and "no options here" in why
    fresh = stand_in(tmp_path / "fresh", MODERN)  # not cached yet: Nix must be asked
    found, why = detect_dialects(Nix(env={"PATH": str(tmp_path)}), str(fresh))
    assert (found, why) == (None, "Nix is not installed")


def test_nixos_in_a_directory_with_an_odd_name(tmp_path: Path, nix_instantiate: str) -> None:
    nixos = stand_in(tmp_path / 'n"${builtins.abort "x"}\'\';)', MODERN)
    assert declared_dialects(nix_with(), str(nixos)) == {"modern"}
    assert declared_dialects(nix_with(f"nixos={nixos}")) == {"modern"}


def test_detect_dialects_answers_from_the_cache_without_nix(tmp_path: Path,
                                                             nix_instantiate: str) -> None:
    from nixgen.nixos import detect_dialects

    modern = stand_in(tmp_path / "modern", MODERN)
    assert detect_dialects(search_path=[f"nixos={modern}"])[0] == {"modern"}
    assert detect_dialects(search_path=[])[0] is None
    # Cached, both the answer and "not found": no Nix process is needed (none can be run here).
    no_nix = {"PATH": str(tmp_path), "NIX_PATH": ""}
    assert detect_dialects(Nix(search_path=[f"nixos={modern}"], env=no_nix))[0] == {"modern"}
    found, why = detect_dialects(Nix(env=no_nix))
    assert found is None and "cannot find NixOS" in why
    # A changed NixOS, or a search path that now resolves, is asked again.
    os.utime(modern / "default.nix", ns=(1, 1))
    assert detect_dialects(Nix(search_path=[f"nixos={modern}"], env=no_nix)) == (
        None, "Nix is not installed")
    legacy = stand_in(tmp_path / "nixos", LEGACY)
    assert detect_dialects(search_path=[str(tmp_path)])[0] == {"legacy"}
    assert legacy.exists()
