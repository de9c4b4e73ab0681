"""Regression tests for container edits found by using nixgen as a NixOS user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import nix_parse_ok
from container_helpers import ssh_key

from nixgen.container_edit import plan_add, plan_remove
from nixgen.container_specs import ContainerSpec
from nixgen.containers import discover
from nixgen.errors import ValidationError
from nixgen.files import commit


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXGEN_STATE_DIR", str(tmp_path / "state"))


def write(tmp_path: Path, text: str, name: str = "configuration.nix") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def add(config: Path, spec: ContainerSpec) -> str:
    plan = plan_add(config, spec)
    commit(plan.changes)
    return config.read_text()


HOST = """{ config, pkgs, ... }:

{
  networking.hostName = "host";

  services.openssh.enable = true;

  system.stateVersion = "23.11";
}
"""


def test_a_key_given_twice_is_written_once(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    key = ssh_key()
    same_key_other_comment = key.rsplit(" ", 1)[0] + " other@laptop"
    text = add(config, ContainerSpec("foo", ports=[2022],
                                     ssh_keys=[key, key, same_key_other_comment]))
    assert text.count(key.split()[1]) == 1
    assert plan_add(config, ContainerSpec("foo", ports=[2022], ssh_keys=[key])).noop


def test_extending_an_empty_container_set_lays_it_out(tmp_path: Path,
                                                       nix_instantiate: str) -> None:
    original = "{ ... }:\n{\n  containers.web = { };\n}\n"
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("web", ports=[2022], auto_start=True))
    assert text == (
        "{ ... }:\n{\n"
        "  containers.web = {\n"
        "    config = {\n"
        "      services.openssh.enable = true;\n"
        "      services.openssh.ports = [ 2022 ];\n"
        "    };\n"
        "    autoStart = true;\n"
        "  };\n"
        "}\n"
    )
    assert nix_parse_ok(text.encode(), nix_instantiate)[0]


def test_extending_a_one_line_config_set_lays_it_out(tmp_path: Path,
                                                     nix_instantiate: str) -> None:
    original = (
        "{ ... }:\n{\n"
        "  systemd.containers = {\n"
        "    qux = {\n"
        "      config = { services.nginx.enable = true; };\n"
        "    };\n"
        "  };\n"
        "}\n"
    )
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("qux", ports=[2030]))
    assert text == (
        "{ ... }:\n{\n"
        "  systemd.containers = {\n"
        "    qux = {\n"
        "      config = {\n"
        "        services.nginx.enable = true;\n"
        "        services.openssh.enable = true;\n"
        "        services.openssh.ports = [ 2030 ];\n"
        "      };\n"
        "    };\n"
        "  };\n"
        "}\n"
    )
    assert nix_parse_ok(text.encode(), nix_instantiate)[0]


def test_one_line_set_with_a_comment_is_left_to_the_engine(tmp_path: Path) -> None:
    original = "{\n  containers.web = { /* keep */ autoStart = true; };\n}\n"
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("web", ports=[2022]))
    assert "/* keep */" in text


def test_new_block_is_set_apart_by_a_blank_line(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    text = add(config, ContainerSpec("foo", ports=[2022]))
    assert '  system.stateVersion = "23.11";\n\n  systemd.containers.foo.config = {\n' in text
    commit(plan_remove(config, "foo").changes)
    assert config.read_text() == HOST


def test_no_blank_line_where_the_file_uses_none(tmp_path: Path) -> None:
    dense = "{\n  a = 1;\n  b = 2;\n}\n"
    config = write(tmp_path, dense)
    text = add(config, ContainerSpec("foo", ports=[2022]))
    assert "  b = 2;\n  systemd.containers.foo.config = {\n" in text


@pytest.mark.parametrize(
    ("body", "dialect"),
    [("containers = { };", "modern"), ("systemd.containers = { };", "legacy")],
)
def test_auto_dialect_follows_an_empty_container_set(tmp_path: Path, body: str,
                                                     dialect: str) -> None:
    config = write(tmp_path, "{ ... }:\n{\n  " + body + "\n}\n")
    plan = plan_add(config, ContainerSpec("web", ports=[2022]))
    assert plan.dialect == dialect
    assert any(body.split(" ")[0] in note for note in plan.notes)


def test_json_lists_the_ssh_keys(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    key = ssh_key()
    add(config, ContainerSpec("foo", ports=[2022], ssh_keys=[key]))
    [found] = discover(config)
    data = found.to_json()
    assert data["ssh_keys"] == [key]
    assert data["ssh_enabled"] is True


def test_default_port_clash_says_no_port_was_given(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("foo", ssh_keys=[ssh_key()]))
    message = info.value.message
    assert "port 22" in message and "no --port" in message


def test_host_sshd_switched_off_does_not_clash(tmp_path: Path) -> None:
    config = write(tmp_path, "{\n  services.openssh.enable = false;\n"
                             "  services.openssh.ports = [ 2022 ];\n}\n")
    plan = plan_add(config, ContainerSpec("foo", ports=[2022]))
    assert not plan.noop


FUNCTION_CONFIG = """{ config, lib, pkgs, ... }:

{
  containers.bar = {
    privateNetwork = true;
    config = { config, pkgs, ... }: {
      services.nginx.enable = true;
      system.stateVersion = "24.05";
    };
  };
}
"""


def test_ports_go_into_a_config_written_as_a_module_function(tmp_path: Path,
                                                             nix_instantiate: str) -> None:
    config = write(tmp_path, FUNCTION_CONFIG)
    key = ssh_key()
    text = add(config, ContainerSpec("bar", ports=[2040], ssh_keys=[key]))
    assert text == FUNCTION_CONFIG.replace(
        '      services.nginx.enable = true;\n',
        '      services.nginx.enable = true;\n'
        '      services.openssh.enable = true;\n'
        '      services.openssh.ports = [ 2040 ];\n',
    ).replace(
        '      system.stateVersion = "24.05";\n',
        '      system.stateVersion = "24.05";\n'
        '      users.users.root.openssh.authorizedKeys.keys = [\n'
        f'        "{key}"\n'
        '      ];\n',
    )
    assert nix_parse_ok(text.encode(), nix_instantiate)[0]
    [found] = discover(config)
    assert found.ports == [2040] and found.ssh_keys == [key] and found.ssh_enabled is True
    assert plan_add(config, ContainerSpec("bar", ports=[2040], ssh_keys=[key])).noop


def test_a_config_function_without_a_set_body_is_still_refused(tmp_path: Path) -> None:
    config = write(tmp_path, "{\n  containers.bar.config = args: import ./guest.nix args;\n}\n")
    with pytest.raises(ValidationError, match="not an attribute set that nixgen can edit"):
        plan_add(config, ContainerSpec("bar", ports=[2040]))


@pytest.mark.parametrize(
    ("old", "new"),
    [("a = 1;", "a = 12;"), ("x = \"é\";", "x = \"è\";"), ("ab", "ab"), ("", "q"), ("é", "")],
)
def test_replacement_covers_only_what_changed(old: str, new: str) -> None:
    from nixgen.container_edit import _replacement
    from nixgen.edits import apply_edits

    prefix = b"# head\n"
    edit = _replacement(len(prefix), old.encode(), new.encode())
    assert apply_edits(prefix + old.encode() + b"\n", [edit]) == prefix + new.encode() + b"\n"
    assert edit.end - edit.start <= len(old.encode())


def test_path_route_file_goes_beside_the_real_configuration(tmp_path: Path) -> None:
    real = tmp_path / "repo" / "configuration.nix"
    real.parent.mkdir()
    real.write_text(HOST)
    link = tmp_path / "etc" / "configuration.nix"
    link.parent.mkdir()
    link.symlink_to(real)
    commit(plan_add(link, ContainerSpec("foo", ports=[2022], route="path")).changes)
    assert (tmp_path / "repo" / "containers" / "foo.nix").is_file()
    assert not (tmp_path / "etc" / "containers").exists()
    [found] = discover(link)
    assert found.container_file is not None
    assert found.container_file.resolve() == (tmp_path / "repo" / "containers" / "foo.nix")
    assert found.ports == [2022]
    commit(plan_remove(link, "foo", delete_file=True).changes)
    assert not (tmp_path / "repo" / "containers" / "foo.nix").exists()
    assert real.read_text() == HOST


def test_json_of_removing_an_unknown_container_says_null_not_empty(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    data = plan_remove(config, "nope").to_json()
    assert data["changed"] is False
    assert data["dialect"] is None and data["route"] is None


MODERN_FORWARD = """{
  containers.bar = {
    privateNetwork = true;
    hostAddress = "192.168.100.10";
    forwardPorts = [
      { protocol = "tcp"; hostPort = 8080; containerPort = 80; }
    ];
  };
  containers.web = {
    privateNetwork = true;
  };
}
"""


def test_forwarding_a_forwarded_host_port_elsewhere_is_a_conflict(tmp_path: Path) -> None:
    config = write(tmp_path, MODERN_FORWARD)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("bar", private_network=True, forward_ports=["8080:81"]))
    assert "8080" in info.value.message and "--replace" in info.value.message
    assert info.value.line == 5
    # another protocol on the same port is another forward
    plan = plan_add(config, ContainerSpec("bar", private_network=True,
                                          forward_ports=["8080:81/udp"]))
    assert not plan.noop


def test_forward_clash_does_not_suggest_a_private_network(tmp_path: Path) -> None:
    config = write(tmp_path, MODERN_FORWARD)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("web", private_network=True, forward_ports=["8080"]))
    message = info.value.message
    assert "port 8080" in message and "container bar" in message
    assert "--private-network" not in message and "--force" in message


def test_a_different_value_is_named_in_the_conflict(tmp_path: Path) -> None:
    config = write(tmp_path, MODERN_FORWARD)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("bar", private_network=True, host_address="10.1.1.1"))
    assert '"192.168.100.10"' in info.value.message and '"10.1.1.1"' in info.value.message


def test_a_forward_written_without_protocol_is_the_same_tcp_forward(tmp_path: Path) -> None:
    config = write(tmp_path, MODERN_FORWARD.replace('protocol = "tcp"; ', ""))
    plan = plan_add(config, ContainerSpec("bar", private_network=True, forward_ports=["8080:80"]))
    assert plan.noop


def test_udp_forward_does_not_clash_with_the_tcp_sshd(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    plan = plan_add(config, ContainerSpec("dns", dialect="modern", private_network=True,
                                          forward_ports=["22/udp"]))
    assert not plan.noop
    with pytest.raises(ValidationError, match="host port 22 cannot be forwarded"):
        plan_add(config, ContainerSpec("dns", dialect="modern", private_network=True,
                                       forward_ports=["22"]))


def test_legacy_port_clash_does_not_suggest_a_modern_option(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("foo", ports=[22], dialect="legacy"))
    assert "--private-network" not in info.value.message and "--force" in info.value.message
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("foo", ports=[22], dialect="modern"))
    assert "--private-network" in info.value.message


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        (ContainerSpec("bar", private_network=True, host_address="10.1.1.1"), (4, 5)),
        (ContainerSpec("bar", ports=[2022], dialect="legacy"), (2, 3)),
        (ContainerSpec("bar", private_network=True, forward_ports=["8080:81"]), (5, 5)),
    ],
)
def test_conflicts_point_at_line_and_column(tmp_path: Path, spec: ContainerSpec,
                                            where: tuple[int, int]) -> None:
    config = write(tmp_path, MODERN_FORWARD)
    with pytest.raises(ValidationError) as info:
        plan_add(config, spec)
    assert (info.value.line, info.value.col) == where
    assert str(info.value).startswith(f"{config}:{where[0]}:{where[1]}: ")


REPLACE_HOST = """{ config, pkgs, ... }:

{
  services.openssh.enable = true;

  # The web container.
  containers.web = {
    autoStart = true;
    config = { config, pkgs, ... }: { services.nginx.enable = true; };
  };

  containers.db.path = "/nix/var/nix/profiles/per-container/db/system";

  system.stateVersion = "24.05";
}
"""


def test_replace_without_a_conflict_adds_like_a_plain_add(tmp_path: Path,
                                                         nix_instantiate: str) -> None:
    config = write(tmp_path, REPLACE_HOST)
    replaced = add(config, ContainerSpec("web", ports=[2050], dialect="modern", replace=True))
    config.write_text(REPLACE_HOST)
    plain = add(config, ContainerSpec("web", ports=[2050], dialect="modern"))
    assert replaced == plain
    assert "autoStart = true;" in replaced and "services.nginx.enable = true;" in replaced
    assert "# The web container." in replaced
    assert nix_parse_ok(replaced.encode(), nix_instantiate)[0]


def test_replace_in_place_also_changes_the_route(tmp_path: Path) -> None:
    config = write(tmp_path, REPLACE_HOST)
    text = add(config, ContainerSpec("web", ports=[2050], route="path", replace=True))
    assert '  # The web container.\n  containers.web.path = "/nix/var/nix/profiles/per-' \
           'container/web/system";\n\n  containers.db.path' in text
    assert (tmp_path / "containers" / "web.nix").is_file()


def test_replace_into_another_dialect_inside_a_nested_set_falls_back(tmp_path: Path) -> None:
    original = "{\n  systemd.containers = {\n    qux.config = { };\n  };\n}\n"
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("qux", ports=[2050], dialect="modern", replace=True))
    assert "containers.qux = {" in text and "qux.config" not in text


GROUPED = """{
  services.openssh.enable = true;

  containers.db.path = "/nix/var/nix/profiles/per-container/db/system";

  system.stateVersion = "24.05";
}
"""


def test_a_new_block_ending_a_group_is_set_apart_from_the_line_above(tmp_path: Path) -> None:
    config = write(tmp_path, GROUPED)
    text = add(config, ContainerSpec("web", ports=[2050], auto_start=True))
    assert ('/db/system";\n\n  containers.web = {\n' in text
            and '  };\n\n  system.stateVersion' in text)
    commit(plan_remove(config, "web").changes)
    assert config.read_text() == GROUPED


def test_a_new_one_line_definition_stays_beside_its_relative(tmp_path: Path) -> None:
    config = write(tmp_path, GROUPED)
    text = add(config, ContainerSpec("web", route="path"))
    assert ('/db/system";\n  containers.web.path = "/nix/var/nix/profiles/per-container/web/'
            'system";\n\n  system.stateVersion') in text


def test_one_line_config_under_mkif_is_opened_too(tmp_path: Path, nix_instantiate: str) -> None:
    original = (
        "{ config, lib, ... }:\n{\n"
        "  options.my.enable = lib.mkEnableOption \"mine\";\n"
        "  config = lib.mkIf config.my.enable {\n"
        "    systemd.containers.old.config = { };\n"
        "  };\n}\n"
    )
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("old", ports=[2025]))
    assert (
        "    systemd.containers.old.config = {\n"
        "      services.openssh.enable = true;\n"
        "      services.openssh.ports = [ 2025 ];\n"
        "    };\n"
    ) in text
    assert nix_parse_ok(text.encode(), nix_instantiate)[0]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("{ }\n", "{\n  systemd.containers.web.config = {\n"),
        ("{ ... }: { services.openssh.enable = true; }\n",
         "{ ... }: {\n  services.openssh.enable = true;\n  systemd.containers.web.config = {\n"),
    ],
)
def test_a_module_body_on_one_line_is_opened(tmp_path: Path, original: str, expected: str,
                                            nix_instantiate: str) -> None:
    config = write(tmp_path, original)
    text = add(config, ContainerSpec("web", ports=[2022]))
    assert text.startswith(expected) and text.endswith("  };\n}\n")
    assert nix_parse_ok(text.encode(), nix_instantiate)[0]


def test_path_route_summary_names_the_new_container_file(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    plan = plan_add(config, ContainerSpec("foo", ports=[2022], route="path"))
    assert plan.summary.endswith(f"; created {tmp_path / 'containers' / 'foo.nix'}")


@pytest.mark.parametrize(
    ("given", "target", "host"),
    [
        ("/srv/", "/srv", "/srv"),
        ("/srv//data/:/data/:rw", "/data", "/srv/data"),
        ("/srv/./a/../b", "/srv/b", "/srv/b"),
        ("/", "/", "/"),
    ],
)
def test_bind_mount_paths_are_normalised(given: str, target: str, host: str) -> None:
    from nixgen.container_specs import parse_bind_mount

    got_target, value = parse_bind_mount(given)
    assert (got_target, value["hostPath"]) == (target, host)


def test_the_same_folder_with_a_trailing_slash_is_the_same_mount(tmp_path: Path) -> None:
    config = write(tmp_path, HOST)
    add(config, ContainerSpec("web", dialect="modern", bind_mounts=["/srv"]))
    assert plan_add(config, ContainerSpec("web", bind_mounts=["/srv/"])).noop


def test_an_address_written_differently_is_the_same_address(tmp_path: Path) -> None:
    config = write(tmp_path, "{\n  containers.web = {\n    privateNetwork = true;\n"
                             '    hostAddress6 = "FC00::0001";\n'
                             '    localAddress = "10.0.0.2/24";\n  };\n}\n')
    assert plan_add(config, ContainerSpec("web", private_network=True,
                                          host_address="fc00::1")).noop
    assert plan_add(config, ContainerSpec("web", private_network=True,
                                          local_address="10.0.0.2/24")).noop


def test_a_local_address_used_by_another_container_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path, "{\n  containers.web = {\n    privateNetwork = true;\n"
                             '    localAddress = "10.0.0.2/24";\n  };\n}\n')
    spec = ContainerSpec("db", private_network=True, local_address="10.0.0.2")
    with pytest.raises(ValidationError) as info:
        plan_add(config, spec)
    message = info.value.message
    assert "10.0.0.2" in message and "container web" in message and "--force" in message
    spec.force = True
    assert not plan_add(config, spec).noop
    assert not plan_add(config, ContainerSpec("db", private_network=True,
                                              local_address="10.0.0.3")).noop


def test_a_key_line_with_authorized_keys_options_is_accepted() -> None:
    from nixgen.container_specs import key_identity, validate_ssh_key

    key = ssh_key()
    line = f'from="10.0.0.0/8,192.168.1.1",command="echo hi there",no-pty {key}'
    assert validate_ssh_key(line) == line
    assert key_identity(line) == key_identity(key)
    with pytest.raises(ValidationError, match="unknown key type"):
        validate_ssh_key("no-pty,bogus")
    with pytest.raises(ValidationError, match="not base64"):
        validate_ssh_key('no-pty ssh-ed25519 !!!')


# --- sshd ports that are not literals are unknown, not 22 ---------------------------------------

def _host_ports_module(ports: str, head: str = "") -> str:
    return ("{ config, lib, ... }:\n" + head + "{\n"
            f"  services.openssh = {{ {ports} enable = true; }};\n" + "}\n")


@pytest.mark.parametrize("ports", ["ports = [ 2022 ] ++ [ ];", "ports = config.foo;",
                                   "ports = lib.mkForce (config.foo);",
                                   "inherit (config) ports;"])
def test_host_sshd_ports_that_are_not_a_literal_are_not_taken_for_22(
    tmp_path: Path, ports: str
) -> None:
    config = write(tmp_path, _host_ports_module(ports))
    for port in (22, 2022):
        plan = plan_add(config, ContainerSpec("foo", ports=[port]))
        assert not plan.noop
        assert plan.warnings, "the unread ports should be named"
        assert f"{config}:3" in plan.warnings[0] and "not checked" in plan.warnings[0]
        assert plan.warnings[0] in plan.notes


@pytest.mark.parametrize("ports", ["inherit ports;", "ports = ports;",
                                   "ports = lib.mkDefault ports;"])
def test_host_sshd_ports_from_a_let_literal_are_read(tmp_path: Path, ports: str) -> None:
    config = write(tmp_path, _host_ports_module(ports, "let ports = [ 2022 ]; in\n"))
    with pytest.raises(ValidationError, match=r"port 2022 is already used by the host's sshd"):
        plan_add(config, ContainerSpec("foo", ports=[2022]))
    plan = plan_add(config, ContainerSpec("foo", ports=[22]))
    assert not plan.noop and not plan.warnings


def test_a_let_name_shadowed_by_a_nearer_binding_is_not_followed(tmp_path: Path) -> None:
    config = write(tmp_path, "{ config, ... }:\nlet ports = [ 2022 ]; in\n{\n"
                             "  services.openssh = let ports = config.x; in "
                             "{ inherit ports; enable = true; };\n}\n")
    assert not plan_add(config, ContainerSpec("foo", ports=[2022])).noop
    function_arg = write(tmp_path, "let ports = [ 2022 ]; in\n{ ports, ... }:\n{\n"
                                   "  services.openssh = { inherit ports; enable = true; };\n}\n",
                         "arg.nix")
    for port in (22, 2022):
        assert not plan_add(function_arg, ContainerSpec("foo", ports=[port])).noop


def test_literal_host_ports_under_wrappers_still_clash(tmp_path: Path) -> None:
    config = write(tmp_path, _host_ports_module("ports = lib.mkForce [ 2022 ];"))
    with pytest.raises(ValidationError, match="port 2022"):
        plan_add(config, ContainerSpec("foo", ports=[2022]))
    assert not plan_add(config, ContainerSpec("foo", ports=[22])).warnings
    enabled_only = write(tmp_path, _host_ports_module(""), "enabled.nix")
    with pytest.raises(ValidationError, match="port 22 is already used by the host's sshd"):
        plan_add(enabled_only, ContainerSpec("foo", ports=[22]))


def test_container_sshd_ports_that_are_not_a_literal_are_not_taken_for_22(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, "{ config, ... }:\n{\n  systemd.containers.a.config = {\n"
                             "    services.openssh.enable = true;\n"
                             "    services.openssh.ports = config.x;\n  };\n}\n")
    (a,) = discover(config)
    assert a.sshd_ports() == [] and a.ports_unread == [f"{config}:5"]
    plan = plan_add(config, ContainerSpec("b", ports=[22]))
    assert not plan.noop
    assert any("container a" in w and f"{config}:5" in w for w in plan.warnings)
    # a key for container a alone does not check (or write) port 22 for it
    assert not plan_add(config, ContainerSpec("a", ssh_keys=[ssh_key()])).noop


# --- a request that changes nothing edits nothing -----------------------------------------------

@pytest.mark.parametrize("text", [
    "{ ... }:\n{\n  systemd.containers.web.config = { services.openssh.enable = true; "
    "services.openssh.ports = [ 2022 ]; };\n}\n",
    "{ ... }:\n{\n  systemd.containers.web.config = { services.openssh = "
    "{ enable = true; ports = [ 2022 ]; }; };\n}\n",
    "{ ... }:\n{\n  systemd.containers.web.config = { pkgs, ... }: { services.openssh = "
    "{ enable = true; ports = [ 2022 ]; }; };\n}\n",
    "{ ... }:\n{\n  containers.web = { config = { services.openssh.enable = true; "
    "services.openssh.ports = [ 2022 ]; }; autoStart = true; };\n}\n",
])
def test_adding_what_a_one_line_container_already_says_is_a_noop(
    tmp_path: Path, text: str
) -> None:
    config = write(tmp_path, text)
    plan = plan_add(config, ContainerSpec("web", ports=[2022]))
    assert plan.noop and plan.changes == [] and "nothing to change" in plan.summary
    assert config.read_text() == text
    if "autoStart" in text:
        assert plan_add(config, ContainerSpec("web", ports=[2022], auto_start=True)).noop
    # something new still opens the set and goes in
    new = add(config, ContainerSpec("web", ports=[2023]))
    assert "2022" in new and "2023" in new


# --- a port clash names where the port is defined -------------------------------------------------

def test_port_clash_names_the_module_that_defines_the_port(tmp_path: Path) -> None:
    config = write(tmp_path, "{ ... }:\n{\n  imports = [ ./mod.nix ];\n\n"
                             "  systemd.containers.a.config = { services.openssh.enable = true; };\n"
                             "}\n", "c.nix")
    module = write(tmp_path, "{ ... }:\n{\n"
                             "  systemd.containers.a.config.services.openssh.ports = [ 2040 ];\n"
                             "}\n", "mod.nix")
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("b", ports=[2040]))
    assert f"container a ({module}:3)" in info.value.message
    # sshd without ports: port 22 is decided where sshd is enabled
    module.write_text("{ ... }:\n{\n  systemd.containers.a.config.networking.x = 1;\n}\n")
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("b", ports=[22]))
    assert f"container a ({config}:5)" in info.value.message


def test_port_clash_in_a_function_config_names_its_line(tmp_path: Path) -> None:
    config = write(tmp_path, "{ ... }:\n{\n  systemd.containers.a.config = { pkgs, ... }: {\n"
                             "    services.openssh.enable = true;\n\n"
                             "    services.openssh.ports = [ 2041 ];\n  };\n}\n")
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("b", ports=[2041]))
    assert f"container a ({config}:6)" in info.value.message


# --- sshd ports that come through a let -------------------------------------------------------------

LET_PORTS = ("{ config, lib, pkgs, ... }:\nlet ports = [ 2022 ]; in\n{\n"
             "  systemd.containers.b.config = { services.openssh = "
             "{ enable = true; PORTS; }; };\n}\n")


@pytest.mark.parametrize("written", ["ports = ports", "inherit ports"])
def test_ports_from_a_let_that_already_list_the_port_are_a_noop(
    tmp_path: Path, written: str
) -> None:
    text = LET_PORTS.replace("PORTS", written)
    config = write(tmp_path, text)
    plan = plan_add(config, ContainerSpec("b", ports=[2022]))
    assert plan.noop and plan.changes == [] and "nothing to change" in plan.summary
    assert config.read_text() == text


@pytest.mark.parametrize("written", ["ports = ports", "inherit ports"])
def test_a_port_missing_from_a_let_list_is_refused_at_the_binding_as_written(
    tmp_path: Path, written: str
) -> None:
    text = LET_PORTS.replace("PORTS", written)
    config = write(tmp_path, text)
    lines = text.splitlines()
    key_line = next(i for i, line in enumerate(lines, 1) if written in line)
    let_line = next(i for i, line in enumerate(lines, 1) if line.startswith("let ports"))
    col = lines[key_line - 1].index(written.split()[-1] if "inherit" in written else written) + 1
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("b", ports=[2022, 2023]))
    err = info.value
    assert (err.line, err.col) == (key_line, col)
    assert f"line {let_line}" in err.message and "`ports`" in err.message
    assert "2023" in err.message and "2022" not in err.message
    assert config.read_text() == text


def test_a_port_missing_from_unreadable_ports_in_a_function_config_names_the_file_line(
    tmp_path: Path,
) -> None:
    text = ("{ config, ... }:\n{\n  systemd.containers.b.config = { pkgs, ... }: {\n"
            "    services.openssh = { enable = true; ports = config.x; };\n  };\n}\n")
    config = write(tmp_path, text)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("b", ports=[2023]))
    assert info.value.line == 4 and "`config.x`" in info.value.message
    assert config.read_text() == text


# --- ports already listed elsewhere are not written again --------------------------------------

def _guest_ports(nix_instantiate: str, config: Path, option: str) -> list[int]:
    """The sshd ports container ``option`` (``containers.s``) gets, as the real Nix merges its
    config with the stand-in NixOS (tests/fixtures/nixos)."""
    import json
    import subprocess

    from conftest import NIX_OFFLINE, STAND_IN_NIXOS

    expr = (f"let n = {STAND_IN_NIXOS}; h = import n {{ configuration = {config}; }}; "
            f"g = import n {{ configuration = h.config.{option}.config; }}; "
            "in g.config.services.openssh.ports")
    proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                           "-E", expr], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


SPLIT_PORTS = """{ ... }:
{
  imports = [ ./extra.nix ];
  containers.s.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ 5000 ];
  };
}
"""
SPLIT_EXTRA = """{ ... }:
{
  containers.s.config = { ... }: { services.openssh.ports = [ 5001 ]; };
}
"""


def test_a_port_listed_by_another_definition_is_not_added_again(
    tmp_path: Path, nix_instantiate: str
) -> None:
    config = write(tmp_path, SPLIT_PORTS)
    write(tmp_path, SPLIT_EXTRA, "extra.nix")
    plan = plan_add(config, ContainerSpec("s", ports=[5001]))
    assert plan.noop and plan.changes == [] and "nothing to change" in plan.summary
    text = add(config, ContainerSpec("s", ports=[5001, 5002]))
    assert "[ 5000 5002 ]" in text
    ports = _guest_ports(nix_instantiate, config, "containers.s")
    assert sorted(ports) == [5000, 5001, 5002]


LET_ELEMENT = """{ ... }:
let sshPort = 2022; in
{
  systemd.containers.foo.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ sshPort ];
  };
}
"""


def test_a_list_element_bound_by_a_let_counts_as_listed(tmp_path: Path,
                                                       nix_instantiate: str) -> None:
    config = write(tmp_path, LET_ELEMENT)
    assert plan_add(config, ContainerSpec("foo", ports=[2022])).noop
    assert config.read_text() == LET_ELEMENT
    plan = plan_add(config, ContainerSpec("foo", ports=[2022, 2023]))
    assert not plan.warnings
    commit(plan.changes)
    assert "[ sshPort 2023 ]" in config.read_text()
    assert sorted(_guest_ports(nix_instantiate, config, "systemd.containers.foo")) == [2022, 2023]


def test_a_let_element_read_from_outside_a_function_config(tmp_path: Path) -> None:
    text = ("{ ... }:\nlet p = 5000; in\n{\n  containers.s.config = { ... }: {\n"
            "    services.openssh.enable = true;\n    services.openssh.ports = [ p ];\n  };\n}\n")
    config = write(tmp_path, text)
    assert plan_add(config, ContainerSpec("s", ports=[5000])).noop
    # a function argument of the same name is not the let's value
    shadowed = text.replace("{ ... }: {\n    services", "{ p, ... }: {\n    services")
    write(tmp_path, shadowed)
    plan = plan_add(config, ContainerSpec("s", ports=[5000]))
    assert not plan.noop and any("could not be read" in w for w in plan.warnings)


def test_an_unreadable_element_adds_the_port_with_a_warning(tmp_path: Path) -> None:
    config = write(tmp_path, LET_ELEMENT.replace("[ sshPort ]", "[ (builtins.head [ 2022 ]) ]"))
    plan = plan_add(config, ContainerSpec("foo", ports=[2022]))
    assert not plan.noop
    assert any("could not be read" in w and f"{config}:6" in w and "2022" in w
               for w in plan.warnings)
    assert plan.warnings[0] in plan.notes


# --- a value read through a let ------------------------------------------------------------------

LET_ADDRESS = """{ ... }:
let addr = "10.9.0.1"; in
{
  containers.h = {
    privateNetwork = true;
    hostAddress = addr;
  };
}
"""


def test_a_value_bound_by_a_let_counts_as_set(tmp_path: Path) -> None:
    config = write(tmp_path, LET_ADDRESS)
    plan = plan_add(config, ContainerSpec("h", private_network=True, host_address="10.9.0.1"))
    assert plan.noop and "nothing to change" in plan.summary


@pytest.mark.parametrize(("value", "quoted"), [("addr", "`addr`"),
                                               ('addr + ""', '`addr + ""`')])
def test_a_different_or_unreadable_let_value_is_quoted_as_written(
    tmp_path: Path, value: str, quoted: str
) -> None:
    config = write(tmp_path, LET_ADDRESS.replace("= addr;", f"= {value};"))
    wanted = "10.9.0.3" if value == "addr" else "10.9.0.1"
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("h", private_network=True, host_address=wanted))
    assert quoted in info.value.message and "null" not in info.value.message
    assert f'"{wanted}"' in info.value.message
    assert str(info.value).startswith(f"{config}:6:5: ")


# --- a container that already has a private network ------------------------------------------------

@pytest.mark.parametrize("private", ["true", "pn"])
def test_addresses_need_no_flag_when_the_container_has_a_private_network(
    tmp_path: Path, private: str, nix_instantiate: str
) -> None:
    text = ("{ ... }:\nlet pn = true; in\n{\n  containers.h = {\n"
            f"    privateNetwork = {private};\n  }};\n  containers.n.autoStart = true;\n}}\n")
    config = write(tmp_path, text)
    new = add(config, ContainerSpec("h", host_address="10.9.0.1", local_address="10.9.0.2",
                                    forward_ports=["8080:80"]))
    assert 'hostAddress = "10.9.0.1";' in new and "hostPort = 8080;" in new
    assert nix_parse_ok(new.encode(), nix_instantiate)[0]
    from nixgen.errors import UsageError

    with pytest.raises(UsageError, match="need --private-network"):
        plan_add(config, ContainerSpec("n", host_address="10.9.0.5"))
    # --replace keeps the private network the container has: no flag needed either
    assert plan_add(config, ContainerSpec("h", host_address="10.9.0.1", replace=True)).noop


# --- names computed at evaluation time in the same set ------------------------------------------------

DYNAMIC = """{ ... }:
let name = "dyn"; in
{
  containers.${name}.config = { };
}
"""


def test_a_dynamic_key_bound_to_the_same_name_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path, DYNAMIC)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("dyn", ports=[2022]))
    assert str(info.value).startswith(f"{config}:4:14: ")
    assert "dyn" in info.value.message and "\n" not in str(info.value)
    nested = DYNAMIC.replace("containers.${name}.config = { };",
                             'containers = {\n    "${name}" = { };\n  };')
    write(tmp_path, nested)
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("dyn", ports=[2022]))
    assert (info.value.line, info.value.col) == (5, 5)


def test_a_dynamic_key_beside_a_new_container_is_a_warning(tmp_path: Path,
                                                           nix_instantiate: str) -> None:
    import subprocess

    from conftest import NIX_OFFLINE

    config = write(tmp_path, DYNAMIC)
    plan = plan_add(config, ContainerSpec("other", ports=[2022]))
    assert any("${name}" in w and f"{config}:4" in w for w in plan.warnings)
    commit(plan.changes)
    proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "-E",
                           f"builtins.attrNames (import {config} {{}}).containers"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and '"dyn"' in proc.stdout and '"other"' in proc.stdout
    # the name refused above is one Nix itself rejects beside the dynamic key
    clash = write(tmp_path, config.read_text().replace("containers.other", "containers.dyn"),
                  "clash.nix")
    proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "-E",
                           f"(import {clash} {{}}).containers"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "already defined" in proc.stderr


# --- refusals start with the place they are about ------------------------------------------------------

CLASH_HOST = """{ ... }:
{
  services.openssh.enable = true;
  containers.bar = {
    privateNetwork = true;
    forwardPorts = [ { hostPort = 8080; containerPort = 80; } ];
  };
  containers.web.autoStart = true;
}
"""


@pytest.mark.parametrize(("spec", "where", "start"), [
    (ContainerSpec("foo", ports=[22]), "4:3", "port 22 is already used by the host's sshd"),
    (ContainerSpec("web", ports=[22]), "8:3", "port 22 is already used by the host's sshd"),
    (ContainerSpec("web", private_network=True, forward_ports=["8080"]), "8:3",
     "host port 8080 cannot be forwarded"),
    (ContainerSpec("bar", forward_ports=["8080:81"]), "6:5",
     "container bar already forwards host port 8080"),
])
def test_clashes_start_with_a_place_in_the_edited_file(
    tmp_path: Path, spec: ContainerSpec, where: str, start: str
) -> None:
    config = write(tmp_path, CLASH_HOST)
    with pytest.raises(ValidationError) as info:
        plan_add(config, spec)
    assert str(info.value).startswith(f"{config}:{where}: {start}")
    if "cannot be forwarded" in start:
        assert f"container bar ({config}:6)" in info.value.message
    assert config.read_text() == CLASH_HOST


def test_an_existing_container_file_is_refused_at_its_first_column(tmp_path: Path) -> None:
    config = write(tmp_path, CLASH_HOST)
    (tmp_path / "containers").mkdir()
    other = tmp_path / "containers" / "r.nix"
    other.write_text("{ }\n")
    with pytest.raises(ValidationError) as info:
        plan_add(config, ContainerSpec("r", ports=[2022], route="path"))
    assert str(info.value).startswith(f"{other}:1:1: ")


# --- --replace rewrites only the conflicting values ---------------------------------------------

FULL_WEB = """{ config, pkgs, ... }:

{
  services.openssh.enable = true;

  # The web container: sshd on 2022, nginx forwarded from 8080.
  containers.web = {
    privateNetwork = true;
    hostAddress = "10.0.0.1";
    localAddress = "10.0.0.2";
    autoStart = true;
    forwardPorts = [
      { containerPort = 80; hostPort = 8080; protocol = "tcp"; }
    ];
    bindMounts = {
      "/srv" = { hostPath = "/data/srv"; isReadOnly = true; };
    };
    config = {
      services.openssh.enable = true;
      services.openssh.ports = [ 2022 ];
    };
  };

  system.stateVersion = "24.05";
}
"""

GUEST_LET = """{ ... }:
let sshPorts = [ 2022 ]; in
{
  # sshd is off for now
  containers.web = {
    autoStart = true;
    config = {
      services.openssh.enable = false;
      services.openssh.ports = sshPorts;
    };
  };
}
"""


def _web_settings(nix_instantiate: str, config: Path) -> dict[str, object]:
    """Container ``web``'s settings and its sshd's, as the real Nix evaluates them with the
    stand-in NixOS (tests/fixtures/nixos)."""
    import json
    import subprocess

    from conftest import NIX_OFFLINE, STAND_IN_NIXOS

    expr = (f"let n = {STAND_IN_NIXOS}; h = import n {{ configuration = {config}; }}; "
            "c = h.config.containers.web; g = import n { configuration = c.config; }; in "
            "{ inherit (c) privateNetwork hostAddress localAddress autoStart forwardPorts "
            "bindMounts; ssh = { inherit (g.config.services.openssh) enable ports; }; }")
    proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                           "-E", expr], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _with_spans(original: bytes, spans: list[tuple[str, str]]) -> bytes:
    """``original`` with each (old, new) text replaced where it occurs (once) and nothing else."""
    out = original
    for old, new in spans:
        assert out.count(old.encode()) == 1, old
        out = out.replace(old.encode(), new.encode())
    return out


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize(
    ("spec", "spans", "expect"),
    [
        (ContainerSpec("web", private_network=True, host_address="10.0.0.9", replace=True),
         [('"10.0.0.1"', '"10.0.0.9"')],
         {"hostAddress": "10.0.0.9"}),
        (ContainerSpec("web", local_address="10.0.0.3", auto_start=True, ports=[2023],
                       replace=True),
         [('"10.0.0.2"', '"10.0.0.3"'), ("[ 2022 ]", "[ 2022 2023 ]")],
         {"localAddress": "10.0.0.3", "ssh": {"enable": True, "ports": [2022, 2023]}}),
        (ContainerSpec("web", bind_mounts=["/x:/srv"], replace=True),
         [('"/data/srv"', '"/x"')],
         {"bindMounts": {"/srv": {"hostPath": "/x", "isReadOnly": True}}}),
        (ContainerSpec("web", bind_mounts=["/data/srv:/srv:rw"], replace=True),
         [("isReadOnly = true", "isReadOnly = false")],
         {"bindMounts": {"/srv": {"hostPath": "/data/srv", "isReadOnly": False}}}),
        (ContainerSpec("web", forward_ports=["8080:81"], replace=True),
         [("containerPort = 80;", "containerPort = 81;")],
         {"forwardPorts": [{"containerPort": 81, "hostPort": 8080, "protocol": "tcp"}]}),
    ],
    ids=["host-address", "local-address", "bind-host-path", "bind-read-write", "forward"],
)
def test_replace_rewrites_only_the_conflicting_values(
    tmp_path: Path, nix_instantiate: str, newline: str, spec: ContainerSpec,
    spans: list[tuple[str, str]], expect: dict[str, object]
) -> None:
    original = FULL_WEB.replace("\n", newline).encode()
    config = tmp_path / "configuration.nix"
    config.write_bytes(original)
    before = _web_settings(nix_instantiate, config)
    plan = plan_add(config, spec)
    commit(plan.changes)
    assert config.read_bytes() == _with_spans(original, spans)
    assert "whole definition" not in plan.summary and "replaced" in plan.summary
    assert _web_settings(nix_instantiate, config) == {**before, **expect}


def test_replace_switches_sshd_on_and_writes_a_let_list_out_in_place(
    tmp_path: Path, nix_instantiate: str
) -> None:
    config = write(tmp_path, GUEST_LET)
    before = _web_settings(nix_instantiate, config)
    with pytest.raises(ValidationError, match="--replace"):
        plan_add(config, ContainerSpec("web", ports=[2023]))
    add(config, ContainerSpec("web", ports=[2023], replace=True))
    assert config.read_bytes() == _with_spans(
        GUEST_LET.encode(),
        [("enable = false;", "enable = true;"), ("ports = sshPorts;", "ports = [ 2022 2023 ];")],
    )
    after = _web_settings(nix_instantiate, config)
    assert after == {**before, "ssh": {"enable": True, "ports": [2022, 2023]}}


def test_replace_from_the_command_line_keeps_the_other_settings(
    tmp_path: Path, nix_instantiate: str
) -> None:
    from conftest import run_cli

    config = write(tmp_path, FULL_WEB)
    before = _web_settings(nix_instantiate, config)
    proc = run_cli("add-container", "web", "-f", str(config), "--private-network",
                   "--host-address", "10.0.0.9", "--replace",
                   env={"NIXGEN_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 0, proc.stderr
    assert config.read_bytes() == _with_spans(FULL_WEB.encode(), [('"10.0.0.1"', '"10.0.0.9"')])
    assert _web_settings(nix_instantiate, config) == {**before, "hostAddress": "10.0.0.9"}


def test_replace_into_another_dialect_says_the_whole_definition_was_rewritten(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, GUEST_LET)
    plan = plan_add(config, ContainerSpec("web", ports=[2023], dialect="legacy", replace=True))
    assert "whole definition was rewritten" in plan.summary and "modern dialect" in plan.summary


def _host_value(config: Path, option: str, nix_instantiate: str) -> object:
    """``config.OPTION`` of the host ``config`` as the stand-in NixOS evaluates it."""
    import json
    import subprocess

    from conftest import NIX_OFFLINE, STAND_IN_NIXOS

    expr = (f"let h = import {STAND_IN_NIXOS} {{ configuration = {config}; }}; "
            f"in h.config.{option}")
    proc = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                           "-E", expr], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_replace_of_a_container_split_over_files_rewrites_it_whole(
        tmp_path: Path, nix_instantiate: str) -> None:
    config = write(tmp_path, "{ config, lib, ... }:\n{ imports = [ ./extra.nix ];\n"
                   '  containers.web.config = { networking.hostName = "web"; }; }\n')
    write(tmp_path, "{ lib, ... }:\n{ containers.web.autoStart = false;\n"
          "  containers.web.config = { services.openssh.enable = false; }; }\n", "extra.nix")
    plan = plan_add(config, ContainerSpec(name="web", ports=[2022], auto_start=True,
                                          replace=True))
    commit(plan.changes)
    assert "defined in several places" in plan.summary
    assert _host_value(config, "containers.web.autoStart", nix_instantiate) is True
    assert sorted(_guest_ports(nix_instantiate, config, "containers.web")) == [2022]


def test_replace_falls_back_to_a_whole_rewrite_where_a_value_cannot_be_edited(
        tmp_path: Path, nix_instantiate: str) -> None:
    config = write(tmp_path, '{ config, lib, ... }:\nlet\n  addr = "10.0.0.1";\n'
                   "  hostSide = { privateNetwork = true; hostAddress = addr; config = { }; };\n"
                   "in\n{ containers.web = hostSide; }\n")
    plan = plan_add(config, ContainerSpec(name="web", private_network=True,
                                          host_address="10.0.0.9", replace=True))
    commit(plan.changes)
    assert "whole definition was rewritten" in plan.summary
    assert _host_value(config, "containers.web.hostAddress", nix_instantiate) == "10.0.0.9"


def test_ports_of_a_definition_under_mkif_are_not_taken_as_listed(
        tmp_path: Path, nix_instantiate: str) -> None:
    config = write(tmp_path, "{ config, lib, ... }:\n{ imports = [ ./extra.nix ];\n"
                   "  containers.web.config = { services.openssh.enable = true; }; }\n")
    write(tmp_path, "{ lib, ... }:\n{ containers.web = lib.mkIf false "
          "{ config = { services.openssh.ports = [ 2022 ]; }; }; }\n", "extra.nix")
    plan = plan_add(config, ContainerSpec(name="web", ports=[2022]))
    assert not plan.noop and any("extra.nix:2" in w for w in plan.warnings)
    commit(plan.changes)
    assert _guest_ports(nix_instantiate, config, "containers.web") == [2022]
