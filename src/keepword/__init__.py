"""keepword: privacy policies as code, kept against real databases."""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported at run time: it costs milliseconds
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

# The SDK's names, imported on first use so that ``import keepword`` stays cheap.
# ``keepword.decide`` is the decision package, callable as the SDK function.
_LAZY = {
    "decide": ("keepword.decide", None),
    "Decider": ("keepword.decide.decider", "Decider"),
    "Decision": ("keepword.decide.reasons", "Decision"),
    "Denied": ("keepword.decide.reasons", "Denied"),
    "Subject": ("keepword.decide.subject", "Subject"),
    "guard": ("keepword.sdk", "guard"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    loaded = __import__(module, fromlist=["__name__"])  # the submodule itself
    return loaded if attr is None else getattr(loaded, attr)
