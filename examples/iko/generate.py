"""Demo databases for the IKO System example deployment.

Builds the ``iko_app`` store that ``datasets/iko_app.yaml`` maps: tenants
(subscriptions, some ended), their users, the companies and contact profiles
each user tagged, CRM-matched records, Google and social-network connections,
privacy settings and billing references (never card data). Realistic names
come from Faker (fr_FR and en_US); everything is drawn from one seeded
``random.Random``, so the same seed, size and ``now`` give the same rows on
SQLite, PostgreSQL and MariaDB.

A few people are planted with fixed identities so tests and the demo can
find them (``Manifest.people``):

- ``user``: a user of an active tenant, with tagged companies and contacts,
  API key, Gmail connection, CRM records and billing references;
- ``colleague_tenant_user``: a user of another active tenant;
- ``prospect``: Jeanne Martin, a contact profile of someone who never signed
  up, tagged by ``user`` and ``colleague_tenant_user`` (two tenants) and
  matched in ``user``'s CRM;
- ``ended_tenant_user``: a user of a tenant whose subscription ended 45 days
  ago (past the 30-day retention period).

Run: ``python examples/iko/generate.py --out DIR --size 200``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
)

DATASET = "iko_app"
Row = dict[str, Any]

metadata = MetaData()


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False, ondelete: str | None = None,
        primary_key: bool = False) -> Column[int]:
    return Column(name, Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable,
                  primary_key=primary_key, autoincrement=False)


def _str(name: str, length: int = 120, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(length), nullable=nullable)


def _ts(name: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(name, DateTime(), nullable=nullable)


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean(), nullable=False)


TENANTS = Table("tenants", metadata, _id(), _str("company_name"), _str("plan", 20),
                _ts("subscribed_at"), _ts("subscription_ended_at", nullable=True))
USERS = Table("users", metadata, _id(), _fk("tenant_id", "tenants.id"),
              Column("email", String(200), nullable=False, unique=True),
              _str("first_name"), _str("last_name"), _str("phone", 20, nullable=True),
              _str("job_title", nullable=True), _str("password_hash", 200), _str("role", 20),
              _ts("created_at"))
API_KEYS = Table("api_keys", metadata, _id(), _fk("tenant_id", "tenants.id"),
                 _fk("user_id", "users.id"), _str("key_prefix", 12), _str("key_hash", 64),
                 _str("label", nullable=True), _ts("created_at"), _ts("revoked_at", nullable=True))
COMPANIES = Table("companies", metadata, _id(), _str("name"), _str("domain"),
                  _str("siren", 9, nullable=True), _str("industry", nullable=True),
                  _str("city", nullable=True), _str("country", 2))
COMPANY_TAGS = Table("company_tags", metadata, _fk("tenant_id", "tenants.id"),
                     _fk("user_id", "users.id", primary_key=True),
                     _fk("company_id", "companies.id", primary_key=True),
                     _str("tag", 20), _ts("tagged_at"))
CONTACTS = Table("contacts", metadata, _id(), _str("first_name"), _str("last_name"),
                 _str("email", 200, nullable=True), _str("phone", 20, nullable=True),
                 _str("linkedin_url", 200, nullable=True), _str("job_title", nullable=True),
                 _fk("company_id", "companies.id", nullable=True), _str("source", 20),
                 _ts("created_at"), _ts("updated_at"))
CONTACT_TAGS = Table("contact_tags", metadata, _fk("tenant_id", "tenants.id"),
                     _fk("user_id", "users.id", primary_key=True),
                     _fk("contact_id", "contacts.id", primary_key=True),
                     _str("tag", 20), _ts("tagged_at"))
CRM_RECORDS = Table("crm_records", metadata, _id(), _fk("tenant_id", "tenants.id"),
                    _fk("user_id", "users.id"), _str("crm_system", 20), _str("crm_record_id", 40),
                    _str("full_name", 200), _str("email", 200, nullable=True),
                    _str("company_name", 200, nullable=True),
                    _fk("contact_id", "contacts.id", nullable=True), _ts("matched_at"))
INTEGRATIONS = Table("integrations", metadata, _id(), _fk("tenant_id", "tenants.id"),
                     _fk("user_id", "users.id"), _str("provider", 20),
                     _str("provider_account", 80), _str("token_hash", 64), _str("scopes", 300),
                     _ts("granted_at"), _ts("revoked_at", nullable=True))
MAIL_SYNC_ITEMS = Table("mail_sync_items", metadata, _id(), _fk("tenant_id", "tenants.id"),
                        _fk("user_id", "users.id"), _fk("contact_id", "contacts.id", nullable=True),
                        _str("message_ref_hash", 64), _str("direction", 10), _ts("fetched_at"))
PRIVACY_SETTINGS = Table("privacy_settings", metadata,
                         _fk("user_id", "users.id", primary_key=True),
                         _fk("tenant_id", "tenants.id"), _flag("profile_visible"),
                         _flag("crm_matching"), _flag("gmail_integration"),
                         _flag("social_direct_messages"), _ts("updated_at"))
BILLING_REFS = Table("billing_refs", metadata, _id(), _fk("tenant_id", "tenants.id"),
                     _fk("billed_user_id", "users.id", nullable=True, ondelete="SET NULL"),
                     _str("salesforce_account_ref", 18),
                     _str("paypal_payer_ref", 13, nullable=True),
                     Column("invoice_number", String(20), nullable=False, unique=True),
                     _ts("issued_at"))

# The fixed people tests and the demo look for.
PLANTED: dict[str, Row] = {
    "user": {"first_name": "Camille", "last_name": "Dubois",
             "email": "camille.dubois@acme-prospection.fr", "phone": "+33612345678",
             "job_title": "Responsable grands comptes", "tenant": "Acme Prospection SAS"},
    "colleague_tenant_user": {"first_name": "Oliver", "last_name": "Grant",
                              "email": "oliver.grant@northwind-sales.co.uk",
                              "phone": "+447700900123", "job_title": "Sales Director",
                              "tenant": "Northwind Sales Ltd"},
    "ended_tenant_user": {"first_name": "Paul", "last_name": "Lefèvre",
                          "email": "paul.lefevre@vieux-comptoir.fr", "phone": "+33687654321",
                          "job_title": "Gérant", "tenant": "Vieux Comptoir SARL"},
    "prospect": {"first_name": "Jeanne", "last_name": "Martin",
                 "email": "jeanne.martin@example.fr", "phone": "+33698765432",
                 "linkedin_url": "https://www.linkedin.com/in/jeanne-martin-iko",
                 "job_title": "Directrice commerciale"},
}
ENDED_DAYS_AGO = 45  # planted ended tenant: past the 30-day retention period

_INDUSTRIES = ["Logiciels", "Industrie", "Conseil", "Distribution", "Banque", "Santé",
               "Transport", "Énergie", "Telecoms", "Retail", "Media", "Construction"]
_COUNTRIES = ["FR"] * 8 + ["BE", "DE", "GB", "US", "ES", "CH"]
_PROVIDER_SCOPES = {
    "gmail": "https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly",
    "google_contacts": "https://www.googleapis.com/auth/contacts.readonly",
    "linkedin": "r_liteprofile w_member_social",
    "twitter": "tweet.read users.read dm.write",
}


@dataclass
class Manifest:
    """What ``build`` wrote: row counts per ``dataset.table`` and the planted people."""

    rows: dict[str, int]
    people: dict[str, dict[str, str]]
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


def default_urls(data_dir: Path) -> dict[str, str]:
    """SQLite files in ``data_dir``: the embedded default of the demo."""
    return {DATASET: f"sqlite:///{Path(data_dir) / 'iko_app.db'}"}


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


class _Gen:
    """Draws every table's rows from one seeded RNG (ids assigned in order)."""

    def __init__(self, size: int, seed: int, now: datetime) -> None:
        self.size, self.now = size, now
        self.rng = random.Random(seed)
        self.fakers = [Faker("fr_FR"), Faker("en_US")]
        for i, fk in enumerate(self.fakers):
            fk.seed_instance(seed * 10 + i)
        self.rows: dict[Table, list[Row]] = {t: [] for t in metadata.sorted_tables}
        self.people: dict[str, dict[str, str]] = {}
        self._emails: set[str] = {p["email"] for p in PLANTED.values()}
        self._invoice = 0

    # -- small helpers -------------------------------------------------------------
    def faker(self) -> Faker:
        return self.fakers[0] if self.rng.random() < 0.7 else self.fakers[1]

    def hexdigest(self) -> str:
        return hashlib.sha256(self.rng.randbytes(16)).hexdigest()

    def ago(self, max_days: int, min_days: int = 0) -> datetime:
        seconds = self.rng.randint(min_days * 86400, max_days * 86400)
        return self.now - timedelta(seconds=seconds)

    def phone(self, country: str = "+336") -> str:
        return country + "".join(self.rng.choices("0123456789", k=8))

    def email(self, first: str, last: str, domain: str) -> str:
        base = f"{_slug(first)}.{_slug(last)}".replace("-", "")
        candidate, n = f"{base}@{domain}", 1
        while candidate in self._emails:
            n += 1
            candidate = f"{base}{n}@{domain}"
        self._emails.add(candidate)
        return candidate

    def add(self, table: Table, **values: Any) -> Row:
        if "id" in table.c and "id" not in values:
            values["id"] = len(self.rows[table]) + 1
        self.rows[table].append(values)
        return values

    # -- tables --------------------------------------------------------------------
    def companies(self) -> list[Row]:
        out = []
        for i in range(max(20, self.size * 2)):
            fk = self.faker()
            name = fk.company()
            country = self.rng.choice(_COUNTRIES)
            tld = "fr" if country == "FR" else self.rng.choice(["com", "eu", "io"])
            out.append(self.add(
                COMPANIES, name=name, domain=f"{_slug(name)[:40]}-{i + 1}.{tld}",
                siren="".join(self.rng.choices("0123456789", k=9)) if country == "FR" else None,
                industry=self.rng.choice(_INDUSTRIES), city=fk.city(), country=country))
        return out

    def tenants(self) -> list[Row]:
        out = []
        for name, ended in (("Acme Prospection SAS", None), ("Northwind Sales Ltd", None),
                            ("Vieux Comptoir SARL", ENDED_DAYS_AGO)):
            ended_at = self.now - timedelta(days=ended) if ended else None
            out.append(self.add(TENANTS, company_name=name, plan="team",
                                subscribed_at=self.now - timedelta(days=900),
                                subscription_ended_at=ended_at))
        for _ in range(max(0, self.size // 4 - 3)):
            subscribed = self.ago(1500, 60)
            roll = self.rng.random()
            ended_at = (None if roll < 0.7 else self.ago(25, 1) if roll < 0.85
                        else self.ago(400, 40))
            out.append(self.add(TENANTS, company_name=self.faker().company(),
                                plan=self.rng.choice(["starter", "team", "enterprise"]),
                                subscribed_at=subscribed, subscription_ended_at=ended_at))
        return out

    def user(self, tenant: Row, domain: str, role: str, planted: Row | None = None) -> Row:
        if planted is None:
            fk = self.faker()
            first, last = fk.first_name(), fk.last_name()
            values = {"first_name": first, "last_name": last,
                      "email": self.email(first, last, domain),
                      "phone": self.phone() if self.rng.random() < 0.7 else None,
                      "job_title": fk.job()[:120]}
        else:
            values = {k: planted[k] for k in ("first_name", "last_name", "email", "phone",
                                              "job_title")}
        return self.add(USERS, tenant_id=tenant["id"], role=role,
                        password_hash="$argon2id$v=19$m=65536,t=3,p=4$" + self.hexdigest()[:60],
                        created_at=max(tenant["subscribed_at"], self.ago(800, 30)), **values)

    def users(self, tenants: list[Row]) -> list[Row]:
        domains = {t["id"]: f"{_slug(t['company_name'])[:40]}-t{t['id']}.fr" for t in tenants}
        planted = ["user", "colleague_tenant_user", "ended_tenant_user"]
        out = [self.user(t, domains[t["id"]], "owner", PLANTED[key])
               for t, key in zip(tenants, planted, strict=False)]
        for t in tenants[3:]:
            if len(out) < self.size:
                out.append(self.user(t, domains[t["id"]], "owner"))
        while len(out) < self.size:
            tenant = self.rng.choice(tenants)
            out.append(self.user(tenant, domains[tenant["id"]], "member"))
        return out

    def contacts(self, companies: list[Row]) -> list[Row]:
        p = PLANTED["prospect"]
        out = [self.add(CONTACTS, first_name=p["first_name"], last_name=p["last_name"],
                        email=p["email"], phone=p["phone"], linkedin_url=p["linkedin_url"],
                        job_title=p["job_title"], company_id=companies[0]["id"],
                        source="user_entry", created_at=self.ago(700, 200),
                        updated_at=self.ago(100, 1))]
        for _ in range(self.size * 3 - 1):
            fk = self.faker()
            first, last = fk.first_name(), fk.last_name()
            company = self.rng.choice(companies) if self.rng.random() < 0.9 else None
            domain = company["domain"] if company else self.rng.choice(
                ["gmail.com", "outlook.fr", "orange.fr", "yahoo.com"])
            created = self.ago(1000, 1)
            out.append(self.add(
                CONTACTS, first_name=first, last_name=last,
                email=self.email(first, last, domain) if self.rng.random() < 0.85 else None,
                phone=self.phone(self.rng.choice(["+336", "+337", "+331"]))
                if self.rng.random() < 0.6 else None,
                linkedin_url=f"https://www.linkedin.com/in/{_slug(first)}-{_slug(last)}-"
                             f"{self.hexdigest()[:6]}" if self.rng.random() < 0.5 else None,
                job_title=fk.job()[:120], company_id=company["id"] if company else None,
                source=self.rng.choice(["user_entry", "user_entry", "crm_match",
                                        "google_contacts"]),
                created_at=created, updated_at=min(self.now, created + timedelta(days=30))))
        return out

    def tags(self, users: list[Row], companies: list[Row], contacts: list[Row]) -> None:
        others = contacts[1:]  # the planted prospect is tagged only where planted
        for user in users:
            for company in self.rng.sample(companies, self.rng.randint(3, min(15, len(companies)))):
                self.add(COMPANY_TAGS, tenant_id=user["tenant_id"], user_id=user["id"],
                         company_id=company["id"],
                         tag="client" if self.rng.random() < 0.3 else "prospect",
                         tagged_at=self.ago(600))
            for contact in self.rng.sample(others, self.rng.randint(0, min(8, len(others)))):
                self.add(CONTACT_TAGS, tenant_id=user["tenant_id"], user_id=user["id"],
                         contact_id=contact["id"],
                         tag=self.rng.choice(["prospect", "prospect", "client", "partner"]),
                         tagged_at=self.ago(600))
        for user, tag in ((users[0], "prospect"), (users[1], "client")):
            self.add(CONTACT_TAGS, tenant_id=user["tenant_id"], user_id=user["id"],
                     contact_id=contacts[0]["id"], tag=tag, tagged_at=self.ago(300))

    def crm_record(self, user: Row, system: str, contact: Row | None,
                   companies: Mapping[int, Row]) -> Row:
        values: Row
        if contact is None:
            fk = self.faker()
            first, last = fk.first_name(), fk.last_name()
            company = fk.company()
            values = {"full_name": f"{first} {last}",
                      "email": self.email(first, last, f"{_slug(company)[:30]}.com"),
                      "company_name": company}
        else:
            comp = companies.get(contact["company_id"] or 0)
            values = {"full_name": f"{contact['first_name']} {contact['last_name']}",
                      "email": contact["email"], "company_name": comp["name"] if comp else None}
        ref = ("003" + self.hexdigest()[:15]) if system == "salesforce" else str(
            self.rng.randint(10**6, 10**9))
        return self.add(CRM_RECORDS, tenant_id=user["tenant_id"], user_id=user["id"],
                        crm_system=system, crm_record_id=ref,
                        contact_id=contact["id"] if contact else None,
                        matched_at=self.ago(400), **values)

    def crm(self, users: list[Row], contacts: list[Row], companies: list[Row]) -> None:
        by_id = {c["id"]: c for c in companies}
        for i, user in enumerate(users):
            if i != 0 and self.rng.random() >= 0.4:
                continue
            system = "salesforce" if i == 0 else self.rng.choice(
                ["salesforce", "hubspot", "pipedrive"])
            for _ in range(self.rng.randint(3, 12)):
                match = self.rng.choice(contacts[1:]) if self.rng.random() < 0.5 else None
                self.crm_record(user, system, match, by_id)
        self.crm_record(users[0], "salesforce", contacts[0], by_id)

    def integrations(self, users: list[Row], contacts: list[Row]) -> dict[int, bool]:
        """Connections per user; returns who has an active Gmail connection."""
        gmail: dict[int, bool] = {}
        for i, user in enumerate(users):
            providers = []
            if i == 0 or self.rng.random() < 0.5:
                providers += ["gmail", "google_contacts"]
            providers += [p for p, odds in (("linkedin", 0.3), ("twitter", 0.1))
                          if self.rng.random() < odds]
            for provider in providers:
                revoked = None if i == 0 or self.rng.random() >= 0.15 else self.ago(60)
                self.add(INTEGRATIONS, tenant_id=user["tenant_id"], user_id=user["id"],
                         provider=provider,
                         provider_account=f"{provider}|{self.rng.randint(10**11, 10**12)}",
                         token_hash=self.hexdigest(), scopes=_PROVIDER_SCOPES[provider],
                         granted_at=self.ago(500, 61), revoked_at=revoked)
                if provider == "gmail":
                    gmail[user["id"]] = revoked is None
            if gmail.get(user["id"]):
                self.mail_items(user, contacts)
        return gmail

    def mail_items(self, user: Row, contacts: list[Row]) -> None:
        for _ in range(self.rng.randint(1, 10)):
            contact = self.rng.choice(contacts[1:]) if self.rng.random() < 0.7 else None
            self.add(MAIL_SYNC_ITEMS, tenant_id=user["tenant_id"], user_id=user["id"],
                     contact_id=contact["id"] if contact else None,
                     message_ref_hash=self.hexdigest(),
                     direction=self.rng.choice(["sent", "received"]), fetched_at=self.ago(14))

    def settings_and_keys(self, users: list[Row], gmail: dict[int, bool]) -> None:
        for i, user in enumerate(users):
            self.add(PRIVACY_SETTINGS, user_id=user["id"], tenant_id=user["tenant_id"],
                     profile_visible=self.rng.random() < 0.8,
                     crm_matching=self.rng.random() < 0.6,
                     gmail_integration=gmail.get(user["id"], False),
                     social_direct_messages=self.rng.random() < 0.2,
                     updated_at=self.ago(300))
            for _ in range(1 if i == 0 else self.rng.choice([0, 0, 0, 1, 2])):
                secret = self.hexdigest()
                self.add(API_KEYS, tenant_id=user["tenant_id"], user_id=user["id"],
                         key_prefix="iko_" + secret[:6],
                         key_hash=hashlib.sha256(secret.encode()).hexdigest(),
                         label=self.rng.choice(["CRM sync", "Zapier", "script", None]),
                         created_at=self.ago(400, 1),
                         revoked_at=self.ago(30) if self.rng.random() < 0.2 else None)

    def billing(self, tenants: list[Row], users: list[Row]) -> None:
        owners = {u["tenant_id"]: u["id"] for u in reversed(users) if u["role"] == "owner"}
        for tenant in tenants:
            account = "001" + self.hexdigest()[:15].upper()
            payer = ("".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=13))
                     if self.rng.random() < 0.6 else None)
            end = tenant["subscription_ended_at"] or self.now
            months = min(24, max(1, (end - tenant["subscribed_at"]).days // 30))
            for m in range(months, 0, -1):
                self._invoice += 1
                issued = end - timedelta(days=30 * m - 1)
                self.add(BILLING_REFS, tenant_id=tenant["id"],
                         billed_user_id=owners.get(tenant["id"]),
                         salesforce_account_ref=account, paypal_payer_ref=payer,
                         invoice_number=f"IKO-{issued.year}-{self._invoice:06d}",
                         issued_at=issued)

    def run(self) -> None:
        companies = self.companies()
        tenants = self.tenants()
        users = self.users(tenants)
        contacts = self.contacts(companies)
        self.tags(users, companies, contacts)
        self.crm(users, contacts, companies)
        gmail = self.integrations(users, contacts)
        self.settings_and_keys(users, gmail)
        self.billing(tenants, users)
        self._record_people(users, tenants, contacts)

    def _record_people(self, users: list[Row], tenants: list[Row], contacts: list[Row]) -> None:
        for key, user in zip(("user", "colleague_tenant_user", "ended_tenant_user"), users,
                             strict=False):
            self.people[key] = {"email": user["email"], "phone": user["phone"],
                                "account_id": str(user["id"]),
                                "tenant_id": str(user["tenant_id"]),
                                "tenant": tenants[user["tenant_id"] - 1]["company_name"],
                                "name": f"{user['first_name']} {user['last_name']}"}
        prospect = contacts[0]
        self.people["prospect"] = {"email": prospect["email"], "phone": prospect["phone"],
                                   "linkedin": prospect["linkedin_url"],
                                   "contact_id": str(prospect["id"]),
                                   "name": f"{prospect['first_name']} {prospect['last_name']}"}


def _chunks(rows: list[Row], size: int = 5000) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _load(engine: Engine, rows: Mapping[Table, list[Row]]) -> None:
    """Drop and recreate the schema, then bulk-insert (executemany) parents first."""
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            for chunk in _chunks(rows[table]):
                conn.execute(table.insert(), chunk)
        if engine.dialect.name == "postgresql":
            # Explicit ids do not advance serial sequences; later inserts must not collide.
            for table in metadata.sorted_tables:
                if "id" in table.c and rows[table]:
                    conn.execute(select(func.setval(
                        func.pg_get_serial_sequence(table.name, "id"),
                        max(r["id"] for r in rows[table]))))


def build(urls: Mapping[str, str], *, size: int = 200, seed: int = 3,
          now: datetime | None = None) -> Manifest:
    """Generate the demo store(s) at ``urls`` (dataset key -> SQLAlchemy URL).

    ``size`` is the number of tenant users. ``now`` (naive UTC) is the moment the
    data is relative to (subscriptions ended N days ago...); default: today, midnight.
    """
    if size < 3:
        raise ValueError("size must be at least 3 (the planted users)")
    if now is None:
        now = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    gen = _Gen(size, seed, now.replace(microsecond=0))
    gen.run()
    engine = create_engine(urls[DATASET])
    try:
        _load(engine, gen.rows)
    finally:
        engine.dispose()
    counts = {f"{DATASET}.{t.name}": len(gen.rows[t]) for t in metadata.sorted_tables}
    return Manifest(rows=counts, people=gen.people, now=gen.now)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the IKO System demo database.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the SQLite file")
    parser.add_argument("--size", type=int, default=200, help="number of tenant users")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = build(default_urls(args.out), size=args.size, seed=args.seed)
    for table, count in manifest.rows.items():
        print(f"{table:32} {count:>8}")


if __name__ == "__main__":
    main()
