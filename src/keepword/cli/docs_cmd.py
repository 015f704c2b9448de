"""``keepword notice`` and ``keepword ropa``: documents generated from the policy."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from keepword.cli.common import report_errors, write_output
from keepword.notice import render_notice
from keepword.policy import load_policy, short_version
from keepword.ropa import ropa_csv, ropa_json

PathArgument = typer.Argument(..., help="policy.yaml, or the deployment folder holding it.")
OutOption = typer.Option(None, "--out", help="Write to this file instead of standard output.")
NoticeFormatOption = typer.Option("md", "--format", help="Markdown or a standalone HTML page.")
RopaFormatOption = typer.Option("csv", "--format", help="CSV (one row per purpose) or JSON.")


class NoticeFormat(StrEnum):
    MD = "md"
    HTML = "html"


class RopaFormat(StrEnum):
    CSV = "csv"
    JSON = "json"



@report_errors
def notice(path: Path = PathArgument,
           fmt: NoticeFormat = NoticeFormatOption,
           out: Path | None = OutOption) -> None:
    """Render the policy as a privacy notice (GDPR Art. 13/14)."""
    loaded = load_policy(path)
    text = render_notice(loaded.policy, fmt.value, version=short_version(loaded.version))
    write_output(text, out)


@report_errors
def ropa(path: Path = PathArgument,
         fmt: RopaFormat = RopaFormatOption,
         out: Path | None = OutOption) -> None:
    """Write the GDPR Art. 30 record of processing activities, one record per purpose."""
    loaded = load_policy(path)
    text = (ropa_csv(loaded.policy) if fmt is RopaFormat.CSV
            else ropa_json(loaded.policy, loaded.version))
    write_output(text, out)


def register(app: typer.Typer) -> None:
    app.command("notice")(notice)
    app.command("ropa")(ropa)
