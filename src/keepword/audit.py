"""Append-only, hash-chained audit log.

Each entry is stored as canonical JSON bytes together with
``digest = HMAC-SHA256(chain_key, previous_digest || entry)``. Editing,
deleting, inserting or reordering any row breaks the chain from that row on,
and because the chain is keyed, nobody without the key can re-forge it. A
one-row ``audit_head`` table holds the last sequence number and digest, which
serialises writers and lets ``verify`` notice rows cut off the tail.

Entries never hold raw personal data: subjects appear only as keyed
identity references (``hmac:...``) made by :class:`~keepword.identities.IdentityHasher`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, LargeBinary, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

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
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


class AuditLog:
    """Writes and verifies the chain with a key derived from the master key."""

    def __init__(self, chain_key: bytes) -> None:
        self._key = chain_key

    def _mac(self, prev: bytes, entry: bytes) -> bytes:
        return hmac.digest(self._key, prev + entry, hashlib.sha256)

    def append(self, session: Session | Connection, event: AuditEvent) -> int:
        """Append one event in the caller's transaction; returns its sequence number."""
        return self.append_many(session, [event])[-1]

    def append_many(self, session: Session | Connection, events: Sequence[AuditEvent]
                    ) -> list[int]:
        """Append events atomically with the caller's state change."""
        if not events:
            return []
        conn = session.connection() if isinstance(session, Session) else session
        last, prev = self._reserve(conn, len(events))
        at = utcnow().isoformat()
        rows, seqs = [], []
        for i, event in enumerate(events, start=1):
            entry = _encode(last + i, event, at)
            prev = self._mac(prev, entry)
            rows.append({"seq": last + i, "entry": entry, "digest": prev})
            seqs.append(last + i)
        conn.execute(insert(AuditRow), rows)
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(digest=prev))
        return seqs

    @staticmethod
    def _reserve(conn: Connection, n: int) -> tuple[int, bytes]:
        """Claim ``n`` sequence numbers; the write lock is taken by the first statement."""
        stmt = update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + n)
        if conn.dialect.update_returning:
            new_seq, prev = conn.execute(stmt.returning(AuditHead.seq, AuditHead.digest)).one()
            return int(new_seq) - n, bytes(prev)
        head = conn.execute(select(AuditHead.seq, AuditHead.digest).where(AuditHead.id == 1)
                            .with_for_update()).one()
        conn.execute(stmt)
        return int(head.seq), bytes(head.digest)

    def head(self, conn: Connection) -> tuple[int, bytes]:
        row = conn.execute(select(AuditHead.seq, AuditHead.digest)).one()
        return int(row.seq), bytes(row.digest)

    def verify(self, conn: Connection, *, batch: int = 20_000) -> Verification:
        """Walk the whole chain; name the first entry that does not fit."""
        head_seq, head_digest = self.head(conn)
        raw = conn.connection.driver_connection
        cur = raw.cursor()  # type: ignore[union-attr]
        cur.execute("SELECT seq, entry, digest FROM audit_log ORDER BY seq")
        expected, prev, mac, key = 1, GENESIS, hmac.digest, self._key
        try:
            while rows := cur.fetchmany(batch):
                for seq, entry, digest in rows:
                    if seq != expected:
                        return self._gap(expected, seq, head_seq)
                    prev_calc = mac(key, prev + bytes(entry), "sha256")
                    if prev_calc != bytes(digest):
                        return Verification(False, seq - 1, head_seq, seq,
                                            "entry does not match its chained hash "
                                            "(edited, inserted or moved)")
                    prev = prev_calc
                    expected += 1
        finally:
            cur.close()
        return self._tail(expected - 1, prev, head_seq, head_digest)

    @staticmethod
    def _gap(expected: int, seq: int, head_seq: int) -> Verification:
        if seq > expected:
            why = f"entries {expected}..{seq - 1} are missing (deleted)"
            return Verification(False, expected - 1, head_seq, expected, why)
        return Verification(False, expected - 1, head_seq, seq,
                            "sequence numbers out of order (inserted or moved)")

    @staticmethod
    def _tail(last: int, prev: bytes, head_seq: int, head_digest: bytes) -> Verification:
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
        """Decoded entries in order (filtering by object happens after decoding)."""
        stmt = select(AuditRow.entry).where(AuditRow.seq > after).order_by(AuditRow.seq)
        count = 0
        for (entry,) in conn.execute(stmt):
            data: dict[str, Any] = json.loads(entry)
            if object_id is not None and data["object"][1] != object_id:
                continue
            yield data
            count += 1
            if limit is not None and count >= limit:
                return


def chain_key(master: bytes) -> bytes:
    return hmac.digest(master, b"keepword:audit-chain", hashlib.sha256)


