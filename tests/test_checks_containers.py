"""Tests of the container rules of nixgen.checks (NG301-NG304, NG401) and of fixing a tree.

Each case writes a small configuration (with imports and a container file where needed) into
a temporary directory, checks it, and checks the corrected version too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, nix_parse_ok

from nixgen.checks import check_document, check_paths, fix_paths


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "configuration.nix"


def found(config: Path, select: str = "NG3,NG4") -> list[tuple[str, str, int]]:
    return [(f.code, Path(f.file).name, f.line) for f in check_paths([config], select=[select])]


HOST_SSH = """{ config, lib, ... }:
{
  imports = [ ./containers.nix ];
  services.openssh.enable = true;
}
"""


def test_ng301_container_sshd_on_host_port(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "configuration.nix": HOST_SSH,
        "containers.nix": """{ ... }:
{
  # nixgen: allow-shared-network
  systemd.containers.foo.config = {
    services.openssh.enable = true;
  };
}
""",
    })
    [f] = check_paths([config], select=["NG301"])
    assert (f.code, Path(f.file).name, f.line) == ("NG301", "containers.nix", 5)
    assert "port 22" in f.message and "configuration.nix:4" in f.message
    assert [(Path(r[0]).name, r[1]) for r in f.related] == [("configuration.nix", 4)]
    # after: the container's sshd on its own port
    (tmp_path / "containers.nix").write_text("""{ ... }:
{
  # nixgen: allow-shared-network
  systemd.containers.foo.config = {
    services.openssh.enable = true;
    services.openssh.ports = [ 2022 ];
  };
}
""")
    assert check_paths([config], select=["NG301"]) == []


def test_ng301_two_shared_containers_and_private_network(tmp_path: Path) -> None:
    text = """{
  containers.a.config.services.openssh.ports = [ 2022 ];
  containers.b = {
    config = { services.openssh = { enable = true; ports = [ 2022 ]; }; };
  };
}
"""
    config = write(tmp_path, {"configuration.nix": text})
    [f] = check_paths([config], select=["NG301"])
    assert f.line == 4 and "container `a`" in f.message and "container `b`" in f.message
    config.write_text(text.replace("containers.b = {", "containers.b = {\n    privateNetwork = true;"))
    assert check_paths([config], select=["NG301"]) == []


def test_ng301_forwarded_host_port_twice(tmp_path: Path) -> None:
    text = """{
  services.openssh.ports = [ 2200 ];
  containers.a = { privateNetwork = true;
    forwardPorts = [ { hostPort = 8080; containerPort = 80; } ]; };
  containers.b = { privateNetwork = true;
    forwardPorts = [ { containerPort = 80; hostPort = 8080; } ]; };
  containers.c = { privateNetwork = true;
    forwardPorts = [ { hostPort = 2200; containerPort = 22; } ]; };
  containers.d = { privateNetwork = true;
    forwardPorts = [ { hostPort = 8080; protocol = "udp"; } ]; };
}
"""
    config = write(tmp_path, {"configuration.nix": text})
    got = [(f.line, f.message) for f in check_paths([config], select=["NG301"])]
    assert [line for line, _ in got] == [6, 8]
    assert "8080/tcp" in got[0][1] and "2200/tcp" in got[1][1] and "host's sshd" in got[1][1]
    config.write_text(text.replace("hostPort = 8080; containerPort = 80; } ]; };\n  containers.b",
                                   "hostPort = 8081; containerPort = 80; } ]; };\n  containers.b"))
    assert [f.line for f in check_paths([config], select=["NG301"])] == [8]


def test_ng302_names(tmp_path: Path) -> None:
    config = write(tmp_path, {"configuration.nix": """{
  containers."web_1".config = { };
  containers.averyverylongname = { privateNetwork = true; };
  containers.anotherlongname = { privateNetwork = false; };
  containers.Web.config = { };
  containers.web.config = { };
}
"""})
    got = [(f.line, f.severity) for f in check_paths([config], select=["NG302"])]
    assert got == [(2, "error"), (3, "error"), (6, "warning")]
    config.write_text("{ containers.web-1.config = { }; containers.short = "
                      "{ privateNetwork = true; }; }\n")
    assert check_paths([config], select=["NG302"]) == []


CONTAINER_FILE = """# the container's own configuration
{ config, pkgs, ... }:

{
  networking.hostName = "baz";   # keep

  services.openssh.enable = true;
}
"""


def test_ng301_container_with_sshd_switched_off_uses_no_port(tmp_path: Path) -> None:
    config = write(tmp_path, {"configuration.nix": """{
  services.openssh.enable = true;
  services.openssh.ports = [ 2022 ];
  # nixgen: allow-shared-network
  systemd.containers.a.config = {
    services.openssh.enable = false;
    services.openssh.ports = [ 2022 ];
  };
  # nixgen: allow-shared-network
  systemd.containers.b.config = { services.openssh = { enable = false; }; };
}
"""})
    assert check_paths([config], select=["NG301"]) == []
    text = (tmp_path / "configuration.nix").read_text().replace(
        "    services.openssh.enable = false;\n", "")
    (tmp_path / "configuration.nix").write_text(text)
    [f] = check_paths([config], select=["NG301"])
    assert "container `a`" in f.message and "port 2022" in f.message


def test_ng303_fix_adds_is_container(tmp_path: Path, nix_instantiate: str) -> None:
    config = write(tmp_path, {
        "configuration.nix": """{
  # nixgen: allow-shared-network
  systemd.containers.baz.path = "/nix/var/nix/profiles/containers/baz";
}
""",
        "containers/baz.nix": CONTAINER_FILE,
    })
    [f] = check_paths([config], select=["NG303"])
    assert Path(f.file).name == "baz.nix" and f.fix is not None
    assert "configuration.nix:3" in f.message
    result = fix_paths([config], select=["NG303"])
    [(path, new)] = result.changed.items()
    assert path.name == "baz.nix" and result.remaining == []
    assert b"boot.isContainer = true;" in new
    old = CONTAINER_FILE.encode()
    assert new.startswith(old[: old.rindex(b"}")].rstrip())   # nothing before it changed
    ok, err = nix_parse_ok(new, nix_instantiate)
    assert ok, err
    # nothing is written by fix_paths; after writing, a second round changes nothing
    assert (tmp_path / "containers/baz.nix").read_text() == CONTAINER_FILE
    (tmp_path / "containers/baz.nix").write_bytes(new)
    assert fix_paths([config], select=["NG303"]).changed == {}


@pytest.mark.parametrize("text", [
    "{ boot.isContainer = false; /* was a VM */ }\n",
    "{ boot = { isContainer = false; }; }\n",
    "{ lib, ... }:\n{\n  boot.loader.grub.enable = false;\n  boot.isContainer = false;\n}\n",
])
def test_ng303_explicit_false_is_reported_not_overwritten(tmp_path: Path, text: str) -> None:
    config = write(tmp_path, {
        "configuration.nix": "{ containers.baz.path = "
                             "\"/nix/var/nix/profiles/per-container/baz/system\"; }\n",
        "containers/baz.nix": text,
    })
    [f] = check_paths([config], select=["NG303"])
    assert Path(f.file).name == "baz.nix" and f.fix is None
    data = text.encode()
    assert data[f.start_byte : f.end_byte] == b"false"
    result = fix_paths([config], select=["NG303"])
    assert result.changed == {} and [g.code for g in result.remaining] == ["NG303"]
    (tmp_path / "containers/baz.nix").write_text("{ boot.isContainer = true; }\n")
    assert check_paths([config], select=["NG303"]) == []


UNFIXABLE_CONTAINER = "{ lib, ... }:\n{\n  boot = lib.mkIf true { loader.grub.enable = false; };\n}\n"


def test_ng303_that_cannot_be_fixed_is_reported_with_every_other_finding(
        tmp_path: Path) -> None:
    config = write(tmp_path, {
        "configuration.nix": "{ pkgs, ... }:\n{\n"
                             "  systemd.containers.c.path = "
                             "\"/nix/var/nix/profiles/containers/c\";\n"
                             "  environment.systemPackages = pkgs.lib.mkForce [ ];\n}\n",
        "containers/c.nix": UNFIXABLE_CONTAINER,
    })
    found = check_paths([config])
    by_code = {f.code: f for f in found}
    assert {"NG201", "NG303", "NG401"} <= set(by_code)
    ng303 = by_code["NG303"]
    assert Path(ng303.file).name == "c.nix" and ng303.fix is None
    # fixing the rest still works, and leaves the container file alone
    result = fix_paths([config])
    assert [p.name for p in result.changed] == ["configuration.nix"]
    assert "NG303" in {f.code for f in result.remaining}
    # an editor's buffer of the configuration keeps its diagnostics
    from nixgen.document import Document

    host = {f.code for f in check_document(Document.from_path(config))}
    assert {"NG201", "NG401"} <= host


def test_ng303_is_container_set_by_an_imported_module_is_clean(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "configuration.nix": "{ systemd.containers.baz.path = "
                             "\"/nix/var/nix/profiles/containers/baz\"; }\n",
        "containers/baz.nix": "{ ... }:\n{\n  imports = [ ./common ];\n}\n",
        "containers/common/default.nix": "{ imports = [ ./deep.nix ]; }\n",
        "containers/common/deep.nix": "{ boot.isContainer = true; }\n",
    })
    assert check_paths([config], select=["NG303"]) == []
    # an imported module that sets it false does not count
    (tmp_path / "containers/common/deep.nix").write_text("{ boot.isContainer = false; }\n")
    [f] = check_paths([config], select=["NG303"])
    assert Path(f.file).name == "baz.nix"


def test_ng304_profile_layouts(tmp_path: Path) -> None:
    config = write(tmp_path, {"configuration.nix": """{
  systemd.containers.a.path = "/nix/var/nix/profiles/containers/a";
  systemd.containers.b.path = "/nix/var/nix/profiles/per-container/b/system";
  containers.c.path = "/nix/var/nix/profiles/per-container/c/system";
  containers.d.path = "/nix/var/nix/profiles/per-container/d";
  containers.e.path = "/nix/var/nix/profiles/containers/e";
  containers.f.path = /nix/var/nix/profiles/per-container/other/system;
}
"""})
    got = [(f.line, f.code) for f in check_paths([config], select=["NG304"])]
    assert got == [(3, "NG304"), (6, "NG304"), (7, "NG304")]


def test_ng401_notes_and_the_allow_comment(tmp_path: Path) -> None:
    config = write(tmp_path, {"configuration.nix": """{
  containers.open.config = { };
  containers.private = { privateNetwork = true; };
  systemd.containers.old.config = { };
  # nixgen: allow-shared-network
  systemd.containers.allowed.config = { };
  containers.same-line.config = { };   # nixgen: allow-shared-network
  # a comment block
  # nixgen: allow-shared-network
  containers.above = {
    config = { };
  };
}
"""})
    got = [(f.line, f.message.split(" ")[0]) for f in check_paths([config], select=["NG401"])]
    assert got == [(2, "container"), (4, "container"), (4, "legacy")]


def test_container_rules_follow_imports_and_report_in_the_right_file(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "configuration.nix": "{ imports = [ ./sub/default.nix ]; services.openssh.ports = [ 22 ]; }\n",
        "sub/default.nix": "{ imports = [ ../configuration.nix ./more.nix ]; }\n",
        "sub/more.nix": "{ containers.x.config.services.openssh.enable = true; }\n",
    })
    assert found(config, "NG301") == [("NG301", "more.nix", 1)]


def test_check_document_reports_its_own_file_and_clashes_involving_it(tmp_path: Path) -> None:
    from nixgen.document import Document

    config = write(tmp_path, {
        "configuration.nix": HOST_SSH,
        "containers.nix": "{ systemd.containers.foo.config.services.openssh.enable = true; }\n",
    })
    doc = Document.from_path(config)
    (clash,) = check_document(doc)  # located in containers.nix; shown here at the host's sshd
    assert (clash.code, clash.file, clash.line) == ("NG301", config, 4)
    assert f"reported at {tmp_path / 'containers.nix'}:1" in clash.message and clash.fix is None
    assert clash.related == ((str(tmp_path / "containers.nix"), 1, 59),)
    # an unsaved buffer of the imported module counts, not the file on disk
    quiet = b"{ systemd.containers.foo.config.services.openssh.ports = [ 2022 ]; }\n"
    assert check_document(doc, buffers={tmp_path / "containers.nix": quiet}) == []
    sub = Document.from_path(tmp_path / "containers.nix")
    assert {f.code for f in check_document(sub)} == {"NG401"}
    buffer = Document.from_text(HOST_SSH + "\n", path=config)
    assert [f.code for f in check_document(buffer, select=["NG3"])] == ["NG301"]
    assert check_document(buffer, select=["NG4"]) == []


def test_fix_all_tree_twice_and_parse(tmp_path: Path, nix_instantiate: str) -> None:
    shutil.copytree(FIXTURES / "checks" / "all", tmp_path / "all")
    config = tmp_path / "all" / "configuration.nix"
    before = {f.code for f in check_paths([config])}
    assert before >= {"NG101", "NG102", "NG103", "NG201", "NG301", "NG302", "NG303", "NG304",
                      "NG401", "NG501"}
    result = fix_paths([config])
    assert {p.name for p in result.changed} == {"configuration.nix", "baz.nix"}
    for path, data in result.changed.items():
        # the errors Nix itself rejects (NG101/NG102) have no fix; without them, Nix accepts
        kept = b"\n".join(line for line in data.split(b"\n")
                          if b"# NG101" not in line and b"# NG102" not in line)
        ok, err = nix_parse_ok(kept, nix_instantiate)
        assert ok, (path, err)
        path.write_bytes(data)
    assert {f.code for f in result.remaining} == before - {"NG201", "NG303", "NG501"}
    assert fix_paths([config]).changed == {}
