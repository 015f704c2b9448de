"""Erasure planning: what each field of each of the subject's rows becomes.

Per field, the data map's strategy: ``delete_row``, ``null``, ``hash`` (keyed
pseudonym), ``mask`` or ``keep`` under a retention exception (kept, and the
person is then restricted). Only the subject's part of a row is touched: in a
row shared with others (a message, a call) the other people's columns stay.

A row is deleted when it is the subject's own and a field says ``delete_row``
(or when a link naming the subject cannot be unlinked -- NOT NULL); rows naming
nobody that hang off a deleted row go with it (children first). A row stays,
with its fields erased instead, while anything that stays refers to it: a
reply of someone else to the subject's comment, a call with other
participants, an invoice kept for tax. The planner iterates that to a fixed
point, then groups everything into chunked statements (``ops.build_ops``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keepword.datamap import Erasure
from keepword.datamap.models import FieldType
from keepword.identities import IdentityHasher
from keepword.policy.models import Policy, RetentionException
from keepword.requests.ops import Cell, Op, build_ops
from keepword.requests.plan import CollectionPlan, Edge, Plan, Table
from keepword.requests.walk import NO_UP, PK, Ref, Role, Row, Subject, WalkResult, fast_of

_SKIP = object()
# read per subject and row: a member read through the enum's class costs a Python-level hook
_OWN, _SHARED = Role.OWN, Role.SHARED


@dataclass
class Outcome:
    """What an erasure does (or would do) for one subject."""

    deleted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    kept: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, int] = field(default_factory=dict)  # rows kept for others' parts
    # the subject's rows are exactly those deleted (a person row and its lane): their
    # found counts are ``deleted``; such outcomes are shared between subjects (read-only)
    found_is_deleted: bool = False

    @property
    def empty(self) -> bool:
        return not self.deleted and not self.updated

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "updated": self.updated, "kept": self.kept,
                "kept_for_others": self.shared}


@dataclass
class ChangePlan:
    ops: list[Op]
    outcomes: dict[str, Outcome]

    def steps(self) -> list[dict[str, Any]]:
        return [{"collection": f"{op.table[0]}.{op.table[1]}", "op": op.kind, "rows": op.count,
                 "fields": sorted(op.values or (op.rows[0][1] if op.rows else {}))}
                for op in self.ops]


def exceptions_of(policy: Policy) -> dict[str, RetentionException]:
    return {exc.id: exc for rule in policy.retention for exc in rule.exceptions}


@dataclass
class _RowPlan:
    cells: dict[str, Any]
    drop: list[str]  # delete_row fields (degraded to null/mask if the row stays)
    kept: list[str]
    candidate: bool


@dataclass
class _Static:
    """A collection's plan for the subject's own rows, when every changeable column is
    the row's (no column names someone else, none belongs to another column): the same
    for each such row but for the values the new ones are compared with."""

    drop: list[str]
    kept: list[str]
    valued: list[tuple[str, Erasure]]  # columns whose target depends on the row's value
    plan: _RowPlan | None  # the row plan itself when nothing depends on the values


class _Planner:
    def __init__(self, walk: WalkResult, policy: Policy, hasher: IdentityHasher,
                 done: Mapping[Cell, Any]) -> None:
        self.walk = walk
        self.exceptions = exceptions_of(policy)
        self.hasher = hasher
        self.done = done
        self.deletes: dict[Ref, int] = {}  # row -> layer (self-references: leaves first)
        self.cells: dict[Ref, dict[str, Any]] = defaultdict(dict)
        self.per_row: set[Cell] = set()
        self._static: dict[Table, _Static | None] = {}
        self._shapes: dict[tuple[Any, ...], Outcome] = {}  # outcomes of simple subjects
        self._sure_of: dict[Table, bool] = {}
        self._names = {t: cp.name for t, cp in walk.plan.collections.items()}
        self._self_ref = {cp.key for cp in walk.plan.collections.values()
                          if any(e.child == cp.key for e in cp.down)}

    def subject(self, s: Subject) -> Outcome:
        simple = self._simple(s)
        if simple is not None:
            return simple
        plans = self._plans(s)
        deletable = self._deletable(s, plans)
        out = Outcome()
        collections, names = self.walk.plan.collections, self._names
        for ref, rp in plans.items():
            table = ref[0]
            name = names[table]
            if rp.kept:
                self._outcome_kept(out, collections[table], rp)
            if ref in deletable:
                layer = _layer(s, ref, deletable, set()) if table in self._self_ref else 0
                if layer or ref not in self.deletes:
                    self.deletes[ref] = max(self.deletes.get(ref, 0), layer)
                out.deleted[name] = out.deleted.get(name, 0) + 1
                continue
            self._stays(out, collections[table], ref, rp)
        for table, n in s.lane.items():  # whole rows of the subject's own: all go
            out.deleted[names[table]] = out.deleted.get(names[table], 0) + n
        return out

    def _simple(self, s: Subject) -> Outcome | None:
        """A subject found as one person row (deleted whole, nothing kept) and the lane
        below it: what ``subject`` would plan, without a row plan or a cascade, and one
        ``Outcome`` shared by every such subject with the same counts (read-only)."""
        if len(s.rows) != 1 or s.children:
            return None
        ((table, by_pk),) = s.rows.items()
        if len(by_pk) != 1:
            return None
        ((pk, role),) = by_pk.items()
        if role is not _OWN:
            return None
        cp = self.walk.plan.collections[table]
        if not self._sure(cp) and not self._row(s, cp, pk, self.walk.rows[table][pk],
                                                role).candidate:
            return None  # (a candidate keeps nothing)
        ref = (table, pk)
        if ref not in self.deletes:
            self.deletes[ref] = 0
        shape = (table, tuple(s.lane.items()))
        out = self._shapes.get(shape)
        if out is None:
            names = self._names
            deleted = {names[table]: 1}
            for below, n in shape[1]:
                deleted[names[below]] = deleted.get(names[below], 0) + n
            out = self._shapes[shape] = Outcome(deleted=deleted, found_is_deleted=True)
        return out

    def _sure(self, cp: CollectionPlan) -> bool:
        """Is every own row of ``cp`` a candidate, whatever its values (what ``_row`` would
        say, asked once per collection)? Nothing in it can be kept under an exception,
        and a column that is the subject's in any own row (no owner, naming no one) goes
        with the row."""
        sure = self._sure_of.get(cp.key)
        if sure is None:
            kept = drop = False
            for col, strategy in cp.strategies:
                if strategy is Erasure.KEEP:
                    exc = self.exceptions.get(cp.fields[col].exception or "")
                    kept = kept or exc is None or exc.applies_to_erasure
                elif (strategy is Erasure.DELETE_ROW and cp.owner[col] is None
                      and col not in cp.naming):
                    drop = True
            sure = self._sure_of[cp.key] = drop and not kept
        return sure

    def _plans(self, s: Subject) -> dict[Ref, _RowPlan]:
        """Each own or shared row's plan; one lookup per table, not per row."""
        plans: dict[Ref, _RowPlan] = {}
        for table, by_pk in s.rows.items():
            cp = self.walk.plan.collections[table]
            cache = self.walk.rows[table]
            static = self._static.get(table, _SKIP)
            if static is _SKIP:
                static = self._static[table] = self._static_of(cp)
            shared = static.plan if isinstance(static, _Static) else None
            for pk, role in by_pk.items():
                if role is _OWN and shared is not None:
                    plans[(table, pk)] = shared
                elif role >= _SHARED:
                    plans[(table, pk)] = self._row(s, cp, pk, cache[pk], role)
        return plans

    def _stays(self, out: Outcome, cp: CollectionPlan, ref: Ref, rp: _RowPlan) -> None:
        """A row that is not deleted: its planned cells, and its delete_row fields erased."""
        cells = dict(rp.cells)
        row = self.walk.rows[ref[0]][ref[1]]
        for col in rp.drop:
            target = self._degrade(cp, col)
            if target is not _SKIP and not self._no_op(cp, ref[1], col, row[col], target):
                cells[col] = target
        if rp.candidate:
            _bump(out.shared, cp.name)
        if cells:
            self.cells[ref].update(cells)
            _bump(out.updated, cp.name)

    def _row(self, s: Subject, cp: CollectionPlan, pk: PK, row: Row, role: Role) -> _RowPlan:
        if role is _OWN:
            static = self._static.get(cp.key, _SKIP)
            if static is _SKIP:
                static = self._static[cp.key] = self._static_of(cp)
            if isinstance(static, _Static):
                return static.plan or self._valued(static, cp, pk, row)
        rp = _RowPlan({}, [], [], False)
        link_drop = False
        for col, declared in cp.strategies:
            if not s.owns(cp, row, col, role):
                continue
            strategy = declared
            if strategy is Erasure.KEEP:
                exc = self.exceptions.get(cp.fields[col].exception or "")
                if exc is None or exc.applies_to_erasure:
                    rp.kept.append(col)
                    continue
                strategy = Erasure.NULL
            if strategy is Erasure.DELETE_ROW:
                rp.drop.append(col)
                link_drop = link_drop or (col in cp.refs and col in cp.naming)
                continue
            target = self._target(cp, pk, col, strategy, row[col])
            if target is not _SKIP and not self._no_op(cp, pk, col, row[col], target):
                rp.cells[col] = target
        rp.candidate = not rp.kept and bool(rp.drop) and (role is _OWN or link_drop)
        return rp

    def _static_of(self, cp: CollectionPlan) -> _Static | None:
        return static_of(cp, self.exceptions)

    def _valued(self, static: _Static, cp: CollectionPlan, pk: PK, row: Row) -> _RowPlan:
        cells: dict[str, Any] = {}
        for col, strategy in static.valued:
            target = self._target(cp, pk, col, strategy, row[col])
            if target is not _SKIP and not self._no_op(cp, pk, col, row[col], target):
                cells[col] = target
        return _RowPlan(cells, static.drop, static.kept, not static.kept and bool(static.drop))

    def _target(self, cp: CollectionPlan, pk: PK, col: str, strategy: Erasure,
                value: Any) -> Any:
        if strategy is Erasure.HASH:
            if value is None:
                return _SKIP
            if self.done.get((cp.key, pk, col), _SKIP) == value:
                return _SKIP  # already this request's pseudonym
            self.per_row.add((cp.key, pk, col))
            digest = self.hasher.pseudonym(str(value))
            return int(digest[:13], 16) if cp.fields[col].type is FieldType.INTEGER else digest
        if strategy is Erasure.MASK:
            return cp.mask(col)
        if col in cp.refs and not cp.nullable(col):
            return _SKIP  # a NOT NULL link cannot be emptied
        return None if cp.nullable(col) else cp.mask(col)

    def _degrade(self, cp: CollectionPlan, col: str) -> Any:
        if col in cp.pk:
            return _SKIP
        if col in cp.refs:
            return None if cp.nullable(col) else _SKIP
        return None if cp.nullable(col) else cp.mask(col)

    def _no_op(self, cp: CollectionPlan, pk: PK, col: str, value: Any, target: Any) -> bool:
        if (cp.key, pk, col) in self.per_row:
            return False
        return bool(value == target)

    def _deletable(self, s: Subject, plans: Mapping[Ref, _RowPlan]) -> set[Ref]:
        base = {ref for ref, rp in plans.items() if rp.candidate}
        if not s.children:  # no row of theirs hangs off another: nothing cascades or blocks
            return base
        via: dict[Ref, set[Ref]] = defaultdict(set)  # cascaded row -> the rows it hangs off
        queue = list(base)
        while queue:
            parent = queue.pop()
            for table, pk, _ in s.children.get(parent, ()):
                child = (table, pk)
                rp = plans.get(child)
                if rp is None or rp.kept or child in base or not self._names_nobody(child):
                    continue
                if child not in via:
                    queue.append(child)
                via[child].add(parent)
        deletable = base | set(via)
        collections = self.walk.plan.collections

        def unlinked(child: Ref, col: str) -> bool:
            """Does the planned change of ``child`` empty its link ``col``?"""
            rp = plans.get(child)
            return rp is not None and (col in rp.cells or (
                col in rp.drop and col in collections[child[0]].unlinkable))

        changed = True
        while changed:
            changed = False
            for ref in list(deletable):  # the fixed point does not depend on the order
                blocked = any((table, pk) not in deletable and not unlinked((table, pk), col)
                              for table, pk, col in s.children.get(ref, ()))
                if ref not in base and not (via[ref] & deletable):
                    blocked = True
                if blocked:
                    deletable.discard(ref)
                    changed = True
        return deletable

    def _names_nobody(self, ref: Ref) -> bool:
        cp = self.walk.plan[ref[0]]
        row = self.walk.rows[ref[0]][ref[1]]
        return all(row[c] is None for c in cp.naming)

    def _outcome_kept(self, out: Outcome, cp: CollectionPlan, rp: _RowPlan) -> None:
        for col in rp.kept:
            exc_id = cp.fields[col].exception or ""
            entry = next((k for k in out.kept if k["collection"] == cp.name
                          and k["field"] == col), None)
            if entry is None:
                exc = self.exceptions.get(exc_id)
                entry = {"collection": cp.name, "field": col, "exception": exc_id,
                         "ground": exc.ground if exc else None, "declared": exc is not None,
                         "categories": list(cp.fields[col].categories), "rows": 0}
                out.kept.append(entry)
            entry["rows"] += 1


def static_of(cp: CollectionPlan, exceptions: Mapping[str, RetentionException],
              link: str | None = None) -> _Static | None:
    """The collection's plan for the subject's own rows, when it is the same for each.
    ``link``: a column known to name the subject in every row asked about (the lane's
    reference), so a value belonging to it is theirs."""
    drop: list[str] = []
    kept: list[str] = []
    valued: list[tuple[str, Erasure]] = []
    for col, declared in cp.strategies:
        owner = cp.owner[col]
        if (owner is not None and owner != link) or (
                col in cp.naming and (col not in cp.tier or not cp.tier_joint)):
            return None  # whose the value is depends on the row
        strategy = declared
        if strategy is Erasure.KEEP:
            exc = exceptions.get(cp.fields[col].exception or "")
            if exc is None or exc.applies_to_erasure:
                kept.append(col)
                continue
            strategy = Erasure.NULL
        if strategy is Erasure.DELETE_ROW:
            drop.append(col)
        else:
            valued.append((col, strategy))
    static = _Static(drop, kept, valued, None)
    if not valued:
        static.plan = _RowPlan({}, drop, kept, not kept and bool(drop))
    return static


def _goes_whole(cp: CollectionPlan, link: str,
                exceptions: Mapping[str, RetentionException]) -> bool:
    """Is every row of this collection whose ``link`` names the subject deleted whole,
    whatever its values? (Columns whose change depends on the value -- a link to empty,
    a pseudonym -- apply only to rows that stay.)"""
    static = static_of(cp, exceptions, link)
    return static is not None and not static.kept and bool(static.drop)


def lane_of(plan: Plan, policy: Policy,
            whole: Callable[[CollectionPlan, str], bool] | None = None) -> frozenset[Table]:
    """The erasure lane: collections under the person tables whose rows, reached from a
    subject's own person row, are all the subject's own and all deleted -- so the walk
    reads only their keys and links (``Walker(lane=...)``) and the planner takes them
    whole. A collection is in it when it is reached by exactly one reference, from a
    person table or the lane, that alone names the row's owner (``fast_of``: OWN, and
    every reference back up is that one); it has no administrator, no self-reference,
    no value other rows are found by except through lane references; ``whole`` (by
    default: its own rows are deleted whole, nothing kept) holds."""
    exceptions = exceptions_of(policy)
    goes = whole or (lambda cp, link: _goes_whole(cp, link, exceptions))
    into: dict[Table, list[Edge]] = defaultdict(list)
    for cp in plan.collections.values():
        for e in cp.down:
            into[e.child].append(e)
    lane = {t for t, cp in plan.collections.items() if _lane_candidate(plan, cp, into, goes)}
    changed = True
    while changed:  # the lane is closed: its parents in it (or persons), its children too
        changed = False
        for t in sorted(lane):
            cp, parent = plan[t], into[t][0].parent
            if (not plan[parent].root and parent not in lane) or any(
                    e.child not in lane for e in cp.down):
                lane.discard(t)
                changed = True
    return frozenset(lane)


def _lane_candidate(plan: Plan, cp: CollectionPlan, into: Mapping[Table, list[Edge]],
                    goes: Callable[[CollectionPlan, str], bool]) -> bool:
    edges = into.get(cp.key, [])
    if cp.root or len(edges) != 1 or cp.administered_by or cp.single_pk is None:
        return False
    e = edges[0]
    return (e.parent != cp.key and fast_of(plan, e) == Role.OWN | NO_UP
            and cp.value_cols <= {cp.single_pk, *(d.parent_col for d in cp.down)}
            and goes(cp, e.child_col))


def _layer(s: Subject, ref: Ref, deletable: set[Ref], seen: set[Ref]) -> int:
    """0 for a row no deleted row of its own table refers to; else 1 + its children's."""
    seen.add(ref)
    below = [(t, pk) for t, pk, _ in s.children.get(ref, ())
             if t == ref[0] and (t, pk) in deletable and (t, pk) not in seen]
    return 1 + max(_layer(s, c, deletable, seen) for c in below) if below else 0


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def plan_erasure(walk: WalkResult, policy: Policy, hasher: IdentityHasher, *,
                 done: Mapping[Cell, Any] | None = None,
                 subjects: Iterable[Subject] | None = None) -> ChangePlan:
    """The ops erasing ``subjects`` (default: every problem-free subject of the walk; a
    batch leaves out those waiting for their administrator), and each one's outcome.

    ``done``: cells an earlier pass already wrote (pseudonyms): not planned again.
    """
    planner = _Planner(walk, policy, hasher, done or {})
    chosen = walk.subjects if subjects is None else list(subjects)
    outcomes = {s.key: planner.subject(s) if any(s.rows.values()) else Outcome()
                for s in chosen if s.problem is None}  # (a proof finds most empty)
    ops = build_ops(walk.plan, planner.deletes, planner.cells, planner.per_row,
                    lane=walk.lane_rows(chosen))  # the lane's rows: all go
    return ChangePlan(ops, outcomes)


def table_name(table: Table) -> str:
    return f"{table[0]}.{table[1]}"
