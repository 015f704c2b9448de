"""``column IN (many values)``, written the way each backend runs it best.

A batch looks rows up by chunks of hundreds of keys. An expanding ``IN`` list
renders one bind parameter per value: SQLAlchemy rewrites the statement for
every chunk, and psycopg re-parses such long statements each time (they are
too long for its query cache) -- milliseconds per statement, more than the
database spends running it. On PostgreSQL the same test is ``col = ANY(:a)``
with one array parameter: the statement text never changes, so it is compiled
once, cached by the driver and prepared by the server. Text keys (emails,
request ids) go as one JSON document instead (``col = ANY(ARRAY(SELECT
json_array_elements_text(:j)))``): psycopg quotes a text array element by
element, which cost three times the lookup itself for 5,000 keys. Other
backends keep the expanding ``IN``; a column of undeclared type (no array type
to cast to) too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from keepword import jsoncodec


def uses_arrays(dialect_name: str) -> bool:
    return dialect_name == "postgresql"


class JsonList(sa.types.TypeDecorator[list[Any]]):
    """A list bound as one JSON text (see ``member_of``)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else jsoncodec.dumps_text(list(value))


def member_of(column: ColumnElement[Any], name: str, dialect_name: str) -> ColumnElement[bool]:
    """``column`` is one of the values bound to ``name`` (a list, at execution)."""
    if uses_arrays(dialect_name) and isinstance(column.type, sa.String):
        keys = sa.cast(sa.bindparam(name, type_=JsonList()), postgresql.JSON)
        # ANY(ARRAY(subquery)), not IN (subquery): a prepared (generic) plan still
        # takes the index, as it does for an array parameter
        found = sa.select(sa.func.json_array_elements_text(keys)).scalar_subquery()
        return column == sa.any_(sa.func.array(found))
    if uses_arrays(dialect_name) and not isinstance(column.type, sa.types.NullType):
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


CHUNK = 500  # values per statement: well under every backend's parameter limit
ARRAY_CHUNK = 5000  # values per array parameter (one parameter, however long)
T = TypeVar("T")


def chunk_for(dialect_name: str) -> int:
    """Values per statement on this backend: arrays take many more than ``IN`` lists."""
    return ARRAY_CHUNK if uses_arrays(dialect_name) else CHUNK


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` values."""
    for i in range(0, len(values), size):
        yield list(values[i:i + size])
