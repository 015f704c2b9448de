"""SQLite control store: write-ahead-log checkpoints in a background thread.

In WAL mode SQLite copies the log back into the database file (a *checkpoint*) when
a commit finds the log past 1,000 pages, and that commit pays for it: a batch's
commit of 10,000 requests took twice as long. Here the store's connections never
checkpoint on their own (``wal_autocheckpoint = 0``); each commit wakes a thread
that checkpoints once the log has grown past the same size, in ``PASSIVE`` mode
(it neither waits for nor blocks readers and writers). Until then the log holds the
committed pages: a process that dies leaves them for the next connection, nothing
is lost.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

THRESHOLD = 4 * 1024 * 1024  # bytes of log (SQLite's own default: 1,000 pages of 4 KiB)


class Checkpointer:
    """One per control-store file; started by the first commit, stopped by ``close``."""

    def __init__(self, database: Path, threshold: int = THRESHOLD) -> None:
        self._database = database
        self._log = database.with_name(database.name + "-wal")
        self._threshold = threshold
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.checkpoints = 0  # completed (for tests and diagnostics)

    def poke(self) -> None:
        """A commit happened: look at the log's size soon."""
        if self._thread is None:
            with self._start:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="kw-checkpoint")
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    if self._log.stat().st_size < self._threshold:
                        continue
                    if conn is None:
                        conn = sqlite3.connect(self._database, timeout=30,
                                               check_same_thread=False)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except (OSError, sqlite3.Error):
                    continue  # the next commit wakes us again
        finally:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


__all__ = ["THRESHOLD", "Checkpointer"]
