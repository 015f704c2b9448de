"""The rules of the decision point, evaluated straight from the policy objects.

This is the reference: readable, one function per rule, walking the pydantic
policy on every call. ``keepword.decide.index`` compiles the same rules into
cached plans for speed, and a property test checks that both always agree.

Rules, in the order their reasons are reported:

1. the purpose is declared (an undeclared *prohibited* data use is denied, any
   other unknown purpose is an input error), and its data use is not prohibited
   (``prohibited_uses``, promises ``decide.prohibited_use`` / ``decide.no_sale``);
2. the subject's kind, when known, is one the purpose covers;
3. every category is declared for the purpose (a key covers its descendants);
4. special categories only with their Art. 9(2) condition (explicit consent is
   checked in the ledger);
5. the legal basis holds: consent given and not withdrawn; no objection to
   legitimate interest or public task; objection to direct marketing is absolute;
   an opt-out (GPC) stops sale, sharing and targeted advertising on any basis;
6. no restriction is in force;
7. the subject is not under the minimum age (unknown age denies consent-based
   processing);
8. a recipient only for its declared purposes and categories, transfers outside
   the EEA only with adequacy or a safeguard, with the subject's approval where
   required, and an integration only while installed;
9. tenant-isolated categories only for users of the owning tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

from keepword.consent.ledger import RECIPIENT_PREFIX
from keepword.decide import reasons as why
from keepword.decide.reasons import Decision, Reason
from keepword.decide.state import ALL, Snapshot
from keepword.decide.subject import USER, Actor, Subject
from keepword.errors import InputError, Location, Problem
from keepword.policy.models import (
    ADEQUATE,
    EEA,
    Art9Condition,
    LegalBasis,
    Policy,
    Purpose,
    RecipientKind,
    Safeguard,
)
from keepword.taxonomy import covers

OBJECTABLE = (LegalBasis.LEGITIMATE_INTEREST, LegalBasis.PUBLIC_TASK)
SAFEGUARDS = frozenset({Safeguard.SCC, Safeguard.BCR, Safeguard.DEROGATION})
OPT_OUT_FLAGS = ("sale", "share", "advertising")


@dataclass(frozen=True, slots=True)
class Query:
    """What is asked, with the tenant already defaulted to the subject's."""

    purpose: str
    categories: tuple[str, ...]
    recipient: str | None = None
    tenant: str | None = None
    actor: Actor | None = None

    @classmethod
    def of(cls, subject: Subject, purpose: str, categories: str | Sequence[str], *,
           recipient: str | None = None, tenant: str | None = None,
           actor: str | Actor | None = None) -> Query:
        cats = (categories,) if isinstance(categories, str) else tuple(categories)
        return cls(purpose, cats, recipient, tenant if tenant is not None else subject.tenant,
                   Actor.parse(actor) if actor is not None else None)


# --- policy look-ups, without any index ---------------------------------------------

def prohibitions(policy: Policy) -> Iterator[tuple[str, Callable[[str], Reason]]]:
    for i, banned in enumerate(policy.prohibited_uses):
        yield banned, partial(why.prohibited, i, banned)
    for p, promise in enumerate(policy.promises):
        for m, ref in enumerate(promise.enforced_by):
            if ref.mechanism == "decide.prohibited_use" and ref.target:
                yield ref.target, partial(why.promised_prohibited, p, m, ref.target)


def no_sale_promises(policy: Policy) -> list[tuple[int, int]]:
    return [(p, m) for p, promise in enumerate(policy.promises)
            for m, ref in enumerate(promise.enforced_by) if ref.mechanism == "decide.no_sale"]


def recipient_consent_clause(policy: Policy, recipient: str) -> str | None:
    """Where the policy says disclosure to ``recipient`` needs the subject's approval."""
    if policy.recipients[recipient].requires_consent:
        return f"recipients.{recipient}.requires_consent"
    for p, promise in enumerate(policy.promises):
        for m, ref in enumerate(promise.enforced_by):
            if ref.mechanism == "decide.recipient_consent" and ref.target == recipient:
                return f"promises[{p}].enforced_by[{m}]"
    return None


def known_category(policy: Policy, key: str) -> bool:
    """Declared, below a declared key, or above one (a broader request)."""
    return any(covers(d, key) or covers(key, d) for d in policy.categories)


def special_categories(policy: Policy, categories: Sequence[str]
                       ) -> list[tuple[str, Art9Condition]]:
    """Declared special categories the request touches, in request order, once each."""
    found: dict[str, Art9Condition] = {}
    for c in categories:
        for key, cat in policy.categories.items():
            if cat.special and cat.condition and (covers(key, c) or covers(c, key)):
                found.setdefault(key, cat.condition)
    return list(found.items())


def opt_out_flag(purpose: Purpose) -> str | None:
    return next((f for f in OPT_OUT_FLAGS if getattr(purpose, f)), None)


def transfer_ok(country: str, safeguard: Safeguard) -> bool:
    if country == "EEA" or country in EEA or country in ADEQUATE:
        return True
    return safeguard in SAFEGUARDS


def never_visible(policy: Policy) -> list[str]:
    iso = policy.tenant_isolation
    return [str(k) for k in iso.never_visible_to] if iso else []


def isolated(policy: Policy, categories: Sequence[str]) -> bool:
    iso = policy.tenant_isolation
    return iso is not None and any(covers(i, c) or covers(c, i)
                                   for i in iso.categories for c in categories)


# --- validation: unknown input is an error, never a silent allow --------------------

def validate(policy: Policy, query: Query, subject_kind: str | None) -> None:
    problems: list[Problem] = []

    def bad(message: str, *path: str | int) -> None:
        problems.append(Problem(message, Location(path=("decide", *path)), code="unknown"))

    if query.purpose not in policy.purposes and not any(
            covers(b, query.purpose) for b, _ in prohibitions(policy)):
        bad(f"unknown purpose {query.purpose!r}: not declared under 'purposes'", "purpose")
    if not query.categories:
        bad("name at least one data category", "categories")
    for i, c in enumerate(query.categories):
        if not known_category(policy, c):
            bad(f"unknown category {c!r}: not declared under 'categories'", "categories", i)
    if query.recipient is not None and query.recipient not in policy.recipients:
        bad(f"unknown recipient {query.recipient!r}: not declared under 'recipients'",
            "recipient")
    if subject_kind is not None and subject_kind not in policy.subjects:
        bad(f"unknown subject kind {subject_kind!r}: not declared under 'subjects'",
            "subject", "kind")
    if problems:
        raise InputError(problems)


# --- evaluation -----------------------------------------------------------------------

def evaluate(policy: Policy, subject: Subject, query: Query, snap: Snapshot, *,
             today: date | None = None) -> Decision:
    """Decide from the policy objects alone (the reference for the compiled index)."""
    validate(policy, query, subject.kind)
    use = policy.data_use(query.purpose) if query.purpose in policy.purposes else query.purpose
    denies = [make(use) for banned, make in prohibitions(policy) if covers(banned, use)]
    if query.purpose not in policy.purposes:
        return Decision(False, tuple(denies))
    purpose = policy.purposes[query.purpose]
    allows: list[Reason] = []
    denies += _purpose_rules(policy, subject, query, purpose)
    specials = special_categories(policy, query.categories)
    denies += _special_rules(query.purpose, specials, snap, allows)
    denies += _basis_rules(query.purpose, purpose, snap)
    if snap.restricted:
        denies.append(why.restricted())
    denies += _age_rules(policy, subject, query, purpose, specials=specials, today=today)
    allows.insert(0, why.basis_ok(query.purpose, purpose.legal_basis.value,
                                  purpose.legitimate_interest or purpose.legal_obligation))
    if query.recipient is not None:
        denies += _recipient_rules(policy, query, snap, allows)
    denies += _tenant_rules(policy, query, allows)
    return Decision(False, tuple(denies)) if denies else Decision(True, tuple(allows))


def _purpose_rules(policy: Policy, subject: Subject, query: Query, purpose: Purpose
                   ) -> Iterator[Reason]:
    if purpose.sale or purpose.share:
        for p, m in no_sale_promises(policy):
            yield why.no_sale(p, m, query.purpose)
    if subject.kind is not None and subject.kind not in purpose.subjects:
        yield why.wrong_subject(query.purpose, subject.kind)
    for c in query.categories:
        if not any(covers(a, c) for a in purpose.categories):
            yield why.category_not_allowed(query.purpose, c)


def _special_rules(key: str, specials: list[tuple[str, Art9Condition]], snap: Snapshot,
                   allows: list[Reason]) -> Iterator[Reason]:
    for cat, condition in specials:
        if condition is Art9Condition.EXPLICIT_CONSENT and snap.consent.get(key) is not True:
            yield why.special_needs_consent(cat, key)
        else:
            allows.append(why.special_ok(cat, condition.value))


def _basis_rules(key: str, purpose: Purpose, snap: Snapshot) -> Iterator[Reason]:
    basis, objections = purpose.legal_basis, snap.objections
    if basis is LegalBasis.CONSENT:
        given = snap.consent.get(key)
        if given is None:
            yield why.consent_missing(key)
        elif given is False:
            yield why.consent_withdrawn(key)
        elif key in objections:
            yield why.objected(key)
    elif basis in OBJECTABLE and (key in objections or ALL in objections):
        yield why.objected(key)
    if purpose.direct_marketing and (key in objections or ALL in objections):
        yield why.marketing_objection(key)
    flag = opt_out_flag(purpose)
    if flag and basis is not LegalBasis.CONSENT and snap.consent.get(key) is False:
        yield why.opted_out(key, flag)


def _needs_consent(policy: Policy, query: Query, purpose: Purpose,
                   specials: list[tuple[str, Art9Condition]]) -> bool:
    return (purpose.legal_basis is LegalBasis.CONSENT
            or any(c is Art9Condition.EXPLICIT_CONSENT for _, c in specials)
            or (query.recipient is not None
                and recipient_consent_clause(policy, query.recipient) is not None))


def _age_rules(policy: Policy, subject: Subject, query: Query, purpose: Purpose, *,
               specials: list[tuple[str, Art9Condition]], today: date | None
               ) -> Iterator[Reason]:
    minimum = policy.minimum_age
    if minimum is None:
        return
    age = subject.current_age(today)
    if age is None:
        if _needs_consent(policy, query, purpose, specials):
            yield why.age_unknown(minimum)
    elif age < minimum:
        yield why.under_age(minimum)


def _recipient_rules(policy: Policy, query: Query, snap: Snapshot, allows: list[Reason]
                     ) -> Iterator[Reason]:
    name = query.recipient or ""
    rec = policy.recipients[name]
    if query.purpose not in rec.purposes:
        yield why.recipient_purpose(name, query.purpose)
    for c in query.categories:
        if not any(covers(a, c) for a in rec.categories):
            yield why.recipient_category(name, c)
    for country in rec.countries:
        if not transfer_ok(country, rec.safeguard):
            yield why.transfer_unsafe(name, country)
    allows.append(why.recipient_ok(name, query.purpose))
    clause = recipient_consent_clause(policy, name)
    if clause is not None:
        given = snap.consent.get(RECIPIENT_PREFIX + name)
        if given is None:
            yield why.recipient_consent_missing(clause, name)
        elif given is False:
            yield why.recipient_consent_withdrawn(clause, name)
        else:
            allows.append(why.recipient_consent_ok(clause, name))
    if rec.kind is RecipientKind.INTEGRATION:
        installed = snap.integrations.get(name)
        if installed is None:
            yield why.integration_not_installed(name)
        elif installed is False:
            yield why.integration_uninstalled(name)


def _tenant_rules(policy: Policy, query: Query, allows: list[Reason]) -> Iterator[Reason]:
    if not isolated(policy, query.categories):
        return
    never = never_visible(policy)
    actor = query.actor
    if query.tenant is None:
        yield why.tenant_unknown()
    elif query.recipient is not None:
        kind = policy.recipients[query.recipient].kind.value
        if kind in never:
            yield why.recipient_excluded(never.index(kind), kind)
    elif actor is None:
        yield why.actor_unknown()
    elif actor.kind in never:
        yield why.actor_excluded(never.index(actor.kind), actor.kind)
    elif actor.kind != USER or actor.tenant != query.tenant:
        yield why.other_tenant()
    else:
        allows.append(why.tenant_ok())
