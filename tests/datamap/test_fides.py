"""Fides dataset YAML <-> keepword data map: lossless both ways, located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from keepword.cli import app
from keepword.datamap import Collection, Dataset, Erasure, Field_, StoreKind, load_datamap
from keepword.datamap.fides import (
    dataset_yaml,
    export_fides,
    export_fides_yaml,
    import_fides_text,
)
from keepword.datamap.load import load_dataset_text
from keepword.datamap.models import Connection, FieldType, Store
from keepword.errors import InputError

BASE = Path(__file__).parents[1] / "corpus" / "base" / "datasets"

# --- strategies: any valid keepword dataset ----------------------------------------------

# Built from small alphabets (cheaper to draw than from_regex), matching the models' patterns.
def _word(first: str, rest: str, size: int = 8) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(first), st.text(rest, max_size=size)).map("".join)


idents = _word("abxy_", "abxy09_")
dataset_keys = _word("abxy", "abxy09_")
keys = st.tuples(_word("abxy", "abxy09_", 6),
                 st.lists(st.text("abxy09_", min_size=1, max_size=6), max_size=2)
                 ).map(lambda t: ".".join([t[0], *t[1]]))
slugs = _word("ab09", "ab09_.-", 10)
env_names = _word("AB_", "AB09_", 10)
# Human text; YAML itself normalises control and line-separator characters (NEL, LS, PS).
texts = st.none() | st.text(st.characters(codec="utf-8",
                                          exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                            max_size=30)

connections = st.one_of(
    st.builds(Connection, env=env_names,
              default=st.none() | st.just("data/app.db")),
    st.builds(Connection, secret=st.just("/run/secrets/db_url")),
    st.builds(Connection, url=st.sampled_from(["sqlite:///app.db",
                                                "postgresql://reader@db.internal/app"])),
)
stores = st.builds(Store, kind=st.sampled_from(StoreKind), connection=connections,
                   schema=st.none() | idents)


@st.composite
def fields(draw: st.DrawFn, own: str, columns: list[str], targets: list[str]) -> Field_:
    erasure = draw(st.none() | st.sampled_from(Erasure))
    return Field_(
        description=draw(texts),
        categories=draw(st.lists(keys, max_size=3, unique=True)),
        identity=draw(st.none() | keys),
        references=draw(st.lists(st.sampled_from(targets), max_size=2, unique=True)),
        erasure=erasure,
        exception=draw(slugs) if erasure is Erasure.KEEP else None,
        anchor=draw(st.none() | keys),
        belongs_to=draw(st.none() | st.sampled_from(columns)),
        type=draw(st.none() | st.sampled_from(FieldType)),
        nullable=draw(st.none() | st.booleans()),
    )


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    key = draw(dataset_keys)
    tables = draw(st.lists(idents, min_size=1, max_size=3, unique=True))
    columns = {t: draw(st.lists(idents, min_size=1, max_size=4, unique=True)) for t in tables}
    targets = [f"{t}.{c}" for t in tables for c in columns[t]]  # same dataset, short form
    targets += [f"{key}.{t}.{c}" for t, c in (x.split(".") for x in targets[:2])]  # long form
    targets += ["other_ds.people.id"]  # another dataset
    collections = {}
    for t in tables:
        cols = columns[t]
        collections[t] = Collection(
            description=draw(texts), subject=draw(st.none() | keys),
            primary_key=draw(st.lists(st.sampled_from(cols), min_size=1, unique=True)),
            tenant_field=draw(st.none() | st.sampled_from(cols)),
            administered_by=draw(st.none() | st.sampled_from(cols)),
            belongs_to=draw(st.none() | st.sampled_from(cols)),
            fields={c: draw(fields(t, cols, targets)) for c in cols})
    return Dataset(dataset=key, name=draw(texts), description=draw(texts),
                   store=draw(stores), collections=collections)


@settings(max_examples=30, deadline=None)
@given(st.lists(datasets(), min_size=1, max_size=2, unique_by=lambda d: d.dataset))
def test_export_import_is_lossless(original: list[Dataset]) -> None:
    exported = export_fides_yaml(original)
    result = import_fides_text(exported)
    assert result.datasets == original
    assert result.warnings == []
    assert export_fides_yaml(result.datasets) == exported  # and stable


@settings(max_examples=25, deadline=None)
@given(datasets())
def test_written_dataset_files_load_back(original: Dataset) -> None:
    assert load_dataset_text(dataset_yaml(original)).dataset == original


# --- Fides-authored files -----------------------------------------------------------------

FIDES = """\
dataset:
  - fides_key: postgres_example
    name: Postgres example
    organization_fides_key: default_organization
    collections:
      - name: customer
        data_categories: [user]
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta:
              primary_key: True
          - name: email
            data_categories: [user.contact.email]
            fides_meta:
              identity: email
              data_type: string
          - name: address_id
            fides_meta:
              references:
                - dataset: postgres_example
                  field: address.id
                  direction: to
          - name: created
          - name: profile
            fields:
              - name: nickname
                data_categories: [user.name]
      - name: address
        data_subjects: [customer, employee]
        fields:
          - name: id
            data_categories: [system.operations]
          - name: street
            data_categories: [user.contact.address.street]
            fides_meta:
              data_type: string
          - name: tags
            fides_meta:
              data_type: string[]
"""


def test_import_a_fides_authored_file() -> None:
    result = import_fides_text(FIDES, "fides.yaml")
    (ds,) = result.datasets
    assert ds.dataset == "postgres_example"
    assert ds.store.kind is StoreKind.SQLITE
    assert ds.store.connection.env == "POSTGRES_EXAMPLE_URL"
    customer, address = ds.collections["customer"], ds.collections["address"]
    assert customer.primary_key == ["id"]
    assert customer.fields["email"].identity == "email"
    assert customer.fields["email"].type is FieldType.STRING
    assert customer.fields["address_id"].references == ["address.id"]
    assert customer.fields["created"].categories == ["user"]  # collection-level categories
    assert customer.fields["profile"].type is FieldType.JSON
    assert customer.fields["profile"].categories == ["user.name"]
    assert address.subject == "customer"
    assert address.primary_key == ["id"]  # no key marked: its 'id' field
    assert address.fields["tags"].type is FieldType.JSON
    assert [(w.location.line, w.message) for w in result.warnings] == [
        (2, "no keepword store in meta: sqlite, URL from environment variable "
            "POSTGRES_EXAMPLE_URL"),
        (7, "collection-level data_categories apply to each of its fields that has none of "
            "its own"),
        (26, "nested fields of customer.profile become one json column"),
        (30, "keepword keeps one data subject per collection: the first"),
        (29, "collection 'address' marks no primary key; using its 'id' field"),
    ]
    again = import_fides_text(export_fides_yaml(result.datasets))
    assert again.datasets == result.datasets
    assert again.warnings == []


@pytest.mark.parametrize(("text", "expected"), [
    ("dataset:\n  - name: x\n    collections: []\n",
     [("required field is missing", 2, 5, "dataset[0].fides_key")]),
    ("dataset:\n  - fides_key: shop\n    collections:\n      - name: users\n        fields:\n"
     "          - name: email\n",
     [("collection 'users' has no primary key: mark its key fields with "
       "'fides_meta: {primary_key: true}'", 4, 9, "dataset[0].collections[0]")]),
    ("dataset:\n  - fides_key: shop\n    collections:\n      - name: users\n        fields:\n"
     "          - name: id\n            fides_meta: {primary_key: true}\n"
     "          - name: first name\n",
     [("String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$' (keepword field "
       "collections.users.fields.first name.[key])", 8, 13,
       "dataset[0].collections[0].fields[1]")]),
    ("dataset:\n  - fides_key: Shop-1\n    collections: []\n",
     [("String should match pattern '^[a-z][a-z0-9_]*$' (keepword field dataset)", 2, 5,
       "dataset[0]")]),
    ("dataset:\n  - fides_key: shop\n    meta:\n      keepword:\n        stor: {}\n"
     "    collections: []\n",
     [("unknown key (check the spelling; unknown keys are never ignored)", 5, 9,
       "dataset[0].meta.keepword.stor")]),
    ("dataset:\n  - fides_key: shop\n    meta:\n      keepword:\n        store:\n"
     "          kind: postgresql\n          connection: {url: 'postgresql://u:pw@h/db'}\n"
     "    collections: []\n",
     [("Value error, a literal URL must not hold a password; use 'env' or 'secret' for "
       "credentials (keepword field store.connection)", 7, 11,
       "dataset[0].meta.keepword.store.connection")]),
    ("- fides_key: shop\n",
     [("a Fides dataset file is a mapping with a 'dataset' list", 1, 1, "")]),
])
def test_bad_fides_files_are_located(text: str, expected: list[tuple[str, int, int, str]]
                                     ) -> None:
    with pytest.raises(InputError) as info:
        import_fides_text(text, "fides.yaml")
    got = [(p.message, p.location.line, p.location.column, p.location.field_path())
           for p in info.value.problems]
    assert got == expected
    assert all(p.location.file == "fides.yaml" for p in info.value.problems)
    assert "pw@" not in str(info.value)


def test_export_shape_is_fideslang() -> None:
    dm = load_datamap(BASE)
    (shop,) = export_fides([dm.dataset("shop")])["dataset"]
    assert shop["fides_key"] == "shop"
    customers = shop["collections"][0]
    email = next(f for f in customers["fields"] if f["name"] == "email")
    assert email == {"name": "email", "data_categories": ["user.contact.email"],
                     "fides_meta": {"identity": "email", "data_type": "string"}}
    orders = shop["collections"][1]
    ref = next(f for f in orders["fields"] if f["name"] == "customer_id")["fides_meta"]
    assert ref["references"] == [{"dataset": "shop", "field": "customers.id"}]
    assert shop["meta"]["keepword"]["store"] == {
        "kind": "sqlite", "connection": {"env": "SHOP_URL", "default": "shop.db"}}


def test_cli_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    fides = tmp_path / "fides.yaml"
    result = runner.invoke(app, ["datamap", "export-fides", str(BASE), "--out", str(fides)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(fides.read_text())["dataset"][0]["fides_key"] == "shop"
    out = tmp_path / "datasets"
    result = runner.invoke(app, ["datamap", "import-fides", str(fides), "--out", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"written": [str(out / "shop.yaml")], "warnings": []}
    assert load_datamap(out).dataset("shop") == load_datamap(BASE).dataset("shop")
    result = runner.invoke(app, ["datamap", "export-fides", str(out)])
    assert result.stdout == fides.read_text()


def test_cli_import_bad_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [\n")
    result = CliRunner().invoke(app, ["datamap", "import-fides", str(bad), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "malformed YAML" in result.output
    assert "Traceback" not in result.output
