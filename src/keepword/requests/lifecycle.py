"""A request's life: its table, its states, its deadline, its sealed identities.

``received -> verified -> planned -> running -> completed | denied | failed``,
with ``awaiting_administrator`` (managed accounts go to their organisation
administrator first, Ikcon §10.1) and ``paused`` (a store went down; ``resume``
carries on). Nothing is disclosed or changed before ``verified``. Every
transition is an audit entry written in the same transaction.

Raw identities are needed to run a request, so they are kept sealed (AES-256-GCM,
with a key derived from the master key) and purged when the request ends;
everything else -- the audit log, the request's own columns -- holds keyed
references only.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    JSON,
    Dialect,
    LargeBinary,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    null,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from keepword import driver, jsoncodec
from keepword.audit import AuditEvent
from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.errors import InputError, KeepwordError, Location, NotFoundError, Problem
from keepword.policy.models import Deadline, Regulation
from keepword.sqlsets import chunk_for, chunked, member_of, update_members


class Kind(StrEnum):
    ACCESS = "access"  # Art. 15
    PORTABILITY = "portability"  # Art. 20 (``keepword request export``)
    ERASURE = "erasure"  # Art. 17
    RECTIFICATION = "rectification"  # Art. 16
    RESTRICTION = "restriction"  # Art. 18
    OBJECTION = "objection"  # Art. 21


CLI_KINDS = {"access": Kind.ACCESS, "export": Kind.PORTABILITY, "erase": Kind.ERASURE,
             "rectify": Kind.RECTIFICATION, "restrict": Kind.RESTRICTION,
             "object": Kind.OBJECTION}
CHANGING = frozenset({Kind.ERASURE, Kind.RECTIFICATION})  # journaled, resumable
ROUTED = frozenset({Kind.ERASURE, Kind.RECTIFICATION})  # go to an administrator first


class Status(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    AWAITING_ADMINISTRATOR = "awaiting_administrator"
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    DENIED = "denied"
    FAILED = "failed"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.VERIFIED, S.DENIED}),
    S.VERIFIED: frozenset({S.PLANNED, S.RUNNING, S.AWAITING_ADMINISTRATOR, S.PAUSED, S.FAILED,
                           S.COMPLETED, S.DENIED}),
    S.AWAITING_ADMINISTRATOR: frozenset({S.VERIFIED, S.DENIED}),
    S.PLANNED: frozenset({S.RUNNING, S.PAUSED, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.PAUSED}),
    S.PAUSED: frozenset({S.PLANNED, S.RUNNING, S.AWAITING_ADMINISTRATOR, S.FAILED, S.COMPLETED,
                         S.PAUSED}),
}
OPEN = frozenset(TRANSITIONS)
RUNNABLE = frozenset({S.VERIFIED, S.PLANNED, S.RUNNING, S.PAUSED})
ENDED = frozenset({S.COMPLETED, S.DENIED, S.FAILED})


class DsrRequest(Base):
    """One data subject request (no raw personal data outside the sealed columns)."""

    __tablename__ = "dsr_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), index=True)
    regulation: Mapped[str] = mapped_column(String(10))
    deployment: Mapped[str] = mapped_column(String(1000))  # folder of policy.yaml + datasets/
    data_dir: Mapped[str] = mapped_column(String(1000))  # where relative SQLite paths resolve
    subject_refs: Mapped[list[str]] = mapped_column(JSON)  # keyed references only
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    datamap_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    administrator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    admin_decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


@dataclass(slots=True, eq=False)
class RequestRow:
    """A request as batches hold it: the columns of ``dsr_requests`` in a plain object.

    A batch loads, moves and writes back thousands of requests; ORM instrumentation
    (loading, every attribute read and write tracked) cost more than the work itself.
    Rows are read and written with Core statements (``load_rows``, ``save``)."""

    id: str
    kind: str
    status: str
    regulation: str
    deployment: str
    data_dir: str
    subject_refs: list[str]
    sealed: bytes | None
    received_at: datetime
    verified_at: datetime | None
    due_at: datetime
    extension_reason: str | None
    ended_at: datetime | None
    updated_at: datetime
    policy_version: str | None
    datamap_version: str | None
    batch_id: str | None
    reason: str | None
    administrator: str | None
    admin_decision: str | None
    actor: str
    result: dict[str, Any] | None


Req = DsrRequest | RequestRow  # what transitions and saves accept


def load_rows(session: Session, stmt: Any, params: Mapping[str, Any]) -> list[RequestRow]:
    """The requests ``stmt`` (a select of the whole table) finds: Core, no ORM identity
    map, read column-wise on the driver's connection (``driver.columns``) -- a batch
    loads thousands of requests of 22 columns."""
    return list(map(RequestRow, *driver.columns(session.connection(), stmt, params)))


_BY_IDS: dict[str, Any] = {}  # the statement of ``load_by_ids``, per backend


def load_by_ids(session: Session, ids: Sequence[str]) -> list[RequestRow]:
    """The requests with these keys, read by chunks of keys (by key alone: a status test
    beside it can lead the planner off the index); unknown keys are left out."""
    table = requests_table()
    dialect = session.connection().dialect.name
    stmt = _BY_IDS.get(dialect)
    if stmt is None:
        stmt = _BY_IDS[dialect] = select(table).where(
            member_of(table.c.id, "ids", dialect, own_text=True))
    return [r for part in chunked(list(ids), chunk_for(table.c.id, dialect, own_text=True))
            for r in load_rows(session, stmt, {"ids": part})]


class Vault:
    """Seals what a request must hold raw (identities, new values) until it ends.

    AES-256-GCM with a random 96-bit nonce (``\x01 | nonce | ciphertext``): a fifth of
    Fernet's cost, which counted in batches of thousands. Fernet tokens written by
    earlier versions still open."""

    _V1 = b"\x01"

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key[:32])
        self._fernet = Fernet(base64.urlsafe_b64encode(key[:32]))

    def seal(self, data: Any) -> bytes:
        nonce = os.urandom(12)
        plain = jsoncodec.dumps_sets(data)
        return self._V1 + nonce + self._aead.encrypt(nonce, plain, None)

    def open(self, token: bytes | None) -> Any:
        if token is None:
            return None
        raw = bytes(token)
        try:
            if raw[:1] == self._V1:
                return jsoncodec.loads(self._aead.decrypt(raw[1:13], raw[13:], None))
            return jsoncodec.loads(self._fernet.decrypt(raw))
        except (InvalidTag, InvalidToken):
            raise KeepwordError("sealed request data cannot be opened with this key") from None


def new_id(prefix: str = "req") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def due_date(received: datetime, deadline: Deadline, *, extended: bool = False) -> datetime:
    """GDPR: one month, extendable by two; CCPA: 45 days + 45 (from the policy)."""
    due = deadline.respond_within.add_to(received)
    return deadline.extension.add_to(due) if extended else due


def parse_regulation(value: str) -> Regulation:
    try:
        return Regulation(value.lower())
    except ValueError:
        raise InputError(Problem("regulation must be one of: "
                                 + ", ".join(r.value for r in Regulation),
                                 Location(path=("regulation",)), code="bad_regulation")) from None


def transition(req: Req, to: Status, *, reason: str | None = None, actor: str = "system",
               details: Mapping[str, Any] | None = None, now: datetime | None = None
               ) -> AuditEvent:
    """Move ``req`` to ``to`` (checked against the state machine); the audit event to append.
    ``now``: one time for the transitions of a whole batch."""
    current = Status(req.status)
    if to not in TRANSITIONS.get(current, frozenset()):
        raise KeepwordError(f"request {req.id} is {current.value}; it cannot become {to.value}")
    now = now or utcnow()
    req.status = to.value
    req.updated_at = now
    req.reason = reason
    if to is Status.VERIFIED and req.verified_at is None:
        req.verified_at = now
    if to in ENDED:
        req.ended_at = now
        req.sealed = None  # purge the raw identities: the request is over
    body: dict[str, Any] = {"kind": req.kind, "regulation": req.regulation, "from": current.value}
    if reason:
        body["reason"] = reason
    body.update(details or {})
    return AuditEvent(action=f"request.{to.value}", actor=actor, object_type="request",
                      object_id=req.id, subject=req.subject_refs[0] if req.subject_refs else None,
                      details=body)


def transition_all(reqs: Sequence[Req], to: Status, batch_id: str, *, now: datetime,
                   reason: str | None = None, actor: str = "system",
                   details: Sequence[Mapping[str, Any]] | None = None) -> list[AuditEvent]:
    """``transition`` for a batch's requests, with the audit entries ``grouped`` would
    make of their events (one per request kind and starting state, naming each request
    and its own ``details``), built without an event per request."""
    if len(reqs) == 1:
        return [transition(reqs[0], to, reason=reason, actor=actor, now=now,
                           details=details[0] if details else None)]
    if not reqs:
        return []
    kinds, starts = list(map(attrgetter("kind"), reqs)), list(map(attrgetter("status"), reqs))
    _move_all(reqs, set(starts), to, now, reason)
    action = f"request.{to.value}"
    if _all_equal(kinds) and _all_equal(starts):  # one kind, one starting state (in C)
        return [_batch_entry(action, actor, {"kind": kinds[0], "from": starts[0]}, list(reqs),
                             list(details) if details else None, reason, batch_id=batch_id)]
    groups: dict[tuple[str, str], list[int]] = {}
    for j, start in enumerate(zip(kinds, starts, strict=True)):
        groups.setdefault(start, []).append(j)
    return [_batch_entry(action, actor, {"kind": kind, "from": current},
                         [reqs[j] for j in members],
                         [details[j] for j in members] if details else None, reason,
                         batch_id=batch_id)
            for (kind, current), members in groups.items()]


def _move_all(reqs: Sequence[Req], starting: set[str], to: Status, now: datetime,
              reason: str | None) -> None:
    """``transition``'s changes to each request, once every starting state is known to
    allow the move (nothing is changed otherwise)."""
    for current in starting:
        if to not in TRANSITIONS.get(Status(current), frozenset()):
            first = next(r for r in reqs if r.status == current)
            raise KeepwordError(f"request {first.id} is {current}; it cannot become {to.value}")
    status = to.value  # (an enum's value is a property: read once, not per request)
    for req in reqs:
        req.status, req.updated_at, req.reason = status, now, reason
    if to is Status.VERIFIED:
        for req in reqs:
            if req.verified_at is None:
                req.verified_at = now
    if to in ENDED:
        for req in reqs:
            req.ended_at, req.sealed = now, None


def _batch_entry(action: str, actor: str, base: dict[str, Any], reqs: list[Req],  # noqa: PLR0917
                 details: list[Mapping[str, Any]] | None, reason: str | None, *,
                 batch_id: str) -> AuditEvent:
    """``_group_event`` of these requests' parts (subject, regulation, reason, details):
    the parts common to all are found over the distinct details objects (a batch shares
    them between requests with the same outcome), the rest made once per distinct one."""
    subjects = [r.subject_refs[0] if r.subject_refs else None for r in reqs]
    if len(reqs) == 1:
        part: dict[str, Any] = {"subject": subjects[0], "regulation": reqs[0].regulation}
        if reason:
            part["reason"] = reason
        part.update(details[0] if details else {})
        return _group_event(action, actor, base, {reqs[0].id: part}, batch_id=batch_id)
    keys: dict[str, None] = {}  # the details' keys (a request's own are overridden)
    common: dict[str, Any] = {}
    rest: list[str] = []  # the keys that differ, or that some request lacks
    if details:
        distinct = ([details[0]] if _all_equal(details)
                    else list({id(d): d for d in details}.values()))
        keys = dict.fromkeys(k for d in distinct for k in d)
        for key in keys:
            values = [d.get(key, _ABSENT) for d in distinct]
            if values[0] is not _ABSENT and _all_equal(values):
                common[key] = values[0]
            else:
                rest.append(key)
    if reason and "reason" not in keys:
        common["reason"] = reason
    if "regulation" not in keys:
        regulations = [r.regulation for r in reqs]
        if _all_equal(regulations):
            common["regulation"] = regulations[0]
        else:
            rest.append("regulation")
    if not rest:
        parts = {r.id: {"subject": subject} for r, subject in zip(reqs, subjects, strict=True)}
    else:
        parts = _own_parts(reqs, subjects, details, rest, keys)
    return AuditEvent(action=action, actor=actor, object_type="batch", object_id=batch_id,
                      details={**base, **common, "requests": parts})


_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


def _own_parts(reqs: list[Req], subjects: list[str | None],
               details: list[Mapping[str, Any]] | None, rest: list[str],
               keys: Container[str]) -> dict[str, Any]:
    """Each request's part: its subject, and its values of the ``rest`` keys (those of
    its details, in ``keys``; else its regulation), made once per distinct regulation
    and details object."""
    own: dict[tuple[Any, ...], dict[str, Any]] = {}
    parts: dict[str, Any] = {}
    for j, (r, subject) in enumerate(zip(reqs, subjects, strict=True)):
        mine_of = details[j] if details else _NO_DETAILS
        shape = (r.regulation, id(mine_of))
        mine = own.get(shape)
        if mine is None:
            mine = own[shape] = {}
            for k in rest:  # the rest: details' keys, or the request's regulation
                v = mine_of.get(k, _ABSENT) if k in keys else r.regulation
                if v is not _ABSENT:
                    mine[k] = v
        parts[r.id] = {"subject": subject, **mine}
    return parts


def _group_event(action: str, actor: str, base: dict[str, Any], parts: dict[str, Any], *,
                 batch_id: str) -> AuditEvent:
    """One entry for the requests in ``parts`` (id -> subject and own details), ``base``
    common to all of them; a single request keeps its classic entry."""
    if len(parts) == 1:
        ((rid, part),) = parts.items()
        subject = part.pop("subject")
        return AuditEvent(action=action, actor=actor, object_type="request", object_id=rid,
                          subject=subject, details={**base, **part})
    first = next(iter(parts.values()))
    common = {k: v for k, v in first.items() if k != "subject" and _all_equal(
        [p.get(k, _ABSENT) for p in parts.values()])}
    if common:  # said once for the group (``AuditLog.entries`` gives each its share)
        parts = {rid: {k: v for k, v in p.items() if k not in common}
                 for rid, p in parts.items()}
    return AuditEvent(action=action, actor=actor, object_type="batch", object_id=batch_id,
                      details={**base, **common, "requests": parts})


_ABSENT = object()


def _all_equal(values: list[Any]) -> bool:
    """Every value equals the first (``list.count`` compares in C: batches ask this of
    10,000 values per column)."""
    return not values or values.count(values[0]) == len(values)


MUTABLE = ("status", "updated_at", "reason", "verified_at", "ended_at", "sealed", "batch_id",
           "policy_version", "datamap_version", "subject_refs", "result", "administrator",
           "admin_decision", "due_at", "extension_reason")


# What a transition changes (``transition`` sets these, and ``ended_at`` at the end).
MOVED = ("status", "updated_at", "reason", "ended_at", "sealed")
_SAVES: dict[tuple[str, ...], Any] = {}
_SAME: dict[tuple[str, ...], Any] = {}
_DOCS: dict[tuple[str, ...], Any] = {}


def save(session: Session, reqs: Sequence[Req], cols: Sequence[str] = MUTABLE) -> None:
    """Write the requests' changeable columns (or only ``cols``, those the caller changed)
    back. Columns holding one value for every request (a batch's status, time, batch id)
    are bound once; those that differ go as one JSON document per chunk where the backend
    reads one (``UPDATE ... FROM`` its rows), else in an executemany."""
    if not reqs:
        return
    first = reqs[0]
    same = tuple(c for c in cols if _all_equal(list(map(attrgetter(c), reqs))))
    varying = tuple(c for c in cols if c not in same)
    table = requests_table()
    conn = session.connection()
    values = {"k_" + c: getattr(first, c) for c in same}
    if varying and conn.dialect.name == "sqlite" and _save_many(conn, table, reqs, same,
                                                                varying, values):
        return
    if varying and _by_document(conn.dialect, table, varying, reqs):
        stmt = _document_update(conn.dialect, table, same, varying)
        rows = _document_rows(conn.dialect, table, varying, reqs)
        size = chunk_for(table.c.id, conn.dialect.name, own_text=True)
        for some, their in zip(chunked(list(reqs), size), chunked(rows, size), strict=True):
            doc = jsoncodec.dumps_text(their)
            if "\\u0000" in doc:  # SQLite's JSON reader cuts a text at a NUL, PostgreSQL's
                # JSON operators refuse one: these go one by one
                _save_each(conn, table, some, cols)
            else:
                conn.execute(stmt, {"k_doc": doc, **values})
        return
    # When some column differs, a server rewrites each row (a new version, its indexes)
    # once, with every column; SQLite updates in place, where binding fewer values wins.
    if varying and conn.dialect.name != "sqlite":
        same, varying = (), tuple(cols)
    if same:
        skey = (*same, conn.dialect.name)
        stmt = _SAME.get(skey)
        if stmt is None:
            stmt = _SAME[skey] = update_members(
                table, table.c.id, "k_ids", conn.dialect.name, own_text=True).values(
                {c: bindparam("k_" + c, type_=table.c[c].type) for c in same})
        size = chunk_for(table.c.id, conn.dialect.name, own_text=True)
        for part in chunked([r.id for r in reqs], size):
            conn.execute(stmt, {"k_ids": part, **values})
    if varying:
        _save_each(conn, table, reqs, varying)


def _save_many(conn: Connection, table: Table, reqs: Sequence[Req],  # noqa: PLR0917
               same: Sequence[str], varying: Sequence[str], values: Mapping[str, Any]) -> bool:
    """SQLite: one ``executemany`` on the driver (``driver.execute_many``), the differing
    values bound as stored -- text, a JSON column's value as its JSON text, each
    distinct one encoded once (``_document_rows``) -- and the shared ones converted once:
    cheaper there than a JSON document SQLite must parse (False: not for these columns).
    A shared ``None`` (not a JSON column's: that is JSON ``null``) is written as ``NULL``
    in the statement: the driver adapts a bound ``None`` at each row, at some cost."""
    nulls = tuple(c for c in same if values["k_" + c] is None
                  and not isinstance(table.c[c].type, JSON))
    key = ("many", *same, "|", *varying, "|", *nulls)
    stmt = _SAVES.get(key)
    if stmt is None:
        sets: dict[str, Any] = {c: bindparam("k_" + c, type_=String() if c in varying and (
            isinstance(table.c[c].type, JSON)) else table.c[c].type) for c in (*same, *varying)}
        sets.update(dict.fromkeys(nulls, null()))
        stmt = _SAVES[key] = update(table).where(table.c.id == bindparam("k_id")).values(sets)
    names = ("k_id", *("k_" + c for c in varying))
    return driver.execute_many(conn, stmt, values, names,
                               _document_rows(conn.dialect, table, varying, reqs))


def _save_each(conn: Connection, table: Table, reqs: Sequence[Req], cols: Sequence[str]
               ) -> None:
    """``cols`` of each request, one parameter set per request (an executemany)."""
    key = tuple(cols)
    stmt = _SAVES.get(key)
    if stmt is None:
        stmt = _SAVES[key] = update(table).where(table.c.id == bindparam("k_id")).values(
            {c: bindparam("k_" + c, type_=table.c[c].type) for c in cols})
    conn.execute(stmt, [{"k_id": r.id, **{"k_" + c: getattr(r, c) for c in cols}}
                        for r in reqs])


def _by_document(dialect: Dialect, table: Table, varying: Sequence[str],
                 reqs: Sequence[Req]) -> bool:
    """Whether the differing columns can travel as one JSON document: text columns, and
    JSON columns holding objects, lists or nothing (a JSON scalar read back out of the
    document could change type: ``true`` into 1 on SQLite), on backends that read such a
    document as rows."""
    if dialect.name not in ("sqlite", "postgresql"):
        return False
    for c in varying:
        kind = table.c[c].type
        if isinstance(kind, JSON):
            if dialect.name != "sqlite" and not all(
                    type(v) in _CONTAINERS for v in map(attrgetter(c), reqs)):
                return False  # (SQLite's travel as their JSON text: any value)
        elif not isinstance(kind, String):
            return False
    return True


def _document_rows(dialect: Dialect, table: Table, varying: Sequence[str],
                   reqs: Sequence[Req]) -> list[tuple[Any, ...]]:
    """The requests' rows of the document: ``(id, v1, v2...)``, built column by column.
    On SQLite a JSON column's value travels as its JSON text (what the column stores, as
    SQLAlchemy would write it), each distinct value object encoded once: a batch shares
    results between requests, and SQLite re-reading and re-quoting each value inside
    the document cost more than the rest of the update."""
    columns = [list(map(attrgetter(c), reqs)) for c in ("id", *varying)]
    if dialect.name == "sqlite":
        for k, c in enumerate(varying, start=1):
            if isinstance(table.c[c].type, JSON):
                columns[k] = _json_texts(columns[k])
    return list(zip(*columns, strict=True))


def _json_texts(values: list[Any]) -> list[str]:
    """Each value's JSON text, each distinct object encoded once (``values`` holds them
    all: an id is not reused meanwhile)."""
    texts: dict[int, str] = {}
    out = []
    for value in values:
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = jsoncodec.dumps_text(value)
        out.append(text)
    return out


_CONTAINERS = frozenset({dict, list, type(None)})


def _document_update(dialect: Dialect, table: Table, same: Sequence[str],
                     varying: Sequence[str]) -> Any:
    """``UPDATE dsr_requests SET <same> = :k_<col>, <varying> = row[k] FROM
    <rows of :k_doc> WHERE id = row[0]``; each row of the document is ``[id, v1, v2...]``
    (text as text; JSON columns' values as their JSON text on SQLite, as JSON inside the
    document on PostgreSQL)."""
    key = (*same, "|", *varying, dialect.name)
    stmt = _DOCS.get(key)
    if stmt is not None:
        return stmt
    doc = bindparam("k_doc", type_=String())
    json_cols = {c for c in varying if isinstance(table.c[c].type, JSON)}
    if dialect.name == "sqlite":
        each = func.json_each(doc).table_valued("value").alias("kw_doc")

        def item(k: int, col: str) -> ColumnElement[Any]:
            # text as text; a JSON column's value is its JSON text (``_document_rows``)
            return func.json_extract(each.c.value, f"$[{k}]")
    else:
        each = func.json_array_elements(cast(doc, JSON)).table_valued("value").alias("kw_doc")

        def item(k: int, col: str) -> ColumnElement[Any]:
            if col in json_cols:
                return each.c.value.op("->", return_type=JSON())(k)
            return each.c.value.op("->>", return_type=String())(k)
    sets: dict[Any, Any] = {c: bindparam("k_" + c, type_=table.c[c].type) for c in same}
    sets.update({c: item(k, c) for k, c in enumerate(varying, start=1)})
    stmt = _DOCS[key] = update(table).where(table.c.id == item(0, "id")).values(sets)
    return stmt


def requests_table() -> Table:
    table = DsrRequest.__table__
    assert isinstance(table, Table)
    return table


_COMMON = ("kind", "from")  # what the transitions grouped in one entry share


def grouped(events: Sequence[AuditEvent], batch_id: str) -> list[AuditEvent]:
    """The transitions of a batch's requests, one audit entry per action: the entry names
    every request with its subject reference and its own details (``entries`` shows each
    request's part). Thousands of requests cost one entry, not thousands. Other events,
    and transitions of a single request, are kept as they are; order is kept by first
    appearance."""
    groups: dict[tuple[Any, ...], list[AuditEvent]] = {}
    for e in events:
        key: tuple[Any, ...] = (id(e),)
        if e.object_type == "request" and e.action.startswith("request."):
            key = (e.action, e.actor, *(repr(e.details.get(c)) for c in _COMMON))
        groups.setdefault(key, []).append(e)
    out: list[AuditEvent] = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        head = members[0]
        base = {c: head.details[c] for c in _COMMON if c in head.details}
        parts = {str(e.object_id): {"subject": e.subject,
                                    **{k: v for k, v in e.details.items() if k not in base}}
                 for e in members}
        out.append(_group_event(head.action, head.actor, base, parts, batch_id=batch_id))
    return out


def insert_new(session: Session, reqs: Sequence[Req]) -> None:
    """Record new requests with one executemany INSERT (no ORM unit of work)."""
    if not reqs:
        return
    rows = [row_values(r) for r in reqs]
    # one request: a plain execute (a list, even of one, takes the executemany path,
    # which on PostgreSQL rewrites the statement as a multi-row insert at each call)
    session.connection().execute(_INSERT_REQUEST, rows[0] if len(rows) == 1 else rows)


def row_values(req: Req) -> dict[str, Any]:
    """The request's columns, by name."""
    return {name: getattr(req, name) for name in _COLUMNS}


_INSERT_REQUEST = insert(requests_table())
_COLUMNS = tuple(c.key for c in requests_table().columns)


def get(session: Session, request_id: str, *, lock: bool = False) -> DsrRequest:
    stmt = select(DsrRequest).where(DsrRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    req = session.execute(stmt).scalar_one_or_none()
    if req is None:
        raise NotFoundError(f"no request {request_id!r}")
    return req
