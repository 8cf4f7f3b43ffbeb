"""The reviews service: the inbox (`GET /tasks`) and decisions, passed to the publishing workflow as
Temporal updates. The workflow's validator decides what is allowed; this service only translates."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlmodel import Session, select
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts import chain, subjects
from contracts.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable, from_parts
from contracts.items import ItemPublished, ItemSubmitted, ItemWithdrawn
from contracts.reviews import DecisionInput, DecisionRecorded, DecisionRequest, ReviewState, SubmissionInput
from contracts.roles import Principal
from gongkai import projection, runtime
from gongkai.config import Settings
from gongkai.eventlog import EventLog
from gongkai.http import Caller, install
from services.reviews.inbox import Inbox, Task


def open_tasks(engine, who: Principal) -> list[dict]:
    """What the caller may decide now: their org, a stage their role decides, not their own item, not a
    submission they already decided."""
    stages = [s for s, role in chain.DECIDER.items() if role in who.roles]
    if not stages:
        return []
    with Session(engine) as db:
        rows = db.exec(select(Task).where(Task.org == who.org, Task.stage.in_(stages))  # type: ignore[union-attr]
                       .order_by(Task.stage_since)).all()
    return [
        {"aggregate": t.aggregate, "id": t.aggregate_id, "title": t.title, "kind": t.kind, "category": t.category,
         "author": t.author, "submission": t.submission, "stage": t.stage,
         "stage_name": chain.STAGE_LABEL_ZH[chain.Stage(t.stage)], "outcomes": sorted(chain.ALLOWED[chain.Stage(t.stage)]),
         "submitted_at": t.submitted_at, "stage_since": t.stage_since}
        for t in rows
        if t.author != who.user and who.user not in json.loads(t.deciders)
    ]


async def submission_under_review(log: EventLog, aggregate: str, aggregate_id: str,
                                  who: Principal) -> SubmissionInput:
    """The submission a decision is for, read from the log: 404 unknown, 403 another org, 409 not in review."""
    try:
        events = await log.load(subjects.event_subject(aggregate, aggregate_id))
    except ValueError:
        events = []
    if not events:
        raise NotFound("信息不存在", f"no {aggregate} {aggregate_id}", code="not_found")
    first = events[0].envelope
    if first.org != who.org:
        raise Forbidden("不能审查其他单位的信息", "this item belongs to another org", code="other_org")
    submission, decisions, open_ = 0, [], False
    for st in events:
        ev = st.envelope.event()
        if isinstance(ev, ItemSubmitted):
            submission, decisions, open_ = ev.submission, [], True
        elif isinstance(ev, DecisionRecorded) and ev.submission == submission:
            decisions.append(chain.Decision.of(ev.stage, ev.outcome, ev.decided_by, ev.roles))
        elif isinstance(ev, ItemPublished | ItemWithdrawn):
            open_ = False
    if not submission:
        raise Conflict("该信息尚未提交审查", "the item has not been submitted for review", code="not_in_review")
    if not open_ or chain.replay(first.payload.get("author", ""), decisions).finished:
        raise Conflict("该次提交的审查已经结束", "the review of this submission is already finished",
                       code="review_finished")
    return SubmissionInput(aggregate=aggregate, aggregate_id=aggregate_id, org=first.org,
                           author=first.payload.get("author", ""), submission=submission,
                           title=first.payload.get("title", ""))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.running(settings, "reviews", Inbox(), temporal=True) as rt:
            app.state.log, app.state.engine, app.state.temporal = rt.log, rt.engine, rt.temporal
            yield

    app = FastAPI(title="gongkai reviews", version="1", lifespan=lifespan,
                  description="审查待办与审查决定 / the review inbox and decisions")
    install(app, settings)

    @app.get("/tasks")
    async def tasks(request: Request, who: Caller) -> dict:
        rows = await asyncio.to_thread(open_tasks, request.app.state.engine, who)
        return {"tasks": rows, "position": projection.position(request.app.state.engine, Inbox())}

    @app.post("/items/{item_id}/decisions")
    async def decide(item_id: str, body: DecisionRequest, request: Request, who: Caller) -> dict:
        sub = await submission_under_review(request.app.state.log, "item", item_id, who)
        inp = DecisionInput(stage=body.stage, outcome=body.outcome, comment=body.comment, user=who.user,
                            roles=[r.value for r in who.roles], org=who.org,
                            request_id=request.headers.get("Idempotency-Key") or str(uuid.uuid4()))
        try:
            # update-with-start: should the submission's workflow be missing (the items service stopped
            # between recording the submission and starting it), the first decision starts it
            start = WithStartWorkflowOperation(
                subjects.PUBLISHING_WORKFLOW, sub, id=subjects.review_workflow_id("item", item_id, sub.submission),
                task_queue=subjects.TASK_QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
            state = await request.app.state.temporal.execute_update_with_start_workflow(
                subjects.DECIDE_UPDATE, inp, start_workflow_operation=start, result_type=ReviewState)
        except WorkflowUpdateFailedError as e:
            raise _refusal(e.cause) from None
        except WorkflowAlreadyStartedError:
            raise Conflict("该次提交的审查已经结束", "the review of this submission is already finished",
                           code="review_finished") from None
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise Conflict("该次提交的审查已经结束", "the review of this submission is already finished",
                               code="review_finished") from None
            raise Unavailable("审查流程暂不可用，请稍后重试", f"the review workflow is unavailable: {e.message}",
                              code="workflow_unavailable") from None
        return {"id": item_id, **state.model_dump(mode="json")}

    return app


def _refusal(cause: BaseException | None) -> DomainError:
    if isinstance(cause, ApplicationError) and len(cause.details) >= 4:
        kind, code, zh, en = cause.details[:4]
        return from_parts(str(kind), str(code), str(zh), str(en))
    return Unavailable("审查处理失败", f"the decision could not be processed: {cause}", code="decision_failed")
