"""One runner at a time per request: claims, leases, and take-over of dead runners."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from keepword.control import ControlStore
from keepword.control.base import utcnow
from keepword.deployment import Deployment
from keepword.requests import service
from keepword.requests.claims import LEASE, Claimant, RequestClaim
from keepword.requests.lifecycle import Kind
from keepword.runtime import Keepword
from tests.requests.world import World


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_held_request_is_not_claimed_twice(control: ControlStore) -> None:
    first, second = Claimant("run-a"), Claimant("run-b")
    assert first.claim(control, ["r1", "r2"]) == ["r1", "r2"]
    assert second.claim(control, ["r1", "r2", "r3"]) == ["r3"]
    assert first.claim(control, ["r1"]) == ["r1"]  # claiming again is harmless


def test_claim_rows_name_the_runner_for_every_request(control: ControlStore) -> None:
    """Thousands of claims (several chunks of one INSERT ... SELECT each): one row per
    request, each with the runner's owner, host, pid and lease."""
    ids = [f"r{i}" for i in range(12_001)]
    runner = Claimant("run-a", host="here", pid=4242)
    before = utcnow()
    assert runner.claim(control, ids) == ids
    with control.session() as s:
        rows = s.execute(select(RequestClaim.request_id, RequestClaim.owner, RequestClaim.host,
                                RequestClaim.pid, RequestClaim.until)).all()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {(r[1], r[2], r[3]) for r in rows} == {("run-a", "here", 4242)}
    assert all(before + LEASE <= r[4] <= utcnow() + LEASE for r in rows)


def test_release_frees_the_requests(control: ControlStore) -> None:
    first, second = Claimant("run-a"), Claimant("run-b")
    first.claim(control, ["r1"])
    first.release(control)
    assert second.claim(control, ["r1"]) == ["r1"]


def test_an_expired_lease_can_be_taken_over(control: ControlStore) -> None:
    Claimant("run-a", host="elsewhere").claim(control, ["r1"])
    with control.session() as s:
        s.execute(update(RequestClaim).values(until=utcnow() - timedelta(seconds=1)))
    assert Claimant("run-b").claim(control, ["r1"]) == ["r1"]


def test_a_dead_runner_on_this_host_is_taken_over_at_once(control: ControlStore) -> None:
    Claimant("run-a", pid=dead_pid()).claim(control, ["r1"])
    assert Claimant("run-b").claim(control, ["r1"]) == ["r1"]


def test_a_live_runner_elsewhere_keeps_its_claim(control: ControlStore) -> None:
    Claimant("run-a", host="another-machine", pid=dead_pid()).claim(control, ["r1"])
    assert Claimant("run-b").claim(control, ["r1"]) == []


def test_renew_extends_only_the_owners_leases(control: ControlStore) -> None:
    first = Claimant("run-a")
    first.claim(control, ["r1"])
    with control.session() as s:
        s.execute(update(RequestClaim).values(until=utcnow() + timedelta(seconds=5)))
        Claimant("run-b").renew(s, ["r1"])
        first_until = s.get(RequestClaim, "r1")
        assert first_until is not None and first_until.until < utcnow() + timedelta(minutes=1)
        first.renew(s, ["r1"])  # its lease was taken a moment ago: not rewritten yet
        s.expire_all()
        same = s.get(RequestClaim, "r1")
        assert same is not None and same.until < utcnow() + timedelta(minutes=1)
        assert first.renewed is not None
        first.renewed -= LEASE / 2  # time passes: most of the lease is gone
        first.renew(s, ["r1"])
        s.expire_all()
        renewed = s.get(RequestClaim, "r1")
        assert renewed is not None and renewed.until > utcnow() + timedelta(minutes=10)


def test_run_leaves_requests_another_runner_holds(sqlite_world: World, sqlite_dep: Deployment,
                                                  rt: Keepword) -> None:
    email = sqlite_world.people[3].email
    rid = service.submit(rt, sqlite_dep, Kind.ERASURE, [("email", email)])
    service.verify(rt, rid)
    other = Claimant("run-elsewhere", host="another-machine")
    other.claim(rt.control, [rid])
    assert service.run(rt, deployment=sqlite_dep) == []
    assert service.show(rt, rid).status == "verified"
    other.release(rt.control)
    (done,) = service.run(rt, deployment=sqlite_dep)
    assert done.status == "completed"
    with rt.control.session() as s:
        assert s.execute(select(RequestClaim)).first() is None, "claims are released"
