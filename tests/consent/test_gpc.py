"""Global Privacy Control: an opt-out of every sale, share and advertising purpose."""

from __future__ import annotations

from keepword.consent.gpc import apply_gpc, gpc_purposes, gpc_signal
from keepword.decide import Decider, Subject

DEVICE = Subject.of(device_id="d-7f3a", age=30)


def test_signal_is_read_from_headers() -> None:
    assert gpc_signal({"Sec-GPC": "1"})
    assert gpc_signal({"sec-gpc": " 1 "})
    assert not gpc_signal({"Sec-GPC": "0"})
    assert not gpc_signal({"DNT": "1"})


def test_gpc_withdraws_advertising_whatever_the_basis(decider: Decider) -> None:
    assert gpc_purposes(decider.policy) == ["targeted_ads", "ad_performance"]
    decider.ledger.give(DEVICE, "targeted_ads", channel="web")
    assert decider.decide(DEVICE, "targeted_ads", ["user.device"])
    assert decider.decide(DEVICE, "ad_performance", ["user.device"])  # legitimate interest
    assert apply_gpc(decider.ledger, DEVICE) == ["targeted_ads", "ad_performance"]
    consent = decider.decide(DEVICE, "targeted_ads", ["user.device"])
    li = decider.decide(DEVICE, "ad_performance", ["user.device"])
    assert [r.clause for r in consent.reasons] == ["purposes.targeted_ads.legal_basis"]
    assert [r.clause for r in li.reasons] == ["purposes.ad_performance.advertising"]
    assert decider.decide(DEVICE, "analytics", ["user.device"])  # not advertising: untouched
    assert {r.channel for r in decider.ledger.history(DEVICE) if not r.given} == {"gpc"}


def test_gpc_on_a_policy_without_such_purposes_records_nothing(decider: Decider) -> None:
    policy = decider.policy
    plain = policy.model_copy(update={"purposes": {
        k: p for k, p in policy.purposes.items() if not (p.sale or p.share or p.advertising)}})
    quiet = Decider(plain, decider.runtime)
    assert apply_gpc(quiet.ledger, DEVICE) == []
    assert quiet.ledger.history(DEVICE) == []
