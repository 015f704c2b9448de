"""Load ``datasets/*.yaml`` into a resolved data map with located errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keepword.datamap.models import Collection, Dataset, Field_
from keepword.errors import InputError, Problem
from keepword.policy.canonical import canonical_json
from keepword.yamlsrc import SourceMap, load_yaml_file, load_yaml_text, validate_located


@dataclass(frozen=True, order=True)
class FieldAddress:
    """``dataset.collection.field``: one column of one store."""

    dataset: str
    collection: str
    field: str

    def __str__(self) -> str:
        return f"{self.dataset}.{self.collection}.{self.field}"

    @property
    def table(self) -> tuple[str, str]:
        return self.dataset, self.collection


@dataclass(frozen=True)
class LoadedDataset:
    dataset: Dataset
    source: SourceMap
    path: Path | None


@dataclass(frozen=True)
class DataMap:
    """All datasets of a deployment, with their sources and a content version."""

    datasets: dict[str, LoadedDataset]
    version: str

    def dataset(self, key: str) -> Dataset:
        return self.datasets[key].dataset

    def collection(self, dataset: str, collection: str) -> Collection:
        return self.datasets[dataset].dataset.collections[collection]

    def field(self, addr: FieldAddress) -> Field_:
        return self.collection(addr.dataset, addr.collection).fields[addr.field]

    def fields(self) -> Iterator[tuple[FieldAddress, Field_]]:
        for dkey, loaded in self.datasets.items():
            for ckey, coll in loaded.dataset.collections.items():
                for fkey, fld in coll.fields.items():
                    yield FieldAddress(dkey, ckey, fkey), fld

    def resolve_ref(self, dataset: str, ref: str) -> FieldAddress:
        """``collection.field`` (same dataset) or ``dataset.collection.field``."""
        parts = ref.split(".")
        return FieldAddress(dataset, *parts) if len(parts) == 2 else FieldAddress(*parts)

    def exists(self, addr: FieldAddress) -> bool:
        ds = self.datasets.get(addr.dataset)
        coll = ds.dataset.collections.get(addr.collection) if ds else None
        return coll is not None and addr.field in coll.fields



def _reference_problems(dm: DataMap) -> list[Problem]:
    problems = []
    for addr, fld in dm.fields():
        smap = dm.datasets[addr.dataset].source
        for i, ref in enumerate(fld.references):
            target = dm.resolve_ref(addr.dataset, ref)
            if not dm.exists(target):
                problems.append(Problem(
                    f"reference to {ref!r}: no such field in the data map",
                    smap.locate(("collections", addr.collection, "fields", addr.field,
                                 "references", i)), code="missing_reference"))
    return problems


def build_datamap(loaded: list[LoadedDataset]) -> DataMap:
    """Index datasets, reject duplicates and dangling references, version the map."""
    by_key: dict[str, LoadedDataset] = {}
    for item in loaded:
        key = item.dataset.dataset
        if key in by_key:
            raise InputError(Problem(f"dataset {key!r} is declared twice (also in "
                                     f"{by_key[key].source.file})",
                                     item.source.locate(("dataset",)), code="duplicate_dataset"))
        by_key[key] = item
    digest = hashlib.sha256()
    for key in sorted(by_key):
        digest.update(canonical_json(by_key[key].dataset).encode())
    dm = DataMap(by_key, "sha256:" + digest.hexdigest())
    problems = _reference_problems(dm)
    if problems:
        raise InputError(problems)
    return dm


def load_dataset_file(path: Path) -> LoadedDataset:
    data, smap = load_yaml_file(path)
    if not isinstance(data, dict):
        raise InputError.at("a dataset file is a YAML mapping", path, line=1, column=1)
    return LoadedDataset(validate_located(Dataset, data, smap), smap, path)


def load_dataset_text(text: str, name: str = "<dataset>") -> LoadedDataset:
    data, smap = load_yaml_text(text, name)
    if not isinstance(data, dict):
        raise InputError.at("a dataset file is a YAML mapping", name, line=1, column=1)
    return LoadedDataset(validate_located(Dataset, data, smap), smap, None)


def load_datamap(path: str | Path) -> DataMap:
    """Load every ``*.yaml`` of a folder (or one file); all files' errors at once."""
    root = Path(path)
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")]) if root.is_dir() else [root]
    if not files:
        raise InputError.at("no dataset files (*.yaml) in this folder", root)
    loaded, problems = [], []
    for f in files:
        try:
            loaded.append(load_dataset_file(f))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return build_datamap(loaded)
