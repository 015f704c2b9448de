"""Global Privacy Control: ``Sec-GPC: 1`` is an opt-out of sale, sharing and targeted ads.

``apply_gpc`` records, through the ledger, a withdrawal (channel ``gpc``) of
every purpose the policy marks ``sale``, ``share`` or ``advertising``, for the
subject or device that sent the signal (a device is a subject known only by a
``device_id`` or ``cookie_id`` identity). The decision point then denies those
purposes whatever their legal basis. The HTTP face calls ``gpc_signal`` on the
request headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from keepword.consent.ledger import ConsentLedger, Proof
from keepword.decide.subject import Subject
from keepword.policy.models import Policy

GPC_CHANNEL = "gpc"


def gpc_purposes(policy: Policy) -> list[str]:
    """Purposes a GPC signal opts out of: those marked sale, share or advertising."""
    return [key for key, p in policy.purposes.items() if p.sale or p.share or p.advertising]


def gpc_signal(headers: Mapping[str, str]) -> bool:
    """True when the request carries ``Sec-GPC: 1`` (header names are case-insensitive)."""
    return any(k.lower() == "sec-gpc" and v.strip() == "1" for k, v in headers.items())


def apply_gpc(ledger: ConsentLedger, subject: Subject, *, at: datetime | None = None,
              proof: Proof | None = None, session: Session | None = None) -> list[str]:
    """Record the opt-out; returns the purposes withdrawn (empty if the policy has none)."""
    keys = gpc_purposes(ledger.policy)
    if keys:
        ledger.record(subject, keys, given=False, channel=GPC_CHANNEL, at=at, proof=proof,
                      actor="gpc", session=session)
    return keys
