"""Loading datasets/*.yaml: located errors, references, connection rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keepword.datamap import build_datamap, load_datamap, load_dataset_text
from keepword.datamap.graph import reachable_tables
from keepword.errors import InputError

SHOP = textwrap.dedent("""\
    dataset: shop
    store:
      kind: sqlite
      connection: {env: SHOP_URL, default: shop.db}
    collections:
      customers:
        primary_key: [id]
        fields:
          id: {identity: account_id}
          email: {identity: email, categories: [user.contact.email]}
      orders:
        primary_key: [id]
        fields:
          id: {}
          customer_id: {references: [customers.id]}
          address: {categories: [user.contact.address]}
      audit_trail:
        primary_key: [id]
        fields:
          id: {}
          note: {categories: [user.content]}
    """)


def test_dataset_loads_and_graph_reaches_joined_tables() -> None:
    dm = build_datamap([load_dataset_text(SHOP, "shop.yaml")])
    reach = reachable_tables(dm)
    assert ("shop", "orders") in reach
    assert ("shop", "audit_trail") not in reach
    assert dm.version.startswith("sha256:")


def test_literal_password_is_refused_without_echoing_it() -> None:
    text = SHOP.replace("{env: SHOP_URL, default: shop.db}",
                        "{url: 'postgresql://app:hunter2@db/shop'}")
    with pytest.raises(InputError) as info:
        load_dataset_text(text, "shop.yaml")
    assert "must not hold a password" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert info.value.problems[0].location.line == 4


def test_missing_reference_is_located() -> None:
    text = SHOP.replace("references: [customers.id]", "references: [customer.id]")
    with pytest.raises(InputError) as info:
        build_datamap([load_dataset_text(text, "shop.yaml")])
    [p] = info.value.problems
    assert p.code == "missing_reference"
    assert (p.location.file, p.location.line) == ("shop.yaml", 15)


def test_primary_key_must_name_a_declared_field() -> None:
    with pytest.raises(InputError, match="not declared: uid"):
        load_dataset_text(SHOP.replace("primary_key: [id]", "primary_key: [uid]", 1),
                          "shop.yaml")


def test_keep_needs_an_exception() -> None:
    with pytest.raises(InputError, match="needs 'exception'"):
        load_dataset_text(SHOP.replace("address: {categories: [user.contact.address]}",
                                       "address: {categories: [user.contact.address], "
                                       "erasure: keep}"), "shop.yaml")


def test_every_file_of_a_folder_reports_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SHOP.replace("kind: sqlite", "kind: oracle"))
    (tmp_path / "b.yaml").write_text("dataset: [unclosed\n")
    with pytest.raises(InputError) as info:
        load_datamap(tmp_path)
    files = {Path(p.location.file or "").name for p in info.value.problems}
    assert files == {"a.yaml", "b.yaml"}


def test_dataset_declared_twice(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SHOP)
    (tmp_path / "b.yaml").write_text(SHOP)
    with pytest.raises(InputError, match="declared twice"):
        load_datamap(tmp_path)
