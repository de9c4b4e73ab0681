"""Dotted <-> nested conversion of the binding under the cursor (nixgen.convert_form)."""

from __future__ import annotations

import pytest
from conftest import nix_parse_ok

from nixgen import convert_form
from nixgen.document import Document


def convert(src: bytes, needle: bytes, kind: str) -> bytes | None:
    doc = Document.from_text(src, check=False)
    for conv in convert_form.conversions_at(doc, src.index(needle)):
        if conv.kind == kind:
            return doc.apply(conv.edits).data
    return None


CASES = [
    (b"{ a.b.c = 1; }\n", b"a.b", "nested", b"{ a = { b.c = 1; }; }\n"),
    (b"{\n\ta.b = {\n\t\tx = 1;\n\t};\n}\n", b"a.b", "nested",
     b"{\n\ta = {\n\t\tb = {\n\t\t\tx = 1;\n\t\t};\n\t};\n}\n"),
    (b"{\n\ta.b = {\n\t\tx = 1;\n\t};\n}\n", b"a.b", "dotted", b"{\n\ta.b.x = 1;\n}\n"),
    (b"{\r\n  a.b = [\r\n    1\r\n  ];\r\n}\r\n", b"a.b", "nested",
     b"{\r\n  a = {\r\n    b = [\r\n      1\r\n    ];\r\n  };\r\n}\r\n"),
    (b'x: {\n  a."b-c".${x} = 1;\n}\n', b"a.", "nested",
     b'x: {\n  a = {\n    "b-c".${x} = 1;\n  };\n}\n'),
    (b"{\n  a = { /* lead */ b = 1; c = 2; # tail\n    # end\n  };\n}\n", b"a =", "dotted",
     b"{\n  /* lead */\n  a.b = 1;\n  a.c = 2; # tail\n  # end\n}\n"),
    ("{\n  # é 😀\n  x.y = \"ü\"; # keep\n}\n".encode(), b"x.y", "nested",
     "{\n  # é 😀\n  x = {\n    y = \"ü\";\n  }; # keep\n}\n".encode()),
    (b"let a.b = 1; in a\n", b"a.b", "nested", b"let a = { b = 1; }; in a\n"),
]


@pytest.mark.parametrize(("src", "needle", "kind", "expected"), CASES)
def test_conversions(src: bytes, needle: bytes, kind: str, expected: bytes,
                     nix_instantiate: str) -> None:
    got = convert(src, needle, kind)
    assert got == expected
    assert nix_parse_ok(got, nix_instantiate)[0]


@pytest.mark.parametrize("src", [
    b"{\n  a = rec { b = 1; };\n}\n",
    b"{\n  a = { inherit b; c = 1; };\n}\n",
    b"{\n  a = { b = 1; } /* x */;\n}\n",
    b"{\n  a = { };\n}\n",
    b"{\n  a = 1;\n}\n",
])
def test_not_offered(src: bytes) -> None:
    doc = Document.from_text(src)
    assert convert_form.conversions_at(doc, src.index(b"a")) == []


def test_round_trip_single_binding() -> None:
    src = b"{\n  # owner\n  services.openssh.ports = [\n    22\n  ]; # two\n}\n"
    nested = convert(src, b"services", "nested")
    assert nested is not None
    assert convert(nested, b"services", "dotted") == src


def test_cursor_in_a_value_converts_the_enclosing_binding() -> None:
    src = b"{\n  a = {\n    b = 1;\n  };\n}\n"
    assert convert(src, b"b = 1", "dotted") == b"{\n  a.b = 1;\n}\n"


@pytest.mark.parametrize(("src", "needle", "kind"), [
    # a literal set after a dotted key with the same head: Nix merges one level deep only
    (b'{\n  systemd.containers.foo.config = { };\n  systemd.containers.bar.path = "/x";\n}\n',
     b"systemd.containers.bar", "nested"),
    (b"{\n  a.b.c = 1;\n  a.b.d = 2;\n}\n", b"a.b.d", "nested"),
    (b"{\n  h = { r = { a = 1; }; };\n  x.y = 1;\n  h.r.b = 2;\n}\n", b"h.r.b", "nested"),
])
def test_a_conversion_nix_would_reject_is_not_offered(src: bytes, needle: bytes, kind: str,
                                                      nix_instantiate: str) -> None:
    got = convert(src, needle, kind)
    assert got is None or nix_parse_ok(got, nix_instantiate)[0]
    assert got is None


def test_a_conversion_beside_siblings_that_cannot_clash_is_offered(
        nix_instantiate: str) -> None:
    src = b"{\n  a.x.c = 1;\n  a.y = 2;\n  a.b.c = 3;\n}\n"
    got = convert(src, b"a.b.c", "nested")
    assert got == b"{\n  a.x.c = 1;\n  a.y = 2;\n  a = {\n    b.c = 3;\n  };\n}\n"
    assert nix_parse_ok(got, nix_instantiate)[0]


def test_a_conversion_beside_an_existing_duplicate_is_still_offered() -> None:
    src = b"{\n  x.y = 1;\n  x = { y = 2; };\n  p.q = 1;\n}\n"
    assert convert(src, b"p.q", "nested") == src.replace(b"p.q = 1;", b"p = {\n    q = 1;\n  };")


@pytest.mark.parametrize(("src", "needle", "kind"), [
    # a comment between the key, the `=` and the set has no place in dotted form
    (b"{ a = /* c */ { b = 1; }; }\n", b"a =", "dotted"),
    (b"{ a /* k */ = { b = 1; }; }\n", b"a /*", "dotted"),
    (b"{\n  a = # c\n    { b = 1; };\n}\n", b"a =", "dotted"),
    (b"{ a = { b = 1; } /* x */; }\n", b"a =", "dotted"),
    # nor a comment inside the dotted key in nested form
    (b"{ a /* k */ .b = 1; }\n", b"a /*", "nested"),
    (b"{ a. /* k */ b = 1; }\n", b"a.", "nested"),
    # a line comment that would swallow the code after it
    (b"{ a = { # keep me\n b = 1; }; }\n", b"a =", "dotted"),
])
def test_a_conversion_that_loses_a_comment_is_not_offered(src: bytes, needle: bytes,
                                                          kind: str) -> None:
    doc = Document.from_text(src, check=False)
    offered = [c.kind for c in convert_form.conversions_at(doc, src.index(needle))]
    assert kind not in offered
    assert convert(src, needle, kind) is None


@pytest.mark.parametrize(("src", "needle", "kind", "expected"), [
    (b"{ a.b /* k */ = 1; }\n", b"a.b", "nested", b"{ a = { b /* k */ = 1; }; }\n"),
    (b"{ a.b = /* k */ 1; }\n", b"a.b", "nested", b"{ a = { b = /* k */ 1; }; }\n"),
    (b"{ a.b /* k */ .c = 1; }\n", b"a.b", "nested", b"{ a = { b /* k */ .c = 1; }; }\n"),
    (b"{ a = { b /* k */ = 1; }; }\n", b"a =", "dotted", b"{ a.b /* k */ = 1; }\n"),
    (b"{\n  a = {\n    /* a\n       block */\n    b = 1;\n  };\n}\n", b"a =", "dotted",
     b"{\n  /* a\n     block */\n  a.b = 1;\n}\n"),
])
def test_comments_inside_the_kept_parts_still_convert(src: bytes, needle: bytes, kind: str,
                                                      expected: bytes,
                                                      nix_instantiate: str) -> None:
    got = convert(src, needle, kind)
    assert got == expected
    assert nix_parse_ok(got, nix_instantiate)[0]
