"""NixOS containers in a configuration: finding them, and planning to add or remove one.

Two dialects name the same thing. **legacy** is the 2014 ``systemd.containers.<name>`` (only
``config`` and ``path``); **modern** is ``containers.<name>`` with ``autoStart``,
``privateNetwork``, ``hostAddress``, ``localAddress``, ``forwardPorts``, ``bindMounts`` and more.

:func:`discover` reads a configuration and every module it imports by a literal relative path
(recursively, each file once) and reports each container however it is written: dotted keys,
nested attribute sets, definitions split over several bindings or files, values under
``lib.mkIf``. A name that only evaluation could tell (``${x}``, ``containers = mapAttrs …``) is
reported as dynamic at its location, never guessed. ``virtualisation.containers`` and
``virtualisation.oci-containers`` are other things and are not reported.

Container routes and profiles:

* **config** route: the container's NixOS configuration is written inline (``…config = { };``)
  and built with the host.
* **path** route: the container's configuration is its own module ``containers/NAME.nix``
  beside the configuration that declares it, built separately into a system profile whose
  path is set as ``….path``. The legacy layout is ``/nix/var/nix/profiles/containers/NAME``
  (the profile itself is the system). Today's NixOS (``nixos-container``) keeps one profile
  directory per container, ``/nix/var/nix/profiles/per-container/NAME``, and the system
  profile inside it, ``/nix/var/nix/profiles/per-container/NAME/system`` (``nixos-container
  create`` runs ``nix-env -p $profileDir/system --set …``). The modern path route therefore
  sets ``containers.NAME.path = "/nix/var/nix/profiles/per-container/NAME/system"``;
  :attr:`Container.profile` is the profile a build must set, whatever the dialect.

Adding and removing (``plan_add``, ``plan_remove``) live in :mod:`nixgen.container_edit`,
which builds on this module; ``ContainerSpec`` comes from :mod:`nixgen.container_specs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nixgen.errors import NixgenError, ValidationError
from nixgen.module_form import config_root

if TYPE_CHECKING:
    from nixgen.document import Binding, Document

DialectName = Literal["legacy", "modern"]

LEGACY_PREFIX: tuple[str, ...] = ("systemd", "containers")
MODERN_PREFIX: tuple[str, ...] = ("containers",)
PREFIXES: tuple[tuple[tuple[str, ...], DialectName], ...] = (
    (LEGACY_PREFIX, "legacy"),
    (MODERN_PREFIX, "modern"),
)

LEGACY_PROFILE_DIR = "/nix/var/nix/profiles/containers"
MODERN_PROFILE_DIR = "/nix/var/nix/profiles/per-container"

SSH_PORTS = ("services", "openssh", "ports")
SSH_ENABLE = ("services", "openssh", "enable")
SSH_ENABLE_OLD = ("services", "sshd", "enable")
DEFAULT_SSH_PORT = 22
STATE_VERSION = ("system", "stateVersion")


def prefix_of(dialect: str) -> tuple[str, ...]:
    """The option prefix of a dialect: ``systemd.containers`` or ``containers``."""
    return LEGACY_PREFIX if dialect == "legacy" else MODERN_PREFIX


def profile_path(name: str, dialect: str) -> str:
    """The system profile a path-route container of this dialect points at."""
    if dialect == "legacy":
        return f"{LEGACY_PROFILE_DIR}/{name}"
    return f"{MODERN_PROFILE_DIR}/{name}/system"


def container_file_for(config_file: Path, name: str) -> Path:
    """Where the path route keeps a container's own module: ``containers/NAME.nix`` beside it.

    A symlinked configuration counts from its target's folder, as Nix resolves the file's
    relative paths there (``/etc/nixos/configuration.nix`` linked into a repository keeps its
    containers in the repository)."""
    return _folder_of(Path(config_file)) / "containers" / f"{name}.nix"


@dataclass
class Container:
    """One container as the configuration declares it (see the module docstring)."""

    name: str
    dialect: DialectName
    route: Literal["config", "path", "unknown"]
    ports: list[int] = field(default_factory=list)
    auto_start: bool | None = None
    private_network: bool | None = None
    host_address: str | None = None
    local_address: str | None = None
    forward_ports: list[dict[str, Any]] = field(default_factory=list)
    bind_mounts: dict[str, Any] = field(default_factory=dict)
    file: Path = field(default_factory=Path)
    line: int = 0
    col: int = 0
    definitions: list[Binding] = field(default_factory=list)
    definition_files: list[Path] = field(default_factory=list)
    profile: str | None = None
    container_file: Path | None = None
    conditional: bool = False
    dynamic: bool = False
    ssh_enabled: bool | None = None
    ssh_keys: list[str] = field(default_factory=list)
    path_file: Path | None = None
    port_sites: dict[int, str] = field(default_factory=dict)
    ports_unread: list[str] = field(default_factory=list)
    ssh_enable_site: str | None = None
    unreadable: dict[str, list[str]] = field(default_factory=dict)
    wrappers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """``file:line`` of the first definition."""
        return f"{self.file}:{self.line}"

    @property
    def shares_host_network(self) -> bool:
        """Whether the container uses the host's network (no private network)."""
        return not self.private_network

    @property
    def ports_default(self) -> bool:
        """Whether its sshd is enabled and no ``ports`` are set, so that it listens on NixOS's
        default port 22."""
        return bool(self.ssh_enabled) and not self.ports and not self.ports_unread

    def sshd_ports(self) -> list[int]:
        """Ports its sshd listens on as far as the files tell: the ports written as literals,
        or 22 when enabled without any. A ``ports`` value (or element) that is not a literal
        (see :attr:`ports_unread`) adds nothing, and 22 is then not assumed."""
        if self.ports:
            return list(self.ports)
        if self.ports_default:
            return [DEFAULT_SSH_PORT]
        return []

    def port_site(self, port: int) -> str:
        """``file:line`` where its sshd's ``port`` is decided: the ``ports`` definition that
        names it, the ``enable`` of the default port 22, else the first definition."""
        site = self.port_sites.get(port)
        if site is None and port == DEFAULT_SSH_PORT and not self.ports:
            site = self.ssh_enable_site
        return site or self.location

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (``list-containers --json``)."""
        return {
            "name": self.name,
            "dialect": self.dialect,
            "route": self.route,
            "ports": list(self.ports),
            "auto_start": self.auto_start,
            "private_network": self.private_network,
            "host_address": self.host_address,
            "local_address": self.local_address,
            "forward_ports": list(self.forward_ports),
            "bind_mounts": dict(self.bind_mounts),
            "file": str(self.file),
            "line": self.line,
            "col": self.col,
            "definitions": [
                {"file": str(f), "line": b.line, "col": b.col}
                for b, f in zip(self.definitions, self.definition_files, strict=False)
            ],
            "ssh_enabled": self.ssh_enabled,
            "ssh_keys": list(self.ssh_keys),
            "profile": self.profile,
            "container_file": str(self.container_file) if self.container_file else None,
            "conditional": self.conditional,
            "dynamic": self.dynamic,
            "sshd_ports": self.sshd_ports(),
            "ports_default": self.ports_default,
            "unreadable": {k: list(v) for k, v in self.unreadable.items()},
            "wrappers": {k: list(v) for k, v in self.wrappers.items()},
        }


# --- loading a configuration and its imports -------------------------------------------------


@dataclass
class Module:
    """One file of a configuration: the path to show, the real path, and its document."""

    path: Path
    real_path: Path
    document: Document

    @property
    def root(self) -> tuple[str, ...]:
        """``("config",)`` for a module in full form (``options``/``config``), else ``()``."""
        return config_root(self.document)


def settings_path(binding: Binding, root: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The binding's option path with the module's ``root`` taken off (None: not a setting)."""
    path = tuple(binding.path)
    if path[: len(root)] != root:
        return None
    return path[len(root) :]


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _folder_of(path: Path) -> Path:
    """The folder Nix resolves ``path``'s relative paths from (a symlink's target's folder)."""
    return _real(path).parent if path.is_symlink() else path.parent


def _buffer_for(path: Path, buffers: Mapping[Path, bytes] | None) -> bytes | None:
    if not buffers:
        return None
    real = _real(path)
    for key, value in buffers.items():
        if Path(key) == path or _real(Path(key)) == real:
            return value
    return None


def load_document(path: Path, buffers: Mapping[Path, bytes] | None = None) -> Document:
    """The document of ``path``: the editor's buffer when one is given, else the file."""
    from nixgen.document import Document

    data = _buffer_for(path, buffers)
    if data is not None:
        return Document.from_text(data, path=path)
    return Document.from_path(path)


def check_module_shape(doc: Document, path: Path) -> None:
    """ValidationError unless the top level is an attribute set or a module function of one."""
    if doc.top_attrset() is None:
        raise ValidationError(
            "the top level is not an attribute set or a module function returning one",
            file=path,
            line=1,
            col=1,
        )


def _unquote_path(text: str) -> str | None:
    if "${" in text or text.startswith(("<", "~")):
        return None
    return text


def import_paths(doc: Document, path: Path) -> list[Path]:
    """Files imported by a literal relative (or absolute) path in ``imports = [ … ];``."""
    base = _folder_of(path)
    found: list[Path] = []
    for binding in doc.get(("imports",)):
        node = _strip_parens(binding.value_node)
        if node is None or node.type != "list_expression":
            continue
        for element in node.named_children:
            element = _strip_parens(element)
            if element is None or element.type != "path_expression":
                continue
            text = _unquote_path(element.text.decode("utf-8"))
            if text is None:
                continue
            target = Path(os.path.normpath(base / text))
            if not os.path.exists(target) and os.path.exists(_real(path).parent / text):
                target = Path(os.path.normpath(_real(path).parent / text))
            if target.is_dir():
                target = target / "default.nix"
            found.append(target)
    return found


def load_modules(config: Path, buffers: Mapping[Path, bytes] | None = None) -> list[Module]:
    """The configuration and every module it imports (depth first, each file once)."""
    config = Path(config)
    top = load_document(config, buffers)
    check_module_shape(top, config)
    modules = [Module(config, _real(config), top)]
    seen = {modules[0].real_path}
    stack = list(reversed(import_paths(top, config)))
    while stack:
        path = stack.pop()
        real = _real(path)
        if real in seen:
            continue
        seen.add(real)
        if _buffer_for(path, buffers) is None and not real.is_file():
            continue
        doc = load_document(path, buffers)
        if doc.top_attrset() is None:
            continue
        modules.append(Module(path, real, doc))
        stack.extend(reversed(import_paths(doc, path)))
    return modules


# --- reading values ----------------------------------------------------------------------------

_WRAPPERS = {"mkIf", "mkMerge", "mkForce", "mkDefault", "mkOverride", "mkBefore", "mkAfter",
             "mkOrder"}


def _strip_parens(node: Any) -> Any:
    while node is not None and node.type == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        node = inner[0] if inner else None
    return node


def _function_name(node: Any) -> str | None:
    node = _strip_parens(node)
    if node is None:
        return None
    if node.type == "variable_expression":
        return node.text.decode("utf-8")
    if node.type == "select_expression":
        attrpath = node.child_by_field_name("attrpath")
        if attrpath is not None and attrpath.named_children:
            return attrpath.named_children[-1].text.decode("utf-8")
    return None


def unwrap(node: Any) -> tuple[Any, tuple[str, ...]]:
    """Look through parentheses and ``lib.mkIf c`` / ``mkForce`` / … applications."""
    wrappers: list[str] = []
    node = _strip_parens(node)
    while node is not None and node.type == "apply_expression":
        head = node.child_by_field_name("function")
        head_inner = _strip_parens(head)
        name = _function_name(head)
        if name is None and head_inner is not None and head_inner.type == "apply_expression":
            name = _function_name(head_inner.child_by_field_name("function"))
        if name not in _WRAPPERS:
            break
        wrappers.append(name)
        node = _strip_parens(node.child_by_field_name("argument"))
    return node, tuple(wrappers)


def function_body(node: Any) -> Any:
    """The attribute set a module function returns (``{ config, pkgs, ... }: { … }``), else None.

    NixOS accepts a container's ``config`` written as such a function (its manual does so)."""
    node, _ = unwrap(node)
    if node is None or node.type != "function_expression":
        return None
    while node is not None and node.type == "function_expression":
        node = _strip_parens(node.child_by_field_name("body"))
    if node is not None and node.type in ("attrset_expression", "rec_attrset_expression"):
        return node
    return None


def body_document(data: bytes, body: Any) -> tuple[Document, str] | None:
    """The attribute set ``body`` (a node of the source ``data``) as a document of its own, and the indentation
    taken off its lines (that of its closing brace's line), so that the engine lays new code
    out as in a file of its own; :func:`reindent` puts the indentation back. None when a line
    of the set is indented less than its closing brace (a multi-line string, say)."""
    from nixgen.document import Document
    from nixgen.layout import line_indent

    base = line_indent(data, body.end_byte - 1)
    prefix = base.encode("ascii")
    lines = data[body.start_byte : body.end_byte].split(b"\n")
    out = [lines[0]]
    for line in lines[1:]:
        if line in (b"", b"\r"):
            out.append(line)
        elif line.startswith(prefix):
            out.append(line[len(prefix) :])
        else:
            return None
    return Document.from_text(b"\n".join(out)), base


def reindent(data: bytes, base: str) -> bytes:
    """Undo :func:`body_document`'s dedent: ``base`` before every line but the first."""
    prefix = base.encode("ascii")
    lines = data.split(b"\n")
    return b"\n".join(
        [lines[0], *(line if line in (b"", b"\r") else prefix + line for line in lines[1:])]
    )


def literal_of(binding: Binding) -> Any:
    """The Python value of a binding's value (its own mkIf/mkForce/… looked through), or None."""
    from nixgen.literal import Unevaluated

    value = binding.value
    return None if isinstance(value, Unevaluated) else value


def _is_attrset(node: Any) -> bool:
    node, _ = unwrap(node)
    return node is not None and node.type in ("attrset_expression", "rec_attrset_expression")


def _is_mkmerge_list(binding: Binding) -> bool:
    inner, wrappers = unwrap(binding.value_node)
    wrappers = (*tuple(binding.wrappers or ()), *wrappers)
    return "mkMerge" in wrappers and inner is not None and inner.type == "list_expression"


def _contains(outer: Binding, inner: Binding) -> bool:
    return (
        outer is not inner
        and outer.node.start_byte <= inner.node.start_byte
        and inner.node.end_byte <= outer.node.end_byte
        and (outer.node.start_byte, outer.node.end_byte)
        != (inner.node.start_byte, inner.node.end_byte)
    )


def topmost(items: list[tuple[Binding, Module]]) -> list[tuple[Binding, Module]]:
    """The bindings not nested inside another of the list in the same file."""
    return [
        (b, m)
        for b, m in items
        if not any(m2 is m and _contains(a, b) for a, m2 in items)
    ]


# --- discovery ---------------------------------------------------------------------------------


@dataclass
class _Found:
    name: Any
    dialect: DialectName
    module: Module
    bindings: list[tuple[Binding, tuple[Any, ...], Module]] = field(default_factory=list)
    dynamic: bool = False


def _scan(modules: list[Module]) -> Iterator[tuple[Module, Binding, tuple[Any, ...]]]:
    """Every setting of every module: ``(module, binding, option path)``."""
    for module in modules:
        root = module.root
        for binding in module.document.bindings():
            path = settings_path(binding, root)
            if path:
                yield module, binding, path


def _first_line_text(text: str, limit: int = 60) -> str:
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1] + "…"


def discover_modules(
    modules: list[Module],
    *,
    buffers: Mapping[Path, bytes] | None = None,
    read_container_files: bool = False,
) -> list[Container]:
    """Containers declared in already loaded modules (see :func:`discover`).

    ``read_container_files``: also read the guest settings (sshd ports, keys) of path-route
    containers from their ``containers/NAME.nix`` (``buffers`` override the disk).
    """
    found: dict[tuple[Any, ...], _Found] = {}
    dynamic_sets: list[tuple[Module, Binding, DialectName]] = []
    for module, binding, path in _scan(modules):
        for prefix, dialect in PREFIXES:
            n = len(prefix)
            if path[:n] != prefix:
                continue
            if len(path) == n:
                if getattr(binding, "is_inherit", False) or (
                    not _is_attrset(binding.value_node) and not _is_mkmerge_list(binding)
                ):
                    dynamic_sets.append((module, binding, dialect))
                continue
            name = path[n]
            if isinstance(name, str):
                key: tuple[Any, ...] = (dialect, name)
                entry = found.setdefault(key, _Found(name, dialect, module))
            else:
                text = str(name)
                key = (dialect, "dynamic", str(module.real_path), text)
                entry = found.setdefault(key, _Found(text, dialect, module, dynamic=True))
            entry.bindings.append((binding, path[n + 1 :], module))
    containers = [_build(entry, buffers) for entry in found.values()]
    for module, binding, dialect in dynamic_sets:
        text = binding.text
        if getattr(binding, "is_inherit", False):
            text = binding.node.text.decode("utf-8", "replace")
        containers.append(
            Container(
                name=_first_line_text(text),
                dialect=dialect,
                route="unknown",
                file=module.path,
                line=binding.line,
                col=binding.col,
                definitions=[binding],
                definition_files=[module.path],
                conditional="mkIf" in tuple(binding.wrappers or ()),
                dynamic=True,
            )
        )
    order = {m.real_path: i for i, m in enumerate(modules)}
    containers.sort(key=lambda c: (order.get(_real(c.file), len(order)), c.line, c.col))
    if read_container_files:
        for c in containers:
            read_container_file(c, buffers)
    return containers


def file_exists(path: Path, buffers: Mapping[Path, bytes] | None = None) -> bool:
    """Whether ``path`` is an open buffer or a file on disk."""
    return _buffer_for(path, buffers) is not None or path.is_file()


#: The settings the container commands report: JSON key, path relative to the container, and
#: whether only the modern dialect has the option.
_FIELDS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("auto_start", ("autoStart",), True),
    ("private_network", ("privateNetwork",), True),
    ("host_address", ("hostAddress",), True),
    ("host_address", ("hostAddress6",), True),
    ("local_address", ("localAddress",), True),
    ("local_address", ("localAddress6",), True),
    ("forward_ports", ("forwardPorts",), True),
    ("bind_mounts", ("bindMounts",), True),
    ("ssh_enabled", ("config", *SSH_ENABLE), False),
    ("ssh_enabled", ("config", *SSH_ENABLE_OLD), False),
    ("ports", ("config", *SSH_PORTS), False),
    ("ssh_keys", ("config", "users", "users", "root", "openssh", "authorizedKeys", "keys"), False),
)

#: Wrappers that make a value conditional or give it a priority; they are shown with it.
MARKED_WRAPPERS = ("mkIf", "mkDefault", "mkForce", "mkOverride", "mkOptionDefault",
                   "mkVMOverride", "mkImageMediaOverride")

#: How many variables and nested sets a value is followed through (``let a = b; b = a;``).
_MAX_DEPTH = 6


@dataclass
class _Def:
    """One definition that concerns a container: the binding, its path below the container,
    its file, and the wrappers between the container's own definition and the value."""

    binding: Binding
    rel: tuple[Any, ...]
    file: Path
    wrappers: tuple[str, ...]


def _own_wrappers(binding: Binding) -> tuple[str, ...]:
    """The wrappers written on the binding's own value (``x = mkDefault 5;``: mkDefault)."""
    from nixgen import scope

    if getattr(binding, "is_inherit", False) or binding.node.type != "binding":
        return ()
    expr = binding.node.child_by_field_name("expression")
    return () if expr is None else scope.strip_value(expr, binding.data)[1]


def _fields_below(rel: tuple[Any, ...], dialect: str) -> list[str]:
    """JSON keys of the reported settings that lie strictly below ``rel``."""
    return [
        key for key, path, modern in _FIELDS
        if (dialect == "modern" or not modern) and len(rel) < len(path)
        and path[: len(rel)] == rel
    ]


def _short_text(binding: Binding) -> str:
    """The source text of a value (of an ``inherit``, the whole of it), whitespace collapsed."""
    if getattr(binding, "is_inherit", False) or binding.value_node is None:
        text = binding.data[binding.node.start_byte : binding.node.end_byte]
        return " ".join(text.decode("utf-8", "replace").split())
    return " ".join(binding.text.split())


def _resolved(node: Any, data: bytes) -> Any:
    """``node``, or when it is a variable bound by a ``let`` as ``name = VALUE;``, that value
    (followed through further such variables)."""
    node = _strip_parens(node)
    for _ in range(_MAX_DEPTH):
        if node is None or node.type != "variable_expression":
            break
        _, value = _variable_definition(node, node.text.decode("utf-8"), data)
        if value is None:
            break
        node = _strip_parens(value)
    return node


def _target(binding: Binding) -> Any:
    """The node a binding's value is (a ``let`` variable followed, ``inherit name;`` too)."""
    if getattr(binding, "is_inherit", False):
        node = binding.node
        if node.type != "inherit" or not binding.path or not isinstance(binding.path[-1], str):
            return None  # inherit (x) name;
        skip = node.parent.parent if node.parent is not None else None
        _, value = _variable_definition(node, binding.path[-1], binding.data, skip)
        return None if value is None else _resolved(value, binding.data)
    if binding.value_node is None:
        return None
    return _resolved(binding.value_node, binding.data)


def _node_value(node: Any, data: bytes) -> tuple[object, bool]:
    """The literal value of ``node`` (a let-bound variable followed) and whether it is one."""
    from nixgen.literal import Unevaluated, literal_value

    target = _resolved(node, data)
    if target is None:
        return None, False
    value = literal_value(target, data)
    return (None, False) if isinstance(value, Unevaluated) else (value, True)


def read_value(binding: Binding) -> tuple[object, str | None]:
    """The literal value of a binding and None, or None and the value's source text when it is
    not a literal. A variable bound by a ``let`` as ``name = LITERAL;`` (also through
    ``inherit name;``) counts as that literal."""
    from nixgen.literal import Unevaluated, literal_value

    value = literal_of(binding)
    if value is not None or not isinstance(binding.value, Unevaluated):
        return value, None
    target = _target(binding)
    if target is not None:
        value = literal_value(target, binding.data)
        if not isinstance(value, Unevaluated):
            return value, None
    return None, _short_text(binding)


def read_list(binding: Binding) -> tuple[list[object], list[str]]:
    """The elements of a list value that are literals (let-bound variables followed), and the
    source text of each element that is not; for a value that is not a list at all, ``[]`` and
    its source text."""
    target = _target(binding)
    if target is None or target.type != "list_expression":
        value, text = read_value(binding)
        if isinstance(value, list):
            return value, []
        return [], [text if text is not None else _short_text(binding)]
    values: list[object] = []
    unread: list[str] = []
    for element in target.named_children:
        if element.type == "comment":
            continue
        value, ok = _node_value(element, binding.data)
        if ok:
            values.append(value)
        else:
            raw = binding.data[element.start_byte : element.end_byte]
            unread.append(" ".join(raw.decode("utf-8", "replace").split()))
    return values, unread


def _expand(out: list[_Def], binding: Binding, rel: tuple[Any, ...], file: Path,
            wrappers: tuple[str, ...], c: Container, depth: int = 0) -> None:
    """Add the definition to ``out`` and, when it is a set the reported settings lie in but
    written as something else than a set literal (a let-bound variable, a module function),
    the definitions inside it; when that cannot be read, its settings are marked unreadable."""
    from nixgen import scope
    from nixgen.binding_index import scan

    out.append(_Def(binding, rel, file, wrappers))
    below = _fields_below(rel, c.dialect)
    if not below:
        return
    if not getattr(binding, "is_inherit", False) and (
        _is_attrset(binding.value_node) or _is_mkmerge_list(binding)
    ):
        return  # a set literal: its bindings are found (and expanded) on their own
    target = _target(binding) if depth < _MAX_DEPTH else None
    sources = [] if target is None else scope.body_sources(target, binding.data)
    if not sources:
        text = _short_text(binding)
        for key in dict.fromkeys(below):
            _unread(c, key, [text])
        if "ports" in below:
            c.ports_unread.append(f"{file}:{binding.line}")
        return
    for inner in scan(target, binding.data, file, None):
        _expand(out, inner, (*rel, *inner.path), file, (*wrappers, *inner.wrappers), c,
                depth + 1)


def _unread(c: Container, key: str, texts: list[str]) -> None:
    """Note the source text of values of a reported setting that are not literals."""
    for text in texts:
        if text not in c.unreadable.get(key, []):
            c.unreadable.setdefault(key, []).append(text)


def _mark(c: Container, key: str, wrappers: tuple[str, ...]) -> None:
    """Note the wrappers (mkIf, mkDefault, …) a reported setting was read through."""
    for name in wrappers:
        if name in MARKED_WRAPPERS and name not in c.wrappers.get(key, []):
            c.wrappers.setdefault(key, []).append(name)


def _build(entry: _Found, buffers: Mapping[Path, bytes] | None) -> Container:
    items = [(b, m) for b, _, m in entry.bindings]
    defs = topmost(items)
    defs.sort(key=lambda bm: (bm[1] is not entry.module, bm[0].line, bm[0].col))
    first, first_module = defs[0]
    # Wrappers around a whole definition of the container (``containers.x = mkIf c { … };``
    # and those above ``containers``) make the container conditional; those further in
    # belong to the settings they wrap.
    rels = {id(b): rel for b, rel, _ in entry.bindings}
    outer: dict[int, int] = {}
    for b, _ in defs:
        own = 0 if not rels.get(id(b)) else len(_own_wrappers(b))
        outer[id(b)] = len(b.wrappers) - own
    c = Container(
        name=entry.name,
        dialect=entry.dialect,
        route="unknown",
        file=first_module.path,
        line=first.line,
        col=first.col,
        definitions=[b for b, _ in defs],
        definition_files=[m.path for _, m in defs],
        dynamic=entry.dynamic,
        conditional=any("mkIf" in tuple(b.wrappers[: outer[id(b)]]) for b, _ in defs),
    )
    flat: list[_Def] = []
    for binding, rel, module in entry.bindings:
        top = next((d for d, m in defs if m is module and (d is binding or _contains(d, binding))),
                   None)
        start = outer[id(top)] if top is not None else len(binding.wrappers)
        _expand(flat, binding, rel, module.path, tuple(binding.wrappers[start:]), c)
    routes = set()
    for d in flat:
        if not d.rel:
            continue
        head = d.rel[0]
        if head == "config":
            routes.add("config")
        elif head == "path":
            routes.add("path")
            value = read_value(d.binding)[0] if len(d.rel) == 1 else None
            if value is not None:
                c.profile = str(value)
                c.path_file = d.file
        _read_field(c, d)
    if routes == {"config"}:
        c.route = "config"
    elif routes == {"path"}:
        c.route = "path"
    if c.route == "path" and not c.dynamic:
        candidate = container_file_for(c.path_file or c.file, c.name)
        if file_exists(candidate, buffers):
            c.container_file = candidate
    return c


_HOST_SIDE = {
    "autoStart": ("auto_start", bool),
    "privateNetwork": ("private_network", bool),
    "hostAddress": ("host_address", str),
    "hostAddress6": ("host_address", str),
    "localAddress": ("local_address", str),
    "localAddress6": ("local_address", str),
    "forwardPorts": ("forward_ports", list),
    "bindMounts": ("bind_mounts", dict),
}


def _read_field(c: Container, d: _Def) -> None:
    binding, rel = d.binding, d.rel
    if rel[:1] == ("config",):
        _read_guest_field(c, binding, rel[1:], d.file, d.wrappers)
        return
    if c.dialect != "modern" or not rel or rel[0] not in _HOST_SIDE:
        return
    key, kind = _HOST_SIDE[rel[0]]
    if len(rel) != 1:
        if rel[0] == "bindMounts" and len(rel) == 2 and isinstance(rel[1], str):
            value, text = read_value(binding)
            if isinstance(value, dict):
                c.bind_mounts[rel[1]] = value
                _mark(c, key, d.wrappers)
            elif text is not None:
                _unread(c, key, [text])
        return
    if kind is dict and _is_attrset(binding.value_node):
        return  # bindMounts = { … }: its entries are read one by one
    if kind is list:
        values, unread = read_list(binding)
        c.forward_ports.extend(v for v in values if isinstance(v, dict))
        if unread:
            _unread(c, key, unread)
        _mark(c, key, d.wrappers)
        return
    value, text = read_value(binding)
    if text is not None:
        _unread(c, key, [text])
        return
    if not isinstance(value, kind):
        return
    if key == "auto_start":
        c.auto_start = bool(value)
    elif key == "private_network":
        c.private_network = bool(value)
    elif key == "host_address":
        c.host_address = c.host_address or str(value)
    elif key == "local_address":
        c.local_address = c.local_address or str(value)
    elif key == "bind_mounts":
        c.bind_mounts.update(value)  # type: ignore[arg-type]
    _mark(c, key, d.wrappers)


def _read_guest_field(
    c: Container,
    binding: Binding,
    rel: tuple[Any, ...],
    file: Path | None = None,
    wrappers: tuple[str, ...] = (),
) -> None:
    """Fields of the container's own NixOS configuration (relative to ``config``).

    ``file`` says where the binding is, for the sites of the sshd ports; ``wrappers`` are
    those between the container's definition and the value."""
    site = f"{file or c.file}:{binding.line}"
    if rel == SSH_PORTS:
        values, unread = read_list(binding)
        ports = [p for p in values if isinstance(p, int) and not isinstance(p, bool)]
        for p in ports:
            if p not in c.ports:
                c.ports.append(p)
                c.port_sites[p] = site
        if unread:
            c.ports_unread.append(site)
            _unread(c, "ports", unread)
        _mark(c, "ports", wrappers)
    elif rel in (SSH_ENABLE, SSH_ENABLE_OLD):
        value, text = read_value(binding)
        if text is not None:
            _unread(c, "ssh_enabled", [text])
        elif isinstance(value, bool):
            c.ssh_enabled = value
            c.ssh_enable_site = site if value else None
            _mark(c, "ssh_enabled", wrappers)
    elif (
        len(rel) == 6
        and rel[0] == "users"
        and rel[2] == "root"
        and rel[3:] == ("openssh", "authorizedKeys", "keys")
    ):
        values, unread = read_list(binding)
        c.ssh_keys.extend(k for k in values if isinstance(k, str))
        if unread:
            _unread(c, "ssh_keys", unread)


def read_container_file(c: Container, buffers: Mapping[Path, bytes] | None = None) -> None:
    """Fill in a path-route container's guest settings from its own module file, if any."""
    if c.route != "path" or c.container_file is None:
        return
    try:
        doc = load_document(c.container_file, buffers)
    except NixgenError:
        return
    flat: list[_Def] = []
    for binding in doc.bindings():
        path = settings_path(binding, config_root(doc))
        if path:
            _expand(flat, binding, ("config", *path), c.container_file, tuple(binding.wrappers), c)
    for d in flat:
        _read_guest_field(c, d.binding, d.rel[1:], d.file, d.wrappers)


def discover(config: Path, *, buffers: Mapping[Path, bytes] | None = None) -> list[Container]:
    """Every container declared by ``config`` and the modules it imports (see module doc)."""
    modules = load_modules(Path(config), buffers)
    return discover_modules(modules, buffers=buffers, read_container_files=True)


def container_sets(modules: list[Module]) -> list[tuple[DialectName, str]]:
    """Where a module defines ``containers`` or ``systemd.containers`` itself (even as ``{ }``):
    ``(dialect, "file:line")`` in module order."""
    out: list[tuple[DialectName, str]] = []
    for module, binding, path in _scan(modules):
        for prefix, dialect in PREFIXES:
            if tuple(path) == prefix:
                out.append((dialect, f"{module.path}:{binding.line}"))
    return out


def _let_bound(scope: Any, name: str, data: bytes) -> tuple[Any, Any]:
    """The node by which ``scope`` (a let, a recursive set or a function) binds ``name`` (None
    when it does not), and the value node when it does so as ``name = VALUE;`` in a ``let``
    (None for any other way)."""
    def text(node: Any) -> str:
        return data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    if scope.type == "function_expression":
        for child in scope.named_children:
            if child.type == "identifier" and text(child) == name:
                return child, None
            if child.type == "formals":
                for formal in child.named_children:
                    ident = formal.child_by_field_name("name") if formal.type == "formal" else None
                    if ident is not None and text(ident) == name:
                        return formal, None
        return None, None
    for part in scope.named_children:
        if part.type != "binding_set":
            continue
        for item in part.named_children:
            if item.type == "binding":
                attrpath = item.child_by_field_name("attrpath")
                keys = [k for k in attrpath.named_children if k.type != "comment"] \
                    if attrpath is not None else []
                if keys and keys[0].type == "identifier" and text(keys[0]) == name:
                    direct = len(keys) == 1 and scope.type == "let_expression"
                    return item, item.child_by_field_name("expression") if direct else None
            elif item.type in ("inherit", "inherit_from"):
                for attrs in item.named_children:
                    if attrs.type == "inherited_attrs" and any(
                        text(a) == name for a in attrs.named_children
                    ):
                        return item, None
    return None, None


_SCOPES = ("let_expression", "rec_attrset_expression", "let_attrset_expression",
           "function_expression")


def _variable_definition(node: Any, name: str, data: bytes, skip: Any = None) -> tuple[Any, Any]:
    """Where variable ``name`` used at ``node`` is bound: the binding node of the nearest scope
    that binds it and, for a ``let`` that writes ``name = VALUE;``, the value node; (None, None)
    when no scope in the file binds it. ``skip``: a set the lookup starts outside of (the one an
    ``inherit name;`` stands in)."""
    scope = node.parent
    while scope is not None:
        if scope is not skip and scope.type in _SCOPES:
            bound, value = _let_bound(scope, name, data)
            if bound is not None:
                return bound, value
        scope = scope.parent
    return None, None


def _variable_value(node: Any, name: str, data: bytes, skip: Any = None) -> object:
    """The literal value of variable ``name`` used at ``node``, when the nearest scope binding
    it is a ``let`` that writes ``name = LITERAL;``; else None. ``skip``: as for
    :func:`_variable_definition`."""
    from nixgen.literal import Unevaluated, literal_value

    _, value = _variable_definition(node, name, data, skip)
    value = _strip_parens(value)
    if value is None or value.type == "variable_expression":
        return None  # not a let's own value, or another variable: not followed
    result = literal_value(value, data)
    return None if isinstance(result, Unevaluated) else result


def _ports_variable(binding: Binding) -> tuple[str, Any, Any] | None:
    """For ``inherit ports;`` / ``ports = NAME;``: the variable's name, the node that uses it
    and the set a lookup starts outside of; None for any other value."""
    node = binding.node
    if getattr(binding, "is_inherit", False):
        if node.type != "inherit":
            return None  # inherit (x) ports;
        return "ports", node, node.parent.parent if node.parent is not None else None
    inner = _strip_parens(binding.value_node)
    if inner is not None and inner.type == "variable_expression":
        return inner.text.decode("utf-8"), inner, None
    return None


def ssh_ports_value(binding: Binding) -> list[int] | None:
    """The ports a ``services.openssh.ports`` binding lists, or None when its value is not a
    literal list (``config.x``, ``a ++ b``, a function call), so the ports are unknown.

    ``inherit ports;`` and ``ports = ports;`` are followed to a ``let ports = [ … ];`` that
    binds the name where it is used (and to nothing else)."""
    value = literal_of(binding)
    if value is None:
        variable = _ports_variable(binding)
        if variable is not None:
            name, node, skip = variable
            value = _variable_value(node, name, binding.data, skip)
    if not isinstance(value, list):
        return None
    return [p for p in value if isinstance(p, int) and not isinstance(p, bool)]


def ssh_ports_source(binding: Binding) -> tuple[str, int | None, bool] | None:
    """For a ``services.openssh.ports`` binding written as ``inherit ports;`` or
    ``ports = NAME;``: the variable's name, the 1-based line (in the binding's document) where
    the nearest scope binds it (None when nothing in the document binds it), and whether that
    is a function's argument. None for any other value."""
    variable = _ports_variable(binding)
    if variable is None:
        return None
    name, node, skip = variable
    bound, _ = _variable_definition(node, name, binding.data, skip)
    if bound is None:
        return name, None, False
    line = binding.data.count(b"\n", 0, bound.start_byte) + 1
    return name, line, bound.type in ("identifier", "formal")


def ssh_ports_hidden(binding: Binding, path: tuple[Any, ...]) -> bool:
    """Whether ``binding`` (at option ``path``) may define the sshd ports without writing
    them: ``services = x;`` or ``services.openssh = f y;``, a value that is not a set."""
    if not path or len(path) >= len(SSH_PORTS) or tuple(path) != SSH_PORTS[: len(path)]:
        return False
    if getattr(binding, "is_inherit", False):
        return True
    return not _is_attrset(binding.value_node) and not _is_mkmerge_list(binding)


def _host_ssh(modules: list[Module]) -> tuple[list[tuple[int, Path, int]], list[tuple[Path, int]]]:
    """The host sshd's ports with their sites, and where ports are set but cannot be read."""
    ports: list[tuple[int, Path, int]] = []
    unread: list[tuple[Path, int]] = []
    enabled: tuple[Path, int] | None = None
    disabled = False
    for module, binding, path in _scan(modules):
        if path == SSH_PORTS or ssh_ports_hidden(binding, path):
            value = ssh_ports_value(binding) if path == SSH_PORTS else None
            if value is None:
                unread.append((module.path, binding.line))
                continue
            for p in value:
                if p not in [q for q, _, _ in ports]:
                    ports.append((p, module.path, binding.line))
        elif path in (SSH_ENABLE, SSH_ENABLE_OLD):
            value = literal_of(binding)
            if value is True:
                enabled = enabled or (module.path, binding.line)
            elif value is False:
                disabled = True
    if disabled and enabled is None:
        return [], []  # sshd is switched off: its ports are not in use
    if ports or unread:
        return ports, unread  # with an unread list, 22 is not assumed
    if enabled is not None:
        return [(DEFAULT_SSH_PORT, enabled[0], enabled[1])], []
    return [], []


def host_ssh_ports_of(modules: list[Module]) -> list[tuple[int, Path, int]]:
    """Ports of the host's sshd with where they are decided: ``(port, file, line)``.

    Empty when the configuration switches sshd off (``enable = false`` and nowhere ``true``).
    Ports set by a value that is not a literal are unknown (:func:`host_ssh_ports_unread`):
    they are not listed, and the default 22 is then not assumed either.
    """
    return _host_ssh(modules)[0]


def host_ssh_ports_unread(modules: list[Module]) -> list[tuple[Path, int]]:
    """Where the host's sshd ports are set by a value that cannot be read as a literal
    (``(file, line)``); empty when sshd is switched off."""
    return _host_ssh(modules)[1]


def host_ssh_ports(config: Path, *, buffers: Mapping[Path, bytes] | None = None) -> list[int]:
    """Ports the host's own sshd listens on (22 when enabled without ``ports``), else []."""
    return [p for p, _, _ in host_ssh_ports_of(load_modules(Path(config), buffers))]


def host_state_version(modules: list[Module]) -> str | None:
    """The host's ``system.stateVersion`` when it is a literal string."""
    for _, binding, path in _scan(modules):
        if path == STATE_VERSION:
            value = literal_of(binding)
            if isinstance(value, str):
                return value
    return None


__all__ = [
    "Container",
    "discover",
    "host_ssh_ports",
    "host_ssh_ports_unread",
    "read_container_file",
    "ssh_ports_value",
]
