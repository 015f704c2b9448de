"""What a decision says: allow or deny, and the policy clauses that decided it.

Every reason names the clause of ``policy.yaml`` it comes from
(``purposes.newsletter.legal_basis``, ``prohibited_uses[0]``,
``recipients.partners.requires_consent``...) and a message that holds policy
keys only, never personal data. The message builders below are shared by the
compiled index and by the reference evaluator, so both speak the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepword.errors import KeepwordError


@dataclass(frozen=True, slots=True)
class Reason:
    clause: str  # where in the policy, e.g. "purposes.newsletter.legal_basis"
    message: str

    def __str__(self) -> str:
        return f"{self.clause}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"clause": self.clause, "message": self.message}


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or not, with reasons. Immutable: decisions are shared from a cache."""

    allowed: bool
    reasons: tuple[Reason, ...]

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def denied(self) -> bool:
        return not self.allowed

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "decision": "ALLOW" if self.allowed else "DENY",
                "reasons": [r.as_dict() for r in self.reasons]}

    def __str__(self) -> str:
        head = "ALLOW" if self.allowed else "DENY"
        return "\n".join([head, *(f"  {r}" for r in self.reasons)])


class Denied(KeepwordError):
    """Raised by guards and ``check``: the use is not allowed. Carries the reasons."""

    exit_code = 1

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.reasons = decision.reasons
        super().__init__("denied: " + "; ".join(str(r) for r in decision.reasons))


# --- deny reasons -----------------------------------------------------------------

def prohibited(index: int, banned: str, use: str) -> Reason:
    return Reason(f"prohibited_uses[{index}]",
                  f"the policy prohibits {banned!r}; {use!r} falls under it")


def promised_prohibited(p: int, m: int, banned: str, use: str) -> Reason:
    return Reason(f"promises[{p}].enforced_by[{m}]",
                  f"a promise forbids {banned!r}; {use!r} falls under it")


def no_sale(p: int, m: int, purpose: str) -> Reason:
    return Reason(f"promises[{p}].enforced_by[{m}]",
                  f"purpose {purpose!r} sells or shares personal data, which a promise forbids")


def wrong_subject(purpose: str, kind: str) -> Reason:
    return Reason(f"purposes.{purpose}.subjects",
                  f"purpose {purpose!r} does not cover subjects of kind {kind!r}")


def category_not_allowed(purpose: str, category: str) -> Reason:
    return Reason(f"purposes.{purpose}.categories",
                  f"category {category!r} is not declared for purpose {purpose!r}")


def special_needs_consent(category: str, purpose: str) -> Reason:
    return Reason(f"categories.{category}.condition",
                  f"special category {category!r} needs the subject's explicit consent "
                  f"to {purpose!r} (GDPR Art. 9(2)(a))")


def consent_missing(purpose: str) -> Reason:
    return Reason(f"purposes.{purpose}.legal_basis",
                  f"purpose {purpose!r} rests on consent and none is recorded")


def consent_withdrawn(purpose: str) -> Reason:
    return Reason(f"purposes.{purpose}.legal_basis",
                  f"consent to {purpose!r} was withdrawn (GDPR Art. 7(3))")


def objected(purpose: str) -> Reason:
    return Reason(f"purposes.{purpose}.legal_basis",
                  f"the subject objected to {purpose!r} (GDPR Art. 21(1))")


def marketing_objection(purpose: str) -> Reason:
    return Reason(f"purposes.{purpose}.direct_marketing",
                  "the subject objected to direct marketing; the objection is absolute "
                  "(GDPR Art. 21(3))")


def opted_out(purpose: str, flag: str) -> Reason:
    return Reason(f"purposes.{purpose}.{flag}",
                  f"the subject opted out of {purpose!r} (opt-out of sale, sharing or "
                  f"targeted advertising, e.g. Global Privacy Control)")


def restricted() -> Reason:
    return Reason("rights.restriction",
                  "processing of this subject is restricted (GDPR Art. 18); only storage "
                  "is allowed")


def under_age(minimum: int) -> Reason:
    return Reason("minimum_age", f"the subject is under the minimum age of {minimum}")


def age_unknown(minimum: int) -> Reason:
    return Reason("minimum_age",
                  f"age unknown: processing that rests on consent needs the subject's age "
                  f"(minimum {minimum})")


def recipient_purpose(recipient: str, purpose: str) -> Reason:
    return Reason(f"recipients.{recipient}.purposes",
                  f"recipient {recipient!r} is not declared for purpose {purpose!r}")


def recipient_category(recipient: str, category: str) -> Reason:
    return Reason(f"recipients.{recipient}.categories",
                  f"recipient {recipient!r} is not declared to receive {category!r}")


def transfer_unsafe(recipient: str, country: str) -> Reason:
    return Reason(f"recipients.{recipient}.safeguard",
                  f"transfer to {country} has no adequacy decision and no safeguard "
                  f"(GDPR Chapter V)")


def recipient_consent_missing(clause: str, recipient: str) -> Reason:
    return Reason(clause, f"disclosure to {recipient!r} needs the subject's approval and "
                          "none is recorded")


def recipient_consent_withdrawn(clause: str, recipient: str) -> Reason:
    return Reason(clause, f"the subject withdrew approval of disclosure to {recipient!r}")


def integration_uninstalled(recipient: str) -> Reason:
    return Reason(f"recipients.{recipient}.kind",
                  f"integration {recipient!r} was uninstalled: no further disclosure")


def integration_not_installed(recipient: str) -> Reason:
    return Reason(f"recipients.{recipient}.kind",
                  f"integration {recipient!r} is not installed for this subject or "
                  "organisation")


def tenant_unknown() -> Reason:
    return Reason("tenant_isolation",
                  "tenant-isolated data: the owning tenant is unknown")


def actor_unknown() -> Reason:
    return Reason("tenant_isolation",
                  "tenant-isolated data: the actor is unknown")


def actor_excluded(index: int, kind: str) -> Reason:
    return Reason(f"tenant_isolation.never_visible_to[{index}]",
                  f"tenant-isolated data is never visible to {kind.replace('_', ' ')}s")


def recipient_excluded(index: int, kind: str) -> Reason:
    return Reason(f"tenant_isolation.never_visible_to[{index}]",
                  f"tenant-isolated data is never disclosed to a {kind.replace('_', ' ')}")


def other_tenant() -> Reason:
    return Reason("tenant_isolation",
                  "tenant-isolated data is visible to users of the owning tenant only")


# --- allow reasons ----------------------------------------------------------------

def basis_ok(purpose: str, basis: str, detail: str | None) -> Reason:
    text = {
        "consent": f"consent to {purpose!r} is given",
        "contract": "necessary for the contract with the subject (GDPR Art. 6(1)(b))",
        "legal_obligation": f"required by law: {detail}",
        "vital_interest": "necessary to protect vital interests (GDPR Art. 6(1)(d))",
        "public_task": "necessary for a task in the public interest, no objection recorded",
        "legitimate_interest": f"legitimate interest ({detail}); no objection recorded",
    }[basis]
    return Reason(f"purposes.{purpose}.legal_basis", text)


def special_ok(category: str, condition: str) -> Reason:
    return Reason(f"categories.{category}.condition",
                  f"special category processed under GDPR Art. 9(2): {condition}")


def recipient_ok(recipient: str, purpose: str) -> Reason:
    return Reason(f"recipients.{recipient}.purposes",
                  f"recipient {recipient!r} is declared for {purpose!r}")


def recipient_consent_ok(clause: str, recipient: str) -> Reason:
    return Reason(clause, f"the subject approved disclosure to {recipient!r}")


def tenant_ok() -> Reason:
    return Reason("tenant_isolation", "the actor is a user of the owning tenant")
