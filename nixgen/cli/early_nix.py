"""Start the Nix process a command line will need before typer and the command are loaded.

``nixgen check-syntax FILE…`` ends in one ``nix-instantiate --parse FILE…``. Loading Python,
typer and the command takes about as long as Nix takes to parse a thousand files, so the
parse is started first and runs alongside the loading; the command then adopts the running
process (see :mod:`nixgen.nix_process`). The command line is only read here, never
acted on: anything this reader does not fully understand starts nothing, and typer remains
the judge of what the command line means. A process started here that the command does not
adopt, because its own argv differs, is stopped on the way out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

# check-syntax's options that take values, and how many.
_VALUE_OPTIONS = {"-I": 1, "--option": 2}


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files as given; directories become the ``*.nix`` files below them, sorted."""
    result: list[str] = []
    for name in paths:
        if os.path.isdir(name):
            for root, dirs, names in os.walk(name):
                dirs.sort()
                result.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".nix"))
        else:
            result.append(name)
    return result


def _check_syntax_words(args: Sequence[str]) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(paths, -I entries, --option pairs) of check-syntax's arguments; ValueError if unsure."""
    paths: list[str] = []
    include: list[str] = []
    options: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            paths.extend(args[i + 1:])
            break
        if word in _VALUE_OPTIONS:
            values = args[i + 1:i + 1 + _VALUE_OPTIONS[word]]
            if len(values) != _VALUE_OPTIONS[word]:
                raise ValueError(word)
            if word == "-I":
                include.append(values[0])
            else:
                options.append((values[0], values[1]))
            i += 1 + len(values)
            continue
        if word == "--nix":
            i += 1
            continue
        if word.startswith("-"):
            raise ValueError(word)
        paths.append(word)
        i += 1
    if not paths:
        raise ValueError("no paths")
    return paths, include, options


def start(args: Sequence[str]) -> bool:
    """Start the Nix command ``nixgen ARGS`` is known to run first; True if one was started."""
    if not args or args[0] != "check-syntax":
        return False
    try:
        paths, include, options = _check_syntax_words(args[1:])
    except ValueError:
        return False
    from nixgen.nix_process import argv_room, argv_size, parse_argv, start_early

    # A name ending in .nix is taken for a file without asking the file system (a thousand
    # stat calls would delay the start); should it be a directory after all, the command's
    # own argv differs from this one, and the process started here is simply not adopted.
    files = paths if all(p.endswith(".nix") for p in paths) else expand_paths(paths)
    if not files:  # an empty directory: the command says so, Nix has nothing to do
        return False
    argv = parse_argv(files, search_path=include, options=options)
    if argv_size(argv) > argv_room():  # the command will split the files among processes
        return False
    return start_early(argv)
