"""``keepword decide`` on the two example deployments: cases drawn from the seeds.

Each row runs the real command line (consent given or withdrawn through
``keepword consent``, integrations through ``keepword integration``) and checks
the verdict, the exit code and the clause that decided.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepword.cli import app
from keepword.decide import Subject
from keepword.runtime import Keepword
from keepword.settings import load_settings
from keepword.subject_state import ALL_PURPOSES, StateAction, StateKind, record
from tests.decide.conftest import EXAMPLES

pytestmark = pytest.mark.skipif(not (EXAMPLES / "iko" / "policy.yaml").exists()
                                or not (EXAMPLES / "ikcon" / "policy.yaml").exists(),
                                reason="the example deployments are not there")

runner = CliRunner()
ADA = "email=ada@example.com"


def keepword(home: Path, *args: str) -> tuple[int, dict[str, object] | str]:
    result = runner.invoke(app, [*args, "--home", str(home)])
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        return result.exit_code, result.output + result.stderr


def decide(home: Path, company: str, purpose: str, *categories: str, age: int | None = 34,
           **options: str) -> dict[str, object]:
    args = ["decide", "--policy", str(EXAMPLES / company), "--subject", ADA,
            "--purpose", purpose, "--json"]
    for c in categories:
        args += ["--category", c]
    if age is not None:
        args += ["--age", str(age)]
    for name, value in options.items():
        args += [f"--{name}", value]
    code, out = keepword(home, *args)
    assert isinstance(out, dict), out
    assert code == (0 if out["allowed"] else 1)
    return out


def consent(home: Path, company: str, verb: str, *purposes: str) -> None:
    args = ["consent", verb, "--policy", str(EXAMPLES / company), "--subject", ADA,
            "--channel", "web"]
    for p in purposes:
        args += ["--purpose", p]
    code, out = keepword(home, *args)
    assert code == 0, out


def clauses(out: dict[str, object]) -> list[str]:
    return [r["clause"] for r in out["reasons"]]  # type: ignore[attr-defined, index]


# (company, purpose, categories, options, consents to give first, allowed, deciding clause)
SEED_CASES = [
    ("ikcon", "service_delivery", ["user.name"], {"age": 15}, [], False, "minimum_age"),
    ("ikcon", "service_delivery", ["user.name"], {"age": 16}, [], True,
     "purposes.service_delivery.legal_basis"),
    ("ikcon", "partner_services", ["user.name"], {"recipient": "partners"},
     ["partner_services"], False, "recipients.partners.requires_consent"),
    ("ikcon", "partner_services", ["user.name"], {"recipient": "partners"},
     ["partner_services", "recipient:partners"], True, "recipients.partners.requires_consent"),
    ("ikcon", "marketing_communications", ["user.contact.email"], {"age": None},
     ["marketing_communications"], False, "minimum_age"),
    ("ikcon", "sensitive_data", ["user.health_and_medical"], {}, [], False,
     "categories.user.health_and_medical.condition"),
    ("ikcon", "payments", ["user.financial"], {"recipient": "payment_processor"}, [], True,
     "recipients.payment_processor.purposes"),
    ("ikcon", "analytics", ["user.financial"], {"recipient": "analytics_provider"}, [], False,
     "recipients.analytics_provider.categories"),
    ("iko", "marketing.advertising.profiling", ["user.name"], {}, [], False,
     "prohibited_uses[1]"),
    ("iko", "marketing.communications", ["user.contact.email"], {}, [], False,
     "prohibited_uses[0]"),
    ("iko", "prospecting_service", ["user.content.private.tags"],
     {"tenant": "acme", "actor": "system_administrator"}, [], False,
     "tenant_isolation.never_visible_to[1]"),
    ("iko", "prospecting_service", ["user.content.private.tags"],
     {"tenant": "acme", "actor": "user:globex"}, [], False, "tenant_isolation"),
    ("iko", "prospecting_service", ["user.content.private.tags"],
     {"tenant": "acme", "actor": "user:acme"}, [], True, "tenant_isolation"),
    ("iko", "social_direct_messages", ["user.social"], {"recipient": "social-networks"},
     ["social_direct_messages"], False, "recipients.social-networks.requires_consent"),
]


@pytest.mark.parametrize(("company", "purpose", "categories", "options", "given", "allowed",
                          "clause"), SEED_CASES,
                         ids=[f"{c[0]}-{c[1]}-{'allow' if c[5] else 'deny'}-{i}"
                              for i, c in enumerate(SEED_CASES)])
def test_seed_cases(tmp_path: Path, company: str, purpose: str, categories: list[str],
                    options: dict[str, object], given: list[str], allowed: bool,
                    clause: str) -> None:
    if given:
        consent(tmp_path, company, "give", *given)
    opts = dict(options)
    age = opts.pop("age", 34)
    out = decide(tmp_path, company, purpose, *categories, age=age,  # type: ignore[arg-type]
                 **{k: str(v) for k, v in opts.items()})
    assert out["allowed"] is allowed, out
    assert clause in clauses(out), out


def test_consent_given_used_withdrawn_then_denied(tmp_path: Path) -> None:
    """The Ikcon marketing story: no consent, consent, withdrawal (same command)."""
    ask = ("ikcon", "marketing_communications", "user.contact.email")
    assert clauses(decide(tmp_path, *ask)) == ["purposes.marketing_communications.legal_basis"]
    consent(tmp_path, "ikcon", "give", "marketing_communications")
    assert decide(tmp_path, *ask)["allowed"] is True
    consent(tmp_path, "ikcon", "withdraw", "marketing_communications")
    out = decide(tmp_path, *ask)
    assert out["allowed"] is False
    assert "withdrawn" in str(out["reasons"])


def test_restriction_during_a_dispute_denies(tmp_path: Path) -> None:
    """Ikcon §10.3: while a dispute runs, use of the data is restricted."""
    assert decide(tmp_path, "ikcon", "service_delivery", "user.name")["allowed"] is True
    kw = Keepword(load_settings(home=tmp_path))
    refs = Subject.parse([ADA]).refs(kw.hasher)
    with kw.control.session() as session:
        record(session, refs, StateKind.RESTRICTION, StateAction.SET, "accuracy disputed",
               scope=ALL_PURPOSES)
    kw.close()
    out = decide(tmp_path, "ikcon", "service_delivery", "user.name")
    assert clauses(out) == ["rights.restriction"]


def test_uninstalling_an_integration_stops_disclosure(tmp_path: Path) -> None:
    """Ikcon §5.3.3: uninstall the app and the integration stops."""
    policy = str(EXAMPLES / "ikcon")
    ask = ("ikcon", "integrations", "user.name")
    assert clauses(decide(tmp_path, *ask, recipient="calendar_services", tenant="acme")) == [
        "recipients.calendar_services.kind"]
    code, _ = keepword(tmp_path, "integration", "install", "--policy", policy,
                       "--recipient", "calendar_services", "--organisation", "acme")
    assert code == 0
    assert decide(tmp_path, *ask, recipient="calendar_services", tenant="acme")["allowed"]
    code, out = keepword(tmp_path, "integration", "uninstall", "--policy", policy,
                         "--recipient", "calendar_services", "--organisation", "acme")
    assert code == 0 and "uninstalled" in str(out)
    out = decide(tmp_path, *ask, recipient="calendar_services", tenant="acme")
    assert out["allowed"] is False and "uninstalled" in str(out["reasons"])
    code, audit = keepword(tmp_path, "audit", "show", "--json")
    assert "integration.uninstalled" in [e["action"] for e in audit]  # type: ignore[union-attr]


def test_plain_output_and_bad_input(tmp_path: Path) -> None:
    policy = str(EXAMPLES / "iko")
    args = ["decide", "--policy", policy, "--subject", ADA, "--category", "user.name",
            "--home", str(tmp_path)]
    denied = runner.invoke(app, [*args, "--purpose", "marketing.advertising.profiling"])
    assert denied.exit_code == 1
    assert denied.output.startswith("DENY") and "prohibited_uses[" in denied.output
    bad = runner.invoke(app, [*args, "--purpose", "world_domination"])
    assert bad.exit_code == 2
    assert "unknown purpose" in bad.stderr and "Traceback" not in bad.output
    assert "ada@example.com" not in bad.output + bad.stderr
