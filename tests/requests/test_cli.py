"""The command line: a thin face over the service (exit codes, JSON, messages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from keepword.cli import app
from tests.requests.world import World

runner = CliRunner()


@pytest.fixture
def cli(sqlite_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in sqlite_world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KEEPWORD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KEEPWORD_CONTROL_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_access_with_json(cli: Any, sqlite_world: World) -> None:
    code, out, _ = cli("request", "access", str(sqlite_world.root), "--identity",
                       f"email={sqlite_world.people[3].email}", "--verified", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "completed" and Path(data["export"]).exists()
    assert data["found"]["app.users"] == 2  # their own row, and the person they referred


def test_request_waits_for_verification_then_runs(cli: Any, sqlite_world: World) -> None:
    email = sqlite_world.people[6].email
    code, out, _ = cli("request", "erase", str(sqlite_world.root), "-i", f"email={email}",
                       "--json")
    rid = json.loads(out)["id"]
    assert code == 0 and json.loads(out)["status"] == "received"
    code, out, _ = cli("requests", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == [rid]
    assert cli("requests", "verify", rid)[0] == 0
    code, out, _ = cli("requests", "run", "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "completed"
    code, out, _ = cli("requests", "show", rid)
    assert "proof: nothing left" in out and "completed" in out
    code, out, _ = cli("requests", "extend", rid, "--reason", "late")
    assert code == 1 and "completed" in out + _


def test_dry_run_prints_the_plan(cli: Any, sqlite_world: World) -> None:
    code, out, _ = cli("request", "erase", str(sqlite_world.root), "-i", "account_id=3",
                       "--dry-run")
    assert code == 0 and "plan" in out and "delete" in out and "app.users" in out
    assert "person3@" not in out


def test_bad_input_exits_2_without_echoing_values(cli: Any, sqlite_world: World) -> None:
    code, _, err = cli("request", "access", str(sqlite_world.root), "-i", "passport=X99")
    assert code == 2 and "unknown identity type 'passport'" in err and "X99" not in err
    code, _, err = cli("request", "access", str(sqlite_world.root), "-i", "email=broken")
    assert code == 2 and "is not an email address" in err and "broken" not in err
    code, _, err = cli("request", "rectify", str(sqlite_world.root), "-i", "account_id=3",
                       "--set", "orders.total=lots")
    assert code == 2 and "not a valid float" in err


def test_ambiguous_identity_exits_1(cli: Any, sqlite_world: World) -> None:
    code, out, _ = cli("request", "access", str(sqlite_world.root), "-i", "account_id=1",
                       "-i", "account_id=2", "--verified")
    assert code == 1 and "2 different people" in out


def test_managed_account_approval(cli: Any, sqlite_world: World) -> None:
    managed = min(sqlite_world.managed)
    code, out, _ = cli("request", "erase", str(sqlite_world.root), "-i",
                       f"account_id={managed}", "--verified", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "awaiting_administrator"
    code, out, _ = cli("requests", "approve", data["id"], "--deny", "--reason", "legal hold")
    assert code == 0 and "denied" in out
    code, out, _ = cli("requests", "deny", data["id"], "--reason", "again")
    assert code == 1 and "cannot become denied" in _


def test_restrict_object_and_resume_nothing(cli: Any, sqlite_world: World) -> None:
    root = str(sqlite_world.root)
    code, out, _ = cli("request", "restrict", root, "-i", "account_id=4", "--reason",
                       "dispute", "--verified")
    assert code == 0 and "completed" in out
    code, out, _ = cli("request", "object", root, "-i", "account_id=4", "--purpose",
                       "marketing", "--reason", "no newsletter", "--verified", "--json")
    assert json.loads(out)["recorded"] == "objection set"
    code, out, _ = cli("requests", "resume", root)
    assert code == 0 and "nothing to run" in out and "export file" not in out


def test_resume_removes_an_old_export_file_no_request_names(cli: Any, sqlite_world: World,
                                                            tmp_path: Path) -> None:
    import os
    import time

    left = tmp_path / "home" / "exports" / "req_0000000000000000dead.zip"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"PK-left by a killed process")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    code, out, _ = cli("requests", "resume", str(sqlite_world.root))
    assert code == 0 and "removed 1 export file(s)" in out and not left.exists()


def test_import_records_every_row_or_names_the_bad_line(cli: Any, sqlite_world: World,
                                                        tmp_path: Path) -> None:
    """A helpdesk's CSV: a bad email on line 3 refuses the file (line and column named, the
    value not shown, nothing recorded); the good file records one request a row, which
    then run as one batch."""
    people = [sqlite_world.people[k] for k in (2, 6, 9)]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"email,phone\n{people[0].email},\nnot-an-address,\n", encoding="utf-8")
    code, _, err = cli("requests", "import", str(sqlite_world.root), str(bad),
                       "--kind", "erase")
    assert code == 2 and "bad.csv:3" in err and "email" in err and "not-an-address" not in err
    code, out, _ = cli("requests", "list", "--json")
    assert json.loads(out) == []
    code, _, err = cli("requests", "import", str(sqlite_world.root), str(tmp_path / "no.csv"),
                       "--kind", "erase")
    assert code == 2 and "no.csv: cannot open it (FileNotFoundError)" in err
    header = tmp_path / "header.csv"
    header.write_text("email,passport\n", encoding="utf-8")
    code, _, err = cli("requests", "import", str(sqlite_world.root), str(header),
                       "--kind", "erase")
    assert code == 2 and "header.csv:1:2" in err and "passport" in err
    good = tmp_path / "tickets.csv"
    good.write_text("email,account_id\n" + "".join(f"{p.email},\n" for p in people[:2])
                    + f",{people[2].id}\n", encoding="utf-8")
    code, out, _ = cli("requests", "import", str(sqlite_world.root), str(good),
                       "--kind", "erase", "--verified", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "verified" and len(data["requests"]) == 3
    code, out, _ = cli("requests", "run", "--json")
    assert code == 0 and [r["status"] for r in json.loads(out)] == ["completed"] * 3


def test_verify_several_at_once(cli: Any, sqlite_world: World, tmp_path: Path) -> None:
    good = tmp_path / "tickets.csv"
    good.write_text("email\n" + "".join(f"{sqlite_world.people[k].email}\n" for k in (2, 6)),
                    encoding="utf-8")
    code, out, _ = cli("requests", "import", str(sqlite_world.root), str(good), "--kind",
                       "access", "--json")
    ids = json.loads(out)["requests"]
    code, out, _ = cli("requests", "verify", *ids, "--json")
    assert code == 0 and [r["status"] for r in json.loads(out)] == ["verified"] * 2
    code, _, err = cli("requests", "verify", *ids)
    assert code == 1 and "cannot become verified" in err
