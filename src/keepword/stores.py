"""Open the customer stores a data map names.

URLs come from an environment variable, a secret file or a password-free
literal. Errors name the store (dataset key), never its URL: URLs may hold
credentials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from keepword.datamap.models import Dataset, StoreKind
from keepword.errors import StoreError, driver_error

_DRIVERS = {
    StoreKind.SQLITE: ("sqlite", "sqlite"),
    StoreKind.POSTGRESQL: ("postgresql", "postgresql+psycopg"),
    StoreKind.MYSQL: ("mysql", "mysql+pymysql"),
}


def normalise_url(kind: StoreKind, raw: str, base_dir: Path | None = None) -> URL:
    """A SQLAlchemy URL with keepword's driver for ``kind``; bare paths mean SQLite files."""
    if kind is StoreKind.SQLITE and "://" not in raw:
        raw = f"sqlite:///{raw}"
    url = make_url(raw)
    backend, driver = _DRIVERS[kind]
    if url.get_backend_name() != backend:
        raise ValueError(f"the URL is not a {kind.value} URL")
    if kind is StoreKind.SQLITE:
        db = url.database or ""
        if db and db != ":memory:" and not Path(db).is_absolute() and base_dir is not None:
            url = url.set(database=str(base_dir / db))
        return url
    return url.set(drivername=driver)


class StoreResolver:
    """Resolves and caches one engine per dataset."""

    def __init__(self, environ: Mapping[str, str] | None = None,
                 base_dir: Path | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.base_dir = base_dir
        self._engines: dict[str, Engine] = {}
        self._live: dict[str, LiveSchema] = {}

    def live(self, ds: Dataset) -> LiveSchema:
        """The store's columns (their nullability) and the columns its indexes lead with,
        read once for this resolver (a loaded deployment), as its engines are."""
        found = self._live.get(ds.dataset)
        if found is None:
            engine, schema = self.engine(ds), ds.store.schema_name
            found = LiveSchema(read_live_columns(engine, schema, ds.dataset),
                               read_searchable(engine, schema, ds.dataset))
            self._live[ds.dataset] = found
        return found

    def raw_url(self, ds: Dataset) -> str:
        conn = ds.store.connection
        name = ds.dataset
        if conn.env:
            value = self.environ.get(conn.env) or conn.default
            if not value:
                raise StoreError(name, f"environment variable {conn.env} is not set")
            return value
        if conn.secret:
            try:
                return Path(conn.secret).read_text(encoding="utf-8").strip()
            except OSError:
                raise StoreError(name, "cannot read its secret file") from None
        assert conn.url is not None  # the model guarantees exactly one source
        return conn.url

    def url(self, ds: Dataset) -> URL:
        try:
            return normalise_url(ds.store.kind, self.raw_url(ds), self.base_dir)
        except (ArgumentError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "malformed URL"
            raise StoreError(ds.dataset, f"bad connection URL: {reason}") from None

    def engine(self, ds: Dataset) -> Engine:
        engine = self._engines.get(ds.dataset)
        if engine is None:
            engine = open_engine(ds.dataset, self.url(ds))
            self._engines[ds.dataset] = engine
        return engine

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._live.clear()


LiveColumns = dict[str, dict[str, bool]]  # {table: {column: nullable}}


class LiveSchema(NamedTuple):
    columns: LiveColumns
    searchable: dict[str, frozenset[str]]  # {table: columns an index leads with}


def read_live_columns(engine: Engine, schema: str | None, store: str) -> LiveColumns:
    """``{table: {column: nullable}}`` with one inspector and one reflection call."""
    try:
        multi = inspect(engine).get_multi_columns(schema=schema)
    except SQLAlchemyError as exc:
        raise StoreError(store, f"cannot read its tables ({type(exc).__name__})") from None
    return {tname: {c["name"]: bool(c.get("nullable", True)) for c in cols}
            for (_, tname), cols in multi.items()}


def read_searchable(engine: Engine, schema: str | None, store: str
                    ) -> dict[str, frozenset[str]]:
    """``{table: columns}``: each column some index of the table leads with (its primary
    key's first, a unique constraint's, a plain index's), where a lookup by that column
    alone is a search, not a scan. Partial and expression indexes do not count."""
    try:
        insp = inspect(engine)
        keys = insp.get_multi_pk_constraint(schema=schema)
        uniques = insp.get_multi_unique_constraints(schema=schema)
        indexes = insp.get_multi_indexes(schema=schema)
    except SQLAlchemyError as exc:
        raise StoreError(store, f"cannot read its indexes ({type(exc).__name__})") from None
    out: dict[str, set[str]] = {}
    for (_, table), pk in keys.items():
        out.setdefault(table, set()).update(pk.get("constrained_columns", [])[:1])
    for (_, table), unique in uniques.items():
        out.setdefault(table, set()).update(u["column_names"][0] for u in unique
                                            if u.get("column_names"))
    for (_, table), index in indexes.items():
        out.setdefault(table, set()).update(
            ix["column_names"][0] for ix in index
            if ix.get("column_names") and ix["column_names"][0] is not None
            and ix.get("dialect_options", {}).get(f"{engine.dialect.name}_where") is None)
    return {table: frozenset(cols) for table, cols in out.items()}


def _sqlite_pragmas(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.close()


IDLE_PING = 5.0  # seconds a pooled connection may rest before it is pinged on checkout


def _note_checkin(_dbapi_conn: object, record: ConnectionPoolEntry) -> None:
    record.info["kw_idle_since"] = time.monotonic()


def _pinger(errors: type[BaseException]) -> Callable[[Any, ConnectionPoolEntry, object], None]:
    def ping_if_idle(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: object) -> None:
        """A connection that rested ``IDLE_PING`` seconds or more is tried first (the
        server may have restarted meanwhile); one used a moment ago is not: a ping is a
        round trip, which a single request on PostgreSQL felt."""
        since = record.info.get("kw_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()  # hand it out idle, as the pool found it
        except errors as exc:  # gone: the pool opens a new connection instead
            raise DisconnectionError(type(exc).__name__) from None
    return ping_if_idle


def open_engine(name: str, url: URL) -> Engine:
    """Create an engine and prove it connects; failures name the store only."""
    try:
        engine = create_engine(url)
    except NoSuchModuleError:
        raise StoreError(name, f"no driver for {url.get_backend_name()}; install "
                         f"keepword[{url.get_backend_name()}]") from None
    except (ImportError, ArgumentError) as exc:
        raise StoreError(name, f"cannot create engine ({type(exc).__name__})") from None
    if url.get_backend_name() != "sqlite":
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _pinger(engine.dialect.loaded_dbapi.Error))
    if url.get_backend_name() == "sqlite":
        db = url.database or ""
        if db and db != ":memory:" and not Path(db).exists():
            raise StoreError(name, "SQLite file does not exist")
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(name, f"cannot connect ({driver_error(exc)})") from None
    return engine


def live_columns(engine: Engine, schema: str | None = None
                 ) -> dict[str, dict[str, dict[str, object]]]:
    """``{table: {column: {type, nullable}}}`` as the live store reports them."""
    insp = inspect(engine)
    out: dict[str, dict[str, dict[str, object]]] = {}
    for table in insp.get_table_names(schema=schema):
        out[table] = {
            col["name"]: {"type": str(col["type"]), "nullable": bool(col.get("nullable", True))}
            for col in insp.get_columns(table, schema=schema)
        }
    return out
