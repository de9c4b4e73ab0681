"""Questions asked of a NixOS evaluation: where NixOS is, an option's value, which dialects exist.

Every question goes through a helper in ``nixgen/nixexprs`` with its inputs as JSON. The answer
to "which container dialects does this NixOS declare" is cached on disk (in
``$NIXGEN_CACHE_DIR`` or ``$XDG_CACHE_HOME/nixgen``), keyed by the search path and by the
resolved NixOS directory and its modification times.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nixgen.errors import NixCommandError, NixNotFoundError

if TYPE_CHECKING:
    from nixgen.nix import Nix

DEFAULT_LOOKUPS = ("<nixpkgs/nixos>", "<nixos>")
CACHE_FILE = "dialects.json"
CACHE_VERSION = 1
_NOT_FOUND = (
    "cannot find NixOS on the Nix search path (tried <nixpkgs/nixos> and <nixos>): "
    "set -I nixos=/path/to/nixos (or -I nixpkgs=/path/to/nixpkgs), or pass --nixos PATH"
)


def _is_lookup(spec: str) -> bool:
    return spec.startswith("<") and spec.endswith(">") and len(spec) > 2


def _spec(nixos: str) -> str:
    """``<lookup>`` unchanged; a path made absolute (``~`` expanded)."""
    if _is_lookup(nixos):
        return nixos
    return os.path.abspath(os.path.expanduser(nixos))


def locate(nix: Nix, specs: Sequence[str]) -> list[str | None]:
    """Resolve ``<lookup>`` specs on the search path (one Nix process); paths as they are."""
    lookups = [s[1:-1] for s in specs if _is_lookup(s)]
    found = iter(nix.eval_helper("nixos-find", names=lookups) if lookups else [])
    result: list[str | None] = []
    for s in specs:
        if _is_lookup(s):
            value = next(found)
            result.append(value if isinstance(value, str) else None)
        else:
            result.append(_spec(s) if os.path.exists(_spec(s)) else None)
    return result


def resolve_nixos(nix: Nix, nixos: str | None = None) -> str:
    """The NixOS to use: ``nixos`` if given, else ``<nixpkgs/nixos>`` if it resolves, else
    ``<nixos>``. Relative paths are made absolute. NixCommandError saying which ``-I`` to set
    when nothing resolves.
    """
    if nixos:
        return _spec(nixos)
    return _find_nixos(nix, None)[0]


def _resolved_path(nix: Nix, spec: str) -> str:
    path = locate(nix, [spec])[0]
    if path is None:
        if _is_lookup(spec):
            raise NixCommandError(
                f"{spec} is not on the Nix search path: set -I {spec[1:-1].split('/')[0]}=PATH"
            )
        raise NixCommandError(f"NixOS not found at {spec}: no such file or directory",
                              file=spec)
    return path


def _find_nixos(nix: Nix, nixos: str | None) -> tuple[str, str]:
    """``(spec, resolved path)`` as :func:`resolve_nixos` chooses, in at most one Nix process."""
    if nixos:
        spec = _spec(nixos)
        return spec, _resolved_path(nix, spec)
    for spec, path in zip(DEFAULT_LOOKUPS, locate(nix, DEFAULT_LOOKUPS), strict=True):
        if path is not None:
            return spec, path
    raise NixCommandError(_NOT_FOUND)


def option_value(
    config: str | os.PathLike[str],
    path: Sequence[str],
    *,
    nix: Nix,
    nixos: str | None = None,
) -> object:
    """The evaluated value of option ``path`` of the configuration in ``config``.

    ``config.PATH`` of NixOS with ``nixos-config = config``: values from other modules,
    defaults and ``mkIf`` are all resolved by Nix. Functions come back as
    ``nixgen.nix.LAMBDA``, derivations as their output path.
    """
    spec = resolve_nixos(nix, nixos)
    config_path = os.path.abspath(os.fspath(config))
    if not os.path.exists(config_path):
        raise NixCommandError(f"configuration not found: {config_path}", file=config_path)
    try:
        from nixgen.nix import decode_printable

        return decode_printable(nix.eval_helper("nixos-option", nixos=spec,
                                                configuration=config_path, path=list(path)))
    except NixNotFoundError:
        raise
    except NixCommandError as err:
        from nixgen.attrpath import format_path

        option = format_path(tuple(path))
        named = option in err.message or ".".join(path) in err.message
        if err.file is not None or err.signal is not None or named:
            raise
        # Nix 2.8 says only `error: MESSAGE` for a throw: name what was being evaluated
        raise NixCommandError(
            f"evaluating {option}: {err.message}",
            argv=err.argv,
            returncode=err.returncode,
            signal=err.signal,
            stderr=err.stderr,
            file=os.fspath(config),
        ) from None


def cache_dir() -> Path:
    """Where nixgen keeps cached answers: ``$NIXGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/nixgen``."""
    explicit = os.environ.get("NIXGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nixgen"


def _mtimes(path: str) -> list[int]:
    """Modification times of ``path`` and the files directly inside it (cheap, no recursion)."""
    times: list[int] = []
    with contextlib.suppress(OSError):
        times.append(os.stat(path).st_mtime_ns)
    if os.path.isdir(path):
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                with contextlib.suppress(OSError):
                    times.append(entry.stat().st_mtime_ns)
    return times


def _cache_key(nix: Nix, spec: str, resolved: str) -> str:
    import hashlib

    material = {
        "version": CACHE_VERSION,
        "search_path": nix.search_path,
        "nix_path": os.environ.get("NIX_PATH", ""),
        "spec": spec,
        "resolved": resolved,
        "mtimes": _mtimes(resolved),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _read_cache(file: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(file: Path, data: dict[str, list[str]]) -> None:
    """Write atomically; a cache that cannot be written is silently skipped."""
    import tempfile

    with contextlib.suppress(OSError):
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".dialects.", dir=file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, sort_keys=True)
            os.replace(tmp, file)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def declared_dialects(nix: Nix, nixos: str | None = None, *, use_cache: bool = True) -> set[str]:
    """Which container dialects the NixOS declares: a subset of ``{"legacy", "modern"}``.

    ``legacy`` when it declares ``systemd.containers``, ``modern`` when it declares
    ``containers``. Raises NixCommandError when Nix or NixOS cannot be found.
    """
    spec, resolved = _find_nixos(nix, nixos)
    file = cache_dir() / CACHE_FILE
    key = _cache_key(nix, spec, resolved)
    if use_cache:
        cached = _read_cache(file).get(key)
        if isinstance(cached, list):
            return {d for d in cached if d in ("legacy", "modern")}
    answer = nix.eval_helper("nixos-dialects", nixos=resolved)
    found = {name for name in ("legacy", "modern")
             if isinstance(answer, dict) and answer.get(name) is True}
    if use_cache:
        data = _read_cache(file)
        data[key] = sorted(found)
        _write_cache(file, data)
    return found


DETECT_FILE = "detect.json"
_DETECT_LIMIT = 64
_DEFAULT_SEARCH_DIRS = (
    "~/.nix-defexpr/channels",
    "/nix/var/nix/profiles/per-user/root/channels",
    "/nix/var/nix/profiles/per-user/root/channels/nixpkgs",
)


def _stamp(path: str) -> list[int] | None:
    """What says a search-path entry changed: its own and its target's mtime, or None."""
    try:
        link = os.lstat(path).st_mtime_ns
    except OSError:
        return None
    try:
        return [link, os.stat(path).st_mtime_ns]
    except OSError:
        return [link]


def _search_fingerprint(search_path: Sequence[str], options: Sequence[tuple[str, str]],
                        environ: Mapping[str, str], nixos: str | None) -> str:
    """A key for "what would the search path resolve to" that needs no Nix process: the
    search path as given (``-I``, ``NIX_PATH``, options, Nix's configuration files) and the
    modification times of every directory it names and of Nix's default channel directories.
    The key is the JSON text itself (no hashing library to load on the fast path)."""
    entries = list(search_path) + [e for e in environ.get("NIX_PATH", "").split(":") if e]
    paths: list[str] = []
    for entry in entries:
        value = os.path.expanduser(entry.split("=", 1)[1] if "=" in entry else entry)
        if "://" in value or value.startswith(("channel", "//")):
            continue
        paths += [value, os.path.join(value, "nixos"), os.path.join(value, "nixpkgs"),
                  os.path.join(value, "nixpkgs", "nixos")]
    paths += [os.path.expanduser(p) for p in _DEFAULT_SEARCH_DIRS]
    conf_dir = environ.get("NIX_CONF_DIR", "/etc/nix")
    xdg = environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    paths += [os.path.join(conf_dir, "nix.conf"), os.path.join(xdg, "nix", "nix.conf")]
    if nixos and not _is_lookup(nixos):
        paths.append(_spec(nixos))
    material = {
        "version": CACHE_VERSION,
        "nixos": nixos,
        "entries": entries,
        "options": [list(o) for o in options],
        "user_conf": environ.get("NIX_USER_CONF_FILES", ""),
        "stamps": [(p, _stamp(p)) for p in paths],
    }
    return json.dumps(material, sort_keys=True, separators=(",", ":"))


def _cached_detection(file: Path, key: str) -> tuple[set[str] | None, str] | None:
    entry = _read_cache(file).get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("why"), str):
        return None
    resolved = entry.get("resolved")
    if isinstance(resolved, str) and entry.get("mtimes") != _mtimes(resolved):
        return None  # the NixOS itself changed: ask again
    found = entry.get("dialects")
    if found is None:
        return None, entry["why"]
    if not isinstance(found, list):
        return None
    return {d for d in found if d in ("legacy", "modern")}, entry["why"]


def _store_detection(file: Path, key: str, found: set[str] | None, why: str,
                     resolved: str | None) -> None:
    data = _read_cache(file)
    data.pop(key, None)
    data[key] = {
        "dialects": sorted(found) if found is not None else None,
        "why": why,
        "resolved": resolved,
        "mtimes": _mtimes(resolved) if resolved else None,
    }
    while len(data) > _DETECT_LIMIT:
        data.pop(next(iter(data)))
    _write_cache(file, data)  # type: ignore[arg-type]


def detect_dialects(nix: Nix | None = None, nixos: str | None = None, *,
                    search_path: Sequence[str] = (),
                    use_cache: bool = True) -> tuple[set[str] | None, str]:
    """``declared_dialects`` for ``--dialect auto``, never failing: (dialects or None, why).

    None when Nix is not installed, NixOS is not on the search path, or evaluating its
    options fails; the reason says which, so that a caller can fall back to its file-based
    rule and say why with ``--verbose``.

    The answer, "not found" included, is cached on disk keyed by the search path and the
    modification times of what it names (see :func:`_search_fingerprint`), so that asking
    again costs no Nix process until something there changes. Without ``nix``, a runner with
    ``search_path`` is made only when the cache cannot answer (nixgen.nix is not even loaded).
    """
    file = cache_dir() / DETECT_FILE
    if nix is not None:
        key = _search_fingerprint(nix.search_path, nix.options, nix.env or os.environ, nixos)
    else:
        key = _search_fingerprint(search_path, (), os.environ, nixos)
    if use_cache:
        cached = _cached_detection(file, key)
        if cached is not None:
            return cached
    if nix is None:
        from nixgen.nix import Nix

        nix = Nix(search_path=search_path)
    resolved: str | None = None
    try:
        spec, resolved = _find_nixos(nix, nixos)
        found = declared_dialects(nix, resolved, use_cache=use_cache)
    except NixNotFoundError:
        return None, "Nix is not installed"
    except NixCommandError as err:
        why = f"could not ask NixOS: {err}"
        if use_cache and resolved is None and err.signal is None:
            _store_detection(file, key, None, why, None)  # nothing found: same until the path changes
        return None, why
    names = {"legacy": "systemd.containers", "modern": "containers"}
    declared = " and ".join(names[d] for d in sorted(found)) or "neither containers option"
    why = f"the NixOS at {spec} declares {declared}"
    if use_cache:
        _store_detection(file, key, found, why, resolved)
    return found, why
