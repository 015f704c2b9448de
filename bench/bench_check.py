"""Benchmark: `keepword check` on a generated data map of 500 collections x 20 fields.

Prints the time of loading policy + data map alone (the baseline every check
pays), then the check without and with the live SQLite store. Target: the
whole check under 2 s.

    .venv/bin/python bench/bench_check.py [--collections 500] [--fields 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

from keepword.check import run_check
from keepword.deployment import load_deployment

CATEGORIES = ["user.contact.email", "user.name", "user.contact.address",
              "user.device.ip_address", "user.behavior.browsing_history"]

POLICY = {
    "keepword": 1,
    "organisation": {"name": "Bench", "country": "FR",
                     "contact": {"name": "Privacy", "email": "privacy@bench.example"},
                     "supervisory_authority": {"name": "CNIL", "country": "FR"}},
    "subjects": {"customer": {"name": "Customers"}},
    "categories": {c: {"name": c} for c in CATEGORIES},
    "purposes": {"essential.service": {
        "name": "Service", "description": "Run the service.", "legal_basis": "contract",
        "categories": CATEGORIES, "subjects": ["customer"]}},
    "retention": [{"id": "all", "description": "Everything", "categories": CATEGORIES,
                   "period": "30 days", "anchor": "account.closed"}],
    "rights": {"honoured": ["access", "erasure"]},
    "promises": [{"id": "findable", "text": "We can find your data.", "source": "§1",
                  "enforced_by": [{"mechanism": "datamap.identity_reachable"}]}],
}


def generate(root: Path, collections: int, fields: int) -> None:
    """policy.yaml, datasets/bench.yaml and bench.db: a tree of references from t0."""
    colls: dict[str, object] = {}
    md = MetaData()
    for i in range(collections):
        fdefs: dict[str, dict[str, object]] = {"id": {"type": "integer"}}
        if i == 0:
            fdefs["email"] = {"categories": ["user.contact.email"], "identity": "email",
                              "erasure": "hash"}
            fdefs["closed_at"] = {"type": "datetime", "anchor": "account.closed"}
        else:
            fdefs["parent_id"] = {"type": "integer", "references": [f"t{(i - 1) // 2}.id"]}
        for j in range(fields - len(fdefs)):
            fdefs[f"c{j}"] = ({"categories": [CATEGORIES[(i + j) % len(CATEGORIES)]]}
                              if j % 2 == 0 else {"type": "string"})
        colls[f"t{i}"] = {"subject": "customer", "primary_key": ["id"], "fields": fdefs}
        Table(f"t{i}", md, *[Column(name, Integer if name.endswith("id") else String(50),
                                    primary_key=name == "id") for name in fdefs])
    dataset = {"dataset": "bench", "store": {"kind": "sqlite",
                                             "connection": {"url": "bench.db"}},
               "collections": colls}
    (root / "datasets").mkdir(parents=True)
    (root / "policy.yaml").write_text(yaml.safe_dump(POLICY, sort_keys=False))
    (root / "datasets" / "bench.yaml").write_text(yaml.safe_dump(dataset, sort_keys=False))
    engine = create_engine(f"sqlite:///{root / 'bench.db'}")
    md.create_all(engine)
    engine.dispose()


def timed(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collections", type=int, default=500)
    parser.add_argument("--fields", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.collections, args.fields)

        def load() -> None:
            load_deployment(root, environ={}, data_dir=root).close()

        def check(live: bool) -> Callable[[], object]:
            def run() -> None:
                dep = load_deployment(root, environ={}, data_dir=root)
                report = run_check(dep, live=live)
                dep.close()
                assert report.ok, [str(p) for p in report.errors[:5]]
            return run

        n = args.collections * args.fields
        print(f"data map: {args.collections} collections x {args.fields} fields = {n} fields, "
              f"one SQLite store (median of {args.repeat})")
        base = timed(load, args.repeat)
        static = timed(check(False), args.repeat)
        full = timed(check(True), args.repeat)
        print(f"baseline  load policy + data map        {base:7.3f} s")
        print(f"check     load + policy x data map      {static:7.3f} s  "
              f"(+{static - base:.3f} s)")
        print(f"check     load + data map x live store  {full:7.3f} s  (+{full - base:.3f} s)"
              f"   target < 2 s: {'met' if full < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
