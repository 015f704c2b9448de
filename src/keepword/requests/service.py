"""The requests API: submit, verify, run (batched), resume, approve, extend, show.

Faces (CLI, HTTP, the demo) call these; they hold no logic of their own.
``run_request`` is the one-call form: submit, mark verified (the operator has
checked the identity), run, and return the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from keepword.audit import AuditEvent
from keepword.control.base import utcnow
from keepword.deployment import Deployment, load_deployment
from keepword.errors import InputError, KeepwordError, Location, NotFoundError, Problem
from keepword.identities import normalise
from keepword.policy import load_policy
from keepword.policy.models import Regulation
from keepword.requests import erase, export, rectify
from keepword.requests.batch import (
    GC_FROM,
    Batch,
    Progress,
    gc_paused,
    identities_of,
    lane_for,
    vault,
)
from keepword.requests.claims import Claimant
from keepword.requests.lifecycle import (
    CHANGING,
    DsrRequest,
    Kind,
    Req,
    RequestRow,
    Status,
    due_date,
    get,
    grouped,
    insert_new,
    load_by_ids,
    new_id,
    parse_regulation,
    requests_table,
    save,
    transition,
    transition_all,
)
from keepword.requests.plan import Plan, compile_plan, live_plan
from keepword.requests.walk import Connections, Subject, Walker
from keepword.runtime import Keepword
from keepword.sqlsets import CHUNK, chunked


@dataclass
class RequestResult:
    """What a request did, without personal data (counts, collections, the proof)."""

    id: str | None
    kind: str
    status: str
    reason: str | None = None
    regulation: str = Regulation.GDPR.value
    due_at: str | None = None
    found: dict[str, int] = field(default_factory=dict)
    export: str | None = None
    outcome: dict[str, Any] | None = None
    proof: dict[str, Any] | None = None
    plan: list[dict[str, Any]] | None = None
    administrator: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        return out

    @classmethod
    def of(cls, req: Req) -> RequestResult:
        return cls.of_all([req])[0]

    @classmethod
    def of_all(cls, reqs: Iterable[Req]) -> list[RequestResult]:
        """``of`` each request; what requests share (a batch's result objects, its due
        date) is read once."""
        parts: dict[int, tuple[Any, ...]] = {}
        dates: dict[int, tuple[Any, str]] = {}
        out = []
        for req in reqs:
            res = req.result or {}
            part = parts.get(id(res))
            if part is None or part[0] is not res:
                extra = {} if res.keys() <= _KNOWN else {k: v for k, v in res.items()
                                                          if k not in _KNOWN}
                part = parts[id(res)] = (res, res.get("found", {}), res.get("export"),
                                         res.get("outcome"), res.get("proof"), extra)
            due = dates.get(id(req.due_at))
            if due is None or due[0] is not req.due_at:
                due = dates[id(req.due_at)] = (req.due_at, req.due_at.isoformat())
            out.append(cls(req.id, req.kind, req.status, req.reason, req.regulation, due[1],
                           part[1], part[2], part[3], part[4], None, req.administrator,
                           dict(part[5])))
        return out


_KNOWN = frozenset({"found", "export", "outcome", "proof"})  # a result's own fields


def _plan(dep: Deployment) -> Plan:
    return compile_plan(dep.datamap, dep.policy.version)


def parse_identities(plan: Plan, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Known identity types, normalised values; problems name the type, never the value."""
    out, problems = [], []
    for i, (kind, value) in enumerate(pairs):
        if kind not in plan.identity_types:
            known = ", ".join(sorted(plan.identity_types)) or "none"
            problems.append(Problem(f"unknown identity type {kind!r} (the data map has: "
                                    f"{known})", Location(path=("identity", i)),
                                    code="unknown_identity"))
            continue
        try:
            out.append((kind, normalise(kind, value)))
        except InputError as exc:
            problems.extend(exc.problems)
    if not out and not problems:
        problems.append(Problem("give at least one identity (TYPE=VALUE)",
                                Location(path=("identity",)), code="no_identity"))
    if problems:
        raise InputError(problems)
    return out


def parse_identity_args(items: Sequence[str]) -> list[tuple[str, str]]:
    """``["email=a@b.c"]`` -> ``[("email", "a@b.c")]``."""
    out = []
    for i, item in enumerate(items):
        kind, sep, value = item.partition("=")
        if not sep or not kind.strip():
            raise InputError(Problem("expected --identity TYPE=VALUE (e.g. email=...)",
                                     Location(path=("identity", i)), code="bad_identity"))
        out.append((kind.strip(), value))
    return out


def _params(dep: Deployment, plan: Plan, kind: Kind, changes: Mapping[str, str] | None,  # noqa: PLR0917
            reason: str | None, scope: str | None, lift: bool) -> dict[str, Any]:
    if kind is Kind.RECTIFICATION:
        if not changes:
            raise InputError(Problem("rectification needs at least one --set FIELD=VALUE",
                                     Location(path=("set",)), code="no_changes"))
        rectify.validate(plan, changes)
        return {"set": dict(changes)}
    if kind in (Kind.RESTRICTION, Kind.OBJECTION):
        if not reason or not reason.strip():
            raise InputError(Problem(f"a {kind.value} needs a --reason",
                                     Location(path=("reason",)), code="no_reason"))
        if kind is Kind.OBJECTION and scope not in (None, "*") and (
                scope not in dep.policy.policy.purposes):
            raise InputError(Problem(f"unknown purpose {scope!r}", Location(path=("purpose",)),
                                     code="unknown_purpose"))
        return {"reason": reason.strip(), "scope": scope or "*", "lift": lift}
    return {}


def submit(kw: Keepword, dep: Deployment, kind: Kind, identities: Iterable[tuple[str, str]],
           *, regulation: str = "gdpr", changes: Mapping[str, str] | None = None,
           reason: str | None = None, scope: str | None = None, lift: bool = False,
           actor: str = "operator") -> str:
    """Record a request as ``received``; nothing is looked up or disclosed yet."""
    return _create(kw, dep, kind, identities, regulation=regulation, changes=changes,
                   reason=reason, scope=scope, lift=lift, actor=actor, verified=False).id


def _create(kw: Keepword, dep: Deployment, kind: Kind, identities: Iterable[tuple[str, str]],
            *, regulation: str, changes: Mapping[str, str] | None, reason: str | None,
            scope: str | None, lift: bool, actor: str, verified: bool) -> RequestRow:
    """Record the request with its intake audit entries."""
    req, _, events = _prepare(kw, dep, kind, identities, regulation=regulation,
                              changes=changes, reason=reason, scope=scope, lift=lift,
                              actor=actor, verified=verified)
    with kw.control.session() as session:
        insert_new(session, [req])
        kw.audit.append_many(session, events)
    return req


def _prepare(kw: Keepword, dep: Deployment, kind: Kind, identities: Iterable[tuple[str, str]],
             *, regulation: str, changes: Mapping[str, str] | None, reason: str | None,
             scope: str | None, lift: bool, actor: str, verified: bool,
             now: datetime | None = None
             ) -> tuple[RequestRow, dict[str, Any], list[AuditEvent]]:
    """The request, its sealed part (open) and its intake events; nothing recorded yet.
    ``now``: when it was received (an import's requests are received together)."""
    plan = _plan(dep)
    ids = parse_identities(plan, identities)
    params = _params(dep, plan, kind, changes, reason, scope, lift)
    reg = parse_regulation(regulation)
    now = now or utcnow()
    refs = list(dict.fromkeys(kw.hasher.ref(k, v) for k, v in ids))
    sealed: dict[str, Any] = {"identities": [list(p) for p in ids], "params": params}
    req = RequestRow(
        id=new_id(), kind=kind.value, status=Status.RECEIVED.value, regulation=reg.value,
        deployment=dep.key, data_dir=dep.data_key,
        subject_refs=refs, sealed=vault(kw).seal(sealed),
        received_at=now, due_at=due_date(now, dep.policy.policy.rights.deadline(reg)),
        updated_at=now, actor=actor, policy_version=dep.policy.version,
        datamap_version=dep.datamap.version, verified_at=None, extension_reason=None,
        ended_at=None, batch_id=None, reason=None, administrator=None, admin_decision=None,
        result=None)
    events = [AuditEvent(
        action="request.received", actor=actor, object_type="request", object_id=req.id,
        subject=refs[0], details={"kind": kind.value, "regulation": reg.value,
                                  "due_at": req.due_at.isoformat(),
                                  "identity_types": sorted({k for k, _ in ids})})]
    if verified:  # the operator vouches for the identity at intake
        events.append(transition(req, Status.VERIFIED, actor=actor))
    return req, sealed, events


BULK_KINDS = frozenset({Kind.ACCESS, Kind.PORTABILITY, Kind.ERASURE})  # need nothing more


def submit_many(kw: Keepword, dep: Deployment, kind: Kind,
                subjects: Sequence[Iterable[tuple[str, str]]], *, regulation: str = "gdpr",
                actor: str = "operator", verified: bool = False) -> list[str]:
    """Record many requests of one kind at once (an import from a ticketing system): every
    subject's identities are checked first -- any bad one refuses the whole import, each
    problem located by the subject's position -- then all are recorded in one
    transaction, their intake audited as one entry per transition. ``verified``: the
    operator vouches for every identity (they may run at once). They are received at one
    time, so they share their timestamps and due date (read and written once each)."""
    if kind not in BULK_KINDS:
        raise InputError(Problem(
            f"{kind.value} requests are recorded one by one (they need more than identities)",
            Location(path=("kind",)), code="not_bulk"))
    prepared, problems = [], []
    now = utcnow()
    for j, identities in enumerate(subjects):
        try:
            prepared.append(_prepare(kw, dep, kind, identities, regulation=regulation,
                                     changes=None, reason=None, scope=None, lift=False,
                                     actor=actor, verified=verified, now=now))
        except InputError as exc:
            problems += [replace(p, location=replace(p.location, path=("subjects", j,
                                                                        *p.location.path)))
                         for p in exc.problems]
    if problems:
        raise InputError(problems)
    intake = new_id("intake")
    with kw.control.session() as session:
        insert_new(session, [req for req, _, _ in prepared])
        kw.audit.append_many(session, grouped([e for _, _, events in prepared for e in events],
                                              intake))
    return [req.id for req, _, _ in prepared]


def verify_many(kw: Keepword, request_ids: Sequence[str], *, actor: str = "operator"
                ) -> list[RequestResult]:
    """``verify`` for many requests in one transaction: all become verified, or none (a
    request that is not ``received`` is named and nothing changes)."""
    with kw.control.session() as session:
        found = {r.id: r for r in load_by_ids(session, request_ids)}
        missing = [rid for rid in request_ids if rid not in found]
        if missing:
            raise NotFoundError(f"no request {missing[0]!r}"
                                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        reqs = [found[rid] for rid in dict.fromkeys(request_ids)]
        events = transition_all(reqs, Status.VERIFIED, new_id("intake"), now=utcnow(),
                                actor=actor)
        save(session, reqs, ("status", "updated_at", "reason", "verified_at"))
        kw.audit.append_many(session, events)
    return [RequestResult.of(r) for r in reqs]


def verify(kw: Keepword, request_id: str, *, actor: str = "operator") -> RequestResult:
    """The operator confirms the subject's identity: the request may now run."""
    with kw.control.session() as session:
        req = get(session, request_id, lock=True)
        kw.audit.append(session, transition(req, Status.VERIFIED, actor=actor))
        return RequestResult.of(req)


def deny(kw: Keepword, request_id: str, reason: str, *, actor: str = "operator"
         ) -> RequestResult:
    with kw.control.session() as session:
        req = get(session, request_id, lock=True)
        kw.audit.append(session, transition(req, Status.DENIED, reason=reason, actor=actor))
        return RequestResult.of(req)


def approve(kw: Keepword, request_id: str, *, approved: bool, reason: str,
            actor: str = "administrator") -> RequestResult:
    """The organisation administrator's decision on a managed account's request."""
    if not reason.strip():
        raise InputError(Problem("give the administrator's --reason", Location(path=("reason",)),
                                 code="no_reason"))
    with kw.control.session() as session:
        req = get(session, request_id, lock=True)
        if req.status != Status.AWAITING_ADMINISTRATOR.value:
            raise KeepwordError(f"request {request_id} is {req.status}, not awaiting an "
                                "administrator")
        req.admin_decision = "approved" if approved else "denied"
        to = Status.VERIFIED if approved else Status.DENIED
        kw.audit.append(session, transition(req, to, reason=reason, actor=actor,
                                            details={"administrator": req.admin_decision}))
        return RequestResult.of(req)


def extend(kw: Keepword, request_id: str, reason: str, *, actor: str = "operator"
           ) -> RequestResult:
    """Extend the deadline once (GDPR Art. 12(3): by two months; CCPA: 45 days), with why."""
    if not reason.strip():
        raise InputError(Problem("an extension needs a --reason", Location(path=("reason",)),
                                 code="no_reason"))
    with kw.control.session() as session:
        req = get(session, request_id, lock=True)
        if req.extension_reason:
            raise KeepwordError(f"request {request_id} was already extended")
        if Status(req.status) not in (Status.RECEIVED, Status.VERIFIED, Status.PLANNED,
                                      Status.RUNNING, Status.PAUSED,
                                      Status.AWAITING_ADMINISTRATOR):
            raise KeepwordError(f"request {request_id} is {req.status}")
        policy = load_policy(Path(req.deployment) / "policy.yaml").policy
        deadline = policy.rights.deadline(Regulation(req.regulation))
        req.due_at = due_date(req.received_at, deadline, extended=True)
        req.extension_reason = reason.strip()
        kw.audit.append(session, AuditEvent(
            action="request.extended", actor=actor, object_type="request", object_id=req.id,
            subject=req.subject_refs[0] if req.subject_refs else None,
            details={"due_at": req.due_at.isoformat(), "reason": req.extension_reason}))
        return RequestResult.of(req)


def show(kw: Keepword, request_id: str) -> RequestResult:
    with kw.control.session() as session:
        return RequestResult.of(get(session, request_id))


def list_requests(kw: Keepword, *, status: str | None = None, limit: int = 100
                  ) -> list[RequestResult]:
    with kw.control.session() as session:
        stmt = select(DsrRequest).order_by(DsrRequest.received_at.desc()).limit(limit)
        if status:
            stmt = stmt.where(DsrRequest.status == status)
        return [RequestResult.of(r) for r in session.execute(stmt).scalars()]


def run(kw: Keepword, *, deployment: Deployment | None = None,
        ids: Sequence[str] | None = None, resume: bool = False,
        progress: Progress | None = None) -> list[RequestResult]:
    """Execute the verified requests (and, with ``resume``, the planned, running and
    paused ones): one batch per deployment and kind; journaled batches continue."""
    wanted = {Status.VERIFIED} | ({Status.PLANNED, Status.RUNNING, Status.PAUSED}
                                  if resume else set())
    claimant = Claimant(new_id("run"))
    with gc_paused(len(ids) if ids is not None else GC_FROM):
        try:
            reqs = _claim_wanted(kw, claimant, wanted, ids, deployment)
            _run_claimed(kw, claimant, reqs, deployment, progress)
        finally:
            claimant.release(kw.control)
        return RequestResult.of_all(reqs)  # still paused: the batch's objects live


ORPHAN_AFTER = timedelta(hours=1)  # an export file this old that no request names is left over


def sweep_exports(kw: Keepword, *, older_than: timedelta = ORPHAN_AFTER,
                  now: datetime | None = None) -> list[str]:
    """Remove export files no recorded request names: a process killed while answering
    an access at intake can leave its file (complete, or created empty while the walk
    ran) without the request that would say so -- personal data nobody can account for.
    Only files older than ``older_than`` (another process may be answering right now);
    the removal is audited (request keys only). Returns the keys of the files removed."""
    folder = export.folder(kw.settings.home)
    if not folder.is_dir():
        return []
    limit = (now or utcnow()).timestamp() - older_than.total_seconds()
    found = {path.stem: path for path in folder.glob("req_*.zip")
             if path.stat().st_mtime < limit}
    if not found:
        return []
    table = requests_table()
    with kw.control.session() as session:
        known = {rid for part in chunked(sorted(found), CHUNK) for rid in session.scalars(
            select(table.c.id).where(table.c.id.in_(part)))}
        gone = sorted(set(found) - known)
        for rid in gone:
            found[rid].unlink(missing_ok=True)
        if gone:
            kw.audit.append(session, AuditEvent(
                action="exports.swept", object_type="exports", object_id="exports",
                details={"removed": len(gone), "requests": gone}))
    return gone


def _candidates(kw: Keepword, wanted: set[Status], deployment: Deployment | None
                ) -> list[str]:
    """The keys of the requests in a wanted state (of ``deployment``, when given)."""
    table = requests_table()
    stmt = select(table.c.id).where(table.c.status.in_([s.value for s in wanted]))
    if deployment is not None:
        stmt = stmt.where(table.c.deployment == deployment.key)
    with kw.control.session() as session:
        return list(session.scalars(stmt))


def _load(kw: Keepword, wanted: set[Status], claimant: Claimant, held: Sequence[str],
          deployment: Deployment | None) -> list[RequestRow]:
    """The requests ``held`` (those the claimant holds) in a wanted state."""
    states, keys = {s.value for s in wanted}, set(held)
    with kw.control.session() as session:
        reqs = [r for r in claimant.requests(session) if r.status in states and r.id in keys]
    reqs.sort(key=attrgetter("received_at", "id"))
    if deployment is not None:
        root = deployment.key
        reqs = [r for r in reqs if r.deployment == root]
    return reqs


def _claim_wanted(kw: Keepword, claimant: Claimant, wanted: set[Status],
                  ids: Sequence[str] | None, deployment: Deployment | None
                  ) -> list[RequestRow]:
    """Claim the candidates, then read them: what a claimed request holds cannot move
    under this runner (another runner would have to claim it first)."""
    candidates = list(ids) if ids is not None else _candidates(kw, wanted, deployment)
    held = claimant.claim(kw.control, candidates)
    return _load(kw, wanted, claimant, held, deployment) if held else []


def _run_claimed(kw: Keepword, claimant: Claimant, reqs: list[RequestRow],
                 deployment: Deployment | None, progress: Progress | None) -> None:
    continuing: dict[str, list[RequestRow]] = defaultdict(list)
    fresh: dict[tuple[str, str, str], list[RequestRow]] = defaultdict(list)
    for r in reqs:
        if r.batch_id and r.status != Status.VERIFIED.value:
            continuing[r.batch_id].append(r)
        else:
            fresh[(r.deployment, r.data_dir, r.kind)].append(r)
    deployments: dict[tuple[str, str], Deployment] = {}
    try:
        for batch_id, group in continuing.items():
            dep = _deployment(deployments, group[0], deployment)
            _check_versions(group[0], dep)
            Batch(kw, dep, Kind(group[0].kind), progress, claimant).resume(batch_id, group)
        for (_, _, kind), group in fresh.items():
            dep = _deployment(deployments, group[0], deployment)
            Batch(kw, dep, Kind(kind), progress, claimant).fresh(group)
    finally:
        for dep in deployments.values():
            if dep is not deployment:
                dep.close()


def _deployment(cache: dict[tuple[str, str], Deployment], req: Req,
                given: Deployment | None) -> Deployment:
    if given is not None and given.key == req.deployment:
        return given
    key = (req.deployment, req.data_dir)
    if key not in cache:
        cache[key] = load_deployment(req.deployment, data_dir=Path(req.data_dir))
    return cache[key]


def _check_versions(req: Req, dep: Deployment) -> None:
    if req.datamap_version and req.datamap_version != dep.datamap.version:
        raise KeepwordError(f"request {req.id} was planned under another data map version; "
                            "restore that data map to resume it, or deny the request")


def dry_run(kw: Keepword, dep: Deployment, kind: Kind, identities: Iterable[tuple[str, str]],
            *, changes: Mapping[str, str] | None = None) -> RequestResult:
    """The plan and the rows it would touch; nothing is recorded or changed."""
    plan = _plan(dep)
    ids = parse_identities(plan, identities)
    if kind in CHANGING:
        plan = live_plan(plan, dep.datamap, dep.stores)
    s = Subject("dry-run", identities_of(ids))
    conns = Connections(dep.stores, dep.datamap.datasets)
    try:
        walk = Walker(plan, conns, lane=lane_for(kind, plan, dep)).run([s])
    finally:
        conns.close()
    result = RequestResult(None, kind.value, "dry-run", s.problem, found=walk.counts(s),
                           extra={"queries": walk.queries})
    if s.problem is not None:
        return result
    if kind is Kind.ERASURE:
        changed = erase.plan_erasure(walk, dep.policy.policy, kw.hasher)
    elif kind is Kind.RECTIFICATION:
        typed = rectify.flatten(rectify.validate(plan, changes or {}))
        changed = rectify.plan_rectification(walk, {s.key: typed})
    else:
        return result
    result.plan = changed.steps()
    result.outcome = changed.outcomes[s.key].as_dict()
    return result


def run_request(kw: Keepword, dep: Deployment, kind: Kind | str,
                identities: Iterable[tuple[str, str]] | Mapping[str, str], *,
                verified: bool = True, dry_run_only: bool = False, regulation: str = "gdpr",
                changes: Mapping[str, str] | None = None, reason: str | None = None,
                scope: str | None = None, lift: bool = False, actor: str = "operator",
                progress: Progress | None = None) -> RequestResult:
    """Submit, verify (the operator vouches for the identity), run; the result."""
    kind = Kind(kind)
    pairs = list(identities.items()) if isinstance(identities, Mapping) else list(identities)
    if dry_run_only:
        return dry_run(kw, dep, kind, pairs, changes=changes)
    if not verified:
        return RequestResult.of(_create(kw, dep, kind, pairs, regulation=regulation,
                                        changes=changes, reason=reason, scope=scope,
                                        lift=lift, actor=actor, verified=False))
    req, sealed, events = _prepare(kw, dep, kind, pairs, regulation=regulation, changes=changes,
                                   reason=reason, scope=scope, lift=lift, actor=actor,
                                   verified=True)
    if kind in (Kind.ACCESS, Kind.PORTABILITY):  # read-only: recorded with its answer
        Batch(kw, dep, kind, progress).at_intake(req, sealed, events)
        return RequestResult.of(req)
    claimant = Claimant(new_id("run"))
    try:  # recorded and claimed with its first commit (for changes: with the journal)
        batch = Batch(kw, dep, kind, progress, claimant)
        batch.release_claims = True
        batch.at_intake(req, sealed, events)
    finally:
        claimant.release(kw.control)
    return RequestResult.of(req)


__all__ = [
    "RequestResult", "approve", "deny", "dry_run", "extend", "list_requests", "new_id",
    "parse_identities", "parse_identity_args", "run", "run_request", "show", "submit",
    "submit_many", "sweep_exports", "verify", "verify_many",
]
