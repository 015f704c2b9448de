"""Lifecycle: states, deadlines, extensions, the audit trail, sealed identities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from keepword.deployment import Deployment
from keepword.durations import Duration
from keepword.errors import KeepwordError
from keepword.policy.models import Deadline
from keepword.requests import service
from keepword.requests.lifecycle import DsrRequest, Kind, Status, Vault, due_date, transition
from keepword.runtime import Keepword
from tests.requests.world import World


def test_deadlines() -> None:
    received = datetime(2025, 1, 31, 12, tzinfo=UTC)
    gdpr = Deadline(respond_within=Duration(months=1), extension=Duration(months=2))
    ccpa = Deadline(respond_within=Duration(days=45), extension=Duration(days=45))
    assert due_date(received, gdpr) == datetime(2025, 2, 28, 12, tzinfo=UTC)
    assert due_date(received, gdpr, extended=True) == datetime(2025, 4, 28, 12, tzinfo=UTC)
    assert due_date(received, ccpa) == datetime(2025, 3, 17, 12, tzinfo=UTC)
    assert due_date(received, ccpa, extended=True) == datetime(2025, 5, 1, 12, tzinfo=UTC)


def test_state_machine_refuses_skipping_verification() -> None:
    req = DsrRequest(id="req_x", kind="erasure", status="received", regulation="gdpr",
                     subject_refs=["hmac:1"])
    with pytest.raises(KeepwordError, match="received; it cannot become running"):
        transition(req, Status.RUNNING)
    event = transition(req, Status.VERIFIED, actor="ops")
    assert event.action == "request.verified" and event.subject == "hmac:1"
    assert req.verified_at is not None


def test_extension_needs_a_reason_and_happens_once(sqlite_world: World,
                                                   sqlite_dep: Deployment,
                                                   rt: Keepword) -> None:
    rid = service.submit(rt, sqlite_dep, Kind.ACCESS, [("email", "a@b.test")],
                         regulation="ccpa")
    first = service.show(rt, rid)
    extended = service.extend(rt, rid, "complex request across five stores")
    assert (datetime.fromisoformat(extended.due_at or "")
            - datetime.fromisoformat(first.due_at or "")).days == 45
    with pytest.raises(KeepwordError, match="already extended"):
        service.extend(rt, rid, "again")
    with pytest.raises(Exception, match="reason"):
        service.extend(rt, service.submit(rt, sqlite_dep, Kind.ACCESS,
                                          [("email", "a@b.test")]), " ")


def test_every_transition_is_audited_without_personal_data(sqlite_world: World,
                                                           sqlite_dep: Deployment,
                                                           rt: Keepword) -> None:
    p = sqlite_world.people[4]
    result = service.run_request(rt, sqlite_dep, "erasure", {"email": p.email})
    with rt.control.engine.connect() as conn:
        entries = list(rt.audit.entries(conn, object_id=result.id))
        raw = conn.execute(text("SELECT * FROM dsr_requests")).all()
        steps = conn.execute(text("SELECT * FROM dsr_steps")).all()
    actions = [e["action"] for e in entries]
    assert actions == ["request.received", "request.verified", "request.planned",
                       "request.running", "request.completed"]
    assert entries[-1]["details"]["proof_ok"] is True
    assert {e["subject"] for e in entries} == {rt.hasher.ref("email", p.email)}
    blob = repr(raw) + repr(steps) + repr(entries)
    for secret in (p.email, p.phone, "Person 4"):
        assert secret is None or secret not in blob


def test_deny_and_unknown_request(sqlite_dep: Deployment, rt: Keepword) -> None:
    rid = service.submit(rt, sqlite_dep, Kind.ERASURE, [("email", "a@b.test")])
    denied = service.deny(rt, rid, "identity could not be verified")
    assert denied.status == "denied" and denied.reason == "identity could not be verified"
    with pytest.raises(KeepwordError, match="no request"):
        service.show(rt, "req_missing")
    with pytest.raises(KeepwordError, match="not awaiting"):
        service.approve(rt, rid, approved=True, reason="ok")


def test_vault_round_trip_and_wrong_key() -> None:
    sealed = Vault(b"k" * 32).seal({"identities": [["email", "a@b.c"]]})
    assert b"a@b.c" not in sealed
    assert Vault(b"k" * 32).open(sealed) == {"identities": [["email", "a@b.c"]]}
    with pytest.raises(KeepwordError, match="cannot be opened"):
        Vault(b"z" * 32).open(sealed)
    with pytest.raises(KeepwordError, match="cannot be opened"):  # tampered
        Vault(b"k" * 32).open(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    assert Vault(b"k" * 32).seal({"a": 1}) != Vault(b"k" * 32).seal({"a": 1})  # fresh nonce


def test_vault_opens_tokens_of_earlier_versions() -> None:
    import base64

    from cryptography.fernet import Fernet
    key = b"k" * 32
    token = Fernet(base64.urlsafe_b64encode(key)).encrypt(b'{"identities":[]}')
    assert Vault(key).open(token) == {"identities": []}


def test_a_batch_audits_each_transition_once_naming_every_request(
        sqlite_world: World, sqlite_dep: Deployment, rt: Keepword) -> None:
    people = [sqlite_world.people[k] for k in (3, 4, 7)]
    ids = [service.submit(rt, sqlite_dep, Kind.ERASURE, [("email", p.email)]) for p in people]
    for rid in ids:
        service.verify(rt, rid)
    results = service.run(rt, deployment=sqlite_dep, ids=ids)
    assert {r.status for r in results} == {"completed"}
    with rt.control.engine.connect() as conn:
        assert rt.audit.verify(conn).ok
        batch = [e for e in rt.audit.entries(conn) if e["object"][0] == "batch"]
        per_request = {rid: list(rt.audit.entries(conn, object_id=rid)) for rid in ids}
    assert [e["action"] for e in batch] == ["request.planned", "request.running",
                                            "request.completed"]
    assert all(sorted(e["details"]["requests"]) == sorted(ids) for e in batch)
    for p, rid in zip(people, ids, strict=True):
        trail = per_request[rid]
        assert [e["action"] for e in trail] == ["request.received", "request.verified",
                                                "request.planned", "request.running",
                                                "request.completed"]
        assert {e["subject"] for e in trail} == {rt.hasher.ref("email", p.email)}
        assert trail[-1]["details"]["proof_ok"] is True
        assert trail[-1]["object"] == ["request", rid] and trail[-1]["group"][0] == "batch"


def test_objection_needs_a_known_purpose_and_a_reason(sqlite_dep: Deployment,
                                                      rt: Keepword) -> None:
    from keepword.errors import InputError

    with pytest.raises(InputError, match="unknown purpose 'spam'"):
        service.submit(rt, sqlite_dep, Kind.OBJECTION, [("email", "a@b.test")],
                       reason="no", scope="spam")
    with pytest.raises(InputError, match="needs a --reason"):
        service.submit(rt, sqlite_dep, Kind.RESTRICTION, [("email", "a@b.test")])


def test_an_import_records_every_request_or_none(sqlite_world: World, sqlite_dep: Deployment,
                                                 rt: Keepword) -> None:
    """``submit_many``: a bad identity anywhere refuses the whole import, located by the
    subject's position and without its value; a good one records every request, audited
    as one entry naming each; ``verify_many`` then verifies them together, and they run."""
    from keepword.errors import InputError

    people = [sqlite_world.people[k] for k in (1, 2, 3)]
    with pytest.raises(InputError) as bad:
        service.submit_many(rt, sqlite_dep, Kind.ERASURE,
                            [[("email", people[0].email)], [("shoe_size", "secret-42")]])
    (problem,) = bad.value.problems
    assert problem.location.path[:2] == ("subjects", 1)
    assert "secret-42" not in str(bad.value)
    with rt.control.session() as s:
        assert s.query(DsrRequest).count() == 0, "nothing of a refused import is recorded"
    ids = service.submit_many(rt, sqlite_dep, Kind.ERASURE,
                              [[("email", p.email)] for p in people])
    assert [service.show(rt, i).status for i in ids] == ["received"] * 3
    with rt.control.engine.connect() as conn:
        received = [e for e in rt.audit.entries(conn) if e["action"] == "request.received"]
        mine = list(rt.audit.entries(conn, object_id=ids[1]))
    assert len(received) == 1 and set(received[0]["details"]["requests"]) == set(ids)
    assert mine[0]["subject"] and mine[0]["details"]["kind"] == "erasure"
    verified = service.verify_many(rt, ids)
    assert [r.status for r in verified] == ["verified"] * 3
    with pytest.raises(KeepwordError):
        service.verify_many(rt, ids)  # verified already: refused, nothing changes
    done = service.run(rt, deployment=sqlite_dep, ids=ids)
    assert [r.status for r in done] == ["completed"] * 3


@settings(max_examples=150, deadline=None)
@given(members=st.lists(st.tuples(st.sampled_from(["erasure", "access"]),
                                  st.sampled_from(["verified", "planned", "paused"]),
                                  st.sampled_from(["gdpr", "gdpr", "ccpa"]),
                                  st.booleans(), st.integers(0, 3)),
                        min_size=1, max_size=12),
       shapes=st.lists(st.dictionaries(st.sampled_from(["batch", "steps", "deleted", "kept"]),
                                       st.integers(0, 2) | st.text(max_size=2), max_size=3),
                       min_size=2, max_size=4),
       reason=st.none() | st.text(min_size=1, max_size=5), with_details=st.booleans())
def test_batch_transitions_audit_as_grouped_single_ones(
        members: list[tuple[str, str, str, bool, int]], shapes: list[dict[str, Any]],
        reason: str | None, with_details: bool) -> None:
    """``transition_all`` writes the entries ``grouped`` makes of one ``transition`` per
    request: the same groups, common details and parts (details objects shared between
    requests, as a batch shares them, or not)."""
    from keepword.requests.lifecycle import RequestRow, grouped, transition_all

    def rows() -> list[RequestRow]:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        return [RequestRow(id=f"req_{j}", kind=kind, status=status, regulation=reg,
                           deployment="/d", data_dir="/d",
                           subject_refs=[f"hmac:{j}"] if named else [], sealed=b"s",
                           received_at=now, verified_at=now, due_at=now,
                           extension_reason=None, ended_at=None, updated_at=now,
                           policy_version=None, datamap_version=None, batch_id=None,
                           reason=None, administrator=None, admin_decision=None,
                           actor="operator", result=None)
                for j, (kind, status, reg, named, _) in enumerate(members)]

    details = [shapes[k % len(shapes)] for *_, k in members] if with_details else None
    now = datetime(2026, 1, 2, tzinfo=UTC)
    batch = rows()
    fast = transition_all(batch, Status.FAILED, "batch_1", now=now, reason=reason,
                          details=details)
    single = rows()
    events = [transition(r, Status.FAILED, reason=reason, now=now,
                         details=details[j] if details else None)
              for j, r in enumerate(single)]
    assert [(e.action, e.object_type, e.object_id, e.subject, e.details) for e in fast] == [
        (e.action, e.object_type, e.object_id, e.subject, e.details)
        for e in grouped(events, "batch_1")]
    assert [(r.status, r.reason, r.ended_at, r.sealed) for r in batch] == [
        (r.status, r.reason, r.ended_at, r.sealed) for r in single]


@pytest.mark.parametrize("kind", ["access", "erasure", "restriction"])
def test_a_request_run_at_intake_is_recorded_with_its_audit_entries(
        sqlite_world: World, sqlite_dep: Deployment, kw: Keepword, kind: str) -> None:
    """On each control backend (on PostgreSQL the row travels inside the audit's first
    statement): the request row, its entries received..completed, an intact chain. (An
    answer's own transitions, made while committing, were once left out of the log.)"""
    p = sqlite_world.people[min(set(sqlite_world.people) - set(sqlite_world.managed))]
    result = service.run_request(kw, sqlite_dep, kind, {"email": p.email},
                                 reason="accuracy disputed" if kind == "restriction" else None)
    assert result.status == "completed"
    shown = service.show(kw, result.id or "")
    assert shown.status == "completed" and shown.found == result.found
    with kw.control.engine.connect() as conn:
        actions = [e["action"] for e in kw.audit.entries(conn, object_id=result.id)]
        assert kw.audit.verify(conn).ok
    assert actions[:2] == ["request.received", "request.verified"]
    assert actions[-2:] == ["request.running", "request.completed"]


def test_a_batch_of_accesses_audits_their_answers(sqlite_world: World, sqlite_dep: Deployment,
                                                  rt: Keepword) -> None:
    ids = service.submit_many(rt, sqlite_dep, Kind.ACCESS,
                              [[("email", sqlite_world.people[k].email)] for k in (1, 2)],
                              verified=True)
    assert {r.status for r in service.run(rt, deployment=sqlite_dep, ids=ids)} == {"completed"}
    with rt.control.engine.connect() as conn:
        for rid in ids:
            actions = [e["action"] for e in rt.audit.entries(conn, object_id=rid)]
            assert actions[-2:] == ["request.running", "request.completed"], actions
