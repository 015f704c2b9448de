"""The in-process SDK: decide, and guard application code by purpose.

Nothing is configured at import time. Build a ``Decider`` and install it::

    decider = Decider.from_deployment("examples/ikcon", runtime)
    keepword.sdk.use(decider)            # for the whole process, or
    with keepword.sdk.use(decider): ...  # for a block (restores the previous one)

then ``keepword.decide(subject, purpose, categories)`` answers from it, and
``guard(purpose, categories)`` refuses to run a function (or a block) before
the use is allowed, raising ``Denied`` with the reasons.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from keepword.errors import KeepwordError

if TYPE_CHECKING:
    from keepword.decide.decider import Decider
    from keepword.decide.reasons import Decision
    from keepword.decide.subject import Actor, Subject

P = ParamSpec("P")
R = TypeVar("R")

_process: list[Decider | None] = [None]  # set by use(); a context overrides it
_context: ContextVar[Decider | None] = ContextVar("keepword_decider", default=None)


class NoDecider(KeepwordError):
    """``keepword.decide`` was called before any decider was installed."""

    exit_code = 2

    def __init__(self) -> None:
        super().__init__("no decider installed: call keepword.sdk.use("
                         "Decider.from_deployment(folder, runtime)) first")


class use:
    """Install ``decider`` for the process (``use(d)``) or for a block (``with use(d):``).

    As a context manager it applies to the current thread or task only and puts
    back whatever was installed before.
    """

    def __init__(self, decider: Decider) -> None:
        self.decider = decider
        self._previous = _process[0]
        _process[0] = decider
        self._token: Token[Decider | None] | None = None

    def __enter__(self) -> Decider:
        _process[0] = self._previous  # the block's decider lives in the context only
        self._token = _context.set(self.decider)
        return self.decider

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _context.reset(self._token)


def current() -> Decider:
    """The decider in force (the block's, else the process's), or ``NoDecider``."""
    decider = _context.get() or _process[0]
    if decider is None:
        raise NoDecider()
    return decider


def reset() -> None:
    """Forget the process-wide decider (tests, shutdown)."""
    _process[0] = None


def decide(subject: Subject, purpose: str, categories: str | Sequence[str], *,
           recipient: str | None = None, tenant: str | None = None,
           actor: str | Actor | None = None) -> Decision:
    """Allow or deny, with reasons, from the installed decider."""
    return current().decide(subject, purpose, categories, recipient=recipient, tenant=tenant,
                            actor=actor)


class guard:
    """Refuse to run code unless ``purpose`` may use ``categories`` of the subject.

    As a decorator the subject is taken from the call's ``subject_arg``
    argument (default ``subject``)::

        @guard("marketing_email", ["user.contact.email"])
        def send_offer(subject: Subject, text: str) -> None: ...

    As a context manager the subject is given::

        with guard("marketing_email", ["user.contact.email"], subject=s):
            ...

    ``Denied`` (with the reasons) is raised before the guarded code runs.
    """

    def __init__(self, purpose: str, categories: str | Sequence[str], *,
                 subject: Subject | None = None, recipient: str | None = None,
                 tenant: str | None = None, actor: str | Actor | None = None,
                 subject_arg: str = "subject", decider: Decider | None = None) -> None:
        self.purpose, self.categories = purpose, categories
        self.subject, self.recipient, self.tenant, self.actor = subject, recipient, tenant, actor
        self.subject_arg, self.decider = subject_arg, decider

    def check(self, subject: Subject) -> Decision:
        decider = self.decider or current()
        return decider.check(subject, self.purpose, self.categories,
                             recipient=self.recipient, tenant=self.tenant, actor=self.actor)

    def __enter__(self) -> Decision:
        if self.subject is None:
            raise TypeError("guard(...) as a context manager needs subject=...")
        return self.check(self.subject)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        if self.subject is None and self.subject_arg not in signature.parameters:
            raise TypeError(f"guarded function {fn.__qualname__} has no "
                            f"{self.subject_arg!r} parameter")

        def subject_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Subject:
            if self.subject is not None:
                return self.subject
            bound = signature.bind_partial(*args, **kwargs)
            subject: Subject = bound.arguments[self.subject_arg]
            return subject

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                self.check(subject_of(args, kwargs))
                return await fn(*args, **kwargs)
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            self.check(subject_of(args, kwargs))
            return fn(*args, **kwargs)
        return run
