"""``column IN (many values)``, written the way each backend runs it best.

A batch looks rows up by chunks of thousands of keys. An expanding ``IN`` list
renders one bind parameter per value: SQLAlchemy rewrites the statement and
builds every parameter at each execution (on SQLite that bookkeeping cost more
than the lookups), and psycopg re-parses such long statements each time (they
are too long for its query cache). So where the backend can, the whole set is
one parameter and the statement text never changes (compiled once, cached,
prepared by the server):

- PostgreSQL: ``col = ANY(:a)`` with one array parameter (integers sent as the
  array's text, ``{1,2,3}``, which the server parses far faster than psycopg
  dumps a list). Text keys (emails, request ids) go as one JSON document
  instead (``col = ANY(ARRAY(SELECT json_array_elements_text(:j)))``): psycopg
  quotes a text array element by element, which cost three times the lookup
  itself for 5,000 keys.
- SQLite: ``col IN (SELECT value FROM json_each(:j))`` for integer columns, and
  for keepword's own text identifiers (request ids); SQLite still searches the
  column's index once per value. An ``UPDATE`` joins the set as its ``FROM``
  instead (``update_members``). Text read from a store keeps the ``IN`` list
  there: SQLite's JSON reader cuts a text at a NUL character.

Other backends, and columns whose values JSON would not carry exactly (dates,
decimals, an undeclared type), keep the expanding ``IN``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from keepword import jsoncodec


def binds_set(column: ColumnElement[Any], dialect_name: str, *, own_text: bool = False
              ) -> bool:
    """Whether ``member_of`` binds this column's values as one parameter here.
    ``own_text``: the values are keepword's own identifiers (request ids), never a NUL
    -- SQLite's JSON reader cuts a text at a NUL, so a stored text key holding one would
    be missed: store text goes as an ``IN`` list there."""
    kind = column.type
    if dialect_name == "postgresql":
        return not isinstance(kind, sa.types.NullType)
    if dialect_name == "sqlite":
        return isinstance(kind, sa.Integer) or (
            own_text and isinstance(kind, sa.String) and not isinstance(kind, sa.Enum))
    return False


class IntArrayText(sa.types.TypeDecorator[list[int]]):
    """A list of integers bound as the text of a PostgreSQL array (``{1,2,3}``), cast by
    the server: psycopg dumps a list element by element in Python (~2 us each), the
    server parses the text in C."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: list[int] | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        plain = set(map(type, value)) <= {int}  # checked at C speed; else one by one
        return "{" + ",".join(map(str if plain else _int_text, value)) + "}"


def _int_text(value: int) -> str:
    if type(value) is not int:  # bools, and numbers stored as text or floats
        value = int(value)
    return str(value)


class JsonList(sa.types.TypeDecorator[list[Any]]):
    """A list bound as one JSON text (see ``member_of``)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else jsoncodec.dumps_text(list(value))


def member_of(column: ColumnElement[Any], name: str, dialect_name: str, *,
              own_text: bool = False) -> ColumnElement[bool]:
    """``column`` is one of the values bound to ``name`` (a list, at execution);
    ``own_text``: see ``binds_set``."""
    if not binds_set(column, dialect_name, own_text=own_text):
        return column.in_(sa.bindparam(name, expanding=True))
    if dialect_name == "sqlite":
        return column.in_(_each_value(name, dialect_name))
    if isinstance(column.type, sa.String):
        # ANY(ARRAY(subquery)), not IN (subquery): a prepared (generic) plan still
        # takes the index, as it does for an array parameter
        found = _each_value(name, dialect_name).scalar_subquery()
        return column == sa.any_(sa.func.array(found))
    if isinstance(column.type, sa.Integer):
        keys = sa.cast(sa.bindparam(name, type_=IntArrayText()), postgresql.ARRAY(column.type))
        return column == sa.any_(keys)
    return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))


def select_members(columns: Sequence[ColumnElement[Any]], table: sa.Table,
                   column: ColumnElement[Any], name: str, dialect_name: str, *,
                   own_text: bool = False, join: bool = False) -> sa.Select[Any]:
    """``SELECT columns FROM table WHERE column`` is one of the values bound to ``name``
    (see ``member_of``). ``join`` (on SQLite, for a column an index leads with): the set
    is joined (``FROM json_each(:name) JOIN table ON column = value``), skipping the
    temporary index an ``IN (SELECT ...)`` builds of the values first; the values must
    then be distinct (a value given twice finds its rows twice), and rows come in the
    order of the values. Without an index SQLite would scan the table once per value."""
    if join and dialect_name == "sqlite" and binds_set(column, dialect_name,
                                                       own_text=own_text):
        keys = sa.bindparam(name, type_=JsonList())
        each = sa.func.json_each(keys).table_valued("value").alias("kw_set")
        return sa.select(*columns).select_from(each.join(table, column == each.c.value))
    return sa.select(*columns).where(member_of(column, name, dialect_name, own_text=own_text))


def update_members(table: sa.Table, column: ColumnElement[Any], name: str, dialect_name: str,
                   *, own_text: bool = False) -> sa.Update:
    """``UPDATE table ... WHERE column`` is one of the values bound to ``name`` (see
    ``member_of``). On SQLite the set is joined as the statement's ``FROM`` (``UPDATE ...
    FROM json_each(:name) WHERE column = value``): there, an ``IN (SELECT ...)`` first
    builds a temporary index of the values and cost nearly twice as much for thousands
    of rows. A row matched twice is still updated once."""
    if dialect_name == "sqlite" and binds_set(column, dialect_name, own_text=own_text):
        keys = sa.bindparam(name, type_=JsonList())
        each = sa.func.json_each(keys).table_valued("value").alias("kw_set")
        return sa.update(table).where(column == each.c.value)
    return sa.update(table).where(member_of(column, name, dialect_name, own_text=own_text))


def text_rows(name: str, dialect_name: str) -> sa.Select[Any] | None:
    """``SELECT value`` of each text bound to ``name`` (a list, at execution), for an
    ``INSERT ... SELECT`` of many rows that differ by one text column; ``None`` where the
    backend has no such set parameter (use an executemany)."""
    return _each_value(name, dialect_name) if dialect_name in ("sqlite", "postgresql") else None


def _each_value(name: str, dialect_name: str) -> sa.Select[Any]:
    """``SELECT`` each value of the JSON list bound to ``name`` (SQLite: as JSON typed it;
    PostgreSQL: as text)."""
    keys = sa.bindparam(name, type_=JsonList())
    if dialect_name == "sqlite":
        return sa.select(sa.func.json_each(keys).table_valued("value").c.value)
    return sa.select(sa.func.json_array_elements_text(sa.cast(keys, postgresql.JSON)))


CHUNK = 500  # values per expanding IN list: well under every backend's parameter limit
SET_CHUNK = 5000  # values per set parameter (one parameter, however long)
T = TypeVar("T")


def chunk_for(column: ColumnElement[Any], dialect_name: str, *, own_text: bool = False
              ) -> int:
    """Values per statement for ``member_of(column, ...)`` here: a set parameter takes many
    more than an ``IN`` list."""
    return SET_CHUNK if binds_set(column, dialect_name, own_text=own_text) else CHUNK


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` values."""
    for i in range(0, len(values), size):
        yield list(values[i:i + size])
