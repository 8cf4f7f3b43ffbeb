"""The publishing workflow (先审查后公开): one run per submission of an item.

It waits for the decisions of the review chain (contracts/chain.py), records each through the items
service, and — only after the chain has approved — asks the items service to publish. Decisions arrive as
the `decide` update; its validator refuses what the chain does not allow before anything is written.
Workflow code is deterministic: no I/O, no clocks but `workflow.now()`; activities do the I/O.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts import chain, subjects
    from contracts.errors import Conflict, DomainError, Forbidden, from_parts
    from contracts.reviews import (
        CommandReply,
        DecisionInput,
        PublishItem,
        RecordDecision,
        ReviewState,
        SubmissionInput,
    )
    from workflows.activities import ItemCommands

COMMAND_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=5))
COMMAND_TIMEOUT = timedelta(seconds=15)


def refusal(e: DomainError) -> ApplicationError:
    """A domain refusal as Temporal carries it to the client: kind, code, Chinese, English."""
    return ApplicationError(e.message, type(e).__name__, e.code, e.zh, e.en, type=type(e).__name__,
                            non_retryable=True)


def refused(reply: CommandReply) -> ApplicationError:
    return refusal(from_parts(reply.error_kind or "DomainError", reply.error or "refused", reply.zh or "",
                              reply.en or ""))


@workflow.defn(name=subjects.PUBLISHING_WORKFLOW)
class PublishingWorkflow:
    @workflow.init
    def __init__(self, sub: SubmissionInput) -> None:
        self.sub = sub
        self.chain = chain.ChainState(author=sub.author)
        self.status = "in_review"
        self.withdrawn = False
        self.lock = asyncio.Lock()
        self.answered: dict[str, ReviewState] = {}  # request id → result, so a retried request is answered once
        self.failure: ApplicationError | None = None

    @workflow.run
    async def run(self, sub: SubmissionInput) -> ReviewState:
        await workflow.wait_condition(lambda: self.chain.finished or self.withdrawn or self.failure is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.failure is not None:
            raise self.failure
        return self.state()

    def state(self) -> ReviewState:
        return ReviewState(aggregate_id=self.sub.aggregate_id, submission=self.sub.submission,
                           stage=self.chain.stage, verdict=self.chain.verdict, status=self.status,
                           deciders=list(self.chain.deciders))

    @workflow.query(name=subjects.STATE_QUERY)
    def current(self) -> ReviewState:
        return self.state()

    @workflow.signal(name="withdrawn")
    def on_withdrawn(self) -> None:
        self.withdrawn, self.status = True, "withdrawn"

    def _decision(self, d: DecisionInput) -> chain.Decision:
        return chain.Decision.of(d.stage, d.outcome, d.user, d.roles)

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
                RecordDecision(aggregate_id=self.sub.aggregate_id, org=self.sub.org, submission=self.sub.submission,
                               stage=d.stage, outcome=d.outcome, comment=d.comment, decided_by=d.user, roles=d.roles,
                               workflow_id=wf_id, request_id=d.request_id),
                start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
            if not reply.ok:
                if reply.error in ("review_finished", "withdrawn"):
                    self.withdrawn, self.status = True, reply.status or "withdrawn"
                raise refused(reply)
            self.chain = chain.advance(self.chain, self._decision(d))
            self.status = {chain.Verdict.RETURNED: "returned", chain.Verdict.REJECTED: "rejected"}.get(
                self.chain.verdict, "in_review")
            if self.chain.verdict is chain.Verdict.APPROVED:
                reply = await workflow.execute_activity_method(
                    ItemCommands.publish,
                    PublishItem(aggregate_id=self.sub.aggregate_id, org=self.sub.org, submission=self.sub.submission,
                                workflow_id=wf_id),
                    start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
                if not reply.ok:  # the items aggregate disagrees with the workflow: never publish, fail loudly
                    self.failure = refused(reply)
                    raise self.failure
                self.status = "published"
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
