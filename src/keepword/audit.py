"""Append-only, hash-chained audit log.

Each entry is stored as canonical JSON bytes together with
``digest = BLAKE2b-256(key=chain_key, previous_digest || entry)`` (keyed BLAKE2 is
a MAC, and twice as fast as HMAC-SHA256). Editing,
deleting, inserting or reordering any row breaks the chain from that row on,
and because the chain is keyed, nobody without the key can re-forge it. A
one-row ``audit_head`` table holds the last sequence number and digest, which
serialises writers and lets ``verify`` notice rows cut off the tail.

Entries never hold raw personal data: subjects appear only as keyed
identity references (``hmac:...``) made by :class:`~keepword.identities.IdentityHasher`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Integer,
    LargeBinary,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword import driver, jsoncodec
from keepword.control.base import Base, utcnow

GENESIS = b"\x00" * 32
_BigInt = BigInteger().with_variant(Integer, "sqlite")


class AuditRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(_BigInt, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(_BigInt)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


_log = cast(Table, AuditRow.__table__)
_head = cast(Table, AuditHead.__table__)
# Built once: statement construction costs more than executing a cached statement.
_INSERT = insert(_log)
_RESERVE = (update(_head).where(_head.c.id == 1)
            .values(seq=_head.c.seq + bindparam("n", type_=Integer)))
_RESERVE_RETURNING = _RESERVE.returning(_head.c.seq, _head.c.digest)
_READ_HEAD_LOCKED = select(_head.c.seq, _head.c.digest).where(_head.c.id == 1).with_for_update()
_READ_HEAD = select(_head.c.seq, _head.c.digest).where(_head.c.id == 1)
_SET_DIGEST = update(_head).where(_head.c.id == 1).values(digest=bindparam("d"))
_ENTRIES = select(_log.c.seq, _log.c.entry).where(_log.c.seq > bindparam("after")).order_by(
    _log.c.seq)


@dataclass(frozen=True)
class AuditEvent:
    """One state change or disclosure, as the caller describes it."""

    action: str
    actor: str = "system"
    object_type: str | None = None
    object_id: str | None = None
    subject: str | None = None  # keyed identity reference, never a raw identity
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    head_seq: int
    first_bad: int | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.checked} entries, head {self.head_seq}"
        return f"audit log TAMPERED at entry {self.first_bad}: {self.reason}"


def _encode(seq: int, event: AuditEvent, at: str) -> bytes:
    body = {
        "seq": seq,
        "at": at,
        "actor": event.actor,
        "action": event.action,
        "object": [event.object_type, event.object_id],
        "subject": event.subject,
        "details": dict(event.details),
    }
    return jsoncodec.canonical(body)


_PENDING = "keepword_audit_pending"
_ONE_TRIP = 16  # entries appended with the head's digest in one statement (PostgreSQL)
_LOG_COLS = ("seq", "entry", "digest")
_APPEND: dict[int, Any] = {}


def _append_statement(n: int) -> Any:
    """``n`` entries inserted and the head's digest set in one round trip: the insert is
    a data-modifying ``WITH`` of the head's ``UPDATE`` (PostgreSQL runs it once).

    Written as text: SQLAlchemy cannot cache a multi-row ``VALUES`` inside a ``WITH``
    (it compiled the statement again at every append, a third of an access's audit
    write)."""
    stmt = _APPEND.get(n)
    if stmt is None:
        rows = ", ".join(f"(:seq{i}, :entry{i}, :digest{i})" for i in range(n))
        binds = [bindparam(f"{c}{i}", type_=_log.c[c].type) for i in range(n)
                 for c in _LOG_COLS]
        stmt = _APPEND[n] = text(
            f"WITH kw_entries AS (INSERT INTO audit_log (seq, entry, digest) VALUES {rows}) "
            "UPDATE audit_head SET digest = :d WHERE audit_head.id = 1"
        ).bindparams(*binds, bindparam("d", type_=_head.c.digest.type))
    return stmt


_RIDING: dict[Table, Any] = {}


def _riding(table: Table) -> Any:
    """``_RESERVE_RETURNING`` with a row of ``table`` inserted by a data-modifying
    ``WITH`` (parameters ``r_<column>``), built once per table."""
    stmt = _RIDING.get(table)
    if stmt is None:
        row = insert(table).values({c.key: bindparam("r_" + c.key, type_=c.type)
                                    for c in table.columns}).cte("kw_ride")
        stmt = _RIDING[table] = _RESERVE_RETURNING.add_cte(row)
    return stmt


_AT_ONCE: dict[tuple[int, Table | None], Any] = {}


def _at_once_statement(n: int, table: Table | None, dialect: Dialect) -> Any:
    """PostgreSQL, one statement: the head moves from ``:old``/``:old_d`` to ``:new``/``:d``
    -- only if it still is there -- and, only then, ``n`` entries (and a row of ``table``,
    parameters ``r_<column>``) are inserted by data-modifying ``WITH``s; it returns how
    many heads moved (0 or 1). Text, built once per shape (see ``_append_statement``)."""
    stmt = _AT_ONCE.get((n, table))
    if stmt is not None:
        return stmt
    def typed(name: str, col: Any) -> str:
        return f"CAST(:{name} AS {col.type.compile(dialect=dialect)})"
    gate = "WHERE EXISTS (SELECT 1 FROM kw_head)"
    rows = ", ".join(f"({typed(f'seq{i}', _log.c.seq)}, {typed(f'entry{i}', _log.c.entry)}, "
                     f"{typed(f'digest{i}', _log.c.digest)})" for i in range(n))
    parts = ["kw_head AS (UPDATE audit_head SET seq = :new, digest = :d "
             "WHERE audit_head.id = 1 AND seq = :old AND digest = :old_d RETURNING 1)",
             "kw_entries AS (INSERT INTO audit_log (seq, entry, digest) SELECT * FROM "
             f"(VALUES {rows}) AS kw_v (seq, entry, digest) {gate})"]
    binds = [bindparam(f"{c}{i}", type_=_log.c[c].type) for i in range(n) for c in _LOG_COLS]
    binds += [bindparam("d", type_=_head.c.digest.type),
              bindparam("old_d", type_=_head.c.digest.type),
              bindparam("new", type_=_head.c.seq.type), bindparam("old", type_=_head.c.seq.type)]
    if table is not None:
        cols = list(table.columns)
        names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in cols)
        values = ", ".join(typed("r_" + c.key, c) for c in cols)
        parts.append(f"kw_ride AS (INSERT INTO {dialect.identifier_preparer.format_table(table)}"
                     f" ({names}) SELECT {values} {gate})")
        binds += [bindparam("r_" + c.key, type_=c.type) for c in cols]
    stmt = _AT_ONCE[(n, table)] = text(
        "WITH " + ", ".join(parts) + " SELECT count(*) FROM kw_head").bindparams(*binds)
    return stmt


class AuditLog:
    """Writes and verifies the chain with a key derived from the master key."""

    def __init__(self, chain_key: bytes) -> None:
        self._key = chain_key

    def _mac(self, prev: bytes, entry: bytes) -> bytes:
        return hashlib.blake2b(prev + entry, key=self._key, digest_size=32).digest()

    def append(self, session: Session | Connection, event: AuditEvent) -> None:
        """Record one event atomically with the caller's state change.

        In a Session the events of one transaction are buffered and written as a
        single set-based insert just before it commits (and dropped if it rolls
        back); on a bare Connection the event is written at once.
        """
        if isinstance(session, Connection):
            self.append_many(session, [event])
            return
        pending: list[AuditEvent] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            if not session.info.get(_PENDING + "_hooked"):
                session.info[_PENDING + "_hooked"] = True
                sa_event.listen(session, "before_commit", self._flush_pending)
                sa_event.listen(session, "after_rollback", _drop_pending)
        pending.append(event)

    def flush(self, session: Session) -> list[int]:
        """Write the buffered events now (e.g. to learn their sequence numbers)."""
        return self._flush_pending(session)

    def _flush_pending(self, session: Session) -> list[int]:
        pending = session.info.pop(_PENDING, None)
        return self.append_many(session, pending) if pending else []

    def append_many(self, session: Session | Connection, events: Sequence[AuditEvent], *,
                    ride: tuple[Table, dict[str, Any]] | None = None) -> list[int]:
        """Append events now, in the caller's transaction; returns their sequence numbers.

        ``ride``: a row to insert with them, ``(table, values)``: on PostgreSQL it travels
        in the statement that takes the log's write lock (a data-modifying ``WITH``: one
        round trip less for a request recorded with its audit entries); elsewhere it is
        inserted first."""
        if not events:
            return []
        conn = session.connection() if isinstance(session, Session) else session
        if ride is not None and conn.dialect.name != "postgresql":
            conn.execute(insert(ride[0]), ride[1])
            ride = None
        last, prev = self._reserve(conn, len(events), ride)
        at = utcnow().isoformat()
        rows, mac = [], self._mac
        for i, event in enumerate(events, start=1):
            entry = _encode(last + i, event, at)
            prev = mac(prev, entry)
            rows.append({"seq": last + i, "entry": entry, "digest": prev})
        if conn.dialect.name == "postgresql" and len(rows) <= _ONE_TRIP:
            params = {f"{k}{i}": row[k] for i, row in enumerate(rows) for k in _LOG_COLS}
            conn.execute(_append_statement(len(rows)), {**params, "d": prev})
        else:
            conn.execute(_INSERT, rows)
            conn.execute(_SET_DIGEST, {"d": prev})
        return [last + i for i in range(1, len(events) + 1)]

    def append_at(self, conn: Connection, events: Sequence[AuditEvent], head: tuple[int, bytes],
                  *, ride: tuple[Table, dict[str, Any]] | None = None,
                  before: Callable[[], object] | None = None) -> bool:
        """Append ``events`` (and insert ``ride``) in one statement chained onto ``head``
        (``(seq, digest)`` as read by the caller), on a PostgreSQL connection in autocommit:
        the statement is its own transaction, with no ``BEGIN``, lock round trip or
        ``COMMIT``. False when ``head`` is no longer the log's head (another writer came
        first; nothing is written: append the usual way) or where this cannot be done.
        ``before``: what must be done before the entries are committed (the statement
        is sent first and runs meanwhile, where the driver can; if ``before`` fails,
        nothing is written)."""
        if conn.dialect.name != "postgresql" or not events or len(events) > _ONE_TRIP:
            return False
        seq, prev = head
        at = utcnow().isoformat()
        params: dict[str, Any] = {"old": seq, "old_d": prev, "new": seq + len(events)}
        for i, event in enumerate(events):
            entry = _encode(seq + i + 1, event, at)
            prev = self._mac(prev, entry)
            params[f"seq{i}"], params[f"entry{i}"], params[f"digest{i}"] = seq + i + 1, entry, prev
        params["d"] = prev
        if ride is not None:
            params.update({"r_" + k: v for k, v in ride[1].items()})
        stmt = _at_once_statement(len(events), ride[0] if ride else None, conn.dialect)
        # sent first, committed once ``before`` is done: the server runs the statement
        # meanwhile (psycopg's pipeline: its implicit transaction ends with ``rows``)
        sent = driver.send(conn, stmt, params)
        if before is not None:
            try:
                before()
            except BaseException:
                sent.abandon()  # (rolled back: nothing of it is kept)
                raise
        rows = sent.rows()
        return bool(rows and rows[0][0])

    @staticmethod
    def _reserve(conn: Connection, n: int, ride: tuple[Table, dict[str, Any]] | None = None
                 ) -> tuple[int, bytes]:
        """Claim ``n`` sequence numbers; the write lock is taken by the first statement
        (``ride``: a row inserted by that same statement, see ``append_many``)."""
        if conn.dialect.update_returning:
            if ride is None:
                new_seq, prev = conn.execute(_RESERVE_RETURNING, {"n": n}).one()
            else:
                params = {"r_" + k: v for k, v in ride[1].items()}
                new_seq, prev = conn.execute(_riding(ride[0]), {**params, "n": n}).one()
            return int(new_seq) - n, bytes(prev)
        seq, prev = conn.execute(_READ_HEAD_LOCKED).one()
        conn.execute(_RESERVE, {"n": n})
        return int(seq), bytes(prev)

    def head(self, conn: Connection) -> tuple[int, bytes]:
        seq, digest = conn.execute(_READ_HEAD).one()
        return int(seq), bytes(digest)

    def verify(self, conn: Connection, *, workers: int | None = None) -> Verification:
        """Walk the whole chain; name the first entry that does not fit.

        Row ``n`` is valid when ``MAC(stored digest of n-1 || entry n)`` equals its
        stored digest; by induction all rows valid means the chain is intact. So
        ranges can be checked in parallel processes (``workers``; default: one
        per core for large logs on a file or server database).
        """
        head_seq, head_digest = self.head(conn)
        url = conn.engine.url
        parallel = workers if workers is not None else (
            os.cpu_count() or 1 if head_seq >= _PARALLEL_FROM else 1)
        if url.database in (None, "", ":memory:") and url.get_backend_name() == "sqlite":
            parallel = 1
        if parallel <= 1:
            checked, bad, last = _verify_rows(conn, self._key, 1, head_seq + 1, final=True)
        else:
            checked, bad, last = self._verify_parallel(url.render_as_string(hide_password=False),
                                                       head_seq, parallel)
        if bad is not None:
            return self._diagnose(conn, bad, checked, head_seq)
        return self._tail(conn, checked, last, head_seq, head_digest)

    def _verify_parallel(self, url: str, head_seq: int, parallel: int
                         ) -> tuple[int, int | None, bytes]:
        bounds = [1 + head_seq * i // parallel for i in range(parallel)] + [head_seq + 1]
        ranges = list(pairwise(bounds))
        # fork: workers open their own engines and touch nothing inherited.
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(parallel, mp_context=ctx) as pool:
            futures = [pool.submit(_verify_range, url, self._key, lo, hi, i == len(ranges) - 1)
                       for i, (lo, hi) in enumerate(ranges)]
            results = [f.result() for f in futures]
        checked = 0
        for n, bad, _last in results:
            if bad is not None:
                return checked + n, bad, b""
            checked += n
        return checked, None, results[-1][2]

    def _diagnose(self, conn: Connection, bad_seq: int, good: int, head_seq: int
                  ) -> Verification:
        """Row ``bad_seq`` does not chain onto the row before it: say why."""
        before = conn.execute(select(_log.c.seq).where(_log.c.seq < bad_seq)
                              .order_by(_log.c.seq.desc()).limit(1)).scalar()
        expected = (before or 0) + 1
        if bad_seq > expected:
            return Verification(False, good, head_seq, expected,
                                f"entries {expected}..{bad_seq - 1} are missing (deleted)")
        return Verification(False, good, head_seq, bad_seq,
                            "entry does not match its chained hash (edited, inserted or moved)")

    @staticmethod
    def _tail(conn: Connection, checked: int, prev: bytes, head_seq: int, head_digest: bytes
              ) -> Verification:
        last = conn.execute(select(_log.c.seq).order_by(_log.c.seq.desc()).limit(1)).scalar()
        last = int(last or 0)
        if checked != last:
            return Verification(False, checked, head_seq, checked + 1,
                                "sequence numbers out of order (inserted or moved)")
        if last < head_seq:
            return Verification(False, last, head_seq, last + 1,
                                f"entries {last + 1}..{head_seq} are missing from the end")
        if last > head_seq:
            return Verification(False, last, head_seq, head_seq + 1,
                                "entries after the recorded head (inserted)")
        if prev != head_digest:
            return Verification(False, last, head_seq, last, "the head digest was altered")
        return Verification(True, last, head_seq)

    def entries(self, conn: Connection, *, after: int = 0, limit: int | None = None,
                object_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Decoded entries in order (filtering by object happens after decoding).

        With ``object_id``, an entry grouping many objects (a batch's transitions, whose
        ``details.requests`` maps each id to its part) is shown as that object's entry:
        its part, plus the group's common details and ``group`` naming the batch."""
        count = 0
        for _seq, entry in conn.execute(_ENTRIES, {"after": after}):
            data: dict[str, Any] = json.loads(entry)
            if object_id is not None:
                found = _member(data, object_id)
                if found is None:
                    continue
                data = found
            yield data
            count += 1
            if limit is not None and count >= limit:
                return


def _member(data: dict[str, Any], object_id: str) -> dict[str, Any] | None:
    if data["object"][1] == object_id:
        return data
    parts = data["details"].get("requests")
    if not isinstance(parts, dict) or object_id not in parts:
        return None
    part = dict(parts[object_id])
    common = {k: v for k, v in data["details"].items() if k != "requests"}
    return {**data, "object": ["request", object_id], "group": data["object"],
            "subject": part.pop("subject", None), "details": {**common, **part}}


_PARALLEL_FROM = 100_000


def _verify_rows(conn: Connection, key: bytes, lo: int, hi: int, *, final: bool
                 ) -> tuple[int, int | None, bytes]:
    """Check rows with ``lo <= seq < hi`` (``final``: and every row after them).

    Returns (rows that chain correctly, seq of the first that does not, last digest).
    """
    start = conn.execute(select(_log.c.digest).where(_log.c.seq < lo)
                         .order_by(_log.c.seq.desc()).limit(1)).scalar()
    prev: bytes = bytes(start) if start is not None else GENESIS
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    where = "seq >= %(lo)s" if final else "seq >= %(lo)s AND seq < %(hi)s"
    sql = f"SELECT seq, entry, digest FROM audit_log WHERE {where} ORDER BY seq"
    if conn.dialect.paramstyle == "qmark":
        cur.execute(sql.replace("%(lo)s", "?").replace("%(hi)s", "?"),
                    (lo,) if final else (lo, hi))
    else:
        cur.execute(sql, {"lo": lo, "hi": hi})
    template, checked = hashlib.blake2b(key=key, digest_size=32), 0
    try:
        while rows := cur.fetchmany(50_000):
            for seq, entry, digest in rows:
                mac = template.copy()
                mac.update(prev)
                mac.update(entry)
                if mac.digest() != digest:
                    return checked, int(seq), prev
                prev = digest
                checked += 1
    finally:
        cur.close()
    return checked, None, bytes(prev)


def _verify_range(url: str, key: bytes, lo: int, hi: int, final: bool
                  ) -> tuple[int, int | None, bytes]:
    """Worker process: its own engine, one range of the chain."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _verify_rows(conn, key, lo, hi, final=final)
    finally:
        engine.dispose()


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def chain_key(master: bytes) -> bytes:
    """The chain key, derived from the master key so the master never signs entries."""
    return hashlib.blake2b(b"keepword:audit-chain", key=master[:64], digest_size=32).digest()


