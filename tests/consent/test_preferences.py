"""Marketing preferences per channel and the last-interest clock (Ikcon §9.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keepword.consent.preferences import Preferences, stale_subjects
from keepword.decide import Subject
from keepword.errors import InputError
from keepword.runtime import Keepword

ADA = Subject.of(email="ada@example.com")
BOB = Subject.of(email="bob@example.com")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_preferences_per_channel_changeable_any_time(kw: Keepword) -> None:
    prefs = Preferences(kw)
    assert {c: p.opted_in for c, p in prefs.get(ADA).items()} == {
        "email": None, "sms": None, "phone": None, "post": None}
    prefs.set(ADA, "email", True, source="web", at=T0)
    prefs.set(ADA, "sms", True, source="web", at=T0)
    prefs.set(ADA, "sms", False, source="app", at=T0 + timedelta(days=1))
    now = prefs.get(ADA)
    assert (now["email"].opted_in, now["sms"].opted_in, now["post"].opted_in) == (
        True, False, None)
    assert now["sms"].changed_at == T0 + timedelta(days=1)
    with kw.control.engine.connect() as conn:
        actions = [e["action"] for e in kw.audit.entries(conn)]
    assert actions == ["preferences.opt_in", "preferences.opt_in", "preferences.opt_out"]


def test_last_interest_and_stale_subjects(kw: Keepword) -> None:
    prefs = Preferences(kw)
    prefs.set(ADA, "email", True, at=T0)
    prefs.set(BOB, "email", True, at=T0)
    prefs.interest(BOB, at=T0 + timedelta(days=400))  # any channel
    prefs.interest(ADA, "post", at=T0 + timedelta(days=10))
    ada, bob = prefs.get(ADA), prefs.get(BOB)
    assert ada["email"].last_interest == T0
    assert ada["post"].last_interest == T0 + timedelta(days=10)
    assert bob["email"].last_interest == T0 + timedelta(days=400)
    with kw.control.session() as session:
        stale = stale_subjects(session, T0 + timedelta(days=365))
        stale_email = stale_subjects(session, T0 + timedelta(days=5), channel="email")
    assert stale == list(ADA.refs(kw.hasher))
    assert stale_email == list(ADA.refs(kw.hasher))


def test_unknown_channel_is_refused(kw: Keepword) -> None:
    with pytest.raises(InputError, match="unknown channel"):
        Preferences(kw).set(ADA, "fax", True)
    with pytest.raises(InputError, match="unknown channel"):
        Preferences(kw).set(ADA, "*", True)  # a choice is always for one channel
