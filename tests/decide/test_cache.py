"""The snapshot cache: local writes invalidate it on commit; other processes' writes
are seen after the time-to-live. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import insert

from keepword.consent.ledger import ConsentEvent
from keepword.control.base import utcnow
from keepword.decide import Decider, Subject
from keepword.policy import load_policy
from keepword.runtime import Keepword
from tests.decide.conftest import policy_path, restrict

ADA = Subject.of(email="ada@example.com", age=30)
ASK = ("marketing_email", ["user.contact.email"])


def decider(kw: Keepword, **options: float) -> Decider:
    return Decider(load_policy(policy_path("ikcon_like")), kw, **options)


def test_consent_written_here_is_seen_at_once(kw: Keepword) -> None:
    d = decider(kw, ttl=3600)
    assert not d.decide(ADA, *ASK)
    d.ledger.give(ADA, "marketing_email")
    assert d.decide(ADA, *ASK)
    d.ledger.withdraw(ADA, "marketing_email")
    assert not d.decide(ADA, *ASK)


def test_every_decider_of_the_process_hears_of_a_change(kw: Keepword) -> None:
    one, two = decider(kw, ttl=3600), decider(kw, ttl=3600)
    assert not two.decide(ADA, *ASK)
    one.ledger.give(ADA, "marketing_email")
    assert two.decide(ADA, *ASK)


def test_restriction_written_by_requests_code_is_seen_at_once(kw: Keepword) -> None:
    d = decider(kw, ttl=3600)
    assert d.decide(ADA, "essential.service", ["user.name"])
    restrict(d, ADA)
    assert [r.clause for r in d.decide(ADA, "essential.service", ["user.name"]).reasons] == [
        "rights.restriction"]
    restrict(d, ADA, lift=True)
    assert d.decide(ADA, "essential.service", ["user.name"])


def test_a_callers_transaction_counts_only_once_committed(kw: Keepword) -> None:
    d = decider(kw, ttl=3600)
    with kw.control.session() as session:
        d.ledger.give(ADA, "marketing_email", session=session)
        assert not d.decide(ADA, *ASK)  # not committed yet: the old answer stands
    assert d.decide(ADA, *ASK)
    try:
        with kw.control.session() as session:
            d.ledger.withdraw(ADA, "marketing_email", session=session)
            raise RuntimeError("the caller's work failed")
    except RuntimeError:
        pass
    assert d.decide(ADA, *ASK)  # rolled back: consent still given
    assert [r.given for r in d.ledger.history(ADA)] == [True]


def _write_elsewhere(kw: Keepword, given: bool) -> None:
    """What another process does: rows in the store, no message to this process."""
    now = utcnow()
    with kw.control.session() as session:
        session.execute(insert(ConsentEvent), [{
            "act_id": "elsewhere", "subject_ref": ref, "purpose": "marketing_email",
            "given": given, "channel": "web", "at": now, "recorded_at": now}
            for ref in ADA.refs(kw.hasher)])


def test_other_processes_writes_are_seen_after_the_ttl(kw: Keepword) -> None:
    d = decider(kw, ttl=0.3)
    assert not d.decide(ADA, *ASK)
    _write_elsewhere(kw, True)
    assert not d.decide(ADA, *ASK)  # cached, within the time-to-live
    time.sleep(0.35)
    assert d.decide(ADA, *ASK)


def test_ttl_zero_reads_the_store_every_time(kw: Keepword) -> None:
    d = decider(kw, ttl=0)
    assert not d.decide(ADA, *ASK)
    _write_elsewhere(kw, True)
    assert d.decide(ADA, *ASK)
    assert len(d.cache) == 0


def test_cache_stays_bounded(kw: Keepword) -> None:
    d = decider(kw, ttl=3600, max_subjects=5)
    for i in range(12):
        d.decide(Subject.of(email=f"p{i}@example.com", age=30), "essential.service",
                 ["user.name"])
        assert len(d.cache) <= 5
