"""Errors keepword raises on purpose.

Every error a user can cause carries where it happened (file, line, column,
field path) and never the offending *value*: values may be personal data.
Faces turn these into exit code 2 / HTTP 4xx with the message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where a problem sits: a file, a line and column (1-based), a field path."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: tuple[str | int, ...] = ()

    def field_path(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        fp = self.field_path()
        return f"{where}: {fp}" if fp else where


@dataclass(frozen=True)
class Problem:
    """One located finding. ``severity`` is ``error`` or ``warning``."""

    message: str
    location: Location = field(default_factory=Location)
    code: str = "invalid"
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "field": loc.field_path() or None,
        }


class KeepwordError(Exception):
    """Base of every error keepword raises deliberately."""

    exit_code = 1


class InputError(KeepwordError):
    """Bad input a user can fix: one or more located problems. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems: list[Problem] = (
            [problems] if isinstance(problems, Problem) else list(problems)
        )
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, message: str, file: str | Path | None = None, **loc: object) -> InputError:
        location = Location(file=str(file) if file is not None else None, **loc)  # type: ignore[arg-type]
        return cls(Problem(message, location))


class NotFoundError(KeepwordError):
    """A named thing (request, purpose, store...) does not exist. Exit code 2."""

    exit_code = 2


class StoreError(KeepwordError):
    """A data store cannot be reached or answered with an error.

    The message names the store, never its URL (URLs may hold credentials).
    """

    exit_code = 3

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"store {store!r}: {reason}")


def driver_error(exc: BaseException) -> str:
    """The class name of the driver error behind a SQLAlchemy error: safe to show,
    unlike its message, which may quote SQL parameters or connection details."""
    return type(getattr(exc, "orig", None) or exc).__name__


def raise_if_errors(problems: Iterable[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
