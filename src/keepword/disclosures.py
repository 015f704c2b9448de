"""Disclosures to recipients, and integrations installed or uninstalled.

Every disclosure of a subject's data to a recipient is a row here (recipient,
categories, purpose, legal basis, time) and an audit entry, so the access export
can list them (GDPR Art. 15(1)(c)) through ``disclosures_for``. A disclosure is
stored once per identity reference of the subject, sharing one ``event_id``, so
it is found whichever identity the subject later asks with.

Integrations (Ikcon §5.3.3) are installed for one subject or for a whole
organisation. The state per recipient is derived from append-only events: an
integration is usable when some scope's last event is an install and no scope's
last event is an uninstall; uninstalling therefore stops every further
disclosure, and the decision point denies from then on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Integer,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword import driver, jsoncodec
from keepword.audit import AuditEvent, AuditHead, AuditLog
from keepword.consent import changes
from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.sqlsets import member_of
from keepword.subject_state import SubjectState, SubjectStateEvent, state_of

_Id = BigInteger().with_variant(Integer, "sqlite")


class DisclosureRow(Base):
    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))  # one disclosure, many identity refs
    subject_ref: Mapped[str] = mapped_column(String(80), index=True)
    recipient: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON)
    legal_basis: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntegrationEvent(Base):
    __tablename__ = "integration_events"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(20))  # "subject" or "organisation"
    scope_ref: Mapped[str] = mapped_column(String(200), index=True)  # hmac:... or org:<name>
    installed: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Disclosure:
    """One disclosure as the access export shows it."""

    event_id: str
    recipient: str
    purpose: str
    categories: tuple[str, ...]
    legal_basis: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "purpose": self.purpose,
                "categories": list(self.categories), "legal_basis": self.legal_basis,
                "at": self.at.isoformat()}


def record_disclosure(session: Session, audit: AuditLog, *, refs: Sequence[str], recipient: str,
                      purpose: str, categories: Sequence[str], legal_basis: str,
                      actor: str | None = None, at: datetime | None = None) -> str:
    """Store and audit one disclosure (the caller decided it was allowed)."""
    if not refs:
        raise ValueError("a disclosure needs the subject's identity references")
    event_id, when, cats = str(uuid.uuid4()), at or utcnow(), list(categories)
    session.connection().execute(insert(Base.metadata.tables[DisclosureRow.__tablename__]), [
        {"event_id": event_id, "subject_ref": ref, "recipient": recipient, "purpose": purpose,
         "categories": cats, "legal_basis": legal_basis, "actor": actor, "at": when}
        for ref in refs])
    audit.append(session, AuditEvent(
        action="disclosure", actor=actor or "system", object_type="recipient",
        object_id=recipient, subject=refs[0],
        details={"event": event_id, "purpose": purpose, "categories": cats,
                 "legal_basis": legal_basis}))
    return event_id


_d = DisclosureRow.__table__
# Built once (Core, expanding IN): every access request reads this.
_BY_REFS = (select(_d.c.event_id, _d.c.recipient, _d.c.purpose, _d.c.categories,
                   _d.c.legal_basis, _d.c.at)
            .where(_d.c.subject_ref.in_(bindparam("refs", expanding=True)))
            .order_by(_d.c.at, _d.c.id))


def disclosures_for(session: Session, refs: Sequence[str]) -> list[Disclosure]:
    """Every disclosure of the person's data, oldest first (for the access export)."""
    if not refs:
        return []
    return _disclosed(session.execute(_BY_REFS, {"refs": list(refs)}))


def _disclosed(rows: Iterable[Sequence[Any]]) -> list[Disclosure]:
    seen: dict[str, Disclosure] = {}
    for event_id, recipient, purpose, cats, basis, at in rows:
        seen.setdefault(event_id, Disclosure(event_id, recipient, purpose, tuple(cats), basis,
                                             at))
    return list(seen.values())


_s = SubjectStateEvent.__table__
_h = AuditHead.__table__
_CONTEXT: dict[tuple[str, bool], Any] = {}


def _context_statement(dialect: str, head: bool = False) -> Any:
    """The person's restrictions and disclosures in one round trip (a single access reads
    both): the two selects side by side, told apart by ``src``, each in its own order;
    the references as one set parameter (``sqlsets.member_of``), so the statement is
    compiled once per backend. ``head`` (PostgreSQL): and the audit log's head, last
    (its digest as hex text, its sequence number as ``n``)."""
    stmt = _CONTEXT.get((dialect, head))
    if stmt is None:
        parts = [
            select(literal(0).label("src"), _s.c.kind, _s.c.action, _s.c.scope, _s.c.reason,
                   _s.c.request_id, _s.c.at, _s.c.id.label("n"))
            .where(member_of(_s.c.subject_ref, "refs", dialect, own_text=True)),
            select(literal(1), _d.c.event_id, _d.c.recipient, _d.c.purpose,
                   cast(_d.c.categories, String), _d.c.legal_basis, _d.c.at, _d.c.id)
            .where(member_of(_d.c.subject_ref, "refs", dialect, own_text=True))]
        if head:
            parts.append(select(literal(2), func.encode(_h.c.digest, "hex"), null(), null(),
                                null(), null(), null(), _h.c.seq).where(_h.c.id == 1))
        stmt = _CONTEXT[(dialect, head)] = union_all(*parts).order_by(
            literal_column("src"), literal_column("at"), literal_column("n"))
    return stmt


def state_and_disclosures(session: Session, refs: Sequence[str]
                          ) -> tuple[SubjectState, list[Disclosure]]:
    """``current_state`` and ``disclosures_for`` with one statement."""
    if not refs:
        return SubjectState(), []
    state, disclosed, _ = _read_context(session.connection(), refs, head=False)
    return state, disclosed


def context_and_head(conn: Connection, refs: Sequence[str]
                     ) -> tuple[SubjectState, list[Disclosure], tuple[int, bytes] | None]:
    """``state_and_disclosures`` and, on PostgreSQL, the audit log's head ``(seq,
    digest)`` in the same statement (for ``AuditLog.append_at``; elsewhere ``None``)."""
    return _read_context(conn, refs, head=conn.dialect.name == "postgresql")


def send_context(conn: Connection, refs: Sequence[str]) -> driver.Sent:
    """``context_and_head`` sent ahead (``driver.send``): read it with ``context_of``."""
    head = conn.dialect.name == "postgresql"
    return driver.send(conn, _context_statement(conn.dialect.name, head), {"refs": list(refs)})


def context_of(sent: driver.Sent
               ) -> tuple[SubjectState, list[Disclosure], tuple[int, bytes] | None]:
    """What ``context_and_head`` gives, from the statement ``send_context`` sent."""
    return _parsed(sent.rows())


def _read_context(conn: Connection, refs: Sequence[str], *, head: bool
                  ) -> tuple[SubjectState, list[Disclosure], tuple[int, bytes] | None]:
    return _parsed(driver.rows(conn, _context_statement(conn.dialect.name, head),
                               {"refs": list(refs)}))


def _parsed(found_rows: Sequence[Sequence[Any]]
            ) -> tuple[SubjectState, list[Disclosure], tuple[int, bytes] | None]:
    state: list[Sequence[Any]] = []
    disclosed: list[Sequence[Any]] = []
    found: tuple[int, bytes] | None = None
    for src, *row in found_rows:
        if src == 0:
            state.append(row[:6])
        elif src == 1:
            event_id, recipient, purpose, cats, basis, at = row[:6]
            disclosed.append((event_id, recipient, purpose, jsoncodec.loads(cats), basis, at))
        else:
            found = (int(row[6]), bytes.fromhex(row[0]))
    return state_of(state), _disclosed(disclosed), found


def set_integration(session: Session, audit: AuditLog, recipient: str, *, installed: bool,
                    refs: Sequence[str] = (), organisation: str | None = None,
                    actor: str = "system") -> list[str]:
    """Install or uninstall for a subject (``refs``) or an organisation; audited.

    Returns the change tokens; the caller notifies caches once committed
    (``changes.on_commit`` does that for the caller's session).
    """
    if bool(refs) == (organisation is not None):
        raise ValueError("install for a subject or for an organisation, not both or neither")
    scope = "subject" if refs else "organisation"
    scope_refs = list(refs) if refs else [changes.org_token(organisation or "")]
    now = utcnow()
    session.execute(insert(IntegrationEvent), [
        {"recipient": recipient, "scope": scope, "scope_ref": ref, "installed": installed,
         "actor": actor, "at": now} for ref in scope_refs])
    audit.append(session, AuditEvent(
        action="integration.installed" if installed else "integration.uninstalled",
        actor=actor, object_type="recipient", object_id=recipient,
        subject=refs[0] if refs else None,
        details={"scope": scope, "organisation": organisation}))
    changes.on_commit(session, scope_refs)
    return scope_refs


def integration_map(session: Session, refs: Sequence[str], organisation: str | None
                    ) -> dict[str, bool]:
    """Recipient -> usable? for this subject within this organisation (absent: never set)."""
    scopes = [*refs, *([changes.org_token(organisation)] if organisation else [])]
    if not scopes:
        return {}
    rows = session.execute(
        select(IntegrationEvent.recipient, IntegrationEvent.scope, IntegrationEvent.installed)
        .where(IntegrationEvent.scope_ref.in_(scopes))
        .order_by(IntegrationEvent.at, IntegrationEvent.id))
    last: dict[tuple[str, str], bool] = {}
    for recipient, scope, installed in rows:
        last[(recipient, scope)] = bool(installed)  # subject refs merge into one scope
    state: dict[str, bool] = {}
    for (recipient, _scope), installed in last.items():
        state[recipient] = state.get(recipient, True) and installed
    return state
