"""``keepword audit verify`` as a user runs it: pass, then fail naming the edited row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from keepword.audit import AuditEvent
from keepword.cli import app
from keepword.runtime import Keepword
from keepword.settings import load_settings

runner = CliRunner()


def _fill(home: Path) -> None:
    kw = Keepword(load_settings(home=home))
    with kw.control.session() as s:
        for i in range(10):
            kw.audit.append(s, AuditEvent("request.created", object_type="request",
                                          object_id=f"r{i}"))
    kw.close()


def test_verify_passes_then_names_the_edited_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fill(home)
    ok = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 10 entries" in ok.output

    db = sqlite3.connect(home / "control.db")
    db.execute("UPDATE audit_log SET entry = CAST('{}' AS BLOB) WHERE seq = 4")
    db.commit()
    db.close()

    bad = runner.invoke(app, ["audit", "verify", "--home", str(home), "--json"])
    assert bad.exit_code == 1
    assert '"first_bad": 4' in bad.output


def test_show_lists_entries_as_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fill(home)
    res = runner.invoke(app, ["audit", "show", "--home", str(home), "--json", "--limit", "3"])
    assert res.exit_code == 0
    assert res.output.count('"action": "request.created"') == 3
