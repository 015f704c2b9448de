"""The audit chain detects any edit, deletion, insertion or reordering made with plain SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from keepword.audit import AuditEvent, AuditLog, chain_key
from keepword.control import ControlStore

KEY = chain_key(b"\x01" * 32)


@pytest.fixture
def log() -> AuditLog:
    return AuditLog(KEY)


@pytest.fixture
def filled(control: ControlStore, log: AuditLog) -> Iterator[ControlStore]:
    with control.session() as s:
        for i in range(1, 21):
            log.append(s, AuditEvent("request.created", object_type="request",
                                     object_id=f"r{i}", subject="hmac:ab", details={"i": i}))
    yield control


def verify(store: ControlStore, log: AuditLog, workers: int = 1) -> object:
    with store.engine.connect() as conn:
        return log.verify(conn, workers=workers)


def sql(store: ControlStore, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_chain_verifies(filled: ControlStore, log: AuditLog) -> None:
    result = verify(filled, log)
    assert result.ok and result.checked == 20 and result.head_seq == 20


def test_parallel_verification_agrees(filled: ControlStore, log: AuditLog) -> None:
    assert verify(filled, log, workers=2).ok
    sql(filled, "UPDATE audit_log SET entry = :e WHERE seq = 15", e=b'{"forged":1}')
    result = verify(filled, log, workers=2)
    assert not result.ok and result.first_bad == 15


def test_edited_entry_is_named(filled: ControlStore, log: AuditLog) -> None:
    with filled.engine.connect() as conn:
        entry = conn.execute(text("SELECT entry FROM audit_log WHERE seq = 7")).scalar_one()
    data = json.loads(entry)
    data["action"] = "request.completed"
    sql(filled, "UPDATE audit_log SET entry = :e WHERE seq = 7", e=json.dumps(data).encode())
    result = verify(filled, log)
    assert not result.ok and result.first_bad == 7 and "edited" in (result.reason or "")


def test_deleted_entry_is_named(filled: ControlStore, log: AuditLog) -> None:
    sql(filled, "DELETE FROM audit_log WHERE seq = 5")
    result = verify(filled, log)
    assert not result.ok and result.first_bad == 5 and "missing" in (result.reason or "")


def test_deleted_tail_is_noticed(filled: ControlStore, log: AuditLog) -> None:
    sql(filled, "DELETE FROM audit_log WHERE seq >= 18")
    result = verify(filled, log)
    assert not result.ok and result.first_bad == 18


def test_inserted_entry_is_named(filled: ControlStore, log: AuditLog) -> None:
    sql(filled, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 10")
    sql(filled, "UPDATE audit_log SET seq = seq - 99 WHERE seq > 110")
    # rows 12..21 now hold the old 11..20; forge a row 11 with a plausible digest
    forged = b'{"action":"request.completed"}'
    digest = hashlib.sha256(forged).digest()
    sql(filled, "INSERT INTO audit_log (seq, entry, digest) VALUES (11, :e, :d)",
        e=forged, d=digest)
    sql(filled, "UPDATE audit_head SET seq = 21")
    result = verify(filled, log)
    assert not result.ok and result.first_bad == 11


def test_reordered_entries_are_named(filled: ControlStore, log: AuditLog) -> None:
    sql(filled, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
    sql(filled, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    sql(filled, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    result = verify(filled, log)
    assert not result.ok and result.first_bad == 3


def test_forging_needs_the_key(filled: ControlStore) -> None:
    assert not verify(filled, AuditLog(chain_key(b"\x02" * 32))).ok


def test_rolled_back_events_are_not_written(control: ControlStore, log: AuditLog) -> None:
    with pytest.raises(RuntimeError), control.session() as s:
        log.append(s, AuditEvent("request.created"))
        raise RuntimeError("the business change failed")
    with control.session() as s:
        log.append(s, AuditEvent("request.verified"))
    with control.engine.connect() as conn:
        actions = [e["action"] for e in log.entries(conn)]
    assert actions == ["request.verified"]
    assert verify(control, log).ok


def test_entries_are_readable_and_hold_refs_only(filled: ControlStore, log: AuditLog) -> None:
    with filled.engine.connect() as conn:
        got = list(log.entries(conn, object_id="r3"))
    assert len(got) == 1
    assert got[0]["subject"] == "hmac:ab" and got[0]["details"] == {"i": 3}


def _head(store: ControlStore) -> tuple[int, bytes]:
    with store.engine.connect() as conn:
        seq, digest = conn.execute(text("SELECT seq, digest FROM audit_head")).one()
    return int(seq), bytes(digest)


def test_append_at_chains_onto_the_head_it_was_given(filled: ControlStore, log: AuditLog
                                                     ) -> None:
    head = _head(filled)
    with filled.autocommit() as conn:
        done = log.append_at(conn, [AuditEvent("request.received", object_id="a"),
                                    AuditEvent("request.completed", object_id="a")], head)
    if filled.engine.dialect.name != "postgresql":  # one statement needs a WITH that writes
        assert done is False and _head(filled) == head
        return
    assert done is True
    result = verify(filled, log)
    assert result.ok and result.checked == 22 and result.head_seq == 22


def test_append_at_commits_after_before_and_not_at_all_when_it_fails(
        filled: ControlStore, log: AuditLog) -> None:
    """The statement is sent before ``before`` runs (the server works meanwhile) but
    committed after it: during ``before`` no one sees the entries, and when ``before``
    fails nothing is written -- an export file that could not be written never has a
    request saying it exists."""
    head = _head(filled)
    seen: list[int] = []
    with filled.autocommit() as conn:
        done = log.append_at(conn, [AuditEvent("request.completed", object_id="a")], head,
                             before=lambda: seen.append(_head(filled)[0]))
    if filled.engine.dialect.name != "postgresql":  # (not done here: the caller appends)
        assert done is False and seen == [] and _head(filled) == head
        return
    assert done is True and seen == [20] and _head(filled)[0] == 21

    def fails() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError), filled.autocommit() as conn:
        log.append_at(conn, [AuditEvent("request.completed", object_id="b")], _head(filled),
                      before=fails)
    assert _head(filled)[0] == 21
    with filled.engine.connect() as conn:
        assert [e["object"][1] for e in log.entries(conn, after=20)] == ["a"]
    assert verify(filled, log).ok


def test_append_at_a_moved_head_writes_nothing(filled: ControlStore, log: AuditLog) -> None:
    stale = _head(filled)
    with filled.session() as s:  # another writer comes first
        log.append(s, AuditEvent("request.verified", object_id="b"))
    with filled.autocommit() as conn:
        done = log.append_at(conn, [AuditEvent("request.completed", object_id="a")], stale)
    assert done is False
    assert _head(filled)[0] == 21
    with filled.engine.connect() as conn:
        assert [e["object"][1] for e in log.entries(conn, after=20)] == ["b"]
    assert verify(filled, log).ok
