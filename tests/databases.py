"""Fixtures that build real databases: SQLite files, PostgreSQL and MariaDB.

Each server-backed fixture creates a fresh, uniquely named database and drops
it afterwards. When a server is unreachable the test is skipped locally, but
under CI (``CI=true``) it fails: a missing service must never look green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from keepword.control import ControlStore
from keepword.runtime import Keepword
from keepword.settings import load_settings

PG_ADMIN = os.environ.get("KEEPWORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("KEEPWORD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI every service is required", pytrace=False)
    pytest.skip(message)


def _fresh_database(admin_url: str, what: str) -> Iterator[URL]:
    name = f"kw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        admin.dispose()
        _unavailable(what, exc)
    try:
        yield make_url(admin_url).set(database=name)
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[URL]:
    """A fresh, empty PostgreSQL database."""
    yield from _fresh_database(PG_ADMIN, "PostgreSQL")


@pytest.fixture
def mysql_url() -> Iterator[URL]:
    """A fresh, empty MariaDB/MySQL database."""
    yield from _fresh_database(MYSQL_ADMIN, "MariaDB")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> URL:
    """A SQLite file URL in the test's own folder (the file is created on first use)."""
    return make_url(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store_url(request: pytest.FixtureRequest) -> URL:
    """The same test on a real SQLite file, PostgreSQL and MariaDB."""
    name = {"sqlite": "sqlite_url", "postgresql": "pg_url", "mysql": "mysql_url"}[request.param]
    url: URL = request.getfixturevalue(name)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A control-store URL: SQLite file and PostgreSQL (the two supported backends)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.db'}"
    url: URL = request.getfixturevalue("pg_url")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def control(control_url: str) -> Iterator[ControlStore]:
    store = ControlStore.open(control_url)
    yield store
    store.dispose()


@pytest.fixture
def kw(tmp_path: Path, control_url: str) -> Iterator[Keepword]:
    """A runtime with its own home folder and key, on each control-store backend."""
    runtime = Keepword(load_settings(home=tmp_path / "home", control_url=control_url))
    yield runtime
    runtime.close()
