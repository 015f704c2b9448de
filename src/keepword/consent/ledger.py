"""The consent ledger: append-only events; the current state is derived.

Each event says that a subject (keyed identity reference, never the identity)
gave or withdrew consent to one purpose (or approval of one recipient,
``recipient:<key>``), through which channel, having seen which notice (version
and SHA-256 of its text), when, with which proof (form id, keyed hash of the
IP address). Nothing is ever updated or deleted: this module has no such path.
The state of a purpose is its last event, ordered by (time, id); a withdrawal
that precedes any grant is kept as it is and simply means "not given".

Withdrawing is the same call as giving with ``given=False`` (GDPR Art. 7(3)).
Writes are audited in the same transaction and, once committed, invalidate
in-process decision caches (``keepword.consent.changes``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, Integer, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.audit import AuditEvent
from keepword.consent import changes
from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.decide.subject import Subject
from keepword.errors import InputError, Location, Problem

if TYPE_CHECKING:
    from keepword.policy.models import Policy
    from keepword.runtime import Keepword

RECIPIENT_PREFIX = "recipient:"
_CHANNEL = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    act_id: Mapped[str] = mapped_column(String(36))  # one act, stored once per identity ref
    subject_ref: Mapped[str] = mapped_column(String(80), index=True)
    purpose: Mapped[str] = mapped_column(String(200))  # purpose key or recipient:<key>
    given: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(40))  # web, app, email, api, cli, gpc...
    notice_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    notice_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    form_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ip_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the subject acted
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when keepword stored it


@dataclass(frozen=True)
class Notice:
    """The notice the subject saw: its version and the SHA-256 of its exact text."""

    version: str
    text_hash: str | None = None

    @classmethod
    def of_text(cls, version: str, text: str) -> Notice:
        return cls(version, "sha256:" + hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class Proof:
    """Evidence of the act. The IP address is stored only as a keyed hash."""

    form_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    """One stored event, as read back."""

    id: int
    act_id: str
    subject_ref: str
    purpose: str
    given: bool
    channel: str
    notice_version: str | None
    notice_hash: str | None
    policy_version: str | None
    form_id: str | None
    ip_hash: str | None
    at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ConsentInput:
    """One act of a subject for the batch API: several purposes, given or withdrawn."""

    subject: Subject
    purposes: tuple[str, ...]
    given: bool
    channel: str = "api"
    notice: Notice | None = None
    proof: Proof | None = None
    at: datetime | None = None


def derive(records: Iterable[ConsentRecord]) -> dict[str, ConsentRecord]:
    """The current state: the last event per purpose by (time, id)."""
    last: dict[str, ConsentRecord] = {}
    for rec in records:
        seen = last.get(rec.purpose)
        if seen is None or (rec.at, rec.id) >= (seen.at, seen.id):
            last[rec.purpose] = rec
    return last


def history(session: Session, refs: Sequence[str]) -> list[ConsentRecord]:
    """Every event of the person (all their references), oldest first, each act once."""
    if not refs:
        return []
    cols = [getattr(ConsentEvent, f) for f in ConsentRecord.__dataclass_fields__]
    rows = session.execute(select(*cols).where(ConsentEvent.subject_ref.in_(refs))
                           .order_by(ConsentEvent.at, ConsentEvent.id))
    acts: dict[str, ConsentRecord] = {}
    for row in rows:
        acts.setdefault(row.act_id, ConsentRecord(*row))
    return list(acts.values())


def consent_map(session: Session, refs: Sequence[str]) -> dict[str, bool]:
    """Purpose -> given? for the person; purposes never mentioned are absent."""
    if not refs:
        return {}
    rows = session.execute(
        select(ConsentEvent.purpose, ConsentEvent.given)
        .where(ConsentEvent.subject_ref.in_(refs))
        .order_by(ConsentEvent.at, ConsentEvent.id))
    return {purpose: bool(given) for purpose, given in rows}  # later rows win


def consent_keys(policy: Policy) -> frozenset[str]:
    """What consent can be recorded for: every purpose, and every recipient."""
    return frozenset([*policy.purposes, *(RECIPIENT_PREFIX + r for r in policy.recipients)])


class ConsentLedger:
    """The ledger bound to one policy (to check purpose keys) and one runtime."""

    def __init__(self, policy: Policy, runtime: Keepword, *,
                 policy_version: str | None = None) -> None:
        self.policy = policy
        self.kw = runtime
        self.policy_version = policy_version
        self._keys = consent_keys(policy)

    def give(self, subject: Subject, purposes: str | Sequence[str], **kw: object) -> int:
        return self.record(subject, purposes, given=True, **kw)  # type: ignore[arg-type]

    def withdraw(self, subject: Subject, purposes: str | Sequence[str], **kw: object) -> int:
        return self.record(subject, purposes, given=False, **kw)  # type: ignore[arg-type]

    def record(self, subject: Subject, purposes: str | Sequence[str], *, given: bool,
               channel: str = "api", notice: Notice | None = None, proof: Proof | None = None,
               at: datetime | None = None, actor: str = "subject",
               session: Session | None = None) -> int:
        """Give (``given=True``) or withdraw consent; returns the events stored."""
        keys = (purposes,) if isinstance(purposes, str) else tuple(purposes)
        act = ConsentInput(subject, keys, given, channel, notice, proof, at)
        return self.record_many([act], actor=actor, session=session)

    def record_many(self, acts: Iterable[ConsentInput], *, actor: str = "subject",
                    session: Session | None = None) -> int:
        """Store many acts in one transaction (one event per purpose and identity)."""
        rows, audits, tokens = self._rows([*acts], actor)
        if not rows:
            return 0
        if session is not None:
            self._write(session, rows, audits)
            changes.on_commit(session, tokens)
        else:
            with self.kw.control.session() as own:
                self._write(own, rows, audits)
            changes.notify(tokens)
        return len(rows)

    def _write(self, session: Session, rows: list[dict[str, object]],
               audits: list[AuditEvent]) -> None:
        # Core insert on the session's connection: the ORM bulk path costs more than SQLite.
        session.connection().execute(insert(Base.metadata.tables[ConsentEvent.__tablename__]), rows)
        self.kw.audit.append_many(session, audits)

    def _rows(self, acts: list[ConsentInput], actor: str
              ) -> tuple[list[dict[str, object]], list[AuditEvent], set[str]]:
        now = utcnow()
        rows: list[dict[str, object]] = []
        audits: list[AuditEvent] = []
        tokens: set[str] = set()
        for n, act in enumerate(acts):
            self._check(act, n)
            refs = act.subject.refs(self.kw.hasher)
            tokens.update(refs)
            base = self._common(act, now)
            for purpose in act.purposes:
                act_id = str(uuid.uuid4())
                rows.extend({**base, "act_id": act_id, "subject_ref": ref, "purpose": purpose}
                            for ref in refs)
                audits.append(AuditEvent(
                    action="consent.given" if act.given else "consent.withdrawn",
                    actor=actor, object_type="consent", object_id=purpose, subject=refs[0],
                    details={"channel": act.channel, "identities": len(refs),
                             "notice_version": base["notice_version"]}))
        return rows, audits, tokens

    def _common(self, act: ConsentInput, now: datetime) -> dict[str, object]:
        proof = act.proof or Proof()
        return {
            "given": act.given, "channel": act.channel,
            "notice_version": act.notice.version if act.notice else self.policy_version,
            "notice_hash": act.notice.text_hash if act.notice else None,
            "policy_version": self.policy_version, "form_id": proof.form_id,
            "ip_hash": self.kw.hasher.ref("ip", proof.ip.strip()) if proof.ip else None,
            "at": act.at or now, "recorded_at": now,
        }

    def _check(self, act: ConsentInput, n: int) -> None:
        problems = []
        for i, key in enumerate(act.purposes):
            if key not in self._keys:
                problems.append(Problem(
                    f"unknown purpose {key!r}: consent is recorded for a purpose of the policy "
                    f"or for '{RECIPIENT_PREFIX}<recipient>'",
                    Location(path=("consent", n, "purposes", i)), code="unknown_purpose"))
        if not act.purposes:
            problems.append(Problem("name at least one purpose",
                                    Location(path=("consent", n, "purposes"))))
        if not _CHANNEL.match(act.channel):
            problems.append(Problem("the channel is a short lower-case word (web, app, api...)",
                                    Location(path=("consent", n, "channel"))))
        if act.at is not None and act.at.tzinfo is None:
            problems.append(Problem("the time of consent needs a time zone",
                                    Location(path=("consent", n, "at"))))
        if problems:
            raise InputError(problems)

    def history(self, subject: Subject) -> list[ConsentRecord]:
        with self.kw.control.session() as session:
            return history(session, subject.refs(self.kw.hasher))

    def state(self, subject: Subject) -> dict[str, ConsentRecord]:
        """Purpose -> its last event (``.given`` says whether consent is in force)."""
        return derive(self.history(subject))
