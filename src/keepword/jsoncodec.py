"""JSON for keepword's own records: request results, sealed blobs, audit entries.

A batch of 10,000 requests writes tens of thousands of small documents; ``orjson``
encodes them about ten times faster than the standard library. Where it cannot
(integers beyond 64 bits, keys that are not strings), the standard library does,
so the output never depends on which one ran except for speed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(data: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact JSON (UTF-8); ``default`` writes what JSON has no form for."""
    try:
        return orjson.dumps(data, option=orjson.OPT_PASSTHROUGH_DATETIME, default=default)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                          default=default).encode()


def dumps_sets(data: Any) -> bytes:
    """``dumps``, with sets written as arrays (in their iteration order): what a batch
    seals of thousands of people is held in sets, encoded without a list copy each."""
    return dumps(data, _set_list)


def _set_list(value: Any) -> list[Any]:
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps_text(data: Any) -> str:
    """``dumps`` as text (SQLAlchemy's JSON columns)."""
    return dumps(data).decode()


def canonical(data: Any) -> bytes:
    """Keys sorted, compact; values JSON cannot hold written with ``str`` (dates)."""
    try:
        return orjson.dumps(data, option=_CANONICAL, default=str)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str,
                          ensure_ascii=False).encode()


def readable(data: Any) -> str:
    """Indented JSON for people (an access export); values JSON cannot hold written with
    ``str``."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def column(raw: Any) -> Any:
    """A JSON column's stored value read back: its JSON text, or -- SQLite gives JSON
    columns numeric affinity, so a top-level number is stored as one -- the number."""
    if isinstance(raw, int | float):
        return raw
    return orjson.loads(raw)


loads: Callable[[bytes | bytearray | memoryview | str], Any] = orjson.loads  # (in C)


__all__ = ["canonical", "column", "dumps", "dumps_sets", "dumps_text", "loads", "readable"]
