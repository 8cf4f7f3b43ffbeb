"""The reviews service's reading of a decision request against the log (no servers): a retried request whose
decision already closed the review still reaches the workflow; any other decision on a closed review is 409."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.envelope import Actor, Envelope
from contracts.errors import Conflict
from contracts.items import ItemDrafted, ItemPublished, ItemSubmitted
from contracts.reviews import DecisionRecorded
from contracts.roles import Principal, Role
from gongkai.config import Settings
from gongkai.eventlog import Stored
from gongkai.submission import decision_event_id
from services.reviews.app import submission_under_review

ITEM = "item-1"
WF = "review-item-item-1-1"


class Log:
    def __init__(self, events: list[Stored]):
        self.events = events

    async def load(self, subject: str) -> list[Stored]:
        return self.events


def history(*, published: bool) -> list[Stored]:
    def env(event, user="zhang.wei", event_id=None):
        return Envelope.wrap(event, aggregate_id=ITEM, org="org1", actor=Actor(user=user, roles=["author"]),
                             event_id=event_id)

    events = [
        env(ItemDrafted(kind="proactive", category="meetings", title="t", author="zhang.wei")),
        env(ItemSubmitted(submission=1, workflow_id=WF)),
        env(DecisionRecorded(submission=1, stage="initial", outcome="approve", decided_by="li.na", roles=["officer"],
                             workflow_id=WF), "li.na", decision_event_id("key-initial")),
    ]
    if published:
        events += [
            env(DecisionRecorded(submission=1, stage="recheck", outcome="approve", decided_by="wang.qiang",
                                 roles=["section_head"], workflow_id=WF), "wang.qiang", decision_event_id("key-recheck")),
            env(ItemPublished(submission=1, published_at=datetime.now(UTC), index_no="X-1")),
        ]
    return [Stored(i, e) for i, e in enumerate(events, 1)]


HEAD = Principal(user="wang.qiang", org="org1", roles=[Role.SECTION_HEAD])


async def test_an_open_review_carries_the_decisions_recorded_so_far():
    sub = await submission_under_review(Log(history(published=False)), Settings().deployment(), "item", ITEM, HEAD)
    assert [(d.stage, d.user) for d in sub.decisions] == [("initial", "li.na")]


async def test_a_retried_request_whose_decision_closed_the_review_goes_on_to_the_workflow():
    log = Log(history(published=True))
    sub = await submission_under_review(log, Settings().deployment(), "item", ITEM, HEAD, "key-recheck")
    assert sub.submission == 1 and [d.stage for d in sub.decisions] == ["initial", "recheck"]


async def test_another_decision_on_a_closed_review_is_refused():
    log = Log(history(published=True))
    with pytest.raises(Conflict) as e:
        await submission_under_review(log, Settings().deployment(), "item", ITEM, HEAD, "another-key")
    assert e.value.code == "review_finished"
