"""Library tests of nixgen.containers: discovery in every form, plans, validation, transactions."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from conftest import nix_parse_ok
from container_helpers import CONTAINER_FIXTURES, copy_configuration, ssh_key

from nixgen.container_edit import plan_add, plan_remove
from nixgen.container_specs import (
    ContainerSpec,
    parse_bind_mount,
    parse_forward_port,
    validate_name,
    validate_ports,
    validate_ssh_key,
)
from nixgen.containers import Container, discover, host_ssh_ports
from nixgen.errors import ConflictError, FileError, NixSyntaxError, UsageError, ValidationError


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXGEN_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return copy_configuration(tmp_path, "plain")


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    return copy_configuration(tmp_path, "forms")


def commit(plan) -> None:
    from nixgen.files import commit as files_commit

    files_commit(plan.changes)


def by_name(containers: list[Container]) -> dict[str, Container]:
    return {c.name: c for c in containers if not c.dynamic}


# --- discovery -------------------------------------------------------------------------------------


def test_discover_every_form(forms: Path) -> None:
    found = discover(forms)
    named = by_name(found)
    assert set(named) == {"alpha", "beta", "gamma-1", "delta", "web", "db", "epsilon", "app"}
    assert named["alpha"].dialect == "legacy" and named["alpha"].route == "config"
    assert named["alpha"].line == 14
    assert named["beta"].dialect == "legacy" and named["beta"].line == 20
    gamma = named["gamma-1"]
    assert gamma.dialect == "modern"
    assert len(gamma.definitions) == 3
    assert gamma.line == 25
    assert named["delta"].conditional and named["delta"].route == "path"
    assert named["web"].file.name == "web.nix"
    assert named["db"].file.name == "db.nix"
    assert named["epsilon"].file.name == "default.nix"
    assert "commented" not in named and "notme" not in named


def test_discover_reads_literal_values(forms: Path) -> None:
    named = by_name(discover(forms))
    assert named["alpha"].ports == [2022]
    assert named["beta"].ports == [2023]
    assert named["web"].ports == [2300]
    assert named["web"].auto_start is True
    assert named["gamma-1"].private_network is True
    assert named["delta"].profile == "/nix/var/nix/profiles/per-container/delta/system"


def test_discover_dynamic_names_are_reported_not_guessed(forms: Path) -> None:
    dynamic = [c for c in discover(forms) if c.dynamic]
    texts = sorted(c.name for c in dynamic)
    assert any("${dynName}" in t for t in texts)
    assert any(t.startswith("lib.mapAttrs") for t in texts)
    mapped = next(c for c in dynamic if c.name.startswith("lib.mapAttrs"))
    assert mapped.file.name == "db.nix" and mapped.line == 6
    assert all(c.name != "generated" for c in discover(forms))


def test_discover_import_cycle_terminates(tmp_path: Path) -> None:
    (tmp_path / "a.nix").write_text("{ imports = [ ./b.nix ]; containers.a.config = { }; }\n")
    (tmp_path / "b.nix").write_text("{ imports = [ ./a.nix ]; containers.b.config = { }; }\n")
    assert [c.name for c in discover(tmp_path / "a.nix")] == ["a", "b"]


def test_discover_plain_attrset_and_no_containers(plain: Path) -> None:
    assert discover(plain) == []


def test_discover_missing_import_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "c.nix").write_text("{ imports = [ ./gone.nix ]; containers.x.config = { }; }\n")
    assert [c.name for c in discover(tmp_path / "c.nix")] == ["x"]


def test_host_ssh_ports(plain: Path, forms: Path, tmp_path: Path) -> None:
    assert host_ssh_ports(plain) == [22]
    assert host_ssh_ports(forms) == [22, 2200]
    off = tmp_path / "off.nix"
    off.write_text("{ services.openssh.ports = [ 2000 ]; }\n")
    assert host_ssh_ports(off) == [2000]
    none = tmp_path / "none.nix"
    none.write_text("{ networking.hostName = \"x\"; }\n")
    assert host_ssh_ports(none) == []


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1abc", "-abc", "a_b", "a.b", "", "ab c", "ä"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValidationError):
        validate_name(name)


def test_the_name_host_is_kept_for_the_hosts_own_system() -> None:
    with pytest.raises(ValidationError, match=r"'host'.*build, generations and rollback"):
        validate_name("host")
    assert validate_name("hosts") == "hosts" and validate_name("Host") == "Host"


def test_name_length_with_private_network() -> None:
    assert validate_name("abcdefghijk", private_network=True) == "abcdefghijk"
    assert validate_name("abcdefghijkl") == "abcdefghijkl"
    with pytest.raises(ValidationError, match="at most 11"):
        validate_name("abcdefghijkl", private_network=True)


@pytest.mark.parametrize("ports", [[0], [65536], [-1], [22, 22]])
def test_invalid_ports(ports: list[int]) -> None:
    with pytest.raises(ValidationError):
        validate_ports(ports)


@pytest.mark.parametrize(
    "kind",
    ["ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com"],
)
def test_valid_ssh_keys(kind: str) -> None:
    key = ssh_key(kind)
    assert validate_ssh_key("  " + key + "\n") == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "ssh-foo AAAA",
        "ssh-ed25519",
        "ssh-ed25519 not*base64",
        "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x07ssh-rsa").decode(),
        ssh_key().replace(" me@host", "\nssh-rsa x"),
    ],
)
def test_invalid_ssh_keys(key: str) -> None:
    with pytest.raises(ValidationError):
        validate_ssh_key(key)


def test_forward_port_and_bind_mount_forms() -> None:
    assert parse_forward_port("8080") == {"hostPort": 8080, "containerPort": 8080, "protocol": "tcp"}
    assert parse_forward_port("53:5353/udp") == {
        "hostPort": 53, "containerPort": 5353, "protocol": "udp"}
    for bad in ("x", "80/icmp", "0:80", "80:"):
        with pytest.raises(ValidationError):
            parse_forward_port(bad)
    assert parse_bind_mount("/srv") == ("/srv", {"hostPath": "/srv", "isReadOnly": True})
    assert parse_bind_mount("/srv:/data:rw") == ("/data", {"hostPath": "/srv", "isReadOnly": False})
    for bad in ("srv", "/a:b", "/a:/b:/c:ro"):
        with pytest.raises(ValidationError):
            parse_bind_mount(bad)


def test_modern_only_options_refused_in_legacy(plain: Path) -> None:
    before = plain.read_bytes()
    spec = ContainerSpec("foo", dialect="legacy", auto_start=True)
    with pytest.raises(ValidationError, match="modern dialect"):
        plan_add(plain, spec)
    assert plain.read_bytes() == before


def test_addresses_need_private_network(plain: Path) -> None:
    with pytest.raises(UsageError):
        plan_add(plain, ContainerSpec("foo", dialect="modern", host_address="10.0.0.1"))
    with pytest.raises(ValidationError, match="invalid IP"):
        plan_add(plain, ContainerSpec("foo", dialect="modern", private_network=True,
                                      host_address="10.0.0.300"))


def test_top_level_must_be_an_attrset(tmp_path: Path) -> None:
    bad = tmp_path / "c.nix"
    bad.write_text("[ 1 2 ]\n")
    with pytest.raises(ValidationError, match="not an attribute set"):
        plan_add(bad, ContainerSpec("foo", ports=[2022]))


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(FileError):
        plan_add(tmp_path / "nope.nix", ContainerSpec("foo"))
    broken = tmp_path / "broken.nix"
    broken.write_text("{ a = ; }\n")
    with pytest.raises(NixSyntaxError):
        discover(broken)


# --- plans -----------------------------------------------------------------------------------


def test_plan_add_legacy_config_text(plain: Path, nix_instantiate: str) -> None:
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022], ssh_keys=[ssh_key()]))
    assert not plan.noop and plan.dialect == "legacy" and plan.route == "config"
    [change] = plan.changes
    text = change.new_data.decode()
    assert "  systemd.containers.foo.config = {\n    services.openssh.enable = true;\n" in text
    assert "    services.openssh.ports = [ 2022 ];\n" in text
    assert "    users.extraUsers.root.openssh.authorizedKeys.keys = [\n" in text
    assert '      "ssh-ed25519 AAAA' in text
    assert nix_parse_ok(change.new_data, nix_instantiate)[0]


def test_plan_add_into_existing_literal(tmp_path: Path, nix_instantiate: str) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text(
        "{ ... }:\n{\n  systemd.containers = {\n    bar.config = { };\n  };\n}\n"
    )
    plan = plan_add(cfg, ContainerSpec("foo", ports=[2022]))
    text = plan.changes[0].new_data.decode()
    assert text.count("systemd.containers") == 1
    assert "    foo.config = {\n      services.openssh.enable = true;" in text
    assert nix_parse_ok(text, nix_instantiate)[0]


def test_plan_modern_copies_state_version(plain: Path) -> None:
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022], dialect="modern"))
    text = plan.changes[0].new_data.decode()
    assert 'system.stateVersion = "23.11";' in text.split("containers.foo")[1]
    assert "users.users.root" not in text


def test_second_add_edits_the_defining_file(forms: Path, nix_instantiate: str) -> None:
    web = forms.parent / "modules" / "web.nix"
    before_top = forms.read_bytes()
    plan = plan_add(forms, ContainerSpec("web", ports=[2301]))
    assert [c.path.name for c in plan.changes] == ["web.nix"]
    commit(plan)
    assert forms.read_bytes() == before_top
    assert "[ 2300 2301 ]" in web.read_text()
    assert nix_parse_ok(web.read_bytes(), nix_instantiate)[0]


def test_remove_edits_every_defining_file(forms: Path) -> None:
    plan = plan_remove(forms, "gamma-1")
    commit(plan)
    assert "gamma-1" not in forms.read_text()
    assert plan_remove(forms, "gamma-1").noop


def test_conflict_names_file_and_line(forms: Path) -> None:
    with pytest.raises(ValidationError) as err:
        plan_add(forms, ContainerSpec("alpha", dialect="modern"))
    assert err.value.line == 14 and err.value.file.endswith("configuration.nix")
    plan = plan_add(forms, ContainerSpec("alpha", dialect="modern", ports=[2024], replace=True))
    text = plan.changes[0].new_data.decode()
    assert "systemd.containers.alpha" not in text and "containers.alpha = {" in text


def test_port_clash_with_host_sshd_and_other_container(forms: Path) -> None:
    with pytest.raises(ValidationError, match="host's sshd"):
        plan_add(forms, ContainerSpec("new", ports=[2200]))
    with pytest.raises(ValidationError, match="container alpha"):
        plan_add(forms, ContainerSpec("new", ports=[2022]))
    assert not plan_add(forms, ContainerSpec("new", ports=[2022], force=True)).noop
    assert not plan_add(forms, ContainerSpec(
        "new", ports=[2022], dialect="modern", private_network=True)).noop


def test_buffers_override_disk(plain: Path) -> None:
    buffer = plain.read_bytes().replace(b"system.stateVersion", b"containers.x.config = { };\n  system.stateVersion")
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022]), buffers={plain: buffer})
    assert plan.dialect == "modern"
    assert b"containers.x.config" in plan.changes[0].new_data


def test_concurrent_modification_is_refused(plain: Path) -> None:
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022]))
    plain.write_text(plain.read_text() + "\n# edited meanwhile\n")
    edited = plain.read_bytes()
    with pytest.raises(ConflictError):
        commit(plan)
    assert plain.read_bytes() == edited


def test_path_route_is_one_transaction(plain: Path) -> None:
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022], route="path"))
    names = sorted(str(c.path.relative_to(plain.parent)) for c in plan.changes)
    assert names == ["configuration.nix", os.path.join("containers", "foo.nix")]
    plain.write_text(plain.read_text() + "# meanwhile\n")
    with pytest.raises(ConflictError):
        commit(plan)
    assert not (plain.parent / "containers" / "foo.nix").exists()


def test_dialect_rules(plain: Path, forms: Path) -> None:
    from nixgen.container_edit import choose_dialect

    spec = ContainerSpec("foo")
    assert choose_dialect(spec, [], None, None)[0] == "legacy"
    assert choose_dialect(spec, [], None, {"modern"}) == (
        "modern", "the NixOS consulted declares only containers.<name>")
    assert choose_dialect(spec, [], None, {"legacy", "modern"})[0] == "legacy"
    modern_only = ContainerSpec("foo", private_network=True)
    assert choose_dialect(modern_only, [], None, None)[0] == "modern"
    found = discover(forms)
    dialect, why = choose_dialect(spec, found, None, {"legacy"})
    assert dialect == "modern" and "already uses containers." in why
    explicit = ContainerSpec("foo", dialect="legacy")
    assert choose_dialect(explicit, found, None, None)[0] == "legacy"
    legacy_file = plan_add(plain, ContainerSpec("a1", ports=[2100]))
    assert legacy_file.dialect == "legacy"


def test_ssh_keys_are_appended_once(plain: Path) -> None:
    commit(plan_add(plain, ContainerSpec("foo", ports=[2022], ssh_keys=[ssh_key()])))
    plan = plan_add(plain, ContainerSpec("foo", ssh_keys=[ssh_key(), ssh_key("ssh-rsa", "b@x")]))
    text = plan.changes[0].new_data.decode()
    assert text.count("me@host") == 1 and text.count("b@x") == 1
    assert text.count("authorizedKeys.keys") == 1


# --- properties ------------------------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True)
PORTS = st.lists(st.integers(1024, 65535), max_size=3, unique=True)


@given(
    name=NAMES,
    ports=PORTS,
    dialect=st.sampled_from(["legacy", "modern"]),
    route=st.sampled_from(["config", "path"]),
    auto_start=st.booleans(),
)
def test_add_then_remove_is_identity(
    nix_instantiate: str, name: str, ports: list[int], dialect: str, route: str,
    auto_start: bool,
) -> None:
    cfg = CONTAINER_FIXTURES / "plain" / "configuration.nix"
    original = cfg.read_bytes()
    spec = ContainerSpec(name, ports=ports, dialect=dialect, route=route,
                         auto_start=auto_start and dialect == "modern")
    plan = plan_add(cfg, spec, buffers={cfg: original})
    new = {c.path: c.new_data for c in plan.changes}
    assert set(new) <= {cfg, cfg.parent / "containers" / f"{name}.nix"}
    for data in new.values():
        assert data is not None
        assert nix_parse_ok(data, nix_instantiate)[0], data.decode()
    again = plan_add(cfg, spec, buffers={**new})
    assert again.noop, again.summary
    [found] = [c for c in discover(cfg, buffers={cfg: new[cfg]}) if c.name == name]
    assert (found.dialect, found.route) == (dialect, route)
    if route == "config":
        assert found.ports == ports
    removed = plan_remove(cfg, name, buffers={cfg: new[cfg]})
    assert [c.new_data for c in removed.changes] == [original]


def test_full_form_module_under_config_mkif(forms: Path, nix_instantiate: str) -> None:
    full = forms.parent / "modules" / "full.nix"
    [app] = [c for c in discover(forms) if c.name == "app"]
    assert app.file == full and app.line == 10 and app.conditional
    assert app.ports == [2400] and app.auto_start is True
    top = forms.read_bytes()
    plan = plan_add(forms, ContainerSpec("app", ports=[2401]))
    assert [c.path for c in plan.changes] == [full]
    commit(plan)
    assert "services.openssh.ports = [ 2400 2401 ];" in full.read_text()
    assert forms.read_bytes() == top
    commit(plan_remove(forms, "app"))
    text = full.read_text()
    assert "containers.app" not in text and "options.services.myapp.enable" in text
    assert nix_parse_ok(text, nix_instantiate)[0]


def test_new_container_in_full_form_file_goes_under_config(tmp_path: Path) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text("{ lib, ... }:\n{\n  options.x = lib.mkOption { };\n  config = {\n"
                   "    networking.hostName = \"h\";\n  };\n}\n")
    plan = plan_add(cfg, ContainerSpec("foo", ports=[2022]))
    text = plan.changes[0].new_data.decode()
    assert "    systemd.containers.foo.config = {\n" in text
    assert text.index("systemd.containers") > text.index("config = {")
    cfg.write_bytes(plan.changes[0].new_data)
    assert [c.name for c in discover(cfg)] == ["foo"]


@pytest.mark.parametrize(
    ("newline", "unit"), [("\r\n", "  "), ("\n", "\t"), ("\n", "    ")], ids=["crlf", "tabs", "four"]
)
def test_style_of_the_file_is_kept(tmp_path: Path, newline: str, unit: str,
                                   nix_instantiate: str) -> None:
    lines = ["{ config, ... }:", "{", f"{unit}networking.hostName = \"h\";",
             f"{unit}boot.loader.grub = {{", f"{unit}{unit}enable = true;", f"{unit}}};", "}", ""]
    cfg = tmp_path / "configuration.nix"
    original = newline.join(lines).encode()
    cfg.write_bytes(original)
    for dialect, route in (("legacy", "config"), ("modern", "path")):
        plan = plan_add(cfg, ContainerSpec("foo", ports=[2022], dialect=dialect, route=route,
                                           auto_start=dialect == "modern"))
        for change in plan.changes:
            data = change.new_data
            assert nix_parse_ok(data, nix_instantiate)[0]
            if newline == "\r\n":
                assert data.count(b"\n") == data.count(b"\r\n")
        text = plan.changes[0].new_data.decode()
        if dialect == "legacy":
            assert f"{newline}{unit}{unit}services.openssh.ports = [ 2022 ];" in text
        else:
            assert f"{newline}{unit}{unit}autoStart = true;" in text
        commit(plan)
        commit(plan_remove(cfg, "foo", delete_file=True))
        assert cfg.read_bytes() == original


def test_ssh_key_comment_with_nix_syntax_round_trips(plain: Path, nix_instantiate: str) -> None:
    key = ssh_key(comment='a"b ${x} \\c')
    plan = plan_add(plain, ContainerSpec("foo", ports=[2022], ssh_keys=[key]))
    data = plan.changes[0].new_data
    assert nix_parse_ok(data, nix_instantiate)[0]
    commit(plan)
    [found] = discover(plain)
    assert found.ssh_keys == [key]


def test_whole_container_sets_built_by_expressions_are_dynamic(tmp_path: Path) -> None:
    cfg = tmp_path / "c.nix"
    cfg.write_text(
        "{ config, lib, ... }:\nlet\n  cfg = import ./x.nix;\n  mine = { a.config = { }; };\nin\n{\n"
        "  inherit (cfg) containers;\n"
        "  systemd = { inherit (cfg.systemd) containers; };\n"
        "}\n"
    )
    found = discover(cfg)
    assert [(c.name, c.dialect, c.dynamic, c.line) for c in found] == [
        ("inherit (cfg) containers;", "modern", True, 7),
        ("inherit (cfg.systemd) containers;", "legacy", True, 8),
    ]
    cfg.write_text("let mine = { a.config = { }; }; in\n{ containers = mine // { b.config = { }; }; }\n")
    [only] = discover(cfg)
    assert only.dynamic and only.name == "mine // { b.config = { }; }" and only.line == 2


@pytest.mark.parametrize("module", ["nixgen.container_edit", "nixgen.containers",
                                    "nixgen.container_specs", "nixgen.editops"])
def test_each_container_module_imports_on_its_own(module: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_discover_follows_let_bound_values_and_keeps_unread_sites(tmp_path: Path) -> None:
    cfg = tmp_path / "configuration.nix"
    cfg.write_text(
        "{ config, ... }:\nlet\n  sshPort = 2024;\n  guest = { services.openssh.enable = true; };\n"
        "in\n{\n"
        "  systemd.containers.a.config = {\n"
        "    services.openssh.enable = true;\n"
        "    services.openssh.ports = [ sshPort 2023 config.x ];\n"
        "  };\n"
        "  systemd.containers.b.config = guest;\n"
        "}\n"
    )
    a, b = discover(cfg)
    assert a.ports == [2024, 2023] and a.sshd_ports() == [2024, 2023]
    assert a.port_sites == {2024: f"{cfg}:9", 2023: f"{cfg}:9"}
    assert a.ports_unread == [f"{cfg}:9"] and a.unreadable == {"ports": ["config.x"]}
    assert b.route == "config" and b.ssh_enabled is True
    assert b.ports_default and b.sshd_ports() == [22]
    assert b.port_site(22) == f"{cfg}:4"
