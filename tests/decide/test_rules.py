"""Each rule of the decision point, table-driven, on the two small test policies.

Every case is decided twice, through the compiled index and straight from the
policy objects, and both must give the same answer and the same reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from keepword.decide import Decider, Subject
from keepword.errors import InputError
from keepword.policy.models import Safeguard
from keepword.subject_state import StateKind
from tests.decide.conftest import restrict

GIVE, WITHDRAW, RESTRICT, LIFT, OBJECT = "give", "withdraw", "restrict", "lift", "object"
INSTALL_ORG, INSTALL_ME, UNINSTALL_ORG, UNINSTALL_ME = "install-org", "install-me", \
    "uninstall-org", "uninstall-me"


@dataclass(frozen=True)
class Case:
    id: str
    purpose: str
    categories: tuple[str, ...]
    allowed: bool
    clauses: tuple[str, ...] = ()  # deny: exactly these, in order; allow: at least these
    setup: tuple[tuple[str, str], ...] = ()
    recipient: str | None = None
    tenant: str | None = None
    actor: str | None = None
    age: int | None = 30
    kind: str | None = None
    birth: date | None = None
    extra: dict[str, object] = field(default_factory=dict)


IKCON = [
    # categories allowed for the purpose (a key covers its descendants, not its parents)
    Case("contract-allows-its-categories", "essential.service", ("user.contact.email",), True,
         ("purposes.essential.service.legal_basis",)),
    Case("category-not-declared-for-purpose", "essential.service", ("user.device",), False,
         ("purposes.essential.service.categories",)),
    Case("broader-category-than-declared", "essential.service", ("user.contact",), False,
         ("purposes.essential.service.categories",)),
    Case("descendant-of-declared-category", "personalize", ("user.device.ip_address",), True),
    # subject kinds
    Case("subject-kind-covered", "marketing_email", ("user.name",), True,
         setup=((GIVE, "marketing_email"),), kind="prospect"),
    Case("subject-kind-not-covered", "essential.service", ("user.name",), False,
         ("purposes.essential.service.subjects",), kind="prospect"),
    # consent: given, withdrawn, never given, withdrawn before any grant
    Case("consent-missing", "marketing_email", ("user.contact.email",), False,
         ("purposes.marketing_email.legal_basis",)),
    Case("consent-given", "marketing_email", ("user.contact.email",), True,
         ("purposes.marketing_email.legal_basis",), setup=((GIVE, "marketing_email"),)),
    Case("consent-withdrawn", "marketing_email", ("user.contact.email",), False,
         ("purposes.marketing_email.legal_basis",),
         setup=((GIVE, "marketing_email"), (WITHDRAW, "marketing_email"))),
    Case("withdrawal-before-any-grant", "marketing_email", ("user.contact.email",), False,
         ("purposes.marketing_email.legal_basis",), setup=((WITHDRAW, "marketing_email"),)),
    Case("given-again-after-withdrawal", "marketing_email", ("user.contact.email",), True,
         setup=((GIVE, "marketing_email"), (WITHDRAW, "marketing_email"),
                (GIVE, "marketing_email"))),
    Case("consent-to-another-purpose-does-not-count", "marketing_email", ("user.name",), False,
         ("purposes.marketing_email.legal_basis",), setup=((GIVE, "targeted_ads"),)),
    # legitimate interest and objections; direct marketing objection is absolute
    Case("legitimate-interest-without-objection", "personalize", ("user.name",), True,
         ("purposes.personalize.legal_basis",)),
    Case("objection-to-the-purpose", "personalize", ("user.name",), False,
         ("purposes.personalize.legal_basis",), setup=((OBJECT, "personalize"),)),
    Case("objection-to-all-li-purposes", "analytics", ("user.device",), False,
         ("purposes.analytics.legal_basis",), setup=((OBJECT, "*"),)),
    Case("objection-elsewhere-does-not-count", "personalize", ("user.name",), True,
         setup=((OBJECT, "analytics"),)),
    Case("objection-to-direct-marketing-li", "third_party_leads", ("user.name",), False,
         ("purposes.third_party_leads.legal_basis",
          "purposes.third_party_leads.direct_marketing"), kind="prospect",
         setup=((OBJECT, "third_party_leads"),)),
    Case("objection-to-direct-marketing-beats-consent", "marketing_email", ("user.name",),
         False, ("purposes.marketing_email.legal_basis",
                 "purposes.marketing_email.direct_marketing"),
         setup=((GIVE, "marketing_email"), (OBJECT, "marketing_email"))),
    Case("objection-does-not-touch-contract", "essential.service", ("user.name",), True,
         setup=((OBJECT, "*"),)),
    # opt-out (GPC) of advertising on a non-consent basis
    Case("advertising-li-allowed", "ad_performance", ("user.device",), True),
    Case("advertising-li-after-opt-out", "ad_performance", ("user.device",), False,
         ("purposes.ad_performance.advertising",), setup=((WITHDRAW, "ad_performance"),)),
    # restriction (Art. 18, Ikcon §10.3 dispute)
    Case("restriction-denies-everything", "essential.service", ("user.name",), False,
         ("rights.restriction",), setup=((RESTRICT, "*"),)),
    Case("restriction-lifted", "essential.service", ("user.name",), True,
         setup=((RESTRICT, "*"), (LIFT, "*"))),
    # special categories
    Case("special-explicit-consent-missing", "accessibility", ("user.health_and_medical",),
         False, ("categories.user.health_and_medical.condition",)),
    Case("special-explicit-consent-given", "accessibility", ("user.health_and_medical",), True,
         ("purposes.accessibility.legal_basis", "categories.user.health_and_medical.condition"),
         setup=((GIVE, "accessibility"),)),
    Case("special-other-condition", "legal", ("user.criminal_history",), True,
         ("categories.user.criminal_history.condition",)),
    # minimum age (16)
    Case("fifteen-year-old", "essential.service", ("user.name",), False, ("minimum_age",),
         age=15),
    Case("sixteen-year-old", "essential.service", ("user.name",), True, age=16),
    Case("fifteen-by-birth-date", "essential.service", ("user.name",), False, ("minimum_age",),
         age=None, birth=date(datetime.now(UTC).year - 15, 1, 1)),
    Case("age-unknown-consent-purpose", "marketing_email", ("user.name",), False,
         ("minimum_age",), setup=((GIVE, "marketing_email"),), age=None),
    Case("age-unknown-contract-purpose", "essential.service", ("user.name",), True, age=None),
    Case("age-unknown-explicit-consent-category", "accessibility",
         ("user.health_and_medical",), False, ("minimum_age",),
         setup=((GIVE, "accessibility"),), age=None),
    # recipients: declared purposes and categories, approval, integrations
    Case("recipient-for-its-purpose", "essential.service", ("user.name",), True,
         ("recipients.hosting.purposes",), recipient="hosting"),
    Case("recipient-wrong-purpose", "personalize", ("user.name",), False,
         ("recipients.hosting.purposes",), recipient="hosting"),
    Case("recipient-wrong-category", "essential.service", ("user.job_title",), False,
         ("recipients.hosting.categories",), recipient="hosting"),
    Case("partner-without-approval", "partner_services", ("user.name",), False,
         ("recipients.partners.requires_consent",), recipient="partners"),
    Case("partner-with-approval", "partner_services", ("user.name",), True,
         ("recipients.partners.requires_consent",), recipient="partners",
         setup=((GIVE, "recipient:partners"),)),
    Case("partner-approval-withdrawn", "partner_services", ("user.name",), False,
         ("recipients.partners.requires_consent",), recipient="partners",
         setup=((GIVE, "recipient:partners"), (WITHDRAW, "recipient:partners"))),
    Case("partner-approval-needs-age", "partner_services", ("user.name",), False,
         ("minimum_age",), recipient="partners", age=None,
         setup=((GIVE, "recipient:partners"),)),
    Case("integration-never-installed", "essential.service", ("user.name",), False,
         ("recipients.calendar.kind",), recipient="calendar", tenant="acme"),
    Case("integration-installed-by-organisation", "essential.service", ("user.name",), True,
         recipient="calendar", tenant="acme", setup=((INSTALL_ORG, "calendar"),)),
    Case("integration-installed-by-subject", "essential.service", ("user.name",), True,
         recipient="calendar", setup=((INSTALL_ME, "calendar"),)),
    Case("integration-uninstalled-by-subject", "essential.service", ("user.name",), False,
         ("recipients.calendar.kind",), recipient="calendar", tenant="acme",
         setup=((INSTALL_ORG, "calendar"), (UNINSTALL_ME, "calendar"))),
    Case("integration-uninstalled-by-organisation", "essential.service", ("user.name",), False,
         ("recipients.calendar.kind",), recipient="calendar", tenant="acme",
         setup=((INSTALL_ME, "calendar"), (UNINSTALL_ORG, "calendar"))),
    Case("integration-of-another-organisation", "essential.service", ("user.name",), False,
         ("recipients.calendar.kind",), recipient="calendar", tenant="globex",
         setup=((INSTALL_ORG, "calendar"),)),
    # several rules at once: every reason is reported, in rule order
    Case("many-reasons", "marketing_email", ("user.financial",), False,
         ("purposes.marketing_email.categories", "purposes.marketing_email.legal_basis",
          "rights.restriction", "minimum_age", "recipients.reviews.categories",
          "promises[6].enforced_by[0]"),
         recipient="reviews", age=15, setup=((RESTRICT, "*"),)),
    # approval required by a promise rather than by the recipient's own flag
    Case("approval-required-by-a-promise", "marketing_email", ("user.name",), False,
         ("promises[6].enforced_by[0]",), recipient="reviews",
         setup=((GIVE, "marketing_email"),)),
    Case("approval-by-a-promise-given", "marketing_email", ("user.name",), True,
         ("promises[6].enforced_by[0]", "recipients.reviews.purposes"), recipient="reviews",
         setup=((GIVE, "marketing_email"), (GIVE, "recipient:reviews"))),
]

IKO = [
    Case("ad-profiling-prohibited", "marketing.advertising.profiling", ("user.name",), False,
         ("prohibited_uses[0]", "prohibited_uses[1]", "promises[0].enforced_by[0]")),
    Case("advertising-prohibited", "marketing.advertising.first_party.targeted",
         ("user.name",), False, ("prohibited_uses[0]", "promises[0].enforced_by[0]")),
    Case("third-party-sharing-prohibited", "third_party_sharing", ("user.name",), False,
         ("prohibited_uses[2]",)),
    Case("no-minimum-age-no-age-needed", "social_messages", ("user.name",), True, age=None,
         setup=((GIVE, "social_messages"),)),
    Case("tenant-user-sees-own-tags", "essential.service", ("user.behavior.tags",), True,
         ("tenant_isolation",), tenant="acme", actor="user:acme"),
    Case("tenant-unknown", "essential.service", ("user.behavior.tags",), False,
         ("tenant_isolation",), actor="user:acme"),
    Case("actor-unknown", "essential.service", ("user.behavior.tags",), False,
         ("tenant_isolation",), tenant="acme"),
    Case("system-administrator", "essential.service", ("user.behavior.tags",), False,
         ("tenant_isolation.never_visible_to[1]",), tenant="acme",
         actor="system_administrator"),
    Case("other-users", "essential.service", ("user.contact.organization.crm",), False,
         ("tenant_isolation.never_visible_to[0]",), tenant="acme", actor="other_users"),
    Case("user-of-another-tenant", "essential.service", ("user.behavior.tags",), False,
         ("tenant_isolation",), tenant="acme", actor="user:globex"),
    Case("third-party-recipient", "essential.service", ("user.behavior.tags",), False,
         ("tenant_isolation.never_visible_to[2]",), tenant="acme", recipient="lexsi"),
    Case("not-isolated-category", "essential.service", ("user.name",), True, tenant="acme",
         actor="system_administrator"),
    Case("processor-may-receive-isolated", "essential.service", ("user.contact.email",), True,
         tenant="acme", recipient="paypal"),
    Case("isolated-parent-category-requested", "essential.service", ("user.behavior",), False,
         ("purposes.essential.service.categories", "tenant_isolation.never_visible_to[1]"),
         tenant="acme", actor="system_administrator"),
]


def _apply(decider: Decider, subject: Subject, step: tuple[str, str]) -> None:
    verb, arg = step
    actions: dict[str, Callable[[], object]] = {
        GIVE: lambda: decider.ledger.give(subject, arg, channel="web"),
        WITHDRAW: lambda: decider.ledger.withdraw(subject, arg, channel="web"),
        RESTRICT: lambda: restrict(decider, subject),
        LIFT: lambda: restrict(decider, subject, lift=True),
        OBJECT: lambda: restrict(decider, subject, kind=StateKind.OBJECTION, scope=arg),
        INSTALL_ORG: lambda: decider.install(arg, organisation="acme"),
        INSTALL_ME: lambda: decider.install(arg, subject=subject),
        UNINSTALL_ORG: lambda: decider.uninstall(arg, organisation="acme"),
        UNINSTALL_ME: lambda: decider.uninstall(arg, subject=subject),
    }
    actions[verb]()


def run_case(decider: Decider, case: Case) -> None:
    subject = Subject.of(email="ada@example.com", age=case.age, birth_date=case.birth,
                         kind=case.kind)
    decider.decide(subject, "essential.service", ["user.name"])  # warm the cache first
    for step in case.setup:
        _apply(decider, subject, step)
    asked = {"recipient": case.recipient, "tenant": case.tenant, "actor": case.actor}
    decision = decider.decide(subject, case.purpose, case.categories, **asked)
    reference = decider.decide_from_policy(subject, case.purpose, case.categories, **asked)
    assert decision == reference
    assert decision.allowed is case.allowed, str(decision)
    clauses = [r.clause for r in decision.reasons]
    if case.allowed:
        assert set(case.clauses) <= set(clauses), str(decision)
    else:
        assert clauses == list(case.clauses), str(decision)
    assert all(r.message for r in decision.reasons)


@pytest.mark.parametrize("case", IKCON, ids=[c.id for c in IKCON])
def test_ikcon_like(make_decider: Callable[..., Decider], case: Case) -> None:
    run_case(make_decider("ikcon_like"), case)


@pytest.mark.parametrize("case", IKO, ids=[c.id for c in IKO])
def test_iko_like(make_decider: Callable[..., Decider], case: Case) -> None:
    run_case(make_decider("iko_like"), case)


@pytest.mark.parametrize(("purpose", "categories", "options", "field"), [
    ("no_such_purpose", ["user.name"], {}, "decide.purpose"),
    ("marketing.advertising", ["user.name"], {}, "decide.purpose"),  # not prohibited here
    ("essential.service", ["user.genome"], {}, "decide.categories[0]"),
    ("essential.service", [], {}, "decide.categories"),
    ("essential.service", ["user.name"], {"recipient": "nobody"}, "decide.recipient"),
    ("essential.service", ["user.name"], {"actor": "janitor"}, "actor"),
])
def test_unknown_input_is_an_error_never_an_allow(make_decider: Callable[..., Decider],
                                                  purpose: str, categories: list[str],
                                                  options: dict[str, str], field: str) -> None:
    decider = make_decider("ikcon_like")
    subject = Subject.of(email="ada@example.com", age=30)
    with pytest.raises(InputError) as err:
        decider.decide(subject, purpose, categories, **options)
    assert field in [p.location.field_path() for p in err.value.problems]
    with pytest.raises(InputError):
        decider.decide_from_policy(subject, purpose, categories, **options)


def test_unknown_subject_is_an_error(make_decider: Callable[..., Decider]) -> None:
    decider = make_decider("ikcon_like")
    with pytest.raises(InputError, match="subject kind"):
        decider.decide(Subject.of(email="a@b.example", kind="alien"), "essential.service",
                       ["user.name"])
    with pytest.raises(InputError, match="at least one identity"):
        Subject.of(age=30)
    with pytest.raises(InputError, match="email") as err:
        Subject.of(email="not-an-address")
    assert "not-an-address" not in str(err.value)  # never echo identity values


def test_a_single_category_may_be_a_string(make_decider: Callable[..., Decider]) -> None:
    decider = make_decider("ikcon_like")
    subject = Subject.of(email="ada@example.com", age=30)
    assert decider.decide(subject, "essential.service", "user.name").allowed


def test_sale_and_unsafe_transfers_denied_even_without_lint(
        make_decider: Callable[..., Decider], local_kw: object) -> None:
    """Policy objects built in code skip lint: the decision point still refuses."""
    base = make_decider("ikcon_like").policy
    purposes = dict(base.purposes)
    purposes["essential.service"] = purposes["essential.service"].model_copy(
        update={"sale": True})
    recipients = dict(base.recipients)
    recipients["hosting"] = recipients["hosting"].model_copy(
        update={"countries": ["CN", "US", "DE"], "safeguard": Safeguard.NONE})
    policy = base.model_copy(update={"purposes": purposes, "recipients": recipients})
    decider = Decider(policy, local_kw)  # type: ignore[arg-type]
    subject = Subject.of(email="ada@example.com", age=30)
    decision = decider.decide(subject, "essential.service", ["user.name"], recipient="hosting")
    assert [r.clause for r in decision.reasons] == [
        "promises[0].enforced_by[0]", "recipients.hosting.safeguard"]
    assert "CN" in decision.reasons[1].message and "US" not in decision.reasons[1].message
    assert decision == decider.decide_from_policy(subject, "essential.service", ["user.name"],
                                                  recipient="hosting")
