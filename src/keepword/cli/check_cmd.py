"""``keepword check``: policy x data map x live stores."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from keepword.check import CheckReport, run_check
from keepword.cli.common import JsonOption, console, print_json, report_errors
from keepword.deployment import load_deployment
from keepword.errors import Problem

DataDirOption = typer.Option(None, "--data-dir",
                             help="Folder that relative SQLite file paths are resolved "
                                  "against (default: the current folder).")


DeploymentArgument = typer.Argument(..., help="Deployment folder: policy.yaml and datasets/.")


@report_errors
def check(path: Path = DeploymentArgument,
          data_dir: Path | None = DataDirOption,
          as_json: bool = JsonOption) -> None:
    """Check that policy, data map and live stores agree. Exit 2 on any error."""
    deployment = load_deployment(path, data_dir=data_dir)
    try:
        report = run_check(deployment)
    finally:
        deployment.close()
    if as_json:
        print_json(report.as_dict())
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(2)


def _short(file: str | None) -> str:
    """A path relative to the current folder when it is below it (tables stay narrow)."""
    if not file:
        return ""
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def _problems_table(title: str, problems: list[Problem], style: str) -> Table:
    table = Table("where", "field", "problem", title=title, title_style=style,
                  title_justify="left")
    for p in problems:
        loc = p.location
        where = f"{_short(loc.file)}:{loc.line or ''}:{loc.column or ''}".rstrip(":")
        table.add_row(where, loc.field_path(), p.message)
    return table


def _print(report: CheckReport) -> None:
    if report.errors:
        console.print(_problems_table(f"{len(report.errors)} error(s)", report.errors,
                                      "bold red"))
    if report.warnings:
        console.print(_problems_table(f"{len(report.warnings)} warning(s)", report.warnings,
                                      "yellow"))
    c = report.counts
    enforced = sum(p.enforced for p in report.promises)
    console.print(f"{report.deployment}: {c.stores} store(s), {c.collections} collection(s), "
                  f"{c.fields} field(s) ({c.personal_fields} personal); promises enforced "
                  f"{enforced}/{len(report.promises)}", highlight=False)
    verdict = ("[bold red]check failed[/]" if report.errors
               else "[green]check passed: no errors[/]")
    console.print(verdict)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
