"""Store engines: pooled connections that rested are tried before use."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from keepword import stores


def test_a_rested_connection_whose_server_went_away_is_replaced(
        pg_url: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pooled connection is killed on the server side while it rests; the next
    checkout pings it, finds it gone and hands out a new one: the query succeeds."""
    engine = stores.open_engine("app", pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        monkeypatch.setattr(stores, "IDLE_PING", 0.0)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        with engine.connect() as conn:  # pinged again: handed out idle, settings can change
            conn.execution_options(isolation_level="AUTOCOMMIT")
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
        admin.dispose()


def test_only_a_connection_that_rested_is_pinged() -> None:
    """Back-to-back requests do not pay a ping's round trip; a rested connection does."""
    sent: list[str] = []

    class Cursor:
        def execute(self, sql: str) -> None:
            sent.append(sql)

        def close(self) -> None:
            pass

    class Conn:
        def cursor(self) -> Cursor:
            return Cursor()

        def rollback(self) -> None:
            sent.append("ROLLBACK")

    record: Any = SimpleNamespace(info={"kw_idle_since": time.monotonic()})
    ping = stores._pinger(OSError)
    ping(Conn(), record, None)
    assert sent == [], "used a moment ago: no ping"
    record.info["kw_idle_since"] = time.monotonic() - stores.IDLE_PING - 1
    ping(Conn(), record, None)
    assert sent == ["SELECT 1", "ROLLBACK"]
