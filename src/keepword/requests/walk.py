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

The hot path takes shortcuts that give exactly what asking ``role_of`` row by row
gives, in the same order (``Walker(shortcuts=False)`` asks it every time; a test
compares): a row already ``OWN`` stays so; a row naming nobody takes the role it
is reached with; a row reached from an ``OWN`` parent through its only owner
column names the subject (``fast_of``); an up edge to a row already ``OWN``, or
back to the ``OWN`` parent, changes nothing; rows new to a subject in a simple
collection are given their role together (``_arrive_fixed``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from keepword import driver
from keepword.errors import StoreError
from keepword.requests.plan import (
    CollectionPlan,
    Edge,
    Plan,
    Table,
    bucket,
    canon,
    coerce,
    coerce_all,
    normal,
    normals,
    param_names,
)
from keepword.sqlsets import CHUNK, SET_CHUNK, chunked
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
    # (factories as partials: a subject is made per request, and a lambda is a frame each)
    roots: dict[Table, set[PK]] = field(default_factory=partial(defaultdict, set))
    values: dict[tuple[Table, str], set[Any]] = field(default_factory=partial(defaultdict, set))
    rows: dict[Table, dict[PK, Role]] = field(default_factory=partial(defaultdict, dict))
    children: dict[Ref, set[tuple[Table, PK, str]]] = field(
        default_factory=partial(defaultdict, set))
    problem: str | None = None
    administered: set[tuple[Table, str, Any]] = field(default_factory=set)
    # how many rows the erasure lane found below the subject's person row, per collection
    # (``Walker(lane=...)``; the rows themselves: ``WalkResult.lane``), all their own
    lane: dict[Table, int] = field(default_factory=dict)

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
        """What a later walk (the proof, a resume) needs to find this person again, its
        sets as lists -- sealed at once (``Vault.seal``; a list made here costs less than
        the encoder's call back to Python per set, and encodes alike), read back by
        ``from_knowledge``."""
        roots = self.roots
        return {"identities": {k: list(v) for k, v in self.identities.items()},
                "roots": [(t, list(pks)) for t, pks in roots.items()],
                "values": [(*tc, list(v)) for tc, v in self.values.items() if tc[0] in roots]}

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


# A visit: why a lookup is made, for whom: (subject index, kind: seed | root | down
# | up | pk, column, origin row (down, up), inherited role (down), fast (down): the
# role every row it reaches takes when the edge tells, plus NO_UP; else 0, see fast_of)
Visit = tuple[int, str, str, Ref, Role | None, int]
# Visits answered by rows: every visit applies to every row, rows outermost.
Batch = tuple[Sequence[Visit], CollectionPlan, Sequence[PK]]

# Types ``canon`` leaves alone: checked inline, so the hot loops skip the call.
_PLAIN: frozenset[type] = frozenset({int, str, float, bool, type(None), date, datetime})
# Backends whose driver gives only values ``canon`` leaves alone (SQLite's: integers, floats,
# texts, bytes; the converters of the data map's types make dates, booleans, JSON): their
# fetched columns are not checked value by value (``_column``)
_CANONICAL: frozenset[str] = frozenset({"sqlite"})
_NOWHERE: Ref = (("", ""), ())  # the origin of a visit that comes from no row
# Role's members as plain names: the hot loops compare roles per row, and a member read
# through the enum's class costs several times a module global
_OWN, _SHARED, _LINKED = Role.OWN, Role.SHARED, Role.LINKED
_ROLES: tuple[Role | None, ...] = (None, _LINKED, _SHARED, _OWN)
NO_UP = 4  # the rows' up edges all lead back to the parent row, OWN already


def fast_of(plan: Plan, e: Edge) -> int:
    """The ``fast`` of a down visit from a parent that is the subject's OWN (so its
    ``e.parent_col`` value is in ``Subject.values``): OWN when ``role_of`` must find
    the child OWN -- it names nobody (it inherits) or its owner tier is just this
    column, naming through this very edge; NO_UP when its up edges all reach the
    parent by its key (already OWN: nothing to do). 0: ask ``role_of``."""
    child, parent = plan[e.child], plan[e.parent]
    ref = child.refs.get(e.child_col)
    certain = (child.tier == (e.child_col,) and e.child_col not in child.identity
               and ref is not None and (ref.parent, ref.parent_col) == (e.parent, e.parent_col))
    if child.naming and not certain:
        return 0
    back = all(u.child_col == e.child_col and u.parent == e.parent
               and u.parent_col == e.parent_col == parent.single_pk for u in child.up)
    return _OWN | (NO_UP if back else 0)


# anything_found's lookups from a known person table: its keys' lookup, a key's value
# there, and per value column of its rows (the key in Subject.values): the values subjects
# had and the lookups below they feed
_Known = tuple[set[Any], Callable[[PK], Any],
               list[tuple[tuple[Table, str], tuple[set[Any], list[set[Any]]]]]]

# A lane lookup's shape (``_lane_shape``): the columns read, the key's width, the lane
# children's columns (index, lookup), canonical as fetched
_LaneShape = tuple[tuple[str, ...], int, tuple[tuple[int, tuple[Table, str]], ...], bool]

# A down edge as _give follows it: parent column, lookup group, child, child column,
# the child column is its key, fast from an OWN parent, the child names nobody
_Down = tuple[str, tuple[Table, str, str], CollectionPlan, str, bool, int, bool]
# An up edge: own column, lookup group, parent, the parent column is its key
_Up = tuple[str, tuple[Table, str, str], CollectionPlan, bool]


@dataclass(slots=True)
class _Hot:
    """Per collection, what the hot loops need, derived once per plan."""

    cp: CollectionPlan
    key: Table
    values: tuple[tuple[str, tuple[Table, str]], ...]  # value column, key in Subject.values
    down: tuple[_Down, ...]
    up: tuple[_Up, ...]
    # with an erasure lane: the down edges into it, and the others (the lane takes the
    # first from the subject's own person row; from any other row, ``down`` is followed)
    lane_down: tuple[_Down, ...]
    rest_down: tuple[_Down, ...]
    lane_seeds: tuple[tuple[str, tuple[Table, str]], ...]  # lane_down: (column, lane lookup)
    anonymous: bool  # no naming column: role_of returns the role the row is reached with
    admin: str | None  # administered_by
    context: bool  # shared_context
    # rows given one role together (_arrive_fixed): no down edges, no administrator,
    # only the (single) key registered, up edges only to other tables by their key
    bulk: bool
    belongs: dict[str, str | None]  # column -> its belongs_to
    shortcuts: bool  # skip what cannot change a role (see _arrive, _up)
    # a person row's identity columns: (column, kind, sought only at this very key --
    # then what the row teaches is not sought again: ``Walker._add_root``)
    learn: tuple[tuple[str, str, bool], ...]
    plain: bool  # fetched values are canonical already (``_CANONICAL``)


def _derive(plan: Plan, key: Table, shortcuts: bool, lane: frozenset[Table]) -> _Hot:
    """Without ``shortcuts`` every row asks ``role_of`` (the reference the tests
    compare the shortcuts with)."""
    cp = plan.collections[key]
    down = tuple((e.parent_col, (e.child, e.child_col, "val"), plan[e.child], e.child_col,
                  e.child_col == plan[e.child].single_pk, fast_of(plan, e) if shortcuts else 0,
                  shortcuts and not plan[e.child].naming)
                 for e in cp.down)
    up = tuple((e.child_col, (e.parent, e.parent_col, "val"), plan[e.parent],
                e.parent_col == plan[e.parent].single_pk) for e in cp.up)
    # value_cols in its own iteration order: Subject.values keys keep their order
    values = tuple((c, (key, c)) for c in cp.value_cols)
    bulk = (shortcuts and not down and not cp.administered_by
            and cp.value_cols <= {cp.single_pk}
            and all(by_pk and p.key != key for _, _, p, by_pk in up))
    lane_down = tuple(d for d in down if cp.root and d[2].key in lane)
    rest_down = tuple(d for d in down if d not in lane_down)
    lane_seeds = tuple((d[0], (d[2].key, d[3])) for d in lane_down)
    learn = tuple((col, kind, shortcuts and col == cp.single_pk
                   and tuple(plan.seeds.get(kind, ())) == ((key, col),))
                  for col, kind in cp.identity.items())
    return _Hot(cp, key, values, down, up, lane_down, rest_down, lane_seeds,
                shortcuts and not cp.naming, cp.administered_by,
                cp.shared_context, bulk, {c: f.belongs_to for c, f in cp.fields.items()},
                shortcuts, learn, plan.dialect_of(key) in _CANONICAL)


class Connections:
    """One connection per store for the whole batch.

    Until ``end_reads``, PostgreSQL connections read in autocommit: under READ
    COMMITTED each statement has its own snapshot anyway, and a single request's walk
    saves the ``BEGIN`` and ``ROLLBACK`` round trips. Writes always run in transactions
    (``end_reads`` comes first)."""

    def __init__(self, resolver: StoreResolver, datasets: Mapping[str, Any]) -> None:
        self._resolver = resolver
        self._datasets = datasets
        self._open: dict[str, Connection] = {}
        self._reading = True
        self._autocommit: set[str] = set()  # datasets whose connection reads in autocommit

    def get(self, dataset: str) -> Connection:
        conn = self._open.get(dataset)
        if conn is None:
            engine = self._resolver.engine(self._datasets[dataset].dataset)
            try:
                conn = engine.connect()
                if self._reading and engine.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    self._autocommit.add(dataset)
            except SQLAlchemyError as exc:
                raise store_error(dataset, exc) from None
            self._open[dataset] = conn
        return conn

    def end_reads(self) -> None:
        """Close the reads so writes start fresh, in transactions."""
        self._reading = False
        for dataset, conn in self._open.items():
            if conn.in_transaction():
                conn.rollback()
            if dataset in self._autocommit:
                conn.execution_options(isolation_level=conn.default_isolation_level)
        self._autocommit.clear()

    def close(self) -> None:
        self._autocommit.clear()
        for conn in self._open.values():
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
        self._open.clear()


def store_error(dataset: str, exc: SQLAlchemyError) -> StoreError:
    """Name the store and the error class, never the statement (it may hold values)."""
    orig = getattr(exc, "orig", None) or exc
    return StoreError(dataset, f"failed during a request ({type(orig).__name__})")


# The lane's rows of one collection: their keys, and beside each the subjects (indexes
# in ``WalkResult.subjects``) whose person row it hangs off -- one set shared by every
# row below the same parent.
LaneRows = tuple[list[PK], list[set[int]]]


@dataclass
class WalkResult:
    plan: Plan
    rows: dict[Table, dict[PK, Row]]
    subjects: list[Subject]
    queries: int
    lane: dict[Table, LaneRows] = field(default_factory=dict)

    def lane_rows(self, subjects: Iterable[Subject]) -> dict[Table, list[PK]]:
        """The lane's rows of these subjects, per collection (those of anyone else the
        walk found -- a request waiting for its administrator -- left out)."""
        wanted = {id(s) for s in subjects if s.problem is None}
        mine = {i for i, s in enumerate(self.subjects) if id(s) in wanted}
        everyone = len(mine) == len(self.subjects)
        out: dict[Table, list[PK]] = {}
        for table, (pks, whose) in self.lane.items():
            if everyone:
                out[table] = pks
                continue
            ok: dict[int, bool] = {}  # per owners' set (shared by many rows)
            keep = []
            for pk, who in zip(pks, whose, strict=True):
                hit = ok.get(id(who))
                if hit is None:
                    hit = ok[id(who)] = not mine.isdisjoint(who)
                if hit:
                    keep.append(pk)
            out[table] = keep
        return out

    def subject_rows(self, s: Subject) -> Iterator[tuple[CollectionPlan, PK, Row, Role]]:
        for table, by_pk in s.rows.items():
            cp = self.plan[table]
            cache = self.rows[table]
            for pk, role in by_pk.items():
                yield cp, pk, cache[pk], role

    def counts(self, s: Subject) -> dict[str, int]:
        """Rows of the subject (own or shared) per collection."""
        out: dict[str, int] = {}
        collections = self.plan.collections
        for table, by_pk in s.rows.items():
            n = len(by_pk) - list(by_pk.values()).count(_LINKED)  # SHARED or OWN
            if n:
                out[collections[table].name] = n
        for table, n in s.lane.items():
            name = collections[table].name
            out[name] = out.get(name, 0) + n
        return out


class Walker:
    """Runs the walk for a batch of subjects over one set of connections."""

    def __init__(self, plan: Plan, conns: Connections, *, chunk: int | None = None,
                 shortcuts: bool = True, lane: frozenset[Table] = frozenset(),
                 resolved: Callable[[list[Subject]], None] | None = None) -> None:
        self.plan = plan
        # told the subjects once every identity of each is known (the rest of the walk
        # finds rows, no identity): a caller may start what those identities decide
        self.resolved = resolved
        self.lane = lane  # collections walked column-wise below own person rows (erasure)
        # lane lookups to make: (collection, column) -> value -> the subjects asking
        self._lane_want: dict[tuple[Table, str], dict[Any, set[int]]] = {}
        self._lane_rows: dict[Table, LaneRows] = {}  # what the lane found
        self.shortcuts = shortcuts  # False: role_of for every row (tests compare)
        self.conns = conns
        self.chunk = chunk  # values per lookup (default: ``SET_CHUNK`` or ``CHUNK``)
        self.rows: dict[Table, dict[PK, Row]] = defaultdict(dict)
        self.queries = 0
        self._pending: dict[tuple[Table, str, str], dict[Any, tuple[Any, list[Visit]]]] = (
            defaultdict(dict))
        self._done: dict[tuple[Table, str, str], dict[Any, Sequence[PK]]] = defaultdict(dict)
        self._ready: list[Batch] = []
        self._seed_rows: dict[int, list[tuple[Visit, CollectionPlan, PK]]] = defaultdict(list)

    def _hot(self, key: Table) -> _Hot:
        hot: _Hot | None = self.plan.hot.get((key, self.shortcuts, self.lane))
        if hot is None:
            hot = self.plan.hot[(key, self.shortcuts, self.lane)] = _derive(
                self.plan, key, self.shortcuts, self.lane)
        return hot

    # -- lookups ---------------------------------------------------------------
    def _want(self, table: Table, col: str, mode: str, dkey: Any, qvalue: Any,  # noqa: PLR0917
              visit: Visit) -> None:
        group = (table, col, mode)
        done = self._done[group].get(dkey)
        cp = self.plan.collections[table]
        if done is not None:
            if done:
                self._ready.append(((visit,), cp, done))
            return
        if col in (cp.single_pk, "*pk"):
            pk = dkey if col == "*pk" else (qvalue if type(qvalue) in _PLAIN else canon(qvalue),)
            if pk in self.rows[table]:  # a primary key names one row, and we have it
                self._ready.append(((visit,), cp, (pk,)))
                return
        self._queue(group, dkey, qvalue, visit)

    def _queue(self, group: tuple[Table, str, str], dkey: Any, qvalue: Any,
               visit: Visit) -> None:
        wanted = self._pending[group]
        slot = wanted.get(dkey)
        if slot is None:
            wanted[dkey] = (qvalue, [visit])
        else:
            slot[1].append(visit)

    def _want_in(self, group: tuple[Table, str, str], cp: CollectionPlan, by_pk: bool,  # noqa: PLR0917
                 dkey: Any, qvalue: Any, visit: Visit) -> None:
        """``_want(*group, dkey, qvalue, visit)`` with the group and whether its column
        is the collection's key known beforehand."""
        done = self._done[group].get(dkey)
        if done is not None:
            if done:
                self._ready.append(((visit,), cp, done))
        elif by_pk and (pk := (qvalue if type(qvalue) in _PLAIN else canon(qvalue),)
                        ) in self.rows[group[0]]:
            self._ready.append(((visit,), cp, (pk,)))
        else:
            self._queue(group, dkey, qvalue, visit)

    def _flush(self) -> list[Batch]:
        """Run every pending lookup (chunked IN lists); the visits each row answers."""
        out, self._ready = self._ready, []
        pending, self._pending = self._pending, defaultdict(dict)
        together = self._together(pending) if len(pending) > 1 else {}
        for group, wanted in pending.items():
            table, col, mode = group
            cp = self.plan.collections[table]
            keys: list[Any] = []
            pks: list[PK] = []
            results = together.get(group)
            plain = self._hot(table).plain
            for result in results if results is not None else self._select(
                    cp, col, [q for q, _ in wanted.values()]):
                got, _ = self._keep(cp, result)
                pks += got
                keys += _keys(cp, mode, col, got, result, plain)
            found = _found(wanted, keys, pks)
            self._done[group].update(found)
            out += [(visits, cp, hits) for dkey, (_, visits) in wanted.items()
                    if (hits := found[dkey])]
        return out

    def _keep(self, cp: CollectionPlan, result: Sequence[Sequence[Any]]
              ) -> tuple[list[PK], list[Row]]:
        """Rows as dicts and their canonical primary keys, cached."""
        rows = list(map(dict, map(zip, repeat(cp.columns), result)))
        if cp.single_pk is None:
            pks = [cp.pk_of(row) for row in rows]
        else:
            pks = list(zip(_column(result, cp.columns.index(cp.single_pk),
                                   self._hot(cp.key).plain)))
        self.rows[cp.key].update(zip(pks, rows, strict=False))
        return pks, rows

    def _select(self, cp: CollectionPlan, col: str, values: list[Any],
                cols: tuple[str, ...] | None = None) -> Iterator[Sequence[Sequence[Any]]]:
        """One result per chunk of values (one statement per chunk); ``cols``: only
        these columns."""
        conn = self.conns.get(cp.key[0])
        for stmt, params in self._statements(cp, col, values, cols):
            yield self._execute(conn, cp, stmt, params)

    def _statements(self, cp: CollectionPlan, col: str, values: list[Any],
                    cols: tuple[str, ...] | None = None) -> Iterator[tuple[Any, dict[str, Any]]]:
        """The statements of ``_select``, with their parameters: the values as one set
        parameter, or padded plain parameters, or (a composite key) an expanding list."""
        fixed = col != "*pk" or cp.single_pk is not None
        whole = self.plan.select_any(cp.key, col, cols) if fixed else None
        checked = whole is not None and self.plan.text_set(cp.key, col)
        if whole is not None:  # (its values must be distinct: ``Plan.select_any``)
            values = list(dict.fromkeys(values))
        size = self.chunk or (SET_CHUNK if whole is not None else CHUNK)
        for chunk in chunked(values, size):
            if whole is not None and (not checked or _plain_text(chunk)):
                yield whole, {"v": chunk}  # one statement text, prepared
                continue
            # no set parameter here, or a text the JSON form cannot carry: plain ones
            for part in chunked(chunk, self.chunk or CHUNK):
                if fixed:  # pad with the last value: a fixed number of parameters
                    n, params = _padded(part, self.chunk or CHUNK)
                    yield self.plan.select_in(cp.key, col, n, cols), params
                else:
                    yield self.plan.select_by(cp.key, col), {"v": part}

    def _execute(self, conn: Connection, cp: CollectionPlan, stmt: Any,
                 params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        self.queries += 1
        try:
            return driver.rows(conn, stmt, params)
        except SQLAlchemyError as exc:
            raise store_error(cp.key[0], exc) from None

    def _together(self, pending: Mapping[tuple[Table, str, str], Mapping[Any, Any]]
                  ) -> dict[tuple[Table, str, str], list[Sequence[Sequence[Any]]]]:
        """A round's lookups that are one statement each, sent together per store where
        the driver can (``driver.run_all``: one round trip for a person's addresses, orders and
        logins); their results by lookup. The others run one by one (``_select``)."""
        by_store: dict[str, list[tuple[tuple[Table, str, str], tuple[Any, dict[str, Any]]]]] = {}
        for group, wanted in pending.items():
            table, col, _ = group
            if not driver.usable(self.conns.get(table[0])):
                continue
            items = list(itertools.islice(self._statements(
                self.plan.collections[table], col, [q for q, _ in wanted.values()]), 2))
            if len(items) == 1:
                by_store.setdefault(table[0], []).append((group, items[0]))
        out: dict[tuple[Table, str, str], list[Sequence[Sequence[Any]]]] = {}
        for dataset, sent in by_store.items():
            if len(sent) < 2:
                continue
            self.queries += len(sent)
            try:
                results = driver.run_all(self.conns.get(dataset), [item for _, item in sent])
            except SQLAlchemyError as exc:
                raise store_error(dataset, exc) from None
            out.update((group, [rows]) for (group, _), rows in zip(sent, results, strict=True))
        return out

    def select_rows(self, cp: CollectionPlan, col: str, values: list[Any]
                ) -> Iterator[tuple[PK, Row]]:
        for result in self._select(cp, col, values):
            yield from zip(*self._keep(cp, result), strict=True)

    def count(self, cp: CollectionPlan, col: str, values: list[Any]) -> dict[Any, int]:
        conn = self.conns.get(cp.key[0])
        out: dict[Any, int] = {}
        whole = self.plan.count_any(cp.key, col)
        size = self.chunk or (SET_CHUNK if whole is not None else CHUNK)
        for part in chunked(values, size):
            if whole is not None:
                stmt, params = whole, {"v": part}
            else:
                n, params = _padded(part, size)
                stmt = self.plan.count_in(cp.key, col, n)
            self.queries += 1
            try:
                for value, k in conn.execute(stmt, params):
                    out[canon(value)] = int(k)
            except SQLAlchemyError as exc:
                raise store_error(cp.key[0], exc) from None
        return out

    def anything_found(self, subjects: Sequence[Subject]) -> bool:
        """Would ``run(subjects, prior=True)`` reach any row? Asks, set-wide and with
        no visit per subject, every lookup such a walk starts from: each identity at its
        seed columns, each known person by key, the rows below each known person by the
        values it had. The walk only spreads from rows these find, so when none is found
        (what an erasure leaves) the walk would find nothing; a proof then skips it."""
        wanted: dict[tuple[Table, str], set[Any]] = defaultdict(set)
        given: dict[str, set[str]] = defaultdict(set)
        persons: dict[Table, _Known] = {}
        for s in subjects:
            for kind, values in s.identities.items():
                given[kind].update(values)
            for table, pks in s.roots.items():
                known = persons.get(table)
                if known is None:
                    known = persons[table] = self._person_lookups(table, wanted)
                keys, param, had = known
                keys.update(map(param, pks))
                for vkey, (values, _) in had:
                    values.update(s.values.get(vkey, ()))
        for _, _, had in persons.values():  # each value column's values, gathered once
            for _, (values, lookups) in had:
                for into in lookups:
                    into.update(values)
        for kind, values in given.items():
            for cp, col, _group, _by_pk in self._seeds(kind):
                wanted[(cp.key, col)].update(coerce_all(cp, col, values))
        return any(any(self._select(self.plan[table], col, list(values)))
                   for (table, col), values in wanted.items() if values)

    def _person_lookups(self, table: Table, wanted: dict[tuple[Table, str], set[Any]]) -> _Known:
        """``anything_found``'s lookups from a known person table: by its key (a single
        key is its column: one lookup with the seeds there), and below it per value
        column (the values, gathered per subject, then the lookups they feed)."""
        cp = self.plan[table]
        keys = wanted[(table, cp.single_pk or "*pk")]
        had: dict[tuple[Table, str], tuple[set[Any], list[set[Any]]]] = {}
        for d in self._hot(table).down:
            had.setdefault((table, d[0]), (set(), []))[1].append(wanted[(d[2].key, d[3])])
        return keys, itemgetter(0) if cp.single_pk else cp.pk_param, list(had.items())

    # -- the walk --------------------------------------------------------------
    def run(self, subjects: list[Subject], *, prior: bool = False) -> WalkResult:
        """Resolve then spread. ``prior``: subjects come with known person keys
        (a proof or resume), whose rows may be gone but whose references count."""
        self._resolve(subjects, prior=prior)
        if self.resolved is not None:
            self.resolved(subjects)
        live = [i for i, s in enumerate(subjects) if s.problem is None]
        collections, seed_rows = self.plan.collections, self._seed_rows
        for i in live:
            s = subjects[i]
            for table, pks in s.roots.items():
                cp = collections[table]
                for pk in pks:
                    if pk in self.rows[table]:
                        self._process(i, s, cp, pk, _OWN)
                    if prior:
                        self._virtual_down(i, s, cp, pk)
            if i in seed_rows:
                self._arrive([((visit,), cp, (pk,)) for visit, cp, pk in seed_rows[i]], subjects)
        self._spread(subjects)
        self._expand_lane(subjects)
        return WalkResult(self.plan, self.rows, subjects, self.queries, self._lane_rows)

    def _resolve(self, subjects: list[Subject], *, prior: bool) -> None:
        # the first round seeds each subject's identities as given (only read: what the
        # round learns goes into a new ``fresh``)
        fresh: dict[int, dict[str, set[str]]] = dict(enumerate(s.identities for s in subjects))
        if prior:
            for i, s in enumerate(subjects):
                for table, known in s.roots.items():
                    for pk in known:
                        self._want(table, "*pk", "pk", pk, self.plan[table].pk_param(pk),
                                   (i, "pk", "", _NOWHERE, None, 0))
        while fresh or self._pending or self._ready:
            for i, per_type in fresh.items():
                self._seed(i, per_type)
            fresh = _fresh()
            self._resolve_round(subjects, fresh)
            fresh = {i: d for i, d in fresh.items() if d}

    def _resolve_round(self, subjects: list[Subject], fresh: dict[int, dict[str, set[str]]]
                       ) -> None:
        """The rows the round's lookups found: people, and rows seeding the walk."""
        last = None
        for visits, cp, pks in self._flush():
            if cp is not last:
                last, rows, hot = cp, self.rows[cp.key], self._hot(cp.key)
            for pk in pks:
                for visit in visits:
                    s = subjects[visit[0]]
                    if s.problem is not None:
                        continue
                    if cp.root and (visit[1] in ("root", "pk") or hot.belongs[visit[2]] is None):
                        self._add_root(s, visit[0], hot, pk, rows[pk], fresh)  # a person
                    else:
                        self._resolved(s, visit, cp, pk, rows[pk], fresh)

    def _seed(self, i: int, per_type: Mapping[str, Iterable[str]]) -> None:
        for kind, values in per_type.items():
            for cp, col, group, by_pk in self._seeds(kind):
                for v in values:
                    qv = coerce(cp, col, v)
                    if qv is not None:
                        self._want_in(group, cp, by_pk, v, qv, (i, "seed", col, _NOWHERE, None, 0))

    def _seeds(self, kind: str) -> tuple[tuple[CollectionPlan, str, tuple[Table, str, str], bool],
                                         ...]:
        """The identity columns of ``kind``: collection, column, lookup group, is its key."""
        seeds = self.plan.hot.get(("seeds", kind))
        if seeds is None:
            seeds = self.plan.hot[("seeds", kind)] = tuple(
                (cp, col, (table, col, "id:" + kind), col == cp.single_pk)
                for table, col in self.plan.seeds.get(kind, ())
                for cp in [self.plan.collections[table]])
        return seeds

    def _resolved(self, s: Subject, visit: Visit, cp: CollectionPlan, pk: PK,  # noqa: PLR0917
                  row: Row, fresh: dict[int, dict[str, set[str]]]) -> None:
        si, kind, col = visit[0], visit[1], visit[2]
        hot = self._hot(cp.key)
        if kind in ("root", "pk"):
            self._add_root(s, si, hot, pk, row, fresh)
            return
        owner = hot.belongs[col]
        if cp.root and owner is None:
            self._add_root(s, si, hot, pk, row, fresh)
        elif owner is not None and owner in cp.refs and row[owner] is not None:
            edge = cp.refs[owner]
            if self.plan[edge.parent].root:
                value = canon(row[owner])
                self._want(edge.parent, edge.parent_col, "val", value, value,
                           (si, "root", "", _NOWHERE, None, 0))
            else:
                self._seed_rows[si].append((visit, cp, pk))
        elif owner is not None and owner in cp.identity:
            merged = normal(cp.identity[owner], row[owner])
            if merged and merged not in s.identities.setdefault(cp.identity[owner], set()):
                s.identities[cp.identity[owner]].add(merged)
                fresh[si][cp.identity[owner]].add(merged)
        else:
            self._seed_rows[si].append((visit, cp, pk))

    def _add_root(self, s: Subject, i: int, hot: _Hot, pk: PK, row: Row,  # noqa: PLR0917
                  fresh: dict[int, dict[str, set[str]]]) -> None:
        cp = hot.cp
        known = s.roots[cp.key]
        new = pk not in known
        if new:
            known.add(pk)
            if len(known) > 1:
                s.problem = (f"the identities match {len(known)} different people "
                             f"(rows of {cp.name}); give an identity that names one person")
                return
        _register(s.values, hot, row)
        if not new:
            return
        identities = s.identities
        for col, kind, only_self in hot.learn:
            raw = row[col]
            value = normal(kind, raw)
            if value:
                known_kind = identities.get(kind)
                if known_kind is None:
                    known_kind = identities[kind] = set()
                if value not in known_kind:
                    known_kind.add(value)
                    # the row's key, when the only place ``kind`` is sought, would be
                    # sought only to find this very row again (no query; the visit
                    # changes nothing): not sought (a shortcut)
                    if not (only_self and coerce(cp, col, value) == raw):
                        fresh[i][kind].add(value)

    def _virtual_down(self, i: int, s: Subject, cp: CollectionPlan, pk: PK) -> None:
        origin = (cp.key, pk)
        hot = self._hot(cp.key)
        for parent_col, target in hot.lane_seeds:
            for v in s.values.get((cp.key, parent_col), ()):
                _owned_by(self._lane_want, target, v, i, None)
        for parent_col, group, child, col, by_pk, fast, _ in hot.rest_down:
            for v in s.values.get((cp.key, parent_col), ()):
                self._want_in(group, child, by_pk, v, v, (i, "down", col, origin, _OWN, fast))

    def _process(self, i: int, s: Subject, cp: CollectionPlan, pk: PK, role: Role) -> None:
        """Give a row its role for ``s`` and schedule the edges that role follows."""
        theirs = s.rows[cp.key]
        current = theirs.get(pk)
        if current is None or current < role:
            self._give(i, s, self._hot(cp.key), self.rows[cp.key], theirs, pk, role)

    def _give(self, i: int, s: Subject, hot: _Hot, cache: dict[PK, Row],  # noqa: PLR0917
              theirs: dict[PK, Role], pk: PK, role: Role) -> None:
        """``_process`` for a row whose role rises (the hot path: wants inlined)."""
        theirs[pk] = role
        if role is _LINKED:
            return
        row = cache[pk]
        root = role is _OWN and pk in s.roots.get(hot.key, ())
        if role is _OWN and not root:  # (a person row's values: registered when found)
            _register(s.values, hot, row)
        if hot.admin and row[hot.admin] is not None:
            s.administered.add((hot.key, hot.admin, canon(row[hot.admin])))
        if hot.lane_down and root:
            self._seed_lane(i, hot, row)  # their own person row: the lane finds the rest
            if hot.rest_down:
                self._down(i, hot, hot.rest_down, pk, row, role)
        elif hot.down:
            self._down(i, hot, hot.down, pk, row, role)
        if hot.up and (role is _OWN or hot.context):
            self._up(i, s, hot, pk, row)

    def _down(self, i: int, hot: _Hot, down: tuple[_Down, ...], pk: PK, row: Row,  # noqa: PLR0917
              role: Role) -> None:
        """The rows referring to this one: ``_want(child, col, "val", v, v, visit)``
        inlined (a lookup answered before, a row known by its key, or a new one)."""
        origin = (hot.key, pk)
        ready, rows, pending, done_all = self._ready, self.rows, self._pending, self._done
        for parent_col, group, child, child_col, by_pk, own, anon in down:
            v = row[parent_col]
            if v is None:
                continue
            v = v if type(v) in _PLAIN else canon(v)
            visit: Visit = (i, "down", child_col, origin, role,
                            own if role is _OWN else role if anon else 0)
            done = done_all[group].get(v)
            if done is not None:
                if done:
                    ready.append(((visit,), child, done))
            elif by_pk and (v,) in rows[group[0]]:
                ready.append(((visit,), child, ((v,),)))
            elif (slot := (wanted := pending[group]).get(v)) is None:
                wanted[v] = (v, [visit])
            else:
                slot[1].append(visit)

    def _seed_lane(self, i: int, hot: _Hot, row: Row) -> None:
        want, mine = self._lane_want, None
        for parent_col, target in hot.lane_seeds:
            v = row[parent_col]
            if v is not None:
                mine = _owned_by(want, target, v if type(v) in _PLAIN else canon(v), i, mine)

    # -- the erasure lane ------------------------------------------------------------
    def _expand_lane(self, subjects: list[Subject]) -> None:
        """Below the subjects' own person rows, the lane's collections (see
        ``erase.lane_of``): every row reached is the subject's own, so only keys and
        the columns leading further down are read, and rows are filed by subject
        column-wise, without a visit per row. Depth by depth (the lane is a tree)."""
        want, self._lane_want = self._lane_want, {}
        lanes = [s.lane if s.problem is None else None for s in subjects]
        while want:
            deeper: dict[tuple[Table, str], dict[Any, set[int]]] = {}
            for (key, col), owners in want.items():
                cp = self.plan[key]
                shape = _lane_shape(self.plan, cp, col)
                found = self._lane_rows.get(key)
                if found is None:
                    found = self._lane_rows[key] = ([], [])
                for result in self._select(cp, col, list(owners), shape[0]):
                    _file_lane(lanes, key, owners, result, shape, deeper, found)
            want = deeper

    def _up(self, i: int, s: Subject, hot: _Hot, pk: PK, row: Row) -> None:
        """The context a row of the subject points at (the thread, the order)."""
        origin = (hot.key, pk)
        for child_col, group, parent, by_pk in hot.up:
            v = row[child_col]
            if v is None:
                continue
            v = v if type(v) in _PLAIN else canon(v)
            if by_pk and hot.shortcuts and s.rows.get(parent.key, {}).get((v,)) is _OWN:
                continue  # already the subject's own: arriving there would change nothing
            self._want_in(group, parent, by_pk, v, v, (i, "up", child_col, origin, None, 0))

    def role_of(self, s: Subject, cp: CollectionPlan, row: Row, pk: PK,
                inherit: Role | None) -> Role | None:
        if cp.root and pk in s.roots.get(cp.key, ()):
            return _OWN
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
            return _SHARED if other else _OWN
        for c in cp.side_naming:
            if s.names(cp, c, row[c]):
                return _SHARED
        if named:  # someone else's row
            return _LINKED if inherit is _LINKED else None
        return inherit

    def _arrive(self, batches: Iterable[Batch], subjects: list[Subject]) -> None:
        """Each visit reaches its rows (rows outermost): note the child, give the role.
        Shortcuts, each giving what ``role_of`` would: a row already OWN stays so; a
        visit's ``fast`` role (see ``fast_of``); a row naming nobody takes the role it
        is reached with."""
        last = None
        for visits, cp, pks in batches:
            if cp is not last:
                last, hot, cache = cp, self._hot(cp.key), self.rows[cp.key]
            if len(visits) != 1:
                for pk in pks:
                    for visit in visits:
                        self._arrive_one(visit, hot, cache, (pk,), subjects)
            elif visits[0][5] and hot.bulk:
                self._arrive_fixed(visits[0], hot, cache, pks, subjects)
            else:
                self._arrive_one(visits[0], hot, cache, pks, subjects)

    def _arrive_one(self, visit: Visit, hot: _Hot, cache: dict[PK, Row],
                    pks: Sequence[PK], subjects: list[Subject]) -> None:
        si, kind, col, origin, inherit, fast = visit
        s = subjects[si]
        if s.problem is not None:
            return
        cp, key = hot.cp, hot.key
        if kind == "down":
            base = inherit
            s.children[origin].update(zip(repeat(key), pks, repeat(col)))
        else:
            base = _LINKED if kind == "up" else None
        known = bool(fast) or hot.anonymous
        fixed = _ROLES[fast & 3] if fast else base
        if known and fixed is None:
            return
        theirs = s.rows.get(key)
        for pk in pks:
            current = None if theirs is None else theirs.get(pk)
            if current is _OWN and hot.shortcuts:
                continue  # nothing to raise
            role = fixed if known else self.role_of(s, cp, cache[pk], pk, base)
            if role is not None and (current is None or role > current):
                if theirs is None:
                    theirs = s.rows[key]
                self._give(si, s, hot, cache, theirs, pk, role)

    def _arrive_fixed(self, visit: Visit, hot: _Hot, cache: dict[PK, Row],
                      pks: Sequence[PK], subjects: list[Subject]) -> None:
        """``_arrive_one`` for a down visit whose rows all take its ``fast`` role, in a
        ``bulk`` collection: rows new to the subject are given it together (each
        structure sees the same insertions in the same order as row by row)."""
        si, _, col, origin, _, fast = visit
        s = subjects[si]
        if s.problem is not None:
            return
        key, role = hot.key, _ROLES[fast & 3]
        assert role is not None
        theirs = s.rows.get(key)
        if len(pks) == 1:  # the common case, spelt out
            pk = pks[0]
            s.children[origin].add((key, pk, col))
            if theirs is not None and pk in theirs:
                if theirs[pk] < role:
                    self._give(si, s, hot, cache, theirs, pk, role)
                return
            s.rows[key][pk] = role
            if role is _OWN and pk[0] is not None:
                for _, vkey in hot.values:  # the key alone: its canonical value
                    s.values[vkey].add(pk[0])
        else:
            s.children[origin].update(zip(repeat(key), pks, repeat(col)))
            if theirs is not None and not theirs.keys().isdisjoint(pks):
                for pk in pks:  # some seen before: row by row
                    if (current := theirs.get(pk)) is None or current < role:
                        self._give(si, s, hot, cache, theirs, pk, role)
                return
            self._give_all(s, hot, pks, role)
        if role is not _LINKED and hot.up and not fast & NO_UP and (
                role is _OWN or hot.context):
            for pk in dict.fromkeys(pks):
                self._up(si, s, hot, pk, cache[pk])

    @staticmethod
    def _give_all(s: Subject, hot: _Hot, pks: Sequence[PK], role: Role) -> None:
        """``_give`` (up edges aside) to rows new to the subject, in a ``bulk`` collection."""
        s.rows[hot.key].update(zip(pks, repeat(role)))
        if role is _OWN:
            vals = [v for v in map(itemgetter(0), pks) if v is not None]
            for _, vkey in hot.values:  # the key alone: its canonical value
                if vals:
                    s.values[vkey].update(vals)

    def _spread(self, subjects: list[Subject]) -> None:
        checked: set[tuple[int, Table, PK]] = set()
        while True:
            while self._pending or self._ready:
                self._arrive(self._flush(), subjects)
            if not self._exclusive(subjects, checked):
                return

    def _exclusive(self, subjects: list[Subject], checked: set[tuple[int, Table, PK]]) -> bool:
        """Upgrade linked rows naming nobody that only the subject's rows refer to."""
        wanted: dict[Table, list[tuple[int, PK]]] = defaultdict(list)
        for i, s in enumerate(subjects):
            if s.problem is not None:
                continue
            for table, by_pk in s.rows.items():
                cp = self.plan.collections[table]
                if cp.root or not cp.down or _LINKED not in by_pk.values():
                    continue  # (the membership test scans in C)
                for pk, role in by_pk.items():
                    if role is _LINKED and (i, table, pk) not in checked and all(
                            self.rows[table][pk][c] is None for c in cp.naming):
                        checked.add((i, table, pk))
                        wanted[table].append((i, pk))
        upgraded = False
        for table, items in wanted.items():
            for i, pk in self._only_referred_by_subject(subjects, self.plan[table], items):
                self._process(i, subjects[i], self.plan[table], pk, _OWN)
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


def _register(values: dict[tuple[Table, str], set[Any]], hot: _Hot, row: Row) -> None:
    """The values of an own row other rows are found by, canonical, into
    ``Subject.values``."""
    for col, vkey in hot.values:
        v = row[col]
        if v is not None:
            values[vkey].add(v if type(v) in _PLAIN else canon(v))


def _lane_shape(plan: Plan, cp: CollectionPlan, col: str) -> _LaneShape:
    """What a lane lookup reads: the looked-up column, the key, the columns its own lane
    children are found by (with where each goes); and whether its values are canonical
    as fetched (``_CANONICAL``)."""
    shape = plan.hot.get(("lane-shape", cp.key, col))
    if shape is None:
        cols = [col, *cp.pk]
        below = []
        for e in cp.down:
            if e.parent_col not in cols:
                cols.append(e.parent_col)
            below.append((cols.index(e.parent_col), (e.child, e.child_col)))
        shape = plan.hot[("lane-shape", cp.key, col)] = (
            tuple(cols), len(cp.pk), tuple(below), plan.dialect_of(cp.key) in _CANONICAL)
    return shape


def _file_lane(lanes: list[dict[Table, int] | None], key: Table,  # noqa: PLR0917
               owners: Mapping[Any, set[int]], result: Sequence[Sequence[Any]],
               shape: _LaneShape, deeper: dict[tuple[Table, str], dict[Any, set[int]]],
               found: LaneRows) -> None:
    """Keep each fetched lane row with the subjects whose row it hangs off, and count it
    for each of them (column-wise: the owners' sets are shared down, never changed, so
    rows are counted per distinct set). ``lanes``: each subject's ``lane`` counts
    (``None`` for a subject stopped with a problem)."""
    if not result:
        return
    _, npk, below, plain = shape
    links = _column(result, 0, plain)
    whose = list(map(owners.get, links))
    pks = _lane_keys(result, npk, plain)
    for j, group in below:
        _hand_down(deeper.setdefault(group, {}), _column(result, j, plain), whose)
    if not all(whose):  # None: a value no owner asked for, not theirs (a set is never empty)
        kept = [(pk, who) for pk, who in zip(pks, whose, strict=True) if who is not None]
        pks, whose = [pk for pk, _ in kept], [who for _, who in kept]
    found[0].extend(pks)
    found[1].extend(cast(list[set[int]], whose))
    # counted per link value (in C), then handed to that value's owners
    for link, n in Counter(links).items():
        for i in owners.get(link, ()):
            lane = lanes[i]
            if lane is not None:
                lane[key] = lane.get(key, 0) + n


def _lane_keys(result: Sequence[Sequence[Any]], npk: int, plain: bool) -> list[PK]:
    if npk == 1:
        return list(zip(_column(result, 1, plain)))
    if plain:
        return [tuple(row[1:1 + npk]) for row in result]
    return [tuple(x if type(x) in _PLAIN else canon(x) for x in row[1:1 + npk])
            for row in result]


def _owned_by(want: dict[tuple[Table, str], dict[Any, set[int]]], target: tuple[Table, str],
              v: Any, i: int, mine: set[int] | None) -> set[int] | None:
    """Subject ``i`` asks for the lane rows of ``target`` whose link is ``v``. Owner sets
    are shared (one ``{i}`` for every lane edge of a row; ``_hand_down`` passes them
    down), so one is never changed: a second owner makes a new set. Returns the set
    ``{i}`` shared by the row's edges (``mine``, made here when first needed)."""
    into = want.get(target)
    if into is None:
        into = want[target] = {}
    owners = into.get(v)
    if owners is None:
        if mine is None:
            mine = {i}
        into[v] = mine
    elif i not in owners:
        into[v] = owners | {i}
    return mine


def _hand_down(into: dict[Any, set[int]], links: list[Any], whose: list[set[int] | None]
               ) -> None:
    """The next lane level: each link value, asked for by the owners of its row."""
    for w, who in zip(links, whose, strict=True):
        if w is None or who is None:
            continue
        known = into.get(w)
        into[w] = who if known is None or known is who else known | who


def _fresh() -> dict[int, dict[str, set[str]]]:
    return defaultdict(lambda: defaultdict(set))


def _own_referring(s: Subject, child: CollectionPlan, cache: Mapping[PK, Row], col: str,
                   value: Any) -> int:
    return sum(1 for pk, role in s.rows.get(child.key, {}).items()
               if role is _OWN and canon(cache[pk][col]) == value)


def _plain_text(values: list[Any]) -> bool:
    """Texts only, none holding a NUL: what SQLite's JSON reader carries exactly."""
    return set(map(type, values)) <= {str} and "\x00" not in "".join(values)


def _padded(part: list[Any], chunk: int) -> tuple[int, dict[str, Any]]:
    """Parameters ``p0..`` for one chunk, padded with its last value (``IN`` ignores
    the repeats) to one of a few sizes, so each size is compiled once."""
    n = bucket(len(part), chunk)
    return n, dict(zip(param_names(n), part + part[-1:] * (n - len(part)), strict=True))


def _found(wanted: Mapping[Any, Any], keys: list[Any], pks: list[PK]
           ) -> dict[Any, Sequence[PK]]:
    """The rows answering each wanted lookup key (``()``: none), in fetch order."""
    found: dict[Any, Sequence[PK]] = dict.fromkeys(wanted, ())
    distinct = set(keys)
    if len(distinct) == len(keys) and distinct <= wanted.keys():  # one row per key: in C
        found.update(zip(keys, map(list, zip(pks)), strict=False))
        return found
    hits: dict[Any, list[PK]] = {}
    for key, pk in zip(keys, pks, strict=False):
        if key in wanted:
            hits.setdefault(key, []).append(pk)
    found.update(hits)
    return found


def _column(result: Sequence[Sequence[Any]], j: int, plain: bool) -> list[Any]:
    """Column ``j`` of a result, canonical (map and the type test run in C); ``plain``:
    canonical as fetched (``_CANONICAL``), not tested."""
    values = list(map(itemgetter(j), result))
    if not plain and not set(map(type, values)) <= _PLAIN:
        values = [canon(v) for v in values]
    return values


def _keys(cp: CollectionPlan, mode: str, col: str, pks: list[PK],  # noqa: PLR0917
          result: Sequence[Sequence[Any]], plain: bool) -> list[Any]:
    """Each fetched row's lookup key in ``mode`` (what ``_want`` filed it under)."""
    if mode == "pk":
        return pks
    j = cp.columns.index(col)
    if mode == "val":
        return _column(result, j, plain)
    kind = mode[3:]
    return normals(kind, map(itemgetter(j), result))
