"""The one error hierarchy of nixgen: every failure a user can meet is a NixgenError.

Each error carries a message a user can act on and, where it applies, the file, line and
column it is about. ``str(err)`` is the one-line form printed by the command line:
``file:line:col: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column (column counted in characters)."""

    file: str | None
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class NixgenError(Exception):
    """Base of every error nixgen reports to a user."""

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.col = col

    @property
    def location(self) -> Location | None:
        if self.file is None and self.line is None:
            return None
        return Location(self.file, self.line, self.col)

    def __str__(self) -> str:
        loc = self.location
        return f"{loc}: {self.message}" if loc else self.message


class NixSyntaxError(NixgenError):
    """The source is not valid Nix. ``source_line`` holds the offending line's text."""

    def __init__(self, message: str, *, source_line: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.source_line = source_line


class EditError(NixgenError):
    """An edit cannot be made (or would produce invalid Nix) and was refused."""


class ValidationError(NixgenError):
    """User input (a name, a port, an address, a key, an option) is not acceptable."""


class FileError(NixgenError):
    """A file is missing, unreadable, not text, or cannot be written."""


class ConflictError(FileError):
    """A file changed on disk between the moment nixgen read it and the moment it would write."""


class NixCommandError(NixgenError):
    """A Nix command failed. Keeps the argv, the exit code (or signal) and Nix's own message."""

    def __init__(
        self,
        message: str,
        *,
        argv: list[str] | None = None,
        returncode: int | None = None,
        signal: int | None = None,
        stderr: str = "",
        trace: str = "",
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.argv = argv or []
        self.returncode = returncode
        self.signal = signal
        self.stderr = stderr
        self.trace = trace  # Nix's whole report, when it was asked for (--show-trace)


class NixNotFoundError(NixCommandError):
    """The Nix binaries are not installed."""


class UsageError(NixgenError):
    """The command was called with arguments that do not fit together."""

    exit_code = 2
