"""Property tests of the document engine on generated configurations.

Configurations mix nested and dotted definitions, comments, blank lines, indentation styles
(2 and 4 spaces, tabs), CRLF, module headers and missing final newlines. For generated paths:
(a) set then get returns the value, (b) set of a new path then delete gives back the original
bytes exactly, (c) every output is accepted by the real ``nix-instantiate --parse`` (checked in
batches, one process for many files), (d) bytes outside the edit span are unchanged.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from conftest import NIX_OFFLINE
from engine_helpers import assert_delete_undoes
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nixgen import syntax
from nixgen.attrpath import is_identifier
from nixgen.document import Change, Document
from nixgen.emit import nix_attr_name, to_nix
from nixgen.errors import EditError

NAMES = ["a", "b", "svc", "foo-bar", "x.y", "enable"]
HEADERS = [
    "",
    "{ config, pkgs, ... }:\n\n",
    "{ lib, pkgs, }:\n",
    "{ ... }:\nlet\n  x = 1;\nin\n",
    "x: with x; ",
]

leaf = st.one_of(
    st.integers(-5, 100),
    st.booleans(),
    st.text(alphabet='ab "$\\{}\n', max_size=6),
    st.lists(st.integers(0, 9), max_size=3),
)
tree: Any = st.recursive(
    leaf,
    lambda children: st.dictionaries(st.sampled_from(NAMES), children, max_size=4),
    max_leaves=12,
)
config_model = st.dictionaries(st.sampled_from(NAMES), tree, max_size=5)


def _key(path: tuple[str, ...]) -> str:
    return ".".join(nix_attr_name(p) for p in path)


class Layout:
    """What the drawn layout did: which sets were written dotted or under ``lib.mkIf``."""

    def __init__(self) -> None:
        self.dotted: set[tuple[str, ...]] = set()
        self.wrapped: set[tuple[str, ...]] = set()
        self.split: set[tuple[str, ...]] = set()


def render(data: st.DataObject, model: dict[str, Any]) -> tuple[str, Layout]:
    """Draw a layout for ``model`` and write it as Nix source."""
    unit = data.draw(st.sampled_from(["  ", "    ", "\t"]), label="indent")
    nl = data.draw(st.sampled_from(["\n", "\r\n"]), label="newline")
    header = data.draw(st.sampled_from(HEADERS), label="header").replace("\n", nl)
    final_nl = data.draw(st.booleans(), label="final newline")
    lib = "lib." if "lib" in header else "" if "with" in header else None
    info = Layout()

    def wrap(kind: str) -> str | None:
        if lib is None or data.draw(st.integers(0, 4), label=kind) != 0:
            return None
        return lib

    def bindings(model: dict[str, Any], prefix: tuple[str, ...], level: int, full: tuple[str, ...]) -> list[str]:
        ind = unit * level
        lines: list[str] = []
        for name, value in model.items():
            path = (*prefix, name)
            where = (*full, name)
            if data.draw(st.integers(0, 5), label="comment") == 0:
                lines.append(f"{ind}# about {name}")
            if data.draw(st.integers(0, 6), label="blank") == 0 and lines:
                lines.append("")
            if isinstance(value, dict) and value and data.draw(st.booleans(), label="dotted"):
                info.dotted.add(where)
                lines.extend(bindings(value, path, level, where))
                continue
            if isinstance(value, dict) and len(value) > 1 and data.draw(st.booleans(), label="split"):
                # part of the set as dotted keys, the rest as a literal, in either order
                items = list(value.items())
                cut = data.draw(st.integers(1, len(items) - 1), label="cut")
                dotted = bindings(dict(items[:cut]), path, level, where)
                literal = [
                    f"{ind}{_key(path)} = {{",
                    *bindings(dict(items[cut:]), (), level + 1, where),
                    f"{ind}}};",
                ]
                info.split.add(where)
                first_dotted = data.draw(st.booleans(), label="dotted first")
                lines.extend(dotted + literal if first_dotted else literal + dotted)
                continue
            key = _key(path)
            if isinstance(value, dict):
                if not value:
                    lines.append(f"{ind}{key} = {{ }};")
                    continue
                cond = wrap("mkIf")
                opener = "{" if cond is None else f"{cond}mkIf true {{"
                if cond is not None:
                    info.wrapped.add(where)
                lines.append(f"{ind}{key} = {opener}")
                lines.extend(bindings(value, (), level + 1, where))
                lines.append(f"{ind}}};")
                continue
            text = to_nix(value, indent=unit, level=level, newline=nl)
            force = wrap("mkForce")
            if force is not None:
                text = f"{force}mkForce ({text})"
            trailing = " # note" if data.draw(st.integers(0, 4), label="trailing") == 0 else ""
            lines.append(f"{ind}{key} = {text};{trailing}")
        return lines

    body = ["{", *bindings(model, (), 1, ()), "}"]
    if len(body) == 2 and data.draw(st.booleans(), label="one-line empty"):
        body = ["{ }"]
    source = header + nl.join(body)
    return (source + nl if final_nl else source), info


def lookup(model: dict[str, Any], path: tuple[str, ...]) -> tuple[str, Any]:
    """('absent' | 'leaf' | 'set' | 'under-leaf', value) for ``path`` in the model."""
    node: Any = model
    for i, seg in enumerate(path):
        if not isinstance(node, dict):
            return "under-leaf", None
        if seg not in node:
            return "absent", None
        node = node[seg]
        if i < len(path) - 1 and not isinstance(node, dict):
            return "under-leaf", None
    return ("set" if isinstance(node, dict) else "leaf"), node


def check_outside_unchanged(old: bytes, change: Change) -> None:
    new = change.document.data
    assert len(change.edits) >= 1
    first, last = change.edits[0], change.edits[-1]
    assert new[: first.start] == old[: first.start]
    tail = len(old) - last.end
    assert new[len(new) - tail :] == old[last.end :]


def nix_parse_many(nix: str, sources: list[bytes], tmp: Path) -> None:
    """One nix-instantiate process per batch of files; fails naming the bad file."""
    for start in range(0, len(sources), 100):
        files = []
        for i, src in enumerate(sources[start : start + 100]):
            f = tmp / f"out{start + i}.nix"
            f.write_bytes(src)
            files.append(str(f))
        proc = subprocess.run(
            [nix, *NIX_OFFLINE, "--parse", *files], capture_output=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")


values = st.one_of(
    st.integers(-1000, 1000),
    st.text(alphabet="xy \"'$\\{}\n\t", max_size=8),
    st.booleans(),
    st.lists(st.sampled_from(["p", "q r", "s"]), max_size=3),
    st.dictionaries(st.sampled_from(["k", "l-m"]), st.integers(0, 3), max_size=2),
)


def test_engine_properties(nix_instantiate: str, tmp_path: Path) -> None:
    outputs: list[bytes] = []

    @settings(max_examples=settings().max_examples)
    @given(data=st.data(), model=config_model, value=values)
    def run(data: st.DataObject, model: dict[str, Any], value: Any) -> None:
        text, info = render(data, model)
        source = text.encode()
        outputs.append(source)
        doc = Document.from_text(source)
        assert doc.data == source
        depth = data.draw(st.integers(1, 4), label="depth")
        path = tuple(data.draw(st.sampled_from([*NAMES, "new"])) for _ in range(depth))
        existing = _all_paths(model)
        if existing and data.draw(st.booleans(), label="near an existing path"):
            base = data.draw(st.sampled_from(existing), label="existing")
            path = base + path[: data.draw(st.integers(0, 2), label="extra")]
        state, _ = lookup(model, path)
        refused = (
            state == "under-leaf"
            or (state == "set" and path in info.dotted)
            or (state == "set" and path in info.split and not isinstance(value, dict))
            or (state == "absent" and not _place_under_wrapper(model, info, path))
        )
        try:
            change = doc.set(path, value)
        except EditError:
            # refused exactly when Nix itself would reject the new definition
            assert refused, (state, path)
            return
        assert not refused, (state, path)
        new = change.document
        outputs.append(new.data)
        # the incrementally re-parsed tree is the tree of a fresh parse
        assert str(new.tree.root_node) == str(syntax.parse(new.data).root_node)
        # (a) set then get returns the value
        [binding] = new.get(path)
        assert binding.value == value
        conditional = any(path[:k] in info.wrapped for k in range(1, len(path) + 1))
        assert ("mkIf" in binding.wrappers) == conditional
        # (d) bytes outside the edit span unchanged
        if change.changed:
            check_outside_unchanged(source, change)
            assert len(change.edits) == 1
        if state == "absent":
            # (b) set of a new path then delete gives back the original bytes (the same
            # bindings where set opened up a one-line set: that replaced more than whitespace)
            assert_delete_undoes(doc, change, path)
        else:
            deleted = new.delete(path)
            outputs.append(deleted.document.data)
            assert deleted.document.get(path) == []
            check_outside_unchanged(new.data, deleted)

    run()
    # (c) every output accepted by the real Nix parser
    nix_parse_many(nix_instantiate, outputs, tmp_path)


def _place_under_wrapper(model: dict[str, Any], info: Layout, path: tuple[str, ...]) -> bool:
    """Whether a new ``path`` has a place: no wrapped prefix, or a set literal written inside.

    Beside ``k = lib.mkIf c { … };`` Nix rejects any other definition of ``k``; inside it, the
    deepest prefix of the path written as a literal set takes the new key, which works when
    no wrapped prefix lies below that literal.
    """
    wrapped = [k for k in range(1, len(path)) if path[:k] in info.wrapped]
    if not wrapped:
        return True
    literals = [
        j
        for j in range(wrapped[0] + 1, len(path))
        if lookup(model, path[:j])[0] == "set"
        and path[:j] not in info.dotted
        and path[:j] not in info.wrapped
    ]
    return bool(literals) and max(literals) > wrapped[-1]


def _all_paths(model: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, value in model.items():
        out.append((*prefix, name))
        if isinstance(value, dict):
            out.extend(_all_paths(value, (*prefix, name)))
    return out


def _leaf_paths(model: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, value in model.items():
        if isinstance(value, dict):
            out.extend(_leaf_paths(value, (*prefix, name)))
        else:
            out.append((*prefix, name))
    return out


def test_list_and_rename_properties(nix_instantiate: str, tmp_path: Path) -> None:
    outputs: list[bytes] = []

    @settings(max_examples=settings().max_examples)
    @given(data=st.data(), model=config_model, item=st.integers(0, 12))
    def run(data: st.DataObject, model: dict[str, Any], item: int) -> None:
        text, _ = render(data, model)
        source = text.encode()
        doc = Document.from_text(source)
        leaves = _leaf_paths(model)
        assume(leaves)
        path = data.draw(st.sampled_from(leaves), label="leaf")
        _, current = lookup(model, path)
        # rename then rename back is the identity; only key spans change
        target = (*path[:-1], "renamed")
        renamed = doc.rename(path, target)
        outputs.append(renamed.data)
        assert [b.value for b in renamed.document.get(target)] == [current]
        assert renamed.document.get(path) == []
        back = renamed.document.rename(target, path).document
        if is_identifier(path[-1]):
            assert back.data == source
        else:  # written back quoted: same logical content
            assert [b.value for b in back.get(path)] == [current]
        if not isinstance(current, list):
            return
        appended = doc.append(path, item)
        if item in current:
            assert not appended.changed
            return
        outputs.append(appended.data)
        assert appended.document.value(path) == [*current, item]
        assert not appended.document.append(path, item).changed  # idempotent
        check_outside_unchanged(source, appended)
        removed = appended.document.remove(path, item)
        if appended.edits[0].start == appended.edits[0].end:
            assert removed.document.data == source
        assert removed.document.value(path) == current
        assert not removed.document.remove(path, item).changed

    run()
    nix_parse_many(nix_instantiate, outputs, tmp_path)
