"""The input of a submission's publishing workflow, read off the item's events: the items service builds it
when it starts the workflow and the reviews service when a decision has to start it (update-with-start);
both must build the same thing. Both read those events through `KeptEvents`."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import date

from contracts.application_events import AnswerSubmitted, Section2Submitted
from contracts.items import ChangeRequested, ItemDrafted, ItemImported, ItemRevised, ItemSubmitted
from contracts.reviews import DecisionRecorded, PriorDecision, SubmissionInput
from gongkai.deadlines import publication_deadline, report_deadline
from gongkai.deployment import Deployment
from gongkai.eventlog import EventLog, Stored


def decision_event_id(request_id: str) -> str:
    """The event id of the decision a review request records: one per request, however often it is retried."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:decision:{request_id}"))


def submission_input(item_id: str, events: list[Stored], deployment: Deployment) -> SubmissionInput | None:
    """The latest submission of the item (or of an application's answer), or None if there is none, with the
    decisions recorded on it so far: a workflow started late (update-with-start) resumes where they lead."""
    sub = _submission_input(item_id, events, deployment)
    if sub is not None:
        sub.decisions = [PriorDecision(stage=ev.stage, outcome=ev.outcome, user=ev.decided_by, roles=list(ev.roles),
                                       on_behalf_of=ev.on_behalf_of, acknowledged=list(ev.acknowledged))
                         for st in events if st.envelope.type == DecisionRecorded.TYPE
                         and (ev := st.envelope.event()).submission == sub.submission]
    return sub


def _submission_input(item_id: str, events: list[Stored], deployment: Deployment) -> SubmissionInput | None:
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


class KeptEvents:
    """The events of the aggregates a process read lately. A read checks the subject's last sequence (one
    request rather than one per event) and fetches only the events appended since, by any replica. Nothing
    rests on it being current: every append still carries the expected last sequence of its subject."""

    def __init__(self, log: EventLog, size: int = 2_000):  # the items under review now; a few MB
        self.log, self.size = log, size
        self._events: OrderedDict[str, tuple[Stored, ...]] = OrderedDict()  # only ever a prefix of the subject

    async def load(self, subject: str) -> tuple[Stored, ...]:
        last = await self.log.last_seq(subject)
        if not last:
            return ()
        kept = self._events.get(subject, ())
        if kept and kept[-1].seq == last:
            events = kept
        elif kept and kept[-1].seq < last:
            events = kept + tuple(await self.log.load(subject, after=kept[-1], last=last))
        else:
            events = tuple(await self.log.load(subject, last=last))
        self.keep(subject, events)
        return events

    def keep(self, subject: str, events: tuple[Stored, ...]) -> None:
        """Remember the subject's events, e.g. after an append: from its first event on, in order."""
        self._events[subject] = events
        self._events.move_to_end(subject)
        if len(self._events) > self.size:
            self._events.popitem(last=False)
