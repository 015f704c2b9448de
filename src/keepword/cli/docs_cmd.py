"""``keepword notice`` and ``keepword ropa``: documents generated from the policy."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from keepword.cli.common import err_console, report_errors
from keepword.errors import InputError
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


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError.at(f"cannot write the file ({type(exc).__name__})", out) from None
    err_console.print(f"wrote {out}", highlight=False)


@report_errors
def notice(path: Path = PathArgument,
           fmt: NoticeFormat = NoticeFormatOption,
           out: Path | None = OutOption) -> None:
    """Render the policy as a privacy notice (GDPR Art. 13/14)."""
    loaded = load_policy(path)
    text = render_notice(loaded.policy, fmt.value, version=short_version(loaded.version))
    _write(text, out)


@report_errors
def ropa(path: Path = PathArgument,
         fmt: RopaFormat = RopaFormatOption,
         out: Path | None = OutOption) -> None:
    """Write the GDPR Art. 30 record of processing activities, one record per purpose."""
    loaded = load_policy(path)
    text = (ropa_csv(loaded.policy) if fmt is RopaFormat.CSV
            else ropa_json(loaded.policy, loaded.version))
    _write(text, out)


def register(app: typer.Typer) -> None:
    app.command("notice")(notice)
    app.command("ropa")(ropa)
