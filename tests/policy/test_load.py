"""Loading policy.yaml: located errors, lint, canonical form and version."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from keepword.errors import InputError
from keepword.policy import canonical_json, load_policy, load_policy_text
from tests.policy.strategies import policies

MINIMAL = textwrap.dedent("""\
    organisation:
      name: Example
      country: FR
      contact: {name: Privacy team, email: privacy@example.com}
      supervisory_authority: {name: CNIL, country: FR}
    subjects:
      customer: {name: Customers}
    categories:
      user.contact.email: {name: Email address}
    purposes:
      essential.service:
        name: Provide the service
        description: Run the account.
        legal_basis: contract
        categories: [user.contact.email]
        subjects: [customer]
    rights:
      honoured: [access, erasure]
    """)


def load_error(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_policy_text(text, "policy.yaml")
    return info.value


def test_minimal_policy_loads_with_a_content_version() -> None:
    loaded = load_policy_text(MINIMAL)
    assert loaded.policy.organisation.name == "Example"
    assert loaded.version.startswith("sha256:") and len(loaded.version) == 71


def test_unknown_key_is_an_error_at_its_line() -> None:
    err = load_error(MINIMAL.replace("    legal_basis: contract",
                                     "    legal_basis: contract\n    legal_bsis: consent"))
    [p] = err.problems
    assert (p.location.line, p.location.column) == (15, 5)
    assert p.location.field_path() == "purposes.essential.service.legal_bsis"
    assert "unknown key" in p.message


def test_duplicate_key_is_an_error() -> None:
    err = load_error(MINIMAL + "rights:\n  honoured: [access]\n")
    assert "duplicate key 'rights'" in err.problems[0].message
    assert err.problems[0].location.line == 19


def test_malformed_yaml_names_the_line() -> None:
    err = load_error(MINIMAL.replace("name: Example", "name: [Example"))
    assert err.problems[0].message.startswith("malformed YAML")
    assert err.problems[0].location.file == "policy.yaml"


def test_undeclared_category_is_located() -> None:
    err = load_error(MINIMAL.replace("categories: [user.contact.email]",
                                     "categories: [user.contact.email, user.name]"))
    [p] = err.problems
    assert p.code == "undeclared_category"
    assert p.location.field_path() == "purposes.essential.service.categories[1]"
    assert p.location.line == 15


def test_wrong_type_never_echoes_the_value() -> None:
    err = load_error(MINIMAL.replace("honoured: [access, erasure]",
                                     "honoured: [access, secret-value-xyz]"))
    assert "secret-value-xyz" not in str(err)
    assert err.problems[0].location.field_path() == "rights.honoured[1]"


def test_special_category_needs_a_condition() -> None:
    err = load_error(MINIMAL.replace("user.contact.email: {name: Email address}",
                                     "user.contact.email: {name: Email address}\n"
                                     "  user.health_and_medical: {name: Health, special: true}"))
    assert "Art. 9(2) condition" in err.problems[0].message


def test_prohibited_use_contradiction_is_an_error() -> None:
    err = load_error(MINIMAL + "prohibited_uses: [essential]\n")
    assert err.problems[0].code == "prohibited_purpose"


def test_recipient_outside_eea_needs_safeguard() -> None:
    text = MINIMAL + textwrap.dedent("""\
        recipients:
          crm:
            name: CRM vendor
            kind: processor
            purposes: [essential.service]
            categories: [user.contact.email]
            countries: [IN]
        """)
    err = load_error(text)
    assert err.problems[0].code == "missing_safeguard"
    assert err.problems[0].location.field_path() == "recipients.crm.countries"


def test_missing_file_is_a_located_error(tmp_path: Any) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_formatting_and_comments_do_not_change_the_version() -> None:
    noisy = "# a comment\n" + MINIMAL.replace("rights:\n  honoured: [access, erasure]",
                                              "rights: {honoured: [access, erasure]}")
    assert load_policy_text(noisy).version == load_policy_text(MINIMAL).version


@settings(max_examples=60, deadline=None)
@given(policies())
def test_policy_canonical_policy_round_trip(data: dict[str, Any]) -> None:
    first = load_policy_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    canonical = canonical_json(first.policy)
    again = load_policy_text(yaml.safe_dump(yaml.safe_load(canonical), allow_unicode=True))
    assert again.policy == first.policy
    assert again.version == first.version
