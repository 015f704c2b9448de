"""The SQLite control store checkpoints its log in the background, never in a commit."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from keepword.control import ControlStore
from keepword.control.checkpoint import Checkpointer


def test_commits_leave_checkpoints_to_the_background_thread(tmp_path: Path) -> None:
    store = ControlStore.open(f"sqlite:///{tmp_path / 'control.db'}")
    assert store.checkpointer is not None
    store.checkpointer._threshold = 64 * 1024  # a small log, for the test
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        with store.engine.begin() as conn:
            conn.execute(text("CREATE TABLE blobs (b BLOB)"))
        for _ in range(20):
            with store.engine.begin() as conn:
                conn.execute(text("INSERT INTO blobs VALUES (randomblob(16384))"))
        deadline = time.monotonic() + 10
        while store.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.checkpointer.checkpoints > 0
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM blobs")).scalar() == 20
    finally:
        store.dispose()
    reopened = ControlStore.open(f"sqlite:///{tmp_path / 'control.db'}", migrate=False)
    with reopened.engine.connect() as conn:  # nothing committed was lost
        assert conn.execute(text("SELECT count(*) FROM blobs")).scalar() == 20
    reopened.dispose()


def test_closing_stops_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    c = Checkpointer(db)
    c.poke()
    c.close()
    assert c._thread is not None and not c._thread.is_alive()
    c.poke()  # after close: nothing starts again
    assert not c._thread.is_alive()


def test_memory_and_server_stores_have_none() -> None:
    store = ControlStore.open("sqlite://")
    assert store.checkpointer is None
    store.dispose()
