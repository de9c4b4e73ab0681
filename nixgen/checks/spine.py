"""NG201: ``pkgs.lib`` used in a NixOS module where the module argument ``lib`` is available.

``pkgs`` is itself a result of the module evaluation, so reaching ``lib`` through it on the
spine of the module system (``with pkgs.lib;``, ``pkgs.lib.mkIf …``) makes NixOS evaluate
``pkgs`` and some modules twice. The fix rewrites ``pkgs.lib`` to ``lib`` and, when the
module function does not take ``lib`` yet, adds it to the argument set in the file's own
layout (``{ config, pkgs, ... }:`` → ``{ config, pkgs, lib, ... }:``). A function whose
``pkgs`` has a default (``{ pkgs ? import <nixpkgs> { } }:``) is also called without
arguments, so no required ``lib`` is added to it: the finding comes without a fix there.

The finding also comes without a fix when the rewrite could change what the file means:
``pkgs.lib`` in the default of an argument (``lib ? pkgs.lib`` would become ``lib ? lib``),
``pkgs.lib or …`` (``lib or …`` reads as a call of ``lib``), a ``lib`` argument whose default
is not ``pkgs.lib``, a ``lib`` bound by the function itself (``lib@{ … }``), and, where the
argument would be added, any ``lib`` the file uses without binding it (from a ``with``, such
as ``with pkgs;``, or undefined): the new argument would capture it.
"""

from __future__ import annotations

from nixgen.checks.model import WARNING, Finding, Fix
from nixgen.checks.nodes import (
    Source,
    attr_name,
    attrpath_elements,
    bindings_of,
    find,
    formal_names,
    inherited_names,
    module_function,
    named_formals,
    strip_parens,
)
from nixgen.edits import Edit
from nixgen.syntax import Node

SELECT_QUERY = "(select_expression expression: (variable_expression) @v) @n"


def add_formal_edit(function: Node, data: bytes, name: str) -> Edit | None:
    """An edit adding ``name`` after the last named argument, copying the separator style."""
    formals = function.child_by_field_name("formals")
    if formals is None:
        return None
    real = named_formals(function)
    ellipses = formals.child_by_field_name("ellipses")
    if not real:
        if ellipses is not None:
            return Edit(ellipses.start_byte, ellipses.start_byte, f"{name}, ")
        return None
    last = real[-1]
    if len(real) >= 2:
        sep = data[real[-2].end_byte : last.start_byte].decode("utf-8", "replace")
    elif ellipses is not None:
        sep = data[last.end_byte : ellipses.start_byte].decode("utf-8", "replace")
    else:
        sep = ", "
    if "#" in sep or "/*" in sep or "," not in sep:
        sep = ", "
    line_end = data.find(b"\n", last.end_byte)
    rest = data[last.end_byte : line_end].decode("utf-8", "replace") if line_end >= 0 else ""
    marks = [i for i in (rest.find("#"), rest.find("/*")) if i >= 0]
    before_comment = rest[: min(marks)].strip() if marks else None
    if "\n" in sep and before_comment in ("", ","):
        # a comment ends the last argument's line: add the new one on a line of its own
        tail = sep.rpartition("\n")[2]
        if before_comment == ",":             # a comma already follows the last argument
            line_start = data.rfind(b"\n", 0, last.start_byte) + 1
            prefix = data[line_start : last.start_byte].decode("utf-8", "replace")
            indent = "".join(c if c == "\t" else " " for c in prefix)
            return Edit(line_end, line_end, f"\n{indent}{name},")
        if "," in tail:                       # leading-comma style
            return Edit(line_end, line_end, f"\n{tail}{name}")
    return Edit(last.end_byte, last.end_byte, f"{sep}{name}")


def _has_default(function: Node, data: bytes, name: str) -> bool:
    """Whether the argument ``name`` of ``function`` has a default value (``name ? …``)."""
    for formal in named_formals(function):
        formal_name = formal.child_by_field_name("name")
        if (formal_name is not None and data[formal_name.start_byte : formal_name.end_byte]
                == name.encode() and formal.child_by_field_name("default") is not None):
            return True
    return False


def _formal_default(function: Node, data: bytes, name: str) -> Node | None:
    """The default value of the argument ``name`` of ``function`` (None without one)."""
    for formal in named_formals(function):
        formal_name = formal.child_by_field_name("name")
        if (formal_name is not None
                and data[formal_name.start_byte : formal_name.end_byte] == name.encode()):
            return formal.child_by_field_name("default")
    return None


def _in_formal_default(node: Node, function: Node) -> bool:
    """Whether ``node`` lies in the default value of one of ``function``'s arguments."""
    for formal in named_formals(function):
        default = formal.child_by_field_name("default")
        if default is not None and default.start_byte <= node.start_byte < default.end_byte:
            return True
    return False


def _bound_names(node: Node, data: bytes) -> set[str]:
    """Names a let / rec set / inner function binds for the code inside it."""
    names: set[str] = set()
    if node.type in ("let_expression", "rec_attrset_expression", "let_attrset_expression"):
        for b in bindings_of(node):
            if b.type == "binding":
                elems = attrpath_elements(b)
                if elems:
                    first = attr_name(elems[0], data)
                    if isinstance(first, str):
                        names.add(first)
            else:
                for attr in inherited_names(b):
                    n = attr_name(attr, data)
                    if isinstance(n, str):
                        names.add(n)
    elif node.type == "function_expression":
        universal = node.child_by_field_name("universal")
        if universal is not None:
            names.add(data[universal.start_byte : universal.end_byte].decode())
        names.update(formal_names(node, data))
    return names


def _shadowed(node: Node, module: Node, data: bytes, name: str) -> bool:
    anc = node.parent
    while anc is not None and anc != module:
        if name in _bound_names(anc, data):
            return True
        anc = anc.parent
    return False


def _bound_from(node: Node | None, data: bytes, name: str) -> bool:
    """Whether a scope of the file at or around ``node`` binds ``name``."""
    while node is not None:
        if name in _bound_names(node, data):
            return True
        node = node.parent
    return False


def _uses_unbound(root: Node, data: bytes, name: str) -> bool:
    """Whether the file refers to a variable ``name`` that no scope of the file binds (it can
    only come from a ``with``, or be undefined)."""
    for var in find(root, "(variable_expression) @n"):
        if data[var.start_byte : var.end_byte] == name.encode() \
                and not _bound_from(var.parent, data, name):
            return True
    # `inherit name;` (no source) reads `name` from around the set or let holding it
    for inherit in find(root, "(inherit) @n"):
        if any(attr_name(a, data) == name for a in inherited_names(inherit)):
            holder = inherit.parent.parent if inherit.parent is not None else None
            if holder is None or not _bound_from(holder.parent, data, name):
                return True
    return False


def _no_comment(text: str) -> bool:
    """Whether the replaced span holds no comment (the rewrite would drop it)."""
    return "#" not in text and "/*" not in text


def check_spine(src: Source) -> list[Finding]:
    """NG201 findings (with fixes) for ``pkgs.lib`` in a module taking ``pkgs``."""
    module = module_function(src.root)
    if module is None:
        return []
    args = formal_names(module, src.data)
    if "pkgs" not in args:
        return []
    add = None if "lib" in args else add_formal_edit(module, src.data, "lib")
    fixable = "lib" in args or not _has_default(module, src.data, "pkgs")
    universal = module.child_by_field_name("universal")
    if universal is not None and src.text(universal) == "lib":
        fixable = False                  # `lib@{ … }`: `lib` is the whole argument set
    lib_default = strip_parens(_formal_default(module, src.data, "lib"))
    if lib_default is not None and " ".join(src.text(lib_default).split()) != "pkgs.lib":
        fixable = False                  # called without `lib`, it is not pkgs.lib
    if "lib" not in args and _uses_unbound(src.root, src.data, "lib"):
        fixable = False                  # the added argument would capture that `lib`
    findings: list[Finding] = []
    for node in find(module, SELECT_QUERY):
        base = node.child_by_field_name("expression")
        elems = attrpath_elements(node)
        if (base is None or base.type != "variable_expression" or src.text(base) != "pkgs"
                or not elems or attr_name(elems[0], src.data) != "lib"):
            continue
        if _shadowed(node, module, src.data, "pkgs"):
            continue
        start, end = base.start_byte, elems[0].end_byte
        fix = None
        if (fixable and not _shadowed(node, module, src.data, "lib")
                and not _in_formal_default(node, module)
                and not (len(elems) == 1 and node.child_by_field_name("default") is not None)
                and _no_comment(src.data[start:end].decode("utf-8", "replace"))):
            edits = [Edit(start, end, "lib")]
            if add is not None:
                edits.insert(0, add)
            added = " and add `lib` to the module's arguments" if add is not None else ""
            fix = Fix(f"use the module argument `lib`{added}", tuple(edits))
        parent = node.parent
        form = "with pkgs.lib;" if parent is not None and parent.type == "with_expression" \
            and parent.child_by_field_name("environment") == node else "pkgs.lib"
        findings.append(src.finding(
            "NG201", WARNING,
            f"`{form}` in a NixOS module: pkgs is computed by the module evaluation, so "
            "using pkgs.lib on the module spine makes NixOS evaluate pkgs and some modules "
            "twice; use the module argument `lib`",
            start, end, fix))
    return findings
