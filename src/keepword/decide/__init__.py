"""The policy decision point.

``keepword.decide`` is this package *and* the SDK's module-level function:
calling the package, ``keepword.decide(subject, purpose, categories, ...)``,
forwards to :func:`keepword.sdk.decide` (the decider installed with
``keepword.sdk.use``). Typed code can import ``keepword.sdk.decide`` directly.
Names are imported lazily so that ``import keepword`` stays cheap.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from keepword import sdk as _sdk

if TYPE_CHECKING:
    from keepword.decide.decider import Decider
    from keepword.decide.reasons import Decision, Denied, Reason
    from keepword.decide.subject import Actor, Subject

_LAZY = {
    "Decider": "keepword.decide.decider",
    "Decision": "keepword.decide.reasons",
    "Denied": "keepword.decide.reasons",
    "Reason": "keepword.decide.reasons",
    "Actor": "keepword.decide.subject",
    "Subject": "keepword.decide.subject",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Decision:
        return _sdk.decide(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["Actor", "Decider", "Decision", "Denied", "Reason", "Subject"]
