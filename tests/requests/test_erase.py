"""Erasure: exactly the subject's data goes, shared rows keep others' parts, proven."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from keepword.deployment import Deployment
from keepword.requests import service
from keepword.requests.journal import DsrStep
from keepword.requests.lifecycle import DsrRequest, Kind, get
from keepword.requests.plan import compile_plan
from keepword.runtime import Keepword
from keepword.subject_state import current_state
from tests.requests.world import World

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]
KEPT = {("invoices", "billing_name")}


def personal(dep: Deployment) -> dict[str, tuple[str, ...]]:
    plan = compile_plan(dep.datamap, "")
    return {cp.key[1]: cp.personal for cp in plan.collections.values()}


def assert_exactly_erased(world: World, dep: Deployment, before: Snapshot, after: Snapshot,
                          people: set[int]) -> None:
    """Only the erased people's rows changed; their data is gone but for what is kept."""
    mine: dict[tuple[str, tuple[Any, ...]], str] = {}
    for p in people:
        mine.update(world.truth[p])
    fields = personal(dep)
    for table, rows in before.items():
        for pk, row in rows.items():
            now = after[table].get(pk)
            role = mine.get((table, pk))
            if role is None:
                assert now == row, f"{table}{pk} of someone else changed"
            elif role == "own" and now is not None:
                for col in fields[table]:
                    if (table, col) in KEPT:
                        assert now[col] == row[col]
                    elif row[col] is not None:
                        assert now[col] != row[col], f"{table}{pk}.{col} still holds it"
            elif role == "shared":
                _shared_part_gone(table, row, now, people)
    for p in people:
        assert (p,) not in after["users"], "the person row itself is deleted"
        values = {world.people[p].email, world.people[p].phone, f"Person {p}"} - {None}
        for table, rows in after.items():
            for row in rows.values():
                assert not values & set(row.values()), f"person {p} still in {table}"


def _shared_part_gone(table: str, row: dict[str, Any], now: dict[str, Any] | None,
                      people: set[int]) -> None:
    if table == "contacts":  # their own address-book entry: goes with them
        assert now is None
        return
    assert now is not None
    links = {"messages": [("sender_id", "sender_name"), ("recipient_id", "recipient_name")],
             "users": [("referred_by", None)]}[table]
    for link, named in links:
        if row[link] in people:
            assert now[link] is None and (named is None or now[named] is None)
        else:
            assert now[link] == row[link] and (named is None or now[named] == row[named])


def test_erasure_is_exact_and_proven(world: World, dep: Deployment, rt: Keepword) -> None:
    before = world.snapshot()
    result = service.run_request(rt, dep, "erasure", {"email": world.people[3].email})
    assert result.status == "completed", result.reason
    assert result.proof and result.proof["ok"] and result.proof["steps_checked"] > 0
    assert_exactly_erased(world, dep, before, world.snapshot(), {3})
    kept = result.outcome["kept"] if result.outcome else []
    assert [(k["collection"], k["field"], k["exception"]) for k in kept] == [
        ("app.invoices", "billing_name", "invoices-tax")]
    assert "Tax law" in kept[0]["ground"]
    assert result.outcome and result.outcome["kept_for_others"] == {"app.comments": 1}


def test_kept_data_is_restricted_and_sealed_data_purged(sqlite_world: World,
                                                        sqlite_dep: Deployment,
                                                        rt: Keepword) -> None:
    p = sqlite_world.people[3]
    result = service.run_request(rt, sqlite_dep, "erasure", {"email": p.email})
    with rt.control.session() as session:
        state = current_state(session, [rt.hasher.ref("email", p.email)])
        steps = session.execute(select(DsrStep)).scalars().all()
        req = get(session, result.id or "")
        assert req.sealed is None and all(st.payload is None for st in steps)
        assert all(st.status == "done" for st in steps)
    assert state.restricted is not None and "invoices-tax" in state.restricted.reason
    with rt.control.engine.connect() as conn:
        assert rt.audit.verify(conn).ok
        dump = b"".join(bytes(e["action"] + str(e["details"]), "utf8")
                        for e in rt.audit.entries(conn))
    assert p.email.encode() not in dump and b"Person 3" not in dump


def test_a_batch_erases_several_people_exactly(sqlite_world: World, sqlite_dep: Deployment,
                                               rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    ids = []
    for k in (3, 4, 7):
        rid = service.submit(rt, sqlite_dep, Kind.ERASURE,
                             [("email", sqlite_world.people[k].email)])
        service.verify(rt, rid)
        ids.append(rid)
    results = service.run(rt, deployment=sqlite_dep)
    assert {r.status for r in results} == {"completed"}
    with rt.control.session() as session:
        batches = {r.batch_id for r in session.execute(select(DsrRequest)).scalars()}
    assert len(batches) == 1, "one batch for the three"
    assert_exactly_erased(sqlite_world, sqlite_dep, before, sqlite_world.snapshot(), {3, 4, 7})


def test_dry_run_changes_nothing(sqlite_world: World, sqlite_dep: Deployment,
                                 rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    result = service.run_request(rt, sqlite_dep, "erasure",
                                 {"email": sqlite_world.people[3].email}, dry_run_only=True)
    assert result.status == "dry-run" and result.plan
    assert {"collection": "app.users", "op": "delete", "rows": 1, "fields": []} in result.plan
    assert result.outcome and result.outcome["deleted"]["app.orders"] == len(
        [k for k in sqlite_world.truth[3] if k[0] == "orders"])
    assert sqlite_world.snapshot() == before
    assert service.list_requests(rt) == []


def test_managed_account_waits_for_its_administrator(sqlite_world: World,
                                                     sqlite_dep: Deployment,
                                                     rt: Keepword) -> None:
    managed = min(sqlite_world.managed)
    before = sqlite_world.snapshot()
    result = service.run_request(rt, sqlite_dep, "erasure",
                                 {"email": sqlite_world.people[managed].email})
    assert result.status == "awaiting_administrator"
    assert result.administrator == "app.users.admin_org=1"
    assert sqlite_world.snapshot() == before
    service.approve(rt, result.id or "", approved=True, reason="the group admin agrees")
    service.run(rt, deployment=sqlite_dep)
    assert service.show(rt, result.id or "").status == "completed"
    assert_exactly_erased(sqlite_world, sqlite_dep, before, sqlite_world.snapshot(), {managed})


def test_a_managed_account_in_a_batch_waits_while_the_others_run(
        sqlite_world: World, sqlite_dep: Deployment, rt: Keepword) -> None:
    """Run together, the managed account's request goes to its administrator with nothing
    changed, and the others' are erased (a batch once planned every subject it walked)."""
    managed = min(sqlite_world.managed)
    other = next(k for k in sqlite_world.people if k not in sqlite_world.managed)
    before = sqlite_world.snapshot()
    ids = service.submit_many(rt, sqlite_dep, Kind.ERASURE,
                              [[("email", sqlite_world.people[managed].email)],
                               [("email", sqlite_world.people[other].email)]], verified=True)
    results = {r.id: r for r in service.run(rt, deployment=sqlite_dep, ids=ids)}
    assert results[ids[0]].status == "awaiting_administrator"
    assert results[ids[1]].status == "completed"
    assert_exactly_erased(sqlite_world, sqlite_dep, before, sqlite_world.snapshot(), {other})


def test_administrator_can_refuse(sqlite_world: World, sqlite_dep: Deployment,
                                  rt: Keepword) -> None:
    managed = min(sqlite_world.managed)
    result = service.run_request(rt, sqlite_dep, "erasure",
                                 {"email": sqlite_world.people[managed].email})
    denied = service.approve(rt, result.id or "", approved=False, reason="legal hold")
    assert denied.status == "denied" and denied.reason == "legal hold"


def test_nothing_runs_before_verification(sqlite_world: World, sqlite_dep: Deployment,
                                          rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    result = service.run_request(rt, sqlite_dep, "erasure",
                                 {"email": sqlite_world.people[3].email}, verified=False)
    assert result.status == "received"
    assert service.run(rt) == []
    assert sqlite_world.snapshot() == before
    service.verify(rt, result.id or "")
    assert service.run(rt, deployment=sqlite_dep)[0].status == "completed"


def test_unreachable_store_pauses_then_resumes(sqlite_world: World, sqlite_dep: Deployment,
                                               rt: Keepword, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    before = sqlite_world.snapshot()
    monkeypatch.setenv("KW_T_APP_URL", sqlite_world.env["KW_T_APP_URL"])  # crm is 'down'
    result = service.run_request(rt, sqlite_dep, "erasure",
                                 {"email": sqlite_world.people[3].email}, verified=False)
    service.verify(rt, result.id or "")
    paused = service.run(rt)[0]  # the deployment is loaded from the request, env as is
    assert paused.status == "paused"
    assert paused.reason == "store 'crm': environment variable KW_T_CRM_URL is not set"
    assert sqlite_world.snapshot() == before  # nothing half-applied
    monkeypatch.setenv("KW_T_CRM_URL", sqlite_world.env["KW_T_CRM_URL"])
    assert service.run(rt) == []  # paused requests wait for resume
    assert service.run(rt, resume=True)[0].status == "completed"
    assert_exactly_erased(sqlite_world, sqlite_dep, before, sqlite_world.snapshot(), {3})


def test_ambiguous_erasure_fails_and_changes_nothing(sqlite_world: World,
                                                     sqlite_dep: Deployment,
                                                     rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    result = service.run_request(rt, sqlite_dep, "erasure", [
        ("email", sqlite_world.people[1].email), ("email", sqlite_world.people[3].email)])
    assert result.status == "failed" and "different people" in (result.reason or "")
    assert sqlite_world.snapshot() == before


def test_erasing_no_one_completes(sqlite_world: World, sqlite_dep: Deployment,
                                  rt: Keepword) -> None:
    result = service.run_request(rt, sqlite_dep, "erasure", {"email": "ghost@none.test"})
    assert result.status == "completed" and result.proof and result.proof["ok"]
    assert result.found == {}


@pytest.mark.parametrize("kind", ["erasure"])
def test_second_erasure_finds_nothing_left(sqlite_world: World, sqlite_dep: Deployment,
                                           rt: Keepword, kind: str) -> None:
    p = sqlite_world.people[6]
    service.run_request(rt, sqlite_dep, kind, {"email": p.email})
    again = service.run_request(rt, sqlite_dep, kind, {"account_id": "6"})
    assert again.status == "completed"
    assert again.outcome and not again.outcome["deleted"]


def test_the_shared_plan_of_own_rows_changes_nothing(sqlite_world: World,
                                                     sqlite_dep: Deployment,
                                                     rt: Keepword,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-collection plan reused for the subject's own rows gives exactly the ops
    and outcomes of planning every column of every row."""
    from keepword.requests import erase
    from keepword.requests.walk import Connections, Subject, Walker

    plan = compile_plan(sqlite_dep.datamap, sqlite_dep.policy.version)
    conns = Connections(sqlite_dep.stores, sqlite_dep.datamap.datasets)
    try:
        subjects = [Subject(str(k), {"email": {p.email}})
                    for k, p in sqlite_world.people.items()]
        walk = Walker(plan, conns).run(subjects)
    finally:
        conns.close()

    def planned() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        out = erase.plan_erasure(walk, sqlite_dep.policy.policy, rt.hasher)
        return ([op.payload() for op in out.ops],
                {k: o.as_dict() for k, o in out.outcomes.items()})

    static_of = erase._Planner._static_of
    reused: list[str] = []

    def counted(self: Any, cp: Any) -> Any:
        found = static_of(self, cp)
        if found is not None:
            reused.append(cp.name)
        return found

    monkeypatch.setattr(erase._Planner, "_static_of", counted)
    shared = planned()
    assert reused, "some collections take the shared plan"
    monkeypatch.setattr(erase._Planner, "_static_of", lambda self, cp: None)
    assert planned() == shared
    assert shared[0], "the world has rows to erase"


UNDECLARED = """\
dataset: notes
store:
  kind: sqlite
  connection: {env: KW_T_NOTES_URL}
collections:
  people:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer, identity: account_id}
      email: {type: string, identity: email, categories: [user.contact], erasure: delete_row}
  notes:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      author_id: {type: integer, references: [people.id]}
      body: {type: string, categories: [user.content], erasure: delete_row}
  replies:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      note_id: {type: integer, references: [notes.id]}
      author_id: {type: integer, references: [people.id]}
      body: {type: string, categories: [user.content]}
"""


def test_not_null_columns_the_data_map_leaves_undeclared_are_never_nulled(
        tmp_path: Any, rt: Keepword) -> None:
    """A note kept for someone else's reply keeps its NOT NULL author link and has its
    NOT NULL body masked: the live store's constraints count, not only ``nullable``."""
    import sqlalchemy as sa

    from keepword.deployment import load_deployment
    from tests.requests.world import POLICY

    db = tmp_path / "notes.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        for ddl in ("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL)",
                    "CREATE TABLE notes (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL "
                    "REFERENCES people(id), body TEXT NOT NULL)",
                    "CREATE TABLE replies (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL "
                    "REFERENCES notes(id), author_id INTEGER REFERENCES people(id), body TEXT)",
                    "INSERT INTO people VALUES (1, 'ann@x.test'), (2, 'bob@x.test')",
                    "INSERT INTO notes VALUES (10, 1, 'ann wrote this'), (11, 1, 'alone')",
                    "INSERT INTO replies VALUES (20, 10, 2, 'bob answers')"):
            conn.exec_driver_sql(ddl)
    engine.dispose()
    (tmp_path / "datasets").mkdir()
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "datasets" / "notes.yaml").write_text(UNDECLARED)
    dep = load_deployment(tmp_path, environ={"KW_T_NOTES_URL": f"sqlite:///{db}"})
    try:
        result = service.run_request(rt, dep, "erasure", {"email": "ann@x.test"})
    finally:
        dep.close()
    assert result.status == "completed", result.reason
    assert (result.proof or {}).get("ok") is True
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        notes = conn.exec_driver_sql("SELECT id, author_id, body FROM notes").all()
        replies = conn.exec_driver_sql("SELECT id, author_id, body FROM replies").all()
    engine.dispose()
    assert notes == [(10, 1, "[erased]")]  # kept for Bob's reply; the lone note is gone
    assert replies == [(20, 2, "bob answers")]


# -- the erasure lane -----------------------------------------------------------------------
# Collections hanging off the person by one reference and deleted whole (orders, their
# items, logins) are walked column-wise; beside them, what the lane must leave to the full
# walk: an invoice kept for tax, a self-referencing thread of notes, gifts naming two people.
LANE = """\
dataset: shop
store:
  kind: sqlite
  connection: {env: KW_T_LANE_URL}
collections:
  people:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer, identity: account_id}
      email: {type: string, identity: email, categories: [user.contact], erasure: delete_row}
  orders:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      person_id: {type: integer, references: [people.id], erasure: delete_row}
      total: {type: integer, categories: [user.behavior.purchase_history], erasure: delete_row}
  items:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      order_id: {type: integer, references: [orders.id], erasure: delete_row}
      sku: {type: string, categories: [user.behavior.purchase_history], erasure: delete_row}
  logins:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      person_id: {type: integer, references: [people.id]}
      ip: {type: string, categories: [user.device.ip_address], erasure: delete_row}
  invoices:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      person_id: {type: integer, references: [people.id]}
      billing_name: {type: string, categories: [user.payment], erasure: keep,
                     exception: invoices-tax}
  notes:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      person_id: {type: integer, references: [people.id], erasure: delete_row}
      parent_id: {type: integer, references: [notes.id]}
      body: {type: string, categories: [user.content], erasure: delete_row}
  gifts:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer}
      giver_id: {type: integer, references: [people.id]}
      receiver_id: {type: integer, references: [people.id]}
      message: {type: string, categories: [user.content], erasure: delete_row}
"""

LANE_TABLES = {"people": "id INTEGER PRIMARY KEY, email TEXT",
               "orders": "id INTEGER PRIMARY KEY, person_id INTEGER, total INTEGER",
               "items": "id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT",
               "logins": "id INTEGER PRIMARY KEY, person_id INTEGER, ip TEXT",
               "invoices": "id INTEGER PRIMARY KEY, person_id INTEGER, billing_name TEXT",
               "notes": "id INTEGER PRIMARY KEY, person_id INTEGER, parent_id INTEGER, body TEXT",
               "gifts": "id INTEGER PRIMARY KEY, giver_id INTEGER, receiver_id INTEGER, "
                        "message TEXT"}


def _lane_rows(rng: random.Random, people: int) -> dict[str, list[tuple[object, ...]]]:
    def who() -> int | None:
        return rng.randint(1, people) if rng.random() < 0.9 else None

    rows: dict[str, list[tuple[object, ...]]] = {
        "people": [(p, f"p{p}@lane.test") for p in range(1, people + 1)]}
    rows["orders"] = [(k, who(), rng.randint(1, 99)) for k in range(1, 3 * people)]
    rows["items"] = [(k, rng.randint(1, 3 * people) if rng.random() < 0.9 else None, "sku")
                     for k in range(1, 6 * people)]
    rows["logins"] = [(k, who(), "10.0.0.1") for k in range(1, 3 * people)]
    rows["invoices"] = [(k, who(), "name") for k in range(1, people)]
    rows["notes"] = [(k, who(), rng.randint(1, k - 1) if k > 1 and rng.random() < 0.5 else None,
                      "body") for k in range(1, 3 * people)]
    rows["gifts"] = [(k, who(), who(), "hi") for k in range(1, 2 * people)]
    return rows


def _lane_deployment(root: Path, seed: int, people: int) -> Any:
    from keepword.deployment import load_deployment
    from tests.requests.world import POLICY

    root.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(root / "lane.db")
    for table, cols in LANE_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({cols})")
    for table, rows in _lane_rows(random.Random(seed), people).items():
        marks = ", ".join("?" for _ in rows[0]) if rows else ""
        if rows:
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    db.commit()
    db.close()
    (root / "datasets").mkdir(exist_ok=True)
    (root / "policy.yaml").write_text(POLICY)
    (root / "datasets" / "shop.yaml").write_text(LANE)
    return load_deployment(root, environ={"KW_T_LANE_URL": f"sqlite:///{root / 'lane.db'}"})


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), people=st.integers(2, 8),
       asked=st.lists(st.tuples(st.integers(1, 10), st.booleans()), min_size=1, max_size=10))
def test_the_lane_plans_exactly_the_erasure_of_the_full_walk(
        tmp_path_factory: pytest.TempPathFactory, seed: int, people: int,
        asked: list[tuple[int, bool]]) -> None:
    """With the lane (collections deleted whole walked column-wise) and without it: the
    same statements, outcomes and found rows, for the first walk and the proof's re-walk
    (some people asked twice, some not there, some by two identities of two people)."""
    from keepword.identities import IdentityHasher
    from keepword.requests import erase
    from keepword.requests.plan import compile_plan
    from keepword.requests.walk import Connections, Subject, Walker

    dep = _lane_deployment(tmp_path_factory.mktemp("lane"), seed, people)
    plan = compile_plan(dep.datamap, dep.policy.version)
    policy = dep.policy.policy
    lane = erase.lane_of(plan, policy)
    assert {t[1] for t in lane} == {"orders", "items", "logins"}
    hasher = IdentityHasher(b"k" * 32)

    def identities(p: int, two: bool) -> dict[str, set[str]]:
        ids = {"email": {f"p{p}@lane.test"}}
        return {**ids, "account_id": {str(p % people + 1)}} if two else ids

    try:
        planned = []
        for taken in (lane, frozenset()):
            conns = Connections(dep.stores, dep.datamap.datasets)
            try:
                first = [Subject(str(k), identities(p, two)) for k, (p, two) in enumerate(asked)]
                walk = Walker(plan, conns, lane=taken).run(first)
                again = [s.rewalk() for s in first]
                proof = Walker(plan, conns, lane=taken).run(again, prior=True)
            finally:
                conns.close()
            for w, subjects in ((walk, first), (proof, again)):
                out = erase.plan_erasure(w, policy, hasher)
                planned.append(([op.payload() for op in out.ops],
                                {k: o.as_dict() for k, o in out.outcomes.items()},
                                {s.key: (s.problem, w.counts(s)) for s in subjects}))
                with _no_simple_subjects():  # the shortcut for a person row and its lane
                    slow = erase.plan_erasure(w, policy, hasher)
                assert ([op.payload() for op in slow.ops],
                        {k: o.as_dict() for k, o in slow.outcomes.items()}) == planned[-1][:2]
        assert planned[:2] == planned[2:]
    finally:
        dep.close()


@contextmanager
def _no_simple_subjects() -> Iterator[None]:
    from keepword.requests import erase

    simple = erase._Planner._simple
    erase._Planner._simple = lambda self, s: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        erase._Planner._simple = simple  # type: ignore[method-assign]


def test_simple_subjects_take_the_shortcut(tmp_path: Path) -> None:
    """People found as their person row and its lane are planned by the shortcut, with the
    outcome and statements of the full planner."""
    from keepword.identities import IdentityHasher
    from keepword.requests import erase
    from keepword.requests.plan import compile_plan
    from keepword.requests.walk import Connections, Subject, Walker

    dep = _lane_deployment(tmp_path / "deploy", 3, 8)
    con = sqlite3.connect(tmp_path / "deploy" / "lane.db")  # two people with only lane rows
    con.executescript("""INSERT INTO people VALUES (100, 'p100@lane.test'), (101, 'p101@lane.test');
        INSERT INTO orders VALUES (1000, 100, 5), (1001, 100, 7), (1002, 101, 9);
        INSERT INTO items VALUES (1000, 1000, 'a'), (1001, 1001, 'b'), (1002, 1002, 'c');
        INSERT INTO logins VALUES (1000, 100, '10.0.0.2');""")
    con.commit()
    con.close()
    plan = compile_plan(dep.datamap, dep.policy.version)
    hasher = IdentityHasher(b"k" * 32)
    conns = Connections(dep.stores, dep.datamap.datasets)
    try:
        subjects = [Subject(str(p), {"email": {f"p{p}@lane.test"}})
                    for p in [*range(1, 9), 100, 101]]
        walk = Walker(plan, conns, lane=erase.lane_of(plan, dep.policy.policy)).run(subjects)
    finally:
        conns.close()
        dep.close()
    taken: list[str] = []
    simple = erase._Planner._simple

    def counted(self: Any, s: Any) -> Any:
        out = simple(self, s)
        if out is not None:
            taken.append(s.key)
        return out

    erase._Planner._simple = counted  # type: ignore[method-assign]
    try:
        fast = erase.plan_erasure(walk, dep.policy.policy, hasher)
    finally:
        erase._Planner._simple = simple  # type: ignore[method-assign]
    with _no_simple_subjects():
        slow = erase.plan_erasure(walk, dep.policy.policy, hasher)
    assert {"100", "101"} <= set(taken), "people with only lane rows are simple"
    assert fast.outcomes["100"].deleted == {"shop.people": 1, "shop.orders": 2,
                                            "shop.items": 2, "shop.logins": 1}
    assert [op.payload() for op in fast.ops] == [op.payload() for op in slow.ops]
    assert {k: o.as_dict() for k, o in fast.outcomes.items()} == {
        k: o.as_dict() for k, o in slow.outcomes.items()}


def test_a_batch_through_the_lane_erases_and_proves(tmp_path: Path, rt: Keepword) -> None:
    """A batch of erasures on the lane's store: the lane's rows are gone, the kept invoice
    stays, others' rows stay; every request completes with its proof."""
    dep = _lane_deployment(tmp_path / "deploy", 7, 6)
    db = tmp_path / "deploy" / "lane.db"
    con = sqlite3.connect(db)
    theirs = "SELECT id FROM orders WHERE person_id IN (1, 2, 3)"
    items = [r[0] for r in con.execute(f"SELECT id FROM items WHERE order_id IN ({theirs})")]
    con.close()
    assert items, "the people erased have ordered items"
    try:
        ids = [service.submit(rt, dep, Kind.ERASURE, [("email", f"p{p}@lane.test")])
               for p in (1, 2, 3)]
        for rid in ids:
            service.verify(rt, rid)
        results = service.run(rt, deployment=dep, ids=ids)
    finally:
        dep.close()
    assert [r.status for r in results] == ["completed"] * 3
    assert all((r.proof or {}).get("ok") for r in results)
    con = sqlite3.connect(db)
    try:
        def left(sql: str) -> int:
            return int(con.execute(sql).fetchone()[0])
        assert left("SELECT count(*) FROM orders WHERE person_id IN (1, 2, 3)") == 0
        assert left("SELECT count(*) FROM logins WHERE person_id IN (1, 2, 3)") == 0
        assert left("SELECT count(*) FROM people WHERE id IN (1, 2, 3)") == 0
        marks = ", ".join("?" for _ in items)
        assert con.execute(f"SELECT count(*) FROM items WHERE id IN ({marks})",
                           items).fetchone()[0] == 0
        assert left("SELECT count(*) FROM invoices WHERE person_id IN (1, 2, 3)") == left(
            "SELECT count(*) FROM invoices WHERE person_id IN (1, 2, 3) AND billing_name "
            "= 'name'")
        assert left("SELECT count(*) FROM orders WHERE person_id IN (4, 5, 6)") > 0
    finally:
        con.close()
