"""Realise the host and per-container system profiles of a configuration with real Nix.

The steps a careful NixOS user takes by hand, done at once:

1. **Evaluate** every system in one Nix process (``nixexprs/systems.nix``): the host, and
   each path-route container from its own file; the host's evaluation also names the
   system each config-route container runs.
2. **Plan**: compare each new output path with what its profile points at now
   (:mod:`nixgen.plan`); unchanged profiles are left alone.
3. **Realise** every derivation that changed with one ``nix-store --realise``, so Nix builds
   them in parallel.
4. **Set profiles** (``nix-env -p PROFILE --set PATH``), path-route containers first, the host
   last, and only once everything is realised: an error or Ctrl-C before this step leaves
   every profile where it was.

Progress is reported through a callback of :class:`Progress` events; nothing here prints.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nixgen.errors import FileError, NixCommandError, UsageError
from nixgen.plan import (
    CONTAINER_PREFIX,
    DEFAULT_PROFILE_DIR,
    HOST,
    HOST_REF,
    BuildPlan,
    PlanItem,
    change_note,
    container_systems_of,
    default_profile,
    existing_container_profiles,
    is_gone,
    map_profile,
    parse_ref,
    read_profile,
    select,
    status_of,
)

if TYPE_CHECKING:
    from nixgen.containers import Container
    from nixgen.nix import Nix

LOG_LINES = 15

_BUILDING = re.compile(r"^building '(/nix/store/[^']+\.drv)'")
_WILL_BUILD = re.compile(r"^these (\d+) derivations? will be built")
_FAILED_DRV = re.compile(r"builder for '(/nix/store/[^']+\.drv)' failed")


@dataclass
class BuildOptions:
    """Everything ``nixgen build`` takes from its command line."""

    config: Path
    nixos: str | None = None
    search_path: Sequence[str] = ()
    profile_dir: Path = DEFAULT_PROFILE_DIR
    only: Sequence[str] = ()
    jobs: int | None = None
    keep_going: bool = False
    options: Sequence[tuple[str, str]] = ()
    builders: str | None = None
    show_trace: bool = False


@dataclass
class Progress:
    """One progress event: ``stage`` is evaluate, plan, build, profile or done."""

    stage: Literal["evaluate", "plan", "build", "profile", "done"]
    message: str
    done: int = 0
    total: int = 0
    current: str | None = None


ProgressCallback = Callable[[Progress], None]


class BuildFailure(NixCommandError):
    """A build that stopped at a failure (no ``--keep-going``): no profile was changed.

    ``failed`` maps each system whose build failed to the message; ``not_built`` names the
    systems Nix did not get to because the build stopped.
    """

    def __init__(self, message: str, *, failed: dict[str, str], not_built: list[str],
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.failed = failed
        self.not_built = not_built


@dataclass
class BuildResult:
    """What a build did: the plan, the profiles it set, and the systems that failed."""

    plan: BuildPlan
    realised: list[str] = field(default_factory=list)
    profiles_set: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": None,
            **self.plan.to_json(),
            "dry_run": self.dry_run,
            "realised": self.realised,
            "profiles_set": [str(p) for p in self.profiles_set],
            "failed": self.failed,
            "not_built": [],
        }


def make_nix(opts: BuildOptions) -> Nix:
    """The :class:`~nixgen.nix.Nix` runner for these options (``--builders`` is a Nix option)."""
    from nixgen.nix import Nix

    options = list(opts.options)
    if opts.builders is not None:
        options.append(("builders", opts.builders))
    return Nix(search_path=list(opts.search_path), options=options, show_trace=opts.show_trace)


def _nixos_spec(nix: Nix, nixos: str | None) -> str:
    from nixgen.nixos import resolve_nixos

    spec = resolve_nixos(nix, nixos)
    if spec.startswith("<") and spec.endswith(">"):
        return spec
    path = Path(spec).expanduser().resolve()
    if not path.exists():
        raise UsageError(f"--nixos {spec}: no such file or directory (give the NixOS to build "
                         "with, e.g. --nixos '<nixpkgs/nixos>' or a path to its default.nix)")
    return str(path)


@dataclass
class _System:
    name: str
    config_file: Path
    is_container: bool
    dialect: str | None = None
    profile: Path | None = None


def _containers(opts: BuildOptions) -> list[Container]:
    """The containers the configuration declares (read from the files; no Nix runs)."""
    from nixgen.containers import discover

    config = Path(opts.config)
    if not config.is_file():
        raise FileError("configuration not found (give it with -f FILE)", file=config)
    return discover(config)


AMBIGUOUS_HOST = ("host names both the host and a container here: say system:host for the "
                  "host or container:host for the container")


def _check_only(only: Sequence[str], containers: Sequence[Container]) -> None:
    """Refuse an ``--only`` name that is not the host or a path-route container.

    Plain ``host`` is refused when a container is also called host (see
    :func:`~nixgen.plan.parse_ref`).
    """
    path_route = {c.name for c in containers if c.route == "path" and not c.dynamic}
    config_route = {c.name for c in containers if c.route == "config" and not c.dynamic}
    host_named = any(c.name == HOST and not c.dynamic for c in containers)
    host_word = HOST_REF if host_named else HOST
    known = {host_word} | {CONTAINER_PREFIX + n if n == HOST else n for n in path_route}
    for ref in only:
        if ref == HOST and host_named:
            raise UsageError(f"--only host: {AMBIGUOUS_HOST}")
        kind, name = parse_ref(ref)
        if kind == "host" or name in path_route:
            continue
        if name in config_route:
            raise UsageError(f"--only {ref}: a config-route container is built as part of "
                             f"the host; use --only {host_word}")
        raise UsageError(f"--only {ref}: not the host or a path-route container of this "
                         f"configuration (known: {', '.join(sorted(known))})")


def _systems(
    opts: BuildOptions, containers: Sequence[Container]
) -> tuple[list[_System], list[PlanItem]]:
    """The host and each path-route container to evaluate, plus items that cannot be built."""
    systems = [_System(HOST, Path(opts.config).resolve(), False)]
    skipped: list[PlanItem] = []
    for c in containers:
        if c.route != "path":
            continue
        if c.dynamic:
            skipped.append(PlanItem(c.name, "path", "skipped", dialect=c.dialect,
                                    note=f"name known only to Nix ({c.file}:{c.line}); not built"))
            continue
        if c.container_file is None or not Path(c.container_file).is_file():
            raise FileError(
                f"container {c.name!r} uses the path route but its configuration file "
                f"{c.container_file or 'containers/' + c.name + '.nix'} does not exist",
                file=c.file, line=c.line, col=c.col,
            )
        systems.append(_System(c.name, Path(c.container_file).resolve(), True, c.dialect,
                               _container_profile(c, opts.profile_dir)))
    return systems, skipped


def _container_profile(c: Container, profile_dir: Path) -> Path:
    """A path-route container's profile: its literal ``path`` under ``profile_dir``, else the default."""
    if c.profile:
        return map_profile(c.profile, profile_dir)
    return default_profile(c.name, c.dialect, profile_dir)


def _eval_command(nix: Nix, nixos: str, systems: list[_System], *, write: bool) -> list[str]:
    payload = [
        {"name": s.name, "configFile": str(s.config_file), "isContainer": s.is_container}
        for s in systems
    ]
    return nix.helper_command("systems", read_write=write, nixos=nixos, systems=payload)


def plan(
    opts: BuildOptions,
    *,
    nix: Nix | None = None,
    on_progress: ProgressCallback | None = None,
    write_derivations: bool = True,
) -> BuildPlan:
    """Evaluate every system once and compare each with its profile.

    ``write_derivations=False`` evaluates read-only (nothing is written to the store), for
    ``--dry-run``.
    """
    nix = nix or make_nix(opts)
    emit = on_progress or (lambda _p: None)
    containers = _containers(opts)
    _check_only(opts.only, containers)
    nixos = _nixos_spec(nix, opts.nixos)
    systems, skipped = _systems(opts, containers)
    emit(Progress("evaluate", f"evaluating {len(systems)} system(s) with {nixos}",
                  total=len(systems)))
    argv = _eval_command(nix, nixos, systems, write=write_derivations)
    proc = nix.run(argv)
    results = json.loads(proc.stdout.decode("utf-8"))  # in the order of `systems`
    emit(Progress("plan", "comparing with the profiles", done=len(systems), total=len(systems)))

    profile_dir = Path(opts.profile_dir)
    host_profile = profile_dir / "system"
    host_now = read_profile(host_profile)
    host = results[0]
    items = [
        PlanItem(HOST, "host", status_of(host_now, host["out"]), profile=host_profile,
                 current=host_now, new=host["out"], drv=host["drv"],
                 config_file=systems[0].config_file, current_gone=is_gone(host_now))
    ]
    declared_paths = {
        (dialect, name): path
        for dialect in ("legacy", "modern")
        for name, path in (host["containers"].get(dialect) or {}).items()
    }
    for s, r in zip(systems[1:], results[1:], strict=True):
        assert s.profile is not None
        now = read_profile(s.profile)
        item = PlanItem(s.name, "path", status_of(now, r["out"]), dialect=s.dialect,
                        profile=s.profile, current=now, new=r["out"], drv=r["drv"],
                        config_file=s.config_file, current_gone=is_gone(now))
        if (s.dialect, s.name) not in declared_paths:
            item.status = "skipped"
            item.note = "not declared once evaluated (under a false mkIf?); not built"
        items.append(item)
    items.extend(skipped)
    items.extend(_config_route_items(declared_paths, host_now))
    static = {(s.dialect, s.name) for s in systems[1:]}
    dynamic = _dynamic_items(declared_paths, static, profile_dir)
    items.extend(dynamic)
    config_route = {name for (_, name), path in declared_paths.items() if _in_store(path)}
    items.extend(_undeclared_profiles(profile_dir, {s.name for s in systems[1:]},
                                      {i.name for i in dynamic}, config_route))
    select(items, opts.only)
    host_selected = any(i.route == "host" and i.selected for i in items)
    for i in items:
        i.note = change_note(i, host_selected) or i.note
    result = BuildPlan(Path(opts.config), nixos, profile_dir, items)
    emit(Progress("plan", "checking the profile folders"))
    check_profile_folders(result.to_build, try_create=write_derivations)
    result.commands = [_eval_command(nix, nixos, systems, write=True)]
    drvs = [i.drv for i in result.to_build if i.drv]
    if drvs:
        result.commands.append(nix.realise_command(drvs, jobs=opts.jobs,
                                                   keep_going=opts.keep_going))
    for i in result.to_build:
        assert i.profile is not None and i.new is not None
        result.commands.append(nix.command("nix-env", "-p", str(i.profile), "--set", i.new))
    return result


def check_profile_folders(items: Sequence[PlanItem], *, try_create: bool) -> None:
    """Make sure the folder of each item's profile exists or can be created, before any build.

    Raises :class:`FileError` (``FOLDER: cannot create the profile folder: REASON``) for the
    first that cannot. ``try_create`` creates the missing folders and removes them again (the
    profile stage makes them), so that the file system itself answers; without it nothing is
    written and the answer is read from what exists (as for ``--dry-run``).
    """
    seen: set[Path] = set()
    for item in items:
        if item.profile is None:
            continue
        folder = Path(os.path.abspath(item.profile)).parent
        if folder in seen:
            continue
        seen.add(folder)
        reason = _folder_problem(folder, try_create)
        if reason:
            raise FileError(f"cannot create the profile folder: {reason}", file=folder)


def _folder_problem(folder: Path, try_create: bool) -> str | None:
    """Why ``folder`` cannot hold a profile, or None."""
    missing: list[Path] = []
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        return os.strerror(errno.ENOTDIR)
    if not missing or not try_create:
        if not os.access(probe, os.W_OK | os.X_OK):
            return os.strerror(errno.EACCES)
        return None
    made: list[Path] = []
    try:
        for d in reversed(missing):
            d.mkdir()
            made.append(d)
    except FileExistsError:
        return os.strerror(errno.ENOTDIR)
    except OSError as err:
        return err.strerror or str(err)
    finally:
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
    return None


def _in_store(path: str | None) -> bool:
    return bool(path) and str(path).startswith("/nix/store/")


def _dynamic_items(
    declared: dict[tuple[str, str], str | None], static: set[tuple[str, str]], profile_dir: Path
) -> list[PlanItem]:
    """Path-route containers the host declares once evaluated that the files do not name
    (a name computed at evaluation time): listed as dynamic, not built."""
    items = []
    for (dialect, name), path in sorted(declared.items()):
        if _in_store(path) or (dialect, name) in static:
            continue
        profile = map_profile(path, profile_dir) if path else None
        now = read_profile(profile) if profile is not None else None
        items.append(PlanItem(name, "path", "skipped", dialect=dialect, profile=profile,
                              current=now, current_gone=is_gone(now),
                              note="dynamic: its name is computed at evaluation time; not built"))
    return items


def _config_route_items(
    declared: dict[tuple[str, str], str], host_now: str | None
) -> list[PlanItem]:
    """Config-route containers: part of the host system, compared with the running host's."""
    before = container_systems_of(host_now)
    items: list[PlanItem] = []
    for (dialect, name), path in sorted(declared.items()):
        if not _in_store(path):
            continue
        old = before.get((dialect, name))
        status = "new" if old is None else ("unchanged" if old == path else "changed")
        items.append(PlanItem(name, "config", status, dialect=dialect, current=old, new=path))
    for (dialect, name), old in sorted(before.items()):
        if (dialect, name) not in declared and old.startswith("/nix/store/"):
            items.append(PlanItem(name, "config", "removed", dialect=dialect, current=old))
    return items


def _undeclared_profiles(
    profile_dir: Path, declared: set[str], dynamic: set[str], config_route: set[str]
) -> list[PlanItem]:
    """Container profiles under ``profile_dir`` that no path-route container uses any more.

    Names in ``dynamic`` are listed already; a name in ``config_route`` is still declared, now
    as a config-route container.
    """
    items = []
    for name, (dialect, profile) in existing_container_profiles(profile_dir).items():
        if name in declared or name in dynamic:
            continue
        note = ("now a config-route container; its profile is no longer used (left in place)"
                if name in config_route else "no longer declared; its profile is left in place")
        now = read_profile(profile)
        items.append(PlanItem(name, "path", "removed", dialect=dialect, profile=profile,
                              current=now, current_gone=is_gone(now), note=note))
    return items


def build(
    opts: BuildOptions,
    *,
    nix: Nix | None = None,
    on_progress: ProgressCallback | None = None,
    dry_run: bool = False,
) -> BuildResult:
    """Plan, realise what changed in one ``nix-store --realise``, then set the profiles.

    ``dry_run`` evaluates read-only and stops after the plan. A build failure raises
    :class:`NixCommandError` naming the system and the last lines of its log, with no
    profile changed; with ``keep_going`` the systems that did build are set and the
    failures are returned in :attr:`BuildResult.failed` (even when every system failed).
    """
    nix = nix or make_nix(opts)
    the_plan = plan(opts, nix=nix, on_progress=on_progress, write_derivations=not dry_run)
    if dry_run:
        if on_progress:
            on_progress(Progress("done", "dry run: nothing built, no profile set"))
        return BuildResult(the_plan, dry_run=True)
    return execute(the_plan, opts, nix=nix, on_progress=on_progress)


def execute(
    the_plan: BuildPlan,
    opts: BuildOptions,
    *,
    nix: Nix | None = None,
    on_progress: ProgressCallback | None = None,
) -> BuildResult:
    """Realise what ``the_plan`` builds (one ``nix-store --realise``), then set the profiles.

    A build failure raises :class:`BuildFailure`, naming the systems whose build failed and
    those not built because the build stopped; with ``opts.keep_going`` it is recorded in
    :attr:`BuildResult.failed` instead and what did build is set.
    """
    nix = nix or make_nix(opts)
    emit = on_progress or (lambda _p: None)
    result = BuildResult(the_plan)
    todo = the_plan.to_build
    if not todo:
        emit(Progress("done", "nothing to build: every selected profile is up to date"))
        return result

    drvs = [i.drv for i in todo if i.drv]
    counter = _BuildCounter(emit, len(drvs), {i.drv: i.label for i in todo if i.drv})
    emit(Progress("build", f"realising {len(drvs)} system(s)", total=len(drvs)))
    try:
        nix.realise(drvs, jobs=opts.jobs, keep_going=opts.keep_going, on_line=counter.line)
    except NixCommandError as err:
        missing = [i for i in todo if i.new is None or not os.path.exists(i.new)]
        if not missing:
            raise
        failed, stopped = missing, []
        if not opts.keep_going:  # with --keep-going, Nix tried every one of them
            failed, stopped = _blame(nix, missing, counter.failed_drvs)
        message = _failure_message(failed, stopped, err, counter.failed_drvs)
        if not opts.keep_going:
            raise BuildFailure(message, failed={i.label: message for i in failed},
                               not_built=[i.label for i in stopped], argv=err.argv,
                               returncode=err.returncode, stderr=err.stderr) from err
        result.failed = {i.label: message for i in failed}
        todo = [i for i in todo if i not in failed]
    result.realised = [i.name for i in todo]

    _set_profiles(nix, todo, result, emit)
    emit(Progress("done", f"{len(result.profiles_set)} profile(s) set"))
    return result


def _set_profiles(
    nix: Nix, todo: list[PlanItem], result: BuildResult, emit: ProgressCallback
) -> None:
    """Set the container profiles, then the host's, whose configuration refers to them.

    All or nothing: when a ``nix-env`` fails or the build is stopped (Ctrl-C, SIGTERM) during
    this stage, every profile already set is pointed back where it was before the error goes on.
    """
    from nixgen.nix import signals_held

    containers = [i for i in todo if i.route != "host"]
    hosts = [i for i in todo if i.route == "host"]
    before = {Path(os.path.abspath(i.profile)): nix.current_generation(i.profile)
              for i in todo if i.profile is not None}
    try:
        for group in (containers, hosts):
            if not group:
                continue
            pairs: list[tuple[Path, str]] = []
            for item in group:
                assert item.profile is not None and item.new is not None
                pairs.append((item.profile, item.new))
            label = str(pairs[0][0]) if len(pairs) == 1 else f"{len(pairs)} profiles"
            emit(Progress("profile", f"setting {label}", done=len(result.profiles_set),
                          total=len(todo)))
            nix.set_profiles(pairs)
            result.profiles_set.extend(p for p, _ in pairs)
    except BaseException as exc:
        with signals_held():  # whatever the moment of the stop, compare with what was before
            changed = [p for p, n in before.items() if nix.current_generation(p) != n]
            if changed:
                emit(Progress("profile", f"putting {len(changed)} profile(s) back as they were"))
            problems = nix.restore_profiles(before, changed)
            for line in problems:
                emit(Progress("profile", f"could not put back {line}"))
            result.profiles_set.clear()
        if isinstance(exc, OSError):
            raise FileError(f"cannot set the profile: {exc.strerror or exc}",
                            file=exc.filename) from exc
        raise


class _BuildCounter:
    """Turns Nix's build output into progress events."""

    def __init__(self, emit: ProgressCallback, total: int, names: dict[str, str]) -> None:
        self.emit = emit
        self.total = total
        self.started = 0
        self.names = names
        self.failed_drvs: list[str] = []

    def line(self, text: str) -> None:
        text = text.strip()
        if m := _WILL_BUILD.match(text):
            self.total = int(m.group(1))
            self.emit(Progress("build", text, done=self.started, total=self.total))
        elif m := _BUILDING.match(text):
            self.started += 1
            drv = m.group(1)
            label = self.names.get(drv) or drv.split("-", 1)[-1].removesuffix(".drv")
            self.emit(Progress("build", f"building {label}", done=self.started - 1,
                               total=max(self.total, self.started), current=label))
        elif m := _FAILED_DRV.search(text):
            self.failed_drvs.append(m.group(1))


def _blame(
    nix: Nix, missing: list[PlanItem], failed_drvs: list[str]
) -> tuple[list[PlanItem], list[PlanItem]]:
    """Split the systems a stopped build did not realise into those whose build failed (the
    failed derivation is in their closure) and those Nix did not get to.

    When that cannot be told, every one of them is counted as failed.
    """
    bad = set(failed_drvs)
    if not bad:
        return missing, []
    failed: list[PlanItem] = []
    stopped: list[PlanItem] = []
    for item in missing:
        if item.drv is None or item.drv in bad:
            failed.append(item)
            continue
        try:
            needs = set(nix.requisites([item.drv]))
        except NixCommandError:
            return missing, []
        (failed if needs & bad else stopped).append(item)
    if not failed:
        return missing, []
    return failed, stopped


def _failure_message(failed: list[PlanItem], stopped: list[PlanItem], err: NixCommandError,
                     drvs: list[str]) -> str:
    names = ", ".join(i.label for i in failed)
    lines = [ln for ln in err.stderr.splitlines()
             if ln.strip() and "did not specify '--add-root'" not in ln]
    tail = "\n".join("  " + ln for ln in lines[-LOG_LINES:])
    which = f" (failed derivation: {drvs[0]})" if drvs else ""
    rest = ""
    if stopped:
        rest = f"; not built because the build stopped: {', '.join(i.label for i in stopped)}"
    return f"building {names} failed{which}{rest}; last lines of the log:\n{tail}"


def profile_of(name: str, opts: BuildOptions) -> Path:
    """The profile of the host or of a path-route container (``name`` as
    :func:`~nixgen.plan.parse_ref` reads it).

    Plain ``host`` is refused when a container is also called host, in the configuration or
    among the profiles: ``system:host`` and ``container:host`` tell them apart.
    """
    from nixgen.containers import discover
    from nixgen.errors import NixgenError

    profile_dir = Path(opts.profile_dir)
    config = Path(opts.config)
    containers: list[Container] = []
    if config.is_file():
        try:
            containers = discover(config)
        except NixgenError:
            if name != HOST:
                raise
    existing = existing_container_profiles(profile_dir)
    if name == HOST and (HOST in existing or any(c.name == HOST and not c.dynamic
                                                  for c in containers)):
        raise UsageError(AMBIGUOUS_HOST)
    kind, bare = parse_ref(name)
    if kind == "host":
        return profile_dir / "system"
    for c in containers:
        if c.name == bare and not c.dynamic and c.route == "path":
            return _container_profile(c, profile_dir)
    if bare in existing:
        return existing[bare][1]
    raise UsageError(f"{name!r} is neither the host nor a path-route container with a profile "
                     f"under {profile_dir}")


def _existing_profile(name: str, opts: BuildOptions, advice: str) -> Path:
    """The profile of ``name``; FileError at the profile ("no profile yet: ADVICE") if absent."""
    profile = profile_of(name, opts)
    if not os.path.lexists(profile):
        raise FileError(f"no profile yet: {advice}", file=profile)
    return profile


def generations(name: str, opts: BuildOptions, *, nix: Nix | None = None) -> list[Any]:
    """The generations of the host's or a container's profile (``nix-env --list-generations``)."""
    nix = nix or make_nix(opts)
    profile = _existing_profile(name, opts, "build it first with nixgen build")
    return list(nix.generations(profile))


def rollback(name: str, opts: BuildOptions, *, nix: Nix | None = None) -> tuple[Path, str | None]:
    """Point the profile back at its previous generation; returns (profile, new target)."""
    nix = nix or make_nix(opts)
    profile = _existing_profile(name, opts, "nothing to roll back")
    nix.rollback(profile)
    return profile, read_profile(profile)
