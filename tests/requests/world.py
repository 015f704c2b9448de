"""A small synthetic deployment for request tests, with its ground truth.

Two datasets on one database server (or two SQLite files): ``app`` and
``crm``. The schema exercises everything a walk meets: chains
(users -> orders -> order_items), fan-out, many-to-many (memberships), a
self-reference (users.referred_by, comments.parent_id), a cycle
(users.org_id -> orgs.owner_id -> users), composite keys, a cross-store
reference (crm.leads.account_id -> app.users.id), shared rows (messages,
calls, a shared address), a retention exception (invoices) and managed
accounts (users.admin_org).

The generator records, while it builds each row, whose it is: ``truth[p]``
maps ``(collection, pk)`` to ``own`` or ``shared`` for person ``p``. Tests
compare what keepword finds and changes with that ground truth, which is
built from how the rows were made, not by re-running keepword's rules.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

POLICY = """\
keepword: 1
organisation:
  name: Test Shop
  country: FR
  contact: {name: Privacy team, email: privacy@shop.test}
  dpo: {name: DPO, email: dpo@shop.test}
  supervisory_authority: {name: CNIL, country: FR, url: https://www.cnil.fr}
regulations: [gdpr, ccpa]
subjects:
  customer: {name: Customers}
categories:
  user.contact: {name: Contact details}
  user.name: {name: Name}
  user.unique_id: {name: Account number}
  user.content: {name: Content, sources: [subject, other_users]}
  user.device: {name: Device data, sources: [automatic]}
  user.payment: {name: Billing details}
  user.account: {name: Account settings}
purposes:
  service:
    name: Providing the service
    description: Accounts, orders, messages and calls.
    data_use: essential.service
    legal_basis: contract
    categories: [user.contact, user.name, user.unique_id, user.content, user.device,
                 user.account]
    subjects: [customer]
  billing:
    name: Billing
    description: Invoices.
    data_use: finance.accounting
    legal_basis: legal_obligation
    legal_obligation: Tax law
    categories: [user.payment, user.name]
    subjects: [customer]
  marketing:
    name: Newsletter
    description: News about the shop.
    data_use: marketing.communications.email
    legal_basis: consent
    categories: [user.contact.email]
    subjects: [customer]
recipients:
  mailer:
    name: Mail provider
    kind: processor
    purposes: [marketing]
    categories: [user.contact.email]
    countries: [DE]
retention:
  - id: closed-accounts
    description: Accounts are deleted 30 days after closing.
    categories: [user.contact, user.name]
    period: 30 days
    anchor: account.closed
    exceptions:
      - id: invoices-tax
        description: Invoices are kept for tax.
        categories: [user.payment, user.name]
        period: 10 years
        ground: "Tax law: invoices are kept 10 years"
rights:
  honoured: [access, portability, rectification, erasure, restriction, objection]
"""

APP = """\
dataset: app
store:
  kind: {kind}
  connection: {{env: KW_T_APP_URL}}
collections:
  orgs:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      name: {{type: string}}
      owner_id: {{type: integer, references: [users.id]}}
  addresses:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      street: {{type: string, categories: [user.contact.address], erasure: delete_row}}
      city: {{type: string, categories: [user.contact.address]}}
  users:
    subject: customer
    primary_key: [id]
    administered_by: admin_org
    fields:
      id: {{type: integer, identity: account_id, categories: [user.unique_id]}}
      email: {{type: string, identity: email, categories: [user.contact.email], erasure: hash,
              nullable: false}}
      name: {{type: string, categories: [user.name], erasure: delete_row}}
      phone: {{type: string, identity: phone, categories: [user.contact.phone_number]}}
      referred_by: {{type: integer, references: [users.id]}}
      org_id: {{type: integer, references: [orgs.id]}}
      admin_org: {{type: integer}}
      address_id: {{type: integer, references: [addresses.id]}}
  orders:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      user_id: {{type: integer, references: [users.id], nullable: false}}
      note: {{type: string, categories: [user.content.private], erasure: delete_row}}
      total: {{type: float}}
  order_items:
    primary_key: [order_id, line]
    fields:
      order_id: {{type: integer, references: [orders.id]}}
      line: {{type: integer}}
      sku: {{type: string}}
      qty: {{type: integer}}
  invoices:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      user_id: {{type: integer, references: [users.id]}}
      billing_name: {{type: string, categories: [user.payment], erasure: keep,
                     exception: invoices-tax}}
      amount: {{type: float}}
  groups:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      name: {{type: string}}
  memberships:
    primary_key: [user_id, group_id]
    fields:
      user_id: {{type: integer, references: [users.id]}}
      group_id: {{type: integer, references: [groups.id]}}
      role: {{type: string, categories: [user.account]}}
  threads:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      topic: {{type: string}}
  messages:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      thread_id: {{type: integer, references: [threads.id]}}
      sender_id: {{type: integer, references: [users.id]}}
      recipient_id: {{type: integer, references: [users.id]}}
      body: {{type: string, categories: [user.content.private]}}
      sender_name: {{type: string, categories: [user.name], belongs_to: sender_id}}
      recipient_name: {{type: string, categories: [user.name], belongs_to: recipient_id}}
  calls:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      host_id: {{type: integer, references: [users.id]}}
      title: {{type: string, categories: [user.content.private]}}
  call_participants:
    primary_key: [call_id, user_id]
    fields:
      call_id: {{type: integer, references: [calls.id]}}
      user_id: {{type: integer, references: [users.id]}}
      ip: {{type: string, categories: [user.device.ip_address]}}
  comments:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      user_id: {{type: integer, references: [users.id]}}
      parent_id: {{type: integer, references: [comments.id]}}
      text: {{type: string, categories: [user.content.public], erasure: delete_row}}
  contacts:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      owner_id: {{type: integer, references: [users.id], nullable: false}}
      name: {{type: string, categories: [user.name]}}
      email: {{type: string, identity: email, categories: [user.contact.email],
              erasure: delete_row}}
      phone: {{type: string, identity: phone, categories: [user.contact.phone_number]}}
  login_events:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      email: {{type: string, identity: email, categories: [user.contact.email],
              erasure: delete_row}}
      ip: {{type: string, categories: [user.device.ip_address]}}
  wishlists:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      user_id: {{type: integer, references: [users.id]}}
      title: {{type: string, categories: [user.content.private], erasure: delete_row}}
  wishes:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      wishlist_id: {{type: integer, references: [wishlists.id]}}
      item: {{type: string, categories: [user.content.private], erasure: delete_row}}
"""

CRM = """\
dataset: crm
store:
  kind: {kind}
  connection: {{env: KW_T_CRM_URL}}
collections:
  leads:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      email: {{type: string, identity: email, categories: [user.contact.email],
              erasure: delete_row}}
      full_name: {{type: string, categories: [user.name]}}
      account_id: {{type: integer, references: [app.users.id]}}
  lead_notes:
    primary_key: [id]
    fields:
      id: {{type: integer}}
      lead_id: {{type: integer, references: [leads.id]}}
      note: {{type: string, categories: [user.content.private]}}
"""


def schema() -> tuple[sa.MetaData, sa.MetaData]:
    app, crm = sa.MetaData(), sa.MetaData()
    i, s = sa.Integer, sa.String(200)

    def fk(col: str, target: str, *, nullable: bool = True, pk: bool = False) -> sa.Column[Any]:
        return sa.Column(col, i, sa.ForeignKey(target), nullable=nullable, primary_key=pk,
                         autoincrement=False)

    sa.Table("orgs", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("name", s), sa.Column("owner_id", i))
    sa.Table("addresses", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("street", s), sa.Column("city", s))
    sa.Table("users", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("email", s, nullable=False, unique=True), sa.Column("name", s),
             sa.Column("phone", s), fk("referred_by", "users.id"), fk("org_id", "orgs.id"),
             sa.Column("admin_org", i), fk("address_id", "addresses.id"))
    sa.Table("orders", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("user_id", "users.id", nullable=False), sa.Column("note", s),
             sa.Column("total", sa.Float))
    sa.Table("order_items", app, fk("order_id", "orders.id", pk=True),
             sa.Column("line", i, primary_key=True, autoincrement=False), sa.Column("sku", s),
             sa.Column("qty", i))
    sa.Table("invoices", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("user_id", "users.id"), sa.Column("billing_name", s),
             sa.Column("amount", sa.Float))
    sa.Table("groups", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("name", s))
    sa.Table("memberships", app, fk("user_id", "users.id", pk=True),
             fk("group_id", "groups.id", pk=True), sa.Column("role", s))
    sa.Table("threads", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("topic", s))
    sa.Table("messages", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("thread_id", "threads.id"), fk("sender_id", "users.id"),
             fk("recipient_id", "users.id"), sa.Column("body", s), sa.Column("sender_name", s),
             sa.Column("recipient_name", s))
    sa.Table("calls", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("host_id", "users.id"), sa.Column("title", s))
    sa.Table("call_participants", app, fk("call_id", "calls.id", pk=True),
             fk("user_id", "users.id", pk=True), sa.Column("ip", s))
    sa.Table("comments", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("user_id", "users.id"), fk("parent_id", "comments.id"), sa.Column("text", s))
    sa.Table("contacts", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("owner_id", "users.id", nullable=False), sa.Column("name", s),
             sa.Column("email", s), sa.Column("phone", s))
    sa.Table("login_events", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("email", s), sa.Column("ip", s))
    sa.Table("wishlists", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("user_id", "users.id"), sa.Column("title", s))
    sa.Table("wishes", app, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("wishlist_id", "wishlists.id"), sa.Column("item", s))
    sa.Table("leads", crm, sa.Column("id", i, primary_key=True, autoincrement=False),
             sa.Column("email", s), sa.Column("full_name", s), sa.Column("account_id", i))
    sa.Table("lead_notes", crm, sa.Column("id", i, primary_key=True, autoincrement=False),
             fk("lead_id", "leads.id"), sa.Column("note", s))
    return app, crm


Key = tuple[str, tuple[Any, ...]]


@dataclass
class Person:
    id: int
    email: str
    phone: str | None
    name: str


@dataclass
class World:
    root: Path
    env: dict[str, str]
    urls: dict[str, URL]
    people: dict[int, Person]
    rows: dict[str, list[dict[str, Any]]]
    truth: dict[int, dict[Key, str]] = field(default_factory=lambda: defaultdict(dict))
    managed: set[int] = field(default_factory=set)

    def snapshot(self) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
        """Every row of every table, by primary key (to compare before/after)."""
        out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        app, crm = schema()
        for ds, md in (("app", app), ("crm", crm)):
            engine = sa.create_engine(self.urls[ds])
            with engine.connect() as conn:
                for table in md.sorted_tables:
                    pkcols = [c.name for c in table.primary_key.columns]
                    out[table.name] = {
                        tuple(r[c] for c in pkcols): dict(r)
                        for r in conn.execute(sa.select(table)).mappings()}
            engine.dispose()
        return out


class _Builder:
    """Makes rows and notes, for each, whose they are."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.w = world
        self.rng = rng
        self.ids: dict[str, int] = defaultdict(int)

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: dict[str, Any], pk: tuple[Any, ...],
            owners: dict[int, str]) -> None:
        self.w.rows[table].append(row)
        for person, role in owners.items():
            current = self.w.truth[person].get((table, pk))
            if current != "own":
                self.w.truth[person][(table, pk)] = role


def build(root: Path, urls: dict[str, URL], *, people: int = 12, seed: int = 7) -> World:
    """Write the deployment folder and fill both databases; return the ground truth."""
    kind = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql"}[
        urls["app"].get_backend_name()]
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(POLICY)
    (root / "datasets" / "app.yaml").write_text(APP.format(kind=kind))
    (root / "datasets" / "crm.yaml").write_text(CRM.format(kind=kind))
    env = {"KW_T_APP_URL": urls["app"].render_as_string(hide_password=False),
           "KW_T_CRM_URL": urls["crm"].render_as_string(hide_password=False)}
    world = World(root, env, urls, {}, defaultdict(list))
    b = _Builder(world, random.Random(seed))
    _people(b, people)
    _commerce(b)
    _social(b)
    _contacts(b)
    _write(world)
    return world


def _people(b: _Builder, n: int) -> None:
    w = b.w
    shared_address = b.next_id("addresses")
    b.add("addresses", {"id": shared_address, "street": "1 Shared Road", "city": "Lyon"},
          (shared_address,), {})
    for g in (1, 2):
        w.rows["groups"].append({"id": g, "name": f"group {g}"})
    for k in range(1, n + 1):
        p = Person(k, f"person{k}@Example.org".lower(), f"+3361234{k:04d}" if k % 2 else None,
                   f"Person {k}")
        w.people[k] = p
        w.rows["orgs"].append({"id": k, "name": f"Org {k}", "owner_id": k if k % 3 == 0 else None})
        if k % 3 == 0:
            w.truth[k][("orgs", (k,))] = "own"
        if k in (1, 2):  # a couple sharing an address: nobody's own
            address = shared_address
        else:
            address = b.next_id("addresses")
            b.add("addresses", {"id": address, "street": f"{k} Main St", "city": "Paris"},
                  (address,), {k: "own"})
        referred = k - 1 if k > 1 and k % 4 == 0 else None
        managed = 1 if k % 5 == 0 else None
        if managed:
            w.managed.add(k)
        b.add("users", {"id": k, "email": p.email, "name": p.name, "phone": p.phone,
                        "referred_by": referred, "org_id": 1 + (k % 2), "admin_org": managed,
                        "address_id": address}, (k,), {k: "own"})
        if referred:
            w.truth[referred][("users", (k,))] = "shared"
        for g in (1, 2):
            if (k + g) % 2 == 0 or k == 3:
                b.add("memberships", {"user_id": k, "group_id": g, "role": "member"}, (k, g),
                      {k: "own"})
        for _ in range(b.rng.randint(0, 2)):
            e = b.next_id("login_events")
            b.add("login_events", {"id": e, "email": p.email, "ip": f"10.0.0.{k}"}, (e,),
                  {k: "own"})


def _wishes(b: _Builder) -> None:
    """Wishlists and their wishes: hung off the person by one link each and deleted whole
    (erasure's lane); one of nobody's, with a wish, and a wish on no list."""
    for k in [*b.w.people, None]:
        for _ in range((0 if k % 4 == 2 else 1 + (k % 3 == 0)) if k else 1):
            lst = b.next_id("wishlists")
            owners = {k: "own"} if k else {}
            b.add("wishlists", {"id": lst, "user_id": k, "title": f"list {lst}"}, (lst,), owners)
            for _ in range(lst % 4 if k else 1):
                wish = b.next_id("wishes")
                b.add("wishes", {"id": wish, "wishlist_id": lst, "item": f"wish {wish}"},
                      (wish,), owners)
    wish = b.next_id("wishes")
    b.add("wishes", {"id": wish, "wishlist_id": None, "item": "a wish on no list"}, (wish,), {})


def _commerce(b: _Builder) -> None:
    _wishes(b)
    for k in b.w.people:
        for _ in range(b.rng.randint(0, 3)):
            o = b.next_id("orders")
            b.add("orders", {"id": o, "user_id": k, "note": f"gift wrap {o}", "total": 9.5},
                  (o,), {k: "own"})
            for line in range(1, b.rng.randint(1, 3) + 1):
                b.add("order_items", {"order_id": o, "line": line, "sku": f"SKU{line}",
                                      "qty": line}, (o, line), {k: "own"})
        if k % 2:
            inv = b.next_id("invoices")
            b.add("invoices", {"id": inv, "user_id": k, "billing_name": f"Bill {k}",
                               "amount": 20.0}, (inv,), {k: "own"})
        lead = b.next_id("leads")
        b.add("leads", {"id": lead, "email": b.w.people[k].email, "full_name": f"Lead {k}",
                        "account_id": k if k % 2 else None}, (lead,), {k: "own"})
        note = b.next_id("lead_notes")
        b.add("lead_notes", {"id": note, "lead_id": lead, "note": "met at fair"}, (note,),
              {k: "own"})


def _social(b: _Builder) -> None:
    people = sorted(b.w.people)
    for t in range(1, 4):
        b.w.rows["threads"].append({"id": t, "topic": f"topic {t}"})
    for k in people:
        for other in b.rng.sample(people, 2):
            m = b.next_id("messages")
            role = "own" if other == k else "shared"
            b.add("messages", {"id": m, "thread_id": 1 + m % 3, "sender_id": k,
                               "recipient_id": other, "body": f"hello {m}",
                               "sender_name": f"Person {k}", "recipient_name": f"Person {other}"},
                  (m,), {k: role, other: role})
        call = b.next_id("calls")
        guests = [g for g in b.rng.sample(people, 2) if g != k]
        b.add("calls", {"id": call, "host_id": k, "title": f"call {call}"}, (call,), {k: "own"})
        for u in [k, *guests]:
            b.add("call_participants", {"call_id": call, "user_id": u, "ip": f"10.1.{u}.1"},
                  (call, u), {u: "own"})
        c = b.next_id("comments")
        b.add("comments", {"id": c, "user_id": k, "parent_id": None, "text": f"first {c}"},
              (c,), {k: "own"})
        replier = b.rng.choice(people)
        r = b.next_id("comments")
        b.add("comments", {"id": r, "user_id": replier, "parent_id": c, "text": f"re {c}"},
              (r,), {replier: "own"})
        parent = None  # a thread of their own: replies to replies (self-reference, 3 deep)
        for depth in range(3):
            t = b.next_id("comments")
            b.add("comments", {"id": t, "user_id": k, "parent_id": parent,
                               "text": f"own {depth}"}, (t,), {k: "own"})
            parent = t


def _contacts(b: _Builder) -> None:
    people = sorted(b.w.people)
    for k in people:
        for other in b.rng.sample(people, 2):
            if other == k:
                continue
            p = b.w.people[other]
            c = b.next_id("contacts")
            b.add("contacts", {"id": c, "owner_id": k, "name": p.name, "email": p.email,
                               "phone": p.phone}, (c,), {other: "own", k: "shared"})


def _write(world: World) -> None:
    app, crm = schema()
    for ds, md in (("app", app), ("crm", crm)):
        engine = sa.create_engine(world.urls[ds])
        md.drop_all(engine)  # a rebuild (hypothesis examples) starts from scratch
        md.create_all(engine)
        with engine.begin() as conn:
            for table in md.sorted_tables:
                rows = world.rows.get(table.name)
                if rows:
                    conn.execute(table.insert(), rows)
        engine.dispose()


def rows_of(world: World, person: int, role: str | None = None) -> Iterator[Key]:
    for key, r in world.truth[person].items():
        if role is None or r == role:
            yield key
