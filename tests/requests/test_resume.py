"""Crash and resume: kill -9 anywhere, resume, and the result equals an uninterrupted run."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, make_url

from keepword.deployment import load_deployment
from keepword.requests import service
from keepword.requests.journal import DsrStep
from keepword.runtime import Keepword
from keepword.settings import load_settings
from tests.databases import PG_ADMIN
from tests.requests.conftest import world_urls
from tests.requests.world import World, build

KEY = "5f" * 32
PERSON = 3


class Scenario:
    """One world and one control store, rebuilt from scratch for every attempt."""

    def __init__(self, tmp: Path, store_url: URL, control_url: str) -> None:
        self.tmp = tmp
        self.urls = world_urls(store_url, tmp)
        self.control_url = control_url
        self.home = tmp / "home"

    def fresh(self) -> World:
        world = build(self.tmp / "deploy", self.urls)
        _reset_control(self.control_url)
        return world

    def runtime(self) -> Keepword:
        return Keepword(load_settings(home=self.home, control_url=self.control_url,
                                      secret_key=KEY))

    def env(self, world: World, crash: int | None) -> dict[str, str]:
        env = {**os.environ, **world.env, "KEEPWORD_SECRET_KEY": KEY,
               "KEEPWORD_CONTROL_URL": self.control_url, "KEEPWORD_HOME": str(self.home)}
        env.pop("KEEPWORD_TEST_CRASH_AFTER_STEPS", None)
        if crash:
            env["KEEPWORD_TEST_CRASH_AFTER_STEPS"] = str(crash)
        return env

    def cli(self, world: World, args: list[str], crash: int | None) -> int:
        cmd = [sys.executable, "-c", "from keepword.cli import main; main()", *args]
        done = subprocess.run(cmd, env=self.env(world, crash), capture_output=True,
                              check=False, timeout=120)
        return done.returncode

    def erase(self, world: World, crash: int | None, *, cli: bool = False) -> int:
        if cli:  # the real command line, end to end
            return self.cli(world, ["request", "erase", str(world.root), "--verified", "--json",
                                    "--identity", f"email={world.people[PERSON].email}",
                                    "--data-dir", str(world.root)], crash)
        return self.forked(world, crash, resume=False)

    def resume(self, world: World, crash: int | None) -> int:
        return self.forked(world, crash, resume=True)

    def forked(self, world: World, crash: int | None, *, resume: bool) -> int:
        """A child process (fork: no import cost) that may be killed -9 mid-way."""
        child = multiprocessing.get_context("fork").Process(
            target=_child, args=(self, world, crash, resume))
        child.start()
        child.join(120)
        return child.exitcode if child.exitcode is not None else 1

    def finish_in_process(self, world: World) -> service.RequestResult:
        dep = load_deployment(world.root, environ=world.env, data_dir=world.root)
        kw = self.runtime()
        try:
            service.run(kw, deployment=dep, resume=True)
            (result,) = service.list_requests(kw)
            with kw.control.engine.connect() as conn:
                assert kw.audit.verify(conn).ok
            return result
        finally:
            kw.close()
            dep.close()


def _child(scenario: Scenario, world: World, crash: int | None, resume: bool) -> None:
    os.environ.pop("KEEPWORD_TEST_CRASH_AFTER_STEPS", None)
    if crash:
        os.environ["KEEPWORD_TEST_CRASH_AFTER_STEPS"] = str(crash)
    kw = scenario.runtime()
    dep = load_deployment(world.root, environ=world.env, data_dir=world.root)
    if resume:
        service.run(kw, deployment=dep, resume=True)
    else:
        service.run_request(kw, dep, "erasure", {"email": world.people[PERSON].email})


def _reset_control(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
        return
    engine = create_engine(parsed)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def pg_control() -> Iterator[str]:
    """A second PostgreSQL database, for the control store."""
    from tests.databases import _fresh_database

    gen = _fresh_database(PG_ADMIN, "PostgreSQL")
    url = next(gen)
    yield url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    with pytest.raises(StopIteration):
        next(gen)


def _expected(scenario: Scenario, *, cli: bool = False) -> tuple[dict[str, object], int]:
    """The uninterrupted run: final state, and how many crash points it passes."""
    world = scenario.fresh()
    tally = scenario.tmp / "crash_points"
    tally.unlink(missing_ok=True)
    os.environ["KEEPWORD_TEST_CRASH_TALLY"] = str(tally)
    try:
        assert scenario.erase(world, None, cli=cli) == 0
    finally:
        os.environ.pop("KEEPWORD_TEST_CRASH_TALLY", None)
    kw = scenario.runtime()
    with kw.control.session() as session:
        steps = session.execute(select(func.count()).select_from(DsrStep)).scalar_one()
    kw.close()
    points = len(tally.read_text().splitlines())
    assert steps and points >= 4  # journaled, applied, proven, ended: each a crash point
    return world.snapshot(), points


def _crash_and_resume(scenario: Scenario, expected: dict[str, object], points: int,
                      first: int, second: int | None) -> None:
    world = scenario.fresh()
    code = scenario.erase(world, first)
    assert code == (-9 if first <= points else 0)
    if second is not None:
        assert scenario.resume(world, second) in (0, -9)
    result = scenario.finish_in_process(world)
    assert result.status == "completed", result.reason
    assert result.proof and result.proof["ok"]
    assert world.snapshot() == expected


def _run_property(scenario: Scenario, examples: int) -> None:
    expected, points = _expected(scenario)

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(first=st.integers(1, points + 1), second=st.none() | st.integers(1, points))
    def prop(first: int, second: int | None) -> None:
        _crash_and_resume(scenario, expected, points, first, second)

    prop()


def test_crash_anywhere_then_resume_on_sqlite(sqlite_url: URL, tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, sqlite_url, f"sqlite:///{tmp_path / 'control.db'}")
    _run_property(scenario, examples=10)


@pytest.mark.postgresql
def test_crash_anywhere_then_resume_on_postgresql(pg_url: URL, pg_control: str,
                                                  tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, pg_url, pg_control)
    _run_property(scenario, examples=6)


def test_the_command_line_killed_then_resumed(sqlite_url: URL, tmp_path: Path) -> None:
    """`keepword request erase` killed -9 mid-way; `keepword requests resume` finishes."""
    scenario = Scenario(tmp_path, sqlite_url, f"sqlite:///{tmp_path / 'control.db'}")
    expected, points = _expected(scenario, cli=True)
    world = scenario.fresh()
    assert scenario.erase(world, points // 2, cli=True) == -9
    assert scenario.cli(world, ["requests", "resume", "--json"], None) == 0
    kw = scenario.runtime()
    (result,) = service.list_requests(kw)
    kw.close()
    assert result.status == "completed" and world.snapshot() == expected


def test_store_down_mid_erasure_pauses_then_resumes(sqlite_url: URL, tmp_path: Path) -> None:
    """The crm store goes away after the plan is journaled: paused with the reason, nothing
    applied twice; back up, resume finishes and the result equals an uninterrupted run."""
    scenario = Scenario(tmp_path, sqlite_url, f"sqlite:///{tmp_path / 'control.db'}")
    expected, _ = _expected(scenario)
    world = scenario.fresh()
    assert scenario.erase(world, 1) == -9  # dies right after the plan is journaled
    crm_file = Path(make_url(world.env["KW_T_CRM_URL"]).database or "")
    hidden = crm_file.with_suffix(".away")
    crm_file.rename(hidden)  # the store is gone
    kw = scenario.runtime()
    dep = load_deployment(world.root, environ=world.env, data_dir=world.root)
    try:
        (paused,) = service.run(kw, deployment=dep, resume=True)
        assert paused.status == "paused"
        assert paused.reason == "store 'crm': SQLite file does not exist"
        with kw.control.session() as session:
            done = session.execute(select(func.count()).select_from(DsrStep)
                                   .where(DsrStep.status == "done")).scalar_one()
        assert done > 0  # the app store's steps ran before crm was needed
    finally:
        kw.close()
        dep.close()
    hidden.rename(crm_file)
    result = scenario.finish_in_process(world)
    assert result.status == "completed" and world.snapshot() == expected
