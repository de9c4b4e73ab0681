"""NG301–NG304 and NG401: NixOS container rules over a whole configuration.

A configuration is a file plus the modules it imports by literal relative path; containers
come from :func:`nixgen.containers.discover_modules`. Containers without a private network
(every legacy ``systemd.containers`` one) share the host's network, so their sshd ports, the
host's sshd ports and forwarded host ports must all differ (NG301). Names must be usable
(NG302); a path-route container's own file must set ``boot.isContainer = true;`` (NG303, with
a fix adding it where it is not set and can be added; an explicit value is never overwritten) and its profile must follow its dialect's layout (NG304). NG401 notes weak isolation
(shared network, the legacy dialect's writable ``/sys/fs/cgroup``); a comment
``# nixgen: allow-shared-network`` on or directly above a definition silences it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixgen.checks.model import ERROR, WARNING, Finding, Fix
from nixgen.checks.nodes import Source
from nixgen.errors import NixgenError

if TYPE_CHECKING:
    from nixgen.containers import Container, Module
    from nixgen.document import Binding, Document

ALLOW_COMMENT = "nixgen: allow-shared-network"
NAME_MAX_PRIVATE = 11
LEGACY_PROFILES = "/nix/var/nix/profiles/containers/"
MODERN_PROFILES = "/nix/var/nix/profiles/per-container/"


@dataclass
class _Place:
    module_path: Path
    doc: Document
    start: int
    end: int


def _source(doc: Document, path: Path) -> Source:
    return Source(doc.data, doc.tree, path)


def _imported_is_container(doc: Document) -> bool:
    """Whether a module ``doc`` imports by literal path sets ``boot.isContainer`` (not false)."""
    from nixgen.module_imports import find_in_imports

    found = find_in_imports(doc, ("boot", "isContainer"))
    if found is None:
        return False
    _via, defs = found
    return any(tuple(b.path) == ("boot", "isContainer") and b.value is not False for b in defs)


def _name_ok(name: str) -> bool:
    from nixgen.container_specs import NAME_RE

    return bool(NAME_RE.match(name))


class _Rules:
    def __init__(self, modules: list[Module], buffers: Mapping[Path, bytes] | None) -> None:
        from nixgen import containers

        self.modules = modules
        self.buffers = buffers
        found = containers.discover_modules(modules, buffers=buffers, read_container_files=True)
        self.containers = [c for c in found if not c.dynamic]
        self.findings: list[Finding] = []

    # -- locating -----------------------------------------------------------------------------
    def _module_of(self, path: Path) -> Module | None:
        for m in self.modules:
            if m.path == path:
                return m
        return None

    def first_place(self, c: Container) -> _Place:
        module = self._module_of(c.file) or self.modules[0]
        b = c.definitions[0]
        return _Place(module.path, module.document, b.key_start, b.key_end)

    def place(self, c: Container, rel: tuple[str, ...]) -> _Place:
        """Where ``<prefix>.<name>.<rel>`` is defined (its value), else the first definition."""
        from nixgen.containers import prefix_of

        want = (*prefix_of(c.dialect), c.name, *rel)
        for m in self.modules:
            for b in m.document.bindings():
                if tuple(b.path) == want:
                    return _Place(m.path, m.document, b.value_start, b.value_end)
        if c.route == "path" and c.container_file is not None and rel[:1] == ("config",):
            doc = self.load(c.container_file)
            if doc is not None:
                for b in doc.bindings():
                    if tuple(b.path) == rel[1:]:
                        return _Place(c.container_file, doc, b.value_start, b.value_end)
        return self.first_place(c)

    def load(self, path: Path) -> Document | None:
        from nixgen.containers import load_document

        try:
            return load_document(path, self.buffers)
        except NixgenError:
            return None

    def add(self, code: str, severity: str, message: str, place: _Place,
            fix: Fix | None = None, related: tuple[str, int, int] | None = None) -> None:
        src = _source(place.doc, place.module_path)
        self.findings.append(src.finding(code, severity, message, place.start, place.end, fix,
                                         (related,) if related else ()))

    # -- NG301 --------------------------------------------------------------------------------
    def ports(self) -> None:
        from nixgen.containers import host_ssh_ports_of

        used: dict[int, tuple[str, tuple[str, int, int]]] = {}
        for port, file, line in host_ssh_ports_of(self.modules):
            used.setdefault(port, (f"the host's sshd ({Path(file).name}:{line})",
                                   (str(file), line, 1)))
        for c in self.containers:
            if not c.shares_host_network or c.ssh_enabled is False:
                continue  # a private network, or sshd switched off: no port of the host's
            for port in c.sshd_ports():
                owner = used.get(port)
                if owner is None:
                    used[port] = (f"the sshd of container `{c.name}` ({c.file.name}:{c.line})",
                                  (str(c.file), c.line, c.col))
                    continue
                rel = ("config", "services", "openssh", "ports") if c.ports else \
                    ("config", "services", "openssh", "enable")
                self.add("NG301", ERROR,
                         f"container `{c.name}`'s sshd listens on port {port}, already used by "
                         f"{owner[0]}; a container without a private network shares the "
                         "host's network, so one of the two sshds cannot start: give this one "
                         "another port", self.place(c, rel), related=owner[1])
        forwarded: dict[tuple[int, str], tuple[str, tuple[str, int, int]]] = {}
        for c in self.containers:
            for fp in c.forward_ports:
                host_port = fp.get("hostPort")
                if not isinstance(host_port, int):
                    continue
                proto = str(fp.get("protocol", "tcp"))
                key = (host_port, proto)
                owner = forwarded.get(key) or (used.get(host_port) if proto == "tcp" else None)
                if owner is None:
                    forwarded[key] = (f"a forwarded port of container `{c.name}` "
                                      f"({c.file.name}:{c.line})", (str(c.file), c.line, c.col))
                    continue
                self.add("NG301", ERROR,
                         f"container `{c.name}` forwards host port {host_port}/{proto}, "
                         f"already used by {owner[0]}: a host port can serve only one of them",
                         self.place(c, ("forwardPorts",)), related=owner[1])

    # -- NG302 --------------------------------------------------------------------------------
    def names(self) -> None:
        seen: dict[str, Container] = {}
        for c in self.containers:
            place = self.first_place(c)
            if not _name_ok(c.name):
                self.add("NG302", ERROR,
                         f"container name `{c.name}` is not usable: use letters, digits and "
                         "`-`, starting with a letter", place)
            elif c.private_network and len(c.name) > NAME_MAX_PRIVATE:
                self.add("NG302", ERROR,
                         f"container name `{c.name}` has {len(c.name)} characters; with a "
                         f"private network its interface `ve-{c.name}` must fit in 15, so "
                         f"use at most {NAME_MAX_PRIVATE}", place)
            other = seen.get(c.name.lower())
            if other is not None and other.name != c.name:
                self.add("NG302", WARNING,
                         f"container `{c.name}` differs only in case from `{other.name}` "
                         f"({other.file.name}:{other.line}); their units, state directories "
                         "and profiles are too easily confused", place,
                         related=(str(other.file), other.line, other.col))
            seen.setdefault(c.name.lower(), c)

    # -- NG303 / NG304 ------------------------------------------------------------------------
    def path_route(self) -> None:
        for c in self.containers:
            if c.route != "path":
                continue
            if c.container_file is not None:
                self._is_container(c, c.container_file)
            self._profile(c)

    def _is_container(self, c: Container, file: Path) -> None:
        doc = self.load(file)
        if doc is None or doc.top_attrset() is None:
            return
        defs = doc.get(("boot", "isContainer"))
        values = [b.value for b in defs]
        if any(v is True for v in values):
            return
        if not defs and _imported_is_container(doc):
            return
        host = f"{c.file.name}:{c.line}"
        message = (f"container `{c.name}` is built from this file by the path route ({host}), "
                   "but it does not set `boot.isContainer = true;`, so its profile builds a "
                   "kernel and initrd the container never uses")
        fix = None
        if not defs:
            top = doc.top_attrset()
            place = _Place(file, doc, top.start_byte, top.start_byte + 1)
            try:
                change = doc.set(("boot", "isContainer"), True)
            except NixgenError:
                change = None    # e.g. `boot = lib.mkIf …;`: reported, left to the user
            if change is not None:
                fix = Fix("add `boot.isContainer = true;`", tuple(change.edits))
        elif any(v is False for v in values):
            # set explicitly: the user's choice is reported, never overwritten
            b = next(b for b in defs if b.value is False)
            place = _Place(file, doc, b.value_start, b.value_end)
        else:
            return
        self.add("NG303", WARNING, message, place, fix)

    def _profile(self, c: Container) -> None:
        if c.profile is None:
            return
        if c.dialect == "legacy":
            expected = [LEGACY_PROFILES + c.name]
        else:
            expected = [MODERN_PROFILES + c.name + "/system", MODERN_PROFILES + c.name]
        if c.profile.rstrip("/") in expected:
            return
        self.add("NG304", WARNING,
                 f"path-route container `{c.name}` ({c.dialect} dialect) uses the profile "
                 f"{c.profile}; the {c.dialect} layout is {expected[0]}, where nixgen "
                 "and the container tools build and look for it", self.place(c, ("path",)))

    # -- NG401 --------------------------------------------------------------------------------
    def _allowed(self, c: Container) -> bool:
        for b, file in zip(c.definitions, c.definition_files, strict=False):
            module = self._module_of(file)
            if module is not None and _has_allow_comment(module.document.data, b):
                return True
        return False

    def isolation(self) -> None:
        for c in self.containers:
            if self._allowed(c):
                continue
            place = self.first_place(c)
            if c.shares_host_network:
                self.add("NG401", WARNING,
                         f"container `{c.name}` shares the host's network: its services "
                         "listen on the host's interfaces and can reach everything the host "
                         + ("can (the legacy dialect has no private network)"
                            if c.dialect == "legacy" else "can; set `privateNetwork = true;`")
                         + f", or add `# {ALLOW_COMMENT}` above it", place)
            if c.dialect == "legacy":
                self.add("NG401", WARNING,
                         f"legacy container `{c.name}` sees the host's /sys/fs/cgroup mounted "
                         "writable; treat it as trusted code or use the modern `containers` "
                         f"dialect (add `# {ALLOW_COMMENT}` above it to accept this)", place)


def _has_allow_comment(data: bytes, binding: Binding) -> bool:
    start = binding.node.start_byte
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", start)
    if ALLOW_COMMENT.encode() in data[line_start : line_end if line_end >= 0 else len(data)]:
        return True
    pos = line_start
    while pos > 0:
        prev_start = data.rfind(b"\n", 0, pos - 1) + 1
        text = data[prev_start : pos - 1].strip()
        if not text.startswith((b"#", b"/*", b"*")):
            return False
        if ALLOW_COMMENT.encode() in text:
            return True
        pos = prev_start
    return False


def check_modules(modules: list[Any], buffers: Mapping[Path, bytes] | None = None
                  ) -> list[Finding]:
    """Container findings for a configuration's modules (the first is the configuration)."""
    rules = _Rules(modules, buffers)
    rules.ports()
    rules.names()
    rules.path_route()
    rules.isolation()
    return rules.findings
