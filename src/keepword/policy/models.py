"""The policy format (``policy.yaml``) as pydantic models.

Every model forbids unknown keys: a misspelt key must be an error, never a
silently dropped promise. Cross-references (a purpose naming a category, a
recipient naming a purpose...) are checked by ``keepword.policy.lint`` so the
error can point at the exact line.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from keepword.durations import Duration

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Country = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}|EEA|\*)$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO".split()
)
# Countries with an EU adequacy decision (Art. 45) as of 2025.
ADEQUATE = frozenset("AD AR CA FO GG IL IM JP JE NZ KR CH GB UY US".split())


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class LegalBasis(StrEnum):
    """GDPR Art. 6(1)(a)-(f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTEREST = "vital_interest"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"


class Art9Condition(StrEnum):
    """GDPR Art. 9(2)(a)-(j): the condition that lifts the ban on special categories."""

    EXPLICIT_CONSENT = "explicit_consent"  # (a)
    EMPLOYMENT = "employment_social_security"  # (b)
    VITAL_INTERESTS = "vital_interests"  # (c)
    NOT_FOR_PROFIT = "not_for_profit_body"  # (d)
    MADE_PUBLIC = "manifestly_made_public"  # (e)
    LEGAL_CLAIMS = "legal_claims"  # (f)
    PUBLIC_INTEREST = "substantial_public_interest"  # (g)
    HEALTH_CARE = "health_or_social_care"  # (h)
    PUBLIC_HEALTH = "public_health"  # (i)
    ARCHIVING = "archiving_research_statistics"  # (j)


class RecipientKind(StrEnum):
    PROCESSOR = "processor"
    PARTNER = "partner"
    AFFILIATE = "affiliate"
    OTHER_USERS = "other_users"
    ORGANISATION_ADMINISTRATOR = "organisation_administrator"
    INTEGRATION = "integration"
    REVIEW_SITE = "review_site"
    AUTHORITY = "authority"


class Safeguard(StrEnum):
    """GDPR Chapter V: how a transfer outside the EEA is made lawful."""

    ADEQUACY = "adequacy"  # Art. 45
    SCC = "scc"  # Art. 46(2)(c)
    BCR = "bcr"  # Art. 47
    DEROGATION = "derogation"  # Art. 49
    NONE = "none"


class Right(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"
    COMPLAINT = "complaint"
    OPT_OUT_OF_SALE = "opt_out_of_sale"


class Regulation(StrEnum):
    GDPR = "gdpr"
    CCPA = "ccpa"


class RetentionAction(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"


class Source(StrEnum):
    """Where a category of data comes from (Art. 13 vs Art. 14)."""

    SUBJECT = "subject"  # given by the person
    AUTOMATIC = "automatic"  # observed: devices, logs, cookies
    THIRD_PARTY = "third_party"  # bought, public databases, social platforms
    INTEGRATION = "integration"  # an integration the subject opted into
    OTHER_USERS = "other_users"  # entered by another user (a contact, a tag)


class Contact(Strict):
    name: Text
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    url: str | None = None


class Authority(Strict):
    name: Text
    country: Country
    url: str | None = None


class Organisation(Strict):
    name: Text
    legal_name: str | None = None
    country: Country
    address: str | None = None
    website: str | None = None
    contact: Contact
    dpo: Contact | None = None
    eu_representative: Contact | None = None
    supervisory_authority: Authority


class Subject(Strict):
    """A kind of data subject (fideslang data_subject key)."""

    name: Text
    description: str | None = None


class Category(Strict):
    """A data category (fideslang data_category key)."""

    name: Text
    description: str | None = None
    special: bool = False
    condition: Art9Condition | None = None
    sources: list[Source] = Field(default_factory=lambda: [Source.SUBJECT])
    source_detail: str | None = None

    @model_validator(mode="after")
    def _special_needs_condition(self) -> Category:
        if self.special and self.condition is None:
            raise ValueError("a special category needs its GDPR Art. 9(2) condition")
        if not self.special and self.condition is not None:
            raise ValueError("'condition' is only for special categories (set special: true)")
        return self


class Purpose(Strict):
    """A purpose of processing (fideslang data_use) with its legal basis."""

    name: Text
    description: Text
    data_use: Key | None = None  # fideslang data_use; defaults to the purpose key
    legal_basis: LegalBasis
    legitimate_interest: str | None = None  # the interest, when the basis is LI
    legal_obligation: str | None = None  # the law, when the basis is legal obligation
    categories: list[Key]
    subjects: list[Key]
    sale: bool = False
    share: bool = False  # CCPA "sharing" for cross-context behavioural advertising
    advertising: bool = False
    profiling: bool = False
    direct_marketing: bool = False
    automated_decisions: bool = False

    @model_validator(mode="after")
    def _basis_details(self) -> Purpose:
        if self.legal_basis is LegalBasis.LEGITIMATE_INTEREST and not self.legitimate_interest:
            raise ValueError(
                "legitimate interest needs 'legitimate_interest': the interest pursued")
        if self.legal_basis is LegalBasis.LEGAL_OBLIGATION and not self.legal_obligation:
            raise ValueError("legal obligation needs 'legal_obligation': the law that requires it")
        return self


class Recipient(Strict):
    name: Text
    kind: RecipientKind
    description: str | None = None
    purposes: list[Key]
    categories: list[Key]
    countries: list[Country]
    safeguard: Safeguard = Safeguard.NONE
    safeguard_detail: str | None = None
    requires_consent: bool = False  # disclosure only "with your approval"
    notify_on_erasure: bool = True  # Art. 19
    webhook_env: str | None = None  # env var holding the Art. 19 / OpenDSR endpoint


class RetentionException(Strict):
    """Data a retention rule or an erasure must keep, and the ground for keeping it."""

    id: Slug
    description: Text
    categories: list[Key]
    period: Duration | None = None  # None: kept as long as the ground lasts
    ground: Text  # the law or interest, e.g. "tax law: invoices 10 years"
    legal_basis: LegalBasis = LegalBasis.LEGAL_OBLIGATION
    applies_to_erasure: bool = True  # also keeps the data when the subject asks to erase


class RetentionRule(Strict):
    id: Slug
    description: Text
    categories: list[Key] = Field(default_factory=list)
    purposes: list[Key] = Field(default_factory=list)
    period: Duration
    anchor: Key  # the event the period runs from, e.g. account.deactivated
    action: RetentionAction = RetentionAction.DELETE
    exceptions: list[RetentionException] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scope(self) -> RetentionRule:
        if not self.categories and not self.purposes:
            raise ValueError("a retention rule needs 'categories' or 'purposes'")
        return self


class Deadline(Strict):
    respond_within: Duration
    extension: Duration


DEFAULT_DEADLINES: dict[Regulation, Deadline] = {
    Regulation.GDPR: Deadline(respond_within=Duration(months=1), extension=Duration(months=2)),
    Regulation.CCPA: Deadline(respond_within=Duration(days=45), extension=Duration(days=45)),
}


class Rights(Strict):
    honoured: list[Right]
    deadlines: dict[Regulation, Deadline] = Field(default_factory=dict)
    complaint_contact: str | None = None  # where the subject may complain (Art. 77)
    channels: list[str] = Field(default_factory=list)  # e.g. privacy center, email

    def deadline(self, regulation: Regulation) -> Deadline:
        return self.deadlines.get(regulation, DEFAULT_DEADLINES[regulation])


class TenantIsolation(Strict):
    """Categories only users of the owning tenant may see (IKO: tagged companies, CRM)."""

    description: Text
    categories: list[Key]
    never_visible_to: list[RecipientKind | Literal["system_administrator"]] = Field(
        default_factory=list)


class MechanismRef(Strict):
    """The keepword mechanism that keeps a promise, and what it applies to."""

    mechanism: Key
    target: str | None = None


class Promise(Strict):
    id: Slug
    text: Text
    source: Text  # the section of the published policy, e.g. "§9.3"
    enforced_by: list[MechanismRef] = Field(default_factory=list)


class Policy(Strict):
    keepword: Literal[1] = 1  # format version
    organisation: Organisation
    regulations: list[Regulation] = Field(default_factory=lambda: [Regulation.GDPR])
    subjects: dict[Key, Subject]
    categories: dict[Key, Category]
    purposes: dict[Key, Purpose]
    recipients: dict[Slug, Recipient] = Field(default_factory=dict)
    retention: list[RetentionRule] = Field(default_factory=list)
    rights: Rights
    minimum_age: int | None = Field(default=None, ge=0, le=21)
    prohibited_uses: list[Key] = Field(default_factory=list)
    tenant_isolation: TenantIsolation | None = None
    promises: list[Promise] = Field(default_factory=list)

    def data_use(self, purpose_key: str) -> str:
        return self.purposes[purpose_key].data_use or purpose_key
