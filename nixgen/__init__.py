"""nixgen: lossless editing, generation and evaluation of Nix, and NixOS containers.

The public API is re-exported here and loaded on first use, so that ``import nixgen`` stays
cheap for the command line.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Document": "nixgen.document",
    "Binding": "nixgen.document",
    "Change": "nixgen.document",
    "Edit": "nixgen.edits",
    "apply_edits": "nixgen.edits",
    "to_nix": "nixgen.emit",
    "Expr": "nixgen.emit",
    "Unevaluated": "nixgen.literal",
    "parse_path": "nixgen.attrpath",
    "format_path": "nixgen.attrpath",
    "Nix": "nixgen.nix",
    "NixgenError": "nixgen.errors",
    "NixSyntaxError": "nixgen.errors",
    "EditError": "nixgen.errors",
    "ValidationError": "nixgen.errors",
    "FileError": "nixgen.errors",
    "ConflictError": "nixgen.errors",
    "NixCommandError": "nixgen.errors",
    "NixNotFoundError": "nixgen.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nixgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
