"""Who a decision is about (``Subject``) and who acts (``Actor``).

A subject is known by its identities (email, phone, account id, device id...),
normalised at construction; keepword only ever stores their keyed hashes.

Age is what the caller knows: ``age`` or ``birth_date``. keepword does not
guess it. When the policy sets ``minimum_age``, a subject known to be younger is
denied everything; a subject of unknown age is denied processing that rests on
consent (GDPR Art. 8: a child's consent is not valid), while processing on other
bases (contract, legal obligation...) does not need the age.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from keepword.errors import InputError, Location, Problem
from keepword.identities import IdentityHasher, normalise
from keepword.policy.models import RecipientKind

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
SYSTEM_ADMINISTRATOR = "system_administrator"
USER = "user"
ACTOR_KINDS = frozenset({USER, SYSTEM_ADMINISTRATOR, *(k.value for k in RecipientKind)})


def _bad(message: str, *path: str | int) -> InputError:
    return InputError(Problem(message, Location(path=("subject", *path)), code="bad_subject"))


@dataclass(frozen=True, slots=True)
class Subject:
    """A data subject as the caller knows it. Hashable: used as a cache key."""

    identities: tuple[tuple[str, str], ...]
    age: int | None = None
    birth_date: date | None = None
    tenant: str | None = None  # the tenant / organisation the subject's data belongs to
    kind: str | None = None  # a subject key of the policy, e.g. "customer"
    _hash: int = field(init=False, repr=False, compare=False)

    def __hash__(self) -> int:  # computed once: subjects are cache keys on the hot path
        return self._hash

    def __post_init__(self) -> None:
        if not self.identities:
            raise _bad("a subject needs at least one identity (email=..., phone=...)")
        clean = set()
        for i, pair in enumerate(self.identities):
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise _bad("identities are (kind, value) pairs", "identities", i)
            kind, value = pair
            if not _KIND.match(kind):
                raise _bad("identity kinds are lower-case words (email, phone, account_id)",
                           "identities", i)
            clean.add((kind, normalise(kind, value)))
        object.__setattr__(self, "identities", tuple(sorted(clean)))
        if self.age is not None and not 0 <= self.age <= 150:
            raise _bad("age must be between 0 and 150", "age")
        object.__setattr__(self, "_hash", hash((self.identities, self.age, self.birth_date,
                                                self.tenant, self.kind)))

    @classmethod
    def of(cls, identities: Mapping[str, str] | Iterable[tuple[str, str]] | None = None, *,
           age: int | None = None, birth_date: date | None = None, tenant: str | None = None,
           kind: str | None = None, **named: str) -> Subject:
        """``Subject.of(email="ada@example.com", age=36)``."""
        pairs = list(identities.items() if isinstance(identities, Mapping)
                     else identities or [])
        pairs.extend(named.items())
        return cls(tuple(pairs), age, birth_date, tenant, kind)

    @classmethod
    def parse(cls, specs: Iterable[str], **rest: object) -> Subject:
        """From ``kind=value`` strings (the CLI's ``--subject email=...``)."""
        pairs = []
        for i, spec in enumerate(specs):
            kind, sep, value = spec.partition("=")
            if not sep:
                raise _bad("write identities as kind=value, e.g. email=ada@example.com",
                           "identities", i)
            pairs.append((kind.strip(), value))
        return cls.of(pairs, **rest)  # type: ignore[arg-type]

    def current_age(self, today: date | None = None) -> int | None:
        if self.age is not None:
            return self.age
        if self.birth_date is None:
            return None
        today = today or datetime.now(UTC).date()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def refs(self, hasher: IdentityHasher) -> tuple[str, ...]:
        """The keyed references of every identity (what the control store holds)."""
        return tuple(hasher.ref(kind, value) for kind, value in self.identities)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who wants to see or use the data: a tenant's ``user``, a ``system_administrator``,
    or a recipient kind (``processor``, ``partner``...)."""

    kind: str
    tenant: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise InputError(Problem(
                f"unknown actor kind {self.kind!r}; known: {', '.join(sorted(ACTOR_KINDS))}",
                Location(path=("actor",)), code="bad_actor"))

    @classmethod
    def parse(cls, text: str | Actor) -> Actor:
        """``user:acme`` (a user of tenant acme), ``system_administrator``, ``partner``."""
        if isinstance(text, Actor):
            return text
        kind, _, tenant = text.partition(":")
        return cls(kind.strip(), tenant.strip() or None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.tenant}" if self.tenant else self.kind
