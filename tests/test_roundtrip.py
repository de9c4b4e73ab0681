"""The fixture corpus: every configuration survives Document byte for byte and is valid Nix.

The corpus (tests/fixtures/configs) holds hand-written NixOS configurations of every shape the
engine must read: module headers (curried, trailing comma, defaults), ``let … in``, ``with``,
``rec``, ``inherit``, ``lib.mkIf``/``mkMerge``, indented strings, comments everywhere, CRLF,
tabs, no final newline, trailing spaces, a 1,000+ line generated file, containers in both
dialects and a small tree of imports. ``rejected-by-nix/`` holds files Nix itself refuses
(a UTF-8 byte order mark) that nixgen must still keep intact.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS, nix_parse_ok

from nixgen.document import Document
from nixgen.errors import EditError

ALL = sorted(CONFIGS.rglob("*.nix"))
REJECTED_BY_NIX = sorted((CONFIGS / "rejected-by-nix").glob("*.nix"))
VALID = [p for p in ALL if p not in REJECTED_BY_NIX]
BOM = b"\xef\xbb\xbf"


def _id(path: Path) -> str:
    return str(path.relative_to(CONFIGS))


def test_corpus_covers_the_required_shapes() -> None:
    data = {p: p.read_bytes() for p in ALL}
    assert len(VALID) >= 25
    assert any(b"\r\n" in d for d in data.values()), "a CRLF file"
    assert any(b"\n\t" in d for d in data.values()), "a tab-indented file"
    assert any(b"\n    services" in d for d in data.values()), "a 4-space file"
    assert any(not d.endswith(b"\n") for d in data.values()), "no final newline"
    assert any(d.startswith(BOM) for d in data.values()), "a byte order mark"
    assert any(b" \n" in d for d in data.values()), "trailing spaces"
    assert any(b"lib, }:" in d or b"lib,\n}:" in d for d in data.values()), "trailing comma"
    assert any(b"? false,\n}:" in d for d in data.values()), "trailing comma after a default"
    assert Document.from_path(CONFIGS / "plain-attrset.nix").module_args() is None
    assert any(d.count(b"\n") >= 1000 for d in data.values()), "a 1,000+ line file"
    for needle in (b"let\n", b"with pkgs;", b"lib.mkIf", b"lib.mkMerge", b"lib.mkForce",
                   b"lib.mkDefault", b"rec {", b"inherit (", b"''", b"${", b"/*",
                   b"systemd.containers.foo.config", b"containers.bar = {",
                   b'containers."web-1".autoStart', b"systemd.containers.baz.path",
                   b"imports = [ ./hardware-configuration.nix ];"):
        assert any(needle in d for d in data.values()), needle
    assert (CONFIGS / "with-imports" / "configuration.nix").exists()


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_document_from_path_is_byte_identical(path: Path) -> None:
    raw = path.read_bytes()
    doc = Document.from_path(path)
    assert doc.data == raw
    assert str(doc) == raw.decode("utf-8")
    assert doc.source == raw.decode("utf-8")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_document_from_text_is_byte_identical(path: Path) -> None:
    raw = path.read_bytes()
    assert Document.from_text(raw).data == raw
    from_str = Document.from_text(raw.decode("utf-8"))
    assert from_str.data == raw and str(from_str) == raw.decode("utf-8")


WITH_BINDINGS = [p for p in ALL if p.name != "empty-module.nix"]


@pytest.mark.parametrize("path", WITH_BINDINGS, ids=_id)
def test_every_binding_span_matches_its_text(path: Path) -> None:
    doc = Document.from_path(path)
    bindings = doc.bindings()
    assert bindings
    for binding in bindings:
        assert doc.data[binding.value_start : binding.value_end].decode() == binding.text
        assert 0 <= binding.key_start < binding.key_end
        if not binding.node.type.startswith("inherit"):
            assert binding.key_end <= binding.value_start
        assert binding.line == doc.line_col(binding.key_start)[0]


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_nix_accepts_every_fixture(path: Path, nix_instantiate: str) -> None:
    ok, err = nix_parse_ok(path.read_bytes(), nix_instantiate)
    assert ok, err


@pytest.mark.parametrize("path", REJECTED_BY_NIX, ids=_id)
def test_rejected_fixtures_differ_from_valid_nix_only_by_their_quirk(
    path: Path, nix_instantiate: str
) -> None:
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    ok, err = nix_parse_ok(raw[len(BOM):], nix_instantiate)
    assert ok, err


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_set_then_delete_a_new_path_gives_back_the_original(
    path: Path, nix_instantiate: str
) -> None:
    doc = Document.from_path(path)
    if doc.top_attrset() is None:
        with pytest.raises(EditError):
            doc.set("nixgen.corpus.marker", 1)
        return
    added = doc.set("nixgen.corpus.marker", [1, "two"])
    assert added.changed
    assert added.document.value("nixgen.corpus.marker") == [1, "two"]
    ok, err = nix_parse_ok(added.document.data, nix_instantiate)
    assert ok, err
    removed = added.document.delete("nixgen.corpus.marker")
    assert removed.document.data == path.read_bytes()
