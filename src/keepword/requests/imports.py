"""Requests imported from a CSV file: one subject a row, one identity type a column.

A privacy team's helpdesk exports its tickets; ``keepword requests import`` records
them as requests of one kind in one transaction. The header names identity types
of the data map (``email,phone,account_id``); empty cells are skipped. Any problem
refuses the whole file and is located by line and column -- never by the value.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from keepword.deployment import Deployment
from keepword.errors import InputError, Location, Problem
from keepword.requests.lifecycle import Kind
from keepword.requests.plan import compile_plan
from keepword.requests.service import submit_many
from keepword.runtime import Keepword

Subjects = list[list[tuple[str, str]]]


def read_subjects(path: Path, identity_types: set[str]) -> tuple[Subjects, list[list[str]]]:
    """Each row's identities, and the column each came from (to locate problems)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise InputError(Problem(f"cannot open it ({type(exc).__name__})",
                                 Location(file=str(path)), code="no_file")) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(Problem(f"cannot read it as UTF-8 CSV ({type(exc).__name__})",
                                 Location(file=str(path)), code="bad_csv")) from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(Problem("the first line must name identity types (e.g. email,phone)",
                                 Location(file=str(path), line=1), code="no_header"))
    header = [c.strip() for c in rows[0]]
    unknown = [Problem(f"unknown identity type {name!r} (the data map has: "
                       f"{', '.join(sorted(identity_types)) or 'none'})",
                       Location(file=str(path), line=1, column=k + 1), code="unknown_identity")
               for k, name in enumerate(header) if name not in identity_types]
    if unknown:
        raise InputError(unknown)
    subjects: Subjects = []
    columns: list[list[str]] = []
    for row in rows[1:]:
        cells = [(header[k], v.strip()) for k, v in enumerate(row[:len(header)]) if v.strip()]
        subjects.append(cells)
        columns.append([name for name, _ in cells])
    if not subjects:
        raise InputError(Problem("no subjects: the file holds only its header",
                                 Location(file=str(path), line=2), code="no_subjects"))
    return subjects, columns


def import_requests(kw: Keepword, dep: Deployment, kind: Kind, path: Path, *,
                    verified: bool = False, regulation: str = "gdpr",
                    actor: str = "operator") -> list[str]:
    """Record one request per row of ``path``; their ids, in file order."""
    types = compile_plan(dep.datamap, dep.policy.version).identity_types
    subjects, columns = read_subjects(path, types)
    try:
        return submit_many(kw, dep, kind, subjects, regulation=regulation, actor=actor,
                           verified=verified)
    except InputError as exc:
        raise InputError([_located(p, path, columns) for p in exc.problems]) from None


def _located(problem: Problem, path: Path, columns: Sequence[list[str]]) -> Problem:
    """``subjects.N.identity.M`` -> the file's line and the column's identity type."""
    where = problem.location.path
    if len(where) >= 2 and where[0] == "subjects" and isinstance(where[1], int):
        row = where[1]
        field: tuple[str | int, ...] = ()
        if len(where) >= 4 and where[2] == "identity":
            at = where[3]  # the identity's position in the row, or its type
            if isinstance(at, int) and at < len(columns[row]):
                field = (columns[row][at],)
            elif isinstance(at, str):
                field = (at,)
        return replace(problem, location=Location(file=str(path), line=row + 2, path=field))
    return replace(problem, location=replace(problem.location, file=str(path)))


__all__ = ["import_requests", "read_subjects"]
