"""Receipts: every field the two standards make mandatory is there and well-typed.

Field lists are written out here from the standards themselves (Kantara Initiative
Consent Receipt Specification v1.1.0; ISO/IEC TS 27560:2023, as mapped by the W3C
DPV guide), not taken from the code under test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from keepword.consent.ledger import ConsentLedger, Notice, Proof
from keepword.consent.receipts import iso27560_records, kantara_receipts
from keepword.decide import Subject
from keepword.runtime import Keepword

ADA = Subject.of(email="ada@example.com", age=30)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

KANTARA_TOP = {"version": str, "jurisdiction": str, "consentTimestamp": int,
               "collectionMethod": str, "consentReceiptID": str, "piiPrincipalId": str,
               "piiControllers": list, "policyUrl": str, "services": list, "sensitive": bool,
               "spiCat": list}
KANTARA_CONTROLLER = {"piiController": str, "contact": str, "address": str, "email": str,
                      "phone": str}
KANTARA_SERVICE = {"service": str, "purposes": list}
KANTARA_PURPOSE = {"purpose": str, "purposeCategory": list, "consentType": str,
                   "piiCategory": list, "termination": str, "thirdPartyDisclosure": bool}

ISO_RECORD = {"schema_version", "record_id", "pii_principal_id", "privacy_notice", "language",
              "processing", "parties", "events"}
ISO_PROCESSING = {"purposes", "pii_information", "pii_controllers", "storage_locations",
                  "retention_period", "jurisdiction", "recipient_third_parties",
                  "withdrawal_method"}
ISO_PARTY = {"party_id", "party_address", "party_name", "party_contact", "party_type"}
ISO_EVENT = {"event_time", "validity_duration", "entity_id", "event_type", "event_state"}


def _typed(obj: dict[str, Any], spec: dict[str, type]) -> None:
    for name, kind in spec.items():
        assert name in obj, f"missing {name}"
        assert isinstance(obj[name], kind), f"{name} is {type(obj[name]).__name__}"
        if kind is str and name not in ("address", "phone"):
            assert obj[name], f"{name} is empty"


def _history(ledger: ConsentLedger) -> list[Any]:
    notice = Notice.of_text("2026-01", "Offers by email; withdraw any time.")
    ledger.give(ADA, ["marketing_email", "accessibility"], channel="web", notice=notice,
                proof=Proof(form_id="signup"), at=T0)
    ledger.give(ADA, "recipient:partners", channel="web", at=T0)
    ledger.withdraw(ADA, "accessibility", channel="email")
    return ledger.history(ADA)


def test_kantara_receipts_have_every_required_field(ledger: ConsentLedger,
                                                    kw: Keepword) -> None:
    principal = ADA.refs(kw.hasher)[0]
    receipts = kantara_receipts(ledger.policy, principal, _history(ledger))
    assert len(receipts) == 2  # marketing_email and partners; accessibility was withdrawn
    for receipt in receipts:
        _typed(receipt, KANTARA_TOP)
        assert receipt["version"] == "KI-CR-v1.1.0"
        assert receipt["piiPrincipalId"] == principal
        uuid.UUID(receipt["consentReceiptID"])
        for controller in receipt["piiControllers"]:
            _typed(controller, KANTARA_CONTROLLER)
        for service in receipt["services"]:
            _typed(service, KANTARA_SERVICE)
            for purpose in service["purposes"]:
                _typed(purpose, KANTARA_PURPOSE)
                if purpose["thirdPartyDisclosure"]:
                    assert purpose["thirdPartyName"]
    partners = next(r for r in receipts
                    if r["services"][0]["purposes"][0]["purposeCategory"] == ["sales"])
    assert partners["services"][0]["purposes"][0]["thirdPartyName"] == "Technical partners"
    assert receipts[0]["consentTimestamp"] == int(T0.timestamp())


def test_kantara_flags_sensitive_categories(ledger: ConsentLedger, kw: Keepword) -> None:
    ledger.give(ADA, "accessibility", channel="web")
    (receipt,) = kantara_receipts(ledger.policy, "hmac:x", ledger.history(ADA))
    assert receipt["sensitive"] is True
    assert receipt["spiCat"] == ["user.health_and_medical"]
    assert receipt["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"


def test_iso27560_records_have_every_mandatory_field(ledger: ConsentLedger,
                                                     kw: Keepword) -> None:
    principal = ADA.refs(kw.hasher)[0]
    records = iso27560_records(ledger.policy, principal, _history(ledger))
    assert {r["processing"][0]["purposes"][0]["purpose_type"] for r in records} == {
        "marketing.communications.email", "essential.service.operations.support", "sales"}
    for record in records:
        assert set(record) >= ISO_RECORD
        assert record["schema_version"].startswith("ISO/IEC TS 27560")
        assert record["pii_principal_id"] == principal
        uuid.UUID(record["record_id"])
        for processing in record["processing"]:
            assert set(processing) >= ISO_PROCESSING
            assert all(p["purpose"] for p in processing["purposes"])
            assert all(i["pii_type"] for i in processing["pii_information"])
            assert processing["withdrawal_method"]
        for party in record["parties"]:
            assert set(party) >= ISO_PARTY
            assert all(party[f] for f in ISO_PARTY)
        for ev in record["events"]:
            assert set(ev) >= ISO_EVENT
            assert all(ev[f] for f in ISO_EVENT)
    access = next(r for r in records if r["processing"][0]["purposes"][0]["purpose_type"]
                  == "essential.service.operations.support")
    assert [e["event_state"] for e in access["events"]] == ["consent given",
                                                            "consent withdrawn"]
    assert access["privacy_notice"]["notice_id"] == ledger.policy_version  # last event's
    marketing = next(r for r in records if r["processing"][0]["purposes"][0]["purpose_type"]
                     == "marketing.communications.email")
    assert marketing["privacy_notice"]["notice_id"] == "2026-01"
    assert marketing["privacy_notice"]["notice_hash"].startswith("sha256:")


def test_no_receipt_for_nothing(ledger: ConsentLedger) -> None:
    assert kantara_receipts(ledger.policy, "hmac:x", []) == []
    assert iso27560_records(ledger.policy, "hmac:x", []) == []
