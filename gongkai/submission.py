"""The input of a submission's publishing workflow, read off the item's events: the items service builds it
when it starts the workflow and the reviews service when a decision has to start it (update-with-start);
both must build the same thing."""

from __future__ import annotations

from datetime import date

from contracts.application_events import AnswerSubmitted, Section2Submitted
from contracts.items import ChangeRequested, ItemDrafted, ItemImported, ItemRevised, ItemSubmitted
from contracts.reviews import SubmissionInput
from gongkai.deadlines import publication_deadline, report_deadline
from gongkai.deployment import Deployment
from gongkai.eventlog import Stored


def submission_input(item_id: str, events: list[Stored], deployment: Deployment) -> SubmissionInput | None:
    """The latest submission of the item (or of an application's answer), or None if there is none."""
    if events and events[0].envelope.aggregate == "application":
        return _answer_input(item_id, events, deployment)
    if events and events[0].envelope.aggregate == "record":
        drafts = [st.envelope.event() for st in events if st.envelope.type == Section2Submitted.TYPE]
        if not drafts:
            return None
        org = events[0].envelope.org
        return SubmissionInput(aggregate="record", aggregate_id=item_id, org=org, author=drafts[-1].drafted_by,
                               submission=drafts[-1].submission, title=f"{drafts[-1].year}年第二部分数据",
                               stage_deadline=str(deployment.stage_deadline_for(org)))
    org = author = title = kind = ""
    formed_on: date | None = None
    submitted: ItemSubmitted | ChangeRequested | None = None
    for st in events:
        ev = st.envelope.event()
        if isinstance(ev, ItemDrafted | ItemImported):
            org, author, title, formed_on, kind = st.envelope.org, ev.author, ev.title, ev.formed_on, ev.kind
        elif isinstance(ev, ItemRevised):
            title = str(ev.changes.get("title", title))
            if "formed_on" in ev.changes:
                value = ev.changes["formed_on"]
                formed_on = date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[assignment]
        elif isinstance(ev, ItemSubmitted | ChangeRequested):
            submitted = ev
    if submitted is None:
        return None
    if isinstance(submitted, ChangeRequested):  # a change of a published item: no scan, no Art. 26 clock
        return SubmissionInput(aggregate="item", aggregate_id=item_id, org=org, author=author,
                               submission=submitted.submission, title=title, purpose=submitted.change,
                               stage_deadline=str(deployment.stage_deadline_for(org)))
    if kind == "annual_report" and formed_on:  # formed_on: the last day of the report's year
        due = report_deadline(formed_on.year, deployment.org(org).report_publish_by).due_at
    else:
        due = publication_deadline(formed_on, deployment.publication_deadline).due_at if formed_on else None
    return SubmissionInput(aggregate="item", aggregate_id=item_id, org=org, author=author,
                           submission=submitted.submission, title=title,
                           stage_deadline=str(deployment.stage_deadline_for(org)), publication_due_at=due,
                           findings={f.id: f.blocking for f in submitted.findings})


def _answer_input(app_id: str, events: list[Stored], deployment: Deployment) -> SubmissionInput | None:
    """An application's answer goes through the same chain; its drafter is its author."""
    answers = [st for st in events if isinstance(st.envelope.event(), AnswerSubmitted)]
    if not answers:
        return None
    org = events[0].envelope.org
    answer: AnswerSubmitted = answers[-1].envelope.event()  # type: ignore[assignment]
    return SubmissionInput(aggregate="application", aggregate_id=app_id, org=org, author=answer.drafted_by,
                           submission=answer.submission, title=events[0].envelope.payload.get("subject", ""),
                           stage_deadline=str(deployment.stage_deadline_for(org)))
