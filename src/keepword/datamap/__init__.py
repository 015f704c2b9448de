"""The data map: stores, collections, fields and how they join."""

from keepword.datamap.load import (
    DataMap,
    FieldAddress,
    LoadedDataset,
    build_datamap,
    load_datamap,
    load_dataset_file,
    load_dataset_text,
)
from keepword.datamap.models import Collection, Dataset, Erasure, Field_, Store, StoreKind

__all__ = [
    "Collection",
    "DataMap",
    "Dataset",
    "Erasure",
    "FieldAddress",
    "Field_",
    "LoadedDataset",
    "Store",
    "StoreKind",
    "build_datamap",
    "load_datamap",
    "load_dataset_file",
    "load_dataset_text",
]
