"""driver: statements run on the driver's connection give what SQLAlchemy gives."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from keepword import driver
from keepword.control.base import UTCDateTime
from keepword.sqlsets import member_of

meta = MetaData()
things = Table(
    "things", meta,
    Column("id", Integer, primary_key=True), Column("name", String(40)),
    Column("at", DateTime(timezone=True)), Column("utc", UTCDateTime()),
    Column("day", Date), Column("price", Numeric(12, 4)), Column("doc", JSON),
    Column("blob", LargeBinary), Column("ok", Boolean))


def _filled(url: URL) -> Engine:
    eng = create_engine(url)
    meta.create_all(eng)
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC)
    with eng.begin() as conn:
        conn.execute(insert(things), [
            {"id": i, "name": f"n{i}\u00e9", "at": at, "utc": at, "day": at.date(),
             "price": Decimal("1.2345") * i, "doc": {"k": [i, None, "x"]},
             "blob": bytes([i, 0, 255]), "ok": i % 2 == 0} for i in range(1, 8)])
    return eng


@pytest.fixture
def engine(pg_url: URL) -> Iterator[Engine]:
    eng = _filled(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url: URL = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    eng = _filled(url)
    yield eng
    eng.dispose()


def _statements() -> list[tuple[Any, dict[str, Any]]]:
    by_ids = select(things).where(member_of(things.c.id, "v", "postgresql"))
    by_names = select(things.c.name, things.c.doc, literal(7).label("seven")).where(
        member_of(things.c.name, "v", "postgresql", own_text=True))
    by_price = select(things.c.id, things.c.price).where(things.c.price > bindparam("p"))
    return [(by_ids, {"v": [1, 3, 5]}), (by_names, {"v": ["n2\u00e9", "n4\u00e9"]}),
            (by_price, {"p": Decimal("5")}), (by_ids, {"v": []})]


def test_results_equal_one_by_one_and_every_statement_is_seen(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with engine.connect() as conn:
        one_by_one = [[tuple(r) for r in conn.execute(s, p)] for s, p in _statements()]
        seen.clear()
        together = driver.run_all(conn, _statements())
    assert [[tuple(r) for r in rows] for rows in together] == one_by_one
    assert len(seen) == 4
    assert one_by_one[0][0][3].tzinfo is not None and one_by_one[1][0][1] == {"k": [2, None, "x"]}
    assert one_by_one[2] and all(type(r[1]) is Decimal for r in one_by_one[2])


def test_a_failing_statement_raises_sqlalchemy_error(engine: Engine) -> None:
    bad = select(things.c.id).where(things.c.id == bindparam("v", type_=Integer))
    with engine.connect() as conn, pytest.raises(SQLAlchemyError):
        driver.run_all(conn, [(bad, {"v": 1}), (bad, {"v": "not a number"})])


def test_json_read_as_the_control_store_reads_it(tmp_path: Any) -> None:
    """SQLite with keepword's JSON reader (the control store): a column of JSON texts is
    parsed in one pass; values as SQLAlchemy reads them, each row its own object -- and a
    top-level number (stored as a number) still read."""
    from keepword import jsoncodec

    eng = create_engine(f"sqlite:///{tmp_path / 'j.db'}", json_deserializer=jsoncodec.column,
                        json_serializer=jsoncodec.dumps_text)
    meta.create_all(eng)
    docs: list[Any] = [{"a": [1, None]}, [1, "x"], None, "text", {"a": [1, None]}]
    with eng.begin() as conn:
        conn.execute(insert(things), [{"id": i, "doc": d} for i, d in enumerate(docs, 1)])
    stmt = select(things.c.doc).order_by(things.c.id)
    with eng.connect() as conn:
        expected = [r[0] for r in conn.execute(stmt)]
        (got,) = driver.columns(conn, stmt, {})
        conn.execute(insert(things), {"id": 9, "doc": 7})
        (mixed,) = driver.columns(conn, stmt, {})
    assert got == expected == docs and got[0] is not got[4]
    assert mixed == [*docs, 7]
    eng.dispose()


def test_one_statement_on_two_engines_reads_with_each_engines_converters(tmp_path: Any
                                                                         ) -> None:
    """Converters are kept per statement and engine: the same statement read on an
    engine whose JSON reader differs uses that engine's reader, and reading again gives
    the same values."""
    seen: list[str] = []

    def tagging(text: str) -> Any:
        seen.append(text)
        return json.loads(text)

    plain = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    tagged = create_engine(f"sqlite:///{tmp_path / 'b.db'}", json_deserializer=tagging)
    stmt = select(things.c.doc).order_by(things.c.id)
    try:
        for eng in (plain, tagged):
            meta.create_all(eng)
            with eng.begin() as conn:
                conn.execute(insert(things), [{"id": 1, "doc": {"a": 1}}])
        for _ in range(2):
            for eng in (plain, tagged):
                with eng.connect() as conn:
                    assert driver.rows(conn, stmt, {}) == [({"a": 1},)]
        assert seen == ['{"a": 1}', '{"a": 1}']  # the tagged engine's reader, each time
    finally:
        plain.dispose()
        tagged.dispose()


def _count(engine: Engine, name: str) -> int:
    with engine.connect() as other:
        return len(other.execute(select(things.c.id).where(things.c.name == name)).all())


def test_a_sent_write_commits_only_when_read_and_abandon_takes_it_back(engine: Engine
                                                                      ) -> None:
    """``send`` on a connection in autocommit: the server runs the statement at once,
    but its implicit transaction ends only with ``rows`` -- until then no one else sees
    the row -- and ``abandon`` rolls it back. (What ``AuditLog.append_at`` relies on:
    the export file is written between the two.)"""
    add = insert(things).values(id=bindparam("i"), name=bindparam("n")).returning(things.c.id)
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        sent = driver.send(conn, add, {"i": 50, "n": "sent"})
        assert _count(engine, "sent") == 0  # run, not committed
        assert [tuple(r) for r in sent.rows()] == [(50,)]
        assert _count(engine, "sent") == 1
        dropped = driver.send(conn, add, {"i": 51, "n": "dropped"})
        dropped.abandon()
    assert _count(engine, "dropped") == 0
    with engine.connect() as raw:  # (the pool hands out a working connection)
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        again = driver.send(conn, select(things.c.id).where(things.c.id == 50), {})
        again.close()
        assert [tuple(r) for r in driver.send(conn, select(literal(3)), {}).rows()] == [(3,)]


def test_a_failing_sent_statement_raises_sqlalchemy_error(engine: Engine) -> None:
    bad = select(things.c.id).where(things.c.id == bindparam("v", type_=Integer))
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        sent = driver.send(conn, bad, {"v": "not a number"})
        with pytest.raises(SQLAlchemyError):
            sent.rows()
        assert conn.execute(select(literal(1))).scalar() == 1  # usable again


def test_other_backends_run_one_by_one(tmp_path: Any) -> None:
    eng = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    meta.create_all(eng)
    with eng.connect() as conn:
        assert not driver.usable(conn)
        assert driver.run_all(conn, [(select(things.c.id), {}), (select(literal(1)), {})]) == [
            [], [(1,)]]
    eng.dispose()


def test_columns_equal_sqlalchemy_rows_on_each_backend(any_engine: Engine) -> None:
    seen: list[str] = []
    event.listen(any_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    dialect = any_engine.dialect.name
    stmt = select(things).where(member_of(things.c.name, "v", dialect, own_text=True))
    wanted = {"v": ["n2\u00e9", "n5\u00e9", "nobody"]}
    with any_engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt, wanted)]
        seen.clear()
        cols = driver.columns(conn, stmt, wanted)
        assert driver.columns(conn, stmt, {"v": ["nobody"]}) == []
        as_rows = [tuple(r) for r in driver.rows(conn, stmt, wanted)]
        keys = driver.rows(conn, select(things.c.id, things.c.name).where(
            member_of(things.c.name, "v", dialect, own_text=True)), wanted)
    assert list(zip(*cols, strict=True)) == rows == as_rows and len(rows) == 2
    assert sorted(keys) == [(2, "n2\u00e9"), (5, "n5\u00e9")]  # (the driver's own tuples)
    assert len(seen) == 4
    assert rows[0][3].tzinfo is not None and rows[0][6] == {"k": [2, None, "x"]}


def test_repeated_values_convert_once_and_equal_sqlalchemy(any_engine: Engine) -> None:
    """Many rows sharing timestamps (a batch received together): each column equals
    SQLAlchemy's; a timestamp is converted once and shared, a JSON value never is."""
    base = dt.datetime(2026, 5, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
    with any_engine.begin() as conn:
        conn.execute(insert(things), [
            {"id": 100 + i, "name": "many", "at": base, "day": base.date(),
             "utc": base + dt.timedelta(seconds=i % 3), "doc": {"n": 1}, "price": 1}
            for i in range(200)])
    stmt = select(things.c.utc, things.c.at, things.c.doc, things.c.day, things.c.price
                  ).where(things.c.name == "many").order_by(things.c.id)
    with any_engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt)]
        cols = driver.columns(conn, stmt, {})
    assert list(zip(*cols, strict=True)) == rows and len(rows) == 200
    utc, _, docs, _, _ = cols
    assert {x.isoformat() for x in utc} == {(base + dt.timedelta(seconds=k)).isoformat()
                                           for k in range(3)}
    if any_engine.dialect.name == "sqlite":  # (PostgreSQL's driver gives them made)
        assert len({id(x) for x in utc}) == 3
    assert len({id(d) for d in docs}) == 200  # JSON: each row its own object


def test_a_lost_connection_is_invalidated_and_the_next_one_works(engine: Engine) -> None:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(SQLAlchemyError):
            driver.run_all(conn, _statements())
        assert conn.invalidated
    with engine.connect() as conn:  # the pool gives a working connection
        assert len(driver.run_all(conn, _statements())) == 4


def test_execute_many_writes_each_row_with_the_shared_values_converted_once(
        any_engine: Engine) -> None:
    from sqlalchemy import update

    at = dt.datetime(2027, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    stmt = update(things).where(things.c.id == bindparam("k_id")).values(
        name=bindparam("k_name", type_=String()), utc=bindparam("k_utc", type_=UTCDateTime()))
    rows = [(1, "one\x00nul"), (2, "two")]
    with any_engine.begin() as conn:
        done = driver.execute_many(conn, stmt, {"k_utc": at}, ("k_id", "k_name"), rows)
        if any_engine.dialect.name != "sqlite":  # (named parameters: SQLAlchemy's part)
            assert done is False
            return
        assert done is True
        assert driver.execute_many(conn, stmt, {}, ("k_id", "k_utc"), [(1, at)]) is False
    with any_engine.connect() as conn:
        got = conn.execute(select(things.c.id, things.c.name, things.c.utc)
                           .where(things.c.id <= 3).order_by(things.c.id)).all()
    assert [tuple(r) for r in got] == [(1, "one\x00nul", at), (2, "two", at),
                                        (3, "n3\u00e9", got[2][2])]
