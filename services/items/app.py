"""The items service: HTTP for people, NATS commands for the publishing workflow. Routes parse, authorize,
load, call one command of the aggregate, append, answer; the rules live in `domain.py`."""

from __future__ import annotations

import contextlib
import logging
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from contracts import subjects
from contracts.application_events import ApplicationRef
from contracts.envelope import Actor, Envelope, Event
from contracts.errors import Forbidden, NotFound
from contracts.items import ImportedReview, ItemContent, ItemImported, ItemKind, ItemMetadata, ItemStatus, Validity
from contracts.lifecycle import SHANGHAI
from contracts.roles import Principal, Role
from contracts.scan import scan
from gongkai import observability, projection, runtime
from gongkai.config import Settings
from gongkai.eventlog import EventLog, Stored
from gongkai.http import IMPORT_BODY_LIMIT, Caller, OrgQuery, PageLimit, PageOffset, install
from gongkai.submission import KeptEvents, submission_input
from services.items import application_routes, commands, report_texts
from services.items.applications import Application
from services.items.domain import Item, check_category
from services.items.listing import ItemListing, ItemRow
from services.items.proposals import Proposal
from services.items.records import Section2Record
from services.items.register import ApplicationRegister
from services.items.views import item_view


class Service:
    """What a request handler needs: the log, the Temporal client, the listing database."""

    def __init__(self, settings: Settings, log: EventLog, temporal: Client | None, engine):
        self.settings, self.log, self.temporal, self.engine = settings, log, temporal, engine
        self.deployment = settings.deployment()
        self.kept = KeptEvents(log)

    def view(self, item: Item) -> dict:
        return item_view(item, self.settings.categories, self.deployment)

    async def load(self, item_id: str) -> Item:
        return await self.load_any("item", item_id)

    async def load_any(self, aggregate: str, agg_id: str) -> Item | Application:
        cls, zh = {"item": (Item, "信息"), "application": (Application, "申请"), "proposal": (Proposal, "建议提案"),
               "record": (Section2Record, "填报")}[aggregate]
        try:
            subject = subjects.event_subject(aggregate, agg_id)
        except ValueError:
            raise NotFound(f"{zh}不存在", f"no {aggregate} {agg_id}", code="not_found") from None
        agg = cls.from_events(agg_id, list(await self.kept.load(subject)))
        if not agg.exists:
            raise NotFound(f"{zh}不存在", f"no {aggregate} {agg_id}", code="not_found")
        return agg

    async def append(self, agg: Item | Application, event: Event, actor: Actor, *, org: str | None = None,
                     event_id: str | None = None, occurred_at: datetime | None = None,
                     correlation_id: str | None = None) -> Item | Application:
        env = Envelope.wrap(event, aggregate_id=agg.id, org=org or agg.org, actor=actor, event_id=event_id,
                            occurred_at=occurred_at, aggregate=agg.AGGREGATE,
                            correlation_id=correlation_id or observability.correlation_id())
        subject = subjects.event_subject(agg.AGGREGATE, agg.id)
        seq = await self.log.append(subject, env, agg.version)
        agg.apply(Stored(seq, env))
        if agg.history and agg.history[-1].seq == seq:
            self.kept.keep(subject, tuple(agg.history))
        return agg

    async def watch_clock(self, application_id: str) -> None:
        """Start the application's clock watch, or tell the running one that its clock changed."""
        if self.temporal is None:
            return
        await self.temporal.start_workflow(
            subjects.APPLICATION_CLOCK_WORKFLOW, ApplicationRef(aggregate_id=application_id),
            id=subjects.application_clock_id(application_id), task_queue=subjects.TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, start_signal=subjects.CLOCK_CHANGED_SIGNAL)

    async def start_review(self, agg: Item | Application) -> None:
        """Start the submission's publishing workflow; starting it twice is harmless (id per submission)."""
        if self.temporal is None:
            return
        inp = submission_input(agg.id, agg.history, self.deployment)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.temporal.start_workflow(
                subjects.PUBLISHING_WORKFLOW, inp, id=subjects.review_workflow_id(inp.aggregate, agg.id, inp.submission),
                task_queue=subjects.TASK_QUEUE, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)


def actor(p: Principal) -> Actor:
    return Actor(user=p.user, roles=[r.value for r in p.roles])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.running(settings, "items", ItemListing(), ApplicationRegister(), temporal=True) as rt:
            app.state.svc = svc = Service(settings, rt.log, rt.temporal, rt.engine)
            broker = await commands.start(settings, svc)
            try:
                yield
            finally:
                await broker.stop()

    app = FastAPI(title="gongkai items", version="1", lifespan=lifespan,
                  description="信息条目与依申请公开 / information items and disclosure applications")
    install(app, settings, body_limits={"/import": IMPORT_BODY_LIMIT})
    app.include_router(application_routes.router)
    app.include_router(report_texts.router)

    def svc(request: Request) -> Service:
        return request.app.state.svc

    @app.post("/items", status_code=201)
    async def create_item(body: ItemContent, request: Request, who: Caller,
                          idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> dict:
        """A retried request with the same `Idempotency-Key` creates the item once and returns it again."""
        s = svc(request)
        if idempotency_key:
            item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:item:{who.org}:{who.user}:{idempotency_key}"))
            item = Item.from_events(item_id, await s.log.load(subjects.event_subject("item", item_id)))
            if item.exists:
                return s.view(item)
        else:
            item = Item(id=str(uuid.uuid4()))
        event = item.create(who, body, s.settings.categories)
        await s.append(item, event, actor(who), org=who.org)
        return s.view(item)

    @app.get("/items/{item_id}")
    async def get_item(item_id: str, request: Request, who: Caller) -> dict:
        s = svc(request)
        item = await s.load(item_id)
        if item.org != who.org:
            raise Forbidden("不能查看其他单位的信息", "this item belongs to another org", code="other_org")
        return s.view(item)

    @app.get("/items")
    async def list_items(request: Request, who: Caller, org: OrgQuery = None,
                         status: Annotated[ItemStatus | None, Query()] = None,
                         year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
                         category: Annotated[str | None, Query(max_length=100)] = None, kind: ItemKind | None = None,
                         limit: PageLimit = 100, offset: PageOffset = 0) -> dict:
        s = svc(request)
        org = org or who.org
        if org != who.org:
            raise Forbidden("不能查看其他单位的信息", "you may list only your own org's items", code="other_org")
        q = select(ItemRow).where(ItemRow.org == org)
        for column, value in ((ItemRow.status, status), (ItemRow.year, year), (ItemRow.category, category),
                              (ItemRow.kind, kind)):
            if value is not None:
                q = q.where(column == value)
        with Session(s.engine) as db:
            rows = db.exec(q.order_by(col(ItemRow.updated_at).desc()).offset(offset).limit(limit)).all()
        return {"items": [r.model_dump(mode="json") for r in rows], "position": projection.position(
            s.engine, ItemListing())}

    @app.patch("/items/{item_id}")
    async def revise_item(item_id: str, changes: dict[str, Any], request: Request, who: Caller) -> dict:
        s = svc(request)
        item = await s.load(item_id)
        checked = ItemContent.model_validate({**_content(item), **changes})  # type-check the merged result
        clean = {k: v for k, v in checked.model_dump(mode="json").items() if k in changes}
        event = item.revise(who, clean, s.settings.categories)
        await s.append(item, event, actor(who))
        return s.view(item)

    @app.post("/items/{item_id}/submit", status_code=202)
    async def submit_item(item_id: str, request: Request, who: Caller) -> dict:
        s = svc(request)
        item = await s.load(item_id)
        findings = scan(item.title, item.body, sensitive_words=s.deployment.org(item.org).sensitive_words)
        event = item.submit(who, findings)
        await s.append(item, event, actor(who))
        await s.start_review(item)
        return s.view(item)

    @app.post("/items/{item_id}/retract", status_code=202)
    async def retract_item(item_id: str, body: Retraction, request: Request, who: Caller) -> dict:
        """撤回 a published item: reviewed like a publication; the item stays published until approved."""
        s = svc(request)
        item = await s.load(item_id)
        await s.append(item, item.request_change(who, "retract", body.reason), actor(who))
        await s.start_review(item)
        return s.view(item)

    @app.post("/items/{item_id}/validity", status_code=202)
    async def change_validity(item_id: str, body: ValidityChange, request: Request, who: Caller) -> dict:
        """失效/废止 of a published item, reviewed before it takes effect."""
        s = svc(request)
        item = await s.load(item_id)
        event = item.request_change(who, "validity", body.reason, body.validity, body.effective_on)
        await s.append(item, event, actor(who))
        await s.start_review(item)
        return s.view(item)

    @app.post("/items/{item_id}/withdraw")
    async def withdraw_item(item_id: str, request: Request, who: Caller, body: Withdrawal | None = None) -> dict:
        s = svc(request)
        item = await s.load(item_id)
        was_in_review = item.status is ItemStatus.IN_REVIEW
        event = item.withdraw(who, body.reason if body else None)
        await s.append(item, event, actor(who))
        if was_in_review and s.temporal is not None:
            handle = s.temporal.get_workflow_handle(subjects.review_workflow_id("item", item.id, item.submission))
            try:
                await handle.signal("withdrawn")
            except RPCError as e:  # the workflow also learns it from the item's refusal of the next decision
                logging.getLogger(__name__).warning("could not tell %s about the withdrawal: %s", handle.id, e)
        return s.view(item)

    @app.post("/import", status_code=201)
    async def import_records(batch: ImportBatch, request: Request, who: Caller) -> dict:
        s = svc(request)
        if Role.OFFICE not in who.roles:
            raise Forbidden("只有公开办公室可以导入历史记录", "only role office may import records", code="wrong_role")
        created, existing, todo = [], [], {}
        for rec in batch.items:  # the whole batch is checked before any of it is recorded: a refusal changes nothing
            # a record from an earlier system keeps one id however often it is imported
            ref = rec.source_ref and str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:import:{who.org}:{rec.source_ref}"))
            item_id = rec.id or ref or str(uuid.uuid4())
            item = Item.from_events(item_id, await s.log.load(subjects.event_subject("item", item_id)))
            if item.exists or item_id in todo:
                existing.append(item_id)
                continue
            check_category(rec.kind, rec.category, s.settings.categories)
            todo[item_id] = (rec, item)
        for item_id, (rec, item) in todo.items():
            event = ItemImported(**rec.model_dump(exclude={"id", "source_ref"}), source=rec.source_ref or "import")
            published = datetime.combine(rec.published_at, datetime.min.time()) if isinstance(
                rec.published_at, date) and not isinstance(rec.published_at, datetime) else rec.published_at
            await s.append(item, item.import_published(who, event), actor(who), org=who.org,
                           event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:import-event:{item_id}")),
                           occurred_at=published)
            created.append(item_id)
        return {"created": created, "existing": existing}

    return app


class Retraction(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ValidityChange(BaseModel):
    validity: Validity
    effective_on: date | None = None
    reason: str = Field(min_length=1, max_length=2000)


class Withdrawal(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class ImportedItem(BaseModel):
    id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    source_ref: str | None = Field(default=None, max_length=200, description="the record's id in the earlier system")
    kind: ItemKind
    category: str | None = Field(default=None, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)
    formed_on: date | None = None
    channels: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    interprets: str | None = Field(default=None, max_length=100)
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)
    author: str = Field(max_length=200)
    published_at: datetime
    index_no: str | None = Field(default=None, max_length=100)
    reviews: list[ImportedReview] = Field(default_factory=list, max_length=20)

    @field_validator("published_at")
    @classmethod
    def _local_time(cls, v: datetime) -> datetime:
        """An earlier system's date or time without a zone is Beijing time."""
        return v.replace(tzinfo=SHANGHAI) if v.tzinfo is None else v


class ImportBatch(BaseModel):
    items: list[ImportedItem] = Field(min_length=1, max_length=5000)


def _content(item: Item) -> dict:
    return {"kind": item.kind, "category": item.category, "title": item.title, "body": item.body,
            "formed_on": item.formed_on, "channels": item.channels, "interprets": item.interprets,
            "metadata": item.metadata}


app = None  # created by `gongkai.serve`, so that importing this module starts nothing
