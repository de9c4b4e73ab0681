"""Data files (JSON, TOML, YAML) to Nix expressions, through the emitter.

``data_to_nix(text, "yaml")`` parses the data and returns Nix source that evaluates to the same
value. Dates and times become strings (ISO 8601), mapping keys become strings the way JSON
writes them; what Nix cannot hold (NaN, infinities, integers beyond 64 bits, binary data, NUL
characters) is refused with a ``ValidationError`` naming the place when the parser knows it.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from nixgen.emit import to_nix
from nixgen.errors import UsageError, ValidationError

Format = Literal["json", "toml", "yaml"]
FORMATS: tuple[str, ...] = ("json", "toml", "yaml")
EXTENSIONS: dict[str, str] = {".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def format_for(filename: str) -> str | None:
    """The data format a file name's extension names, or None."""
    lower = filename.lower()
    for ext, fmt in EXTENSIONS.items():
        if lower.endswith(ext):
            return fmt
    return None


def _key(key: object, where: str, file: str | None) -> str:
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return json.dumps(key)
    if isinstance(key, _dt.date | _dt.time):
        return key.isoformat()
    raise ValidationError(
        f"{where}: a mapping key must be a string, number, boolean or null, "
        f"not {type(key).__name__} {key!r}",
        file=file,
    )


def _plain(value: Any, where: str, file: str | None, stack: set[int] | None = None) -> Any:
    """Data as emitter input: dates to strings, keys to strings; refuse other types."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, _dt.date | _dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple | Mapping):
        stack = set() if stack is None else stack
        if id(value) in stack:
            raise ValidationError(
                f"{where or 'the document'}: the data contains itself (a recursive alias)",
                file=file,
            )
        stack.add(id(value))
        try:
            if not isinstance(value, Mapping):
                return [_plain(v, f"{where}[{i}]", file, stack) for i, v in enumerate(value)]
            out: dict[str, Any] = {}
            for k, v in value.items():
                name = _key(k, where, file)
                if name in out:
                    raise ValidationError(f"{where}: the key {name!r} occurs twice", file=file)
                out[name] = _plain(v, f"{where}.{name}" if where else name, file, stack)
            return out
        finally:
            stack.discard(id(value))
    raise ValidationError(
        f"{where or 'the document'}: {type(value).__name__} values have no Nix equivalent",
        file=file,
    )


def _load_json(text: str, file: str | None) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValidationError(f"invalid JSON: the key {key!r} occurs twice", file=file)
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, col=exc.colno
        ) from None
    except RecursionError:
        raise ValidationError("invalid JSON: nested too deeply", file=file) from None


def _load_toml(text: str, file: str | None) -> Any:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        line = col = None
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        raise ValidationError(f"invalid TOML: {message}", file=file, line=line, col=col) from None


def _yaml_loader(file: str | None) -> type:
    """A safe YAML loader whose mappings have string keys and refuse duplicate keys.

    PyYAML keeps the last of two equal keys silently, and Python merges ``true`` with ``1``;
    here both are errors pointing at the second key. Merge keys (``<<``) still work.
    """
    import yaml

    merge_tag = "tag:yaml.org,2002:merge"

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        own: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == merge_tag:
                continue
            mark = key_node.start_mark
            key = loader.construct_object(key_node, deep=True)
            try:
                name = _key(key, "", file)
            except ValidationError as err:
                raise ValidationError(
                    err.message.lstrip(": "), file=file, line=mark.line + 1, col=mark.column + 1
                ) from None
            if name in own:
                raise ValidationError(
                    f"the key {name!r} occurs twice in this mapping",
                    file=file, line=mark.line + 1, col=mark.column + 1,
                )
            own.add(name)
        loader.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            mapping[_key(key, "", file)] = loader.construct_object(value_node, deep=deep)
        return mapping

    return type("NixgenYamlLoader", (yaml.SafeLoader,), {"construct_mapping": construct_mapping})


def _load_yaml(text: str, file: str | None) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader(file))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot parse"
        raise ValidationError(
            f"invalid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ValidationError("invalid YAML: nested too deeply", file=file) from None


def load_data(text: str, fmt: str, *, file: str | None = None) -> Any:
    """Parse ``text`` as ``fmt`` ("json", "toml" or "yaml") into plain Python data."""
    loaders = {"json": _load_json, "toml": _load_toml, "yaml": _load_yaml}
    loader = loaders.get(fmt)
    if loader is None:
        raise UsageError(f"unknown data format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return _plain(loader(text, file), "", file)


def data_to_nix(
    text: str,
    fmt: str,
    *,
    file: str | None = None,
    indent: str = "  ",
    width: int = 80,
) -> str:
    """``text`` in format ``fmt`` as the source of a Nix file (ending with a newline)."""
    value = load_data(text, fmt, file=file)
    try:
        return to_nix(value, indent=indent, width=width) + "\n"
    except ValueError as exc:
        raise ValidationError(f"cannot be written as Nix: {exc}", file=file) from None
    except RecursionError:
        raise ValidationError("cannot be written as Nix: nested too deeply", file=file) from None
