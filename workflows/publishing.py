"""The publishing workflow (先审查后公开): one run per submission of an item.

It waits for the decisions of the review chain (contracts/chain.py), records each through the items
service, and — only after the chain has approved — asks the items service to publish. Decisions arrive as
the `decide` update; its validator refuses what the chain does not allow before anything is written.
Each stage has a deadline in working days; passing it records an overdue event that reminds the next person
in line, and so does passing the Art. 26 publication deadline. A reject with a "review again on" date
(Art. 18) keeps the run open until that day and then reminds the office.
Workflow code is deterministic: no I/O, no clocks but `workflow.now()`; activities do the I/O.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts import chain, subjects
    from contracts.errors import ERRORS_BY_NAME, Conflict, DomainError, Forbidden, from_parts
    from contracts.lifecycle import SHANGHAI
    from contracts.reviews import (
        CommandReply,
        DeadlineRequest,
        DecisionInput,
        PublishItem,
        RecordDecision,
        Reminder,
        ReviewState,
        SubmissionInput,
    )
    from contracts.roles import Role
    from gongkai.deadlines import DeadlineInfo
    from workflows.activities import ItemCommands, compute_deadline

COMMAND_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=5))
COMMAND_TIMEOUT = timedelta(seconds=15)


def refusal(e: DomainError) -> ApplicationError:
    """A domain refusal as Temporal carries it to the client: kind, code, Chinese, English."""
    kind = next(c.__name__ for c in type(e).__mro__ if c.__name__ in ERRORS_BY_NAME)
    return ApplicationError(e.message, kind, e.code, e.zh, e.en, type=kind, non_retryable=True)


def refused(reply: CommandReply) -> ApplicationError:
    return refusal(from_parts(reply.error_kind or "DomainError", reply.error or "refused", reply.zh or "",
                              reply.en or ""))


@workflow.defn(name=subjects.PUBLISHING_WORKFLOW)
class PublishingWorkflow:
    @workflow.init
    def __init__(self, sub: SubmissionInput) -> None:
        self.sub = sub
        self.chain = chain.ChainState(author=sub.author, findings=dict(sub.findings))
        self.status = "in_review"
        self.withdrawn = False
        self.lock = asyncio.Lock()
        self.answered: dict[str, ReviewState] = {}  # request id → result, so a retried request is answered once
        self.failure: ApplicationError | None = None
        self.deadlines: dict[str, DeadlineInfo] = {}
        self.review_again_on = None

    @property
    def over(self) -> bool:
        return self.chain.finished or self.withdrawn or self.failure is not None

    @workflow.run
    async def run(self, sub: SubmissionInput) -> ReviewState:
        if sub.publication_due_at is not None:
            self._publication_watch = asyncio.create_task(self._watch_publication(sub.publication_due_at))
        while not self.over:
            await self._stage(self.chain.stage)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.failure is not None:
            raise self.failure
        if self.chain.verdict is chain.Verdict.REJECTED and self.review_again_on is not None:
            await self._review_again()
        return self.state()

    async def _stage(self, stage: chain.Stage) -> None:
        """Wait for the stage's decision; past its deadline, record it as overdue once and keep waiting."""
        info = await workflow.execute_local_activity(
            compute_deadline, DeadlineRequest(rule=f"stage {stage}", start=workflow.now(),
                                              duration=self.sub.stage_deadline),
            start_to_close_timeout=timedelta(seconds=10))
        self.deadlines[stage] = info
        moved = lambda: self.over or self.chain.stage != stage  # noqa: E731
        if info.due_at is None:
            await workflow.wait_condition(moved)
            return
        try:
            await workflow.wait_condition(moved, timeout=max(info.due_at - workflow.now(), timedelta(0)))
        except TimeoutError:
            await self._remind(Reminder(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id,
                                        submission=self.sub.submission,
                                        workflow_id=workflow.info().workflow_id, kind="stage", stage=stage,
                                        due_at=info.due_at, remind_roles=[chain.DECIDER[stage].value]))
            await workflow.wait_condition(moved)

    async def _watch_publication(self, due_at: datetime) -> None:
        """Art. 26: an item still unpublished 20 working days after it was formed is overdue."""
        try:
            await workflow.wait_condition(lambda: self.over, timeout=max(due_at - workflow.now(), timedelta(0)))
        except TimeoutError:
            stage = self.chain.stage
            roles = [chain.DECIDER[stage].value] if stage else []
            await self._remind(Reminder(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id,
                                        submission=self.sub.submission,
                                        workflow_id=workflow.info().workflow_id, kind="publication", stage=stage,
                                        due_at=due_at, remind_roles=[*roles, Role.OFFICE.value]))

    async def _review_again(self) -> None:
        """Art. 18: on the day set, remind the office to review the withheld item again."""
        day_starts = datetime.combine(self.review_again_on, time.min, SHANGHAI)
        await workflow.sleep(max(day_starts - workflow.now(), timedelta(0)))
        await self._remind(Reminder(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id,
                                        submission=self.sub.submission,
                                    workflow_id=workflow.info().workflow_id, kind="review_again",
                                    review_again_on=self.review_again_on, remind_roles=[Role.OFFICE.value]))

    async def _remind(self, reminder: Reminder) -> None:
        await workflow.execute_activity_method(ItemCommands.remind, reminder, start_to_close_timeout=COMMAND_TIMEOUT,
                                               retry_policy=COMMAND_RETRY)

    def state(self) -> ReviewState:
        return ReviewState(aggregate_id=self.sub.aggregate_id, submission=self.sub.submission,
                           stage=self.chain.stage, verdict=self.chain.verdict, status=self.status,
                           deciders=list(self.chain.deciders),
                           due_at=(d := self.deadlines.get(self.chain.stage)) and d.due_at)

    @workflow.query(name=subjects.STATE_QUERY)
    def current(self) -> ReviewState:
        return self.state()

    @workflow.signal(name="withdrawn")
    def on_withdrawn(self) -> None:
        self.withdrawn, self.status = True, "withdrawn"

    def _decision(self, d: DecisionInput) -> chain.Decision:
        return chain.Decision.of(d.stage, d.outcome, d.user, d.roles, on_behalf_of=d.on_behalf_of,
                                 acknowledged=d.acknowledged)

    def _check(self, d: DecisionInput) -> None:
        if d.org != self.sub.org:
            raise Forbidden("不能审查其他单位的信息", "this item belongs to another org", code="other_org")
        if self.withdrawn:
            raise Conflict("该信息已撤回", "the item was withdrawn", code="withdrawn")
        chain.check(self.chain, self._decision(d))

    @workflow.update(name=subjects.DECIDE_UPDATE)
    async def decide(self, d: DecisionInput) -> ReviewState:
        # Two approvals racing for one stage both pass the validator; the lock and the second check
        # let exactly one of them through.
        async with self.lock:
            if d.request_id in self.answered:
                return self.answered[d.request_id]
            try:
                self._check(d)
            except DomainError as e:
                raise refusal(e) from None
            wf_id = workflow.info().workflow_id
            reply = await workflow.execute_activity_method(
                ItemCommands.record_decision,
                RecordDecision(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id, org=self.sub.org,
                               submission=self.sub.submission,
                               stage=d.stage, outcome=d.outcome, comment=d.comment, decided_by=d.user, roles=d.roles,
                               workflow_id=wf_id, request_id=d.request_id,
                               **d.model_dump(include={"reason_code", "review_again_on", "referral", "on_behalf_of",
                                                       "acknowledged"})),
                start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
            if not reply.ok:
                if reply.error in ("review_finished", "withdrawn"):
                    self.withdrawn, self.status = True, reply.status or "withdrawn"
                raise refused(reply)
            self.chain = chain.advance(self.chain, self._decision(d))
            self.review_again_on = d.review_again_on
            self.status = {chain.Verdict.RETURNED: "returned", chain.Verdict.REJECTED: "rejected"}.get(
                self.chain.verdict, "in_review")
            if self.chain.verdict is chain.Verdict.APPROVED:
                reply = await workflow.execute_activity_method(
                    ItemCommands.publish,
                    PublishItem(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id, org=self.sub.org,
                                submission=self.sub.submission,
                                workflow_id=wf_id),
                    start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
                if not reply.ok:  # the items aggregate disagrees with the workflow: never publish, fail loudly
                    self.failure = refused(reply)
                    raise self.failure
                self.status = reply.status or "published"
            self.answered[d.request_id] = self.state()
            return self.answered[d.request_id]

    @decide.validator
    def validate_decide(self, d: DecisionInput) -> None:
        if d.request_id in self.answered:
            return
        try:
            self._check(d)
        except DomainError as e:
            raise refusal(e) from None
