"""The shop benchmark store: schema, a fast seeded generator, its data map and the SQL floor.

Schema (every foreign key indexed, customers.email unique)::

    customers(id, email, name, created_at)
    addresses(id, customer_id -> customers.id, street, city, postcode, country)
    orders(id, customer_id -> customers.id, placed_at, status, total_cents)
    order_items(id, order_id -> orders.id, sku, quantity, price_cents)
    login_events(id, customer_id -> customers.id, at, ip_address)

Fan-out per customer: exactly 1 address; 0-4 orders (uniform, mean 2); 1-3 items
per order (mean 2, so 4 items per customer); 0-6 login events (mean 3). One
million customers is therefore ~11 million rows: 1 M customers, 1 M addresses,
2 M orders, 4 M order items, 3 M login events.

Loading: PostgreSQL through ``COPY`` (psycopg), SQLite through ``executemany``
in large transactions with ``synchronous=OFF`` and WAL for the load only. Indexes
and (PostgreSQL) foreign-key constraints are built after the load, set-based.

Erasure semantics (the data map written by :func:`write_datamap`, and the floor
below does exactly the same): the customer row, their address, their orders,
the items of those orders and their login events are all deleted (children
first). Access returns every row of the subject in the five tables.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
    text,
)
from sqlalchemy.schema import AddConstraint, CreateTable

metadata = MetaData()

customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(120), nullable=False),
    Column("name", String(120), nullable=False),
    Column("created_at", DateTime(), nullable=False),
)
addresses = Table(
    "addresses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("street", String(120), nullable=False),
    Column("city", String(60), nullable=False),
    Column("postcode", String(12), nullable=False),
    Column("country", String(2), nullable=False),
)
orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("placed_at", DateTime(), nullable=False),
    Column("status", String(12), nullable=False),
    Column("total_cents", Integer, nullable=False),
)
order_items = Table(
    "order_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("sku", String(16), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price_cents", Integer, nullable=False),
)
login_events = Table(
    "login_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("ip_address", String(45), nullable=False),
)
TABLES = (customers, addresses, orders, order_items, login_events)

# Built after the load (cheaper than maintaining them row by row).
INDEXES = (
    Index("ux_customers_email", customers.c.email, unique=True),
    Index("ix_addresses_customer_id", addresses.c.customer_id),
    Index("ix_orders_customer_id", orders.c.customer_id),
    Index("ix_order_items_order_id", order_items.c.order_id),
    Index("ix_login_events_customer_id", login_events.c.customer_id),
)

MAX_ORDERS, MAX_ITEMS, MAX_LOGINS = 4, 3, 6  # uniform 0..4, 1..3, 0..6: means 2, 2, 3
CHUNK = 50_000  # customers generated and loaded per round
_EPOCH = datetime(2020, 1, 1)
_FIRST = ("Alice Bruno Chloe David Emma Farid Giulia Hugo Ines Jonas Karim Lea Marc Nora "
          "Oscar Paula Quentin Rosa Sami Tara Ugo Vera Wim Xenia Yann Zoe").split()
_LAST = ("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
         "Laurent Lefebvre Michel Garcia Schmidt Muller Rossi Novak Jansen Silva").split()
_CITIES = ("Paris Lyon Berlin Madrid Milano Lisboa Wien Praha Gent Krakow").split()
_STREETS = ("Oak Elm Mill Rue Haupt Calle Via Kings Station Church").split()
_STATUS = ("paid", "shipped", "delivered", "returned")


def _stamp(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


# A table of distinct timestamps spread over ~5 years: formatting a datetime per row
# would dominate the generator.
_STAMPS = [_stamp(i * 4241) for i in range(37_307)]


def _ts(n: int) -> str:
    return _STAMPS[n % 37_307]


@dataclass
class Chunk:
    """Rows of a range of customers, one tuple per row in table column order."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {t.name: [] for t in TABLES})


def generate(customers_n: int, seed: int = 1, chunk: int = CHUNK) -> Iterator[Chunk]:
    """Deterministic rows for ``customers_n`` customers, in chunks of ``chunk`` customers."""
    rng = random.Random(seed)
    next_order, next_item, next_login = 1, 1, 1
    for lo in range(1, customers_n + 1, chunk):
        ids = range(lo, min(customers_n, lo + chunk - 1) + 1)
        out = Chunk()
        # Four draws per customer, in customer order: the rows do not depend on ``chunk``.
        draws = [rng.random() for _ in range(4 * len(ids))]
        cust, addr = out.rows["customers"], out.rows["addresses"]
        ords, items, logins = out.rows["orders"], out.rows["order_items"], out.rows["login_events"]
        for k, cid in enumerate(ids):
            first = _FIRST[int(draws[4 * k] * len(_FIRST))]
            last = _LAST[int(draws[4 * k + 1] * len(_LAST))]
            n_orders = int(draws[4 * k + 2] * (MAX_ORDERS + 1))
            n_logins = int(draws[4 * k + 3] * (MAX_LOGINS + 1))
            cust.append((cid, f"{first}.{last}.{cid}@example.com".lower(), f"{first} {last}",
                         _ts(cid * 37)))
            addr.append((cid, cid, f"{cid % 300 + 1} {_STREETS[cid % 10]} Street",
                         _CITIES[cid % 10], f"{10000 + cid % 89999}", "FR"))
            for _ in range(n_orders):
                oid = next_order
                next_order += 1
                ords.append((oid, cid, _ts(cid * 37 + oid), _STATUS[oid % 4], 500 + oid % 9500))
                for _ in range(1 + oid % MAX_ITEMS):
                    items.append((next_item, oid, f"SKU-{next_item % 5000:05d}",
                                  1 + next_item % 3, 100 + next_item % 4900))
                    next_item += 1
            for _ in range(n_logins):
                logins.append((next_login, cid, _ts(cid * 37 + next_login),
                               f"10.{cid >> 16 & 255}.{cid >> 8 & 255}.{cid & 255}"))
                next_login += 1
        yield out


def create_schema(engine: Engine) -> None:
    """Create the five tables (dropping old ones). :func:`populate` adds indexes and FKs."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        metadata.drop_all(conn)
        for table in TABLES:
            # PostgreSQL: FK constraints are added after COPY (one validation scan each);
            # SQLite cannot add them later, and does not enforce them without a PRAGMA.
            conn.execute(CreateTable(table, include_foreign_key_constraints=[] if pg else None))


def populate(engine: Engine, customers: int, seed: int = 1) -> dict[str, int]:
    """Load ``customers`` customers and their rows, then build indexes; returns row counts."""
    loaders = {"postgresql": _load_postgresql, "sqlite": _load_sqlite}
    if engine.dialect.name not in loaders:
        raise ValueError(f"the shop loads into SQLite or PostgreSQL, not {engine.dialect.name}")
    counts = {t.name: 0 for t in TABLES}
    loader = loaders[engine.dialect.name]
    loader(engine, generate(customers, seed), counts)
    _finish(engine)
    return counts


def build(engine: Engine, customers: int, seed: int = 1) -> dict[str, int]:
    """Schema and data in one call."""
    create_schema(engine)
    return populate(engine, customers, seed)


def _load_postgresql(engine: Engine, chunks: Iterator[Chunk], counts: dict[str, int]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for chunk in chunks:
            for table in TABLES:
                rows = chunk.rows[table.name]
                cols = ", ".join(c.name for c in table.columns)
                with cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table.name] += len(rows)
            raw.commit()
    finally:
        raw.close()


def _load_sqlite(engine: Engine, chunks: Iterator[Chunk], counts: dict[str, int]) -> None:
    raw = engine.raw_connection()
    try:
        db: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        for chunk in chunks:
            for table in TABLES:
                rows = chunk.rows[table.name]
                marks = ", ".join("?" for _ in table.columns)
                db.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows)
                counts[table.name] += len(rows)
            db.commit()
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA journal_mode=DELETE")  # back to SQLite's default for the benchmark
    finally:
        raw.close()


def _finish(engine: Engine) -> None:
    with engine.begin() as conn:
        for index in INDEXES:
            index.create(conn)
        if engine.dialect.name == "postgresql":
            for table in TABLES:
                for fk in table.foreign_key_constraints:
                    conn.execute(AddConstraint(fk))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            # settled, as a live database is: hint bits and visibility map set, statistics
            # taken, the load's dirty pages written -- else whoever runs first after the
            # load pays for it (the floor and keepword would not be measured alike)
            conn.execute(text("VACUUM (ANALYZE)"))
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text("ANALYZE"))


# --- The data map and a minimal policy -------------------------------------------------

POLICY_YAML = """\
# Shop benchmark policy: the minimum keepword needs to fulfil requests on the shop.
keepword: 1
organisation:
  name: Bench Shop
  country: FR
  contact: {name: Privacy team, email: privacy@shop.example}
  supervisory_authority: {name: CNIL, country: FR, url: https://www.cnil.fr}
subjects:
  customer: {name: Customers}
categories:
  user.contact.email: {name: Email address}
  user.name: {name: Name}
  user.contact.address: {name: Postal address}
  user.behavior.purchase_history: {name: Orders and their items}
  user.device.ip_address: {name: IP address of a sign-in, sources: [automatic]}
purposes:
  essential.service:
    name: Sell and deliver
    description: Take orders, deliver them and keep the customer's account.
    legal_basis: contract
    categories: [user.contact.email, user.name, user.contact.address,
                 user.behavior.purchase_history]
    subjects: [customer]
  essential.service.security:
    name: Account security
    description: Detect account takeover from sign-in history.
    legal_basis: legitimate_interest
    legitimate_interest: Protecting customers' accounts against takeover.
    categories: [user.contact.email, user.device.ip_address]
    subjects: [customer]
rights:
  honoured: [access, portability, rectification, erasure, restriction, objection, complaint]
"""

DATASET_YAML = """\
# Shop benchmark store (bench/shop.py): every row of the subject goes on erasure.
dataset: shop
name: Shop
store:
  kind: {kind}
  connection: {{env: {url_env}}}
collections:
  customers:
    subject: customer
    primary_key: [id]
    fields:
      id: {{type: integer, nullable: false, identity: account_id}}
      email: {{type: string, nullable: false, identity: email,
              categories: [user.contact.email], erasure: delete_row}}
      name: {{type: string, nullable: false, categories: [user.name], erasure: delete_row}}
      created_at: {{type: datetime, nullable: false}}
  addresses:
    subject: customer
    primary_key: [id]
    fields:
      id: {{type: integer, nullable: false}}
      customer_id: {{type: integer, nullable: false, references: [customers.id],
                    erasure: delete_row}}
      street: {{type: string, nullable: false, categories: [user.contact.address],
               erasure: delete_row}}
      city: {{type: string, nullable: false, categories: [user.contact.address],
             erasure: delete_row}}
      postcode: {{type: string, nullable: false, categories: [user.contact.address],
                 erasure: delete_row}}
      country: {{type: string, nullable: false, categories: [user.contact.address],
                erasure: delete_row}}
  orders:
    subject: customer
    primary_key: [id]
    fields:
      id: {{type: integer, nullable: false}}
      customer_id: {{type: integer, nullable: false, references: [customers.id],
                    erasure: delete_row}}
      placed_at: {{type: datetime, nullable: false, categories: [user.behavior.purchase_history],
                  erasure: delete_row}}
      status: {{type: string, nullable: false}}
      total_cents: {{type: integer, nullable: false, categories: [user.behavior.purchase_history],
                    erasure: delete_row}}
  order_items:
    subject: customer
    primary_key: [id]
    fields:
      id: {{type: integer, nullable: false}}
      order_id: {{type: integer, nullable: false, references: [orders.id], erasure: delete_row}}
      sku: {{type: string, nullable: false, categories: [user.behavior.purchase_history],
            erasure: delete_row}}
      quantity: {{type: integer, nullable: false, categories: [user.behavior.purchase_history],
                 erasure: delete_row}}
      price_cents: {{type: integer, nullable: false}}
  login_events:
    subject: customer
    primary_key: [id]
    fields:
      id: {{type: integer, nullable: false}}
      customer_id: {{type: integer, nullable: false, references: [customers.id],
                    erasure: delete_row}}
      at: {{type: datetime, nullable: false}}
      ip_address: {{type: string, nullable: false, categories: [user.device.ip_address],
                   erasure: delete_row}}
"""


def write_datamap(folder: str | Path, kind: str, url_env: str) -> Path:
    """Write ``policy.yaml`` and ``datasets/shop.yaml`` (store URL read from ``url_env``)."""
    root = Path(folder)
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(POLICY_YAML, encoding="utf-8")
    (root / "datasets" / "shop.yaml").write_text(
        DATASET_YAML.format(kind=kind, url_env=url_env), encoding="utf-8")
    return root


# --- The hand-written SQL floor ---------------------------------------------------------

Rows = dict[str, list[dict[str, Any]]]


def _rows(conn: Connection, table: Table, column: str, keys: Sequence[Any]) -> list[dict[str, Any]]:
    if not keys:
        return []
    stmt = select(table).where(table.c[column].in_(keys)).order_by(table.c.id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def floor_access(conn: Connection, email: str) -> Rows:
    """Every row of one subject: 5 statements (customer, then its children, then items)."""
    found = _rows(conn, customers, "email", [email.lower()])
    ids = [r["id"] for r in found]
    out: Rows = {"customers": found,
                 "addresses": _rows(conn, addresses, "customer_id", ids),
                 "orders": _rows(conn, orders, "customer_id", ids),
                 "login_events": _rows(conn, login_events, "customer_id", ids)}
    out["order_items"] = _rows(conn, order_items, "order_id", [r["id"] for r in out["orders"]])
    return out


def floor_erase(engine: Engine, emails: Sequence[str], chunk: int = 1000) -> int:
    """Erase subjects by key chunks, children first, one short transaction per chunk.

    Per chunk: 2 SELECTs for the keys (customer ids, order ids), 5 DELETEs.
    Returns the number of customers erased.
    """
    erased = 0
    for lo in range(0, len(emails), chunk):
        part = [e.lower() for e in emails[lo:lo + chunk]]
        with engine.begin() as conn:
            ids = list(conn.scalars(select(customers.c.id).where(customers.c.email.in_(part))))
            if not ids:
                continue
            oids = list(conn.scalars(select(orders.c.id).where(orders.c.customer_id.in_(ids))))
            if oids:
                conn.execute(delete(order_items).where(order_items.c.order_id.in_(oids)))
                conn.execute(delete(orders).where(orders.c.id.in_(oids)))
            conn.execute(delete(login_events).where(login_events.c.customer_id.in_(ids)))
            conn.execute(delete(addresses).where(addresses.c.customer_id.in_(ids)))
            conn.execute(delete(customers).where(customers.c.id.in_(ids)))
            erased += len(ids)
    return erased


def emails_of(conn: Connection, ids: Sequence[int]) -> list[str]:
    """The emails of the given customer ids (benchmark set-up, not timed)."""
    found: dict[int, str] = {}
    for lo in range(0, len(ids), 1000):
        part = list(ids[lo:lo + 1000])
        rows = conn.execute(select(customers.c.id, customers.c.email)
                            .where(customers.c.id.in_(part)))
        found.update({r[0]: r[1] for r in rows})
    return [found[i] for i in ids if i in found]


def remaining(conn: Connection, customer_ids: Sequence[int]) -> dict[str, int]:
    """Rows still held for these customers, per table (0 everywhere after erasure)."""
    out: dict[str, int] = {}
    ids = list(customer_ids)
    for table in (customers, addresses, orders, login_events):
        col = table.c.id if table is customers else table.c.customer_id
        out[table.name] = sum(
            len(conn.execute(select(table.c.id).where(col.in_(ids[i:i + 1000]))).all())
            for i in range(0, len(ids), 1000))
    return out


def still_present(conn: Connection, emails: Sequence[str]) -> int:
    """How many of these emails still have a customer row."""
    return sum(
        len(conn.execute(select(customers.c.id)
                         .where(customers.c.email.in_(list(emails[i:i + 1000])))).all())
        for i in range(0, len(emails), 1000))
