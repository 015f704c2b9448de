"""Shared plumbing of the CLI: error reporting, JSON output, the runtime context."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from keepword.errors import InputError, KeepwordError, driver_error
from keepword.runtime import Keepword
from keepword.settings import load_settings

P = ParamSpec("P")
R = TypeVar("R")

class _Console(Console):
    """Rich reads ``COLUMNS`` once, when the console is made (here: at import); this
    one measures the terminal at each use, so the invocation's environment counts."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._width = self._height = None


console = _Console()
err_console = _Console(stderr=True)


def report_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn keepword errors into a clear message and exit code; never a traceback."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            for problem in exc.problems:
                err_console.print(f"[bold red]error[/] {problem}", highlight=False,
                                  soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeepwordError as exc:
            err_console.print(f"[bold red]error[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except SQLAlchemyError as exc:
            # A driver's message can quote bound parameters: personal data. Name the
            # error only, unless the operator asks for the details.
            if os.environ.get("KEEPWORD_DEBUG"):
                raise
            err_console.print(f"[bold red]error[/] a database answered {driver_error(exc)}; "
                              "details withheld as they may hold personal data "
                              "(KEEPWORD_DEBUG=1 shows them)", highlight=False, soft_wrap=True)
            raise typer.Exit(3) from None

    return wrapper


def write_output(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out``, or to standard output when no file is given."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError.at(f"cannot write the file ({type(exc).__name__})", out) from None
    err_console.print(f"wrote {out}", highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def runtime(home: Path | None = None) -> Iterator[Keepword]:
    kw = Keepword(load_settings(home=home))
    try:
        yield kw
    finally:
        kw.close()


HomeOption = typer.Option(None, "--home", envvar="KEEPWORD_HOME",
                          help="Work folder holding the control store and key "
                               "(default ./.keepword).")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
