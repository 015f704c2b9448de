"""Proof of erasure (and of rectification).

Two checks, both set-based:

1. *Applied*: every journaled step is read back by primary-key chunks -- the
   deleted rows are gone, the updated cells hold exactly the planned values. A
   DELETE whose row count (recorded in the journal) equals its planned rows is
   its own evidence: the store deleted exactly those rows, so they are not read
   back (a row inserted again since, under the same key, is the re-walk's to find).
2. *Nothing left*: the access walk runs again for each subject (from their
   identities and their known person keys, so rows whose identities were
   erased are still found through their references) and the planner is asked
   what it would still change. For an erasure that must be nothing: the
   residual personal data of the erased categories is zero, except what a
   retention exception keeps, which the proof lists with the exception.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keepword.requests.erase import ChangePlan
from keepword.requests.ops import Op
from keepword.requests.plan import Plan, Table, canon
from keepword.requests.walk import PK, Connections, Walker


@dataclass
class Proof:
    ok: bool
    steps_checked: int
    unapplied: list[dict[str, Any]] = field(default_factory=list)
    residual: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    queries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps_checked": self.steps_checked, "unapplied": self.unapplied,
                "residual": self.residual, "kept": self.kept}


def unapplied(conns: Connections, plan: Plan, ops: Sequence[Op]) -> list[dict[str, Any]]:
    """Steps whose effect is not (or no longer) in the store."""
    expected: dict[Table, dict[PK, dict[str, Any] | None]] = defaultdict(dict)
    for op in ops:
        target = expected[op.table]
        if op.kind == "delete":
            if op.affected != len(op.keys):
                target.update(dict.fromkeys(op.keys))
            continue
        for (_, pk, col), value in op.cells():
            current = target.setdefault(pk, {})
            if current is not None:
                current[col] = value
    problems: dict[tuple[str, str], int] = defaultdict(int)
    walker = Walker(plan, conns)
    for table, by_pk in expected.items():
        if not by_pk:
            continue
        cp = plan[table]
        found = dict(walker.select_rows(cp, "*pk", [cp.pk_param(pk) for pk in by_pk]))
        for pk, want in by_pk.items():
            for problem in _mismatch(found.get(pk), want):
                problems[(cp.name, problem)] += 1
    return [{"collection": c, "problem": p, "rows": n} for (c, p), n in sorted(problems.items())]


def _mismatch(row: dict[str, Any] | None, want: dict[str, Any] | None) -> list[str]:
    if want is None:
        return [] if row is None else ["row still present"]
    if row is None:
        return []  # deleted later in the same batch (another request's op)
    return [f"{col} not as planned" for col, value in want.items()
            if canon(row[col]) != canon(value)]


def residual(replan: ChangePlan, key: str) -> list[dict[str, Any]]:
    """What the planner would still change for one subject: personal data left."""
    out = replan.outcomes.get(key)
    if out is None:
        return []
    items = [{"collection": c, "rows": n, "left": "rows to delete"}
             for c, n in sorted(out.deleted.items())]
    items += [{"collection": c, "rows": n, "left": "fields to erase"}
              for c, n in sorted(out.updated.items())]
    return items


def residual_by_request(replan: ChangePlan) -> dict[str, list[dict[str, Any]]]:
    """``residual`` of every subject that has some (the others: none)."""
    return {key: left for key in replan.outcomes if (left := residual(replan, key))}


def done_cells(ops: Sequence[Op]) -> Mapping[tuple[Table, PK, str], Any]:
    return {cell: value for op in ops for cell, value in op.cells()}
