"""HTTP routes of the application register (依申请公开), on the items service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, select

from contracts.application_events import Applicant
from contracts.applications import (
    LEGAL_BASIS_ZH,
    OUTCOME_LABEL_ZH,
    ApplicantType,
    CaseKind,
    CaseResult,
    Channel,
    FeeMethod,
    Outcome,
    ReplyType,
    reply_type,
)
from contracts.errors import Conflict, Forbidden
from contracts.lifecycle import SHANGHAI
from contracts.roles import Role
from gongkai.http import Caller, PageLimit, PageOffset
from services.items.applications import Application
from services.items.letters import ReplyLetter, render_docx
from services.items.proposals import Proposal
from services.items.register import RegisterRow, applicant_key, nth_in_month

router = APIRouter(tags=["applications"])


class NewApplication(BaseModel):
    applicant_type: ApplicantType
    received_on: date
    subject: str = Field(min_length=1, max_length=500, description="what is asked for")
    content: str = Field(default="", max_length=20000)
    channel: Channel = Channel.ONLINE
    applicant: Applicant | None = None


class ClockStep(BaseModel):
    kind: Literal["correction_requested", "corrected", "consultation_started", "consultation_ended", "extended",
                  "fee_paid"]
    on: date
    days: int | None = Field(default=None, ge=1, le=20, description="for extended: working days (at most 20)")
    note: str | None = Field(default=None, max_length=2000)


class FeeNotice(BaseModel):
    on: date
    method: FeeMethod
    nth_in_month: int | None = Field(default=None, ge=1, le=1000, description="per application: the applicant's nth "
                                     "this month; counted from the register when left out")
    pages: int | None = Field(default=None, ge=1, le=1_000_000, description="per volume: pages provided")


class Answer(BaseModel):
    outcome: Outcome
    reason: str | None = Field(default=None, max_length=5000, description="the legal reason, where one is needed")
    body: str = Field(min_length=1, max_length=50000, description="the reply text")


def today() -> date:
    return datetime.now(SHANGHAI).date()


def view(app: Application, who) -> dict:
    state = app.clock()
    readable = app.may_read_applicant(who)
    return {
        "id": app.id, "org": app.org, "applicant_type": app.applicant_type, "channel": app.channel,
        "received_on": app.received_on, "subject": app.subject,
        "content": app.content if readable else None,
        "applicant": app.applicant.model_dump() if readable and app.applicant else None,
        "applicant_redacted": not readable,
        "status": app.status, "outcome": app.outcome,
        "outcome_name": OUTCOME_LABEL_ZH.get(app.outcome) if app.outcome else None,
        "finished_on": app.finished_on, "submission": app.submission,
        "stage": app.review.stage if app.review_open else None,
        "due_on": state.reply_due_on, "clock": state.model_dump(mode="json"),
        "fee": app.fee.model_dump(mode="json") if app.fee else None,
        "answer": app.answer.model_dump(mode="json") if app.answer and readable else None,
        "cases": [c.model_dump(mode="json") for c in app.cases.values()],
        "version": app.version,
        "history": [{"seq": st.seq, "type": st.envelope.type, "occurred_at": st.envelope.occurred_at,
                     "actor": st.envelope.actor.model_dump()}
                    for st in app.history],
    }


def svc(request: Request):
    return request.app.state.svc


@router.get("/applications")
async def list_applications(request: Request, who: Caller, status: str | None = Query(None, max_length=50),
                            year: int | None = Query(None, ge=1900, le=2100),
                            limit: PageLimit = 100, offset: PageOffset = 0) -> dict:
    """The office's register (no personal data in it)."""
    if Role.OFFICE not in who.roles and Role.VIEWER not in who.roles:
        raise Forbidden("只有公开办公室可以查看申请登记簿", "only the office may list applications", code="wrong_role")
    q = select(RegisterRow).where(RegisterRow.org == who.org)
    if status:
        q = q.where(RegisterRow.status == status)
    if year:
        q = q.where(RegisterRow.month.startswith(f"{year}-"))  # type: ignore[union-attr]
    with Session(svc(request).engine) as db:
        rows = db.exec(q.order_by(RegisterRow.seq.desc()).offset(offset).limit(limit)).all()  # type: ignore[union-attr]
    return {"applications": [r.model_dump(mode="json", exclude={"applicant_key", "seq"}) for r in rows]}


@router.post("/applications", status_code=201)
async def register(body: NewApplication, request: Request, who: Caller) -> dict:
    s = svc(request)
    app = Application(id=str(uuid.uuid4()))
    applicant = body.applicant or Applicant(name="（未提供）")
    event = app.register(who, applicant_type=body.applicant_type, channel=body.channel, received_on=body.received_on,
                         applicant=applicant, subject=body.subject, content=body.content, today=today())
    await s.append(app, event, _actor(who), org=who.org)
    await s.watch_clock(app.id)
    return view(app, who)


@router.get("/applications/{application_id}")
async def get_application(application_id: str, request: Request, who: Caller) -> dict:
    app = await svc(request).load_any("application", application_id)
    if app.org != who.org:
        raise Forbidden("不能查看其他单位的申请", "this application belongs to another org", code="other_org")
    return view(app, who)


@router.post("/applications/{application_id}/clock")
async def clock_step(application_id: str, body: ClockStep, request: Request, who: Caller) -> dict:
    """补正, 第三方意见征询, 延期 (section head), 缴费: the steps that move the legal clock."""
    s = svc(request)
    app = await s.load_any("application", application_id)
    await s.append(app, app.record_clock(who, body.kind, body.on, body.days, body.note), _actor(who))
    await s.watch_clock(app.id)
    return view(app, who)


@router.post("/applications/{application_id}/fee")
async def fee_notice(application_id: str, body: FeeNotice, request: Request, who: Caller) -> dict:
    s = svc(request)
    app = await s.load_any("application", application_id)
    nth = body.nth_in_month
    if body.method is FeeMethod.PER_APPLICATION and nth is None and body.pages is None and app.applicant:
        with Session(s.engine) as db:
            nth = nth_in_month(db, app.org, applicant_key(app.org, app.applicant), app.received_on, app.id)
    event = app.notify_fee(who, on=body.on, method=body.method, nth_in_month=nth, pages=body.pages)
    await s.append(app, event, _actor(who))
    await s.watch_clock(app.id)
    return view(app, who)


@router.post("/applications/{application_id}/answer", status_code=202)
async def answer(application_id: str, body: Answer, request: Request, who: Caller) -> dict:
    """The answer goes to the review chain and is sent only when approved."""
    s = svc(request)
    app = await s.load_any("application", application_id)
    event = app.submit_answer(who, outcome=body.outcome, reason=body.reason, body=body.body)
    await s.append(app, event, _actor(who))
    await s.start_review(app)
    return view(app, who)


@router.post("/applications/{application_id}/expire")
async def expire(application_id: str, request: Request, who: Caller) -> dict:
    """End an application whose correction or payment window ran out (other_no_correction / other_fee_unpaid)."""
    s = svc(request)
    app = await s.load_any("application", application_id)
    app.check_office(who)
    await s.append(app, app.close_expired(today()), _actor(who))
    return view(app, who)


@router.get("/applications/{application_id}/letter")
async def letter(application_id: str, request: Request, who: Caller) -> Response:
    """答复书 (DOCX) of the answer, for the office and the reviewers."""
    s = svc(request)
    app = await s.load_any("application", application_id)
    if not app.may_read_applicant(who):
        raise Forbidden("只有公开办公室和审查人可以查看答复书", "only the office and the reviewers may read the letter",
                        code="personal_data")
    if app.answer is None:
        raise Forbidden("尚无答复", "there is no answer yet", code="no_answer")
    data = render_docx(letter_for(app, s.deployment.org(app.org).display_name))
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="reply-{app.id}.docx"'})


def letter_for(app: Application, org_name: str) -> ReplyLetter:
    """The reply letter of the application's (latest) answer, of the Art. 36 type its outcome calls for."""
    outcome = app.answer.outcome
    try:
        return ReplyLetter(
            org_name=org_name, applicant_name=app.applicant.name if app.applicant else "申请人",
            received_on=app.received_on, reference_no=f"{app.org}-依复-{app.id[:8]}", subject=app.subject,
            outcome=outcome, reply_type=int(reply_type(outcome) or ReplyType.NOT_DISCLOSED),
            legal_basis=LEGAL_BASIS_ZH.get(outcome) or app.answer.reason, body=app.answer.body,
            dated=app.finished_on or today())
    except ValidationError as e:
        raise Conflict("无法生成该答复书", f"no reply letter for this answer: {e.errors()[0]['msg']}",
                       code="letter_unavailable") from None


def _actor(who):
    from contracts.envelope import Actor

    return Actor(user=who.user, roles=[r.value for r in who.roles])


class NewCase(BaseModel):
    kind: CaseKind
    filed_on: date
    result: CaseResult = CaseResult.PENDING
    decided_on: date | None = None


class CaseDecision(BaseModel):
    result: CaseResult
    decided_on: date


@router.post("/applications/{application_id}/cases", status_code=201)
async def record_case(application_id: str, body: NewCase, request: Request, who: Caller) -> dict:
    """行政复议 / 行政诉讼 arising from the application (table 四)."""
    s = svc(request)
    app = await s.load_any("application", application_id)
    case_id = str(uuid.uuid4())
    event = app.record_case(who, case_id=case_id, kind=body.kind, filed_on=body.filed_on, result=body.result,
                            decided_on=body.decided_on)
    await s.append(app, event, _actor(who))
    return {"case_id": case_id, **app.cases[case_id].model_dump(mode="json")}


@router.post("/applications/{application_id}/cases/{case_id}")
async def decide_case(application_id: str, case_id: str, body: CaseDecision, request: Request, who: Caller) -> dict:
    s = svc(request)
    app = await s.load_any("application", application_id)
    await s.append(app, app.decide_case(who, case_id=case_id, result=body.result, decided_on=body.decided_on),
                   _actor(who))
    return {"case_id": case_id, **app.cases[case_id].model_dump(mode="json")}


class NewProposal(BaseModel):
    kind: Literal["npc_suggestion", "cppcc_proposal"]
    received_on: date
    title: str = Field(min_length=1, max_length=500)
    number: str | None = Field(default=None, max_length=50)


class ProposalAnswer(BaseModel):
    answered_on: date


@router.post("/proposals", status_code=201)
async def receive_proposal(body: NewProposal, request: Request, who: Caller) -> dict:
    """人大代表建议 / 政协委员提案 handed to this body."""
    s = svc(request)
    p = Proposal(id=str(uuid.uuid4()))
    event = p.receive(who, kind=body.kind, received_on=body.received_on, title=body.title, number=body.number)
    await s.append(p, event, _actor(who), org=who.org)
    return {"id": p.id, **p.received.model_dump(mode="json"), "answered_on": p.answered_on, "version": p.version}


@router.post("/proposals/{proposal_id}/answer")
async def answer_proposal(proposal_id: str, body: ProposalAnswer, request: Request, who: Caller) -> dict:
    s = svc(request)
    p = await s.load_any("proposal", proposal_id)
    await s.append(p, p.answer(who, body.answered_on), _actor(who))
    return {"id": p.id, **p.received.model_dump(mode="json"), "answered_on": p.answered_on, "version": p.version}
