"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from keepword.control import ControlStore
from keepword.control.store import alembic_config
from keepword.control.tables import metadata


def test_migrations_match_models(control: ControlStore) -> None:
    with control.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_one_linear_history(control: ControlStore) -> None:
    script = ScriptDirectory.from_config(alembic_config(control.engine))
    assert len(script.get_heads()) == 1, "migrations branch: give the newer one a down_revision"
    assert control.current_revision() == script.get_current_head()


def test_reopening_is_idempotent(control_url: str) -> None:
    first = ControlStore.open(control_url)
    first.dispose()
    again = ControlStore.open(control_url)
    assert again.current_revision() == again.head_revision()
    again.dispose()
