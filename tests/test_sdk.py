"""The SDK: nothing configured at import; an explicit decider; guards before the code runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import keepword
from keepword import sdk
from keepword.decide import Decider, Denied, Subject
from keepword.runtime import Keepword
from keepword.settings import load_settings
from tests.decide.conftest import policy_path

ADA = Subject.of(email="ada@example.com", age=30)


@pytest.fixture
def decider(tmp_path: Path) -> Iterator[Decider]:
    runtime = Keepword(load_settings(home=tmp_path / "home",
                                     control_url=f"sqlite:///{tmp_path / 'control.db'}"))
    yield Decider.from_deployment(policy_path("ikcon_like"), runtime)
    sdk.reset()
    runtime.close()


def test_import_is_cheap_and_configures_nothing() -> None:
    code = ("import sys, keepword; "
            "heavy = [m for m in ('sqlalchemy', 'pydantic', 'keepword.decide', 'typer') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names() -> None:
    assert keepword.Decider is Decider
    assert keepword.Decision.__name__ == "Decision"
    assert keepword.guard is sdk.guard
    assert keepword.Subject is Subject
    with pytest.raises(AttributeError):
        _ = keepword.nothing_here


def test_decide_without_a_decider_is_a_clear_error() -> None:
    sdk.reset()
    with pytest.raises(sdk.NoDecider, match="no decider installed"):
        keepword.decide(ADA, "essential.service", ["user.name"])


def test_module_level_decide_uses_the_installed_decider(decider: Decider) -> None:
    sdk.use(decider)
    assert keepword.decide(ADA, "essential.service", ["user.name"])
    assert not keepword.decide(ADA, "marketing_email", ["user.name"])
    assert not sdk.decide(ADA, "marketing_email", ["user.name"])


def test_use_as_a_context_manager_restores_the_previous(decider: Decider,
                                                        tmp_path: Path) -> None:
    sdk.reset()
    with sdk.use(decider) as active:
        assert active is decider and sdk.current() is decider
    with pytest.raises(sdk.NoDecider):
        sdk.current()
    other = Decider(decider.policy, decider.runtime)
    sdk.use(other)
    with sdk.use(decider):
        assert sdk.current() is decider
    assert sdk.current() is other


def test_guard_decorator_refuses_before_the_function_runs(decider: Decider) -> None:
    sdk.use(decider)
    sent: list[str] = []

    @keepword.guard("marketing_email", ["user.contact.email"])
    def send_offer(subject: Subject, text: str) -> str:
        sent.append(text)
        return "sent"

    with pytest.raises(Denied) as err:
        send_offer(ADA, "50% off")
    assert sent == []
    assert [r.clause for r in err.value.reasons] == ["purposes.marketing_email.legal_basis"]
    decider.ledger.give(ADA, "marketing_email")
    assert send_offer(text="50% off", subject=ADA) == "sent"
    assert sent == ["50% off"]


def test_guard_async_and_context_manager(decider: Decider) -> None:
    @sdk.guard("marketing_email", "user.contact.email", decider=decider, subject_arg="who")
    async def send(who: Subject) -> str:
        return "sent"

    with pytest.raises(Denied):
        asyncio.run(send(ADA))
    decider.ledger.give(ADA, "marketing_email")
    assert asyncio.run(send(ADA)) == "sent"
    with sdk.guard("marketing_email", ["user.name"], subject=ADA, decider=decider) as decision:
        assert decision.allowed
    decider.ledger.withdraw(ADA, "marketing_email")
    ran = False
    with pytest.raises(Denied), sdk.guard("marketing_email", ["user.name"], subject=ADA,
                                          decider=decider):
        ran = True
    assert not ran


def test_guard_needs_a_subject_parameter() -> None:
    with pytest.raises(TypeError, match="no 'subject' parameter"):
        @sdk.guard("marketing_email", ["user.name"])
        def nothing() -> None: ...
