"""``keepword demo``: both example companies, end to end, on SQLite."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from keepword.cli.common import JsonOption, console, print_json, report_errors
from keepword.demo import (
    EXAMPLES,
    CompanyDemo,
    DemoContext,
    consent_step,
    demo_runtime,
    requests_step,
    run_company,
)


def _summary(demo: CompanyDemo) -> Panel:
    report, counts = demo.report, demo.report.counts
    grid = Table.grid(padding=(0, 2))
    grid.add_row(
        f"[bold]{counts.stores}[/] stores  [bold]{counts.collections}[/] collections  "
        f"[bold]{counts.fields}[/] fields ([bold]{counts.personal_fields}[/] personal)  "
        f"policy {report.policy_version[7:19]}  data map {report.datamap_version[7:19]}")
    status = ("[green]check passed[/]" if report.ok else
              f"[red]check failed: {len(report.errors)} errors[/]")
    grid.add_row(f"{status} ({len(report.warnings)} warnings)")

    cats = Table("data category", "rows", title="Rows per data category", title_justify="left")
    for cat, n in sorted((report.counts.rows_per_category or {}).items()):
        cats.add_row(cat, f"{n:,}")
    policy_purposes = Table("purpose", "legal basis", title="Purposes", title_justify="left")
    for key, basis in demo.sections.get("purposes", []):
        policy_purposes.add_row(key, basis)
    promises = Table("promise", "source", "enforced", title="Promises", title_justify="left")
    promises.columns[1].max_width = 22
    promises.columns[1].no_wrap = True
    promises.columns[1].overflow = "ellipsis"
    for p in report.promises:
        mark = "[green]yes[/]" if p.enforced else f"[yellow]not yet[/] ({p.reason})"
        promises.add_row(p.id, p.source, mark)
    files = ", ".join(str(path) for path in demo.files.values())
    body = Table.grid()
    for part in (grid, cats, policy_purposes, promises, _consent_table(demo),
                 _requests_table(demo)):
        body.add_row(part)
    body.add_row(f"[dim]written: {files}[/]")
    return Panel(body, title=f"[bold]{demo.name}[/]", title_align="left")


def _consent_table(demo: CompanyDemo) -> Table:
    table = Table("scene", "keepword's answer", "as promised",
                  title="Consent and the decision point", title_justify="left")
    for scene in demo.sections.get("consent", []):
        decision = scene["decision"]
        if decision is None:
            table.add_row(scene["label"], "[dim]recorded[/]", "")
            continue
        colour = "green" if decision["allowed"] else "red"
        why = "; ".join(r["message"] for r in decision["reasons"][:2])
        answer = f"[{colour}]{decision['decision']}[/]" + (f" [dim]{why}[/]" if why else "")
        table.add_row(scene["label"], answer, "[green]yes[/]" if scene["kept"] else "[red]NO[/]")
    return table


def _requests_table(demo: CompanyDemo) -> Table:
    table = Table("request", "result", "as promised", title="Data subject requests",
                  title_justify="left")
    for scene in demo.sections.get("requests", []):
        colour = "green" if scene["status"] == "completed" else "yellow"
        table.add_row(scene["label"], f"[{colour}]{scene['status']}[/] {scene['summary']}",
                      "[green]yes[/]" if scene["kept"] else "[red]NO[/]")
    return table


def _purposes_section(ctx: DemoContext) -> None:
    ctx.company.sections["purposes"] = [
        (k, p.legal_basis.value) for k, p in ctx.deployment.policy.policy.purposes.items()]


def demo(
    out: Annotated[Path, typer.Option(help="Work folder for the generated databases and files.")
                   ] = Path("keepword-demo"),
    size: Annotated[int, typer.Option(min=1, max=1_000_000,
                                      help="Customers per generated database.")] = 200,
    as_json: bool = JsonOption,
) -> None:
    """Build both example deployments, check them and show what keepword keeps."""
    run = report_errors(_run)
    run(out, size, as_json)


def _run(out: Path, size: int, as_json: bool) -> None:
    results = []
    runtime = demo_runtime(out)
    for key in EXAMPLES:
        status: AbstractContextManager[Any] = (nullcontext() if as_json else
                  console.status(f"building the {key} deployment ({size} customers)..."))
        with status:
            results.append(run_company(key, out, runtime, size=size,
                                       steps=[_purposes_section, consent_step, requests_step]))
    runtime.close()
    if as_json:
        print_json([d.as_dict() for d in results])
    else:
        for d in results:
            console.print(_summary(d))
    if not all(d.report.ok and d.kept() for d in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
