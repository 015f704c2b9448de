"""A subject's consents as receipts: Kantara Consent Receipt v1.1 and ISO/IEC TS 27560.

* ``kantara_receipts``: one Kantara CR v1.1 JSON receipt per consent in force
  (the last event of the purpose or recipient approval is a grant).
* ``iso27560_records``: one ISO/IEC TS 27560:2023 consent record per purpose or
  recipient approval ever mentioned, with every event (given, withdrawn) in order.

The subject appears as its keyed identity reference (``piiPrincipalId`` /
``pii_principal_id``): keepword never holds the raw identity in the ledger.
Field names follow each standard; docs/decide.md shows the mapping.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from keepword.consent.ledger import RECIPIENT_PREFIX, ConsentRecord, derive
from keepword.policy.models import Art9Condition, Policy, Purpose

KANTARA_VERSION = "KI-CR-v1.1.0"
ISO_27560_SCHEMA = "ISO/IEC TS 27560:2023"
_NS = uuid.UUID("6f1c1d1e-6b1a-4c55-9a5e-6b6565707764")  # keepword receipts namespace


def _purposes_of(policy: Policy, key: str) -> list[tuple[str, Purpose]]:
    """The purposes a consent key covers: itself, or a recipient's declared purposes."""
    if key.startswith(RECIPIENT_PREFIX):
        rec = policy.recipients[key.removeprefix(RECIPIENT_PREFIX)]
        return [(p, policy.purposes[p]) for p in rec.purposes if p in policy.purposes]
    return [(key, policy.purposes[key])]


def _specials(policy: Policy, purpose: Purpose) -> list[str]:
    return [k for k in purpose.categories
            if (cat := policy.categories.get(k)) is not None and cat.special]


def _recipients(policy: Policy, key: str, purpose_key: str) -> list[str]:
    if key.startswith(RECIPIENT_PREFIX):
        return [key.removeprefix(RECIPIENT_PREFIX)]
    return [r for r, rec in policy.recipients.items() if purpose_key in rec.purposes]


def _withdrawal(policy: Policy, channel: str) -> str:
    where = ", ".join(policy.rights.channels) or "the privacy contact"
    return (f"withdraw at any time, as easily as given: through the same channel "
            f"({channel}) or {where}")


def _controller(policy: Policy) -> dict[str, Any]:
    org = policy.organisation
    return {
        "piiController": org.legal_name or org.name,
        "onBehalf": False,
        "contact": org.contact.name,
        "address": org.address or org.contact.address or "",
        "email": org.contact.email or "",
        "phone": org.contact.phone or "",
        "piiControllerUrl": org.website or "",
    }


def kantara_receipts(policy: Policy, principal: str, history: Sequence[ConsentRecord], *,
                     language: str = "en") -> list[dict[str, Any]]:
    """Kantara Consent Receipt v1.1 for every consent currently given."""
    out = []
    for key, rec in sorted(derive(history).items()):
        if rec.given and _known(policy, key):
            out.append(_kantara_one(policy, principal, key, rec, language))
    return out


def _known(policy: Policy, key: str) -> bool:
    if key.startswith(RECIPIENT_PREFIX):
        return key.removeprefix(RECIPIENT_PREFIX) in policy.recipients
    return key in policy.purposes


def _kantara_one(policy: Policy, principal: str, key: str, rec: ConsentRecord,
                 language: str) -> dict[str, Any]:
    purposes, specials = [], []
    for pkey, purpose in _purposes_of(policy, key):
        spec = _specials(policy, purpose)
        specials += spec
        explicit = any(policy.categories[s].condition is Art9Condition.EXPLICIT_CONSENT
                       for s in spec)
        names = [policy.recipients[r].name for r in _recipients(policy, key, pkey)]
        entry: dict[str, Any] = {
            "purpose": purpose.description,
            "purposeCategory": [policy.data_use(pkey)],
            "consentType": "EXPLICIT" if explicit else "EXPRESSED",
            "piiCategory": list(purpose.categories),
            "primaryPurpose": False,
            "termination": _withdrawal(policy, rec.channel),
            "thirdPartyDisclosure": bool(names),
        }
        if names:
            entry["thirdPartyName"] = ", ".join(names)
        purposes.append(entry)
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": policy.organisation.country,
        "consentTimestamp": int(rec.at.timestamp()),
        "collectionMethod": rec.channel,
        "consentReceiptID": str(uuid.uuid5(_NS, f"kantara:{principal}:{rec.id}")),
        "language": language,
        "piiPrincipalId": principal,
        "piiControllers": [_controller(policy)],
        "policyUrl": policy.organisation.website or "",
        "services": [{"service": policy.organisation.name, "purposes": purposes}],
        "sensitive": bool(specials),
        "spiCat": sorted(set(specials)),
    }


def iso27560_records(policy: Policy, principal: str, history: Sequence[ConsentRecord], *,
                     language: str = "en") -> list[dict[str, Any]]:
    """ISO/IEC TS 27560 consent records, one per consent key, with all its events."""
    by_key: dict[str, list[ConsentRecord]] = {}
    for rec in history:
        by_key.setdefault(rec.purpose, []).append(rec)
    return [_iso_one(policy, principal, key, events, language)
            for key, events in sorted(by_key.items()) if _known(policy, key)]


def _iso_one(policy: Policy, principal: str, key: str, events: list[ConsentRecord],
             language: str) -> dict[str, Any]:
    last = events[-1]
    org = policy.organisation
    processing = []
    for pkey, purpose in _purposes_of(policy, key):
        processing.append({
            "purposes": [{"purpose": purpose.description, "purpose_type": policy.data_use(pkey),
                          "lawful_basis": purpose.legal_basis.value}],
            "pii_information": [_pii(policy, c) for c in purpose.categories],
            "pii_controllers": ["controller"],
            "collection_method": last.channel,
            "processing_method": _methods(purpose),
            "storage_locations": [org.country],
            "retention_period": _retention(policy, pkey, purpose),
            "jurisdiction": [org.country, *(r.value.upper() for r in policy.regulations)],
            "recipient_third_parties": _recipients(policy, key, pkey),
            "withdrawal_method": _withdrawal(policy, last.channel),
            "privacy_rights": [r.value for r in policy.rights.honoured],
            "authority_party": org.supervisory_authority.name,
        })
    return {
        "schema_version": ISO_27560_SCHEMA,
        "record_id": str(uuid.uuid5(_NS, f"iso27560:{principal}:{key}")),
        "pii_principal_id": principal,
        "privacy_notice": {"notice_id": last.notice_version, "notice_hash": last.notice_hash},
        "language": language,
        "processing": processing,
        "parties": _parties(policy, key),
        "events": [_event(principal, e) for e in events],
    }


def _pii(policy: Policy, key: str) -> dict[str, Any]:
    cat = policy.categories.get(key)
    return {"pii_type": key, "pii_attribute_id": key,
            "special_pii_category": bool(cat and cat.special),
            "sensitive_pii_category": bool(cat and cat.special)}


def _methods(purpose: Purpose) -> list[str]:
    flags = ("profiling", "automated_decisions", "direct_marketing", "advertising", "sale",
             "share")
    return ["collect", "use", *(f for f in flags if getattr(purpose, f))]


def _retention(policy: Policy, key: str, purpose: Purpose) -> list[dict[str, str]]:
    rules = [r for r in policy.retention
             if key in r.purposes or set(r.categories) & set(purpose.categories)]
    if not rules:
        return [{"period": "until consent is withdrawn or the purpose is fulfilled"}]
    return [{"rule": r.id, "period": r.period.iso(), "anchor": r.anchor} for r in rules]


def _parties(policy: Policy, key: str) -> list[dict[str, Any]]:
    org = policy.organisation
    parties: list[dict[str, Any]] = [{
        "party_id": "controller", "party_name": org.legal_name or org.name,
        "party_address": org.address or org.contact.address or org.country,
        "party_contact": org.contact.email or org.contact.name,
        "party_type": "controller", "party_role": "controller",
        "party_email": org.contact.email, "party_url": org.website,
        "party_phone": org.contact.phone,
    }]
    wanted = {r for pkey, _ in _purposes_of(policy, key) for r in _recipients(policy, key, pkey)}
    for name, rec in policy.recipients.items():
        if name in wanted:
            parties.append({"party_id": name, "party_name": rec.name,
                            "party_address": ", ".join(rec.countries),
                            "party_contact": rec.description or rec.name,
                            "party_type": "recipient", "party_role": rec.kind.value})
    return parties


def _event(principal: str, rec: ConsentRecord) -> dict[str, Any]:
    return {
        "event_time": rec.at.isoformat(),
        "validity_duration": "until withdrawn",
        "entity_id": principal,
        "event_type": "expressed consent",
        "event_state": "consent given" if rec.given else "consent withdrawn",
        "collection_method": rec.channel,
        "notice_id": rec.notice_version,
        "proof": {"form_id": rec.form_id, "ip_hash": rec.ip_hash},
    }
