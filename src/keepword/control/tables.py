"""Imports every module that defines control-store tables, so ``Base.metadata``
is complete for Alembic and for the models-match-migrations test.
Add a line here when a concept gets tables of its own."""

from keepword import audit, subject_state  # noqa: F401
from keepword.consent import tables as consent_tables  # noqa: F401
from keepword.control.base import Base
from keepword.requests import claims, journal, lifecycle  # noqa: F401

metadata = Base.metadata
