"""The data map as a graph: collections joined by references, walked from identities.

References are followed in both directions (a user row finds its orders through
``orders.user_id -> users.id``, and an order finds its user the same way), over
any number of hops; cycles and self-references are fine because the walk keeps a
visited set. The request planner builds on these edges.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from keepword.datamap.load import DataMap, FieldAddress

Table = tuple[str, str]  # (dataset, collection)


@dataclass(frozen=True)
class Edge:
    """A join between two columns: ``src`` values equal ``dst`` values."""

    src: FieldAddress
    dst: FieldAddress
    forward: bool  # True: src declares the reference (src -> dst)


def edges(dm: DataMap) -> dict[Table, list[Edge]]:
    """Adjacency: for each table, the joins that leave it (both directions)."""
    out: dict[Table, list[Edge]] = defaultdict(list)
    for addr, fld in dm.fields():
        for ref in fld.references:
            target = dm.resolve_ref(addr.dataset, ref)
            out[addr.table].append(Edge(addr, target, True))
            out[target.table].append(Edge(target, addr, False))
    return out


def identity_fields(dm: DataMap) -> list[tuple[FieldAddress, str]]:
    """Every column that holds an identity, with the identity type."""
    return [(addr, fld.identity) for addr, fld in dm.fields() if fld.identity]


def reachable_tables(dm: DataMap) -> set[Table]:
    """Tables a request can reach from some identity field."""
    adj = edges(dm)
    seen: set[Table] = {addr.table for addr, _ in identity_fields(dm)}
    queue = deque(seen)
    while queue:
        table = queue.popleft()
        for edge in adj.get(table, []):
            if edge.dst.table not in seen:
                seen.add(edge.dst.table)
                queue.append(edge.dst.table)
    return seen


def personal_tables(dm: DataMap) -> set[Table]:
    return {addr.table for addr, fld in dm.fields() if fld.personal}
