"""A request's life: its table, its states, its deadline, its sealed identities.

``received -> verified -> planned -> running -> completed | denied | failed``,
with ``awaiting_administrator`` (managed accounts go to their organisation
administrator first, Ikcon §10.1) and ``paused`` (a store went down; ``resume``
carries on). Nothing is disclosed or changed before ``verified``. Every
transition is an audit entry written in the same transaction.

Raw identities are needed to run a request, so they are kept sealed (Fernet,
with a key derived from the master key) and purged when the request ends;
everything else -- the audit log, the request's own columns -- holds keyed
references only.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import JSON, LargeBinary, String, Table, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.audit import AuditEvent
from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.errors import InputError, KeepwordError, Location, NotFoundError, Problem
from keepword.policy.models import Deadline, Regulation


class Kind(StrEnum):
    ACCESS = "access"  # Art. 15
    PORTABILITY = "portability"  # Art. 20 (``keepword request export``)
    ERASURE = "erasure"  # Art. 17
    RECTIFICATION = "rectification"  # Art. 16
    RESTRICTION = "restriction"  # Art. 18
    OBJECTION = "objection"  # Art. 21


CLI_KINDS = {"access": Kind.ACCESS, "export": Kind.PORTABILITY, "erase": Kind.ERASURE,
             "rectify": Kind.RECTIFICATION, "restrict": Kind.RESTRICTION,
             "object": Kind.OBJECTION}
CHANGING = frozenset({Kind.ERASURE, Kind.RECTIFICATION})  # journaled, resumable
ROUTED = frozenset({Kind.ERASURE, Kind.RECTIFICATION})  # go to an administrator first


class Status(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    AWAITING_ADMINISTRATOR = "awaiting_administrator"
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    DENIED = "denied"
    FAILED = "failed"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.VERIFIED, S.DENIED}),
    S.VERIFIED: frozenset({S.PLANNED, S.RUNNING, S.AWAITING_ADMINISTRATOR, S.PAUSED, S.FAILED,
                           S.COMPLETED, S.DENIED}),
    S.AWAITING_ADMINISTRATOR: frozenset({S.VERIFIED, S.DENIED}),
    S.PLANNED: frozenset({S.RUNNING, S.PAUSED, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.PAUSED}),
    S.PAUSED: frozenset({S.PLANNED, S.RUNNING, S.AWAITING_ADMINISTRATOR, S.FAILED, S.COMPLETED,
                         S.PAUSED}),
}
OPEN = frozenset(TRANSITIONS)
RUNNABLE = frozenset({S.VERIFIED, S.PLANNED, S.RUNNING, S.PAUSED})
ENDED = frozenset({S.COMPLETED, S.DENIED, S.FAILED})


class DsrRequest(Base):
    """One data subject request (no raw personal data outside the sealed columns)."""

    __tablename__ = "dsr_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), index=True)
    regulation: Mapped[str] = mapped_column(String(10))
    deployment: Mapped[str] = mapped_column(String(1000))  # folder of policy.yaml + datasets/
    data_dir: Mapped[str] = mapped_column(String(1000))  # where relative SQLite paths resolve
    subject_refs: Mapped[list[str]] = mapped_column(JSON)  # keyed references only
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    datamap_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    administrator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    admin_decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Vault:
    """Seals what a request must hold raw (identities, new values) until it ends."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(key[:32]))

    def seal(self, data: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def open(self, token: bytes | None) -> Any:
        if token is None:
            return None
        try:
            return json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise KeepwordError("sealed request data cannot be opened with this key") from None


def new_id(prefix: str = "req") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def due_date(received: datetime, deadline: Deadline, *, extended: bool = False) -> datetime:
    """GDPR: one month, extendable by two; CCPA: 45 days + 45 (from the policy)."""
    due = deadline.respond_within.add_to(received)
    return deadline.extension.add_to(due) if extended else due


def parse_regulation(value: str) -> Regulation:
    try:
        return Regulation(value.lower())
    except ValueError:
        raise InputError(Problem("regulation must be one of: "
                                 + ", ".join(r.value for r in Regulation),
                                 Location(path=("regulation",)), code="bad_regulation")) from None


def transition(req: DsrRequest, to: Status, *, reason: str | None = None, actor: str = "system",
               details: Mapping[str, Any] | None = None) -> AuditEvent:
    """Move ``req`` to ``to`` (checked against the state machine); the audit event to append."""
    current = Status(req.status)
    if to not in TRANSITIONS.get(current, frozenset()):
        raise KeepwordError(f"request {req.id} is {current.value}; it cannot become {to.value}")
    now = utcnow()
    req.status = to.value
    req.updated_at = now
    req.reason = reason
    if to is Status.VERIFIED and req.verified_at is None:
        req.verified_at = now
    if to in ENDED:
        req.ended_at = now
        req.sealed = None  # purge the raw identities: the request is over
    body: dict[str, Any] = {"kind": req.kind, "regulation": req.regulation, "from": current.value}
    if reason:
        body["reason"] = reason
    body.update(details or {})
    return AuditEvent(action=f"request.{to.value}", actor=actor, object_type="request",
                      object_id=req.id, subject=req.subject_refs[0] if req.subject_refs else None,
                      details=body)


MUTABLE = ("status", "updated_at", "reason", "verified_at", "ended_at", "sealed", "batch_id",
           "policy_version", "datamap_version", "subject_refs", "result", "administrator",
           "admin_decision", "due_at", "extension_reason")


# What a transition changes (``transition`` sets these, and ``ended_at`` at the end).
MOVED = ("status", "updated_at", "reason", "ended_at", "sealed")
_SAVES: dict[tuple[str, ...], Any] = {}


def save(session: Session, reqs: Sequence[DsrRequest], cols: Sequence[str] = MUTABLE) -> None:
    """Write the requests' changeable columns (or only ``cols``, those the caller changed)
    back: one executemany UPDATE for a batch."""
    if not reqs:
        return
    key = tuple(cols)
    stmt = _SAVES.get(key)
    if stmt is None:
        table = DsrRequest.__table__
        assert isinstance(table, Table)
        stmt = _SAVES[key] = update(table).where(table.c.id == bindparam("k_id")).values(
            {c: bindparam("k_" + c, type_=table.c[c].type) for c in key})
    session.connection().execute(stmt, [{"k_id": r.id, **{"k_" + c: getattr(r, c)
                                                           for c in key}}
                                        for r in reqs])


def insert_new(session: Session, reqs: Sequence[DsrRequest]) -> None:
    """Record new requests with one executemany INSERT (no ORM unit of work)."""
    if not reqs:
        return
    table = DsrRequest.__table__
    assert isinstance(table, Table)
    session.connection().execute(insert(table), [{c.key: getattr(r, c.key)
                                                  for c in table.columns} for r in reqs])


def get(session: Session, request_id: str, *, lock: bool = False) -> DsrRequest:
    stmt = select(DsrRequest).where(DsrRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    req = session.execute(stmt).scalar_one_or_none()
    if req is None:
        raise NotFoundError(f"no request {request_id!r}")
    return req
