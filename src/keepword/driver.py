"""Statements compiled by SQLAlchemy, run on the driver's own connection.

The hot paths of requests need less than SQLAlchemy's execution layer gives per
statement and per row:

* ``run_all`` -- a walk round asks several collections at once (a person's addresses,
  orders and logins), none depending on another. SQLAlchemy sends a statement and
  waits for its answer before the next; on PostgreSQL (psycopg) these are sent
  together in pipeline mode: one round trip.
* ``rows`` -- a lookup's rows as the driver's own tuples where no column needs
  converting (keys, text), without a row object each; a single access's control
  statements without the execution layer's work per statement.
* ``columns`` -- a batch loads thousands of rows of many columns (its requests):
  converted column by column (``map``, in C) and handed back as columns.
* ``execute_many`` -- a batch writes thousands of rows (SQLite): one ``executemany``
  with the values every row shares converted once.
* ``send`` -- a single access asks the control store for the person's context while
  its walk still reads the data stores: sent at once (psycopg pipeline mode), read
  when needed.

Each statement is compiled by SQLAlchemy once; parameters and results go through the
type processors SQLAlchemy would apply; its cursor events fire for each statement
(listeners -- statement counters -- see every one); the driver's errors are raised
as SQLAlchemy's, and a lost connection is invalidated. What this cannot carry (an
expanding parameter, a renamed one) runs the usual way.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import JSON, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from keepword import jsoncodec


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order, for positional drivers
    defaults: dict[str, Any]  # every parameter's compiled value (overridden at execution)
    binds: dict[str, Callable[[Any], Any]]  # parameters whose value is converted
    types: tuple[Any, ...]  # each result column's type (its processor needs the driver's)

    def args(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params}
        for name, process in self.binds.items():
            values[name] = process(values[name])
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)


_CACHE: dict[tuple[int, str, str], tuple[Executable, _Compiled | None]] = {}
_CACHE_MAX = 2048


def _compiled(stmt: Executable, dialect: Dialect) -> _Compiled | None:
    key = (id(stmt), dialect.name, dialect.driver)  # (drivers differ in parameter style)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is stmt:
        return hit[1]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    made = _compile(stmt, dialect)
    _CACHE[key] = (stmt, made)
    return made


def _compile(stmt: Executable, dialect: Dialect) -> _Compiled | None:
    compiled = cast(SQLCompiler, cast(ClauseElement, stmt).compile(dialect=dialect))
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
    positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup \
        else None
    return _Compiled(compiled.string, positions, defaults, binds,
                     tuple(c.type for c in getattr(stmt, "selected_columns", ())))


def usable(conn: Connection) -> bool:
    """Whether ``run_all`` sends its statements together on this connection."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def run_all(conn: Connection, items: Sequence[tuple[Executable, Mapping[str, Any]]]
            ) -> list[Sequence[Sequence[Any]]]:
    """The rows of each ``(statement, parameters)``, all sent in one round trip where the
    connection allows (``usable``), else one by one."""
    dialect = conn.dialect
    compiled = [_compiled(stmt, dialect) for stmt, _ in items] if usable(conn) else []
    if len(items) < 2 or not compiled or any(c is None for c in compiled):
        return [rows(conn, stmt, params) for stmt, params in items]
    raw = conn.connection.driver_connection
    assert raw is not None
    sent: list[tuple[_Compiled, Any, Any]] = []
    try:
        with raw.pipeline():
            for c, (_, params) in zip(compiled, items, strict=True):
                assert c is not None
                cur = raw.cursor()
                args = _sending(conn, cur, c, params)
                cur.execute(c.sql, args)
                sent.append((c, cur, args))
        return [_as_rows(*_fetched(conn, c, cur, args)) for c, cur, args in sent]
    except dialect.loaded_dbapi.Error as exc:
        raise _failed(conn, exc) from None


class Sent:
    """A statement sent ahead (``send``); ``rows`` reads its answer, ``close`` drops it."""

    def __init__(self, conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> None:
        self.conn, self.stmt, self.params = conn, stmt, params
        self._on: tuple[Any, _Compiled, Any, Any] | None = None  # pipeline, query, cursor, args

    def _start(self) -> None:
        c = _compiled(self.stmt, self.conn.dialect)
        if c is None or not usable(self.conn):
            return  # (run when its rows are asked)
        raw = self.conn.connection.driver_connection
        assert raw is not None
        error = self.conn.dialect.loaded_dbapi.Error
        try:
            pipe = raw.pipeline()
            pipe.__enter__()
        except error as exc:
            raise _failed(self.conn, exc) from None
        cur = raw.cursor()
        try:
            args = _sending(self.conn, cur, c, self.params)
            cur.execute(c.sql, args)  # (sent: the server runs it meanwhile)
        except error as exc:
            with contextlib.suppress(error):
                pipe.__exit__(None, None, None)
            cur.close()
            raise _failed(self.conn, exc) from None
        self._on = (pipe, c, cur, args)

    def rows(self) -> Sequence[Sequence[Any]]:
        """``rows(conn, stmt, params)``, answered by the statement sent ahead."""
        if self._on is None:
            return rows(self.conn, self.stmt, self.params)
        return _as_rows(*self._end(fetch=True))

    def _end(self, *, fetch: bool) -> tuple[list[Sequence[Any]], list[_Converter | None]]:
        """End the pipeline (which collects the answer); the rows when ``fetch``."""
        assert self._on is not None
        pipe, c, cur, args = self._on
        self._on = None
        try:
            pipe.__exit__(None, None, None)
            return _fetched(self.conn, c, cur, args) if fetch else ([], [])
        except self.conn.dialect.loaded_dbapi.Error as exc:
            raise _failed(self.conn, exc) from None
        finally:
            cur.close()

    def abandon(self) -> None:
        """Take the statement back: the connection is dropped before the pipeline's end,
        so the server rolls its implicit transaction back (nothing it wrote is kept)."""
        if self._on is None:
            return
        pipe, _, cur, _ = self._on
        self._on = None
        raw = self.conn.connection.driver_connection
        assert raw is not None
        raw.close()  # first: SQLAlchemy's own ending could sync the pipeline, committing
        with contextlib.suppress(Exception):
            pipe.__exit__(None, None, None)  # (the pipeline object learns it is over)
        cur.close()
        self.conn.invalidate()

    def close(self) -> None:
        """The answer is not wanted: the pipeline is ended (on a connection in autocommit,
        what the statement wrote is committed), the connection usable again."""
        if self._on is not None:
            self._end(fetch=False)


def send(conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> Sent:
    """Send ``stmt`` now, read its rows later (``Sent.rows``): on PostgreSQL (psycopg)
    it goes at once in pipeline mode and the server runs it while the caller does other
    work (nothing else may use ``conn`` until then); elsewhere it runs when its rows are
    asked. In pipeline mode a statement is part of an implicit transaction that ends
    with the pipeline: on a connection in autocommit, what it writes is committed by
    ``rows`` (or ``close``), and ``abandon`` takes it back."""
    sent = Sent(conn, stmt, params)
    sent._start()
    return sent


def rows(conn: Connection, stmt: Executable, params: Mapping[str, Any]
         ) -> Sequence[Sequence[Any]]:
    """The rows of ``stmt`` as the driver's tuples where no column needs converting
    (keys, text), else converted as SQLAlchemy would: without a row object each."""
    c = _compiled(stmt, conn.dialect)
    if c is None:
        return conn.execute(stmt, params).all()
    return _as_rows(*_run(conn, c, params))


def columns(conn: Connection, stmt: Executable, params: Mapping[str, Any]
            ) -> list[list[Any]]:
    """The rows of ``stmt`` as one list per selected column (converted as SQLAlchemy
    would); ``[]`` when no row matched."""
    c = _compiled(stmt, conn.dialect)
    if c is None:
        found = conn.execute(stmt, params).all()
        return [list(col) for col in zip(*found, strict=True)]
    return _as_columns(*_run(conn, c, params))


def execute_many(conn: Connection, stmt: Executable, fixed: Mapping[str, Any],
                 names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> bool:
    """Run ``stmt`` (a write) once per row in one ``executemany`` on a positional driver
    (SQLite): ``fixed``, the values every row shares (converted once); ``rows``, tuples of
    the ``names`` parameters, already as the driver takes them (parameters with a
    converter are refused). False when this cannot be done here (nothing was run)."""
    c = _compiled(stmt, conn.dialect)
    if (c is None or c.positions is None or not rows
            or any(n in c.binds for n in names)):
        return False
    shared = {**c.defaults, **fixed}
    for name, process in c.binds.items():
        if name in shared:
            shared[name] = process(shared[name])
    keys = [k for k in shared if k not in names]
    at = {n: j for j, n in enumerate([*names, *keys])}
    if any(p not in at for p in c.positions):
        return False
    pick = itemgetter(*(at[p] for p in c.positions))
    tail = tuple(shared[k] for k in keys)
    args = [pick(row + tail) for row in rows] if len(c.positions) > 1 else [
        (pick(row + tail),) for row in rows]
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        conn.dispatch.before_cursor_execute(conn, cur, c.sql, args, None, True)
        cur.executemany(c.sql, args)
        conn.dispatch.after_cursor_execute(conn, cur, c.sql, args, None, True)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _failed(conn, exc) from None
    finally:
        cur.close()
    return True


def _sending(conn: Connection, cur: Any, c: _Compiled, params: Mapping[str, Any]) -> Any:
    args = c.args(params)
    conn.dispatch.before_cursor_execute(conn, cur, c.sql, args, None, False)
    return args


def _run(conn: Connection, c: _Compiled, params: Mapping[str, Any]
         ) -> tuple[list[Sequence[Any]], list[_Converter | None]]:
    """One statement on a cursor of its own: ``_fetched``."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        args = _sending(conn, cur, c, params)
        cur.execute(c.sql, args)
        return _fetched(conn, c, cur, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _failed(conn, exc) from None
    finally:
        cur.close()


def _fetched(conn: Connection, c: _Compiled, cur: Any, args: Any
             ) -> tuple[list[Sequence[Any]], list[_Converter | None]]:
    """The cursor's rows as the driver gives them, and each column's converter."""
    found: list[Sequence[Any]] = list(cur.fetchall())
    description = cur.description or ()
    conn.dispatch.after_cursor_execute(conn, cur, c.sql, args, None, False)
    return found, _processors(conn, c, description)


def _as_columns(found: list[Sequence[Any]], processors: list[_Converter | None]
                ) -> list[list[Any]]:
    """Rows as columns, each through its converter (``map``, in C)."""
    if not found:
        return []
    return [list(values) if p is None else _converted(values, p)
            for values, p in zip(zip(*found, strict=True), processors, strict=True)]


def _converted(values: Sequence[Any], p: _Converter) -> list[Any]:
    """``map(p, values)``. A SQLite JSON column of texts is parsed in one ``map``; a
    column of immutable values (timestamps) that repeat -- a batch's requests were
    received and verified together -- converts each distinct value once and shares
    the result."""
    convert = p.convert
    if p.json_text and set(map(type, values)) <= {str}:  # SQLite's JSON texts: in C
        return list(map(jsoncodec.loads, values))
    if not p.immutable or len(values) < _SHARE_FROM:
        return list(map(convert, values))
    try:
        distinct = set(values)
    except TypeError:  # (a value the driver gives unhashable)
        return list(map(convert, values))
    if len(distinct) * 2 > len(values):
        return list(map(convert, values))
    made = dict(zip(distinct, map(convert, distinct), strict=True))
    return list(map(made.__getitem__, values))


_SHARE_FROM = 64  # values in a column from which repeats are looked for
_IMMUTABLE = frozenset({datetime.datetime, datetime.date, datetime.time, decimal.Decimal,
                        int, float, str, bytes, bool})


@dataclass(frozen=True)
class _Converter:
    """A result column's converter, and whether what it makes can be shared."""

    convert: Callable[[Any], Any]
    immutable: bool
    # a JSON column read with ``jsoncodec.column`` where the driver gives its text: a
    # column of texts is parsed in one ``map`` (what ``convert`` does to each)
    json_text: bool = False


def _as_rows(found: list[Sequence[Any]], processors: list[_Converter | None]
             ) -> Sequence[Sequence[Any]]:
    """The driver's rows as they are when no column needs converting, else converted."""
    if not found or not any(processors):
        return found
    return list(zip(*_as_columns(found, processors), strict=True))


# (statement, engine's dialect -- its JSON reader is the engine's --, column types) ->
# converters; the entry holds both, so neither id is reused while it lives
_CONVERTERS: dict[tuple[int, int, tuple[Any, ...]],
                  tuple[_Compiled, Dialect, list[_Converter | None]]] = {}


def _processors(conn: Connection, c: _Compiled, description: Sequence[Any]
                ) -> list[_Converter | None]:
    """Each result column's converter (``None``: the driver's value is the value; a
    textual statement declares no column types). Made once per statement, backend and
    column types the driver reports (asking SQLAlchemy for them took ~30 us a statement,
    a tenth of a single access's Python)."""
    if not c.types:
        return [None] * len(description)
    dialect = conn.dialect
    key = (id(c), id(dialect), tuple(d[1] for d in description))
    hit = _CONVERTERS.get(key)
    if hit is not None and hit[0] is c and hit[1] is dialect:
        return hit[2]
    if len(_CONVERTERS) >= _CACHE_MAX:
        _CONVERTERS.clear()
    made = _converters(conn, c, description)
    _CONVERTERS[key] = (c, dialect, made)
    return made


def _converters(conn: Connection, c: _Compiled, description: Sequence[Any]
                ) -> list[_Converter | None]:
    out: list[_Converter | None] = []
    for kind, desc in zip(c.types, description, strict=True):
        process = kind.dialect_impl(conn.dialect).result_processor(conn.dialect, desc[1])
        out.append(None if process is None else _Converter(
            process, _immutable(kind), _json_text(conn.dialect, kind)))
    return out


def _json_text(dialect: Dialect, kind: Any) -> bool:
    """SQLite hands a JSON column back as its text, which SQLAlchemy's processor gives to
    the engine's deserializer: when that is ``jsoncodec.column``, a text is read by
    ``jsoncodec.loads``."""
    return (dialect.name == "sqlite" and isinstance(kind, JSON)
            and getattr(dialect, "_json_deserializer", None) is jsoncodec.column)


def _immutable(kind: Any) -> bool:
    try:
        return kind.python_type in _IMMUTABLE
    except NotImplementedError:  # (a type that does not say)
        return False


def _failed(conn: Connection, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy's; a lost connection is invalidated (as
    SQLAlchemy does), so the pool never hands it out again."""
    lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection,  # type: ignore[arg-type]
                                      None)
    if lost:
        conn.invalidate()
    return DBAPIError.instance(None, None, exc, type(exc), connection_invalidated=lost)


__all__ = ["Sent", "columns", "execute_many", "rows", "run_all", "send", "usable"]
