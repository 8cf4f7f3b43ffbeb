"""The publishing workflow on Temporal's time-skipping test server, with the items service's commands
replaced by recording activities of the same names (the real commands are covered end to end)."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts import subjects
from contracts.reviews import (
    CommandReply,
    DecisionInput,
    PriorDecision,
    PublishItem,
    RecordDecision,
    Reminder,
    ReviewState,
    SubmissionInput,
)
from workflows.activities import ReviewStep, ReviewStepResult, compute_deadline
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
        self.reminders: list[Reminder] = []
        self.refuse_publication = False
        self.review_finished = False  # the log says the review ended (see the last test)

    @activity.defn(name="remind")
    async def remind(self, cmd: Reminder) -> CommandReply:
        if self.review_finished:
            return CommandReply(ok=False, error_kind="Conflict", error="review_finished", status="published")
        self.reminders.append(cmd)
        return CommandReply(ok=True)

    @activity.defn(name="record_decision")
    async def record_decision(self, cmd: RecordDecision) -> CommandReply:
        self.decisions.append(cmd)
        return CommandReply(ok=True, status="in_review")

    @activity.defn(name="publish_item")
    async def publish(self, cmd: PublishItem) -> CommandReply:
        self.published.append(cmd)
        return CommandReply(ok=True, status="published")

    @activity.defn(name="review_step")
    async def review_step(self, step: ReviewStep) -> ReviewStepResult:
        """The real activity's commands: the decision, then (final approval) the publication."""
        self.decisions.append(step.decision)
        if step.publish:
            if self.refuse_publication:
                return ReviewStepResult(refused="publish", reply=CommandReply(
                    ok=False, error_kind="Forbidden", error="chain_incomplete", zh="未经完整审查链批准，不得发布",
                    en="the review chain has not approved this submission"))
            self.published.append(PublishItem(**step.decision.model_dump(include=set(PublishItem.model_fields))))
        return ReviewStepResult(reply=CommandReply(ok=True, status="published" if step.publish else "in_review"),
                                deadline=compute_deadline(step.deadline) if step.deadline else None)


@pytest.fixture
async def clock(time_skipping_path):
    """A time-skipping server of the test's own: other tests' pending timers must not move its time."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_path,
                                                        data_converter=pydantic_data_converter)
    yield env
    await env.shutdown()


@pytest.fixture
async def started(request, env):
    env = request.getfixturevalue("clock") if "clock" in request.fixturenames else env
    """Start a review of a submission made of the given fields; yields (start(**fields), items double)."""
    items = ItemsDouble()
    queue = f"q-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PublishingWorkflow],
                      activities=[items.record_decision, items.publish, items.remind, items.review_step,
                                  compute_deadline],
                      activity_executor=ThreadPoolExecutor(2)):
        async def start(**fields):
            sub = SubmissionInput(aggregate_id=str(uuid.uuid4()), org="org1", author="zhang.wei", submission=1,
                                  **fields)
            return await env.client.start_workflow(PublishingWorkflow.run, sub, id=f"wf-{uuid.uuid4()}",
                                                   task_queue=queue)

        yield start, items


@pytest.fixture
async def review(started):
    start, items = started
    yield await start(), items


def decision(stage, user, *roles, outcome="approve", org="org1", **details) -> DecisionInput:
    return DecisionInput(stage=stage, outcome=outcome, user=user, roles=list(roles), org=org,
                         request_id=str(uuid.uuid4()), **details)


async def decide(handle, d: DecisionInput) -> ReviewState:
    return await handle.execute_update(subjects.DECIDE_UPDATE, d, result_type=ReviewState)


async def timed(handle) -> None:
    """Wait until the workflow has set the current stage's timer, so that skipped time can fire it."""
    for _ in range(100):
        if (await handle.query(subjects.STATE_QUERY, result_type=ReviewState)).due_at:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the stage got no deadline")


async def settled(handle, condition, timeout: float = 5.0) -> None:
    """Time skipped fires the timers; the reminders they cause are activities that finish a moment later."""
    for _ in range(int(timeout / 0.05)):
        await handle.query(subjects.STATE_QUERY)
        if condition():
            return
        await asyncio.sleep(0.05)


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


async def test_escalation_to_the_leader_and_the_secrecy_bureau_then_publication(review):
    handle, items = review
    await decide(handle, decision("initial", "li.na", "officer"))
    assert (await decide(handle, decision("recheck", "wang.qiang", "section_head", outcome="escalate"))).stage == "leader"
    assert (await decide(handle, decision("leader", "zhao.min", "leader", outcome="escalate"))).stage == "secrecy"
    assert await refused(handle, decision("secrecy", "zhang.bin", "office")) == ("Forbidden", "wrong_role")
    s = await decide(handle, decision("secrecy", "zhang.bin", "office", on_behalf_of="区保密局"))
    assert s.status == "published" and len(items.published) == 1
    assert items.decisions[-1].on_behalf_of == "区保密局"


async def test_the_secrecy_stage_cannot_escalate(review):
    handle, _ = review
    await decide(handle, decision("initial", "li.na", "officer"))
    await decide(handle, decision("recheck", "wang.qiang", "section_head", outcome="escalate"))
    await decide(handle, decision("leader", "zhao.min", "leader", outcome="escalate"))
    assert await refused(handle, decision("secrecy", "bao", "secrecy", outcome="escalate")) == (
        "Conflict", "outcome_not_allowed")


async def test_a_stage_past_its_working_day_deadline_is_recorded_overdue_once_and_reminds_the_decider(clock, started):
    env = clock
    start, items = started
    handle = await start(stage_deadline="3wd")
    await timed(handle)
    await env.sleep(timedelta(days=12))  # three working days are at most twelve calendar days, holidays included
    await settled(handle, lambda: items.reminders)
    overdue = [r for r in items.reminders if r.kind == "stage"]
    assert len(overdue) == 1
    assert overdue[0].stage == "initial" and overdue[0].remind_roles == ["officer"]
    assert overdue[0].due_at <= await env.get_current_time()
    # the review goes on; the next stage gets a deadline of its own
    assert (await decide(handle, decision("initial", "li.na", "officer"))).stage == "recheck"
    await timed(handle)
    await env.sleep(timedelta(days=12))
    await settled(handle, lambda: len(items.reminders) > 1)
    assert [r.stage for r in items.reminders if r.kind == "stage"] == ["initial", "recheck"]


async def test_deadlines_in_seconds_for_drills(clock, started):
    env = clock
    start, items = started
    handle = await start(stage_deadline="30s")
    await timed(handle)
    await env.sleep(timedelta(seconds=20))
    await settled(handle, lambda: items.reminders, timeout=0.5)
    assert items.reminders == []
    await env.sleep(timedelta(seconds=20))
    await settled(handle, lambda: items.reminders)
    assert [r.kind for r in items.reminders] == ["stage"]


async def test_passing_the_art26_publication_deadline_reminds_the_reviewer_and_the_office(clock, started):
    env = clock
    start, items = started
    now = await env.get_current_time()
    handle = await start(stage_deadline="300s", publication_due_at=now + timedelta(hours=5))
    await timed(handle)
    await env.sleep(timedelta(hours=6))
    await settled(handle, lambda: items.reminders)
    assert ("publication", ["officer", "office"]) in [(r.kind, r.remind_roles) for r in items.reminders]


async def test_a_reject_with_a_review_again_date_reminds_the_office_on_that_day(clock, started):
    env = clock
    start, items = started
    handle = await start()
    today = (await env.get_current_time()).date()
    again = today + timedelta(days=30)
    await decide(handle, decision("initial", "li.na", "officer", outcome="reject", reason_code="denied_process_info",
                                  review_again_on=again))
    await env.sleep(timedelta(days=28))  # the day begins at 00:00 in Shanghai, 16:00 UTC the day before
    await settled(handle, lambda: items.reminders, timeout=0.5)
    assert [r.kind for r in items.reminders if r.kind == "review_again"] == []
    result = await handle.result()  # time skips to the day
    assert result.status == "rejected"
    again_reminders = [r for r in items.reminders if r.kind == "review_again"]
    assert len(again_reminders) == 1 and again_reminders[0].review_again_on == again
    assert again_reminders[0].remind_roles == ["office"]


async def test_a_workflow_started_after_recorded_decisions_resumes_at_their_stage(started):
    """Update-with-start after the submission's first run was lost: the input carries the decisions recorded
    on the submission, and the new run continues at 复核, with the officer still barred from deciding again."""
    start, items = started
    prior = [PriorDecision(stage="initial", outcome="approve", user="li.na", roles=["officer"])]
    handle = await start(decisions=prior)
    state = await handle.query(subjects.STATE_QUERY, result_type=ReviewState)
    assert state.stage == "recheck" and state.deciders == ["li.na"]
    assert await refused(handle, decision("initial", "chen.jing", "officer")) == ("Conflict", "not_current_stage")
    assert await refused(handle, decision("recheck", "li.na", "section_head")) == ("Forbidden", "already_decided")
    s = await decide(handle, decision("recheck", "wang.qiang", "section_head"))
    assert s.status == "published" and len(items.published) == 1
    assert [d.stage for d in items.decisions] == ["recheck"]


async def test_a_workflow_started_after_the_last_approval_was_recorded_publishes(started):
    start, items = started
    prior = [PriorDecision(stage="initial", outcome="approve", user="li.na", roles=["officer"]),
             PriorDecision(stage="recheck", outcome="approve", user="wang.qiang", roles=["section_head"])]
    handle = await start(decisions=prior)
    assert (await handle.result()).status == "published"
    assert len(items.published) == 1 and items.decisions == []


async def test_the_final_approval_is_one_step_recording_and_publishing_together(review):
    """The decision and the publication are one local activity: the history has no activity tasks, and no
    timer is cancelled."""
    handle, items = review
    await decide(handle, decision("initial", "li.na", "officer"))
    await decide(handle, decision("recheck", "wang.qiang", "section_head"))
    assert (await handle.result()).status == "published"
    assert len(items.published) == 1 and [d.stage for d in items.decisions] == ["initial", "recheck"]
    types = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in types
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in types
    assert len(types) <= 26


async def test_an_aggregate_refusing_the_publication_fails_the_review(started):
    start, items = started
    items.refuse_publication = True
    handle = await start()
    await decide(handle, decision("initial", "li.na", "officer"))
    with pytest.raises(WorkflowUpdateFailedError):
        await decide(handle, decision("recheck", "wang.qiang", "section_head"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()


async def test_a_run_whose_review_ended_in_the_log_ends_at_its_next_deadline(clock, started):
    """The last decision was stored with its result, but the Temporal server lost the update before the run
    saved it: the next deadline's reminder is refused as `review_finished`, and the run ends with the log."""
    env = clock
    start, items = started
    items.review_finished = True
    handle = await start(stage_deadline="30s")
    await timed(handle)
    await env.sleep(timedelta(seconds=40))
    result = await handle.result()
    assert result.status == "published" and items.reminders == []
