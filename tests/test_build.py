"""nixgen.build: plans and builds system profiles with the real Nix and the stand-in <nixos>."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import NIX_OFFLINE, STAND_IN_NIXOS

from nixgen.build import BuildOptions, Progress, build, generations, plan, rollback
from nixgen.errors import FileError, NixCommandError, UsageError

pytestmark = pytest.mark.nix

OFFLINE = [(NIX_OFFLINE[1], NIX_OFFLINE[2])]

HOST = """{ config, pkgs, lib, ... }:
{
  networking.hostName = "buildhost";
  environment.systemPackages = [ pkgs.vim ];
  services.openssh.enable = true;
  systemd.containers.foo.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ 2022 ];
  };
  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";
  containers.web.config = { networking.hostName = "web"; };
}
"""

BAR = """{ pkgs, ... }:
{
  boot.isContainer = true;
  services.openssh.enable = true;
  services.openssh.ports = [ 2023 ];
}
"""


@pytest.fixture
def setup(tmp_path: Path, nix_tools):
    """A host with a config-route container (foo), a path-route one (bar) and a modern one."""
    config = tmp_path / "etc" / "configuration.nix"
    (config.parent / "containers").mkdir(parents=True)
    config.write_text(HOST)
    (config.parent / "containers" / "bar.nix").write_text(BAR)
    return config, tmp_path / "profiles"


def _opts(config: Path, profiles: Path, **kw) -> BuildOptions:
    return BuildOptions(config=config, nixos=str(STAND_IN_NIXOS), profile_dir=profiles,
                        options=OFFLINE, **kw)


def _statuses(the_plan) -> dict[tuple[str, str], str]:
    return {(i.name, i.route): i.status for i in the_plan.items}


def _links(profile: Path) -> list[str]:
    return sorted(p.name for p in profile.parent.iterdir() if p.name.startswith(profile.name + "-"))


def test_first_build_sets_host_and_path_container_profiles(setup) -> None:
    config, profiles = setup
    config.write_text(HOST.replace("buildhost", "first" + uuid.uuid4().hex[:10]))
    events: list[Progress] = []
    result = build(_opts(config, profiles), on_progress=events.append)
    assert _statuses(result.plan) == {
        ("host", "host"): "new", ("bar", "path"): "new",
        ("foo", "config"): "new", ("web", "config"): "new",
    }
    host, bar = profiles / "system", profiles / "containers" / "bar"
    assert result.profiles_set == [bar, host]  # the container before the host
    assert os.readlink(host) == "system-1-link" and os.readlink(bar) == "bar-1-link"
    host_out = Path(os.path.realpath(host))
    assert str(host_out) == result.plan.item("host").new
    assert (host_out / "is-container").read_text() == "false\n"
    assert (Path(os.path.realpath(bar)) / "is-container").read_text() == "true\n"
    bar_options = json.loads((Path(os.path.realpath(bar)) / "options.json").read_text())
    assert bar_options["services"]["openssh"]["ports"] == [2023]
    unit = (host_out / "etc/systemd/system/container-bar.service").read_text()
    assert "SYSTEM_PATH=/nix/var/nix/profiles/containers/bar" in unit
    foo = result.plan.item("foo")
    assert foo.profile is None and foo.note == "switching the host starts container-foo.service"
    assert f"SYSTEM_PATH={foo.new}" in (
        host_out / "etc/systemd/system/container-foo.service").read_text()
    stages = [e.stage for e in events]
    assert stages[0] == "evaluate" and "build" in stages and stages[-1] == "done"
    assert any(e.stage == "build" and e.current == "host" for e in events)


def test_second_build_without_change_builds_and_sets_nothing(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    before = _links(profiles / "system") + _links(profiles / "containers" / "bar")
    events: list[Progress] = []
    result = build(_opts(config, profiles), on_progress=events.append)
    assert set(_statuses(result.plan).values()) == {"unchanged"}
    assert result.plan.noop and result.profiles_set == [] and result.realised == []
    assert not any(e.stage in ("build", "profile") for e in events)
    assert _links(profiles / "system") + _links(profiles / "containers" / "bar") == before
    assert [c[0] for c in result.plan.commands] == ["nix-instantiate"]


def test_change_to_path_container_rebuilds_only_it(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    (config.parent / "containers" / "bar.nix").write_text(BAR.replace("2023", "2024"))
    result = build(_opts(config, profiles))
    assert _statuses(result.plan)[("bar", "path")] == "changed"
    assert _statuses(result.plan)[("host", "host")] == "unchanged"
    assert result.realised == ["bar"]
    bar = profiles / "containers" / "bar"
    assert result.profiles_set == [bar]
    assert os.readlink(bar) == "bar-2-link" and os.readlink(profiles / "system") == "system-1-link"
    assert [g.number for g in generations("bar", _opts(config, profiles))][-2:] == [1, 2]


def test_change_to_config_container_changes_host_and_names_the_unit(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    config.write_text(HOST.replace("[ 2022 ]", "[ 2122 ]").replace('"web"', '"web2"'))
    the_plan = plan(_opts(config, profiles))
    st = _statuses(the_plan)
    assert st[("host", "host")] == "changed" and st[("bar", "path")] == "unchanged"
    assert st[("foo", "config")] == "changed" and st[("web", "config")] == "changed"
    assert the_plan.item("foo").note == "switching the host restarts container-foo.service"
    assert the_plan.item("web").note == "switching the host restarts container@web.service"
    assert [i.name for i in the_plan.to_build] == ["host"]


def test_removed_containers_are_listed(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    config.write_text(HOST.replace('  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";\n', "")
                      .replace("  containers.web.config = { networking.hostName = \"web\"; };\n", ""))
    the_plan = plan(_opts(config, profiles))
    st = _statuses(the_plan)
    assert st[("bar", "path")] == "removed" and st[("web", "config")] == "removed"
    assert "stops container@web.service" in the_plan.item("web").note
    assert the_plan.item("bar").profile == profiles / "containers" / "bar"
    assert [i.name for i in the_plan.to_build] == ["host"]


def test_dry_run_builds_writes_and_sets_nothing(setup) -> None:
    config, profiles = setup
    config.write_text(HOST.replace("buildhost", "h" + uuid.uuid4().hex[:10]))
    result = build(_opts(config, profiles, jobs=3, keep_going=True), dry_run=True)
    host = result.plan.item("host")
    assert result.dry_run and result.profiles_set == []
    assert not profiles.exists()
    assert not os.path.exists(host.new) and not os.path.exists(host.drv)
    tools = [argv[0] for argv in result.plan.commands]
    assert tools == ["nix-instantiate", "nix-store", "nix-env", "nix-env"]
    realise = result.plan.commands[1]
    assert realise[-3:] == ["--max-jobs", "3", "--keep-going"] and host.drv in realise
    assert result.plan.commands[-1][-4:] == ["-p", str(profiles / "system"), "--set", host.new]


def test_only_limits_what_is_built(setup) -> None:
    config, profiles = setup
    result = build(_opts(config, profiles, only=["bar"]))
    assert result.profiles_set == [profiles / "containers" / "bar"]
    assert not (profiles / "system").exists()
    assert not result.plan.item("host").selected
    with pytest.raises(UsageError, match="--only nope"):
        plan(_opts(config, profiles, only=["nope"]))


def test_modern_path_route_uses_the_per_container_profile(tmp_path: Path, nix_tools) -> None:
    config = tmp_path / "configuration.nix"
    (tmp_path / "containers").mkdir()
    config.write_text('{ containers.db.path = "/nix/var/nix/profiles/per-container/db/system"; }\n')
    (tmp_path / "containers" / "db.nix").write_text("{ boot.isContainer = true; }\n")
    result = build(_opts(config, tmp_path / "p"))
    db = tmp_path / "p" / "per-container" / "db" / "system"
    assert db in result.profiles_set and os.readlink(db) == "system-1-link"


def test_evaluation_error_names_file_and_line(setup) -> None:
    config, profiles = setup
    config.write_text("{ pkgs, ... }:\n{\n  environment.systemPackages = [ pkgs.nosuchpackage ];\n}\n")
    with pytest.raises(NixCommandError) as info:
        build(_opts(config, profiles))
    assert "nosuchpackage" in str(info.value)
    assert info.value.file and info.value.file.endswith("configuration.nix")
    assert info.value.line == 3
    assert not profiles.exists()


BROKEN = """{ ... }:
{
  environment.systemPackages = [ (derivation {
    name = "broken-%s"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "echo first-log-line; echo the-build-broke-here >&2; exit 3" ];
  }) ];
  systemd.containers.bar.path = "/nix/var/nix/profiles/containers/bar";
}
"""


def test_build_failure_names_system_and_log_and_sets_nothing(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    host_before = os.readlink(profiles / "system")
    config.write_text(BROKEN % uuid.uuid4().hex[:8])
    (config.parent / "containers" / "bar.nix").write_text(BAR.replace("2023", "2031"))
    with pytest.raises(NixCommandError) as info:
        build(_opts(config, profiles))
    message = str(info.value)
    assert "building host failed" in message and "the-build-broke-here" in message
    assert os.readlink(profiles / "system") == host_before
    assert os.readlink(profiles / "containers" / "bar") == "bar-1-link"


def test_keep_going_sets_what_built_and_reports_the_failure(setup) -> None:
    config, profiles = setup
    config.write_text(BROKEN % uuid.uuid4().hex[:8])
    result = build(_opts(config, profiles, keep_going=True))
    assert list(result.failed) == ["host"] and "the-build-broke-here" in result.failed["host"]
    assert result.profiles_set == [profiles / "containers" / "bar"]
    assert not (profiles / "system").exists()


def test_interrupt_during_build_leaves_profiles_untouched(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    config.write_text(HOST.replace("buildhost", "i" + uuid.uuid4().hex[:10]))

    def interrupt(event: Progress) -> None:
        if event.stage == "build":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(_opts(config, profiles), on_progress=interrupt)
    assert os.readlink(profiles / "system") == "system-1-link"


def _second_build_setup(config: Path) -> None:
    """Change the host and bar, and add a new path-route container baz."""
    config.write_text(HOST.replace("buildhost", "s" + uuid.uuid4().hex[:10]).replace(
        "  containers.web", '  systemd.containers.baz.path = "/nix/var/nix/profiles/containers/baz";'
        "\n  containers.web"))
    (config.parent / "containers" / "bar.nix").write_text(BAR.replace("2023", "2024"))
    (config.parent / "containers" / "baz.nix").write_text(BAR.replace("2023", "2025"))


def _as_after_the_first_build(profiles: Path) -> None:
    assert os.readlink(profiles / "system") == "system-1-link"
    assert os.readlink(profiles / "containers" / "bar") == "bar-1-link"
    assert not (profiles / "containers" / "baz").exists()
    assert _links(profiles / "containers" / "baz") == []


def test_interrupt_while_profiles_are_set_puts_every_one_back(
        setup, monkeypatch: pytest.MonkeyPatch) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    _second_build_setup(config)
    from nixgen.nix import Nix

    real = Nix.set_profile
    seen: list[str] = []

    def set_then_stop(self: Nix, profile: str, store_path: str) -> None:
        real(self, profile, store_path)
        seen.append(Path(profile).name)
        if Path(profile).name == "system":  # the containers are set by now: stop here
            raise KeyboardInterrupt

    monkeypatch.setattr(Nix, "set_profile", set_then_stop)
    events: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        build(_opts(config, profiles), on_progress=lambda e: events.append(e.message))
    assert sorted(seen) == ["bar", "baz", "system"]
    assert any("putting 3 profile(s) back" in m for m in events)
    _as_after_the_first_build(profiles)
    assert _links(profiles / "system") == ["system-1-link", "system-2-link"]  # kept, not current


def test_a_failing_nix_env_puts_the_profiles_already_set_back(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    _second_build_setup(config)
    (profiles / "containers" / "baz").mkdir()  # nix-env cannot make this a profile
    with pytest.raises(NixCommandError, match="baz"):
        build(_opts(config, profiles))
    assert os.readlink(profiles / "system") == "system-1-link"
    assert os.readlink(profiles / "containers" / "bar") == "bar-1-link"
    (profiles / "containers" / "baz").rmdir()
    result = build(_opts(config, profiles))  # and the next build does it all
    assert os.readlink(profiles / "containers" / "baz") == "baz-1-link"
    assert os.readlink(profiles / "system") == "system-3-link" or \
        os.readlink(profiles / "system") == "system-2-link"
    assert {p.name for p in result.profiles_set} == {"system", "bar", "baz"}


def test_missing_container_file_is_an_error_at_its_definition(setup) -> None:
    config, profiles = setup
    (config.parent / "containers" / "bar.nix").unlink()
    with pytest.raises(FileError) as info:
        plan(_opts(config, profiles))
    assert "bar" in str(info.value) and info.value.line == 10


def test_generations_and_rollback(setup) -> None:
    config, profiles = setup
    opts = _opts(config, profiles)
    first = build(opts).plan.item("host").new
    config.write_text(HOST.replace("buildhost", "second"))
    second = build(opts).plan.item("host").new
    gens = generations("host", opts)
    assert [g.number for g in gens] == [1, 2]
    profile, target = rollback("host", opts)
    assert profile == profiles / "system" and target == first != second
    with pytest.raises(UsageError):
        generations("nope", opts)


def test_path_container_under_false_mkif_is_skipped(tmp_path: Path, nix_tools) -> None:
    config = tmp_path / "configuration.nix"
    (tmp_path / "containers").mkdir()
    config.write_text("""{ lib, ... }:
{
  systemd.containers.off = lib.mkIf false { path = "/nix/var/nix/profiles/containers/off"; };
  systemd.containers.on.path = "/nix/var/nix/profiles/containers/on";
}
""")
    for name in ("off", "on"):
        (tmp_path / "containers" / f"{name}.nix").write_text("{ boot.isContainer = true; }\n")
    result = build(_opts(config, tmp_path / "p"))
    assert _statuses(result.plan)[("off", "path")] == "skipped"
    assert "not declared once evaluated" in result.plan.item("off").note
    assert not (tmp_path / "p" / "containers" / "off").exists()
    assert (tmp_path / "p" / "containers" / "on").is_symlink()


def test_nix_flags_reach_every_command(setup) -> None:
    config, profiles = setup
    config.write_text(HOST.replace("buildhost", "flags" + uuid.uuid4().hex[:10]))
    opts = _opts(config, profiles, builders="ssh://builder x86_64-linux", show_trace=True)
    the_plan = plan(opts, write_derivations=False)
    for argv in the_plan.commands:
        assert "--show-trace" in argv
        i = argv.index("builders")
        assert argv[i - 1] == "--option" and argv[i + 1] == "ssh://builder x86_64-linux"


def test_a_container_file_that_forgets_is_container_is_built_as_one(tmp_path: Path,
                                                                      nix_tools) -> None:
    config = tmp_path / "configuration.nix"
    (tmp_path / "containers").mkdir()
    config.write_text('{ systemd.containers.lazy.path = "/nix/var/nix/profiles/containers/lazy"; }\n')
    (tmp_path / "containers" / "lazy.nix").write_text("{ networking.hostName = \"lazy\"; }\n")
    build(_opts(config, tmp_path / "p"))
    system = Path(os.path.realpath(tmp_path / "p" / "containers" / "lazy"))
    assert (system / "is-container").read_text() == "true\n"


def test_profiles_are_mapped_under_the_profile_dir() -> None:
    from nixgen.plan import DEFAULT_PROFILE_DIR, map_profile

    scratch = Path("/tmp/scratch")
    assert map_profile("/nix/var/nix/profiles/containers/a", scratch) == scratch / "containers/a"
    assert map_profile("/nix/var/nix/profiles/per-container/a/system", scratch) == (
        scratch / "per-container/a/system")
    assert map_profile("/srv/profiles/a", scratch) == scratch / "srv/profiles/a"
    assert map_profile("/srv/profiles/a", DEFAULT_PROFILE_DIR) == Path("/srv/profiles/a")
    assert map_profile("/nix/var/nix/profiles/containers/a", DEFAULT_PROFILE_DIR) == Path(
        "/nix/var/nix/profiles/containers/a")


def test_container_systems_are_read_from_unit_files(tmp_path: Path) -> None:
    from nixgen.plan import container_systems_of

    store = "/nix/store/" + "a" * 32 + "-nixos-system-foo"
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "container-old.service").write_text(f"[Service]\nExecStart={store}/init\n")
    (units / "container@new.service").write_text(f'Environment="SYSTEM_PATH={store}-2"\n')
    (units / "container@.service").write_text(f"SYSTEM_PATH={store}-template\n")
    (units / "sshd.service").write_text(f"ExecStart={store}/init\n")
    assert container_systems_of(str(tmp_path)) == {
        ("legacy", "old"): store, ("modern", "new"): store + "-2"}
    assert container_systems_of(None) == {}


def test_generations_and_rollback_refuse_a_profile_never_built(setup) -> None:
    config, profiles = setup
    opts = _opts(config, profiles)
    missing = profiles / "system"
    with pytest.raises(FileError) as info:
        generations("host", opts)
    assert info.value.message == "no profile yet: build it first with nixgen build"
    assert str(info.value.file) == str(missing)
    with pytest.raises(FileError) as info:
        rollback("host", opts)
    assert info.value.message == "no profile yet: nothing to roll back"
    assert str(info.value.file) == str(missing)


def test_unusable_profile_folder_is_refused_before_anything_is_built(setup) -> None:
    config, profiles = setup
    config.write_text(HOST.replace("buildhost", "pf" + uuid.uuid4().hex[:10]))
    host_out = plan(_opts(config, profiles), write_derivations=False).item("host").new
    afile = profiles.parent / "afile"
    afile.write_text("")
    for dry_run in (True, False):
        with pytest.raises(FileError) as info:
            build(_opts(config, afile), dry_run=dry_run)
        assert info.value.message.startswith("cannot create the profile folder: ")
        assert info.value.file == str(afile / "containers")
        assert str(info.value).count("\n") == 0
    assert not os.path.exists(host_out)  # checked before the build
    assert afile.is_file() and afile.read_text() == ""


def test_a_missing_parent_folder_is_made_only_when_profiles_are_set(setup) -> None:
    config, profiles = setup
    deep = profiles / "a" / "b"
    the_plan = plan(_opts(config, deep))  # the check creates nothing it leaves behind
    assert the_plan.to_build and not profiles.exists()
    result = build(_opts(config, deep))
    assert (deep / "system").is_symlink() and deep / "system" in result.profiles_set


def test_an_os_error_while_setting_profiles_is_one_line_and_puts_every_one_back(
        setup, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    config, profiles = setup
    build(_opts(config, profiles))
    _second_build_setup(config)
    from nixgen.nix import Nix

    real = Nix.set_profile

    def fail_on_host(self: Nix, profile: str, store_path: str) -> None:
        if Path(profile).name == "system":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(profile))
        real(self, profile, store_path)

    monkeypatch.setattr(Nix, "set_profile", fail_on_host)
    with pytest.raises(FileError) as info:
        build(_opts(config, profiles))
    assert info.value.file == str(profiles / "system")
    assert os.strerror(errno.EIO) in info.value.message and "\n" not in str(info.value)
    _as_after_the_first_build(profiles)


GENATTRS = """{ lib, ... }:
{
  containers = lib.genAttrs [ "dyn1" ] (n: { path = "/nix/var/nix/profiles/per-container/${n}/system"; });
}
"""


def test_names_computed_at_evaluation_are_listed_as_dynamic_never_removed(
        tmp_path: Path, nix_tools) -> None:
    config, profiles = tmp_path / "configuration.nix", tmp_path / "p"
    (tmp_path / "containers").mkdir()
    (tmp_path / "containers" / "dyn1.nix").write_text("{ boot.isContainer = true; }\n")
    config.write_text(GENATTRS)
    fresh = plan(_opts(config, profiles), write_derivations=False)
    assert _statuses(fresh)[("dyn1", "path")] == "skipped" and "dynamic" in fresh.item("dyn1").note
    config.write_text('{ containers.dyn1.path = "/nix/var/nix/profiles/per-container/dyn1/system"; }\n')
    build(_opts(config, profiles))  # dyn1 now has a profile
    config.write_text(GENATTRS)
    result = build(_opts(config, profiles))
    dyn1 = [i for i in result.plan.items if i.name == "dyn1"]
    assert [(i.route, i.status) for i in dyn1] == [("path", "skipped")], dyn1
    assert "dynamic" in dyn1[0].note and "no longer declared" not in dyn1[0].note
    assert dyn1[0].profile == profiles / "per-container" / "dyn1" / "system"
    assert dyn1[0].current and not dyn1[0].builds
    assert os.readlink(profiles / "per-container" / "dyn1" / "system") == "system-1-link"


def test_a_path_container_moved_to_the_config_route_is_not_called_undeclared(setup) -> None:
    config, profiles = setup
    build(_opts(config, profiles))
    config.write_text(HOST.replace('systemd.containers.bar.path = "/nix/var/nix/profiles/'
                                   'containers/bar";', "systemd.containers.bar.config = { };"))
    the_plan = plan(_opts(config, profiles), write_derivations=False)
    old = next(i for i in the_plan.items if i.name == "bar" and i.route == "path")
    assert old.profile == profiles / "containers" / "bar"
    assert "config-route" in old.note and "no longer declared" not in old.note
    assert _statuses(the_plan)[("bar", "config")] in ("new", "changed")


BAR_BROKEN_DEP = """{ ... }: { boot.isContainer = true; environment.systemPackages = [ (derivation {
  name = "bar-dep-%s"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "echo bar-dep-broke >&2; exit 1" ]; }) ]; }
"""


HOST_DEP = """pkgs.vim (derivation { name = "host-dep-%s"; builder = "/bin/sh";
    system = builtins.currentSystem; args = [ "-c" "sleep 1; echo > $out" ]; }) ]"""


def test_a_stopped_build_blames_only_the_systems_that_failed(setup) -> None:
    config, profiles = setup
    tag = uuid.uuid4().hex[:8]
    config.write_text(HOST.replace("buildhost", "st" + tag).replace("pkgs.vim ]", HOST_DEP % tag))
    (config.parent / "containers" / "bar.nix").write_text(BAR_BROKEN_DEP % tag)
    with pytest.raises(NixCommandError) as info:
        build(_opts(config, profiles, jobs=1))
    err = info.value
    message = str(err)
    assert message.startswith("building bar failed (") and "bar-dep-broke" in message
    assert getattr(err, "failed", None) is not None and list(err.failed) == ["bar"]
    host_out = Path(plan(_opts(config, profiles), write_derivations=False).item("host").new)
    if not host_out.exists():  # Nix stopped before the host: said so, not blamed
        assert err.not_built == ["host"]
        assert "not built because the build stopped: host" in message
    else:
        assert err.not_built == [] and "not built" not in message
    assert not profiles.exists() or not (profiles / "system").exists()


HOST_CONTAINER = """{ ... }:
{
  networking.hostName = "named";
  systemd.containers.host.path = "/nix/var/nix/profiles/containers/host";
}
"""


def test_a_container_called_host_is_named_container_host(tmp_path: Path, nix_tools) -> None:
    config, profiles = tmp_path / "configuration.nix", tmp_path / "p"
    (tmp_path / "containers").mkdir()
    config.write_text(HOST_CONTAINER)
    (tmp_path / "containers" / "host.nix").write_text("{ boot.isContainer = true; }\n")
    with pytest.raises(UsageError, match="container:host"):
        plan(_opts(config, profiles, only=["host"]), write_derivations=False)
    result = build(_opts(config, profiles, only=["container:host"]))
    assert result.profiles_set == [profiles / "containers" / "host"]
    assert not (profiles / "system").exists()
    assert result.plan.item("container:host").route == "path"
    assert result.plan.item("system:host").route == "host"
    assert [i.label for i in result.plan.items] == ["host", "container:host"]
    opts = _opts(config, profiles)
    with pytest.raises(UsageError, match="system:host"):
        generations("host", opts)
    with pytest.raises(UsageError, match="container:host"):
        rollback("host", opts)
    assert [g.number for g in generations("container:host", opts)] == [1]
    with pytest.raises(FileError, match="no profile yet"):
        generations("system:host", opts)
    only_host = build(_opts(config, profiles, only=["system:host"]))
    assert only_host.profiles_set == [profiles / "system"]
