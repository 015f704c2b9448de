"""The mechanisms a policy promise can be linked to, and whether each is live.

A promise in ``policy.yaml`` names the mechanism that keeps it
(``enforced_by: [{mechanism: decide.prohibited_use, target: marketing.advertising}]``).
This registry is the single place that says which mechanisms keepword really
runs today, so reports can say honestly which promises are enforced and which
are only written down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TargetKind = Literal[
    "none", "right", "retention_rule", "data_use", "recipient", "category", "collection",
    "purpose", "any",
]


@dataclass(frozen=True)
class Mechanism:
    name: str
    description: str
    target: TargetKind
    live: bool  # implemented and exercised by the test suite in this version
    live_targets: frozenset[str] | None = None  # when only some targets are live

    def is_live(self, target: str | None) -> bool:
        if not self.live:
            return False
        return self.live_targets is None or target in self.live_targets


MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in [
        Mechanism("notice", "the rendered privacy notice tells each purpose, basis and recipient",
                  "none", True),
        Mechanism("ropa", "the Art. 30 record of processing is generated from the policy",
                  "none", True),
        Mechanism("audit.log", "every state change and disclosure is in the hash-chained log",
                  "none", True),
        Mechanism("datamap.forbidden_category",
                  "keepword check fails if any store holds this category", "category", True),
        Mechanism("datamap.minimised_collection",
                  "keepword check fails if the collection holds unannotated or extra fields",
                  "collection", True),
        Mechanism("datamap.identity_reachable",
                  "keepword check fails if personal data cannot be found from an identity",
                  "none", True),
        Mechanism("transfer.safeguard",
                  "policy lint fails if a recipient outside the EEA has no safeguard",
                  "recipient", True),
        Mechanism("right", "the data subject right is fulfilled by keepword requests "
                  "(withdrawal and opt-out by the consent ledger)", "right", True,
                  frozenset({"access", "portability", "rectification", "erasure",
                             "restriction", "objection", "withdraw_consent",
                             "opt_out_of_sale"})),
        Mechanism("requests.redact_others", "access exports redact other people's data",
                  "none", True),
        Mechanism("requests.admin_routing",
                  "requests on administered data go to the organisation administrator first",
                  "none", True),
        Mechanism("requests.erasure_exception",
                  "erasure keeps what a retention exception requires, restricted", "any", True),
        Mechanism("retention", "the retention rule deletes or anonymises on schedule",
                  "retention_rule", False),
        Mechanism("consent.ledger", "consent is recorded, withdrawable and enforced",
                  "purpose", True),
        Mechanism("decide.prohibited_use", "the decision point denies this data use",
                  "data_use", True),
        Mechanism("decide.no_sale", "the decision point denies every sale or share", "none",
                  True),
        Mechanism("decide.recipient_consent",
                  "disclosure to this recipient needs the subject's consent", "recipient", True),
        Mechanism("decide.declared_scope",
                  "a purpose gets only its declared categories and subjects, a recipient only "
                  "its declared purposes and categories", "any", True),
        Mechanism("decide.minimum_age", "subjects under the minimum age are denied", "none",
                  True),
        Mechanism("decide.tenant_isolation",
                  "tenant-isolated categories are visible to the owning tenant only", "none",
                  True),
        Mechanism("decide.restriction", "restricted or objecting subjects are denied", "none",
                  True),
        Mechanism("decide.special_category",
                  "special categories are used only with their GDPR Art. 9 condition", "none",
                  True),
        Mechanism("integration.uninstall", "uninstalling an integration stops disclosures",
                  "recipient", True),
        Mechanism("suppression", "erased people cannot come back through imports", "none",
                  False),
        Mechanism("intake.allow_list", "imports keep only the allowed fields", "collection",
                  False),
        Mechanism("pages.not_indexed", "profile pages are never public nor indexed", "none",
                  False),
    ]
}


def is_live(name: str, target: str | None = None) -> bool:
    """Whether keepword runs mechanism ``name`` for ``target`` in this version."""
    mech = MECHANISMS.get(name)
    return mech is not None and mech.is_live(target)
