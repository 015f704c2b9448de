"""What the decision point needs to know about one subject, and its cache.

A ``Snapshot`` folds a subject's consent events, restriction/objection events
and integration events into plain dicts and sets, loaded with three set-based
queries. ``SnapshotCache`` keeps snapshots in memory:

* in this process, every write through keepword's APIs (consent ledger,
  integrations, restriction and objection events written through the ORM)
  invalidates the affected subjects once its transaction commits;
* writes made by *other* processes are not seen until the entry's
  time-to-live expires (``ttl``, default 5 s). Use ``ttl=0`` to read the
  control store on every decision when that window is not acceptable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from keepword import disclosures, subject_state
from keepword.consent import changes, ledger
from keepword.decide.reasons import Decision
from keepword.decide.subject import Subject

ALL = subject_state.ALL_PURPOSES


@dataclass(frozen=True, slots=True)
class Snapshot:
    consent: Mapping[str, bool] = field(default_factory=dict)  # key -> last event given?
    restricted: bool = False
    objections: frozenset[str] = frozenset()  # purpose keys, or "*" for all
    integrations: Mapping[str, bool] = field(default_factory=dict)  # recipient -> usable?


def load_snapshot(session: Session, refs: tuple[str, ...], organisation: str | None
                  ) -> Snapshot:
    state = subject_state.current_state(session, refs)
    objections = frozenset(r.scope for r in state.restrictions
                           if r.kind is subject_state.StateKind.OBJECTION)
    return Snapshot(ledger.consent_map(session, refs), state.restricted is not None, objections,
                    disclosures.integration_map(session, refs, organisation))


Key = tuple[Subject, str | None]


class Entry:
    """A cached snapshot, when it expires, and the decisions already made from it."""

    __slots__ = ("decisions", "expires", "snapshot")

    def __init__(self, snapshot: Snapshot, expires: float) -> None:
        self.snapshot = snapshot
        self.expires = expires
        self.decisions: dict[tuple[object, ...], Decision] = {}


class SnapshotCache:
    """Subject snapshots with a time-to-live, invalidated by committed local writes."""

    def __init__(self, load: Callable[[Subject, str | None], tuple[Snapshot, tuple[str, ...]]],
                 *, ttl: float = 5.0, max_entries: int = 100_000) -> None:
        self._load = load
        self.ttl = ttl
        self.max_entries = max_entries
        self.entries: dict[Key, Entry] = {}
        self._by_token: dict[str, set[Key]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        changes.watch(self)

    def get(self, subject: Subject, tenant: str | None) -> Snapshot:
        return self.entry(subject, tenant).snapshot

    def entry(self, subject: Subject, tenant: str | None) -> Entry:
        entry = self.entries.get((subject, tenant))
        if entry is not None and entry.expires > time.monotonic():
            return entry
        return self.fill(subject, tenant)

    def fill(self, subject: Subject, tenant: str | None) -> Entry:
        """Load from the control store; keep it unless something changed meanwhile."""
        generation = self._generation
        snapshot, refs = self._load(subject, tenant)
        entry = Entry(snapshot, time.monotonic() + self.ttl)
        if self.ttl <= 0:
            return entry
        key = (subject, tenant)
        with self._lock:
            if generation != self._generation:
                return entry  # a write committed while loading: do not keep this one
            if len(self.entries) >= self.max_entries:
                self.entries.clear()  # simple and bounded: refill from the store
                self._by_token.clear()
            self.entries[key] = entry
            tokens = [*refs, *([changes.org_token(tenant)] if tenant else [])]
            for token in tokens:
                self._by_token.setdefault(token, set()).add(key)
        return entry

    def invalidate(self, tokens: Iterable[str]) -> None:
        with self._lock:
            self._generation += 1
            for token in tokens:
                for key in self._by_token.pop(token, ()):
                    self.entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self.entries.clear()
            self._by_token.clear()

    def __len__(self) -> int:
        return len(self.entries)
