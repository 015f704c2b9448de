"""The broken-file corpus: every bad input gives its exact message at its exact place.

``tests/corpus/policy/*.yaml`` are broken policies, ``tests/corpus/datasets/*.yaml``
broken data-map files, and ``tests/corpus/check/*.yaml`` data-map files that load
but that ``keepword check`` must reject when added to the valid baseline deployment
``tests/corpus/base``. Each expectation is (message, line, column, field path).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepword.check import run_check
from keepword.cli import app
from keepword.datamap import load_datamap
from keepword.deployment import load_deployment
from keepword.errors import InputError, Problem
from keepword.policy import load_policy
from keepword.promises import MECHANISMS
from tests.corpus.store import create_store

CORPUS = Path(__file__).parent / "corpus"
Expected = list[tuple[str, int, int, str]]

UNKNOWN = "unknown key (check the spelling; unknown keys are never ignored)"
MISSING = "required field is missing"
UNANCHORED = ("retention rule 'accounts': collection crm.{} holds its categories but joins no "
              "collection with anchor 'account.closed'")

POLICY: dict[str, Expected] = {
    "malformed.yaml": [("malformed YAML: expected ',' or ']', but got ':'", 7, 11, "")],
    "duplicate_key.yaml": [("duplicate key 'honoured'", 22, 3, "rights.honoured")],
    "empty.yaml": [("the file is empty", 1, 1, "")],
    "not_a_mapping.yaml": [("a policy is a YAML mapping", 1, 1, "")],
    "unknown_key_top.yaml": [(UNKNOWN, 21, 1, "promisses")],
    "unknown_key_nested.yaml": [
        (UNKNOWN, 29, 5, "recipients.mailer.safeguards"),
        (UNKNOWN, 40, 9, "retention[0].exceptions[0].grond"),
        (UNKNOWN, 21, 3, "rights.complaint_contat"),
    ],
    "wrong_types.yaml": [
        ("Input should be 'processor', 'partner', 'affiliate', 'other_users', "
         "'organisation_administrator', 'integration', 'review_site' or 'authority'",
         25, 5, "recipients.mailer.kind"),
        ("Input should be a valid list", 26, 5, "recipients.mailer.purposes"),
        ("Input should be a valid boolean, unable to interpret input", 29, 5,
         "recipients.mailer.requires_consent"),
        ("Input should be a valid integer, unable to parse string as an integer", 21, 1,
         "minimum_age"),
    ],
    "missing_required.yaml": [
        (MISSING, 3, 1, "organisation.contact"),
        (MISSING, 12, 3, "purposes.essential.service.legal_basis"),
    ],
    "undeclared.yaml": [
        ("category 'user.contact.phone_number' is not declared under 'categories'", 17, 38,
         "purposes.marketing.categories[1]"),
        ("subject 'prospect' is not declared under 'subjects'", 18, 16,
         "purposes.marketing.subjects[0]"),
        ("purpose 'analytics' is not declared under 'purposes'", 23, 27,
         "recipients.mailer.purposes[1]"),
    ],
    "bad_duration.yaml": [
        ("expected a duration such as 'P30D', '30 days', '1 month' or '10 years'", 25, 5,
         "retention[0].period"),
    ],
    "special_without_condition.yaml": [
        ("Value error, a special category needs its GDPR Art. 9(2) condition", 11, 3,
         "categories.user.health_and_medical"),
    ],
    "unknown_mechanism.yaml": [
        ("unknown mechanism 'decide.never_sell'; known: " + ", ".join(sorted(MECHANISMS)),
         26, 9, "promises[0].enforced_by[0].mechanism"),
    ],
    "no_safeguard.yaml": [
        ("recipient outside the EEA (US, IN) needs a transfer 'safeguard' (adequacy, scc, bcr "
         "or derogation)", 27, 5, "recipients.support.countries"),
    ],
}

DATASETS: dict[str, Expected] = {
    "malformed.yaml": [("malformed YAML: found character '\\t' that cannot start any token",
                        4, 1, "")],
    "duplicate_key.yaml": [("duplicate key 'email'", 13, 7, "collections.leads.fields.email")],
    "unknown_key.yaml": [
        (MISSING, 3, 1, "store.connection"),
        (UNKNOWN, 5, 3, "store.conection"),
        (UNKNOWN, 13, 9, "collections.leads.fields.email.categores"),
        (UNKNOWN, 9, 5, "collections.leads.subjects"),
    ],
    "wrong_types.yaml": [
        ("Input should be 'sqlite', 'postgresql' or 'mysql'", 4, 3, "store.kind"),
        ("Input should be a valid list", 8, 5, "collections.leads.primary_key"),
        ("Input should be a valid boolean, unable to interpret input", 11, 9,
         "collections.leads.fields.id.nullable"),
        ("Input should be a valid list", 13, 9, "collections.leads.fields.email.categories"),
        ("Input should be 'delete_row', 'null', 'hash', 'mask' or 'keep'", 14, 9,
         "collections.leads.fields.email.erasure"),
    ],
    "missing_required.yaml": [
        (MISSING, 2, 1, "store"),
        (MISSING, 4, 3, "collections.leads.primary_key"),
    ],
    "password_in_url.yaml": [
        ("Value error, a literal URL must not hold a password; use 'env' or 'secret' for "
         "credentials", 5, 3, "store.connection"),
    ],
    "missing_reference.yaml": [
        ("reference to 'leads.lead_id': no such field in the data map", 17, 22,
         "collections.notes.fields.lead_id.references[0]"),
        ("reference to 'hr.staff.id': no such field in the data map", 19, 22,
         "collections.notes.fields.author_id.references[0]"),
    ],
    "keep_without_exception.yaml": [
        ("Value error, erasure 'keep' needs 'exception': the retention exception id", 11, 7,
         "collections.invoices.fields.amount"),
    ],
    "undeclared_key_fields.yaml": [
        ("Value error, names fields that are not declared: lead_id, tenant", 7, 3,
         "collections.leads"),
    ],
}

# (errors, warnings) that `keepword check` finds when the file joins the baseline.
CHECK: dict[str, tuple[Expected, Expected]] = {
    "undeclared_category.yaml": (
        [("category 'user.biometric' is not declared in the policy's 'categories'", 16, 22,
          "collections.leads.fields.face.categories[0]")],
        [(UNANCHORED.format("leads"), 7, 3, "collections.leads")],
    ),
    "undeclared_subject.yaml": (
        [("subject 'employee' is not declared in the policy's 'subjects'", 8, 5,
          "collections.staff.subject")],
        [(UNANCHORED.format("staff"), 7, 3, "collections.staff")],
    ),
    "unreachable_collection.yaml": (
        [("collection crm.call_notes holds personal data but no identity field reaches it "
          "through references: no request could ever find it", 14, 3,
          "collections.call_notes")],
        [(UNANCHORED.format("call_notes"), 14, 3, "collections.call_notes"),
         (UNANCHORED.format("leads"), 7, 3, "collections.leads")],
    ),
    "unknown_exception.yaml": (
        [("retention exception 'contracts-10y' is not declared in the policy "
          "(retention[].exceptions[].id)", 17, 9,
          "collections.contracts.fields.signed_copy.exception")],
        [(UNANCHORED.format("contracts"), 7, 3, "collections.contracts")],
    ),
    "forbidden_category.yaml": (
        [("category 'user.financial.credit_card' is forbidden by promise 'no-cards' "
          "(datamap.forbidden_category)", 15, 22,
          "collections.payments.fields.card_number.categories[0]")],
        [(UNANCHORED.format("payments"), 7, 3, "collections.payments")],
    ),
    "missing_store_file.yaml": (  # checked live: the shop store exists, crm's does not
        [("store 'crm': SQLite file does not exist", 3, 1, "store")],
        [(UNANCHORED.format("leads"), 7, 3, "collections.leads")],
    ),
}


def located(problems: list[Problem]) -> Expected:
    return [(p.message, p.location.line or 0, p.location.column or 0,
             p.location.field_path()) for p in problems]


def test_every_corpus_file_is_pinned() -> None:
    for folder, table in (("policy", POLICY), ("datasets", DATASETS), ("check", CHECK)):
        assert sorted(p.name for p in (CORPUS / folder).glob("*.yaml")) == sorted(table)


@pytest.mark.parametrize("name", sorted(POLICY))
def test_broken_policy(name: str) -> None:
    path = CORPUS / "policy" / name
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert located(info.value.problems) == POLICY[name]
    assert {p.location.file for p in info.value.problems} == {str(path)}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_broken_dataset(name: str) -> None:
    path = CORPUS / "datasets" / name
    with pytest.raises(InputError) as info:
        load_datamap(path)
    assert located(info.value.problems) == DATASETS[name]
    assert {p.location.file for p in info.value.problems} == {str(path)}
    assert "hunter2" not in str(info.value)  # never echo a credential


def deployment_with(tmp_path: Path, dataset: Path | None = None,
                    policy: Path | None = None) -> Path:
    """The baseline deployment plus one corpus file, and the baseline's SQLite store."""
    folder = tmp_path / "deploy"
    shutil.copytree(CORPUS / "base", folder)
    if dataset is not None:
        shutil.copy(dataset, folder / "datasets" / dataset.name)
    if policy is not None:
        shutil.copy(policy, folder / "policy.yaml")
    return folder


@pytest.mark.parametrize("name", sorted(CHECK))
def test_check_finds(name: str, tmp_path: Path) -> None:
    folder = deployment_with(tmp_path, CORPUS / "check" / name)
    dep = load_deployment(folder, environ={}, data_dir=tmp_path)
    live = name == "missing_store_file.yaml"
    if live:
        create_store(dep.datamap.dataset("shop"), f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        report = run_check(dep, live=live)
    finally:
        dep.close()
    errors, warnings = CHECK[name]
    assert located(report.errors) == errors
    assert located(report.warnings) == warnings
    assert {Path(p.location.file or "").name for p in report.problems} == {name}


# --- the command line: exit 2, the located message, never a traceback ----------------

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.mark.parametrize(("policy", "dataset", "expected"), [
    ("unknown_key_top.yaml", None, "policy.yaml:21:1: promisses: unknown key"),
    ("malformed.yaml", None, "policy.yaml:7:11: malformed YAML"),
    (None, "password_in_url.yaml", "password_in_url.yaml:5:3: store.connection: Value error, "
                                   "a literal URL must not hold a password"),
    (None, "missing_reference.yaml", "missing_reference.yaml:17:22: "
                                     "collections.notes.fields.lead_id.references[0]: "
                                     "reference to 'leads.lead_id'"),
])
def test_cli_exit_2_without_traceback(tmp_path: Path, policy: str | None,
                                      dataset: str | None, expected: str) -> None:
    folder = deployment_with(
        tmp_path, dataset=CORPUS / "datasets" / dataset if dataset else None,
        policy=CORPUS / "policy" / policy if policy else None)
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output


def test_cli_in_a_real_process(tmp_path: Path) -> None:
    folder = deployment_with(tmp_path, policy=CORPUS / "policy" / "wrong_types.yaml")
    proc = subprocess.run(
        [sys.executable, "-c", "from keepword.cli import main; main()", "check", str(folder)],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "250", "PATH": ""},
        check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "policy.yaml:21:1: minimum_age: Input should be a valid integer" in proc.stderr


def test_cli_store_that_cannot_be_opened(tmp_path: Path) -> None:
    folder = deployment_with(tmp_path, CORPUS / "check" / "missing_store_file.yaml")
    dep = load_deployment(folder, environ={}, data_dir=tmp_path)
    create_store(dep.datamap.dataset("shop"), f"sqlite:///{tmp_path / 'shop.db'}")
    result = runner.invoke(app, ["check", str(folder), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "store 'crm': SQLite file does not exist" in result.output
    assert "does-not-exist.db" not in result.output
    assert "Traceback" not in result.output
