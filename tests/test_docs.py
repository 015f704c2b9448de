"""Documentation lives with the code: an undocumented command or field fails here."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from keepword.cli import app
from keepword.datamap.models import Dataset
from keepword.policy.models import Policy

DOCS = Path(__file__).resolve().parents[1] / "docs"


def command_paths(cmd: Any, prefix: str) -> Iterator[str]:
    subcommands = getattr(cmd, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from command_paths(sub, f"{prefix} {name}")
    else:
        yield prefix


def _models_in(annotation: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """(suffix, model) for models inside an annotation: list -> [], dict -> .*"""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation
    elif origin in (list, set, frozenset, tuple):
        for arg in args:
            for suffix, model in _models_in(arg):
                yield "[]" + suffix, model
    elif origin is dict:
        for suffix, model in _models_in(args[1]):
            yield ".*" + suffix, model
    elif origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            yield from _models_in(arg)


def field_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        yield path
        for suffix, sub in _models_in(info.annotation):
            yield from field_paths(sub, path + suffix)


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    headings = set(re.findall(r"^#+ (keepword[\w\- ]*?)\s*$", text, re.M))
    root = typer.main.get_command(app)
    missing = [p for p in command_paths(root, "keepword") if p not in headings]
    assert not missing, f"undocumented commands in docs/cli.md: {missing}"


@pytest.mark.parametrize(("model", "doc"), [(Policy, "policy.md"), (Dataset, "datamap.md")])
def test_every_format_field_is_documented(model: type[BaseModel], doc: str) -> None:
    text = (DOCS / doc).read_text()
    missing = [p for p in field_paths(model) if f"`{p}`" not in text]
    assert not missing, f"fields missing from docs/{doc}: {missing}"
