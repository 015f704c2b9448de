"""YAML loading that remembers where every value came from.

PyYAML's composer gives nodes with marks; we build plain Python data from the
node tree and keep a map from field path to (line, column), so that pydantic
validation errors (which carry a ``loc`` path) can be reported at the right
line. Duplicate keys are errors: a repeated key would silently drop a promise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from keepword.errors import InputError, Location, Problem

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass
class SourceMap:
    """Positions (1-based line, column) of every mapping key and value."""

    file: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location:
        """The location of ``path`` or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            pos = self.positions.get(probe)
            if pos is not None:
                return Location(self.file, pos[0], pos[1], tuple(path))
            probe = probe[:-1]
        pos = self.positions.get(())
        return Location(self.file, pos[0] if pos else None, pos[1] if pos else None, tuple(path))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct(node: yaml.Node, path: PathKey, smap: SourceMap, loader: yaml.SafeLoader) -> Any:
    smap.positions.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool | float):
                raise InputError(Problem("mapping keys must be plain scalars",
                                         Location(smap.file, *_mark(key_node), path)))
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                raise InputError(Problem(f"duplicate key {key!r}",
                                         Location(smap.file, *_mark(key_node), (*path, key))))
            smap.positions[(*path, key)] = _mark(key_node)
            out[key] = _construct(value_node, (*path, key), smap, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), smap, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# libyaml parses ~3x faster (large data maps); PyYAML words syntax errors the way
# the corpus pins them, so a file libyaml rejects is parsed again by PyYAML.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document; syntax errors become located ``InputError``."""
    try:
        return _load_with(_FAST_LOADER, text, file)
    except InputError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _load_with(yaml.SafeLoader, text, file)


def _load_with(loader_class: type[yaml.SafeLoader], text: str, file: str
               ) -> tuple[Any, SourceMap]:
    smap = SourceMap(file)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(Problem("the file is empty", Location(file, 1, 1)))
        return _construct(node, (), smap, loader), smap
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        reason = exc.problem or exc.context or "malformed YAML"
        raise InputError(Problem(f"malformed YAML: {reason}", Location(file, line, col))) from None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors in practice
        raise InputError(Problem(f"malformed YAML: {type(exc).__name__}", Location(file))) from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> tuple[Any, SourceMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem("file not found", Location(str(path)))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(f"cannot read file ({type(exc).__name__})",
                                 Location(str(path)))) from None
    return load_yaml_text(text, str(path))


_PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown key (check the spelling; unknown keys are never ignored)",
    "missing": "required field is missing",
}


def validation_problems(exc: ValidationError, smap: SourceMap) -> list[Problem]:
    """Turn pydantic errors into located problems, never echoing input values."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = _PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        problems.append(Problem(msg, smap.locate(loc), code=err["type"]))
    return problems


def validate_located(model: type[M], data: Any, smap: SourceMap,
                                   context: dict[str, Any] | None = None) -> M:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, smap)) from None
