"""Deciders over small test policies and the two example deployments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keepword import subject_state
from keepword.decide import Decider, Subject
from keepword.policy import load_policy
from keepword.runtime import Keepword
from keepword.settings import load_settings

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def policy_path(name: str) -> Path:
    """``ikcon_like`` / ``iko_like`` (fixtures) or ``ikcon`` / ``iko`` (examples)."""
    fixture = FIXTURES / f"{name}.yaml"
    return fixture if fixture.exists() else EXAMPLES / name / "policy.yaml"


@pytest.fixture
def local_kw(tmp_path: Path) -> Iterator[Keepword]:
    """A runtime on a SQLite control store only (the decision tables run here; the
    control-store behaviour is tested on SQLite and PostgreSQL with ``kw``)."""
    runtime = Keepword(load_settings(home=tmp_path / "home",
                                     control_url=f"sqlite:///{tmp_path / 'control.db'}"))
    yield runtime
    runtime.close()


@pytest.fixture
def make_decider(local_kw: Keepword) -> Callable[..., Decider]:
    def make(name: str, **options: float) -> Decider:
        return Decider(load_policy(policy_path(name)), local_kw, **options)
    return make


def restrict(decider: Decider, subject: Subject, *, lift: bool = False,
             kind: subject_state.StateKind = subject_state.StateKind.RESTRICTION,
             scope: str = subject_state.ALL_PURPOSES) -> None:
    """What the requests code does when a subject disputes accuracy or objects."""
    kw = decider.runtime
    with kw.control.session() as session:
        subject_state.record(session, subject.refs(kw.hasher), kind,
                             subject_state.StateAction.LIFT if lift
                             else subject_state.StateAction.SET,
                             "accuracy disputed", scope=scope)
