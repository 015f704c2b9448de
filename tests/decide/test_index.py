"""The compiled index always agrees with the rules evaluated from the policy objects."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepword.decide import rules
from keepword.decide.index import CompiledPolicy
from keepword.decide.rules import Query
from keepword.decide.state import Snapshot
from keepword.decide.subject import Actor, Subject
from keepword.errors import InputError
from keepword.policy import Policy, load_policy
from keepword.taxonomy import ancestors
from tests.decide.conftest import EXAMPLES, policy_path

NAMES = ["ikcon_like", "iko_like",
         *(n for n in ("ikcon", "iko") if (EXAMPLES / n / "policy.yaml").exists())]


@cache
def compiled(name: str) -> CompiledPolicy:
    return CompiledPolicy(load_policy(policy_path(name)).policy)


def _pools(policy: Policy) -> dict[str, list[str]]:
    cats = sorted({a for c in policy.categories for a in ancestors(c)}
                  | {f"{c}.sub" for c in policy.categories} | {"user.genome"})
    purposes = [*policy.purposes, "marketing.advertising.profiling", "third_party_sharing",
                "marketing.communications.email", "nope"]
    consent_keys = [*policy.purposes, *(f"recipient:{r}" for r in policy.recipients)]
    return {"cats": cats, "purposes": purposes, "recipients": [*policy.recipients, "nobody"],
            "kinds": [*policy.subjects, "alien"], "consent": consent_keys,
            "integrations": list(policy.recipients)}


def _often(valid: list[str], other: list[str]) -> st.SearchStrategy[str]:
    """Mostly valid values, sometimes anything (unknowns included)."""
    if not valid:
        return st.sampled_from(other)
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid),
                     st.sampled_from(other))


@st.composite
def questions(draw: st.DrawFn) -> tuple[str, Subject, Query, Snapshot]:
    name = draw(st.sampled_from(NAMES))
    policy = compiled(name).policy
    pools = _pools(policy)
    purpose = draw(_often(list(policy.purposes), pools["purposes"]))
    declared = policy.purposes[purpose].categories if purpose in policy.purposes else []
    cats = draw(st.lists(_often([*declared, *(f"{c}.sub" for c in declared)], pools["cats"]),
                         min_size=0 if draw(st.integers(0, 9)) == 0 else 1, max_size=3))
    fitting = [r for r, rec in policy.recipients.items() if purpose in rec.purposes]
    recipient = draw(st.one_of(st.none(), _often(fitting, pools["recipients"])))
    kind = draw(st.one_of(st.none(), _often(
        policy.purposes[purpose].subjects if purpose in policy.purposes else [], pools["kinds"])))
    subject = Subject.of(email="ada@example.com", kind=kind,
                         age=draw(st.sampled_from([None, 10, 15, 16, 40, 40, 40])))
    actor = draw(st.sampled_from([None, "user:acme", "user:acme", "user:globex",
                                  "system_administrator", "partner", "other_users",
                                  "processor"]))
    query = Query(purpose, tuple(cats), recipient, draw(st.sampled_from([None, "acme", "acme"])),
                  Actor.parse(actor) if actor else None)
    snap = Snapshot(
        consent=draw(st.dictionaries(st.sampled_from(pools["consent"]),
                                     st.sampled_from([True, True, True, False]))),
        restricted=draw(st.sampled_from([False, False, False, True])),
        objections=frozenset(draw(st.lists(st.sampled_from([*pools["consent"], "*"]),
                                           max_size=2))),
        integrations=draw(st.dictionaries(st.sampled_from(pools["integrations"]),
                                          st.sampled_from([True, True, False]))))
    return name, subject, query, snap


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questions())
def test_compiled_index_agrees_with_the_rules(question: tuple[str, Subject, Query, Snapshot]
                                              ) -> None:
    name, subject, query, snap = question
    index = compiled(name)
    key = (query.purpose, query.categories, query.recipient, query.tenant, query.actor)
    try:
        expected = rules.evaluate(index.policy, subject, query, snap)
    except InputError:
        with pytest.raises(InputError):
            index.decide(subject, key, snap)
        return
    assert index.decide(subject, key, snap) == expected
    assert index.decide(subject, key, snap) == expected  # the cached plan too


def test_plans_are_compiled_once_per_question() -> None:
    index = CompiledPolicy(load_policy(policy_path("ikcon_like")).policy)
    subject = Subject.of(email="ada@example.com", age=30)
    key = ("essential.service", ("user.name",), None, None, None)
    first = index.decide(subject, key, Snapshot())
    assert len(index.plans) == 1
    assert index.decide(subject, key, Snapshot()) is first  # the ready-made allow
    assert len(index.plans) == 1
