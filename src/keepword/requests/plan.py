"""The traversal plan: the data map compiled for requests, once per version.

Compiling answers, per collection, the questions a request asks of every row it
meets, so the hot path only looks things up:

- **person tables** (roots): collections whose primary key carries an identity
  (``users.id`` with ``identity: account_id``). One row of a person table is one
  person; an identity matching two rows of one person table stops the request.
- **naming columns**: columns that say whose data a row holds -- identity
  columns, references to person tables, and columns named by ``belongs_to``.
- **owner tier**: the naming columns that own the row as a whole (collection
  ``belongs_to``; else the person table's identity key; else the row's identity
  columns; else its references to person tables).
- **edges**: ``down`` (rows of another collection referring to this one: the
  walk follows them from the subject's rows) and ``up`` (this collection's
  references to non-person collections: the walk reaches the thread of a
  message, the call of a participation, but never goes back down from there).

The plan also prebuilds the SQLAlchemy tables and ``IN`` statements (``select_in``:
a few fixed numbers of plain parameters, so SQLAlchemy compiles each once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from keepword.datamap import DataMap, Erasure, Field_
from keepword.datamap.models import FieldType
from keepword.errors import InputError
from keepword.identities import normalise
from keepword.sqlsets import binds_set, member_of, select_members
from keepword.stores import StoreResolver

Table = tuple[str, str]  # (dataset, collection)


_SA_TYPES: dict[FieldType, type[sa.types.TypeEngine[Any]]] = {
    FieldType.STRING: sa.String, FieldType.INTEGER: sa.BigInteger, FieldType.FLOAT: sa.Float,
    FieldType.BOOLEAN: sa.Boolean, FieldType.DATE: sa.Date, FieldType.DATETIME: sa.DateTime,
    FieldType.JSON: sa.JSON, FieldType.BYTES: sa.LargeBinary,
}

MASKS: dict[FieldType | None, Any] = {
    None: "[erased]", FieldType.STRING: "[erased]", FieldType.INTEGER: 0, FieldType.FLOAT: 0.0,
    FieldType.BOOLEAN: False, FieldType.DATE: date(1970, 1, 1),
    FieldType.DATETIME: datetime(1970, 1, 1), FieldType.JSON: {}, FieldType.BYTES: b"",
}


@dataclass(frozen=True)
class Edge:
    """A reference ``child.child_col -> parent.parent_col``."""

    child: Table
    child_col: str
    parent: Table
    parent_col: str


@dataclass
class CollectionPlan:
    key: Table
    table: sa.Table
    pk: tuple[str, ...]
    columns: tuple[str, ...]
    fields: dict[str, Field_]
    root: bool
    identity: dict[str, str]  # naming identity column -> identity type
    refs: dict[str, Edge]  # every reference column -> its edge (first target)
    person_refs: frozenset[str]  # reference columns pointing at a person table
    naming: frozenset[str]
    tier: tuple[str, ...]  # naming columns owning the row as a whole
    tier_joint: bool  # tier columns all name one person (identities, person key)
    owner: dict[str, str | None]  # column -> naming column owning it (None: the row)
    personal: tuple[str, ...]
    down: tuple[Edge, ...] = ()
    up: tuple[Edge, ...] = ()
    administered_by: str | None = None
    value_cols: frozenset[str] = frozenset()  # columns other rows refer to
    single_pk: str | None = None
    side_naming: tuple[str, ...] = ()  # naming columns outside the owner tier
    strategies: tuple[tuple[str, Erasure], ...] = ()  # columns erasure may change
    unlinkable: frozenset[str] = frozenset()  # references erasure can set to NULL
    live_not_null: frozenset[str] = frozenset()  # NOT NULL in the live store (``live_plan``)
    # columns an index of the live store leads with: looked up by a set joined to the
    # table, not ``IN`` (``Plan.select_any``)
    live_searchable: frozenset[str] = frozenset()
    # integer columns (``coerce``: read per identity; a field's type is a pydantic
    # attribute and an enum member, each read through a Python-level hook)
    integers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.single_pk = self.pk[0] if len(self.pk) == 1 else None
        self.side_naming = tuple(c for c in sorted(self.naming) if c not in self.tier)
        self.strategies = tuple((c, s) for c in self.columns
                                if (s := self.strategy(c)) is not None)
        self.unlinkable = frozenset(c for c in self.refs if self.nullable(c))
        self.integers = frozenset(c for c, f in self.fields.items()
                                  if f.type is FieldType.INTEGER)

    @property
    def name(self) -> str:
        return f"{self.key[0]}.{self.key[1]}"

    @property
    def shared_context(self) -> bool:
        """Row-level fields are common to several participants (a message, a call)."""
        return not self.tier_joint and len(self.tier) > 1

    def nullable(self, col: str) -> bool:
        """May erasure write NULL here? Not when the data map or the live store says no."""
        return (col not in self.pk and self.fields[col].nullable is not False
                and col not in self.live_not_null)

    def strategy(self, col: str) -> Erasure | None:
        """Declared strategy; default ``null`` for personal fields (mask when NOT NULL),
        and for a link naming the person: unlink (null), or drop the row when NOT NULL."""
        fld = self.fields[col]
        if fld.erasure is not None:
            return fld.erasure
        if col in self.refs and col in self.naming:
            return Erasure.NULL if self.nullable(col) else Erasure.DELETE_ROW
        if col in self.pk:
            return None
        if fld.personal:
            return Erasure.NULL if self.nullable(col) else Erasure.MASK
        return None

    def mask(self, col: str) -> Any:
        return MASKS[self.fields[col].type]

    def pk_expr(self) -> ColumnElement[Any]:
        cols = [self.table.c[c] for c in self.pk]
        return cols[0] if len(cols) == 1 else sa.tuple_(*cols)

    def pk_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(canon(row[c]) for c in self.pk)

    def pk_param(self, pk: tuple[Any, ...]) -> Any:
        return pk[0] if len(pk) == 1 else pk


@dataclass
class Plan:
    """Everything a request needs to know about the data map."""

    version: tuple[str, str]
    collections: dict[Table, CollectionPlan]
    seeds: dict[str, list[tuple[Table, str]]]  # identity type -> identity columns
    delete_order: list[Table]  # children before parents
    dialects: dict[str, str] = field(default_factory=dict)  # dataset -> its store's backend
    _select: dict[tuple[Table, str], sa.Select[Any]] = field(default_factory=dict)
    _fixed: dict[tuple[Any, ...], sa.Select[Any]] = field(default_factory=dict)
    # what the walk's hot loops look up per collection, derived once (walk.py fills it)
    hot: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: Table) -> CollectionPlan:
        return self.collections[key]

    def dialect_of(self, key: Table) -> str:
        """The backend of the collection's store (``sqlite``, ``postgresql``, ``mysql``)."""
        return self.dialects.get(key[0], "")

    def with_live(self, not_null: dict[Table, frozenset[str]],
                  searchable: dict[Table, frozenset[str]]) -> Plan:
        """This plan for stores whose columns ``not_null`` refuse NULL (strategies and
        unlinkable references derived again) and whose ``searchable`` columns an index
        leads with; the statements are shared."""
        live = {t: (not_null.get(t, cp.live_not_null), searchable.get(t, cp.live_searchable))
                for t, cp in self.collections.items()}
        changed = {t: pair for t, pair in live.items() if pair != (
            self.collections[t].live_not_null, self.collections[t].live_searchable)}
        if not changed:
            return self
        collections = {t: replace(cp, live_not_null=changed[t][0],
                                  live_searchable=changed[t][1]) if t in changed else cp
                       for t, cp in self.collections.items()}
        return replace(self, collections=collections, hot={})

    @property
    def identity_types(self) -> set[str]:
        return set(self.seeds)

    def select_by(self, key: Table, col: str) -> sa.Select[Any]:
        """``SELECT <declared columns> FROM t WHERE col IN (:v)`` (expanding)."""
        stmt = self._select.get((key, col))
        if stmt is None:
            cp = self.collections[key]
            target = cp.pk_expr() if col == "*pk" else cp.table.c[col]
            stmt = sa.select(*(cp.table.c[c] for c in cp.columns)).where(
                target.in_(sa.bindparam("v", expanding=True)))
            self._select[(key, col)] = stmt
        return stmt

    def select_in(self, key: Table, col: str, n: int, cols: tuple[str, ...] | None = None
                  ) -> sa.Select[Any]:
        """``select_by`` with ``n`` plain parameters ``p0..``: compiled once by
        SQLAlchemy's cache (an expanding ``IN`` is re-rendered at every execution).
        ``cols``: only these columns (default: every declared one)."""
        stmt = self._fixed.get(("select", key, col, n, cols))
        if stmt is None:
            cp = self.collections[key]
            target = cp.single_pk if col == "*pk" else col
            assert target is not None, "a composite key takes select_by"
            stmt = sa.select(*(cp.table.c[c] for c in cols or cp.columns)).where(
                _in(cp.table.c[target], n))
            self._fixed[("select", key, col, n, cols)] = stmt
        return stmt

    def select_any(self, key: Table, col: str, cols: tuple[str, ...] | None = None
                   ) -> sa.Select[Any] | None:
        """``select_by`` with the values as one parameter (``sqlsets.select_members``:
        the values must be distinct); ``None`` where the store cannot take this
        column's values so. On SQLite a text column's statement takes only texts without
        a NUL (``text_set``; its JSON reader cuts a text there): the caller checks each
        chunk."""
        cp = self.collections[key]
        name = cp.single_pk if col == "*pk" else col
        assert name is not None, "a composite key takes select_by"
        join = name in cp.live_searchable
        stmt = self._fixed.get(("any", key, col, join, cols))
        if stmt is None:
            target, dialect = cp.table.c[name], self.dialect_of(key)
            text = self.text_set(key, col)
            if not binds_set(target, dialect, own_text=text):
                return None
            stmt = select_members([cp.table.c[c] for c in cols or cp.columns], cp.table,
                                  target, "v", dialect, own_text=text, join=join)
            self._fixed[("any", key, col, join, cols)] = stmt
        return stmt

    def text_set(self, key: Table, col: str) -> bool:
        """Does ``select_any`` take this column's values as one JSON text on SQLite? Then
        a chunk holding anything but NUL-free text takes ``select_in`` instead."""
        cp = self.collections[key]
        name = cp.single_pk if col == "*pk" else col
        kind = cp.table.c[name].type if name is not None else None
        return (self.dialect_of(key) == "sqlite" and isinstance(kind, sa.String)
                and not isinstance(kind, sa.Enum))

    def count_any(self, key: Table, col: str) -> sa.Select[Any] | None:
        """``SELECT col, count(*) ... WHERE col in :v GROUP BY col``, the values as one
        parameter; ``None`` where the store cannot take this column's values so."""
        stmt = self._fixed.get(("count-any", key, col, 0))
        if stmt is None:
            c, dialect = self.collections[key].table.c[col], self.dialect_of(key)
            if not binds_set(c, dialect):
                return None
            stmt = (sa.select(c, sa.func.count()).where(member_of(c, "v", dialect))
                    .group_by(c))
            self._fixed[("count-any", key, col, 0)] = stmt
        return stmt

    def count_in(self, key: Table, col: str, n: int) -> sa.Select[Any]:
        """``SELECT col, count(*) ... WHERE col IN (p0..) GROUP BY col``, ``n`` plain
        parameters."""
        stmt = self._fixed.get(("count", key, col, n))
        if stmt is None:
            c = self.collections[key].table.c[col]
            stmt = sa.select(c, sa.func.count()).where(_in(c, n)).group_by(c)
            self._fixed[("count", key, col, n)] = stmt
        return stmt


@lru_cache(maxsize=64)
def param_names(n: int) -> tuple[str, ...]:
    return tuple(f"p{i}" for i in range(n))


def bucket(m: int, chunk: int) -> int:
    """Parameters for ``m`` values: the next power of two (at least 8), at most
    ``chunk``, so a few statements serve every chunk (the rest is padding)."""
    n = 8
    while n < m:
        n *= 2
    return max(m, min(n, chunk))


def _in(col: sa.ColumnElement[Any], n: int) -> ColumnElement[bool]:
    # typed like the column (bare bind parameters in IN stay untyped)
    return col.in_([sa.bindparam(p, type_=col.type) for p in param_names(n)])


def canon(value: Any) -> Any:
    """One spelling per value so keys from different drivers compare equal."""
    if isinstance(value, memoryview):
        return bytes(value)
    if type(value).__name__ == "Decimal" and value == int(value):
        return int(value)
    return value


def coerce(cp: CollectionPlan, col: str, value: str) -> Any:
    """An identity given as text, in the column's type; ``None`` if it cannot be one."""
    if col in cp.integers:
        try:
            return int(value)
        except ValueError:
            return None
    return value


def coerce_all(cp: CollectionPlan, col: str, values: Iterable[str]) -> Iterable[Any]:
    """``coerce`` of each value, those that can be one: only an integer column changes
    or refuses any, so another's come back as given (no call per value)."""
    if col not in cp.integers:
        return values
    return [qv for v in values if (qv := coerce(cp, col, v)) is not None]


def normal(kind: str, value: Any) -> str | None:
    """Normalised identity of a stored value; ``None`` when it is not a valid one."""
    if value is None:
        return None
    return _normal(kind, str(value))


def normals(kind: str, values: Iterable[Any]) -> list[str | None]:
    """``normal`` of each value (one call for a whole result column)."""
    return [None if v is None else _normal(kind, str(v)) for v in values]


@lru_cache(maxsize=1 << 16)
def _normal(kind: str, text: str) -> str | None:
    """Cached: parsing phone numbers costs more than the rest of a row's work."""
    if kind == "email":
        return text.strip().lower() or None
    try:
        return normalise(kind, text)
    except InputError:  # stored junk is simply not an identity
        return None


_CACHE: dict[tuple[str, str], Plan] = {}


def compile_plan(dm: DataMap, policy_version: str = "") -> Plan:
    """The plan for this (policy, data map) version, compiled once and cached."""
    key = (policy_version, dm.version)
    plan = _CACHE.get(key)
    if plan is None:
        plan = _compile(dm, key)
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = plan
    return plan


def live_plan(plan: Plan, dm: DataMap, stores: StoreResolver) -> Plan:
    """``plan`` with the live stores' NOT NULL columns: a data map that does not say
    ``nullable: false`` must not lead erasure to write NULL where the store refuses it
    (a row kept for others keeps such a link; a ``delete_row`` field of a kept row is
    masked); and the columns its indexes lead with (``live_searchable``). One reflection
    per store and deployment; for the requests that change data."""
    not_null: dict[Table, frozenset[str]] = {}
    searchable: dict[Table, frozenset[str]] = {}
    for dkey, loaded in dm.datasets.items():
        ds = loaded.dataset
        live = stores.live(ds)
        for ckey in ds.collections:
            cols = frozenset(c for c, ok in live.columns.get(ckey, {}).items() if not ok)
            if cols:
                not_null[(dkey, ckey)] = cols
            if ckey in live.searchable:
                searchable[(dkey, ckey)] = live.searchable[ckey]
    return plan.with_live(not_null, searchable)


def _compile(dm: DataMap, version: tuple[str, str]) -> Plan:
    roots = _roots(dm)
    edges_of: dict[Table, list[Edge]] = defaultdict(list)
    all_edges: list[Edge] = []
    for addr, fld in dm.fields():
        for ref in fld.references:
            target = dm.resolve_ref(addr.dataset, ref)
            edge = Edge(addr.table, addr.field, target.table, target.field)
            all_edges.append(edge)
            edges_of[addr.table].append(edge)
    collections = {}
    for dkey, loaded in dm.datasets.items():
        metadata = sa.MetaData(schema=loaded.dataset.store.schema_name)
        for ckey in loaded.dataset.collections:
            table = (dkey, ckey)
            collections[table] = _collection(dm, table, metadata, roots, edges_of[table])
    for edge in all_edges:
        parent = collections[edge.parent]
        parent.down = (*parent.down, edge)
        parent.value_cols = parent.value_cols | {edge.parent_col}
    for cp in collections.values():
        cp.up = tuple(e for e in edges_of[cp.key] if e.child_col not in cp.person_refs)
    seeds: dict[str, list[tuple[Table, str]]] = defaultdict(list)
    for addr, fld in dm.fields():
        if fld.identity:
            seeds[fld.identity].append((addr.table, addr.field))
            collections[addr.table].value_cols |= {addr.field}
    dialects = {d: loaded.dataset.store.kind.value for d, loaded in dm.datasets.items()}
    return Plan(version, collections, dict(seeds), _delete_order(collections, all_edges),
                dialects)


def _roots(dm: DataMap) -> set[Table]:
    out = set()
    for dkey, loaded in dm.datasets.items():
        for ckey, coll in loaded.dataset.collections.items():
            if any(coll.fields[c].identity and not coll.fields[c].belongs_to
                   for c in coll.primary_key):
                out.add((dkey, ckey))
    return out


def _collection(dm: DataMap, key: Table, metadata: sa.MetaData, roots: set[Table],
                edges: list[Edge]) -> CollectionPlan:
    coll = dm.collection(*key)
    fields = coll.fields
    refs: dict[str, Edge] = {}
    for e in edges:
        refs.setdefault(e.child_col, e)
    person_refs = frozenset(c for c, e in refs.items() if e.parent in roots)
    identity = {c: f.identity for c, f in fields.items() if f.identity and not f.belongs_to}
    explicit = {f.belongs_to for f in fields.values() if f.belongs_to}
    if coll.belongs_to:
        explicit.add(coll.belongs_to)
    naming = frozenset(set(identity) | person_refs | explicit)
    tier, joint = _tier(coll.belongs_to, key in roots, coll.primary_key, identity, person_refs)
    owner: dict[str, str | None] = {}
    for c, f in fields.items():
        if f.belongs_to:
            owner[c] = f.belongs_to
        elif c in naming and c not in tier:
            owner[c] = c
        else:
            owner[c] = None
    table = sa.Table(key[1], metadata, *(
        sa.Column(c, _SA_TYPES[f.type]() if f.type else sa.types.NullType(),
                  primary_key=c in coll.primary_key)
        for c, f in fields.items()))
    return CollectionPlan(
        key=key, table=table, pk=tuple(coll.primary_key), columns=tuple(fields),
        fields=dict(fields), root=key in roots, identity=identity, refs=refs,
        person_refs=person_refs, naming=naming, tier=tier, tier_joint=joint, owner=owner,
        personal=tuple(c for c, f in fields.items() if f.personal),
        administered_by=coll.administered_by, value_cols=frozenset(coll.primary_key))


def _tier(explicit: str | None, root: bool, pk: list[str], identity: dict[str, str],
          person_refs: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    if explicit:
        return (explicit,), True
    if root:
        return tuple(c for c in pk if c in identity), True
    if identity:
        return tuple(identity), True
    return tuple(sorted(person_refs)), len(person_refs) <= 1


def _delete_order(collections: dict[Table, CollectionPlan], edges: list[Edge]) -> list[Table]:
    """Tables ordered so that a referring table comes before the one it refers to."""
    parents: dict[Table, set[Table]] = {t: set() for t in collections}
    for e in edges:
        if e.child != e.parent:
            parents[e.child].add(e.parent)
    order: list[Table] = []
    placed: set[Table] = set()
    children: dict[Table, set[Table]] = defaultdict(set)
    for child, ps in parents.items():
        for p in ps:
            children[p].add(child)

    def visit(t: Table, stack: set[Table]) -> None:
        if t in placed or t in stack:
            return  # placed, or a cycle: break it here
        stack.add(t)
        for c in sorted(children[t]):
            visit(c, stack)
        stack.discard(t)
        placed.add(t)
        order.append(t)

    for t in sorted(collections):
        visit(t, set())
    return order
