"""The review inbox: one row per submission waiting for a decision, folded from the log."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Field, Session, SQLModel

from contracts import chain
from contracts.application_events import (
    AnswerSubmitted,
    ApplicationAnswered,
    ApplicationClosed,
    ApplicationReceived,
    Section2Approved,
    Section2Submitted,
)
from contracts.items import (
    ChangeRequested,
    ItemDrafted,
    ItemPublished,
    ItemRetracted,
    ItemRevised,
    ItemSubmitted,
    ItemWithdrawn,
    ValidityChanged,
)
from contracts.reviews import DecisionRecorded
from gongkai.eventlog import Stored
from gongkai.projection import Projection


class Task(SQLModel, table=True):
    # the version in the names: a changed table is a new projection, rebuilt from the log on start
    __tablename__ = "reviews_inbox_v2"
    aggregate_id: str = Field(primary_key=True)
    aggregate: str = "item"
    org: str = Field(index=True)
    author: str
    title: str
    kind: str
    category: str | None = None
    submission: int = 0
    purpose: str = "publish"  # or "retract" / "validity": a change of a published item under review
    stage: str | None = Field(default=None, index=True)  # None: not in review
    deciders: str = "[]"  # JSON list of users who decided this submission
    submitted_at: datetime | None = None
    stage_since: datetime | None = None


class Inbox(Projection):
    name = "reviews.inbox.v2"
    tables = [Task]

    def apply(self, session: Session, st: Stored) -> None:
        env = st.envelope
        if env.aggregate not in ("item", "application", "record"):
            return
        ev = env.event()
        if isinstance(ev, ItemDrafted):
            session.merge(Task(aggregate_id=env.aggregate_id, org=env.org, author=ev.author, title=ev.title,
                               kind=ev.kind, category=ev.category))
            return
        if isinstance(ev, ApplicationReceived):  # the subject only: applicant data stays in the items service
            session.merge(Task(aggregate_id=env.aggregate_id, aggregate="application", org=env.org, author="",
                               title=ev.subject, kind="application_answer", purpose="answer"))
            return
        if isinstance(ev, Section2Submitted) and session.get(Task, env.aggregate_id) is None:
            session.add(Task(aggregate_id=env.aggregate_id, aggregate="record", org=env.org, author=ev.drafted_by,
                             title=f"{ev.year}年政府信息公开年度报告第二部分数据", kind="section2", purpose="section2"))
            session.flush()
        task = session.get(Task, env.aggregate_id)
        if task is None:
            return
        match ev:
            case ItemRevised():
                task.title = ev.changes.get("title", task.title)  # type: ignore[assignment]
                task.category = ev.changes.get("category", task.category)  # type: ignore[assignment]
            case ItemSubmitted() | ChangeRequested() | AnswerSubmitted() | Section2Submitted():
                task.submission, task.stage, task.deciders = ev.submission, chain.Stage.INITIAL, "[]"
                if isinstance(ev, AnswerSubmitted | Section2Submitted):
                    task.author = ev.drafted_by  # the drafter may not approve what they drafted
                else:
                    task.purpose = ev.change if isinstance(ev, ChangeRequested) else "publish"
                task.submitted_at = task.stage_since = env.occurred_at
            case DecisionRecorded() if ev.submission == task.submission and task.stage is not None:
                state = chain.ChainState(author=task.author, stage=chain.Stage(task.stage),
                                         deciders=json.loads(task.deciders))
                nxt = chain.advance(state, chain.Decision(ev.stage, ev.outcome, ev.decided_by))
                task.stage, task.deciders, task.stage_since = nxt.stage, json.dumps(nxt.deciders), env.occurred_at
            case ItemPublished() | ItemWithdrawn() | ItemRetracted() | ValidityChanged() | ApplicationAnswered() \
                    | ApplicationClosed() | Section2Approved():
                task.stage = None
        session.add(task)
