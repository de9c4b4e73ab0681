"""Edits inside ``rec { … }`` sets, whose names are variables of their own code.

An edit that would make that code read another value (a new name capturing a variable, a
renamed or deleted name leaving its readers dangling) is refused with a located EditError;
the edits that change nothing of what the code reads are made, and the real Nix confirms that
the result means what was asked. Also: comments inside keys survive a rename.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import NIX_OFFLINE

from nixgen import Document
from nixgen.errors import EditError


def _eval(nix_instantiate: str, source: bytes, tmp_path: Path) -> object:
    f = tmp_path / "rec.nix"
    f.write_bytes(source)
    proc = subprocess.run(
        [nix_instantiate, *NIX_OFFLINE, "--eval", "--strict", "--json", str(f)],
        capture_output=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


def _run(doc: Document, op: str, args: tuple[object, ...]) -> bytes:
    return getattr(doc, op)(*args).document.data


REFUSED = [
    # a new name captures a variable read inside the rec set
    ("let x = 1; in rec { a = x; }", "set", ("x", 2), "x", 25),
    ("let x = 1; in { a = rec { b = x; }; }", "set", ("a.x", 2), "x", 31),
    ("let x = 1; in rec { a = \"${toString x}\"; }", "set", ("x.y", 2), "x", 37),
    ("let x = 1; in rec { a = { inherit x; }; }", "set", ("x", 2), "x", 35),
    ("let y = 5; in rec { a = 1; b = y; }", "rename", ("a", "y"), "y", 32),
    # a renamed or deleted name leaves its readers dangling
    ("rec { a = 1; b = a + 1; }", "rename", ("a", "c"), "a", 18),
    ("rec { a = 1; b = a + 1; }", "delete", ("a",), "a", 18),
    ("rec { a.b = 1; c = a.b; }", "rename", ("a.b", "x.b"), "a", 20),
    ("rec { a = { b = 1; }; c = a.b; }", "delete", ("a.b",), "a", 27),
    ("rec { a = { b = 1; }; c = a.b; }", "rename", ("a.b", "a.d"), "a", 27),
    ("{ p = rec { a = 1; b = a; }; }", "delete", ("p.a",), "a", 24),
    ("{ p = rec { a = 1; b = a; }; }", "rename", ("p.a", "p.z"), "a", 24),
]


@pytest.mark.parametrize(("src", "op", "args", "name", "col"), REFUSED)
def test_an_edit_changing_what_rec_code_reads_is_refused(
    src: str, op: str, args: tuple[object, ...], name: str, col: int
) -> None:
    doc = Document.from_text(src, "m.nix")
    with pytest.raises(EditError) as err:
        doc.__getattribute__(op)(*args)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"m.nix:1:{col}: ")
    assert f"variable {name} " in text and "rec set" in text


@pytest.mark.parametrize(("src", "op", "args", "name", "col"), REFUSED)
def test_the_same_edit_without_rec_is_made(
    src: str, op: str, args: tuple[object, ...], name: str, col: int
) -> None:
    """Without ``rec`` the names are no variables: the same edit goes through."""
    doc = Document.from_text(src.replace("rec {", "{"))
    assert _run(doc, op, args) != doc.data


ALLOWED = [
    # (source, operation, arguments, the value Nix must give afterwards)
    ("let x = 1; in rec { a = x; }", "set", ("y", 2), {"a": 1, "y": 2}),
    ("let x = 1; in rec { a = x; }", "set", ("a", 3), {"a": 3}),
    ("rec { a = 1; b = a + 1; }", "set", ("c", 7), {"a": 1, "b": 2, "c": 7}),
    ("rec { a.x = 1; b = a.x; }", "set", ("a.y", 2), {"a": {"x": 1, "y": 2}, "b": 1}),
    ("rec { a = 1; b = 2; }", "rename", ("a", "c"), {"c": 1, "b": 2}),
    ("rec { a = 1; b = 2; }", "delete", ("a",), {"b": 2}),
    ("rec { a = { x = a.y; y = 1; }; b = 2; }", "delete", ("a",), {"b": 2}),
    ("let x = 1; y = 2; in rec { inherit x y; d = y; }", "delete", ("x",), {"y": 2, "d": 2}),
    ("rec { a = { b = 1; }; c = a.b; }", "set", ("a.d", 4), {"a": {"b": 1, "d": 4}, "c": 1}),
]


@pytest.mark.parametrize(("src", "op", "args", "expected"), ALLOWED)
def test_an_edit_leaving_rec_code_alone_is_made(
    src: str, op: str, args: tuple[object, ...], expected: object,
    nix_instantiate: str, tmp_path: Path,
) -> None:
    out = _run(Document.from_text(src), op, args)
    assert _eval(nix_instantiate, out, tmp_path) == expected


def test_a_longer_rename_keeps_a_comment_inside_the_key(
    nix_instantiate: str, tmp_path: Path
) -> None:
    out = _run(Document.from_text("{ a./*k*/b = 1; }"), "rename", ("a.b", "a.c.d"))
    assert b"/*k*/" in out
    assert _eval(nix_instantiate, out, tmp_path) == {"a": {"c": {"d": 1}}}


def test_a_shorter_rename_keeps_a_comment_before_the_rewritten_part(
    nix_instantiate: str, tmp_path: Path
) -> None:
    out = _run(Document.from_text("{ a./*k*/b.c = 1; }"), "rename", ("a.b.c", "a.d"))
    assert b"/*k*/" in out
    assert _eval(nix_instantiate, out, tmp_path) == {"a": {"d": 1}}


def test_a_rename_that_would_drop_a_comment_in_the_key_is_refused() -> None:
    doc = Document.from_text("{ a.b./*k*/c = 1; }", "m.nix")
    with pytest.raises(EditError) as err:
        doc.rename("a.b.c", "a.d")
    assert str(err.value).startswith("m.nix:1:7: ") and "comment" in str(err.value)


def test_a_same_depth_rename_keeps_the_spelling_of_unchanged_segments() -> None:
    out = _run(Document.from_text('{ a."b".c = 1; }'), "rename", ("a.b.c", "x.b.c"))
    assert out == b'{ x."b".c = 1; }'


def test_deleting_a_plain_inherit_from_a_rec_set_is_made(nix_instantiate: str,
                                                         tmp_path: Path) -> None:
    # `inherit x;` binds the x outside the set: once it is gone, `a` reads that same x
    before = b"let x = 1; in rec { inherit x; a = x; }"
    after = Document.from_text(before).delete("x").document.data
    assert after == b"let x = 1; in rec { a = x; }"
    assert _eval(nix_instantiate, after, tmp_path) == {"a": 1}
    # `inherit (s) x;` binds another x than the one outside: still refused
    other = b"let s = { x = 1; }; x = 2; in rec { inherit (s) x; a = x; }"
    with pytest.raises(EditError, match="reads the variable x"):
        Document.from_text(other).delete("x")
