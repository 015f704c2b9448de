"""Ledgers over the small Ikcon-like test policy."""

from __future__ import annotations

import pytest

from keepword.consent.ledger import ConsentLedger
from keepword.decide import Decider
from keepword.policy import load_policy
from keepword.runtime import Keepword
from tests.decide.conftest import policy_path


@pytest.fixture
def decider(kw: Keepword) -> Decider:
    """On SQLite and PostgreSQL (``kw`` is parametrised over both)."""
    return Decider(load_policy(policy_path("ikcon_like")), kw, ttl=3600)


@pytest.fixture
def ledger(decider: Decider) -> ConsentLedger:
    return decider.ledger
