"""A database error that escapes a command never prints its parameters."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from keepword.cli.common import report_errors


@report_errors
def _insert_twice() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (email TEXT PRIMARY KEY)"))
        for _ in range(2):
            conn.execute(text("INSERT INTO t VALUES (:e)"), {"e": "ada@example.com"})


def test_driver_error_is_named_without_its_parameters(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEPWORD_DEBUG", raising=False)
    with pytest.raises(typer.Exit) as info:
        _insert_twice()
    assert info.value.exit_code == 3
    err = capsys.readouterr().err
    assert "IntegrityError" in err and "ada@example.com" not in err


def test_debug_shows_the_real_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPWORD_DEBUG", "1")
    with pytest.raises(SQLAlchemyError):
        _insert_twice()
