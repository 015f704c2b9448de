"""Hypothesis strategies that build valid policies (used by round-trip tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from keepword.policy.models import LegalBasis, RecipientKind, Right, Safeguard

segment = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
               min_size=1, max_size=20).map(str.strip).filter(bool)
durations = st.sampled_from(["P30D", "P1M", "P2Y", "P10Y", "P2W", "P1Y6M"])


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    cats = draw(st.lists(segment.map(lambda s: f"user.{s}"), min_size=1, max_size=4,
                         unique=True))
    subjects = draw(st.lists(segment, min_size=1, max_size=3, unique=True))
    purposes: dict[str, Any] = {}
    for name in draw(st.lists(segment, min_size=1, max_size=4, unique=True)):
        basis = draw(st.sampled_from(list(LegalBasis)))
        p: dict[str, Any] = {
            "name": draw(text), "description": draw(text), "legal_basis": basis.value,
            "categories": draw(st.lists(st.sampled_from(cats), min_size=1, unique=True)),
            "subjects": draw(st.lists(st.sampled_from(subjects), min_size=1, unique=True)),
            "direct_marketing": draw(st.booleans()),
        }
        if basis is LegalBasis.LEGITIMATE_INTEREST:
            p["legitimate_interest"] = draw(text)
        if basis is LegalBasis.LEGAL_OBLIGATION:
            p["legal_obligation"] = draw(text)
        purposes[f"custom.{name}"] = p
    recipients = {
        f"r{i}": {
            "name": draw(text), "kind": draw(st.sampled_from(list(RecipientKind))).value,
            "purposes": draw(st.lists(st.sampled_from(list(purposes)), min_size=1, unique=True)),
            "categories": draw(st.lists(st.sampled_from(cats), min_size=1, unique=True)),
            "countries": draw(st.lists(st.sampled_from(["FR", "DE", "US", "IN", "EEA"]),
                                       min_size=1, unique=True)),
            "safeguard": draw(st.sampled_from([Safeguard.SCC, Safeguard.BCR])).value,
            "requires_consent": draw(st.booleans()),
        }
        for i in range(draw(st.integers(0, 2)))
    }
    retention = [
        {"id": f"rule-{i}", "description": draw(text),
         "categories": draw(st.lists(st.sampled_from(cats), min_size=1, unique=True)),
         "period": draw(durations), "anchor": f"event.{draw(segment)}",
         "action": draw(st.sampled_from(["delete", "anonymise"])),
         "exceptions": [{"id": f"keep-{i}", "description": draw(text),
                         "categories": [draw(st.sampled_from(cats))],
                         "period": draw(durations), "ground": draw(text)}]}
        for i in range(draw(st.integers(0, 2)))
    ]
    return {
        "organisation": {"name": draw(text), "country": "FR",
                         "contact": {"name": draw(text), "email": "privacy@example.com"},
                         "supervisory_authority": {"name": "CNIL", "country": "FR"}},
        "subjects": {s: {"name": draw(text)} for s in subjects},
        "categories": {c: {"name": draw(text)} for c in cats},
        "purposes": purposes,
        "recipients": recipients,
        "retention": retention,
        "rights": {"honoured": draw(st.lists(st.sampled_from([r.value for r in Right]),
                                             min_size=1, unique=True))},
        "minimum_age": draw(st.none() | st.integers(13, 18)),
    }
