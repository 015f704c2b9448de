"""Convert data maps to and from Fides dataset YAML (fideslang ``Dataset``).

What Fides has a place for goes there: collections, fields, ``data_categories``,
``data_subjects``, and ``fides_meta`` ``identity``, ``primary_key``,
``data_type`` and ``references`` (exported without a direction: keepword walks
references both ways, as Fides does for undirected ones). What only keepword
knows (the store and its connection, erasure strategies, retention anchors,
tenant and administrator fields, key order, exact field types) goes in the
dataset's free-form ``meta`` mapping under ``keepword``, which Fides keeps as
it is, so import -> export -> import is lossless.

Fides files carry keys keepword has no use for (tags, data uses, masking
overrides...); they are ignored, as Fides itself ignores unknown keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from keepword.datamap.models import Dataset, Erasure, FieldType, StoreKind
from keepword.datamap.models import Field_ as KwField
from keepword.errors import InputError, Problem
from keepword.yamlsrc import (
    PathKey,
    SourceMap,
    load_yaml_file,
    load_yaml_text,
    validate_located,
    validation_problems,
)

# keepword type -> Fides data_type (Fides knows string, integer, float, boolean, object...)
_TO_FIDES = {FieldType.STRING: "string", FieldType.INTEGER: "integer",
             FieldType.FLOAT: "float", FieldType.BOOLEAN: "boolean", FieldType.JSON: "object"}
_FROM_FIDES = {"string": FieldType.STRING, "integer": FieldType.INTEGER,
               "float": FieldType.FLOAT, "boolean": FieldType.BOOLEAN,
               "object": FieldType.JSON, "object_id": FieldType.STRING}


# --- the subset of fideslang that keepword reads (unknown keys ignored, as Fides does) ---


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FidesReference(_Loose):
    dataset: str
    field: str
    direction: str | None = None


class FidesFieldMeta(_Loose):
    references: list[FidesReference] | None = None
    identity: str | None = None
    primary_key: bool | None = None
    data_type: str | None = None


class FidesField(_Loose):
    name: str
    description: str | None = None
    data_categories: list[str] | None = None
    fides_meta: FidesFieldMeta | None = None
    fidesops_meta: FidesFieldMeta | None = None  # the older spelling Fides still reads
    fields: list[FidesField] | None = None

    @property
    def meta(self) -> FidesFieldMeta:
        return self.fides_meta or self.fidesops_meta or FidesFieldMeta()


class FidesCollection(_Loose):
    name: str
    description: str | None = None
    data_categories: list[str] | None = None
    data_subjects: list[str] | None = None
    fields: list[FidesField]


class FidesDataset(_Loose):
    fides_key: str
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None
    data_categories: list[str] | None = None
    collections: list[FidesCollection]


class FidesFile(_Loose):
    dataset: list[FidesDataset]


# --- keepword's notes inside ``meta.keepword`` (strict: they are ours) -------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldNotes(_Strict):
    erasure: Erasure | None = None
    exception: str | None = None
    anchor: str | None = None
    belongs_to: str | None = None
    nullable: bool | None = None
    type: FieldType | None = None  # only when Fides has no such type (date, bytes...)
    references: list[str] | None = None  # only when a spelling would not survive


class CollectionNotes(_Strict):
    primary_key: list[str] | None = None  # only when composite (Fides sorts fields by name)
    tenant_field: str | None = None
    administered_by: str | None = None
    belongs_to: str | None = None
    fields: dict[str, FieldNotes] = {}


class KeepwordNotes(_Strict):
    format: int = 1
    store: dict[str, Any] | None = None
    collections: dict[str, CollectionNotes] = {}


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, [], {})}


# --- export ------------------------------------------------------------------------------


def _export_field(ds: Dataset, name: str, fld: KwField, pk: bool) -> tuple[dict[str, Any],
                                                                          dict[str, Any]]:
    refs = [ds.dataset + "." + r if r.count(".") == 1 else r for r in fld.references]
    meta = _compact({
        "identity": fld.identity, "primary_key": True if pk else None,
        "data_type": _TO_FIDES.get(fld.type) if fld.type else None,
        "references": [{"dataset": r.split(".", 1)[0], "field": r.split(".", 1)[1]}
                       for r in refs],
    })
    out = _compact({"name": name, "description": fld.description,
                    "data_categories": list(fld.categories), "fides_meta": meta})
    own_long = any(r.count(".") == 2 and r.split(".")[0] == ds.dataset for r in fld.references)
    notes = _compact({
        "erasure": fld.erasure.value if fld.erasure else None, "exception": fld.exception,
        "anchor": fld.anchor, "belongs_to": fld.belongs_to, "nullable": fld.nullable,
        "type": fld.type.value if fld.type and fld.type not in _TO_FIDES else None,
        "references": list(fld.references) if own_long else None,
    })
    return out, notes


def export_dataset(ds: Dataset) -> dict[str, Any]:
    """One keepword dataset as one fideslang ``Dataset`` mapping."""
    collections, notes = [], {}
    for ckey, coll in ds.collections.items():
        fields, field_notes = [], {}
        for fkey, fld in coll.fields.items():
            out, fnotes = _export_field(ds, fkey, fld, fkey in coll.primary_key)
            fields.append(out)
            if fnotes:
                field_notes[fkey] = fnotes
        collections.append(_compact({
            "name": ckey, "description": coll.description,
            "data_subjects": [coll.subject] if coll.subject else None, "fields": fields}))
        cnotes = _compact({
            "primary_key": list(coll.primary_key) if len(coll.primary_key) > 1 else None,
            "tenant_field": coll.tenant_field, "administered_by": coll.administered_by,
            "belongs_to": coll.belongs_to,
            "fields": field_notes})
        if cnotes:
            notes[ckey] = cnotes
    store = ds.store.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    keepword = _compact({"format": 1, "store": store, "collections": notes})
    return _compact({"fides_key": ds.dataset, "name": ds.name, "description": ds.description,
                     "meta": {"keepword": keepword}, "collections": collections})


def export_fides(datasets: Iterable[Dataset]) -> dict[str, Any]:
    return {"dataset": [export_dataset(ds) for ds in datasets]}


def export_fides_yaml(datasets: Iterable[Dataset]) -> str:
    return yaml.safe_dump(export_fides(datasets), sort_keys=False, allow_unicode=True)


# --- import ------------------------------------------------------------------------------


@dataclass
class FidesImport:
    datasets: list[Dataset]
    warnings: list[Problem] = field(default_factory=list)


def _flatten_categories(fld: FidesField) -> list[str]:
    cats = list(fld.data_categories or [])
    for sub in fld.fields or []:
        cats += [c for c in _flatten_categories(sub) if c not in cats]
    return cats


def _field_type(fld: FidesField, notes: FieldNotes) -> str | None:
    if notes.type:
        return notes.type.value
    raw = fld.meta.data_type
    if raw is None:
        return FieldType.JSON.value if fld.fields else None
    if raw.endswith("[]"):
        return FieldType.JSON.value
    found = _FROM_FIDES.get(raw)
    return found.value if found else None


def _import_field(ds_key: str, fld: FidesField, notes: FieldNotes,
                  inherited: list[str]) -> dict[str, Any]:
    meta = fld.meta
    refs = notes.references
    if refs is None:
        refs = [r.field if r.dataset == ds_key else f"{r.dataset}.{r.field}"
                for r in meta.references or []]
    categories = _flatten_categories(fld) or list(inherited)
    data = {
        "description": fld.description, "categories": categories, "identity": meta.identity,
        "references": refs, "type": _field_type(fld, notes),
        **notes.model_dump(exclude={"type", "references"}, mode="json"),
    }
    return _compact(data)


@dataclass
class _Importer:
    smap: SourceMap
    default_kind: StoreKind
    warnings: list[Problem] = field(default_factory=list)

    def warn(self, msg: str, path: PathKey) -> None:
        self.warnings.append(Problem(msg, self.smap.locate(path), code="fides_import",
                                     severity="warning"))

    def notes(self, fds: FidesDataset, at: PathKey) -> KeepwordNotes:
        raw = (fds.meta or {}).get("keepword")
        if raw is None:
            return KeepwordNotes()
        base: PathKey = (*at, "meta", "keepword")
        try:
            return KeepwordNotes.model_validate(raw)
        except ValidationError as exc:
            located = validation_problems(exc, SourceMap(self.smap.file))
            raise InputError([Problem(p.message, self.smap.locate((*base, *p.location.path)),
                                      code=p.code) for p in located]) from None

    def collection(self, ds_key: str, coll: FidesCollection, notes: CollectionNotes,
                   at: PathKey) -> dict[str, Any]:
        if coll.data_categories:
            self.warn("collection-level data_categories apply to each of its fields that has "
                      "none of its own", (*at, "data_categories"))
        if len(coll.data_subjects or []) > 1:
            self.warn("keepword keeps one data subject per collection: the first",
                      (*at, "data_subjects"))
        fields: dict[str, Any] = {}
        for j, fld in enumerate(coll.fields):
            if fld.fields:
                self.warn(f"nested fields of {coll.name}.{fld.name} become one json column",
                          (*at, "fields", j, "fields"))
            fields[fld.name] = _import_field(ds_key, fld, notes.fields.get(fld.name,
                                             FieldNotes()), coll.data_categories or [])
        pk = notes.primary_key or [f.name for f in coll.fields if f.meta.primary_key]
        if not pk and "id" in fields:
            self.warn(f"collection {coll.name!r} marks no primary key; using its 'id' field",
                      at)
            pk = ["id"]
        if not pk:
            raise InputError(Problem(
                f"collection {coll.name!r} has no primary key: mark its key fields with "
                "'fides_meta: {primary_key: true}'", self.smap.locate(at), code="missing"))
        return _compact({
            "description": coll.description,
            "subject": coll.data_subjects[0] if coll.data_subjects else None, "primary_key": pk,
            "tenant_field": notes.tenant_field, "administered_by": notes.administered_by,
            "belongs_to": notes.belongs_to,
        }) | {"fields": fields}

    def dataset(self, fds: FidesDataset, i: int) -> Dataset:
        at: PathKey = ("dataset", i)
        notes = self.notes(fds, at)
        if fds.data_categories:
            self.warn("dataset-level data_categories are not kept; annotate fields instead",
                      (*at, "data_categories"))
        store = notes.store
        if store is None:
            env = fds.fides_key.upper().replace("-", "_").replace(".", "_") + "_URL"
            store = {"kind": self.default_kind.value, "connection": {"env": env}}
            self.warn(f"no keepword store in meta: {self.default_kind.value}, URL from "
                      f"environment variable {env}", (*at, "fides_key"))
        index = {c.name: j for j, c in enumerate(fds.collections)}
        data = _compact({"dataset": fds.fides_key, "name": fds.name,
                         "description": fds.description, "store": store})
        data["collections"] = {
            c.name: self.collection(fds.fides_key, c,
                                    notes.collections.get(c.name, CollectionNotes()),
                                    (*at, "collections", index[c.name]))
            for c in fds.collections}
        return self.validate(data, fds, at)

    def validate(self, data: dict[str, Any], fds: FidesDataset, at: PathKey) -> Dataset:
        try:
            return Dataset.model_validate(data)
        except ValidationError as exc:
            raise InputError([_relocate(p, fds, at, self.smap)
                              for p in validation_problems(exc, SourceMap(self.smap.file))]
                             ) from None


def _relocate(problem: Problem, fds: FidesDataset, at: PathKey, smap: SourceMap) -> Problem:
    """Point a keepword validation problem at the Fides entry it came from."""
    kw_path = problem.location.path
    path: PathKey = at
    if kw_path[:1] == ("store",):
        path = (*at, "meta", "keepword", *kw_path)
    if len(kw_path) >= 2 and kw_path[0] == "collections":
        names = [c.name for c in fds.collections]
        if kw_path[1] in names:
            cj = names.index(str(kw_path[1]))
            path = (*at, "collections", cj)
            fnames = [f.name for f in fds.collections[cj].fields]
            if len(kw_path) >= 4 and kw_path[2] == "fields" and kw_path[3] in fnames:
                path = (*path, "fields", fnames.index(str(kw_path[3])))
    keepword_field = problem.location.field_path()
    return Problem(f"{problem.message} (keepword field {keepword_field})", smap.locate(path),
                   code=problem.code)


def import_fides(data: Any, smap: SourceMap, *, default_kind: StoreKind = StoreKind.SQLITE
                 ) -> FidesImport:
    """Fides dataset YAML (parsed, with its source map) -> keepword datasets."""
    if not isinstance(data, dict):
        raise InputError.at("a Fides dataset file is a mapping with a 'dataset' list",
                            smap.file, line=1, column=1)
    parsed = validate_located(FidesFile, data, smap)
    importer = _Importer(smap, default_kind)
    datasets, problems = [], []
    for i, fds in enumerate(parsed.dataset):
        try:
            datasets.append(importer.dataset(fds, i))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return FidesImport(datasets, importer.warnings)


def import_fides_text(text: str, name: str = "<fides>", *,
                      default_kind: StoreKind = StoreKind.SQLITE) -> FidesImport:
    data, smap = load_yaml_text(text, name)
    return import_fides(data, smap, default_kind=default_kind)


def import_fides_file(path: Path, *, default_kind: StoreKind = StoreKind.SQLITE) -> FidesImport:
    data, smap = load_yaml_file(path)
    return import_fides(data, smap, default_kind=default_kind)


def dataset_yaml(ds: Dataset) -> str:
    """A keepword ``datasets/<key>.yaml`` file for ``ds`` (defaults left out)."""
    data = ds.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_datasets(datasets: Iterable[Dataset], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ds in datasets:
        path = out_dir / f"{ds.dataset}.yaml"
        path.write_text(dataset_yaml(ds), encoding="utf-8")
        written.append(path)
    return written
