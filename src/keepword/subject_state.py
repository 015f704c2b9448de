"""Restriction and objection: subject state the decision point honours.

Kept as an append-only list of events per keyed identity reference; the current
state is derived from the events, never overwritten. A restriction (Art. 18,
e.g. during a dispute, Ikcon §10.3) stops all processing but storage; an
objection (Art. 21) stops processing for one purpose key, or for every purpose
based on legitimate interest (scope ``*``); objection to direct marketing is
absolute (Art. 21(3)). Lifting either needs a recorded reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.control.base import Base, UTCDateTime, utcnow

ALL_PURPOSES = "*"


class StateKind(StrEnum):
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class StateAction(StrEnum):
    SET = "set"
    LIFT = "lift"


class SubjectStateEvent(Base):
    __tablename__ = "subject_state_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    subject_ref: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(200))  # purpose key, or "*" for all
    reason: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


_t = SubjectStateEvent.__table__
# Built once (Core, expanding IN): the access path reads this on every request.
_BY_REFS = (select(_t.c.kind, _t.c.action, _t.c.scope, _t.c.reason, _t.c.request_id, _t.c.at)
            .where(_t.c.subject_ref.in_(bindparam("refs", expanding=True)))
            .order_by(_t.c.at, _t.c.id))


@dataclass(frozen=True)
class Restriction:
    kind: StateKind
    scope: str
    reason: str
    since: datetime
    request_id: str | None


@dataclass(frozen=True)
class SubjectState:
    """What is in force for one person (all their identity references merged)."""

    restrictions: tuple[Restriction, ...] = ()

    @property
    def restricted(self) -> Restriction | None:
        return next((r for r in self.restrictions if r.kind is StateKind.RESTRICTION), None)

    def objection(self, purpose: str) -> Restriction | None:
        """The objection covering ``purpose`` (exact key or ``*``), if any."""
        return next((r for r in self.restrictions if r.kind is StateKind.OBJECTION
                     and r.scope in (purpose, ALL_PURPOSES)), None)


def record(session: Session, subject_refs: Iterable[str], kind: StateKind,
           action: StateAction, reason: str, *, scope: str = ALL_PURPOSES,
           request_id: str | None = None) -> None:
    """Append one event per identity reference of the person."""
    if not reason.strip():
        raise ValueError("a restriction or objection needs a reason")
    now = utcnow()
    session.add_all(SubjectStateEvent(subject_ref=ref, kind=kind.value, action=action.value,
                                      scope=scope, reason=reason, request_id=request_id, at=now)
                    for ref in subject_refs)
    session.flush()


def current_state(session: Session, subject_refs: Sequence[str]) -> SubjectState:
    """Replay the events of every reference; the last event per (kind, scope) wins."""
    if not subject_refs:
        return SubjectState()
    return state_of(session.execute(_BY_REFS, {"refs": list(subject_refs)}))


def state_of(rows: Iterable[Sequence[Any]]) -> SubjectState:
    """The state from its events (kind, action, scope, reason, request id, time), in order."""
    live: dict[tuple[str, str], Restriction | None] = {}
    for kind, action, scope, reason, request_id, at in rows:
        if action == StateAction.SET.value:
            live[(kind, scope)] = Restriction(StateKind(kind), scope, reason, at, request_id)
        else:
            live[(kind, scope)] = None
    return SubjectState(tuple(r for r in live.values() if r is not None))
