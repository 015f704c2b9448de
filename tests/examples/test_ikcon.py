"""The Ikcon Global example deployment: policy, data map and demo-data generator.

The generator runs on a real SQLite file, PostgreSQL and MariaDB; every table and
column the data map annotates must exist in what it builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL

from keepword import taxonomy
from keepword.datamap import DataMap, FieldAddress, load_datamap
from keepword.demo import load_generator
from keepword.policy import LoadedPolicy, load_policy
from keepword.policy.models import EEA, LegalBasis, RecipientKind
from keepword.promises import MECHANISMS
from keepword.stores import live_columns

ROOT = Path(__file__).resolve().parents[2] / "examples" / "ikcon"
NOW = datetime(2026, 3, 1)
SMALL = 12


def _import_generator() -> ModuleType:
    return load_generator(ROOT)


gen = _import_generator()


@pytest.fixture(scope="module")
def loaded() -> LoadedPolicy:
    return load_policy(ROOT / "policy.yaml")


@pytest.fixture(scope="module")
def datamap() -> DataMap:
    return load_datamap(ROOT / "datasets")


@pytest.fixture(scope="module")
def sqlite_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Any]:
    folder = tmp_path_factory.mktemp("ikcon")
    urls = gen.default_urls(folder)
    return urls, gen.build(urls, size=20, seed=16, now=NOW)


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


# --- policy ----------------------------------------------------------------------------


def test_policy_loads_without_errors(loaded: LoadedPolicy) -> None:
    print(f"ikcon policy: {len(loaded.warnings)} warnings")
    policy = loaded.policy
    assert policy.organisation.name == "Ikcon Global"
    assert policy.organisation.contact.email == "privacy@ikcon.example"
    assert policy.minimum_age == 16
    # the only warnings: custom subject keys and the §8 promise nothing enforces
    assert {w.code for w in loaded.warnings} <= {"custom_key", "unenforced_promise"}


def test_policy_transcribes_the_seed(loaded: LoadedPolicy) -> None:
    policy = loaded.policy
    special = {k for k, c in policy.categories.items() if c.special}
    assert len(special) == 6  # §2.2
    assert all(policy.categories[k].condition is not None for k in special)
    assert not any(p.sale or p.share for p in policy.purposes.values())  # §5: never sold
    assert policy.purposes["marketing_communications"].legal_basis is LegalBasis.CONSENT
    assert policy.purposes["accounting"].legal_obligation
    assert policy.categories["user.name.third_party"].source_detail  # §3.4
    partners = [r for r in policy.recipients.values() if r.kind is RecipientKind.PARTNER
                and "corporate_transactions" not in r.purposes]
    assert partners and all(r.requires_consent for r in partners)  # §5.3.2, §5.4
    outside = [r for r in policy.recipients.values()
               if any(c not in EEA and c != "EEA" for c in r.countries)]
    assert outside and all(r.safeguard.value != "none" for r in outside)  # §11
    kinds = {r.kind for r in policy.recipients.values()}
    assert kinds == set(RecipientKind)  # every recipient kind the seed names


def test_promises_name_their_section_and_mechanism(loaded: LoadedPolicy) -> None:
    promises = {p.id: p for p in loaded.policy.promises}
    assert all(p.source.startswith("§") for p in promises.values())
    linked = {(p.id, m.mechanism) for p in promises.values() for m in p.enforced_by}
    for pid, mechanism in [
        ("group-administrator-first", "requests.admin_routing"),
        ("restrict-during-dispute", "decide.restriction"),
        ("uninstall-stops-sharing", "integration.uninstall"),
        ("partners-only-with-approval", "decide.recipient_consent"),
        ("no-children-under-16", "decide.minimum_age"),
        ("limited-to-protect-others", "requests.redact_others"),
        ("never-sold", "decide.no_sale"),
        ("shared-content-kept", "requests.erasure_exception"),
        ("marketing-until-last-interest", "retention"),
    ]:
        assert (pid, mechanism) in linked
    assert all(m in MECHANISMS for _, m in linked)


# --- data map --------------------------------------------------------------------------


def test_datamap_categories_and_subjects_are_declared(loaded: LoadedPolicy,
                                                      datamap: DataMap) -> None:
    policy = loaded.policy
    used = {c for _, f in datamap.fields() for c in f.categories}
    undeclared = {c for c in used if not any(taxonomy.covers(d, c) for d in policy.categories)}
    assert not undeclared
    subjects = {c.subject for ds in datamap.datasets.values()
                for c in ds.dataset.collections.values() if c.subject}
    assert subjects <= set(policy.subjects)


def test_datamap_exceptions_and_anchors_match_the_policy(loaded: LoadedPolicy,
                                                         datamap: DataMap) -> None:
    rules = loaded.policy.retention
    exceptions = {e.id for r in rules for e in r.exceptions}
    kept = {f.exception for _, f in datamap.fields() if f.exception}
    assert kept == exceptions
    anchors = {f.anchor for _, f in datamap.fields() if f.anchor}
    assert {r.anchor for r in rules} <= anchors


def test_every_personal_field_says_what_erasure_does(datamap: DataMap) -> None:
    def keyed(addr: FieldAddress) -> bool:  # a primary key is never erased in place
        return addr.field in datamap.collection(addr.dataset, addr.collection).primary_key
    vague = [str(a) for a, f in datamap.fields()
             if f.personal and f.erasure is None and not keyed(a)]
    assert not vague


# --- generator -------------------------------------------------------------------------


def _assert_matches_datamap(datamap: DataMap, urls: dict[str, str]) -> None:
    for key, url in urls.items():
        engine = create_engine(url)
        try:
            live = live_columns(engine)
        finally:
            engine.dispose()
        for ckey, coll in datamap.dataset(key).collections.items():
            assert ckey in live, f"{key}.{ckey} missing"
            assert set(coll.fields) == set(live[ckey]), f"{key}.{ckey} columns differ"


def test_sqlite_build_matches_the_datamap(datamap: DataMap,
                                          sqlite_build: tuple[dict[str, str], Any]) -> None:
    urls, manifest = sqlite_build
    _assert_matches_datamap(datamap, urls)
    assert manifest.rows["ikcon_app.users"] > 20
    assert all(n > 0 for n in manifest.rows.values())
    for name, count in manifest.rows.items():
        dataset, table = name.split(".")
        assert _rows(urls[dataset], f"SELECT count(*) FROM {table}")[0][0] == count


def test_planted_people_have_data_in_many_tables(sqlite_build: tuple[dict[str, str], Any]
                                                 ) -> None:
    urls, manifest = sqlite_build
    app, mkt = urls["ikcon_app"], urls["ikcon_marketing"]
    people = manifest.people
    assert people["customer"]["email"] == "ada.lovelace@example.com"
    ada = int(people["customer"]["user_id"])
    for table, col in [("devices", "user_id"), ("contacts", "owner_user_id"),
                       ("call_participants", "user_id"), ("messages", "sender_id"),
                       ("message_recipients", "user_id"), ("shared_content", "owner_user_id"),
                       ("invoices", "user_id"), ("payments", "user_id"),
                       ("integration_grants", "user_id"), ("usage_logs", "user_id"),
                       ("cookie_logs", "user_id"), ("support_tickets", "user_id")]:
        assert _rows(app, f"SELECT count(*) FROM {table} WHERE {col} = :u", u=ada)[0][0] > 0
    assert _rows(mkt, "SELECT count(*) FROM subscribers WHERE email = :e",
                 e=people["customer"]["email"])[0][0] == 1


def test_managed_user_lead_caller_and_non_eea(sqlite_build: tuple[dict[str, str], Any]) -> None:
    urls, manifest = sqlite_build
    app, mkt = urls["ikcon_app"], urls["ikcon_marketing"]
    people = manifest.people
    (admin,) = _rows(app, "SELECT o.admin_user_id FROM users u JOIN organisations o "
                            "ON o.id = u.organisation_id WHERE u.email = :e",
                       e=people["managed_user"]["email"])[0]
    assert admin == int(people["org_admin"]["user_id"])
    lead = people["lead"]["email"]
    assert _rows(app, "SELECT count(*) FROM users WHERE email = :e", e=lead)[0][0] == 0
    assert _rows(mkt, "SELECT source FROM leads WHERE email = :e", e=lead)[0][0]
    assert _rows(app, "SELECT count(*) FROM call_participants WHERE external_phone = :p",
                 p=people["caller"]["phone"])[0][0] == 1
    assert people["non_eea"]["country"] not in EEA
    countries = {r[0] for r in _rows(app, "SELECT DISTINCT country FROM users")}
    assert countries & EEA and countries - EEA


def test_the_minor_is_under_16(tmp_path: Path) -> None:
    urls = gen.default_urls(tmp_path)
    manifest = gen.build(urls, size=SMALL)  # today's date: ages are as of today
    (born,) = _rows(urls["ikcon_app"], "SELECT birth_date FROM users WHERE email = :e",
                    e=manifest.people["minor"]["email"])[0]
    born = born if isinstance(born, date) else date.fromisoformat(born)
    today = manifest.now.date()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    assert age == 15


def test_same_seed_same_data(tmp_path: Path) -> None:
    dumps = []
    for name in ("a", "b"):
        urls = gen.default_urls(tmp_path / name)
        gen.build(urls, size=SMALL, seed=7, now=NOW)
        dumps.append(_dump(urls))
    assert dumps[0] == dumps[1]
    other = gen.default_urls(tmp_path / "c")
    gen.build(other, size=SMALL, seed=8, now=NOW)
    assert _dump(other) != dumps[0]


def _dump(urls: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for key, url in urls.items():
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                for table in gen.SCHEMAS[key]().sorted_tables:
                    rows = conn.execute(select(table).order_by(*table.primary_key.columns))
                    out[f"{key}.{table.name}"] = [tuple(r) for r in rows]
        finally:
            engine.dispose()
    return out


def test_rebuild_replaces_the_data(tmp_path: Path) -> None:
    urls = gen.default_urls(tmp_path)
    gen.build(urls, size=SMALL, now=NOW)
    manifest = gen.build(urls, size=SMALL // 2, now=NOW)
    (n,) = _rows(urls["ikcon_app"], "SELECT count(*) FROM users")[0]
    assert n == manifest.rows["ikcon_app.users"]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--out", str(tmp_path), "--size", "5"]) == 0
    assert "ada.lovelace@example.com" in capsys.readouterr().out
    assert (tmp_path / "ikcon_app.db").exists() and (tmp_path / "ikcon_marketing.db").exists()


@pytest.fixture(params=["postgresql", "mysql"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url: URL = request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url"}[
        request.param])
    yield url.render_as_string(hide_password=False)


def test_builds_on_postgresql_and_mariadb(server_url: str, datamap: DataMap,
                                          sqlite_build: tuple[dict[str, str], Any]) -> None:
    # both datasets in one database: their table names do not collide
    urls = {"ikcon_app": server_url, "ikcon_marketing": server_url}
    manifest = gen.build(urls, size=20, seed=16, now=NOW)
    _assert_matches_datamap(datamap, urls)
    sqlite_urls, sqlite_manifest = sqlite_build
    assert manifest.rows == sqlite_manifest.rows
    assert manifest.people == sqlite_manifest.people
    (n,) = _rows(server_url, "SELECT count(*) FROM users WHERE email = :e",
                 e=manifest.people["managed_user"]["email"])[0]
    assert n == 1
    # same rows as on SQLite, whatever the backend
    server, local = _dump(urls), _dump(sqlite_urls)
    for table in ("ikcon_app.users", "ikcon_app.messages", "ikcon_marketing.leads"):
        assert server[table] == local[table], table
