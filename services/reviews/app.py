"""The reviews service: the inbox (`GET /tasks`) and decisions, passed to the publishing workflow as
Temporal updates. The workflow's validator decides what is allowed; this service only translates."""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Path, Request
from sqlmodel import Session, select
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts import chain, subjects
from contracts.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable, from_parts
from contracts.lifecycle import review_open_after
from contracts.reviews import DecisionInput, DecisionRequest, ReviewState, SubmissionInput
from contracts.roles import Principal
from gongkai import projection, runtime
from gongkai.config import Settings
from gongkai.deadlines import stage_deadline
from gongkai.deployment import Deployment
from gongkai.eventlog import EventLog
from gongkai.http import Caller, install
from gongkai.submission import KeptEvents, decision_event_id, submission_input
from services.reviews.inbox import Inbox, Task


def open_tasks(engine, who: Principal, deployment: Deployment, now: datetime | None = None) -> list[dict]:
    """What the caller may decide now: their org, a stage their role decides (or enters on an outside body's
    behalf), not their own item, not a submission they already decided; overdue ones first."""
    stages = [s for s in chain.Stage if chain.DECIDER[s] in who.roles or chain.ON_BEHALF.get(s) in who.roles]
    if not stages:
        return []
    now = now or datetime.now(UTC)
    with Session(engine) as db:
        rows = db.exec(select(Task).where(Task.org == who.org, Task.stage.in_(stages))  # type: ignore[union-attr]
                       .order_by(Task.stage_since)).all()
    tasks = []
    for t in rows:
        if t.author == who.user or who.user in json.loads(t.deciders):
            continue
        stage = chain.Stage(t.stage)
        due = stage_deadline(stage, t.stage_since, deployment.stage_deadline_for(t.org)) if t.stage_since else None
        tasks.append({
            "aggregate": t.aggregate, "id": t.aggregate_id, "title": t.title, "kind": t.kind, "category": t.category,
            "author": t.author, "submission": t.submission, "purpose": t.purpose, "stage": stage.value,
            "stage_name": chain.STAGE_LABEL_ZH[stage], "outcomes": sorted(chain.ALLOWED[stage]),
            "submitted_at": t.submitted_at, "stage_since": t.stage_since,
            "due_at": due.due_at if due else None, "due_on": due.due_on if due else None,
            "deadline": due.explanation if due else None, "deadline_warning": due.warning if due else None,
            "overdue": bool(due and due.overdue(now)),
        })
    return sorted(tasks, key=lambda t: not t["overdue"])  # stable: oldest first within each group


async def submission_under_review(log: EventLog | KeptEvents, deployment: Deployment, aggregate: str,
                                  aggregate_id: str, who: Principal, request_id: str | None = None) -> SubmissionInput:
    """The submission a decision is for, read from the log: 404 unknown, 403 another org, 409 not in review.
    A retried request whose decision the log already holds goes on to the workflow even when that decision
    closed the review: the workflow records a decision and its result in one step, so a Temporal server lost
    before that step was saved leaves the run waiting for this very request (it is answered once)."""
    try:
        events = list(await log.load(subjects.event_subject(aggregate, aggregate_id)))
    except ValueError:
        events = []
    if not events:
        raise NotFound("信息不存在", f"no {aggregate} {aggregate_id}", code="not_found")
    if events[0].envelope.org != who.org:
        raise Forbidden("不能审查其他单位的信息", "this item belongs to another org", code="other_org")
    sub = submission_input(aggregate_id, events, deployment)
    if sub is None:
        raise Conflict("该信息尚未提交审查", "the item has not been submitted for review", code="not_in_review")
    open_ = False
    for st in events:
        open_ = review_open_after(st.envelope.event(), open_)
    retried = request_id is not None and any(st.envelope.event_id == decision_event_id(request_id) for st in events)
    if not open_ and not retried:
        raise Conflict("该次提交的审查已经结束", "the review of this submission is already finished",
                       code="review_finished")
    return sub


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    deployment = settings.deployment()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.running(settings, "reviews", Inbox(), temporal=True) as rt:
            app.state.log, app.state.engine, app.state.temporal = rt.log, rt.engine, rt.temporal
            app.state.kept = KeptEvents(rt.log)
            yield

    app = FastAPI(title="gongkai reviews", version="1", lifespan=lifespan,
                  description="审查待办与审查决定 / the review inbox and decisions")
    install(app, settings)

    @app.get("/tasks")
    async def tasks(request: Request, who: Caller) -> dict:
        rows = await asyncio.to_thread(open_tasks, request.app.state.engine, who, deployment)
        return {"tasks": rows, "position": projection.position(request.app.state.engine, Inbox())}

    turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def in_turn(workflow_id: str) -> asyncio.Lock:
        lock = turns.get(workflow_id)
        if lock is None:
            turns[workflow_id] = lock = asyncio.Lock()
        return lock

    async def decide(aggregate: str, agg_id: str, body: DecisionRequest, request: Request, who) -> dict:
        request_id = request.headers.get("Idempotency-Key") or str(uuid.uuid4())
        sub = await submission_under_review(request.app.state.kept, deployment, aggregate, agg_id, who, request_id)
        inp = DecisionInput(user=who.user, roles=[r.value for r in who.roles], org=who.org, request_id=request_id,
                            **body.model_dump())
        temporal = request.app.state.temporal
        try:
            workflow_id = subjects.review_workflow_id(aggregate, agg_id, sub.submission)
            # Temporal admits only a few updates in flight per workflow; a burst of decisions on one submission
            # (a hundred officers clicking at once) waits its turn here instead of being refused as unavailable
            async with in_turn(workflow_id):
                try:
                    # a plain update first: the workflow is almost always there, and update-with-start costs
                    # the Temporal server a start operation each time
                    state = await temporal.get_workflow_handle(workflow_id).execute_update(
                        subjects.DECIDE_UPDATE, inp, result_type=ReviewState)
                except RPCError as e:
                    if e.status != RPCStatusCode.NOT_FOUND:
                        raise
                    # update-with-start: should the submission's workflow be missing (the items service
                    # stopped between recording the submission and starting it), the decision starts it;
                    # a finished one is refused below (WorkflowAlreadyStartedError)
                    start = WithStartWorkflowOperation(
                        subjects.PUBLISHING_WORKFLOW, sub, id=workflow_id,
                        task_queue=subjects.TASK_QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
                    state = await temporal.execute_update_with_start_workflow(
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
            refusal = Unavailable("审查流程暂不可用，请稍后重试", f"the review workflow is unavailable: {e.message}",
                                  code="workflow_unavailable")
            refusal.headers = {"Retry-After": "1"}
            raise refusal from None
        return {"id": agg_id, **state.model_dump(mode="json")}

    @app.post("/items/{item_id}/decisions")
    async def decide_item(item_id: str, body: DecisionRequest, request: Request, who: Caller) -> dict:
        return await decide("item", item_id, body, request, who)

    @app.post("/records/{year}/decisions")
    async def decide_record(year: Annotated[int, Path(ge=2000, le=2100)], body: DecisionRequest, request: Request,
                            who: Caller) -> dict:
        """审查第二部分数据: the org's table-二 figures for the year pass the same chain."""
        return await decide("record", f"{who.org}-{year}", body, request, who)

    @app.post("/applications/{application_id}/decisions")
    async def decide_answer(application_id: str, body: DecisionRequest, request: Request, who: Caller) -> dict:
        """审查答复: an application's answer passes the same chain before it is sent."""
        return await decide("application", application_id, body, request, who)

    return app


def _refusal(cause: BaseException | None) -> DomainError:
    if isinstance(cause, ApplicationError) and len(cause.details) >= 4:
        kind, code, zh, en = cause.details[:4]
        return from_parts(str(kind), str(code), str(zh), str(en))
    return Unavailable("审查处理失败", f"the decision could not be processed: {cause}", code="decision_failed")
