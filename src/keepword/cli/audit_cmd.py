"""``keepword audit verify|show|head``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from keepword.cli.common import HomeOption, JsonOption, console, print_json, report_errors, runtime

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
@report_errors
def verify(home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Check every entry of the hash chain; exit 1 naming the first bad entry."""
    with runtime(home) as kw, kw.control.engine.connect() as conn:
        result = kw.audit.verify(conn)
    if as_json:
        print_json({"ok": result.ok, "checked": result.checked, "head": result.head_seq,
                    "first_bad": result.first_bad, "reason": result.reason})
    else:
        style = "green" if result.ok else "bold red"
        console.print(f"[{style}]{result}[/]", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("head")
@report_errors
def head(home: Path | None = HomeOption) -> None:
    """Print the last sequence number and digest (keep a copy elsewhere as an anchor)."""
    with runtime(home) as kw, kw.control.engine.connect() as conn:
        seq, digest = kw.audit.head(conn)
    console.print(f"{seq} {digest.hex()}", highlight=False)


@audit_app.command("show")
@report_errors
def show(home: Path | None = HomeOption, limit: int = typer.Option(50, help="How many."),
         after: int = typer.Option(0, help="Start after this sequence number."),
         object_id: str | None = typer.Option(None, "--object", help="Only this object id."),
         as_json: bool = JsonOption) -> None:
    """List audit entries (they hold no raw personal data)."""
    with runtime(home) as kw, kw.control.engine.connect() as conn:
        rows = list(kw.audit.entries(conn, after=after, limit=limit, object_id=object_id))
    if as_json:
        print_json(rows)
        return
    table = Table("seq", "at", "actor", "action", "object", "details")
    for r in rows:
        obj = ":".join(str(x) for x in r["object"] if x)
        table.add_row(str(r["seq"]), r["at"][:19], r["actor"], r["action"], obj,
                      _details(r["details"]))
    console.print(table)


def _details(details: dict[str, object]) -> str:
    """One line; a batch's entry counts its requests (``--object ID`` shows one's part)."""
    return ", ".join(f"{k}={len(v)} (--object ID for one)" if k == "requests"
                     and isinstance(v, dict) else f"{k}={v}" for k, v in details.items())


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
