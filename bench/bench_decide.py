"""Benchmark of the decision point and the consent ledger.

Prints, in one run:
* warm in-process decisions per second through the compiled index (target
  >= 500,000/s on one core), and the same decisions evaluated straight from the
  policy objects without the index (the baseline);
* consent events written per second to a SQLite control store, one event per
  transaction and batched (target >= 5,000/s).

Usage: python bench/bench_decide.py [--policy PATH] [--subjects N] [--decisions N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from keepword.consent.ledger import ConsentInput
from keepword.decide import Decider, Subject
from keepword.runtime import Keepword
from keepword.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [ROOT / "examples/ikcon/policy.yaml",
            ROOT / "tests/decide/fixtures/ikcon_like.yaml"]


Work = list[tuple[Subject, str, tuple[str, ...], str | None]]


def workload(decider: Decider, subjects: list[Subject], n: int, rng: random.Random) -> Work:
    """A mix of questions: every purpose with one or two of its categories, some
    through a recipient declared for it."""
    policy = decider.policy
    shapes: list[tuple[str, tuple[str, ...], str | None]] = []
    for key, purpose in policy.purposes.items():
        cats = purpose.categories
        shapes.append((key, (cats[0],), None))
        shapes.append((key, tuple(cats[:2]), None))
        for rkey, rec in policy.recipients.items():
            if key in rec.purposes:
                shapes.append((key, (cats[0],), rkey))
    return [(rng.choice(subjects), *rng.choice(shapes)) for _ in range(n)]


def seed_consents(decider: Decider, subjects: list[Subject], rng: random.Random) -> None:
    consent_keys = [k for k, p in decider.policy.purposes.items()
                    if p.legal_basis.value == "consent"]
    consent_keys += [f"recipient:{r}" for r, rec in decider.policy.recipients.items()
                     if rec.requires_consent]
    acts = [ConsentInput(s, (k,), rng.random() < 0.7, "web")
            for s in subjects for k in consent_keys if rng.random() < 0.8]
    decider.ledger.record_many(acts)


def bench_decisions(decider: Decider, work: Work, rounds: int, *, memo: bool = True) -> float:
    decider.memo = memo
    decider.cache.clear()
    decide = decider.decide
    for s, p, c, r in work:  # warm: plans and snapshots
        decide(s, p, c, recipient=r)
    start = time.perf_counter()
    for _ in range(rounds):
        for s, p, c, r in work:
            decide(s, p, c, recipient=r)
    return rounds * len(work) / (time.perf_counter() - start)


def bench_baseline(decider: Decider, work: Work) -> float:
    decide = decider.decide_from_policy
    start = time.perf_counter()
    for s, p, c, r in work:
        decide(s, p, c, recipient=r)
    return len(work) / (time.perf_counter() - start)


def bench_writes(decider: Decider, n_single: int, n_batched: int, batch: int
                 ) -> tuple[float, float]:
    purpose = next(k for k, p in decider.policy.purposes.items()
                   if p.legal_basis.value == "consent")
    people = [Subject.of(email=f"w{i}@bench.example") for i in range(max(n_single, n_batched))]
    start = time.perf_counter()
    for i in range(n_single):
        decider.ledger.record(people[i], purpose, given=bool(i % 2), channel="web")
    single = n_single / (time.perf_counter() - start)
    acts = [ConsentInput(people[i], (purpose,), bool(i % 2), "web") for i in range(n_batched)]
    start = time.perf_counter()
    for i in range(0, n_batched, batch):
        decider.ledger.record_many(acts[i:i + batch])
    batched = n_batched / (time.perf_counter() - start)
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=next(p for p in POLICIES if p.exists()))
    parser.add_argument("--subjects", type=int, default=2_000)
    parser.add_argument("--decisions", type=int, default=2_000_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as home:
        kw = Keepword(load_settings(home=Path(home)))
        # A long TTL: the benchmark measures the warm path, not the expiry of entries.
        decider = Decider.from_deployment(args.policy, kw, ttl=3600.0)
        subjects = [Subject.of(email=f"s{i}@bench.example", age=rng.choice([15, 30, 45, None]))
                    for i in range(args.subjects)]
        seed_consents(decider, subjects, rng)
        work = workload(decider, subjects, 20_000, rng)
        rounds = max(1, args.decisions // len(work))
        compiled = bench_decisions(decider, work, rounds)
        plans_only = bench_decisions(decider, work, max(1, rounds // 4), memo=False)
        baseline = bench_baseline(decider, work)
        agree = all(decider.decide(s, p, c, recipient=r)
                    == decider.decide_from_policy(s, p, c, recipient=r) for s, p, c, r in work)
        single, batched = bench_writes(decider, 2_000, 20_000, 1_000)
        kw.close()
    where = args.policy.relative_to(ROOT) if args.policy.is_relative_to(ROOT) else args.policy
    print(f"policy: {where}")
    print(f"decisions, compiled index, warm cache : {compiled:>12,.0f} /s  (target >= 500,000)"
          f"  {'OK' if compiled >= 500_000 else 'BELOW TARGET'}")
    print(f"decisions, compiled plans, no answer memo: {plans_only:>10,.0f} /s  (every check "
          "run on each call)")
    print(f"decisions, straight from policy objects: {baseline:>12,.0f} /s  (baseline; "
          f"index is {compiled / baseline:,.0f}x faster; same answers: {agree})")
    print(f"consent writes, SQLite, one per transaction: {single:>9,.0f} events/s")
    print(f"consent writes, SQLite, batches of 1,000  : {batched:>9,.0f} events/s  "
          f"(target >= 5,000)  {'OK' if batched >= 5_000 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
