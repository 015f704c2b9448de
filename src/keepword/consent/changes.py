"""Tell in-process caches that consent-related state of some subjects changed.

Writers (the consent ledger, integrations, restriction/objection events) name
the *tokens* that changed: keyed identity references (``hmac:...``) or
organisations (``org:<name>``). Caches are told only after the transaction
commits, so a cache can never be refilled from a state that is later rolled
back, nor miss a commit. Other processes are not told: their caches expire
after a short time-to-live (see ``keepword.decide.state``).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from keepword.subject_state import SubjectStateEvent

_PENDING = "keepword.changed_tokens"
_HOOKED = "keepword.changes_hooked"


class Listener(Protocol):
    def invalidate(self, tokens: Iterable[str]) -> None: ...


_listeners: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(listener: Listener) -> None:
    """Register a cache; it is held weakly and forgotten when collected."""
    _listeners.add(listener)


def notify(tokens: Iterable[str]) -> None:
    """Tell every registered cache now (call after the change is committed)."""
    changed = frozenset(tokens)
    if changed:
        for listener in list(_listeners):
            listener.invalidate(changed)


def org_token(organisation: str) -> str:
    return f"org:{organisation}"


def on_commit(session: Session, tokens: Iterable[str]) -> None:
    """Notify once ``session`` commits; forget the tokens if it rolls back."""
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.update(tokens)
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)


def _committed(session: Session) -> None:
    notify(session.info.pop(_PENDING, ()))


def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(SubjectStateEvent, "after_insert")
def _subject_state_written(_mapper: object, _conn: object, target: SubjectStateEvent) -> None:
    # Restrictions and objections are written by the requests code through the ORM;
    # they change decisions too, so caches hear about them the same way.
    session = object_session(target)
    if session is not None:
        on_commit(session, [target.subject_ref])
