"""The policy as code: models, loading with located errors, lint, versioning."""

from keepword.policy.canonical import canonical_json, content_version, short_version
from keepword.policy.load import LoadedPolicy, load_policy, load_policy_text
from keepword.policy.models import Policy

__all__ = [
    "LoadedPolicy",
    "Policy",
    "canonical_json",
    "content_version",
    "load_policy",
    "load_policy_text",
    "short_version",
]
