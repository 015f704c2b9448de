"""Access and erasure on the planted people of both example deployments (Ikcon, IKO)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from keepword.demo import load_generator
from keepword.deployment import Deployment, load_deployment
from keepword.requests import service
from keepword.runtime import Keepword

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _generator(name: str) -> ModuleType:
    return load_generator(EXAMPLES / name)


class Example:
    def __init__(self, name: str, folder: Path) -> None:
        self.gen = _generator(name)
        folder.mkdir(parents=True, exist_ok=True)
        self.urls = self.gen.default_urls(folder)
        self.manifest = self.gen.build(self.urls, size=30)
        self.dep: Deployment = load_deployment(EXAMPLES / name, data_dir=folder, environ={})

    def person(self, key: str) -> dict[str, str]:
        people: dict[str, dict[str, str]] = self.manifest.people
        return people[key]

    def everything(self) -> str:
        """Every value of every table of every store, as one string to search."""
        out = []
        for url in self.urls.values():
            engine = sa.create_engine(url)
            md = sa.MetaData()
            md.reflect(engine)
            with engine.connect() as conn:
                for table in md.tables.values():
                    out.extend(repr(tuple(r)) for r in conn.execute(sa.select(table)))
            engine.dispose()
        return "\n".join(out)


@pytest.fixture(params=["ikcon", "iko"])
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Example]:
    if not (EXAMPLES / request.param / "policy.yaml").exists():
        pytest.skip(f"example {request.param} not present")
    ex = Example(request.param, tmp_path / "data")
    yield ex
    ex.dep.close()


PLANTED = {"ikcon": "customer", "iko": "user"}


def test_access_then_erasure_of_a_planted_person(example: Example, rt: Keepword) -> None:
    key = PLANTED[example.dep.root.name]
    person = example.person(key)
    access = service.run_request(rt, example.dep, "access", {"email": person["email"]})
    assert access.status == "completed" and access.found
    with zipfile.ZipFile(access.export or "") as zf:
        export: dict[str, Any] = json.loads(zf.read("export.json"))
    assert person["email"] in json.dumps(export)
    assert export["categories"] and all(c["purposes"] for c in export["categories"])
    assert person["email"] in example.everything()

    erased = service.run_request(rt, example.dep, "erasure", {"email": person["email"]})
    assert erased.status == "completed", erased.reason
    assert erased.proof and erased.proof["ok"], erased.proof
    assert erased.outcome and erased.outcome["deleted"]
    kept = {k["exception"] for k in erased.outcome["kept"]}
    exceptions = {e.id for r in example.dep.policy.policy.retention for e in r.exceptions}
    assert kept and kept <= exceptions  # what stays, stays under a declared exception
    assert person["email"] not in example.everything()
    again = service.run_request(rt, example.dep, "access", {"email": person["email"]})
    assert again.found == {}


def test_managed_account_goes_to_the_administrator(tmp_path: Path, rt: Keepword) -> None:
    if not (EXAMPLES / "ikcon" / "policy.yaml").exists():
        pytest.skip("example ikcon not present")
    ex = Example("ikcon", tmp_path / "data")
    try:
        email = ex.person("managed_user")["email"]
        result = service.run_request(rt, ex.dep, "erasure", {"email": email})
        assert result.status == "awaiting_administrator"
        assert email in ex.everything()
        service.approve(rt, result.id or "", approved=True, reason="group administrator agrees")
        (done,) = service.run(rt, deployment=ex.dep)
        assert done.status == "completed" and done.proof and done.proof["ok"]
        assert email not in ex.everything()
    finally:
        ex.dep.close()


def test_a_prospect_who_never_signed_up(tmp_path: Path, rt: Keepword) -> None:
    if not (EXAMPLES / "iko" / "policy.yaml").exists():
        pytest.skip("example iko not present")
    ex = Example("iko", tmp_path / "data")
    try:
        prospect = ex.person("prospect")
        result = service.run_request(rt, ex.dep, "erasure", {"email": prospect["email"]})
        assert result.status == "completed" and result.proof and result.proof["ok"]
        everything = ex.everything()
        assert prospect["email"] not in everything and prospect["phone"] not in everything
        engine = ex.dep.stores.engine(ex.dep.datamap.dataset("iko_app"))
        with engine.connect() as conn:
            cid = int(prospect["contact_id"])
            left = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE {c} = :c"),
                                    {"c": cid}).scalar_one()
                    for t, c in (("contacts", "id"), ("contact_tags", "contact_id"))}
        assert left == {"contacts": 0, "contact_tags": 0}, "the whole profile must go"
    finally:
        ex.dep.close()
