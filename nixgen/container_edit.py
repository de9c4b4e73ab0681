"""Planning the edits that add, extend or remove a NixOS container.

A plan is data: the :class:`~nixgen.files.FileChange` list to commit as one transaction (the
configuration, the module that already defines the container, and for the path route the
container's own ``containers/NAME.nix``), a one-line summary, and whether there is nothing to
do. Nothing is written here; the command line commits the plan (or shows its diff), the
language server turns it into workspace edits.

New code goes through the document engine (``Document.set`` / ``append`` / ``delete``), which
puts it into the deepest existing attribute set on its path with the style of its
neighbours; multi-line values are laid out here with the file's indentation unit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixgen.container_specs import (
    ContainerSpec,
    is_ipv6,
    key_identity,
    parse_bind_mount,
    parse_forward_port,
    validate_name,
    validate_spec,
)
from nixgen.containers import (
    DEFAULT_SSH_PORT,
    SSH_ENABLE,
    SSH_PORTS,
    Container,
    Module,
    _buffer_for,
    _real,
    _scan,
    _strip_parens,
    _variable_definition,
    _variable_value,
    body_document,
    config_root,
    container_file_for,
    container_sets,
    discover_modules,
    function_body,
    host_ssh_ports_of,
    host_ssh_ports_unread,
    host_state_version,
    literal_of,
    load_modules,
    prefix_of,
    profile_path,
    reindent,
    settings_path,
    ssh_ports_source,
    ssh_ports_value,
    unwrap,
)
from nixgen.errors import EditError, FileError, NixgenError, ValidationError

if TYPE_CHECKING:
    from nixgen.document import Document
    from nixgen.files import FileChange, Snapshot

KEYS_LEGACY = ("users", "extraUsers", "root", "openssh", "authorizedKeys", "keys")
KEYS_MODERN = ("users", "users", "root", "openssh", "authorizedKeys", "keys")


@dataclass
class Plan:
    """What an add/remove would change. ``noop``: nothing to do (the files already say it).

    ``warnings``: what could not be checked (sshd ports that are not literals), one line each;
    they are among the ``notes`` too."""

    changes: list[FileChange]
    summary: str
    noop: bool
    dialect: str
    route: str
    notes: list[str] = field(default_factory=list)
    name: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description for ``--json``."""
        return {
            "name": self.name,
            "changed": not self.noop,
            "summary": self.summary,
            "dialect": self.dialect or None,
            "route": self.route or None,
            "files": [
                {
                    "path": str(c.path),
                    "action": "delete"
                    if c.new_data is None
                    else ("create" if c.snapshot is None else "modify"),
                }
                for c in self.changes
                if c.changed
            ],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


# --- rendering -----------------------------------------------------------------------------------


@dataclass
class Block:
    """An attribute set written one binding per line: ``[(key path, value), …]``."""

    entries: list[tuple[tuple[str, ...], Any]]


@dataclass(frozen=True)
class Style:
    """Indentation unit and newline of the file being edited."""

    unit: str = "  "
    newline: str = "\n"

    @classmethod
    def of(cls, data: bytes) -> Style:
        from nixgen.layout import detect_indent_unit, detect_newline

        return cls(detect_indent_unit(data) or "  ", detect_newline(data))


def render(value: Any, style: Style, level: int) -> str:
    """Nix text of ``value`` whose first line sits at depth ``level``."""
    from nixgen.attrpath import format_path
    from nixgen.emit import to_nix

    if not isinstance(value, Block):
        return to_nix(value, indent=style.unit, level=level, newline=style.newline)
    if not value.entries:
        return "{ }"
    lines = ["{"]
    for keys, item in value.entries:
        text = render(item, style, level + 1)
        lines.append(f"{style.unit * (level + 1)}{format_path(keys)} = {text};")
    lines.append(style.unit * level + "}")
    return style.newline.join(lines)


def _level_at(data: bytes, pos: int, style: Style) -> int:
    from nixgen.layout import line_indent

    indent = line_indent(data, pos)
    if style.unit == "\t":
        return indent.count("\t")
    return len(indent.expandtabs(8) if "\t" in indent else indent) // max(len(style.unit), 1)


def set_block(doc: Document, path: tuple[str, ...], block: Block) -> Document:
    """Create ``path = { … };`` through the engine, then lay the set out at its depth."""
    from nixgen.edits import Edit
    from nixgen.emit import Expr

    style = Style.of(doc.data)
    doc = open_one_line_set(doc, path)
    change = doc.set(path, Expr("{ }"))
    new = change.document
    if not block.entries:
        return new
    span = _inserted_span(change)
    candidates = [
        b
        for b in new.get(path)
        if b.text.strip() == "{ }" and span[0] <= b.value_start and b.value_end <= span[1]
    ]
    if not candidates:
        raise EditError(f"could not find the new definition of {'.'.join(path)}")
    binding = candidates[0]
    level = _level_at(new.data, binding.key_start, style)
    text = render(block, style, level)
    new = new.apply([Edit(binding.value_start, binding.value_end, text)])
    return set_apart(new, binding.key_start)


def set_line(doc: Document, path: tuple[str, ...], value: Any) -> Document:
    """Create ``path = value;`` through the engine (a one-line set on the way is opened first)."""
    doc = open_one_line_set(doc, path)
    change = doc.set(path, value)
    span = _inserted_span(change)
    new = change.document
    for b in new.get(path):
        if span[0] <= b.key_start < span[1]:
            return set_apart(new, b.key_start)
    return new


def open_one_line_set(doc: Document, path: tuple[Any, ...]) -> Document:
    """Lay out one binding per line the set new code under ``path`` would go into, when that
    set is written on one line (``x = { };``, ``config = { a = 1; };``, a module body
    ``{ ... }: { }``): a careful person opens such a set before adding several lines to it.
    Sets holding comments and sets whose binding does not start its line are left to the
    engine."""
    from nixgen.layout import starts_line

    data = doc.data
    for n in range(len(path), 0, -1):
        bindings = doc.get(path[:n])
        if not bindings:
            continue
        b = bindings[0]
        if len(bindings) != 1 or not starts_line(data, b.node.start_byte):
            return doc
        return _open_set(doc, b.value_node, b.node.start_byte)
    top = doc.top_attrset()
    return doc if top is None else _open_set(doc, top, top.start_byte)


def _open_set(doc: Document, node: Any, line_pos: int) -> Document:
    """``node`` (a one-line ``{ … }``) one binding per line, indented from the line of
    ``line_pos``; ``doc`` unchanged when the set is not such a set."""
    from nixgen.edits import Edit
    from nixgen.layout import line_indent, newline_at

    data = doc.data
    if (
        node is None
        or node.type != "attrset_expression"
        or b"\n" in data[node.start_byte : node.end_byte]
        or any(c.type == "comment" for c in node.children)
        or any(c.type == "comment" for part in node.named_children for c in part.children)
    ):
        return doc
    items = [
        child.text.decode("utf-8")
        for part in node.named_children
        if part.type == "binding_set"
        for child in part.named_children
    ]
    indent = line_indent(data, line_pos)
    style = Style.of(data)
    nl = newline_at(data, line_pos, style.newline)
    lines = ["{", *(indent + style.unit + item for item in items), indent + "}"]
    return doc.apply([Edit(node.start_byte, node.end_byte, nl.join(lines))])


def set_apart(doc: Document, key_start: int) -> Document:
    """Put a blank line above the new binding at ``key_start`` when the line above it is
    another binding's, the set groups its bindings with blank lines, and the new binding ends
    the set or (written over several lines) ends a group."""
    import re
    from itertools import pairwise

    from nixgen.edits import Edit
    from nixgen.layout import is_blank_line, line_end, line_start, newline_at, next_line_start

    data = doc.data
    start = line_start(data, key_start)
    if start == 0 or data[start:key_start].strip(b" \t"):
        return doc
    above = line_start(data, start - 1)
    above_text = data[above : line_end(data, above)].strip()
    if is_blank_line(data, above) or above_text.endswith((b"{", b"[", b"(")):
        return doc
    node = _binding_node_at(doc, key_start)
    if node is None or node.parent is None:
        return doc
    after = next_line_start(data, node.end_byte)
    closes_set = data[after : line_end(data, after)].strip().startswith(b"}")
    multi_line = b"\n" in data[node.start_byte : node.end_byte]
    if not closes_set and not (multi_line and is_blank_line(data, after)):
        return doc
    siblings = [c for c in node.parent.children if c.type in ("binding", "inherit")]
    grouped = any(
        re.search(rb"\n[ \t]*\r?\n", data[a.end_byte : b.start_byte])
        for a, b in pairwise(siblings)
    )
    if not grouped:
        return doc
    return doc.apply([Edit(start, start, newline_at(data, above))])


def _binding_node_at(doc: Document, key_start: int) -> Any:
    node = doc.tree.root_node.descendant_for_byte_range(key_start, key_start)
    while node is not None and node.type != "binding":
        node = node.parent
    return node


def _inserted_span(change: Any) -> tuple[int, int]:
    """The byte range in the new document covered by the change's edits."""
    shift = 0
    lo, hi = None, 0
    for edit in sorted(change.edits):
        start = edit.start + shift
        end = start + len(edit.text.encode("utf-8"))
        lo = start if lo is None else min(lo, start)
        hi = max(hi, end)
        shift += len(edit.text.encode("utf-8")) - (edit.end - edit.start)
    return (lo or 0, hi)


# --- loading -------------------------------------------------------------------------------------


def _snapshot(path: Path, buffers: Mapping[Path, bytes] | None) -> Snapshot | None:
    from nixgen.files import Snapshot, read_snapshot, read_snapshot_or_none

    data = _buffer_for(path, buffers)
    if data is None:
        return read_snapshot(path)
    snap = read_snapshot_or_none(path)
    if snap is None:
        real = _real(path)
        return Snapshot(path, real, data, 0, len(data), 0, 0o644, os.getuid(), os.getgid())
    return dataclasses.replace(snap, data=data)


class _Workspace:
    """The documents being edited, keyed by real path, with their snapshots."""

    def __init__(
        self, buffers: Mapping[Path, bytes] | None, modules: Sequence[Module] = ()
    ) -> None:
        self.buffers = buffers
        self.loaded = {m.real_path: m.document for m in modules}
        self.docs: dict[Path, tuple[Path, Snapshot | None, Document]] = {}
        self.new_files: dict[Path, tuple[Path, bytes]] = {}
        self.deleted: dict[Path, tuple[Path, Snapshot]] = {}

    def doc(self, path: Path) -> Document:
        from nixgen.document import Document

        real = _real(path)
        if real not in self.docs:
            loaded = self.loaded.get(real)
            snap = getattr(loaded, "snapshot", None)
            if loaded is None or snap is None or snap.data != loaded.data:
                snap = _snapshot(path, self.buffers)  # the buffer, or the file read again
                assert snap is not None
            if loaded is None or loaded.data != snap.data:
                loaded = Document.from_text(snap.data, path=path)
            self.docs[real] = (path, snap, loaded)
        return self.docs[real][2]

    def update(self, path: Path, doc: Document) -> None:
        real = _real(path)
        given, snap, _ = self.docs[real]
        self.docs[real] = (given, snap, doc)

    def changes(self) -> list[FileChange]:
        from nixgen.files import FileChange

        out = []
        for given, snap, doc in self.docs.values():
            out.append(FileChange(given, snap, doc.data))
        for given, data in self.new_files.values():
            snap = _snapshot_or_none(given, self.buffers)
            out.append(FileChange(given, snap, data))
        for given, snap in self.deleted.values():
            out.append(FileChange(given, snap, None))
        return [c for c in out if c.changed]


def _snapshot_or_none(path: Path, buffers: Mapping[Path, bytes] | None) -> Snapshot | None:
    if _buffer_for(path, buffers) is None and not os.path.lexists(path):
        return None
    return _snapshot(path, buffers)


# --- dialect ---------------------------------------------------------------------------------------


def choose_dialect(
    spec: ContainerSpec,
    containers: list[Container],
    existing: Container | None,
    declared: set[str] | None,
    sets: Sequence[tuple[str, str]] = (),
) -> tuple[str, str]:
    """The dialect to write and the rule that decided it.

    ``sets``: ``(dialect, location)`` of each ``containers = …`` / ``systemd.containers = …``
    the configuration writes (:func:`~nixgen.containers.container_sets`), counted when no
    container is declared yet (``containers = { };`` already names the modern dialect).
    """
    if spec.dialect in ("legacy", "modern"):
        return spec.dialect, f"--dialect {spec.dialect} was given"
    if existing is not None:
        return existing.dialect, f"container {existing.name} is already declared ({existing.location})"
    used = [c for c in containers if c.dialect in ("legacy", "modern")]
    if used:
        legacy = sum(1 for c in used if c.dialect == "legacy")
        modern = len(used) - legacy
        dialect = "modern" if modern > legacy else "legacy"
        first = next(c for c in used if c.dialect == dialect)
        prefix = ".".join(prefix_of(dialect))
        return dialect, f"the configuration already uses {prefix}. ({first.location})"
    if sets:
        modern = sum(1 for d, _ in sets if d == "modern")
        dialect = "modern" if modern > len(sets) - modern else "legacy"
        where = next(loc for d, loc in sets if d == dialect)
        return dialect, f"the configuration already sets {'.'.join(prefix_of(dialect))} ({where})"
    if declared:
        if declared == {"modern"}:
            return "modern", "the NixOS consulted declares only containers.<name>"
        if declared == {"legacy"}:
            return "legacy", "the NixOS consulted declares only systemd.containers.<name>"
    if spec.modern_only_options():
        return "modern", "options that exist only in the modern dialect were given"
    return "legacy", "nothing in the configuration names a dialect (legacy is the default)"


def _undecided(spec: ContainerSpec, containers: list[Container], existing: Container | None,
               sets: Sequence[tuple[str, str]]) -> bool:
    """True when :func:`choose_dialect` would reach the NixOS rule: the dialect is ``auto`` and
    neither the container nor anything else in the configuration names one."""
    return (spec.dialect not in ("legacy", "modern") and existing is None and not sets
            and not any(c.dialect in ("legacy", "modern") for c in containers))


# --- port clashes ----------------------------------------------------------------------------------

Site = tuple[Path, int, int | None]


def _refusal(what: str, site: Site | None) -> ValidationError:
    """A ValidationError at ``site`` (``file, line, col``), if one is known."""
    if site is None:
        return ValidationError(what)
    return ValidationError(what, file=site[0], line=site[1], col=site[2])


def _option_site(c: Container, rel: tuple[str, ...], modules: Sequence[Module]) -> str:
    """``file:line`` where container ``c`` defines ``rel`` (``("forwardPorts",)``), else where
    it is first defined."""
    files = {_real(f) for f in c.definition_files}
    for module in modules:
        if module.real_path not in files:
            continue
        doc = module.document
        for b in doc.get((*config_root(doc), *prefix_of(c.dialect), c.name, *rel)):
            return f"{module.path}:{b.line}"
    return c.location


def _insertion_site(doc: Document, file: Path, path: tuple[Any, ...]) -> Site:
    """Where new code for ``path`` goes in ``doc``: the first binding of the deepest set
    already on the path (``containers = { … };``, ``containers.web = …;``), else the module's
    body set, else the file's start."""
    for n in range(len(path), 0, -1):
        for b in [*doc.get(path[:n]), *doc.find_prefix(path[:n])]:
            return file, b.line, b.col
    top = doc.top_attrset()
    if top is not None:
        line, col = doc.line_col(top.start_byte)
        return file, line, col
    return file, 1, 1


def _existing_site(c: Container, rel: tuple[str, ...], ws: _Workspace) -> Site:
    """Where container ``c`` defines ``rel``, else where it is first defined."""
    found = _find_literal(c, rel, ws)
    if found is not None:
        return found[1], found[2], found[3]
    return c.file, c.line, c.col


def _check_port_clashes(
    spec: ContainerSpec,
    new_ports: list[int],
    private: bool,
    modules: list[Module],
    containers: list[Container],
    *,
    implicit: bool = False,
    dialect: str = "modern",
    port_site: Site | None = None,
    forward_site: Site | None = None,
) -> list[str]:
    """ValidationError when a port of the new settings is already in use on the host's network.

    ``port_site`` / ``forward_site``: ``(file, line, col)`` in the file being edited that a
    refusal about an sshd port / a forwarded port starts with.

    ``implicit``: ``new_ports`` is sshd's default port 22, not a port the user gave. Ports are
    compared with their protocol (sshd is TCP; a UDP forward does not clash with it).
    ``dialect``: --private-network is suggested only where it exists (modern).
    Returns a warning for each sshd whose ports are set but cannot be read (not checked).
    """
    forwards = [parse_forward_port(f) for f in spec.forward_ports]
    forwarded = [(int(f["hostPort"]), str(f["protocol"])) for f in forwards]  # type: ignore[call-overload]
    shared = [] if private else [(p, "tcp") for p in new_ports]
    if not shared and not forwarded:
        return []
    warnings = [
        f"the host's sshd ports (services.openssh.ports at {file}:{line}) are not a literal "
        "and were not checked for clashes"
        for file, line in host_ssh_ports_unread(modules)
    ]
    host = host_ssh_ports_of(modules)
    users: list[tuple[tuple[int, str], str]] = []
    for port, file, line in host:
        users.append(((port, "tcp"), f"the host's sshd (services.openssh at {file}:{line})"))
    for c in containers:
        if c.dynamic or c.name == spec.name:
            continue
        if c.shares_host_network:
            for port in c.sshd_ports():
                users.append(((port, "tcp"),
                              f"the sshd of container {c.name} ({c.port_site(port)})"))
            warnings.extend(
                f"the sshd ports of container {c.name} ({site}) are not a literal "
                "and were not checked for clashes"
                for site in c.ports_unread
            )
        for fwd in c.forward_ports:
            hp = fwd.get("hostPort")
            if isinstance(hp, int):
                users.append(((hp, str(fwd.get("protocol", "tcp"))),
                              f"a port forwarded to container {c.name} "
                              f"({_option_site(c, ('forwardPorts',), modules)})"))
    private_hint = "--private-network, " if dialect == "modern" else ""
    for key in [*shared, *forwarded]:
        port = key[0]
        for used, who in users:
            if used != key:
                continue
            if key not in shared:
                raise _refusal(
                    f"host port {port} cannot be forwarded: it is already used by {who}; "
                    "choose another host port, or --force to write it anyway",
                    forward_site,
                )
            if implicit:
                raise _refusal(
                    f"the container's sshd would listen on port {port} (no --port was given), "
                    f"which is already used by {who}; give --port N, {private_hint}"
                    "or --force to write it anyway",
                    port_site,
                )
            raise _refusal(
                f"port {port} is already used by {who}; choose another port, "
                f"{'give ' + private_hint if private_hint else ''}or --force to write it anyway",
                port_site,
            )
    if shared:
        for key in forwarded:
            if key in shared:
                port = key[0]
                raise _refusal(
                    f"port {port} is both the container's sshd port and a forwarded host port",
                    forward_site,
                )
    return warnings


# --- what to write -----------------------------------------------------------------------------


def _guest_entries(spec: ContainerSpec, dialect: str, state_version: str | None,
                   keys_path: tuple[str, ...] | None = None) -> list[tuple[tuple[str, ...], Any]]:
    entries: list[tuple[tuple[str, ...], Any]] = []
    if spec.ports or spec.ssh_keys:
        entries.append((SSH_ENABLE, True))
    if spec.ports:
        entries.append((SSH_PORTS, list(spec.ports)))
    if spec.ssh_keys:
        path = keys_path or (KEYS_LEGACY if dialect == "legacy" else KEYS_MODERN)
        entries.append((path, list(spec.ssh_keys)))
    if dialect == "modern" and state_version:
        entries.append((("system", "stateVersion"), state_version))
    return entries


def _address_options(spec: ContainerSpec) -> list[tuple[str, str]]:
    """The addresses given, under their option names (``hostAddress6`` for an IPv6 one)."""
    out = []
    for option, address in (("hostAddress", spec.host_address),
                            ("localAddress", spec.local_address)):
        if address:
            out.append((f"{option}6" if is_ipv6(address) else option, address))
    return out


def _host_options(spec: ContainerSpec) -> list[tuple[tuple[str, ...], Any]]:
    entries: list[tuple[tuple[str, ...], Any]] = []
    if spec.auto_start:
        entries.append((("autoStart",), True))
    if spec.private_network:
        entries.append((("privateNetwork",), True))
    entries.extend(((key,), address) for key, address in _address_options(spec))
    if spec.forward_ports:
        entries.append((("forwardPorts",), [parse_forward_port(f) for f in spec.forward_ports]))
    if spec.bind_mounts:
        mounts = dict(parse_bind_mount(b) for b in spec.bind_mounts)
        entries.append((("bindMounts",), Block([((k,), v) for k, v in mounts.items()])))
    return entries


def container_module_text(entries: list[tuple[tuple[str, ...], Any]], style: Style) -> str:
    """The text of a path-route container's own NixOS module."""
    nl = style.newline
    body = render(Block([(("boot", "isContainer"), True), *entries]), style, 0)
    return f"{{ config, pkgs, lib, ... }}:{nl}{nl}{body}{nl}"


def _definition(
    spec: ContainerSpec, dialect: str, route: str, root: tuple[Any, ...],
    state_version: str | None,
) -> tuple[tuple[Any, ...], Any, list[tuple[tuple[str, ...], Any]]]:
    """What a new container is written as: ``(path, value, guest entries)``; the value is a
    :class:`Block` or the profile string."""
    guest = _guest_entries(spec, dialect, state_version)
    host = _host_options(spec)
    if route == "config":
        if dialect == "legacy":
            return (*root, "config"), Block(guest), guest
        return root, Block([(("config",), Block(guest)), *host]), guest
    profile = profile_path(spec.name, dialect)
    if host:
        return root, Block([(("path",), profile), *host]), guest
    return (*root, "path"), profile, guest


def _replace_in_place(
    ws: _Workspace,
    c: Container,
    spec: ContainerSpec,
    dialect: str,
    route: str,
    state_version: str | None,
) -> list[str] | None:
    """Rewrite a container defined by one binding at that binding's place (``--replace``).

    None when it is defined in several places or the new key would not fit where the old one is
    written (another dialect inside ``systemd.containers = { … }``): then it is removed and
    written anew."""
    from nixgen.attrpath import format_path
    from nixgen.edits import Edit

    if len(c.definitions) != 1 or c.dynamic:
        return None
    binding, file = c.definitions[0], c.definition_files[0]
    doc = ws.doc(file)
    attrpath = binding.node.child_by_field_name("attrpath")
    if attrpath is None or binding.wrappers:
        return None
    written = len(attrpath.named_children)
    outer = tuple(binding.path)[: len(binding.path) - written]
    root = (*config_root(doc), *prefix_of(dialect), spec.name)
    path, value, guest = _definition(spec, dialect, route, root, state_version)
    if tuple(path[: len(outer)]) != outer or len(path) <= len(outer):
        return None
    style = Style.of(doc.data)
    level = _level_at(doc.data, binding.node.start_byte, style)
    text = f"{format_path(path[len(outer):])} = {render(value, style, level)};"
    doc = doc.apply([Edit(binding.node.start_byte, binding.node.end_byte, text)])
    ws.update(file, doc)
    if route == "path":
        module = container_module_text(guest, Style.of(doc.data)).encode("utf-8")
        _new_container_file(ws, container_file_for(file, spec.name), module, spec)
    return _describe(spec)


def _create(
    ws: _Workspace,
    target: Path,
    spec: ContainerSpec,
    dialect: str,
    route: str,
    state_version: str | None,
) -> list[str]:
    """Write a new container into ``target``; return what was done."""
    doc = ws.doc(target)
    root = (*config_root(doc), *prefix_of(dialect), spec.name)
    path, value, guest = _definition(spec, dialect, route, root, state_version)
    write = set_block if isinstance(value, Block) else set_line
    doc = write(doc, path, value)
    if route == "path":
        file = container_file_for(target, spec.name)
        text = container_module_text(guest, Style.of(doc.data)).encode("utf-8")
        _new_container_file(ws, file, text, spec)
    ws.update(target, doc)
    return _describe(spec)


def _new_container_file(ws: _Workspace, file: Path, text: bytes, spec: ContainerSpec) -> None:
    current = _buffer_for(file, ws.buffers)
    if current is None and os.path.lexists(file):
        try:
            current = file.read_bytes()
        except OSError as exc:
            raise FileError(f"cannot read the file: {exc.strerror}", file=file) from None
    if current is not None and current != text and not spec.replace:
        raise ValidationError(
            f"{file} already exists with other content; give --replace to overwrite it",
            file=file,
            line=1,
            col=1,
        )
    ws.new_files[_real(file)] = (file, text)


def _describe(spec: ContainerSpec) -> list[str]:
    parts = []
    if spec.ports:
        parts.append("sshd on port" + ("s " if len(spec.ports) > 1 else " ")
                     + ", ".join(map(str, spec.ports)))
    if spec.ssh_keys:
        parts.append(f"{len(spec.ssh_keys)} SSH key" + ("s" if len(spec.ssh_keys) > 1 else ""))
    if spec.auto_start:
        parts.append("auto-start")
    if spec.private_network:
        parts.append("private network")
    if spec.forward_ports:
        parts.append("forwarded " + ", ".join(spec.forward_ports))
    if spec.bind_mounts:
        parts.append("bind mounts " + ", ".join(spec.bind_mounts))
    return parts


# --- extending an existing container -----------------------------------------------------------


def _conflict(what: str, file: Path, line: int, col: int | None = None) -> ValidationError:
    return ValidationError(
        f"{what}; give --replace to rewrite the conflicting value", file=file, line=line, col=col
    )


class _WholeRewrite(Exception):
    """Raised under ``--replace`` for a conflict that rewriting values in place cannot settle
    (another dialect or route, a ``config`` that is not an attribute set, a list nixgen cannot
    read): the container is then rewritten whole, as a new one would be written."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _written(b: Any) -> str:
    """A binding's value as written, on one line."""
    node = b.value_node
    if node is None:
        return " ".join(b.text.split())
    return " ".join(b.data[node.start_byte : node.end_byte].decode("utf-8", "replace").split())


@dataclass(frozen=True)
class Unread:
    """A value nixgen cannot read without evaluating: its source text as written."""

    text: str


def _let_literal(node: Any, data: bytes) -> object:
    """The value of ``node`` (a literal, or a variable a ``let`` binds to a literal), else an
    :class:`Unread` with its source text. ``data``: the source ``node`` was parsed from."""
    from nixgen.literal import Unevaluated, literal_value

    inner = _strip_parens(node)
    text = " ".join(data[node.start_byte : node.end_byte].decode("utf-8", "replace").split())
    if inner is None:
        return Unread(text)
    if inner.type == "variable_expression" and inner.text not in (b"true", b"false", b"null"):
        _, bound = _variable_definition(inner, inner.text.decode("utf-8"), data)
        bound = _strip_parens(bound)
        if bound is None or (
            bound.type == "variable_expression" and bound.text not in (b"true", b"false")
        ):
            return Unread(text)  # not a let's own value, or another variable: not followed
        value = literal_value(bound, data)
        return Unread(text) if isinstance(value, Unevaluated) or value is None else value
    value = literal_value(inner, data)
    return Unread(text) if isinstance(value, Unevaluated) else value


def binding_value(b: Any) -> object:
    """A binding's value (its own wrappers looked through), read through a ``let`` when the
    value is a variable bound to a literal; an :class:`Unread` when it cannot be read."""
    from nixgen.literal import Unevaluated

    value = b.value
    if not isinstance(value, Unevaluated):
        return value
    if getattr(b, "is_inherit", False) or b.value_node is None:
        return Unread(" ".join(b.text.split()))
    node, wrappers = unwrap(b.value_node)
    if wrappers or node is None:
        return Unread(" ".join(b.text.split()))
    return _let_literal(node, b.data)


def _find_literal(
    c: Container, rel: tuple[str, ...], ws: _Workspace
) -> tuple[Any, Path, int, int] | None:
    """The value of ``<prefix>.NAME.<rel>`` (read through a ``let``, else :class:`Unread`) and
    where (file, line, col) it is defined."""
    found = _find_binding(c, rel, ws)
    if found is None:
        return None
    b, file = found
    return binding_value(b), file, b.line, b.col


def _find_binding(c: Container, rel: tuple[str, ...], ws: _Workspace) -> tuple[Any, Path] | None:
    """The first binding of ``<prefix>.NAME.<rel>`` in the container's files, and its file."""
    for file in dict.fromkeys(c.definition_files):
        doc = ws.doc(file)
        for b in doc.get((*config_root(doc), *prefix_of(c.dialect), c.name, *rel)):
            return b, file
    return None


def _port_elements(node: Any, data: bytes, outer: tuple[Any, bytes] | None) -> tuple[
    list[int], bool
]:
    """The ports of an sshd ``ports`` list and whether every element was read. An element may
    be a number or a variable a ``let`` binds to one; ``outer``: for a list in a module
    function's body read as a document of its own, the body's node in the file and the file's
    source, where a variable the body does not bind is looked up."""
    node, wrappers = unwrap(node)
    if node is None or node.type != "list_expression" or wrappers:
        return [], False
    ports: list[int] = []
    complete = True
    for element in node.named_children:
        if element.type == "comment":
            continue
        value = _let_literal(element, data)
        inner = _strip_parens(element)
        if (
            isinstance(value, Unread)
            and outer is not None
            and inner is not None
            and inner.type == "variable_expression"
        ):
            name = inner.text.decode("utf-8")
            if _variable_definition(inner, name, data)[0] is None:
                body, file_data = outer
                found = _variable_value(body, name, file_data)
                value = value if found is None else found
        if isinstance(value, int) and not isinstance(value, bool):
            ports.append(value)
        else:
            complete = False
    return ports, complete


def known_ports(c: Container, modules: Sequence[Module],
                buffers: Mapping[Path, bytes] | None = None) -> tuple[list[int], list[str]]:
    """Every port container ``c``'s sshd lists over all its definitions (config bindings,
    ``config`` functions, its path-route file), list elements bound by a ``let`` included;
    and ``file:line`` of each ``ports`` definition that could not be read in full. A
    definition under ``mkIf``/``mkForce``/… may not be in effect: its ports do not count
    as listed, and its place is among those not read."""
    from nixgen.containers import load_document, ssh_ports_hidden

    ports: list[int] = []
    unread: list[str] = []
    read_in_full: set[str] = set()

    def read(b: Any, rel: tuple[Any, ...], site: str,
             outer: tuple[Any, bytes] | None = None) -> None:
        if rel != SSH_PORTS:
            if ssh_ports_hidden(b, rel) and site not in unread:
                unread.append(site)
            return
        if b.wrappers:  # conditional or overridden: only evaluation can tell
            if site not in unread:
                unread.append(site)
            return
        found, complete = _port_elements(b.value_node, b.data, outer)
        if not complete:
            whole = ssh_ports_value(b)  # ``ports = ports;`` / ``inherit ports;`` through a let
            if whole is not None:
                found, complete = whole, True
        ports.extend(p for p in found if p not in ports)
        if complete:
            read_in_full.add(site)
        elif site not in unread:
            unread.append(site)

    prefix = prefix_of(c.dialect)
    n = len(prefix)
    for module, b, path in _scan(list(modules)):
        if tuple(path[:n]) != prefix or len(path) <= n or path[n] != c.name:
            continue
        rel = tuple(path[n + 1 :])
        if rel == ("config",):
            body = function_body(b.value_node)
            opened = None if body is None else body_document(module.document.data, body)
            if opened is not None:
                offset = module.document.line_col(body.start_byte)[0] - 1
                for inner in opened[0].bindings():
                    read(inner, tuple(inner.path), f"{module.path}:{inner.line + offset}",
                         (body, module.document.data))
                continue
        if rel[:1] == ("config",):
            read(b, rel[1:], f"{module.path}:{b.line}")
    if c.route == "path" and c.container_file is not None:
        try:
            doc = load_document(c.container_file, buffers)
        except NixgenError:
            doc = None
        for b in doc.bindings() if doc is not None else ():
            rel = settings_path(b, config_root(doc))
            if rel:
                read(b, tuple(rel), f"{c.container_file}:{b.line}")
    # what discovery could not read and the reading above did not either
    unread.extend(s for s in c.ports_unread if s not in read_in_full and s not in unread)
    return ports, unread


def _not_editable(c: Container, file: Path, line: int, col: int | None = None) -> ValidationError:
    return ValidationError(
        f"the config of container {c.name} is not an attribute set that "
        "nixgen can edit; edit it by hand or give --replace",
        file=file,
        line=line,
        col=col,
    )


def _config_file(c: Container, ws: _Workspace) -> Path:
    """The file holding the container's ``config`` (for appending ports and keys)."""
    for binding, file in zip(c.definitions, c.definition_files, strict=False):
        doc = ws.doc(file)
        prefix = (*config_root(doc), *prefix_of(c.dialect))
        rel = tuple(binding.path)[len(prefix) + 1 :]
        if not rel or rel[0] == "config":
            for b in doc.get((*prefix, c.name, "config")):
                node, _ = unwrap(b.value_node)
                if function_body(b.value_node) is not None:
                    continue
                if node is None or node.type not in ("attrset_expression", "rec_attrset_expression"):
                    raise _not_editable(c, file, b.line, b.col)
            return file
    return c.file


def _check_address_clash(spec: ContainerSpec, containers: list[Container],
                         site: Site | None = None,
                         modules: Sequence[Module] = ()) -> None:
    """ValidationError (at ``site``) when the new local address is another container's."""
    import ipaddress

    if not spec.local_address:
        return
    wanted = ipaddress.ip_interface(spec.local_address).ip
    for c in containers:
        if c.dynamic or c.name == spec.name or not c.local_address:
            continue
        try:
            theirs = ipaddress.ip_interface(c.local_address).ip
        except ValueError:
            continue
        if theirs == wanted:
            where = _option_site(c, ("localAddress",), modules) if modules else c.location
            raise _refusal(
                f"local address {wanted} is already the address of container {c.name} "
                f"({where}); choose another --local-address, or --force to write it anyway",
                site,
            )


def _same_address(a: object, b: object) -> bool:
    """Whether two strings are the same IP address (with prefix), however written."""
    import ipaddress

    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        return ipaddress.ip_interface(a) == ipaddress.ip_interface(b)
    except ValueError:
        return False


def _function_config(doc: Document, config_path: tuple[Any, ...]) -> Any:
    """The body of ``config_path`` when it is written as a module function, else None."""
    for b in doc.get(config_path):
        body = function_body(b.value_node)
        if body is not None:
            return body
    return None


def _replacement(offset: int, old: bytes, new: bytes) -> Any:
    """The one edit turning ``old`` (found at ``offset``) into ``new``: their common start and
    end are left alone, so the edit covers only what changed."""
    from nixgen.edits import Edit

    def inside_char(data: bytes, i: int) -> bool:  # a UTF-8 continuation byte
        return i < len(data) and (data[i] & 0xC0) == 0x80

    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    while start > 0 and (inside_char(old, start) or inside_char(new, start)):
        start -= 1
    end = 0
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    while end > 0 and (inside_char(old, len(old) - end) or inside_char(new, len(new) - end)):
        end -= 1
    text = new[start : len(new) - end].decode("utf-8")
    return Edit(offset + start, offset + len(old) - end, text)


def _add_guest(
    doc: Document,
    guest_root: tuple[Any, ...],
    c: Container,
    ports: Sequence[int],
    keys: Sequence[str],
    dialect: str,
    file: Path,
    done: list[str],
    *,
    line_offset: int = 0,
    replace: bool = False,
) -> Document:
    """Enable sshd, add ``ports`` and ``keys`` to the guest configuration at ``guest_root``.

    When all of it is already there, ``doc`` comes back as it was: the one-line set that new
    lines would have opened stays on its line. ``replace``: an sshd switched off is switched on
    and ports taken from a list nixgen cannot add to are written out as a list (each value
    rewritten in place) instead of refused."""
    original, done_before = doc, len(done)
    ports_path = (*guest_root, *SSH_PORTS)
    ports = _ports_to_add(doc, ports_path, ports, c, file, line_offset, replace=replace)
    defs = doc.get(ports_path)
    if replace and ports and len(defs) == 1 and _plain_list(defs[0]) is None:
        known = ssh_ports_value(defs[0]) or []
        was = _written(defs[0])
        doc = doc.set(ports_path, [*known, *ports]).document
        listed = " ".join(str(p) for p in [*known, *ports])
        done.append(f"replaced {'.'.join(SSH_PORTS)} = {was} with [ {listed} ]")
        ports = []
    doc = open_one_line_set(doc, guest_root)
    enable_path = (*guest_root, *SSH_ENABLE)
    defs = doc.get(enable_path)
    if not defs:
        doc = doc.set(enable_path, True).document
        done.append("enabled sshd")
    elif literal_of(defs[0]) is False and replace:
        was = _written(defs[0])
        doc = doc.set(enable_path, True).document
        done.append(f"replaced {'.'.join(SSH_ENABLE)} = {was} with true")
    elif literal_of(defs[0]) is False:
        col = None if line_offset else defs[0].col  # columns of a dedented body are shifted
        raise _conflict(f"container {c.name} disables sshd", file, defs[0].line + line_offset, col)
    for port in ports:
        change = doc.append((*guest_root, *SSH_PORTS), port)
        if change.changed:
            done.append(f"added port {port}")
        doc = change.document
    keys_path = KEYS_LEGACY if dialect == "legacy" else KEYS_MODERN
    for other in (KEYS_LEGACY, KEYS_MODERN):
        if doc.get((*guest_root, *other)):
            keys_path = other
            break
    for key in keys:
        change = doc.append((*guest_root, *keys_path), key)
        if change.changed:
            done.append("added an SSH key")
        doc = change.document
    return doc if len(done) > done_before else original


def _plain_list(b: Any) -> Any:
    """The list literal a binding's value is (through ``with`` and parentheses), else None."""
    node = b.value_node
    while node is not None and node.type in ("with_expression", "parenthesized_expression"):
        node = node.child_by_field_name("body" if node.type == "with_expression" else "expression")
    return node if node is not None and node.type == "list_expression" else None


def _forward_element(
    c: Container, ws: _Workspace, fwd: Mapping[str, Any]
) -> tuple[Path, Any] | None:
    """Under ``--replace``: the file and the edit that make the element of the container's
    ``forwardPorts`` list forwarding ``fwd``'s host port and protocol forward to ``fwd``'s
    container port (its ``containerPort`` value rewritten, or written after ``hostPort`` when
    absent); None when no such element is an attribute set of literals in a list literal."""
    from nixgen.edits import Edit
    from nixgen.literal import Unevaluated, literal_value

    for file in dict.fromkeys(c.definition_files):
        doc = ws.doc(file)
        for b in doc.get((*config_root(doc), *prefix_of(c.dialect), c.name, "forwardPorts")):
            node = _plain_list(b)
            if node is None:
                continue
            for item in node.named_children:
                element = _strip_parens(item)
                if element is None or element.type != "attrset_expression":
                    continue
                values: dict[str, Any] = {}
                nodes: dict[str, Any] = {}
                for part in element.named_children:
                    if part.type != "binding_set":
                        continue
                    for binding in part.named_children:
                        key = binding.child_by_field_name("attrpath")
                        value = binding.child_by_field_name("expression")
                        if binding.type != "binding" or key is None or value is None:
                            continue
                        name = doc.data[key.start_byte : key.end_byte].decode("utf-8")
                        values[name] = literal_value(value, doc.data)
                        nodes[name] = value
                if any(isinstance(v, Unevaluated) for v in values.values()):
                    continue
                if values.get("hostPort") != fwd["hostPort"]:
                    continue
                if values.get("protocol", "tcp") != fwd["protocol"]:
                    continue
                port = str(fwd["containerPort"])
                target = nodes.get("containerPort")
                if target is not None:
                    return file, Edit(target.start_byte, target.end_byte, port)
                end = nodes["hostPort"].parent.end_byte
                return file, Edit(end, end, f" containerPort = {port};")
    return None


def _ports_to_add(
    doc: Document,
    path: tuple[Any, ...],
    ports: Sequence[int],
    c: Container,
    file: Path,
    line_offset: int,
    *,
    replace: bool = False,
) -> list[int]:
    """The ``ports`` to append to the sshd ports at ``path`` of ``doc`` (as the user wrote it).

    When those ports are not a list literal (``ports = ports;``, ``inherit ports;``,
    ``config.x``), ports it is known to list already are dropped; a port still missing is a
    ValidationError at the binding, since an edit there would replace a list nixgen does not
    write itself. ``line_offset``: ``doc`` is a part of ``file`` starting that many lines down
    (its columns are then not the file's)."""
    defs = doc.get(path)
    if len(defs) != 1:
        return list(ports)  # undefined (to be written), or refused as defined twice
    b = defs[0]
    if _plain_list(b) is not None:
        return list(ports)
    known = ssh_ports_value(b)
    missing = [p for p in ports if p not in (known or [])]
    if not missing:
        return []
    if replace:  # ``replace``: the missing ports, for the caller to write the list out whole
        if known is None or getattr(b, "is_inherit", False) or b.value_node is None:
            raise _WholeRewrite("its sshd ports are a list nixgen cannot read")
        return missing
    listed = ", ".join(str(p) for p in missing)
    noun = "port" if len(missing) == 1 else "ports"
    source = ssh_ports_source(b)
    if source is not None and source[1] is not None and not source[2]:
        name, line = source[0], source[1] + line_offset
        where = f"`{name}` (defined at line {line})"
        fix = f"add {noun} {listed} to `{name}` at line {line} yourself"
    elif source is not None and source[1] is not None:
        where = f"`{source[0]}` (an argument of the function at line {source[1] + line_offset})"
        fix = f"add {noun} {listed} where that list is defined yourself"
    else:
        where = f"`{source[0] if source is not None else ' '.join(b.text.split())}`"
        fix = f"add {noun} {listed} where that list is defined yourself"
    what = (f"container {c.name} takes its sshd ports from {where}, a list nixgen did not "
            f"write and cannot add to: {fix}, or give --replace to rewrite the conflicting value")
    col = None if line_offset else b.col  # columns of a dedented body are shifted
    raise ValidationError(what, file=file, line=b.line + line_offset, col=col)


def _extend(
    ws: _Workspace, c: Container, spec: ContainerSpec, dialect: str, route: str,
    known: Sequence[int] | None = None,
) -> list[str]:
    """Add what is missing to an existing container; ValidationError on a conflict.

    ``known``: the ports its sshd already lists over all its definitions (:func:`known_ports`;
    default: the ports discovery read); those are not added again.

    Under ``spec.replace`` a conflicting value is rewritten in place (each such binding's value
    replaced, as ``nixgen set`` does) and every other byte is kept; :class:`_WholeRewrite`
    when a conflict cannot be settled that way."""
    replace = spec.replace
    if dialect != c.dialect:
        if replace:
            raise _WholeRewrite(f"it was declared in the {c.dialect} dialect, not {dialect}")
        raise _conflict(
            f"container {c.name} is already declared in the {c.dialect} dialect, not {dialect}",
            c.file,
            c.line,
            c.col,
        )
    if spec.route is not None and c.route not in ("unknown", spec.route):
        if replace:
            raise _WholeRewrite(f"it used the {c.route} route, not {spec.route}")
        raise _conflict(
            f"container {c.name} already uses the {c.route} route, not {spec.route}",
            c.file,
            c.line,
            c.col,
        )
    effective_route = c.route if c.route != "unknown" else (spec.route or "config")
    done: list[str] = []
    root = (*prefix_of(dialect), c.name)
    # options of the host side (modern dialect)
    scalar_options: list[tuple[str, Any]] = [
        ("autoStart", True if spec.auto_start else None),
        ("privateNetwork", True if spec.private_network else None),
        *_address_options(spec),
    ]
    host_sets: list[tuple[tuple[str, ...], Any]] = []
    # --replace: (file, path under the container, new value, what it was) of each value to
    # rewrite in place
    rewrites: list[tuple[Path, tuple[str, ...], Any, str]] = []

    def rewrite(rel: tuple[str, ...], wanted: Any) -> None:
        bound = _find_binding(c, rel, ws)
        assert bound is not None
        rewrites.append((bound[1], rel, wanted, _written(bound[0])))

    for key, wanted in scalar_options:
        if wanted is None:
            continue
        found = _find_literal(c, (key,), ws)
        if found is None:
            host_sets.append(((key,), wanted))
        elif replace and (isinstance(found[0], Unread) or (
                found[0] != wanted and not _same_address(found[0], wanted))):
            rewrite((key,), wanted)
        elif isinstance(found[0], Unread):
            from nixgen.emit import to_nix

            raise _conflict(
                f"container {c.name} sets {key} to `{found[0].text}`, which nixgen cannot read "
                f"to compare with {to_nix(wanted)}",
                *found[1:],
            )
        elif found[0] != wanted and not _same_address(found[0], wanted):
            from nixgen.emit import to_nix

            value = to_nix(found[0])
            bound = _find_binding(c, (key,), ws)
            written = " ".join(bound[0].text.split()) if bound is not None else value
            if written != value:  # read through a let: quote it as written
                value = f"`{written}` ({value})"
            raise _conflict(
                f"container {c.name} sets {key} to {value}, not {to_nix(wanted)}",
                *found[1:],
            )
    for item in spec.bind_mounts:
        target, value = parse_bind_mount(item)
        found = _find_literal(c, ("bindMounts", target), ws)
        if found is None:
            mounts = c.bind_mounts.get(target)
            if mounts is None:
                host_sets.append((("bindMounts", target), value))
            elif mounts != value:
                if replace:
                    raise _WholeRewrite(f"its bind mount of {target} is not written where "
                                        "nixgen can rewrite it")
                raise _conflict(f"container {c.name} already bind-mounts {target} differently",
                                c.file, c.line, c.col)
        elif found[0] != value and replace and isinstance(found[0], dict):
            for option, wanted in value.items():  # only the options that differ
                if found[0].get(option) == wanted:
                    continue
                if _find_binding(c, ("bindMounts", target, option), ws) is None:
                    host_sets.append((("bindMounts", target, option), wanted))
                else:
                    rewrite(("bindMounts", target, option), wanted)
        elif found[0] != value and replace:
            rewrite(("bindMounts", target), value)
        elif found[0] != value:
            raise _conflict(
                f"container {c.name} already bind-mounts {target} differently",
                *found[1:],
            )
    forwards = [parse_forward_port(f) for f in spec.forward_ports]
    present = [{"protocol": "tcp", **f} for f in c.forward_ports]  # NixOS's default protocol
    new_forwards = [f for f in forwards if f not in present]
    forward_rewrites: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for fwd in list(new_forwards):
        for old in present:
            same_port = old.get("hostPort") == fwd["hostPort"]
            if same_port and old.get("protocol", "tcp") == fwd["protocol"]:
                if replace:
                    if _forward_element(c, ws, fwd) is None:
                        raise _WholeRewrite(f"its forward of host port {fwd['hostPort']} is "
                                            "not written where nixgen can rewrite it")
                    forward_rewrites.append((fwd, old))
                    new_forwards.remove(fwd)
                    break
                found = _find_literal(c, ("forwardPorts",), ws)
                where = found[1:] if found else (c.file, c.line, c.col)
                raise _conflict(
                    f"container {c.name} already forwards host port {fwd['hostPort']}/"
                    f"{fwd['protocol']} to port {old.get('containerPort')}",
                    *where,
                )
    # the guest side: in the config, or in the container's own file (path route)
    if effective_route == "path":
        if spec.ports or spec.ssh_keys:
            if c.container_file is None:
                if replace:
                    missing = container_file_for(c.path_file or c.file, c.name)
                    raise _WholeRewrite(f"its file {missing} does not exist")
                raise _conflict(
                    f"container {c.name} uses the path route but "
                    f"{container_file_for(c.path_file or c.file, c.name)} does not exist",
                    c.file, c.line, c.col,
                )
            guest_file: Path = c.container_file
            guest_root: tuple[str, ...] = ()
        else:
            guest_file, guest_root = c.file, ()
    else:
        try:
            guest_file = _config_file(c, ws)
        except ValidationError:
            if not replace:
                raise
            if spec.ports or spec.ssh_keys:
                raise _WholeRewrite("its config is not an attribute set nixgen can edit") from None
            guest_file = c.file  # nothing is added to that config: it is kept as it is
        guest_root = (*root, "config")
    known_keys = {key_identity(k) for k in c.ssh_keys}
    new_keys = [k for k in spec.ssh_keys if key_identity(k) not in known_keys]
    listed = set(c.ports if known is None else known)
    # a port listed anywhere (another module, a let) is not written again; sshd is still
    # switched on when no definition does so
    enable = bool(spec.ports) and not c.ssh_enabled
    spec = dataclasses.replace(spec, ports=[p for p in spec.ports if p not in listed])
    if (spec.ports or new_keys or enable) and effective_route == "config":
        doc = ws.doc(guest_file)
        config_path = (*config_root(doc), *guest_root)
        if not doc.get(config_path) and not doc.find_prefix(config_path):
            # no config yet: write it as one block, as a new container gets it
            guest = dataclasses.replace(spec, ssh_keys=new_keys)
            doc = set_block(doc, config_path, Block(_guest_entries(guest, dialect, None)))
            ws.update(guest_file, doc)
            done.append("enabled sshd")
            done.extend(f"added port {port}" for port in spec.ports)
            done.extend("added an SSH key" for _ in new_keys)
            spec = dataclasses.replace(spec, ports=[], ssh_keys=[])
            new_keys = []
            enable = False
    if spec.ports or new_keys or enable:
        doc = ws.doc(guest_file)
        guest_root = (*config_root(doc), *guest_root)
        function = _function_config(doc, guest_root) if effective_route == "config" else None
        if function is None:
            doc = _add_guest(doc, guest_root, c, spec.ports, new_keys, dialect, guest_file, done,
                             replace=replace)
        else:
            # config = { config, pkgs, ... }: { … }; edit the set the function returns
            opened = body_document(doc.data, function)
            if opened is None:
                line = doc.line_col(function.start_byte)[0]
                raise _not_editable(c, guest_file, line)
            sub, base = opened
            first_line = doc.line_col(function.start_byte)[0]
            new_sub = _add_guest(sub, (), c, spec.ports, new_keys, dialect, guest_file, done,
                                 line_offset=first_line - 1, replace=replace)
            old_text = doc.data[function.start_byte : function.end_byte]
            new_text = reindent(new_sub.data, base)
            if new_text != old_text:
                doc = doc.apply([_replacement(function.start_byte, old_text, new_text)])
        ws.update(guest_file, doc)
    for file, rel, wanted, was in rewrites:
        from nixgen.emit import to_nix

        doc = ws.doc(file)
        doc = doc.set((*config_root(doc), *root, *rel), wanted).document
        ws.update(file, doc)
        done.append(f"replaced {'.'.join(rel)} = {was} with {to_nix(wanted)}")
    for fwd, old in forward_rewrites:
        found = _forward_element(c, ws, fwd)
        assert found is not None
        file, edit = found
        ws.update(file, ws.doc(file).apply([edit]))
        done.append(f"replaced the forward of host port {fwd['hostPort']}/{fwd['protocol']}: "
                    f"to port {fwd['containerPort']}, was {old.get('containerPort')}")
    if host_sets or new_forwards:
        doc = ws.doc(c.file)
        root = (*config_root(doc), *root)
        doc = open_one_line_set(doc, root)
        for rel, value in host_sets:
            doc = doc.set((*root, *rel), value).document
            done.append(f"set {'.'.join(rel)}")
        for fwd in new_forwards:
            change = doc.append((*root, "forwardPorts"), fwd)
            if change.changed:
                done.append(f"forwarded port {fwd['hostPort']}")
            doc = change.document
        ws.update(c.file, doc)
    return done


# --- names computed at evaluation time --------------------------------------------------------------


def _dynamic_key_value(key: Any, data: bytes) -> object:
    """The name a dynamic key (``${name}``, ``"${name}"``) evaluates to when it is a variable a
    ``let`` binds to a literal; else an :class:`Unread`."""
    text = data[key.start_byte : key.end_byte].decode("utf-8", "replace")
    node = key
    if node.type == "string_expression":
        parts = [c for c in node.named_children if c.type != "comment"]
        between = data[node.start_byte + 1 : node.end_byte - 1]
        if len(parts) != 1 or parts[0].type != "interpolation" or (
            between != data[parts[0].start_byte : parts[0].end_byte]
        ):
            return Unread(text)
        node = parts[0]
    if node.type != "interpolation":
        return Unread(text)
    inner = [c for c in node.named_children if c.type != "comment"]
    if len(inner) != 1 or _strip_parens(inner[0]) is None:
        return Unread(text)
    if _strip_parens(inner[0]).type != "variable_expression":
        return Unread(text)
    value = _let_literal(inner[0], data)
    return value if isinstance(value, str) else Unread(text)


def _check_dynamic_keys(doc: Document, file: Path, dialect: str, name: str) -> list[str]:
    """Names computed at evaluation time beside which container ``name`` is to be written
    (``containers.${x}`` in the same file): a warning line for each, since Nix rejects the file
    should one evaluate to ``name``; a ValidationError at the key when one is a variable a
    ``let`` binds to ``name`` itself."""
    from nixgen.attrpath import Dynamic
    from nixgen.emit import to_nix

    prefix = (*config_root(doc), *prefix_of(dialect))
    n = len(prefix)
    warnings: list[str] = []
    seen: set[int] = set()
    for b in doc.bindings():
        path = tuple(b.path)
        if len(path) <= n or path[:n] != prefix or not isinstance(path[n], Dynamic):
            continue
        index = n - b.prefix_len
        if not 0 <= index < len(b.key_nodes):
            continue  # the key is written by an enclosing binding, seen there
        key = b.key_nodes[index]
        if key.start_byte in seen:
            continue
        seen.add(key.start_byte)
        line, col = doc.line_col(key.start_byte)
        text = b.data[key.start_byte : key.end_byte].decode("utf-8", "replace")
        where = ".".join(prefix_of(dialect))
        value = _dynamic_key_value(key, b.data)
        if value == name:
            raise ValidationError(
                f"{where}.{text} is container {name} too (a let binds it to {to_nix(value)}): "
                f"Nix would reject the file (dynamic attribute '{name}' already defined); "
                "choose another name",
                file=file, line=line, col=col,
            )
        known = f", {to_nix(value)} by a let" if isinstance(value, str) else ""
        warnings.append(
            f"{where}.{text} ({file}:{line}) is a container name computed at evaluation "
            f"time{known}; Nix rejects the file should it evaluate to {name}"
        )
    return warnings


# --- the public planners -----------------------------------------------------------------------


def plan_add(
    config: Path,
    spec: ContainerSpec,
    *,
    buffers: Mapping[Path, bytes] | None = None,
    declared_dialects: set[str] | None = None,
    ask_dialects: Callable[[], tuple[set[str] | None, str]] | None = None,
) -> Plan:
    """Plan adding ``spec`` to ``config`` (or extending the container it already declares).

    ``declared_dialects``: what the NixOS on the search path declares (``nixos.declared_dialects``),
    used by the ``auto`` dialect rule when the configuration itself says nothing.
    ``ask_dialects``: called for that answer (``(dialects or None, why)``, as
    ``nixos.detect_dialects``) only when the dialect is ``auto`` and nothing in the
    configuration decides it; its reason is added to the notes.
    """
    config = Path(config)
    spec = dataclasses.replace(spec, ports=list(spec.ports), ssh_keys=list(spec.ssh_keys))
    validate_name(spec.name, private_network=spec.private_network)
    modules = load_modules(config, buffers)
    containers = discover_modules(modules, buffers=buffers, read_container_files=True)
    matches = [c for c in containers if not c.dynamic and c.name == spec.name]
    existing = matches[0] if matches else None
    sets = container_sets(modules)
    asked = None
    if ask_dialects is not None and _undecided(spec, containers, existing, sets):
        declared_dialects, asked = ask_dialects()
    dialect, why = choose_dialect(spec, containers, existing, declared_dialects, sets)
    notes = [f"dialect {dialect}: {why}"]
    if asked is not None:
        notes.append(f"dialect question to NixOS: {asked}" if declared_dialects is not None
                     else f"NixOS not consulted, the file-based rule decided: {asked}")
    ws = _Workspace(buffers, modules)
    extending = existing is not None  # --replace too: conflicting values are rewritten in place
    has_private = False
    if existing is not None:
        found = _find_literal(existing, ("privateNetwork",), ws)
        has_private = bool(existing.private_network) or (found is not None and found[0] is True)
    validate_spec(spec, dialect=dialect, has_private_network=extending and has_private)
    route = spec.route or (existing.route if existing and existing.route != "unknown" else "config")
    private = spec.private_network or has_private
    known: list[int] = []
    unread: list[str] = []
    if existing is not None:
        known, unread = known_ports(existing, modules, buffers)
    new_ports = [p for p in spec.ports if p not in known]
    implicit = False
    if not spec.ports and spec.ssh_keys and (
        existing is None or not (existing.sshd_ports() or existing.ports_unread)
    ):
        new_ports = [DEFAULT_SSH_PORT]  # sshd without ports listens on 22
        implicit = True
    warnings: list[str] = []
    target = existing.file if existing is not None else config
    if extending:
        assert existing is not None
        port_site = _existing_site(existing, ("config", *SSH_PORTS), ws)
        forward_site = _existing_site(existing, ("forwardPorts",), ws)
        address_site = _existing_site(existing, ("localAddress",), ws)
    elif existing is not None:
        port_site = forward_site = address_site = (existing.file, existing.line, existing.col)
    else:
        doc = ws.doc(config)
        port_site = _insertion_site(doc, config,
                                    (*config_root(doc), *prefix_of(dialect), spec.name))
        forward_site = address_site = port_site
    if not spec.force:
        warnings = _check_port_clashes(spec, new_ports, private, modules, containers,
                                       implicit=implicit, dialect=dialect,
                                       port_site=port_site, forward_site=forward_site)
        _check_address_clash(spec, containers, address_site, modules)
    if not extending:
        warnings.extend(_check_dynamic_keys(ws.doc(target), target, dialect, spec.name))
    unread_warning = None  # said only when the port is really added
    if extending and new_ports and unread:
        listed = ", ".join(str(p) for p in new_ports)
        unread_warning = (
            f"some sshd ports of container {spec.name} could not be read or are conditional "
            f"({', '.join(unread)}); port{'s' if len(new_ports) > 1 else ''} {listed} "
            "added all the same, and may now be listed twice"
        )
    notes.extend(warnings)
    state_version = host_state_version(modules)
    whole = None  # why --replace rewrites the whole container
    if existing is not None:
        try:
            if spec.replace and len(existing.definitions) > 1:
                # values rewritten in one definition would clash with those of the others
                raise _WholeRewrite("the container is defined in several places")
            done = _extend(ws, existing, spec, dialect, route, known)
        except _WholeRewrite as exc:
            whole = exc.reason
        except EditError as exc:
            if not spec.replace:
                raise
            whole = f"a value could not be changed where it is written ({exc.message})"
        else:
            changes = ws.changes()
            if not changes:
                doubt = (f" (as written; only evaluation can tell whether "
                         f"{', '.join(unread)} is in effect)") if unread_warning else ""
                return Plan([], f"container {spec.name} already has these settings; "
                            f"nothing to change{doubt}",
                            True, dialect, existing.route, notes, spec.name, warnings)
            if unread_warning is not None:
                warnings.append(unread_warning)
                notes.append(unread_warning)
            where = ", ".join(str(c.path) for c in changes)
            return Plan(changes, f"container {spec.name}: {', '.join(done) or 'updated'} "
                        f"({where})", False, dialect, existing.route, notes, spec.name, warnings)
        # the old definition goes, and with it what it set: nothing is kept
        validate_spec(spec, dialect=dialect, has_private_network=False)
        ws = _Workspace(buffers, modules)
        warnings.extend(_check_dynamic_keys(ws.doc(target), target, dialect, spec.name))
        notes.extend(w for w in warnings if w not in notes)
    done = None
    if existing is not None:
        if len(matches) == 1:
            done = _replace_in_place(ws, existing, spec, dialect, route, state_version)
        if done is None:
            _remove(ws, matches, delete_file=False)
    if done is None:
        done = _create(ws, target, spec, dialect, route, state_version)
    changes = ws.changes()
    verb = "replaced" if existing is not None else "added"
    detail = f": {', '.join(done)}" if done else ""
    summary = f"{verb} container {spec.name} ({dialect} dialect, {route} route) in {target}{detail}"
    if whole is not None:
        summary += (f"; the whole definition was rewritten since {whole}, "
                    "so none of its other settings were kept")
    created = [str(c.path) for c in changes if c.snapshot is None and c.new_data is not None]
    if created:
        summary += f"; created {', '.join(created)}"
    if not changes:
        return Plan([], f"container {spec.name} already has these settings; nothing to change",
                    True, dialect, route, notes, spec.name, warnings)
    return Plan(changes, summary, False, dialect, route, notes, spec.name, warnings)


def _remove(ws: _Workspace, matches: Sequence[Container], *, delete_file: bool) -> list[str]:
    done = []
    for c in matches:
        per_file: dict[Path, list[tuple[Any, ...]]] = {}
        for binding, file in zip(c.definitions, c.definition_files, strict=False):
            paths = per_file.setdefault(file, [])
            path = tuple(binding.path)
            if path not in paths:
                paths.append(path)
        for file, paths in per_file.items():
            doc = ws.doc(file)
            for path in paths:
                doc = doc.delete(path).document
            ws.update(file, doc)
            done.append(str(file))
        if delete_file and c.container_file is not None:
            from nixgen.files import read_snapshot

            real = _real(c.container_file)
            ws.deleted[real] = (c.container_file, read_snapshot(c.container_file))
            done.append(f"deleted {c.container_file}")
    return done


def plan_remove(
    config: Path,
    name: str,
    *,
    delete_file: bool = False,
    buffers: Mapping[Path, bytes] | None = None,
) -> Plan:
    """Plan removing every definition of container ``name`` (and its module with ``delete_file``)."""
    config = Path(config)
    modules = load_modules(config, buffers)
    containers = discover_modules(modules, buffers=buffers)
    matches = [c for c in containers if not c.dynamic and c.name == name]
    if not matches:
        dynamic = [c for c in containers if c.dynamic]
        hint = ""
        if dynamic:
            hint = f" (names built at evaluation time are not matched: {dynamic[0].location})"
        return Plan([], f"no container named {name} is declared; nothing to change{hint}",
                    True, "", "", [], name)
    ws = _Workspace(buffers, modules)
    _remove(ws, matches, delete_file=delete_file)
    changes = ws.changes()
    first = matches[0]
    files = ", ".join(str(c.path) for c in changes)
    summary = f"removed container {name} ({files})"
    if first.route == "path" and first.container_file is not None and not delete_file:
        summary += f"; kept {first.container_file} (give --delete-file to delete it)"
    return Plan(changes, summary, not changes, first.dialect, first.route, [], name)


__all__ = ["ContainerSpec", "Plan", "choose_dialect", "plan_add", "plan_remove"]
