"""Build a real store whose tables match a data map (tests and benchmarks).

Options let a test make the live store differ from the data map on purpose:
drop a table or a column, add an unannotated column or table, or make a
column NOT NULL that the data map would erase to NULL.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
)
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeEngine

from keepword.datamap.models import Dataset, FieldType

TYPES: dict[FieldType | None, type[TypeEngine[object]] | TypeEngine[object]] = {
    None: String(200),
    FieldType.STRING: String(200),
    FieldType.INTEGER: Integer,
    FieldType.FLOAT: Float,
    FieldType.BOOLEAN: Boolean,
    FieldType.DATE: Date,
    FieldType.DATETIME: DateTime,
    FieldType.JSON: JSON,
    FieldType.BYTES: LargeBinary,
}


def metadata_for(ds: Dataset, *, skip_tables: Iterable[str] = (),
                 skip_columns: Iterable[str] = (), not_null: Iterable[str] = (),
                 extra_columns: Iterable[str] = (), extra_tables: Iterable[str] = ()
                 ) -> MetaData:
    """Tables of ``ds``; columns named ``table.column`` in the options."""
    skip_t, skip_c, nn = set(skip_tables), set(skip_columns), set(not_null)
    md = MetaData(schema=ds.store.schema_name)
    for tname, coll in ds.collections.items():
        if tname in skip_t:
            continue
        cols = [Column(fname, TYPES[fld.type], primary_key=fname in coll.primary_key,
                       nullable=fname not in coll.primary_key and fld.nullable is not False
                       and f"{tname}.{fname}" not in nn)
                for fname, fld in coll.fields.items() if f"{tname}.{fname}" not in skip_c]
        cols += [Column(x.split(".")[1], String(50)) for x in extra_columns
                 if x.split(".")[0] == tname]
        Table(tname, md, *cols)
    for tname in extra_tables:
        Table(tname, md, Column("id", Integer, primary_key=True), Column("note", String(50)))
    return md


def create_store(ds: Dataset, url: str | URL, **options: Iterable[str]) -> None:
    engine = create_engine(url)
    try:
        metadata_for(ds, **options).create_all(engine)  # type: ignore[arg-type]
    finally:
        engine.dispose()
