"""Container commands: add-container, remove-container, list-containers, show-container.

Exit codes: 0 done (also when there was nothing to change), 1 an error (invalid input, a
conflicting definition, a port clash, a file problem, a syntax error), 2 a usage error
(unknown option, options that do not fit together).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from nixgen.cli.app import DEFAULT_CONFIG, app


class RouteChoice(StrEnum):
    config = "config"
    path = "path"


class DialectChoice(StrEnum):
    auto = "auto"
    legacy = "legacy"
    modern = "modern"


FILE_HELP = "The configuration file to read and edit."


def _show_plan(plan: Any, file: Path, *, dry_run: bool, as_json: bool, verbose: bool) -> None:
    from nixgen.cli.output import err_console, finish, print_json, unified_diff

    warnings = list(getattr(plan, "warnings", ()))
    if not as_json:
        for warning in warnings:
            err_console().print(f"nixgen: warning: {warning}", markup=False, highlight=False)
    if verbose:
        for note in plan.notes:
            if note not in warnings:
                err_console().print(f"note: {note}", markup=False, highlight=False)
    if as_json:
        result = plan.to_json()
        result["dry_run"] = dry_run
        if dry_run:
            result["diff"] = "".join(
                unified_diff(
                    c.snapshot.data if c.snapshot else b"",
                    c.new_data or b"",
                    c.display_name,
                )
                for c in plan.changes
            )
        else:
            _write(plan, file)
        print_json(result)
        return
    if plan.noop:
        _say(plan.summary)
        return
    if dry_run:
        _say(f"would have: {plan.summary}")
        finish(plan.changes, dry_run=True)
        return
    _write(plan, file)
    _say(plan.summary, mark=True)


def _write(plan: Any, file: Path) -> None:
    """Commit the plan as one transaction made for ``file``, so that ``nixgen undo -f FILE``
    finds it even when only the container's own file changed."""
    from nixgen.files import commit

    commit([c for c in plan.changes if c.changed], anchor=file)


def _say(text: str, *, mark: bool = False) -> None:
    """One summary line on stdout (rich is not needed for it, which keeps writes fast)."""
    import os
    import sys

    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    prefix = ("\x1b[32m✓\x1b[0m " if colour else "✓ ") if mark else ""
    sys.stdout.write(prefix + text + "\n")
    sys.stdout.flush()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command("add-container")
def add_container(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the container."),
    file: Path = typer.Option(Path(DEFAULT_CONFIG), "-f", "--file", metavar="FILE", help=FILE_HELP),
    port: list[int] = typer.Option(
        [], "--port", "-p", metavar="N", help="A port for the container's sshd (repeatable)."
    ),
    ssh_key: list[str] = typer.Option(
        [], "--ssh-key", metavar="KEY", help="An SSH public key for root (repeatable)."
    ),
    ssh_key_file: list[Path] = typer.Option(
        [], "--ssh-key-file", metavar="FILE", help="A file of SSH public keys for root."
    ),
    route: RouteChoice | None = typer.Option(
        None, "--route", help="config (inline, the default) or path (own file and profile)."
    ),
    dialect: DialectChoice = typer.Option(
        DialectChoice.auto, "--dialect", help="legacy (systemd.containers) or modern (containers)."
    ),
    auto_start: bool = typer.Option(False, "--auto-start", help="Start with the host (modern)."),
    private_network: bool = typer.Option(
        False, "--private-network", help="Give the container its own network (modern)."
    ),
    host_address: str | None = typer.Option(
        None, "--host-address", metavar="IP", help="Host side address (modern)."
    ),
    local_address: str | None = typer.Option(
        None, "--local-address", metavar="IP[/LEN]", help="Container address (modern)."
    ),
    forward_port: list[str] = typer.Option(
        [], "--forward-port", metavar="HOST[:CONTAINER][/tcp|udp]", help="A forwarded port (modern, private network)."
    ),
    bind_mount: list[str] = typer.Option(
        [], "--bind-mount", metavar="HOST[:CONTAINER][:ro|rw]", help="A bind mount (modern)."
    ),
    replace: bool = typer.Option(
        False, "--replace",
        help="Settle conflicts with the existing container by rewriting only the conflicting "
        "values in place (every other setting, comment and layout kept). When the dialect or "
        "route must change, or a conflicting value cannot be rewritten where it is written (a "
        "config that is not an attribute set, a list nixgen cannot read), the whole definition "
        "is rewritten and its other settings are lost. Also overwrites an existing "
        "containers/NAME.nix of a new path-route container.",
    ),
    force: bool = typer.Option(False, "--force", help="Write even when a port clashes."),
    nixos: str | None = typer.Option(
        None, "--nixos", metavar="EXPR",
        help="Ask this NixOS which dialect it declares (auto dialect; default: <nixpkgs/nixos>, <nixos>).",
    ),
    include: list[str] = typer.Option(
        [], "-I", "--include", metavar="NAME=PATH",
        help="Add to the Nix search path for the dialect question (repeatable).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the diff, write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say which rule chose the dialect."),
) -> None:
    """Add a NixOS container (or add ports/keys/options to an existing one)."""
    from nixgen.container_edit import plan_add
    from nixgen.container_specs import ContainerSpec, read_ssh_key_file

    keys = list(ssh_key)
    for key_file in ssh_key_file:
        keys.extend(read_ssh_key_file(key_file))
    spec = ContainerSpec(
        name=name,
        ports=list(port),
        ssh_keys=keys,
        route=route.value if route else None,
        dialect=dialect.value,  # type: ignore[arg-type]
        auto_start=auto_start,
        private_network=private_network,
        host_address=host_address,
        local_address=local_address,
        forward_ports=list(forward_port),
        bind_mounts=list(bind_mount),
        replace=replace,
        force=force,
    )
    plan = plan_add(file, spec, ask_dialects=lambda: _detect_dialects(nixos, include))
    _show_plan(plan, file, dry_run=dry_run, as_json=as_json, verbose=verbose)


def _detect_dialects(nixos: str | None, include: list[str]) -> tuple[set[str] | None, str]:
    """Which dialects the NixOS on the search path declares, never failing (cached on disk)."""
    from nixgen.nixos import detect_dialects

    return detect_dialects(None, nixos, search_path=include)


@app.command("remove-container")
def remove_container(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the container."),
    file: Path = typer.Option(Path(DEFAULT_CONFIG), "-f", "--file", metavar="FILE", help=FILE_HELP),
    delete_file: bool = typer.Option(
        False, "--delete-file", help="Also delete the container's own file (path route)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the diff, write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove every definition of a container."""
    from nixgen.container_edit import plan_remove

    plan = plan_remove(file, name, delete_file=delete_file)
    _show_plan(plan, file, dry_run=dry_run, as_json=as_json, verbose=False)


def _short_key(key: str) -> str:
    """``TYPE AAAAC3Nz…tail COMMENT``: enough of a public key to recognise it on one line."""
    parts = key.split(None, 2)
    if len(parts) >= 2 and len(parts[1]) > 24:
        parts[1] = f"{parts[1][:12]}…{parts[1][-8:]}"
    return " ".join(parts)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _abbrev(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marks(c: Any, key: str) -> str:
    """`` (under mkIf, mkDefault)``: the wrappers a setting was read through, else ``""``."""
    names = c.wrappers.get(key, [])
    if not names:
        return ""
    return " (" + ", ".join("under mkIf" if n == "mkIf" else n for n in names) + ")"


def _shown(c: Any, key: str, known: list[str]) -> str:
    """A setting as text: the values read, each value that is not a literal as
    ``(not a literal: SOURCE)``, the wrappers it was read through; ``-`` when not set."""
    parts = known + [f"(not a literal: {_abbrev(t)})" for t in c.unreadable.get(key, [])]
    if not parts:
        return "-"
    return ", ".join(parts) + (_marks(c, key) if known else "")


def _ports_text(c: Any) -> str:
    known = [str(p) for p in c.ports]
    if c.ports_default:
        known.append(f"{DEFAULT_SSH_PORT} (default)")
    return _shown(c, "ports", known)


def _flag_text(c: Any, key: str) -> str:
    value = getattr(c, key)
    return _shown(c, key, [] if value is None else [_yes_no(value)])


DEFAULT_SSH_PORT = 22

SHOW_HELP = """Show what the configuration says about one container.

Values are read from the files, not evaluated. A variable bound by a `let` to a literal counts
as that literal. `-`: the configuration does not set it. `22 (default)`: sshd is enabled without
`ports`, so it listens on NixOS's default port. `(not a literal: SOURCE)`: a value nixgen
cannot read without evaluating (SOURCE is its text). `(under mkIf)`, `(mkDefault)`,
`(mkForce)`, …: the value is conditional or has a priority, so it may not be the one in
effect. With --json, the same keys as before plus `sshd_ports`, `ports_default`,
`unreadable` (setting -> source texts of values that are not literals) and `wrappers`
(setting -> mkIf, mkDefault, … it was read through)."""


@app.command("list-containers")
def list_containers(
    file: Path = typer.Option(Path(DEFAULT_CONFIG), "-f", "--file", metavar="FILE", help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the containers of a configuration and the modules it imports.

    Values are shown as by show-container (see its --help): `-` not set, `22 (default)`,
    `(not a literal: SOURCE)`, `(under mkIf)`, `(mkDefault)`."""
    from nixgen.cli.output import console, print_json
    from nixgen.containers import discover

    containers = discover(file)
    if as_json:
        print_json([c.to_json() for c in containers])
        return
    if not containers:
        console().print(f"no containers in {file}")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    table.add_column("name", overflow="fold", min_width=10)
    for column in ("dialect", "route", "ports", "autostart", "private network"):
        table.add_column(column, overflow="fold", min_width=min(len(column), 9))
    table.add_column("defined at", overflow="fold", min_width=20)
    for c in containers:
        name = c.name if len(c.name) <= 30 else c.name[:29] + "…"
        if c.dynamic:
            name += " (dynamic)"
        if c.conditional:
            name += " (mkIf)"
        table.add_row(
            _escape(name),
            c.dialect,
            c.route,
            _escape(_ports_text(c)),
            _escape(_flag_text(c, "auto_start")),
            _escape(_flag_text(c, "private_network")),
            _escape(c.location),
        )
    console().print(table)


@app.command("show-container", help=SHOW_HELP)
def show_container(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the container."),
    file: Path = typer.Option(Path(DEFAULT_CONFIG), "-f", "--file", metavar="FILE", help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    from nixgen.cli.output import console, print_json
    from nixgen.containers import discover
    from nixgen.errors import ValidationError

    matches = [c for c in discover(file) if c.name == name and not c.dynamic]
    if not matches:
        raise ValidationError(f"no container named {name} is declared", file=file)
    c = matches[0]
    if as_json:
        print_json(c.to_json())
        return
    rows = [
        ("name", c.name),
        ("dialect", c.dialect),
        ("route", c.route),
        ("ports", _ports_text(c)),
        ("autostart", _flag_text(c, "auto_start")),
        ("private network", _flag_text(c, "private_network")),
    ]
    rows.append(("sshd", _flag_text(c, "ssh_enabled")))
    rows.extend(("ssh key", _short_key(key)) for key in c.ssh_keys)
    rows.extend(("ssh key", f"(not a literal: {_abbrev(t)})")
                for t in c.unreadable.get("ssh_keys", []))
    for key, label in (("host_address", "host address"), ("local_address", "local address")):
        value = getattr(c, key)
        if value or key in c.unreadable:
            rows.append((label, _shown(c, key, [value] if value else [])))
    for fwd in c.forward_ports:
        rows.append(
            ("forward port", f"{fwd.get('hostPort')} -> {fwd.get('containerPort')}"
             f"/{fwd.get('protocol', 'tcp')}")
        )
    rows.extend(("forward port", f"(not a literal: {_abbrev(t)})")
                for t in c.unreadable.get("forward_ports", []))
    for target, mount in c.bind_mounts.items():
        if isinstance(mount, dict):
            mode = "ro" if mount.get("isReadOnly", True) else "rw"
            rows.append(("bind mount", f"{mount.get('hostPath', target)} -> {target} ({mode})"))
    rows.extend(("bind mount", f"(not a literal: {_abbrev(t)})")
                for t in c.unreadable.get("bind_mounts", []))
    if c.profile:
        rows.append(("profile", c.profile))
    if c.container_file:
        rows.append(("container file", str(c.container_file)))
    if c.conditional:
        rows.append(("conditional", "yes (under mkIf)"))
    for binding, f in zip(c.definitions, c.definition_files, strict=False):
        rows.append(("defined at", f"{f}:{binding.line}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console().print(f"[bold]{key.ljust(width)}[/bold]  {_escape(str(value))}")
