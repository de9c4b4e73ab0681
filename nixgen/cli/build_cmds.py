"""``nixgen build``, ``nixgen generations`` and ``nixgen rollback``: system profiles with real Nix.

``build`` prints the plan (host and each container: new, changed, unchanged, no longer
declared), then realises what changed and sets the profiles. Progress goes to stderr: a live
display on a terminal, plain lines otherwise. Exit codes: 0 done (or nothing to do), 1 a Nix
or build error (with ``--keep-going``: some system failed), 2 wrong arguments. With ``--json``
one JSON object is printed on stdout even when the command fails (``"ok": false`` and the
``"error"``).

A system is named ``host`` or by a container's name; ``container:NAME`` always names a
container and ``system:host`` the host, and plain ``host`` is refused when a container is also
called host.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nixgen.cli.app import DEFAULT_CONFIG, app

if TYPE_CHECKING:
    from nixgen.build import BuildOptions, Progress
    from nixgen.plan import BuildPlan

PROFILE_DIR = "/nix/var/nix/profiles"

STATUS_STYLE = {
    "new": "green",
    "changed": "yellow",
    "unchanged": "dim",
    "removed": "red",
    "skipped": "magenta",
}

ConfigOption = typer.Option(DEFAULT_CONFIG, "-f", "--file", help="The host configuration.")
NixosOption = typer.Option(
    None, "--nixos", help="The NixOS to build with (default: <nixpkgs/nixos> if it resolves, else <nixos>)."
)
IncludeOption = typer.Option(None, "-I", help="Add a search path entry for Nix (repeatable).")
ProfileDirOption = typer.Option(PROFILE_DIR, "--profile-dir", help="Where the profiles live.")
# `--option NAME VALUE` takes two values, which typer cannot declare for a repeatable
# option: the commands accept extra arguments and read these pairs from them.
EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
OPTION_HELP = "Nix options: --option NAME VALUE (repeatable), e.g. --option substituters ''."


def _nix_options(ctx: typer.Context) -> list[tuple[str, str]]:
    from nixgen.errors import UsageError

    args = list(ctx.args)
    pairs: list[tuple[str, str]] = []
    while args:
        flag = args.pop(0)
        if flag != "--option":
            raise UsageError(f"unexpected argument {flag!r} ({OPTION_HELP})")
        if len(args) < 2:
            raise UsageError("--option needs a NAME and a VALUE, e.g. --option substituters ''")
        pairs.append((args.pop(0), args.pop(0)))
    return pairs
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")
NAMES_HELP = ("`container:NAME` always names a container and `system:host` the host; plain "
              "`host` is refused when a container is also called host.")
NameArgument = typer.Argument(
    "host", help=f"`host` or a path-route container's name. {NAMES_HELP}")


def _options(
    file: str,
    nixos: str | None,
    include: list[str] | None,
    profile_dir: str,
    option: list[tuple[str, str]],
    **extra: Any,
) -> BuildOptions:
    from nixgen.build import BuildOptions

    return BuildOptions(
        config=Path(file),
        nixos=nixos,
        search_path=list(include or []),
        profile_dir=Path(profile_dir),
        options=option,
        **extra,
    )


class _Reporter:
    """Shows progress events: a rich live display on a terminal, plain lines otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live = not quiet and sys.stderr.isatty()
        self.start = time.monotonic()
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _Reporter:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            from nixgen.cli.output import err_console

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console(),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: Progress) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            if event.stage == "done":
                task = self.progress.tasks[0]
                self.progress.update(self.task, description=event.message,
                                     completed=task.total or 0)
            else:
                self.progress.update(self.task, description=event.message,
                                     total=event.total or None, completed=event.done)
            return
        elapsed = time.monotonic() - self.start
        counter = f" [{event.done}/{event.total}]" if event.total and event.stage == "build" else ""
        sys.stderr.write(f"nixgen: {event.stage}: {event.message}{counter} ({elapsed:.1f}s)\n")
        sys.stderr.flush()


def _short(path: str | None) -> str:
    """A store path as the first 8 characters of its hash; other paths as they are."""
    if not path:
        return "-"
    if path.startswith("/nix/store/"):
        return path[len("/nix/store/") :][:8]
    return path


def _profile_label(profile: Path | None, profile_dir: Path) -> str:
    if profile is None:
        return "(in the host)"
    try:
        return str(profile.relative_to(profile_dir))
    except ValueError:
        return str(profile)


PLAN_COLUMNS = ("system", "route", "status", "profile", "now -> new")


def _plan_rows(the_plan: BuildPlan, arrow: str) -> list[tuple[str, str, str, str, str]]:
    """One row per plan item: name, route, status, profile, now -> new."""
    rows = []
    for item in the_plan.items:
        status = item.status if item.selected else f"{item.status} (not selected)"
        now = _short(item.current) + (" (gone)" if item.current_gone else "")
        change = now if item.status in ("unchanged", "removed") else (
            f"{now} {arrow} {_short(item.new)}"
        )
        route = item.route if item.dialect is None else f"{item.route}/{item.dialect}"
        rows.append((item.label, route, status, _profile_label(item.profile, the_plan.profile_dir),
                     change))
    return rows


def _print_plan(the_plan: BuildPlan) -> None:
    """The plan as a table on a terminal; as plain aligned lines, never cut, otherwise."""
    title = f"Plan for {the_plan.config} (profiles in {the_plan.profile_dir})"
    notes = [f"  {item.label}: {item.note}" for item in the_plan.items if item.note]
    if not sys.stdout.isatty():
        rows = [PLAN_COLUMNS, *_plan_rows(the_plan, "->")]
        widths = [max(len(row[k]) for row in rows) for k in range(len(PLAN_COLUMNS) - 1)]
        lines = [title]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        sys.stdout.write("\n".join([*lines, *notes]) + "\n")
        sys.stdout.flush()
        return
    from rich.markup import escape
    from rich.table import Table

    from nixgen.cli.output import console

    table = Table(title=escape(title), title_justify="left")
    for column in PLAN_COLUMNS:
        table.add_column(column.replace("->", "→"), overflow="fold")
    for item, row in zip(the_plan.items, _plan_rows(the_plan, "→"), strict=True):
        cells = [escape(cell) for cell in row]
        cells[2] = f"[{STATUS_STYLE.get(item.status, '')}]{cells[2]}[/]"
        table.add_row(*cells)
    out = console()
    out.print(table)
    for note in notes:
        out.print(note, markup=False, highlight=False)


def _print_commands(the_plan: BuildPlan) -> None:
    from nixgen.cli.output import console

    out = console()
    out.print("Commands:", markup=False)
    for argv in the_plan.commands:
        out.print("  " + shlex.join(argv), markup=False, highlight=False, soft_wrap=True)


@app.command("build", context_settings=EXTRA_ARGS, epilog=OPTION_HELP)
def build_cmd(
    ctx: typer.Context,
    file: str = ConfigOption,
    nixos: str | None = NixosOption,
    include: list[str] | None = IncludeOption,
    profile_dir: str = ProfileDirOption,
    only: list[str] | None = typer.Option(
        None, "--only",
        help=f"Build only `host` or the named path-route container (repeatable). {NAMES_HELP}",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and the exact commands; build and set nothing."
    ),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Builds Nix runs at once."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Build the other systems when one fails."
    ),
    builders: str | None = typer.Option(None, "--builders", help="Nix remote builders spec."),
    show_trace: bool = typer.Option(False, "--show-trace", help="Nix's trace on errors."),
    json_out: bool = JsonOption,
) -> None:
    """Build the host and its path-route containers into system profiles."""
    from nixgen.errors import NixgenError

    state: dict[str, Any] = {}
    try:
        _build(ctx, state, file, nixos, include, profile_dir, only, dry_run, jobs, keep_going,
               builders, show_trace, json_out)
    except NixgenError as err:
        if json_out:
            _print_failure_json(err, state, dry_run)
        raise


def _print_failure_json(err: Exception, state: dict[str, Any], dry_run: bool) -> None:
    """The one JSON object of a failed ``build --json``: ``ok`` false, the ``error``, and the
    plan when there is one."""
    from nixgen.build import BuildFailure
    from nixgen.cli.output import print_json

    the_plan = state.get("plan")
    data: dict[str, Any] = {"ok": False, "error": str(err)}
    if the_plan is not None:
        data.update(the_plan.to_json())
    data.update({"dry_run": dry_run, "realised": [], "profiles_set": [],
                 "failed": getattr(err, "failed", {}),
                 "not_built": err.not_built if isinstance(err, BuildFailure) else []})
    print_json(data)


def _build(
    ctx: typer.Context,
    state: dict[str, Any],
    file: str,
    nixos: str | None,
    include: list[str] | None,
    profile_dir: str,
    only: list[str] | None,
    dry_run: bool,
    jobs: int | None,
    keep_going: bool,
    builders: str | None,
    show_trace: bool,
    json_out: bool,
) -> None:
    from nixgen.build import BuildResult, execute, make_nix, plan
    from nixgen.cli.output import console, err_console

    opts = _options(file, nixos, include, profile_dir, _nix_options(ctx), only=list(only or []),
                    jobs=jobs, keep_going=keep_going, builders=builders, show_trace=show_trace)
    nix = make_nix(opts)
    with _Reporter(quiet=json_out) as report:
        the_plan = plan(opts, nix=nix, on_progress=report, write_derivations=not dry_run)
    state["plan"] = the_plan
    if not json_out:
        _print_plan(the_plan)
    if dry_run:
        result = BuildResult(the_plan, dry_run=True)
        if not json_out:
            _print_commands(the_plan)
    else:
        with _Reporter(quiet=json_out) as report:
            result = execute(the_plan, opts, nix=nix, on_progress=report)
        if not json_out:
            if the_plan.noop:
                console().print("Nothing to build: every selected profile is up to date.")
            for profile in result.profiles_set:
                console().print(f"set {profile}", markup=False, highlight=False)
    if json_out:
        from nixgen.cli.output import print_json

        print_json(result.to_json())
    for name, message in result.failed.items():
        err_console().print(f"nixgen: error: {name}: {message}", markup=False, highlight=False)
    if result.failed:
        raise typer.Exit(1)


@app.command("generations", context_settings=EXTRA_ARGS, epilog=OPTION_HELP)
def generations_cmd(
    ctx: typer.Context,
    name: str = NameArgument,
    file: str = ConfigOption,
    include: list[str] | None = IncludeOption,
    profile_dir: str = ProfileDirOption,
    json_out: bool = JsonOption,
) -> None:
    """List the generations of the host's or a container's system profile."""
    from nixgen.build import generations, profile_of

    opts = _options(file, None, include, profile_dir, _nix_options(ctx))
    gens = generations(name, opts)
    if json_out:
        from nixgen.cli.output import print_json

        print_json({"name": name, "profile": str(profile_of(name, opts)),
                    "generations": [_generation_json(g) for g in gens]})
        return
    from rich.table import Table

    from nixgen.cli.output import console

    table = Table(title=f"Generations of {profile_of(name, opts)}", title_justify="left")
    for column in ("generation", "date", "current"):
        table.add_column(column)
    for g in gens:
        table.add_row(str(g.number), str(g.date), "current" if g.current else "")
    console().print(table)


def _generation_json(g: Any) -> dict[str, Any]:
    """A ``nixgen.nix.Generation`` as JSON-ready data (the date as ISO text)."""
    from dataclasses import asdict

    return {k: (v if isinstance(v, int | bool | str | type(None)) else str(v))
            for k, v in asdict(g).items()}


@app.command("rollback", context_settings=EXTRA_ARGS, epilog=OPTION_HELP)
def rollback_cmd(
    ctx: typer.Context,
    name: str = NameArgument,
    file: str = ConfigOption,
    include: list[str] | None = IncludeOption,
    profile_dir: str = ProfileDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Point the host's or a container's profile back at its previous generation."""
    from nixgen.build import rollback

    opts = _options(file, None, include, profile_dir, _nix_options(ctx))
    profile, target = rollback(name, opts)
    if json_out:
        from nixgen.cli.output import print_json

        print_json({"name": name, "profile": str(profile), "target": target})
        return
    sys.stdout.write(f"{profile} -> {target}\n")
