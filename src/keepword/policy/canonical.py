"""Canonical form and content-hash version of a policy.

The version of a policy is the SHA-256 of its canonical JSON (sorted keys,
defaults filled in): two files that mean the same thing have the same version,
whatever their comments, key order or formatting.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def canonical_data(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def canonical_json(model: BaseModel) -> str:
    return json.dumps(canonical_data(model), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def content_version(model: BaseModel) -> str:
    """``sha256:<hex>`` of the canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(model).encode()).hexdigest()


def short_version(version: str) -> str:
    return version.removeprefix("sha256:")[:12]
