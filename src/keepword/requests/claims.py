"""Claims: one runner at a time per request.

``keepword requests run`` may run in several processes or machines (cron, a
worker pool). Before touching a request a runner claims it: one row per
request, with the owner, its host and pid, and a lease. A claim can be taken
over only when its lease ran out or when its owner is a process of this host
that no longer exists — so after ``kill -9`` a resume on the same machine
carries on at once, while a live runner elsewhere is never overtaken.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    bindparam,
    delete,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.control.store import ControlStore
from keepword.requests.lifecycle import RequestRow, load_rows, requests_table
from keepword.sqlsets import chunk_for, chunked, member_of, text_rows

LEASE = timedelta(minutes=15)


class RequestClaim(Base):
    __tablename__ = "request_claims"

    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    until: Mapped[datetime] = mapped_column(UTCDateTime())


_claims = cast(Table, RequestClaim.__table__)  # Core inserts: no ORM bookkeeping
# where a claim statement can skip the rows held (and say how many it made: not psycopg)
_UPSERT = {"sqlite": sqlite.insert}


def _claim_rows(claimant: Claimant, dialect: str, until: datetime) -> Select[Any]:
    """A claim row of ``claimant`` for each id bound to ``ids`` (a backend taking the ids
    as one parameter: ``sqlsets.text_rows``)."""
    ids_each = text_rows("ids", dialect)
    assert ids_each is not None  # (callers check)
    return ids_each.add_columns(
        literal(claimant.owner, String()), literal(claimant.host, String()),
        literal(claimant.pid, Integer()), literal(until, _claims.c.until.type))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class Claimant:
    """This runner: claims requests, renews its leases, lets go at the end."""

    owner: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    released: bool = False  # set once a batch's final commit released the claims
    renewed: datetime | None = None  # when this runner's leases last ran to a full LEASE

    def claim(self, store: ControlStore, ids: Sequence[str]) -> list[str]:
        """The subset of ``ids`` this runner now holds (others are being run elsewhere)."""
        if not ids:
            return []
        for _ in range(3):  # a concurrent runner may insert the same row first
            try:
                with store.session() as session:
                    return self._claim(session, list(ids))
            except IntegrityError:
                continue
        return []

    def _claim(self, session: Session, ids: list[str]) -> list[str]:
        now = utcnow()
        dialect = session.connection().dialect.name
        size = chunk_for(_claims.c.request_id, dialect, own_text=True)
        # the usual case -- nobody holds them -- is one statement: the free ones claimed;
        # where some were held, that chunk's claims are read (those just made are mine)
        inserted = self._insert_free(session, ids, now + LEASE)
        rest = ids if inserted is None else [i for i in ids if i not in inserted]
        rows = [c for part in chunked(rest, size) for c in session.execute(
            select(_claims).where(member_of(_claims.c.request_id, "ids", dialect, own_text=True)),
            {"ids": part})] if rest else []
        stale = [c.request_id for c in rows if c.owner != self.owner and (
            c.until <= now or (c.host == self.host and not _alive(c.pid)))]
        for part in chunked(stale, size):
            session.execute(delete(_claims).where(
                member_of(_claims.c.request_id, "ids", dialect, own_text=True)), {"ids": part})
        gone = set(stale)
        held = {c.request_id for c in rows if c.request_id not in gone}
        mine = {c.request_id for c in rows if c.owner == self.owner}
        free = [i for i in rest if i not in held]
        if free:
            self._insert(session, free, now + LEASE)
        taken = mine | set(free) | (inserted or set())  # sets: lists made big batches quadratic
        if taken and self.renewed is None:  # (its claims are all made here: none before)
            self.renewed = now
        return [i for i in ids if i in taken]

    def _insert_free(self, session: Session, ids: Sequence[str], until: datetime
                     ) -> set[str] | None:
        """Claim those of ``ids`` nobody holds, skipping the others (``ON CONFLICT DO
        NOTHING``): the keys of the chunks claimed whole (the others are read back).
        ``None`` elsewhere (then the claims are read first)."""
        dialect = session.connection().dialect.name
        if dialect not in _UPSERT:
            return None
        c = _claims.c
        rows = _claim_rows(self, dialect, until).where(true())  # (SQLite's upsert wants one)
        stmt = _UPSERT[dialect](_claims).from_select(
            [c.request_id, c.owner, c.host, c.pid, c.until], rows).on_conflict_do_nothing(
            index_elements=[c.request_id])
        whole: set[str] = set()
        for part in chunked(list(ids), chunk_for(c.request_id, dialect, own_text=True)):
            if session.execute(stmt, {"ids": part}).rowcount == len(part):  # type: ignore[attr-defined]
                whole.update(part)
        return whole

    def hold_new(self, session: Session, ids: Sequence[str]) -> None:
        """Claim requests created in this transaction (nobody else can hold them yet)."""
        now = utcnow()
        if self.renewed is None:
            self.renewed = now
        self._insert(session, ids, now + LEASE)

    def _insert(self, session: Session, ids: Sequence[str], until: datetime) -> None:
        """One claim row per id; where the backend takes the ids as one parameter, one
        ``INSERT ... SELECT`` per chunk (the rows differ only by their id)."""
        dialect = session.connection().dialect.name
        if text_rows("ids", dialect) is None:
            session.execute(insert(_claims), [
                {"request_id": i, "owner": self.owner, "host": self.host, "pid": self.pid,
                 "until": until} for i in ids])
            return
        c = _claims.c
        rows = _claim_rows(self, dialect, until)
        stmt = insert(_claims).from_select([c.request_id, c.owner, c.host, c.pid, c.until], rows)
        for part in chunked(list(ids), chunk_for(c.request_id, dialect, own_text=True)):
            session.execute(stmt, {"ids": part})

    def renew(self, session: Session, ids: Sequence[str]) -> None:
        """Extend the lease on ``ids`` (called with each state change of a batch).

        Every lease of this runner is extended (it is alive and progressing): one
        statement by owner, not an IN list of a whole batch's ids; not again while the
        last full lease has most of its time left (rewriting every claim row at each
        state change of a batch cost more than the change)."""
        now = utcnow()
        if ids and (self.renewed is None or now - self.renewed > LEASE / 4):
            session.execute(update(RequestClaim).where(RequestClaim.owner == self.owner)
                            .values(until=now + LEASE))
            self.renewed = now

    def requests(self, session: Session) -> list[RequestRow]:
        """The requests this runner holds: its claims joined to their rows (no list of
        keys to send and look up one by one)."""
        table = requests_table()
        stmt = select(table).join(_claims, _claims.c.request_id == table.c.id).where(
            _claims.c.owner == bindparam("owner"))
        return load_rows(session, stmt, {"owner": self.owner})

    def release(self, store: ControlStore) -> None:
        if self.released:
            return
        with store.session() as session:
            self.release_in(session)
        self.released = True

    def release_in(self, session: Session) -> None:
        """Let go of every claim of this runner, in the caller's transaction."""
        session.execute(delete(RequestClaim).where(RequestClaim.owner == self.owner))
