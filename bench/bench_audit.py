"""Audit log throughput on SQLite: append and verify.

Prints entries/s for: appends buffered in a business transaction (the normal
path), a batch append, one transaction per entry (worst case), and verification
in one process and across all cores. Baseline in the same run: the same chain
built with HMAC-SHA256 and verified row by row through the SQLAlchemy ORM, the
straightforward implementation. Targets: append >= 20,000/s, verify >= 500,000/s.

    python bench/bench_audit.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from keepword.audit import AuditEvent, AuditLog, AuditRow, chain_key
from keepword.control import ControlStore


def event(i: int) -> AuditEvent:
    return AuditEvent("request.step", actor="system", object_type="request",
                      object_id=f"req-{i // 10}", subject="hmac:" + "ab" * 32,
                      details={"step": i % 10, "rows": i % 97})


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} entries/s  ({n:,} in {seconds:.2f} s)"


def bench_append(store: ControlStore, log: AuditLog, n: int) -> None:
    t = time.perf_counter()
    per_tx = 1000
    for start in range(0, n, per_tx):
        with store.session() as s:
            for i in range(start, min(n, start + per_tx)):
                log.append(s, event(i))
    print("append, buffered in transactions of 1,000:", rate(n, time.perf_counter() - t))

    t = time.perf_counter()
    with store.session() as s:
        log.append_many(s, [event(i) for i in range(n // 10)])
    print("append_many, one batch:                   ", rate(n // 10, time.perf_counter() - t))

    m = 2000
    t = time.perf_counter()
    for i in range(m):
        with store.session() as s:
            log.append(s, event(i))
    print("append, one transaction per entry:        ", rate(m, time.perf_counter() - t))


def bench_verify(store: ControlStore, log: AuditLog) -> None:
    for workers in (1, os.cpu_count() or 1):
        t = time.perf_counter()
        with store.engine.connect() as conn:
            result = log.verify(conn, workers=workers)
        assert result.ok, result
        print(f"verify, {workers} process(es):                   ",
              rate(result.checked, time.perf_counter() - t))


def baseline_verify(store: ControlStore, key: bytes, limit: int) -> None:
    """Naive: ORM objects, HMAC-SHA256 over a freshly serialised row, one at a time."""
    t = time.perf_counter()
    n = 0
    prev = b"\x00" * 32
    with store.session() as s:
        for row in s.scalars(select(AuditRow).order_by(AuditRow.seq).limit(limit)):
            prev = hmac.new(key, prev + row.entry, hashlib.sha256).digest()
            n += 1
    print("baseline: ORM rows + HMAC-SHA256:          ", rate(n, time.perf_counter() - t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ControlStore.open(f"sqlite:///{Path(tmp) / 'control.db'}")
        key = chain_key(os.urandom(32))
        log = AuditLog(key)
        bench_append(store, log, args.entries)
        bench_verify(store, log)
        baseline_verify(store, key, min(args.entries, 200_000))
        store.dispose()


if __name__ == "__main__":
    main()
