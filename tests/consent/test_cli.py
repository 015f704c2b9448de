"""``keepword consent`` and ``keepword preferences`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from keepword.cli import app
from tests.decide.conftest import policy_path

runner = CliRunner()
POLICY = str(policy_path("ikcon_like"))
WHO = ["--subject", "email=ada@example.com", "--subject", "phone=+442079460123"]


def run(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--home", str(home)])
    return result.exit_code, result.output + result.stderr


def test_give_show_withdraw_receipt(tmp_path: Path) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("We email you offers. Withdraw any time.")
    code, out = run(tmp_path, "consent", "give", "--policy", POLICY, *WHO, "--purpose",
                    "marketing_email", "--purpose", "recipient:partners", "--channel", "web",
                    "--notice-version", "v3", "--notice-file", str(notice), "--ip", "192.0.2.1")
    assert code == 0 and "consent given: marketing_email, recipient:partners" in out
    code, out = run(tmp_path, "consent", "withdraw", "--policy", POLICY, "--subject",
                    "phone=+44 20 7946 0123", "--purpose", "marketing_email", "--json")
    assert code == 0 and json.loads(out)["consent"] == "withdrawn"
    code, out = run(tmp_path, "consent", "show", "--policy", POLICY, *WHO, "--json")
    assert {r["purpose"]: r["given"] for r in json.loads(out)} == {
        "marketing_email": False, "recipient:partners": True}
    code, out = run(tmp_path, "consent", "show", "--policy", POLICY, *WHO, "--history")
    assert code == 0 and "withdrawn" in out and "given" in out
    code, out = run(tmp_path, "consent", "receipt", "--policy", POLICY, *WHO)
    assert [r["version"] for r in json.loads(out)] == ["KI-CR-v1.1.0"]
    code, out = run(tmp_path, "consent", "receipt", "--policy", POLICY, *WHO,
                    "--format", "iso27560")
    assert len(json.loads(out)) == 2
    for text in ("ada@example.com", "192.0.2.1", "+442079460123"):
        assert text not in out


def test_gpc_and_bad_input(tmp_path: Path) -> None:
    code, out = run(tmp_path, "consent", "gpc", "--policy", POLICY, "--subject",
                    "device_id=abc", "--json")
    assert code == 0 and json.loads(out) == {"withdrawn": ["targeted_ads", "ad_performance"]}
    code, out = run(tmp_path, "consent", "give", "--policy", POLICY, *WHO,
                    "--purpose", "telepathy")
    assert code == 2 and "unknown purpose" in out and "Traceback" not in out
    code, out = run(tmp_path, "consent", "give", "--policy", POLICY, "--subject",
                    "email:ada", "--purpose", "marketing_email")
    assert code == 2 and "kind=value" in out
    code, out = run(tmp_path, "consent", "receipt", "--policy", POLICY, *WHO, "--format", "pdf")
    assert code == 2


def test_preferences(tmp_path: Path) -> None:
    code, out = run(tmp_path, "preferences", "set", *WHO, "--channel", "email", "--opt-in")
    assert code == 0 and "opted in" in out
    code, _ = run(tmp_path, "preferences", "set", *WHO, "--channel", "sms", "--opt-out")
    code, _ = run(tmp_path, "preferences", "interest", *WHO, "--channel", "post")
    code, out = run(tmp_path, "preferences", "show", *WHO, "--json")
    rows = {r["channel"]: r for r in json.loads(out)}
    assert (rows["email"]["opted_in"], rows["sms"]["opted_in"], rows["phone"]["opted_in"]) == (
        True, False, None)
    assert rows["post"]["last_interest"] and not rows["phone"]["last_interest"]
    code, out = run(tmp_path, "preferences", "show", *WHO)
    assert "not chosen" in out
    code, out = run(tmp_path, "preferences", "set", *WHO, "--channel", "fax", "--opt-in")
    assert code == 2 and "unknown channel" in out
