"""NG501: a legacy option name used beside its modern name in the same file.

Two pairs are checked: the container options (legacy ``systemd.containers.<name>``, modern
``containers.<name>``) and the user options (legacy ``users.extraUsers``/``extraGroups``,
modern ``users.users``/``groups``, both on the host and inside each container's ``config``).
When a file mixes them, the names of the file's less used dialect are reported; the fix
renames them to the dominant one (ties go to the modern name). A fix is offered only when it
is safe: the key is spelled out in that binding, a container moved to the legacy dialect uses
only ``config``/``path``, and the renamed file defines nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from nixgen.checks.model import WARNING, Finding, Fix
from nixgen.checks.nodes import LBinding, Name, Source, attrpath_elements
from nixgen.edits import Edit
from nixgen.syntax import Node

LEGACY = ("systemd", "containers")
MODERN = ("containers",)
USER_PAIRS = (("extraUsers", "users"), ("extraGroups", "groups"))
ROUTE_FIELDS = {"config", "path"}


def _own_key(lb: LBinding, index: int) -> bool:
    """Whether path element ``index`` is written in this binding's own attrpath."""
    if lb.node.type != "binding" or index >= len(lb.key_nodes):
        return False
    return any(e.id == lb.key_nodes[index].id for e in attrpath_elements(lb.node))


def _clear(lbs: list[LBinding], moved: LBinding, new_prefix: tuple[Name, ...]) -> bool:
    """True when renaming ``moved`` to start with ``new_prefix`` cannot define anything twice:
    nothing else is under ``new_prefix`` or bound to a prefix of it (else: check the result)."""
    n = len(new_prefix)
    for lb in lbs:
        if lb.node.id == moved.node.id or moved.node.start_byte <= lb.node.start_byte < \
                moved.node.end_byte:
            continue
        if lb.path[:n] == new_prefix:
            return False
        if len(lb.path) < n and new_prefix[: len(lb.path)] == lb.path:
            return False
    return True


def _container_dialects(lbs: list[LBinding]) -> dict[str, dict[Name, list[LBinding]]]:
    found: dict[str, dict[Name, list[LBinding]]] = {"legacy": {}, "modern": {}}
    for lb in lbs:
        for dialect, prefix in (("legacy", LEGACY), ("modern", MODERN)):
            n = len(prefix)
            if lb.path[:n] == prefix and len(lb.path) > n:
                key = lb.path[n] if isinstance(lb.path[n], str) else repr(lb.path[n])
                found[dialect].setdefault(key, []).append(lb)
    return found


def _entry_bindings(lbs: list[LBinding], prefix: tuple[str, ...]) -> list[LBinding]:
    """The bindings that introduce ``prefix`` (topmost ones), in source order."""
    n = len(prefix)
    out = []
    for lb in lbs:
        if lb.path[:n] != prefix or len(lb.path) < n:
            continue
        # the binding spells out the element that completes the prefix
        if _own_key(lb, n - 1):
            out.append(lb)
    return out


def _check_containers(src: Source, lbs: list[LBinding],
                      safe: Callable[[tuple[Edit, ...]], bool]) -> list[Finding]:
    found = _container_dialects(lbs)
    if not found["legacy"] or not found["modern"]:
        return []
    dominant = "legacy" if len(found["legacy"]) > len(found["modern"]) else "modern"
    minority = "modern" if dominant == "legacy" else "legacy"
    prefix = LEGACY if minority == "legacy" else MODERN
    findings = []
    seen: set[int] = set()
    for lb in _entry_bindings(lbs, prefix):
        key = lb.key_nodes[len(prefix) - 1]
        if key.id in seen:
            continue
        seen.add(key.id)
        start = lb.key_nodes[0].start_byte
        fix = None
        if minority == "legacy" and _own_key(lb, 0):
            edit = Edit(start, lb.key_nodes[1].start_byte, "")
            fix = Fix("rename `systemd.containers` to `containers`", (edit,))
        elif minority == "modern" and _own_key(lb, 0):
            names = {lb.path[1]} if len(lb.path) > 1 else set(found["modern"])
            fields = {
                other.path[2]
                for name in names
                for other in found["modern"].get(name, [])  # type: ignore[call-overload]
                if len(other.path) > 2
            }
            if fields <= ROUTE_FIELDS:
                fix = Fix("rename `containers` to `systemd.containers`",
                          (Edit(start, start, "systemd."),))
        if fix is not None:
            new_prefix = (*(MODERN if minority == "legacy" else LEGACY), *lb.path[len(prefix):])
            new_prefix = new_prefix[: len(prefix) + 2 if minority == "modern" else 2]
            if not _clear(lbs, lb, new_prefix) and not safe(fix.edits):
                fix = None
        old, new = ("systemd.containers", "containers") if minority == "legacy" \
            else ("containers", "systemd.containers")
        findings.append(src.finding(
            "NG501", WARNING,
            f"`{old}` beside `{new}` in one file: this file mostly uses the {dominant} "
            f"dialect (`{new}`), so use that name for every container",
            start, key.end_byte, fix))
    return findings


def _system_roots(lbs: list[LBinding]) -> set[tuple[Name, ...]]:
    roots: set[tuple[Name, ...]] = {()}
    for lb in lbs:
        for prefix in (LEGACY, MODERN):
            n = len(prefix)
            if lb.path[:n] == prefix and len(lb.path) > n + 1 and lb.path[n + 1] == "config":
                roots.add(lb.path[: n + 2])
    return roots


def _check_users(src: Source, lbs: list[LBinding],
                 safe: Callable[[tuple[Edit, ...]], bool]) -> list[Finding]:
    findings = []
    for root in sorted(_system_roots(lbs), key=len):
        n = len(root)
        for legacy, modern in USER_PAIRS:
            uses: dict[str, list[LBinding]] = {legacy: [], modern: []}
            for lb in lbs:
                if (len(lb.path) > n + 1 and lb.path[:n] == root and lb.path[n] == "users"
                        and lb.path[n + 1] in uses and _own_key(lb, n + 1)):
                    uses[lb.path[n + 1]].append(lb)  # type: ignore[index]
            if not uses[legacy] or not uses[modern]:
                continue
            dominant = legacy if len(uses[legacy]) > len(uses[modern]) else modern
            minority = modern if dominant == legacy else legacy
            seen: set[int] = set()
            for lb in uses[minority]:
                key: Node = lb.key_nodes[n + 1]
                if key.id in seen:
                    continue
                seen.add(key.id)
                edits = (Edit(key.start_byte, key.end_byte, dominant),)
                fix = Fix(f"rename `users.{minority}` to `users.{dominant}`", edits)
                new_prefix = (*root, "users", dominant, *lb.path[n + 2 : n + 3])
                if not _clear(lbs, lb, new_prefix) and not safe(edits):
                    fix = None
                where = "" if not root else " in this container's config"
                findings.append(src.finding(
                    "NG501", WARNING,
                    f"`users.{minority}` beside `users.{dominant}`{where}: "
                    f"`users.{legacy}` is the legacy name of `users.{modern}`; use one name, "
                    f"`users.{dominant}`, as most of this file does",
                    key.start_byte, key.end_byte, fix))
    return findings


def check_dialect(src: Source, safe: Callable[[tuple[Edit, ...]], bool]) -> list[Finding]:
    """NG501 findings; ``safe(edits)`` says whether a candidate fix keeps the file valid."""
    data = src.data
    if not (b"extraUsers" in data or b"extraGroups" in data
            or (b"systemd" in data and b"containers" in data)):
        return []                       # neither pair can be mixed here
    lbs = src.logical()
    return [*_check_containers(src, lbs, safe), *_check_users(src, lbs, safe)]
