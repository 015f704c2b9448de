"""Data subject requests: access, portability, rectification, erasure, restriction, objection.

Modules: ``lifecycle`` (table, states, deadlines), ``plan`` (the data map
compiled for the walk), ``walk`` (set-based search for a batch of subjects),
``erase``/``rectify`` (what changes), ``ops`` (chunked statements),
``journal`` (before/after records, resume), ``proof``, ``export`` (the ZIP),
``batch`` and ``service`` (orchestration; the API faces call).

The public entry points are re-exported lazily so that importing the tables
(``keepword.control.tables``) does not pull in the whole request machinery.
"""

from __future__ import annotations

from typing import Any

_SERVICE = {"RequestResult", "approve", "deny", "dry_run", "extend", "list_requests", "run",
            "run_request", "show", "submit", "submit_many", "sweep_exports", "verify",
            "verify_many"}


def __getattr__(name: str) -> Any:
    if name in _SERVICE:
        from keepword.requests import service  # noqa: PLC0415 - lazy on purpose

        return getattr(service, name)
    if name in ("Kind", "Status"):
        from keepword.requests import lifecycle  # noqa: PLC0415 - lazy on purpose

        return getattr(lifecycle, name)
    raise AttributeError(name)


__all__ = ["Kind", "RequestResult", "Status", "approve", "deny", "dry_run", "extend",
           "list_requests", "run", "run_request", "show", "submit", "submit_many",
           "sweep_exports", "verify", "verify_many"]
