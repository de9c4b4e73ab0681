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


# -- opening a one-line list keeps its comments ------------------------------------------


WIDE = ['"git"', '"vim"', '"wget"', '"curl"', '"htop"', '"tmux"', '"ripgrep"', '"fd"', '"jq"']


def _wide_list(comments: dict[int, str], newline: str = "\n") -> str:
    """A one-line list too wide for one more item, ``comments[i]`` after element ``i``
    (``-1``: right after ``[``)."""
    parts = ["["]
    if -1 in comments:
        parts.append(comments[-1])
    for i, item in enumerate(WIDE):
        parts.append(item)
        if i in comments:
            parts.append(comments[i])
    parts.append("]")
    return newline.join(["{", f"  a = {' '.join(parts)};", "}", ""])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("comments", [
    {0: "/* the vcs */"},
    {-1: "/* first */", 3: "/* a */ /* b */", 8: "/* last */"},
    {4: "/*x*/", 5: "/* y; ] */"},
])
@pytest.mark.parametrize("item", ['"zz"', '"zz" # the new one'])
def test_opening_a_one_line_list_keeps_every_comment_on_its_items_line(
    comments: dict[int, str], newline: str, item: str, nix_instantiate: str, tmp_path
) -> None:
    source = _wide_list(comments, newline)
    new = Document.from_text(source).append("a", Expr(item)).document.source
    lines = new.split(newline)
    assert len(lines) > 8, new  # one element per line
    for i, comment in comments.items():
        holder = "a = [" if i < 0 else WIDE[i]
        line = next(ln for ln in lines if ln.lstrip().startswith(holder))
        assert line.rstrip().endswith(comment), (comment, new)
    assert sum(new.count(c) for c in comments.values()) == len(comments)
    assert "\n" not in new.replace("\r\n", "") if newline == "\r\n" else "\r" not in new
    module = tmp_path / "list.nix"
    module.write_bytes(new.encode())
    out = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                          str(module), "-A", "a"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [*(json.loads(w) for w in WIDE), "zz"]


# -- a list out of this text's sight --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path", "where"),
    [
        ("{ a = { l = [ 1 2 ]; } // { }; }\n", "a.l", "`{ l = [ 1 2 ]; } // { }`"),
        ("{ b = import ./x.nix; }\n", "b.l", "`import ./x.nix`"),
        ("let b = import ./x.nix; in { inherit b; }\n", "b.l", "inherited"),
        ("import ./x.nix\n", "l", "`import ./x.nix`"),
    ],
)
def test_remove_and_append_through_a_non_literal_value_are_refused(
    source: str, path: str, where: str, nix_instantiate: str, tmp_path
) -> None:
    from nixgen.errors import EditError

    (tmp_path / "x.nix").write_text("{ l = [ 1 2 ]; }\n")
    module = tmp_path / "f.nix"
    module.write_text(source)
    # for Nix the item is there
    out = subprocess.run([nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json",
                          str(module), "-A", path], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [1, 2]
    doc = Document.from_path(module)
    for op, item in (("remove", 1), ("append", 3)):
        with pytest.raises(EditError) as info:
            getattr(doc, op)(path, item)
        assert where in info.value.message or "not an attribute set" in info.value.message
    with pytest.raises(EditError) as info:
        doc.remove(path, 1)
    assert where in info.value.message and info.value.line == 1


def test_remove_of_a_list_defined_in_an_imported_module_is_refused(tmp_path) -> None:
    from nixgen.errors import EditError

    (tmp_path / "m.nix").write_text("{ a.l = [ 1 2 ]; }\n")
    module = tmp_path / "f.nix"
    module.write_text("{ imports = [ ./m.nix ]; }\n")
    with pytest.raises(EditError) as info:
        Document.from_path(module).remove("a.l", 1)
    assert "m.nix" in info.value.message


def test_remove_from_an_absent_list_is_still_no_change() -> None:
    assert not Document.from_text("{ c = 1; }").remove("a.l", 1).changed
