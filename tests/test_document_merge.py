"""The replay of Nix's attribute merging (nixgen.merge) agrees with the real Nix parser."""

from __future__ import annotations

import pytest
from conftest import nix_parse_ok
from hypothesis import given, settings
from hypothesis import strategies as st

from nixgen import merge, syntax

KEYS = st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=3).map(".".join)


def _bindings(depth: int) -> st.SearchStrategy[list[str]]:
    value: st.SearchStrategy[str] = st.sampled_from(["1", "(2)", "f 3"])
    if depth > 0:
        value = st.one_of(
            value,
            _bindings(depth - 1).map(lambda bs: "{ " + " ".join(bs) + " }"),
            _bindings(depth - 1).map(lambda bs: "({ " + " ".join(bs) + " })"),
            _bindings(depth - 1).map(lambda bs: "rec { " + " ".join(bs) + " }"),
        )
    binding = st.one_of(
        st.tuples(KEYS, value).map(lambda kv: f"{kv[0]} = {kv[1]};"),
        st.sampled_from(["inherit a;", "inherit (f) b;"]),
    )
    return st.lists(binding, min_size=1, max_size=4)


def nix_verdict(src: str, nix: str) -> bool:
    """True when Nix reports 'already defined' for ``src``."""
    ok, err = nix_parse_ok(src, nix)
    assert ok or "already defined" in err, err
    return not ok


@settings(max_examples=min(settings().max_examples, 80))
@given(bindings=_bindings(2))
def test_replay_matches_nix(bindings: list[str]) -> None:
    src = "{ f, a }: { " + " ".join(bindings) + " }"
    data = src.encode()
    found = merge.conflicts(syntax.parse(data).root_node, data, ())
    assert bool(found) == nix_verdict(src, "nix-instantiate"), src


@pytest.mark.parametrize(
    ("src", "bad"),
    [
        ("{ a.b.x = 1; a = { b.y = 2; }; }", True),
        ("{ a = { b.y = 2; }; a.b.x = 1; }", False),
        ("{ a.b = 1; a = { c = 2; }; }", False),
        ("{ a = { x = 1; }; a = { x = 2; }; }", True),
        ("{ a = let in { x = 1; }; a.y = 2; }", True),
        ("{ inherit a; a.b = 1; }", True),
        ('{ a = 1; "a" = 2; }', True),
        ("{ ${a} = 1; ${a} = 2; }", False),
    ],
)
def test_known_cases(src: str, bad: bool, nix_instantiate: str) -> None:
    full = "{ a }: " + src
    data = full.encode()
    assert bool(merge.conflicts(syntax.parse(data).root_node, data, ())) == bad
    assert nix_verdict(full, nix_instantiate) == bad


def test_conflicts_filtered_by_path() -> None:
    data = b"{ a.x = 1; a.x = 2; b.y = 1; b = { y = 2; }; }"
    root = syntax.parse(data).root_node
    assert [c.path for c in merge.conflicts(root, data, ("a",))] == [("a", "x")]
    assert [c.path for c in merge.conflicts(root, data, ("b", "y"))] == [("b", "y")]
    assert merge.conflicts(root, data, ("c",)) == []


@given(bindings=_bindings(2), want=st.lists(st.sampled_from(["a", "b"]), max_size=3))
def test_filtered_replay_agrees_with_full_replay(bindings: list[str], want: list[str]) -> None:
    src = "{ f, a }: { " + " ".join(bindings) + " }"
    data = src.encode()
    root = syntax.parse(data).root_node
    full = merge.conflicts(root, data, ())
    filtered = merge.conflicts(root, data, tuple(want))
    on_path = [
        c for c in full if all(x == y for x, y in zip(c.path, want, strict=False))
    ]
    assert bool(filtered) == bool(on_path)
    assert bool(filtered) <= bool(full)
