"""What ``keepword demo`` acts out on each example company, beyond the check.

A story is a list of scenes: one call of the library as an application or a
data subject would make it, and what keepword answered. Identities come from
the generated databases' planted people; nothing here is hard-coded about the
answer — each scene records the decision keepword actually took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keepword.decide.decider import Decider
from keepword.decide.reasons import Decision
from keepword.decide.subject import Subject
from keepword.deployment import Deployment
from keepword.requests.service import RequestResult, run_request
from keepword.runtime import Keepword


@dataclass(frozen=True)
class Scene:
    label: str
    decision: Decision | None = None  # None: an action (consent given, withdrawn)
    expect_allowed: bool | None = None  # what the seed policy promises

    @property
    def kept(self) -> bool:
        """Whether keepword's answer is the one the policy promises."""
        return self.decision is None or self.decision.allowed == self.expect_allowed

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "kept": self.kept,
                "decision": None if self.decision is None else self.decision.as_dict()}


def _consent_cycle(decider: Decider, who: Subject, purpose: str, categories: list[str],
                   name: str) -> list[Scene]:
    """Before consent: denied; given: allowed; withdrawn: denied again."""
    scenes = [Scene(f"{name}: use before any consent",
                    decider.decide(who, purpose, categories), False)]
    decider.ledger.give(who, purpose, channel="privacy-center")
    scenes.append(Scene(f"{name}: consent given in the privacy center"))
    scenes.append(Scene(f"{name}: use with consent", decider.decide(who, purpose, categories),
                        True))
    decider.ledger.withdraw(who, purpose, channel="privacy-center")
    scenes.append(Scene(f"{name}: consent withdrawn, same channel"))
    scenes.append(Scene(f"{name}: use after withdrawal", decider.decide(who, purpose, categories),
                        False))
    return scenes


def ikcon_consent(decider: Decider, people: dict[str, dict[str, str]]) -> list[Scene]:
    ada = Subject.of(email=people["customer"]["email"], age=36, kind="customer")
    scenes = _consent_cycle(decider, ada, "marketing_communications", ["user.contact.email"],
                            "marketing email")
    scenes.append(Scene(
        "§5.3.2 share with a partner without the customer's approval",
        decider.decide(ada, "partner_services", ["user.name", "user.contact.email"],
                       recipient="partners"), False))
    minor = Subject.of(email=people["minor"]["email"], age=int(people["minor"]["age"]),
                       kind="customer")
    decider.ledger.give(minor, "marketing_communications", channel="privacy-center")
    scenes.append(Scene(
        "§12 marketing to a 15-year-old, even with a consent click",
        decider.decide(minor, "marketing_communications", ["user.contact.email"]), False))
    return scenes


def iko_consent(decider: Decider, people: dict[str, dict[str, str]]) -> list[Scene]:
    user = people["user"]
    tenant = user["tenant_id"]
    who = Subject.of(email=user["email"], kind="customer", tenant=tenant)
    scenes = _consent_cycle(decider, who, "social_direct_messages",
                            ["user.social", "user.name"], "social direct message")
    scenes.append(Scene(
        "no ad profiling, ever (prohibited use)",
        decider.decide(who, "marketing.advertising.profiling", ["user.name"]), False))
    prospect = Subject.of(email=people["prospect"]["email"], kind="prospect", tenant=tenant)
    crm = ["user.content.private.crm"]
    scenes.append(Scene(
        "a user of the owning tenant sees the prospect's CRM match",
        decider.decide(prospect, "crm_contact_matching", crm, actor=f"user:{tenant}"), True))
    scenes.append(Scene(
        "a user of another tenant asks for the same CRM match",
        decider.decide(prospect, "crm_contact_matching", crm, actor="user:another-tenant"),
        False))
    scenes.append(Scene(
        "an IKO system administrator asks for it",
        decider.decide(prospect, "crm_contact_matching", crm, actor="system_administrator"),
        False))
    return scenes


STORIES: dict[str, Callable[[Decider, dict[str, dict[str, str]]], list[Scene]]] = {
    "ikcon": ikcon_consent,
    "iko": iko_consent,
}


# --- data subject requests ------------------------------------------------------------

# (who, kind, the status the policy promises, what the scene shows)
REQUESTS: dict[str, list[tuple[str, str, str, str]]] = {
    "ikcon": [
        ("customer", "access", "completed", "§10.1 a copy of a customer's data"),
        ("customer", "erasure", "completed", "§6.1 the customer's data deleted, with proof"),
        ("managed_user", "erasure", "awaiting_administrator",
         "§10.1 a managed user's erasure goes to the group administrator first"),
    ],
    "iko": [
        ("prospect", "access", "completed",
         "a prospect who never signed up sees their profile"),
        ("prospect", "erasure", "completed",
         "the prospect's profile completely deleted, with proof"),
    ],
}


def _request_summary(result: RequestResult) -> str:
    if result.kind == "access":
        rows = sum(result.found.values())
        name = Path(result.export).name if result.export else "no export"
        return f"{rows} rows in {len(result.found)} collections -> {name}"
    outcome, proof = result.outcome or {}, result.proof or {}
    if not outcome:
        return result.reason or result.status
    deleted = sum(outcome.get("deleted", {}).values())
    updated = sum(outcome.get("updated", {}).values())
    kept = sorted({k["exception"] for k in outcome.get("kept", [])})
    text = f"{deleted} rows deleted, {updated} updated"
    if kept:
        text += f"; kept under {', '.join(kept)}"
    residual = len(proof.get("residual", []))
    return text + (f"; proof: {'nothing left' if proof.get('ok') else f'{residual} residual'}")


def requests_story(kw: Keepword, dep: Deployment, key: str,
                   people: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Run each request end to end on the generated stores; record what happened."""
    scenes = []
    for who, kind, promised, label in REQUESTS.get(key, []):
        result = run_request(kw, dep, kind, {"email": people[who]["email"]})
        proof_ok = result.proof is None or bool(result.proof.get("ok"))
        scenes.append({"label": label, "kind": kind, "status": result.status,
                       "kept": result.status == promised and proof_ok,
                       "summary": _request_summary(result), "export": result.export,
                       "proof": result.proof, "request": result.id})
    return scenes
