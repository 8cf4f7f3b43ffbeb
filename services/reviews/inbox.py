"""The review inbox: one row per submission waiting for a decision, folded from the log."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

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
from contracts.envelope import Event
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
from gongkai.batchfold import Memo, Rows, decoded, defer, fold_each
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


#: what has a review: the rest of the log is not the inbox's
AGGREGATES = ("item", "application", "record")


class Inbox(Projection):
    name = "reviews.inbox.v2"
    tables = [Task]
    aggregates = frozenset(AGGREGATES)

    def __init__(self) -> None:
        self.memo = Memo(self.tables)

    def apply(self, session: Session, st: Stored) -> None:
        """One event, as `gongkai.projection` hands them over: its payload is validated now (an event that
        cannot be read fails here), its fold waits for the rest of the batch (`fold_batch`)."""
        if st.envelope.aggregate in AGGREGATES:
            defer(session, self, st, st.envelope.event())

    def apply_many(self, session: Session, batch: list[Stored]) -> None:
        """Fold a batch of events at once, in order."""
        self.fold_batch(session, decoded(batch, lambda env: env.aggregate in AGGREGATES))

    def fold_batch(self, session: Session, events: list[tuple[Stored, Event]]) -> None:
        """The tasks the batch touches are read with one query, folded, and written once each."""
        rows = Rows(session, self.memo)
        if not rows.complete:  # (all rows at hand: nothing to read)
            rows.load(Task, {st.envelope.aggregate_id for st, _ in events})
        fold_each(events, lambda st, ev: self._fold(rows, st.envelope, ev))
        rows.write()

    def _fold(self, rows: Rows, env, ev) -> None:
        if isinstance(ev, DecisionRecorded):  # most of the log: taken first
            task = rows.get(Task, env.aggregate_id)
            if task is None:
                return
            if ev.submission == task.submission and task.stage is not None:
                task.stage, task.deciders = _decided(task.stage, task.deciders, ev.stage, ev.outcome, ev.decided_by)
                task.stage_since = env.occurred_at
                rows.put(Task, task)
            return
        if isinstance(ev, ItemDrafted):
            rows.put(Task, rows.new(Task, aggregate_id=env.aggregate_id, org=env.org, author=ev.author,
                                    title=ev.title, kind=ev.kind, category=ev.category))
            return
        if isinstance(ev, ApplicationReceived):  # the subject only: applicant data stays in the items service
            rows.put(Task, rows.new(Task, aggregate_id=env.aggregate_id, aggregate="application", org=env.org,
                                    author="", title=ev.subject, kind="application_answer", purpose="answer"))
            return
        if isinstance(ev, Section2Submitted) and rows.get(Task, env.aggregate_id) is None:
            rows.put(Task, rows.new(Task, aggregate_id=env.aggregate_id, aggregate="record", org=env.org,
                                    author=ev.drafted_by, title=f"{ev.year}年政府信息公开年度报告第二部分数据",
                                    kind="section2", purpose="section2"))
        task = rows.get(Task, env.aggregate_id)
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
            case ItemPublished() | ItemWithdrawn() | ItemRetracted() | ValidityChanged() | ApplicationAnswered() \
                    | ApplicationClosed() | Section2Approved():
                if task.stage is None:
                    return  # (a publication after the last approval): a task left as it was is not written again
                task.stage = None
            case _:
                return
        rows.put(Task, task)


@lru_cache(maxsize=1 << 16)
def _decided(stage: str, deciders: str, decided_stage: str, outcome: str, user: str) -> tuple[str | None, str]:
    """The stage and the deciders (JSON) after a decision, remembered: the chain's step depends on nothing else
    (not on the author), and a city's few stages, outcomes and deciders repeat across all its items."""
    state = chain.ChainState(author="", stage=chain.Stage(stage), deciders=json.loads(deciders))
    nxt = chain.advance(state, chain.Decision(decided_stage, outcome, user))  # type: ignore[arg-type]
    return nxt.stage, json.dumps(nxt.deciders)
