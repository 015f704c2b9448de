"""``keepword check`` on real stores: the policy, the data map and the live tables agree."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from keepword.check import CheckReport, run_check
from keepword.cli import app
from keepword.demo import load_generator
from keepword.deployment import Deployment, load_deployment
from keepword.promises import MECHANISMS
from tests.corpus.store import create_store

BASE = Path(__file__).parent / "corpus" / "base"

Build = Callable[..., Deployment]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the valid baseline deployment that a test may edit."""
    dest = tmp_path / "deploy"
    shutil.copytree(BASE, dest)
    return dest


@pytest.fixture
def build(folder: Path, tmp_path: Path) -> Iterator[Build]:
    """Load the deployment in ``folder`` and create its SQLite store (with options)."""
    opened: list[Deployment] = []

    def make(store: bool = True, **options: list[str]) -> Deployment:
        dep = load_deployment(folder, environ={}, data_dir=tmp_path)
        if store:
            create_store(dep.datamap.dataset("shop"), f"sqlite:///{tmp_path / 'shop.db'}",
                         **options)
        opened.append(dep)
        return dep

    yield make
    for dep in opened:
        dep.close()


def messages(report: CheckReport, severity: str = "error") -> list[str]:
    return [p.message for p in report.problems if p.severity == severity]


def test_baseline_passes_with_counts_and_promises(build: Build,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Pin one mechanism as not live, whatever this version implements, to see the reason.
    pinned = dataclasses.replace(MECHANISMS["decide.prohibited_use"], live=False)
    monkeypatch.setitem(MECHANISMS, "decide.prohibited_use", pinned)
    report = run_check(build(), count_rows=True)
    assert report.ok, [str(p) for p in report.errors]
    assert report.warnings == []
    c = report.counts
    assert (c.stores, c.collections, c.fields, c.personal_fields) == (1, 3, 15, 8)
    assert c.rows_per_category == dict.fromkeys([
        "user.contact.email", "user.name", "user.contact.phone_number", "user.contact.address",
        "user.health_and_medical", "user.financial", "user.device.ip_address"], 0)
    status = {p.id: (p.enforced, p.reason) for p in report.promise_status()}
    assert status == {
        "no-cards": (True, "enforced"),
        "findable": (True, "enforced"),
        "minimal-logs": (True, "enforced"),
        "no-profiling": (False, "not live yet: decide.prohibited_use"),
    }


def test_rows_per_category_counts_live_rows(build: Build, tmp_path: Path) -> None:
    dep = build()
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, email, name) VALUES (1, 'a', 'A'), "
                          "(2, 'b', 'B')"))
        conn.execute(text("INSERT INTO orders (id, customer_id, invoice) VALUES (1, 1, 'x')"))
    engine.dispose()
    rows = run_check(dep, count_rows=True).counts.rows_per_category
    assert rows is not None
    assert rows["user.contact.email"] == 2
    assert rows["user.financial"] == 1
    assert rows["user.device.ip_address"] == 0


def test_live_store_differences_are_located(build: Build) -> None:
    report = run_check(build(skip_columns=["customers.address"], not_null=["customers.phone"],
                             extra_columns=["orders.coupon"], extra_tables=["audit_trail"]))
    errors = {p.message: (p.location.line, p.location.field_path()) for p in report.errors}
    assert errors == {
        "column customers.address of dataset 'shop' does not exist in the live store":
            (33, "collections.customers.fields.address"),
        "column customers.phone is NOT NULL in the live store but erasure sets it to NULL; "
        "use mask, hash or delete_row": (29, "collections.customers.fields.phone"),
    }
    assert messages(report, "warning") == [
        "live column orders.coupon of dataset 'shop' is not in the data map",
        "table 'audit_trail' in the live store of dataset 'shop' is not in the data map",
    ]
    assert all(p.location.file and p.location.file.endswith("shop.yaml")
               for p in report.problems)


def test_missing_table_and_minimised_collection(build: Build) -> None:
    report = run_check(build(skip_tables=["orders"], extra_columns=["login_events.user_agent"]))
    assert messages(report) == [
        "table 'orders' of dataset 'shop' does not exist in the live store",
        "promise 'minimal-logs' (datamap.minimised_collection): live column "
        "login_events.user_agent is not in the data map",
    ]
    status = {p.id: p for p in report.promises}
    assert status["minimal-logs"].violations == 1
    assert status["minimal-logs"].reason == "violated"


def test_store_that_cannot_be_opened_does_not_stop_the_others(build: Build, folder: Path
                                                              ) -> None:
    (folder / "datasets" / "crm.yaml").write_text(
        "dataset: crm\nstore:\n  kind: sqlite\n  connection:\n    url: crm.db\n"
        "collections:\n  leads:\n    primary_key: [id]\n    fields:\n      id: {}\n")
    report = run_check(build(skip_tables=["orders"]))
    assert messages(report) == [
        "store 'crm': SQLite file does not exist",
        "table 'orders' of dataset 'shop' does not exist in the live store",
    ]
    crm = report.errors[0].location
    assert (Path(crm.file or "").name, crm.line, crm.field_path()) == ("crm.yaml", 2, "store")


def test_store_url_is_never_printed(build: Build, folder: Path) -> None:
    shop = folder / "datasets" / "shop.yaml"
    shop.write_text(shop.read_text().replace(
        "    env: SHOP_URL\n    default: shop.db",
        "    url: postgresql://kw_user@127.0.0.1:1/secretdb_name"))
    shop.write_text(shop.read_text().replace("kind: sqlite", "kind: postgresql"))
    report = run_check(build(store=False))
    assert len(report.errors) == 1
    assert report.errors[0].message.startswith("store 'shop': cannot connect")
    assert "secretdb_name" not in json.dumps(report.as_dict())


def test_static_checks_without_live_stores(build: Build) -> None:
    report = run_check(build(store=False), live=False)
    assert report.ok and not report.live
    assert report.counts.rows_per_category is None


@pytest.mark.postgresql
def test_live_check_on_postgresql(folder: Path, pg_url: URL) -> None:
    shop = folder / "datasets" / "shop.yaml"
    shop.write_text(shop.read_text().replace("kind: sqlite", "kind: postgresql")
                    .replace("    default: shop.db\n", ""))
    url = pg_url.render_as_string(hide_password=False)
    dep = load_deployment(folder, environ={"SHOP_URL": url})
    try:
        create_store(dep.datamap.dataset("shop"), url, not_null=["customers.address"],
                     extra_columns=["login_events.agent"])
        report = run_check(dep, count_rows=True)
    finally:
        dep.close()
    assert messages(report) == [
        "column customers.address is NOT NULL in the live store but erasure sets it to NULL; "
        "use mask, hash or delete_row",
        "promise 'minimal-logs' (datamap.minimised_collection): live column "
        "login_events.agent is not in the data map",
    ]
    assert report.counts.rows_per_category == dict.fromkeys(
        report.counts.rows_per_category or {}, 0)


# --- the command ---------------------------------------------------------------------

runner = CliRunner(env={"COLUMNS": "250"})


def test_cli_check_ok_and_json(build: Build, folder: Path, tmp_path: Path) -> None:
    build()
    result = runner.invoke(app, ["check", str(folder), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output
    result = runner.invoke(app, ["check", str(folder), "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["errors"] == []
    enforced = {p["id"]: p["enforced"] for p in data["promises"]}
    assert enforced["no-profiling"] is MECHANISMS["decide.prohibited_use"].live


def test_cli_check_exit_2_on_findings(build: Build, folder: Path, tmp_path: Path) -> None:
    build(skip_tables=["orders"], extra_tables=["spare"])
    result = runner.invoke(app, ["check", str(folder), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "table 'orders' of dataset 'shop' does not exist" in result.output
    assert "table 'spare'" in result.output  # warnings are shown too
    data = json.loads(runner.invoke(app, ["check", str(folder), "--data-dir", str(tmp_path),
                                          "--json"]).stdout)
    assert [e["code"] for e in data["errors"]] == ["missing_table"]
    assert [w["code"] for w in data["warnings"]] == ["unannotated_table"]
    assert data["errors"][0]["field"] == "collections.orders"


def test_cli_check_exit_2_on_bad_input(folder: Path) -> None:
    (folder / "policy.yaml").write_text("keepword: 1\norganisation: [\n")
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 2
    assert "malformed YAML" in result.output
    assert "Traceback" not in result.output


def test_retention_rule_without_anchor_and_unknown_minimised_collection(build: Build,
                                                                        folder: Path) -> None:
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("anchor: event.logged", "anchor: event.purged")
                      .replace("target: shop.login_events", "target: shop.logins"))
    report = run_check(build(), live=False)
    got = [(p.message, p.location.line, p.location.field_path()) for p in report.errors]
    assert got == [
        ("retention rule 'logs': no field of the data map has anchor 'event.purged', so its "
         "period can never start", 116, "retention[1].anchor"),
        ("promise 'minimal-logs': collection 'shop.logins' (dataset.collection) is not in the "
         "data map", 146, "promises[2].enforced_by[0].target"),
    ]
    status = {p.id: p for p in report.promises}
    assert status["minimal-logs"].reason == "target not in the data map: " \
        "datamap.minimised_collection -> shop.logins"
    assert not status["minimal-logs"].enforced


# --- the example deployments ---------------------------------------------------------

EXAMPLES = Path(__file__).parents[1] / "examples"


def _generator(name: str) -> ModuleType:
    return load_generator(EXAMPLES / name)


@pytest.mark.parametrize("name", ["ikcon", "iko"])
def test_examples_pass_the_check(name: str, tmp_path: Path) -> None:
    generator = _generator(name)
    generator.build(generator.default_urls(tmp_path), size=20)
    dep = load_deployment(EXAMPLES / name, environ={}, data_dir=tmp_path)
    try:
        report = run_check(dep, count_rows=True)
    finally:
        dep.close()
    assert report.ok, [str(p) for p in report.errors]
    assert not [w for w in report.warnings if w.code.startswith("unannotated")]
    assert report.counts.rows_per_category  # the generated rows are found and counted
    assert any(p.enforced for p in report.promises)
