"""jsoncodec: keepword's JSON, the same whichever encoder ran."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepword import jsoncodec

SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
NESTED = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.sets(st.integers() | st.text(max_size=5), max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


def _listed(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return [_listed(v) for v in value]
    if isinstance(value, list | tuple):
        return [_listed(v) for v in value]
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    return value


@given(NESTED)
def test_sets_are_written_as_arrays_in_their_order(data: Any) -> None:
    """``dumps_sets`` writes each set as the array of its members (iteration order);
    everything else exactly as ``dumps`` -- big integers too (the fallback encoder)."""
    assert jsoncodec.dumps_sets(data) == jsoncodec.dumps(_listed(data))
    assert jsoncodec.loads(jsoncodec.dumps_sets(data)) == jsoncodec.loads(
        jsoncodec.dumps(_listed(data)))


def test_what_json_cannot_hold_is_still_refused() -> None:
    with pytest.raises(TypeError):
        jsoncodec.dumps_sets({"x": object()})
    with pytest.raises(TypeError):
        jsoncodec.dumps({"x": {1, 2}})  # (plain dumps: a set is a mistake)
