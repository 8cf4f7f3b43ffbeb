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
    from workflows.activities import ItemCommands, ReviewStep, ReviewStepResult, compute_deadline

COMMAND_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=5))
COMMAND_TIMEOUT = timedelta(seconds=15)

#: Patch: a decision is one local activity (recorded, published after the final approval, the next stage's
#: deadline computed with it), and one deadline timer that is never cancelled serves every stage and Art. 26.
#: The update then completes in the workflow task that accepted it, and the history halves.
ONE_STEP = "review-step-local-activity"
#: Patch: a workflow started after decisions were recorded (update-with-start, its first run lost) resumes
#: at the stage they lead to instead of 初审.
RESUMED = "resume-from-recorded-decisions"


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
        self.one_step = workflow.patched(ONE_STEP)
        if sub.decisions and workflow.patched(RESUMED):
            self.chain = self._resumed(sub)

    @property
    def over(self) -> bool:
        return self.chain.finished or self.withdrawn or self.failure is not None

    def _resumed(self, sub: SubmissionInput) -> chain.ChainState:
        decisions = [chain.Decision.of(d.stage, d.outcome, d.user, d.roles, on_behalf_of=d.on_behalf_of,
                                       acknowledged=d.acknowledged) for d in sub.decisions]
        try:
            return chain.replay(sub.author, decisions, dict(sub.findings))
        except DomainError:  # the items aggregate checked each when it recorded it; keep the chain's own view
            workflow.logger.warning("recorded decisions of %s do not replay; starting at 初审", sub.aggregate_id)
            return self.chain

    @workflow.run
    async def run(self, sub: SubmissionInput) -> ReviewState:
        if self.one_step:
            return await self._run_one_step(sub)
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

    async def _run_one_step(self, sub: SubmissionInput) -> ReviewState:
        if self.chain.verdict is chain.Verdict.APPROVED:  # resumed after the last approval, before publication
            await self._publish_resumed()
        elif not self.over:
            stage = self.chain.stage
            self.deadlines[stage] = await workflow.execute_local_activity(
                compute_deadline, DeadlineRequest(rule=f"stage {stage}", start=workflow.now(),
                                                  duration=sub.stage_deadline),
                start_to_close_timeout=timedelta(seconds=10))
            # not awaited: its pending timer ends with the run and is never cancelled (no history events)
            self._deadline_watch = asyncio.create_task(self._watch_deadlines(sub.publication_due_at))
        await workflow.wait_condition(lambda: self.over and workflow.all_handlers_finished())
        if self.failure is not None:
            raise self.failure
        if self.chain.verdict is chain.Verdict.REJECTED and self.review_again_on is not None:
            await self._review_again()
        return self.state()

    async def _watch_deadlines(self, publication_due_at: datetime | None) -> None:
        """One timer at a time, at the earliest deadline not yet reminded: the current stage's or Art. 26's.
        A stage decided in time leaves its timer to fire unused (or to end with the run): cancelling it would
        only add history events."""
        reminded: set[str] = set()
        while not self.over:
            stage = self.chain.stage
            info = self.deadlines.get(stage)
            due: list[tuple[datetime, str]] = []
            if info is not None and info.due_at is not None and stage not in reminded:
                due.append((info.due_at, "stage"))
            if publication_due_at is not None and "publication" not in reminded:
                due.append((publication_due_at, "publication"))
            if not due:
                await workflow.wait_condition(lambda: self.over or self.chain.stage != stage)  # noqa: B023
                continue
            at, kind = min(due)
            if at > workflow.now():
                await workflow.sleep(at - workflow.now())
                continue  # look again: the stage may have moved on meanwhile
            if kind == "stage":
                reminded.add(stage)
                reply = await self._remind(Reminder(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id,
                                                    submission=self.sub.submission,
                                                    workflow_id=workflow.info().workflow_id, kind="stage",
                                                    stage=stage, due_at=at,
                                                    remind_roles=[chain.DECIDER[stage].value]))
            else:
                reminded.add("publication")
                roles = [chain.DECIDER[stage].value] if stage else []
                reply = await self._remind(Reminder(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id,
                                                    submission=self.sub.submission,
                                                    workflow_id=workflow.info().workflow_id, kind="publication",
                                                    stage=stage, due_at=at, remind_roles=[*roles, Role.OFFICE.value]))
            if not reply.ok and reply.error == "review_finished" and not self.over:
                # the log says the review ended without this run hearing of it (a decision that closed it was
                # stored, then the Temporal server lost the update before this run saved its result): end too
                self.withdrawn, self.status = True, reply.status or "finished"

    async def _publish_resumed(self) -> None:
        reply = await workflow.execute_local_activity_method(
            ItemCommands.publish, self._publish_cmd(), start_to_close_timeout=COMMAND_TIMEOUT,
            retry_policy=COMMAND_RETRY)
        if not reply.ok:
            self.failure = refused(reply)
        else:
            self.status = reply.status or "published"

    def _publish_cmd(self) -> PublishItem:
        return PublishItem(aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id, org=self.sub.org,
                           submission=self.sub.submission, workflow_id=workflow.info().workflow_id)

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

    async def _remind(self, reminder: Reminder) -> CommandReply:
        return await workflow.execute_activity_method(ItemCommands.remind, reminder,
                                                      start_to_close_timeout=COMMAND_TIMEOUT,
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
            if self.one_step:
                return await self._decide_one_step(d)
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

    async def _decide_one_step(self, d: DecisionInput) -> ReviewState:
        nxt = chain.advance(self.chain, self._decision(d))
        publish = nxt.verdict is chain.Verdict.APPROVED
        step = ReviewStep(
            decision=self._record_cmd(d), publish=publish,
            deadline=DeadlineRequest(rule=f"stage {nxt.stage}", start=workflow.now(), duration=self.sub.stage_deadline)
            if nxt.stage is not None else None)
        result: ReviewStepResult = await workflow.execute_local_activity_method(
            ItemCommands.review_step, step, start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
        reply = result.reply
        if result.refused == "publish":  # the decision is recorded, the aggregate disagrees: fail loudly
            self.chain = nxt
            self.failure = refused(reply)
            raise self.failure
        if not reply.ok:
            if reply.error in ("review_finished", "withdrawn"):
                self.withdrawn, self.status = True, reply.status or "withdrawn"
            raise refused(reply)
        self.chain = nxt
        if result.deadline is not None:
            self.deadlines[nxt.stage] = result.deadline
        self.review_again_on = d.review_again_on
        self.status = {chain.Verdict.RETURNED: "returned", chain.Verdict.REJECTED: "rejected"}.get(
            self.chain.verdict, "in_review")
        if publish:
            self.status = reply.status or "published"
        self.answered[d.request_id] = self.state()
        return self.answered[d.request_id]

    def _record_cmd(self, d: DecisionInput) -> RecordDecision:
        return RecordDecision(
            aggregate=self.sub.aggregate, aggregate_id=self.sub.aggregate_id, org=self.sub.org,
            submission=self.sub.submission, stage=d.stage, outcome=d.outcome, comment=d.comment, decided_by=d.user,
            roles=d.roles, workflow_id=workflow.info().workflow_id, request_id=d.request_id,
            **d.model_dump(include={"reason_code", "review_again_on", "referral", "on_behalf_of", "acknowledged"}))

    @decide.validator
    def validate_decide(self, d: DecisionInput) -> None:
        if d.request_id in self.answered:
            return
        try:
            self._check(d)
        except DomainError as e:
            raise refusal(e) from None
