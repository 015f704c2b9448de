"""Changes to customer stores as set-based statements, and their journal form.

An ``Op`` is one statement: ``DELETE`` or ``UPDATE ... SET`` constants on a
chunk of primary keys, or an ``UPDATE`` per row with its own values (keyed
pseudonyms) sent as one ``executemany``. Ops serialise to JSON for the
journal (dates and bytes tagged), so a resumed run writes exactly the values
first planned.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from keepword.requests.plan import CollectionPlan, Plan, Table
from keepword.requests.walk import PK, store_error
from keepword.sqlsets import CHUNK, chunk_for, chunked, member_of, update_members

Cell = tuple[Table, PK, str]


@dataclass
class Op:
    table: Table
    kind: str  # delete | update | rows
    keys: list[PK] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # update: the constants to set
    rows: list[tuple[PK, dict[str, Any]]] = field(default_factory=list)  # rows: per-row values
    affected: int | None = None  # rows the store reported changed (not journaled in payload)

    @property
    def count(self) -> int:
        return len(self.rows) if self.kind == "rows" else len(self.keys)

    def cells(self) -> Iterator[tuple[Cell, Any]]:
        """Every (cell, value) this op writes (deletes write none)."""
        if self.kind == "update":
            for pk in self.keys:
                for col, v in self.values.items():
                    yield (self.table, pk, col), v
        elif self.kind == "rows":
            for pk, vals in self.rows:
                for col, v in vals.items():
                    yield (self.table, pk, col), v

    def payload(self) -> dict[str, Any]:
        # (keys are tuples: JSON arrays as they are, without a list each)
        return {"t": list(self.table), "k": self.kind, "keys": self.keys,
                "values": {c: encode(v) for c, v in self.values.items()},
                "rows": [[pk, {c: encode(v) for c, v in vals.items()}]
                         for pk, vals in self.rows]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Op:
        return cls((data["t"][0], data["t"][1]), data["k"],
                   [tuple(k) for k in data["keys"]],
                   {c: decode(v) for c, v in data["values"].items()},
                   [(tuple(pk), {c: decode(v) for c, v in vals.items()})
                    for pk, vals in data["rows"]])


def encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    if isinstance(value, dict):
        return {"$j": value}
    return value


def decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    tag, inner = next(iter(value.items()))
    readers: dict[str, Callable[[Any], Any]] = {
        "$dt": datetime.fromisoformat, "$d": date.fromisoformat, "$b": base64.b64decode,
        "$n": Decimal, "$j": lambda x: x}
    return readers[tag](inner)


def build_ops(plan: Plan, deletes: Mapping[tuple[Table, PK], int],
              cells: dict[tuple[Table, PK], dict[str, Any]], per_row: set[Cell],
              *, chunk: int | None = None,
              lane: Mapping[Table, Sequence[PK]] | None = None) -> list[Op]:
    """Group planned changes into chunked statements: updates first, then deletes
    children before parents. ``deletes``: row -> layer within its table (rows of a
    self-referencing table go leaves first); ``lane``: more rows to delete, per table
    (layer 0). ``per_row``: cells whose value differs row by row. ``chunk``: keys per
    statement (default: what the table's store takes, ``keys_per_step``)."""
    consts: dict[tuple[Table, str], list[PK]] = defaultdict(list)
    const_values: dict[tuple[Table, str], dict[str, Any]] = {}
    rows: dict[tuple[Table, tuple[str, ...]], list[tuple[PK, dict[str, Any]]]] = defaultdict(list)
    for (table, pk), vals in sorted(cells.items(), key=lambda kv: repr(kv[0])):
        fixed = {c: v for c, v in vals.items() if (table, pk, c) not in per_row}
        varying = {c: v for c, v in vals.items() if (table, pk, c) in per_row}
        if fixed:
            sig = repr(sorted(fixed.items(), key=lambda kv: kv[0]))
            consts[(table, sig)].append(pk)
            const_values[(table, sig)] = fixed
        if varying:
            rows[(table, tuple(sorted(varying)))].append((pk, varying))
    ops: list[Op] = []
    for (table, sig), pks in sorted(consts.items(), key=lambda kv: repr(kv[0])):
        ops.extend(Op(table, "update", part, const_values[(table, sig)])
                   for part in chunked(pks, chunk or keys_per_step(plan, table)))
    for (table, _), items in sorted(rows.items(), key=lambda kv: repr(kv[0])):
        ops.extend(Op(table, "rows", rows=part) for part in chunked(items, chunk or CHUNK))
    by_table: dict[Table, dict[int, list[PK]]] = defaultdict(lambda: defaultdict(list))
    for (table, pk), layer in deletes.items():
        by_table[table][layer].append(pk)
    for table, whole in (lane or {}).items():
        first = by_table[table][0]
        if first:
            seen = set(first)
            first.extend(pk for pk in whole if pk not in seen)
        else:  # the walk found each lane row once
            first.extend(whole)
    for table in plan.delete_order:
        for _, keys in sorted(by_table.get(table, {}).items()):
            sort_keys(keys, single=plan[table].single_pk is not None)
            ops.extend(Op(table, "delete", part)
                       for part in chunked(keys, chunk or keys_per_step(plan, table)))
    return ops


def sort_keys(keys: list[PK], *, single: bool = False) -> None:
    """A stable order for a step's keys: their own order when they compare (ints, text:
    the usual case, and several times cheaper), else the order of their reprs.
    ``single``: keys of one column, sorted by their value (the same order as the 1-tuples,
    which compare through a call per element; ints, texts alone take the sort's fast
    path)."""
    try:
        keys.sort(key=_FIRST if single else None)
    except TypeError:
        keys.sort(key=repr)


_FIRST = itemgetter(0)


def keys_per_step(plan: Plan, table: Table) -> int:
    """Keys one statement of a step takes: one set parameter holds many more than a list
    of parameters (composite keys go as lists everywhere)."""
    cp = plan[table]
    if cp.single_pk is None:
        return CHUNK
    return chunk_for(cp.table.c[cp.single_pk], plan.dialect_of(table))


_P = "kw__"  # bind-parameter prefix: never clashes with a column name


def apply_many(conn: Connection, plan: Plan, ops: Sequence[Op]) -> list[int]:
    """Run ops of one store in order in one transaction (all or none); rows affected each."""
    if not ops:
        return []
    try:
        with conn.begin():
            return [_apply_one(conn, plan, op) for op in ops]
    except SQLAlchemyError as exc:
        raise store_error(ops[0].table[0], exc) from None


def _apply_one(conn: Connection, plan: Plan, op: Op) -> int:
    if op.kind == "rows":
        return _apply_rows(conn, plan, op)
    cp = plan[op.table]
    stmt = _statement(cp, op.kind, tuple(op.values), conn.dialect.name)
    keys = (list(map(itemgetter(0), op.keys)) if cp.single_pk is not None
            else [cp.pk_param(k) for k in op.keys])
    params: dict[str, Any] = {_P + "k": keys}
    params.update({_P + "v_" + c: v for c, v in op.values.items()})
    return int(conn.execute(stmt, params).rowcount)


_STATEMENTS: dict[tuple[sa.Table, str, tuple[str, ...], str], sa.Executable] = {}


def _statement(cp: CollectionPlan, kind: str, cols: tuple[str, ...], dialect: str
               ) -> sa.Executable:
    """``DELETE``/``UPDATE ... WHERE pk`` in the chunk's keys, built once per shape."""
    key = (cp.table, kind, cols, dialect)  # the table itself: an id could be reused
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        t = cp.table
        single = cp.single_pk
        where = (member_of(t.c[single], _P + "k", dialect) if single
                 else cp.pk_expr().in_(sa.bindparam(_P + "k", expanding=True)))
        changed = (update_members(t, t.c[single], _P + "k", dialect) if single
                   else sa.update(t).where(where))
        stmt = (sa.delete(t).where(where) if kind == "delete" else changed
                .values({t.c[c]: sa.bindparam(_P + "v_" + c) for c in cols}))
        if len(_STATEMENTS) > 4096:
            _STATEMENTS.clear()
        _STATEMENTS[key] = stmt
    return stmt


def _apply_rows(conn: Connection, plan: Plan, op: Op) -> int:
    cp = plan[op.table]
    t = cp.table
    cols = sorted(op.rows[0][1])
    stmt = sa.update(t).where(sa.and_(*(t.c[p] == sa.bindparam(_P + "p_" + p) for p in cp.pk))
                              ).values({t.c[c]: sa.bindparam(_P + "v_" + c) for c in cols})
    params = [{**{_P + "p_" + p: v for p, v in zip(cp.pk, pk, strict=True)},
               **{_P + "v_" + c: vals[c] for c in cols}} for pk, vals in op.rows]
    conn.execute(stmt, params)
    return len(params)
