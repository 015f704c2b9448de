"""The disclosure log (Art. 15(1)(c)) and integrations that can be uninstalled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keepword.decide import Decider, Denied, Subject
from keepword.disclosures import DisclosureRow, disclosures_for
from keepword.errors import InputError
from keepword.policy import load_policy
from keepword.runtime import Keepword
from tests.decide.conftest import policy_path

ADA = Subject.of(email="ada@example.com", phone="+442079460123", age=30, tenant="acme")


@pytest.fixture
def decider(kw: Keepword) -> Decider:
    return Decider(load_policy(policy_path("ikcon_like")), kw, ttl=3600)


def test_every_disclosure_is_logged_audited_and_exported(decider: Decider,
                                                         kw: Keepword) -> None:
    decider.disclose(ADA, "hosting", "essential.service", ["user.name", "user.contact.email"],
                     by="billing-job")
    decider.ledger.give(ADA, ["partner_services", "recipient:partners"])
    decider.disclose(ADA, "partners", "partner_services", "user.contact.phone_number")
    with kw.control.session() as session:
        by_phone = disclosures_for(session, Subject.of(phone="+442079460123").refs(kw.hasher))
        both = disclosures_for(session, ADA.refs(kw.hasher))
        stored = session.execute(select(DisclosureRow)).scalars().all()
    assert both == by_phone  # found by any identity, each disclosure once
    assert [(d.recipient, d.purpose, d.categories, d.legal_basis) for d in both] == [
        ("hosting", "essential.service", ("user.name", "user.contact.email"), "contract"),
        ("partners", "partner_services", ("user.contact.phone_number",), "contract")]
    assert both[0].as_dict()["at"]
    assert len(stored) == 4  # two identity references per disclosure
    with kw.control.engine.connect() as conn:
        audited = [e for e in kw.audit.entries(conn) if e["action"] == "disclosure"]
    assert [(e["object"][1], e["details"]["purpose"], e["actor"]) for e in audited] == [
        ("hosting", "essential.service", "billing-job"),
        ("partners", "partner_services", "system")]
    assert "ada@example.com" not in str(audited)


def test_a_denied_disclosure_is_not_logged(decider: Decider, kw: Keepword) -> None:
    with pytest.raises(Denied) as err:
        decider.disclose(ADA, "partners", "partner_services", ["user.name"])
    assert [r.clause for r in err.value.reasons] == ["recipients.partners.requires_consent"]
    with kw.control.session() as session:
        assert disclosures_for(session, ADA.refs(kw.hasher)) == []


def test_uninstall_stops_every_further_disclosure_and_is_audited(decider: Decider,
                                                                 kw: Keepword) -> None:
    ask = ("calendar", "essential.service", ["user.name"])
    decider.install("calendar", organisation="acme", actor="admin@acme")
    decider.disclose(ADA, *ask)
    decider.uninstall("calendar", subject=ADA, actor="subject")
    with pytest.raises(Denied, match="uninstalled"):
        decider.disclose(ADA, *ask)
    other = Subject.of(email="bob@example.com", age=30, tenant="acme")
    decider.disclose(other, *ask)  # the organisation's install still holds for Bob
    decider.uninstall("calendar", organisation="acme")
    with pytest.raises(Denied):
        decider.disclose(other, *ask)
    with kw.control.engine.connect() as conn:
        actions = [(e["action"], e["details"].get("scope")) for e in kw.audit.entries(conn)
                   if e["action"].startswith("integration.")]
    assert actions == [("integration.installed", "organisation"),
                       ("integration.uninstalled", "subject"),
                       ("integration.uninstalled", "organisation")]
    with kw.control.session() as session:
        assert len(disclosures_for(session, ADA.refs(kw.hasher))) == 1


def test_only_declared_integrations_can_be_installed(decider: Decider) -> None:
    with pytest.raises(InputError, match="not an integration"):
        decider.install("hosting", organisation="acme")
    with pytest.raises(InputError, match="not an integration"):
        decider.uninstall("slack", organisation="acme")
    with pytest.raises(InputError, match="subject or an organisation"):
        decider.install("calendar")


def test_one_statement_reads_state_and_disclosures_as_the_two_readers_do(kw: Keepword) -> None:
    """The access path's combined read gives exactly ``current_state`` and
    ``disclosures_for``: restrictions set and lifted in order, disclosures with their
    categories, other people's left out -- on each control-store backend."""
    from keepword.disclosures import record_disclosure, state_and_disclosures
    from keepword.subject_state import StateAction, StateKind, current_state, record

    ada = [kw.hasher.ref("email", "ada@example.com"), kw.hasher.ref("phone", "+44")]
    bob = [kw.hasher.ref("email", "bob@example.com")]
    with kw.control.session() as s:
        record(s, ada, StateKind.RESTRICTION, StateAction.SET, "disputed")
        record(s, ada, StateKind.OBJECTION, StateAction.SET, "no ads", scope="marketing")
        record(s, ada, StateKind.RESTRICTION, StateAction.LIFT, "settled")
        record(s, bob, StateKind.RESTRICTION, StateAction.SET, "bob's")
        for who, recipient in ((ada, "mailer"), (ada, "crm"), (bob, "other")):
            record_disclosure(s, kw.audit, refs=who, recipient=recipient, purpose="marketing",
                              categories=["user.contact.email", "user.name"],
                              legal_basis="consent")
    with kw.control.session() as s:
        together = state_and_disclosures(s, ada)
        apart = (current_state(s, ada), disclosures_for(s, ada))
        nobody = state_and_disclosures(s, [])
    assert together == apart
    assert [r.scope for r in together[0].restrictions] == ["marketing"]
    assert [d.recipient for d in together[1]] == ["mailer", "crm"]
    assert together[1][0].categories == ("user.contact.email", "user.name")
    assert nobody == (apart[0].__class__(), [])
