"""Control-store column types: times come back as aware UTC whatever wrote them."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from keepword.control.base import UTCDateTime
from keepword.requests.lifecycle import RequestRow, requests_table


@pytest.fixture
def sqlite_times(tmp_path: Path) -> tuple[Table, object]:
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    table = Table("times", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UTCDateTime()))
    table.metadata.create_all(engine)
    return table, engine


@pytest.mark.parametrize(("stored", "expected"), [
    ("2026-12-02 17:51:42.260892", datetime(2026, 12, 2, 17, 51, 42, 260892, tzinfo=UTC)),
    ("2026-12-02 17:51:42", datetime(2026, 12, 2, 17, 51, 42, tzinfo=UTC)),  # CURRENT_TIMESTAMP
    ("2026-12-02T17:51:42", datetime(2026, 12, 2, 17, 51, 42, tzinfo=UTC)),
    ("2026-12-02 18:51:42+01:00", datetime(2026, 12, 2, 17, 51, 42, tzinfo=UTC)),
    ("2026-12-02 17:51:42Z", datetime(2026, 12, 2, 17, 51, 42, tzinfo=UTC)),
])
def test_sqlite_text_reads_as_aware_utc(sqlite_times: tuple[Table, object], stored: str,
                                        expected: datetime) -> None:
    table, engine = sqlite_times
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("INSERT INTO times (id, at) VALUES (1, :v)"), {"v": stored})
        got = conn.execute(select(table.c.at)).scalar_one()
    assert got == expected and got.tzinfo is UTC


def test_written_times_read_back_equal(control_url: str) -> None:
    engine = create_engine(control_url)
    table = Table("kw_times_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UTCDateTime()))
    table.metadata.create_all(engine)
    paris = timezone(timedelta(hours=1))
    values = [datetime(2026, 1, 1, tzinfo=UTC),
              datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
              datetime(2026, 3, 1, 12, 0, tzinfo=paris)]
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": i, "at": v} for i, v in enumerate(values)])
            back = list(conn.execute(select(table.c.at).order_by(table.c.id)).scalars())
        assert back == values
        assert all(v.utcoffset() == timedelta(0) for v in back)
    finally:
        table.metadata.drop_all(engine)
        engine.dispose()


def test_request_rows_are_built_in_column_order() -> None:
    """``load_rows`` builds ``RequestRow(*row)``: its fields follow the table's columns."""
    assert [f.name for f in fields(RequestRow)] == [c.key for c in requests_table().columns]
