"""The ``nixgen gen`` command: a JSON, TOML or YAML file (or standard input) as a Nix expression."""

from __future__ import annotations

import sys

import typer

from nixgen.cli.app import app


@app.command("gen")
def gen(
    source: str = typer.Argument(
        "-", metavar="[FILE|-]", help="The data file to convert; '-' (the default) reads stdin."
    ),
    from_: str | None = typer.Option(
        None,
        "--from",
        metavar="json|toml|yaml",
        help="The input format (default: from the file extension; json for stdin).",
    ),
) -> None:
    """Print the Nix expression for a data file: `nixgen gen settings.json > settings.nix`."""
    from pathlib import Path

    from nixgen.errors import FileError, UsageError, ValidationError
    from nixgen.gen import FORMATS, data_to_nix, format_for

    fmt = from_.lower() if from_ else None
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--from must be one of {', '.join(FORMATS)}, not {from_!r}")
    if source == "-":
        name = "<stdin>"
        raw = sys.stdin.buffer.read()
        fmt = fmt or "json"
    else:
        from nixgen.files import read_snapshot

        name = source
        raw = read_snapshot(Path(source)).data  # a missing file is said before its format
        if fmt is None:
            fmt = format_for(source)
            if fmt is None:
                raise UsageError(
                    f"cannot tell the format of {source} from its name; pass --from json|toml|yaml"
                )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(f"not UTF-8 text (byte {exc.start})", file=name) from None
    if "\0" in text:
        raise ValidationError("contains a NUL byte: not a text file", file=name)
    sys.stdout.write(data_to_nix(text, fmt, file=name))
