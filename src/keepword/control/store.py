"""keepword's own state: a SQLite file by default, PostgreSQL by URL.

The schema is owned by Alembic migrations (``keepword/control/migrations``);
``ControlStore.open`` upgrades to head so a fresh file is ready to use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from keepword import jsoncodec
from keepword.control.checkpoint import Checkpointer
from keepword.errors import StoreError, driver_error

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA cache_size = -65536")
    cur.close()


def _checkpointed(engine: Engine, database: Path) -> Checkpointer:
    """Checkpoints in the background (``checkpoint.py``), not in the committing thread."""
    checkpointer = Checkpointer(database.resolve())

    def no_auto_checkpoint(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute("PRAGMA wal_autocheckpoint = 0")
        cur.close()

    event.listen(engine, "connect", no_auto_checkpoint)
    event.listen(engine, "commit", lambda _conn: checkpointer.poke())
    return checkpointer


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


class ControlStore:
    """Engine + session factory over the control database."""

    def __init__(self, engine: Engine, checkpointer: Checkpointer | None = None) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.checkpointer = checkpointer

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> ControlStore:
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # keepword's JSON columns (request results, references) through the fast codec
        engine = create_engine(parsed, json_serializer=jsoncodec.dumps_text,
                               json_deserializer=jsoncodec.column)
        checkpointer = None
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            if parsed.database not in (None, "", ":memory:"):
                checkpointer = _checkpointed(engine, Path(parsed.database))
        store = cls(engine, checkpointer)
        if migrate:
            store.migrate()
        return store

    def migrate(self, revision: str = "heads") -> None:
        try:
            command.upgrade(alembic_config(self.engine), revision)
        except SQLAlchemyError as exc:
            raise StoreError("control", f"cannot migrate ({driver_error(exc)})"
                             ) from None

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which each statement is its own transaction (reads, and writes
        made of one statement): no ``BEGIN`` or ``COMMIT`` round trips on a server."""
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()
