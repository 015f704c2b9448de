"""``lifecycle.save``: what a batch writes back is what it read back, whichever way the
differing columns travel (one JSON document, or an executemany)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keepword.control import ControlStore
from keepword.control.base import utcnow
from keepword.requests.lifecycle import (
    MOVED,
    RequestRow,
    insert_new,
    load_by_ids,
    save,
)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


def _row(i: int) -> RequestRow:
    now = utcnow()
    return RequestRow(
        id=f"dsr_save_{i}", kind="erasure", status="running", regulation="gdpr",
        deployment="/d", data_dir="/d", subject_refs=[f"hmac:{i}"], sealed=b"\x00sealed",
        received_at=now, verified_at=now, due_at=now + timedelta(days=30),
        extension_reason=None, ended_at=None, updated_at=now, policy_version="p",
        datamap_version="m", batch_id="batch_1", reason=None, administrator=None,
        admin_decision=None, actor="operator", result=None)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(results=st.lists(st.dictionaries(st.text(max_size=6), JSONISH, max_size=3) | JSONISH,
                        min_size=1, max_size=6),
       reasons=st.lists(st.none() | st.text(max_size=12), min_size=6, max_size=6))
def test_differing_results_and_texts_are_written_exactly(
        control: ControlStore, results: list[Any],
        reasons: list[str | None]) -> None:
    if control.engine.dialect.name == "postgresql":  # its text never holds NUL
        assume(not any("\x00" in (r or "") for r in reasons))
    base = [_row(i) for i in range(len(results))]
    with control.session() as session:
        session.connection().exec_driver_sql("DELETE FROM dsr_requests")
        insert_new(session, base)
    ended = utcnow()
    done = [replace(r, status="completed", result=res, reason=reasons[i], ended_at=ended,
                    updated_at=ended, sealed=None, subject_refs=[*r.subject_refs, "hmac:x"])
            for i, (r, res) in enumerate(zip(base, results, strict=True))]
    with control.session() as session:
        save(session, done, (*MOVED, "result", "subject_refs"))
    with control.session() as session:
        back = {r.id: r for r in load_by_ids(session, [r.id for r in done])}
    for want in done:
        got = back[want.id]
        assert (got.status, got.result, got.reason, got.sealed, got.subject_refs) == (
            want.status, want.result, want.reason, None, want.subject_refs)
        assert got.ended_at == ended and got.batch_id == "batch_1"


def test_differing_binary_columns_take_the_executemany(control: ControlStore) -> None:
    rows = [_row(i) for i in range(3)]
    with control.session() as session:
        insert_new(session, rows)
    sealed = [replace(r, sealed=bytes([i, 0, 255])) for i, r in enumerate(rows)]
    with control.session() as session:
        save(session, sealed, ("sealed", "status"))
    with control.session() as session:
        back = {r.id: r.sealed for r in load_by_ids(session, [r.id for r in rows])}
    assert back == {r.id: r.sealed for r in sealed}
