"""The reports service: keeps the annual totals projection current and serves `GET /totals`."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select

from contracts import subjects
from contracts.application_events import CloseYear
from contracts.chain import STAGE_LABEL_ZH
from contracts.errors import Conflict, Forbidden, Invalid, NotFound
from contracts.items import ItemKind, ItemStatus
from contracts.lifecycle import SHANGHAI
from contracts.reviews import AnnualReportInput, AnnualReportResult, CommandReply
from contracts.roles import Role
from gongkai import memory, projection, runtime
from gongkai.config import Settings
from gongkai.deadlines import stage_deadline
from gongkai.http import Caller, OrgQuery, install
from gongkai.workdays import CalendarUnknown, working_days_between
from services.reports import closing, report_build, rules
from services.reports.layouts.render import MEDIA_TYPES, render
from services.reports.projections import (
    AnnualTotals,
    ReportApplication,
    ReportClosed,
    ReportItem,
    ReportReview,
    explain,
    totals,
)
from services.reports.report_data import AnnualReportDocument, ReportData
from services.reports.totals_cache import TotalsCache

#: roles that see every org's totals (a city- or district-level viewer); others see their own org
ALL_ORGS_ROLES = frozenset({Role.VIEWER, Role.LEADER, Role.OFFICE})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    deployment = settings.deployment()
    totals_projection = AnnualTotals()
    totals_cache = TotalsCache()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.running(settings, "reports", totals_projection, temporal=True) as rt:
            app.state.engine, app.state.temporal, app.state.nc, app.state.log = rt.engine, rt.temporal, rt.log.nc, rt.log
            yield

    app = FastAPI(title="gongkai reports", version="1", lifespan=lifespan,
                  description="年度统计与年度报告 / annual totals and the annual report")
    install(app, settings)

    @app.get("/totals")
    async def get_totals(request: Request, who: Caller, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                         org: OrgQuery = None) -> dict:
        year = year or datetime.now(SHANGHAI).year
        if org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            if org is None:
                org = who.org
            else:
                raise Forbidden("不能查看其他单位的统计", "you may see only your own org's totals", code="other_org")
        engine = request.app.state.engine

        def compute() -> tuple[int, bytes]:
            with Session(engine) as s:  # one read transaction: the totals are exactly those of `position`
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                at = row.position if row else 0
                body = totals(s, year=year, org=org, categories=settings.categories, position=at)
                return at, orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)

        now = await asyncio.to_thread(projection.position, engine, totals_projection)
        body = await totals_cache.get((year, org, datetime.now(SHANGHAI).date()), now,
                                      lambda: asyncio.to_thread(compute))
        return Response(body, media_type="application/json")

    @app.get("/pipeline")
    async def pipeline(request: Request, who: Caller, org: OrgQuery = None) -> dict:
        """What waits for whom: reviews per stage with their age and deadline (overdue first), and the open
        applications with their legal due date as a traffic light."""
        org = _org_for(who, org)
        now = datetime.now(UTC)
        today = now.astimezone(SHANGHAI).date()

        def read() -> dict:
            with Session(request.app.state.engine) as s:
                q = select(ReportReview).where(ReportReview.open)
                a = select(ReportApplication).where(ReportApplication.finished_on == None)  # noqa: E711
                if org:
                    q, a = q.where(ReportReview.org == org), a.where(ReportApplication.org == org)
                reviews, apps = s.exec(q).all(), s.exec(a).all()
                subjects_ = dict(s.exec(select(ReportReview.id, ReportReview.title)
                                        .where(ReportReview.id.in_([ap.id for ap in apps]))).all())  # type: ignore
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                return {"reviews": reviews, "apps": apps, "subjects": subjects_, "position": row.position if row else 0}

        got = await asyncio.to_thread(read)
        tasks = []
        for r in got["reviews"]:
            since = r.since.replace(tzinfo=UTC) if r.since and r.since.tzinfo is None else r.since
            due = stage_deadline(r.stage, since, deployment.stage_deadline_for(r.org)) if since and r.stage else None
            tasks.append({"aggregate": r.aggregate, "id": r.id, "org": r.org, "title": r.title, "stage": r.stage,
                          "stage_name": STAGE_LABEL_ZH.get(r.stage), "since": since, "purpose": r.purpose,
                          "age_days": round((now - since).total_seconds() / 86400, 1) if since else None,
                          "due_at": due.due_at if due else None, "due_on": due.due_on if due else None,
                          "overdue": bool(due and due.overdue(now)) or r.overdue_recorded})
        tasks.sort(key=lambda t: (not t["overdue"], t["since"] or now))
        lights = []
        for ap in sorted(got["apps"], key=lambda x: (x.due_on is None, x.due_on or today)):
            left = workdays_left(today, ap.due_on)
            light = "grey" if left is None else "red" if left < 0 else "amber" if left <= 3 else "green"
            lights.append({"id": ap.id, "org": ap.org, "subject": got["subjects"].get(ap.id), "received_on": ap.received_on,
                           "due_on": ap.due_on, "working_days_left": left, "status": "in_review" if ap.review_open
                           else "open", "light": light})
        return {"org": org, "tasks": tasks, "applications": lights, "position": got["position"]}

    @app.get("/reports/{year}/status")
    async def report_status(year: Annotated[int, Path(ge=2000, le=2100)], request: Request, who: Caller,
                            org: OrgQuery = None) -> dict:
        """Where the year's annual report stands: not started, generated, in review or published; its deadline
        (Art. 49) and its table rules."""
        org = org or who.org
        if org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            raise Forbidden("不能查看其他单位的报告", "you may see only your own org's report", code="other_org")

        def read() -> dict:
            with Session(request.app.state.engine) as s:
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                data = report_build.build(s, year=year, org=org, deployment=deployment,
                                          categories=settings.categories, position=row.position if row else 0)
                previous = report_build.build(s, year=year - 1, org=org, deployment=deployment,
                                              categories=settings.categories, position=row.position if row else 0)
                item = s.exec(select(ReportReview, ReportItem).join(ReportItem, ReportItem.id == ReportReview.id)
                              .where(ReportItem.org == org, ReportItem.kind == ItemKind.ANNUAL_REPORT,
                                     ReportReview.title.contains(f"{year}年"))).first()  # type: ignore[union-attr]
                closed = s.get(ReportClosed, f"{org}-{year}") is not None
                return {"data": data, "previous": previous, "item": item, "closed": closed}

        got = await asyncio.to_thread(read)
        review, item = got["item"] if got["item"] else (None, None)
        if item is not None and item.status == ItemStatus.PUBLISHED:
            state = "published"
        elif review is not None and review.open:
            state = "in_review"
        elif got["data"].narrative or got["closed"] or item is not None:
            state = "generated"
        else:
            state = "not_started"
        month, day = deployment.org(org).report_publish_by
        return {"year": year, "org": org, "state": state, "item_id": item.id if item else None,
                "closed": got["closed"], "publish_by": date(year + 1, month, day),
                "rules": [r.model_dump() for r in rules.check(got["data"], got["previous"])]}

    @app.get("/history/{aggregate}/{agg_id}")
    async def history(aggregate: Literal["item", "application"], agg_id: str, request: Request,
                      who: Caller) -> dict:
        """The recorded history behind a number (drill-down), without personal data: who did what, when."""
        try:
            events = await request.app.state.log.load(subjects.event_subject(aggregate, agg_id))
        except ValueError:
            events = []
        if not events:
            raise NotFound("记录不存在", f"no {aggregate} {agg_id}", code="not_found")
        if events[0].envelope.org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            raise Forbidden("不能查看其他单位的记录", "this record belongs to another org", code="other_org")
        return {"aggregate": aggregate, "id": agg_id, "org": events[0].envelope.org, "events": [
            {"seq": st.seq, "type": st.envelope.type, "occurred_at": st.envelope.occurred_at,
             "by": st.envelope.actor.user, "via": st.envelope.actor.via,
             "details": {k: v for k, v in st.envelope.payload.items() if k not in PRIVATE}}
            for st in events]}

    @app.get("/totals/explain")
    async def explain_total(request: Request, who: Caller, key: str,
                            year: Annotated[int | None, Query(ge=2000, le=2100)] = None, org: OrgQuery = None) -> dict:
        """The ids of the items, applications or cases behind one number of /totals (drill-down)."""
        year = year or datetime.now(SHANGHAI).year
        if org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            if org is not None:
                raise Forbidden("不能查看其他单位的统计", "you may see only your own org's totals", code="other_org")
            org = who.org

        def read() -> dict:
            with Session(request.app.state.engine) as s:
                return explain(s, year=year, org=org, key=key)

        try:
            return {"year": year, "org": org, **await asyncio.to_thread(read)}
        except KeyError:
            raise Invalid(f"无法展开 {key}", f"no drill-down for {key!r}: use e.g. proactive.by_category.meetings, "
                          "applications.table3.granted.total, cases.review_total", code="unknown_key") from None

    @app.post("/reports/{year}/submit", status_code=202)
    async def submit_report(year: Annotated[int, Path(ge=2000, le=2100)], request: Request, who: Caller,
                            org: OrgQuery = None, template: Literal["2018", "2021"] | None = None) -> dict:
        """Generate the report now (as the January schedule does), file it as an item and submit it for review;
        refused with the failing cells when a table rule does not hold."""
        org = org or who.org
        if org != who.org or Role.OFFICE not in who.roles:
            raise Forbidden("年度报告由本单位公开办公室提交", "only the org's office submits its report", code="wrong_role")
        inp = AnnualReportInput(org=org, year=year, template=template or deployment.org(org).report_template)
        result = await request.app.state.temporal.execute_workflow(
            subjects.ANNUAL_REPORT_WORKFLOW, inp, id=f"{subjects.annual_report_workflow_id(org, year)}-{uuid.uuid4()}",
            task_queue=subjects.TASK_QUEUE, result_type=AnnualReportResult)
        if result.status == "refused":
            raise Conflict("报告未通过表格校验，不能提交审查：" + "；".join(result.blocking),
                           "the report breaks table rules and cannot be submitted: " + "; ".join(result.blocking),
                           code="report_rules_failed")
        return result.model_dump()

    @app.post("/reports/{year}/close")
    async def close_year(year: Annotated[int, Path(ge=2000, le=2100)], request: Request, who: Caller) -> dict:
        """年度关账: keep this year's report figures as they are now, with their digest."""
        if Role.OFFICE not in who.roles:
            raise Forbidden("由公开办公室关账", "only role office closes a year", code="wrong_role")

        def read() -> ReportData:
            with Session(request.app.state.engine) as s:
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                return report_build.build(s, year=year, org=who.org, deployment=deployment,
                                          categories=settings.categories, position=row.position if row else 0)

        data = await asyncio.to_thread(read)
        failed = rules.blocking(rules.check(data))
        if failed:
            raise Conflict("报告未通过表格校验，不能关账", f"{len(failed)} table rules fail; fix them before closing",
                           code="report_rules_failed")
        figs = closing.figures(data)
        cmd = CloseYear(org=who.org, year=year, digest=closing.digest(figs), figures=figs, closed_by=who.user)
        msg = await request.app.state.nc.request(subjects.CMD_CLOSE_YEAR, cmd.model_dump_json().encode(), timeout=10)
        reply = CommandReply.model_validate_json(msg.data)
        if not reply.ok:
            raise Conflict(reply.zh or "关账失败", reply.en or "could not close the year", code=reply.error or "refused")
        return {"org": who.org, "year": year, "digest": cmd.digest, "position": data.position}

    @app.get("/reports/{year}")
    async def get_report(year: Annotated[int, Path(ge=2000, le=2100)], request: Request, who: Caller,
                         org: OrgQuery = None, template: Literal["2018", "2021"] = "2021",
                         format: Literal["md", "html", "docx", "pdf", "json"] = "json") -> Response:
        """年度报告 of an org for a year, from the recorded events, with the table rules checked."""
        org = org or who.org
        if org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            raise Forbidden("不能查看其他单位的报告", "you may see only your own org's report", code="other_org")
        engine = request.app.state.engine

        def read() -> tuple[ReportData, ReportData, ReportClosed | None]:
            with Session(engine) as s:
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                pos = row.position if row else 0
                args = dict(org=org, deployment=deployment, categories=settings.categories, position=pos)
                return (report_build.build(s, year=year, **args), report_build.build(s, year=year - 1, **args),
                        s.get(ReportClosed, f"{org}-{year}"))

        data, previous, closed = await asyncio.to_thread(read)
        changes: list[dict] = []
        if closed is not None:  # a closed year: the figures as closed, later changes stated as restatements
            kept = json.loads(closed.figures)
            changes = closing.restatements(kept, closing.figures(data))
            data = closing.as_closed(data, kept, changes, "notes" if template == "2018" else "other_matters")
        results = rules.check(data, previous)
        failed = rules.blocking(results)
        headers = {"X-Gongkai-Rules-Failed": str(len(failed))}
        if format == "json":
            body = {**AnnualReportDocument.of(data, template).model_dump(mode="json"),
                    "rules": [r.model_dump() for r in results], "blocking": len(failed),
                    "closed": {"digest": closed.digest, "closed_at": closed.closed_at.isoformat(),
                               "closed_by": closed.closed_by} if closed else None,
                    "restatements": changes}
            return JSONResponse(body, headers=headers)
        content = await asyncio.to_thread(_rendered, data, template, format)
        media = MEDIA_TYPES[format]
        headers["Content-Disposition"] = f'inline; filename="annual-report-{org}-{year}-{template}.{format}"'
        return Response(content, media_type=media, headers=headers)

    return app


#: payload fields the history view leaves out: the applicant's data, and texts too long for a table
PRIVATE = frozenset({"applicant", "content", "body", "figures", "findings", "reviews"})


def _rendered(data: ReportData, template: str, format: str) -> bytes:
    """The report as a file, off the event loop (a DOCX of a big org takes ~0.1 s, a PDF longer), then the
    document's freed memory returned to the OS (the service otherwise stays at its largest report's size).
    A DOCX frees its XML as it is rendered (`render._release`: P5's 100 reports twice left the service at 247
    MB instead of ~150); the small cycles python-docx's walks leave are collected with the young generations
    here, a fraction of a ms."""
    try:
        return render(data, template, format)
    finally:
        gc.collect(1)
        memory.give_back()


def _org_for(who, org: str | None) -> str | None:
    """A city-level viewer sees every org (org None) or the one asked for; others their own."""
    if ALL_ORGS_ROLES & set(who.roles):
        return org
    if org not in (None, who.org):
        raise Forbidden("不能查看其他单位的数据", "you may see only your own org", code="other_org")
    return who.org


def workdays_left(today: date, due: date | None) -> int | None:
    if due is None:
        return None
    try:
        return working_days_between(today, due)
    except CalendarUnknown:
        return None  # never a guess: the light is grey until the calendar knows the year
