"""The IKO System example deployment: its policy, data map and demo generator."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import URL

from keepword import taxonomy
from keepword.datamap import DataMap, load_datamap
from keepword.demo import load_generator
from keepword.durations import Duration
from keepword.policy import LoadedPolicy, load_policy
from keepword.policy.models import LegalBasis, Policy, RecipientKind, Right
from keepword.stores import live_columns

ROOT = Path(__file__).resolve().parents[2] / "examples" / "iko"
NOW = datetime(2026, 1, 15)


def _generator() -> ModuleType:
    return load_generator(ROOT)


gen = _generator()


@pytest.fixture(scope="module")
def loaded() -> LoadedPolicy:
    return load_policy(ROOT / "policy.yaml")


@pytest.fixture(scope="module")
def policy(loaded: LoadedPolicy) -> Policy:
    return loaded.policy


@pytest.fixture(scope="module")
def dm() -> DataMap:
    return load_datamap(ROOT / "datasets")


def _targets(policy: Policy, mechanism: str) -> set[str | None]:
    return {ref.target for p in policy.promises for ref in p.enforced_by
            if ref.mechanism == mechanism}


# --- the policy ------------------------------------------------------------------


def test_policy_loads_with_only_the_honest_warning(loaded: LoadedPolicy) -> None:
    # The LEXSI audits are an organisational measure: written down, not enforced.
    assert [w.code for w in loaded.warnings] == ["unenforced_promise"]
    assert "security-audits" in loaded.warnings[0].message
    org = loaded.policy.organisation
    assert org.contact.email == "privacy@iko-system.com"
    assert org.supervisory_authority.country == "FR"


def test_credentials_serve_authentication_only_and_no_recipient(policy: Policy) -> None:
    creds = "user.authorization.credentials"
    users = [k for k, p in policy.purposes.items()
             if any(taxonomy.covers(c, creds) for c in p.categories)]
    assert [policy.data_use(k) for k in users] == ["essential.service.authentication"]
    assert not [r for r in policy.recipients.values()
                if any(taxonomy.covers(c, creds) for c in r.categories)]


def test_tenant_isolation_covers_tags_crm_and_credentials(policy: Policy) -> None:
    iso = policy.tenant_isolation
    assert iso is not None
    assert {"user.content.private.tags", "user.content.private.crm",
            "user.authorization.credentials"} <= set(iso.categories)
    assert {"system_administrator", RecipientKind.OTHER_USERS,
            RecipientKind.PROCESSOR} <= set(iso.never_visible_to)
    assert {None} == _targets(policy, "decide.tenant_isolation")


@pytest.mark.parametrize("use", ["marketing.communications", "marketing.advertising",
                                 "marketing.advertising.profiling", "third_party_sharing"])
def test_marketing_advertising_and_sharing_are_prohibited(policy: Policy, use: str) -> None:
    assert use in policy.prohibited_uses
    assert use in _targets(policy, "decide.prohibited_use")


def test_subscription_end_deletes_all_but_billing_records(policy: Policy) -> None:
    rule = next(r for r in policy.retention if r.anchor == "subscription.ended")
    assert rule.period == Duration(days=30) and rule.action.value == "delete"
    (exc,) = rule.exceptions
    assert exc.legal_basis is LegalBasis.LEGAL_OBLIGATION and exc.period == Duration(years=10)
    assert exc.categories == ["user.payment"]
    assert rule.id in _targets(policy, "retention")


def test_profiles_seen_by_registered_users_only(policy: Policy) -> None:
    viewers = [r for r in policy.recipients.values() if "contact_profiles" in r.purposes]
    assert [r.kind for r in viewers] == [RecipientKind.OTHER_USERS]
    assert None in _targets(policy, "pages.not_indexed")


def test_anyone_can_amend_or_delete_and_stays_deleted(policy: Policy) -> None:
    assert {Right.RECTIFICATION, Right.ERASURE} <= set(policy.rights.honoured)
    assert {"rectification", "erasure"} <= _targets(policy, "right")
    assert "prospect" in policy.purposes["contact_profiles"].subjects
    assert None in _targets(policy, "suppression")


def test_social_messages_need_consent(policy: Policy) -> None:
    assert policy.purposes["social_direct_messages"].legal_basis is LegalBasis.CONSENT
    assert policy.recipients["social-networks"].requires_consent
    assert "social_direct_messages" in _targets(policy, "consent.ledger")


def test_payment_processors_have_country_and_safeguard(policy: Policy) -> None:
    for key in ("paypal", "salesforce", "bank"):
        rec = policy.recipients[key]
        assert rec.kind is RecipientKind.PROCESSOR and rec.countries


# --- the data map ----------------------------------------------------------------


def test_datamap_loads_with_env_connection(dm: DataMap) -> None:
    ds = dm.dataset("iko_app")
    assert ds.store.connection.env == "IKO_APP_URL"
    assert ds.store.connection.default == "iko_app.db"


def test_every_datamap_category_is_declared(dm: DataMap, policy: Policy) -> None:
    undeclared = {f"{addr}: {cat}" for addr, fld in dm.fields() for cat in fld.categories
                  if not any(taxonomy.covers(d, cat) for d in policy.categories)}
    assert not undeclared


def test_no_forbidden_category_in_the_datamap(dm: DataMap, policy: Policy) -> None:
    banned = {t for t in _targets(policy, "datamap.forbidden_category") if t}
    assert {"user.financial.credit_card", "user.content.private.messages",
            "user.content.private.documents", "user.financial"} <= banned
    held = {(str(addr), cat) for addr, fld in dm.fields() for cat in fld.categories
            if any(taxonomy.covers(b, cat) for b in banned)}
    assert not held


def test_crm_records_hold_the_strict_minimum(dm: DataMap, policy: Policy) -> None:
    assert "iko_app.crm_records" in _targets(policy, "datamap.minimised_collection")
    crm = dm.collection("iko_app", "crm_records")
    personal = {k for k, f in crm.fields.items() if f.personal}
    assert personal == {"crm_record_id", "full_name", "email", "company_name"}


def test_tenant_field_on_every_tenant_owned_collection(dm: DataMap) -> None:
    ds = dm.dataset("iko_app")
    owned = {k for k, c in ds.collections.items()
             if any(set(f.references) & {"tenants.id", "users.id"} for f in c.fields.values())}
    assert owned >= {"users", "company_tags", "contact_tags", "crm_records", "integrations",
                     "billing_refs", "privacy_settings", "api_keys", "mail_sync_items"}
    for key in owned:
        coll = ds.collections[key]
        assert coll.tenant_field, key
        assert coll.fields[coll.tenant_field].references == ["tenants.id"], key
    # Contact profiles and the company directory belong to no tenant.
    assert ds.collections["contacts"].tenant_field is None


def test_kept_fields_name_a_policy_exception(dm: DataMap, policy: Policy) -> None:
    declared = {e.id for r in policy.retention for e in r.exceptions}
    kept = {fld.exception for _, fld in dm.fields() if fld.exception}
    assert kept and kept <= declared
    anchors = {fld.anchor for _, fld in dm.fields() if fld.anchor}
    assert {r.anchor for r in policy.retention} <= anchors


# --- the generator ---------------------------------------------------------------


def _count(engine: Engine, name: str, **where: Any) -> int:
    t = gen.metadata.tables[name]
    query = select(func.count()).select_from(t)
    for key, value in where.items():
        query = query.where(t.c[key] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _build(url: URL | str, size: int = 12, seed: int = 3) -> Any:
    text_url = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return gen.build({"iko_app": text_url}, size=size, seed=seed, now=NOW)


def test_generator_builds_the_mapped_store(store_url: URL, dm: DataMap) -> None:
    manifest = _build(store_url)
    engine = create_engine(store_url)
    try:
        live = live_columns(engine)
        mapped = {name: set(c.fields) for name, c in dm.dataset("iko_app").collections.items()}
        assert {t: set(cols) for t, cols in live.items()} == mapped
        for key, n in manifest.rows.items():
            assert _count(engine, key.split(".", 1)[1]) == n > 0, key
        _assert_planted(engine, manifest.people)
        # An application insert after the load gets a fresh id (sequences advanced).
        with engine.begin() as conn:
            conn.execute(gen.COMPANIES.insert(), {"name": "New SA", "domain": "new.fr",
                                                  "country": "FR"})
        assert _count(engine, "companies") == manifest.rows["iko_app.companies"] + 1
    finally:
        engine.dispose()


def _assert_planted(engine: Engine, people: dict[str, dict[str, str]]) -> None:
    assert _count(engine, "users", email=people["user"]["email"]) == 1
    uid = int(people["user"]["account_id"])
    assert _count(engine, "company_tags", user_id=uid) >= 3
    prospect = people["prospect"]
    assert prospect["email"] == "jeanne.martin@example.fr"
    assert _count(engine, "contacts", email=prospect["email"]) == 1
    assert _count(engine, "users", email=prospect["email"]) == 0  # never signed up
    tags, tenants = gen.CONTACT_TAGS, gen.TENANTS
    ended = people["ended_tenant_user"]
    with engine.connect() as conn:
        taggers = conn.execute(select(func.count(tags.c.tenant_id.distinct()))
                               .where(tags.c.contact_id == int(prospect["contact_id"])))
        assert taggers.scalar_one() == 2
        ended_at = conn.execute(select(tenants.c.subscription_ended_at)
                                .where(tenants.c.id == int(ended["tenant_id"]))).scalar_one()
    assert ended_at is not None and ended_at < NOW - timedelta(days=30)
    assert _count(engine, "users", email=ended["email"]) == 1


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(
                select(t).order_by(*t.primary_key.columns))]
                for t in gen.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_same_seed_same_data(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _build(f"sqlite:///{tmp_path / name}.db", size=20, seed=seed)
    a, b, c = (_dump(tmp_path / f"{n}.db") for n in "abc")
    assert a == b
    assert a != c


def test_generator_runs_as_a_script(tmp_path: Path) -> None:
    out = tmp_path / "data"
    done = subprocess.run([sys.executable, str(ROOT / "generate.py"), "--out", str(out),
                           "--size", "5"], capture_output=True, text=True, check=True)
    assert "iko_app.users" in done.stdout
    assert (out / "iko_app.db").exists()
    assert gen.default_urls(out) == {"iko_app": f"sqlite:///{out / 'iko_app.db'}"}
