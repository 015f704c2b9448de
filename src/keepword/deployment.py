"""A deployment: one policy and its data map, as found in a folder.

Layout: ``<folder>/policy.yaml`` and ``<folder>/datasets/*.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from keepword.datamap import DataMap, load_datamap
from keepword.errors import InputError, Problem
from keepword.policy import LoadedPolicy, load_policy
from keepword.stores import StoreResolver


@dataclass
class Deployment:
    root: Path
    policy: LoadedPolicy
    datamap: DataMap
    stores: StoreResolver

    @property
    def name(self) -> str:
        return self.policy.policy.organisation.name

    @cached_property
    def key(self) -> str:
        """The folder's absolute path: how requests name their deployment (resolved once:
        every request recorded asks)."""
        return str(self.root.resolve())

    @cached_property
    def data_key(self) -> str:
        """Where relative SQLite paths of the data map resolve, absolute."""
        return str((self.stores.base_dir or Path.cwd()).resolve())

    def close(self) -> None:
        self.stores.dispose()


def load_deployment(root: str | Path, *, environ: Mapping[str, str] | None = None,
                    data_dir: Path | None = None) -> Deployment:
    """Load policy and data map; problems of both files are reported together."""
    folder = Path(root)
    problems: list[Problem] = []
    policy: LoadedPolicy | None = None
    datamap: DataMap | None = None
    try:
        policy = load_policy(folder / "policy.yaml")
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        datamap = load_datamap(folder / "datasets")
    except InputError as exc:
        problems.extend(exc.problems)
    if problems or policy is None or datamap is None:
        raise InputError(problems)
    return Deployment(folder, policy, datamap, StoreResolver(environ, data_dir or Path.cwd()))
