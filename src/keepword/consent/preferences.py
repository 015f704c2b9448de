"""Marketing preferences per channel, with the time of the subject's last interest.

Channels are ``email``, ``sms``, ``phone`` and ``post``. Each change is an
append-only event (opt in, opt out, or a sign of interest such as a visit or a
click); the current preference and the *last interest* are derived. Retention
uses the last interest (Ikcon §9.3: marketing data is kept until the subject last
showed interest): ``stale_subjects`` finds, in one grouped query, the subjects
whose last interest is older than a cut-off. Preferences can be changed at any
time (IKO). Opting in counts as interest; interest on channel ``*`` counts for
every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Integer, String, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from keepword.audit import AuditEvent
from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.decide.subject import Subject
from keepword.errors import InputError, Location, Problem

if TYPE_CHECKING:
    from keepword.runtime import Keepword

CHANNELS = ("email", "sms", "phone", "post")
ANY_CHANNEL = "*"
OPT_IN, OPT_OUT, INTEREST = "opt_in", "opt_out", "interest"


class PreferenceEvent(Base):
    __tablename__ = "preference_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    subject_ref: Mapped[str] = mapped_column(String(80), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email, sms, phone, post, or *
    kind: Mapped[str] = mapped_column(String(10))  # opt_in, opt_out, interest
    source: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class ChannelPreference:
    channel: str
    opted_in: bool | None  # None: never chosen
    changed_at: datetime | None
    last_interest: datetime | None


def preferences_of(session: Session, refs: Sequence[str]) -> dict[str, ChannelPreference]:
    """Every channel's current preference and last interest for the person."""
    rows: list[tuple[str, str, datetime]] = [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(PreferenceEvent.channel, PreferenceEvent.kind, PreferenceEvent.at)
        .where(PreferenceEvent.subject_ref.in_(refs))
        .order_by(PreferenceEvent.at, PreferenceEvent.id))] if refs else []
    choice: dict[str, tuple[bool, datetime]] = {}
    interest: dict[str, datetime] = {}
    for channel, kind, at in rows:
        if kind in (OPT_IN, OPT_OUT):
            choice[channel] = (kind == OPT_IN, at)
        if kind in (OPT_IN, INTEREST):
            interest[channel] = max(at, interest.get(channel, at))
    out = {}
    for channel in CHANNELS:
        opted, changed = choice.get(channel, (None, None))
        seen = [t for t in (interest.get(channel), interest.get(ANY_CHANNEL)) if t]
        out[channel] = ChannelPreference(channel, opted, changed, max(seen) if seen else None)
    return out


def stale_subjects(session: Session, before: datetime, *, channel: str | None = None
                   ) -> list[str]:
    """References whose last interest (opt-in or interest event) is before ``before``."""
    stmt = (select(PreferenceEvent.subject_ref)
            .where(PreferenceEvent.kind.in_([OPT_IN, INTEREST]))
            .group_by(PreferenceEvent.subject_ref)
            .having(func.max(PreferenceEvent.at) < before))
    if channel is not None:
        stmt = stmt.where(PreferenceEvent.channel.in_([channel, ANY_CHANNEL]))
    return list(session.scalars(stmt))


class Preferences:
    """Set and read marketing preferences; every change is audited."""

    def __init__(self, runtime: Keepword) -> None:
        self.kw = runtime

    def set(self, subject: Subject, channel: str, opted_in: bool, *, source: str = "api",
            at: datetime | None = None, session: Session | None = None) -> None:
        _check(channel, allow_any=False)
        self._append(subject, channel, OPT_IN if opted_in else OPT_OUT, source=source, at=at,
                     session=session)

    def interest(self, subject: Subject, channel: str = ANY_CHANNEL, *, source: str = "web",
                 at: datetime | None = None, session: Session | None = None) -> None:
        """The subject showed interest (visited, clicked, replied): resets the clock."""
        _check(channel, allow_any=True)
        self._append(subject, channel, INTEREST, source=source, at=at, session=session)

    def get(self, subject: Subject) -> dict[str, ChannelPreference]:
        with self.kw.control.session() as session:
            return preferences_of(session, subject.refs(self.kw.hasher))

    def _append(self, subject: Subject, channel: str, kind: str, *, source: str,
                at: datetime | None, session: Session | None) -> None:
        if at is not None and at.tzinfo is None:
            raise InputError(Problem("the time needs a time zone", Location(path=("at",))))
        refs = subject.refs(self.kw.hasher)
        rows = [{"subject_ref": r, "channel": channel, "kind": kind, "source": source,
                 "at": at or utcnow()} for r in refs]
        event = AuditEvent(action=f"preferences.{kind}", actor=source, object_type="preference",
                           object_id=channel, subject=refs[0], details={"source": source})
        if session is None:
            with self.kw.control.session() as own:
                own.execute(insert(PreferenceEvent), rows)
                self.kw.audit.append(own, event)
        else:
            session.execute(insert(PreferenceEvent), rows)
            self.kw.audit.append(session, event)


def _check(channel: str, *, allow_any: bool) -> None:
    allowed = (*CHANNELS, ANY_CHANNEL) if allow_any else CHANNELS
    if channel not in allowed:
        raise InputError(Problem(f"unknown channel {channel!r}; use one of "
                                 f"{', '.join(allowed)}", Location(path=("channel",)),
                                 code="unknown_channel"))
