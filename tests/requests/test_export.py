"""Access and portability exports: complete, redacted, with the Art. 15 items."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from keepword import disclosures
from keepword.audit import AuditEvent
from keepword.deployment import Deployment, load_deployment
from keepword.disclosures import record_disclosure
from keepword.requests import service
from keepword.runtime import Keepword
from tests.requests.world import World


def open_export(path: str | None) -> tuple[dict[str, Any], zipfile.ZipFile]:
    assert path and Path(path).exists()
    assert Path(path).stat().st_mode & 0o077 == 0  # readable by its owner only
    zf = zipfile.ZipFile(path)
    return json.loads(zf.read("export.json")), zf


def rows(export: dict[str, Any], collection: str) -> list[dict[str, Any]]:
    return next((g["rows"] for g in export["data"] if f"{g['store']}.{g['collection']}"
                 == collection), [])


def test_access_exports_exactly_the_subjects_rows(world: World, dep: Deployment,
                                                  rt: Keepword) -> None:
    p = world.people[3]
    result = service.run_request(rt, dep, "access", {"email": p.email})
    assert result.status == "completed"
    export, zf = open_export(result.export)
    truth = world.truth[3]
    for table in {t for t, _ in truth} - {"orgs", "order_items"}:  # no personal fields
        name = ("crm." if table in ("leads", "lead_notes") else "app.") + table
        got = rows(export, name)
        own = [k for k, role in truth.items() if k[0] == table and role == "own"]
        shared = [k for k, role in truth.items() if k[0] == table and role == "shared"]
        assert len([r for r in got if r["_relation"] == "own"]) == len(own), table
        # a shared row is shown when something in it is the subject's (a message to
        # them); rows where they only appear by reference (their address-book entries
        # about others, a person they referred) would show nothing but redactions
        assert len([r for r in got if r["_relation"] == "shared"]) <= len(shared), table
    assert len(rows(export, "app.messages")) == len(
        [k for k in truth if k[0] == "messages"])
    users = rows(export, "app.users")
    me = next(r for r in users if r["_relation"] == "own")
    assert me["email"] == p.email and me["name"] == "Person 3" and me["id"] == 3
    assert set(zf.namelist()) >= {"export.json", "summary.html", "data/app.users.csv"}
    parsed = list(csv.DictReader(io.StringIO(zf.read("data/app.orders.csv").decode())))
    assert {r["note"] for r in parsed} == {r["note"] for r in world.rows["orders"]
                                           if r["user_id"] == 3}


def test_other_peoples_data_is_redacted(sqlite_world: World, sqlite_dep: Deployment,
                                        rt: Keepword) -> None:
    result = service.run_request(rt, sqlite_dep, "access", {"account_id": "3"})
    export, zf = open_export(result.export)
    for msg in rows(export, "app.messages"):
        source = next(m for m in sqlite_world.rows["messages"] if m["body"] == msg["body"])
        if source["sender_id"] != 3:
            assert msg["sender_name"] == "[redacted]"
        if source["recipient_id"] != 3:
            assert msg["recipient_name"] == "[redacted]"
        if 3 in (source["sender_id"], source["recipient_id"]):
            assert "Person 3" in (msg["sender_name"], msg["recipient_name"])
    referred = [r for r in rows(export, "app.users") if r["_relation"] == "shared"]
    assert referred == []  # person 4's row shows nothing of person 3 but a reference
    everything = json.dumps(export) + zf.read("summary.html").decode()
    strangers = {q.email for k, q in sqlite_world.people.items() if k != 3}
    in_my_book = {r["email"] for r in sqlite_world.rows["contacts"] if r["owner_id"] == 3}
    for email in strangers - in_my_book:
        assert email not in everything
    for contact in rows(export, "app.contacts"):  # entries about others in my address book
        if contact["email"] in in_my_book:
            assert contact["name"] == "[redacted]" or contact["_relation"] == "own"


def test_art15_items_restrictions_and_disclosures(sqlite_world: World,
                                                  sqlite_dep: Deployment,
                                                  rt: Keepword) -> None:
    p = sqlite_world.people[3]
    with rt.control.session() as session:
        record_disclosure(session, rt.audit, refs=[rt.hasher.ref("email", p.email)],
                          recipient="mailer", purpose="marketing",
                          categories=["user.contact.email"], legal_basis="consent")
    restricted = service.run_request(rt, sqlite_dep, "restriction", {"email": p.email},
                                     reason="accuracy disputed (Ikcon 10.3)")
    assert restricted.status == "completed"
    result = service.run_request(rt, sqlite_dep, "access", {"phone": p.phone or ""})
    export, zf = open_export(result.export)
    email = next(c for c in export["categories"] if c["category"] == "user.contact.email")
    assert {x["purpose"] for x in email["purposes"]} == {"service", "marketing"}
    assert {x["legal_basis"] for x in email["purposes"]} == {"contract", "consent"}
    assert [r["recipient"] for r in email["recipients"]] == ["mailer"]
    assert email["retention"][0]["period"] == "30 days"
    payment = next(c for c in export["categories"] if c["category"] == "user.payment")
    assert payment["retention"][0]["exceptions"][0]["id"] == "invoices-tax"
    assert export["restrictions"] == [{"kind": "restriction", "scope": "*",
                                       "reason": "accuracy disputed (Ikcon 10.3)",
                                       "since": export["restrictions"][0]["since"]}]
    assert export["disclosures"][0]["recipient"] == "mailer"
    assert "erasure" in export["rights"]["honoured"]
    html = zf.read("summary.html").decode()
    assert "accuracy disputed" in html and "Mail provider" in html and "CNIL" in html


def test_no_one_gives_an_empty_export(sqlite_dep: Deployment, rt: Keepword) -> None:
    result = service.run_request(rt, sqlite_dep, "portability", {"email": "ghost@x.test"})
    export, zf = open_export(result.export)
    assert result.status == "completed" and export["data"] == [] and result.found == {}
    assert "We hold no personal data about you" in zf.read("summary.html").decode()


def test_restriction_lifted_with_a_reason(sqlite_world: World, sqlite_dep: Deployment,
                                          rt: Keepword) -> None:
    from keepword.subject_state import current_state

    p = sqlite_world.people[4]
    service.run_request(rt, sqlite_dep, "objection", {"email": p.email}, reason="no profiling",
                        scope="marketing")
    service.run_request(rt, sqlite_dep, "restriction", {"email": p.email}, reason="dispute")
    lifted = service.run_request(rt, sqlite_dep, "restriction", {"account_id": "4"},
                                 reason="dispute settled", lift=True)
    assert lifted.extra["recorded"] == "restriction lift"
    with rt.control.session() as session:
        state = current_state(session, [rt.hasher.ref("email", p.email)])
    assert state.restricted is None
    assert state.objection("marketing") is not None


def test_summary_escapes_values_and_marks_redactions(sqlite_dep: Deployment) -> None:
    from keepword.requests import export

    policy = sqlite_dep.policy.policy
    data = [{"store": "app", "collection": "notes", "fields": ["body", "author", "at"],
             "rows": [{"_relation": "own", "body": "<script>alert(1)</script> & co",
                       "author": export.REDACTED, "at": None}]}]
    doc = {"request": {"id": "req_1", "kind": "access", "regulation": "gdpr",
                       "answered_at": "2026-12-02T00:00:00+00:00"},
           "controller": export.controller(policy), "data": data,
           "categories": export.art15(policy, {"user.contact.email"}),
           "rights": export.rights(policy), "restrictions": [], "disclosures": []}
    html = export.render_html(doc)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert '<td class="r">[redacted]</td>' in html and "<td></td>" in html
    assert "<h3>app / notes (1)</h3>" in html
    assert html == export.render_html(doc)  # the shared parts, rendered once, read the same
    assert "Your rights" in html and policy.organisation.name in html


def _restricted_and_disclosed(world: World, dep: Deployment, kw: Keepword) -> str:
    p = world.people[3]
    with kw.control.session() as session:
        record_disclosure(session, kw.audit, refs=[kw.hasher.ref("email", p.email)],
                          recipient="mailer", purpose="marketing",
                          categories=["user.contact.email"], legal_basis="consent")
    assert service.run_request(kw, dep, "restriction", {"email": p.email},
                               reason="accuracy disputed").status == "completed"
    return p.email


def _check_answer(kw: Keepword, result: service.RequestResult) -> None:
    export, _ = open_export(result.export)
    assert [r["reason"] for r in export["restrictions"]] == ["accuracy disputed"]
    assert [d["recipient"] for d in export["disclosures"]] == ["mailer"]
    assert service.show(kw, result.id or "").status == "completed"
    with kw.control.engine.connect() as conn:
        actions = [e["action"] for e in kw.audit.entries(conn, object_id=result.id)]
        assert kw.audit.verify(conn).ok
    assert actions == ["request.received", "request.verified", "request.running",
                       "request.completed"]


def test_an_export_file_is_created_ahead_filled_once_or_removed(tmp_path: Path) -> None:
    """A single access's file is created while its walk runs, then filled (its owner
    only may read it); a request ending without an answer leaves no file behind, nor
    does a write that fails."""
    from keepword.requests import export

    kept = export.ExportFile(tmp_path / "exports" / "a.zip")
    assert kept.fill(b"PK-data", kept.path).result() == kept.path
    kept.discard()  # (filled: stays)
    assert kept.path.read_bytes() == b"PK-data" and kept.path.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="once"):
        kept.fill(b"again", kept.path)
    dropped = export.ExportFile(tmp_path / "exports" / "b.zip")
    while not dropped.path.exists():  # (created in the writer thread)
        time.sleep(0.001)
    dropped.discard()
    assert not dropped.path.exists()
    broken = export.ExportFile(tmp_path / "exports" / "c.zip")
    with pytest.raises(TypeError):
        broken.fill("not bytes", broken.path).result()  # type: ignore[arg-type]
    assert not broken.path.exists()


def test_an_access_shows_restrictions_and_disclosures_on_each_control_store(
        sqlite_world: World, sqlite_dep: Deployment, kw: Keepword) -> None:
    """On PostgreSQL a single access reads them with the audit head and records itself in
    one statement (``AuditLog.append_at``); on SQLite in one transaction."""
    email = _restricted_and_disclosed(sqlite_world, sqlite_dep, kw)
    _check_answer(kw, service.run_request(kw, sqlite_dep, "access", {"email": email}))


def test_an_access_whose_audit_head_moved_is_recorded_the_usual_way(
        sqlite_world: World, sqlite_dep: Deployment, kw: Keepword,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer appended between the context read and the write: nothing is lost,
    nothing is written twice, the chain holds."""
    email = _restricted_and_disclosed(sqlite_world, sqlite_dep, kw)
    moved: list[int] = []

    def someone_writes() -> None:
        with kw.control.session() as session:
            kw.audit.append(session, AuditEvent("consent.recorded", subject="hmac:other"))
        moved.append(1)

    def after(read: Any) -> Any:
        def then_someone_writes(*args: Any) -> Any:
            found = read(*args)
            someone_writes()
            return found
        return then_someone_writes

    # (PostgreSQL reads the head sent ahead, ``context_of``; SQLite in its transaction)
    monkeypatch.setattr(disclosures, "context_of", after(disclosures.context_of))
    monkeypatch.setattr(disclosures, "context_and_head", after(disclosures.context_and_head))
    result = service.run_request(kw, sqlite_dep, "access", {"email": email})
    _check_answer(kw, result)
    assert moved == [1] or kw.control.engine.dialect.name != "postgresql"
    with kw.control.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dsr_requests WHERE id = :i"),
                            {"i": result.id}).scalar() == 1


def test_an_access_that_stops_or_pauses_leaves_no_export_file(
        sqlite_world: World, sqlite_dep: Deployment, kw: Keepword) -> None:
    """On each control store: identities of two people stop the request, a store that
    is down pauses it -- neither leaves a file in the exports folder (on PostgreSQL the
    file is created while the walk runs, and removed)."""
    exports = Path(kw.settings.home) / "exports"
    stopped = service.run_request(kw, sqlite_dep, "access", [
        ("email", sqlite_world.people[1].email), ("email", sqlite_world.people[3].email)])
    assert stopped.status == "failed" and "different people" in (stopped.reason or "")
    down = load_deployment(sqlite_world.root, environ={
        **sqlite_world.env, "KW_T_CRM_URL": "sqlite:////nonexistent/dir/crm.db"})
    try:
        paused = service.run_request(kw, down, "access",
                                     {"email": sqlite_world.people[2].email})
    finally:
        down.close()
    assert paused.status == "paused" and "crm" in (paused.reason or "")
    assert not exports.exists() or not list(exports.glob("*.zip"))


def test_export_files_no_request_names_are_swept_once_old(
        sqlite_world: World, sqlite_dep: Deployment, kw: Keepword) -> None:
    """What a killed process left in exports/ (a file for a request never recorded) goes
    once it is an hour old; a recorded request's export and a fresh file (an access being
    answered now) stay; the sweep is audited without personal data."""
    import os

    answered = service.run_request(kw, sqlite_dep, "access",
                                   {"email": sqlite_world.people[1].email})
    exports = Path(kw.settings.home) / "exports"
    orphan, fresh = exports / "req_00000000000000000001.zip", exports / "req_fresh.zip"
    orphan.write_bytes(b"PK-left")
    fresh.write_bytes(b"PK-now")
    hour_ago = time.time() - 3700
    for path in (orphan, Path(answered.export or "")):
        os.utime(path, (hour_ago, hour_ago))
    assert service.sweep_exports(kw) == ["req_00000000000000000001"]
    assert not orphan.exists() and fresh.exists() and Path(answered.export or "").exists()
    assert service.sweep_exports(kw) == []  # (nothing left to remove)
    with kw.control.engine.connect() as conn:
        swept = [e for e in kw.audit.entries(conn) if e["action"] == "exports.swept"]
    assert len(swept) == 1 and swept[0]["details"]["removed"] == 1
