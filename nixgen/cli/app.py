"""The typer application object that every command module registers its commands on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nixgen",
    help="Read, rewrite, generate and evaluate Nix; manage NixOS containers losslessly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEFAULT_CONFIG = "/etc/nixos/configuration.nix"
