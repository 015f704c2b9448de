"""The compiled index: the policy turned into dicts, frozensets and cached plans.

Compiled once per policy version. For each distinct question (purpose,
categories, recipient, tenant, actor) a ``Plan`` is built on first use: every
rule that only depends on the policy is settled then (its deny reason kept as a
constant), and what depends on the subject (consent, objection, restriction,
age, integration) becomes a small check over the subject's ``Snapshot``. The
plan for an allowed question also holds its ready-made ``Decision``, so a warm
decision is a few dict look-ups. ``keepword.decide.rules`` is the reference
these plans must agree with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keepword.consent.ledger import RECIPIENT_PREFIX
from keepword.decide import reasons as why
from keepword.decide import rules
from keepword.decide.reasons import Decision, Reason
from keepword.decide.rules import OBJECTABLE, Query
from keepword.decide.state import ALL, Snapshot
from keepword.decide.subject import Actor, Subject
from keepword.policy.models import Art9Condition, LegalBasis, Policy, Purpose, RecipientKind
from keepword.taxonomy import ancestors

Step = Callable[[Subject, Snapshot], Reason | None]
PlanKey = tuple[str, tuple[str, ...], str | None, str | None, object]


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    allow: Decision


class CompiledPolicy:
    """Look-up tables of one policy version, and the plans built from them."""

    def __init__(self, policy: Policy, *, max_plans: int = 50_000) -> None:
        self.policy = policy
        self.max_plans = max_plans
        self.subject_kinds = frozenset(policy.subjects)
        self.purpose_categories = {k: frozenset(p.categories) for k, p in policy.purposes.items()}
        self.recipient_categories = {k: frozenset(r.categories)
                                     for k, r in policy.recipients.items()}
        self.prohibitions = tuple(rules.prohibitions(policy))
        self.no_sale = tuple(rules.no_sale_promises(policy))
        self.recipient_consent = {r: rules.recipient_consent_clause(policy, r)
                                  for r in policy.recipients}
        self.never = rules.never_visible(policy)
        self.plans: dict[PlanKey, Plan] = {}
        self._allowed: dict[tuple[frozenset[str], str], bool] = {}
        self._isolated: dict[tuple[str, ...], bool] = {}

    def decide(self, subject: Subject, key: PlanKey, snap: Snapshot) -> Decision:
        """Run the plan for ``key`` (built on first use) over the subject's snapshot."""
        plan = self.plans.get(key)
        if plan is None:
            purpose, cats, recipient, tenant, actor = key
            query = Query(purpose, cats, recipient, tenant,
                          None if actor is None else Actor.parse(actor))  # type: ignore[arg-type]
            plan = self.plan(query, key)
        kind = subject.kind
        if kind is not None and kind not in self.subject_kinds:
            rules.validate(self.policy, Query(key[0], key[1]), kind)
        denies = [r for step in plan.steps if (r := step(subject, snap)) is not None]
        return Decision(False, tuple(denies)) if denies else plan.allow

    def plan(self, query: Query, key: PlanKey) -> Plan:
        plan = self.plans.get(key)
        if plan is None:
            plan = self._build(query)
            if len(self.plans) >= self.max_plans:
                self.plans.clear()
            self.plans[key] = plan
        return plan

    def covered(self, declared: frozenset[str], key: str) -> bool:
        """``key`` is a declared key or a descendant of one (memoised)."""
        hit = self._allowed.get((declared, key))
        if hit is None:
            hit = self._allowed[(declared, key)] = any(a in declared for a in ancestors(key))
        return hit

    # -- building a plan -------------------------------------------------------------

    def _build(self, query: Query) -> Plan:
        rules.validate(self.policy, query, None)
        steps: list[Step] = []
        allows: list[Reason] = []
        known = query.purpose in self.policy.purposes
        use = self.policy.data_use(query.purpose) if known else query.purpose
        steps += [_const(make(use)) for banned, make in self.prohibitions
                  if banned == use or use.startswith(banned + ".")]
        if not known:
            return Plan(tuple(steps), Decision(False, ()))
        purpose = self.policy.purposes[query.purpose]
        specials = rules.special_categories(self.policy, query.categories)
        steps += self._purpose_steps(query, purpose)
        steps += self._special_steps(query.purpose, specials, allows)
        steps += _basis_steps(query.purpose, purpose)
        steps.append(_restriction_step(why.restricted()))
        steps += self._age_steps(query, purpose, specials)
        allows.insert(0, why.basis_ok(query.purpose, purpose.legal_basis.value,
                                      purpose.legitimate_interest or purpose.legal_obligation))
        if query.recipient is not None:
            steps += self._recipient_steps(query, allows)
        steps += self._tenant_steps(query, allows)
        return Plan(tuple(steps), Decision(True, tuple(allows)))

    def _purpose_steps(self, query: Query, purpose: Purpose) -> list[Step]:
        steps: list[Step] = []
        if purpose.sale or purpose.share:
            steps += [_const(why.no_sale(p, m, query.purpose)) for p, m in self.no_sale]
        steps.append(_kind_step(query.purpose, frozenset(purpose.subjects)))
        declared = self.purpose_categories[query.purpose]
        steps += [_const(why.category_not_allowed(query.purpose, c))
                  for c in query.categories if not self.covered(declared, c)]
        return steps

    def _special_steps(self, key: str, specials: list[tuple[str, Art9Condition]],
                       allows: list[Reason]) -> list[Step]:
        steps: list[Step] = []
        for cat, condition in specials:
            allows.append(why.special_ok(cat, condition.value))
            if condition is Art9Condition.EXPLICIT_CONSENT:
                steps.append(_given_step(key, why.special_needs_consent(cat, key)))
        return steps

    def _age_steps(self, query: Query, purpose: Purpose,
                   specials: list[tuple[str, Art9Condition]]) -> list[Step]:
        minimum = self.policy.minimum_age
        if minimum is None:
            return []
        needs = (purpose.legal_basis is LegalBasis.CONSENT
                 or any(c is Art9Condition.EXPLICIT_CONSENT for _, c in specials)
                 or (query.recipient is not None
                     and self.recipient_consent[query.recipient] is not None))
        return [_age_step(minimum, needs)]

    def _recipient_steps(self, query: Query, allows: list[Reason]) -> list[Step]:
        name = query.recipient or ""
        rec = self.policy.recipients[name]
        steps: list[Step] = []
        if query.purpose not in rec.purposes:
            steps.append(_const(why.recipient_purpose(name, query.purpose)))
        steps += [_const(why.recipient_category(name, c)) for c in query.categories
                  if not self.covered(self.recipient_categories[name], c)]
        steps += [_const(why.transfer_unsafe(name, country)) for country in rec.countries
                  if not rules.transfer_ok(country, rec.safeguard)]
        allows.append(why.recipient_ok(name, query.purpose))
        clause = self.recipient_consent[name]
        if clause is not None:
            allows.append(why.recipient_consent_ok(clause, name))
            steps.append(_consent_step(RECIPIENT_PREFIX + name,
                                       why.recipient_consent_missing(clause, name),
                                       why.recipient_consent_withdrawn(clause, name), None))
        if rec.kind is RecipientKind.INTEGRATION:
            steps.append(_integration_step(name))
        return steps

    def _tenant_steps(self, query: Query, allows: list[Reason]) -> list[Step]:
        cats = query.categories
        hit = self._isolated.get(cats)
        if hit is None:
            hit = self._isolated[cats] = rules.isolated(self.policy, cats)
        if not hit:
            return []
        reasons: list[Reason] = []
        actor, never = query.actor, self.never
        if query.tenant is None:
            reasons.append(why.tenant_unknown())
        elif query.recipient is not None:
            kind = self.policy.recipients[query.recipient].kind.value
            if kind in never:
                reasons.append(why.recipient_excluded(never.index(kind), kind))
        elif actor is None:
            reasons.append(why.actor_unknown())
        elif actor.kind in never:
            reasons.append(why.actor_excluded(never.index(actor.kind), actor.kind))
        elif actor.kind != "user" or actor.tenant != query.tenant:
            reasons.append(why.other_tenant())
        else:
            allows.append(why.tenant_ok())
        return [_const(r) for r in reasons]


# --- steps: small closures over precomputed reasons ------------------------------------

def _const(reason: Reason) -> Step:
    def step(_s: Subject, _n: Snapshot) -> Reason | None:
        return reason
    return step


def _kind_step(purpose: str, kinds: frozenset[str]) -> Step:
    def step(s: Subject, _n: Snapshot) -> Reason | None:
        kind = s.kind
        return None if kind is None or kind in kinds else why.wrong_subject(purpose, kind)
    return step


def _given_step(key: str, reason: Reason) -> Step:
    def step(_s: Subject, n: Snapshot) -> Reason | None:
        return None if n.consent.get(key) is True else reason
    return step


def _consent_step(key: str, missing: Reason, withdrawn: Reason, objected: Reason | None
                  ) -> Step:
    def step(_s: Subject, n: Snapshot) -> Reason | None:
        given = n.consent.get(key)
        if given is True:
            return objected if objected is not None and key in n.objections else None
        return missing if given is None else withdrawn
    return step


def _objection_step(key: str, reason: Reason) -> Step:
    def step(_s: Subject, n: Snapshot) -> Reason | None:
        o = n.objections
        return reason if o and (key in o or ALL in o) else None
    return step


def _opt_out_step(key: str, reason: Reason) -> Step:
    def step(_s: Subject, n: Snapshot) -> Reason | None:
        return reason if n.consent.get(key) is False else None
    return step


def _basis_steps(key: str, purpose: Purpose) -> list[Step]:
    basis = purpose.legal_basis
    steps: list[Step] = []
    if basis is LegalBasis.CONSENT:
        steps.append(_consent_step(key, why.consent_missing(key), why.consent_withdrawn(key),
                                   why.objected(key)))
    elif basis in OBJECTABLE:
        steps.append(_objection_step(key, why.objected(key)))
    if purpose.direct_marketing:
        steps.append(_objection_step(key, why.marketing_objection(key)))
    flag = rules.opt_out_flag(purpose)
    if flag and basis is not LegalBasis.CONSENT:
        steps.append(_opt_out_step(key, why.opted_out(key, flag)))
    return steps


def _restriction_step(reason: Reason) -> Step:
    def step(_s: Subject, n: Snapshot) -> Reason | None:
        return reason if n.restricted else None
    return step


def _age_step(minimum: int, needs_age: bool) -> Step:
    under, unknown = why.under_age(minimum), why.age_unknown(minimum)

    def step(s: Subject, _n: Snapshot) -> Reason | None:
        age = s.age if s.age is not None else s.current_age()
        if age is None:
            return unknown if needs_age else None
        return under if age < minimum else None
    return step


def _integration_step(name: str) -> Step:
    missing, gone = why.integration_not_installed(name), why.integration_uninstalled(name)

    def step(_s: Subject, n: Snapshot) -> Reason | None:
        installed = n.integrations.get(name)
        return None if installed is True else (missing if installed is None else gone)
    return step
