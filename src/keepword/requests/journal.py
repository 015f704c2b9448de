"""The journal: every change a batch makes, recorded before and after it runs.

A batch's changes are planned first, all at once, as numbered steps (one
statement each: a DELETE or UPDATE on a chunk of primary keys, with the exact
values to write), committed before anything is touched. Consecutive steps of
one store then run as a unit in one short store transaction: marked
``started`` before, ``done`` with the next control write. After a crash at any
point, ``resume`` re-runs the steps not yet ``done``: every step is idempotent
(deleting gone rows does nothing; updates write the recorded values, pseudonyms
included), so nothing is lost and nothing is applied twice. Step payloads
(primary keys, new values) are sealed and purged when the batch ends.

The batch itself (``dsr_batches``) keeps, sealed in one value for all its
requests, what the proof needs to find each subject again (their identities and
person keys) and each request's planned outcome: one write per batch, not one
per request; purged with the steps.

``KEEPWORD_TEST_CRASH_AFTER_STEPS=N`` kills the process (SIGKILL) at the N-th
journal point: the crash-and-resume tests use it to die anywhere.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.control.base import Base, UTCDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class StepStatus:
    PLANNED = "planned"
    STARTED = "started"
    DONE = "done"


class DsrStep(Base):
    __tablename__ = "dsr_steps"
    __table_args__ = (UniqueConstraint("batch_id", "seq"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    phase: Mapped[int] = mapped_column(Integer)  # 0: first pass; 1: what the proof found
    dataset: Mapped[str] = mapped_column(String(100))
    collection: Mapped[str] = mapped_column(String(100))
    op: Mapped[str] = mapped_column(String(20))  # delete | update | rows
    rows: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed
    affected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DsrBatch(Base):
    __tablename__ = "dsr_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    requests: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


def open_batch(session: Session, batch_id: str, kind: str, requests: int, sealed: bytes
               ) -> None:
    """Record a batch with its sealed knowledge (in the transaction of its journal)."""
    session.execute(insert(DsrBatch).values(id=batch_id, kind=kind, requests=requests,
                                            created_at=utcnow(), sealed=sealed))


def batch_sealed(session: Session, batch_id: str) -> bytes | None:
    return session.execute(select(DsrBatch.sealed).where(DsrBatch.id == batch_id)).scalar()


def record(session: Session, batch_id: str, phase: int,
           steps: Sequence[tuple[str, str, str, int, bytes]], *, started: int = 0
           ) -> list[int]:
    """Append planned steps ``(dataset, collection, op, rows, sealed payload)``; their ids.

    ``started``: the first steps are recorded already started (they run next, so one
    control write both journals and starts them)."""
    last = session.execute(select(DsrStep.seq).where(DsrStep.batch_id == batch_id)
                           .order_by(DsrStep.seq.desc()).limit(1)).scalar()
    start = (last or 0) + 1
    now = utcnow()
    rows = [DsrStep(batch_id=batch_id, seq=start + i, phase=phase, dataset=ds,
                    collection=coll, op=op, rows=n, payload=payload,
                    status=StepStatus.STARTED if i < started else StepStatus.PLANNED,
                    started_at=now if i < started else None)
            for i, (ds, coll, op, n, payload) in enumerate(steps)]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def steps(session: Session, batch_id: str) -> list[DsrStep]:
    return list(session.execute(select(DsrStep).where(DsrStep.batch_id == batch_id)
                                .order_by(DsrStep.seq)).scalars())


def mark_done_and_start(session: Session, done: Sequence[tuple[int, int]],
                        start: Sequence[int]) -> None:
    """One control write for a unit boundary: ``done`` steps ``(id, affected)`` finished,
    the next unit's steps started (a crash between them re-runs only the started ones)."""
    now = utcnow()
    if done:
        t = DsrStep.__table__
        assert isinstance(t, Table)
        session.connection().execute(
            update(t).where(t.c.id == bindparam("k_id")).values(
                status=StepStatus.DONE, finished_at=now, affected=bindparam("k_affected")),
            [{"k_id": i, "k_affected": n} for i, n in done])
    if start:
        session.execute(update(DsrStep).where(DsrStep.id.in_(list(start))).values(
            status=StepStatus.STARTED, started_at=now))


def purge(session: Session, batch_id: str) -> None:
    """Forget the sealed keys and values once the batch has ended."""
    session.execute(update(DsrStep).where(DsrStep.batch_id == batch_id).values(payload=None))
    session.execute(update(DsrBatch).where(DsrBatch.id == batch_id).values(sealed=None))


class CrashPoints:
    """Test hook: die with SIGKILL at the N-th journal point (0 = never).

    ``KEEPWORD_TEST_CRASH_TALLY=FILE`` appends a line to FILE at each point, so a test
    learns how many points an uninterrupted run passes (and can die at each of them)."""

    def __init__(self) -> None:
        raw = os.environ.get("KEEPWORD_TEST_CRASH_AFTER_STEPS", "")
        self.at = int(raw) if raw.isdigit() else 0
        self.tally = os.environ.get("KEEPWORD_TEST_CRASH_TALLY", "")
        self.count = 0

    def point(self) -> None:
        if self.tally:
            with open(self.tally, "a", encoding="utf-8") as fh:
                fh.write("point\n")
        if not self.at:
            return
        self.count += 1
        if self.count >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)
