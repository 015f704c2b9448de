"""One batch: the open requests of one kind on one deployment, executed together.

One walk finds every subject of the batch (one connection per store); then,
by kind: access and portability write each export; restriction and objection
record subject state; erasure and rectification plan their changes, journal
them (``planned``), apply them step by step (``running``), prove them, and end
``completed`` -- or ``failed`` with what remains. A store that fails pauses the
whole batch with its reason; ``resume`` continues from the journal.

The batch holds its requests in memory and writes their state back with
set-based UPDATEs per phase, in the same transaction as the audit entries (one
entry per transition for the whole batch, naming each request). What the proof
needs to find each subject again is sealed once for the batch, with the journal.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from keepword.audit import AuditEvent
from keepword.control.base import utcnow
from keepword.deployment import Deployment
from keepword.driver import Sent
from keepword.errors import StoreError
from keepword.requests import erase, export, journal, proof, rectify
from keepword.requests.claims import Claimant
from keepword.requests.lifecycle import (
    CHANGING,
    MOVED,
    MUTABLE,
    Kind,
    Req,
    Status,
    Vault,
    grouped,
    insert_new,
    new_id,
    requests_table,
    row_values,
    save,
    transition,
    transition_all,
)
from keepword.requests.ops import Op, apply_many
from keepword.requests.plan import Plan, compile_plan, live_plan
from keepword.requests.walk import Connections, Subject, Walker, WalkResult
from keepword.runtime import Keepword
from keepword.subject_state import (
    StateAction,
    StateKind,
    SubjectState,
    current_state,
    record,
)

Progress = Callable[[str, int, int], None]
PAUSABLE = frozenset({Status.VERIFIED, Status.PLANNED, Status.RUNNING, Status.PAUSED})


def vault(kw: Keepword) -> Vault:
    return _vault(kw.hasher.derive("requests-vault"))


@lru_cache(maxsize=8)
def _vault(key: bytes) -> Vault:
    """One vault per key (built once: each request and batch asks for it)."""
    return Vault(key)


def refs_of(kw: Keepword, identities: Mapping[str, Any],
            without: Container[tuple[str, str]] = ()) -> list[str]:
    """The references of ``identities`` (kind -> values), but those ``(kind, value)``
    in ``without``: sorted, distinct. (A loop, not a comprehension, and no set or sort
    for one reference: a batch asks this of each request, which mostly learnt one.)"""
    ref = kw.hasher.ref
    refs = []
    for k, vals in identities.items():
        for v in vals:
            if (k, v) not in without:
                refs.append(ref(k, v))
    return refs if len(refs) < 2 else sorted(set(refs))


def merge_refs(known: Sequence[str], found: Sequence[str]) -> list[str]:
    """The request's references first (the audit names the first), then those learnt."""
    if len(found) == 1:  # (the usual case: no sets)
        return [*known] if found[0] in known else [*known, found[0]]
    return [*known, *sorted(set(found) - set(known))]


def identities_of(pairs: Sequence[Sequence[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for kind, value in pairs:
        out.setdefault(kind, set()).add(value)
    return out


@dataclass
class Batch:
    kw: Keepword
    dep: Deployment
    kind: Kind
    progress: Progress | None = None
    claimant: Claimant | None = None  # renews its leases with each state change

    def __post_init__(self) -> None:
        self.plan: Plan = compile_plan(self.dep.datamap, self.dep.policy.version)
        self.vault = vault(self.kw)
        self.conns = Connections(self.dep.stores, self.dep.datamap.datasets)
        self.crash = journal.CrashPoints()
        self.reqs: dict[str, Req] = {}
        self.sealed: dict[str, dict[str, Any]] = {}
        self.batch_id = ""
        self._done: list[tuple[int, int]] = []  # applied steps not yet marked done
        self._todo: list[tuple[int, Op]] | None = None  # journaled, first unit started
        self._ops: list[Op] | None = None  # every step of the batch (for the proof)
        self._phase = 0
        self._walked: dict[str, Subject] = {}  # subjects walked in this run, by request
        self._live_known = False
        self.release_claims = False  # the batch's claims end with its final commit
        self.new: list[Req] = []  # run at intake: recorded with the first commit
        self.intake: list[AuditEvent] = []  # their intake events, written first

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _adopt(self, reqs: Sequence[Req]) -> None:
        self.reqs = {r.id: r for r in reqs}
        self.sealed = {r.id: self.vault.open(r.sealed) or {} for r in reqs}

    def _commit(self, reqs: Sequence[Req], events: Sequence[AuditEvent],
                also: Callable[[Session], None] | None = None,
                cols: Sequence[str] = MUTABLE,
                pending: Sequence[export.Pending] = ()) -> None:
        """Requests' new state, their audit entries (and ``also``) in one transaction;
        ``pending`` work (files ``also`` writes in the background) done before it commits."""
        new = {r.id for r in self.new}
        ride = None
        with self.kw.control.session() as session:
            if also is not None:
                also(session)  # (it may add events: those of an answer)
            events = grouped(events, self.batch_id)
            if new:  # requests run at intake are recorded now, in their current state
                if len(self.new) == 1:  # with the audit's first statement
                    ride = (requests_table(), row_values(self.new[0]))
                else:
                    insert_new(session, self.new)
                events = [*self.intake, *events]
            save(session, [r for r in reqs if r.id not in new], cols)
            self.kw.audit.append_many(session, events, ride=ride)
            if self.claimant is not None:
                self.claimant.renew(session, [r.id for r in reqs if r.id not in new])
                if new:
                    self.claimant.hold_new(session, list(new))
            for work in pending:  # an error here rolls the transaction back
                work.result()
        self.new, self.intake = [], []

    # -- entry points ------------------------------------------------------------
    def at_intake(self, req: Req, sealed: dict[str, Any],
                  intake: Sequence[AuditEvent]) -> None:
        """Run a verified request not recorded yet: it is recorded, with its intake events
        (and claimed), in the batch's first commit -- the answer of an access, the journal
        of an erasure -- so no other runner can see it before then, and nothing is
        changed before it is journaled."""
        self.reqs, self.sealed = {req.id: req}, {req.id: sealed}
        self.new, self.intake = [req], list(intake)
        self._fresh([req])

    def fresh(self, reqs: Sequence[Req]) -> None:
        """Walk, then answer (access, state) or plan and apply (changes)."""
        self._adopt(reqs)
        self._fresh(reqs)

    def _fresh(self, reqs: Sequence[Req]) -> None:
        self.batch_id = new_id("batch")
        with gc_paused(len(reqs)):
            self._fresh_run(reqs)

    def _fresh_run(self, reqs: Sequence[Req]) -> None:
        try:
            self._know_live()
            subjects = [Subject(r.id, identities_of(self.sealed[r.id]["identities"]))
                        for r in reqs]
            self._tick("walk", 0, len(subjects))
            with self._ahead() as ahead:
                walk = Walker(self.plan, self.conns, lane=self._lane(),
                              resolved=ahead.send if ahead else None).run(subjects)
                self._tick("walk", len(subjects), len(subjects))
                live = self._stop_ambiguous(walk)
                if self.kind in (Kind.ACCESS, Kind.PORTABILITY):
                    self._answer(walk, live, ahead)
                elif self.kind in (Kind.RESTRICTION, Kind.OBJECTION):
                    self._record_state(walk, live)
                elif self._plan_changes(walk, live):
                    self._execute()
        except StoreError as exc:
            self._pause(str(exc))
        finally:
            self.conns.close()

    def resume(self, batch_id: str, reqs: Sequence[Req]) -> None:
        self._adopt(reqs)
        self.batch_id = batch_id
        self._recall()
        with gc_paused(len(reqs)):
            try:
                self._execute()
            except StoreError as exc:
                self._pause(str(exc))
            finally:
                self.conns.close()

    # -- shared steps ---------------------------------------------------------------
    def _know_live(self) -> None:
        """Changes are planned against the stores' real NOT NULL columns (read once, when
        planning or proving needs them: a resume first runs the journaled steps it can)."""
        if self.kind in CHANGING and not self._live_known:
            self.plan = live_plan(self.plan, self.dep.datamap, self.dep.stores)
            self._live_known = True

    def _lane(self) -> frozenset[tuple[str, str]]:
        return lane_for(self.kind, self.plan, self.dep)

    def _recall(self) -> None:
        """What the batch sealed when it was planned: each subject's knowledge (for the
        proof) and each request's planned result (the outcome the proof completes)."""
        with self.kw.control.session() as session:
            blob = self.vault.open(journal.batch_sealed(session, self.batch_id)) or {}
        results = _results_of(blob)
        for key, req in self.reqs.items():
            known = blob.get("knowledge", {}).get(key)
            if known is not None:
                self.sealed[key] = {**self.sealed[key], "knowledge": known}
            if req.result is None and key in results:
                req.result = results[key]

    def _pause(self, reason: str) -> None:
        reqs = [r for r in self.reqs.values() if Status(r.status) in PAUSABLE]
        now = utcnow()
        self._commit(reqs, transition_all(reqs, Status.PAUSED, self.batch_id, reason=reason,
                                          now=now))

    def _stop_ambiguous(self, walk: WalkResult) -> list[Subject]:
        stopped = [s for s in walk.subjects if s.problem]
        if stopped:
            reqs = [self.reqs[s.key] for s in stopped]
            now = utcnow()
            self._commit(reqs, [transition(self.reqs[s.key], Status.FAILED, reason=s.problem,
                                           now=now) for s in stopped])
        return [s for s in walk.subjects if not s.problem]

    @contextmanager
    def _ahead(self) -> Iterator[_Ahead | None]:
        """A single access run at intake, on PostgreSQL: one control connection in
        autocommit for its two statements, held from the walk's start (``_Ahead``)."""
        if (self.kind not in (Kind.ACCESS, Kind.PORTABILITY) or len(self.new) != 1
                or self.claimant is not None
                or self.kw.control.engine.dialect.name != "postgresql"):
            yield None
            return
        disclosures = _disclosures()
        if disclosures is None:  # pragma: no cover - absent in a minimal build
            yield None
            return
        file = export.ExportFile(self._exports() / f"{self.new[0].id}.zip")
        try:
            with self.kw.control.autocommit() as conn:
                ahead = _Ahead(self.kw, conn, disclosures, file)
                try:
                    yield ahead
                finally:
                    ahead.close()
        finally:
            file.discard()  # (unless it was filled)

    def _exports(self) -> Path:
        return export.folder(self.kw.settings.home)

    def _answer(self, walk: WalkResult, live: Sequence[Subject], ahead: _Ahead | None
                ) -> None:
        exports = self._exports()
        now = utcnow()
        if ahead is not None and self._answer_at_once(walk, live, exports, now, ahead):
            return
        events: list[AuditEvent] = []
        files: list[export.Pending] = []  # written while the control store records

        def answer(session: Session) -> None:
            for i, s in enumerate(live):
                refs = refs_of(self.kw, s.identities)
                state, disclosed = _context(session, refs)
                more, file = self._answered(walk, s, refs, (state, disclosed), exports, now)
                events.extend(more)
                files.append(file)
                self._tick("export", i + 1, len(live))

        self._commit([self.reqs[s.key] for s in live], events, answer, pending=files)

    def _answered(self, walk: WalkResult, s: Subject, refs: list[str],  # noqa: PLR0917
                  context: tuple[SubjectState, list[Any]], exports: Path, now: datetime,
                  write: Callable[[bytes, Path], export.Pending] = export.write_later
                  ) -> tuple[list[AuditEvent], export.Pending]:
        """One subject's export (its file written by ``write``: by default in the
        background), result and transitions."""
        req = self.reqs[s.key]
        events = [transition(req, Status.RUNNING, now=now)]
        data = export.build(walk, s, self.dep.policy.policy, request=_header(req),
                            state=context[0], disclosures=context[1])
        path = exports / f"{req.id}.zip"
        file = write(export.zip_bytes(data), path)
        found = walk.counts(s)
        req.subject_refs = merge_refs(req.subject_refs, refs)
        req.result = {"found": found, "export": str(path),
                      "categories": [c["category"] for c in data["categories"]]}
        events.append(transition(req, Status.COMPLETED, now=now, details={
            "rows": sum(found.values()), "collections": len(found)}))
        return events, file

    def _answer_at_once(self, walk: WalkResult, live: Sequence[Subject], exports: Path,
                        now: datetime, ahead: _Ahead) -> bool:
        """One access run at intake, on PostgreSQL: two statements, each its own
        transaction -- the person's context with the audit head (sent while the walk
        still ran: ``_Ahead``), then (the export's file written) the request, its intake
        and its answer chained onto that head (``AuditLog.append_at``) -- instead of a
        transaction of five round trips. When another writer moved the head in between,
        the usual transaction records it."""
        if len(live) != 1:
            ahead.file.discard()  # (the usual way writes what there is to write)
            return False
        s, req = live[0], self.new[0]
        refs = refs_of(self.kw, s.identities)
        state, disclosed, head = ahead.context(refs)
        events, file = self._answered(walk, s, refs, (state, disclosed), exports, now,
                                      ahead.file.fill)
        done = head is not None and self.kw.audit.append_at(
            ahead.conn, [*self.intake, *events], head,
            ride=(requests_table(), row_values(req)),
            before=file.result)  # the answer exists before the request says so
        file.result()
        if done:
            self.new, self.intake = [], []
        else:
            self._commit([req], events)
        self._tick("export", 1, 1)
        return True

    def _record_state(self, walk: WalkResult, live: Sequence[Subject]) -> None:
        kind = StateKind.RESTRICTION if self.kind is Kind.RESTRICTION else StateKind.OBJECTION
        events: list[AuditEvent] = []
        now = utcnow()

        def state(session: Session) -> None:
            for s in live:
                req, params = self.reqs[s.key], self.sealed[s.key]["params"]
                refs = refs_of(self.kw, s.identities)
                action = StateAction.LIFT if params.get("lift") else StateAction.SET
                scope = params.get("scope") or "*"
                events.append(transition(req, Status.RUNNING, now=now))
                record(session, refs, kind, action, params["reason"], scope=scope,
                       request_id=req.id)
                req.subject_refs = merge_refs(req.subject_refs, refs)
                req.result = {"found": walk.counts(s), "recorded": f"{kind.value} {action.value}",
                              "scope": scope}
                events.append(transition(req, Status.COMPLETED, now=now, details={
                    "state": kind.value, "action": action.value, "scope": scope}))

        self._commit([self.reqs[s.key] for s in live], events, state)

    # -- changes: plan, journal, apply, prove -------------------------------------
    def _plan_changes(self, walk: WalkResult, live: Sequence[Subject]) -> bool:
        """Journal the changes (``planned``, then ``running``) in one commit, with the
        batch's sealed knowledge."""
        live = self._route_to_administrators(walk, live)
        if not live:
            return False
        changes = self._changes(walk, live)
        events: list[AuditEvent] = []
        knowledge: dict[str, Any] = {}
        planned: list[dict[str, Any]] = []
        steps = len(changes.ops)
        now = utcnow()
        # requests with the same outcome, when the planner knows their found rows are
        # exactly the ones it deletes, share their result and audit details (read-only)
        shared: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        batch, pv, dv = self.batch_id, self.dep.policy.version, self.dep.datamap.version
        for s in live:
            req = self.reqs[s.key]
            req.batch_id, req.policy_version, req.datamap_version = batch, pv, dv
            knowledge[s.key] = s.knowledge()
            self._walked[s.key] = s
            outcome = changes.outcomes[s.key]
            made = shared.get(id(outcome)) if outcome.found_is_deleted else None
            if made is None:
                made = ({"found": outcome.deleted if outcome.found_is_deleted
                         else walk.counts(s), "outcome": outcome.as_dict()},
                        {"batch": batch, "steps": steps,
                         "deleted": sum(outcome.deleted.values()),
                         "updated": sum(outcome.updated.values())})
                if outcome.found_is_deleted:
                    shared[id(outcome)] = made
            req.result = made[0]
            planned.append(made[1])
        reqs = [self.reqs[s.key] for s in live]
        events += transition_all(reqs, Status.PLANNED, self.batch_id, now=now, details=planned)
        events += transition_all(reqs, Status.RUNNING, self.batch_id, now=now)
        blob = self.vault.seal({"knowledge": knowledge,
                                **_results_doc({s.key: self.reqs[s.key].result for s in live})})

        def journal_it(session: Session) -> None:
            journal.open_batch(session, self.batch_id, self.kind.value, len(live), blob)
            self._journal(session, 0, changes.ops)

        self._commit(reqs, events, journal_it,
                     ("status", "updated_at", "reason", "batch_id", "policy_version",
                      "datamap_version"))
        self._ops, self._phase = list(changes.ops), 0
        self.reqs = {s.key: self.reqs[s.key] for s in live}
        self.crash.point()
        return True

    def _journal(self, session: Session, phase: int, ops: Sequence[Op]) -> None:
        """Record the steps, the first unit already started (it runs next); keep them."""
        steps = [(op.table[0], op.table[1], op.kind, op.count, self.vault.seal(op.payload()))
                 for op in ops]
        first = len(_units([(0, op) for op in ops])[0]) if ops else 0
        ids = journal.record(session, self.batch_id, phase, steps, started=first)
        self._todo = list(zip(ids, ops, strict=True))

    def _route_to_administrators(self, walk: WalkResult, live: Sequence[Subject]
                                 ) -> list[Subject]:
        """Managed accounts (Ikcon §10.1): the administrator decides first."""
        rest, waiting, events = [], [], []
        now = utcnow()
        for s in live:
            req = self.reqs[s.key]
            if not s.administered or req.admin_decision == "approved":
                rest.append(s)
                continue
            table, col, value = sorted(s.administered, key=repr)[0]
            name = self.plan[table].name
            req.administrator = f"{name}.{col}={value}"[:200]
            req.result = {"found": walk.counts(s)}
            waiting.append(req)
            events.append(transition(
                req, Status.AWAITING_ADMINISTRATOR, now=now,
                reason=f"administered by an organisation administrator ({name}.{col}); "
                       "waiting for their decision"))
        if waiting:
            self._commit(waiting, events)
        return rest

    def _changes(self, walk: WalkResult, live: Sequence[Subject]) -> erase.ChangePlan:
        if self.kind is Kind.ERASURE:  # only these: others wait for their administrator
            return erase.plan_erasure(walk, self.dep.policy.policy, self.kw.hasher,
                                      subjects=live)
        typed = {s.key: self._typed(self.sealed[s.key]) for s in live}
        return rectify.plan_rectification(walk, typed)

    def _typed(self, sealed: Mapping[str, Any]) -> dict[str, Any]:
        return rectify.flatten(rectify.validate(self.plan, sealed["params"]["set"]))

    def _execute(self) -> None:
        running = Status.RUNNING.value
        waking = [r for r in self.reqs.values() if r.status != running]
        if waking:
            now = utcnow()
            self._commit(waking, transition_all(waking, Status.RUNNING, self.batch_id, now=now))
            self.crash.point()
        self._run_steps()
        self._prove()

    def _run_steps(self) -> None:
        """Steps run in units (consecutive steps of one store, one store transaction each).
        A unit is marked started before it runs; done units are marked with the next
        control write (the next unit's start, the proof's, the end). A crash re-runs the
        steps not marked done; every step is idempotent."""
        first_started = self._todo is not None
        if self._todo is None:  # resumed: the journal says what is left
            with self.kw.control.session() as session:
                todo = [(st.id, st.payload) for st in journal.steps(session, self.batch_id)
                        if st.status != journal.StepStatus.DONE]
            self._todo = [(i, Op.from_payload(self.vault.open(p))) for i, p in todo]
        ops, self._todo = self._todo, None
        self.conns.end_reads()
        finished = 0
        for k, unit in enumerate(_units(ops)):
            if k or not first_started:
                with self.kw.control.session() as session:
                    journal.mark_done_and_start(session, self._done, [i for i, _ in unit])
                self._done = []
                self.crash.point()
            affected = apply_many(self.conns.get(unit[0][1].table[0]), self.plan,
                                  [op for _, op in unit])
            for (_, op), n in zip(unit, affected, strict=True):
                op.affected = n
            self.crash.point()
            self._done += [(i, n) for (i, _), n in zip(unit, affected, strict=True)]
            finished += len(unit)
            self._tick("apply", finished, len(ops))

    def _prove(self) -> None:
        if self._ops is None:  # resumed: every step of the batch, from the journal
            with self.kw.control.session() as session:
                journal.mark_done_and_start(session, self._done, [])
                self._done = []
                steps = journal.steps(session, self.batch_id)
                self._ops = [_op_of(self.vault.open(st.payload), st.affected) for st in steps]
                self._phase = max((st.phase for st in steps), default=0)
        ops = self._ops
        self._know_live()
        bad = proof.unapplied(self.conns, self.plan, ops)
        again = self._replan(ops)
        if again.ops and self._phase == 0:  # data appeared meanwhile, or was missed
            with self.kw.control.session() as session:
                journal.mark_done_and_start(session, self._done, [])
                self._done = []
                self._journal(session, 1, again.ops)
            self._ops, self._phase = [*ops, *again.ops], 1
            self.crash.point()
            self._run_steps()
            self._prove()
            return
        self.crash.point()
        self._finish(len(ops), bad, again)

    def _replan(self, ops: Sequence[Op]) -> erase.ChangePlan:
        """What the planner would still change after the steps: the access walk again,
        from what the batch knows of each person. For an erasure, first asked set-wide
        whether that walk would find any row at all (``Walker.anything_found``): when
        nothing is left -- the usual end -- there is nothing to walk or plan."""
        if self.kind is Kind.ERASURE:
            known = [self._walked.get(key) or self._known(key) for key in self.reqs]
            if not Walker(self.plan, self.conns).anything_found(known):
                return erase.ChangePlan([], {})
        subjects = [self._known(rid) for rid in self.reqs]
        walk = Walker(self.plan, self.conns, lane=self._lane()).run(subjects, prior=True)
        if self.kind is Kind.ERASURE:
            return erase.plan_erasure(walk, self.dep.policy.policy, self.kw.hasher,
                                      done=proof.done_cells(ops))
        return rectify.plan_rectification(
            walk, {s.key: self._typed(self.sealed[s.key]) for s in subjects})

    def _known(self, key: str) -> Subject:
        sealed = self.sealed[key]
        walked = self._walked.get(key)  # this run walked them: no JSON round trip
        s = walked.rewalk() if walked else Subject.from_knowledge(key, sealed["knowledge"])
        if self.kind is Kind.RECTIFICATION:  # the new identities find the rows now
            for col, value in self._typed(sealed).items():
                ds, coll, fld = col.split(".")
                kind = self.dep.datamap.collection(ds, coll).fields[fld].identity
                if kind:
                    s.identities.setdefault(kind, set()).add(str(value))
        return s

    def _finish(self, checked: int, bad: list[dict[str, Any]], again: erase.ChangePlan) -> None:
        release = self.claimant is not None and self.release_claims
        with self.kw.control.session() as session:
            journal.mark_done_and_start(session, self._done, [])
            events = self._conclude(session, checked, bad, again)
            journal.purge(session, self.batch_id)
            save(session, list(self.reqs.values()), (*MOVED, "result", "subject_refs"))
            self.kw.audit.append_many(session, events)
            if release and self.claimant is not None:
                self.claimant.release_in(session)
        self._done = []
        if release and self.claimant is not None:
            self.claimant.released = True
        self.crash.point()

    def _conclude(self, session: Session, checked: int, bad: list[dict[str, Any]],
                  again: erase.ChangePlan) -> list[AuditEvent]:
        """Each request's proof in its result; completed, or failed with what remains."""
        now = utcnow()
        done: list[Req] = []
        done_details: list[dict[str, Any]] = []
        failed: list[AuditEvent] = []
        residual = proof.residual_by_request(again)
        # what every request with nothing kept, left or unapplied shares (one object each)
        clean = proof.Proof(True, checked).as_dict()
        clean_details = {"proof_ok": True, "residual": 0, "unapplied": 0, "kept": []}
        proven: dict[int, dict[str, Any]] = {}  # results shared at planning, proven clean
        kept_of: dict[int, tuple[Any, list[Any]]] = {}  # what each shared result keeps
        sealed_of, walked_of = self.sealed, self._walked
        for req in self.reqs.values():
            # the references of every identity the walk learnt (written with the end); the
            # request's own identities have theirs since intake
            sealed = sealed_of[req.id]
            walked = walked_of.get(req.id)
            known = (walked.identities if walked is not None
                     else sealed.get("knowledge", {}).get("identities", {}))
            mine = set(map(tuple, sealed["identities"]))  # its (kind, value) pairs
            learnt = refs_of(self.kw, known, without=mine)
            if learnt:
                req.subject_refs = merge_refs(req.subject_refs, learnt)
            hit = kept_of.get(id(req.result))
            if hit is None or hit[0] is not req.result:
                hit = kept_of[id(req.result)] = (req.result, ((req.result or {}).get(
                    "outcome") or {}).get("kept", []))
            kept = hit[1]
            left = residual.get(req.id, [])
            if not (bad or left or kept):
                result = proven.get(id(req.result))
                if result is None:
                    result = proven[id(req.result)] = {**(req.result or {}), "proof": clean}
                req.result = result
                done.append(req)
                done_details.append(clean_details)
                continue
            result = dict(req.result or {})
            evidence = proof.Proof(not bad and not left, checked, bad, left, kept)
            result["proof"] = evidence.as_dict()
            req.result = result
            if kept and self.kind is Kind.ERASURE:
                self._restrict_kept(session, req, kept)
            details = {"proof_ok": evidence.ok, "residual": len(left), "unapplied": len(bad),
                       "kept": [f"{k['collection']}.{k['field']}:{k['exception']}"
                                for k in kept]}
            if evidence.ok:
                done.append(req)
                done_details.append(details)
                continue
            what = "; ".join(f"{x['collection']}: {x.get('left') or x.get('problem')}"
                             for x in [*bad, *left])
            failed.append(transition(req, Status.FAILED, details=details, now=now,
                                     reason=f"residual personal data remains: {what}"[:1000]))
        events = transition_all(done, Status.COMPLETED, self.batch_id, now=now,
                                details=done_details) if done else []
        return grouped([*events, *failed], self.batch_id)

    def _restrict_kept(self, session: Session, req: Req, kept: list[dict[str, Any]]) -> None:
        """What a retention exception keeps stays, restricted (Art. 18(1)(b))."""
        grounds = sorted({k["exception"] for k in kept})
        record(session, req.subject_refs, StateKind.RESTRICTION, StateAction.SET,
               "erased; kept only under retention exception(s): " + ", ".join(grounds),
               request_id=req.id)


class _Ahead:
    """A single access's control statements, on one connection in autocommit
    (PostgreSQL). The person's restrictions, disclosures and the audit head are asked as
    soon as the walk knows every identity of the person (``Walker(resolved=...)``) and
    read once it is done: the control server answers while the walk still reads the data
    stores. Asked again if the references differ (they cannot, but it costs nothing to
    be sure)."""

    def __init__(self, kw: Keepword, conn: Connection, disclosures: ModuleType,
                 file: export.ExportFile) -> None:
        self.kw, self.conn, self._disclosures = kw, conn, disclosures
        self.file = file  # its export's file, created while the walk runs
        self._sent: tuple[list[str], Sent] | None = None

    def send(self, subjects: list[Subject]) -> None:
        if len(subjects) != 1 or subjects[0].problem is not None:
            return
        refs = refs_of(self.kw, subjects[0].identities)
        self._sent = (refs, self._disclosures.send_context(self.conn, refs))

    def context(self, refs: list[str]
                ) -> tuple[SubjectState, list[Any], tuple[int, bytes] | None]:
        sent, self._sent = self._sent, None
        if sent is not None and sent[0] == refs:
            state, disclosed, head = self._disclosures.context_of(sent[1])
        else:
            if sent is not None:
                sent[1].close()
            state, disclosed, head = self._disclosures.context_and_head(self.conn, refs)
        return state, list(disclosed), head

    def close(self) -> None:
        """Drop an answer not read (the walk failed, or the request stopped)."""
        sent, self._sent = self._sent, None
        if sent is not None:
            sent[1].close()


def lane_for(kind: Kind, plan: Plan, dep: Deployment) -> frozenset[tuple[str, str]]:
    """Erasure walks the collections it deletes whole column-wise (``erase.lane_of``);
    the other kinds need every row's values."""
    if kind is not Kind.ERASURE:
        return frozenset()
    return erase.lane_of(plan, dep.policy.policy)


GC_FROM = 100  # requests in a batch from which the cyclic collector waits until its end


@contextmanager
def gc_paused(n: int) -> Iterator[None]:
    """A big batch allocates many objects (walked rows) that live until it ends: Python's
    cyclic collector would rescan them again and again (a third of the run). They are
    freed by reference counting; the collector resumes afterwards."""
    if n < GC_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


UNIT = 20  # steps per store transaction at most: bounded, so store locks stay short
UNIT_ROWS = 10_000  # and rows (a step holds up to ``ops.keys_per_step`` keys)


def _units(ops: Sequence[tuple[int, Op]]) -> list[list[tuple[int, Op]]]:
    """Consecutive steps on one store, at most ``UNIT`` steps and (unless one step is
    bigger) ``UNIT_ROWS`` rows each (order kept)."""
    units: list[list[tuple[int, Op]]] = []
    rows = 0
    for item in ops:
        last = units[-1] if units else None
        n = item[1].count
        if (last and len(last) < UNIT and rows + n <= UNIT_ROWS
                and last[0][1].table[0] == item[1].table[0]):
            last.append(item)
            rows += n
        else:
            units.append([item])
            rows = n
    return units


def _results_doc(results: Mapping[str, Any]) -> dict[str, Any]:
    """Each request's planned result, sealed with the batch: results shared by many
    requests (the same outcome) are written once and named by position."""
    shapes: list[Any] = []
    index: dict[int, int] = {}
    of: dict[str, int] = {}
    for key, result in results.items():
        k = index.get(id(result))
        if k is None:
            k = index[id(result)] = len(shapes)
            shapes.append(result)
        of[key] = k
    return {"result_shapes": shapes, "result_of": of}


def _results_of(blob: Mapping[str, Any]) -> dict[str, Any]:
    """``_results_doc`` read back (or the plain ``results`` earlier versions sealed)."""
    if "result_of" not in blob:
        return dict(blob.get("results", {}))
    shapes = blob["result_shapes"]
    return {key: shapes[k] for key, k in blob["result_of"].items()}


def _op_of(payload: dict[str, Any], affected: int | None) -> Op:
    op = Op.from_payload(payload)
    op.affected = affected
    return op


def _header(req: Req) -> dict[str, Any]:
    return {"id": req.id, "kind": req.kind, "regulation": req.regulation,
            "received_at": req.received_at.isoformat(), "answered_at": utcnow().isoformat(),
            "due_at": req.due_at.isoformat()}


def _disclosures() -> ModuleType | None:
    """``keepword.disclosures`` (disclosures to recipients, Art. 15(1)(c)), when that
    module is installed."""
    try:
        from keepword import disclosures  # noqa: PLC0415 - optional
    except ImportError:  # pragma: no cover - absent in a minimal build
        return None
    return disclosures


def _context(session: Session, refs: Sequence[str]) -> tuple[SubjectState, list[Any]]:
    """The person's restrictions, and their disclosures to recipients when that module is
    installed: one statement."""
    disclosures = _disclosures()
    if disclosures is None:  # pragma: no cover - absent in a minimal build
        return current_state(session, refs), []
    state, disclosed = disclosures.state_and_disclosures(session, refs)
    return state, list(disclosed)


__all__ = ["Batch", "Progress", "identities_of", "lane_for", "vault"]
