"""``keepword consent give|withdraw|show|receipt|gpc`` and ``keepword preferences ...``.

Giving and withdrawing are the same command with the opposite verb: withdrawing
is exactly as easy as giving (GDPR Art. 7(3)). Outputs never echo identities.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.table import Table

from keepword.cli.common import HomeOption, JsonOption, console, print_json, report_errors, runtime
from keepword.consent import gpc, receipts
from keepword.consent.ledger import Notice, Proof
from keepword.consent.preferences import CHANNELS, Preferences
from keepword.decide.decider import Decider
from keepword.decide.subject import Subject
from keepword.errors import InputError
from keepword.policy import load_policy
from keepword.runtime import Keepword

PolicyOption = typer.Option(..., "--policy", help="policy.yaml, or a deployment folder.")
SubjectOption = typer.Option(..., "--subject",
                             help="An identity as kind=value (email=..., phone=...); repeat "
                                  "for several identities of the same person.")


def build_decider(policy: Path, kw: Keepword) -> Decider:
    """A decider that reads the control store on every call (a CLI run is short)."""
    return Decider(load_policy(policy), kw, ttl=0)


def build_subject(identities: list[str], *, age: int | None = None,
                  birth_date: datetime | None = None, tenant: str | None = None,
                  kind: str | None = None) -> Subject:
    born: date | None = birth_date.date() if birth_date else None
    return Subject.parse(identities, age=age, birth_date=born, tenant=tenant, kind=kind)


consent_app = typer.Typer(help="The consent ledger: give, withdraw, show, receipts, GPC.",
                          no_args_is_help=True)
preferences_app = typer.Typer(help="Marketing preferences per channel, and last interest.",
                              no_args_is_help=True)

PurposeOption = typer.Option(..., "--purpose",
                             help="Purpose key, or recipient:<key> for a recipient's approval; "
                                  "repeatable.")
ChannelOption = typer.Option("cli", "--channel", help="Where the subject acted (web, app...).")
NoticeVersion = typer.Option(None, "--notice-version", help="Version of the notice shown.")
NoticeFile = typer.Option(None, "--notice-file", exists=True, dir_okay=False,
                          help="The exact notice text shown (its SHA-256 is stored).")
FormOption = typer.Option(None, "--form-id", help="Id of the form the subject used.")
IpOption = typer.Option(None, "--ip", help="The subject's IP address (stored only as a hash).")
ChannelArg = typer.Option(..., "--channel", help=f"One of {', '.join(CHANNELS)}.")
HistoryOption = typer.Option(False, "--history", help="Every event, not just the state.")
FormatOption = typer.Option("kantara", "--format",
                            help="kantara (Consent Receipt v1.1) or iso27560.")
OptInOption = typer.Option(..., "--opt-in/--opt-out", help="Receive marketing on this channel?")
SourceOption = typer.Option("cli", "--source", help="Where it was changed.")
AnyChannel = typer.Option("*", "--channel", help="A channel, or * for all.")


def _notice(version: str | None, text_file: Path | None) -> Notice | None:
    if text_file is not None:
        if version is None:
            raise InputError.at("--notice-file needs --notice-version", path=("notice",))
        return Notice.of_text(version, text_file.read_text(encoding="utf-8"))
    return Notice(version) if version else None


def _record(given: bool, *, policy: Path, subject: list[str], purpose: list[str],
            channel: str, notice_version: str | None, notice_file: Path | None,
            form_id: str | None, ip: str | None, home: Path | None, as_json: bool) -> None:
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        stored = decider.ledger.record(
            build_subject(subject), purpose, given=given, channel=channel,
            notice=_notice(notice_version, notice_file), proof=Proof(form_id, ip), actor="cli")
    verb = "given" if given else "withdrawn"
    if as_json:
        print_json({"consent": verb, "purposes": purpose, "events": stored})
    else:
        console.print(f"consent {verb}: {', '.join(purpose)} ({stored} events)",
                      highlight=False)


@consent_app.command("give")
@report_errors
def give(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
         purpose: list[str] = PurposeOption, channel: str = ChannelOption,
         notice_version: str | None = NoticeVersion, notice_file: Path | None = NoticeFile,
         form_id: str | None = FormOption, ip: str | None = IpOption,
         home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Record that the subject gave consent to one or more purposes."""
    _record(True, policy=policy, subject=subject, purpose=purpose, channel=channel,
            notice_version=notice_version, notice_file=notice_file, form_id=form_id, ip=ip,
            home=home, as_json=as_json)


@consent_app.command("withdraw")
@report_errors
def withdraw(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
             purpose: list[str] = PurposeOption, channel: str = ChannelOption,
             notice_version: str | None = NoticeVersion, notice_file: Path | None = NoticeFile,
             form_id: str | None = FormOption, ip: str | None = IpOption,
             home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Record that the subject withdrew consent (same options as give)."""
    _record(False, policy=policy, subject=subject, purpose=purpose, channel=channel,
            notice_version=notice_version, notice_file=notice_file, form_id=form_id, ip=ip,
            home=home, as_json=as_json)


@consent_app.command("show")
@report_errors
def show(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
         history: bool = HistoryOption,
         home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """The subject's current consent per purpose (derived from the events)."""
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        who = build_subject(subject)
        records = decider.ledger.history(who) if history else \
            list(decider.ledger.state(who).values())
    rows = [{"purpose": r.purpose, "given": r.given, "channel": r.channel, "at": r.at,
             "notice_version": r.notice_version} for r in records]
    if as_json:
        print_json(rows)
        return
    table = Table("purpose", "state", "channel", "at", "notice")
    for r in rows:
        table.add_row(str(r["purpose"]), "given" if r["given"] else "withdrawn",
                      str(r["channel"]), str(r["at"])[:19], str(r["notice_version"] or ""))
    console.print(table)


@consent_app.command("receipt")
@report_errors
def receipt(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
            fmt: str = FormatOption,
            home: Path | None = HomeOption) -> None:
    """Print the subject's consents as Kantara v1.1 receipts or ISO/IEC TS 27560 records."""
    if fmt not in ("kantara", "iso27560"):
        raise InputError.at("--format is kantara or iso27560", path=("format",))
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        who = build_subject(subject)
        events = decider.ledger.history(who)
        principal = who.refs(kw.hasher)[0]
    make = receipts.kantara_receipts if fmt == "kantara" else receipts.iso27560_records
    print_json(make(decider.policy, principal, events))


@consent_app.command("gpc")
@report_errors
def apply_gpc(*, policy: Path = PolicyOption, subject: list[str] = SubjectOption,
              home: Path | None = HomeOption, as_json: bool = JsonOption) -> None:
    """Apply a Global Privacy Control signal: opt out of sale, sharing, targeted ads."""
    with runtime(home) as kw:
        decider = build_decider(policy, kw)
        purposes = gpc.apply_gpc(decider.ledger, build_subject(subject))
    if as_json:
        print_json({"withdrawn": purposes})
    else:
        console.print("GPC applied; withdrawn: " + (", ".join(purposes) or "nothing (no "
                      "purpose is marked sale, share or advertising)"), highlight=False)




@preferences_app.command("set")
@report_errors
def set_preference(*, subject: list[str] = SubjectOption, channel: str = ChannelArg,
                   opt_in: bool = OptInOption, source: str = SourceOption,
                   home: Path | None = HomeOption) -> None:
    """Opt in or out of marketing on one channel (changeable at any time)."""
    with runtime(home) as kw:
        Preferences(kw).set(build_subject(subject), channel, opt_in, source=source)
    console.print(f"{channel}: {'opted in' if opt_in else 'opted out'}", highlight=False)


@preferences_app.command("interest")
@report_errors
def interest(*, subject: list[str] = SubjectOption,
             channel: str = AnyChannel, source: str = SourceOption,
             home: Path | None = HomeOption) -> None:
    """Record that the subject showed interest (resets the marketing retention clock)."""
    with runtime(home) as kw:
        Preferences(kw).interest(build_subject(subject), channel, source=source)
    console.print(f"interest recorded ({channel})", highlight=False)


@preferences_app.command("show")
@report_errors
def show_preferences(*, subject: list[str] = SubjectOption, home: Path | None = HomeOption,
                     as_json: bool = JsonOption) -> None:
    """Each channel's preference and the subject's last interest."""
    with runtime(home) as kw:
        prefs = Preferences(kw).get(build_subject(subject))
    rows = [{"channel": p.channel, "opted_in": p.opted_in, "changed_at": p.changed_at,
             "last_interest": p.last_interest} for p in prefs.values()]
    if as_json:
        print_json(rows)
        return
    for p in prefs.values():
        state = {True: "opted in", False: "opted out", None: "not chosen"}[p.opted_in]
        last = p.last_interest.isoformat()[:19] if p.last_interest else "never"
        console.print(f"{p.channel:<6} {state:<11} last interest: {last}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(consent_app, name="consent")
    app.add_typer(preferences_app, name="preferences")
