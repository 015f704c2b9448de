"""Access and portability exports (Art. 15, Art. 20).

A ZIP with ``export.json`` (everything), one CSV per collection (machine
readable, Art. 20) and ``summary.html`` (readable). The data are the
subject's personal fields grouped by store and collection; values belonging to
other people inside those rows (the other participants of a call, the sender
of a message) read ``[redacted]`` (Art. 15(4), Ikcon §10.1). For each category
found, the Art. 15(1) items come from the policy: purposes and legal bases,
recipients, retention or its criteria, source; then the rights, restrictions
and objections in force, and the disclosures made.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment
from markupsafe import Markup, escape

from keepword import jsoncodec, taxonomy
from keepword.policy.models import Policy
from keepword.requests.walk import Role, Subject, WalkResult
from keepword.subject_state import SubjectState

REDACTED = "[redacted]"


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def subject_data(walk: WalkResult, s: Subject) -> tuple[list[dict[str, Any]], set[str]]:
    """The subject's rows per collection (redacted), and the categories they hold."""
    groups: dict[str, dict[str, Any]] = {}
    categories: set[str] = set()
    for cp, _pk, row, role in sorted(walk.subject_rows(s), key=lambda r: (r[0].key, repr(r[1]))):
        if not cp.personal:
            continue
        out: dict[str, Any] = {}
        shown = False
        for col in cp.personal:
            if s.visible(cp, row, col, role):
                out[col] = jsonable(row[col])
                shown = shown or row[col] is not None
                if s.owns(cp, row, col, role) and row[col] is not None:
                    categories.update(cp.fields[col].categories)
            else:
                out[col] = REDACTED
        if role is not Role.OWN and not shown:
            continue
        group = groups.setdefault(cp.name, {
            "store": cp.key[0], "collection": cp.key[1], "fields": list(cp.personal),
            "rows": []})
        group["rows"].append({"_relation": role.name.lower(), **out})
    return list(groups.values()), categories


def _declared(policy: Policy, key: str) -> str | None:
    return next((a for a in taxonomy.ancestors(key) if a in policy.categories), None)


def _related(a: str, b: str) -> bool:
    return taxonomy.covers(a, b) or taxonomy.covers(b, a)


_MADE: dict[tuple[int, Any], tuple[Any, Any]] = {}


def _made_once(owner: Any, key: Any, make: Callable[[], Any]) -> Any:
    """What depends only on ``owner`` (the policy; a part of exports shared per policy)
    and ``key``, made once: every access of a deployment asks again. Keyed by the owner
    object itself (compared by identity, so a new object never takes an old answer),
    bounded. Shared: read it, never change it."""
    slot = (id(owner), key)
    hit = _MADE.get(slot)
    if hit is not None and hit[0] is owner:
        return hit[1]
    if len(_MADE) > 1024:
        _MADE.clear()
    value = make()
    _MADE[slot] = (owner, value)
    return value


def art15(policy: Policy, categories: set[str]) -> list[dict[str, Any]]:
    """Per category: purposes, legal basis, recipients, retention, source (Art. 15(1)).
    Shared between the exports of one policy: read it, never change it."""
    items: list[dict[str, Any]] = _made_once(policy, ("art15", frozenset(categories)),
                                              lambda: _art15(policy, categories))
    return items


def _art15(policy: Policy, categories: set[str]) -> list[dict[str, Any]]:
    items = []
    for cat in sorted(categories):
        declared = _declared(policy, cat)
        info = policy.categories.get(declared) if declared else None
        purposes = {k: p for k, p in policy.purposes.items()
                    if any(_related(pc, cat) for pc in p.categories)}
        items.append({
            "category": cat,
            "name": info.name if info else cat,
            "special": bool(info and info.special),
            "sources": [s.value for s in info.sources] if info else [],
            "source_detail": info.source_detail if info else None,
            "purposes": [{"purpose": k, "name": p.name, "description": p.description,
                          "legal_basis": p.legal_basis.value,
                          "legitimate_interest": p.legitimate_interest,
                          "legal_obligation": p.legal_obligation,
                          "automated_decisions": p.automated_decisions}
                         for k, p in purposes.items()],
            "recipients": [{"recipient": k, "name": r.name, "kind": r.kind.value,
                            "countries": list(r.countries), "safeguard": r.safeguard.value}
                           for k, r in policy.recipients.items()
                           if any(_related(rc, cat) for rc in r.categories)],
            "retention": [{"rule": r.id, "description": r.description,
                           "period": r.period.human(), "from": r.anchor,
                           "action": r.action.value,
                           "exceptions": [{"id": e.id, "ground": e.ground,
                                           "period": e.period.human() if e.period else None}
                                          for e in r.exceptions
                                          if any(_related(c, cat) for c in e.categories)]}
                          for r in policy.retention
                          if any(_related(c, cat) for c in r.categories)
                          or set(r.purposes) & set(purposes)
                          or any(_related(c, cat) for e in r.exceptions for c in e.categories)],
        })
    return items


def rights(policy: Policy) -> dict[str, Any]:
    """The rights and where to complain (shared per policy: read it, never change it)."""
    org = policy.organisation
    made: dict[str, Any] = _made_once(policy, "rights", lambda: {
        "honoured": [r.value for r in policy.rights.honoured],
        "channels": list(policy.rights.channels),
        "complaint_contact": policy.rights.complaint_contact,
        "supervisory_authority": org.supervisory_authority.model_dump(mode="json")})
    return made


def controller(policy: Policy) -> dict[str, Any]:
    """Who answers (shared per policy: read it, never change it)."""
    org = policy.organisation
    made: dict[str, Any] = _made_once(policy, "controller", lambda: {
        "name": org.name, "legal_name": org.legal_name,
        "contact": org.contact.model_dump(mode="json"),
        "dpo": org.dpo.model_dump(mode="json") if org.dpo else None})
    return made


def build(walk: WalkResult, s: Subject, policy: Policy, *, request: Mapping[str, Any],
          state: SubjectState, disclosures: Sequence[Any]) -> dict[str, Any]:
    data, categories = subject_data(walk, s)
    return {
        "request": dict(request),
        "controller": controller(policy),
        "data": data,
        "categories": art15(policy, categories),
        "rights": rights(policy),
        "restrictions": [{"kind": r.kind.value, "scope": r.scope, "reason": r.reason,
                          "since": r.since.isoformat()} for r in state.restrictions],
        "disclosures": [_plain(d) for d in disclosures],
    }


def _plain(obj: Any) -> Any:
    if callable(getattr(obj, "as_dict", None)):
        return obj.as_dict()
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: jsonable(v) if not isinstance(v, tuple) else list(v)
                for k, v in asdict(obj).items()}
    return obj


def write_zip(export: Mapping[str, Any], path: Path) -> Path:
    """``export.json`` + one CSV per collection + ``summary.html``; readable by its owner only.

    Built in memory and written once (a crash leaves the request unanswered, and the
    rerun writes the file again)."""
    return write_file(zip_bytes(export), path)


def zip_bytes(export: Mapping[str, Any]) -> bytes:
    """The export's ZIP, in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        _add(zf, "export.json", jsoncodec.readable(export))
        for group in export["data"]:
            _add(zf, f"data/{group['store']}.{group['collection']}.csv", _csv(group))
        _add(zf, "summary.html", render_html(export))
    return buf.getvalue()


def folder(home: str | Path) -> Path:
    """Where a keepword home keeps its exports (``<request id>.zip`` each)."""
    return Path(home) / "exports"


def write_file(data: bytes, path: Path) -> Path:
    """``data`` into a new file readable by its owner only."""
    with os.fdopen(_create(path), "wb") as fh:
        fh.write(data)
    return path


class Pending(Protocol):
    """A file being written (``write_later``, ``ExportFile.fill``): ``result`` waits."""

    def result(self) -> Path: ...


class ExportFile:
    """A single request's export file, created ahead -- in the writer thread, while the
    request's walk waits on its stores: creating a file costs this kind of filesystem up
    to half a millisecond -- and filled once the answer is ready (``fill``). A request
    that ends without it ``discard``s it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: Future[int] = _writer().submit(_create, path)
        self._state = "created"  # -> filling -> filled, or discarded

    def fill(self, data: bytes, path: Path) -> Pending:
        """A ``write_later`` that writes when its ``result`` is asked (what
        ``AuditLog.append_at`` does once its statement is sent: the control server runs
        it meanwhile)."""
        if path != self.path or self._state != "created":
            raise ValueError("an export file is filled once, at its own path")
        return _Fill(self, data)

    def _write(self, data: bytes) -> Path:
        if self._state == "filled":
            return self.path
        if self._state != "created":
            raise ValueError("this export file was discarded")
        fd = self._fd.result()
        self._state = "filling"  # (the descriptor is the writer's now, closed by it)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            self._state = "discarded"  # no half-written export is left behind
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            raise
        self._state = "filled"
        return self.path

    def discard(self) -> None:
        """Remove the file if it was never filled."""
        if self._state != "created":
            return
        self._state = "discarded"
        try:
            fd = self._fd.result()
        except OSError:
            return  # (never created)
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class _Fill:
    def __init__(self, file: ExportFile, data: bytes) -> None:
        self._file, self._data = file, data

    def result(self) -> Path:
        return self._file._write(self._data)


def _create(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def _writer() -> ThreadPoolExecutor:
    if not _WRITER:
        _WRITER.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="kw-export"))
    return _WRITER[0]


_WRITER: list[ThreadPoolExecutor] = []


def write_later(data: bytes, path: Path) -> Future[Path]:
    """``write_file`` in a background thread: creating a file costs the filesystem a
    fraction of a millisecond to a millisecond, which an access overlaps with its
    control-store writes (the caller waits for it before committing)."""
    return _writer().submit(write_file, data, path)


SMALL = 4096  # bytes: stored as they are (deflating a few lines costs more than it saves)


def _add(zf: zipfile.ZipFile, name: str, text: str) -> None:
    data = text.encode()
    zf.writestr(name, data, compress_type=zipfile.ZIP_STORED if len(data) < SMALL else None)


def _csv(group: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    names = ["_relation", *group["fields"]]
    writer = csv.writer(buf)
    writer.writerow(names)
    writer.writerows([json.dumps(v) if isinstance(v, dict | list) else v
                      for v in map(row.get, names)] for row in group["rows"])
    return buf.getvalue()


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
# The summary in four parts: what only this request has (the header and the data, the
# restrictions and disclosures), and what every export of the same policy and
# categories shares (why, who, how long; the rights), rendered once and reused.
_HEAD = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Your personal data held by {{ e.controller.name }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
.r{color:#888}</style></head><body>
<h1>Your personal data held by {{ e.controller.name }}</h1>
<p>Request {{ e.request.id }} ({{ e.request.kind }}, {{ e.request.regulation|upper }}),
answered {{ e.request.answered_at }}. Controller: {{ e.controller.name }}
{% if e.controller.contact.email %}&lt;{{ e.controller.contact.email }}&gt;{% endif %}.
{% if e.controller.dpo %}Data protection officer: {{ e.controller.dpo.name }}
{% if e.controller.dpo.email %}&lt;{{ e.controller.dpo.email }}&gt;{% endif %}.{% endif %}</p>
{% if not e.data %}<p>We hold no personal data about you.</p>{% endif %}
<h2>Your data</h2>
{{ tables }}
<p class="r">"{{ redacted }}": another person's data inside your records, withheld to protect
their rights (GDPR Art. 15(4)).</p>
""")
_WHY = _ENV.from_string("""<h2>Why we hold it, who receives it, how long we keep it</h2>
{% for c in categories %}
<h3>{{ c.name }} <small>({{ c.category }})</small></h3>
<ul>
{% for p in c.purposes %}<li>Purpose: {{ p.name }} -- {{ p.description }}
(legal basis: {{ p.legal_basis|replace("_", " ") }}{% if p.legitimate_interest %}:
{{ p.legitimate_interest }}{% endif %}{% if p.legal_obligation %}: {{ p.legal_obligation }}
{% endif %})</li>{% endfor %}
{% for r in c.recipients %}<li>Recipient: {{ r.name }} ({{ r.kind|replace("_", " ") }},
{{ r.countries|join(", ") }}{% if r.safeguard != "none" %}, safeguard: {{ r.safeguard }}
{% endif %})</li>{% endfor %}
{% for r in c.retention %}<li>Kept: {{ r.period }} from {{ r.from }}, then {{ r.action }}d
{% for x in r.exceptions %}; except {{ x.ground }}{% endfor %}</li>{% endfor %}
{% if c.sources %}<li>Source: {{ c.sources|join(", ")|replace("_", " ") }}
{% if c.source_detail %} ({{ c.source_detail }}){% endif %}</li>{% endif %}
</ul>
{% endfor %}
""")
_TAIL = _ENV.from_string("""{% if e.restrictions %}<h2>Restrictions and objections in force</h2><ul>
{% for r in e.restrictions %}<li>{{ r.kind }} ({{ r.scope }}) since {{ r.since }}:
{{ r.reason }}</li>{% endfor %}</ul>{% endif %}
{% if e.disclosures %}<h2>Disclosures to recipients</h2><table>
<tr><th>when</th><th>recipient</th><th>purpose</th><th>categories</th><th>legal basis</th></tr>
{% for d in e.disclosures %}<tr><td>{{ d.at }}</td><td>{{ d.recipient }}</td>
<td>{{ d.purpose }}</td><td>{{ d.categories|join(", ") }}</td><td>{{ d.legal_basis }}</td></tr>
{% endfor %}</table>{% endif %}
""")
_RIGHTS = _ENV.from_string("""<h2>Your rights</h2>
<p>You may ask us to {{ rights.honoured|join(", ")|replace("_", " ") }}.
You may complain to {{ rights.supervisory_authority.name }}
{% if rights.supervisory_authority.url %}({{ rights.supervisory_authority.url }}){% endif %}.
</p></body></html>
""")
def render_html(export: Mapping[str, Any]) -> str:
    tables = Markup(_tables(export["data"]))  # noqa: S704 - _tables escapes every value
    head = _HEAD.render(e=export, redacted=REDACTED, tables=tables)
    why: str = _made_once(export["categories"], "html",
                          lambda: _WHY.render(categories=export["categories"]))
    tail = _TAIL.render(e=export)
    rights_html: str = _made_once(export["rights"], "html",
                                  lambda: _RIGHTS.render(rights=export["rights"]))
    return head + why + tail + rights_html


_REDACTED_CELL = f'<td class="r">{escape(REDACTED)}</td>'


def _tables(groups: Sequence[Mapping[str, Any]]) -> str:
    """One table per collection, a row per record: cells written directly (a template
    loop per cell cost more than the rest of the summary)."""
    out: list[str] = []
    for g in groups:
        fields = g["fields"]
        out.append(f"<h3>{escape(g['store'])} / {escape(g['collection'])} "
                   f"({len(g['rows'])})</h3>\n<table><tr>")
        out.extend(f"<th>{escape(f)}</th>" for f in fields)
        out.append("</tr>\n")
        for row in g["rows"]:
            out.append("<tr>")
            for f in fields:
                v = row[f]
                out.append(_REDACTED_CELL if v == REDACTED
                           else f"<td>{escape('' if v is None else v)}</td>")
            out.append("</tr>\n")
        out.append("</table>\n")
    return "".join(out)
