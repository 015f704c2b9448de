"""The consent ledger: append-only events, derived state, proof, audit."""

from __future__ import annotations

import inspect
import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from keepword.consent import ledger as ledger_module
from keepword.consent.ledger import (
    ConsentEvent,
    ConsentInput,
    ConsentLedger,
    ConsentRecord,
    Notice,
    Proof,
    consent_map,
    derive,
)
from keepword.decide import Decider, Subject
from keepword.errors import InputError
from keepword.policy import load_policy
from keepword.runtime import Keepword
from keepword.settings import load_settings
from tests.decide.conftest import policy_path

ADA = Subject.of(email="Ada@Example.com", phone="+44 20 7946 0123", age=30)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_give_and_withdraw_derive_the_state(ledger: ConsentLedger) -> None:
    ledger.give(ADA, ["marketing_email", "targeted_ads"], channel="web")
    ledger.withdraw(ADA, "targeted_ads", channel="web")
    state = ledger.state(ADA)
    assert {k: r.given for k, r in state.items()} == {"marketing_email": True,
                                                      "targeted_ads": False}
    assert [(r.purpose, r.given) for r in ledger.history(Subject.of(email="ada@example.com"))
            ] == [("marketing_email", True), ("targeted_ads", True), ("targeted_ads", False)]


def test_any_identity_of_the_person_finds_the_events(ledger: ConsentLedger) -> None:
    ledger.give(ADA, "marketing_email")
    by_phone = Subject.of(phone="+442079460123")
    assert ledger.state(by_phone)["marketing_email"].given
    ledger.withdraw(by_phone, "marketing_email")  # withdrawn through another identity
    assert not ledger.state(ADA)["marketing_email"].given


def test_withdrawal_before_any_grant_is_kept_as_it_is(ledger: ConsentLedger,
                                                      decider: Decider) -> None:
    ledger.withdraw(ADA, "marketing_email", channel="email")
    history = ledger.history(ADA)
    assert [(r.purpose, r.given, r.channel) for r in history] == [
        ("marketing_email", False, "email")]
    assert not decider.decide(ADA, "marketing_email", ["user.name"])


def test_events_carry_notice_and_proof_but_no_raw_identity(ledger: ConsentLedger,
                                                           kw: Keepword) -> None:
    notice = Notice.of_text("2026-01", "We will email you our offers. Withdraw any time.")
    ledger.give(ADA, "marketing_email", channel="web", notice=notice,
                proof=Proof(form_id="signup-v3", ip="203.0.113.7"), at=T0)
    (rec,) = ledger.history(ADA)
    assert rec.notice_version == "2026-01"
    assert rec.notice_hash is not None and rec.notice_hash.startswith("sha256:")
    assert rec.form_id == "signup-v3"
    assert rec.ip_hash == kw.hasher.ref("ip", "203.0.113.7")
    assert rec.at == T0 and rec.recorded_at >= T0
    assert rec.policy_version == ledger.policy_version
    with kw.control.engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(select(ConsentEvent)) for v in row)
    for raw in ("ada@example.com", "Ada@Example.com", "+442079460123", "203.0.113.7"):
        assert raw not in dump


def test_every_event_is_audited_without_personal_data(ledger: ConsentLedger,
                                                      kw: Keepword) -> None:
    ledger.give(ADA, ["marketing_email", "targeted_ads"], channel="web")
    ledger.withdraw(ADA, "marketing_email", channel="web")
    with kw.control.engine.connect() as conn:
        entries = [e for e in kw.audit.entries(conn) if e["object"][0] == "consent"]
        assert kw.audit.verify(conn).ok
    assert [(e["action"], e["object"][1]) for e in entries] == [
        ("consent.given", "marketing_email"), ("consent.given", "targeted_ads"),
        ("consent.withdrawn", "marketing_email")]
    assert all(e["subject"].startswith("hmac:") for e in entries)
    assert "ada@example.com" not in str(entries)


def test_batch_writes_many_acts_in_one_transaction(ledger: ConsentLedger, kw: Keepword) -> None:
    people = [Subject.of(email=f"p{i}@example.com") for i in range(50)]
    stored = ledger.record_many(ConsentInput(p, ("marketing_email",), i % 3 != 0, "import")
                                for i, p in enumerate(people))
    assert stored == 50
    assert ledger.state(people[0])["marketing_email"].given is False
    assert ledger.state(people[1])["marketing_email"].given is True


@pytest.mark.parametrize(("purposes", "options", "field"), [
    (["no_such_purpose"], {}, "consent[0].purposes[0]"),
    (["recipient:nobody"], {}, "consent[0].purposes[0]"),
    ([], {}, "consent[0].purposes"),
    (["marketing_email"], {"channel": "Web Form!"}, "consent[0].channel"),
    (["marketing_email"], {"at": datetime(2026, 1, 1)}, "consent[0].at"),
])
def test_bad_input_is_refused_and_nothing_is_stored(ledger: ConsentLedger, purposes: list[str],
                                                    options: dict[str, object],
                                                    field: str) -> None:
    with pytest.raises(InputError) as err:
        ledger.give(ADA, purposes, **options)
    assert field in [p.location.field_path() for p in err.value.problems]
    assert ledger.history(ADA) == []


def test_there_is_no_update_or_delete_path(ledger: ConsentLedger, kw: Keepword) -> None:
    """Append-only: no API to change an event, and no UPDATE/DELETE ever reaches the table."""
    forbidden = ("update", "delete", "remove", "erase", "edit", "purge", "overwrite", "set")
    names = [n for n, _ in inspect.getmembers(ConsentLedger) if not n.startswith("_")]
    names += [n for n, _ in inspect.getmembers(ledger_module, inspect.isfunction)]
    assert not [n for n in names if any(word in n.lower() for word in forbidden)]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2].lower())  # noqa: E731
    event.listen(kw.control.engine, "before_cursor_execute", listener)
    try:
        ledger.give(ADA, "marketing_email")
        ledger.withdraw(ADA, "marketing_email")
        ledger.give(ADA, "marketing_email")
        ledger.state(ADA)
    finally:
        event.remove(kw.control.engine, "before_cursor_execute", listener)
    touching = [s for s in statements if "consent_events" in s]
    assert touching and all(s.lstrip().startswith(("insert", "select")) for s in touching)


# --- the derived state is the last event per purpose, for any sequence ------------------

purposes = st.sampled_from(["marketing_email", "targeted_ads", "recipient:partners"])
events = st.lists(st.tuples(purposes, st.booleans(), st.integers(0, 5)), max_size=25)


def _expected(seq: list[tuple[str, bool, int]]) -> dict[str, bool]:
    """Last event per purpose: the latest time wins; among equal times, the later one."""
    out: dict[str, bool] = {}
    for purpose in {p for p, _, _ in seq}:
        mine = [(minute, i, given) for i, (p, given, minute) in enumerate(seq) if p == purpose]
        out[purpose] = max(mine)[2]
    return out


@settings(max_examples=300, deadline=None)
@given(events)
def test_derive_is_the_last_event_per_purpose(seq: list[tuple[str, bool, int]]) -> None:
    records = [ConsentRecord(i + 1, f"act{i}", "hmac:x", p, g, "web", None, None, None, None, None,
                             T0 + timedelta(minutes=m), T0) for i, (p, g, m) in enumerate(seq)]
    derived = derive(reversed(records))  # the input order does not matter, (time, id) does
    assert {k: r.given for k, r in derived.items()} == _expected(seq)


_store = tempfile.TemporaryDirectory()
_runtime = Keepword(load_settings(home=Path(_store.name),
                                  control_url=f"sqlite:///{_store.name}/control.db"))
_ledger = ConsentLedger(load_policy(policy_path("ikcon_like")).policy, _runtime)
_people = itertools.count()


@settings(max_examples=40, deadline=None)
@given(events)
def test_stored_state_is_the_last_event_per_purpose(seq: list[tuple[str, bool, int]]) -> None:
    person = Subject.of(email=f"p{next(_people)}@example.com")
    for purpose, given_, minute in seq:
        _ledger.record(person, purpose, given=given_, at=T0 + timedelta(minutes=minute))
    expected = _expected(seq)
    assert {k: r.given for k, r in _ledger.state(person).items()} == expected
    with _runtime.control.session() as session:
        assert consent_map(session, person.refs(_runtime.hasher)) == expected


def test_postgres_and_sqlite_store_booleans_and_times_alike(kw: Keepword,
                                                            ledger: ConsentLedger) -> None:
    ledger.give(ADA, "marketing_email", at=T0)
    with kw.control.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM consent_events")).scalar_one()
    assert count == 2  # one row per identity reference of the person
    (rec,) = ledger.history(ADA)
    assert rec.given is True and rec.at == T0
