"""What a build will change: the host and each container, compared with their profiles.

A :class:`BuildPlan` lists one :class:`PlanItem` per system: the host, each path-route
container (its own system profile), each config-route container (part of the host system),
and what is no longer declared. Each item's status is ``new``, ``changed``, ``unchanged``,
``removed`` or ``skipped``; nothing here runs Nix: profiles are read as symlinks, and the systems
a host runs its containers from are read from the host system's unit files.

A system is named on the command line as ``host`` or as a container's name; ``container:NAME``
always means a container and ``system:host`` always means the host, so that a container called
``host`` can be told apart from the host (see :func:`parse_ref`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

NIX_PROFILES_ROOT = PurePosixPath("/nix/var/nix/profiles")
DEFAULT_PROFILE_DIR = Path(str(NIX_PROFILES_ROOT))
HOST = "host"
CONTAINER_PREFIX = "container:"
HOST_REF = "system:host"

Status = Literal["new", "changed", "unchanged", "removed", "skipped"]
Route = Literal["host", "path", "config"]

_SYSTEM_PATH = re.compile(r"SYSTEM_PATH=(/[^\s\"']+)")
_INIT_PATH = re.compile(r"(/nix/store/[0-9a-z]{32}-[^/\s\"']+)/init\b")
_GENERATION_LINK = re.compile(r"-\d+-link$")


@dataclass
class PlanItem:
    """One system of the plan."""

    name: str
    route: Route
    status: Status
    dialect: str | None = None
    profile: Path | None = None
    current: str | None = None
    new: str | None = None
    drv: str | None = None
    config_file: Path | None = None
    note: str = ""
    selected: bool = True
    current_gone: bool = False  # the profile points at a path no longer in the store

    @property
    def builds(self) -> bool:
        """Whether this item is realised and its profile set by the build."""
        return (
            self.selected
            and self.profile is not None
            and self.status in ("new", "changed")
            and self.drv is not None
        )

    @property
    def label(self) -> str:
        """The name to show: ``container:host`` for a container called host, else the name."""
        if self.route != "host" and self.name == HOST:
            return CONTAINER_PREFIX + self.name
        return self.name

    @property
    def unit(self) -> str | None:
        """The host's systemd unit that runs this container."""
        if self.route == "host":
            return None
        return f"container@{self.name}.service" if self.dialect == "modern" else (
            f"container-{self.name}.service"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "route": self.route,
            "dialect": self.dialect,
            "status": self.status,
            "profile": str(self.profile) if self.profile else None,
            "current": self.current,
            "current_gone": self.current_gone,
            "new": self.new,
            "drv": self.drv,
            "config_file": str(self.config_file) if self.config_file else None,
            "selected": self.selected,
            "builds": self.builds,
            "note": self.note,
        }


@dataclass
class BuildPlan:
    """Every system of a configuration, what each profile points at now, and the commands."""

    config: Path
    nixos: str
    profile_dir: Path
    items: list[PlanItem] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)

    @property
    def to_build(self) -> list[PlanItem]:
        """Items to realise and set, containers before the host."""
        items = [i for i in self.items if i.builds]
        return sorted(items, key=lambda i: i.route == "host")

    @property
    def noop(self) -> bool:
        return not self.to_build

    def item(self, name: str) -> PlanItem | None:
        """The item ``name`` (as :func:`parse_ref` reads it) stands for; a path-route
        container before a config-route one or a no longer declared one."""
        kind, bare = parse_ref(name)
        if kind == "host":
            return next((i for i in self.items if i.route == "host"), None)
        others = [i for i in self.items if i.name == bare and i.route != "host"]
        return next((i for i in others if i.route == "path"), others[0] if others else None)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": str(self.config),
            "nixos": self.nixos,
            "profile_dir": str(self.profile_dir),
            "items": [i.to_json() for i in self.items],
            "commands": self.commands,
            "noop": self.noop,
        }


def map_profile(profile: str, profile_dir: Path) -> Path:
    """A profile path as written in a configuration, moved under ``profile_dir``.

    ``/nix/var/nix/profiles/containers/foo`` becomes ``PROFILE_DIR/containers/foo``. A
    profile elsewhere (``/srv/profiles/foo``) is kept as written with the default profile
    directory, and moved to ``PROFILE_DIR/srv/profiles/foo`` with another one, so that a
    build into a scratch directory writes nothing outside it.
    """
    posix = PurePosixPath(profile)
    try:
        rel = posix.relative_to(NIX_PROFILES_ROOT)
    except ValueError:
        if Path(profile_dir) == DEFAULT_PROFILE_DIR:
            return Path(profile)
        return Path(profile_dir) / str(posix).lstrip("/")
    return Path(profile_dir) / rel


def default_profile(name: str, dialect: str, profile_dir: Path) -> Path:
    """The profile of a path-route container whose ``path`` is not a literal."""
    if dialect == "modern":
        return Path(profile_dir) / "per-container" / name / "system"
    return Path(profile_dir) / "containers" / name


def read_profile(profile: Path) -> str | None:
    """The path a profile points at now (following its generation link), or None if no profile.

    The path may no longer exist (garbage-collected): see :func:`is_gone`.
    """
    try:
        return os.path.realpath(profile) if os.path.islink(profile) else None
    except OSError:
        return None


def is_gone(target: str | None) -> bool:
    """Whether a profile's target (from :func:`read_profile`) is missing from the store."""
    return target is not None and not os.path.exists(target)


def container_systems_of(system: str | None) -> dict[tuple[str, str], str]:
    """The systems a built host runs its containers from, keyed by (dialect, name).

    Read from the host system's unit files (``container-NAME.service``,
    ``container@NAME.service``) and ``etc/nixos-containers/NAME.conf``: each names the
    container's system as ``SYSTEM_PATH=…`` or runs its ``…/init``.
    """
    found: dict[tuple[str, str], str] = {}
    if not system:
        return found
    root = Path(system)
    units = root / "etc" / "systemd" / "system"
    candidates: list[tuple[str, str, Path]] = []
    if units.is_dir():
        for unit in units.iterdir():
            n = unit.name
            if n.startswith("container-") and n.endswith(".service"):
                candidates.append(("legacy", n[len("container-") : -len(".service")], unit))
            elif n.startswith("container@") and n.endswith(".service") and n != "container@.service":
                candidates.append(("modern", n[len("container@") : -len(".service")], unit))
    confs = root / "etc" / "nixos-containers"
    if confs.is_dir():
        candidates.extend(
            ("modern", c.name[: -len(".conf")], c) for c in confs.iterdir() if c.name.endswith(".conf")
        )
    for dialect, name, path in candidates:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        match = _SYSTEM_PATH.search(text) or _INIT_PATH.search(text)
        if match:
            found[(dialect, name)] = match.group(1)
    return found


def existing_container_profiles(profile_dir: Path) -> dict[str, tuple[str, Path]]:
    """Container profiles already under ``profile_dir``: name -> (dialect, profile)."""
    found: dict[str, tuple[str, Path]] = {}
    legacy = Path(profile_dir) / "containers"
    if legacy.is_dir():
        for entry in sorted(legacy.iterdir()):
            if entry.is_symlink() and not _GENERATION_LINK.search(entry.name):
                found[entry.name] = ("legacy", entry)
    modern = Path(profile_dir) / "per-container"
    if modern.is_dir():
        for entry in sorted(modern.iterdir()):
            system = entry / "system"
            if entry.is_dir() and system.is_symlink():
                found.setdefault(entry.name, ("modern", system))
    return found


def status_of(current: str | None, new: str | None) -> Status:
    """``new`` when nothing is there yet, ``unchanged`` when it already points at ``new``.

    A profile whose target is gone from the store is ``changed``: it is rebuilt and set anew.
    """
    if current is None:
        return "new"
    return "unchanged" if current == new and not is_gone(current) else "changed"


def parse_ref(ref: str) -> tuple[Literal["host", "container"], str]:
    """What a system name given on the command line means: ``("host", "host")`` for
    ``host`` or ``system:host``, ``("container", NAME)`` for ``container:NAME`` or ``NAME``.

    Plain ``host`` is the host; callers refuse it when a container is also called host.
    """
    if ref in (HOST, HOST_REF):
        return "host", HOST
    if ref.startswith(CONTAINER_PREFIX):
        return "container", ref[len(CONTAINER_PREFIX) :]
    return "container", ref


def select(items: Iterable[PlanItem], only: Iterable[str]) -> None:
    """Mark the items named in ``only`` (all when empty) as selected (names: :func:`parse_ref`).

    Config-route containers are part of the host system: they follow the host.
    """
    refs = [parse_ref(ref) for ref in only]
    wants_host = any(kind == "host" for kind, _ in refs)
    names = {name for kind, name in refs if kind == "container"}
    for item in items:
        if item.route in ("host", "config"):
            item.selected = not refs or wants_host
        else:
            item.selected = not refs or item.name in names


_CONFIG_VERBS = {"new": "starts", "changed": "restarts", "removed": "stops"}


def change_note(item: PlanItem, host_selected: bool) -> str:
    """What a user must know about a container's change, given what this build selects.

    A config-route container changes when the host is switched; a path-route container
    runs its new system once its unit is restarted. Empty when there is nothing to say.
    """
    if item.route == "config" and item.status in _CONFIG_VERBS:
        verb = _CONFIG_VERBS[item.status]
        prefix = "no longer declared: " if item.status == "removed" else ""
        if host_selected:
            return f"{prefix}switching the host {verb} {item.unit}"
        return f"{prefix}when the host is next built, switching it {verb} {item.unit}"
    if item.route == "path" and item.status == "changed":
        if item.selected:
            return f"restart {item.unit} to run the new system"
        return f"once built, restart {item.unit} to run the new system"
    return ""
