"""The shop benchmark's store: generator, data map and SQL floor stay correct.

Small and fast, so ``bench/bench_requests.py`` cannot silently rot: the
generator loads on SQLite and PostgreSQL, the data map loads and matches the
live schema, the floor fetches and erases exactly the subject's rows.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.engine import URL

from keepword import requests
from keepword.check import run_check
from keepword.deployment import Deployment, load_deployment
from keepword.requests.export import jsonable
from keepword.runtime import Keepword
from keepword.settings import load_settings

BENCH = Path(__file__).resolve().parents[2] / "bench"
CUSTOMERS = 40


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


shop = _module("shop")

Truth = dict[int, dict[str, set[int]]]  # customer id -> table -> primary keys


def ground_truth(customers: int) -> Truth:
    """Each customer's rows, straight from the generator."""
    truth: Truth = defaultdict(lambda: defaultdict(set))
    order_owner: dict[int, int] = {}
    for chunk in shop.generate(customers, chunk=7):
        for table, rows in chunk.rows.items():
            for row in rows:
                if table == "customers":
                    owner = row[0]
                elif table == "order_items":
                    owner = order_owner[row[1]]
                else:
                    owner = row[1]
                if table == "orders":
                    order_owner[row[0]] = owner
                truth[owner][table].add(row[0])
    return truth


@pytest.fixture(params=["sqlite_url", "pg_url"])
def engine(request: pytest.FixtureRequest) -> Any:
    url: URL = request.getfixturevalue(request.param)
    eng = create_engine(url)
    shop.build(eng, CUSTOMERS)
    yield eng
    eng.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in shop.TABLES}


def test_generator_is_deterministic_and_fans_out_as_documented() -> None:
    big = [c.rows for c in shop.generate(3000, seed=5)]
    small = [c.rows for c in shop.generate(3000, seed=5, chunk=777)]
    for table in big[0]:  # the rows do not depend on the chunk size
        assert [r for c in big for r in c[table]] == [r for c in small for r in c[table]]
    n = {t: sum(len(c[t]) for c in big) for t in big[0]}
    assert n["customers"] == n["addresses"] == 3000
    assert 1.8 < n["orders"] / 3000 < 2.2
    assert 1.8 < n["order_items"] / n["orders"] < 2.2
    assert 2.7 < n["login_events"] / 3000 < 3.3
    emails = [r[1] for c in big for r in c["customers"]]
    assert len(set(emails)) == len(emails)


def test_build_loads_every_row_with_indexes(engine: Engine) -> None:
    truth = ground_truth(CUSTOMERS)
    expected = {t.name: sum(len(rows[t.name]) for rows in truth.values()) for t in shop.TABLES}
    assert _counts(engine) == expected
    insp = inspect(engine)
    indexed = {(*ix["column_names"], t) for t in ("addresses", "orders", "order_items",
                                                           "login_events", "customers")
               for ix in insp.get_indexes(t)}
    assert ("customer_id", "orders") in indexed and ("order_id", "order_items") in indexed
    assert ("email", "customers") in indexed


def test_datamap_loads_and_matches_the_live_schema(engine: Engine, tmp_path: Path) -> None:
    root = shop.write_datamap(tmp_path / "deploy", engine.dialect.name, "SHOP_DB_URL")
    url = engine.url.render_as_string(hide_password=False)
    dep = load_deployment(root, environ={"SHOP_DB_URL": url})
    try:
        report = run_check(dep)
        assert report.ok, [p.as_dict() for p in report.errors]
        assert not report.warnings, [p.as_dict() for p in report.warnings]
    finally:
        dep.close()


def test_floor_access_returns_exactly_the_subjects_rows(engine: Engine) -> None:
    truth = ground_truth(CUSTOMERS)
    with engine.connect() as conn:
        emails = shop.emails_of(conn, list(range(1, CUSTOMERS + 1)))
        for cid, email in enumerate(emails, start=1):
            got = shop.floor_access(conn, email.upper())
            assert {t: {r["id"] for r in rows} for t, rows in got.items() if rows} == \
                {t: ids for t, ids in truth[cid].items() if ids}
        assert all(not rows for rows in shop.floor_access(conn, "nobody@x.org").values())


def test_floor_erase_removes_exactly_the_subjects_rows(engine: Engine) -> None:
    truth = ground_truth(CUSTOMERS)
    gone = [2, 3, 17, 40]
    with engine.connect() as conn:
        emails = shop.emails_of(conn, gone)
    before = _counts(engine)
    assert shop.floor_erase(engine, emails, chunk=3) == len(gone)
    after = _counts(engine)
    assert {t: before[t] - after[t] for t in before} == \
        {t.name: sum(len(truth[c][t.name]) for c in gone) for t in shop.TABLES}
    with engine.connect() as conn:
        assert shop.remaining(conn, gone) == dict.fromkeys(
            ("customers", "addresses", "orders", "login_events"), 0)


def _snapshot(engine: Engine) -> dict[str, set[int]]:
    with engine.connect() as conn:
        return {t.name: set(conn.scalars(select(t.c.id))) for t in shop.TABLES}


def _personal(dep: Deployment) -> dict[str, list[str]]:
    colls = dep.datamap.dataset("shop").collections
    return {name: [f for f, spec in c.fields.items() if spec.personal] for name, c in colls.items()}


def _exported(path: str) -> dict[str, list[tuple[Any, ...]]]:
    with zipfile.ZipFile(path) as zf:
        data = json.loads(zf.read("export.json"))["data"]
    return {g["collection"]: sorted(tuple(r[f] for f in g["fields"]) for r in g["rows"])
            for g in data}


def _floor_projected(conn: Any, email: str, personal: dict[str, list[str]]
                     ) -> dict[str, list[tuple[Any, ...]]]:
    rows = shop.floor_access(conn, email)
    return {c: sorted(tuple(jsonable(r[f]) for f in personal[c]) for r in found)
            for c, found in rows.items() if found}


@pytest.fixture
def keepword_on_shop(engine: Engine, tmp_path: Path) -> Any:
    root = shop.write_datamap(tmp_path / "deploy", engine.dialect.name, "SHOP_DB_URL")
    dep = load_deployment(root, environ={
        "SHOP_DB_URL": engine.url.render_as_string(hide_password=False)})
    kw = Keepword(load_settings(home=tmp_path / "home"))
    yield kw, dep
    dep.close()
    kw.close()


def test_keepword_access_equals_the_floor(engine: Engine, keepword_on_shop: Any) -> None:
    kw, dep = keepword_on_shop
    personal = _personal(dep)
    with engine.connect() as conn:
        emails = shop.emails_of(conn, [1, 2, 5, 11, 23, 40])
        for email in emails:
            res = requests.run_request(kw, dep, "access", {"email": email})
            assert res.status == "completed", res.reason
            assert res.export is not None
            assert _exported(res.export) == _floor_projected(conn, email, personal)


def test_keepword_erasure_equals_the_floor(engine: Engine, keepword_on_shop: Any) -> None:
    kw, dep = keepword_on_shop
    with engine.connect() as conn:
        single, batch = shop.emails_of(conn, [4]), shop.emails_of(conn, [1, 9, 10, 33])
    res = requests.run_request(kw, dep, "erasure", {"email": single[0]})
    assert res.status == "completed" and res.proof and res.proof["ok"]
    ids = [requests.submit(kw, dep, requests.Kind.ERASURE, [("email", e)]) for e in batch]
    for rid in ids:
        requests.verify(kw, rid)
    results = requests.run(kw, deployment=dep, ids=ids)
    assert [(r.status, bool(r.proof and r.proof["ok"])) for r in results] == \
        [("completed", True)] * len(ids)
    by_keepword = _snapshot(engine)
    shop.build(engine, CUSTOMERS)
    shop.floor_erase(engine, single + batch)
    assert by_keepword == _snapshot(engine)
