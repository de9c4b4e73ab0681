"""``nixgen check``: NixOS-aware lints with stable codes and safe fixes.

Rules (code, default severity):

* NG001 error — syntax error; a UTF-8 byte order mark (which Nix rejects) has a fix.
* NG101 error — an attribute defined twice in one attribute set in a way Nix rejects
  (the same leaf twice, dotted or nested; ``inherit a;`` beside ``a…``; a later
  ``a = { … }`` clashing with earlier dotted keys, which Nix merges one level deep only).
* NG102 error — a dotted key beside a value that is not an attribute set literal
  (``a = lib.mkIf c { … };`` with ``a.b = 1;``).
* NG103 note — a dotted key (or a second literal set) beside a literal set that Nix merges.
* NG201 warning, fix — ``pkgs.lib`` / ``with pkgs.lib;`` in a NixOS module; the fix uses
  ``lib`` and adds it to the module's arguments when missing. No fix where the rewrite could
  change the meaning: in an argument's default, ``pkgs.lib or …``, or when an added ``lib``
  would capture a ``lib`` the file takes from a ``with``.
* NG202 error, fix — a module of the full form (``options`` or ``config`` at its top level)
  with another top-level name than ``imports``, ``options``, ``config``, ``disabledModules``,
  ``meta``, ``freeformType``, ``_file``, ``key``, ``_class``, which NixOS rejects ("unsupported
  attribute"); the fix, when the renamed file stays valid and no moved binding meets a
  ``rec`` set of ``config`` (it would see that set's names), prefixes those bindings with
  ``config.``.
* NG203 error — an ``imports`` entry that is a literal path to nothing (a directory stands
  for its ``default.nix``); Nix fails with "getting status of …: No such file or directory".
* NG301 error — container port clash on the host's network (host sshd vs shared-network
  containers, two containers, a forwarded host port used twice).
* NG302 error/warning — container name: invalid characters, longer than 11 characters with a
  private network, differing from another only in case.
* NG303 warning, fix — a path-route container's file without ``boot.isContainer = true;``;
  the fix adds it where it is not set (an explicit value is reported, never overwritten).
* NG304 warning — a path-route profile outside the dialect's layout.
* NG401 warning — isolation notes (shared host network; the legacy dialect's writable
  ``/sys/fs/cgroup``); silenced per container by ``# nixgen: allow-shared-network`` on or
  directly above its definition.
* NG501 warning, fix — legacy option names mixed with modern ones in one file
  (``systemd.containers`` with ``containers``, ``users.extraUsers`` with ``users.users``);
  the fix renames to the file's dominant dialect.

Library API::

    check_document(doc, *, path=None, select=None, ignore=None) -> list[Finding]
        # findings located in one document (e.g. an editor buffer: doc.data, doc.tree, doc.path)
    check_source(data: bytes, path=None, *, tree=None, select=None, ignore=None)
        # the single-file rules only
    check_paths(paths, *, select=None, ignore=None, buffers=None) -> list[Finding]
        # files plus the modules they import by literal relative path
    fix_paths(paths, …) -> FixResult       # fixes applied in memory, re-checked, not written
    apply_fixes(data: bytes, findings) -> bytes

    Finding(code, severity, message, file, line, col, end_line, end_col, start_byte,
            end_byte, fix: Fix | None)        # lines/cols 1-based, cols in characters
    Fix(description, edits: tuple[nixgen.edits.Edit, ...])   # byte offsets into that file

``select``/``ignore`` take codes or prefixes (``NG3``); ``RULES`` maps each code to its rule.
"""

from __future__ import annotations

from nixgen.checks.fixing import FixResult, apply_fixes, fix_edits, fix_paths
from nixgen.checks.model import RULES, Finding, Fix, Rule
from nixgen.checks.runner import Workspace, check_document, check_paths, check_source

__all__ = [
    "RULES",
    "Finding",
    "Fix",
    "FixResult",
    "Rule",
    "Workspace",
    "apply_fixes",
    "check_document",
    "check_paths",
    "check_source",
    "fix_edits",
    "fix_paths",
]
