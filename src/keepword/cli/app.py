"""The ``keepword`` command: sub-commands are registered from their own modules."""

from __future__ import annotations

import typer

from keepword.cli import (
    audit_cmd,
    check_cmd,
    datamap_cmd,
    decide_cmd,
    demo_cmd,
    docs_cmd,
    requests_cmd,
)

app = typer.Typer(
    name="keepword",
    help="Make a privacy policy executable: check it, fulfil requests, prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (audit_cmd, demo_cmd, check_cmd, datamap_cmd, docs_cmd, decide_cmd,
               requests_cmd):
    module.register(app)


def main() -> None:
    app()
