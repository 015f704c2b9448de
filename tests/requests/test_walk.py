"""The walk finds every row of the subject and no row of anyone else (ground truth)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepword.deployment import Deployment
from keepword.errors import InputError
from keepword.requests.plan import compile_plan
from keepword.requests.service import parse_identities
from keepword.requests.walk import Connections, Role, Subject, Walker, WalkResult
from tests.requests.world import World


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
