"""Rectification (Art. 16): new values for the subject's fields, wherever stored.

A change names what to correct: an identity type (``email=...`` updates every
column holding the subject's email, in every table), a data category
(``user.name.last=...``) or one column (``users.last_name``,
``app.users.last_name``). Each new value is validated against the field's
declared type (and normalised, for identities) before anything is stored.
Only the subject's own part of each row changes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from keepword import taxonomy
from keepword.datamap.models import Field_, FieldType
from keepword.errors import InputError, Location, Problem
from keepword.identities import normalise
from keepword.requests.erase import ChangePlan, Outcome, _bump
from keepword.requests.ops import build_ops
from keepword.requests.plan import CollectionPlan, Plan
from keepword.requests.walk import Ref, Role, WalkResult


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """``["email=new@x.org", ...]`` -> ``{"email": "new@x.org"}``."""
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(Problem("expected FIELD=VALUE", Location(path=("set", i)),
                                     code="bad_set"))
        out[key.strip()] = value
    return out


def targets(plan: Plan, key: str) -> list[tuple[CollectionPlan, str]]:
    """The columns a change key designates."""
    out = []
    for cp in plan.collections.values():
        for col, fld in cp.fields.items():
            if col in cp.pk:
                continue
            if (fld.identity == key or key in (f"{cp.key[1]}.{col}", f"{cp.name}.{col}")
                    or any(taxonomy.covers(key, cat) for cat in fld.categories)):
                out.append((cp, col))
    return out


def validate(plan: Plan, changes: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per change key, per column (``dataset.collection.field``), the typed new value."""
    problems: list[Problem] = []
    typed: dict[str, dict[str, Any]] = {}
    for key, raw in changes.items():
        found = targets(plan, key)
        if not found:
            problems.append(Problem(f"{key!r} names no identity type, category or field of "
                                    "the data map", Location(path=("set", key)),
                                    code="unknown_field"))
            continue
        typed[key] = {}
        for cp, col in found:
            try:
                typed[key][f"{cp.name}.{col}"] = convert(cp.fields[col], raw)
            except (ValueError, InputError):
                problems.append(Problem(f"the new value for {cp.name}.{col} is not a valid "
                                        f"{_kind(cp.fields[col])}",
                                        Location(path=("set", key)), code="bad_value"))
    if problems:
        raise InputError(problems)
    return typed


def _kind(fld: Field_) -> str:
    return fld.identity or (fld.type.value if fld.type else "value")


def convert(fld: Field_, raw: str) -> Any:
    """``raw`` as a value of the field's type; ``ValueError``/``InputError`` if it is not one."""
    if fld.identity:
        raw = normalise(fld.identity, raw)
    reader = _READERS.get(fld.type) if fld.type else None
    return reader(raw) if reader else raw


def _boolean(raw: str) -> bool:
    low = raw.strip().lower()
    if low not in {"true", "false", "1", "0", "yes", "no"}:
        raise ValueError("not a boolean")
    return low in {"true", "1", "yes"}


def _no_bytes(raw: str) -> bytes:
    raise ValueError("bytes cannot be given on the command line")


_READERS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.INTEGER: int, FieldType.FLOAT: float, FieldType.BOOLEAN: _boolean,
    FieldType.DATE: date.fromisoformat, FieldType.DATETIME: datetime.fromisoformat,
    FieldType.JSON: json.loads, FieldType.BYTES: _no_bytes,
}


def plan_rectification(walk: WalkResult, typed_by_subject: Mapping[str, Mapping[str, Any]]
                       ) -> ChangePlan:
    """``typed_by_subject``: per subject key, ``{dataset.collection.field: new value}``."""
    cells: dict[Ref, dict[str, Any]] = defaultdict(dict)
    outcomes: dict[str, Outcome] = {}
    for s in walk.subjects:
        if s.problem is not None:
            continue
        wanted = typed_by_subject.get(s.key, {})
        out = outcomes[s.key] = Outcome()
        for cp, pk, row, role in walk.subject_rows(s):
            if role < Role.SHARED:
                continue
            changed = False
            for col in cp.columns:
                new = wanted.get(f"{cp.name}.{col}", _MISSING)
                if new is _MISSING or not s.owns(cp, row, col, role) or row[col] == new:
                    continue
                cells[(cp.key, pk)][col] = new
                changed = True
            if changed:
                _bump(out.updated, cp.name)
    return ChangePlan(build_ops(walk.plan, {}, cells, set()), outcomes)


_MISSING = object()


def flatten(typed: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One value per column (a column named by two keys takes the later one)."""
    out: dict[str, Any] = {}
    for per_col in typed.values():
        out.update(per_col)
    return out
