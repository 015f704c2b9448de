"""The access walk: every row of each subject, found set-based.

Identities seed the walk at identity columns; references extend it. The walk
runs for a batch of subjects at once: each round gathers every lookup the
subjects need, then runs one ``SELECT ... WHERE col IN (...)`` per collection
and column per chunk of values, on one connection per store. Lookups already
answered are served from memory, so cycles and self-references end.

Whose row is it (see ``plan.py`` for the terms):

1. *Resolution*: identities find rows; a row of a person table is the person.
   Identities found on the person's rows are merged in and searched too. Two
   rows of one person table for one request: the identities match two people,
   and that request stops (``Subject.problem``).
2. *Spread*: from the subject's rows (``OWN``) the walk follows every reference
   into them (``down``): a row whose owner columns name the subject is ``OWN``,
   one naming the subject and someone else is ``SHARED``, one naming nobody
   inherits its parent's role, one naming only others is not the subject's
   (but is remembered as a row that still refers to the subject's row). It also
   follows the subject's rows' references to non-person tables (``up``): the
   thread, the call, the address -- ``LINKED`` context, never walked further
   down (that would reach the other participants). A linked row naming nobody
   that is referred to *only* by the subject's rows (their address) is theirs
   (``OWN``): one ``GROUP BY`` count per reference tells.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from keepword.errors import StoreError
from keepword.requests.plan import (
    CHUNK,
    CollectionPlan,
    Plan,
    Table,
    canon,
    coerce,
    normal,
)
from keepword.stores import StoreResolver

PK = tuple[Any, ...]
Row = dict[str, Any]
Ref = tuple[Table, PK]


class Role(IntEnum):
    LINKED = 1  # context the subject's rows point at (shown redacted, never changed)
    SHARED = 2  # names the subject and others: only the subject's part is theirs
    OWN = 3  # the subject's row


@dataclass
class Subject:
    """One request's person, as the walk learns about them."""

    key: str
    identities: dict[str, set[str]]
    roots: dict[Table, set[PK]] = field(default_factory=lambda: defaultdict(set))
    values: dict[tuple[Table, str], set[Any]] = field(default_factory=lambda: defaultdict(set))
    rows: dict[Table, dict[PK, Role]] = field(default_factory=lambda: defaultdict(dict))
    children: dict[Ref, set[tuple[Table, PK, str]]] = field(
        default_factory=lambda: defaultdict(set))
    problem: str | None = None
    administered: set[tuple[Table, str, Any]] = field(default_factory=set)

    def names(self, cp: CollectionPlan, col: str, value: Any) -> bool:
        """Does ``value`` in column ``col`` designate this subject?"""
        if value is None:
            return False
        kind = cp.identity.get(col)
        if kind is not None:
            return normal(kind, value) in self.identities.get(kind, ())
        edge = cp.refs.get(col)
        return edge is not None and canon(value) in self.values.get(
            (edge.parent, edge.parent_col), ())

    def owns(self, cp: CollectionPlan, row: Row, col: str, role: Role) -> bool:
        """Is the value of ``col`` in this row the subject's data?"""
        if col in cp.naming and (col not in cp.tier or not cp.tier_joint):
            return self.names(cp, col, row[col])  # a column naming someone is theirs
        owner = cp.owner[col]
        if owner is None:
            return role is Role.OWN
        value = row[owner]
        return role is Role.OWN if value is None else self.names(cp, owner, value)

    def visible(self, cp: CollectionPlan, row: Row, col: str, role: Role) -> bool:
        """May this subject see the value (Art. 15(4): others' data is redacted)?"""
        if self.owns(cp, row, col, role):
            return True
        if cp.owner[col] is not None or col in cp.naming:
            return False
        return cp.shared_context or all(row[c] is None for c in cp.tier)

    def knowledge(self) -> dict[str, Any]:
        """What a later walk (the proof, a resume) needs to find this person again."""
        return {
            "identities": {k: list(v) for k, v in self.identities.items()},
            "roots": [[list(t), [list(pk) for pk in pks]] for t, pks in self.roots.items()],
            "values": [[list(t), c, list(v)] for (t, c), v in self.values.items()
                       if t in self.roots],
        }

    def rewalk(self, key: str | None = None) -> Subject:
        """A fresh subject from what this one learnt (``knowledge`` without the JSON)."""
        s = Subject(key or self.key, {k: set(v) for k, v in self.identities.items()})
        for t, pks in self.roots.items():
            s.roots[t] = set(pks)
        for (t, c), vals in self.values.items():
            if t in self.roots:
                s.values[(t, c)] = set(vals)
        return s

    @classmethod
    def from_knowledge(cls, key: str, data: Mapping[str, Any]) -> Subject:
        s = cls(key, {k: set(v) for k, v in data["identities"].items()})
        for t, pks in data.get("roots", []):
            s.roots[(t[0], t[1])] = {tuple(pk) for pk in pks}
        for t, c, vals in data.get("values", []):
            s.values[((t[0], t[1]), c)] = set(vals)
        return s


class _Visit(NamedTuple):
    si: int
    kind: str  # seed | root | down | up | pk
    col: str = ""
    origin: Ref | None = None
    inherit: Role | None = None


class Connections:
    """One connection per store for the whole batch."""

    def __init__(self, resolver: StoreResolver, datasets: Mapping[str, Any]) -> None:
        self._resolver = resolver
        self._datasets = datasets
        self._open: dict[str, Connection] = {}

    def get(self, dataset: str) -> Connection:
        conn = self._open.get(dataset)
        if conn is None:
            engine = self._resolver.engine(self._datasets[dataset].dataset)
            try:
                conn = engine.connect()
            except SQLAlchemyError as exc:
                raise store_error(dataset, exc) from None
            self._open[dataset] = conn
        return conn

    def end_reads(self) -> None:
        """Close the read transactions so writes start fresh."""
        for conn in self._open.values():
            if conn.in_transaction():
                conn.rollback()

    def close(self) -> None:
        for conn in self._open.values():
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
        self._open.clear()


def store_error(dataset: str, exc: SQLAlchemyError) -> StoreError:
    """Name the store and the error class, never the statement (it may hold values)."""
    orig = getattr(exc, "orig", None) or exc
    return StoreError(dataset, f"failed during a request ({type(orig).__name__})")


@dataclass
class WalkResult:
    plan: Plan
    rows: dict[Table, dict[PK, Row]]
    subjects: list[Subject]
    queries: int

    def subject_rows(self, s: Subject) -> Iterator[tuple[CollectionPlan, PK, Row, Role]]:
        for table, by_pk in s.rows.items():
            cp = self.plan[table]
            cache = self.rows[table]
            for pk, role in by_pk.items():
                yield cp, pk, cache[pk], role

    def counts(self, s: Subject) -> dict[str, int]:
        """Rows of the subject (own or shared) per collection."""
        out: dict[str, int] = {}
        for table, by_pk in s.rows.items():
            n = sum(1 for r in by_pk.values() if r >= Role.SHARED)
            if n:
                out[self.plan[table].name] = n
        return out


class Walker:
    """Runs the walk for a batch of subjects over one set of connections."""

    def __init__(self, plan: Plan, conns: Connections, *, chunk: int = CHUNK) -> None:
        self.plan = plan
        self.conns = conns
        self.chunk = chunk
        self.rows: dict[Table, dict[PK, Row]] = defaultdict(dict)
        self.queries = 0
        self._pending: dict[tuple[Table, str, str], dict[Any, tuple[Any, list[_Visit]]]] = (
            defaultdict(dict))
        self._done: dict[tuple[Table, str, str], dict[Any, list[PK]]] = defaultdict(dict)
        self._ready: list[tuple[_Visit, CollectionPlan, PK]] = []
        self._seed_rows: dict[int, list[tuple[_Visit, CollectionPlan, PK]]] = defaultdict(list)

    # -- lookups ---------------------------------------------------------------
    def _want(self, table: Table, col: str, mode: str, dkey: Any, qvalue: Any,  # noqa: PLR0917
              visit: _Visit) -> None:
        group = (table, col, mode)
        done = self._done[group].get(dkey)
        if done is not None:
            cp = self.plan.collections[table]
            self._ready.extend((visit, cp, pk) for pk in done)
            return
        cp = self.plan.collections[table]
        if col in ("*pk", cp.single_pk):
            pk = dkey if col == "*pk" else (canon(qvalue),)
            if pk in self.rows[table]:  # a primary key names one row, and we have it
                self._ready.append((visit, cp, pk))
                return
        slot = self._pending[group].get(dkey)
        if slot is None:
            self._pending[group][dkey] = (qvalue, [visit])
        else:
            slot[1].append(visit)

    def _flush(self) -> list[tuple[_Visit, CollectionPlan, PK]]:
        """Run every pending lookup (chunked IN lists); the visits each row answers."""
        out, self._ready = self._ready, []
        pending, self._pending = self._pending, defaultdict(dict)
        for (table, col, mode), wanted in pending.items():
            cp = self.plan[table]
            found: dict[Any, list[PK]] = {k: [] for k in wanted}
            for pk, row in self.select_rows(cp, col, [q for q, _ in wanted.values()]):
                key = self._dkey(mode, row, col, pk)
                if key in found:
                    found[key].append(pk)
            self._done[(table, col, mode)].update(found)
            for dkey, (_, visits) in wanted.items():
                out.extend((v, cp, pk) for pk in found[dkey] for v in visits)
        return out

    @staticmethod
    def _dkey(mode: str, row: Row, col: str, pk: PK) -> Any:
        if mode == "pk":
            return pk
        if mode == "val":
            return canon(row[col])
        return normal(mode[3:], row[col])

    def select_rows(self, cp: CollectionPlan, col: str, values: list[Any]
                ) -> Iterator[tuple[PK, Row]]:
        conn = self.conns.get(cp.key[0])
        stmt = self.plan.select_by(cp.key, col)
        cache = self.rows[cp.key]
        names = cp.columns
        for i in range(0, len(values), self.chunk):
            self.queries += 1
            try:
                result = conn.execute(stmt, {"v": values[i:i + self.chunk]}).all()
            except SQLAlchemyError as exc:
                raise store_error(cp.key[0], exc) from None
            for tup in result:
                row = dict(zip(names, tup, strict=True))
                pk = cp.pk_of(row)
                cache[pk] = row
                yield pk, row

    def count(self, cp: CollectionPlan, col: str, values: list[Any]) -> dict[Any, int]:
        conn = self.conns.get(cp.key[0])
        stmt = self.plan.count_by(cp.key, col)
        out: dict[Any, int] = {}
        for i in range(0, len(values), self.chunk):
            self.queries += 1
            try:
                for value, n in conn.execute(stmt, {"v": values[i:i + self.chunk]}):
                    out[canon(value)] = int(n)
            except SQLAlchemyError as exc:
                raise store_error(cp.key[0], exc) from None
        return out

    # -- the walk --------------------------------------------------------------
    def run(self, subjects: list[Subject], *, prior: bool = False) -> WalkResult:
        """Resolve then spread. ``prior``: subjects come with known person keys
        (a proof or resume), whose rows may be gone but whose references count."""
        self._resolve(subjects, prior=prior)
        live = [i for i, s in enumerate(subjects) if s.problem is None]
        for i in live:
            s = subjects[i]
            for table, pks in s.roots.items():
                cp = self.plan[table]
                for pk in pks:
                    if pk in self.rows[table]:
                        self._process(i, s, cp, pk, Role.OWN)
                    if prior:
                        self._virtual_down(i, s, cp, pk)
            for visit, cp, pk in self._seed_rows.get(i, []):
                self._arrive(subjects, visit, cp, pk)
        self._spread(subjects)
        return WalkResult(self.plan, self.rows, subjects, self.queries)

    def _resolve(self, subjects: list[Subject], *, prior: bool) -> None:
        fresh: dict[int, dict[str, set[str]]] = {
            i: {k: set(v) for k, v in s.identities.items()} for i, s in enumerate(subjects)}
        if prior:
            for i, s in enumerate(subjects):
                for table, pks in s.roots.items():
                    for pk in pks:
                        self._want(table, "*pk", "pk", pk, self.plan[table].pk_param(pk),
                                   _Visit(i, "pk"))
        while fresh or self._pending or self._ready:
            for i, per_type in fresh.items():
                self._seed(i, per_type)
            fresh = _fresh()
            for visit, cp, pk in self._flush():
                s = subjects[visit.si]
                if s.problem is None:
                    self._resolved(s, visit, cp, pk, fresh)
            fresh = {i: d for i, d in fresh.items() if d}

    def _seed(self, i: int, per_type: Mapping[str, Iterable[str]]) -> None:
        for kind, values in per_type.items():
            for table, col in self.plan.seeds.get(kind, ()):
                cp = self.plan[table]
                for v in values:
                    qv = coerce(cp, col, v)
                    if qv is not None:
                        self._want(table, col, "id:" + kind, v, qv, _Visit(i, "seed", col))

    def _resolved(self, s: Subject, visit: _Visit, cp: CollectionPlan, pk: PK,
                  fresh: dict[int, dict[str, set[str]]]) -> None:
        row = self.rows[cp.key][pk]
        if visit.kind in ("root", "pk"):
            self._add_root(s, visit.si, cp, pk, row, fresh)
            return
        owner = cp.fields[visit.col].belongs_to
        if cp.root and owner is None:
            self._add_root(s, visit.si, cp, pk, row, fresh)
        elif owner is not None and owner in cp.refs and row[owner] is not None:
            edge = cp.refs[owner]
            if self.plan[edge.parent].root:
                value = canon(row[owner])
                self._want(edge.parent, edge.parent_col, "val", value, value,
                           _Visit(visit.si, "root"))
            else:
                self._seed_rows[visit.si].append((visit, cp, pk))
        elif owner is not None and owner in cp.identity:
            merged = normal(cp.identity[owner], row[owner])
            if merged and merged not in s.identities.setdefault(cp.identity[owner], set()):
                s.identities[cp.identity[owner]].add(merged)
                fresh[visit.si][cp.identity[owner]].add(merged)
        else:
            self._seed_rows[visit.si].append((visit, cp, pk))

    def _add_root(self, s: Subject, i: int, cp: CollectionPlan, pk: PK, row: Row,  # noqa: PLR0917
                  fresh: dict[int, dict[str, set[str]]]) -> None:
        known = s.roots[cp.key]
        if pk in known:
            self._register(s, cp, row)
            return
        known.add(pk)
        if len(known) > 1:
            s.problem = (f"the identities match {len(known)} different people "
                         f"(rows of {cp.name}); give an identity that names one person")
            return
        self._register(s, cp, row)
        for col, kind in cp.identity.items():
            value = normal(kind, row[col])
            if value and value not in s.identities.setdefault(kind, set()):
                s.identities[kind].add(value)
                fresh[i][kind].add(value)

    @staticmethod
    def _register(s: Subject, cp: CollectionPlan, row: Row) -> None:
        for col in cp.value_cols:
            if row[col] is not None:
                s.values[(cp.key, col)].add(canon(row[col]))

    def _virtual_down(self, i: int, s: Subject, cp: CollectionPlan, pk: PK) -> None:
        for e in cp.down:
            for v in s.values.get((cp.key, e.parent_col), ()):
                self._want(e.child, e.child_col, "val", v, v,
                           _Visit(i, "down", e.child_col, (cp.key, pk), Role.OWN))

    def _process(self, i: int, s: Subject, cp: CollectionPlan, pk: PK, role: Role) -> None:
        """Give a row its role for ``s`` and schedule the edges that role follows."""
        current = s.rows[cp.key].get(pk)
        if current is not None and current >= role:
            return
        s.rows[cp.key][pk] = role
        if role is Role.LINKED:
            return
        row = self.rows[cp.key][pk]
        if role is Role.OWN:
            self._register(s, cp, row)
        if cp.administered_by and row[cp.administered_by] is not None:
            s.administered.add((cp.key, cp.administered_by,
                                canon(row[cp.administered_by])))
        for e in cp.down:
            v = row[e.parent_col]
            if v is not None:
                v = canon(v)
                self._want(e.child, e.child_col, "val", v, v,
                           _Visit(i, "down", e.child_col, (cp.key, pk), role))
        if role is Role.SHARED and not cp.shared_context:
            return  # someone else's row where the subject only appears: no context to add
        for e in cp.up:
            v = row[e.child_col]
            if v is not None:
                v = canon(v)
                self._want(e.parent, e.parent_col, "val", v, v,
                           _Visit(i, "up", col=e.child_col, origin=(cp.key, pk)))

    def role_of(self, s: Subject, cp: CollectionPlan, row: Row, pk: PK,
                inherit: Role | None) -> Role | None:
        if cp.root and pk in s.roots.get(cp.key, ()):
            return Role.OWN
        named = mine = False
        other = False
        for c in cp.tier:
            value = row[c]
            if value is not None:
                named = True
                if s.names(cp, c, value):
                    mine = True
                elif not cp.tier_joint:
                    other = True
        if mine:
            return Role.SHARED if other else Role.OWN
        for c in cp.side_naming:
            if s.names(cp, c, row[c]):
                return Role.SHARED
        if named:  # someone else's row
            return Role.LINKED if inherit is Role.LINKED else None
        return inherit

    def _arrive(self, subjects: list[Subject], visit: _Visit, cp: CollectionPlan,
                pk: PK) -> None:
        s = subjects[visit.si]
        if s.problem is not None:
            return
        row = self.rows[cp.key][pk]
        if visit.kind == "down":
            assert visit.origin is not None
            s.children[visit.origin].add((cp.key, pk, visit.col))
            role = self.role_of(s, cp, row, pk, visit.inherit)
        elif visit.kind == "up":
            role = self.role_of(s, cp, row, pk, Role.LINKED)
        else:
            role = self.role_of(s, cp, row, pk, None)
        if role is not None:
            self._process(visit.si, s, cp, pk, role)

    def _spread(self, subjects: list[Subject]) -> None:
        checked: set[tuple[int, Table, PK]] = set()
        while True:
            while self._pending or self._ready:
                for visit, cp, pk in self._flush():
                    self._arrive(subjects, visit, cp, pk)
            if not self._exclusive(subjects, checked):
                return

    def _exclusive(self, subjects: list[Subject], checked: set[tuple[int, Table, PK]]) -> bool:
        """Upgrade linked rows naming nobody that only the subject's rows refer to."""
        wanted: dict[Table, list[tuple[int, PK]]] = defaultdict(list)
        for i, s in enumerate(subjects):
            if s.problem is not None:
                continue
            for table, by_pk in s.rows.items():
                cp = self.plan[table]
                if cp.root or not cp.down:
                    continue
                for pk, role in by_pk.items():
                    if role is Role.LINKED and (i, table, pk) not in checked and all(
                            self.rows[table][pk][c] is None for c in cp.naming):
                        checked.add((i, table, pk))
                        wanted[table].append((i, pk))
        upgraded = False
        for table, items in wanted.items():
            for i, pk in self._only_referred_by_subject(subjects, self.plan[table], items):
                self._process(i, subjects[i], self.plan[table], pk, Role.OWN)
                upgraded = True
        return upgraded

    def _only_referred_by_subject(self, subjects: list[Subject], cp: CollectionPlan,
                                  items: list[tuple[int, PK]]) -> list[tuple[int, PK]]:
        ok = {(i, pk) for i, pk in items}
        for e in cp.down:
            values = sorted({canon(self.rows[cp.key][pk][e.parent_col]) for _, pk in items
                             if self.rows[cp.key][pk][e.parent_col] is not None}, key=repr)
            totals = self.count(self.plan[e.child], e.child_col, values) if values else {}
            for i, pk in list(ok):
                v = self.rows[cp.key][pk][e.parent_col]
                mine = _own_referring(subjects[i], self.plan[e.child], self.rows[e.child],
                                      e.child_col, canon(v))
                if totals.get(canon(v), 0) != mine:
                    ok.discard((i, pk))
        return sorted(ok, key=repr)


def _fresh() -> dict[int, dict[str, set[str]]]:
    return defaultdict(lambda: defaultdict(set))


def _own_referring(s: Subject, child: CollectionPlan, cache: Mapping[PK, Row], col: str,
                   value: Any) -> int:
    return sum(1 for pk, role in s.rows.get(child.key, {}).items()
               if role is Role.OWN and canon(cache[pk][col]) == value)
