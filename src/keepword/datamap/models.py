"""The data map format (``datasets/*.yaml``): where personal data lives.

One file is one dataset, one dataset is one store (a database). Collections
(tables) and fields (columns) are mappings keyed by name, so a name cannot be
declared twice. Field-level annotations say what the value is (categories), how
to find a person (identity), how rows join (references), what erasure does
(strategy) and which event a timestamp marks (anchor, for retention).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
DatasetKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63)]
FieldRef = Annotated[
    str,
    StringConstraints(pattern=r"^([a-z][a-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"


class Erasure(StrEnum):
    """What erasure does to a field of the subject's row."""

    DELETE_ROW = "delete_row"  # the whole row goes (children first)
    NULL = "null"  # set to NULL
    HASH = "hash"  # keyed-HMAC pseudonym: still joinable, no longer readable
    MASK = "mask"  # fixed placeholder keeping the type (for NOT NULL text)
    KEEP = "keep"  # kept under a named retention exception, then restricted


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    JSON = "json"
    BYTES = "bytes"


class Connection(Strict):
    """Where the store's SQLAlchemy URL comes from. Never a literal password."""

    env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    secret: str | None = None  # path of a file holding the URL (e.g. /run/secrets/db_url)
    url: str | None = None  # literal URL, only when it holds no password
    default: str | None = None  # used when ``env`` is unset; same no-password rule

    @model_validator(mode="after")
    def _one_source(self) -> Connection:
        given = [n for n in ("env", "secret", "url") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'env', 'secret' or 'url'")
        for literal in (self.url, self.default):
            if literal and _has_password(literal):
                raise ValueError("a literal URL must not hold a password; "
                                 "use 'env' or 'secret' for credentials")
        if self.default and not self.env:
            raise ValueError("'default' only goes with 'env'")
        return self


def _has_password(url: str) -> bool:
    head, sep, _ = url.partition("@")
    return bool(sep) and ":" in head.split("//", 1)[-1]


class Store(Strict):
    kind: StoreKind
    connection: Connection
    schema_name: Ident | None = Field(default=None, alias="schema")


class Field_(Strict):
    """One column. (Trailing underscore: ``Field`` is pydantic's.)"""

    description: str | None = None
    categories: list[Key] = Field(default_factory=list)
    identity: Key | None = None  # identity type this column holds: email, phone, account_id...
    references: list[FieldRef] = Field(default_factory=list)
    erasure: Erasure | None = None  # default: null for personal fields
    exception: Slug | None = None  # retention exception id, with erasure: keep
    anchor: Key | None = None  # retention anchor event this timestamp marks
    belongs_to: Ident | None = None  # the reference column naming whose data this is
    type: FieldType | None = None
    nullable: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Field_:
        if self.erasure is Erasure.KEEP and not self.exception:
            raise ValueError("erasure 'keep' needs 'exception': the retention exception id")
        if self.exception and self.erasure is not Erasure.KEEP:
            raise ValueError("'exception' only goes with erasure: keep")
        return self

    @property
    def personal(self) -> bool:
        return bool(self.categories) or self.identity is not None


class Collection(Strict):
    description: str | None = None
    subject: Key | None = None  # fideslang data subject of the rows
    primary_key: list[Ident] = Field(min_length=1)
    tenant_field: Ident | None = None
    administered_by: Ident | None = None  # non-null value: an organisation administers the row
    belongs_to: Ident | None = None  # the column naming whose rows these are (requests' owner)
    fields: dict[Ident, Field_]

    @model_validator(mode="after")
    def _columns_exist(self) -> Collection:
        named = [*self.primary_key,
                 *(x for x in (self.tenant_field, self.administered_by, self.belongs_to) if x)]
        named += [f.belongs_to for f in self.fields.values() if f.belongs_to]
        missing = sorted({n for n in named if n not in self.fields})
        if missing:
            raise ValueError(f"names fields that are not declared: {', '.join(missing)}")
        return self


class Dataset(Strict):
    dataset: DatasetKey
    name: str | None = None
    description: str | None = None
    store: Store
    collections: dict[Ident, Collection]
