"""``keepword demo`` as a user runs it: both companies built, checked and acted out."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from keepword.cli import app

runner = CliRunner()


def test_demo_builds_checks_and_keeps_every_scene(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    # the default size, as the README's `./dev demo` runs it
    result = runner.invoke(app, ["demo", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    companies = {c["key"]: c for c in json.loads(result.stdout)}
    assert set(companies) == {"ikcon", "iko"}
    for key, company in companies.items():
        assert company["check"]["ok"], company["check"]["errors"]
        assert sum(company["rows"].values()) > 0
        for name in ("notice.md", "notice.html", "ropa.csv", "ropa.json"):
            assert (out / key / name).stat().st_size > 0
        scenes = company["sections"]["consent"]
        assert scenes and all(s["kept"] for s in scenes)
        decisions = [s["decision"]["decision"] for s in scenes if s["decision"]]
        assert "ALLOW" in decisions and "DENY" in decisions
        requests = company["sections"]["requests"]
        assert requests and all(s["kept"] for s in requests)
        erasures = [s for s in requests if s["kind"] == "erasure" and s["status"] == "completed"]
        assert erasures and all(s["proof"]["ok"] and not s["proof"]["residual"]
                                for s in erasures)
        exports = [Path(s["export"]) for s in requests if s["kind"] == "access"]
        assert exports and all(p.suffix == ".zip" and p.stat().st_size > 0 for p in exports)
    assert companies["ikcon"]["name"] == "Ikcon Global"
    assert any("15-year-old" in s["label"] for s in companies["ikcon"]["sections"]["consent"])


def test_demo_twice_starts_from_a_fresh_control_store(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    for _ in range(2):
        result = runner.invoke(app, ["demo", "--out", str(out), "--size", "10", "--json"])
        assert result.exit_code == 0, result.output
