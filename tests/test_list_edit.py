"""List items under ``with pkgs;``: ``pkgs.x`` is the element ``x`` only where Nix agrees."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import NIX_OFFLINE

from nixgen.document import Document
from nixgen.emit import Expr

MODULE = """{ pkgs, lib, ... }:
let
  localName = "from-let";
in
{
  packages = with pkgs; [
    htop
    vim
  ];
}
"""
PKGS = '{ htop = "pkgs-htop"; vim = "pkgs-vim"; tmux = "pkgs-tmux"; lib = "pkgs-lib"; ' \
       'localName = "pkgs-localName"; map = "pkgs-map"; sub = { x = "pkgs-sub-x"; }; }'


def evaluate(source: str, nix_instantiate: str, tmp_path) -> list[str]:
    module = tmp_path / "module.nix"
    module.write_text(source)
    expr = f'(import {module} {{ pkgs = {PKGS}; lib = "the-lib"; }}).packages'
    out = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", "-E", expr],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_long_form_of_an_element_that_is_there_changes_nothing() -> None:
    doc = Document.from_text(MODULE)
    assert not doc.append("packages", Expr("pkgs.htop")).changed
    removed = doc.remove("packages", Expr("pkgs.htop")).document.source
    assert "htop" not in removed and "vim" in removed


@pytest.mark.parametrize(("item", "written", "value"), [
    ("pkgs.tmux", "    tmux\n", "pkgs-tmux"),
    ("pkgs.sub.x", "    sub.x\n", "pkgs-sub-x"),
    ("pkgs.lib", "    pkgs.lib\n", "pkgs-lib"),              # `lib` is the module's argument
    ("pkgs.localName", "    pkgs.localName\n", "pkgs-localName"),  # bound by `let`
    ("pkgs.map", "    pkgs.map\n", "pkgs-map"),              # a global name wins over `with`
])
def test_new_items_take_the_short_form_only_where_it_means_the_same(
    item: str, written: str, value: str, nix_instantiate: str, tmp_path
) -> None:
    source = Document.from_text(MODULE).append("packages", Expr(item)).document.source
    assert written in source
    assert evaluate(source, nix_instantiate, tmp_path) == ["pkgs-htop", "pkgs-vim", value]
