"""``keepword check``: tie the policy to the data map and the data map to the live stores.

The policy and the data map are each valid on their own once loaded; this module
finds what is wrong *between* them (a category the policy never declared, a
retention rule with no timestamp to run from, personal data no request can
reach) and between the data map and the real databases (a table that is not
there, a NOT NULL column that erasure would set to NULL). Every problem is
located at the line of the file to fix. Stores are named, never their URLs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, table
from sqlalchemy.exc import SQLAlchemyError

from keepword import taxonomy
from keepword.datamap import DataMap, Erasure, Field_, FieldAddress
from keepword.datamap.graph import Table, edges, personal_tables, reachable_tables
from keepword.deployment import Deployment
from keepword.errors import Location, Problem, StoreError
from keepword.policy.models import Policy, RetentionRule
from keepword.promises import MECHANISMS, is_live
from keepword.stores import read_live_columns


@dataclass(frozen=True)
class PromiseStatus:
    """Whether keepword enforces a promise today, and if not, why not."""

    id: str
    text: str
    source: str
    mechanisms: list[str]
    not_live: list[str] = field(default_factory=list)  # mechanisms not implemented yet
    unresolved: list[str] = field(default_factory=list)  # targets missing from the data map
    violations: int = 0  # errors this check found against the promise

    @property
    def enforced(self) -> bool:
        return bool(self.mechanisms) and not self.not_live and not self.unresolved

    @property
    def reason(self) -> str:
        if not self.mechanisms:
            return "no mechanism named"
        if self.not_live:
            return "not live yet: " + ", ".join(self.not_live)
        if self.unresolved:
            return "target not in the data map: " + ", ".join(self.unresolved)
        return "violated" if self.violations else "enforced"

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "source": self.source,
                "mechanisms": self.mechanisms, "enforced": self.enforced,
                "not_live": self.not_live, "unresolved": self.unresolved,
                "violations": self.violations, "reason": self.reason}


@dataclass
class Counts:
    stores: int = 0
    collections: int = 0
    fields: int = 0
    personal_fields: int = 0
    rows_per_category: dict[str, int] | None = None  # only when asked (one COUNT per table)


@dataclass
class CheckReport:
    deployment: str
    policy_version: str
    datamap_version: str
    live: bool
    problems: list[Problem]
    counts: Counts
    promises: list[PromiseStatus]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def promise_status(self) -> list[PromiseStatus]:
        return list(self.promises)

    def as_dict(self) -> dict[str, object]:
        c = self.counts
        return {
            "deployment": self.deployment, "ok": self.ok, "live": self.live,
            "policy_version": self.policy_version, "datamap_version": self.datamap_version,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "counts": {"stores": c.stores, "collections": c.collections, "fields": c.fields,
                       "personal_fields": c.personal_fields,
                       "rows_per_category": c.rows_per_category},
            "promises": [p.as_dict() for p in self.promises],
        }


@dataclass
class _Ctx:
    """What every check reads, built once."""

    dep: Deployment
    policy: Policy
    dm: DataMap
    problems: list[Problem] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def at_field(self, addr: FieldAddress, *rest: str | int) -> Location:
        return self.at_dataset(addr.dataset, "collections", addr.collection, "fields",
                               addr.field, *rest)

    def at_dataset(self, dataset: str, *path: str | int) -> Location:
        return self.dm.datasets[dataset].source.locate(path)

    def at_policy(self, *path: str | int) -> Location:
        return self.dep.policy.source.locate(path)

    def error(self, msg: str, loc: Location, code: str, promise: str | None = None) -> None:
        self.problems.append(Problem(msg, loc, code=code))
        if promise is not None:
            self.violations[promise] += 1

    def warn(self, msg: str, loc: Location, code: str) -> None:
        self.problems.append(Problem(msg, loc, code=code, severity="warning"))


def run_check(deployment: Deployment, *, live: bool = True, count_rows: bool = False
              ) -> CheckReport:
    """Check policy x data map (x live stores when ``live``); never raises on findings."""
    ctx = _Ctx(deployment, deployment.policy.policy, deployment.datamap)
    ctx.problems.extend(deployment.policy.warnings)
    for check in (_categories_declared, _subjects_declared, _exceptions_exist, _retention,
                  _reachable, _forbidden_categories):
        check(ctx)
    minimised = _minimised_targets(ctx)
    rows: dict[str, int] | None = {} if count_rows and live else None
    if live:
        for key in ctx.dm.datasets:
            _check_store(ctx, key, minimised, rows)
    errors_first = sorted(ctx.problems, key=lambda p: p.severity != "error")
    return CheckReport(
        deployment=deployment.name, policy_version=deployment.policy.version,
        datamap_version=ctx.dm.version, live=live, problems=errors_first,
        counts=_counts(ctx.dm, rows), promises=_promise_status(ctx))


# --- policy x data map -------------------------------------------------------------


def _declared(key: str, declared: Iterable[str]) -> bool:
    return any(taxonomy.covers(d, key) for d in declared)


def _categories_declared(ctx: _Ctx) -> None:
    declared = list(ctx.policy.categories)
    for addr, fld in ctx.dm.fields():
        for i, cat in enumerate(fld.categories):
            if not _declared(cat, declared):
                ctx.error(f"category {cat!r} is not declared in the policy's 'categories'",
                          ctx.at_field(addr, "categories", i), "undeclared_category")


def _subjects_declared(ctx: _Ctx) -> None:
    for dkey, loaded in ctx.dm.datasets.items():
        for ckey, coll in loaded.dataset.collections.items():
            if coll.subject is not None and coll.subject not in ctx.policy.subjects:
                ctx.error(f"subject {coll.subject!r} is not declared in the policy's 'subjects'",
                          ctx.at_dataset(dkey, "collections", ckey, "subject"),
                          "undeclared_subject")


def _exceptions_exist(ctx: _Ctx) -> None:
    known = {e.id for r in ctx.policy.retention for e in r.exceptions}
    for addr, fld in ctx.dm.fields():
        if fld.exception is not None and fld.exception not in known:
            ctx.error(f"retention exception {fld.exception!r} is not declared in the policy "
                      "(retention[].exceptions[].id)", ctx.at_field(addr, "exception"),
                      "unknown_exception")


def _rule_categories(policy: Policy, rule: RetentionRule) -> list[str]:
    cats = list(rule.categories)
    for purpose in rule.purposes:
        cats.extend(policy.purposes[purpose].categories)
    return cats


def _retention(ctx: _Ctx) -> None:
    anchored: dict[str, set[Table]] = defaultdict(set)
    for addr, fld in ctx.dm.fields():
        if fld.anchor:
            anchored[fld.anchor].add(addr.table)
    for r, rule in enumerate(ctx.policy.retention):
        if not anchored.get(rule.anchor):
            ctx.error(f"retention rule {rule.id!r}: no field of the data map has "
                      f"anchor {rule.anchor!r}, so its period can never start",
                      ctx.at_policy("retention", r, "anchor"), "missing_anchor")
            continue
        cats = _rule_categories(ctx.policy, rule)
        governed = {addr.table for addr, fld in ctx.dm.fields()
                    if any(_declared(c, cats) for c in fld.categories)}
        if not governed:
            ctx.warn(f"retention rule {rule.id!r} governs no field of the data map",
                     ctx.at_policy("retention", r), "idle_rule")
        for tbl in sorted(governed - _joined_to(ctx.dm, anchored[rule.anchor])):
            ctx.warn(f"retention rule {rule.id!r}: collection {tbl[0]}.{tbl[1]} holds its "
                     f"categories but joins no collection with anchor {rule.anchor!r}",
                     ctx.at_dataset(tbl[0], "collections", tbl[1]), "unanchored_collection")


def _joined_to(dm: DataMap, start: set[Table]) -> set[Table]:
    """Tables connected to ``start`` by references (any number of hops)."""
    adj = edges(dm)
    seen, todo = set(start), list(start)
    while todo:
        for edge in adj.get(todo.pop(), []):
            if edge.dst.table not in seen:
                seen.add(edge.dst.table)
                todo.append(edge.dst.table)
    return seen


def _reachable(ctx: _Ctx) -> None:
    reached = reachable_tables(ctx.dm)
    promises = _promises_using(ctx.policy, "datamap.identity_reachable")
    for dkey, ckey in sorted(personal_tables(ctx.dm) - reached):
        ctx.error(f"collection {dkey}.{ckey} holds personal data but no identity field "
                  "reaches it through references: no request could ever find it",
                  ctx.at_dataset(dkey, "collections", ckey), "unreachable_collection")
        for pid in promises:
            ctx.violations[pid] += 1


def _promises_using(policy: Policy, mechanism: str) -> list[str]:
    return [p.id for p in policy.promises
            if any(ref.mechanism == mechanism for ref in p.enforced_by)]


def _mechanism_targets(policy: Policy, mechanism: str) -> Iterator[tuple[int, int, str, str]]:
    """(promise index, mechanism index, promise id, target) for each use of ``mechanism``."""
    for p, promise in enumerate(policy.promises):
        for m, ref in enumerate(promise.enforced_by):
            if ref.mechanism == mechanism and ref.target:
                yield p, m, promise.id, ref.target


def _forbidden_categories(ctx: _Ctx) -> None:
    for _, _, pid, banned in _mechanism_targets(ctx.policy, "datamap.forbidden_category"):
        for addr, fld in ctx.dm.fields():
            for i, cat in enumerate(fld.categories):
                if taxonomy.covers(banned, cat):
                    ctx.error(f"category {cat!r} is forbidden by promise {pid!r} "
                              "(datamap.forbidden_category)",
                              ctx.at_field(addr, "categories", i), "forbidden_category", pid)


def _minimised_targets(ctx: _Ctx) -> dict[Table, str]:
    """Collections promised to hold only annotated columns -> the promise id."""
    out: dict[Table, str] = {}
    for p, m, pid, target in _mechanism_targets(ctx.policy, "datamap.minimised_collection"):
        parts = target.split(".")
        tbl = (parts[0], parts[1]) if len(parts) == 2 else None
        if tbl is None or tbl[0] not in ctx.dm.datasets or \
                tbl[1] not in ctx.dm.dataset(tbl[0]).collections:
            ctx.error(f"promise {pid!r}: collection {target!r} (dataset.collection) is not "
                      "in the data map", ctx.at_policy("promises", p, "enforced_by", m, "target"),
                      "unknown_collection", pid)
            continue
        out[tbl] = pid
    return out


# --- data map x live stores --------------------------------------------------------


def _check_store(ctx: _Ctx, key: str, minimised: dict[Table, str],
                 rows: dict[str, int] | None) -> None:
    ds = ctx.dm.dataset(key)
    try:
        engine = ctx.dep.stores.engine(ds)
        columns = read_live_columns(engine, ds.store.schema_name, key)
    except StoreError as exc:
        ctx.error(str(exc), ctx.at_dataset(key, "store"), "store_unavailable")
        return
    to_count = []
    for ckey, coll in ds.collections.items():
        live = columns.get(ckey)
        if live is None:
            ctx.error(f"table {ckey!r} of dataset {key!r} does not exist in the live store",
                      ctx.at_dataset(key, "collections", ckey), "missing_table",
                      minimised.get((key, ckey)))
            continue
        _check_columns(ctx, key, ckey, live, minimised.get((key, ckey)))
        if any(f.categories for f in coll.fields.values()):
            to_count.append(ckey)
    if rows is not None:
        _count_rows(ctx, engine, key, to_count, rows)
    for name in sorted(set(columns) - set(ds.collections)):
        ctx.warn(f"table {name!r} in the live store of dataset {key!r} is not in the data map",
                 ctx.at_dataset(key, "collections"), "unannotated_table")


def _erases_row(fields: dict[str, Field_]) -> bool:
    return any(f.erasure is Erasure.DELETE_ROW for f in fields.values())


def _check_columns(ctx: _Ctx, key: str, ckey: str, live: dict[str, bool],
                   promise: str | None) -> None:
    coll = ctx.dm.collection(key, ckey)
    deletes_row = _erases_row(coll.fields)
    for fkey, fld in coll.fields.items():
        addr = FieldAddress(key, ckey, fkey)
        if fkey not in live:
            ctx.error(f"column {ckey}.{fkey} of dataset {key!r} does not exist in the live store",
                      ctx.at_field(addr), "missing_column")
            continue
        # Personal fields default to null; a key column is never nulled by default.
        default = Erasure.NULL if fld.personal and fkey not in coll.primary_key else None
        erasure = fld.erasure or default
        if erasure is Erasure.NULL and not live[fkey] and not deletes_row:
            ctx.error(f"column {ckey}.{fkey} is NOT NULL in the live store but erasure sets "
                      "it to NULL; use mask, hash or delete_row", ctx.at_field(addr, "erasure")
                      if fld.erasure else ctx.at_field(addr), "not_null_erasure")
        if fld.nullable is not None and fld.nullable != live[fkey]:
            ctx.warn(f"column {ckey}.{fkey} is declared nullable: {str(fld.nullable).lower()} "
                     f"but the live store says {str(live[fkey]).lower()}",
                     ctx.at_field(addr, "nullable"), "nullable_mismatch")
    for col in sorted(set(live) - set(coll.fields)):
        where = ctx.at_dataset(key, "collections", ckey, "fields")
        if promise is not None:
            ctx.error(f"promise {promise!r} (datamap.minimised_collection): live column "
                      f"{ckey}.{col} is not in the data map", where, "not_minimised", promise)
        else:
            ctx.warn(f"live column {ckey}.{col} of dataset {key!r} is not in the data map",
                     where, "unannotated_column")


def _count_rows(ctx: _Ctx, engine: Engine, key: str, tables: list[str],
               rows: dict[str, int]) -> None:
    """Rows per category: one COUNT per personal table, over one connection per store."""
    schema = ctx.dm.dataset(key).store.schema_name
    try:
        with engine.connect() as conn:
            for ckey in tables:
                query = select(func.count()).select_from(table(ckey, schema=schema))
                n = int(conn.execute(query).scalar_one())
                cats = {c for f in ctx.dm.collection(key, ckey).fields.values()
                        for c in f.categories}
                for cat in cats:
                    rows[cat] = rows.get(cat, 0) + n
    except SQLAlchemyError as exc:
        ctx.error(f"store {key!r}: cannot count rows ({type(exc).__name__})",
                  ctx.at_dataset(key, "store"), "store_unavailable")


# --- summary -----------------------------------------------------------------------


def _counts(dm: DataMap, rows: dict[str, int] | None) -> Counts:
    counts = Counts(stores=len(dm.datasets), rows_per_category=rows)
    counts.collections = sum(len(d.dataset.collections) for d in dm.datasets.values())
    for _, fld in dm.fields():
        counts.fields += 1
        counts.personal_fields += fld.personal
    return counts


def _promise_status(ctx: _Ctx) -> list[PromiseStatus]:
    out = []
    for promise in ctx.policy.promises:
        names = [ref.mechanism for ref in promise.enforced_by]
        not_live = [ref.mechanism if ref.target is None or MECHANISMS.get(ref.mechanism) is None
                    or MECHANISMS[ref.mechanism].live_targets is None
                    else f"{ref.mechanism} -> {ref.target}"
                    for ref in promise.enforced_by if not is_live(ref.mechanism, ref.target)]
        unresolved = [f"{ref.mechanism} -> {ref.target}" for ref in promise.enforced_by
                      if ref.mechanism == "datamap.minimised_collection"
                      and not _collection_exists(ctx.dm, ref.target)]
        out.append(PromiseStatus(promise.id, promise.text, promise.source, names,
                                 sorted(set(not_live)), unresolved,
                                 ctx.violations.get(promise.id, 0)))
    return out


def _collection_exists(dm: DataMap, target: str | None) -> bool:
    parts = (target or "").split(".")
    return len(parts) == 2 and parts[0] in dm.datasets and \
        parts[1] in dm.dataset(parts[0]).collections
