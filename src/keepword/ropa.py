"""The GDPR Art. 30(1) record of processing activities, generated from the policy.

One record per purpose, with a column for each item of Art. 30(1)(a)-(g).
The policy holds no security measures of its own, so (g) describes the
technical measures keepword itself applies to the processing it runs.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from keepword import taxonomy
from keepword.notice import CONDITION, SAFEGUARD, retention_phrase
from keepword.policy.models import EEA, Contact, LegalBasis, Policy, Purpose

COLUMNS: list[tuple[str, str]] = [
    ("purpose", "Purpose key"),
    ("controller", "Art. 30(1)(a) Controller"),
    ("dpo", "Art. 30(1)(a) Data protection officer"),
    ("representative", "Art. 30(1)(a) Representative in the EU"),
    ("purpose_description", "Art. 30(1)(b) Purpose of the processing"),
    ("legal_basis", "Legal basis (Art. 6)"),
    ("data_subjects", "Art. 30(1)(c) Categories of data subjects"),
    ("personal_data", "Art. 30(1)(c) Categories of personal data"),
    ("recipients", "Art. 30(1)(d) Categories of recipients"),
    ("third_countries", "Art. 30(1)(d) Recipients in third countries"),
    ("transfers", "Art. 30(1)(e) Transfers to third countries and safeguards"),
    ("erasure_time_limits", "Art. 30(1)(f) Time limits for erasure"),
    ("security_measures", "Art. 30(1)(g) Technical and organisational security measures"),
]

SECURITY_MEASURES = [
    "data map of every store holding personal data, checked against the live databases "
    "(keepword check)",
    "database credentials only in environment variables or secret files, never in "
    "configuration",
    "tamper-evident, hash-chained audit log of every state change, identifying people only "
    "by keyed hashes",
]

BASIS = {
    LegalBasis.CONSENT: "Art. 6(1)(a) consent",
    LegalBasis.CONTRACT: "Art. 6(1)(b) contract",
    LegalBasis.LEGAL_OBLIGATION: "Art. 6(1)(c) legal obligation",
    LegalBasis.VITAL_INTEREST: "Art. 6(1)(d) vital interests",
    LegalBasis.PUBLIC_TASK: "Art. 6(1)(e) public task",
    LegalBasis.LEGITIMATE_INTEREST: "Art. 6(1)(f) legitimate interests",
}


@dataclass(frozen=True)
class RopaRecord:
    """One Art. 30 record: each value is a string or a list of short statements."""

    values: dict[str, str | list[str]]

    def flat(self, sep: str = "; ") -> dict[str, str]:
        return {key: v if isinstance(v, str) else sep.join(v) for key, v in self.values.items()}


def _contact(c: Contact | None) -> list[str]:
    if c is None:
        return []
    return [", ".join(x for x in (c.name, c.email, c.phone, c.address, c.url) if x)]


def _categories(policy: Policy, purpose: Purpose) -> list[str]:
    out = []
    for key in purpose.categories:
        cat = policy.categories.get(key)
        if cat is None:
            out.append(key)
        elif cat.special and cat.condition is not None:
            out.append(f"{cat.name} ({key}; special category, {CONDITION[cat.condition]})")
        else:
            out.append(f"{cat.name} ({key})")
    return out


def _recipients(policy: Policy, purpose_key: str) -> tuple[list[str], list[str], list[str]]:
    """(recipients, those in third countries, transfers with their safeguards)."""
    everyone, abroad, transfers = [], [], []
    for rec in policy.recipients.values():
        if purpose_key not in rec.purposes:
            continue
        consent = ", only with consent" if rec.requires_consent else ""
        everyone.append(f"{rec.name} ({rec.kind.value.replace('_', ' ')}{consent})")
        outside = [c for c in rec.countries if c not in EEA and c != "EEA"]
        if outside:
            abroad.append(f"{rec.name}: {', '.join(outside)}")
            detail = f" ({rec.safeguard_detail})" if rec.safeguard_detail else ""
            transfers.append(f"{rec.name} to {', '.join(outside)}: "
                             f"{SAFEGUARD[rec.safeguard] or 'no safeguard'}{detail}")
    return everyone, abroad, transfers


def _time_limits(policy: Policy, purpose_key: str, purpose: Purpose) -> list[str]:
    out = []
    for rule in policy.retention:
        applies = purpose_key in rule.purposes or any(
            taxonomy.covers(r, c) or taxonomy.covers(c, r)
            for r in rule.categories for c in purpose.categories)
        if not applies:
            continue
        out.append(f"{rule.id}: {retention_phrase(rule)}")
        for exc in rule.exceptions:
            period = exc.period.human() if exc.period else "as long as the ground lasts"
            out.append(f"{rule.id}/{exc.id}: {exc.description} kept {period} ({exc.ground})")
    return out or ["no fixed period: kept until the purpose is met"]


def ropa_records(policy: Policy) -> list[RopaRecord]:
    org = policy.organisation
    controller = [", ".join(x for x in (org.legal_name or org.name, org.address, org.country)
                            if x), *_contact(org.contact)]
    records = []
    for key, purpose in policy.purposes.items():
        everyone, abroad, transfers = _recipients(policy, key)
        basis = [BASIS[purpose.legal_basis]]
        basis += [x for x in (purpose.legitimate_interest, purpose.legal_obligation) if x]
        values: dict[str, str | list[str]]
        values = {
            "purpose": key,
            "controller": controller,
            "dpo": _contact(org.dpo),
            "representative": _contact(org.eu_representative),
            "purpose_description": f"{purpose.name}: {purpose.description}",
            "legal_basis": basis,
            "data_subjects": [policy.subjects[s].name if s in policy.subjects else s
                              for s in purpose.subjects],
            "personal_data": _categories(policy, purpose),
            "recipients": everyone,
            "third_countries": abroad,
            "transfers": transfers or ["none"],
            "erasure_time_limits": _time_limits(policy, key, purpose),
            "security_measures": SECURITY_MEASURES,
        }
        records.append(RopaRecord(values))
    return records


def ropa_csv(policy: Policy) -> str:
    """One row per purpose, one column per Art. 30(1) item; lists joined with '; '."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([header for _, header in COLUMNS])
    for rec in ropa_records(policy):
        flat = rec.flat()
        writer.writerow([flat[key] for key, _ in COLUMNS])
    return buf.getvalue()


def ropa_json(policy: Policy, version: str | None = None) -> str:
    data = {
        "controller": policy.organisation.legal_name or policy.organisation.name,
        "policy_version": version,
        "columns": dict(COLUMNS),
        "records": [rec.values for rec in ropa_records(policy)],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
