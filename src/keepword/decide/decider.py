"""The decision point: may this purpose use these categories of this subject now?

``Decider`` binds one policy version to a runtime (control store, keys, audit).
It answers from the compiled index and a cache of subject snapshots, records
consent through the ledger, records disclosures and integration changes, and
offers the uncompiled reference path (``decide_from_policy``) used by tests and
the benchmark as the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from time import monotonic
from typing import Any

from keepword import disclosures
from keepword.consent.ledger import ConsentLedger
from keepword.decide import rules
from keepword.decide.index import CompiledPolicy, PlanKey
from keepword.decide.reasons import Decision, Denied
from keepword.decide.rules import Query
from keepword.decide.state import Entry, Snapshot, SnapshotCache, load_snapshot
from keepword.decide.subject import Actor, Subject
from keepword.errors import InputError, Location, Problem
from keepword.policy import LoadedPolicy, Policy, content_version, load_policy
from keepword.policy.models import RecipientKind
from keepword.runtime import Keepword

MEMO_PER_SUBJECT = 512  # distinct questions remembered per cached subject


def _categories(categories: str | Sequence[str]) -> tuple[str, ...]:
    return (categories,) if isinstance(categories, str) else tuple(categories)


class Decider:
    """Decisions, consent and disclosures for one policy version."""

    def __init__(self, policy: LoadedPolicy | Policy, runtime: Keepword, *,
                 ttl: float = 5.0, max_subjects: int = 100_000, memo: bool = True) -> None:
        if isinstance(policy, LoadedPolicy):
            self.policy, self.version = policy.policy, policy.version
        else:
            self.policy, self.version = policy, content_version(policy)
        self.runtime = runtime
        self.memo = memo
        self.index = CompiledPolicy(self.policy)
        self.cache = SnapshotCache(self._load, ttl=ttl, max_entries=max_subjects)
        self._entries = self.cache.entries  # the same dict, one attribute look-up less
        self.ledger = ConsentLedger(self.policy, runtime, policy_version=self.version)

    @classmethod
    def from_deployment(cls, folder: str | Path, runtime: Keepword | None = None,
                        **options: Any) -> Decider:
        """From ``<folder>/policy.yaml`` (or a policy file); runtime from the environment."""
        return cls(load_policy(folder), runtime or Keepword(), **options)

    # -- deciding ----------------------------------------------------------------------

    def decide(self, subject: Subject, purpose: str, categories: str | Sequence[str], *,
               recipient: str | None = None, tenant: str | None = None,
               actor: str | Actor | None = None) -> Decision:
        """Allow or deny, with the policy clauses that decided. Unknown input raises."""
        # The hot path: two dict look-ups when this subject was asked this question before.
        if tenant is None:
            tenant = subject.tenant
        if type(categories) is not tuple:
            categories = _categories(categories)
        entry = self._entries.get((subject, tenant))
        if entry is None or entry.expires <= monotonic():
            entry = self.cache.fill(subject, tenant)
        key = (purpose, categories, recipient, tenant, actor)
        decided = entry.decisions.get(key)
        if decided is None:
            decided = self._evaluate(subject, key, entry)
        return decided

    def _evaluate(self, subject: Subject, key: PlanKey, entry: Entry) -> Decision:
        """Run the compiled plan; remember the answer with the subject's snapshot."""
        decision = self.index.decide(subject, key, entry.snapshot)
        # An age computed from a birth date changes at midnight: such answers are not kept.
        if self.memo and subject.birth_date is None and len(entry.decisions) < MEMO_PER_SUBJECT:
            entry.decisions[key] = decision
        return decision

    def decide_from_policy(self, subject: Subject, purpose: str,
                           categories: str | Sequence[str], *, recipient: str | None = None,
                           tenant: str | None = None, actor: str | Actor | None = None
                           ) -> Decision:
        """The same decision evaluated straight from the policy objects (no index)."""
        query = Query.of(subject, purpose, categories, recipient=recipient, tenant=tenant,
                         actor=actor)
        return rules.evaluate(self.policy, subject, query, self.cache.get(subject, query.tenant))

    def check(self, subject: Subject, purpose: str, categories: str | Sequence[str], *,
              recipient: str | None = None, tenant: str | None = None,
              actor: str | Actor | None = None) -> Decision:
        """Like ``decide`` but raises ``Denied`` (carrying the reasons) on deny."""
        decision = self.decide(subject, purpose, categories, recipient=recipient, tenant=tenant,
                               actor=actor)
        if not decision.allowed:
            raise Denied(decision)
        return decision

    def snapshot(self, subject: Subject, tenant: str | None = None) -> Snapshot:
        return self.cache.get(subject, tenant if tenant is not None else subject.tenant)

    def _load(self, subject: Subject, tenant: str | None) -> tuple[Snapshot, tuple[str, ...]]:
        refs = subject.refs(self.runtime.hasher)
        with self.runtime.control.session() as session:
            return load_snapshot(session, refs, tenant), refs

    # -- disclosures and integrations ----------------------------------------------------

    def disclose(self, subject: Subject, recipient: str, purpose: str,
                 categories: str | Sequence[str], *, tenant: str | None = None,
                 actor: str | Actor | None = None, by: str = "system") -> Decision:
        """Decide a disclosure; when allowed, log and audit it (``by`` names who sent it).

        Raises ``Denied`` with the reasons otherwise, and nothing is logged.
        """
        decision = self.check(subject, purpose, categories, recipient=recipient, tenant=tenant,
                              actor=actor)
        with self.runtime.control.session() as session:
            disclosures.record_disclosure(
                session, self.runtime.audit, refs=subject.refs(self.runtime.hasher),
                recipient=recipient, purpose=purpose, categories=_categories(categories),
                legal_basis=self.policy.purposes[purpose].legal_basis.value, actor=by)
        return decision

    def install(self, recipient: str, *, subject: Subject | None = None,
                organisation: str | None = None, actor: str = "system") -> None:
        self._set_integration(recipient, True, subject, organisation, actor)

    def uninstall(self, recipient: str, *, subject: Subject | None = None,
                  organisation: str | None = None, actor: str = "system") -> None:
        """Stop every further disclosure to the integration (audited)."""
        self._set_integration(recipient, False, subject, organisation, actor)

    def _set_integration(self, recipient: str, installed: bool, subject: Subject | None,
                         organisation: str | None, actor: str) -> None:
        rec = self.policy.recipients.get(recipient)
        if rec is None or rec.kind is not RecipientKind.INTEGRATION:
            raise InputError(Problem(f"{recipient!r} is not an integration declared under "
                                     "'recipients' (kind: integration)",
                                     Location(path=("recipient",)), code="unknown"))
        if (subject is None) == (organisation is None):
            raise InputError(Problem("name a subject or an organisation (not both)",
                                     Location(path=("scope",))))
        refs = subject.refs(self.runtime.hasher) if subject is not None else ()
        with self.runtime.control.session() as session:
            disclosures.set_integration(session, self.runtime.audit, recipient,
                                        installed=installed, refs=refs,
                                        organisation=organisation, actor=actor)

