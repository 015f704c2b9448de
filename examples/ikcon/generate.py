"""Realistic demo databases for the Ikcon Global example deployment.

Two stores, matching ``datasets/*.yaml``: ``ikcon_app`` (accounts, organisations,
devices, address books, calls, messages, shared content, billing, support,
integrations, usage and cookie logs) and ``ikcon_marketing`` (subscribers,
per-channel preferences, third-party leads, campaign events).

Deterministic: the same ``seed``, ``size`` and ``now`` give the same rows on
SQLite, PostgreSQL and MariaDB. ``now`` defaults to today (00:00 UTC), so ages
and retention periods stay meaningful on the day the demo runs ("15 years old"
stays under 16). A few planted people with fixed identities (``Manifest.people``)
have data in many tables so requests can be demonstrated on them.

    python examples/ikcon/generate.py --out DIR [--size 200] [--seed 16]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from faker import Faker
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url

Row = dict[str, Any]
APP, MKT = "ikcon_app", "ikcon_marketing"

# --------------------------------------------------------------------------- schema


def _id() -> Column[int]:
    # Ids are assigned by the generator (deterministic across backends).
    return Column("id", Integer, primary_key=True, autoincrement=False)


def _fk(column: str, target: str, *, nullable: bool = True, **kw: Any) -> Column[int]:
    return Column(column, Integer, ForeignKey(target, **kw), nullable=nullable, index=True)


def _s(name: str, length: int, *, nullable: bool = True, unique: bool = False) -> Column[str]:
    return Column(name, String(length), nullable=nullable, unique=unique)


def _ts(name: str, *, nullable: bool = True) -> Column[datetime]:
    return Column(name, DateTime(), nullable=nullable)


def _table(name: str, md: MetaData, *cols: Any) -> Table:
    return Table(name, md, *cols, mysql_charset="utf8mb4")


def app_metadata() -> MetaData:
    """The ``ikcon_app`` schema: the product's own database."""
    md = MetaData()
    _table("organisations", md, _id(), _s("name", 120, nullable=False),
          _s("domain", 120, nullable=False), _s("country", 2, nullable=False),
          _s("plan", 20, nullable=False),
          _fk("admin_user_id", "users.id", use_alter=True, ondelete="SET NULL",
              name="fk_organisations_admin_user_id"),
          _ts("created_at", nullable=False))
    _table("users", md, _id(), _s("account_id", 20, nullable=False, unique=True),
          _fk("organisation_id", "organisations.id"), _s("role", 10), _s("title", 10),
          _s("full_name", 120, nullable=False), _s("username", 80, nullable=False, unique=True),
          _s("email", 255, nullable=False, unique=True), _s("phone", 20),
          _s("job_title", 120), _s("company_name", 120), _s("street", 160), _s("city", 80),
          _s("postal_code", 20), _s("country", 2), Column("birth_date", Date),
          _s("avatar_url", 255), _s("password_hash", 128), Column("preferences", JSON),
          _ts("created_at", nullable=False), _ts("deactivated_at"))
    _table("devices", md, _id(), _fk("user_id", "users.id", nullable=False),
          _s("device_identifier", 64, nullable=False), _s("kind", 20, nullable=False),
          _s("model", 80), _s("os", 40), _s("os_version", 20), _s("line_number", 20),
          Column("configuration", JSON), _ts("first_seen_at"), _ts("last_seen_at"))
    _table("integration_grants", md, _id(), _fk("user_id", "users.id", nullable=False),
          _fk("installed_by_user_id", "users.id"), _s("provider", 40, nullable=False),
          _s("recipient", 60, nullable=False), _s("scopes", 255),
          _ts("granted_at", nullable=False), _ts("revoked_at"))
    _table("contacts", md, _id(), _fk("owner_user_id", "users.id", nullable=False),
          _s("full_name", 120, nullable=False), _s("email", 255), _s("phone", 20),
          _s("company", 120), _s("source", 40, nullable=False),
          _fk("grant_id", "integration_grants.id"), _ts("created_at", nullable=False))
    _table("calendar_events", md, _id(), _fk("grant_id", "integration_grants.id", nullable=False),
          _fk("user_id", "users.id", nullable=False), _s("title", 200), _s("location", 200),
          _ts("starts_at"), _ts("ends_at"))
    _table("calls", md, _id(), _s("kind", 20, nullable=False), _fk("host_user_id", "users.id"),
          _fk("calendar_event_id", "calendar_events.id", ondelete="SET NULL"), _s("title", 200),
          _ts("started_at", nullable=False), _ts("ended_at", nullable=False),
          Column("duration_seconds", Integer))
    _table("call_participants", md, _id(), _fk("call_id", "calls.id", nullable=False),
          _fk("user_id", "users.id"), _s("external_phone", 20), _s("display_name", 120),
          _ts("joined_at"), _ts("left_at"), _s("ip_address", 45),
          _fk("device_id", "devices.id", ondelete="SET NULL"))
    _table("messages", md, _id(), _fk("sender_id", "users.id"), _s("channel", 10, nullable=False),
          Column("body", Text, nullable=False), _ts("sent_at", nullable=False))
    _table("message_recipients", md,
          Column("message_id", Integer, ForeignKey("messages.id"), primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), primary_key=True, index=True),
          _ts("read_at"))
    _table("shared_content", md, _id(), _fk("owner_user_id", "users.id", nullable=False),
          _fk("organisation_id", "organisations.id"), _s("title", 200, nullable=False),
          _s("author", 120), Column("abstract", Text), _s("keywords", 255),
          Column("size_bytes", BigInteger), _s("mime_type", 80), _s("storage_url", 255),
          _ts("created_at", nullable=False))
    _table("content_shares", md,
          Column("content_id", Integer, ForeignKey("shared_content.id"), primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), primary_key=True, index=True),
          _ts("shared_at"))
    _billing_tables(md)
    _log_tables(md)
    return md


def _billing_tables(md: MetaData) -> None:
    _table("invoices", md, _id(), _s("number", 20, nullable=False, unique=True),
          _fk("user_id", "users.id", nullable=False), _fk("organisation_id", "organisations.id"),
          _s("billing_name", 120, nullable=False), _s("billing_email", 255),
          _s("billing_address", 255), _s("billing_country", 2), _s("description", 200),
          Column("amount_cents", Integer, nullable=False), _s("currency", 3, nullable=False),
          _ts("issued_at", nullable=False))
    # No card numbers: only what the payment processor hands back (brand, last4, token).
    _table("payments", md, _id(), _fk("invoice_id", "invoices.id", nullable=False),
          _fk("user_id", "users.id", nullable=False), _s("method", 10, nullable=False),
          _s("card_brand", 20), _s("card_last4", 4), _s("card_token", 40), _s("iban_last4", 4),
          Column("amount_cents", Integer, nullable=False), _s("currency", 3, nullable=False),
          _ts("paid_at", nullable=False))
    _table("support_tickets", md, _id(), _fk("user_id", "users.id"),
          _s("email", 255, nullable=False), _s("name", 120), _s("subject", 200),
          Column("body", Text), Column("health_note", Text), _ts("explicit_consent_at"),
          _ts("created_at", nullable=False), _ts("closed_at"))


def _log_tables(md: MetaData) -> None:
    _table("usage_logs", md, _id(), _fk("user_id", "users.id"), _s("cookie_id", 36),
          _s("ip_address", 45), _s("user_agent", 255), _s("isp", 80),
          _s("event", 40, nullable=False), _s("path", 200), _ts("occurred_at", nullable=False))
    _table("cookie_logs", md, _id(), _s("cookie_id", 36, nullable=False, unique=True),
          _fk("user_id", "users.id"), _s("ip_address", 45), _s("user_agent", 255),
          Column("consent", JSON), _ts("first_seen_at", nullable=False),
          _ts("last_seen_at", nullable=False))


def marketing_metadata() -> MetaData:
    """The ``ikcon_marketing`` schema: the marketing team's separate store."""
    md = MetaData()
    _table("leads", md, _id(), _s("full_name", 120, nullable=False),
          _s("email", 255, nullable=False, unique=True), _s("postal_address", 255),
          _s("city", 80), _s("country", 2), _s("source", 60, nullable=False),
          _ts("acquired_at", nullable=False), _ts("last_interest_at", nullable=False))
    _table("subscribers", md, _id(), _s("email", 255, nullable=False, unique=True),
          _s("phone", 20), _s("full_name", 120), _s("account_id", 20),
          _fk("lead_id", "leads.id"), _ts("subscribed_at", nullable=False),
          _ts("last_interest_at", nullable=False))
    _table("marketing_preferences", md,
          Column("subscriber_id", Integer, ForeignKey("subscribers.id"), primary_key=True),
          Column("channel", String(10), primary_key=True),
          Column("opted_in", Boolean, nullable=False), _s("consent_source", 40),
          _ts("updated_at", nullable=False), _ts("last_interest_at"))
    _table("campaign_events", md, _id(), _fk("subscriber_id", "subscribers.id"),
          _fk("lead_id", "leads.id"), _s("campaign", 80, nullable=False),
          _s("channel", 10, nullable=False), _s("partner", 60),
          _ts("sent_at", nullable=False), _ts("opened_at"), _ts("clicked_at"))
    return md


SCHEMAS = {APP: app_metadata, MKT: marketing_metadata}

# --------------------------------------------------------------------------- people

# country -> (Faker locale, E.164 prefix, random digits after it, currency)
COUNTRIES: dict[str, tuple[str, str, int, str]] = {
    "DE": ("de_DE", "+4915", 9, "EUR"), "FR": ("fr_FR", "+336", 8, "EUR"),
    "IE": ("en_IE", "+35385", 7, "EUR"), "NL": ("nl_NL", "+316", 8, "EUR"),
    "ES": ("es_ES", "+346", 8, "EUR"), "IT": ("it_IT", "+393", 9, "EUR"),
    "PL": ("pl_PL", "+485", 8, "PLN"), "SE": ("sv_SE", "+467", 8, "SEK"),
    "GB": ("en_GB", "+447", 9, "GBP"), "US": ("en_US", "+1415", 7, "USD"),
    "IN": ("en_IN", "+919", 9, "INR"),
}
# Two in three customers are in the EEA; the rest in the UK, US and India.
COUNTRY_WEIGHTS = {"DE": 14, "FR": 10, "IE": 6, "NL": 8, "ES": 7, "IT": 7, "PL": 6, "SE": 5,
                   "GB": 14, "US": 15, "IN": 8}
TIMEZONES = {"DE": "Europe/Berlin", "FR": "Europe/Paris", "IE": "Europe/Dublin",
             "NL": "Europe/Amsterdam", "ES": "Europe/Madrid", "IT": "Europe/Rome",
             "PL": "Europe/Warsaw", "SE": "Europe/Stockholm", "GB": "Europe/London",
             "US": "America/New_York", "IN": "Asia/Kolkata"}
POOL_SIZE = 60
POOL_FIELDS = ("first_name", "last_name", "company", "city", "street_address", "postcode", "job",
               "catch_phrase")
FREEMAIL = ("example.com", "example.net", "example.org", "mail.example")
_FAKERS: dict[str, Faker] = {}  # built once per process: Faker locales are slow to load
# Names, cities, companies... drawn once per process with a fixed seed: a vocabulary the
# build's own seed then picks from (so another seed still gives other people).
_POOLS: dict[str, dict[str, list[str]]] = {}


def _fakers(seed: int) -> dict[str, Faker]:
    """One Faker per locale, seeded for ``seed`` (after the pools are drawn)."""
    for locale, *_ in COUNTRIES.values():
        if locale not in _FAKERS:
            _FAKERS[locale] = fake = Faker(locale)
            for provider in fake.get_providers():
                # it_IT builds its city list from a set: its order changes per process
                cities = getattr(provider, "cities", None)
                if isinstance(cities, list):
                    cities.sort()
    for country, (locale, *_) in COUNTRIES.items():
        if country not in _POOLS:
            fake = _FAKERS[locale]
            fake.seed_instance(f"{country}:pool")
            _POOLS[country] = {f: [str(getattr(fake, f)()) for _ in range(POOL_SIZE)]
                               for f in POOL_FIELDS}
    for locale, fake in _FAKERS.items():
        fake.seed_instance(f"{seed}:{locale}:text")
    return _FAKERS


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in plain if c.isalnum()) or "user"


@dataclass
class _User:
    id: int
    account_id: str
    name: str
    email: str
    country: str
    org_id: int | None
    created: datetime
    deactivated: datetime | None
    planted: bool = False
    device_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Planted:
    key: str
    first: str
    last: str
    email: str
    phone: str
    country: str
    org: str | None = None  # planted organisation key
    role: str | None = None
    age: int | None = None
    deactivated_days_ago: int | None = None


PLANTED_ORG = ("Analytical Engines Ltd", "analytical-engines.example", "GB")
PLANTED = (
    _Planted("customer", "Ada", "Lovelace", "ada.lovelace@example.com", "+353851234567", "IE",
             age=36),
    _Planted("org_admin", "Charles", "Babbage", "charles.babbage@analytical-engines.example",
             "+447700900123", "GB", org="planted", role="admin", age=52),
    _Planted("managed_user", "Grace", "Hopper", "grace.hopper@analytical-engines.example",
             "+4915112345678", "DE", org="planted", role="member", age=41),
    _Planted("minor", "Jamie", "Young", "jamie.young@example.com", "+31612345678", "NL",
             age=15),
    _Planted("non_eea", "Katherine", "Johnson", "katherine.johnson@example.com",
             "+14155550142", "US", age=48),
    _Planted("deactivated", "Edsger", "Dijkstra", "edsger.dijkstra@example.com",
             "+31687654321", "NL", age=60, deactivated_days_ago=45),
)
# People who never signed up: a third-party marketing lead and an outside caller.
LEAD = {"email": "margaret.hamilton@example.org", "name": "Margaret Hamilton",
        "city": "Cambridge", "country": "US", "source": "public business register"}
CALLER = {"phone": "+33612345678", "name": "Marie Curie"}


@dataclass
class Manifest:
    """What ``build`` wrote: rows per ``dataset.table`` and the planted people."""

    rows: dict[str, int]
    people: dict[str, dict[str, str]]
    now: datetime
    seconds: float = 0.0


# --------------------------------------------------------------------------- generation


class _Gen:
    """Builds every row in memory (a few MB at size 200), then ``_load`` bulk-inserts."""

    def __init__(self, seed: int, size: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.fakers = _fakers(seed)
        self.size = max(size, 1)
        self.now = now
        self.rows: dict[str, list[Row]] = defaultdict(list)
        self.users: list[_User] = []
        self.people: dict[str, dict[str, str]] = {}
        self.by_key: dict[str, _User] = {}
        self.admin_of: dict[int, int] = {}  # organisation id -> admin user id
        self.agents = [self.fakers["en_US"].user_agent() for _ in range(40)]

    # -- helpers
    def add(self, key: str, **row: Any) -> int:
        if "id" not in row and not key.endswith(("_recipients", "_shares", "_preferences")):
            row = {"id": len(self.rows[key]) + 1, **row}
        self.rows[key].append(row)
        return int(row.get("id", 0))

    def ago(self, lo_days: float, hi_days: float) -> datetime:
        secs = self.rng.randint(int(lo_days * 86400), int(hi_days * 86400))
        return self.now - timedelta(seconds=secs)

    def after(self, start: datetime, hi_days: float) -> datetime:
        end = min(self.now, start + timedelta(days=hi_days))
        span = max(int((end - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randint(0, span))

    def fake(self, country: str) -> Faker:
        return self.fakers[COUNTRIES[country][0]]

    def pick(self, country: str, what: str) -> str:
        """A value from the country's pool (Faker's weighted pickers are slow per call)."""
        return self.rng.choice(_POOLS[country][what])

    def country(self) -> str:
        return self.rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]

    def phone(self, country: str) -> str:
        _, prefix, digits, _ = COUNTRIES[country]
        return prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(digits))

    def ip(self) -> str:
        if self.rng.random() < 0.15:
            return "2001:db8:" + ":".join(f"{self.rng.randint(0, 0xFFFF):x}" for _ in range(6))
        first = self.rng.choice([31, 46, 62, 81, 85, 92, 109, 151, 176, 185, 193, 212, 217])
        return ".".join(str(x) for x in (first, *(self.rng.randint(1, 254) for _ in range(3))))

    def birth_date(self, age: int) -> date:
        today = self.now.date()
        born = date(today.year - age, today.month, min(today.day, 28))
        return born - timedelta(days=self.rng.randint(30, 300))

    def cookie(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    # -- accounts
    def organisation(self, name: str, domain: str, country: str, plan: str) -> int:
        return self.add(f"{APP}.organisations", name=name, domain=domain, country=country,
                        plan=plan, admin_user_id=None, created_at=self.ago(400, 1200))

    def accounts(self) -> None:
        planted_org = self.organisation(*PLANTED_ORG, plan="business")
        for p in PLANTED:
            self.planted_user(p, planted_org if p.org else None)
        n_orgs = max(1, round(self.size * 0.4))
        for _ in range(n_orgs - 1):
            country = self.country()
            company = self.pick(country, "company")
            domain = f"{_ascii(company)[:24]}{len(self.rows[f'{APP}.organisations']) + 1}.example"
            org = self.organisation(company, domain, country,
                                    self.rng.choice(["team", "business", "enterprise"]))
            for i in range(self.rng.randint(2, 8)):
                where = country if self.rng.random() < 0.7 else self.country()
                self.random_user(where, org, domain, company, "admin" if i == 0 else "member")
        individuals = sum(1 for p in PLANTED if not p.org)
        for _ in range(max(0, self.size - n_orgs - individuals)):
            self.random_user(self.country(), None, None, None, "owner")

    def planted_user(self, p: _Planted, org: int | None) -> None:
        deactivated = (self.now - timedelta(days=p.deactivated_days_ago)
                       if p.deactivated_days_ago else None)
        company = PLANTED_ORG[0] if org else None
        u = self.user(p.country, p.first, p.last, p.email, phone=p.phone, org=org,
                      company=company, role=p.role or "owner", age=p.age or 40,
                      deactivated=deactivated, planted=True)
        self.by_key[p.key] = u
        self.people[p.key] = {"name": u.name, "email": u.email, "phone": p.phone,
                              "account_id": u.account_id, "country": p.country,
                              "user_id": str(u.id)}
        if p.age is not None:
            self.people[p.key]["age"] = str(p.age)

    def random_user(self, country: str, org: int | None, domain: str | None,
                    company: str | None, role: str) -> None:
        first, last = self.pick(country, "first_name"), self.pick(country, "last_name")
        uid = len(self.users) + 1
        email = f"{_ascii(first)}.{_ascii(last)}.{uid}@{domain or self.rng.choice(FREEMAIL)}"
        minor = org is None and self.rng.random() < 0.02  # a few under-16s slip in (§12)
        age = self.rng.randint(13, 15) if minor else self.rng.randint(18, 70)
        deactivated = self.ago(1, 300) if self.rng.random() < 0.06 else None
        phone = self.phone(country) if self.rng.random() < 0.8 else None
        self.user(country, first, last, email, phone=phone, org=org, company=company,
                  role=role, age=age, deactivated=deactivated)

    def user(self, country: str, first: str, last: str, email: str, *, phone: str | None,
             org: int | None, company: str | None, role: str, age: int,
             deactivated: datetime | None, planted: bool = False) -> _User:
        uid = len(self.users) + 1
        account_id = f"IK-{uid:06d}"
        created = self.ago(400, 1100) if planted else self.ago(31, 1100)
        if deactivated is not None and deactivated < created:
            created = deactivated - timedelta(days=200)
        name = f"{first} {last}"
        username = f"{_ascii(first)}.{_ascii(last)}" if planted else f"{_ascii(first)}{uid}"
        self.add(f"{APP}.users", id=uid, account_id=account_id, organisation_id=org, role=role,
                 title=self.rng.choice(["Mr", "Ms", "Dr", "Mx", None]), full_name=name,
                 username=username, email=email, phone=phone,
                 job_title=self.pick(country, "job")[:120],
                 company_name=company or (self.pick(country, "company")
                                          if self.rng.random() < 0.5 else None),
                 street=self.pick(country, "street_address")[:160],
                 city=self.pick(country, "city")[:80],
                 postal_code=self.pick(country, "postcode"), country=country,
                 birth_date=self.birth_date(age),
                 avatar_url=(f"https://cdn.ikcon.example/avatars/{account_id}.png"
                             if planted or self.rng.random() < 0.6 else None),
                 password_hash=f"pbkdf2_sha256$600000${self.rng.getrandbits(128):032x}",
                 preferences={"timezone": TIMEZONES[country], "theme": self.rng.choice(
                     ["light", "dark"]), "desktop_notifications": self.rng.random() < 0.7},
                 created_at=created, deactivated_at=deactivated)
        if role == "admin" and org is not None:
            self.admin_of[org] = uid
        u = _User(uid, account_id, name, email, country, org, created, deactivated, planted)
        self.users.append(u)
        return u

    def link_admins(self) -> None:
        for row in self.rows[f"{APP}.organisations"]:
            row["admin_user_id"] = self.admin_of.get(row["id"])

    # -- per-user activity
    DEVICE_KINDS: ClassVar[dict[str, tuple[list[str], str]]] = {
        "desk_phone": (["Yealink T54W", "Poly VVX 450", "Cisco 8851", "Grandstream GRP2614"],
                       "firmware"),
        "mobile_app": (["iPhone 14", "iPhone 15", "Pixel 8", "Galaxy S23"], "iOS/Android"),
        "softphone": (["Ikcon Softphone 5.2", "Ikcon Softphone 5.3"], "Windows/macOS"),
        "browser": (["Chrome 124", "Firefox 126", "Safari 17", "Edge 124"], "Windows/macOS"),
    }

    def devices(self, u: _User) -> None:
        for _ in range(self.rng.randint(1, 3)):
            kind = self.rng.choice(list(self.DEVICE_KINDS))
            models, oses = self.DEVICE_KINDS[kind]
            first = self.after(u.created, 30)
            ident = (f"{self.rng.getrandbits(48):012x}" if kind == "desk_phone"
                     else f"{self.rng.getrandbits(128):032x}")
            u.device_ids.append(self.add(
                f"{APP}.devices", user_id=u.id, device_identifier=ident, kind=kind,
                model=self.rng.choice(models), os=self.rng.choice(oses.split("/")),
                os_version=f"{self.rng.randint(10, 17)}.{self.rng.randint(0, 9)}",
                line_number=self.phone(u.country) if kind == "desk_phone" else None,
                configuration={"codec": self.rng.choice(["opus", "g722", "pcmu"]),
                               "do_not_disturb": self.rng.random() < 0.1},
                first_seen_at=first, last_seen_at=self.after(first, 900)))

    PAGES = ("/", "/pricing", "/features/conferencing", "/features/softphone", "/blog",
             "/app/calls", "/app/messages", "/app/contacts", "/app/files", "/app/settings")
    ISPS = ("Deutsche Telekom", "Orange", "Vodafone", "BT", "Comcast", "Jio", "Eir", "KPN",
            "Telefonica", "Telia")

    def web_activity(self, user_id: int | None, n_logs: int, since: datetime) -> None:
        cookie, ip, agent = self.cookie(), self.ip(), self.rng.choice(self.agents)
        first = self.after(since, 400)
        self.add(f"{APP}.cookie_logs", cookie_id=cookie, user_id=user_id, ip_address=ip,
                 user_agent=agent, consent={"necessary": True,
                                            "analytics": self.rng.random() < 0.6,
                                            "advertising": self.rng.random() < 0.3},
                 first_seen_at=first, last_seen_at=self.after(first, 500))
        isp = self.rng.choice(self.ISPS)
        for _ in range(n_logs):
            path = self.rng.choice(self.PAGES if user_id else self.PAGES[:5])
            self.add(f"{APP}.usage_logs", user_id=user_id, cookie_id=cookie, ip_address=ip,
                     user_agent=agent, isp=isp,
                     event="api_call" if path.startswith("/app/") else "page_view", path=path,
                     occurred_at=self.after(first, 600))

    def contacts(self, u: _User, n: int, source: str = "manual", grant: int | None = None
                 ) -> None:
        for _ in range(n):
            if self.users and self.rng.random() < 0.2:  # a colleague who is also a user
                other = self.rng.choice(self.users)
                name, email, company = other.name, other.email, None
                phone = self.phone(other.country) if self.rng.random() < 0.3 else None
            else:
                country = self.country()
                first, last = self.pick(country, "first_name"), self.pick(country, "last_name")
                name, company = f"{first} {last}", self.pick(country, "company")
                email = f"{_ascii(first)}.{_ascii(last)}{self.rng.randint(1, 999)}@example.net"
                phone = self.phone(country) if self.rng.random() < 0.6 else None
            self.add(f"{APP}.contacts", owner_user_id=u.id, full_name=name, email=email,
                     phone=phone, company=company, source=source, grant_id=grant,
                     created_at=self.after(u.created, 600))

    PROVIDERS = (
        ("google_calendar", "calendar_services", "calendar.events"),
        ("microsoft_365_calendar", "calendar_services", "Calendars.ReadWrite"),
        ("google_contacts", "address_book_services", "contacts.readonly"),
        ("microsoft_365_contacts", "address_book_services", "Contacts.Read"),
        ("salesforce", "third_party_apps", "api refresh_token"),
        ("zendesk", "third_party_apps", "read"),
    )

    def integrations(self, u: _User, n: int) -> None:
        for provider, recipient, scopes in self.rng.sample(self.PROVIDERS, n):
            admin = self.admin_of.get(u.org_id) if u.org_id else None
            by = admin if admin and self.rng.random() < 0.4 else u.id  # §5.3.3: admin installs
            granted = self.after(u.created, 300)
            revoked = self.after(granted, 300) if self.rng.random() < 0.25 else None
            grant = self.add(f"{APP}.integration_grants", user_id=u.id, installed_by_user_id=by,
                             provider=provider, recipient=recipient, scopes=scopes,
                             granted_at=granted, revoked_at=revoked)
            if recipient == "address_book_services":
                self.contacts(u, self.rng.randint(1, 4), provider, grant)
            elif recipient == "calendar_services":
                self.calendar(u, grant, granted)

    def calendar(self, u: _User, grant: int, since: datetime) -> None:
        for _ in range(self.rng.randint(1, 4)):
            start = self.after(since, 400)
            self.add(f"{APP}.calendar_events", grant_id=grant, user_id=u.id,
                     title=self.pick(u.country, "catch_phrase")[:200],
                     location=self.rng.choice(["Online", "Ikcon bridge",
                                               self.pick(u.country, "city")]),
                     starts_at=start, ends_at=start + timedelta(minutes=self.rng.choice(
                         [15, 30, 45, 60, 90])))

    TOPICS = ("Cannot log in", "Echo on desk phone", "Invoice question", "Porting my number",
              "Conference recording missing", "Accessibility of the softphone")

    def support(self, u: _User, health: bool = False) -> None:
        fake = self.fake(u.country)
        created = self.after(u.created, 800)
        consent = self.after(created, 0.01) if health else None
        self.add(f"{APP}.support_tickets", user_id=u.id, email=u.email, name=u.name,
                 subject=self.rng.choice(self.TOPICS), body=fake.paragraph(nb_sentences=3),
                 # §2.2: a medical condition, only ever given with explicit consent
                 health_note=("Hearing impairment: please enable live captions on calls."
                              if health else None), explicit_consent_at=consent,
                 created_at=created,
                 closed_at=self.after(created, 20) if self.rng.random() < 0.8 else None)

    # monthly price in cents: individual customer, organisation
    PLANS: ClassVar[dict[str, int]] = {"owner": 1200, "admin": 4900}

    def billing(self, u: _User, months: int, base: int) -> None:
        currency = COUNTRIES[u.country][3]
        street = self.pick(u.country, "street_address")
        for m in range(months):
            issued = (self.now - timedelta(days=30 * m + self.rng.randint(1, 5))).replace(
                hour=6, minute=0, second=0)
            if issued < u.created:
                break
            if u.deactivated is not None and issued > u.deactivated:
                continue
            amount = base + 100 * self.rng.randint(0, 9)
            inv = self.add(f"{APP}.invoices", number="", user_id=u.id, organisation_id=u.org_id,
                           billing_name=u.name, billing_email=u.email,
                           billing_address=street, billing_country=u.country,
                           description="Ikcon Cloud PBX, monthly", amount_cents=amount,
                           currency=currency, issued_at=issued)
            self.rows[f"{APP}.invoices"][-1]["number"] = f"INV-{issued.year}-{inv:06d}"
            if self.rng.random() < 0.92:
                self.payment(u, inv, amount, currency, issued)

    def payment(self, u: _User, inv: int, amount: int, currency: str, issued: datetime
                ) -> None:
        method = self.rng.choice(["card", "card", "sepa"] if currency == "EUR" else ["card"])
        card = method == "card"
        self.add(f"{APP}.payments", invoice_id=inv, user_id=u.id, method=method,
                 card_brand=self.rng.choice(["visa", "mastercard", "amex"]) if card else None,
                 card_last4=f"{self.rng.randint(0, 9999):04d}" if card else None,
                 card_token=f"tok_{self.rng.getrandbits(96):024x}" if card else None,
                 iban_last4=None if card else f"{self.rng.randint(0, 9999):04d}",
                 amount_cents=amount, currency=currency,
                 paid_at=min(self.now, issued + timedelta(days=self.rng.randint(0, 10))))

    def activity(self) -> None:
        for u in self.users:
            since = u.created
            self.devices(u)
            for _ in range(self.rng.randint(1, 2)):
                self.web_activity(u.id, self.rng.randint(2, 10), since)
            self.contacts(u, self.rng.randint(1 if u.planted else 0, 5))
            n_grants = 2 if u.planted else (self.rng.randint(1, 2) if self.rng.random() < 0.35
                                            else 0)
            self.integrations(u, n_grants)
            if u.planted or self.rng.random() < 0.12:
                self.support(u, health=not u.planted and self.rng.random() < 0.1)
            role = self.rows[f"{APP}.users"][u.id - 1]["role"]
            if role in self.PLANS:
                self.billing(u, 6 if u.planted else self.rng.randint(1, 12), self.PLANS[role])
        for _ in range(self.size * 2):  # visitors who never signed up
            self.web_activity(None, self.rng.randint(1, 4), self.now - timedelta(days=500))

    # -- communication between users (rows shared by several people)
    def index_peers(self) -> None:
        self.active = [u for u in self.users if u.deactivated is None]
        self.by_org: dict[int | None, list[_User]] = defaultdict(list)
        for u in self.active:
            self.by_org[u.org_id].append(u)

    def peers(self, u: _User, n: int) -> list[_User]:
        """``n`` other active users, mostly from ``u``'s organisation."""
        colleagues = self.by_org[u.org_id] if u.org_id else []
        pool = colleagues if len(colleagues) > 1 and self.rng.random() < 0.7 else self.active
        picked = self.rng.sample(pool, min(n + 1, len(pool)))
        return [x for x in picked if x.id != u.id][:n]

    def call(self, host: _User, kind: str, others: Sequence[_User], *,
             externals: Sequence[tuple[str, str]] = (), when: datetime | None = None,
             title: str | None = None) -> int:
        start = when or self.after(host.created, 1100)
        minutes = self.rng.randint(1, 90)
        end = start + timedelta(minutes=minutes)
        call = self.add(f"{APP}.calls", kind=kind, host_user_id=host.id,
                        calendar_event_id=None, title=title, started_at=start, ended_at=end,
                        duration_seconds=minutes * 60)
        for p in (host, *others):
            joined = start + timedelta(seconds=self.rng.randint(0, 120))
            self.add(f"{APP}.call_participants", call_id=call, user_id=p.id,
                     external_phone=None, display_name=p.name, joined_at=joined, left_at=end,
                     ip_address=self.ip(),
                     device_id=self.rng.choice(p.device_ids) if p.device_ids else None)
        for phone, name in externals:  # dial-in callers who have no account
            self.add(f"{APP}.call_participants", call_id=call, user_id=None,
                     external_phone=phone, display_name=name, joined_at=start, left_at=end,
                     ip_address=None, device_id=None)
        return call

    def calls(self) -> None:
        for _ in range(int(len(self.users) * 0.9)):
            host = self.rng.choice(self.active)
            kind = self.rng.choices(["call", "conference", "voice_broadcast"], [12, 7, 1])[0]
            n = {"call": 1, "conference": self.rng.randint(2, 5),
                 "voice_broadcast": self.rng.randint(5, 10)}[kind]
            externals = []
            if kind != "voice_broadcast" and self.rng.random() < 0.15:
                country = self.country()
                externals.append((self.phone(country), f"{self.pick(country, 'first_name')} "
                                  f"{self.pick(country, 'last_name')}"))
            title = (self.pick(host.country, "catch_phrase")[:200]
                     if kind == "conference" else None)
            self.call(host, kind, self.peers(host, n), externals=externals, title=title)

    def message(self, sender: _User, to: Sequence[_User], body: str,
                when: datetime | None = None, channel: str = "chat") -> None:
        sent = when or self.after(sender.created, 1100)
        msg = self.add(f"{APP}.messages", sender_id=sender.id, channel=channel, body=body,
                       sent_at=sent)
        for r in to:
            read = self.after(sent, 3) if self.rng.random() < 0.8 else None
            self.add(f"{APP}.message_recipients", message_id=msg, user_id=r.id, read_at=read)

    def messages(self) -> None:
        for _ in range(len(self.users) * 2):
            sender = self.rng.choice(self.active)
            to = self.peers(sender, self.rng.randint(1, 3))
            if to:
                body = self.fake(sender.country).sentence(nb_words=self.rng.randint(4, 16))
                self.message(sender, to, body,
                             channel="sms" if self.rng.random() < 0.15 else "chat")

    MIME = (("application/pdf", "pdf"), ("image/png", "png"), ("text/plain", "txt"),
            ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             "pptx"))

    def content(self, owner: _User, shared_with: Sequence[_User], title: str | None = None
                ) -> None:
        fake = self.fake(owner.country)
        title = title or fake.sentence(nb_words=4).rstrip(".")
        mime, ext = self.rng.choice(self.MIME)
        created = self.after(owner.created, 1000)
        cid = self.add(f"{APP}.shared_content", owner_user_id=owner.id,
                       organisation_id=owner.org_id, title=title[:200], author=owner.name,
                       abstract=fake.paragraph(nb_sentences=2),
                       keywords=", ".join(fake.words(3)),
                       size_bytes=self.rng.randint(10_000, 50_000_000), mime_type=mime,
                       storage_url="", created_at=created)
        self.rows[f"{APP}.shared_content"][-1]["storage_url"] = (
            f"https://files.ikcon.example/{owner.account_id}/{cid}.{ext}")
        for other in shared_with:
            self.add(f"{APP}.content_shares", content_id=cid, user_id=other.id,
                     shared_at=self.after(created, 30))

    def shared_content(self) -> None:
        for _ in range(int(len(self.users) * 0.6)):
            owner = self.rng.choice(self.users)
            self.content(owner, self.peers(owner, self.rng.randint(0, 3)))

    def link_calendar(self) -> None:
        """A third of conferences were scheduled from the host's connected calendar (§3.5)."""
        events: dict[int, list[int]] = defaultdict(list)
        for ev in self.rows[f"{APP}.calendar_events"]:
            events[ev["user_id"]].append(ev["id"])
        for call in self.rows[f"{APP}.calls"]:
            mine = events.get(call["host_user_id"])
            if call["kind"] == "conference" and mine and self.rng.random() < 0.33:
                call["calendar_event_id"] = self.rng.choice(mine)

    # -- the marketing store
    def subscriber(self, email: str, name: str, *, account_id: str | None, lead: int | None,
                   since: datetime, last_interest: datetime) -> int:
        phone = self.phone(self.country()) if self.rng.random() < 0.3 else None
        sub = self.add(f"{MKT}.subscribers", email=email, phone=phone, full_name=name,
                       account_id=account_id, lead_id=lead, subscribed_at=since,
                       last_interest_at=last_interest)
        channels = ["email"] + [c for c in ("sms", "phone", "post") if self.rng.random() < 0.4]
        for channel in channels:
            self.add(f"{MKT}.marketing_preferences", subscriber_id=sub, channel=channel,
                     opted_in=self.rng.random() < 0.85,
                     consent_source=self.rng.choice(
                         ["signup_form", "account_settings", "webinar", "preference_center"]),
                     updated_at=self.after(since, 30),
                     last_interest_at=min(last_interest, self.after(since, 1100)))
        return sub

    CAMPAIGNS = ("Spring webinar: hybrid work", "Softphone 5.3 launch", "Year-end offer",
                 "Conferencing tips newsletter", "Partner event invitation")

    def campaign(self, since: datetime, n: int, *, subscriber: int | None = None,
                 lead: int | None = None) -> None:
        for _ in range(n):
            sent = self.after(since, 700)
            opened = self.after(sent, 5) if self.rng.random() < 0.4 else None
            clicked = self.after(opened, 1) if opened and self.rng.random() < 0.4 else None
            self.add(f"{MKT}.campaign_events", subscriber_id=subscriber, lead_id=lead,
                     campaign=self.rng.choice(self.CAMPAIGNS),
                     channel=self.rng.choice(["email", "email", "sms"]),
                     partner="marketing_partners" if self.rng.random() < 0.4 else None,
                     sent_at=sent, opened_at=opened, clicked_at=clicked)

    LEAD_SOURCES = ("public business register", "LinkedIn", "trade fair attendee list",
                    "industry directory", "XING")

    def lead(self, name: str, email: str, country: str, *, city: str, address: str | None,
             source: str, acquired: datetime, last_interest: datetime) -> int:
        return self.add(f"{MKT}.leads", full_name=name, email=email, postal_address=address,
                        city=city, country=country, source=source, acquired_at=acquired,
                        last_interest_at=last_interest)

    def marketing(self) -> None:
        for i in range(self.size):
            country = self.country()
            first, last = self.pick(country, "first_name"), self.pick(country, "last_name")
            acquired = self.ago(30, 1100)
            interest = self.after(acquired, 900)
            email = f"{_ascii(first)}.{_ascii(last)}.l{i + 1}@{self.rng.choice(FREEMAIL)}"
            address = (self.pick(country, "street_address")[:255]
                       if self.rng.random() < 0.5 else None)
            lid = self.lead(f"{first} {last}", email, country,
                            city=self.pick(country, "city")[:80], address=address,
                            source=self.rng.choice(self.LEAD_SOURCES), acquired=acquired,
                            last_interest=interest)
            self.campaign(acquired, self.rng.randint(0, 2), lead=lid)
            if self.rng.random() < 0.1:  # a lead who subscribed to the newsletter
                sub = self.subscriber(email, f"{first} {last}", account_id=None, lead=lid,
                                      since=interest, last_interest=self.after(interest, 300))
                self.campaign(interest, self.rng.randint(0, 2), subscriber=sub)
        for u in self.users:
            if u.planted or self.rng.random() >= 0.6:
                continue
            since = self.after(u.created, 60)
            interest = self.after(since, 1000)
            sub = self.subscriber(u.email, u.name, account_id=u.account_id, lead=None,
                                  since=since, last_interest=interest)
            self.campaign(since, self.rng.randint(0, 4), subscriber=sub)

    # -- the planted people's stories (fixed, so demos and tests can rely on them)
    def planted(self) -> None:
        ada, babbage, grace = (self.by_key[k] for k in ("customer", "org_admin", "managed_user"))
        kath, minor, old = (self.by_key[k] for k in ("non_eea", "minor", "deactivated"))
        day = timedelta(days=1)
        self.call(ada, "conference", [grace, kath], externals=[(CALLER["phone"], CALLER["name"])],
                  when=self.now - 20 * day, title="Analytical engine design review")
        self.call(kath, "call", [ada], when=self.now - 3 * day)
        self.call(babbage, "conference", [grace, ada], when=self.now - 40 * day,
                  title="Difference engine budget")
        self.message(ada, [grace, kath], "Notes from the design review are in the shared folder.",
                     when=self.now - 19 * day)
        self.message(kath, [ada], "Trajectory figures attached, please check.",
                     when=self.now - 10 * day)
        self.message(grace, [ada, babbage], "Found a moth in relay 70, panel F.",
                     when=self.now - 5 * day)
        self.message(minor, [ada], "Hi! Can I join the coding club call?",
                     when=self.now - 2 * day)
        self.content(ada, [grace, kath], "Notes on the Analytical Engine")
        self.content(grace, [ada, babbage], "COBOL compiler design")
        self.content(old, [ada], "On the cruelty of really teaching computing science")
        self.support(ada, health=True)
        # Ada's address book holds the lead and the outside caller (§3.5: other people's data)
        self.add(f"{APP}.contacts", owner_user_id=ada.id, full_name=LEAD["name"],
                 email=LEAD["email"], phone=None, company="MIT Instrumentation Laboratory",
                 source="manual", grant_id=None, created_at=self.now - 90 * day)
        self.add(f"{APP}.contacts", owner_user_id=ada.id, full_name=CALLER["name"], email=None,
                 phone=CALLER["phone"], company=None, source="manual", grant_id=None,
                 created_at=self.now - 60 * day)
        self.planted_marketing(ada, grace, kath, old)

    def planted_marketing(self, *people: _User) -> None:
        day = timedelta(days=1)
        # the deactivated user last showed interest 3 years ago: past §9.3 retention
        for u, interest in zip(people, (10, 30, 60, 3 * 365), strict=True):
            since = u.created + day
            last = max(since, self.now - interest * day)
            sub = self.subscriber(u.email, u.name, account_id=u.account_id, lead=None,
                                  since=since, last_interest=last)
            self.campaign(since, 2, subscriber=sub)
        acquired = self.now - 400 * day
        lid = self.lead(LEAD["name"], LEAD["email"], LEAD["country"], city=LEAD["city"],
                        address=None, source=LEAD["source"], acquired=acquired,
                        last_interest=self.now - 240 * day)
        self.campaign(acquired, 2, lead=lid)
        self.people["lead"] = {"name": LEAD["name"], "email": LEAD["email"],
                               "country": LEAD["country"], "lead_id": str(lid)}
        self.people["caller"] = {"name": CALLER["name"], "phone": CALLER["phone"]}

    def run(self) -> dict[str, list[Row]]:
        self.accounts()
        self.link_admins()
        self.index_peers()
        self.activity()
        self.calls()
        self.messages()
        self.shared_content()
        self.planted()
        self.link_calendar()
        self.marketing()
        return self.rows


# --------------------------------------------------------------------------- loading

_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}
CHUNK = 2000


def _engine_url(raw: str | URL) -> URL:
    """A SQLAlchemy URL; bare paths are SQLite files; server URLs get keepword's drivers."""
    if isinstance(raw, str) and "://" not in raw:
        raw = f"sqlite:///{raw}"
    url = make_url(raw)
    backend = url.get_backend_name()
    if url.drivername == backend and backend in _DRIVERS:
        url = url.set(drivername=_DRIVERS[backend])
    if backend == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def _fast_sqlite(dbapi_conn: Any, _record: Any) -> None:
    # Demo data: no fsync per DDL statement (a rebuild starts from scratch anyway).
    dbapi_conn.execute("PRAGMA synchronous = OFF")


def _load(raw_url: str | URL, dataset: str, rows: Mapping[str, list[Row]]) -> None:
    """Drop and recreate the dataset's tables, then bulk-insert (executemany) its rows."""
    md = SCHEMAS[dataset]()
    url = _engine_url(raw_url)
    engine = create_engine(url)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _fast_sqlite)
    try:
        with engine.begin() as conn:
            md.drop_all(conn)
            md.create_all(conn)
            late: list[tuple[Table, str, list[Row]]] = []
            for table in md.sorted_tables:
                data = rows.get(f"{dataset}.{table.name}", [])
                # a column whose foreign key closes a cycle is filled in once all rows exist
                cycle = {c.name for c in table.columns if any(f.use_alter for f in c.foreign_keys)}
                late += [(table, col, data) for col in cycle]
                names = [c.name for c in table.columns]
                full = [{c: (None if c in cycle else r.get(c)) for c in names} for r in data]
                for i in range(0, len(full), CHUNK):
                    conn.execute(table.insert(), full[i:i + CHUNK])
            for table, col, data in late:
                stmt = (table.update().where(table.c.id == bindparam("row_id"))
                        .values({col: bindparam("new_value")}))
                params = [{"row_id": r["id"], "new_value": r[col]} for r in data
                          if r.get(col) is not None]
                if params:
                    conn.execute(stmt, params)
    finally:
        engine.dispose()


def default_urls(data_dir: Path) -> dict[str, str]:
    """SQLite files in ``data_dir``, as the data map's connection defaults name them."""
    return {ds: f"sqlite:///{Path(data_dir) / f'{ds}.db'}" for ds in SCHEMAS}


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def build(urls: Mapping[str, str | URL], *, size: int = 200, seed: int = 16,
          now: datetime | None = None) -> Manifest:
    """Generate the demo data and write it to the stores in ``urls`` (dataset key -> URL).

    Datetimes are naive UTC, whole seconds (MariaDB's DATETIME keeps no fraction).
    """
    unknown = sorted(set(urls) - set(SCHEMAS))
    if unknown:
        raise ValueError(f"unknown dataset(s): {', '.join(unknown)}; known: {sorted(SCHEMAS)}")
    started = time.perf_counter()
    now = (now or _today()).replace(microsecond=0, tzinfo=None)
    gen = _Gen(seed, size, now)
    rows = gen.run()
    for dataset, url in urls.items():
        _load(url, dataset, rows)
    counts = {f"{ds}.{t.name}": len(rows.get(f"{ds}.{t.name}", []))
              for ds in urls for t in SCHEMAS[ds]().sorted_tables}
    return Manifest(counts, gen.people, now, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder for the SQLite files")
    parser.add_argument("--size", type=int, default=200, help="number of customers")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--url", action="append", default=[], metavar="DATASET=URL",
                        help="write a dataset to another database instead of a SQLite file")
    args = parser.parse_args(argv)
    urls: dict[str, str | URL] = dict(default_urls(args.out))
    for item in args.url:
        key, sep, value = item.partition("=")
        if not sep or key not in SCHEMAS:
            parser.error(f"--url takes DATASET=URL with DATASET one of {sorted(SCHEMAS)}")
        urls[key] = value
    manifest = build(urls, size=args.size, seed=args.seed)
    for key, count in manifest.rows.items():
        print(f"{key:40} {count:>8}")
    print(f"{sum(manifest.rows.values())} rows in {manifest.seconds:.2f} s; planted people:")
    for role, person in manifest.people.items():
        print(f"  {role:14} {person.get('email') or person.get('phone')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
