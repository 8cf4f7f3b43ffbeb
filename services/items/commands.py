"""Commands the publishing workflow sends to the items service over NATS (request/reply, queue group).

Only the items service appends item events; the workflow asks it to record a decision or to publish, and
the aggregate checks the chain again before it agrees.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from faststream.nats import NatsBroker

from contracts import subjects
from contracts.application_events import ApplicantWindows, ApplicationRef, CloseYear, ReportYearClosed
from contracts.envelope import Actor, Envelope
from contracts.errors import ERRORS_BY_NAME, Conflict, DomainError
from contracts.items import EDITABLE, ItemContent, ItemKind
from contracts.lifecycle import SHANGHAI
from contracts.reviews import CommandReply, FileReport, PublishItem, RecordDecision, Reminder
from contracts.roles import Principal, Role
from contracts.scan import scan
from gongkai import natsauth, observability
from gongkai.config import Settings
from gongkai.pull import servers
from services.items import publication
from services.items.domain import Item
from services.items.reviewing import decision_actor, decision_event, decision_event_id

if TYPE_CHECKING:
    from services.items.app import Service


def _refusal(e: DomainError) -> CommandReply:
    kind = next(c.__name__ for c in type(e).__mro__ if c.__name__ in ERRORS_BY_NAME)
    return CommandReply(ok=False, error_kind=kind, error=e.code, zh=e.zh, en=e.en)


def build_broker(settings: Settings) -> NatsBroker:
    # each command is already an event in the log; per-message INFO lines would only repeat it
    return NatsBroker(servers(natsauth.url(settings, "items")), name="gongkai-items-commands", max_reconnect_attempts=-1,
                      inbox_prefix=natsauth.inbox_prefix("items"), log_level=logging.DEBUG,
                      middlewares=observability.command_middlewares())


def register(broker: NatsBroker, svc: Service | None) -> None:
    @broker.subscriber(subjects.CMD_RECORD_DECISION, queue="items", title="record_decision",
                       description="Record one reviewer's decision; refused unless it is the chain's next step")
    async def record_decision(cmd: RecordDecision) -> CommandReply:
        try:
            item = await svc.load_any(cmd.aggregate, cmd.aggregate_id)
            if (event := decision_event(item, cmd)) is not None:
                await svc.append(item, event, decision_actor(cmd), event_id=decision_event_id(cmd),
                                 correlation_id=cmd.workflow_id)
            return CommandReply(ok=True, seq=item.version, status=str(item.status), submission=item.submission)
        except DomainError as e:
            return _refusal(e)

    @broker.subscriber(subjects.CMD_PUBLISH, queue="items", title="publish",
                       description="Publish an item; refused unless its recorded decisions form a complete chain")
    async def publish(cmd: PublishItem) -> CommandReply:
        try:
            if cmd.aggregate == "application":
                item = await send_answer(svc, cmd)
            elif cmd.aggregate == "record":
                item = await approve_record(svc, cmd)
            else:
                item = await publication.publish(svc.log, svc.deployment, svc.load, cmd.aggregate_id,
                                                 cmd.submission, cmd.workflow_id)
            return CommandReply(ok=True, seq=item.version, status=str(item.status), submission=item.submission)
        except DomainError as e:
            return _refusal(e)

    @broker.subscriber(subjects.CMD_REMIND, queue="items", title="remind",
                       description="Record that a deadline passed or a review-again date came, once")
    async def remind(cmd: Reminder) -> CommandReply:
        try:
            item = await svc.load_any(cmd.aggregate, cmd.aggregate_id)
            if cmd.kind != "review_again" and item.submission == cmd.submission and not item.review_open:
                # the review ended in the log: its deadline is no one's now, and the run that asks can end
                return CommandReply(ok=False, error_kind="Conflict", error="review_finished",
                                    zh="该次提交的审查已经结束", en="the review of this submission is already finished",
                                    status=str(item.status), submission=item.submission)
            key = f"gongkai:remind:{cmd.workflow_id}:{cmd.kind}:{cmd.stage}"
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
            if not any(st.envelope.event_id == event_id for st in item.history):
                await svc.append(item, item.remind(cmd), Actor(user="system", via=f"workflow:{cmd.workflow_id}"),
                                 event_id=event_id, correlation_id=cmd.workflow_id)
            return CommandReply(ok=True, seq=item.version, status=str(item.status), submission=item.submission)
        except DomainError as e:
            return _refusal(e)

    @broker.subscriber(subjects.CMD_APPLICATION_WINDOWS, queue="items", title="application_windows",
                       description="When the applicant's open correction or payment window runs out")
    async def windows(ref: ApplicationRef) -> ApplicantWindows:
        app = await svc.load_any("application", ref.aggregate_id)
        if app.outcome is not None:
            return ApplicantWindows(finished=True)
        state = app.clock()
        open_windows = [(d, w) for d, w in ((state.correction_window_due_on, "correction"),
                                            (state.payment_due_on, "payment")) if d]
        if not open_windows:
            return ApplicantWindows(finished=False)
        last_day, which = min(open_windows)
        return ApplicantWindows(finished=False, which=which,
                                expires_at=datetime.combine(last_day + timedelta(days=1), time.min, SHANGHAI))

    @broker.subscriber(subjects.CMD_APPLICATION_EXPIRE, queue="items", title="application_expire",
                       description="End the application whose correction or payment window ran out, once")
    async def expire(ref: ApplicationRef) -> CommandReply:
        try:
            app = await svc.load_any("application", ref.aggregate_id)
            if app.closed:
                return CommandReply(ok=True, seq=app.version, status=app.status)
            event = app.close_expired(datetime.now(SHANGHAI).date())
            await svc.append(app, event, Actor(user="system", via="workflow:application-clock"))
            return CommandReply(ok=True, seq=app.version, status=app.status)
        except DomainError as e:
            return _refusal(e)

    @broker.subscriber(subjects.CMD_FILE_REPORT, queue="items", title="file_report",
                       description="File the generated annual report as an item and submit it for review, once")
    async def file_report(cmd: FileReport) -> CommandReply:
        try:
            item = await file_annual_report(svc, cmd)
            return CommandReply(ok=True, seq=item.version, status=str(item.status), submission=item.submission,
                                item_id=item.id)
        except DomainError as e:
            return _refusal(e)

    @broker.subscriber(subjects.CMD_CLOSE_YEAR, queue="items", title="close_year",
                       description="Record that an org closed a year, with its report's figures and their digest")
    async def close_year(cmd: CloseYear) -> CommandReply:
        subject = subjects.event_subject("report", f"{cmd.org}-{cmd.year}")
        events = await svc.log.load(subject)
        if any(st.envelope.type == ReportYearClosed.TYPE for st in events):
            return _refusal(Conflict("该年度已关账", f"{cmd.year} is already closed", code="year_closed"))
        env = Envelope.wrap(ReportYearClosed(year=cmd.year, digest=cmd.digest, figures=cmd.figures,
                                             closed_by=cmd.closed_by),
                            aggregate_id=f"{cmd.org}-{cmd.year}", org=cmd.org, actor=Actor(user=cmd.closed_by,
                                                                                           roles=["office"]))
        seq = await svc.log.append(subject, env, events[-1].seq if events else 0)
        return CommandReply(ok=True, seq=seq, status="closed")



REPORTER = "annual-report"  # the workflow files the report; it never decides on it


async def file_annual_report(svc: Service, cmd: FileReport):
    """The report becomes an item of kind annual_report, drafted and submitted like any other; filing the same
    year's report again (a retry, or after it was returned) resubmits the one item."""
    item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:annual-report:{cmd.org}:{cmd.year}:{cmd.template}"))
    item = Item.from_events(item_id, await svc.log.load(subjects.event_subject("item", item_id)))
    by = Principal(user=REPORTER, org=cmd.org, roles=[Role.OFFICE])
    actor = Actor(user=REPORTER, roles=["office"], via="workflow:annual-report")
    if not item.exists:
        content = ItemContent(kind=ItemKind.ANNUAL_REPORT, title=cmd.title, body=cmd.body,
                              formed_on=date(cmd.year, 12, 31))  # the end of the year it reports on
        await svc.append(item, item.create(by, content, svc.settings.categories), actor, org=cmd.org)
    elif item.status in EDITABLE and item.body != cmd.body:
        await svc.append(item, item.revise(by, {"body": cmd.body}, svc.settings.categories), actor)
    if item.status in EDITABLE:
        findings = scan(item.title, item.body, sensitive_words=svc.deployment.org(cmd.org).sensitive_words)
        await svc.append(item, item.submit(by, findings), actor)
        await svc.start_review(item)
    return item


async def approve_record(svc: Service, cmd: PublishItem):
    record = await svc.load_any("record", cmd.aggregate_id)
    if record.approved is not None and not record.review_open and record.submission == cmd.submission:
        return record
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:publish:{cmd.workflow_id}"))
    await svc.append(record, record.approve(cmd.submission), Actor(user="system", via=f"workflow:{cmd.workflow_id}"),
                     event_id=event_id, correlation_id=cmd.workflow_id)
    return record


async def send_answer(svc: Service, cmd: PublishItem):
    """Send an application's approved answer, once."""
    app = await svc.load_any("application", cmd.aggregate_id)
    if app.outcome is not None and app.submission == cmd.submission:
        return app
    event = app.send(submission=cmd.submission, today=datetime.now(SHANGHAI).date())
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:publish:{cmd.workflow_id}"))
    await svc.append(app, event, Actor(user="system", via=f"workflow:{cmd.workflow_id}"), event_id=event_id,
                     correlation_id=cmd.workflow_id)
    await svc.watch_clock(app.id)  # answered: its clock watch can end
    return app


async def start(settings: Settings, svc: Service) -> NatsBroker:
    broker = build_broker(settings)
    register(broker, svc)
    await broker.start()
    return broker
