"""The journal: every change a batch makes, recorded before and after it runs.

A batch's changes are planned first, all at once, as numbered steps (one
statement each: a DELETE or UPDATE on a chunk of primary keys, with the exact
values to write), committed before anything is touched. Each step is then
marked ``started``, run on its store in a short transaction, and marked
``done``. After a crash at any point, ``resume`` re-runs the steps not yet
``done``: every step is idempotent (deleting gone rows does nothing; updates
write the recorded values, pseudonyms included), so nothing is lost and
nothing is applied twice. Step payloads (primary keys, new values) are sealed
and purged when the batch ends.

``KEEPWORD_TEST_CRASH_AFTER_STEPS=N`` kills the process (SIGKILL) at the N-th
journal point: the crash-and-resume tests use it to die anywhere.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, UniqueConstraint, select, update
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


def record(session: Session, batch_id: str, phase: int,
           steps: Sequence[tuple[str, str, str, int, bytes]]) -> None:
    """Append planned steps ``(dataset, collection, op, rows, sealed payload)``."""
    last = session.execute(select(DsrStep.seq).where(DsrStep.batch_id == batch_id)
                           .order_by(DsrStep.seq.desc()).limit(1)).scalar()
    start = (last or 0) + 1
    session.add_all(DsrStep(batch_id=batch_id, seq=start + i, phase=phase, dataset=ds,
                            collection=coll, op=op, rows=n, status=StepStatus.PLANNED,
                            payload=payload)
                    for i, (ds, coll, op, n, payload) in enumerate(steps))
    session.flush()


def steps(session: Session, batch_id: str) -> list[DsrStep]:
    return list(session.execute(select(DsrStep).where(DsrStep.batch_id == batch_id)
                                .order_by(DsrStep.seq)).scalars())


def mark(session: Session, step_id: int, status: str, affected: int | None = None) -> None:
    values: dict[str, object] = {"status": status}
    if status == StepStatus.STARTED:
        values["started_at"] = utcnow()
    else:
        values["finished_at"] = utcnow()
        values["affected"] = affected
    session.execute(update(DsrStep).where(DsrStep.id == step_id).values(**values))


def purge(session: Session, batch_id: str) -> None:
    """Forget the sealed keys and values once the batch has ended."""
    session.execute(update(DsrStep).where(DsrStep.batch_id == batch_id).values(payload=None))


class CrashPoints:
    """Test hook: die with SIGKILL at the N-th journal point (0 = never)."""

    def __init__(self) -> None:
        raw = os.environ.get("KEEPWORD_TEST_CRASH_AFTER_STEPS", "")
        self.at = int(raw) if raw.isdigit() else 0
        self.count = 0

    def point(self) -> None:
        if not self.at:
            return
        self.count += 1
        if self.count >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)
