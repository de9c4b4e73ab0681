"""The typer application object that every command module registers its commands on.

The root group knows each command's name and module from :data:`COMMANDS` and imports that
module, and builds that command's options, only when the command is used (or when the help
lists every command). A run of ``nixgen set`` therefore loads the editing commands only.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

#: Every command, in the order the help lists them, and the module that registers it.
COMMANDS: dict[str, str] = {
    "get": "nixgen.cli.edit_cmds",
    "set": "nixgen.cli.edit_cmds",
    "delete": "nixgen.cli.edit_cmds",
    "append": "nixgen.cli.edit_cmds",
    "remove": "nixgen.cli.edit_cmds",
    "undo": "nixgen.cli.edit_cmds",
    "add-container": "nixgen.cli.container_cmds",
    "remove-container": "nixgen.cli.container_cmds",
    "list-containers": "nixgen.cli.container_cmds",
    "show-container": "nixgen.cli.container_cmds",
    "build": "nixgen.cli.build_cmds",
    "generations": "nixgen.cli.build_cmds",
    "rollback": "nixgen.cli.build_cmds",
    "eval": "nixgen.cli.eval_cmds",
    "check-syntax": "nixgen.cli.eval_cmds",
    "check": "nixgen.cli.check_cmd",
    "lsp": "nixgen.cli.editor_cmds",
    "edit": "nixgen.cli.editor_cmds",
    "gen": "nixgen.cli.gen_cmd",
}


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: names known up front, each command built on first lookup."""

    def __init__(self, built: MutableMapping[str, Any], rich_markup_mode: Any) -> None:
        self._built = dict(built)
        self._rich_markup_mode = rich_markup_mode

    def _names(self) -> list[str]:
        return [*COMMANDS, *(n for n in self._built if n not in COMMANDS)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name, self._rich_markup_mode)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built


def _build(name: str, rich_markup_mode: Any) -> Any:
    """Import the module that registers ``name`` and build that one command."""
    importlib.import_module(COMMANDS[name])
    for info in app.registered_commands:
        if info.name == name:
            return typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=rich_markup_mode)
    raise KeyError(name)


class LazyGroup(TyperGroup):
    """A typer group whose commands are imported and built when first looked up."""

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(dict(commands or {}), self.rich_markup_mode)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        finally:
            from nixgen.cli import resume_gc

            resume_gc()  # the command and everything it needs to start are loaded


app = typer.Typer(
    name="nixgen",
    help="Read, rewrite, generate and evaluate Nix; manage NixOS containers losslessly.",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Makes ``app`` a group even before any command module is imported."""


DEFAULT_CONFIG = "/etc/nixos/configuration.nix"
