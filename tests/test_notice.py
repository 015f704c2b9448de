"""The privacy notice says what GDPR Art. 13/14 require, from the policy alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepword.cli import app
from keepword.notice import anchor_phrase, render_notice
from keepword.policy import load_policy, load_policy_text

BASE = Path(__file__).parent / "corpus" / "base" / "policy.yaml"


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_notice(load_policy(BASE).policy, "md", version="abc123")


@pytest.mark.parametrize("expected", [
    # who we are, DPO, authority
    "Acme Shop SAS, 1 rue de la Paix, 75002 Paris (FR)",
    "**Data protection officer:** Data Protection Officer, dpo@shop.example",
    "**Supervisory authority:** CNIL (FR), https://www.cnil.fr",
    # what we collect: special categories flagged, sources incl. third parties
    "| Food allergies | you give it to us | **special category**, processed only on the basis "
    "of your explicit consent (Art. 9(2)(a)) |",
    "| Phone number | you give it to us; obtained from third parties (Lead lists bought from "
    "LeadCo Ltd) |",
    "| IP address | collected automatically when you use our services |",
    # why: basis, the legitimate interest, the law
    "- **Legal basis:** our legitimate interests (GDPR Art. 6(1)(f)); you can object at any time.",
    "- **Our legitimate interest:** Keeping the shop and its customers safe from fraud.",
    "- **The law that requires it:** French tax code",
    "- **This includes:** direct marketing",
    # who we share with: countries, safeguard, consent
    "Located in: US.\n  Transfers outside the EEA are protected by EU standard contractual "
    "clauses (GDPR Art. 46(2)(c)) (EU Standard Contractual Clauses (2021)).",
    "- **Partner shops** (partner)\n  For: Newsletter. Data: Email address. Located in: DE.\n"
    "  Only with your consent.",
    # retention in plain language, exceptions and grounds
    "30 days after the account is closed, then deleted.",
    "90 days after the event is logged, then anonymised.",
    "- Account data, 30 days after the account is closed. **Period:** 30 days after the "
    "account is closed, then deleted.",
    "  - **Exception:** Invoices (Invoices and payments): kept 10 years. Ground: Tax law: "
    "invoices are kept 10 years. This applies even if you ask us to delete your data.",
    # rights and deadlines
    "- to have your data deleted (Art. 17);",
    "Under the GDPR we answer within 1 month; for complex requests we may extend this by "
    "2 months",
    "Under the CCPA we answer within 45 days;",
    "You can complain to CNIL: https://www.cnil.fr/en/plaintes.",
    # minimum age, never, promises
    "Our services are not for people under 16.",
    "We never:\n\n- profile you for advertising;\n- sell your personal information.",
    "- We never store payment card numbers. (§4)",
    "_Policy version abc123._",
])
def test_markdown_notice_says(markdown: str, expected: str) -> None:
    assert expected in markdown


def test_html_notice_is_escaped_and_complete() -> None:
    text = BASE.read_text().replace("Detect fraud and abuse.",
                                    "Detect <script>alert(1)</script> & abuse.")
    html = render_notice(load_policy_text(text).policy, "html")
    assert "<script>alert(1)</script>" not in html
    assert "Detect &lt;script&gt;alert(1)&lt;/script&gt; &amp; abuse." in html
    for section in ("who", "collect", "why", "share", "retention", "rights", "children",
                    "never", "promises"):
        assert f'<section id="{section}">' in html
    assert '<span class="special">special category</span>' in html
    assert html.rstrip().endswith("</html>")


def test_markdown_table_cells_cannot_break_the_table() -> None:
    text = BASE.read_text().replace("name: Postal address", "name: Postal | billing address")
    md = render_notice(load_policy_text(text).policy, "md")
    assert "| Postal \\| billing address |" in md


def test_policy_without_recipients_or_sale_says_so() -> None:
    text = BASE.read_text()
    start, end = text.index("recipients:"), text.index("retention:")
    md = render_notice(load_policy_text(text[:start] + text[end:]).policy, "md")
    assert "We do not share your personal data with anyone." in md


@pytest.mark.parametrize(("anchor", "phrase"), [
    ("account.closed", "the account is closed"),
    ("subscription.ended", "the subscription is ended"),
    ("marketing.last_interest", "the marketing last interest"),
    ("collected", "the collected"),
    ("cookie.first_set", "the cookie is first set"),
])
def test_anchor_phrase(anchor: str, phrase: str) -> None:
    assert anchor_phrase(anchor) == phrase


def test_cli_notice(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "notice.html"
    result = runner.invoke(app, ["notice", str(BASE.parent), "--format", "html", "--out",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    result = runner.invoke(app, ["notice", str(BASE)])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Privacy notice — Acme Shop")
    result = runner.invoke(app, ["notice", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "file not found" in result.output


@pytest.mark.parametrize("name", ["ikcon", "iko"])
def test_example_notices_render(name: str) -> None:
    loaded = load_policy(Path(__file__).parents[1] / "examples" / name / "policy.yaml")
    md = render_notice(loaded.policy, "md")
    html = render_notice(loaded.policy, "html")
    org = loaded.policy.organisation.name
    assert md.startswith(f"# Privacy notice — {org}")
    for purpose in loaded.policy.purposes.values():
        assert f"### {purpose.name}" in md
    assert "## Your rights" in md and "<h2>Your rights</h2>" in html
