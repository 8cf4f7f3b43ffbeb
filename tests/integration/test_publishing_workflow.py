"""The publishing workflow on Temporal's time-skipping test server, with the items service's commands
replaced by recording activities of the same names (the real commands are covered end to end)."""

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts import subjects
from contracts.reviews import (
    CommandReply,
    DecisionInput,
    PublishItem,
    RecordDecision,
    ReviewState,
    SubmissionInput,
)
from workflows.publishing import PublishingWorkflow


@pytest.fixture(scope="module")
async def env(time_skipping_path):
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_path,
                                                        data_converter=pydantic_data_converter)
    yield env
    await env.shutdown()


class ItemsDouble:
    def __init__(self):
        self.decisions: list[RecordDecision] = []
        self.published: list[PublishItem] = []

    @activity.defn(name="record_decision")
    async def record_decision(self, cmd: RecordDecision) -> CommandReply:
        self.decisions.append(cmd)
        return CommandReply(ok=True, status="in_review")

    @activity.defn(name="publish_item")
    async def publish(self, cmd: PublishItem) -> CommandReply:
        self.published.append(cmd)
        return CommandReply(ok=True, status="published")


@pytest.fixture
async def review(env):
    items = ItemsDouble()
    queue = f"q-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PublishingWorkflow],
                      activities=[items.record_decision, items.publish]):
        sub = SubmissionInput(aggregate_id=str(uuid.uuid4()), org="org1", author="zhang.wei", submission=1)
        handle = await env.client.start_workflow(PublishingWorkflow.run, sub, id=f"wf-{uuid.uuid4()}",
                                                 task_queue=queue)
        yield handle, items


def decision(stage, user, *roles, outcome="approve", org="org1") -> DecisionInput:
    return DecisionInput(stage=stage, outcome=outcome, user=user, roles=list(roles), org=org,
                         request_id=str(uuid.uuid4()))


async def decide(handle, d: DecisionInput) -> ReviewState:
    return await handle.execute_update(subjects.DECIDE_UPDATE, d, result_type=ReviewState)


async def refused(handle, d: DecisionInput) -> tuple[str, str]:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await decide(handle, d)
    kind, code = e.value.cause.details[:2]
    return kind, code


async def test_initial_then_recheck_approval_publishes_once(review):
    handle, items = review
    s = await decide(handle, decision("initial", "li.na", "officer"))
    assert s.stage == "recheck" and s.status == "in_review" and not items.published
    s = await decide(handle, decision("recheck", "wang.qiang", "section_head"))
    assert s.status == "published" and s.verdict == "approved"
    assert len(items.published) == 1
    assert [d.stage for d in items.decisions] == ["initial", "recheck"]
    result = await handle.result()
    assert result.status == "published"


async def test_the_author_cannot_approve_their_own_item(review):
    handle, items = review
    assert await refused(handle, decision("initial", "zhang.wei", "officer", "author")) == (
        "Forbidden", "author_cannot_decide")
    assert items.decisions == []


async def test_the_same_person_cannot_decide_both_stages(review):
    handle, items = review
    await decide(handle, decision("initial", "zhou", "officer", "section_head"))
    assert await refused(handle, decision("recheck", "zhou", "officer", "section_head")) == (
        "Forbidden", "already_decided")
    assert len(items.decisions) == 1 and not items.published


async def test_a_decision_for_a_stage_that_is_not_current_is_refused(review):
    handle, _ = review
    assert await refused(handle, decision("recheck", "wang.qiang", "section_head")) == (
        "Conflict", "not_current_stage")


async def test_a_role_that_may_not_decide_the_stage_is_refused(review):
    handle, _ = review
    assert await refused(handle, decision("initial", "someone", "viewer")) == ("Forbidden", "wrong_role")
    assert await refused(handle, decision("initial", "li.na", "officer", org="org2")) == ("Forbidden", "other_org")


async def test_a_decision_on_a_finished_review_is_refused(review):
    handle, items = review
    await decide(handle, decision("initial", "li.na", "officer", outcome="reject"))
    assert (await handle.result()).status == "rejected"
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # the workflow is closed
        await decide(handle, decision("recheck", "wang.qiang", "section_head"))
    assert not items.published


async def test_two_concurrent_approvals_of_one_stage_exactly_one_wins(review):
    handle, items = review
    results = await asyncio.gather(decide(handle, decision("initial", "li.na", "officer")),
                                   decide(handle, decision("initial", "chen.jing", "officer")),
                                   return_exceptions=True)
    assert sum(isinstance(r, ReviewState) for r in results) == 1
    assert sum(isinstance(r, WorkflowUpdateFailedError) for r in results) == 1
    assert len(items.decisions) == 1


async def test_a_repeated_request_is_answered_once(review):
    handle, items = review
    d = decision("initial", "li.na", "officer")
    first = await decide(handle, d)
    again = await decide(handle, d)
    assert first == again and len(items.decisions) == 1
