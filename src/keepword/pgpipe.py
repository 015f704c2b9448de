"""PostgreSQL: several independent SELECTs in one round trip (psycopg's pipeline mode).

SQLAlchemy sends a statement and waits for its answer before the next; a walk round
asks several collections at once (a person's addresses, orders and logins), none
depending on another. Here each statement is compiled by SQLAlchemy once, then all
are sent together on the connection's own psycopg connection; parameters and results
go through the type processors SQLAlchemy would apply, and its cursor events fire
for each statement (listeners -- statement counters -- see every one). Anything
this cannot carry (another driver, an expanding parameter) runs the usual way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import Select


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # every parameter's compiled value (overridden at execution)
    binds: dict[str, Callable[[Any], Any]]  # parameters whose value is converted
    types: tuple[Any, ...]  # each result column's type (its processor needs the driver's)


_CACHE: dict[tuple[int, str], tuple[Select[Any], _Compiled | None]] = {}
_CACHE_MAX = 2048


def _compiled(stmt: Select[Any], dialect: Dialect) -> _Compiled | None:
    key = (id(stmt), dialect.name)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is stmt:
        return hit[1]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    made = _compile(stmt, dialect)
    _CACHE[key] = (stmt, made)
    return made


def _compile(stmt: Select[Any], dialect: Dialect) -> _Compiled | None:
    compiled = stmt.compile(dialect=dialect)
    if (compiled.post_compile_params or compiled.literal_execute_params
            or compiled.escaped_bind_names):
        return None  # rendered or renamed at execution: SQLAlchemy's part
    binds: dict[str, Callable[[Any], Any]] = {}
    defaults: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds[name] = process
        if not bind.required:
            defaults[name] = bind.effective_value
    return _Compiled(compiled.string, defaults, binds,
                     tuple(c.type for c in stmt.selected_columns))


def usable(conn: Connection) -> bool:
    """Whether ``run_all`` sends its statements together on this connection."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def run_all(conn: Connection, items: Sequence[tuple[Select[Any], Mapping[str, Any]]]
            ) -> list[list[Sequence[Any]]]:
    """The rows of each ``(statement, parameters)``, all sent in one round trip where the
    connection allows (``usable``); the driver's errors are raised as SQLAlchemy's."""
    dialect = conn.dialect
    compiled = [_compiled(stmt, dialect) for stmt, _ in items] if usable(conn) else []
    if len(items) < 2 or not compiled or any(c is None for c in compiled):
        return [list(conn.execute(stmt, params).all()) for stmt, params in items]
    raw = conn.connection.driver_connection
    assert raw is not None
    sent: list[tuple[_Compiled, Any, dict[str, Any]]] = []
    try:
        with raw.pipeline():
            for c, (_, params) in zip(compiled, items, strict=True):
                assert c is not None
                args = {**c.defaults, **params}
                for name, process in c.binds.items():
                    args[name] = process(args[name])
                cur = raw.cursor()
                conn.dispatch.before_cursor_execute(conn, cur, c.sql, args, None, False)
                cur.execute(c.sql, args)
                sent.append((c, cur, args))
        return [_rows(conn, c, cur, args) for c, cur, args in sent]
    except dialect.loaded_dbapi.Error as exc:
        raise _wrapped(exc) from None


def _rows(conn: Connection, c: _Compiled, cur: Any, args: dict[str, Any]
          ) -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = cur.fetchall()
    description = cur.description or ()
    processors = [t.dialect_impl(conn.dialect).result_processor(conn.dialect, d.type_code)
                  for t, d in zip(c.types, description, strict=False)]
    conn.dispatch.after_cursor_execute(conn, cur, c.sql, args, None, False)
    cur.close()
    if any(p is not None for p in processors):
        rows = [tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
                for row in rows]
    return rows


def _wrapped(exc: Exception) -> Exception:
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - only on errors

    return DBAPIError.instance(None, None, exc, type(exc))


__all__ = ["run_all", "usable"]
