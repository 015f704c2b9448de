"""The walk finds every row of the subject and no row of anyone else (ground truth)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepword.deployment import Deployment, load_deployment
from keepword.errors import InputError
from keepword.requests.plan import compile_plan
from keepword.requests.service import parse_identities
from keepword.requests.walk import Connections, Role, Subject, Walker, WalkResult
from tests.requests.world import POLICY, World


def walk(dep: Deployment, subjects: list[Subject]) -> WalkResult:
    conns = Connections(dep.stores, dep.datamap.datasets)
    try:
        return Walker(compile_plan(dep.datamap, dep.policy.version), conns).run(subjects)
    finally:
        conns.close()


def found(s: Subject) -> dict[tuple[str, tuple[object, ...]], str]:
    return {(t[1], pk): "own" if r is Role.OWN else "shared"
            for t, by in s.rows.items() for pk, r in by.items() if r >= Role.SHARED}


def test_every_row_of_each_person_and_nobody_elses(world: World, dep: Deployment) -> None:
    """One batch for everyone: each person's rows equal the fixture's ground truth."""
    subjects = [Subject(str(p.id), {"email": {p.email}}) for p in world.people.values()]
    result = walk(dep, subjects)
    for s in subjects:
        assert s.problem is None
        assert found(s) == world.truth[int(s.key)], f"person {s.key}"
    # set-based: one query per collection and column per chunk, whatever the batch size
    assert result.queries < 120


def test_a_batch_finds_what_single_walks_find(sqlite_world: World, sqlite_dep: Deployment
                                              ) -> None:
    people = list(sqlite_world.people.values())
    single = []
    queries_one = 0
    for p in people[:4]:
        s = Subject(p.email, {"email": {p.email}})
        queries_one = max(queries_one, walk(sqlite_dep, [s]).queries)
        single.append(found(s))
    batch = [Subject(p.email, {"email": {p.email}}) for p in people[:4]]
    result = walk(sqlite_dep, batch)
    assert [found(s) for s in batch] == single
    assert result.queries <= queries_one + 10  # not four times the queries


def test_knowledge_sealed_and_read_back_finds_the_person_again(sqlite_world: World,
                                                               sqlite_dep: Deployment) -> None:
    """What a batch seals of each person (for a resume's proof) reads back as the subject
    ``rewalk`` makes in-process: identities, person keys and the values below them."""
    from keepword.requests.lifecycle import Vault

    vault = Vault(b"k" * 32)
    subjects = [Subject(str(p.id), {"email": {p.email}}) for p in sqlite_world.people.values()]
    walk(sqlite_dep, subjects)
    for s in subjects:
        back = Subject.from_knowledge(s.key, vault.open(vault.seal(s.knowledge())))
        again = s.rewalk()
        assert (back.identities, dict(back.roots), dict(back.values)) == (
            again.identities, dict(again.roots), dict(again.values)), s.key
        assert back.roots, "each person is found by a person row"


def test_several_identities_of_one_person_merge(sqlite_world: World, sqlite_dep: Deployment
                                                ) -> None:
    p = sqlite_world.people[3]
    assert p.phone
    by_phone = Subject("a", {"phone": {p.phone}})
    by_both = Subject("b", {"phone": {p.phone}, "email": {p.email}})
    by_account = Subject("c", {"account_id": {"3"}})
    walk(sqlite_dep, [by_phone, by_both, by_account])
    truth = sqlite_world.truth[3]
    assert found(by_phone) == found(by_both) == found(by_account) == truth
    assert p.email in by_phone.identities["email"]  # learnt from the person row


def test_identities_of_two_people_stop_the_request(sqlite_world: World,
                                                   sqlite_dep: Deployment) -> None:
    p1, p3 = sqlite_world.people[1], sqlite_world.people[3]
    s = Subject("x", {"email": {p1.email}, "account_id": {"3"}})
    other = Subject("y", {"email": {p3.email}})
    walk(sqlite_dep, [s, other])
    assert s.problem is not None and "2 different people" in s.problem
    assert "app.users" in s.problem and p1.email not in s.problem
    assert not s.rows  # nothing looked at beyond the people rows
    assert found(other) == sqlite_world.truth[3]  # the rest of the batch goes on


def test_identity_matching_no_one_finds_nothing(world: World, dep: Deployment) -> None:
    s = Subject("n", {"email": {"nobody@nowhere.test"}, "phone": {"+33699999999"}})
    walk(dep, [s])
    assert s.problem is None and found(s) == {}


INJECTIONS = ["x' OR '1'='1@example.org", "a@b.c'); DROP TABLE users; --", "%@%", "\\'@x.y"]


def test_injection_looking_identities_are_just_values(world: World, dep: Deployment) -> None:
    plan = compile_plan(dep.datamap, "")
    subjects = [Subject(v, {"email": {norm}})
                for v in INJECTIONS for _, norm in parse_identities(plan, [("email", v)])]
    walk(dep, subjects)
    assert all(found(s) == {} and s.problem is None for s in subjects)
    assert len(world.snapshot()["users"]) == len(world.people)  # still there


def test_unknown_identity_type_is_refused(sqlite_dep: Deployment) -> None:
    plan = compile_plan(sqlite_dep.datamap, "")
    with pytest.raises(InputError) as err:
        parse_identities(plan, [("passport", "X1")])
    assert "unknown identity type 'passport'" in str(err.value)
    assert "X1" not in str(err.value)


def test_shared_address_is_context_own_address_is_the_persons(sqlite_world: World,
                                                              sqlite_dep: Deployment) -> None:
    one, four = Subject("1", {"account_id": {"1"}}), Subject("4", {"account_id": {"4"}})
    result = walk(sqlite_dep, [one, four])
    addresses = ("app", "addresses")
    assert set(one.rows[addresses].values()) == {Role.LINKED}  # shared with person 2
    assert set(four.rows[addresses].values()) == {Role.OWN}
    assert result.rows[addresses]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True))
def test_any_batch_equals_the_ground_truth(sqlite_world: World, sqlite_dep: Deployment,
                                           people: list[int]) -> None:
    subjects = [Subject(str(k), {"email": {sqlite_world.people[k].email}}) for k in people]
    walk(sqlite_dep, subjects)
    for s in subjects:
        assert found(s) == sqlite_world.truth[int(s.key)]


# -- the shortcuts give exactly what role_of gives ------------------------------------------
# A small generated store exercising every shortcut (rows reached through their only owner
# column, rows naming nobody, up edges back to the parent, several rows per parent) and
# what they must not hide (shared rows, rows naming others, self-references, NULLs, rows
# met twice: ``shares`` come first so a file is met shared, then own through its post).
GEN = """\
dataset: gen
store:
  kind: sqlite
  connection: {env: KW_T_GEN_URL}
collections:
  people:
    subject: customer
    primary_key: [id]
    administered_by: org
    fields:
      id: {type: integer, identity: account_id}
      email: {type: string, identity: email}
      referred_by: {type: integer, references: [people.id]}
      org: {type: integer}
  profiles:
    primary_key: [id]
    fields:
      id: {type: integer, references: [people.id]}
  notes:
    primary_key: [id]
    fields:
      id: {type: integer}
      person_id: {type: integer, references: [people.id]}
  threads:
    primary_key: [id]
    fields:
      id: {type: integer}
  shares:
    primary_key: [id]
    fields:
      id: {type: integer}
      post_id: {type: integer, references: [posts.id]}
      owner_id: {type: integer, references: [people.id]}
      guest_id: {type: integer, references: [people.id]}
  posts:
    primary_key: [id]
    fields:
      id: {type: integer}
      author_id: {type: integer, references: [people.id]}
      thread_id: {type: integer, references: [threads.id]}
  lines:
    primary_key: [id]
    fields:
      id: {type: integer}
      post_id: {type: integer, references: [posts.id]}
  marks:
    primary_key: [id]
    fields:
      id: {type: integer}
      line_id: {type: integer, references: [lines.id]}
      thread_id: {type: integer, references: [threads.id]}
  tags:
    primary_key: [id]
    fields:
      id: {type: integer}
      post_id: {type: integer, references: [posts.id]}
      person_id: {type: integer, references: [people.id]}
  replies:
    primary_key: [id]
    fields:
      id: {type: integer}
      parent_id: {type: integer, references: [replies.id]}
      author_id: {type: integer, references: [people.id]}
  files:
    primary_key: [id]
    fields:
      id: {type: integer}
      post_id: {type: integer, references: [posts.id]}
      share_id: {type: integer, references: [shares.id]}
  letters:
    primary_key: [id]
    belongs_to: sender_id
    fields:
      id: {type: integer}
      sender_id: {type: integer, references: [people.id]}
      recipient_id: {type: integer, references: [people.id]}
      thread_id: {type: integer, references: [threads.id]}
      recipient_note: {type: string, belongs_to: recipient_id}
"""

GEN_COLUMNS = {"people": ("id", "email", "referred_by", "org"), "profiles": ("id",),
               "notes": ("id", "person_id"), "threads": ("id",),
               "posts": ("id", "author_id", "thread_id"), "lines": ("id", "post_id"),
               "marks": ("id", "line_id", "thread_id"), "tags": ("id", "post_id", "person_id"),
               "shares": ("id", "post_id", "owner_id", "guest_id"),
               "replies": ("id", "parent_id", "author_id"), "files": ("id", "post_id", "share_id"),
               "letters": ("id", "sender_id", "recipient_id", "thread_id", "recipient_note")}


def _gen_rows(rng: random.Random, people: int) -> dict[str, list[tuple[object, ...]]]:
    """Random rows: references to anyone's rows, some NULL, several children per parent."""
    def some(n: int) -> int | None:
        return rng.randint(1, n) if n and rng.random() < 0.85 else None

    rows: dict[str, list[tuple[object, ...]]] = {t: [] for t in GEN_COLUMNS}
    rows["people"] = [(p, f"p{p}@gen.test", some(people), rng.choice([None, 1]))
                      for p in range(1, people + 1)]
    rows["profiles"] = [(p,) for p in range(1, people + 1) if rng.random() < 0.7]
    rows["threads"] = [(t,) for t in range(1, 4)]
    sizes = {"notes": 2 * people, "posts": 2 * people, "lines": 5 * people,
             "marks": 4 * people, "tags": 2 * people, "shares": 2 * people,
             "replies": 3 * people, "files": 3 * people, "letters": 2 * people}
    for k in range(1, sizes["notes"] + 1):
        rows["notes"].append((k, some(people)))
    for k in range(1, sizes["posts"] + 1):
        rows["posts"].append((k, some(people), some(3)))
    for k in range(1, sizes["lines"] + 1):
        rows["lines"].append((k, some(sizes["posts"])))
    for k in range(1, sizes["marks"] + 1):
        rows["marks"].append((k, some(sizes["lines"]), some(3)))
    for k in range(1, sizes["tags"] + 1):
        rows["tags"].append((k, some(sizes["posts"]), some(people)))
    for k in range(1, sizes["shares"] + 1):
        rows["shares"].append((k, some(sizes["posts"]), some(people), some(people)))
    for k in range(1, sizes["replies"] + 1):
        rows["replies"].append((k, some(k - 1), some(people)))
    for k in range(1, sizes["files"] + 1):  # often the post of their share: met twice
        share = rng.choice(rows["shares"])
        post = share[1] if rng.random() < 0.6 else some(sizes["posts"])
        rows["files"].append((k, post, share[0] if rng.random() < 0.85 else None))
    for k in range(1, sizes["letters"] + 1):
        rows["letters"].append((k, some(people), some(people), some(3), f"note {k}"))
    return rows


def _gen_deployment(root: Path, seed: int, people: int) -> Deployment:
    (root / "datasets").mkdir(parents=True)
    (root / "policy.yaml").write_text(POLICY)
    (root / "datasets" / "gen.yaml").write_text(GEN)
    db = sqlite3.connect(root / "gen.db")
    for table, cols in GEN_COLUMNS.items():
        db.execute(f"CREATE TABLE {table} ({', '.join(cols)}, PRIMARY KEY (id))")
        for c in cols[1:]:
            db.execute(f"CREATE INDEX ix_{table}_{c} ON {table} ({c})")
    for table, batch in _gen_rows(random.Random(seed), people).items():
        marks = ", ".join("?" for _ in GEN_COLUMNS[table])
        db.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
    db.commit()
    db.close()
    return load_deployment(root, environ={"KW_T_GEN_URL": f"sqlite:///{root / 'gen.db'}"})


def _snapshot(result: WalkResult, subjects: list[Subject]) -> object:
    """Everything a walk produces, in order (dicts and sets filled in the same order
    iterate in the same order)."""
    return ([(s.key, s.problem, [(k, list(v)) for k, v in s.identities.items()],
              [(t, list(p)) for t, p in s.roots.items()],
              [(k, list(v)) for k, v in s.values.items()],
              [(t, list(r.items())) for t, r in s.rows.items()],
              [(k, list(v)) for k, v in s.children.items()], list(s.administered))
             for s in subjects],
            [(t, [(pk, list(r.items())) for pk, r in d.items()]) for t, d in result.rows.items()],
            result.queries)


def _identities(rng: random.Random, people: int) -> dict[str, set[str]]:
    p, q = rng.randint(1, people), rng.randint(1, people + 2)  # q may be nobody
    choice = rng.random()
    if choice < 0.5:
        return {"email": {f"p{p}@gen.test"}}
    if choice < 0.8:
        return {"account_id": {str(p)}}
    return {"email": {f"p{p}@gen.test"}, "account_id": {str(q)}}  # maybe two people


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), people=st.integers(2, 9), batch=st.integers(1, 12),
       chunk=st.sampled_from([1, 2, 3, 500]))
def test_shortcuts_give_exactly_what_role_of_gives(tmp_path_factory: pytest.TempPathFactory,
                                                   seed: int, people: int, batch: int,
                                                   chunk: int) -> None:
    """The walk's shortcuts (fast roles, rows given together, skipped no-op visits) leave
    every structure exactly as asking ``role_of`` for each row does: first walk and the
    proof's re-walk from what it learnt."""
    dep = _gen_deployment(tmp_path_factory.mktemp("gen"), seed, people)
    plan = compile_plan(dep.datamap, dep.policy.version)
    rng = random.Random(seed)
    asked = [_identities(rng, people) for _ in range(batch)]
    try:
        snaps = []
        for shortcuts in (True, False):
            conns = Connections(dep.stores, dep.datamap.datasets)
            try:
                first = [Subject(str(k), {t: set(v) for t, v in ids.items()})
                         for k, ids in enumerate(asked)]
                walker = Walker(plan, conns, chunk=chunk, shortcuts=shortcuts)
                snap = _snapshot(walker.run(first), first)
                again = [s.rewalk() for s in first]
                proof = Walker(plan, conns, chunk=chunk, shortcuts=shortcuts)
                snaps.append((snap, _snapshot(proof.run(again, prior=True), again)))
            finally:
                conns.close()
        assert snaps[0] == snaps[1]
    finally:
        dep.close()


# -- the erasure lane finds exactly the rows the walk finds ---------------------------------
def _owned(result: WalkResult, s: Subject
           ) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    """The subject's own rows (wherever the walk filed them) and its shared ones."""
    own = {(t, pk) for t, rows in s.rows.items() for pk, r in rows.items() if r is Role.OWN}
    own |= {(t, pk) for t, pks in result.lane_rows([s]).items() for pk in pks}
    shared = {(t, pk) for t, rows in s.rows.items() for pk, r in rows.items()
              if r is Role.SHARED}
    return own, shared


def _outline(result: WalkResult, subjects: list[Subject]) -> object:
    return [(s.key, s.problem, sorted(s.identities.items()), dict(s.roots), _owned(result, s),
             result.counts(s), sorted(s.administered, key=repr)) for s in subjects]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), people=st.integers(2, 9), batch=st.integers(1, 12),
       chunk=st.sampled_from([1, 2, 3, 500]))
def test_the_lane_finds_exactly_what_the_walk_finds(tmp_path_factory: pytest.TempPathFactory,
                                                    seed: int, people: int, batch: int,
                                                    chunk: int) -> None:
    """Collections walked column-wise under the person rows (forced on for every one the
    lane rules admit) give each subject exactly the own and shared rows, counts, roots
    and problems of the full walk: first walk and the proof's re-walk."""
    from keepword.requests.erase import lane_of
    dep = _gen_deployment(tmp_path_factory.mktemp("gen"), seed, people)
    plan = compile_plan(dep.datamap, dep.policy.version)
    lane = lane_of(plan, dep.policy.policy, whole=lambda cp, link: True)
    assert lane, "the generated store has collections the lane admits"
    rng = random.Random(seed)
    asked = [_identities(rng, people) for _ in range(batch)]
    try:
        outlines = []
        for taken in (lane, frozenset()):
            conns = Connections(dep.stores, dep.datamap.datasets)
            try:
                first = [Subject(str(k), {t: set(v) for t, v in ids.items()})
                         for k, ids in enumerate(asked)]
                once = _outline(Walker(plan, conns, chunk=chunk, lane=taken).run(first), first)
                again = [s.rewalk() for s in first]
                proof = Walker(plan, conns, chunk=chunk, lane=taken).run(again, prior=True)
                outlines.append((once, _outline(proof, again)))
            finally:
                conns.close()
        assert outlines[0] == outlines[1]
    finally:
        dep.close()


def test_writes_after_autocommit_reads_are_all_or_nothing(pg_url: Any, tmp_path: Path) -> None:
    """On PostgreSQL a walk reads in autocommit; the steps that follow still run in one
    transaction per unit: a failing step leaves the unit's earlier steps undone."""
    from sqlalchemy import create_engine, text

    from keepword.errors import StoreError
    from keepword.requests.ops import Op, apply_many
    from tests.requests.conftest import deployment, world_urls
    from tests.requests.world import build

    world = build(tmp_path / "deploy", world_urls(pg_url, tmp_path))
    dep = deployment(world)
    plan = compile_plan(dep.datamap, dep.policy.version)
    conns = Connections(dep.stores, dep.datamap.datasets)
    try:
        Walker(plan, conns).run([Subject("1", {"email": {world.people[1].email}})])
        conns.end_reads()
        logins = ("app", "login_events")
        users = ("app", "users")
        one, two = world.people[1].id, world.people[2].id
        gone = Op(logins, "delete", [(k,) for k in range(1, 1000)])
        clash = Op(users, "update", [(two,)], {"id": one})  # a duplicate key: refused
        with pytest.raises(StoreError):
            apply_many(conns.get("app"), plan, [gone, clash])
    finally:
        conns.close()
        dep.close()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM login_events")).scalar_one()
    engine.dispose()
    assert left > 0, "the delete before the failing step was rolled back"


# -- the proof's set-wide question ------------------------------------------------------
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), people=st.integers(2, 9), batch=st.integers(1, 12),
       gone=st.floats(0.0, 1.0), chunk=st.sampled_from([1, 3, 500]))
def test_nothing_found_set_wide_means_the_walk_finds_nothing(
        tmp_path_factory: pytest.TempPathFactory, seed: int, people: int, batch: int,
        gone: float, chunk: int) -> None:
    """``anything_found`` (the proof's shortcut) says no only when the proof's re-walk
    finds no row at all, and yes whenever it finds one; rows deleted at random between
    the walks (people, the rows below them, the rows they point at)."""
    root = tmp_path_factory.mktemp("gen")
    dep = _gen_deployment(root, seed, people)
    plan = compile_plan(dep.datamap, dep.policy.version)
    rng = random.Random(seed)
    asked = [_identities(rng, people) for _ in range(batch)]
    try:
        conns = Connections(dep.stores, dep.datamap.datasets)
        try:
            first = [Subject(str(k), {t: set(v) for t, v in ids.items()})
                     for k, ids in enumerate(asked)]
            Walker(plan, conns, chunk=chunk).run(first)
        finally:
            conns.close()
        db = sqlite3.connect(root / "gen.db")
        for table in GEN_COLUMNS:
            ids = [i for (i,) in db.execute(f"SELECT id FROM {table}")]
            db.executemany(f"DELETE FROM {table} WHERE id = ?",
                           [(i,) for i in ids if rng.random() < gone])
        db.commit()
        db.close()
        conns = Connections(dep.stores, dep.datamap.datasets)
        try:
            again = [s.rewalk() for s in first]
            said = Walker(plan, conns, chunk=chunk).anything_found(again)
            walk = Walker(plan, conns, chunk=chunk).run(again, prior=True)
        finally:
            conns.close()
        assert said == any(walk.rows.values())  # the same lookups: the same rows read
    finally:
        dep.close()


TEXT_KEYS = """\
dataset: keys
store:
  kind: sqlite
  connection: {env: KW_T_KEYS_URL}
collections:
  people:
    subject: customer
    primary_key: [id]
    fields:
      id: {type: integer, identity: account_id}
      email: {type: string, identity: email}
"""


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(emails=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                               min_size=1, max_size=6).map(lambda t: t.strip().lower())
                       .filter(bool), min_size=1, max_size=8, unique=True),
       nul=st.booleans())
def test_text_identities_find_their_row_whatever_they_hold(
        tmp_path_factory: pytest.TempPathFactory, emails: list[str], nul: bool) -> None:
    """SQLite takes a chunk of text lookups as one JSON document unless a text holds what
    JSON cannot carry there (a NUL): each person is found by their own text, exactly."""
    if nul:
        emails = [*emails, "a\x00b"]
    root = tmp_path_factory.mktemp("keys")
    (root / "datasets").mkdir()
    (root / "policy.yaml").write_text(POLICY)
    (root / "datasets" / "keys.yaml").write_text(TEXT_KEYS)
    db = sqlite3.connect(root / "keys.db")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)")
    db.executemany("INSERT INTO people VALUES (?, ?)",
                   [(k, e) for k, e in enumerate([*emails, "someone@else"], start=1)])
    db.commit()
    db.close()
    dep = load_deployment(root, environ={"KW_T_KEYS_URL": f"sqlite:///{root / 'keys.db'}"})
    try:
        subjects = [Subject(str(k), {"email": {e}}) for k, e in enumerate(emails, start=1)]
        walk(dep, subjects)
        assert [dict(s.roots) for s in subjects] == [
            {("keys", "people"): {(k,)}} for k in range(1, len(emails) + 1)]
    finally:
        dep.close()
