"""Load ``policy.yaml`` into a validated, linted, versioned policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from keepword.errors import InputError, Problem
from keepword.policy.canonical import content_version
from keepword.policy.lint import lint_policy
from keepword.policy.models import Policy
from keepword.yamlsrc import SourceMap, load_yaml_file, load_yaml_text, validate_located


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy with where it came from, its version and its lint warnings."""

    policy: Policy
    source: SourceMap
    path: Path | None
    version: str
    warnings: list[Problem] = field(default_factory=list)


def _finish(data: object, smap: SourceMap, path: Path | None) -> LoadedPolicy:
    if not isinstance(data, dict):
        raise InputError.at("a policy is a YAML mapping", smap.file, line=1, column=1)
    policy = validate_located(Policy, data, smap)
    problems = lint_policy(policy, smap)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    return LoadedPolicy(policy, smap, path, content_version(policy),
                        [p for p in problems if p.severity == "warning"])


def load_policy(path: str | Path) -> LoadedPolicy:
    """Load and check a policy file; every problem is a located ``InputError``."""
    p = Path(path)
    if p.is_dir():
        p = p / "policy.yaml"
    data, smap = load_yaml_file(p)
    return _finish(data, smap, p)


def load_policy_text(text: str, name: str = "<policy>") -> LoadedPolicy:
    data, smap = load_yaml_text(text, name)
    return _finish(data, smap, None)
