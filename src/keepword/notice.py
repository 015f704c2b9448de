"""The policy as a privacy notice a person can read (Markdown or HTML).

GDPR Art. 13 and 14 list what a notice must say: who the controller and DPO
are, what is collected and from where, why and on which legal basis (and the
legitimate interest when that is the basis), who receives it and how transfers
abroad are protected, how long it is kept, the person's rights and the right to
complain. Everything here comes from ``policy.yaml``, so the notice can never
drift from what keepword enforces. Plain-language wording lives in this module;
layout lives in the Jinja2 templates ``templates/notice.*``.
"""

from __future__ import annotations

from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from keepword.policy.models import (
    Art9Condition,
    LegalBasis,
    Policy,
    RecipientKind,
    Regulation,
    RetentionAction,
    RetentionRule,
    Right,
    Safeguard,
    Source,
)

NoticeFormat = Literal["md", "html"]

BASIS = {
    LegalBasis.CONSENT: "your consent (GDPR Art. 6(1)(a)); you can withdraw it at any time",
    LegalBasis.CONTRACT: "the contract with you, or steps you asked for before one "
                         "(GDPR Art. 6(1)(b))",
    LegalBasis.LEGAL_OBLIGATION: "a legal obligation we are under (GDPR Art. 6(1)(c))",
    LegalBasis.VITAL_INTEREST: "protecting someone's vital interests (GDPR Art. 6(1)(d))",
    LegalBasis.PUBLIC_TASK: "a task in the public interest (GDPR Art. 6(1)(e))",
    LegalBasis.LEGITIMATE_INTEREST: "our legitimate interests (GDPR Art. 6(1)(f)); you can "
                                    "object at any time",
}

CONDITION = {
    Art9Condition.EXPLICIT_CONSENT: "your explicit consent (Art. 9(2)(a))",
    Art9Condition.EMPLOYMENT: "employment and social security law (Art. 9(2)(b))",
    Art9Condition.VITAL_INTERESTS: "vital interests (Art. 9(2)(c))",
    Art9Condition.NOT_FOR_PROFIT: "the activities of a not-for-profit body (Art. 9(2)(d))",
    Art9Condition.MADE_PUBLIC: "data you have manifestly made public (Art. 9(2)(e))",
    Art9Condition.LEGAL_CLAIMS: "legal claims (Art. 9(2)(f))",
    Art9Condition.PUBLIC_INTEREST: "substantial public interest (Art. 9(2)(g))",
    Art9Condition.HEALTH_CARE: "health or social care (Art. 9(2)(h))",
    Art9Condition.PUBLIC_HEALTH: "public health (Art. 9(2)(i))",
    Art9Condition.ARCHIVING: "archiving, research or statistics (Art. 9(2)(j))",
}

SOURCE = {
    Source.SUBJECT: "you give it to us",
    Source.AUTOMATIC: "collected automatically when you use our services",
    Source.THIRD_PARTY: "obtained from third parties",
    Source.INTEGRATION: "from an integration you chose to connect",
    Source.OTHER_USERS: "entered by other users",
}

RECIPIENT_KIND = {
    RecipientKind.PROCESSOR: "service provider acting on our instructions",
    RecipientKind.PARTNER: "partner",
    RecipientKind.AFFILIATE: "company of our group",
    RecipientKind.OTHER_USERS: "other users of the service",
    RecipientKind.ORGANISATION_ADMINISTRATOR: "administrator of your organisation",
    RecipientKind.INTEGRATION: "third-party application you connected",
    RecipientKind.REVIEW_SITE: "review site",
    RecipientKind.AUTHORITY: "public authority",
}

SAFEGUARD = {
    Safeguard.ADEQUACY: "an EU adequacy decision (GDPR Art. 45)",
    Safeguard.SCC: "EU standard contractual clauses (GDPR Art. 46(2)(c))",
    Safeguard.BCR: "binding corporate rules (GDPR Art. 47)",
    Safeguard.DEROGATION: "a derogation for a specific situation (GDPR Art. 49)",
    Safeguard.NONE: "",
}

RIGHT = {
    Right.ACCESS: "to know what we hold about you and get a copy (Art. 15)",
    Right.PORTABILITY: "to receive your data in a machine-readable format or have it sent "
                       "to another company (Art. 20)",
    Right.RECTIFICATION: "to have inaccurate data corrected (Art. 16)",
    Right.ERASURE: "to have your data deleted (Art. 17)",
    Right.RESTRICTION: "to have the use of your data restricted, for example during a "
                       "dispute (Art. 18)",
    Right.OBJECTION: "to object to uses based on legitimate interests, and always to direct "
                     "marketing (Art. 21)",
    Right.WITHDRAW_CONSENT: "to withdraw your consent at any time, as easily as you gave it "
                            "(Art. 7(3))",
    Right.COMPLAINT: "to complain to a supervisory authority (Art. 77)",
    Right.OPT_OUT_OF_SALE: "to opt out of the sale or sharing of your personal information "
                           "(CCPA)",
}

USE_PHRASE = {
    "marketing": "use your data for marketing",
    "marketing.advertising": "use your data for advertising",
    "marketing.advertising.profiling": "profile you for advertising",
    "marketing.advertising.third_party": "use your data for third-party advertising",
    "marketing.communications": "send you marketing messages",
    "third_party_sharing": "share your data with third parties for their own purposes",
    "train_ai_system": "train AI systems on your data",
    "personalize.content.profiled": "profile you to personalise content",
}

REGULATION = {Regulation.GDPR: "GDPR", Regulation.CCPA: "CCPA"}


_PARTICIPLES = frozenset("set sent made given paid done seen read begun held kept left lost met "
                         "shown taken written withdrawn".split())


def anchor_phrase(anchor: str) -> str:
    """``account.closed`` -> ``the account is closed``; other keys read as words."""
    words = anchor.replace("_", " ").split(".")
    thing, last = " ".join(words[:-1]), words[-1]
    verb = last.split()[-1]
    if thing and (verb.endswith("ed") or verb in _PARTICIPLES):
        return f"the {thing} is {last}"
    return "the " + " ".join(words)


def use_phrase(use: str) -> str:
    return USE_PHRASE.get(use) or "use your data for " + use.replace(".", " / ").replace("_", " ")


def _category_name(policy: Policy, key: str) -> str:
    cat = policy.categories.get(key)
    return cat.name if cat else key


def _categories(policy: Policy) -> list[dict[str, Any]]:
    return [{
        "key": key, "name": cat.name, "description": cat.description, "special": cat.special,
        "condition": CONDITION[cat.condition] if cat.condition else None,
        "sources": [SOURCE[s] for s in cat.sources], "source_detail": cat.source_detail,
        "third_party": Source.THIRD_PARTY in cat.sources,
    } for key, cat in policy.categories.items()]


def _purposes(policy: Policy) -> list[dict[str, Any]]:
    out = []
    for key, p in policy.purposes.items():
        flags = [text for on, text in (
            (p.direct_marketing, "direct marketing"), (p.profiling, "profiling"),
            (p.advertising, "advertising"), (p.sale, "sale of personal information"),
            (p.share, "sharing for cross-context behavioural advertising"),
            (p.automated_decisions, "automated decisions")) if on]
        out.append({
            "key": key, "name": p.name, "description": p.description,
            "basis": BASIS[p.legal_basis], "legitimate_interest": p.legitimate_interest,
            "legal_obligation": p.legal_obligation,
            "categories": [_category_name(policy, c) for c in p.categories],
            "subjects": [policy.subjects[s].name if s in policy.subjects else s
                         for s in p.subjects], "flags": flags,
        })
    return out


def _recipients(policy: Policy) -> list[dict[str, Any]]:
    return [{
        "name": r.name, "kind": RECIPIENT_KIND[r.kind], "description": r.description,
        "purposes": [policy.purposes[k].name if k in policy.purposes else k
                     for k in r.purposes],
        "categories": [_category_name(policy, c) for c in r.categories],
        "countries": r.countries, "safeguard": SAFEGUARD[r.safeguard] or None,
        "safeguard_detail": r.safeguard_detail, "requires_consent": r.requires_consent,
    } for r in policy.recipients.values()]


def retention_phrase(rule: RetentionRule) -> str:
    what = "deleted" if rule.action is RetentionAction.DELETE else "anonymised"
    return f"{rule.period.human()} after {anchor_phrase(rule.anchor)}, then {what}"


def _retention(policy: Policy) -> list[dict[str, Any]]:
    return [{
        "id": rule.id, "description": rule.description, "when": retention_phrase(rule),
        "categories": [_category_name(policy, c) for c in rule.categories],
        "purposes": [policy.purposes[k].name for k in rule.purposes if k in policy.purposes],
        "exceptions": [{
            "description": e.description, "ground": e.ground,
            "categories": [_category_name(policy, c) for c in e.categories],
            "period": e.period.human() if e.period else "as long as this ground lasts",
            "on_erasure": e.applies_to_erasure,
        } for e in rule.exceptions],
    } for rule in policy.retention]


def _rights(policy: Policy) -> dict[str, Any]:
    rights = policy.rights
    deadlines = []
    for reg in policy.regulations:
        d = rights.deadline(reg)
        deadlines.append({"regulation": REGULATION[reg], "within": d.respond_within.human(),
                          "extension": d.extension.human()})
    return {"honoured": [RIGHT[r] for r in rights.honoured], "deadlines": deadlines,
            "channels": rights.channels, "complaint_contact": rights.complaint_contact}


def notice_context(policy: Policy, version: str | None = None) -> dict[str, Any]:
    """Everything the templates show, already in plain language."""
    sells = any(p.sale or p.share for p in policy.purposes.values())
    return {
        "org": policy.organisation, "version": version,
        "categories": _categories(policy), "purposes": _purposes(policy),
        "recipients": _recipients(policy), "retention": _retention(policy),
        "rights": _rights(policy), "minimum_age": policy.minimum_age,
        "never": [use_phrase(u) for u in policy.prohibited_uses]
        + ([] if sells else ["sell your personal information"]),
        "tenant_isolation": policy.tenant_isolation,
        "promises": [{"text": p.text, "source": p.source} for p in policy.promises],
    }


def _md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("keepword", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _md_cell
    return env


def render_notice(policy: Policy, fmt: NoticeFormat = "md", *, version: str | None = None
                  ) -> str:
    """The notice as Markdown (``md``) or a standalone HTML page (``html``, escaped)."""
    template = _environment().get_template(f"notice.{fmt}")
    return template.render(notice_context(policy, version))
