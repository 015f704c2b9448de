"""Rectification: the new value everywhere the subject's field is stored, type-checked."""

from __future__ import annotations

import pytest

from keepword.deployment import Deployment
from keepword.errors import InputError
from keepword.requests import service
from keepword.requests.lifecycle import Kind
from keepword.runtime import Keepword
from tests.requests.world import World


def test_one_email_updated_in_every_table(world: World, dep: Deployment, rt: Keepword) -> None:
    p = world.people[3]
    before = world.snapshot()
    result = service.run_request(rt, dep, "rectification", {"email": p.email},
                                 changes={"email": "New.Address@Example.org",
                                          "users.name": "Ana Three"})
    assert result.status == "completed", result.reason
    assert result.proof and result.proof["ok"]
    after = world.snapshot()
    new = "new.address@example.org"  # normalised like every email identity
    assert after["users"][(3,)]["email"] == new and after["users"][(3,)]["name"] == "Ana Three"
    for table, col in (("contacts", "email"), ("login_events", "email"), ("leads", "email")):
        for pk, row in before[table].items():
            if row[col] == p.email:
                assert after[table][pk][col] == new, table
            else:
                assert after[table][pk] == row, f"someone else's {table} row changed"
    changed = {t for t in before for pk in before[t] if before[t][pk] != after[t].get(pk)}
    assert changed == {"users", "contacts", "login_events", "leads"}
    again = service.run_request(rt, dep, "access", {"email": new})
    assert again.found["app.users"] >= 1


def test_values_are_validated_against_the_field_type(sqlite_dep: Deployment,
                                                     rt: Keepword) -> None:
    with pytest.raises(InputError) as err:
        service.run_request(rt, sqlite_dep, "rectification", {"account_id": "3"},
                            changes={"email": "not-an-email", "orders.total": "lots",
                                     "nope": "x"})
    text = str(err.value)
    assert "app.users.email is not a valid email" in text
    assert "app.orders.total is not a valid float" in text
    assert "'nope' names no identity type" in text
    assert "not-an-email" not in text and "lots" not in text
    assert service.list_requests(rt) == []


def test_rectification_touches_only_the_subjects_part(sqlite_world: World,
                                                     sqlite_dep: Deployment,
                                                     rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    service.run_request(rt, sqlite_dep, "rectification", {"account_id": "3"},
                        changes={"user.name": "Three"})
    after = sqlite_world.snapshot()
    for pk, row in before["messages"].items():
        now = after["messages"][pk]
        assert (now["sender_name"] == "Three") == (row["sender_id"] == 3)
        assert (now["recipient_name"] == "Three") == (row["recipient_id"] == 3)
    for pk, row in before["contacts"].items():  # others' entries about person 3 are theirs
        assert (after["contacts"][pk]["name"] == "Three") == (row["email"] ==
                                                             sqlite_world.people[3].email)


def test_dry_run_rectification_shows_the_plan(sqlite_world: World, sqlite_dep: Deployment,
                                              rt: Keepword) -> None:
    before = sqlite_world.snapshot()
    result = service.run_request(rt, sqlite_dep, "rectification", {"account_id": "3"},
                                 changes={"phone": "+33 6 99 88 77 66"}, dry_run_only=True)
    assert result.plan and {s["collection"] for s in result.plan} >= {"app.users"}
    assert all(s["fields"] == ["phone"] for s in result.plan)
    assert sqlite_world.snapshot() == before


def test_a_managed_account_in_a_batch_is_not_rectified_before_its_administrator(
        sqlite_world: World, sqlite_dep: Deployment, rt: Keepword) -> None:
    managed = min(sqlite_world.managed)
    other = next(k for k in sqlite_world.people if k not in sqlite_world.managed)
    before = sqlite_world.snapshot()
    ids = [service.submit(rt, sqlite_dep, Kind.RECTIFICATION,
                          [("email", sqlite_world.people[k].email)],
                          changes={"users.name": f"Renamed {k}"}) for k in (managed, other)]
    service.verify_many(rt, ids)
    results = {r.id: r for r in service.run(rt, deployment=sqlite_dep, ids=ids)}
    assert results[ids[0]].status == "awaiting_administrator"
    assert results[ids[1]].status == "completed"
    after = sqlite_world.snapshot()
    assert after["users"][(managed,)] == before["users"][(managed,)]
    assert after["users"][(other,)]["name"] == f"Renamed {other}"
