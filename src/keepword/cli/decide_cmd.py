"""``keepword decide`` and ``keepword integration install|uninstall``.

Also registers the consent and preference commands (``consent_cmd``), so the
CLI app lists one module for this whole concept.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from keepword.cli import consent_cmd
from keepword.cli.common import HomeOption, JsonOption, console, print_json, report_errors, runtime
from keepword.cli.consent_cmd import PolicyOption, SubjectOption, build_decider, build_subject

PurposeOption = typer.Option(..., "--purpose", help="Purpose key (or a data use).")
CategoryOption = typer.Option(..., "--category", help="Data category key; repeatable.")
RecipientOpt = typer.Option(None, "--recipient", help="Recipient key, for a disclosure.")
TenantOption = typer.Option(None, "--tenant", help="Tenant or organisation owning the data.")
ActorOpt = typer.Option(None, "--actor", help="Who acts: user:<tenant>, system_administrator, "
                                              "partner...")
AgeOption = typer.Option(None, "--age", help="The subject's age, if known.")
BirthOption = typer.Option(None, "--birth-date", formats=["%Y-%m-%d"],
                           help="Or the subject's birth date (YYYY-MM-DD).")
KindOption = typer.Option(None, "--kind", help="Subject kind of the policy (customer...).")


@report_errors
def decide(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
           purpose: str = PurposeOption, category: list[str] = CategoryOption,
           recipient: str | None = RecipientOpt, tenant: str | None = TenantOption,
           actor: str | None = ActorOpt, age: int | None = AgeOption,
           birth_date: datetime | None = BirthOption, kind: str | None = KindOption,
           home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """ALLOW or DENY, with the policy clauses that decided (exit 0 allow, 1 deny)."""
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        who = build_subject(subject, age=age, birth_date=birth_date, tenant=tenant, kind=kind)
        decision = decider.decide(who, purpose, category, recipient=recipient, tenant=tenant,
                                  actor=actor)
    if as_json:
        print_json(decision.as_dict())
    else:
        style = "bold green" if decision.allowed else "bold red"
        lines = str(decision).splitlines()
        console.print(f"[{style}]{lines[0]}[/]", highlight=False)
        for line in lines[1:]:
            console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if decision.allowed else 1)


integration_app = typer.Typer(help="Integrations a subject or an organisation installed.",
                              no_args_is_help=True)
ScopeSubject = typer.Option(None, "--subject", help="For one subject (kind=value).")
ScopeOrg = typer.Option(None, "--organisation", help="For a whole organisation (tenant).")
ByOption = typer.Option("cli", "--actor", help="Who does it (kept in the audit log).")
IntegrationOption = typer.Option(..., "--recipient", help="The integration's recipient key.")


def _integration(installed: bool, *, policy: Path, recipient: str,
                 subject: list[str] | None, organisation: str | None, actor: str,
                 home: Path | None) -> None:
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        who = build_subject(subject) if subject else None
        if installed:
            decider.install(recipient, subject=who, organisation=organisation, actor=actor)
        else:
            decider.uninstall(recipient, subject=who, organisation=organisation, actor=actor)
    scope = f"organisation {organisation}" if organisation else "the subject"
    verb = "installed" if installed else "uninstalled: no further disclosure"
    console.print(f"integration {recipient} {verb} for {scope}", highlight=False)


@integration_app.command("install")
@report_errors
def install(*, policy: Path = PolicyOption, recipient: str = IntegrationOption,
            subject: list[str] | None = ScopeSubject, organisation: str | None = ScopeOrg,
            actor: str = ByOption, home: Path | None = HomeOption) -> None:
    """Record that an integration was installed (disclosures to it may start)."""
    _integration(True, policy=policy, recipient=recipient, subject=subject,
                 organisation=organisation, actor=actor, home=home)


@integration_app.command("uninstall")
@report_errors
def uninstall(*, policy: Path = PolicyOption, recipient: str = IntegrationOption,
              subject: list[str] | None = ScopeSubject, organisation: str | None = ScopeOrg,
              actor: str = ByOption, home: Path | None = HomeOption) -> None:
    """Uninstall an integration: every further disclosure to it is denied (audited)."""
    _integration(False, policy=policy, recipient=recipient, subject=subject,
                 organisation=organisation, actor=actor, home=home)


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
    app.add_typer(integration_app, name="integration")
    consent_cmd.register(app)
