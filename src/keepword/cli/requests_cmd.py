"""``keepword request ...`` (make a request) and ``keepword requests ...`` (manage them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from keepword.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    print_json,
    report_errors,
    runtime,
)
from keepword.deployment import load_deployment
from keepword.errors import InputError, Location, Problem
from keepword.requests import service
from keepword.requests.imports import import_requests
from keepword.requests.lifecycle import Kind
from keepword.requests.rectify import parse_sets

request_app = typer.Typer(help="Make a data subject request (access, export, erase, rectify, "
                               "restrict, object).", no_args_is_help=True)
requests_app = typer.Typer(help="Manage data subject requests: list, show, import, verify, "
                                "run, resume, approve, deny, extend.", no_args_is_help=True)

PathArgument = typer.Argument(..., help="Deployment folder: policy.yaml and datasets/.")
IdentityOption = typer.Option(..., "--identity", "-i",
                              help="TYPE=VALUE, e.g. email=ana@example.org (repeatable).")
RegulationOption = typer.Option("gdpr", "--regulation", help="gdpr or ccpa (sets the deadline).")
VerifiedOption = typer.Option(False, "--verified",
                              help="The operator has verified the subject's identity: run now. "
                                   "Without it the request waits for `keepword requests verify`.")
DryRunOption = typer.Option(False, "--dry-run",
                            help="Show the plan and the rows it would touch; change nothing.")
DataDirOption = typer.Option(None, "--data-dir",
                             help="Folder that relative SQLite paths resolve against.")
ReasonOption = typer.Option(None, "--reason", help="Why (recorded; required where noted).")
LiftOption = typer.Option(False, "--lift", help="Lift the restriction or objection instead.")
SetOption = typer.Option(..., "--set", help="FIELD=VALUE: an identity type (email), a category "
                                            "or collection.field (repeatable).")
PurposeOption = typer.Option(None, "--purpose", help="Purpose key objected to (default: every "
                                                     "legitimate-interest purpose, '*').")
OptionalPath = typer.Argument(None, help="Only this deployment's requests.")
CsvArgument = typer.Argument(..., help="CSV: a header of identity types (email,phone,...), "
                                       "one subject a row.")
ImportKindOption = typer.Option(..., "--kind", help="access, export or erase.")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar per stage (walk, export, apply) on stderr."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield tick


def _make(kind: Kind, path: Path, identity: list[str], *, regulation: str, verified: bool,
          dry_run: bool, data_dir: Path | None, home: Path | None, as_json: bool,
          **extra: Any) -> None:
    pairs = service.parse_identity_args(identity)
    dep = load_deployment(path, data_dir=data_dir)
    try:
        with runtime(home) as kw, _progress(not as_json) as tick:
            result = service.run_request(kw, dep, kind, pairs, verified=verified,
                                         dry_run_only=dry_run, regulation=regulation,
                                         progress=tick, **extra)
    finally:
        dep.close()
    _print(result, as_json)
    if result.status in ("failed", "denied"):
        raise typer.Exit(1)


@request_app.command("access")
@report_errors
def access(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
           regulation: str = RegulationOption, verified: bool = VerifiedOption,
           dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
           home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Access (Art. 15): a ZIP with the subject's data, why it is held, and their rights."""
    _make(Kind.ACCESS, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json)


@request_app.command("export")
@report_errors
def export(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
           regulation: str = RegulationOption, verified: bool = VerifiedOption,
           dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
           home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Portability (Art. 20): the same ZIP, machine-readable JSON and CSV."""
    _make(Kind.PORTABILITY, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json)


@request_app.command("erase")
@report_errors
def erase(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
          regulation: str = RegulationOption, verified: bool = VerifiedOption,
          dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
          home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Erasure (Art. 17): per-field strategies, journaled, then proven."""
    _make(Kind.ERASURE, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json)


@request_app.command("rectify")
@report_errors
def rectify(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
            sets: list[str] = SetOption,
            regulation: str = RegulationOption, verified: bool = VerifiedOption,
            dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
            home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Rectification (Art. 16): new values wherever the subject's field is stored."""
    _make(Kind.RECTIFICATION, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json,
          changes=parse_sets(sets))


@request_app.command("restrict")
@report_errors
def restrict(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
             reason: str | None = ReasonOption, lift: bool = LiftOption,
             regulation: str = RegulationOption, verified: bool = VerifiedOption,
             dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
             home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Restriction (Art. 18, e.g. during a dispute): all processing but storage stops."""
    _make(Kind.RESTRICTION, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json, reason=reason,
          lift=lift)


@request_app.command("object")
@report_errors
def object_(*, path: Path = PathArgument, identity: list[str] = IdentityOption,
            reason: str | None = ReasonOption, lift: bool = LiftOption,
            purpose: str | None = PurposeOption,
            regulation: str = RegulationOption, verified: bool = VerifiedOption,
            dry_run: bool = DryRunOption, data_dir: Path | None = DataDirOption,
            home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Objection (Art. 21) to one purpose or to all legitimate-interest processing."""
    _make(Kind.OBJECTION, path, identity, regulation=regulation, verified=verified,
          dry_run=dry_run, data_dir=data_dir, home=home, as_json=as_json, reason=reason,
          lift=lift, scope=purpose)


@requests_app.command("list")
@report_errors
def list_(status: str | None = typer.Option(None, "--status", help="Only this status."),
          limit: int = typer.Option(100, help="How many (newest first)."),
          home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Requests, newest first: id, kind, status, due date."""
    with runtime(home) as kw:
        rows = service.list_requests(kw, status=status, limit=limit)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table("id", "kind", "status", "due", "reason")
    for r in rows:
        table.add_row(r.id or "", r.kind, r.status, (r.due_at or "")[:10], r.reason or "")
    console.print(table)


@requests_app.command("show")
@report_errors
def show(request_id: str, home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """One request: status, rows found, outcome, proof."""
    with runtime(home) as kw:
        result = service.show(kw, request_id)
    _print(result, as_json)


@requests_app.command("verify")
@report_errors
def verify(request_ids: list[str], home: Path | None = HomeOption,
           as_json: bool = JsonOption) -> None:
    """Mark the subjects' identities verified: the requests may run (several ids: all in
    one transaction, or none)."""
    with runtime(home) as kw:
        if len(request_ids) == 1:
            _print(service.verify(kw, request_ids[0]), as_json)
            return
        results = service.verify_many(kw, request_ids)
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    for r in results:
        _print(r, False)


def _run(path: Path | None, data_dir: Path | None, home: Path | None, as_json: bool, *,
         resume: bool) -> None:
    dep = load_deployment(path, data_dir=data_dir) if path else None
    swept: list[str] = []
    try:
        with runtime(home) as kw, _progress(not as_json) as tick:
            results = service.run(kw, deployment=dep, resume=resume, progress=tick)
            if resume:  # what a killed process may have left in the exports folder
                swept = service.sweep_exports(kw)
    finally:
        if dep is not None:
            dep.close()
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    if swept:
        console.print(f"removed {len(swept)} export file(s) that no recorded request names "
                      "(left by an interrupted access)")
    if not results:
        console.print("nothing to run")
    for r in results:
        _print(r, False)


IMPORT_KINDS = {"access": Kind.ACCESS, "export": Kind.PORTABILITY, "erase": Kind.ERASURE}


@requests_app.command("import")
@report_errors
def import_(*, path: Path = PathArgument, file: Path = CsvArgument,
            kind: str = ImportKindOption, regulation: str = RegulationOption,
            verified: bool = VerifiedOption, data_dir: Path | None = DataDirOption,
            home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Record one request per row of a CSV file, all in one transaction (or none)."""
    if kind not in IMPORT_KINDS:
        raise InputError(Problem("--kind must be one of: " + ", ".join(IMPORT_KINDS),
                                 Location(path=("kind",)), code="bad_kind"))
    dep = load_deployment(path, data_dir=data_dir)
    try:
        with runtime(home) as kw:
            ids = import_requests(kw, dep, IMPORT_KINDS[kind], file, verified=verified,
                                  regulation=regulation)
    finally:
        dep.close()
    status = "verified" if verified else "received"
    if as_json:
        print_json({"status": status, "requests": ids})
        return
    console.print(f"recorded {len(ids)} {IMPORT_KINDS[kind].value} requests ({status})"
                  + ("; `keepword requests run` executes them" if verified else
                     "; `keepword requests verify ID...` once each subject is verified, then "
                     "`keepword requests run`"))


@requests_app.command("run")
@report_errors
def run(*, path: Path | None = OptionalPath,
        data_dir: Path | None = DataDirOption, home: Path | None = HomeOption,
        as_json: bool = JsonOption) -> None:
    """Execute every verified request, batched by deployment and kind."""
    _run(path, data_dir, home, as_json, resume=False)


@requests_app.command("resume")
@report_errors
def resume(*, path: Path | None = OptionalPath,
           data_dir: Path | None = DataDirOption, home: Path | None = HomeOption,
           as_json: bool = JsonOption) -> None:
    """Finish interrupted or paused requests from their journal (and run verified ones)."""
    _run(path, data_dir, home, as_json, resume=True)


@requests_app.command("approve")
@report_errors
def approve(request_id: str,
            reason: str = typer.Option(..., "--reason", help="The administrator's reason."),
            deny: bool = typer.Option(False, "--deny", help="The administrator refuses."),
            home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Record the organisation administrator's decision on a managed account's request."""
    with runtime(home) as kw:
        _print(service.approve(kw, request_id, approved=not deny, reason=reason), as_json)


@requests_app.command("deny")
@report_errors
def deny_(request_id: str, reason: str = typer.Option(..., "--reason", help="Why."),
          home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Refuse a request (e.g. the identity could not be verified), with the reason."""
    with runtime(home) as kw:
        _print(service.deny(kw, request_id, reason), as_json)


@requests_app.command("extend")
@report_errors
def extend(request_id: str, reason: str = typer.Option(..., "--reason", help="Why."),
           home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Extend the deadline once (GDPR: +2 months; CCPA: +45 days), recording why."""
    with runtime(home) as kw:
        _print(service.extend(kw, request_id, reason), as_json)


def _print(result: service.RequestResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    style = {"completed": "green", "failed": "bold red", "denied": "red"}.get(result.status,
                                                                            "yellow")
    head = f"[{style}]{result.status}[/] {result.kind}"
    head += f" {result.id}" if result.id else ""
    head += f" due {result.due_at[:10]}" if result.due_at else ""
    console.print(head, highlight=False)
    if result.reason:
        console.print(f"  reason: {result.reason}", highlight=False)
    if result.found:
        table = Table("collection", "rows", title="found", title_justify="left")
        for name, n in sorted(result.found.items()):
            table.add_row(name, str(n))
        console.print(table)
    if result.plan:
        table = Table("step", "collection", "statement", "rows", "fields", title="plan",
                      title_justify="left")
        for i, step in enumerate(result.plan, 1):
            table.add_row(str(i), step["collection"], step["op"], str(step["rows"]),
                          ", ".join(step["fields"]))
        console.print(table)
    _print_outcome(result)


def _print_outcome(result: service.RequestResult) -> None:
    if result.export:
        console.print(f"  export: {result.export}", highlight=False)
    out = result.outcome or {}
    for label in ("deleted", "updated", "kept_for_others"):
        if out.get(label):
            items = ", ".join(f"{k} {v}" for k, v in sorted(out[label].items()))
            console.print(f"  {label.replace('_', ' ')}: {items}", highlight=False)
    for kept in out.get("kept", []):
        console.print(f"  kept: {kept['collection']}.{kept['field']} ({kept['rows']} rows) "
                      f"under {kept['exception']}: {kept['ground']}", highlight=False)
    if result.proof is not None:
        verdict = "[green]proof: nothing left[/]" if result.proof["ok"] else (
            "[bold red]proof: personal data remains[/]")
        console.print("  " + verdict)
        for left in result.proof.get("residual", []) + result.proof.get("unapplied", []):
            console.print(f"    {left}", highlight=False)
    if result.administrator:
        console.print(f"  administrator: {result.administrator}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
    app.add_typer(requests_app, name="requests")
