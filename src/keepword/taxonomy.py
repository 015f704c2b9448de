"""Keys compatible with the fideslang default taxonomy.

Policies and data maps use fideslang's dotted keys (``user.contact.email``,
``marketing.advertising``, ``customer``) so that datasets can be exchanged with
Fides. Custom keys are allowed; they should extend a known key (a custom
``user.contact.email.work`` still *is* contact data), which ``known_ancestor``
finds. Hierarchy is by prefix: ``user.contact`` covers ``user.contact.email``.
"""

from __future__ import annotations

import re
from typing import Literal

TaxonomyKind = Literal["data_category", "data_use", "data_subject"]

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")

DATA_CATEGORIES: frozenset[str] = frozenset("""
system system.authentication system.operations
user user.account user.account.settings user.account.username
user.authorization user.authorization.biometric user.authorization.credentials
user.authorization.password
user.behavior user.behavior.browsing_history user.behavior.media_consumption
user.behavior.purchase_history user.behavior.search_history
user.biometric user.biometric.health user.childrens
user.contact user.contact.address user.contact.address.city user.contact.address.country
user.contact.address.postal_code user.contact.address.state user.contact.address.street
user.contact.email user.contact.fax_number user.contact.organization user.contact.phone_number
user.contact.url
user.content user.content.private user.content.public user.content.self_image
user.criminal_history
user.demographic user.demographic.age_range user.demographic.date_of_birth
user.demographic.gender user.demographic.language user.demographic.marital_status
user.demographic.political_opinion user.demographic.profile user.demographic.race_ethnicity
user.demographic.religious_belief user.demographic.sexual_orientation
user.device user.device.cookie user.device.cookie_id user.device.device_id
user.device.ip_address
user.financial user.financial.account_number user.financial.bank_account
user.financial.credit_card
user.government_id user.government_id.birth_certificate user.government_id.drivers_license_number
user.government_id.immigration user.government_id.national_identification_number
user.government_id.passport_number user.government_id.vehicle_registration
user.health_and_medical user.health_and_medical.genetic
user.health_and_medical.insurance_beneficiary_id user.health_and_medical.record_id
user.job_title
user.location user.location.imprecise user.location.precise
user.name user.name.first user.name.last
user.payment
user.privacy_preferences
user.sensor user.social user.telemetry
user.unique_id user.unique_id.pseudonymous
user.workplace
""".split())

DATA_USES: frozenset[str] = frozenset("""
analytics analytics.reporting analytics.reporting.ad_performance
analytics.reporting.campaign_insights analytics.reporting.content_performance
analytics.reporting.system
collect employment employment.recruitment
essential essential.fraud_detection essential.legal_obligation essential.service
essential.service.authentication essential.service.notifications
essential.service.notifications.email essential.service.notifications.sms
essential.service.operations essential.service.operations.support
essential.service.payment_processing essential.service.security essential.service.upgrades
finance finance.accounting
functional functional.service functional.service.improve functional.storage
marketing marketing.advertising marketing.advertising.first_party
marketing.advertising.first_party.contextual marketing.advertising.first_party.targeted
marketing.advertising.frequency_capping marketing.advertising.negative_targeting
marketing.advertising.profiling marketing.advertising.third_party
marketing.advertising.third_party.targeted
marketing.communications marketing.communications.email marketing.communications.sms
personalize personalize.content personalize.content.limited
personalize.content.profiled personalize.system
sales third_party_sharing third_party_sharing.legal_obligation
train_ai_system
""".split())

DATA_SUBJECTS: frozenset[str] = frozenset("""
anonymous_user citizen_voter commuter consultant customer employee job_applicant
next_of_kin passenger patient prospect shareholder supplier_vendor trainee visitor
""".split())

_BY_KIND: dict[TaxonomyKind, frozenset[str]] = {
    "data_category": DATA_CATEGORIES,
    "data_use": DATA_USES,
    "data_subject": DATA_SUBJECTS,
}


def is_valid_key(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


def ancestors(key: str) -> list[str]:
    """``a.b.c`` -> ``[a.b.c, a.b, a]`` (the key itself first)."""
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def covers(parent: str, key: str) -> bool:
    """True when ``key`` is ``parent`` or one of its descendants."""
    return key == parent or key.startswith(parent + ".")


def known_ancestor(kind: TaxonomyKind, key: str) -> str | None:
    """The deepest fideslang key that is ``key`` or one of its ancestors."""
    known = _BY_KIND[kind]
    return next((a for a in ancestors(key) if a in known), None)


def is_known(kind: TaxonomyKind, key: str) -> bool:
    return key in _BY_KIND[kind]
