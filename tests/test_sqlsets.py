"""``member_of``: the same rows as an IN list, on every backend, for any chunk."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

from keepword.sqlsets import binds_set, chunked, member_of, select_members, update_members
from keepword.stores import read_searchable


def test_member_of_finds_exactly_the_given_keys(store_url: URL) -> None:
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_members", meta, sa.Column("id", sa.BigInteger, primary_key=True),
                 sa.Column("code", sa.String(20)))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "code": f"c{i}"} for i in range(1, 1201)])
        wanted = list(range(0, 1300, 3))  # some absent
        by_id = sa.select(t.c.id).where(member_of(t.c.id, "v", engine.dialect.name))
        by_code = sa.select(t.c.id).where(member_of(t.c.code, "v", engine.dialect.name))
        with engine.connect() as conn:
            got = {i for part in chunked(wanted, 250)
                   for (i,) in conn.execute(by_id, {"v": part})}
            codes = {i for (i,) in conn.execute(by_code, {"v": ["c5", "c7", "x'; --"]})}
        assert got == {i for i in wanted if 1 <= i <= 1200}
        assert codes == {5, 7}
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_update_members_changes_exactly_the_given_rows_once(store_url: URL) -> None:
    """The joined form SQLite gets (and ``member_of`` elsewhere): listed rows change,
    each counted once however often it is listed; others and absent keys do nothing."""
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_upd_members", meta, sa.Column("id", sa.String(20), primary_key=True),
                 sa.Column("n", sa.Integer), sa.Column("code", sa.String(20)))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": f"r{i}", "n": i, "code": "old"}
                                      for i in range(300)])
        name = engine.dialect.name
        by_id = update_members(t, t.c.id, "v", name, own_text=True).values(
            code=sa.bindparam("c"))
        by_n = update_members(t, t.c.n, "v", name).values(code="by-n")
        with engine.begin() as conn:
            keys = ["r3", "r3", "r7", "r299", "nobody", "x'; --"]
            assert conn.execute(by_id, {"v": keys, "c": "new"}).rowcount == 3
            assert conn.execute(by_n, {"v": [10, 11, 11, 500]}).rowcount == 2
        with engine.connect() as conn:
            found = conn.execute(sa.select(t.c.id, t.c.code).where(t.c.code != "old"))
            changed = {row[0]: row[1] for row in found}
        assert changed == {"r3": "new", "r7": "new", "r299": "new", "r10": "by-n",
                           "r11": "by-n"}
    finally:
        meta.drop_all(engine)
        engine.dispose()


AWKWARD = ["a,b", 'q"uote', "back\\slash", "{brace}", "NULL", "", " lead", "élan", "x'; --",
           "tab\there", "[1]"]


def test_text_keys_of_any_shape_match_exactly(store_url: URL) -> None:
    """Text keys travel as JSON on PostgreSQL: commas, quotes, braces, backslashes, the
    word NULL, empty and non-ASCII strings each find their own row and nothing else."""
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_text_members", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("code", sa.String(40)))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "code": c}
                                      for i, c in enumerate(AWKWARD, start=1)])
        stmt = sa.select(t.c.id).where(member_of(t.c.code, "v", engine.dialect.name))
        with engine.connect() as conn:
            for i, code in enumerate(AWKWARD, start=1):
                assert {r for (r,) in conn.execute(stmt, {"v": [code]})} == {i}, code
            assert {r for (r,) in conn.execute(stmt, {"v": [*AWKWARD[::2], "none"]})} == set(
                range(1, len(AWKWARD) + 1, 2))
    finally:
        meta.drop_all(engine)
        engine.dispose()


@settings(max_examples=50)
@given(st.lists(st.integers()), st.integers(min_value=1, max_value=20))
def test_chunked_keeps_every_value_in_order(values: list[int], size: int) -> None:
    parts = list(chunked(values, size))
    assert [v for p in parts for v in p] == values
    assert all(0 < len(p) <= size for p in parts)


KEYS = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=12))


@settings(max_examples=60, deadline=None)
@given(st.lists(KEYS, unique=True, min_size=1, max_size=30), st.lists(KEYS, max_size=30))
def test_a_set_parameter_finds_what_python_finds(stored: list[int | str],
                                                 asked: list[int | str]) -> None:
    """SQLite takes integer keys (and keepword's own text ids) as one JSON parameter
    (``json_each``); text read from a store, which may hold a NUL that SQLite's JSON reader
    would cut, keeps the IN list. Every way finds exactly what Python finds."""
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("n", sa.Integer, primary_key=True),
                 sa.Column("i", sa.BigInteger), sa.Column("s", sa.String))
    meta.create_all(engine)
    assert binds_set(t.c.i, "sqlite") and not binds_set(t.c.s, "sqlite")
    assert binds_set(t.c.s, "sqlite", own_text=True)
    with engine.begin() as conn:
        conn.execute(t.insert(), [
            {"n": n, "i": k if isinstance(k, int) else None,
             "s": k if isinstance(k, str) else None} for n, k in enumerate(stored)])
        ints = [k for k in asked if isinstance(k, int)]
        texts = [k for k in asked if isinstance(k, str)]
        own = [k for k in texts if "\x00" not in k]
        for col, kind, keys, own_text in ((t.c.i, int, ints, False), (t.c.s, str, texts, False),
                                          (t.c.s, str, own, True)):
            stmt = sa.select(t.c.n).where(member_of(col, "v", "sqlite", own_text=own_text))
            got = {n for (n,) in conn.execute(stmt, {"v": keys})} if keys else set()
            assert got == {n for n, k in enumerate(stored) if isinstance(k, kind) and k in keys}
    engine.dispose()


def test_a_stored_text_key_holding_a_nul_is_found() -> None:
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("k", sa.String, primary_key=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"k": "a\x00b"}, {"k": "a"}])
        got = conn.execute(sa.select(t.c.k).where(member_of(t.c.k, "v", "sqlite")),
                           {"v": ["a\x00b"]}).scalars().all()
    assert got == ["a\x00b"]
    engine.dispose()


def test_values_json_would_change_keep_the_in_list(store_url: URL) -> None:
    """Dates (and other types JSON would not carry exactly) are bound one by one."""
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_date_members", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("day", sa.Date))
    meta.create_all(engine)
    try:
        days = [dt.date(2026, 1, d) for d in range(1, 11)]
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "day": d} for i, d in enumerate(days, 1)])
        stmt = sa.select(t.c.id).where(member_of(t.c.day, "v", engine.dialect.name))
        with engine.connect() as conn:
            got = {i for (i,) in conn.execute(stmt, {"v": [*days[2:5], dt.date(2030, 1, 1)]})}
        assert got == {3, 4, 5}
        assert binds_set(t.c.day, "sqlite") is False
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_select_members_joined_or_not_finds_exactly_the_given_rows(store_url: URL) -> None:
    """``select_members`` joined (SQLite, an indexed column) or not: the rows of the given
    distinct keys, absent ones finding nothing."""
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_selected", meta, sa.Column("id", sa.BigInteger, primary_key=True),
                 sa.Column("code", sa.String(20), index=True))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": i, "code": f"c{i % 50}"} for i in range(1, 501)])
        name = engine.dialect.name
        with engine.connect() as conn:
            for join in (False, True):
                by_id = select_members([t.c.id], t, t.c.id, "v", name, join=join)
                by_code = select_members([t.c.id], t, t.c.code, "v", name, own_text=True,
                                         join=join)
                ids = sorted(i for (i,) in conn.execute(by_id, {"v": [3, 9, 900]}))
                codes = sorted(i for (i,) in conn.execute(by_code, {"v": ["c1", "x'; --"]}))
                assert ids == [3, 9]
                assert codes == list(range(1, 501, 50))
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_searchable_columns_are_those_an_index_leads_with(store_url: URL) -> None:
    """The key's first column, a unique constraint's, a plain index's lead; not a
    column second in an index, nor one only a partial index covers."""
    engine = sa.create_engine(store_url)
    meta = sa.MetaData()
    t = sa.Table("kw_indexed", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a", sa.String(20)), sa.Column("b", sa.String(20)),
                 sa.Column("c", sa.String(20)), sa.Column("d", sa.Integer),
                 sa.UniqueConstraint("c"))
    sa.Index("ix_kw_indexed_ab", t.c.a, t.c.b)
    sa.Index("ix_kw_indexed_d", t.c.d, sqlite_where=t.c.d > 0, postgresql_where=t.c.d > 0)
    meta.create_all(engine)
    try:
        found = read_searchable(engine, None, "test")["kw_indexed"]
        partial_known = engine.dialect.name in ("sqlite", "postgresql")
        assert {"id", "a", "c"} <= found and "b" not in found
        assert "d" not in found or not partial_known
    finally:
        meta.drop_all(engine)
        engine.dispose()
