"""The Art. 30 record of processing: one record per purpose, items (a) to (g)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepword.cli import app
from keepword.policy import load_policy
from keepword.policy.models import Policy
from keepword.ropa import COLUMNS, ropa_csv, ropa_json

BASE = Path(__file__).parent / "corpus" / "base" / "policy.yaml"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(BASE).policy


@pytest.fixture(scope="module")
def rows(policy: Policy) -> dict[str, dict[str, str]]:
    reader = csv.DictReader(io.StringIO(ropa_csv(policy)))
    return {row["Purpose key"]: row for row in reader}


def test_one_row_per_purpose_with_every_art30_item(rows: dict[str, dict[str, str]],
                                                   policy: Policy) -> None:
    assert list(rows) == list(policy.purposes)
    headers = list(next(iter(rows.values())))
    for letter in "abcdefg":
        assert any(h.startswith(f"Art. 30(1)({letter})") for h in headers), letter


def test_row_content(rows: dict[str, dict[str, str]]) -> None:
    service = rows["essential.service"]
    assert service["Art. 30(1)(a) Controller"] == (
        "Acme Shop SAS, 1 rue de la Paix, 75002 Paris, FR; Acme privacy team, "
        "privacy@shop.example")
    assert service["Art. 30(1)(a) Data protection officer"] == (
        "Data Protection Officer, dpo@shop.example")
    assert service["Legal basis (Art. 6)"] == "Art. 6(1)(b) contract"
    assert service["Art. 30(1)(c) Categories of data subjects"] == "Customers"
    assert ("Food allergies (user.health_and_medical; special category, your explicit "
            "consent (Art. 9(2)(a)))") in service["Art. 30(1)(c) Categories of personal data"]
    assert service["Art. 30(1)(d) Categories of recipients"] == "MailCo (processor)"
    assert service["Art. 30(1)(d) Recipients in third countries"] == "MailCo: US"
    assert service["Art. 30(1)(e) Transfers to third countries and safeguards"] == (
        "MailCo to US: EU standard contractual clauses (GDPR Art. 46(2)(c)) "
        "(EU Standard Contractual Clauses (2021))")
    assert service["Art. 30(1)(f) Time limits for erasure"] == (
        "accounts: 30 days after the account is closed, then deleted; accounts/invoices: "
        "Invoices kept 10 years (Tax law: invoices are kept 10 years)")
    assert "hash-chained audit log" in service[
        "Art. 30(1)(g) Technical and organisational security measures"]

    accounting = rows["finance.accounting"]
    assert accounting["Legal basis (Art. 6)"].startswith("Art. 6(1)(c) legal obligation; "
                                                        "French tax code")
    assert accounting["Art. 30(1)(d) Categories of recipients"] == "Tax authority (authority)"
    assert accounting["Art. 30(1)(e) Transfers to third countries and safeguards"] == "none"

    newsletter = rows["marketing.communications.email"]
    assert newsletter["Art. 30(1)(d) Categories of recipients"] == (
        "MailCo (processor); Partner shops (partner, only with consent)")
    assert rows["essential.service.security"]["Legal basis (Art. 6)"] == (
        "Art. 6(1)(f) legitimate interests; Keeping the shop and its customers safe from fraud.")


def test_json_matches_csv(policy: Policy, rows: dict[str, dict[str, str]]) -> None:
    data = json.loads(ropa_json(policy, "sha256:x"))
    assert data["controller"] == "Acme Shop SAS"
    assert data["policy_version"] == "sha256:x"
    assert list(data["columns"]) == [key for key, _ in COLUMNS]
    assert [r["purpose"] for r in data["records"]] == list(rows)
    logs = data["records"][1]["erasure_time_limits"]
    assert "logs: 90 days after the event is logged, then anonymised" in logs


def test_cli_ropa(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ropa.json"
    result = runner.invoke(app, ["ropa", str(BASE.parent), "--format", "json", "--out",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["records"]) == 4
    result = runner.invoke(app, ["ropa", str(BASE)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("Purpose key,Art. 30(1)(a) Controller")


@pytest.mark.parametrize("name", ["ikcon", "iko"])
def test_example_records(name: str) -> None:
    loaded = load_policy(Path(__file__).parents[1] / "examples" / name / "policy.yaml")
    rows = list(csv.DictReader(io.StringIO(ropa_csv(loaded.policy))))
    assert [r["Purpose key"] for r in rows] == list(loaded.policy.purposes)
    assert all(r["Art. 30(1)(b) Purpose of the processing"] for r in rows)
    assert len(json.loads(ropa_json(loaded.policy))["records"]) == len(rows)
