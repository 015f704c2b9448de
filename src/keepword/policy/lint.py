"""Cross-reference checks inside one policy, each located at its line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from keepword import taxonomy
from keepword.errors import Problem
from keepword.policy.models import ADEQUATE, EEA, Policy, Safeguard
from keepword.promises import MECHANISMS
from keepword.yamlsrc import SourceMap


def lint_policy(policy: Policy, smap: SourceMap) -> list[Problem]:
    """Every problem in ``policy``; errors first, then warnings."""
    found: list[Problem] = []
    for check in (_purposes, _recipients, _retention, _prohibited, _promises, _taxonomy,
                  _misc):
        found.extend(check(policy, smap))
    return sorted(found, key=lambda p: p.severity != "error")


def _declared(key: str, declared: Iterable[str]) -> bool:
    return any(taxonomy.covers(d, key) for d in declared)


def _err(smap: SourceMap, path: tuple[str | int, ...], msg: str, code: str) -> Problem:
    return Problem(msg, smap.locate(path), code=code)


def _warn(smap: SourceMap, path: tuple[str | int, ...], msg: str, code: str) -> Problem:
    return Problem(msg, smap.locate(path), code=code, severity="warning")


def _purposes(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    for key, purpose in policy.purposes.items():
        for i, cat in enumerate(purpose.categories):
            if not _declared(cat, policy.categories):
                yield _err(smap, ("purposes", key, "categories", i),
                           f"category {cat!r} is not declared under 'categories'",
                           "undeclared_category")
        for i, subj in enumerate(purpose.subjects):
            if subj not in policy.subjects:
                yield _err(smap, ("purposes", key, "subjects", i),
                           f"subject {subj!r} is not declared under 'subjects'",
                           "undeclared_subject")


def _recipients(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    for key, rec in policy.recipients.items():
        base = ("recipients", key)
        for i, purpose in enumerate(rec.purposes):
            if purpose not in policy.purposes:
                yield _err(smap, (*base, "purposes", i),
                           f"purpose {purpose!r} is not declared under 'purposes'",
                           "undeclared_purpose")
        for i, cat in enumerate(rec.categories):
            if not _declared(cat, policy.categories):
                yield _err(smap, (*base, "categories", i),
                           f"category {cat!r} is not declared under 'categories'",
                           "undeclared_category")
        outside = [c for c in rec.countries if c not in EEA and c != "EEA"]
        if outside and rec.safeguard is Safeguard.NONE:
            yield _err(smap, (*base, "countries"),
                       f"recipient outside the EEA ({', '.join(outside)}) needs a transfer "
                       "'safeguard' (adequacy, scc, bcr or derogation)", "missing_safeguard")
        not_adequate = [c for c in outside if c not in ADEQUATE]
        if rec.safeguard is Safeguard.ADEQUACY and not_adequate:
            yield _err(smap, (*base, "safeguard"),
                       f"no adequacy decision covers {', '.join(not_adequate)}; use scc, bcr "
                       "or derogation", "no_adequacy")


def _retention(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    seen: set[str] = set()
    for r, rule in enumerate(policy.retention):
        base: tuple[str | int, ...] = ("retention", r)
        if rule.id in seen:
            yield _err(smap, (*base, "id"), f"retention rule id {rule.id!r} is used twice",
                       "duplicate_id")
        seen.add(rule.id)
        for i, cat in enumerate(rule.categories):
            if not _declared(cat, policy.categories):
                yield _err(smap, (*base, "categories", i),
                           f"category {cat!r} is not declared under 'categories'",
                           "undeclared_category")
        for i, purpose in enumerate(rule.purposes):
            if purpose not in policy.purposes:
                yield _err(smap, (*base, "purposes", i),
                           f"purpose {purpose!r} is not declared under 'purposes'",
                           "undeclared_purpose")
        for e, exc in enumerate(rule.exceptions):
            for i, cat in enumerate(exc.categories):
                if not _declared(cat, policy.categories):
                    yield _err(smap, (*base, "exceptions", e, "categories", i),
                               f"category {cat!r} is not declared under 'categories'",
                               "undeclared_category")


def _prohibited(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    for key in policy.purposes:
        use = policy.data_use(key)
        for banned in policy.prohibited_uses:
            if taxonomy.covers(banned, use):
                yield _err(smap, ("purposes", key),
                           f"purpose uses {use!r}, which 'prohibited_uses' forbids ({banned!r})",
                           "prohibited_purpose")


def _target_exists(policy: Policy, kind: str, target: str | None) -> bool:
    """Whether a promise's mechanism target names something real (by target kind)."""
    if kind in ("none", "any"):
        return kind == "any" or target is None
    kept = {r.id for r in policy.retention} | {e.id for r in policy.retention
                                               for e in r.exceptions}
    checks: dict[str, Callable[[str], bool]] = {
        "right": lambda t: t in {r.value for r in policy.rights.honoured},
        "retention_rule": lambda t: t in kept,
        "data_use": taxonomy.is_valid_key,
        "category": taxonomy.is_valid_key,
        "recipient": lambda t: t in policy.recipients,
        "purpose": lambda t: t in policy.purposes,
        "collection": lambda t: True,  # resolved against the data map by `keepword check`
    }
    return target is not None and checks[kind](target)


def _promises(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    seen: set[str] = set()
    for p, promise in enumerate(policy.promises):
        if promise.id in seen:
            yield _err(smap, ("promises", p, "id"), f"promise id {promise.id!r} is used twice",
                       "duplicate_id")
        seen.add(promise.id)
        if not promise.enforced_by:
            yield _warn(smap, ("promises", p),
                        f"promise {promise.id!r} names no mechanism: nothing enforces it",
                        "unenforced_promise")
        for m, ref in enumerate(promise.enforced_by):
            path = ("promises", p, "enforced_by", m)
            mech = MECHANISMS.get(ref.mechanism)
            if mech is None:
                yield _err(smap, (*path, "mechanism"),
                           f"unknown mechanism {ref.mechanism!r}; known: "
                           + ", ".join(sorted(MECHANISMS)), "unknown_mechanism")
            elif not _target_exists(policy, mech.target, ref.target):
                what = "no target" if mech.target == "none" else f"a {mech.target} target"
                yield _err(smap, (*path, "target"),
                           f"mechanism {ref.mechanism!r} takes {what}; "
                           f"{ref.target!r} does not resolve", "bad_target")


def _taxonomy(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    for key in policy.categories:
        if taxonomy.known_ancestor("data_category", key) is None:
            yield _warn(smap, ("categories", key),
                        f"category {key!r} extends no fideslang data category", "custom_key")
    for key in policy.subjects:
        if not taxonomy.is_known("data_subject", key):
            yield _warn(smap, ("subjects", key),
                        f"subject {key!r} is not a fideslang data subject", "custom_key")
    for key in policy.purposes:
        use = policy.data_use(key)
        if taxonomy.known_ancestor("data_use", use) is None:
            yield _warn(smap, ("purposes", key),
                        f"data use {use!r} extends no fideslang data use", "custom_key")


def _misc(policy: Policy, smap: SourceMap) -> Iterator[Problem]:
    for reg in policy.rights.deadlines:
        if reg not in policy.regulations:
            yield _warn(smap, ("rights", "deadlines", reg.value),
                        f"deadline for {reg.value} but 'regulations' does not list it",
                        "unused_deadline")
    used = {c for p in policy.purposes.values() for c in p.categories}
    for key in policy.categories:
        if not any(taxonomy.covers(key, u) or taxonomy.covers(u, key) for u in used):
            yield _warn(smap, ("categories", key),
                        f"category {key!r} is used by no purpose", "unused_category")
