"""NixOS module forms: where a module's settings live.

A module is either in the short form, whose top level holds settings (``{ networking.hostName
= "a"; }``), or in the full form, whose top level declares ``options`` and/or ``config`` and
whose settings all live under ``config`` (NixOS rejects any other top-level name then, except
the few in :data:`TOP_LEVEL`). A tool that edits "the option ``networking.hostName``" must
therefore write ``config.networking.hostName`` in a module of the full form.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nixgen.document import Document

#: Names a module of the full form may have at its top level beside ``options``/``config``.
TOP_LEVEL = frozenset({
    "imports", "options", "config", "disabledModules", "meta", "freeformType", "_file", "key",
    "_class",
})


def config_root(doc: Document) -> tuple[str, ...]:
    """Where a module's settings live: under ``config`` when the module declares ``options``
    or ``config`` at its top level (NixOS's full module form), else at the top level."""
    cached = getattr(doc, "_nixgen_config_root", None)
    if cached is None:
        full = any(
            b.path and b.path[0] in ("config", "options") for b in doc.bindings()
        )
        cached = ("config",) if full else ()
        with contextlib.suppress(AttributeError):
            doc._nixgen_config_root = cached  # type: ignore[attr-defined]
    return cached


def option_path(doc: Document, path: Sequence[Any]) -> tuple[Any, ...]:
    """The attribute path that sets the option ``path`` in this module: ``path`` itself in the
    short form, ``("config", *path)`` in the full form (unless ``path`` already names one of
    the full form's own top-level names, such as ``config`` or ``imports``)."""
    path = tuple(path)
    root = config_root(doc)
    if not root or not path or path[0] in TOP_LEVEL:
        return path
    return (*root, *path)
